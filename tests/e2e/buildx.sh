# shellcheck shell=bash
# What users do through `docker buildx build` on a current engine (Docker 26, buildx 0.13):
# subrequests, named contexts, several platforms in one build, registry cache, error snippets,
# attestations and reproducible images. Docker 20.10's CLI sends none of these; there, what it
# can send is checked: SOURCE_DATE_EPOCH as a build arg, and the modes of created directories.

BX=$(spec_dir buildx)
EPOCH=1700000000 EPOCH_DATE=2023-11-14T22:13:20Z

# ran_from_cache LOG NAME: the vertex named NAME is in a plain-progress LOG, and no process of it
# printed a line (`#N 1.234 …`; cargo always does): its result came from a cache, local or
# imported (then its layer's download shows instead).
ran_from_cache() {
  local id
  id=$(awk -v name="$2" '/^#[0-9]+ / && substr($0, index($0, " ") + 1) == name { print $1; exit }' "$WORK/$1.log")
  [ -n "$id" ] && ! grep -qE "^$id [0-9]+\.[0-9]+ " "$WORK/$1.log"
}

# epoch_dates NAME [build args…]: with SOURCE_DATE_EPOCH (a build arg, as buildx passes it), the
# image config's created and the newest history entry are the epoch.
epoch_dates() {
  local name=$1; shift
  if build "$name" "$BX" --target gateway "$@" -t "flotilla-e2e/$name"; then
    local created newest
    created=$("$DOCKER" image inspect -f '{{.Created}}' "flotilla-e2e/$name")
    newest=$("$DOCKER" history --human=false --format '{{.CreatedAt}}' "flotilla-e2e/$name" | head -n 1)
    if [[ $created == 2023-11-14T22:13:20* && $newest == 2023-11-14T22:13:20* ]]; then
      pass "SOURCE_DATE_EPOCH: the config's created and the build's history entries are $EPOCH_DATE"
    else
      fail "SOURCE_DATE_EPOCH: dates" "created $created, newest history entry $newest"
    fi
  else
    fail "SOURCE_DATE_EPOCH build"; log_tail "$name"
  fi
}

# modes_of_created_dirs NAME: a copy with mode 0644 into a missing /etc/app: the directory is
# 0755 root, on every engine (current BuildKit would give it the copy's mode).
modes_of_created_dirs() {
  if build "$1" "$MULTI" --build-arg "BUILDER_IMAGE=$2" -t "flotilla-e2e/$1" && saved_layers "flotilla-e2e/$1" "$WORK/$1"; then
    local modes
    modes=$(file_modes "$WORK/$1" | grep -E ' etc/app(/app.conf)?$' | tr '\n' ' ')
    if [ "$modes" = "d 0755 0:0 0 etc/app f 0644 0:0 10 etc/app/app.conf " ]; then
      pass "a directory made for a copy with mode 0644 is 0755 root"
    else
      fail "a directory made for a copy with mode 0644" "$modes"
    fi
  else
    fail "created directories: build"; log_tail "$1"
  fi
}

MULTI=$WORK/bx-multi
mkdir -p "$MULTI/builder"
printf '#!/bin/sh\necho "hello from $(uname -m)"\n' >"$MULTI/builder/hello" && chmod 0755 "$MULTI/builder/hello"
printf 'FROM scratch\nCOPY hello /flotilla/bin/hello\n' >"$MULTI/builder/Dockerfile"
cat >"$MULTI/flotilla.yaml" <<EOF
# syntax=$FRONTEND
version: 1
builder: { image: rust:1-bookworm, binaries: [hello] }
variants:
  hello:
    from: busybox:latest
    run: ["uname -m > /etc/built-on"]
    copy: [{ src: app.conf, dest: /etc/app/app.conf, mode: "0644" }]
    binaries: { hello: /usr/local/bin/hello }
    entrypoint: [hello]
EOF
echo 'level = 1' >"$MULTI/app.conf"

if [ "$ENGINE" != 26 ]; then
  epoch_dates bx-epoch --build-arg "SOURCE_DATE_EPOCH=$EPOCH"
  ONE_BUILDER=$REGISTRY/flotilla-e2e/bx-one-builder:$RUN_ID
  if "$DOCKER" build -q -t "$ONE_BUILDER" "$MULTI/builder" >/dev/null && "$DOCKER" push -q "$ONE_BUILDER" >/dev/null; then
    modes_of_created_dirs bx-modes "$ONE_BUILDER"
  else
    fail "created directories: builder image"
  fi
  return 0
fi

# 1. Subrequests through buildx: --print=targets and --print=outline print the frontend's answers.
export BUILDX_EXPERIMENTAL=1
if build bx-targets "$BX" --print=targets && build bx-outline "$BX" --print=outline --target gateway; then
  if grep -qE '^hello \(default\)' "$WORK/bx-targets.log" && grep -qE '^artifact +the built binaries' "$WORK/bx-targets.log" \
    && grep -qE '^TARGET: +gateway' "$WORK/bx-outline.log" && grep -qE '^BUILDER_IMAGE ' "$WORK/bx-outline.log"; then
    pass "buildx --print=targets and --print=outline print the frontend's answers"
  else
    fail "buildx --print" "$(tail -n 4 "$WORK/bx-targets.log" "$WORK/bx-outline.log")"
  fi
else
  fail "buildx --print builds"; log_tail bx-targets; log_tail bx-outline
fi
unset BUILDX_EXPERIMENTAL

# 2. Named contexts: the artifact's binaries as a directory, and as an image, stand in for the
# builder; nothing compiles, and a missing binary is named at its spec line.
BX_ARTIFACT=$REGISTRY/flotilla-e2e/bx-artifact:$RUN_ID
if build bx-artifact "$BX" --target artifact -t "$BX_ARTIFACT" && "$DOCKER" push -q "$BX_ARTIFACT" >/dev/null; then
  mkdir -p "$WORK/bx-bins" "$WORK/bx-half"
  image_cp "$BX_ARTIFACT" /flotilla/bin/. "$WORK/bx-bins"
  cp "$WORK/bx-bins/hello" "$WORK/bx-half/"
  for source in "dir|$WORK/bx-bins" "image|docker-image://$BX_ARTIFACT"; do
    IFS='|' read -r kind context <<<"$source"
    if build "bx-ctx-$kind" "$BX" --target gateway --build-context "builder=$context" -t "flotilla-e2e/bx-ctx-$kind"; then
      out=$("$DOCKER" run --rm "flotilla-e2e/bx-ctx-$kind" 2>&1)
      if [ "$out" = "hello-gateway ready (RUST_LOG=info)" ] && ! log_has "bx-ctx-$kind" cargo \
        && log_has "bx-ctx-$kind" "(prebuilt)"; then
        pass "--build-context builder=$kind: no cargo step, the binaries checked first, the image runs"
      else
        fail "--build-context builder=$kind" "$out"; log_tail "bx-ctx-$kind"
      fi
    else
      fail "--build-context builder=$kind: build"; log_tail "bx-ctx-$kind"
    fi
  done
  line=$(grep -n 'hello-gateway: /usr/local/bin' "$BX/flotilla.yaml" | cut -d: -f1)
  expect_refused bx-ctx-half "$BX" "prebuilt builder context builder lacks binaries the target needs under /: hello-gateway (missing)" \
    "--build-context builder=dir without a binary: named" --target gateway --build-context "builder=$WORK/bx-half"
  if ! grep -qE "^ +$line \| >>> .*hello-gateway: /usr/local/bin" "$WORK/bx-ctx-half.log"; then
    fail "--build-context builder=dir without a binary: the snippet shows spec line $line"; log_tail bx-ctx-half
  fi
  # A context named after the variant's base image replaces it, as it replaces a Dockerfile's
  # FROM: the variant holds the replacement's file, and its binaries run on it.
  BX_BASE=$REGISTRY/flotilla-e2e/bx-base:$RUN_ID
  mkdir -p "$WORK/bx-base"
  printf 'FROM debian:bookworm-slim\nRUN echo replaced >/etc/flotilla-base\n' >"$WORK/bx-base/Dockerfile"
  if "$DOCKER" buildx build -q -t "$BX_BASE" --push "$WORK/bx-base" >"$WORK/bx-base.log" 2>&1 \
    && build bx-ctx-base "$BX" --target gateway --build-arg "BUILDER_IMAGE=$BX_ARTIFACT" \
      --build-context "debian:bookworm-slim=docker-image://$BX_BASE" -t flotilla-e2e/bx-ctx-base; then
    marker=$("$DOCKER" run --rm --entrypoint cat flotilla-e2e/bx-ctx-base /etc/flotilla-base 2>&1)
    out=$("$DOCKER" run --rm flotilla-e2e/bx-ctx-base 2>&1)
    if [ "$marker" = replaced ] && [ "$out" = "hello-gateway ready (RUST_LOG=info)" ]; then
      pass "--build-context debian:bookworm-slim=docker-image://…: the variant starts from that image and runs"
    else
      fail "--build-context named after the base image" "marker '$marker', run '$out'"; log_tail bx-ctx-base
    fi
  else
    fail "--build-context named after the base image: build"; log_tail bx-base; log_tail bx-ctx-base
  fi
  # A context named after the toolchain image replaces it for the compile: cargo runs in the
  # replacement with its environment, whose RUSTFLAGS give the binaries their build id.
  BX_TOOLCHAIN=$REGISTRY/flotilla-e2e/bx-toolchain:$RUN_ID
  mkdir -p "$WORK/bx-toolchain" "$WORK/bx-ctx-toolchain"
  printf 'FROM rust:1-bookworm\nENV RUSTFLAGS="-C link-arg=-Wl,--build-id=0x7e57c0de"\n' >"$WORK/bx-toolchain/Dockerfile"
  if "$DOCKER" buildx build -q -t "$BX_TOOLCHAIN" --push "$WORK/bx-toolchain" >"$WORK/bx-toolchain.log" 2>&1 \
    && build bx-ctx-toolchain "$BX" --target artifact --build-context "rust:1-bookworm=docker-image://$BX_TOOLCHAIN" \
      -t flotilla-e2e/bx-ctx-toolchain; then
    image_cp flotilla-e2e/bx-ctx-toolchain /flotilla/bin/hello "$WORK/bx-ctx-toolchain/hello"
    id=$(readelf -n "$WORK/bx-ctx-toolchain/hello" 2>&1 | awk '/Build ID:/ {print $3}')
    if [ "$id" = 7e57c0de ] && log_has bx-ctx-toolchain "resolve $BX_TOOLCHAIN@sha256:"; then
      pass "--build-context rust:1-bookworm=docker-image://…: cargo compiles in that image, with its environment"
    else
      fail "--build-context named after the toolchain image" "build id '$id'"; log_tail bx-ctx-toolchain
    fi
  else
    fail "--build-context named after the toolchain image: build"; log_tail bx-toolchain; log_tail bx-ctx-toolchain
  fi
else
  fail "buildx: the artifact"; log_tail bx-artifact
fi

# 3. Several platforms in one build, pushed: an index holding linux/amd64 and linux/arm64, each
# variant's run step executed on its platform (arm64 under qemu), and the arm64 image runs.
MULTI_BUILDER=$REGISTRY/flotilla-e2e/bx-multi-builder:$RUN_ID
MULTI_IMAGE=$REGISTRY/flotilla-e2e/bx-multi:$RUN_ID
if "$DOCKER" buildx build -q --platform linux/amd64,linux/arm64 -t "$MULTI_BUILDER" --push "$MULTI/builder" >"$WORK/bx-multi-builder.log" 2>&1; then
  if build bx-multi "$MULTI" --platform linux/amd64,linux/arm64 --build-arg "BUILDER_IMAGE=$MULTI_BUILDER" -t "$MULTI_IMAGE" --push; then
    platforms=$("$DOCKER" buildx imagetools inspect "$MULTI_IMAGE" | awk '$1 == "Platform:" {print $2}' | sort | tr '\n' ' ')
    arm=$("$DOCKER" run --rm --platform linux/arm64 "$MULTI_IMAGE" 2>&1)
    built=$("$DOCKER" run --rm --platform linux/arm64 --entrypoint cat "$MULTI_IMAGE" /etc/built-on 2>&1)
    amd=$("$DOCKER" run --rm --platform linux/amd64 --entrypoint cat "$MULTI_IMAGE" /etc/built-on 2>&1)
    if [ "$platforms" = "linux/amd64 linux/arm64 " ] && [ "$arm" = "hello from aarch64" ] \
      && [ "$built" = aarch64 ] && [ "$amd" = x86_64 ]; then
      pass "--platform linux/amd64,linux/arm64 --push: an index of both; each run step ran on its platform; arm64 runs under emulation"
    else
      fail "multi-platform build" "platforms: $platforms; arm64 run: $arm; built on: $built / $amd"
    fi
  else
    fail "multi-platform build"; log_tail bx-multi
  fi
  # A builder index without the target platform (here amd64 and its attestation) is named.
  AMD_BUILDER=$REGISTRY/flotilla-e2e/bx-amd64-builder:$RUN_ID
  if "$DOCKER" buildx build -q --platform linux/amd64 --provenance=true -t "$AMD_BUILDER" --push "$MULTI/builder" >/dev/null 2>&1; then
    expect_refused bx-multi-wrong "$MULTI" "prebuilt builder image $AMD_BUILDER is for other platforms only, not the target platform linux/arm64" \
      "a prebuilt builder index without the target platform: named" \
      --platform linux/arm64 --build-arg "BUILDER_IMAGE=$AMD_BUILDER" -t "$MULTI_IMAGE-never"
  else
    fail "an amd64-only builder index"
  fi
else
  fail "multi-platform builder image" "$(tail -n 3 "$WORK/bx-multi-builder.log")"
fi

# 4. Directories a copy with a mode creates (the other engine's run checks the same).
modes_of_created_dirs bx-modes "$MULTI_BUILDER"

# 5. Registry cache for runners that share nothing: export the compile's cache, prune every
# cache, import it: the compile is not run again (its vertex is CACHED).
CACHE_REF=$REGISTRY/flotilla-e2e/bx-cache:$RUN_ID
COMPILE="[builder] cargo build --locked --profile release --bin hello --bin hello-gateway"
if build bx-cache-to "$BX" --target artifact --cache-to "type=registry,ref=$CACHE_REF,mode=max" -t flotilla-e2e/bx-cache; then
  "$DOCKER" rmi flotilla-e2e/bx-cache >/dev/null 2>&1
  "$DOCKER" buildx prune -af >/dev/null 2>&1
  if build bx-cache-from "$BX" --target artifact --cache-from "type=registry,ref=$CACHE_REF" -t flotilla-e2e/bx-cache; then
    if ran_from_cache bx-cache-from "$COMPILE" && log_has bx-cache-from "importing cache manifest from $CACHE_REF"; then
      pass "registry cache: after a prune, --cache-from imports the compile (CACHED, cargo not run)"
    else
      fail "registry cache: the compile after a prune"; log_tail bx-cache-from
    fi
  else
    fail "registry cache: build from the cache"; log_tail bx-cache-from
  fi
else
  fail "registry cache: build with --cache-to"; log_tail bx-cache-to
fi

# 6. Errors show their spec line: a failing run step through BuildKit's own source map, a spec
# error at its line; buildx's vcs:* options (a git context) draw no 'ignoring' warning.
ERR=$(spec_dir bx-errors)
sed -i 's|^    entrypoint: \[hello\]|    entrypoint: [hello]\n    run: ["echo about to fail; exit 3"]|' "$ERR/flotilla.yaml"
line=$(grep -n 'about to fail' "$ERR/flotilla.yaml" | cut -d: -f1)
(cd "$ERR" && git init -q && git add -A && git -c user.email=e2e@flotilla -c user.name=e2e commit -qm e2e)
if build bx-step-fails "$ERR" --target hello --build-arg "BUILDER_IMAGE=$BX_ARTIFACT" -t flotilla-e2e/never; then
  fail "a failing run step: the build succeeded"
elif grep -qE "^ +$line \| >>> .*about to fail" "$WORK/bx-step-fails.log" && ! grep -qE '^ +1 \| >>> # syntax' "$WORK/bx-step-fails.log" \
  && log_has bx-step-fails "failed to solve: flotilla.yaml:$line:"; then
  pass "a failing run step: buildx shows spec line $line, not the syntax line"
else
  fail "a failing run step: snippet"; log_tail bx-step-fails
fi
if log_has bx-step-fails "ignoring"; then
  fail "vcs:* options: a warning was printed" "$(grep -F ignoring "$WORK/bx-step-fails.log" | head -n 2)"
else
  pass "vcs:* options of a git context: no 'ignoring options' warning"
fi
sed -i 's|^    entrypoint: \[hello\]|    entrpoint: [hello]|' "$ERR/flotilla.yaml"
line=$(grep -n 'entrpoint' "$ERR/flotilla.yaml" | cut -d: -f1)
if build bx-spec-error "$ERR" --target hello -t flotilla-e2e/never; then
  fail "a spec error: the build succeeded"
elif grep -qE "^ +$line \| >>> +entrpoint" "$WORK/bx-spec-error.log"; then
  pass "a spec error: buildx shows spec line $line"
else
  fail "a spec error: snippet"; log_tail bx-spec-error
fi

# 7. Attestations: provenance (mode=max) names the frontend image and the build args; --sbom
# fails before anything is built, naming the scanner image BuildKit cannot pull here (never a
# silent ignore).
PROV=$REGISTRY/flotilla-e2e/bx-prov:$RUN_ID
if build bx-prov "$BX" --target gateway --provenance=mode=max --build-arg "BUILDER_IMAGE=$BX_ARTIFACT" -t "$PROV" --push; then
  "$DOCKER" buildx imagetools inspect "$PROV" --format '{{json .Provenance}}' >"$WORK/bx-prov.json" 2>&1
  summary=$(python3 - "$WORK/bx-prov.json" <<'PY'
import json, sys
params = json.load(open(sys.argv[1]))["SLSA"]["invocation"]["parameters"]
args = params.get("args", {})
print(params.get("frontend"), args.get("source"), args.get("build-arg:BUILDER_IMAGE", "").split("/")[-1].split(":")[0])
PY
  )
  if [ "$summary" = "gateway.v0 $FRONTEND bx-artifact" ]; then
    pass "--provenance=mode=max: names the frontend (gateway.v0, $FRONTEND) and the build args"
  else
    fail "provenance" "$summary"
  fi
else
  fail "provenance build"; log_tail bx-prov
fi
expect_refused bx-sbom "$BX" "option attest:sbom (--sbom): BuildKit scans the image with docker/buildkit-syft-scanner:stable-1, which cannot be resolved" \
  "--sbom: a clear error naming the SBOM scanner image it cannot pull" \
  --target gateway --sbom=true --build-arg "BUILDER_IMAGE=$BX_ARTIFACT"
if log_has bx-sbom "[gateway "; then
  fail "--sbom: a variant step ran before the scanner was found missing"
fi

# 8. Reproducible images: with SOURCE_DATE_EPOCH, created dates are the epoch, and two --no-cache
# builds exported with rewrite-timestamp give the same manifest digest (a third build without it
# does not, so the run step's files really are dated by the build).
digests=()
for run in 1 2 plain; do
  epoch=$EPOCH; [ "$run" = plain ] && epoch=
  if SOURCE_DATE_EPOCH=$epoch build "bx-sde-$run" "$MULTI" --no-cache --build-arg "BUILDER_IMAGE=$MULTI_BUILDER" \
    --output "type=oci,dest=$WORK/bx-sde-$run.tar,rewrite-timestamp=true"; then
    digests+=("$(tar -xOf "$WORK/bx-sde-$run.tar" index.json | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifests"][0]["digest"])')")
  else
    fail "SOURCE_DATE_EPOCH build $run"; log_tail "bx-sde-$run"
  fi
done
if [ ${#digests[@]} = 3 ] && [ "${digests[0]}" = "${digests[1]}" ] && [ "${digests[0]}" != "${digests[2]}" ]; then
  pass "SOURCE_DATE_EPOCH + rewrite-timestamp: two --no-cache builds give one digest (${digests[0]:0:19}…)"
else
  fail "SOURCE_DATE_EPOCH: digests" "${digests[*]}"
fi
SOURCE_DATE_EPOCH=$EPOCH epoch_dates bx-epoch
