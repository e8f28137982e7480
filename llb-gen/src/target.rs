//! Buildable targets: each variant, plus `artifact` (the binaries alone). Selecting one also
//! decides where its binaries come from: a compile, or a prebuilt builder image.

use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::model::{self, Base};
use crate::named_context::{self, NamedContexts};
use crate::reference;
use crate::resolve::{self, ArgValues};
use crate::spec::{ARTIFACT_TARGET, Spec, position};
use crate::validate;

/// Where binaries sit in the artifact image (and are looked up in a prebuilt image).
pub const ARTIFACT_DIR: &str = "/flotilla/bin";
/// The build-arg naming a prebuilt builder image; when set, nothing is compiled.
pub const BUILDER_IMAGE_ARG: &str = "BUILDER_IMAGE";

/// Where a build takes its binaries from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BinariesSource {
    /// Compile the workspace from the build context in this toolchain image.
    Compile {
        /// Normalized toolchain image reference.
        toolchain: String,
    },
    /// Copy them from this prebuilt image (an artifact image or a builder image).
    Prebuilt {
        /// Normalized image reference.
        image: String,
    },
    /// Copy them from the root of a directory the client sends (`--build-context
    /// builder=./bin`, which reaches the frontend as `context:builder=local:<name>`).
    Local {
        /// The session local's name.
        name: String,
    },
}

impl BinariesSource {
    /// Reads the value of `context:builder` (`docker-image://REF` or `local:NAME`).
    pub fn from_named_context(value: &str) -> Result<Self, Error> {
        if let Some(image) = named_context::image_of(named_context::BUILDER, value) {
            Ok(Self::Prebuilt { image: image? })
        } else if let Some(name) = value.strip_prefix("local:").filter(|n| !n.is_empty()) {
            Ok(Self::Local {
                name: name.to_owned(),
            })
        } else {
            Err(Error::InvalidOption {
                option: named_context::option(named_context::BUILDER),
                message: format!(
                    "`{value}` is not supported; use docker-image://REF or a local directory"
                ),
            })
        }
    }
}

/// A target ready to be turned into a graph.
#[derive(Debug)]
pub struct Target<'s> {
    /// The target's name (a variant name or `artifact`).
    pub name: &'s str,
    /// The variant with `extends` merged, build args substituted and its values read;
    /// `None` for the artifact.
    pub variant: Option<model::Variant>,
    /// Where the binaries come from.
    pub binaries: BinariesSource,
    /// A `check:<variant>` target: the variant's smoke checks run on its image, which is not
    /// exported.
    pub smoke_check: bool,
}

/// Prefix of the smoke-check targets, `check:<variant>`.
pub const CHECK_PREFIX: &str = "check:";

/// One line of `llb-gen targets`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetInfo {
    /// Target name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Base image (`scratch` for the artifact).
    pub base: String,
    /// Binaries it carries.
    pub binaries: Vec<String>,
    /// Whether it is built when no target is named.
    pub default: bool,
}

/// Every buildable target (abstract variants are not), the default (first variant) first.
/// The base shows with the build args at their defaults.
pub fn list(spec: &Spec) -> Vec<TargetInfo> {
    let mut family = resolve::Family::new(spec);
    let args = resolve::ArgCheck::new(spec);
    let variants = buildable(spec)
        .filter_map(|name| Some((name, family.merged(name).ok()?)))
        .enumerate()
        .map(|(index, (name, variant))| TargetInfo {
            name: name.to_owned(),
            description: variant.description.clone().unwrap_or_default(),
            base: variant
                .from
                .as_ref()
                .map(|from| {
                    args.with_defaults(&variant, &from.value)
                        .unwrap_or_else(|| from.value.clone())
                })
                .unwrap_or_default(),
            binaries: variant
                .binaries
                .iter()
                .map(|(binary, _)| binary.value.clone())
                .collect(),
            default: index == 0,
        });
    let artifact = TargetInfo {
        name: ARTIFACT_TARGET.to_owned(),
        description: format!("the built binaries alone, under {ARTIFACT_DIR}"),
        base: "scratch".to_owned(),
        binaries: spec
            .builder
            .binaries()
            .map(|b| b.value.name.clone())
            .collect(),
        default: false,
    };
    variants.chain([artifact]).collect()
}

/// Picks target `name` (default: the first buildable variant) of a validated spec, and
/// resolves it: `extends` merged, build args substituted, and the result checked again.
/// `contexts` are the build's named contexts for the platform: one named after the variant's
/// base image replaces it, and see [`binaries_source`] for how the `builder` context and
/// `BUILDER_IMAGE` decide where the binaries come from.
pub fn select<'s>(
    spec: &'s Spec,
    name: Option<&str>,
    values: &ArgValues,
    contexts: &NamedContexts,
) -> Result<Target<'s>, Error> {
    let (name, smoke_check) = match name.and_then(|name| name.strip_prefix(CHECK_PREFIX)) {
        Some(variant) => (Some(variant), true),
        None => (name, false),
    };
    let key = match name.filter(|name| !name.is_empty()) {
        None => Some(
            spec.variants
                .value
                .iter()
                .find(|(_, variant)| !variant.is_abstract)
                .ok_or_else(|| unknown_target(spec, ""))?,
        ),
        Some(ARTIFACT_TARGET) => None,
        Some(wanted) => {
            let found = spec
                .variants
                .value
                .iter()
                .find(|(name, _)| name.value == wanted)
                .ok_or_else(|| unknown_target(spec, wanted))?;
            if found.1.is_abstract {
                return Err(Error::AbstractTarget {
                    target: wanted.to_owned(),
                    available: available(spec),
                });
            }
            Some(found)
        }
    };
    let (name, variant) = match key {
        Some((key, _)) => {
            let building = |error| inherited_by(spec, &key.value, error);
            let variant = resolve::resolve(spec, &key.value, values).map_err(building)?;
            let mut variant = validate::read_variant(spec, key, &variant).map_err(building)?;
            if let Base::Image { reference } = &mut variant.base
                && let Some(replacement) = contexts.replace_image(reference)?
            {
                *reference = replacement;
            }
            (key.value.as_str(), Some(variant))
        }
        None => (ARTIFACT_TARGET, None),
    };
    let binaries = binaries_source(spec, values, contexts)?;
    if smoke_check
        && variant
            .as_ref()
            .is_none_or(|variant| variant.check.is_empty())
    {
        return Err(Error::NoChecks {
            target: name.to_owned(),
        });
    }
    Ok(Target {
        name,
        variant,
        binaries,
        smoke_check,
    })
}

/// The one place that decides between a compile and prebuilt binaries: the named builder
/// context wins, then a non-empty `BUILDER_IMAGE` build arg, else the spec's toolchain
/// compiles (or the image a context named after it gives). A bad `BUILDER_IMAGE` is refused
/// even when the named context overrides it.
fn binaries_source(
    spec: &Spec,
    values: &ArgValues,
    contexts: &NamedContexts,
) -> Result<BinariesSource, Error> {
    let builder_image = values
        .build_args
        .get(BUILDER_IMAGE_ARG)
        .filter(|image| !image.is_empty())
        .map(|image| {
            reference::normalize(image).map_err(|error| Error::InvalidOption {
                option: format!("build-arg:{BUILDER_IMAGE_ARG}"),
                message: error.to_string(),
            })
        })
        .transpose()?;
    Ok(match (contexts.builder(), builder_image) {
        (Some(named), _) => BinariesSource::from_named_context(named)?,
        (None, Some(image)) => BinariesSource::Prebuilt { image },
        (None, None) => {
            let image = &spec.builder.image;
            let toolchain = reference::normalize(&image.value)
                .map_err(|error| spec.document.error(position(image), error.to_string()))?;
            BinariesSource::Compile {
                toolchain: contexts.replace_image(&toolchain)?.unwrap_or(toolchain),
            }
        }
    })
}

impl Target<'_> {
    /// The normalized base image of a variant target; `None` for the artifact and a variant
    /// `from: scratch`.
    pub fn base_image(&self) -> Option<&str> {
        match &self.variant.as_ref()?.base {
            Base::Image { reference } => Some(reference),
            Base::Scratch => None,
        }
    }
}

/// An error of target `target` at a line another variant writes (a parent's) also names the
/// target, which is what the user built.
fn inherited_by(spec: &Spec, target: &str, mut error: Diagnostic) -> Diagnostic {
    let variants = &spec.variants.value.0;
    let owner = variants
        .iter()
        .rev()
        .find(|(name, _)| position(name) <= error.position)
        .map(|(name, _)| name.value.as_str());
    if let Some(owner) = owner.filter(|owner| *owner != target) {
        error.message = format!("{} (in `{owner}`, which `{target}` extends)", error.message);
    }
    error
}

fn unknown_target(spec: &Spec, wanted: &str) -> Error {
    Error::UnknownTarget {
        target: wanted.to_owned(),
        available: available(spec),
    }
}

fn available(spec: &Spec) -> Vec<String> {
    buildable(spec)
        .chain([ARTIFACT_TARGET])
        .map(str::to_owned)
        .collect()
}

/// Names of the variants that are not abstract, in written order.
fn buildable(spec: &Spec) -> impl Iterator<Item = &str> {
    spec.variants
        .value
        .iter()
        .filter(|(_, variant)| !variant.is_abstract)
        .map(|(name, _)| name.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load;

    const HELLO: &str = include_str!("../../examples/hello/flotilla.yaml");

    fn args(pairs: &[(&str, &str)]) -> ArgValues {
        let args = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ArgValues::native(args, &crate::platform::Platform::linux("amd64"))
    }

    #[test]
    fn lists_variants_then_artifact() {
        let spec = load(HELLO, "flotilla.yaml").unwrap();
        let names: Vec<String> = list(&spec).into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["hello", "gateway", "artifact"]);
        assert!(list(&spec)[0].default);
    }

    #[test]
    fn default_target_is_the_first_variant_and_compiles() {
        let spec = load(HELLO, "flotilla.yaml").unwrap();
        let target = select(&spec, None, &args(&[]), &NamedContexts::default()).unwrap();
        assert_eq!(target.name, "hello");
        assert_eq!(
            target.base_image(),
            Some("docker.io/library/debian:bookworm-slim")
        );
        assert_eq!(
            target.binaries,
            BinariesSource::Compile {
                toolchain: "docker.io/library/rust:1-bookworm".into()
            }
        );
    }

    #[test]
    fn builder_image_arg_switches_to_prebuilt() {
        let spec = load(HELLO, "flotilla.yaml").unwrap();
        let target = select(
            &spec,
            Some("artifact"),
            &args(&[("BUILDER_IMAGE", "localhost:5000/hello-artifact:1")]),
            &NamedContexts::default(),
        )
        .unwrap();
        assert!(target.variant.is_none());
        assert_eq!(
            target.binaries,
            BinariesSource::Prebuilt {
                image: "localhost:5000/hello-artifact:1".into()
            }
        );
        let empty = select(
            &spec,
            Some("gateway"),
            &args(&[("BUILDER_IMAGE", "")]),
            &NamedContexts::default(),
        )
        .unwrap();
        assert!(matches!(empty.binaries, BinariesSource::Compile { .. }));
    }

    #[test]
    fn unknown_target_lists_the_available_ones() {
        let spec = load(HELLO, "flotilla.yaml").unwrap();
        let error = select(&spec, Some("nope"), &args(&[]), &NamedContexts::default()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown target `nope`; available targets: hello, gateway, artifact"
        );
    }

    #[test]
    fn named_builder_context_is_an_image_or_a_local_dir() {
        assert_eq!(
            BinariesSource::from_named_context("docker-image://ghcr.io/o/b:1").unwrap(),
            BinariesSource::Prebuilt {
                image: "ghcr.io/o/b:1".into()
            }
        );
        assert_eq!(
            BinariesSource::from_named_context("local:builder").unwrap(),
            BinariesSource::Local {
                name: "builder".into()
            }
        );
        let error = BinariesSource::from_named_context("git://x").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("option context:builder: `git://x` is not supported"),
            "{error}"
        );
    }

    #[test]
    fn named_builder_context_wins_over_builder_image() {
        let spec = load(HELLO, "flotilla.yaml").unwrap();
        let values = args(&[("BUILDER_IMAGE", "localhost:5000/hello-artifact:1")]);
        let target = select(
            &spec,
            None,
            &values,
            &NamedContexts::new([("builder", "local:bin")]),
        )
        .unwrap();
        assert_eq!(
            target.binaries,
            BinariesSource::Local { name: "bin".into() }
        );
    }

    #[test]
    fn contexts_named_after_the_base_and_the_toolchain_replace_them() {
        let spec = load(HELLO, "flotilla.yaml").unwrap();
        let named = NamedContexts::new([
            (
                "debian:bookworm-slim",
                "docker-image://localhost:5000/debian:pinned",
            ),
            (
                "rust:1-bookworm",
                "docker-image://localhost:5000/rust:pinned",
            ),
            ("busybox", "local:busybox"),
        ]);
        let target = select(&spec, Some("gateway"), &args(&[]), &named).unwrap();
        assert_eq!(target.base_image(), Some("localhost:5000/debian:pinned"));
        assert_eq!(
            target.binaries,
            BinariesSource::Compile {
                toolchain: "localhost:5000/rust:pinned".into()
            }
        );
        let error = select(
            &spec,
            Some("gateway"),
            &args(&[]),
            &NamedContexts::new([("debian:bookworm-slim", "local:debian")]),
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("option context:debian:bookworm-slim: `local:debian` cannot"),
            "{error}"
        );
    }

    #[test]
    fn invalid_builder_image_names_the_option() {
        let spec = load(HELLO, "flotilla.yaml").unwrap();
        let error = select(
            &spec,
            None,
            &args(&[("BUILDER_IMAGE", "Bad Ref")]),
            &NamedContexts::default(),
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("option build-arg:BUILDER_IMAGE: invalid image reference `Bad Ref`"),
            "{error}"
        );
    }
}
