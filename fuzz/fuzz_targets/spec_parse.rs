//! Any bytes → parse and validate: an error is fine, a panic is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(source) = std::str::from_utf8(data) {
        let _ = llb_gen::load(source, "flotilla.yaml");
    }
});
