//! `flotilla-frontend`: the BuildKit gateway frontend. BuildKit runs it as the image's
//! entrypoint and speaks gRPC with it over stdin/stdout; it returns exactly once, then exits.
//!
//! Modules import only downwards (`scripts/module-cycles` checks it):
//! `main` → `pipeline`, `subrequests`, `warnings` → `prebuilt`, `spec_file` → `resolver`,
//! `client_files` → `error` → `bridge`, `options`, `errdefs` → `outcome`, `gateway_pb`.
//! `fake_bridge`, `context_fixtures`, `daemon_faults` and `parity` are tests only.

mod bridge;
mod client_files;
#[cfg(test)]
mod context_fixtures;
#[cfg(test)]
mod daemon_faults;
mod errdefs;
mod error;
#[cfg(test)]
mod fake_bridge;
mod options;
mod outcome;
#[cfg(test)]
mod parity;
mod pipeline;
mod prebuilt;
mod resolver;
mod spec_file;
mod subrequests;
mod warnings;

/// BuildKit's gateway API (Flotilla's subset of `frontend/gateway/pb/gateway.proto`).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
mod gateway_pb {
    include!(concat!(env!("OUT_DIR"), "/moby.buildkit.v1.frontend.rs"));
}

use std::process::ExitCode;

use bridge::{Bridge, BridgeError};
use options::Options;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("flotilla-frontend: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(serve());
    // Stdin is read by a blocking thread that cannot be cancelled and BuildKit keeps the pipe
    // open until we exit: waiting for that thread on shutdown would hang the build.
    runtime.shutdown_background();
    code
}

/// Connects, builds, and returns exactly once.
async fn serve() -> ExitCode {
    let options = Options::from_env(std::env::vars());
    let bridge = match Bridge::connect_stdio().await {
        Ok(bridge) if options.debug() => bridge.traced(),
        Ok(bridge) => bridge,
        Err(error) => {
            eprintln!(
                "flotilla-frontend: {error} (it runs under BuildKit as a gateway.v0 frontend)"
            );
            return ExitCode::FAILURE;
        }
    };
    let returned = run(&bridge, &options).await;
    bridge.trace_total();
    match returned {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("flotilla-frontend: returning the result failed: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Answers one request, a build or a subrequest, and returns exactly once.
async fn run(bridge: &Bridge, options: &Options) -> Result<(), BridgeError> {
    let caps = match bridge.caps().await {
        Ok(caps) => caps,
        Err(error) => return bridge.return_error(error.into()).await,
    };
    warnings::warn_ignored(bridge, &caps, options).await;
    let failure = match options.get("requestid") {
        Some(id) => match subrequests::answer(bridge, options, id).await {
            Ok(metadata) => return bridge.return_metadata(metadata).await,
            Err(failure) => failure,
        },
        None => match pipeline::build(bridge, options, &caps).await {
            Ok(outcome) => return bridge.return_outcome(outcome).await,
            Err(failure) => failure,
        },
    };
    eprintln!("flotilla-frontend: {}", failure.message);
    bridge.return_error(failure).await
}
