//! Where a build is decided: from the spec and what a build asks, a [`Plan`] picks the target
//! (and so compile or prebuilt), says what it still needs from the daemon, and from those
//! facts makes the Definition and the image config changes. The frontend and `llb-gen` both
//! go through it, so `llb-gen llb` prints what the frontend solves for the same options.

use crate::cache_keys::CacheNamespace;
use crate::context::ManifestWalk;
use crate::diagnostic::Position;
use crate::error::Error;
use crate::graph::{self, BuildFacts};
use crate::image::{ConfigChanges, ImageConfig, SourceDateEpoch};
use crate::llb::{
    ExecNetwork, MarshalOptions, NoCache, ResolveMode, SourceFile, check_size, marshal,
};
use crate::named_context::NamedContexts;
use crate::pb::Definition;
use crate::resolve::ArgValues;
use crate::spec::{Spec, position};
use crate::target::{self, BinariesSource, Target};

/// What a build is asked, each value parsed once.
#[derive(Clone, Debug)]
pub struct BuildRequest {
    /// The target (a variant, `artifact` or `check:<variant>`); default: the first variant.
    pub target: Option<String>,
    /// The build args and the platforms.
    pub args: ArgValues,
    /// The named contexts for the platform (`builder`, and images the target starts from).
    pub named_contexts: NamedContexts,
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
    /// How images resolve (`image-resolve-mode`, `--pull`).
    pub resolve_mode: ResolveMode,
}

impl BuildRequest {
    /// A request for `target` with `args`, the values the build args carry parsed, and no
    /// named contexts, labels, network or no-cache (set those with struct update syntax).
    pub fn new(target: Option<String>, args: ArgValues) -> Result<Self, Error> {
        Ok(Self {
            epoch: SourceDateEpoch::from_build_args(&args.build_args)?,
            cache_namespace: CacheNamespace::from_build_args(&args.build_args)?,
            target,
            args,
            named_contexts: NamedContexts::default(),
            labels: Vec::new(),
            network: ExecNetwork::default(),
            no_cache: NoCache::default(),
            resolve_mode: ResolveMode::default(),
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

/// What a plan builds: the Definition to solve and the image's config.
#[derive(Debug)]
pub struct Built {
    /// The marshaled graph, with network and no-cache applied and its size checked.
    pub definition: Definition,
    /// What the target changes in its base image's config (labels and date included).
    pub changes: ConfigChanges,
    /// The base image's config with those changes.
    pub config: ImageConfig,
}

/// A prebuilt builder's check: resolve the image for the platform, then solve its filesystem
/// and stat each binary under `dir`.
#[derive(Debug)]
pub struct PrebuiltCheck {
    /// `image <ref>` or `context <name>`, for messages.
    pub source_name: String,
    /// The prebuilt image, whose platform is checked first; `None` for a local directory.
    pub image: Option<String>,
    /// The builder's filesystem.
    pub definition: Definition,
    /// The directory of `definition` holding the binaries (empty: its root).
    pub dir: String,
    /// Each binary the target needs, with where the spec asks for it.
    pub binaries: Vec<(String, Position)>,
}

/// Selects the target `request` asks for and decides where its binaries come from.
pub fn plan<'a>(spec: &'a Spec, request: &'a BuildRequest) -> Result<Plan<'a>, Error> {
    let target = target::select(
        spec,
        request.target.as_deref(),
        &request.args,
        &request.named_contexts,
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
    pub fn base_image(&self) -> Option<&str> {
        self.target.base_image()
    }

    /// The search for the context's Cargo manifests the compile needs (for the dependency
    /// layers and what each project is sent), leaving out the paths `excludes` names; `None`
    /// when nothing is compiled. It looks for the builder's projects' manifests only.
    pub fn manifest_walk(&self, excludes: &[String]) -> Option<ManifestWalk> {
        self.toolchain_image()?;
        let projects = self.spec.builder.projects().into_iter();
        Some(ManifestWalk::new(
            projects.map(|project| project.path.to_owned()).collect(),
            excludes.to_vec(),
        ))
    }

    /// Whether the graph reads the build context (a compile, or a variant's copy, bind or apt
    /// key): only then does the context's `.dockerignore` matter, so otherwise it is not read.
    pub fn reads_context(&self) -> bool {
        self.toolchain_image().is_some()
            || self
                .target
                .variant
                .as_ref()
                .is_some_and(|variant| !variant.context_reads().is_empty())
    }

    /// What to check of a prebuilt builder before the build is solved, so that a missing or
    /// non-executable binary is named rather than failing a copy; `None` when compiling. It
    /// needs only the request's facts and the session, so it can run beside the config reads.
    pub fn prebuilt_check(&self, facts: &BuildFacts) -> Result<Option<PrebuiltCheck>, Error> {
        let (source_name, image) = match &self.target.binaries {
            BinariesSource::Compile { .. } => return Ok(None),
            BinariesSource::Prebuilt { image } => (format!("image {image}"), Some(image.clone())),
            BinariesSource::Local { name } => (format!("context {name}"), None),
        };
        let root = graph::binaries_root(self.spec, &self.target, facts)?;
        // Each binary with where the target asks for it: the variant's `binaries` entry, or
        // the builder's list for the artifact.
        let binaries = match &self.target.variant {
            Some(variant) => variant
                .binaries
                .iter()
                .map(|binary| (binary.name.value.clone(), position(&binary.name)))
                .collect(),
            None => self
                .spec
                .builder
                .binaries()
                .map(|binary| (binary.value.name.clone(), position(binary)))
                .collect(),
        };
        Ok(Some(PrebuiltCheck {
            source_name,
            image,
            definition: marshal(&root.state, MarshalOptions::default()),
            dir: root.dir,
            binaries,
        }))
    }

    /// The facts the request itself gives (platforms, cache namespace); the caller adds what
    /// it learned from the daemon or the context.
    pub fn known_facts(&self) -> BuildFacts {
        BuildFacts {
            build_platform: self.request.args.build_platform.clone(),
            cache_namespace: self.request.cache_namespace.clone(),
            resolve_mode: self.request.resolve_mode,
            ..BuildFacts::native(self.request.args.target_platform.clone())
        }
    }

    /// The Definition and image config of the target, from `facts` (its base config among
    /// them); `source` is the spec,
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
        let base = facts
            .base_config
            .clone()
            .unwrap_or_else(|| ImageConfig::scratch(&facts.platform));
        Ok(Built {
            definition,
            config: base.apply(&graph.changes).for_platform(&facts.platform),
            changes: graph.changes,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::llb::MAX_DEFINITION_BYTES;
    use crate::platform::Platform;
    use crate::{load, pb};
    use prost::Message;

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

    /// Whether the Definition of `target` (prebuilt from `b:1` when `prebuilt`) has a source
    /// that reads the build context, and whether the plan says it reads it.
    fn context_read(text: &str, target: &str, prebuilt: bool) -> (bool, bool) {
        let spec = load(text, "f.yaml").unwrap();
        let args =
            BTreeMap::from_iter(prebuilt.then(|| ("BUILDER_IMAGE".to_owned(), "b:1".to_owned())));
        let values = ArgValues::native(args, &Platform::linux("amd64"));
        let request = BuildRequest::new(Some(target.to_owned()), values).unwrap();
        let plan = plan(&spec, &request).unwrap();
        let source = SourceFile {
            name: "f.yaml",
            data: text.as_bytes(),
        };
        let built = plan.build(&plan.known_facts(), source).unwrap();
        let in_definition = built.definition.def.iter().any(|bytes| {
            matches!(
                pb::Op::decode(bytes.as_slice()).unwrap().op,
                Some(pb::op::Op::Source(source)) if source.identifier == "local://context"
            )
        });
        (in_definition, plan.reads_context())
    }

    #[test]
    fn the_context_is_read_exactly_when_the_graph_has_a_context_source() {
        let spec = "version: 1\nbuilder: {image: rust, binaries: [app]}\nvariants:\n  \
            plain: {from: debian, binaries: {app: /app}, env: {A: b}, run: [echo], check: [[app]]}\n  \
            copies: {from: debian, copy: [{src: a.toml, dest: /a.toml}]}\n  \
            child: {extends: copies, env: {A: b}}\n  \
            binds: {from: debian, run: [{run: ls /m, bind: [{src: m, target: /m}]}]}\n  \
            keyed:\n    from: debian\n    packages: [jq]\n    apt_repositories:\n      \
            - {name: r, url: http://r, suite: s, key: k.gpg}\n  \
            fetched:\n    from: debian\n    packages: [jq]\n    apt_repositories:\n      \
            - {name: r, url: http://r, suite: s, key: https://r/k.gpg}\n";
        for (target, prebuilt, reads) in [
            ("plain", true, false),
            ("plain", false, true),
            ("artifact", true, false),
            ("artifact", false, true),
            ("copies", true, true),
            ("child", true, true),
            ("binds", true, true),
            ("keyed", true, true),
            ("fetched", true, false),
            ("check:plain", true, false),
        ] {
            assert_eq!(
                context_read(spec, target, prebuilt),
                (reads, reads),
                "{target}, prebuilt: {prebuilt}"
            );
        }
    }

    #[test]
    fn a_scratch_variant_starts_empty_and_pulls_nothing() {
        let text = "version: 1\nbuilder: {image: rust, binaries: [app]}\nvariants:\n  v:\n    from: scratch\n    binaries: {app: /app}\n";
        let spec = load(text, "f.yaml").unwrap();
        let args = BTreeMap::from([("BUILDER_IMAGE".to_owned(), "b:1".to_owned())]);
        let request =
            BuildRequest::new(None, ArgValues::native(args, &Platform::linux("amd64"))).unwrap();
        let plan = plan(&spec, &request).unwrap();
        assert_eq!(plan.base_image(), None, "no config to fetch");
        let source = SourceFile {
            name: "f.yaml",
            data: text.as_bytes(),
        };
        let built = plan.build(&plan.known_facts(), source).unwrap();
        let images: Vec<String> = built
            .definition
            .def
            .iter()
            .filter_map(|bytes| match pb::Op::decode(bytes.as_slice()).unwrap().op {
                Some(pb::op::Op::Source(source)) => Some(source.identifier),
                _ => None,
            })
            .collect();
        assert_eq!(images, ["docker-image://docker.io/library/b:1"]);
    }
}
