# shellcheck shell=bash
# Concurrency on one daemon: every target of examples/hello built at once (one compile, on the
# shared locked cargo cache mounts) gives the images sequential builds give; a build whose
# client is killed mid-compile leaves the next build correct.

CONC=$(spec_dir concurrency)
# An edit unique to this run, so the compile really runs instead of coming from the cache.
sed -i "s/hello from {who}/concurrent $RUN_ID from {who}/" "$CONC/crates/hello/src/main.rs"
CONC_TARGETS=(hello gateway artifact)

# 1. All targets at once, then one after another: same image ids (the config has no build time).
pids=()
for target in "${CONC_TARGETS[@]}"; do
  build "conc-$target" "$CONC" --target "$target" -t "flotilla-e2e/conc-$target" &
  pids+=($!)
done
concurrent_ok=true
for pid in "${pids[@]}"; do wait "$pid" || concurrent_ok=false; done
if $concurrent_ok; then
  declare -A concurrent_ids=()
  for target in "${CONC_TARGETS[@]}"; do
    concurrent_ids[$target]=$("$DOCKER" image inspect -f '{{.Id}}' "flotilla-e2e/conc-$target")
  done
  out=$("$DOCKER" run --rm flotilla-e2e/conc-hello 2>&1)
  if [ "$out" = "concurrent $RUN_ID from flotilla (x86_64)" ]; then
    pass "concurrent builds of ${CONC_TARGETS[*]} succeed; the hello image runs the new code"
  else
    fail "concurrent builds: hello image" "output: $out"
  fi
  differing=()
  for target in "${CONC_TARGETS[@]}"; do
    if build "seq-$target" "$CONC" --target "$target" -t "flotilla-e2e/seq-$target"; then
      id=$("$DOCKER" image inspect -f '{{.Id}}' "flotilla-e2e/seq-$target")
      [ "$id" = "${concurrent_ids[$target]}" ] || differing+=("$target: ${concurrent_ids[$target]} then $id")
    else
      differing+=("$target: sequential build failed")
    fi
  done
  if [ ${#differing[@]} -eq 0 ]; then
    pass "sequential builds give the same image ids as the concurrent ones"
  else
    fail "concurrent and sequential image ids" "${differing[*]}"
  fi
else
  fail "concurrent builds of ${CONC_TARGETS[*]}"
  for target in "${CONC_TARGETS[@]}"; do log_tail "conc-$target"; done
fi

# 2. The client is killed once the compile step starts; the next build succeeds and runs.
sed -i "s/concurrent $RUN_ID/cancelled $RUN_ID/" "$CONC/crates/hello/src/main.rs"
"$DOCKER" build --progress=plain -f "$CONC/flotilla.yaml" --target hello -t flotilla-e2e/conc-cancel "$CONC" \
  >"$WORK/cancel.log" 2>&1 &
client=$!
touch "$WORK/cancel.log"
compile_started=false
while kill -0 "$client" 2>/dev/null; do
  if grep -qE '^#[0-9]+ \[builder\] cargo build .*hello-gateway$' "$WORK/cancel.log"; then
    kill -KILL "$client" && compile_started=true
    break
  fi
  sleep 0.1
done
wait "$client" 2>/dev/null
if $compile_started && ! log_has cancel "naming to"; then
  if build cancel-again "$CONC" --target hello -t flotilla-e2e/conc-cancel; then
    out=$("$DOCKER" run --rm flotilla-e2e/conc-cancel 2>&1)
    if [ "$out" = "cancelled $RUN_ID from flotilla (x86_64)" ]; then
      pass "a build killed mid-compile leaves the next build correct: it compiles and runs the new code"
    else
      fail "build after a cancelled one" "output: $out"
    fi
  else
    fail "build after a cancelled one"; log_tail cancel-again
  fi
else
  fail "cancelling a build mid-compile: the compile step never started, or it finished first"; log_tail cancel
fi
