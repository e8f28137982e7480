# Variants on examples/variants: packages, run steps (shell, argv, env, cache and secret mounts),
# copy from the context, binaries with mode and owner, the image config, extends and build args.
# The binaries come from a prebuilt artifact, so nothing here compiles after the first step.

VARIANTS=$(spec_dir variants "$ROOT/examples/variants")
V_ARTIFACT=$REGISTRY/flotilla-e2e/variants-artifact:$RUN_ID
SECRET_VALUE="flotilla-secret-$RUN_ID"
printf '%s' "$SECRET_VALUE" >"$WORK/token"
# in_image IMAGE COMMAND: runs a shell command in the image, as root, without its entrypoint.
in_image() { "$DOCKER" run --rm --user root --entrypoint /bin/sh "$1" -c "$2" 2>&1; }
inspect() { "$DOCKER" image inspect -f "$2" "$1" 2>&1; }

# 0. The binaries, built once from examples/hello and pushed as a prebuilt builder image.
if build variants-artifact "$(spec_dir variants-hello)" --target artifact -t "$V_ARTIFACT" \
  && "$DOCKER" push "$V_ARTIFACT" >"$WORK/variants-push.log" 2>&1; then
  pass "variants: prebuilt artifact pushed"
else
  fail "variants: prebuilt artifact"; log_tail variants-artifact
fi
PREBUILT=(--build-arg "BUILDER_IMAGE=$V_ARTIFACT")
KIRO_ARGS=("${PREBUILT[@]}" --secret "id=token,src=$WORK/token" --build-arg "CACHE_ID=e2e-$RUN_ID"
  --build-arg REVISION=abc123)

# 1. The kiro variant: everything at once.
if build kiro "$VARIANTS" --target kiro "${KIRO_ARGS[@]}" --build-arg "BUST=$RUN_ID-1" -t flotilla-e2e/kiro; then
  pass "kiro variant builds"
  KIRO=flotilla-e2e/kiro

  out=$(in_image $KIRO 'tini --version && jq --version')
  if [[ $out == *"tini version"* && $out == *"jq-1."* ]]; then
    pass "packages: tini and jq installed and run"
  else
    fail "packages installed" "$out"
  fi

  # The image keeps apt's own records and setup, as a Dockerfile's RUN apt-get leaves them:
  # jq's library is marked as installed for jq, the base's docker-clean hook is in place, and
  # dpkg's options for the step (unsafe-io) stay on its command line.
  setup='md5sum < /etc/apt/apt.conf.d/docker-clean; ls /etc/apt/apt.conf.d /etc/dpkg/dpkg.cfg.d'
  out=$(in_image $KIRO "apt-mark showauto; $setup")
  base_clean=$(in_image debian:bookworm-slim "$setup")
  if grep -qx 'libjq1' <<<"$out" && ! grep -qx 'jq' <<<"$out" && [[ $out == *"$base_clean" ]]; then
    pass "packages: apt-mark knows jq's dependencies; the base's apt.conf.d (docker-clean) and dpkg.cfg.d are unchanged"
  else
    fail "packages: apt records and setup" "$out / base: $base_clean"
  fi

  saved_layers $KIRO "$WORK/kiro"
  base_layers=$(inspect debian:bookworm-slim '{{len .RootFS.Layers}}')
  layer_files=$(layer_paths "$WORK/kiro")
  lists=$(grep -E '^var/lib/apt/lists/.+[^/]$' <<<"$layer_files" | grep -v '/lock$')
  debs=$(grep -E '\.deb$' <<<"$layer_files")
  if [ -z "$lists$debs" ] && grep -q '^usr/bin/jq$' <<<"$layer_files"; then
    pass "packages: no apt lists and no .deb files in any layer"
  else
    fail "packages: apt leftovers in the layers" "$(head -n 5 <<<"$lists$debs")"
  fi

  out=$(in_image $KIRO 'cat /etc/flotilla-arch /etc/greeting /etc/cache-count')
  if [ "$out" = $'amd64\nhello from argv\n1' ]; then
    pass "run steps: \$TARGETARCH, argv form with a build arg and per-step env, cache mount"
  else
    fail "run steps" "$out"
  fi

  expected_sha=$(printf '%s' "$SECRET_VALUE" | sha256sum | cut -c1-64)
  out=$(in_image $KIRO 'cat /home/app/token.sha256; stat -c %U /home/app/token.sha256; ls /run/secrets 2>&1')
  config_and_history="$(inspect $KIRO '{{json .}}') $("$DOCKER" image history --no-trunc $KIRO)"
  if [[ $out == "$expected_sha"$'\napp'* ]] && ! grep -rqaF "$SECRET_VALUE" "$WORK/kiro" \
    && [[ $config_and_history != *"$SECRET_VALUE"* ]]; then
    pass "secret mount: a step running as app (secret uid 1001) read it; its value is in no layer, config or history"
  else
    fail "secret mount" "$out; found in: $(grep -rlaF "$SECRET_VALUE" "$WORK/kiro" | tr '\n' ' ')"
  fi

  out=$(in_image $KIRO 'stat -c "%U:%G %a" /etc/app/app.toml; cat /etc/app/app.toml /srv/app/static/index.html; stat -c "%U %a" /usr/local/bin/hello /usr/local/bin/hello-gateway')
  if [ "$out" = $'app:app 640\n[server]\nport = 8080\n<h1>flotilla</h1>\napp 750\nroot 755' ]; then
    pass "copy from the context and binaries: owner and mode applied"
  else
    fail "copy and binaries" "$out"
  fi

  out=$("$DOCKER" run --rm $KIRO 2>&1)
  whoami=$("$DOCKER" run --rm --entrypoint sh $KIRO -c 'id -un; pwd' 2>&1)
  if [ "$out" = "hello from flotilla (x86_64)" ] && [ "$whoami" = $'app\n/srv/app' ]; then
    pass "entrypoint tini -- with cmd hello, user app, workdir /srv/app"
  else
    fail "entrypoint, cmd, user, workdir" "out: $out; whoami: $whoami"
  fi

  config=$(inspect $KIRO '{{json .Config.Env}}|{{json .Config.ExposedPorts}}|{{json .Config.Healthcheck}}|{{.Config.StopSignal}}|{{json .Config.Labels}}|{{json .Config.Entrypoint}}{{json .Config.Cmd}}')
  if [[ $config == *'"APP_HOME=/srv/app"'* && $config == *'"PATH=/srv/app/bin:/usr/local/sbin:'* ]] \
    && [[ $config == *'{"53/udp":{},"8080/tcp":{}}'* ]] \
    && [[ $config == *'{"Test":["CMD-SHELL","hello || exit 1"],"Interval":30000000000,"Timeout":5000000000,"StartPeriod":1000000000,"Retries":3}'* ]] \
    && [[ $config == *'|SIGQUIT|'* ]] \
    && [[ $config == *'"org.example.tier":"app"'* && $config == *'"org.opencontainers.image.revision":"abc123"'* ]] \
    && [[ $config == *'"org.opencontainers.image.source":"https://example.com/flotilla"'* ]] \
    && [[ $config == *'["tini","--"]["hello"]' ]]; then
    pass "image config: env (PATH from \$APP_HOME and the base's \$PATH), expose, healthcheck, stop signal, labels incl. OCI source/revision"
  else
    fail "image config" "$config"
  fi

  history=$("$DOCKER" image history --no-trunc --format '{{.CreatedBy}}' $KIRO)
  added=$(($(inspect $KIRO '{{len .RootFS.Layers}}') - base_layers))
  missing=""
  for step in 'WORKDIR /srv/app # flotilla.yaml workdir' 'apt-get install jq tini # flotilla.yaml packages' \
    'RUN useradd --uid 1001 --user-group --create-home app # flotilla.yaml run' \
    'COPY config/app.toml -> /etc/app/app.toml, static -> /srv/app/static # flotilla.yaml copy' \
    'COPY hello -> /usr/local/bin/hello, hello-gateway -> /usr/local/bin/hello-gateway # flotilla.yaml binaries'; do
    grep -qF -- "$step" <<<"$history" || missing+="[$step] "
  done
  if [ -z "$missing" ] && [ "$added" = 9 ]; then
    pass "history: one entry per layer naming its spec file and key, no line (9 layers)"
  else
    fail "history" "missing: $missing; layers added: $added"; printf '%s\n' "$history" | head -n 12
  fi

  missing=""
  for name in '[kiro 1/10] FROM debian:bookworm-slim' '[kiro 2/10] apt-get install jq tini' \
    '[kiro 3/10] RUN useradd' '[kiro 5/10] RUN /bin/sh -c' \
    '[kiro 8/10] COPY config/app.toml -> /etc/app/app.toml' '[kiro 9/10] WORKDIR /srv/app' \
    '[kiro 10/10] COPY hello -> /usr/local/bin/hello'; do
    log_has kiro "$name" || missing+="[$name] "
  done
  if [ -z "$missing" ]; then
    pass "progress output names every vertex [kiro i/10] …"
  else
    fail "vertex names" "missing: $missing"
  fi
else
  fail "kiro variant build"; log_tail kiro
fi

# 2. The cache mount outlives the build: a rebuild of that step sees the previous count.
if build kiro-again "$VARIANTS" --target kiro "${KIRO_ARGS[@]}" --build-arg "BUST=$RUN_ID-2" -t flotilla-e2e/kiro-again; then
  out=$(in_image flotilla-e2e/kiro-again 'cat /etc/cache-count')
  if [ "$out" = 2 ]; then
    pass "cache mount: content kept across builds (count 1 -> 2)"
  else
    fail "cache mount across builds" "count: $out"
  fi
else
  fail "kiro rebuild"; log_tail kiro-again
fi

# 3. Single inheritance from an abstract base, with a build arg picking the base image.
if build slim "$VARIANTS" --target slim "${PREBUILT[@]}" -t flotilla-e2e/slim; then
  out=$("$DOCKER" run --rm flotilla-e2e/slim 2>&1)
  labels=$(inspect flotilla-e2e/slim '{{json .Config.Labels}}')
  if [ "$out" = "home=/srv/app" ] && [[ $labels == *'"org.example.tier":"base"'* ]] \
    && [[ $labels == *'"org.opencontainers.image.revision":"dev"'* ]] && ! log_has slim "apt-get"; then
    pass "extends: slim inherits env and labels of the abstract base, no packages"
  else
    fail "single inheritance" "out: $out; labels: $labels"
  fi
else
  fail "slim build"; log_tail slim
fi

# 4. An abstract variant is not a target.
expect_refused abstract "$VARIANTS" \
  'variant `base` is abstract (only extended by others) and cannot be built; available targets: kiro, slim, artifact' \
  "abstract variant: refused with the buildable targets" --target base "${PREBUILT[@]}"

# 5. An extends cycle names the chain and the spec line.
CYCLE=$(spec_dir variants-cycle "$ROOT/examples/variants")
printf '  loop-a:\n    extends: loop-b\n    from: debian\n  loop-b:\n    extends: [loop-a]\n' >>"$CYCLE/flotilla.yaml"
# The first error in file order: loop-a's reference to loop-b closes the cycle seen from loop-b.
line=$(grep -n 'extends: loop-b' "$CYCLE/flotilla.yaml" | cut -d: -f1)
expect_refused cycle "$CYCLE" "flotilla.yaml:$line:14: \`extends\` cycle: loop-b -> loop-a -> loop-b" \
  "extends cycle: the chain and flotilla.yaml:$line:14 in the error" --target kiro "${PREBUILT[@]}"

# 6. An undeclared build arg is refused with file, line and column.
UNDECLARED=$(spec_dir variants-undeclared "$ROOT/examples/variants")
sed -i 's|from: debian:${DEBIAN}|from: debian:${DEBIAN_RELEASE}|' "$UNDECLARED/flotilla.yaml"
line=$(grep -n 'DEBIAN_RELEASE' "$UNDECLARED/flotilla.yaml" | cut -d: -f1)
expect_refused undeclared "$UNDECLARED" "flotilla.yaml:$line:11: undeclared build arg \`DEBIAN_RELEASE\`" \
  "undeclared build arg: flotilla.yaml:$line:11 named in the error" --target slim "${PREBUILT[@]}"

# 6b. Copy sources cannot leave the build context.
ESCAPE=$(spec_dir variants-escape "$ROOT/examples/variants")
sed -i 's|src: config/app.toml|src: ../config/app.toml|' "$ESCAPE/flotilla.yaml"
line=$(grep -n 'src: ../config' "$ESCAPE/flotilla.yaml" | cut -d: -f1)
expect_refused escape "$ESCAPE" "flotilla.yaml:$line:16: copy source \`../config/app.toml\` leaves the build context" \
  "copy source outside the context: refused at flotilla.yaml:$line:16" --target kiro "${PREBUILT[@]}"

# 7. A build arg picks the base image; a bad value is refused at its spec line.
expect_refused bad-base "$VARIANTS" "flotilla.yaml:18:11: invalid image reference \`debian:Not Valid\`" \
  "build arg substituted into from: a bad value names the spec line" \
  --target slim "${PREBUILT[@]}" --build-arg "DEBIAN=Not Valid"

# 8. A failing run step: the error names the step and its spec line. Docker 20.10's CLI prints
#    no source map, so the frontend finds the failed exec in BuildKit's error and adds it.
BROKEN=$(spec_dir variants-broken "$ROOT/examples/variants")
printf '  broken:\n    extends: base\n    run:\n      - echo before\n      - exit 7\n' >>"$BROKEN/flotilla.yaml"
line=$(grep -n -- '- exit 7' "$BROKEN/flotilla.yaml" | cut -d: -f1)
expect_refused broken "$BROKEN" "flotilla.yaml:$line:9: \`[broken 3/3] RUN exit 7\` failed: " \
  "failing run step: the error names the step and flotilla.yaml:$line:9" --target broken "${PREBUILT[@]}"
if log_has broken "exit code: 7"; then
  pass "failing run step: the exit code is shown"
else
  fail "failing run step: no exit code"; log_tail broken
fi

# 9. Smoke checks: `check:<variant>` runs the variant's `check:` commands on its image, as its
#    user; the variant's layers are not exported (with -t, Docker 20.10 writes an empty image).
if build check-kiro "$VARIANTS" --target check:kiro "${KIRO_ARGS[@]}" -t flotilla-e2e/check-kiro; then
  layers=$("$DOCKER" image inspect -f '{{json .RootFS}}' flotilla-e2e/check-kiro 2>&1)
  if log_has check-kiro '[check:kiro 1/3] test "$(id -un)" = app' && log_has check-kiro "[check:kiro 3/3] which tini" \
    && [[ $layers != *'"Layers"'* ]]; then
    pass "check:kiro runs its three smoke checks and exports no layer"
  else
    fail "check:kiro" "rootfs: $layers"; log_tail check-kiro
  fi
else
  fail "check:kiro build"; log_tail check-kiro
fi
FAILING=$(spec_dir variants-failing-check "$ROOT/examples/variants")
sed -i 's/^      - which tini$/      - which no-such-tool/' "$FAILING/flotilla.yaml"
line=$(grep -n -- '- which no-such-tool' "$FAILING/flotilla.yaml" | cut -d: -f1)
expect_refused failing-check "$FAILING" "flotilla.yaml:$line:9: \`[check:kiro 3/3] which no-such-tool\` failed: " \
  "failing smoke check: the error names the check and flotilla.yaml:$line:9" --target check:kiro "${KIRO_ARGS[@]}"
expect_refused no-checks "$VARIANTS" 'target `check:slim` has nothing to run: variant `slim` has no `check:` commands' \
  "check target of a variant without checks: clear message" --target check:slim "${PREBUILT[@]}"

# 10. Third-party apt repositories: the machine's Debian mirror's backports suite (which the base
#     image does not list), added with its key from the build context; apt reads it. With a key
#     that signs nothing, apt refuses it.
APT=$(spec_dir variants-apt)
mkdir -p "$APT/keys"
mirror=$(in_image debian:bookworm-slim 'cat /etc/apt/sources.list.d/debian.sources' | awk '/^URIs:/ { print $2; exit }')
in_image debian:bookworm-slim 'cat /usr/share/keyrings/debian-archive-keyring.gpg' >"$APT/keys/debian.gpg"
head -c 512 /dev/urandom >"$APT/keys/wrong.gpg"
cat >"$APT/flotilla.yaml" <<YAML
# syntax=$FRONTEND
version: 1
builder: { image: rust:1-bookworm, binaries: [hello] }
args: { MIRROR: "" }
variants:
  apt-repo:
    from: debian:bookworm-slim
    apt_repositories:
      - { name: mirror, url: "\${MIRROR}", suite: bookworm-backports, key: keys/debian.gpg }
    packages: [jq]
    binaries: { hello: /usr/local/bin/hello }
  apt-wrong-key:
    from: debian:bookworm-slim
    apt_repositories:
      - { name: wrong, url: "\${MIRROR}", suite: bookworm-backports, key: keys/wrong.gpg }
    packages: [jq]
YAML
if build apt-repo "$APT" --target apt-repo --no-cache "${PREBUILT[@]}" --build-arg "MIRROR=$mirror" -t flotilla-e2e/apt-repo; then
  out=$(in_image flotilla-e2e/apt-repo 'cat /etc/apt/sources.list.d/mirror.list; stat -c %a /etc/apt/keyrings/mirror.gpg; cmp /etc/apt/keyrings/mirror.gpg /usr/share/keyrings/debian-archive-keyring.gpg && echo same-key; jq --version; ls /var/lib/apt/lists | grep -v -e ^lock -e ^partial | wc -l')
  if [ "$out" = "deb [signed-by=/etc/apt/keyrings/mirror.gpg] $mirror bookworm-backports main"$'\n644\nsame-key\njq-1.6\n0' ] \
    && log_has apt-repo "bookworm-backports InRelease"; then
    pass "apt repository: apt read it with its key from the context; key and sources line in the image, jq installed, no lists left"
  else
    fail "apt repository image" "$out"
  fi
else
  fail "apt repository build"; log_tail apt-repo
fi
expect_refused apt-wrong-key "$APT" "bookworm-backports InRelease' is not signed" \
  "apt repository with a key that does not sign it: apt refuses it and the build fails" \
  --target apt-wrong-key "${PREBUILT[@]}" --build-arg "MIRROR=$mirror"
