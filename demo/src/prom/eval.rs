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

use std::collections::hash_map::Entry;
use std::rc::Rc;

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::token::{
    T_ADD, T_ATAN2, T_AVG, T_BOTTOMK, T_COUNT, T_DIV, T_EQLC, T_GROUP, T_GTE, T_GTR, T_LAND, T_LOR,
    T_LSS, T_LTE, T_LUNLESS, T_MAX, T_MIN, T_MOD, T_MUL, T_NEQ, T_POW, T_QUANTILE, T_STDDEV,
    T_STDVAR, T_SUB, T_SUM, T_TOPK, TokenId,
};
use promql_parser::parser::{
    self, AggregateExpr, BinaryExpr, Call, Expr, LabelModifier, MatrixSelector, Offset,
    VectorMatchCardinality, VectorSelector,
};

use promql_parser::parser::value::ValueType;

use super::functions;
use super::hash::{FastMap, FastSet};
use super::tsdb::{Labels, METRIC_NAME, Tsdb, is_stale_marker, label_value};

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

/// Functions this evaluator implements; anything else is rejected before evaluation.
const SUPPORTED_FUNCTIONS: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "count_over_time",
    "delta",
    "exp",
    "floor",
    "histogram_quantile",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "max_over_time",
    "min_over_time",
    "present_over_time",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sort",
    "sort_desc",
    "sqrt",
    "sum_over_time",
    "time",
    "timestamp",
    "vector",
];

const SUPPORTED_AGGREGATIONS: &[TokenId] = &[
    T_SUM, T_AVG, T_MIN, T_MAX, T_COUNT, T_GROUP, T_STDDEV, T_STDVAR, T_TOPK, T_BOTTOMK, T_QUANTILE,
];

/// Parses `query` and checks that every construct in it is one this evaluator implements.
pub fn parse(query: &str) -> Result<Expr, QueryError> {
    let expr = parser::parse(query)
        .map_err(|e| QueryError::bad_data(format!("invalid parameter \"query\": {e}")))?;
    check_supported(&expr).map_err(|what| {
        QueryError::bad_data(format!(
            "invalid parameter \"query\": not supported by kdeck's demo Prometheus: {what}"
        ))
    })?;
    Ok(expr)
}

fn check_selector(vs: &VectorSelector) -> Result<(), String> {
    if vs.at.is_some() {
        return Err("the @ modifier".into());
    }
    if !vs.matchers.or_matchers.is_empty() {
        return Err("`or` inside label matchers".into());
    }
    Ok(())
}

fn check_supported(e: &Expr) -> Result<(), String> {
    match e {
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => Ok(()),
        Expr::VectorSelector(vs) => check_selector(vs),
        Expr::MatrixSelector(ms) => check_selector(&ms.vs),
        Expr::Paren(p) => check_supported(&p.expr),
        Expr::Unary(u) => check_supported(&u.expr),
        Expr::Subquery(_) => Err("subqueries".into()),
        Expr::Extension(_) => Err("extension expressions".into()),
        Expr::Aggregate(a) => {
            if !SUPPORTED_AGGREGATIONS.contains(&a.op.id()) {
                return Err(format!("the {} aggregation", a.op));
            }
            if let Some(p) = &a.param {
                check_supported(p)?;
            }
            check_supported(&a.expr)
        }
        Expr::Binary(b) => {
            if let Some(m) = &b.modifier
                && (m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some())
            {
                return Err("fill modifiers".into());
            }
            check_supported(&b.lhs)?;
            check_supported(&b.rhs)
        }
        Expr::Call(c) => {
            if !SUPPORTED_FUNCTIONS.contains(&c.func.name) {
                return Err(format!("the function {}()", c.func.name));
            }
            c.args.args.iter().try_for_each(|a| check_supported(a))
        }
    }
}

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

    fn eval_vector_selector(&mut self, vs: &VectorSelector, ts: i64) -> Vec<Sample> {
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

    // ----- aggregation -----

    fn eval_aggregate(&mut self, a: &AggregateExpr, ts: i64) -> Result<Val, QueryError> {
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
                        super::format::go_g(k)
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

    // ----- binary operators -----

    fn eval_binary(&mut self, b: &BinaryExpr, ts: i64) -> Result<Val, QueryError> {
        let op = b.op.id();
        let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
        let lhs = self.eval(&b.lhs, ts)?;
        let rhs = self.eval(&b.rhs, ts)?;
        let node = node_addr(b);
        let out = match (lhs, rhs) {
            (Val::Scalar(l), Val::Scalar(r)) => {
                let (v, keep) = elem_binop(op, l, r);
                return Ok(Val::Scalar(if is_comparison(op) {
                    if keep { 1.0 } else { 0.0 }
                } else {
                    v
                }));
            }
            (Val::Vector(l), Val::Scalar(r)) => {
                self.vector_scalar(node, op, l, r, false, return_bool)
            }
            (Val::Scalar(l), Val::Vector(r)) => {
                self.vector_scalar(node, op, r, l, true, return_bool)
            }
            (Val::Vector(l), Val::Vector(r)) => match op {
                T_LAND => self.set_op(node, b, l, r, SetOp::And),
                T_LOR => self.set_op(node, b, l, r, SetOp::Or),
                T_LUNLESS => self.set_op(node, b, l, r, SetOp::Unless),
                _ => self.vector_vector(node, b, l, r, return_bool)?,
            },
            (l, r) => {
                return Err(QueryError::bad_data(format!(
                    "binary expression must contain only scalar and instant vector types, got {} and {}",
                    l.type_name(),
                    r.type_name()
                )));
            }
        };
        check_unique(&out)?;
        Ok(Val::Vector(out))
    }

    fn vector_scalar(
        &mut self,
        node: usize,
        op: TokenId,
        vec: Vec<Sample>,
        scalar: f64,
        swap: bool,
        return_bool: bool,
    ) -> Vec<Sample> {
        let mut out = Vec::with_capacity(vec.len());
        for s in vec {
            let (l, r) = if swap { (scalar, s.v) } else { (s.v, scalar) };
            let (mut v, mut keep) = elem_binop(op, l, r);
            // A comparison keeps the vector's value even when the vector is on the right.
            if is_comparison(op) && swap {
                v = r;
            }
            if return_bool {
                v = if keep { 1.0 } else { 0.0 };
                keep = true;
            }
            if keep {
                let metric = if is_arithmetic(op) || return_bool {
                    self.drop_name(node, &s.metric)
                } else {
                    s.metric
                };
                out.push(Sample { metric, v });
            }
        }
        out
    }

    fn set_op(
        &mut self,
        node: usize,
        b: &BinaryExpr,
        lhs: Vec<Sample>,
        rhs: Vec<Sample>,
        op: SetOp,
    ) -> Vec<Sample> {
        let matching = b.modifier.as_ref().and_then(|m| m.matching.clone());
        let mut rsigs = FastSet::default();
        for s in &rhs {
            rsigs.insert(key(&self.signature(node, 4, &s.metric, matching.as_ref())));
        }
        match op {
            SetOp::And | SetOp::Unless => {
                let want = matches!(op, SetOp::And);
                let mut out = Vec::new();
                for s in lhs {
                    let sig = key(&self.signature(node, 3, &s.metric, matching.as_ref()));
                    if rsigs.contains(&sig) == want {
                        out.push(s);
                    }
                }
                out
            }
            SetOp::Or => {
                let mut lsigs = FastSet::default();
                for s in &lhs {
                    lsigs.insert(key(&self.signature(node, 3, &s.metric, matching.as_ref())));
                }
                let mut out = lhs;
                for s in rhs {
                    let sig = key(&self.signature(node, 4, &s.metric, matching.as_ref()));
                    if !lsigs.contains(&sig) {
                        out.push(s);
                    }
                }
                out
            }
        }
    }

    /// The labels two sides are matched on: the `on` labels, or all but the `ignoring` ones
    /// and the metric name.
    fn signature(
        &mut self,
        node: usize,
        tag: u8,
        m: &Metric,
        matching: Option<&LabelModifier>,
    ) -> Metric {
        self.relabel(node, tag, m, |l| match matching {
            // `on`/`ignoring` select labels exactly as `by`/`without` group them.
            Some(_) => group_labels(l, matching),
            None => l
                .iter()
                .filter(|(k, _)| k != METRIC_NAME)
                .cloned()
                .collect(),
        })
    }

    fn vector_vector(
        &mut self,
        node: usize,
        b: &BinaryExpr,
        lhs: Vec<Sample>,
        rhs: Vec<Sample>,
        return_bool: bool,
    ) -> Result<Vec<Sample>, QueryError> {
        let op = b.op.id();
        // Nothing can match, and Prometheus does not check the sides for duplicates then.
        if lhs.is_empty() || rhs.is_empty() {
            return Ok(Vec::new());
        }
        let (card, matching) = match &b.modifier {
            Some(m) => (m.card.clone(), m.matching.clone()),
            None => (VectorMatchCardinality::OneToOne, None),
        };
        let include: Vec<String> = match &card {
            VectorMatchCardinality::ManyToOne(ls) | VectorMatchCardinality::OneToMany(ls) => {
                ls.labels.clone()
            }
            _ => Vec::new(),
        };
        let one_to_many = matches!(card, VectorMatchCardinality::OneToMany(_));
        let one_to_one = !matches!(
            card,
            VectorMatchCardinality::ManyToOne(_) | VectorMatchCardinality::OneToMany(_)
        );
        // The "one" side goes right; values are swapped back for the operation.
        let (many, one, many_tag, one_tag) = if one_to_many {
            (rhs, lhs, 4, 3)
        } else {
            (lhs, rhs, 3, 4)
        };
        let mut one_sigs: FastMap<usize, Sample> =
            FastMap::with_capacity_and_hasher(one.len(), Default::default());
        for s in one {
            let sig = self.signature(node, one_tag, &s.metric, matching.as_ref());
            if let Some(dup) = one_sigs.get(&key(&sig)) {
                let side = if one_to_many { "left" } else { "right" };
                return Err(QueryError::execution(format!(
                    "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    format_labels(&sig),
                    format_labels(&s.metric),
                    format_labels(&dup.metric)
                )));
            }
            one_sigs.insert(key(&sig), s);
        }
        let mut matched: FastMap<usize, FastSet<usize>> = FastMap::default();
        let mut out = Vec::new();
        for ls in many {
            let sig = key(&self.signature(node, many_tag, &ls.metric, matching.as_ref()));
            let Some(rs) = one_sigs.get(&sig) else {
                continue;
            };
            let (vl, vr) = if one_to_many {
                (rs.v, ls.v)
            } else {
                (ls.v, rs.v)
            };
            let (mut v, keep) = elem_binop(op, vl, vr);
            if return_bool {
                v = if keep { 1.0 } else { 0.0 };
            } else if !keep {
                continue;
            }
            let drop = is_arithmetic(op);
            let on = matching.clone();
            let inc = include.clone();
            let mut metric = self.relabel2(node, &ls.metric, &rs.metric, |l, r| {
                result_labels(l, r, drop, one_to_one, on.as_ref(), &inc)
            });
            if return_bool {
                metric = self.drop_name(node, &metric);
            }
            let set = matched.entry(sig).or_default();
            if one_to_one {
                if !set.is_empty() {
                    return Err(QueryError::execution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    ));
                }
                set.insert(key(&metric));
            } else if !set.insert(key(&metric)) {
                return Err(QueryError::execution(
                    "multiple matches for labels: grouping labels must ensure unique matches",
                ));
            }
            out.push(Sample { metric, v });
        }
        Ok(out)
    }
}

#[derive(Clone, Copy)]
enum SetOp {
    And,
    Or,
    Unless,
}

/// Prometheus' label-set notation, for error messages: `{a="b", c="d"}`.
pub(crate) fn format_labels(l: &[(String, String)]) -> String {
    let inner: Vec<String> = l
        .iter()
        .map(|(k, v)| format!("{k}={}", serde_json::Value::String(v.clone())))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

/// The output labels of a vector/vector operation (Prometheus' `resultMetric`).
fn result_labels(
    lhs: &Labels,
    rhs: &Labels,
    drop_name: bool,
    one_to_one: bool,
    matching: Option<&LabelModifier>,
    include: &[String],
) -> Labels {
    let mut out: Labels = lhs
        .iter()
        .filter(|(k, _)| !(drop_name && k == METRIC_NAME))
        .filter(|(k, _)| {
            if !one_to_one {
                return true;
            }
            match matching {
                Some(LabelModifier::Include(on)) => on.labels.iter().any(|n| n == k),
                Some(LabelModifier::Exclude(ign)) => !ign.labels.iter().any(|n| n == k),
                None => true,
            }
        })
        .cloned()
        .collect();
    for name in include {
        out.retain(|(k, _)| k != name);
        let v = label_value(rhs, name);
        if !v.is_empty() {
            out.push((name.clone(), v.to_string()));
        }
    }
    out.sort();
    out
}

fn is_comparison(op: TokenId) -> bool {
    matches!(op, T_EQLC | T_NEQ | T_GTR | T_LSS | T_GTE | T_LTE)
}

fn is_arithmetic(op: TokenId) -> bool {
    matches!(op, T_ADD | T_SUB | T_MUL | T_DIV | T_MOD | T_POW | T_ATAN2)
}

/// Applies a binary operator to two values: (result, keep). Comparisons return the left value
/// and whether the comparison holds.
fn elem_binop(op: TokenId, l: f64, r: f64) -> (f64, bool) {
    match op {
        T_ADD => (l + r, true),
        T_SUB => (l - r, true),
        T_MUL => (l * r, true),
        T_DIV => (l / r, true),
        // Rust's `%` on floats is C's fmod, as Go's math.Mod: the sign follows the dividend.
        T_MOD => (l % r, true),
        T_POW => (l.powf(r), true),
        T_ATAN2 => (l.atan2(r), true),
        T_EQLC => (l, l == r),
        T_NEQ => (l, l != r),
        T_GTR => (l, l > r),
        T_LSS => (l, l < r),
        T_GTE => (l, l >= r),
        T_LTE => (l, l <= r),
        _ => (f64::NAN, false),
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

/// The group of a sample: `by` keeps the listed labels, `without` drops them and the name.
fn group_labels(l: &Labels, grouping: Option<&LabelModifier>) -> Labels {
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
