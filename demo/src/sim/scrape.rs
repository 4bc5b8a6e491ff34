//! The simulated Prometheus scrape: an [`Exporter`] keeps the current value of its series,
//! updated from store events (so nothing is re-read on every scrape), and every
//! [`SCRAPE_INTERVAL`] of wall time the values are appended to the cluster's TSDB.
//!
//! Series marked slow (bulk `--scale` objects) are appended every [`SLOW_EVERY`]th scrape to
//! keep memory proportional to what charts need.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::clock;
use crate::ClusterState;
use crate::api::store::WatchEvent;
use crate::prom::Labels;
use crate::prom::tsdb;

/// Wall time between scrapes.
pub const SCRAPE_INTERVAL: Duration = Duration::from_secs(5);
/// Slow series are appended on every this-many scrapes.
pub const SLOW_EVERY: u64 = 6;

#[derive(Debug, Clone, Copy)]
struct Entry {
    value: f64,
    slow: bool,
}

/// The current value of every series an exporter serves.
#[derive(Debug, Default)]
pub struct Gauges {
    series: BTreeMap<Labels, Entry>,
}

impl Gauges {
    /// Sets a series scraped every interval.
    pub fn set(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.insert(name, labels, value, false);
    }

    /// Sets a series scraped every [`SLOW_EVERY`] intervals.
    pub fn set_slow(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.insert(name, labels, value, true);
    }

    /// Sets a series, fast or slow.
    pub fn insert(&mut self, name: &str, labels: &[(&str, &str)], value: f64, slow: bool) {
        self.series
            .insert(tsdb::labels(name, labels), Entry { value, slow });
    }

    /// The current value of a series.
    #[must_use]
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.series
            .get(&tsdb::labels(name, labels))
            .map(|e| e.value)
    }

    /// Stops serving a series (Prometheus then sees it go stale).
    pub fn remove(&mut self, name: &str, labels: &[(&str, &str)]) {
        self.series.remove(&tsdb::labels(name, labels));
    }

    /// Stops serving every series whose labels match `f`.
    pub fn remove_where(&mut self, mut f: impl FnMut(&Labels) -> bool) {
        self.series.retain(|l, _| !f(l));
    }

    /// Calls `f` with every series: labels, value, and whether it is slow.
    pub fn for_each(&self, mut f: impl FnMut(&Labels, f64, bool)) {
        for (labels, e) in &self.series {
            f(labels, e.value, e.slow);
        }
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.series.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Appends every (due) series to the TSDB at `t_ms`.
    pub fn append_to(&self, state: &ClusterState, t_ms: i64, include_slow: bool) {
        for (labels, e) in &self.series {
            if include_slow || !e.slow {
                state.prom.tsdb.append(labels.clone(), t_ms, e.value);
            }
        }
    }
}

/// A source of series kept current from store events.
pub trait Exporter: Send + 'static {
    /// Recomputes everything from the store (at start and after missed events).
    fn resync(&mut self, state: &ClusterState, gauges: &mut Gauges);

    /// Updates the series an event concerns.
    fn on_event(&mut self, state: &ClusterState, event: &WatchEvent, gauges: &mut Gauges);
}

/// Runs an exporter: resync, then follow events and append on every scrape until `shutdown`.
pub fn spawn<E: Exporter>(state: &Arc<ClusterState>, shutdown: &CancellationToken, exporter: E) {
    let state = state.clone();
    let shutdown = shutdown.clone();
    tokio::spawn(async move { run(state, shutdown, exporter).await });
}

async fn run<E: Exporter>(state: Arc<ClusterState>, shutdown: CancellationToken, mut e: E) {
    let mut rx = state.store.subscribe();
    let mut gauges = Gauges::default();
    e.resync(&state, &mut gauges);
    let mut tick = tokio::time::interval(SCRAPE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            ev = rx.recv() => match ev {
                Ok(ev) => e.on_event(&state, &ev, &mut gauges),
                Err(RecvError::Lagged(_)) => e.resync(&state, &mut gauges),
                Err(RecvError::Closed) => return,
            },
            _ = tick.tick() => {
                gauges.append_to(&state, clock::millis(clock::now()), n.is_multiple_of(SLOW_EVERY));
                n += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClusterProfile, SimOptions};

    #[test]
    fn slow_series_are_skipped_unless_asked() {
        let state = ClusterState::new(ClusterProfile::standard(0), SimOptions::default());
        let mut g = Gauges::default();
        g.set("up", &[("job", "a")], 1.0);
        g.set_slow("up", &[("job", "b")], 1.0);
        g.append_to(&state, 1_000, false);
        assert_eq!(state.prom.tsdb.series_count(), 1);
        g.append_to(&state, 2_000, true);
        assert_eq!(state.prom.tsdb.series_count(), 2);
        g.remove("up", &[("job", "a")]);
        assert_eq!(g.len(), 1);
        assert_eq!(g.get("up", &[("job", "b")]), Some(1.0));
    }
}
