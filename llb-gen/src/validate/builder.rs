//! Rules for the `builder:` section.

use std::collections::BTreeSet;

use super::{Errors, is_binary_name};
use crate::spec::{Spec, position};

/// Checks the builder and returns the names of the binaries it builds.
pub(super) fn check<'s>(spec: &'s Spec, errors: &mut Errors<'_>) -> BTreeSet<&'s str> {
    errors.image_reference(&spec.builder.image);
    errors.absolute_path(&spec.builder.workdir, "builder workdir");
    let builder_binaries = &spec.builder.binaries;
    if builder_binaries.value.is_empty() {
        errors.at(
            position(builder_binaries),
            "the builder lists no binaries".to_owned(),
            Some("name the binaries cargo builds, e.g. `binaries: [myapp]`".to_owned()),
        );
    }
    let mut built = BTreeSet::new();
    for binary in &builder_binaries.value {
        errors.name(binary, "binary", is_binary_name);
        if !built.insert(binary.value.as_str()) {
            errors.at(
                position(binary),
                format!("binary `{}` is listed twice", binary.value),
                None,
            );
        }
    }
    built
}
