//! Target platforms as BuildKit and OCI name them (`linux/amd64`, `linux/arm/v7`).

use std::fmt;
use std::str::FromStr;

use crate::pb;

/// An OS/architecture pair with an optional variant.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    /// e.g. `linux`.
    pub os: String,
    /// e.g. `amd64`.
    pub architecture: String,
    /// e.g. `v7` for `linux/arm/v7`.
    pub variant: Option<String>,
}

/// A platform string that is not `os/arch[/variant]`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid platform `{0}`: expected os/arch[/variant], e.g. linux/amd64")]
pub struct InvalidPlatform(pub String);

impl Platform {
    /// Linux on the given architecture.
    pub fn linux(architecture: &str) -> Self {
        Self {
            os: "linux".to_owned(),
            architecture: architecture.to_owned(),
            variant: None,
        }
    }

    /// The LLB form set on ops.
    pub fn to_pb(&self) -> pb::Platform {
        pb::Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            variant: self.variant.clone().unwrap_or_default(),
            ..Default::default()
        }
    }

    /// Whether an image made for `self` runs as `wanted`: same OS and architecture, and the
    /// same variant when both name one (an image config often omits it).
    pub fn serves(&self, wanted: &Platform) -> bool {
        self.os == wanted.os
            && self.architecture == wanted.architecture
            && match (&self.variant, &wanted.variant) {
                (Some(own), Some(wanted)) => own == wanted,
                _ => true,
            }
    }

    /// A short id safe inside cache ids and file names: `linux-arm-v7`.
    pub fn slug(&self) -> String {
        self.to_string().replace('/', "-")
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = InvalidPlatform;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let valid = |part: &str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        let parts: Vec<&str> = text.trim().split('/').collect();
        match parts.as_slice() {
            [os, arch] if valid(os) && valid(arch) => Ok(Self {
                os: (*os).to_owned(),
                architecture: (*arch).to_owned(),
                variant: None,
            }),
            [os, arch, variant] if valid(os) && valid(arch) && valid(variant) => Ok(Self {
                os: (*os).to_owned(),
                architecture: (*arch).to_owned(),
                variant: Some((*variant).to_owned()),
            }),
            _ => Err(InvalidPlatform(text.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_round_trip() {
        for text in ["linux/amd64", "linux/arm64", "linux/arm/v7"] {
            let platform: Platform = text.parse().unwrap();
            assert_eq!(platform.to_string(), text);
        }
        assert_eq!(
            "linux/arm/v7".parse::<Platform>().unwrap().slug(),
            "linux-arm-v7"
        );
    }

    #[test]
    fn an_image_serves_its_own_platform_only() {
        let p = |text: &str| text.parse::<Platform>().unwrap();
        assert!(p("linux/amd64").serves(&p("linux/amd64")));
        assert!(
            p("linux/arm64").serves(&p("linux/arm64/v8")),
            "variant omitted"
        );
        assert!(p("linux/arm/v7").serves(&p("linux/arm/v7")));
        assert!(!p("linux/arm64").serves(&p("linux/amd64")));
        assert!(!p("linux/arm/v6").serves(&p("linux/arm/v7")));
        assert!(!p("windows/amd64").serves(&p("linux/amd64")));
    }

    #[test]
    fn rejects_malformed_platforms() {
        for text in [
            "",
            "linux",
            "linux/",
            "Linux/amd64",
            "linux/amd64/v8/x",
            "linux amd64",
        ] {
            assert_eq!(
                text.parse::<Platform>(),
                Err(InvalidPlatform(text.to_owned()))
            );
        }
    }
}
