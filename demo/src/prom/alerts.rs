//! Alerting-rule evaluation for `/api/v1/alerts` and `/api/v1/rules`.
//!
//! Every element of a rule's result is an alert, `pending` until it has held for the rule's
//! `for` duration, then `firing`. Prometheus evaluates rules continuously; the demo evaluates
//! them when asked, so an alert seen for the first time has its start found from history (the
//! expression re-evaluated backwards at the rule interval), and kept from then on. Active
//! alerts are also written back as `ALERTS{alertname, alertstate, ...} 1` samples, as
//! Prometheus writes them, so PromQL over `ALERTS` works after an evaluation.

use std::collections::HashMap;

use super::eval::{self, QueryValue};
use super::format;
use super::tsdb::{Labels, METRIC_NAME, label_value};
use super::{AlertRule, PromState};

/// How often Prometheus would evaluate the rules (the step for finding an alert's start).
pub const EVAL_INTERVAL_MS: i64 = 15_000;

/// How far back an alert's start is searched for.
const BACKFILL_MS: i64 = 3600 * 1000;

/// Per-rule alert state kept between requests.
#[derive(Debug, Default)]
pub struct AlertStates {
    /// Rule key (name and expression) -> alert labels -> when it became active (ms).
    active: HashMap<(String, String), HashMap<Labels, i64>>,
}

/// An alert's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    Pending,
    Firing,
}

impl AlertState {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One active alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Series labels without the name, plus the rule's labels and `alertname`; sorted.
    pub labels: Labels,
    pub annotations: Labels,
    pub state: AlertState,
    pub active_at_ms: i64,
    pub value: f64,
}

/// One rule's evaluation.
#[derive(Debug, Clone)]
pub struct RuleResult {
    pub rule: AlertRule,
    pub alerts: Vec<Alert>,
    /// The evaluation error, if the expression failed.
    pub error: Option<String>,
}

fn rule_key(r: &AlertRule) -> (String, String) {
    (r.name.clone(), r.expr.clone())
}

/// Expands the template forms alert rules commonly use: `{{ $value }}`, `{{ .Value }}`,
/// `{{ $labels.NAME }}` and `{{ .Labels.NAME }}`. Anything else is left as written.
#[must_use]
pub fn expand_template(text: &str, labels: &Labels, value: f64) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}") else {
            break;
        };
        out.push_str(&rest[..open]);
        let inner = rest[open + 2..open + close].trim();
        let inner = inner.trim_start_matches('-').trim_end_matches('-').trim();
        let expanded = if inner == "$value" || inner == ".Value" {
            Some(format::go_g(value))
        } else {
            inner
                .strip_prefix("$labels.")
                .or_else(|| inner.strip_prefix(".Labels."))
                .map(|name| label_value(labels, name).to_string())
        };
        match expanded {
            Some(s) => out.push_str(&s),
            None => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out
}

/// The result elements of an alert expression as (series labels, value).
fn elements(v: QueryValue) -> Result<Vec<(Labels, f64)>, String> {
    match v {
        QueryValue::Vector(v) => Ok(v),
        QueryValue::Scalar(s) => Ok(vec![(Labels::new(), s)]),
        _ => Err("rule result is not a vector or scalar".to_string()),
    }
}

fn alert_labels(rule: &AlertRule, series: &Labels, value: f64) -> Labels {
    let mut l: Labels = series
        .iter()
        .filter(|(k, _)| k != METRIC_NAME)
        .cloned()
        .collect();
    for (k, v) in &rule.labels {
        let v = expand_template(v, series, value);
        l.retain(|(x, _)| x != k);
        if !v.is_empty() {
            l.push((k.clone(), v));
        }
    }
    l.retain(|(k, _)| k != "alertname");
    l.push(("alertname".to_string(), rule.name.clone()));
    l.sort();
    l
}

/// When each alert in `new` started, from the expression's history: the start of the
/// unbroken run of evaluations (at [`EVAL_INTERVAL_MS`]) ending at `now_ms`.
fn backfill_starts(state: &PromState, rule: &AlertRule, now_ms: i64) -> HashMap<Labels, i64> {
    let mut out = HashMap::new();
    // Prometheus only knows what it evaluated since it started: history begins with the
    // first sample stored (so a constant expression is not "active for an hour" at once).
    let Some(first) = state.tsdb.first_time() else {
        return out;
    };
    let span = (now_ms - first.max(now_ms - BACKFILL_MS)).max(0);
    // Steps end exactly at `now_ms`.
    let start = now_ms - span / EVAL_INTERVAL_MS * EVAL_INTERVAL_MS;
    let Ok(QueryValue::Matrix(m)) =
        eval::range(&state.tsdb, &rule.expr, start, now_ms, EVAL_INTERVAL_MS)
    else {
        return out;
    };
    for (series, pts) in m {
        let Some(&(last_t, last_v)) = pts.last() else {
            continue;
        };
        if last_t != now_ms {
            continue;
        }
        let mut first = last_t;
        for w in pts.windows(2).rev() {
            if w[1].0 - w[0].0 != EVAL_INTERVAL_MS {
                break;
            }
            first = w[0].0;
        }
        out.insert(alert_labels(rule, &series, last_v), first);
    }
    out
}

/// Evaluates every rule at `now_ms`, updating the kept alert state.
pub fn evaluate(state: &PromState, now_ms: i64) -> Vec<RuleResult> {
    let rules: Vec<AlertRule> = state
        .rules
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let mut states = state
        .alert_states
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Forget rules that were removed.
    let keys: Vec<(String, String)> = rules.iter().map(rule_key).collect();
    states.active.retain(|k, _| keys.contains(k));

    let mut results = Vec::with_capacity(rules.len());
    for rule in rules {
        let key = rule_key(&rule);
        let elems = eval::instant(&state.tsdb, &rule.expr, now_ms)
            .map_err(|e| e.message)
            .and_then(elements);
        let elems = match elems {
            Ok(e) => e,
            Err(error) => {
                results.push(RuleResult {
                    rule,
                    alerts: Vec::new(),
                    error: Some(error),
                });
                continue;
            }
        };
        let previous = states.active.remove(&key).unwrap_or_default();
        let mut current: HashMap<Labels, i64> = HashMap::new();
        let mut alerts = Vec::new();
        let mut history: Option<HashMap<Labels, i64>> = None;
        for (series, value) in elems {
            let labels = alert_labels(&rule, &series, value);
            let active_at = match previous.get(&labels) {
                Some(t) => *t,
                None => *history
                    .get_or_insert_with(|| backfill_starts(state, &rule, now_ms))
                    .get(&labels)
                    .unwrap_or(&now_ms),
            };
            current.insert(labels.clone(), active_at);
            let for_ms = i64::try_from(rule.for_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
            let alert_state = if now_ms - active_at >= for_ms {
                AlertState::Firing
            } else {
                AlertState::Pending
            };
            let mut annotations: Labels = rule
                .annotations
                .iter()
                .map(|(k, v)| (k.clone(), expand_template(v, &series, value)))
                .collect();
            annotations.sort();
            alerts.push(Alert {
                labels,
                annotations,
                state: alert_state,
                active_at_ms: active_at,
                value,
            });
        }
        alerts.sort_by(|a, b| a.labels.cmp(&b.labels));
        // As Prometheus does, record each active alert as an `ALERTS` series.
        for a in &alerts {
            let mut l = a.labels.clone();
            l.push((METRIC_NAME.to_string(), "ALERTS".to_string()));
            l.push(("alertstate".to_string(), a.state.as_str().to_string()));
            l.sort();
            state.tsdb.append(l, now_ms, 1.0);
        }
        states.active.insert(key, current);
        results.push(RuleResult {
            rule,
            alerts,
            error: None,
        });
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prom::tsdb::labels;

    fn rule(expr: &str, for_secs: u64) -> AlertRule {
        AlertRule {
            name: "HighErrors".into(),
            expr: expr.into(),
            for_secs,
            labels: vec![("severity".into(), "page".into())],
            annotations: vec![("summary".into(), "{{ $labels.svc }} at {{ $value }}".into())],
        }
    }

    #[test]
    fn pending_then_firing_with_backfilled_start() {
        let st = PromState::new(std::time::Duration::from_secs(3600 * 6));
        let t0 = 1_700_000_000_000;
        for i in 0..400 {
            let v = if i >= 100 { 5.0 } else { 0.0 };
            st.tsdb
                .append(labels("errors", &[("svc", "a")]), t0 + i * 5000, v);
        }
        *st.rules.write().unwrap() = vec![rule("errors > 1", 600)];
        // The condition holds from t0+500s; at t0+900s it has held 400s: pending.
        let r = evaluate(&st, t0 + 900_000);
        assert_eq!(r.len(), 1);
        let a = &r[0].alerts;
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].state, AlertState::Pending);
        assert_eq!(a[0].active_at_ms, t0 + 500_000 + 10_000);
        assert_eq!(
            a[0].labels,
            vec![
                ("alertname".to_string(), "HighErrors".to_string()),
                ("severity".to_string(), "page".to_string()),
                ("svc".to_string(), "a".to_string()),
            ]
        );
        assert_eq!(a[0].annotations[0].1, "a at 5");
        // Later the same alert keeps its start and fires.
        let r = evaluate(&st, t0 + 1_995_000);
        assert_eq!(r[0].alerts[0].state, AlertState::Firing);
        assert_eq!(r[0].alerts[0].active_at_ms, t0 + 510_000);
        // Both evaluations left `ALERTS` samples behind.
        let q = |q: &str| match eval::instant(&st.tsdb, q, t0 + 1_995_000) {
            Ok(QueryValue::Vector(v)) => v.len(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            q("ALERTS{alertname=\"HighErrors\", alertstate=\"firing\"}"),
            1
        );
        assert_eq!(q("ALERTS{alertstate=\"pending\"}"), 0);
    }

    #[test]
    fn broken_rule_reports_error() {
        let st = PromState::new(std::time::Duration::from_secs(3600));
        *st.rules.write().unwrap() = vec![rule("rate(", 0)];
        let r = evaluate(&st, 1000);
        assert!(r[0].error.is_some());
    }

    #[test]
    fn templates() {
        let l = labels("x", &[("pod", "p1")]);
        assert_eq!(
            expand_template(
                "{{$labels.pod}} {{ .Value }} {{ humanize $value }}",
                &l,
                0.5
            ),
            "p1 0.5 {{ humanize $value }}"
        );
    }
}
