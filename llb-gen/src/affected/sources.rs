//! What a cargo project's compile reads from the context, for the affected-targets plan: a
//! changed path there rebuilds the artifact and the variants holding that project's binaries.
//! The compile itself is sent the whole context; this is what cargo really reads by convention.
//! [`sources`] is the one rule, to be replaced when the compile scope is narrowed per project.

use std::collections::{BTreeMap, BTreeSet};

use toml::Value;

use crate::diagnostic::Position;
use crate::error::Error;
use crate::syntax::context_path;

/// The paths one project's compile reads.
#[derive(Debug)]
pub(super) struct Sources {
    /// Files and directories read (context-relative; empty for the whole context).
    read: BTreeSet<String>,
    /// The project's directory: a `Cargo.toml` or `Cargo.lock` added or deleted under it (and
    /// not under `nested`) is one of its manifests even when no manifest lists it now.
    dir: String,
    /// The directories of the other projects inside `dir`, which compile on their own.
    nested: Vec<String>,
}

impl Sources {
    /// Whether `path` (a changed file, or a directory of them) is read by the compile.
    pub(super) fn covers(&self, path: &str) -> bool {
        let manifest = path
            .rsplit('/')
            .next()
            .is_some_and(|name| name == "Cargo.toml" || name == "Cargo.lock");
        self.read.iter().any(|read| related(read, path)) || (manifest && self.owns(path))
    }

    fn owns(&self, path: &str) -> bool {
        under(path, &self.dir) && !self.nested.iter().any(|nested| under(path, nested))
    }
}

/// What the project at `dir` reads, for now: the `Cargo.toml`, `Cargo.lock`, `build.rs` (or the
/// package's `build`) and `src`, `benches`, `examples`, `tests` of each of its packages (every
/// manifest under `dir` but not under another project of `projects`) and of each path
/// dependency, the directory of a target with its own `path`, and the `.cargo` and
/// `rust-toolchain` files cargo and rustup look for in `dir` and above. A file read through
/// `include_str!` or by a build script elsewhere is not seen.
pub(super) fn sources(
    dir: &str,
    projects: &[String],
    manifests: &BTreeMap<String, String>,
) -> Result<Sources, Error> {
    let project = Sources {
        read: BTreeSet::new(),
        dir: dir.to_owned(),
        nested: projects
            .iter()
            .filter(|other| *other != dir && under(other, dir))
            .cloned()
            .collect(),
    };
    let mut read: BTreeSet<String> = ancestors(dir)
        .flat_map(|at| [".cargo", "rust-toolchain", "rust-toolchain.toml"].map(|n| join(at, n)))
        .chain(["Cargo.toml", "Cargo.lock"].map(|name| join(dir, name)))
        .collect();
    let mut pending: Vec<String> = manifests
        .keys()
        .filter(|path| project.owns(path))
        .filter_map(|path| package_dir(path))
        .collect();
    let mut seen = BTreeSet::new();
    while let Some(package) = pending.pop() {
        if !seen.insert(package.clone()) {
            continue;
        }
        let path = join(&package, "Cargo.toml");
        let text = &manifests[&path];
        let manifest =
            Value::Table(
                text.parse()
                    .map_err(|error: toml::de::Error| Error::Manifest {
                        path: path.clone(),
                        position: Position::at_offset(
                            text,
                            error.span().map_or(0, |span| span.start),
                        ),
                        message: error.message().to_owned(),
                    })?,
            );
        let conventional = ["Cargo.toml", "Cargo.lock", "build.rs", "src", "benches"]
            .into_iter()
            .chain(["examples", "tests"]);
        read.extend(conventional.map(|name| join(&package, name)));
        let build = manifest
            .get("package")
            .and_then(|package| package.get("build"))
            .and_then(Value::as_str);
        read.extend(build.and_then(|build| context_path(&join(&package, build)).ok()));
        // Every `path` of the manifest: a dependency's directory, or a target's source file.
        let mut paths = Vec::new();
        path_values(&manifest, &mut paths);
        for path in paths {
            let Ok(resolved) = context_path(&join(&package, path)) else {
                continue; // outside the context: not in the build either
            };
            if manifests.contains_key(&join(&resolved, "Cargo.toml")) {
                pending.push(resolved);
            } else {
                read.insert(resolved.rsplit_once('/').map_or("", |(d, _)| d).to_owned());
            }
        }
    }
    Ok(Sources { read, ..project })
}

/// Each string under a `path` key anywhere in `value`.
fn path_values<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::Table(table) => {
            for (key, value) in table {
                match value.as_str() {
                    Some(path) if key == "path" => out.push(path),
                    _ => path_values(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| path_values(item, out)),
        _ => {}
    }
}

/// The directory of a `Cargo.toml` path; `None` for any other file.
fn package_dir(path: &str) -> Option<String> {
    match path.strip_suffix("Cargo.toml")? {
        "" => Some(String::new()),
        dir => dir.strip_suffix('/').map(str::to_owned),
    }
}

/// `dir` and each directory above it, up to the context root (`""`).
fn ancestors(dir: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(dir);
    std::iter::from_fn(move || {
        let current = next?;
        next = (!current.is_empty()).then(|| current.rsplit_once('/').map_or("", |(up, _)| up));
        Some(current)
    })
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// Whether `path` is `dir` or inside it (every path is inside `""`, the whole context).
pub(super) fn under(path: &str, dir: &str) -> bool {
    dir.is_empty()
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether one of two context paths holds the other: a changed directory touches what is in
/// it, and a read directory is touched by what changes in it.
pub(super) fn related(a: &str, b: &str) -> bool {
    under(a, b) || under(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifests(files: &[(&str, &str)]) -> BTreeMap<String, String> {
        files
            .iter()
            .map(|(path, text)| ((*path).to_owned(), (*text).to_owned()))
            .collect()
    }

    #[test]
    fn a_project_reads_its_packages_path_dependencies_and_cargo_config_above_it() {
        let files = manifests(&[
            ("Cargo.toml", "[package]\nname = \"app\"\n[workspace]\n"),
            ("crates/core/Cargo.toml", "[package]\nname = \"core\"\n"),
            ("shared/Cargo.toml", "[package]\nname = \"shared\"\n"),
            (
                "agent/Cargo.toml",
                "[package]\nname = \"agent\"\nbuild = \"gen/build.rs\"\n[dependencies]\nshared = { path = \"../shared\" }\n[[bin]]\nname = \"x\"\npath = \"tools/x.rs\"\n",
            ),
        ]);
        let projects = ["".to_owned(), "agent".to_owned()];
        let agent = sources("agent", &projects, &files).unwrap();
        for read in [
            "agent/src/main.rs",
            "agent/Cargo.lock",
            "agent/gen/build.rs",
            "agent/tools/x.rs",
            "shared/src/lib.rs",
            ".cargo/config.toml",
            "agent/rust-toolchain.toml",
            "agent/new/Cargo.toml",
        ] {
            assert!(agent.covers(read), "{read}");
        }
        for other in [
            "README.md",
            "agent/README.md",
            "crates/core/src/lib.rs",
            "Cargo.lock",
        ] {
            assert!(!agent.covers(other), "{other}");
        }
        let root = sources("", &projects, &files).unwrap();
        // `shared` is under the root project's directory: its package too, by where it is.
        for read in [
            "crates/core/src/lib.rs",
            "Cargo.lock",
            "src",
            "shared/src/lib.rs",
        ] {
            assert!(root.covers(read), "{read}");
        }
        for other in [
            "README.md",
            "config/a.toml",
            "agent/Cargo.lock",
            "agent/src/main.rs",
        ] {
            assert!(!root.covers(other), "{other}");
        }
    }

    #[test]
    fn a_broken_manifest_is_named() {
        let files = manifests(&[("Cargo.toml", "[package")]);
        let error = sources("", &[], &files).unwrap_err();
        assert!(error.to_string().starts_with("Cargo.toml:1:9: "), "{error}");
    }
}
