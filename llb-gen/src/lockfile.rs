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
