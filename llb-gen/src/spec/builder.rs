//! The `builder:` section: how the workspace is compiled when no prebuilt builder is given.

use serde::Deserialize;

use super::{Spanned, unspanned};

/// The compile side: a toolchain image and the cargo invocation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Builder {
    /// Toolchain image, used only when compiling.
    pub image: Spanned<String>,
    /// Where the workspace sits inside the toolchain image.
    #[serde(default = "default_workdir")]
    pub workdir: Spanned<String>,
    /// Cargo settings.
    #[serde(default)]
    pub cargo: Cargo,
    /// Binaries the build produces; variants pick from these.
    pub binaries: Spanned<Vec<Spanned<String>>>,
}

/// The cargo invocation of the compile step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cargo {
    /// Cargo profile (`--profile`).
    #[serde(default = "default_profile")]
    pub profile: Spanned<String>,
    /// Features to enable (`--features`).
    #[serde(default)]
    pub features: Vec<Spanned<String>>,
    /// Build with `--locked`, failing when Cargo.lock is stale.
    #[serde(default = "default_true")]
    pub locked: bool,
}

impl Default for Cargo {
    fn default() -> Self {
        Self {
            profile: default_profile(),
            features: Vec::new(),
            locked: true,
        }
    }
}

fn default_workdir() -> Spanned<String> {
    unspanned("/build".to_owned())
}

fn default_profile() -> Spanned<String> {
    unspanned("release".to_owned())
}

fn default_true() -> bool {
    true
}
