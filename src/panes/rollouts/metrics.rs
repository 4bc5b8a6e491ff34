//! Canary vs stable traffic metrics from Prometheus for the detail view: success rate and
//! p99 latency of each side, over the last half hour, declared as a Prometheus source while
//! the view is open. The queries are the templates in `config.toml` (`[queries]`), filled with
//! the rollout's services; the thresholds drawn next to them come from its AnalysisTemplates,
//! never made up.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::QueryConfig;
use crate::k8s::rollout::Rollout;
use crate::source::{PromQuery, PromSnapshot, PromSpec};

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

/// The key of a rollout's metrics poller.
#[must_use]
pub fn poller_key(target: &MetricTarget) -> String {
    format!(
        "rollout-metrics/{}/{}/{}",
        target.namespace, target.sides[0].1, target.sides[1].1
    )
}

/// The four range queries (success rate and p99 of each side) over `window` seconds every
/// `step`, polled every `interval`.
#[must_use]
pub fn prom_spec(
    target: &MetricTarget,
    queries: &QueryConfig,
    interval: Duration,
    window: u32,
    step: u32,
) -> PromSpec {
    let mut out = Vec::new();
    for (label, service) in &target.sides {
        for (metric, template) in [
            (SUCCESS, &queries.success_rate),
            (P99, &queries.latency_p99),
        ] {
            out.push(PromQuery {
                id: format!("{label}/{metric}"),
                promql: fill(template, service, &target.namespace),
                range: Some((window, step)),
            });
        }
    }
    PromSpec {
        key: poller_key(target),
        interval,
        queries: out,
    }
}

const SUCCESS: &str = "success";
const P99: &str = "p99";

impl MetricsSnapshot {
    /// Both metrics of both sides from a poller's snapshot; a side without an answer yet
    /// says "waiting".
    #[must_use]
    pub fn from_prom(snapshot: &PromSnapshot, target: &MetricTarget) -> Self {
        let side = |label: &'static str, service: &str, metric: &str| {
            let result = snapshot.result(&format!("{label}/{metric}"));
            let points = result.map(|r| r.points().to_vec()).unwrap_or_default();
            let error = match result {
                None => Some("waiting for Prometheus…".to_string()),
                Some(r) if r.error.is_some() => r.error.clone(),
                Some(_) if points.is_empty() => Some("no data".to_string()),
                Some(_) => None,
            };
            SideSeries {
                label,
                service: service.to_string(),
                points,
                error,
                stale_since: result.and_then(|r| r.stale_since),
            }
        };
        let mut snap = Self {
            fetched_at: snapshot.fetched_at,
            ..Self::default()
        };
        for (label, service) in &target.sides {
            snap.success_rate.push(side(label, service, SUCCESS));
            snap.latency_p99.push(side(label, service, P99));
        }
        snap
    }
}

/// Half an hour of history, a point every 30 s.
pub const WINDOW_SECS: u32 = 1800;
pub const STEP_SECS: u32 = 30;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_substitutes() {
        assert_eq!(fill("a{service}b{namespace}", "svc", "ns"), "asvcbns");
    }
}
