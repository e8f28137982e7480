# shellcheck shell=bash
# The compile subgraph on tests/fixtures/multi (two cargo projects with registry dependencies):
# features, the dependency layer, .dockerignore, prebuilt builder layouts and their checks.

MULTI=$(spec_dir multi "$ROOT/tests/fixtures/multi")
# A large file in an ignored directory: if .dockerignore were not honoured it would be sent.
head -c 3000000 /dev/urandom >"$MULTI/ignored/blob.bin"

# 1. Both projects compile, with the root project's feature and their registry dependencies.
if build multi-app "$MULTI" --target app -t flotilla-e2e/multi-app \
  && build multi-tool "$MULTI" --target tool -t flotilla-e2e/multi-tool; then
  app=$("$DOCKER" run --rm flotilla-e2e/multi-app 2>&1)
  tool=$("$DOCKER" run --rm flotilla-e2e/multi-tool 2>&1)
  if [ "$app" = "HELLO FROM APP, NUMBER 42" ] && [ "$tool" = "tool 7" ]; then
    pass "two cargo projects: features and registry dependencies compiled, both variants run"
  else
    fail "two cargo projects" "app: $app; tool: $tool"
  fi
  if log_has multi-app "(dependencies only)" && log_has multi-app "[builder:tool] load Cargo manifests"; then
    pass "each project has its own dependency layer"
  else
    fail "each project has its own dependency layer"; log_tail multi-app
  fi
else
  fail "two cargo projects: build"; log_tail multi-app; log_tail multi-tool
fi

# 2. .dockerignore: the broken manifest and the 3 MB blob in ignored/ never reach the build.
sent=$(grep -Eo 'transferring context: [0-9.]+[kMG]?B' "$WORK/multi-app.log" | awk '{print $3}' | sort -h | tail -n 1)
if [ -n "$sent" ] && [[ $sent != *MB ]] && [[ $sent != *GB ]]; then
  pass ".dockerignore honoured: largest context transfer $sent, the 3 MB ignored blob was not sent"
else
  fail ".dockerignore honoured" "largest context transfer: ${sent:-none}"
fi

# 3. Editing one line of one crate rebuilds no dependency and fetches nothing (the edit is
# unique to this run, so no earlier run's cache can answer it).
sed -i "s/hello from app/edit $RUN_ID from app/" "$MULTI/crates/greet/src/lib.rs"
if build multi-edit "$MULTI" --target app -t flotilla-e2e/multi-app; then
  out=$("$DOCKER" run --rm flotilla-e2e/multi-app 2>&1)
  deps_vertex=$(grep -F '(dependencies only)' "$WORK/multi-edit.log" | grep -F '[builder]' | head -n 1 | cut -d' ' -f1)
  if [ "$out" = "EDIT $RUN_ID FROM APP, NUMBER 42" ] && grep -qx "$deps_vertex CACHED" "$WORK/multi-edit.log" \
    && log_has multi-edit "Compiling greet" && ! log_has multi-edit "Compiling itoa" \
    && ! log_has multi-edit "Downloaded"; then
    pass "one-line edit: dependency layer cached, no dependency rebuilt or fetched, change shipped"
  else
    fail "one-line edit" "output: $out; deps vertex: $deps_vertex"
    grep -E "^$deps_vertex |Compiling|Download" "$WORK/multi-edit.log" | sed 's/^/     | /'
  fi
else
  fail "one-line edit: build"; log_tail multi-edit
fi

# 4. Cargo succeeding without producing a binary is named.
NOBIN=$(spec_dir nobin "$ROOT/tests/fixtures/multi")
sed -i 's|^  cargo: { features: \[shout\] }|  cargo: { features: [shout], args: [--target, x86_64-unknown-linux-gnu] }|' "$NOBIN/flotilla.yaml"
expect_refused nobin "$NOBIN" "flotilla: cargo build did not produce these binaries: app" \
  "a binary cargo did not produce is named" --target app

# 5. A full builder image laid out like a Dockerfile build (/build/target/release) as BUILDER_IMAGE.
MULTI_ARTIFACT=$REGISTRY/flotilla-e2e/multi-artifact:$RUN_ID
SEED=$REGISTRY/flotilla-e2e/multi-seed:$RUN_ID
SEED_BAD=$REGISTRY/flotilla-e2e/multi-seed-bad:$RUN_ID
mkdir -p "$WORK/seed"
printf 'FROM %s AS artifact\nFROM busybox:latest\nCOPY --from=artifact /flotilla/bin/ /build/target/release/\n' \
  "$MULTI_ARTIFACT" >"$WORK/seed/Dockerfile"
printf 'FROM %s\nRUN chmod -x /build/target/release/tool\n' "$SEED" >"$WORK/seed/Dockerfile.bad"
if build multi-artifact "$MULTI" --target artifact -t "$MULTI_ARTIFACT" \
  && "$DOCKER" build -q -t "$SEED" "$WORK/seed" >/dev/null 2>"$WORK/seed.log" \
  && "$DOCKER" build -q -f "$WORK/seed/Dockerfile.bad" -t "$SEED_BAD" "$WORK/seed" >/dev/null 2>>"$WORK/seed.log"; then
  SEEDSPEC=$(spec_dir seedspec "$ROOT/tests/fixtures/multi")
  sed -i 's|^  image: rust:1-bookworm|  image: rust:1-bookworm\n  prebuilt_path: /build/target/release|' "$SEEDSPEC/flotilla.yaml"
  if build seed-tool "$SEEDSPEC" --target tool --build-arg "BUILDER_IMAGE=$SEED" -t flotilla-e2e/seed-tool; then
    out=$("$DOCKER" run --rm flotilla-e2e/seed-tool 2>&1)
    if [ "$out" = "tool 7" ] && ! log_has seed-tool "cargo"; then
      pass "prebuilt builder image with binaries at prebuilt_path /build/target/release"
    else
      fail "prebuilt builder image at prebuilt_path" "output: $out"; log_tail seed-tool
    fi
  else
    fail "prebuilt builder image at prebuilt_path: build"; log_tail seed-tool
  fi
  # 6. A prebuilt binary that is not executable is refused before any variant layer.
  expect_refused seed-bad "$SEEDSPEC" \
    "prebuilt builder image $SEED_BAD lacks binaries the target needs under /build/target/release: tool (not executable)" \
    "non-executable prebuilt binary: one clear error" --target tool --build-arg "BUILDER_IMAGE=$SEED_BAD"
else
  fail "building the seed-style builder images" "$(tail -n 5 "$WORK/seed.log")"; log_tail multi-artifact
fi

# 7. Two builds at once on one daemon share the locked cargo caches without corrupting them.
build conc-app "$MULTI" --target app --no-cache -t flotilla-e2e/conc-app &
app_job=$!
build conc-tool "$MULTI" --target tool --no-cache -t flotilla-e2e/conc-tool &
tool_job=$!
if wait "$app_job" && wait "$tool_job" \
  && [ "$("$DOCKER" run --rm flotilla-e2e/conc-app 2>&1)" = "EDIT $RUN_ID FROM APP, NUMBER 42" ] \
  && [ "$("$DOCKER" run --rm flotilla-e2e/conc-tool 2>&1)" = "tool 7" ]; then
  pass "two concurrent uncached builds on one daemon both succeed and run"
else
  fail "two concurrent builds"; log_tail conc-app; log_tail conc-tool
fi
