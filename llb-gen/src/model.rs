//! A variant as the graph builds it: `extends` merged, build args substituted, and every value
//! read into its type once by validation ([`crate::validate::read_variant`]): the base reference
//! normalized, modes, owners, ports, durations and context paths parsed, destinations cleaned,
//! secrets and ssh sockets made client mounts. The graph reads only this, so nothing there
//! parses a string again or falls back on a default for one it cannot read.

use crate::image::Healthcheck;
use crate::llb::{ClientMount, CopyOptions};
use crate::spec::{CacheMount, Command, NamedMap, Spanned};

/// The image a variant starts from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Base {
    /// `from: scratch`: an empty filesystem and config, as a Dockerfile's `FROM scratch`.
    Scratch,
    /// An image, pulled for the target platform.
    Image {
        /// The reference fully normalized (`docker.io/library/debian:bookworm-slim`).
        reference: String,
    },
}

/// One buildable variant, every value read.
#[derive(Clone, Debug)]
pub struct Variant {
    /// What it starts from, with where `from:` is written (for its vertex and errors).
    pub base: Base,
    /// The `from:` value as written.
    pub from: Spanned<String>,
    /// Working directory of the container: the last `workdir` of the chain.
    pub workdir: Option<Spanned<String>>,
    /// The steps of each variant of the `extends` chain, parents first, then the variant's.
    pub stages: Vec<Stage>,
    /// Binaries and where they go, after every stage.
    pub binaries: Vec<BinaryCopy>,
    /// Image entrypoint (exec form).
    pub entrypoint: Option<Vec<String>>,
    /// Image default command (exec form).
    pub cmd: Option<Vec<String>>,
    /// The container's user.
    pub user: Option<String>,
    /// Image labels.
    pub labels: Vec<(String, String)>,
    /// Exposed ports as the config keys them (`8080/tcp`).
    pub ports: Vec<String>,
    /// Docker's healthcheck, durations in nanoseconds.
    pub healthcheck: Option<Healthcheck>,
    /// Signal that stops the container.
    pub stop_signal: Option<String>,
    /// Smoke checks of `check:<variant>`.
    pub check: Vec<Command>,
}

impl Variant {
    /// Every step of its stages, parents first.
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.stages.iter().flat_map(|stage| &stage.steps)
    }

    /// Every context path it copies or mounts, with how it reads it (in words): the graph makes
    /// a context source for each and for nothing else of the variant.
    pub fn context_reads(&self) -> Vec<(&'static str, String)> {
        self.steps()
            .filter_map(Step::layer)
            .flat_map(|step| -> Vec<(&'static str, String)> {
                match step {
                    LayerStep::Copy(copies) => copies
                        .iter()
                        .map(|copy| ("copies", copy.source.clone()))
                        .collect(),
                    LayerStep::Run(run) => run
                        .bind
                        .iter()
                        .map(|bind| ("bind-mounts", bind.source.clone()))
                        .collect(),
                    LayerStep::Packages {
                        apt_repositories, ..
                    } => apt_repositories
                        .iter()
                        .filter_map(|repository| match &repository.key {
                            KeySource::Context(path) => Some(("reads the apt key", path.clone())),
                            KeySource::Url(_) => None,
                        })
                        .collect(),
                    LayerStep::Workdir(_) => Vec::new(),
                }
            })
            .collect()
    }
}

/// One variant's own steps, in the order written.
#[derive(Clone, Debug)]
pub struct Stage {
    /// The variant that writes them.
    pub variant: String,
    /// Its steps.
    pub steps: Vec<Step>,
}

/// What a variant writes that takes effect at its place among its steps, as a Dockerfile line.
#[derive(Clone, Debug)]
pub enum Step {
    /// `env`: in force for the steps after it (values not yet expanded against the env).
    Env(NamedMap<Spanned<String>>),
    /// A step that makes an op of its own.
    Layer(Box<LayerStep>),
}

impl Step {
    /// The step when it makes an op of its own.
    pub fn layer(&self) -> Option<&LayerStep> {
        match self {
            Self::Env(_) => None,
            Self::Layer(step) => Some(step),
        }
    }
}

/// A step that makes an op, and so a layer, of its own.
#[derive(Clone, Debug)]
pub enum LayerStep {
    /// `workdir`: created here, and the directory of the steps after it.
    Workdir(Spanned<String>),
    /// `packages` and `apt_repositories`: one apt layer.
    Packages {
        /// The first of them, which locates the layer.
        at: Spanned<String>,
        /// The packages, each a valid apt argument.
        packages: Vec<Spanned<String>>,
        /// The repositories they may come from.
        apt_repositories: Vec<AptRepository>,
    },
    /// A `run` step.
    Run(RunStep),
    /// The `copy` items, one layer.
    Copy(Vec<FileCopy>),
}

/// One `run:` step.
#[derive(Clone, Debug)]
pub struct RunStep {
    /// What runs, with where it is written.
    pub command: Command,
    /// This step's env over the variant's.
    pub env: Vec<(String, String)>,
    /// Cache mounts; their ids are keyed per build by [`crate::cache_keys`].
    pub cache: Vec<CacheMount>,
    /// Secrets from `docker build --secret`.
    pub secrets: Vec<ClientMount>,
    /// Build-context paths mounted read-only.
    pub bind: Vec<ContextBind>,
    /// SSH agent sockets from `docker build --ssh`.
    pub ssh: Vec<ClientMount>,
    /// User the step runs as, when not the base image's.
    pub user: Option<String>,
    /// Working directory of the step, when not the variant's.
    pub workdir: Option<String>,
}

/// A read-only mount of a build-context path.
#[derive(Clone, Debug)]
pub struct ContextBind {
    /// The path in the context, normalized; empty for the whole context.
    pub source: String,
    /// Absolute mount point.
    pub target: String,
}

/// One `copy:` item.
#[derive(Clone, Debug)]
pub struct FileCopy {
    /// The source as written (for the vertex name and its line).
    pub src: Spanned<String>,
    /// The path in the context, normalized; empty for the whole context.
    pub source: String,
    /// Absolute destination, cleaned.
    pub dest: String,
    /// Mode and owner.
    pub options: CopyOptions,
}

/// One binary of a variant.
#[derive(Clone, Debug)]
pub struct BinaryCopy {
    /// The binary's name, with where the variant names it.
    pub name: Spanned<String>,
    /// Absolute destination, cleaned.
    pub dest: String,
    /// Mode and owner.
    pub options: CopyOptions,
}

/// A third-party apt repository, every part checked for apt's one-line format.
#[derive(Clone, Debug)]
pub struct AptRepository {
    /// Names its files; where it is written locates the apt step.
    pub name: Spanned<String>,
    /// `http://` or `https://` URL.
    pub url: String,
    /// The suite.
    pub suite: String,
    /// The components.
    pub components: Vec<String>,
    /// Where its signing key comes from.
    pub key: KeySource,
    /// Where the key is installed: `/etc/apt/keyrings/<name>.gpg` or `.asc`.
    pub keyring: String,
}

/// A file read by the build: from the build context, or fetched by BuildKit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// A path in the build context, normalized.
    Context(String),
    /// An `https://` URL.
    Url(String),
}
