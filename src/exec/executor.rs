//! The executor: the only code that changes a cluster. For every action it refuses in
//! read-only mode (whatever the UI showed), refuses on data that is not live, never runs the
//! same action on the same object twice at once, checks RBAC with SelfSubjectAccessReview,
//! re-reads the object and refuses only if what the decision rests on changed (the plan's
//! checks and the object's uid; a controller's status writes do not count), writes the audit
//! intent before the first request (no record, no request), sends each request with the
//! resourceVersion it just read as a precondition (a race is caught by the API server too, and
//! answered by reading again, a bounded number of times), reports a request that may have been
//! applied as an unknown outcome with what the object shows now, supports server-side dry run,
//! and writes the outcome. On exit, actions still in flight get a brief wait, then an
//! "outcome unknown" record. Outcomes come back to the UI as events.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use super::audit::AuditLog;
use super::plan::{ActionPlan, PlanBuild};
use super::request::{KubeRequest, PatchType, Verb};
use super::wire::{refusal, send_json, with_precondition};
use crate::world::World;

pub use super::outcome::{ExecEvent, ExecOptions, Outcome, OutcomeKind, RbacVerdict};
pub use super::wire::rbac;

/// Reads and sends at most this often when a busy controller keeps moving the object.
const MAX_ATTEMPTS: u32 = 5;

/// One run of a plan: the UI's id and the id its audit lines share.
#[derive(Debug, Clone)]
pub(super) struct Run {
    pub(super) id: u64,
    pub(super) audit_id: String,
}

/// Carries out plans.
#[derive(Debug)]
pub struct Executor {
    pub(super) world: Arc<World>,
    pub(super) options: ExecOptions,
    pub(super) audit: AuditLog,
    /// Actions under way, by (cluster, object, action): refuses doubles, and lets `drain`
    /// record what is still running at exit.
    inflight: Mutex<HashMap<String, (Run, ActionPlan)>>,
    done: Notify,
    pub(super) events: mpsc::Sender<ExecEvent>,
}

static RUNS: AtomicU64 = AtomicU64::new(1);

fn inflight_key(plan: &ActionPlan) -> String {
    format!(
        "{}|{}|{}",
        plan.cluster,
        plan.target.path(None),
        plan.action
    )
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
                inflight: Mutex::new(HashMap::new()),
                done: Notify::new(),
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

    fn timeout(&self) -> Duration {
        self.options
            .request_timeout
            .unwrap_or(super::wire::REQUEST_TIMEOUT)
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
        let run = Run {
            id,
            audit_id: format!(
                "{}-{}-{}",
                std::process::id(),
                chrono::Utc::now().timestamp_millis(),
                RUNS.fetch_add(1, Ordering::Relaxed)
            ),
        };
        if self.is_readonly(&plan.cluster) {
            let why = if self.options.readonly {
                "read-only mode (--readonly): no action is sent"
            } else {
                "this context is read-only in config.toml"
            };
            self.finish(&run, &plan, &[], Outcome::new(OutcomeKind::Refused, why));
            return;
        }
        if !plan.data_state.is_live() {
            let msg = format!(
                "the data on screen is not live ({}); refusing to act on it",
                plan.data_state.label(crate::clock::Clock::System)
            );
            self.finish(&run, &plan, &[], Outcome::new(OutcomeKind::Refused, msg));
            return;
        }
        let key = inflight_key(&plan);
        {
            let mut inflight = self
                .inflight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if inflight.contains_key(&key) {
                drop(inflight);
                self.finish(
                    &run,
                    &plan,
                    &[],
                    Outcome::new(
                        OutcomeKind::Refused,
                        "the same action is already in progress",
                    ),
                );
                return;
            }
            inflight.insert(key.clone(), (run.clone(), plan.clone()));
        }
        let this = self.clone();
        tokio::spawn(async move {
            // A panic in the task is an outcome too: the key is released and recorded.
            let result = std::panic::AssertUnwindSafe(this.run(&run, &plan))
                .catch_unwind()
                .await;
            let (sent, outcome) = result.unwrap_or_else(|_| {
                (
                    Vec::new(),
                    Outcome::new(
                        OutcomeKind::Unknown,
                        "the executor task failed while the action was under way; look at \
                         the object before trying again",
                    ),
                )
            });
            let still_ours = this
                .inflight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&key)
                .is_some();
            // After `drain` gave up on it, its outcome is already recorded as unknown.
            if still_ours {
                this.finish(&run, &plan, &sent, outcome);
            }
            this.done.notify_waiters();
        });
    }

    /// Waits up to `patience` for actions in flight; records the rest as outcome unknown.
    /// Called on exit (quit, SIGTERM, SIGHUP), before the runtime goes away.
    pub async fn drain(&self, patience: Duration) {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let notified = self.done.notified();
            if self
                .inflight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .is_empty()
            {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
        let left: Vec<(Run, ActionPlan)> = self
            .inflight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain()
            .map(|(_, v)| v)
            .collect();
        for (run, plan) in left {
            self.finish(
                &run,
                &plan,
                &[],
                Outcome::new(
                    OutcomeKind::Unknown,
                    "kdeck exited while the action was under way; look at the object before \
                     trying again",
                ),
            );
        }
    }

    async fn run(&self, run: &Run, plan: &ActionPlan) -> (Vec<Value>, Outcome) {
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
            let current = match send_json(
                self.timeout(),
                &client,
                "GET",
                &plan.target.path(None),
                None,
                None,
                false,
            )
            .await
            {
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
            if sent.is_empty() {
                // Write-ahead: no record, no request.
                let planned: Vec<Value> =
                    queue.iter().map(|r| Value::String(r.summary())).collect();
                if let Err(e) = self.record(run, plan, "intent", planned, "pending", "") {
                    return (
                        sent,
                        Outcome::new(
                            OutcomeKind::Refused,
                            format!("{e}; refusing to act without a record"),
                        ),
                    );
                }
            }
            while let Some(req) = queue.front().cloned() {
                // The precondition is the resourceVersion of the object the checks were made
                // on; a request to another object (an undo that patches the Deployment a
                // Rollout's `spec.workloadRef` names) goes as the upstream tool sends it.
                let on_target = req.target == plan.target;
                let body = if on_target {
                    with_precondition(&req, &rv)
                } else {
                    req.body.clone()
                };
                let (method, path) = (req.method(), req.path());
                sent.push(json!({
                    "method": method,
                    "path": path,
                    "patchType": req.patch_type.map(PatchType::content_type),
                    "body": body,
                }));
                match send_json(
                    self.timeout(),
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
                            && on_target
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
                    Err(e) if e.kind == OutcomeKind::Unknown => {
                        let now = self.describe_now(&client, plan).await;
                        return (
                            sent,
                            Outcome::new(
                                OutcomeKind::Unknown,
                                format!(
                                    "{}: the request may or may not have been applied \
                                     ({applied} of {total} confirmed); {now}",
                                    e.message
                                ),
                            ),
                        );
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

    /// What the object shows now, in terms of the plan's checks (for unknown outcomes).
    async fn describe_now(&self, client: &kube::Client, plan: &ActionPlan) -> String {
        match send_json(
            self.timeout(),
            client,
            "GET",
            &plan.target.path(None),
            None,
            None,
            false,
        )
        .await
        {
            Ok(now) => {
                let fields: Vec<String> = plan
                    .checks
                    .iter()
                    .map(|c| format!("{} {}", c.label, c.now_in(&now)))
                    .collect();
                let rv = now
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                if fields.is_empty() {
                    format!("{} now at resourceVersion {rv}", plan.object_name())
                } else {
                    format!("{} now shows {}", plan.object_name(), fields.join(", "))
                }
            }
            Err(e) => format!(
                "{} could not be read again: {}",
                plan.object_name(),
                e.message
            ),
        }
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
            PlanBuild::AfterFetch { fetch, build, .. } => {
                let source = send_json(
                    self.timeout(),
                    client,
                    "GET",
                    &fetch.path(None),
                    None,
                    None,
                    false,
                )
                .await
                .map_err(|e| {
                    Outcome::new(e.kind, format!("cannot read {}: {}", fetch.name, e.message))
                })?;
                build(&source, current).map_err(|why| Outcome::new(OutcomeKind::Refused, why))
            }
        }
    }
}
