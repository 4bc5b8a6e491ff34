//! Istio traffic model (see traffic.rs): the circuit breaker in front of `payments-api`,
//! as a pure function of simulated time, which the scraper turns into 503s and Envoy series.

use std::f64::consts::PI;

use crate::sim::SimRng;

/// The circuit breaker on payments-api at a simulated time.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Breaker {
    /// Share of requests refused by the pending-queue limit (503 UO).
    pub overflow: f64,
    /// Share refused because every host is ejected (503 UH).
    pub no_healthy: f64,
    /// Hosts ejected by outlier detection.
    pub ejected: i64,
    /// Requests waiting in the pending queue.
    pub pending: f64,
}

const BREAKER_CYCLE_SECS: f64 = 360.0;

/// The breaker's state at simulated second `t`: every cycle of six simulated minutes it trips
/// once, for 45–110 s, at a seeded moment; hosts stay ejected for the 30 s base ejection
/// time after it closes.
#[must_use]
pub fn breaker_at(seed: u64, cluster: usize, t: f64) -> Breaker {
    let cycle = (t / BREAKER_CYCLE_SECS).floor();
    let mut rng = SimRng::new(seed ^ (cycle as i64 as u64), cluster, "breaker");
    let start = cycle * BREAKER_CYCLE_SECS + 60.0 + rng.f64() * 150.0;
    let dur = 45.0 + rng.f64() * 65.0;
    let peak = 0.15 + rng.f64() * 0.2;
    let rel = t - start;
    let mut b = Breaker {
        pending: 1.0 + (t * 0.7).sin().abs() * 2.0,
        ..Breaker::default()
    };
    if (-20.0..0.0).contains(&rel) {
        // Leading indicator: the queue fills before it overflows.
        b.pending = 4.0 + (rel + 20.0) * 3.0;
    } else if (0.0..dur).contains(&rel) {
        let x = rel / dur;
        let envelope = (x * PI).sin().max(0.2);
        b.pending = 64.0;
        // A short stretch in the middle where every host is ejected.
        if (0.45..0.6).contains(&x) {
            b.ejected = 3;
            b.no_healthy = 0.55;
            b.overflow = peak * 0.3;
        } else {
            b.ejected = if x < 0.3 { 1 } else { 2 };
            b.overflow = peak * envelope;
        }
    } else if (dur..dur + 30.0).contains(&rel) {
        b.ejected = 1;
        b.pending = 6.0;
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_trips_and_recovers_every_cycle() {
        for cycle in 0..5 {
            let base = f64::from(cycle) * BREAKER_CYCLE_SECS;
            let states: Vec<Breaker> = (0..360)
                .map(|s| breaker_at(4, 0, base + f64::from(s)))
                .collect();
            assert!(
                states.iter().any(|b| b.overflow > 0.1),
                "trips in cycle {cycle}"
            );
            assert!(states.iter().any(|b| b.ejected == 3 && b.no_healthy > 0.0));
            assert!(
                states
                    .iter()
                    .filter(|b| *b
                        == &Breaker {
                            pending: b.pending,
                            ..Breaker::default()
                        })
                    .count()
                    > 150,
                "mostly closed"
            );
            assert_eq!(states.last().map(|b| b.ejected), Some(0));
        }
        // Different across seeds (each cluster's breaker trips at its own moments).
        let a: Vec<i64> = (0..720)
            .map(|s| breaker_at(4, 0, f64::from(s)).ejected)
            .collect();
        let b: Vec<i64> = (0..720)
            .map(|s| breaker_at(5, 0, f64::from(s)).ejected)
            .collect();
        assert_ne!(a, b);
    }
}
