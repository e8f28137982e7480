//! A variant's graph: its base image with the binaries copied in.

use super::{BinariesRoot, Graph, GraphContext, range};
use crate::image::ConfigChanges;
use crate::llb::{Copy, CopyOptions, Describe, State};
use crate::spec::Variant;

/// The variant's base image with its binaries copied in.
pub(super) fn graph(
    name: &str,
    variant: &Variant,
    binaries: &BinariesRoot,
    context: &GraphContext,
) -> Graph {
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
            from: binaries.state.clone(),
            src: format!("{}/{}", binaries.dir, binary.value),
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
