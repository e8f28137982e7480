# shellcheck shell=bash
# Security and hostile input: a secret and an ssh agent reach their run step and nothing else
# (no layer, config, history, label, build output or daemon log); unusable prebuilt builders
# (missing, another platform, not executable) are refused in one message before any variant
# layer runs; base images pinned by digest are pulled by it.

SEC=$(spec_dir security)
cat >"$SEC/flotilla.yaml" <<'SPEC'
# syntax=FRONTEND
version: 1
args:
  BUST: "0"
  KEY: ""
  PINNED: debian:bookworm-slim
builder:
  image: rust:1-bookworm
  binaries: [hello]
variants:
  secret:
    from: debian:bookworm-slim
    run:
      - run: 'echo "bust ${BUST}"; sha256sum /run/secrets/token | cut -c1-64 > /token.sha256'
        secrets: [{ id: token, required: true }]
  agent:
    from: debian:bookworm-slim
    packages: [openssh-client]
    run:
      - run: 'test -S "$$SSH_AUTH_SOCK" && ssh-add -l | grep -F "${KEY}" && echo "agent $$SSH_AUTH_SOCK" > /agent.txt'
        ssh: true
  probe:
    from: debian:bookworm-slim
    run: ['printf "variant %s ran %s" layer "${BUST}"']
    binaries: { hello: /usr/local/bin/hello }
  pinned:
    from: ${PINNED}
    run: ['cat /etc/debian_version > /pinned.txt']
SPEC
sed -i "1s|^# syntax=.*|# syntax=$FRONTEND|" "$SEC/flotilla.yaml"
SEC_NEVER=flotilla-e2e/sec-never-$RUN_ID

# 1. A secret's value is in no layer, config, history, label, build output or daemon log.
SECRET_VALUE="flotilla-sec-$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
printf '%s' "$SECRET_VALUE" >"$WORK/sec-token"
daemon_log=$DAEMON_LOG
if build sec-secret "$SEC" --target secret --secret "id=token,src=$WORK/sec-token" \
  --build-arg "BUST=$RUN_ID" -t flotilla-e2e/sec-secret; then
  expected_sha=$(printf '%s' "$SECRET_VALUE" | sha256sum | cut -c1-64)
  read_sha=$("$DOCKER" run --rm flotilla-e2e/sec-secret cat /token.sha256 2>&1)
  saved_layers flotilla-e2e/sec-secret "$WORK/sec-image"
  for layer in "$WORK"/sec-image/layer-*.tar; do tar -x -C "$WORK/sec-image" -f "$layer" 2>/dev/null; done
  leaks=()
  grep -rqaF "$SECRET_VALUE" "$WORK/sec-image" && leaks+=("a layer or the config")
  "$DOCKER" history --no-trunc flotilla-e2e/sec-secret | grep -qF "$SECRET_VALUE" && leaks+=(history)
  "$DOCKER" image inspect flotilla-e2e/sec-secret | grep -qF "$SECRET_VALUE" && leaks+=("inspect (labels, env)")
  log_has sec-secret "$SECRET_VALUE" && leaks+=("build output")
  grep -qaF "$SECRET_VALUE" "$daemon_log" && leaks+=("daemon log (frontend stderr)")
  if [ "$read_sha" = "$expected_sha" ] && [ ${#leaks[@]} -eq 0 ] && [ -s "$daemon_log" ] \
    && [ ! -e "$WORK/sec-image/run/secrets/token" ]; then
    pass "secret: the step read it; its value is in no layer, config, history, label, output or daemon log"
  else
    fail "secret leak" "read: $read_sha (want $expected_sha); found in: ${leaks[*]}"
  fi
else
  fail "secret: build"; log_tail sec-secret
fi

# 2. `ssh: true` forwards the client's agent (`docker build --ssh default`) to the step only.
if command -v ssh-agent >/dev/null; then
  ssh-keygen -q -t ed25519 -N '' -C "flotilla-e2e-$RUN_ID" -f "$WORK/sec-key"
  fingerprint=$(ssh-keygen -lf "$WORK/sec-key.pub" | awk '{print $2}')
  agent_env=$(ssh-agent -s) && eval "$agent_env" >/dev/null
  if ssh-add -q "$WORK/sec-key" 2>/dev/null \
    && build sec-agent "$SEC" --target agent --ssh "default=$SSH_AUTH_SOCK" \
      --build-arg "KEY=$fingerprint" -t flotilla-e2e/sec-agent; then
    # shellcheck disable=SC2016 # expanded in the container
    # BuildKit 0.8 leaves the empty mount-point directory /run/buildkit, as for a Dockerfile.
    out=$("$DOCKER" run --rm flotilla-e2e/sec-agent sh -c 'cat /agent.txt; ls -A /run/buildkit 2>/dev/null; echo "env:$SSH_AUTH_SOCK"' 2>&1)
    if log_has sec-agent "$fingerprint" && [ "$out" = $'agent /run/buildkit/ssh_agent.0\nenv:' ]; then
      pass "ssh: the step listed the client's key through SSH_AUTH_SOCK; no socket or env in the image"
    else
      fail "ssh agent forwarding" "in image: $out"; log_tail sec-agent
    fi
  else
    fail "ssh agent forwarding: build"; log_tail sec-agent
  fi
  eval "$(ssh-agent -k 2>/dev/null)" >/dev/null
else
  fail "ssh agent forwarding: no ssh-agent on this machine (apt-get install openssh-client)"
fi

# 3. Unusable prebuilt builders: one message each, no variant layer run, no image exported.
MISSING=$REGISTRY/flotilla-e2e/sec-missing-$RUN_ID:1
ARM_BUILDER=$REGISTRY/flotilla-e2e/sec-arm64-builder:$RUN_ID
NOEXEC=$REGISTRY/flotilla-e2e/sec-noexec-builder:$RUN_ID
if scratch_builder "$ARM_BUILDER" linux/arm64 0755 && "$DOCKER" push "$ARM_BUILDER" >/dev/null 2>&1 \
  && "$DOCKER" rmi "$ARM_BUILDER" >/dev/null && scratch_builder "$NOEXEC" linux/amd64 0644; then
  # Current BuildKit words a missing image its own way.
  missing_reason="$MISSING: not found"
  if [ "$ENGINE" = 26 ]; then
    missing_reason="failed to resolve source metadata for $MISSING: $missing_reason"
  fi
  refusals=(
    "missing|$MISSING|prebuilt builder image $MISSING cannot be used: $missing_reason"
    "platform|$ARM_BUILDER|prebuilt builder image $ARM_BUILDER is for linux/arm64, not the target platform linux/amd64: push the artifact built with --platform linux/amd64"
    "noexec|$NOEXEC|prebuilt builder image $NOEXEC lacks binaries the target needs under /flotilla/bin: hello (not executable)"
  )
  for refusal in "${refusals[@]}"; do
    IFS='|' read -r case image message <<<"$refusal"
    expect_refused "sec-$case" "$SEC" "$message" "prebuilt builder ($case): one clear error" \
      --target probe --build-arg "BUILDER_IMAGE=$image" --build-arg "BUST=$RUN_ID" -t "$SEC_NEVER"
    if log_has "sec-$case" "[probe " || log_has "sec-$case" "variant layer ran" \
      || "$DOCKER" image inspect "$SEC_NEVER" >/dev/null 2>&1; then
      fail "prebuilt builder ($case): a variant layer ran or an image was exported"
      log_tail "sec-$case"
    fi
  done
else
  fail "building the scratch prebuilt builders" "$(tail -n 3 "$WORK/scratch-builders.log")"
fi

# 4. Base images pinned by digest, `name@sha256:…` and `name:tag@sha256:…`, from the registry.
SEC_DEBIAN=$REGISTRY/flotilla-e2e/sec-debian
if digest=$(pushed_digest debian:bookworm-slim "$SEC_DEBIAN" 2>"$WORK/sec-push.log"); then
  want=$("$DOCKER" run --rm debian:bookworm-slim cat /etc/debian_version)
  for pin in "$SEC_DEBIAN@$digest" "$SEC_DEBIAN:1@$digest"; do
    if build sec-pinned "$SEC" --target pinned --build-arg "PINNED=$pin" -t flotilla-e2e/sec-pinned; then
      out=$("$DOCKER" run --rm flotilla-e2e/sec-pinned cat /pinned.txt 2>&1)
      base=$("$DOCKER" image inspect -f '{{index .RootFS.Layers 0}}' flotilla-e2e/sec-pinned)
      if [ "$out" = "$want" ] && [ "$base" = "$("$DOCKER" image inspect -f '{{index .RootFS.Layers 0}}' debian:bookworm-slim)" ]; then
        pass "pinned base image from: $pin"
      else
        fail "pinned base image $pin" "output: $out; base layer: $base"
      fi
    else
      fail "pinned base image $pin: build"; log_tail sec-pinned
    fi
  done
  "$DOCKER" rmi "$SEC_DEBIAN:1" >/dev/null 2>&1
  absent="$SEC_DEBIAN@sha256:$(printf '0%.0s' {1..64})"
  expect_refused sec-absent "$SEC" "image $absent: " "a digest the registry lacks: one clear error" \
    --target pinned --build-arg "PINNED=$absent"
else
  fail "pushing the base image to pin" "$(tail -n 3 "$WORK/sec-push.log")"
fi
