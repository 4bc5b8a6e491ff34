//! The simulated Argo CD application controller.
//!
//! - A client writes the top-level `operation` (as `kubectl patch --type merge` or the API
//!   server's `SetAppOperation` would): the controller records `status.operationState`
//!   (Running, a copy of the operation, startedAt), applies the sync a few simulated seconds
//!   later (OutOfSync resources are applied for real: a new image rolls the Deployment, an
//!   edited ConfigMap is reverted), then marks it Succeeded with `syncResult`, appends
//!   `status.history`, sets `status.sync` and clears `operation`. Setting
//!   `operationState.phase: Terminating` ends a running operation as Failed.
//! - The `argocd.argoproj.io/refresh` annotation is removed after a refresh, which moves
//!   `status.reconciledAt`; apps also refresh every 180 simulated seconds.
//! - Resources and health follow the live objects the app tracks.
//! - Drift: the manual-sync app gets new commits (OutOfSync until synced); the self-heal app
//!   has a live object edited, then syncs itself back with an automated operation.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::apps::{self, ARGOCD_NS, Drift};
use crate::demo::ClusterState;
use crate::demo::api::store::WatchEvent;
use crate::demo::sim::clock;
use crate::demo::sim::controller::{Key, Queue, Reconciler, key};
use crate::demo::sim::events::{self, Severity, Source};
use crate::demo::sim::fields::{self, fnv64};
use crate::demo::sim::kinds::kinds;
use crate::demo::sim::pace::Pace;
use crate::demo::sim::workloads::build::INSTANCE;
use crate::demo::sim::workloads::catalog::CONFIG_MAPS;

/// The annotation that asks for a refresh.
pub const REFRESH: &str = "argocd.argoproj.io/refresh";
/// Simulated seconds between periodic refreshes (Argo CD's default `timeout.reconciliation`).
pub const RESYNC_SECS: f64 = 180.0;
const SOURCE: &str = "argocd-application-controller";

/// Simulated seconds a sync operation runs.
fn operation_secs(app: &str, n: u64) -> f64 {
    3.0 + (fnv64(format!("{app}/op/{n}").as_bytes()) % 3000) as f64 / 1000.0
}

/// The next image tag after `image`'s (`x.y.z` → `x.y.(z+1)`).
#[must_use]
pub fn bump_image(image: &str) -> String {
    let Some((repo, tag)) = image.rsplit_once(':') else {
        return image.to_string();
    };
    let mut parts: Vec<String> = tag.split('.').map(str::to_string).collect();
    match parts.last().and_then(|p| p.parse::<u64>().ok()) {
        Some(patch) => {
            if let Some(last) = parts.last_mut() {
                *last = (patch + 1).to_string();
            }
            format!("{repo}:{}", parts.join("."))
        }
        None => format!("{repo}:{tag}-1"),
    }
}

/// Per-app timers kept in memory (the object holds the rest of the state).
#[derive(Debug, Default)]
struct AppTimers {
    next_refresh: Option<Instant>,
    next_drift: Option<Instant>,
    auto_sync_at: Option<Instant>,
    operation_done_at: Option<Instant>,
    counter: u64,
}

/// The Argo CD application controller as a [`Reconciler`].
#[derive(Debug, Default)]
pub struct AppController {
    timers: HashMap<String, AppTimers>,
    drift: HashMap<String, Drift>,
}

impl AppController {
    #[must_use]
    pub fn new(state: &ClusterState) -> Self {
        let drift = apps::catalog(state)
            .into_iter()
            .map(|a| (a.name, a.drift))
            .collect();
        Self {
            timers: HashMap::new(),
            drift,
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
            let running_this = op_phase == "Running"
                && op_state.as_ref().and_then(|s| s.get("operation")) == Some(&op);
            if op_phase == "Terminating" {
                finish_failed(state, name, "Operation terminated", now);
                t.operation_done_at = None;
            } else if !running_this {
                t.counter += 1;
                let done = now_i + pace.secs(operation_secs(name, t.counter));
                t.operation_done_at = Some(done);
                start_operation(state, &app, &op, now);
                wake.push(done);
            } else {
                let done = *t
                    .operation_done_at
                    .get_or_insert_with(|| now_i + pace.secs(operation_secs(name, 0)));
                if done <= now_i {
                    t.operation_done_at = None;
                    complete_operation(state, &app, &op, now);
                    t.next_refresh = Some(now_i + pace.secs(RESYNC_SECS));
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
        let health = fields::str_at(&app, "/status/health/status");
        if !before_health.is_empty() && health != before_health {
            events::record(
                state,
                &app,
                Severity::Normal,
                "ResourceUpdated",
                &format!("Updated health status: {before_health} -> {health}"),
                Source::component(SOURCE),
            );
        }
        if let Some(at) = t.next_refresh {
            wake.push(at);
        }

        // Drift, only from a synced state.
        let synced = fields::str_at(&app, "/status/sync/status") == "Synced";
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
        if !before_sync.is_empty() && sync_status != before_sync {
            events::record(
                state,
                &after,
                Severity::Normal,
                "ResourceUpdated",
                &format!("Updated sync status: {before_sync} -> {sync_status}"),
                Source::component(SOURCE),
            );
        }

        // Automated sync of an OutOfSync app, after a short delay.
        let automated = after
            .pointer("/spec/syncPolicy/automated")
            .is_some_and(Value::is_object)
            && after.pointer("/spec/syncPolicy/automated/enabled") != Some(&json!(false));
        if automated && sync_status == "OutOfSync" {
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

/// Simulated seconds until the next drift: `base` to twice `base`.
fn drift_secs(app: &str, n: u64, base: f64) -> f64 {
    base * (1.0 + (fnv64(format!("{app}/drift/{n}").as_bytes()) % 1000) as f64 / 1000.0)
}

fn start_operation(state: &ClusterState, app: &Value, op: &Value, now: DateTime<Utc>) {
    let k = kinds();
    let name = fields::name(app);
    state.store.modify(k.application, ARGOCD_NS, name, |v| {
        v["status"]["operationState"] = json!({
            "operation": op,
            "phase": "Running",
            "message": "one or more tasks are running",
            "startedAt": clock::fmt(now),
        });
    });
    let revision = match fields::str_at(op, "/sync/revision") {
        "" => fields::str_at(app, "/status/sync/revision").to_string(),
        r => r.to_string(),
    };
    let message = if fields::bool_at(op, "/initiatedBy/automated") {
        format!("Initiated automated sync to '{revision}'")
    } else {
        let user = match fields::str_at(op, "/initiatedBy/username") {
            "" => "admin",
            u => u,
        };
        format!("{user} initiated sync to {revision}")
    };
    events::record(
        state,
        app,
        Severity::Normal,
        "OperationStarted",
        &message,
        Source::component(SOURCE),
    );
}

fn finish_failed(state: &ClusterState, name: &str, message: &str, now: DateTime<Utc>) {
    let k = kinds();
    state.store.modify(k.application, ARGOCD_NS, name, |v| {
        if let Some(m) = v.as_object_mut() {
            m.remove("operation");
        }
        v["status"]["operationState"]["phase"] = json!("Failed");
        v["status"]["operationState"]["message"] = json!(message);
        v["status"]["operationState"]["finishedAt"] = json!(clock::fmt(now));
    });
}

/// Whether a sync's `resources` selection (empty = all) includes a status resource.
fn selected(op: &Value, r: &Value) -> bool {
    let sel = fields::array_at(op, "/sync/resources");
    sel.is_empty()
        || sel.iter().any(|s| {
            fields::str_at(s, "/kind") == fields::str_at(r, "/kind")
                && fields::str_at(s, "/name") == fields::str_at(r, "/name")
                && fields::str_at(s, "/group") == fields::str_at(r, "/group")
                && (fields::str_at(s, "/namespace").is_empty()
                    || fields::str_at(s, "/namespace") == fields::str_at(r, "/namespace"))
        })
}

/// Applies the desired state of one OutOfSync resource to the live object.
fn apply_resource(state: &ClusterState, r: &Value) {
    let k = kinds();
    let ns = fields::str_at(r, "/namespace");
    let name = fields::str_at(r, "/name");
    match fields::str_at(r, "/kind") {
        "Deployment" => {
            state.store.modify(k.deployment, ns, name, |v| {
                if let Some(c) = v.pointer_mut("/spec/template/spec/containers/0") {
                    let next = bump_image(fields::str_at(c, "/image"));
                    c["image"] = json!(next);
                }
            });
        }
        "ConfigMap" => {
            if let Some((_, _, _, data)) = CONFIG_MAPS
                .iter()
                .find(|(n_s, n, _, _)| *n_s == ns && *n == name)
            {
                let desired: serde_json::Map<String, Value> = data
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), json!(v)))
                    .collect();
                state.store.modify(k.configmap, ns, name, |v| {
                    v["data"] = Value::Object(desired)
                });
            }
        }
        _ => {}
    }
}

fn complete_operation(state: &ClusterState, app: &Value, op: &Value, now: DateTime<Utc>) {
    let k = kinds();
    let name = fields::name(app).to_string();
    let dry_run = fields::bool_at(op, "/sync/dryRun");
    let head = fields::str_at(app, "/status/sync/revision").to_string();
    let revision = match fields::str_at(op, "/sync/revision") {
        "" => head.clone(),
        r => r.to_string(),
    };
    let resources = fields::array_at(app, "/status/resources").to_vec();
    let mut results = Vec::new();
    for r in resources.iter().filter(|r| selected(op, r)) {
        let changed = fields::str_at(r, "/status") == "OutOfSync";
        if changed && !dry_run {
            apply_resource(state, r);
        }
        results.push(apps::sync_result(r, changed, dry_run));
    }
    let updated = state.store.modify(k.application, ARGOCD_NS, &name, |v| {
        if let Some(m) = v.as_object_mut() {
            m.remove("operation");
        }
        let started = v
            .pointer("/status/operationState/startedAt")
            .cloned()
            .unwrap_or_else(|| json!(clock::fmt(now)));
        v["status"]["operationState"] = json!({
            "operation": op,
            "phase": "Succeeded",
            "message": "successfully synced (all tasks run)",
            "startedAt": started,
            "finishedAt": clock::fmt(now),
            "syncResult": {
                "resources": results,
                "revision": revision,
                "source": v.pointer("/spec/source").cloned().unwrap_or(Value::Null),
            },
        });
        v["status"]["reconciledAt"] = json!(clock::fmt(now));
        if dry_run {
            return;
        }
        let mut all_synced = true;
        if let Some(rs) = v
            .pointer_mut("/status/resources")
            .and_then(Value::as_array_mut)
        {
            for r in rs.iter_mut() {
                if selected(op, r) {
                    r["status"] = json!("Synced");
                }
                all_synced &= fields::str_at(r, "/status") == "Synced";
            }
        }
        let rolled_back = revision != head;
        if rolled_back {
            // Live state now differs from HEAD again.
            if let Some(r) = v
                .pointer_mut("/status/resources")
                .and_then(Value::as_array_mut)
                .and_then(|rs| {
                    rs.iter_mut()
                        .find(|r| fields::str_at(r, "/kind") == "Deployment")
                })
            {
                r["status"] = json!("OutOfSync");
            }
        }
        v["status"]["sync"]["status"] = json!(if all_synced && !rolled_back {
            "Synced"
        } else {
            "OutOfSync"
        });
        let mut history = fields::array_at(v, "/status/history").to_vec();
        let id = history
            .iter()
            .filter_map(|h| h.get("id").and_then(Value::as_i64))
            .max()
            .map_or(0, |m| m + 1);
        let mut entry = json!({
            "id": id,
            "revision": revision,
            "deployStartedAt": started,
            "deployedAt": clock::fmt(now),
            "source": v.pointer("/spec/source").cloned().unwrap_or(Value::Null),
        });
        if let Some(by) = op.get("initiatedBy") {
            entry["initiatedBy"] = by.clone();
        }
        history.push(entry);
        let limit = fields::i64_at(v, "/spec/revisionHistoryLimit", 10).max(1) as usize;
        if history.len() > limit {
            history.drain(..history.len() - limit);
        }
        v["status"]["history"] = json!(history);
    });
    if let Some(after) = updated {
        events::record(
            state,
            &after,
            Severity::Normal,
            "OperationCompleted",
            &format!("Sync operation to {revision} succeeded"),
            Source::component(SOURCE),
        );
    }
}

/// The app drifts: a new commit (manual app) or a live edit (self-heal app).
fn apply_drift(state: &ClusterState, app: &Value, drift: Drift, now: DateTime<Utc>) {
    let k = kinds();
    let name = fields::name(app).to_string();
    let target_kind = if drift == Drift::NewCommit {
        "Deployment"
    } else {
        "ConfigMap"
    };
    let Some(target) = fields::array_at(app, "/status/resources")
        .iter()
        .find(|r| fields::str_at(r, "/kind") == target_kind)
        .cloned()
    else {
        return;
    };
    let target_name = fields::str_at(&target, "/name").to_string();
    if drift == Drift::LiveEdit {
        let ns = fields::str_at(&target, "/namespace");
        state.store.modify(k.configmap, ns, &target_name, |v| {
            if let Some(data) = v["data"].as_object_mut()
                && let Some((key, _)) = data.iter().next().map(|(k, v)| (k.clone(), v.clone()))
            {
                data.insert(key, json!("edited-live"));
            }
        });
    }
    let next_id = fields::array_at(app, "/status/history")
        .iter()
        .filter_map(|h| h.get("id").and_then(Value::as_i64))
        .max()
        .map_or(0, |m| m + 1);
    state.store.modify(k.application, ARGOCD_NS, &name, |v| {
        if drift == Drift::NewCommit {
            v["status"]["sync"]["revision"] = json!(apps::sha(state, &name, next_id));
        }
        v["status"]["sync"]["status"] = json!("OutOfSync");
        v["status"]["reconciledAt"] = json!(clock::fmt(now));
        if let Some(rs) = v
            .pointer_mut("/status/resources")
            .and_then(Value::as_array_mut)
        {
            for r in rs.iter_mut() {
                if fields::str_at(r, "/kind") == target_kind
                    && fields::str_at(r, "/name") == target_name
                {
                    r["status"] = json!("OutOfSync");
                }
            }
        }
    });
}

/// What the controller writes to start an automated sync.
fn request_auto_sync(state: &ClusterState, app: &Value) {
    let k = kinds();
    let prune = fields::bool_at(app, "/spec/syncPolicy/automated/prune");
    let revision = fields::str_at(app, "/status/sync/revision").to_string();
    state
        .store
        .modify(k.application, ARGOCD_NS, fields::name(app), |v| {
            v["operation"] = json!({
                "sync": { "revision": revision, "prune": prune },
                "initiatedBy": { "automated": true },
                "retry": { "limit": 5 },
            });
        });
}

/// Puts a freshly seeded app into drift (the seeded OutOfSync state).
pub fn seed_drift(state: &ClusterState, app: &Value, drift: Drift) {
    apply_drift(state, app, drift, clock::now());
}

impl Reconciler for AppController {
    fn resync(&mut self, state: &ClusterState, queue: &mut Queue) {
        let k = kinds();
        let (all, _) = state.store.list(k.application, Some(ARGOCD_NS));
        for a in all {
            queue.push((k.application, a.key.clone()));
        }
    }

    fn on_event(&mut self, state: &ClusterState, ev: &WatchEvent, queue: &mut Queue) {
        let k = kinds();
        if ev.type_id == k.application {
            if ev.object.key.ns == ARGOCD_NS {
                queue.push((k.application, ev.object.key.clone()));
            }
            return;
        }
        let tracked = [
            k.service,
            k.configmap,
            k.deployment,
            k.statefulset,
            k.hpa,
            k.rollout,
        ];
        if tracked.contains(&ev.type_id)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_bump_their_patch_version() {
        assert_eq!(
            bump_image("registry.example.com/payments/ledger:3.2.5"),
            "registry.example.com/payments/ledger:3.2.6"
        );
        assert_eq!(bump_image("redis:7.0.15-alpine"), "redis:7.0.15-alpine-1");
        assert_eq!(bump_image("busybox"), "busybox");
    }
}
