//! Every key under which BuildKit keeps something from one build to the next, decided here and
//! nowhere else. A key made of less is shared more, and may be thrashed by builds that have
//! nothing in common; a key made of more starts cold more often. Each row says what a key is
//! made of and what change gives a new one.
//!
//! **Cache mounts** (never part of a layer). Every id is `<ns>/<id>`, where `<ns>` is the build
//! arg `BUILDKIT_CACHE_MOUNT_NS` (empty when it is unset, giving `/<id>`). This is how
//! docker/dockerfile writes its `RUN --mount=type=cache` ids (`dockerfile2llb`:
//! `cacheIDNamespace+"/"+mount.CacheID`). `<platform>` is the target platform's slug, e.g.
//! `linux-arm64`.
//!
//! | Mount | Id | Sharing | Made of | New key when |
//! |---|---|---|---|---|
//! | cargo registry, `$CARGO_HOME/registry` | `<ns>/flotilla-cargo-registry-<platform>` | locked | namespace, platform | The namespace or the platform changes. Every project and toolchain shares it, because a crate is the same file whoever downloads it. Only a project's short `cargo fetch` mounts it (and a build with no manifest to fetch from); the builds run offline on the fetch layer's copy, so projects do not wait on each other's compiles. |
//! | cargo git db, `$CARGO_HOME/git` | `<ns>/flotilla-cargo-git-<platform>` | locked | namespace, platform | Same as the registry. |
//! | target dir, `/flotilla/target` (the final build's only cache mount, at one path for every project; it records which dependency layer seeded it in `.flotilla-seeded`) | `<ns>/flotilla-target-<platform>-<hash>-<project>`, `<project>` the project's path with each byte but letters, digits and `-` written `_XX` (`_2E` for the root; not `%XX`, which breaks rustc's linker arguments) | locked | Namespace and platform, plus a hash of the toolchain image, `builder.workdir`, the project's path and the project's own package names. The package names are the `[package] name` of each package cargo builds for the project (its root package, workspace members and path dependencies inside it, see [`crate::stubs`]); a project with no manifest in the context has none. | Any of those changes. Another repository has other package names, so it gets its own target dir instead of invalidating this one. Editing a source, bumping a dependency or changing `Cargo.lock` keeps the key, and cargo rebuilds incrementally in the same dir. Adding, removing or renaming one of the project's packages gives a new dir. That dir starts from the dependency layer, which such a manifest change rebuilds anyway. |
//! | apt's package cache, `/var/cache/apt` | `<ns>/flotilla-apt-cache-<platform>` | locked | namespace, platform | The namespace or the platform changes. Packages are per architecture. Every base image shares them: apt checks each reused `.deb` against the lists the step has just fetched. The lists are not cached: one kept from another step would skip the check of its signature against this step's keys. `/var/lib/apt` (`extended_states`, which records what was installed as a dependency) stays in the image. |
//! | a run step's `cache:` | `<ns>/<id>` | the step's `sharing` (`shared` by default, or `locked`) | Namespace, plus the step's `id`, else its `target` cleaned as Go's `path.Clean` does. | The namespace, the `id` or the target changes. The id is the one a Dockerfile's `RUN --mount=type=cache` gets, so the two share the cache on one daemon. |
//!
//! **Client directories** (`local://` sources). BuildKit's cache key of a local source is its
//! session plus its filters: the follow paths and the include and exclude patterns. It moves
//! when a synced file changes. Its shared-key hint, together with the local's name and the
//! client's directory, names the snapshot that an incremental sync starts from. Syncs with
//! different filters need different hints. If they shared one, each sync would resend what the
//! other one dropped. `.dockerignore` excludes apply to every read of `context`.
//!
//! | Read | Local | Syncs, so its key moves with | Shared-key hint |
//! |---|---|---|---|
//! | a project's compile sources | `context` | Only what the project's build reads, [`crate::stubs::project_sources`] (include patterns, each path escaped to match itself alone): its root `Cargo.toml` and `Cargo.lock`, cargo's and rustup's files in its directory and those above it, its packages' sources and its `sources:` entries. A file outside every project's sources (a README, a vendored archive, the spec) recompiles nothing, and one project's edit leaves the others' compiles cached. With `sources: [.]`, everything but the spec file at the root. | `context-<hash of the filter>` |
//! | a project's dependency layer | `context` | Exactly the manifests cargo reads for the project: its root `Cargo.toml` and `Cargo.lock` and its packages' `Cargo.toml` (follow paths), so only an edit of one of those rebuilds its dependencies; another project's manifests are no part of it. | `context-<hash>` |
//! | a `copy` step or a `bind` mount | `context` | Only the paths it names (include patterns), or everything when one names the whole context. | `context-<hash>`, or `context` for everything |
//! | the spec (frontend) | `dockerfile` | The spec file (a follow path). | `dockerfile`, as docker/dockerfile uses |
//! | `.dockerignore` (frontend) | `context` | `.dockerignore` (a follow path). | `context-.dockerignore`, as docker/dockerfile uses |
//! | the Cargo manifests (frontend) | `context` | In rounds ([`crate::context::ManifestWalk`]): the builder's projects' root `Cargo.toml` and `Cargo.lock`, then the members and path dependencies those name, each path matching itself alone and each `members` glob as written, until a round names nothing new. | `context-manifests` |
//! | a `context:builder` directory | its name | All of it. | none |

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::llb::{CacheSharing, LocalOptions, Mount};
use crate::platform::Platform;
use crate::spec::{CacheMount, Sharing};
use crate::stubs::ProjectSources;

/// The build context's local name, as the dockerfile frontend calls it.
pub const CONTEXT_LOCAL: &str = "context";
/// The local that serves the spec's directory (`docker build -f`'s directory).
pub const SPEC_LOCAL: &str = "dockerfile";
/// The build arg that namespaces cache mount ids, as docker/dockerfile reads it.
pub const CACHE_MOUNT_NS_ARG: &str = "BUILDKIT_CACHE_MOUNT_NS";

/// `BUILDKIT_CACHE_MOUNT_NS`: lets builds on one daemon keep their cache mounts apart
/// (per CI job, per branch) without editing the spec.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheNamespace(String);

impl CacheNamespace {
    /// Reads the build arg, declared or not: it names caches and is not a spec arg. Unset means
    /// empty, as in docker/dockerfile. A namespace holds no `/`, so that `<ns>/<id>` tells the
    /// namespace from the id (`a` and `b/c` would otherwise share `a/b` and `c`'s cache), and
    /// no control character.
    pub fn from_build_args(build_args: &BTreeMap<String, String>) -> Result<Self, Error> {
        let namespace = build_args
            .get(CACHE_MOUNT_NS_ARG)
            .cloned()
            .unwrap_or_default();
        if namespace.contains('/') || namespace.contains(char::is_control) {
            return Err(Error::InvalidOption {
                option: format!("build-arg:{CACHE_MOUNT_NS_ARG}"),
                message: format!(
                    "`{}` holds a `/` or a control character; a cache namespace is one name, such as `ci-42`",
                    namespace.escape_debug()
                ),
            });
        }
        Ok(Self(namespace))
    }
}

/// The cache mounts of one build for one target platform.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CacheMounts<'a> {
    pub(crate) namespace: &'a CacheNamespace,
    pub(crate) platform: &'a Platform,
}

/// What a project's target dir belongs to.
pub(crate) struct TargetDir<'a> {
    /// The toolchain image, as the build uses it.
    pub(crate) toolchain: &'a str,
    /// `builder.workdir`: cargo's fingerprints hold absolute paths.
    pub(crate) workdir: &'a str,
    /// The project's path in the context (`.` for the root).
    pub(crate) path: &'a str,
    /// The project's own package names: what tells one repository from another.
    pub(crate) packages: &'a BTreeSet<String>,
}

impl CacheMounts<'_> {
    /// The cargo registry and git db under `cargo_home`.
    pub(crate) fn cargo(&self, cargo_home: &str) -> Vec<Mount> {
        ["registry", "git"]
            .into_iter()
            .map(|dir| {
                self.mount(
                    format!("{cargo_home}/{dir}"),
                    &format!("flotilla-cargo-{dir}-{}", self.platform.slug()),
                    CacheSharing::Locked,
                )
            })
            .collect()
    }

    /// A project's target dir, mounted at `dest`.
    pub(crate) fn target_dir(&self, dest: String, project: &TargetDir<'_>) -> Mount {
        let mut scope = Sha256::new();
        for part in [project.toolchain, project.workdir, project.path]
            .into_iter()
            .chain(project.packages.iter().map(String::as_str))
        {
            scope.update(part);
            scope.update("\n");
        }
        let hash = hex::encode(scope.finalize());
        let id = format!(
            "flotilla-target-{}-{}-{}",
            self.platform.slug(),
            &hash[..12],
            project_slug(project.path)
        );
        self.mount(dest, &id, CacheSharing::Locked)
    }

    /// apt's package cache (the `.deb` files, checked against the lists when reused).
    pub(crate) fn apt(&self) -> Mount {
        self.mount(
            "/var/cache/apt".to_owned(),
            &format!("flotilla-apt-cache-{}", self.platform.slug()),
            CacheSharing::Locked,
        )
    }

    /// A run step's `cache:` entry, with docker/dockerfile's default id.
    pub(crate) fn run_step(&self, cache: &CacheMount) -> Mount {
        let id = cache
            .id
            .as_ref()
            .map_or_else(|| clean(&cache.target.value), |id| id.value.clone());
        let sharing = match cache.sharing {
            Sharing::Shared => CacheSharing::Shared,
            Sharing::Locked => CacheSharing::Locked,
        };
        self.mount(cache.target.value.clone(), &id, sharing)
    }

    fn mount(&self, dest: String, id: &str, sharing: CacheSharing) -> Mount {
        Mount::Cache {
            dest,
            id: format!("{}/{id}", self.namespace.0),
            sharing,
        }
    }
}

/// Go's `path.Clean` of an absolute path, as docker/dockerfile makes a cache target its id.
/// Validation refuses a relative target, so every path is taken as rooted.
fn clean(path: &str) -> String {
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// A project's path (`.` for the context root) as one path component, for its target dir and
/// target cache id: every byte but letters, digits and `-` written `_XX`, so that two paths
/// (`a/b`, `a-b`, `a_b`) never share one. Not `%XX`: rustc's linker fails on `%` in paths.
pub(crate) fn project_slug(path: &str) -> String {
    path.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' => char::from(byte).to_string(),
            other => format!("_{other:02X}"),
        })
        .collect()
}

/// A project's compile sources: exactly `sources`, each path matching itself alone; or, when
/// they are the whole context, all of it but the spec file at its root, so that editing the
/// variants never recompiles.
pub(crate) fn project_sources(sources: &ProjectSources, spec_file: &str) -> LocalOptions {
    if sources.paths().iter().any(String::is_empty) {
        return context_without(spec_file);
    }
    let include: Vec<String> = sources
        .paths()
        .iter()
        .map(|path| literal_pattern(path))
        .collect();
    context_paths(&include)
}

/// `path` as an include pattern that matches it alone: BuildKit reads `*`, `?`, `[` and `\`
/// in a pattern as glob syntax, so each is escaped.
fn literal_pattern(path: &str) -> String {
    let mut pattern = String::with_capacity(path.len());
    for c in path.chars() {
        if matches!(c, '*' | '?' | '[' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern
}

/// The whole context except the spec file at its root.
fn context_without(spec_file: &str) -> LocalOptions {
    let name = std::path::Path::new(spec_file).file_name().map_or_else(
        || spec_file.to_owned(),
        |name| name.to_string_lossy().into_owned(),
    );
    LocalOptions {
        shared_key_hint: Some(context_hint(&[format!("!{name}")])),
        exclude_patterns: vec![name],
        ..Default::default()
    }
}

/// Exactly `files` of the context (follow paths): a dependency layer's manifests.
pub(crate) fn context_files(files: &[String]) -> LocalOptions {
    LocalOptions {
        follow_paths: files.to_vec(),
        shared_key_hint: Some(context_hint(files)),
        ..Default::default()
    }
}

/// The context paths matching `include`, or the whole context when `include` is empty.
pub(crate) fn context_paths(include: &[String]) -> LocalOptions {
    LocalOptions {
        include_patterns: include.to_vec(),
        shared_key_hint: Some(context_hint(include)),
        ..Default::default()
    }
}

/// The spec file of the `dockerfile` local.
pub fn spec_file(filename: &str) -> LocalOptions {
    LocalOptions {
        follow_paths: vec![filename.to_owned()],
        shared_key_hint: Some(SPEC_LOCAL.to_owned()),
        ..Default::default()
    }
}

/// The context's `.dockerignore`.
pub fn dockerignore() -> LocalOptions {
    LocalOptions {
        follow_paths: vec![".dockerignore".to_owned()],
        shared_key_hint: Some(format!("{CONTEXT_LOCAL}-.dockerignore")),
        ..Default::default()
    }
}

/// The context's Cargo manifests that a round of the manifest scan asks for
/// ([`crate::context::ManifestWalk`]), less `excludes`. Every round shares one hint: each syncs
/// only the files its patterns name into the same copy.
pub fn manifests(patterns: Vec<String>, excludes: &[String]) -> LocalOptions {
    LocalOptions {
        include_patterns: patterns,
        exclude_patterns: excludes.to_vec(),
        shared_key_hint: Some(format!("{CONTEXT_LOCAL}-manifests")),
        ..Default::default()
    }
}

/// The hint of a context read narrowed by `filter`: `context` for the whole context.
fn context_hint(filter: &[String]) -> String {
    if filter.is_empty() {
        return CONTEXT_LOCAL.to_owned();
    }
    let hash = hex::encode(Sha256::digest(filter.join("\n")));
    format!("{CONTEXT_LOCAL}-{}", &hash[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn namespace(ns: Option<&str>) -> CacheNamespace {
        let args = ns.map(|ns| (CACHE_MOUNT_NS_ARG.to_owned(), ns.to_owned()));
        CacheNamespace::from_build_args(&args.into_iter().collect()).unwrap()
    }

    fn id(mount: &Mount) -> &str {
        match mount {
            Mount::Cache { id, .. } => id,
            other => panic!("not a cache mount: {other:?}"),
        }
    }

    fn packages(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    /// The target dir id of a project named by `packages` in `toolchain`, on `platform`.
    fn target_id(platform: &str, toolchain: &str, packages: &BTreeSet<String>) -> String {
        let platform: Platform = platform.parse().unwrap();
        let namespace = CacheNamespace::default();
        let mounts = CacheMounts {
            namespace: &namespace,
            platform: &platform,
        };
        let project = TargetDir {
            toolchain,
            workdir: "/build",
            path: ".",
            packages,
        };
        id(&mounts.target_dir("/t".to_owned(), &project)).to_owned()
    }

    #[test]
    fn the_target_dir_moves_with_the_project_toolchain_and_platform() {
        let app = packages(&["app", "app-core"]);
        let key = target_id("linux/amd64", "rust:1", &app);
        assert!(key.starts_with("/flotilla-target-linux-amd64-"), "{key}");
        assert!(key.ends_with("-_2E"), "{key}");
        // The same workspace built again, its packages found in another order: the same dir.
        assert_eq!(
            key,
            target_id("linux/amd64", "rust:1", &packages(&["app-core", "app"]))
        );
        // Another repository with the same toolchain and workdir keeps its own target dir.
        assert_ne!(
            key,
            target_id("linux/amd64", "rust:1", &packages(&["other"]))
        );
        assert_ne!(key, target_id("linux/amd64", "rust:1", &packages(&[])));
        assert_ne!(key, target_id("linux/amd64", "rust:2", &app));
        assert_ne!(key, target_id("linux/arm64", "rust:1", &app));
    }

    #[test]
    fn the_namespace_prefixes_every_cache_id_as_docker_dockerfile_does() {
        let platform = Platform::linux("amd64");
        let spec_cache = |text: &str| -> CacheMount { serde_saphyr::from_str(text).unwrap() };
        for (ns, prefix) in [(None, "/"), (Some(""), "/"), (Some("ci-42"), "ci-42/")] {
            let namespace = namespace(ns);
            let mounts = CacheMounts {
                namespace: &namespace,
                platform: &platform,
            };
            let project = TargetDir {
                toolchain: "rust:1",
                workdir: "/build",
                path: ".",
                packages: &packages(&["app"]),
            };
            let all: Vec<Mount> = mounts
                .cargo("/usr/local/cargo")
                .into_iter()
                .chain([
                    mounts.apt(),
                    mounts.target_dir("/t".to_owned(), &project),
                    mounts.run_step(&spec_cache("{target: /root/.npm, id: npm}")),
                    mounts.run_step(&spec_cache("{target: /root//.cache/./pip/}")),
                ])
                .collect();
            let ids: Vec<&str> = all.iter().map(id).collect();
            let unprefixed: Vec<&str> = ids
                .iter()
                .map(|id| id.strip_prefix(prefix).unwrap())
                .collect();
            assert_eq!(
                unprefixed[..3],
                [
                    "flotilla-cargo-registry-linux-amd64",
                    "flotilla-cargo-git-linux-amd64",
                    "flotilla-apt-cache-linux-amd64",
                ]
            );
            assert!(unprefixed[3].starts_with("flotilla-target-linux-amd64-"));
            assert_eq!(unprefixed[4..], ["npm", "/root/.cache/pip"]);
        }
    }

    #[test]
    fn a_namespace_is_one_name() {
        let error = CacheNamespace::from_build_args(
            &[(CACHE_MOUNT_NS_ARG.to_owned(), "a/b".to_owned())].into(),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "option build-arg:BUILDKIT_CACHE_MOUNT_NS: `a/b` holds a `/` or a control character; a cache namespace is one name, such as `ci-42`"
        );
    }

    #[test]
    fn apt_and_cargo_caches_are_per_platform_and_locked() {
        let namespace = CacheNamespace::default();
        let arm = Platform::linux("arm64");
        let mounts = CacheMounts {
            namespace: &namespace,
            platform: &arm,
        };
        for mount in std::iter::once(&mounts.apt()).chain(&mounts.cargo("/c")) {
            let Mount::Cache { id, sharing, .. } = mount else {
                panic!("{mount:?}")
            };
            assert!(id.ends_with("-linux-arm64"), "{id}");
            assert_eq!(*sharing, CacheSharing::Locked);
        }
    }

    #[test]
    fn a_run_step_cache_keeps_its_sharing() {
        let namespace = CacheNamespace::default();
        let platform = Platform::linux("amd64");
        let mounts = CacheMounts {
            namespace: &namespace,
            platform: &platform,
        };
        let cache: CacheMount = serde_saphyr::from_str("{target: /c, sharing: locked}").unwrap();
        let Mount::Cache { dest, id, sharing } = mounts.run_step(&cache) else {
            panic!("a cache mount")
        };
        assert_eq!((dest.as_str(), id.as_str()), ("/c", "//c"));
        assert_eq!(sharing, CacheSharing::Locked);
    }

    #[test]
    fn project_slugs_are_one_component_each() {
        let slugs: Vec<String> = [".", "a/b", "a-b", "a_2Fb", "a_b", "tool"]
            .iter()
            .map(|path| project_slug(path))
            .collect();
        assert_eq!(slugs, ["_2E", "a_2Fb", "a-b", "a_5F2Fb", "a_5Fb", "tool"]);
    }

    #[test]
    fn cache_targets_are_cleaned_as_go_does() {
        assert_eq!(clean("/root/.npm"), "/root/.npm");
        assert_eq!(clean("/root/.npm/"), "/root/.npm");
        assert_eq!(clean("//a/./b/../c"), "/a/c");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(clean("/"), "/");
    }

    #[test]
    fn project_sources_match_their_paths_alone() {
        assert_eq!(literal_pattern("src/a*b?[c]\\d"), r"src/a\*b\?\[c]\\d");
        let parse = |text: &str| crate::spec::parse(text, "f.yaml").unwrap();
        let manifests = BTreeMap::from([(
            "Cargo.toml".to_owned(),
            "[package]\nname = \"app\"\n".to_owned(),
        )]);
        let sources = |spec: &crate::spec::Spec| {
            let project = spec.builder.projects()[0];
            let sources = crate::stubs::project_sources(&manifests, project).unwrap();
            project_sources(&sources, "dir/flotilla.yaml")
        };
        let narrowed = sources(&parse(
            "version: 1\nbuilder: {image: r, binaries: [app], sources: ['data/[x]']}\nvariants: {v: {from: d}}\n",
        ));
        assert_eq!(
            narrowed.include_patterns,
            [
                ".cargo",
                "Cargo.lock",
                "Cargo.toml",
                "benches",
                "build.rs",
                r"data/\[x]",
                "examples",
                "rust-toolchain",
                "rust-toolchain.toml",
                "src",
                "tests"
            ]
        );
        assert!(narrowed.exclude_patterns.is_empty());
        // `.` among the sources is the whole context, less the spec.
        let whole = sources(&parse(
            "version: 1\nbuilder: {image: r, binaries: [app], sources: [.]}\nvariants: {v: {from: d}}\n",
        ));
        assert!(whole.include_patterns.is_empty());
        assert_eq!(whole.exclude_patterns, ["flotilla.yaml"]);
    }

    #[test]
    fn context_reads_with_different_filters_keep_different_snapshots() {
        let hint = |options: LocalOptions| options.shared_key_hint.unwrap();
        let files = ["Cargo.toml".to_owned(), "Cargo.lock".to_owned()];
        assert_eq!(hint(context_paths(&[])), "context");
        let narrowed = [
            hint(context_paths(&files[..1])),
            hint(context_files(&files)),
            hint(context_without("dir/flotilla.yaml")),
            hint(dockerignore()),
            hint(manifests(vec!["Cargo.toml".to_owned()], &[])),
        ];
        let distinct: BTreeSet<&String> = narrowed.iter().collect();
        assert_eq!(distinct.len(), narrowed.len(), "{narrowed:?}");
        assert!(narrowed.iter().all(|hint| hint.starts_with("context-")));
        assert_eq!(hint(spec_file("flotilla.yaml")), "dockerfile");
        assert_eq!(
            context_without("dir/flotilla.yaml").exclude_patterns,
            ["flotilla.yaml"]
        );
    }
}
