//! PromQL functions for the demo evaluator, with Prometheus 2.x semantics: `rate`'s
//! extrapolation and counter resets, `histogram_quantile`'s interpolation over classic `le`
//! buckets, the `*_over_time` family, and the simple per-sample functions.
//!
//! This file dispatches calls and holds the per-sample helpers; `range` the range-vector
//! functions, `labels` the label-rewriting ones and `quantile` the quantile arithmetic.

mod labels;
mod quantile;
mod range;

use promql_parser::parser::{Call, Expr};

use super::eval::{Evaluator, QueryError, Sample, Val};
use super::tsdb::Labels;
pub(crate) use labels::valid_label_name;
use labels::{absent, label_join, label_replace};
use quantile::histogram_quantile;
pub(crate) use quantile::quantile;
use range::{
    Kahan, avg_over_time, extrapolated_rate, instant_value, matrix_arg, over_series, over_time,
    selector_window,
};

/// Evaluates a function call at `ts`. The name was checked against the supported list.
pub(crate) fn call(
    ev: &mut Evaluator<'_>,
    node: usize,
    c: &Call,
    ts: i64,
) -> Result<Val, QueryError> {
    let args = &c.args.args;
    let name = c.func.name;
    let arg = |i: usize| -> Result<&Expr, QueryError> {
        args.get(i)
            .map(AsRef::as_ref)
            .ok_or_else(|| QueryError::bad_data(format!("missing argument {i} of {name}()")))
    };
    let v = match name {
        "time" => Val::Scalar(ts as f64 / 1000.0),
        "vector" => Val::Vector(vec![Sample {
            v: ev.eval_scalar(arg(0)?, ts)?,
            metric: ev.intern(Labels::new()),
        }]),
        "scalar" => {
            let v = ev.eval_vector(arg(0)?, ts)?;
            Val::Scalar(if v.len() == 1 { v[0].v } else { f64::NAN })
        }
        "abs" => simple(ev, node, arg(0)?, ts, f64::abs)?,
        "ceil" => simple(ev, node, arg(0)?, ts, f64::ceil)?,
        "floor" => simple(ev, node, arg(0)?, ts, f64::floor)?,
        "exp" => simple(ev, node, arg(0)?, ts, f64::exp)?,
        "sqrt" => simple(ev, node, arg(0)?, ts, f64::sqrt)?,
        "ln" => simple(ev, node, arg(0)?, ts, f64::ln)?,
        "log2" => simple(ev, node, arg(0)?, ts, f64::log2)?,
        "log10" => simple(ev, node, arg(0)?, ts, f64::log10)?,
        "sgn" => simple(ev, node, arg(0)?, ts, |v| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                // 0, -0 and NaN are returned as they are.
                v
            }
        })?,
        "round" => {
            let to_nearest = match args.get(1) {
                Some(a) => ev.eval_scalar(a, ts)?,
                None => 1.0,
            };
            // Multiplying by the inverse loses less precision than dividing.
            let inv = 1.0 / to_nearest;
            simple(ev, node, arg(0)?, ts, |v| (v * inv + 0.5).floor() / inv)?
        }
        "clamp" => {
            let vec = ev.eval_vector(arg(0)?, ts)?;
            let min = ev.eval_scalar(arg(1)?, ts)?;
            let max = ev.eval_scalar(arg(2)?, ts)?;
            if max < min {
                Val::Vector(Vec::new())
            } else {
                map_drop_name(ev, node, vec, |v| go_max(min, go_min(max, v)))
            }
        }
        "clamp_min" => {
            let vec = ev.eval_vector(arg(0)?, ts)?;
            let min = ev.eval_scalar(arg(1)?, ts)?;
            map_drop_name(ev, node, vec, |v| go_max(min, v))
        }
        "clamp_max" => {
            let vec = ev.eval_vector(arg(0)?, ts)?;
            let max = ev.eval_scalar(arg(1)?, ts)?;
            map_drop_name(ev, node, vec, |v| go_min(max, v))
        }
        "sort" | "sort_desc" => {
            let mut vec = ev.eval_vector(arg(0)?, ts)?;
            let desc = name == "sort_desc";
            // NaN sorts last either way.
            vec.sort_by(|a, b| match (a.v.is_nan(), b.v.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ if desc => b.v.total_cmp(&a.v),
                _ => a.v.total_cmp(&b.v),
            });
            Val::Vector(vec)
        }
        "absent" => {
            let present = !ev.eval_vector(arg(0)?, ts)?.is_empty();
            absent(ev, arg(0)?, present)
        }
        "absent_over_time" => {
            let present = !matrix_arg(ev, arg(0)?, ts)?.0.is_empty();
            absent(ev, arg(0)?, present)
        }
        "timestamp" => {
            // Of a selector, the time each sample was written; of anything else, the
            // evaluation time (Prometheus special-cases selectors the same way).
            let timed: Vec<(Sample, i64)> = match unwrap_parens(arg(0)?) {
                Expr::VectorSelector(vs) => ev.vector_selector_samples(vs, ts),
                other => ev
                    .eval_vector(other, ts)?
                    .into_iter()
                    .map(|s| (s, ts))
                    .collect(),
            };
            Val::Vector(
                timed
                    .into_iter()
                    .map(|(s, t)| Sample {
                        metric: ev.drop_name(node, &s.metric),
                        v: t as f64 / 1000.0,
                    })
                    .collect(),
            )
        }
        "label_replace" => label_replace(ev, node, c, ts)?,
        "label_join" => label_join(ev, node, c, ts)?,
        "histogram_quantile" => {
            let q = ev.eval_scalar(arg(0)?, ts)?;
            let vec = ev.eval_vector(arg(1)?, ts)?;
            histogram_quantile(ev, node, q, vec)
        }
        "rate" | "increase" | "delta" => {
            let (m, sel) = matrix_arg(ev, arg(0)?, ts)?;
            let (range, offset) = selector_window(sel);
            let counter = name != "delta";
            let is_rate = name == "rate";
            over_series(ev, node, m, true, |pts| {
                extrapolated_rate(
                    pts,
                    ts - offset - range,
                    ts - offset,
                    range,
                    counter,
                    is_rate,
                )
            })
        }
        "irate" | "idelta" => {
            let (m, _) = matrix_arg(ev, arg(0)?, ts)?;
            let is_rate = name == "irate";
            over_series(ev, node, m, true, |pts| instant_value(pts, is_rate))
        }
        "avg_over_time" => over_time(ev, node, arg(0)?, ts, true, avg_over_time)?,
        "sum_over_time" => over_time(ev, node, arg(0)?, ts, true, |p| {
            let mut k = Kahan::default();
            for (_, v) in p {
                k.add(*v);
            }
            Some(k.result())
        })?,
        "min_over_time" => over_time(ev, node, arg(0)?, ts, true, |p| {
            let mut m = p[0].1;
            for (_, v) in p {
                if *v < m || m.is_nan() {
                    m = *v;
                }
            }
            Some(m)
        })?,
        "max_over_time" => over_time(ev, node, arg(0)?, ts, true, |p| {
            let mut m = p[0].1;
            for (_, v) in p {
                if *v > m || m.is_nan() {
                    m = *v;
                }
            }
            Some(m)
        })?,
        "count_over_time" => over_time(ev, node, arg(0)?, ts, true, |p| Some(p.len() as f64))?,
        "present_over_time" => over_time(ev, node, arg(0)?, ts, true, |_| Some(1.0))?,
        // The one range function that keeps the metric name.
        "last_over_time" => over_time(ev, node, arg(0)?, ts, false, |p| p.last().map(|x| x.1))?,
        "changes" => over_time(ev, node, arg(0)?, ts, true, |p| {
            let mut n = 0.0;
            for w in p.windows(2) {
                let (a, b) = (w[0].1, w[1].1);
                if a != b && !(a.is_nan() && b.is_nan()) {
                    n += 1.0;
                }
            }
            Some(n)
        })?,
        "resets" => over_time(ev, node, arg(0)?, ts, true, |p| {
            Some(p.windows(2).filter(|w| w[1].1 < w[0].1).count() as f64)
        })?,
        other => {
            return Err(QueryError::bad_data(format!(
                "not supported by kdeck's demo Prometheus: the function {other}()"
            )));
        }
    };
    Ok(v)
}

/// Go's `math.Max`: NaN wins over numbers, +Inf over NaN, +0 over -0.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a == f64::INFINITY || b == f64::INFINITY {
        return f64::INFINITY;
    }
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == 0.0 && b == 0.0 {
        return if a.is_sign_negative() { b } else { a };
    }
    if a > b { a } else { b }
}

/// Go's `math.Min`: NaN wins over numbers, -Inf over NaN, -0 over +0.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY || b == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == 0.0 && b == 0.0 {
        return if a.is_sign_negative() { a } else { b };
    }
    if a < b { a } else { b }
}

fn simple(
    ev: &mut Evaluator<'_>,
    node: usize,
    arg: &Expr,
    ts: i64,
    f: impl Fn(f64) -> f64,
) -> Result<Val, QueryError> {
    let vec = ev.eval_vector(arg, ts)?;
    Ok(map_drop_name(ev, node, vec, f))
}

fn map_drop_name(
    ev: &mut Evaluator<'_>,
    node: usize,
    vec: Vec<Sample>,
    f: impl Fn(f64) -> f64,
) -> Val {
    Val::Vector(
        vec.into_iter()
            .map(|s| Sample {
                metric: ev.drop_name(node, &s.metric),
                v: f(s.v),
            })
            .collect(),
    )
}

fn unwrap_parens(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_min_max_semantics() {
        assert!(go_max(f64::NAN, 1.0).is_nan());
        assert_eq!(go_max(f64::NAN, f64::INFINITY), f64::INFINITY);
        assert!(go_max(-0.0, 0.0).is_sign_positive());
        assert!(go_min(0.0, -0.0).is_sign_negative());
        assert_eq!(go_min(f64::NAN, f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert_eq!(go_min(3.0, 2.0), 2.0);
    }
}
