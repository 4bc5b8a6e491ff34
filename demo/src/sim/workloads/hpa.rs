//! The HorizontalPodAutoscaler controller (autoscaling/v2): every 15 simulated seconds it
//! reads its target's scale, runs the algorithm of [`super::hpa_algorithm`] on the synthetic
//! load, scales the target by writing its `spec.replicas` (as the `/scale` subresource does),
//! and writes the status with the AbleToScale / ScalingActive / ScalingLimited conditions, the
//! real reasons (FailedGetScale when the target is missing) and SuccessfulRescale events.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::ClusterState;
use crate::api::registry::{self, TypeId};
use crate::api::store::{EventType, ObjKey, WatchEvent};
use crate::sim::clock;
use crate::sim::controller::{Key, Queue, Reconciler};
use crate::sim::events::{self, Severity, Source};
use crate::sim::fields::{self, fnv64};
use crate::sim::kinds::kinds;
use crate::sim::pace::Pace;

pub use super::hpa_algorithm::{
    Autoscaler, DOWN_WINDOW_SECS, Decision, Limits, LoadCurve, SYNC_SECS, TOLERANCE, curve_for,
};

/// What conditions and events call a CPU utilization metric.
const CPU_METRIC: &str = "cpu resource utilization (percentage of request)";

/// Reads an HPA's limits (CPU utilization target from its first Resource cpu metric).
#[must_use]
pub fn limits(hpa: &Value) -> Limits {
    let target = fields::array_at(hpa, "/spec/metrics")
        .iter()
        .find(|m| fields::str_at(m, "/resource/name") == "cpu")
        .and_then(|m| m.pointer("/resource/target/averageUtilization"))
        .and_then(Value::as_f64)
        .unwrap_or(80.0);
    Limits {
        min: fields::i64_at(hpa, "/spec/minReplicas", 1),
        max: fields::i64_at(hpa, "/spec/maxReplicas", 1),
        target_util: target,
    }
}

/// The store kind a `scaleTargetRef` names, if the simulator knows it.
#[must_use]
pub fn target_type(hpa: &Value) -> Option<TypeId> {
    let api_version = fields::str_at(hpa, "/spec/scaleTargetRef/apiVersion");
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let kind = fields::str_at(hpa, "/spec/scaleTargetRef/kind");
    registry::find_kind(group, kind)
}

/// An HPA object (autoscaling/v2, with the defaulted behavior the API server adds).
#[must_use]
#[allow(clippy::too_many_arguments)]
pub fn hpa_object(
    ns: &str,
    name: &str,
    target: (&str, &str, &str),
    min: i64,
    max: i64,
    util: i64,
    instance: Option<&str>,
    created: DateTime<Utc>,
) -> Value {
    let (api_version, kind, target_name) = target;
    let mut hpa = json!({
        "metadata": { "name": name, "namespace": ns, "creationTimestamp": clock::fmt(created) },
        "spec": {
            "scaleTargetRef": { "apiVersion": api_version, "kind": kind, "name": target_name },
            "minReplicas": min,
            "maxReplicas": max,
            "metrics": [{ "type": "Resource", "resource": {
                "name": "cpu", "target": { "type": "Utilization", "averageUtilization": util } } }],
            "behavior": {
                "scaleUp": { "stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                    { "type": "Pods", "value": 4, "periodSeconds": 15 },
                    { "type": "Percent", "value": 100, "periodSeconds": 15 } ] },
                "scaleDown": { "stabilizationWindowSeconds": 300, "selectPolicy": "Max", "policies": [
                    { "type": "Percent", "value": 100, "periodSeconds": 15 } ] },
            },
        },
    });
    if let Some(app) = instance {
        hpa["metadata"]["labels"] = json!({ super::build::INSTANCE: app });
    }
    hpa
}

/// Parses a CPU quantity (`250m`, `1`, `0.5`) into millicores.
#[must_use]
pub fn millicores(q: &str) -> i64 {
    match q.strip_suffix('m') {
        Some(m) => m.parse().unwrap_or(0),
        None => q.parse::<f64>().map(|c| (c * 1000.0) as i64).unwrap_or(0),
    }
}

fn set_cond(
    conds: &mut Vec<Value>,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    now: &str,
) {
    let status_s = if status { "True" } else { "False" };
    let mut cond = json!({ "type": type_, "status": status_s, "reason": reason, "message": message,
        "lastTransitionTime": now });
    match conds
        .iter_mut()
        .find(|c| fields::str_at(c, "/type") == type_)
    {
        Some(old) => {
            if fields::str_at(old, "/status") == status_s {
                cond["lastTransitionTime"] = old["lastTransitionTime"].clone();
            }
            *old = cond;
        }
        None => conds.push(cond),
    }
}

/// The HPA status for a decision; `rescaled` when the target was just scaled.
#[must_use]
pub fn status_for(
    prev: &Value,
    decision: &Decision,
    current: i64,
    request_milli: i64,
    rescaled: bool,
    now: DateTime<Utc>,
) -> Value {
    let now_s = clock::fmt(now);
    let mut conds: Vec<Value> = fields::array_at(prev, "/status/conditions").to_vec();
    if rescaled {
        set_cond(
            &mut conds,
            "AbleToScale",
            true,
            "SucceededRescale",
            &format!(
                "the HPA controller was able to update the target scale to {}",
                decision.desired
            ),
            &now_s,
        );
    } else {
        set_cond(
            &mut conds,
            "AbleToScale",
            true,
            decision.able_reason,
            &decision.able_message,
            &now_s,
        );
    }
    set_cond(
        &mut conds,
        "ScalingActive",
        true,
        "ValidMetricFound",
        &format!("the HPA was able to successfully calculate a replica count from {CPU_METRIC}"),
        &now_s,
    );
    set_cond(
        &mut conds,
        "ScalingLimited",
        decision.limited,
        decision.limited_reason,
        decision.limited_message,
        &now_s,
    );
    let mut status = json!({
        "currentReplicas": current,
        "desiredReplicas": decision.desired,
        "currentMetrics": [{ "type": "Resource", "resource": { "name": "cpu", "current": {
            "averageUtilization": decision.utilization,
            "averageValue": format!("{}m", decision.utilization * request_milli / 100),
        } } }],
        "conditions": conds,
    });
    let last_scale = if rescaled {
        Some(json!(now_s))
    } else {
        prev.pointer("/status/lastScaleTime").cloned()
    };
    if let Some(t) = last_scale {
        status["lastScaleTime"] = t;
    }
    status
}

/// The CPU request of the target's first container, in millicores (100m when unknown).
#[must_use]
pub fn request_of(target: &Value) -> i64 {
    let q = fields::str_at(
        target,
        "/spec/template/spec/containers/0/resources/requests/cpu",
    );
    match millicores(q) {
        0 => 100,
        m => m,
    }
}

/// Simulated seconds since an HPA was created: the clock its load curve runs on.
#[must_use]
pub fn sim_time(hpa: &Value, speed: f64, at: DateTime<Utc>) -> f64 {
    let created = clock::at(hpa, "/metadata/creationTimestamp").unwrap_or(at);
    clock::secs_between(created, at) * speed
}

/// The key the load noise of an HPA is drawn from.
#[must_use]
pub fn noise_key(state: &ClusterState, ns: &str, name: &str) -> u64 {
    state.options.seed ^ fnv64(format!("{}/{ns}/{name}", state.profile.index).as_bytes())
}

/// The HPA controller as a [`Reconciler`]: one sync per HPA every [`SYNC_SECS`].
#[derive(Debug, Default)]
pub struct HpaController {
    scalers: HashMap<ObjKey, Autoscaler>,
}

impl HpaController {
    fn sync(&mut self, state: &ClusterState, key: &ObjKey) -> Option<Duration> {
        let k = kinds();
        let pace = Pace::new(state.options.speed);
        let Some(hpa) = state.store.get_value(k.hpa, &key.ns, &key.name) else {
            self.scalers.remove(key);
            return None;
        };
        let now = clock::now();
        let now_s = clock::fmt(now);
        let limits = limits(&hpa);
        let target_name = fields::str_at(&hpa, "/spec/scaleTargetRef/name").to_string();
        let target_ty = target_type(&hpa).filter(|t| state.store.serves(*t));
        let target = target_ty.and_then(|t| state.store.get_value(t, &key.ns, &target_name));
        let (Some(ty), Some(target)) = (target_ty, target) else {
            let api_version = fields::str_at(&hpa, "/spec/scaleTargetRef/apiVersion");
            let kind = fields::str_at(&hpa, "/spec/scaleTargetRef/kind");
            let err = match target_ty {
                Some(t) => {
                    let rt = registry::get(t);
                    let what = if rt.group.is_empty() {
                        rt.plural.to_string()
                    } else {
                        format!("{}.{}", rt.plural, rt.group)
                    };
                    format!("{what} \"{target_name}\" not found")
                }
                None => {
                    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
                    format!("no matches for kind \"{kind}\" in group \"{group}\"")
                }
            };
            let message =
                format!("the HPA controller was unable to get the target's current scale: {err}");
            events::record(
                state,
                &hpa,
                Severity::Warning,
                "FailedGetScale",
                &message,
                Source::component("horizontal-pod-autoscaler"),
            );
            state.store.modify(k.hpa, &key.ns, &key.name, |v| {
                let mut conds: Vec<Value> = fields::array_at(v, "/status/conditions").to_vec();
                set_cond(
                    &mut conds,
                    "AbleToScale",
                    false,
                    "FailedGetScale",
                    &message,
                    &now_s,
                );
                v["status"]["conditions"] = json!(conds);
                if v["status"].get("currentReplicas").is_none() {
                    v["status"]["currentReplicas"] = json!(0);
                    v["status"]["desiredReplicas"] = json!(0);
                }
            });
            return Some(pace.secs(SYNC_SECS));
        };
        let current = fields::i64_at(&target, "/spec/replicas", 1);
        if current == 0 && limits.min != 0 {
            state.store.modify(k.hpa, &key.ns, &key.name, |v| {
                let mut conds: Vec<Value> = fields::array_at(v, "/status/conditions").to_vec();
                set_cond(
                    &mut conds,
                    "AbleToScale",
                    true,
                    "SucceededGetScale",
                    "the HPA controller was able to get the target's current scale",
                    &now_s,
                );
                set_cond(
                    &mut conds,
                    "ScalingActive",
                    false,
                    "ScalingDisabled",
                    "scaling is disabled since the replica count of the target is zero",
                    &now_s,
                );
                v["status"]["conditions"] = json!(conds);
                v["status"]["currentReplicas"] = json!(0);
                v["status"]["desiredReplicas"] = json!(0);
            });
            return Some(pace.secs(SYNC_SECS));
        }
        let ready = fields::i64_at(&target, "/status/readyReplicas", current);
        let curve = curve_for(
            &key.ns,
            &key.name,
            limits.target_util,
            limits.min,
            limits.max,
        );
        let t = sim_time(&hpa, state.options.speed, now);
        let load = curve.at(t, noise_key(state, &key.ns, &key.name));
        let decision = self
            .scalers
            .entry(key.clone())
            .or_default()
            .step(limits, current, ready, load, t);
        let mut rescaled = false;
        if decision.desired != current {
            let desired = decision.desired;
            if state
                .store
                .modify(ty, &key.ns, &target_name, |v| {
                    v["spec"]["replicas"] = json!(desired)
                })
                .is_some()
            {
                rescaled = true;
                let reason = if desired > current {
                    format!("{CPU_METRIC} above target")
                } else {
                    "All metrics below target".to_string()
                };
                events::record(
                    state,
                    &hpa,
                    Severity::Normal,
                    "SuccessfulRescale",
                    &format!("New size: {desired}; reason: {reason}"),
                    Source::component("horizontal-pod-autoscaler"),
                );
            }
        }
        let status = status_for(&hpa, &decision, current, request_of(&target), rescaled, now);
        state
            .store
            .modify(k.hpa, &key.ns, &key.name, |v| v["status"] = status);
        Some(pace.secs(SYNC_SECS))
    }
}

impl Reconciler for HpaController {
    fn resync(&mut self, state: &ClusterState, queue: &mut Queue) {
        queue.push_all(state, kinds().hpa, None);
    }

    fn on_event(&mut self, _state: &ClusterState, ev: &WatchEvent, queue: &mut Queue) {
        let k = kinds();
        // Only a spec change (a new generation) needs a sync before the next period.
        if ev.type_id == k.hpa {
            let spec_changed = ev.kind == EventType::Added
                || ev
                    .previous
                    .as_ref()
                    .is_some_and(|p| generation(&p.value()) != generation(&ev.object.value()));
            if spec_changed {
                queue.push((k.hpa, ev.object.key.clone()));
            }
        }
    }

    fn reconcile(&mut self, state: &ClusterState, key: &Key) -> Option<Duration> {
        self.sync(state, &key.1)
    }
}

fn generation(v: &Value) -> i64 {
    fields::i64_at(v, "/metadata/generation", 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_limits_targets_and_quantities() {
        let hpa = hpa_object(
            "shop",
            "web",
            ("apps/v1", "Deployment", "web"),
            2,
            9,
            55,
            None,
            clock::now(),
        );
        let l = limits(&hpa);
        assert_eq!((l.min, l.max, l.target_util), (2, 9, 55.0));
        assert_eq!(target_type(&hpa), Some(kinds().deployment));
        let ro = json!({"spec": {"scaleTargetRef": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "x"}}});
        assert_eq!(target_type(&ro), Some(kinds().rollout));
        assert_eq!(millicores("250m"), 250);
        assert_eq!(millicores("1.5"), 1500);
    }
}
