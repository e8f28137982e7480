//! Prints its version, or who and where it runs with the config it was given.

use std::env;

fn main() {
    if env::args().nth(1).as_deref() == Some("--version") {
        println!("agent {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    let path = env::var("AGENT_CONFIG").unwrap_or_else(|_| "/etc/agent/agent.toml".to_owned());
    let name = match std::fs::read_to_string(&path) {
        Ok(text) => agent_config::value(&text, "name")
            .unwrap_or("unnamed")
            .to_owned(),
        Err(error) => format!("no config ({path}: {error})"),
    };
    let home = env::var("HOME").unwrap_or_default();
    let cwd = env::current_dir()
        .map(|dir| dir.display().to_string())
        .unwrap_or_default();
    println!("agent {name} ready: HOME={home}, cwd={cwd}");
}
