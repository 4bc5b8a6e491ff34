//! PromQL quantiles (see functions.rs): `histogram_quantile` over classic `le` buckets, and
//! the interpolation the `quantile` aggregation (eval/aggregate.rs) uses.

use crate::prom::eval::{Evaluator, Metric, Sample, Val, key};
use crate::prom::tsdb::label_value;

/// Parses an `le` label as Go's `strconv.ParseFloat` would (`+Inf`, `Inf`, `NaN`, ...).
fn parse_le(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

pub(super) fn histogram_quantile(
    ev: &mut Evaluator<'_>,
    node: usize,
    q: f64,
    vec: Vec<Sample>,
) -> Val {
    // Group buckets by their labels without `le`.
    let mut order: Vec<Metric> = Vec::new();
    let mut groups: crate::prom::hash::FastMap<usize, Vec<(f64, f64)>> =
        crate::prom::hash::FastMap::default();
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
    fn quantile_interpolates() {
        assert_eq!(quantile(0.5, vec![1.0, 3.0, 2.0, 4.0]), 2.5);
        assert!(quantile(0.5, vec![]).is_nan());
        assert_eq!(quantile(0.0, vec![5.0, 1.0]), 1.0);
    }
}
