//! What a `Cargo.lock` pins from outside the project: the packages a dependency layer compiles
//! and another project's dependency layer may already hold.

use std::collections::BTreeSet;

use toml::de::{DeTable, DeValue};

/// A package pinned from a registry or a git repository, as `name version source`.
pub type LockedPackage = String;

/// The packages with a `source` in the lockfile `text`: those compiled from a registry or git,
/// not the project's own. A lockfile that does not parse pins nothing here; cargo reports it
/// in the fetch, which reads it first.
pub fn locked_packages(text: &str) -> BTreeSet<LockedPackage> {
    let Ok(table) = DeTable::parse(text) else {
        return BTreeSet::new();
    };
    let table = table.into_inner();
    let Some(DeValue::Array(packages)) = table.get("package").map(|value| value.get_ref()) else {
        return BTreeSet::new();
    };
    packages
        .iter()
        .filter_map(|package| {
            let DeValue::Table(package) = package.get_ref() else {
                return None;
            };
            let field = |key: &str| match package.get(key).map(|value| value.get_ref()) {
                Some(DeValue::String(text)) => Some(text.as_ref()),
                _ => None,
            };
            Some(format!(
                "{} {} {}",
                field("name")?,
                field("version")?,
                field("source")?
            ))
        })
        .collect()
}

/// The directory names (`name-version`) that cargo keeps the registry packages of `locked`
/// under in its registry cache (`registry/cache/<registry>/<dir>.crate`) and sources
/// (`registry/src/<registry>/<dir>`), sorted. `None` when a name or version holds a character
/// cargo never writes there, so no name can leave its registry directory.
pub fn registry_dirs(locked: &BTreeSet<LockedPackage>) -> Option<Vec<String>> {
    let is_name = |name: &str| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let is_version = |version: &str| {
        version.starts_with(|c: char| c.is_ascii_digit())
            && version
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.+".contains(&b))
    };
    locked
        .iter()
        .filter_map(|package| {
            let mut fields = package.splitn(3, ' ');
            let (name, version, source) = (fields.next()?, fields.next()?, fields.next()?);
            (source.starts_with("registry+") || source.starts_with("sparse+"))
                .then_some((name, version))
        })
        .map(|(name, version)| {
            (is_name(name) && is_version(version)).then(|| format!("{name}-{version}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_packages_with_a_source_are_pinned() {
        let lock = r#"
version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["itoa"]

[[package]]
name = "itoa"
version = "1.0.15"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "4a5f13b858c8d314ee3e8f639011f7ccefe71f97f96e50151fb991f267928e2c"

[[package]]
name = "tool"
version = "0.2.0"
source = "git+https://example.com/tool?rev=1#0123"
"#;
        assert_eq!(
            locked_packages(lock),
            BTreeSet::from([
                "itoa 1.0.15 registry+https://github.com/rust-lang/crates.io-index".to_owned(),
                "tool 0.2.0 git+https://example.com/tool?rev=1#0123".to_owned(),
            ])
        );
    }

    #[test]
    fn registry_packages_are_kept_under_their_name_and_version() {
        let locked = BTreeSet::from([
            "itoa 1.0.15 registry+https://github.com/rust-lang/crates.io-index".to_owned(),
            "serde 1.0.0-rc.1+meta sparse+https://index.crates.io/".to_owned(),
            "tool 0.2.0 git+https://example.com/tool?rev=1#0123".to_owned(),
        ]);
        assert_eq!(
            registry_dirs(&locked),
            Some(vec![
                "itoa-1.0.15".to_owned(),
                "serde-1.0.0-rc.1+meta".to_owned()
            ])
        );
        for odd in [
            "a/../b 1.0.0 registry+x",
            ".. 1.0.0 registry+x",
            "a ../1 registry+x",
            "a .1 registry+x",
            "a 1.0\n registry+x",
        ] {
            let locked = BTreeSet::from([odd.to_owned()]);
            assert_eq!(registry_dirs(&locked), None, "{odd}");
        }
        assert_eq!(registry_dirs(&BTreeSet::new()), Some(Vec::new()));
    }

    #[test]
    fn a_broken_or_odd_lockfile_pins_nothing() {
        for text in [
            "[[package]\nname = ",
            "",
            "package = 1",
            "package = [1, \"a\"]",
            "[[package]]\nname = \"a\"\nsource = \"registry+x\"",
        ] {
            assert!(locked_packages(text).is_empty(), "{text:?}");
        }
    }
}
