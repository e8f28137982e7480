//! The `flotilla.yaml` spec as written: serde types that keep each value's line and column,
//! and the parser that turns YAML text into them (unknown keys are errors).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use crate::diagnostic::{Diagnostic, LineStarts, Position};

mod builder;
mod explain;
mod forms;
mod input;
mod variant;

pub use builder::{Binary, Builder, Cargo, Cross, DEFAULT_PREBUILT_PATH, Project, ProjectRef};
pub(crate) use explain::schema;
use forms::Scalar;
pub use forms::StringOr;
pub use input::{
    MAX_ALIAS_REPLAYS, MAX_ALIASES_PER_ANCHOR, MAX_DEPTH, MAX_EXPANDED_BYTES, MAX_SPEC_BYTES,
    decode,
};
pub use serde_saphyr::Spanned;
pub use variant::{
    AptRepository, BinaryInstall, CacheMount, ClientMount, Command, CopyStep, Healthcheck, MountId,
    RunStep, SecretMount, Sharing, SshMount, Stage, Variant,
};

/// The default spec file name, as `Dockerfile` is for docker/dockerfile.
pub const DEFAULT_FILENAME: &str = "flotilla.yaml";
/// The target that holds only the built binaries, a name no variant may take: validation and
/// target selection both read it.
pub const ARTIFACT_TARGET: &str = "artifact";

/// A whole spec file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "flotilla.yaml")]
pub struct Spec {
    /// Spec format version; only 1 exists.
    #[schemars(with = "u32", range(min = 1, max = 1))]
    pub version: Spanned<u32>,
    /// How the workspace is compiled when no prebuilt builder is given.
    pub builder: Builder,
    /// Build args every variant may use, with optional defaults (`${NAME}` in strings).
    #[serde(default)]
    #[schemars(with = "NamedMap<Option<Scalar>>")]
    pub args: NamedMap<Option<Spanned<String>>>,
    /// The source repository URL, the `org.opencontainers.image.source` label of every variant.
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub source: Option<Spanned<String>>,
    /// The source revision, the `org.opencontainers.image.revision` label of every variant.
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub revision: Option<Spanned<String>>,
    /// The runtime images, in the order written; the first buildable one is the default target.
    #[schemars(with = "NamedMap<Variant>")]
    pub variants: Spanned<NamedMap<Variant>>,
    /// The spec file's name and text, so later stages can point errors at its lines.
    #[serde(skip)]
    pub document: Document,
}

/// A spec file's name and text.
#[derive(Clone, Debug, Default)]
pub struct Document {
    /// The file as the user named it.
    pub file: String,
    /// Its text.
    pub text: String,
    lines: LineStarts,
}

impl Document {
    /// The file `file` whose text is `text`.
    pub fn new(file: String, text: String) -> Self {
        Self {
            lines: LineStarts::new(&text),
            file,
            text,
        }
    }

    /// An error at `position` of this file.
    pub fn error(&self, position: Position, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(&self.file, &self.text, &self.lines, position, message)
    }
}

/// A YAML mapping whose keys keep their positions and whose order is kept as written.
#[derive(Clone, Debug)]
pub struct NamedMap<T>(pub Vec<(Spanned<String>, T)>);

impl<T> Default for NamedMap<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T> NamedMap<T> {
    /// The value under `name`.
    pub fn get(&self, name: &str) -> Option<&T> {
        self.iter()
            .find(|(key, _)| key.value == name)
            .map(|(_, value)| value)
    }

    /// Entries in written order.
    pub fn iter(&self) -> impl Iterator<Item = &(Spanned<String>, T)> {
        self.0.iter()
    }

    /// Whether the mapping has no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for NamedMap<T> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for MapVisitor<T> {
            type Value = NamedMap<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let value = map.next_value()?;
                    entries.push((key, value));
                }
                Ok(NamedMap(entries))
            }
        }

        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

/// A mapping from names to `T`; the names are free, so any key is accepted.
impl<T: JsonSchema> JsonSchema for NamedMap<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("NamedMap_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "additionalProperties": generator.subschema_for::<T>(),
        })
    }
}

/// Parses spec text (see [`decode`] for the bytes of a file); `file` names it in errors.
pub fn parse(source: &str, file: &str) -> Result<Spec, Diagnostic> {
    let mut spec: Spec =
        serde_saphyr::from_str_with_options(source, input::options()).map_err(|error| {
            let position = error
                .location()
                .map_or(Position::START, |location| Position {
                    line: location.line() as u32,
                    column: location.column() as u32,
                });
            match explain::explain(source, &error) {
                Some(explained) => {
                    let diagnostic =
                        Diagnostic::new(file, source, explained.position, explained.message);
                    match explained.hint {
                        Some(hint) => diagnostic.with_hint(hint),
                        None => diagnostic,
                    }
                }
                None => Diagnostic::new(file, source, position, input::message(&error)),
            }
        })?;
    spec.document = Document::new(file.to_owned(), source.to_owned());
    Ok(spec)
}

/// Where a spanned value was written.
pub fn position<T>(value: &Spanned<T>) -> Position {
    Position {
        line: value.referenced.line() as u32,
        column: value.referenced.column() as u32,
    }
}

pub(crate) fn unspanned<T>(value: T) -> Spanned<T> {
    Spanned {
        value,
        referenced: serde_saphyr::Location::UNKNOWN,
        defined: serde_saphyr::Location::UNKNOWN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &str = include_str!("../../../examples/hello/flotilla.yaml");

    #[test]
    fn parses_the_hello_example_in_written_order() {
        let spec = parse(HELLO, "flotilla.yaml").unwrap();
        assert_eq!(spec.version.value, 1);
        assert_eq!(spec.builder.image.value, "rust:1-bookworm");
        assert_eq!(spec.builder.cargo.profile.value, "release");
        let names: Vec<&str> = spec
            .variants
            .value
            .iter()
            .map(|(k, _)| k.value.as_str())
            .collect();
        assert_eq!(names, ["hello", "gateway"]);
        let gateway = spec.variants.value.get("gateway").unwrap();
        assert_eq!(
            gateway.env.get("RUST_LOG").map(|v| v.value.as_str()),
            Some("info")
        );
        let cmd: Vec<&str> = gateway
            .cmd
            .iter()
            .flatten()
            .map(|w| w.value.as_str())
            .collect();
        assert_eq!(cmd, ["hello-gateway"]);
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let text = "version: 1\nbuilder:\n  image: rust\n  binaries: [a]\nvariants:\n  a:\n    from: debian\n    entrpoint: [a]\n";
        let error = parse(text, "f.yaml").unwrap_err();
        assert_eq!(error.position, Position { line: 8, column: 5 });
        assert!(
            error.message.starts_with("unknown field `entrpoint`"),
            "{}",
            error.message
        );
        assert!(
            error
                .to_string()
                .starts_with("f.yaml:8:5: unknown field `entrpoint`")
        );
    }

    #[test]
    fn scalars_are_read_as_strings_where_strings_are_expected() {
        let text = "version: 1\nbuilder: {image: r, binaries: [a]}\nvariants:\n  a:\n    from: d\n    env: {PORT: 8080, DEBUG: true}\n";
        let spec = parse(text, "f.yaml").unwrap();
        let env = &spec.variants.value.get("a").unwrap().env;
        assert_eq!(env.get("PORT").map(|v| v.value.as_str()), Some("8080"));
        assert_eq!(env.get("DEBUG").map(|v| v.value.as_str()), Some("true"));
    }

    #[test]
    fn malformed_yaml_is_a_located_error() {
        let error = parse("version: 1\nbuilder: [\n", "f.yaml").unwrap_err();
        assert!(error.position.line >= 2, "{error}");
    }
}
