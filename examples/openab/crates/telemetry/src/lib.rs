//! Logging setup shared by the gateway's commands.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: `RUST_LOG` if set, else `level`; JSON lines when `json`.
pub fn init(level: &str, json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
