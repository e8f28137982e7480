//! Turns a [`State`] into BuildKit's `pb::Definition`, deterministically: each op is encoded once,
//! its digest is sha256 of those exact bytes, dependencies come first and the terminal op last.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use prost::Message;
use sha2::{Digest, Sha256};

use super::state::{Output, SpecRange, State, Vertex};
use crate::pb;

/// The spec file a Definition's source map points into.
#[derive(Clone, Copy, Debug)]
pub struct SourceFile<'a> {
    /// Name shown by BuildKit in errors, e.g. `flotilla.yaml`.
    pub name: &'a str,
    /// The file's bytes, so BuildKit can print the offending lines.
    pub data: &'a [u8],
}

/// Marshals the graph that ends at `state`. Scratch gives an empty Definition, which BuildKit
/// solves to the empty filesystem.
pub fn marshal(state: &State, source: Option<SourceFile<'_>>) -> pb::Definition {
    let Some(output) = &state.output else {
        return pb::Definition::default();
    };
    let mut marshaler = Marshaler::default();
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
    let source = source
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
}

impl Marshaler {
    /// Writes `vertex` after its inputs (post-order) and returns its digest.
    fn visit(&mut self, vertex: &Arc<Vertex>) -> String {
        if let Some(digest) = self.seen.get(&Arc::as_ptr(vertex)) {
            return digest.clone();
        }
        let inputs = vertex
            .inputs
            .iter()
            .map(|Output { vertex, index }| pb::Input {
                digest: self.visit(vertex),
                index: *index,
            })
            .collect();
        let op = pb::Op {
            inputs,
            op: Some(vertex.op.clone()),
            platform: vertex.platform.clone(),
            constraints: None,
        };
        let caps: Vec<&str> = vertex.meta.caps.iter().copied().collect();
        let digest = self.push(op, &caps, &vertex.meta.name);
        if let Some(range) = vertex.meta.location {
            self.locations.insert(digest.clone(), range);
        }
        self.seen.insert(Arc::as_ptr(vertex), digest.clone());
        digest
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
    let position = |line: u32, character: u32| pb::Position {
        line: line as i32,
        character: character as i32,
    };
    pb::Locations {
        locations: vec![pb::Location {
            source_index: 0,
            ranges: vec![pb::Range {
                start: Some(position(range.line, range.column)),
                end: Some(position(range.end_line, 0)),
            }],
        }],
    }
}
