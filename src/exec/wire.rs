//! Requests on the wire for the executor: one JSON request with a timeout and the API
//! server's answer classified (refused, forbidden, conflict, failed, or unknown when a
//! mutating request may have been applied), the resourceVersion precondition, the refusal
//! rules on a fresh read, and RBAC checks with SelfSubjectAccessReview.

use std::time::Duration;

use serde_json::{Value, json};

use super::outcome::{OutcomeKind, RbacVerdict};
use super::plan::{ActionPlan, Permission};
use super::request::{KubeRequest, PatchType, Verb};
use crate::cluster::ClusterHandle;
use crate::source::watch::short_error;

/// How long one request may take before its outcome is unknown.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Why the object as read now (`current`) must not be acted on: another object under the
/// same name, or (before anything was sent) a change to what the decision rests on.
pub fn refusal(plan: &ActionPlan, current: &Value, check_fields: bool) -> Option<String> {
    let uid = current.pointer("/metadata/uid").and_then(Value::as_str);
    if let (Some(seen), Some(now)) = (&plan.uid, uid)
        && seen != now
    {
        return Some(format!(
            "{} was deleted and created again since it was shown (uid {seen} → {now}); look \
             again",
            plan.object_name()
        ));
    }
    if !check_fields {
        return None;
    }
    plan.checks.iter().find(|c| !c.holds(current)).map(|c| {
        format!(
            "{}: {} changed since it was shown ({} → {}); look again and retry",
            plan.object_name(),
            c.label,
            super::plan::show(&c.seen),
            c.now_in(current)
        )
    })
}

/// Adds the precondition to a request's body: the resourceVersion of the read the checks
/// were made on (in the body of a merge/strategic patch or a PUT; as a `test` at the head of a
/// JSON patch), so the API server refuses if anything moved after that read. A POST creates a
/// new object: nothing to add.
#[must_use]
pub fn with_precondition(req: &KubeRequest, rv: &str) -> Value {
    let mut body = req.body.clone();
    if req.verb == Verb::Post {
        return body;
    }
    match req.patch_type {
        Some(PatchType::Json) => {
            let test = json!({"op": "test", "path": "/metadata/resourceVersion", "value": rv});
            if let Value::Array(ops) = &mut body {
                ops.insert(0, test);
            }
        }
        _ => {
            if body.is_object() {
                if !body.get("metadata").is_some_and(Value::is_object) {
                    body["metadata"] = json!({});
                }
                body["metadata"]["resourceVersion"] = Value::String(rv.to_string());
            }
        }
    }
    body
}

/// Why a request did not succeed.
#[derive(Debug)]
pub struct SendError {
    pub kind: OutcomeKind,
    /// The API server's status code, when it answered.
    pub code: Option<u16>,
    pub message: String,
}

/// Whether a transport error means the request never left (nothing can have been applied):
/// the connection was refused or the name did not resolve.
fn never_sent(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    [
        "connection refused",
        "dns error",
        "failed to lookup",
        "no route to host",
    ]
    .iter()
    .any(|m| t.contains(m))
}

pub async fn send_json(
    timeout: Duration,
    client: &kube::Client,
    method: &str,
    path: &str,
    body: Option<&Value>,
    patch_type: Option<PatchType>,
    dry_run: bool,
) -> Result<Value, SendError> {
    let mut uri = path.to_string();
    if method != "GET" {
        uri.push_str("?fieldManager=kdeck");
        if dry_run {
            uri.push_str("&dryRun=All");
        }
    }
    let content_type = patch_type.map_or("application/json", PatchType::content_type);
    let bytes = body
        .map(|b| serde_json::to_vec(b).unwrap_or_default())
        .unwrap_or_default();
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::ACCEPT, "application/json")
        .body(bytes)
        .map_err(|e| SendError {
            kind: OutcomeKind::Failed,
            code: None,
            message: e.to_string(),
        })?;
    // A mutating request that got no answer may have been applied: its outcome is unknown,
    // never "failed" (the caller reads the object again and reports what it sees).
    let lost = if method == "GET" {
        OutcomeKind::Failed
    } else {
        OutcomeKind::Unknown
    };
    match tokio::time::timeout(timeout, client.request::<Value>(req)).await {
        Err(_) => Err(SendError {
            kind: lost,
            code: None,
            message: format!(
                "the API server did not answer within {}s",
                timeout.as_secs_f64()
            ),
        }),
        Ok(Ok(v)) => Ok(v),
        Ok(Err(kube::Error::Api(status))) => {
            let kind = match status.code {
                403 => OutcomeKind::Forbidden,
                409 => OutcomeKind::Conflict,
                // A failed JSON-patch `test` (our resourceVersion precondition) is a 422.
                422 if status.message.contains("test")
                    || status.message.contains("resourceVersion") =>
                {
                    OutcomeKind::Conflict
                }
                _ => OutcomeKind::Failed,
            };
            Err(SendError {
                kind,
                code: Some(status.code),
                message: format!("HTTP {}: {}", status.code, status.message),
            })
        }
        Ok(Err(e)) => {
            let message = short_error(&e);
            let kind = if never_sent(&format!("{e:?} {message}")) {
                OutcomeKind::Failed
            } else {
                lost
            };
            Err(SendError {
                kind,
                code: None,
                message,
            })
        }
    }
}

/// Asks the API server whether we may do each thing; the first denial wins.
pub async fn rbac(cluster: &ClusterHandle, permissions: &[Permission]) -> RbacVerdict {
    let Some(client) = cluster.client() else {
        return RbacVerdict::Unknown("no connection".into());
    };
    for p in permissions {
        let mut attrs = json!({
            "verb": p.verb,
            "group": p.target.group,
            "resource": p.target.plural,
            "name": p.target.name,
        });
        if let Some(ns) = &p.target.namespace {
            attrs["namespace"] = Value::String(ns.clone());
        }
        if let Some(sub) = &p.subresource {
            attrs["subresource"] = Value::String(sub.clone());
        }
        let review = json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attrs},
        });
        match send_json(
            REQUEST_TIMEOUT,
            client,
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            Some(&review),
            None,
            false,
        )
        .await
        {
            Ok(resp) => {
                if resp.pointer("/status/allowed").and_then(Value::as_bool) != Some(true) {
                    let reason = resp
                        .pointer("/status/reason")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .unwrap_or("no RBAC rule allows it");
                    let what = match &p.subresource {
                        Some(s) => format!("{}/{s}", p.target.plural),
                        None => p.target.plural.clone(),
                    };
                    return RbacVerdict::Denied(format!(
                        "{} may not {} {what} {}: {reason}",
                        cluster.info().user,
                        p.verb,
                        p.target.name
                    ));
                }
            }
            Err(e) => return RbacVerdict::Unknown(e.message),
        }
    }
    RbacVerdict::Allowed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::request::Target;

    fn target() -> Target {
        Target {
            group: "argoproj.io".into(),
            version: "v1alpha1".into(),
            kind: "Rollout".into(),
            plural: "rollouts".into(),
            namespace: Some("shop".into()),
            name: "checkout".into(),
        }
    }

    #[test]
    fn preconditions_go_where_the_patch_type_wants_them() {
        let merge = KubeRequest::patch(
            &target(),
            Some("status"),
            PatchType::Merge,
            json!({"status": {"abort": true}}),
        );
        let b = with_precondition(&merge, "42");
        assert_eq!(
            b,
            json!({"status": {"abort": true}, "metadata": {"resourceVersion": "42"}})
        );
        let jp = KubeRequest::patch(
            &target(),
            None,
            PatchType::Json,
            json!([{"op": "replace", "path": "/spec/template", "value": {}}]),
        );
        let b = with_precondition(&jp, "42");
        assert_eq!(
            b[0],
            json!({"op": "test", "path": "/metadata/resourceVersion", "value": "42"})
        );
        assert_eq!(b.as_array().unwrap().len(), 2);
    }
}
