# Frontend options as docker build sends them: --label, --add-host, --network, --no-cache, --pull.
# The probe spec's run steps record what they saw; the binaries come from a prebuilt artifact,
# so nothing here compiles after the first step.

OPTIONS=$(spec_dir options "$ROOT/tests/fixtures/options")
O_ARTIFACT=$REGISTRY/flotilla-e2e/options-artifact:$RUN_ID
# probe_file IMAGE FILE: a file the probe's run steps wrote.
probe_file() { "$DOCKER" run --rm --entrypoint cat "$1" "$2" 2>&1; }

if build options-artifact "$(spec_dir options-hello)" --target artifact -t "$O_ARTIFACT" \
  && "$DOCKER" push "$O_ARTIFACT" >"$WORK/options-push.log" 2>&1; then
  pass "options: prebuilt artifact pushed"
else
  fail "options: prebuilt artifact"; log_tail options-artifact
fi
PROBE_ARGS=(--build-arg "BUILDER_IMAGE=$O_ARTIFACT" --build-arg "BUST=$RUN_ID")

# 1. --label and --add-host, on the default (sandbox) network.
if build options-probe "$OPTIONS" "${PROBE_ARGS[@]}" --label "org.example.e2e=$RUN_ID" \
  --add-host myhost:10.1.2.3 -t flotilla-e2e/options-probe; then
  label=$("$DOCKER" image inspect -f '{{index .Config.Labels "org.example.e2e"}}' flotilla-e2e/options-probe)
  if [ "$label" = "$RUN_ID" ]; then
    pass "--label: the image has the extra label"
  else
    fail "--label" "label is '$label'"
  fi
  out=$(probe_file flotilla-e2e/options-probe /etc/hosts-myhost)
  if [[ $out == "10.1.2.3"*myhost* ]]; then
    pass "--add-host: a run step resolves myhost to 10.1.2.3"
  else
    fail "--add-host" "$out"
  fi
  SANDBOX_IFACES=$(probe_file flotilla-e2e/options-probe /etc/net-ifaces)
  FIRST_BUILT=$(probe_file flotilla-e2e/options-probe /etc/built-at)
else
  fail "options probe builds"; log_tail options-probe
fi

# network_probe NAME DESCRIPTION PATTERN [docker build args…]: the probe's run steps, built with
# the args, must see network interfaces matching the glob PATTERN.
network_probe() {
  local name=$1 description=$2 pattern=$3; shift 3
  if build "$name" "$OPTIONS" "${PROBE_ARGS[@]}" "$@" -t "flotilla-e2e/$name"; then
    local out
    out=$(probe_file "flotilla-e2e/$name" /etc/net-ifaces)
    # shellcheck disable=SC2053
    if [[ $out == $pattern ]]; then
      pass "$description (interfaces: $out)"
    else
      fail "$description" "interfaces: '$out'"
    fi
  else
    fail "$description: build"; log_tail "$name"
  fi
}

# 2. The default sandbox has an interface besides loopback; --network none leaves loopback
# only; --network host (docker build grants the network.host entitlement for it) shows the
# host's interfaces, dockerd's bridge among them.
if [[ ${SANDBOX_IFACES:-} == *eth0* ]]; then
  pass "sandbox network: run steps have eth0"
else
  fail "sandbox network" "interfaces: '${SANDBOX_IFACES:-}'"
fi
network_probe options-none "--network none: run steps have loopback only" "lo " --network none
network_probe options-host "--network host: run steps see the host's interfaces" "*docker0 *" \
  --network host

# 3. The same build again is cached; with --no-cache its run steps run again.
same=(--label "org.example.e2e=$RUN_ID" --add-host myhost:10.1.2.3)
if build options-cached "$OPTIONS" "${PROBE_ARGS[@]}" "${same[@]}" -t flotilla-e2e/options-cached \
  && build options-nocache "$OPTIONS" "${PROBE_ARGS[@]}" "${same[@]}" --no-cache -t flotilla-e2e/options-nocache; then
  cached=$(probe_file flotilla-e2e/options-cached /etc/built-at)
  rerun=$(probe_file flotilla-e2e/options-nocache /etc/built-at)
  if [ "$cached" = "${FIRST_BUILT:-}" ] && [ "$rerun" != "$cached" ]; then
    pass "--no-cache: a rebuild reuses the cache, --no-cache runs the steps again"
  else
    fail "--no-cache" "first '${FIRST_BUILT:-}', cached '$cached', no-cache '$rerun'"
  fi
else
  fail "--no-cache builds"; log_tail options-cached
fi

# 4. The base's config and its rootfs are one image: the daemon's own copy of the tag by default,
# the registry's with --pull (image-resolve-mode=pull), which the daemon holds another image of.
PULL_BASE=$REGISTRY/flotilla-e2e/pull-base:$RUN_ID
pull_dir=$WORK/pull-base
mkdir -p "$pull_dir"
for which in registry local; do
  printf 'FROM busybox:latest\nRUN echo %s > /etc/which\nENV WHICH=%s\n' "$which" "$which" >"$pull_dir/Dockerfile.$which"
done
if "$DOCKER" build -q -f "$pull_dir/Dockerfile.registry" -t "$PULL_BASE" "$pull_dir" >"$WORK/pull-base.log" 2>&1 \
  && "$DOCKER" push "$PULL_BASE" >>"$WORK/pull-base.log" 2>&1 \
  && "$DOCKER" build -q -f "$pull_dir/Dockerfile.local" -t "$PULL_BASE" "$pull_dir" >>"$WORK/pull-base.log" 2>&1; then
  for mode in default pull; do
    flags=(); [ $mode = pull ] && flags=(--pull)
    expected=local; [ $mode = pull ] && expected=registry
    if build "options-$mode" "$OPTIONS" --target pulled "${PROBE_ARGS[@]}" --build-arg "PULL_BASE=$PULL_BASE" \
      "${flags[@]}" -t "flotilla-e2e/options-$mode"; then
      out=$("$DOCKER" run --rm --entrypoint sh "flotilla-e2e/options-$mode" -c 'echo "$(cat /etc/which) $WHICH"' 2>&1)
      if [ "$out" = "$expected $expected" ]; then
        pass "image-resolve-mode $mode: the base's rootfs and config are both the $expected image"
      else
        fail "image-resolve-mode $mode: rootfs and config (want '$expected $expected')" "$out"
      fi
    else
      fail "image-resolve-mode $mode: build"; log_tail "options-$mode"
    fi
  done
else
  fail "image-resolve-mode: the two bases"; sed 's/^/     | /' "$WORK/pull-base.log" | tail -n 15
fi
