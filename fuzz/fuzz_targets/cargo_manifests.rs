//! Any bytes as the build context's Cargo manifests (which the client sends) → the stubs of the
//! dependency layer and the compile graph of every target of a two-project spec: an error is
//! fine, a panic is a bug. The input is pieces separated by NUL bytes, each a context-relative
//! path on its first line and the file's content after it.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use llb_gen::graph::BuildFacts;
use llb_gen::llb::SourceFile;
use llb_gen::plan::{self, BuildRequest};
use llb_gen::platform::Platform;
use llb_gen::resolve::ArgValues;
use llb_gen::{load, stubs, target};

/// A spec with a root project and a second one at `tool/`.
const SPEC: &str = include_str!("../../tests/fixtures/multi/flotilla.yaml");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let manifests: BTreeMap<String, String> = text
        .split('\0')
        .filter_map(|piece| piece.split_once('\n'))
        .map(|(path, content)| (path.to_owned(), content.to_owned()))
        .collect();
    for project in [".", "tool", ""] {
        let _ = stubs::stubs(&manifests, project);
    }
    let spec = load(SPEC, "flotilla.yaml").expect("the fixture spec is valid");
    let values = ArgValues::native(BTreeMap::new(), &Platform::linux("amd64"));
    for info in target::list(&spec) {
        let request = BuildRequest::new(Some(info.name), values.clone()).expect("no build args");
        let Ok(plan) = plan::plan(&spec, &request) else {
            continue;
        };
        let facts = BuildFacts {
            manifests: manifests.clone(),
            ..plan.known_facts()
        };
        let source = SourceFile {
            name: "flotilla.yaml",
            data: SPEC.as_bytes(),
        };
        let _ = plan.build(&facts, source);
    }
});
