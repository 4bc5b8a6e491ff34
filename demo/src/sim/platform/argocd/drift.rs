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

/// The app drifts: a new commit (manual app) or a live edit (self-heal app).
pub fn apply_drift(state: &ClusterState, app: &Value, drift: Drift, now: DateTime<Utc>) {
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

/// Puts a freshly seeded app into drift (the seeded OutOfSync state).
pub fn seed_drift(state: &ClusterState, app: &Value, drift: Drift) {
    apply_drift(state, app, drift, clock::now());
}
