//! Which CI targets a change can affect (`llb-gen targets --json --changed PATH…`/`--since REF`),
//! so CI builds only the images that can change. Each target of the spec before and after the
//! change goes through the plan with the same fixed facts (every platform of the run, a fixed
//! prebuilt builder so that the compile's inputs are judged apart, a made-up base config), and
//! what makes its image is compared: the Definition's ops (not its metadata, which holds spec
//! lines) and the image config. The changed paths are then matched against what each variant
//! reads from the context and what each cargo project compiles. A change that cannot be
//! analysed builds every target. Pure: the caller reads git and the context.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::Error;
use crate::graph::BuildFacts;
use crate::image::ImageConfig;
use crate::llb::SourceFile;
use crate::model::{Step, Variant};
use crate::plan::{self, BuildRequest};
use crate::platform::Platform;
use crate::resolve::ArgValues;
use crate::spec::{ARTIFACT_TARGET, Spec};
use crate::syntax::context_path;
use crate::target::{self, BUILDER_IMAGE_ARG};

mod report;
mod sources;

pub use report::{ChangePlan, Reasoned};
use sources::related;

/// What the plan tells CI besides its decisions: git does not show base images.
pub const NOTE: &str = "Base image digests cannot be seen from git: a base or toolchain image \
updated under the same tag rebuilds nothing here. Pin them by digest through the spec's args, \
or build everything on a schedule (a plan without --changed or --since).";

/// The spec file before the change, as the caller could learn it.
#[derive(Clone, Debug)]
pub enum OldSpec {
    /// The spec file did not change.
    Unchanged,
    /// Its text before the change.
    Text(String),
    /// It cannot be known; the words say why, and every target is built.
    Unknown(String),
}

/// A change to judge.
#[derive(Clone, Debug)]
pub struct Change {
    /// The changed paths, relative to the build context and normalized as
    /// [`context_path`] does (`""` is the whole context); a directory stands for what it holds.
    pub paths: Vec<String>,
    /// The spec before the change.
    pub old_spec: OldSpec,
}

/// Whether one target is built, and why in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The target, as `llb-gen targets` lists it.
    pub target: String,
    /// Whether its image can change, so its jobs run.
    pub built: bool,
    /// Why it is built; for a skipped target, the one reason nothing it is made of changed.
    pub reasons: Vec<String>,
}

/// The decision for each target of the spec, in the order `llb-gen targets` lists them.
#[derive(Clone, Debug)]
pub struct Affected {
    /// One per target.
    pub decisions: Vec<Decision>,
}

/// Judges `change` for `spec` (the spec after it), whose build context has the Cargo
/// `manifests` (context-relative path → text), on each of `platforms`.
pub fn affected(
    spec: &Spec,
    manifests: &BTreeMap<String, String>,
    platforms: &[Platform],
    change: &Change,
) -> Affected {
    let names: Vec<String> = target::list(spec).into_iter().map(|t| t.name).collect();
    let judged = before(spec, change).and_then(|old| {
        let projects = changed_projects(spec, manifests, &change.paths)?;
        let judge = Judge {
            spec,
            old: old.as_ref(),
            platforms,
            paths: &change.paths,
            projects: &projects,
        };
        Ok(names.iter().map(|name| judge.decide(name)).collect())
    });
    let decisions = judged.unwrap_or_else(|why| {
        let why = format!("{why}; every target is built");
        names
            .into_iter()
            .map(|target| Decision {
                target,
                built: true,
                reasons: vec![why.clone()],
            })
            .collect()
    });
    Affected { decisions }
}

/// The spec before the change when it differs (`None` when it did not change), or why the
/// change cannot be analysed.
fn before(spec: &Spec, change: &Change) -> Result<Option<Spec>, String> {
    if let Some(path) = change.paths.iter().find(|p| related(p, ".dockerignore")) {
        return Err(format!(
            "`.dockerignore` changed ({}), and it filters every read of the context",
            shown(path)
        ));
    }
    let text = match &change.old_spec {
        OldSpec::Unchanged => return Ok(None),
        OldSpec::Unknown(why) => return Err(why.clone()),
        OldSpec::Text(text) if *text == spec.document.text => return Ok(None),
        OldSpec::Text(text) => text,
    };
    let old = crate::load(text, &spec.document.file)
        .map_err(|error| format!("the spec before the change is not valid ({error})"))?;
    if syntax_directive(text) != syntax_directive(&spec.document.text) {
        return Err("the spec's `# syntax=` line changed, so another frontend builds it".into());
    }
    let (was, now) = (top_level(text)?, top_level(&spec.document.text)?);
    for (key, what) in [("args", "the top-level `args`"), ("builder", "`builder`")] {
        if was.get(key) != now.get(key) {
            return Err(format!("{what} changed"));
        }
    }
    Ok(Some(old))
}

/// The spec's top-level mappings as plain values: comments and positions left out.
fn top_level(text: &str) -> Result<Map<String, Value>, String> {
    match serde_saphyr::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("the spec is not a mapping".to_owned()),
        Err(error) => Err(format!("the spec cannot be compared ({error})")),
    }
}

/// The value of the `# syntax=` directive among the leading comment lines, which picks the
/// frontend that builds the spec.
fn syntax_directive(text: &str) -> Option<&str> {
    text.lines()
        .map_while(|line| line.strip_prefix('#'))
        .find_map(|directive| {
            let (key, value) = directive.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case("syntax")
                .then(|| value.trim())
        })
}

/// A cargo project with sources among the changed paths.
struct ChangedProject {
    /// Its path as the spec writes it (`.` for the root).
    name: String,
    /// The binaries it builds.
    binaries: Vec<String>,
    /// The changed paths among its sources.
    paths: Vec<String>,
}

/// The projects whose sources hold a changed path, or why they cannot be told.
fn changed_projects(
    spec: &Spec,
    manifests: &BTreeMap<String, String>,
    paths: &[String],
) -> Result<Vec<ChangedProject>, String> {
    let dir = |path: &str| context_path(path).unwrap_or_default();
    let dirs: Vec<String> = spec
        .builder
        .projects
        .iter()
        .map(|(path, _)| dir(&path.value))
        .chain([String::new()])
        .collect();
    let mut changed = Vec::new();
    for project in spec.builder.projects() {
        let sources = sources::sources(project, &dir(project.path), &dirs, manifests)
            .map_err(|error| error.to_string())?;
        let paths: Vec<String> = paths
            .iter()
            .filter(|path| sources.covers(path))
            .cloned()
            .collect();
        if !paths.is_empty() {
            changed.push(ChangedProject {
                name: project.path.to_owned(),
                binaries: project
                    .binaries
                    .iter()
                    .map(|binary| binary.value.name.clone())
                    .collect(),
                paths,
            });
        }
    }
    Ok(changed)
}

/// The builder image every comparison uses: binaries are judged by their projects' sources.
const PLAN_BUILDER: &str = "flotilla.invalid/plan/artifact:fixed";

/// What makes a target's image, as the plan builds it with the fixed facts.
#[derive(Debug, PartialEq)]
struct Fingerprint {
    /// The Definition's ops, without its metadata and source map.
    ops: Vec<Vec<u8>>,
    /// The image config.
    config: ImageConfig,
    /// The variant's env as written: a value that reads the real base image's env can differ
    /// where the made-up base config gives both sides the same.
    env: Vec<(String, String)>,
}

/// A target built on one platform.
struct Image {
    fingerprint: Fingerprint,
    /// What it reads from the context: how (for the words) and the path (`""`: everything).
    reads: Vec<(&'static str, String)>,
    /// The binaries it holds.
    binaries: Vec<String>,
}

/// A base config whose every field a variant may fall back on is set, so that a value that
/// only equals the empty default on one side still shows.
fn probe_base(platform: &Platform) -> ImageConfig {
    let mut base = ImageConfig::scratch(platform);
    base.config.env = Some(vec!["PATH=/flotilla-plan/bin".to_owned()]);
    base.config.user = Some("flotilla-plan".to_owned());
    base.config.working_dir = Some("/flotilla-plan".to_owned());
    base
}

/// Builds `target` of `spec` for `platform` as CI would from a prebuilt artifact.
fn image(spec: &Spec, target: &str, platform: &Platform) -> Result<Image, Error> {
    let args = BTreeMap::from([(BUILDER_IMAGE_ARG.to_owned(), PLAN_BUILDER.to_owned())]);
    let request = BuildRequest::new(Some(target.to_owned()), ArgValues::native(args, platform))?;
    let plan = plan::plan(spec, &request)?;
    let facts = BuildFacts {
        base_config: Some(probe_base(platform)),
        ..plan.known_facts()
    };
    let source = SourceFile {
        name: &spec.document.file,
        data: spec.document.text.as_bytes(),
    };
    let built = plan.build(&facts, source)?;
    let variant = plan.target.variant.as_ref();
    Ok(Image {
        fingerprint: Fingerprint {
            ops: built.definition.def,
            config: built.config,
            env: variant.map(written_env).unwrap_or_default(),
        },
        reads: variant.map(Variant::context_reads).unwrap_or_default(),
        binaries: match variant {
            Some(variant) => variant
                .binaries
                .iter()
                .map(|b| b.name.value.clone())
                .collect(),
            None => spec
                .builder
                .binaries()
                .map(|b| b.value.name.clone())
                .collect(),
        },
    })
}

fn written_env(variant: &Variant) -> Vec<(String, String)> {
    variant
        .steps()
        .filter_map(|step| match step {
            Step::Env(env) => Some(env.iter()),
            _ => None,
        })
        .flatten()
        .map(|(name, value)| (name.value.clone(), value.value.clone()))
        .collect()
}

/// What every target's decision looks at.
struct Judge<'a> {
    spec: &'a Spec,
    /// The spec before the change, when it changed.
    old: Option<&'a Spec>,
    platforms: &'a [Platform],
    paths: &'a [String],
    projects: &'a [ChangedProject],
}

impl Judge<'_> {
    fn decide(&self, target: &str) -> Decision {
        let decision = |reasons: Vec<String>, built| Decision {
            target: target.to_owned(),
            built,
            reasons,
        };
        let now = match self
            .platforms
            .iter()
            .map(|platform| image(self.spec, target, platform))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(now) => now,
            Err(error) => return decision(vec![format!("it cannot be built ({error})")], true),
        };
        let mut reads: Vec<&(&str, String)> = now.iter().flat_map(|image| &image.reads).collect();
        reads.sort();
        reads.dedup();
        let mut binaries: Vec<String> = now.iter().flat_map(|i| i.binaries.clone()).collect();
        binaries.sort();
        binaries.dedup();
        let reasons: Vec<String> = (self.definition(target, &now).into_iter())
            .chain(self.changed_reads(&reads))
            .chain(self.changed_binaries(target, &binaries))
            .collect();
        if reasons.is_empty() {
            decision(vec![self.unchanged(target, &reads, &binaries)], false)
        } else {
            decision(reasons, true)
        }
    }

    /// For each context read that a changed path touches, why.
    fn changed_reads(&self, reads: &[&(&str, String)]) -> Vec<String> {
        let mut reasons = Vec::new();
        for (how, read) in reads {
            let changed: Vec<String> = self
                .paths
                .iter()
                .filter(|path| related(path, read))
                .cloned()
                .collect();
            if !changed.is_empty() {
                let read = if read.is_empty() {
                    "the whole context"
                } else {
                    read
                };
                reasons.push(format!("it {how} {read}, and {} changed", listed(&changed)));
            }
        }
        reasons
    }

    /// For each changed project that `target` compiles or holds binaries of, why.
    fn changed_binaries(&self, target: &str, binaries: &[String]) -> Vec<String> {
        let mut reasons = Vec::new();
        for project in self.projects {
            let held: Vec<String> = binaries
                .iter()
                .filter(|binary| project.binaries.contains(binary))
                .map(|binary| format!("`{binary}`"))
                .collect();
            let paths = listed(&project.paths);
            if target == ARTIFACT_TARGET {
                reasons.push(format!(
                    "it compiles project `{}`, whose sources changed ({paths})",
                    project.name
                ));
            } else if !held.is_empty() {
                reasons.push(format!(
                    "it holds {} of project `{}`, whose sources changed ({paths})",
                    held.join(", "),
                    project.name
                ));
            }
        }
        reasons
    }

    /// Why the target's image differs before and after the change, if it does.
    fn definition(&self, target: &str, now: &[Image]) -> Option<String> {
        let old = self.old?;
        let mut differ = Vec::new();
        for (platform, now) in self.platforms.iter().zip(now) {
            match image(old, target, platform) {
                Err(Error::UnknownTarget { .. } | Error::AbstractTarget { .. }) => {
                    return Some("it is new: it was no target before the change".to_owned());
                }
                Err(error) => {
                    return Some(format!("before the change it could not be built ({error})"));
                }
                Ok(before) if before.fingerprint != now.fingerprint => {
                    differ.push(platform.to_string());
                }
                Ok(_) => {}
            }
        }
        (!differ.is_empty()).then(|| {
            format!(
                "its resolved definition or image config changed (on {})",
                differ.join(", ")
            )
        })
    }

    /// Why nothing `target` is made of changed, in words.
    fn unchanged(&self, target: &str, reads: &[&(&str, String)], binaries: &[String]) -> String {
        let platforms: Vec<String> = self.platforms.iter().map(Platform::to_string).collect();
        let spec = match self.old {
            Some(_) => format!(
                "its resolved definition and image config are the same (on {})",
                platforms.join(", ")
            ),
            None => "the spec did not change".to_owned(),
        };
        if target == ARTIFACT_TARGET {
            return format!("{spec}, and no changed path is in a cargo project's sources");
        }
        let reads = match reads {
            [] => "it reads nothing from the context".to_owned(),
            reads => {
                let paths: Vec<&str> = reads.iter().map(|(_, path)| shown(path)).collect();
                format!("no changed path is in what it reads ({})", paths.join(", "))
            }
        };
        let binaries = match binaries {
            [] => "it holds no binary".to_owned(),
            binaries => format!(
                "the projects of its binaries ({}) did not change",
                binaries.join(", ")
            ),
        };
        format!("{spec}, {reads}, and {binaries}")
    }
}

/// A context path as a person writes it: the whole context is `.`.
fn shown(path: &str) -> &str {
    if path.is_empty() { "." } else { path }
}

/// A few paths in words: `a, b, c and 2 more`.
fn listed(paths: &[String]) -> String {
    const NAMED: usize = 3;
    let named: Vec<&str> = paths.iter().take(NAMED).map(|path| shown(path)).collect();
    match paths.len().saturating_sub(NAMED) {
        0 => named.join(", "),
        more => format!("{} and {more} more", named.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "version: 1
builder: {image: rust, binaries: [app]}
variants:
  a:
    from: debian
    env: {X: '${HOME}'}
    run: [echo a]
    copy: [{src: conf, dest: /etc/conf}]
    binaries: {app: /app}
  b:
    from: debian
    run: [{run: echo b, bind: [{src: vendor, target: /v}]}]
  c: {from: debian, copy: [{src: ., dest: /ctx}]}
";

    /// The built targets of `spec` after a change from `old` (`None`: the spec did not
    /// change) touching `paths`, and the first reason of the first one.
    fn built(old: Option<&str>, spec: &str, paths: &[&str]) -> (Vec<String>, String) {
        let spec = crate::load(spec, "f.yaml").unwrap();
        let change = Change {
            paths: paths.iter().map(|path| (*path).to_owned()).collect(),
            old_spec: old.map_or(OldSpec::Unchanged, |old| OldSpec::Text(old.to_owned())),
        };
        let platforms = [Platform::linux("amd64"), Platform::linux("arm64")];
        let affected = affected(&spec, &BTreeMap::new(), &platforms, &change);
        let built: Vec<&Decision> = affected.decisions.iter().filter(|d| d.built).collect();
        let reason = built
            .first()
            .map(|d| d.reasons[0].clone())
            .unwrap_or_default();
        (built.iter().map(|d| d.target.clone()).collect(), reason)
    }

    fn targets(old: &str, new: &str) -> Vec<String> {
        built(Some(old), new, &[]).0
    }

    #[test]
    fn paths_reach_the_variants_that_read_them_and_the_artifact_its_sources() {
        assert_eq!(built(None, SPEC, &["conf/x.toml"]).0, ["a", "c"]);
        assert_eq!(built(None, SPEC, &["vendor"]).0, ["b", "c"]);
        assert_eq!(built(None, SPEC, &["README.md"]).0, ["c"]);
        let (built, reason) = built(None, SPEC, &["Cargo.lock"]);
        assert_eq!(built, ["a", "c", "artifact"]);
        assert_eq!(
            reason,
            "it holds `app` of project `.`, whose sources changed (Cargo.lock)"
        );
    }

    #[test]
    fn a_value_that_only_the_real_base_image_tells_apart_is_a_change() {
        // `${HOME}` is empty in the plan's base config, and in the real base image it is not.
        assert_eq!(targets(SPEC, &SPEC.replace("'${HOME}'", "''")), ["a"]);
        // The step ran in the base image's workdir, now in `/`.
        let moved = SPEC.replace("run: [echo a]", "run: [{run: echo a, workdir: /}]");
        assert_eq!(targets(SPEC, &moved), ["a"]);
    }

    #[test]
    fn what_cannot_be_analysed_builds_everything() {
        let all = ["a", "b", "c", "artifact"];
        let everything = |old: &str, new: &str| {
            let (built, reason) = built(Some(old), new, &[]);
            assert_eq!(built, all, "{reason}");
            reason
        };
        let rust2 = SPEC.replace("image: rust", "image: rust:2");
        assert_eq!(
            everything(SPEC, &rust2),
            "`builder` changed; every target is built"
        );
        let syntax = everything(
            &format!("# syntax=a\n{SPEC}"),
            &format!("# syntax=b\n{SPEC}"),
        );
        assert!(syntax.starts_with("the spec's `# syntax=` line changed"));
        let invalid = everything("version: 1\n", SPEC);
        assert!(invalid.starts_with("the spec before the change is not valid (f.yaml:1:1"));
        let ignore = built(None, SPEC, &[".dockerignore"]).0;
        assert_eq!(ignore, all);
    }

    #[test]
    fn a_new_variant_is_built_and_says_so() {
        let new = format!("{SPEC}  d: {{from: debian}}\n");
        let (built, reason) = built(Some(SPEC), &new, &[]);
        assert_eq!(built, ["d"]);
        assert_eq!(reason, "it is new: it was no target before the change");
    }
}
