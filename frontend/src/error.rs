//! Why a build fails, as the user reads it, and how such an error becomes the Failure the
//! frontend returns (with BuildKit's details and a Source into the spec).

use llb_gen::Position;
use llb_gen::failure::FailedStep;

use crate::bridge::{BridgeError, Failure};
use crate::errdefs;
use crate::options::InvalidOption;

/// Why a build failed; the text is what the user sees.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// BuildKit refused a request.
    #[error(transparent)]
    Bridge(#[from] BridgeError),
    /// The spec or the requested target is wrong.
    #[error(transparent)]
    Spec(#[from] llb_gen::Error),
    /// A frontend option has a bad value.
    #[error(transparent)]
    Option(#[from] InvalidOption),
    /// The spec file cannot be read.
    #[error("cannot read spec `{file}`: {error}")]
    ReadSpec {
        /// The spec's file name.
        file: String,
        /// BuildKit's error.
        error: BridgeError,
    },
    /// A needed image cannot be resolved.
    #[error("image {image}: {reason}")]
    Image {
        /// The normalized reference.
        image: String,
        /// What went wrong.
        reason: Unusable,
    },
    /// The prebuilt builder cannot be read: missing image, unreachable registry.
    #[error("prebuilt builder {source_name} cannot be used: {reason}")]
    PrebuiltUnusable {
        /// `image <ref>` or `context <name>`.
        source_name: String,
        /// What went wrong.
        reason: Unusable,
    },
    /// The prebuilt builder image is for another platform than the build's target.
    #[error(
        "prebuilt builder image {image} is for {found}, not the target platform {wanted}: push the artifact built with --platform {wanted}"
    )]
    PrebuiltPlatform {
        /// The normalized reference.
        image: String,
        /// The platform its config names.
        found: String,
        /// The target platform.
        wanted: String,
    },
    /// The prebuilt builder lacks binaries the target needs.
    #[error(
        "prebuilt builder {source_name} lacks binaries the target needs under {dir}: {}",
        listed(problems)
    )]
    PrebuiltBinaries {
        /// `image <ref>` or `context <name>`.
        source_name: String,
        /// The directory searched.
        dir: String,
        /// One entry per binary.
        problems: Vec<BinaryProblem>,
    },
    /// The daemon lacks an LLB capability the graph needs.
    #[error("this BuildKit lacks LLB capabilities the build needs: {}", missing.join(", "))]
    MissingCaps {
        /// Cap ids the graph declares that the daemon does not enable.
        missing: Vec<String>,
    },
    /// A process of the build failed; the spec step that runs it is known.
    #[error("{file}:{}:{}: `{}` failed: {error}", step.position.line, step.position.column, step.name)]
    StepFailed {
        /// The spec's file name.
        file: String,
        /// The step.
        step: FailedStep,
        /// BuildKit's error, whose details carry the step's source location.
        error: BridgeError,
    },
    /// Several platforms were asked of an exporter that takes one.
    #[error("this daemon exports one platform per build (Docker's image store), but {} were asked for: build each with its own --platform, or use a BuildKit builder (buildx docker-container) for a multi-platform image", platforms.join(", "))]
    OnePlatformOnly {
        /// The platforms asked for.
        platforms: Vec<String>,
    },
    /// BuildKit refused `force-network-mode=host`: the build was not granted the entitlement.
    #[error(
        "option force-network-mode: host networking needs the {HOST_ENTITLEMENT} entitlement, which this build lacks (buildctl: --allow {HOST_ENTITLEMENT}, with buildkitd --allow-insecure-entitlement {HOST_ENTITLEMENT}): {error}"
    )]
    HostNetworkRefused {
        /// BuildKit's error.
        error: BridgeError,
    },
    /// An SBOM was asked for, but BuildKit could not pull the scanner it runs on the result.
    #[error(
        "option attest:sbom (--sbom): BuildKit scans the image with {scanner}, which cannot be resolved: {error}; build without --sbom, or name a scanner this daemon can pull with --sbom=generator=<image>"
    )]
    SbomScanner {
        /// The scanner image.
        scanner: String,
        /// BuildKit's error.
        error: BridgeError,
    },
}

/// Why an image, or a prebuilt builder, cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Unusable {
    /// BuildKit refused a request about it.
    #[error(transparent)]
    Daemon(#[from] BridgeError),
    /// Its config is not an image config.
    #[error("unreadable config: {0}")]
    Config(String),
}

/// A binary the target needs that the prebuilt builder cannot provide.
#[derive(Debug)]
pub struct BinaryProblem {
    /// Its name.
    pub binary: String,
    /// `missing` or `not executable`.
    pub problem: &'static str,
    /// Where the spec asks for it, for the error's source snippet.
    pub position: Position,
}

/// `a (missing), b (not executable)`.
fn listed(problems: &[BinaryProblem]) -> String {
    let listed: Vec<String> = problems
        .iter()
        .map(|problem| format!("{} ({})", problem.binary, problem.problem))
        .collect();
    listed.join(", ")
}

impl BuildError {
    /// The BuildKit error behind this one, whose typed details are passed on unchanged.
    fn daemon_error(&self) -> Option<&BridgeError> {
        match self {
            Self::Bridge(error)
            | Self::ReadSpec { error, .. }
            | Self::StepFailed { error, .. }
            | Self::HostNetworkRefused { error }
            | Self::SbomScanner { error, .. }
            | Self::Image {
                reason: Unusable::Daemon(error),
                ..
            }
            | Self::PrebuiltUnusable {
                reason: Unusable::Daemon(error),
                ..
            } => Some(error),
            _ => None,
        }
    }

    /// The spec positions the error is about; none when it is not about spec lines.
    fn spec_positions(&self) -> Vec<Position> {
        match self {
            Self::Spec(llb_gen::Error::Spec(diagnostic)) => vec![diagnostic.position],
            Self::PrebuiltBinaries { problems, .. } => {
                problems.iter().map(|problem| problem.position).collect()
            }
            _ => Vec::new(),
        }
    }

    /// The error as the frontend returns it: its text, BuildKit's details, and, once the spec
    /// (file name and bytes) was read and BuildKit's details hold no Source of their own, a
    /// Source detail at its spec positions, else at the spec's first line. Without one, the
    /// dockerfile frontend that forwards to this one adds a Source at the `# syntax=` line
    /// holding the whole file, which for a spec over the size limit is more than a gRPC trailer
    /// can carry.
    pub fn into_failure(self, spec: Option<(&str, &[u8])>) -> Failure {
        let mut details = self
            .daemon_error()
            .map(|error| error.details().to_vec())
            .unwrap_or_default();
        let positions = self.spec_positions();
        if let Some((filename, bytes)) = spec
            && !details.iter().any(errdefs::is_source)
        {
            details.push(if positions.is_empty() {
                errdefs::first_line(filename, bytes)
            } else {
                errdefs::source(filename, bytes, &positions)
            });
        }
        Failure {
            message: self.to_string(),
            details,
        }
    }
}

impl From<BuildError> for Failure {
    /// An error before the spec was read.
    fn from(error: BuildError) -> Self {
        error.into_failure(None)
    }
}

/// The entitlement BuildKit requires for host networking.
pub const HOST_ENTITLEMENT: &str = "network.host";
