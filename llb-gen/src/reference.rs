//! Image references as BuildKit wants them: fully normalized, with a tag or digest
//! (`debian:bookworm-slim` -> `docker.io/library/debian:bookworm-slim`). A digest pins the
//! image: `name@sha256:…` gets no `:latest`, and `name:tag@sha256:…` keeps both, which BuildKit
//! resolves by the digest alone, as Docker does.

use oci_spec::distribution::Reference;

/// A reference that does not parse as `[registry/]repository[:tag][@digest]`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid image reference `{reference}`: {reason}")]
pub struct InvalidReference {
    /// The reference as written.
    pub reference: String,
    /// Why it was refused.
    pub reason: String,
}

/// Normalizes `reference`, adding `docker.io/library/` and `:latest` the way Docker does.
pub fn normalize(reference: &str) -> Result<String, InvalidReference> {
    let invalid = |reason: String| InvalidReference {
        reference: reference.to_owned(),
        reason,
    };
    if reference.trim() != reference || reference.is_empty() {
        return Err(invalid("it is empty or has surrounding spaces".to_owned()));
    }
    reference
        .parse::<Reference>()
        .map(|parsed| parsed.whole())
        .map_err(|error| invalid(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_docker() {
        let cases = [
            (
                "debian:bookworm-slim",
                "docker.io/library/debian:bookworm-slim",
            ),
            ("busybox", "docker.io/library/busybox:latest"),
            ("localhost:5000/flotilla:dev", "localhost:5000/flotilla:dev"),
            (
                "ghcr.io/openabdev/openab-builder:1.2",
                "ghcr.io/openabdev/openab-builder:1.2",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize(input).unwrap(), expected);
        }
    }

    #[test]
    fn keeps_a_pinning_digest_without_adding_a_tag() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let cases = [
            (
                format!("debian@{digest}"),
                format!("docker.io/library/debian@{digest}"),
            ),
            (
                format!("debian:bookworm-slim@{digest}"),
                format!("docker.io/library/debian:bookworm-slim@{digest}"),
            ),
            (
                format!("localhost:5000/sec-debian@{digest}"),
                format!("localhost:5000/sec-debian@{digest}"),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize(&input).unwrap(), expected);
        }
        for bad in ["debian@sha256:abc", "debian@md5:00", "debian@"] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_malformed_references() {
        for input in ["", " debian", "Debian:x", "debian:", "a b"] {
            assert!(normalize(input).is_err(), "{input}");
        }
    }
}
