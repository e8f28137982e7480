# shellcheck shell=bash
# Shared helpers of the end-to-end suites; sourced by tests/e2e.sh.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The engine under test (scripts/bed up ENGINE starts it): 20.10 is Docker 20.10's CLI and
# built-in BuildKit; 26 is Docker 26's CLI, whose `docker build` is buildx 0.13.
ENGINE=${FLOTILLA_ENGINE:-20.10}
DOCKER=$("$ROOT/scripts/bed" cli "$ENGINE")
# The engine's daemon log, where Docker 20.10 puts a frontend's stderr.
case $ENGINE in 26) DAEMON_LOG=/var/lib/flotilla-bed/logs/dockerd-26.log ;; *) DAEMON_LOG=/var/lib/flotilla-bed/logs/dockerd.log ;; esac
# buildx adds a provenance attestation to every image by default, which makes each build's image
# id new; the suites compare ids of rebuilt images, and attestations have checks of their own.
export BUILDX_NO_DEFAULT_ATTESTATIONS=1
FRONTEND=${FLOTILLA_FRONTEND:-localhost:5000/flotilla:dev}
REGISTRY=localhost:5000
EXAMPLE=$ROOT/examples/hello
RUN_ID=$(date +%s)-$$
WORK=$(mktemp -d)
# The images the suites tag (flotilla-e2e/…, some per run) and the ones they untag go when the
# run ends, so a machine that runs the suites often keeps its disk; FLOTILLA_E2E_KEEP=1 keeps them.
cleanup() {
  rm -rf "$WORK"
  [ -n "${FLOTILLA_E2E_KEEP:-}" ] && return
  "$DOCKER" images --format '{{.Repository}}:{{.Tag}}' | grep -E '^([^/]+/)?flotilla-e2e/' \
    | xargs -r "$DOCKER" image rm -f >/dev/null 2>&1
  "$DOCKER" image prune -f >/dev/null 2>&1
}
trap cleanup EXIT
export DOCKER_BUILDKIT=1

passed=0
failed=0
failures=()

pass() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
fail() {
  failed=$((failed + 1)); failures+=("$1"); printf 'FAIL %s\n' "$1"
  [ -n "${2:-}" ] && printf '     %s\n' "$2"
  return 0
}

# build NAME SPEC_DIR [docker build args…]: builds with plain progress into $WORK/NAME.log.
build() {
  local name=$1 dir=$2; shift 2
  local started=$SECONDS
  "$DOCKER" build --progress=plain -f "$dir/flotilla.yaml" "$@" "$dir" >"$WORK/$name.log" 2>&1
  local status=$?
  printf '     (%s: %ss)\n' "$name" $((SECONDS - started))
  return $status
}

log_has() { grep -qF -- "$2" "$WORK/$1.log"; }
# image_cp IMAGE PATH DEST: copies PATH out of IMAGE (through a container never started).
image_cp() {
  local container status
  container=$("$DOCKER" create "$1" /none) || return
  "$DOCKER" cp "$container:$2" "$3"; status=$?
  "$DOCKER" rm "$container" >/dev/null
  return "$status"
}
log_tail() { tail -n 15 "$WORK/$1.log" | sed 's/^/     | /'; }

# cargo_stages NAME: the stages (`[builder]`, `[builder:tool]`…) of the `cargo build` vertices in
# the build log NAME, one a line, sorted.
cargo_stages() { grep -oE '^#[0-9]+ \[builder[^]]*\] cargo build ' "$WORK/$1.log" | cut -d' ' -f2 | LC_ALL=C sort -u; }

# compiles_cached NAME: the build log NAME has `cargo build` vertices, every one CACHED, and cargo
# compiled nothing; otherwise prints what ran and fails.
compiles_cached() {
  local log=$WORK/$1.log vertex ran=""
  local vertices; vertices=$(grep -oE '^#[0-9]+ \[builder[^]]*\] cargo build ' "$log" | cut -d' ' -f1 | sort -u)
  [ -n "$vertices" ] || { echo "no cargo build vertex"; return 1; }
  for vertex in $vertices; do
    grep -qx "$vertex CACHED" "$log" || ran+=" $(grep -m1 -E "^$vertex \[" "$log")"
  done
  if grep -q 'Compiling ' "$log"; then ran+=" $(grep -m1 'Compiling ' "$log")"; fi
  [ -z "$ran" ] || { echo "ran:$ran"; return 1; }
}

# spec_dir NAME [SOURCE_DIR]: a scratch copy of an example (default examples/hello) whose spec
# names the frontend image under test on its syntax line.
spec_dir() {
  local dir=$WORK/$1 source=${2:-$EXAMPLE}; mkdir -p "$dir"
  cp -r "$source/." "$dir/"
  sed -i "1s|^# syntax=.*|# syntax=$FRONTEND|" "$dir/flotilla.yaml"
  printf '%s' "$dir"
}

# expect_refused NAME DIR MESSAGE DESCRIPTION [docker build args…]: the build must fail and its
# output must contain MESSAGE.
expect_refused() {
  local name=$1 dir=$2 message=$3 description=$4; shift 4
  if build "$name" "$dir" "$@" -t "flotilla-e2e/never"; then
    fail "$description: the build was accepted"
  elif log_has "$name" "$message"; then
    pass "$description"
  else
    fail "$description: expected message not found" "$message"; log_tail "$name"
  fi
}


# scratch_builder TAG PLATFORM MODE: a prebuilt builder image for PLATFORM, FROM scratch, holding
# /flotilla/bin/hello (a shell script) with MODE; errors go to $WORK/scratch-builders.log.
scratch_builder() {
  local dir=$WORK/scratch-$2-$3
  mkdir -p "$dir" && printf '#!/bin/sh\necho hello\n' >"$dir/hello" && chmod "$3" "$dir/hello"
  printf 'FROM scratch\nCOPY hello /flotilla/bin/hello\n' >"$dir/Dockerfile"
  "$DOCKER" build -q --platform "$2" -t "$1" "$dir" >/dev/null 2>>"$WORK/scratch-builders.log"
}

# pushed_digest IMAGE REPO: pushes IMAGE as REPO:1 to the registry and prints its digest
# (sha256:…); fails, with the push's output on stderr, when the push does.
pushed_digest() {
  local out
  if ! "$DOCKER" tag "$1" "$2:1" || ! out=$("$DOCKER" push "$2:1" 2>&1); then
    printf '%s\n' "${out:-tag failed}" >&2
    return 1
  fi
  grep -o 'digest: sha256:[0-9a-f]*' <<<"$out" | cut -d' ' -f2
}

# saved_layers IMAGE DIR: `docker save` of IMAGE in DIR/image, and each of its layers as an
# uncompressed DIR/layer-NNN.tar, in order. manifest.json names the layers both in Docker 20.10's
# layout and in the OCI layout of Docker 26's containerd store (where they stay compressed).
saved_layers() {
  local image=$1 dir=$2
  rm -rf "$dir" && mkdir -p "$dir/image" || return 1
  "$DOCKER" save "$image" | tar -x -C "$dir/image" || return 1
  python3 - "$dir" <<'PY'
import gzip, json, os, shutil, sys
d = sys.argv[1]
manifest = json.load(open(os.path.join(d, "image", "manifest.json")))
for i, layer in enumerate(manifest[0]["Layers"]):
    src = os.path.join(d, "image", layer)
    with open(src, "rb") as f:
        compressed = f.read(2) == b"\x1f\x8b"
    with (gzip.open if compressed else open)(src, "rb") as f, \
            open(os.path.join(d, "layer-%03d.tar" % i), "wb") as out:
        shutil.copyfileobj(f, out)
PY
}

# layer_paths DIR: the paths in the layers saved_layers wrote to DIR, one per line, in order.
layer_paths() { for layer in "$1"/layer-*.tar; do tar -tf "$layer"; done; }

# file_modes DIR: the filesystem the layers in DIR make, one entry per line, sorted by path, as
# `type mode uid:gid size path` (links with their target): what two engines must agree on for
# one image. Layers are applied in order, whiteouts and opaque directories included, since how a
# layer encodes a deletion differs between engines while the result may not.
file_modes() {
  python3 - "$1" <<'PY'
import glob, posixpath, sys, tarfile
tree = {}
def drop(path, keep_self=False):
    for name in [n for n in tree if n == path or n.startswith(path + "/")]:
        if not (keep_self and name == path):
            del tree[name]
for layer in sorted(glob.glob(sys.argv[1] + "/layer-*.tar")):
    with tarfile.open(layer) as t:
        entries = [(posixpath.normpath("/" + e.name).lstrip("/"), e) for e in t]
    for name, e in entries:
        base = posixpath.basename(name)
        if base == ".wh..wh..opq":
            drop(posixpath.dirname(name), keep_self=True)
        elif base.startswith(".wh."):
            drop(posixpath.join(posixpath.dirname(name), base[4:]))
    for name, e in entries:
        if not name or posixpath.basename(name).startswith(".wh."):
            continue
        kind = "d" if e.isdir() else "l" if e.issym() else "h" if e.islnk() else "f"
        size = e.size if kind == "f" else 0
        link = " -> " + e.linkname if kind in "lh" else ""
        # Permission bits only: Docker 20.10's layers also carry the type bits (040755).
        tree[name] = "%s %04o %d:%d %d %s%s" % (kind, e.mode & 0o7777, e.uid, e.gid, size, name, link)
for name in sorted(tree):
    print(tree[name])
PY
}
