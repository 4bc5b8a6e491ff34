//! Prometheus' HTTP API (`/api/v1/...`) over the demo TSDB, in Prometheus' JSON shapes.
//! Served on each cluster's Prometheus port and through the Kubernetes service proxy.

use super::PromState;

/// A response: HTTP status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Answers one request. `path` starts at `/api/v1/...` (or `/-/healthy`); `query` is the raw
/// query string; `body` the request body (form-encoded parameters for POST).
#[must_use]
pub fn respond(
    _state: &PromState,
    _method: &str,
    path: &str,
    _query: &str,
    _body: &[u8],
    _now_ms: i64,
) -> PromResponse {
    let body = serde_json::json!({
        "status": "error",
        "errorType": "unavailable",
        "error": format!("{path} is not served yet"),
    });
    PromResponse {
        status: 503,
        body: body.to_string().into_bytes(),
    }
}
