//! Seeding helpers for workloads that have been running for a while: a Deployment with its
//! revision history of ReplicaSets and Ready pods, a StatefulSet with its ordinal pods, and
//! crash-looping pods part-way through their back-off. Statuses are then written by the same
//! functions the controllers use, so the controllers find nothing to fix when they start.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::{Value, json};

use super::build::{self, REVISION};
use super::nodes::{self, NodeInfo};
use super::{deployments, pods, replicasets, statefulsets};
use crate::ClusterState;
use crate::sim::clock;
use crate::sim::events::{self, Severity, Source};
use crate::sim::fields;
use crate::sim::kinds::kinds;

/// The seed the ReplicaSet controller derives pod names from (per cluster).
#[must_use]
pub fn pod_name_seed(state: &ClusterState) -> u64 {
    state.options.seed ^ (state.profile.index as u64).wrapping_mul(0x9E37)
}

/// A crash loop to put a seeded pod in: which pod (by index) and its restart count so far.
#[derive(Debug, Clone, Copy)]
pub struct CrashLoop {
    pub pod_index: i64,
    pub restarts: i64,
    /// Seconds ago the container last exited.
    pub exited_secs_ago: i64,
}

/// Walks a new pod through scheduling and start-up as of `started`.
fn run_pod(
    state: &ClusterState,
    mut pod: Value,
    node: &NodeInfo,
    started: DateTime<Utc>,
    ready: bool,
) -> Value {
    let ip = pods::pod_ip(
        state.profile.index,
        fields::namespace(&pod),
        fields::name(&pod),
    );
    pods::schedule(&mut pod, &node.name, started);
    pods::start_creating(&mut pod, &node.ip, started + ChronoDuration::seconds(1));
    pods::start_running(&mut pod, &ip, started + ChronoDuration::seconds(3));
    if ready {
        pods::become_ready(&mut pod, started + ChronoDuration::seconds(8));
    }
    pod
}

/// Gives a copy of a started pod its own name, node, addresses and container ids.
fn place(state: &ClusterState, pod: &mut Value, name: &str, node: &NodeInfo, ready: bool) {
    let ns = fields::namespace(pod).to_string();
    let ip = pods::pod_ip(state.profile.index, &ns, name);
    pod["metadata"]["name"] = json!(name);
    pod["spec"]["nodeName"] = json!(node.name);
    pod["status"]["hostIP"] = json!(node.ip);
    pod["status"]["hostIPs"] = json!([{ "ip": node.ip }]);
    pod["status"]["podIP"] = json!(ip);
    pod["status"]["podIPs"] = json!([{ "ip": ip }]);
    if let Some(statuses) = pod["status"]["containerStatuses"].as_array_mut() {
        for c in statuses {
            let container = fields::str_at(c, "/name").to_string();
            c["containerID"] = json!(pods::container_id_for(&ns, name, &container, 0));
        }
    }
    if !ready {
        let started = clock::at(pod, "/status/startTime").unwrap_or_else(clock::now);
        pods::mark_not_ready(pod, started);
    }
}

/// Puts an inserted pod into CrashLoopBackOff with `c.restarts` restarts, and records the
/// BackOff event history the kubelet would have left.
fn crash_pod(state: &ClusterState, ns: &str, name: &str, c: CrashLoop, now: DateTime<Utc>) {
    let k = kinds();
    let exited = now - ChronoDuration::seconds(c.exited_secs_ago);
    let started = exited - ChronoDuration::seconds(6);
    let Some(pod) = state.store.modify(k.pod, ns, name, |v| {
        v["status"]["containerStatuses"][0]["restartCount"] = json!(c.restarts - 1);
        pods::restart(v, started);
        pods::crash(v, exited, pods::backoff_secs(c.restarts));
    }) else {
        return;
    };
    let node = fields::str_at(&pod, "/spec/nodeName").to_string();
    let container = fields::str_at(&pod, "/spec/containers/0/name").to_string();
    let first = exited - ChronoDuration::seconds(300 * c.restarts.min(11));
    events::record_span(
        state,
        &pod,
        Severity::Warning,
        "BackOff",
        &format!(
            "Back-off restarting failed container {container} in pod {name}_{ns}({})",
            fields::uid(&pod)
        ),
        Source::kubelet(&node),
        first,
        exited,
        c.restarts + 3,
    );
}

/// Seeds a Deployment that went through `history` (pod templates with their rollout times,
/// oldest first): one ReplicaSet per revision, pods for the newest. Returns the stored
/// Deployment.
pub fn deployment(
    state: &ClusterState,
    nodes: &[NodeInfo],
    deployment: Value,
    history: &[(Value, DateTime<Utc>)],
    crash: Option<CrashLoop>,
    now: DateTime<Utc>,
) -> Option<Value> {
    let k = kinds();
    let d = state.store.insert(k.deployment, deployment).ok()?;
    let ns = fields::namespace(&d).to_string();
    let name = fields::name(&d).to_string();
    let replicas = fields::i64_at(&d, "/spec/replicas", 1);
    let seed = pod_name_seed(state);
    let mut last_rollout = now;
    let mut new_rs = String::new();
    for (i, (template, at)) in history.iter().enumerate() {
        let current = i + 1 == history.len();
        let hash = build::template_hash(template);
        let rs = build::replicaset(
            &d,
            template,
            &hash,
            i as i64 + 1,
            if current { replicas } else { 0 },
            *at,
        );
        let Ok(rs) = state.store.insert(k.replicaset, rs) else {
            continue;
        };
        let rs_name = fields::name(&rs).to_string();
        if current {
            last_rollout = *at;
            new_rs = rs_name.clone();
            let rs_template = rs
                .pointer("/spec/template")
                .cloned()
                .unwrap_or_else(|| json!({}));
            // One pod walked through start-up, then copied per replica: seeding thousands of
            // pods stays cheap.
            let proto = nodes.first().map(|n| {
                run_pod(
                    state,
                    build::pod(&rs, &rs_template, &rs_name, *at),
                    n,
                    *at,
                    true,
                )
            });
            let mut next_name = 0;
            for p in 0..replicas {
                let pod_name = build::pod_name(seed, &rs_name, &mut next_name, |n| {
                    state.store.get(k.pod, &ns, n).is_some()
                });
                let (Some(node), Some(proto)) =
                    (nodes::pick(nodes, &ns, &pod_name), proto.as_ref())
                else {
                    continue;
                };
                let crashing = crash.filter(|c| c.pod_index == p);
                let mut pod = proto.clone();
                place(state, &mut pod, &pod_name, node, crashing.is_none());
                if state.store.insert(k.pod, pod).is_ok()
                    && let Some(c) = crashing
                {
                    crash_pod(state, &ns, &pod_name, c, now);
                }
            }
        }
        replicasets::sync(state, &ns, &rs_name, &mut 0);
    }
    // The status the controller last wrote, so the first sync sees no progress.
    let ready = replicas - i64::from(crash.is_some_and(|c| c.pod_index < replicas));
    let done = clock::fmt(last_rollout + ChronoDuration::seconds(20 + 4 * replicas));
    let progressing = if ready == replicas {
        json!({"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
            "message": format!("ReplicaSet \"{new_rs}\" has successfully progressed."),
            "lastUpdateTime": done, "lastTransitionTime": clock::fmt(last_rollout)})
    } else {
        let deadline = clock::fmt(last_rollout + ChronoDuration::seconds(600));
        json!({"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
            "message": format!("ReplicaSet \"{new_rs}\" has timed out progressing."),
            "lastUpdateTime": deadline, "lastTransitionTime": deadline})
    };
    let created = fields::str_at(&d, "/metadata/creationTimestamp").to_string();
    state.store.modify(k.deployment, &ns, &name, |v| {
        v["status"] = json!({
            "observedGeneration": 1,
            "replicas": replicas, "updatedReplicas": replicas,
            "readyReplicas": ready, "availableReplicas": ready,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                 "message": "Deployment has minimum availability.",
                 "lastUpdateTime": created, "lastTransitionTime": created},
                progressing,
            ],
        });
        fields::set_annotation(v, REVISION, &history.len().to_string());
    });
    deployments::sync(state, &ns, &name);
    if history.len() > 1 {
        events::record_span(
            state,
            &d,
            Severity::Normal,
            "ScalingReplicaSet",
            &format!("Scaled up replica set {new_rs} from 0 to {replicas}"),
            Source::component("deployment-controller"),
            last_rollout,
            last_rollout,
            1,
        );
    }
    state.store.get_value(k.deployment, &ns, &name)
}

/// Seeds a StatefulSet with Ready pods `NAME-0..N`.
pub fn statefulset(
    state: &ClusterState,
    nodes: &[NodeInfo],
    sts: Value,
    started: DateTime<Utc>,
) -> Option<Value> {
    let k = kinds();
    let s = state.store.insert(k.statefulset, sts).ok()?;
    let ns = fields::namespace(&s).to_string();
    let rev = statefulsets::update_revision(&s);
    let replicas = fields::i64_at(&s, "/spec/replicas", 1);
    for o in 0..replicas {
        let at = started + ChronoDuration::seconds(25 * o);
        let pod = statefulsets::pod_for(&s, o, &rev, at);
        let Some(node) = nodes::pick(nodes, &ns, fields::name(&pod)) else {
            continue;
        };
        let pod = run_pod(state, pod, node, at, true);
        let _ = state.store.insert(k.pod, pod);
    }
    statefulsets::write_status(state, &s, &rev);
    state.store.get_value(k.statefulset, &ns, fields::name(&s))
}
