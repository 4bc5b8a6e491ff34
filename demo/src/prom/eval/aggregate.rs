//! PromQL evaluation: aggregation operators (sum, avg, topk, quantile, …) over instant
//! vectors, called from eval.rs; the grouping rule is shared with binary.rs' matching.

use promql_parser::parser::token::{
    T_AVG, T_BOTTOMK, T_COUNT, T_GROUP, T_MAX, T_MIN, T_QUANTILE, T_STDDEV, T_STDVAR, T_SUM,
    T_TOPK, TokenId,
};
use promql_parser::parser::{AggregateExpr, LabelModifier};

use super::{Evaluator, Metric, QueryError, Sample, Val, key, node_addr};
use crate::prom::functions;
use crate::prom::hash::FastMap;
use crate::prom::tsdb::{Labels, METRIC_NAME};

impl Evaluator<'_> {
    pub(super) fn eval_aggregate(&mut self, a: &AggregateExpr, ts: i64) -> Result<Val, QueryError> {
        let op = a.op.id();
        let param = match &a.param {
            Some(p) if op != T_QUANTILE && op != T_TOPK && op != T_BOTTOMK => {
                return Err(QueryError::bad_data(format!(
                    "unexpected parameter for {}",
                    a.op
                )));
            }
            Some(p) => Some(self.eval_scalar(p, ts)?),
            None => None,
        };
        let input = self.eval_vector(&a.expr, ts)?;
        let node = node_addr(a);
        let grouping = a.modifier.clone();
        let mut keys: Vec<Metric> = Vec::with_capacity(input.len());
        for s in &input {
            let key = self.relabel(node, 2, &s.metric, |l| group_labels(l, grouping.as_ref()));
            keys.push(key);
        }
        let out = match op {
            T_TOPK | T_BOTTOMK => {
                let k = param.unwrap_or(f64::NAN);
                if !(-9.223_372_036_854_775e18..=9.223_372_036_854_775e18).contains(&k) {
                    return Err(QueryError::execution(format!(
                        "Scalar value {} overflows int64",
                        crate::prom::format::go_g(k)
                    )));
                }
                #[allow(clippy::cast_possible_truncation)]
                let k = k as i64;
                aggregate_k(&input, &keys, k, op == T_TOPK)
            }
            T_QUANTILE => aggregate_quantile(&input, &keys, param.unwrap_or(f64::NAN)),
            _ => aggregate_simple(&input, &keys, op),
        };
        Ok(Val::Vector(out))
    }
}

/// The group of a sample: `by` keeps the listed labels, `without` drops them and the name.
pub(super) fn group_labels(l: &Labels, grouping: Option<&LabelModifier>) -> Labels {
    match grouping {
        None => Labels::new(),
        Some(LabelModifier::Include(by)) => l
            .iter()
            .filter(|(k, _)| by.labels.iter().any(|n| n == k))
            .cloned()
            .collect(),
        Some(LabelModifier::Exclude(without)) => l
            .iter()
            .filter(|(k, _)| k != METRIC_NAME && !without.labels.iter().any(|n| n == k))
            .cloned()
            .collect(),
    }
}

/// Groups in order of first appearance, as Prometheus reports them.
fn group_indices(keys: &[Metric]) -> (Vec<Metric>, Vec<usize>) {
    let mut order: Vec<Metric> = Vec::new();
    let mut idx: FastMap<usize, usize> = FastMap::default();
    let mut of = Vec::with_capacity(keys.len());
    for k in keys {
        let i = *idx.entry(key(k)).or_insert_with(|| {
            order.push(k.clone());
            order.len() - 1
        });
        of.push(i);
    }
    (order, of)
}

struct Group {
    value: f64,
    mean: f64,
    count: f64,
}

fn aggregate_simple(input: &[Sample], keys: &[Metric], op: TokenId) -> Vec<Sample> {
    let (order, of) = group_indices(keys);
    let mut groups: Vec<Option<Group>> = (0..order.len()).map(|_| None).collect();
    for (s, &gi) in input.iter().zip(&of) {
        let v = s.v;
        let Some(g) = &mut groups[gi] else {
            groups[gi] = Some(Group {
                value: match op {
                    T_COUNT | T_GROUP => 1.0,
                    T_STDDEV | T_STDVAR => 0.0,
                    _ => v,
                },
                mean: v,
                count: 1.0,
            });
            continue;
        };
        match op {
            T_SUM => g.value += v,
            T_AVG => {
                g.count += 1.0;
                if g.mean.is_infinite() {
                    // An infinite mean stays put unless a NaN or an opposite infinity
                    // arrives; subtracting it below would turn it into NaN.
                    if v.is_infinite() && (g.mean > 0.0) == (v > 0.0) {
                        continue;
                    }
                    if v.is_finite() {
                        continue;
                    }
                }
                // Dividing both terms by the count first avoids overflow.
                g.mean += v / g.count - g.mean / g.count;
            }
            T_MAX if g.value < v || g.value.is_nan() => g.value = v,
            T_MIN if g.value > v || g.value.is_nan() => g.value = v,
            T_COUNT => g.value += 1.0,
            T_STDDEV | T_STDVAR => {
                // Welford's online variance.
                g.count += 1.0;
                let delta = v - g.mean;
                g.mean += delta / g.count;
                g.value += delta * (v - g.mean);
            }
            _ => {}
        }
    }
    order
        .into_iter()
        .zip(groups)
        .filter_map(|(metric, g)| {
            let g = g?;
            let v = match op {
                T_AVG => g.mean,
                T_STDVAR => g.value / g.count,
                T_STDDEV => (g.value / g.count).sqrt(),
                _ => g.value,
            };
            Some(Sample { metric, v })
        })
        .collect()
}

fn aggregate_quantile(input: &[Sample], keys: &[Metric], q: f64) -> Vec<Sample> {
    let (order, of) = group_indices(keys);
    let mut vals: Vec<Vec<f64>> = vec![Vec::new(); order.len()];
    for (s, &gi) in input.iter().zip(&of) {
        vals[gi].push(s.v);
    }
    order
        .into_iter()
        .zip(vals)
        .map(|(metric, v)| Sample {
            metric,
            v: functions::quantile(q, v),
        })
        .collect()
}

/// A binary heap with Go's `container/heap` algorithm, so ties in `topk`/`bottomk` pick the
/// same series Prometheus picks (checked against Prometheus 2.42 with constructed ties).
struct GoHeap {
    items: Vec<Sample>,
    /// topk keeps the smallest on top (to evict it); bottomk the largest.
    top: bool,
}

impl GoHeap {
    fn less(&self, i: usize, j: usize) -> bool {
        let (a, b) = (self.items[i].v, self.items[j].v);
        if a.is_nan() {
            return true;
        }
        if self.top { a < b } else { a > b }
    }

    fn up(&mut self, mut j: usize) {
        while j > 0 {
            let i = (j - 1) / 2;
            if !self.less(j, i) {
                break;
            }
            self.items.swap(i, j);
            j = i;
        }
    }

    fn down_to(&mut self, i0: usize, n: usize) {
        let mut i = i0;
        loop {
            let j1 = 2 * i + 1;
            if j1 >= n {
                break;
            }
            let mut j = j1;
            if j1 + 1 < n && self.less(j1 + 1, j1) {
                j = j1 + 1;
            }
            if !self.less(j, i) {
                break;
            }
            self.items.swap(i, j);
            i = j;
        }
    }

    fn push(&mut self, s: Sample) {
        self.items.push(s);
        let n = self.items.len() - 1;
        self.up(n);
    }

    /// Removes the top (Go's `heap.Pop`: swap with the last, sift down, truncate).
    fn pop(&mut self) {
        let n = self.items.len() - 1;
        self.items.swap(0, n);
        self.down_to(0, n);
        self.items.truncate(n);
    }
}

fn aggregate_k(input: &[Sample], keys: &[Metric], k: i64, top: bool) -> Vec<Sample> {
    if k < 1 {
        return Vec::new();
    }
    let k = usize::try_from(k).unwrap_or(usize::MAX);
    let (order, of) = group_indices(keys);
    let mut heaps: Vec<Option<GoHeap>> = (0..order.len()).map(|_| None).collect();
    for (s, &gi) in input.iter().zip(&of) {
        let Some(h) = &mut heaps[gi] else {
            heaps[gi] = Some(GoHeap {
                items: vec![s.clone()],
                top,
            });
            continue;
        };
        if h.items.len() < k {
            h.push(s.clone());
            continue;
        }
        let head = h.items[0].v;
        let replace = if top {
            head < s.v || (head.is_nan() && !s.v.is_nan())
        } else {
            head > s.v || (head.is_nan() && !s.v.is_nan())
        };
        // Prometheus 2.x pops the top and pushes the newcomer; an in-place replacement
        // would break ties differently.
        if replace {
            h.pop();
            h.push(s.clone());
        }
    }
    let mut out = Vec::new();
    for h in heaps.into_iter().flatten() {
        let mut items = h.items;
        // Best first: largest for topk, smallest for bottomk, NaN last.
        items.sort_by(|a, b| {
            let ord = match (a.v.is_nan(), b.v.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ => a.v.partial_cmp(&b.v).unwrap_or(std::cmp::Ordering::Equal),
            };
            if top && !a.v.is_nan() && !b.v.is_nan() {
                ord.reverse()
            } else {
                ord
            }
        });
        out.extend(items);
    }
    out
}
