//! The scenario's HPAs and their past hour: at seed time each HPA's algorithm is run over the
//! last hour of its load curve, which gives the replica counts the targets are seeded with,
//! the HPA status, and the metric history charts show from the first frame.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::Value;

use super::hpa::{self, Autoscaler, Decision};
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
    pub utilization: i64,
    pub instance: Option<String>,
    /// Replicas the target had an hour ago.
    pub initial: i64,
}

impl HpaPlan {
    /// The HPA object (no status).
    #[must_use]
    pub fn object(&self, created: DateTime<Utc>) -> Value {
        hpa::hpa_object(
            &self.ns,
            &self.name,
            (&self.target.0, &self.target.1, &self.target.2),
            self.min,
            self.max,
            self.utilization,
            self.instance.as_deref(),
            created,
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn plan(
    ns: &str,
    name: &str,
    target: (&str, &str),
    min: i64,
    max: i64,
    util: i64,
    instance: &str,
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
        utilization: util,
        instance: Some(instance.into()),
        initial,
    }
}

/// The named HPAs: `shop/frontend` follows its load, `shop/checkout` scales the Argo Rollout
/// of the same name, `search/indexer` is pinned at its maximum.
#[must_use]
pub fn named_plans(state: &ClusterState) -> Vec<HpaPlan> {
    let mut out = vec![plan(
        "shop",
        "frontend",
        ("Deployment", "frontend"),
        2,
        10,
        60,
        "shop",
        3,
    )];
    if state.profile.has(Addon::ArgoRollouts) {
        out.push(plan(
            "shop",
            "checkout",
            ("Rollout", "checkout"),
            2,
            8,
            70,
            "shop",
            3,
        ));
    }
    out.push(plan(
        "search",
        "indexer",
        ("StatefulSet", "indexer"),
        2,
        3,
        70,
        "search",
        3,
    ));
    out
}

/// An HPA's simulated past: samples of (time, current replicas, desired replicas).
#[derive(Debug, Clone)]
pub struct Timeline {
    pub plan: HpaPlan,
    pub points: Vec<(DateTime<Utc>, i64, i64)>,
    pub last: Option<Decision>,
    pub last_scale: Option<DateTime<Utc>>,
    /// Replicas the target has now.
    pub replicas: i64,
}

/// Wall-clock step of the simulated past.
pub const STEP_SECS: i64 = 15;
/// How far back the past is simulated.
pub const HISTORY_SECS: i64 = 3_600;

/// Runs an HPA's algorithm over the last hour, every 15 s of wall time, assuming the target
/// follows instantly with all pods ready.
#[must_use]
pub fn simulate(state: &ClusterState, plan: &HpaPlan, hpa: &Value, now: DateTime<Utc>) -> Timeline {
    let limits = hpa::limits(hpa);
    let curve = hpa::curve_for(
        &plan.ns,
        &plan.name,
        limits.target_util,
        limits.min,
        limits.max,
    );
    let noise = hpa::noise_key(state, &plan.ns, &plan.name);
    let mut scaler = Autoscaler::default();
    let mut current = plan.initial;
    let mut points = Vec::new();
    let mut last = None;
    let mut last_scale = None;
    let mut at = now - ChronoDuration::seconds(HISTORY_SECS);
    while at <= now {
        let t = hpa::sim_time(hpa, state.options.speed, at);
        let load = curve.at(t, noise);
        let d = scaler.step(limits, current, current, load, t);
        points.push((at, current, d.desired));
        if d.desired != current {
            last_scale = Some(at);
            current = d.desired;
        }
        last = Some(d);
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
    fn frontend_history_ends_at_three_and_indexer_is_pinned() {
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
                    .all(|(_, c, d)| (p.min..=p.max).contains(c) && (p.min..=p.max).contains(d))
            );
            let last = tl.last.clone().unwrap();
            match p.name.as_str() {
                "frontend" => {
                    assert_eq!(
                        tl.replicas,
                        3,
                        "{:?}",
                        tl.points.iter().rev().take(25).collect::<Vec<_>>()
                    );
                    let distinct: std::collections::BTreeSet<i64> =
                        tl.points.iter().map(|(_, c, _)| *c).collect();
                    assert!(distinct.len() >= 3, "frontend should move: {distinct:?}");
                }
                "indexer" => {
                    assert_eq!(tl.replicas, 3);
                    assert!(last.limited);
                    assert_eq!(last.limited_reason, "TooManyReplicas");
                }
                _ => {}
            }
        }
    }
}
