//! The context-fixture table (tests/fixtures/contexts, see its README) through `llb-gen llb`:
//! each case's directory is the context, read from disk as the frontend reads it through
//! BuildKit. frontend/src/context_fixtures.rs runs the same table through the frontend.

use std::process::Command;

use llb_gen::pb::Definition;
use prost::Message;

#[path = "../../tests/fixtures/contexts/table.rs"]
mod table;

#[test]
fn every_context_case_plans_as_the_table_says() {
    let scratch = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("contexts");
    let mut failures = Vec::new();
    for case in table::cases(&scratch) {
        let output = Command::new(env!("CARGO_BIN_EXE_llb-gen"))
            .arg("llb")
            .arg(case.dir.join("flotilla.yaml"))
            .args(["--target", "artifact"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let problem = match output.status.code() {
            Some(0) => case.check(Ok(&Definition::decode(output.stdout.as_slice()).unwrap())),
            Some(1) => case.check(Err(stderr.strip_prefix("error: ").unwrap_or(&stderr))),
            _ => Some(format!("exit {:?}, stderr:\n{stderr}", output.status)),
        };
        failures.extend(problem.map(|problem| format!("{}: {problem}", case.name)));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The scratch copy holds a FIFO and a 2.5 GB sparse file: kept only when the test fails.
    std::fs::remove_dir_all(&scratch).unwrap();
}
