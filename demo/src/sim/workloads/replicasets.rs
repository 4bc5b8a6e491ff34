//! The ReplicaSet controller: keeps `spec.replicas` pods for every ReplicaSet, whoever owns it
//! (a Deployment here, a Rollout in the Argo Rollouts simulation), and writes the ReplicaSet's
//! status from its pods.
//!
//! Pods are created Pending (the simulated kubelet takes them from there) and removed
//! gracefully: the controller marks the chosen pods with `deletionTimestamp`, as a DELETE with a
//! grace period would, and the kubelet deletes them once their containers stopped.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::build;
use super::pods::{self, Stage};
use crate::ClusterState;
use crate::api::store::{ObjKey, StoredObject, WatchEvent};
use crate::sim::clock;
use crate::sim::controller::{Key, OwnerIndex, Queue, Reconciler};
use crate::sim::events::{self, Severity, Source};
use crate::sim::fields;
use crate::sim::kinds::kinds;
use crate::sim::pace::Pace;

/// The pods a controller owns, parsed, with the stored form for cheap reads.
#[derive(Debug)]
pub struct OwnedPod {
    pub value: Value,
    pub terminating: bool,
    pub stage: Stage,
}

impl OwnedPod {
    #[must_use]
    pub fn ready(&self) -> bool {
        !self.terminating && self.stage == Stage::Ready
    }

    /// When the pod became Ready (the Ready condition's transition time).
    #[must_use]
    pub fn ready_since(&self) -> Option<DateTime<Utc>> {
        fields::condition(fields::array_at(&self.value, "/status/conditions"), "Ready")
            .filter(|c| c.get("status").and_then(Value::as_str) == Some("True"))
            .and_then(|c| c.get("lastTransitionTime"))
            .and_then(Value::as_str)
            .and_then(clock::parse)
    }
}

/// Pods in `ns` whose controller owner has `owner_uid`.
#[must_use]
pub fn owned_pods(state: &ClusterState, ns: &str, owner_uid: &str) -> Vec<OwnedPod> {
    let (all, _) = state.store.list(kinds().pod, Some(ns));
    all.iter()
        .filter(|p| p.owner_uids.first().is_some_and(|u| u == owner_uid))
        .map(|p: &std::sync::Arc<StoredObject>| {
            let value = p.value();
            OwnedPod {
                terminating: value.pointer("/metadata/deletionTimestamp").is_some(),
                stage: pods::stage(&value),
                value,
            }
        })
        .filter(|p| p.stage != Stage::Finished)
        .collect()
}

/// Order in which surplus pods are removed (first = removed first), after the ReplicaSet
/// controller's ranking: unscheduled, then not running, then not ready, then most restarts,
/// then the newest.
fn deletion_rank(p: &OwnedPod) -> (u8, u8, u8, i64, std::cmp::Reverse<String>) {
    let unscheduled = u8::from(p.stage != Stage::Unscheduled);
    let pending = u8::from(matches!(
        p.stage,
        Stage::Ready | Stage::Starting | Stage::CrashRunning | Stage::BackOff
    ));
    let ready = u8::from(p.stage == Stage::Ready);
    (
        unscheduled,
        pending,
        ready,
        -pods::restarts(&p.value),
        std::cmp::Reverse(fields::str_at(&p.value, "/metadata/creationTimestamp").to_string()),
    )
}

/// Brings one ReplicaSet's pods to `spec.replicas` and writes its status. `next_name` is the
/// ReplicaSet's pod-name counter (see [`build::pod_name`]). Returns when to look again (pods
/// becoming available after `minReadySeconds`).
pub fn sync(state: &ClusterState, ns: &str, name: &str, next_name: &mut u64) -> Option<Duration> {
    let k = kinds();
    let rs = state.store.get_value(k.replicaset, ns, name)?;
    let now = clock::now();
    let uid = fields::uid(&rs).to_string();
    let desired = fields::i64_at(&rs, "/spec/replicas", 1).max(0);
    let mut pods = owned_pods(state, ns, &uid);
    let active = pods.iter().filter(|p| !p.terminating).count() as i64;

    if active < desired {
        let template = rs
            .pointer("/spec/template")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let mut made: HashSet<String> = HashSet::new();
        let seed = state.options.seed ^ (state.profile.index as u64).wrapping_mul(0x9E37);
        for _ in active..desired {
            let pod_name = build::pod_name(seed, name, next_name, |n| {
                made.contains(n) || state.store.get(k.pod, ns, n).is_some()
            });
            let pod = build::pod(&rs, &template, &pod_name, now);
            if let Ok(stored) = state.store.insert(k.pod, pod) {
                events::record(
                    state,
                    &rs,
                    Severity::Normal,
                    "SuccessfulCreate",
                    &format!("Created pod: {pod_name}"),
                    Source::component("replicaset-controller"),
                );
                made.insert(pod_name);
                pods.push(OwnedPod {
                    stage: pods::stage(&stored),
                    value: stored,
                    terminating: false,
                });
            }
        }
    } else if active > desired {
        let mut victims: Vec<&mut OwnedPod> = pods.iter_mut().filter(|p| !p.terminating).collect();
        victims.sort_by_key(|p| deletion_rank(p));
        for p in victims.into_iter().take((active - desired) as usize) {
            let pod_name = fields::name(&p.value).to_string();
            let marked = state.store.modify(k.pod, ns, &pod_name, |v| {
                let grace_secs = fields::i64_at(v, "/spec/terminationGracePeriodSeconds", 30);
                v["metadata"]["deletionTimestamp"] =
                    json!(clock::fmt(clock::plus(now, grace_secs as f64)));
                v["metadata"]["deletionGracePeriodSeconds"] = json!(grace_secs);
            });
            if marked.is_some() {
                p.terminating = true;
                events::record(
                    state,
                    &rs,
                    Severity::Normal,
                    "SuccessfulDelete",
                    &format!("Deleted pod: {pod_name}"),
                    Source::component("replicaset-controller"),
                );
            }
        }
    }
    write_status(state, &rs, &pods, now)
}

/// Writes `status` from the owned pods; returns when a ready pod will become available.
pub fn write_status(
    state: &ClusterState,
    rs: &Value,
    pods: &[OwnedPod],
    now: DateTime<Utc>,
) -> Option<Duration> {
    let pace = Pace::new(state.options.speed);
    let min_ready = fields::i64_at(rs, "/spec/minReadySeconds", 0);
    let active: Vec<&OwnedPod> = pods.iter().filter(|p| !p.terminating).collect();
    let ready = active.iter().filter(|p| p.ready()).count() as i64;
    let mut available = 0i64;
    let mut next: Option<DateTime<Utc>> = None;
    for p in active.iter().filter(|p| p.ready()) {
        if min_ready == 0 {
            available += 1;
            continue;
        }
        let since = p.ready_since().unwrap_or(now);
        let at = clock::plus_real(since, pace.secs(min_ready as f64));
        if at <= now {
            available += 1;
        } else {
            next = Some(next.map_or(at, |n| n.min(at)));
        }
    }
    let generation = fields::i64_at(rs, "/metadata/generation", 1);
    let replicas = active.len() as i64;
    let mut status = json!({
        "replicas": replicas,
        "fullyLabeledReplicas": replicas,
        "observedGeneration": generation,
    });
    // The API omits zero counts.
    if ready > 0 {
        status["readyReplicas"] = json!(ready);
    }
    if available > 0 {
        status["availableReplicas"] = json!(available);
    }
    if replicas == 0 {
        status
            .as_object_mut()
            .map(|m| m.remove("fullyLabeledReplicas"));
    }
    let k = kinds();
    state
        .store
        .modify(k.replicaset, fields::namespace(rs), fields::name(rs), |v| {
            v["status"] = status;
        });
    next.map(clock::until)
}

/// The ReplicaSet controller as a [`Reconciler`].
#[derive(Debug, Default)]
pub struct ReplicaSetController {
    /// ReplicaSets by uid, so pod events find their owner.
    owners: OwnerIndex,
    /// Pod-name counter per ReplicaSet (starting past the pods it had when first seen).
    next_name: HashMap<ObjKey, u64>,
}

impl Reconciler for ReplicaSetController {
    fn resync(&mut self, state: &ClusterState, queue: &mut Queue) {
        self.owners.resync(state, kinds().replicaset, queue);
    }

    fn on_event(&mut self, _state: &ClusterState, ev: &WatchEvent, queue: &mut Queue) {
        let k = kinds();
        self.owners.on_event(ev, k.replicaset, k.pod, queue);
    }

    fn reconcile(&mut self, state: &ClusterState, key: &Key) -> Option<Duration> {
        let next = self.next_name.entry(key.1.clone()).or_insert_with(|| {
            state
                .store
                .get(kinds().replicaset, &key.1.ns, &key.1.name)
                .map_or(0, |rs| owned_pods(state, &key.1.ns, &rs.uid).len() as u64)
        });
        sync(state, &key.1.ns, &key.1.name, next)
    }
}
