//! LLB: BuildKit's build graph, as immutable states and a deterministic marshaler.

mod exec;
mod file;
mod marshal;
mod network;
mod source;
mod state;

pub use exec::{CacheSharing, ClientMount, Exec, ExecResult, Mount};
pub use file::{Copy, CopyOptions, FileAction, Owner, UserRef};
pub use marshal::{
    DefinitionTooLarge, MAX_DEFINITION_BYTES, MarshalOptions, NoCache, SourceFile,
    check_graph_size, check_size, digest_of, marshal,
};
pub use network::{ExecNetwork, NetworkMode};
pub use source::{LocalOptions, ResolveMode};
pub use state::{Describe, SpecRange, State};
