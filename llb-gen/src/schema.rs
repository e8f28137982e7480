//! The JSON Schema of `flotilla.yaml`, derived from the spec types so it cannot drift from
//! what the parser accepts; editors use it through the `yaml-language-server` modeline.

use crate::spec;

/// The schema as pretty JSON, as `llb-gen schema` prints it and `schema/` commits it. Draft-07,
/// the draft the YAML language server supports best.
pub fn text() -> String {
    let schema = spec::schema();
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema is JSON");
    text.push('\n');
    text
}
