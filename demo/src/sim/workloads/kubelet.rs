//! The simulated scheduler and kubelets: bind new pods to a Ready node (pods that name another
//! `schedulerName` are left Pending for it, as the default scheduler does), create and start their
//! containers, pass readiness after a paced delay, keep crash-looping containers crashing with
//! the kubelet's back-off, and finish graceful deletions. Events are the ones `kubectl
//! describe pod` shows (Scheduled, Pulled, Created, Started, BackOff, Killing).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::nodes::{self, NodeInfo};
use super::pods::{self, Stage};
use crate::ClusterState;
use crate::api::store::{EventType, ObjKey, WatchEvent};
use crate::sim::clock;
use crate::sim::controller::{Key, Queue, Reconciler};
use crate::sim::events::{self, Severity, Source};
use crate::sim::fields::{self, fnv64};
use crate::sim::kinds::kinds;
use crate::sim::pace::Pace;

/// Simulated seconds a step takes, varied per pod by a stable hash so pods do not move in
/// lockstep: (creating containers, passing readiness, running before a crash).
fn step_secs(pod_name: &str, stage: Stage) -> f64 {
    let jitter = (fnv64(pod_name.as_bytes()) % 1000) as f64 / 1000.0;
    match stage {
        Stage::Unscheduled => 0.5 + jitter,
        Stage::Creating => 1.5 + 2.5 * jitter,
        Stage::Starting => 2.0 + 6.0 * jitter,
        Stage::CrashRunning => 3.0 + 5.0 * jitter,
        Stage::Ready | Stage::BackOff | Stage::Finished => 0.0,
    }
}

/// The scheduler the simulation stands in for; the API server defaults `spec.schedulerName`
/// to it, so an empty name means it too.
const DEFAULT_SCHEDULER: &str = "default-scheduler";

fn for_default_scheduler(pod: &Value) -> bool {
    matches!(
        fields::str_at(pod, "/spec/schedulerName"),
        "" | DEFAULT_SCHEDULER
    )
}

/// Simulated seconds between a graceful delete and the pod being gone.
const STOP_SECS: f64 = 3.0;

/// The scheduler and kubelets as one [`Reconciler`] over pods.
#[derive(Debug, Default)]
pub struct Kubelet {
    nodes: Vec<NodeInfo>,
    /// When the current step of a pod is due, for steps timed from when they were seen.
    due: HashMap<ObjKey, (Stage, Instant)>,
}

impl Kubelet {
    fn refresh_nodes(&mut self, state: &ClusterState) {
        let (all, _) = state.store.list(kinds().node, None);
        self.nodes = all
            .iter()
            .map(|n| NodeInfo::from_node(&n.value()))
            .collect();
    }

    /// When the pod's current step is due, remembering when the step was first seen.
    fn due_for(&mut self, state: &ClusterState, key: &ObjKey, stage: Stage) -> Instant {
        let pace = Pace::new(state.options.speed);
        match self.due.get(key) {
            Some((s, at)) if *s == stage => *at,
            _ => {
                let at = Instant::now() + pace.secs(step_secs(&key.name, stage));
                self.due.insert(key.clone(), (stage, at));
                at
            }
        }
    }

    fn node_ip(&self, node: &str) -> String {
        self.nodes
            .iter()
            .find(|n| n.name == node)
            .map(|n| n.ip.clone())
            .unwrap_or_default()
    }

    fn sync(&mut self, state: &ClusterState, key: &ObjKey) -> Option<Duration> {
        let k = kinds();
        let Some(pod) = state.store.get_value(k.pod, &key.ns, &key.name) else {
            self.due.remove(key);
            return None;
        };
        let pace = Pace::new(state.options.speed);
        let now = clock::now();
        let node = fields::str_at(&pod, "/spec/nodeName").to_string();
        if pod.pointer("/metadata/deletionTimestamp").is_some() {
            return self.terminate(state, key, &pod, &node);
        }
        let stage = pods::stage(&pod);
        let container = fields::str_at(&pod, "/spec/containers/0/name").to_string();
        let image = fields::str_at(&pod, "/spec/containers/0/image").to_string();
        match stage {
            Stage::Ready | Stage::Finished => {
                self.due.remove(key);
                None
            }
            // Pods that name another scheduler wait for it, Pending, as on a real cluster
            // where only that scheduler would bind them.
            Stage::Unscheduled if !for_default_scheduler(&pod) => {
                self.due.remove(key);
                None
            }
            Stage::Unscheduled => {
                if self.nodes.is_empty() {
                    self.refresh_nodes(state);
                }
                let Some(target) = nodes::pick(&self.nodes, &key.ns, &key.name).cloned() else {
                    let total = self.nodes.len();
                    events::record(
                        state,
                        &pod,
                        Severity::Warning,
                        "FailedScheduling",
                        &format!(
                            "0/{total} nodes are available: {total} node(s) didn't match Pod's node affinity/selector or had untolerated taints. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
                        ),
                        Source::component("default-scheduler"),
                    );
                    return Some(pace.secs(30.0));
                };
                let updated = state.store.modify(k.pod, &key.ns, &key.name, |v| {
                    pods::schedule(v, &target.name, now);
                });
                if updated.is_some() {
                    events::record(
                        state,
                        &pod,
                        Severity::Normal,
                        "Scheduled",
                        &format!(
                            "Successfully assigned {}/{} to {}",
                            key.ns, key.name, target.name
                        ),
                        Source::component("default-scheduler"),
                    );
                }
                None
            }
            Stage::Creating => {
                let has_statuses = !fields::array_at(&pod, "/status/containerStatuses").is_empty();
                if !has_statuses {
                    let host_ip = self.node_ip(&node);
                    state.store.modify(k.pod, &key.ns, &key.name, |v| {
                        pods::start_creating(v, &host_ip, now);
                    });
                    return None;
                }
                let at = self.due_for(state, key, stage);
                if at > Instant::now() {
                    return Some(at - Instant::now());
                }
                let ip = pods::pod_ip(state.profile.index, &key.ns, &key.name);
                let updated = state.store.modify(k.pod, &key.ns, &key.name, |v| {
                    pods::start_running(v, &ip, now);
                });
                if let Some(v) = updated {
                    record_start(state, &v, &node, &container, &image);
                }
                None
            }
            Stage::Starting => {
                let at = self.due_for(state, key, stage);
                if at > Instant::now() {
                    return Some(at - Instant::now());
                }
                state
                    .store
                    .modify(k.pod, &key.ns, &key.name, |v| pods::become_ready(v, now));
                self.due.remove(key);
                None
            }
            Stage::BackOff => {
                let restarts = pods::restarts(&pod);
                let finished = clock::at(
                    &pod,
                    "/status/containerStatuses/0/lastState/terminated/finishedAt",
                )
                .unwrap_or(now);
                let due =
                    clock::plus_real(finished, pace.secs(pods::backoff_secs(restarts) as f64));
                if due > now {
                    return Some(clock::until(due));
                }
                let updated = state
                    .store
                    .modify(k.pod, &key.ns, &key.name, |v| pods::restart(v, now));
                if let Some(v) = updated {
                    record_start(state, &v, &node, &container, &image);
                }
                None
            }
            Stage::CrashRunning => {
                let started =
                    clock::at(&pod, "/status/containerStatuses/0/state/running/startedAt")
                        .unwrap_or(now);
                let due = clock::plus_real(started, pace.secs(step_secs(&key.name, stage)));
                if due > now {
                    return Some(clock::until(due));
                }
                let backoff = pods::backoff_secs(pods::restarts(&pod));
                let updated = state.store.modify(k.pod, &key.ns, &key.name, |v| {
                    pods::crash(v, now, backoff);
                });
                if let Some(v) = updated {
                    events::record(
                        state,
                        &v,
                        Severity::Warning,
                        "BackOff",
                        &format!(
                            "Back-off restarting failed container {container} in pod {}_{}({})",
                            key.name,
                            key.ns,
                            fields::uid(&v)
                        ),
                        Source::kubelet(&node),
                    );
                }
                None
            }
        }
    }

    /// A pod marked for deletion: stop its containers, then remove it.
    fn terminate(
        &mut self,
        state: &ClusterState,
        key: &ObjKey,
        pod: &Value,
        node: &str,
    ) -> Option<Duration> {
        let k = kinds();
        let now = clock::now();
        if node.is_empty() {
            // Never started: nothing to stop.
            let _ = state.store.delete(k.pod, &key.ns, &key.name, false);
            self.due.remove(key);
            return None;
        }
        let first_seen = !matches!(self.due.get(key), Some((Stage::Finished, _)));
        let at = if first_seen {
            let at = Instant::now() + Pace::new(state.options.speed).secs(STOP_SECS);
            self.due.insert(key.clone(), (Stage::Finished, at));
            for c in fields::array_at(pod, "/spec/containers") {
                events::record(
                    state,
                    pod,
                    Severity::Normal,
                    "Killing",
                    &format!("Stopping container {}", fields::str_at(c, "/name")),
                    Source::kubelet(node),
                );
            }
            state
                .store
                .modify(k.pod, &key.ns, &key.name, |v| pods::mark_not_ready(v, now));
            at
        } else {
            self.due.get(key).map_or_else(Instant::now, |(_, at)| *at)
        };
        if at > Instant::now() {
            return Some(at - Instant::now());
        }
        let _ = state.store.delete(k.pod, &key.ns, &key.name, false);
        self.due.remove(key);
        None
    }
}

/// The kubelet's events for (re)starting a pod's first container.
fn record_start(state: &ClusterState, pod: &Value, node: &str, container: &str, image: &str) {
    let src = Source::kubelet(node);
    events::record(
        state,
        pod,
        Severity::Normal,
        "Pulled",
        &format!("Container image \"{image}\" already present on machine"),
        src,
    );
    events::record(
        state,
        pod,
        Severity::Normal,
        "Created",
        &format!("Created container: {container}"),
        src,
    );
    events::record(
        state,
        pod,
        Severity::Normal,
        "Started",
        &format!("Started container {container}"),
        src,
    );
}

impl Reconciler for Kubelet {
    fn resync(&mut self, state: &ClusterState, queue: &mut Queue) {
        self.refresh_nodes(state);
        queue.push_all(state, kinds().pod, None);
    }

    fn on_event(&mut self, state: &ClusterState, ev: &WatchEvent, queue: &mut Queue) {
        let k = kinds();
        if ev.type_id == k.node {
            self.refresh_nodes(state);
        } else if ev.type_id == k.pod {
            if ev.kind == EventType::Deleted {
                self.due.remove(&ev.object.key);
            } else {
                queue.push((k.pod, ev.object.key.clone()));
            }
        }
    }

    fn reconcile(&mut self, state: &ClusterState, key: &Key) -> Option<Duration> {
        self.sync(state, &key.1)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_pods_for_the_default_scheduler_are_scheduled_here() {
        assert!(for_default_scheduler(&json!({"spec": {}})));
        assert!(for_default_scheduler(
            &json!({"spec": {"schedulerName": "default-scheduler"}})
        ));
        assert!(!for_default_scheduler(
            &json!({"spec": {"schedulerName": "volcano"}})
        ));
    }
}
