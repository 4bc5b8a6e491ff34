//! Pods as kdeck keeps them for the rollout tree: phase, readiness, restarts, the waiting or
//! terminated reason of each container, the node and the owner. Labels (including
//! `rollouts-pod-template-hash` and `pod-template-hash`) stay in `metadata.labels`.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use crate::k8s::apps::{Condition, ContainerImage, lenient};
use crate::slim_resource;

/// `v1` Pod, slim.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Pod {
    pub metadata: ObjectMeta,
    pub spec: PodSpec,
    pub status: Option<PodStatus>,
}
slim_resource!(Pod, "", "v1", "Pod", "pods", NamespaceResourceScope);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodSpec {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub node_name: Option<String>,
    /// Only names and images: the count gives the "ready x/y" denominator.
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub containers: Vec<ContainerImage>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub init_containers: Vec<ContainerImage>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodStatus {
    /// `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown` (kept as text).
    #[serde(deserialize_with = "lenient::opt_string")]
    pub phase: Option<String>,
    /// E.g. `Evicted`, `NodeLost`, `UnexpectedAdmissionError`.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub reason: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub message: Option<String>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub conditions: Vec<Condition>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub container_statuses: Vec<ContainerStatus>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub init_container_statuses: Vec<ContainerStatus>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub start_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerStatus {
    pub name: String,
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub ready: bool,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub restart_count: i32,
    pub state: ContainerState,
}

/// Exactly one of the three is set by the kubelet; all may be missing on a fresh pod.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerState {
    pub waiting: Option<StateReason>,
    pub running: Option<ContainerRunning>,
    pub terminated: Option<ContainerTerminated>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StateReason {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub reason: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerRunning {
    #[serde(deserialize_with = "lenient::opt_time")]
    pub started_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerTerminated {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub reason: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub message: Option<String>,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub exit_code: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub signal: i32,
}

impl Pod {
    /// Whether the pod's `Ready` condition is `True`.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.is_true())
        })
    }

    /// One label's value.
    #[must_use]
    pub fn label(&self, key: &str) -> Option<&str> {
        self.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(key))
            .map(String::as_str)
    }
}
