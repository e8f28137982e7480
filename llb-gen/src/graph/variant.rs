//! A variant's graph: its base, then the steps of each variant of its `extends` chain (parents
//! first), each variant's in the order it writes them, as Dockerfile lines: `workdir` (created
//! there), `packages`, `run` steps and `copy`, with `env` and `workdir` in force for the steps
//! written after them; then `binaries`. A parent's steps see only what the parent and its own
//! parents set, so they are the same ops, and layers, in every child. The other keys only
//! change the image config.

use std::collections::HashMap;
use std::rc::Rc;

use super::{BinariesRoot, BuildFacts, Graph, context_source, range, range_at, shell_quote};
use crate::args::{Budget, Value, substitute};
use crate::cache_keys;
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::image::{ConfigChanges, ImageConfig};
use crate::llb::{Copy, Describe, Exec, FileAction, Mount, NetworkMode, SpecRange, State};
use crate::model::{
    AptRepository, Base, FileCopy, KeySource, LayerStep, RunStep, Step as Written, Variant,
};
use crate::spec::{Command, Document, NamedMap, Spanned, Spec, position};

/// The apt step. Its arguments are the number of repositories, five words for each (name,
/// keyring path, URL, suite, components), then the packages: values reach the shell as
/// arguments, never as script text. Debian images delete downloaded packages after each
/// install (`docker-clean`), which would empty the cache mount: the hook is set aside for the
/// step and put back, so the image keeps the base's apt setup. The lists are fetched afresh and
/// removed, as a Dockerfile's `RUN apt-get` does: a list kept from another step would skip the
/// check of its signature against this step's keys. Translations are never read by an install.
/// dpkg skips its fsync per unpacked file (`--force-unsafe-io`, as Docker's own Debian images
/// once set for good): a step that fails or is cut off leaves no layer, and the files are the same.
const APT_INSTALL: &str = r#"set -eu
held=
if [ -e /etc/apt/apt.conf.d/docker-clean ]; then
  held=$(mktemp -d)
  mv /etc/apt/apt.conf.d/docker-clean "$held/"
fi
repositories=$1
shift
while [ "$repositories" -gt 0 ]; do
  install -d -m 0755 /etc/apt/keyrings
  install -m 0644 "/run/flotilla/apt-keys/$1" "$2"
  printf 'deb [signed-by=%s] %s %s %s\n' "$2" "$3" "$4" "$5" > "/etc/apt/sources.list.d/$1.list"
  shift 5
  repositories=$((repositories - 1))
done
if [ "$#" -gt 0 ]; then
  apt-get -o Acquire::Languages=none update
  apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-unsafe-io "$@"
fi
rm -rf /var/lib/apt/lists/*
if [ -n "$held" ]; then
  mv "$held/docker-clean" /etc/apt/apt.conf.d/
  rmdir "$held"
fi
"#;
/// Where the apt step finds each repository's key, `<dir>/<name>`.
const APT_KEYS_DIR: &str = "/run/flotilla/apt-keys";
/// The name a fetched key has in its HTTP source.
const APT_KEY_FILE: &str = "key";
/// One op-making step of the variant, before it is numbered.
enum Step<'v> {
    /// One the variant chain writes.
    Written(&'v LayerStep),
    /// Every binary, in one op located at the first one's name.
    Binaries(&'v Spanned<String>),
}

/// Env entries, expanded, shared by the steps they are in force for.
type Env = Rc<[(String, String)]>;

/// A step with what is in force where it is written.
struct Layer<'v> {
    step: Step<'v>,
    /// The env the variant chain has set so far, expanded, over the base image's.
    env: Env,
    /// The `workdir` set so far, if any.
    workdir: Option<&'v str>,
}

/// The variant's steps in order, each with the env and workdir in force, and the whole env
/// the chain sets (the image's, over the base's).
fn layers<'v>(
    document: &Document,
    variant: &'v Variant,
    base: &ImageConfig,
) -> Result<(Vec<Layer<'v>>, Env), Diagnostic> {
    let mut env = EnvInForce::new(base);
    let mut workdir = None;
    let mut layers = Vec::new();
    for written in variant.steps() {
        let step = match written {
            Written::Env(entries) => {
                env.add(document, entries)?;
                continue;
            }
            Written::Layer(step) => &**step,
        };
        if let LayerStep::Workdir(path) = step {
            workdir = Some(path.value.as_str());
        }
        layers.push(Layer {
            step: Step::Written(step),
            env: env.current(),
            workdir,
        });
    }
    if let Some(first) = variant.binaries.first() {
        layers.push(Layer {
            step: Step::Binaries(&first.name),
            env: env.current(),
            workdir,
        });
    }
    Ok((layers, env.current()))
}

/// The variant's image: its base with each step applied.
/// With `smoke_check`, the variant's `check` commands then run on top of the image, each in its
/// own vertex `[check:<name> i/n]`, as the image's user in its workdir and env.
pub(super) fn graph(
    spec: &Spec,
    name: &str,
    variant: &Variant,
    binaries: &BinariesRoot,
    facts: &BuildFacts,
    smoke_check: bool,
) -> Result<Graph, Error> {
    let base = facts
        .base_config
        .clone()
        .unwrap_or_else(|| ImageConfig::scratch(&facts.platform));
    let (layers, env) = layers(&spec.document, variant, &base)?;
    let count = layers.len() + 1;
    let builder = VariantBuilder {
        file: &spec.document.file,
        name,
        variant,
        binaries,
        facts,
        env,
        base,
        count,
    };
    let mut state = match &variant.base {
        Base::Scratch => State::scratch(),
        Base::Image { reference } => facts.image(
            reference,
            &facts.platform,
            Describe {
                name: format!("[{name} 1/{count}] FROM {}", variant.from.value),
                location: Some(range(&variant.from)),
            },
        ),
    };
    let mut history = Vec::new();
    for (index, layer) in layers.iter().enumerate() {
        // A graph over the message limit is refused (`graph::build`): stop building it.
        if state.is_over_message_limit() {
            break;
        }
        let (next, created_by) = builder.apply(layer, state, index + 2);
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
    /// The env the whole chain sets, expanded: the image's over the base's.
    env: Env,
    /// Vertices of the variant, `FROM` included (the `n` of `[name i/n]`).
    count: usize,
}

impl VariantBuilder<'_> {
    /// Applies step number `number` and returns the new state and its history entry.
    fn apply(&self, layer: &Layer<'_>, state: State, number: usize) -> (State, String) {
        let platform = &self.facts.platform;
        let step = &layer.step;
        let (what, at, key) = self.summary(step);
        let describe = Describe {
            name: format!("[{} {number}/{}] {what}", self.name, self.count),
            location: Some(at),
        };
        // No line number: a comment above a step must not change the image.
        let created_by = format!("{what} # {} {key}", self.file);
        let next = match step {
            Step::Written(LayerStep::Workdir(path)) => state.file(
                &[FileAction::Mkdir {
                    path: path.value.clone(),
                    mode: 0o755,
                    parents: true,
                    owner: None,
                }],
                platform,
                describe,
            ),
            Step::Written(LayerStep::Packages {
                packages,
                apt_repositories,
                ..
            }) => {
                let exec = self.packages(packages, apt_repositories);
                state.run(exec, platform, describe).root
            }
            Step::Written(LayerStep::Run(step)) => {
                state.run(self.run(step, layer), platform, describe).root
            }
            Step::Written(LayerStep::Copy(copies)) => self.copy(state, copies, describe),
            Step::Binaries(_) => state.copy(&self.binary_copies(), platform, describe),
        };
        (next, created_by)
    }

    /// What a step does (for its vertex name and history), where it is written, and its key.
    fn summary(&self, step: &Step<'_>) -> (String, SpecRange, &'static str) {
        match step {
            Step::Written(LayerStep::Workdir(path)) => {
                (format!("WORKDIR {}", path.value), range(path), "workdir")
            }
            Step::Written(LayerStep::Packages { at, packages, .. }) => (
                format!("apt-get install {}", words(packages)),
                range(at),
                "packages",
            ),
            Step::Written(LayerStep::Run(step)) => (
                format!("RUN {}", command_text(&step.command)),
                range_at(step.command.position()),
                "run",
            ),
            Step::Written(LayerStep::Copy(copies)) => {
                let list: Vec<String> = copies
                    .iter()
                    .map(|copy| format!("{} -> {}", copy.src.value, copy.dest))
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
                    .map(|binary| format!("{} -> {}", binary.name.value, binary.dest))
                    .collect();
                (
                    format!("COPY {}", list.join(", ")),
                    range(first),
                    "binaries",
                )
            }
        }
    }

    /// `apt-get install` with apt's package cache on a locked cache mount, and no lists in the layer.
    fn packages(&self, packages: &[Spanned<String>], repositories: &[AptRepository]) -> Exec {
        let mut args = shell(APT_INSTALL.to_owned());
        args.push("apt-install".to_owned());
        args.push(repositories.len().to_string());
        for repository in repositories {
            args.extend([
                repository.name.value.clone(),
                repository.keyring.clone(),
                repository.url.clone(),
                repository.suite.clone(),
                repository.components.join(" "),
            ]);
        }
        args.extend(packages.iter().map(|p| p.value.clone()));
        let keys = repositories.iter().map(|repository| {
            let dest = format!("{APT_KEYS_DIR}/{}", repository.name.value);
            match &repository.key {
                KeySource::Context(path) => Mount::Bind {
                    dest,
                    from: context_source(
                        self.facts,
                        cache_keys::context_paths(std::slice::from_ref(path)),
                        format!("[{}] load build context: {path}", self.name),
                    ),
                    selector: path.clone(),
                },
                KeySource::Url(url) => Mount::Bind {
                    dest,
                    from: State::http(url, APT_KEY_FILE, format!("[{}] fetch {url}", self.name)),
                    selector: APT_KEY_FILE.to_owned(),
                },
            }
        });
        let frontend = [("DEBIAN_FRONTEND".to_owned(), "noninteractive".to_owned())];
        Exec {
            args,
            // Not the variant's env: apt needs none of it, and without it every variant on the
            // same base with the same packages shares this layer.
            env: self.env_over_base(frontend.to_vec()),
            cwd: "/".to_owned(),
            user: "root".to_owned(),
            mounts: std::iter::once(self.facts.cache_mounts().apt())
                .chain(keys)
                .collect(),
            network: NetworkMode::Sandbox,
        }
    }

    /// A run step, with the env and workdir in force where it is written.
    fn run(&self, step: &RunStep, layer: &Layer<'_>) -> Exec {
        let cache_mounts = self.facts.cache_mounts();
        let caches = step.cache.iter().map(|cache| cache_mounts.run_step(cache));
        let binds = step.bind.iter().map(|bind| Mount::Bind {
            dest: bind.target.clone(),
            from: context_source(
                self.facts,
                // An empty path is the whole context: no include pattern.
                cache_keys::context_paths(
                    &[bind.source.clone()][..usize::from(!bind.source.is_empty())],
                ),
                format!("[{}] load build context: {}", self.name, bind.source),
            ),
            selector: bind.source.clone(),
        });
        let mut env = self.env_over_base([&layer.env[..], &step.env[..]].concat());
        // As BuildKit's client does: the first socket is the agent, unless SSH_AUTH_SOCK is set.
        if let Some(first) = step.ssh.first()
            && !env.iter().any(|entry| entry.starts_with("SSH_AUTH_SOCK="))
        {
            env.push(format!("SSH_AUTH_SOCK={}", first.dest));
        }
        Exec {
            args: command_args(&step.command),
            env,
            cwd: step
                .workdir
                .clone()
                .or_else(|| layer.workdir.map(str::to_owned))
                .or_else(|| self.base.config.working_dir.clone())
                .filter(|workdir| !workdir.is_empty())
                .unwrap_or_else(|| "/".to_owned()),
            user: step
                .user
                .clone()
                .or_else(|| self.base.config.user.clone())
                .unwrap_or_default(),
            mounts: caches
                .chain(step.secrets.iter().cloned().map(Mount::Secret))
                .chain(binds)
                .chain(step.ssh.iter().cloned().map(Mount::Ssh))
                .collect(),
            network: NetworkMode::Sandbox,
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
            network: NetworkMode::Sandbox,
        }
    }

    /// The copies from the build context, reading only the paths they name.
    fn copy(&self, state: State, copies: &[FileCopy], describe: Describe) -> State {
        let sources: Vec<String> = copies.iter().map(|copy| copy.source.clone()).collect();
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
            .map(|copy| Copy {
                from: context.clone(),
                src: format!("/{}", copy.source),
                dest: copy.dest.clone(),
                options: copy.options.clone(),
            })
            .collect();
        state.copy(&actions, &self.facts.platform, describe)
    }

    fn binary_copies(&self) -> Vec<Copy> {
        self.variant
            .binaries
            .iter()
            .map(|binary| Copy {
                from: self.binaries.state.clone(),
                src: format!("{}/{}", self.binaries.dir, binary.name.value),
                dest: binary.dest.clone(),
                options: binary.options.clone(),
            })
            .collect()
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
        ConfigChanges {
            env: self.env.to_vec(),
            entrypoint: variant.entrypoint.clone(),
            cmd: variant.cmd.clone(),
            user: variant.user.clone(),
            workdir: variant
                .workdir
                .as_ref()
                .map(|workdir| workdir.value.clone()),
            labels: variant.labels.clone(),
            exposed_ports: variant.ports.clone(),
            healthcheck: variant.healthcheck.clone(),
            stop_signal: variant.stop_signal.clone(),
            history,
            // The build's SOURCE_DATE_EPOCH is no part of the spec: the caller sets it.
            created: None,
        }
    }
}

/// The env a variant chain has set at some point of its steps, each value expanded as a
/// Dockerfile `ENV` does when it is written: from what is set before it, else the base image's
/// env, else empty (build args are already in). Values that name each other share what they
/// name until written out, within a [`Budget`].
struct EnvInForce {
    known: HashMap<String, Value>,
    set: Vec<(String, String)>,
    budget: Budget,
    /// `set` as steps take it, shared until the next `env`.
    current: Env,
}

impl EnvInForce {
    fn new(base: &ImageConfig) -> Self {
        let mut known = HashMap::new();
        for (name, value) in base.env_vars() {
            known
                .entry(name.to_owned())
                .or_insert_with(|| Value::from(value));
        }
        Self {
            known,
            set: Vec::new(),
            budget: Budget::default(),
            current: Rc::from(Vec::new()),
        }
    }

    /// Sets `env`'s entries, in order.
    fn add(
        &mut self,
        document: &Document,
        env: &NamedMap<Spanned<String>>,
    ) -> Result<(), Diagnostic> {
        for (name, value) in env.iter() {
            let known = &self.known;
            let lookup = |wanted: &str| Some(known.get(wanted).cloned().unwrap_or_default());
            let located =
                |error: crate::args::SubstituteError| error.located(document, position(value));
            let expanded = substitute(&value.value, &lookup).map_err(located)?;
            let text = self.budget.write(&expanded).map_err(located)?;
            self.known.insert(name.value.clone(), expanded);
            self.set.push((name.value.clone(), text));
        }
        self.current = Rc::from(self.set.clone());
        Ok(())
    }

    /// What is set so far.
    fn current(&self) -> Env {
        Rc::clone(&self.current)
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use prost::Message;

    use crate::llb::SourceFile;
    use crate::pb::{self, op::Op as Payload};
    use crate::plan::{BuildRequest, plan};
    use crate::platform::Platform;
    use crate::resolve::ArgValues;

    const SPEC: &str = "version: 1
builder: {image: rust, binaries: [app]}
variants:
  v:
    from: debian
    packages: [gh, curl]
    apt_repositories:
      - {name: gh, url: 'https://cli.github.com/packages', suite: stable, key: keys/gh.gpg}
      - name: other
        url: http://apt.example.com/debian
        suite: bookworm
        components: [main, contrib]
        key: https://apt.example.com/key.asc
    binaries: {app: /app}
";

    fn ops(text: &str) -> Vec<pb::Op> {
        target_ops(text, None)
    }

    /// The ops of `target` (default: the first variant) of `text`, built from a prebuilt builder.
    fn target_ops(text: &str, target: Option<&str>) -> Vec<pb::Op> {
        let spec = crate::load(text, "f.yaml").unwrap();
        let args = BTreeMap::from([("BUILDER_IMAGE".to_owned(), "b:1".to_owned())]);
        let platform = Platform::linux("amd64");
        let values = ArgValues::native(args, &platform);
        let request = BuildRequest::new(target.map(str::to_owned), values).unwrap();
        let plan = plan(&spec, &request).unwrap();
        let source = SourceFile {
            name: "f.yaml",
            data: text.as_bytes(),
        };
        let built = plan.build(&plan.known_facts(), source).unwrap();
        built
            .definition
            .def
            .iter()
            .map(|bytes| pb::Op::decode(bytes.as_slice()).unwrap())
            .collect()
    }

    #[test]
    fn apt_repositories_reach_the_shell_as_arguments_with_their_keys_mounted() {
        let ops = ops(SPEC);
        let (exec, inputs) = ops
            .iter()
            .find_map(|op| match &op.op {
                Some(Payload::Exec(exec)) => Some((exec, &op.inputs)),
                _ => None,
            })
            .expect("the apt step");
        let meta = exec.meta.as_ref().unwrap();
        assert_eq!(meta.args[2], super::APT_INSTALL, "the script is fixed text");
        assert_eq!(
            meta.args[3..],
            [
                "apt-install",
                "2",
                "gh",
                "/etc/apt/keyrings/gh.gpg",
                "https://cli.github.com/packages",
                "stable",
                "main",
                "other",
                "/etc/apt/keyrings/other.asc",
                "http://apt.example.com/debian",
                "bookworm",
                "main contrib",
                "gh",
                "curl",
            ]
        );
        let source_of = |dest: &str| {
            let mount = exec.mounts.iter().find(|m| m.dest == dest).unwrap();
            let input = &inputs[usize::try_from(mount.input).unwrap()];
            let bytes = ops
                .iter()
                .find(|op| crate::llb::digest_of(&op.encode_to_vec()) == input.digest)
                .unwrap();
            match &bytes.op {
                Some(Payload::Source(source)) => (source.clone(), mount.selector.clone()),
                other => panic!("{other:?}"),
            }
        };
        let (context, selector) = source_of("/run/flotilla/apt-keys/gh");
        assert_eq!(context.identifier, "local://context");
        assert_eq!(context.attrs["local.includepattern"], r#"["keys/gh.gpg"]"#);
        assert_eq!(selector, "keys/gh.gpg");
        let (http, selector) = source_of("/run/flotilla/apt-keys/other");
        assert_eq!(http.identifier, "https://apt.example.com/key.asc");
        assert_eq!(http.attrs["http.filename"], "key");
        assert_eq!(selector, "key");
    }

    #[test]
    fn copies_and_binaries_take_the_inherited_owner_unless_they_set_their_own() {
        let text = "version: 1
builder: {image: rust, binaries: [app, tool]}
variants:
  base: {abstract: true, from: debian, owner: 'agent:agent'}
  v:
    extends: base
    copy: [{src: a.toml, dest: /etc/a.toml}]
    binaries: {app: /usr/bin/app, tool: {path: /usr/bin/tool, owner: '0:0'}}
";
        let user = |user: Option<pb::UserOpt>| match user.and_then(|user| user.user) {
            Some(pb::user_opt::User::ByName(named)) => named.name,
            Some(pb::user_opt::User::ById(id)) => id.to_string(),
            None => String::new(),
        };
        let owners: Vec<(String, String)> = ops(text)
            .into_iter()
            .filter_map(|op| match op.op {
                Some(Payload::File(file)) => Some(file.actions),
                _ => None,
            })
            .flatten()
            .filter_map(|action| match action.action {
                Some(pb::file_action::Action::Copy(copy)) => {
                    let owner = copy.owner?;
                    Some((
                        copy.dest,
                        format!("{}:{}", user(owner.user), user(owner.group)),
                    ))
                }
                _ => None,
            })
            .collect();
        let pair = |dest: &str, owner: &str| (dest.to_owned(), owner.to_owned());
        assert_eq!(
            owners,
            [
                pair("/etc/a.toml", "agent:agent"),
                pair("/usr/bin/app", "agent:agent"),
                pair("/usr/bin/tool", "0:0"),
            ]
        );
    }

    /// Each exec's argv (last word), cwd and env, in order.
    fn execs(text: &str, target: &str) -> Vec<(String, String, Vec<String>)> {
        target_ops(text, Some(target))
            .into_iter()
            .filter_map(|op| match op.op {
                Some(Payload::Exec(exec)) => exec.meta,
                _ => None,
            })
            .map(|meta| {
                (
                    meta.args.last().cloned().unwrap_or_default(),
                    meta.cwd,
                    meta.env,
                )
            })
            .collect()
    }

    #[test]
    fn env_and_workdir_take_effect_where_they_are_written() {
        let text = "version: 1
builder: {image: rust, binaries: [app]}
variants:
  v:
    from: debian
    run: [useradd -m agent, npm install -g x]
    env: {HOME: /home/agent}
    workdir: /home/agent
    binaries: {app: /app}
  w:
    from: debian
    workdir: /srv
    env: {HOME: /srv}
    run: [npm ci]
    binaries: {app: /app}
";
        let v = execs(text, "v");
        assert_eq!(v.len(), 2);
        for (argv, cwd, env) in &v {
            assert_eq!(cwd, "/", "{argv}: the workdir is written after it");
            assert!(
                !env.iter().any(|e| e.starts_with("HOME=")),
                "{argv}: {env:?}"
            );
        }
        let w = execs(text, "w");
        let (argv, cwd, env) = &w[0];
        assert_eq!((argv.as_str(), cwd.as_str()), ("npm ci", "/srv"));
        assert!(env.contains(&"HOME=/srv".to_owned()), "{env:?}");
    }

    #[test]
    fn a_parents_steps_are_the_same_ops_in_every_child() {
        let text = "version: 1
builder: {image: rust, binaries: [app]}
variants:
  base:
    abstract: true
    from: debian
    env: {LANG: C.UTF-8}
    run: [useradd -m agent]
  a: {extends: base, env: {HOME: /home/a}, run: [echo a], binaries: {app: /app}}
  b: {extends: base, env: {HOME: /home/b}, binaries: {app: /app}}
";
        let exec = |target: &str| {
            target_ops(text, Some(target))
                .into_iter()
                .find(|op| matches!(op.op, Some(Payload::Exec(_))))
                .unwrap()
        };
        let (a, b) = (exec("a"), exec("b"));
        assert_eq!(a, b, "the parent's useradd is one layer for a and b");
        let Some(Payload::Exec(useradd)) = a.op else {
            unreachable!()
        };
        let env = useradd.meta.unwrap().env;
        assert!(env.contains(&"LANG=C.UTF-8".to_owned()));
        assert!(
            !env.iter().any(|e| e.starts_with("HOME=")),
            "no child's env: {env:?}"
        );
    }
}
