# shellcheck shell=bash
# The affected-targets plan (`llb-gen targets --json --since REF`) on a git copy of examples/openab
# proves its skips safe: after each typical edit, every variant the plan skips, built anyway,
# gives the image ID it had before the edit. The variants copy their binaries from a stand-in
# artifact (three scripts), so nothing compiles and the edits judge the spec and the context.

AFFECTED=$(spec_dir affected "$ROOT/examples/openab")
AFFECTED_ARTIFACT=$REGISTRY/flotilla-e2e/affected-artifact:$RUN_ID
affected_git() { git -C "$AFFECTED" -c user.name=e2e -c user.email=e2e@flotilla -c commit.gpgsign=false "$@"; }
affected_variants=(claude gemini qwen copilot amp kiro cursor goose hermes agy bare)
declare -A AFFECTED_IDS=()

# affected_id VARIANT: builds VARIANT of the copy from the stand-in artifact and prints its id.
affected_id() {
  build "affected-$1" "$AFFECTED" --target "$1" --build-arg BUILDER_IMAGE="$AFFECTED_ARTIFACT" \
    -t "flotilla-e2e/affected-$1" >&2 && "$DOCKER" image inspect -f '{{.Id}}' "flotilla-e2e/affected-$1"
}

# affected_plan FIELD: the plan since the commit, in words: `built`, its variants then
# `artifact` when it compiles; `variants`; `skipped`, the skipped targets.
affected_plan() {
  "$LLB_GEN" targets "$AFFECTED/flotilla.yaml" --json --since HEAD | python3 -c '
import json, sys
plan, field = json.load(sys.stdin), sys.argv[1]
names = {
    "built": plan["variants"] + (["artifact"] if plan["core"]["include"] else []),
    "variants": plan["variants"],
    "skipped": [skipped["target"] for skipped in plan["skipped"]],
}
print(" ".join(names[field]))' "$1"
}

# affected_same VARIANT ID: whether VARIANT, built now, has the image ID it has without the
# edit. The daemon is shared: when another build pruned the cache since ID was taken, a step runs
# again and makes new layers, so a different id is checked again against a build without the
# edit made now (the edit is stashed meanwhile).
affected_same() {
  local variant=$1 before=$2 after again
  after=$(affected_id "$variant") || return 1
  [ "$after" = "$before" ] && return 0
  affected_git stash push -q -u && before=$(affected_id "$variant") && affected_git stash pop -q \
    && again=$(affected_id "$variant") || return 1
  AFFECTED_IDS[$variant]=$before
  [ "$again" = "$before" ]
}

# affected_case DESCRIPTION BUILT EDIT…: runs EDIT in the copy, checks that the plan builds
# exactly BUILT (variants, then `artifact` when it compiles), rebuilds every skipped variant and
# compares its id with the one before the edit; then undoes the edit.
affected_case() {
  local description=$1 want=$2; shift 2
  (cd "$AFFECTED" && "$@")
  local built
  built=$(affected_plan built)
  if [ "$built" != "$want" ]; then
    fail "affected: $description: the plan" "builds [$built], expected [$want]"
  else
    local differing=() skipped=0 variant
    for variant in $(affected_plan skipped); do
      [ "$variant" = artifact ] && continue
      skipped=$((skipped + 1))
      affected_same "$variant" "${AFFECTED_IDS[$variant]}" \
        || { differing+=("$variant: another image ID (or a failed build)"); log_tail "affected-$variant"; }
    done
    if [ ${#differing[@]} -eq 0 ]; then
      pass "affected: $description: builds [${want:-nothing}]; the $skipped skipped variants rebuilt give the same image IDs"
    else
      fail "affected: $description: a skipped variant's image changed" "${differing[*]}"
    fi
  fi
  affected_git reset -q --hard && affected_git clean -q -f -d
}

if ! cargo build -q --locked -p llb-gen --bin llb-gen 2>"$WORK/affected-cargo.log"; then
  fail "affected: cargo build llb-gen" "$(tail -n 3 "$WORK/affected-cargo.log")"
else
  LLB_GEN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/llb-gen
  mkdir -p "$WORK/affected-bin"
  for binary in openab openab-agent agy-acp; do
    printf '#!/bin/sh\necho %s\n' "$binary" >"$WORK/affected-bin/$binary" && chmod 755 "$WORK/affected-bin/$binary"
  done
  printf 'FROM scratch\nCOPY . /flotilla/bin/\n' >"$WORK/affected-bin/Dockerfile"
  affected_git init -q && affected_git add -A && affected_git commit -q -m openab
  if ! "$DOCKER" build -q -t "$AFFECTED_ARTIFACT" "$WORK/affected-bin" >/dev/null 2>"$WORK/affected-artifact.log" \
    || ! "$DOCKER" push -q "$AFFECTED_ARTIFACT" >/dev/null 2>>"$WORK/affected-artifact.log"; then
    fail "affected: the stand-in artifact" "$(tail -n 3 "$WORK/affected-artifact.log")"
  else
    # The image of every variant before any edit.
    baseline=()
    for variant in "${affected_variants[@]}"; do
      AFFECTED_IDS[$variant]=$(affected_id "$variant") || baseline+=("$variant")
    done
    if [ ${#baseline[@]} -gt 0 ]; then
      fail "affected: the variants before the edits" "not built: ${baseline[*]}"
    else
      affected_case "one variant's version arg" "claude" \
        sed -i 's/claude-code@2.1.330/claude-code@2.1.331/' flotilla.yaml
      affected_case "a run step of the abstract npm parent" "claude gemini qwen copilot amp" \
        sed -i 's/--no-fund --no-audit/--no-fund/' flotilla.yaml
      affected_case "openab-agent's lockfile" "hermes artifact" \
        sh -c 'echo "# edited" >>openab-agent/Cargo.lock'
      affected_case "a vendored tarball" "kiro cursor goose" sh -c 'echo x >vendor/NEW'
      affected_case "the README" "" sh -c 'echo edited >>README.md'
      affected_case "a spec comment that moves every line below it" "" \
        sed -i 's/^variants:$/variants:\n  # a comment\n  # that moves the lines below/' flotilla.yaml
      affected_case "a variant moved to the top of the spec" "" python3 -c '
text = open("flotilla.yaml").read()
head, bare = text.split("  bare:\n")
open("flotilla.yaml", "w").write(head.replace("variants:\n", "variants:\n  bare:\n" + bare, 1))'
      # The check has teeth: an edit the plan keeps a variant for changes that variant's image.
      echo "# edited" >>"$AFFECTED/config/config.toml"
      if [ "$(affected_plan variants)" = "${affected_variants[*]}" ] && id=$(affected_id bare) \
        && [ "$id" != "${AFFECTED_IDS[bare]}" ]; then
        pass "affected: the gateway's config (copied by every variant) builds every variant, and bare's image changes"
      else
        fail "affected: the gateway's config" "plan: $(affected_plan variants); bare: ${AFFECTED_IDS[bare]} then ${id:-}"
      fi
      affected_git reset -q --hard
    fi
  fi
fi
