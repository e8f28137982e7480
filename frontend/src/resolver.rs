//! Image configs from the daemon, for one platform and resolve mode: the base, the toolchain and
//! the prebuilt builder image are all read through it, with the digest each resolved to.

use llb_gen::image::ImageConfig;
use llb_gen::llb::ResolveMode;
use llb_gen::platform::Platform;
use llb_gen::reference;

use crate::bridge::Bridge;
use crate::error::{BuildError, Unusable};

/// Resolves image configs for one platform and resolve mode.
pub struct Resolver<'a> {
    /// The daemon asked.
    pub bridge: &'a Bridge,
    /// The platform whose config is wanted.
    pub platform: &'a Platform,
    /// Option `image-resolve-mode`.
    pub mode: ResolveMode,
}

/// An image's config, and the digest its reference resolved to, to pin its source to.
pub struct ResolvedImage {
    pub config: ImageConfig,
    /// `None` when the daemon gave none (Docker 20.10, for an image in its own store) or one
    /// no reference can hold.
    pub digest: Option<String>,
}

impl Resolver<'_> {
    /// `image` resolved when there is one to resolve, or a build error naming it.
    pub async fn resolve_of(
        &self,
        image: Option<&str>,
    ) -> Result<Option<ResolvedImage>, BuildError> {
        let Some(image) = image else {
            return Ok(None);
        };
        self.try_resolve(image)
            .await
            .map(Some)
            .map_err(|reason| BuildError::Image {
                image: image.to_owned(),
                reason,
            })
    }

    /// `image` resolved, or why it cannot be.
    pub async fn try_resolve(&self, image: &str) -> Result<ResolvedImage, Unusable> {
        let response = self
            .bridge
            .resolve_image_config(image, self.platform, self.mode)
            .await?;
        let config = ImageConfig::from_json(&response.config)
            .map_err(|error| Unusable::Config(error.to_string()))?;
        let digest = Some(response.digest).filter(|digest| reference::is_digest(digest));
        Ok(ResolvedImage { config, digest })
    }
}
