//! The `builder:` section: how the workspace is compiled when no prebuilt builder is given.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use super::forms::Scalar;
use super::{NamedMap, Spanned, unspanned};

/// Where binaries sit in a prebuilt image unless the spec says otherwise: Flotilla's artifact.
pub const DEFAULT_PREBUILT_PATH: &str = "/flotilla/bin";

/// The compile side: a toolchain image and one or more cargo projects.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Builder {
    /// Toolchain image, used only when compiling.
    #[schemars(with = "Scalar")]
    pub image: Spanned<String>,
    /// Where the build context sits inside the toolchain image.
    #[serde(default = "default_workdir")]
    #[schemars(with = "Scalar")]
    pub workdir: Spanned<String>,
    /// Directory of a prebuilt builder image that holds the binaries (`/build/target/release`
    /// for a full builder image laid out like a Dockerfile build).
    #[serde(default = "default_prebuilt_path")]
    #[schemars(with = "Scalar")]
    pub prebuilt_path: Spanned<String>,
    /// Cargo settings of the project at the context root.
    #[serde(default)]
    pub cargo: Cargo,
    /// Binaries of the project at the context root.
    #[serde(default = "no_binaries")]
    #[schemars(with = "Vec<Binary>")]
    pub binaries: Spanned<Vec<Spanned<Binary>>>,
    /// Files or directories of the context (paths relative to it) that the build of the project
    /// at the context root reads besides its packages' sources, which are all it is sent
    /// otherwise: a build script's inputs, `include_str!` files. `.` sends the whole context.
    #[serde(default)]
    #[schemars(with = "Vec<Scalar>")]
    pub sources: Vec<Spanned<String>>,
    /// Further cargo projects, each its own workspace with its own Cargo.lock, by path.
    #[serde(default)]
    pub projects: NamedMap<Project>,
    /// How to cross-compile for a target platform (`linux/arm64`) from the build platform;
    /// without an entry, a foreign platform compiles in its own toolchain image (emulated).
    #[serde(default)]
    pub cross: NamedMap<Cross>,
}

/// Cross-compiling for one target platform.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cross {
    /// The rust target triple (`cargo build --target`), e.g. `aarch64-unknown-linux-gnu`.
    #[schemars(with = "Scalar")]
    pub target: Spanned<String>,
    /// The linker for that target (`CARGO_TARGET_<TRIPLE>_LINKER`), e.g. `aarch64-linux-gnu-gcc`.
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub linker: Option<Spanned<String>>,
    /// Further environment of cargo for that target (`CC_aarch64_unknown_linux_gnu`…).
    #[serde(default)]
    pub env: NamedMap<String>,
}

/// A cargo project in a subdirectory of the context.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Cargo settings.
    #[serde(default)]
    pub cargo: Cargo,
    /// Binaries it builds.
    #[schemars(with = "Vec<Binary>")]
    pub binaries: Spanned<Vec<Spanned<Binary>>>,
    /// Files or directories of the context (paths relative to the context, not to the project)
    /// that its build reads besides its packages' sources, as `builder.sources` is for the
    /// project at the context root.
    #[serde(default)]
    #[schemars(with = "Vec<Scalar>")]
    pub sources: Vec<Spanned<String>>,
}

/// The cargo invocation of one project.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cargo {
    /// Cargo profile (`--profile`).
    #[serde(default = "default_profile")]
    #[schemars(with = "Scalar")]
    pub profile: Spanned<String>,
    /// Features to enable (`--features`).
    #[serde(default)]
    #[schemars(with = "Vec<Scalar>")]
    pub features: Vec<Spanned<String>>,
    /// Build with `--no-default-features`.
    #[serde(default)]
    pub no_default_features: bool,
    /// Build with `--locked`, failing when Cargo.lock is stale.
    #[serde(default = "default_true")]
    pub locked: bool,
    /// Extra arguments for `cargo build`, but for the options the spec has fields for
    /// (`--target`, `--target-dir`, `--profile`, `--release`, `--manifest-path`, `--locked`).
    #[serde(default)]
    #[schemars(with = "Vec<Scalar>")]
    pub args: Vec<Spanned<String>>,
    /// Environment of the cargo process (`RUSTFLAGS`, `CARGO_PROFILE_RELEASE_LTO`…).
    #[serde(default)]
    pub env: NamedMap<String>,
}

impl Default for Cargo {
    fn default() -> Self {
        Self {
            profile: default_profile(),
            features: Vec::new(),
            no_default_features: false,
            locked: true,
            args: Vec::new(),
            env: NamedMap::default(),
        }
    }
}

/// A binary to build: `name`, or `{name, package}` to select its package (`-p`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary {
    /// The binary (cargo `--bin`).
    pub name: String,
    /// The package that has it, when the name alone is ambiguous.
    pub package: Option<String>,
}

/// One cargo project as the compile step sees it.
#[derive(Debug, Clone, Copy)]
pub struct ProjectRef<'s> {
    /// Path relative to the context, `.` for the root.
    pub path: &'s str,
    /// Cargo settings.
    pub cargo: &'s Cargo,
    /// Binaries it builds.
    pub binaries: &'s [Spanned<Binary>],
    /// Context paths its build reads besides its packages' sources.
    pub sources: &'s [Spanned<String>],
}

impl Builder {
    /// Every project that builds binaries: the root one first, then `projects` as written.
    pub fn projects(&self) -> Vec<ProjectRef<'_>> {
        let root = ProjectRef {
            path: ".",
            cargo: &self.cargo,
            binaries: &self.binaries.value,
            sources: &self.sources,
        };
        let others = self.projects.iter().map(|(path, project)| ProjectRef {
            path: &path.value,
            cargo: &project.cargo,
            binaries: &project.binaries.value,
            sources: &project.sources,
        });
        std::iter::once(root)
            .chain(others)
            .filter(|project| !project.binaries.is_empty())
            .collect()
    }

    /// Every binary of every project, in order.
    pub fn binaries(&self) -> impl Iterator<Item = &Spanned<Binary>> {
        self.binaries.value.iter().chain(
            self.projects
                .iter()
                .flat_map(|(_, p)| p.binaries.value.iter()),
        )
    }
}

impl<'de> Deserialize<'de> for Binary {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BinaryVisitor;

        impl<'de> Visitor<'de> for BinaryVisitor {
            type Value = Binary;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a binary name, or a mapping {name, package}")
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<Binary, E> {
                Ok(Binary {
                    name: name.to_owned(),
                    package: None,
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Binary, A::Error> {
                let (mut name, mut package) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "name" => name = Some(map.next_value()?),
                        "package" => package = Some(map.next_value()?),
                        other => return Err(de::Error::unknown_field(other, &["name", "package"])),
                    }
                }
                Ok(Binary {
                    name: name.ok_or_else(|| de::Error::missing_field("name"))?,
                    package,
                })
            }
        }

        deserializer.deserialize_any(BinaryVisitor)
    }
}

/// What the hand-written `Deserialize` of `Binary` accepts.
impl JsonSchema for Binary {
    fn schema_name() -> Cow<'static, str> {
        "Binary".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A binary name, or {name, package} to build it with `-p package`.",
            "anyOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "package": {"type": "string"},
                    },
                    "required": ["name"],
                    "additionalProperties": false,
                },
            ],
        })
    }
}

fn default_workdir() -> Spanned<String> {
    unspanned("/build".to_owned())
}

fn default_prebuilt_path() -> Spanned<String> {
    unspanned(DEFAULT_PREBUILT_PATH.to_owned())
}

fn no_binaries() -> Spanned<Vec<Spanned<Binary>>> {
    unspanned(Vec::new())
}

fn default_profile() -> Spanned<String> {
    unspanned("release".to_owned())
}

fn default_true() -> bool {
    true
}
