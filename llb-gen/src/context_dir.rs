//! A build context on disk, read as `llb-gen llb` reads it where the frontend asks a daemon:
//! its `.dockerignore` and Cargo manifests become a plan's facts. The crate's only file reads,
//! kept here so that the CLI and the frontend's parity test build from one reading. What is
//! read follows [`crate::context`], as the frontend's reading through BuildKit does: a link is
//! a link (`lstat`), never followed, and only regular files are read, under a size limit.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::context::{self, DOCKERIGNORE, Entry, EntryKind, ManifestWalk};
use crate::dockerignore;
use crate::error::Error;
use crate::graph::BuildFacts;
use crate::plan::Plan;

/// A context directory whose `.dockerignore` and manifests are read once, however many plans
/// (`llb-gen check` builds every target) ask for them.
#[derive(Debug)]
pub struct ContextDir {
    dir: PathBuf,
    excludes: Option<Vec<String>>,
    manifests: Option<BTreeMap<String, String>>,
}

impl ContextDir {
    /// The context at `dir`, nothing read yet.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            excludes: None,
            manifests: None,
        }
    }

    /// The facts of `plan`: the context's `.dockerignore` patterns and, when the compile needs
    /// them, its manifests; what a daemon would tell is left at its default.
    pub fn facts(&mut self, plan: &Plan<'_>) -> Result<BuildFacts, Error> {
        let context_excludes = match &self.excludes {
            Some(excludes) => excludes.clone(),
            None => self.excludes.insert(read_dockerignore(&self.dir)?).clone(),
        };
        let manifests = match (plan.manifest_walk(&context_excludes), &self.manifests) {
            (None, _) => BTreeMap::new(),
            (Some(_), Some(manifests)) => manifests.clone(),
            (Some(walk), None) => self
                .manifests
                .insert(read_manifests(&self.dir, walk)?)
                .clone(),
        };
        Ok(BuildFacts {
            manifests,
            context_excludes,
            ..plan.known_facts()
        })
    }
}

/// The exclude patterns of the context's `.dockerignore`, when it has one.
fn read_dockerignore(dir: &Path) -> Result<Vec<String>, Error> {
    let path = dir.join(DOCKERIGNORE);
    let metadata = match std::fs::symlink_metadata(&path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(read_error(&path, error)),
    };
    let limit = context::MAX_DOCKERIGNORE_BYTES;
    let kind = entry_kind(&metadata.file_type());
    context::check_readable(DOCKERIGNORE, kind, metadata.len(), limit)?;
    let bytes = context::check_read(DOCKERIGNORE, read_head(&path, limit)?, limit)?;
    Ok(dockerignore::patterns(&String::from_utf8_lossy(&bytes)))
}

/// The Cargo manifests `walk` looks for in the context at `dir`, by context-relative path.
fn read_manifests(dir: &Path, mut walk: ManifestWalk) -> Result<BTreeMap<String, String>, Error> {
    while walk.next_round()?.is_some() {
        while let Some(relative) = walk.next_dir() {
            for path in walk.visit(&relative, list_dir(&dir.join(&relative))?)? {
                let bytes = read_head(&dir.join(&path), context::MAX_MANIFEST_BYTES)?;
                walk.add(path, bytes)?;
            }
        }
    }
    Ok(walk.finish())
}

/// The entries of directory `dir`, each as `lstat` sees it: a link is a link.
fn list_dir(dir: &Path) -> Result<Vec<Entry>, Error> {
    let unreadable = |error| read_error(dir, error);
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let metadata = entry.metadata().map_err(unreadable)?;
        entries.push(Entry {
            name: entry.file_name().to_string_lossy().into_owned(),
            kind: entry_kind(&metadata.file_type()),
            size: metadata.len(),
        });
    }
    Ok(entries)
}

fn entry_kind(file_type: &std::fs::FileType) -> EntryKind {
    if file_type.is_dir() {
        EntryKind::Dir
    } else if file_type.is_file() {
        EntryKind::File
    } else {
        EntryKind::Other
    }
}

/// At most `limit + 1` bytes of the file at `path`: a file over the limit is not read whole.
fn read_head(path: &Path, limit: u64) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|opened| opened.take(limit + 1).read_to_end(&mut bytes))
        .map_err(|error| read_error(path, error))?;
    Ok(bytes)
}

fn read_error(path: &Path, error: std::io::Error) -> Error {
    Error::Read {
        file: path.display().to_string(),
        message: error.to_string(),
    }
}
