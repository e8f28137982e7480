//! The few Agent Client Protocol (JSON-RPC 2.0) messages the gateway speaks.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Request {
    pub jsonrpc: String,
    pub id: u64,
    pub method: String,
    #[serde(default)]
    pub params: Value,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Response {
    pub jsonrpc: String,
    pub id: u64,
    pub result: Value,
}

/// `initialize`, the first message to an agent.
pub fn initialize(id: u64, client: &str) -> Request {
    Request {
        jsonrpc: "2.0".to_owned(),
        id,
        method: "initialize".to_owned(),
        params: serde_json::json!({ "protocolVersion": 1, "clientInfo": { "name": client } }),
    }
}

/// The answer to `request` carrying `result`.
pub fn reply(request: &Request, result: Value) -> Response {
    Response {
        jsonrpc: "2.0".to_owned(),
        id: request.id,
        result,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn initialize_round_trips() {
        let request = super::initialize(1, "openab");
        let text = serde_json::to_string(&request).unwrap();
        assert_eq!(
            serde_json::from_str::<super::Request>(&text).unwrap(),
            request
        );
    }
}
