//! The HPA algorithm and the synthetic load it scales on, free of I/O so seeding can replay
//! an hour of it and tests can check it step by step.
//!
//! Load is in "pod-percent" (total CPU use as a percentage of one pod's request), so
//! utilization = load / ready pods. The algorithm follows the HPA controller: usage ratio
//! against the target with a 10% tolerance, `ceil(replicas × ratio)`, unready pods counted as
//! idle when scaling up, the default behavior (scale-up limit `max(2×, +4)` per period,
//! scale-down stabilization window of 300 simulated seconds), and clamping to min/max with the
//! real ScalingLimited reasons.

use std::collections::VecDeque;
use std::f64::consts::PI;

use crate::sim::fields::fnv64;

/// The HPA controller's sync period, in simulated seconds.
pub const SYNC_SECS: f64 = 15.0;
/// Default scale-down stabilization window, in simulated seconds.
pub const DOWN_WINDOW_SECS: f64 = 300.0;
/// Ratios within this distance of 1.0 do not scale.
pub const TOLERANCE: f64 = 0.1;

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
    }
}
