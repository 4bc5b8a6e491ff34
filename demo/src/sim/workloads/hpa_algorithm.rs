//! The HPA algorithm and the synthetic load it scales on, free of I/O so seeding can replay
//! an hour of it and tests can check it step by step.
//!
//! Each metric of an HPA has its own load: CPU in "pod-percent" (total use as a percentage of
//! one pod's request, so utilization = load / ready pods), a Pods metric as a total rate
//! (average = load / ready pods), an External metric as a total (a queue's length). The
//! algorithm follows the HPA controller: each metric's ratio against its target with a 10%
//! tolerance and `ceil(ratio × ready)` (unready pods idle on a CPU scale-up), the highest
//! proposal over the metrics (no decision when every metric fails, and no scale-down while
//! one fails), then the `behavior` normalization: the scale-up and scale-down stabilization
//! windows of the spec (defaults 0 s and 300 s), the Pods/Percent policies over their periods
//! with the select policy, and min/max, with the real ScalingLimited reasons.

use std::collections::VecDeque;
use std::f64::consts::PI;

use crate::sim::fields::fnv64;

/// The HPA controller's sync period, in simulated seconds.
pub const SYNC_SECS: f64 = 15.0;
/// Default scale-down stabilization window, in simulated seconds.
pub const DOWN_WINDOW_SECS: f64 = 300.0;
/// Ratios within this distance of 1.0 do not scale.
pub const TOLERANCE: f64 = 0.1;

/// The shape of a load over time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// A sinusoid of `period` seconds starting at `phase` radians.
    Wave { period: f64, phase: f64 },
    /// A burst every `every` seconds (shifted by `offset`) that decays with time constant
    /// `tau` — a sync storm, a batch arriving.
    Burst { every: f64, offset: f64, tau: f64 },
}

/// A synthetic load: a base, a shaped swing and seeded noise, in the metric's units.
#[derive(Debug, Clone, Copy)]
pub struct LoadCurve {
    pub base: f64,
    pub amplitude: f64,
    pub shape: Shape,
    pub noise: f64,
}

impl LoadCurve {
    const fn wave(base: f64, amplitude: f64, period: f64, phase: f64, noise: f64) -> Self {
        Self {
            base,
            amplitude,
            shape: Shape::Wave { period, phase },
            noise,
        }
    }

    /// The load at simulated second `t`; the noise is fixed per 15-second bucket.
    #[must_use]
    pub fn at(&self, t: f64, noise_key: u64) -> f64 {
        let swing = match self.shape {
            Shape::Wave { period, phase } => (2.0 * PI * t / period + phase).sin(),
            Shape::Burst { every, offset, tau } => (-((t + offset).rem_euclid(every)) / tau).exp(),
        };
        let bucket = (t / SYNC_SECS).floor() as i64;
        let n = fnv64(format!("{noise_key}/{bucket}").as_bytes());
        let unit = (n % 2001) as f64 / 1000.0 - 1.0;
        (self.base + self.amplitude * swing + self.noise * unit).max(0.0)
    }
}

/// The load curve of one metric of an HPA: the scenario's named ones, flat load for
/// `--scale` HPAs (so thousands of pods stay put), and a moderate wave for anything else.
/// `target` is the metric's target in its units (percent, or a per-pod average).
#[must_use]
pub fn curve_for(ns: &str, name: &str, metric: &str, target: f64, min: i64, max: i64) -> LoadCurve {
    match (ns, name, metric) {
        ("shop", "frontend", _) => LoadCurve::wave(165.0, 120.0, 600.0, 0.0, 8.0),
        ("shop", "checkout", _) => LoadCurve::wave(210.0, 150.0, 420.0, 1.0, 10.0),
        // Above what max 3 can serve at 70% all the time, and climbing for part of each cycle.
        ("search", "indexer", _) => LoadCurve::wave(330.0, 30.0, 900.0, 0.0, 10.0),
        ("shop", "gateway", "cpu") => LoadCurve::wave(150.0, 60.0, 540.0, 0.5, 5.0),
        ("shop", "gateway", _) => LoadCurve::wave(320.0, 160.0, 720.0, 0.0, 10.0),
        // A sync storm every 30 minutes; at seed time (speed 1) ten minutes have passed, so the
        // scale-down is held by the 900 s window.
        ("argocd", "argocd-repo-server", _) => LoadCurve {
            base: 30.0,
            amplitude: 400.0,
            shape: Shape::Burst {
                every: 1800.0,
                offset: 600.0,
                tau: 120.0,
            },
            noise: 3.0,
        },
        ("shop", _, m) if m.contains("rabbitmq") => LoadCurve::wave(160.0, 120.0, 1200.0, 0.0, 6.0),
        _ if ns.starts_with("load-") => LoadCurve::wave(target * min as f64, 0.0, 600.0, 0.0, 0.0),
        _ => {
            let base = target * (min as f64 + (max - min) as f64 * 0.3);
            LoadCurve::wave(base, base * 0.4, 480.0, 0.0, base * 0.03)
        }
    }
}

/// How the metrics pipeline fails for a metric of the scenario, if it does: (reason,
/// message) as the HPA controller reports them. `payments/ledger`'s pods are not in the
/// resource metrics API.
#[must_use]
pub fn metric_failure(ns: &str, name: &str, metric: &str) -> Option<(&'static str, String)> {
    ((ns, name, metric) == ("payments", "ledger", "cpu")).then(|| {
        (
            "FailedGetResourceMetric",
            "failed to get cpu utilization: unable to get metrics for resource cpu: no metrics \
             returned from resource metrics API"
                .to_string(),
        )
    })
}

/// How a metric is measured and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Resource `Utilization`: percent of the request, whole percents.
    Utilization,
    /// Pods (or Resource) `AverageValue`: load / ready pods against a per-pod target.
    PodAverage,
    /// External/Object `AverageValue`: a total against a per-pod target.
    TotalAverage,
    /// External/Object `Value`: a total against a total.
    Value,
}

/// One metric's proposal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricProposal {
    pub replicas: i64,
    /// The reading the status shows, in the target's units (percent or per-pod value).
    pub reading: f64,
}

/// The controller's replica calculation for one metric at `load`, on `current` replicas of
/// which `ready` are ready.
#[must_use]
pub fn propose(
    kind: MetricKind,
    load: f64,
    target: f64,
    current: i64,
    ready: i64,
) -> MetricProposal {
    let target = target.max(f64::EPSILON);
    let ready_n = ready.clamp(1, current.max(1));
    let hold = |reading| MetricProposal {
        replicas: current,
        reading,
    };
    match kind {
        MetricKind::Utilization | MetricKind::PodAverage => {
            let per_pod = load / ready_n as f64;
            // Utilization is whole percents; averages keep their precision.
            let reading = if kind == MetricKind::Utilization {
                per_pod.floor()
            } else {
                per_pod
            };
            let ratio = reading / target;
            if ratio > 1.0 && ready_n < current && kind == MetricKind::Utilization {
                // Unready pods count as idle on a scale-up; a reversal holds.
                let all = (load / current as f64).floor() / target;
                if (all - 1.0).abs() <= TOLERANCE || all < 1.0 {
                    return hold(reading);
                }
                return MetricProposal {
                    replicas: ((all * current as f64).ceil() as i64).max(current),
                    reading,
                };
            }
            if (ratio - 1.0).abs() <= TOLERANCE {
                return hold(reading);
            }
            MetricProposal {
                replicas: (ratio * ready_n as f64).ceil() as i64,
                reading,
            }
        }
        MetricKind::TotalAverage => {
            let reading = load / current.max(1) as f64;
            let ratio = load / (target * current.max(1) as f64);
            if (ratio - 1.0).abs() <= TOLERANCE {
                return hold(reading);
            }
            MetricProposal {
                replicas: (load / target).ceil() as i64,
                reading,
            }
        }
        MetricKind::Value => {
            let ratio = load / target;
            if (ratio - 1.0).abs() <= TOLERANCE {
                return hold(load);
            }
            MetricProposal {
                replicas: (ratio * ready_n as f64).ceil() as i64,
                reading: load,
            }
        }
    }
}

/// A scaling policy: `Pods` (`percent == false`) or `Percent` of `value` per `period` seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    pub percent: bool,
    pub value: f64,
    pub period: f64,
}

/// One direction's rules: stabilization window, policies, and whether the biggest change
/// wins (`Max`), the smallest (`Min`), or none (`Disabled`, `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub window: f64,
    pub policies: Vec<Policy>,
    pub select_max: Option<bool>,
}

/// The limits an HPA scales within, read from its spec each sync.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub min: i64,
    pub max: i64,
    pub up: Rules,
    pub down: Rules,
    /// No `behavior` in the spec: the controller's legacy limits (scale-up at most
    /// `max(2 × current, 4)`, no scale-down rate) with the rules' windows.
    pub legacy: bool,
}

/// What one sync decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub desired: i64,
    /// AbleToScale reason and message (before a rescale is attempted).
    pub able_reason: &'static str,
    pub able_message: String,
    /// ScalingLimited status, reason and message.
    pub limited: bool,
    pub limited_reason: &'static str,
    pub limited_message: &'static str,
}

/// The per-HPA memory of the controller: recent recommendations (for stabilization) and
/// scale events (for the policies' periods), in simulated seconds.
#[derive(Debug, Default, Clone)]
pub struct Autoscaler {
    /// Set at the first sync, when the current count is recorded as a recommendation (as the
    /// controller does after a restart, so a held scale-down stays held).
    started: bool,
    recommendations: VecDeque<(f64, i64)>,
    /// (time, change): positive for a scale-up.
    events: VecDeque<(f64, i64)>,
}

fn changed_within(events: &VecDeque<(f64, i64)>, t: f64, period: f64, up: bool) -> i64 {
    events
        .iter()
        .filter(|(at, c)| *at > t - period && (*c > 0) == up)
        .map(|(_, c)| c.abs())
        .sum()
}

impl Autoscaler {
    fn limit(&self, limits: &Limits, rules: &Rules, current: i64, t: f64, up: bool) -> i64 {
        if limits.legacy {
            return if up { (2 * current).max(4) } else { 0 };
        }
        let Some(select_max) = rules.select_max else {
            return current;
        };
        let mut out: Option<i64> = None;
        for p in &rules.policies {
            let start = current - changed_within(&self.events, t, p.period, true)
                + changed_within(&self.events, t, p.period, false);
            let proposed = match (p.percent, up) {
                (false, true) => start + p.value as i64,
                (false, false) => start - p.value as i64,
                (true, true) => (start as f64 * (1.0 + p.value / 100.0)).ceil() as i64,
                (true, false) => (start as f64 * (1.0 - p.value / 100.0)) as i64,
            };
            // For a scale-up the biggest change is the highest limit; for a scale-down the
            // lowest.
            let bigger = if up {
                proposed.max(out.unwrap_or(proposed))
            } else {
                proposed.min(out.unwrap_or(proposed))
            };
            let smaller = if up {
                proposed.min(out.unwrap_or(proposed))
            } else {
                proposed.max(out.unwrap_or(proposed))
            };
            out = Some(if select_max { bigger } else { smaller });
        }
        out.unwrap_or(current)
    }

    /// Normalizes the metrics' `proposal` at simulated time `t` for a target at `current`.
    pub fn step(&mut self, limits: &Limits, current: i64, proposal: i64, t: f64) -> Decision {
        if !self.started {
            self.started = true;
            self.recommendations.push_back((t, current));
        }
        let keep = limits.up.window.max(limits.down.window);
        while self
            .recommendations
            .front()
            .is_some_and(|(at, _)| *at < t - keep)
        {
            self.recommendations.pop_front();
        }
        let mut up_rec = proposal;
        let mut down_rec = proposal;
        for (at, r) in &self.recommendations {
            if *at > t - limits.up.window {
                up_rec = up_rec.min(*r);
            }
            if *at > t - limits.down.window {
                down_rec = down_rec.max(*r);
            }
        }
        self.recommendations.push_back((t, proposal));
        let stabilized = current.max(up_rec).min(down_rec);
        let (able_reason, able_message) = if stabilized == proposal {
            ("ReadyForNewScale", "recommended size matches current size")
        } else if proposal >= current {
            (
                "ScaleUpStabilized",
                "recent recommendations were lower than current one, applying the lowest recent recommendation",
            )
        } else {
            (
                "ScaleDownStabilized",
                "recent recommendations were higher than current one, applying the highest recent recommendation",
            )
        };
        let within = (
            stabilized,
            "DesiredWithinRange",
            "the desired count is within the acceptable range",
        );
        let (desired, limited_reason, limited_message) = if stabilized > current {
            let limit = self
                .limit(limits, &limits.up, current, t, true)
                .max(current);
            let (highest, reason, message) = if limits.max > limit {
                (
                    limit,
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
            if stabilized > highest {
                (highest, reason, message)
            } else {
                within
            }
        } else if stabilized < current {
            let limit = self
                .limit(limits, &limits.down, current, t, false)
                .min(current);
            let (lowest, reason, message) = if limits.min < limit {
                (
                    limit,
                    "ScaleDownLimit",
                    "the desired replica count is decreasing faster than the maximum scale rate",
                )
            } else {
                (
                    limits.min,
                    "TooFewReplicas",
                    "the desired replica count is less than the minimum replica count",
                )
            };
            if stabilized < lowest {
                (lowest, reason, message)
            } else {
                within
            }
        } else {
            within
        };
        if desired != current {
            let keep = limits
                .up
                .policies
                .iter()
                .chain(&limits.down.policies)
                .map(|p| p.period)
                .fold(0.0, f64::max);
            self.events.push_back((t, desired - current));
            while self.events.front().is_some_and(|(at, _)| *at < t - keep) {
                self.events.pop_front();
            }
        }
        Decision {
            desired,
            able_reason,
            able_message: able_message.to_string(),
            limited: desired != stabilized,
            limited_reason,
            limited_message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(window: f64, policies: Vec<Policy>) -> Rules {
        Rules {
            window,
            policies,
            select_max: Some(true),
        }
    }

    fn limits(min: i64, max: i64) -> Limits {
        Limits {
            min,
            max,
            up: rules(
                0.0,
                vec![
                    Policy {
                        percent: false,
                        value: 4.0,
                        period: 15.0,
                    },
                    Policy {
                        percent: true,
                        value: 100.0,
                        period: 15.0,
                    },
                ],
            ),
            down: rules(
                300.0,
                vec![Policy {
                    percent: true,
                    value: 100.0,
                    period: 15.0,
                }],
            ),
            legacy: false,
        }
    }

    #[test]
    fn proposals_follow_the_controller() {
        // 3 pods at 63% of a 60% target: ratio 1.05, within tolerance.
        let p = propose(MetricKind::Utilization, 189.0, 60.0, 3, 3);
        assert_eq!((p.replicas, p.reading), (3, 63.0));
        // 3 pods at 100%: ceil(3 × 100/60) = 5.
        assert_eq!(
            propose(MetricKind::Utilization, 300.0, 60.0, 3, 3).replicas,
            5
        );
        // 4 pods, 2 ready, load 260: ready at 130%, over all 4 floor(65) → 1.083: hold.
        assert_eq!(
            propose(MetricKind::Utilization, 260.0, 60.0, 4, 2).replicas,
            4
        );
        // 420 rps over 3 pods against 100 each: ratio 1.4 → ceil(4.2) = 5.
        let p = propose(MetricKind::PodAverage, 420.0, 100.0, 3, 3);
        assert_eq!((p.replicas, p.reading), (5, 140.0));
        // A queue of 260 against 50 per pod on 2: ratio 2.6 → ceil(260/50) = 6.
        let p = propose(MetricKind::TotalAverage, 260.0, 50.0, 2, 2);
        assert_eq!((p.replicas, p.reading), (6, 130.0));
    }

    #[test]
    fn clamps_to_max_and_min_with_reasons() {
        let l = limits(2, 10);
        let mut a = Autoscaler::default();
        let d = a.step(&l, 8, 20, 0.0);
        assert_eq!((d.desired, d.limited_reason), (10, "TooManyReplicas"));
        assert!(d.limited);
        let mut a = Autoscaler::default();
        a.step(&l, 2, 2, 0.0);
        let d = a.step(&l, 2, 1, 400.0);
        assert_eq!((d.desired, d.limited_reason), (2, "TooFewReplicas"));
        // A fresh controller (a restart) records the current count first: a scale-down waits
        // for the window, as upstream's recordInitialRecommendation makes it.
        let d = Autoscaler::default().step(&l, 5, 2, 0.0);
        assert_eq!((d.desired, d.able_reason), (5, "ScaleDownStabilized"));
        // Growing faster than max(+4, 2×) per 15 s is limited by rate first.
        let mut a = Autoscaler::default();
        let d = a.step(&limits(2, 50), 2, 30, 0.0);
        assert_eq!((d.desired, d.limited_reason), (6, "ScaleUpLimit"));
        // 5 s later the period still counts the +4: start 2 → limit 6, no further.
        let d = a.step(&limits(2, 50), 6, 30, 5.0);
        assert_eq!(d.desired, 6);
        // Without behavior: max(2 × 2, 4) = 4 from 2.
        let legacy = Limits {
            legacy: true,
            ..limits(2, 50)
        };
        assert_eq!(Autoscaler::default().step(&legacy, 2, 30, 0.0).desired, 4);
    }

    #[test]
    fn scale_down_waits_for_the_stabilization_window() {
        let l = limits(2, 10);
        let mut a = Autoscaler::default();
        assert_eq!(a.step(&l, 3, 5, 0.0).desired, 5);
        let d = a.step(&l, 5, 2, 15.0);
        assert_eq!((d.desired, d.able_reason), (5, "ScaleDownStabilized"));
        assert_eq!(a.step(&l, 5, 2, 290.0).desired, 5);
        let d = a.step(&l, 5, 2, 316.0);
        assert_eq!((d.desired, d.able_reason), (2, "ReadyForNewScale"));
    }

    #[test]
    fn curves_give_hand_worked_replica_counts() {
        // frontend: 165 + 120 × sin(2π t / 600) ± 8 pod-percent, 60% target, min 2, max 10.
        let c = curve_for("shop", "frontend", "cpu", 60.0, 2, 10);
        for i in 0..200 {
            let v = c.at(f64::from(i) * 7.0, 42);
            assert!((30.0..=300.0).contains(&v), "{v}");
        }
        let on_3 = |t: f64| propose(MetricKind::Utilization, c.at(t, 42), 60.0, 3, 3).replicas;
        // t = 0: 165 ± 8 over 3 pods is 52–57%; ratio 0.87–0.95: ceil(3 × 0.87) = 3, or
        // within tolerance: 3 either way.
        assert_eq!(on_3(0.0), 3);
        // t = 150, the crest: 285 ± 8 is 92–97% a pod; ratio 1.53–1.62; ceil(4.6–4.85) = 5.
        assert_eq!(on_3(150.0), 5);
        // t = 450, the trough: 45 ± 8 is 12–17%; ratio 0.2–0.28; ceil(0.6–0.85) = 1.
        assert_eq!(on_3(450.0), 1);
        // Clamped: the crest's 5 to max 4, and the trough's 1 to min 2 (once the 300 s
        // scale-down window no longer holds the 3 recorded at t = 0).
        let d = Autoscaler::default().step(&limits(2, 4), 3, on_3(150.0), 150.0);
        assert_eq!((d.desired, d.limited_reason), (4, "TooManyReplicas"));
        let mut a = Autoscaler::default();
        assert_eq!(a.step(&limits(2, 10), 3, on_3(0.0), 0.0).desired, 3);
        let d = a.step(&limits(2, 10), 3, on_3(450.0), 450.0);
        assert_eq!((d.desired, d.limited_reason), (2, "TooFewReplicas"));
        let flat = curve_for("load-00", "svc-000", "cpu", 70.0, 20, 30);
        // Flat at 70% × 20 pods, whatever the time and noise key.
        assert_eq!((flat.at(0.0, 1), flat.at(1234.0, 9)), (1400.0, 1400.0));
        // The repo-server burst: high right after it, back to base ten minutes later.
        let b = curve_for("argocd", "argocd-repo-server", "cpu", 75.0, 1, 5);
        assert!(b.at(1200.0, 1) > 400.0);
        assert!(b.at(1800.0, 1) < 40.0);
    }
}
