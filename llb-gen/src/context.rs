//! What llb-gen reads of the build context, one rule for the CLI (a local directory) and the
//! frontend (BuildKit's ReadDir and ReadFile), so both plan from the same files: which files
//! are Cargo manifests and where they are looked for, and that only regular files are read,
//! each under a size limit. A link is never followed (BuildKit sends it as a link), so a link
//! out of the context, a FIFO or a huge sparse file cannot change, stall or swamp the plan.
//! The caller does the I/O: it lists the directories and reads the files a [`ManifestWalk`]
//! asks for.

use std::collections::BTreeMap;

use crate::error::Error;

/// The files the dependency layer is made of.
pub const MANIFEST_NAMES: [&str; 2] = ["Cargo.toml", "Cargo.lock"];
/// How many directory levels hold manifests: the frontend asks BuildKit for one pattern per
/// level (BuildKit 0.8 matches `**` like `*`, so `**/Cargo.toml` alone would miss
/// `crates/core/Cargo.toml`), and the CLI stops at the same depth.
pub const MANIFEST_DEPTH: usize = 8;
/// The largest Cargo manifest read: far above a real `Cargo.lock`.
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// The most bytes of manifests read in all, so that the plan's memory stays bounded.
pub const MAX_MANIFESTS_BYTES: u64 = 32 << 20;
/// The most manifests read: each costs a read, however small.
pub const MAX_MANIFESTS: usize = 10_000;
/// The `.dockerignore` file of the context root.
pub const DOCKERIGNORE: &str = ".dockerignore";
/// The largest `.dockerignore` read.
pub const MAX_DOCKERIGNORE_BYTES: u64 = 1 << 20;

/// What a directory entry is, as `lstat` and BuildKit's ReadDir report it (a link is a link).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory, searched for manifests.
    Dir,
    /// A regular file, the only kind that is read.
    File,
    /// A link, FIFO, socket or device: never followed nor read.
    Other,
}

/// One entry of a context directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its name in the directory.
    pub name: String,
    /// Its kind.
    pub kind: EntryKind,
    /// Its size in bytes.
    pub size: u64,
}

/// The include patterns that make BuildKit send the manifests: `Cargo.toml`, `*/Cargo.toml`,
/// `*/*/Cargo.toml`… and the same for `Cargo.lock`.
pub fn manifest_patterns() -> Vec<String> {
    (0..MANIFEST_DEPTH)
        .flat_map(|depth| MANIFEST_NAMES.map(|name| format!("{}{name}", "*/".repeat(depth))))
        .collect()
}

/// Checks that the file at context path `path`, of `kind` and `size`, may be read whole with
/// at most `limit` bytes.
pub fn check_readable(path: &str, kind: EntryKind, size: u64, limit: u64) -> Result<(), Error> {
    match kind {
        EntryKind::File if size <= limit => Ok(()),
        EntryKind::File => Err(too_large(path, limit)),
        EntryKind::Dir | EntryKind::Other => Err(Error::ContextFile {
            path: path.to_owned(),
            reason: "not a regular file; links and special files are not read".to_owned(),
        }),
    }
}

/// `bytes`, read from `path` with at most `limit + 1` bytes asked for, when they are not over
/// `limit` (a file can grow between its listing and its read).
pub fn check_read(path: &str, bytes: Vec<u8>, limit: u64) -> Result<Vec<u8>, Error> {
    if bytes.len() as u64 > limit {
        return Err(too_large(path, limit));
    }
    Ok(bytes)
}

fn too_large(path: &str, limit: u64) -> Error {
    Error::ContextFile {
        path: path.to_owned(),
        reason: format!(
            "larger than {} MiB, the size limit of the file; list it in .dockerignore if the build does not need it",
            limit >> 20
        ),
    }
}

/// A search of the context for Cargo manifests, driven by the caller's I/O:
///
/// ```text
/// let mut walk = ManifestWalk::new(&excludes);
/// while let Some(dir) = walk.next_dir() {
///     for path in walk.visit(&dir, list(&dir)?)? {
///         let bytes = read(&path, MAX_MANIFEST_BYTES + 1)?;
///         walk.add(path, bytes)?;
///     }
/// }
/// let manifests = walk.finish();
/// ```
///
/// It skips `target` and hidden directories and the paths `.dockerignore` names literally
/// (BuildKit applies its full pattern rules when the frontend reads the context).
#[derive(Debug)]
pub struct ManifestWalk<'a> {
    excludes: &'a [String],
    /// Directories still to list, context-relative (`""` for the root).
    pending: Vec<String>,
    /// Files asked for and not yet added.
    asked: usize,
    found: BTreeMap<String, String>,
    bytes: u64,
}

impl<'a> ManifestWalk<'a> {
    /// A search from the context root, leaving out the paths `excludes` names literally.
    pub fn new(excludes: &'a [String]) -> Self {
        Self {
            excludes,
            pending: vec![String::new()],
            asked: 0,
            found: BTreeMap::new(),
            bytes: 0,
        }
    }

    /// The next directory to list, context-relative (`""` for the root).
    pub fn next_dir(&mut self) -> Option<String> {
        self.pending.pop()
    }

    /// Takes the `entries` of `dir`: queues its subdirectories and returns the manifests to
    /// read (with at most [`MAX_MANIFEST_BYTES`] `+ 1` bytes, then passed to [`Self::add`]).
    pub fn visit(&mut self, dir: &str, entries: Vec<Entry>) -> Result<Vec<String>, Error> {
        let depth = if dir.is_empty() {
            0
        } else {
            dir.split('/').count()
        };
        let mut manifests = Vec::new();
        for entry in entries {
            // A name is one path component; anything else is no entry BuildKit or a directory
            // listing gives.
            if entry.name.is_empty() || entry.name.contains('/') || entry.name == ".." {
                continue;
            }
            let path = if dir.is_empty() {
                entry.name.clone()
            } else {
                format!("{dir}/{}", entry.name)
            };
            if self.excludes.contains(&path) {
                continue;
            }
            match entry.kind {
                EntryKind::Dir
                    if depth + 1 < MANIFEST_DEPTH
                        && entry.name != "target"
                        && !entry.name.starts_with('.') =>
                {
                    self.pending.push(path);
                }
                EntryKind::File if MANIFEST_NAMES.contains(&entry.name.as_str()) => {
                    check_readable(&path, entry.kind, entry.size, MAX_MANIFEST_BYTES)?;
                    self.asked += 1;
                    if self.found.len() + self.asked > MAX_MANIFESTS {
                        return Err(over_limit(&path, format!("{MAX_MANIFESTS} files")));
                    }
                    manifests.push(path);
                }
                _ => {}
            }
        }
        Ok(manifests)
    }

    /// Adds the `bytes` read from manifest `path`.
    pub fn add(&mut self, path: String, bytes: Vec<u8>) -> Result<(), Error> {
        let bytes = check_read(&path, bytes, MAX_MANIFEST_BYTES)?;
        self.bytes += bytes.len() as u64;
        if self.bytes > MAX_MANIFESTS_BYTES {
            return Err(over_limit(
                &path,
                format!("{} MiB", MAX_MANIFESTS_BYTES >> 20),
            ));
        }
        self.asked = self.asked.saturating_sub(1);
        self.found
            .insert(path, String::from_utf8_lossy(&bytes).into_owned());
        Ok(())
    }

    /// The manifests found, by context-relative path.
    pub fn finish(self) -> BTreeMap<String, String> {
        self.found
    }
}

fn over_limit(path: &str, limit: String) -> Error {
    Error::ContextFile {
        path: path.to_owned(),
        reason: format!(
            "the build context's Cargo manifests are over {limit} in all, the most that is read; list those the build does not need in .dockerignore"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, kind: EntryKind, size: u64) -> Entry {
        Entry {
            name: name.to_owned(),
            kind,
            size,
        }
    }

    /// Walks a context given as directory → entries, reading each manifest as its path.
    fn walk(
        tree: &BTreeMap<&str, Vec<Entry>>,
        excludes: &[String],
    ) -> Result<BTreeMap<String, String>, Error> {
        let mut walk = ManifestWalk::new(excludes);
        while let Some(dir) = walk.next_dir() {
            let entries = tree.get(dir.as_str()).cloned().unwrap_or_default();
            for path in walk.visit(&dir, entries)? {
                let bytes = path.clone().into_bytes();
                walk.add(path, bytes)?;
            }
        }
        Ok(walk.finish())
    }

    #[test]
    fn patterns_cover_each_level() {
        let patterns = manifest_patterns();
        assert_eq!(patterns.len(), 2 * MANIFEST_DEPTH);
        assert_eq!(
            &patterns[..4],
            ["Cargo.toml", "Cargo.lock", "*/Cargo.toml", "*/Cargo.lock"]
        );
        assert_eq!(patterns.last().unwrap(), "*/*/*/*/*/*/*/Cargo.lock");
    }

    #[test]
    fn only_regular_manifests_in_searched_directories_are_read() {
        use EntryKind::{Dir, File, Other};
        let tree = BTreeMap::from([
            (
                "",
                vec![
                    entry("Cargo.toml", File, 10),
                    entry("Cargo.lock", Other, 0),
                    entry("README.md", File, 10),
                    entry("crates", Dir, 0),
                    entry("ext", Other, 0),
                    entry("target", Dir, 0),
                    entry(".git", Dir, 0),
                    entry("ignored", Dir, 0),
                    entry("../up", Dir, 0),
                ],
            ),
            ("crates", vec![entry("Cargo.toml", File, 10)]),
            ("target", vec![entry("Cargo.toml", File, 10)]),
            (".git", vec![entry("Cargo.toml", File, 10)]),
            ("ignored", vec![entry("Cargo.toml", File, 10)]),
        ]);
        let found = walk(&tree, &["ignored".to_owned()]).unwrap();
        let paths: Vec<&str> = found.keys().map(String::as_str).collect();
        assert_eq!(paths, ["Cargo.toml", "crates/Cargo.toml"]);
        assert_eq!(found["crates/Cargo.toml"], "crates/Cargo.toml");
    }

    #[test]
    fn the_search_stops_at_the_depth_the_patterns_reach() {
        let dirs: Vec<String> = (1..=MANIFEST_DEPTH)
            .map(|depth| vec!["d"; depth].join("/"))
            .collect();
        let mut tree: BTreeMap<&str, Vec<Entry>> = dirs
            .iter()
            .map(|dir| {
                let entries = vec![
                    entry("Cargo.toml", EntryKind::File, 1),
                    entry("d", EntryKind::Dir, 0),
                ];
                (dir.as_str(), entries)
            })
            .collect();
        tree.insert("", vec![entry("d", EntryKind::Dir, 0)]);
        let found = walk(&tree, &[]).unwrap();
        let deepest = found.keys().map(|path| path.split('/').count()).max();
        assert_eq!(deepest, Some(MANIFEST_DEPTH));
        assert_eq!(found.len(), MANIFEST_DEPTH - 1);
    }

    #[test]
    fn a_manifest_over_the_limits_is_refused_by_name() {
        let big = BTreeMap::from([("", vec![entry("Cargo.lock", EntryKind::File, 2_500 << 20)])]);
        assert_eq!(
            walk(&big, &[]).unwrap_err().to_string(),
            "Cargo.lock in the build context: larger than 4 MiB, the size limit of the file; list it in .dockerignore if the build does not need it"
        );
        let grown = check_read("Cargo.lock", vec![0; 5 << 20], MAX_MANIFEST_BYTES);
        assert!(grown.is_err());
        let many: Vec<Entry> = (0..=MAX_MANIFESTS)
            .map(|i| entry(&i.to_string(), EntryKind::Dir, 0))
            .collect();
        let mut tree = BTreeMap::from([("", many)]);
        let names: Vec<String> = (0..=MAX_MANIFESTS).map(|i| i.to_string()).collect();
        for name in &names {
            tree.insert(name, vec![entry("Cargo.toml", EntryKind::File, 1)]);
        }
        let error = walk(&tree, &[]).unwrap_err().to_string();
        assert!(error.contains("over 10000 files in all"), "{error}");
    }

    #[test]
    fn only_a_small_regular_file_is_readable() {
        assert!(check_readable(DOCKERIGNORE, EntryKind::File, 10, MAX_DOCKERIGNORE_BYTES).is_ok());
        assert_eq!(
            check_readable(DOCKERIGNORE, EntryKind::Other, 0, MAX_DOCKERIGNORE_BYTES)
                .unwrap_err()
                .to_string(),
            ".dockerignore in the build context: not a regular file; links and special files are not read"
        );
    }
}
