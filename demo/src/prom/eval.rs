//! PromQL evaluation over the demo TSDB, on `promql-parser`'s AST.
//!
//! Semantics follow Prometheus 2.x (the version the differential tests run against):
//! instant selectors look back 5 minutes for the latest sample, range selectors are closed
//! intervals `[t - range, t]`, `rate` and friends extrapolate as Prometheus does, and the
//! metric name is dropped wherever Prometheus drops it. What this subset does not cover
//! (subqueries, `@`, native histograms, most functions) is rejected with `bad_data`: a
//! dashboard must never show a number Prometheus would not have produced.
//!
//! Evaluation is step by step, as Prometheus' range evaluation is: every selector fetches its
//! series for the whole query window once, and each step slices that by binary search. Label
//! sets are interned for the query (equal sets are one `Rc`, so matching and grouping compare
//! pointers) and label rewrites are memoised per node and input, so a range query neither
//! rebuilds nor rehashes label sets at every step.
//!
//! This file holds the values, the evaluator and its dispatch; `support` parses and rejects
//! what is not implemented, `select` fetches and slices selector series, `binary` and
//! `aggregate` apply operators, and `functions` (a sibling module) the function calls.

mod aggregate;
mod binary;
mod select;
mod support;

use std::collections::hash_map::Entry;
use std::rc::Rc;

use promql_parser::parser::{Call, Expr};

use promql_parser::parser::value::ValueType;

use super::functions;
use super::hash::{FastMap, FastSet};
use super::tsdb::{Labels, METRIC_NAME, Tsdb};
pub use support::parse;

/// The value of an evaluated expression.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryValue {
    Scalar(f64),
    /// One sample per series, at the evaluation time.
    Vector(Vec<(Labels, f64)>),
    /// Samples per series over a range (timestamps in ms).
    Matrix(Vec<(Labels, Vec<(i64, f64)>)>),
    String(String),
}

/// An error in Prometheus' terms: `errorType` is `bad_data`, `execution`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub error_type: &'static str,
    pub message: String,
}

impl QueryError {
    /// A malformed or unsupported request (HTTP 400).
    #[must_use]
    pub fn bad_data(message: impl Into<String>) -> Self {
        Self {
            error_type: "bad_data",
            message: message.into(),
        }
    }

    /// A well-formed query that failed while running (HTTP 422), e.g. many-to-many matching.
    #[must_use]
    pub fn execution(message: impl Into<String>) -> Self {
        Self {
            error_type: "execution",
            message: message.into(),
        }
    }
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

impl std::error::Error for QueryError {}

/// How far back an instant selector looks for the latest sample (Prometheus' default).
pub const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// Prometheus refuses range queries with more points than this per series.
pub const MAX_POINTS: i64 = 11_000;

/// Evaluates `query` at `at_ms` (an instant query).
pub fn instant(tsdb: &Tsdb, query: &str, at_ms: i64) -> Result<QueryValue, QueryError> {
    let expr = parse(query)?;
    let mut ev = Evaluator::new(tsdb, at_ms, at_ms);
    let v = ev.eval(&expr, at_ms)?;
    Ok(match v {
        Val::Scalar(s) => QueryValue::Scalar(s),
        Val::Str(s) => QueryValue::String(s),
        Val::Vector(vec) => QueryValue::Vector(
            vec.into_iter()
                .map(|s| ((*s.metric).clone(), s.v))
                .collect(),
        ),
        Val::Matrix(m) => {
            let mut out: Vec<(Labels, Vec<(i64, f64)>)> =
                m.into_iter().map(|(l, pts)| ((*l).clone(), pts)).collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            QueryValue::Matrix(out)
        }
    })
}

/// Evaluates `query` at every step from `start_ms` to `end_ms` (a range query). The result is
/// always a matrix sorted by label set; a scalar expression gives one series without labels.
pub fn range(
    tsdb: &Tsdb,
    query: &str,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
) -> Result<QueryValue, QueryError> {
    if step_ms <= 0 {
        return Err(QueryError::bad_data(
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if end_ms < start_ms {
        return Err(QueryError::bad_data(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    if (end_ms - start_ms) / step_ms > MAX_POINTS {
        return Err(QueryError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let expr = parse(query)?;
    match expr.value_type() {
        ValueType::Scalar | ValueType::Vector => {}
        ValueType::Matrix => {
            return Err(QueryError::bad_data(
                "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector",
            ));
        }
        ValueType::String => {
            return Err(QueryError::bad_data(
                "invalid expression type \"string\" for range query, must be Scalar or instant Vector",
            ));
        }
    }
    let mut ev = Evaluator::new(tsdb, start_ms, end_ms);
    // Interned label sets: the pointer identifies the series across steps.
    let mut index: FastMap<usize, usize> = FastMap::default();
    let mut out: Vec<(Labels, Vec<(i64, f64)>)> = Vec::new();
    let mut ts = start_ms;
    while ts <= end_ms {
        let samples = match ev.eval(&expr, ts)? {
            Val::Scalar(v) => vec![Sample {
                metric: ev.intern(Labels::new()),
                v,
            }],
            Val::Vector(v) => v,
            Val::Matrix(_) | Val::Str(_) => {
                return Err(QueryError::bad_data(
                    "invalid expression type for range query, must be Scalar or instant Vector",
                ));
            }
        };
        for s in samples {
            let i = match index.entry(key(&s.metric)) {
                Entry::Occupied(o) => *o.get(),
                Entry::Vacant(v) => {
                    out.push(((*s.metric).clone(), Vec::new()));
                    *v.insert(out.len() - 1)
                }
            };
            out[i].1.push((ts, s.v));
        }
        ts += step_ms;
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(QueryValue::Matrix(out))
}

/// A label set shared between steps and nodes; interned, so equal sets are the same `Rc`.
pub(crate) type Metric = Rc<Labels>;

/// The identity of an interned label set.
pub(crate) fn key(m: &Metric) -> usize {
    Rc::as_ptr(m) as usize
}

/// One element of an instant vector.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub metric: Metric,
    pub v: f64,
}

/// Series of a range vector: label set and samples in the window.
pub(crate) type Series = (Metric, Vec<(i64, f64)>);

/// A range selector's windows at one step: (series index, start, end) into the selection.
pub(crate) struct MatrixView {
    sel: Rc<Vec<Series>>,
    parts: Vec<(usize, usize, usize)>,
}

impl MatrixView {
    pub(crate) fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Each series with samples in the window, and those samples.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Metric, &[(i64, f64)])> {
        self.parts
            .iter()
            .map(|&(i, lo, hi)| (&self.sel[i].0, &self.sel[i].1[lo..hi]))
    }

    fn to_series(&self) -> Vec<Series> {
        self.iter().map(|(m, s)| (m.clone(), s.to_vec())).collect()
    }
}

/// An intermediate value.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Scalar(f64),
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
    Str(String),
}

impl Val {
    fn type_name(&self) -> &'static str {
        match self {
            Val::Scalar(_) => "scalar",
            Val::Vector(_) => "instant vector",
            Val::Matrix(_) => "range vector",
            Val::Str(_) => "string",
        }
    }
}

/// Label-rewrite memo key: (node address, tag, input pointers).
type MemoKey = (usize, u8, usize, usize);

/// Memoised label rewrites. Inputs and outputs are interned (and kept alive by the intern
/// set), so the memo grows with the distinct label sets of the query, not with its steps.
type Memo = FastMap<MemoKey, Metric>;

pub(crate) struct Evaluator<'a> {
    tsdb: &'a Tsdb,
    start: i64,
    end: i64,
    /// Series per selector node, fetched once for the whole query window.
    selections: FastMap<usize, Rc<Vec<Series>>>,
    memo: Memo,
    interned: FastSet<Metric>,
    /// Per range-selector node: the last step's time and each series' window, so the next
    /// (later) step advances the windows instead of searching again.
    cursors: FastMap<usize, (i64, Vec<(usize, usize)>)>,
}

fn node_addr<T>(n: &T) -> usize {
    std::ptr::from_ref(n) as usize
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(tsdb: &'a Tsdb, start: i64, end: i64) -> Self {
        Self {
            tsdb,
            start,
            end,
            selections: FastMap::default(),
            memo: FastMap::default(),
            interned: FastSet::default(),
            cursors: FastMap::default(),
        }
    }

    /// The one shared `Rc` for this label set.
    pub(crate) fn intern(&mut self, l: Labels) -> Metric {
        if let Some(m) = self.interned.get(&l) {
            return m.clone();
        }
        let m = Rc::new(l);
        self.interned.insert(m.clone());
        m
    }

    /// Rewrites a label set through `f`, memoised per node and input.
    pub(crate) fn relabel(
        &mut self,
        node: usize,
        tag: u8,
        input: &Metric,
        f: impl FnOnce(&Labels) -> Labels,
    ) -> Metric {
        let k = (node, tag, key(input), 0);
        if let Some(out) = self.memo.get(&k) {
            return out.clone();
        }
        let out = self.intern(f(input));
        self.memo.insert(k, out.clone());
        out
    }

    /// Like [`Self::relabel`] for a label set computed from two inputs.
    fn relabel2(
        &mut self,
        node: usize,
        a: &Metric,
        b: &Metric,
        f: impl FnOnce(&Labels, &Labels) -> Labels,
    ) -> Metric {
        let k = (node, 0xff, key(a), key(b));
        if let Some(out) = self.memo.get(&k) {
            return out.clone();
        }
        let out = self.intern(f(a, b));
        self.memo.insert(k, out.clone());
        out
    }

    /// The metric without its name, memoised.
    pub(crate) fn drop_name(&mut self, node: usize, m: &Metric) -> Metric {
        if !m.iter().any(|(k, _)| k == METRIC_NAME) {
            return m.clone();
        }
        self.relabel(node, 1, m, |l| {
            l.iter()
                .filter(|(k, _)| k != METRIC_NAME)
                .cloned()
                .collect()
        })
    }

    pub(crate) fn eval(&mut self, e: &Expr, ts: i64) -> Result<Val, QueryError> {
        match e {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Val::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, ts),
            Expr::Unary(u) => match self.eval(&u.expr, ts)? {
                Val::Scalar(v) => Ok(Val::Scalar(-v)),
                Val::Vector(vec) => {
                    let node = node_addr(u);
                    let out: Vec<Sample> = vec
                        .into_iter()
                        .map(|s| Sample {
                            metric: self.drop_name(node, &s.metric),
                            v: -s.v,
                        })
                        .collect();
                    check_unique(&out)?;
                    Ok(Val::Vector(out))
                }
                other => Err(QueryError::bad_data(format!(
                    "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                    other.type_name()
                ))),
            },
            Expr::VectorSelector(vs) => Ok(Val::Vector(self.eval_vector_selector(vs, ts))),
            Expr::MatrixSelector(ms) => Ok(Val::Matrix(self.matrix_view(ms, ts).to_series())),
            Expr::Aggregate(a) => self.eval_aggregate(a, ts),
            Expr::Binary(b) => self.eval_binary(b, ts),
            Expr::Call(c) => self.eval_call(c, ts),
            Expr::Subquery(_) | Expr::Extension(_) => Err(QueryError::bad_data(
                "not supported by kdeck's demo Prometheus: subqueries and extensions",
            )),
        }
    }

    pub(crate) fn eval_scalar(&mut self, e: &Expr, ts: i64) -> Result<f64, QueryError> {
        match self.eval(e, ts)? {
            Val::Scalar(v) => Ok(v),
            other => Err(QueryError::bad_data(format!(
                "expected scalar, got {}",
                other.type_name()
            ))),
        }
    }

    pub(crate) fn eval_vector(&mut self, e: &Expr, ts: i64) -> Result<Vec<Sample>, QueryError> {
        match self.eval(e, ts)? {
            Val::Vector(v) => Ok(v),
            other => Err(QueryError::bad_data(format!(
                "expected instant vector, got {}",
                other.type_name()
            ))),
        }
    }

    fn eval_call(&mut self, c: &Call, ts: i64) -> Result<Val, QueryError> {
        let out = functions::call(self, node_addr(c), c, ts)?;
        if let Val::Vector(v) = &out {
            check_unique(v)?;
        }
        Ok(out)
    }
}

/// Prometheus rejects a vector holding the same label set twice (e.g. after dropping names).
fn check_unique(v: &[Sample]) -> Result<(), QueryError> {
    if v.len() < 2 {
        return Ok(());
    }
    let mut seen = FastSet::with_capacity_and_hasher(v.len(), Default::default());
    for s in v {
        if !seen.insert(key(&s.metric)) {
            return Err(QueryError::execution(
                "vector cannot contain metrics with the same labelset",
            ));
        }
    }
    Ok(())
}
