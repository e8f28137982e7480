//! Builds the LLB graph of one target: the binaries (compiled, or taken from a prebuilt image)
//! and the variant's image on top of its base.

use sha2::{Digest, Sha256};

use crate::image::ConfigChanges;
use crate::llb::{
    CacheSharing, Copy, CopyOptions, Describe, Exec, LocalOptions, Mount, SpecRange, State,
};
use crate::platform::Platform;
use crate::spec::{Spanned, Spec, Variant, position};
use crate::target::{ARTIFACT_DIR, BinariesSource, Target};

/// The build context's local name, as the dockerfile frontend calls it.
pub const CONTEXT_LOCAL: &str = "context";
/// Where the compile step writes the binaries it hands over (an output mount).
const OUT_MOUNT: &str = "/flotilla-out";
/// CARGO_HOME of the official rust images, used when the toolchain image sets none.
const DEFAULT_CARGO_HOME: &str = "/usr/local/cargo";

/// What the graph depends on besides the spec: things only the daemon knows.
#[derive(Clone, Debug)]
pub struct GraphContext {
    /// The platform the images are built for.
    pub platform: Platform,
    /// The client session serving the build context, when known.
    pub session_id: Option<String>,
    /// The toolchain image's environment (from its config); a rust-image default when unknown.
    pub toolchain_env: Option<Vec<String>>,
}

/// A target's graph and what its image config gets on top of the base's.
#[derive(Clone, Debug)]
pub struct Graph {
    /// The final filesystem.
    pub state: State,
    /// Config changes and history for the layers the graph adds.
    pub changes: ConfigChanges,
}

/// The graph of `target`.
pub fn build(spec: &Spec, target: &Target<'_>, context: &GraphContext) -> Graph {
    let binaries = binaries_root(spec, &target.binaries, context);
    match target.variant {
        Some(variant) => variant_graph(target.name, variant, &binaries, context),
        None => artifact_graph(&target.binaries, binaries, context),
    }
}

/// A state whose [`ARTIFACT_DIR`] holds the binaries.
fn binaries_root(spec: &Spec, source: &BinariesSource, context: &GraphContext) -> State {
    match source {
        BinariesSource::Compile { toolchain } => compile(spec, toolchain, context),
        BinariesSource::Prebuilt { image } => State::image(
            image,
            &context.platform,
            format!("[builder] FROM {image} (prebuilt)"),
        ),
    }
}

/// Compiles the workspace and copies the binaries out of the cached target dir in the same
/// exec (a cache mount is never part of a layer).
fn compile(spec: &Spec, toolchain: &str, context: &GraphContext) -> State {
    let builder = &spec.builder;
    let platform = &context.platform;
    let workdir = &builder.workdir.value;
    let at_builder = |name: String| Describe {
        name,
        location: Some(range(&builder.image)),
    };
    let toolchain_state = State::image(
        toolchain,
        platform,
        at_builder(format!("[builder 1/3] FROM {}", builder.image.value)),
    );
    let sources = State::local(
        CONTEXT_LOCAL,
        &LocalOptions {
            session_id: context.session_id.clone(),
            shared_key_hint: Some(CONTEXT_LOCAL.to_owned()),
            ..Default::default()
        },
        "[context] load build context",
    );
    let workspace = toolchain_state.copy(
        &[Copy {
            from: sources,
            src: "/".to_owned(),
            dest: workdir.clone(),
            options: CopyOptions::default(),
        }],
        platform,
        at_builder(format!("[builder 2/3] COPY . {workdir}")),
    );
    let env = context
        .toolchain_env
        .clone()
        .unwrap_or_else(default_toolchain_env);
    let cargo_home = env
        .iter()
        .find_map(|entry| entry.strip_prefix("CARGO_HOME="))
        .unwrap_or(DEFAULT_CARGO_HOME)
        .to_owned();
    let cargo = cargo_command(spec);
    let binaries: Vec<&str> = builder
        .binaries
        .value
        .iter()
        .map(|b| b.value.as_str())
        .collect();
    let profile_dir = profile_dir(&builder.cargo.profile.value);
    let script = format!(
        "set -eu\n{cargo}\nmkdir -p {out}\ncp {sources} {out}/\n",
        out = shell_quote(&format!("{OUT_MOUNT}{ARTIFACT_DIR}")),
        sources = binaries
            .iter()
            .map(|binary| shell_quote(&format!("target/{profile_dir}/{binary}")))
            .collect::<Vec<_>>()
            .join(" "),
    );
    let cache_scope = cache_scope(platform, toolchain, workdir);
    let exec = Exec {
        args: vec!["/bin/sh".to_owned(), "-c".to_owned(), script],
        env,
        cwd: workdir.clone(),
        user: String::new(),
        mounts: vec![
            cache(
                format!("{cargo_home}/registry"),
                format!("flotilla-cargo-registry-{}", platform.slug()),
            ),
            cache(
                format!("{cargo_home}/git"),
                format!("flotilla-cargo-git-{}", platform.slug()),
            ),
            cache(
                format!("{workdir}/target"),
                format!("flotilla-target-{cache_scope}"),
            ),
            Mount::Output {
                dest: OUT_MOUNT.to_owned(),
            },
        ],
    };
    let result = workspace.run(exec, platform, at_builder(format!("[builder 3/3] {cargo}")));
    result.outputs.into_iter().next().unwrap_or_default()
}

/// The variant's base image with its binaries copied in.
fn variant_graph(name: &str, variant: &Variant, binaries: &State, context: &GraphContext) -> Graph {
    let platform = &context.platform;
    let steps = 1 + usize::from(!variant.binaries.is_empty());
    let base = State::image(
        &crate::reference::normalize(&variant.from.value)
            .unwrap_or_else(|_| variant.from.value.clone()),
        platform,
        Describe {
            name: format!("[{name} 1/{steps}] FROM {}", variant.from.value),
            location: Some(range(&variant.from)),
        },
    );
    let mut changes = ConfigChanges {
        env: variant
            .env
            .iter()
            .map(|(k, v)| (k.value.clone(), v.clone()))
            .collect(),
        entrypoint: variant.entrypoint.clone(),
        cmd: variant.cmd.clone(),
        user: variant.user.clone(),
        workdir: variant.workdir.clone(),
        labels: variant
            .labels
            .iter()
            .map(|(k, v)| (k.value.clone(), v.clone()))
            .collect(),
        history: Vec::new(),
    };
    let Some((first, _)) = variant.binaries.iter().next() else {
        return Graph {
            state: base,
            changes,
        };
    };
    let copies: Vec<Copy> = variant
        .binaries
        .iter()
        .map(|(binary, dest)| Copy {
            from: binaries.clone(),
            src: format!("{ARTIFACT_DIR}/{}", binary.value),
            dest: dest.value.clone(),
            options: CopyOptions {
                dir_contents: false,
                ..CopyOptions::default()
            },
        })
        .collect();
    let what = variant
        .binaries
        .iter()
        .map(|(binary, dest)| format!("{} -> {}", binary.value, dest.value))
        .collect::<Vec<_>>()
        .join(", ");
    let state = base.copy(
        &copies,
        platform,
        Describe {
            name: format!("[{name} 2/{steps}] COPY {what}"),
            location: Some(range(first)),
        },
    );
    changes
        .history
        .push(format!("COPY {what} # flotilla binaries"));
    Graph { state, changes }
}

/// Only the binaries, in a scratch image. A compile's output already is exactly that.
fn artifact_graph(source: &BinariesSource, binaries: State, context: &GraphContext) -> Graph {
    let state = match source {
        BinariesSource::Compile { .. } => binaries,
        BinariesSource::Prebuilt { .. } => State::scratch().copy(
            &[Copy {
                from: binaries,
                src: ARTIFACT_DIR.to_owned(),
                dest: ARTIFACT_DIR.to_owned(),
                options: CopyOptions::default(),
            }],
            &context.platform,
            format!("[artifact 1/1] COPY {ARTIFACT_DIR}"),
        ),
    };
    let changes = ConfigChanges {
        history: vec![format!("COPY binaries {ARTIFACT_DIR} # flotilla artifact")],
        ..Default::default()
    };
    Graph { state, changes }
}

/// The cargo command line the compile step runs.
fn cargo_command(spec: &Spec) -> String {
    let cargo = &spec.builder.cargo;
    let mut words = vec!["cargo".to_owned(), "build".to_owned()];
    if cargo.locked {
        words.push("--locked".to_owned());
    }
    words.extend(["--profile".to_owned(), shell_quote(&cargo.profile.value)]);
    if !cargo.features.is_empty() {
        let features: Vec<&str> = cargo.features.iter().map(|f| f.value.as_str()).collect();
        words.extend(["--features".to_owned(), shell_quote(&features.join(","))]);
    }
    for binary in &spec.builder.binaries.value {
        words.extend(["--bin".to_owned(), shell_quote(&binary.value)]);
    }
    words.join(" ")
}

/// The directory under `target/` where cargo puts a profile's output.
fn profile_dir(profile: &str) -> &str {
    match profile {
        "dev" | "test" => "debug",
        "bench" => "release",
        other => other,
    }
}

fn cache(dest: String, id: String) -> Mount {
    Mount::Cache {
        dest,
        id,
        sharing: CacheSharing::Locked,
    }
}

/// A cache id part unique to one toolchain and workspace path on one platform, so unrelated
/// builds on a daemon do not share a target dir.
fn cache_scope(platform: &Platform, toolchain: &str, workdir: &str) -> String {
    let hash = Sha256::digest(format!("{toolchain}\n{workdir}"));
    format!("{}-{}", platform.slug(), &hex::encode(hash)[..12])
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

fn range<T>(value: &Spanned<T>) -> SpecRange {
    let position = position(value);
    SpecRange {
        line: position.line,
        column: position.column,
        end_line: position.line,
    }
}

/// Quotes `word` for `/bin/sh` when it holds anything but safe characters.
fn shell_quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./,=:+".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(shell_quote("hello-gateway"), "hello-gateway");
        assert_eq!(shell_quote("serde/derive,x"), "serde/derive,x");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn profile_dirs_follow_cargo() {
        assert_eq!(profile_dir("dev"), "debug");
        assert_eq!(profile_dir("release"), "release");
        assert_eq!(profile_dir("dist"), "dist");
    }
}
