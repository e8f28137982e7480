//! The network of a build's processes, applied to a finished graph.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::state::{Output, State, Vertex, post_order};
use crate::pb;

/// The network of a build's processes: docker build's `--network` and `--add-host`. It is
/// a property of the whole build, so it is applied to a finished graph rather than per step.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecNetwork {
    /// Which network the processes get.
    pub mode: NetworkMode,
    /// `(host, ip)` entries added to each process's `/etc/hosts`.
    pub extra_hosts: Vec<(String, String)>,
}

/// BuildKit's network modes of an exec.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NetworkMode {
    /// BuildKit's default: an isolated network namespace with outbound access.
    #[default]
    Sandbox,
    /// The host's network; BuildKit requires the `network.host` entitlement.
    Host,
    /// No network but loopback.
    None,
}

impl NetworkMode {
    /// Reads docker build's `--network` (the frontend option `force-network-mode`).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "sandbox" | "default" => Ok(Self::Sandbox),
            "host" => Ok(Self::Host),
            "none" => Ok(Self::None),
            other => Err(format!(
                "`{other}` is not a network mode; use host, none or sandbox"
            )),
        }
    }

    /// The mode as an exec op carries it.
    pub(super) fn to_pb(self) -> pb::NetMode {
        match self {
            Self::Sandbox => pb::NetMode::Unset,
            Self::Host => pb::NetMode::Host,
            Self::None => pb::NetMode::None,
        }
    }
}

impl ExecNetwork {
    /// Reads one `--add-host` entry, `host=ip` (an entry of the frontend option `add-hosts`).
    pub fn parse_host(entry: &str) -> Result<(String, String), String> {
        entry
            .split_once('=')
            .filter(|(host, ip)| !host.is_empty() && ip.parse::<std::net::IpAddr>().is_ok())
            .map(|(host, ip)| (host.to_owned(), ip.to_owned()))
            .ok_or_else(|| format!("`{entry}` is not host=ip"))
    }

    /// Puts an exec on this network, unless it chose its own mode (as `RUN --network` does).
    fn apply(&self, exec: &mut pb::ExecOp, caps: &mut BTreeSet<&'static str>) {
        if exec.network == pb::NetMode::Unset as i32 && self.mode != NetworkMode::Sandbox {
            exec.network = self.mode.to_pb() as i32;
            caps.insert("exec.meta.network");
        }
        if let Some(meta) = &mut exec.meta {
            meta.extra_hosts
                .extend(self.extra_hosts.iter().map(|(host, ip)| pb::HostIp {
                    host: host.clone(),
                    ip: ip.clone(),
                }));
        }
    }
}
impl State {
    /// This graph with every exec op on `network`; the default network leaves it unchanged.
    pub fn with_exec_network(&self, network: &ExecNetwork) -> State {
        if *network == ExecNetwork::default() {
            return self.clone();
        }
        State {
            output: self.output.as_ref().map(|output| Output {
                vertex: with_network(&output.vertex, network),
                index: output.index,
            }),
        }
    }
}

/// `root` and everything it depends on with `network` applied to exec ops; a vertex shared
/// by several others is rewritten once, so the graph keeps its shape.
fn with_network(root: &Arc<Vertex>, network: &ExecNetwork) -> Arc<Vertex> {
    let mut rewritten: HashMap<*const Vertex, Arc<Vertex>> = HashMap::new();
    for vertex in post_order(root) {
        let mut copy = Vertex::clone(vertex);
        for input in &mut copy.inputs {
            input.vertex = Arc::clone(&rewritten[&Arc::as_ptr(&input.vertex)]);
        }
        if let pb::op::Op::Exec(exec) = &mut copy.op {
            network.apply(exec, &mut copy.meta.caps);
        }
        rewritten.insert(Arc::as_ptr(vertex), Arc::new(copy));
    }
    Arc::clone(&rewritten[&Arc::as_ptr(root)])
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::llb::{Exec, MarshalOptions, Mount, ResolveMode, marshal};
    use crate::platform::Platform;

    fn exec_ops(definition: &pb::Definition) -> Vec<pb::ExecOp> {
        definition
            .def
            .iter()
            .filter_map(|bytes| match pb::Op::decode(bytes.as_slice()).ok()?.op? {
                pb::op::Op::Exec(exec) => Some(exec),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn exec_network_reaches_every_exec_once() {
        let platform = Platform::linux("amd64");
        let exec = |script: &str| Exec {
            args: vec!["/bin/sh".into(), "-c".into(), script.into()],
            cwd: "/".into(),
            ..Default::default()
        };
        let base = State::image(
            "docker.io/library/debian:bookworm-slim",
            ResolveMode::Default,
            &platform,
            "base",
        );
        let first = base.run(exec("a"), &platform, "a").root;
        let mut second = exec("b");
        second.mounts.push(Mount::Bind {
            dest: "/a".into(),
            from: first.clone(),
            selector: String::new(),
        });
        let graph = first.run(second, &platform, "b").root;
        let network = ExecNetwork {
            mode: NetworkMode::None,
            extra_hosts: vec![("myhost".into(), "10.1.2.3".into())],
        };
        let definition = marshal(
            &graph.with_exec_network(&network),
            MarshalOptions::default(),
        );
        let execs = exec_ops(&definition);
        assert_eq!(execs.len(), 2, "the shared exec is still one op");
        for exec in execs {
            assert_eq!(exec.network, pb::NetMode::None as i32);
            let hosts = exec.meta.unwrap().extra_hosts;
            assert_eq!(
                (hosts[0].host.as_str(), hosts[0].ip.as_str()),
                ("myhost", "10.1.2.3")
            );
        }
        assert!(
            definition
                .metadata
                .values()
                .any(|m| m.caps.contains_key("exec.meta.network"))
        );
        // An exec that chose its own mode keeps it, as `RUN --network=none` under `--network host`.
        let offline = base.run(
            Exec {
                network: NetworkMode::None,
                ..exec("c")
            },
            &platform,
            "c",
        );
        let host = ExecNetwork {
            mode: NetworkMode::Host,
            extra_hosts: Vec::new(),
        };
        let definition = marshal(
            &offline.root.with_exec_network(&host),
            MarshalOptions::default(),
        );
        let modes: Vec<i32> = exec_ops(&definition).iter().map(|e| e.network).collect();
        assert_eq!(modes, [pb::NetMode::None as i32]);
        let unchanged = graph.with_exec_network(&ExecNetwork::default());
        assert!(Arc::ptr_eq(
            &unchanged.output.unwrap().vertex,
            &graph.output.unwrap().vertex
        ));
    }
}
