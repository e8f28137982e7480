//! The Definitions llb-gen writes: well-formed for BuildKit, deterministic, and free of any
//! compile op when a prebuilt builder image is given.

use std::collections::BTreeMap;
use std::process::Command;

use llb_gen::graph::{self, GraphContext};
use llb_gen::llb::{MarshalOptions, SourceFile, digest_of, marshal};
use llb_gen::pb::{self, op::Op as Payload};
use llb_gen::platform::Platform;
use llb_gen::resolve::ArgValues;
use llb_gen::{load, target};
use prost::Message;

const HELLO: &str = include_str!("../../examples/hello/flotilla.yaml");
const HELLO_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/hello/flotilla.yaml"
);

fn definition(target_name: &str, args: &[(&str, &str)]) -> pb::Definition {
    let spec = load(HELLO, "flotilla.yaml").unwrap();
    let args: BTreeMap<String, String> = args
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let platform = Platform::linux("amd64");
    let values = ArgValues::native(args, &platform);
    let target = target::select(&spec, Some(target_name), &values).unwrap();
    let context = GraphContext {
        platform,
        session_id: Some("session-1".to_owned()),
        toolchain_env: None,
        context_excludes: Vec::new(),
        base_config: None,
    };
    let graph = graph::build(&spec, &target, &context);
    let source = SourceFile {
        name: "flotilla.yaml",
        data: HELLO.as_bytes(),
    };
    marshal(
        &graph.state,
        MarshalOptions {
            source: Some(source),
            no_cache: None,
        },
    )
}

fn ops(definition: &pb::Definition) -> Vec<pb::Op> {
    definition
        .def
        .iter()
        .map(|bytes| pb::Op::decode(bytes.as_slice()).unwrap())
        .collect()
}

/// What BuildKit checks when it loads a Definition.
fn assert_well_formed(definition: &pb::Definition) {
    let digests: Vec<String> = definition
        .def
        .iter()
        .map(|bytes| digest_of(bytes))
        .collect();
    let ops = ops(definition);
    assert!(ops.len() >= 2, "BuildKit needs at least two ops");
    let terminal = ops.last().unwrap();
    assert!(terminal.op.is_none(), "the last op is the terminal");
    assert_eq!(terminal.inputs.len(), 1);
    for (index, op) in ops.iter().enumerate() {
        for input in &op.inputs {
            let position = digests.iter().position(|d| *d == input.digest);
            assert!(
                position.is_some_and(|p| p < index),
                "input {} resolves to an earlier op",
                input.digest
            );
        }
    }
    for digest in &digests {
        assert!(
            definition.metadata.contains_key(digest),
            "metadata for {digest}"
        );
    }
}

fn exec_args(definition: &pb::Definition) -> Vec<String> {
    ops(definition)
        .into_iter()
        .filter_map(|op| match op.op {
            Some(Payload::Exec(exec)) => Some(exec.meta.unwrap().args.join(" ")),
            _ => None,
        })
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

#[test]
fn compile_path_builds_the_workspace_in_the_toolchain_image() {
    let definition = definition("hello", &[]);
    assert_well_formed(&definition);
    let execs = exec_args(&definition);
    assert_eq!(execs.len(), 1);
    assert!(
        execs[0].contains("cargo build --locked --profile release --bin hello --bin hello-gateway"),
        "{execs:?}"
    );
    assert!(execs[0].contains(
        "cp target/release/hello target/release/hello-gateway /flotilla-out/flotilla/bin/"
    ));
    assert_eq!(
        sources(&definition),
        [
            "docker-image://docker.io/library/debian:bookworm-slim",
            "docker-image://docker.io/library/rust:1-bookworm",
            "local://context",
        ]
    );
}

#[test]
fn compile_uses_locked_cache_mounts_per_platform() {
    let definition = definition("hello", &[]);
    let exec = ops(&definition)
        .into_iter()
        .find_map(|op| match op.op {
            Some(Payload::Exec(exec)) => Some(exec),
            _ => None,
        })
        .unwrap();
    let caches: Vec<(String, String, i32)> = exec
        .mounts
        .iter()
        .filter_map(|m| {
            m.cache_opt
                .as_ref()
                .map(|c| (m.dest.clone(), c.id.clone(), c.sharing))
        })
        .collect();
    assert_eq!(caches.len(), 3);
    assert!(
        caches
            .iter()
            .all(|(_, id, sharing)| id.contains("linux-amd64")
                && *sharing == pb::CacheSharingOpt::Locked as i32)
    );
    assert_eq!(caches[0].0, "/build/target");
    assert_eq!(caches[1].0, "/usr/local/cargo/git");
    let output = exec
        .mounts
        .iter()
        .find(|m| m.dest == "/flotilla-out")
        .unwrap();
    assert_eq!((output.input, output.output), (-1, 1));
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

#[test]
fn variant_copies_its_binaries_from_the_artifact_dir() {
    let definition = definition("gateway", &[("BUILDER_IMAGE", "localhost:5000/a:1")]);
    let copies: Vec<(String, String, i32, i64)> = ops(&definition)
        .into_iter()
        .filter_map(|op| match op.op {
            Some(Payload::File(file)) => Some(file.actions),
            _ => None,
        })
        .flatten()
        .filter_map(|action| match action.action {
            Some(pb::file_action::Action::Copy(copy)) => {
                Some((copy.src, copy.dest, copy.mode, copy.timestamp))
            }
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
        "[builder 1/3] FROM rust:1-bookworm",
        "[builder 3/3] cargo build --locked --profile release --bin hello --bin hello-gateway",
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
        lines.contains(&16),
        "FROM of gateway is on line 16: {lines:?}"
    );
}

#[test]
fn marshaling_is_deterministic() {
    for target in ["hello", "gateway", "artifact"] {
        assert_eq!(definition(target, &[]), definition(target, &[]));
    }
}

#[test]
fn cli_writes_a_well_formed_definition_byte_identical_across_runs() {
    let run = || {
        let output = Command::new(env!("CARGO_BIN_EXE_llb-gen"))
            .args([
                "llb",
                HELLO_PATH,
                "--target",
                "gateway",
                "--build-arg",
                "BUILDER_IMAGE=localhost:5000/a:1",
            ])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
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
