//! KEDA where installed (the first demo cluster): the ScaledObject `shop/orders-worker` (a
//! RabbitMQ queue trigger, 50 messages per replica) and the HPA KEDA makes and owns for it
//! (`keda-hpa-orders-worker`, one External metric, no `behavior`), plus the part of KEDA's
//! operator that actions meet: while `autoscaling.keda.sh/paused` is `"true"` (or
//! `autoscaling.keda.sh/paused-replicas` is set) the HPA is deleted and the ScaledObject is
//! marked Paused; removing the annotation makes the HPA again. The HPA controller scales it
//! like any other.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::ClusterState;
use crate::api::store::WatchEvent;
use crate::sim::clock;
use crate::sim::controller::{Key, Queue, Reconciler};
use crate::sim::fields;
use crate::sim::kinds::kinds;
use crate::sim::workloads::build::owner_ref;
use crate::sim::workloads::hpa_history::HpaPlan;

pub const NS: &str = "shop";
pub const NAME: &str = "orders-worker";
pub const PAUSED: &str = "autoscaling.keda.sh/paused";
pub const PAUSED_REPLICAS: &str = "autoscaling.keda.sh/paused-replicas";

/// The ScaledObject of the scenario.
#[must_use]
pub fn scaled_object(created: DateTime<Utc>) -> Value {
    json!({
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": NAME, "namespace": NS, "creationTimestamp": clock::fmt(created),
            "finalizers": ["finalizer.keda.sh"]},
        "spec": {
            "scaleTargetRef": {"name": NAME},
            "pollingInterval": 30,
            "cooldownPeriod": 300,
            "minReplicaCount": 1,
            "maxReplicaCount": 12,
            "triggers": [{"type": "rabbitmq", "metadata": {
                "queueName": "orders", "mode": "QueueLength", "value": "50",
                "hostFromEnv": "RABBITMQ_URL"}}],
        },
    })
}

/// The HPA KEDA names after a ScaledObject.
#[must_use]
pub fn hpa_name(so: &Value) -> String {
    format!("keda-hpa-{}", fields::name(so))
}

/// The external metric of the ScaledObject's first trigger (`s0-rabbitmq-orders`).
fn metric_name(so: &Value) -> String {
    let t = fields::array_at(so, "/spec/triggers")
        .first()
        .cloned()
        .unwrap_or(Value::Null);
    format!(
        "s0-{}-{}",
        fields::str_at(&t, "/type"),
        fields::str_at(&t, "/metadata/queueName")
    )
}

/// The HPA KEDA makes for `so` (a stored ScaledObject, with its uid).
#[must_use]
pub fn hpa_plan(so: &Value) -> HpaPlan {
    let name = fields::name(so);
    let target = fields::str_at(so, "/spec/scaleTargetRef/name");
    let per_replica = fields::array_at(so, "/spec/triggers")
        .first()
        .map_or("50", |t| fields::str_at(t, "/metadata/value"))
        .to_string();
    HpaPlan {
        ns: fields::namespace(so).to_string(),
        name: hpa_name(so),
        target: ("apps/v1".into(), "Deployment".into(), target.to_string()),
        min: fields::i64_at(so, "/spec/minReplicaCount", 0).max(1),
        max: fields::i64_at(so, "/spec/maxReplicaCount", 100),
        metrics: json!([{"type": "External", "external": {
            "metric": {"name": metric_name(so), "selector": {"matchLabels": {
                "scaledobject.keda.sh/name": name}}},
            "target": {"type": "AverageValue", "averageValue": per_replica}}}]),
        behavior: Value::Null,
        instance: None,
        meta: json!({
            "labels": {
                "app.kubernetes.io/managed-by": "keda-operator",
                "app.kubernetes.io/name": hpa_name(so),
                "app.kubernetes.io/part-of": name,
                "scaledobject.keda.sh/name": name,
            },
            "ownerReferences": [owner_ref(so)],
        }),
        initial: 2,
    }
}

/// Inserts the ScaledObject; returns it as stored (with its uid) for its HPA's plan.
pub fn seed(state: &ClusterState, now: DateTime<Utc>) -> Option<Value> {
    let so = scaled_object(now - chrono::Duration::days(super::super::workloads::HPA_AGE_DAYS));
    state.store.insert(kinds().scaled_object, so).ok()
}

fn paused(so: &Value) -> bool {
    fields::annotation(so, PAUSED).eq_ignore_ascii_case("true")
        || !fields::annotation(so, PAUSED_REPLICAS).is_empty()
}

fn cond(type_: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message})
}

/// The ScaledObject's status for `paused` with its HPA `exists`.
fn status(so: &Value, paused: bool, exists: bool, now: &str) -> Value {
    let mut status = json!({
        "scaleTargetKind": "apps/v1.Deployment",
        "scaleTargetGVKR": {"group": "apps", "version": "v1", "kind": "Deployment",
            "resource": "deployments"},
        "originalReplicaCount": 1,
        "externalMetricNames": [metric_name(so)],
        "hpaName": hpa_name(so),
        "lastActiveTime": so.pointer("/status/lastActiveTime").cloned().unwrap_or(json!(now)),
        "conditions": [
            cond("Ready", "True", "ScaledObjectReady",
                "ScaledObject is defined correctly and is ready for scaling"),
            if paused {
                cond("Active", "False", "ScalerNotActive",
                    "Scaling is not performed because the ScaledObject is paused")
            } else {
                cond("Active", "True", "ScalerActive",
                    "Scaling is performed because triggers are active")
            },
            cond("Fallback", "False", "NoFallbackFound",
                "No fallbacks are active on this scaled object"),
            if paused {
                cond("Paused", "True", "ScaledObjectPaused", "ScaledObject is paused")
            } else {
                cond("Paused", "False", "ScaledObjectUnpaused",
                    "pause annotation removed for ScaledObject")
            },
        ],
    });
    let replicas = fields::annotation(so, PAUSED_REPLICAS);
    if let Ok(n) = replicas.parse::<i64>() {
        status["pausedReplicaCount"] = json!(n);
    }
    if !exists && !paused {
        status["conditions"][0] = cond(
            "Ready",
            "Unknown",
            "ScaledObjectCheckFailed",
            "Creating HorizontalPodAutoscaler Object",
        );
    }
    status
}

/// KEDA's operator, as far as the demo needs it.
#[derive(Debug, Default)]
pub struct KedaController;

impl Reconciler for KedaController {
    fn resync(&mut self, state: &ClusterState, queue: &mut Queue) {
        queue.push_all(state, kinds().scaled_object, None);
    }

    fn on_event(&mut self, _state: &ClusterState, ev: &WatchEvent, queue: &mut Queue) {
        let k = kinds();
        if ev.type_id == k.scaled_object {
            queue.push((k.scaled_object, ev.object.key.clone()));
        } else if ev.type_id == k.hpa
            && let Some(so) = ev.object.key.name.strip_prefix("keda-hpa-")
        {
            // Someone deleted or changed the HPA: KEDA puts it back.
            queue.push((
                k.scaled_object,
                crate::api::store::ObjKey::new(&ev.object.key.ns, so),
            ));
        }
    }

    fn reconcile(&mut self, state: &ClusterState, key: &Key) -> Option<Duration> {
        let k = kinds();
        let (ns, name) = (&key.1.ns, &key.1.name);
        let hpa = format!("keda-hpa-{name}");
        let Some(so) = state.store.get_value(k.scaled_object, ns, name) else {
            let _ = state.store.delete(k.hpa, ns, &hpa, false);
            return None;
        };
        let paused = paused(&so);
        let exists = state.store.get(k.hpa, ns, &hpa).is_some();
        if paused && exists {
            let _ = state.store.delete(k.hpa, ns, &hpa, false);
        }
        if paused && let Ok(n) = fields::annotation(&so, PAUSED_REPLICAS).parse::<i64>() {
            let target = fields::str_at(&so, "/spec/scaleTargetRef/name");
            state.store.modify(k.deployment, ns, target, |d| {
                d["spec"]["replicas"] = json!(n);
            });
        }
        if !paused && !exists {
            let plan = hpa_plan(&so);
            let _ = state.store.insert(k.hpa, plan.object(clock::now()));
        }
        let now = clock::fmt(clock::now());
        let new = status(&so, paused, exists || !paused, &now);
        // Write only a change (conditions compared without their times).
        if so.get("status") != Some(&new) {
            state
                .store
                .modify(k.scaled_object, ns, name, |v| v["status"] = new);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hpa_keda_makes_names_its_owner_and_external_metric() {
        let mut so = scaled_object(clock::now());
        so["metadata"]["uid"] = json!("so-uid");
        let plan = hpa_plan(&so);
        let hpa = plan.object(clock::now());
        assert_eq!(fields::name(&hpa), "keda-hpa-orders-worker");
        assert_eq!(hpa["metadata"]["ownerReferences"][0]["uid"], "so-uid");
        assert_eq!(
            hpa["spec"]["metrics"][0]["external"]["metric"]["name"],
            "s0-rabbitmq-orders"
        );
        assert!(hpa["spec"].get("behavior").is_none_or(Value::is_null));
        so["metadata"]["annotations"] = json!({PAUSED: "true"});
        assert!(paused(&so));
        let s = status(&so, true, false, "now");
        assert_eq!(s["conditions"][3]["reason"], "ScaledObjectPaused");
    }
}
