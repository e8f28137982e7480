//! The bad-input table of `tests/bad/` (see its README) through `llb-gen check --short`: each
//! spec is refused with exit code 1 (a panic exits 101) and its first error lines begin with
//! the case's `.expected` lines, in bounded memory and time ([`capped`]). `tests/e2e/bad.sh`
//! builds the same table through the frontend.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

mod capped;

const TABLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/bad");
/// The issue asks for at least this many cases.
const MIN_CASES: usize = 30;
/// The largest spec committed to the table; larger ones are generated.
const MAX_COMMITTED_BYTES: u64 = 16 << 10;

/// The case names: one per `.expected` file, sorted.
fn cases() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(TABLE)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".expected").map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

/// A scratch copy of the table's specs with the generated ones added.
fn specs_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad-specs");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(TABLE).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "yaml") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    let generated = Command::new("bash")
        .arg(Path::new(TABLE).join("generate.sh"))
        .arg(&dir)
        .status()
        .unwrap();
    assert!(generated.success(), "generate.sh failed");
    dir
}

fn lines(path: &Path) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.lines().map(str::to_owned).collect(),
        Err(_) => Vec::new(),
    }
}

/// How long one case's run took, or what is wrong with it.
fn run_case(dir: &Path, name: &str) -> Result<Duration, String> {
    let expected = lines(&Path::new(TABLE).join(format!("{name}.expected")));
    let args = lines(&Path::new(TABLE).join(format!("{name}.args")));
    let command = [
        "check".to_owned(),
        "--short".to_owned(),
        format!("{name}.yaml"),
    ];
    let run = capped::llb_gen(dir, &[&command[..], &args].concat())?;
    let stderr = run.stderr;
    if run.status.code() != Some(1) {
        return Err(format!("exit {:?}, stderr:\n{stderr}", run.status));
    }
    let mut errors = stderr.lines();
    for line in &expected {
        let actual = errors.next().unwrap_or_default();
        if !actual.starts_with(&format!("error: {line}")) {
            return Err(format!("expected `error: {line}`\n  got `{actual}`"));
        }
    }
    Ok(run.elapsed)
}

#[test]
fn every_bad_spec_is_refused_with_its_message() {
    let dir = specs_dir();
    let names = cases();
    assert!(names.len() >= MIN_CASES, "only {} cases", names.len());
    let mut failures = Vec::new();
    let mut times = Vec::new();
    for name in &names {
        match run_case(&dir, name) {
            Ok(elapsed) => times.push((elapsed, name)),
            Err(failure) => failures.push(format!("{name}: {failure}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    times.sort();
    for (elapsed, name) in times.iter().rev().take(5) {
        eprintln!("{name}: {elapsed:?}");
    }
    // The generated specs are 50 MB; they are kept only when the test fails.
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_case_has_a_message_and_one_spec_and_committed_specs_are_small() {
    let generator = std::fs::read_to_string(Path::new(TABLE).join("generate.sh")).unwrap();
    for name in cases() {
        let expected = lines(&Path::new(TABLE).join(format!("{name}.expected")));
        assert!(
            !expected.is_empty() && !expected[0].is_empty(),
            "{name}: empty"
        );
        let generated = generator.contains(&format!("\"$dir/{name}.yaml\""));
        match std::fs::metadata(Path::new(TABLE).join(format!("{name}.yaml"))) {
            Ok(committed) => {
                assert!(!generated, "{name}: both committed and generated");
                assert!(
                    committed.len() <= MAX_COMMITTED_BYTES,
                    "{name}: generate it"
                );
            }
            Err(_) => assert!(generated, "{name}: no spec"),
        }
    }
}
