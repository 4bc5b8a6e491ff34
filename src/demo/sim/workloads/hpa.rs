//! HorizontalPodAutoscalers (autoscaling/v2): a synthetic CPU load per HPA and the real
//! scaling algorithm over it.
//!
//! Load is expressed in "pod-percent" (total CPU use as a percentage of one pod's request),
//! so utilization = load / ready pods. The algorithm follows the HPA controller: usage ratio
//! against the target with a 10% tolerance, `ceil(replicas × ratio)`, unready pods counted as
//! idle when scaling up, the default behavior (scale-up limit `max(2×, +4)` per period,
//! scale-down stabilization window of 300 simulated seconds), clamping to min/max with the
//! ScalingLimited reasons, and the AbleToScale / ScalingActive / ScalingLimited conditions and
//! SuccessfulRescale events of the real controller. The HPA scales its target by writing the
//! target's `spec.replicas`, as the `/scale` subresource does.

use std::collections::{HashMap, VecDeque};
use std::f64::consts::PI;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::demo::ClusterState;
use crate::demo::api::registry::{self, TypeId};
use crate::demo::api::store::{EventType, ObjKey, WatchEvent};
use crate::demo::sim::clock;
use crate::demo::sim::controller::{Key, Queue, Reconciler};
use crate::demo::sim::events::{self, Severity, Source};
use crate::demo::sim::fields::{self, fnv64};
use crate::demo::sim::kinds::kinds;
use crate::demo::sim::pace::Pace;

/// The HPA controller's sync period, in simulated seconds.
pub const SYNC_SECS: f64 = 15.0;
/// Default scale-down stabilization window, in simulated seconds.
pub const DOWN_WINDOW_SECS: f64 = 300.0;
/// Ratios within this distance of 1.0 do not scale.
pub const TOLERANCE: f64 = 0.1;
/// What `currentMetrics` and events call a CPU utilization metric.
const CPU_METRIC: &str = "cpu resource utilization (percentage of request)";

/// A synthetic load: a sinusoid plus seeded noise, in pod-percent.
#[derive(Debug, Clone, Copy)]
pub struct LoadCurve {
    pub base: f64,
    pub amplitude: f64,
    pub period_secs: f64,
    pub phase: f64,
    pub noise: f64,
}

impl LoadCurve {
    /// The load at simulated second `t`; the noise is fixed per 15-second bucket.
    #[must_use]
    pub fn at(&self, t: f64, noise_key: u64) -> f64 {
        let wave = (2.0 * PI * t / self.period_secs + self.phase).sin();
        let bucket = (t / SYNC_SECS).floor() as i64;
        let n = fnv64(format!("{noise_key}/{bucket}").as_bytes());
        let unit = (n % 2001) as f64 / 1000.0 - 1.0;
        (self.base + self.amplitude * wave + self.noise * unit).max(0.0)
    }
}

/// The load curve of an HPA: the scenario's named ones, flat load for `--scale` HPAs (so
/// thousands of pods stay put), and a moderate wave for anything a client creates.
#[must_use]
pub fn curve_for(ns: &str, name: &str, target_util: f64, min: i64, max: i64) -> LoadCurve {
    match (ns, name) {
        ("shop", "frontend") => LoadCurve {
            base: 165.0,
            amplitude: 120.0,
            period_secs: 600.0,
            phase: 0.0,
            noise: 8.0,
        },
        ("shop", "checkout") => LoadCurve {
            base: 210.0,
            amplitude: 150.0,
            period_secs: 420.0,
            phase: 1.0,
            noise: 10.0,
        },
        ("search", "indexer") => LoadCurve {
            base: 330.0,
            amplitude: 30.0,
            period_secs: 900.0,
            phase: 0.0,
            noise: 10.0,
        },
        _ if ns.starts_with("load-") => LoadCurve {
            base: target_util * min as f64,
            amplitude: 0.0,
            period_secs: 600.0,
            phase: 0.0,
            noise: 0.0,
        },
        _ => {
            let base = target_util * (min as f64 + (max - min) as f64 * 0.3);
            LoadCurve {
                base,
                amplitude: base * 0.4,
                period_secs: 480.0,
                phase: 0.0,
                noise: base * 0.03,
            }
        }
    }
}

/// The limits an HPA scales within.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub min: i64,
    pub max: i64,
    pub target_util: f64,
}

/// What one sync decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub desired: i64,
    /// Current average utilization (percent of request).
    pub utilization: i64,
    /// AbleToScale reason and message (before a rescale is attempted).
    pub able_reason: &'static str,
    pub able_message: String,
    /// ScalingLimited status, reason and message.
    pub limited: bool,
    pub limited_reason: &'static str,
    pub limited_message: &'static str,
}

/// The per-HPA memory of the algorithm: recent recommendations for stabilization.
#[derive(Debug, Default, Clone)]
pub struct Autoscaler {
    recommendations: VecDeque<(f64, i64)>,
}

impl Autoscaler {
    /// One sync at simulated time `t`, with the target at `current` replicas of which `ready`
    /// are ready, under `load`.
    pub fn step(
        &mut self,
        limits: Limits,
        current: i64,
        ready: i64,
        load: f64,
        t: f64,
    ) -> Decision {
        let target = limits.target_util.max(1.0);
        let ready_n = ready.clamp(1, current.max(1));
        let utilization = load / ready_n as f64;
        let mut ratio = utilization / target;
        // Unready pods count as idle when scaling up; if that cancels the scale-up, hold.
        if ratio > 1.0 && ready_n < current {
            let all = load / current as f64 / target;
            if all <= 1.0 + TOLERANCE {
                ratio = 1.0;
            }
        }
        let proposal = if (ratio - 1.0).abs() <= TOLERANCE {
            current
        } else {
            (load / target).ceil() as i64
        };
        // Stabilization: scale-up window 0, scale-down window 300 s.
        self.recommendations.push_back((t, proposal));
        while self
            .recommendations
            .front()
            .is_some_and(|(at, _)| *at < t - DOWN_WINDOW_SECS)
        {
            self.recommendations.pop_front();
        }
        let down = self
            .recommendations
            .iter()
            .map(|(_, r)| *r)
            .max()
            .unwrap_or(proposal);
        let up = proposal;
        let mut stabilized = current;
        if stabilized < up {
            stabilized = up;
        }
        if stabilized > down {
            stabilized = down;
        }
        let (able_reason, able_message) = if stabilized == proposal {
            (
                "ReadyForNewScale",
                "recommended size matches current size".to_string(),
            )
        } else if stabilized > proposal {
            ("ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation".to_string())
        } else {
            ("ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation".to_string())
        };
        // Default rate limits, then min/max.
        let scale_up_limit = (current * 2).max(current + 4).max(current);
        let (max_allowed, up_reason, up_message) = if limits.max > scale_up_limit {
            (
                scale_up_limit,
                "ScaleUpLimit",
                "the desired replica count is increasing faster than the maximum scale rate",
            )
        } else {
            (
                limits.max,
                "TooManyReplicas",
                "the desired replica count is more than the maximum replica count",
            )
        };
        let (desired, limited_reason, limited_message) = if stabilized > max_allowed {
            (max_allowed, up_reason, up_message)
        } else if stabilized < limits.min {
            (
                limits.min,
                "TooFewReplicas",
                "the desired replica count is less than the minimum replica count",
            )
        } else {
            (
                stabilized,
                "DesiredWithinRange",
                "the desired count is within the acceptable range",
            )
        };
        Decision {
            desired,
            utilization: utilization.round() as i64,
            able_reason,
            able_message,
            limited: limited_reason != "DesiredWithinRange",
            limited_reason,
            limited_message,
        }
    }
}

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
        let k = kinds();
        let (all, _) = state.store.list(k.hpa, None);
        for h in all {
            queue.push((k.hpa, h.key.clone()));
        }
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

    const L: Limits = Limits {
        min: 2,
        max: 10,
        target_util: 60.0,
    };

    #[test]
    fn within_tolerance_holds_and_outside_scales_by_ratio() {
        let mut a = Autoscaler::default();
        // 3 pods at 63% of a 60% target: ratio 1.05, within tolerance.
        let d = a.step(L, 3, 3, 189.0, 0.0);
        assert_eq!(d.desired, 3);
        assert_eq!(d.utilization, 63);
        assert!(!d.limited);
        // 3 pods at 100%: ceil(3 × 100/60) = 5.
        let d = a.step(L, 3, 3, 300.0, 15.0);
        assert_eq!(d.desired, 5);
        assert_eq!(d.limited_reason, "DesiredWithinRange");
    }

    #[test]
    fn clamps_to_max_and_min_with_reasons() {
        let mut a = Autoscaler::default();
        let d = a.step(L, 8, 8, 1200.0, 0.0);
        assert_eq!(d.desired, 10);
        assert!(d.limited);
        assert_eq!(d.limited_reason, "TooManyReplicas");
        let mut a = Autoscaler::default();
        let d = a.step(L, 2, 2, 10.0, 0.0);
        assert_eq!(d.desired, 2);
        assert_eq!(d.limited_reason, "TooFewReplicas");
        // Growing faster than max(2×, +4) per period is limited by rate first.
        let mut a = Autoscaler::default();
        let d = a.step(Limits { max: 50, ..L }, 2, 2, 1800.0, 0.0);
        assert_eq!(d.desired, 6);
        assert_eq!(d.limited_reason, "ScaleUpLimit");
    }

    #[test]
    fn scale_down_waits_for_the_stabilization_window() {
        let mut a = Autoscaler::default();
        assert_eq!(a.step(L, 3, 3, 300.0, 0.0).desired, 5);
        // Load drops right away: the recent recommendation of 5 holds for 300 s.
        let d = a.step(L, 5, 5, 120.0, 15.0);
        assert_eq!(d.desired, 5);
        assert_eq!(d.able_reason, "ScaleDownStabilized");
        let d = a.step(L, 5, 5, 120.0, 290.0);
        assert_eq!(d.desired, 5);
        let d = a.step(L, 5, 5, 120.0, 316.0);
        assert_eq!(d.desired, 2);
        assert_eq!(d.able_reason, "ReadyForNewScale");
    }

    #[test]
    fn unready_pods_damp_a_scale_up() {
        let mut a = Autoscaler::default();
        // 4 pods, 2 ready, load 260: ready pods look at 130%, but over all 4 it is 108%.
        let d = a.step(L, 4, 2, 260.0, 0.0);
        assert_eq!(d.desired, 4);
    }

    #[test]
    fn curves_are_deterministic_and_bounded() {
        let c = curve_for("shop", "frontend", 60.0, 2, 10);
        for i in 0..200 {
            let t = f64::from(i) * 7.0;
            let v = c.at(t, 42);
            assert_eq!(v, c.at(t, 42));
            assert!((30.0..=300.0).contains(&v), "{v}");
        }
        let flat = curve_for("load-00", "svc-000", 70.0, 20, 30);
        assert_eq!(flat.at(0.0, 1), flat.at(1234.0, 9));
        assert_eq!(millicores("250m"), 250);
        assert_eq!(millicores("1.5"), 1500);
    }
}
