//! The CI examples in `examples/ci/` cannot run here, so they are checked against what they
//! rely on: the workflow parses, its jobs chain, and every flag, JSON key and matrix field it
//! uses is one that `llb-gen targets --json` has. `scripts/lint-workflow` lints it with
//! actionlint.

use std::process::Command;

use serde_json::Value;

const WORKFLOW: &str = include_str!("../../examples/ci/github-workflow.yml");
const BAKE: &str = include_str!("../../examples/ci/docker-bake.hcl");
const HELLO_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/hello/flotilla.yaml"
);

fn workflow() -> Value {
    serde_saphyr::from_str(WORKFLOW).expect("the workflow is valid YAML")
}

/// `llb-gen targets --json` on the hello example, with the workflow's flags.
fn plan() -> Value {
    plan_with(&[])
}

/// The plan with `extra` flags.
fn plan_with(extra: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_llb-gen"))
        .args(["targets", HELLO_PATH, "--json"])
        .args(["--platform", "linux/amd64,linux/arm64", "--image", "app"])
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The `matrix.<field>` names used in `text`.
fn matrix_fields(text: &str) -> Vec<&str> {
    text.match_indices("matrix.")
        .map(|(at, prefix)| {
            let rest = &text[at + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

#[test]
fn targets_json_is_one_matrix_job_per_variant_and_platform() {
    let plan = plan();
    assert_eq!(plan["image"], "app");
    assert_eq!(plan["variants"], serde_json::json!(["hello", "gateway"]));
    let jobs = plan["matrix"]["include"].as_array().unwrap();
    assert_eq!(jobs.len(), 4);
    assert_eq!(
        jobs[1],
        serde_json::json!({
            "target": "hello",
            "platform": "linux/arm64",
            "platforms": "linux/amd64,linux/arm64",
            "arch": "linux-arm64",
            "tag": "app-hello",
            "artifact": "app-artifact",
        })
    );
    let core = plan["core"]["include"].as_array().unwrap();
    assert!(core.iter().all(|job| job["target"] == "artifact"));
    assert_eq!(core.len(), 2);
}

#[test]
fn image_defaults_to_the_spec_directory_name() {
    let output = Command::new(env!("CARGO_BIN_EXE_llb-gen"))
        .args(["targets", HELLO_PATH, "--json"])
        .output()
        .unwrap();
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(plan["image"], "hello");
    assert_eq!(plan["platforms"], serde_json::json!(["linux/amd64"]));
}

#[test]
fn workflow_chains_plan_core_variants_and_merge() {
    let workflow = workflow();
    let jobs = &workflow["jobs"];
    assert_eq!(jobs["build-core"]["needs"], "plan");
    assert_eq!(
        jobs["build-core"]["if"],
        "needs.plan.outputs.compile == 'true'"
    );
    assert_eq!(jobs["carry"]["needs"], "plan");
    assert_eq!(
        jobs["build-variants"]["needs"],
        serde_json::json!(["plan", "build-core", "carry"])
    );
    assert_eq!(
        jobs["merge"]["needs"],
        serde_json::json!(["plan", "build-variants"])
    );
    let step = |job: &str, action: &str| {
        jobs[job]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|step| step["uses"].as_str().is_some_and(|u| u.starts_with(action)))
            .unwrap_or_else(|| panic!("{job} uses {action}"))["with"]
            .clone()
    };
    let core = step("build-core", "docker/build-push-action");
    assert_eq!(core["push"], true);
    let variant = step("build-variants", "docker/build-push-action");
    let outputs = variant["outputs"].as_str().unwrap();
    assert!(outputs.contains("push-by-digest=true,name-canonical=true,push=true"));
    let builder_image = variant["build-args"].as_str().unwrap();
    assert!(builder_image.starts_with("BUILDER_IMAGE="));
    // The variant reads exactly the tag build-core pushed for its platform.
    assert_eq!(
        builder_image.trim_start_matches("BUILDER_IMAGE="),
        core["tags"].as_str().unwrap()
    );
    let merge = jobs["merge"]["steps"].to_string();
    assert!(merge.contains("docker buildx imagetools create"));
    // A skipped artifact is carried under the tag build-core would have pushed.
    let carry = jobs["carry"]["steps"][2]["run"].as_str().unwrap();
    assert!(
        core["tags"]
            .as_str()
            .unwrap()
            .ends_with(":${{ github.sha }}-${{ matrix.arch }}")
    );
    assert!(carry.contains(r#"-t "$image:$SHA-$arch" "$image:$BASE-$arch""#));
    assert!(carry.contains(r"arch=${platform//\//-}"), "{carry}");
}

#[test]
fn workflow_uses_only_flags_keys_and_fields_the_plan_has() {
    let workflow = workflow();
    let plan = plan();
    let script = workflow["jobs"]["plan"]["steps"].to_string();
    for flag in ["--json", "--platform", "--image", "--since"] {
        assert!(script.contains(flag), "the plan job passes {flag}");
    }
    let change = plan_with(&["--changed", "README.md"]);
    for key in ["built", "skipped", "note"] {
        assert!(
            script.contains(&format!(".{key}")),
            "the plan job reads .{key}"
        );
        assert!(change.get(key).is_some(), "a change plan has `{key}`");
    }
    for (at, _) in script.match_indices("jq -c .") {
        let key: String = script[at + 7..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        assert!(plan.get(&key).is_some(), "the plan has no `{key}`");
    }
    for (job, matrix) in [("build-core", "core"), ("build-variants", "matrix")] {
        let entry = &plan[matrix]["include"][0];
        for field in matrix_fields(&workflow["jobs"][job].to_string()) {
            assert!(entry.get(field).is_some(), "{job}: no matrix.{field}");
        }
    }
}

#[test]
fn bake_file_builds_the_artifact_then_the_variants_from_it() {
    assert!(BAKE.contains("target     = \"artifact\""));
    assert!(BAKE.contains(
        "BUILDER_IMAGE = \"${REGISTRY}/${IMAGE}-artifact:${ARTIFACT_TAG != \"\" ? ARTIFACT_TAG : TAG}-${arch(platform)}\""
    ));
    assert!(
        BAKE.contains("tags       = [\"${REGISTRY}/${IMAGE}-artifact:${TAG}-${arch(platform)}\"]")
    );
    assert!(BAKE.contains("llb-gen targets examples/hello/flotilla.yaml --json --since REV"));
    assert!(BAKE.contains("jq -r '.variants | join(\",\")' plan.json"));
}
