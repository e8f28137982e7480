//! An immutable LLB state in the style of BuildKit's `client/llb`: each op is a method that
//! returns a new state; nothing is marshaled until [`crate::llb::marshal`] runs once at the end.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::pb;
use crate::platform::Platform;

/// Where an op came from in the spec, so BuildKit can point at the spec line on failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SpecRange {
    /// 1-based line of the first character.
    pub line: u32,
    /// 1-based column of the first character.
    pub column: u32,
    /// 1-based line of the last character.
    pub end_line: u32,
}

/// What progress output shows for an op, and the spec range that made it.
#[derive(Clone, Debug, Default)]
pub struct Describe {
    /// The vertex name, e.g. `[hello 2/2] COPY hello -> /usr/local/bin/hello`.
    pub name: String,
    /// The spec lines behind the op.
    pub location: Option<SpecRange>,
}

impl From<String> for Describe {
    fn from(name: String) -> Self {
        Self {
            name,
            location: None,
        }
    }
}

impl From<&str> for Describe {
    fn from(name: &str) -> Self {
        name.to_owned().into()
    }
}

/// Metadata BuildKit keeps beside an op: its progress name, the caps it needs, its spec line.
#[derive(Clone, Debug, Default)]
pub(crate) struct VertexMeta {
    pub(crate) name: String,
    pub(crate) caps: BTreeSet<&'static str>,
    pub(crate) location: Option<SpecRange>,
}

/// One op of the graph, with its inputs still as live references (digests come at marshal time).
#[derive(Clone, Debug)]
pub(crate) struct Vertex {
    pub(crate) op: pb::op::Op,
    pub(crate) inputs: Vec<Output>,
    pub(crate) platform: Option<pb::Platform>,
    pub(crate) meta: VertexMeta,
}

/// One output of a vertex: what a later op consumes.
#[derive(Clone, Debug)]
pub(crate) struct Output {
    pub(crate) vertex: Arc<Vertex>,
    pub(crate) index: i64,
}

/// A filesystem state: the result of an op, or scratch (the empty filesystem).
#[derive(Clone, Debug, Default)]
pub struct State {
    pub(crate) output: Option<Output>,
}

/// Options of a `local://` source (a directory synced from the client's session).
#[derive(Clone, Debug, Default)]
pub struct LocalOptions {
    /// The client session that serves the directory; `None` lets BuildKit pick any.
    pub session_id: Option<String>,
    /// Only these paths are synced (cache key stays put when other files change).
    pub follow_paths: Vec<String>,
    /// Only paths matching these patterns are synced.
    pub include_patterns: Vec<String>,
    /// Patterns excluded from the sync, as in `.dockerignore`.
    pub exclude_patterns: Vec<String>,
    /// Key of the reusable snapshot for incremental syncs.
    pub shared_key_hint: Option<String>,
}

/// Sharing mode of a cache mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheSharing {
    /// Concurrent builds may use the cache at once.
    Shared,
    /// Concurrent builds wait for each other.
    Locked,
}

/// A mount of an exec op besides its root filesystem.
#[derive(Clone, Debug)]
pub enum Mount {
    /// A persistent cache directory that is never part of a layer.
    Cache {
        /// Mount point.
        dest: String,
        /// Cache id; equal ids share content across builds.
        id: String,
        /// Concurrency rule.
        sharing: CacheSharing,
    },
    /// An empty writable directory whose content becomes an output state.
    Output {
        /// Mount point.
        dest: String,
    },
    /// Another state, bind-mounted (read-only, or writable with changes discarded).
    Bind {
        /// Mount point.
        dest: String,
        /// The mounted state.
        from: State,
        /// Path inside `from` to mount; empty is its root.
        selector: String,
    },
    /// A secret the client provides (`--secret id=…`); never part of a layer.
    Secret(ClientMount),
    /// An ssh agent socket the client forwards (`--ssh id=…`); never part of a layer.
    Ssh(ClientMount),
    /// An empty in-memory filesystem.
    Tmpfs {
        /// Mount point.
        dest: String,
    },
}

/// A file or socket the client provides for one exec: a secret or an ssh agent.
#[derive(Clone, Debug)]
pub struct ClientMount {
    /// Mount point.
    pub dest: String,
    /// The id the client names it by.
    pub id: String,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Octal file mode.
    pub mode: u32,
    /// Succeed when the client does not provide it.
    pub optional: bool,
}

/// An exec op under construction: argv, environment and mounts.
#[derive(Clone, Debug, Default)]
pub struct Exec {
    /// argv; never empty.
    pub args: Vec<String>,
    /// `KEY=value` entries; the whole environment of the process.
    pub env: Vec<String>,
    /// Working directory.
    pub cwd: String,
    /// User to run as; empty means the image default (root).
    pub user: String,
    /// Mounts besides the root.
    pub mounts: Vec<Mount>,
}

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

impl ExecNetwork {
    fn apply(&self, exec: &mut pb::ExecOp, caps: &mut BTreeSet<&'static str>) {
        exec.network = match self.mode {
            NetworkMode::Sandbox => pb::NetMode::Unset,
            NetworkMode::Host => pb::NetMode::Host,
            NetworkMode::None => pb::NetMode::None,
        } as i32;
        if self.mode != NetworkMode::Sandbox {
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

/// The states an exec op produces: its root filesystem and each [`Mount::Output`] in order.
#[derive(Clone, Debug)]
pub struct ExecResult {
    /// The root filesystem after the process ran.
    pub root: State,
    /// The output mounts, in the order they were given.
    pub outputs: Vec<State>,
}

impl State {
    /// The empty filesystem.
    pub fn scratch() -> Self {
        Self::default()
    }

    /// A container image's root filesystem. `reference` must be fully normalized.
    pub fn image(reference: &str, platform: &Platform, describe: impl Into<Describe>) -> Self {
        let op = pb::op::Op::Source(pb::SourceOp {
            identifier: format!("docker-image://{reference}"),
            attrs: BTreeMap::new(),
        });
        Self::from_vertex(Vertex {
            op,
            inputs: Vec::new(),
            platform: Some(platform.to_pb()),
            meta: VertexMeta::new(describe.into(), &["source.image"]),
        })
    }

    /// A directory synced from the client (`local://name`).
    pub fn local(local_name: &str, options: &LocalOptions, describe: impl Into<Describe>) -> Self {
        let mut attrs = BTreeMap::new();
        let mut caps = vec!["source.local"];
        if let Some(session) = &options.session_id {
            attrs.insert("local.session".to_owned(), session.clone());
            caps.push("source.local.sessionid");
        }
        // BuildKit's include attribute key is singular although it holds a list.
        let lists = [
            (
                "local.followpaths",
                &options.follow_paths,
                "source.local.followpaths",
            ),
            (
                "local.includepattern",
                &options.include_patterns,
                "source.local.includepatterns",
            ),
            (
                "local.excludepatterns",
                &options.exclude_patterns,
                "source.local.excludepatterns",
            ),
        ];
        for (key, list, cap) in lists {
            if !list.is_empty() {
                attrs.insert(key.to_owned(), json_list(list));
                caps.push(cap);
            }
        }
        if let Some(hint) = &options.shared_key_hint {
            attrs.insert("local.sharedkeyhint".to_owned(), hint.clone());
            caps.push("source.local.sharedkeyhint");
        }
        let op = pb::op::Op::Source(pb::SourceOp {
            identifier: format!("local://{local_name}"),
            attrs,
        });
        Self::from_vertex(Vertex {
            op,
            inputs: Vec::new(),
            platform: None,
            meta: VertexMeta::new(describe.into(), &caps),
        })
    }

    /// Runs a process on this state as its root filesystem.
    pub fn run(
        &self,
        exec: Exec,
        platform: &Platform,
        describe: impl Into<Describe>,
    ) -> ExecResult {
        let mut caps = vec!["exec.meta.base"];
        let mut inputs: Vec<Output> = self.output.iter().cloned().collect();
        let mut mounts = vec![pb::Mount {
            input: if self.output.is_some() { 0 } else { -1 },
            dest: "/".to_owned(),
            output: 0,
            ..Default::default()
        }];
        let mut outputs_by_mount = Vec::new();
        let mut next_output = 1;
        for mount in &exec.mounts {
            match mount {
                Mount::Cache { dest, id, sharing } => {
                    caps.extend(["exec.mount.cache", "exec.mount.cache.sharing"]);
                    mounts.push(pb::Mount {
                        cache_opt: Some(pb::CacheOpt {
                            id: id.clone(),
                            sharing: match sharing {
                                CacheSharing::Shared => pb::CacheSharingOpt::Shared,
                                CacheSharing::Locked => pb::CacheSharingOpt::Locked,
                            } as i32,
                        }),
                        ..detached(dest, pb::MountType::Cache)
                    });
                }
                Mount::Bind {
                    dest,
                    from,
                    selector,
                } => {
                    caps.push("exec.mount.bind");
                    if !selector.is_empty() {
                        caps.push("exec.mount.selector");
                    }
                    let input = match &from.output {
                        Some(output) => {
                            inputs.push(output.clone());
                            inputs.len() as i64 - 1
                        }
                        None => -1,
                    };
                    mounts.push(pb::Mount {
                        input,
                        selector: selector.clone(),
                        dest: dest.clone(),
                        output: -1,
                        readonly: true,
                        ..Default::default()
                    });
                }
                Mount::Secret(secret) => {
                    caps.push("exec.mount.secret");
                    mounts.push(pb::Mount {
                        secret_opt: Some(pb::SecretOpt {
                            id: secret.id.clone(),
                            uid: secret.uid,
                            gid: secret.gid,
                            mode: secret.mode,
                            optional: secret.optional,
                        }),
                        ..detached(&secret.dest, pb::MountType::Secret)
                    });
                }
                Mount::Ssh(ssh) => {
                    caps.push("exec.mount.ssh");
                    mounts.push(pb::Mount {
                        ssh_opt: Some(pb::SshOpt {
                            id: ssh.id.clone(),
                            uid: ssh.uid,
                            gid: ssh.gid,
                            mode: ssh.mode,
                            optional: ssh.optional,
                        }),
                        ..detached(&ssh.dest, pb::MountType::Ssh)
                    });
                }
                Mount::Tmpfs { dest } => {
                    caps.push("exec.mount.tmpfs");
                    mounts.push(detached(dest, pb::MountType::Tmpfs));
                }
                Mount::Output { dest } => {
                    caps.push("exec.mount.bind");
                    mounts.push(pb::Mount {
                        input: -1,
                        dest: dest.clone(),
                        output: next_output,
                        ..Default::default()
                    });
                    outputs_by_mount.push(next_output);
                    next_output += 1;
                }
            }
        }
        // BuildKit's client sorts mounts by destination; the root "/" stays first.
        mounts.sort_by(|a, b| a.dest.cmp(&b.dest));
        let op = pb::op::Op::Exec(pb::ExecOp {
            meta: Some(pb::Meta {
                args: exec.args,
                env: exec.env,
                cwd: exec.cwd,
                user: exec.user,
                ..Default::default()
            }),
            mounts,
            network: pb::NetMode::Unset as i32,
            security: pb::SecurityMode::Sandbox as i32,
        });
        let vertex = Arc::new(Vertex {
            op,
            inputs,
            platform: Some(platform.to_pb()),
            meta: VertexMeta::new(describe.into(), &caps),
        });
        let state_of = |index| State {
            output: Some(Output {
                vertex: Arc::clone(&vertex),
                index,
            }),
        };
        ExecResult {
            root: state_of(0),
            outputs: outputs_by_mount.into_iter().map(state_of).collect(),
        }
    }

    /// This graph with every exec op on `network`; the default network leaves it unchanged.
    pub fn with_exec_network(&self, network: &ExecNetwork) -> State {
        if *network == ExecNetwork::default() {
            return self.clone();
        }
        let mut rewritten = HashMap::new();
        State {
            output: self.output.as_ref().map(|output| Output {
                vertex: with_network(&output.vertex, network, &mut rewritten),
                index: output.index,
            }),
        }
    }

    /// Whether this is the empty filesystem.
    pub fn is_scratch(&self) -> bool {
        self.output.is_none()
    }

    pub(crate) fn from_vertex(vertex: Vertex) -> Self {
        Self {
            output: Some(Output {
                vertex: Arc::new(vertex),
                index: 0,
            }),
        }
    }
}

impl VertexMeta {
    pub(crate) fn new(describe: Describe, caps: &[&'static str]) -> Self {
        Self {
            name: describe.name,
            caps: caps.iter().copied().collect(),
            location: describe.location,
        }
    }
}

/// `vertex` and everything it depends on with `network` applied to exec ops; a vertex shared
/// by several others is rewritten once, so the graph keeps its shape.
fn with_network(
    vertex: &Arc<Vertex>,
    network: &ExecNetwork,
    rewritten: &mut HashMap<*const Vertex, Arc<Vertex>>,
) -> Arc<Vertex> {
    if let Some(done) = rewritten.get(&Arc::as_ptr(vertex)) {
        return Arc::clone(done);
    }
    let mut copy = Vertex::clone(vertex);
    for input in &mut copy.inputs {
        input.vertex = with_network(&input.vertex, network, rewritten);
    }
    if let pb::op::Op::Exec(exec) = &mut copy.op {
        network.apply(exec, &mut copy.meta.caps);
    }
    let copy = Arc::new(copy);
    rewritten.insert(Arc::as_ptr(vertex), Arc::clone(&copy));
    copy
}

/// A mount with no input state and no output: cache, secret, ssh and tmpfs mounts.
fn detached(dest: &str, mount_type: pb::MountType) -> pb::Mount {
    pb::Mount {
        input: -1,
        dest: dest.to_owned(),
        output: -1,
        mount_type: mount_type as i32,
        ..Default::default()
    }
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::llb::{MarshalOptions, marshal};

    #[test]
    fn exec_network_reaches_every_exec_once() {
        let platform = Platform::linux("amd64");
        let exec = |script: &str| Exec {
            args: vec!["/bin/sh".into(), "-c".into(), script.into()],
            cwd: "/".into(),
            ..Default::default()
        };
        let base = State::image("docker.io/library/debian:bookworm-slim", &platform, "base");
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
        let execs: Vec<pb::ExecOp> = definition
            .def
            .iter()
            .filter_map(|bytes| match pb::Op::decode(bytes.as_slice()).ok()?.op? {
                pb::op::Op::Exec(exec) => Some(exec),
                _ => None,
            })
            .collect();
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
        let unchanged = graph.with_exec_network(&ExecNetwork::default());
        assert!(Arc::ptr_eq(
            &unchanged.output.unwrap().vertex,
            &graph.output.unwrap().vertex
        ));
    }
}
