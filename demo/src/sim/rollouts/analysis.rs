//! The AnalysisRun controller: takes measurements of each metric on its interval by running
//! the Prometheus query (arguments substituted) against this cluster's own TSDB, judges them
//! with `successCondition`/`failureCondition`, and keeps the counts, metric phases, run phase,
//! message and `runSummary` as Argo Rollouts' analysis controller writes them.
//!
//! Queries go through [`QueryEngine`]; production uses [`PromqlEngine`], i.e.
//! `crate::prom::eval::instant`, so a measurement is exactly the number kdeck charts.
//! An evaluator error becomes an Error measurement, never a made-up value.
//!
//! This file holds the queries, the measurement loop and the run's bookkeeping; `assess`
//! turns the measurements into metric and run phases.

mod assess;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::expr::{self, ExprValue};
use super::util::{self, PreciseTimes};
use crate::ClusterState;
use crate::prom::eval::{self, QueryError, QueryValue};
use crate::prom::format::go_f;
use crate::prom::tsdb::Tsdb;
use crate::sim::Pace;
use crate::sim::fields;
use assess::{assess_run, finish, is_terminating};

/// Measurements kept per metric (Argo's `DefaultMeasurementHistoryLimit`).
const MEASUREMENT_HISTORY_LIMIT: usize = 10;
/// Retry delay after an Error measurement (Argo's `DefaultErrorRetryInterval`), simulated.
const ERROR_RETRY_SECS: f64 = 10.0;

/// Runs an instant query; the seam that lets tests run the controller without the PromQL
/// engine.
pub trait QueryEngine: Send + Sync {
    fn instant(&self, tsdb: &Tsdb, query: &str, at_ms: i64) -> Result<QueryValue, QueryError>;
}

/// The real engine: the demo Prometheus' PromQL evaluator.
#[derive(Debug, Clone, Copy, Default)]
pub struct PromqlEngine;

impl QueryEngine for PromqlEngine {
    fn instant(&self, tsdb: &Tsdb, query: &str, at_ms: i64) -> Result<QueryValue, QueryError> {
        eval::instant(tsdb, query, at_ms)
    }
}

impl<F> QueryEngine for F
where
    F: Fn(&Tsdb, &str, i64) -> Result<QueryValue, QueryError> + Send + Sync,
{
    fn instant(&self, tsdb: &Tsdb, query: &str, at_ms: i64) -> Result<QueryValue, QueryError> {
        self(tsdb, query, at_ms)
    }
}

/// Whether an analysis phase is final.
#[must_use]
pub fn completed(phase: &str) -> bool {
    matches!(phase, "Successful" | "Failed" | "Error" | "Inconclusive")
}

/// Substitutes `{{args.NAME}}` (spaces allowed) in every string of a metric.
fn resolve_args(metric: &Value, args: &[(String, Option<String>)]) -> Result<Value, String> {
    fn walk(v: &mut Value, args: &[(String, Option<String>)]) -> Result<(), String> {
        match v {
            Value::String(s) => {
                let mut out = String::new();
                let mut rest = s.as_str();
                while let Some(start) = rest.find("{{") {
                    let Some(end) = rest[start..].find("}}") else {
                        break;
                    };
                    let inner = rest[start + 2..start + end].trim();
                    out.push_str(&rest[..start]);
                    if let Some(name) = inner.strip_prefix("args.") {
                        match args.iter().find(|(n, _)| n == name) {
                            Some((_, Some(value))) => out.push_str(value),
                            _ => return Err(format!("failed to resolve {{{{args.{name}}}}}")),
                        }
                    } else {
                        out.push_str(&rest[start..start + end + 2]);
                    }
                    rest = &rest[start + end + 2..];
                }
                out.push_str(rest);
                *s = out;
                Ok(())
            }
            Value::Array(a) => a.iter_mut().try_for_each(|x| walk(x, args)),
            Value::Object(m) => m.values_mut().try_for_each(|x| walk(x, args)),
            _ => Ok(()),
        }
    }
    let mut m = metric.clone();
    walk(&mut m, args)?;
    Ok(m)
}

fn int_or_string(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// `Metric.EffectiveCount`: `count`, or 1 when neither count nor interval is set.
fn effective_count(metric: &Value) -> Option<i64> {
    match int_or_string(metric.get("count")) {
        Some(c) if c > 0 => Some(c),
        _ if metric.get("interval").is_none() => Some(1),
        _ => None,
    }
}

/// The outcome of one query: what Argo writes as `value`, and the phase (or an error).
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub value: String,
    pub phase: Result<&'static str, String>,
}

/// Runs a resolved Prometheus metric at `at_ms` and judges it, as Argo's Prometheus provider
/// and `evaluate.EvaluateResult` do.
pub fn measure(engine: &dyn QueryEngine, tsdb: &Tsdb, metric: &Value, at_ms: i64) -> Measured {
    let Some(query) = fields::get_str(metric, "/provider/prometheus/query") else {
        return Measured {
            value: String::new(),
            phase: Err("no supported metric provider (only prometheus is simulated)".to_string()),
        };
    };
    let (value, result) = match engine.instant(tsdb, query, at_ms) {
        Err(e) => {
            return Measured {
                value: String::new(),
                phase: Err(format!("{}: {}", e.error_type, e.message)),
            };
        }
        Ok(QueryValue::Scalar(v)) => (go_f(v), ExprValue::Num(v)),
        Ok(QueryValue::Vector(samples)) => {
            let vals: Vec<f64> = samples.iter().map(|(_, v)| *v).collect();
            let text = vals.iter().map(|v| go_f(*v)).collect::<Vec<_>>().join(",");
            (
                format!("[{text}]"),
                ExprValue::List(vals.into_iter().map(ExprValue::Num).collect()),
            )
        }
        Ok(_) => {
            return Measured {
                value: String::new(),
                phase: Err("Prometheus metric type not supported".to_string()),
            };
        }
    };
    Measured {
        value,
        phase: judge(metric, &result),
    }
}

/// `evaluate.EvaluateResult`: success/failure conditions to a phase.
pub fn judge(metric: &Value, result: &ExprValue) -> Result<&'static str, String> {
    let success_expr = fields::get_str(metric, "/successCondition").filter(|s| !s.is_empty());
    let failure_expr = fields::get_str(metric, "/failureCondition").filter(|s| !s.is_empty());
    let mut success = false;
    let mut failure = false;
    if let Some(e) = success_expr {
        success = expr::eval_condition(e, result)?;
    }
    if let Some(e) = failure_expr {
        failure = expr::eval_condition(e, result)?;
    }
    match (success_expr, failure_expr) {
        (None, None) => return Ok("Successful"),
        (Some(_), None) => failure = !success,
        (None, Some(_)) => success = !failure,
        _ => {}
    }
    Ok(if failure {
        "Failed"
    } else if !success {
        "Inconclusive"
    } else {
        "Successful"
    })
}

/// What one reconcile of a run needs from its caller.
pub struct RunCtx<'a> {
    pub state: &'a ClusterState,
    pub engine: &'a dyn QueryEngine,
    pub pace: Pace,
    pub now: DateTime<Utc>,
    pub times: &'a mut PreciseTimes,
}

/// Reconciles one AnalysisRun; returns when it wants to be looked at again.
pub fn reconcile(ctx: &mut RunCtx<'_>, type_id: usize, ns: &str, name: &str) -> Option<Duration> {
    let run = ctx.state.store.get_value(type_id, ns, name)?;
    let uid = fields::uid(&run).to_string();
    let phase = fields::str_at(&run, "/status/phase");
    if completed(phase) {
        return None;
    }
    let mut status = run.get("status").cloned().unwrap_or_else(|| json!({}));
    let requeue = step(ctx, &run, &uid, &mut status);
    ctx.state.store.modify(type_id, ns, name, |v| {
        v["status"] = status;
    });
    requeue
}

fn step(ctx: &mut RunCtx<'_>, run: &Value, uid: &str, status: &mut Value) -> Option<Duration> {
    let now = ctx.now;
    let args: Vec<(String, Option<String>)> = run
        .pointer("/spec/args")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| {
                    (
                        fields::str_at(x, "/name").to_string(),
                        fields::get_str(x, "/value").map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let metrics: Vec<Value> = run
        .pointer("/spec/metrics")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut resolved = Vec::new();
    for m in &metrics {
        match resolve_args(m, &args) {
            Ok(r) => resolved.push(r),
            Err(e) => {
                util::set(status, "phase", json!("Error"));
                util::set(
                    status,
                    "message",
                    json!(format!("Unable to resolve metric arguments: {e}")),
                );
                finish(ctx, uid, status);
                return None;
            }
        }
    }
    if !status.get("metricResults").is_some_and(Value::is_array) {
        util::set(status, "metricResults", json!([]));
    }
    let terminate = fields::bool_at(run, "/spec/terminate");
    let terminating = terminate || is_terminating(status);

    // Take the measurements that are due.
    for metric in &resolved {
        let mname = fields::str_at(metric, "/name").to_string();
        let result = metric_result(status, &mname).cloned();
        if result
            .as_ref()
            .and_then(|r| fields::get_str(r, "/phase"))
            .is_some_and(completed)
        {
            continue;
        }
        let measurements = result
            .as_ref()
            .and_then(|r| r.get("measurements"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if terminating {
            continue;
        }
        let due = match measurements.last() {
            None => true,
            Some(last) => {
                let count = result
                    .as_ref()
                    .and_then(|r| fields::get_i64(r, "/count"))
                    .unwrap_or(0);
                if effective_count(metric).is_some_and(|c| count >= c) {
                    false
                } else {
                    next_due(ctx, uid, &mname, metric, last).is_some_and(|t| now >= t)
                }
            }
        };
        if !due {
            continue;
        }
        let started = ctx.times.stamp(format!("{uid}/{mname}/started"), now);
        let m = measure(
            ctx.engine,
            &ctx.state.prom.tsdb,
            metric,
            now.timestamp_millis(),
        );
        let finished = ctx.times.stamp(format!("{uid}/{mname}/finished"), now);
        let mut meas = json!({"startedAt": started, "finishedAt": finished});
        let mut r = result.unwrap_or_else(|| {
            let mut r = json!({"name": mname, "phase": "Running"});
            if let Some(q) = fields::get_str(metric, "/provider/prometheus/query") {
                r["metadata"] = json!({"ResolvedPrometheusQuery": q});
            }
            r
        });
        let bump = |r: &mut Value, key: &str| {
            let n = fields::i64_at(r, &format!("/{key}"), 0);
            r[key] = json!(n + 1);
        };
        match &m.phase {
            Ok(phase) => {
                meas["phase"] = json!(phase);
                meas["value"] = json!(m.value);
                bump(&mut r, &phase.to_lowercase());
                bump(&mut r, "count");
                r["consecutiveError"] = json!(0);
                if *phase == "Successful" {
                    bump(&mut r, "consecutiveSuccess");
                } else {
                    r["consecutiveSuccess"] = json!(0);
                }
            }
            Err(msg) => {
                meas["phase"] = json!("Error");
                // Argo keeps no value on an Error measurement.
                meas["message"] = json!(msg);
                bump(&mut r, "error");
                bump(&mut r, "consecutiveError");
                r["consecutiveSuccess"] = json!(0);
            }
        }
        let mut list = measurements;
        list.push(meas);
        // Argo trims measurement history to the last ten.
        if list.len() > MEASUREMENT_HISTORY_LIMIT {
            list.drain(..list.len() - MEASUREMENT_HISTORY_LIMIT);
        }
        r["measurements"] = Value::Array(list);
        set_metric_result(status, r);
    }

    assess_run(ctx, uid, &resolved, status, terminate);
    if completed(fields::str_at(status, "/phase")) {
        return None;
    }
    // Next reconcile: the earliest due measurement.
    let mut next: Option<DateTime<Utc>> = None;
    for metric in &resolved {
        let mname = fields::str_at(metric, "/name");
        let Some(r) = metric_result(status, mname) else {
            continue;
        };
        if fields::get_str(r, "/phase").is_some_and(completed) {
            continue;
        }
        let count = fields::i64_at(r, "/count", 0);
        if effective_count(metric).is_some_and(|c| count >= c) {
            continue;
        }
        if let Some(last) = r
            .get("measurements")
            .and_then(Value::as_array)
            .and_then(|l| l.last())
            && let Some(t) = next_due(ctx, uid, mname, metric, last)
        {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
    }
    next.map(|t| (t - now).to_std().unwrap_or(Duration::from_millis(1)))
}

/// When the metric's next measurement is due after `last` (interval, or the error retry).
fn next_due(
    ctx: &RunCtx<'_>,
    uid: &str,
    mname: &str,
    metric: &Value,
    last: &Value,
) -> Option<DateTime<Utc>> {
    let finished = ctx.times.resolve(
        &format!("{uid}/{mname}/finished"),
        fields::get_str(last, "/finishedAt")?,
    )?;
    let secs = if fields::get_str(last, "/phase") == Some("Error") {
        ERROR_RETRY_SECS
    } else {
        util::duration_secs(metric.get("interval")?)?
    };
    let wait = chrono::Duration::from_std(ctx.pace.secs(secs)).ok()?;
    Some(finished + wait)
}

fn metric_result<'a>(status: &'a Value, name: &str) -> Option<&'a Value> {
    status
        .get("metricResults")?
        .as_array()?
        .iter()
        .find(|r| fields::get_str(r, "/name") == Some(name))
}

fn set_metric_result(status: &mut Value, result: Value) {
    let name = fields::str_at(&result, "/name").to_string();
    let Some(list) = status
        .get_mut("metricResults")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    match list
        .iter_mut()
        .find(|r| fields::get_str(r, "/name") == Some(&name))
    {
        Some(slot) => *slot = result,
        None => list.push(result),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::registry;
    use crate::prom::tsdb::labels;
    use crate::{ClusterProfile, SimOptions};

    fn metric(cond: &str) -> Value {
        json!({
            "name": "success-rate",
            "interval": "30s",
            "count": 3,
            "failureLimit": 1,
            "successCondition": cond,
            "provider": {"prometheus": {"address": "http://prometheus.monitoring.svc:9090",
                "query": "rate_of(\"{{args.service-name}}\")"}}
        })
    }

    #[test]
    fn resolves_args_and_reports_missing_ones() {
        let args = vec![(
            "service-name".to_string(),
            Some("checkout-canary".to_string()),
        )];
        let m = resolve_args(&metric("result[0] >= 0.95"), &args).unwrap();
        assert_eq!(
            fields::get_str(&m, "/provider/prometheus/query"),
            Some("rate_of(\"checkout-canary\")")
        );
        let err = resolve_args(&metric("x"), &[]).unwrap_err();
        assert!(err.contains("{{args.service-name}}"), "{err}");
    }

    #[test]
    fn judge_follows_evaluate_result() {
        let m = metric("result[0] >= 0.95");
        let r = ExprValue::List(vec![ExprValue::Num(0.7)]);
        assert_eq!(judge(&m, &r), Ok("Failed"));
        let r = ExprValue::List(vec![ExprValue::Num(0.99)]);
        assert_eq!(judge(&m, &r), Ok("Successful"));
        let mut both = m.clone();
        both["failureCondition"] = json!("result[0] < 0.5");
        assert_eq!(
            judge(&both, &ExprValue::List(vec![ExprValue::Num(0.7)])),
            Ok("Inconclusive")
        );
        assert!(judge(&m, &ExprValue::List(vec![])).is_err());
    }

    fn run_obj(state: &ClusterState, t: usize) {
        state
            .store
            .insert(
                registry::find("", "namespaces").unwrap(),
                json!({"metadata": {"name": "shop"}}),
            )
            .unwrap();
        state
            .store
            .insert(
                t,
                json!({"metadata": {"name": "ar", "namespace": "shop"},
                   "spec": {"args": [{"name": "service-name", "value": "checkout-canary"}],
                            "metrics": [metric("result[0] >= 0.95")]}}),
            )
            .unwrap();
    }

    /// Reconciles the run `shop/ar` once, at `now`.
    fn reconcile_at(
        state: &ClusterState,
        engine: &dyn QueryEngine,
        times: &mut PreciseTimes,
        t: usize,
        now: DateTime<Utc>,
    ) -> Option<Duration> {
        let mut ctx = RunCtx {
            state,
            engine,
            pace: Pace::new(1.0),
            now,
            times,
        };
        reconcile(&mut ctx, t, "shop", "ar")
    }

    /// Drives a run with a fixed answer and checks counts, phases and the message.
    #[test]
    fn failing_metric_fails_run_after_failure_limit() {
        let state = ClusterState::new(ClusterProfile::standard(0), SimOptions::default());
        let t = registry::find("argoproj.io", "analysisruns").unwrap();
        run_obj(&state, t);
        state.prom.tsdb.append(labels("up", &[]), 0, 1.0);
        let engine = |_: &Tsdb, q: &str, _: i64| {
            assert!(q.contains("checkout-canary"));
            Ok(QueryValue::Vector(vec![(Vec::new(), 0.71)]))
        };
        let mut times = PreciseTimes::default();
        let mut now = Utc::now();
        let mut requeues = 0;
        for _ in 0..5 {
            match reconcile_at(&state, &engine, &mut times, t, now) {
                Some(d) => {
                    requeues += 1;
                    now += chrono::Duration::from_std(d).unwrap();
                }
                None => break,
            }
        }
        let ar = state.store.get_value(t, "shop", "ar").unwrap();
        assert_eq!(requeues, 1, "{ar}");
        assert_eq!(fields::get_str(&ar, "/status/phase"), Some("Failed"));
        assert_eq!(
            fields::get_str(&ar, "/status/message"),
            Some("Metric \"success-rate\" assessed Failed due to failed (2) > failureLimit (1)")
        );
        let r = &ar["status"]["metricResults"][0];
        assert_eq!(r["count"], 2);
        assert_eq!(r["failed"], 2);
        assert_eq!(r["phase"], "Failed");
        assert_eq!(r["measurements"][0]["value"], "[0.71]");
        assert_eq!(r["measurements"][0]["phase"], "Failed");
        assert_eq!(ar["status"]["runSummary"]["failed"], 1);
        assert!(ar["status"]["completedAt"].is_string());
    }

    #[test]
    fn errors_are_error_measurements_and_terminate_succeeds() {
        let state = ClusterState::new(ClusterProfile::standard(0), SimOptions::default());
        let t = registry::find("argoproj.io", "analysisruns").unwrap();
        run_obj(&state, t);
        let engine = |_: &Tsdb, _: &str, _: i64| {
            Err(QueryError {
                error_type: "bad_data",
                message: "boom".to_string(),
            })
        };
        let mut times = PreciseTimes::default();
        let next = reconcile_at(&state, &engine, &mut times, t, Utc::now());
        // Errors retry after 10 s, not the 30 s interval.
        assert_eq!(next.map(|d| d.as_secs()), Some(10));
        let ar = state.store.get_value(t, "shop", "ar").unwrap();
        let r = &ar["status"]["metricResults"][0];
        assert_eq!(r["error"], 1);
        assert_eq!(r["consecutiveError"], 1);
        assert_eq!(r["measurements"][0]["phase"], "Error");
        assert_eq!(r["measurements"][0]["message"], "bad_data: boom");
        assert!(r["measurements"][0].get("value").is_none());
        assert_eq!(ar["status"]["phase"], "Running");
        // spec.terminate: the run ends Successful with "Run Terminated".
        state
            .store
            .modify(t, "shop", "ar", |v| v["spec"]["terminate"] = json!(true));
        assert_eq!(
            reconcile_at(&state, &engine, &mut times, t, Utc::now()),
            None
        );
        let ar = state.store.get_value(t, "shop", "ar").unwrap();
        assert_eq!(ar["status"]["phase"], "Successful");
        assert_eq!(ar["status"]["message"], "Run Terminated");
    }
}
