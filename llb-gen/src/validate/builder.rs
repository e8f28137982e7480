//! Rules for the `builder:` section.

use std::collections::BTreeSet;

use super::{Errors, is_binary_name};
use crate::spec::{Spec, position};

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
    for (path, project) in builder.projects.iter() {
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
    let mut built = BTreeSet::new();
    for binary in builder.binaries() {
        let name = binary.value.name.as_str();
        if !is_binary_name(name) {
            errors.at(
                position(binary),
                format!("invalid binary name `{name}`"),
                Some("binary names use letters, digits, `-`, `_` and `.`".to_owned()),
            );
        }
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
