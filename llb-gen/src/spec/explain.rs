//! A parse error in the spec's own terms. serde and the YAML parser word theirs for
//! programmers (`expected mapping start`, `invalid type: unit value`, `invalid u32`, `missing
//! field`), and never say which key they mean. This reads the spec again as plain YAML, finds
//! the value the error points at, and says what the spec's schema (derived from the same types,
//! so it cannot disagree with the parser) wants there:
//! "`variants.app.run[0]` must be a string or a mapping with `run:`, not a list".

use std::fmt;

use schemars::generate::SchemaSettings;
use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::{Error as YamlError, Location, NonFiniteFloatPolicy, Spanned};

use super::{Spec, input};
use crate::diagnostic::Position;

/// The JSON Schema of a spec as a JSON value: draft-07, the draft editors read best.
pub(crate) fn schema() -> schemars::Schema {
    SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<Spec>()
}

/// A parse error said in the spec's terms.
pub(super) struct Explained {
    /// The value the error is about (the parser may point at its key).
    pub(super) position: Position,
    pub(super) message: String,
    pub(super) hint: Option<&'static str>,
}

/// `error` in the spec's terms, when it is about the shape of a value that can be found;
/// `None` leaves the parser's own words (YAML syntax, limits, unknown or duplicate keys).
pub(super) fn explain(source: &str, error: &YamlError) -> Option<Explained> {
    let mut inner = error;
    while let YamlError::WithSnippet { error, .. } | YamlError::AliasError { error, .. } = inner {
        inner = error;
    }
    let about_a_value = matches!(
        inner,
        YamlError::Unexpected { .. }
            | YamlError::InvalidScalar { .. }
            | YamlError::NullIntoString { .. }
            | YamlError::InvalidBooleanStrict { .. }
            | YamlError::SerdeInvalidType { .. }
            | YamlError::SerdeInvalidValue { .. }
            | YamlError::SerdeInvalidLength { .. }
            | YamlError::SerdeUnknownVariant { .. }
            | YamlError::SerdeMissingField { .. }
            | YamlError::ExternallyTaggedEnumExpectedScalarOrMapping { .. }
            | YamlError::ExpectedStringKeyForExternallyTaggedEnum { .. }
            | YamlError::UnexpectedValueForUnit { .. }
            | YamlError::UnexpectedValueForUnitEnumVariant { .. }
            | YamlError::ExpectedMappingEndAfterEnumVariantValue { .. }
    );
    let at = error.location().filter(|_| about_a_value)?;
    let mut options = input::options();
    // `.inf` is refused before a visitor sees it, which would lose the whole tree.
    options.non_finite_float_policy = NonFiniteFloatPolicy::PassThrough;
    let tree = serde_saphyr::from_str_with_options::<Spanned<Node>>(source, options).ok()?;
    let mut search = Search {
        at,
        path: Vec::new(),
        found: Vec::new(),
        before: None,
    };
    search.visit(&tree);
    let mut found = search.found;
    // An error at no value's start (`sharing: {}` is refused at its end) is about the last
    // value before it.
    found.extend(search.before.map(|(path, node)| Found::Value(path, node)));
    let schema = schema();
    let schemas = Schemas(schema.as_value());
    found
        .into_iter()
        .find_map(|found| schemas.explain(&tree, found))
}

/// What a user most likely meant by a list where a mapping goes.
fn hint(path: &[Step], node: &Node) -> Option<&'static str> {
    let Node::List(_) = node else { return None };
    match path {
        [Step::Key(variants), _, Step::Key(field), Step::Index(_)]
            if variants == "variants" && field == "run" =>
        {
            Some("to run a program without a shell, write `- run: [prog, arg]`")
        }
        [Step::Key(variants), _, Step::Key(field), _]
            if variants == "variants" && field == "binaries" =>
        {
            Some("write `name: /path`, or `name: {path: /path, mode: '0755'}`")
        }
        _ => None,
    }
}

/// One step from a value to one inside it.
#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// A path as the user reads it: `variants.app.run[0]`, or `the spec` for the whole file.
struct Named<'a>(&'a [Step]);

impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("the spec");
        }
        f.write_str("`")?;
        for (index, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(key) if index == 0 => f.write_str(key)?,
                Step::Key(key) => write!(f, ".{key}")?,
                Step::Index(item) => write!(f, "[{item}]")?,
            }
        }
        f.write_str("`")
    }
}

/// A YAML value as written, with where each part starts.
enum Node {
    Null,
    Bool(bool),
    Whole(i128),
    /// A number with a fraction or an exponent, or infinite, or not a number.
    Fraction(f64),
    Text(String),
    List(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<Node>, Spanned<Node>)>),
}

/// How a found value is named after `not`.
impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// Enough of a string to recognise it.
        const SHOWN: usize = 40;
        match self {
            Self::Null => f.write_str("empty (null)"),
            Self::Bool(value) => write!(f, "`{value}`"),
            Self::Whole(number) => write!(f, "the number `{number}`"),
            Self::Fraction(number) => write!(f, "the number `{number}`"),
            Self::Text(text) if text.chars().count() > SHOWN => {
                let shown: String = text.chars().take(SHOWN).collect();
                write!(f, "the string `{shown}…`")
            }
            Self::Text(text) => write!(f, "the string `{text}`"),
            Self::List(_) => f.write_str("a list"),
            Self::Map(_) => f.write_str("a mapping"),
        }
    }
}

/// A key or a value an error may be about, with the path of the value (of the key's mapping).
enum Found<'n> {
    Key(Vec<Step>, &'n Spanned<Node>),
    Value(Vec<Step>, &'n Spanned<Node>),
}

/// The value at `path`.
fn value_at<'n>(tree: &'n Spanned<Node>, path: &[Step]) -> Option<&'n Spanned<Node>> {
    path.iter()
        .try_fold(tree, |node, step| match (&node.value, step) {
            (Node::List(items), Step::Index(index)) => items.get(*index),
            (Node::Map(entries), Step::Key(name)) => entries
                .iter()
                .find(|(key, _)| key.value.key_text() == *name)
                .map(|(_, value)| value),
            _ => None,
        })
}

/// Every key or value an error at `at` may be about, with its path: the values starting there,
/// outermost first, then the value of a key there and its mapping. The parser puts an error at
/// the value, at the key of a value it reads with its place (`extends: 5`), or, for a missing
/// key, at the mapping's last key.
struct Search<'n> {
    at: Location,
    path: Vec<Step>,
    found: Vec<Found<'n>>,
    /// The last value that starts before `at`, in the order written.
    before: Option<(Vec<Step>, &'n Spanned<Node>)>,
}

impl<'n> Search<'n> {
    fn visit(&mut self, node: &'n Spanned<Node>) {
        let start = (node.referenced.line(), node.referenced.column());
        if start <= (self.at.line(), self.at.column()) {
            self.before = Some((self.path.clone(), node));
        }
        if self.starts_here(node) {
            self.found.push(Found::Value(self.path.clone(), node));
        }
        match &node.value {
            Node::List(items) => {
                for (index, item) in items.iter().enumerate() {
                    self.path.push(Step::Index(index));
                    self.visit(item);
                    self.path.pop();
                }
            }
            Node::Map(entries) => {
                let mut at_a_key = false;
                for (key, value) in entries {
                    let at_key = self.starts_here(key);
                    if at_key {
                        at_a_key = true;
                        self.found.push(Found::Key(self.path.clone(), key));
                    }
                    self.path.push(Step::Key(key.value.key_text()));
                    if at_key {
                        self.found.push(Found::Value(self.path.clone(), value));
                    }
                    self.visit(value);
                    self.path.pop();
                }
                if at_a_key && !self.starts_here(node) {
                    self.found.push(Found::Value(self.path.clone(), node));
                }
            }
            _ => {}
        }
    }

    fn starts_here(&self, node: &Spanned<Node>) -> bool {
        [node.referenced, node.defined]
            .iter()
            .any(|start| (start.line(), start.column()) == (self.at.line(), self.at.column()))
    }
}

impl Node {
    /// A key's text, as a path shows it.
    fn key_text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Bool(value) => value.to_string(),
            Self::Whole(number) => number.to_string(),
            Self::Fraction(number) => number.to_string(),
            _ => "?".to_owned(),
        }
    }

    fn keys(&self) -> Vec<String> {
        match self {
            Self::Map(entries) => entries
                .iter()
                .map(|(key, _)| key.value.key_text())
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;

        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any YAML value")
            }

            fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }

            fn visit_none<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }

            fn visit_some<D: de::Deserializer<'de>>(self, inner: D) -> Result<Node, D::Error> {
                Node::deserialize(inner)
            }

            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Node, E> {
                Ok(Node::Bool(value))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Node, E> {
                Ok(Node::Whole(value.into()))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Node, E> {
                Ok(Node::Whole(value.into()))
            }

            fn visit_i128<E: de::Error>(self, value: i128) -> Result<Node, E> {
                Ok(Node::Whole(value))
            }

            fn visit_u128<E: de::Error>(self, value: u128) -> Result<Node, E> {
                // Past i128, a number is as far out of every range as i128::MAX.
                Ok(Node::Whole(i128::try_from(value).unwrap_or(i128::MAX)))
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Node, E> {
                Ok(Node::Fraction(value))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Node, E> {
                Ok(Node::Text(value.to_owned()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::List(items))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Node::Map(entries))
            }
        }

        deserializer.deserialize_any(NodeVisitor)
    }
}

/// What is wrong with a value the schema does not accept.
enum Problem {
    /// It is another kind of value (or another string or number) than the schema allows.
    Shape,
    /// It is a mapping without this required key.
    Missing(String),
}

/// Whether a description names one value or several (`a string`, `strings`).
#[derive(Clone, Copy)]
enum Number {
    One,
    Many,
}

impl Number {
    fn pick<'a>(self, one: &'a str, many: &'a str) -> &'a str {
        match self {
            Self::One => one,
            Self::Many => many,
        }
    }
}

/// The spec's JSON Schema, read along paths.
struct Schemas<'s>(&'s Value);

impl<'s> Schemas<'s> {
    /// What is wrong with a found key or value, if anything.
    fn explain(&self, tree: &Spanned<Node>, found: Found<'_>) -> Option<Explained> {
        let (message, path, spanned) = match found {
            Found::Key(path, key) => match key.value {
                Node::List(_) | Node::Map(_) => (
                    format!(
                        "the keys of {} must be names, not {}",
                        Named(&path),
                        key.value
                    ),
                    path,
                    key,
                ),
                _ => return None,
            },
            Found::Value(mut path, mut spanned) => {
                // Below what the schema describes (a mapping given to `sharing`), the error
                // is about the innermost value it does describe.
                let expected = loop {
                    match self.at(&path) {
                        Some(expected) => break expected,
                        None => {
                            path.pop()?;
                            spanned = value_at(tree, &path)?;
                        }
                    }
                };
                let message = match self.problem(expected, &spanned.value)? {
                    Problem::Shape => format!(
                        "{} must be {}, not {}",
                        Named(&path),
                        self.describe(expected, Number::One, true),
                        spanned.value
                    ),
                    Problem::Missing(key) => format!("{} must have `{key}:`", Named(&path)),
                };
                (message, path, spanned)
            }
        };
        Some(Explained {
            position: super::position(spanned),
            message,
            hint: hint(&path, &spanned.value),
        })
    }

    /// The schema of the value at `path`.
    fn at(&self, path: &[Step]) -> Option<&'s Value> {
        path.iter().try_fold(self.0, |schema, step| {
            self.branches(schema)
                .into_iter()
                .find_map(|branch| match step {
                    Step::Key(key) => branch
                        .pointer(&format!(
                            "/properties/{}",
                            key.replace('~', "~0").replace('/', "~1")
                        ))
                        .or_else(|| branch.get("additionalProperties").filter(|s| s.is_object())),
                    Step::Index(_) => branch.get("items"),
                })
        })
    }

    /// The alternatives a schema allows, each with its references followed (schemars writes
    /// `allOf` only around one reference, to give it a description).
    fn branches(&self, schema: &'s Value) -> Vec<&'s Value> {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let name = reference.trim_start_matches("#/definitions/");
            return self
                .0
                .get("definitions")
                .and_then(|definitions| definitions.get(name))
                .map(|definition| self.branches(definition))
                .unwrap_or_default();
        }
        let alternatives = ["allOf", "anyOf", "oneOf"]
            .iter()
            .find_map(|keyword| schema.get(keyword).and_then(Value::as_array));
        match alternatives {
            Some(alternatives) => alternatives
                .iter()
                .flat_map(|alternative| self.branches(alternative))
                .collect(),
            None => vec![schema],
        }
    }

    /// What is wrong with `node` where `schema` applies, if anything the schema sees.
    fn problem(&self, schema: &'s Value, node: &Node) -> Option<Problem> {
        let branches = self.branches(schema);
        if let Node::Map(_) = node {
            let mapping = branches.iter().find(|branch| takes(branch, "object"));
            let keys = node.keys();
            return match mapping {
                None => Some(Problem::Shape),
                Some(mapping) => mapping
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .find(|key| !keys.iter().any(|written| written == key))
                    .map(|key| Problem::Missing(key.to_owned())),
            };
        }
        let accepted = branches.iter().any(|branch| accepts(branch, node));
        (!accepted).then_some(Problem::Shape)
    }

    /// What `schema` allows, in words: `a string or a mapping with `run:``.
    fn describe(&self, schema: &'s Value, number: Number, with_items: bool) -> String {
        let mut phrases: Vec<String> = Vec::new();
        for branch in self.branches(schema) {
            for phrase in self.phrases(branch, number, with_items) {
                if !phrases.contains(&phrase) {
                    phrases.push(phrase);
                }
            }
        }
        match phrases.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => number.pick("a value", "values").to_owned(),
        }
    }

    fn phrases(&self, branch: &'s Value, number: Number, with_items: bool) -> Vec<String> {
        if let Some(constant) = branch.get("const") {
            return vec![format!("`{}`", constant.as_str().unwrap_or_default())];
        }
        if takes(branch, "string") {
            // A text field, or a scalar field that also takes numbers and booleans as text:
            // either way the user writes a string.
            return vec![number.pick("a string", "strings").to_owned()];
        }
        let mut phrases = Vec::new();
        if takes(branch, "boolean") {
            phrases.push("`true` or `false`".to_owned());
        }
        if takes(branch, "integer") {
            let bound = |key: &str| branch.get(key).and_then(Value::as_u64);
            phrases.push(match (bound("minimum"), bound("maximum")) {
                (Some(low), Some(high)) if low == high => format!("`{low}`"),
                _ if branch.get("format").and_then(Value::as_str) == Some("uint32") => format!(
                    "{} from 0 to {}",
                    number.pick("a whole number", "whole numbers"),
                    u32::MAX
                ),
                _ => number.pick("a whole number", "whole numbers").to_owned(),
            });
        }
        if takes(branch, "array") {
            let list = number.pick("a list", "lists");
            phrases.push(match branch.get("items") {
                Some(items) if with_items => {
                    format!("{list} of {}", self.describe(items, Number::Many, false))
                }
                _ => list.to_owned(),
            });
        }
        if takes(branch, "object") {
            phrases.push(self.mapping(branch, number, with_items));
        }
        phrases
    }

    /// `a mapping with `src:` and `dest:``, or `a mapping of names to strings`.
    fn mapping(&self, branch: &'s Value, number: Number, with_items: bool) -> String {
        let mapping = number.pick("a mapping", "mappings");
        let required: Vec<String> = branch
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|key| format!("`{key}:`"))
            .collect();
        match (required.split_last(), branch.get("additionalProperties")) {
            (Some((last, [])), _) => format!("{mapping} with {last}"),
            (Some((last, rest)), _) => format!("{mapping} with {} and {last}", rest.join(", ")),
            (None, Some(values)) if with_items && values.is_object() => format!(
                "{mapping} of names to {}",
                self.describe(values, Number::Many, false)
            ),
            (None, _) => mapping.to_owned(),
        }
    }
}

/// Whether a schema's `type` names `kind`.
fn takes(branch: &Value, kind: &str) -> bool {
    match branch.get("type") {
        Some(Value::String(one)) => one == kind,
        Some(Value::Array(many)) => many.iter().any(|t| t.as_str() == Some(kind)),
        _ => false,
    }
}

/// Whether a schema branch accepts a value that is not a mapping.
fn accepts(branch: &Value, node: &Node) -> bool {
    if let Some(constant) = branch.get("const") {
        return matches!(node, Node::Text(text) if constant.as_str() == Some(text.as_str()));
    }
    match node {
        Node::Null => takes(branch, "null"),
        Node::List(_) => takes(branch, "array"),
        Node::Map(_) => takes(branch, "object"),
        Node::Bool(_) => takes(branch, "boolean"),
        Node::Fraction(_) => takes(branch, "number"),
        Node::Whole(whole) => {
            let bound = |key: &str| branch.get(key).and_then(Value::as_i64).map(i128::from);
            let fits = bound("minimum").is_none_or(|low| *whole >= low)
                && bound("maximum").is_none_or(|high| *whole <= high)
                && (branch.get("format").and_then(Value::as_str) != Some("uint32")
                    || u32::try_from(*whole).is_ok());
            takes(branch, "number") || (takes(branch, "integer") && fits)
        }
        Node::Text(_) => takes(branch, "string"),
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::parse;

    fn error(body: &str) -> String {
        let text = format!(
            "version: 1\nbuilder: {{image: r, binaries: [a]}}\nvariants:\n  v:\n    from: d\n{body}"
        );
        parse(&text, "f.yaml").unwrap_err().to_string()
    }

    #[test]
    fn a_run_step_written_as_a_list_is_refused_with_the_argv_form() {
        for body in [
            "    run: [[a]]\n",
            "    run: [[a, b]]\n",
            "    run:\n      - [a]\n",
        ] {
            assert_eq!(
                error(body),
                format!(
                    "f.yaml:{}: `variants.v.run[0]` must be a string or a mapping with `run:`, not a list (hint: to run a program without a shell, write `- run: [prog, arg]`)",
                    if body.contains('-') { "7:9" } else { "6:11" }
                )
            );
        }
    }

    #[test]
    fn each_error_names_the_value_it_is_about_and_what_goes_there() {
        let cases = [
            // The parser points at the key of a value it reads with its place.
            (
                "    extends: 5\n",
                "6:14: `variants.v.extends` must be a string or a list of strings, not the number `5`",
            ),
            // ... and at the last key of a mapping that misses one.
            (
                "    copy:\n      - src: a\n        owner: b\n",
                "7:9: `variants.v.copy[0]` must have `dest:`",
            ),
            // ... and past the start of an empty mapping.
            (
                "    run: [{run: a, cache: [{target: /c, sharing: {}}]}]\n",
                "6:50: `variants.v.run[0].cache[0].sharing` must be `shared` or `locked`, not a mapping",
            ),
            // Below what the schema describes, the value it does describe.
            (
                "    run: [{run: a, cache: [{target: /c, sharing: {locked: 1}}]}]\n",
                "6:50: `variants.v.run[0].cache[0].sharing` must be `shared` or `locked`, not a mapping",
            ),
            (
                "    env:\n      [A]: b\n",
                "7:7: the keys of `variants.v.env` must be names, not a list",
            ),
            (
                "    packages: curl\n",
                "6:15: `variants.v.packages` must be a list of strings, not the string `curl`",
            ),
            (
                "    binaries: [a]\n",
                "6:15: `variants.v.binaries` must be a mapping of names to strings or mappings with `path:`, not a list",
            ),
            (
                "    healthcheck: {test: a, retries: 1e3}\n",
                "6:37: `variants.v.healthcheck.retries` must be a whole number from 0 to 4294967295, not the number `1000`",
            ),
            (
                "    healthcheck: {test: a, retries: .inf}\n",
                "6:37: `variants.v.healthcheck.retries` must be a whole number from 0 to 4294967295, not the number `inf`",
            ),
            (
                "    env: {A: ~}\n",
                "6:14: `variants.v.env.A` must be a string, not empty (null)",
            ),
            (
                "    abstract: [true]\n",
                "6:15: `variants.v.abstract` must be `true` or `false`, not a list",
            ),
            (
                "    description: {a: b}\n",
                "6:18: `variants.v.description` must be a string, not a mapping",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(error(body), format!("f.yaml:{expected}"), "{body}");
        }
    }

    #[test]
    fn the_spec_itself_and_its_version_are_named_too() {
        let error = parse("[1]\n", "f.yaml").unwrap_err().to_string();
        assert_eq!(
            error,
            "f.yaml:1:1: the spec must be a mapping with `version:`, `builder:` and `variants:`, not a list"
        );
        let error = parse("version: one\n", "f.yaml").unwrap_err().to_string();
        assert_eq!(
            error,
            "f.yaml:1:10: `version` must be `1`, not the string `one`"
        );
    }
}
