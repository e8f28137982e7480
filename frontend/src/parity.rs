//! Test: for the same options, llb-gen's plan builds byte for byte the Definition the frontend
//! solves, so what `llb-gen llb` prints is what a build runs.

use std::collections::BTreeMap;

use llb_gen::dockerignore;
use llb_gen::graph::BuildFacts;
use llb_gen::image::ImageConfig;
use llb_gen::llb::{ExecNetwork, NetworkMode, NoCache, SourceFile};
use llb_gen::pb::Definition;
use llb_gen::plan::{self, BuildRequest};
use llb_gen::platform::Platform;
use llb_gen::resolve::ArgValues;
use llb_gen::spec::DEFAULT_FILENAME;
use prost::Message;

use crate::fake_bridge::{Daemon, run_recording};
use crate::gateway_pb::Stat;
use crate::options::Options;

const HELLO: &str = include_str!("../../examples/hello/flotilla.yaml");
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

/// What llb-gen's plan builds for `request` from the facts the fake daemon gives: its image
/// config, the session, and its one file (the spec) read as the context's `.dockerignore`, as
/// the frontend does; the prebuilt graph uses neither session nor context today.
fn planned(request: &BuildRequest, image_config: &[u8]) -> Definition {
    let spec = llb_gen::load(HELLO, DEFAULT_FILENAME).expect("the hello spec");
    let plan = plan::plan(&spec, request).expect("a plan");
    let facts = BuildFacts {
        session_id: Some(SESSION_ID.to_owned()),
        context_excludes: dockerignore::patterns(HELLO),
        base_config: Some(ImageConfig::from_json(image_config).expect("the fake's config")),
        ..plan.known_facts()
    };
    let source = SourceFile {
        name: DEFAULT_FILENAME,
        data: HELLO.as_bytes(),
    };
    plan.build(&facts, source).expect("a build").definition
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
    assert_eq!(solved, planned(&asked, &image_config).encode_to_vec());
    // The options reached the Definition: without them the plan builds another.
    assert_ne!(solved, planned(&plain, &image_config).encode_to_vec());
}
