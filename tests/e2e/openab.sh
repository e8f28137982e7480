# shellcheck shell=bash
# examples/openab, the product's reason to exist: the workspace (three cargo projects, real
# dependencies) compiled once into the artifact, then every variant built from that artifact as a
# prebuilt ref with no compile op, run and inspected.

OPENAB=$(spec_dir openab "$ROOT/examples/openab")
OPENAB_ARTIFACT=$REGISTRY/flotilla-e2e/openab-artifact:$RUN_ID

# openab_build NAME [docker build args…]: a build of examples/openab.
openab_build() { local name=$1; shift; build "openab-$name" "$OPENAB" "$@"; }
# config_of IMAGE FORMAT: a field of an image's config.
config_of() { "$DOCKER" image inspect -f "$2" "$1"; }

# 1. The compile path: the artifact holds the three binaries of the three projects, and nothing else.
# Its checks count compiles, so the daemon starts with no build cache: one that built openab
# before (a developer's bed, a CI machine's image) holds some of its dependency layers.
"$DOCKER" builder prune -af >/dev/null
if openab_build artifact --target artifact -t "$OPENAB_ARTIFACT" && "$DOCKER" push -q "$OPENAB_ARTIFACT" >/dev/null; then
  saved_layers "$OPENAB_ARTIFACT" "$WORK/openab-artifact"
  files=$(layer_paths "$WORK/openab-artifact" | sort | tr '\n' ' ')
  if [ "$files" = "flotilla/ flotilla/bin/ flotilla/bin/agy-acp flotilla/bin/openab flotilla/bin/openab-agent " ]; then
    pass "openab artifact: openab, openab-agent and agy-acp from three cargo projects, nothing else"
  else
    fail "openab artifact content" "$files"
  fi
  if log_has openab-artifact "[builder:openab-agent] cargo build" && log_has openab-artifact "[builder:agy-acp] cargo build" \
    && log_has openab-artifact "--features unified --bin openab (dependencies only)"; then
    pass "openab artifact: each project has a dependency layer; the root builds with --features unified"
  else
    fail "openab artifact: project builds"; log_tail openab-artifact
  fi
  # openab-agent and agy-acp pin mostly the root's crates: their dependency builds start from
  # the root's, so syn 3, which all three compile alike, is compiled once (three times when each
  # project compiles alone).
  syn=$(grep -c "Compiling syn v3\." "$WORK/openab-artifact.log")
  if [ "$syn" = 1 ]; then
    pass "openab artifact: the three projects compile their shared dependencies once"
  else
    fail "openab artifact: shared dependencies compiled $syn times"; log_tail openab-artifact
  fi
  # Editing the spec (here: a new comment) leaves the compile cached: the spec is not in its context.
  echo "# edited $RUN_ID" >>"$OPENAB/flotilla.yaml"
  if openab_build artifact-again --target artifact -t "$OPENAB_ARTIFACT" && ! log_has openab-artifact-again "Compiling"; then
    pass "openab: editing flotilla.yaml recompiles nothing"
  else
    fail "openab: editing flotilla.yaml recompiles nothing"; log_tail openab-artifact-again
  fi
  # Nor do the README, the gateway's config or a new vendored file: no project's sources hold
  # them. Every cargo vertex of the three projects is CACHED, and the artifact is the same.
  layers=$(config_of "$OPENAB_ARTIFACT" '{{json .RootFS.Layers}}')
  echo "edited $RUN_ID" >>"$OPENAB/README.md"
  echo "# edited $RUN_ID" >>"$OPENAB/config/config.toml"
  echo "notes $RUN_ID" >"$OPENAB/vendor/NOTES-$RUN_ID.txt"
  if openab_build artifact-outside --target artifact -t "$OPENAB_ARTIFACT"; then
    stages=$(cargo_stages openab-artifact-outside | tr '\n' ' ')
    if ! problem=$(compiles_cached openab-artifact-outside); then
      fail "openab: edits outside every project's sources recompiled" "$problem"
    elif [ "$stages" != "[builder:agy-acp] [builder:openab-agent] [builder] " ] \
      || [ "$(config_of "$OPENAB_ARTIFACT" '{{json .RootFS.Layers}}')" != "$layers" ]; then
      fail "openab: edits outside the sources" "cargo stages: $stages; the artifact changed"
    else
      pass "openab: editing README.md, config/ and vendor/ leaves all three projects' compiles cached"
    fi
  else
    fail "openab: edits outside the sources: build"; log_tail openab-artifact-outside
  fi
  # A variant whose binaries are all the root project's runs no cargo for the other two.
  if openab_build bare-compiled --target bare -t flotilla-e2e/openab-bare-compiled \
    && [ "$("$DOCKER" run --rm flotilla-e2e/openab-bare-compiled openab --version)" = "openab 0.4.0 (unified)" ]; then
    stages=$(cargo_stages openab-bare-compiled | tr '\n' ' ')
    if [ "$stages" = "[builder] " ] && ! log_has openab-bare-compiled "[builder:" \
      && problem=$(compiles_cached openab-bare-compiled); then
      pass "openab: bare, compiled, builds the gateway's project alone (its compile shared with the artifact)"
    else
      fail "openab: bare compiles only the gateway" "cargo stages: $stages ${problem:-}"
    fi
  else
    fail "openab: bare, compiled: build or run"; log_tail openab-bare-compiled
  fi
else
  fail "openab artifact: build and push"; log_tail openab-artifact
fi

# 2. Every variant from the prebuilt artifact: no toolchain, no cargo; the image does what its
# spec says (user, agent on PATH, shared entrypoint/cmd/healthcheck, OPENAB_AGENT_COMMAND).
declare -A OPENAB_USER=([claude]=node [gemini]=node [qwen]=node [copilot]=node [amp]=node
  [kiro]=agent [cursor]=agent [goose]=agent [hermes]=agent [agy]=agent [bare]=agent)
declare -A OPENAB_AGENT=([claude]=claude [gemini]=gemini [qwen]=qwen [copilot]=copilot [amp]=amp
  [kiro]=kiro-cli [cursor]=cursor-agent [goose]=goose [hermes]=openab-agent [agy]=agy-acp [bare]="")
openab_variants=(claude gemini qwen copilot amp kiro cursor goose hermes agy bare)
# Each image's entries (type, mode, owner, path), kept per engine to compare the engines' images.
MODES=$ROOT/target/e2e-modes
mkdir -p "$MODES/$ENGINE"
# Entries whose names or presence depend on when or where a build ran (npm's log files, apt's
# and ldconfig's caches), dropped before comparing.
VOLATILE_PATHS='\#( (root|home/[a-z]+)/\.npm/_logs(/|$)| var/log/| var/cache/)#d'
for variant in "${openab_variants[@]}"; do
  image=flotilla-e2e/openab-$variant
  if ! openab_build "$variant" --target "$variant" --build-arg BUILDER_IMAGE="$OPENAB_ARTIFACT" -t "$image"; then
    fail "openab $variant: build"; log_tail "openab-$variant"; continue
  fi
  problems=()
  if log_has "openab-$variant" "cargo" || log_has "openab-$variant" "rust:1-bookworm"; then
    problems+=("a cargo step or the toolchain image is in the graph")
  fi
  want_agent=${OPENAB_AGENT[$variant]}
  plan=$("$DOCKER" run --rm "$image" openab run -c /etc/openab/config.toml --dry-run 2>&1)
  if [ -n "$want_agent" ]; then
    [[ $plan == *"\"agent\":\"$want_agent\""* && $plan == *'"path":"/usr/'* ]] || problems+=("dry run: $plan")
    version=$("$DOCKER" run --rm "$image" "$want_agent" --version 2>&1) || problems+=("$want_agent --version: $version")
  else
    [[ $plan == *"no agent: set OPENAB_AGENT_COMMAND"* ]] || problems+=("bare dry run: $plan")
  fi
  [ "$("$DOCKER" run --rm "$image" openab --version)" = "openab 0.4.0 (unified)" ] || problems+=("openab --version")
  [ "$("$DOCKER" run --rm --entrypoint id "$image" -un)" = "${OPENAB_USER[$variant]}" ] || problems+=("user")
  if [ "${OPENAB_USER[$variant]}" = agent ]; then
    # useradd --create-home runs before the workdir is made: the home is agent's, with skel.
    home=$("$DOCKER" run --rm --entrypoint sh "$image" -c 'stat -c %U /home/agent; test -f /home/agent/.bashrc && echo skel' 2>&1)
    [ "$home" = $'agent\nskel' ] || problems+=("home: $home")
  fi
  config=$(config_of "$image" '{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{json .Config.Healthcheck.Test}} {{range .Config.Env}}{{.}} {{end}}')
  [[ $config == '["tini","--"] ["openab","run","-c","/etc/openab/config.toml"] ["CMD","openab","health","-c","/etc/openab/config.toml"] '* ]] \
    || problems+=("config: $config")
  [[ " $config " == *" OPENAB_AGENT_COMMAND=$want_agent "* ]] || problems+=("OPENAB_AGENT_COMMAND: $config")
  saved_layers "$image" "$WORK/openab-layers" && file_modes "$WORK/openab-layers" | sed -E "$VOLATILE_PATHS" \
    | cut -d' ' -f1-3,5- >"$MODES/$ENGINE/$variant" || problems+=("cannot list its layers")
  if [ ${#problems[@]} -eq 0 ]; then
    pass "openab $variant: from the artifact, no cargo; runs as ${OPENAB_USER[$variant]} with ${want_agent:-no agent} on PATH"
  else
    fail "openab $variant" "${problems[*]}"
  fi
done

# A parent's steps are layers its children share: hermes (debian-base plus python3-minimal) has
# kiro's layers up to debian-base's workdir, then its own package layer.
layers_of() { "$DOCKER" image inspect -f '{{range .RootFS.Layers}}{{.}} {{end}}' "$1" 2>&1; }
kiro_layers=$(layers_of flotilla-e2e/openab-kiro) hermes_layers=$(layers_of flotilla-e2e/openab-hermes)
shared=$(("$(wc -w <<<"$("$DOCKER" image inspect -f '{{range .RootFS.Layers}}{{.}} {{end}}' debian:bookworm-slim)")" + 4))
if [ "$(cut -d' ' -f1-$shared <<<"$kiro_layers")" = "$(cut -d' ' -f1-$shared <<<"$hermes_layers")" ] \
  && [ "$(cut -d' ' -f$((shared + 1)) <<<"$kiro_layers")" != "$(cut -d' ' -f$((shared + 1)) <<<"$hermes_layers")" ]; then
  pass "openab: hermes shares debian-base's layers with kiro and adds its package on top"
else
  fail "openab: shared parent layers" "kiro: $kiro_layers / hermes: $hermes_layers"
fi

# 3. The second binaries land only where asked.
if "$DOCKER" run --rm --entrypoint sh flotilla-e2e/openab-hermes -c 'test -x /usr/local/bin/openab-agent && ! test -e /usr/local/bin/agy-acp' \
  && "$DOCKER" run --rm --entrypoint sh flotilla-e2e/openab-kiro -c '! test -e /usr/local/bin/openab-agent'; then
  pass "openab: hermes gets openab-agent as well, kiro only openab"
else
  fail "openab: second binaries"
fi

# 4. The shared HEALTHCHECK works: the default command serves the gateway, `openab health` answers.
container=openab-e2e-$RUN_ID
if "$DOCKER" run -d --name "$container" flotilla-e2e/openab-kiro >/dev/null; then
  healthy=
  for _ in $(seq 1 20); do
    if "$DOCKER" exec "$container" openab health -c /etc/openab/config.toml 2>/dev/null; then healthy=yes; break; fi
    sleep 0.5
  done
  if [ -n "$healthy" ]; then
    pass "openab: the default CMD serves the gateway under tini and the HEALTHCHECK command passes"
  else
    fail "openab: healthcheck" "$("$DOCKER" logs "$container" 2>&1 | tail -n 5)"
  fi
  "$DOCKER" rm -f "$container" >/dev/null
else
  fail "openab: start the kiro image"
fi

# 5. The per-arch download is checked: a wrong sha256 stops the build at that step.
expect_refused openab-badsum "$OPENAB" "kiro-cli-1.4.2-linux-amd64.tar.gz: FAILED" \
  "openab: a tarball whose sha256 does not match fails the build" \
  --target kiro --build-arg BUILDER_IMAGE="$OPENAB_ARTIFACT" --build-arg SHA256_AMD64="$(printf "%064d" 0)"
if log_has openab-badsum "flotilla.yaml:"; then
  pass "openab: the failed sha256 check names its spec line"
else
  fail "openab: the failed sha256 check names its spec line"; log_tail openab-badsum
fi

# 6. CI pins the base images by digest through the build args, without editing the spec.
OPENAB_DEBIAN=$REGISTRY/flotilla-e2e/openab-debian
if digest=$(pushed_digest debian:bookworm-slim "$OPENAB_DEBIAN" 2>"$WORK/openab-push.log") \
  && openab_build pinned --target bare --build-arg BUILDER_IMAGE="$OPENAB_ARTIFACT" \
    --build-arg DEBIAN_IMAGE="$OPENAB_DEBIAN@$digest" -t flotilla-e2e/openab-pinned; then
  base=$(config_of flotilla-e2e/openab-pinned '{{index .RootFS.Layers 0}}')
  if log_has openab-pinned "FROM $OPENAB_DEBIAN@$digest" && [ "$base" = "$(config_of debian:bookworm-slim '{{index .RootFS.Layers 0}}')" ]; then
    pass "openab: DEBIAN_IMAGE pinned by digest builds bare on that exact base"
  else
    fail "openab: pinned base" "base layer $base"; log_tail openab-pinned
  fi
else
  fail "openab: pinned base: push or build" "$(tail -n 3 "$WORK/openab-push.log")"; log_tail openab-pinned
fi

# 3. The same filesystems on every engine: each variant's entries (type, mode, owner, path) equal
# those of the image the other engine built (scripts/test runs this suite on 20.10, then on 26).
# BuildKit 0.8 leaves the empty directory a run step's mount was made on (its "mount stub";
# BuildKit 0.10 and later remove it, as they do for a Dockerfile's RUN --mount): the spec's mount
# targets are left out of both sides.
if [ "$ENGINE" = 26 ]; then
  stubs=
  for target in $(grep -oE 'target: /[^ ,}]+' "$OPENAB/flotilla.yaml" | cut -d' ' -f2); do
    stubs+="\\#^d [0-7]+ 0:0 ${target#/}\$#d;"
  done
  differing=()
  for variant in "${openab_variants[@]}"; do
    if [ ! -s "$MODES/20.10/$variant" ]; then
      differing+=("$variant (no record from Docker 20.10: run this suite there first)")
    elif ! diff=$(diff <(sed -E "$stubs" "$MODES/20.10/$variant") <(sed -E "$stubs" "$MODES/26/$variant")); then
      differing+=("$variant: $(grep '^[<>]' <<<"$diff" | head -n 4 | tr '\n' ' ')")
    fi
  done
  if [ ${#differing[@]} -eq 0 ]; then
    pass "openab: all 11 images hold the same entries with the same modes and owners on Docker 20.10 and 26"
  else
    fail "openab: images differ between the engines" "${differing[*]}"
  fi
fi
