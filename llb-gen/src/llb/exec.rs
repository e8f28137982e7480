//! Exec ops: a process run on a state, with its mounts and the states it produces.

use std::sync::Arc;

use super::network::NetworkMode;
use super::state::{Describe, Output, State, Vertex, VertexMeta};
use crate::pb;
use crate::platform::Platform;

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
    /// Another state, bind-mounted read-only.
    Bind {
        /// Mount point.
        dest: String,
        /// The mounted state.
        from: State,
        /// Path inside `from` to mount; empty is its root.
        selector: String,
    },
    /// Another state, bind-mounted writable: what the process writes there is discarded, so
    /// the state is used in place instead of copied into a layer first.
    BindWritable {
        /// Mount point.
        dest: String,
        /// The mounted state.
        from: State,
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
    /// Its network; a build's `--network` applies to the execs left on the default sandbox.
    pub network: NetworkMode,
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
                    mounts.push(pb::Mount {
                        selector: selector.clone(),
                        readonly: true,
                        ..bound(dest, from, &mut inputs)
                    });
                }
                Mount::BindWritable { dest, from } => {
                    caps.extend(["exec.mount.bind", "exec.mount.bind.readwrite-nooutput"]);
                    mounts.push(bound(dest, from, &mut inputs));
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
        if exec.network != NetworkMode::Sandbox {
            caps.push("exec.meta.network");
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
            network: exec.network.to_pb() as i32,
            security: pb::SecurityMode::Sandbox as i32,
        });
        let vertex = Arc::new(Vertex::new(
            op,
            inputs,
            Some(platform.to_pb()),
            VertexMeta::new(describe.into(), &caps),
        ));
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
}

/// A bind mount of `from` (added to `inputs`) that produces no output.
fn bound(dest: &str, from: &State, inputs: &mut Vec<Output>) -> pb::Mount {
    let input = match &from.output {
        Some(output) => {
            inputs.push(output.clone());
            inputs.len() as i64 - 1
        }
        None => -1,
    };
    pb::Mount {
        input,
        dest: dest.to_owned(),
        output: -1,
        ..Default::default()
    }
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
