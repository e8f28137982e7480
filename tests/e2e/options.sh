# Frontend options as docker build sends them: --label, --add-host, --network, --no-cache.
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

# 2. --network none: the run steps see loopback only (the sandbox gave them more).
if build options-none "$OPTIONS" "${PROBE_ARGS[@]}" --network none -t flotilla-e2e/options-none; then
  out=$(probe_file flotilla-e2e/options-none /etc/net-ifaces)
  if [ "$out" = "lo " ] && [ "${SANDBOX_IFACES:-lo }" != "lo " ]; then
    pass "--network none: run steps have loopback only (sandbox: ${SANDBOX_IFACES:-?})"
  else
    fail "--network none" "none: '$out', sandbox: '${SANDBOX_IFACES:-}'"
  fi
else
  fail "--network none build"; log_tail options-none
fi

# 3. --network host (docker build grants the network.host entitlement for it): the host's
# interfaces, which include dockerd's bridge.
if build options-host "$OPTIONS" "${PROBE_ARGS[@]}" --network host -t flotilla-e2e/options-host; then
  out=$(probe_file flotilla-e2e/options-host /etc/net-ifaces)
  if [[ " $out" == *" docker0 "* ]]; then
    pass "--network host: run steps see the host's interfaces"
  else
    fail "--network host" "interfaces: '$out'"
  fi
else
  fail "--network host build"; log_tail options-host
fi

# 4. The same build again is cached; with --no-cache its run steps run again.
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
