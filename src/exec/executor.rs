//! The executor: the only code that changes a cluster. For every action it refuses in
//! read-only mode (whatever the UI showed), refuses on data that is not live, never runs the
//! same action on the same object twice at once, checks RBAC with SelfSubjectAccessReview,
//! refuses if the object changed since it was shown (and sends the resourceVersion as a
//! precondition, so a race is refused by the API server too), supports server-side dry run,
//! and appends one audit line per attempt. Outcomes come back to the UI as events.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::audit::{AuditLog, AuditRecord};
use super::plan::{ActionPlan, Permission, PlanBuild};
use super::request::{KubeRequest, PatchType, Target, Verb};
use crate::cluster::ClusterHandle;
use crate::source::watch::short_error;
use crate::world::World;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeKind {
    Ok,
    Refused,
    Forbidden,
    Conflict,
    Failed,
}

impl OutcomeKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Refused => "refused",
            Self::Forbidden => "forbidden",
            Self::Conflict => "conflict",
            Self::Failed => "failed",
        }
    }
}

/// The result of one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub kind: OutcomeKind,
    pub message: String,
}

impl Outcome {
    fn new(kind: OutcomeKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// What RBAC says about a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RbacVerdict {
    Allowed,
    Denied(String),
    /// The check itself failed; the action may still be tried.
    Unknown(String),
}

/// Messages from the executor to the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecEvent {
    Rbac {
        id: u64,
        verdict: RbacVerdict,
    },
    Finished {
        id: u64,
        plan_label: String,
        outcome: Outcome,
    },
}

/// Global switches of the executor.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub readonly: bool,
    /// Contexts configured read-only.
    pub readonly_contexts: BTreeSet<String>,
    pub dry_run: bool,
}

/// Carries out plans.
#[derive(Debug)]
pub struct Executor {
    world: Arc<World>,
    options: ExecOptions,
    audit: AuditLog,
    inflight: Mutex<HashSet<String>>,
    events: mpsc::Sender<ExecEvent>,
}

fn permission_target_json(t: &Target) -> Value {
    json!({
        "apiVersion": t.api_version(),
        "kind": t.kind,
        "namespace": t.namespace,
        "name": t.name,
    })
}

impl Executor {
    #[must_use]
    pub fn new(
        world: Arc<World>,
        options: ExecOptions,
        audit: AuditLog,
    ) -> (Arc<Self>, mpsc::Receiver<ExecEvent>) {
        let (events, rx) = mpsc::channel(64);
        (
            Arc::new(Self {
                world,
                options,
                audit,
                inflight: Mutex::new(HashSet::new()),
                events,
            }),
            rx,
        )
    }

    #[must_use]
    pub fn options(&self) -> &ExecOptions {
        &self.options
    }

    #[must_use]
    pub fn audit_path(&self) -> &std::path::Path {
        self.audit.path()
    }

    /// Whether actions on this context are refused outright.
    #[must_use]
    pub fn is_readonly(&self, context: &str) -> bool {
        self.options.readonly || self.options.readonly_contexts.contains(context)
    }

    /// Checks the plan's permissions and reports the verdict as an event.
    pub fn check_rbac(self: &Arc<Self>, id: u64, plan: &ActionPlan) {
        let this = self.clone();
        let plan = plan.clone();
        tokio::spawn(async move {
            let verdict = match this.world.cluster(&plan.cluster) {
                Some(c) => rbac(&c, &plan.permissions()).await,
                None => RbacVerdict::Unknown("cluster not watched".into()),
            };
            let _ = this.events.send(ExecEvent::Rbac { id, verdict }).await;
        });
    }

    /// Runs a plan (in the background); the outcome arrives as an event.
    pub fn execute(self: &Arc<Self>, id: u64, plan: ActionPlan) {
        if self.is_readonly(&plan.cluster) {
            let why = if self.options.readonly {
                "read-only mode (--readonly): no action is sent"
            } else {
                "this context is read-only in config.toml"
            };
            self.finish(id, &plan, &[], Outcome::new(OutcomeKind::Refused, why));
            return;
        }
        if !plan.data_state.is_live() {
            let msg = format!(
                "the data on screen is not live ({}); refusing to act on it",
                plan.data_state.label(crate::clock::Clock::System)
            );
            self.finish(id, &plan, &[], Outcome::new(OutcomeKind::Refused, msg));
            return;
        }
        let key = format!(
            "{}|{}|{}",
            plan.cluster,
            plan.target.path(None),
            plan.action
        );
        {
            let mut inflight = self
                .inflight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !inflight.insert(key.clone()) {
                drop(inflight);
                self.finish(
                    id,
                    &plan,
                    &[],
                    Outcome::new(
                        OutcomeKind::Refused,
                        "the same action is already in progress",
                    ),
                );
                return;
            }
        }
        let this = self.clone();
        tokio::spawn(async move {
            let (sent, outcome) = this.run(&plan).await;
            this.inflight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&key);
            this.finish(id, &plan, &sent, outcome);
        });
    }

    async fn run(&self, plan: &ActionPlan) -> (Vec<Value>, Outcome) {
        let fail = |kind, msg: String| (Vec::new(), Outcome::new(kind, msg));
        let Some(cluster) = self.world.cluster(&plan.cluster) else {
            return fail(
                OutcomeKind::Failed,
                format!("context {} is not watched", plan.cluster),
            );
        };
        let Some(client) = cluster.client().cloned() else {
            return fail(OutcomeKind::Failed, "no connection to this cluster".into());
        };
        match rbac(&cluster, &plan.permissions()).await {
            RbacVerdict::Denied(why) => return fail(OutcomeKind::Forbidden, why),
            RbacVerdict::Unknown(why) => log::warn!("RBAC check inconclusive: {why}"),
            RbacVerdict::Allowed => {}
        }
        // Refuse if the object moved since the user looked at it.
        let current =
            match send_json(&client, "GET", &plan.target.path(None), None, None, false).await {
                Ok(v) => v,
                Err(e) => {
                    return fail(
                        e.kind,
                        format!("cannot read {}: {}", plan.object_name(), e.message),
                    );
                }
            };
        let mut rv = current
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if rv != plan.seen_rv {
            return fail(
                OutcomeKind::Conflict,
                format!(
                    "{} changed since it was shown (resourceVersion {} → {rv}); look again and retry",
                    plan.object_name(),
                    plan.seen_rv
                ),
            );
        }
        let requests = match &plan.build {
            PlanBuild::Ready(r) => r.clone(),
            PlanBuild::AfterFetch { fetch, build } => {
                let source = match send_json(&client, "GET", &fetch.path(None), None, None, false)
                    .await
                {
                    Ok(v) => v,
                    Err(e) => {
                        return fail(e.kind, format!("cannot read {}: {}", fetch.name, e.message));
                    }
                };
                match build(&source, &current) {
                    Ok(r) => r,
                    Err(why) => return fail(OutcomeKind::Refused, why),
                }
            }
        };
        if requests.is_empty() {
            return (
                Vec::new(),
                Outcome::new(
                    OutcomeKind::Ok,
                    format!("{} {}: nothing to change", plan.action, plan.object_name()),
                ),
            );
        }
        let mut sent = Vec::new();
        let rv_before = rv.clone();
        let total = requests.len();
        let mut applied = 0;
        let mut queue: std::collections::VecDeque<KubeRequest> = requests.into();
        let mut legacy = false;
        while let Some(req) = queue.pop_front() {
            let req = &req;
            let body = with_precondition(req, &rv);
            let method = match req.verb {
                Verb::Get => "GET",
                Verb::Patch => "PATCH",
                Verb::Put => "PUT",
                Verb::Post => "POST",
            };
            let path = req.target.path(req.subresource.as_deref());
            sent.push(json!({
                "method": method,
                "path": path,
                "patchType": req.patch_type.map(PatchType::content_type),
                "body": body,
            }));
            match send_json(
                &client,
                method,
                &path,
                Some(&body),
                req.patch_type,
                self.options.dry_run,
            )
            .await
            {
                Ok(resp) => {
                    applied += 1;
                    if let Some(new_rv) = resp
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
                        && !new_rv.is_empty()
                    {
                        rv = new_rv.to_string();
                    }
                }
                Err(e)
                    if e.code == Some(404)
                        && req.subresource.as_deref() == Some("status")
                        && !legacy
                        && plan.status_fallback.is_some() =>
                {
                    // No status subresource (Argo Rollouts before v0.10): the same change as
                    // one main-resource patch replaces what is left, as the upstream CLI does.
                    log::info!(
                        "{}: {} has no status subresource; sending one patch of the object",
                        plan.action,
                        plan.object_name()
                    );
                    legacy = true;
                    queue.clear();
                    queue.extend(plan.status_fallback.clone());
                }
                Err(e) => {
                    let partial = if applied > 0 {
                        format!(" ({applied} of {total} requests were applied)")
                    } else {
                        String::new()
                    };
                    return (
                        sent,
                        Outcome::new(e.kind, format!("{}{partial}", e.message)),
                    );
                }
            }
        }
        let msg = if self.options.dry_run {
            format!(
                "{} {}: dry run accepted by the server, nothing changed",
                plan.action,
                plan.object_name()
            )
        } else {
            format!(
                "{} {} on {}: done (resourceVersion {rv_before} → {rv}){}",
                plan.action,
                plan.object_name(),
                plan.cluster,
                if legacy {
                    "; no status subresource, sent as one patch of the object"
                } else {
                    ""
                }
            )
        };
        (sent, Outcome::new(OutcomeKind::Ok, msg))
    }

    fn finish(&self, id: u64, plan: &ActionPlan, sent: &[Value], outcome: Outcome) {
        let (server, user) = self
            .world
            .cluster(&plan.cluster)
            .map(|c| {
                let i = c.info();
                (i.server, i.user)
            })
            .unwrap_or_default();
        let mut object = permission_target_json(&plan.target);
        object["resourceVersion"] = Value::String(plan.seen_rv.clone());
        let requests = if sent.is_empty() {
            plan.request_lines()
                .into_iter()
                .map(Value::String)
                .collect()
        } else {
            sent.to_vec()
        };
        self.audit.append(&AuditRecord {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            context: plan.cluster.clone(),
            server,
            user,
            action: plan.action.clone(),
            object,
            requests,
            dry_run: self.options.dry_run,
            outcome: outcome.kind.as_str().to_string(),
            message: outcome.message.clone(),
        });
        match outcome.kind {
            OutcomeKind::Ok => log::info!("{}", outcome.message),
            _ => log::warn!(
                "{} {} on {}: {}: {}",
                plan.action,
                plan.object_name(),
                plan.cluster,
                outcome.kind.as_str(),
                outcome.message
            ),
        }
        let event = ExecEvent::Finished {
            id,
            plan_label: format!("{} {}", plan.action, plan.object_name()),
            outcome,
        };
        if self.events.try_send(event).is_err() {
            log::warn!("executor: UI did not take an outcome event");
        }
    }
}

/// Adds the resourceVersion precondition: in the body of a merge/strategic patch or a PUT,
/// as a `test` operation at the head of a JSON patch.
#[must_use]
pub fn with_precondition(req: &KubeRequest, rv: &str) -> Value {
    let mut body = req.body.clone();
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

struct SendError {
    kind: OutcomeKind,
    /// The API server's status code, when it answered.
    code: Option<u16>,
    message: String,
}

async fn send_json(
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
    match tokio::time::timeout(REQUEST_TIMEOUT, client.request::<Value>(req)).await {
        Err(_) => Err(SendError {
            kind: OutcomeKind::Failed,
            code: None,
            message: "the API server did not answer in time".into(),
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
        Ok(Err(e)) => Err(SendError {
            kind: OutcomeKind::Failed,
            code: None,
            message: short_error(&e),
        }),
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
