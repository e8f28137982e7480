#!/usr/bin/env bash
# Writes the bad specs that are too large or not text, which are not committed, into DIR
# (default: this directory); both runners of the table call it. Their `.expected` files are
# committed next to this script. The syntax line names localhost:5000/flotilla:dev, as the
# committed specs do.
set -eu
dir=${1:-$(dirname "$0")}
header='# syntax=localhost:5000/flotilla:dev
version: 1
builder:
  image: rust:1-bookworm
  binaries: [app]
variants:
  app:
    from: debian:bookworm-slim'

# huge: a 50 MB spec, refused by its size before it is parsed (or sent whole).
{
  printf '%s\n    run:\n' "$header"
  yes '      - echo flotilla' | head -c $((50 << 20)) || true
} >"$dir/huge.yaml"

# not-utf8: a Latin-1 byte (0xe9) in a value, at line 9, column 21.
printf '%s\n    description: caf\xe9 edition\n' "$header" >"$dir/not-utf8.yaml"

# `$1` KiB of `x` on one line.
xs() { yes x | head -n $(($1 << 10)) | tr -d '\n' || true; }

# Variant `app` with a 400 KB env value that each of `$1` run steps carries.
blob_steps() {
  printf '%s\n    env:\n      BLOB: ' "$header"
  xs 400
  printf '\n    run:\n'
  yes '      - echo step' | head -n "$1" || true
}

# Variant `app` with `$2` commands under `$1`.
commands() {
  printf '%s\n    %s:\n' "$header" "$1"
  yes '      - echo flotilla' | head -n "$2" || true
}

# definition-too-large: a 400 KB env value that each of 12 run steps carries, so the target's
# Definition is over BuildKit's 4 MiB message limit while the spec is under its 1 MiB limit.
blob_steps 12 >"$dir/definition-too-large.yaml"

# definition-too-large-steps: the same with 2,000 run steps, 800 MB were the graph built whole:
# it stops growing once over the limit.
blob_steps 2000 >"$dir/definition-too-large-steps.yaml"

# run-steps-over-limit: 20,000 run steps, a graph as deep as it is long whose Definition is over
# 4 MiB: refused before it is marshaled, and nothing walks it by recursion.
commands run 20000 >"$dir/run-steps-over-limit.yaml"

# checks-over-limit: the same through 20,000 `check:` commands (its .args name `check:app`).
commands check 20000 >"$dir/checks-over-limit.yaml"

# extends-copies-too-much: a 100 KB description that 400 variants extend: their merges would
# copy 40 MB, over the inheritance limit.
{
  printf '%s\n    description: ' "$header"
  xs 100
  printf '\n'
  for child in $(seq 400); do printf '  c%s: { extends: app }\n' "$child"; done
} >"$dir/extends-copies-too-much.yaml"

# many-errors-one-line: 20,000 invalid package names on one line, each error located in it.
{
  printf '%s\n    packages: [' "$header"
  for package in $(seq 20000); do printf '_%s, ' "$package"; done
  printf 'x]\n'
} >"$dir/many-errors-one-line.yaml"
