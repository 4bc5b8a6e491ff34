//! How Applications drift on their own: a new commit lands for the manual-sync app (its
//! Deployment goes OutOfSync until someone syncs), or someone edits a live ConfigMap of the
//! self-heal app (OutOfSync until the automated sync puts it back).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::apps::{self, ARGOCD_NS, Drift};
use crate::ClusterState;
use crate::sim::clock;
use crate::sim::fields::{self, fnv64};
use crate::sim::kinds::kinds;

/// Simulated seconds until the next drift: `base` to twice `base`.
pub fn drift_secs(app: &str, n: u64, base: f64) -> f64 {
    base * (1.0 + (fnv64(format!("{app}/drift/{n}").as_bytes()) % 1000) as f64 / 1000.0)
}

/// The app drifts: a new commit (its Deployments, ConfigMaps and Services differ from the
/// live ones until a sync) or a live edit of one ConfigMap (until self-heal puts it back).
pub fn apply_drift(state: &ClusterState, app: &Value, drift: Drift, now: DateTime<Utc>) {
    let k = kinds();
    let name = fields::name(app).to_string();
    let hit: &[&str] = if drift == Drift::NewCommit {
        &["Deployment", "ConfigMap", "Service"]
    } else {
        &["ConfigMap"]
    };
    let mut targets: Vec<(String, String)> = fields::array_at(app, "/status/resources")
        .iter()
        .filter(|r| hit.contains(&fields::str_at(r, "/kind")))
        .map(|r| {
            (
                fields::str_at(r, "/kind").to_string(),
                fields::str_at(r, "/name").to_string(),
            )
        })
        .collect();
    if drift == Drift::LiveEdit {
        targets.truncate(1);
    }
    let Some((_, first)) = targets.first().cloned() else {
        return;
    };
    if drift == Drift::LiveEdit {
        let ns = fields::str_at(app, "/spec/destination/namespace");
        state.store.modify(k.configmap, ns, &first, |v| {
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
    // A commit already waiting (a sync of it failed) moves on to the next one.
    let current = fields::str_at(app, "/status/sync/revision");
    let next = (next_id..next_id + 64)
        .map(|n| apps::sha(state, &name, n))
        .find(|r| r != current && !revision_seen(app, r))
        .unwrap_or_else(|| apps::sha(state, &name, next_id));
    state.store.modify(k.application, ARGOCD_NS, &name, |v| {
        if drift == Drift::NewCommit {
            v["status"]["sync"]["revision"] = json!(next);
        }
        v["status"]["sync"]["status"] = json!("OutOfSync");
        v["status"]["reconciledAt"] = json!(clock::fmt(now));
        if let Some(rs) = v
            .pointer_mut("/status/resources")
            .and_then(Value::as_array_mut)
        {
            for r in rs.iter_mut() {
                let id = (
                    fields::str_at(r, "/kind").to_string(),
                    fields::str_at(r, "/name").to_string(),
                );
                if targets.contains(&id) {
                    r["status"] = json!("OutOfSync");
                }
            }
        }
    });
}

/// Whether `rev` was already deployed or attempted (a new commit is never an old one).
fn revision_seen(app: &Value, rev: &str) -> bool {
    fields::array_at(app, "/status/history")
        .iter()
        .any(|h| fields::str_at(h, "/revision") == rev)
        || fields::str_at(app, "/status/operationState/syncResult/revision") == rev
}

/// Puts a freshly seeded app into drift (the seeded OutOfSync state).
pub fn seed_drift(state: &ClusterState, app: &Value, drift: Drift) {
    apply_drift(state, app, drift, clock::now());
}
