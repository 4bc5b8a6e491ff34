//! The cluster's nodes: one control plane and a few workers (one of them NotReady on the
//! second cluster), plus a `load` pool for `--scale`; and where the simulated scheduler puts
//! a pod.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::ClusterProfile;
use crate::ClusterState;
use crate::sim::clock;
use crate::sim::fields::{self, fnv64};
use crate::sim::kinds::kinds;

/// A node's role, from its `node-role.kubernetes.io/*` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    ControlPlane,
    Worker,
    /// Extra nodes for `--scale` pods.
    Load,
}

impl Role {
    fn label(self) -> &'static str {
        match self {
            Self::ControlPlane => "node-role.kubernetes.io/control-plane",
            Self::Worker => "node-role.kubernetes.io/worker",
            Self::Load => "node-role.kubernetes.io/load",
        }
    }
}

/// What the scheduler needs to know about a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub name: String,
    pub ip: String,
    pub role: Role,
    pub ready: bool,
}

impl NodeInfo {
    /// Reads a stored Node.
    #[must_use]
    pub fn from_node(node: &Value) -> Self {
        let has = |label: &str| {
            node.pointer("/metadata/labels")
                .and_then(|l| l.get(label))
                .is_some()
        };
        let role = if has(Role::Load.label()) {
            Role::Load
        } else if has(Role::ControlPlane.label()) {
            Role::ControlPlane
        } else {
            Role::Worker
        };
        let ready = fields::condition(fields::array_at(node, "/status/conditions"), "Ready")
            .and_then(|c| c.get("status"))
            .and_then(Value::as_str)
            == Some("True");
        let ip = fields::array_at(node, "/status/addresses")
            .iter()
            .find(|a| a.get("type").and_then(Value::as_str) == Some("InternalIP"))
            .and_then(|a| a.get("address"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Self {
            name: fields::name(node).to_string(),
            ip,
            role,
            ready,
        }
    }
}

/// The cloud region a simulated cluster claims (`demo-us-east` → `us-east-1`).
#[must_use]
pub fn region(profile: &ClusterProfile) -> String {
    let r = profile.name.strip_prefix("demo-").unwrap_or(&profile.name);
    format!("{r}-1")
}

/// One planned node: name, role, ready.
#[derive(Debug, Clone)]
pub struct NodePlan {
    pub name: String,
    pub role: Role,
    pub ready: bool,
}

/// The nodes of a cluster: 1 control plane + 5 workers (even clusters) or + 4 workers with
/// one NotReady (odd clusters), plus one load node per 100 `--scale` pods.
#[must_use]
pub fn plan(profile: &ClusterProfile, scale: usize) -> Vec<NodePlan> {
    let mut out = vec![NodePlan {
        name: format!("{}-cp-1", profile.name),
        role: Role::ControlPlane,
        ready: true,
    }];
    let workers = if profile.index % 2 == 1 { 4 } else { 5 };
    for i in 1..=workers {
        out.push(NodePlan {
            name: format!("{}-worker-{i}", profile.name),
            role: Role::Worker,
            ready: !(profile.index % 2 == 1 && i == 3),
        });
    }
    for i in 0..scale.div_ceil(100) {
        out.push(NodePlan {
            name: format!("{}-load-{i:03}", profile.name),
            role: Role::Load,
            ready: true,
        });
    }
    out
}

fn node_object(profile: &ClusterProfile, i: usize, p: &NodePlan, now: DateTime<Utc>) -> Value {
    let region = region(profile);
    let zone = format!("{region}{}", ['a', 'b', 'c'][i % 3]);
    let ip = format!("10.{}.{}.{}", profile.index, 16 + i / 200, 10 + i % 200);
    let created =
        clock::fmt(now - chrono::Duration::days(if p.role == Role::Load { 1 } else { 41 }));
    let instance_type = match p.role {
        Role::ControlPlane => "m6i.large",
        Role::Worker => "m6i.2xlarge",
        Role::Load => "c6i.4xlarge",
    };
    let (cpu, alloc_cpu, mem, alloc_mem, pods) = match p.role {
        Role::ControlPlane => ("2", "1930m", "8010380Ki", "7220876Ki", "110"),
        Role::Worker => ("8", "7910m", "32408056Ki", "31386104Ki", "110"),
        Role::Load => ("16", "15890m", "32408056Ki", "31386104Ki", "250"),
    };
    let h = fnv64(p.name.as_bytes());
    let mut labels = json!({
        "kubernetes.io/hostname": p.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": instance_type,
        "topology.kubernetes.io/region": region,
        "topology.kubernetes.io/zone": zone,
    });
    labels[p.role.label()] = json!("");
    let heartbeat = if p.ready {
        clock::fmt(now - chrono::Duration::seconds(20))
    } else {
        clock::fmt(now - chrono::Duration::minutes(47))
    };
    let cond = |type_: &str, ok: &str, reason: &str, message: &str| {
        if p.ready {
            json!({"type": type_, "status": ok, "reason": reason, "message": message,
                   "lastHeartbeatTime": heartbeat, "lastTransitionTime": created})
        } else {
            json!({"type": type_, "status": "Unknown", "reason": "NodeStatusUnknown",
                   "message": "Kubelet stopped posting node status.",
                   "lastHeartbeatTime": heartbeat,
                   "lastTransitionTime": clock::fmt(now - chrono::Duration::minutes(46))})
        }
    };
    let mut taints = Vec::new();
    if p.role == Role::ControlPlane {
        taints
            .push(json!({"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}));
    }
    if !p.ready {
        let since = clock::fmt(now - chrono::Duration::minutes(46));
        taints.push(json!({"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": since}));
        taints.push(json!({"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": since}));
    }
    let kube_version = &profile.kube_version;
    json!({
        "metadata": {
            "name": p.name,
            "labels": labels,
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
            "creationTimestamp": created,
        },
        "spec": {
            "podCIDR": format!("10.{}.{}.0/24", 64 + profile.index % 64, i),
            "podCIDRs": [format!("10.{}.{}.0/24", 64 + profile.index % 64, i)],
            "providerID": format!("aws:///{zone}/i-0{:016x}", h),
            "taints": taints,
        },
        "status": {
            "capacity": {"cpu": cpu, "memory": mem, "pods": pods, "ephemeral-storage": "104845292Ki", "hugepages-2Mi": "0"},
            "allocatable": {"cpu": alloc_cpu, "memory": alloc_mem, "pods": pods, "ephemeral-storage": "96625420948", "hugepages-2Mi": "0"},
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [
                {"type": "InternalIP", "address": ip},
                {"type": "Hostname", "address": p.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": format!("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", h >> 32, (h >> 16) & 0xffff, h & 0xfff, (h >> 4) & 0xfff, h & 0xffff_ffff_ffff),
                "containerRuntimeVersion": "containerd://1.7.22",
                "kernelVersion": "6.8.0-1021-aws",
                "kubeProxyVersion": kube_version,
                "kubeletVersion": kube_version,
                "machineID": format!("{:016x}{:016x}", h, h.rotate_left(29)),
                "operatingSystem": "linux",
                "osImage": "Ubuntu 22.04.5 LTS",
                "systemUUID": format!("ec2{:05x}-{:04x}-{:04x}-{:04x}-{:012x}", h & 0xfffff, (h >> 20) & 0xffff, (h >> 36) & 0xffff, (h >> 48) & 0xffff, h.rotate_left(11) & 0xffff_ffff_ffff),
            },
        },
    })
}

/// Inserts the planned nodes.
pub fn seed(state: &ClusterState, now: DateTime<Utc>) -> Vec<NodeInfo> {
    let k = kinds();
    plan(&state.profile, state.options.scale)
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            state
                .store
                .insert(k.node, node_object(&state.profile, i, p, now))
                .ok()
                .map(|v| NodeInfo::from_node(&v))
        })
        .collect()
}

/// The node the scheduler picks for a pod: a Ready node of the pool the namespace belongs to
/// (`load-*` namespaces on load nodes when there are any), chosen by a stable hash of the
/// pod's name so the same seed places pods the same way.
#[must_use]
pub fn pick<'a>(nodes: &'a [NodeInfo], ns: &str, pod: &str) -> Option<&'a NodeInfo> {
    let wants_load =
        ns.starts_with("load-") && nodes.iter().any(|n| n.role == Role::Load && n.ready);
    let pool: Vec<&NodeInfo> = nodes
        .iter()
        .filter(|n| n.ready)
        .filter(|n| {
            if wants_load {
                n.role == Role::Load
            } else {
                n.role == Role::Worker
            }
        })
        .collect();
    if pool.is_empty() {
        return None;
    }
    let h = fnv64(format!("{ns}/{pod}").as_bytes());
    pool.get((h % pool.len() as u64) as usize).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimOptions;

    #[test]
    fn second_cluster_has_a_not_ready_worker_and_scheduling_avoids_it() {
        let state = ClusterState::new(ClusterProfile::standard(1), SimOptions::default());
        let nodes = seed(&state, clock::now());
        assert_eq!(nodes.len(), 5);
        assert_eq!(nodes.iter().filter(|n| !n.ready).count(), 1);
        let stored = state
            .store
            .get_value(kinds().node, "", &nodes[1].name)
            .unwrap();
        assert_eq!(stored["status"]["nodeInfo"]["kubeletVersion"], "v1.31.6");
        for i in 0..200 {
            let n = pick(&nodes, "shop", &format!("p-{i}")).unwrap();
            assert!(n.ready && n.role == Role::Worker);
        }
        let us = ClusterState::new(
            ClusterProfile::standard(0),
            SimOptions {
                scale: 250,
                ..SimOptions::default()
            },
        );
        let nodes = seed(&us, clock::now());
        assert_eq!(nodes.len(), 6 + 3);
        assert!(nodes.iter().all(|n| n.ready));
        assert_eq!(
            pick(&nodes, "load-00", "x").map(|n| n.role),
            Some(Role::Load)
        );
    }
}
