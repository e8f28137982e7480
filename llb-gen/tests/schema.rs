//! The JSON Schema of the spec: the committed copy is what `llb-gen schema` prints, every
//! example spec names it in its modeline and passes it, and it rejects an unknown key as the
//! parser does.

use std::path::{Path, PathBuf};

use serde_json::Value;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const MODELINE: &str = "# yaml-language-server: $schema=../../schema/flotilla.schema.json";

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&llb_gen::schema::text()).unwrap();
    jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
}

/// Every `flotilla.yaml` one directory below `dir`.
fn specs_under(dir: &str) -> Vec<PathBuf> {
    let mut specs: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join(dir))
        .unwrap()
        .map(|entry| entry.unwrap().path().join("flotilla.yaml"))
        .filter(|path| path.is_file())
        .collect();
    specs.sort();
    specs
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap()
}

fn errors(validator: &jsonschema::Validator, text: &str) -> Vec<String> {
    validator
        .iter_errors(&yaml(text))
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

#[test]
fn committed_schema_is_the_generated_one() {
    let committed =
        std::fs::read_to_string(Path::new(ROOT).join("schema/flotilla.schema.json")).unwrap();
    assert!(
        committed == llb_gen::schema::text(),
        "schema/flotilla.schema.json is stale: run `cargo run -p llb-gen -- schema > schema/flotilla.schema.json`"
    );
}

#[test]
fn examples_name_the_schema_on_their_second_line() {
    let examples = specs_under("examples");
    assert!(examples.len() >= 2, "{examples:?}");
    for path in examples {
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().take(2).collect();
        assert!(lines[0].starts_with("# syntax="), "{}", path.display());
        assert_eq!(lines[1], MODELINE, "{}", path.display());
    }
}

#[test]
fn every_example_and_fixture_spec_passes_the_schema() {
    let validator = validator();
    let specs = [specs_under("examples"), specs_under("tests/fixtures")].concat();
    assert!(specs.len() >= 3, "{specs:?}");
    for path in specs {
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            errors(&validator, &text),
            Vec::<String>::new(),
            "{}",
            path.display()
        );
    }
}

#[test]
fn unknown_keys_and_wrong_forms_fail_like_the_parser() {
    let validator = validator();
    let spec = |variant: &str| {
        format!(
            "version: 1\nbuilder: {{image: r, binaries: [a, {{name: b, package: p}}]}}\nvariants:\n  v:\n{variant}"
        )
    };
    let good = spec(
        "    extends: base\n    run: [make, {run: [a, b], cache: [{target: /c, sharing: locked}]}]\n    binaries: {a: /bin/a, b: {path: /bin/b, mode: '0700'}}\n    healthcheck: {test: [NONE]}\n",
    );
    assert_eq!(errors(&validator, &good), Vec::<String>::new());
    for (variant, path) in [
        ("    entrpoint: [a]\n", "/variants/v"),
        ("    run: [{run: make, evn: {A: b}}]\n", "/variants/v/run/0"),
        (
            "    run: [{run: x, cache: [{target: /c, sharing: private}]}]\n",
            "/variants/v/run/0",
        ),
        (
            "    binaries: {a: {path: /a, mod: '0700'}}\n",
            "/variants/v/binaries/a",
        ),
        ("    extends: {a: b}\n", "/variants/v/extends"),
    ] {
        let found = errors(&validator, &spec(variant));
        assert!(
            found.iter().any(|error| error.starts_with(path)),
            "{variant:?}: {found:?}"
        );
        assert!(llb_gen::spec::parse(&spec(variant), "f.yaml").is_err());
    }
    let version_2 = good.replace("version: 1", "version: 2");
    assert!(!errors(&validator, &version_2).is_empty());
    let bad_binary =
        "version: 1\nbuilder: {image: r, binaries: [{name: a, pkg: p}]}\nvariants: {}\n";
    assert!(!errors(&validator, bad_binary).is_empty());
}
