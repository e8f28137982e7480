//! The variant graphs of examples/variants (one op per spec step, named and mapped to its spec
//! line, with the base image's env, user and workdir, apt and run mounts, and context copies)
//! and of examples/openab (the shape of openab's agent images), and the 0755 directories that
//! copies, binaries and the artifact write into.

use std::collections::BTreeMap;

use llb_gen::graph::BuildFacts;
use llb_gen::image::ImageConfig;
use llb_gen::llb::SourceFile;
use llb_gen::pb::{self, file_action::Action, op::Op as Payload};
use llb_gen::plan::{self, BuildRequest, Built};
use llb_gen::platform::Platform;
use llb_gen::resolve::ArgValues;
use llb_gen::{Error, load, target};
use prost::Message;

const VARIANTS: &str = include_str!("../../examples/variants/flotilla.yaml");
const OPENAB: &str = include_str!("../../examples/openab/flotilla.yaml");
const PREBUILT: (&str, &str) = ("BUILDER_IMAGE", "localhost:5000/a:1");
const BASE_CONFIG: &str = r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin:/bin","LANG=C"],"User":"nobody","WorkingDir":"/home"}}"#;

fn build(target_name: &str, platform: &str, args: &[(&str, &str)]) -> Result<Built, Error> {
    let args: Vec<(&str, &str)> = args.iter().copied().chain([PREBUILT]).collect();
    build_spec(VARIANTS, target_name, platform, &args)
}

/// `text`'s target as llb-gen's plan builds it on amd64, compiled unless `args` name a
/// `BUILDER_IMAGE`.
fn build_spec(
    text: &str,
    target_name: &str,
    platform: &str,
    args: &[(&str, &str)],
) -> Result<Built, Error> {
    let spec = load(text, "flotilla.yaml")?;
    let build_args: BTreeMap<String, String> = args
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let values = ArgValues {
        build_args,
        target_platform: platform.parse().unwrap(),
        build_platform: Platform::linux("amd64"),
    };
    let request = BuildRequest::new(Some(target_name.to_owned()), values)?;
    let plan = plan::plan(&spec, &request)?;
    let facts = BuildFacts {
        session_id: Some("s".to_owned()),
        base_config: Some(ImageConfig::from_json(BASE_CONFIG.as_bytes()).unwrap()),
        ..plan.known_facts()
    };
    let source = SourceFile {
        name: "flotilla.yaml",
        data: text.as_bytes(),
    };
    plan.build(&facts, source)
}

fn kiro() -> Built {
    build("kiro", "linux/amd64", &[("CACHE_ID", "c1")]).unwrap()
}

/// Each op with its vertex name, in definition order.
fn named_ops(definition: &pb::Definition) -> Vec<(String, pb::Op)> {
    definition
        .def
        .iter()
        .map(|bytes| {
            let digest = llb_gen::llb::digest_of(bytes);
            let name = definition.metadata[&digest]
                .description
                .get("llb.customname")
                .cloned()
                .unwrap_or_default();
            (name, pb::Op::decode(bytes.as_slice()).unwrap())
        })
        .collect()
}

fn exec_named(definition: &pb::Definition, prefix: &str) -> pb::ExecOp {
    named_ops(definition)
        .into_iter()
        .find_map(|(name, op)| match op.op {
            Some(Payload::Exec(exec)) if name.starts_with(prefix) => Some(exec),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no exec named {prefix}"))
}

/// The actions of the FileOps whose vertex name starts with `prefix`.
fn file_actions_named(definition: &pb::Definition, prefix: &str) -> Vec<pb::FileAction> {
    named_ops(definition)
        .into_iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .filter_map(|(_, op)| match op.op {
            Some(Payload::File(file)) => Some(file.actions),
            _ => None,
        })
        .flatten()
        .collect()
}

fn copies_named(definition: &pb::Definition, prefix: &str) -> Vec<pb::FileActionCopy> {
    file_actions_named(definition, prefix)
        .into_iter()
        .filter_map(|action| match action.action {
            Some(Action::Copy(copy)) => Some(copy),
            _ => None,
        })
        .collect()
}

#[test]
fn every_step_is_one_named_vertex_in_spec_order() {
    let names: Vec<String> = named_ops(&kiro().definition)
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| name.starts_with("[kiro"))
        .collect();
    assert_eq!(
        names,
        [
            "[kiro 1/10] FROM debian:bookworm-slim",
            "[kiro 2/10] apt-get install jq tini",
            "[kiro 3/10] RUN useradd --uid 1001 --user-group --create-home app",
            "[kiro 4/10] RUN echo \"amd64\" > /etc/flotilla-arch",
            "[kiro 5/10] RUN /bin/sh -c 'echo \"hello from $STEP\" > /etc/greeting'",
            "[kiro 6/10] RUN echo \"bust 0\" …",
            "[kiro 7/10] RUN sha256sum /run/secrets/token | cut -c1-64 > /home/app/token.sha256",
            "[kiro] load build context: config/app.toml, static",
            "[kiro 8/10] COPY config/app.toml -> /etc/app/app.toml, static -> /srv/app/static",
            "[kiro 9/10] WORKDIR /srv/app",
            "[kiro 10/10] COPY hello -> /usr/local/bin/hello, hello-gateway -> /usr/local/bin/hello-gateway",
        ]
    );
}

#[test]
fn ops_point_at_their_spec_lines() {
    let definition = kiro().definition;
    let source = definition.source.as_ref().unwrap();
    let line_of = |prefix: &str| {
        let (digest, _) = definition
            .metadata
            .iter()
            .find(|(_, m)| {
                m.description
                    .get("llb.customname")
                    .is_some_and(|name| name.starts_with(prefix))
            })
            .unwrap();
        source.locations[digest].locations[0].ranges[0]
            .start
            .as_ref()
            .unwrap()
            .line
    };
    assert_eq!(
        line_of("[kiro 1/10]"),
        18,
        "FROM comes from the abstract base"
    );
    assert_eq!(line_of("[kiro 2/10]"), 23, "packages come from `tools`");
    assert_eq!(line_of("[kiro 3/10]"), 29);
    assert_eq!(line_of("[kiro 5/10]"), 31);
}

#[test]
fn packages_use_locked_apt_caches_and_leave_the_apt_setup_alone() {
    let exec = exec_named(&kiro().definition, "[kiro 2/10]");
    let meta = exec.meta.unwrap();
    let script = &meta.args[2];
    assert_eq!(&meta.args[..2], ["/bin/sh", "-c"]);
    for part in [
        "mv /etc/apt/apt.conf.d/docker-clean \"$held/\"\n",
        "apt-get -o Acquire::Languages=none update\n",
        // dpkg's fsync per file only slows the step: a failed step leaves no layer.
        "apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-unsafe-io \"$@\"\n",
        "rm -rf /var/lib/apt/lists/*\n",
        "mv \"$held/docker-clean\" /etc/apt/apt.conf.d/\n",
    ] {
        assert!(script.contains(part), "{part} in {script}");
    }
    assert_eq!(
        script.matches("rm ").count(),
        1,
        "the lists are all the step removes: {script}"
    );
    assert_eq!(
        meta.args[3..],
        ["apt-install", "0", "jq", "tini"],
        "the packages are arguments, not script text"
    );
    assert_eq!(meta.user, "root", "apt runs as root whatever the base user");
    assert!(
        meta.env
            .contains(&"DEBIAN_FRONTEND=noninteractive".to_owned())
    );
    let caches: Vec<(String, String, i32)> = exec
        .mounts
        .iter()
        .filter_map(|m| {
            Some((
                m.dest.clone(),
                m.cache_opt.as_ref()?.id.clone(),
                m.cache_opt.as_ref()?.sharing,
            ))
        })
        .collect();
    let locked = pb::CacheSharingOpt::Locked as i32;
    assert_eq!(
        caches,
        [(
            "/var/cache/apt".into(),
            "/flotilla-apt-cache-linux-amd64".into(),
            locked
        ),]
    );
}

#[test]
fn run_steps_get_base_env_user_and_the_workdir_in_force() {
    let definition = kiro().definition;
    let shell = exec_named(&definition, "[kiro 3/10]").meta.unwrap();
    assert_eq!(
        shell.args,
        [
            "/bin/sh",
            "-c",
            "useradd --uid 1001 --user-group --create-home app"
        ]
    );
    assert_eq!(
        shell.env,
        [
            "PATH=/srv/app/bin:/usr/bin:/bin",
            "LANG=C",
            "APP_HOME=/srv/app"
        ],
        "env values expand earlier entries and the base image's env, as ENV does"
    );
    assert_eq!(shell.user, "nobody", "the base image's user");
    assert_eq!(
        shell.cwd, "/home",
        "the base image's workdir: kiro writes its `workdir` after its steps"
    );
    let argv = exec_named(&definition, "[kiro 5/10]").meta.unwrap();
    assert_eq!(
        argv.args,
        ["/bin/sh", "-c", "echo \"hello from $STEP\" > /etc/greeting"],
        "argv form is run as given, after substitution"
    );
    assert_eq!(argv.env.last().map(String::as_str), Some("STEP=argv"));
}

#[test]
fn run_steps_mount_caches_and_secrets() {
    let definition = kiro().definition;
    let cached = exec_named(&definition, "[kiro 6/10]");
    let cache = cached.mounts.iter().find(|m| m.dest == "/cache").unwrap();
    assert_eq!(cache.mount_type, pb::MountType::Cache as i32);
    let opt = cache.cache_opt.as_ref().unwrap();
    assert_eq!(
        (opt.id.as_str(), opt.sharing),
        ("/c1", pb::CacheSharingOpt::Locked as i32)
    );
    assert!(cached.meta.unwrap().args[2].contains("count=$(( $(cat /cache/count"));
    let secret = exec_named(&definition, "[kiro 7/10]");
    let mount = secret
        .mounts
        .iter()
        .find(|m| m.dest == "/run/secrets/token")
        .unwrap();
    assert_eq!(mount.mount_type, pb::MountType::Secret as i32);
    let opt = mount.secret_opt.as_ref().unwrap();
    assert_eq!(
        (opt.id.as_str(), opt.uid, opt.mode, opt.optional),
        ("token", 1001, 0o400, false)
    );
    assert_eq!(secret.meta.unwrap().user, "app", "the step's own user");
}

#[test]
fn ssh_mounts_forward_agents_and_set_ssh_auth_sock() {
    let spec = "version: 1
builder: {image: rust:1-bookworm, binaries: [hello]}
variants:
  git:
    from: debian:bookworm-slim
    run:
      - run: ssh-add -l
        ssh: true
      - run: git clone
        ssh: [{id: deploy, target: /agent, required: true, uid: 1001, mode: '0660'}, {}]
      - run: ssh -T git@example.com
        ssh: [{}]
        env: {SSH_AUTH_SOCK: /mine}
      - run: echo none
        ssh: false
";
    let definition = build_spec(spec, "git", "linux/amd64", &[])
        .unwrap()
        .definition;
    let sockets = |exec: &pb::ExecOp| -> Vec<(String, pb::SshOpt)> {
        exec.mounts
            .iter()
            .filter(|m| m.mount_type == pb::MountType::Ssh as i32)
            .map(|m| {
                assert_eq!((m.input, m.output), (-1, -1), "no input, never a layer");
                (m.dest.clone(), m.ssh_opt.clone().unwrap())
            })
            .collect()
    };
    let agent = |exec: &pb::ExecOp| -> Vec<String> {
        let env = &exec.meta.as_ref().unwrap().env;
        env.iter()
            .filter(|e| e.starts_with("SSH_AUTH_SOCK="))
            .cloned()
            .collect()
    };
    let opt = |id: &str, uid, mode, optional| pb::SshOpt {
        id: id.into(),
        uid,
        gid: 0,
        mode,
        optional,
    };

    let default = exec_named(&definition, "[git 2/5]");
    assert_eq!(
        sockets(&default),
        [(
            "/run/buildkit/ssh_agent.0".into(),
            opt("default", 0, 0o600, true)
        )],
        "`ssh: true` is Dockerfile's `--mount=type=ssh`"
    );
    assert_eq!(agent(&default), ["SSH_AUTH_SOCK=/run/buildkit/ssh_agent.0"]);

    let two = exec_named(&definition, "[git 3/5]");
    assert_eq!(
        sockets(&two),
        [
            ("/agent".into(), opt("deploy", 1001, 0o660, false)),
            (
                "/run/buildkit/ssh_agent.1".into(),
                opt("default", 0, 0o600, true)
            ),
        ]
    );
    assert_eq!(agent(&two), ["SSH_AUTH_SOCK=/agent"], "the first socket");

    let own = exec_named(&definition, "[git 4/5]");
    assert_eq!(agent(&own), ["SSH_AUTH_SOCK=/mine"], "the step's env wins");

    let none = exec_named(&definition, "[git 5/5]");
    assert!(sockets(&none).is_empty() && agent(&none).is_empty());

    let caps = definition
        .metadata
        .values()
        .find(|meta| meta.caps.contains_key("exec.mount.ssh"));
    assert!(caps.is_some(), "the ssh cap is declared");
}

#[test]
fn digest_pinned_images_are_pulled_by_their_digest() {
    let digest = format!("sha256:{}", "0f".repeat(32));
    let spec = format!(
        "version: 1
builder: {{image: 'rust:1-bookworm@{digest}', binaries: [hello]}}
variants:
  pinned:
    from: localhost:5000/sec-debian@{digest}
    binaries: {{hello: /usr/local/bin/hello}}
"
    );
    let definition = build_spec(&spec, "pinned", "linux/amd64", &[])
        .unwrap()
        .definition;
    let mut images: Vec<String> = named_ops(&definition)
        .into_iter()
        .filter_map(|(_, op)| match op.op {
            Some(Payload::Source(source)) if source.identifier.starts_with("docker-image://") => {
                Some(source.identifier)
            }
            _ => None,
        })
        .collect();
    images.sort();
    assert_eq!(
        images,
        [
            format!("docker-image://docker.io/library/rust:1-bookworm@{digest}"),
            format!("docker-image://localhost:5000/sec-debian@{digest}"),
        ]
    );
}

#[test]
fn copies_read_only_their_sources_with_owner_and_mode() {
    let definition = kiro().definition;
    let local = named_ops(&definition)
        .into_iter()
        .find_map(|(_, op)| match op.op {
            Some(Payload::Source(source)) if source.identifier == "local://context" => Some(source),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        local.attrs["local.includepattern"],
        r#"["config/app.toml","static"]"#
    );
    let copies = copies_named(&definition, "[kiro 8/10]");
    let summary: Vec<(&str, &str, i32)> = copies
        .iter()
        .map(|c| (c.src.as_str(), c.dest.as_str(), c.mode))
        .collect();
    assert_eq!(
        summary,
        [
            ("/config/app.toml", "/etc/app/app.toml", 0o640),
            ("/static", "/srv/app/static", -1)
        ]
    );
    let owner = copies[0].owner.as_ref().unwrap();
    assert_eq!(
        (user_name(&owner.user), user_name(&owner.group)),
        ("app".into(), "app".into())
    );
    let binaries = copies_named(&definition, "[kiro 10/10]");
    assert_eq!(binaries[0].mode, 0o750);
    assert_eq!(user_name(&binaries[0].owner.as_ref().unwrap().user), "app");
    assert_eq!((binaries[1].mode, binaries[1].owner.is_none()), (-1, true));
}

/// The name a chown option gives (a spec's owners are names here).
fn user_name(opt: &Option<pb::UserOpt>) -> String {
    match opt.as_ref().and_then(|u| u.user.clone()) {
        Some(pb::user_opt::User::ByName(named)) => named.name,
        other => panic!("{other:?}"),
    }
}

/// Each action of a FileOp as `input -> output: what`, a mkdir with its mode, parents flag and
/// owner when it has one (and checked to have no timestamp), a copy with its mode when it sets
/// one.
fn chain(actions: &[pb::FileAction]) -> Vec<String> {
    actions
        .iter()
        .map(|action| {
            let what = match &action.action {
                Some(Action::Mkdir(mkdir)) => {
                    assert_eq!(mkdir.timestamp, -1);
                    let parents = if mkdir.make_parents { " -p" } else { "" };
                    let owner = mkdir.owner.as_ref().map_or(String::new(), |owner| {
                        let group = owner.group.as_ref().map(|_| user_name(&owner.group));
                        let group = group.map_or(String::new(), |group| format!(":{group}"));
                        format!(" {}{group}", user_name(&owner.user))
                    });
                    format!("mkdir{parents} {:o}{owner} {}", mkdir.mode, mkdir.path)
                }
                Some(Action::Copy(copy)) if copy.mode == -1 => format!("copy {}", copy.dest),
                Some(Action::Copy(copy)) => format!("copy {:o} {}", copy.mode, copy.dest),
                other => panic!("{other:?}"),
            };
            format!("{} -> {}: {what}", action.input, action.output)
        })
        .collect()
}

#[test]
fn copies_and_binaries_make_their_directories_0755_and_the_copys_owners_in_their_own_op() {
    let definition = kiro().definition;
    // Each op's inputs are the image, then the copied state once per copy, so action k's
    // result is input 3 + k: each copy writes on the result of the mkdir before it. A missing
    // directory is the copy's owner's, as with `COPY --chown`, else root's.
    assert_eq!(
        chain(&file_actions_named(&definition, "[kiro 8/10]")),
        [
            "0 -> -1: mkdir -p 755 app:app /etc/app",
            "3 -> -1: copy 640 /etc/app/app.toml",
            "4 -> -1: mkdir -p 755 /srv/app",
            "5 -> 0: copy /srv/app/static",
        ]
    );
    assert_eq!(
        chain(&file_actions_named(&definition, "[kiro 10/10]")),
        [
            "0 -> -1: mkdir -p 755 app /usr/local/bin",
            "3 -> -1: copy 750 /usr/local/bin/hello",
            "4 -> 0: copy /usr/local/bin/hello-gateway",
        ]
    );
}

#[test]
fn the_artifact_makes_its_directory_0755_and_roots_before_copying_the_binaries() {
    // From a prebuilt image: its binaries directory copied onto scratch (input -1).
    let prebuilt = build("artifact", "linux/amd64", &[]).unwrap().definition;
    assert_eq!(
        chain(&file_actions_named(&prebuilt, "[artifact 1/1]")),
        [
            "-1 -> -1: mkdir -p 755 /flotilla",
            "1 -> 0: copy /flotilla/bin"
        ]
    );
    // Compiled, several projects: their outputs collected onto scratch, one mkdir for all.
    let compiled = build_spec(OPENAB, "artifact", "linux/amd64", &[])
        .unwrap()
        .definition;
    assert_eq!(
        chain(&file_actions_named(&compiled, "[builder] collect binaries")),
        [
            "-1 -> -1: mkdir -p 755 /flotilla",
            "3 -> -1: copy /flotilla/bin",
            "4 -> -1: copy /flotilla/bin",
            "5 -> 0: copy /flotilla/bin",
        ]
    );
}

#[test]
fn config_changes_and_history_follow_the_spec() {
    let changes = kiro().changes;
    assert_eq!(changes.history.len(), 9, "one entry per layer");
    assert_eq!(
        changes.history[0],
        "apt-get install jq tini # flotilla.yaml packages"
    );
    assert_eq!(
        changes.history[7], "WORKDIR /srv/app # flotilla.yaml workdir",
        "where kiro writes it, after its steps"
    );
    assert_eq!(changes.exposed_ports, ["8080/tcp", "53/udp"]);
    let healthcheck = changes.healthcheck.unwrap();
    assert_eq!(healthcheck.test, ["CMD-SHELL", "hello || exit 1"]);
    assert_eq!(
        (
            healthcheck.interval,
            healthcheck.timeout,
            healthcheck.start_period,
            healthcheck.retries
        ),
        (30_000_000_000, 5_000_000_000, 1_000_000_000, 3)
    );
    assert_eq!(changes.stop_signal.as_deref(), Some("SIGQUIT"));
    assert_eq!(
        changes.labels,
        [
            (
                "org.opencontainers.image.revision".to_owned(),
                "dev".to_owned()
            ),
            (
                "org.opencontainers.image.source".to_owned(),
                "https://example.com/flotilla".to_owned()
            ),
            ("org.example.tier".to_owned(), "app".to_owned()),
        ]
    );
    assert_eq!(changes.user.as_deref(), Some("app"));
    assert_eq!(changes.entrypoint.unwrap(), ["tini", "--"]);
    assert_eq!(changes.cmd.unwrap(), ["hello"]);
}

#[test]
fn buildkit_cache_mount_ns_prefixes_apt_and_run_step_caches() {
    let built = build(
        "kiro",
        "linux/amd64",
        &[("CACHE_ID", "c1"), ("BUILDKIT_CACHE_MOUNT_NS", "ci")],
    )
    .expect("an undeclared BUILDKIT_CACHE_MOUNT_NS is no spec error");
    let ids = |step: &str| -> Vec<String> {
        exec_named(&built.definition, step)
            .mounts
            .into_iter()
            .filter_map(|m| Some(m.cache_opt?.id))
            .collect()
    };
    assert_eq!(ids("[kiro 2/10]"), ["ci/flotilla-apt-cache-linux-amd64"]);
    assert_eq!(ids("[kiro 6/10]"), ["ci/c1"]);
}

#[test]
fn platform_args_follow_the_target_platform() {
    let built = build("kiro", "linux/arm64", &[]).unwrap();
    let exec = exec_named(&built.definition, "[kiro 4/10]");
    assert_eq!(
        exec.meta.unwrap().args[2],
        "echo \"arm64\" > /etc/flotilla-arch"
    );
    let apt = exec_named(&built.definition, "[kiro 2/10]");
    assert!(apt.mounts.iter().any(|m| {
        m.cache_opt
            .as_ref()
            .is_some_and(|c| c.id == "/flotilla-apt-cache-linux-arm64")
    }));
}

#[test]
fn single_inheritance_builds_only_the_base() {
    let built = build("slim", "linux/amd64", &[("DEBIAN", "trixie-slim")]).unwrap();
    let names: Vec<String> = named_ops(&built.definition)
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| !name.is_empty())
        .collect();
    assert_eq!(names, ["[slim 1/1] FROM debian:trixie-slim"]);
    assert_eq!(
        built.changes.env,
        [
            ("APP_HOME".to_owned(), "/srv/app".to_owned()),
            ("PATH".to_owned(), "/srv/app/bin:/usr/bin:/bin".to_owned()),
        ]
    );
}

#[test]
fn abstract_variants_are_not_targets() {
    let error = build("base", "linux/amd64", &[]).err().unwrap();
    assert_eq!(
        error.to_string(),
        "variant `base` is abstract (only extended by others) and cannot be built; available targets: kiro, slim, artifact"
    );
    let spec = load(VARIANTS, "flotilla.yaml").unwrap();
    let names: Vec<String> = target::list(&spec).into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["kiro", "slim", "artifact"]);
    let values = ArgValues::native(BTreeMap::new(), &Platform::linux("amd64"));
    assert_eq!(
        target::select(&spec, None, &values, &Default::default())
            .unwrap()
            .name,
        "kiro"
    );
}

#[test]
fn a_bad_substituted_value_names_its_spec_line() {
    let error = build("slim", "linux/amd64", &[("DEBIAN", "Not Valid")])
        .err()
        .unwrap();
    assert!(
        error
            .to_string()
            .starts_with("flotilla.yaml:18:11: invalid image reference `debian:Not Valid`"),
        "{error}"
    );
}

#[test]
fn check_target_runs_the_smoke_checks_as_the_image_user_on_the_image() {
    let built = build("check:kiro", "linux/amd64", &[]).unwrap();
    let checks: Vec<(String, pb::ExecOp)> = named_ops(&built.definition)
        .into_iter()
        .filter(|(name, _)| name.starts_with("[check:kiro "))
        .filter_map(|(name, op)| match op.op {
            Some(pb::op::Op::Exec(exec)) => Some((name, exec)),
            _ => None,
        })
        .collect();
    let names: Vec<&str> = checks.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "[check:kiro 1/3] test \"$(id -un)\" = app",
            "[check:kiro 2/3] hello",
            "[check:kiro 3/3] which tini",
        ]
    );
    for (_, exec) in &checks {
        let meta = exec.meta.as_ref().unwrap();
        assert_eq!((meta.user.as_str(), meta.cwd.as_str()), ("app", "/srv/app"));
        assert!(meta.env.iter().any(|e| e.starts_with("APP_HOME=")));
    }
    assert_eq!(checks[1].1.meta.as_ref().unwrap().args, ["hello"]);
    // The image itself is unchanged: the checks only add vertices on top of it.
    assert_eq!(built.changes.history, kiro().changes.history);
}

#[test]
fn check_target_needs_checks() {
    let Err(error) = build("check:slim", "linux/amd64", &[]) else {
        panic!("check:slim has no checks")
    };
    assert_eq!(
        error.to_string(),
        "target `check:slim` has nothing to run: variant `slim` has no `check:` commands"
    );
}

fn openab(target_name: &str, platform: &str) -> Built {
    build_spec(OPENAB, target_name, platform, &[PREBUILT]).unwrap()
}

#[test]
fn openab_has_eleven_agent_images_sharing_the_gateway_config() {
    let spec = load(OPENAB, "flotilla.yaml").unwrap();
    let names: Vec<String> = target::list(&spec)
        .into_iter()
        .map(|t| t.name)
        .filter(|name| name != "artifact")
        .collect();
    assert_eq!(
        names,
        [
            "claude", "gemini", "qwen", "copilot", "amp", "kiro", "cursor", "goose", "hermes",
            "agy", "bare"
        ]
    );
    for (name, user, agent) in [("claude", "node", "claude"), ("kiro", "agent", "kiro-cli")] {
        let changes = openab(name, "linux/amd64").changes;
        assert_eq!(changes.entrypoint.unwrap(), ["tini", "--"], "{name}");
        assert_eq!(
            changes.cmd.unwrap(),
            ["openab", "run", "-c", "/etc/openab/config.toml"]
        );
        assert_eq!(
            changes.healthcheck.unwrap().test,
            ["CMD", "openab", "health", "-c", "/etc/openab/config.toml"]
        );
        assert_eq!(changes.user.as_deref(), Some(user));
        assert!(
            changes
                .env
                .contains(&("OPENAB_AGENT_COMMAND".to_owned(), agent.to_owned())),
            "{name}: {:?}",
            changes.env
        );
    }
}

#[test]
fn openab_npm_agents_install_their_pinned_package_with_a_locked_npm_cache() {
    let definition = openab("gemini", "linux/amd64").definition;
    let install = exec_named(&definition, "[gemini 5/");
    let meta = install.meta.unwrap();
    assert_eq!(
        meta.args[2],
        "npm install --global --no-fund --no-audit @google/gemini-cli@0.61.0"
    );
    let cache = install
        .mounts
        .iter()
        .find(|m| m.dest == "/root/.npm")
        .unwrap();
    let opt = cache.cache_opt.as_ref().unwrap();
    assert_eq!(
        (opt.id.as_str(), opt.sharing),
        ("/openab-npm", pb::CacheSharingOpt::Locked as i32)
    );
}

#[test]
fn openab_downloads_are_bind_mounted_from_the_context_and_checked_per_arch() {
    for (platform, arch, sha) in [
        ("linux/amd64", "amd64", "2f30871c835148d1"),
        ("linux/arm64", "arm64", "c8fc2e1f9a2e9f2e"),
    ] {
        let definition = openab("kiro", platform).definition;
        let download = exec_named(&definition, "[kiro 6/");
        let script = &download.meta.as_ref().unwrap().args[2];
        assert!(
            script.contains(&format!("kiro-cli-1.4.2-linux-{arch}.tar.gz")),
            "{script}"
        );
        assert!(
            script.contains(&format!("{arch}) sha256={sha}")),
            "{script}"
        );
        assert!(script.contains("echo \"$sha256  $tarball\" | sha256sum -c -"));
        let bind = download
            .mounts
            .iter()
            .find(|m| m.dest == "/downloads")
            .unwrap();
        assert!(bind.readonly && bind.output == -1);
        assert_eq!(bind.selector, "vendor");
        let source = named_ops(&definition)
            .into_iter()
            .find_map(|(name, op)| match op.op {
                Some(Payload::Source(source)) if name == "[kiro] load build context: vendor" => {
                    Some(source)
                }
                _ => None,
            })
            .unwrap();
        assert_eq!(source.attrs["local.includepattern"], r#"["vendor"]"#);
    }
}

#[test]
fn openab_second_binaries_come_from_their_own_projects() {
    let hermes = openab("hermes", "linux/amd64").definition;
    let copied: Vec<(String, String)> = copies_named(&hermes, "[hermes")
        .into_iter()
        .map(|c| (c.src, c.dest))
        .filter(|(_, dest)| dest.starts_with("/usr/local/bin"))
        .collect();
    assert_eq!(
        copied,
        [
            (
                "/flotilla/bin/openab".to_owned(),
                "/usr/local/bin/openab".to_owned()
            ),
            (
                "/flotilla/bin/openab-agent".to_owned(),
                "/usr/local/bin/openab-agent".to_owned()
            ),
        ]
    );
}

#[test]
fn openab_variants_on_one_base_share_its_package_layer() {
    let step = |name: &str, number: usize| {
        exec_named(
            &openab(name, "linux/amd64").definition,
            &format!("[{name} {number}/"),
        )
    };
    assert_eq!(
        step("kiro", 3),
        step("bare", 3),
        "the variants' env must not reach apt"
    );
    assert_eq!(step("claude", 3), step("gemini", 3));
    assert_eq!(
        step("hermes", 3),
        step("kiro", 3),
        "a parent's packages are one layer shared by its children"
    );
    assert_eq!(
        step("hermes", 4),
        step("kiro", 4),
        "so is the parent's run step"
    );
    let own = step("hermes", 6).meta.unwrap();
    assert_eq!(
        own.args[3..],
        ["apt-install", "0", "python3-minimal"],
        "hermes installs only its own package, on top"
    );
}
