//! Rules for each `variants.<name>:` entry, checked on the variant with its `extends` chain
//! merged. Values that still hold a `$` are checked once the build args are substituted
//! ([`check_resolved`]), since only then are they known.

use std::collections::BTreeSet;

use super::{Errors, is_variant_name};
use crate::args::is_arg_name;
use crate::diagnostic::{Diagnostic, listed};
use crate::llb::Owner;
use crate::resolve;
use crate::spec::{ARTIFACT_TARGET, Command, Spanned, Spec, Variant, position};
use crate::syntax;

/// Checks every variant against the binaries the builder makes.
pub(super) fn check(spec: &Spec, built: &BTreeSet<&str>, errors: &mut Errors<'_>) {
    if spec.variants.value.is_empty() {
        errors.at(
            position(&spec.variants),
            "the spec defines no variants".to_owned(),
            Some("add at least one variant under `variants:`".to_owned()),
        );
    } else if spec.variants.value.iter().all(|(_, v)| v.is_abstract) {
        errors.at(
            position(&spec.variants),
            "every variant is abstract, so nothing can be built".to_owned(),
            Some("remove `abstract: true` from the variants you build".to_owned()),
        );
    }
    for (name, _) in spec.args.iter() {
        arg_name(name, errors);
    }
    let mut family = resolve::Family::new(spec);
    let args = resolve::ArgCheck::new(spec);
    errors.found.extend_from_slice(args.top_level_errors());
    for (name, variant) in spec.variants.value.iter() {
        errors.name(name, "variant", is_variant_name);
        if name.value == ARTIFACT_TARGET {
            errors.at(
                position(name),
                format!("`{ARTIFACT_TARGET}` is a reserved target name"),
                Some("the artifact target always exists; rename this variant".to_owned()),
            );
        }
        for (arg, _) in variant.args.iter() {
            arg_name(arg, errors);
        }
        match family.merged(&name.value) {
            Err(diagnostic) => errors.found.push(diagnostic),
            Ok(merged) if !merged.is_abstract => {
                errors.found.extend(args.errors(&merged));
                fields(name, &merged, built, errors, |text| !text.contains('$'));
            }
            Ok(_) => {}
        }
    }
}

/// The first rule a variant breaks once its build args are substituted.
pub fn check_resolved(
    spec: &Spec,
    name: &Spanned<String>,
    variant: &Variant,
) -> Option<Diagnostic> {
    let mut errors = Errors::new(&spec.document.file, &spec.document.text);
    let built: BTreeSet<&str> = spec
        .builder
        .binaries()
        .map(|b| b.value.name.as_str())
        .collect();
    fields(name, variant, &built, &mut errors, |_| true);
    errors.found.sort_by_key(|diagnostic| diagnostic.position);
    errors.found.into_iter().next()
}

fn arg_name(name: &Spanned<String>, errors: &mut Errors<'_>) {
    if !is_arg_name(&name.value) {
        errors.at(
            position(name),
            format!("invalid build arg name `{}`", name.value),
            Some("arg names use letters, digits and `_`, not starting with a digit".to_owned()),
        );
    }
}

/// The rules on a merged variant's values; `known` says whether a value is final (no build
/// arg left in it) and can be checked now.
fn fields(
    name: &Spanned<String>,
    variant: &Variant,
    built: &BTreeSet<&str>,
    errors: &mut Errors<'_>,
    known: fn(&str) -> bool,
) {
    match &variant.from {
        None => missing_from(name, errors),
        Some(from) if known(&from.value) => errors.image_reference(from),
        Some(_) => {}
    }
    let mut rule = |value: &Spanned<String>, valid: bool, message: String, hint: Option<&str>| {
        if known(&value.value) && !valid {
            errors.at(position(value), message, hint.map(str::to_owned));
        }
    };
    for package in &variant.packages {
        rule(
            package,
            syntax::is_package(&package.value),
            format!("invalid package name `{}`", package.value),
            Some("write apt package names such as `ca-certificates` or `jq=1.6*`"),
        );
    }
    for step in &variant.run {
        command(&step.command, "run", &mut rule);
        for cache in &step.cache {
            absolute(&cache.target, "cache target", &mut rule);
        }
        for secret in &step.secrets {
            rule(
                &secret.id,
                !secret.id.value.is_empty(),
                "empty secret id".to_owned(),
                None,
            );
            if let Some(target) = &secret.target {
                absolute(target, "secret target", &mut rule);
            }
            owner_and_mode(None, secret.mode.as_ref(), &mut rule);
        }
        for bind in &step.bind {
            context_source(&bind.src, "bind source", &mut rule);
            absolute(&bind.target, "bind target", &mut rule);
        }
        for ssh in &step.ssh {
            if let Some(id) = &ssh.id {
                rule(id, !id.value.is_empty(), "empty ssh id".to_owned(), None);
            }
            if let Some(target) = &ssh.target {
                absolute(target, "ssh target", &mut rule);
            }
            owner_and_mode(None, ssh.mode.as_ref(), &mut rule);
        }
        if let Some(workdir) = &step.workdir {
            absolute(workdir, "run workdir", &mut rule);
        }
        if let Some(user) = &step.user {
            rule(
                user,
                !user.value.is_empty(),
                "empty run user".to_owned(),
                None,
            );
        }
    }
    for copy in &variant.copy {
        context_source(&copy.src, "copy source", &mut rule);
        absolute(&copy.dest, "copy destination", &mut rule);
        owner_and_mode(copy.owner.as_ref(), copy.mode.as_ref(), &mut rule);
    }
    let mut destinations = BTreeSet::new();
    for (binary, install) in variant.binaries.iter() {
        rule(
            binary,
            built.contains(binary.value.as_str()),
            format!(
                "variant `{}` takes binary `{}`, which the builder does not build",
                name.value, binary.value
            ),
            Some(&format!("builder binaries: {}", join(built))),
        );
        absolute(&install.path, "binary destination", &mut rule);
        rule(
            &install.path,
            !known(&install.path.value) || destinations.insert(install.path.value.as_str()),
            format!("two binaries are copied to `{}`", install.path.value),
            None,
        );
        owner_and_mode(install.owner.as_ref(), install.mode.as_ref(), &mut rule);
    }
    if let Some(user) = &variant.user {
        rule(user, !user.value.is_empty(), "empty user".to_owned(), None);
    }
    if let Some(workdir) = &variant.workdir {
        absolute(workdir, "workdir", &mut rule);
    }
    for port in &variant.expose {
        rule(
            port,
            syntax::port(&port.value).is_some(),
            format!("invalid port `{}`", port.value),
            Some("write a port as `8080`, `8080/tcp` or `53/udp`"),
        );
    }
    if let Some(healthcheck) = &variant.healthcheck {
        command(&healthcheck.test, "healthcheck test", &mut rule);
        for duration in [
            &healthcheck.interval,
            &healthcheck.timeout,
            &healthcheck.start_period,
        ]
        .into_iter()
        .flatten()
        {
            rule(
                duration,
                syntax::duration_ns(&duration.value).is_some(),
                format!("invalid duration `{}`", duration.value),
                Some("write a duration such as `30s`, `1m30s` or `500ms`"),
            );
        }
    }
    if let Some(signal) = &variant.stopsignal {
        rule(
            signal,
            syntax::is_signal(&signal.value),
            format!("invalid stop signal `{}`", signal.value),
            Some("write a signal name such as `SIGQUIT`, or its number"),
        );
    }
}

type Rule<'r> = dyn FnMut(&Spanned<String>, bool, String, Option<&str>) + 'r;

fn missing_from(name: &Spanned<String>, errors: &mut Errors<'_>) {
    errors.at(
        position(name),
        format!("variant `{}` has no `from`", name.value),
        Some("set `from:` or extend a variant that has one".to_owned()),
    );
}

fn absolute(path: &Spanned<String>, what: &str, rule: &mut Rule<'_>) {
    rule(
        path,
        path.value.starts_with('/'),
        format!("{what} `{}` is not an absolute path", path.value),
        None,
    );
}

/// A path read from the build context: relative, and not leaving it.
fn context_source(path: &Spanned<String>, what: &str, rule: &mut Rule<'_>) {
    if let Err(reason) = syntax::context_path(&path.value) {
        rule(
            path,
            false,
            format!("{what} `{}` {reason}", path.value),
            Some(&format!(
                "{what}s are paths inside the build context, such as `config/app.toml`"
            )),
        );
    }
}

fn command(command: &Command, what: &str, rule: &mut Rule<'_>) {
    match command {
        Command::Shell(shell) => rule(
            shell,
            !shell.value.trim().is_empty(),
            format!("empty {what} command"),
            None,
        ),
        Command::Exec(argv) => {
            if let Some(first) = argv.value.first() {
                rule(
                    first,
                    !first.value.is_empty(),
                    format!("empty {what} program"),
                    None,
                );
            } else {
                let at = Spanned {
                    value: String::new(),
                    referenced: argv.referenced,
                    defined: argv.defined,
                };
                rule(
                    &at,
                    false,
                    format!("empty {what} command"),
                    Some("give a shell string or a non-empty argv"),
                );
            }
        }
    }
}

fn owner_and_mode(
    owner: Option<&Spanned<String>>,
    mode: Option<&Spanned<String>>,
    rule: &mut Rule<'_>,
) {
    if let Some(owner) = owner {
        rule(
            owner,
            Owner::parse(&owner.value).is_some(),
            format!("invalid owner `{}`", owner.value),
            Some("write `user`, `user:group`, or numeric ids such as `1000:1000`"),
        );
    }
    if let Some(mode) = mode {
        rule(
            mode,
            syntax::octal_mode(&mode.value).is_some(),
            format!("invalid mode `{}`", mode.value),
            Some("write an octal mode such as `0755`"),
        );
    }
}

fn join(names: &BTreeSet<&str>) -> String {
    listed(names.iter().copied(), names.len(), ", ")
}

#[cfg(test)]
mod tests {
    use crate::spec::parse;
    use crate::validate::validate;

    const HEAD: &str = "version: 1\nbuilder: {image: rust, binaries: [app]}\n";

    fn errors_of(body: &str) -> Vec<String> {
        let text = format!("{HEAD}{body}");
        let spec = parse(&text, "f.yaml").unwrap();
        validate(&spec, "f.yaml", &text)
            .iter()
            .map(|diagnostic| {
                let text = diagnostic.to_string();
                text.split(" (hint:").next().unwrap_or_default().to_owned()
            })
            .collect()
    }

    #[test]
    fn a_variant_using_every_key_is_valid() {
        let text = include_str!("../../../examples/variants/flotilla.yaml");
        let spec = parse(text, "f.yaml").unwrap();
        assert_eq!(validate(&spec, "f.yaml", text), Vec::new());
    }

    #[test]
    fn every_value_rule_names_its_position() {
        let errors = errors_of(
            "variants:
  v:
    from: debian
    packages: [jq, -y]
    run:
      - ''
      - run: []
      - run: [x]
        cache: [{target: cache}]
        secrets: [{id: '', target: run/s, mode: '9'}]
        ssh: [{id: '', target: agent, mode: '8'}]
        workdir: tmp
        user: ''
    copy:
      - {src: ../outside, dest: /x}
      - {src: /etc/passwd, dest: rel, owner: 'a:', mode: '0999'}
    binaries: {app: {path: bin/app, mode: rwx}, nope: /x}
    user: ''
    workdir: srv
    expose: [80/http, 0]
    healthcheck: {test: '', interval: 5, timeout: 1d}
    stopsignal: sigterm
",
        );
        assert_eq!(
            errors,
            [
                "f.yaml:6:20: invalid package name `-y`",
                "f.yaml:8:9: empty run command",
                "f.yaml:9:14: empty run command",
                "f.yaml:11:26: cache target `cache` is not an absolute path",
                "f.yaml:12:24: empty secret id",
                "f.yaml:12:36: secret target `run/s` is not an absolute path",
                "f.yaml:12:49: invalid mode `9`",
                "f.yaml:13:20: empty ssh id",
                "f.yaml:13:32: ssh target `agent` is not an absolute path",
                "f.yaml:13:45: invalid mode `8`",
                "f.yaml:14:18: run workdir `tmp` is not an absolute path",
                "f.yaml:15:15: empty run user",
                "f.yaml:17:15: copy source `../outside` leaves the build context",
                "f.yaml:18:15: copy source `/etc/passwd` is absolute; sources are relative to the build context",
                "f.yaml:18:34: copy destination `rel` is not an absolute path",
                "f.yaml:18:46: invalid owner `a:`",
                "f.yaml:18:58: invalid mode `0999`",
                "f.yaml:19:28: binary destination `bin/app` is not an absolute path",
                "f.yaml:19:43: invalid mode `rwx`",
                "f.yaml:19:49: variant `v` takes binary `nope`, which the builder does not build",
                "f.yaml:20:11: empty user",
                "f.yaml:21:14: workdir `srv` is not an absolute path",
                "f.yaml:22:14: invalid port `80/http`",
                "f.yaml:22:23: invalid port `0`",
                "f.yaml:23:25: empty healthcheck test command",
                "f.yaml:23:39: invalid duration `5`",
                "f.yaml:23:51: invalid duration `1d`",
                "f.yaml:24:17: invalid stop signal `sigterm`",
            ]
        );
    }

    #[test]
    fn bind_mounts_read_inside_the_context_at_absolute_targets() {
        let errors = errors_of(
            "variants:
  v:
    from: debian
    run:
      - run: x
        bind: [{src: ../up, target: /a}, {src: /etc, target: b}, {src: ., target: /ctx}]
",
        );
        assert_eq!(
            errors,
            [
                "f.yaml:8:22: bind source `../up` leaves the build context",
                "f.yaml:8:48: bind source `/etc` is absolute; sources are relative to the build context",
                "f.yaml:8:62: bind target `b` is not an absolute path",
            ]
        );
    }

    #[test]
    fn extends_problems_are_reported_once_each() {
        let errors = errors_of(
            "variants:
  base: {abstract: true, from: 'Not A Ref'}
  a: {extends: base}
  b: {extends: base}
  c: {extends: [ghost]}
  d: {env: {A: b}}
  e: {extends: f, from: debian}
  f: {extends: e}
",
        );
        assert_eq!(
            errors,
            [
                "f.yaml:4:32: invalid image reference `Not A Ref`: invalid reference format",
                "f.yaml:7:17: `ghost` is extended but not defined",
                "f.yaml:8:3: variant `d` has no `from`",
                "f.yaml:9:16: `extends` cycle: f -> e -> f",
                "f.yaml:10:16: `extends` cycle: e -> f -> e",
            ]
        );
    }

    #[test]
    fn only_abstract_variants_is_an_error() {
        assert_eq!(
            errors_of("variants:\n  a: {abstract: true, from: debian}\n"),
            ["f.yaml:4:3: every variant is abstract, so nothing can be built"]
        );
    }

    #[test]
    fn build_args_must_be_declared_and_well_named() {
        let errors = errors_of(
            "args: {1BAD: x, OK: '${TARGETARCH}'}
variants:
  v:
    args: {LOCAL: '$OK'}
    from: debian:${LOCAL}
    run: ['echo $UNDECLARED $$HOME $(uname -m)']
    env: {A: '${OK:-${NOT_EITHER}}', B: '${OK'}
",
        );
        assert_eq!(
            errors,
            [
                "f.yaml:3:8: invalid build arg name `1BAD`",
                "f.yaml:8:11: undeclared build arg `UNDECLARED`",
                "f.yaml:9:41: unclosed `${` in `${OK`",
            ]
        );
    }

    #[test]
    fn values_with_args_are_checked_after_substitution() {
        assert_eq!(
            errors_of("args: {DIR: srv}\nvariants:\n  v:\n    from: debian\n    workdir: $DIR\n"),
            Vec::<String>::new(),
            "checked once the arg is known"
        );
    }

    #[test]
    fn unquoted_octal_modes_read_as_written() {
        assert_eq!(
            errors_of(
                "variants:\n  v:\n    from: debian\n    binaries: {app: {path: /app, mode: 0750}}\n"
            ),
            Vec::<String>::new()
        );
    }
}
