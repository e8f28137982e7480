//! openab: runs the gateway in front of the agent CLI named by `OPENAB_AGENT_COMMAND`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use openab_core::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const VERSION: &str = if cfg!(feature = "unified") {
    concat!(env!("CARGO_PKG_VERSION"), " (unified)")
} else {
    env!("CARGO_PKG_VERSION")
};

#[derive(Parser)]
#[command(name = "openab", version = VERSION, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the gateway.
    Run {
        #[arg(short, long, default_value = "/etc/openab/config.toml")]
        config: PathBuf,
        /// Print what would run (agent, its path, the listen address) and exit.
        #[arg(long)]
        dry_run: bool,
    },
    /// Exit 0 when the gateway of this config answers (the image's HEALTHCHECK).
    Health {
        #[arg(short, long, default_value = "/etc/openab/config.toml")]
        config: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("openab: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run { config, dry_run } => {
            let config = Config::load(&config)?;
            let command = config
                .agent_command(std::env::var("OPENAB_AGENT_COMMAND").ok())
                .context("no agent: set OPENAB_AGENT_COMMAND or [agent] command")?;
            let path = openab_core::which(&command, &std::env::var("PATH").unwrap_or_default())
                .map(|p| p.display().to_string());
            if dry_run {
                let plan = serde_json::json!({
                    "agent": command,
                    "path": path,
                    "listen": config.listen.to_string(),
                    "unified": openab_gateway::UNIFIED,
                });
                println!("{plan}");
                return Ok(());
            }
            openab_telemetry::init(&config.log.level, config.log.json);
            let listener = tokio::net::TcpListener::bind(config.listen).await?;
            let agent = openab_gateway::Agent { command, path };
            tokio::select! {
                served = openab_gateway::serve(listener, agent) => served?,
                _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
            }
            Ok(())
        }
        Command::Health { config } => {
            let config = Config::load(&config)?;
            let port = config.listen.port();
            let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .with_context(|| format!("gateway not answering on port {port}"))?;
            stream
                .write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
                .await?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await?;
            anyhow::ensure!(
                answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"),
                "unhealthy: {answer}"
            );
            Ok(())
        }
    }
}
