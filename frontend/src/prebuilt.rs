//! The check that runs before any variant layer: every binary the target needs is in the
//! prebuilt builder (image or directory) and is executable.

use llb_gen::graph::{self, GraphContext};
use llb_gen::llb::{MarshalOptions, marshal};
use llb_gen::spec::Spec;
use llb_gen::target::{BinariesSource, Target};

use crate::bridge::{Bridge, BridgeError};
use crate::client_files::MODE_DIR;
use crate::pipeline::BuildError;

/// Fails with one message naming the builder, the directory searched and each missing or
/// non-executable binary.
pub async fn check(
    bridge: &Bridge,
    spec: &Spec,
    target: &Target<'_>,
    context: &GraphContext,
) -> Result<(), BuildError> {
    let source_name = match &target.binaries {
        BinariesSource::Prebuilt { image } => format!("image {image}"),
        BinariesSource::Local { name } => format!("context {name}"),
        BinariesSource::Compile { .. } => return Ok(()),
    };
    let unusable = |error: BridgeError| BuildError::PrebuiltUnreadable {
        source_name: source_name.clone(),
        reason: error.to_string(),
    };
    let root = graph::binaries_root(spec, &target.binaries, context)?;
    let reference = bridge
        .solve(marshal(&root.state, MarshalOptions::default()), Vec::new())
        .await
        .map_err(unusable)?;
    let needed: Vec<&str> = match &target.variant {
        Some(variant) => variant
            .binaries
            .iter()
            .map(|(name, _)| name.value.as_str())
            .collect(),
        None => spec
            .builder
            .binaries()
            .map(|binary| binary.value.name.as_str())
            .collect(),
    };
    let mut problems = Vec::new();
    for binary in needed {
        let path = format!("{}/{binary}", root.dir);
        match bridge
            .stat_file(&reference, path.trim_start_matches('/'))
            .await
            .map_err(unusable)?
        {
            None => problems.push(format!("{binary} (missing)")),
            Some(stat) if stat.mode & MODE_DIR != 0 || stat.mode & 0o111 == 0 => {
                problems.push(format!("{binary} (not executable)"));
            }
            Some(_) => {}
        }
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
