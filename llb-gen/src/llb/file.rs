//! FileOp: copy, mkdir, mkfile and rm actions applied in one op, each on the previous result.

use std::collections::BTreeSet;

use super::state::{Describe, Output, State, Vertex, VertexMeta};
use crate::pb;
use crate::platform::Platform;

/// Timestamps use -1 for "unset": 0 would mean the Unix epoch.
const UNSET_TIMESTAMP: i64 = -1;
/// A copy mode of -1 keeps the source file's mode.
const KEEP_MODE: i32 = -1;
/// Mode of the directories a copy writes into, when they are missing.
const DEST_DIR_MODE: u32 = 0o755;

/// How a copy behaves; the defaults are those of a Dockerfile `COPY`.
#[derive(Clone, Debug)]
pub struct CopyOptions {
    /// Copy a directory's contents rather than the directory itself.
    pub dir_contents: bool,
    /// Octal mode for the copied files; `None` keeps the source mode.
    pub mode: Option<u32>,
    /// Owner of the copied files (`--chown`); `None` keeps the source owner.
    pub owner: Option<Owner>,
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self {
            dir_contents: true,
            mode: None,
            owner: None,
        }
    }
}

/// One copy action of a FileOp: `src` in `from` to `dest` in the state being built. The
/// directory it writes into is made first when missing (see [`State::file`]).
#[derive(Clone, Debug)]
pub struct Copy {
    /// The state the files come from.
    pub from: State,
    /// Absolute path in `from`.
    pub src: String,
    /// Absolute path in the target state.
    pub dest: String,
    /// Copy behaviour.
    pub options: CopyOptions,
}

/// A user or group, by id or by name (names resolve in the target state's /etc/passwd).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserRef {
    /// Numeric id.
    Id(u32),
    /// Name looked up in the state being written.
    Name(String),
}

/// Owner of written files, as `--chown=user[:group]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The user.
    pub user: UserRef,
    /// The group; `None` uses the user's.
    pub group: Option<UserRef>,
}

impl Owner {
    /// Parses `user[:group]`, each part a name or a numeric id.
    pub fn parse(text: &str) -> Option<Self> {
        let part = |text: &str| -> Option<UserRef> {
            if text.is_empty() {
                None
            } else if let Ok(id) = text.parse() {
                Some(UserRef::Id(id))
            } else {
                Some(UserRef::Name(text.to_owned()))
            }
        };
        match text.split_once(':') {
            Some((user, group)) => Some(Self {
                user: part(user)?,
                group: Some(part(group)?),
            }),
            None => Some(Self {
                user: part(text)?,
                group: None,
            }),
        }
    }

    fn to_pb(&self, input: i64) -> pb::ChownOpt {
        let user = |user: &UserRef| pb::UserOpt {
            user: Some(match user {
                UserRef::Id(id) => pb::user_opt::User::ById(*id),
                UserRef::Name(name) => pb::user_opt::User::ByName(pb::NamedUserOpt {
                    name: name.clone(),
                    input,
                }),
            }),
        };
        pb::ChownOpt {
            user: Some(user(&self.user)),
            group: self.group.as_ref().map(user),
        }
    }
}

/// One action of a FileOp.
#[derive(Clone, Debug)]
pub enum FileAction {
    /// Copy from another state.
    Copy(Copy),
    /// Create a directory.
    Mkdir {
        /// Absolute path.
        path: String,
        /// Octal mode.
        mode: u32,
        /// Create missing parents.
        parents: bool,
        /// Owner; `None` is root.
        owner: Option<Owner>,
    },
    /// Create a file with the given content.
    Mkfile {
        /// Absolute path.
        path: String,
        /// Octal mode.
        mode: u32,
        /// Content.
        data: Vec<u8>,
        /// Owner; `None` is root.
        owner: Option<Owner>,
    },
    /// Remove a path.
    Rm {
        /// Absolute path (wildcards are not expanded).
        path: String,
        /// Succeed when the path does not exist.
        allow_not_found: bool,
    },
}

impl State {
    /// Applies copies in one FileOp, each on top of the previous one's result.
    pub fn copy(
        &self,
        copies: &[Copy],
        platform: &Platform,
        describe: impl Into<Describe>,
    ) -> Self {
        let actions: Vec<FileAction> = copies.iter().cloned().map(FileAction::Copy).collect();
        self.file(&actions, platform, describe)
    }

    /// Applies `actions` in one FileOp, each on top of the previous one's result. Each copy is
    /// preceded by a `mkdir -p` of the directory it writes into, 0755 whatever the copy's mode,
    /// and owned by the copy's owner (root's when it sets none), as a Dockerfile's
    /// `COPY --chown` makes it. BuildKit would make it itself with that owner, but with mode 0755
    /// in 0.8 and Docker 26 and the copy's mode in current releases (0644: a directory nobody
    /// can enter). An existing directory is left as it is; of several copies into one missing
    /// directory, the first one's owner makes it.
    pub fn file(
        &self,
        actions: &[FileAction],
        platform: &Platform,
        describe: impl Into<Describe>,
    ) -> Self {
        let actions = &with_dest_dirs(actions);
        let mut inputs: Vec<Output> = self.output.iter().cloned().collect();
        let base_input = if self.output.is_some() { 0 } else { -1 };
        let secondaries: Vec<i64> = actions
            .iter()
            .map(|action| match action {
                FileAction::Copy(Copy {
                    from:
                        State {
                            output: Some(output),
                        },
                    ..
                }) => {
                    inputs.push(output.clone());
                    inputs.len() as i64 - 1
                }
                _ => -1,
            })
            .collect();
        let input_count = inputs.len() as i64;
        let last = actions.len().saturating_sub(1);
        let actions = actions
            .iter()
            .zip(secondaries)
            .enumerate()
            .map(|(k, (action, secondary))| {
                // The first action reads the base state; later ones the previous action's result.
                let input = if k == 0 {
                    base_input
                } else {
                    input_count + k as i64 - 1
                };
                pb::FileAction {
                    input,
                    secondary_input: secondary,
                    output: if k == last { 0 } else { -1 },
                    action: Some(action.to_pb(input)),
                }
            })
            .collect();
        Self::from_vertex(Vertex::new(
            pb::op::Op::File(pb::FileOp { actions }),
            inputs,
            Some(platform.to_pb()),
            VertexMeta::new(describe.into(), &["file.base"]),
        ))
    }
}

/// `actions` with a mkdir of each copy's destination directory, with its owner, before the
/// copy, once per directory.
fn with_dest_dirs(actions: &[FileAction]) -> Vec<FileAction> {
    let mut made = BTreeSet::new();
    let mut expanded = Vec::with_capacity(actions.len());
    for action in actions {
        if let FileAction::Copy(copy) = action
            && let Some(dir) = dest_dir(&copy.dest)
            && made.insert(dir)
        {
            expanded.push(FileAction::Mkdir {
                path: dir.to_owned(),
                mode: DEST_DIR_MODE,
                parents: true,
                owner: copy.options.owner.clone(),
            });
        }
        expanded.push(action.clone());
    }
    expanded
}

/// The directory a copy to `dest` writes into, as BuildKit splits it (`filepath.Split`): all
/// before the last `/`, so `/etc/app/` and `/etc/app/app.toml` both give `/etc/app`. `None` for
/// the root, which always exists.
fn dest_dir(dest: &str) -> Option<&str> {
    let (dir, _) = dest.rsplit_once('/')?;
    Some(dir.trim_end_matches('/')).filter(|dir| !dir.is_empty())
}

impl FileAction {
    /// The protobuf action; `input` is the index the action writes on (for owner names).
    fn to_pb(&self, input: i64) -> pb::file_action::Action {
        use pb::file_action::Action;
        let owner = |owner: &Option<Owner>| owner.as_ref().map(|owner| owner.to_pb(input));
        match self {
            Self::Copy(copy) => Action::Copy(pb::FileActionCopy {
                src: copy.src.clone(),
                dest: copy.dest.clone(),
                owner: owner(&copy.options.owner),
                mode: copy.options.mode.map_or(KEEP_MODE, |mode| mode as i32),
                follow_symlink: true,
                dir_copy_contents: copy.options.dir_contents,
                attempt_unpack_docker_compatibility: false,
                // Its directory is already made by the mkdir before it (`with_dest_dirs`).
                create_dest_path: true,
                allow_wildcard: false,
                allow_empty_wildcard: false,
                timestamp: UNSET_TIMESTAMP,
            }),
            Self::Mkdir {
                path,
                mode,
                parents,
                owner: who,
            } => Action::Mkdir(pb::FileActionMkDir {
                path: path.clone(),
                mode: *mode as i32,
                make_parents: *parents,
                owner: owner(who),
                timestamp: UNSET_TIMESTAMP,
            }),
            Self::Mkfile {
                path,
                mode,
                data,
                owner: who,
            } => Action::Mkfile(pb::FileActionMkFile {
                path: path.clone(),
                mode: *mode as i32,
                data: data.clone(),
                owner: owner(who),
                timestamp: UNSET_TIMESTAMP,
            }),
            Self::Rm {
                path,
                allow_not_found,
            } => Action::Rm(pb::FileActionRm {
                path: path.clone(),
                allow_not_found: *allow_not_found,
                allow_wildcard: false,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llb::ResolveMode;

    #[test]
    fn parses_chown_specs() {
        assert_eq!(
            Owner::parse("1000:1000"),
            Some(Owner {
                user: UserRef::Id(1000),
                group: Some(UserRef::Id(1000))
            })
        );
        assert_eq!(
            Owner::parse("agent"),
            Some(Owner {
                user: UserRef::Name("agent".into()),
                group: None
            })
        );
        assert_eq!(Owner::parse(""), None);
        assert_eq!(Owner::parse("a:"), None);
    }

    fn file_op(state: &State) -> (&[Output], &pb::FileOp) {
        let vertex = &state.output.as_ref().unwrap().vertex;
        let pb::op::Op::File(file) = &vertex.op else {
            panic!("a file op")
        };
        (&vertex.inputs, file)
    }

    fn copy_to(from: &State, dest: &str, mode: Option<u32>, owner: &str) -> Copy {
        Copy {
            from: from.clone(),
            src: "/f".into(),
            dest: dest.into(),
            options: CopyOptions {
                mode,
                owner: Owner::parse(owner),
                ..CopyOptions::default()
            },
        }
    }

    #[test]
    fn a_copy_makes_its_directory_0755_and_the_copys_owner_first() {
        let platform = Platform::linux("amd64");
        let base = State::image(
            "docker.io/library/debian:bookworm-slim",
            ResolveMode::Default,
            &platform,
            "base",
        );
        let context = State::local("context", &Default::default(), "context");
        let state = base.copy(
            &[copy_to(
                &context,
                "/etc/openab/config.toml",
                Some(0o644),
                "agent:agent",
            )],
            &platform,
            "copy",
        );
        let (inputs, file) = file_op(&state);
        assert_eq!(inputs.len(), 2, "the base and the context");
        let [mkdir, copy] = file.actions.as_slice() else {
            panic!("{:?}", file.actions)
        };
        assert_eq!(
            mkdir.action,
            Some(pb::file_action::Action::Mkdir(pb::FileActionMkDir {
                path: "/etc/openab".into(),
                mode: 0o755,
                make_parents: true,
                // As `COPY --chown`: the names are resolved in the base (input 0).
                owner: Owner::parse("agent:agent").map(|owner| owner.to_pb(0)),
                timestamp: -1,
            }))
        );
        // The mkdir works on the base and its result feeds the copy (action 0 is index 2).
        assert_eq!(
            (mkdir.input, mkdir.secondary_input, mkdir.output),
            (0, -1, -1)
        );
        assert_eq!((copy.input, copy.secondary_input, copy.output), (2, 1, 0));
        let Some(pb::file_action::Action::Copy(copy)) = &copy.action else {
            panic!("a copy")
        };
        assert_eq!(
            (copy.dest.as_str(), copy.mode),
            ("/etc/openab/config.toml", 0o644)
        );
        assert!(copy.owner.is_some());
    }

    #[test]
    fn copies_make_each_destination_directory_once_and_never_the_root() {
        let platform = Platform::linux("amd64");
        let context = State::local("context", &Default::default(), "context");
        let state = State::scratch().copy(
            &[
                copy_to(&context, "/usr/local/bin/a", Some(0o750), "app"),
                copy_to(&context, "/usr/local/bin/b", None, ""),
                copy_to(&context, "/etc/app/", Some(0o600), ""),
                copy_to(&context, "/top", Some(0o600), ""),
            ],
            &platform,
            "copy",
        );
        let (_, file) = file_op(&state);
        let actions: Vec<String> = file
            .actions
            .iter()
            .map(|action| match &action.action {
                Some(pb::file_action::Action::Mkdir(mkdir)) if mkdir.owner.is_some() => {
                    format!("mkdir {} (owned)", mkdir.path)
                }
                Some(pb::file_action::Action::Mkdir(mkdir)) => format!("mkdir {}", mkdir.path),
                Some(pb::file_action::Action::Copy(copy)) => format!("copy {}", copy.dest),
                other => panic!("{other:?}"),
            })
            .collect();
        // The first copy into a directory gives it its owner (none: root's).
        assert_eq!(
            actions,
            [
                "mkdir /usr/local/bin (owned)",
                "copy /usr/local/bin/a",
                "copy /usr/local/bin/b",
                "mkdir /etc/app",
                "copy /etc/app/",
                "copy /top"
            ]
        );
        // On scratch, the first action starts from nothing.
        assert_eq!(file.actions[0].input, -1);
    }

    #[test]
    fn a_destinations_directory_is_what_precedes_its_last_slash() {
        assert_eq!(dest_dir("/etc/app/app.toml"), Some("/etc/app"));
        assert_eq!(dest_dir("/etc/app/"), Some("/etc/app"));
        assert_eq!(dest_dir("/etc/app/."), Some("/etc/app"));
        assert_eq!(dest_dir("/etc//app"), Some("/etc"));
        assert_eq!(dest_dir("/build"), None);
        assert_eq!(dest_dir("/"), None);
        assert_eq!(dest_dir("relative"), None);
    }

    #[test]
    fn chained_actions_read_the_previous_result() {
        let platform = Platform::linux("amd64");
        let base = State::image(
            "docker.io/library/debian:bookworm-slim",
            ResolveMode::Default,
            &platform,
            "base",
        );
        let state = base.file(
            &[
                FileAction::Mkdir {
                    path: "/a".into(),
                    mode: 0o755,
                    parents: true,
                    owner: None,
                },
                FileAction::Mkfile {
                    path: "/a/f".into(),
                    mode: 0o644,
                    data: b"x".to_vec(),
                    owner: Owner::parse("agent"),
                },
                FileAction::Rm {
                    path: "/tmp/x".into(),
                    allow_not_found: true,
                },
            ],
            &platform,
            "files",
        );
        let vertex = &state.output.as_ref().unwrap().vertex;
        let pb::op::Op::File(file) = &vertex.op else {
            panic!("a file op")
        };
        let chain: Vec<(i64, i64)> = file.actions.iter().map(|a| (a.input, a.output)).collect();
        assert_eq!(chain, [(0, -1), (1, -1), (2, 0)]);
        let Some(pb::file_action::Action::Mkfile(mkfile)) = &file.actions[1].action else {
            panic!()
        };
        let owner = mkfile.owner.as_ref().unwrap().user.as_ref().unwrap();
        assert_eq!(
            owner.user,
            Some(pb::user_opt::User::ByName(pb::NamedUserOpt {
                name: "agent".into(),
                input: 1
            }))
        );
    }
}
