"""bench/results.md and bench/results.png from results.json: a section (tables) and a row of plot
panels per engine, then what was measured on the host once (P5)."""

# The engine scenarios, in the order bench.py runs them; each is also the key of its figures.
SCENARIOS = ("P3", "P4", "P1", "CI", "COMPILE", "P6")
SIDES = (("flotilla", "Flotilla"), ("dockerfile", "Dockerfile (built-in)"), ("syntax", "Dockerfile (`# syntax=` image)"))
COLORS = {"flotilla": "#3b7dd8", "artifact": "#8fb8ee", "dockerfile": "#999999", "syntax": "#d8893b", "naive": "#555555", "cargo": "#2e8b57"}
UNSET = "not set (DOCKERFILE_FRONTEND_IMAGE)"
ONE_VARIANT = "kiro"  # rebuilt after an edit (P4)
PULLED_VARIANT = "bare"  # P2's job


def mb(n):
    return f"{n / 1e6:.1f} MB"


def secs(s):
    return f"{s['median']:.1f} s ({s['min']:.1f} / {s['max']:.1f})" if isinstance(s, dict) else f"{s:.1f} s"


def median(s):
    return s["median"] if isinstance(s, dict) else s


def ratio(a, b):
    return f"{median(a) / median(b):.2f}" if a is not None and b not in (None, 0) and median(b) else ""


def row(label, values, fmt=secs, ratios=True, unset_syntax=False):
    """A table row: Flotilla, the two Dockerfile columns, and Flotilla's ratio to each.
    `unset_syntax` says why the `# syntax=` column is empty where the run had no such image."""
    cells = [fmt(values[k]) if values.get(k) is not None else (UNSET if k == "syntax" and unset_syntax else "") for k, _ in SIDES]
    rs = [ratio(values.get("flotilla"), values.get(k)) if ratios else "" for k in ("dockerfile", "syntax")]
    return f"| {label} | {' | '.join(cells)} | {' | '.join(rs)} |"


def measured_in(r):
    """When the engine's scenarios come from more than one run (`--only`), which run each is from;
    ratios compare sides of one run, but figures of different runs may differ in machine speed."""
    measured = r.get("measured", {})
    runs = sorted(set(measured.values()))
    earlier = [s for s in SCENARIOS if s in r and s not in measured]
    if len(runs) + bool(earlier) < 2:
        return []
    parts = [f"{', '.join(earlier)} in earlier runs"] if earlier else []
    parts += [f"{', '.join(s for s in SCENARIOS if measured.get(s) == run)} on {run}" for run in runs]
    return [f"Scenarios from more than one run (`--only`): {'; '.join(parts)}. Compare figures across runs with care: "
            "the machine's speed may differ between them; each ratio compares the sides of one run."]


def engine_section(engine, r, host):
    m, n, syntax = r["machine"], len(r["variants"]), bool(r["machine"].get("syntax_image"))
    # A row that compares the sides; rows that put other things in the columns call `row`.
    rw = lambda label, values, **kw: row(label, values, unset_syntax=not syntax, **kw)
    lines = [
        f"## Docker {engine}",
        "",
        f"Written by `bench/run` on {r['date']}. Machine: {m['cpu']}, {m['memory']}, Linux {m['kernel']}. "
        f"Daemon: {m['daemon']}. Frontend: `{m['frontend']}`. Dockerfile frontend image: `{m.get('syntax_image') or 'none'}`.",
        *measured_in(r),
        "Times are median (min / max) over the runs; the ratio columns are Flotilla / that Dockerfile column on medians.",
        *(["This engine's figures were read back from the run's log: its last scenario (P6) failed before the results "
            "were written, so P3, the per-variant P1 times and the timelines are missing.", ""] if r.get("from_log") else []),
        "",
        "| scenario | " + " | ".join(label for _, label in SIDES) + " | ratio vs built-in | ratio vs `# syntax=` |",
        "|---|---|---|---|---|---|",
    ]
    p1 = r.get("P1")
    if p1:
        for path in ("compile", "prebuilt"):
            lines.append(rw(f"P1 cold build of all {n} variants, {path} path", {k: p1.get(f"{k}_{path}") for k, _ in SIDES}))
        lines.append(rw("P1 prebuilt / compile path (time)", {k: ratio(p1.get(f"{k}_prebuilt"), p1.get(f"{k}_compile")) or None for k, _ in SIDES}, fmt=str, ratios=False))
        for path in ("prebuilt", "compile"):
            lines.append(rw(f"P1 cargo processes in the {path}-path builds (median of the runs)", {k: r["P1_cargo"].get(f"{k}_{path}") for k, _ in SIDES}, fmt=str, ratios=False))
    ci = r.get("CI")
    if ci:
        job = {k: ci["jobs"][k].get(PULLED_VARIANT) for k in ci["jobs"]}
        lines.append(rw(f"P2 bytes one prebuilt variant job (`{PULLED_VARIANT}`) pulls (prebuilt ref + frontend)",
                        {k: v["bytes"] for k, v in job.items() if v}, fmt=lambda b: mb(b)))
        lines.append(row("P2 prebuilt ref in the registry (artifact / builder image)", ci["prebuilt_size"], fmt=mb, ratios=False))
        totals = {k: sum(j["seconds"] for j in v.values()) for k, v in ci["jobs"].items()}
        pulled = {k: sum(j["bytes"] for j in v.values()) for k, v in ci["jobs"].items()}
        lines.append(rw(f"CI {n} variant jobs, each on a fresh runner, registry at {ci['bandwidth_mb_s']:g} MB/s: seconds", totals))
        lines.append(rw("CI the same: bytes pulled through the rate-limited registry", pulled, fmt=mb))
    if r.get("P3"):
        lines.append(rw(f"P3 no-op rebuild of all {n} variants, compile path", r["P3"]))
    if r.get("P3_prebuilt"):
        lines.append(rw(f"P3 no-op rebuild of all {n} variants, prebuilt path", r["P3_prebuilt"]))
    p4 = r.get("P4")
    if p4:
        lines.append(rw(f"P4 one-line edit in crates/core, rebuild `{ONE_VARIANT}` (Dockerfile.unified: dummy-main deps layer)", p4))
        lines.append(row("P4 the same, a naive Dockerfile (no deps layer) in the Dockerfile column", {"flotilla": p4["flotilla"], "dockerfile": p4["naive"]}))
        if p4.get("cargo"):
            lines.append(row("P4 the same edit, Flotilla `--target artifact` (the binaries alone) vs `cargo build --release` on this "
                            "machine in a warm target dir, run by run in turn (in the Dockerfile column)",
                            {"flotilla": p4["artifact"], "dockerfile": p4["cargo"]}))
        readme = r["P4_readme"]
        lines.append(rw(f"P4 edit of README.md, rebuild `{ONE_VARIANT}`: seconds", {k: v["seconds"] for k, v in readme.items()}))
        lines.append(rw("P4 the same: cargo processes", {k: v["cargo"] for k, v in readme.items()}, fmt=str, ratios=False))
    comp = r.get("COMPILE")
    if comp:
        lines.append(rw("COMPILE cold compile of openab's 3 cargo projects: Flotilla `--target artifact` (side by side) vs "
                        "Dockerfile.unified's builder stage (one after the other)", {k: v["seconds"] for k, v in comp.items()}))
        if all("cpu" in v for v in comp.values()):
            lines.append(rw("COMPILE the same: CPU seconds the machine spent (user + system, both cores)",
                            {k: v["cpu"] for k, v in comp.items()}))
    p6 = r.get("P6")
    if p6:
        f, d = p6["flotilla"], p6.get("dockerfile")
        lines.append(row("P6 frontend image (uncompressed; Flotilla also in the registry)",
                        {"flotilla": f"{mb(f['image'])} / {mb(f['compressed'])}", "syntax": f"{mb(d['image'])}" if d else None}, fmt=str, ratios=False))
    lines += ["", f"Variants: {', '.join(r['variants'])}. Cold = `docker builder prune -af` before (no build cache, no cache mounts); "
              "the base images stay local. The CI jobs also lose every image an earlier job pulled or made, and the toolchain image "
              "is set aside; the prebuilt ref and the frontend image come through nginx (`limit_rate`, per connection).", ""]
    if ci and ci["jobs"]["dockerfile"][PULLED_VARIANT]["bytes"] < 0.9 * ci["prebuilt_size"]["dockerfile"]:
        lines += ["The builder image job pulled less than the image's size: the daemon still held some of its layers "
                  "(another image on this daemon has the toolchain's layers), so a real runner pulls more.", ""]
    lines += per_variant_tables(r)
    for side, label in SIDES:
        if comp and side in comp:
            lines += timeline_table(label, comp[side]["timeline"])
    if r.get("disk"):
        lines += [f"Disk free on `/`: {r['disk']['before'] / 1e9:.1f} GB before the run, {r['disk']['after'] / 1e9:.1f} GB after.", ""]
    return lines


def per_variant_tables(r):
    lines = []
    if r.get("P1_variants"):
        keys = [k for k in (f"{s}_{p}" for p in ("compile", "prebuilt") for s, _ in SIDES) if k in r["P1_variants"]]
        lines += ["P1 per variant, seconds (median), in build order: the compile path's first variant pays for the compile.", "",
                  "| variant | " + " | ".join(k.replace("_", ", ") for k in keys) + " |", "|---" * (len(keys) + 1) + "|"]
        for v in r["variants"]:
            lines.append(f"| {v} | " + " | ".join(f"{r['P1_variants'][k][v]['median']:.1f}" for k in keys) + " |")
        lines.append("")
    if r.get("CI"):
        jobs = r["CI"]["jobs"]
        lines += ["CI runner per variant job: seconds (MB pulled through the rate-limited registry).", "",
                  "| variant | " + " | ".join(label for k, label in SIDES if k in jobs) + " |", "|---" * (len(jobs) + 1) + "|"]
        for v in r["variants"]:
            lines.append(f"| {v} | " + " | ".join(f"{jobs[k][v]['seconds']:.1f} ({jobs[k][v]['bytes'] / 1e6:.1f})" for k, _ in SIDES if k in jobs) + " |")
        lines.append("")
    return lines


def timeline_table(label, steps):
    lines = [f"COMPILE, {label}: the steps that ran in its median run (from `--progress=plain`), seconds since the build started.", "",
             "| step | start | end | took |", "|---|---|---|---|"]
    for s in (s for s in steps if not s["cached"] and s["end"] - s["start"] >= 0.1):
        took = "cached" if s["cached"] else f"{s['end'] - s['start']:.1f}"
        lines.append(f"| `{s['name'].replace('|', '/')}` | {s['start']:.1f} | {s['end']:.1f} | {took} |")
    return lines + [""]


def markdown(results):
    lines = ["# Benchmark: Flotilla vs the Dockerfile approach (examples/openab)", ""]
    for engine in sorted(results["engines"]):
        lines += engine_section(engine, results["engines"][engine], results["host"])
    host = results["host"]
    if host:
        lines += ["## This machine, once", "", "| scenario | result |", "|---|---|"]
        for name, s in host.get("P5", {}).items():
            lines.append(f"| P5 criterion `{name}` | {s['median']:.2f} ms ({s['min']:.2f} / {s['max']:.2f}) |")
        lines.append("")
    lines += ["![results](results.png)", ""]
    return "\n".join(lines)


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    engines = sorted(results["engines"])
    fig, grid = plt.subplots(len(engines), 4, figsize=(20, 4.6 * len(engines)), squeeze=False)
    for axes, engine in zip(grid, engines):
        r = results["engines"][engine]
        grouped(axes[0], f"{engine}: P1 cold, prebuilt path, per variant", r["variants"],
                {k: [r["P1_variants"][f"{k}_prebuilt"][v]["median"] for v in r["variants"]] for k, _ in SIDES
                 if f"{k}_prebuilt" in r.get("P1_variants", {})})
        jobs = r.get("CI", {}).get("jobs", {})
        grouped(axes[1], f"{engine}: CI runner job per variant", r["variants"],
                {k: [jobs[k][v]["seconds"] for v in r["variants"]] for k in jobs})
        warm = ({f"P3 {k}": s for k, s in r.get("P3", {}).items()}
                | {f"P3-prebuilt {k}": s for k, s in r.get("P3_prebuilt", {}).items()}
                | {f"P4 {k}": s for k, s in r.get("P4", {}).items()})
        axes[2].bar(list(warm), [s["median"] for s in warm.values()], color=[COLORS[k.split()[1]] for k in warm])
        axes[2].set_title(f"{engine}: P3 no-op rebuild, P4 one-line edit", fontsize=10)
        axes[2].set_ylabel("s")
        axes[2].tick_params(axis="x", labelrotation=40, labelsize=7)
        gantt(axes[3], f"{engine}: openab's three projects, Flotilla compile steps",
              r.get("COMPILE", {}).get("flotilla", {}).get("timeline", []))
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def grouped(ax, title, variants, series):
    width = 0.8 / max(len(series), 1)
    for i, (side, values) in enumerate(series.items()):
        ax.bar([x + i * width for x in range(len(variants))], values, width, label=side, color=COLORS[side])
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(variants))], variants, rotation=40, fontsize=7)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("s")
    if series:
        ax.legend(fontsize=7)


def gantt(ax, title, steps):
    """Steps that took time, longest names cut: a bar from start to end each."""
    shown = [s for s in steps if not s["cached"] and s["end"] - s["start"] >= 0.5]
    for y, s in enumerate(shown):
        ax.barh(y, s["end"] - s["start"], left=s["start"], color="#3b7dd8")
    ax.set_yticks(range(len(shown)), [s["name"][:38] for s in shown], fontsize=6)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("s since the build started")

