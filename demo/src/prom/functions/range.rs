//! PromQL functions over range vectors (see functions.rs): `rate`/`increase`/`delta` with
//! Prometheus' extrapolation and counter resets, `irate`/`idelta`, and the `*_over_time`
//! helpers that apply a fold to each series' window.

use promql_parser::parser::{Expr, MatrixSelector};

use super::unwrap_parens;
use crate::prom::eval::{Evaluator, MatrixView, QueryError, Sample, Val};

/// Neumaier-compensated summation, as Prometheus uses for `sum_over_time`.
#[derive(Default)]
pub(super) struct Kahan {
    sum: f64,
    c: f64,
}

impl Kahan {
    pub(super) fn add(&mut self, inc: f64) {
        let t = self.sum + inc;
        if self.sum.abs() >= inc.abs() {
            self.c += (self.sum - t) + inc;
        } else {
            self.c += (inc - t) + self.sum;
        }
        self.sum = t;
    }

    pub(super) fn result(&self) -> f64 {
        if self.sum.is_infinite() {
            self.sum
        } else {
            self.sum + self.c
        }
    }
}

pub(super) fn avg_over_time(p: &[(i64, f64)]) -> Option<f64> {
    let mut mean = Kahan::default();
    let mut count = 0.0;
    for (_, v) in p {
        count += 1.0;
        if mean.sum.is_infinite() {
            if v.is_infinite() && (mean.sum > 0.0) == (*v > 0.0) {
                continue;
            }
            if v.is_finite() {
                continue;
            }
        }
        // Incremental mean: dividing first avoids overflowing the sum.
        mean.add(v / count - mean.sum / count);
    }
    Some(mean.result())
}

/// A range-vector argument: must be a range selector (subqueries are not supported).
pub(super) fn matrix_arg<'e>(
    ev: &mut Evaluator<'_>,
    e: &'e Expr,
    ts: i64,
) -> Result<(MatrixView, &'e MatrixSelector), QueryError> {
    match unwrap_parens(e) {
        Expr::MatrixSelector(ms) => Ok((ev.matrix_view(ms, ts), ms)),
        _ => Err(QueryError::bad_data(
            "not supported by kdeck's demo Prometheus: range vectors other than selectors",
        )),
    }
}

/// (range, offset) of a range selector in ms.
pub(super) fn selector_window(ms: &MatrixSelector) -> (i64, i64) {
    let range = i64::try_from(ms.range.as_millis()).unwrap_or(i64::MAX);
    let offset = match &ms.vs.offset {
        None => 0,
        Some(promql_parser::parser::Offset::Pos(d)) => {
            i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
        }
        Some(promql_parser::parser::Offset::Neg(d)) => {
            -i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
        }
    };
    (range, offset)
}

/// Applies `f` to each series' samples; series where `f` gives nothing are dropped.
pub(super) fn over_series(
    ev: &mut Evaluator<'_>,
    node: usize,
    m: MatrixView,
    drop_name: bool,
    f: impl Fn(&[(i64, f64)]) -> Option<f64>,
) -> Val {
    let mut out = Vec::new();
    for (metric, pts) in m.iter() {
        if let Some(v) = f(pts) {
            let metric = if drop_name {
                ev.drop_name(node, metric)
            } else {
                metric.clone()
            };
            out.push(Sample { metric, v });
        }
    }
    Val::Vector(out)
}

pub(super) fn over_time(
    ev: &mut Evaluator<'_>,
    node: usize,
    arg: &Expr,
    ts: i64,
    drop_name: bool,
    f: impl Fn(&[(i64, f64)]) -> Option<f64>,
) -> Result<Val, QueryError> {
    let (m, _) = matrix_arg(ev, arg, ts)?;
    Ok(over_series(ev, node, m, drop_name, f))
}

/// `rate`, `increase` and `delta`: the change over the window, corrected for counter resets
/// and extrapolated towards the window's edges the way Prometheus 2.x does.
pub(super) fn extrapolated_rate(
    pts: &[(i64, f64)],
    range_start: i64,
    range_end: i64,
    range_ms: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let (first_t, first_v) = pts[0];
    let (last_t, last_v) = pts[pts.len() - 1];
    let mut result = last_v - first_v;
    if is_counter {
        // A drop means the counter restarted from zero: add back what it had reached.
        let mut prev = first_v;
        for (_, v) in &pts[1..] {
            if *v < prev {
                result += prev;
            }
            prev = *v;
        }
    }
    let mut to_start = (first_t - range_start) as f64 / 1000.0;
    let to_end = (range_end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let avg_step = sampled / (pts.len() - 1) as f64;
    if is_counter && result > 0.0 && first_v >= 0.0 {
        // Counters do not go below zero: do not extrapolate past where it would reach zero.
        let to_zero = sampled * (first_v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    // Extrapolate to an edge only if a sample was likely just outside it; otherwise assume
    // the series started or ended half a step beyond the samples.
    let threshold = avg_step * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        avg_step / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        avg_step / 2.0
    };
    let mut factor = interval / sampled;
    if is_rate {
        factor /= range_ms as f64 / 1000.0;
    }
    Some(result * factor)
}

/// `irate` and `idelta`: from the last two samples.
pub(super) fn instant_value(pts: &[(i64, f64)], is_rate: bool) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let (lt, lv) = pts[pts.len() - 1];
    let (pt, pv) = pts[pts.len() - 2];
    let mut v = if is_rate && lv < pv { lv } else { lv - pv };
    let dt = lt - pt;
    if dt == 0 {
        return None;
    }
    if is_rate {
        v /= dt as f64 / 1000.0;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_extrapolation_and_resets() {
        // 5 s samples over a 1 m window ending at 60 s; counter reset at 30 s.
        let pts: Vec<(i64, f64)> = (0..=12)
            .map(|i| {
                let v = if i < 6 {
                    10.0 + i as f64
                } else {
                    (i - 6) as f64
                };
                (i * 5000, v)
            })
            .collect();
        // Increase: 15 - 10 (before the reset) plus 6 after = 11, no extrapolation needed.
        let inc = extrapolated_rate(&pts, 0, 60_000, 60_000, true, false).unwrap();
        assert!((inc - 11.0).abs() < 1e-12, "{inc}");
        let rate = extrapolated_rate(&pts, 0, 60_000, 60_000, true, true).unwrap();
        assert!((rate - 11.0 / 60.0).abs() < 1e-12);
        // A single sample gives nothing.
        assert!(extrapolated_rate(&pts[..1], 0, 60_000, 60_000, true, true).is_none());
        // Gap at the start larger than 1.1 steps: extrapolate half a step only.
        let pts2 = vec![(30_000, 100.0), (35_000, 105.0), (40_000, 110.0)];
        let inc2 = extrapolated_rate(&pts2, -20_000, 40_000, 60_000, true, false).unwrap();
        assert!((inc2 - 10.0 * 12.5 / 10.0).abs() < 1e-12, "{inc2}");
        // Counter extrapolation stops at zero.
        let pts3 = vec![(30_000, 1.0), (35_000, 6.0), (40_000, 11.0)];
        let inc3 = extrapolated_rate(&pts3, 26_000, 40_000, 14_000, true, false).unwrap();
        assert!((inc3 - 10.0 * 11.0 / 10.0).abs() < 1e-12, "{inc3}");
        // delta is not a counter: decreases count as decreases.
        let d = extrapolated_rate(&pts, 0, 60_000, 60_000, false, false).unwrap();
        assert!((d - (6.0 - 10.0)).abs() < 1e-12);
    }

    #[test]
    fn irate_handles_resets() {
        let pts = vec![(0, 10.0), (5000, 20.0), (10_000, 4.0)];
        assert_eq!(instant_value(&pts, true), Some(4.0 / 5.0));
        assert_eq!(instant_value(&pts, false), Some(-16.0));
        assert_eq!(instant_value(&pts[..1], true), None);
    }
}
