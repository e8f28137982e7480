//! A `variants.<name>:` entry: one runtime image, as written (before `extends` is resolved and
//! build args are substituted).

use std::borrow::Cow;
use std::rc::Rc;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};

use super::forms::{BoolOr, LongForm, Scalar, StringOr, split};
use super::{NamedMap, Spanned, position};
use crate::diagnostic::Position;

/// One runtime image.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// One line shown by `llb-gen targets`.
    #[serde(default)]
    pub description: Option<String>,
    /// Only extended by other variants, never built.
    #[serde(default, rename = "abstract")]
    pub is_abstract: bool,
    /// Variants this one builds on: one name or a list, later ones overriding earlier ones.
    #[serde(default, deserialize_with = "parents")]
    #[schemars(with = "StringOr<Vec<Scalar>>")]
    pub extends: Vec<Spanned<String>>,
    /// Base image reference; inherited when a parent sets it.
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub from: Option<Spanned<String>>,
    /// Build args this variant declares, with optional defaults.
    #[serde(default)]
    #[schemars(with = "NamedMap<Option<Scalar>>")]
    pub args: NamedMap<Option<Spanned<String>>>,
    /// Debian packages installed with apt-get: one layer, made where this key is written among
    /// the variant's steps (after its parents' steps).
    #[serde(default)]
    #[schemars(with = "Vec<Scalar>")]
    pub packages: Vec<Spanned<String>>,
    /// Third-party apt repositories that `packages` may install from, added in the install's
    /// layer; their keys and sources lines stay in the image, their package lists do not.
    #[serde(default)]
    pub apt_repositories: Vec<AptRepository>,
    /// Commands run in the image, in order, where this key is written among the variant's steps,
    /// with the `env` and `workdir` written before them (and the parents').
    #[serde(default, deserialize_with = "run_steps")]
    #[schemars(with = "Vec<StringOr<RunStep>>")]
    pub run: Vec<RunStep>,
    /// Files copied from the build context: one layer, where this key is written among the
    /// variant's steps.
    #[serde(default)]
    pub copy: Vec<CopyStep>,
    /// Binary name -> where it is installed in the image.
    #[serde(default, deserialize_with = "binary_installs")]
    #[schemars(with = "NamedMap<StringOr<BinaryInstall>>")]
    pub binaries: NamedMap<BinaryInstall>,
    /// Environment variables, added to the base image's: in force for the steps written after
    /// this key (and in children), as Dockerfile `ENV`.
    #[serde(default)]
    #[schemars(with = "NamedMap<Scalar>")]
    pub env: NamedMap<Spanned<String>>,
    /// Image entrypoint (exec form).
    #[serde(default)]
    #[schemars(with = "Option<Vec<Scalar>>")]
    pub entrypoint: Option<Vec<Spanned<String>>>,
    /// Image default command (exec form).
    #[serde(default)]
    #[schemars(with = "Option<Vec<Scalar>>")]
    pub cmd: Option<Vec<Spanned<String>>>,
    /// User the container runs as; steps run as the base image's user or their own `user`.
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub user: Option<Spanned<String>>,
    /// Owner (`user[:group]`, as `--chown`) of the variant's copies and binaries that set
    /// none of their own; inherited, so a parent can set it once for every child.
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub owner: Option<Spanned<String>>,
    /// Working directory of the container, created where this key is written among the
    /// variant's steps, and the directory of the steps written after it (and in children).
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub workdir: Option<Spanned<String>>,
    /// Image labels.
    #[serde(default)]
    #[schemars(with = "NamedMap<Scalar>")]
    pub labels: NamedMap<Spanned<String>>,
    /// Ports the container listens on: `8080`, `8080/tcp`, `53/udp`.
    #[serde(default)]
    #[schemars(with = "Vec<Scalar>")]
    pub expose: Vec<Spanned<String>>,
    /// How Docker checks that the container works.
    #[serde(default)]
    pub healthcheck: Option<Healthcheck>,
    /// Signal that stops the container, e.g. `SIGQUIT`.
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub stopsignal: Option<Spanned<String>>,
    /// Smoke checks (`which app`, `[app, --version]`) run on the built image by the
    /// `check:<variant>` target, as the image's user; never part of the image.
    #[serde(default)]
    pub check: Vec<Command>,
    /// In a variant merged with its `extends` chain, each ancestor's own steps and the
    /// variant's, parents first: the steps stay the layers of the variant that writes them, so
    /// every child shares its parents' layers. Empty as written.
    /// Shared: a child's merge starts from its parent's without copying the steps.
    #[serde(skip)]
    #[schemars(skip)]
    pub stages: Vec<Rc<Stage>>,
}

/// One variant's own steps and what they see: `env` and `workdir` take effect where they are
/// written among its steps, as Dockerfile lines do.
#[derive(Clone, Debug, Default)]
pub struct Stage {
    /// The variant that writes them.
    pub variant: String,
    /// Its `workdir`.
    pub workdir: Option<Spanned<String>>,
    /// Its `env`.
    pub env: NamedMap<Spanned<String>>,
    /// Its `packages`.
    pub packages: Vec<Spanned<String>>,
    /// Its `apt_repositories`.
    pub apt_repositories: Vec<AptRepository>,
    /// Its `run` steps.
    pub run: Vec<RunStep>,
    /// Its `copy` items.
    pub copy: Vec<CopyStep>,
}

impl Stage {
    /// Whether the variant writes no step and no env or workdir for them.
    pub fn is_empty(&self) -> bool {
        self.workdir.is_none()
            && self.env.is_empty()
            && self.packages.is_empty()
            && self.apt_repositories.is_empty()
            && self.run.is_empty()
            && self.copy.is_empty()
    }

    /// `variant`'s own steps.
    pub fn of(name: &str, variant: &Variant) -> Self {
        Self {
            variant: name.to_owned(),
            workdir: variant.workdir.clone(),
            env: variant.env.clone(),
            packages: variant.packages.clone(),
            apt_repositories: variant.apt_repositories.clone(),
            run: variant.run.clone(),
            copy: variant.copy.clone(),
        }
    }
}

/// A command: a shell string (run with `/bin/sh -c`) or an argv.
#[derive(Clone, Debug)]
pub enum Command {
    /// Shell form.
    Shell(Spanned<String>),
    /// Exec form.
    Exec(Spanned<Vec<Spanned<String>>>),
}

/// One `run:` item: a shell string, or a mapping with the command and its mounts.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunStep {
    /// What runs.
    #[serde(rename = "run")]
    pub command: Command,
    /// Environment of this step only, on top of the variant's.
    #[serde(default)]
    #[schemars(with = "NamedMap<Scalar>")]
    pub env: NamedMap<Spanned<String>>,
    /// Cache directories kept across builds, never part of a layer.
    #[serde(default)]
    pub cache: Vec<CacheMount>,
    /// Secrets from `docker build --secret`, never part of a layer.
    #[serde(default)]
    pub secrets: Vec<SecretMount>,
    /// Paths of the build context mounted read-only, never part of a layer.
    #[serde(default)]
    pub bind: Vec<BindMount>,
    /// SSH agent sockets from `docker build --ssh`: `true` for the `default` one, or a list.
    /// The first one's target is `SSH_AUTH_SOCK` unless the step's env sets it.
    #[serde(default, deserialize_with = "ssh_mounts")]
    #[schemars(with = "BoolOr<Vec<SshMount>>")]
    pub ssh: Vec<SshMount>,
    /// User the step runs as (default: the base image's user).
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub user: Option<Spanned<String>>,
    /// Working directory of the step (default: the variant's, else the base image's).
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub workdir: Option<Spanned<String>>,
}

/// The long form of a run step is a mapping; `run: [[prog, arg]]` is no step.
impl LongForm for RunStep {
    const IS_LIST: bool = false;
}

/// A cache mount of a run step (`RUN --mount=type=cache`).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheMount {
    /// Mount point.
    #[schemars(with = "Scalar")]
    pub target: Spanned<String>,
    /// Cache id (default: the target), shared by every step that uses it.
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub id: Option<Spanned<String>>,
    /// Whether concurrent builds may use it at once (default: shared).
    #[serde(default)]
    pub sharing: Sharing,
}

/// Concurrency of a cache mount.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sharing {
    /// Concurrent builds use it at once.
    #[default]
    Shared,
    /// Concurrent builds wait for each other.
    Locked,
}

/// An apt repository besides the base image's: `deb [signed-by=KEY] URL SUITE COMPONENTS`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AptRepository {
    /// Names its files, `/etc/apt/keyrings/<name>.gpg` (`.asc` for an armored key) and
    /// `/etc/apt/sources.list.d/<name>.list`.
    #[schemars(with = "Scalar")]
    pub name: Spanned<String>,
    /// The repository's `http://` or `https://` URL.
    #[schemars(with = "Scalar")]
    pub url: Spanned<String>,
    /// The suite, e.g. `stable` or `bookworm`.
    #[schemars(with = "Scalar")]
    pub suite: Spanned<String>,
    /// Its components (default: `[main]`).
    #[serde(default)]
    #[schemars(with = "Vec<Scalar>")]
    pub components: Vec<Spanned<String>>,
    /// The signing key: a path in the build context, or an `https://` URL that BuildKit
    /// fetches; binary, or ASCII-armored when it ends in `.asc`.
    #[schemars(with = "Scalar")]
    pub key: Spanned<String>,
}

/// A file the client provides to one run step: a secret (`RUN --mount=type=secret`) or an ssh
/// agent socket (`RUN --mount=type=ssh`). The two are one shape; `Id` is what differs (a
/// secret names its id, an ssh socket defaults to `default`).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(bound = "Id: MountId")]
pub struct ClientMount<Id: MountId> {
    /// The id the client names it by: `docker build --secret id=…` or `--ssh <id>=…`.
    #[schemars(with = "Id::Written")]
    pub id: Id,
    /// Where it appears (default: `/run/secrets/<id>` for a secret,
    /// `/run/buildkit/ssh_agent.<index>` for a socket).
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub target: Option<Spanned<String>>,
    /// Fail when the client does not provide it.
    #[serde(default)]
    pub required: bool,
    /// Owner uid (default 0), for steps that run as another user.
    #[serde(default)]
    pub uid: u32,
    /// Owner gid (default 0).
    #[serde(default)]
    pub gid: u32,
    /// Octal mode (default `0400` for a secret, `0600` for a socket).
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub mode: Option<Spanned<String>>,
}

/// How a client mount's id is written.
pub trait MountId {
    /// The id's JSON Schema.
    type Written: JsonSchema;
    /// The id as written, if it is.
    fn written(&self) -> Option<&Spanned<String>>;
}

impl MountId for Spanned<String> {
    type Written = Scalar;
    fn written(&self) -> Option<&Spanned<String>> {
        Some(self)
    }
}

impl MountId for Option<Spanned<String>> {
    type Written = Option<Scalar>;
    fn written(&self) -> Option<&Spanned<String>> {
        self.as_ref()
    }
}

/// A secret: its id is required.
pub type SecretMount = ClientMount<Spanned<String>>;
/// An ssh agent socket: its id defaults to `default`.
pub type SshMount = ClientMount<Option<Spanned<String>>>;

/// A read-only mount of build-context files (`RUN --mount=type=bind`): what a step reads from
/// the context (a downloaded-file stand-in, an install script) without copying it into a layer.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BindMount {
    /// Path relative to the build context (a file or a directory); only it is sent.
    #[schemars(with = "Scalar")]
    pub src: Spanned<String>,
    /// Absolute mount point.
    #[schemars(with = "Scalar")]
    pub target: Spanned<String>,
}

/// One `copy:` item: files from the build context.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyStep {
    /// Path relative to the build context (a file or a directory).
    #[schemars(with = "Scalar")]
    pub src: Spanned<String>,
    /// Absolute path in the image.
    #[schemars(with = "Scalar")]
    pub dest: Spanned<String>,
    /// `user[:group]`, as `--chown`.
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub owner: Option<Spanned<String>>,
    /// Octal mode, e.g. `0644`.
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub mode: Option<Spanned<String>>,
}

/// Where a binary goes: a path, or `{path, mode, owner}`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BinaryInstall {
    /// Absolute path in the image.
    #[schemars(with = "Scalar")]
    pub path: Spanned<String>,
    /// Octal mode, e.g. `0755`.
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub mode: Option<Spanned<String>>,
    /// `user[:group]`, as `--chown`.
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub owner: Option<Spanned<String>>,
}

/// The long form of a binary's install is a mapping; `[/bin/app]` is no path.
impl LongForm for BinaryInstall {
    const IS_LIST: bool = false;
}

/// Docker's `HEALTHCHECK`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    /// A shell string (`CMD-SHELL`), an argv (`CMD`), or `[NONE]` to disable the base's.
    pub test: Command,
    /// Time between checks, e.g. `30s`, `1m30s`.
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub interval: Option<Spanned<String>>,
    /// Time a check may take.
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub timeout: Option<Spanned<String>>,
    /// Grace time after start, when failures do not count.
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub start_period: Option<Spanned<String>>,
    /// Failures in a row that make the container unhealthy.
    #[serde(default)]
    pub retries: Option<u32>,
}

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let written = Spanned::<StringOr<Vec<Spanned<String>>>>::deserialize(deserializer)?;
        Ok(match split(written) {
            Ok(shell) => Self::Shell(shell),
            Err(argv) => Self::Exec(argv),
        })
    }
}

/// A shell string or an argv, as the `Deserialize` above reads it.
impl JsonSchema for Command {
    fn schema_name() -> Cow<'static, str> {
        "Command".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        StringOr::<Vec<Scalar>>::json_schema(generator)
    }
}

fn parents<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Spanned<String>>, D::Error> {
    let written = Spanned::<StringOr<Vec<Spanned<String>>>>::deserialize(deserializer)?;
    Ok(match split(written) {
        Ok(one) => vec![one],
        Err(many) => many.value,
    })
}

fn run_steps<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<RunStep>, D::Error> {
    let written = Vec::<Spanned<StringOr<RunStep>>>::deserialize(deserializer)?;
    Ok(written
        .into_iter()
        .map(|step| match split(step) {
            Ok(shell) => RunStep {
                command: Command::Shell(shell),
                env: NamedMap::default(),
                cache: Vec::new(),
                secrets: Vec::new(),
                bind: Vec::new(),
                ssh: Vec::new(),
                user: None,
                workdir: None,
            },
            Err(long) => long.value,
        })
        .collect())
}

fn ssh_mounts<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<SshMount>, D::Error> {
    Ok(match BoolOr::<Vec<SshMount>>::deserialize(deserializer)? {
        BoolOr::Bool(true) => vec![SshMount::default()],
        BoolOr::Bool(false) => Vec::new(),
        BoolOr::Long(mounts) => mounts,
    })
}

fn binary_installs<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<NamedMap<BinaryInstall>, D::Error> {
    let written = NamedMap::<Spanned<StringOr<BinaryInstall>>>::deserialize(deserializer)?;
    Ok(NamedMap(
        written
            .0
            .into_iter()
            .map(|(name, install)| {
                let install = match split(install) {
                    Ok(path) => BinaryInstall {
                        path,
                        mode: None,
                        owner: None,
                    },
                    Err(long) => long.value,
                };
                (name, install)
            })
            .collect(),
    ))
}

impl Variant {
    /// Calls `visit` on every string that build args are substituted in, stopping at its
    /// first error. Names (keys, arg names) and the description are left as written, and so
    /// are `env` values, which may also name environment variables (Dockerfile `ENV`).
    pub fn try_for_each_string<E>(
        &mut self,
        visit: &mut dyn FnMut(&mut Spanned<String>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut all: Vec<&mut Spanned<String>> = Vec::new();
        all.extend(self.from.as_mut());
        step_strings(
            &mut all,
            &mut self.packages,
            &mut self.apt_repositories,
            &mut self.run,
            &mut self.copy,
        );
        for stage in &mut self.stages {
            let stage = Rc::make_mut(stage);
            all.extend(stage.workdir.as_mut());
            step_strings(
                &mut all,
                &mut stage.packages,
                &mut stage.apt_repositories,
                &mut stage.run,
                &mut stage.copy,
            );
        }
        for (_, install) in &mut self.binaries.0 {
            all.push(&mut install.path);
            all.extend(install.mode.as_mut());
            all.extend(install.owner.as_mut());
        }
        all.extend(self.entrypoint.iter_mut().flatten());
        all.extend(self.cmd.iter_mut().flatten());
        all.extend(self.user.as_mut());
        all.extend(self.owner.as_mut());
        all.extend(self.workdir.as_mut());
        all.extend(self.labels.0.iter_mut().map(|(_, value)| value));
        all.extend(self.expose.iter_mut());
        if let Some(healthcheck) = &mut self.healthcheck {
            all.extend(healthcheck.test.strings_mut());
            all.extend(healthcheck.interval.as_mut());
            all.extend(healthcheck.timeout.as_mut());
            all.extend(healthcheck.start_period.as_mut());
        }
        all.extend(self.stopsignal.as_mut());
        for check in &mut self.check {
            all.extend(check.strings_mut());
        }
        all.into_iter().try_for_each(visit)
    }

    /// Every `env` value, the variant's and its stages': substituted keeping names that are
    /// not args, as a Dockerfile `ENV` does.
    pub fn env_values_mut(&mut self) -> impl Iterator<Item = &mut Spanned<String>> {
        let stages = self
            .stages
            .iter_mut()
            .flat_map(|stage| Rc::make_mut(stage).env.0.iter_mut());
        self.env.0.iter_mut().chain(stages).map(|(_, value)| value)
    }
}

/// The strings of steps that make layers, in `all`.
fn step_strings<'a>(
    all: &mut Vec<&'a mut Spanned<String>>,
    packages: &'a mut [Spanned<String>],
    apt_repositories: &'a mut [AptRepository],
    run: &'a mut [RunStep],
    copy: &'a mut [CopyStep],
) {
    all.extend(packages.iter_mut());
    for repository in apt_repositories {
        all.extend([
            &mut repository.url,
            &mut repository.suite,
            &mut repository.key,
        ]);
        all.extend(repository.components.iter_mut());
    }
    for step in run {
        all.extend(step.command.strings_mut());
        all.extend(step.env.0.iter_mut().map(|(_, value)| value));
        for cache in &mut step.cache {
            all.push(&mut cache.target);
            all.extend(cache.id.as_mut());
        }
        for secret in &mut step.secrets {
            all.push(&mut secret.id);
            all.extend(secret.target.as_mut());
            all.extend(secret.mode.as_mut());
        }
        for bind in &mut step.bind {
            all.extend([&mut bind.src, &mut bind.target]);
        }
        for ssh in &mut step.ssh {
            all.extend(ssh.id.as_mut());
            all.extend(ssh.target.as_mut());
            all.extend(ssh.mode.as_mut());
        }
        all.extend(step.user.as_mut());
        all.extend(step.workdir.as_mut());
    }
    for copy in copy {
        all.extend([&mut copy.src, &mut copy.dest]);
        all.extend(copy.owner.as_mut());
        all.extend(copy.mode.as_mut());
    }
}

impl Command {
    /// Where the command is written.
    pub fn position(&self) -> Position {
        match self {
            Self::Shell(shell) => position(shell),
            Self::Exec(argv) => position(argv),
        }
    }

    fn strings_mut(&mut self) -> Vec<&mut Spanned<String>> {
        match self {
            Self::Shell(shell) => vec![shell],
            Self::Exec(argv) => argv.value.iter_mut().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse;

    fn variant(body: &str) -> Result<Variant, String> {
        let text =
            format!("version: 1\nbuilder: {{image: r, binaries: [a]}}\nvariants:\n  v:\n{body}");
        parse(&text, "f.yaml")
            .map(|mut spec| spec.variants.value.0.remove(0).1)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn short_and_long_forms_read_alike() {
        let v = variant(
            "    extends: base\n    run:\n      - make\n      - run: [cargo, test]\n        cache: [{target: /c}]\n        secrets: [{id: npm}]\n    binaries:\n      a: /bin/a\n      b: {path: /bin/b, mode: '0700', owner: 'app:app'}\n",
        )
        .unwrap();
        assert_eq!(v.extends[0].value, "base");
        assert_eq!(
            position(&v.extends[0]),
            Position {
                line: 5,
                column: 14
            }
        );
        let Command::Shell(make) = &v.run[0].command else {
            panic!()
        };
        assert_eq!((make.value.as_str(), position(make).line), ("make", 7));
        let Command::Exec(argv) = &v.run[1].command else {
            panic!()
        };
        assert_eq!(argv.value.len(), 2);
        assert_eq!(v.run[1].cache[0].sharing, Sharing::Shared);
        assert!(!v.run[1].secrets[0].required);
        assert_eq!(position(&v.binaries.get("a").unwrap().path).line, 12);
        let b = v.binaries.get("b").unwrap();
        assert_eq!(b.mode.as_ref().unwrap().value, "0700");
        assert_eq!(b.owner.as_ref().unwrap().value, "app:app");
        let many = variant("    extends: [a, b]\n").unwrap();
        assert_eq!(many.extends.len(), 2);
    }

    #[test]
    fn long_forms_keep_strict_keys_and_locations() {
        let error = variant("    run:\n      - run: make\n        evn: {A: b}\n").unwrap_err();
        assert!(
            error.starts_with("f.yaml:7:9: unknown field `evn`"),
            "{error}"
        );
        let error =
            variant("    run: [{run: x, cache: [{target: /c, sharing: private}]}]\n").unwrap_err();
        assert!(
            error.ends_with(
                "`variants.v.run[0].cache[0].sharing` must be `shared` or `locked`, not the string `private`"
            ),
            "{error}"
        );
        let error = variant("    extends: {a: b}\n").unwrap_err();
        assert!(error.starts_with("f.yaml:5:"), "{error}");
        for (one_element, long) in [("run: [[make]]", "run"), ("binaries: {a: [/a]}", "path")] {
            let error = variant(&format!("    {one_element}\n")).unwrap_err();
            assert!(
                error.contains(&format!("a mapping with `{long}:`, not a list")),
                "{error}"
            );
        }
    }

    #[test]
    fn every_substituted_string_is_visited_once() {
        let mut v = variant(
            "    from: f\n    packages: [p]\n    run: [s, {run: [e1, e2], env: {E: e}, cache: [{target: t, id: i}], secrets: [{id: si, target: st, mode: sm}], user: u, workdir: w}]\n    copy: [{src: cs, dest: cd, owner: co, mode: cm}]\n    binaries: {a: {path: bp, mode: bm, owner: bo}}\n    env: {V: ve}\n    entrypoint: [ep]\n    cmd: [c]\n    user: vu\n    workdir: vw\n    labels: {l: lv}\n    expose: [x]\n    healthcheck: {test: h, interval: hi, timeout: ht, start_period: hs}\n    stopsignal: sig\n",
        )
        .unwrap();
        let mut seen = Vec::new();
        v.try_for_each_string::<()>(&mut |text| {
            seen.push(text.value.clone());
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                "f", "p", "s", "e1", "e2", "e", "t", "i", "si", "st", "sm", "u", "w", "cs", "cd",
                "co", "cm", "bp", "bm", "bo", "ep", "c", "vu", "vw", "lv", "x", "h", "hi", "ht",
                "hs", "sig"
            ]
        );
    }
}
