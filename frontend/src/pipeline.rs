//! One build, start to finish: read the spec from the client, pick the target, check a
//! prebuilt builder, solve the graph llb-gen makes, and hand back the image and its config.

use std::collections::{BTreeMap, BTreeSet};

use llb_gen::Position;
use llb_gen::cache_keys::CacheNamespace;
use llb_gen::failure::{FailedStep, failed_step};
use llb_gen::graph::{self, GraphContext};
use llb_gen::image::{ImageConfig, SourceDateEpoch};
use llb_gen::llb::{ExecNetwork, MarshalOptions, NetworkMode, NoCache, SourceFile, marshal};
use llb_gen::pb::Definition;
use llb_gen::platform::Platform;
use llb_gen::resolve::ArgValues;
use llb_gen::spec::{DEFAULT_FILENAME, Spec};
use llb_gen::target::{self, BUILDER_CONTEXT_OPTION, BinariesSource};

use crate::bridge::{Bridge, BridgeError, DaemonCaps, Failure};
use crate::gateway_pb::CacheOptionsEntry;
use crate::options::{InvalidOption, Options};
use crate::{client_files, errdefs, prebuilt};

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

    /// The error as the frontend returns it: its text, BuildKit's details, and, once `spec` was
    /// read and BuildKit's details hold no Source of their own, a Source detail at its spec
    /// positions, else at the spec's first line. Without one, the dockerfile frontend that
    /// forwards to this one adds a Source at the `# syntax=` line holding the whole file, which
    /// for a spec over the size limit is more than a gRPC trailer can carry.
    fn into_failure(self, spec: Option<&SpecFile>) -> Failure {
        let mut details = self
            .daemon_error()
            .map(|error| error.details().to_vec())
            .unwrap_or_default();
        let positions = self.spec_positions();
        if let Some(spec) = spec
            && !details.iter().any(errdefs::is_source)
        {
            details.push(if positions.is_empty() {
                errdefs::first_line(&spec.filename, &spec.bytes)
            } else {
                errdefs::source(&spec.filename, &spec.bytes, &positions)
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
const HOST_ENTITLEMENT: &str = "network.host";

/// One platform's image: a ref BuildKit holds, and its config JSON.
pub struct PlatformImage {
    /// The platform it is for.
    pub platform: Platform,
    /// Ref id of the final filesystem.
    pub reference: String,
    /// `containerimage.config`.
    pub config: Vec<u8>,
}

/// The spec file as the client sent it: errors about its lines quote it.
pub struct SpecFile {
    /// Its file name (option `filename`).
    pub filename: String,
    /// Its bytes, for the Definition's source map and errors' source details.
    pub bytes: Vec<u8>,
}

impl SpecFile {
    /// Reads the spec named by option `filename`.
    pub async fn read(bridge: &Bridge, options: &Options) -> Result<Self, BuildError> {
        let filename = options.get("filename").unwrap_or(DEFAULT_FILENAME);
        let bytes = client_files::read_spec(bridge, options, filename).await?;
        Ok(Self {
            filename: filename.to_owned(),
            bytes,
        })
    }

    /// The spec, decoded, parsed and validated.
    pub fn parse(&self) -> Result<Spec, BuildError> {
        let text = llb_gen::spec::decode(&self.filename, self.bytes.clone())?;
        Ok(llb_gen::load(&text, &self.filename)?)
    }

    /// `result`'s error as the frontend returns it, with a Source detail into this spec when the
    /// error has a spec location.
    pub fn locate<T>(&self, result: Result<T, BuildError>) -> Result<T, Failure> {
        result.map_err(|error| error.into_failure(Some(self)))
    }
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
    caps: &'a DaemonCaps,
    spec_file: &'a SpecFile,
    context_excludes: Vec<String>,
    cache_imports: Vec<CacheOptionsEntry>,
    no_cache: NoCache,
    network: ExecNetwork,
    /// `build-arg:SOURCE_DATE_EPOCH`: the date of every platform's image.
    epoch: Option<SourceDateEpoch>,
    /// `build-arg:BUILDKIT_CACHE_MOUNT_NS`: on every platform's cache mount ids.
    cache_namespace: CacheNamespace,
}

/// Runs the build that `options` describe on a daemon with `caps`, once per target platform.
pub async fn build(
    bridge: &Bridge,
    options: &Options,
    caps: &DaemonCaps,
) -> Result<Outcome, Failure> {
    let spec_file = SpecFile::read(bridge, options).await?;
    spec_file.locate(build_spec(bridge, options, caps, &spec_file).await)
}

/// The build of the spec in `spec_file`.
async fn build_spec(
    bridge: &Bridge,
    options: &Options,
    caps: &DaemonCaps,
    spec_file: &SpecFile,
) -> Result<Outcome, BuildError> {
    let spec = spec_file.parse()?;
    let platforms = options.platforms()?;
    if platforms.len() > 1 && !options.exporter_takes_many() {
        return Err(BuildError::OnePlatformOnly {
            platforms: platforms.iter().map(ToString::to_string).collect(),
        });
    }
    if let Some(scanner) = options.sbom_scanner() {
        check_sbom_scanner(bridge, options, scanner, &options.platform()?).await?;
    }
    let request = Request {
        bridge,
        options,
        caps,
        spec_file,
        network: options.exec_network()?,
        epoch: SourceDateEpoch::from_build_args(&options.build_args())?,
        cache_namespace: CacheNamespace::from_build_args(&options.build_args()),
        context_excludes: client_files::read_dockerignore(bridge, options).await?,
        cache_imports: options.cache_imports()?,
        no_cache: NoCache::from_option(options.opts.get("no-cache").map(String::as_str)),
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

/// BuildKit runs the SBOM scanner only once the image is built: a scanner it cannot pull is
/// reported now, before a compile that may take minutes.
async fn check_sbom_scanner(
    bridge: &Bridge,
    options: &Options,
    scanner: &str,
    target: &Platform,
) -> Result<(), BuildError> {
    let platform = options.worker_platform.as_ref().unwrap_or(target);
    let mode = options.get("image-resolve-mode").unwrap_or("default");
    match bridge.resolve_image_config(scanner, platform, mode).await {
        Ok(_) => Ok(()),
        Err(error) => Err(BuildError::SbomScanner {
            scanner: scanner.to_owned(),
            error,
        }),
    }
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
        let arg_values = arg_values(options, &platform);
        let build_platform = arg_values.build_platform.clone();
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
            cache_namespace: self.cache_namespace.clone(),
        };
        if !matches!(target.binaries, BinariesSource::Compile { .. }) {
            prebuilt::check(bridge, &resolver, spec, &target, &context).await?;
        }
        let mut graph = graph::build(spec, &target, &context)?;
        graph.changes.labels.extend(options.labels());
        let source = SourceFile {
            name: &self.spec_file.filename,
            data: &self.spec_file.bytes,
        };
        let definition = marshal(
            &graph.state.with_exec_network(&self.network),
            MarshalOptions {
                source: Some(source),
                no_cache: Some(&self.no_cache),
            },
        );
        self.check_definition(&definition, target.name)?;
        let reference = bridge
            .solve_and_build(definition.clone(), self.cache_imports.clone())
            .await
            .map_err(|error| {
                solve_failure(
                    &definition,
                    &self.spec_file.filename,
                    self.network.mode,
                    error,
                )
            })?;
        if target.smoke_check {
            return Ok(None);
        }
        graph.changes.created = self.epoch;
        let config = base.apply(&graph.changes).for_platform(&platform);
        Ok(Some(PlatformImage {
            platform,
            reference,
            config: config.to_json(),
        }))
    }

    /// Refuses a Definition BuildKit would refuse obscurely: too large, or needing caps the
    /// daemon lacks.
    fn check_definition(&self, definition: &Definition, target: &str) -> Result<(), BuildError> {
        llb_gen::llb::check_size(definition, target)?;
        let missing: BTreeSet<String> = definition
            .metadata
            .values()
            .flat_map(|metadata| metadata.caps.keys())
            .filter(|cap| !self.caps.llb.contains(cap))
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
        return BuildError::HostNetworkRefused { error };
    }
    let vertex = errdefs::failed_vertex(error.details());
    match failed_step(definition, vertex.as_deref(), &message) {
        Some(step) => BuildError::StepFailed {
            file: file.to_owned(),
            step,
            error,
        },
        None => error.into(),
    }
}

/// Resolves image configs for one platform and resolve mode.
pub(crate) struct Resolver<'a> {
    bridge: &'a Bridge,
    platform: &'a Platform,
    mode: &'a str,
}

impl Resolver<'_> {
    async fn config(&self, image: &str) -> Result<ImageConfig, BuildError> {
        self.try_config(image)
            .await
            .map_err(|reason| BuildError::Image {
                image: image.to_owned(),
                reason,
            })
    }

    /// The config of `image`, or why it cannot be had.
    pub(crate) async fn try_config(&self, image: &str) -> Result<ImageConfig, Unusable> {
        let bytes = self
            .bridge
            .resolve_image_config(image, self.platform, self.mode)
            .await?;
        ImageConfig::from_json(&bytes).map_err(|error| Unusable::Config(error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_bridge::{self, Daemon};

    #[tokio::test]
    async fn a_spec_over_the_size_limit_is_refused_before_parsing_and_quoted_by_its_first_line() {
        let spec = format!("# syntax=x\n{}", "#".repeat(llb_gen::spec::MAX_SPEC_BYTES));
        let (bridge, _) = fake_bridge::serve(Daemon::holding(&spec)).await;
        let options = Options::from_opts(&["filename=big.yaml"]);
        let spec_file = SpecFile::read(&bridge, &options).await.unwrap();
        let Err(failure) = spec_file.locate(spec_file.parse()) else {
            panic!("a failure")
        };
        assert_eq!(
            failure.message,
            "big.yaml: the spec is larger than 1048576 bytes (1 MiB), the size limit of a spec"
        );
        // Only the first line is quoted: the whole spec would not fit in a gRPC trailer.
        let [detail] = &failure.details[..] else {
            panic!("one detail: {:?}", failure.details)
        };
        let quoted: serde_json::Value = serde_json::from_slice(&detail.value).unwrap();
        assert_eq!(
            quoted["info"]["data"], "IyBzeW50YXg9eAo=",
            "`# syntax=x\\n`"
        );
    }

    #[test]
    fn a_refused_host_network_names_the_entitlement() {
        let refused = || BridgeError::Rpc {
            message: "network.host is not allowed".to_owned(),
            details: Vec::new(),
        };
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
