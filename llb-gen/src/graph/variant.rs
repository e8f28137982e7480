//! A variant's graph: one op per spec step, in this order: `from`, `workdir` (created),
//! `packages`, `run` steps, `copy`, `binaries`. Installs come first so that changing a copied
//! file or a binary rebuilds only the last layers. The other keys only change the image config.

use std::collections::HashMap;

use super::{BinariesRoot, BuildFacts, Graph, context_source, range, range_at, shell_quote};
use crate::args::{Budget, Value, substitute};
use crate::cache_keys;
use crate::diagnostic::Diagnostic;
use crate::image::{ConfigChanges, Healthcheck, ImageConfig};
use crate::llb::{
    ClientMount, Copy, CopyOptions, Describe, Exec, FileAction, Mount, Owner, SpecRange, State,
};
use crate::spec::{Command, CopyStep, Document, NamedMap, RunStep, Spanned, Variant, position};
use crate::syntax;

/// Debian images delete downloaded packages after each install; the cache mount needs them.
const APT_KEEP_DOWNLOADS: &str = "rm -f /etc/apt/apt.conf.d/docker-clean\necho 'Binary::apt::APT::Keep-Downloaded-Packages \"true\";' > /etc/apt/apt.conf.d/keep-cache";
/// Default mode of a secret file, as `RUN --mount=type=secret` gives it.
const SECRET_MODE: u32 = 0o400;
/// Default mode of an ssh agent socket, as `RUN --mount=type=ssh` gives it.
const SSH_MODE: u32 = 0o600;
/// The ssh agent id `docker build --ssh default` forwards, as `RUN --mount=type=ssh` uses.
const SSH_DEFAULT_ID: &str = "default";

/// A spec's octal mode, else `default` (validation has refused a malformed one).
fn octal_or(mode: Option<&Spanned<String>>, default: u32) -> u32 {
    mode.and_then(|mode| syntax::octal_mode(&mode.value))
        .unwrap_or(default)
}

/// One op-making step of the variant, before it is numbered.
enum Step<'v> {
    Workdir(&'v Spanned<String>),
    Packages(&'v [Spanned<String>]),
    Run(&'v RunStep),
    Copy(&'v [CopyStep]),
    /// Every binary, in one op located at the first one's name.
    Binaries(&'v Spanned<String>),
}

/// The variant's image: its base with each step applied.
/// With `smoke_check`, the variant's `check` commands then run on top of the image, each in its
/// own vertex `[check:<name> i/n]`, as the image's user in its workdir and env.
pub(super) fn graph(
    document: &Document,
    name: &str,
    variant: &Variant,
    binaries: &BinariesRoot,
    facts: &BuildFacts,
    smoke_check: bool,
) -> Result<Graph, Diagnostic> {
    let mut steps = Vec::new();
    steps.extend(variant.workdir.as_ref().map(Step::Workdir));
    if !variant.packages.is_empty() {
        steps.push(Step::Packages(&variant.packages));
    }
    steps.extend(variant.run.iter().map(Step::Run));
    if !variant.copy.is_empty() {
        steps.push(Step::Copy(&variant.copy));
    }
    if let Some((first, _)) = variant.binaries.iter().next() {
        steps.push(Step::Binaries(first));
    }
    let count = steps.len() + 1;
    let base = facts
        .base_config
        .clone()
        .unwrap_or_else(|| ImageConfig::scratch(&facts.platform));
    let builder = VariantBuilder {
        file: &document.file,
        name,
        variant,
        binaries,
        facts,
        env: expand_env(document, &variant.env, &base)?,
        base,
        count,
    };
    // Validation refuses a variant without `from`; `scratch` only keeps this total.
    let from = variant
        .from
        .as_ref()
        .map_or("scratch", |from| from.value.as_str());
    let mut state = State::image(
        &crate::reference::normalize(from).unwrap_or_else(|_| from.to_owned()),
        &facts.platform,
        Describe {
            name: format!("[{name} 1/{count}] FROM {from}"),
            location: variant.from.as_ref().map(range),
        },
    );
    let mut history = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        // A graph over the message limit is refused (`graph::build`): stop building it.
        if state.is_over_message_limit() {
            break;
        }
        let (next, created_by) = builder.apply(step, state, index + 2);
        state = next;
        history.push(created_by);
    }
    if smoke_check {
        let checks = &variant.check;
        for (index, check) in checks.iter().enumerate() {
            if state.is_over_message_limit() {
                break;
            }
            let describe = Describe {
                name: format!(
                    "[check:{name} {}/{}] {}",
                    index + 1,
                    checks.len(),
                    command_text(check)
                ),
                location: Some(range_at(check.position())),
            };
            state = state
                .run(builder.check(check), &facts.platform, describe)
                .root;
        }
    }
    Ok(Graph {
        state,
        changes: builder.config_changes(history),
    })
}

/// What every step of one variant needs: the spec file (for history), the variant, where the
/// binaries are, the base image's config, and how many vertices the variant has.
struct VariantBuilder<'a> {
    file: &'a str,
    name: &'a str,
    variant: &'a Variant,
    binaries: &'a BinariesRoot,
    facts: &'a BuildFacts,
    base: ImageConfig,
    /// The variant's env, its values expanded.
    env: Vec<(String, String)>,
    /// Vertices of the variant, `FROM` included (the `n` of `[name i/n]`).
    count: usize,
}

impl VariantBuilder<'_> {
    /// Applies step number `number` and returns the new state and its history entry.
    fn apply(&self, step: &Step<'_>, state: State, number: usize) -> (State, String) {
        let platform = &self.facts.platform;
        let (what, at, key) = self.summary(step);
        let describe = Describe {
            name: format!("[{} {number}/{}] {what}", self.name, self.count),
            location: Some(at),
        };
        let created_by = format!("{what} # {}:{} {key}", self.file, at.line);
        let next = match step {
            Step::Workdir(path) => state.file(
                &[FileAction::Mkdir {
                    path: path.value.clone(),
                    mode: 0o755,
                    parents: true,
                    owner: None,
                }],
                platform,
                describe,
            ),
            Step::Packages(packages) => state.run(self.packages(packages), platform, describe).root,
            Step::Run(step) => state.run(self.run(step), platform, describe).root,
            Step::Copy(copies) => self.copy(state, copies, describe),
            Step::Binaries(_) => state.copy(&self.binary_copies(), platform, describe),
        };
        (next, created_by)
    }

    /// What a step does (for its vertex name and history), where it is written, and its key.
    fn summary(&self, step: &Step<'_>) -> (String, SpecRange, &'static str) {
        match step {
            Step::Workdir(path) => (format!("WORKDIR {}", path.value), range(path), "workdir"),
            Step::Packages(packages) => (
                format!("apt-get install {}", words(packages)),
                range(&packages[0]),
                "packages",
            ),
            Step::Run(step) => (
                format!("RUN {}", command_text(&step.command)),
                range_at(step.command.position()),
                "run",
            ),
            Step::Copy(copies) => {
                let list: Vec<String> = copies
                    .iter()
                    .map(|copy| format!("{} -> {}", copy.src.value, copy.dest.value))
                    .collect();
                (
                    format!("COPY {}", list.join(", ")),
                    range(&copies[0].src),
                    "copy",
                )
            }
            Step::Binaries(first) => {
                let list: Vec<String> = self
                    .variant
                    .binaries
                    .iter()
                    .map(|(binary, install)| format!("{} -> {}", binary.value, install.path.value))
                    .collect();
                (
                    format!("COPY {}", list.join(", ")),
                    range(first),
                    "binaries",
                )
            }
        }
    }

    /// `apt-get install` with apt's caches on locked cache mounts, and no lists in the layer.
    fn packages(&self, packages: &[Spanned<String>]) -> Exec {
        let script = format!(
            "set -eu\n{APT_KEEP_DOWNLOADS}\napt-get update\napt-get install -y --no-install-recommends {}\nrm -rf /var/lib/apt/lists/*\n",
            words(packages)
        );
        let frontend = [("DEBIAN_FRONTEND".to_owned(), "noninteractive".to_owned())];
        Exec {
            args: shell(script),
            // Not the variant's env: apt needs none of it, and without it every variant on the
            // same base with the same packages shares this layer.
            env: self.env_over_base(frontend.to_vec()),
            cwd: "/".to_owned(),
            user: "root".to_owned(),
            mounts: self.facts.cache_mounts().apt(),
        }
    }

    fn run(&self, step: &RunStep) -> Exec {
        let args = command_args(&step.command);
        let cache_mounts = self.facts.cache_mounts();
        let caches = step.cache.iter().map(|cache| cache_mounts.run_step(cache));
        let secrets = step.secrets.iter().map(|secret| {
            Mount::Secret(ClientMount {
                dest: secret.target.as_ref().map_or_else(
                    || format!("/run/secrets/{}", secret.id.value),
                    |t| t.value.clone(),
                ),
                id: secret.id.value.clone(),
                uid: secret.uid,
                gid: secret.gid,
                mode: octal_or(secret.mode.as_ref(), SECRET_MODE),
                optional: !secret.required,
            })
        });
        let binds = step.bind.iter().map(|bind| {
            let source = syntax::context_path(&bind.src.value).unwrap_or_default();
            Mount::Bind {
                dest: bind.target.value.clone(),
                from: context_source(
                    self.facts,
                    // An empty path is the whole context: no include pattern.
                    cache_keys::context_paths(&[source.clone()][..usize::from(!source.is_empty())]),
                    format!("[{}] load build context: {source}", self.name),
                ),
                selector: source,
            }
        });
        let sockets: Vec<ClientMount> = step
            .ssh
            .iter()
            .enumerate()
            .map(|(index, ssh)| ClientMount {
                dest: ssh.target.as_ref().map_or_else(
                    || format!("/run/buildkit/ssh_agent.{index}"),
                    |t| t.value.clone(),
                ),
                id: ssh
                    .id
                    .as_ref()
                    .map_or(SSH_DEFAULT_ID, |id| id.value.as_str())
                    .to_owned(),
                uid: ssh.uid,
                gid: ssh.gid,
                mode: octal_or(ssh.mode.as_ref(), SSH_MODE),
                optional: !ssh.required,
            })
            .collect();
        let mut env = self.env(&pairs(&step.env));
        // As BuildKit's client does: the first socket is the agent, unless SSH_AUTH_SOCK is set.
        if let Some(first) = sockets.first()
            && !env.iter().any(|entry| entry.starts_with("SSH_AUTH_SOCK="))
        {
            env.push(format!("SSH_AUTH_SOCK={}", first.dest));
        }
        Exec {
            args,
            env,
            cwd: step
                .workdir
                .as_ref()
                .or(self.variant.workdir.as_ref())
                .map(|workdir| workdir.value.clone())
                .or_else(|| self.base.config.working_dir.clone())
                .filter(|workdir| !workdir.is_empty())
                .unwrap_or_else(|| "/".to_owned()),
            user: step
                .user
                .as_ref()
                .map(|user| user.value.clone())
                .or_else(|| self.base.config.user.clone())
                .unwrap_or_default(),
            mounts: caches
                .chain(secrets)
                .chain(binds)
                .chain(sockets.into_iter().map(Mount::Ssh))
                .collect(),
        }
    }

    /// A smoke check runs as the container would: the image's user, workdir and env.
    fn check(&self, command: &Command) -> Exec {
        let image = self.base.clone().apply(&self.config_changes(Vec::new()));
        Exec {
            args: command_args(command),
            env: image.config.env.unwrap_or_default(),
            cwd: image
                .config
                .working_dir
                .filter(|workdir| !workdir.is_empty())
                .unwrap_or_else(|| "/".to_owned()),
            user: image.config.user.unwrap_or_default(),
            mounts: Vec::new(),
        }
    }

    /// The copies from the build context, reading only the paths they name.
    fn copy(&self, state: State, copies: &[CopyStep], describe: Describe) -> State {
        let sources: Vec<String> = copies
            .iter()
            .map(|copy| syntax::context_path(&copy.src.value).unwrap_or_default())
            .collect();
        let include = if sources.iter().any(String::is_empty) {
            Vec::new()
        } else {
            sources.clone()
        };
        let context = context_source(
            self.facts,
            cache_keys::context_paths(&include),
            format!("[{}] load build context: {}", self.name, sources.join(", ")),
        );
        let actions: Vec<Copy> = copies
            .iter()
            .zip(&sources)
            .map(|(copy, source)| Copy {
                from: context.clone(),
                src: format!("/{source}"),
                dest: copy.dest.value.clone(),
                options: file_options(true, copy.owner.as_ref(), copy.mode.as_ref()),
            })
            .collect();
        state.copy(&actions, &self.facts.platform, describe)
    }

    fn binary_copies(&self) -> Vec<Copy> {
        self.variant
            .binaries
            .iter()
            .map(|(binary, install)| Copy {
                from: self.binaries.state.clone(),
                src: format!("{}/{}", self.binaries.dir, binary.value),
                dest: install.path.value.clone(),
                options: file_options(false, install.owner.as_ref(), install.mode.as_ref()),
            })
            .collect()
    }

    /// The environment of an exec: the base image's, the variant's, then `extra`; PATH
    /// defaults as in Docker.
    fn env(&self, extra: &[(String, String)]) -> Vec<String> {
        self.env_over_base([&self.env[..], extra].concat())
    }

    /// The base image's environment with `env` on top.
    fn env_over_base(&self, env: Vec<(String, String)>) -> Vec<String> {
        let changes = ConfigChanges {
            env,
            ..Default::default()
        };
        self.base
            .clone()
            .apply(&changes)
            .config
            .env
            .unwrap_or_default()
    }

    fn config_changes(&self, history: Vec<String>) -> ConfigChanges {
        let variant = self.variant;
        let strings = |list: &Option<Vec<Spanned<String>>>| {
            list.as_ref()
                .map(|list| list.iter().map(|word| word.value.clone()).collect())
        };
        let value = |text: &Option<Spanned<String>>| text.as_ref().map(|text| text.value.clone());
        ConfigChanges {
            env: self.env.clone(),
            entrypoint: strings(&variant.entrypoint),
            cmd: strings(&variant.cmd),
            user: value(&variant.user),
            workdir: value(&variant.workdir),
            labels: pairs(&variant.labels),
            exposed_ports: variant
                .expose
                .iter()
                .filter_map(|port| syntax::port(&port.value))
                .collect(),
            healthcheck: variant.healthcheck.as_ref().map(|check| {
                let nanos = |text: &Option<Spanned<String>>| {
                    text.as_ref()
                        .and_then(|text| syntax::duration_ns(&text.value))
                        .unwrap_or(0)
                };
                Healthcheck {
                    test: healthcheck_test(&check.test),
                    interval: nanos(&check.interval),
                    timeout: nanos(&check.timeout),
                    start_period: nanos(&check.start_period),
                    retries: check.retries.map_or(0, u64::from),
                }
            }),
            stop_signal: value(&variant.stopsignal),
            history,
            // The build's SOURCE_DATE_EPOCH is no part of the spec: the caller sets it.
            created: None,
        }
    }
}

/// The variant's env values with environment variables expanded as a Dockerfile `ENV` does:
/// from earlier entries, else the base image's env, else empty (build args are already in).
/// Values that name each other share what they name until written out, within a [`Budget`].
fn expand_env(
    document: &Document,
    env: &NamedMap<Spanned<String>>,
    base: &ImageConfig,
) -> Result<Vec<(String, String)>, Diagnostic> {
    let mut known: HashMap<&str, Value> = HashMap::new();
    for (name, value) in base.env_vars() {
        known.entry(name).or_insert_with(|| Value::from(value));
    }
    let mut expanded = Vec::new();
    for (name, value) in env.iter() {
        let lookup = |wanted: &str| Some(known.get(wanted).cloned().unwrap_or_default());
        let text =
            substitute(&value.value, &lookup).unwrap_or_else(|_| Value::from(value.value.as_str()));
        known.insert(&name.value, text.clone());
        expanded.push((name, value, text));
    }
    let mut budget = Budget::default();
    expanded
        .into_iter()
        .map(|(name, value, text)| {
            let text = budget
                .write(&text)
                .map_err(|error| error.located(document, position(value)))?;
            Ok((name.value.clone(), text))
        })
        .collect()
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

fn file_options(
    dir_contents: bool,
    owner: Option<&Spanned<String>>,
    mode: Option<&Spanned<String>>,
) -> CopyOptions {
    CopyOptions {
        dir_contents,
        mode: mode.and_then(|mode| syntax::octal_mode(&mode.value)),
        owner: owner.and_then(|owner| Owner::parse(&owner.value)),
    }
}

/// The argv of a command: a shell string runs under `/bin/sh -c`.
fn command_args(command: &Command) -> Vec<String> {
    match command {
        Command::Shell(script) => shell(script.value.clone()),
        Command::Exec(argv) => argv.value.iter().map(|word| word.value.clone()).collect(),
    }
}

fn shell(script: String) -> Vec<String> {
    vec!["/bin/sh".to_owned(), "-c".to_owned(), script]
}

/// A command as one line: the shell string's first line, or the argv quoted for a shell.
fn command_text(command: &Command) -> String {
    match command {
        Command::Shell(script) => {
            let mut lines = script.value.trim().lines();
            let first = lines.next().unwrap_or_default().to_owned();
            if lines.next().is_some() {
                format!("{first} …")
            } else {
                first
            }
        }
        Command::Exec(argv) => argv
            .value
            .iter()
            .map(|word| shell_quote(&word.value))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn words(list: &[Spanned<String>]) -> String {
    list.iter()
        .map(|word| word.value.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn pairs(map: &NamedMap<Spanned<String>>) -> Vec<(String, String)> {
    map.iter()
        .map(|(key, value)| (key.value.clone(), value.value.clone()))
        .collect()
}
