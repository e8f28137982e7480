//! Files the frontend reads from the client's session before it plans the build: the spec,
//! the context's `.dockerignore`, and the context's Cargo manifests.

use std::collections::BTreeMap;

use llb_gen::cache_keys::{self, CONTEXT_LOCAL, SPEC_LOCAL};
use llb_gen::dockerignore;
use llb_gen::llb::{LocalOptions, MarshalOptions, State, marshal};
use llb_gen::spec::MAX_SPEC_BYTES;

use crate::bridge::{Bridge, BridgeError};
use crate::error::BuildError;
use crate::options::Options;

/// Go's os.FileMode directory bit, as BuildKit's ReadDir and StatFile report it.
pub const MODE_DIR: u32 = 1 << 31;
/// What the dependency layer is keyed on.
const MANIFEST_NAMES: [&str; 2] = ["Cargo.toml", "Cargo.lock"];
/// How deep manifests are looked for with one pattern per level: BuildKit 0.8 matches `**`
/// like `*`, so `**/Cargo.toml` alone would miss `crates/core/Cargo.toml`.
const MANIFEST_DEPTH: usize = 8;

/// Reads the spec's bytes from the `dockerfile` local: `# syntax=` forwards options, not the
/// file. Reads one byte past the size limit, so a larger file is refused without being sent
/// whole.
pub async fn read_spec(
    bridge: &Bridge,
    options: &Options,
    filename: &str,
) -> Result<Vec<u8>, BuildError> {
    let unreadable = |error: BridgeError| BuildError::ReadSpec {
        file: filename.to_owned(),
        error,
    };
    let local = local_files(
        SPEC_LOCAL,
        options,
        cache_keys::spec_file(filename),
        format!("[internal] load {filename}"),
    );
    let reference = bridge.solve(local, Vec::new()).await.map_err(unreadable)?;
    bridge
        .read_file_head(&reference, filename, MAX_SPEC_BYTES + 1)
        .await
        .map_err(unreadable)
}

/// The exclude patterns of the context's `.dockerignore`; none when it has none.
pub async fn read_dockerignore(
    bridge: &Bridge,
    options: &Options,
) -> Result<Vec<String>, BridgeError> {
    let local = local_files(
        CONTEXT_LOCAL,
        options,
        cache_keys::dockerignore(),
        "[internal] load .dockerignore".to_owned(),
    );
    let reference = bridge.solve(local, Vec::new()).await?;
    if bridge
        .stat_file(&reference, ".dockerignore")
        .await?
        .is_none()
    {
        return Ok(Vec::new());
    }
    let bytes = bridge.read_file(&reference, ".dockerignore").await?;
    Ok(dockerignore::patterns(&String::from_utf8_lossy(&bytes)))
}

/// Every `Cargo.toml` and `Cargo.lock` of the context (less what `.dockerignore` excludes), by
/// context-relative path.
pub async fn read_manifests(
    bridge: &Bridge,
    options: &Options,
    excludes: &[String],
) -> Result<BTreeMap<String, String>, BridgeError> {
    let local = local_files(
        CONTEXT_LOCAL,
        options,
        cache_keys::manifests(manifest_patterns(), excludes),
        "[internal] load Cargo manifests".to_owned(),
    );
    let reference = bridge.solve(local, Vec::new()).await?;
    let mut manifests = BTreeMap::new();
    let mut pending = vec![String::new()];
    while let Some(dir) = pending.pop() {
        for entry in bridge.read_dir(&reference, &dir).await? {
            let path = if dir.is_empty() {
                entry.path.clone()
            } else {
                format!("{dir}/{}", entry.path)
            };
            if entry.mode & MODE_DIR != 0 {
                pending.push(path);
            } else if MANIFEST_NAMES
                .iter()
                .any(|name| path.rsplit('/').next() == Some(name))
            {
                let bytes = bridge.read_file(&reference, &path).await?;
                manifests.insert(path, String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    Ok(manifests)
}

/// `Cargo.toml`, `*/Cargo.toml`, `*/*/Cargo.toml`… and the same for `Cargo.lock`.
fn manifest_patterns() -> Vec<String> {
    (0..MANIFEST_DEPTH)
        .flat_map(|depth| MANIFEST_NAMES.map(|name| format!("{}{name}", "*/".repeat(depth))))
        .collect()
}

/// A Definition of one client directory, as the session serves it.
fn local_files(
    name: &str,
    options: &Options,
    local: LocalOptions,
    describe: String,
) -> llb_gen::pb::Definition {
    let local = LocalOptions {
        session_id: options.session_id.clone(),
        ..local
    };
    marshal(
        &State::local(name, &local, describe),
        MarshalOptions::default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_patterns_cover_each_level() {
        let patterns = manifest_patterns();
        assert_eq!(patterns.len(), 2 * MANIFEST_DEPTH);
        assert_eq!(
            &patterns[..4],
            ["Cargo.toml", "Cargo.lock", "*/Cargo.toml", "*/Cargo.lock"]
        );
        assert_eq!(patterns.last().unwrap(), "*/*/*/*/*/*/*/Cargo.lock");
    }
}
