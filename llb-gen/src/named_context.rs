//! Named build contexts (`--build-context NAME=VALUE`, which reaches a frontend as the option
//! `context:NAME`): `builder` stands in for the builder, and a name that spells an image the
//! target starts from replaces that image, as docker/dockerfile replaces a `FROM`.

use std::collections::BTreeMap;

use crate::error::Error;
use crate::reference;

/// The prefix of a named context's frontend option.
pub const OPTION_PREFIX: &str = "context:";
/// The named context that stands in for the builder.
pub const BUILDER: &str = "builder";

/// The frontend option of the context `name`, as errors name it.
pub fn option(name: &str) -> String {
    format!("{OPTION_PREFIX}{name}")
}

/// The image a context value `docker-image://REF` names, normalized; `None` for any other
/// value. A bad `REF` is an error naming the option of the context `name`.
pub fn image_of(name: &str, value: &str) -> Option<Result<String, Error>> {
    let image = value.strip_prefix("docker-image://")?;
    Some(
        reference::normalize(image).map_err(|error| Error::InvalidOption {
            option: option(name),
            message: error.to_string(),
        }),
    )
}

/// The named contexts of one build: each name's value for the target platform.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamedContexts(BTreeMap<String, String>);

impl NamedContexts {
    /// The contexts from `(name, value)` pairs, names without the option prefix.
    pub fn new<N: Into<String>, V: Into<String>>(
        contexts: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        Self(
            contexts
                .into_iter()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
        )
    }

    /// The value of the `builder` context.
    pub fn builder(&self) -> Option<&str> {
        self.0.get(BUILDER).map(String::as_str)
    }

    /// The image that replaces the normalized reference `image`, when a context is named after
    /// it the way docker/dockerfile names one ([`reference::familiar`]); only an image
    /// (`docker-image://REF`) can stand in for an image. The replacement is not looked up
    /// again, so contexts never chain.
    pub fn replace_image(&self, image: &str) -> Result<Option<String>, Error> {
        let name = reference::familiar(image);
        let Some(value) = self.0.get(name) else {
            return Ok(None);
        };
        match image_of(name, value) {
            Some(replacement) => replacement.map(Some),
            None => Err(Error::InvalidOption {
                option: option(name),
                message: format!(
                    "`{value}` cannot stand in for the image {name}; use docker-image://REF"
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_is_replaced_by_the_context_named_as_dockerfile_names_it() {
        let named = NamedContexts::new([
            (
                "debian:bookworm-slim",
                "docker-image://localhost:5000/debian:pinned",
            ),
            ("busybox", "docker-image://mirror.example/busybox:1"),
            (
                "localhost:5000/base",
                "docker-image://localhost:5000/base:2",
            ),
        ]);
        let replaced = |image: &str| named.replace_image(image).unwrap();
        assert_eq!(
            replaced("docker.io/library/debian:bookworm-slim").as_deref(),
            Some("localhost:5000/debian:pinned")
        );
        assert_eq!(
            replaced("docker.io/library/busybox:latest").as_deref(),
            Some("mirror.example/busybox:1")
        );
        assert_eq!(
            replaced("localhost:5000/base:latest").as_deref(),
            Some("localhost:5000/base:2")
        );
        assert_eq!(replaced("docker.io/library/debian:trixie"), None);
        assert_eq!(replaced("docker.io/library/busybox:1"), None);
    }

    #[test]
    fn a_replacement_is_not_replaced_again() {
        let named = NamedContexts::new([("a", "docker-image://b"), ("b", "docker-image://a")]);
        assert_eq!(
            named.replace_image("docker.io/library/a:latest").unwrap(),
            Some("docker.io/library/b:latest".to_owned())
        );
    }

    #[test]
    fn only_an_image_stands_in_for_an_image_and_errors_name_the_option() {
        let named = NamedContexts::new([
            ("debian", "local:debian"),
            ("rust:1", "docker-image://Bad Ref"),
        ]);
        let error = named
            .replace_image("docker.io/library/debian:latest")
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "option context:debian: `local:debian` cannot stand in for the image debian; use docker-image://REF"
        );
        let error = named.replace_image("docker.io/library/rust:1").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("option context:rust:1: invalid image reference `Bad Ref`"),
            "{error}"
        );
    }

    #[test]
    fn the_builder_context_is_its_own() {
        let named = NamedContexts::new([("builder", "local:builder")]);
        assert_eq!(named.builder(), Some("local:builder"));
        assert_eq!(NamedContexts::default().builder(), None);
    }
}
