//! One build, start to finish: read the spec from the client, pick the target, check a
//! prebuilt builder, solve the graph llb-gen makes, and hand back the image and its config.

use llb_gen::failure::{FailedStep, failed_step};
use llb_gen::graph::{self, GraphContext};
use llb_gen::image::ImageConfig;
use llb_gen::llb::{LocalOptions, MarshalOptions, NoCache, SourceFile, State, marshal};
use llb_gen::pb::Definition;
use llb_gen::platform::Platform;
use llb_gen::resolve::ArgValues;
use llb_gen::spec::{DEFAULT_FILENAME, Spec};
use llb_gen::target::{self, ARTIFACT_DIR, BinariesSource, Target};
use prost::Message;

use crate::bridge::{Bridge, BridgeError, MAX_REQUEST_BYTES};
use crate::options::{InvalidOption, Options};

/// The local the client serves the spec's directory under (`docker build -f`'s directory).
const SPEC_LOCAL: &str = "dockerfile";
/// Go's os.FileMode directory bit, as BuildKit's StatFile reports it.
const MODE_DIR: u32 = 1 << 31;

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
    /// The prebuilt builder image lacks binaries the target needs.
    #[error("prebuilt builder image {image} lacks binaries the target needs under {ARTIFACT_DIR}: {}", problems.join(", "))]
    PrebuiltBinaries {
        /// The normalized reference.
        image: String,
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
    /// The Definition is larger than BuildKit accepts in one message.
    #[error(
        "the build graph is {size} bytes, over BuildKit's {MAX_REQUEST_BYTES}-byte message limit"
    )]
    TooLarge {
        /// Marshaled size.
        size: usize,
    },
}

/// The built image: a ref BuildKit holds, and its config JSON.
pub struct BuiltImage {
    /// Ref id of the final filesystem.
    pub reference: String,
    /// `containerimage.config`.
    pub config: Vec<u8>,
}

/// Runs the build that `options` describe.
pub async fn build(bridge: &Bridge, options: &Options) -> Result<BuiltImage, BuildError> {
    let daemon_caps = bridge.llb_caps().await?;
    let filename = options.get("filename").unwrap_or(DEFAULT_FILENAME);
    let source = read_spec(bridge, options, filename).await?;
    let spec = llb_gen::load(&source, filename)?;
    let platform = options.platform()?;
    let arg_values = ArgValues {
        build_args: options.build_args(),
        target_platform: platform.clone(),
        build_platform: options
            .worker_platform
            .clone()
            .unwrap_or_else(|| platform.clone()),
    };
    let target = target::select(&spec, options.get("target"), &arg_values)?;
    let cache_imports = options.cache_imports()?;
    let resolver = Resolver {
        bridge,
        platform: &platform,
        mode: options.get("image-resolve-mode").unwrap_or("default"),
    };
    let toolchain_env = match &target.binaries {
        BinariesSource::Compile { toolchain } => resolver.config(toolchain).await?.config.env,
        BinariesSource::Prebuilt { image } => {
            check_prebuilt(bridge, &spec, &target, image, &platform).await?;
            None
        }
    };
    let base = match target.base_image() {
        Some(image) => resolver.config(&image).await?,
        None => ImageConfig::scratch(&platform),
    };
    let context = GraphContext {
        platform: platform.clone(),
        session_id: options.session_id.clone(),
        toolchain_env,
        context_excludes: Vec::new(),
        base_config: Some(base.clone()),
    };
    let graph = graph::build(&spec, &target, &context);
    let no_cache = NoCache::from_option(options.opts.get("no-cache").map(String::as_str));
    let spec_file = SourceFile {
        name: filename,
        data: source.as_bytes(),
    };
    let definition = marshal(
        &graph.state,
        MarshalOptions {
            source: Some(spec_file),
            no_cache: Some(&no_cache),
        },
    );
    let size = definition.encoded_len();
    if size > MAX_REQUEST_BYTES {
        return Err(BuildError::TooLarge { size });
    }
    let missing: Vec<String> = definition
        .metadata
        .values()
        .flat_map(|metadata| metadata.caps.keys())
        .filter(|cap| !daemon_caps.contains(cap))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !missing.is_empty() {
        return Err(BuildError::MissingCaps { missing });
    }
    let reference = bridge
        .solve_and_build(definition.clone(), cache_imports)
        .await
        .map_err(|error| located_failure(&definition, filename, error))?;
    let config = base.apply(&graph.changes).for_platform(&platform);
    Ok(BuiltImage {
        reference,
        config: config.to_json(),
    })
}

/// A solve error, prefixed with the spec location of the step whose process failed, since
/// Docker 20.10's CLI prints no source location.
fn located_failure(definition: &Definition, file: &str, error: BridgeError) -> BuildError {
    let message = error.to_string();
    match failed_step(definition, &message) {
        Some(step) => BuildError::StepFailed {
            file: file.to_owned(),
            step,
            message,
        },
        None => error.into(),
    }
}

/// Reads the spec from the `dockerfile` local: `# syntax=` forwards options, not the file.
async fn read_spec(
    bridge: &Bridge,
    options: &Options,
    filename: &str,
) -> Result<String, BuildError> {
    let local = State::local(
        SPEC_LOCAL,
        &LocalOptions {
            session_id: options.session_id.clone(),
            follow_paths: vec![filename.to_owned()],
            shared_key_hint: Some(SPEC_LOCAL.to_owned()),
            ..Default::default()
        },
        format!("[internal] load {filename}"),
    );
    let unreadable = |reason: String| BuildError::ReadSpec {
        file: filename.to_owned(),
        reason,
    };
    let reference = bridge
        .solve(marshal(&local, MarshalOptions::default()), Vec::new())
        .await
        .map_err(|e| unreadable(e.to_string()))?;
    let bytes = bridge
        .read_file(&reference, filename)
        .await
        .map_err(|e| unreadable(e.to_string()))?;
    String::from_utf8(bytes).map_err(|error| {
        unreadable(format!(
            "not UTF-8 text (invalid byte at offset {})",
            error.utf8_error().valid_up_to()
        ))
    })
}

/// Fails before any variant layer runs when the prebuilt image lacks a needed binary.
async fn check_prebuilt(
    bridge: &Bridge,
    spec: &Spec,
    target: &Target<'_>,
    image: &str,
    platform: &Platform,
) -> Result<(), BuildError> {
    let state = State::image(
        image,
        platform,
        format!("[builder] FROM {image} (prebuilt)"),
    );
    let unusable = |error: BridgeError| BuildError::Image {
        image: image.to_owned(),
        reason: error.to_string(),
    };
    let reference = bridge
        .solve(marshal(&state, MarshalOptions::default()), Vec::new())
        .await
        .map_err(unusable)?;
    let needed: Vec<&str> = match &target.variant {
        Some(variant) => variant
            .binaries
            .iter()
            .map(|(name, _)| name.value.as_str())
            .collect(),
        None => spec
            .builder
            .binaries
            .value
            .iter()
            .map(|name| name.value.as_str())
            .collect(),
    };
    let mut problems = Vec::new();
    for binary in needed {
        let path = format!("{}/{binary}", ARTIFACT_DIR.trim_start_matches('/'));
        match bridge
            .stat_file(&reference, &path)
            .await
            .map_err(unusable)?
        {
            None => problems.push(format!("{binary} (missing)")),
            Some(stat) if stat.mode & MODE_DIR != 0 || stat.mode & 0o111 == 0 => {
                problems.push(format!("{binary} (not executable)"));
            }
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(BuildError::PrebuiltBinaries {
            image: image.to_owned(),
            problems,
        })
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
