//! Prometheus as a source: the queries a view declared ([`PromSpec`]), polled every interval
//! while declared, published as one immutable snapshot with a [`SourceState`] like any watch.
//! A failed query keeps its last good series, marked stale since the fetch that got them, so a
//! dead Prometheus dims the charts instead of blanking them.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::watch as tokio_watch;
use tokio_util::sync::CancellationToken;

use super::prometheus::{PromClient, PromError, PromSeries};
use super::spec::PromSpec;
use super::{Notifier, SourceCell, SourceState};

/// One query's answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryResult {
    pub id: String,
    pub series: Vec<PromSeries>,
    /// Why the last poll of this query failed (the series, if any, are older).
    pub error: Option<String>,
    /// Set when `series` are kept from an earlier poll: when they were fetched.
    pub stale_since: Option<DateTime<Utc>>,
}

impl QueryResult {
    /// The first series' points (queries aggregated with `sum()` give one series).
    #[must_use]
    pub fn points(&self) -> &[(f64, f64)] {
        self.series.first().map_or(&[], |s| s.points.as_slice())
    }
}

/// Every query's answer from one poll.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromSnapshot {
    pub results: Vec<QueryResult>,
    /// When the last poll that reached Prometheus ran.
    pub fetched_at: Option<DateTime<Utc>>,
}

impl PromSnapshot {
    #[must_use]
    pub fn result(&self, id: &str) -> Option<&QueryResult> {
        self.results.iter().find(|r| r.id == id)
    }
}

/// A poller's published state: read by views, written by the poll task.
#[derive(Debug)]
pub struct PromSource {
    pub spec: PromSpec,
    pub cell: Arc<SourceCell>,
    snapshot: Mutex<Arc<PromSnapshot>>,
}

impl PromSource {
    #[must_use]
    pub fn new(spec: PromSpec, notifier: Notifier) -> Self {
        Self {
            spec,
            cell: Arc::new(SourceCell::new(notifier)),
            snapshot: Mutex::new(Arc::new(PromSnapshot::default())),
        }
    }

    /// Starts from the numbers an earlier poller of the same queries fetched, marked stale
    /// since then until the first poll answers (or, if it fails, kept as the last good ones).
    pub fn resume(&self, earlier: &Arc<PromSnapshot>) {
        let Some(since) = earlier.fetched_at else {
            return;
        };
        *self
            .snapshot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = earlier.clone();
        self.cell.set_state(SourceState::Stale {
            since,
            retry_at: Utc::now(),
            reason: "not polled while hidden".into(),
        });
    }

    /// The latest snapshot (shared, never copied).
    #[must_use]
    pub fn snapshot(&self) -> Arc<PromSnapshot> {
        self.snapshot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    #[must_use]
    pub fn state(&self) -> SourceState {
        self.cell.state()
    }

    #[must_use]
    pub fn revision(&self) -> u64 {
        self.cell.revision()
    }

    /// Replaces the snapshot and state, and wakes the UI.
    pub fn publish(&self, snapshot: PromSnapshot, state: SourceState) {
        *self
            .snapshot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(snapshot);
        self.cell.set_state(state);
        self.cell.bump();
    }
}

/// `next` with each failed query given the last good series of the same query in `prev`,
/// marked stale since `prev` fetched them.
#[must_use]
pub fn keep_last_good(prev: &PromSnapshot, mut next: PromSnapshot) -> PromSnapshot {
    for r in next
        .results
        .iter_mut()
        .filter(|r| r.error.is_some() && r.series.is_empty())
    {
        if let Some(old) = prev
            .result(&r.id)
            .filter(|o| o.series.iter().any(|s| !s.points.is_empty()))
        {
            r.series.clone_from(&old.series);
            r.stale_since = old.stale_since.or(prev.fetched_at);
        }
    }
    next
}

/// Runs every query once at `now`; `Err` when Prometheus could not be reached at all.
pub async fn poll(
    client: &PromClient,
    spec: &PromSpec,
    now: DateTime<Utc>,
) -> (PromSnapshot, Option<String>) {
    let end = now.timestamp() as f64;
    let mut unreachable = None;
    let mut results = Vec::with_capacity(spec.queries.len());
    for q in &spec.queries {
        // One unreachable answer means the rest would time out too: skip them.
        let answer = if unreachable.is_some() {
            Err(PromError::Unreachable(String::new()))
        } else {
            match q.range {
                Some((window, step)) => {
                    client
                        .query_range(&q.promql, end - f64::from(window), end, f64::from(step))
                        .await
                }
                // At `now` like the range queries, so one poll is one moment.
                None => client.query(&q.promql, Some(end)).await,
            }
        };
        let (series, error) = match answer {
            Ok(data) => (data.series(), None),
            Err(PromError::Unreachable(why)) => {
                if unreachable.is_none() {
                    unreachable = Some(why.clone());
                }
                (Vec::new(), Some(format!("prometheus unreachable: {why}")))
            }
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        results.push(QueryResult {
            id: q.id.clone(),
            series,
            error,
            stale_since: None,
        });
    }
    let fetched_at = unreachable.is_none().then_some(now);
    (
        PromSnapshot {
            results,
            fetched_at,
        },
        unreachable,
    )
}

/// Polls until cancelled (or the view stops declaring it); a refresh polls at once.
pub async fn run(
    client: PromClient,
    source: Arc<PromSource>,
    mut refresh: tokio_watch::Receiver<u64>,
    cancel: CancellationToken,
) {
    let interval = source.spec.interval.max(std::time::Duration::from_secs(1));
    let mut live_since: Option<DateTime<Utc>> = None;
    loop {
        let now = Utc::now();
        // A panic while polling (a bug, or a library's) is one failed poll, not a dead view.
        let polled = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(poll(
            &client,
            &source.spec,
            now,
        )))
        .await;
        let (next, unreachable) = polled.unwrap_or_else(|_| {
            (
                PromSnapshot::default(),
                Some("internal error while polling (see the log)".to_string()),
            )
        });
        let prev = source.snapshot();
        let retry_at = now + chrono::Duration::from_std(interval).unwrap_or_default();
        let (snapshot, state) = match unreachable {
            None => {
                let since = *live_since.get_or_insert(now);
                (next, SourceState::Live { since })
            }
            Some(reason) => {
                live_since = None;
                let snapshot = PromSnapshot {
                    fetched_at: prev.fetched_at,
                    ..keep_last_good(&prev, next)
                };
                let state = match prev.fetched_at {
                    Some(since) => SourceState::Stale {
                        since,
                        retry_at,
                        reason,
                    },
                    None => SourceState::Error { reason, retry_at },
                };
                (snapshot, state)
            }
        };
        if cancel.is_cancelled() {
            return;
        }
        source.publish(snapshot, state);
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = refresh.changed() => {}
            () = tokio::time::sleep(interval) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn result(id: &str, points: Vec<(f64, f64)>, error: Option<&str>) -> QueryResult {
        QueryResult {
            id: id.into(),
            series: if points.is_empty() {
                Vec::new()
            } else {
                vec![PromSeries {
                    labels: BTreeMap::new(),
                    points,
                }]
            },
            error: error.map(str::to_string),
            stale_since: None,
        }
    }

    #[test]
    fn failed_queries_keep_their_last_good_points_marked_stale() {
        let t0 = DateTime::from_timestamp(1_000, 0).unwrap();
        let prev = PromSnapshot {
            results: vec![
                result("a", vec![(1.0, 0.5)], None),
                result("b", vec![], None),
            ],
            fetched_at: Some(t0),
        };
        let next = PromSnapshot {
            results: vec![
                result("a", vec![], Some("unreachable")),
                result("b", vec![], Some("unreachable")),
            ],
            fetched_at: None,
        };
        let kept = keep_last_good(&prev, next);
        assert_eq!(kept.result("a").unwrap().points(), &[(1.0, 0.5)]);
        assert_eq!(kept.result("a").unwrap().stale_since, Some(t0));
        // Nothing good to keep: the error stays and nothing is marked.
        assert!(kept.result("b").unwrap().series.is_empty());
        assert_eq!(kept.result("b").unwrap().stale_since, None);
        // A second failure keeps the first stale time.
        let again = keep_last_good(
            &kept,
            PromSnapshot {
                results: vec![result("a", vec![], Some("unreachable"))],
                fetched_at: None,
            },
        );
        assert_eq!(again.result("a").unwrap().stale_since, Some(t0));
    }
}
