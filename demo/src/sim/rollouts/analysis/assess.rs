//! AnalysisRun controller (see analysis.rs): after each round of measurements, assesses
//! every metric's phase against its limits and rolls them up into the run's phase, message
//! and `runSummary`, as Argo's `assessRunStatus` does.

use serde_json::{Map, Value, json};

use super::{RunCtx, completed, effective_count, int_or_string, metric_result, set_metric_result};
use crate::sim::fields;
use crate::sim::rollouts::util;

/// Default `consecutiveErrorLimit`.
const DEFAULT_CONSECUTIVE_ERROR_LIMIT: i64 = 4;

/// Argo's ordering of outcomes, worst last.
fn severity(phase: &str) -> u8 {
    match phase {
        "Successful" => 1,
        "Inconclusive" => 2,
        "Error" => 3,
        "Failed" => 4,
        _ => 0,
    }
}

/// `analysisutil.IsTerminating`: asked to stop, or a metric already failed/errored.
pub(super) fn is_terminating(status: &Value) -> bool {
    status
        .get("metricResults")
        .and_then(Value::as_array)
        .is_some_and(|l| {
            l.iter().any(|r| {
                matches!(
                    fields::get_str(r, "/phase"),
                    Some("Failed" | "Error" | "Inconclusive")
                ) && !fields::bool_at(r, "/dryRun")
            })
        })
}

/// `assessMetricFailureInconclusiveOrError`.
fn failure_inconclusive_or_error(metric: &Value, r: &Value) -> Option<(&'static str, String)> {
    // (phase, count field, how Argo names the count, limit field, default limit). Argo
    // checks them in this order and the last exceeded one wins, hence the search from the end.
    let limits = [
        ("Failed", "failed", "failed", "failureLimit", 0),
        (
            "Inconclusive",
            "inconclusive",
            "inconclusive",
            "inconclusiveLimit",
            0,
        ),
        (
            "Error",
            "consecutiveError",
            "consecutiveErrors",
            "consecutiveErrorLimit",
            DEFAULT_CONSECUTIVE_ERROR_LIMIT,
        ),
    ];
    limits
        .into_iter()
        .rev()
        .find_map(|(phase, field, counted, limit_field, default)| {
            let limit = int_or_string(metric.get(limit_field)).unwrap_or(default);
            let n = r.get(field).and_then(Value::as_i64).unwrap_or(0);
            (n > limit).then(|| (phase, format!("{counted} ({n}) > {limit_field} ({limit})")))
        })
}

/// `assessMetricStatus`.
fn metric_phase(metric: &Value, r: &Value, terminating: bool) -> &'static str {
    let current = fields::str_at(r, "/phase");
    if completed(current) {
        return match current {
            "Successful" => "Successful",
            "Failed" => "Failed",
            "Error" => "Error",
            _ => "Inconclusive",
        };
    }
    let measurements = r.get("measurements").and_then(Value::as_array);
    let Some(last) = measurements.and_then(|l| l.last()) else {
        return if terminating { "Successful" } else { "Pending" };
    };
    if !fields::get_str(last, "/phase").is_some_and(completed) {
        return "Running";
    }
    if let Some((phase, _)) = failure_inconclusive_or_error(metric, r) {
        return phase;
    }
    let count = fields::i64_at(r, "/count", 0);
    if effective_count(metric).is_some_and(|c| count >= c) {
        return "Successful";
    }
    if terminating { "Successful" } else { "Running" }
}

/// `assessRunStatus`: metric phases, run summary, run phase and message.
pub(super) fn assess_run(
    ctx: &mut RunCtx<'_>,
    uid: &str,
    metrics: &[Value],
    status: &mut Value,
    terminate: bool,
) {
    let terminating = terminate || is_terminating(status);
    if status.get("startedAt").is_none() {
        let s = ctx.times.stamp(format!("{uid}/startedAt"), ctx.now);
        util::set(status, "startedAt", json!(s));
    }
    let mut worst: Option<&'static str> = None;
    let mut worst_message = if terminate {
        "Run Terminated".to_string()
    } else {
        String::new()
    };
    let mut everything_completed = true;
    let mut summary: Map<String, Value> = Map::new();
    for k in ["count", "successful", "failed", "inconclusive", "error"] {
        summary.insert(k.to_string(), json!(0));
    }
    let add = |summary: &mut Map<String, Value>, k: &str| {
        let n = summary.get(k).and_then(Value::as_i64).unwrap_or(0);
        summary.insert(k.to_string(), json!(n + 1));
    };
    for metric in metrics {
        add(&mut summary, "count");
        let mname = fields::str_at(metric, "/name");
        let Some(mut r) = metric_result(status, mname).cloned() else {
            everything_completed = false;
            continue;
        };
        let phase = metric_phase(metric, &r, terminating);
        if fields::get_str(&r, "/phase") != Some(phase) {
            if let Some(msg) = r
                .get("measurements")
                .and_then(Value::as_array)
                .and_then(|l| l.last())
                .and_then(|m| fields::get_str(m, "/message"))
            {
                r["message"] = json!(msg);
            }
            r["phase"] = json!(phase);
            set_metric_result(status, r.clone());
        }
        if !completed(phase) {
            everything_completed = false;
            continue;
        }
        let reason = failure_inconclusive_or_error(metric, &r);
        if worst.is_none_or(|w| severity(phase) > severity(w)) {
            worst = Some(phase);
            if let Some((_, why)) = &reason {
                worst_message = format!("Metric \"{mname}\" assessed {phase} due to {why}");
                if let Some(m) = fields::get_str(&r, "/message").filter(|m| !m.is_empty()) {
                    worst_message.push_str(&format!(": \"Error Message: {m}\""));
                }
            }
        }
        add(
            &mut summary,
            match reason.map(|(p, _)| p) {
                Some("Error") => "error",
                Some("Failed") => "failed",
                Some("Inconclusive") => "inconclusive",
                _ => "successful",
            },
        );
    }
    util::set(status, "runSummary", Value::Object(summary));
    // No metric runs in dry-run mode here; Argo still writes the (empty) summary.
    util::set(
        status,
        "dryRunSummary",
        json!({"count": 0, "successful": 0, "failed": 0, "inconclusive": 0, "error": 0}),
    );
    let (phase, message) = if terminating {
        (
            worst.unwrap_or("Successful"),
            worst_message.trim().to_string(),
        )
    } else if !everything_completed || worst.is_none() {
        ("Running", String::new())
    } else {
        (
            worst.unwrap_or("Successful"),
            worst_message.trim().to_string(),
        )
    };
    if fields::get_str(status, "/phase") != Some(phase) {
        util::set(status, "phase", json!(phase));
        if message.is_empty() {
            util::remove(status, "message");
        } else {
            util::set(status, "message", json!(message));
        }
        if completed(phase) {
            finish(ctx, uid, status);
        }
    }
}

pub(super) fn finish(ctx: &mut RunCtx<'_>, uid: &str, status: &mut Value) {
    if status.get("completedAt").is_none() {
        let s = ctx.times.stamp(format!("{uid}/completedAt"), ctx.now);
        util::set(status, "completedAt", json!(s));
    }
}
