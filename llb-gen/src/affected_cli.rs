//! `llb-gen targets --changed PATH…`, `--since GIT_REF` and `--explain TARGET`: a module of the
//! `llb-gen` binary, not of the library. It learns what changed (from git, as a subprocess, so
//! the library stays pure) and reads the context's manifests, then prints the affected plan.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Args;

use llb_gen::affected::{self, Change, OldSpec};
use llb_gen::context_dir::ContextDir;
use llb_gen::plan::{self, BuildRequest};
use llb_gen::platform::Platform;
use llb_gen::resolve::ArgValues;
use llb_gen::spec::{self, ARTIFACT_TARGET, Spec};
use llb_gen::syntax::context_path;
use llb_gen::target;

/// What changed, for a plan of only the targets it can affect.
#[derive(Args)]
#[group(skip)]
#[command(group(clap::ArgGroup::new("change").args(["changed", "since"])))]
pub struct ChangeArgs {
    /// Plan only the targets these changed paths can affect (paths in the build context; the
    /// spec's text before a change is unknown, so listing it builds every target).
    #[arg(long, num_args = 1.., value_name = "PATH", value_parser = changed_path, requires = "plan")]
    changed: Vec<String>,
    /// Plan only the targets the changes since this git revision can affect: the files of the
    /// working tree that differ from it or that git does not track (nor ignore), and the spec
    /// as it was there.
    #[arg(long, value_name = "GIT_REF", value_parser = git_revision, requires = "plan")]
    since: Option<String>,
    /// Print whether TARGET is built and why, instead of the plan.
    #[arg(
        long,
        value_name = "TARGET",
        requires = "change",
        conflicts_with = "json"
    )]
    explain: Option<String>,
    /// The build context the changed paths are in (default: the spec's directory).
    #[arg(long, value_name = "DIR", requires = "change")]
    context: Option<PathBuf>,
}

impl ChangeArgs {
    /// The output for a change (the JSON plan, or `--explain`'s words); `None` without one.
    pub fn output(
        &self,
        spec_path: &Path,
        spec: &Spec,
        platforms: &[Platform],
        image: &str,
    ) -> Result<Option<String>, String> {
        let context = self.context.clone().unwrap_or_else(|| spec_dir(spec_path));
        let change = match (&self.since, &self.changed[..]) {
            (Some(revision), _) => since(revision, spec_path, &context),
            (None, []) => return Ok(None),
            (None, paths) => Change {
                old_spec: match in_context(spec_path, &context) {
                    Some(spec) if paths.iter().any(|path| path == &spec) => OldSpec::Unknown(
                        "the spec changed, and without --since its text before is unknown".into(),
                    ),
                    _ => OldSpec::Unchanged,
                },
                paths: paths.to_vec(),
            },
        };
        let manifests = manifests(spec, &platforms[0], &context)?;
        let affected = affected::affected(spec, &manifests, platforms, &change);
        if let Some(target) = &self.explain {
            return affected
                .explain(target)
                .map(Some)
                .map_err(|e| e.to_string());
        }
        let platforms: Vec<String> = platforms.iter().map(Platform::to_string).collect();
        let plan = affected.plan(image, &platforms, &target::list(spec));
        let text = serde_json::to_string_pretty(&plan).map_err(|e| e.to_string())?;
        Ok(Some(format!("{text}\n")))
    }
}

/// The Cargo manifests of `context`, read as a compile of the artifact reads them.
fn manifests(
    spec: &Spec,
    platform: &Platform,
    context: &Path,
) -> Result<BTreeMap<String, String>, String> {
    let args = ArgValues::native(BTreeMap::new(), platform);
    let request = BuildRequest::new(Some(ARTIFACT_TARGET.to_owned()), args);
    let request = request.map_err(|e| e.to_string())?;
    let plan = plan::plan(spec, &request).map_err(|e| e.to_string())?;
    let facts = ContextDir::new(context)
        .facts(&plan)
        .map_err(|e| e.to_string())?;
    Ok(facts.manifests)
}

/// The directory of the spec file: the default context, and where git finds its old text.
pub(crate) fn spec_dir(spec: &Path) -> PathBuf {
    match spec.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The spec's path in the context, when it is inside it.
fn in_context(spec: &Path, context: &Path) -> Option<String> {
    let spec = std::fs::canonicalize(spec).ok()?;
    let relative = spec
        .strip_prefix(std::fs::canonicalize(context).ok()?)
        .ok()?;
    context_path(&relative.to_string_lossy()).ok()
}

/// What changed since `revision`, from git. What git cannot tell (no repository, an unknown
/// revision, a spec that was not there) leaves the change unanalysed: every target is built.
fn since(revision: &str, spec_path: &Path, context: &Path) -> Change {
    let unknown = |why: String| Change {
        paths: Vec::new(),
        old_spec: OldSpec::Unknown(why),
    };
    let diff = [
        "diff",
        "--name-only",
        "-z",
        "--relative",
        "--no-renames",
        revision,
        "--",
    ];
    // Files git does not track yet are sent in the context too (those it ignores are left out).
    let untracked = ["ls-files", "-z", "--others", "--exclude-standard"];
    let listed = match git(context, &diff).and_then(|mut listed| {
        listed.extend(git(context, &untracked)?);
        Ok(listed)
    }) {
        Ok(listed) => listed,
        Err(why) => return unknown(format!("the changed files cannot be listed ({why})")),
    };
    let Ok(listed) = String::from_utf8(listed) else {
        return unknown("git lists a changed path that is not UTF-8".to_owned());
    };
    let paths = listed
        .split('\0')
        .filter(|path| !path.is_empty())
        .map(|path| context_path(path).unwrap_or_default())
        .collect();
    let name = spec_path.file_name().unwrap_or_default().to_string_lossy();
    let old_spec = git(
        &spec_dir(spec_path),
        &["show", &format!("{revision}:./{name}")],
    )
    .map_err(|why| format!("the spec at {revision} cannot be read ({why})"))
    .and_then(|bytes| {
        spec::decode(&name, bytes)
            .map_err(|error| format!("the spec at {revision} cannot be read ({error})"))
    });
    Change {
        paths,
        old_spec: old_spec.map_or_else(OldSpec::Unknown, OldSpec::Text),
    }
}

/// `git ARGS` in `dir`: its output, or the first line of what it says went wrong.
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|error| format!("cannot run git: {error}"))?;
    if output.status.success() {
        return Ok(output.stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(format!(
        "git {}: {}",
        args[0],
        stderr.lines().next().unwrap_or("failed").trim()
    ))
}

/// A `--changed` path, normalized as a `copy` source is (`.` is the whole context).
fn changed_path(text: &str) -> Result<String, String> {
    context_path(text).map_err(|reason| format!("the path {reason}"))
}

/// A `--since` revision; one that git would read as an option is refused.
fn git_revision(text: &str) -> Result<String, String> {
    match text {
        "" => Err("the revision is empty".to_owned()),
        text if text.starts_with('-') => Err(format!("`{text}` is not a git revision")),
        text => Ok(text.to_owned()),
    }
}
