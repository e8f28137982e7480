//! Property tests: specs generated from typed values (variants with images, binaries,
//! packages, run steps, env, `extends` chains and build args) always validate, and every
//! target gives a well-formed Definition whose bytes do not depend on the run, no smaller than
//! the size its graph knew before it was marshaled.

use std::collections::{BTreeMap, BTreeSet};

use llb_gen::graph::BuildFacts;
use llb_gen::llb::SourceFile;
use llb_gen::pb;
use llb_gen::plan::{self, BuildRequest};
use llb_gen::platform::Platform;
use llb_gen::resolve::ArgValues;
use llb_gen::spec::Spec;
use llb_gen::{Error, load, target};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;
use prost::Message;
use serde_json::{Value, json};

mod common;
use common::assert_well_formed;

/// Base images of every reference form the parser normalizes.
const IMAGES: [&str; 4] = [
    "debian:bookworm-slim",
    "busybox",
    "localhost:5000/base/runtime:1.2",
    "ghcr.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
];

/// One run step: a shell string that may use a build arg, or an argv with its own env.
#[derive(Clone, Debug)]
enum Step {
    Shell {
        word: String,
        arg: Option<Index>,
    },
    Argv {
        argv: Vec<String>,
        env: BTreeMap<String, String>,
    },
}

/// One variant; `extends` and `binaries` pick among earlier variants and built binaries.
#[derive(Clone, Debug)]
struct Variant {
    is_abstract: bool,
    extends: Vec<Index>,
    from: Index,
    binaries: Vec<Index>,
    packages: Vec<String>,
    run: Vec<Step>,
    env: BTreeMap<String, String>,
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    user: Option<String>,
    workdir: Option<String>,
}

/// A whole spec: build args with defaults, the builder's binaries and features, variants.
#[derive(Clone, Debug)]
struct GeneratedSpec {
    args: BTreeMap<String, String>,
    binaries: BTreeSet<String>,
    features: Vec<String>,
    variants: Vec<(String, Variant)>,
}

fn word() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,7}"
}

fn env() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map("[A-Z][A-Z0-9_]{0,7}", "[a-zA-Z0-9/.:=-]{0,10}", 0..3)
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (word(), any::<Option<Index>>()).prop_map(|(word, arg)| Step::Shell { word, arg }),
        (prop::collection::vec(word(), 1..4), env())
            .prop_map(|(argv, env)| Step::Argv { argv, env }),
    ]
}

fn variant() -> impl Strategy<Value = Variant> {
    let argv = || prop::option::of(prop::collection::vec(word(), 1..3));
    (
        (
            any::<bool>(),
            prop::collection::vec(any::<Index>(), 0..3),
            any::<Index>(),
            prop::collection::vec(any::<Index>(), 0..3),
            prop::collection::vec("[a-z][a-z0-9-]{1,8}", 0..3),
            prop::collection::vec(step(), 0..4),
        ),
        (
            env(),
            argv(),
            argv(),
            prop::option::of(prop_oneof![Just("app"), Just("1001:1001")]),
            prop::option::of(prop_oneof![Just("/srv/app"), Just("/")]),
        ),
    )
        .prop_map(
            |(
                (is_abstract, extends, from, binaries, packages, run),
                (env, entrypoint, cmd, user, workdir),
            )| Variant {
                is_abstract,
                extends,
                from,
                binaries,
                packages,
                run,
                env,
                entrypoint,
                cmd,
                user: user.map(str::to_owned),
                workdir: workdir.map(str::to_owned),
            },
        )
}

fn spec() -> impl Strategy<Value = GeneratedSpec> {
    (
        prop::collection::btree_map("[A-Z][A-Z0-9_]{0,5}", "[a-z0-9.]{0,6}", 0..3),
        prop::collection::btree_set("[a-z][a-z0-9-]{0,6}", 1..4),
        prop::collection::vec(word(), 0..3),
        // At most six characters: never the reserved name `artifact`.
        prop::collection::btree_set("[a-z][a-z0-9]{0,5}", 1..5),
    )
        .prop_flat_map(|(args, binaries, features, names)| {
            let count = names.len();
            (
                Just((args, binaries, features, names)),
                prop::collection::vec(variant(), count),
            )
        })
        .prop_map(|((args, binaries, features, names), variants)| {
            let mut variants: Vec<(String, Variant)> = names.into_iter().zip(variants).collect();
            // One variant at least must be buildable.
            variants[0].1.is_abstract = false;
            GeneratedSpec {
                args,
                binaries,
                features,
                variants,
            }
        })
}

/// Picks the items `indexes` point at, each once, in list order.
fn pick<'a, T>(items: &'a [T], indexes: &[Index]) -> Vec<&'a T> {
    if items.is_empty() {
        return Vec::new();
    }
    let chosen: BTreeSet<usize> = indexes
        .iter()
        .map(|index| index.index(items.len()))
        .collect();
    chosen.into_iter().map(|index| &items[index]).collect()
}

impl GeneratedSpec {
    /// The spec as text: JSON, which is YAML.
    fn render(&self) -> String {
        let args: Vec<&String> = self.args.keys().collect();
        let binaries: Vec<&String> = self.binaries.iter().collect();
        let names: Vec<&String> = self.variants.iter().map(|(name, _)| name).collect();
        let mut variants = serde_json::Map::new();
        for (position, (name, variant)) in self.variants.iter().enumerate() {
            let mut body = json!({
                "from": IMAGES[variant.from.index(IMAGES.len())],
                "binaries": pick(&binaries, &variant.binaries)
                    .into_iter()
                    .map(|binary| (binary.to_string(), json!(format!("/usr/local/bin/{binary}"))))
                    .collect::<serde_json::Map<_, _>>(),
                "packages": variant.packages,
                "env": variant.env,
                "run": variant.run.iter().map(|step| step.render(&args)).collect::<Vec<_>>(),
            });
            // Earlier variants only, so `extends` never makes a cycle.
            let parents = pick(&names[..position], &variant.extends);
            if !parents.is_empty() {
                body["extends"] = json!(parents);
            }
            for (key, value) in [
                ("abstract", variant.is_abstract.then_some(json!(true))),
                ("entrypoint", variant.entrypoint.as_ref().map(|v| json!(v))),
                ("cmd", variant.cmd.as_ref().map(|v| json!(v))),
                ("user", variant.user.as_ref().map(|v| json!(v))),
                ("workdir", variant.workdir.as_ref().map(|v| json!(v))),
            ] {
                if let Some(value) = value {
                    body[key] = value;
                }
            }
            variants.insert(name.clone(), body);
        }
        let spec = json!({
            "version": 1,
            "args": self.args,
            "builder": {
                "image": "rust:1-bookworm",
                "cargo": { "features": self.features },
                "binaries": self.binaries,
            },
            "variants": variants,
        });
        serde_json::to_string_pretty(&spec).expect("JSON")
    }
}

impl Step {
    fn render(&self, args: &[&String]) -> Value {
        match self {
            Step::Shell { word, arg } => {
                let arg = match (arg, args.is_empty()) {
                    (Some(index), false) => format!(" ${{{}}}", args[index.index(args.len())]),
                    _ => String::new(),
                };
                json!(format!("echo {word}{arg} $$HOME"))
            }
            Step::Argv { argv, env } => json!({ "run": argv, "env": env }),
        }
    }
}

/// Every target of `source`, compiled and from a prebuilt builder, as marshaled bytes.
fn definitions(source: &str) -> Vec<(String, Vec<u8>, pb::Definition)> {
    let spec = load(source, "flotilla.yaml").unwrap_or_else(|error| panic!("{error}\n{source}"));
    let prebuilt = BTreeMap::from([(
        "BUILDER_IMAGE".to_owned(),
        "localhost:5000/app-artifact:1".to_owned(),
    )]);
    let mut out = Vec::new();
    for args in [BTreeMap::new(), prebuilt] {
        let values = ArgValues::native(args, &Platform::linux("amd64"));
        for info in target::list(&spec) {
            let build = || {
                planned(&spec, source, &info.name, &values)
                    .unwrap_or_else(|error| panic!("{}: {error}\n{source}", info.name))
            };
            let definition = build();
            let bytes = definition.encode_to_vec();
            assert_eq!(build().encode_to_vec(), bytes, "{}: built twice", info.name);
            out.push((info.name, bytes, definition));
        }
    }
    out
}

/// The Definition llb-gen's plan builds for target `name` of `spec` (whose text is `source`).
fn planned(
    spec: &Spec,
    source: &str,
    name: &str,
    values: &ArgValues,
) -> Result<pb::Definition, Error> {
    let request = BuildRequest::new(Some(name.to_owned()), values.clone())?;
    let plan = plan::plan(spec, &request)?;
    let facts = BuildFacts {
        session_id: Some("session".to_owned()),
        ..plan.known_facts()
    };
    let source = SourceFile {
        name: "flotilla.yaml",
        data: source.as_bytes(),
    };
    Ok(plan.build(&facts, source)?.definition)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        // A failing case is saved next to this file, as `generated_specs.regressions`.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn generated_specs_give_well_formed_deterministic_definitions(generated in spec()) {
        let source = generated.render();
        let first = definitions(&source);
        let buildable = generated.variants.iter().filter(|(_, v)| !v.is_abstract).count();
        // Each buildable variant and the artifact, compiled and prebuilt.
        prop_assert_eq!(first.len(), 2 * (buildable + 1));
        for (_, _, definition) in &first {
            assert_well_formed(definition);
        }
        // From a fresh parse of the same text: the same bytes, target by target.
        let again = definitions(&source);
        let bytes = |all: &[(String, Vec<u8>, pb::Definition)]| {
            all.iter().map(|(name, bytes, _)| (name.clone(), bytes.clone())).collect::<Vec<_>>()
        };
        prop_assert_eq!(bytes(&first), bytes(&again));
    }
}
