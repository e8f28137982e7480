//! Files the frontend reads from the client's session before it plans the build: the spec,
//! the context's `.dockerignore`, and the context's Cargo manifests.

use std::collections::BTreeMap;

use futures_util::{StreamExt, TryStreamExt, stream};

use llb_gen::cache_keys::{self, CONTEXT_LOCAL, SPEC_LOCAL};
use llb_gen::context::{self, DOCKERIGNORE, Entry, EntryKind, ManifestWalk};
use llb_gen::dockerignore;
use llb_gen::llb::{LocalOptions, MarshalOptions, State, marshal};
use llb_gen::spec::MAX_SPEC_BYTES;

use crate::bridge::{Bridge, BridgeError};
use crate::error::BuildError;
use crate::gateway_pb::Stat;
use crate::options::Options;

/// Go's os.FileMode directory bit, as BuildKit's ReadDir and StatFile report it.
pub const MODE_DIR: u32 = 1 << 31;
/// Go's os.ModeType: the bits of every kind of file but a regular one (directory, link, pipe,
/// socket, device, char device, irregular).
const MODE_TYPE: u32 = MODE_DIR | 1 << 27 | 1 << 26 | 1 << 25 | 1 << 24 | 1 << 21 | 1 << 19;

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
    read_head(bridge, &reference, filename, MAX_SPEC_BYTES as u64)
        .await
        .map_err(unreadable)
}

/// The exclude patterns of the context's `.dockerignore`; none when it has none. It is read
/// as the CLI reads it: a regular file under the size limit.
pub async fn read_dockerignore(
    bridge: &Bridge,
    options: &Options,
) -> Result<Vec<String>, BuildError> {
    let local = local_files(
        CONTEXT_LOCAL,
        options,
        cache_keys::dockerignore(),
        "[internal] load .dockerignore".to_owned(),
    );
    let reference = bridge.solve(local, Vec::new()).await?;
    let Some(stat) = bridge.stat_file(&reference, DOCKERIGNORE).await? else {
        return Ok(Vec::new());
    };
    let limit = context::MAX_DOCKERIGNORE_BYTES;
    let found = entry(stat);
    context::check_readable(DOCKERIGNORE, found.kind, found.size, limit)?;
    let bytes = read_head(bridge, &reference, DOCKERIGNORE, limit).await?;
    let bytes = context::check_read(DOCKERIGNORE, bytes, limit)?;
    Ok(dockerignore::patterns(&String::from_utf8_lossy(&bytes)))
}

/// How many of the manifest scan's reads are in flight at once: each is one round trip to
/// the daemon, which answers them side by side.
const READS_AT_ONCE: usize = 16;

/// The Cargo manifests `walk` looks for in the context (less what `.dockerignore` excludes),
/// by context-relative path, found as the CLI finds them on disk ([`ManifestWalk`]): one
/// context read per round, which sends only the files that round names; ReadDir reports a link
/// as a link, which is not followed, and only regular files are read.
pub async fn read_manifests(
    bridge: &Bridge,
    options: &Options,
    excludes: &[String],
    mut walk: ManifestWalk,
) -> Result<BTreeMap<String, String>, BuildError> {
    while let Some(patterns) = walk.next_round()? {
        let local = local_files(
            CONTEXT_LOCAL,
            options,
            cache_keys::manifests(patterns, excludes),
            "[internal] load Cargo manifests".to_owned(),
        );
        let reference = bridge.solve(local, Vec::new()).await?;
        // In waves: every directory queued so far is listed, then every manifest those
        // listings name is read, [`READS_AT_ONCE`] requests in flight, each taken as it comes
        // (so the walk's size limits hold whatever a wave names).
        loop {
            let dirs: Vec<String> = std::iter::from_fn(|| walk.next_dir()).collect();
            if dirs.is_empty() {
                break;
            }
            let mut listings = stream::iter(dirs)
                .map(|dir| async {
                    let entries = bridge.read_dir(&reference, &dir).await?;
                    Ok::<_, BridgeError>((dir, entries))
                })
                .buffered(READS_AT_ONCE);
            let mut manifests = Vec::new();
            while let Some((dir, entries)) = listings.try_next().await? {
                manifests.extend(walk.visit(&dir, entries.into_iter().map(entry).collect())?);
            }
            let mut reads = stream::iter(manifests)
                .map(|path| async {
                    let bytes =
                        read_head(bridge, &reference, &path, context::MAX_MANIFEST_BYTES).await?;
                    Ok::<_, BridgeError>((path, bytes))
                })
                .buffered(READS_AT_ONCE);
            while let Some((path, bytes)) = reads.try_next().await? {
                walk.add(path, bytes)?;
            }
        }
    }
    Ok(walk.finish())
}

/// At most `limit + 1` bytes of `path`: a file over the limit is not sent whole.
async fn read_head(
    bridge: &Bridge,
    reference: &str,
    path: &str,
    limit: u64,
) -> Result<Vec<u8>, BridgeError> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    bridge
        .read_file_head(reference, path, limit.saturating_add(1))
        .await
}

/// A ReadDir or StatFile entry as llb-gen's context rules take it.
fn entry(stat: Stat) -> Entry {
    let kind = if stat.mode & MODE_DIR != 0 {
        EntryKind::Dir
    } else if stat.mode & MODE_TYPE == 0 {
        EntryKind::File
    } else {
        EntryKind::Other
    };
    Entry {
        size: u64::try_from(stat.size).unwrap_or_default(),
        name: stat.path,
        kind,
    }
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
