//! Pod status as the scheduler and kubelet write it, one lifecycle step at a time:
//! scheduled → containers creating → running (not ready) → ready, and the crash loop
//! (running → terminated with an error → CrashLoopBackOff → restarted). The simulated kubelet
//! and the seeder both use these steps, and [`stage`] reads the step back from a pod.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::sim::clock;
use crate::sim::fields::{self, fnv64};

/// Where a pod is in its lifecycle, read from its spec and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Unscheduled,
    /// Bound to a node; the sandbox and containers are being created.
    Creating,
    /// Containers running, readiness not yet passed.
    Starting,
    Ready,
    /// Waiting to restart a container that exited with an error.
    BackOff,
    /// Restarted after a crash and about to crash again.
    CrashRunning,
    /// Succeeded or Failed.
    Finished,
}

/// Reads the lifecycle stage of a pod.
#[must_use]
pub fn stage(pod: &Value) -> Stage {
    if fields::str_at(pod, "/spec/nodeName").is_empty() {
        return Stage::Unscheduled;
    }
    let phase = fields::str_at(pod, "/status/phase");
    if phase == "Succeeded" || phase == "Failed" {
        return Stage::Finished;
    }
    let statuses = fields::array_at(pod, "/status/containerStatuses");
    let Some(first) = statuses.first() else {
        return Stage::Creating;
    };
    if let Some(w) = first.pointer("/state/waiting") {
        return if w.get("reason").and_then(Value::as_str) == Some("CrashLoopBackOff") {
            Stage::BackOff
        } else {
            Stage::Creating
        };
    }
    if first.pointer("/state/running").is_some() {
        let crashed_before = first
            .pointer("/lastState/terminated/exitCode")
            .and_then(Value::as_i64)
            .is_some_and(|c| c != 0);
        if crashed_before {
            return Stage::CrashRunning;
        }
        let ready = statuses
            .iter()
            .all(|c| c.get("ready").and_then(Value::as_bool) == Some(true));
        return if ready { Stage::Ready } else { Stage::Starting };
    }
    Stage::Creating
}

/// The restart count of the first container.
#[must_use]
pub fn restarts(pod: &Value) -> i64 {
    fields::i64_at(pod, "/status/containerStatuses/0/restartCount", 0)
}

/// A deterministic pod IP for a cluster (10.64.0.0/10 range, one /16 per cluster).
#[must_use]
pub fn pod_ip(cluster: usize, ns: &str, name: &str) -> String {
    let h = fnv64(format!("{ns}/{name}").as_bytes());
    format!(
        "10.{}.{}.{}",
        64 + (cluster % 64),
        (h >> 16) % 254 + 1,
        (h & 0xff) % 254 + 1
    )
}

fn hex64(seed: &str) -> String {
    let a = fnv64(seed.as_bytes());
    let b = fnv64(format!("{seed}#").as_bytes());
    let c = fnv64(format!("{seed}##").as_bytes());
    let d = fnv64(format!("{seed}###").as_bytes());
    format!("{a:016x}{b:016x}{c:016x}{d:016x}")
}

fn containers(pod: &Value) -> Vec<(String, String)> {
    fields::array_at(pod, "/spec/containers")
        .iter()
        .map(|c| {
            (
                fields::str_at(c, "/name").to_string(),
                fields::str_at(c, "/image").to_string(),
            )
        })
        .collect()
}

fn image_id(image: &str) -> String {
    let repo = image.rsplit_once(':').map_or(image, |(r, _)| r);
    format!("{repo}@sha256:{}", hex64(repo))
}

fn container_id(pod: &Value, container: &str, restarts: i64) -> String {
    container_id_for(
        fields::namespace(pod),
        fields::name(pod),
        container,
        restarts,
    )
}

/// The runtime's id of a container instance (one per restart).
#[must_use]
pub fn container_id_for(ns: &str, pod: &str, container: &str, restarts: i64) -> String {
    format!(
        "containerd://{}",
        hex64(&format!("{ns}/{pod}/{container}/{restarts}"))
    )
}

/// Sets a pod condition, keeping `lastTransitionTime` when the status does not change.
fn set_condition(pod: &mut Value, type_: &str, status: bool, reason: Option<&str>, now: &str) {
    let status_s = if status { "True" } else { "False" };
    if !pod["status"]["conditions"].is_array() {
        pod["status"]["conditions"] = json!([]);
    }
    let Some(conds) = pod["status"]["conditions"].as_array_mut() else {
        return;
    };
    let mut cond = json!({
        "type": type_,
        "status": status_s,
        "lastProbeTime": null,
        "lastTransitionTime": now,
    });
    if let (false, Some(reason)) = (status, reason) {
        cond["reason"] = json!(reason);
    }
    match conds
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
    {
        Some(existing) => {
            if existing.get("status").and_then(Value::as_str) == Some(status_s) {
                cond["lastTransitionTime"] = existing["lastTransitionTime"].clone();
            }
            *existing = cond;
        }
        None => conds.push(cond),
    }
    // Keep the kubelet's order.
    const ORDER: &[&str] = &[
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ];
    conds.sort_by_key(|c| {
        ORDER
            .iter()
            .position(|t| c.get("type").and_then(Value::as_str) == Some(*t))
            .unwrap_or(ORDER.len())
    });
}

fn set_ready_conditions(pod: &mut Value, ready: bool, now: &str) {
    let names: Vec<String> = containers(pod).into_iter().map(|(n, _)| n).collect();
    set_condition(pod, "Ready", ready, Some("ContainersNotReady"), now);
    set_condition(
        pod,
        "ContainersReady",
        ready,
        Some("ContainersNotReady"),
        now,
    );
    let message = format!("containers with unready status: [{}]", names.join(" "));
    if let Some(conds) = pod["status"]["conditions"].as_array_mut() {
        for c in conds.iter_mut() {
            let t = c.get("type").and_then(Value::as_str).unwrap_or_default();
            if (t == "Ready" || t == "ContainersReady") && !ready {
                c["message"] = json!(message);
            }
        }
    }
}

/// The scheduler binds the pod to `node`.
pub fn schedule(pod: &mut Value, node: &str, now: DateTime<Utc>) {
    let now = clock::fmt(now);
    pod["spec"]["nodeName"] = json!(node);
    pod["status"]["phase"] = json!("Pending");
    pod["status"]["qosClass"] = json!("Burstable");
    set_condition(pod, "PodScheduled", true, None, &now);
}

/// The kubelet admits the pod and starts creating its containers.
pub fn start_creating(pod: &mut Value, host_ip: &str, now: DateTime<Utc>) {
    let now_s = clock::fmt(now);
    pod["status"]["hostIP"] = json!(host_ip);
    pod["status"]["hostIPs"] = json!([{ "ip": host_ip }]);
    pod["status"]["startTime"] = json!(now_s);
    set_condition(pod, "PodReadyToStartContainers", true, None, &now_s);
    set_condition(pod, "Initialized", true, None, &now_s);
    set_ready_conditions(pod, false, &now_s);
    let statuses: Vec<Value> = containers(pod)
        .into_iter()
        .map(|(name, image)| {
            json!({
                "name": name,
                "image": image,
                "imageID": "",
                "ready": false,
                "started": false,
                "restartCount": 0,
                "state": { "waiting": { "reason": "ContainerCreating" } },
                "lastState": {},
            })
        })
        .collect();
    pod["status"]["containerStatuses"] = json!(statuses);
}

/// Containers are running; readiness has not passed yet.
pub fn start_running(pod: &mut Value, pod_ip: &str, now: DateTime<Utc>) {
    let now_s = clock::fmt(now);
    pod["status"]["phase"] = json!("Running");
    pod["status"]["podIP"] = json!(pod_ip);
    pod["status"]["podIPs"] = json!([{ "ip": pod_ip }]);
    let statuses: Vec<Value> = containers(pod)
        .into_iter()
        .map(|(name, image)| {
            json!({
                "name": name,
                "image": image,
                "imageID": image_id(&image),
                "containerID": container_id(pod, &name, 0),
                "ready": false,
                "started": true,
                "restartCount": 0,
                "state": { "running": { "startedAt": now_s } },
                "lastState": {},
            })
        })
        .collect();
    pod["status"]["containerStatuses"] = json!(statuses);
    set_ready_conditions(pod, false, &now_s);
}

/// Readiness probes pass.
pub fn become_ready(pod: &mut Value, now: DateTime<Utc>) {
    set_containers_ready(pod, true, now);
}

/// The terminating pod's containers stop being ready (the kubelet stops probing).
pub fn mark_not_ready(pod: &mut Value, now: DateTime<Utc>) {
    set_containers_ready(pod, false, now);
}

/// Every container's `ready`, and the pod's conditions to match.
fn set_containers_ready(pod: &mut Value, ready: bool, now: DateTime<Utc>) {
    if let Some(statuses) = pod["status"]["containerStatuses"].as_array_mut() {
        for c in statuses {
            c["ready"] = json!(ready);
        }
    }
    set_ready_conditions(pod, ready, &clock::fmt(now));
}

/// The first container exits with an error and enters CrashLoopBackOff; `backoff_secs` is
/// the kubelet's current back-off, shown in the waiting message.
pub fn crash(pod: &mut Value, now: DateTime<Utc>, backoff_secs: i64) {
    let now_s = clock::fmt(now);
    let pod_name = fields::name(pod).to_string();
    let ns = fields::namespace(pod).to_string();
    let uid = fields::uid(pod).to_string();
    if let Some(c) = pod["status"]["containerStatuses"]
        .as_array_mut()
        .and_then(|s| s.first_mut())
    {
        let started = c
            .pointer("/state/running/startedAt")
            .cloned()
            .unwrap_or_else(|| json!(now_s));
        let name = c["name"].as_str().unwrap_or_default().to_string();
        c["lastState"] = json!({ "terminated": {
            "exitCode": 1,
            "reason": "Error",
            "startedAt": started,
            "finishedAt": now_s,
            "containerID": c.get("containerID").cloned().unwrap_or(Value::Null),
        }});
        c["state"] = json!({ "waiting": {
            "reason": "CrashLoopBackOff",
            "message": format!(
                "back-off {} restarting failed container={name} pod={pod_name}_{ns}({uid})",
                go_duration(backoff_secs)
            ),
        }});
        c["ready"] = json!(false);
        c["started"] = json!(false);
    }
    set_ready_conditions(pod, false, &now_s);
}

/// The kubelet restarts the crashed container (it will crash again).
pub fn restart(pod: &mut Value, now: DateTime<Utc>) {
    let now_s = clock::fmt(now);
    let count = restarts(pod) + 1;
    let name = fields::str_at(pod, "/status/containerStatuses/0/name").to_string();
    let id = container_id(pod, &name, count);
    if let Some(c) = pod["status"]["containerStatuses"]
        .as_array_mut()
        .and_then(|s| s.first_mut())
    {
        c["restartCount"] = json!(count);
        c["containerID"] = json!(id);
        c["started"] = json!(true);
        c["state"] = json!({ "running": { "startedAt": now_s } });
    }
}

/// The kubelet's crash back-off after `restarts` restarts: 10 s doubling, capped at 5 min.
#[must_use]
pub fn backoff_secs(restarts: i64) -> i64 {
    let exp = u32::try_from(restarts.clamp(0, 10)).unwrap_or(10);
    (10_i64 << exp).min(300)
}

/// `300` → `5m0s`, as Go prints durations.
#[must_use]
pub fn go_duration(secs: i64) -> String {
    if secs >= 60 {
        format!("{}m{}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_pod() -> Value {
        json!({
            "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1"},
            "spec": {"containers": [{"name": "web", "image": "registry.example.com/web:1.0"}]},
            "status": {"phase": "Pending"},
        })
    }

    #[test]
    fn lifecycle_steps_read_back_as_stages() {
        let now = clock::now();
        let mut p = new_pod();
        assert_eq!(stage(&p), Stage::Unscheduled);
        schedule(&mut p, "node-1", now);
        assert_eq!(stage(&p), Stage::Creating);
        start_creating(&mut p, "10.0.0.1", now);
        assert_eq!(stage(&p), Stage::Creating);
        start_running(&mut p, "10.64.1.1", now);
        assert_eq!(stage(&p), Stage::Starting);
        assert_eq!(p["status"]["phase"], "Running");
        become_ready(&mut p, now);
        assert_eq!(stage(&p), Stage::Ready);
        let ready = fields::condition(fields::array_at(&p, "/status/conditions"), "Ready")
            .cloned()
            .unwrap();
        assert_eq!(ready["status"], "True");
        crash(&mut p, now, 10);
        assert_eq!(stage(&p), Stage::BackOff);
        assert!(
            p["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
                .as_str()
                .unwrap()
                .starts_with("back-off 10s restarting failed container=web pod=web-1_shop(u1)")
        );
        restart(&mut p, now);
        assert_eq!(stage(&p), Stage::CrashRunning);
        assert_eq!(restarts(&p), 1);
        crash(&mut p, now, backoff_secs(1));
        assert_eq!(stage(&p), Stage::BackOff);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_secs(0), 10);
        assert_eq!(backoff_secs(1), 20);
        assert_eq!(backoff_secs(4), 160);
        assert_eq!(backoff_secs(5), 300);
        assert_eq!(backoff_secs(40), 300);
        assert_eq!(go_duration(300), "5m0s");
        assert_eq!(go_duration(40), "40s");
    }
}
