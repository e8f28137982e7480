//! Which spec step a failed solve is about. Docker 20.10's CLI prints no source location, so
//! the frontend names the failing step's spec line itself. BuildKit 0.8.3+ tells which vertex
//! failed (an `errdefs.Vertex` detail holding the op's digest), which is exact; without one,
//! the step is found by its argv in the message: `executor failed running [/bin/sh -c exit 7]`
//! in v0.8, `process "/bin/sh -c exit 7" did not complete successfully` later, where the
//! joined argv is quoted as Go's `%q` quotes it.

use prost::Message;

use crate::diagnostic::Position;
use crate::llb::digest_of;
use crate::pb;

/// A step of the Definition whose process failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedStep {
    /// Its vertex name, e.g. `[kiro 4/9] RUN make`.
    pub name: String,
    /// Where the spec writes it.
    pub position: Position,
}

/// The located exec op of `definition` that failed: the one whose digest is `vertex` (the
/// failing vertex BuildKit names), else the one whose argv appears in `message` (the longest
/// such argv, so `echo a` does not shadow `echo ab`).
pub fn failed_step(
    definition: &pb::Definition,
    vertex: Option<&str>,
    message: &str,
) -> Option<FailedStep> {
    let execs: Vec<(String, pb::ExecOp)> = definition
        .def
        .iter()
        .filter_map(|bytes| match pb::Op::decode(bytes.as_slice()).ok()?.op {
            Some(pb::op::Op::Exec(exec)) => Some((digest_of(bytes), exec)),
            _ => None,
        })
        .collect();
    let by_vertex = vertex
        .and_then(|vertex| execs.iter().find(|(digest, _)| digest == vertex))
        .and_then(|(digest, _)| located(definition, digest));
    by_vertex.or_else(|| {
        execs
            .iter()
            .filter_map(|(digest, exec)| {
                let argv = exec.meta.as_ref()?.args.join(" ");
                (message.contains(&argv) || message.contains(&go_quote(&argv)))
                    .then_some((argv.len(), digest))
            })
            .max_by_key(|(length, _)| *length)
            .and_then(|(_, digest)| located(definition, digest))
    })
}

/// The step of op `digest`, if the Definition's source map locates it.
fn located(definition: &pb::Definition, digest: &str) -> Option<FailedStep> {
    let locations = &definition.source.as_ref()?.locations;
    let range = locations.get(digest)?.locations.first()?.ranges.first()?;
    let start = range.start.as_ref()?;
    let name = definition
        .metadata
        .get(digest)
        .and_then(|metadata| metadata.description.get("llb.customname"))
        .cloned()
        .unwrap_or_default();
    Some(FailedStep {
        name,
        position: Position {
            line: u32::try_from(start.line).ok()?,
            column: u32::try_from(start.character).ok()?,
        },
    })
}

/// `text` as Go's `%q` (`strconv.Quote`) writes it, as BuildKit quotes a failed process's
/// argv: without this a multi-line script, whose newlines become `\n`, is never found.
/// Control characters are escaped; other characters Go deems unprintable (rare in a script)
/// are kept, so such an argv is matched only through the vertex.
fn go_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\u{7}' => quoted.push_str("\\a"),
            '\u{8}' => quoted.push_str("\\b"),
            '\u{c}' => quoted.push_str("\\f"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '\u{b}' => quoted.push_str("\\v"),
            control if control.is_ascii_control() => {
                quoted.push_str(&format!("\\x{:02x}", u32::from(control)));
            }
            control if control.is_control() => {
                quoted.push_str(&format!("\\u{:04x}", u32::from(control)));
            }
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llb::{Describe, Exec, MarshalOptions, SourceFile, SpecRange, State, marshal};
    use crate::platform::Platform;

    fn step(state: &State, script: &str, line: u32) -> State {
        let exec = Exec {
            args: vec!["/bin/sh".into(), "-c".into(), script.into()],
            cwd: "/".into(),
            ..Default::default()
        };
        let describe = Describe {
            name: format!("[v {line}/9] RUN {script}"),
            location: Some(SpecRange {
                line,
                column: 9,
                end_line: line,
            }),
        };
        state.run(exec, &Platform::linux("amd64"), describe).root
    }

    /// A Definition of located steps running `scripts`, at lines 3, 4, … in turn.
    fn definition(scripts: &[&str]) -> pb::Definition {
        let base = State::image(
            "docker.io/library/debian:bookworm-slim",
            crate::llb::ResolveMode::Default,
            &Platform::linux("amd64"),
            "base",
        );
        let state = scripts
            .iter()
            .zip(3..)
            .fold(base, |state, (script, line)| step(&state, script, line));
        let source = SourceFile {
            name: "f.yaml",
            data: b"",
        };
        marshal(
            &state,
            MarshalOptions {
                source: Some(source),
                no_cache: None,
            },
        )
    }

    /// The digest of the op named `name` in `definition`.
    fn digest_named(definition: &pb::Definition, name: &str) -> String {
        definition
            .metadata
            .iter()
            .find(|(_, metadata)| {
                metadata
                    .description
                    .get("llb.customname")
                    .map(String::as_str)
                    == Some(name)
            })
            .map(|(digest, _)| digest.clone())
            .expect("an op of that name")
    }

    #[test]
    fn finds_the_failing_step_by_its_argv() {
        let definition = definition(&["echo a", "echo ab", "exit 7"]);
        let failed = |message: &str| failed_step(&definition, None, message);
        assert_eq!(
            failed("executor failed running [/bin/sh -c exit 7]: exit code: 7"),
            Some(FailedStep {
                name: "[v 5/9] RUN exit 7".into(),
                position: Position { line: 5, column: 9 },
            })
        );
        assert_eq!(
            failed("process \"/bin/sh -c echo ab\" did not complete successfully: exit code: 1")
                .map(|step| step.position.line),
            Some(4),
            "the longest argv wins"
        );
        assert_eq!(failed("pull access denied"), None);
    }

    #[test]
    fn the_failing_vertex_wins_over_the_message() {
        let definition = definition(&["echo a", "exit 7"]);
        let message = "executor failed running [/bin/sh -c exit 7]: exit code: 7";
        let first = digest_named(&definition, "[v 3/9] RUN echo a");
        assert_eq!(
            failed_step(&definition, Some(&first), message),
            Some(FailedStep {
                name: "[v 3/9] RUN echo a".into(),
                position: Position { line: 3, column: 9 },
            })
        );
        // A vertex that is no exec op of ours leaves the argv to tell.
        let image = digest_named(&definition, "base");
        for vertex in [image.as_str(), "sha256:00"] {
            assert_eq!(
                failed_step(&definition, Some(vertex), message).map(|step| step.position.line),
                Some(4),
                "{vertex}"
            );
        }
    }

    #[test]
    fn a_multi_line_script_is_found_as_current_buildkit_quotes_it() {
        let definition = definition(&["set -eu\nexit 3\n", "echo \"a\\tb\""]);
        let failed =
            |message: &str| failed_step(&definition, None, message).map(|step| step.position.line);
        assert_eq!(
            failed(
                r#"process "/bin/sh -c set -eu\nexit 3\n" did not complete successfully: exit code: 3"#
            ),
            Some(3)
        );
        assert_eq!(
            failed(
                r#"process "/bin/sh -c echo \"a\\tb\"" did not complete successfully: exit code: 1"#
            ),
            Some(4)
        );
    }

    #[test]
    fn quoting_is_gos_percent_q() {
        assert_eq!(go_quote("a b"), r#""a b""#);
        assert_eq!(
            go_quote("say \"hi\"\\\n\tx\r\u{1}\u{7f}\u{85}é"),
            r#""say \"hi\"\\\n\tx\r\x01\x7f\u0085é""#
        );
    }
}
