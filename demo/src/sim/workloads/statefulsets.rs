//! The StatefulSet controller: pods `NAME-0` … `NAME-(N-1)` created in order, each only after
//! the previous ones are Ready (`OrderedReady`), removed from the highest ordinal down, and
//! replaced one at a time (highest first) when the template changes; status with current and
//! update revisions.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::build::{self, STS_POD_INDEX, STS_POD_NAME, STS_REVISION};
use super::replicasets::{OwnedPod, owned_pods};
use crate::ClusterState;
use crate::api::store::WatchEvent;
use crate::sim::clock;
use crate::sim::controller::{Key, OwnerIndex, Queue, Reconciler};
use crate::sim::events::{self, Severity, Source};
use crate::sim::fields;
use crate::sim::kinds::kinds;

/// `NAME-<template hash>`, the revision name the controller stamps on pods.
#[must_use]
pub fn update_revision(sts: &Value) -> String {
    let template = sts
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    format!("{}-{}", fields::name(sts), build::template_hash(&template))
}

fn ordinal(sts_name: &str, pod: &Value) -> Option<i64> {
    fields::name(pod)
        .strip_prefix(sts_name)
        .and_then(|s| s.strip_prefix('-'))
        .and_then(|s| s.parse().ok())
}

/// A StatefulSet's pod at an ordinal, stamped with a revision.
#[must_use]
pub fn pod_for(
    sts: &Value,
    ordinal: i64,
    revision: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Value {
    let name = format!("{}-{ordinal}", fields::name(sts));
    let mut template = sts
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    template["metadata"]["labels"][STS_REVISION] = json!(revision);
    template["metadata"]["labels"][STS_POD_NAME] = json!(name);
    template["metadata"]["labels"][STS_POD_INDEX] = json!(ordinal.to_string());
    let mut pod = build::pod(sts, &template, &name, now);
    pod["spec"]["hostname"] = json!(name);
    pod["spec"]["subdomain"] = sts
        .pointer("/spec/serviceName")
        .cloned()
        .unwrap_or(Value::Null);
    pod
}

/// Reconciles one StatefulSet.
pub fn sync(state: &ClusterState, ns: &str, name: &str) -> Option<Duration> {
    let k = kinds();
    let sts = state.store.get_value(k.statefulset, ns, name)?;
    let now = clock::now();
    let replicas = fields::i64_at(&sts, "/spec/replicas", 1).max(0);
    let update_rev = update_revision(&sts);
    let pods = owned_pods(state, ns, fields::uid(&sts));
    let by_ord: HashMap<i64, &OwnedPod> = pods
        .iter()
        .filter_map(|p| ordinal(name, &p.value).map(|o| (o, p)))
        .collect();
    let all_ready_below = |n: i64| (0..n).all(|o| by_ord.get(&o).is_some_and(|p| p.ready()));
    let any_terminating = pods.iter().any(|p| p.terminating);
    let record = |reason: &str, message: String| {
        events::record(
            state,
            &sts,
            Severity::Normal,
            reason,
            &message,
            Source::component("statefulset-controller"),
        );
    };

    // OrderedReady: one change at a time, and only when everything before it is Ready.
    if !any_terminating {
        if let Some(missing) = (0..replicas).find(|o| !by_ord.contains_key(o)) {
            if all_ready_below(missing) {
                let pod = pod_for(&sts, missing, &update_rev, now);
                let pod_name = fields::name(&pod).to_string();
                if state.store.insert(k.pod, pod).is_ok() {
                    record(
                        "SuccessfulCreate",
                        format!("create Pod {pod_name} in StatefulSet {name} successful"),
                    );
                }
            }
        } else if let Some(extra) = by_ord.keys().copied().filter(|o| *o >= replicas).max() {
            if all_ready_below(replicas) {
                mark_for_deletion(state, by_ord[&extra], now);
                record(
                    "SuccessfulDelete",
                    format!("delete Pod {name}-{extra} in StatefulSet {name} successful"),
                );
            }
        } else if all_ready_below(replicas) {
            // Rolling update: replace the highest-ordinal pod on an old revision.
            let outdated = (0..replicas).rev().find(|o| {
                by_ord
                    .get(o)
                    .is_some_and(|p| fields::label(&p.value, STS_REVISION) != update_rev)
            });
            if let Some(o) = outdated {
                mark_for_deletion(state, by_ord[&o], now);
                record(
                    "SuccessfulDelete",
                    format!("delete Pod {name}-{o} in StatefulSet {name} successful"),
                );
            }
        }
    }
    write_status(state, &sts, &update_rev);
    None
}

fn mark_for_deletion(state: &ClusterState, pod: &OwnedPod, now: chrono::DateTime<chrono::Utc>) {
    let k = kinds();
    state.store.modify(
        k.pod,
        fields::namespace(&pod.value),
        fields::name(&pod.value),
        |v| {
            let grace = fields::i64_at(v, "/spec/terminationGracePeriodSeconds", 30);
            v["metadata"]["deletionTimestamp"] = json!(clock::fmt(clock::plus(now, grace as f64)));
            v["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
        },
    );
}

/// Writes the StatefulSet status from its pods (re-read, so creations above count).
pub fn write_status(state: &ClusterState, sts: &Value, update_rev: &str) {
    let k = kinds();
    let ns = fields::namespace(sts);
    let name = fields::name(sts);
    let pods = owned_pods(state, ns, fields::uid(sts));
    let active: Vec<&OwnedPod> = pods.iter().filter(|p| !p.terminating).collect();
    let ready = active.iter().filter(|p| p.ready()).count() as i64;
    let updated = active
        .iter()
        .filter(|p| fields::label(&p.value, STS_REVISION) == update_rev)
        .count() as i64;
    let replicas = active.len() as i64;
    let old_current = fields::str_at(sts, "/status/currentRevision").to_string();
    let desired = fields::i64_at(sts, "/spec/replicas", 1);
    let current_rev = if old_current.is_empty() || (updated == desired && updated == replicas) {
        update_rev.to_string()
    } else {
        old_current
    };
    let current = active
        .iter()
        .filter(|p| fields::label(&p.value, STS_REVISION) == current_rev)
        .count() as i64;
    let generation = fields::i64_at(sts, "/metadata/generation", 1);
    state.store.modify(k.statefulset, ns, name, |v| {
        let mut status = json!({
            "observedGeneration": generation,
            "replicas": replicas,
            "readyReplicas": ready,
            "currentReplicas": current,
            "updatedReplicas": updated,
            "availableReplicas": ready,
            "currentRevision": current_rev,
            "updateRevision": update_rev,
            "collisionCount": 0,
        });
        for f in ["readyReplicas", "currentReplicas", "updatedReplicas"] {
            if status[f] == json!(0) {
                status.as_object_mut().map(|m| m.remove(f));
            }
        }
        v["status"] = status;
    });
}

/// The StatefulSet controller as a [`Reconciler`].
#[derive(Debug, Default)]
pub struct StatefulSetController {
    /// StatefulSets by uid, so pod events find their owner.
    owners: OwnerIndex,
}

impl Reconciler for StatefulSetController {
    fn resync(&mut self, state: &ClusterState, queue: &mut Queue) {
        self.owners.resync(state, kinds().statefulset, queue);
    }

    fn on_event(&mut self, _state: &ClusterState, ev: &WatchEvent, queue: &mut Queue) {
        let k = kinds();
        self.owners.on_event(ev, k.statefulset, k.pod, queue);
    }

    fn reconcile(&mut self, state: &ClusterState, key: &Key) -> Option<Duration> {
        sync(state, &key.1.ns, &key.1.name)
    }
}
