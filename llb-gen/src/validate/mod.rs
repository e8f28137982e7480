//! Rules a parsed spec must follow beyond its shape: versions, names, references, paths, and
//! binaries that variants take but the builder does not make.

use crate::diagnostic::{Diagnostic, LineStarts, Position};
use crate::reference;
use crate::spec::{NamedMap, Spanned, Spec, position};
use crate::syntax;

mod builder;
mod variant;

pub use variant::{SCRATCH, read_variant};

/// The hint of every invalid image reference, the builder's and a variant's `from`.
pub(crate) const IMAGE_HINT: &str = "write an image reference such as `debian:bookworm-slim`";

/// The one spec version this frontend reads.
pub const SPEC_VERSION: u32 = 1;

/// Every rule the spec breaks, in file order.
pub fn validate(spec: &Spec, file: &str, source: &str) -> Vec<Diagnostic> {
    let mut errors = Errors::new(file, source);
    if spec.version.value != SPEC_VERSION {
        errors.at(
            position(&spec.version),
            format!("unsupported spec version {}", spec.version.value),
            Some(format!("this frontend reads `version: {SPEC_VERSION}`")),
        );
    }
    let built = builder::check(spec, &mut errors);
    variant::check(spec, &built, &mut errors);
    errors.found.sort_by_key(|diagnostic| diagnostic.position);
    // A parent's error shows once, not once per child that inherits it.
    errors.found.dedup();
    errors.found
}

pub(crate) struct Errors<'a> {
    file: &'a str,
    source: &'a str,
    lines: LineStarts,
    found: Vec<Diagnostic>,
}

impl<'a> Errors<'a> {
    pub(crate) fn new(file: &'a str, source: &'a str) -> Self {
        Self {
            file,
            source,
            lines: LineStarts::new(source),
            found: Vec::new(),
        }
    }

    pub(crate) fn at(&mut self, position: Position, message: String, hint: Option<String>) {
        let diagnostic = Diagnostic::at(self.file, self.source, &self.lines, position, message);
        self.found.push(match hint {
            Some(hint) => diagnostic.with_hint(hint),
            None => diagnostic,
        });
    }

    pub(crate) fn image_reference(&mut self, image: &Spanned<String>) {
        if let Err(error) = reference::normalize(&image.value) {
            self.at(
                position(image),
                error.to_string(),
                Some(IMAGE_HINT.to_owned()),
            );
        }
    }

    pub(crate) fn absolute_path(&mut self, path: &Spanned<String>, what: &str) {
        if !path.value.starts_with('/') {
            self.at(
                position(path),
                format!("{what} `{}` is not an absolute path", path.value),
                None,
            );
        }
    }

    /// The names of an `env` mapping: each must reach the process as the spec writes it.
    pub(crate) fn env_names<T>(&mut self, env: &NamedMap<T>) {
        for (name, _) in env.iter() {
            if let Err(reason) = syntax::env_name(&name.value) {
                self.at(
                    position(name),
                    format!(
                        "invalid environment variable name `{}`: {reason}",
                        name.value.escape_debug()
                    ),
                    Some("environment variable names are such as `RUST_LOG`".to_owned()),
                );
            }
        }
    }

    /// An error when `name` breaks `rule`, whose hint is the rule's own words.
    pub(crate) fn name(&mut self, position: Position, name: &str, what: &str, rule: &NameRule) {
        if !(rule.valid)(name) {
            self.at(
                position,
                format!("invalid {what} name `{name}`"),
                Some(format!("{what} names use {}", rule.made_of)),
            );
        }
    }
}

/// A rule for names with the words that state it, kept side by side so that a hint says
/// exactly what the check accepts.
pub(crate) struct NameRule {
    /// Whether a name follows the rule.
    valid: fn(&str) -> bool,
    /// What such names are made of, as the hint says it.
    made_of: &'static str,
}

/// Variant names, which are also target names.
pub(crate) const VARIANT_NAMES: NameRule = NameRule {
    valid: is_variant_name,
    made_of: "lowercase letters, digits, `-`, `_` and `.`, starting with a lowercase letter or digit",
};

/// Binary names, as cargo `--bin` takes them and as file names in the image.
pub(crate) const BINARY_NAMES: NameRule = NameRule {
    valid: is_binary_name,
    made_of: "letters, digits, `-`, `_` and `.`, starting with a letter or digit",
};

fn is_variant_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

fn is_binary_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse;

    fn errors_of(text: &str) -> Vec<String> {
        let spec = parse(text, "f.yaml").unwrap();
        validate(&spec, "f.yaml", text)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    const BUILDER: &str = "builder:\n  image: rust:1-bookworm\n  binaries: [hello]\n";

    #[test]
    fn the_hello_example_is_valid() {
        let text = include_str!("../../../examples/hello/flotilla.yaml");
        assert_eq!(errors_of(text), Vec::<String>::new());
    }

    #[test]
    fn reports_each_broken_rule_with_its_position() {
        let text = format!(
            "version: 2\n{BUILDER}variants:\n  artifact:\n    from: debian\n  Bad:\n    from: 'Not A Ref'\n    binaries: {{hello: usr/bin/hello, nope: /x}}\n"
        );
        assert_eq!(
            errors_of(&text),
            [
                "f.yaml:1:10: unsupported spec version 2 (hint: this frontend reads `version: 1`)",
                "f.yaml:6:3: `artifact` is a reserved target name (hint: the artifact target always exists; rename this variant)",
                "f.yaml:8:3: invalid variant name `Bad` (hint: variant names use lowercase letters, digits, `-`, `_` and `.`, starting with a lowercase letter or digit)",
                "f.yaml:9:11: invalid image reference `Not A Ref`: the repository `Not A Ref` is not `/`-separated parts of lowercase letters and digits joined by `.`, `_`, `__` or dashes (hint: write an image reference such as `debian:bookworm-slim`)",
                "f.yaml:10:23: binary destination `usr/bin/hello` is not an absolute path",
                "f.yaml:10:38: variant `Bad` takes binary `nope`, which the builder does not build (hint: builder binaries: hello)",
            ]
        );
    }

    #[test]
    fn empty_builder_binaries_and_variants_are_errors() {
        let text = "version: 1\nbuilder:\n  image: rust\n  binaries: []\nvariants: {}\n";
        assert_eq!(
            errors_of(text),
            [
                "f.yaml:4:13: the builder lists no binaries (hint: name the binaries cargo builds, e.g. `binaries: [myapp]`)",
                "f.yaml:5:11: the spec defines no variants (hint: add at least one variant under `variants:`)",
            ]
        );
    }

    #[test]
    fn duplicate_binaries_and_destinations_are_errors() {
        let text = "version: 1\nbuilder:\n  image: rust\n  binaries: [a, b, a]\nvariants:\n  v:\n    from: d\n    binaries: {a: /x, b: /x}\n";
        assert_eq!(
            errors_of(text),
            [
                "f.yaml:4:20: binary `a` is listed twice",
                "f.yaml:8:26: two binaries are copied to `/x`",
            ]
        );
    }

    /// A hint's example that its own rule refuses tells the user to write an error; every
    /// example the hints give, in the place they give it for, passes.
    #[test]
    fn every_example_a_hint_gives_passes_its_rule() {
        let text = "version: 1
builder:
  image: debian:bookworm-slim
  binaries: [myapp]
  projects:
    openab-agent: {binaries: [agent]}
  cross:
    linux/arm64: {target: aarch64-unknown-linux-gnu}
variants:
  app:
    from: debian:bookworm-slim
    args: {NAME: x}
    packages: [jq=1.6-2.1]
    copy:
      - {src: config/app.toml, dest: /a, owner: user, mode: '0755'}
      - {src: config/app.toml, dest: /b, owner: 'user:group'}
      - {src: config/app.toml, dest: /c, owner: '1000:1000'}
    expose: ['8080', 8080/tcp, 53/udp]
    labels: {a: '${NAME}', b: '${NAME:-default}', c: '${NAME:+alternative}', d: '$$NAME'}
    healthcheck: {test: x, interval: 30s, timeout: 1m30s, start_period: 500ms}
    stopsignal: SIGQUIT
";
        assert_eq!(errors_of(text), Vec::<String>::new());
    }

    #[test]
    fn name_hints_say_what_their_rules_accept() {
        for (rule, good, bad) in [
            (
                &VARIANT_NAMES,
                ["a", "0-a_b.c"],
                ["A", "-a", "_a", ".a", "a b", ""],
            ),
            (
                &BINARY_NAMES,
                ["A", "0-a_b.C"],
                ["-a", "_a", ".a", "a/b", "a b", ""],
            ),
        ] {
            assert!(rule.made_of.contains("starting with a"));
            for name in good {
                assert!((rule.valid)(name), "{name}");
            }
            for name in bad {
                assert!(!(rule.valid)(name), "{name}");
            }
        }
    }
}
