//! What llb-gen reads of the build context, one rule for the CLI (a local directory) and the
//! frontend (BuildKit's ReadDir and ReadFile), so both plan from the same files: which files
//! are Cargo manifests and where they are looked for, and that only regular files are read,
//! each under a size limit. A link is never followed (BuildKit sends it as a link), so a link
//! out of the context, a FIFO or a huge sparse file cannot change, stall or swamp the plan.
//! The caller does the I/O: it lists the directories and reads the files a [`ManifestWalk`]
//! asks for.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Error;
use crate::glob::{self, GLOB_BUDGET};
use crate::stubs;

/// The files the dependency layer is made of.
pub const MANIFEST_NAMES: [&str; 2] = ["Cargo.toml", "Cargo.lock"];
/// How many directory levels below its fixed part a `**` in a workspace's `members` reaches:
/// the scan asks BuildKit for one pattern per level (BuildKit 0.8 matches `**` like `*`).
pub const MANIFEST_DEPTH: usize = 8;
/// The most rounds a scan takes: each follows path dependencies one manifest further.
pub const MAX_SCAN_ROUNDS: usize = 16;
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

/// A search of the context for the Cargo manifests the spec's cargo projects read, driven by
/// the caller's I/O, in rounds: each round asks for the manifests that those found so far name
/// (the projects' root manifests and lockfiles first, then their members and path
/// dependencies), as include patterns, until a round names nothing new. So only those files
/// are read or sent: an old client's file walker sends every file an include pattern matches
/// a prefix of, and a pattern such as `*/*/Cargo.toml` would have it send the whole context.
///
/// ```text
/// let mut walk = ManifestWalk::new(projects, excludes);
/// while let Some(patterns) = walk.next_round()? {
///     // (the frontend: a context source with these include patterns)
///     while let Some(dir) = walk.next_dir() {
///         for path in walk.visit(&dir, list(&dir)?)? {
///             let bytes = read(&path, MAX_MANIFEST_BYTES + 1)?;
///             walk.add(path, bytes)?;
///         }
///     }
/// }
/// let manifests = walk.finish();
/// ```
///
/// It lists only directories a pattern can match below, reads only regular files a pattern
/// matches, and skips the paths `.dockerignore` names literally (BuildKit applies its full
/// pattern rules when the frontend reads the context).
#[derive(Debug)]
pub struct ManifestWalk {
    /// The cargo projects' paths, as the spec writes them (`.` for the context root).
    projects: Vec<String>,
    excludes: Vec<String>,
    /// Every pattern asked for so far.
    asked: BTreeSet<String>,
    /// This round's patterns, each as its components.
    round: Vec<Vec<String>>,
    rounds: usize,
    /// Directories still to list this round, context-relative (`""` for the root).
    pending: Vec<String>,
    /// Files asked for and not yet added.
    reading: usize,
    found: BTreeMap<String, String>,
    bytes: u64,
}

impl ManifestWalk {
    /// A search for the manifests of the cargo projects at `projects`, leaving out the paths
    /// `excludes` names literally.
    pub fn new(projects: Vec<String>, excludes: Vec<String>) -> Self {
        Self {
            projects,
            excludes,
            asked: BTreeSet::new(),
            round: Vec::new(),
            rounds: 0,
            pending: Vec::new(),
            reading: 0,
            found: BTreeMap::new(),
            bytes: 0,
        }
    }

    /// Starts the next round and returns its include patterns: the manifests those found so
    /// far name that no round asked for; `None` when there are none, and the search is done.
    pub fn next_round(&mut self) -> Result<Option<Vec<String>>, Error> {
        let mut wanted = BTreeSet::new();
        for project in &self.projects {
            wanted.extend(stubs::manifest_patterns(&self.found, project)?);
        }
        let patterns: Vec<String> = wanted
            .iter()
            .flat_map(|pattern| levels(pattern))
            .filter(|pattern| !self.asked.contains(pattern))
            .collect();
        if patterns.is_empty() {
            return Ok(None);
        }
        self.rounds += 1;
        if self.rounds > MAX_SCAN_ROUNDS {
            return Err(Error::ContextFile {
                path: patterns[0].clone(),
                reason: format!(
                    "the Cargo manifests name each other over {MAX_SCAN_ROUNDS} levels deep through path dependencies; list the packages in `workspace.members`"
                ),
            });
        }
        self.asked.extend(patterns.iter().cloned());
        self.round = patterns
            .iter()
            .map(|pattern| glob::components(pattern).map(str::to_owned).collect())
            .collect();
        self.pending = vec![String::new()];
        Ok(Some(patterns))
    }

    /// The next directory of this round to list, context-relative (`""` for the root).
    pub fn next_dir(&mut self) -> Option<String> {
        self.pending.pop()
    }

    /// Takes the `entries` of `dir`: queues the subdirectories a pattern can match below and
    /// returns the manifests a pattern matches, to read (with at most [`MAX_MANIFEST_BYTES`]
    /// `+ 1` bytes, then passed to [`Self::add`]).
    pub fn visit(&mut self, dir: &str, entries: Vec<Entry>) -> Result<Vec<String>, Error> {
        let mut manifests = Vec::new();
        let mut budget = GLOB_BUDGET;
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
            if self.excludes.contains(&path) || self.found.contains_key(&path) {
                continue;
            }
            let parts: Vec<&str> = path.split('/').collect();
            let matched = |test: fn(&[&str], &[&str], &mut u64) -> Option<bool>,
                           budget: &mut u64| {
                for pattern in &self.round {
                    let pattern: Vec<&str> = pattern.iter().map(String::as_str).collect();
                    if test(&pattern, &parts, budget)? {
                        return Some(true);
                    }
                }
                Some(false)
            };
            let matches = match entry.kind {
                EntryKind::Dir => glob::glob_may_match_below,
                EntryKind::File if MANIFEST_NAMES.contains(&entry.name.as_str()) => {
                    glob::glob_matches
                }
                _ => continue,
            };
            match matched(matches, &mut budget) {
                None => return Err(over_budget(&path)),
                Some(false) => {}
                Some(true) if entry.kind == EntryKind::Dir => self.pending.push(path),
                Some(true) => {
                    check_readable(&path, entry.kind, entry.size, MAX_MANIFEST_BYTES)?;
                    self.reading += 1;
                    if self.found.len() + self.reading > MAX_MANIFESTS {
                        return Err(over_limit(&path, format!("{MAX_MANIFESTS} files")));
                    }
                    manifests.push(path);
                }
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
        self.reading = self.reading.saturating_sub(1);
        // Found, it is asked for no more, whichever pattern found it.
        self.asked.insert(glob::literal(&path));
        self.found
            .insert(path, String::from_utf8_lossy(&bytes).into_owned());
        Ok(())
    }

    /// The manifests found, by context-relative path.
    pub fn finish(self) -> BTreeMap<String, String> {
        self.found
    }
}

/// `pattern`, or for one with `**` the patterns of each level it reaches, to
/// [`MANIFEST_DEPTH`] below its fixed part: BuildKit 0.8 matches `**` like `*`.
fn levels(pattern: &str) -> Vec<String> {
    let parts: Vec<&str> = glob::components(pattern).collect();
    let Some(first) = parts.iter().position(|part| *part == "**") else {
        return vec![pattern.to_owned()];
    };
    let name = parts.last().copied().unwrap_or_default();
    (0..=MANIFEST_DEPTH)
        .map(|depth| {
            let mut level: Vec<&str> = parts[..first].to_vec();
            level.extend(std::iter::repeat_n("*", depth));
            level.push(name);
            level.join("/")
        })
        .collect()
}

fn over_budget(path: &str) -> Error {
    Error::ContextFile {
        path: path.to_owned(),
        reason: "the `workspace.members` patterns take too long to match; list the members with fewer or simpler patterns".to_owned(),
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

    /// A context given as directory → entries, each manifest's content its path unless
    /// `contents` gives one.
    struct Tree<'t> {
        dirs: BTreeMap<&'t str, Vec<Entry>>,
        contents: BTreeMap<&'t str, &'t str>,
    }

    /// What a scan of `tree` for `projects` found, the directories it listed and its rounds'
    /// patterns.
    type Scan = (BTreeMap<String, String>, Vec<String>, Vec<Vec<String>>);

    fn scan(tree: &Tree<'_>, projects: &[&str], excludes: &[&str]) -> Result<Scan, Error> {
        let owned = |items: &[&str]| items.iter().map(|item| (*item).to_owned()).collect();
        let mut walk = ManifestWalk::new(owned(projects), owned(excludes));
        let (mut listed, mut rounds) = (Vec::new(), Vec::new());
        while let Some(patterns) = walk.next_round()? {
            rounds.push(patterns);
            while let Some(dir) = walk.next_dir() {
                let entries = tree.dirs.get(dir.as_str()).cloned().unwrap_or_default();
                listed.push(dir.clone());
                for path in walk.visit(&dir, entries)? {
                    let content = tree.contents.get(path.as_str()).copied();
                    let bytes = content.unwrap_or(&path).as_bytes().to_vec();
                    walk.add(path, bytes)?;
                }
            }
        }
        Ok((walk.finish(), listed, rounds))
    }

    fn dir(name: &str) -> Entry {
        entry(name, EntryKind::Dir, 0)
    }

    fn file(name: &str) -> Entry {
        entry(name, EntryKind::File, 10)
    }

    /// A workspace whose members are `crates/*`, with a path dependency `shared`, beside a
    /// second project `tools` and much that is no project's.
    fn workspace() -> Tree<'static> {
        Tree {
            dirs: BTreeMap::from([
                (
                    "",
                    vec![
                        file("Cargo.toml"),
                        file("Cargo.lock"),
                        file("README.md"),
                        dir("crates"),
                        dir("shared"),
                        dir("tools"),
                        dir("target"),
                        dir("fixtures"),
                        dir("ignored"),
                    ],
                ),
                ("crates", vec![dir("a"), dir("b"), file("big.bin")]),
                ("crates/a", vec![file("Cargo.toml"), dir("src")]),
                (
                    "crates/b",
                    vec![file("Cargo.toml"), entry("Cargo.lock", EntryKind::Other, 0)],
                ),
                ("shared", vec![file("Cargo.toml")]),
                ("tools", vec![file("Cargo.toml"), file("Cargo.lock")]),
                ("target", vec![file("Cargo.toml")]),
                ("fixtures", vec![file("Cargo.toml")]),
            ]),
            contents: BTreeMap::from([
                (
                    "Cargo.toml",
                    "[workspace]\nmembers = [\"crates/*\"]\n[workspace.dependencies]\nshared = { path = \"shared\" }\n",
                ),
                ("crates/a/Cargo.toml", "[package]\nname = \"a\"\n"),
                ("crates/b/Cargo.toml", "[package]\nname = \"b\"\n"),
                ("shared/Cargo.toml", "[package]\nname = \"shared\"\n"),
                ("tools/Cargo.toml", "[package]\nname = \"tools\"\n"),
                ("fixtures/Cargo.toml", "not toml ["),
            ]),
        }
    }

    #[test]
    fn only_the_projects_manifests_are_asked_for_listed_or_read() {
        let (found, listed, rounds) = scan(&workspace(), &[".", "tools"], &["ignored"]).unwrap();
        let paths: Vec<&str> = found.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "Cargo.lock",
                "Cargo.toml",
                "crates/a/Cargo.toml",
                "crates/b/Cargo.toml",
                "shared/Cargo.toml",
                "tools/Cargo.lock",
                "tools/Cargo.toml"
            ]
        );
        assert_eq!(
            rounds,
            [
                vec![
                    "Cargo.lock",
                    "Cargo.toml",
                    "tools/Cargo.lock",
                    "tools/Cargo.toml"
                ],
                vec!["crates/*/Cargo.toml", "shared/Cargo.toml"],
            ]
        );
        // Neither `target/`, the fixture nor a source directory is listed.
        assert_eq!(
            listed,
            ["", "tools", "", "shared", "crates", "crates/b", "crates/a"]
        );
    }

    #[test]
    fn a_project_without_manifests_takes_one_round() {
        let (found, _, rounds) = scan(&workspace(), &["absent"], &[]).unwrap();
        assert!(found.is_empty());
        assert_eq!(rounds, [vec!["absent/Cargo.lock", "absent/Cargo.toml"]]);
    }

    #[test]
    fn globs_in_paths_match_themselves_and_double_stars_reach_each_level() {
        let tree = Tree {
            dirs: BTreeMap::from([
                ("", vec![dir("a*")]),
                ("a*", vec![file("Cargo.toml"), dir("x")]),
                ("a*/x", vec![dir("y")]),
                ("a*/x/y", vec![file("Cargo.toml")]),
            ]),
            contents: BTreeMap::from([
                ("a*/Cargo.toml", "[workspace]\nmembers = [\"**\"]\n"),
                ("a*/x/y/Cargo.toml", "[package]\nname = \"y\"\n"),
            ]),
        };
        let (found, _, rounds) = scan(&tree, &["a*"], &[]).unwrap();
        assert!(found.contains_key("a*/x/y/Cargo.toml"), "{found:?}");
        assert_eq!(rounds[0], ["a[*]/Cargo.lock", "a[*]/Cargo.toml"]);
        assert_eq!(rounds[1].len(), MANIFEST_DEPTH);
        assert_eq!(rounds[1][0], "a[*]/*/Cargo.toml");
        assert_eq!(rounds[1][7], "a[*]/*/*/*/*/*/*/*/*/Cargo.toml");
    }

    #[test]
    fn path_dependencies_nest_only_so_deep() {
        let names: Vec<String> = (0..=MAX_SCAN_ROUNDS).map(|i| format!("p{i}")).collect();
        let manifests: Vec<String> = (0..names.len())
            .map(|i| {
                format!(
                    "[package]\nname = \"p{i}\"\n[dependencies]\nnext = {{ path = \"../p{}\" }}\n",
                    i + 1
                )
            })
            .collect();
        let paths: Vec<String> = names
            .iter()
            .map(|name| format!("{name}/Cargo.toml"))
            .collect();
        let mut root: Vec<Entry> = names.iter().map(|name| dir(name)).collect();
        root.push(file("Cargo.toml"));
        let mut tree = Tree {
            dirs: BTreeMap::from([("", root)]),
            contents: BTreeMap::from([(
                "Cargo.toml",
                "[package]\nname = \"root\"\n[dependencies]\np0 = { path = \"p0\" }\n",
            )]),
        };
        for ((name, path), manifest) in names.iter().zip(&paths).zip(&manifests) {
            tree.dirs.insert(name, vec![file("Cargo.toml")]);
            tree.contents.insert(path, manifest);
        }
        let error = scan(&tree, &["."], &[]).unwrap_err().to_string();
        assert!(error.contains("over 16 levels deep"), "{error}");
    }

    #[test]
    fn a_broken_manifest_the_project_reads_is_named() {
        let mut tree = workspace();
        tree.contents.insert("shared/Cargo.toml", "[package");
        let error = scan(&tree, &["."], &[]).unwrap_err().to_string();
        assert!(error.starts_with("shared/Cargo.toml:1:"), "{error}");
    }

    #[test]
    fn a_manifest_over_the_limits_is_refused_by_name() {
        let big = Tree {
            dirs: BTreeMap::from([("", vec![entry("Cargo.lock", EntryKind::File, 2_500 << 20)])]),
            contents: BTreeMap::new(),
        };
        assert_eq!(
            scan(&big, &["."], &[]).unwrap_err().to_string(),
            "Cargo.lock in the build context: larger than 4 MiB, the size limit of the file; list it in .dockerignore if the build does not need it"
        );
        let grown = check_read("Cargo.lock", vec![0; 5 << 20], MAX_MANIFEST_BYTES);
        assert!(grown.is_err());
        let names: Vec<String> = (0..=MAX_MANIFESTS).map(|i| i.to_string()).collect();
        let mut root: Vec<Entry> = names.iter().map(|name| dir(name)).collect();
        root.push(file("Cargo.toml"));
        let mut many = Tree {
            dirs: BTreeMap::from([("", root)]),
            contents: BTreeMap::from([("Cargo.toml", "[workspace]\nmembers = [\"*\"]\n")]),
        };
        for name in &names {
            many.dirs.insert(name, vec![file("Cargo.toml")]);
        }
        let error = scan(&many, &["."], &[]).unwrap_err().to_string();
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
