//! A variant as it is built: its `extends` chain merged (parents first, later parents over
//! earlier ones, the variant over all), then build args substituted in every string.

use std::collections::{BTreeMap, BTreeSet};

use crate::args::{Scope, SubstituteError};
use crate::diagnostic::{Diagnostic, Position};
use crate::platform::Platform;
use crate::spec::{NamedMap, Spanned, Spec, Variant, position, unspanned};

/// The OCI label the top-level `source:` sets.
pub const SOURCE_LABEL: &str = "org.opencontainers.image.source";
/// The OCI label the top-level `revision:` sets.
pub const REVISION_LABEL: &str = "org.opencontainers.image.revision";

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
    let mut walk = Walk {
        spec,
        chain: Vec::new(),
        order: Vec::new(),
    };
    walk.visit(name, None)?;
    let mut merged = Variant::default();
    for ancestor in &walk.order {
        inherit(&mut merged, ancestor);
    }
    merged.is_abstract = spec.variants.value.get(name).is_some_and(|v| v.is_abstract);
    merged.extends.clear();
    if let Some(source) = &spec.source {
        default_label(&mut merged.labels, SOURCE_LABEL, source);
    }
    if let Some(revision) = &spec.revision {
        default_label(&mut merged.labels, REVISION_LABEL, revision);
    }
    Ok(merged)
}

/// Variant `name`, merged, with the build args substituted.
pub fn resolve(spec: &Spec, name: &str, values: &ArgValues) -> Result<Variant, Diagnostic> {
    let mut variant = merged(spec, name)?;
    let mut first_error = None;
    let scope = scope(spec, &variant, values, &mut |error| {
        first_error.get_or_insert(error);
    });
    if let Some(error) = first_error {
        return Err(error);
    }
    variant.try_for_each_string(&mut |text| {
        text.value = scope
            .substitute(&text.value)
            .map_err(|error| located(spec, position(text), error))?;
        Ok(())
    })?;
    for (_, value) in &mut variant.env.0 {
        value.value = scope
            .substitute_keeping_others(&value.value)
            .map_err(|error| located(spec, position(value), error))?;
    }
    Ok(variant)
}

/// Every undeclared or malformed substitution in a merged variant, whatever the values.
pub fn arg_errors(spec: &Spec, variant: &Variant) -> Vec<Diagnostic> {
    let values = ArgValues::native(BTreeMap::new(), &Platform::linux("amd64"));
    let mut errors = Vec::new();
    let scope = scope(spec, variant, &values, &mut |error| errors.push(error));
    let _ = variant
        .clone()
        .try_for_each_string::<std::convert::Infallible>(&mut |text| {
            if let Err(error) = scope.substitute(&text.value) {
                errors.push(located(spec, position(text), error));
            }
            Ok(())
        });
    for (_, value) in variant.env.iter() {
        if let Err(error) = scope.substitute_keeping_others(&value.value) {
            errors.push(located(spec, position(value), error));
        }
    }
    errors.sort_by_key(|error| error.position);
    errors
}

/// The args in scope for `variant`: the automatic ones, the top-level ones, then its own.
/// A default that cannot be substituted is reported and its arg declared empty.
fn scope(
    spec: &Spec,
    variant: &Variant,
    values: &ArgValues,
    report: &mut dyn FnMut(Diagnostic),
) -> Scope {
    let mut scope = Scope::automatic(&values.target_platform, &values.build_platform);
    for (name, default) in spec.args.iter().chain(variant.args.iter()) {
        let text = default.as_ref().map(|default| default.value.as_str());
        if let Err(error) = scope.declare(&name.value, text, &values.build_args) {
            let at = default.as_ref().map_or(position(name), position);
            report(located(spec, at, error));
            let _ = scope.declare(&name.value, None, &BTreeMap::new());
        }
    }
    scope
}

/// A substitution error at `position` of the spec.
pub(crate) fn located(spec: &Spec, position: Position, error: SubstituteError) -> Diagnostic {
    let diagnostic = spec.document.error(position, error.message);
    match error.hint {
        Some(hint) => diagnostic.with_hint(hint),
        None => diagnostic,
    }
}

/// Depth-first walk of `extends`: ancestors in merge order, each once (a diamond's shared
/// base is applied once, first).
struct Walk<'s> {
    spec: &'s Spec,
    chain: Vec<&'s str>,
    order: Vec<&'s Variant>,
}

impl<'s> Walk<'s> {
    fn visit(&mut self, name: &str, reference: Option<&Spanned<String>>) -> Result<(), Diagnostic> {
        let spec = self.spec;
        let at = |fallback: Position| reference.map_or(fallback, position);
        if let Some(start) = self.chain.iter().position(|seen| *seen == name) {
            let mut cycle: Vec<&str> = self.chain[start..].to_vec();
            cycle.push(name);
            return Err(spec
                .document
                .error(
                    at(Position::START),
                    format!("`extends` cycle: {}", cycle.join(" -> ")),
                )
                .with_hint("a variant cannot extend itself, directly or through others"));
        }
        let Some((key, variant)) = spec
            .variants
            .value
            .iter()
            .find(|(key, _)| key.value == name)
        else {
            let defined: Vec<&str> = spec
                .variants
                .value
                .iter()
                .map(|(k, _)| k.value.as_str())
                .collect();
            return Err(spec
                .document
                .error(
                    at(Position::START),
                    format!("`{name}` is extended but not defined"),
                )
                .with_hint(format!("defined variants: {}", defined.join(", "))));
        };
        if self.order.iter().any(|done| std::ptr::eq(*done, variant)) {
            return Ok(());
        }
        self.chain.push(&key.value);
        for parent in &variant.extends {
            self.visit(&parent.value, Some(parent))?;
        }
        self.chain.pop();
        self.order.push(variant);
        Ok(())
    }
}

/// Applies `over` on `base`: maps merge, lists append, scalars replace; as in a Dockerfile, a
/// new entrypoint drops the inherited cmd.
fn inherit(base: &mut Variant, over: &Variant) {
    fn replace<T: Clone>(base: &mut Option<T>, over: &Option<T>) {
        if over.is_some() {
            base.clone_from(over);
        }
    }
    replace(&mut base.description, &over.description);
    replace(&mut base.from, &over.from);
    merge_map(&mut base.args, &over.args);
    let mut packages: BTreeSet<String> = base.packages.iter().map(|p| p.value.clone()).collect();
    base.packages.extend(
        over.packages
            .iter()
            .filter(|package| packages.insert(package.value.clone()))
            .cloned(),
    );
    base.apt_repositories
        .extend(over.apt_repositories.iter().cloned());
    base.run.extend(over.run.iter().cloned());
    base.check.extend(over.check.iter().cloned());
    base.copy.extend(over.copy.iter().cloned());
    merge_map(&mut base.binaries, &over.binaries);
    merge_map(&mut base.env, &over.env);
    if over.entrypoint.is_some() {
        base.cmd = None;
    }
    replace(&mut base.entrypoint, &over.entrypoint);
    replace(&mut base.cmd, &over.cmd);
    replace(&mut base.user, &over.user);
    replace(&mut base.owner, &over.owner);
    replace(&mut base.workdir, &over.workdir);
    merge_map(&mut base.labels, &over.labels);
    base.expose.extend(over.expose.iter().cloned());
    replace(&mut base.healthcheck, &over.healthcheck);
    replace(&mut base.stopsignal, &over.stopsignal);
}

/// Later keys replace earlier ones in place; new keys come last.
fn merge_map<T: Clone>(base: &mut NamedMap<T>, over: &NamedMap<T>) {
    for (key, value) in over.iter() {
        match base
            .0
            .iter_mut()
            .find(|(existing, _)| existing.value == key.value)
        {
            Some(entry) => entry.1 = value.clone(),
            None => base.0.push((key.clone(), value.clone())),
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

    fn shell(variant: &Variant) -> Vec<&str> {
        variant
            .run
            .iter()
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
        assert_eq!(words(&app.packages), ["ca-certificates", "curl"]);
        assert_eq!(
            shell(&app),
            ["echo base", "echo tools", "echo node", "echo app"]
        );
        assert_eq!(
            pairs(&app.env),
            [("A", "app"), ("B", "tools"), ("C", "node")]
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
    fn a_missing_parent_is_located() {
        let spec = spec("variants:\n  a:\n    extends: [nope]\n    from: d\n");
        assert_eq!(
            merged(&spec, "a").unwrap_err().to_string(),
            "f.yaml:5:15: `nope` is extended but not defined (hint: defined variants: a)"
        );
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
        let Command::Exec(argv) = &app.run[1].command else {
            panic!()
        };
        assert_eq!(words(&argv.value), ["echo", "2"]);
        assert_eq!(pairs(&app.run[1].env), [("X", "2")]);
        assert_eq!(
            pairs(&app.env),
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

    /// The arg errors of variant `app`, as text.
    fn arg_error_texts(spec: &Spec) -> Vec<String> {
        let app = merged(spec, "app").unwrap();
        arg_errors(spec, &app)
            .iter()
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
