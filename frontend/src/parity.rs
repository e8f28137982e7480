//! Test: for the same options, llb-gen's plan builds byte for byte the Definition the frontend
//! solves, so what `llb-gen llb` prints is what a build runs: for a prebuilt target with the
//! options that change the Definition, and for a compiled one from the context's manifests.

use std::collections::BTreeMap;
use std::path::PathBuf;

use llb_gen::context_dir::ContextDir;
use llb_gen::dockerignore;
use llb_gen::graph::BuildFacts;
use llb_gen::image::ImageConfig;
use llb_gen::llb::{ExecNetwork, NetworkMode, NoCache, SourceFile};
use llb_gen::pb::Definition;
use llb_gen::plan::{self, BuildRequest, Plan};
use llb_gen::platform::Platform;
use llb_gen::resolve::ArgValues;
use llb_gen::spec::DEFAULT_FILENAME;
use prost::Message;

use crate::fake_bridge::{Daemon, IMAGE_DIGEST, run_recording};
use crate::gateway_pb::Stat;
use crate::options::Options;

const HELLO: &str = include_str!("../../examples/hello/flotilla.yaml");
/// examples/hello: the spec, a `.dockerignore` and a Cargo workspace of two crates.
const HELLO_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/hello");
/// Normalized as written, so the plan names it as the daemon was asked.
const BUILDER_IMAGE: &str = "localhost:5000/hello-artifact:1";
const SESSION_ID: &str = "session-1";
/// A prebuilt gateway (no manifests to read) with labels, a network and no-cache.
const OPTS: [&str; 6] = [
    "target=gateway",
    "build-arg:BUILDER_IMAGE=localhost:5000/hello-artifact:1",
    "label:a=b",
    "add-hosts=h=10.0.0.1",
    "force-network-mode=none",
    "no-cache=",
];

/// What llb-gen's plan builds for `request` of the hello spec from the facts `facts` gives it.
fn planned(request: &BuildRequest, facts: impl FnOnce(&Plan<'_>) -> BuildFacts) -> Definition {
    let spec = llb_gen::load(HELLO, DEFAULT_FILENAME).expect("the hello spec");
    let plan = plan::plan(&spec, request).expect("a plan");
    let source = SourceFile {
        name: DEFAULT_FILENAME,
        data: HELLO.as_bytes(),
    };
    plan.build(&facts(&plan), source)
        .expect("a build")
        .definition
}

/// The facts the fake daemon gives: its image config, the digest it resolves every image to
/// (the base's and the prebuilt builder's here), the session, and its one file (the spec) read
/// as the context's `.dockerignore`, as the frontend does; the prebuilt graph uses neither
/// session nor context today.
fn daemon_facts(plan: &Plan<'_>, image_config: &[u8]) -> BuildFacts {
    let digests = [plan.base_image().expect("a base"), BUILDER_IMAGE]
        .map(|image| (image.to_owned(), IMAGE_DIGEST.to_owned()));
    BuildFacts {
        session_id: Some(SESSION_ID.to_owned()),
        context_excludes: dockerignore::patterns(HELLO),
        base_config: Some(ImageConfig::from_json(image_config).expect("the fake's config")),
        digests: digests.into(),
        ..plan.known_facts()
    }
}

#[tokio::test]
async fn the_plan_builds_the_definition_the_frontend_solves() {
    let mut daemon = Daemon::holding(HELLO);
    let executable = Stat {
        mode: 0o755,
        ..Default::default()
    };
    daemon
        .stats
        .insert("flotilla/bin/hello-gateway".to_owned(), Ok(executable));
    daemon
        .stats
        .insert(".dockerignore".to_owned(), Ok(Stat::default()));
    let image_config = daemon.image_config.clone().expect("a config");
    let env = OPTS
        .iter()
        .enumerate()
        .map(|(i, opt)| (format!("BUILDKIT_FRONTEND_OPT_{i}"), (*opt).to_owned()))
        .chain([("BUILDKIT_SESSION_ID".to_owned(), SESSION_ID.to_owned())]);
    let (returned, solved) = run_recording(daemon, &Options::from_env(env)).await;
    assert!(returned.error.is_none(), "{:?}", returned.error);
    let solved = solved.last().expect("the build's Solve").encode_to_vec();

    let platform = Platform::linux("amd64");
    let args = ArgValues {
        build_args: BTreeMap::from([("BUILDER_IMAGE".to_owned(), BUILDER_IMAGE.to_owned())]),
        target_platform: platform.clone(),
        build_platform: platform,
    };
    let plain = BuildRequest::new(Some("gateway".to_owned()), args).expect("a request");
    let asked = BuildRequest {
        labels: vec![("a".to_owned(), "b".to_owned())],
        network: ExecNetwork {
            mode: NetworkMode::None,
            extra_hosts: vec![("h".to_owned(), "10.0.0.1".to_owned())],
        },
        no_cache: NoCache::All,
        ..plain.clone()
    };
    let facts = |plan: &Plan<'_>| daemon_facts(plan, &image_config);
    assert_eq!(solved, planned(&asked, facts).encode_to_vec());
    // Every image source is pinned to the digest the daemon resolved it to.
    let pinned = format!("@{IMAGE_DIGEST}").into_bytes();
    let sources = Definition::decode(&solved[..]).expect("a Definition").def;
    let images: Vec<&Vec<u8>> = sources
        .iter()
        .filter(|op| op.windows(15).any(|w| w == b"docker-image://"))
        .collect();
    assert_eq!(images.len(), 2, "the base and the prebuilt builder");
    assert!(
        images
            .iter()
            .all(|op| op.windows(pinned.len()).any(|w| w == pinned)),
        "every image source pinned"
    );
    // The options reached the Definition: without them the plan builds another.
    assert_ne!(solved, planned(&plain, facts).encode_to_vec());
}

#[tokio::test]
async fn the_cli_builds_the_definition_the_frontend_solves_for_a_compiled_target() {
    // The frontend reads the spec, `.dockerignore` and the Cargo manifests of examples/hello
    // through the bridge; the toolchain's and the base image's configs are empty, no session,
    // and no digest to pin them to (as Docker 20.10 answers for the images in its store).
    let daemon = Daemon {
        dir: Some(PathBuf::from(HELLO_DIR)),
        image_digest: String::new(),
        ..Daemon::holding(HELLO)
    };
    let options = Options::from_opts(&["target=hello"]);
    let (returned, solved) = run_recording(daemon, &options).await;
    assert!(returned.error.is_none(), "{:?}", returned.error);
    let solved = solved.last().expect("the build's Solve").encode_to_vec();

    // `llb-gen llb flotilla.yaml --target hello`, run in examples/hello.
    let args = ArgValues::native(BTreeMap::new(), &Platform::linux("amd64"));
    let request = BuildRequest::new(Some("hello".to_owned()), args).expect("a request");
    let cli = |plan: &Plan<'_>| ContextDir::new(HELLO_DIR).facts(plan).expect("a context");
    assert_eq!(solved, planned(&request, cli).encode_to_vec());
    // The manifests reached the Definition: without them the plan builds another.
    let without_manifests = |plan: &Plan<'_>| BuildFacts {
        manifests: BTreeMap::new(),
        ..cli(plan)
    };
    assert_ne!(solved, planned(&request, without_manifests).encode_to_vec());
}
