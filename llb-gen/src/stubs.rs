//! Stub sources for the dependency layer: from a project's Cargo manifests alone, the files
//! cargo needs to find every target, so dependencies build before any real source is copied and
//! the layer's cache key depends only on the manifests and the lockfile.

use std::collections::{BTreeMap, BTreeSet};

use toml::Table;

use crate::error::Error;

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

/// The manifests (`Cargo.toml`, `Cargo.lock`) of the project at `project` among `manifests`
/// (context-relative path → content).
pub fn project_manifests<'m>(
    manifests: &'m BTreeMap<String, String>,
    project: &str,
) -> impl Iterator<Item = (&'m String, &'m String)> {
    let prefix = if project == "." {
        String::new()
    } else {
        format!("{}/", project.trim_end_matches('/'))
    };
    manifests
        .iter()
        .filter(move |(path, _)| path.starts_with(&prefix))
}

/// The stubs of one project and the binary targets they declare.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StubPlan {
    /// Files to create, sorted, without duplicates.
    pub files: Vec<Stub>,
    /// Binary target names the stubbed packages have (for `--bin` in the dependency build).
    pub bins: BTreeSet<String>,
    /// The project's own package names: they tell its target dir from another repository's.
    pub packages: BTreeSet<String>,
}

/// Every stub file the project's packages need.
pub fn stubs(manifests: &BTreeMap<String, String>, project: &str) -> Result<StubPlan, Error> {
    let mut stubs = Vec::new();
    let mut bins = BTreeSet::new();
    let mut packages = BTreeSet::new();
    for (path, content) in project_manifests(manifests, project) {
        let Some(dir) = path.strip_suffix("Cargo.toml") else {
            continue;
        };
        let manifest: Table =
            content
                .parse()
                .map_err(|error: toml::de::Error| Error::Manifest {
                    path: path.clone(),
                    message: error.message().to_owned(),
                })?;
        let Some(package) = manifest.get("package").and_then(|p| p.as_table()) else {
            continue; // a virtual workspace manifest has no targets
        };
        let package_name = package
            .get("name")
            .and_then(|n| n.as_str())
            .unwrap_or_default();
        let mut add = |relative: &str, content| {
            let relative = relative.trim_start_matches("./");
            stubs.push(Stub {
                path: format!("{dir}{relative}"),
                content,
            });
        };
        let lib_path = table_path(manifest.get("lib")).unwrap_or("src/lib.rs");
        add(lib_path, LIB_STUB);
        add("src/main.rs", MAIN_STUB);
        bins.insert(package_name.to_owned());
        packages.insert(package_name.to_owned());
        if let Some(build) = package.get("build").and_then(|b| b.as_str()) {
            add(build, MAIN_STUB);
        }
        for (section, dir_name) in [
            ("bin", "src/bin"),
            ("example", "examples"),
            ("test", "tests"),
            ("bench", "benches"),
        ] {
            for target in manifest
                .get(section)
                .and_then(|t| t.as_array())
                .into_iter()
                .flatten()
            {
                let name = target
                    .get("name")
                    .and_then(|n| n.as_str())
                    .unwrap_or(package_name);
                let default = if section == "bin" && name == package_name {
                    "src/main.rs".to_owned()
                } else {
                    format!("{dir_name}/{name}.rs")
                };
                add(table_path(Some(target)).unwrap_or(&default), MAIN_STUB);
                if section == "bin" {
                    bins.insert(name.to_owned());
                }
            }
        }
    }
    stubs.sort();
    stubs.dedup_by(|a, b| a.path == b.path);
    Ok(StubPlan {
        files: stubs,
        bins,
        packages,
    })
}

fn table_path(table: Option<&toml::Value>) -> Option<&str> {
    table?.get("path")?.as_str()
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
            ("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n"),
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
        assert_eq!(
            paths(&stubs(&files, "agent").unwrap().files),
            ["agent/src/lib.rs", "agent/src/main.rs"]
        );
    }

    #[test]
    fn a_broken_manifest_is_named() {
        let files = manifests(&[("Cargo.toml", "[package\nname = 1")]);
        let error = stubs(&files, ".").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("Cargo.toml: invalid manifest: "),
            "{error}"
        );
    }
}
