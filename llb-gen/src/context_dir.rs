//! A build context on disk, read as `llb-gen llb` reads it where the frontend asks a daemon:
//! its `.dockerignore` and Cargo manifests become a plan's facts. The crate's only file reads,
//! kept here so that the CLI and the frontend's parity test build from one reading.

use std::collections::BTreeMap;
use std::path::Path;

use crate::dockerignore;
use crate::error::Error;
use crate::graph::BuildFacts;
use crate::plan::Plan;

/// The facts of `plan` with the context at `dir`: its `.dockerignore` patterns and, when the
/// compile needs them, its manifests; what a daemon would tell is left at its default.
pub fn facts(plan: &Plan<'_>, dir: &Path) -> Result<BuildFacts, Error> {
    let context_excludes = std::fs::read_to_string(dir.join(".dockerignore"))
        .map(|text| dockerignore::patterns(&text))
        .unwrap_or_default();
    let manifests = if plan.needs_manifests() {
        read_manifests(dir, &context_excludes)?
    } else {
        BTreeMap::new()
    };
    Ok(BuildFacts {
        manifests,
        context_excludes,
        ..plan.known_facts()
    })
}

/// Every `Cargo.toml` and `Cargo.lock` under `dir`, by path relative to `dir`. Skips `target`,
/// hidden directories and directories `.dockerignore` names literally (BuildKit applies its
/// full pattern rules when the frontend reads the context).
fn read_manifests(dir: &Path, excludes: &[String]) -> Result<BTreeMap<String, String>, Error> {
    let unreadable = |path: &Path, error: std::io::Error| Error::Read {
        file: path.display().to_string(),
        message: error.to_string(),
    };
    let mut manifests = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|e| unreadable(&current, e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') && !excludes.contains(&relative) {
                    pending.push(path);
                }
            } else if name == "Cargo.toml" || name == "Cargo.lock" {
                let text = std::fs::read_to_string(&path).map_err(|e| unreadable(&path, e))?;
                manifests.insert(relative, text);
            }
        }
    }
    Ok(manifests)
}
