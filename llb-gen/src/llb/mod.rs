//! LLB: BuildKit's build graph, as immutable states and a deterministic marshaler.

mod file;
mod marshal;
mod state;

pub use file::{Copy, CopyOptions, FileAction, Owner, UserRef};
pub use marshal::{
    DefinitionTooLarge, MAX_DEFINITION_BYTES, MarshalOptions, NoCache, SourceFile, check_size,
    digest_of, marshal,
};
pub use state::{
    CacheSharing, ClientMount, Describe, Exec, ExecNetwork, ExecResult, LocalOptions, Mount,
    NetworkMode, SpecRange, State,
};
