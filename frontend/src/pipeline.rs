//! One build, start to finish: read the spec from the client, pick the target, check a
//! prebuilt builder, solve the graph llb-gen makes, and hand back the image and its config.

use std::collections::{BTreeMap, BTreeSet};

use llb_gen::failure::failed_step;
use llb_gen::graph::BuildFacts;
use llb_gen::llb::{NetworkMode, NoCache, ResolveMode, SourceFile};
use llb_gen::pb::Definition;
use llb_gen::plan::{self, BuildRequest};
use llb_gen::platform::Platform;
use llb_gen::spec::Spec;

use crate::bridge::{Bridge, BridgeError, DaemonCaps, Failure};
use crate::error::{BuildError, HOST_ENTITLEMENT};
use crate::gateway_pb::CacheOptionsEntry;
use crate::options::Options;
use crate::outcome::{Outcome, PlatformImage};
use crate::resolver::Resolver;
use crate::spec_file::SpecFile;
use crate::{client_files, errdefs, prebuilt};

/// What every platform's build shares: read once from the client.
struct Request<'a> {
    bridge: &'a Bridge,
    options: &'a Options,
    caps: &'a DaemonCaps,
    spec_file: &'a SpecFile,
    cache_imports: Vec<CacheOptionsEntry>,
    /// What every platform's build is asked; each platform sets its own args and builder.
    asked: BuildRequest,
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
    let asked = BuildRequest {
        network: options.exec_network()?,
        labels: options.labels(),
        no_cache: NoCache::from_option(options.opts.get("no-cache").map(String::as_str)),
        resolve_mode: options.resolve_mode()?,
        ..BuildRequest::new(
            options.get("target").map(str::to_owned),
            options.arg_values(&platforms[0]),
        )?
    };
    if let Some(scanner) = options.sbom_scanner() {
        let platform = options.platform()?;
        check_sbom_scanner(bridge, options, scanner, &platform, asked.resolve_mode).await?;
    }
    let request = Request {
        bridge,
        options,
        caps,
        spec_file,
        cache_imports: options.cache_imports()?,
        asked,
    };
    let as_map = platforms.len() > 1 || options.multi_platform();
    let (mut excludes, mut manifests) = (None, None);
    let mut images = Vec::new();
    for platform in platforms {
        match request
            .build(&spec, platform, &mut excludes, &mut manifests)
            .await?
        {
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
    mode: ResolveMode,
) -> Result<(), BuildError> {
    let platform = options.worker_platform.as_ref().unwrap_or(target);
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
    /// `.dockerignore` is read on the first build that reads the context and its manifests on
    /// the first compile, and both are kept in `excludes` and `manifests` for the other
    /// platforms. What the plan needs from the daemon and the client is asked for at once.
    async fn build(
        &self,
        spec: &Spec,
        platform: Platform,
        excludes: &mut Option<Vec<String>>,
        manifests: &mut Option<BTreeMap<String, String>>,
    ) -> Result<Option<PlatformImage>, BuildError> {
        let (bridge, options) = (self.bridge, self.options);
        let asked = BuildRequest {
            args: options.arg_values(&platform),
            named_contexts: options.named_contexts(&platform),
            ..self.asked.clone()
        };
        let plan = plan::plan(spec, &asked)?;
        let resolver = Resolver {
            bridge,
            platform: &platform,
            mode: asked.resolve_mode,
        };
        let known = BuildFacts {
            session_id: options.session_id.clone(),
            ..plan.known_facts()
        };
        let check = plan.prebuilt_check(&known)?;
        let prebuilt_image = check.as_ref().and_then(|check| check.image.clone());
        let (context_excludes, toolchain, base, prebuilt_digest) = tokio::join!(
            self.context_excludes(plan.reads_context(), excludes),
            resolver.resolve_of(plan.toolchain_image()),
            resolver.resolve_of(plan.base_image()),
            async {
                match check {
                    Some(check) => prebuilt::check(bridge, &resolver, check, &platform).await,
                    None => Ok(None),
                }
            },
        );
        let context_excludes = context_excludes?;
        let (toolchain, base, prebuilt_digest) = (toolchain?, base?, prebuilt_digest?);
        let digests = [
            (
                plan.toolchain_image(),
                toolchain.as_ref().and_then(|t| t.digest.clone()),
            ),
            (
                plan.base_image(),
                base.as_ref().and_then(|b| b.digest.clone()),
            ),
            (prebuilt_image.as_deref(), prebuilt_digest),
        ]
        .into_iter()
        .filter_map(|(image, digest)| Some((image?.to_owned(), digest?)))
        .collect();
        let toolchain_env = toolchain.and_then(|toolchain| toolchain.config.config.env);
        let base_config = base.map(|base| base.config);
        if let (Some(walk), None) = (plan.manifest_walk(&context_excludes), &manifests) {
            *manifests =
                Some(client_files::read_manifests(bridge, options, &context_excludes, walk).await?);
        }
        let facts = BuildFacts {
            toolchain_env,
            context_excludes,
            manifests: manifests.clone().unwrap_or_default(),
            base_config,
            digests,
            ..known
        };
        let source = SourceFile {
            name: &self.spec_file.filename,
            data: &self.spec_file.bytes,
        };
        let built = plan.build(&facts, source)?;
        let definition = built.definition;
        self.check_caps(&definition)?;
        let reference = bridge
            .solve_and_build(definition.clone(), self.cache_imports.clone())
            .await
            .map_err(|error| {
                solve_failure(
                    &definition,
                    &self.spec_file.filename,
                    asked.network.mode,
                    error,
                )
            })?;
        if plan.target.smoke_check {
            return Ok(None);
        }
        Ok(Some(PlatformImage {
            platform,
            reference,
            config: built.config.to_json(),
        }))
    }

    /// The context's `.dockerignore` patterns when the plan `reads` the context (read once,
    /// kept in `excludes`); none when it does not, as nothing is then sent from the context.
    async fn context_excludes(
        &self,
        reads: bool,
        excludes: &mut Option<Vec<String>>,
    ) -> Result<Vec<String>, BuildError> {
        if !reads {
            return Ok(Vec::new());
        }
        if let Some(read) = excludes {
            return Ok(read.clone());
        }
        let read = client_files::read_dockerignore(self.bridge, self.options).await?;
        *excludes = Some(read.clone());
        Ok(read)
    }

    /// Refuses a Definition needing caps the daemon lacks, which BuildKit would refuse
    /// obscurely (the plan has already refused one too large).
    fn check_caps(&self, definition: &Definition) -> Result<(), BuildError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
