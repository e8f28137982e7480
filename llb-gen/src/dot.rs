//! `llb-gen dot`: a marshaled Definition as a Graphviz digraph, to see what a target builds
//! and which ops share inputs. Nodes follow the Definition's order, so the text is stable.

use std::collections::BTreeMap;
use std::fmt::Write;

use prost::Message;

use crate::llb::digest_of;
use crate::pb::{self, op::Op as Payload};

/// The metadata key BuildKit shows as a step's name in progress output.
const CUSTOM_NAME: &str = "llb.customname";

/// The digraph of `definition`: one node per op, labelled with its progress name (else the
/// source identifier, else the op kind), and one edge per input, from the input to the op.
pub fn render(definition: &pb::Definition) -> Result<String, prost::DecodeError> {
    let mut nodes = BTreeMap::new();
    let mut text = String::from("digraph llb {\n  rankdir=LR;\n  node [fontname=\"monospace\"];\n");
    for (index, bytes) in definition.def.iter().enumerate() {
        let op = pb::Op::decode(bytes.as_slice())?;
        let digest = digest_of(bytes);
        let name = definition
            .metadata
            .get(&digest)
            .and_then(|metadata| metadata.description.get(CUSTOM_NAME));
        let (kind, shape) = match &op.op {
            Some(Payload::Source(source)) => (source.identifier.as_str(), "box"),
            Some(Payload::Exec(_)) => ("exec", "ellipse"),
            Some(Payload::File(_)) => ("file", "note"),
            None => ("result", "doublecircle"),
        };
        let label = name.map_or(kind, String::as_str);
        let _ = writeln!(
            text,
            "  op{index} [label=\"{}\", shape={shape}];",
            escape(label)
        );
        for input in &op.inputs {
            if let Some(from) = nodes.get(&input.digest) {
                let output = match input.index {
                    0 => String::new(),
                    output => format!(" [label=\"{output}\"]"),
                };
                let _ = writeln!(text, "  op{from} -> op{index}{output};");
            }
        }
        nodes.insert(digest, index);
    }
    text.push_str("}\n");
    Ok(text)
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_escape_quotes_and_backslashes() {
        assert_eq!(escape(r#"sh -c "a\b""#), r#"sh -c \"a\\b\""#);
    }
}
