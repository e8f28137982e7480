# shellcheck shell=bash
# Shared helpers of the end-to-end suites; sourced by tests/e2e.sh.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The engine under test (scripts/bed up ENGINE starts it): 20.10 is Docker 20.10's CLI and
# built-in BuildKit; 26 is Docker 26's CLI, whose `docker build` is buildx 0.13.
ENGINE=${FLOTILLA_ENGINE:-20.10}
DOCKER=$("$ROOT/scripts/bed" cli "$ENGINE")
FRONTEND=${FLOTILLA_FRONTEND:-localhost:5000/flotilla:dev}
REGISTRY=localhost:5000
EXAMPLE=$ROOT/examples/hello
RUN_ID=$(date +%s)-$$
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
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
log_tail() { tail -n 15 "$WORK/$1.log" | sed 's/^/     | /'; }

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
