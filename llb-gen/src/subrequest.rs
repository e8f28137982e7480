//! BuildKit subrequests (`requestid`): what `docker buildx build --call targets|outline` and
//! `--print` ask a frontend instead of a build. Each answer is JSON for tools and a text table
//! for people, in the shapes of docker/dockerfile's (`frontend/subrequests` in BuildKit).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::resolve;
use crate::spec::{ARTIFACT_TARGET, NamedMap, Spanned, Spec};
use crate::target::{self, BUILDER_IMAGE_ARG};

/// Lists the subrequests this frontend answers.
pub const DESCRIBE: &str = "frontend.subrequests.describe";
/// The build args of one target.
pub const OUTLINE: &str = "frontend.outline";
/// The buildable targets.
pub const TARGETS: &str = "frontend.targets";
/// Version of every answer; buildx falls back to `result.txt` for newer ones.
pub const VERSION: &str = "1.0.0";

/// A subrequest's answer: BuildKit's `result.json` and `result.txt` metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Machine-readable answer.
    pub json: String,
    /// The same as a table.
    pub text: String,
}

#[derive(Serialize)]
struct Named {
    name: &'static str,
    description: &'static str,
}

#[derive(Serialize)]
struct Request {
    name: &'static str,
    version: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    description: &'static str,
    opts: Vec<Named>,
    metadata: Vec<Named>,
}

const METADATA: [Named; 2] = [
    Named {
        name: "result.json",
        description: "",
    },
    Named {
        name: "result.txt",
        description: "",
    },
];

/// The subrequests this frontend answers (`frontend.subrequests.describe`).
pub fn describe() -> Answer {
    let request = |name, description, opts| Request {
        name,
        version: VERSION,
        kind: "rpc",
        description,
        opts,
        metadata: METADATA.into(),
    };
    let target = || Named {
        name: "target",
        description: "target to outline (default: the first variant)",
    };
    let requests = vec![
        request(DESCRIBE, "List available subrequests", Vec::new()),
        request(OUTLINE, "List the build args of the target", vec![target()]),
        request(TARGETS, "List the targets of the spec", Vec::new()),
    ];
    let rows = requests.iter().map(|r| {
        vec![
            r.name.to_owned(),
            r.version.to_owned(),
            r.description.into(),
        ]
    });
    Answer {
        json: to_json(&requests),
        text: table(["NAME", "VERSION", "DESCRIPTION"], rows),
    }
}

#[derive(Serialize)]
struct TargetsJson {
    targets: Vec<TargetJson>,
}

#[derive(Serialize)]
struct TargetJson {
    name: String,
    default: bool,
    description: String,
    base: String,
    binaries: Vec<String>,
    args: Vec<String>,
}

/// Every buildable target with its base, binaries and build args (`frontend.targets`).
pub fn targets(spec: &Spec) -> Answer {
    let targets: Vec<TargetJson> = target::list(spec)
        .into_iter()
        .map(|info| TargetJson {
            args: arg_defaults(spec, &info.name).into_keys().collect(),
            name: info.name,
            default: info.default,
            description: info.description,
            base: info.base,
            binaries: info.binaries,
        })
        .collect();
    let rows = targets.iter().map(|t| {
        let name = if t.default {
            format!("{} (default)", t.name)
        } else {
            t.name.clone()
        };
        vec![
            name,
            t.base.clone(),
            t.binaries.join(","),
            t.args.join(","),
            t.description.clone(),
        ]
    });
    Answer {
        text: table(["TARGET", "BASE", "BINARIES", "ARGS", "DESCRIPTION"], rows),
        json: to_json(&TargetsJson { targets }),
    }
}

#[derive(Serialize)]
struct OutlineJson {
    name: String,
    description: String,
    args: Vec<ArgJson>,
}

#[derive(Serialize)]
struct ArgJson {
    name: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'static str,
    value: String,
}

/// The build args of target `name`, each with its value for this build: the `--build-arg`
/// when given, else the default as written (`frontend.outline`).
pub fn outline(spec: &Spec, name: &str, build_args: &BTreeMap<String, String>) -> Answer {
    let description = target::list(spec)
        .into_iter()
        .find(|info| info.name == name)
        .map(|info| info.description)
        .unwrap_or_default();
    let mut args: Vec<ArgJson> = arg_defaults(spec, name)
        .into_iter()
        .map(|(arg, default)| ArgJson {
            value: build_args.get(&arg).cloned().unwrap_or(default),
            name: arg,
            description: "",
        })
        .collect();
    args.push(ArgJson {
        name: BUILDER_IMAGE_ARG.to_owned(),
        description: "prebuilt builder image; when set, nothing is compiled",
        value: build_args
            .get(BUILDER_IMAGE_ARG)
            .cloned()
            .unwrap_or_default(),
    });
    let rows = args
        .iter()
        .map(|arg| vec![arg.name.clone(), arg.value.clone(), arg.description.into()]);
    let text = format!(
        "TARGET: {name}\n{}\n{}",
        if description.is_empty() {
            String::new()
        } else {
            format!("DESCRIPTION: {description}\n")
        },
        table(["BUILD ARG", "VALUE", "DESCRIPTION"], rows)
    );
    Answer {
        json: to_json(&OutlineJson {
            name: name.to_owned(),
            description,
            args,
        }),
        text,
    }
}

/// The args target `name` may use, by name, with their defaults as written.
fn arg_defaults(spec: &Spec, name: &str) -> BTreeMap<String, String> {
    let own = match name {
        ARTIFACT_TARGET => NamedMap::default(),
        _ => resolve::merged(spec, name)
            .map(|variant| variant.args)
            .unwrap_or_default(),
    };
    let value = |default: &Option<Spanned<String>>| {
        default
            .as_ref()
            .map(|d| d.value.clone())
            .unwrap_or_default()
    };
    spec.args
        .iter()
        .chain(own.iter())
        .map(|(arg, default)| (arg.value.clone(), value(default)))
        .collect()
}

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// Left-aligned columns, two spaces apart, without trailing blanks.
fn table<const N: usize>(header: [&str; N], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = std::iter::once(header.map(str::to_owned).to_vec())
        .chain(rows)
        .collect();
    let widths: Vec<usize> = (0..N)
        .map(|column| rows.iter().map(|row| row[column].len()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:width$}"))
                .collect();
            format!("{}\n", cells.join("  ").trim_end())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load;

    const HELLO: &str = include_str!("../../examples/hello/flotilla.yaml");
    const VARIANTS: &str = include_str!("../../examples/variants/flotilla.yaml");

    fn json(answer: &Answer) -> serde_json::Value {
        serde_json::from_str(&answer.json).unwrap()
    }

    #[test]
    fn describe_lists_the_three_subrequests() {
        let answer = describe();
        let names: Vec<String> = json(&answer)
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                assert_eq!(r["type"], "rpc");
                assert_eq!(r["version"], VERSION);
                r["name"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(names, [DESCRIBE, OUTLINE, TARGETS]);
        assert!(answer.text.starts_with("NAME "), "{}", answer.text);
    }

    #[test]
    fn targets_have_base_binaries_and_args() {
        let spec = load(HELLO, "flotilla.yaml").unwrap();
        let answer = targets(&spec);
        let value = json(&answer);
        let list = value["targets"].as_array().unwrap();
        assert_eq!(list[0]["name"], "hello");
        assert_eq!(list[0]["default"], true);
        assert_eq!(list[0]["base"], "debian:bookworm-slim");
        assert_eq!(list[0]["binaries"], serde_json::json!(["hello"]));
        assert_eq!(list[2]["name"], "artifact");
        assert_eq!(list[2]["base"], "scratch");
        let lines: Vec<&str> = answer.text.lines().collect();
        assert!(lines[0].starts_with("TARGET "), "{}", answer.text);
        assert!(lines[1].starts_with("hello (default)  debian:bookworm-slim  hello"));
    }

    #[test]
    fn outline_gives_build_arg_values_over_defaults() {
        let spec = load(VARIANTS, "flotilla.yaml").unwrap();
        let name = target::list(&spec)[0].name.clone();
        let defaults = arg_defaults(&spec, &name);
        let (arg, _) = defaults.iter().next().expect("the example declares args");
        let given = BTreeMap::from([(arg.clone(), "given".to_owned())]);
        let value = json(&outline(&spec, &name, &given));
        assert_eq!(value["name"], name.as_str());
        let args = value["args"].as_array().unwrap();
        let found = args.iter().find(|a| a["name"] == arg.as_str()).unwrap();
        assert_eq!(found["value"], "given");
        let last = args.last().unwrap();
        assert_eq!(last["name"], BUILDER_IMAGE_ARG);
        assert!(last["description"].as_str().unwrap().contains("prebuilt"));
    }

    #[test]
    fn table_aligns_columns() {
        let text = table(
            ["A", "BB"],
            [vec!["long".to_owned(), "x".to_owned()]].into_iter(),
        );
        assert_eq!(text, "A     BB\nlong  x\n");
    }
}
