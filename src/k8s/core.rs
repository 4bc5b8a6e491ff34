//! Slim core kinds: Node, Namespace, Event — only what the panes show.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use crate::slim_resource;

/// A node: readiness and version, for the Clusters pane.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Node {
    pub metadata: ObjectMeta,
    pub spec: NodeSpec,
    pub status: NodeStatus,
}
slim_resource!(Node, "", "v1", "Node", "nodes", ClusterResourceScope);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NodeSpec {
    pub unschedulable: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NodeStatus {
    pub conditions: Vec<Condition>,
    pub node_info: NodeInfo,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NodeInfo {
    pub kubelet_version: String,
}

/// A status condition (`type`, `status`, `reason`, `message`), shared by many kinds.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub last_transition_time: Option<DateTime<Utc>>,
    pub last_update_time: Option<DateTime<Utc>>,
}

impl Node {
    /// Ready condition is "True".
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    }

    /// Why a node is not ready (its Ready condition's reason), if it is not.
    #[must_use]
    pub fn not_ready_reason(&self) -> Option<String> {
        if self.is_ready() {
            return None;
        }
        let reason = self
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .and_then(|c| c.reason.clone())
            .unwrap_or_else(|| "NotReady".into());
        Some(reason)
    }
}

/// A namespace: name and phase.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Namespace {
    pub metadata: ObjectMeta,
    pub status: NamespaceStatus,
}
slim_resource!(
    Namespace,
    "",
    "v1",
    "Namespace",
    "namespaces",
    ClusterResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NamespaceStatus {
    pub phase: Option<String>,
}

/// A core/v1 Event: what happened to which object, for detail views.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Event {
    pub metadata: ObjectMeta,
    pub involved_object: InvolvedObject,
    pub reason: Option<String>,
    pub message: Option<String>,
    #[serde(rename = "type")]
    pub type_: Option<String>,
    pub count: Option<i32>,
    pub first_timestamp: Option<DateTime<Utc>>,
    pub last_timestamp: Option<DateTime<Utc>>,
    pub event_time: Option<DateTime<Utc>>,
}
slim_resource!(Event, "", "v1", "Event", "events", NamespaceResourceScope);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InvolvedObject {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub uid: Option<String>,
}

impl Event {
    /// When it last happened (series events only carry `eventTime`).
    #[must_use]
    pub fn last_seen(&self) -> Option<DateTime<Utc>> {
        self.last_timestamp
            .or(self.event_time)
            .or(self.first_timestamp)
            .or_else(|| super::created(&self.metadata))
    }
}
