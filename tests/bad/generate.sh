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

# definition-too-large: a 400 KB env value that each of 12 run steps carries, so the target's
# Definition is over BuildKit's 4 MiB message limit while the spec is under its 1 MiB limit.
{
  printf '%s\n    env:\n      BLOB: ' "$header"
  yes x | head -n $((400 << 10)) | tr -d '\n' || true
  printf '\n    run:\n'
  for step in $(seq 12); do printf '      - echo step %s\n' "$step"; done
} >"$dir/definition-too-large.yaml"
