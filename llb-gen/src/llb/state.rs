//! An immutable LLB state in the style of BuildKit's `client/llb`: each op is a method that
//! returns a new state; nothing is marshaled until [`crate::llb::marshal`] runs once at the end.
//! The ops live in their own modules: sources, exec, file and the build's network.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use crate::pb;

/// Where an op came from in the spec, so BuildKit can point at the spec line on failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SpecRange {
    /// 1-based line of the first character.
    pub line: u32,
    /// 1-based column of the first character.
    pub column: u32,
    /// 1-based line of the last character.
    pub end_line: u32,
}

/// What progress output shows for an op, and the spec range that made it.
#[derive(Clone, Debug, Default)]
pub struct Describe {
    /// The vertex name, e.g. `[hello 2/2] COPY hello -> /usr/local/bin/hello`.
    pub name: String,
    /// The spec lines behind the op.
    pub location: Option<SpecRange>,
}

impl From<String> for Describe {
    fn from(name: String) -> Self {
        Self {
            name,
            location: None,
        }
    }
}

impl From<&str> for Describe {
    fn from(name: &str) -> Self {
        name.to_owned().into()
    }
}

/// Metadata BuildKit keeps beside an op: its progress name, the caps it needs, its spec line.
#[derive(Clone, Debug, Default)]
pub(crate) struct VertexMeta {
    pub(crate) name: String,
    pub(crate) caps: BTreeSet<&'static str>,
    pub(crate) location: Option<SpecRange>,
}

/// One op of the graph, with its inputs still as live references (digests come at marshal time).
#[derive(Clone, Debug)]
pub(crate) struct Vertex {
    pub(crate) op: pb::op::Op,
    pub(crate) inputs: Vec<Output>,
    pub(crate) platform: Option<pb::Platform>,
    pub(crate) meta: VertexMeta,
    /// At least the bytes of the Definition of the graph that ends here: this op with the
    /// digests of its inputs, its name and the digest its metadata is kept under, and the
    /// largest input's graph (inputs may share ops, so only the largest is sure to be apart).
    /// Known as each op is made, so a graph over BuildKit's limit stops growing.
    pub(crate) size: usize,
}

/// The length of a digest as the Definition writes it, `sha256:` and 64 hex digits.
const DIGEST_BYTES: usize = 71;

impl Vertex {
    pub(crate) fn new(
        op: pb::op::Op,
        inputs: Vec<Output>,
        platform: Option<pb::Platform>,
        meta: VertexMeta,
    ) -> Self {
        let largest_input = inputs.iter().map(|input| input.vertex.size).max();
        let own = op.encoded_len() + meta.name.len() + DIGEST_BYTES * (1 + inputs.len());
        Self {
            size: largest_input.unwrap_or(0).saturating_add(own),
            op,
            inputs,
            platform,
            meta,
        }
    }
}

/// Drops the vertices only this one holds one after another, not each inside the last: a
/// chain of thousands of steps would overflow the stack.
impl Drop for Vertex {
    fn drop(&mut self) {
        let mut orphans: Vec<Arc<Vertex>> =
            self.inputs.drain(..).map(|input| input.vertex).collect();
        while let Some(vertex) = orphans.pop() {
            if let Some(mut vertex) = Arc::into_inner(vertex) {
                orphans.extend(vertex.inputs.drain(..).map(|input| input.vertex));
            }
        }
    }
}

/// Every vertex of the graph that ends at `root`, each once, inputs before the vertices that
/// read them (the order a depth-first walk from the first input finishes them in). The walk
/// keeps its own stack: a chain of thousands of steps is as deep as the graph is long.
pub(crate) fn post_order(root: &Arc<Vertex>) -> Vec<&Arc<Vertex>> {
    let mut order = Vec::new();
    let mut done = HashSet::new();
    let mut pending = vec![(root, false)];
    while let Some((vertex, inputs_done)) = pending.pop() {
        if done.contains(&Arc::as_ptr(vertex)) {
            continue;
        }
        if inputs_done {
            done.insert(Arc::as_ptr(vertex));
            order.push(vertex);
        } else {
            pending.push((vertex, true));
            // Reversed, so that the first input is finished first.
            pending.extend(
                vertex
                    .inputs
                    .iter()
                    .rev()
                    .map(|input| (&input.vertex, false)),
            );
        }
    }
    order
}

/// One output of a vertex: what a later op consumes.
#[derive(Clone, Debug)]
pub(crate) struct Output {
    pub(crate) vertex: Arc<Vertex>,
    pub(crate) index: i64,
}

/// A filesystem state: the result of an op, or scratch (the empty filesystem).
#[derive(Clone, Debug, Default)]
pub struct State {
    pub(crate) output: Option<Output>,
}

impl State {
    /// The empty filesystem.
    pub fn scratch() -> Self {
        Self::default()
    }

    /// Whether this is the empty filesystem.
    pub fn is_scratch(&self) -> bool {
        self.output.is_none()
    }

    pub(crate) fn from_vertex(vertex: Vertex) -> Self {
        Self {
            output: Some(Output {
                vertex: Arc::new(vertex),
                index: 0,
            }),
        }
    }
}

impl VertexMeta {
    pub(crate) fn new(describe: Describe, caps: &[&'static str]) -> Self {
        Self {
            name: describe.name,
            caps: caps.iter().copied().collect(),
            location: describe.location,
        }
    }
}
