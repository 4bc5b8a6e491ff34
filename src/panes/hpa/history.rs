//! What kdeck has seen of each HPA's replicas since it started, for the sparklines when
//! Prometheus has no history: a bounded list of changes per HPA (not of every update, so a
//! steady HPA costs one entry), kept for an hour plus the value the hour started with, and
//! forgotten with the HPA.

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, Duration, Utc};

/// One observed change: the target's replicas and the HPA's desired count from then on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub at: DateTime<Utc>,
    pub current: i32,
    pub desired: i32,
}

/// How far back samples are kept (the sparklines' window).
pub const WINDOW_SECS: i64 = 3600;
/// At most this many changes per HPA (a flapping HPA cannot grow memory without bound).
pub const MAX_SAMPLES: usize = 120;

/// Observed changes by HPA key (`cluster/namespace/name`).
#[derive(Debug, Default)]
pub struct History {
    by_key: HashMap<String, VecDeque<Sample>>,
}

impl History {
    /// Records `current`/`desired` at `at` if they differ from the last sample; returns
    /// whether a sample was added.
    pub fn observe(&mut self, key: &str, at: DateTime<Utc>, current: i32, desired: i32) -> bool {
        let same = |s: &Sample| s.current == current && s.desired == desired;
        // The common case (nothing new) costs one lookup and no allocation.
        if self
            .by_key
            .get(key)
            .and_then(|s| s.back())
            .is_some_and(same)
        {
            return false;
        }
        let samples = self.by_key.entry(key.to_string()).or_default();
        samples.push_back(Sample {
            at,
            current,
            desired,
        });
        // Keep one sample from before the window: the value the window starts with.
        let start = at - Duration::seconds(WINDOW_SECS);
        while samples.len() > MAX_SAMPLES || (samples.len() > 1 && samples[1].at <= start) {
            samples.pop_front();
        }
        true
    }

    /// How many samples an HPA has and when the newest was taken: what its row depends on.
    #[must_use]
    pub fn version(&self, key: &str) -> (usize, Option<DateTime<Utc>>) {
        self.by_key
            .get(key)
            .map_or((0, None), |s| (s.len(), s.back().map(|x| x.at)))
    }

    /// The samples of one HPA, oldest first.
    #[must_use]
    pub fn samples(&self, key: &str) -> Vec<Sample> {
        self.by_key
            .get(key)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Forgets the HPAs of `cluster` that are not in `seen`.
    pub fn retain_cluster(&mut self, cluster: &str, seen: &HashSet<String>) {
        let prefix = format!("{cluster}/");
        self.by_key
            .retain(|k, _| !k.starts_with(&prefix) || seen.contains(k));
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

/// The replicas at `width` evenly spaced times over the `window` seconds before `now`
/// (each the last value seen at or before that time; NaN before the first sample), as
/// points for a sparkline.
#[must_use]
pub fn resample(samples: &[Sample], now: DateTime<Utc>, window: i64, width: usize) -> Vec<f64> {
    let width = width.max(1);
    let mut out = Vec::with_capacity(width);
    let mut i = 0;
    let mut value = f64::NAN;
    for slot in 0..width {
        let t = now - Duration::seconds(window)
            + Duration::milliseconds(window * 1000 * (slot as i64 + 1) / width as i64);
        while i < samples.len() && samples[i].at <= t {
            value = f64::from(samples[i].current);
            i += 1;
        }
        out.push(value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_000_000 + s, 0).unwrap()
    }

    #[test]
    fn only_changes_are_kept_bounded_by_the_window() {
        let mut h = History::default();
        assert!(h.observe("c/ns/a", t(0), 3, 3));
        assert!(!h.observe("c/ns/a", t(15), 3, 3), "no change, no sample");
        assert!(h.observe("c/ns/a", t(30), 3, 5));
        assert!(h.observe("c/ns/a", t(45), 5, 5));
        assert_eq!(h.samples("c/ns/a").len(), 3);
        // Two hours later: the samples before the hour go, except the last one before it.
        assert!(h.observe("c/ns/a", t(7200), 4, 4));
        let s = h.samples("c/ns/a");
        assert_eq!(
            s.iter().map(|s| s.current).collect::<Vec<_>>(),
            vec![5, 4],
            "{s:?}"
        );
        for i in 0..500 {
            h.observe("c/ns/b", t(i), i32::try_from(i % 2).unwrap(), 0);
        }
        assert_eq!(h.samples("c/ns/b").len(), MAX_SAMPLES);
        h.retain_cluster("c", &HashSet::from(["c/ns/b".to_string()]));
        assert!(h.samples("c/ns/a").is_empty());
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn resampling_carries_the_last_value_forward() {
        let s = [
            Sample {
                at: t(0),
                current: 2,
                desired: 2,
            },
            Sample {
                at: t(30),
                current: 4,
                desired: 4,
            },
        ];
        // Four slots over the 60 s before t(60): ends at 15, 30, 45, 60.
        let v = resample(&s, t(60), 60, 4);
        assert_eq!(v, vec![2.0, 4.0, 4.0, 4.0]);
        // Before the first sample nothing is known.
        let v = resample(&s[1..], t(60), 60, 4);
        assert!(v[0].is_nan());
        assert_eq!(v[1..], [4.0, 4.0, 4.0]);
    }
}
