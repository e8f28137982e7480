//! Checks shared by the integration tests that read Definitions.

use llb_gen::llb::digest_of;
use llb_gen::pb;
use prost::Message;

/// The decoded ops of `definition`, in order.
pub fn ops(definition: &pb::Definition) -> Vec<pb::Op> {
    definition
        .def
        .iter()
        .map(|bytes| pb::Op::decode(bytes.as_slice()).unwrap())
        .collect()
}

/// What BuildKit checks when it loads a Definition.
pub fn assert_well_formed(definition: &pb::Definition) {
    let digests: Vec<String> = definition
        .def
        .iter()
        .map(|bytes| digest_of(bytes))
        .collect();
    let ops = ops(definition);
    assert!(ops.len() >= 2, "BuildKit needs at least two ops");
    let terminal = ops.last().unwrap();
    assert!(terminal.op.is_none(), "the last op is the terminal");
    assert_eq!(terminal.inputs.len(), 1);
    for (index, op) in ops.iter().enumerate() {
        for input in &op.inputs {
            let position = digests.iter().position(|d| *d == input.digest);
            assert!(
                position.is_some_and(|p| p < index),
                "input {} resolves to an earlier op",
                input.digest
            );
        }
    }
    for digest in &digests {
        assert!(
            definition.metadata.contains_key(digest),
            "metadata for {digest}"
        );
    }
}
