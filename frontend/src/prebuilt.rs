//! The check that runs before any variant layer: the prebuilt builder image exists and is for
//! the target platform, and every binary the target needs is in the builder (image or
//! directory) and is executable.

use llb_gen::Position;
use llb_gen::graph::{self, BuildFacts};
use llb_gen::llb::{MarshalOptions, marshal};
use llb_gen::spec::{Spec, position as spec_position};
use llb_gen::target::{BinariesSource, Target};

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
    spec: &Spec,
    target: &Target<'_>,
    facts: &BuildFacts,
) -> Result<(), BuildError> {
    let source_name = match &target.binaries {
        BinariesSource::Prebuilt { image } => format!("image {image}"),
        BinariesSource::Local { name } => format!("context {name}"),
        BinariesSource::Compile { .. } => return Ok(()),
    };
    let unusable = |reason: Unusable| BuildError::PrebuiltUnusable {
        source_name: source_name.clone(),
        reason,
    };
    if let BinariesSource::Prebuilt { image } = &target.binaries {
        // An image for one platform only (a manifest, not an index) is pulled whatever the
        // platform asked for, so its config says which it is.
        let config = match resolver.try_config(image).await {
            // Current BuildKit refuses such an image itself rather than handing its config back.
            Err(Unusable::Daemon(error)) if error.to_string().contains(NO_PLATFORM_MATCH) => {
                return Err(BuildError::PrebuiltPlatform {
                    image: image.clone(),
                    found: "other platforms only".to_owned(),
                    wanted: facts.platform.to_string(),
                });
            }
            resolved => resolved.map_err(unusable)?,
        };
        if let Some(found) = config.platform()
            && !found.serves(&facts.platform)
        {
            return Err(BuildError::PrebuiltPlatform {
                image: image.clone(),
                found: found.to_string(),
                wanted: facts.platform.to_string(),
            });
        }
    }
    let unreadable = |error: BridgeError| unusable(error.into());
    let root = graph::binaries_root(spec, &target.binaries, facts)?;
    let reference = bridge
        .solve(marshal(&root.state, MarshalOptions::default()), Vec::new())
        .await
        .map_err(unreadable)?;
    // Each binary with where the target asks for it: the variant's `binaries` entry, or the
    // builder's list for the artifact.
    let needed: Vec<(&str, Position)> = match &target.variant {
        Some(variant) => variant
            .binaries
            .iter()
            .map(|binary| (binary.name.value.as_str(), spec_position(&binary.name)))
            .collect(),
        None => spec
            .builder
            .binaries()
            .map(|binary| (binary.value.name.as_str(), spec_position(binary)))
            .collect(),
    };
    let mut problems = Vec::new();
    for (binary, position) in needed {
        let path = format!("{}/{binary}", root.dir);
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
            binary: binary.to_owned(),
            problem,
            position,
        });
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(BuildError::PrebuiltBinaries {
        source_name,
        dir: if root.dir.is_empty() {
            "/".to_owned()
        } else {
            root.dir
        },
        problems,
    })
}
