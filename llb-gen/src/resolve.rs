//! A variant as it is built: its `extends` chain merged (parents first, later parents over
//! earlier ones, the variant over all), then build args substituted in every string.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::rc::Rc;

use crate::args::{Budget, Scope, SubstituteError, Value};
use crate::diagnostic::{Diagnostic, Position, listed};
use crate::platform::Platform;
use crate::spec::{
    BinaryInstall, Command, CopyStep, NamedMap, RunStep, Spanned, Spec, Stage, Variant, position,
    unspanned,
};

/// The OCI label the top-level `source:` sets.
pub const SOURCE_LABEL: &str = "org.opencontainers.image.source";
/// The OCI label the top-level `revision:` sets.
pub const REVISION_LABEL: &str = "org.opencontainers.image.revision";
/// The most a spec's merges may copy, in about the bytes the copies take (see [`weight`]):
/// each variant is a copy of all it extends, so a parent that many variants extend, or a long
/// chain of variants that each add a step, multiplies the spec. A spec of hundreds of variants
/// copies a few megabytes.
pub const MAX_INHERITED_BYTES: usize = 32 << 20;

/// What a build gives the args: `--build-arg` values and the platforms.
#[derive(Clone, Debug)]
pub struct ArgValues {
    /// `--build-arg NAME=value`, as given (not substituted).
    pub build_args: BTreeMap<String, String>,
    /// The platform the image is for (`TARGETPLATFORM`…).
    pub target_platform: Platform,
    /// The platform the build runs on (`BUILDPLATFORM`…).
    pub build_platform: Platform,
}

impl ArgValues {
    /// Values for a native build on `platform`.
    pub fn native(build_args: BTreeMap<String, String>, platform: &Platform) -> Self {
        Self {
            build_args,
            target_platform: platform.clone(),
            build_platform: platform.clone(),
        }
    }
}

/// Variant `name` with its whole `extends` chain merged in; `abstract` is its own.
pub fn merged(spec: &Spec, name: &str) -> Result<Variant, Diagnostic> {
    Family::new(spec).merged(name)
}

/// Variant `name`, merged, with the build args substituted. What substitution writes out is
/// bounded by a [`Budget`], and only the variant's own strings are written.
pub fn resolve(spec: &Spec, name: &str, values: &ArgValues) -> Result<Variant, Diagnostic> {
    let mut variant = merged(spec, name)?;
    let mut first_error = None;
    let mut report = |error| {
        first_error.get_or_insert(error);
    };
    let top = top_scope(spec, values, &mut report);
    let scope = variant_scope(spec, &top, &variant, values, &mut report);
    if let Some(error) = first_error {
        return Err(error);
    }
    let mut budget = Budget::default();
    let mut write = |text: &mut Spanned<String>, keep_others: bool| {
        let value = if keep_others {
            scope.substitute_keeping_others(&text.value)
        } else {
            scope.substitute(&text.value)
        };
        text.value = value
            .and_then(|value| budget.write(&value))
            .map_err(|error| error.located(&spec.document, position(text)))?;
        Ok(())
    };
    variant.try_for_each_string(&mut |text| write(text, false))?;
    for value in variant.env_values_mut() {
        write(value, true)?;
    }
    Ok(variant)
}

/// The substitution errors of a spec's variants whatever the values: its top-level args are
/// declared once for all of them.
pub struct ArgCheck<'s> {
    spec: &'s Spec,
    values: ArgValues,
    top: Scope<'static>,
    top_errors: Vec<Diagnostic>,
}

impl<'s> ArgCheck<'s> {
    /// Declares the spec's top-level args, with no build-arg given.
    pub fn new(spec: &'s Spec) -> Self {
        let values = ArgValues::native(BTreeMap::new(), &Platform::linux("amd64"));
        let mut top_errors = Vec::new();
        let top = top_scope(spec, &values, &mut |error| top_errors.push(error));
        Self {
            spec,
            values,
            top,
            top_errors,
        }
    }

    /// `text`, a string of merged `variant`, with every arg at its default (no build arg given),
    /// as `llb-gen targets` shows it; `None` when it cannot be substituted.
    pub fn with_defaults(&self, variant: &Variant, text: &str) -> Option<String> {
        let scope = variant_scope(self.spec, &self.top, variant, &self.values, &mut |_| {});
        let value = scope.substitute(text).ok()?;
        Budget::default().write(&value).ok()
    }

    /// The defaults of top-level args that cannot be substituted.
    pub fn top_level_errors(&self) -> &[Diagnostic] {
        &self.top_errors
    }

    /// Every undeclared or malformed substitution in a merged variant's args and strings.
    /// Nothing is written out: that is for the target's build.
    pub fn errors(&self, variant: &Variant) -> Vec<Diagnostic> {
        let spec = self.spec;
        let mut errors = Vec::new();
        let scope = variant_scope(spec, &self.top, variant, &self.values, &mut |error| {
            errors.push(error)
        });
        let mut check = |text: &Spanned<String>, result: Result<_, SubstituteError>| {
            if let Err(error) = result {
                errors.push(error.located(&spec.document, position(text)));
            }
        };
        let _ = variant
            .clone()
            .try_for_each_string::<Infallible>(&mut |text| {
                check(text, scope.substitute(&text.value));
                Ok(())
            });
        for value in variant.clone().env_values_mut() {
            check(value, scope.substitute_keeping_others(&value.value));
        }
        errors.sort_by_key(|error| error.position);
        // A variant's own `workdir` is also the merge's.
        errors.dedup();
        errors
    }
}

/// The automatic args and the top-level ones. A default that cannot be substituted is
/// reported and its arg declared empty.
fn top_scope(
    spec: &Spec,
    values: &ArgValues,
    report: &mut dyn FnMut(Diagnostic),
) -> Scope<'static> {
    let mut scope = Scope::automatic(&values.target_platform, &values.build_platform);
    declare(spec, &mut scope, &spec.args, values, report);
    scope
}

/// `variant`'s args inside the top-level ones.
fn variant_scope<'a>(
    spec: &Spec,
    top: &'a Scope<'a>,
    variant: &Variant,
    values: &ArgValues,
    report: &mut dyn FnMut(Diagnostic),
) -> Scope<'a> {
    let mut scope = top.inner();
    declare(spec, &mut scope, &variant.args, values, report);
    scope
}

/// Declares `args` so that a default may name any arg of the map, declared before or after
/// it: a child's override keeps its parent's place in the merged map but may use the child's
/// own args. What a default names is declared first (a walk with its own stack); in a cycle,
/// the arg that closes it is not declared yet, and naming it is the usual located error.
fn declare(
    spec: &Spec,
    scope: &mut Scope<'_>,
    args: &NamedMap<Option<Spanned<String>>>,
    values: &ArgValues,
    report: &mut dyn FnMut(Diagnostic),
) {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Pending,
        Visiting,
        Declared,
    }
    let entries: Vec<_> = args.iter().collect();
    let places: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(place, (name, _))| (name.value.as_str(), place))
        .collect();
    let mut states = vec![State::Pending; entries.len()];
    for start in 0..entries.len() {
        let mut stack = vec![start];
        while let Some(&place) = stack.last() {
            if states[place] == State::Declared {
                stack.pop();
                continue;
            }
            states[place] = State::Visiting;
            let (name, default) = entries[place];
            let text = default.as_ref().map(|default| default.value.as_str());
            let first_pending = text.and_then(|text| {
                named_args(text).into_iter().find_map(|named| {
                    let &next = places.get(named.as_str())?;
                    (states[next] == State::Pending).then_some(next)
                })
            });
            if let Some(next) = first_pending {
                stack.push(next);
                continue;
            }
            if let Err(error) = scope.declare(&name.value, text, &values.build_args) {
                let at = default.as_ref().map_or(position(name), position);
                report(error.located(&spec.document, at));
                let _ = scope.declare(&name.value, None, &BTreeMap::new());
            }
            states[place] = State::Declared;
            stack.pop();
        }
    }
}

/// The names `text` substitutes, in order.
fn named_args(text: &str) -> Vec<String> {
    let named = std::cell::RefCell::new(Vec::new());
    let _ = crate::args::substitute(text, &|name| {
        named.borrow_mut().push(name.to_owned());
        Some(Value::default())
    });
    named.into_inner()
}

/// A spec's variants with their `extends` chains merged, each once: a variant with one parent
/// starts from its parent's merge, so a chain of n variants takes n merges, not n²/2. What the
/// merges copy is bounded by [`MAX_INHERITED_BYTES`]. The walks keep their own stacks: a chain
/// is as deep as a spec has variants.
pub struct Family<'s> {
    spec: &'s Spec,
    /// Each variant's place in the spec, by name.
    places: HashMap<&'s str, usize>,
    /// Each variant's own [`weight`], once needed.
    weights: Vec<Option<usize>>,
    /// Each variant merged with its ancestors (without the OCI labels) and the merge's weight,
    /// once known.
    merges: Vec<Option<Result<(Variant, usize), Diagnostic>>>,
    /// The variants on the walk under way.
    on_path: Vec<bool>,
    /// What the merges have copied so far.
    copied: usize,
}

/// One variant on a walk up its `extends`, and which of its parents is next.
#[derive(Clone, Copy)]
struct Step {
    variant: usize,
    parent: usize,
}

impl<'s> Family<'s> {
    /// Nothing merged yet.
    pub fn new(spec: &'s Spec) -> Self {
        let variants = &spec.variants.value.0;
        let mut places = HashMap::new();
        for (place, (name, _)) in variants.iter().enumerate() {
            places.entry(name.value.as_str()).or_insert(place);
        }
        Self {
            spec,
            places,
            weights: vec![None; variants.len()],
            merges: variants.iter().map(|_| None).collect(),
            on_path: vec![false; variants.len()],
            copied: 0,
        }
    }

    /// Variant `name` with its whole `extends` chain merged in; `abstract` is its own.
    pub fn merged(&mut self, name: &str) -> Result<Variant, Diagnostic> {
        let Some(&place) = self.places.get(name) else {
            return Err(self.undefined(name, Position::START));
        };
        self.merge_up_to(place);
        let Some(merge) = &self.merges[place] else {
            unreachable!("merge_up_to merges its variant");
        };
        let (merged, _) = merge.as_ref().map_err(Diagnostic::clone)?;
        let spec = self.spec;
        let mut merged = merged.clone();
        merged.is_abstract = spec.variants.value.0[place].1.is_abstract;
        if let Some(source) = &spec.source {
            default_label(&mut merged.labels, SOURCE_LABEL, source);
        }
        if let Some(revision) = &spec.revision {
            default_label(&mut merged.labels, REVISION_LABEL, revision);
        }
        Ok(merged)
    }

    /// Merges variant `start` and, first, every ancestor not merged yet. A variant whose
    /// parent cannot be merged fails as its parent does.
    fn merge_up_to(&mut self, start: usize) {
        let variants = &self.spec.variants.value.0;
        let mut path = vec![Step {
            variant: start,
            parent: 0,
        }];
        self.on_path[start] = true;
        while let Some(&Step { variant, parent }) = path.last() {
            if self.merges[variant].is_some() {
                self.on_path[variant] = false;
                path.pop();
                continue;
            }
            let outcome = match variants[variant].1.extends.get(parent) {
                None => Some(self.merge(variant)),
                Some(reference) => match self.places.get(reference.value.as_str()) {
                    None => Some(Err(self.undefined(&reference.value, position(reference)))),
                    Some(&next) => match &self.merges[next] {
                        Some(Ok(_)) => {
                            if let Some(step) = path.last_mut() {
                                step.parent += 1;
                            }
                            None
                        }
                        Some(Err(error)) => Some(Err(error.clone())),
                        None if self.on_path[next] => {
                            self.cycle(&mut path, next);
                            None
                        }
                        None => {
                            self.on_path[next] = true;
                            path.push(Step {
                                variant: next,
                                parent: 0,
                            });
                            None
                        }
                    },
                },
            };
            if let Some(outcome) = outcome {
                self.merges[variant] = Some(outcome);
            }
        }
    }

    /// Fails every variant of the cycle that closes at `start`, which is on `path`, and takes
    /// them off it: each names the cycle from itself, at the reference that leads back to it.
    fn cycle(&mut self, path: &mut Vec<Step>, start: usize) {
        let variants = &self.spec.variants.value.0;
        let Some(first) = path.iter().rposition(|step| step.variant == start) else {
            return;
        };
        let members = path.split_off(first);
        let names: Vec<&str> = members
            .iter()
            .map(|step| variants[step.variant].0.value.as_str())
            .collect();
        for (index, member) in members.iter().enumerate() {
            // The member before this one in the cycle, and its reference to this one.
            let before = members[(index + members.len() - 1) % members.len()];
            let reference = &variants[before.variant].1.extends[before.parent];
            let cycle = names[index..].iter().chain(&names[..index]);
            let error = self
                .spec
                .document
                .error(
                    position(reference),
                    format!(
                        "`extends` cycle: {} -> {}",
                        listed(cycle.copied(), names.len(), " -> "),
                        names[index]
                    ),
                )
                .with_hint("a variant cannot extend itself, directly or through others");
            self.merges[member.variant] = Some(Err(error));
            self.on_path[member.variant] = false;
        }
    }

    /// Merges variant `place`, whose parents are merged.
    fn merge(&mut self, place: usize) -> Result<(Variant, usize), Diagnostic> {
        let variants = &self.spec.variants.value.0;
        let (name, variant) = &variants[place];
        let mut merge = match variant.extends.as_slice() {
            [] => Merge::default(),
            [parent] => {
                let parent = self.places[parent.value.as_str()];
                self.charge(self.merge_of(parent).1, name)?;
                Merge::from(self.merge_of(parent).0.clone())
            }
            _ => {
                // Two parents may share ancestors (a diamond): each ancestor applies once, in
                // the order of a walk up the parents.
                let ancestors = self.ancestors(place);
                let inherited = ancestors.iter().map(|&a| self.own_weight(a)).sum();
                self.charge(inherited, name)?;
                let mut merge = Merge::default();
                for ancestor in ancestors {
                    let (name, variant) = &variants[ancestor];
                    merge.apply(&name.value, variant);
                }
                merge
            }
        };
        merge.apply(&name.value, variant);
        // What a child copies is the merge itself: replaced values and `extends` are not in it.
        let mut merged = merge.variant;
        // The steps are shared, not copied, but each variant that inherits them reads them
        // again (validation, substitution): they count as much as their variants' own weight.
        let stages: Vec<usize> = merged
            .stages
            .iter()
            .map(|stage| self.places[stage.variant.as_str()])
            .collect();
        let steps: usize = stages.into_iter().map(|place| self.own_weight(place)).sum();
        let weight = weight(&mut merged).saturating_add(steps);
        Ok((merged, weight))
    }

    /// The [`weight`] of variant `place` as written.
    fn own_weight(&mut self, place: usize) -> usize {
        *self.weights[place]
            .get_or_insert_with(|| weight(&mut self.spec.variants.value.0[place].1.clone()))
    }

    /// The merge of variant `place`, which is merged.
    fn merge_of(&self, place: usize) -> &(Variant, usize) {
        match &self.merges[place] {
            Some(Ok(merge)) => merge,
            _ => unreachable!("a variant merges after its parents"),
        }
    }

    /// Counts `weight` more bytes copied, for variant `name`.
    fn charge(&mut self, weight: usize, name: &Spanned<String>) -> Result<(), Diagnostic> {
        self.copied = self.copied.saturating_add(weight);
        if self.copied <= MAX_INHERITED_BYTES {
            return Ok(());
        }
        Err(self
            .spec
            .document
            .error(
                position(name),
                format!(
                    "variant `{}` takes the spec past {MAX_INHERITED_BYTES} bytes ({} MiB) of inherited values (inheritance limit)",
                    name.value,
                    MAX_INHERITED_BYTES >> 20
                ),
            )
            .with_hint(
                "each variant is a copy of everything it extends: extend fewer or smaller variants",
            ))
    }

    /// The ancestors of variant `place`, each once, parents before their children and earlier
    /// parents' lines first: the order in which they apply.
    fn ancestors(&self, place: usize) -> Vec<usize> {
        let variants = &self.spec.variants.value.0;
        let parents = |place: usize| {
            variants[place]
                .1
                .extends
                .iter()
                .rev()
                .map(|parent| (self.places[parent.value.as_str()], false))
        };
        let mut order = Vec::new();
        let mut done = HashSet::new();
        let mut pending: Vec<(usize, bool)> = parents(place).collect();
        while let Some((ancestor, parents_done)) = pending.pop() {
            if done.contains(&ancestor) {
                continue;
            }
            if parents_done {
                done.insert(ancestor);
                order.push(ancestor);
            } else {
                pending.push((ancestor, true));
                pending.extend(parents(ancestor));
            }
        }
        order
    }

    /// `name` is extended (at `at`) but no variant has that name.
    fn undefined(&self, name: &str, at: Position) -> Diagnostic {
        let variants = &self.spec.variants.value.0;
        let defined = variants.iter().map(|(name, _)| name.value.as_str());
        self.spec
            .document
            .error(at, format!("`{name}` is extended but not defined"))
            .with_hint(format!(
                "defined variants: {}",
                listed(defined, variants.len(), ", ")
            ))
    }
}

/// About the bytes `variant` takes in memory: each string's text and its place, and each
/// step's, copy's, check's and binary's place. Merges are counted in these, so that
/// [`MAX_INHERITED_BYTES`] bounds memory whatever the values are. (`variant` is only read, by
/// [`Variant::try_for_each_string`].)
fn weight(variant: &mut Variant) -> usize {
    fn count(total: &mut usize, text: &str) {
        *total += text.len() + size_of::<Spanned<String>>();
    }
    // A merge shares its stages with its parent's: a child copies only their places.
    let stages = std::mem::take(&mut variant.stages);
    let mut total = stages.len() * size_of::<Rc<Stage>>()
        + variant.run.len() * size_of::<RunStep>()
        + variant.copy.len() * size_of::<CopyStep>()
        + variant.check.len() * size_of::<Command>()
        + variant.binaries.0.len() * size_of::<BinaryInstall>();
    let _ = variant.try_for_each_string::<Infallible>(&mut |text| {
        count(&mut total, &text.value);
        Ok(())
    });
    // What substitution leaves as written.
    if let Some(description) = &variant.description {
        count(&mut total, description);
    }
    for parent in &variant.extends {
        count(&mut total, &parent.value);
    }
    for (name, default) in variant.args.iter() {
        count(&mut total, &name.value);
        count(
            &mut total,
            default.as_ref().map_or("", |d| d.value.as_str()),
        );
    }
    for (name, value) in variant.env.iter() {
        count(&mut total, &name.value);
        count(&mut total, &value.value);
    }
    let step_env = variant.run.iter().flat_map(|step| step.env.iter());
    for (name, _) in variant.labels.iter().chain(step_env) {
        count(&mut total, &name.value);
    }
    for (name, _) in variant.binaries.iter() {
        count(&mut total, &name.value);
    }
    variant.stages = stages;
    total
}

/// A merge under way: the variant so far, and where its keys are, so that
/// applying a variant costs that variant's size, not the merge's.
#[derive(Default)]
struct Merge {
    variant: Variant,
    args: HashMap<String, usize>,
    binaries: HashMap<String, usize>,
    labels: HashMap<String, usize>,
}

impl From<Variant> for Merge {
    fn from(variant: Variant) -> Self {
        Self {
            args: places(&variant.args),
            binaries: places(&variant.binaries),
            labels: places(&variant.labels),
            variant,
        }
    }
}

impl Merge {
    /// Applies `over`: maps merge, lists append, scalars replace; as in a Dockerfile, a new
    /// entrypoint drops the inherited cmd.
    fn apply(&mut self, name: &str, over: &Variant) {
        fn replace<T: Clone>(base: &mut Option<T>, over: &Option<T>) {
            if over.is_some() {
                base.clone_from(over);
            }
        }
        let base = &mut self.variant;
        replace(&mut base.description, &over.description);
        replace(&mut base.from, &over.from);
        merge_map(&mut base.args, &mut self.args, &over.args);
        // Steps and the env they see stay with the variant that writes them.
        let stage = Stage::of(name, over);
        if !stage.is_empty() {
            base.stages.push(Rc::new(stage));
        }
        base.check.extend(over.check.iter().cloned());
        merge_map(&mut base.binaries, &mut self.binaries, &over.binaries);
        if over.entrypoint.is_some() {
            base.cmd = None;
        }
        replace(&mut base.entrypoint, &over.entrypoint);
        replace(&mut base.cmd, &over.cmd);
        replace(&mut base.user, &over.user);
        replace(&mut base.owner, &over.owner);
        replace(&mut base.workdir, &over.workdir);
        merge_map(&mut base.labels, &mut self.labels, &over.labels);
        base.expose.extend(over.expose.iter().cloned());
        replace(&mut base.healthcheck, &over.healthcheck);
        replace(&mut base.stopsignal, &over.stopsignal);
    }
}

/// Where each key of `map` is (the first, should one repeat).
fn places<T>(map: &NamedMap<T>) -> HashMap<String, usize> {
    let mut places = HashMap::new();
    for (place, (key, _)) in map.iter().enumerate() {
        places.entry(key.value.clone()).or_insert(place);
    }
    places
}

/// Later keys replace earlier ones in place; new keys come last. `places` is where `base`'s
/// keys are, and stays so.
fn merge_map<T: Clone>(
    base: &mut NamedMap<T>,
    places: &mut HashMap<String, usize>,
    over: &NamedMap<T>,
) {
    for (key, value) in over.iter() {
        match places.get(&key.value) {
            Some(&place) => base.0[place].1 = value.clone(),
            None => {
                places.insert(key.value.clone(), base.0.len());
                base.0.push((key.clone(), value.clone()));
            }
        }
    }
}

/// Adds a label unless the variant sets it.
fn default_label(labels: &mut NamedMap<Spanned<String>>, key: &str, value: &Spanned<String>) {
    if labels.get(key).is_none() {
        labels
            .0
            .insert(0, (unspanned(key.to_owned()), value.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Command, parse};

    const HEAD: &str = "version: 1\nbuilder: {image: rust, binaries: [app, tool]}\n";

    fn spec(variants: &str) -> Spec {
        parse(&format!("{HEAD}{variants}"), "f.yaml").unwrap()
    }

    fn words(list: &[Spanned<String>]) -> Vec<&str> {
        list.iter().map(|w| w.value.as_str()).collect()
    }

    /// The shell commands of a merged variant's stages, parents first.
    fn shell(variant: &Variant) -> Vec<&str> {
        variant
            .stages
            .iter()
            .flat_map(|stage| &stage.run)
            .map(|step| match &step.command {
                Command::Shell(text) => text.value.as_str(),
                Command::Exec(_) => "<exec>",
            })
            .collect()
    }

    fn pairs(map: &NamedMap<Spanned<String>>) -> Vec<(&str, &str)> {
        map.iter()
            .map(|(k, v)| (k.value.as_str(), v.value.as_str()))
            .collect()
    }

    const FAMILY: &str = "variants:
  base:
    abstract: true
    from: debian:bookworm-slim
    packages: [ca-certificates]
    run: [echo base]
    env: {A: base, B: base}
    entrypoint: [tini, --]
    cmd: [serve]
    labels: {team: core}
  tools:
    abstract: true
    extends: base
    packages: [curl, ca-certificates]
    run: [echo tools]
    env: {B: tools}
  node:
    abstract: true
    extends: base
    from: node:20
    run: [echo node]
    env: {C: node}
  app:
    extends: [tools, node]
    run: [echo app]
    env: {A: app}
    entrypoint: [app]
";

    #[test]
    fn merges_parents_first_and_the_shared_base_once() {
        let spec = spec(FAMILY);
        let app = merged(&spec, "app").unwrap();
        assert!(!app.is_abstract);
        assert_eq!(
            app.from.as_ref().unwrap().value,
            "node:20",
            "later parent wins"
        );
        type Written<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>);
        let stages: Vec<Written> = app
            .stages
            .iter()
            .map(|stage| {
                let name = stage.variant.as_str();
                (name, words(&stage.packages), pairs(&stage.env))
            })
            .collect();
        assert_eq!(
            stages,
            [
                (
                    "base",
                    vec!["ca-certificates"],
                    vec![("A", "base"), ("B", "base")]
                ),
                (
                    "tools",
                    vec!["curl", "ca-certificates"],
                    vec![("B", "tools")]
                ),
                ("node", vec![], vec![("C", "node")]),
                ("app", vec![], vec![("A", "app")]),
            ],
            "each variant's steps and env in a stage of its own, parents first, the shared base once"
        );
        assert_eq!(
            shell(&app),
            ["echo base", "echo tools", "echo node", "echo app"]
        );
        assert_eq!(pairs(&app.labels), [("team", "core")]);
        assert_eq!(words(app.entrypoint.as_deref().unwrap()), ["app"]);
        assert!(
            app.cmd.is_none(),
            "a new entrypoint drops the inherited cmd"
        );
        let tools = merged(&spec, "tools").unwrap();
        assert!(tools.is_abstract);
        assert_eq!(words(tools.cmd.as_deref().unwrap()), ["serve"]);
    }

    #[test]
    fn cycles_name_the_chain_and_the_closing_reference() {
        let spec = spec(
            "variants:\n  a:\n    extends: b\n    from: d\n  b:\n    extends: [c]\n  c:\n    extends: a\n  d:\n    extends: d\n",
        );
        assert_eq!(
            merged(&spec, "a").unwrap_err().to_string(),
            "f.yaml:10:14: `extends` cycle: a -> b -> c -> a (hint: a variant cannot extend itself, directly or through others)"
        );
        assert_eq!(
            merged(&spec, "d").unwrap_err().to_string(),
            "f.yaml:12:14: `extends` cycle: d -> d (hint: a variant cannot extend itself, directly or through others)"
        );
    }

    #[test]
    fn a_chain_longer_than_the_stack_is_deep_merges_each_variant_once() {
        let length = 20_000;
        let mut variants = String::from("variants:\n  v0:\n    from: d\n    run: [echo 0]\n");
        for link in 1..length {
            variants.push_str(&format!("  v{link}: {{extends: v{}}}\n", link - 1));
        }
        let spec = spec(&variants);
        let mut family = Family::new(&spec);
        let last = family.merged(&format!("v{}", length - 1)).unwrap();
        assert_eq!(shell(&last), ["echo 0"]);
        for link in 0..length {
            assert!(family.merged(&format!("v{link}")).is_ok());
        }
    }

    #[test]
    fn what_merges_copy_is_bounded() {
        let description = "x".repeat(100_000);
        let mut variants =
            format!("variants:\n  base:\n    from: d\n    description: {description}\n");
        for child in 0..400 {
            variants.push_str(&format!("  c{child}: {{extends: base}}\n"));
        }
        let spec = spec(&variants);
        let mut family = Family::new(&spec);
        let error = (0..400)
            .find_map(|child| family.merged(&format!("c{child}")).err())
            .unwrap()
            .to_string();
        assert!(
            error.starts_with("f.yaml:")
                && error.contains(": variant `c")
                && error.contains(
                    "past 33554432 bytes (32 MiB) of inherited values (inheritance limit)"
                ),
            "{error}"
        );
    }

    #[test]
    fn a_long_cycle_lists_its_first_variants() {
        let mut variants = String::from("variants:\n");
        for link in 0..100 {
            variants.push_str(&format!("  v{link}: {{extends: v{}}}\n", (link + 1) % 100));
        }
        let spec = spec(&variants);
        let error = merged(&spec, "v0").unwrap_err();
        assert_eq!(
            error.message,
            "`extends` cycle: v0 -> v1 -> v2 -> v3 -> v4 -> v5 -> v6 -> v7 -> v8 -> v9 -> v10 -> … (100 in all) -> v0"
        );
    }

    #[test]
    fn a_missing_parent_is_located() {
        let spec = spec("variants:\n  a:\n    extends: [nope]\n    from: d\n");
        assert_eq!(
            merged(&spec, "a").unwrap_err().to_string(),
            "f.yaml:5:15: `nope` is extended but not defined (hint: defined variants: a)"
        );
    }

    #[test]
    fn a_child_overrides_a_parent_arg_with_a_default_from_its_own_args() {
        let spec = spec(
            "variants:\n  npm:\n    abstract: true\n    from: node\n    args: {NPM_PACKAGES: ''}\n    run: ['npm install -g ${NPM_PACKAGES}']\n  app:\n    extends: npm\n    args: {PKG_VERSION: '1.2', NPM_PACKAGES: '@scope/pkg@${PKG_VERSION}'}\n",
        );
        let values = ArgValues::native(BTreeMap::new(), &Platform::linux("amd64"));
        let app = resolve(&spec, "app", &values).unwrap();
        assert_eq!(shell(&app), ["npm install -g @scope/pkg@1.2"]);
        let given = ArgValues::native(
            BTreeMap::from([("PKG_VERSION".to_owned(), "2.0".to_owned())]),
            &Platform::linux("amd64"),
        );
        assert_eq!(
            shell(&resolve(&spec, "app", &given).unwrap()),
            ["npm install -g @scope/pkg@2.0"]
        );
        let cycle = spec_with_cycle();
        let error = resolve(&cycle, "app", &values).unwrap_err();
        assert!(error.message.starts_with("undeclared build arg"), "{error}");
    }

    fn spec_with_cycle() -> Spec {
        spec("variants:\n  app:\n    from: d\n    args: {A: '${B}', B: '${A}'}\n")
    }

    #[test]
    fn substitutes_args_in_every_string() {
        let spec = parse(
            &format!(
                "{HEAD}args: {{CODENAME: null, BASE: 'debian:${{CODENAME:-bookworm}}-slim', V: '1'}}\nsource: https://x/${{V}}\nrevision: $REV\nvariants:\n  app:\n    args: {{REV: abc}}\n    from: $BASE\n    run: ['echo $TARGETARCH > /arch', {{run: [echo, '${{V}}'], env: {{X: $V}}}}]\n    env: {{A: $$HOME}}\n    binaries: {{app: {{path: /bin/app-$V, owner: '${{BUILDARCH}}'}}}}\n"
            ),
            "f.yaml",
        )
        .unwrap();
        let values = ArgValues {
            build_args: BTreeMap::from([("V".to_owned(), "2".to_owned())]),
            target_platform: Platform::linux("arm64"),
            build_platform: Platform::linux("amd64"),
        };
        let app = resolve(&spec, "app", &values).unwrap();
        assert_eq!(
            app.from.as_ref().unwrap().value,
            "debian:bookworm-slim",
            "an empty declared arg takes the default"
        );
        assert_eq!(shell(&app), ["echo arm64 > /arch", "<exec>"]);
        let own = &app.stages[0];
        let Command::Exec(argv) = &own.run[1].command else {
            panic!()
        };
        assert_eq!(words(&argv.value), ["echo", "2"]);
        assert_eq!(pairs(&own.run[1].env), [("X", "2")]);
        assert_eq!(
            pairs(&own.env),
            [("A", "$$HOME")],
            "env values keep `$$` for the env pass in the graph"
        );
        let install = app.binaries.get("app").unwrap();
        assert_eq!(install.path.value, "/bin/app-2");
        assert_eq!(install.owner.as_ref().unwrap().value, "amd64");
        assert_eq!(
            pairs(&app.labels),
            [(REVISION_LABEL, "abc"), (SOURCE_LABEL, "https://x/2")]
        );
    }

    /// The arg errors of the spec's top-level args and of variant `app`, as text.
    fn arg_error_texts(spec: &Spec) -> Vec<String> {
        let app = merged(spec, "app").unwrap();
        let check = ArgCheck::new(spec);
        let app_errors = check.errors(&app);
        check
            .top_level_errors()
            .iter()
            .chain(&app_errors)
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn undeclared_args_are_located_errors() {
        let spec = spec(
            "args: {A: '${B}'}\nvariants:\n  app:\n    from: debian\n    workdir: /x/${NOPE}\n    labels: {E: '${A:-$ALSO}'}\n",
        );
        let errors = arg_error_texts(&spec);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].starts_with(
                "f.yaml:3:11: undeclared build arg `B` (hint: declare it under `args:`"
            ),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with("f.yaml:7:14: undeclared build arg `NOPE`"),
            "{errors:?}"
        );
        assert!(
            errors[2].starts_with("f.yaml:8:17: undeclared build arg `ALSO`"),
            "{errors:?}"
        );
        let values = ArgValues::native(BTreeMap::new(), &Platform::linux("amd64"));
        assert!(
            resolve(&spec, "app", &values)
                .unwrap_err()
                .message
                .contains("`B`")
        );
    }

    #[test]
    fn only_what_a_target_uses_is_written_out_and_within_a_budget() {
        let mut args = String::from("args:\n  A0: xxxxxxxxxx\n");
        for step in 1..=40 {
            let last = format!("${{A{}}}", step - 1);
            args.push_str(&format!("  A{step}: '{}'\n", last.repeat(4)));
        }
        let spec = spec(&format!(
            "{args}variants:\n  app:\n    from: debian\n  big:\n    from: debian\n    labels: {{x: $A40}}\n"
        ));
        let values = ArgValues::native(BTreeMap::new(), &Platform::linux("amd64"));
        assert!(
            resolve(&spec, "app", &values).is_ok(),
            "args no string names are never written out"
        );
        let error = resolve(&spec, "big", &values).unwrap_err().to_string();
        assert!(
            error.starts_with(
                "f.yaml:50:17: the text exceeds 8388608 bytes (8 MiB) once `$` references are substituted (substitution limit)"
            ),
            "{error}"
        );
    }

    #[test]
    fn env_values_may_name_environment_variables() {
        let spec = spec(
            "args: {V: '1'}\nvariants:\n  app:\n    from: debian\n    env: {PATH: '/opt/$V/bin:$PATH', BAD: '${V'}\n",
        );
        let errors = arg_error_texts(&spec);
        assert_eq!(errors.len(), 1, "only the malformed one: {errors:?}");
        assert!(errors[0].starts_with("f.yaml:7:43: unclosed"), "{errors:?}");
    }

    #[test]
    fn variant_labels_win_over_the_oci_ones() {
        let spec = spec(
            "source: https://a\nvariants:\n  app:\n    from: d\n    labels: {org.opencontainers.image.source: https://b}\n",
        );
        let app = merged(&spec, "app").unwrap();
        assert_eq!(pairs(&app.labels), [(SOURCE_LABEL, "https://b")]);
    }
}
