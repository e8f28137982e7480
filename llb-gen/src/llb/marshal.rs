//! Turns a [`State`] into BuildKit's `pb::Definition`, deterministically: each op is encoded once,
//! its digest is sha256 of those exact bytes, dependencies come first and the terminal op last.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use prost::Message;
use sha2::{Digest, Sha256};

use super::state::{Output, SpecRange, State, Vertex, post_order};
use crate::pb;

/// The spec file a Definition's source map points into.
#[derive(Clone, Copy, Debug)]
pub struct SourceFile<'a> {
    /// Name shown by BuildKit in errors, e.g. `flotilla.yaml`.
    pub name: &'a str,
    /// The file's bytes, so BuildKit can print the offending lines.
    pub data: &'a [u8],
}

/// Which ops must not be answered from BuildKit's cache (`docker build --no-cache`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum NoCache {
    /// Cached results may be used.
    #[default]
    Nothing,
    /// Every op runs again.
    All,
    /// Ops of these stages run again: a stage is the `name` in a vertex named `[name …]`.
    Stages(Vec<String>),
}

impl NoCache {
    /// Reads docker/dockerfile's `no-cache` option: empty means all, else a stage list.
    pub fn from_option(value: Option<&str>) -> Self {
        match value {
            None => Self::Nothing,
            Some(list) if list.trim().is_empty() => Self::All,
            Some(list) => Self::Stages(list.split(',').map(|s| s.trim().to_owned()).collect()),
        }
    }

    fn applies_to(&self, vertex_name: &str) -> bool {
        match self {
            Self::Nothing => false,
            Self::All => true,
            Self::Stages(stages) => {
                let stage = vertex_name
                    .strip_prefix('[')
                    .and_then(|rest| rest.split([' ', ']', ':']).next());
                stage.is_some_and(|stage| stages.iter().any(|s| s == stage))
            }
        }
    }
}

/// How to marshal: the spec file for the source map, and what to rebuild.
#[derive(Clone, Copy, Debug, Default)]
pub struct MarshalOptions<'a> {
    /// The spec, so BuildKit can show the line behind a failing op.
    pub source: Option<SourceFile<'a>>,
    /// Ops to run again regardless of the cache.
    pub no_cache: Option<&'a NoCache>,
}

/// The largest Definition BuildKit 0.8 takes: a Solve request carries it whole, and the
/// daemon refuses gRPC messages over grpc-go's default 4 MiB with an obscure error.
pub const MAX_DEFINITION_BYTES: usize = 4 << 20;

/// A Definition over [`MAX_DEFINITION_BYTES`]: LLB's own error, so that `llb` needs nothing
/// from the spec-level error that wraps it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "target `{target}`: the build graph is over BuildKit's {MAX_DEFINITION_BYTES}-byte (4 MiB) message limit (at least {size} bytes); make its steps, env or files smaller"
)]
pub struct DefinitionTooLarge {
    /// The target.
    pub target: String,
    /// The Definition's marshaled size, or what its ops alone were sure to take when the graph
    /// was refused before it was marshaled.
    pub size: usize,
}

/// Refuses a Definition of `target` over [`MAX_DEFINITION_BYTES`], with a message that says
/// which target and what to do.
pub fn check_size(definition: &pb::Definition, target: &str) -> Result<(), DefinitionTooLarge> {
    refuse_over_limit(definition.encoded_len(), target)
}

/// Refuses the graph of `target` that ends at `state` when its ops alone are over
/// [`MAX_DEFINITION_BYTES`], before it is marshaled.
pub fn check_graph_size(state: &State, target: &str) -> Result<(), DefinitionTooLarge> {
    refuse_over_limit(state.min_definition_bytes(), target)
}

fn refuse_over_limit(size: usize, target: &str) -> Result<(), DefinitionTooLarge> {
    if size > MAX_DEFINITION_BYTES {
        return Err(DefinitionTooLarge {
            target: target.to_owned(),
            size,
        });
    }
    Ok(())
}

impl State {
    /// At least the bytes of this graph's Definition, known without marshaling it.
    pub fn min_definition_bytes(&self) -> usize {
        self.output.as_ref().map_or(0, |output| output.vertex.size)
    }

    /// Whether this graph is already sure to be over [`MAX_DEFINITION_BYTES`]: whoever builds
    /// it can stop adding ops, as it will be refused.
    pub fn is_over_message_limit(&self) -> bool {
        self.min_definition_bytes() > MAX_DEFINITION_BYTES
    }
}

/// Marshals the graph that ends at `state`. Scratch gives an empty Definition, which BuildKit
/// solves to the empty filesystem.
pub fn marshal(state: &State, options: MarshalOptions<'_>) -> pb::Definition {
    let Some(output) = &state.output else {
        return pb::Definition::default();
    };
    let no_cache = options.no_cache.cloned().unwrap_or_default();
    let mut marshaler = Marshaler {
        no_cache,
        ..Default::default()
    };
    let digest = marshaler.visit(&output.vertex);
    let terminal = pb::Op {
        inputs: vec![pb::Input {
            digest,
            index: output.index,
        }],
        ..Default::default()
    };
    // The terminal op carries no name of its own.
    marshaler.push(terminal, &["constraints", "platform"], "");
    let source = options
        .source
        .filter(|_| !marshaler.locations.is_empty())
        .map(|file| pb::Source {
            locations: marshaler
                .locations
                .iter()
                .map(|(digest, range)| (digest.clone(), locations(range)))
                .collect(),
            infos: vec![pb::SourceInfo {
                filename: file.name.to_owned(),
                data: file.data.to_vec(),
                definition: None,
            }],
        });
    pb::Definition {
        def: marshaler.ops,
        metadata: marshaler.metadata,
        source,
    }
}

/// The sha256 digest BuildKit computes for marshaled bytes.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[derive(Default)]
struct Marshaler {
    ops: Vec<Vec<u8>>,
    metadata: BTreeMap<String, pb::OpMetadata>,
    locations: BTreeMap<String, SpecRange>,
    /// Digest of each vertex already written, keyed by its address.
    seen: HashMap<*const Vertex, String>,
    no_cache: NoCache,
}

impl Marshaler {
    /// Writes every vertex of the graph that ends at `root`, inputs first, and returns the
    /// digest of `root`.
    fn visit(&mut self, root: &Arc<Vertex>) -> String {
        for vertex in post_order(root) {
            let inputs = vertex
                .inputs
                .iter()
                .map(|Output { vertex, index }| pb::Input {
                    digest: self.seen[&Arc::as_ptr(vertex)].clone(),
                    index: *index,
                })
                .collect();
            self.write(vertex, inputs);
        }
        self.seen[&Arc::as_ptr(root)].clone()
    }

    /// Writes one vertex whose inputs are written.
    fn write(&mut self, vertex: &Arc<Vertex>, inputs: Vec<pb::Input>) {
        let op = pb::Op {
            inputs,
            op: Some(vertex.op.clone()),
            platform: vertex.platform.clone(),
            constraints: None,
        };
        let mut caps: Vec<&str> = vertex.meta.caps.iter().copied().collect();
        if self.no_cache.applies_to(&vertex.meta.name) {
            caps.push("meta.ignorecache");
        }
        let digest = self.push(op, &caps, &vertex.meta.name);
        if let Some(range) = vertex.meta.location {
            self.locations.insert(digest.clone(), range);
        }
        self.seen.insert(Arc::as_ptr(vertex), digest);
    }

    /// Encodes one op, records its metadata, and skips it when an equal op is already written.
    fn push(&mut self, op: pb::Op, caps: &[&str], name: &str) -> String {
        let bytes = op.encode_to_vec();
        let digest = digest_of(&bytes);
        if !self.metadata.contains_key(&digest) {
            self.ops.push(bytes);
            let mut description = BTreeMap::new();
            if !name.is_empty() {
                description.insert("llb.customname".to_owned(), name.to_owned());
            }
            self.metadata.insert(
                digest.clone(),
                pb::OpMetadata {
                    ignore_cache: self.no_cache.applies_to(name),
                    description,
                    caps: caps.iter().map(|cap| ((*cap).to_owned(), true)).collect(),
                    ..Default::default()
                },
            );
        }
        digest
    }
}

fn locations(range: &SpecRange) -> pb::Locations {
    pb::Locations {
        locations: vec![pb::Location {
            source_index: 0,
            ranges: vec![range.to_pb()],
        }],
    }
}

impl SpecRange {
    /// BuildKit's form of the range, for source maps and error details alike: 1-based lines,
    /// the start's character is its 1-based column and the end's is 0 (BuildKit shows whole
    /// lines).
    pub fn to_pb(&self) -> pb::Range {
        let position = |line: u32, character: u32| pb::Position {
            line: line as i32,
            character: character as i32,
        };
        pb::Range {
            start: Some(position(self.line, self.column)),
            end: Some(position(self.end_line, 0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_cache_option_selects_all_or_named_stages() {
        assert_eq!(NoCache::from_option(None), NoCache::Nothing);
        assert_eq!(NoCache::from_option(Some("")), NoCache::All);
        let stages = NoCache::from_option(Some("builder, hello"));
        assert!(stages.applies_to("[builder 3/3] cargo build"));
        assert!(stages.applies_to("[builder] FROM x (prebuilt)"));
        assert!(stages.applies_to("[hello 1/2] FROM debian"));
        assert!(!stages.applies_to("[gateway 1/2] FROM debian"));
        assert!(!stages.applies_to("[context] load build context"));
        assert!(NoCache::All.applies_to(""));
    }

    #[test]
    fn a_chain_longer_than_the_stack_is_deep_marshals_rewrites_and_drops() {
        use crate::llb::{ExecNetwork, FileAction, NetworkMode};
        use crate::platform::Platform;

        let platform = Platform::linux("amd64");
        let steps = 20_000;
        let mut state = State::scratch();
        for step in 0..steps {
            let mkdir = FileAction::Mkdir {
                path: format!("/{step}"),
                mode: 0o755,
                parents: false,
                owner: None,
            };
            state = state.file(&[mkdir], &platform, "mkdir");
        }
        let network = ExecNetwork {
            mode: NetworkMode::None,
            extra_hosts: Vec::new(),
        };
        let definition = marshal(
            &state.with_exec_network(&network),
            MarshalOptions::default(),
        );
        assert_eq!(
            definition.def.len(),
            steps + 1,
            "each op once, and the terminal one"
        );
        assert!(state.min_definition_bytes() <= definition.encoded_len());
        drop(state);
    }

    #[test]
    fn check_size_names_the_limit_and_the_target() {
        let over = pb::Definition {
            def: vec![vec![0; MAX_DEFINITION_BYTES]],
            ..Default::default()
        };
        let error = check_size(&over, "big").unwrap_err().to_string();
        assert!(
            error.starts_with(
                "target `big`: the build graph is over BuildKit's 4194304-byte (4 MiB) message limit (at least 41943"
            ),
            "{error}"
        );
        assert!(check_size(&pb::Definition::default(), "small").is_ok());
    }
}
