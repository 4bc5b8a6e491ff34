//! The simulated Argo CD application controller: decides, per Application, what happens next.
//!
//! - A client writes the top-level `operation` (as `kubectl patch --type merge` or the API
//!   server's `SetAppOperation` would): the operation starts, and finishes a few simulated
//!   seconds later (see [`super::operations`]). Setting `operationState.phase: Terminating`
//!   ends a running operation as Failed.
//! - The `argocd.argoproj.io/refresh` annotation is removed after a refresh, which moves
//!   `status.reconciledAt`; apps also refresh every 180 simulated seconds.
//! - Resources and health follow the live objects the app tracks.
//! - Drift (see [`super::drift`]) on timers; automated apps that are OutOfSync request an
//!   automated sync a few simulated seconds later.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::apps::{self, ARGOCD_NS, Drift, tracked_types};
use super::drift::{apply_drift, drift_secs};
use super::operations::{
    complete_operation, fail_attempt, finish_failed, operation_secs, request_auto_sync,
    start_operation,
};
use super::projects;
use crate::ClusterState;
use crate::api::store::WatchEvent;
use crate::sim::clock;
use crate::sim::controller::{Key, Queue, Reconciler, key};
use crate::sim::events::{self, Severity, Source};
use crate::sim::fields;
use crate::sim::kinds::kinds;
use crate::sim::pace::Pace;
use crate::sim::workloads::build::INSTANCE;

/// The annotation that asks for a refresh.
pub const REFRESH: &str = "argocd.argoproj.io/refresh";
/// Simulated seconds between periodic refreshes (Argo CD's default `timeout.reconciliation`).
pub const RESYNC_SECS: f64 = 180.0;
pub const SOURCE: &str = "argocd-application-controller";

/// Per-app timers kept in memory (the object holds the rest of the state).
#[derive(Debug, Default)]
struct AppTimers {
    next_refresh: Option<Instant>,
    next_drift: Option<Instant>,
    auto_sync_at: Option<Instant>,
    operation_done_at: Option<Instant>,
    /// When the next attempt of a failing operation starts (its retry backoff).
    retry_at: Option<Instant>,
    counter: u64,
}

/// The message of an operation a sync window holds.
pub const BLOCKED: &str = "Sync operation blocked by sync window";

/// The Argo CD application controller as a [`Reconciler`].
#[derive(Debug, Default)]
pub struct AppController {
    timers: HashMap<String, AppTimers>,
    drift: HashMap<String, Drift>,
    /// Apps whose PreSync hook fails.
    hook_fails: std::collections::HashSet<String>,
}

impl AppController {
    #[must_use]
    pub fn new(state: &ClusterState) -> Self {
        let catalog = apps::catalog(state);
        let hook_fails = catalog
            .iter()
            .filter(|a| a.hook_fails)
            .map(|a| a.name.clone())
            .collect();
        let drift = catalog.into_iter().map(|a| (a.name, a.drift)).collect();
        Self {
            timers: HashMap::new(),
            drift,
            hook_fails,
        }
    }

    fn sync_app(&mut self, state: &ClusterState, name: &str) -> Option<Duration> {
        let k = kinds();
        let pace = Pace::new(state.options.speed);
        let Some(app) = state.store.get_value(k.application, ARGOCD_NS, name) else {
            self.timers.remove(name);
            return None;
        };
        let drift = self.drift.get(name).copied().unwrap_or(Drift::None);
        let t = self.timers.entry(name.to_string()).or_default();
        let now_i = Instant::now();
        let now = clock::now();
        let mut wake: Vec<Instant> = Vec::new();

        let operation = app.get("operation").filter(|o| o.is_object()).cloned();
        let op_state = app.pointer("/status/operationState").cloned();
        let op_phase = op_state
            .as_ref()
            .map_or("", |s| fields::str_at(s, "/phase"))
            .to_string();

        if let Some(op) = operation {
            t.auto_sync_at = None;
            let message = op_state
                .as_ref()
                .map_or("", |s| fields::str_at(s, "/message"));
            let running_this = op_phase == "Running"
                && message != BLOCKED
                && op_state.as_ref().and_then(|s| s.get("operation")) == Some(&op);
            let manual = !fields::bool_at(&op, "/initiatedBy/automated");
            if op_phase == "Terminating" {
                finish_failed(state, name, "Operation terminated", now);
                t.operation_done_at = None;
                t.retry_at = None;
            } else if !running_this && projects::sync_blocked(state, &app, manual, now) {
                // The controller holds an operation a sync window blocks, and looks again.
                if message != BLOCKED {
                    start_operation(state, &app, &op, now);
                    state.store.modify(k.application, ARGOCD_NS, name, |v| {
                        v["status"]["operationState"]["message"] = json!(BLOCKED);
                    });
                }
                wake.push(now_i + Duration::from_secs(30));
            } else if !running_this {
                t.counter += 1;
                t.retry_at = None;
                let done = now_i + pace.secs(operation_secs(name, t.counter));
                t.operation_done_at = Some(done);
                start_operation(state, &app, &op, now);
                wake.push(done);
            } else if let Some(at) = t.retry_at {
                if at <= now_i {
                    // The next attempt of a failing operation.
                    t.retry_at = None;
                    state.store.modify(k.application, ARGOCD_NS, name, |v| {
                        v["status"]["operationState"]["message"] =
                            json!("one or more tasks are running");
                        if let Some(s) = v["status"]["operationState"].as_object_mut() {
                            s.remove("finishedAt");
                        }
                    });
                    let done = now_i + pace.secs(operation_secs(name, t.counter));
                    t.operation_done_at = Some(done);
                    wake.push(done);
                } else {
                    wake.push(at);
                }
            } else {
                let done = *t
                    .operation_done_at
                    .get_or_insert_with(|| now_i + pace.secs(operation_secs(name, 0)));
                if done <= now_i {
                    t.operation_done_at = None;
                    if self.hook_fails.contains(name) {
                        if let Some(wait) = fail_attempt(state, &app, &op, now) {
                            let at = now_i + pace.secs(wait);
                            t.retry_at = Some(at);
                            wake.push(at);
                        }
                    } else {
                        complete_operation(state, &app, &op, now);
                        t.next_refresh = Some(now_i + pace.secs(RESYNC_SECS));
                    }
                    if drift == Drift::NewCommit {
                        t.next_drift = Some(now_i + pace.secs(drift_secs(name, t.counter, 300.0)));
                    }
                } else {
                    wake.push(done);
                }
            }
            return wake
                .into_iter()
                .min()
                .map(|w| w.saturating_duration_since(Instant::now()));
        }
        if op_phase == "Terminating" {
            finish_failed(state, name, "Operation terminated", now);
        }

        // Refresh: requested, periodic, or just the live objects changing.
        let requested = !fields::annotation(&app, REFRESH).is_empty();
        let periodic = t.next_refresh.is_none_or(|at| at <= now_i);
        if requested || periodic {
            t.next_refresh = Some(now_i + pace.secs(RESYNC_SECS));
        }
        let before_sync = fields::str_at(&app, "/status/sync/status").to_string();
        let before_health = fields::str_at(&app, "/status/health/status").to_string();
        // Computed before the write: the store's lock is held while `modify` runs its closure.
        let mut refreshed = app.clone();
        apps::refresh_status(state, &mut refreshed, now);
        let updated = state.store.modify(k.application, ARGOCD_NS, name, |v| {
            for f in ["resources", "health", "summary"] {
                v["status"][f] = refreshed["status"][f].clone();
            }
            if requested || periodic {
                v["status"]["reconciledAt"] = json!(clock::fmt(now));
                if let Some(a) = v["metadata"]["annotations"].as_object_mut() {
                    a.remove(REFRESH);
                }
            }
        });
        let app = updated.unwrap_or(app);
        status_changed(state, &app, "health", &before_health);
        if let Some(at) = t.next_refresh {
            wake.push(at);
        }

        // Drift, only from a synced state (or, for a new commit, after a failed sync: the
        // next commit is the fix's chance).
        let last_failed = matches!(
            fields::str_at(&app, "/status/operationState/phase"),
            "Failed" | "Error"
        );
        let synced = fields::str_at(&app, "/status/sync/status") == "Synced"
            || (drift == Drift::NewCommit && last_failed);
        if drift != Drift::None {
            let base = if drift == Drift::NewCommit {
                300.0
            } else {
                180.0
            };
            let at = *t
                .next_drift
                .get_or_insert_with(|| now_i + pace.secs(drift_secs(name, t.counter, base * 0.4)));
            if at <= now_i && synced {
                t.counter += 1;
                apply_drift(state, &app, drift, now);
                t.next_drift = Some(now_i + pace.secs(drift_secs(name, t.counter, base)));
            }
            if let Some(at) = t.next_drift.filter(|_| synced) {
                wake.push(at);
            }
        }
        let after = state
            .store
            .get_value(k.application, ARGOCD_NS, name)
            .unwrap_or(app);
        let sync_status = fields::str_at(&after, "/status/sync/status");
        status_changed(state, &after, "sync", &before_sync);

        // Automated sync of an OutOfSync app, after a short delay.
        let automated = after
            .pointer("/spec/syncPolicy/automated")
            .is_some_and(Value::is_object)
            && after.pointer("/spec/syncPolicy/automated/enabled") != Some(&json!(false));
        // Argo CD does not retry a commit whose automated sync failed, and a window may block.
        let failed_this =
            matches!(
                fields::str_at(&after, "/status/operationState/phase"),
                "Failed" | "Error"
            ) && fields::str_at(&after, "/status/operationState/operation/sync/revision")
                == fields::str_at(&after, "/status/sync/revision");
        if automated
            && sync_status == "OutOfSync"
            && !failed_this
            && !projects::sync_blocked(state, &after, false, now)
        {
            let at = *t
                .auto_sync_at
                .get_or_insert_with(|| now_i + pace.secs(8.0 + (t.counter % 7) as f64));
            if at <= now_i {
                t.auto_sync_at = None;
                request_auto_sync(state, &after);
            } else {
                wake.push(at);
            }
        } else {
            t.auto_sync_at = None;
        }
        wake.into_iter()
            .min()
            .map(|w| w.saturating_duration_since(Instant::now()))
    }
}

/// Records Argo CD's `ResourceUpdated` event when `status.<what>.status` (`sync` or
/// `health`) moved away from `before`; nothing when it was unset before.
fn status_changed(state: &ClusterState, app: &Value, what: &str, before: &str) {
    let now = fields::str_at(app, &format!("/status/{what}/status"));
    if !before.is_empty() && now != before {
        events::record(
            state,
            app,
            Severity::Normal,
            "ResourceUpdated",
            &format!("Updated {what} status: {before} -> {now}"),
            Source::component(SOURCE),
        );
    }
}

impl Reconciler for AppController {
    fn resync(&mut self, state: &ClusterState, queue: &mut Queue) {
        queue.push_all(state, kinds().application, Some(ARGOCD_NS));
    }

    fn on_event(&mut self, state: &ClusterState, ev: &WatchEvent, queue: &mut Queue) {
        let k = kinds();
        if ev.type_id == k.application {
            if ev.object.key.ns == ARGOCD_NS {
                queue.push((k.application, ev.object.key.clone()));
                // A child of an app-of-apps changed: its parent's resources did too.
                if let Some(parent) = ev.object.label(INSTANCE) {
                    queue.later(
                        key(k.application, ARGOCD_NS, parent),
                        Pace::new(state.options.speed).secs(1.0),
                    );
                }
            }
            return;
        }
        if tracked_types().contains(&ev.type_id)
            && let Some(app) = ev.object.label(INSTANCE)
        {
            // Debounced: a burst of changes to one app's objects is one refresh.
            queue.later(
                key(k.application, ARGOCD_NS, app),
                Pace::new(state.options.speed).secs(1.0),
            );
        }
    }

    fn reconcile(&mut self, state: &ClusterState, key: &Key) -> Option<Duration> {
        self.sync_app(state, &key.1.name)
    }
}
