//! The demo's control API (plain HTTP on the base port): fault injection for out-of-process
//! tests and for `kdeck demo serve` users.
//!
//! Every request needs the run's control token as `Authorization: Bearer TOKEN` (401
//! otherwise). `kdeck demo serve` writes it, readable by the owner only, next to the
//! kubeconfig: `KUBECONFIG.control-token` ([`crate::launcher::control_token_path`]);
//! in-process users read [`crate::Demo::tokens`].
//!
//! | request | answer |
//! |---|---|
//! | `GET /clusters` | `{"clusters": [{"name", "kubernetes", "prometheus", "faults"}]}` |
//! | `GET /clusters/NAME/faults` | the cluster's current faults |
//! | `POST /clusters/NAME/faults` with a [`FaultAction`] | `{"ok": true}` (`"id"` for `deny`) |
//!
//! Actions (the JSON body's `action` field; see [`crate::api::faults`]):
//! `drop-watches`, `compact`, `fail-kind` (`group`, `resource`, `code` 403 or 404),
//! `no-status-subresource` (`group`, `resource`: the kind acts like a CRD without a status
//! subresource), `restore-kind` (`group`, `resource`; undoes both), `latency` (`ms`), `error-rate` (`rate`, 0 to 1),
//! `down`, `up`, `prom-down`, `prom-up` (Prometheus alone), `hide-version` (`group`,
//! `version`: that version is not served), `deny` (rule fields `user`, `verb`, `group`, `resource`, `subresource`,
//! `namespace`, `name`, each `*` or a comma list, plus `reason`), `remove-deny` (`id`),
//! `clear-denies`, `reset`. Example, after `kdeck demo serve --kubeconfig-out /tmp/demo.yaml
//! --port 7700`:
//!
//! ```text
//! curl -H "Authorization: Bearer $(cat /tmp/demo.yaml.control-token)" \
//!      -X POST http://127.0.0.1:7700/clusters/demo-us-east/faults \
//!      -d '{"action":"fail-kind","group":"argoproj.io","resource":"rollouts","code":403}'
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Method, Request, Response, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::api::faults::{FaultAction, Faults};
use super::api::server::{Handler, ResponseFuture};
use super::api::status::{self, Body};
use super::tokens;

/// What the control API knows of one cluster.
#[derive(Debug, Clone)]
pub struct ControlledCluster {
    pub name: String,
    pub api: SocketAddr,
    pub prometheus: SocketAddr,
    pub faults: Faults,
}

/// Serves the control API.
pub struct ControlHandler {
    pub clusters: Vec<ControlledCluster>,
    /// The run's control token.
    pub token: String,
    /// Where the token was written, for the 401's message.
    pub token_file: String,
}

impl std::fmt::Debug for ControlHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlHandler")
            .field("clusters", &self.clusters)
            .finish_non_exhaustive()
    }
}

fn error(code: u16, message: impl Into<String>) -> Response<Body> {
    status::json_response(code, &json!({"error": message.into()}))
}

impl Handler for ControlHandler {
    fn handle(self: Arc<Self>, req: Request<Incoming>) -> ResponseFuture {
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let authorization = parts
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            if !tokens::bearer(authorization).is_some_and(|t| tokens::same(t, &self.token)) {
                let mut resp = error(
                    401,
                    format!(
                        "send the control token as \"Authorization: Bearer TOKEN\" (it is in {})",
                        self.token_file
                    ),
                );
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    http::HeaderValue::from_static("Bearer realm=\"kdeck demo control\""),
                );
                return resp;
            }
            let body = match Limited::new(body, 1 << 20).collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => return error(400, e.to_string()),
            };
            let segs: Vec<&str> = parts
                .uri
                .path()
                .split('/')
                .filter(|s| !s.is_empty())
                .collect();
            match (&parts.method, segs.as_slice()) {
                (&Method::GET, [] | ["clusters"]) => {
                    let mut out = Vec::new();
                    for c in &self.clusters {
                        out.push(json!({
                            "name": c.name,
                            "kubernetes": format!("https://{}", c.api),
                            "prometheus": format!("http://{}", c.prometheus),
                            "faults": c.faults.snapshot().await,
                        }));
                    }
                    status::json_response(200, &json!({"clusters": out}))
                }
                (method, ["clusters", name, "faults"]) => {
                    let Some(c) = self.clusters.iter().find(|c| c.name == *name) else {
                        return error(404, format!("no cluster named {name:?}"));
                    };
                    match *method {
                        Method::GET => {
                            let snap = c.faults.snapshot().await;
                            status::json_response(
                                200,
                                &serde_json::to_value(snap).unwrap_or(Value::Null),
                            )
                        }
                        Method::POST => {
                            let action: FaultAction = match serde_json::from_slice(&body) {
                                Ok(a) => a,
                                Err(e) => return error(400, format!("bad fault action: {e}")),
                            };
                            match c.faults.apply(action).await {
                                Ok(v) => status::json_response(200, &v),
                                Err(e) => error(400, e.to_string()),
                            }
                        }
                        _ => error(405, "use GET or POST"),
                    }
                }
                _ => error(404, "not found: try GET /clusters"),
            }
        })
    }
}
