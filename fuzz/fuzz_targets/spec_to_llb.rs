//! Any bytes → parse, validate, then every target planned, built and marshaled, both compiled
//! and from a prebuilt builder: an error is fine, a panic is a bug.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use llb_gen::graph::{self, BuildFacts};
use llb_gen::llb::SourceFile;
use llb_gen::plan::{self, BuildRequest};
use llb_gen::platform::Platform;
use llb_gen::resolve::ArgValues;
use llb_gen::{dot, load, target};

/// The hello example's root manifest, so compile targets also get a dependency layer.
const MANIFEST: &str = include_str!("../../examples/hello/Cargo.toml");

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(spec) = load(source, "flotilla.yaml") else {
        return;
    };
    let prebuilt = BTreeMap::from([(
        "BUILDER_IMAGE".to_owned(),
        "localhost:5000/app-artifact:1".to_owned(),
    )]);
    for args in [BTreeMap::new(), prebuilt] {
        let values = ArgValues {
            build_args: args,
            target_platform: Platform::linux("amd64"),
            build_platform: Platform::linux("arm64"),
        };
        for info in target::list(&spec) {
            for name in [info.name.clone(), format!("check:{}", info.name)] {
                let Ok(request) = BuildRequest::new(Some(name), values.clone()) else {
                    continue;
                };
                let Ok(plan) = plan::plan(&spec, &request) else {
                    continue;
                };
                let facts = BuildFacts {
                    session_id: Some("fuzz".to_owned()),
                    context_excludes: vec!["target".to_owned()],
                    manifests: BTreeMap::from([("Cargo.toml".to_owned(), MANIFEST.to_owned())]),
                    ..plan.known_facts()
                };
                let _ = graph::binaries_root(&spec, &plan.target, &facts);
                let file = SourceFile {
                    name: "flotilla.yaml",
                    data,
                };
                if let Ok(built) = plan.build(&facts, file) {
                    let _ = dot::render(&built.definition);
                }
            }
        }
    }
});
