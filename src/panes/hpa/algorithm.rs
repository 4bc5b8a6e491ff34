//! The HPA controller's arithmetic (kubernetes `pkg/controller/podautoscaler`), free of I/O so
//! the detail view's "what happens next" is the same function the tests check by hand:
//! the replica proposal of each metric type with the tolerance, the maximum over metrics
//! (with the invalid-metric rules), and the two normalizations — without `behavior` (the
//! legacy scale-up limit `max(2×, 4)` and the controller's 300 s scale-down window) and with
//! it (stabilization windows, Pods/Percent policies per period, select policy, min/max).
//!
//! Inputs are what the controller would read; the caller says where kdeck got each one.

/// Ratios within `[1 - down, 1 + up]` do not scale (both 0.1 unless `behavior` sets them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerances {
    pub down: f64,
    pub up: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Self { down: 0.1, up: 0.1 }
    }
}

impl Tolerances {
    #[must_use]
    pub fn within(&self, ratio: f64) -> bool {
        (1.0 - self.down) <= ratio && ratio <= (1.0 + self.up)
    }
}

/// The pods a proposal counts: the target's `spec.replicas` (what the HPA calls current),
/// how many are ready, and how many exist (`scale.status.replicas`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pods {
    pub current: i32,
    pub ready: i32,
    pub status_replicas: i32,
}

/// One metric's reading against its target, in the controller's units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reading {
    /// Resource/ContainerResource `Utilization`: whole percents of the request.
    Utilization { current: i64, target: i64 },
    /// Resource/ContainerResource/Pods `AverageValue`: per-pod averages, in thousandths.
    PodAverage { current: i64, target: i64 },
    /// Object/External `Value`: the metric's value, in thousandths.
    Value { current: i64, target: i64 },
    /// Object/External `AverageValue`: the metric's total and the per-pod target.
    TotalAverage { total: i64, target: i64 },
}

/// A metric's proposal and how it came about.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub replicas: i32,
    pub ratio: f64,
    /// The change was within tolerance (or would reverse direction), so the proposal is the
    /// current count.
    pub held: bool,
    /// Unready pods were counted as idle and the ratio taken again (`ratio` is that one).
    pub rebalanced: bool,
}

fn ceil_i32(v: f64) -> i32 {
    let c = v.ceil();
    if c >= f64::from(i32::MAX) {
        i32::MAX
    } else {
        c as i32
    }
}

/// The per-pod rule (`GetResourceReplicas`, `calcPlainMetricReplicas`): with no unready pods,
/// `ceil(ratio × ready)` outside the tolerance; on a scale-up with unready pods they count as
/// using nothing, the ratio is taken again (`rerate(ready, all)`), and a proposal that would
/// reverse direction holds. Unready pods are taken to be still Pending (just scaled up), which
/// the controller sets aside for every metric type.
fn per_pod(ratio: f64, pods: Pods, tol: Tolerances, rerate: impl Fn(i32, i32) -> f64) -> Proposal {
    let unready = (pods.current - pods.ready).max(0);
    let ready = (pods.current - unready).max(0);
    if !(unready > 0 && ratio > 1.0) {
        return Proposal {
            replicas: if tol.within(ratio) {
                pods.current
            } else {
                ceil_i32(ratio * f64::from(ready))
            },
            ratio,
            held: tol.within(ratio),
            rebalanced: false,
        };
    }
    let all = ready + unready;
    let new_ratio = rerate(ready, all);
    let replicas = ceil_i32(new_ratio * f64::from(all));
    let held = tol.within(new_ratio) || new_ratio < 1.0 || replicas < pods.current;
    Proposal {
        replicas: if held { pods.current } else { replicas },
        ratio: new_ratio,
        held,
        rebalanced: true,
    }
}

/// The replica count one metric proposes (the `Get*Replicas` functions of the controller).
#[must_use]
pub fn propose(reading: Reading, pods: Pods, tol: Tolerances) -> Proposal {
    match reading {
        Reading::Utilization { current, target } => {
            let target = target.max(1) as f64;
            // Utilization is in whole percents (truncated) each time it is taken.
            per_pod(current as f64 / target, pods, tol, |ready, all| {
                (current as f64 * f64::from(ready) / f64::from(all.max(1))).floor() / target
            })
        }
        Reading::PodAverage { current, target } => {
            let ratio = current as f64 / target.max(1) as f64;
            per_pod(ratio, pods, tol, |ready, all| {
                ratio * f64::from(ready) / f64::from(all.max(1))
            })
        }
        Reading::Value { current, target } => {
            let ratio = current as f64 / target.max(1) as f64;
            if pods.current == 0 {
                return Proposal {
                    replicas: ceil_i32(ratio),
                    ratio,
                    held: false,
                    rebalanced: false,
                };
            }
            let held = tol.within(ratio);
            Proposal {
                replicas: if held {
                    pods.current
                } else {
                    ceil_i32(ratio * f64::from(pods.ready))
                },
                ratio,
                held,
                rebalanced: false,
            }
        }
        Reading::TotalAverage { total, target } => {
            let replicas = pods.status_replicas;
            let ratio = total as f64 / (target.max(1) as f64 * f64::from(replicas.max(1)));
            let held = tol.within(ratio);
            Proposal {
                replicas: if held {
                    replicas
                } else {
                    ceil_i32(total as f64 / target.max(1) as f64)
                },
                ratio,
                held,
                rebalanced: false,
            }
        }
    }
}

/// The maximum over the metrics' proposals (`computeReplicasForMetrics`): `Err` when the
/// controller makes no decision — every metric invalid, or some invalid while the valid ones
/// would scale below `spec_replicas`.
pub fn combine(proposals: &[Option<i32>], spec_replicas: i32) -> Result<i32, CombineError> {
    let invalid = proposals.iter().filter(|p| p.is_none()).count();
    let best = proposals.iter().flatten().copied().max();
    match best {
        None => Err(CombineError::AllInvalid),
        Some(r) if invalid > 0 && r < spec_replicas => Err(CombineError::WouldScaleDown(r)),
        Some(r) => Ok(r),
    }
}

/// Why the metrics give no decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CombineError {
    AllInvalid,
    /// Some metrics are invalid and the others propose this, below the current count: the
    /// controller does not scale down on partial data.
    WouldScaleDown(i32),
}

/// A recommendation the controller made `age` seconds ago.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recommendation {
    pub age: i64,
    pub replicas: i32,
}

/// A scale of `change` replicas (always positive) `age` seconds ago.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleEvent {
    pub age: i64,
    pub change: i32,
}

/// `Pods` or `Percent` per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    Pods,
    Percent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub kind: PolicyKind,
    pub value: i32,
    pub period: i32,
}

/// Which policy wins: the biggest change (`Max`, the default), the smallest (`Min`), or no
/// scaling in this direction (`Disabled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    Max,
    Min,
    Disabled,
}

/// One direction's scaling rules with the API and controller defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub window: i32,
    pub select: Select,
    pub policies: Vec<Policy>,
}

impl Rules {
    /// The scale-up defaults: no window, `Max` of +4 pods or +100% per 15 s.
    #[must_use]
    pub fn default_up() -> Self {
        Self {
            window: 0,
            select: Select::Max,
            policies: vec![
                Policy {
                    kind: PolicyKind::Pods,
                    value: 4,
                    period: 15,
                },
                Policy {
                    kind: PolicyKind::Percent,
                    value: 100,
                    period: 15,
                },
            ],
        }
    }

    /// The scale-down defaults: the controller's 300 s window, `Max` of −100% per 15 s.
    #[must_use]
    pub fn default_down() -> Self {
        Self {
            window: DOWNSCALE_WINDOW,
            select: Select::Max,
            policies: vec![Policy {
                kind: PolicyKind::Percent,
                value: 100,
                period: 15,
            }],
        }
    }
}

/// `--horizontal-pod-autoscaler-downscale-stabilization` default, in seconds.
pub const DOWNSCALE_WINDOW: i32 = 300;

/// What normalization made of the metrics' proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    pub stabilized: i32,
    /// `AbleToScale` reason: `ReadyForNewScale`, `ScaleUpStabilized`, `ScaleDownStabilized`.
    pub able_reason: &'static str,
    pub desired: i32,
    /// `ScalingLimited` reason (`DesiredWithinRange` when not limited).
    pub limited_reason: &'static str,
    /// The bounds applied: (lowest, highest) allowed this sync.
    pub bounds: (i32, i32),
}

impl Normalized {
    #[must_use]
    pub fn limited(&self) -> bool {
        self.desired != self.stabilized
    }
}

/// Without `behavior` (`normalizeDesiredReplicas`): the highest recommendation of the
/// window, then min and a scale-up limit of `max(2 × current, 4)` or max.
#[must_use]
pub fn normalize_legacy(
    current: i32,
    proposal: i32,
    min: i32,
    max: i32,
    window: i32,
    recommendations: &[Recommendation],
) -> Normalized {
    let stabilized = recommendations
        .iter()
        .filter(|r| r.age <= i64::from(window))
        .map(|r| r.replicas)
        .fold(proposal, i32::max);
    let able_reason = if stabilized == proposal {
        "ReadyForNewScale"
    } else {
        "ScaleDownStabilized"
    };
    let scale_up_limit = (current.saturating_mul(2)).max(4);
    let (highest, limit_reason) = if max > scale_up_limit {
        (scale_up_limit, "ScaleUpLimit")
    } else {
        (max, "TooManyReplicas")
    };
    let (desired, limited_reason) = if stabilized < min {
        (min, "TooFewReplicas")
    } else if stabilized > highest {
        (highest, limit_reason)
    } else {
        (stabilized, "DesiredWithinRange")
    };
    Normalized {
        stabilized,
        able_reason,
        desired,
        limited_reason,
        bounds: (min, highest),
    }
}

fn changed_within(period: i32, events: &[ScaleEvent]) -> i32 {
    events
        .iter()
        .filter(|e| e.age < i64::from(period))
        .map(|e| e.change)
        .sum()
}

/// The most replicas the scale-up rules allow now (`calculateScaleUpLimitWithScalingRules`).
#[must_use]
pub fn scale_up_limit(current: i32, up: &[ScaleEvent], down: &[ScaleEvent], rules: &Rules) -> i32 {
    let pick: fn(i32, i32) -> i32 = match rules.select {
        Select::Disabled => return current,
        Select::Min => i32::min,
        Select::Max => i32::max,
    };
    let mut result = if rules.select == Select::Min {
        i32::MAX
    } else {
        i32::MIN
    };
    for p in &rules.policies {
        let start = current - changed_within(p.period, up) + changed_within(p.period, down);
        let proposed = match p.kind {
            PolicyKind::Pods => start + p.value,
            PolicyKind::Percent => ceil_i32(f64::from(start) * (1.0 + f64::from(p.value) / 100.0)),
        };
        result = pick(result, proposed);
    }
    result
}

/// The fewest replicas the scale-down rules allow now (`calculateScaleDownLimitWithBehaviors`).
#[must_use]
pub fn scale_down_limit(
    current: i32,
    up: &[ScaleEvent],
    down: &[ScaleEvent],
    rules: &Rules,
) -> i32 {
    let pick: fn(i32, i32) -> i32 = match rules.select {
        Select::Disabled => return current,
        Select::Min => i32::max,
        Select::Max => i32::min,
    };
    let mut result = if rules.select == Select::Min {
        i32::MIN
    } else {
        i32::MAX
    };
    for p in &rules.policies {
        let start = current - changed_within(p.period, up) + changed_within(p.period, down);
        let proposed = match p.kind {
            PolicyKind::Pods => start - p.value,
            // Truncated toward zero, as the controller's int32 conversion does.
            PolicyKind::Percent => (f64::from(start) * (1.0 - f64::from(p.value) / 100.0)) as i32,
        };
        result = pick(result, proposed);
    }
    result
}

/// Everything the behavior normalization reads besides the proposal.
#[derive(Debug, Clone, Copy)]
pub struct BehaviorInputs<'a> {
    pub current: i32,
    pub min: i32,
    pub max: i32,
    pub up: &'a Rules,
    pub down: &'a Rules,
    pub recommendations: &'a [Recommendation],
    pub up_events: &'a [ScaleEvent],
    pub down_events: &'a [ScaleEvent],
}

/// With `behavior` (`normalizeDesiredReplicasWithBehaviors`): stabilize between the lowest
/// recommendation of the scale-up window and the highest of the scale-down window, then
/// apply the direction's rate limit and min/max.
#[must_use]
pub fn normalize_with_behavior(proposal: i32, i: &BehaviorInputs<'_>) -> Normalized {
    let mut up_rec = proposal;
    let mut down_rec = proposal;
    for r in i.recommendations {
        if r.age < i64::from(i.up.window) {
            up_rec = up_rec.min(r.replicas);
        }
        if r.age < i64::from(i.down.window) {
            down_rec = down_rec.max(r.replicas);
        }
    }
    let stabilized = i.current.max(up_rec).min(down_rec);
    let able_reason = if stabilized == proposal {
        "ReadyForNewScale"
    } else if proposal >= i.current {
        "ScaleUpStabilized"
    } else {
        "ScaleDownStabilized"
    };
    let mut bounds = (i.min, i.max);
    let (desired, limited_reason) = if stabilized > i.current {
        let limit = scale_up_limit(i.current, i.up_events, i.down_events, i.up).max(i.current);
        let (highest, reason) = if i.max > limit {
            (limit, "ScaleUpLimit")
        } else {
            (i.max, "TooManyReplicas")
        };
        bounds.1 = highest;
        if stabilized > highest {
            (highest, reason)
        } else {
            (stabilized, "DesiredWithinRange")
        }
    } else if stabilized < i.current {
        let limit = scale_down_limit(i.current, i.up_events, i.down_events, i.down).min(i.current);
        let (lowest, reason) = if i.min < limit {
            (limit, "ScaleDownLimit")
        } else {
            (i.min, "TooFewReplicas")
        };
        bounds.0 = lowest;
        if stabilized < lowest {
            (lowest, reason)
        } else {
            (stabilized, "DesiredWithinRange")
        }
    } else {
        (stabilized, "DesiredWithinRange")
    };
    Normalized {
        stabilized,
        able_reason,
        desired,
        limited_reason,
        bounds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Tolerances = Tolerances { down: 0.1, up: 0.1 };

    fn pods(current: i32, ready: i32) -> Pods {
        Pods {
            current,
            ready,
            status_replicas: current,
        }
    }

    #[test]
    fn utilization_scales_by_the_ratio_outside_the_tolerance() {
        // 3 pods at 110% of a 70% target: ratio 1.5714 → ceil(3 × 1.5714) = ceil(4.714) = 5.
        let p = propose(
            Reading::Utilization {
                current: 110,
                target: 70,
            },
            pods(3, 3),
            T,
        );
        assert_eq!(p.replicas, 5);
        assert!(!p.held);
        // 76% of 70%: ratio 1.0857, within 10%: stays at 3.
        let p = propose(
            Reading::Utilization {
                current: 76,
                target: 70,
            },
            pods(3, 3),
            T,
        );
        assert_eq!((p.replicas, p.held), (3, true));
        // 77% of 70% is exactly 1.1: still within (the bound is inclusive).
        let p = propose(
            Reading::Utilization {
                current: 77,
                target: 70,
            },
            pods(3, 3),
            T,
        );
        assert_eq!(p.replicas, 3);
        // 30% of 60% on 6 pods: ratio 0.5 → ceil(3.0) = 3.
        let p = propose(
            Reading::Utilization {
                current: 30,
                target: 60,
            },
            pods(6, 6),
            T,
        );
        assert_eq!(p.replicas, 3);
    }

    #[test]
    fn unready_pods_count_as_idle_on_a_scale_up() {
        // 4 pods, 2 ready, ready ones at 130% of 60%: ratio 2.1667. Unready pods at 0%:
        // utilization floor(130 × 2 / 4) = 65 → ratio 1.0833, within tolerance: hold at 4.
        let p = propose(
            Reading::Utilization {
                current: 130,
                target: 60,
            },
            pods(4, 2),
            T,
        );
        assert_eq!((p.replicas, p.held), (4, true));
        // Ready pods at 200%: floor(200 × 2 / 4) = 100 → ratio 1.6667 → ceil(1.6667 × 4) = 7.
        let p = propose(
            Reading::Utilization {
                current: 200,
                target: 60,
            },
            pods(4, 2),
            T,
        );
        assert_eq!(p.replicas, 7);
        // A per-pod average the same way (without whole percents): 300 against 100 on 2
        // of 4 ready → 3 × 2 / 4 = 1.5 → ceil(1.5 × 4) = 6.
        let p = propose(
            Reading::PodAverage {
                current: 300,
                target: 100,
            },
            pods(4, 2),
            T,
        );
        assert_eq!((p.replicas, p.rebalanced), (6, true));
        // 200 against 100: 2 × 2 / 4 = 1.0, within: holds 4.
        let p = propose(
            Reading::PodAverage {
                current: 200,
                target: 100,
            },
            pods(4, 2),
            T,
        );
        assert_eq!((p.replicas, p.held), (4, true));
    }

    #[test]
    fn pods_object_and_external_metrics() {
        // Pods average 140 rps against 100 on 4 pods: ratio 1.4 → ceil(5.6) = 6.
        let p = propose(
            Reading::PodAverage {
                current: 140_000,
                target: 100_000,
            },
            pods(4, 4),
            T,
        );
        assert_eq!(p.replicas, 6);
        // Object value 1.2k against 500, 3 ready pods of 3: ratio 2.4 → ceil(7.2) = 8.
        let p = propose(
            Reading::Value {
                current: 1_200_000,
                target: 500_000,
            },
            pods(3, 3),
            T,
        );
        assert_eq!(p.replicas, 8);
        // The same with only 2 of the 3 pods ready: ceil(2.4 × 2) = 5.
        let p = propose(
            Reading::Value {
                current: 1_200_000,
                target: 500_000,
            },
            pods(3, 2),
            T,
        );
        assert_eq!(p.replicas, 5);
        // A target at zero replicas scales on the ratio alone: ceil(2.4) = 3.
        let p = propose(
            Reading::Value {
                current: 1_200_000,
                target: 500_000,
            },
            pods(0, 0),
            T,
        );
        assert_eq!(p.replicas, 3);
        // External average: queue of 1,250 against 50 per pod on 10 pods: ratio 2.5 →
        // ceil(1250 / 50) = 25.
        let p = propose(
            Reading::TotalAverage {
                total: 1_250_000,
                target: 50_000,
            },
            pods(10, 10),
            T,
        );
        assert_eq!(p.replicas, 25);
        // 520 against 50 per pod on 10: ratio 1.04, within: stays at the 10 pods that exist.
        let p = propose(
            Reading::TotalAverage {
                total: 520_000,
                target: 50_000,
            },
            pods(10, 10),
            T,
        );
        assert_eq!((p.replicas, p.held), (10, true));
    }

    #[test]
    fn configured_tolerances_are_asymmetric() {
        let t = Tolerances { down: 0.2, up: 0.0 };
        // 1.05 is outside a zero scale-up tolerance: ceil(4 × 1.05) = ceil(4.2) = 5.
        let p = propose(
            Reading::PodAverage {
                current: 105,
                target: 100,
            },
            pods(4, 4),
            t,
        );
        assert_eq!(p.replicas, 5);
        // 0.85 is inside a 20% scale-down tolerance: stays at 4.
        let p = propose(
            Reading::PodAverage {
                current: 85,
                target: 100,
            },
            pods(4, 4),
            t,
        );
        assert_eq!(p.replicas, 4);
    }

    #[test]
    fn the_highest_valid_proposal_wins_unless_data_is_missing_on_a_scale_down() {
        assert_eq!(combine(&[Some(3), Some(6)], 4), Ok(6));
        assert_eq!(combine(&[None, Some(6)], 4), Ok(6));
        assert_eq!(
            combine(&[None, Some(2)], 4),
            Err(CombineError::WouldScaleDown(2))
        );
        assert_eq!(combine(&[None, None], 4), Err(CombineError::AllInvalid));
    }

    #[test]
    fn legacy_normalization() {
        // Wants 12 from 3: limited by max(2 × 3, 4) = 6 before max 10.
        let n = normalize_legacy(3, 12, 2, 10, 300, &[]);
        assert_eq!((n.desired, n.limited_reason), (6, "ScaleUpLimit"));
        // Max below that limit: capped at max 5.
        let n = normalize_legacy(3, 12, 2, 5, 300, &[]);
        assert_eq!((n.desired, n.limited_reason), (5, "TooManyReplicas"));
        // One replica: the limit is 4, not 2.
        let n = normalize_legacy(1, 9, 1, 10, 300, &[]);
        assert_eq!(n.desired, 4);
        // Wants 2 but recommended 5 two minutes ago: held at 5.
        let recs = [Recommendation {
            age: 120,
            replicas: 5,
        }];
        let n = normalize_legacy(5, 2, 1, 10, 300, &recs);
        assert_eq!(
            (n.stabilized, n.desired, n.able_reason),
            (5, 5, "ScaleDownStabilized")
        );
        // Six minutes ago is outside the window: down to 2.
        let recs = [Recommendation {
            age: 360,
            replicas: 5,
        }];
        assert_eq!(normalize_legacy(5, 2, 1, 10, 300, &recs).desired, 2);
        // Below min: raised to min even with no change proposed.
        let n = normalize_legacy(3, 1, 2, 10, 300, &[]);
        assert_eq!((n.desired, n.limited_reason), (2, "TooFewReplicas"));
    }

    fn up_down() -> (Rules, Rules) {
        (Rules::default_up(), Rules::default_down())
    }

    #[test]
    fn behavior_rate_limits_use_the_events_of_each_period() {
        let (up, down) = up_down();
        let inputs = |events| BehaviorInputs {
            current: 5,
            min: 1,
            max: 50,
            up: &up,
            down: &down,
            recommendations: &[],
            up_events: events,
            down_events: &[],
        };
        // No recent events: max(5 + 4, ceil(5 × 2)) = 10.
        let n = normalize_with_behavior(30, &inputs(&[]));
        assert_eq!((n.desired, n.limited_reason), (10, "ScaleUpLimit"));
        // 3 added 10 s ago: the period started at 2 → max(2 + 4, 4) = 6.
        let n = normalize_with_behavior(30, &inputs(&[ScaleEvent { age: 10, change: 3 }]));
        assert_eq!(n.desired, 6);
        // 20 s ago is outside the 15 s period: back to 10.
        let n = normalize_with_behavior(30, &inputs(&[ScaleEvent { age: 20, change: 3 }]));
        assert_eq!(n.desired, 10);
    }

    #[test]
    fn behavior_stabilization_and_policies() {
        let (up, mut down) = up_down();
        down.window = 600;
        down.policies = vec![Policy {
            kind: PolicyKind::Pods,
            value: 1,
            period: 60,
        }];
        let recs = [
            Recommendation {
                age: 500,
                replicas: 8,
            },
            Recommendation {
                age: 30,
                replicas: 4,
            },
        ];
        let i = BehaviorInputs {
            current: 8,
            min: 2,
            max: 10,
            up: &up,
            down: &down,
            recommendations: &recs,
            up_events: &[],
            down_events: &[],
        };
        // 8 was recommended 500 s ago, inside the 600 s window: holds at 8.
        let n = normalize_with_behavior(3, &i);
        assert_eq!((n.desired, n.able_reason), (8, "ScaleDownStabilized"));
        // Past the window the proposal 4 (the highest left) stands, limited to −1 pod per
        // minute: 7.
        let recs = [Recommendation {
            age: 30,
            replicas: 4,
        }];
        let n = normalize_with_behavior(
            3,
            &BehaviorInputs {
                recommendations: &recs,
                ..i
            },
        );
        assert_eq!(n.stabilized, 4);
        assert_eq!((n.desired, n.limited_reason), (7, "ScaleDownLimit"));
        // Percent policies truncate: −50% of 7 is 3 (3.5 truncated).
        let down50 = Rules {
            window: 0,
            select: Select::Max,
            policies: vec![Policy {
                kind: PolicyKind::Percent,
                value: 50,
                period: 60,
            }],
        };
        assert_eq!(scale_down_limit(7, &[], &[], &down50), 3);
        // Disabled scale-down: stays.
        let off = Rules {
            select: Select::Disabled,
            ..down50
        };
        let n = normalize_with_behavior(
            3,
            &BehaviorInputs {
                current: 7,
                down: &off,
                recommendations: &[],
                ..i
            },
        );
        assert_eq!(n.desired, 7);
        // `Min` picks the smaller change of two scale-up policies: min(5 + 4, 10) = 9.
        let min_up = Rules {
            select: Select::Min,
            ..Rules::default_up()
        };
        assert_eq!(scale_up_limit(5, &[], &[], &min_up), 9);
    }

    #[test]
    fn behavior_min_max_apply_only_in_the_direction_of_change() {
        let (up, down) = up_down();
        let i = BehaviorInputs {
            current: 3,
            min: 2,
            max: 3,
            up: &up,
            down: &down,
            recommendations: &[],
            up_events: &[],
            down_events: &[],
        };
        // Wants 5 at max 3: pinned at max.
        let n = normalize_with_behavior(5, &i);
        assert_eq!((n.desired, n.limited_reason), (3, "TooManyReplicas"));
        assert!(n.limited());
        // Wants 1 at min 2.
        let n = normalize_with_behavior(1, &i);
        assert_eq!((n.desired, n.limited_reason), (2, "TooFewReplicas"));
    }
}
