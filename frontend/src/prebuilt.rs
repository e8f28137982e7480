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
/// binaries (naming the directory searched and each missing or non-executable binary).
pub async fn check(
    bridge: &Bridge,
    resolver: &Resolver<'_>,
    check: PrebuiltCheck,
    platform: &Platform,
) -> Result<(), BuildError> {
    let source_name = check.source_name;
    let unusable = |reason: Unusable| BuildError::PrebuiltUnusable {
        source_name: source_name.clone(),
        reason,
    };
    if let Some(image) = &check.image {
        // An image for one platform only (a manifest, not an index) is pulled whatever the
        // platform asked for, so its config says which it is.
        let config = match resolver.try_config(image).await {
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
        if let Some(found) = config.platform()
            && !found.serves(platform)
        {
            return Err(BuildError::PrebuiltPlatform {
                image: image.clone(),
                found: found.to_string(),
                wanted: platform.to_string(),
            });
        }
    }
    let unreadable = |error: BridgeError| unusable(error.into());
    let reference = bridge
        .solve(check.definition, Vec::new())
        .await
        .map_err(unreadable)?;
    let mut problems = Vec::new();
    for (binary, position) in check.binaries {
        let path = format!("{}/{binary}", check.dir);
        let problem = match bridge
            .stat_file(&reference, path.trim_start_matches('/'))
            .await
            .map_err(unreadable)?
        {
            None => "missing",
            Some(stat) if stat.mode & MODE_DIR != 0 || stat.mode & 0o111 == 0 => "not executable",
            Some(_) => continue,
        };
        problems.push(BinaryProblem {
            binary,
            problem,
            position,
        });
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(BuildError::PrebuiltBinaries {
        source_name,
        dir: if check.dir.is_empty() {
            "/".to_owned()
        } else {
            check.dir
        },
        problems,
    })
}
