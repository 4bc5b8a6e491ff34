//! The scenario's HPAs and their past hour: at seed time each HPA's controller is run over
//! the last hour of its loads, which gives the replica counts the targets are seeded with,
//! the HPA status, and the metric history charts show from the first frame.
//!
//! Across the scenario: `shop/frontend` follows its load, `shop/checkout` scales the Argo
//! Rollout of that name, `search/indexer` is pinned at its maximum, `shop/gateway` scales on CPU
//! and requests per second, `payments/ledger` cannot read its CPU metric
//! (FailedGetResourceMetric), and `argocd/argocd-repo-server` holds a scale-down in its 15
//! minute stabilization window after a sync storm.

use chrono::{DateTime, Duration as ChronoDuration, Timelike, Utc};
use serde_json::{Value, json};

use super::hpa::{self, Autoscaler, Clock, Outcome, Sync};
use crate::ClusterState;
use crate::api::registry::Addon;

/// One HPA of the scenario.
#[derive(Debug, Clone)]
pub struct HpaPlan {
    pub ns: String,
    pub name: String,
    /// (apiVersion, kind, name) of the scale target.
    pub target: (String, String, String),
    pub min: i64,
    pub max: i64,
    /// `spec.metrics`.
    pub metrics: Value,
    /// `spec.behavior`.
    pub behavior: Value,
    pub instance: Option<String>,
    /// More metadata (labels, ownerReferences) merged into the object's, or `Null`.
    pub meta: Value,
    /// Replicas the target had an hour ago.
    pub initial: i64,
}

impl HpaPlan {
    /// The HPA object (no status).
    #[must_use]
    pub fn object(&self, created: DateTime<Utc>) -> Value {
        let mut hpa = hpa::hpa_object(
            &self.ns,
            &self.name,
            (&self.target.0, &self.target.1, &self.target.2),
            self.min,
            self.max,
            self.metrics.clone(),
            self.behavior.clone(),
            self.instance.as_deref(),
            created,
        );
        if let Value::Object(meta) = &self.meta {
            for (k, v) in meta {
                match (hpa["metadata"].get_mut(k), v) {
                    (Some(Value::Object(old)), Value::Object(new)) => {
                        old.extend(new.iter().map(|(a, b)| (a.clone(), b.clone())));
                    }
                    _ => hpa["metadata"][k] = v.clone(),
                }
            }
        }
        hpa
    }
}

#[allow(clippy::too_many_arguments)]
fn plan(
    ns: &str,
    name: &str,
    target: (&str, &str),
    min: i64,
    max: i64,
    metrics: Value,
    instance: Option<&str>,
    initial: i64,
) -> HpaPlan {
    let api_version = match target.0 {
        "Rollout" => "argoproj.io/v1alpha1",
        _ => "apps/v1",
    };
    HpaPlan {
        ns: ns.into(),
        name: name.into(),
        target: (api_version.into(), target.0.into(), target.1.into()),
        min,
        max,
        metrics,
        behavior: hpa::default_behavior(300),
        instance: instance.map(str::to_string),
        meta: Value::Null,
        initial,
    }
}

/// The named HPAs (see the module docs).
#[must_use]
pub fn named_plans(state: &ClusterState) -> Vec<HpaPlan> {
    let cpu = |u| json!([hpa::cpu_metric(u)]);
    let mut out = vec![plan(
        "shop",
        "frontend",
        ("Deployment", "frontend"),
        2,
        10,
        cpu(60),
        Some("shop"),
        3,
    )];
    if state.profile.has(Addon::ArgoRollouts) {
        out.push(plan(
            "shop",
            "checkout",
            ("Rollout", "checkout"),
            2,
            8,
            cpu(70),
            Some("shop"),
            3,
        ));
    }
    out.push(plan(
        "search",
        "indexer",
        ("StatefulSet", "indexer"),
        2,
        3,
        cpu(70),
        Some("search"),
        3,
    ));
    out.push(plan(
        "shop",
        "gateway",
        ("Deployment", "gateway"),
        2,
        8,
        json!([hpa::cpu_metric(70), {"type": "Pods", "pods": {
            "metric": {"name": "http_requests_per_second"},
            "target": {"type": "AverageValue", "averageValue": "100"}}}]),
        None,
        3,
    ));
    out.push(plan(
        "payments",
        "ledger",
        ("Deployment", "ledger"),
        2,
        6,
        cpu(75),
        None,
        2,
    ));
    if state.profile.has(Addon::ArgoCd) {
        out.push(HpaPlan {
            behavior: hpa::default_behavior(900),
            ..plan(
                "argocd",
                "argocd-repo-server",
                ("Deployment", "argocd-repo-server"),
                1,
                5,
                cpu(75),
                None,
                1,
            )
        });
    }
    out
}

/// An HPA's simulated past: samples of (time, current replicas, desired replicas).
#[derive(Debug, Clone)]
pub struct Timeline {
    pub plan: HpaPlan,
    pub points: Vec<(DateTime<Utc>, i64, i64)>,
    /// The last sync, for the status the HPA is seeded with.
    pub last: Option<Sync>,
    pub last_scale: Option<DateTime<Utc>>,
    /// Replicas the target has now.
    pub replicas: i64,
}

/// Wall-clock step of the simulated past.
pub const STEP_SECS: i64 = 15;
/// How far back the past is simulated.
pub const HISTORY_SECS: i64 = 3_600;

/// The CPU request of a plan's target pods, in millicores (for the reported average value).
#[must_use]
pub fn request_milli(plan: &HpaPlan) -> i64 {
    if plan.ns.starts_with("load-") {
        return 100;
    }
    super::catalog::WORKLOADS
        .iter()
        .find(|w| w.ns == plan.ns && w.name == plan.target.2)
        .map_or(200, |w| hpa::millicores(w.cpu_request))
}

/// Runs an HPA's controller over the last hour, every 15 s of wall time, assuming the
/// target follows instantly with all pods ready. The samples fall on whole seconds, as the
/// HPA's creation time does, so the same seed replays the same past whatever the
/// sub-second part of `now`.
#[must_use]
pub fn simulate(state: &ClusterState, plan: &HpaPlan, hpa: &Value, now: DateTime<Utc>) -> Timeline {
    let now = now.with_nanosecond(0).unwrap_or(now);
    let noise = hpa::noise_key(state, &plan.ns, &plan.name);
    let mut scaler = Autoscaler::default();
    let mut current = plan.initial;
    let mut points = Vec::new();
    let mut last = None;
    let mut last_scale = None;
    let mut at = now - ChronoDuration::seconds(HISTORY_SECS);
    while at <= now {
        let t = hpa::sim_time(hpa, state.options.speed, at);
        let sync = hpa::evaluate(
            &mut scaler,
            hpa,
            current,
            current,
            request_milli(plan),
            Clock { t, noise },
        );
        let desired = match &sync.outcome {
            Outcome::Scale { decision, .. } => decision.desired,
            Outcome::OutOfRange { desired, .. } => *desired,
            Outcome::NoDecision { .. } => current,
        };
        points.push((at, current, desired));
        if desired != current {
            last_scale = Some(at);
            current = desired;
        }
        last = Some(sync);
        at += ChronoDuration::seconds(STEP_SECS);
    }
    Timeline {
        plan: plan.clone(),
        points,
        last,
        last_scale,
        replicas: current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::clock;
    use crate::{ClusterProfile, SimOptions};

    #[test]
    fn the_scenario_shows_every_kind_of_hpa() {
        let state = ClusterState::new(ClusterProfile::standard(0), SimOptions::default());
        let now = clock::now();
        let created = now - ChronoDuration::days(3);
        for p in named_plans(&state) {
            let hpa = p.object(created);
            let tl = simulate(&state, &p, &hpa, now);
            assert_eq!(tl.points.len() as i64, HISTORY_SECS / STEP_SECS + 1);
            assert!(
                tl.points
                    .iter()
                    .all(|(_, c, d)| (p.min..=p.max).contains(c) && (p.min..=p.max).contains(d)),
                "{}",
                p.name
            );
            let last = tl.last.clone().unwrap();
            let decision = match &last.outcome {
                Outcome::Scale { decision, .. } => Some(decision.clone()),
                _ => None,
            };
            match p.name.as_str() {
                "frontend" => {
                    assert_eq!(tl.replicas, 3);
                    let distinct: std::collections::BTreeSet<i64> =
                        tl.points.iter().map(|(_, c, _)| *c).collect();
                    assert!(distinct.len() >= 3, "frontend should move: {distinct:?}");
                }
                "indexer" => {
                    let d = decision.unwrap();
                    assert_eq!(tl.replicas, 3);
                    assert_eq!((d.limited, d.limited_reason), (true, "TooManyReplicas"));
                }
                "gateway" => {
                    assert_eq!(last.statuses.len(), 2, "two metrics, two readings");
                    assert_eq!(last.statuses[1]["type"], "Pods");
                }
                "ledger" => {
                    assert!(matches!(last.outcome, Outcome::NoDecision { .. }));
                    assert_eq!(tl.replicas, 2);
                }
                "argocd-repo-server" => {
                    // Ten minutes after the storm: the load wants 1, the window holds 5.
                    let d = decision.unwrap();
                    assert_eq!(
                        d.able_reason,
                        "ScaleDownStabilized",
                        "{:?}",
                        tl.points.last()
                    );
                    assert_eq!(tl.replicas, 5);
                }
                _ => {}
            }
        }
    }
}
