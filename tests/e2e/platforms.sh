# shellcheck shell=bash
# Platforms: an arm64 copy-only variant (base and artifact pulled from the registry) gives an
# image whose config says arm64; several platforms on Docker's image store fail in one line.

# push_arm64_base NAME: an arm64 base as NAME:1 in the registry. Docker 26's busybox:latest holds
# arm64; for Docker 20.10, busybox's layer is pushed under an arm64 image config by the registry
# API (this machine can pull nothing from Docker Hub, and `docker import --platform` keeps amd64).
push_arm64_base() {
  local name=$1 dir=$WORK/arm64-base registry=http://127.0.0.1:5000
  if [ "$ENGINE" = 26 ]; then # the bed's busybox:latest holds linux/arm64 there
    "$DOCKER" tag busybox:latest "$REGISTRY/$name:1" && "$DOCKER" push -q "$REGISTRY/$name:1" >/dev/null
    return
  fi
  saved_layers busybox:latest "$dir" || return 1
  local config
  gzip -n -c "$dir/layer-000.tar" >"$dir/layer.tar.gz"
  config=$dir/image/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["Config"])' "$dir/image/manifest.json")
  python3 - "$config" >"$dir/config.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["architecture"] = "arm64"
config.pop("variant", None)
print(json.dumps(config), end="")
PY
  upload() { # upload FILE → prints its digest
    local digest location
    digest="sha256:$(sha256sum "$1" | cut -d' ' -f1)"
    location=$(curl -fsS -X POST -D - -o /dev/null "$registry/v2/$name/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')
    case $location in http*) ;; *) location=$registry$location ;; esac
    case $location in *\?*) location="$location&digest=$digest" ;; *) location="$location?digest=$digest" ;; esac
    curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$1" "$location" >/dev/null
    printf '%s' "$digest"
  }
  local layer_digest config_digest
  layer_digest=$(upload "$dir/layer.tar.gz")
  config_digest=$(upload "$dir/config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":%s,"digest":"%s"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":%s,"digest":"%s"}]}' \
    "$(stat -c %s "$dir/config.json")" "$config_digest" "$(stat -c %s "$dir/layer.tar.gz")" "$layer_digest" >"$dir/manifest.json"
  curl -fsS -X PUT -H 'Content-Type: application/vnd.docker.distribution.manifest.v2+json' \
    --data-binary "@$dir/manifest.json" "$registry/v2/$name/manifests/1" >/dev/null
}

HELLO=$(spec_dir platforms-hello)
ARM_BASE=flotilla-e2e/arm64-base-$RUN_ID
# The prebuilt builder must be an arm64 image too (one for amd64 is refused): a scratch one.
ARM_ARTIFACT=$REGISTRY/flotilla-e2e/platforms-artifact:$RUN_ID
ARM=$(spec_dir platforms)
sed -i "s|from: debian:bookworm-slim|from: $REGISTRY/$ARM_BASE:1|" "$ARM/flotilla.yaml"
if push_arm64_base "$ARM_BASE" 2>"$WORK/arm64-base.log" \
  && scratch_builder "$ARM_ARTIFACT" linux/arm64 0755 \
  && "$DOCKER" push "$ARM_ARTIFACT" >/dev/null 2>&1 && "$DOCKER" rmi "$ARM_ARTIFACT" >/dev/null 2>&1; then
  if build arm64 "$ARM" --target hello --platform linux/arm64 --build-arg "BUILDER_IMAGE=$ARM_ARTIFACT" -t flotilla-e2e/hello-arm64; then
    config=$("$DOCKER" image inspect -f '{{.Os}}/{{.Architecture}} {{json .Config.Entrypoint}}' flotilla-e2e/hello-arm64)
    files=$("$DOCKER" image inspect -f '{{len .RootFS.Layers}}' flotilla-e2e/hello-arm64)
    if [ "$config" = 'linux/arm64 ["hello"]' ] && [ "$files" -ge 2 ] && ! log_has arm64 "cargo"; then
      pass "arm64 copy-only variant: image config says linux/arm64, binary layer on the arm64 base"
    else
      fail "arm64 copy-only variant" "config: $config; layers: $files"
    fi
  else
    fail "arm64 copy-only variant: build"; log_tail arm64
  fi
else
  fail "arm64 base image and artifact in the registry" "$(tail -n 3 "$WORK/arm64-base.log" "$WORK/scratch-builders.log")"
fi

# A per-platform result (refs.platforms) with one entry, which every image store takes.
# (A list of platforms never reaches the frontend here: Docker 20.10's CLI refuses it itself.)
if build one-entry-map "$HELLO" --target gateway --build-arg BUILDKIT_MULTI_PLATFORM=1 -t flotilla-e2e/gateway-map; then
  out=$("$DOCKER" run --rm flotilla-e2e/gateway-map 2>&1)
  arch=$("$DOCKER" image inspect -f '{{.Os}}/{{.Architecture}}' flotilla-e2e/gateway-map)
  if [ "$out" = "hello-gateway ready (RUST_LOG=info)" ] && [ "$arch" = linux/amd64 ]; then
    pass "per-platform result (refs.platforms, one entry): exported by Docker $ENGINE and runs"
  else
    fail "per-platform result" "output: $out; platform: $arch"
  fi
else
  fail "per-platform result: build"; log_tail one-entry-map
fi
