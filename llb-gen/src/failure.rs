//! Which spec step a failed solve is about. BuildKit's error names the failing process by its
//! argv (`executor failed running [/bin/sh -c exit 7]` in v0.8, `process "/bin/sh -c exit 7"
//! did not complete successfully` later) but Docker 20.10's CLI prints no source location; so
//! the frontend finds the exec op with that argv and names its spec line itself.

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

/// The exec op of `definition` whose argv appears in `message` (the longest such argv, so
/// `echo a` does not shadow `echo ab`), if the op has a spec location.
pub fn failed_step(definition: &pb::Definition, message: &str) -> Option<FailedStep> {
    let locations = &definition.source.as_ref()?.locations;
    definition
        .def
        .iter()
        .filter_map(|bytes| {
            let Some(pb::op::Op::Exec(exec)) = pb::Op::decode(bytes.as_slice()).ok()?.op else {
                return None;
            };
            let argv = exec.meta?.args.join(" ");
            message
                .contains(&argv)
                .then(|| (argv.len(), digest_of(bytes)))
        })
        .max_by_key(|(length, _)| *length)
        .and_then(|(_, digest)| {
            let range = locations.get(&digest)?.locations.first()?.ranges.first()?;
            let start = range.start.as_ref()?;
            let name = definition
                .metadata
                .get(&digest)
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
        })
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

    #[test]
    fn finds_the_failing_step_by_its_argv() {
        let base = State::image(
            "docker.io/library/debian:bookworm-slim",
            &Platform::linux("amd64"),
            "base",
        );
        let state = step(&step(&step(&base, "echo a", 3), "echo ab", 4), "exit 7", 5);
        let source = SourceFile {
            name: "f.yaml",
            data: b"",
        };
        let definition = marshal(
            &state,
            MarshalOptions {
                source: Some(source),
                no_cache: None,
            },
        );
        let failed = |message: &str| failed_step(&definition, message);
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
}
