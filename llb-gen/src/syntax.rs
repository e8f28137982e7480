//! The small value syntaxes of the spec (modes, ports, durations, signals, package names and
//! context paths), read the same way by validation and by the graph.

/// An octal file mode such as `0755` or `644`.
pub fn octal_mode(text: &str) -> Option<u32> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|mode| *mode <= 0o7777)
}

/// A path in the build context, relative and normalized (`./a/../b/` -> `b`; `.` -> ``).
/// Absolute paths and paths that climb out of the context are refused.
pub fn context_path(text: &str) -> Result<String, &'static str> {
    if text.is_empty() {
        return Err("is empty");
    }
    if text.starts_with('/') {
        return Err("is absolute; sources are relative to the build context");
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop().ok_or("leaves the build context")?;
            }
            part => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

/// An absolute path in an image, cleaned as Go's `path.Clean` does (`//usr/./bin/../lib/` ->
/// `/usr/lib`; `..` stops at `/`), so two spellings of one path compare equal.
pub fn absolute_path(text: &str) -> Option<String> {
    let rest = text.strip_prefix('/')?;
    let mut parts: Vec<&str> = Vec::new();
    for part in rest.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// An exposed port as the image config keys it: `8080` -> `8080/tcp`, `53/udp` stays.
pub fn port(text: &str) -> Option<String> {
    let (number, protocol) = text.split_once('/').unwrap_or((text, "tcp"));
    let valid_number = number.parse::<u16>().is_ok_and(|port| port > 0)
        && number.chars().all(|c| c.is_ascii_digit());
    let valid_protocol = ["tcp", "udp", "sctp"].contains(&protocol);
    (valid_number && valid_protocol).then(|| format!("{number}/{protocol}"))
}

/// A Go-style duration (`30s`, `1m30s`, `500ms`, `2h`) in nanoseconds, as Docker stores it.
pub fn duration_ns(text: &str) -> Option<u64> {
    const UNITS: [(&str, u64); 6] = [
        ("ns", 1),
        ("us", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    if text.is_empty() {
        return None;
    }
    let mut rest = text;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, scale) = UNITS
            .iter()
            .filter(|(unit, _)| rest.starts_with(unit))
            .max_by_key(|(unit, _)| unit.len())?;
        total = total.checked_add(number.checked_mul(*scale)?)?;
        rest = &rest[unit.len()..];
    }
    Some(total)
}

/// A stop signal: a name (`SIGTERM`, `TERM`, `SIGRTMIN+3`) or a number from 1 to 64.
pub fn is_signal(text: &str) -> bool {
    let name = text.strip_prefix("SIG").unwrap_or(text);
    let named = name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || "+-".contains(c));
    named || text.parse::<u8>().is_ok_and(|n| (1..=64).contains(&n))
}

/// An apt package argument: `name`, `name=version` or `name:arch`, never an option.
pub fn is_package(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+-:=~_".contains(c))
}

/// An apt repository URL: `http://` or `https://`, with nothing that would end the field in
/// a sources line (spaces, brackets) or a shell word.
pub fn is_apt_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    rest.is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~:/?#@!$&'()*+,;=%".contains(c))
    })
}

/// An apt suite or component: letters, digits and `-._/`, not starting with `-` or `/`.
pub fn is_apt_word(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._/".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_octal() {
        assert_eq!(octal_mode("0755"), Some(0o755));
        assert_eq!(octal_mode("644"), Some(0o644));
        assert_eq!(octal_mode("0o4755"), Some(0o4755));
        for bad in ["", "8", "0x1ff", "rwx", "77777", "-1"] {
            assert_eq!(octal_mode(bad), None, "{bad}");
        }
    }

    #[test]
    fn apt_sources_parts_are_one_field_each() {
        assert!(is_apt_url("https://cli.github.com/packages"));
        assert!(is_apt_url("http://deb.debian.org/debian"));
        for bad in [
            "ftp://x",
            "https://",
            "https://a b",
            "https://a]",
            "cli.github.com",
        ] {
            assert!(!is_apt_url(bad), "{bad}");
        }
        assert!(is_apt_word("stable") && is_apt_word("bookworm-updates") && is_apt_word("main"));
        for bad in ["", "-x", "/x", "a b", "a]", "a$b"] {
            assert!(!is_apt_word(bad), "{bad}");
        }
    }

    #[test]
    fn absolute_paths_are_cleaned() {
        for (written, clean) in [
            ("/usr/local/bin/app", "/usr/local/bin/app"),
            ("//usr/./local/bin//app", "/usr/local/bin/app"),
            ("/usr/lib/../bin/app/", "/usr/bin/app"),
            ("/../../etc", "/etc"),
            ("/", "/"),
        ] {
            assert_eq!(absolute_path(written).as_deref(), Some(clean), "{written}");
        }
        assert_eq!(absolute_path("usr/bin"), None);
        assert_eq!(absolute_path(""), None);
    }

    #[test]
    fn context_paths_stay_inside() {
        assert_eq!(context_path("config/app.toml").unwrap(), "config/app.toml");
        assert_eq!(context_path("./a/../b/").unwrap(), "b");
        assert_eq!(context_path(".").unwrap(), "");
        assert_eq!(
            context_path("/etc/passwd"),
            Err("is absolute; sources are relative to the build context")
        );
        assert_eq!(context_path("../secret"), Err("leaves the build context"));
        assert_eq!(context_path("a/../../b"), Err("leaves the build context"));
        assert_eq!(context_path(""), Err("is empty"));
    }

    #[test]
    fn ports_default_to_tcp() {
        assert_eq!(port("8080").as_deref(), Some("8080/tcp"));
        assert_eq!(port("53/udp").as_deref(), Some("53/udp"));
        assert_eq!(port("9/sctp").as_deref(), Some("9/sctp"));
        for bad in ["", "0", "65536", "80/http", "+80", "eighty", "80-90"] {
            assert_eq!(port(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations_read_like_go() {
        assert_eq!(duration_ns("30s"), Some(30_000_000_000));
        assert_eq!(duration_ns("1m30s"), Some(90_000_000_000));
        assert_eq!(duration_ns("500ms"), Some(500_000_000));
        assert_eq!(duration_ns("2h"), Some(7_200_000_000_000));
        assert_eq!(duration_ns("0s"), Some(0));
        for bad in ["", "30", "s", "1.5s", "1d", "-1s", "99999999999999999999h"] {
            assert_eq!(duration_ns(bad), None, "{bad}");
        }
    }

    #[test]
    fn signals_and_packages() {
        for good in ["SIGTERM", "TERM", "SIGRTMIN+3", "9", "64"] {
            assert!(is_signal(good), "{good}");
        }
        for bad in ["", "sigterm", "SIG", "0", "65", "SIG TERM"] {
            assert!(!is_signal(bad), "{bad}");
        }
        for good in [
            "jq",
            "libssl3",
            "g++",
            "nodejs=18.19.0+dfsg-6~deb12u1",
            "libc6:amd64",
        ] {
            assert!(is_package(good), "{good}");
        }
        for bad in ["", "-y", "--allow-unauthenticated", "a b", "jq;rm", "$(x)"] {
            assert!(!is_package(bad), "{bad}");
        }
    }
}
