//! PromQL functions for the demo evaluator, with Prometheus 2.x semantics: `rate`'s
//! extrapolation and counter resets, `histogram_quantile`'s interpolation over classic `le`
//! buckets, the `*_over_time` family, and the simple per-sample functions.

use promql_parser::parser::{Call, Expr, MatrixSelector};
use regex::Regex;

use super::eval::{Evaluator, MatrixView, Metric, QueryError, Sample, Val, key};
use super::tsdb::{Labels, METRIC_NAME, label_value};

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

/// Neumaier-compensated summation, as Prometheus uses for `sum_over_time`.
#[derive(Default)]
struct Kahan {
    sum: f64,
    c: f64,
}

impl Kahan {
    fn add(&mut self, inc: f64) {
        let t = self.sum + inc;
        if self.sum.abs() >= inc.abs() {
            self.c += (self.sum - t) + inc;
        } else {
            self.c += (inc - t) + self.sum;
        }
        self.sum = t;
    }

    fn result(&self) -> f64 {
        if self.sum.is_infinite() {
            self.sum
        } else {
            self.sum + self.c
        }
    }
}

fn avg_over_time(p: &[(i64, f64)]) -> Option<f64> {
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

/// A range-vector argument: must be a range selector (subqueries are not supported).
fn matrix_arg<'e>(
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
fn selector_window(ms: &MatrixSelector) -> (i64, i64) {
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
fn over_series(
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

fn over_time(
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
fn extrapolated_rate(
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
fn instant_value(pts: &[(i64, f64)], is_rate: bool) -> Option<f64> {
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

/// Labels for `absent()`: the selector's equality matchers (a label matched more than once,
/// or not by equality, is left out).
/// What `absent` and `absent_over_time` return: nothing when the argument has samples, else
/// one sample of 1 labelled from its equality matchers.
fn absent(ev: &mut Evaluator<'_>, arg: &Expr, present: bool) -> Val {
    if present {
        Val::Vector(Vec::new())
    } else {
        Val::Vector(vec![Sample {
            metric: ev.intern(absent_labels(arg)),
            v: 1.0,
        }])
    }
}

fn absent_labels(arg: &Expr) -> Labels {
    let matchers = match arg {
        Expr::VectorSelector(vs) => &vs.matchers.matchers,
        Expr::MatrixSelector(ms) => &ms.vs.matchers.matchers,
        _ => return Labels::new(),
    };
    let mut out: Labels = Vec::new();
    let mut excluded: Vec<&str> = Vec::new();
    for m in matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        let is_eq = matches!(m.op, promql_parser::label::MatchOp::Equal);
        if is_eq && !out.iter().any(|(k, _)| *k == m.name) {
            out.push((m.name.clone(), m.value.clone()));
        } else {
            excluded.push(&m.name);
        }
    }
    out.retain(|(k, _)| !excluded.contains(&k.as_str()));
    out.sort();
    out
}

fn string_arg(e: &Expr) -> Result<String, QueryError> {
    match unwrap_parens(e) {
        Expr::StringLiteral(s) => Ok(s.val.clone()),
        _ => Err(QueryError::bad_data("expected a string literal argument")),
    }
}

/// Prometheus' label-name syntax.
pub(crate) fn valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn set_label(l: &Labels, name: &str, value: &str) -> Labels {
    let mut out: Labels = l.iter().filter(|(k, _)| k != name).cloned().collect();
    if !value.is_empty() {
        out.push((name.to_string(), value.to_string()));
        out.sort();
    }
    out
}

fn label_replace(
    ev: &mut Evaluator<'_>,
    node: usize,
    c: &Call,
    ts: i64,
) -> Result<Val, QueryError> {
    let a = &c.args.args;
    if a.len() != 5 {
        return Err(QueryError::bad_data("label_replace() takes 5 arguments"));
    }
    let vec = ev.eval_vector(&a[0], ts)?;
    let dst = string_arg(&a[1])?;
    let repl = string_arg(&a[2])?;
    let src = string_arg(&a[3])?;
    let re_src = string_arg(&a[4])?;
    // Fully anchored, as in Prometheus.
    let re = Regex::new(&format!("^(?:{re_src})$")).map_err(|_| {
        QueryError::execution(format!(
            "invalid regular expression in label_replace(): {re_src}"
        ))
    })?;
    if !valid_label_name(&dst) {
        return Err(QueryError::execution(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let out = vec
        .into_iter()
        .map(|s| {
            let metric = ev.relabel(node, 5, &s.metric, |l| {
                let src_val = label_value(l, &src);
                match re.captures(src_val) {
                    None => l.clone(),
                    Some(caps) => {
                        let mut res = String::new();
                        caps.expand(&repl, &mut res);
                        set_label(l, &dst, &res)
                    }
                }
            });
            Sample { metric, v: s.v }
        })
        .collect();
    Ok(Val::Vector(out))
}

fn label_join(ev: &mut Evaluator<'_>, node: usize, c: &Call, ts: i64) -> Result<Val, QueryError> {
    let a = &c.args.args;
    if a.len() < 3 {
        return Err(QueryError::bad_data(
            "label_join() takes at least 3 arguments",
        ));
    }
    let vec = ev.eval_vector(&a[0], ts)?;
    let dst = string_arg(&a[1])?;
    let sep = string_arg(&a[2])?;
    let srcs: Vec<String> = a[3..]
        .iter()
        .map(|e| string_arg(e))
        .collect::<Result<_, _>>()?;
    for s in &srcs {
        if !valid_label_name(s) {
            return Err(QueryError::execution(format!(
                "invalid source label name in label_join(): {s}"
            )));
        }
    }
    if !valid_label_name(&dst) {
        return Err(QueryError::execution(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    let out = vec
        .into_iter()
        .map(|s| {
            let metric = ev.relabel(node, 6, &s.metric, |l| {
                let joined: Vec<&str> = srcs.iter().map(|n| label_value(l, n)).collect();
                set_label(l, &dst, &joined.join(&sep))
            });
            Sample { metric, v: s.v }
        })
        .collect();
    Ok(Val::Vector(out))
}

/// Parses an `le` label as Go's `strconv.ParseFloat` would (`+Inf`, `Inf`, `NaN`, ...).
fn parse_le(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

fn histogram_quantile(ev: &mut Evaluator<'_>, node: usize, q: f64, vec: Vec<Sample>) -> Val {
    // Group buckets by their labels without `le`.
    let mut order: Vec<Metric> = Vec::new();
    let mut groups: super::hash::FastMap<usize, Vec<(f64, f64)>> = super::hash::FastMap::default();
    for s in vec {
        let Some(upper) = parse_le(label_value(&s.metric, "le")) else {
            continue;
        };
        let group = ev.relabel(node, 7, &s.metric, |l| {
            l.iter().filter(|(k, _)| k != "le").cloned().collect()
        });
        groups
            .entry(key(&group))
            .or_insert_with(|| {
                order.push(group);
                Vec::new()
            })
            .push((upper, s.v));
    }
    let mut out = Vec::with_capacity(order.len());
    for group in order {
        let Some(buckets) = groups.remove(&key(&group)) else {
            continue;
        };
        let metric = ev.drop_name(node, &group);
        out.push(Sample {
            metric,
            v: bucket_quantile(q, buckets),
        });
    }
    Val::Vector(out)
}

/// The quantile `q` from cumulative (upper bound, count) buckets, interpolating linearly
/// inside the bucket that holds the rank (Prometheus 2.x `bucketQuantile`).
pub(crate) fn bucket_quantile(q: f64, mut buckets: Vec<(f64, f64)>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    // Buckets with the same bound (e.g. `le="1"` and `le="1.0"`) are added together.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for (ub, c) in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == ub => last.1 += c,
            _ => merged.push((ub, c)),
        }
    }
    // Counts must not decrease (they can, from scrape races); flatten dips.
    let mut max = f64::NEG_INFINITY;
    for b in &mut merged {
        if b.1 > max {
            max = b.1;
        } else if b.1 < max {
            b.1 = max;
        }
    }
    let b = merged;
    if b.len() < 2 {
        return f64::NAN;
    }
    let observations = b[b.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let idx = b[..b.len() - 1].partition_point(|x| x.1 < rank);
    if idx == b.len() - 1 {
        return b[b.len() - 2].0;
    }
    if idx == 0 && b[0].0 <= 0.0 {
        return b[0].0;
    }
    let mut start = 0.0;
    let end = b[idx].0;
    let mut count = b[idx].1;
    if idx > 0 {
        start = b[idx - 1].0;
        count -= b[idx - 1].1;
        rank -= b[idx - 1].1;
    }
    start + (end - start) * (rank / count)
}

/// The `quantile` aggregation: linear interpolation between the closest ranks.
pub(crate) fn quantile(q: f64, mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    // NaN sorts first, as in Prometheus.
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.total_cmp(b),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (li, ui) = (lower as usize, upper as usize);
    values[li] * (1.0 - weight) + values[ui] * weight
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_quantile_edge_cases() {
        let inf = f64::INFINITY;
        // Interpolates inside the bucket holding the rank.
        let b = vec![(0.1, 50.0), (0.5, 90.0), (1.0, 100.0), (inf, 100.0)];
        assert!((bucket_quantile(0.5, b.clone()) - 0.1).abs() < 1e-12);
        assert!((bucket_quantile(0.7, b.clone()) - 0.3).abs() < 1e-12);
        assert!((bucket_quantile(0.95, b.clone()) - 0.75).abs() < 1e-12);
        // Rank in the +Inf bucket: the highest finite bound.
        let b2 = vec![(1.0, 10.0), (inf, 20.0)];
        assert_eq!(bucket_quantile(0.99, b2), 1.0);
        // No +Inf bucket, no observations, fewer than two buckets: NaN.
        assert!(bucket_quantile(0.5, vec![(1.0, 5.0)]).is_nan());
        assert!(bucket_quantile(0.5, vec![(1.0, 0.0), (inf, 0.0)]).is_nan());
        assert!(bucket_quantile(0.5, vec![(inf, 5.0)]).is_nan());
        // q outside [0, 1].
        assert_eq!(bucket_quantile(-1.0, b.clone()), f64::NEG_INFINITY);
        assert_eq!(bucket_quantile(2.0, b.clone()), f64::INFINITY);
        assert!(bucket_quantile(f64::NAN, b).is_nan());
        // Lowest bucket with a non-positive bound is returned as is.
        assert_eq!(bucket_quantile(0.1, vec![(-1.0, 5.0), (inf, 10.0)]), -1.0);
        // Non-monotonic counts are flattened; unsorted input is sorted.
        let b3 = vec![(inf, 10.0), (2.0, 4.0), (1.0, 6.0)];
        assert!((bucket_quantile(0.5, b3) - 1.0 / 6.0 * 5.0).abs() < 1e-12);
        // Duplicate bounds are merged.
        let b4 = vec![(1.0, 2.0), (1.0, 2.0), (inf, 8.0)];
        assert!((bucket_quantile(0.25, b4) - 0.5).abs() < 1e-12);
    }

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

    #[test]
    fn go_min_max_semantics() {
        assert!(go_max(f64::NAN, 1.0).is_nan());
        assert_eq!(go_max(f64::NAN, f64::INFINITY), f64::INFINITY);
        assert!(go_max(-0.0, 0.0).is_sign_positive());
        assert!(go_min(0.0, -0.0).is_sign_negative());
        assert_eq!(go_min(f64::NAN, f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert_eq!(go_min(3.0, 2.0), 2.0);
    }

    #[test]
    fn quantile_interpolates() {
        assert_eq!(quantile(0.5, vec![1.0, 3.0, 2.0, 4.0]), 2.5);
        assert!(quantile(0.5, vec![]).is_nan());
        assert_eq!(quantile(0.0, vec![5.0, 1.0]), 1.0);
    }
}
