//! Image references as BuildKit wants them: fully normalized, with a tag or digest
//! (`debian:bookworm-slim` -> `docker.io/library/debian:bookworm-slim`). A digest pins the
//! image: `name@sha256:…` gets no `:latest`, and `name:tag@sha256:…` keeps both, which BuildKit
//! resolves by the digest alone, as Docker does.
//!
//! The grammar is docker/distribution's (`reference/regexp.go`, `normalize.go`) and the digest
//! rules are go-digest's, which BuildKit and registries run: a reference that passes `check`
//! here is one they accept, so a typo is refused before a build starts rather than by the pull.

/// The longest repository path (after `docker.io/library/` is added) distribution accepts.
const PATH_MAX: usize = 255;
/// The longest tag distribution accepts (`[\w][\w.-]{0,127}`).
const TAG_MAX: usize = 128;
const DOCKER_HUB: &str = "docker.io";
/// The path prefix of Docker Hub's official images (`debian` is `library/debian`).
const OFFICIAL: &str = "library/";

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
    parse(reference).map_err(|reason| InvalidReference {
        reference: reference.to_owned(),
        reason,
    })
}

/// The short name docker/dockerfile looks a named context up by, from a normalized reference:
/// distribution's `FamiliarString` less a `:latest` tag (`docker.io/library/debian:latest` ->
/// `debian`, `docker.io/library/debian:bookworm-slim` -> `debian:bookworm-slim`).
pub fn familiar(normalized: &str) -> &str {
    let short = match normalized
        .strip_prefix(DOCKER_HUB)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        Some(rest) => rest
            .strip_prefix(OFFICIAL)
            .filter(|official| !official.contains('/'))
            .unwrap_or(rest),
        None => normalized,
    };
    short.strip_suffix(":latest").unwrap_or(short)
}

/// `ParseNormalizedNamed` followed by `Parse`, in distribution's order of checks.
fn parse(reference: &str) -> Result<String, String> {
    if reference.is_empty() {
        return Err("it is empty".to_owned());
    }
    if reference.len() == 64 && reference.bytes().all(is_lower_hex) {
        return Err("64 hex digits name an image id, not a reference".to_owned());
    }
    let (named, digest) = match reference.split_once('@') {
        Some((named, digest)) => (named, Some(digest)),
        None => (reference, None),
    };
    let (domain, remainder) = split_domain(named);
    let (path, tag) = match remainder.split_once(':') {
        Some((path, tag)) => (path, Some(tag)),
        None => (remainder, None),
    };
    if !is_domain(domain) {
        return Err(format!(
            "the registry `{domain}` is not a host name, IPv4 or [IPv6] address with an optional `:port`"
        ));
    }
    if !is_path(path) {
        return Err(if is_path(&path.to_ascii_lowercase()) {
            format!("the repository `{path}` must be lowercase")
        } else {
            format!(
                "the repository `{path}` is not `/`-separated parts of lowercase letters and digits joined by `.`, `_`, `__` or dashes"
            )
        });
    }
    let path = match domain {
        DOCKER_HUB if !path.contains('/') => format!("{OFFICIAL}{path}"),
        _ => path.to_owned(),
    };
    if path.len() > PATH_MAX {
        return Err(format!(
            "the repository `{path}` is {} characters, over the {PATH_MAX} registries accept",
            path.len()
        ));
    }
    if let Some(tag) = tag.filter(|tag| !is_tag(tag)) {
        return Err(format!(
            "the tag `{tag}` is not 1 to {TAG_MAX} ASCII letters, digits, `_`, `.` and `-` starting with a letter, digit or `_`"
        ));
    }
    if let Some(digest) = digest {
        check_digest(digest)?;
    }
    let mut whole = format!("{domain}/{path}");
    match (tag, digest) {
        (None, None) => whole.push_str(":latest"),
        (tag, digest) => {
            for (separator, part) in [(':', tag), ('@', digest)] {
                if let Some(part) = part {
                    whole.push(separator);
                    whole.push_str(part);
                }
            }
        }
    }
    Ok(whole)
}

/// distribution's `splitDockerDomain`: the first part is a registry when it is `localhost`,
/// has a `.` or `:`, or has an uppercase letter (a repository never does); Docker Hub's legacy
/// name becomes `docker.io`.
fn split_domain(named: &str) -> (&str, &str) {
    match named.split_once('/') {
        Some(("index.docker.io", rest)) => (DOCKER_HUB, rest),
        Some((first, rest))
            if first == "localhost"
                || first.contains(['.', ':'])
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (first, rest)
        }
        _ => (DOCKER_HUB, named),
    }
}

/// `host [':' port]`, host being a domain name (or IPv4 address) or a bracketed IPv6 address.
fn is_domain(domain: &str) -> bool {
    let (host_ok, port) = match domain.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((address, port)) => (
                !address.is_empty() && address.bytes().all(|b| b == b':' || b.is_ascii_hexdigit()),
                port,
            ),
            None => return false,
        },
        None => {
            let (host, port) = domain.split_at(domain.find(':').unwrap_or(domain.len()));
            (host.split('.').all(is_domain_component), port)
        }
    };
    host_ok
        && (port.is_empty()
            || port.strip_prefix(':').is_some_and(|digits| {
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
            }))
}

/// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
fn is_domain_component(component: &str) -> bool {
    let alphanumeric = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    alphanumeric(component.bytes().next())
        && alphanumeric(component.bytes().last())
        && component
            .bytes()
            .all(|b| b == b'-' || b.is_ascii_alphanumeric())
}

/// `/`-separated components, each `[a-z0-9]+` runs joined by one separator: `.`, `_`, `__` or
/// any number of `-`.
fn is_path(path: &str) -> bool {
    path.split('/').all(|component| {
        let mut runs = component.split(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
        let (first, last) = (runs.next(), runs.next_back());
        // Splitting on alphanumerics leaves the separators between them; the outer runs are
        // what comes before the first and after the last, which must be nothing.
        first == Some("")
            && last == Some("")
            && runs.all(|separator| {
                matches!(separator, "" | "." | "_" | "__") || separator.bytes().all(|b| b == b'-')
            })
    })
}

/// `[\w][\w.-]{0,127}`, `\w` being ASCII as in Go's regexp.
fn is_tag(tag: &str) -> bool {
    let word = |b: u8| b == b'_' || b.is_ascii_alphanumeric();
    (1..=TAG_MAX).contains(&tag.len())
        && tag.bytes().next().is_some_and(word)
        && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-')
}

/// Whether `digest` is one a reference can be pinned to (`sha256:` and 64 lowercase hex digits,
/// or sha512's).
pub fn is_digest(digest: &str) -> bool {
    check_digest(digest).is_ok()
}

/// go-digest's `Digest.Validate` with its registered algorithms: lowercase hex of the hash's
/// length. sha384 is not registered by go-digest nor by the OCI image spec.
fn check_digest(digest: &str) -> Result<(), String> {
    let (algorithm, hex) = digest.split_once(':').unwrap_or((digest, ""));
    let length = match algorithm {
        "sha256" => 64,
        "sha512" => 128,
        _ => {
            return Err(format!(
                "the digest `{digest}` is not `sha256:` or `sha512:` followed by lowercase hex"
            ));
        }
    };
    if hex.len() == length && hex.bytes().all(is_lower_hex) {
        Ok(())
    } else {
        Err(format!(
            "a {algorithm} digest is {length} lowercase hex digits (0-9, a-f), not `{hex}`"
        ))
    }
}

fn is_lower_hex(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'f')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(input: &str) -> String {
        normalize(input).unwrap_err().reason
    }

    #[test]
    fn familiar_names_are_dockerfiles_context_names() {
        let cases = [
            ("debian", "debian"),
            ("debian:bookworm-slim", "debian:bookworm-slim"),
            ("docker.io/library/debian:latest", "debian"),
            ("library/debian/sub:1", "library/debian/sub:1"),
            ("grafana/grafana", "grafana/grafana"),
            ("localhost:5000/base", "localhost:5000/base"),
            ("ghcr.io/o/app:latest-slim", "ghcr.io/o/app:latest-slim"),
            (
                "alpine@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                "alpine@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            ),
        ];
        for (written, name) in cases {
            assert_eq!(familiar(&normalize(written).unwrap()), name, "{written}");
        }
    }

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
            ("docker.io/debian", "docker.io/library/debian:latest"),
            ("index.docker.io/debian", "docker.io/library/debian:latest"),
            ("opensuse/leap:15.3", "docker.io/opensuse/leap:15.3"),
            ("localhost/app", "localhost/app:latest"),
            ("localhost:5000", "docker.io/library/localhost:5000"),
            ("Registry/app", "Registry/app:latest"),
            ("[::1]:5000/app", "[::1]:5000/app:latest"),
            ("[fe80::AB]/app", "[fe80::AB]/app:latest"),
            ("10.0.0.1:5000/a/b/c", "10.0.0.1:5000/a/b/c:latest"),
            ("xn--7o8h.com/app:x", "xn--7o8h.com/app:x"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize(input).unwrap(), expected, "{input}");
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
    }

    #[test]
    fn a_digest_is_sha256_or_sha512_in_lowercase_hex_of_its_length() {
        let sha512 = format!("debian@sha512:{}", "0f".repeat(64));
        assert!(normalize(&sha512).is_ok());
        let hex = "ab".repeat(32);
        for bad in [
            format!("debian@sha256:{}", hex.to_uppercase()),
            format!("debian@sha256:{}Ab", &hex[2..]),
            format!("debian@sha256:{}", &hex[1..]),
            format!("debian@sha256:{hex}0"),
            format!("debian@sha512:{hex}"),
            "debian@sha256:".to_owned(),
            format!("debian@sha256:{}g", &hex[1..]),
            format!("debian@sha256:{hex}@sha256:{hex}"),
        ] {
            assert!(reason(&bad).contains("lowercase hex digits"), "{bad}");
        }
        for bad in [
            format!("debian@SHA256:{hex}"),
            format!("debian@sha384:{}", "ab".repeat(48)),
            format!("debian@sha256+b64:{hex}"),
            format!("debian@{hex}"),
            "debian@md5:00".to_owned(),
            "debian@".to_owned(),
        ] {
            assert!(reason(&bad).starts_with("the digest `"), "{bad}");
        }
    }

    #[test]
    fn a_tag_is_128_ascii_word_characters_dots_and_dashes() {
        for good in ["a", "_x", "1.2-rc_3", &"t".repeat(128)] {
            assert!(normalize(&format!("debian:{good}")).is_ok(), "{good}");
        }
        for bad in ["", ".x", "-x", "a b", "bookwörm", "a+b", &"t".repeat(129)] {
            assert!(
                reason(&format!("debian:{bad}")).starts_with("the tag `"),
                "{bad}"
            );
        }
        assert!(reason("debian:a:b").starts_with("the tag `a:b`"));
        assert!(reason("host/debian:a/b").starts_with("the tag `a/b`"));
    }

    #[test]
    fn a_repository_is_lowercase_components_with_single_separators() {
        for good in ["a", "a.b", "a_b", "a__b", "a---b", "a/b/c", "0-9"] {
            assert!(normalize(good).is_ok(), "{good}");
        }
        for bad in [
            "a..b", "a___b", "a._b", "-a", "a-", "_a", "a/", "a//b", " debian", "a b", "é",
        ] {
            assert!(reason(bad).contains("is not `/`-separated parts"), "{bad}");
        }
        assert_eq!(
            reason("Debian"),
            "the repository `Debian` must be lowercase"
        );
        assert_eq!(
            reason("ghcr.io/Me/app"),
            "the repository `Me/app` must be lowercase"
        );
    }

    #[test]
    fn a_repository_path_is_at_most_255_characters_with_its_library_prefix() {
        let name = |length: usize| "a".repeat(length);
        assert!(normalize(&format!("ghcr.io/{}", name(255))).is_ok());
        assert!(reason(&format!("ghcr.io/{}", name(256))).contains("over the 255"));
        assert!(normalize(&name(247)).is_ok());
        assert!(reason(&name(248)).contains("`library/"));
    }

    #[test]
    fn a_registry_is_a_host_with_an_optional_port() {
        for bad in [
            "-a.com/x",
            "a-.com/x",
            "a..com/x",
            "a_b.com/x",
            "a.com:/x",
            "a.com:5x/x",
            "a.com:1:2/x",
            "[]:5/x",
            "[::1/x",
            "[::g]/x",
            "[::1]5000/x",
            ":5000/x",
        ] {
            assert!(reason(bad).starts_with("the registry `"), "{bad}");
        }
    }

    #[test]
    fn refuses_an_empty_reference_and_an_image_id() {
        assert_eq!(reason(""), "it is empty");
        assert!(reason(&"ab".repeat(32)).contains("image id"));
        assert!(normalize(&format!("{}:tag", "ab".repeat(32))).is_ok());
    }
}
