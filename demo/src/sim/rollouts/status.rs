//! The Rollout status as Argo Rollouts computes it: `calculateBaseStatus`,
//! `checkPausedConditions`, `calculateRolloutConditions`, `CalculatePauseStatus`,
//! `CalculateRolloutPhase`, and the single status write at the end of a reconcile.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::controller::Rec;
use super::model::{Rollout, Rs, Strategy};
use super::util;
use crate::sim::{clock, fields};

impl Rec<'_, '_> {
    /// `checkPausedConditions`: Progressing (RolloutPaused/Resumed/Retry) and Paused
    /// conditions for pauses and retries, from the stored status.
    pub fn check_paused_conditions(&mut self) {
        let now = self.ctx.now;
        let is_paused = !self.ro.pause_conditions().is_empty() || self.ro.paused;
        let aborted = self.ro.aborted();
        let status = &mut self.ro.status;
        let prog_reason = condition(status, "Progressing")
            .and_then(|c| fields::get_str(&c, "/reason").map(str::to_string))
            .unwrap_or_default();
        let prog_paused = prog_reason == "RolloutPaused";
        let abort_cond = prog_reason == "RolloutAborted";
        if is_paused != prog_paused && !abort_cond {
            let (reason, msg) = if is_paused {
                ("RolloutPaused", "Rollout is paused")
            } else {
                ("RolloutResumed", "Rollout is resumed")
            };
            set_condition(status, "Progressing", "Unknown", reason, msg, now);
        }
        if !aborted && abort_cond {
            set_condition(
                status,
                "Progressing",
                "Unknown",
                "RolloutRetry",
                "Retrying Rollout after abort",
                now,
            );
        }
        let paused_true = condition(status, "Paused")
            .is_some_and(|c| fields::get_str(&c, "/status") == Some("True"));
        if is_paused != paused_true && !abort_cond {
            set_condition(
                status,
                "Paused",
                if is_paused { "True" } else { "False" },
                "RolloutPaused",
                "Rollout is paused",
                now,
            );
        }
    }

    /// `calculateBaseStatus`.
    #[must_use]
    pub fn base_status(&self) -> Value {
        let new_rs = self.new_rs();
        let sum = |f: fn(&Rs) -> i64| self.all_rs.iter().map(f).sum::<i64>();
        let mut st = json!({
            "currentPodHash": self.cur_hash,
            "replicas": sum(|r| r.replicas),
            "updatedReplicas": new_rs.map_or(0, |r| r.replicas),
            "readyReplicas": sum(|r| r.ready),
            "availableReplicas": sum(|r| r.available),
            "HPAReplicas": sum(|r| r.replicas),
            "selector": util::selector_string(&self.ro.match_labels),
            "canary": Value::Object(self.canary_status.clone()),
            "blueGreen": Value::Object(self.blue_green_status.clone()),
        });
        if let Some(c) = self.ro.status.get("collisionCount") {
            st["collisionCount"] = c.clone();
        }
        if let Some(c) = self.ro.status.get("conditions") {
            st["conditions"] = c.clone();
        }
        if let Some(r) = &self.restarted_at {
            st["restartedAt"] = json!(r);
        }
        let stable = self.ro.stable_hash();
        if !stable.is_empty() {
            st["stableRS"] = json!(stable);
        }
        if self.ro.promote_full() && self.cur_hash != stable {
            st["promoteFull"] = json!(true);
        }
        st
    }

    /// `resetRolloutStatus`: a new template or new steps start the update over.
    pub fn reset_status(&mut self, st: &mut Value) {
        self.pause.clear = true;
        self.pause.remove_abort = true;
        self.restarted_at = self.ro.restart_at.clone().or(self.restarted_at.take());
        if let Some(r) = &self.restarted_at {
            st["restartedAt"] = json!(r);
        }
        util::remove(st, "promoteFull");
        for key in [
            "prePromotionAnalysisRunStatus",
            "postPromotionAnalysisRunStatus",
            "scaleUpPreviewCheckPoint",
        ] {
            if let Some(m) = st["blueGreen"].as_object_mut() {
                m.remove(key);
            }
        }
        for key in [
            "currentStepAnalysisRunStatus",
            "currentBackgroundAnalysisRunStatus",
        ] {
            if let Some(m) = st["canary"].as_object_mut() {
                m.remove(key);
            }
        }
        if let Strategy::Canary(c) = &self.ro.strategy
            && !c.steps.is_empty()
        {
            st["currentStepIndex"] = json!(0);
        }
    }

    /// `promoteStable`: the current ReplicaSet becomes stable.
    pub fn promote_stable(&mut self, st: &mut Value) {
        self.pause.clear = true;
        self.pause.remove_abort = true;
        util::remove(st, "promoteFull");
        if let Some(m) = st["blueGreen"].as_object_mut() {
            m.remove("scaleUpPreviewCheckPoint");
        }
        if let Strategy::Canary(c) = &self.ro.strategy {
            if c.steps.is_empty() {
                util::remove(st, "currentStepIndex");
            } else {
                st["currentStepIndex"] = json!(c.steps.len());
            }
        }
        st["stableRS"] = json!(self.cur_hash);
    }

    /// `RolloutHealthy` (uses the stored observedGeneration, as upstream does).
    #[must_use]
    pub fn rollout_healthy(&self, st: &Value) -> bool {
        let replicas = self.ro.replicas;
        let cur = fields::str_at(st, "/currentPodHash");
        let completed_strategy = match &self.ro.strategy {
            Strategy::BlueGreen(b) => {
                fields::get_str(st, "/blueGreen/activeSelector") == Some(cur)
                    && (b.preview_service.is_none()
                        || fields::get_str(st, "/blueGreen/previewSelector") == Some(cur))
            }
            Strategy::Canary(c) => {
                let all_steps = c.steps.is_empty()
                    || fields::get_i64(st, "/currentStepIndex")
                        .is_none_or(|i| i == c.steps.len() as i64);
                let stable = fields::str_at(st, "/stableRS");
                all_steps
                    && !stable.is_empty()
                    && stable == cur
                    && fields::get_i64(st, "/replicas") == Some(replicas)
            }
        };
        fields::get_i64(st, "/updatedReplicas") == Some(replicas)
            && fields::get_i64(st, "/availableReplicas") == Some(replicas)
            && self.ro.status_str("observedGeneration") == Some(&self.ro.generation.to_string())
            && completed_strategy
    }

    /// `calculateRolloutConditions`.
    pub fn calculate_conditions(&mut self, st: &mut Value) {
        let now = self.ctx.now;
        let is_paused = !self.ro.pause_conditions().is_empty() || self.ro.paused;
        let aborted = self.pause.is_aborted(&self.ro);
        let healthy = self.rollout_healthy(st);
        let mut became_unhealthy = false;
        if !is_paused && healthy {
            set_condition(
                st,
                "Healthy",
                "True",
                "RolloutHealthy",
                "Rollout is healthy",
                now,
            );
        } else if condition(&self.ro.status, "Healthy").is_some() {
            became_unhealthy = set_condition(
                st,
                "Healthy",
                "False",
                "RolloutHealthy",
                "Rollout is not healthy",
                now,
            );
        }
        if aborted {
            let mut msg = format!("Rollout aborted update to revision {}", self.revision());
            if !self.abort_message.is_empty() {
                msg = format!("{msg}: {}", self.abort_message);
            } else if let Some(prev) = condition(&self.ro.status, "Progressing")
                .filter(|c| fields::get_str(c, "/reason") == Some("RolloutAborted"))
                .and_then(|c| fields::get_str(&c, "/message").map(str::to_string))
            {
                msg = prev;
            }
            set_condition(st, "Progressing", "False", "RolloutAborted", &msg, now);
        } else {
            let rs_name = self.new_rs().map(|r| r.name.clone()).unwrap_or_default();
            if healthy {
                let msg = format!("ReplicaSet \"{rs_name}\" has successfully progressed.");
                set_condition(
                    st,
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    &msg,
                    now,
                );
            } else if self.progressing(st) || became_unhealthy {
                let stable = fields::str_at(st, "/stableRS");
                let cur = fields::str_at(st, "/currentPodHash");
                let (reason, msg) = if stable == cur && became_unhealthy {
                    (
                        "ReplicaSetNotAvailable",
                        "Rollout does not have minimum availability".to_string(),
                    )
                } else {
                    (
                        "ReplicaSetUpdated",
                        format!("ReplicaSet \"{rs_name}\" is progressing."),
                    )
                };
                // Progressing is special: same reason still refreshes lastUpdateTime.
                let old = condition(&self.ro.status, "Progressing");
                let transition = old
                    .as_ref()
                    .filter(|c| fields::get_str(c, "/status") == Some("True"))
                    .and_then(|c| fields::get_str(c, "/lastTransitionTime").map(str::to_string))
                    .unwrap_or_else(|| clock::fmt(now));
                remove_condition(st, "Progressing");
                set_condition(st, "Progressing", "True", reason, &msg, now);
                if let Some(c) = conditions_mut(st)
                    .iter_mut()
                    .find(|c| fields::get_str(c, "/type") == Some("Progressing"))
                {
                    c["lastTransitionTime"] = json!(transition);
                }
            }
        }
        let available = match &self.ro.strategy {
            Strategy::BlueGreen(_) => {
                let active = fields::str_at(st, "/blueGreen/activeSelector");
                self.rs_by_hash(active).is_some_and(|r| {
                    r.spec_replicas == self.ro.replicas && r.available >= self.ro.replicas
                })
            }
            Strategy::Canary(_) => {
                self.all_rs.iter().map(|r| r.available).sum::<i64>() >= self.ro.replicas
            }
        };
        if available {
            set_condition(
                st,
                "Available",
                "True",
                "AvailableReason",
                "Rollout has minimum availability",
                now,
            );
        } else {
            set_condition(
                st,
                "Available",
                "False",
                "AvailableReason",
                "Rollout does not have minimum availability",
                now,
            );
        }
        let stable = fields::str_at(st, "/stableRS");
        let done = !stable.is_empty() && stable == fields::str_at(st, "/currentPodHash");
        set_condition(
            st,
            "Completed",
            if done { "True" } else { "False" },
            "RolloutCompleted",
            "RolloutCompleted",
            now,
        );
    }

    /// `RolloutProgressing`: something moved since the stored status.
    fn progressing(&self, st: &Value) -> bool {
        let old = &self.ro.status;
        let g = |v: &Value, k: &str| fields::i64_at(v, &format!("/{k}"), 0);
        let gs = |v: &Value, p: &str| fields::str_at(v, p).to_string();
        let strategy = match &self.ro.strategy {
            Strategy::BlueGreen(_) => {
                gs(old, "/blueGreen/activeSelector") != gs(st, "/blueGreen/activeSelector")
                    || gs(old, "/blueGreen/previewSelector") != gs(st, "/blueGreen/previewSelector")
            }
            Strategy::Canary(_) => {
                let step_moved = match (
                    fields::get_i64(old, "/currentStepIndex"),
                    fields::get_i64(st, "/currentStepIndex"),
                ) {
                    (Some(a), Some(b)) => a != b,
                    _ => false,
                };
                gs(old, "/stableRS") != gs(st, "/stableRS")
                    || step_moved
                    || gs(old, "/currentStepHash") != gs(st, "/currentStepHash")
            }
        };
        g(st, "updatedReplicas") != g(old, "updatedReplicas")
            || g(st, "replicas") - g(st, "updatedReplicas")
                < g(old, "replicas") - g(old, "updatedReplicas")
            || g(st, "readyReplicas") > g(old, "readyReplicas")
            || g(st, "availableReplicas") > g(old, "availableReplicas")
            || strategy
    }

    /// `persistRolloutStatus`: pause/abort bookkeeping, observedGeneration, phase and
    /// message, then one write of the whole status.
    pub fn persist(&mut self, mut st: Value) {
        self.calculate_pause_status(&mut st);
        st["observedGeneration"] = json!(self.ro.generation.to_string());
        // Only a template resolved from `spec.workloadRef` has a workload generation.
        match self.ro.workload_generation {
            Some(g) => st["workloadObservedGeneration"] = json!(g.to_string()),
            None => util::remove(&mut st, "workloadObservedGeneration"),
        }
        let (phase, message) = calculate_phase(&self.ro, &st);
        st["phase"] = json!(phase);
        if message.is_empty() {
            util::remove(&mut st, "message");
        } else {
            st["message"] = json!(message);
        }
        let kinds = self.ctx.kinds;
        let rv = self.rv.clone();
        let mut conflict = false;
        let new_status = st.clone();
        let written =
            self.ctx
                .state
                .store
                .modify(kinds.rollouts, &self.ro.ns, &self.ro.name, |v| {
                    if fields::get_str(v, "/metadata/resourceVersion") == Some(rv.as_str()) {
                        v["status"] = st;
                    } else {
                        conflict = true;
                    }
                });
        if !conflict && let Some(object) = written {
            super::events::record(
                self.ctx.state,
                &self.ro,
                &object,
                &self.ro.status,
                &new_status,
            );
        }
        if conflict {
            // Someone wrote in between: start over from what they wrote.
            self.requeue_after(Duration::from_millis(5));
        }
    }

    /// `CalculatePauseStatus`: abort wins; otherwise pause conditions are carried, removed
    /// and added, and `controllerPause` follows them.
    fn calculate_pause_status(&mut self, st: &mut Value) {
        let now = self.ctx.now;
        if self.pause.add_abort.is_some() || (!self.pause.remove_abort && self.ro.aborted()) {
            st["abort"] = json!(true);
            let at = self
                .ro
                .status
                .get("abortedAt")
                .filter(|v| v.is_string())
                .cloned()
                .unwrap_or_else(|| json!(clock::fmt(now)));
            st["abortedAt"] = at;
            return;
        }
        util::remove(st, "abort");
        util::remove(st, "abortedAt");
        if self.pause.clear {
            return;
        }
        let mut controller_pause = self.ro.controller_pause();
        let mut conds: Vec<Value> = Vec::new();
        let mut existing: Vec<String> = Vec::new();
        for c in self.ro.pause_conditions() {
            let reason = fields::str_at(&c, "/reason").to_string();
            if !self.pause.remove.contains(&reason.as_str()) {
                conds.push(c.clone());
            }
            existing.push(reason);
        }
        for reason in self.pause.add.clone() {
            if !existing.iter().any(|e| e == reason) {
                let key = format!("{}/pause/{reason}", self.ro.uid);
                let start = self.ctx.times.stamp(key, now);
                conds.push(json!({"reason": reason, "startTime": start}));
                existing.push(reason.to_string());
                controller_pause = true;
            }
        }
        if conds.is_empty() {
            return;
        }
        st["controllerPause"] = json!(controller_pause);
        st["pauseConditions"] = Value::Array(conds);
    }

    /// When a pause condition started, at full precision when this process set it.
    #[must_use]
    pub fn pause_started(&self, reason: &str) -> Option<DateTime<Utc>> {
        let cond = self.ro.pause_condition(reason)?;
        let stamp = fields::get_str(&cond, "/startTime")?;
        self.ctx
            .times
            .resolve(&format!("{}/pause/{reason}", self.ro.uid), stamp)
    }
}

fn conditions_mut(st: &mut Value) -> &mut Vec<Value> {
    if !st.get("conditions").is_some_and(Value::is_array) {
        st["conditions"] = json!([]);
    }
    match st.get_mut("conditions") {
        Some(Value::Array(a)) => a,
        // Just made an array above.
        _ => unreachable!("conditions is an array"),
    }
}

/// The condition of a type in a status.
#[must_use]
pub fn condition(st: &Value, kind: &str) -> Option<Value> {
    st.get("conditions")?
        .as_array()?
        .iter()
        .find(|c| fields::get_str(c, "/type") == Some(kind))
        .cloned()
}

fn remove_condition(st: &mut Value, kind: &str) {
    conditions_mut(st).retain(|c| fields::get_str(c, "/type") != Some(kind));
}

/// `SetRolloutCondition`: no change when status and reason are the same; keeps
/// lastTransitionTime when only the reason changes. Returns whether it changed.
pub fn set_condition(
    st: &mut Value,
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: DateTime<Utc>,
) -> bool {
    let current = condition(st, kind);
    if let Some(c) = &current
        && fields::get_str(c, "/status") == Some(status)
        && fields::get_str(c, "/reason") == Some(reason)
    {
        return false;
    }
    let stamp = clock::fmt(now);
    let transition = current
        .as_ref()
        .filter(|c| fields::get_str(c, "/status") == Some(status))
        .and_then(|c| fields::get_str(c, "/lastTransitionTime").map(str::to_string))
        .unwrap_or_else(|| stamp.clone());
    let list = conditions_mut(st);
    list.retain(|c| fields::get_str(c, "/type") != Some(kind));
    list.push(json!({
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": stamp,
        "lastTransitionTime": transition,
    }));
    true
}

/// `CalculateRolloutPhase`: phase and message from spec and the new status.
#[must_use]
pub fn calculate_phase(ro: &Rollout, st: &Value) -> (&'static str, String) {
    for c in st
        .get("conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let reason = fields::str_at(c, "/reason");
        let msg = fields::str_at(c, "/message");
        if fields::get_str(c, "/type") == Some("InvalidSpec") {
            return ("Degraded", format!("InvalidSpec: {msg}"));
        }
        if reason == "RolloutAborted" || reason == "ProgressDeadlineExceeded" {
            return ("Degraded", format!("{reason}: {msg}"));
        }
    }
    if ro.paused {
        return ("Paused", "manually paused".to_string());
    }
    if let Some(c) = st
        .get("pauseConditions")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        return ("Paused", fields::str_at(c, "/reason").to_string());
    }
    if ro.restart_at.is_some() && fields::get_str(st, "/restartedAt") != ro.restart_at.as_deref() {
        return ("Progressing", "rollout is restarting".to_string());
    }
    let g = |k: &str| fields::i64_at(st, &format!("/{k}"), 0);
    if g("updatedReplicas") < ro.replicas {
        return (
            "Progressing",
            "more replicas need to be updated".to_string(),
        );
    }
    if g("availableReplicas") < g("updatedReplicas") {
        return (
            "Progressing",
            "updated replicas are still becoming available".to_string(),
        );
    }
    let cur = fields::str_at(st, "/currentPodHash");
    let stable = fields::str_at(st, "/stableRS");
    match &ro.strategy {
        Strategy::BlueGreen(_) => {
            let active = fields::str_at(st, "/blueGreen/activeSelector");
            if active.is_empty() || active != cur {
                return ("Progressing", "active service cutover pending".to_string());
            }
            if stable.is_empty() || stable != cur {
                return (
                    "Progressing",
                    "waiting for post-promotion verification to complete".to_string(),
                );
            }
        }
        Strategy::Canary(c) => {
            if !c.traffic_routed && g("replicas") > g("updatedReplicas") {
                return (
                    "Progressing",
                    "old replicas are pending termination".to_string(),
                );
            }
            if stable.is_empty() || stable != cur {
                return (
                    "Progressing",
                    "waiting for all steps to complete".to_string(),
                );
            }
        }
    }
    ("Healthy", String::new())
}
