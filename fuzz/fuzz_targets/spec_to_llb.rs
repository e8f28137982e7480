//! Any bytes → parse, validate, then every target resolved, built and marshaled, both compiled
//! and from a prebuilt builder: an error is fine, a panic is a bug.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use llb_gen::cache_keys::CacheNamespace;
use llb_gen::graph::{self, BuildFacts};
use llb_gen::llb::{MarshalOptions, SourceFile, marshal};
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
    let platform = Platform::linux("amd64");
    let facts = BuildFacts {
        platform: platform.clone(),
        build_platform: Platform::linux("arm64"),
        session_id: Some("fuzz".to_owned()),
        toolchain_env: None,
        context_excludes: vec!["target".to_owned()],
        manifests: BTreeMap::from([("Cargo.toml".to_owned(), MANIFEST.to_owned())]),
        base_config: None,
        cache_namespace: CacheNamespace::default(),
    };
    let prebuilt = BTreeMap::from([(
        "BUILDER_IMAGE".to_owned(),
        "localhost:5000/app-artifact:1".to_owned(),
    )]);
    for args in [BTreeMap::new(), prebuilt] {
        let values = ArgValues {
            build_args: args,
            target_platform: platform.clone(),
            build_platform: facts.build_platform.clone(),
        };
        for info in target::list(&spec) {
            for name in [info.name.clone(), format!("check:{}", info.name)] {
                let Ok(target) = target::select(&spec, Some(&name), &values, None) else {
                    continue;
                };
                let _ = graph::binaries_root(&spec, &target.binaries, &facts);
                if let Ok(graph) = graph::build(&spec, &target, &facts) {
                    let file = SourceFile {
                        name: "flotilla.yaml",
                        data,
                    };
                    let options = MarshalOptions {
                        source: Some(file),
                        no_cache: None,
                    };
                    let _ = dot::render(&marshal(&graph.state, options));
                }
            }
        }
    }
});
