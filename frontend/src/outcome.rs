//! What a build hands back to BuildKit: plain data the pipeline makes and the bridge returns,
//! so neither imports the other for it.

use llb_gen::platform::Platform;

/// What a build hands back to BuildKit.
pub enum Outcome {
    /// One image, for the one platform asked for.
    Image(PlatformImage),
    /// One image per platform (`refs.platforms`).
    Platforms(Vec<PlatformImage>),
    /// Nothing to export: smoke checks ran.
    Nothing,
}

/// One platform's image: a ref BuildKit holds, and its config JSON.
pub struct PlatformImage {
    /// The platform it is for.
    pub platform: Platform,
    /// Ref id of the final filesystem.
    pub reference: String,
    /// `containerimage.config`.
    pub config: Vec<u8>,
}
