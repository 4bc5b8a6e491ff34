//! In-memory time series for the demo Prometheus: what the simulated scraper writes and the
//! PromQL evaluator reads.

use std::collections::{HashMap, VecDeque};
use std::sync::RwLock;
use std::time::Duration;

/// A series' label set, sorted by label name; the metric name is the `__name__` label.
pub type Labels = Vec<(String, String)>;

/// Builds a sorted label set from a metric name and label pairs.
#[must_use]
pub fn labels(name: &str, pairs: &[(&str, &str)]) -> Labels {
    let mut l: Labels = pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    l.push(("__name__".to_string(), name.to_string()));
    l.sort();
    l
}

/// One series and its samples, oldest first (timestamps in milliseconds).
#[derive(Debug, Clone)]
pub struct Series {
    pub labels: Labels,
    pub samples: VecDeque<(i64, f64)>,
}

#[derive(Debug, Default)]
struct Inner {
    series: Vec<Series>,
    by_labels: HashMap<Labels, usize>,
}

/// Append-only sample store with a retention window.
#[derive(Debug)]
pub struct Tsdb {
    inner: RwLock<Inner>,
    retention_ms: i64,
}

impl Tsdb {
    #[must_use]
    pub fn new(retention: Duration) -> Self {
        Self {
            inner: RwLock::new(Inner::default()),
            retention_ms: i64::try_from(retention.as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// Appends a sample; samples at or before the series' last timestamp are ignored, as
    /// Prometheus ignores out-of-order samples.
    pub fn append(&self, labels: Labels, t_ms: i64, v: f64) {
        let mut inner = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let idx = match inner.by_labels.get(&labels) {
            Some(i) => *i,
            None => {
                let i = inner.series.len();
                inner.series.push(Series {
                    labels: labels.clone(),
                    samples: VecDeque::new(),
                });
                inner.by_labels.insert(labels, i);
                i
            }
        };
        let retention = self.retention_ms;
        let series = &mut inner.series[idx];
        if series.samples.back().is_some_and(|(t, _)| *t >= t_ms) {
            return;
        }
        series.samples.push_back((t_ms, v));
        while series
            .samples
            .front()
            .is_some_and(|(t, _)| *t < t_ms - retention)
        {
            series.samples.pop_front();
        }
    }

    /// Calls `f` with every series (under a read lock; keep `f` short).
    pub fn for_each_series(&self, mut f: impl FnMut(&Series)) {
        let inner = self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for s in &inner.series {
            f(s);
        }
    }

    /// Number of series held.
    #[must_use]
    pub fn series_count(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .series
            .len()
    }
}
