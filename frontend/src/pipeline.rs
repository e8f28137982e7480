//! One build, start to finish: read the spec from the client, pick the target, check a
//! prebuilt builder, solve the graph llb-gen makes, and hand back the image and its config.

use std::collections::{BTreeMap, BTreeSet};

use llb_gen::failure::{FailedStep, failed_step};
use llb_gen::graph::{self, GraphContext};
use llb_gen::image::ImageConfig;
use llb_gen::llb::{MarshalOptions, NetworkMode, NoCache, SourceFile, marshal};
use llb_gen::pb::Definition;
use llb_gen::platform::Platform;
use llb_gen::resolve::ArgValues;
use llb_gen::spec::{DEFAULT_FILENAME, Spec};
use llb_gen::target::{self, BUILDER_CONTEXT_OPTION, BinariesSource};
use prost::Message;

use crate::bridge::{Bridge, BridgeError, DaemonCaps, MAX_REQUEST_BYTES};
use crate::options::{InvalidOption, Options};
use crate::{client_files, prebuilt};

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
    #[error("cannot read spec `{file}`: {reason}")]
    ReadSpec {
        /// The spec's file name.
        file: String,
        /// What went wrong.
        reason: String,
    },
    /// A needed image cannot be resolved.
    #[error("image {image}: {reason}")]
    Image {
        /// The normalized reference.
        image: String,
        /// What went wrong.
        reason: String,
    },
    /// The prebuilt builder lacks binaries the target needs.
    #[error("prebuilt builder {source_name} lacks binaries the target needs under {dir}: {}", problems.join(", "))]
    PrebuiltBinaries {
        /// `image <ref>` or `context <name>`.
        source_name: String,
        /// The directory searched.
        dir: String,
        /// One entry per binary: `name (missing)` or `name (not executable)`.
        problems: Vec<String>,
    },
    /// The daemon lacks an LLB capability the graph needs.
    #[error("this BuildKit lacks LLB capabilities the build needs: {}", missing.join(", "))]
    MissingCaps {
        /// Cap ids the graph declares that the daemon does not enable.
        missing: Vec<String>,
    },
    /// A process of the build failed; the spec step that runs it is known.
    #[error("{file}:{}:{}: `{}` failed: {message}", step.position.line, step.position.column, step.name)]
    StepFailed {
        /// The spec's file name.
        file: String,
        /// The step.
        step: FailedStep,
        /// BuildKit's error.
        message: String,
    },
    /// BuildKit refused `force-network-mode=host`: the build was not granted the entitlement.
    #[error(
        "option force-network-mode: host networking needs the {HOST_ENTITLEMENT} entitlement, which this build lacks (buildctl: --allow {HOST_ENTITLEMENT}, with buildkitd --allow-insecure-entitlement {HOST_ENTITLEMENT}): {message}"
    )]
    HostNetworkRefused {
        /// BuildKit's error.
        message: String,
    },
    /// The Definition is larger than BuildKit accepts in one message.
    #[error(
        "the build graph is {size} bytes, over BuildKit's {MAX_REQUEST_BYTES}-byte message limit"
    )]
    TooLarge {
        /// Marshaled size.
        size: usize,
    },
}

/// The entitlement BuildKit requires for host networking.
const HOST_ENTITLEMENT: &str = "network.host";

/// The built image: a ref BuildKit holds, and its config JSON.
pub struct BuiltImage {
    /// Ref id of the final filesystem.
    pub reference: String,
    /// `containerimage.config`.
    pub config: Vec<u8>,
}

/// The spec the client sent, parsed and validated.
pub struct LoadedSpec {
    /// Its file name (option `filename`).
    pub filename: String,
    /// Its text, for the Definition's source map.
    pub source: String,
    /// The spec.
    pub spec: Spec,
}

/// Reads and validates the spec named by option `filename`.
pub async fn load_spec(bridge: &Bridge, options: &Options) -> Result<LoadedSpec, BuildError> {
    let filename = options.get("filename").unwrap_or(DEFAULT_FILENAME);
    let source = client_files::read_spec(bridge, options, filename).await?;
    let spec = llb_gen::load(&source, filename)?;
    Ok(LoadedSpec {
        filename: filename.to_owned(),
        source,
        spec,
    })
}

/// What the spec's build args get from this build: `build-arg:*` and the platforms.
pub fn arg_values(options: &Options, platform: &Platform) -> ArgValues {
    ArgValues {
        build_args: options.build_args(),
        target_platform: platform.clone(),
        build_platform: options
            .worker_platform
            .clone()
            .unwrap_or_else(|| platform.clone()),
    }
}

/// Runs the build that `options` describe on a daemon with `caps`.
pub async fn build(
    bridge: &Bridge,
    options: &Options,
    caps: &DaemonCaps,
) -> Result<BuiltImage, BuildError> {
    let LoadedSpec {
        filename,
        source,
        spec,
    } = load_spec(bridge, options).await?;
    let filename = filename.as_str();
    let platform = options.platform()?;
    let network = options.exec_network()?;
    let arg_values = arg_values(options, &platform);
    let mut target = target::select(&spec, options.get("target"), &arg_values)?;
    if let Some(named) = options.named_context(BUILDER_CONTEXT_OPTION, &platform) {
        target.binaries = BinariesSource::from_named_context(named)?;
    }
    let cache_imports = options.cache_imports()?;
    let resolver = Resolver {
        bridge,
        platform: &platform,
        mode: options.get("image-resolve-mode").unwrap_or("default"),
    };
    let context_excludes = client_files::read_dockerignore(bridge, options).await?;
    let (toolchain_env, manifests) = match &target.binaries {
        BinariesSource::Compile { toolchain } => (
            resolver.config(toolchain).await?.config.env,
            client_files::read_manifests(bridge, options, &context_excludes).await?,
        ),
        _ => (None, BTreeMap::new()),
    };
    let base = match target.base_image() {
        Some(image) => resolver.config(&image).await?,
        None => ImageConfig::scratch(&platform),
    };
    let context = GraphContext {
        platform: platform.clone(),
        session_id: options.session_id.clone(),
        toolchain_env,
        context_excludes,
        manifests,
        base_config: Some(base.clone()),
    };
    if !matches!(target.binaries, BinariesSource::Compile { .. }) {
        prebuilt::check(bridge, &spec, &target, &context).await?;
    }
    let mut graph = graph::build(&spec, &target, &context)?;
    graph.changes.labels.extend(options.labels());
    let no_cache = NoCache::from_option(options.opts.get("no-cache").map(String::as_str));
    let spec_file = SourceFile {
        name: filename,
        data: source.as_bytes(),
    };
    let definition = marshal(
        &graph.state.with_exec_network(&network),
        MarshalOptions {
            source: Some(spec_file),
            no_cache: Some(&no_cache),
        },
    );
    let size = definition.encoded_len();
    if size > MAX_REQUEST_BYTES {
        return Err(BuildError::TooLarge { size });
    }
    let missing: BTreeSet<String> = definition
        .metadata
        .values()
        .flat_map(|metadata| metadata.caps.keys())
        .filter(|cap| !caps.llb.contains(cap))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(BuildError::MissingCaps {
            missing: missing.into_iter().collect(),
        });
    }
    let reference = bridge
        .solve_and_build(definition.clone(), cache_imports)
        .await
        .map_err(|error| solve_failure(&definition, filename, network.mode, error))?;
    let config = base.apply(&graph.changes).for_platform(&platform);
    Ok(BuiltImage {
        reference,
        config: config.to_json(),
    })
}

/// A solve error, explained: a refused host network names the entitlement, and a failed
/// process is prefixed with the spec location of its step, since Docker 20.10's CLI prints no
/// source location.
fn solve_failure(
    definition: &Definition,
    file: &str,
    network: NetworkMode,
    error: BridgeError,
) -> BuildError {
    let message = error.to_string();
    if network == NetworkMode::Host
        && message.contains(&format!("{HOST_ENTITLEMENT} is not allowed"))
    {
        return BuildError::HostNetworkRefused { message };
    }
    match failed_step(definition, &message) {
        Some(step) => BuildError::StepFailed {
            file: file.to_owned(),
            step,
            message,
        },
        None => error.into(),
    }
}

/// Resolves image configs for one platform and resolve mode.
struct Resolver<'a> {
    bridge: &'a Bridge,
    platform: &'a Platform,
    mode: &'a str,
}

impl Resolver<'_> {
    async fn config(&self, image: &str) -> Result<ImageConfig, BuildError> {
        let failed = |reason: String| BuildError::Image {
            image: image.to_owned(),
            reason,
        };
        let bytes = self
            .bridge
            .resolve_image_config(image, self.platform, self.mode)
            .await
            .map_err(|error| failed(error.to_string()))?;
        ImageConfig::from_json(&bytes)
            .map_err(|error| failed(format!("unreadable config: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_host_network_names_the_entitlement() {
        let refused = || BridgeError::Rpc("network.host is not allowed".to_owned());
        let definition = Definition::default();
        let error = solve_failure(&definition, "flotilla.yaml", NetworkMode::Host, refused());
        assert!(
            error.to_string().starts_with(
                "option force-network-mode: host networking needs the network.host entitlement"
            ),
            "{error}"
        );
        let other = solve_failure(&definition, "flotilla.yaml", NetworkMode::None, refused());
        assert_eq!(other.to_string(), "network.host is not allowed");
    }
}
