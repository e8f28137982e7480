"""Flotilla against the Dockerfile approach on examples/openab, one engine per
run. Run through bench/run, which sets up the test bed and runs this once per engine.

Writes bench/results.json (each engine's results, merged: a run of one engine keeps the
other's), bench/results.md (a section and a table per engine) and bench/results.png (a row of
panels per engine). Scenarios (see the README's Benchmarks section):

  P3     no-op rebuild of every variant (warm), compile path and prebuilt path
  P4     one-line edit in crates/core, rebuild one variant; the same edit as `--target artifact`,
         each run paired with cargo itself rebuilding it on this machine in a warm target dir; an
         edit of README.md, cargo counted
  P1     cold build of every variant, compile path vs prebuilt ref, per variant
  CI     CI runner: each variant a job on a fresh builder, prebuilt ref through a rate-limited
         registry (nginx); P2 (bytes pulled by one variant job) comes from here
  COMPILE cold compile of openab's three cargo projects: Flotilla's artifact (side by side)
         vs Dockerfile.unified's builder stage (one after the other), with step timelines
  P6     frontend image sizes
  P5     (host) spec -> LLB for a 50-variant spec (criterion, in llb-gen)
"""

import argparse
import collections
import contextlib
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proxy import RateLimitedRegistry  # noqa: E402
import report  # noqa: E402
from report import ONE_VARIANT  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OPENAB = ROOT / "examples" / "openab"
FRONTEND = os.environ.get("FLOTILLA_FRONTEND", "localhost:5000/flotilla:dev")
# The dockerfile frontend as a `# syntax=` image (built by hand; Docker Hub is out of reach).
SYNTAX_IMAGE = os.environ.get("DOCKERFILE_FRONTEND_IMAGE")
REGISTRY = "localhost:5000"
TOOLCHAIN = "rust:1-bookworm"
EDITED = "crates/core/src/lib.rs"
ENGINE_SCENARIOS = report.SCENARIOS
HOST_SCENARIOS = ("P5",)
DOCKER = None  # the engine's CLI, from `scripts/bed cli ENGINE` (set in main)
ENV = dict(os.environ, DOCKER_BUILDKIT="1", BUILDX_NO_DEFAULT_ATTESTATIONS="1")


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def docker(*args, check=True):
    result = subprocess.run([DOCKER, *args], env=ENV, text=True, capture_output=True)
    if check and result.returncode != 0:
        sys.exit(f"bench: docker {' '.join(args)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
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


class Timeline:
    """Each vertex of a `--progress=plain` build, from the lines as they arrive: its name (its
    first line), and its start and end in seconds since the build started. A vertex that reports
    `DONE 3.2s` started 3.2 s before it said so, whenever its first line came."""

    VERTEX = re.compile(r"^#(\d+) (.*)$")
    DONE = re.compile(r"^(DONE (\d+\.\d+)s|CACHED|ERROR.*)$")

    def __init__(self, started):
        self.started, self.steps = started, {}

    def feed(self, line, now):
        m = self.VERTEX.match(line.rstrip("\n"))
        if not m:
            return
        at, rest = now - self.started, m.group(2)
        step = self.steps.setdefault(m.group(1), {"name": rest[:80], "start": at, "end": at, "cached": False})
        done = self.DONE.match(rest)
        if done:
            step["end"], step["cached"] = at, rest == "CACHED"
            if done.group(2):
                step["start"] = min(step["start"], at - float(done.group(2)))

    def ordered(self):
        return sorted(self.steps.values(), key=lambda s: (s["start"], s["end"]))


def build(workdir, spec, target, *extra, tag, made, count_cargo=True):
    """Builds one target; exits with the build's output when it fails (nothing is tagged then).
    Adds the tag and the image's id to `made`: a later build with the same tag leaves this image
    untagged, not removed, so the cleanup removes it by id. Returns seconds, cargo processes
    seen (none counted without `count_cargo`: the sampling takes CPU from a build timed against
    cargo on this machine, which nothing samples), and the timeline of its steps."""
    with tempfile.TemporaryDirectory() as tmp:
        iidfile = Path(tmp) / "iid"
        args = [DOCKER, "build", "--progress=plain", "--iidfile", str(iidfile), "-f", str(workdir / spec), "--target", target,
                "-t", tag, *extra, str(workdir)]
        tail = collections.deque(maxlen=40)
        with CargoWatch() if count_cargo else contextlib.nullcontext(CargoWatch()) as cargo:
            started = time.monotonic()
            timeline = Timeline(started)
            proc = subprocess.Popen(args, env=ENV, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, errors="replace")
            for line in proc.stdout:
                timeline.feed(line, time.monotonic())
                tail.append(line)
            status = proc.wait()
            seconds = time.monotonic() - started
        if status:
            sys.exit(f"bench: {spec} --target {target} failed:\n{''.join(tail)}")
        made.add(tag)
        if iidfile.exists():
            made.add(iidfile.read_text().strip())
    return seconds, len(cargo.seen), timeline


class Side:
    """One way of building the example: flotilla.yaml, or a Dockerfile. Remembers what it made."""

    def __init__(self, name, spec, workdir, made):
        self.name, self.spec, self.workdir, self.made = name, spec, workdir, made

    def build(self, target, *extra, tag=None, count_cargo=True):
        tag = tag or f"bench/{self.name}-{target}".lower()
        return build(self.workdir, self.spec, target, *extra, tag=tag, made=self.made, count_cargo=count_cargo)

    def build_all(self, variants, *extra):
        """Seconds per variant, in order, and the cargo processes seen in all of them."""
        per, cargo = {}, 0
        for variant in variants:
            seconds, procs, _ = self.build(variant, *extra)
            per[variant], cargo = seconds, cargo + procs
        return per, cargo


def prune():
    """No build cache and no cache mounts: what a fresh CI runner has (base images stay)."""
    docker("builder", "prune", "-af")


def sharing_layers(ref):
    """Every tag on the daemon whose image has one of ref's layers, ref's own among them: only
    with all of them set aside does the daemon hold none of ref's layers."""
    tags = [tag for tag in docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split() if "<none>" not in tag]
    inspected = docker("image", "inspect", "-f", "{{json .RootFS.Layers}}", ref, *tags).stdout.splitlines()
    layers, *tag_layers = (set(json.loads(line) or []) for line in inspected)
    return [tag for tag, own in zip(tags, tag_layers) if layers & own]


def stats(values):
    return {"min": min(values), "median": statistics.median(values), "max": max(values), "runs": len(values)}


def manifest_url(ref, registry=REGISTRY):
    repo, tag = ref.split("/", 1)[1].rsplit(":", 1)
    return f"http://{registry}/v2/{repo}/manifests/{tag}"


def registry_has(ref):
    return subprocess.run(["curl", "-sfI", manifest_url(ref)], capture_output=True).returncode == 0


MANIFEST_TYPES = ", ".join((
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
))


def registry_layers(ref):
    """Compressed size of an image in the registry (sum of its config and layer blobs); for an
    index (buildx pushes one with its attestations), of its linux/amd64 image."""
    def fetch(url):
        out = subprocess.run(["curl", "-sf", "-H", f"Accept: {MANIFEST_TYPES}", url], capture_output=True, text=True, check=True).stdout
        return json.loads(out)
    manifest = fetch(manifest_url(ref))
    if "manifests" in manifest:
        image = next(m for m in manifest["manifests"] if m.get("platform", {}).get("architecture") == "amd64")
        manifest = fetch(manifest_url(ref).rsplit("/", 1)[0] + "/" + image["digest"])
    return manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])


def edit(path, label):
    """A one-line code change in the core crate, unique per run so no cache can answer it."""
    text = path.read_text()
    text = re.sub(r'"info"\.to_owned\(\)( /\* [^*]* \*/)?', f'"info".to_owned() /* {label} */', text, count=1)
    path.write_text(text)


def set_syntax(path, image):
    """Points a spec's or Dockerfile's `# syntax=` line at `image` (adds one if there is none)."""
    text = path.read_text()
    text = text.split("\n", 1)[1] if text.startswith("# syntax=") else text
    path.write_text(f"# syntax={image}\n{text}")


def cpu_seconds():
    """User and system time of every core of this machine so far (/proc/stat), in seconds: the
    work a build made, the daemon's and its containers' alike, on an otherwise idle machine."""
    user, nice, system = (int(f) for f in Path("/proc/stat").read_text().split()[1:4])
    return (user + nice + system) / os.sysconf("SC_CLK_TCK")


def disk_free():
    return shutil.disk_usage("/").free


class Bench:
    """The sides, refs and variants every scenario uses, and what the scenarios made."""

    def __init__(self, opts, work):
        self.opts, self.work = opts, work
        self.made = set()  # image tags and ids to remove after each scenario
        self.variants = opts.variants.split(",") if opts.variants else variant_names()
        self.tree = self.copy(OPENAB, "openab")
        self.sides = self.sides_of(self.tree, "Dockerfile.unified")
        naive = re.sub(r"# deps-layer-begin.*?# deps-layer-end\n", "", (self.tree / "Dockerfile.unified").read_text(), flags=re.S)
        (self.tree / "Dockerfile.naive").write_text(naive)
        self.naive = Side("naive", "Dockerfile.naive", self.tree, self.made)
        self.artifact = f"{REGISTRY}/bench/openab-artifact:1"
        self.builder = f"{REGISTRY}/bench/openab-builder:1"

    def copy(self, source, name):
        workdir = self.work / name
        shutil.copytree(source, workdir)
        set_syntax(workdir / "flotilla.yaml", FRONTEND)
        return workdir

    def sides_of(self, workdir, dockerfile):
        """Flotilla, the built-in Dockerfile frontend, and the `# syntax=` one when it is set."""
        sides = [Side("flotilla", "flotilla.yaml", workdir, self.made), Side("dockerfile", dockerfile, workdir, self.made)]
        if SYNTAX_IMAGE:
            syntax = f"{dockerfile}.syntax"
            shutil.copy(workdir / dockerfile, workdir / syntax)
            set_syntax(workdir / syntax, SYNTAX_IMAGE)
            sides.append(Side("syntax", syntax, workdir, self.made))
        return sides

    def prebuilt(self, side):
        """The prebuilt ref a side's variants use, and the target that makes it."""
        return (self.artifact, "artifact") if side.name == "flotilla" else (self.builder, "local_builder")

    def path_args(self, side, path):
        """The build args that take a side's variants down `path`: "compile", or "prebuilt"
        (BUILDER_IMAGE names the side's prebuilt ref)."""
        return ("--build-arg", f"BUILDER_IMAGE={self.prebuilt(side)[0]}") if path == "prebuilt" else ()

    def push_prebuilt(self, side):
        ref, target = self.prebuilt(side)
        side.build(target, tag=ref)
        docker("push", ref)

    def cleanup(self):
        """Removes every image the scenario made, tagged or since untagged (a failed build makes
        nothing)."""
        if self.made:
            docker("image", "rm", "-f", *sorted(self.made), check=False)
            self.made.clear()

    def p3(self):
        """No-op rebuild of every variant, everything cached: the compile path, then the
        prebuilt path (each side's prebuilt ref given as BUILDER_IMAGE)."""
        log("P3: warming the build cache of every side")
        for side in self.sides:
            side.build_all(self.variants)
            if side.name != "syntax":
                self.push_prebuilt(side)
        for side in self.sides:
            side.build_all(self.variants, *self.path_args(side, "prebuilt"))
        log(f"P3: no-op rebuilds, {self.opts.runs} run(s)")
        p3 = {path: {side.name: [] for side in self.sides} for path in ("compile", "prebuilt")}
        for _ in range(self.opts.runs):
            for path, times in p3.items():
                for side in self.sides:
                    times[side.name].append(sum(side.build_all(self.variants, *self.path_args(side, path))[0].values()))
        stats_of = {path: {k: stats(v) for k, v in times.items()} for path, times in p3.items()}
        return {"P3": stats_of["compile"], "P3_prebuilt": stats_of["prebuilt"]}

    def p4(self):
        """A one-line edit in the core crate, then a rebuild of one variant (compile path); the
        naive Dockerfile recompiles everything each time, so it gets one run. Then an edit of
        README.md, outside every project's sources: Flotilla should run no cargo at all."""
        log(f"P4: edit one line, rebuild {ONE_VARIANT}, {self.opts.runs} run(s)")
        p4, stamp = {}, int(time.time())
        for side in [*self.sides, self.naive]:
            if side is not self.naive:
                edit(self.tree / EDITED, f"warm {side.name} {stamp}")
                side.build(ONE_VARIANT)
            runs = 1 if side is self.naive else self.opts.runs
            times = []
            for i in range(runs):
                edit(self.tree / EDITED, f"edit {side.name} {stamp} {i}")
                times.append(side.build(ONE_VARIANT)[0])
                log(f"  {side.name}: {times[-1]:.1f} s")
            p4[side.name] = stats(times)
        # The binaries alone, against cargo on this machine in a warm target dir: the compile's
        # own overhead, each run paired with cargo's (this machine's speed drifts over a run).
        flotilla, times, cargo_times = self.sides[0], [], []
        flotilla.build("artifact")  # every project compiled once, as the host's target dir is
        host = HostCargo(self.work)
        for i in range(self.opts.runs):
            edit(self.tree / EDITED, f"artifact {stamp} {i}")
            times.append(flotilla.build("artifact", count_cargo=False)[0])
            cargo_times.append(host.rebuild(f"cargo {stamp} {i}"))
            log(f"  flotilla artifact: {times[-1]:.1f} s, cargo on this machine: {cargo_times[-1]:.1f} s")
        host.remove()
        p4["artifact"], p4["cargo"] = stats(times), stats(cargo_times)
        readme = {}
        for side in self.sides:
            side.build(ONE_VARIANT)  # up to date with the other sides' edits first
            with open(self.tree / "README.md", "a") as f:
                f.write(f"\nEdited by the benchmark ({side.name} {stamp}).\n")
            seconds, cargo, _ = side.build(ONE_VARIANT)
            readme[side.name] = {"seconds": seconds, "cargo": cargo}
            log(f"  README edit, {side.name}: {seconds:.1f} s, {cargo} cargo processes")
        return {"P4": p4, "P4_readme": readme}

    def p1(self):
        """Cold, every variant: the compile path, then the prebuilt ref, per side."""
        log(f"P1: cold builds of {len(self.variants)} variants, {self.opts.cold_runs} run(s) per configuration")
        per = collections.defaultdict(lambda: collections.defaultdict(list))
        cargo = collections.defaultdict(list)
        for i in range(self.opts.cold_runs):
            for side in self.sides:
                for path in ("compile", "prebuilt"):
                    prune()
                    seconds, procs = side.build_all(self.variants, *self.path_args(side, path))
                    key = f"{side.name}_{path}"
                    for variant, s in seconds.items():
                        per[key][variant].append(s)
                    cargo[key].append(procs)
                    log(f"  run {i + 1}: {side.name} {path} path {sum(seconds.values()):.1f} s, {procs} cargo processes")
                    if path == "compile" and side.name != "syntax":
                        self.push_prebuilt(side)
        totals = {k: stats([sum(run) for run in zip(*v.values())]) for k, v in per.items()}
        variants = {k: {variant: stats(s) for variant, s in v.items()} for k, v in per.items()}
        return {"P1": totals, "P1_variants": variants, "P1_cargo": {k: statistics.median_low(v) for k, v in cargo.items()}}

    def ci(self):
        """Each variant a job on a fresh runner: no build cache, none of the images an earlier
        job pulled or made, the prebuilt ref and the frontend image pulled through nginx at
        --bandwidth. The toolchain image is set aside meanwhile, with every other image that
        shares its layers: they are the builder image's lower half, and a runner building
        variant images does not have them."""
        tree = self.copy(OPENAB, "ci")
        proxy_dir = self.work / "nginx"
        with RateLimitedRegistry(proxy_dir, self.opts.proxy_port, self.opts.bandwidth, "127.0.0.1:5000") as proxy:
            via = lambda ref: ref.replace(REGISTRY, proxy.address, 1)
            set_syntax(tree / "flotilla.yaml", via(FRONTEND))
            sides = self.sides_of(tree, "Dockerfile.unified")
            if SYNTAX_IMAGE:
                set_syntax(tree / "Dockerfile.unified.syntax", via(SYNTAX_IMAGE))
            for side in self.sides:
                ref, _ = self.prebuilt(side)
                if not registry_has(ref):
                    self.push_prebuilt(side)
            saved = self.work / "toolchain.tar"
            aside = sharing_layers(TOOLCHAIN)
            docker("save", "-o", str(saved), *aside)
            jobs = {side.name: {} for side in sides}
            try:
                docker("image", "rm", "-f", *aside)
                log(f"CI: one job per variant, registry at {self.opts.bandwidth:g} MB/s through nginx on {proxy.address}")
                for side, variant in ((s, v) for s in sides for v in self.variants):
                    ref = via(self.prebuilt(side)[0])
                    docker("image", "rm", "-f", ref, via(FRONTEND), *([via(SYNTAX_IMAGE)] if SYNTAX_IMAGE else []), check=False)
                    prune()
                    offset = proxy.log_offset()
                    seconds, procs, _ = side.build(variant, "--build-arg", f"BUILDER_IMAGE={ref}", tag=f"bench/ci-{side.name}-{variant}")
                    pulled, blobs = proxy.pulled(offset)
                    jobs[side.name][variant] = {"seconds": seconds, "bytes": pulled, "blobs": blobs, "cargo": procs}
                    log(f"  {side.name} {variant}: {seconds:.1f} s, {pulled / 1e6:.1f} MB in {blobs} blobs")
                    self.cleanup()
            finally:
                docker("load", "-i", str(saved))
                saved.unlink()
                docker("image", "rm", "-f", via(self.artifact), via(self.builder), via(FRONTEND), check=False)
        refs = {"flotilla": registry_layers(self.artifact), "dockerfile": registry_layers(self.builder)}
        shutil.rmtree(tree)
        return {"CI": {"bandwidth_mb_s": self.opts.bandwidth, "jobs": jobs, "prebuilt_size": refs}}

    def compile(self):
        """Cold compile of every cargo project of examples/openab (the root workspace,
        openab-agent/ and agy-acp/, each with its own lockfile): Flotilla's artifact, whose
        projects build side by side, vs Dockerfile.unified's builder stage, which compiles them
        one after the other. Per run, the sides take turns (this machine's speed drifts); each
        side's time and CPU time, and the steps' timeline of its median run."""
        log(f"COMPILE: cold compile of examples/openab's three projects, {self.opts.cold_runs} run(s)")
        runs = collections.defaultdict(list)
        for i in range(self.opts.cold_runs):
            for side in self.sides:
                target = "artifact" if side.name == "flotilla" else "local_builder"
                prune()
                before = cpu_seconds()
                seconds, cargo, timeline = side.build(target, tag=f"bench/compile-{side.name}")
                cpu = cpu_seconds() - before
                runs[side.name].append({"seconds": seconds, "cpu": cpu, "cargo": cargo, "timeline": timeline.ordered()})
                log(f"  run {i + 1}: {side.name} {target}: {seconds:.1f} s, {cpu:.0f} CPU s, {cargo} cargo processes")
        result = {}
        for name, side_runs in runs.items():
            middle = sorted(side_runs, key=lambda run: run["seconds"])[(len(side_runs) - 1) // 2]
            result[name] = {"seconds": stats([run["seconds"] for run in side_runs]),
                            "cpu": stats([run["cpu"] for run in side_runs]),
                            "cargo": middle["cargo"], "timeline": middle["timeline"]}
        return {"COMPILE": result}

    def p6(self):
        log("P6: image sizes")
        # The frontend runs from BuildKit's own cache: the image store need not hold it. The
        # copies pulled here go with the cleanup: Docker 20.10 would run a stale copy of a tag
        # in its store rather than ask the registry.
        docker("pull", FRONTEND)
        self.made.update([FRONTEND, *([SYNTAX_IMAGE] if SYNTAX_IMAGE else [])])
        p6 = {"flotilla": {"image": int(docker("image", "inspect", "-f", "{{.Size}}", FRONTEND).stdout), "compressed": registry_layers(FRONTEND)}}
        if SYNTAX_IMAGE and docker("pull", SYNTAX_IMAGE, check=False).returncode == 0:
            p6["dockerfile"] = {"image": int(docker("image", "inspect", "-f", "{{.Size}}", SYNTAX_IMAGE).stdout), "name": SYNTAX_IMAGE}
        return {"P6": p6}

    def p5(self):
        log("P5: criterion")
        return {"P5": criterion()}


class HostCargo:
    """examples/openab copied to `work` and built by cargo on this machine, its target dir
    warmed first: the floor of the P4 edit."""

    COMMAND = ["cargo", "build", "--release", "--locked", "--features", "unified", "-q"]

    def __init__(self, work):
        self.tree, self.target = work / "cargo", work / "cargo-target"
        shutil.copytree(OPENAB, self.tree)
        self.env = dict(os.environ, CARGO_TARGET_DIR=str(self.target))
        log("P4: warming a cargo target dir on this machine")
        subprocess.run(self.COMMAND, cwd=self.tree, env=self.env, check=True)

    def rebuild(self, label):
        """Seconds cargo takes to rebuild after the P4 edit, marked `label`."""
        edit(self.tree / EDITED, label)
        started = time.monotonic()
        subprocess.run(self.COMMAND, cwd=self.tree, env=self.env, check=True)
        return time.monotonic() - started

    def remove(self):
        shutil.rmtree(self.tree)
        shutil.rmtree(self.target)


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


def variant_names():
    out = subprocess.run(["cargo", "run", "-q", "-p", "llb-gen", "--", "targets", "--json", str(OPENAB / "flotilla.yaml")],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["variants"]


def machine(engine):
    mem = next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    server = docker("version", "-f", "{{.Server.Version}}").stdout.strip()
    builder = "built-in BuildKit" if engine == "20.10" else docker("buildx", "version").stdout.strip()
    return {
        "cpu": f"{os.cpu_count()} x {cpu}",
        "memory": f"{int(mem.split()[1]) // 1024 // 1024} GiB",
        "kernel": platform.release(),
        "daemon": f"Docker {server} ({builder})",
        "frontend": FRONTEND,
        "syntax_image": SYNTAX_IMAGE,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", required=True, choices=("20.10", "26"), help="the engine that is up (bench/run starts it)")
    parser.add_argument("--runs", type=int, default=3, help="runs of the warm scenarios (P3, P4)")
    parser.add_argument("--cold-runs", type=int, default=1, help="runs of the cold scenarios (P1, COMPILE)")
    parser.add_argument("--variants", help="comma-separated subset of the variants (a quick trial run)")
    scenarios = ENGINE_SCENARIOS + HOST_SCENARIOS
    parser.add_argument("--only", help=f"comma-separated scenarios of {','.join(scenarios)}; the others keep their last numbers")
    parser.add_argument("--skip-host", action="store_true", help=f"skip {','.join(HOST_SCENARIOS)} (measured with another engine)")
    parser.add_argument("--bandwidth", type=float, default=50, help="the CI runner's registry bandwidth in MB/s (nginx limit_rate)")
    parser.add_argument("--proxy-port", type=int, default=5050, help="the loopback port of the rate-limited registry")
    parser.add_argument("--disk-floor", type=float, default=20, help="stop before a scenario when fewer GB than this are free")
    parser.add_argument("--out", type=Path, default=ROOT / "bench")
    opts = parser.parse_args()
    chosen = [s for s in (opts.only.split(",") if opts.only else scenarios) if not (opts.skip_host and s in HOST_SCENARIOS)]
    unknown = set(chosen) - set(scenarios)
    if unknown:
        parser.error(f"unknown scenario(s) {','.join(sorted(unknown))} (use {','.join(scenarios)})")
    global DOCKER
    DOCKER = subprocess.run([ROOT / "scripts" / "bed", "cli", opts.engine], check=True, capture_output=True, text=True).stdout.strip()

    work = Path(tempfile.mkdtemp(prefix="flotilla-bench-"))
    try:
        run(opts, chosen, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(opts, chosen, work):
    # Each side's frontend image comes from the registry, as on a runner: Docker 20.10 runs a
    # `# syntax=` image held in its own store without pulling it, which a cold build would not pay.
    docker("image", "rm", FRONTEND, *([SYNTAX_IMAGE] if SYNTAX_IMAGE else []), check=False)
    bench = Bench(opts, work)
    path = opts.out / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    if "engines" not in results:  # the one-engine layout of earlier runs
        results = {"engines": {}, "host": {}}
    mine = results["engines"].setdefault(opts.engine, {})
    if not opts.only:
        mine.clear()
    before = disk_free()
    started = now()
    mine.update(variants=bench.variants, machine=machine(opts.engine), date=started)
    try:
        for scenario in (*ENGINE_SCENARIOS, *HOST_SCENARIOS):
            if scenario not in chosen:
                continue
            free = disk_free()
            if free < opts.disk_floor * 1e9:
                sys.exit(f"bench: {free / 1e9:.1f} GB free before {scenario}, below the floor of {opts.disk_floor:g} GB "
                         "(--disk-floor): stopping; free space, then rerun with --only")
            (results["host"] if scenario in HOST_SCENARIOS else mine).update(getattr(bench, scenario.lower())())
            # A run with --only keeps the other scenarios' figures: the report names the run (by
            # its start) each engine scenario is from; the host's are measured with one engine only.
            if scenario in ENGINE_SCENARIOS:
                mine.setdefault("measured", {})[scenario] = started
            bench.cleanup()
            # Written after each scenario: a later failure keeps what was measured.
            write(opts.out, results)
    finally:
        bench.cleanup()
        prune()
    mine["disk"] = {"before": before, "after": disk_free()}
    write(opts.out, results)
    log(f"wrote {opts.out / 'results.md'} and {opts.out / 'results.png'}")


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def write(out, results):
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(report.markdown(results))
    report.plot(results, out / "results.png")


if __name__ == "__main__":
    main()
