//! Image configs from the daemon, for one platform and resolve mode: the base, the toolchain and
//! the prebuilt builder image are all read through it.

use llb_gen::image::ImageConfig;
use llb_gen::platform::Platform;

use crate::bridge::Bridge;
use crate::error::{BuildError, Unusable};

/// Resolves image configs for one platform and resolve mode.
pub struct Resolver<'a> {
    /// The daemon asked.
    pub bridge: &'a Bridge,
    /// The platform whose config is wanted.
    pub platform: &'a Platform,
    /// Option `image-resolve-mode`.
    pub mode: &'a str,
}

impl Resolver<'_> {
    /// The config of `image`, or a build error naming it.
    pub async fn config(&self, image: &str) -> Result<ImageConfig, BuildError> {
        self.try_config(image)
            .await
            .map_err(|reason| BuildError::Image {
                image: image.to_owned(),
                reason,
            })
    }

    /// The config of `image` when there is one to read, or a build error naming it.
    pub async fn config_of(&self, image: Option<&str>) -> Result<Option<ImageConfig>, BuildError> {
        match image {
            Some(image) => self.config(image).await.map(Some),
            None => Ok(None),
        }
    }

    /// The config of `image`, or why it cannot be had.
    pub async fn try_config(&self, image: &str) -> Result<ImageConfig, Unusable> {
        let bytes = self
            .bridge
            .resolve_image_config(image, self.platform, self.mode)
            .await?;
        ImageConfig::from_json(&bytes).map_err(|error| Unusable::Config(error.to_string()))
    }
}
