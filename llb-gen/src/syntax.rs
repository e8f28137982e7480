//! The small value syntaxes of the spec (modes, ports, durations, signals, package names,
//! context paths, and the names and ids BuildKit, cargo or a shell would misread), read the
//! same way by validation and by the graph.

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

/// What is wrong with an environment variable name, if anything: BuildKit passes each entry as
/// `NAME=value`, so a name with `=` sets another variable, and one with a control character
/// (NUL, a newline) cannot be passed to a process or is misread by whoever lists the env.
pub fn env_name(name: &str) -> Result<(), &'static str> {
    plain(name)?;
    if name.contains('=') {
        return Err("contains `=`, which ends a name in `NAME=value`");
    }
    Ok(())
}

/// What is wrong with a cargo profile name, if anything, as cargo's own check says
/// (`validate_profile_name`): letters, digits, `_` and `-`, and none of the names it reserves.
pub fn profile_name(name: &str) -> Result<(), String> {
    const RESERVED: [&str; 21] = [
        "debug",
        "build-override",
        "build",
        "check",
        "clean",
        "config",
        "fetch",
        "fix",
        "install",
        "metadata",
        "package",
        "publish",
        "report",
        "root",
        "run",
        "rust",
        "rustc",
        "rustdoc",
        "target",
        "tmp",
        "uninstall",
    ];
    if name.is_empty() {
        return Err("empty cargo profile".to_owned());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !c.is_alphanumeric() && !"_-".contains(*c))
    {
        return Err(format!(
            "invalid character `{}` in cargo profile `{}`",
            c.escape_debug(),
            name.escape_debug()
        ));
    }
    let lower = name.to_lowercase();
    if RESERVED.contains(&lower.as_str()) || lower.starts_with("cargo") {
        return Err(format!("cargo reserves the profile name `{name}`"));
    }
    Ok(())
}

/// A secret id: a name, since it also names the secret's default file `/run/secrets/<id>`.
pub fn is_secret_id(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// What is wrong with a cache mount id, if anything. Ids may look like paths, as the default
/// one (the target) does, but none may climb with `..` or hold a control character.
pub fn cache_id(id: &str) -> Result<(), &'static str> {
    plain(id)?;
    if id.split('/').any(|part| part == "." || part == "..") {
        return Err("has a `.` or `..` component");
    }
    Ok(())
}

/// What is wrong with a name that processes and BuildKit must read as written, if anything:
/// it is empty, or it holds a control character.
fn plain(text: &str) -> Result<(), &'static str> {
    if text.is_empty() {
        Err("is empty")
    } else if text.contains(char::is_control) {
        Err("contains a control character")
    } else {
        Ok(())
    }
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

    #[test]
    fn names_and_ids_nothing_would_misread() {
        assert_eq!(env_name("RUST_LOG"), Ok(()));
        assert_eq!(env_name("my.var"), Ok(()));
        for bad in ["", "A=B", "A\nB", "A\0"] {
            assert!(env_name(bad).is_err(), "{bad:?}");
        }
        for good in ["release", "dev", "dist-2", "profil_é"] {
            assert_eq!(profile_name(good), Ok(()), "{good}");
        }
        assert_eq!(profile_name("").unwrap_err(), "empty cargo profile");
        assert_eq!(
            profile_name("release$(id)").unwrap_err(),
            "invalid character `$` in cargo profile `release$(id)`"
        );
        assert!(profile_name("..").is_err());
        assert_eq!(
            profile_name("Debug").unwrap_err(),
            "cargo reserves the profile name `Debug`"
        );
        assert!(profile_name("cargo-x").is_err());
        for good in ["npmrc", "GIT_AUTH_TOKEN", "aws.creds"] {
            assert!(is_secret_id(good), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "../../etc/passwd", "a b"] {
            assert!(!is_secret_id(bad), "{bad}");
        }
        for good in ["npm", "/root/.npm", "go/build"] {
            assert_eq!(cache_id(good), Ok(()), "{good}");
        }
        for bad in ["", "..", "a/../b", "./a", "a\n"] {
            assert!(cache_id(bad).is_err(), "{bad:?}");
        }
    }
}
