//! The executor: the only code that changes a cluster. For every action it refuses in
//! read-only mode (whatever the UI showed), refuses on data that is not live, never runs the
//! same action on the same object twice at once, checks RBAC with SelfSubjectAccessReview,
//! re-reads the object and refuses only if what the decision rests on changed (the plan's
//! checks and the object's uid; a controller's status writes do not count), sends each
//! request with the resourceVersion it just read as a precondition (so a race is caught by the
//! API server too, and answered by reading again, a bounded number of times), supports
//! server-side dry run, and appends one audit line per attempt. Outcomes come back to the UI
//! as events.

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
/// Reads and sends at most this often when a busy controller keeps moving the object.
const MAX_ATTEMPTS: u32 = 5;

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
        let mut sent = Vec::new();
        let mut queue: std::collections::VecDeque<KubeRequest> = Default::default();
        let (mut applied, mut total, mut attempt) = (0usize, 0usize, 0u32);
        let mut legacy = false;
        let mut rv_before = String::new();
        let mut rv;
        let mut created: Vec<String> = Vec::new();
        'attempts: loop {
            attempt += 1;
            // Read the object now: is it still the one, and does what the user decided on
            // still hold?
            let current =
                match send_json(&client, "GET", &plan.target.path(None), None, None, false).await {
                    Ok(v) => v,
                    Err(e) => {
                        return (
                            sent,
                            Outcome::new(
                                e.kind,
                                format!("cannot read {}: {}", plan.object_name(), e.message),
                            ),
                        );
                    }
                };
            if let Some(conflict) = refusal(plan, &current, applied == 0) {
                return (sent, Outcome::new(OutcomeKind::Conflict, conflict));
            }
            rv = current
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if rv_before.is_empty() {
                rv_before.clone_from(&rv);
            }
            if applied == 0 {
                // (Re)build from this read: an undo's patch depends on the live object.
                queue = match self.build(&client, plan, &current).await {
                    Ok(r) => r.into(),
                    Err(o) => return (sent, o),
                };
                total = queue.len();
                if queue.is_empty() {
                    return (
                        sent,
                        Outcome::new(
                            OutcomeKind::Ok,
                            format!("{} {}: nothing to change", plan.action, plan.object_name()),
                        ),
                    );
                }
            }
            while let Some(req) = queue.front().cloned() {
                let body = with_precondition(&req, &rv);
                let (method, path) = (req.method(), req.path());
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
                        queue.pop_front();
                        if req.verb == Verb::Post {
                            created.push(format!(
                                "{} {}/{}",
                                req.target.kind,
                                resp.pointer("/metadata/namespace")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default(),
                                resp.pointer("/metadata/name")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                            ));
                            // The new object's version says nothing about the target's.
                            continue;
                        }
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
                        // one main-resource patch replaces what is left, as the upstream CLI
                        // does.
                        log::info!(
                            "{}: {} has no status subresource; sending one patch of the object",
                            plan.action,
                            plan.object_name()
                        );
                        legacy = true;
                        queue.clear();
                        queue.extend(plan.status_fallback.clone());
                        total = applied + queue.len();
                    }
                    // A 409 on a create is "already exists", not a moved resourceVersion:
                    // it fails, as it does for the upstream CLI.
                    Err(e)
                        if e.code == Some(409)
                            && req.verb != Verb::Post
                            && attempt < MAX_ATTEMPTS =>
                    {
                        // The controller wrote in between: read again (checks still hold?) and
                        // send what is left on the fresh version.
                        log::info!(
                            "{} {}: resourceVersion moved under us ({}); reading again",
                            plan.action,
                            plan.object_name(),
                            e.message
                        );
                        tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                        continue 'attempts;
                    }
                    Err(e) => {
                        let partial = if applied > 0 {
                            format!(
                                " (half applied: {applied} of {total} requests done, the rest \
                                 not sent; run {} again to finish)",
                                plan.action
                            )
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
            break;
        }
        let msg = if self.options.dry_run {
            format!(
                "{} {}: dry run accepted by the server, nothing changed",
                plan.action,
                plan.object_name()
            )
        } else if !created.is_empty() {
            format!(
                "{} {} on {}: created {}",
                plan.action,
                plan.object_name(),
                plan.cluster,
                created.join(", ")
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

    /// The requests of `plan` against the object as just read (`current`).
    async fn build(
        &self,
        client: &kube::Client,
        plan: &ActionPlan,
        current: &Value,
    ) -> Result<Vec<KubeRequest>, Outcome> {
        match &plan.build {
            PlanBuild::Ready(r) => Ok(r.clone()),
            PlanBuild::FromTarget { build, .. } => {
                build(current).map_err(|why| Outcome::new(OutcomeKind::Refused, why))
            }
            PlanBuild::AfterFetch { fetch, build } => {
                let source = send_json(client, "GET", &fetch.path(None), None, None, false)
                    .await
                    .map_err(|e| {
                        Outcome::new(e.kind, format!("cannot read {}: {}", fetch.name, e.message))
                    })?;
                build(&source, current).map_err(|why| Outcome::new(OutcomeKind::Refused, why))
            }
        }
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

/// Why the object as read now (`current`) must not be acted on: another object under the
/// same name, or (before anything was sent) a change to what the decision rests on.
fn refusal(plan: &ActionPlan, current: &Value, check_fields: bool) -> Option<String> {
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
