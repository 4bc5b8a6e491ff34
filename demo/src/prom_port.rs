//! The Prometheus port of a simulated cluster: every request goes to the demo Prometheus'
//! HTTP API ([`super::prom::http::respond`]).

use std::sync::Arc;

use http::Request;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::ClusterState;
use super::api::server::{Handler, ResponseFuture};
use super::api::status;

/// Largest query body (form-encoded POST parameters).
const MAX_BODY: usize = 1 << 20;

/// Serves one cluster's Prometheus API.
pub struct PromHandler {
    pub cluster: Arc<ClusterState>,
}

impl Handler for PromHandler {
    fn handle(self: Arc<Self>, req: Request<Incoming>) -> ResponseFuture {
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body = match Limited::new(body, MAX_BODY).collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => {
                    let err = serde_json::json!({
                        "status": "error", "errorType": "bad_data", "error": e.to_string(),
                    });
                    return status::json_response(400, &err);
                }
            };
            let resp = super::prom::http::respond(
                &self.cluster.prom,
                parts.method.as_str(),
                parts.uri.path(),
                parts.uri.query().unwrap_or_default(),
                &body,
                chrono::Utc::now().timestamp_millis(),
            );
            status::respond(resp.status, "application/json", resp.body)
        })
    }
}
