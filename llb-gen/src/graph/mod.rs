//! Builds the LLB graph of one target: the binaries (compiled, or taken from a prebuilt image)
//! and the variant's image on top of its base.

use std::collections::{BTreeMap, BTreeSet};

use crate::cache_keys::{CONTEXT_LOCAL, CacheMounts, CacheNamespace};
use crate::diagnostic::Position;
use crate::error::Error;
use crate::image::{ConfigChanges, ImageConfig};
use crate::llb::{
    Copy, CopyOptions, Describe, LocalOptions, ResolveMode, SpecRange, State, check_graph_size,
};
use crate::platform::Platform;
use crate::spec::{Spanned, Spec, position};
use crate::target::{ARTIFACT_DIR, BinariesSource, Target};

mod compile;
mod variant;

/// The facts the graph needs besides the spec, from the daemon (image configs, the worker's
/// platform) and the request (target platform, session, build args): the frontend fetches them,
/// tests and the CLI make them up.
#[derive(Clone, Debug)]
pub struct BuildFacts {
    /// The platform the images are built for.
    pub platform: Platform,
    /// The platform the build runs on (the worker's): cross-compiles run there.
    pub build_platform: Platform,
    /// The client session serving the build context, when known.
    pub session_id: Option<String>,
    /// The toolchain image's environment (from its config); a rust-image default when unknown.
    pub toolchain_env: Option<Vec<String>>,
    /// Patterns from the context's `.dockerignore`, never sent to the build.
    pub context_excludes: Vec<String>,
    /// The context's `Cargo.toml` and `Cargo.lock` files (context-relative path → content), for
    /// the dependency layer; a project with none here compiles without one.
    pub manifests: BTreeMap<String, String>,
    /// The variant's base image config: run steps get its env, user and workdir. `None`
    /// (no daemon to ask) runs them as in an empty config.
    pub base_config: Option<ImageConfig>,
    /// `build-arg:BUILDKIT_CACHE_MOUNT_NS`, on every cache mount id.
    pub cache_namespace: CacheNamespace,
    /// How the images resolve (option `image-resolve-mode`), for their sources as for their
    /// configs.
    pub resolve_mode: ResolveMode,
    /// The digest the daemon resolved each image reference to, as `reference → sha256:…`.
    /// Each image source then names `reference@digest`, as docker/dockerfile's do, so its
    /// rootfs is the image whose config was read even if the tag moves meanwhile. Docker 20.10
    /// gives no digest for an image in its own store: that source keeps its tag.
    pub digests: BTreeMap<String, String>,
}

impl BuildFacts {
    /// A build on `platform` for `platform` with nothing learned from a daemon or the options: no
    /// session, toolchain env, `.dockerignore`, manifests, base config or cache namespace. Tests
    /// and benches start here.
    pub fn native(platform: Platform) -> Self {
        Self {
            build_platform: platform.clone(),
            platform,
            session_id: None,
            toolchain_env: None,
            context_excludes: Vec::new(),
            manifests: BTreeMap::new(),
            base_config: None,
            cache_namespace: CacheNamespace::default(),
            resolve_mode: ResolveMode::Default,
            digests: BTreeMap::new(),
        }
    }

    /// The root filesystem of image `reference`, pinned to the digest resolved for it.
    fn image(&self, reference: &str, platform: &Platform, describe: impl Into<Describe>) -> State {
        let pinned = match self.digests.get(reference) {
            Some(digest) if !reference.contains('@') => format!("{reference}@{digest}"),
            _ => reference.to_owned(),
        };
        State::image(&pinned, self.resolve_mode, platform, describe)
    }

    /// The cache mounts of this build, keyed for its namespace and target platform.
    fn cache_mounts(&self) -> CacheMounts<'_> {
        CacheMounts {
            namespace: &self.cache_namespace,
            platform: &self.platform,
        }
    }
}

/// A read of the build context from the client's session: `read`, less what `.dockerignore`
/// excludes. [`crate::cache_keys`] decides what `read` syncs and its shared-key hint.
pub(crate) fn context_source(
    facts: &BuildFacts,
    read: LocalOptions,
    describe: impl Into<Describe>,
) -> State {
    State::local(
        CONTEXT_LOCAL,
        &LocalOptions {
            session_id: facts.session_id.clone(),
            exclude_patterns: [&facts.context_excludes[..], &read.exclude_patterns[..]].concat(),
            ..read
        },
        describe,
    )
}

/// A target's graph and what its image config gets on top of the base's.
#[derive(Clone, Debug)]
pub struct Graph {
    /// The final filesystem.
    pub state: State,
    /// Config changes and history for the layers the graph adds.
    pub changes: ConfigChanges,
}

/// The graph of `target`. A graph sure to be over BuildKit's message limit is refused here,
/// before it is marshaled; its builders stop adding ops to it once it is.
pub fn build(spec: &Spec, target: &Target<'_>, facts: &BuildFacts) -> Result<Graph, Error> {
    let binaries = binaries_root(spec, target, facts)?;
    let graph = match &target.variant {
        Some(variant) => variant::graph(
            spec,
            target.name,
            variant,
            &binaries,
            facts,
            target.smoke_check,
        )?,
        None => artifact_graph(&target.binaries, binaries, facts),
    };
    check_graph_size(&graph.state, target.name)?;
    Ok(graph)
}

/// Where a target's binaries are: a state and the directory in it that holds them.
#[derive(Clone, Debug)]
pub struct BinariesRoot {
    /// The state holding the binaries.
    pub state: State,
    /// Absolute directory of `state` where each binary is `<dir>/<name>`.
    pub dir: String,
}

/// The binaries of `target`: compiled (only the projects that build one the variant copies;
/// every project for the artifact), or the prebuilt image or directory that holds them.
pub fn binaries_root(
    spec: &Spec,
    target: &Target<'_>,
    facts: &BuildFacts,
) -> Result<BinariesRoot, Error> {
    Ok(match &target.binaries {
        BinariesSource::Compile { toolchain } => BinariesRoot {
            state: compile::compile(spec, toolchain, needed_binaries(target).as_ref(), facts)?,
            dir: ARTIFACT_DIR.to_owned(),
        },
        BinariesSource::Prebuilt { image } => BinariesRoot {
            state: facts.image(
                image,
                &facts.platform,
                format!("[builder] FROM {image} (prebuilt)"),
            ),
            dir: spec.builder.prebuilt_path.value.clone(),
        },
        BinariesSource::Local { name } => BinariesRoot {
            state: State::local(
                name,
                &LocalOptions {
                    session_id: facts.session_id.clone(),
                    ..Default::default()
                },
                format!("[builder] load build context {name} (prebuilt)"),
            ),
            dir: String::new(),
        },
    })
}

/// The binaries a variant target copies into its image; `None` for the artifact, which holds
/// them all.
fn needed_binaries<'t>(target: &'t Target<'_>) -> Option<BTreeSet<&'t str>> {
    let variant = target.variant.as_ref()?;
    Some(
        variant
            .binaries
            .iter()
            .map(|binary| binary.name.value.as_str())
            .collect(),
    )
}

/// Only the binaries, in a scratch image. A compile's output already is exactly that.
fn artifact_graph(source: &BinariesSource, binaries: BinariesRoot, facts: &BuildFacts) -> Graph {
    let state = match source {
        BinariesSource::Compile { .. } => binaries.state,
        BinariesSource::Prebuilt { .. } | BinariesSource::Local { .. } => State::scratch().copy(
            &[Copy {
                from: binaries.state,
                src: format!("{}/", binaries.dir),
                dest: ARTIFACT_DIR.to_owned(),
                options: CopyOptions::default(),
            }],
            &facts.platform,
            format!("[artifact 1/1] COPY {ARTIFACT_DIR}"),
        ),
    };
    let changes = ConfigChanges {
        history: vec![format!("COPY binaries {ARTIFACT_DIR} # flotilla artifact")],
        ..Default::default()
    };
    Graph { state, changes }
}

pub(crate) fn range<T>(value: &Spanned<T>) -> SpecRange {
    range_at(position(value))
}

pub(crate) fn range_at(position: Position) -> SpecRange {
    SpecRange {
        line: position.line,
        column: position.column,
        end_line: position.line,
    }
}

/// Quotes `word` for `/bin/sh` when it holds anything but safe characters.
pub(crate) fn shell_quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./,=:+".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(shell_quote("hello-gateway"), "hello-gateway");
        assert_eq!(shell_quote("serde/derive,x"), "serde/derive,x");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
