"""Flotilla against the Dockerfile approach on examples/openab, on one daemon in one run.

Writes bench/results.md (the table, the machine, the daemon) and bench/results.png. Run through
bench/run, which sets up the test bed first. Scenarios (see the README's Benchmarks section):

  P1  cold build of every variant: compile path vs prebuilt ref, and cargo processes seen
  P2  bytes a prebuilt variant build pulls from the registry: artifact vs builder image
  P3  no-op rebuild of every variant
  P4  one-line edit in one crate, then rebuild one variant
  P5  spec -> LLB for a 50-variant spec (criterion, in llb-gen)
  P6  frontend image size
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "openab"
DOCKER = "/usr/bin/docker"
FRONTEND = os.environ.get("FLOTILLA_FRONTEND", "localhost:5000/flotilla:dev")
REGISTRY = "localhost:5000"
ACCESS_LOG = Path(os.environ.get("FLOTILLA_BED_STATE", "/var/lib/flotilla-bed")) / "logs" / "registry-access.log"
TOOLCHAIN = "rust:1-bookworm"
EDITED = "crates/core/src/lib.rs"
# The variant rebuilt after an edit (P4) and pulled for P2: a per-arch download plus the gateway.
ONE_VARIANT = "kiro"
PULLED_VARIANT = "bare"


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def docker(*args, check=True, capture=True):
    env = dict(os.environ, DOCKER_BUILDKIT="1")
    result = subprocess.run([DOCKER, *args], env=env, text=True, capture_output=capture)
    if check and result.returncode != 0:
        sys.exit(f"bench: docker {' '.join(args)} failed:\n{(result.stdout or '')[-3000:]}{(result.stderr or '')[-3000:]}")
    return result


class CargoWatch:
    """Counts distinct cargo processes that builds run while a build runs, by sampling /proc every
    50 ms (a compile keeps cargo alive for seconds). A build's processes are visible from here but
    live in their own pid namespace, which tells them from cargo run on this machine itself."""

    def __init__(self):
        self.seen = set()
        self._own_ns = os.readlink("/proc/self/ns/pid")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for entry in os.scandir("/proc"):
                if entry.name.isdigit():
                    try:
                        stat = Path(entry.path, "stat").read_text()
                        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
                        if comm == "cargo" and os.readlink(f"{entry.path}/ns/pid") != self._own_ns:
                            self.seen.add((entry.name, stat.rsplit(")", 1)[1].split()[19]))
                    except OSError:
                        continue
            self._stop.wait(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class Side:
    """One way of building the example: flotilla.yaml, or a Dockerfile."""

    def __init__(self, name, spec, workdir):
        self.name, self.spec, self.workdir = name, spec, workdir

    def build(self, target, *extra, tag=None):
        """Seconds the build of `target` took, and the cargo processes seen during it."""
        args = ["build", "--progress=plain", "-f", str(self.workdir / self.spec), "--target", target]
        args += ["-t", tag or f"bench/{self.name}-{target}", *extra, str(self.workdir)]
        with CargoWatch() as cargo:
            started = time.monotonic()
            docker(*args)
            seconds = time.monotonic() - started
        return seconds, len(cargo.seen)

    def build_all(self, variants, *extra):
        seconds, cargo = 0.0, 0
        for variant in variants:
            s, c = self.build(variant, *extra)
            seconds, cargo = seconds + s, cargo + c
        return seconds, cargo


def prune():
    """No build cache and no cache mounts: what a fresh CI runner has (base images stay)."""
    docker("builder", "prune", "-af")


def stats(values):
    return {"min": min(values), "median": statistics.median(values), "max": max(values), "runs": len(values)}


def fmt_seconds(s):
    return f"{s['median']:.1f} s ({s['min']:.1f} / {s['max']:.1f})"


def manifest_url(ref):
    """The local registry's manifest URL of `localhost:5000/<repo>:<tag>`."""
    repo, tag = ref.split("/", 1)[1].rsplit(":", 1)
    return f"http://{REGISTRY}/v2/{repo}/manifests/{tag}"


def registry_layers(ref):
    """Compressed size of an image in the registry (sum of its config and layer blobs)."""
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    out = subprocess.run(
        ["curl", "-sf", "-H", f"Accept: {accept}", manifest_url(ref)],
        capture_output=True, text=True, check=True,
    ).stdout
    manifest = json.loads(out)
    return manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])


def pulled_bytes(since):
    """Bytes of blobs the registry served after offset `since` of its access log."""
    with open(ACCESS_LOG, "rb") as f:
        f.seek(since)
        lines = f.read().decode(errors="replace").splitlines()
    total, blobs = 0, 0
    for line in lines:
        m = re.search(r'"GET /v2/\S+/blobs/\S+ HTTP/[\d.]+" 200 (\d+)', line)
        if m:
            total, blobs = total + int(m.group(1)), blobs + 1
    return total, blobs


def edit(workdir, label):
    """A one-line code change in the core crate, unique per run so no cache can answer it."""
    path = workdir / EDITED
    text = path.read_text()
    text = re.sub(r'"info"\.to_owned\(\)( /\* [^*]* \*/)?', f'"info".to_owned() /* {label} */', text, count=1)
    path.write_text(text)


def criterion():
    """P5: runs the criterion bench and reads each benchmark's per-iteration samples."""
    subprocess.run(["cargo", "bench", "-q", "-p", "llb-gen", "--bench", "llb_generation", "--", "--noplot"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    results = {}
    for sample in sorted((ROOT / "target" / "criterion").glob("**/new/sample.json")):
        data = json.loads(sample.read_text())
        per_iter = [t / i / 1e6 for t, i in zip(data["times"], data["iters"])]
        name = json.loads((sample.parent / "benchmark.json").read_text())["full_id"]
        results[name] = stats(per_iter)
    return results


def machine():
    mem = next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    server = docker("version", "-f", "{{.Server.Version}}").stdout.strip()
    return {
        "cpu": f"{os.cpu_count()} x {cpu}",
        "memory": f"{int(mem.split()[1]) // 1024 // 1024} GiB",
        "kernel": platform.release(),
        "daemon": f"Docker {server} (built-in BuildKit)",
        "frontend": FRONTEND,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of the warm scenarios (P3, P4)")
    parser.add_argument("--cold-runs", type=int, default=3, help="runs of the cold scenario (P1)")
    parser.add_argument("--variants", help="comma-separated subset of the variants (a quick trial run)")
    parser.add_argument("--only", help=f"comma-separated scenarios of {','.join(SCENARIOS)}; the others keep their last numbers")
    parser.add_argument("--out", type=Path, default=ROOT / "bench")
    opts = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="flotilla-bench-"))
    try:
        run(opts, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def copy_example(work, name):
    workdir = work / name
    shutil.copytree(EXAMPLE, workdir)
    spec = workdir / "flotilla.yaml"
    spec.write_text(re.sub(r"^# syntax=.*", f"# syntax={FRONTEND}", spec.read_text(), count=1))
    # The naive Dockerfile: Dockerfile.unified without its dependency layer.
    unified = (workdir / "Dockerfile.unified").read_text()
    naive = re.sub(r"# deps-layer-begin.*?# deps-layer-end\n", "", unified, flags=re.S)
    (workdir / "Dockerfile.naive").write_text(naive)
    return workdir


def variant_names():
    out = subprocess.run(["cargo", "run", "-q", "-p", "llb-gen", "--", "targets", "--json", str(EXAMPLE / "flotilla.yaml")],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["variants"]


class Bench:
    """The sides, refs and variants every scenario uses."""

    def __init__(self, opts, work):
        self.opts, self.work = opts, work
        self.variants = opts.variants.split(",") if opts.variants else variant_names()
        tree = copy_example(work, "openab")
        self.tree = tree
        self.flotilla = Side("flotilla", "flotilla.yaml", tree)
        self.unified = Side("dockerfile", "Dockerfile.unified", tree)
        self.naive = Side("naive", "Dockerfile.naive", tree)
        self.refs = ((self.flotilla, "artifact", f"{REGISTRY}/bench/openab-artifact:1"),
                     (self.unified, "local_builder", f"{REGISTRY}/bench/openab-builder:1"))

    def warm(self):
        """P3 and P4 need warm caches; P1 and P2 prune them, so they come after."""
        log("warming the build cache of both sides")
        for side in (self.flotilla, self.unified):
            side.build_all(self.variants)

    def p3(self):
        """No-op rebuild of every variant, everything cached (compile path)."""
        log(f"P3: no-op rebuilds, {self.opts.runs} run(s)")
        p3 = {"flotilla": [], "dockerfile": []}
        for _ in range(self.opts.runs):
            for side in (self.flotilla, self.unified):
                p3[side.name].append(side.build_all(self.variants)[0])
        return {"P3": {k: stats(v) for k, v in p3.items()}}

    def p4(self):
        """A one-line edit in the core crate, then a rebuild of one variant (compile path)."""
        log(f"P4: edit one line, rebuild {ONE_VARIANT}, {self.opts.runs} run(s)")
        p4 = {"flotilla": [], "dockerfile": [], "naive": []}
        stamp = int(time.time())
        for side in (self.flotilla, self.unified, self.naive):
            # Each edit of the naive side recompiles everything anyway: no warm-up needed.
            if side is not self.naive:
                edit(self.tree, f"warm {side.name} {stamp}")
                side.build(ONE_VARIANT)
            for i in range(self.opts.runs):
                edit(self.tree, f"edit {side.name} {stamp} {i}")
                p4[side.name].append(side.build(ONE_VARIANT)[0])
                log(f"  {side.name}: {p4[side.name][-1]:.1f} s")
        return {"P4": {k: stats(v) for k, v in p4.items()}}

    def p1(self):
        """Cold, every variant: the compile path, then the prebuilt ref, per side."""
        log(f"P1: cold builds of {len(self.variants)} variants, {self.opts.cold_runs} run(s) per configuration")
        p1 = {k: [] for k in ("flotilla_compile", "flotilla_prebuilt", "dockerfile_compile", "dockerfile_prebuilt")}
        cargo = {k: 0 for k in p1}
        for i in range(self.opts.cold_runs):
            for side, prebuilt_target, ref in self.refs:
                for path, extra in (("compile", ()), ("prebuilt", ("--build-arg", f"BUILDER_IMAGE={ref}"))):
                    prune()
                    seconds, procs = side.build_all(self.variants, *extra)
                    p1[f"{side.name}_{path}"].append(seconds)
                    cargo[f"{side.name}_{path}"] += procs
                    log(f"  run {i + 1}: {side.name} {path} path {seconds:.1f} s, {procs} cargo processes")
                    if path == "compile":
                        side.build(prebuilt_target, tag=ref)
                        docker("push", ref)
        return {"P1": {k: stats(v) for k, v in p1.items()}, "P1_cargo": cargo}

    def p2(self):
        """What one prebuilt variant build pulls: the artifact vs the builder image. The
        toolchain image is set aside meanwhile, or its layers (shared with the builder image)
        would not be pulled."""
        log("P2: bytes pulled by one prebuilt variant build")
        saved = self.work / "toolchain.tar"
        docker("save", "-o", str(saved), TOOLCHAIN)
        p2 = {}
        try:
            for side, prebuilt_target, ref in self.refs:
                if not registry_has(ref):
                    side.build(prebuilt_target, tag=ref)
                    docker("push", ref)
                docker("image", "rm", "-f", ref, TOOLCHAIN, check=False)
                prune()
                offset = ACCESS_LOG.stat().st_size
                side.build(PULLED_VARIANT, "--build-arg", f"BUILDER_IMAGE={ref}")
                pulled, blobs = pulled_bytes(offset)
                p2[side.name] = {"bytes": pulled, "blobs": blobs, "image": registry_layers(ref), "ref": ref}
                log(f"  {side.name}: {pulled} bytes in {blobs} blobs")
        finally:
            docker("load", "-i", str(saved))
        return {"P2": p2}

    def p5(self):
        log("P5: criterion")
        return {"P5": criterion()}

    def p6(self):
        log("P6: image sizes")
        p6 = {"flotilla": {"image": int(docker("image", "inspect", "-f", "{{.Size}}", FRONTEND).stdout), "compressed": registry_layers(FRONTEND)}}
        other = os.environ.get("DOCKERFILE_FRONTEND_IMAGE")
        if other and docker("pull", other, check=False).returncode == 0:
            p6["dockerfile"] = {"image": int(docker("image", "inspect", "-f", "{{.Size}}", other).stdout), "name": other}
        return {"P6": p6}


SCENARIOS = ("P3", "P4", "P1", "P2", "P5", "P6")


def run(opts, work):
    bench = Bench(opts, work)
    chosen = opts.only.split(",") if opts.only else SCENARIOS
    previous = opts.out / "results.json"
    # With --only, the other scenarios' numbers are kept from the last full run.
    results = json.loads(previous.read_text()) if opts.only and previous.exists() else {}
    results.update(variants=bench.variants, machine=machine(),
                   date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    if "P3" in chosen or "P4" in chosen:
        bench.warm()
    for scenario in SCENARIOS:
        if scenario in chosen:
            results.update(getattr(bench, scenario.lower())())
    opts.out.mkdir(parents=True, exist_ok=True)
    previous.write_text(json.dumps(results, indent=2) + "\n")
    (opts.out / "results.md").write_text(report(results))
    plot(results, opts.out / "results.png")
    log(f"wrote {opts.out / 'results.md'} and {opts.out / 'results.png'}")


def registry_has(ref):
    return subprocess.run(["curl", "-sfI", manifest_url(ref)], capture_output=True).returncode == 0


def mb(n):
    return f"{n / 1e6:.1f} MB"


def report(r):
    p1, p2, p3, p4, p6 = r["P1"], r["P2"], r["P3"], r["P4"], r["P6"]
    n = len(r["variants"])
    ratio = lambda a, b: f"{a['median'] / b['median']:.2f}"
    rows = [
        ("P1", f"cold build of all {n} variants, compile path", fmt_seconds(p1["flotilla_compile"]), fmt_seconds(p1["dockerfile_compile"]), ratio(p1["flotilla_compile"], p1["dockerfile_compile"])),
        ("P1", f"cold build of all {n} variants, prebuilt ref", fmt_seconds(p1["flotilla_prebuilt"]), fmt_seconds(p1["dockerfile_prebuilt"]), ratio(p1["flotilla_prebuilt"], p1["dockerfile_prebuilt"])),
        ("P1", "prebuilt / compile path (time)", ratio(p1["flotilla_prebuilt"], p1["flotilla_compile"]), ratio(p1["dockerfile_prebuilt"], p1["dockerfile_compile"]), ""),
        ("P1", "cargo processes in the prebuilt variant builds (all runs)", str(r["P1_cargo"]["flotilla_prebuilt"]), str(r["P1_cargo"]["dockerfile_prebuilt"]), ""),
        ("P1", "cargo processes in the compile-path builds (all runs)", str(r["P1_cargo"]["flotilla_compile"]), str(r["P1_cargo"]["dockerfile_compile"]), ""),
        ("P2", f"bytes pulled from the registry by one prebuilt variant build ({PULLED_VARIANT})", f"{mb(p2['flotilla']['bytes'])} ({p2['flotilla']['blobs']} blobs)", f"{mb(p2['dockerfile']['bytes'])} ({p2['dockerfile']['blobs']} blobs)", f"{p2['flotilla']['bytes'] / max(p2['dockerfile']['bytes'], 1):.4f}"),
        ("P2", "prebuilt ref size in the registry (artifact / builder image)", mb(p2["flotilla"]["image"]), mb(p2["dockerfile"]["image"]), ""),
        ("P3", f"no-op rebuild of all {n} variants", fmt_seconds(p3["flotilla"]), fmt_seconds(p3["dockerfile"]), ratio(p3["flotilla"], p3["dockerfile"])),
        ("P4", f"one-line edit in crates/core, rebuild `{ONE_VARIANT}` vs Dockerfile.unified (dummy-main deps layer)", fmt_seconds(p4["flotilla"]), fmt_seconds(p4["dockerfile"]), ratio(p4["flotilla"], p4["dockerfile"])),
        ("P4", f"the same vs a naive Dockerfile (no deps layer)", fmt_seconds(p4["flotilla"]), fmt_seconds(p4["naive"]), ratio(p4["flotilla"], p4["naive"])),
    ]
    for name, s in r["P5"].items():
        rows.append(("P5", f"criterion `{name}`", f"{s['median']:.2f} ms ({s['min']:.2f} / {s['max']:.2f})", "", ""))
    other = p6.get("dockerfile")
    rows.append(("P6", "frontend image (uncompressed / in the registry)", f"{mb(p6['flotilla']['image'])} / {mb(p6['flotilla']['compressed'])}",
                 f"{mb(other['image'])} ({other['name']})" if other else "not measurable here: docker/dockerfile cannot be pulled without Docker Hub (set DOCKERFILE_FRONTEND_IMAGE)",
                 f"{p6['flotilla']['image'] / other['image']:.2f}" if other else ""))
    m = r["machine"]
    lines = [
        "# Benchmark: Flotilla vs the Dockerfile approach (examples/openab)",
        "",
        f"Written by `bench/run` on {r['date']}. Machine: {m['cpu']}, {m['memory']}, Linux {m['kernel']}. "
        f"Daemon: {m['daemon']}. Frontend: `{m['frontend']}`.",
        f"Times are median (min / max) over {p1['flotilla_compile']['runs']} cold run(s) (P1), {p3['flotilla']['runs']} run(s) (P3) "
        f"and {p4['flotilla']['runs']} run(s) (P4); the ratio column is Flotilla / Dockerfile on medians.",
        "",
        "| | scenario | Flotilla | Dockerfile | ratio |",
        "|---|---|---|---|---|",
        *[f"| {' | '.join(row)} |" for row in rows],
        "",
        f"Variants: {', '.join(r['variants'])}. Cold = `docker builder prune -af` before (no build cache, no cache "
        "mounts); the base images stay local, the prebuilt refs come from the registry on 127.0.0.1:5000.",
        "",
        "![results](results.png)",
        "",
    ]
    return "\n".join(lines)


def plot(r, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))

    def bars(ax, title, named, unit="s"):
        labels = list(named)
        med = [named[k]["median"] for k in labels]
        err = [[named[k]["median"] - named[k]["min"] for k in labels], [named[k]["max"] - named[k]["median"] for k in labels]]
        ax.bar(labels, med, yerr=err, capsize=4, color=["#3b7dd8" if "flotilla" in k else "#999999" for k in labels])
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(unit)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)

    bars(axes[0], "P1 cold build, all variants", r["P1"])
    p2 = r["P2"]
    axes[1].bar(["flotilla\nartifact", "dockerfile\nbuilder image"], [p2["flotilla"]["bytes"] / 1e6, p2["dockerfile"]["bytes"] / 1e6], color=["#3b7dd8", "#999999"])
    axes[1].set_yscale("log")
    axes[1].set_title("P2 pulled by one variant build", fontsize=10)
    axes[1].set_ylabel("MB (log)")
    bars(axes[2], "P3 no-op rebuild, all variants", r["P3"])
    bars(axes[3], f"P4 one-line edit, rebuild {ONE_VARIANT}", r["P4"])
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
