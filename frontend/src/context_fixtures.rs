//! Test: the context-fixture table (tests/fixtures/contexts, see its README) through the
//! frontend, on a fake BuildKit serving each case's directory as ReadDir, StatFile and ReadFile
//! do (a link reported as a link): the frontend plans what the table says, as `llb-gen llb`
//! does from the same directory (llb-gen/tests/contexts.rs).

use crate::fake_bridge::{Daemon, run_recording};
use crate::options::Options;

#[path = "../../tests/fixtures/contexts/table.rs"]
mod table;

#[tokio::test]
async fn every_context_case_plans_as_the_table_says() {
    let scratch =
        std::env::temp_dir().join(format!("flotilla-contexts-frontend-{}", std::process::id()));
    let options = Options::from_opts(&["target=artifact"]);
    let mut failures = Vec::new();
    for case in table::cases(&scratch) {
        let daemon = Daemon {
            dir: Some(case.dir.clone()),
            ..Daemon::holding("")
        };
        let (returned, solved) = run_recording(daemon, &options).await;
        let problem = match (&returned.error, solved.last()) {
            (Some(status), _) => case.check(Err(&status.message)),
            (None, Some(definition)) => case.check(Ok(definition)),
            (None, None) => Some("nothing solved".to_owned()),
        };
        failures.extend(problem.map(|problem| format!("{}: {problem}", case.name)));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The scratch copy holds a FIFO and a 2.5 GB sparse file: kept only when the test fails.
    std::fs::remove_dir_all(&scratch).unwrap();
}
