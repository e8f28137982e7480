//! Rules for each `variants.<name>:` entry, checked on the variant with its `extends` chain
//! merged. Values that still hold a `$` are checked once the build args are substituted
//! ([`read_variant`]), since only then are they known; that check also reads each value into
//! its type, once, for the graph ([`model::Variant`]).

use std::collections::BTreeSet;

use super::{Errors, IMAGE_HINT, VARIANT_NAMES};
use crate::args::is_arg_name;
use crate::diagnostic::{Diagnostic, Position, listed};
use crate::image::Healthcheck;
use crate::llb::{ClientMount, CopyOptions, Owner};
use crate::model::{self, Base, BinaryCopy, ContextBind, FileCopy, KeySource, LayerStep};
use crate::reference;
use crate::resolve;
use crate::spec::{
    ARTIFACT_TARGET, AptRepository, ClientMount as WrittenMount, Command, MountId, NamedMap,
    Spanned, Spec, Stage, Variant, position,
};
use crate::syntax;

/// The base image name that means an empty filesystem, as in a Dockerfile.
pub const SCRATCH: &str = "scratch";
/// Default mode of a secret file, as `RUN --mount=type=secret` gives it.
const SECRET_MODE: u32 = 0o400;
/// Default mode of an ssh agent socket, as `RUN --mount=type=ssh` gives it.
const SSH_MODE: u32 = 0o600;
/// The ssh agent id `docker build --ssh default` forwards, as `RUN --mount=type=ssh` uses.
const SSH_DEFAULT_ID: &str = "default";

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
        errors.name(position(name), &name.value, "variant", &VARIANT_NAMES);
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
        errors.env_names(&variant.env);
        for step in &variant.run {
            errors.env_names(&step.env);
        }
        match family.merged(&name.value) {
            Err(diagnostic) => errors.found.push(diagnostic),
            Ok(merged) if !merged.is_abstract => {
                errors.found.extend(args.errors(&merged));
                let mut reader = Reader {
                    errors,
                    known: |text| !text.contains('$'),
                    whole: true,
                };
                // Values with build args are read once they are substituted.
                let _ = reader.variant(name, &merged, built);
            }
            Ok(_) => {}
        }
    }
}

/// A variant with its build args substituted, read into its model; the first rule it breaks
/// otherwise.
pub fn read_variant(
    spec: &Spec,
    name: &Spanned<String>,
    variant: &Variant,
) -> Result<model::Variant, Diagnostic> {
    let mut errors = Errors::new(&spec.document.file, &spec.document.text);
    let built: BTreeSet<&str> = spec
        .builder
        .binaries()
        .map(|b| b.value.name.as_str())
        .collect();
    let mut reader = Reader {
        errors: &mut errors,
        known: |_| true,
        whole: true,
    };
    let model = reader.variant(name, variant, &built);
    errors.found.sort_by_key(|diagnostic| diagnostic.position);
    match (errors.found.into_iter().next(), model) {
        (Some(diagnostic), _) => Err(diagnostic),
        (None, Some(model)) => Ok(model),
        (None, None) => unreachable!("a variant is read whole unless a rule is broken"),
    }
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

/// Why a value was refused, in the spec's terms.
struct Broken {
    message: String,
    hint: Option<String>,
}

fn broken(message: String, hint: Option<&str>) -> Broken {
    Broken {
        message,
        hint: hint.map(str::to_owned),
    }
}

/// Reads a merged variant's values into their types and reports each rule a value breaks.
/// `known` says whether a value is final (no build arg left in it): only those are read.
struct Reader<'r, 'a> {
    errors: &'r mut Errors<'a>,
    known: fn(&str) -> bool,
    /// Whether every value was read; only then is the model the variant.
    whole: bool,
}

impl Reader<'_, '_> {
    /// `parse`'s value of `value`; when it is not known yet or `parse` refuses it (reported),
    /// a default, and the model is not whole.
    fn read<T: Default>(
        &mut self,
        value: &Spanned<String>,
        parse: impl FnOnce(&str) -> Result<T, Broken>,
    ) -> T {
        if !(self.known)(&value.value) {
            self.whole = false;
            return T::default();
        }
        parse(&value.value).unwrap_or_else(|refused| {
            self.whole = false;
            self.errors
                .at(position(value), refused.message, refused.hint);
            T::default()
        })
    }

    /// Reports `message` at `value` unless `valid`: a rule that reads no value.
    fn rule(&mut self, value: &Spanned<String>, valid: bool, message: String, hint: Option<&str>) {
        self.read(value, |_| {
            if valid {
                Ok(())
            } else {
                Err(broken(message, hint))
            }
        });
    }

    fn variant(
        &mut self,
        name: &Spanned<String>,
        variant: &Variant,
        built: &BTreeSet<&str>,
    ) -> Option<model::Variant> {
        let base = match &variant.from {
            None => {
                self.whole = false;
                missing_from(name, self.errors);
                None
            }
            Some(from) => self.read(from, base),
        };
        let stages: Vec<model::Stage> = variant
            .stages
            .iter()
            .map(|stage| self.stage(stage, variant.owner.as_ref()))
            .collect();
        let binaries = variant
            .binaries
            .iter()
            .map(|(binary, install)| {
                self.rule(
                    binary,
                    built.contains(binary.value.as_str()),
                    format!(
                        "variant `{}` takes binary `{}`, which the builder does not build",
                        name.value, binary.value
                    ),
                    Some(&format!("builder binaries: {}", join(built))),
                );
                BinaryCopy {
                    name: binary.clone(),
                    dest: self.absolute(&install.path, "binary destination"),
                    options: self.copy_options(
                        false,
                        install.owner.as_ref().or(variant.owner.as_ref()),
                        install.mode.as_ref(),
                    ),
                }
            })
            .collect::<Vec<_>>();
        let copies = stages.iter().flat_map(|stage| &stage.steps);
        let copies: Vec<&FileCopy> = copies
            .filter_map(|step| match step.layer()? {
                LayerStep::Copy(copies) => Some(copies),
                _ => None,
            })
            .flatten()
            .collect();
        self.destinations(variant, &copies, &binaries);
        if let Some(user) = &variant.user {
            self.rule(user, !user.value.is_empty(), "empty user".to_owned(), None);
        }
        let ports = variant
            .expose
            .iter()
            .map(|port| {
                self.read(port, |text| {
                    syntax::port(text).ok_or_else(|| {
                        broken(
                            format!("invalid port `{text}`"),
                            Some("write a port as `8080`, `8080/tcp` or `53/udp`"),
                        )
                    })
                })
            })
            .collect();
        let healthcheck = variant.healthcheck.as_ref().map(|check| {
            self.command(&check.test, "healthcheck test");
            let mut nanos = |duration: &Option<Spanned<String>>| {
                duration
                    .as_ref()
                    .map_or(0, |duration| self.read(duration, duration_ns))
            };
            Healthcheck {
                test: healthcheck_test(&check.test),
                interval: nanos(&check.interval),
                timeout: nanos(&check.timeout),
                start_period: nanos(&check.start_period),
                retries: check.retries.map_or(0, u64::from),
            }
        });
        if let Some(signal) = &variant.stopsignal {
            self.read(signal, |text| {
                if syntax::is_signal(text) {
                    Ok(())
                } else {
                    Err(broken(
                        format!("invalid stop signal `{text}`"),
                        Some("write a signal name such as `SIGQUIT`, or its number"),
                    ))
                }
            });
        }
        let strings = |list: &Option<Vec<Spanned<String>>>| {
            list.as_ref()
                .map(|list| list.iter().map(|word| word.value.clone()).collect())
        };
        let value = |text: &Option<Spanned<String>>| text.as_ref().map(|text| text.value.clone());
        let (Some(base), Some(from), true) = (base, variant.from.clone(), self.whole) else {
            return None;
        };
        Some(model::Variant {
            base,
            from,
            workdir: variant.workdir.clone(),
            stages,
            binaries,
            entrypoint: strings(&variant.entrypoint),
            cmd: strings(&variant.cmd),
            user: value(&variant.user),
            labels: pairs(&variant.labels),
            ports,
            healthcheck,
            stop_signal: value(&variant.stopsignal),
            check: variant.check.clone(),
        })
    }

    /// One variant's own steps in the order written, each value read. `owner` is the
    /// variant's default owner of copies.
    fn stage(&mut self, stage: &Stage, owner: Option<&Spanned<String>>) -> model::Stage {
        let mut steps: Vec<(Position, model::Step)> = Vec::new();
        if let Some(workdir) = &stage.workdir {
            self.absolute(workdir, "workdir");
            let step = LayerStep::Workdir(workdir.clone());
            steps.push((position(workdir), model::Step::Layer(Box::new(step))));
        }
        if let Some((first, _)) = stage.env.iter().next() {
            steps.push((position(first), model::Step::Env(stage.env.clone())));
        }
        for package in &stage.packages {
            self.read(package, |text| {
                if syntax::is_package(text) {
                    Ok(())
                } else {
                    Err(broken(
                        format!("invalid package name `{text}`"),
                        Some("a package is `name`, `name=version` or `name:arch` in letters, digits and `.+-:=~_`, starting with a letter or digit, such as `jq=1.6-2.1`"),
                    ))
                }
            });
        }
        let apt_repositories = self.apt_repositories(&stage.apt_repositories);
        let repository_names = stage.apt_repositories.iter().map(|r| &r.name);
        if let Some(at) = stage
            .packages
            .iter()
            .chain(repository_names)
            .min_by_key(|at| position(at))
        {
            let packages = LayerStep::Packages {
                at: at.clone(),
                packages: stage.packages.clone(),
                apt_repositories,
            };
            steps.push((position(at), model::Step::Layer(Box::new(packages))));
        }
        for step in &stage.run {
            steps.push((
                step.command.position(),
                model::Step::Layer(Box::new(LayerStep::Run(self.run_step(step)))),
            ));
        }
        if let Some(first) = stage.copy.first() {
            let copies = stage
                .copy
                .iter()
                .map(|copy| FileCopy {
                    src: copy.src.clone(),
                    source: self.context_source(&copy.src, "copy source"),
                    dest: self.absolute(&copy.dest, "copy destination"),
                    options: self.copy_options(
                        true,
                        copy.owner.as_ref().or(owner),
                        copy.mode.as_ref(),
                    ),
                })
                .collect();
            steps.push((
                position(&first.src),
                model::Step::Layer(Box::new(LayerStep::Copy(copies))),
            ));
        }
        // As Dockerfile lines: what a variant writes first happens first.
        steps.sort_by_key(|(at, _)| *at);
        model::Stage {
            variant: stage.variant.clone(),
            steps: steps.into_iter().map(|(_, step)| step).collect(),
        }
    }

    fn apt_repositories(&mut self, written: &[AptRepository]) -> Vec<model::AptRepository> {
        let mut names = BTreeSet::new();
        written
            .iter()
            .map(|repository| {
                let name = &repository.name;
                if (self.known)(&name.value) {
                    self.errors.name(position(name), &name.value, "apt repository", &VARIANT_NAMES);
                }
                self.rule(
                    name,
                    names.insert(name.value.as_str()),
                    format!("apt repository `{}` is listed twice", name.value),
                    None,
                );
                let url = self.read(&repository.url, |text| {
                    apt_part(text, syntax::is_apt_url, "URL", "https://cli.github.com/packages")
                });
                let suite = self.read(&repository.suite, |text| {
                    apt_part(text, syntax::is_apt_word, "suite", "stable")
                });
                let mut components: Vec<String> = repository
                    .components
                    .iter()
                    .map(|component| {
                        self.read(component, |text| {
                            apt_part(text, syntax::is_apt_word, "component", "main")
                        })
                    })
                    .collect();
                if components.is_empty() {
                    components.push("main".to_owned());
                }
                let key = self.read(&repository.key, |text| {
                    if text.starts_with("https://") && syntax::is_apt_url(text) {
                        Ok(Some(KeySource::Url(text.to_owned())))
                    } else {
                        match syntax::context_path(text) {
                            Ok(path) if !path.is_empty() => Ok(Some(KeySource::Context(path))),
                            _ => Err(broken(
                                format!("apt repository key `{text}` is neither a file in the build context nor an https:// URL"),
                                Some("write a path such as `keys/repo.gpg`, or the key's https:// URL"),
                            )),
                        }
                    }
                });
                let armored = repository.key.value.ends_with(".asc");
                model::AptRepository {
                    keyring: format!(
                        "/etc/apt/keyrings/{}.{}",
                        name.value,
                        if armored { "asc" } else { "gpg" }
                    ),
                    name: name.clone(),
                    url,
                    suite,
                    components,
                    key: key.unwrap_or(KeySource::Context(String::new())),
                }
            })
            .collect()
    }

    fn run_step(&mut self, step: &crate::spec::RunStep) -> model::RunStep {
        self.command(&step.command, "run");
        for cache in &step.cache {
            self.absolute(&cache.target, "cache target");
            if let Some(id) = &cache.id {
                let valid = syntax::cache_id(&id.value);
                let reason = valid.err().unwrap_or_default();
                let message = format!("cache id `{}` {reason}", id.value.escape_debug());
                self.rule(id, valid.is_ok(), message, None);
            }
        }
        let secrets = step
            .secrets
            .iter()
            .map(|secret| {
                // It names the default file: a plain name (an empty one is refused below).
                let id = &secret.id.value;
                self.rule(
                    &secret.id,
                    id.is_empty() || syntax::is_secret_id(id),
                    format!("invalid secret id `{}`", id.escape_debug()),
                    Some("secret ids are names of letters, digits, `-`, `_` and `.`, such as `npmrc`"),
                );
                let dest = format!("/run/secrets/{}", secret.id.value);
                self.client_mount(secret, "secret", dest, SECRET_MODE)
            })
            .collect();
        let bind = step
            .bind
            .iter()
            .map(|bind| ContextBind {
                source: self.context_source(&bind.src, "bind source"),
                target: self.absolute(&bind.target, "bind target"),
            })
            .collect();
        let ssh = step
            .ssh
            .iter()
            .enumerate()
            .map(|(index, ssh)| {
                let dest = format!("/run/buildkit/ssh_agent.{index}");
                self.client_mount(ssh, "ssh", dest, SSH_MODE)
            })
            .collect();
        let workdir = step
            .workdir
            .as_ref()
            .map(|workdir| self.absolute(workdir, "run workdir"));
        if let Some(user) = &step.user {
            self.rule(
                user,
                !user.value.is_empty(),
                "empty run user".to_owned(),
                None,
            );
        }
        model::RunStep {
            command: step.command.clone(),
            env: pairs(&step.env),
            cache: step.cache.clone(),
            secrets,
            bind,
            ssh,
            user: step.user.as_ref().map(|user| user.value.clone()),
            workdir,
        }
    }

    /// A secret or an ssh socket, with `what`'s defaults for what is not written.
    fn client_mount<Id: MountId>(
        &mut self,
        mount: &WrittenMount<Id>,
        what: &str,
        default_dest: String,
        default_mode: u32,
    ) -> ClientMount {
        let id = mount.id.written().map_or(SSH_DEFAULT_ID, |id| {
            self.rule(id, !id.value.is_empty(), format!("empty {what} id"), None);
            &id.value
        });
        ClientMount {
            dest: mount.target.as_ref().map_or(default_dest, |target| {
                self.absolute(target, &format!("{what} target"))
            }),
            id: id.to_owned(),
            uid: mount.uid,
            gid: mount.gid,
            mode: self.mode(mount.mode.as_ref()).unwrap_or(default_mode),
            optional: !mount.required,
        }
    }

    /// An absolute path, cleaned (`//usr/./bin/` -> `/usr/bin`).
    fn absolute(&mut self, path: &Spanned<String>, what: &str) -> String {
        self.read(path, |text| {
            syntax::absolute_path(text)
                .ok_or_else(|| broken(format!("{what} `{text}` is not an absolute path"), None))
        })
    }

    /// A path read from the build context: relative, and not leaving it.
    fn context_source(&mut self, path: &Spanned<String>, what: &str) -> String {
        self.read(path, |text| {
            syntax::context_path(text).map_err(|reason| {
                broken(
                    format!("{what} `{text}` {reason}"),
                    Some(&format!(
                        "{what}s are paths inside the build context, such as `config/app.toml`"
                    )),
                )
            })
        })
    }

    fn command(&mut self, command: &Command, what: &str) {
        match command {
            Command::Shell(shell) => self.rule(
                shell,
                !shell.value.trim().is_empty(),
                format!("empty {what} command"),
                None,
            ),
            Command::Exec(argv) => match argv.value.first() {
                Some(first) => {
                    self.rule(
                        first,
                        !first.value.is_empty(),
                        format!("empty {what} program"),
                        None,
                    );
                }
                None => {
                    let at = Spanned {
                        value: String::new(),
                        referenced: argv.referenced,
                        defined: argv.defined,
                    };
                    self.read(&at, |_| {
                        Err::<(), _>(broken(
                            format!("empty {what} command"),
                            Some("give a shell string or a non-empty argv"),
                        ))
                    });
                }
            },
        }
    }

    fn copy_options(
        &mut self,
        dir_contents: bool,
        owner: Option<&Spanned<String>>,
        mode: Option<&Spanned<String>>,
    ) -> CopyOptions {
        let owner = owner.and_then(|owner| {
            self.read(owner, |text| {
                Owner::parse(text).map(Some).ok_or_else(|| {
                    broken(
                        format!("invalid owner `{text}`"),
                        Some("write `user`, `user:group`, or numeric ids such as `1000:1000`"),
                    )
                })
            })
        });
        CopyOptions {
            dir_contents,
            mode: self.mode(mode),
            owner,
        }
    }

    fn mode(&mut self, mode: Option<&Spanned<String>>) -> Option<u32> {
        mode.and_then(|mode| {
            self.read(mode, |text| {
                syntax::octal_mode(text).map(Some).ok_or_else(|| {
                    broken(
                        format!("invalid mode `{text}`"),
                        Some("write an octal mode such as `0755`"),
                    )
                })
            })
        })
    }

    /// Two binaries, or a binary and a copy, written to one path (however it is spelled)
    /// would overwrite each other. Copies may share a destination directory.
    fn destinations(&mut self, variant: &Variant, copies: &[&FileCopy], binaries: &[BinaryCopy]) {
        let mut taken: BTreeSet<&str> = copies.iter().map(|copy| copy.dest.as_str()).collect();
        let mut seen_binaries = BTreeSet::new();
        for ((_, install), binary) in variant.binaries.iter().zip(binaries) {
            if !(self.known)(&install.path.value) || binary.dest.is_empty() {
                continue;
            }
            let message = if !seen_binaries.insert(binary.dest.as_str()) {
                format!("two binaries are copied to `{}`", binary.dest)
            } else if !taken.insert(binary.dest.as_str()) {
                format!(
                    "a copy and binary `{}` both write `{}`",
                    binary.name.value, binary.dest
                )
            } else {
                continue;
            };
            self.rule(&install.path, false, message, None);
        }
    }
}

/// The base a `from:` names: `scratch`, or an image reference, normalized.
fn base(text: &str) -> Result<Option<Base>, Broken> {
    if text == SCRATCH {
        return Ok(Some(Base::Scratch));
    }
    reference::normalize(text)
        .map(|reference| Some(Base::Image { reference }))
        .map_err(|error| broken(error.to_string(), Some(IMAGE_HINT)))
}

/// One part of an apt sources line, checked by `valid`.
fn apt_part(
    text: &str,
    valid: fn(&str) -> bool,
    what: &str,
    example: &str,
) -> Result<String, Broken> {
    if valid(text) {
        Ok(text.to_owned())
    } else {
        Err(broken(
            format!("invalid apt repository {what} `{text}`"),
            Some(&format!("write a {what} such as `{example}`")),
        ))
    }
}

fn duration_ns(text: &str) -> Result<u64, Broken> {
    syntax::duration_ns(text).ok_or_else(|| {
        broken(
            format!("invalid duration `{text}`"),
            Some("write a duration such as `30s`, `1m30s` or `500ms`"),
        )
    })
}

/// Docker's healthcheck test: `CMD-SHELL` for a string, `CMD` for an argv, `NONE` as is.
fn healthcheck_test(test: &Command) -> Vec<String> {
    match test {
        Command::Shell(script) => vec!["CMD-SHELL".to_owned(), script.value.clone()],
        Command::Exec(argv) if argv.value.len() == 1 && argv.value[0].value == "NONE" => {
            vec!["NONE".to_owned()]
        }
        Command::Exec(argv) => std::iter::once("CMD".to_owned())
            .chain(argv.value.iter().map(|word| word.value.clone()))
            .collect(),
    }
}

fn pairs(map: &NamedMap<Spanned<String>>) -> Vec<(String, String)> {
    map.iter()
        .map(|(key, value)| (key.value.clone(), value.value.clone()))
        .collect()
}

fn join(names: &BTreeSet<&str>) -> String {
    listed(names.iter().copied(), names.len(), ", ")
}

fn missing_from(name: &Spanned<String>, errors: &mut Errors<'_>) {
    errors.at(
        position(name),
        format!("variant `{}` has no `from`", name.value),
        Some("set `from:` or extend a variant that has one".to_owned()),
    );
}

#[cfg(test)]
mod tests {
    use crate::spec::parse;
    use crate::validate::validate;

    const HEAD: &str = "version: 1\nbuilder: {image: rust, binaries: [app]}\n";

    fn errors_of(body: &str) -> Vec<String> {
        errors_in(&format!("{HEAD}{body}"))
    }

    fn errors_in(text: &str) -> Vec<String> {
        let spec = parse(text, "f.yaml").unwrap();
        validate(&spec, "f.yaml", text)
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
                "f.yaml:19:55: a copy and binary `nope` both write `/x`",
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
    fn destinations_compare_however_they_are_spelled() {
        let errors = errors_in(
            "version: 1
builder: {image: rust, binaries: [app, tool]}
variants:
  v:
    from: debian
    copy: [{src: app.sh, dest: /usr/local/bin/tool}]
    binaries: {app: /usr/local/bin/app, tool: //usr/local/./bin/tool}
  w:
    from: debian
    binaries: {app: /usr/bin/app, tool: /usr/lib/../bin/app/}
",
        );
        assert_eq!(
            errors,
            [
                "f.yaml:7:47: a copy and binary `tool` both write `/usr/local/bin/tool`",
                "f.yaml:10:41: two binaries are copied to `/usr/bin/app`",
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
                "f.yaml:4:32: invalid image reference `Not A Ref`: the repository `Not A Ref` is not `/`-separated parts of lowercase letters and digits joined by `.`, `_`, `__` or dashes",
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
