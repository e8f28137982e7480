//! `llb-gen targets --json`: the CI plan, shaped so GitHub Actions can use its parts as
//! `strategy.matrix` values with `fromJSON` and no reshaping (see `examples/ci/`).

use serde::Serialize;

use crate::spec::ARTIFACT_TARGET;
use crate::target::TargetInfo;

/// What a CI run builds: the artifact once per platform, then every variant per platform.
#[derive(Debug, Serialize)]
pub struct Plan {
    /// Image name prefix; tags are `<image>-<target>`.
    pub image: String,
    /// Target platforms, in the order given.
    pub platforms: Vec<String>,
    /// Buildable variant names (no abstract ones, no `artifact`), for the per-variant merge.
    pub variants: Vec<String>,
    /// The build-core matrix: one `artifact` build per platform.
    pub core: Matrix,
    /// The build-variants matrix: one entry per variant × platform.
    pub matrix: Matrix,
}

/// A `strategy.matrix` made only of `include` entries, so every entry is one job.
#[derive(Debug, Serialize)]
pub struct Matrix {
    /// The jobs.
    pub include: Vec<Job>,
}

/// One matrix job: one target on one platform.
#[derive(Debug, Serialize)]
pub struct Job {
    /// The `--target` to build.
    pub target: String,
    /// The platform of this job, e.g. `linux/arm64`.
    pub platform: String,
    /// Every platform of the run, comma-separated (for `imagetools create` and bake).
    pub platforms: String,
    /// The platform as a tag or file-name suffix: `linux/arm/v7` → `linux-arm-v7`.
    pub arch: String,
    /// Image name of the target: `<image>-<target>`.
    pub tag: String,
    /// Image name of the artifact whose `<sha>-<arch>` tag this job's variant copies from.
    pub artifact: String,
}

/// The plan for `targets` (as `target::list` gives them, or those a change affects) on
/// `platforms`; the core jobs only when `artifact` is among them.
pub fn plan(image: &str, platforms: &[String], targets: &[TargetInfo]) -> Plan {
    let jobs = |target: String| {
        platforms.iter().map(move |platform| Job {
            target: target.clone(),
            platform: platform.clone(),
            platforms: platforms.join(","),
            arch: platform.replace('/', "-"),
            tag: format!("{image}-{target}"),
            artifact: format!("{image}-{ARTIFACT_TARGET}"),
        })
    };
    let variants: Vec<String> = targets
        .iter()
        .map(|target| target.name.clone())
        .filter(|name| name != ARTIFACT_TARGET)
        .collect();
    Plan {
        image: image.to_owned(),
        platforms: platforms.to_vec(),
        core: Matrix {
            include: targets
                .iter()
                .filter(|target| target.name == ARTIFACT_TARGET)
                .flat_map(|target| jobs(target.name.clone()))
                .collect(),
        },
        matrix: Matrix {
            include: variants.iter().cloned().flat_map(jobs).collect(),
        },
        variants,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{load, target};

    #[test]
    fn one_job_per_variant_and_platform_without_the_artifact() {
        let spec = load(
            include_str!("../../examples/hello/flotilla.yaml"),
            "flotilla.yaml",
        )
        .unwrap();
        let platforms = ["linux/amd64".to_owned(), "linux/arm/v7".to_owned()];
        let plan = plan("hello", &platforms, &target::list(&spec));
        assert_eq!(plan.variants, ["hello", "gateway"]);
        let jobs: Vec<(&str, &str)> = plan
            .matrix
            .include
            .iter()
            .map(|job| (job.target.as_str(), job.arch.as_str()))
            .collect();
        assert_eq!(
            jobs,
            [
                ("hello", "linux-amd64"),
                ("hello", "linux-arm-v7"),
                ("gateway", "linux-amd64"),
                ("gateway", "linux-arm-v7")
            ]
        );
        let gateway = &plan.matrix.include[2];
        assert_eq!(gateway.tag, "hello-gateway");
        assert_eq!(gateway.artifact, "hello-artifact");
        assert_eq!(gateway.platforms, "linux/amd64,linux/arm/v7");
        assert_eq!(plan.core.include.len(), 2);
        assert_eq!(plan.core.include[1].target, "artifact");
    }
}
