//! Build arguments: `${NAME}` substitution in spec strings, and the scope of declared args
//! (the automatic platform args, then `args:` at top level, then the variant's).
//!
//! Substitution makes [`Value`]s that share the values they name instead of copying them, and
//! text is written out only through a [`Budget`]: args whose defaults repeat each other double
//! at each step, so a spec of a few lines could otherwise ask for gigabytes.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::diagnostic::{Diagnostic, Position};
use crate::platform::Platform;
use crate::spec::Document;

/// The most text one budget writes out: every string of a target, or a variant's env once its
/// variables are expanded. All of it goes into a Definition or an image config, which BuildKit
/// takes in one message of at most 4 MiB each, so no buildable target comes near.
pub const MAX_SUBSTITUTED_BYTES: usize = 8 << 20;
/// The deepest a `${…}` may sit in another's default or alternative: each level is read again,
/// so the depth bounds both the stack and the time a string takes.
pub const MAX_SUBSTITUTION_DEPTH: usize = 32;

/// Why a string cannot be substituted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SubstituteError {
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl SubstituteError {
    /// This error at `position` of `document`.
    pub fn located(self, document: &Document, position: Position) -> Diagnostic {
        let diagnostic = document.error(position, self.message);
        match self.hint {
            Some(hint) => diagnostic.with_hint(hint),
            None => diagnostic,
        }
    }
}

/// Substituted text, kept as the pieces it was made of: literal text and the values it names,
/// shared rather than copied. A value that repeats another costs its own text whatever the
/// other's length; [`Budget::write`] writes the text out.
#[derive(Clone, Debug, Default)]
pub struct Value(Rc<Pieces>);

#[derive(Debug, Default)]
struct Pieces {
    /// The length of the text; it saturates, which only makes the budget refuse it.
    len: usize,
    parts: Vec<Part>,
}

#[derive(Debug)]
enum Part {
    Text(String),
    Value(Value),
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        let mut pieces = Pieces::default();
        pieces.push_text(text);
        Self(Rc::new(pieces))
    }
}

impl Value {
    /// The length of the text, in bytes.
    pub fn len(&self) -> usize {
        self.0.len
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the text to `out`. The walk keeps its own stack: a value can name a value that
    /// names another, as deep as a spec has args.
    fn write_to(&self, out: &mut String) {
        let mut pending = vec![self.0.parts.iter()];
        while let Some(parts) = pending.last_mut() {
            match parts.next() {
                Some(Part::Text(text)) => out.push_str(text),
                Some(Part::Value(value)) => pending.push(value.0.parts.iter()),
                None => {
                    pending.pop();
                }
            }
        }
    }
}

impl Pieces {
    fn push_text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.len = self.len.saturating_add(text.len());
        match self.parts.last_mut() {
            Some(Part::Text(last)) => last.push_str(text),
            _ => self.parts.push(Part::Text(text.to_owned())),
        }
    }

    fn push_value(&mut self, value: Value) {
        if !value.is_empty() {
            self.len = self.len.saturating_add(value.len());
            self.parts.push(Part::Value(value));
        }
    }
}

/// Drops the values only this one holds one after another, not each inside the last: a chain
/// of args would overflow the stack.
impl Drop for Pieces {
    fn drop(&mut self) {
        let mut orphans = std::mem::take(&mut self.parts);
        while let Some(part) = orphans.pop() {
            if let Part::Value(Value(shared)) = part
                && let Some(mut pieces) = Rc::into_inner(shared)
            {
                orphans.append(&mut pieces.parts);
            }
        }
    }
}

/// What substitution may still write out, in bytes: [`MAX_SUBSTITUTED_BYTES`] in all.
#[derive(Debug)]
pub struct Budget {
    left: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            left: MAX_SUBSTITUTED_BYTES,
        }
    }
}

impl Budget {
    /// The text of `value`, when it fits in what is left.
    pub fn write(&mut self, value: &Value) -> Result<String, SubstituteError> {
        if value.len() > self.left {
            return Err(SubstituteError {
                message: format!(
                    "the text exceeds {MAX_SUBSTITUTED_BYTES} bytes ({} MiB) once `$` references are substituted (substitution limit)",
                    MAX_SUBSTITUTED_BYTES >> 20
                ),
                hint: Some(
                    "a value that names another value several times doubles at each step; name each long value once"
                        .to_owned(),
                ),
            });
        }
        self.left -= value.len();
        let mut text = String::with_capacity(value.len());
        value.write_to(&mut text);
        Ok(text)
    }
}

/// Replaces `$NAME`, `${NAME}`, `${NAME:-default}` (default when unset or empty) and
/// `${NAME:+alternative}` (alternative when set and not empty); `$$` is a literal `$`, and a `$`
/// before anything else stays as written, so `$(uname -m)` reaches the shell untouched.
/// `lookup` gives a declared name's value and `None` for an undeclared one, which is an error.
pub fn substitute(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<Value>,
) -> Result<Value, SubstituteError> {
    substitute_as(text, lookup, Unknown::Error, 0)
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
    lookup: &dyn Fn(&str) -> Option<Value>,
    unknown: Unknown,
    depth: usize,
) -> Result<Value, SubstituteError> {
    if depth > MAX_SUBSTITUTION_DEPTH {
        return Err(SubstituteError {
            message: format!(
                "`${{…}}` nested deeper than {MAX_SUBSTITUTION_DEPTH} levels (substitution limit)"
            ),
            hint: None,
        });
    }
    let mut out = Pieces::default();
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_text(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push_text(if unknown == Unknown::Keep { "$$" } else { "$" });
            rest = tail;
        } else if let Some(braced) = after.strip_prefix('{') {
            let end = closing_brace(braced).ok_or_else(|| SubstituteError {
                message: format!("unclosed `${{` in `{}`", quoted(text)),
                hint: Some("write `${NAME}`, or `$$` for a literal `$`".to_owned()),
            })?;
            let inner = &braced[..end];
            let name = &inner[..name_length(inner)];
            if unknown == Unknown::Keep && !name.is_empty() && lookup(name).is_none() {
                out.push_text(&rest[dollar..dollar + end + 3]);
            } else {
                out.push_value(expand(inner, lookup, unknown, depth)?);
            }
            rest = &braced[end + 1..];
        } else {
            let name = &after[..name_length(after)];
            match lookup(name) {
                _ if name.is_empty() => out.push_text("$"),
                None if unknown == Unknown::Keep => {
                    out.push_text(&rest[dollar..dollar + 1 + name.len()])
                }
                _ => out.push_value(value_of(name, lookup)?),
            }
            rest = &after[name.len()..];
        }
    }
    out.push_text(rest);
    Ok(Value(Rc::new(out)))
}

/// The most characters of a value an error quotes.
const QUOTED_CHARS: usize = 60;

/// `text` as an error quotes it: a long value is cut, not echoed whole.
fn quoted(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Whether `name` can be declared as an arg (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_arg_name(name: &str) -> bool {
    !name.is_empty() && name_length(name) == name.len()
}

/// Expands the inside of a `${…}` found at `depth`.
fn expand(
    inner: &str,
    lookup: &dyn Fn(&str) -> Option<Value>,
    unknown: Unknown,
    depth: usize,
) -> Result<Value, SubstituteError> {
    let name_len = name_length(inner);
    let name = &inner[..name_len];
    let operator = &inner[name_len..];
    let bad = || SubstituteError {
        message: format!("bad substitution `${{{}}}`", quoted(inner)),
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
            substitute_as(default, lookup, unknown, depth + 1)
        } else {
            Ok(value)
        }
    } else if let Some(alternative) = operator.strip_prefix(":+") {
        if value.is_empty() {
            Ok(Value::default())
        } else {
            substitute_as(alternative, lookup, unknown, depth + 1)
        }
    } else {
        Err(bad())
    }
}

fn value_of(name: &str, lookup: &dyn Fn(&str) -> Option<Value>) -> Result<Value, SubstituteError> {
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
/// name, else its default (substituted with the args declared before it), else "". A scope
/// may sit inside another (a variant's args inside the top-level ones) and sees its args.
#[derive(Clone, Debug, Default)]
pub struct Scope<'a> {
    outer: Option<&'a Scope<'a>>,
    values: BTreeMap<String, Value>,
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

impl<'a> Scope<'a> {
    /// The automatic platform args for a build on `build` for `target`.
    pub fn automatic(target: &Platform, build: &Platform) -> Self {
        let mut values = BTreeMap::new();
        for (prefix, platform) in [("TARGET", target), ("BUILD", build)] {
            let variant = platform.variant.clone().unwrap_or_default();
            values.insert(
                format!("{prefix}PLATFORM"),
                Value::from(platform.to_string().as_str()),
            );
            values.insert(format!("{prefix}OS"), Value::from(platform.os.as_str()));
            values.insert(
                format!("{prefix}ARCH"),
                Value::from(platform.architecture.as_str()),
            );
            values.insert(format!("{prefix}VARIANT"), Value::from(variant.as_str()));
        }
        Self {
            outer: None,
            values,
        }
    }

    /// An empty scope inside this one: what it declares hides this one's args of that name.
    pub fn inner(&'a self) -> Self {
        Self {
            outer: Some(self),
            values: BTreeMap::new(),
        }
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
            (Some(given), _) => Value::from(given.as_str()),
            (None, Some(default)) => self.substitute(default)?,
            (None, None) => Value::default(),
        };
        self.values.insert(name.to_owned(), value);
        Ok(())
    }

    /// `text` with the args of this scope substituted.
    pub fn substitute(&self, text: &str) -> Result<Value, SubstituteError> {
        substitute(text, &|name| self.get(name))
    }

    /// `text` with the args of this scope substituted and any other name kept as written, for
    /// values that may also use environment variables (Dockerfile `ENV X=$PATH`).
    pub fn substitute_keeping_others(&self, text: &str) -> Result<Value, SubstituteError> {
        substitute_as(text, &|name| self.get(name), Unknown::Keep, 0)
    }

    /// The value of a declared arg.
    fn get(&self, name: &str) -> Option<Value> {
        match self.values.get(name) {
            Some(value) => Some(value.clone()),
            None => self.outer?.get(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(value: Value) -> String {
        Budget::default().write(&value).unwrap()
    }

    fn scope(pairs: &[(&str, &str)]) -> Scope<'static> {
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
            assert_eq!(written(scope.substitute(text).unwrap()), expected, "{text}");
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
            written(scope.substitute("${V:-$NOPE}").unwrap()),
            "1",
            "an unused default is not expanded"
        );
        for (text, message) in [
            ("${V", "unclosed `${` in `${V`"),
            ("${}", "bad substitution `${}`"),
            ("${V:?x}", "bad substitution `${V:?x}`"),
            ("${1}", "bad substitution `${1}`"),
            ("${V-x}", "bad substitution `${V-x}`"),
            (
                &format!("${{{}", "V".repeat(100)),
                &format!("unclosed `${{` in `${{{}…`", "V".repeat(58)),
            ),
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
        let kept = |text: &str| written(scope.substitute_keeping_others(text).unwrap());
        assert_eq!(kept("/opt/$V/bin:$PATH"), "/opt/1/bin:$PATH");
        assert_eq!(kept("${HOME:-/root} ${V} $$V"), "${HOME:-/root} 1 $$V");
        assert_eq!(kept("${EMPTY:-$LANG}"), "$LANG");
        assert_eq!(kept("$ $1"), "$ $1");
        let env = |name: &str| Some(Value::from(if name == "PATH" { "/bin" } else { "" }));
        assert_eq!(
            written(substitute(&kept("$V:$PATH:$$V"), &env).unwrap()),
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
            scope.get("A").map(written).as_deref(),
            Some("given ${X}"),
            "build-args are not substituted"
        );
        assert_eq!(
            scope.get("B").map(written).as_deref(),
            Some("arm64-given ${X}")
        );
        assert_eq!(scope.get("C").map(written).as_deref(), Some(""));
        assert_eq!(
            scope.get("TARGETARCH").map(written).as_deref(),
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
        let values: Vec<(&str, String)> = AUTOMATIC_ARGS
            .iter()
            .map(|name| (*name, written(scope.get(name).unwrap())))
            .collect();
        let values: Vec<(&str, &str)> = values
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
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

    /// A scope of args `A0` (`first`) to `A<steps>`, each default naming the one before it
    /// `repeats` times.
    fn chain(first: &str, steps: usize, repeats: usize) -> Scope<'static> {
        let mut scope = scope(&[("A0", first)]);
        for step in 1..=steps {
            let default = format!("${{A{}}}", step - 1).repeat(repeats);
            scope
                .declare(&format!("A{step}"), Some(&default), &BTreeMap::new())
                .unwrap();
        }
        scope
    }

    #[test]
    fn args_that_repeat_each_other_cost_their_text_until_written() {
        let scope = chain("xxxxxxxxxx", 60, 4);
        let huge = scope.substitute("$A60").unwrap();
        assert_eq!(huge.len(), usize::MAX, "4^60 × 10 saturates");
        let error = Budget::default().write(&huge).unwrap_err();
        assert!(error.message.contains("(substitution limit)"), "{error}");
        // 10 × 4^9 bytes, 2.5 MiB: the budget is for every string written, so three fit.
        let mut budget = Budget::default();
        let big = scope.substitute("$A9").unwrap();
        for _ in 0..3 {
            assert_eq!(budget.write(&big).unwrap().len(), 10 << 18);
        }
        assert!(budget.write(&big).is_err());
    }

    #[test]
    fn a_chain_of_args_as_long_as_a_spec_allows_is_written_and_dropped() {
        let scope = chain("x", 50_000, 1);
        assert_eq!(written(scope.substitute("$A50000").unwrap()), "x");
        drop(scope);
    }

    #[test]
    fn nesting_is_bounded() {
        let scope = scope(&[("E", "")]);
        let nested = |depth: usize| format!("{}x{}", "${E:-".repeat(depth), "}".repeat(depth));
        let fits = nested(MAX_SUBSTITUTION_DEPTH);
        assert_eq!(written(scope.substitute(&fits).unwrap()), "x");
        let error = scope
            .substitute(&nested(MAX_SUBSTITUTION_DEPTH + 1))
            .unwrap_err();
        assert_eq!(
            error.message,
            "`${…}` nested deeper than 32 levels (substitution limit)"
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
