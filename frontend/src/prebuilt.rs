//! The check that runs before any variant layer: the prebuilt builder image exists and is for
//! the target platform, and every binary the target needs is in the builder (image or
//! directory) and is executable.

use llb_gen::plan::PrebuiltCheck;
use llb_gen::platform::Platform;

use crate::bridge::{Bridge, BridgeError};
use crate::client_files::MODE_DIR;
use crate::error::{BinaryProblem, BuildError, Unusable};
use crate::resolver::Resolver;

/// What current BuildKit says when an image has no manifest for the platform asked for.
const NO_PLATFORM_MATCH: &str = "no match for platform in manifest";

/// Fails with one message: the image cannot be resolved, is for another platform, or lacks
/// binaries (naming the directory searched and each missing or non-executable binary). The
/// image's config and the builder are fetched at once, and its directory is listed in one
/// ReadDir whatever the number of binaries: each of those is a round trip to the daemon.
/// Returns the digest the image resolved to, if the daemon gave one, to pin the build to the
/// image checked.
pub async fn check(
    bridge: &Bridge,
    resolver: &Resolver<'_>,
    check: PrebuiltCheck,
    platform: &Platform,
) -> Result<Option<String>, BuildError> {
    let PrebuiltCheck {
        source_name,
        image,
        definition,
        dir,
        binaries,
    } = check;
    let unusable = |reason: Unusable| BuildError::PrebuiltUnusable {
        source_name: source_name.clone(),
        reason,
    };
    let resolved = async {
        match &image {
            Some(image) => Some(resolver.try_resolve(image).await),
            None => None,
        }
    };
    let (resolved, solved) = tokio::join!(resolved, bridge.solve(definition, Vec::new()));
    let mut digest = None;
    if let (Some(image), Some(resolved)) = (&image, resolved) {
        // An image for one platform only (a manifest, not an index) is pulled whatever the
        // platform asked for, so its config says which it is.
        let resolved = match resolved {
            // Current BuildKit refuses such an image itself rather than handing its config back.
            Err(Unusable::Daemon(error)) if error.to_string().contains(NO_PLATFORM_MATCH) => {
                return Err(BuildError::PrebuiltPlatform {
                    image: image.clone(),
                    found: "other platforms only".to_owned(),
                    wanted: platform.to_string(),
                });
            }
            resolved => resolved.map_err(unusable)?,
        };
        if let Some(found) = resolved.config.platform()
            && !found.serves(platform)
        {
            return Err(BuildError::PrebuiltPlatform {
                image: image.clone(),
                found: found.to_string(),
                wanted: platform.to_string(),
            });
        }
        digest = resolved.digest;
    }
    let unreadable = |error: BridgeError| unusable(error.into());
    let reference = solved.map_err(unreadable)?;
    let entries = match bridge
        .read_dir(&reference, dir.trim_start_matches('/'))
        .await
    {
        Ok(entries) => entries,
        // No directory: every binary is missing.
        Err(error) if error.is_not_found() => Vec::new(),
        Err(error) => return Err(unreadable(error)),
    };
    let problems: Vec<BinaryProblem> = binaries
        .into_iter()
        .filter_map(|(binary, position)| {
            let problem = match entries.iter().find(|entry| entry.path == binary) {
                None => "missing",
                Some(stat) if stat.mode & MODE_DIR != 0 || stat.mode & 0o111 == 0 => {
                    "not executable"
                }
                Some(_) => return None,
            };
            Some(BinaryProblem {
                binary,
                problem,
                position,
            })
        })
        .collect();
    if problems.is_empty() {
        return Ok(digest);
    }
    Err(BuildError::PrebuiltBinaries {
        source_name,
        dir: if dir.is_empty() { "/".to_owned() } else { dir },
        problems,
    })
}
