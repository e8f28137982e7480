//! The compile subgraph: the workspace built in the toolchain image, binaries handed over
//! through an output mount.

use sha2::{Digest, Sha256};

use super::{GraphContext, context_source, range, shell_quote};
use crate::llb::{CacheSharing, Copy, CopyOptions, Describe, Exec, Mount, State};
use crate::platform::Platform;
use crate::spec::Spec;
use crate::target::ARTIFACT_DIR;

/// Where the compile step writes the binaries it hands over (an output mount).
const OUT_MOUNT: &str = "/flotilla-out";
/// CARGO_HOME of the official rust images, used when the toolchain image sets none.
const DEFAULT_CARGO_HOME: &str = "/usr/local/cargo";

/// Compiles the workspace and copies the binaries out of the cached target dir in the same
/// exec (a cache mount is never part of a layer).
pub(super) fn compile(spec: &Spec, toolchain: &str, context: &GraphContext) -> State {
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
    let sources = context_source(context, &[], "[context] load build context");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_dirs_follow_cargo() {
        assert_eq!(profile_dir("dev"), "debug");
        assert_eq!(profile_dir("release"), "release");
        assert_eq!(profile_dir("dist"), "dist");
    }
}
