//! PromQL evaluation: instant and range vector selection, fetching each selector's series
//! from the TSDB once per query and slicing them per step for eval.rs and functions.rs.

use std::rc::Rc;

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{MatrixSelector, Offset, VectorSelector};

use super::{Evaluator, LOOKBACK_MS, MatrixView, Sample, Series, node_addr};
use crate::prom::tsdb::{METRIC_NAME, is_stale_marker};

fn offset_ms(o: Option<&Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Some(Offset::Neg(d)) => -i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
    }
}

fn duration_ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Selector matchers, with the metric name as a matcher.
fn selector_matchers(vs: &VectorSelector) -> Vec<Matcher> {
    let mut ms = vs.matchers.matchers.clone();
    if let Some(name) = &vs.name
        && !ms.iter().any(|m| m.name == METRIC_NAME)
    {
        ms.push(Matcher::new(MatchOp::Equal, METRIC_NAME, name));
    }
    ms
}

impl Evaluator<'_> {
    /// The series a selector node picks over the whole query window (fetched once). Range
    /// selectors never see staleness markers, so theirs are dropped here.
    fn selection(
        &mut self,
        node: usize,
        vs: &VectorSelector,
        window: i64,
        drop_stale: bool,
    ) -> Rc<Vec<Series>> {
        if let Some(s) = self.selections.get(&node) {
            return s.clone();
        }
        let off = offset_ms(vs.offset.as_ref());
        let matchers = selector_matchers(vs);
        let min_t = self.start.saturating_sub(off).saturating_sub(window);
        let max_t = self.end.saturating_sub(off);
        let sel: Vec<Series> = self
            .tsdb
            .select(&matchers, min_t, max_t)
            .into_iter()
            .map(|(l, mut s)| {
                if drop_stale {
                    s.retain(|(_, v)| !is_stale_marker(*v));
                }
                (self.intern(l), s)
            })
            .collect();
        let sel = Rc::new(sel);
        self.selections.insert(node, sel.clone());
        sel
    }

    pub(super) fn eval_vector_selector(&mut self, vs: &VectorSelector, ts: i64) -> Vec<Sample> {
        self.vector_selector_samples(vs, ts)
            .into_iter()
            .map(|(s, _)| s)
            .collect()
    }

    /// An instant selector's samples at `ts`, with the time each sample was written.
    pub(crate) fn vector_selector_samples(
        &mut self,
        vs: &VectorSelector,
        ts: i64,
    ) -> Vec<(Sample, i64)> {
        let sel = self.selection(node_addr(vs), vs, LOOKBACK_MS, false);
        let ref_t = ts - offset_ms(vs.offset.as_ref());
        let mut out = Vec::new();
        for (metric, samples) in sel.iter() {
            let n = samples.partition_point(|(t, _)| *t <= ref_t);
            if n == 0 {
                continue;
            }
            let (t, v) = samples[n - 1];
            if t < ref_t - LOOKBACK_MS || is_stale_marker(v) {
                continue;
            }
            out.push((
                Sample {
                    metric: metric.clone(),
                    v,
                },
                t,
            ));
        }
        out
    }

    /// The windows a range selector yields at `ts`: samples in `[ts-off-range, ts-off]`,
    /// as slices of the fetched series (no copying per step).
    pub(crate) fn matrix_view(&mut self, ms: &MatrixSelector, ts: i64) -> MatrixView {
        let range = duration_ms(ms.range);
        let sel = self.selection(node_addr(ms), &ms.vs, range, true);
        let ref_t = ts - offset_ms(ms.vs.offset.as_ref());
        let lo_t = ref_t.saturating_sub(range);
        let node = node_addr(ms);
        let (last_ts, mut windows) = self
            .cursors
            .remove(&node)
            .unwrap_or_else(|| (i64::MAX, Vec::new()));
        let forward = ts >= last_ts && windows.len() == sel.len();
        let mut parts = Vec::new();
        if !forward {
            windows = vec![(0, 0); sel.len()];
        }
        for (i, (_, samples)) in sel.iter().enumerate() {
            let (mut lo, mut hi) = windows[i];
            if forward {
                while lo < samples.len() && samples[lo].0 < lo_t {
                    lo += 1;
                }
                hi = hi.max(lo);
                while hi < samples.len() && samples[hi].0 <= ref_t {
                    hi += 1;
                }
            } else {
                lo = samples.partition_point(|(t, _)| *t < lo_t);
                hi = samples.partition_point(|(t, _)| *t <= ref_t);
            }
            windows[i] = (lo, hi);
            if lo < hi {
                parts.push((i, lo, hi));
            }
        }
        self.cursors.insert(node, (ts, windows));
        MatrixView { sel, parts }
    }
}
