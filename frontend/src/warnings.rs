//! Options the frontend does not act on are reported, not silently dropped: through BuildKit's
//! Warn RPC where the daemon has it, else on stderr, which ends up in the daemon's log.

use crate::bridge::{Bridge, DaemonCaps};
use crate::options::Options;

/// The frontend API cap of the Warn RPC (BuildKit 0.12+; Docker 20.10 lacks it).
const WARNINGS_CAP: &str = "gateway.warnings";

/// Options used as given, or that only BuildKit and its clients read. BuildKit itself acts on
/// the attestations for a gateway frontend's result (`control/control.go` `Solve`): with
/// `attest:sbom` it runs the SBOM scanner on each platform's ref unless the result already has
/// an SBOM (`solver/llbsolver/proc/sbom.go`), and with `attest:provenance` it records
/// provenance; other `attest:` kinds it ignores, so they are reported.
const KNOWN: [&str; 16] = [
    "target",
    "filename",
    "platform",
    "multi-platform",
    "no-cache",
    "context",
    "image-resolve-mode",
    "add-hosts",
    "force-network-mode",
    "cache-from",
    "cache-imports",
    "source",
    "cmdline",
    "requestid",
    "attest:sbom",
    "attest:provenance",
];

/// Prefixes of option families the frontend reads, or that carry client bookkeeping. buildx
/// sends `vcs:source`, `vcs:revision` and `vcs:localdir:<local>` on every build from a git
/// checkout; BuildKit puts every `vcs:*` into provenance. A named context (`context:*`) that
/// no image of the target is named after goes unused, as docker/dockerfile leaves it.
const KNOWN_PREFIXES: [&str; 7] = [
    "build-arg:",
    llb_gen::named_context::OPTION_PREFIX,
    "label:",
    "frontend.caps",
    "vcs:",
    "sharedkey",
    "local-sessionid:",
];

/// The options in `options` this frontend ignores, in key order.
pub fn ignored_options(options: &Options) -> Vec<&str> {
    options
        .opts
        .keys()
        .map(String::as_str)
        .filter(|key| {
            !KNOWN.contains(key) && !KNOWN_PREFIXES.iter().any(|prefix| key.starts_with(prefix))
        })
        .collect()
}

/// Tells the user about ignored options in one line; a failure to warn never fails the build.
pub async fn warn_ignored(bridge: &Bridge, caps: &DaemonCaps, options: &Options) {
    let ignored = ignored_options(options);
    if ignored.is_empty() {
        return;
    }
    let message = format!(
        "flotilla: ignoring options it does not support: {}",
        ignored.join(", ")
    );
    let warned =
        caps.frontend.iter().any(|cap| cap == WARNINGS_CAP) && bridge.warn(&message).await.is_ok();
    if !warned {
        eprintln!("{message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unsupported_options_are_reported() {
        let options = Options::from_opts(&[
            "target=hello",
            "build-arg:X=1",
            "label:a=b",
            "add-hosts=",
            "context:builder=docker-image://a:1",
            "context:builder::linux/amd64=docker-image://a:1",
            "context:other=docker-image://b:1",
            "hostname=box",
            "frontend.caps=moby.buildkit.frontend.subrequests+forward",
        ]);
        assert_eq!(ignored_options(&options), ["hostname"]);
    }

    #[test]
    fn buildx_bookkeeping_and_the_attestations_buildkit_makes_are_accepted() {
        let options = Options::from_opts(&[
            "vcs:source=https://github.com/example/app.git",
            "vcs:revision=0123456789abcdef",
            "vcs:localdir:context=.",
            "vcs:localdir:dockerfile=.",
            "attest:sbom=",
            "attest:provenance=mode=min",
            "attest:unknown=x",
        ]);
        assert_eq!(ignored_options(&options), ["attest:unknown"]);
    }
}
