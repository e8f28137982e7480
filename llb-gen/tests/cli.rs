//! `llb-gen dot` and `llb-gen check` as a user runs them: output text and exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};

const HELLO_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/hello/flotilla.yaml"
);

fn llb_gen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llb-gen"))
        .args(args)
        .output()
        .unwrap()
}

fn dot(args: &[&str]) -> String {
    let output = llb_gen(&[&["dot", HELLO_PATH], args].concat());
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn dot_draws_the_compile_graph_of_a_variant() {
    let graph = dot(&["--target", "gateway"]);
    assert_eq!(graph, dot(&["--target", "gateway"]), "deterministic");
    assert!(graph.starts_with("digraph llb {\n") && graph.ends_with("}\n"));
    let nodes: Vec<&str> = graph.lines().filter(|l| l.contains("shape=")).collect();
    assert_eq!(nodes.len(), 10, "{graph}");
    let node = |label: &str| {
        let line = nodes
            .iter()
            .find(|line| line.contains(&format!("[label=\"{label}\"")))
            .unwrap_or_else(|| panic!("no node {label:?} in {graph}"));
        line.trim().split(' ').next().unwrap().to_owned()
    };
    let cargo =
        node("[builder] cargo build --locked --profile release --bin hello --bin hello-gateway");
    // The fetch comes before the dependency layer, which builds on it.
    let fetch = node("[builder] cargo fetch --locked");
    let deps = node(
        "[builder] cargo build --locked --profile release --bin hello --bin hello-gateway (dependencies only)",
    );
    assert!(
        graph.contains(&format!("  {fetch} -> {deps};\n")),
        "{graph}"
    );
    // The build mounts the sources where they are, with no copy of them into a layer first.
    let sources = node("[builder] load project sources");
    assert!(
        graph.contains(&format!("  {sources} -> {cargo};\n")),
        "{graph}"
    );
    let copy = node("[gateway 2/2] COPY hello-gateway -> /usr/local/bin/hello-gateway");
    // The binaries are the compile exec's second output (its output mount).
    assert!(
        graph.contains(&format!("  {cargo} -> {copy} [label=\"1\"];\n")),
        "{graph}"
    );
    let base = node("[gateway 1/2] FROM debian:bookworm-slim");
    assert!(graph.contains(&format!("  {base} -> {copy};\n")));
}

#[test]
fn dot_of_a_prebuilt_variant_has_no_compile_op() {
    let graph = dot(&[
        "--target",
        "hello",
        "--build-arg",
        "BUILDER_IMAGE=localhost:5000/hello-artifact:1",
        "--platform",
        "linux/arm64",
    ]);
    assert!(!graph.contains("cargo"), "{graph}");
    assert!(graph.contains("[builder] FROM localhost:5000/hello-artifact:1 (prebuilt)"));
}

fn broken_spec() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("check-broken");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("flotilla.yaml");
    std::fs::write(
        &path,
        "version: 1\nbuilder: {image: r, binaries: [a]}\nvariants:\n  v:\n    from: debian\n    binaries: {b: /bin/b}\n",
    )
    .unwrap();
    path
}

#[test]
fn check_prints_rustc_style_errors_and_exits_1() {
    let path = broken_spec();
    let file = path.display().to_string();
    let output = llb_gen(&["check", &file]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        format!(
            "error: variant `v` takes binary `b`, which the builder does not build\n \
             --> {file}:6:16\n  |\n6 |     binaries: {{b: /bin/b}}\n  |                ^\n  \
             = hint: builder binaries: a\n{file}: 1 error(s)\n"
        )
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn check_accepts_the_examples() {
    let output = llb_gen(&["check", HELLO_PATH]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("{HELLO_PATH}: ok\n")
    );
}

#[test]
fn check_takes_source_date_epoch_and_refuses_a_bad_one() {
    let check = |epoch: &str| {
        let arg = format!("SOURCE_DATE_EPOCH={epoch}");
        llb_gen(&["check", HELLO_PATH, "--short", "--build-arg", &arg])
    };
    // Undeclared in the spec, and no error for it: it dates the image, it is no spec arg.
    assert_eq!(check("1609459200").status.code(), Some(0));
    let output = check("abc");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        format!(
            "error: option build-arg:SOURCE_DATE_EPOCH: `abc` is not a Unix time: a whole number of seconds since 1970-01-01 UTC, as `date +%s` prints\n{HELLO_PATH}: 1 error(s)\n"
        )
    );
}

#[test]
fn a_reader_that_stops_early_is_no_error() {
    for args in [&["targets", HELLO_PATH][..], &["schema"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_llb-gen"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end before llb-gen writes, as `llb-gen … | head -0` does.
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// The options the frontend reads reach `llb-gen llb` too: a named builder context replaces the
/// compile, `--network none` and `--no-cache` change the Definition, and a bad value names its
/// flag.
#[test]
fn llb_takes_the_frontends_options() {
    let llb = |args: &[&str]| {
        let output = llb_gen(&[&["llb", HELLO_PATH, "--target", "gateway"], args].concat());
        assert!(output.status.success(), "{output:?}");
        output.stdout
    };
    let contains =
        |bytes: &[u8], text: &str| bytes.windows(text.len()).any(|w| w == text.as_bytes());
    let plain = llb(&[]);
    assert!(contains(&plain, "cargo build"));
    let named = llb(&[
        "--build-context",
        "builder=docker-image://localhost:5000/a:1",
    ]);
    assert!(
        contains(&named, "docker-image://localhost:5000/a:1") && !contains(&named, "cargo build")
    );
    let base = llb(&[
        "--build-context",
        "debian:bookworm-slim=docker-image://localhost:5000/debian:pinned",
    ]);
    assert!(
        contains(&base, "docker-image://localhost:5000/debian:pinned")
            && !contains(&base, "docker.io/library/debian")
    );
    for args in [
        &["--network", "none"][..],
        &["--no-cache"],
        &["--add-host", "h=10.0.0.1"],
    ] {
        assert_ne!(llb(args), plain, "{args:?} changes the Definition");
    }
    let bad = llb_gen(&["llb", HELLO_PATH, "--network", "bridge"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("network"),
        "{bad:?}"
    );
}

/// A spec whose second variant's base is only bad once its arg takes its default.
fn bad_default_spec() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("check-every-target");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("flotilla.yaml");
    std::fs::write(
        &path,
        "version: 1\nbuilder: {image: r, binaries: [a]}\nargs: {DEBIAN_IMAGE: 'debian:bookworm-slim'}\nvariants:\n  v:\n    from: ${DEBIAN_IMAGE}\n  node:\n    args: {NODE_IMAGE: 'node:Not Valid'}\n    from: ${NODE_IMAGE}\n",
    )
    .unwrap();
    path
}

#[test]
fn check_builds_every_target_unless_one_is_named() {
    let file = bad_default_spec().display().to_string();
    let every = llb_gen(&[
        "check",
        "--short",
        &file,
        "--build-arg",
        "BUILDER_IMAGE=b:1",
    ]);
    assert_eq!(every.status.code(), Some(1), "{every:?}");
    let stderr = String::from_utf8(every.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!(
            "error: {file}:9:11: invalid image reference `node:Not Valid`"
        )),
        "{stderr}"
    );
    let one = llb_gen(&[
        "check",
        &file,
        "--target",
        "v",
        "--build-arg",
        "BUILDER_IMAGE=b:1",
    ]);
    assert!(one.status.success(), "{one:?}");
}

#[test]
fn targets_show_the_base_with_the_args_at_their_defaults() {
    let file = bad_default_spec().display().to_string();
    let output = llb_gen(&["targets", &file]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let first = stdout.lines().next().unwrap();
    assert!(
        first.starts_with("v") && first.contains("debian:bookworm-slim"),
        "{stdout}"
    );
}

#[test]
fn check_reads_only_the_projects_manifests() {
    // A spec in a directory that holds much besides its project: another tree's broken
    // manifest, deeper ones, and more manifests than the scan would ever read.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("check-large-directory");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("app/src")).unwrap();
    std::fs::write(
        dir.join("app/Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("app/src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::create_dir_all(dir.join("elsewhere/broken")).unwrap();
    std::fs::write(dir.join("elsewhere/broken/Cargo.toml"), "[package\n").unwrap();
    for i in 0..10_001 {
        let many = dir.join(format!("many/{i}"));
        std::fs::create_dir_all(&many).unwrap();
        std::fs::write(many.join("Cargo.toml"), "").unwrap();
    }
    let spec = dir.join("flotilla.yaml");
    std::fs::write(
        &spec,
        "version: 1\nbuilder:\n  image: rust:1\n  binaries: []\n  projects:\n    app: {binaries: [app]}\nvariants:\n  v: {from: 'debian:12', binaries: {app: /app}}\n",
    )
    .unwrap();
    let checked = llb_gen(&["check", &spec.display().to_string()]);
    assert!(checked.status.success(), "{checked:?}");
    // The project's own manifest is read: a broken one is named.
    std::fs::write(dir.join("app/Cargo.toml"), "[package\n").unwrap();
    let broken = llb_gen(&["check", "--short", &spec.display().to_string()]);
    let stderr = String::from_utf8(broken.stderr).unwrap();
    assert!(stderr.contains("app/Cargo.toml:1:"), "{stderr}");
}
