//! The Rollout controller's shared machinery: one reconcile reads the Rollout and its
//! ReplicaSets, lets the strategy ([`super::canary`], [`super::bluegreen`]) act, and writes
//! the whole status as Argo Rollouts computes it (`calculateBaseStatus`,
//! `calculateRolloutConditions`, `persistRolloutStatus`, `CalculateRolloutPhase`).
//!
//! Like the real controller, a reconcile writes only what changed, so reacting to its own
//! writes converges after a pass or two; timers (pause durations, scale-down deadlines)
//! come back as the requeue delay.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::analysis::completed;
use super::model::{Rollout, Rs, Strategy};
use super::util::{
    self, DESIRED_REPLICAS_ANNOTATION, HASH_LABEL, Kinds, MANAGED_BY_ANNOTATION, PreciseTimes,
    REVISION_ANNOTATION, SCALE_DOWN_DEADLINE_ANNOTATION, int_at, str_at,
};
use crate::demo::ClusterState;
use crate::demo::sim::Pace;

/// Pause reasons (`v1alpha1.PauseReason`).
pub const CANARY_PAUSE_STEP: &str = "CanaryPauseStep";
pub const BLUE_GREEN_PAUSE: &str = "BlueGreenPause";
pub const INCONCLUSIVE_ANALYSIS: &str = "InconclusiveAnalysisRun";

/// What every reconcile needs from the runtime.
pub struct Ctx<'a> {
    pub state: &'a ClusterState,
    pub kinds: Kinds,
    pub pace: Pace,
    pub now: DateTime<Utc>,
    pub times: &'a mut PreciseTimes,
}

/// Pause and abort intents gathered during a reconcile (Argo's `pauseContext`).
#[derive(Debug, Default)]
pub struct PauseCtx {
    pub add: Vec<&'static str>,
    pub remove: Vec<&'static str>,
    pub clear: bool,
    pub add_abort: Option<String>,
    pub remove_abort: bool,
}

impl PauseCtx {
    #[must_use]
    pub fn is_aborted(&self, ro: &Rollout) -> bool {
        !self.remove_abort && (self.add_abort.is_some() || ro.aborted())
    }
}

/// One reconcile of one Rollout.
pub struct Rec<'c, 'a> {
    pub ctx: &'c mut Ctx<'a>,
    pub ro: Rollout,
    pub all_rs: Vec<Rs>,
    pub cur_hash: String,
    pub pause: PauseCtx,
    /// Fields the reconcilers set before the status is computed (weights, AR statuses,
    /// selectors, restartedAt), like Argo's `c.newStatus`.
    pub canary_status: Map<String, Value>,
    pub blue_green_status: Map<String, Value>,
    pub restarted_at: Option<String>,
    pub requeue: Option<Duration>,
    pub abort_message: String,
    /// resourceVersion the reconcile read; the status write is skipped (and retried) when a
    /// client changed the Rollout meanwhile, as a conflict would on a real API server.
    pub rv: String,
}

impl<'c, 'a> Rec<'c, 'a> {
    /// Loads a Rollout; `None` when it is gone or has no strategy.
    pub fn load(ctx: &'c mut Ctx<'a>, ns: &str, name: &str) -> Option<Self> {
        let v = ctx.state.store.get_value(ctx.kinds.rollouts, ns, name)?;
        let rv = str_at(&v, "/metadata/resourceVersion")
            .unwrap_or_default()
            .to_string();
        let ro = Rollout::parse(&v)?;
        let collision = int_at(&ro.status, "/collisionCount");
        let cur_hash = util::pod_template_hash(&ro.template, collision);
        let (rs_objs, _) = ctx.state.store.list(ctx.kinds.replica_sets, Some(ns));
        let all_rs = rs_objs
            .iter()
            .filter(|o| o.owner_uids.first() == Some(&ro.uid))
            .map(|o| Rs::parse(&o.value()))
            .collect();
        let restarted_at = ro.status_str("restartedAt").map(str::to_string);
        Some(Self {
            ctx,
            ro,
            all_rs,
            cur_hash,
            pause: PauseCtx::default(),
            canary_status: Map::new(),
            blue_green_status: Map::new(),
            restarted_at,
            requeue: None,
            abort_message: String::new(),
            rv,
        })
    }

    pub fn requeue_after(&mut self, d: Duration) {
        let d = d.max(Duration::from_millis(5));
        self.requeue = Some(self.requeue.map_or(d, |r| r.min(d)));
    }

    /// Requeues for the moment `at` (simulated deadline already converted to wall time).
    pub fn requeue_at(&mut self, at: DateTime<Utc>) {
        let d = (at - self.ctx.now)
            .to_std()
            .unwrap_or(Duration::from_millis(5));
        self.requeue_after(d);
    }

    /// Wall time of a simulated delay after `from`.
    #[must_use]
    pub fn after(&self, from: DateTime<Utc>, sim_secs: f64) -> DateTime<Utc> {
        from + chrono::Duration::from_std(self.ctx.pace.secs(sim_secs)).unwrap_or_default()
    }

    #[must_use]
    pub fn rs_by_hash(&self, hash: &str) -> Option<&Rs> {
        if hash.is_empty() {
            return None;
        }
        self.all_rs.iter().find(|r| r.hash == hash)
    }

    #[must_use]
    pub fn new_rs(&self) -> Option<&Rs> {
        self.rs_by_hash(&self.cur_hash)
    }

    #[must_use]
    pub fn stable_rs(&self) -> Option<&Rs> {
        self.rs_by_hash(self.ro.stable_hash())
    }

    /// Revision annotation value of the Rollout after syncing.
    #[must_use]
    pub fn revision(&self) -> i64 {
        self.ro.revision.unwrap_or(1)
    }

    /// `PodTemplateOrStepsChanged`: the stored status was computed for another template or
    /// other steps.
    #[must_use]
    pub fn template_or_steps_changed(&self) -> bool {
        let pod_changed = self
            .ro
            .status_str("currentPodHash")
            .is_some_and(|h| h != self.cur_hash);
        let steps_changed = match &self.ro.strategy {
            Strategy::Canary(c) => self
                .ro
                .status_str("currentStepHash")
                .is_some_and(|h| h != util::step_hash(&c.steps_raw)),
            Strategy::BlueGreen(_) => false,
        };
        pod_changed || steps_changed
    }

    /// `getAllReplicaSetsAndSyncRevision`: keeps the new ReplicaSet's revision above the
    /// others and mirrors it on the Rollout; creates the ReplicaSet when asked.
    pub fn sync_revision(&mut self, create: bool) {
        let max_old = self
            .all_rs
            .iter()
            .filter(|r| r.hash != self.cur_hash)
            .map(|r| r.revision)
            .max()
            .unwrap_or(0);
        let new_revision = max_old + 1;
        let kinds = self.ctx.kinds;
        let ns = self.ro.ns.clone();
        if let Some(rs) = self.new_rs().cloned() {
            if rs.revision < new_revision {
                self.ctx
                    .state
                    .store
                    .modify(kinds.replica_sets, &ns, &rs.name, |v| {
                        v["metadata"]["annotations"][REVISION_ANNOTATION] =
                            json!(new_revision.to_string());
                    });
                self.set_rollout_revision(new_revision);
                if let Some(r) = self.all_rs.iter_mut().find(|r| r.name == rs.name) {
                    r.revision = new_revision;
                }
            } else {
                self.set_rollout_revision(rs.revision);
            }
            return;
        }
        if !create {
            return;
        }
        let name = format!("{}-{}", self.ro.name, self.cur_hash);
        let mut template = self.ro.template.clone();
        template["metadata"]["labels"][HASH_LABEL] = json!(self.cur_hash);
        let mut selector = self.ro.match_labels.clone();
        selector.insert(HASH_LABEL.to_string(), json!(self.cur_hash));
        let labels = template["metadata"]["labels"].clone();
        let rs = json!({
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": labels,
                "annotations": {
                    REVISION_ANNOTATION: new_revision.to_string(),
                    DESIRED_REPLICAS_ANNOTATION: self.ro.replicas.to_string(),
                },
                "ownerReferences": [util::controller_ref("Rollout", &self.ro.name, &self.ro.uid)],
            },
            "spec": {"replicas": 0, "selector": {"matchLabels": selector}, "template": template},
        });
        match self
            .ctx
            .state
            .store
            .create(kinds.replica_sets, &ns, rs, false)
        {
            Ok(created) => {
                self.all_rs.push(Rs::parse(&created));
                self.set_rollout_revision(new_revision);
                let msg = format!("Created new replica set \"{name}\"");
                let now = self.ctx.now;
                set_condition(
                    &mut self.ro.status,
                    "Progressing",
                    "True",
                    "NewReplicaSetCreated",
                    &msg,
                    now,
                );
            }
            Err(e) => log::warn!("demo rollouts: creating {name}: {e}"),
        }
    }

    fn set_rollout_revision(&mut self, revision: i64) {
        if self.ro.revision == Some(revision) {
            return;
        }
        self.ro.revision = Some(revision);
        let kinds = self.ctx.kinds;
        let rv = self.rv.clone();
        let after = self
            .ctx
            .state
            .store
            .modify(kinds.rollouts, &self.ro.ns, &self.ro.name, |v| {
                if str_at(v, "/metadata/resourceVersion") == Some(rv.as_str()) {
                    v["metadata"]["annotations"][REVISION_ANNOTATION] = json!(revision.to_string());
                }
            });
        if let Some(rv) = after
            .as_ref()
            .and_then(|v| str_at(v, "/metadata/resourceVersion"))
        {
            self.rv = rv.to_string();
        }
    }

    /// Scales a ReplicaSet (and keeps its desired-replicas annotation); true when it changed.
    pub fn scale(&mut self, name: &str, replicas: i64) -> bool {
        let desired = self.ro.replicas.to_string();
        let Some(rs) = self.all_rs.iter_mut().find(|r| r.name == name) else {
            return false;
        };
        if rs.spec_replicas == replicas {
            // Keep the annotation in step with `spec.replicas` (HPA scaling) without counting
            // it as scaling.
            let kinds = self.ctx.kinds;
            self.ctx
                .state
                .store
                .modify(kinds.replica_sets, &self.ro.ns, name, |v| {
                    v["metadata"]["annotations"][DESIRED_REPLICAS_ANNOTATION] = json!(desired);
                });
            return false;
        }
        rs.spec_replicas = replicas;
        let kinds = self.ctx.kinds;
        self.ctx
            .state
            .store
            .modify(kinds.replica_sets, &self.ro.ns, name, |v| {
                v["spec"]["replicas"] = json!(replicas);
                v["metadata"]["annotations"][DESIRED_REPLICAS_ANNOTATION] = json!(desired);
                if replicas == 0
                    && let Some(a) = v
                        .pointer_mut("/metadata/annotations")
                        .and_then(Value::as_object_mut)
                {
                    a.remove(SCALE_DOWN_DEADLINE_ANNOTATION);
                }
            });
        true
    }

    /// `scaleDownDelayHelper`: keeps `rs` for `delay` simulated seconds (recorded in its
    /// `scale-down-deadline` annotation), then asks for 0. Returns the replicas to keep.
    pub fn delayed_scale_down(&mut self, name: &str, delay: f64) -> i64 {
        let Some(rs) = self.all_rs.iter().find(|r| r.name == name).cloned() else {
            return 0;
        };
        if rs.spec_replicas == 0 {
            return 0;
        }
        let key = format!("{}/deadline", rs.uid);
        match &rs.deadline {
            Some(stamp) => match self.ctx.times.resolve(&key, stamp) {
                Some(at) if at > self.ctx.now => {
                    self.requeue_at(at);
                    rs.spec_replicas
                }
                _ => 0,
            },
            None => {
                let at = self.after(self.ctx.now, delay);
                let stamp = self.ctx.times.stamp(key, at);
                let kinds = self.ctx.kinds;
                self.ctx
                    .state
                    .store
                    .modify(kinds.replica_sets, &self.ro.ns, name, |v| {
                        v["metadata"]["annotations"][SCALE_DOWN_DEADLINE_ANNOTATION] = json!(stamp);
                    });
                if let Some(r) = self.all_rs.iter_mut().find(|r| r.name == name) {
                    r.deadline = Some(stamp);
                }
                self.requeue_at(at);
                rs.spec_replicas
            }
        }
    }

    /// Drops the scale-down deadline of a ReplicaSet that is needed again.
    pub fn clear_deadline(&mut self, name: &str) {
        let Some(rs) = self.all_rs.iter_mut().find(|r| r.name == name) else {
            return;
        };
        if rs.deadline.take().is_some() {
            let kinds = self.ctx.kinds;
            self.ctx
                .state
                .store
                .modify(kinds.replica_sets, &self.ro.ns, name, |v| {
                    if let Some(a) = v
                        .pointer_mut("/metadata/annotations")
                        .and_then(Value::as_object_mut)
                    {
                        a.remove(SCALE_DOWN_DEADLINE_ANNOTATION);
                    }
                });
        }
    }

    /// Points a Service at a pod template hash (`switchServiceSelector`).
    pub fn switch_service(&mut self, service: &str, hash: &str) {
        if hash.is_empty() {
            return;
        }
        let kinds = self.ctx.kinds;
        let owner = self.ro.name.clone();
        self.ctx
            .state
            .store
            .modify(kinds.services, &self.ro.ns, service, |v| {
                v["spec"]["selector"][HASH_LABEL] = json!(hash);
                v["metadata"]["annotations"][MANAGED_BY_ANNOTATION] = json!(owner);
            });
    }

    /// The `rollouts-pod-template-hash` a Service selects now (empty when none).
    #[must_use]
    pub fn service_selector(&self, service: &str) -> String {
        self.ctx
            .state
            .store
            .get_value(self.ctx.kinds.services, &self.ro.ns, service)
            .and_then(|v| {
                v.pointer("/spec/selector")
                    .and_then(|s| s.get(HASH_LABEL))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_default()
    }

    /// `podRestarter.Reconcile`: deletes pods older than `spec.restartAt`, one at a time while
    /// every ReplicaSet is fully available, then records `status.restartedAt`.
    pub fn reconcile_restart(&mut self) {
        let Some(restart_at) = self.ro.restart_at.clone() else {
            return;
        };
        if self.restarted_at.as_deref() == Some(restart_at.as_str()) {
            return;
        }
        let Some(at) = util::parse_time(&restart_at) else {
            return;
        };
        if at > self.ctx.now {
            self.requeue_at(at);
            return;
        }
        let kinds = self.ctx.kinds;
        let (pods, _) = self.ctx.state.store.list(kinds.pods, Some(&self.ro.ns));
        let mut stale: Vec<(String, String, String)> = Vec::new();
        let mut ready_by_rs: Vec<(String, i64)> = Vec::new();
        for p in &pods {
            let Some(owner) = p.owner_uids.first() else {
                continue;
            };
            let Some(rs) = self.all_rs.iter().find(|r| &r.uid == owner) else {
                continue;
            };
            let v = p.value();
            let created = str_at(&v, "/metadata/creationTimestamp").unwrap_or_default();
            let ready = v
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|c| {
                    c.iter().any(|c| {
                        str_at(c, "/type") == Some("Ready") && str_at(c, "/status") == Some("True")
                    })
                });
            if ready && v.pointer("/metadata/deletionTimestamp").is_none() {
                match ready_by_rs.iter_mut().find(|(n, _)| n == &rs.name) {
                    Some((_, n)) => *n += 1,
                    None => ready_by_rs.push((rs.name.clone(), 1)),
                }
            }
            if util::parse_time(created).is_some_and(|c| c < at) {
                stale.push((created.to_string(), p.key.name.clone(), rs.name.clone()));
            }
        }
        if stale.is_empty() {
            self.restarted_at = Some(restart_at);
            return;
        }
        let settled = self.all_rs.iter().all(|r| {
            let ready = ready_by_rs
                .iter()
                .find(|(n, _)| n == &r.name)
                .map_or(0, |(_, n)| *n);
            r.available >= r.spec_replicas && ready >= r.spec_replicas
        });
        if settled {
            stale.sort();
            let (_, pod, _) = &stale[0];
            // A pod already gone is fine: the next pass sees the replacement.
            let _ = self
                .ctx
                .state
                .store
                .delete(kinds.pods, &self.ro.ns, pod, false);
        }
        let wait = self.ctx.pace.secs(2.0);
        self.requeue_after(wait);
    }

    /// Deletes scaled-down ReplicaSets beyond `revisionHistoryLimit`, oldest first.
    pub fn cleanup_history(&mut self) {
        let stable = self.ro.stable_hash().to_string();
        let mut old: Vec<Rs> = self
            .all_rs
            .iter()
            .filter(|r| r.hash != self.cur_hash && r.hash != stable)
            .cloned()
            .collect();
        if old.len() <= self.ro.revision_history_limit {
            return;
        }
        old.sort_by(|a, b| a.created.cmp(&b.created).then(a.revision.cmp(&b.revision)));
        let excess = old.len() - self.ro.revision_history_limit;
        let kinds = self.ctx.kinds;
        for rs in old.iter().take(excess) {
            if rs.spec_replicas != 0 || rs.replicas != 0 {
                continue;
            }
            let _ = self
                .ctx
                .state
                .store
                .delete(kinds.replica_sets, &self.ro.ns, &rs.name, false);
            self.all_rs.retain(|r| r.name != rs.name);
        }
    }

    // ---- analysis runs ----------------------------------------------------------------

    #[must_use]
    pub fn analysis_run(&self, name: &str) -> Option<Value> {
        self.ctx
            .state
            .store
            .get_value(self.ctx.kinds.analysis_runs, &self.ro.ns, name)
    }

    /// Sets `spec.terminate` on runs that are still going (`cancelAnalysisRuns`).
    pub fn cancel_runs(&mut self, names: &[String]) {
        let kinds = self.ctx.kinds;
        for name in names {
            self.ctx
                .state
                .store
                .modify(kinds.analysis_runs, &self.ro.ns, name, |v| {
                    let done = str_at(v, "/status/phase").is_some_and(completed);
                    if !done {
                        v["spec"]["terminate"] = json!(true);
                    }
                });
        }
    }

    /// Names of the runs owned by this Rollout.
    #[must_use]
    pub fn owned_runs(&self) -> Vec<Value> {
        let (runs, _) = self
            .ctx
            .state
            .store
            .list(self.ctx.kinds.analysis_runs, Some(&self.ro.ns));
        runs.iter()
            .filter(|o| o.owner_uids.first() == Some(&self.ro.uid))
            .map(|o| o.value())
            .collect()
    }

    /// Creates an AnalysisRun from a `RolloutAnalysis` (templates + args), named
    /// `<rollout>-<hash>-<revision>[-<infix>]` with Argo's `.N` suffix on collisions.
    pub fn create_run(
        &mut self,
        analysis: &Value,
        infix: &str,
        mut labels: Map<String, Value>,
    ) -> Option<String> {
        let kinds = self.ctx.kinds;
        let ns = self.ro.ns.clone();
        let mut metrics: Vec<Value> = Vec::new();
        let mut args: Vec<Value> = Vec::new();
        for t in analysis
            .get("templates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let tname = str_at(t, "/templateName").unwrap_or_default();
            let Some(tpl) = self
                .ctx
                .state
                .store
                .get_value(kinds.analysis_templates, &ns, tname)
            else {
                log::warn!("demo rollouts: AnalysisTemplate '{tname}' not found in {ns}");
                let wait = self.ctx.pace.secs(10.0);
                self.requeue_after(wait);
                return None;
            };
            for m in tpl
                .pointer("/spec/metrics")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if !metrics.iter().any(|x| x.get("name") == m.get("name")) {
                    metrics.push(m.clone());
                }
            }
            for a in tpl
                .pointer("/spec/args")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if !args.iter().any(|x| x.get("name") == a.get("name")) {
                    args.push(a.clone());
                }
            }
        }
        // Rollout-supplied values win over template defaults.
        for a in analysis
            .get("args")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut value = a.get("value").cloned();
            if let Some(which) = str_at(a, "/valueFrom/podTemplateHashValue") {
                value = Some(json!(if which == "Stable" {
                    self.ro.stable_hash().to_string()
                } else {
                    self.cur_hash.clone()
                }));
            }
            let mut arg = json!({"name": a.get("name").cloned().unwrap_or(Value::Null)});
            if let Some(v) = value {
                arg["value"] = v;
            }
            match args.iter_mut().find(|x| x.get("name") == a.get("name")) {
                Some(slot) => *slot = arg,
                None => args.push(arg),
            }
        }
        let revision = self.revision().to_string();
        let mut parts = vec![
            self.ro.name.clone(),
            self.cur_hash.clone(),
            revision.clone(),
        ];
        if !infix.is_empty() {
            parts.push(infix.to_string());
        }
        let base = parts.join("-");
        let mut name = base.clone();
        let mut n = 0;
        while self.analysis_run(&name).is_some() {
            n += 1;
            name = format!("{base}.{n}");
        }
        for (k, v) in &self.ro.match_labels {
            labels.insert(k.clone(), v.clone());
        }
        let mut spec = json!({"metrics": metrics});
        if !args.is_empty() {
            spec["args"] = Value::Array(args);
        }
        let run = json!({
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": labels,
                "annotations": {REVISION_ANNOTATION: revision},
                "ownerReferences": [util::controller_ref("Rollout", &self.ro.name, &self.ro.uid)],
            },
            "spec": spec,
        });
        match self
            .ctx
            .state
            .store
            .create(kinds.analysis_runs, &ns, run, false)
        {
            Ok(_) => Some(name),
            Err(e) => {
                log::warn!("demo rollouts: creating AnalysisRun {name}: {e}");
                None
            }
        }
    }

    /// `needsNewAnalysisRun`.
    #[must_use]
    pub fn needs_new_run(&self, current: Option<&Value>) -> bool {
        let Some(ar) = current else {
            return true;
        };
        if self.ro.controller_pause()
            && self.ro.pause_condition(CANARY_PAUSE_STEP).is_none()
            && self.ro.pause_condition(BLUE_GREEN_PAUSE).is_none()
        {
            return str_at(ar, "/status/phase") == Some("Inconclusive");
        }
        self.ro
            .status
            .get("abortedAt")
            .is_some_and(|v| !v.is_null())
    }

    /// `setPauseOrAbort`: an Inconclusive run pauses, a Failed or Error run aborts.
    pub fn pause_or_abort(&mut self, ar: Option<&Value>) {
        let Some(ar) = ar else {
            return;
        };
        match str_at(ar, "/status/phase") {
            Some("Inconclusive") => self.pause.add.push(INCONCLUSIVE_ANALYSIS),
            Some("Failed" | "Error") => {
                let msg = str_at(ar, "/status/message")
                    .unwrap_or_default()
                    .to_string();
                self.abort_message = msg.clone();
                self.pause.add_abort = Some(msg);
            }
            _ => {}
        }
    }

    /// Deletes completed runs that are no longer current beyond Argo's history limits
    /// (5 successful, 5 unsuccessful), oldest first.
    pub fn gc_runs(&mut self, current: &[String]) {
        let mut done: Vec<(String, String, bool)> = self
            .owned_runs()
            .iter()
            .filter_map(|ar| {
                let name = str_at(ar, "/metadata/name")?.to_string();
                if current.contains(&name) {
                    return None;
                }
                let phase = str_at(ar, "/status/phase")?;
                completed(phase).then(|| {
                    (
                        str_at(ar, "/metadata/creationTimestamp")
                            .unwrap_or_default()
                            .to_string(),
                        name,
                        phase == "Successful",
                    )
                })
            })
            .collect();
        done.sort();
        let kinds = self.ctx.kinds;
        for ok in [true, false] {
            let group: Vec<&(String, String, bool)> =
                done.iter().filter(|(_, _, s)| *s == ok).collect();
            if group.len() > 5 {
                for (_, name, _) in &group[..group.len() - 5] {
                    let _ =
                        self.ctx
                            .state
                            .store
                            .delete(kinds.analysis_runs, &self.ro.ns, name, false);
                }
            }
        }
    }

    /// The `RolloutAnalysisRunStatus` of a run.
    #[must_use]
    pub fn run_status(ar: &Value) -> Value {
        let mut s = json!({
            "name": str_at(ar, "/metadata/name").unwrap_or_default(),
            "status": str_at(ar, "/status/phase").unwrap_or_default(),
        });
        if let Some(m) = str_at(ar, "/status/message").filter(|m| !m.is_empty()) {
            s["message"] = json!(m);
        }
        s
    }

    // ---- status ----------------------------------------------------------------------

    /// `checkPausedConditions`: Progressing (RolloutPaused/Resumed/Retry) and Paused
    /// conditions for pauses and retries, from the stored status.
    pub fn check_paused_conditions(&mut self) {
        let now = self.ctx.now;
        let is_paused = !self.ro.pause_conditions().is_empty() || self.ro.paused;
        let aborted = self.ro.aborted();
        let status = &mut self.ro.status;
        let prog_reason = condition(status, "Progressing")
            .and_then(|c| str_at(&c, "/reason").map(str::to_string))
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
        let paused_true =
            condition(status, "Paused").is_some_and(|c| str_at(&c, "/status") == Some("True"));
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
        let cur = str_at(st, "/currentPodHash").unwrap_or_default();
        let completed_strategy = match &self.ro.strategy {
            Strategy::BlueGreen(b) => {
                str_at(st, "/blueGreen/activeSelector") == Some(cur)
                    && (b.preview_service.is_none()
                        || str_at(st, "/blueGreen/previewSelector") == Some(cur))
            }
            Strategy::Canary(c) => {
                let all_steps = c.steps.is_empty()
                    || int_at(st, "/currentStepIndex").is_none_or(|i| i == c.steps.len() as i64);
                let stable = str_at(st, "/stableRS").unwrap_or_default();
                all_steps
                    && !stable.is_empty()
                    && stable == cur
                    && int_at(st, "/replicas") == Some(replicas)
            }
        };
        int_at(st, "/updatedReplicas") == Some(replicas)
            && int_at(st, "/availableReplicas") == Some(replicas)
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
                .filter(|c| str_at(c, "/reason") == Some("RolloutAborted"))
                .and_then(|c| str_at(&c, "/message").map(str::to_string))
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
                let stable = str_at(st, "/stableRS").unwrap_or_default();
                let cur = str_at(st, "/currentPodHash").unwrap_or_default();
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
                    .filter(|c| str_at(c, "/status") == Some("True"))
                    .and_then(|c| str_at(c, "/lastTransitionTime").map(str::to_string))
                    .unwrap_or_else(|| util::fmt_time(now));
                remove_condition(st, "Progressing");
                set_condition(st, "Progressing", "True", reason, &msg, now);
                if let Some(c) = conditions_mut(st)
                    .iter_mut()
                    .find(|c| str_at(c, "/type") == Some("Progressing"))
                {
                    c["lastTransitionTime"] = json!(transition);
                }
            }
        }
        let available = match &self.ro.strategy {
            Strategy::BlueGreen(_) => {
                let active = str_at(st, "/blueGreen/activeSelector").unwrap_or_default();
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
        let stable = str_at(st, "/stableRS").unwrap_or_default();
        let done =
            !stable.is_empty() && stable == str_at(st, "/currentPodHash").unwrap_or_default();
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
        let g = |v: &Value, k: &str| int_at(v, &format!("/{k}")).unwrap_or(0);
        let gs = |v: &Value, p: &str| str_at(v, p).unwrap_or_default().to_string();
        let strategy = match &self.ro.strategy {
            Strategy::BlueGreen(_) => {
                gs(old, "/blueGreen/activeSelector") != gs(st, "/blueGreen/activeSelector")
                    || gs(old, "/blueGreen/previewSelector") != gs(st, "/blueGreen/previewSelector")
            }
            Strategy::Canary(_) => {
                let step_moved = match (
                    int_at(old, "/currentStepIndex"),
                    int_at(st, "/currentStepIndex"),
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
        self.ctx
            .state
            .store
            .modify(kinds.rollouts, &self.ro.ns, &self.ro.name, |v| {
                if str_at(v, "/metadata/resourceVersion") == Some(rv.as_str()) {
                    v["status"] = st;
                } else {
                    conflict = true;
                }
            });
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
                .unwrap_or_else(|| json!(util::fmt_time(now)));
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
            let reason = str_at(&c, "/reason").unwrap_or_default().to_string();
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
        let stamp = str_at(&cond, "/startTime")?;
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
        .find(|c| str_at(c, "/type") == Some(kind))
        .cloned()
}

fn remove_condition(st: &mut Value, kind: &str) {
    conditions_mut(st).retain(|c| str_at(c, "/type") != Some(kind));
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
        && str_at(c, "/status") == Some(status)
        && str_at(c, "/reason") == Some(reason)
    {
        return false;
    }
    let stamp = util::fmt_time(now);
    let transition = current
        .as_ref()
        .filter(|c| str_at(c, "/status") == Some(status))
        .and_then(|c| str_at(c, "/lastTransitionTime").map(str::to_string))
        .unwrap_or_else(|| stamp.clone());
    let list = conditions_mut(st);
    list.retain(|c| str_at(c, "/type") != Some(kind));
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
        let reason = str_at(c, "/reason").unwrap_or_default();
        let msg = str_at(c, "/message").unwrap_or_default();
        if str_at(c, "/type") == Some("InvalidSpec") {
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
        return (
            "Paused",
            str_at(c, "/reason").unwrap_or_default().to_string(),
        );
    }
    if ro.restart_at.is_some() && str_at(st, "/restartedAt") != ro.restart_at.as_deref() {
        return ("Progressing", "rollout is restarting".to_string());
    }
    let g = |k: &str| int_at(st, &format!("/{k}")).unwrap_or(0);
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
    let cur = str_at(st, "/currentPodHash").unwrap_or_default();
    let stable = str_at(st, "/stableRS").unwrap_or_default();
    match &ro.strategy {
        Strategy::BlueGreen(_) => {
            let active = str_at(st, "/blueGreen/activeSelector").unwrap_or_default();
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

/// Updates the Istio VirtualService route weights for a host-split canary.
#[allow(clippy::too_many_arguments)]
pub fn set_virtual_service_weights(
    state: &ClusterState,
    kinds: Kinds,
    ns: &str,
    vs: &str,
    routes: &[String],
    canary: &str,
    stable: &str,
    weight: i64,
) {
    let Some(t) = kinds.virtual_services else {
        return;
    };
    let short = |h: &str| h.split('.').next().unwrap_or_default().to_string();
    state.store.modify(t, ns, vs, |v| {
        let Some(http) = v.pointer_mut("/spec/http").and_then(Value::as_array_mut) else {
            return;
        };
        for route in http {
            let name = str_at(route, "/name").unwrap_or_default().to_string();
            if !routes.is_empty() && !routes.contains(&name) {
                continue;
            }
            for dest in route
                .get_mut("route")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let host = short(str_at(dest, "/destination/host").unwrap_or_default());
                if host == canary {
                    dest["weight"] = json!(weight);
                } else if host == stable {
                    dest["weight"] = json!(100 - weight);
                }
            }
        }
    });
}
