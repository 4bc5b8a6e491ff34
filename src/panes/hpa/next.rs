//! "What the controller will do next and why": the HPA's spec and status, its target's
//! replicas and what kdeck has seen of its history, run through [`super::algorithm`] with
//! every step written out (`cpu 110%/70% wants 5; capped at max 3`).
//!
//! kdeck sees what the controller reports, not each pod: ratios come from the averages in
//! `status.currentMetrics`, unready pods are the target's replicas minus its ready ones, the
//! recommendations of the stabilization window are the scale-ups kdeck saw (each means a
//! recommendation at least that high) and, when the controller reports ScaleDownStabilized,
//! one at the current count; scale events are the replica changes kdeck saw.

use chrono::{DateTime, Utc};

use super::algorithm::{
    BehaviorInputs, CombineError, DOWNSCALE_WINDOW, Normalized, Pods, Policy, PolicyKind, Proposal,
    Reading, Recommendation, Rules, ScaleEvent, Select, Tolerances, combine, normalize_legacy,
    normalize_with_behavior, propose,
};
use super::history::Sample;
use super::metrics::MetricView;
use super::model::TargetInfo;
use crate::k8s::autoscaling::{HorizontalPodAutoscaler, ScalingRules};

/// The next sync, explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextStep {
    /// One line: `cpu 110%/70% wants 5; capped at max 3 → stays at 3`.
    pub summary: String,
    /// The steps, one per line.
    pub lines: Vec<String>,
    /// What the next sync sets, when the controller decides anything.
    pub desired: Option<i32>,
}

/// Scaling rules with the API defaults for what `behavior` leaves unset.
#[must_use]
pub fn rules_of(given: Option<&ScalingRules>, up: bool) -> Rules {
    let mut r = if up {
        Rules::default_up()
    } else {
        Rules::default_down()
    };
    let Some(g) = given else {
        return r;
    };
    if let Some(w) = g.stabilization_window_seconds {
        r.window = w;
    }
    if let Some(s) = &g.select_policy {
        r.select = match s.as_str() {
            "Min" => Select::Min,
            "Disabled" => Select::Disabled,
            _ => Select::Max,
        };
    }
    if let Some(p) = &g.policies {
        r.policies = p
            .iter()
            .map(|p| Policy {
                kind: if p.type_ == "Pods" {
                    PolicyKind::Pods
                } else {
                    PolicyKind::Percent
                },
                value: p.value,
                period: p.period_seconds,
            })
            .collect();
    }
    r
}

/// The tolerances: 10% each way unless `behavior` sets its own (Kubernetes 1.33+).
#[must_use]
pub fn tolerances_of(hpa: &HorizontalPodAutoscaler) -> Tolerances {
    let b = hpa.spec.behavior.as_ref();
    let tol = |r: Option<&ScalingRules>| r.and_then(|r| r.tolerance.as_ref()?.value());
    let d = Tolerances::default();
    Tolerances {
        down: tol(b.and_then(|b| b.scale_down.as_ref())).unwrap_or(d.down),
        up: tol(b.and_then(|b| b.scale_up.as_ref())).unwrap_or(d.up),
    }
}

fn f2(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn pct(v: f64) -> String {
    format!("{}%", f2(v * 100.0))
}

/// How one metric's proposal came about.
fn explain(m: &MetricView, reading: Reading, p: &Proposal, pods: Pods, tol: Tolerances) -> String {
    let band = if (tol.down - tol.up).abs() < f64::EPSILON {
        format!("±{}", pct(tol.up))
    } else {
        format!("-{}/+{}", pct(tol.down), pct(tol.up))
    };
    let unready = pods.current - pods.ready;
    let how = match reading {
        _ if p.rebalanced && p.held => format!(
            "counting {unready} unready pods as idle: ratio {} → keeps {}",
            f2(p.ratio),
            p.replicas
        ),
        _ if p.rebalanced => format!(
            "counting {unready} unready pods as idle: ratio {} → ceil({} × {}) = {}",
            f2(p.ratio),
            f2(p.ratio),
            pods.current,
            p.replicas
        ),
        _ if p.held => format!("within {band}: keeps {}", p.replicas),
        Reading::Utilization { .. } | Reading::PodAverage { .. } => format!(
            "ceil({} × {} ready) = {}",
            f2(p.ratio),
            pods.ready.min(pods.current),
            p.replicas
        ),
        Reading::Value { .. } if pods.current == 0 => {
            format!("target at 0: ceil({}) = {}", f2(p.ratio), p.replicas)
        }
        Reading::Value { .. } => format!(
            "ceil({} × {} ready) = {}",
            f2(p.ratio),
            pods.ready,
            p.replicas
        ),
        Reading::TotalAverage { total, target } => format!(
            "ceil(total {} / {} per pod) = {}",
            f2(total as f64 / 1000.0),
            f2(target as f64 / 1000.0),
            p.replicas
        ),
    };
    if p.rebalanced {
        return format!("{}: {how}", m.text);
    }
    format!("{}: ratio {} → {how}", m.text, f2(p.ratio))
}

/// Recommendations and scale events from the replicas kdeck saw.
fn from_history(
    samples: &[Sample],
    now: DateTime<Utc>,
) -> (Vec<Recommendation>, Vec<ScaleEvent>, Vec<ScaleEvent>) {
    let (mut recs, mut up, mut down) = (Vec::new(), Vec::new(), Vec::new());
    for w in samples.windows(2) {
        let age = (now - w[1].at).num_seconds().max(0);
        let change = w[1].current - w[0].current;
        if change > 0 {
            recs.push(Recommendation {
                age,
                replicas: w[1].current,
            });
            up.push(ScaleEvent { age, change });
        } else if change < 0 {
            down.push(ScaleEvent {
                age,
                change: -change,
            });
        }
    }
    (recs, up, down)
}

/// The next sync of `hpa` whose target now has `current` replicas.
#[must_use]
pub fn next_step(
    hpa: &HorizontalPodAutoscaler,
    metrics: &[MetricView],
    target: &TargetInfo,
    current: i32,
    samples: &[Sample],
    now: DateTime<Utc>,
) -> NextStep {
    let (min, max) = (hpa.min_replicas(), hpa.spec.max_replicas);
    let fixed = |desired: i32, summary: String| NextStep {
        lines: vec![summary.clone()],
        summary,
        desired: Some(desired),
    };
    if current == 0 && min != 0 {
        return NextStep {
            summary: "autoscaling is off: the target was scaled to 0 (ScalingDisabled)".into(),
            lines: vec!["scale the target above 0 to turn it back on".into()],
            desired: None,
        };
    }
    if current > max {
        return fixed(
            max,
            format!("{current} replicas is above max {max}: the next sync scales to {max}"),
        );
    }
    if current < min {
        return fixed(
            min,
            format!("{current} replicas is below min {min}: the next sync scales to {min}"),
        );
    }
    let pods = if target.found {
        Pods {
            current,
            ready: target.ready.min(current),
            status_replicas: target.status_replicas,
        }
    } else {
        Pods {
            current,
            ready: current,
            status_replicas: current,
        }
    };
    let tol = tolerances_of(hpa);
    let mut lines = Vec::new();
    let mut proposals = Vec::new();
    let mut best: Option<(i32, &MetricView)> = None;
    for m in metrics {
        match m.reading(pods.status_replicas) {
            Some(reading) => {
                let p = propose(reading, pods, tol);
                lines.push(explain(m, reading, &p, pods, tol));
                if best.is_none_or(|(r, _)| p.replicas > r) {
                    best = Some((p.replicas, m));
                }
                proposals.push(Some(p.replicas));
            }
            None => {
                lines.push(format!(
                    "{}: no reading — the controller cannot use it",
                    m.text
                ));
                proposals.push(None);
            }
        }
    }
    let wanted = match combine(&proposals, current) {
        Ok(r) => r,
        Err(e) => {
            let summary = match e {
                CombineError::AllInvalid => {
                    format!("no metric can be read: the controller keeps {current}")
                }
                CombineError::WouldScaleDown(r) => format!(
                    "some metrics cannot be read and the rest want {r}: the controller does not \
                     scale down on partial data, keeps {current}"
                ),
            };
            lines.push(summary.clone());
            return NextStep {
                summary,
                lines,
                desired: None,
            };
        }
    };
    let driver = best.map_or_else(String::new, |(_, m)| m.text.clone());
    if metrics.len() > 1 {
        lines.push(format!("highest over metrics: {wanted} ({driver})"));
    }
    let (mut recs, up_events, down_events) = from_history(samples, now);
    let held_by_controller = hpa
        .condition("AbleToScale")
        .is_some_and(|c| c.reason.as_deref() == Some("ScaleDownStabilized"));
    if held_by_controller && wanted < current {
        recs.push(Recommendation {
            age: 0,
            replicas: current,
        });
    }
    let (n, window, rules) = match &hpa.spec.behavior {
        None => {
            let n = normalize_legacy(current, wanted, min, max, DOWNSCALE_WINDOW, &recs);
            (n, DOWNSCALE_WINDOW, None)
        }
        Some(b) => {
            let up = rules_of(b.scale_up.as_ref(), true);
            let down = rules_of(b.scale_down.as_ref(), false);
            let n = normalize_with_behavior(
                wanted,
                &BehaviorInputs {
                    current,
                    min,
                    max,
                    up: &up,
                    down: &down,
                    recommendations: &recs,
                    up_events: &up_events,
                    down_events: &down_events,
                },
            );
            let window = if wanted < current {
                down.window
            } else {
                up.window
            };
            (n, window, Some((up, down)))
        }
    };
    let mut summary = format!("{driver} wants {wanted}");
    describe_normalization(&n, wanted, window, min, max, &mut lines, &mut summary);
    if rules.is_none() {
        lines.push("no behavior set: legacy limits (scale-up at most max(2×, 4) per sync)".into());
    }
    summary.push_str(&if n.desired == current {
        format!(" → stays at {current}")
    } else {
        format!(" → next sync scales {current}→{}", n.desired)
    });
    NextStep {
        summary,
        lines,
        desired: Some(n.desired),
    }
}

fn describe_normalization(
    n: &Normalized,
    wanted: i32,
    window: i32,
    min: i32,
    max: i32,
    lines: &mut Vec<String>,
    summary: &mut String,
) {
    if n.stabilized != wanted {
        let text = match n.able_reason {
            "ScaleDownStabilized" => format!(
                "held at {} by the {window}s scale-down window (a higher recommendation is in it)",
                n.stabilized
            ),
            _ => format!(
                "held at {} by the {window}s scale-up window (a lower recommendation is in it)",
                n.stabilized
            ),
        };
        lines.push(format!("stabilization: {text}"));
        summary.push_str("; ");
        summary.push_str(&text);
    }
    if n.limited() {
        let text = match n.limited_reason {
            "TooManyReplicas" => format!("capped at max {max}"),
            "TooFewReplicas" => format!("raised to min {min}"),
            "ScaleUpLimit" => format!("limited to {} by the scale-up rate", n.desired),
            "ScaleDownLimit" => format!("limited to {} by the scale-down rate", n.desired),
            other => format!("{other}: {}", n.desired),
        };
        lines.push(format!("limits: {text} ({})", n.limited_reason));
        summary.push_str("; ");
        summary.push_str(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::panes::hpa::metrics::metric_views;
    use serde_json::json;

    fn hpa(v: serde_json::Value) -> HorizontalPodAutoscaler {
        serde_json::from_value(v).unwrap()
    }

    fn target(current: i32, ready: i32) -> TargetInfo {
        TargetInfo {
            found: true,
            spec_replicas: current,
            ready,
            status_replicas: current,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(2_000_000, 0).unwrap()
    }

    #[test]
    fn pinned_at_max_says_what_it_wants() {
        let h = hpa(json!({
            "metadata": {"name": "indexer", "namespace": "search"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "indexer"},
                "minReplicas": 2, "maxReplicas": 3,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 70}}}]},
            "status": {"currentReplicas": 3, "desiredReplicas": 3,
                "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageUtilization": 110}}}]}
        }));
        let m = metric_views(&h);
        let n = next_step(&h, &m, &target(3, 3), 3, &[], now());
        // ratio 110/70 = 1.571 → ceil(1.571 × 3) = ceil(4.714) = 5; no behavior, so the legacy
        // limit is max(6, 4) = 6 > max 3: capped at 3.
        assert_eq!(
            n.summary,
            "cpu 110%/70% wants 5; capped at max 3 → stays at 3"
        );
        assert_eq!(n.desired, Some(3));
        assert_eq!(
            n.lines[0],
            "cpu 110%/70%: ratio 1.57 → ceil(1.57 × 3 ready) = 5"
        );
    }

    #[test]
    fn two_metrics_of_different_types_take_the_highest() {
        let h = hpa(json!({
            "metadata": {"name": "cart", "namespace": "shop"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "cart"},
                "minReplicas": 2, "maxReplicas": 8,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
                    {"type": "Pods", "pods": {"metric": {"name": "http_requests_per_second"},
                        "target": {"type": "AverageValue", "averageValue": "100"}}}],
                "behavior": {"scaleUp": {"stabilizationWindowSeconds": 0}}},
            "status": {"currentReplicas": 4, "desiredReplicas": 4, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 45}}},
                {"type": "Pods", "pods": {"metric": {"name": "http_requests_per_second"}, "current": {"averageValue": "140"}}}]}
        }));
        let m = metric_views(&h);
        assert_eq!(m[1].text, "rps 140/100 avg");
        let n = next_step(&h, &m, &target(4, 4), 4, &[], now());
        // cpu 45/70 = 0.643 → ceil(0.643 × 4) = ceil(2.571) = 3; rps 1.4 → ceil(5.6) = 6.
        // Highest 6; default scale-up limit max(4 + 4, 8) = 8, so 6 stands.
        assert_eq!(n.desired, Some(6));
        assert!(
            n.lines
                .contains(&"highest over metrics: 6 (rps 140/100 avg)".to_string())
        );
        assert_eq!(n.summary, "rps 140/100 avg wants 6 → next sync scales 4→6");
    }

    #[test]
    fn a_scale_down_waits_for_the_window_kdeck_saw_open() {
        let h = hpa(json!({
            "metadata": {"name": "repo", "namespace": "argocd"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "repo"},
                "minReplicas": 1, "maxReplicas": 5,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 75}}}],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 900}}},
            "status": {"currentReplicas": 5, "desiredReplicas": 5, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 20}}}]}
        }));
        let m = metric_views(&h);
        let at = |s: i64| now() - chrono::Duration::seconds(s);
        // kdeck saw the scale-up from 1 to 5 ten minutes ago.
        let seen = [
            Sample {
                at: at(1200),
                current: 1,
                desired: 1,
            },
            Sample {
                at: at(600),
                current: 5,
                desired: 5,
            },
        ];
        let n = next_step(&h, &m, &target(5, 5), 5, &seen, now());
        // 20/75 = 0.267 → ceil(0.267 × 5) = ceil(1.333) = 2; the scale-up to 5 600 s ago is
        // inside the 900 s window: held at 5.
        assert_eq!(n.desired, Some(5));
        assert_eq!(
            n.summary,
            "cpu 20%/75% wants 2; held at 5 by the 900s scale-down window (a higher \
             recommendation is in it) → stays at 5"
        );
        // The same 1000 s later: the window has passed; −100% per 15 s lets it go to 2.
        let later = now() + chrono::Duration::seconds(1000);
        let n = next_step(&h, &m, &target(5, 5), 5, &seen, later);
        assert_eq!(n.desired, Some(2));
    }

    #[test]
    fn invalid_metrics_decide_nothing_or_block_a_scale_down() {
        let h = hpa(json!({
            "metadata": {"name": "ledger", "namespace": "payments"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ledger"},
                "minReplicas": 2, "maxReplicas": 6,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 75}}}]},
            "status": {"currentReplicas": 2, "desiredReplicas": 2, "currentMetrics": [{"type": ""}]}
        }));
        let m = metric_views(&h);
        assert!(!m[0].has_reading());
        let n = next_step(&h, &m, &target(2, 2), 2, &[], now());
        assert_eq!(n.desired, None);
        assert_eq!(n.summary, "no metric can be read: the controller keeps 2");
    }

    #[test]
    fn out_of_range_and_disabled_targets() {
        let h = hpa(json!({
            "metadata": {"name": "x", "namespace": "y"},
            "spec": {"minReplicas": 2, "maxReplicas": 4}
        }));
        let m = metric_views(&h);
        assert_eq!(
            next_step(&h, &m, &target(6, 6), 6, &[], now()).desired,
            Some(4)
        );
        assert_eq!(
            next_step(&h, &m, &target(1, 1), 1, &[], now()).desired,
            Some(2)
        );
        assert_eq!(
            next_step(&h, &m, &target(0, 0), 0, &[], now()).desired,
            None
        );
    }

    #[test]
    fn unset_behavior_fields_take_the_api_defaults() {
        let given = ScalingRules {
            stabilization_window_seconds: Some(60),
            ..ScalingRules::default()
        };
        let r = rules_of(Some(&given), false);
        assert_eq!(r.window, 60);
        assert_eq!(r.policies, Rules::default_down().policies);
        assert_eq!(rules_of(None, false).window, 300);
        assert_eq!(rules_of(None, true).window, 0);
    }
}
