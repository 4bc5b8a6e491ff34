//! Canary vs stable traffic metrics from Prometheus for the detail view: success rate and
//! p99 latency of each side, over the last half hour, polled only while the view is open.
//! The queries are the templates in `config.toml` (`[queries]`), filled with the rollout's
//! services; the thresholds drawn next to them come from its AnalysisTemplates, never made up.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::config::QueryConfig;
use crate::k8s::rollout::Rollout;
use crate::source::Notifier;
use crate::source::prometheus::{PromClient, PromData};

/// Which services carry the new and the serving version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricTarget {
    pub namespace: String,
    /// (label, service): `canary`/`preview` first, then `stable`/`active`.
    pub sides: [(&'static str, String); 2],
}

/// The services of a rollout's two sides, if the rollout names them.
#[must_use]
pub fn target_for(ro: &Rollout) -> Option<MetricTarget> {
    let namespace = ro.metadata.namespace.clone()?;
    if let Some(c) = &ro.spec.strategy.canary {
        return Some(MetricTarget {
            namespace,
            sides: [
                ("canary", c.canary_service.clone()?),
                ("stable", c.stable_service.clone()?),
            ],
        });
    }
    let bg = ro.spec.strategy.blue_green.as_ref()?;
    Some(MetricTarget {
        namespace,
        sides: [
            ("preview", bg.preview_service.clone()?),
            ("active", bg.active_service.clone()?),
        ],
    })
}

/// Fills `{service}` and `{namespace}` in a query template.
#[must_use]
pub fn fill(template: &str, service: &str, namespace: &str) -> String {
    template
        .replace("{service}", service)
        .replace("{namespace}", namespace)
}

/// One side's series: (unix seconds, value), oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SideSeries {
    pub label: &'static str,
    pub service: String,
    pub points: Vec<(f64, f64)>,
    /// Why there is no data, if there is none.
    pub error: Option<String>,
    /// Set when the last poll failed and `points` are the last good ones: when those were
    /// fetched. Old data stays on screen, marked, rather than vanishing.
    pub stale_since: Option<DateTime<Utc>>,
}

impl SideSeries {
    /// The newest finite value.
    #[must_use]
    pub fn latest(&self) -> Option<f64> {
        self.points
            .iter()
            .rev()
            .map(|(_, v)| *v)
            .find(|v| v.is_finite())
    }
}

/// Both metrics for both sides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    pub success_rate: Vec<SideSeries>,
    pub latency_p99: Vec<SideSeries>,
    pub fetched_at: Option<DateTime<Utc>>,
}

async fn range(
    prom: &PromClient,
    query: &str,
    end: f64,
    window: f64,
    step: f64,
) -> Result<Vec<(f64, f64)>, String> {
    match prom.query_range(query, end - window, end, step).await {
        Ok(data) => {
            let series = data.series();
            // A query aggregated with sum() yields one series; keep the first otherwise.
            Ok(series
                .into_iter()
                .next()
                .map(|s| s.points)
                .unwrap_or_default())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Runs the four range queries ending at `end` (unix seconds).
pub async fn fetch(
    prom: &PromClient,
    queries: &QueryConfig,
    target: &MetricTarget,
    end: f64,
    window: f64,
    step: f64,
) -> MetricsSnapshot {
    let mut snap = MetricsSnapshot {
        fetched_at: DateTime::from_timestamp(end as i64, 0),
        ..MetricsSnapshot::default()
    };
    for (label, service) in &target.sides {
        for (template, out) in [
            (&queries.success_rate, &mut snap.success_rate),
            (&queries.latency_p99, &mut snap.latency_p99),
        ] {
            let q = fill(template, service, &target.namespace);
            let (points, error) = match range(prom, &q, end, window, step).await {
                Ok(p) if p.is_empty() => (p, Some("no data".to_string())),
                Ok(p) => (p, None),
                Err(e) => (Vec::new(), Some(e)),
            };
            out.push(SideSeries {
                label,
                service: service.clone(),
                points,
                error,
                stale_since: None,
            });
        }
    }
    snap
}

/// `next` with every series that failed (an error and no points) given the last good points
/// of the same series in `prev`, marked stale since `prev` fetched them.
#[must_use]
pub fn keep_last_good(
    prev: Option<&MetricsSnapshot>,
    mut next: MetricsSnapshot,
) -> MetricsSnapshot {
    let Some(prev) = prev else {
        return next;
    };
    for (new, old) in [
        (&mut next.success_rate, &prev.success_rate),
        (&mut next.latency_p99, &prev.latency_p99),
    ] {
        for s in new
            .iter_mut()
            .filter(|s| s.error.is_some() && s.points.is_empty())
        {
            if let Some(o) = old
                .iter()
                .find(|o| o.label == s.label && o.service == s.service && !o.points.is_empty())
            {
                s.points.clone_from(&o.points);
                s.stale_since = o.stale_since.or(prev.fetched_at);
            }
        }
    }
    next
}

/// Polls [`fetch`] while a detail view is open; dropping it stops the polling.
#[derive(Debug)]
pub struct MetricsPoller {
    pub target: MetricTarget,
    latest: Arc<Mutex<Option<MetricsSnapshot>>>,
    cancel: CancellationToken,
}

/// Half an hour of history, a point every 30 s.
pub const WINDOW_SECS: f64 = 1800.0;
pub const STEP_SECS: f64 = 30.0;

impl MetricsPoller {
    /// Starts polling every `interval` (needs a tokio runtime; without one nothing is polled).
    #[must_use]
    pub fn start(
        prom: PromClient,
        queries: QueryConfig,
        target: MetricTarget,
        interval: Duration,
        notifier: Notifier,
    ) -> Self {
        let latest = Arc::new(Mutex::new(None));
        let cancel = CancellationToken::new();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (latest, cancel, target) = (latest.clone(), cancel.clone(), target.clone());
            rt.spawn(async move {
                loop {
                    let end = Utc::now().timestamp() as f64;
                    let snap = fetch(&prom, &queries, &target, end, WINDOW_SECS, STEP_SECS).await;
                    {
                        let mut shown = latest
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        *shown = Some(keep_last_good(shown.as_ref(), snap));
                    }
                    notifier.notify();
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        () = tokio::time::sleep(interval) => {}
                    }
                }
            });
        }
        Self {
            target,
            latest,
            cancel,
        }
    }

    /// A poller that never polls, showing `snapshot` (tests, screenshots).
    #[must_use]
    pub fn fixed(target: MetricTarget, snapshot: MetricsSnapshot) -> Self {
        Self {
            target,
            latest: Arc::new(Mutex::new(Some(snapshot))),
            cancel: CancellationToken::new(),
        }
    }

    #[must_use]
    pub fn snapshot(&self) -> Option<MetricsSnapshot> {
        self.latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Drop for MetricsPoller {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Block characters for sparklines, lowest to highest.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A sparkline of the last `width` points, scaled to [lo, hi] (shared by both sides, so
/// their heights compare). Gaps (NaN) are spaces.
#[must_use]
pub fn sparkline(points: &[(f64, f64)], lo: f64, hi: f64, width: usize) -> String {
    let start = points.len().saturating_sub(width);
    let span = (hi - lo).max(f64::EPSILON);
    let mut out: String = points[start..]
        .iter()
        .map(|(_, v)| {
            if v.is_finite() {
                let idx = (((v - lo) / span) * 7.0).round().clamp(0.0, 7.0) as usize;
                BARS[idx]
            } else {
                ' '
            }
        })
        .collect();
    let missing = width.saturating_sub(out.chars().count());
    if missing > 0 {
        out = format!("{}{out}", " ".repeat(missing));
    }
    out
}

/// The range both sides' finite values span (plus the threshold, so it is on the scale).
#[must_use]
pub fn shared_range(series: &[SideSeries], threshold: Option<f64>) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in series
        .iter()
        .flat_map(|s| s.points.iter().map(|(_, v)| *v))
        .chain(threshold)
        .filter(|v| v.is_finite())
    {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi { (0.0, 1.0) } else { (lo, hi) }
}

/// Shapes a query result for tests.
#[must_use]
pub fn first_series(data: &PromData) -> Vec<(f64, f64)> {
    data.series()
        .into_iter()
        .next()
        .map(|s| s.points)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_and_pads() {
        let pts: Vec<(f64, f64)> = [0.0, 0.5, 1.0].iter().map(|v| (0.0, *v)).collect();
        assert_eq!(sparkline(&pts, 0.0, 1.0, 3), "▁▅█");
        assert_eq!(sparkline(&pts, 0.0, 1.0, 5), "  ▁▅█");
        let gap = vec![(0.0, f64::NAN), (1.0, 1.0)];
        assert_eq!(sparkline(&gap, 0.0, 1.0, 2), " █");
    }

    #[test]
    fn fill_substitutes() {
        assert_eq!(fill("a{service}b{namespace}", "svc", "ns"), "asvcbns");
    }
}
