//! The Rollout controller's shared machinery: one reconcile ([`Rec`]) reads the Rollout and
//! its ReplicaSets, lets the strategy (`canary`, `bluegreen`) act through the helpers here
//! (ReplicaSets, Services, restarts, revision history), in `runs` (AnalysisRuns) and in
//! `status` (the status as Argo Rollouts computes it), and writes the status once.
//!
//! Like the real controller, a reconcile writes only what changed, so reacting to its own
//! writes converges after a pass or two; timers (pause durations, scale-down deadlines)
//! come back as the requeue delay.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::model::{Rollout, Rs, Strategy};
use super::status::set_condition;
use super::util::{
    self, DESIRED_REPLICAS_ANNOTATION, HASH_LABEL, Kinds, MANAGED_BY_ANNOTATION, PreciseTimes,
    REVISION_ANNOTATION, SCALE_DOWN_DEADLINE_ANNOTATION,
};
use super::workload_ref;
use crate::ClusterState;
use crate::sim::Pace;
use crate::sim::{clock, fields};

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
        let rv = fields::str_at(&v, "/metadata/resourceVersion").to_string();
        let mut ro = Rollout::parse(&v)?;
        match workload_ref::resolve(ctx.state, &v) {
            Ok(None) => {}
            Ok(Some(resolved)) => {
                ro.use_resolved(resolved);
                // Resolvable again: the reference is no longer why the spec is invalid.
                if let Some(c) = ro
                    .status
                    .get_mut("conditions")
                    .and_then(Value::as_array_mut)
                {
                    c.retain(|c| fields::get_str(c, "/type") != Some("InvalidSpec"));
                }
            }
            Err(e) => {
                log::debug!("demo rollouts: {ns}/{name}: {e}");
                workload_ref::invalid(ctx.state, ctx.kinds, &v, &e, ctx.now);
                return None;
            }
        }
        let collision = fields::get_i64(&ro.status, "/collisionCount");
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

    /// Read-modify-writes one of this Rollout's ReplicaSets.
    pub fn modify_rs(&self, name: &str, f: impl FnOnce(&mut Value)) {
        self.ctx
            .state
            .store
            .modify(self.ctx.kinds.replica_sets, &self.ro.ns, name, f);
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

    /// The template or steps changed: syncs the revision without creating the new ReplicaSet
    /// and writes a reset status, which `adjust` completes for the strategy; then looks again
    /// at once. Both strategies start a new release this way.
    pub fn reset_for_new_release(&mut self, adjust: impl FnOnce(&Self, &mut Value)) {
        self.sync_revision(false);
        let mut st = self.base_status();
        self.reset_status(&mut st);
        adjust(self, &mut st);
        self.calculate_conditions(&mut st);
        self.persist(st);
        self.requeue_after(Duration::from_millis(5));
    }

    /// What both strategies do first on an unchanged template: sync the revision (creating
    /// the new ReplicaSet), honour a restart, and trim old ReplicaSets.
    pub fn sync_release(&mut self) {
        self.sync_revision(true);
        self.reconcile_restart();
        self.cleanup_history();
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
                self.modify_rs(&rs.name, |v| {
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
                if fields::get_str(v, "/metadata/resourceVersion") == Some(rv.as_str()) {
                    v["metadata"]["annotations"][REVISION_ANNOTATION] = json!(revision.to_string());
                }
            });
        if let Some(rv) = after
            .as_ref()
            .and_then(|v| fields::get_str(v, "/metadata/resourceVersion"))
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
            self.modify_rs(name, |v| {
                v["metadata"]["annotations"][DESIRED_REPLICAS_ANNOTATION] = json!(desired);
            });
            return false;
        }
        rs.spec_replicas = replicas;
        self.modify_rs(name, |v| {
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
                self.modify_rs(name, |v| {
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
            self.modify_rs(name, |v| {
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
        let Some(at) = clock::parse(&restart_at) else {
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
            let created = fields::str_at(&v, "/metadata/creationTimestamp");
            let ready = v
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|c| {
                    c.iter().any(|c| {
                        fields::get_str(c, "/type") == Some("Ready")
                            && fields::get_str(c, "/status") == Some("True")
                    })
                });
            if ready && v.pointer("/metadata/deletionTimestamp").is_none() {
                match ready_by_rs.iter_mut().find(|(n, _)| n == &rs.name) {
                    Some((_, n)) => *n += 1,
                    None => ready_by_rs.push((rs.name.clone(), 1)),
                }
            }
            if clock::parse(created).is_some_and(|c| c < at) {
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
            let name = fields::str_at(route, "/name").to_string();
            if !routes.is_empty() && !routes.contains(&name) {
                continue;
            }
            for dest in route
                .get_mut("route")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let host = short(fields::str_at(dest, "/destination/host"));
                if host == canary {
                    dest["weight"] = json!(weight);
                } else if host == stable {
                    dest["weight"] = json!(100 - weight);
                }
            }
        }
    });
}
