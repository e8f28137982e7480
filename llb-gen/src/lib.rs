//! Flotilla's pure core: a `flotilla.yaml` spec becomes a typed model, then an LLB graph,
//! then a deterministic BuildKit `pb::Definition`. No daemon, no I/O.

pub mod args;
pub mod cache_keys;
pub mod diagnostic;
pub mod dockerignore;
pub mod dot;
pub mod failure;
pub mod graph;
pub mod image;
pub mod llb;
pub mod matrix;
pub mod platform;
pub mod reference;
pub mod resolve;
pub mod schema;
pub mod spec;
pub mod stubs;
pub mod subrequest;
pub mod syntax;
pub mod target;
pub mod validate;

/// BuildKit's LLB protobuf types (Flotilla's subset of `solver/pb/ops.proto`).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/pb.rs"));
}

pub use diagnostic::{Diagnostic, Position};

/// Why a build request cannot be turned into a graph.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The spec file is malformed or breaks a rule.
    #[error("{0}")]
    Spec(Box<Diagnostic>),
    /// A file cannot be read (the command-line tool's own reads).
    #[error("{file}: {message}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        message: String,
    },
    /// The spec file is over the size limit; it was not parsed.
    #[error("{file}: the spec is larger than {limit} bytes ({} MiB), the size limit of a spec", limit >> 20)]
    SpecTooLarge {
        /// The file as the user named it.
        file: String,
        /// [`spec::MAX_SPEC_BYTES`].
        limit: usize,
    },
    /// The requested target does not exist.
    #[error("unknown target `{target}`; available targets: {}", available.join(", "))]
    UnknownTarget {
        /// What was asked for.
        target: String,
        /// What exists.
        available: Vec<String>,
    },
    /// A Cargo manifest in the build context does not parse.
    #[error("{path}: invalid manifest: {message}")]
    Manifest {
        /// Context-relative path of the manifest.
        path: String,
        /// The TOML error.
        message: String,
    },
    /// The requested target is an abstract variant, which only others extend.
    #[error("variant `{target}` is abstract (only extended by others) and cannot be built; available targets: {}", available.join(", "))]
    AbstractTarget {
        /// What was asked for.
        target: String,
        /// What can be built.
        available: Vec<String>,
    },
    /// `check:<target>` names a target without smoke checks.
    #[error(
        "target `check:{target}` has nothing to run: variant `{target}` has no `check:` commands"
    )]
    NoChecks {
        /// The variant (or `artifact`).
        target: String,
    },
    /// The target's Definition is over the size BuildKit accepts in one message.
    #[error(
        "target `{target}`: the build graph is over BuildKit's {}-byte (4 MiB) message limit ({size} bytes); make its steps, env or files smaller",
        llb::MAX_DEFINITION_BYTES
    )]
    DefinitionTooLarge {
        /// The target.
        target: String,
        /// The Definition's marshaled size.
        size: usize,
    },
    /// A build option (build-arg, platform…) has a bad value.
    #[error("option {option}: {message}")]
    InvalidOption {
        /// The option as the user passes it, e.g. `build-arg:BUILDER_IMAGE`.
        option: String,
        /// What is wrong.
        message: String,
    },
}

impl From<Diagnostic> for Error {
    fn from(diagnostic: Diagnostic) -> Self {
        Self::Spec(Box::new(diagnostic))
    }
}

/// Parses and validates spec text, returning the first error in file order.
pub fn load(source: &str, file: &str) -> Result<spec::Spec, Error> {
    let spec = spec::parse(source, file)?;
    match validate::validate(&spec, file, source).into_iter().next() {
        Some(diagnostic) => Err(diagnostic.into()),
        None => Ok(spec),
    }
}
