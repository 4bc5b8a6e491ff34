//! Prometheus beside the API: Velero's `velero_backup_last_successful_timestamp{schedule}`
//! (set by the Velero server when a backup completes), polled per cluster while the pane
//! runs, compared with the newest Completed Backup the API holds. They disagree when backups
//! expired or were deleted (Prometheus remembers a success the API no longer shows), when the
//! server restarted (the gauge starts empty), or when the metrics are not scraped.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::panes::kit::PromView;
use crate::source::{PromQuery, PromSpec};

/// The query's id in the poller's snapshot.
pub const QUERY_ID: &str = "last-success";
/// Velero's gauge of the last successful backup per schedule (unix seconds).
pub const METRIC: &str = "velero_backup_last_successful_timestamp";
/// Differences up to this are clock and rounding, not a disagreement.
pub const AGREE_WITHIN_SECS: i64 = 60;
/// How long Prometheus may take to see a new success (scrape, then poll) before its older
/// answer counts as a disagreement.
pub const CATCH_UP_SECS: i64 = 180;

/// The list query: one instant query for every schedule's gauge.
#[must_use]
pub fn list_spec(config: &Config) -> PromSpec {
    PromSpec {
        key: "backups/last-success".into(),
        interval: Duration::from_secs(config.prometheus.interval_secs.max(2)),
        queries: vec![PromQuery {
            id: QUERY_ID.into(),
            promql: METRIC.into(),
            range: None,
        }],
    }
}

/// One cluster's answer, by schedule.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum PromAnswer {
    /// No Prometheus for this cluster (or not asked).
    #[default]
    None,
    Waiting,
    /// The query failed and there is nothing older to show.
    Failed(String),
    Data {
        by_schedule: HashMap<String, f64>,
        /// Set when these values are from an earlier poll.
        stale: bool,
    },
}

impl PromAnswer {
    /// Reads the poller's snapshot.
    #[must_use]
    pub fn from_view(view: &PromView) -> Self {
        match view {
            PromView::None | PromView::Unconfigured => Self::None,
            PromView::Waiting => Self::Waiting,
            PromView::Data { snapshot, state } => match snapshot.result(QUERY_ID) {
                None => Self::Waiting,
                Some(r) if r.series.is_empty() && r.error.is_some() => {
                    Self::Failed(r.error.clone().unwrap_or_default())
                }
                Some(r) => Self::Data {
                    by_schedule: r
                        .series
                        .iter()
                        .filter_map(|s| {
                            let name = s.labels.get("schedule")?;
                            let (_, v) = s.points.last()?;
                            v.is_finite().then(|| (name.clone(), *v))
                        })
                        .collect(),
                    stale: r.stale_since.is_some() || !state.is_live(),
                },
            },
        }
    }

    /// What it says about one schedule; `None` without a Prometheus.
    #[must_use]
    pub fn for_schedule(&self, schedule: &str) -> Option<PromLastSuccess> {
        match self {
            Self::None => None,
            Self::Waiting => Some(PromLastSuccess::Waiting),
            Self::Failed(why) => Some(PromLastSuccess::Failed(why.clone())),
            Self::Data { by_schedule, stale } => Some(PromLastSuccess::Value {
                at: by_schedule
                    .get(schedule)
                    .and_then(|v| DateTime::from_timestamp(*v as i64, 0)),
                stale: *stale,
                disagrees: false,
            }),
        }
    }
}

/// Prometheus' last success of one schedule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PromLastSuccess {
    Waiting,
    Failed(String),
    Value {
        /// `None`: no series for this schedule.
        at: Option<DateTime<Utc>>,
        stale: bool,
        /// It differs from the API's newest completed backup.
        disagrees: bool,
    },
}

impl PromLastSuccess {
    /// Compared with the completion time of the API's newest Completed backup, at `now`.
    #[must_use]
    pub fn compared_with(self, api: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Self {
        match self {
            Self::Value { at, stale, .. } => Self::Value {
                at,
                stale,
                disagrees: disagree(at, api, now),
            },
            other => other,
        }
    }

    #[must_use]
    pub fn disagrees(&self) -> bool {
        matches!(
            self,
            Self::Value {
                disagrees: true,
                ..
            }
        )
    }
}

/// Whether Prometheus' time and the API's differ: Prometheus remembers a success the API
/// does not hold (newer, or none at all: backups expired or deleted), or it still shows an
/// older one although the API's newest completed long enough ago to have been scraped. No
/// series while the API has a success is not counted (the gauge is empty after a Velero
/// restart until the next success; the cell says "–").
#[must_use]
pub fn disagree(
    prom: Option<DateTime<Utc>>,
    api: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    match (prom, api) {
        (Some(p), Some(a)) => {
            let diff = (p - a).num_seconds();
            diff > AGREE_WITHIN_SECS
                || (diff < -AGREE_WITHIN_SECS && (now - a).num_seconds() > CATCH_UP_SECS)
        }
        (Some(_), None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(s, 0)
    }

    #[test]
    fn disagreement_allows_for_the_scrape_delay() {
        let now = t(10_000).unwrap();
        assert!(!disagree(t(1000), t(1000), now));
        assert!(!disagree(t(1000), t(1060), now));
        // The API's newest success is 5 minutes newer and completed long ago: Prometheus
        // should have seen it.
        assert!(disagree(t(1000), t(1300), now));
        // ...but not if it completed a moment ago (10_000 - 9_900 = 100 s < 180 s).
        assert!(!disagree(t(9_600), t(9_900), now));
        // Prometheus knows a newer success than the API holds.
        assert!(disagree(t(1300), t(1000), now));
        // Prometheus remembers a success the API no longer holds (expired backups).
        assert!(disagree(t(1000), None, now));
        // No series (server restarted): said so, not flagged.
        assert!(!disagree(None, t(1000), now));
    }
}
