# shellcheck shell=bash
# examples/port: four Dockerfiles ported to one flotilla.yaml with none of issue 13's workarounds.
# Every image is built through the frontend and run: the home useradd makes before the workdir,
# npm run with root's HOME before `env: {HOME: …}`, a child's arg built from its own, a parent's
# package layer shared, owners set once, a third-party apt repository, a gateway-only compile.
# Then each Dockerfile beside the spec is built by the dockerfile frontend and its image must
# match the spec's ("port parity": output, user, config, files and owners under the app dirs).

PORT=$(spec_dir port "$ROOT/examples/port")
# The bed's Debian mirror, as the base image lists it: the backports suite comes from there.
PORT_MIRROR=$("$DOCKER" run --rm --entrypoint cat debian:bookworm-slim /etc/apt/sources.list.d/debian.sources \
  | awk '/^URIs:/ { print $2; exit }')
# Each variant, the Dockerfile it ports, and the build args both builds take.
port_variants=(agent agent-tools agent-node gateway)
declare -A PORT_DOCKERFILE=([agent]=agent-debian [agent-tools]=agent-tools [agent-node]=agent-node [gateway]=gateway)
declare -A PORT_ARGS=([agent-tools]="--build-arg MIRROR=$PORT_MIRROR")

# port_sh IMAGE COMMAND: a shell command in the image, as root, without its entrypoint.
port_sh() { "$DOCKER" run --rm --user root --entrypoint /bin/sh "$1" -c "$2" 2>&1; }
# port_layers IMAGE: the image's layer digests, space-separated.
port_layers() { "$DOCKER" image inspect -f '{{range .RootFS.Layers}}{{.}} {{end}}' "$1" 2>&1; }
# port_cargo_stages NAME: the stages of the `cargo build` vertices in build log NAME, sorted.
port_cargo_stages() { grep -oE '^#[0-9]+ \[builder[^]]*\] cargo build ' "$WORK/$1.log" | cut -d' ' -f2 | LC_ALL=C sort -u | tr '\n' ' '; }

# port_facts IMAGE: what a user of the image sees, for the parity check: what it prints, its
# user, config (env sorted) and labels, and the entries (type and mode, owner, size of files)
# in the directories the Dockerfiles write to, the homes (skeleton files, an npm cache) and
# /root/.npm.
port_facts() {
  local image=$1
  echo "run: $("$DOCKER" run --rm "$image" 2>&1)"
  echo "id: $("$DOCKER" run --rm --entrypoint id "$image" -un 2>&1)"
  # shellcheck disable=SC2016 # $k and $v are the Go template's
  "$DOCKER" image inspect -f 'user={{.Config.User}} workdir={{.Config.WorkingDir}} entrypoint={{json .Config.Entrypoint}} cmd={{json .Config.Cmd}} ports={{json .Config.ExposedPorts}}
{{range $k, $v := .Config.Labels}}label {{$k}}={{$v}}
{{end}}{{range .Config.Env}}env {{.}}
{{end}}' "$image" | LC_ALL=C sort
  port_sh "$image" 'find /etc/agent /usr/local/bin /usr/local/lib/node_modules/greet /home/* /etc/apt/sources.list.d \
    /etc/apt/keyrings /root/.npm -maxdepth 1 -printf "%M %u:%g %s %p\n" 2>/dev/null | sed "s/^\(d[^ ]* [^ ]*\) [0-9]*/\1 -/" | LC_ALL=C sort'
}

# 1. The artifact compiles both cargo projects: the workspace's agent and gateway/'s gateway.
if build port-artifact "$PORT" --target artifact -t flotilla-e2e/port-artifact; then
  saved_layers flotilla-e2e/port-artifact "$WORK/port-artifact"
  files=$(layer_paths "$WORK/port-artifact" | grep -v '/$' | sort | tr '\n' ' ')
  stages=$(port_cargo_stages port-artifact)
  if [ "$files" = "flotilla/bin/agent flotilla/bin/gateway " ] && [ "$stages" = "[builder:gateway] [builder] " ]; then
    pass "port artifact: agent from the workspace and gateway from gateway/, each compiled by its project"
  else
    fail "port artifact" "files: $files; cargo stages: $stages"
  fi
else
  fail "port artifact: build"; log_tail port-artifact
fi

# 2. Every variant through the frontend, and the same image from its Dockerfile.
for variant in "${port_variants[@]}"; do
  # shellcheck disable=SC2206 # the build args are words
  args=(${PORT_ARGS[$variant]:-})
  if ! build "port-$variant" "$PORT" --target "$variant" "${args[@]}" -t "flotilla-e2e/port-$variant"; then
    fail "port $variant: build"; log_tail "port-$variant"
  fi
  dockerfile=${PORT_DOCKERFILE[$variant]}
  if ! "$DOCKER" build --progress=plain -f "$PORT/Dockerfile.$dockerfile" "${args[@]}" -t "flotilla-e2e/port-df-$dockerfile" \
    "$PORT" >"$WORK/port-df-$dockerfile.log" 2>&1; then
    fail "port Dockerfile.$dockerfile: build"; log_tail "port-df-$dockerfile"
  fi
done

# 3. What each image does, asserted on the spec's images.
AGENT=flotilla-e2e/port-agent TOOLS=flotilla-e2e/port-agent-tools NODE=flotilla-e2e/port-agent-node
GATEWAY=flotilla-e2e/port-gateway
# useradd -m ran before `workdir: /home/agent` was made: the home is agent's, with the skeleton.
for image in $AGENT $TOOLS; do
  out=$("$DOCKER" run --rm "$image" 2>&1; "$DOCKER" run --rm "$image" --version 2>&1
    "$DOCKER" run --rm --entrypoint id "$image" -un 2>&1
    port_sh "$image" 'stat -c "%n %U:%G" /home/agent /home/agent/.bashrc /etc/agent/agent.toml /usr/local/bin/agent')
  if [ "$out" = "agent port ready: HOME=/home/agent, cwd=/home/agent
agent 0.3.0
agent
/home/agent agent:agent
/home/agent/.bashrc agent:agent
/etc/agent/agent.toml agent:agent
/usr/local/bin/agent agent:agent" ]; then
    pass "port ${image#*/port-}: runs as agent in the home useradd made (agent's, skeleton files); config and binary agent's (owner set once)"
  else
    fail "port ${image#*/port-}: agent, home and owners" "$out"
  fi
done
# The child's package layer is one layer on top of every layer of its parent, which it shares
# with its sibling (agent's layers but its last, the binary's).
agent_layers=$(port_layers $AGENT) tools_layers=$(port_layers $TOOLS)
parent=$(($(wc -w <<<"$agent_layers") - 1))
if [ "$(cut -d' ' -f1-$parent <<<"$agent_layers")" = "$(cut -d' ' -f1-$parent <<<"$tools_layers")" ] \
  && [ "$(wc -w <<<"$tools_layers")" = $((parent + 2)) ]; then
  pass "port: agent-tools shares debian-agent's $parent layers with agent and adds one layer, its own packages"
else
  fail "port: shared parent layers" "agent: $agent_layers / agent-tools: $tools_layers"
fi
out=$(port_sh $TOOLS 'cat /etc/apt/sources.list.d/backports.list; cmp /etc/apt/keyrings/backports.gpg /usr/share/keyrings/debian-archive-bookworm-automatic.gpg && echo same-key; jq --version; ls /var/lib/apt/lists | grep -cv -e ^lock -e ^partial')
# apt-get update read the repository, unless an earlier run's layer was reused (the vertex CACHED).
apt_vertex=$(grep -m1 -oE '^#[0-9]+ \[agent-tools [0-9]+/[0-9]+\] apt-get install jq$' "$WORK/port-agent-tools.log" | cut -d' ' -f1)
if [ "$out" = "deb [signed-by=/etc/apt/keyrings/backports.gpg] $PORT_MIRROR bookworm-backports main"$'\nsame-key\njq-1.6\n0' ] \
  && [ -n "$apt_vertex" ] && { log_has port-agent-tools "bookworm-backports InRelease" || grep -qx "$apt_vertex CACHED" "$WORK/port-agent-tools.log"; }; then
  pass "port agent-tools: apt read the backports repository with its key from the context; jq installed, no lists left"
else
  fail "port agent-tools: apt repository" "$out"
fi
# npm ran with root's HOME (env HOME is written after it), from the package the child's arg names.
out=$("$DOCKER" run --rm $NODE 2>&1; "$DOCKER" run --rm --entrypoint greet $NODE --version 2>&1
  port_sh $NODE 'test -d /root/.npm/_cacache && echo root-npm; ls -A /home/node; stat -c "%U:%G" /etc/agent/agent.toml /usr/local/bin/agent'
  "$DOCKER" image inspect -f '{{index .Config.Labels "org.example.npm-package"}}' $NODE)
if [ "$out" = $'agent port ready: HOME=/home/node, cwd=/home/node\ngreet 1.2.0\nroot-npm\nnode:node\nnode:node\n/npm/greet-1.2.0.tgz' ]; then
  pass "port agent-node: npm ran with HOME=/root (nothing in /home/node), greet from the child's GREET_VERSION, HOME=/home/node at run time, owner node"
else
  fail "port agent-node: npm, HOME, the child's arg, owners" "$out"
fi
out=$("$DOCKER" run --rm $GATEWAY 2>&1; port_sh $GATEWAY 'test -e /usr/local/bin/agent || echo no-agent')
stages=$(port_cargo_stages port-gateway)
if [ "$out" = $'gateway ready to forward webhooks on 0.0.0.0:8080\nno-agent' ] && [ "$("$DOCKER" run --rm --entrypoint id $GATEWAY -un)" = nobody ]; then
  pass "port gateway: the gateway alone, as nobody"
else
  fail "port gateway" "$out"
fi
if [ "$stages" = "[builder:gateway] " ]; then
  pass "port gateway: only gateway/ is compiled for it"
else
  fail "port gateway: compile scope" "cargo stages: $stages"
fi

# 4. Port parity: each spec image against the image of the Dockerfile it ports.
for variant in "${port_variants[@]}"; do
  dockerfile=${PORT_DOCKERFILE[$variant]}
  port_facts "flotilla-e2e/port-$variant" >"$WORK/port-facts-$variant"
  port_facts "flotilla-e2e/port-df-$dockerfile" >"$WORK/port-facts-df-$dockerfile"
  if ! grep -q ' /usr/local/bin/' "$WORK/port-facts-$variant"; then
    fail "port parity $variant: the image did not run" "$(head -n 3 "$WORK/port-facts-$variant")"
  elif differences=$(diff "$WORK/port-facts-df-$dockerfile" "$WORK/port-facts-$variant"); then
    pass "port parity: $variant = Dockerfile.$dockerfile (output, user, config, files and owners)"
  else
    fail "port parity: $variant differs from Dockerfile.$dockerfile" "$(grep '^[<>]' <<<"$differences" | head -n 8 | tr '\n' ' ')"
  fi
done

for variant in "${port_variants[@]}"; do
  "$DOCKER" image rm "flotilla-e2e/port-$variant" "flotilla-e2e/port-df-${PORT_DOCKERFILE[$variant]}" >/dev/null 2>&1
done
"$DOCKER" image rm flotilla-e2e/port-artifact >/dev/null 2>&1
