//! Kubernetes Events for Rollouts, as the Argo Rollouts controller records them (step
//! completed, paused, resumed, aborted, completed, traffic weight updated), worked out from
//! the status before and after each write so every path that changes status reports it.

use serde_json::Value;

use super::model::{Rollout, Strategy};
use crate::ClusterState;
use crate::sim::events::{self, Severity, Source};
use crate::sim::fields;

fn step_text(step: &Value) -> String {
    if let Some(w) = step.get("setWeight") {
        return format!("setWeight: {w}");
    }
    if let Some(p) = step.get("pause") {
        return match p.get("duration") {
            Some(d) => format!(
                "pause: {}",
                d.as_str().map_or_else(|| d.to_string(), str::to_string)
            ),
            None => "pause".into(),
        };
    }
    if let Some(a) = step.get("analysis") {
        let names: Vec<&str> = a
            .get("templates")
            .and_then(Value::as_array)
            .map(|t| {
                t.iter()
                    .filter_map(|x| x.get("templateName").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        return format!("analysis: {}", names.join(","));
    }
    step.as_object()
        .and_then(|o| o.keys().next().cloned())
        .unwrap_or_else(|| "step".into())
}

fn canary_weight(st: &Value) -> Option<i64> {
    st.pointer("/canary/weights/canary/weight")
        .and_then(Value::as_i64)
}

/// Records the events a status change from `old` to `new` amounts to.
pub fn record(state: &ClusterState, ro: &Rollout, object: &Value, old: &Value, new: &Value) {
    let rec = |severity, reason: &str, message: &str| {
        events::record(
            state,
            object,
            severity,
            reason,
            message,
            Source::component("rollouts-controller"),
        );
    };
    if let Strategy::Canary(c) = &ro.strategy {
        let before = old.get("currentStepIndex").and_then(Value::as_i64);
        let after = new.get("currentStepIndex").and_then(Value::as_i64);
        if let (Some(a), Some(b)) = (before, after)
            && b > a
        {
            let total = c.steps.len();
            for i in a..b.min(a + 3) {
                if let Some(step) = usize::try_from(i).ok().and_then(|i| c.steps.get(i)) {
                    rec(
                        Severity::Normal,
                        "RolloutStepCompleted",
                        &format!(
                            "Rollout step {}/{total} completed ({})",
                            i + 1,
                            step_text(step)
                        ),
                    );
                }
            }
        }
        if let (Some(a), Some(b)) = (canary_weight(old), canary_weight(new))
            && a != b
        {
            rec(
                Severity::Normal,
                "TrafficWeightUpdated",
                &format!("Traffic weight updated from {a} to {b}"),
            );
        }
    }
    if let Strategy::BlueGreen(_) = &ro.strategy {
        let active = |st: &Value| fields::str_at(st, "/blueGreen/activeSelector").to_string();
        let (from, to) = (active(old), active(new));
        if !from.is_empty() && !to.is_empty() && from != to {
            let service = fields::get_str(object, "/spec/strategy/blueGreen/activeService")
                .unwrap_or_default();
            rec(
                Severity::Normal,
                "SwitchService",
                &format!("Switched selector for service '{service}' from '{from}' to '{to}'"),
            );
        }
    }
    let reasons = |st: &Value| -> Vec<String> {
        st.get("pauseConditions")
            .and_then(Value::as_array)
            .map(|c| {
                c.iter()
                    .filter_map(|p| p.get("reason").and_then(Value::as_str).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (was, now) = (reasons(old), reasons(new));
    for r in now.iter().filter(|r| !was.contains(r)) {
        rec(
            Severity::Normal,
            "RolloutPaused",
            &format!("Rollout is paused ({r})"),
        );
    }
    let aborted = |st: &Value| st.get("abort").and_then(Value::as_bool) == Some(true);
    if !was.is_empty() && now.is_empty() && !aborted(new) {
        rec(Severity::Normal, "RolloutResumed", "Rollout is resumed");
    }
    if aborted(new) && !aborted(old) {
        let msg = fields::get_str(new, "/message").unwrap_or("Rollout aborted");
        rec(Severity::Warning, "RolloutAborted", msg);
    }
    if fields::get_str(new, "/phase") == Some("Healthy")
        && fields::get_str(old, "/phase") != Some("Healthy")
        && !fields::str_at(new, "/stableRS").is_empty()
    {
        let hash = fields::str_at(new, "/stableRS");
        let revision = ro
            .revision
            .map_or_else(String::new, |r| format!(" to revision {r}"));
        rec(
            Severity::Normal,
            "RolloutCompleted",
            &format!("Rollout completed update{revision} ({hash}): Rollout is Healthy"),
        );
    }
}
