//! agy-acp: answers ACP's `initialize` for the agy agent.

use std::io::BufRead;

use clap::Parser;
use serde::{Deserialize, Serialize};

#[derive(Parser)]
#[command(name = "agy-acp", version, about)]
struct Cli {}

#[derive(Deserialize)]
struct Request {
    id: u64,
    method: String,
}

#[derive(Serialize)]
struct Reply<'a> {
    jsonrpc: &'a str,
    id: u64,
    result: serde_json::Value,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    Cli::parse();
    for line in std::io::stdin().lock().lines() {
        let request: Request = serde_json::from_str(&line?)?;
        let result = match request.method.as_str() {
            "initialize" => {
                serde_json::json!({ "protocolVersion": 1, "agentInfo": { "name": "agy" } })
            }
            other => serde_json::json!({ "error": format!("unsupported method {other}") }),
        };
        println!(
            "{}",
            serde_json::to_string(&Reply {
                jsonrpc: "2.0",
                id: request.id,
                result
            })?
        );
    }
    Ok(())
}
