//! A `variants.<name>:` entry: one runtime image.

use serde::Deserialize;

use super::{NamedMap, Spanned};

/// One runtime image.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// One line shown by `llb-gen targets`.
    #[serde(default)]
    pub description: Option<String>,
    /// Base image reference.
    pub from: Spanned<String>,
    /// Binary name -> absolute path in the image.
    #[serde(default)]
    pub binaries: NamedMap<Spanned<String>>,
    /// Environment variables, added to the base image's.
    #[serde(default)]
    pub env: NamedMap<String>,
    /// Image entrypoint (exec form).
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// Image default command (exec form).
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// User the container runs as.
    #[serde(default)]
    pub user: Option<String>,
    /// Working directory of the container.
    #[serde(default)]
    pub workdir: Option<String>,
    /// Image labels.
    #[serde(default)]
    pub labels: NamedMap<String>,
}
