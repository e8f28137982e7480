//! One build, start to finish: read the spec from the client, pick the target, check a
//! prebuilt builder, solve the graph llb-gen makes, and hand back the image and its config.

use std::collections::{BTreeMap, BTreeSet};

use llb_gen::failure::{FailedStep, failed_step};
use llb_gen::graph::{self, GraphContext};
use llb_gen::image::ImageConfig;
use llb_gen::llb::{MarshalOptions, NoCache, SourceFile, marshal};
use llb_gen::pb::Definition;
use llb_gen::platform::Platform;
use llb_gen::resolve::ArgValues;
use llb_gen::spec::{DEFAULT_FILENAME, Spec};
use llb_gen::target::{self, BUILDER_CONTEXT_OPTION, BinariesSource};
use prost::Message;

use crate::bridge::{Bridge, BridgeError, MAX_REQUEST_BYTES};
use crate::gateway_pb::CacheOptionsEntry;
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
    /// Several platforms were asked of an exporter that takes one.
    #[error("this daemon exports one platform per build (Docker's image store), but {} were asked for: build each with its own --platform, or use a BuildKit builder (buildx docker-container) for a multi-platform image", platforms.join(", "))]
    OnePlatformOnly {
        /// The platforms asked for.
        platforms: Vec<String>,
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

/// One platform's image: a ref BuildKit holds, and its config JSON.
pub struct PlatformImage {
    /// The platform it is for.
    pub platform: Platform,
    /// Ref id of the final filesystem.
    pub reference: String,
    /// `containerimage.config`.
    pub config: Vec<u8>,
}

/// What a build hands back to BuildKit.
pub enum Outcome {
    /// One image, for the one platform asked for.
    Image(PlatformImage),
    /// One image per platform (`refs.platforms`).
    Platforms(Vec<PlatformImage>),
    /// Nothing to export: smoke checks ran.
    Nothing,
}

/// What every platform's build shares: read once from the client.
struct Request<'a> {
    bridge: &'a Bridge,
    options: &'a Options,
    daemon_caps: Vec<String>,
    filename: &'a str,
    source: String,
    context_excludes: Vec<String>,
    cache_imports: Vec<CacheOptionsEntry>,
    no_cache: NoCache,
}

/// Runs the build that `options` describe, once per target platform.
pub async fn build(bridge: &Bridge, options: &Options) -> Result<Outcome, BuildError> {
    let daemon_caps = bridge.llb_caps().await?;
    let filename = options.get("filename").unwrap_or(DEFAULT_FILENAME);
    let source = client_files::read_spec(bridge, options, filename).await?;
    let spec = llb_gen::load(&source, filename)?;
    let platforms = options.platforms()?;
    if platforms.len() > 1 && !options.exporter_takes_many() {
        return Err(BuildError::OnePlatformOnly {
            platforms: platforms.iter().map(ToString::to_string).collect(),
        });
    }
    let request = Request {
        bridge,
        options,
        daemon_caps,
        filename,
        context_excludes: client_files::read_dockerignore(bridge, options).await?,
        cache_imports: options.cache_imports()?,
        no_cache: NoCache::from_option(options.opts.get("no-cache").map(String::as_str)),
        source,
    };
    let as_map = platforms.len() > 1 || options.multi_platform();
    let mut manifests = None;
    let mut images = Vec::new();
    for platform in platforms {
        match request.build(&spec, platform, &mut manifests).await? {
            Some(image) => images.push(image),
            None => return Ok(Outcome::Nothing),
        }
    }
    Ok(match images.pop() {
        Some(image) if !as_map && images.is_empty() => Outcome::Image(image),
        last => Outcome::Platforms(images.into_iter().chain(last).collect()),
    })
}

impl Request<'_> {
    /// The image for one platform; `None` for smoke checks, which export nothing. The context's
    /// manifests are read on the first compile and kept in `manifests` for the other platforms.
    async fn build(
        &self,
        spec: &Spec,
        platform: Platform,
        manifests: &mut Option<BTreeMap<String, String>>,
    ) -> Result<Option<PlatformImage>, BuildError> {
        let (bridge, options) = (self.bridge, self.options);
        let build_platform = options
            .worker_platform
            .clone()
            .unwrap_or_else(|| platform.clone());
        let arg_values = ArgValues {
            build_args: options.build_args(),
            target_platform: platform.clone(),
            build_platform: build_platform.clone(),
        };
        let mut target = target::select(spec, options.get("target"), &arg_values)?;
        if let Some(named) = options.named_context(BUILDER_CONTEXT_OPTION, &platform) {
            target.binaries = BinariesSource::from_named_context(named)?;
        }
        let resolver = Resolver {
            bridge,
            platform: &platform,
            mode: options.get("image-resolve-mode").unwrap_or("default"),
        };
        let toolchain_env = match &target.binaries {
            BinariesSource::Compile { toolchain } => {
                if manifests.is_none() {
                    *manifests = Some(
                        client_files::read_manifests(bridge, options, &self.context_excludes)
                            .await?,
                    );
                }
                resolver.config(toolchain).await?.config.env
            }
            _ => None,
        };
        let base = match target.base_image() {
            Some(image) => resolver.config(&image).await?,
            None => ImageConfig::scratch(&platform),
        };
        let context = GraphContext {
            platform: platform.clone(),
            build_platform,
            session_id: options.session_id.clone(),
            toolchain_env,
            context_excludes: self.context_excludes.clone(),
            manifests: manifests.clone().unwrap_or_default(),
            base_config: Some(base.clone()),
        };
        if !matches!(target.binaries, BinariesSource::Compile { .. }) {
            prebuilt::check(bridge, spec, &target, &context).await?;
        }
        let graph = graph::build(spec, &target, &context)?;
        let spec_file = SourceFile {
            name: self.filename,
            data: self.source.as_bytes(),
        };
        let definition = marshal(
            &graph.state,
            MarshalOptions {
                source: Some(spec_file),
                no_cache: Some(&self.no_cache),
            },
        );
        self.check_definition(&definition)?;
        let reference = bridge
            .solve_and_build(definition.clone(), self.cache_imports.clone())
            .await
            .map_err(|error| located_failure(&definition, self.filename, error))?;
        if target.smoke_check {
            return Ok(None);
        }
        let config = base.apply(&graph.changes).for_platform(&platform);
        Ok(Some(PlatformImage {
            platform,
            reference,
            config: config.to_json(),
        }))
    }

    /// Refuses a Definition BuildKit would refuse obscurely: too large, or needing caps the
    /// daemon lacks.
    fn check_definition(&self, definition: &Definition) -> Result<(), BuildError> {
        let size = definition.encoded_len();
        if size > MAX_REQUEST_BYTES {
            return Err(BuildError::TooLarge { size });
        }
        let missing: BTreeSet<String> = definition
            .metadata
            .values()
            .flat_map(|metadata| metadata.caps.keys())
            .filter(|cap| !self.daemon_caps.contains(cap))
            .cloned()
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(BuildError::MissingCaps {
                missing: missing.into_iter().collect(),
            })
        }
    }
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
