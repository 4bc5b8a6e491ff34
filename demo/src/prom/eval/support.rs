//! PromQL evaluation: parsing, and the check that rejects what this evaluator does not
//! implement before eval.rs evaluates anything.

use promql_parser::parser::token::{
    T_AVG, T_BOTTOMK, T_COUNT, T_GROUP, T_MAX, T_MIN, T_QUANTILE, T_STDDEV, T_STDVAR, T_SUM,
    T_TOPK, TokenId,
};
use promql_parser::parser::{self, Expr, VectorSelector};

use super::QueryError;

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
