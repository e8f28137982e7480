//! Build arguments: `${NAME}` substitution in spec strings, and the scope of declared args
//! (the automatic platform args, then `args:` at top level, then the variant's).

use std::collections::BTreeMap;

use crate::platform::Platform;

/// Why a string cannot be substituted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SubstituteError {
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

/// Replaces `$NAME`, `${NAME}`, `${NAME:-default}` (default when unset or empty) and
/// `${NAME:+alternative}` (alternative when set and not empty); `$$` is a literal `$`, and a `$`
/// before anything else stays as written, so `$(uname -m)` reaches the shell untouched.
/// `lookup` gives a declared arg's value and `None` for an undeclared one, which is an error.
pub fn substitute(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, SubstituteError> {
    substitute_as(text, lookup, Unknown::Error)
}

/// What an undeclared name is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unknown {
    /// A mistake.
    Error,
    /// Somebody else's variable: kept as written, `$$` included, for a later pass.
    Keep,
}

fn substitute_as(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unknown: Unknown,
) -> Result<String, SubstituteError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push_str(if unknown == Unknown::Keep { "$$" } else { "$" });
            rest = tail;
        } else if let Some(braced) = after.strip_prefix('{') {
            let end = closing_brace(braced).ok_or_else(|| SubstituteError {
                message: format!("unclosed `${{` in `{text}`"),
                hint: Some("write `${NAME}`, or `$$` for a literal `$`".to_owned()),
            })?;
            let inner = &braced[..end];
            let name = &inner[..name_length(inner)];
            if unknown == Unknown::Keep && !name.is_empty() && lookup(name).is_none() {
                out.push_str(&rest[dollar..dollar + end + 3]);
            } else {
                out.push_str(&expand(inner, lookup, unknown)?);
            }
            rest = &braced[end + 1..];
        } else {
            let name = &after[..name_length(after)];
            match lookup(name) {
                _ if name.is_empty() => out.push('$'),
                None if unknown == Unknown::Keep => {
                    out.push_str(&rest[dollar..dollar + 1 + name.len()])
                }
                _ => out.push_str(&value_of(name, lookup)?),
            }
            rest = &after[name.len()..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Whether `name` can be declared as an arg (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_arg_name(name: &str) -> bool {
    !name.is_empty() && name_length(name) == name.len()
}

/// Expands the inside of `${…}`.
fn expand(
    inner: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unknown: Unknown,
) -> Result<String, SubstituteError> {
    let name_len = name_length(inner);
    let name = &inner[..name_len];
    let operator = &inner[name_len..];
    let bad = || SubstituteError {
        message: format!("bad substitution `${{{inner}}}`"),
        hint: Some("write `${NAME}`, `${NAME:-default}` or `${NAME:+alternative}`".to_owned()),
    };
    if name.is_empty() {
        return Err(bad());
    }
    let value = value_of(name, lookup)?;
    if operator.is_empty() {
        Ok(value)
    } else if let Some(default) = operator.strip_prefix(":-") {
        if value.is_empty() {
            substitute_as(default, lookup, unknown)
        } else {
            Ok(value)
        }
    } else if let Some(alternative) = operator.strip_prefix(":+") {
        if value.is_empty() {
            Ok(String::new())
        } else {
            substitute_as(alternative, lookup, unknown)
        }
    } else {
        Err(bad())
    }
}

fn value_of(
    name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, SubstituteError> {
    lookup(name).ok_or_else(|| SubstituteError {
        message: format!("undeclared build arg `{name}`"),
        hint: Some(format!(
            "declare it under `args:` (top level or in the variant), or write `$${name}` for a literal `${name}`"
        )),
    })
}

/// Length of the arg name at the start of `text`.
fn name_length(text: &str) -> usize {
    let mut chars = text.char_indices();
    match chars.next() {
        Some((_, c)) if c.is_ascii_alphabetic() || c == '_' => chars
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
            .map_or(text.len(), |(index, _)| index),
        _ => 0,
    }
}

/// Index of the `}` that closes a `${` whose body starts `text`, counting nested `${…}`.
fn closing_brace(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut previous = '\0';
    for (index, c) in text.char_indices() {
        match c {
            '{' if previous == '$' => depth += 1,
            '}' if depth == 0 => return Some(index),
            '}' => depth -= 1,
            _ => {}
        }
        previous = c;
    }
    None
}

/// The values of the args in scope, by name. Declaring an arg gives it the build-arg of the same
/// name, else its default (substituted with the args declared before it), else "".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    values: BTreeMap<String, String>,
}

/// The args every spec may use without declaring them, as in a Dockerfile.
pub const AUTOMATIC_ARGS: [&str; 8] = [
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

impl Scope {
    /// The automatic platform args for a build on `build` for `target`.
    pub fn automatic(target: &Platform, build: &Platform) -> Self {
        let mut values = BTreeMap::new();
        for (prefix, platform) in [("TARGET", target), ("BUILD", build)] {
            let variant = platform.variant.clone().unwrap_or_default();
            values.insert(format!("{prefix}PLATFORM"), platform.to_string());
            values.insert(format!("{prefix}OS"), platform.os.clone());
            values.insert(format!("{prefix}ARCH"), platform.architecture.clone());
            values.insert(format!("{prefix}VARIANT"), variant);
        }
        Self { values }
    }

    /// Declares `name`: its build-arg value if given, else `default` substituted, else "".
    pub fn declare(
        &mut self,
        name: &str,
        default: Option<&str>,
        build_args: &BTreeMap<String, String>,
    ) -> Result<(), SubstituteError> {
        if AUTOMATIC_ARGS.contains(&name) {
            return Ok(());
        }
        let value = match (build_args.get(name), default) {
            (Some(given), _) => given.clone(),
            (None, Some(default)) => self.substitute(default)?,
            (None, None) => String::new(),
        };
        self.values.insert(name.to_owned(), value);
        Ok(())
    }

    /// `text` with the args of this scope substituted.
    pub fn substitute(&self, text: &str) -> Result<String, SubstituteError> {
        substitute(text, &|name| self.values.get(name).cloned())
    }

    /// `text` with the args of this scope substituted and any other name kept as written, for
    /// values that may also use environment variables (Dockerfile `ENV X=$PATH`).
    pub fn substitute_keeping_others(&self, text: &str) -> Result<String, SubstituteError> {
        substitute_as(text, &|name| self.values.get(name).cloned(), Unknown::Keep)
    }

    /// The value of a declared arg.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(pairs: &[(&str, &str)]) -> Scope {
        let mut scope = Scope::default();
        for (name, value) in pairs {
            scope.declare(name, Some(value), &BTreeMap::new()).unwrap();
        }
        scope
    }

    #[test]
    fn substitutes_every_form() {
        let scope = scope(&[("V", "1.2"), ("EMPTY", ""), ("NAME", "kiro")]);
        let cases = [
            ("plain", "plain"),
            ("$V", "1.2"),
            ("v$V-x", "v1.2-x"),
            ("${V}", "1.2"),
            ("${V}b", "1.2b"),
            ("${EMPTY:-d}", "d"),
            ("${V:-d}", "1.2"),
            ("${EMPTY:+alt}", ""),
            ("${V:+alt-$NAME}", "alt-kiro"),
            ("${EMPTY:-${NAME}}", "kiro"),
            ("${EMPTY:-}", ""),
            ("$$V", "$V"),
            ("$${V}", "${V}"),
            ("cost: 5$", "cost: 5$"),
            ("$(uname -m) $1 $ x", "$(uname -m) $1 $ x"),
            ("$NAME_x", ""),
        ];
        let scope = {
            let mut scope = scope;
            scope.declare("NAME_x", None, &BTreeMap::new()).unwrap();
            scope
        };
        for (text, expected) in cases {
            assert_eq!(scope.substitute(text).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn undeclared_and_malformed_are_errors() {
        let scope = scope(&[("V", "1")]);
        let error = scope.substitute("a ${NOPE} b").unwrap_err();
        assert_eq!(error.message, "undeclared build arg `NOPE`");
        assert!(error.hint.unwrap().contains("$$NOPE"));
        assert_eq!(
            scope.substitute("$HOME").unwrap_err().message,
            "undeclared build arg `HOME`"
        );
        assert_eq!(
            scope.substitute("${V:-$NOPE}").unwrap(),
            "1",
            "an unused default is not expanded"
        );
        for (text, message) in [
            ("${V", "unclosed `${` in `${V`"),
            ("${}", "bad substitution `${}`"),
            ("${V:?x}", "bad substitution `${V:?x}`"),
            ("${1}", "bad substitution `${1}`"),
            ("${V-x}", "bad substitution `${V-x}`"),
        ] {
            assert_eq!(
                scope.substitute(text).unwrap_err().message,
                message,
                "{text}"
            );
        }
    }

    #[test]
    fn other_names_can_be_kept_for_a_later_pass() {
        let scope = scope(&[("V", "1"), ("EMPTY", "")]);
        let kept = |text: &str| scope.substitute_keeping_others(text).unwrap();
        assert_eq!(kept("/opt/$V/bin:$PATH"), "/opt/1/bin:$PATH");
        assert_eq!(kept("${HOME:-/root} ${V} $$V"), "${HOME:-/root} 1 $$V");
        assert_eq!(kept("${EMPTY:-$LANG}"), "$LANG");
        assert_eq!(kept("$ $1"), "$ $1");
        let env = |name: &str| {
            Some(if name == "PATH" {
                "/bin".to_owned()
            } else {
                String::new()
            })
        };
        assert_eq!(
            substitute(&kept("$V:$PATH:$$V"), &env).unwrap(),
            "1:/bin:$V"
        );
        assert!(scope.substitute_keeping_others("${V").is_err());
    }

    #[test]
    fn declared_args_take_build_args_then_defaults() {
        let given = BTreeMap::from([("A".to_owned(), "given ${X}".to_owned())]);
        let mut scope = Scope::automatic(&Platform::linux("arm64"), &Platform::linux("amd64"));
        scope.declare("A", Some("default"), &given).unwrap();
        scope
            .declare("B", Some("${TARGETARCH}-$A"), &given)
            .unwrap();
        scope.declare("C", None, &given).unwrap();
        scope.declare("TARGETARCH", Some("s390x"), &given).unwrap();
        assert_eq!(
            scope.get("A"),
            Some("given ${X}"),
            "build-args are not substituted"
        );
        assert_eq!(scope.get("B"), Some("arm64-given ${X}"));
        assert_eq!(scope.get("C"), Some(""));
        assert_eq!(
            scope.get("TARGETARCH"),
            Some("arm64"),
            "platform args are fixed"
        );
        assert_eq!(
            scope
                .declare("D", Some("${E}"), &given)
                .unwrap_err()
                .message,
            "undeclared build arg `E`"
        );
    }

    #[test]
    fn automatic_args_describe_both_platforms() {
        let target: Platform = "linux/arm/v7".parse().unwrap();
        let scope = Scope::automatic(&target, &Platform::linux("amd64"));
        let values: Vec<(&str, &str)> = AUTOMATIC_ARGS
            .iter()
            .map(|name| (*name, scope.get(name).unwrap()))
            .collect();
        assert_eq!(
            values,
            [
                ("TARGETPLATFORM", "linux/arm/v7"),
                ("TARGETOS", "linux"),
                ("TARGETARCH", "arm"),
                ("TARGETVARIANT", "v7"),
                ("BUILDPLATFORM", "linux/amd64"),
                ("BUILDOS", "linux"),
                ("BUILDARCH", "amd64"),
                ("BUILDVARIANT", ""),
            ]
        );
    }

    #[test]
    fn arg_names() {
        for name in ["A", "_a1", "TARGET_ARCH"] {
            assert!(is_arg_name(name), "{name}");
        }
        for name in ["", "1A", "A-B", "A B"] {
            assert!(!is_arg_name(name), "{name}");
        }
    }
}
