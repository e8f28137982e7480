//! Where a build is decided: from the spec and what a build asks, a [`Plan`] picks the target
//! (and so compile or prebuilt), says what it still needs from the daemon, and from those
//! facts makes the Definition and the image config changes. The frontend and `llb-gen` both
//! go through it, so `llb-gen llb` prints what the frontend solves for the same options.

use crate::cache_keys::CacheNamespace;
use crate::error::Error;
use crate::graph::{self, BuildFacts};
use crate::image::{ConfigChanges, SourceDateEpoch};
use crate::llb::{ExecNetwork, MarshalOptions, NoCache, SourceFile, check_size, marshal};
use crate::pb::Definition;
use crate::resolve::ArgValues;
use crate::spec::Spec;
use crate::target::{self, BinariesSource, Target};

/// What a build is asked, each value parsed once.
#[derive(Clone, Debug)]
pub struct BuildRequest {
    /// The target (a variant, `artifact` or `check:<variant>`); default: the first variant.
    pub target: Option<String>,
    /// The build args and the platforms.
    pub args: ArgValues,
    /// The value of `context:builder` for the platform, which replaces the builder.
    pub builder_context: Option<String>,
    /// Image labels over the spec's (`--label`).
    pub labels: Vec<(String, String)>,
    /// The network of every process (`--network`, `--add-host`).
    pub network: ExecNetwork,
    /// Ops to run again regardless of the cache (`--no-cache`).
    pub no_cache: NoCache,
    /// `build-arg:SOURCE_DATE_EPOCH`: the image's date.
    pub epoch: Option<SourceDateEpoch>,
    /// `build-arg:BUILDKIT_CACHE_MOUNT_NS`: on every cache mount id.
    pub cache_namespace: CacheNamespace,
}

impl BuildRequest {
    /// A request for `target` with `args`, the values the build args carry parsed, and no
    /// builder context, labels, network or no-cache (set those with struct update syntax).
    pub fn new(target: Option<String>, args: ArgValues) -> Result<Self, Error> {
        Ok(Self {
            epoch: SourceDateEpoch::from_build_args(&args.build_args)?,
            cache_namespace: CacheNamespace::from_build_args(&args.build_args),
            target,
            args,
            builder_context: None,
            labels: Vec::new(),
            network: ExecNetwork::default(),
            no_cache: NoCache::default(),
        })
    }
}

/// A target selected for a request, with what it needs from the daemon.
#[derive(Debug)]
pub struct Plan<'a> {
    spec: &'a Spec,
    request: &'a BuildRequest,
    /// The selected target.
    pub target: Target<'a>,
}

/// What a plan builds: the Definition to solve and the changes to the base image's config.
#[derive(Debug)]
pub struct Built {
    /// The marshaled graph, with network and no-cache applied and its size checked.
    pub definition: Definition,
    /// The config changes, with the request's labels and date.
    pub changes: ConfigChanges,
}

/// Selects the target `request` asks for and decides where its binaries come from.
pub fn plan<'a>(spec: &'a Spec, request: &'a BuildRequest) -> Result<Plan<'a>, Error> {
    let target = target::select(
        spec,
        request.target.as_deref(),
        &request.args,
        request.builder_context.as_deref(),
    )?;
    Ok(Plan {
        spec,
        request,
        target,
    })
}

impl Plan<'_> {
    /// The toolchain image whose config (its env) the compile needs; `None` when prebuilt.
    pub fn toolchain_image(&self) -> Option<&str> {
        match &self.target.binaries {
            BinariesSource::Compile { toolchain } => Some(toolchain),
            _ => None,
        }
    }

    /// The base image whose config the variant builds on; `None` for the artifact (scratch).
    pub fn base_image(&self) -> Option<String> {
        self.target.base_image()
    }

    /// Whether the compile needs the context's Cargo manifests (for the dependency layer).
    pub fn needs_manifests(&self) -> bool {
        self.toolchain_image().is_some()
    }

    /// Whether the prebuilt builder must be checked before the build is solved.
    pub fn needs_prebuilt_check(&self) -> bool {
        self.toolchain_image().is_none()
    }

    /// The facts the request itself gives (platforms, cache namespace); the caller adds what
    /// it learned from the daemon or the context.
    pub fn known_facts(&self) -> BuildFacts {
        BuildFacts {
            build_platform: self.request.args.build_platform.clone(),
            cache_namespace: self.request.cache_namespace.clone(),
            ..BuildFacts::native(self.request.args.target_platform.clone())
        }
    }

    /// The Definition and config changes of the target, from `facts`; `source` is the spec,
    /// so BuildKit can show the line behind a failing op.
    pub fn build(&self, facts: &BuildFacts, source: SourceFile<'_>) -> Result<Built, Error> {
        let request = self.request;
        let mut graph = graph::build(self.spec, &self.target, facts)?;
        let definition = marshal(
            &graph.state.with_exec_network(&request.network),
            MarshalOptions {
                source: Some(source),
                no_cache: Some(&request.no_cache),
            },
        );
        check_size(&definition, self.target.name)?;
        graph.changes.labels.extend(request.labels.iter().cloned());
        graph.changes.created = request.epoch;
        Ok(Built {
            definition,
            changes: graph.changes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llb::MAX_DEFINITION_BYTES;
    use crate::platform::Platform;

    /// The build of `target` in a generated spec: variant `big` has a 400 KB env value and 12
    /// run steps, variant `small` the same steps without the env.
    fn generated(target: &str) -> Result<Built, Error> {
        let steps: String = (0..12)
            .map(|step| format!("      - echo {step}\n"))
            .collect();
        let source = format!(
            "version: 1\nbuilder: {{image: rust, binaries: [app]}}\nvariants:\n  big:\n    from: debian\n    env: {{BLOB: {}}}\n    run:\n{steps}  small:\n    from: debian\n    run:\n{steps}",
            "x".repeat(400 << 10)
        );
        let spec = crate::load(&source, "f.yaml")?;
        let values = ArgValues::native(Default::default(), &Platform::linux("amd64"));
        let request = BuildRequest::new(Some(target.to_owned()), values)?;
        let plan = plan(&spec, &request)?;
        let source = SourceFile {
            name: "f.yaml",
            data: source.as_bytes(),
        };
        plan.build(&plan.known_facts(), source)
    }

    #[test]
    fn a_definition_over_the_message_limit_names_the_limit_and_the_target() {
        // The spec is under its 1 MiB limit, but each of the 12 exec ops carries the env.
        let error = generated("big").unwrap_err();
        let Error::DefinitionTooLarge(too_large) = &error else {
            panic!("{error}")
        };
        assert!(too_large.size > MAX_DEFINITION_BYTES);
        assert!(
            error.to_string().starts_with(
                "target `big`: the build graph is over BuildKit's 4194304-byte (4 MiB) message limit ("
            ),
            "{error}"
        );
        assert!(generated("small").is_ok());
    }
}
