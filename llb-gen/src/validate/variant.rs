//! Rules for each `variants.<name>:` entry.

use std::collections::BTreeSet;

use super::{Errors, is_variant_name};
use crate::spec::{Spec, position};
use crate::target::ARTIFACT_TARGET;

/// Checks every variant against the binaries the builder makes.
pub(super) fn check(spec: &Spec, built: &BTreeSet<&str>, errors: &mut Errors<'_>) {
    if spec.variants.value.is_empty() {
        errors.at(
            position(&spec.variants),
            "the spec defines no variants".to_owned(),
            Some("add at least one variant under `variants:`".to_owned()),
        );
    }
    for (name, variant) in spec.variants.value.iter() {
        errors.name(name, "variant", is_variant_name);
        if name.value == ARTIFACT_TARGET {
            errors.at(
                position(name),
                format!("`{ARTIFACT_TARGET}` is a reserved target name"),
                Some("the artifact target always exists; rename this variant".to_owned()),
            );
        }
        errors.image_reference(&variant.from);
        let mut destinations = BTreeSet::new();
        for (binary, dest) in variant.binaries.iter() {
            if !built.contains(binary.value.as_str()) {
                errors.at(
                    position(binary),
                    format!(
                        "variant `{}` takes binary `{}`, which the builder does not build",
                        name.value, binary.value
                    ),
                    Some(format!("builder binaries: {}", join(built))),
                );
            }
            errors.absolute_path(dest, "binary destination");
            if !destinations.insert(dest.value.as_str()) {
                errors.at(
                    position(dest),
                    format!("two binaries are copied to `{}`", dest.value),
                    None,
                );
            }
        }
    }
}

fn join(names: &BTreeSet<&str>) -> String {
    names.iter().copied().collect::<Vec<_>>().join(", ")
}
