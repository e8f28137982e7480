//! Flotilla's pure core: a `flotilla.yaml` spec becomes a typed model, then an LLB graph,
//! then a deterministic BuildKit `pb::Definition`. No daemon, and no I/O but `context_dir`'s
//! reading of a context directory for the CLI.
//!
//! Modules import only downwards (`scripts/module-cycles` checks it): `affected`, `context_dir`
//! → `plan`, `subrequest`, `matrix`, `schema`, `dot`, `failure` → `graph` → `target` →
//! `validate` → `model`, `resolve` → `args`, `syntax`, `reference` → `spec`, `image`, `stubs` →
//! `error` → `llb`, `diagnostic` → `platform` → `pb`; `stubs` also reads `syntax` and `spec`,
//! `cache_keys` reads `stubs`, `cache_keys` and `context_dir` read `context` (→ `error`);
//! `dockerignore` stands alone. The crate root only declares them and re-exports.

pub mod affected;
pub mod args;
pub mod cache_keys;
pub mod context;
pub mod context_dir;
pub mod diagnostic;
pub mod dockerignore;
pub mod dot;
mod error;
pub mod failure;
pub mod glob;
pub mod graph;
pub mod image;
pub mod llb;
pub mod lockfile;
pub mod matrix;
pub mod model;
pub mod named_context;
pub mod plan;
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
pub use error::Error;

/// Parses and validates spec text, returning the first error in file order.
pub fn load(source: &str, file: &str) -> Result<spec::Spec, Error> {
    let spec = spec::parse(source, file)?;
    match validate::validate(&spec, file, source).into_iter().next() {
        Some(diagnostic) => Err(diagnostic.into()),
        None => Ok(spec),
    }
}
