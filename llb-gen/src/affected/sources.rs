//! What a cargo project's compile reads from the context, for the affected-targets plan: a
//! changed path there rebuilds the artifact and the variants holding that project's binaries.
//! It is what the compile is sent, [`stubs::project_sources`], and a manifest added or deleted
//! under the project's directory, which can add or remove one of its packages.

use std::collections::BTreeMap;

use crate::context::MANIFEST_NAMES;
use crate::error::Error;
use crate::spec::ProjectRef;
use crate::stubs::{self, ProjectSources};

/// The paths one project's compile reads.
#[derive(Debug)]
pub(super) struct Sources {
    /// What the compile is sent.
    read: ProjectSources,
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
            .is_some_and(|name| MANIFEST_NAMES.contains(&name));
        self.read.touched_by(path) || (manifest && self.owns(path))
    }

    fn owns(&self, path: &str) -> bool {
        under(path, &self.dir) && !self.nested.iter().any(|nested| under(path, nested))
    }
}

/// What `project`, at context directory `dir` among the directories of all `projects`, reads.
pub(super) fn sources(
    project: ProjectRef<'_>,
    dir: &str,
    projects: &[String],
    manifests: &BTreeMap<String, String>,
) -> Result<Sources, Error> {
    Ok(Sources {
        read: stubs::project_sources(manifests, project)?,
        dir: dir.to_owned(),
        nested: projects
            .iter()
            .filter(|other| *other != dir && under(other, dir))
            .cloned()
            .collect(),
    })
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

    /// The sources of each project of a spec whose builder is `builder`, by directory.
    fn project_sources(builder: &str, files: &BTreeMap<String, String>) -> Vec<Sources> {
        let text =
            format!("version: 1\nbuilder:\n  image: rust\n{builder}variants: {{v: {{from: d}}}}\n");
        let spec = crate::spec::parse(&text, "f.yaml").unwrap();
        let dirs: Vec<String> = spec
            .builder
            .projects()
            .iter()
            .map(|project| crate::syntax::context_path(project.path).unwrap())
            .collect();
        spec.builder
            .projects()
            .into_iter()
            .zip(&dirs)
            .map(|(project, dir)| sources(project, dir, &dirs, files).unwrap())
            .collect()
    }

    #[test]
    fn a_project_reads_what_its_compile_is_sent_and_its_new_manifests() {
        let files = manifests(&[
            (
                "Cargo.toml",
                "[package]\nname = \"app\"\n[dependencies]\nshared = { path = \"shared\" }\n[workspace]\nmembers = [\"crates/*\"]\n",
            ),
            ("crates/core/Cargo.toml", "[package]\nname = \"core\"\n"),
            ("shared/Cargo.toml", "[package]\nname = \"shared\"\n"),
            (
                "agent/Cargo.toml",
                "[package]\nname = \"agent\"\nbuild = \"gen/build.rs\"\n[[bin]]\nname = \"x\"\npath = \"tools/x.rs\"\n",
            ),
        ]);
        let [root, agent] = &project_sources(
            "  binaries: [app]\n  projects:\n    agent: {binaries: [x]}\n",
            &files,
        )[..] else {
            panic!("two projects")
        };
        for read in [
            "agent/src/main.rs",
            "agent/Cargo.lock",
            "agent/gen/build.rs",
            "agent/tools/x.rs",
            ".cargo/config.toml",
            "agent/rust-toolchain.toml",
            "agent/new/Cargo.toml",
            "agent",
        ] {
            assert!(agent.covers(read), "{read}");
        }
        for other in [
            "README.md",
            "agent/README.md",
            "crates/core/src/lib.rs",
            "shared/src/lib.rs",
            "Cargo.lock",
        ] {
            assert!(!agent.covers(other), "{other}");
        }
        for read in [
            "crates/core/src/lib.rs",
            "crates",
            "Cargo.lock",
            "src",
            "shared/src/lib.rs",
            "crates/new/Cargo.toml",
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
        let spec = crate::spec::parse(
            "version: 1\nbuilder: {image: rust, binaries: [app]}\nvariants: {v: {from: d}}\n",
            "f.yaml",
        )
        .unwrap();
        let error = sources(spec.builder.projects()[0], "", &[], &files).unwrap_err();
        assert!(error.to_string().starts_with("Cargo.toml:1:9: "), "{error}");
    }
}
