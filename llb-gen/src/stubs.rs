//! What cargo reads for one cargo project of the spec, from its manifests alone: the stub
//! sources of its dependency layer (the files cargo needs to find every target, so dependencies
//! build before any real source is copied and the layer's cache key depends only on the
//! manifests and the lockfile), and the context paths its build reads ([`project_sources`]).
//!
//! Only the manifests cargo reads for the project count, found as cargo finds them: its root
//! manifest, the workspace members it lists and the path dependencies inside the project. Any
//! other `Cargo.toml` under it (a test fixture, a nested workspace) is no part of the build,
//! however broken. Every path a manifest names is confined to the project: the stubs are written
//! there and nowhere else.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Bound, Range};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::Position;
use crate::error::Error;
use crate::glob::{self, GLOB_BUDGET, components, glob_matches};
use crate::lockfile::{LockedPackage, locked_packages};
use crate::spec::ProjectRef;
use crate::syntax;

/// A file to create in the dependency layer, relative to the build context.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stub {
    /// Path relative to the context root.
    pub path: String,
    /// Content: empty for a library, an empty `main` for everything else.
    pub content: &'static str,
}

const LIB_STUB: &str = "";
const MAIN_STUB: &str = "fn main() {}\n";
/// The target sections of a manifest and where cargo looks for a target of each by default.
const TARGET_SECTIONS: [(&str, &str); 4] = [
    ("bin", "src/bin"),
    ("example", "examples"),
    ("test", "tests"),
    ("bench", "benches"),
];
/// The dependency tables whose `path` entries are packages of the project too.
const DEPENDENCY_TABLES: [&str; 5] = [
    "dependencies",
    "dev-dependencies",
    "dev_dependencies",
    "build-dependencies",
    "build_dependencies",
];
/// What a package's build reads in its directory by cargo's conventions, when the directory
/// holds more than the package: its sources, build script and auto-discovered targets.
const PACKAGE_PATHS: [&str; 6] = [
    "Cargo.toml",
    "src",
    "build.rs",
    "benches",
    "examples",
    "tests",
];
/// What cargo and rustup read in the project's directory and each directory above it.
const CONFIG_PATHS: [&str; 3] = [".cargo", "rust-toolchain", "rust-toolchain.toml"];

/// The stubs of one project and the binary targets they declare.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StubPlan {
    /// Files to create, sorted, without duplicates.
    pub files: Vec<Stub>,
    /// Binary target names the stubbed packages have (for `--bin` in the dependency build).
    pub bins: BTreeSet<String>,
    /// The project's own package names: they tell its target dir from another repository's.
    pub packages: BTreeSet<String>,
    /// The manifests the dependency layer is made of, context-relative and sorted: the root
    /// manifest, its lockfile and each member's manifest. None when the project has no root
    /// manifest in the context.
    pub manifests: Vec<String>,
    /// The registry and git packages its lockfile pins: what its dependency layer compiles.
    pub locked: BTreeSet<LockedPackage>,
    /// Whether the project's `Cargo.lock` is in the context: only then can `locked` tell
    /// everything a `--locked` fetch gets.
    pub has_lockfile: bool,
}

/// Every stub file the packages of the project at `project` (`.` for the context root) need,
/// from `manifests` (context-relative path → content).
pub fn stubs(manifests: &BTreeMap<String, String>, project: &str) -> Result<StubPlan, Error> {
    let project = Project::new(manifests, project);
    let Some(walk) = project.walk()? else {
        return Ok(StubPlan::default());
    };
    let mut plan = StubPlan::default();
    let mut read = BTreeSet::from([walk.root]);
    for package in walk.packages {
        read.insert(package.manifest);
        plan.packages.extend(package.name);
        plan.bins.extend(package.bins);
        plan.files.extend(package.stubs);
    }
    let lock = project.lockfile();
    if let Some(text) = manifests.get(&lock) {
        plan.locked = locked_packages(text);
        plan.has_lockfile = true;
        read.insert(lock);
    }
    plan.files.sort();
    plan.files.dedup_by(|a, b| a.path == b.path);
    plan.manifests = read.into_iter().collect();
    Ok(plan)
}

/// The manifests cargo would read for the project at `project` (`.` for the context root),
/// as far as `manifests` (context-relative path → content) tells: context paths and member
/// globs of `Cargo.toml`s, and the root's `Cargo.lock`. The manifest scan asks the context for
/// these until they name nothing new, so only the project's own manifests are read.
pub fn manifest_patterns(
    manifests: &BTreeMap<String, String>,
    project: &str,
) -> Result<BTreeSet<String>, Error> {
    let project = Project::new(manifests, project);
    let mut patterns = BTreeSet::from([
        glob::literal(&format!("{}Cargo.toml", project.root)),
        glob::literal(&project.lockfile()),
    ]);
    if let Some(walk) = project.walk()? {
        patterns.extend(walk.wanted.iter().map(|dir| format!("{dir}Cargo.toml")));
    }
    Ok(patterns)
}

/// The context paths the build of `project` reads, from `manifests` (context-relative path →
/// content): what a compile is sent, and what a changed path must be in to affect the project.
///
/// - the project's root `Cargo.toml` and `Cargo.lock`, and `.cargo/`, `rust-toolchain` and
///   `rust-toolchain.toml` in its directory and each one above it, up to the context root (cargo
///   and rustup look for them there);
/// - for each package cargo builds for it (its root package, workspace members and path
///   dependencies inside it), the package's whole directory; or, when that directory is the
///   project's own or holds another `Cargo.toml` of the context, only its `Cargo.toml`, `src/`,
///   `build.rs`, `benches/`, `examples/` and `tests/`, plus each target and build script the
///   manifest places elsewhere: its directory, or the file alone when that directory holds the
///   package's;
/// - the project's `sources:` entries from the spec (files or directories, context paths).
///
/// A project without a root manifest in `manifests` has no packages (and cargo fails on it).
pub fn project_sources(
    manifests: &BTreeMap<String, String>,
    project: ProjectRef<'_>,
) -> Result<ProjectSources, Error> {
    let walker = Project::new(manifests, project.path);
    let mut paths = vec![format!("{}Cargo.toml", walker.root), walker.lockfile()];
    let mut dir = walker.root.as_str();
    loop {
        paths.extend(CONFIG_PATHS.map(|name| format!("{dir}{name}")));
        let Some(parent) = dir.strip_suffix('/') else {
            break;
        };
        dir = parent.rfind('/').map_or("", |slash| &parent[..=slash]);
    }
    for package in walker.walk()?.iter().flat_map(|walk| &walk.packages) {
        walker.package_sources(package, &mut paths);
    }
    for source in project.sources {
        let path = syntax::context_path(&source.value).map_err(|reason| Error::ContextFile {
            path: source.value.clone(),
            reason: format!("a `sources` entry that {reason}"),
        })?;
        paths.push(path);
    }
    Ok(ProjectSources::new(paths))
}

/// The context paths a project's build reads: files, and directories with all they hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectSources(Vec<String>);

impl ProjectSources {
    /// `paths`, sorted, each once, without those another one holds.
    fn new(paths: Vec<String>) -> Self {
        let sorted: BTreeSet<String> = paths.into_iter().collect();
        let mut kept: BTreeSet<&str> = BTreeSet::new();
        for path in &sorted {
            // Every path a shorter one holds comes after it, so its holder is already kept.
            let held = kept.contains("")
                || path
                    .match_indices('/')
                    .any(|(slash, _)| kept.contains(&path[..slash]));
            if !held {
                kept.insert(path);
            }
        }
        Self(kept.into_iter().map(str::to_owned).collect())
    }

    /// The paths, context-relative and sorted; `""` is the whole context.
    pub fn paths(&self) -> &[String] {
        &self.0
    }

    /// Whether a change at context path `path` (normalized, as [`syntax::context_path`] writes
    /// it; a file, or a directory with all it holds) changes what the project's build reads.
    pub fn touched_by(&self, path: &str) -> bool {
        let holds = |dir: &str, path: &str| {
            dir.is_empty()
                || path
                    .strip_prefix(dir)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        self.0
            .iter()
            .any(|source| holds(source, path) || holds(path, source))
    }
}

/// What cargo reads of a project's manifests.
struct Walk {
    /// The root manifest's context path.
    root: String,
    /// Each package (or virtual manifest) it builds, as found.
    packages: Vec<Package>,
    /// The directories whose `Cargo.toml` it looked for, found or not, as globs that match
    /// them alone, and its members' globs; each with a trailing `/`.
    wanted: BTreeSet<String>,
}

/// A manifest cargo reads for the project, with what the dependency layer and the sources
/// need of it.
struct Package {
    /// Its directory, context-relative with a trailing `/` (`""` for the context root).
    dir: String,
    /// Its context path.
    manifest: String,
    /// Its `[package] name`; `None` for a virtual manifest.
    name: Option<String>,
    /// Its binary targets' names, the implicit one named as the package included.
    bins: Vec<String>,
    /// A stub for each of its targets and its build script.
    stubs: Vec<Stub>,
}

/// One cargo project of the spec and the context's manifests.
struct Project<'m> {
    manifests: &'m BTreeMap<String, String>,
    /// Its path as the spec writes it, for errors.
    name: &'m str,
    /// Its directory, context-relative with a trailing `/` (`""` for the context root).
    root: String,
}

/// A parsed manifest: its context path, text and TOML with spans.
struct Manifest<'m> {
    path: String,
    text: &'m str,
    /// Its directory, context-relative with a trailing `/` (`""` for the context root).
    dir: String,
    table: DeTable<'m>,
}

impl<'m> Project<'m> {
    /// The project at `path` (`.` for the context root) among `manifests`.
    fn new(manifests: &'m BTreeMap<String, String>, path: &'m str) -> Self {
        Self {
            manifests,
            name: path,
            root: if path == "." {
                String::new()
            } else {
                format!("{}/", path.trim_end_matches('/'))
            },
        }
    }

    /// The context path of the project's lockfile.
    fn lockfile(&self) -> String {
        format!("{}Cargo.lock", self.root)
    }

    /// The manifests cargo reads for the project, found as cargo finds them; `None` when the
    /// context has no root manifest for it.
    fn walk(&self) -> Result<Option<Walk>, Error> {
        let Some(root) = self.manifest(self.root.clone())? else {
            return Ok(None);
        };
        let mut pending = self.path_dependencies(&root, &root.table);
        if root.table.contains_key("package") {
            pending.push(self.root.clone());
        }
        if let Some(workspace) = root.table("workspace") {
            pending.extend(self.members(&root, workspace)?);
            pending.extend(self.path_dependencies(&root, workspace));
        }
        let mut seen = BTreeSet::new();
        let mut packages = Vec::new();
        while let Some(dir) = pending.pop() {
            if !seen.insert(dir.clone()) {
                continue;
            }
            let Some(member) = self.manifest(dir)? else {
                continue;
            };
            pending.extend(self.path_dependencies(&member, &member.table));
            packages.push(self.package(&member)?);
        }
        let mut wanted: BTreeSet<String> = seen.iter().map(|dir| glob::literal(dir)).collect();
        if let Some(workspace) = root.table("workspace") {
            wanted.extend(self.member_patterns(workspace));
        }
        Ok(Some(Walk {
            root: root.path,
            packages,
            wanted,
        }))
    }

    /// The manifest of the package in directory `dir` (with a trailing `/`, or `""`), parsed;
    /// `None` when the context has none there.
    fn manifest(&self, dir: String) -> Result<Option<Manifest<'m>>, Error> {
        let path = format!("{dir}Cargo.toml");
        let Some(text) = self.manifests.get(&path) else {
            return Ok(None);
        };
        match DeTable::parse(text) {
            Ok(table) => Ok(Some(Manifest {
                path,
                text,
                dir,
                table: table.into_inner(),
            })),
            Err(error) => {
                let offset = error.span().map_or(0, |span| span.start);
                Err(Error::Manifest {
                    position: Position::at_offset(text, offset),
                    path,
                    message: format!("invalid manifest: {}", error.message().trim_end()),
                })
            }
        }
    }

    /// The directories of the members `workspace` lists (globs, less `exclude`) that hold a
    /// manifest in the project.
    fn members(&self, root: &Manifest<'_>, workspace: &DeTable<'_>) -> Result<Vec<String>, Error> {
        let rule = MemberRule::new(strings(workspace, "members"), strings(workspace, "exclude"));
        let mut budget = GLOB_BUDGET;
        let mut members = Vec::new();
        for dir in self.manifests.keys().filter_map(|path| {
            path.strip_prefix(&self.root)?
                .strip_suffix("Cargo.toml")
                .filter(|dir| dir.ends_with('/'))
        }) {
            let path: Vec<&str> = components(dir).collect();
            match rule.holds(&path, &mut budget) {
                Some(true) => members.push(format!("{}{dir}", self.root)),
                Some(false) => {}
                None => {
                    let span = workspace.get("members").map_or(0..0, Spanned::span);
                    return Err(root.error(
                        span,
                        "`workspace.members` takes too long to match; list the members with fewer or simpler patterns".to_owned(),
                    ));
                }
            }
        }
        Ok(members)
    }

    /// The directories the `members` of `workspace` name, as globs with a trailing `/`, less
    /// those that would leave the project (cargo finds no member there that it builds).
    fn member_patterns(&self, workspace: &DeTable<'_>) -> Vec<String> {
        strings(workspace, "members")
            .into_iter()
            .filter(|member| !member.starts_with('/'))
            .map(|member| components(member).collect::<Vec<_>>())
            .filter(|parts| !parts.is_empty() && !parts.contains(&".."))
            .map(|parts| format!("{}{}/", glob::literal(&self.root), parts.join("/")))
            .collect()
    }

    /// The directories of the `path` dependencies `table` declares (in its dependency tables,
    /// per-target ones and `workspace.dependencies`, `patch` and `replace`) that are inside the
    /// project; cargo reads those too.
    fn path_dependencies(&self, manifest: &Manifest<'_>, table: &DeTable<'_>) -> Vec<String> {
        let mut tables: Vec<&DeTable<'_>> = DEPENDENCY_TABLES
            .iter()
            .filter_map(|name| table_of(table, name))
            .collect();
        for targets in [table_of(table, "target")].into_iter().flatten() {
            for (_, target) in targets.iter() {
                tables.extend(DEPENDENCY_TABLES.iter().filter_map(|name| {
                    target
                        .get_ref()
                        .as_table()
                        .and_then(|target| table_of(target, name))
                }));
            }
        }
        for sources in [table_of(table, "patch")].into_iter().flatten() {
            tables.extend(sources.iter().filter_map(|(_, s)| s.get_ref().as_table()));
        }
        tables.extend(table_of(table, "replace"));
        tables
            .into_iter()
            .flat_map(|dependencies| dependencies.iter())
            .filter_map(|(_, dependency)| dependency.get_ref().get("path")?.get_ref().as_str())
            .filter_map(|path| self.inside(&manifest.dir, path))
            .map(|dir| match dir.as_str() {
                "" => self.root.clone(),
                dir => format!("{}{dir}/", self.root),
            })
            .collect()
    }

    /// The name, binaries and stubs of the package `manifest` declares.
    fn package(&self, manifest: &Manifest<'_>) -> Result<Package, Error> {
        let mut found = Package {
            dir: manifest.dir.clone(),
            manifest: manifest.path.clone(),
            name: None,
            bins: Vec::new(),
            stubs: Vec::new(),
        };
        let Some(package) = manifest.table("package") else {
            return Ok(found); // a virtual workspace manifest has no targets
        };
        let package_name = string(package.get("name")).unwrap_or_default();
        found.name = Some(package_name.to_owned());
        found.bins.push(package_name.to_owned());
        let lib_path = manifest.table("lib").and_then(|lib| lib.get("path"));
        let lib = string(lib_path).unwrap_or("src/lib.rs");
        found.stubs.extend([
            self.stub(manifest, lib_path, "`[lib] path`", lib, LIB_STUB)?,
            self.stub(manifest, None, "", "src/main.rs", MAIN_STUB)?,
        ]);
        let build = package.get("build");
        if let Some(path) = string(build) {
            found
                .stubs
                .push(self.stub(manifest, build, "`package.build`", path, MAIN_STUB)?);
        }
        for (section, default_dir) in TARGET_SECTIONS {
            let targets = manifest
                .table
                .get(section)
                .and_then(|t| t.get_ref().as_array());
            for target in targets.into_iter().flat_map(|targets| targets.iter()) {
                let name = target.get_ref().get("name");
                let name_text = string(name).unwrap_or(package_name);
                let default = if section == "bin" && name_text == package_name {
                    "src/main.rs".to_owned()
                } else {
                    format!("{default_dir}/{name_text}.rs")
                };
                let path = target.get_ref().get("path");
                let stub = match string(path) {
                    Some(written) => {
                        let what = format!("`[[{section}]] path`");
                        self.stub(manifest, path, &what, written, MAIN_STUB)?
                    }
                    // The default path is made of the name: it is where a bad one points.
                    None => {
                        let what = format!("`[[{section}]] name`");
                        self.stub(manifest, name, &what, &default, MAIN_STUB)?
                    }
                };
                found.stubs.push(stub);
                if section == "bin" {
                    found.bins.push(name_text.to_owned());
                }
            }
        }
        Ok(found)
    }

    /// The context paths the build of `package` reads, as [`project_sources`] says, added to
    /// `paths`.
    fn package_sources(&self, package: &Package, paths: &mut Vec<String>) {
        let dir = package.dir.as_str();
        let holds_more = dir == self.root
            || self
                .manifests
                .range::<str, _>((Bound::Included(dir), Bound::Unbounded))
                .map(|(path, _)| path)
                .take_while(|path| path.starts_with(dir))
                .any(|path| path[dir.len()..].ends_with("/Cargo.toml"));
        if holds_more {
            paths.extend(PACKAGE_PATHS.map(|name| format!("{dir}{name}")));
        } else {
            paths.push(dir.trim_end_matches('/').to_owned());
        }
        // Targets and build scripts the manifest places elsewhere, with the modules beside them.
        for stub in &package.stubs {
            let parent = stub.path.rsplit_once('/').map_or("", |(parent, _)| parent);
            // A directory that holds the package's own would bring in all of it: the file alone.
            let holds_package = parent.is_empty() || dir.starts_with(&format!("{parent}/"));
            paths.push(if holds_package {
                stub.path.clone()
            } else {
                parent.to_owned()
            });
        }
    }

    /// The stub at `path` of `manifest`, or an error at `written` (the value behind the path,
    /// `what` the manifest calls it) when the path is not a file inside the project.
    fn stub(
        &self,
        manifest: &Manifest<'_>,
        written: Option<&Spanned<DeValue<'_>>>,
        what: &str,
        path: &str,
        content: &'static str,
    ) -> Result<Stub, Error> {
        match self.inside(&manifest.dir, path).filter(|path| !path.is_empty()) {
            Some(relative) => Ok(Stub {
                path: format!("{}{relative}", self.root),
                content,
            }),
            None => Err(manifest.error(
                written.map_or(0..0, Spanned::span),
                format!(
                    "{what} `{path}` is not a file inside the cargo project `{}`; the dependency layer writes stubs only there",
                    self.name
                ),
            )),
        }
    }

    /// The path of `path`, written in a manifest in `dir`, relative to the project (`""` for
    /// its directory); `None` when it is absolute or leaves the project.
    fn inside(&self, dir: &str, path: &str) -> Option<String> {
        if path.starts_with('/') {
            return None;
        }
        let in_context = syntax::context_path(&format!("{dir}{path}")).ok()?;
        match self.root.strip_suffix('/') {
            None => Some(in_context),
            Some(root) if in_context == root => Some(String::new()),
            Some(_) => in_context.strip_prefix(&self.root).map(str::to_owned),
        }
    }
}

impl Manifest<'_> {
    /// The table under `key`, when it is one.
    fn table(&self, key: &str) -> Option<&DeTable<'_>> {
        table_of(&self.table, key)
    }

    /// An error at byte `span` of this manifest.
    fn error(&self, span: Range<usize>, message: String) -> Error {
        Error::Manifest {
            path: self.path.clone(),
            position: Position::at_offset(self.text, span.start),
            message,
        }
    }
}

/// The text of `value`, when it is a string.
fn string<'v>(value: Option<&'v Spanned<DeValue<'_>>>) -> Option<&'v str> {
    value?.get_ref().as_str()
}

/// The strings of the array at `key` of `table`; others are left to cargo to refuse.
fn strings<'t>(table: &'t DeTable<'_>, key: &str) -> Vec<&'t str> {
    let values = table.get(key).and_then(|v| v.get_ref().as_array());
    values
        .into_iter()
        .flat_map(|values| values.iter())
        .filter_map(|value| value.get_ref().as_str())
        .collect()
}

fn table_of<'t, 'i>(table: &'t DeTable<'i>, key: &str) -> Option<&'t DeTable<'i>> {
    table.get(key)?.get_ref().as_table()
}

/// A workspace's `members` and `exclude`, ready to test directories against.
struct MemberRule<'t> {
    /// The members written without a glob character, their components joined by `/`.
    literal: BTreeSet<String>,
    /// The others, as components.
    globs: Vec<Vec<&'t str>>,
    /// The excluded paths, their components joined by `/`.
    excluded: BTreeSet<String>,
}

impl<'t> MemberRule<'t> {
    fn new(members: Vec<&'t str>, exclude: Vec<&'t str>) -> Self {
        let joined = |path: &str| components(path).collect::<Vec<_>>().join("/");
        let (globs, literal): (Vec<&str>, Vec<&str>) = members
            .into_iter()
            .partition(|member| member.contains(['*', '?', '[']));
        Self {
            literal: literal.into_iter().map(joined).collect(),
            globs: globs
                .into_iter()
                .map(|glob| components(glob).collect())
                .collect(),
            excluded: exclude.into_iter().map(joined).collect(),
        }
    }

    /// Whether the project directory `path` is a member: a member names it and no excluded
    /// path holds it; `None` once `budget` is spent.
    fn holds(&self, path: &[&str], budget: &mut u64) -> Option<bool> {
        if (1..=path.len()).any(|end| self.excluded.contains(&path[..end].join("/"))) {
            return Some(false);
        }
        if self.literal.contains(&path.join("/")) {
            return Some(true);
        }
        for glob in &self.globs {
            if glob_matches(glob, path, budget)? {
                return Some(true);
            }
        }
        Some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifests(files: &[(&str, &str)]) -> BTreeMap<String, String> {
        files
            .iter()
            .map(|(p, c)| ((*p).to_owned(), (*c).to_owned()))
            .collect()
    }

    fn paths(stubs: &[Stub]) -> Vec<&str> {
        stubs.iter().map(|s| s.path.as_str()).collect()
    }

    #[test]
    fn stubs_every_declared_and_default_target() {
        let files = manifests(&[
            (
                "Cargo.toml",
                "[workspace]\nmembers = [\"crates/*\"]\n[workspace.dependencies]\nagent = { path = \"agent\" }\n",
            ),
            ("Cargo.lock", "version = 4\n"),
            (
                "crates/core/Cargo.toml",
                "[package]\nname = \"core\"\n[lib]\npath = \"lib.rs\"\n",
            ),
            (
                "crates/cli/Cargo.toml",
                "[package]\nname = \"cli\"\nbuild = \"build.rs\"\n[[bin]]\nname = \"cli\"\n[[bin]]\nname = \"tool\"\n[[bin]]\nname = \"x\"\npath = \"src/x/main.rs\"\n[[bench]]\nname = \"speed\"\n",
            ),
            ("agent/Cargo.toml", "[package]\nname = \"agent\"\n"),
        ]);
        let root = stubs(&files, ".").unwrap();
        let bins: Vec<&str> = root.bins.iter().map(String::as_str).collect();
        assert_eq!(bins, ["agent", "cli", "core", "tool", "x"]);
        let packages: Vec<&str> = root.packages.iter().map(String::as_str).collect();
        assert_eq!(packages, ["agent", "cli", "core"]);
        assert_eq!(
            root.manifests,
            [
                "Cargo.lock",
                "Cargo.toml",
                "agent/Cargo.toml",
                "crates/cli/Cargo.toml",
                "crates/core/Cargo.toml"
            ]
        );
        let root = root.files;
        assert_eq!(
            paths(&root),
            [
                "agent/src/lib.rs",
                "agent/src/main.rs",
                "crates/cli/benches/speed.rs",
                "crates/cli/build.rs",
                "crates/cli/src/bin/tool.rs",
                "crates/cli/src/lib.rs",
                "crates/cli/src/main.rs",
                "crates/cli/src/x/main.rs",
                "crates/core/lib.rs",
                "crates/core/src/main.rs",
            ]
        );
        assert_eq!(
            root.iter()
                .find(|s| s.path == "crates/core/lib.rs")
                .unwrap()
                .content,
            ""
        );
        let agent = stubs(&files, "agent").unwrap();
        assert_eq!(
            paths(&agent.files),
            ["agent/src/lib.rs", "agent/src/main.rs"]
        );
        assert_eq!(agent.manifests, ["agent/Cargo.toml"]);
    }

    #[test]
    fn only_the_projects_packages_count() {
        let files = manifests(&[
            (
                "Cargo.toml",
                "[package]\nname = \"app\"\n[dependencies]\nlocal = { path = \"./libs/local/\" }\n[target.'cfg(unix)'.dev-dependencies]\nunix = { path = \"unix\" }\n[workspace]\nmembers = [\"crates/**\", \"tools/[ab]?\", \"./single/\"]\nexclude = [\"crates/skip\"]\n",
            ),
            ("libs/local/Cargo.toml", "[package]\nname = \"local\"\n"),
            ("unix/Cargo.toml", "[package]\nname = \"unix\"\n"),
            ("single/Cargo.toml", "[package]\nname = \"single\"\n"),
            (
                "crates/deep/er/Cargo.toml",
                "[package]\nname = \"deeper\"\n",
            ),
            ("crates/skip/Cargo.toml", "not toml ["),
            ("tools/a1/Cargo.toml", "[package]\nname = \"a1\"\n"),
            ("tools/c1/Cargo.toml", "[package\n"),
            ("tests/fixtures/broken/Cargo.toml", "[package\n"),
            ("nested/Cargo.toml", "[workspace]\nmembers = [\"x\"]\n"),
        ]);
        let plan = stubs(&files, ".").unwrap();
        let packages: Vec<&str> = plan.packages.iter().map(String::as_str).collect();
        assert_eq!(packages, ["a1", "app", "deeper", "local", "single", "unix"]);
        assert_eq!(stubs(&files, "nested").unwrap().packages.len(), 0);
        assert_eq!(
            stubs(&files, "nowhere").unwrap(),
            StubPlan::default(),
            "no root manifest, no dependency layer"
        );
    }

    #[test]
    fn a_project_reads_its_packages_sources_and_what_the_spec_adds() {
        let files = manifests(&[
            (
                "Cargo.toml",
                "[package]\nname = \"app\"\n[lib]\npath = \"lib.rs\"\n[[bin]]\nname = \"gen\"\npath = \"tools/gen/main.rs\"\n[workspace]\nmembers = [\"crates/*\"]\n",
            ),
            ("Cargo.lock", ""),
            ("crates/core/Cargo.toml", "[package]\nname = \"core\"\n"),
            (
                "crates/nested/Cargo.toml",
                "[package]\nname = \"nested\"\nbuild = \"../build/main.rs\"\n",
            ),
            ("crates/nested/fixtures/x/Cargo.toml", "not toml ["),
            (
                "tool/Cargo.toml",
                "[package]\nname = \"tool\"\n[workspace]\n",
            ),
        ]);
        let spec = crate::spec::parse(
            "version: 1\nbuilder:\n  image: rust\n  binaries: [app]\n  sources: [assets/schema.json, ./proto/, proto/v1]\n  projects:\n    tool: {binaries: [tool]}\n    nowhere: {binaries: [x]}\n    bad: {binaries: [b], sources: [../up]}\nvariants: {v: {from: d}}\n",
            "f.yaml",
        )
        .unwrap();
        let [root, tool, nowhere, bad] = spec.builder.projects()[..] else {
            panic!("four projects")
        };
        let root = project_sources(&files, root).unwrap();
        // The root package's directory is the project's: its conventional paths and the
        // targets it places elsewhere. crates/nested holds another manifest, crates/core not.
        assert_eq!(
            root.paths(),
            [
                ".cargo",
                "Cargo.lock",
                "Cargo.toml",
                "assets/schema.json",
                "benches",
                "build.rs",
                "crates/build",
                "crates/core",
                "crates/nested/Cargo.toml",
                "crates/nested/benches",
                "crates/nested/build.rs",
                "crates/nested/examples",
                "crates/nested/src",
                "crates/nested/tests",
                "examples",
                "lib.rs",
                "proto",
                "rust-toolchain",
                "rust-toolchain.toml",
                "src",
                "tests",
                "tools/gen",
            ]
        );
        for path in [
            "src/main.rs",
            "crates/core/src/deep/mod.rs",
            "Cargo.lock",
            "proto",
            "crates",
            "",
        ] {
            assert!(root.touched_by(path), "{path}");
        }
        for path in [
            "README.md",
            "flotilla.yaml",
            "tool/src/main.rs",
            "crates/nested/fixtures/x/Cargo.toml",
            "srcx/a.rs",
            "crates/core2/src/lib.rs",
        ] {
            assert!(!root.touched_by(path), "{path}");
        }
        // Another project also reads the cargo and rustup files of the directories above it.
        assert_eq!(
            project_sources(&files, tool).unwrap().paths(),
            [
                ".cargo",
                "rust-toolchain",
                "rust-toolchain.toml",
                "tool/.cargo",
                "tool/Cargo.lock",
                "tool/Cargo.toml",
                "tool/benches",
                "tool/build.rs",
                "tool/examples",
                "tool/rust-toolchain",
                "tool/rust-toolchain.toml",
                "tool/src",
                "tool/tests",
            ]
        );
        // Without manifests, no package: cargo's and rustup's files alone.
        assert_eq!(
            project_sources(&files, nowhere).unwrap().paths(),
            [
                ".cargo",
                "nowhere/.cargo",
                "nowhere/Cargo.lock",
                "nowhere/Cargo.toml",
                "nowhere/rust-toolchain",
                "nowhere/rust-toolchain.toml",
                "rust-toolchain",
                "rust-toolchain.toml",
            ]
        );
        assert_eq!(
            project_sources(&files, bad).unwrap_err().to_string(),
            "../up in the build context: a `sources` entry that leaves the build context"
        );
        let everything = ProjectSources::new(vec!["src".to_owned(), String::new()]);
        assert_eq!(everything.paths(), [""]);
        assert!(everything.touched_by("README.md"));
    }

    #[test]
    fn a_broken_member_manifest_is_located() {
        let files = manifests(&[
            ("Cargo.toml", "[workspace]\nmembers = [\"a\"]\n"),
            (
                "a/Cargo.toml",
                "[package]\nname = \"a\"\nedition = 2021\"\n",
            ),
        ]);
        let error = stubs(&files, ".").unwrap_err().to_string();
        assert!(
            error.starts_with("a/Cargo.toml:3:11: invalid manifest: "),
            "{error}"
        );
    }

    #[test]
    fn manifest_paths_stay_inside_the_project() {
        let error = |manifest: &str, project: &str| {
            let path = format!("{project}/Cargo.toml").replace("./", "");
            stubs(&manifests(&[(&path, manifest)]), project)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error(
                "[package]\nname = \"a\"\n[lib]\npath = \"../../../../etc/passwd\"\n",
                "."
            ),
            "Cargo.toml:4:8: `[lib] path` `../../../../etc/passwd` is not a file inside the cargo project `.`; the dependency layer writes stubs only there"
        );
        assert!(
            error("[package]\nname = \"a\"\nbuild = \"/etc/x\"\n", ".")
                .starts_with("Cargo.toml:3:9: `package.build` `/etc/x`")
        );
        assert!(
            error("[package]\nname = \"a\"\n[[bin]]\nname = \"b\"\npath = \"../x.rs\"\n", "tool")
                .starts_with("tool/Cargo.toml:5:8: `[[bin]] path` `../x.rs` is not a file inside the cargo project `tool`")
        );
        assert!(
            error(
                "[package]\nname = \"a\"\n[[test]]\nname = \"../../../x\"\n",
                "."
            )
            .starts_with("Cargo.toml:4:8: `[[test]] name` `tests/../../../x.rs`")
        );
        assert!(
            error("[package]\nname = \"a\"\n[lib]\npath = \"src/..\"\n", ".")
                .starts_with("Cargo.toml:4:8: `[lib] path` `src/..` is not a file")
        );
    }
}
