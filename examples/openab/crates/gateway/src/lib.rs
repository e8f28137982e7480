//! The HTTP side of openab: health and agent info, in front of one agent CLI.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

/// What the gateway knows about the agent it fronts.
#[derive(Debug, Clone)]
pub struct Agent {
    pub command: String,
    pub path: Option<String>,
}

/// Agents a unified build can front; a plain build fronts the one it was built for.
pub const UNIFIED: bool = cfg!(feature = "unified");

pub fn router(agent: Agent) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/agent", get(agent_info))
        .with_state(Arc::new(agent))
}

async fn agent_info(State(agent): State<Arc<Agent>>) -> Json<Value> {
    let hello = openab_acp::initialize(0, "openab");
    Json(json!({
        "command": agent.command,
        "path": agent.path,
        "unified": UNIFIED,
        "handshake": hello.method,
    }))
}

/// Serves until the process is stopped.
pub async fn serve(listener: tokio::net::TcpListener, agent: Agent) -> std::io::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, agent = %agent.command, "openab gateway listening");
    axum::serve(listener, router(agent)).await
}
