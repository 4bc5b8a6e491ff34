//! In-memory time series for the demo Prometheus: what the simulated scraper writes and the
//! PromQL evaluator reads.
//!
//! Samples live in compressed chunks ([`super::chunk`]); series are indexed by label set
//! (for appends) and by metric name (for selection). Retention drops whole chunks, and series
//! that have no samples left are forgotten.

use std::collections::VecDeque;
use std::sync::RwLock;
use std::time::Duration;

use promql_parser::label::{MatchOp, Matcher};

use super::chunk::Chunk;
use super::hash::FastMap;

/// A series' label set, sorted by label name; the metric name is the `__name__` label.
pub type Labels = Vec<(String, String)>;

/// The metric-name label.
pub const METRIC_NAME: &str = "__name__";

/// The bit pattern Prometheus writes to mark a series as gone ("staleness marker"). A stale
/// sample ends the series for instant selectors and is skipped by range selectors.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Whether `v` is Prometheus' staleness marker (not just any NaN).
#[must_use]
pub fn is_stale_marker(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// Builds a sorted label set from a metric name and label pairs.
#[must_use]
pub fn labels(name: &str, pairs: &[(&str, &str)]) -> Labels {
    let mut l: Labels = pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    l.push((METRIC_NAME.to_string(), name.to_string()));
    l.sort();
    l
}

/// The value of label `name`, or "" when the series does not have it (as in Prometheus,
/// where a missing label and an empty one are the same).
#[must_use]
pub fn label_value<'a>(labels: &'a [(String, String)], name: &str) -> &'a str {
    labels
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Whether a label set satisfies every matcher.
#[must_use]
pub fn matches_all(labels: &[(String, String)], matchers: &[Matcher]) -> bool {
    matchers
        .iter()
        .all(|m| m.is_match(label_value(labels, &m.name)))
}

/// A snapshot of one series and its samples, oldest first (timestamps in milliseconds).
#[derive(Debug, Clone)]
pub struct Series {
    pub labels: Labels,
    pub samples: VecDeque<(i64, f64)>,
}

/// A handle to one series for fast repeated appends ([`Tsdb::append_ref`]).
#[derive(Debug, Clone)]
pub struct SeriesRef {
    slot: usize,
    generation: u64,
    labels: std::sync::Arc<Labels>,
}

impl SeriesRef {
    /// The series' labels.
    #[must_use]
    pub fn labels(&self) -> &Labels {
        &self.labels
    }
}

/// One stored series: sealed chunks plus the chunk being appended to.
#[derive(Debug)]
struct Stored {
    labels: Labels,
    chunks: Vec<Chunk>,
    /// Distinguishes this series from earlier occupants of its slot (for [`SeriesRef`]).
    generation: u64,
}

impl Stored {
    fn max_t(&self) -> Option<i64> {
        self.chunks.last().map(|c| c.max_t)
    }

    fn min_t(&self) -> Option<i64> {
        self.chunks.first().map(|c| c.min_t)
    }

    fn overlaps(&self, min_t: i64, max_t: i64) -> bool {
        match (self.min_t(), self.max_t()) {
            (Some(lo), Some(hi)) => lo <= max_t && hi >= min_t,
            _ => false,
        }
    }

    /// Samples with `min_t <= t <= max_t`, oldest first.
    fn samples_in(&self, min_t: i64, max_t: i64, out: &mut Vec<(i64, f64)>) {
        for c in &self.chunks {
            if c.max_t < min_t || c.min_t > max_t {
                continue;
            }
            out.extend(c.iter().filter(|(t, _)| *t >= min_t && *t <= max_t));
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// Series slots; `None` once a series has expired (its slot is reused).
    series: Vec<Option<Stored>>,
    free: Vec<usize>,
    by_labels: FastMap<Labels, usize>,
    /// Metric name -> series slots (the postings list every query starts from).
    by_name: FastMap<String, Vec<usize>>,
    /// Newest timestamp seen, which drives retention.
    max_t: i64,
    next_generation: u64,
    /// Oldest timestamp ever written: when this "Prometheus" started collecting.
    first_t: Option<i64>,
    next_gc_t: i64,
}

/// How often (in sample time) expired chunks and series are swept.
const GC_EVERY_MS: i64 = 60_000;

/// Append-only sample store with a retention window.
#[derive(Debug)]
pub struct Tsdb {
    inner: RwLock<Inner>,
    retention_ms: i64,
}

/// The series matched by a selection, with their samples in the requested window.
pub type Selection = Vec<(Labels, Vec<(i64, f64)>)>;

impl Tsdb {
    #[must_use]
    pub fn new(retention: Duration) -> Self {
        Self {
            inner: RwLock::new(Inner {
                next_gc_t: i64::MIN,
                ..Inner::default()
            }),
            retention_ms: i64::try_from(retention.as_millis()).unwrap_or(i64::MAX),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The slot of the series with these labels, created if new.
    fn slot_for(inner: &mut Inner, labels: Labels) -> usize {
        if let Some(i) = inner.by_labels.get(&labels) {
            return *i;
        }
        let name = label_value(&labels, METRIC_NAME).to_string();
        inner.next_generation += 1;
        let stored = Stored {
            labels: labels.clone(),
            chunks: Vec::new(),
            generation: inner.next_generation,
        };
        let i = if let Some(i) = inner.free.pop() {
            inner.series[i] = Some(stored);
            i
        } else {
            inner.series.push(Some(stored));
            inner.series.len() - 1
        };
        inner.by_labels.insert(labels, i);
        inner.by_name.entry(name).or_default().push(i);
        i
    }

    /// Appends a sample; samples at or before the series' last timestamp are ignored, as
    /// Prometheus ignores out-of-order samples.
    pub fn append(&self, labels: Labels, t_ms: i64, v: f64) {
        let mut inner = self.write();
        let idx = Self::slot_for(&mut inner, labels);
        self.push_sample(&mut inner, idx, t_ms, v);
    }

    /// A handle for appending to the series with `labels` (created if new) without hashing
    /// its labels at every sample; for writers that append to the same series repeatedly.
    #[must_use]
    pub fn series_ref(&self, labels: Labels) -> SeriesRef {
        let mut inner = self.write();
        let slot = Self::slot_for(&mut inner, labels.clone());
        let generation = inner.series[slot].as_ref().map_or(0, |s| s.generation);
        SeriesRef {
            slot,
            generation,
            labels: std::sync::Arc::new(labels),
        }
    }

    /// Like [`Self::append`], through a handle. If the series expired since the handle was
    /// made, it is recreated and the handle updated.
    pub fn append_ref(&self, r: &mut SeriesRef, t_ms: i64, v: f64) {
        let mut inner = self.write();
        let current = inner
            .series
            .get(r.slot)
            .and_then(Option::as_ref)
            .is_some_and(|s| s.generation == r.generation);
        if !current {
            r.slot = Self::slot_for(&mut inner, (*r.labels).clone());
            r.generation = inner.series[r.slot].as_ref().map_or(0, |s| s.generation);
        }
        self.push_sample(&mut inner, r.slot, t_ms, v);
    }

    fn push_sample(&self, inner: &mut Inner, idx: usize, t_ms: i64, v: f64) {
        let Some(Some(series)) = inner.series.get_mut(idx) else {
            return;
        };
        match series.chunks.last_mut() {
            Some(last) if last.max_t >= t_ms => return,
            Some(last) if !last.is_full() => last.push(t_ms, v),
            Some(last) => {
                last.seal();
                series.chunks.push(Chunk::new(t_ms, v));
            }
            None => series.chunks.push(Chunk::new(t_ms, v)),
        }
        inner.max_t = inner.max_t.max(t_ms);
        inner.first_t = Some(inner.first_t.map_or(t_ms, |f| f.min(t_ms)));
        if inner.max_t >= inner.next_gc_t {
            inner.next_gc_t = inner.max_t.saturating_add(GC_EVERY_MS);
            Self::gc(inner, inner.max_t.saturating_sub(self.retention_ms));
        }
    }

    /// Drops chunks that ended before `cutoff` and series left without samples.
    fn gc(inner: &mut Inner, cutoff: i64) {
        let mut removed = Vec::new();
        for (i, slot) in inner.series.iter_mut().enumerate() {
            let Some(s) = slot else { continue };
            s.chunks.retain(|c| c.max_t >= cutoff);
            if s.chunks.is_empty() {
                removed.push(i);
            }
        }
        for i in removed {
            if let Some(s) = inner.series[i].take() {
                inner.by_labels.remove(&s.labels);
                let name = label_value(&s.labels, METRIC_NAME);
                if let Some(p) = inner.by_name.get_mut(name) {
                    p.retain(|x| *x != i);
                    if p.is_empty() {
                        inner.by_name.remove(name);
                    }
                }
                inner.free.push(i);
            }
        }
    }

    /// Slots of candidate series for `matchers`, using the metric-name postings when a
    /// matcher constrains `__name__`.
    fn candidates(inner: &Inner, matchers: &[Matcher]) -> Vec<usize> {
        let name_matchers: Vec<&Matcher> =
            matchers.iter().filter(|m| m.name == METRIC_NAME).collect();
        if let Some(eq) = name_matchers
            .iter()
            .find(|m| matches!(m.op, MatchOp::Equal))
        {
            return inner.by_name.get(&eq.value).cloned().unwrap_or_default();
        }
        if name_matchers.is_empty() {
            return (0..inner.series.len()).collect();
        }
        // Test each metric name once rather than each series.
        let mut out = Vec::new();
        for (name, postings) in &inner.by_name {
            if name_matchers.iter().all(|m| m.is_match(name)) {
                out.extend_from_slice(postings);
            }
        }
        out
    }

    /// Series matching every matcher with samples in `[min_t, max_t]` (ms, inclusive), and
    /// those samples, sorted by label set as Prometheus' storage returns them.
    #[must_use]
    pub fn select(&self, matchers: &[Matcher], min_t: i64, max_t: i64) -> Selection {
        let inner = self.read();
        let mut out = Vec::new();
        for i in Self::candidates(&inner, matchers) {
            let Some(Some(s)) = inner.series.get(i) else {
                continue;
            };
            if !s.overlaps(min_t, max_t) || !matches_all(&s.labels, matchers) {
                continue;
            }
            let mut samples = Vec::new();
            s.samples_in(min_t, max_t, &mut samples);
            if !samples.is_empty() {
                out.push((s.labels.clone(), samples));
            }
        }
        drop(inner);
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Label sets of series matching every matcher whose chunks overlap `[min_t, max_t]`
    /// (without decoding samples; for the metadata endpoints). Sorted, deduplicated.
    #[must_use]
    pub fn series_labels(&self, matchers: &[Matcher], min_t: i64, max_t: i64) -> Vec<Labels> {
        let inner = self.read();
        let mut out: Vec<Labels> = Self::candidates(&inner, matchers)
            .into_iter()
            .filter_map(|i| inner.series.get(i).and_then(Option::as_ref))
            .filter(|s| s.overlaps(min_t, max_t) && matches_all(&s.labels, matchers))
            .map(|s| s.labels.clone())
            .collect();
        drop(inner);
        out.sort();
        out.dedup();
        out
    }

    /// Calls `f` with a decoded snapshot of every series (under a read lock; decoding costs,
    /// so this is for inspection and tests, not for queries).
    pub fn for_each_series(&self, mut f: impl FnMut(&Series)) {
        let inner = self.read();
        for s in inner.series.iter().flatten() {
            let mut samples = Vec::new();
            s.samples_in(i64::MIN, i64::MAX, &mut samples);
            f(&Series {
                labels: s.labels.clone(),
                samples: samples.into(),
            });
        }
    }

    /// Number of series held.
    #[must_use]
    pub fn series_count(&self) -> usize {
        self.read().series.iter().flatten().count()
    }

    /// (samples, bytes of compressed sample data) held, for memory checks.
    #[must_use]
    pub fn storage_stats(&self) -> (usize, usize) {
        let inner = self.read();
        let mut samples = 0;
        let mut bytes = 0;
        for s in inner.series.iter().flatten() {
            for c in &s.chunks {
                samples += c.len();
                bytes += c.data_bytes();
            }
        }
        (samples, bytes)
    }

    /// The oldest sample timestamp ever written (ms), even if retention has dropped it since:
    /// the moment this store started collecting.
    #[must_use]
    pub fn first_time(&self) -> Option<i64> {
        self.read().first_t
    }

    /// Newest sample timestamp written (ms), if any.
    #[must_use]
    pub fn max_time(&self) -> Option<i64> {
        let inner = self.read();
        inner
            .series
            .iter()
            .flatten()
            .filter_map(Stored::max_t)
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(op: &str, name: &str, value: &str) -> Matcher {
        let op = match op {
            "=" => MatchOp::Equal,
            "!=" => MatchOp::NotEqual,
            "=~" => MatchOp::Re(regex::Regex::new(&format!("^(?:{value})$")).unwrap()),
            _ => MatchOp::NotRe(regex::Regex::new(&format!("^(?:{value})$")).unwrap()),
        };
        Matcher::new(op, name, value)
    }

    fn db() -> Tsdb {
        let db = Tsdb::new(Duration::from_secs(3600));
        for code in ["200", "503", "2000"] {
            for t in 0..10 {
                db.append(
                    labels("req_total", &[("code", code), ("svc", "a")]),
                    t * 5000,
                    t as f64,
                );
            }
        }
        db.append(labels("other", &[]), 0, 1.0);
        db
    }

    #[test]
    fn selects_by_name_and_matchers_with_anchored_regex() {
        let db = db();
        let sel = db.select(&[m("=", "__name__", "req_total")], 0, 100_000);
        assert_eq!(sel.len(), 3);
        // Anchored: "2.." matches 200 but not 2000.
        let sel = db.select(
            &[m("=", "__name__", "req_total"), m("=~", "code", "2..")],
            0,
            100_000,
        );
        assert_eq!(sel.len(), 1);
        assert_eq!(label_value(&sel[0].0, "code"), "200");
        let sel = db.select(&[m("!~", "code", "5.*"), m("=", "svc", "a")], 0, 100_000);
        assert_eq!(sel.len(), 2);
        let sel = db.select(
            &[m("=~", "__name__", "req_.*"), m("!=", "code", "200")],
            0,
            1,
        );
        assert_eq!(sel.len(), 2);
        // A missing label equals "".
        let sel = db.select(&[m("=", "code", "")], 0, 100_000);
        assert_eq!(sel.len(), 1);
        assert_eq!(label_value(&sel[0].0, "__name__"), "other");
    }

    #[test]
    fn window_is_inclusive_and_out_of_order_is_ignored() {
        let db = db();
        db.append(
            labels("req_total", &[("code", "200"), ("svc", "a")]),
            5000,
            99.0,
        );
        let sel = db.select(&[m("=", "code", "200")], 10_000, 20_000);
        assert_eq!(sel[0].1, vec![(10_000, 2.0), (15_000, 3.0), (20_000, 4.0)]);
    }

    #[test]
    fn retention_drops_old_chunks_and_empty_series() {
        let db = Tsdb::new(Duration::from_secs(600));
        let l = labels("g", &[]);
        for i in 0..2000 {
            db.append(l.clone(), i * 5000, 1.0);
        }
        db.append(labels("short", &[]), 0, 1.0);
        // Sweeps run once a minute of sample time.
        for i in 2000..2013 {
            db.append(l.clone(), i * 5000, 1.0);
        }
        let (samples, _) = db.storage_stats();
        // About 10 minutes (120 samples) plus up to two partly expired chunks.
        assert!(samples <= 3 * 120 + 1, "{samples}");
        assert_eq!(db.series_count(), 1);
        // The freed slot is reused.
        db.append(labels("new", &[]), 2013 * 5000, 1.0);
        assert_eq!(db.series_count(), 2);
    }

    #[test]
    fn memory_per_sample_is_small() {
        let db = Tsdb::new(Duration::from_secs(6 * 3600));
        for s in 0..50 {
            let svc = format!("svc{s}");
            let l = labels("istio_requests_total", &[("svc", &svc)]);
            let g = labels("ejections", &[("svc", &svc)]);
            let mut c = 0.0;
            for i in 0..4320 {
                c += f64::from((i * 7 + s) % 13);
                db.append(l.clone(), 1_700_000_000_000 + i64::from(i) * 5000, c);
                db.append(
                    g.clone(),
                    1_700_000_000_000 + i64::from(i) * 5000,
                    f64::from(i / 100 % 2),
                );
            }
        }
        let (samples, bytes) = db.storage_stats();
        assert_eq!(samples, 100 * 4320);
        let per_sample = bytes as f64 / samples as f64;
        assert!(per_sample < 2.5, "{per_sample} bytes per sample");
    }

    #[test]
    fn series_refs_survive_expiry() {
        let db = Tsdb::new(Duration::from_secs(60));
        let mut r = db.series_ref(labels("a", &[]));
        db.append_ref(&mut r, 0, 1.0);
        // Another series moves time on; "a" expires and its slot is reused.
        for i in 1..100 {
            db.append(labels("b", &[]), i * 5000, 1.0);
        }
        db.append(labels("c", &[]), 100 * 5000, 1.0);
        db.append_ref(&mut r, 100 * 5000, 2.0);
        let sel = db.select(&[m("=", "__name__", "a")], 0, i64::MAX);
        assert_eq!(sel.len(), 1);
        assert_eq!(sel[0].1, vec![(500_000, 2.0)]);
        let sel = db.select(&[m("=", "__name__", "c")], 0, i64::MAX);
        assert_eq!(sel[0].1, vec![(500_000, 1.0)]);
    }

    #[test]
    fn for_each_series_decodes() {
        let db = db();
        let mut n = 0;
        db.for_each_series(|s| n += s.samples.len());
        assert_eq!(n, 31);
    }
}
