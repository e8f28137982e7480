//! The worst spec of each resource class that `llb-gen` still accepts, near the limit that
//! bounds it (BuildKit's 4 MiB message, the substitution and inheritance budgets, the 1 MiB
//! spec), checked in bounded memory and time ([`capped`]). Lists and chains that only the spec
//! size bounds are a quarter of it here, so that a debug build answers in about a second: the
//! time and memory of the full-size ones are in the issue that asked for this suite. The worst
//! specs it refuses are in the bad-input table (`tests/bad/`), which `bad.rs` runs under the
//! same caps.

use std::path::PathBuf;

mod capped;

/// The largest spec `llb-gen` reads.
const MAX_SPEC_BYTES: usize = 1 << 20;
/// The size of the specs that only [`MAX_SPEC_BYTES`] bounds.
const LONG_SPEC_BYTES: usize = MAX_SPEC_BYTES / 4;
const HEAD: &str = "version: 1\nbuilder:\n  image: rust:1-bookworm\n  binaries: [app]\n";
const APP: &str = "variants:\n  app:\n    from: debian:bookworm-slim\n";

/// `head` and then as many `line(0)`, `line(1)`… as fit in [`LONG_SPEC_BYTES`].
fn filled(head: &str, line: impl Fn(usize) -> String) -> String {
    let mut spec = head.to_owned();
    for index in 0.. {
        let next = line(index);
        if spec.len() + next.len() > LONG_SPEC_BYTES {
            break;
        }
        spec.push_str(&next);
    }
    spec
}

/// `llb-gen check` accepts `spec` (with `args`) under the caps.
fn accepted(name: &str, spec: &str, args: &[&str]) {
    assert!(spec.len() <= MAX_SPEC_BYTES, "{name}: {} bytes", spec.len());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("worst-case");
    std::fs::create_dir_all(&dir).unwrap();
    let file = format!("{name}.yaml");
    std::fs::write(dir.join(&file), spec).unwrap();
    let command: Vec<String> = ["check", "--short", &file]
        .iter()
        .chain(args)
        .map(|arg| (*arg).to_owned())
        .collect();
    let run = capped::llb_gen(&dir, &command).unwrap_or_else(|error| panic!("{name}: {error}"));
    assert!(
        run.status.success() && run.stderr.is_empty(),
        "{name}: {}, stderr:\n{}",
        run.status,
        run.stderr
    );
    eprintln!("{name}: {} bytes, {:?}", spec.len(), run.elapsed);
    std::fs::remove_file(dir.join(&file)).unwrap();
}

/// Recursion: 8,000 steps make a graph 8,000 vertices deep whose Definition is just under
/// 4 MiB; every walk over it keeps its own stack.
#[test]
fn steps_as_many_as_a_definition_holds() {
    let steps = "      - echo flotilla\n".repeat(8_000);
    accepted("run-steps", &format!("{HEAD}{APP}    run:\n{steps}"), &[]);
    accepted(
        "check-steps",
        &format!("{HEAD}{APP}    check:\n{steps}"),
        &["--target", "check:app"],
    );
}

/// Expansion: args that each repeat the last four times, up to 10 × 4^60 bytes, cost nothing
/// unused; env values that do the same up to 2.6 MB are written out within the budget.
#[test]
fn values_that_repeat_each_other_up_to_the_budget() {
    let args: String = (1..=60)
        .map(|arg| format!("  A{arg}: \"{}\"\n", format!("${{A{}}}", arg - 1).repeat(4)))
        .collect();
    let spec = format!("{HEAD}args:\n  A0: xxxxxxxxxx\n{args}{APP}    labels: {{small: $A1}}\n");
    accepted("unused-args", &spec, &[]);
    let env: String = (1..=9)
        .map(|var| {
            format!(
                "      E{var}: \"{}\"\n",
                format!("${{E{}}}", var - 1).repeat(4)
            )
        })
        .collect();
    let spec = format!("{HEAD}{APP}    env:\n      E0: xxxxxxxxxx\n{env}");
    accepted("env-values", &spec, &[]);
}

/// Inheritance: a long chain of `extends` merges once per variant; a parent that hundreds of
/// variants extend is copied up to the budget.
#[test]
fn extends_long_or_wide() {
    let head = format!("{HEAD}variants:\n  v0:\n    from: debian:bookworm-slim\n");
    let chain = filled(&head, |link| {
        format!("  v{}: {{extends: v{link}}}\n", link + 1)
    });
    accepted("extends-chain", &chain, &["--target", "v1"]);
    let description = "x".repeat(100_000);
    let head = format!("{HEAD}{APP}    description: {description}\n");
    let children: String = (0..300)
        .map(|child| format!("  c{child}: {{extends: app}}\n"))
        .collect();
    accepted("extends-wide", &format!("{head}{children}"), &[]);
}

/// Long lists: tens of thousands of env entries, merged and given to a step.
#[test]
fn a_long_list() {
    let head = format!("{HEAD}{APP}    run: [echo]\n    env:\n");
    let env = filled(&head, |var| format!("      E{var}: x\n"));
    accepted("long-env", &env, &[]);
}
