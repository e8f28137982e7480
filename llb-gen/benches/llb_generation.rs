//! P5: how long spec → LLB takes for a synthetic 50-variant spec shaped like openab's
//! (an abstract base with packages, variants that extend it with run steps, env and binaries).

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use llb_gen::llb::SourceFile;
use llb_gen::load;
use llb_gen::plan::{self, BuildRequest};
use llb_gen::platform::Platform;
use llb_gen::resolve::ArgValues;

const VARIANTS: usize = 50;

/// A spec with `VARIANTS` variants, each extending one abstract base.
fn synthetic_spec() -> String {
    let mut spec = String::from(
        "version: 1\nargs: { NODE_VERSION: '22' }\nbuilder:\n  image: rust:1-bookworm\n  cargo: { features: [unified] }\n  binaries: [openab, openab-agent]\nvariants:\n  base:\n    abstract: true\n    from: debian:bookworm-slim\n    packages: [ca-certificates, curl, tini]\n    run: [useradd --uid 1000 --create-home agent]\n    user: agent\n    entrypoint: [tini, --]\n    cmd: [openab, run, -c, /etc/openab/config.toml]\n    healthcheck: { test: openab health, interval: 30s }\n",
    );
    for index in 0..VARIANTS {
        spec.push_str(&format!(
            "  agent{index}:\n    extends: base\n    run:\n      - npm install -g agent-cli-{index}@1.${{NODE_VERSION}}.0\n      - curl -fsSL https://example.invalid/tool-$TARGETARCH-{index}.tar.gz -o /tmp/t.tgz\n    env: {{ OPENAB_AGENT_COMMAND: agent{index} }}\n    binaries: {{ openab: /usr/local/bin/openab, openab-agent: /usr/local/bin/openab-agent }}\n"
        ));
    }
    spec
}

/// Parses, validates, then plans, builds and marshals every variant once.
fn generate_all(source: &str) -> usize {
    let spec = load(source, "flotilla.yaml").expect("valid spec");
    let values = ArgValues::native(BTreeMap::new(), &Platform::linux("amd64"));
    (0..VARIANTS)
        .map(|index| {
            let target = Some(format!("agent{index}"));
            let request = BuildRequest::new(target, values.clone()).expect("request");
            let plan = plan::plan(&spec, &request).expect("target");
            let file = SourceFile {
                name: "flotilla.yaml",
                data: source.as_bytes(),
            };
            let built = plan.build(&plan.known_facts(), file).expect("graph");
            built.definition.def.len()
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let source = synthetic_spec();
    assert!(generate_all(&source) > VARIANTS, "every variant has ops");
    c.bench_function("llb: 50-variant spec, every target", |b| {
        b.iter(|| generate_all(black_box(&source)))
    });
    c.bench_function("parse + validate: 50-variant spec", |b| {
        b.iter(|| {
            load(black_box(&source), "flotilla.yaml").map(|spec| spec.variants.value.iter().count())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
