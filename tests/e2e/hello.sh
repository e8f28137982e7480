# shellcheck shell=bash
# The walking skeleton on examples/hello: compile path, prebuilt path, artifact, clear errors.

HELLO=$(spec_dir hello)

# 1. Compile path: the hello variant compiles the workspace and runs.
if build hello "$HELLO" --target hello -t flotilla-e2e/hello; then
  out=$("$DOCKER" run --rm flotilla-e2e/hello 2>&1)
  if [ "$out" = "hello from flotilla (x86_64)" ] && log_has hello "cargo build --locked --profile release"; then
    pass "compile path: hello variant runs and the build ran cargo"
  else
    fail "compile path: hello variant" "output: $out"
  fi
else
  fail "compile path: hello variant build"; log_tail hello
fi

# 2. The gateway variant carries its env and cmd, and keeps the base image's PATH.
if build gateway "$HELLO" --target gateway -t flotilla-e2e/gateway; then
  out=$("$DOCKER" run --rm flotilla-e2e/gateway 2>&1)
  config=$("$DOCKER" image inspect -f '{{json .Config.Env}} {{json .Config.Cmd}} {{json .Config.Entrypoint}} {{.Os}}/{{.Architecture}}' flotilla-e2e/gateway)
  if [ "$out" = "hello-gateway ready (RUST_LOG=info)" ] \
    && [[ $config == *'"RUST_LOG=info"'* ]] && [[ $config == *'"PATH=/usr/local/sbin:'* ]] \
    && [[ $config == *'["hello-gateway"] null linux/amd64' ]]; then
    pass "gateway variant: env, cmd and PATH in the image config, runs"
  else
    fail "gateway variant" "output: $out; config: $config"
  fi
else
  fail "gateway variant build"; log_tail gateway
fi

# 3. The artifact target holds the binaries alone.
ARTIFACT=$REGISTRY/flotilla-e2e/hello-artifact:$RUN_ID
if build artifact "$HELLO" --target artifact -t "$ARTIFACT"; then
  saved_layers "$ARTIFACT" "$WORK/artifact"
  files=$(layer_paths "$WORK/artifact" | grep -v '/$' | sort | tr '\n' ' ')
  layers=$("$DOCKER" image inspect -f '{{len .RootFS.Layers}}' "$ARTIFACT")
  if [ "$files" = "flotilla/bin/hello flotilla/bin/hello-gateway " ] && [ "$layers" = 1 ]; then
    pass "artifact target: one layer holding only /flotilla/bin/{hello,hello-gateway}"
  else
    fail "artifact target content" "files: $files; layers: $layers"
  fi
else
  fail "artifact target build"; log_tail artifact
fi

# 4. With a prebuilt builder (the artifact, pulled from the registry) nothing compiles.
if "$DOCKER" push "$ARTIFACT" >"$WORK/push.log" 2>&1 && "$DOCKER" rmi "$ARTIFACT" >/dev/null 2>&1; then
  for variant in hello gateway; do
    if build "prebuilt-$variant" "$HELLO" --target "$variant" --build-arg "BUILDER_IMAGE=$ARTIFACT" -t "flotilla-e2e/prebuilt-$variant"; then
      out=$("$DOCKER" run --rm "flotilla-e2e/prebuilt-$variant" 2>&1)
      if ! log_has "prebuilt-$variant" "cargo" && ! log_has "prebuilt-$variant" "rust:1-bookworm" \
        && log_has "prebuilt-$variant" "(prebuilt)" && [[ $out == hello* ]]; then
        pass "prebuilt path ($variant): no cargo step, no toolchain image, image runs"
      else
        fail "prebuilt path ($variant)" "output: $out"; log_tail "prebuilt-$variant"
      fi
    else
      fail "prebuilt path ($variant) build"; log_tail "prebuilt-$variant"
    fi
  done
else
  fail "pushing the artifact to the registry" "$(tail -n 3 "$WORK/push.log")"
fi

# 5. A prebuilt image without the binaries is refused before any variant layer runs.
expect_refused prebuilt-missing "$HELLO" \
  "prebuilt builder image docker.io/library/busybox:latest lacks binaries the target needs under /flotilla/bin: hello (missing)" \
  "prebuilt image without the binaries: one clear error" \
  --target hello --build-arg BUILDER_IMAGE=busybox:latest
if log_has prebuilt-missing "[hello 2/2]"; then
  fail "prebuilt image without the binaries: a variant layer ran"
fi

# 6. An unknown target names the available ones.
expect_refused unknown-target "$HELLO" \
  'unknown target `nope`; available targets: hello, gateway, artifact' \
  "unknown target: clear message listing the targets" --target nope

# 7. A spec with an unknown key is refused with file, line and column.
BAD=$(spec_dir bad-key)
sed -i 's/^    entrypoint: \[hello\]/    entrpoint: [hello]/' "$BAD/flotilla.yaml"
line=$(grep -n 'entrpoint' "$BAD/flotilla.yaml" | cut -d: -f1)
expect_refused bad-key "$BAD" "flotilla.yaml:$line:5: unknown field \`entrpoint\`" \
  "unknown spec key: flotilla.yaml:$line:5 named in the error" --target hello

