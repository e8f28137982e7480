//! The Definitions llb-gen writes: well-formed for BuildKit, deterministic, and free of any
//! compile op when a prebuilt builder image is given.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use llb_gen::graph::BuildFacts;
use llb_gen::llb::{ResolveMode, SourceFile, digest_of};
use llb_gen::load;
use llb_gen::pb::{self, file_action::Action as FileAction, op::Op as Payload};
use llb_gen::plan::{self, BuildRequest};
use llb_gen::platform::Platform;
use llb_gen::resolve::ArgValues;
use prost::Message;

mod common;
use common::{assert_well_formed, ops};

const HELLO: &str = include_str!("../../examples/hello/flotilla.yaml");
const HELLO_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/hello/flotilla.yaml"
);

fn definition(target_name: &str, args: &[(&str, &str)]) -> pb::Definition {
    definition_of(HELLO, target_name, args, manifests())
}

/// The Definition llb-gen's plan builds for `target_name` of the spec `text` with `args`, the
/// context holding `manifests`.
fn definition_of(
    text: &str,
    target_name: &str,
    args: &[(&str, &str)],
    manifests: BTreeMap<String, String>,
) -> pb::Definition {
    let spec = load(text, "flotilla.yaml").unwrap();
    let args: BTreeMap<String, String> = args
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let values = ArgValues::native(args, &Platform::linux("amd64"));
    let request = BuildRequest::new(Some(target_name.to_owned()), values).unwrap();
    let plan = plan::plan(&spec, &request).unwrap();
    let facts = BuildFacts {
        session_id: Some("session-1".to_owned()),
        manifests,
        ..plan.known_facts()
    };
    let source = SourceFile {
        name: "flotilla.yaml",
        data: text.as_bytes(),
    };
    plan.build(&facts, source).unwrap().definition
}

/// The hello example's manifests, as the frontend reads them from the context.
fn manifests() -> BTreeMap<String, String> {
    example_manifests(
        "hello",
        &[
            "Cargo.toml",
            "Cargo.lock",
            "crates/hello/Cargo.toml",
            "crates/hello-gateway/Cargo.toml",
        ],
    )
}

/// The files `paths` of `examples/<example>`, by path.
fn example_manifests(example: &str, paths: &[&str]) -> BTreeMap<String, String> {
    let dir = format!("{}/../examples/{example}", env!("CARGO_MANIFEST_DIR"));
    paths
        .iter()
        .map(|path| {
            (
                (*path).to_owned(),
                std::fs::read_to_string(format!("{dir}/{path}")).unwrap(),
            )
        })
        .collect()
}

/// Each exec's argv, joined, in op order.
fn exec_args(definition: &pb::Definition) -> Vec<String> {
    execs(definition)
        .into_iter()
        .filter_map(|exec| Some(exec.meta?.args.join(" ")))
        .collect()
}

fn sources(definition: &pb::Definition) -> Vec<String> {
    ops(definition)
        .into_iter()
        .filter_map(|op| match op.op {
            Some(Payload::Source(source)) => Some(source.identifier),
            _ => None,
        })
        .collect()
}

/// Every FileOp action of the graph, in op order.
fn file_actions(definition: &pb::Definition) -> Vec<FileAction> {
    ops(definition)
        .into_iter()
        .filter_map(|op| match op.op {
            Some(Payload::File(file)) => Some(file.actions),
            _ => None,
        })
        .flatten()
        .filter_map(|action| action.action)
        .collect()
}

fn execs(definition: &pb::Definition) -> Vec<pb::ExecOp> {
    ops(definition)
        .into_iter()
        .filter_map(|op| match op.op {
            Some(Payload::Exec(exec)) => Some(exec),
            _ => None,
        })
        .collect()
}

fn local_sources(definition: &pb::Definition) -> Vec<pb::SourceOp> {
    ops(definition)
        .into_iter()
        .filter_map(|op| match op.op {
            Some(Payload::Source(source)) if source.identifier.starts_with("local://") => {
                Some(source)
            }
            _ => None,
        })
        .collect()
}

/// An exec's mounts other than its root, as `dest kind detail`: a cache's id and sharing, a
/// read-only bind's selector, `writable bind` for a writable one whose changes are discarded.
fn mount_summary(exec: &pb::ExecOp) -> Vec<String> {
    exec.mounts
        .iter()
        .filter(|m| m.dest != "/")
        .map(|m| match (&m.cache_opt, m.input, m.output) {
            (Some(cache), _, _) => {
                let sharing = pb::CacheSharingOpt::try_from(cache.sharing).unwrap();
                format!("{} cache {} {sharing:?}", m.dest, cache.id)
            }
            (None, -1, _) => format!("{} output", m.dest),
            (None, _, -1) if !m.readonly => format!("{} writable bind", m.dest),
            (None, _, _) => {
                assert!(m.readonly && m.output == -1, "{m:?}");
                format!("{} bind {}", m.dest, m.selector)
            }
        })
        .collect()
}

#[test]
fn compile_path_fetches_then_builds_dependencies_then_the_workspace() {
    let definition = definition("hello", &[]);
    assert_well_formed(&definition);
    let execs = execs(&definition);
    let [fetch, deps, build] = &execs[..] else {
        panic!("a fetch, a dependency build and the real build: {execs:?}")
    };
    let meta = |exec: &pb::ExecOp| exec.meta.clone().unwrap();
    let cargo = "cargo build --locked --profile release --bin hello --bin hello-gateway";
    // Only the fetch holds the shared registry and git caches, locked.
    assert_eq!(meta(fetch).args[4..], ["cargo", "fetch", "--locked"]);
    assert!(meta(fetch).args[2].contains("\"$@\" --target \"$host\""));
    assert!(meta(fetch).args[2].contains("cp -a \"$CARGO_HOME/git\" /flotilla/fetched/"));
    assert!(
        !meta(fetch).args[2].contains("cp -a \"$CARGO_HOME/registry\" "),
        "of the registry, only what the lockfile pins (nothing) is copied"
    );
    assert_eq!(
        mount_summary(fetch),
        [
            "/usr/local/cargo/git cache /flotilla-cargo-git-linux-amd64 Locked",
            "/usr/local/cargo/registry cache /flotilla-cargo-registry-linux-amd64 Locked",
        ]
    );
    // The dependency layer: offline on the fetch's copy, no cache mount at all.
    assert!(meta(deps).args.join(" ").contains(cargo));
    assert!(
        meta(deps).args[2]
            .contains("/proc/sys/kernel/random/uuid >\"$CARGO_TARGET_DIR/.flotilla-layer\"")
    );
    assert!(
        meta(deps)
            .env
            .contains(&"CARGO_NET_OFFLINE=true".to_owned())
    );
    let fetched = [
        "/usr/local/cargo/git bind /flotilla/fetched/git",
        "/usr/local/cargo/registry bind /flotilla/fetched/registry",
    ];
    assert_eq!(mount_summary(deps), fetched);
    // The build: the sources where they are, its own target-dir cache, the layer's target dir,
    // fetch and lockfile.
    let mut summary = mount_summary(build);
    let target = summary.remove(4);
    assert!(
        target.starts_with("/flotilla/target cache /flotilla-target-linux-amd64-")
            && target.ends_with("-_2E Locked"),
        "{target}"
    );
    assert_eq!(
        summary,
        [
            "/build writable bind",
            "/flotilla-out output",
            "/flotilla/deps bind /flotilla/target",
            "/flotilla/deps-fetched bind /flotilla/fetched",
            fetched[0],
            fetched[1],
        ]
    );
    // The fetch and the dependency layer (build scripts of dependencies) keep the network; the
    // build, offline on the fetch's copy, gets none.
    let network = |exec: &pb::ExecOp| pb::NetMode::try_from(exec.network).unwrap();
    assert_eq!(
        [fetch, deps, build].map(network),
        [pb::NetMode::Unset, pb::NetMode::Unset, pb::NetMode::None]
    );
    for cap in ["exec.meta.network", "exec.mount.bind.readwrite-nooutput"] {
        assert!(
            definition
                .metadata
                .values()
                .any(|m| m.caps.contains_key(cap)),
            "{cap}"
        );
    }
    let script = &meta(build).args[2];
    assert!(meta(build).args.join(" ").contains(cargo));
    for part in [
        "if ! cmp -s /flotilla/deps/.flotilla-layer \"$CARGO_TARGET_DIR/.flotilla-seeded\"; then\ncp -a -u /flotilla/deps/. \"$CARGO_TARGET_DIR\"/\n",
        "for p in $FLOTILLA_PACKAGES; do",
        "rm -rf \"$d/$p-\"$h16 \"${d%/.fingerprint}/build/$p-\"$h16",
        "cp /flotilla/deps/.flotilla-layer \"$CARGO_TARGET_DIR/.flotilla-seeded\"\nfi\n",
        "cp -p \"$lock\" Cargo.lock",
        "for b in $FLOTILLA_BINARIES; do cp \"$built/$b\" \"$out/\"; done",
        "cargo build did not produce these binaries:$missing",
    ] {
        assert!(script.contains(part), "{part} in {script}");
    }
    // cargo's own mtime checks decide what an edit rebuilds.
    assert!(!script.contains("touch"), "{script}");
    let env = meta(build).env;
    for entry in [
        "FLOTILLA_PROFILE_DIR=release",
        "FLOTILLA_BINARIES=hello\nhello-gateway",
        "FLOTILLA_PACKAGES=hello\nhello-gateway",
        "CARGO_TARGET_DIR=/flotilla/target",
        "CARGO_NET_OFFLINE=true",
    ] {
        assert!(env.contains(&entry.to_owned()), "{entry} in {env:?}");
    }
    assert_eq!(
        sources(&definition),
        [
            "docker-image://docker.io/library/debian:bookworm-slim",
            "docker-image://docker.io/library/rust:1-bookworm",
            "local://context",
            "local://context",
        ]
    );
}

#[test]
fn an_unlocked_project_fetches_without_locked() {
    let unlocked = HELLO.replace("locked: true", "locked: false");
    let definition = definition_of(&unlocked, "hello", &[], manifests());
    let fetch = execs(&definition)[0].meta.clone().unwrap().args;
    assert_eq!(fetch[4..], ["cargo", "fetch"]);
}

#[test]
fn dependency_layer_sees_only_the_manifests() {
    let definition = definition("hello", &[]);
    let locals = local_sources(&definition);
    let manifests = locals
        .iter()
        .find(|l| l.attrs.contains_key("local.followpaths"))
        .expect("a manifests-only local");
    assert_eq!(
        manifests.attrs["local.followpaths"],
        r#"["Cargo.lock","Cargo.toml","crates/hello-gateway/Cargo.toml","crates/hello/Cargo.toml"]"#
    );
    assert_ne!(manifests.attrs["local.sharedkeyhint"], "context");
    let deps = &execs(&definition)[0];
    assert!(deps.mounts.iter().all(|m| m.dest != "/flotilla-out"));
    assert!(
        deps.meta
            .as_ref()
            .unwrap()
            .env
            .contains(&"CARGO_TARGET_DIR=/flotilla/target".to_owned())
    );
    let stubs: Vec<String> = file_actions(&definition)
        .into_iter()
        .filter_map(|action| match action {
            FileAction::Mkfile(file) => Some(file.path),
            _ => None,
        })
        .collect();
    assert!(
        stubs.contains(&"/build/crates/hello/src/main.rs".to_owned()),
        "{stubs:?}"
    );
}

#[test]
fn no_spec_or_manifest_text_is_part_of_a_compile_script() {
    let hostile = "$(touch /pwned)";
    let spec_text = HELLO.replace("  cargo: { profile: release, features: [], locked: true }\n", "").replace(
        "  binaries: [hello, hello-gateway]\n",
        &format!(
            "  binaries: [hello, hello-gateway]\n  cargo: {{ profile: dist, features: ['{hostile}'], args: ['\"; {hostile}'], env: {{ X: '{hostile}' }} }}\n  projects:\n    'tool {hostile}':\n      binaries: [{{ name: tool, package: '{hostile}' }}]\n"
        ),
    );
    let mut manifests = manifests();
    manifests.insert(
        format!("tool {hostile}/Cargo.toml"),
        format!(
            "[package]\nname = \"{hostile}\"\n[[bin]]\nname = \"tool\"\npath = \"{hostile}.rs\"\n"
        ),
    );
    let definition = definition_of(&spec_text, "artifact", &[], manifests);
    let execs = execs(&definition);
    assert_eq!(
        execs.len(),
        6,
        "two projects, each with a fetch and a dependency layer"
    );
    for exec in execs {
        let args = exec.meta.unwrap().args;
        let [sh, c, script, name, cargo @ ..] = &args[..] else {
            panic!("{args:?}")
        };
        assert_eq!([sh, c, name], ["/bin/sh", "-c", "sh"]);
        assert!(
            !script.contains(hostile) && !script.contains("dist"),
            "{script}"
        );
        match cargo[1].as_str() {
            "build" => assert!(cargo.iter().any(|word| word.contains(hostile)), "{cargo:?}"),
            other => assert_eq!(other, "fetch"),
        }
    }
}

/// The id of the cache mount at `dest` in the compile exec of `definition`.
fn cache_id(definition: &pb::Definition, dest: &str) -> String {
    let exec = execs(definition).pop().unwrap();
    let mount = exec.mounts.into_iter().find(|m| m.dest == dest).unwrap();
    mount.cache_opt.unwrap().id
}

#[test]
fn the_target_dir_is_the_projects_own_whatever_its_lockfile_says() {
    let target_dir = |manifests| {
        cache_id(
            &definition_of(HELLO, "hello", &[], manifests),
            "/flotilla/target",
        )
    };
    let own = target_dir(manifests());
    let mut bumped = manifests();
    bumped.get_mut("Cargo.lock").unwrap().push_str(
        "\n[[package]]\nname = \"serde\"\nversion = \"1.0.201\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
    );
    assert_eq!(
        own,
        target_dir(bumped),
        "a dependency change keeps the target dir"
    );
    // Another repository with the same toolchain, workdir and layout: its own target dir.
    let other: BTreeMap<String, String> = manifests()
        .into_iter()
        .map(|(path, text)| (path, text.replace("\"hello", "\"other")))
        .collect();
    assert_ne!(own, target_dir(other));
}

#[test]
fn the_cli_namespaces_every_cache_id_with_buildkit_cache_mount_ns() {
    // Undeclared in the spec, as docker/dockerfile reads it: no spec error.
    let bytes = llb_cli(&[
        HELLO_PATH,
        "--target",
        "hello",
        "--build-arg",
        "BUILDKIT_CACHE_MOUNT_NS=ci-42",
    ]);
    let definition = pb::Definition::decode(bytes.as_slice()).unwrap();
    let cache_ids: Vec<String> = execs(&definition)
        .iter()
        .flat_map(|exec| exec.mounts.iter().filter_map(|m| m.cache_opt.clone()))
        .map(|cache| cache.id)
        .collect();
    // The fetch's registry and git caches, and the build's target dir.
    assert_eq!(cache_ids.len(), 3, "{cache_ids:?}");
    assert!(
        cache_ids.iter().all(|id| id.starts_with("ci-42/flotilla-")),
        "{cache_ids:?}"
    );
}

#[test]
fn prebuilt_path_has_no_compile_op_and_no_toolchain() {
    for target in ["hello", "gateway", "artifact"] {
        let definition = definition(
            target,
            &[("BUILDER_IMAGE", "localhost:5000/hello-artifact:1")],
        );
        assert_well_formed(&definition);
        assert_eq!(exec_args(&definition), Vec::<String>::new(), "{target}");
        let sources = sources(&definition);
        assert!(
            sources
                .iter()
                .all(|s| !s.contains("rust:1-bookworm") && !s.starts_with("local://")),
            "{sources:?}"
        );
        assert!(sources.contains(&"docker-image://localhost:5000/hello-artifact:1".to_owned()));
    }
}

/// Each image source of `target` (image-resolve-mode `mode`, the daemon having resolved
/// every image but the base to `DIGEST`): its identifier, its attributes and whether the op
/// declares the resolve-mode cap.
fn image_sources(
    target: &str,
    args: &[(&str, &str)],
    mode: ResolveMode,
) -> Vec<(String, BTreeMap<String, String>, bool)> {
    const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    let spec = load(HELLO, "flotilla.yaml").unwrap();
    let args = args.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    let values = ArgValues::native(args.collect(), &Platform::linux("amd64"));
    let request = BuildRequest {
        resolve_mode: mode,
        ..BuildRequest::new(Some(target.to_owned()), values).unwrap()
    };
    let plan = plan::plan(&spec, &request).unwrap();
    let resolved = [
        "docker.io/library/rust:1-bookworm",
        "localhost:5000/hello-artifact:1",
        "localhost:5000/pinned@sha256:2222222222222222222222222222222222222222222222222222222222222222",
    ];
    let facts = BuildFacts {
        manifests: manifests(),
        digests: resolved
            .map(|image| (image.to_owned(), DIGEST.to_owned()))
            .into(),
        ..plan.known_facts()
    };
    let source = SourceFile {
        name: "flotilla.yaml",
        data: HELLO.as_bytes(),
    };
    let definition = plan.build(&facts, source).unwrap().definition;
    assert_well_formed(&definition);
    definition
        .def
        .iter()
        .filter_map(|bytes| match pb::Op::decode(bytes.as_slice()).unwrap().op {
            Some(Payload::Source(source)) if source.identifier.starts_with("docker-image://") => {
                let caps = &definition.metadata[&digest_of(bytes)].caps;
                let declared = caps.contains_key("source.image.resolvemode");
                Some((source.identifier, source.attrs, declared))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn image_sources_are_pinned_to_the_digests_the_daemon_resolved() {
    let pinned = |image: &str| format!("docker-image://{image}@sha256:{}", "1".repeat(64));
    let none = BTreeMap::new();
    // The toolchain is pinned; the base, with no digest (Docker 20.10's own store), is not.
    assert_eq!(
        image_sources("hello", &[], ResolveMode::Default),
        [
            (
                "docker-image://docker.io/library/debian:bookworm-slim".to_owned(),
                none.clone(),
                false
            ),
            (pinned("docker.io/library/rust:1-bookworm"), none, false),
        ]
    );
    let prebuilt = [("BUILDER_IMAGE", "localhost:5000/hello-artifact:1")];
    let pull = BTreeMap::from([("image.resolvemode".to_owned(), "pull".to_owned())]);
    assert_eq!(
        image_sources("artifact", &prebuilt, ResolveMode::Pull),
        [(pinned("localhost:5000/hello-artifact:1"), pull, true)],
        "the prebuilt builder is pinned, and pulled as its config was"
    );
    // A reference with a digest already keeps it.
    let digested = format!("localhost:5000/pinned@sha256:{}", "2".repeat(64));
    let sources = image_sources(
        "artifact",
        &[("BUILDER_IMAGE", &digested)],
        ResolveMode::Local,
    );
    assert_eq!(sources[0].0, format!("docker-image://{digested}"));
    assert_eq!(sources[0].1["image.resolvemode"], "local");
}

#[test]
fn variant_copies_its_binaries_from_the_artifact_dir() {
    let definition = definition("gateway", &[("BUILDER_IMAGE", "localhost:5000/a:1")]);
    let copies: Vec<(String, String, i32, i64)> = file_actions(&definition)
        .into_iter()
        .filter_map(|action| match action {
            FileAction::Copy(copy) => Some((copy.src, copy.dest, copy.mode, copy.timestamp)),
            _ => None,
        })
        .collect();
    assert_eq!(
        copies,
        [(
            "/flotilla/bin/hello-gateway".into(),
            "/usr/local/bin/hello-gateway".into(),
            -1,
            -1
        )]
    );
}

#[test]
fn vertices_are_named_and_mapped_to_spec_lines() {
    let definition = definition("gateway", &[]);
    let names: Vec<&str> = definition
        .metadata
        .values()
        .filter_map(|m| m.description.get("llb.customname").map(String::as_str))
        .collect();
    for expected in [
        "[gateway 1/2] FROM debian:bookworm-slim",
        "[gateway 2/2] COPY hello-gateway -> /usr/local/bin/hello-gateway",
        "[builder] FROM rust:1-bookworm",
        "[builder] cargo build --locked --profile release --bin hello --bin hello-gateway",
        "[builder] cargo build --locked --profile release --bin hello --bin hello-gateway (dependencies only)",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    let source = definition.source.as_ref().unwrap();
    assert_eq!(source.infos[0].filename, "flotilla.yaml");
    let lines: Vec<i32> = source
        .locations
        .values()
        .map(|l| l.locations[0].ranges[0].start.as_ref().unwrap().line)
        .collect();
    assert!(
        lines.contains(&17),
        "FROM of gateway is on line 17: {lines:?}"
    );
}

#[test]
fn marshaling_is_deterministic() {
    for target in ["hello", "gateway", "artifact"] {
        assert_eq!(definition(target, &[]), definition(target, &[]));
    }
}

/// The bytes `llb-gen llb ARGS…` writes, after checking it succeeded.
fn llb_cli(args: &[&str]) -> Vec<u8> {
    let output = Command::new(env!("CARGO_BIN_EXE_llb-gen"))
        .arg("llb")
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn cli_writes_a_well_formed_definition_byte_identical_across_runs() {
    let run = || {
        llb_cli(&[
            HELLO_PATH,
            "--target",
            "gateway",
            "--build-arg",
            "BUILDER_IMAGE=localhost:5000/a:1",
        ])
    };
    let first = run();
    assert_eq!(first, run());
    let definition = pb::Definition::decode(first.as_slice()).unwrap();
    assert_well_formed(&definition);
}

#[test]
fn cli_reports_an_unknown_target() {
    let output = Command::new(env!("CARGO_BIN_EXE_llb-gen"))
        .args(["llb", HELLO_PATH, "--target", "nope"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: unknown target `nope`; available targets: hello, gateway, artifact\n"
    );
}

const MULTI_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/multi");

/// The multi fixture's Definition for `target`, built by the CLI (which reads the manifests).
fn multi_definition(target: &str, args: &[&str]) -> pb::Definition {
    let spec = format!("{MULTI_DIR}/flotilla.yaml");
    let all: Vec<&str> = [spec.as_str(), "--target", target]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    pb::Definition::decode(llb_cli(&all).as_slice()).unwrap()
}

#[test]
fn each_project_gets_its_own_dependency_layer_and_build() {
    let definition = multi_definition("artifact", &[]);
    assert_well_formed(&definition);
    let execs = execs(&definition);
    let commands: Vec<String> = execs
        .iter()
        .map(|e| e.meta.as_ref().unwrap().args.join(" "))
        .collect();
    assert_eq!(commands.len(), 6, "{commands:?}");
    let root = "cargo build --locked --profile release --features shout --bin app";
    let tool = "cargo build --locked --profile release -p tool --bin tool";
    assert_eq!(commands.iter().filter(|c| c.contains(root)).count(), 2);
    assert_eq!(commands.iter().filter(|c| c.contains(tool)).count(), 2);
    let fetch_dirs: BTreeSet<&str> = execs
        .iter()
        .map(|e| e.meta.as_ref().unwrap())
        .filter(|meta| {
            meta.args
                .ends_with(&["fetch".to_owned(), "--locked".to_owned()])
        })
        .map(|meta| meta.cwd.as_str())
        .collect();
    assert_eq!(fetch_dirs, BTreeSet::from(["/build", "/build/tool"]));
    let tool_build = execs
        .iter()
        .find(|e| e.meta.as_ref().unwrap().cwd == "/build/tool")
        .unwrap();
    let env = &tool_build.meta.as_ref().unwrap().env;
    assert!(env.contains(&"RUSTFLAGS=-C debuginfo=0".to_owned()));
    assert!(env.contains(&"CARGO_TARGET_DIR=/flotilla/target".to_owned()));
    let names: Vec<&str> = definition
        .metadata
        .values()
        .filter_map(|m| m.description.get("llb.customname").map(String::as_str))
        .collect();
    assert!(names.contains(&"[builder] collect binaries"), "{names:?}");
    assert!(
        names.contains(&"[builder:tool] load Cargo manifests"),
        "{names:?}"
    );
}

/// The dependency builds of openab's three projects: each one's working directory, and the
/// working directory of the dependency build whose target dir it starts from. Each project's
/// fetch waits for that base project's fetch (whose layer it mounts), so the base gets the
/// registry cache's lock first.
#[test]
fn projects_pinning_mostly_the_same_crates_share_one_dependency_build() {
    let spec = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/openab/flotilla.yaml"
    );
    let definition =
        pb::Definition::decode(llb_cli(&[spec, "--target", "artifact"]).as_slice()).unwrap();
    assert_well_formed(&definition);
    let by_digest: BTreeMap<String, pb::Op> = definition
        .def
        .iter()
        .map(|bytes| (digest_of(bytes), pb::Op::decode(bytes.as_slice()).unwrap()))
        .collect();
    // The exec running `command`, but not the compile (which has the output mount).
    let running = |command: &'static str| {
        move |op: &pb::Op| match &op.op {
            Some(Payload::Exec(exec))
                if exec.meta.as_ref().unwrap().args.join(" ").contains(command)
                    && exec.mounts.iter().all(|m| m.dest != "/flotilla-out") =>
            {
                Some(exec.clone())
            }
            _ => None,
        }
    };
    // Each such exec's working directory, and that of the one whose `selector` it mounts at
    // `dest`.
    let starts_from = |command: &'static str, dest: &str, selector: &str| {
        let exec_of = running(command);
        by_digest
            .values()
            .filter_map(|op| Some((op, exec_of(op)?)))
            .map(|(op, exec)| {
                let base = exec.mounts.iter().find(|m| m.dest == dest).map(|m| {
                    assert_eq!(m.selector, selector);
                    let input = &op.inputs[usize::try_from(m.input).unwrap()];
                    exec_of(&by_digest[&input.digest])
                        .unwrap()
                        .meta
                        .unwrap()
                        .cwd
                });
                (exec.meta.unwrap().cwd, base)
            })
            .collect::<BTreeMap<String, Option<String>>>()
    };
    let root = Some("/build".to_owned());
    let expected = BTreeMap::from([
        ("/build".to_owned(), None),
        ("/build/agy-acp".to_owned(), root.clone()),
        ("/build/openab-agent".to_owned(), root),
    ]);
    assert_eq!(
        starts_from("cargo build", "/flotilla/base", "/flotilla/target"),
        expected
    );
    assert_eq!(
        starts_from(
            "cargo fetch",
            "/flotilla/base-fetched",
            "/flotilla/fetched/registry"
        ),
        expected
    );
}

#[test]
fn dockerignored_directories_give_no_manifests() {
    // tests/fixtures/multi/ignored/Cargo.toml is not TOML: reading it would fail the build.
    let definition = multi_definition("app", &[]);
    let follow: Vec<String> = local_sources(&definition)
        .into_iter()
        .filter_map(|l| l.attrs.get("local.followpaths").cloned())
        .collect();
    assert!(
        follow.iter().all(|paths| !paths.contains("ignored")),
        "{follow:?}"
    );
    let excludes: Vec<String> = local_sources(&definition)
        .into_iter()
        .filter_map(|l| l.attrs.get("local.excludepatterns").cloned())
        .collect();
    // Every read of the context, the compile's sources among them, leaves out what
    // .dockerignore excludes.
    let dockerignore = r#"["ignored","target","**/target"]"#;
    assert_eq!(excludes.len(), local_sources(&definition).len());
    assert!(excludes.iter().all(|e| e == dockerignore), "{excludes:?}");
}

#[test]
fn prebuilt_path_is_where_variants_copy_from() {
    let spec_text = HELLO.replace(
        "  workdir: /build\n",
        "  workdir: /build\n  prebuilt_path: /build/target/release\n",
    );
    let definition = definition_of(
        &spec_text,
        "hello",
        &[("BUILDER_IMAGE", "seed:1")],
        BTreeMap::new(),
    );
    let sources: Vec<String> = file_actions(&definition)
        .into_iter()
        .filter_map(|action| match action {
            FileAction::Copy(copy) => Some(copy.src),
            _ => None,
        })
        .collect();
    assert_eq!(sources, ["/build/target/release/hello"]);
}

#[test]
fn arm64_targets_put_the_platform_on_every_op_and_in_cache_ids() {
    let bytes = llb_cli(&[
        HELLO_PATH,
        "--target",
        "gateway",
        "--platform",
        "linux/arm64",
    ]);
    let definition = pb::Definition::decode(bytes.as_slice()).unwrap();
    assert_well_formed(&definition);
    for op in ops(&definition) {
        let local =
            matches!(&op.op, Some(Payload::Source(s)) if s.identifier.starts_with("local://"));
        if op.op.is_some() && !local {
            assert_eq!(
                op.platform.as_ref().unwrap().architecture,
                "arm64",
                "{op:?}"
            );
        }
    }
    let cache_ids: Vec<String> = execs(&definition)
        .iter()
        .flat_map(|exec| {
            exec.mounts
                .iter()
                .filter_map(|m| m.cache_opt.as_ref().map(|c| c.id.clone()))
        })
        .collect();
    assert!(
        !cache_ids.is_empty() && cache_ids.iter().all(|id| id.contains("linux-arm64")),
        "{cache_ids:?}"
    );
}

#[test]
fn cross_compiles_on_the_build_platform_with_the_spec_target_and_linker() {
    let spec = std::fs::read_to_string(format!("{MULTI_DIR}/flotilla.yaml")).unwrap().replace(
        "  binaries: [app]\n",
        "  binaries: [app]\n  cross:\n    linux/arm64: { target: aarch64-unknown-linux-gnu, linker: aarch64-linux-gnu-gcc }\n",
    );
    let dir = std::env::temp_dir().join(format!("flotilla-cross-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spec_path = dir.join("flotilla.yaml");
    std::fs::write(&spec_path, spec).unwrap();
    let bytes = llb_cli(&[
        spec_path.to_str().unwrap(),
        "--target",
        "app",
        "--context",
        MULTI_DIR,
        "--platform",
        "linux/arm64",
        "--build-platform",
        "linux/amd64",
    ]);
    std::fs::remove_dir_all(&dir).unwrap();
    let definition = pb::Definition::decode(bytes.as_slice()).unwrap();
    let root_build = execs(&definition)
        .into_iter()
        .find(|exec| {
            let meta = exec.meta.as_ref().unwrap();
            meta.cwd == "/build" && meta.args.join(" ").contains("/flotilla-out")
        })
        .unwrap();
    let script = root_build.meta.as_ref().unwrap().args.join(" ");
    assert!(
        script.contains("--bin app --target aarch64-unknown-linux-gnu"),
        "{script}"
    );
    // The fetch gets the cross target's crates; its script adds the host's.
    let root_fetch = execs(&definition)
        .into_iter()
        .find_map(|exec| {
            let meta = exec.meta?;
            (meta.cwd == "/build" && meta.args.contains(&"fetch".to_owned())).then_some(meta.args)
        })
        .unwrap();
    assert_eq!(
        root_fetch[4..],
        [
            "cargo",
            "fetch",
            "--locked",
            "--target",
            "aarch64-unknown-linux-gnu"
        ]
    );
    let env = &root_build.meta.as_ref().unwrap().env;
    assert!(env.contains(&"FLOTILLA_PROFILE_DIR=aarch64-unknown-linux-gnu/release".to_owned()));
    assert!(env.contains(
        &"CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc".to_owned()
    ));
    let toolchain = ops(&definition)
        .into_iter()
        .find(|op| matches!(&op.op, Some(Payload::Source(s)) if s.identifier.contains("rust:1-bookworm")))
        .unwrap();
    assert_eq!(
        toolchain.platform.unwrap().architecture,
        "amd64",
        "the toolchain runs natively"
    );
    let base = ops(&definition)
        .into_iter()
        .find(|op| matches!(&op.op, Some(Payload::Source(s)) if s.identifier.contains("debian")))
        .unwrap();
    assert_eq!(base.platform.unwrap().architecture, "arm64");
    let cache_ids: Vec<String> = root_build
        .mounts
        .iter()
        .filter_map(|m| m.cache_opt.as_ref().map(|c| c.id.clone()))
        .collect();
    assert!(
        cache_ids.iter().all(|id| id.contains("linux-arm64")),
        "{cache_ids:?}"
    );
}

const OPENAB: &str = include_str!("../../examples/openab/flotilla.yaml");

/// examples/openab's manifests, as the frontend reads them from the context.
fn openab_manifests() -> BTreeMap<String, String> {
    example_manifests(
        "openab",
        &[
            "Cargo.toml",
            "Cargo.lock",
            "crates/acp/Cargo.toml",
            "crates/core/Cargo.toml",
            "crates/gateway/Cargo.toml",
            "crates/telemetry/Cargo.toml",
            "openab-agent/Cargo.toml",
            "openab-agent/Cargo.lock",
            "agy-acp/Cargo.toml",
            "agy-acp/Cargo.lock",
        ],
    )
}

/// The marshaled ops of `definition` whose progress name starts with `prefix`, by name.
fn ops_named(definition: &pb::Definition, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    definition
        .def
        .iter()
        .filter_map(|bytes| {
            let name = definition.metadata[&digest_of(bytes)]
                .description
                .get("llb.customname")?;
            name.starts_with(prefix)
                .then(|| (name.clone(), bytes.clone()))
        })
        .collect()
}

/// The stage of each `cargo build` vertex of `definition` (`[builder]`, `[builder:agy-acp]`…).
fn compiled_stages(definition: &pb::Definition) -> BTreeSet<String> {
    ops_named(definition, "[builder")
        .into_keys()
        .filter_map(|name| Some(name.split_once("] cargo build ")?.0.to_owned() + "]"))
        .collect()
}

#[test]
fn a_variant_compiles_only_the_projects_of_its_binaries() {
    let stages = |target: &str| {
        let definition = definition_of(OPENAB, target, &[], openab_manifests());
        assert_well_formed(&definition);
        compiled_stages(&definition)
    };
    // bare has only the gateway binary: no cargo runs for the other two projects.
    assert_eq!(stages("bare"), BTreeSet::from(["[builder]".to_owned()]));
    assert_eq!(
        stages("hermes"),
        BTreeSet::from(["[builder]".to_owned(), "[builder:openab-agent]".to_owned()])
    );
    assert_eq!(
        stages("artifact"),
        BTreeSet::from([
            "[builder]".to_owned(),
            "[builder:agy-acp]".to_owned(),
            "[builder:openab-agent]".to_owned()
        ])
    );
    // The gateway's compile is the same ops for every target, so they share its cache.
    let root = |target: &str| {
        ops_named(
            &definition_of(OPENAB, target, &[], openab_manifests()),
            "[builder] cargo build ",
        )
    };
    assert_eq!(root("bare").len(), 2);
    assert_eq!(root("bare"), root("artifact"));
    assert_eq!(root("bare"), root("agy"));
}

#[test]
fn a_projects_compile_moves_only_with_its_own_manifests() {
    let artifact = |manifests| definition_of(OPENAB, "artifact", &[], manifests);
    let compiles = |definition: &pb::Definition, stage: &str| {
        ops_named(definition, &format!("{stage} cargo build "))
    };
    let before = artifact(openab_manifests());
    // BuildKit keys a dependency layer on the content of the files its manifests' local
    // source names: each project's names its own manifests and lockfile alone.
    let manifests: BTreeMap<String, String> = ops_named(&before, "[builder")
        .into_iter()
        .filter_map(|(name, bytes)| {
            let Some(Payload::Source(source)) = pb::Op::decode(bytes.as_slice()).unwrap().op else {
                return None;
            };
            Some((name, source.attrs.get("local.followpaths")?.clone()))
        })
        .collect();
    assert_eq!(
        manifests,
        BTreeMap::from([
            (
                "[builder] load Cargo manifests".to_owned(),
                r#"["Cargo.lock","Cargo.toml","crates/acp/Cargo.toml","crates/core/Cargo.toml","crates/gateway/Cargo.toml","crates/telemetry/Cargo.toml"]"#.to_owned()
            ),
            (
                "[builder:agy-acp] load Cargo manifests".to_owned(),
                r#"["agy-acp/Cargo.lock","agy-acp/Cargo.toml"]"#.to_owned()
            ),
            (
                "[builder:openab-agent] load Cargo manifests".to_owned(),
                r#"["openab-agent/Cargo.lock","openab-agent/Cargo.toml"]"#.to_owned()
            ),
        ])
    );
    // agy-acp's manifest gains a binary target: its stubs change, the others' ops do not.
    let mut manifests = openab_manifests();
    manifests
        .get_mut("agy-acp/Cargo.toml")
        .unwrap()
        .push_str("\n[[bin]]\nname = \"agy-extra\"\n");
    let after = artifact(manifests);
    for stage in ["[builder]", "[builder:openab-agent]"] {
        let ops = compiles(&before, stage);
        assert_eq!(ops.len(), 2, "a dependency layer and a build: {ops:?}");
        assert!(ops.keys().any(|name| name.ends_with("(dependencies only)")));
        assert_eq!(ops, compiles(&after, stage), "{stage} is byte-identical");
    }
    assert_ne!(
        compiles(&before, "[builder:agy-acp]"),
        compiles(&after, "[builder:agy-acp]")
    );
}

#[test]
fn a_project_is_sent_only_what_its_build_reads() {
    let definition = definition_of(OPENAB, "artifact", &[], openab_manifests());
    let includes: BTreeMap<String, String> = ops_named(&definition, "[builder")
        .into_iter()
        .filter(|(name, _)| name.ends_with("] load project sources"))
        .map(|(name, bytes)| {
            let Some(Payload::Source(source)) = pb::Op::decode(bytes.as_slice()).unwrap().op else {
                panic!("{name} is a source")
            };
            (name, source.attrs["local.includepattern"].clone())
        })
        .collect();
    // No README, config/, vendor/, Dockerfile or spec: editing them recompiles nothing.
    assert_eq!(
        includes,
        BTreeMap::from([
            (
                "[builder] load project sources".to_owned(),
                r#"[".cargo","Cargo.lock","Cargo.toml","benches","build.rs","crates/acp","crates/core","crates/gateway","crates/telemetry","examples","rust-toolchain","rust-toolchain.toml","src","tests"]"#.to_owned()
            ),
            (
                "[builder:agy-acp] load project sources".to_owned(),
                r#"[".cargo","agy-acp/.cargo","agy-acp/Cargo.lock","agy-acp/Cargo.toml","agy-acp/benches","agy-acp/build.rs","agy-acp/examples","agy-acp/rust-toolchain","agy-acp/rust-toolchain.toml","agy-acp/src","agy-acp/tests","rust-toolchain","rust-toolchain.toml"]"#.to_owned()
            ),
            (
                "[builder:openab-agent] load project sources".to_owned(),
                r#"[".cargo","openab-agent/.cargo","openab-agent/Cargo.lock","openab-agent/Cargo.toml","openab-agent/benches","openab-agent/build.rs","openab-agent/examples","openab-agent/rust-toolchain","openab-agent/rust-toolchain.toml","openab-agent/src","openab-agent/tests","rust-toolchain","rust-toolchain.toml"]"#.to_owned()
            ),
        ])
    );
}

/// The fetch's copy, run by `sh` on a cargo home that also holds another project's package and
/// an older version: only the packages the lockfile pins reach the fetch layer, with the index
/// and the git caches whole; the package of another platform, never fetched, is skipped.
#[test]
fn the_fetch_layer_holds_the_locked_packages_alone() {
    const REGISTRY: &str = "index.crates.io-1949cf8c6b5b557f";
    let mut manifests = manifests();
    for (name, version) in [("itoa", "1.0.15"), ("windows-sys", "0.59.0")] {
        manifests.get_mut("Cargo.lock").unwrap().push_str(&format!(
            "\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n"
        ));
    }
    let definition = definition_of(HELLO, "artifact", &[], manifests);
    let fetch = execs(&definition)
        .into_iter()
        .find(|exec| {
            exec.meta
                .as_ref()
                .unwrap()
                .args
                .contains(&"fetch".to_owned())
        })
        .unwrap();
    let meta = fetch.meta.unwrap();
    let work = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fetch-layer");
    let _ = std::fs::remove_dir_all(&work);
    let home = work.join("cargo");
    for path in [
        format!("registry/index/{REGISTRY}/.cache/3/i/itoa"),
        format!("registry/cache/{REGISTRY}/itoa-1.0.15.crate"),
        format!("registry/cache/{REGISTRY}/itoa-1.0.14.crate"),
        format!("registry/cache/{REGISTRY}/serde-1.0.0.crate"),
        format!("registry/src/{REGISTRY}/itoa-1.0.15/src/lib.rs"),
        format!("registry/src/{REGISTRY}/serde-1.0.0/src/lib.rs"),
        "git/db/tool-0123/HEAD".to_owned(),
    ] {
        let path = home.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "x").unwrap();
    }
    let fetched = work.join("fetched");
    let script = meta.args[2].replace("/flotilla/fetched", fetched.to_str().unwrap());
    let output = Command::new("/bin/sh")
        .args(["-c", &script, "sh", "true"])
        .env_clear()
        .envs(meta.env.iter().filter_map(|pair| pair.split_once('=')))
        .env("PATH", std::env::var("PATH").unwrap())
        .env("CARGO_HOME", &home)
        .current_dir(&work)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let mut copied: Vec<String> = walk_files(&fetched)
        .into_iter()
        .map(|path| path.strip_prefix(&fetched).unwrap().display().to_string())
        .collect();
    copied.sort();
    assert_eq!(
        copied,
        [
            "git/db/tool-0123/HEAD".to_owned(),
            format!("registry/cache/{REGISTRY}/itoa-1.0.15.crate"),
            format!("registry/index/{REGISTRY}/.cache/3/i/itoa"),
            format!("registry/src/{REGISTRY}/itoa-1.0.15/src/lib.rs"),
        ]
    );
}

/// Without `--locked` cargo may pin other packages than the lockfile's, and without a lockfile
/// it pins its own: the fetch then copies the registry cache whole.
#[test]
fn an_unlocked_fetch_copies_the_registry_whole() {
    let whole = "cp -a \"$CARGO_HOME/registry\" /flotilla/fetched/";
    let fetch_script = |text: &str, manifests| {
        let definition = definition_of(text, "artifact", &[], manifests);
        execs(&definition)[0].meta.clone().unwrap().args[2].clone()
    };
    let unlocked = HELLO.replace("locked: true", "locked: false");
    assert_ne!(unlocked, HELLO);
    assert!(fetch_script(&unlocked, manifests()).contains(whole));
    let mut no_lockfile = manifests();
    no_lockfile.remove("Cargo.lock");
    assert!(fetch_script(HELLO, no_lockfile).contains(whole));
    assert!(!fetch_script(HELLO, manifests()).contains(whole));
}

/// Every file under `dir`, iteratively.
fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let (mut files, mut dirs) = (Vec::new(), vec![dir.to_path_buf()]);
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
