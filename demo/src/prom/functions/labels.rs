//! PromQL functions that build or rewrite label sets (see functions.rs): `absent`,
//! `label_replace` and `label_join`, with Prometheus' label-name validation.

use promql_parser::parser::{Call, Expr};
use regex::Regex;

use super::unwrap_parens;
use crate::prom::eval::{Evaluator, QueryError, Sample, Val};
use crate::prom::tsdb::{Labels, METRIC_NAME, label_value};

/// Labels for `absent()`: the selector's equality matchers (a label matched more than once,
/// or not by equality, is left out).
/// What `absent` and `absent_over_time` return: nothing when the argument has samples, else
/// one sample of 1 labelled from its equality matchers.
pub(super) fn absent(ev: &mut Evaluator<'_>, arg: &Expr, present: bool) -> Val {
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

pub(super) fn label_replace(
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

pub(super) fn label_join(
    ev: &mut Evaluator<'_>,
    node: usize,
    c: &Call,
    ts: i64,
) -> Result<Val, QueryError> {
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
