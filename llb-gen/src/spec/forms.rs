//! Values that may be written short (a string) or long (a list or a mapping), the way
//! `run: apt-get update` and `run: {run: [..], env: ..}` both read as one run step.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Expected, MapAccess, SeqAccess, Unexpected, Visitor};

use super::Spanned;

/// Whether a long form is written as a YAML list (or else as a mapping). serde reads a struct
/// from a list field by field, so taking both would make `run: [[a]]` a step that runs `a`
/// and `[/bin/app]` a binary's path: the other collection is refused instead.
pub trait LongForm {
    /// A list, not a mapping.
    const IS_LIST: bool;
}

impl<T> LongForm for Vec<T> {
    const IS_LIST: bool = true;
}

/// The long form from a YAML list, when it is written as one.
fn from_list<'de, T, A>(seq: A, expected: &dyn Expected) -> Result<T, A::Error>
where
    T: Deserialize<'de> + LongForm,
    A: SeqAccess<'de>,
{
    if T::IS_LIST {
        T::deserialize(SeqAccessDeserializer::new(seq))
    } else {
        Err(de::Error::invalid_type(Unexpected::Seq, expected))
    }
}

/// The long form from a YAML mapping, when it is written as one.
fn from_mapping<'de, T, A>(map: A, expected: &dyn Expected) -> Result<T, A::Error>
where
    T: Deserialize<'de> + LongForm,
    A: MapAccess<'de>,
{
    if T::IS_LIST {
        Err(de::Error::invalid_type(Unexpected::Map, expected))
    } else {
        T::deserialize(MapAccessDeserializer::new(map))
    }
}

/// `a list` or `a mapping`, for a visitor's `expecting`.
fn collection<T: LongForm>() -> &'static str {
    if T::IS_LIST { "a list" } else { "a mapping" }
}

/// A string, or the long form `T` (read from a YAML list or mapping).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StringOr<T> {
    /// The short form.
    String(String),
    /// The long form.
    Long(T),
}

/// The short form or the long form, each with the position of the whole value.
pub fn split<T>(written: Spanned<StringOr<T>>) -> Result<Spanned<String>, Spanned<T>> {
    {
        let Spanned {
            value,
            referenced,
            defined,
        } = written;
        match value {
            StringOr::String(value) => Ok(Spanned {
                value,
                referenced,
                defined,
            }),
            StringOr::Long(value) => Err(Spanned {
                value,
                referenced,
                defined,
            }),
        }
    }
}

impl<'de, T: Deserialize<'de> + LongForm> Deserialize<'de> for StringOr<T> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FormVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de> + LongForm> Visitor<'de> for FormVisitor<T> {
            type Value = StringOr<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a string or {}", collection::<T>())
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                Ok(StringOr::String(value.to_owned()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                from_list(seq, &self).map(StringOr::Long)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                from_mapping(map, &self).map(StringOr::Long)
            }
        }

        deserializer.deserialize_any(FormVisitor(PhantomData))
    }
}

/// `true`/`false`, or the long form `T` (read from a YAML list or mapping), the way
/// `ssh: true` and `ssh: [{id: deploy}]` both read as a step's ssh mounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoolOr<T> {
    /// The short form.
    Bool(bool),
    /// The long form.
    Long(T),
}

impl<'de, T: Deserialize<'de> + LongForm> Deserialize<'de> for BoolOr<T> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FormVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de> + LongForm> Visitor<'de> for FormVisitor<T> {
            type Value = BoolOr<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "true, false or {}", collection::<T>())
            }

            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
                Ok(BoolOr::Bool(value))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                from_list(seq, &self).map(BoolOr::Long)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                from_mapping(map, &self).map(BoolOr::Long)
            }
        }

        deserializer.deserialize_any(FormVisitor(PhantomData))
    }
}

/// Either form: a boolean, or whatever `T` accepts.
impl<T: JsonSchema> JsonSchema for BoolOr<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("BoolOr_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [{"type": "boolean"}, generator.subschema_for::<T>()],
        })
    }
}

/// The schema of a value the parser reads as text: YAML writes `expose: [8080]` or
/// `user: 1001` unquoted, and a number or boolean there is taken as its text.
pub enum Scalar {}

impl JsonSchema for Scalar {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Scalar".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": ["string", "number", "boolean"]})
    }
}

/// Either form: a string, or whatever `T` accepts.
impl<T: JsonSchema> JsonSchema for StringOr<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("StringOr_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [{"type": "string"}, generator.subschema_for::<T>()],
        })
    }
}
