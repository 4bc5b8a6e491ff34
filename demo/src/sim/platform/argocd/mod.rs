//! Argo CD Applications (namespace `argocd`) and their simulated application controller.
//!
//! Per cluster: `shop` (automated, Degraded while `catalog` crash-loops), `payments` (manual
//! sync; seeded OutOfSync after a new commit, and drifts again some minutes after each sync),
//! `search` (self-heal; a live ConfigMap edit drifts it every few minutes and an automated sync
//! brings it back), `platform-monitoring`, `velero` (where Velero is installed), and one
//! Application per ten `--scale` Deployments.

pub mod apps;
pub mod controller;
pub mod drift;
pub mod health;
pub mod operations;

use std::sync::Arc;

use chrono::Duration as ChronoDuration;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use self::apps::{ARGOCD_NS, Drift};
use crate::ClusterState;
use crate::sim::clock;
use crate::sim::controller as reconcile;
use crate::sim::fields::{self, fnv64};
use crate::sim::kinds::kinds;

/// Seeds the Applications with their history, last operation and live-derived status.
pub fn seed(state: &ClusterState) {
    let k = kinds();
    let now = clock::now();
    for app in apps::catalog(state) {
        let h = fnv64(app.name.as_bytes());
        let created = now - ChronoDuration::days(30 + (h % 30) as i64);
        let mut obj = apps::object(state, &app, created);
        let history = apps::seeded_history(state, &app, now);
        let Some(last) = history.last().cloned() else {
            continue;
        };
        obj["status"] = json!({
            "sync": {
                "status": "Synced",
                "revision": last["revision"],
                "comparedTo": { "source": obj["spec"]["source"], "destination": obj["spec"]["destination"] },
            },
            "history": history,
            "sourceType": app.source_type,
            "controllerNamespace": ARGOCD_NS,
            "reconciledAt": clock::fmt(now - ChronoDuration::seconds(20 + (h % 150) as i64)),
        });
        apps::refresh_status(state, &mut obj, now);
        obj["status"]["health"]["lastTransitionTime"] = last["deployedAt"].clone();
        let resources = fields::array_at(&obj, "/status/resources").to_vec();
        obj["status"]["operationState"] = apps::succeeded_operation(&obj, &last, &resources);
        let Ok(stored) = state.store.insert(k.application, obj) else {
            continue;
        };
        if app.drift == Drift::NewCommit {
            drift::seed_drift(state, &stored, app.drift);
        }
    }
}

/// Starts the application controller.
pub fn spawn(state: &Arc<ClusterState>, shutdown: &CancellationToken) {
    reconcile::spawn(state, shutdown, controller::AppController::new(state));
}
