//! Rules for the `builder:` section.

use std::collections::BTreeSet;

use super::{BINARY_NAMES, Errors};
use crate::platform::Platform;
use crate::spec::{Cargo, Spanned, Spec, position};
use crate::syntax;

/// Checks the builder and returns the names of the binaries it builds.
pub(super) fn check<'s>(spec: &'s Spec, errors: &mut Errors<'_>) -> BTreeSet<&'s str> {
    let builder = &spec.builder;
    errors.image_reference(&builder.image);
    errors.absolute_path(&builder.workdir, "builder workdir");
    errors.absolute_path(&builder.prebuilt_path, "builder prebuilt_path");
    if builder.projects().is_empty() {
        errors.at(
            position(&builder.binaries),
            "the builder lists no binaries".to_owned(),
            Some("name the binaries cargo builds, e.g. `binaries: [myapp]`".to_owned()),
        );
    }
    cargo(&builder.cargo, errors);
    sources(&builder.sources, errors);
    for (path, project) in builder.projects.iter() {
        cargo(&project.cargo, errors);
        sources(&project.sources, errors);
        let escapes = path.value.starts_with('/')
            || path
                .value
                .split('/')
                .any(|part| part == ".." || part.is_empty());
        if escapes || path.value == "." {
            errors.at(
                position(path),
                format!(
                    "project path `{}` must be a subdirectory of the build context",
                    path.value
                ),
                Some("write it relative to the context, e.g. `openab-agent`".to_owned()),
            );
        }
        if project.binaries.value.is_empty() {
            errors.at(
                position(&project.binaries),
                format!("project `{}` lists no binaries", path.value),
                None,
            );
        }
    }
    for (platform, cross) in builder.cross.iter() {
        if let Err(error) = platform.value.parse::<Platform>() {
            errors.at(position(platform), error.to_string(), None);
        }
        errors.env_names(&cross.env);
        let triple = &cross.target.value;
        // It names the linker's variable (`CARGO_TARGET_<TRIPLE>_LINKER`) and a directory.
        let word = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
        if triple.split('-').count() < 3 || !triple.chars().all(word) {
            errors.at(
                position(&cross.target),
                format!("`{}` is not a rust target triple", triple.escape_debug()),
                Some(
                    "e.g. `aarch64-unknown-linux-gnu` (see `rustc --print target-list`)".to_owned(),
                ),
            );
        }
    }
    let mut built = BTreeSet::new();
    for binary in builder.binaries() {
        let name = binary.value.name.as_str();
        errors.name(position(binary), name, "binary", &BINARY_NAMES);
        if !built.insert(name) {
            errors.at(
                position(binary),
                format!("binary `{name}` is listed twice"),
                None,
            );
        }
    }
    built
}

/// `cargo build` options Flotilla sets itself, or that would put the binaries or the build
/// where it does not look for them, each with the spec's way of saying it.
const OWN_CARGO_OPTIONS: [(&str, &str); 6] = [
    (
        "--target",
        "a target triple comes from `builder.cross`, e.g. `cross: {linux/arm64: {target: aarch64-unknown-linux-gnu}}`, so that its crates are fetched and its binaries found",
    ),
    (
        "--target-dir",
        "Flotilla keeps each project's target dir in a cache mount of its own",
    ),
    ("--profile", "set the profile with `cargo: {profile: …}`"),
    (
        "--release",
        "`release` is the default `cargo: {profile: …}`",
    ),
    (
        "--manifest-path",
        "list another cargo project under `builder.projects`, by its path",
    ),
    (
        "--locked",
        "Flotilla passes `--locked` unless `cargo: {locked: false}`",
    ),
];

/// The cargo settings of one project: a profile cargo accepts, env names a process gets, no
/// build option Flotilla sets itself.
fn cargo(cargo: &Cargo, errors: &mut Errors<'_>) {
    for arg in &cargo.args {
        let option = match arg.value.as_str() {
            "-r" => "--release",
            value => value.split_once('=').map_or(value, |(option, _)| option),
        };
        if let Some((option, hint)) = OWN_CARGO_OPTIONS.iter().find(|(own, _)| *own == option) {
            errors.at(
                position(arg),
                format!("cargo argument `{option}` is not for `cargo.args`"),
                Some((*hint).to_owned()),
            );
        }
    }
    if let Err(message) = syntax::profile_name(&cargo.profile.value) {
        errors.at(
            position(&cargo.profile),
            message,
            Some(
                "profile names use letters, digits, `_` and `-`, e.g. `release` or `dist`"
                    .to_owned(),
            ),
        );
    }
    errors.env_names(&cargo.env);
}

/// The `sources` of one project: paths inside the build context.
fn sources(sources: &[Spanned<String>], errors: &mut Errors<'_>) {
    for source in sources {
        if let Err(reason) = syntax::context_path(&source.value) {
            errors.at(
                position(source),
                format!("builder source `{}` {reason}", source.value),
                Some(
                    "builder sources are paths inside the build context, such as `proto`"
                        .to_owned(),
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::parse;
    use crate::validate::validate;

    fn errors_of(builder: &str) -> Vec<String> {
        let text =
            format!("version: 1\nbuilder:\n  image: rust\n{builder}variants:\n  v:\n    from: d\n");
        let spec = parse(&text, "f.yaml").unwrap();
        validate(&spec, "f.yaml", &text)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn projects_and_binary_entries_are_accepted() {
        let builder = "  binaries: [app, {name: cli, package: app-cli}]\n  projects:\n    tools/agent:\n      cargo: {no_default_features: true, args: [-v], env: {RUSTFLAGS: -Dwarnings}}\n      binaries: [agent]\n";
        assert_eq!(errors_of(builder), Vec::<String>::new());
    }

    #[test]
    fn project_paths_stay_inside_the_context() {
        let builder = "  projects:\n    ../x:\n      binaries: [a]\n    /abs:\n      binaries: [b]\n    ok:\n      binaries: []\n";
        assert_eq!(
            errors_of(builder),
            [
                "f.yaml:5:5: project path `../x` must be a subdirectory of the build context (hint: write it relative to the context, e.g. `openab-agent`)",
                "f.yaml:7:5: project path `/abs` must be a subdirectory of the build context (hint: write it relative to the context, e.g. `openab-agent`)",
                "f.yaml:10:17: project `ok` lists no binaries",
            ]
        );
    }

    #[test]
    fn sources_are_paths_inside_the_context() {
        let builder = "  binaries: [a]\n  sources: [proto, ./assets/, ., '../up']\n  projects:\n    p: {binaries: [b], sources: [/etc, p/data.txt]}\n";
        assert_eq!(
            errors_of(builder),
            [
                "f.yaml:5:34: builder source `../up` leaves the build context (hint: builder sources are paths inside the build context, such as `proto`)",
                "f.yaml:7:34: builder source `/etc` is absolute; sources are relative to the build context (hint: builder sources are paths inside the build context, such as `proto`)",
            ]
        );
    }

    #[test]
    fn binaries_are_unique_across_projects_and_well_named() {
        let builder = "  binaries: [a, 'b c']\n  prebuilt_path: bin\n  projects:\n    p:\n      binaries: [a]\n";
        assert_eq!(
            errors_of(builder),
            [
                "f.yaml:4:17: invalid binary name `b c` (hint: binary names use letters, digits, `-`, `_` and `.`, starting with a letter or digit)",
                "f.yaml:5:18: builder prebuilt_path `bin` is not an absolute path",
                "f.yaml:8:18: binary `a` is listed twice",
            ]
        );
    }

    #[test]
    fn cross_entries_name_a_platform_and_a_triple() {
        let builder = "  binaries: [a]\n  cross:\n    linux/arm64: {target: aarch64-unknown-linux-gnu, linker: cc}\n    arm64: {target: aarch64}\n";
        assert_eq!(
            errors_of(builder),
            [
                "f.yaml:7:5: invalid platform `arm64`: expected os/arch[/variant], e.g. linux/amd64",
                "f.yaml:7:21: `aarch64` is not a rust target triple (hint: e.g. `aarch64-unknown-linux-gnu` (see `rustc --print target-list`))",
            ]
        );
    }

    #[test]
    fn profiles_env_names_and_triples_are_what_cargo_and_buildkit_read() {
        let builder = "  binaries: [a]\n  cargo: {profile: 'release$(id)', env: {'A=B': x, '': y}}\n  projects:\n    p: {cargo: {profile: '..'}, binaries: [b]}\n  cross:\n    linux/arm64: {target: 'a-b-c=x', env: {\"C\\n\": z}}\n";
        assert_eq!(
            errors_of(builder),
            [
                "f.yaml:5:20: invalid character `$` in cargo profile `release$(id)` (hint: profile names use letters, digits, `_` and `-`, e.g. `release` or `dist`)",
                "f.yaml:5:42: invalid environment variable name `A=B`: contains `=`, which ends a name in `NAME=value` (hint: environment variable names are such as `RUST_LOG`)",
                "f.yaml:5:52: invalid environment variable name ``: is empty (hint: environment variable names are such as `RUST_LOG`)",
                "f.yaml:7:26: invalid character `.` in cargo profile `..` (hint: profile names use letters, digits, `_` and `-`, e.g. `release` or `dist`)",
                "f.yaml:9:27: `a-b-c=x` is not a rust target triple (hint: e.g. `aarch64-unknown-linux-gnu` (see `rustc --print target-list`))",
                "f.yaml:9:44: invalid environment variable name `C\\n`: contains a control character (hint: environment variable names are such as `RUST_LOG`)",
            ]
        );
    }

    #[test]
    fn cargo_args_leave_to_flotilla_what_it_sets() {
        let builder = "  binaries: [a]\n  cargo: {args: [-v, --target, x86_64-unknown-linux-musl, '--target-dir=/t', -r]}\n  projects:\n    p: {cargo: {args: ['--profile=dev', --locked, --manifest-path, x/Cargo.toml, --targets]}, binaries: [b]}\n";
        assert_eq!(
            errors_of(builder),
            [
                "f.yaml:5:22: cargo argument `--target` is not for `cargo.args` (hint: a target triple comes from `builder.cross`, e.g. `cross: {linux/arm64: {target: aarch64-unknown-linux-gnu}}`, so that its crates are fetched and its binaries found)",
                "f.yaml:5:59: cargo argument `--target-dir` is not for `cargo.args` (hint: Flotilla keeps each project's target dir in a cache mount of its own)",
                "f.yaml:5:78: cargo argument `--release` is not for `cargo.args` (hint: `release` is the default `cargo: {profile: …}`)",
                "f.yaml:7:24: cargo argument `--profile` is not for `cargo.args` (hint: set the profile with `cargo: {profile: …}`)",
                "f.yaml:7:41: cargo argument `--locked` is not for `cargo.args` (hint: Flotilla passes `--locked` unless `cargo: {locked: false}`)",
                "f.yaml:7:51: cargo argument `--manifest-path` is not for `cargo.args` (hint: list another cargo project under `builder.projects`, by its path)",
            ]
        );
    }

    #[test]
    fn a_binary_entry_with_an_unknown_key_is_refused() {
        let text = "version: 1\nbuilder:\n  image: r\n  binaries: [{name: a, pkg: b}]\nvariants: {v: {from: d}}\n";
        let error = parse(text, "f.yaml").unwrap_err();
        assert!(error.message.contains("unknown field `pkg`"), "{error}");
    }
}
