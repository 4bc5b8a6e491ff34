//! Small helpers shared by the simulated Argo Rollouts controllers: kind ids, JSON writes,
//! precise timestamps, hashes as Argo computes them, durations. Field readers, timestamp
//! formatting and Go durations are the ones every simulated controller uses
//! ([`crate::sim::fields`], [`crate::sim::clock`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::ClusterState;
use crate::api::registry::{self, TypeId};
use crate::sim::clock;
use crate::sim::fields::safe_encode;

/// Label Argo adds to every ReplicaSet, pod and managed Service selector.
pub const HASH_LABEL: &str = "rollouts-pod-template-hash";
/// Revision annotation on Rollouts, ReplicaSets and AnalysisRuns.
pub const REVISION_ANNOTATION: &str = "rollout.argoproj.io/revision";
/// Replica count of the Rollout when the ReplicaSet was last scaled.
pub const DESIRED_REPLICAS_ANNOTATION: &str = "rollout.argoproj.io/desired-replicas";
/// When an old ReplicaSet kept for `scaleDownDelaySeconds` is scaled down.
pub const SCALE_DOWN_DEADLINE_ANNOTATION: &str = "scale-down-deadline";
/// Marks a Service whose selector a Rollout manages.
pub const MANAGED_BY_ANNOTATION: &str = "argo-rollouts.argoproj.io/managed-by-rollouts";
/// Label on the demo's own objects; the simulated CI only ships releases for these.
pub const PART_OF_LABEL: &str = "app.kubernetes.io/part-of";
pub const PART_OF_VALUE: &str = "kdeck-demo";

/// The kinds these controllers read and write, resolved once.
#[derive(Debug, Clone, Copy)]
pub struct Kinds {
    pub rollouts: TypeId,
    pub analysis_runs: TypeId,
    pub analysis_templates: TypeId,
    pub replica_sets: TypeId,
    /// Read for `spec.workloadRef` templates.
    pub deployments: TypeId,
    pub pods: TypeId,
    pub services: TypeId,
    pub namespaces: TypeId,
    pub virtual_services: Option<TypeId>,
    pub destination_rules: Option<TypeId>,
}

impl Kinds {
    /// `None` when the cluster does not serve Argo Rollouts.
    #[must_use]
    pub fn of(state: &ClusterState) -> Option<Self> {
        let served = |group: &str, plural: &str| {
            registry::find(group, plural).filter(|t| state.store.serves(*t))
        };
        Some(Self {
            rollouts: served("argoproj.io", "rollouts")?,
            analysis_runs: served("argoproj.io", "analysisruns")?,
            analysis_templates: served("argoproj.io", "analysistemplates")?,
            replica_sets: served("apps", "replicasets")?,
            deployments: served("apps", "deployments")?,
            pods: served("", "pods")?,
            services: served("", "services")?,
            namespaces: served("", "namespaces")?,
            virtual_services: served("networking.istio.io", "virtualservices"),
            destination_rules: served("networking.istio.io", "destinationrules"),
        })
    }
}

/// Sets `obj[key]` on a JSON object, making it an object first if needed.
pub fn set(obj: &mut Value, key: &str, value: Value) {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    if let Some(m) = obj.as_object_mut() {
        m.insert(key.to_string(), value);
    }
}

/// Removes `obj[key]` when `obj` is an object.
pub fn remove(obj: &mut Value, key: &str) {
    if let Some(m) = obj.as_object_mut() {
        m.remove(key);
    }
}

/// Timestamps written with whole seconds, remembered at full precision so that a
/// 30 s pause at `--speed 60` lasts half a second rather than "up to a second".
#[derive(Debug, Default)]
pub struct PreciseTimes(HashMap<String, (String, DateTime<Utc>)>);

impl PreciseTimes {
    /// Records `t` under `key` and returns its serialized form.
    pub fn stamp(&mut self, key: String, t: DateTime<Utc>) -> String {
        let s = clock::fmt(t);
        // Keep the map small: forget entries whose objects are long gone.
        if self.0.len() > 4096 {
            self.0.clear();
        }
        self.0.insert(key, (s.clone(), t));
        s
    }

    /// The precise time behind `stamp` when this process wrote it, else the parsed stamp.
    #[must_use]
    pub fn resolve(&self, key: &str, stamp: &str) -> Option<DateTime<Utc>> {
        match self.0.get(key) {
            Some((s, t)) if s == stamp => Some(*t),
            _ => clock::parse(stamp),
        }
    }
}

/// 32-bit FNV-1a, the hash Argo Rollouts uses for pod template and step hashes.
#[must_use]
pub fn fnv32a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Drops nulls and empty objects/arrays, which Go's structs would not distinguish from
/// absent fields, so `creationTimestamp: null` in a template does not change its hash.
#[must_use]
pub fn normalized(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                let n = normalized(x);
                let empty = match &n {
                    Value::Null => true,
                    Value::Object(o) => o.is_empty(),
                    Value::Array(a) => a.is_empty(),
                    _ => false,
                };
                if !empty {
                    out.insert(k.clone(), n);
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

/// The `rollouts-pod-template-hash` of a pod template (and collision count), like
/// `hash.ComputePodTemplateHash`: FNV-32a over the template, safe-encoded.
#[must_use]
pub fn pod_template_hash(template: &Value, collision_count: Option<i64>) -> String {
    let mut t = normalized(template);
    // The hash label itself never takes part (undo strips it, RS templates carry it).
    if let Some(labels) = t
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(HASH_LABEL);
    }
    let t = normalized(&t);
    let mut bytes = serde_json::to_vec(&t).unwrap_or_default();
    if let Some(c) = collision_count {
        bytes.extend_from_slice(&c.to_le_bytes());
    }
    safe_encode(&fnv32a(&bytes).to_string())
}

/// `status.currentStepHash`: a hash of the canary steps (`conditions.ComputeStepHash`).
#[must_use]
pub fn step_hash(steps: &Value) -> String {
    let bytes = serde_json::to_vec(&normalized(steps)).unwrap_or_default();
    safe_encode(&fnv32a(&bytes).to_string())
}

/// Parses an Argo duration: `30s`, `5m`, `1h`, `250ms`, or a bare number of seconds.
#[must_use]
pub fn duration_secs(v: &Value) -> Option<f64> {
    if let Some(n) = v.as_f64() {
        return Some(n);
    }
    let s = v.as_str()?.trim();
    if let Ok(n) = s.parse::<f64>() {
        return Some(n);
    }
    clock::parse_go_duration(s)
}

/// `matchLabels` as the `a=b,c=d` selector string Kubernetes formats (sorted keys).
#[must_use]
pub fn selector_string(match_labels: &Map<String, Value>) -> String {
    match_labels
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(",")
}

/// A controller ownerReference to `owner` (a Rollout).
#[must_use]
pub fn controller_ref(kind: &str, name: &str, uid: &str) -> Value {
    serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations() {
        assert_eq!(duration_secs(&json!("30s")), Some(30.0));
        assert_eq!(duration_secs(&json!("1m30s")), Some(90.0));
        assert_eq!(duration_secs(&json!("250ms")), Some(0.25));
        assert_eq!(duration_secs(&json!(20)), Some(20.0));
        assert_eq!(duration_secs(&json!("2h")), Some(7200.0));
        assert_eq!(duration_secs(&json!("abc")), None);
    }

    #[test]
    fn template_hash_ignores_nulls_and_hash_label() {
        let a = json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}});
        let b = json!({"metadata": {"creationTimestamp": null, "labels": {"app": "x", HASH_LABEL: "abc"}}, "spec": {"containers": [{"name": "c", "image": "i:1", "resources": {}}]}});
        assert_eq!(pod_template_hash(&a, None), pod_template_hash(&b, None));
        let c = json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i:2"}]}});
        assert_ne!(pod_template_hash(&a, None), pod_template_hash(&c, None));
        let h = pod_template_hash(&a, None);
        assert!(
            h.len() >= 8 && h.chars().all(|c| c.is_ascii_alphanumeric()),
            "{h}"
        );
    }

    #[test]
    fn fnv_matches_reference() {
        // FNV-1a 32 test vectors.
        assert_eq!(fnv32a(b""), 0x811c_9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(b"foobar"), 0xbf9c_f968);
    }
}
