# shellcheck shell=bash
# The compile subgraph on tests/fixtures/multi (two cargo projects with registry dependencies):
# features, the dependency layer, compile scope (a variant compiles only its binaries' projects,
# and edits outside every project's sources recompile nothing), .dockerignore, prebuilt builder
# layouts and their checks; and on two copies of examples/hello, two repositories' separate
# target dirs on one daemon.

MULTI=$(spec_dir multi "$ROOT/tests/fixtures/multi")
# A large file in an ignored directory: if .dockerignore were not honoured it would be sent.
head -c 3000000 /dev/urandom >"$MULTI/ignored/blob.bin"

# 1. Both projects compile, with the root project's feature and their registry dependencies; each
# variant, holding one project's binary, runs cargo for that project only.
if build multi-app "$MULTI" --target app -t flotilla-e2e/multi-app \
  && build multi-tool "$MULTI" --target tool -t flotilla-e2e/multi-tool; then
  app=$("$DOCKER" run --rm flotilla-e2e/multi-app 2>&1)
  tool=$("$DOCKER" run --rm flotilla-e2e/multi-tool 2>&1)
  if [ "$app" = "HELLO FROM APP, NUMBER 42" ] && [ "$tool" = "tool 7" ]; then
    pass "two cargo projects: features and registry dependencies compiled, both variants run"
  else
    fail "two cargo projects" "app: $app; tool: $tool"
  fi
  if log_has multi-app "(dependencies only)" && log_has multi-tool "[builder:tool] load Cargo manifests"; then
    pass "each project has its own dependency layer"
  else
    fail "each project has its own dependency layer"; log_tail multi-app
  fi
  app_stages=$(cargo_stages multi-app | tr '\n' ' ')
  tool_stages=$(cargo_stages multi-tool | tr '\n' ' ')
  if [ "$app_stages" = "[builder] " ] && [ "$tool_stages" = "[builder:tool] " ] \
    && ! log_has multi-app "[builder:tool]" \
    && ! grep -E '^#[0-9]+ \[builder\] ' "$WORK/multi-tool.log" | grep -qv '^#[0-9]* \[builder\] FROM '; then
    pass "a variant with one project's binary has no vertex of the other project"
  else
    fail "compile scope" "cargo in app: $app_stages; in tool: $tool_stages"
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

# 2b. The manifest scan sends manifests only: a 50 MB file in target/ and one in a directory of
# no project (neither in .dockerignore) are never sent, though Docker 20.10's client sends every
# file that an include pattern matches a prefix of.
mkdir -p "$MULTI/target" "$MULTI/docs/deep"
head -c 50000000 /dev/urandom >"$MULTI/target/big.bin"
cp "$MULTI/target/big.bin" "$MULTI/docs/deep/big.bin"
if build multi-scan "$MULTI" --target app -t flotilla-e2e/multi-app; then
  sent=$(grep -Eo 'transferring context: [0-9.]+[kMG]?B' "$WORK/multi-scan.log" | awk '{print $3}' | sort -h | tail -n 1)
  if log_has multi-scan "load Cargo manifests" && [ -n "$sent" ] && [[ $sent != *MB ]] && [[ $sent != *GB ]] \
    && [ "$("$DOCKER" run --rm flotilla-e2e/multi-app 2>&1)" = "HELLO FROM APP, NUMBER 42" ]; then
    pass "manifest scan: two 50 MB files outside the projects never sent (largest transfer $sent)"
  else
    fail "manifest scan sends manifests only" "largest context transfer: ${sent:-none}"
  fi
else
  fail "manifest scan: build"; log_tail multi-scan
fi
rm -rf "$MULTI/target" "$MULTI/docs"

# 3. Editing one line of one library member rebuilds that crate and its dependents only, as cargo
# does in a warm target dir: greet and app, not the other member digits, no dependency, nothing
# fetched (the edit is unique to this run, so no earlier run's cache can answer it). A first
# edit brings the target-dir cache up to this copy of the fixture: on a daemon that ran the suite
# before, the first build answered from its cache, and the cache's records are of another copy's
# files (whose modification times differ), which cargo rightly rebuilds once.
sed -i "s/hello from app/warm $RUN_ID from app/" "$MULTI/crates/greet/src/lib.rs"
build multi-warm "$MULTI" --target app -t flotilla-e2e/multi-app || { fail "one-line edit: warm-up build"; log_tail multi-warm; }
sed -i "s/warm $RUN_ID from app/edit $RUN_ID from app/" "$MULTI/crates/greet/src/lib.rs"
if build multi-edit "$MULTI" --target app -t flotilla-e2e/multi-app; then
  out=$("$DOCKER" run --rm flotilla-e2e/multi-app 2>&1)
  deps_vertex=$(grep -F '(dependencies only)' "$WORK/multi-edit.log" | grep -F '[builder]' | head -n 1 | cut -d' ' -f1)
  compiled=$(grep -oE ' Compiling [a-z_-]+' "$WORK/multi-edit.log" | awk '{print $2}' | LC_ALL=C sort | tr '\n' ' ')
  if [ "$out" = "EDIT $RUN_ID FROM APP, NUMBER 42" ] && grep -qx "$deps_vertex CACHED" "$WORK/multi-edit.log" \
    && [ "$compiled" = "app greet " ] && ! log_has multi-edit "Downloaded"; then
    pass "one-line edit: only the edited crate and its dependent compiled (app greet), dependency layer cached, nothing fetched, change shipped"
  else
    fail "one-line edit" "output: $out; deps vertex: $deps_vertex; compiled: $compiled"
    grep -E "^$deps_vertex |Compiling|Download" "$WORK/multi-edit.log" | sed 's/^/     | /'
  fi
else
  fail "one-line edit: build"; log_tail multi-edit
fi

# 3b. Files outside every project's sources (the tool project's README, a new file at the root,
# the spec) change, and a source of the root project only: tool compiles nothing at all, and
# app's dependency layer stays cached.
echo "notes $RUN_ID" >"$MULTI/NOTES.md"
echo "tool readme $RUN_ID" >"$MULTI/tool/README.md"
echo "# edited $RUN_ID" >>"$MULTI/flotilla.yaml"
if build multi-outside "$MULTI" --target tool -t flotilla-e2e/multi-tool \
  && [ "$("$DOCKER" run --rm flotilla-e2e/multi-tool 2>&1)" = "tool 7" ]; then
  if problem=$(compiles_cached multi-outside); then
    pass "editing files outside every project's sources leaves every compile step cached"
  else
    fail "edits outside the sources recompiled" "$problem"
  fi
else
  fail "edits outside the sources: build or run"; log_tail multi-outside
fi

# 4. Cargo succeeding without producing a binary is named.
NOBIN=$(spec_dir nobin "$ROOT/tests/fixtures/multi")
sed -i 's|^  cargo: { features: \[shout\] }|  cargo: { features: [shout], env: { CARGO_BUILD_TARGET: x86_64-unknown-linux-gnu } }|' "$NOBIN/flotilla.yaml"
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

# 8. Two unrelated repositories on one daemon keep their own cargo target dirs. A is
# examples/hello, B a copy whose packages and binaries are renamed `howdy`; each gets a greeting
# unique to this run, so both compile for real. B's compile makes a target-dir cache mount of
# its own (the daemon's build cache records the compile that made each one), and A, built again
# after B, is answered whole from the cache.

# target_dir_mounts BINARY: how many target-dir cache mounts on the daemon were made by a
# compile that builds BINARY (`--bin BINARY` in its argv). The root project's target dir is
# /flotilla/target (every project's, in its own cache mount).
target_dir_mounts() {
  "$DOCKER" system df -v --format '{{json .BuildCache}}' | python3 -c '
import json, re, sys
made_by = re.compile(" --bin " + re.escape(sys.argv[1]) + "( |$)")
print(sum(1 for record in json.load(sys.stdin) or []
          if record["CacheType"] == "exec.cachemount"
          and record["Description"].startswith("cached mount /flotilla/target")
          and made_by.search(record["Description"])))' "$1"
}

REPO_A=$(spec_dir repo-a)
REPO_B=$(spec_dir repo-b)
sed -i "s/hello from {who}/repo-a $RUN_ID from {who}/" "$REPO_A/crates/hello/src/main.rs"
sed -i "s/hello from {who}/howdy $RUN_ID from {who}/" "$REPO_B/crates/hello/src/main.rs"
sed -i 's/^name = "hello/name = "howdy/' "$REPO_B/Cargo.lock" "$REPO_B"/crates/*/Cargo.toml
sed -i -e 's/\[hello, hello-gateway\]/[howdy, howdy-gateway]/' -e 's/{ hello: /{ howdy: /' \
  -e 's/{ hello-gateway: /{ howdy-gateway: /' "$REPO_B/flotilla.yaml"
if build repo-a "$REPO_A" --target hello -t flotilla-e2e/repo-a \
  && build repo-b "$REPO_B" --target hello -t flotilla-e2e/repo-b \
  && build repo-a-again "$REPO_A" --target hello -t flotilla-e2e/repo-a-again; then
  a=$("$DOCKER" run --rm flotilla-e2e/repo-a 2>&1)
  b=$("$DOCKER" run --rm flotilla-e2e/repo-b 2>&1)
  a_again=$("$DOCKER" run --rm flotilla-e2e/repo-a-again 2>&1)
  if [ "$a" = "repo-a $RUN_ID from flotilla (x86_64)" ] && [ "$b" = "howdy $RUN_ID from flotilla (x86_64)" ] \
    && [ "$a_again" = "$a" ] && log_has repo-a "Compiling hello v0.1.0" && log_has repo-b "Compiling howdy v0.1.0"; then
    pass "two repositories on one daemon: both compile and their images run their own code"
  else
    fail "two repositories on one daemon" "repo A: $a; repo B: $b; repo A again: $a_again"
  fi
  mounts_a=$(target_dir_mounts hello)
  mounts_b=$(target_dir_mounts howdy)
  if [ "$mounts_a" -ge 1 ] && [ "$mounts_b" = 1 ]; then
    pass "the other repository's compile has a target-dir cache mount of its own"
  else
    fail "separate target-dir cache mounts" "made by hello's compile: $mounts_a; by howdy's: $mounts_b"
  fi
  compile=$(grep -E '^#[0-9]+ \[builder\] cargo build .*hello-gateway$' "$WORK/repo-a-again.log" | head -n 1 | cut -d' ' -f1)
  if [ -n "$compile" ] && grep -qx "$compile CACHED" "$WORK/repo-a-again.log" && ! log_has repo-a-again "Compiling"; then
    pass "repository A built again after B: its compile is cached"
  else
    fail "repository A built again after B: compile not cached" "compile vertex: ${compile:-none}"
    log_tail repo-a-again
  fi
else
  fail "two repositories on one daemon: build"; log_tail repo-a; log_tail repo-b; log_tail repo-a-again
fi
