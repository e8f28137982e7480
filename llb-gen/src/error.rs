//! The spec-level error: why a build request cannot be turned into a graph. Its own module,
//! not the crate root, so the modules that return it do not import the root that imports them.

use crate::diagnostic::{Diagnostic, Position};
use crate::llb;

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
        /// [`crate::spec::MAX_SPEC_BYTES`].
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
    /// A Cargo manifest of a project in the build context does not parse, or names a path
    /// outside its project.
    #[error("{path}:{}:{}: {message}", position.line, position.column)]
    Manifest {
        /// Context-relative path of the manifest.
        path: String,
        /// Where in the manifest.
        position: Position,
        /// What is wrong.
        message: String,
    },
    /// A file of the build context that llb-gen reads is not one it may read.
    #[error("{path} in the build context: {reason}")]
    ContextFile {
        /// Context-relative path of the file.
        path: String,
        /// Why it is not read.
        reason: String,
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
    #[error(transparent)]
    DefinitionTooLarge(#[from] llb::DefinitionTooLarge),
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
