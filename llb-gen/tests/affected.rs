//! `llb-gen targets --json --since REF` on a git copy of `examples/openab`: for each typical
//! edit, exactly the targets whose image can change are planned, and the others are listed
//! with a reason.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const OPENAB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/openab");
const NPM: [&str; 5] = ["claude", "gemini", "qwen", "copilot", "amp"];
const ALL: [&str; 11] = [
    "claude", "gemini", "qwen", "copilot", "amp", "kiro", "cursor", "goose", "hermes", "agy",
    "bare",
];

/// A scratch git repository holding a copy of the example, committed.
struct Repo(PathBuf);

impl Repo {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("flotilla-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(Path::new(OPENAB), &dir);
        let repo = Self(dir);
        repo.git(&["init", "-q"]);
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-q", "-m", "openab"]);
        repo
    }

    fn git(&self, args: &[&str]) {
        let status = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .arg("-C")
            .arg(&self.0)
            .args(args)
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    }

    fn edit(&self, path: &str, change: impl FnOnce(String) -> String) {
        let path = self.0.join(path);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let changed = change(text.clone());
        assert_ne!(text, changed, "the edit changes {}", path.display());
        std::fs::write(path, changed).unwrap();
    }

    /// The plan since the commit, on both platforms of the workflow.
    fn plan(&self) -> Value {
        let output = Command::new(env!("CARGO_BIN_EXE_llb-gen"))
            .arg("targets")
            .arg(self.0.join("flotilla.yaml"))
            .args(["--json", "--since", "HEAD"])
            .args(["--platform", "linux/amd64,linux/arm64"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice(&output.stdout).unwrap()
    }

    fn reset(&self) {
        self.git(&["reset", "-q", "--hard"]);
        self.git(&["clean", "-q", "-f", "-d"]);
    }
}

impl Drop for Repo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// What a plan builds: its variants, then `artifact` when it has core jobs; every job checked
/// to be one of those on both platforms.
fn built(plan: &Value) -> Vec<String> {
    let names = |list: &Value| -> Vec<String> {
        let list = list.as_array().unwrap().iter();
        list.map(|name| name.as_str().unwrap().to_owned()).collect()
    };
    let mut built = names(&plan["variants"]);
    let jobs = plan["matrix"]["include"].as_array().unwrap();
    assert_eq!(jobs.len(), 2 * built.len());
    let core = plan["core"]["include"].as_array().unwrap();
    if !core.is_empty() {
        assert_eq!(core.len(), 2);
        built.push("artifact".to_owned());
    }
    let listed = names(
        &plan["built"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["target"].clone())
            .collect(),
    );
    assert_eq!(listed.len(), built.len(), "a reason for each built target");
    built
}

fn replace(from: &'static str, to: &'static str) -> impl FnOnce(String) -> String {
    move |text| text.replacen(from, to, 1)
}

fn append(line: &'static str) -> impl FnOnce(String) -> String {
    move |text| format!("{text}{line}\n")
}

#[test]
fn each_typical_edit_plans_exactly_the_targets_whose_image_can_change() {
    let repo = Repo::new("affected-table");
    type Edit = Box<dyn Fn(&Repo)>;
    let everything: Vec<&str> = ALL.iter().copied().chain(["artifact"]).collect();
    let table: Vec<(&str, Edit, Vec<&str>)> = vec![
        (
            "an edit in crates/core: the artifact and every variant holding openab",
            Box::new(|r| r.edit("crates/core/src/lib.rs", append("// edited"))),
            everything.clone(),
        ),
        (
            "one variant's version arg: that variant",
            Box::new(|r| {
                r.edit(
                    "flotilla.yaml",
                    replace("claude-code@2.1.330", "claude-code@2.1.331"),
                )
            }),
            vec!["claude"],
        ),
        (
            "a run step of an abstract parent: exactly its children",
            Box::new(|r| {
                r.edit(
                    "flotilla.yaml",
                    replace("--no-fund --no-audit", "--no-fund"),
                )
            }),
            NPM.to_vec(),
        ),
        (
            "openab-agent's lockfile: the artifact and the variant holding openab-agent",
            Box::new(|r| r.edit("openab-agent/Cargo.lock", append("# edited"))),
            vec!["hermes", "artifact"],
        ),
        (
            "agy-acp's sources: the artifact and the variant holding agy-acp",
            Box::new(|r| r.edit("agy-acp/src/main.rs", append("// edited"))),
            vec!["agy", "artifact"],
        ),
        (
            "the README: nothing",
            Box::new(|r| r.edit("README.md", append("edited"))),
            vec![],
        ),
        (
            "a spec comment that moves every line below it: nothing",
            Box::new(|r| {
                r.edit(
                    "flotilla.yaml",
                    replace("variants:\n", "variants:\n  # a\n  # comment\n"),
                )
            }),
            vec![],
        ),
        (
            "a variant moved to the top of the spec: nothing",
            Box::new(|r| {
                r.edit("flotilla.yaml", |text| {
                    let (head, bare) = text.split_once("  bare:\n").unwrap();
                    head.replacen("variants:\n", &format!("variants:\n  bare:\n{bare}"), 1)
                })
            }),
            vec![],
        ),
        (
            "a vendored tarball (bind-mounted): the variants that mount vendor/",
            Box::new(|r| r.edit("vendor/NEW", append("x"))),
            vec!["kiro", "cursor", "goose"],
        ),
        (
            "the gateway's config (copied by the shared parent): every variant, no compile",
            Box::new(|r| r.edit("config/config.toml", append("# edited"))),
            ALL.to_vec(),
        ),
        (
            "a top-level arg: everything",
            Box::new(|r| r.edit("flotilla.yaml", replace("REVISION: dev", "REVISION: next"))),
            everything.clone(),
        ),
        (
            "the .dockerignore: everything",
            Box::new(|r| r.edit(".dockerignore", append("docs"))),
            everything.clone(),
        ),
    ];
    for (case, edit, expected) in table {
        edit(&repo);
        let plan = repo.plan();
        assert_eq!(built(&plan), expected, "{case}");
        let skipped = plan["skipped"].as_array().unwrap();
        assert_eq!(skipped.len() + expected.len(), everything.len(), "{case}");
        assert!(
            skipped
                .iter()
                .all(|s| !s["reason"].as_str().unwrap().is_empty()),
            "{case}: each skipped target has a reason"
        );
        assert!(
            plan["note"]
                .as_str()
                .unwrap()
                .starts_with("Base image digests")
        );
        repo.reset();
    }
}

#[test]
fn what_git_cannot_tell_builds_everything_and_says_why() {
    let repo = Repo::new("affected-unknown");
    let llb_gen = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_llb-gen"))
            .arg("targets")
            .arg(repo.0.join("flotilla.yaml"))
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let plan: Value =
        serde_json::from_str(&llb_gen(&["--json", "--since", "no-such-ref"])).unwrap();
    assert_eq!(plan["variants"].as_array().unwrap().len(), 11);
    let reason = plan["built"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("the changed files cannot be listed (git diff: fatal: bad revision"),
        "{reason}"
    );
    assert!(reason.ends_with("; every target is built"), "{reason}");
    // --changed cannot know the spec's text before: a changed spec builds everything.
    let explained = llb_gen(&["--changed", "flotilla.yaml", "--explain", "bare"]);
    assert!(
        explained.starts_with("bare: built\n  - the spec changed, and without --since"),
        "{explained}"
    );
    let explained = llb_gen(&["--changed", "crates/core/src/lib.rs", "--explain", "hermes"]);
    assert_eq!(
        explained.lines().take(2).collect::<Vec<_>>(),
        [
            "hermes: built",
            "  - it holds `openab` of project `.`, whose sources changed (crates/core/src/lib.rs)"
        ]
    );
    let explained = llb_gen(&["--changed", "README.md", "--explain", "artifact"]);
    assert!(explained.starts_with("artifact: skipped\n  - the spec did not change, and no changed path is in a cargo project's sources\nnote: Base image digests cannot be seen from git"), "{explained}");
}
