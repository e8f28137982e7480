//! Tests: whatever the daemon sends (errors from Solve, a missing spec, broken messages, a
//! failing StatFile, missing caps) and whatever the options say, the frontend answers with
//! exactly one Return holding a result or an error message, and never panics or hangs.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use prost::Message;
use tonic::{Code, Status};

use crate::fake_bridge::{Daemon, Garbage, run};
use crate::gateway_pb::{self, Any, ReturnRequest, Stat, result};

const HELLO: &str = include_str!("../../examples/hello/flotilla.yaml");
/// Builds the gateway variant from a prebuilt builder: no manifests to read.
const PREBUILT: [&str; 2] = [
    "target=gateway",
    "build-arg:BUILDER_IMAGE=localhost:5000/hello-artifact:1",
];
/// Where the prebuilt check looks for the gateway's binary.
const GATEWAY_BINARY: &str = "flotilla/bin/hello-gateway";

/// A daemon holding the hello spec and a prebuilt builder with an executable gateway binary.
fn prebuilt_daemon() -> Daemon {
    let mut daemon = Daemon::holding(HELLO);
    daemon
        .stats
        .insert(GATEWAY_BINARY.to_owned(), Ok(executable()));
    daemon
}

/// What StatFile says of an executable file.
fn executable() -> Stat {
    Stat {
        mode: 0o755,
        ..Default::default()
    }
}

/// The error message of a Return that must carry one and no result.
fn error_of(returned: &ReturnRequest) -> &str {
    &status_of(returned).message
}

/// The error of a Return that must carry one and no result.
fn status_of(returned: &ReturnRequest) -> &gateway_pb::Status {
    assert!(returned.result.is_none(), "an error has no result");
    returned.error.as_ref().expect("an error")
}

/// An error as BuildKit sends it: its google.rpc.Status, typed details included, in
/// `grpc-status-details-bin`.
fn status_with_details(message: &str, details: &[Any]) -> Status {
    let status = gateway_pb::Status {
        code: Code::Unknown as i32,
        message: message.to_owned(),
        details: details.to_vec(),
    };
    Status::with_details(Code::Unknown, message, status.encode_to_vec().into())
}

/// BuildKit's typed details of a failed exec: the vertex, and its spec lines from the
/// Definition's source map.
fn exec_details() -> Vec<Any> {
    let detail = |kind: &str, json: &str| Any {
        type_url: format!("github.com/moby/buildkit/errdefs.{kind}+json"),
        value: json.as_bytes().to_vec(),
    };
    vec![
        detail("Vertex", r#"{"digest":"sha256:00"}"#),
        detail(
            "Source",
            r#"{"info":{"filename":"flotilla.yaml","data":"eA=="},"ranges":[{"start":{"line":14,"character":11},"end":{"line":14}}]}"#,
        ),
    ]
}

/// What the `errdefs.Source` detail of a Return's error says.
#[derive(Debug, PartialEq)]
struct SourceDetail {
    filename: String,
    data: Vec<u8>,
    /// The start line of each range.
    lines: Vec<i64>,
}

/// The one `errdefs.Source` detail of a Return's error, decoded as BuildKit decodes it.
fn source_of(returned: &ReturnRequest) -> SourceDetail {
    let sources: Vec<&Any> = status_of(returned)
        .details
        .iter()
        .filter(|detail| detail.type_url == "github.com/moby/buildkit/errdefs.Source+json")
        .collect();
    assert_eq!(sources.len(), 1, "one Source detail");
    let json: serde_json::Value = serde_json::from_slice(&sources[0].value).unwrap();
    SourceDetail {
        filename: json["info"]["filename"].as_str().unwrap().to_owned(),
        data: STANDARD
            .decode(json["info"]["data"].as_str().unwrap())
            .unwrap(),
        lines: json["ranges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|range| range["start"]["line"].as_i64().unwrap())
            .collect(),
    }
}

#[tokio::test]
async fn a_healthy_daemon_gets_the_image_and_its_config() {
    let returned = run(prebuilt_daemon(), &PREBUILT).await;
    assert!(returned.error.is_none(), "{:?}", returned.error);
    let result = returned.result.expect("a result");
    let Some(result::Result::Ref(reference)) = result.result else {
        panic!("one ref")
    };
    // Solves: the spec, the prebuilt builder, the build (the variant reads nothing from the
    // context, so its .dockerignore is not read).
    assert_eq!(reference.id, "ref-3");
    let config: serde_json::Value =
        serde_json::from_slice(&result.metadata["containerimage.config"]).unwrap();
    assert_eq!(config["config"]["Cmd"][0], "hello-gateway");
}

#[tokio::test]
async fn source_date_epoch_dates_the_config_and_a_bad_one_is_refused() {
    let dated: Vec<&str> = PREBUILT
        .into_iter()
        .chain(["build-arg:SOURCE_DATE_EPOCH=1609459200"])
        .collect();
    let returned = run(prebuilt_daemon(), &dated).await;
    let result = returned.result.expect("a result");
    let config: serde_json::Value =
        serde_json::from_slice(&result.metadata["containerimage.config"]).unwrap();
    assert_eq!(config["created"], "2021-01-01T00:00:00Z");
    assert_eq!(config["history"][0]["created"], "2021-01-01T00:00:00Z");
    let bad: Vec<&str> = PREBUILT
        .into_iter()
        .chain(["build-arg:SOURCE_DATE_EPOCH=-1"])
        .collect();
    assert_eq!(
        error_of(&run(prebuilt_daemon(), &bad).await),
        "option build-arg:SOURCE_DATE_EPOCH: `-1` is not a Unix time: a whole number of seconds since 1970-01-01 UTC, as `date +%s` prints"
    );
}

#[tokio::test]
async fn a_missing_spec_is_named_with_the_daemons_reason() {
    let mut daemon = Daemon::holding(HELLO);
    daemon.file = Err(Status::not_found(
        "open /tmp/flotilla.yaml: no such file or directory",
    ));
    let returned = run(daemon, &[]).await;
    assert_eq!(
        error_of(&returned),
        "cannot read spec `flotilla.yaml`: open /tmp/flotilla.yaml: no such file or directory"
    );
    let returned = run(
        Daemon {
            file: Err(Status::not_found("no such file")),
            ..Daemon::holding(HELLO)
        },
        &["filename=ci/other.yaml", "requestid=frontend.targets"],
    )
    .await;
    assert_eq!(
        error_of(&returned),
        "cannot read spec `ci/other.yaml`: no such file"
    );
}

#[tokio::test]
async fn a_spec_that_is_not_text_or_cut_short_is_a_located_error() {
    let mut daemon = Daemon::holding(HELLO);
    daemon.file = Ok(vec![b'v', 0xff, 0xfe]);
    assert_eq!(
        error_of(&run(daemon, &[]).await),
        "flotilla.yaml:1:2: not UTF-8 text (invalid byte 0xff)"
    );
    let cut = &HELLO[..HELLO.find("variants:").unwrap() + "variants:\n  hel".len()];
    let message = error_of(&run(Daemon::holding(cut), &[]).await).to_owned();
    assert!(message.starts_with("flotilla.yaml:"), "{message}");
    let message = error_of(&run(Daemon::holding(""), &[]).await).to_owned();
    assert!(message.starts_with("flotilla.yaml"), "{message}");
}

#[tokio::test]
async fn solve_errors_end_the_build_with_the_daemons_message() {
    // Each Solve in turn fails: the spec's, the prebuilt builder's, the build's.
    let expected = [
        "cannot read spec `flotilla.yaml`: failed to solve: rpc error: daemon is shutting down",
        "prebuilt builder image localhost:5000/hello-artifact:1 cannot be used: failed to solve: rpc error: daemon is shutting down",
        "failed to solve: rpc error: daemon is shutting down",
    ];
    let details = exec_details();
    for (solves_ok, expected) in expected.into_iter().enumerate() {
        let daemon = Daemon {
            solves_ok,
            solve_error: Some(status_with_details(
                "failed to solve: rpc error: daemon is shutting down",
                &details,
            )),
            ..prebuilt_daemon()
        };
        let returned = run(daemon, &PREBUILT).await;
        assert_eq!(error_of(&returned), expected, "after {solves_ok} solves");
        assert_eq!(
            status_of(&returned).details,
            details,
            "BuildKit's details, after {solves_ok} solves"
        );
    }
}

/// The hello spec's `hello` variant with run `steps`, built from a prebuilt builder that holds
/// its binary, on a daemon whose build Solve (after the spec's and the builder's) fails with `error`, about `failing_step` when given.
fn failing_prebuilt_build(
    steps: &str,
    error: Status,
    failing_step: Option<&'static str>,
) -> Daemon {
    let spec = HELLO.replace(
        "    entrypoint: [hello]",
        &format!("    run: {steps}\n    entrypoint: [hello]"),
    );
    let mut daemon = Daemon {
        solves_ok: 2,
        solve_error: Some(error),
        failing_step,
        ..Daemon::holding(&spec)
    };
    daemon
        .stats
        .insert("flotilla/bin/hello".to_owned(), Ok(executable()));
    daemon
}

#[tokio::test]
async fn a_failing_step_is_explained_with_its_spec_line_and_buildkits_details() {
    let daemon = failing_prebuilt_build(
        "[exit 7]",
        status_with_details(
            "executor failed running [/bin/sh -c exit 7]: exit code: 7",
            &exec_details(),
        ),
        None,
    );
    let returned = run(daemon, &[PREBUILT[1], "target=hello"]).await;
    assert_eq!(
        error_of(&returned),
        "flotilla.yaml:14:11: `[hello 2/3] RUN exit 7` failed: executor failed running [/bin/sh -c exit 7]: exit code: 7"
    );
    // The step's lines come from BuildKit's own Source detail, passed on unchanged.
    assert_eq!(status_of(&returned).details, exec_details());
}

#[tokio::test]
async fn the_failing_vertex_tells_which_of_two_identical_steps_failed() {
    // As current BuildKit words it: the argv cannot tell the two steps apart.
    let message = r#"process "/bin/sh -c exit 7" did not complete successfully: exit code: 7"#;
    let daemon = failing_prebuilt_build(
        "[exit 7, exit 7]",
        status_with_details(message, &[]),
        Some("[hello 2/4] RUN exit 7"),
    );
    let returned = run(daemon, &[PREBUILT[1], "target=hello"]).await;
    assert_eq!(
        error_of(&returned),
        format!("flotilla.yaml:14:11: `[hello 2/4] RUN exit 7` failed: {message}")
    );
    let vertex = &status_of(&returned).details[0];
    assert_eq!(
        vertex.type_url, "github.com/moby/buildkit/errdefs.Vertex+json",
        "BuildKit's detail, passed on"
    );
}

#[tokio::test]
async fn spec_errors_carry_a_source_detail_at_their_line() {
    let unknown_field = HELLO.replace("    entrypoint: [hello]", "    entrpoint: [hello]");
    let arg_base = HELLO
        .replacen(
            "variants:\n",
            "args: {BASE: debian:bookworm-slim}\nvariants:\n",
            1,
        )
        .replacen(
            "    from: debian:bookworm-slim\n    binaries: { hello:",
            "    from: ${BASE}\n    binaries: { hello:",
            1,
        );
    let cases: [(&[u8], &[&str], i64); 4] = [
        // Validation.
        (unknown_field.as_bytes(), &[], 14),
        // The same error, asked by `--call targets`.
        (
            unknown_field.as_bytes(),
            &["requestid=frontend.targets"],
            14,
        ),
        // Not UTF-8.
        (b"v\xff\xfe", &[], 1),
        // A build arg's value that makes the spec wrong.
        (
            arg_base.as_bytes(),
            &["target=hello", "build-arg:BASE=not a ref!"],
            13,
        ),
    ];
    for (spec, opts, line) in cases {
        let daemon = Daemon {
            file: Ok(spec.to_vec()),
            ..Daemon::holding("")
        };
        let returned = run(daemon, opts).await;
        let message = error_of(&returned).to_owned();
        assert!(
            message.starts_with(&format!("flotilla.yaml:{line}:")),
            "{opts:?}: {message}"
        );
        assert_eq!(
            source_of(&returned),
            SourceDetail {
                filename: "flotilla.yaml".to_owned(),
                data: spec.to_vec(),
                lines: vec![line],
            },
            "{opts:?}"
        );
    }
    // An error about no spec line points at the first line, quoting that line alone.
    let returned = run(Daemon::holding(HELLO), &["target=nope"]).await;
    assert!(error_of(&returned).starts_with("unknown target `nope`"));
    let first_line = HELLO.split_inclusive('\n').next().unwrap();
    assert_eq!(
        source_of(&returned),
        SourceDetail {
            filename: "flotilla.yaml".to_owned(),
            data: first_line.as_bytes().to_vec(),
            lines: vec![1],
        }
    );
}

#[tokio::test]
async fn broken_messages_from_any_rpc_are_errors() {
    for rpc in ["Ping", "Solve", "ReadFile", "ReadDir", "ResolveImageConfig"] {
        for garbage in [Garbage::TruncatedFrame, Garbage::TruncatedMessage] {
            let mut daemon = prebuilt_daemon();
            daemon.garbled.insert(rpc, garbage);
            let message = error_of(&run(daemon, &PREBUILT).await).to_owned();
            assert!(
                message.ends_with("Missing response message.")
                    || message.contains("failed to decode Protobuf message"),
                "{rpc} {garbage:?}: {message}"
            );
        }
    }
}

#[tokio::test]
async fn an_unreadable_image_config_names_the_image() {
    for config in [&b"{\"architecture\":"[..], b"[]", b"\xff"] {
        let daemon = Daemon {
            image_config: Ok(config.to_vec()),
            ..prebuilt_daemon()
        };
        let message = error_of(&run(daemon, &PREBUILT).await).to_owned();
        assert!(
            message
                .starts_with("image docker.io/library/debian:bookworm-slim: unreadable config: "),
            "{message}"
        );
    }
    let daemon = Daemon {
        image_config: Err(Status::not_found("docker.io/library/debian: not found")),
        ..prebuilt_daemon()
    };
    assert_eq!(
        error_of(&run(daemon, &PREBUILT).await),
        "image docker.io/library/debian:bookworm-slim: docker.io/library/debian: not found"
    );
}

/// `--sbom` with a scanner BuildKit cannot pull fails before anything is built, naming it; one
/// it can pull lets the build go on (BuildKit runs it on the result).
#[tokio::test]
async fn an_sbom_scanner_that_cannot_be_pulled_is_named_before_the_build() {
    let daemon = Daemon {
        image_config: Err(Status::not_found("registry-1.docker.io: no such host")),
        ..prebuilt_daemon()
    };
    let sbom = ["attest:sbom=", PREBUILT[0], PREBUILT[1]];
    assert_eq!(
        error_of(&run(daemon, &sbom).await),
        "option attest:sbom (--sbom): BuildKit scans the image with docker/buildkit-syft-scanner:stable-1, which cannot be resolved: registry-1.docker.io: no such host; build without --sbom, or name a scanner this daemon can pull with --sbom=generator=<image>"
    );
    let returned = run(prebuilt_daemon(), &sbom).await;
    assert!(returned.error.is_none(), "{:?}", returned.error);
}

#[tokio::test]
async fn prebuilt_checks_report_stat_errors_and_unusable_binaries() {
    let mut daemon = prebuilt_daemon();
    daemon.stats.insert(
        GATEWAY_BINARY.to_owned(),
        Err(Status::unavailable("connection reset")),
    );
    assert_eq!(
        error_of(&run(daemon, &PREBUILT).await),
        "prebuilt builder image localhost:5000/hello-artifact:1 cannot be used: connection reset"
    );
    let mut daemon = prebuilt_daemon();
    daemon.stats.clear();
    let returned = run(daemon, &PREBUILT).await;
    assert_eq!(
        error_of(&returned),
        "prebuilt builder image localhost:5000/hello-artifact:1 lacks binaries the target needs under /flotilla/bin: hello-gateway (missing)"
    );
    // The variant's `binaries` entry that asks for it.
    assert_eq!(
        source_of(&returned),
        SourceDetail {
            filename: "flotilla.yaml".to_owned(),
            data: HELLO.as_bytes().to_vec(),
            lines: vec![18],
        }
    );
    let mut daemon = prebuilt_daemon();
    daemon.stats.insert(
        GATEWAY_BINARY.to_owned(),
        Ok(Stat {
            mode: 0o644,
            ..Default::default()
        }),
    );
    assert!(error_of(&run(daemon, &PREBUILT).await).ends_with("hello-gateway (not executable)"));
}

#[tokio::test]
async fn a_daemon_without_caps_or_ping_is_refused_clearly() {
    let daemon = Daemon {
        pong: Ok(Default::default()),
        ..prebuilt_daemon()
    };
    let message = error_of(&run(daemon, &PREBUILT).await).to_owned();
    assert!(
        message.starts_with("this BuildKit lacks LLB capabilities the build needs: "),
        "{message}"
    );
    assert!(message.contains("source.image"), "{message}");
    let daemon = Daemon {
        pong: Err(Status::unimplemented("unknown method Ping")),
        ..prebuilt_daemon()
    };
    assert_eq!(
        error_of(&run(daemon, &PREBUILT).await),
        "unknown method Ping"
    );
}

#[tokio::test]
async fn odd_options_get_an_answer() {
    let odd: &[&[&str]] = &[
        &["filename="],
        &["target="],
        &["target=check:"],
        &["target=artifact", "build-arg:BUILDER_IMAGE="],
        &["platform="],
        &["platform=,"],
        &["platform=linux/amd64,linux/amd64"],
        &["platform=linux/amd64,linux/arm64", "multi-platform=true"],
        &["no-cache"],
        &["no-cache=,,"],
        &["build-arg:=x", "build-arg:", "=", "no-equals-sign"],
        &["context:builder="],
        &["context:builder=docker-image://"],
        &["image-resolve-mode=sideways"],
        &["cache-imports=[{"],
        &[
            "cache-from=",
            "label:=",
            "add-hosts=:",
            "force-network-mode=",
        ],
        &["requestid="],
        &["requestid=frontend.outline", "platform=linux/"],
    ];
    for opts in odd {
        let opts: Vec<&str> = PREBUILT
            .iter()
            .copied()
            .chain(opts.iter().copied())
            .collect();
        let returned = run(prebuilt_daemon(), &opts).await;
        assert!(
            returned.result.is_some() != returned.error.is_some(),
            "{opts:?}: a result or an error"
        );
        if let Some(error) = &returned.error {
            assert!(!error.message.is_empty(), "{opts:?}");
        }
    }
}
