//! The Deployment controller, after kube-controller-manager's: one ReplicaSet per pod-template
//! hash (`pod-template-hash` label, `deployment.kubernetes.io/revision` annotation, controller
//! owner reference), rolling updates within `maxSurge`/`maxUnavailable`, scaling, `spec.paused`,
//! old ReplicaSets pruned beyond `revisionHistoryLimit`, and the status with the Available and
//! Progressing conditions and their real reasons (including ProgressDeadlineExceeded).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::build::{self, REVISION, TEMPLATE_HASH};
use crate::ClusterState;
use crate::api::store::WatchEvent;
use crate::sim::clock;
use crate::sim::controller::{Key, OwnerIndex, Queue, Reconciler};
use crate::sim::events::{self, Severity, Source};
use crate::sim::fields;
use crate::sim::kinds::kinds;
use crate::sim::pace::Pace;

fn revision(rs: &Value) -> i64 {
    fields::annotation(rs, REVISION).parse().unwrap_or(0)
}

fn spec_replicas(rs: &Value) -> i64 {
    fields::i64_at(rs, "/spec/replicas", 0)
}

fn available(rs: &Value) -> i64 {
    fields::i64_at(rs, "/status/availableReplicas", 0)
}

/// Scales one ReplicaSet and records the event the Deployment controller emits.
fn scale_rs(state: &ClusterState, deployment: &Value, rs: &mut Value, to: i64) {
    let from = spec_replicas(rs);
    if from == to {
        return;
    }
    let k = kinds();
    let replicas = fields::i64_at(deployment, "/spec/replicas", 1);
    let surge = build::surge_and_unavailable(deployment).0;
    let updated = state
        .store
        .modify(k.replicaset, fields::namespace(rs), fields::name(rs), |v| {
            v["spec"]["replicas"] = json!(to);
            fields::set_annotation(
                v,
                "deployment.kubernetes.io/desired-replicas",
                &replicas.to_string(),
            );
            fields::set_annotation(
                v,
                "deployment.kubernetes.io/max-replicas",
                &(replicas + surge).to_string(),
            );
        });
    if let Some(v) = updated {
        *rs = v;
        let dir = if to > from { "up" } else { "down" };
        events::record(
            state,
            deployment,
            Severity::Normal,
            "ScalingReplicaSet",
            &format!(
                "Scaled {dir} replica set {} from {from} to {to}",
                fields::name(rs)
            ),
            Source::component("deployment-controller"),
        );
    }
}

/// Reconciles one Deployment. Returns when to look again (the progress deadline).
pub fn sync(state: &ClusterState, ns: &str, name: &str) -> Option<Duration> {
    let k = kinds();
    let d = state.store.get_value(k.deployment, ns, name)?;
    let now = clock::now();
    let uid = fields::uid(&d).to_string();
    let replicas = fields::i64_at(&d, "/spec/replicas", 1).max(0);
    let paused = fields::bool_at(&d, "/spec/paused");
    let template = d
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let hash = build::template_hash(&template);
    let (all_rs, _) = state.store.list(k.replicaset, Some(ns));
    let mut owned: Vec<Value> = all_rs
        .iter()
        .filter(|o| o.owner_uids.first() == Some(&uid))
        .map(|o| o.value())
        .collect();
    owned.sort_by_key(|rs| {
        (
            revision(rs),
            fields::str_at(rs, "/metadata/creationTimestamp").to_string(),
        )
    });
    let max_rev = owned.iter().map(revision).max().unwrap_or(0);
    let mut new_idx = owned
        .iter()
        .position(|rs| fields::label(rs, TEMPLATE_HASH) == hash);
    let (surge, max_unavailable) = build::surge_and_unavailable(&d);
    let mut created_new = None;

    if !paused {
        match new_idx {
            None => {
                let old_total: i64 = owned.iter().map(spec_replicas).sum();
                let initial = if old_total == 0 {
                    replicas
                } else {
                    (replicas + surge - old_total).clamp(0, replicas)
                };
                let rs = build::replicaset(&d, &template, &hash, max_rev + 1, initial, now);
                if let Ok(stored) = state.store.insert(k.replicaset, rs) {
                    if initial > 0 {
                        events::record(
                            state,
                            &d,
                            Severity::Normal,
                            "ScalingReplicaSet",
                            &format!(
                                "Scaled up replica set {} from 0 to {initial}",
                                fields::name(&stored)
                            ),
                            Source::component("deployment-controller"),
                        );
                    }
                    created_new = Some(fields::name(&stored).to_string());
                    owned.push(stored);
                    new_idx = Some(owned.len() - 1);
                }
            }
            Some(i) if revision(&owned[i]) < max_rev => {
                // A rollback to an older template: that ReplicaSet becomes the newest revision.
                let rev = (max_rev + 1).to_string();
                if let Some(v) =
                    state
                        .store
                        .modify(k.replicaset, ns, fields::name(&owned[i]), |v| {
                            fields::set_annotation(v, REVISION, &rev);
                        })
                {
                    owned[i] = v;
                }
            }
            Some(_) => {}
        }
    }

    if let Some(ni) = new_idx {
        let mut new_rs = owned[ni].clone();
        let mut olds: Vec<Value> = owned
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != ni)
            .map(|(_, v)| v.clone())
            .collect();
        if paused {
            // Paused: scaling still applies, to the only active ReplicaSet.
            let active_old = olds.iter().filter(|r| spec_replicas(r) > 0).count();
            if active_old == 0 {
                scale_rs(state, &d, &mut new_rs, replicas);
            }
        } else {
            rolling_update(
                state,
                &d,
                &mut new_rs,
                &mut olds,
                replicas,
                surge,
                max_unavailable,
            );
        }
        cleanup(state, &d, &olds);
        owned = olds;
        owned.push(new_rs);
        let new_pos = owned.len() - 1;
        let rev = revision(&owned[new_pos]).to_string();
        if fields::annotation(&d, REVISION) != rev {
            state.store.modify(k.deployment, ns, name, |v| {
                fields::set_annotation(v, REVISION, &rev);
            });
        }
        return write_status(
            state,
            ns,
            name,
            &owned,
            Some(new_pos),
            created_new.as_deref(),
            now,
        );
    }
    write_status(state, ns, name, &owned, None, created_new.as_deref(), now)
}

/// One step of a rolling update: scale the new ReplicaSet up within the surge budget, then
/// scale old ones down as far as availability allows (unhealthy replicas first).
fn rolling_update(
    state: &ClusterState,
    d: &Value,
    new_rs: &mut Value,
    olds: &mut [Value],
    replicas: i64,
    surge: i64,
    max_unavailable: i64,
) {
    if olds.iter().all(|r| spec_replicas(r) == 0) {
        scale_rs(state, d, new_rs, replicas);
        return;
    }
    let total: i64 = spec_replicas(new_rs) + olds.iter().map(spec_replicas).sum::<i64>();
    let max_total = replicas + surge;
    if total < max_total && spec_replicas(new_rs) < replicas {
        let to = (spec_replicas(new_rs) + (max_total - total)).min(replicas);
        scale_rs(state, d, new_rs, to);
    }
    let min_available = replicas - max_unavailable;
    let all_pods: i64 = spec_replicas(new_rs) + olds.iter().map(spec_replicas).sum::<i64>();
    let new_unavailable = (spec_replicas(new_rs) - available(new_rs)).max(0);
    let mut max_scaled_down = all_pods - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return;
    }
    // Old replicas that are not available go first: removing them costs no availability.
    for old in olds.iter_mut() {
        if max_scaled_down <= 0 {
            break;
        }
        let unhealthy = spec_replicas(old) - available(old);
        if unhealthy <= 0 {
            continue;
        }
        let by = unhealthy.min(max_scaled_down);
        let to = spec_replicas(old) - by;
        scale_rs(state, d, old, to);
        max_scaled_down -= by;
    }
    let available_total: i64 = available(new_rs) + olds.iter().map(available).sum::<i64>();
    let mut can_scale_down = available_total - min_available;
    for old in olds.iter_mut() {
        if can_scale_down <= 0 {
            break;
        }
        let by = spec_replicas(old).min(can_scale_down);
        if by > 0 {
            let to = spec_replicas(old) - by;
            scale_rs(state, d, old, to);
            can_scale_down -= by;
        }
    }
}

/// Deletes fully scaled-down old ReplicaSets beyond `revisionHistoryLimit`, oldest first.
fn cleanup(state: &ClusterState, d: &Value, olds: &[Value]) {
    let limit = fields::i64_at(d, "/spec/revisionHistoryLimit", 10).max(0) as usize;
    let idle: Vec<&Value> = olds
        .iter()
        .filter(|r| spec_replicas(r) == 0 && fields::i64_at(r, "/status/replicas", 0) == 0)
        .collect();
    if idle.len() <= limit {
        return;
    }
    for rs in idle.iter().take(idle.len() - limit) {
        let _ = state.store.delete(
            kinds().replicaset,
            fields::namespace(rs),
            fields::name(rs),
            false,
        );
    }
}

/// Sets a Deployment condition: `lastUpdateTime` moves when asked, `lastTransitionTime` only
/// when the status changes.
fn set_condition(
    conds: &mut Vec<Value>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: &str,
    touch: bool,
) {
    let existing = conds
        .iter()
        .position(|c| c.get("type").and_then(Value::as_str) == Some(type_));
    let mut cond = json!({
        "type": type_, "status": status, "reason": reason, "message": message,
        "lastUpdateTime": now, "lastTransitionTime": now,
    });
    if let Some(i) = existing {
        let old = &conds[i];
        let same_status = old.get("status").and_then(Value::as_str) == Some(status);
        let same_reason = old.get("reason").and_then(Value::as_str) == Some(reason);
        if same_status {
            cond["lastTransitionTime"] = old["lastTransitionTime"].clone();
            if same_reason && !touch {
                cond["lastUpdateTime"] = old["lastUpdateTime"].clone();
            }
        }
        conds[i] = cond;
    } else {
        conds.push(cond);
    }
}

/// Writes the Deployment's status from its ReplicaSets. Returns when the progress deadline
/// will pass if nothing moves.
fn write_status(
    state: &ClusterState,
    ns: &str,
    name: &str,
    owned: &[Value],
    new_pos: Option<usize>,
    created_new: Option<&str>,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let k = kinds();
    let pace = Pace::new(state.options.speed);
    let mut requeue = None;
    let now_s = clock::fmt(now);
    state.store.modify(k.deployment, ns, name, |d| {
        let replicas = fields::i64_at(d, "/spec/replicas", 1);
        let generation = fields::i64_at(d, "/metadata/generation", 1);
        let paused = fields::bool_at(d, "/spec/paused");
        let max_unavailable = build::surge_and_unavailable(d).1;
        let sum = |ptr: &str| -> i64 { owned.iter().map(|r| fields::i64_at(r, ptr, 0)).sum() };
        let status_replicas = sum("/status/replicas");
        let ready = sum("/status/readyReplicas");
        let avail = sum("/status/availableReplicas");
        let updated = new_pos.map_or(0, |i| fields::i64_at(&owned[i], "/status/replicas", 0));
        let spec_total: i64 = owned.iter().map(spec_replicas).sum();
        let unavailable = (spec_total - avail).max(0);
        let old = d.get("status").cloned().unwrap_or_else(|| json!({}));
        let old_n = |f: &str| fields::i64_at(&old, &format!("/{f}"), 0);
        let progressed = updated > old_n("updatedReplicas")
            || (status_replicas - updated) < (old_n("replicas") - old_n("updatedReplicas"))
            || ready > old_n("readyReplicas")
            || avail > old_n("availableReplicas");
        let complete = updated == replicas && status_replicas == replicas && avail == replicas;
        let mut conds: Vec<Value> = fields::array_at(&old, "/conditions").to_vec();
        if avail >= replicas - max_unavailable {
            set_condition(
                &mut conds,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                &now_s,
                false,
            );
        } else {
            set_condition(
                &mut conds,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                &now_s,
                false,
            );
        }
        let new_name = new_pos.map_or(String::new(), |i| fields::name(&owned[i]).to_string());
        let prog = fields::condition(&conds, "Progressing").cloned();
        let prog_reason = prog
            .as_ref()
            .map_or("", |c| fields::str_at(c, "/reason"))
            .to_string();
        if paused {
            set_condition(
                &mut conds,
                "Progressing",
                "Unknown",
                "DeploymentPaused",
                "Deployment is paused",
                &now_s,
                false,
            );
        } else if prog_reason == "DeploymentPaused" {
            set_condition(
                &mut conds,
                "Progressing",
                "Unknown",
                "DeploymentResumed",
                "Deployment is resumed",
                &now_s,
                true,
            );
        } else if let Some(created) = created_new {
            set_condition(
                &mut conds,
                "Progressing",
                "True",
                "NewReplicaSetCreated",
                &format!("Created new replica set \"{created}\""),
                &now_s,
                true,
            );
        } else if complete && !new_name.is_empty() {
            set_condition(
                &mut conds,
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                &format!("ReplicaSet \"{new_name}\" has successfully progressed."),
                &now_s,
                prog_reason != "NewReplicaSetAvailable",
            );
        } else if progressed && !new_name.is_empty() {
            set_condition(
                &mut conds,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                &format!("ReplicaSet \"{new_name}\" is progressing."),
                &now_s,
                true,
            );
        } else if !new_name.is_empty()
            && prog_reason != "NewReplicaSetAvailable"
            && prog_reason != "ProgressDeadlineExceeded"
        {
            let deadline = fields::i64_at(d, "/spec/progressDeadlineSeconds", 600) as f64;
            let since = prog
                .as_ref()
                .and_then(|c| clock::at(c, "/lastUpdateTime"))
                .unwrap_or(now);
            let due = clock::plus_real(since, pace.secs(deadline));
            if due <= now {
                set_condition(
                    &mut conds,
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    &format!("ReplicaSet \"{new_name}\" has timed out progressing."),
                    &now_s,
                    true,
                );
            } else {
                requeue = Some(clock::until(due));
            }
        }
        // The API server lists Available before Progressing.
        conds.sort_by_key(|c| fields::str_at(c, "/type") != "Available");
        let mut status = json!({
            "observedGeneration": generation,
            "replicas": status_replicas,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": avail,
            "conditions": conds,
        });
        if unavailable > 0 {
            status["unavailableReplicas"] = json!(unavailable);
        }
        for f in [
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
        ] {
            if status[f] == json!(0) {
                status.as_object_mut().map(|m| m.remove(f));
            }
        }
        d["status"] = status;
    });
    requeue
}

/// The Deployment controller as a [`Reconciler`].
#[derive(Debug, Default)]
pub struct DeploymentController {
    /// Deployments by uid, so ReplicaSet events find their owner.
    owners: OwnerIndex,
}

impl Reconciler for DeploymentController {
    fn resync(&mut self, state: &ClusterState, queue: &mut Queue) {
        self.owners.resync(state, kinds().deployment, queue);
    }

    fn on_event(&mut self, _state: &ClusterState, ev: &WatchEvent, queue: &mut Queue) {
        let k = kinds();
        self.owners.on_event(ev, k.deployment, k.replicaset, queue);
    }

    fn reconcile(&mut self, state: &ClusterState, key: &Key) -> Option<Duration> {
        sync(state, &key.1.ns, &key.1.name)
    }
}
