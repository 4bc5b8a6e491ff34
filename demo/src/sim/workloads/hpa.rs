//! The HorizontalPodAutoscaler controller (autoscaling/v2): every 15 simulated seconds it
//! reads its target's scale, measures each metric of the spec on its synthetic load (a
//! metric the pipeline cannot read fails as the real one does), runs the algorithm of
//! [`super::hpa_algorithm`], scales the target by writing its `spec.replicas` (as the
//! `/scale` subresource does), and writes the status: the current metrics, the
//! AbleToScale / ScalingActive / ScalingLimited conditions with the real reasons, and
//! SuccessfulRescale / FailedGetScale / FailedGet*Metric events. A spec change (min/max)
//! is synced at once.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::ClusterState;
use crate::api::registry;
use crate::api::store::{EventType, ObjKey, WatchEvent};
use crate::sim::clock;
use crate::sim::controller::{Key, Queue, Reconciler};
use crate::sim::events::{self, Severity, Source};
use crate::sim::fields::{self, fnv64};
use crate::sim::kinds::kinds;
use crate::sim::pace::Pace;

pub use super::hpa_algorithm::{
    Autoscaler, DOWN_WINDOW_SECS, Decision, Limits, LoadCurve, MetricKind, SYNC_SECS, TOLERANCE,
    curve_for, metric_failure, propose,
};
pub use super::hpa_spec::{
    MetricDef, cpu_metric, default_behavior, format_quantity, hpa_object, limits, metric_defs,
    millicores, target_type,
};

/// What one sync of an HPA concluded.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The metrics gave a decision (normalized).
    Scale {
        decision: Decision,
        /// The metric that asked for the most, as the controller names it.
        metric: String,
    },
    /// The target is outside min/max: it goes back inside, whatever the metrics say.
    OutOfRange { desired: i64, reason: &'static str },
    /// No decision: every metric failed, or some failed and the rest would scale down.
    NoDecision {
        /// The first failed metric's reason (`FailedGetResourceMetric`).
        reason: &'static str,
        /// Its error, as its event says it.
        error: String,
        /// The FailedComputeMetricsReplicas event's message.
        compute: String,
    },
}

/// One sync's result: the outcome and the status's `currentMetrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sync {
    pub outcome: Outcome,
    pub statuses: Vec<Value>,
}

/// The load noise and clock of one HPA.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Simulated seconds since the HPA was created.
    pub t: f64,
    pub noise: u64,
}

/// A metric's entry in `status.currentMetrics`.
fn metric_status(def: &MetricDef, reading: f64, request_milli: i64) -> Value {
    match def.kind {
        MetricKind::Utilization => json!({"type": def.source, "resource": {"name": def.name,
            "current": {"averageUtilization": reading as i64,
                "averageValue": format!("{}m", reading as i64 * request_milli / 100)}}}),
        MetricKind::PodAverage if def.source == "Pods" => json!({"type": "Pods", "pods": {
            "metric": def.metric, "current": {"averageValue": format_quantity(reading)}}}),
        MetricKind::PodAverage => json!({"type": def.source, "resource": {"name": def.name,
            "current": {"averageValue": format_quantity(reading)}}}),
        MetricKind::TotalAverage | MetricKind::Value => {
            let key = if def.source == "Object" {
                "object"
            } else {
                "external"
            };
            let field = if def.kind == MetricKind::Value {
                "value"
            } else {
                "averageValue"
            };
            json!({"type": def.source, key: {"metric": def.metric,
                "current": {field: format_quantity(reading)}}})
        }
    }
}

/// One sync of `hpa` at clock `c`, with its target at `current` replicas of which `ready` are
/// ready; `request_milli` is a pod's CPU request (for the reported average value).
pub fn evaluate(
    scaler: &mut Autoscaler,
    hpa: &Value,
    current: i64,
    ready: i64,
    request_milli: i64,
    c: Clock,
) -> Sync {
    let limits = limits(hpa);
    let (ns, name) = (fields::namespace(hpa), fields::name(hpa));
    if current > limits.max {
        return Sync {
            outcome: Outcome::OutOfRange {
                desired: limits.max,
                reason: "Current number of replicas above Spec.MaxReplicas",
            },
            statuses: Vec::new(),
        };
    }
    if current < limits.min {
        return Sync {
            outcome: Outcome::OutOfRange {
                desired: limits.min,
                reason: "Current number of replicas below Spec.MinReplicas",
            },
            statuses: Vec::new(),
        };
    }
    let defs = metric_defs(hpa);
    let mut statuses = Vec::with_capacity(defs.len());
    let mut best: Option<(i64, String)> = None;
    let mut first_failure: Option<(&'static str, String)> = None;
    let mut invalid = 0;
    for def in &defs {
        if let Some(failure) = metric_failure(ns, name, &def.name) {
            invalid += 1;
            first_failure.get_or_insert(failure);
            statuses.push(json!({"type": ""}));
            continue;
        }
        let curve = curve_for(ns, name, &def.name, def.target, limits.min, limits.max);
        let load = curve.at(c.t, c.noise ^ fnv64(def.name.as_bytes()));
        let p = propose(def.kind, load, def.target, current, ready);
        statuses.push(metric_status(def, p.reading, request_milli));
        if best.as_ref().is_none_or(|(r, _)| p.replicas > *r) {
            best = Some((p.replicas, def.describe()));
        }
    }
    let proposal = best.as_ref().map(|(r, _)| *r);
    if let Some((reason, err)) = first_failure
        && proposal.is_none_or(|p| p < current)
    {
        let compute = format!(
            "invalid metrics ({invalid} invalid out of {}), first error is: failed to get cpu \
             resource metric value: {err}",
            defs.len()
        );
        return Sync {
            outcome: Outcome::NoDecision {
                reason,
                error: err,
                compute,
            },
            statuses,
        };
    }
    let (proposal, metric) = best.unwrap_or((current, String::new()));
    Sync {
        outcome: Outcome::Scale {
            decision: scaler.step(&limits, current, proposal, c.t),
            metric,
        },
        statuses,
    }
}

pub(super) fn set_cond(
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

/// The HPA status after a sync; `rescaled` when the target was just scaled to `desired`.
#[must_use]
pub fn status_for(
    prev: &Value,
    sync: &Sync,
    current: i64,
    rescaled: bool,
    now: DateTime<Utc>,
) -> Value {
    let now_s = clock::fmt(now);
    let mut conds: Vec<Value> = fields::array_at(prev, "/status/conditions").to_vec();
    let prev_desired = fields::i64_at(prev, "/status/desiredReplicas", current);
    set_cond(
        &mut conds,
        "AbleToScale",
        true,
        "SucceededGetScale",
        "the HPA controller was able to get the target's current scale",
        &now_s,
    );
    let desired = match &sync.outcome {
        Outcome::Scale {
            decision: d,
            metric,
        } => {
            set_cond(
                &mut conds,
                "AbleToScale",
                true,
                d.able_reason,
                &d.able_message,
                &now_s,
            );
            set_cond(
                &mut conds,
                "ScalingActive",
                true,
                "ValidMetricFound",
                &format!(
                    "the HPA was able to successfully calculate a replica count from {metric}"
                ),
                &now_s,
            );
            set_cond(
                &mut conds,
                "ScalingLimited",
                d.limited,
                d.limited_reason,
                d.limited_message,
                &now_s,
            );
            if rescaled { d.desired } else { current }
        }
        Outcome::OutOfRange { desired, .. } => {
            if rescaled {
                *desired
            } else {
                current
            }
        }
        Outcome::NoDecision { reason, error, .. } => {
            let condition = format!("the HPA was unable to compute the replica count: {error}");
            set_cond(
                &mut conds,
                "ScalingActive",
                false,
                reason,
                &condition,
                &now_s,
            );
            prev_desired
        }
    };
    if rescaled {
        set_cond(
            &mut conds,
            "AbleToScale",
            true,
            "SucceededRescale",
            &format!("the HPA controller was able to update the target scale to {desired}"),
            &now_s,
        );
    }
    let mut status = json!({
        "currentReplicas": current,
        "desiredReplicas": desired,
        "currentMetrics": sync.statuses,
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

/// Simulated seconds since an HPA was created: the clock its load curves run on.
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

fn failed_get_scale(state: &ClusterState, hpa: &Value, key: &ObjKey, now_s: &str) {
    let k = kinds();
    let target_name = fields::str_at(hpa, "/spec/scaleTargetRef/name");
    let err = match target_type(hpa).filter(|t| state.store.serves(*t)) {
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
            let api_version = fields::str_at(hpa, "/spec/scaleTargetRef/apiVersion");
            let kind = fields::str_at(hpa, "/spec/scaleTargetRef/kind");
            let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
            format!("no matches for kind \"{kind}\" in group \"{group}\"")
        }
    };
    let message = format!("the HPA controller was unable to get the target's current scale: {err}");
    events::record(
        state,
        hpa,
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
            now_s,
        );
        v["status"]["conditions"] = json!(conds);
        if v["status"].get("currentReplicas").is_none() {
            v["status"]["currentReplicas"] = json!(0);
            v["status"]["desiredReplicas"] = json!(0);
        }
    });
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
        let target_name = fields::str_at(&hpa, "/spec/scaleTargetRef/name").to_string();
        let target_ty = target_type(&hpa).filter(|t| state.store.serves(*t));
        let target = target_ty.and_then(|t| state.store.get_value(t, &key.ns, &target_name));
        let (Some(ty), Some(target)) = (target_ty, target) else {
            failed_get_scale(state, &hpa, key, &now_s);
            return Some(pace.secs(SYNC_SECS));
        };
        let current = fields::i64_at(&target, "/spec/replicas", 1);
        let min = fields::i64_at(&hpa, "/spec/minReplicas", 1);
        if current == 0 && min != 0 {
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
        let clock = Clock {
            t: sim_time(&hpa, state.options.speed, now),
            noise: noise_key(state, &key.ns, &key.name),
        };
        let scaler = self.scalers.entry(key.clone()).or_default();
        let sync = evaluate(scaler, &hpa, current, ready, request_of(&target), clock);
        let (desired, reason) = match &sync.outcome {
            Outcome::Scale { decision, metric } => (
                decision.desired,
                if decision.desired > current {
                    format!("{metric} above target")
                } else {
                    "All metrics below target".to_string()
                },
            ),
            Outcome::OutOfRange { desired, reason } => (*desired, (*reason).to_string()),
            Outcome::NoDecision {
                reason,
                error,
                compute,
            } => {
                let src = Source::component("horizontal-pod-autoscaler");
                events::record(state, &hpa, Severity::Warning, reason, error, src);
                events::record(
                    state,
                    &hpa,
                    Severity::Warning,
                    "FailedComputeMetricsReplicas",
                    compute,
                    src,
                );
                (current, String::new())
            }
        };
        let mut rescaled = false;
        if desired != current
            && state
                .store
                .modify(ty, &key.ns, &target_name, |v| {
                    v["spec"]["replicas"] = json!(desired)
                })
                .is_some()
        {
            rescaled = true;
            events::record(
                state,
                &hpa,
                Severity::Normal,
                "SuccessfulRescale",
                &format!("New size: {desired}; reason: {reason}"),
                Source::component("horizontal-pod-autoscaler"),
            );
        }
        let status = status_for(&hpa, &sync, current, rescaled, now);
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

    fn hpa(ns: &str, name: &str, metrics: Value) -> Value {
        hpa_object(
            ns,
            name,
            ("apps/v1", "Deployment", name),
            2,
            6,
            metrics,
            default_behavior(300),
            None,
            clock::now(),
        )
    }

    #[test]
    fn a_metric_the_pipeline_cannot_read_decides_nothing() {
        let h = hpa("payments", "ledger", json!([cpu_metric(75)]));
        let c = Clock { t: 100.0, noise: 1 };
        let s = evaluate(&mut Autoscaler::default(), &h, 2, 2, 250, c);
        assert_eq!(s.statuses, vec![json!({"type": ""})]);
        let Outcome::NoDecision {
            reason,
            error,
            compute,
        } = &s.outcome
        else {
            panic!("{s:?}");
        };
        assert_eq!(*reason, "FailedGetResourceMetric");
        assert!(error.starts_with("failed to get cpu utilization: unable to get metrics"));
        assert!(compute.starts_with("invalid metrics (1 invalid out of 1), first error is: "));
        let status = status_for(&h, &s, 2, false, clock::now());
        let active = fields::condition(
            fields::array_at(&json!({"s": status}), "/s/conditions"),
            "ScalingActive",
        )
        .unwrap()
        .clone();
        assert_eq!(active["status"], "False");
        assert_eq!(active["reason"], "FailedGetResourceMetric");
    }

    #[test]
    fn every_metric_gets_its_status_entry_and_the_highest_proposal_wins() {
        let rps = json!({"type": "Pods", "pods": {"metric": {"name": "http_requests_per_second"},
            "target": {"type": "AverageValue", "averageValue": "100"}}});
        let h = hpa("shop", "cart", json!([cpu_metric(70), rps]));
        let s = evaluate(
            &mut Autoscaler::default(),
            &h,
            3,
            3,
            100,
            Clock { t: 0.0, noise: 1 },
        );
        assert_eq!(s.statuses.len(), 2);
        assert_eq!(s.statuses[0]["type"], "Resource");
        assert_eq!(
            s.statuses[1]["pods"]["metric"]["name"],
            "http_requests_per_second"
        );
        assert!(s.statuses[1]["pods"]["current"]["averageValue"].is_string());
        assert!(matches!(s.outcome, Outcome::Scale { .. }));
        // Above max: back to max without looking at metrics.
        let s = evaluate(
            &mut Autoscaler::default(),
            &h,
            9,
            9,
            100,
            Clock { t: 0.0, noise: 1 },
        );
        assert_eq!(
            s.outcome,
            Outcome::OutOfRange {
                desired: 6,
                reason: "Current number of replicas above Spec.MaxReplicas"
            }
        );
    }
}
