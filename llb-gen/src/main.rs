//! `llb-gen`: the spec → LLB compiler on the command line, no daemon needed.
//! `llb-gen llb flotilla.yaml --target hello | buildctl build --local context=. …`

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use prost::Message;

use llb_gen::context_dir::ContextDir;
use llb_gen::llb::{ExecNetwork, NetworkMode, NoCache, SourceFile};
use llb_gen::named_context::NamedContexts;
use llb_gen::plan::{self, BuildRequest};
use llb_gen::platform::Platform;
use llb_gen::resolve::ArgValues;
use llb_gen::{Error, dot, load, matrix, schema, spec, target, validate};

mod affected_cli;

#[derive(Parser)]
#[command(
    name = "llb-gen",
    version,
    about = "Compile a flotilla.yaml spec to BuildKit LLB"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What `llb` and `dot` build: one target of a spec.
#[derive(Args, Clone)]
struct Build {
    /// The spec file.
    spec: PathBuf,
    /// Target to build (a variant or `artifact`); default: the first variant.
    #[arg(long)]
    target: Option<String>,
    /// A build argument, `NAME=value` (e.g. `BUILDER_IMAGE=registry/app-artifact:1`).
    #[arg(long = "build-arg", value_name = "NAME=VALUE", value_parser = parse_build_arg)]
    build_args: Vec<(String, String)>,
    /// A named context, as buildx spells it: `builder=docker-image://REF` or `builder=DIR`
    /// (sent as the session local `builder`) replaces the builder, and `IMAGE=docker-image://REF`
    /// replaces the image the spec names `IMAGE` (e.g. `debian:bookworm-slim`).
    #[arg(long = "build-context", value_name = "NAME=VALUE", value_parser = parse_named_context)]
    named_contexts: Vec<(String, String)>,
    /// An image label over the spec's, `KEY=VALUE`.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_build_arg)]
    labels: Vec<(String, String)>,
    /// An `/etc/hosts` entry of every process, `HOST=IP`.
    #[arg(long = "add-host", value_name = "HOST=IP", value_parser = ExecNetwork::parse_host)]
    add_hosts: Vec<(String, String)>,
    /// The network of every process: sandbox (default), host or none.
    #[arg(long, value_parser = NetworkMode::parse, default_value = "sandbox")]
    network: NetworkMode,
    /// Run every op again regardless of the cache, or with `=STAGE,…` the ops of those stages.
    #[arg(
        long,
        value_name = "STAGES",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = ""
    )]
    no_cache: Option<String>,
    /// Target platform.
    #[arg(long, default_value = "linux/amd64")]
    platform: Platform,
    /// The platform the build runs on (default: the target platform); a different one
    /// cross-compiles with the spec's `builder.cross` entry for the target.
    #[arg(long)]
    build_platform: Option<Platform>,
    /// The build context, read for `.dockerignore` and Cargo manifests (default: the
    /// spec's directory).
    #[arg(long)]
    context: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Write the marshaled LLB Definition of a target to stdout (for `buildctl build`).
    Llb(Build),
    /// Print the build graph of a target as Graphviz (`| dot -Tsvg > graph.svg`).
    Dot(Build),
    /// List the buildable targets.
    #[command(group(clap::ArgGroup::new("plan").args(["json", "explain"])))]
    Targets {
        /// The spec file.
        spec: PathBuf,
        /// Print the CI plan as JSON (GitHub Actions matrices) instead of a table.
        #[arg(long)]
        json: bool,
        /// Platforms of the CI plan, comma-separated.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "linux/amd64",
            requires = "plan"
        )]
        platform: Vec<Platform>,
        /// Image name prefix of the CI plan's tags (default: the spec's directory name).
        #[arg(long, requires = "json")]
        image: Option<String>,
        #[command(flatten)]
        changes: affected_cli::ChangeArgs,
    },
    /// Print the JSON Schema of the spec (for editors: the `yaml-language-server` modeline).
    Schema,
    /// Validate a spec and print every error, rustc-style; exit 1 when there is one. A valid
    /// spec's targets (`--target`, else every target) are then built as `llb` would, with the
    /// same options, so a bad target, build arg, default or platform is an error too.
    Check {
        #[command(flatten)]
        build: Build,
        /// One line per error, `file:line:col: message`, as the frontend reports it.
        #[arg(long)]
        short: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Writes to stdout; a reader that went away early (`llb-gen targets x | head`) is no error.
fn out(
    write: impl FnOnce(&mut std::io::StdoutLock<'_>) -> std::io::Result<()>,
) -> Result<(), String> {
    match write(&mut std::io::stdout().lock()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("writing to stdout: {error}"))
        }
        _ => Ok(()),
    }
}

fn run(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Llb(build) => {
            let definition = build_definition(build).map_err(|e| e.to_string())?;
            out(|stdout| stdout.write_all(&definition.encode_to_vec()))?;
        }
        Command::Dot(build) => {
            let definition = build_definition(build).map_err(|e| e.to_string())?;
            let dot = dot::render(&definition).map_err(|e| e.to_string())?;
            out(|stdout| stdout.write_all(dot.as_bytes()))?;
        }
        Command::Targets {
            spec: path,
            json,
            platform,
            image,
            changes,
        } => {
            let (source, file) = read_spec(&path).map_err(|e| e.to_string())?;
            let spec = load(&source, &file).map_err(|error| error.to_string())?;
            let targets = target::list(&spec);
            let image = image.unwrap_or_else(|| spec_dir_name(&path));
            if let Some(text) = changes.output(&path, &spec, &platform, &image)? {
                out(|stdout| stdout.write_all(text.as_bytes()))?;
            } else if json {
                let platforms: Vec<String> = platform.iter().map(Platform::to_string).collect();
                let plan = matrix::plan(&image, &platforms, &targets);
                let text = serde_json::to_string_pretty(&plan).map_err(|e| e.to_string())?;
                out(|stdout| writeln!(stdout, "{text}"))?;
            } else {
                for target in targets {
                    let default = if target.default { " (default)" } else { "" };
                    out(|stdout| {
                        writeln!(
                            stdout,
                            "{:<20} {:<28} {}{default}",
                            target.name, target.base, target.description
                        )
                    })?;
                }
            }
        }
        Command::Schema => out(|stdout| stdout.write_all(schema::text().as_bytes()))?,
        Command::Check { build, short } => {
            let file = build.spec.display().to_string();
            let errors = check(build);
            if !errors.is_empty() {
                // One write for all: a spec may have tens of thousands of errors.
                let mut text = String::new();
                for error in &errors {
                    match error {
                        Error::Spec(diagnostic) if !short => text.push_str(&diagnostic.render()),
                        error => text.push_str(&format!("error: {error}\n")),
                    }
                }
                text.push_str(&format!("{file}: {} error(s)\n", errors.len()));
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
                return Ok(ExitCode::FAILURE);
            }
            out(|stdout| writeln!(stdout, "{file}: ok"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Every error of the spec `build` names: each validation error, else the first error of
/// building its target.
fn check(build: Build) -> Vec<Error> {
    let (source, file) = match read_spec(&build.spec) {
        Ok(read) => read,
        Err(error) => return vec![error],
    };
    let spec = match spec::parse(&source, &file) {
        Ok(spec) => spec,
        Err(diagnostic) => return vec![diagnostic.into()],
    };
    let diagnostics = validate::validate(&spec, &file, &source);
    if !diagnostics.is_empty() {
        return diagnostics.into_iter().map(Error::from).collect();
    }
    // Without `--target`, every target: a bad default of another variant is an error now,
    // not in CI.
    let targets: Vec<Option<String>> = match &build.target {
        Some(target) => vec![Some(target.clone())],
        None => target::list(&spec)
            .into_iter()
            .map(|target| Some(target.name))
            .collect(),
    };
    let mut context = context_of(&build);
    let mut errors: Vec<Error> = Vec::new();
    for target in targets {
        let build = Build {
            target,
            ..build.clone()
        };
        if let Err(error) = definition(build, &spec, &source, &file, &mut context)
            && !errors
                .iter()
                .any(|seen| seen.to_string() == error.to_string())
        {
            errors.push(error);
        }
    }
    errors
}

/// The Definition that `build` asks for, with the context read from disk.
fn build_definition(build: Build) -> Result<llb_gen::pb::Definition, Error> {
    let (source, file) = read_spec(&build.spec)?;
    let spec = load(&source, &file)?;
    let mut context = context_of(&build);
    definition(build, &spec, &source, &file, &mut context)
}

/// The build context `build` names, by default the spec's directory.
fn context_of(build: &Build) -> ContextDir {
    ContextDir::new(
        build
            .context
            .clone()
            .unwrap_or_else(|| affected_cli::spec_dir(&build.spec)),
    )
}

/// The Definition of the valid `spec` (read from `source`) that `build` asks for: the
/// frontend's plan, with the facts a daemon would give left at their defaults.
fn definition(
    build: Build,
    spec: &spec::Spec,
    source: &str,
    file: &str,
    context: &mut ContextDir,
) -> Result<llb_gen::pb::Definition, Error> {
    let Build {
        target,
        build_args,
        named_contexts,
        labels,
        add_hosts,
        network,
        no_cache,
        platform,
        build_platform,
        ..
    } = build;
    let args = ArgValues {
        build_args: build_args.into_iter().collect(),
        build_platform: build_platform.unwrap_or_else(|| platform.clone()),
        target_platform: platform,
    };
    let request = BuildRequest {
        named_contexts: NamedContexts::new(named_contexts),
        labels,
        network: ExecNetwork {
            mode: network,
            extra_hosts: add_hosts,
        },
        no_cache: NoCache::from_option(no_cache.as_deref()),
        ..BuildRequest::new(target, args)?
    };
    let plan = plan::plan(spec, &request)?;
    let facts = context.facts(&plan)?;
    let source = SourceFile {
        name: file,
        data: source.as_bytes(),
    };
    Ok(plan.build(&facts, source)?.definition)
}

/// The spec's text and its name for errors. A file over the size limit is not read whole.
fn read_spec(path: &Path) -> Result<(String, String), Error> {
    let file = path.display().to_string();
    let unreadable = |error: std::io::Error| Error::Read {
        file: file.clone(),
        message: error.to_string(),
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|opened| {
            opened
                .take(spec::MAX_SPEC_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(unreadable)?;
    Ok((spec::decode(&file, bytes)?, file))
}

/// The name of the directory that holds the spec, the usual image name of a project.
fn spec_dir_name(spec: &Path) -> String {
    std::path::absolute(spec)
        .ok()
        .and_then(|path| Some(path.parent()?.file_name()?.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "app".to_owned())
}

fn parse_build_arg(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("`{text}` is not NAME=value"))
}

/// `--build-context NAME=VALUE` as the frontend receives it in `context:NAME`: buildx passes
/// `docker-image://` (and `local:`) values as they are and sends a directory as the session
/// local named after the context.
fn parse_named_context(text: &str) -> Result<(String, String), String> {
    let (name, value) = parse_build_arg(text)?;
    let value = match value {
        value if value.starts_with("docker-image://") || value.starts_with("local:") => value,
        _ => format!("local:{name}"),
    };
    Ok((name, value))
}
