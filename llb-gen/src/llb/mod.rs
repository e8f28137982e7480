//! LLB: BuildKit's build graph, as immutable states and a deterministic marshaler.

mod marshal;
mod state;

pub use marshal::{MarshalOptions, NoCache, SourceFile, digest_of, marshal};
pub use state::{
    CacheSharing, Copy, CopyOptions, Describe, Exec, ExecResult, LocalOptions, Mount, SpecRange,
    State,
};
