//! The compile subgraph. Per cargo project whose binaries the target needs: a fetch of its
//! dependencies and a dependency layer, both built from the project's own manifests and stub
//! sources only (their cache keys move only with its Cargo.toml files and Cargo.lock), then the
//! real build of the project's sources alone on top of them, which copies the binaries out to an
//! output mount in the same exec (a cache mount is never part of a layer) after checking that
//! cargo produced each of them. Only the short fetch holds the registry cache mounts, which every
//! project shares under a lock; the builds run offline on the fetched copy, so projects compile
//! side by side. A project whose lockfile pins mostly what an earlier project's pins starts its
//! dependency layer from that project's (see [`dependency_bases`]): what both compile the same
//! way is compiled once.

use std::collections::BTreeSet;

use super::{BuildFacts, context_source, range, shell_quote};
use crate::cache_keys::{self, TargetDir};
use crate::error::Error;
use crate::llb::{Copy, CopyOptions, Describe, Exec, FileAction, Mount, NetworkMode, State};
use crate::lockfile::{LockedPackage, registry_dirs};
use crate::platform::Platform;
use crate::spec::{Cross, ProjectRef, Spec};
use crate::stubs::{self, StubPlan};
use crate::target::ARTIFACT_DIR;

/// Where the compile step writes the binaries it hands over (an output mount).
const OUT_MOUNT: &str = "/flotilla-out";
/// Where every project's target dir lives: in the dependency layer, and as a cache mount (one
/// per project). One path for all, so that a dependency layer another one starts from is never
/// relocated.
const TARGET_DIR: &str = "/flotilla/target";
/// Where a dependency layer sees the target dir of the dependency layer it starts from.
const BASE_MOUNT: &str = "/flotilla/base";
/// Where the compile step sees the dependency layer's target dir.
const DEPS_MOUNT: &str = "/flotilla/deps";
/// Where the fetch layer keeps what cargo fetched (`registry/`, `git/` and the `Cargo.lock` it
/// resolved), so the builds need no cache mount and an emptied registry cache (BuildKit hands
/// `--no-cache` builds a fresh one) downloads nothing again while the layer is cached.
const FETCHED: &str = "/flotilla/fetched";
/// Where a fetch sees the registry its base project's fetch got: unused, it only orders the
/// fetches (see [`Toolchain::fetch`]).
const BASE_FETCHED_MOUNT: &str = "/flotilla/base-fetched";
/// Where the compile step sees the fetch layer's [`FETCHED`] directory.
const DEPS_FETCHED_MOUNT: &str = "/flotilla/deps-fetched";
/// The file, in the dependency layer's target dir, naming that layer (a random id written
/// when it is built).
const LAYER_ID: &str = ".flotilla-layer";
/// The file, in the target-dir cache, naming the dependency layer last copied into it.
const SEEDED_ID: &str = ".flotilla-seeded";
/// The build step's variable holding the project's own package names, one a line.
const PACKAGES_VAR: &str = "FLOTILLA_PACKAGES";
/// The fetch's variable holding the registry packages its lockfile pins (`name-version`), one
/// a line.
const FETCH_PACKAGES_VAR: &str = "FLOTILLA_FETCH_PACKAGES";
/// The build step's variable holding the directory, under the target dir, of the profile's
/// output (the triple's, when cross-compiling).
const PROFILE_DIR_VAR: &str = "FLOTILLA_PROFILE_DIR";
/// The build step's variable holding the binaries to hand over, one a line.
const BINARIES_VAR: &str = "FLOTILLA_BINARIES";
/// Keeps cargo from the network in the builds, which run on what the fetch got.
const OFFLINE: &str = "CARGO_NET_OFFLINE=true";
/// CARGO_HOME of the official rust images, used when the toolchain image sets none.
const DEFAULT_CARGO_HOME: &str = "/usr/local/cargo";

/// The toolchain image and what every project's compile shares.
struct Toolchain<'a> {
    /// The toolchain image's root filesystem.
    image: State,
    /// Its environment.
    env: Vec<String>,
    /// Its `CARGO_HOME`, where the registry and git caches are mounted.
    cargo_home: String,
    /// The toolchain image's reference, part of the target dirs' cache ids.
    reference: &'a str,
    /// Where the compile runs: the target platform, or the build platform when cross-compiling.
    run_platform: Platform,
    /// The cross-compiling settings for the target platform, when they apply.
    cross: Option<&'a Cross>,
    spec: &'a Spec,
    facts: &'a BuildFacts,
}

/// Compiles the projects that build a binary of `needed` (every project when `None`) and
/// returns a state whose [`ARTIFACT_DIR`] holds their binaries. A project builds all its
/// binaries whichever the target needs, so that every target shares its compile.
pub(super) fn compile(
    spec: &Spec,
    toolchain: &str,
    needed: Option<&BTreeSet<&str>>,
    facts: &BuildFacts,
) -> Result<State, Error> {
    let builder = &spec.builder;
    let cross = (facts.platform != facts.build_platform)
        .then(|| builder.cross.get(&facts.platform.to_string()))
        .flatten();
    let platform = if cross.is_some() {
        &facts.build_platform
    } else {
        &facts.platform
    };
    let image = facts.image(
        toolchain,
        platform,
        at_builder(spec, format!("[builder] FROM {}", builder.image.value)),
    );
    let env = facts
        .toolchain_env
        .clone()
        .unwrap_or_else(default_toolchain_env);
    let cargo_home = env
        .iter()
        .find_map(|entry| entry.strip_prefix("CARGO_HOME="))
        .unwrap_or(DEFAULT_CARGO_HOME)
        .to_owned();
    let toolchain = Toolchain {
        image,
        env,
        cargo_home,
        reference: toolchain,
        run_platform: platform.clone(),
        cross,
        spec,
        facts,
    };
    let projects = builder
        .projects()
        .into_iter()
        .filter(|project| {
            needed.is_none_or(|needed| {
                project
                    .binaries
                    .iter()
                    .any(|binary| needed.contains(binary.value.name.as_str()))
            })
        })
        .map(|project| toolchain.project(project))
        .collect::<Result<Vec<_>, _>>()?;
    let bases = dependency_bases(
        &projects
            .iter()
            .map(|project| &project.plan.locked)
            .collect::<Vec<_>>(),
    );
    // Each project's fetch and dependency layer, when it has manifests.
    let mut layers: Vec<Option<(State, State)>> = Vec::with_capacity(projects.len());
    for (project, base) in projects.iter().zip(bases) {
        let base = base.and_then(|base| layers[base].as_ref());
        let layer = (!project.plan.manifests.is_empty()).then(|| {
            let fetched = toolchain.fetch(project, base.map(|(fetched, _)| fetched));
            let deps =
                toolchain.dependency_layer(project, fetched.clone(), base.map(|(_, deps)| deps));
            (fetched, deps)
        });
        layers.push(layer);
    }
    let outputs: Vec<State> = projects
        .into_iter()
        .zip(layers)
        .map(|(project, layer)| toolchain.build(project, layer.map(|(_, deps)| deps)))
        .collect();
    match outputs.as_slice() {
        // A variant without binaries never reads this state.
        [] => return Ok(State::scratch()),
        [single] => return Ok(single.clone()),
        _ => {}
    }
    // BuildKit 0.8 has no MergeOp: the projects' outputs are copied into one state.
    let copies: Vec<Copy> = outputs
        .into_iter()
        .map(|output| Copy {
            from: output,
            src: ARTIFACT_DIR.to_owned(),
            dest: ARTIFACT_DIR.to_owned(),
            options: CopyOptions::default(),
        })
        .collect();
    Ok(State::scratch().copy(
        &copies,
        platform,
        at_builder(spec, "[builder] collect binaries".to_owned()),
    ))
}

/// What a project's dependency layer and its build share.
struct Project<'p> {
    /// The project as the spec declares it.
    project: ProjectRef<'p>,
    /// The progress names' stage: `builder`, or `builder:<path>` for a project in a subdirectory.
    stage: String,
    /// Where cargo runs: the project's directory under the workdir.
    dir: String,
    /// The cross-compiling target triple, when cross-compiling.
    triple: Option<&'p str>,
    /// The toolchain's environment with the project's and the cross-compile's variables.
    env: Vec<String>,
    /// The cargo registry and git cache mounts, which only its fetch holds.
    caches: Vec<Mount>,
    /// The stub sources and binaries its dependency layer is built from.
    plan: StubPlan,
    /// The project's sources from the context, which its build mounts at the workdir (writable,
    /// changes discarded) instead of copying them into a layer first.
    sources: State,
}

impl Toolchain<'_> {
    /// What one project's compile is made of: its stub plan, environment and sources.
    fn project<'p>(&self, project: ProjectRef<'p>) -> Result<Project<'p>, Error>
    where
        Self: 'p,
    {
        let workdir = &self.spec.builder.workdir.value;
        let (stage, dir) = match project.path {
            "." => ("builder".to_owned(), workdir.clone()),
            path => (format!("builder:{path}"), format!("{workdir}/{path}")),
        };
        let plan = stubs::stubs(&self.facts.manifests, project.path)?;
        let sources = context_source(
            self.facts,
            cache_keys::project_sources(
                &stubs::project_sources(&self.facts.manifests, project)?,
                &self.spec.document.file,
            ),
            format!("[{stage}] load project sources"),
        );
        let mut env = self.env.clone();
        env.extend(
            project
                .cargo
                .env
                .iter()
                .map(|(k, v)| format!("{}={v}", k.value)),
        );
        env.push(format!("CARGO_TARGET_DIR={TARGET_DIR}"));
        if let Some(cross) = self.cross {
            let variable = cross.target.value.to_uppercase().replace(['-', '.'], "_");
            env.extend(
                cross
                    .linker
                    .iter()
                    .map(|linker| format!("CARGO_TARGET_{variable}_LINKER={}", linker.value)),
            );
            env.extend(cross.env.iter().map(|(k, v)| format!("{}={v}", k.value)));
        }
        Ok(Project {
            project,
            stage,
            dir,
            triple: self.cross.map(|cross| cross.target.value.as_str()),
            env,
            caches: self.facts.cache_mounts().cargo(&self.cargo_home),
            plan,
            sources,
        })
    }

    /// The project's manifests, with empty stub sources for every target they declare or imply,
    /// in the toolchain image: all that its fetch and dependency layer are made of.
    fn skeleton(&self, project: &Project<'_>) -> State {
        let Project { stage, plan, .. } = project;
        let workdir = &self.spec.builder.workdir.value;
        let manifest_tree = context_source(
            self.facts,
            cache_keys::context_files(&plan.manifests),
            format!("[{stage}] load Cargo manifests"),
        );
        let mut actions = vec![FileAction::Copy(Copy {
            from: manifest_tree,
            src: "/".to_owned(),
            dest: workdir.clone(),
            options: CopyOptions::default(),
        })];
        let dirs: BTreeSet<&str> = plan
            .files
            .iter()
            .filter_map(|stub| stub.path.rsplit_once('/').map(|(d, _)| d))
            .collect();
        actions.extend(dirs.into_iter().map(|d| FileAction::Mkdir {
            path: format!("{workdir}/{d}"),
            mode: 0o755,
            parents: true,
            owner: None,
        }));
        actions.extend(plan.files.iter().map(|stub| FileAction::Mkfile {
            path: format!("{workdir}/{}", stub.path),
            mode: 0o644,
            data: stub.content.as_bytes().to_vec(),
            owner: None,
        }));
        self.image.file(
            &actions,
            &self.run_platform,
            at_builder(
                self.spec,
                format!("[{stage}] stub sources from Cargo manifests"),
            ),
        )
    }

    /// `cargo fetch` on the project's skeleton, for the build platform's host and the cross
    /// target: the only exec that holds the registry and git cache mounts, which every project
    /// shares under a lock. It copies what the builds need to [`FETCHED`], with the
    /// `Cargo.lock` cargo resolved: the git caches and the registry index whole, and of the
    /// registry's crates and sources only the packages a `--locked` lockfile pins, since the
    /// shared cache also holds every other project's and every earlier version's (it grows
    /// with a long-lived builder). Without such a lockfile cargo may pin others: all is copied.
    /// A project whose dependency layer starts from `base`'s fetches after `base` (whose fetch
    /// layer it mounts, unused): the cache lock goes first to the project the other waits for,
    /// whose dependencies are then compiling while the other fetches.
    fn fetch(&self, project: &Project<'_>, base: Option<&State>) -> State {
        let fetch = fetch_words(project.project, project.triple);
        let mut env = project.env.clone();
        let registry = match registry_dirs(&project.plan.locked)
            .filter(|_| project.project.cargo.locked && project.plan.has_lockfile)
        {
            Some(dirs) => {
                env.push(format!("{FETCH_PACKAGES_VAR}={}", dirs.join("\n")));
                copy_locked_packages()
            }
            None => format!("cp -a \"$CARGO_HOME/registry\" {FETCHED}/\n"),
        };
        let mut mounts = project.caches.clone();
        mounts.extend(base.map(|base| Mount::Bind {
            dest: BASE_FETCHED_MOUNT.to_owned(),
            from: base.clone(),
            selector: format!("{FETCHED}/registry"),
        }));
        let exec = Exec {
            args: shell(
                format!(
                    "set -eu\nhost=$(rustc -vV | sed -n 's/^host: //p')\n\"$@\" --target \"$host\"\n\
                     mkdir -p {FETCHED}\ncp -a \"$CARGO_HOME/git\" {FETCHED}/\n{registry}\
                     [ ! -f Cargo.lock ] || cp -p Cargo.lock {FETCHED}/\n"
                ),
                &fetch,
            ),
            env,
            cwd: project.dir.clone(),
            user: String::new(),
            mounts,
            network: NetworkMode::Sandbox,
        };
        self.skeleton(project)
            .run(
                exec,
                &self.run_platform,
                at_builder(
                    self.spec,
                    format!("[{}] {}", project.stage, command_line(&fetch)),
                ),
            )
            .root
    }

    /// `from`'s fetched registry and git db where cargo looks for them, read-only: the builds
    /// run offline on what the fetch got, with no cache mount another project waits for.
    fn fetched(&self, from: &State) -> Vec<Mount> {
        ["registry", "git"]
            .into_iter()
            .map(|dir| Mount::Bind {
                dest: format!("{}/{dir}", self.cargo_home),
                from: from.clone(),
                selector: format!("{FETCHED}/{dir}"),
            })
            .collect()
    }

    /// The dependency layer: the project's skeleton built offline on its fetch, so that its
    /// cache key moves only with the manifests, not with every source change. It starts from a
    /// copy of `base`'s target dir when given, and keeps its own at [`TARGET_DIR`] with a
    /// random [`LAYER_ID`] that tells the build whether its target-dir cache already holds
    /// this layer.
    fn dependency_layer(
        &self,
        project: &Project<'_>,
        fetched: State,
        base: Option<&State>,
    ) -> State {
        let deps_cargo = cargo_words(project.project, project.triple, |name| {
            project.plan.bins.contains(name)
        });
        let mut env = project.env.clone();
        env.push(OFFLINE.to_owned());
        let mut script = String::from("set -eu\nmkdir -p \"$CARGO_TARGET_DIR\"\n");
        let mut mounts = self.fetched(&fetched);
        if let Some(base) = base {
            script.push_str(&format!("cp -a {BASE_MOUNT}/. \"$CARGO_TARGET_DIR\"/\n"));
            mounts.push(Mount::Bind {
                dest: BASE_MOUNT.to_owned(),
                from: base.clone(),
                selector: TARGET_DIR.to_owned(),
            });
        }
        script.push_str(&format!(
            "\"$@\"\ncat /proc/sys/kernel/random/uuid >\"$CARGO_TARGET_DIR/{LAYER_ID}\"\n"
        ));
        let exec = Exec {
            args: shell(script, &deps_cargo),
            env,
            cwd: project.dir.clone(),
            user: String::new(),
            mounts,
            network: NetworkMode::Sandbox,
        };
        fetched
            .run(
                exec,
                &self.run_platform,
                at_builder(
                    self.spec,
                    format!(
                        "[{}] {} (dependencies only)",
                        project.stage,
                        command_line(&deps_cargo)
                    ),
                ),
            )
            .root
    }

    /// The build of the project's binaries from its sources, on its dependency layer `deps` when
    /// there is one; the binaries come out in an output mount, checked first.
    fn build(&self, project: Project<'_>, deps: Option<State>) -> State {
        let Project {
            project,
            stage,
            dir,
            triple,
            mut env,
            caches,
            plan,
            sources,
        } = project;
        let workdir = &self.spec.builder.workdir.value;
        let cargo = cargo_words(project, triple, |_| true);
        // Cargo puts a cross build's output under the target triple.
        let profile_dir = match triple {
            Some(triple) => format!("{triple}/{}", profile_dir(&project.cargo.profile.value)),
            None => profile_dir(&project.cargo.profile.value).to_owned(),
        };
        let binaries: Vec<&str> = project
            .binaries
            .iter()
            .map(|b| b.value.name.as_str())
            .collect();
        env.extend([
            format!("{PROFILE_DIR_VAR}={profile_dir}"),
            format!("{BINARIES_VAR}={}", binaries.join("\n")),
        ]);
        let mut script = String::from("set -eu\n");
        let mut mounts = vec![self.facts.cache_mounts().target_dir(
            TARGET_DIR.to_owned(),
            &TargetDir {
                toolchain: self.reference,
                workdir,
                path: project.path,
                packages: &plan.packages,
            },
        )];
        // On a dependency layer the build is offline (cargo runs on what the fetch got), so it
        // gets no network: BuildKit skips setting one up (0.1 s on Docker 26, 0.2 s on 20.10,
        // of every edit's rebuild), and the project's own build scripts cannot reach out.
        let network = match deps {
            Some(deps) => {
                // Seed the target-dir cache with a dependency layer it does not hold yet. That
                // layer compiled the project's packages from stubs, and may overwrite outputs
                // of theirs that an earlier build left here: cargo forgets the packages once,
                // and rebuilds them. Later builds leave the cache to cargo, which rebuilds an
                // edited crate and its dependents (the sources keep the client's mtimes).
                script.push_str(&format!(
                    "if ! cmp -s {DEPS_MOUNT}/{LAYER_ID} \"$CARGO_TARGET_DIR/{SEEDED_ID}\"; then\n\
                     cp -a -u {DEPS_MOUNT}/. \"$CARGO_TARGET_DIR\"/\n{}\
                     cp {DEPS_MOUNT}/{LAYER_ID} \"$CARGO_TARGET_DIR/{SEEDED_ID}\"\nfi\n\
                     lock={DEPS_FETCHED_MOUNT}/Cargo.lock\n\
                     if [ -f \"$lock\" ] && ! cmp -s \"$lock\" Cargo.lock; then cp -p \"$lock\" Cargo.lock; fi\n",
                    forget_packages()
                ));
                env.extend([
                    OFFLINE.to_owned(),
                    format!(
                        "{PACKAGES_VAR}={}",
                        plan.packages.iter().cloned().collect::<Vec<_>>().join("\n")
                    ),
                ]);
                mounts.extend(self.fetched(&deps));
                mounts.extend([
                    Mount::Bind {
                        dest: DEPS_MOUNT.to_owned(),
                        from: deps.clone(),
                        selector: TARGET_DIR.to_owned(),
                    },
                    Mount::Bind {
                        dest: DEPS_FETCHED_MOUNT.to_owned(),
                        from: deps,
                        selector: FETCHED.to_owned(),
                    },
                ]);
                NetworkMode::None
            }
            // No manifest to fetch from: cargo downloads what it needs itself.
            None => {
                mounts.extend(caches);
                NetworkMode::Sandbox
            }
        };
        // Binaries left in the target cache by an earlier build must not pass for this one's.
        // The binaries come one a line and are split on newlines only, never globbed.
        script.push_str(&format!(
            "built=\"$CARGO_TARGET_DIR/${PROFILE_DIR_VAR}\"\nout={OUT_MOUNT}{ARTIFACT_DIR}\nIFS='\n'\nset -f\n\
             for b in ${BINARIES_VAR}; do rm -f \"$built/$b\"; done\n\"$@\"\nmissing=''\n\
             for b in ${BINARIES_VAR}; do [ -x \"$built/$b\" ] || missing=\"$missing $b\"; done\n\
             if [ -n \"$missing\" ]; then echo \"flotilla: cargo build did not produce these binaries:$missing\" >&2; exit 1; fi\n\
             mkdir -p \"$out\"\nfor b in ${BINARIES_VAR}; do cp \"$built/$b\" \"$out/\"; done\n"
        ));
        mounts.extend([
            Mount::BindWritable {
                dest: workdir.clone(),
                from: sources,
            },
            Mount::Output {
                dest: OUT_MOUNT.to_owned(),
            },
        ]);
        let exec = Exec {
            args: shell(script, &cargo),
            env,
            cwd: dir,
            user: String::new(),
            mounts,
            network,
        };
        let result = self.image.run(
            exec,
            &self.run_platform,
            at_builder(self.spec, format!("[{stage}] {}", command_line(&cargo))),
        );
        result.outputs.into_iter().next().unwrap_or_default()
    }
}

/// For each project (by its lockfile's pinned packages, in build order), the earlier project
/// whose dependency layer its own starts from: the one pinning the most of the same packages,
/// when that is at least half of its own. Cargo reuses what that layer compiled with the same
/// version, features and profile, so projects that share most of their dependencies compile
/// them once, one after the other; projects that share little compile side by side. The first
/// of equals wins, so the decision is deterministic.
fn dependency_bases(locked: &[&BTreeSet<LockedPackage>]) -> Vec<Option<usize>> {
    locked
        .iter()
        .enumerate()
        .map(|(index, own)| {
            let (base, shared) = locked[..index]
                .iter()
                .enumerate()
                .map(|(earlier, theirs)| (earlier, own.intersection(theirs).count()))
                .rev()
                .max_by_key(|&(_, shared)| shared)?;
            (shared > 0 && shared * 2 >= own.len()).then_some(base)
        })
        .collect()
}

/// The `cargo fetch` argv of a project; the script adds the host's `--target`, so that with
/// the cross target's it fetches what a build for either needs, and no other platform's crates.
fn fetch_words(project: ProjectRef<'_>, triple: Option<&str>) -> Vec<String> {
    let mut words = vec!["cargo".to_owned(), "fetch".to_owned()];
    if project.cargo.locked {
        words.push("--locked".to_owned());
    }
    if let Some(triple) = triple {
        words.extend(["--target".to_owned(), triple.to_owned()]);
    }
    words
}

/// The `cargo build` argv of a project, for target `triple` when cross-compiling; `select`
/// picks the binaries passed as `--bin`.
fn cargo_words(
    project: ProjectRef<'_>,
    triple: Option<&str>,
    select: impl Fn(&str) -> bool,
) -> Vec<String> {
    let cargo = project.cargo;
    let mut words = vec!["cargo".to_owned(), "build".to_owned()];
    if cargo.locked {
        words.push("--locked".to_owned());
    }
    words.extend(["--profile".to_owned(), cargo.profile.value.clone()]);
    if cargo.no_default_features {
        words.push("--no-default-features".to_owned());
    }
    if !cargo.features.is_empty() {
        let features: Vec<&str> = cargo.features.iter().map(|f| f.value.as_str()).collect();
        words.extend(["--features".to_owned(), features.join(",")]);
    }
    let packages: BTreeSet<&str> = project
        .binaries
        .iter()
        .filter_map(|b| b.value.package.as_deref())
        .collect();
    for package in packages {
        words.extend(["-p".to_owned(), package.to_owned()]);
    }
    for binary in project.binaries.iter().filter(|b| select(&b.value.name)) {
        words.extend(["--bin".to_owned(), binary.value.name.clone()]);
    }
    if let Some(triple) = triple {
        words.extend(["--target".to_owned(), triple.to_owned()]);
    }
    words.extend(cargo.args.iter().map(|arg| arg.value.clone()));
    words
}

/// `words` as a shell would read them, for progress names.
fn command_line(words: &[String]) -> String {
    words
        .iter()
        .map(|word| shell_quote(word))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `script` with `/bin/sh`, `args` as its positional parameters (`"$@"`): no value is
/// ever part of the script's text.
fn shell(script: String, args: &[String]) -> Vec<String> {
    ["/bin/sh", "-c"]
        .into_iter()
        .map(str::to_owned)
        .chain([script, "sh".to_owned()])
        .chain(args.iter().cloned())
        .collect()
}

/// Copies the registry index, and the crates and sources of the packages in
/// `$FLOTILLA_FETCH_PACKAGES` (`name-version`, one a line, read as data), from every registry
/// in the cache to [`FETCHED`]: one `cp` per registry directory. A package cargo did not fetch
/// (another platform's) is not there, and is skipped.
fn copy_locked_packages() -> String {
    format!(
        "mkdir -p {FETCHED}/registry\n\
         [ ! -d \"$CARGO_HOME/registry/index\" ] || cp -a \"$CARGO_HOME/registry/index\" {FETCHED}/registry/\n\
         for kind in cache src; do\n  \
         for reg in \"$CARGO_HOME/registry/$kind\"/*/; do\n    \
         [ -d \"$reg\" ] || continue\n    set --\n    \
         while IFS= read -r p; do\n      [ -n \"$p\" ] || continue\n      \
         for f in \"$reg$p.crate\" \"$reg$p\"; do [ ! -e \"$f\" ] || set -- \"$@\" \"$f\"; done\n    \
         done <<EOF\n${FETCH_PACKAGES_VAR}\nEOF\n    \
         out={FETCHED}/registry/$kind/$(basename \"$reg\")\n    mkdir -p \"$out\"\n    \
         [ $# -eq 0 ] || cp -a \"$@\" \"$out\"/\n  \
         done\ndone\n"
    )
}

/// Removes what cargo recorded of the project's own packages (`$FLOTILLA_PACKAGES`) in every
/// profile dir of the target dir, host and `--target` triple ones alike: each unit's
/// fingerprint `.fingerprint/<pkg>-<16 hex>` and build-script dir `build/<pkg>-<16 hex>`.
/// cargo then compiles those packages again, and judges them by its own mtime checks after.
fn forget_packages() -> String {
    format!(
        "h='[0-9a-f]'\nh16=$h$h$h$h$h$h$h$h$h$h$h$h$h$h$h$h\nIFS='\n'\nset -f\n\
         for p in ${PACKAGES_VAR}; do\n  set +f\n  \
         for d in \"$CARGO_TARGET_DIR\"/*/.fingerprint \"$CARGO_TARGET_DIR\"/*/*/.fingerprint; do\n    \
         [ -d \"$d\" ] || continue\n    rm -rf \"$d/$p-\"$h16 \"${{d%/.fingerprint}}/build/$p-\"$h16\n  \
         done\n  set -f\ndone\nset +f\nunset IFS\n"
    )
}

fn at_builder(spec: &Spec, name: String) -> Describe {
    Describe {
        name,
        location: Some(range(&spec.builder.image)),
    }
}

/// The directory under `target/` where cargo puts a profile's output.
fn profile_dir(profile: &str) -> &str {
    match profile {
        "dev" | "test" => "debug",
        "bench" => "release",
        other => other,
    }
}

fn default_toolchain_env() -> Vec<String> {
    vec![
        format!(
            "PATH={DEFAULT_CARGO_HOME}/bin:{}",
            crate::image::DEFAULT_PATH
        ),
        format!("CARGO_HOME={DEFAULT_CARGO_HOME}"),
        "RUSTUP_HOME=/usr/local/rustup".to_owned(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pinned(names: &[&str]) -> BTreeSet<LockedPackage> {
        names
            .iter()
            .map(|name| format!("{name} 1.0.0 registry+x"))
            .collect()
    }

    #[test]
    fn projects_sharing_most_dependencies_start_from_the_earlier_layer() {
        let main = pinned(&["a", "b", "c", "d"]);
        let agent = pinned(&["a", "b", "c"]);
        let other = pinned(&["x", "y", "a"]);
        let half = pinned(&["a", "b", "x", "y"]);
        let none = BTreeSet::new();
        assert_eq!(
            dependency_bases(&[&main, &agent, &other, &half, &none]),
            [None, Some(0), None, Some(2), None]
        );
        // The earliest of equally good bases; an unrelated project in between changes nothing.
        assert_eq!(
            dependency_bases(&[&other, &main, &agent, &agent]),
            [None, None, Some(1), Some(1)]
        );
        assert_eq!(
            dependency_bases(&[&agent, &main, &agent]),
            [None, Some(0), Some(0)]
        );
    }

    #[test]
    fn profile_dirs_follow_cargo() {
        assert_eq!(profile_dir("dev"), "debug");
        assert_eq!(profile_dir("release"), "release");
        assert_eq!(profile_dir("dist"), "dist");
    }
}
