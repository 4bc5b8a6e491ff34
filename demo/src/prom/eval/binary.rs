//! PromQL evaluation: binary operators (arithmetic, comparison, `and`/`or`/`unless`) between
//! scalars and instant vectors, with vector matching, called from eval.rs.

use promql_parser::parser::token::{
    T_ADD, T_ATAN2, T_DIV, T_EQLC, T_GTE, T_GTR, T_LAND, T_LOR, T_LSS, T_LTE, T_LUNLESS, T_MOD,
    T_MUL, T_NEQ, T_POW, T_SUB, TokenId,
};
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::aggregate::group_labels;
use super::{Evaluator, Metric, QueryError, Sample, Val, check_unique, key, node_addr};
use crate::prom::hash::{FastMap, FastSet};
use crate::prom::tsdb::{Labels, METRIC_NAME, label_value};

impl Evaluator<'_> {
    pub(super) fn eval_binary(&mut self, b: &BinaryExpr, ts: i64) -> Result<Val, QueryError> {
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
