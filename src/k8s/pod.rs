//! Pods as kdeck keeps them, the most numerous kind, decoded straight into what the panes
//! show: name, namespace, resourceVersion and timestamps in `metadata`; the owner references
//! and template-hash labels beside it, shared between the pods of one ReplicaSet; the node,
//! phase, readiness, restarts and the waiting or terminated reason of each container. Node
//! names and reasons are shared copies ([`intern`](super::intern)). Everything else a pod
//! carries (its spec, conditions, messages, other labels) is skipped while parsing.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, de};

use crate::k8s::apps::POD_TEMPLATE_HASH_LABEL;
use crate::k8s::intern::{Interner, intern, opt_interned};
use crate::k8s::lenient;
use crate::k8s::rollout::ROLLOUT_POD_TEMPLATE_HASH_LABEL;
use crate::slim_resource;

/// The pod labels kdeck keeps: which ReplicaSet template a pod was made from.
pub const KEEP_LABELS: &[&str] = &[POD_TEMPLATE_HASH_LABEL, ROLLOUT_POD_TEMPLATE_HASH_LABEL];

/// Labels kept of an object: interned key/value pairs, only those a pane reads.
pub type Labels = Box<[(Arc<str>, Arc<str>)]>;

/// `v1` Pod, slim.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(from = "PodWire")]
pub struct Pod {
    /// Name, namespace, resourceVersion, creation and deletion timestamps only.
    pub metadata: ObjectMeta,
    /// The owner references (usually the one ReplicaSet), shared with its other pods.
    pub owners: Box<[Arc<Owner>]>,
    /// The labels in [`KEEP_LABELS`] the pod carries, as shared copies.
    pub labels: Labels,
    pub spec: PodSpec,
    pub status: Option<PodStatus>,
}
slim_resource!(Pod, "", "v1", "Pod", "pods", NamespaceResourceScope);

/// An owner reference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Owner {
    pub kind: String,
    pub name: String,
    pub uid: String,
    pub controller: bool,
}

static OWNERS: Interner<Owner> = Interner::new();

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodSpec {
    #[serde(deserialize_with = "opt_interned")]
    pub node_name: Option<Arc<str>>,
    /// How many containers (the "ready x/y" denominator).
    pub containers: Count,
    pub init_containers: Count,
}

/// The length of a list whose elements are not kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count(pub u16);

impl Count {
    #[must_use]
    pub fn len(self) -> usize {
        usize::from(self.0)
    }

    #[must_use]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl<'de> Visitor<'de> for CountVisitor {
            type Value = Count;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
                let mut n: u16 = 0;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n = n.saturating_add(1);
                }
                Ok(Count(n))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Count, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Count(0))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Count, E> {
                Ok(Count(0))
            }
            fn visit_none<E: de::Error>(self) -> Result<Count, E> {
                Ok(Count(0))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Count, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Count, E> {
                Ok(Count(0))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Count, E> {
                Ok(Count(0))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Count, E> {
                Ok(Count(0))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Count, E> {
                Ok(Count(0))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Count, E> {
                Ok(Count(0))
            }
        }
        d.deserialize_any(CountVisitor)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodStatus {
    /// `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown` (kept as text, shared: ten
    /// thousand pods hold a handful of distinct values).
    #[serde(deserialize_with = "opt_interned")]
    pub phase: Option<Arc<str>>,
    /// E.g. `Evicted`, `NodeLost`, `UnexpectedAdmissionError`.
    #[serde(deserialize_with = "opt_interned")]
    pub reason: Option<Arc<str>>,
    /// Whether the `Ready` condition is `True` (the only condition kdeck reads).
    #[serde(rename = "conditions", deserialize_with = "ready_condition")]
    pub ready: bool,
    #[serde(deserialize_with = "boxed_list")]
    pub container_statuses: Box<[ContainerStatus]>,
    #[serde(deserialize_with = "boxed_list")]
    pub init_container_statuses: Box<[ContainerStatus]>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub start_time: Option<DateTime<Utc>>,
}

/// A list read leniently ([`lenient::vec_or_empty`]) and kept without spare capacity.
fn boxed_list<'de, D: Deserializer<'de>>(d: D) -> Result<Box<[ContainerStatus]>, D::Error> {
    Ok(lenient::vec_or_empty(d)?.into_boxed_slice())
}

/// Reads `status.conditions` down to whether `Ready` is `True`.
fn ready_condition<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Cond {
        #[serde(rename = "type", deserialize_with = "lenient::opt_string")]
        type_: Option<String>,
        #[serde(deserialize_with = "lenient::opt_string")]
        status: Option<String>,
    }
    let conditions: Vec<Cond> = lenient::vec_or_empty(d)?;
    Ok(conditions
        .iter()
        .any(|c| c.type_.as_deref() == Some("Ready") && c.status.as_deref() == Some("True")))
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerStatus {
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
    #[serde(deserialize_with = "opt_interned")]
    pub reason: Option<Arc<str>>,
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
    #[serde(deserialize_with = "opt_interned")]
    pub reason: Option<Arc<str>>,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub exit_code: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub signal: i32,
}

/// The pod as it arrives, before the metadata is cut down.
#[derive(Deserialize, Default)]
#[serde(default)]
struct PodWire {
    metadata: MetaWire,
    spec: PodSpec,
    status: Option<PodStatus>,
}

/// The metadata fields a pod keeps; every other one is skipped unread.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct MetaWire {
    name: Option<String>,
    namespace: Option<String>,
    resource_version: Option<String>,
    creation_timestamp: Option<Time>,
    deletion_timestamp: Option<Time>,
    #[serde(deserialize_with = "kept_labels")]
    labels: Labels,
    #[serde(deserialize_with = "owner_references")]
    owner_references: Box<[Arc<Owner>]>,
}

/// Reads a label map keeping only [`KEEP_LABELS`], as shared copies.
fn kept_labels<'de, D: Deserializer<'de>>(d: D) -> Result<Labels, D::Error> {
    let all: Option<BTreeMap<String, Option<String>>> = Option::deserialize(d)?;
    Ok(all
        .into_iter()
        .flatten()
        .filter(|(k, _)| KEEP_LABELS.contains(&k.as_str()))
        .filter_map(|(k, v)| Some((intern(&k), intern(&v?))))
        .collect())
}

/// Reads owner references as shared copies (a ReplicaSet's pods hold one between them).
fn owner_references<'de, D: Deserializer<'de>>(d: D) -> Result<Box<[Arc<Owner>]>, D::Error> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Wire {
        kind: String,
        name: String,
        uid: String,
        #[serde(deserialize_with = "lenient::bool_or_false")]
        controller: bool,
    }
    let refs: Vec<Wire> = lenient::vec_or_empty(d)?;
    Ok(refs
        .into_iter()
        .map(|r| {
            OWNERS.get(Owner {
                kind: r.kind,
                name: r.name,
                uid: r.uid,
                controller: r.controller,
            })
        })
        .collect())
}

impl From<PodWire> for Pod {
    fn from(w: PodWire) -> Self {
        let m = w.metadata;
        Self {
            metadata: ObjectMeta {
                name: m.name,
                namespace: m.namespace,
                resource_version: m.resource_version,
                creation_timestamp: m.creation_timestamp,
                deletion_timestamp: m.deletion_timestamp,
                ..ObjectMeta::default()
            },
            owners: m.owner_references,
            labels: m.labels,
            spec: w.spec,
            status: w.status,
        }
    }
}

impl Pod {
    /// Whether the pod's `Ready` condition is `True`.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.status.as_ref().is_some_and(|s| s.ready)
    }

    /// One of the kept labels' value ([`KEEP_LABELS`]).
    #[must_use]
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }

    /// Whether the pod has an owner reference to `owner_uid` (any owner reference, as the
    /// kubectl-argo-rollouts tree does; the controller one is the only one in practice).
    #[must_use]
    pub fn is_owned_by(&self, owner_uid: &str) -> bool {
        self.owners.iter().any(|o| o.uid == owner_uid)
    }

    /// The owner reference marked as controller, if any.
    #[must_use]
    pub fn controller(&self) -> Option<&Owner> {
        self.owners.iter().map(AsRef::as_ref).find(|o| o.controller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_str(&v.to_string()).unwrap()
    }

    #[test]
    fn keeps_what_the_panes_show_and_shares_repeated_parts() {
        let raw = |name: &str| {
            json!({
                "metadata": {
                    "name": name, "namespace": "shop", "uid": "u-1", "resourceVersion": "42",
                    "generateName": "web-7d9f-", "creationTimestamp": "2024-05-01T10:00:00Z",
                    "labels": {"app": "web", "pod-template-hash": "7d9f"},
                    "annotations": {"a": "b"},
                    "managedFields": [{"manager": "kubelet"}],
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                        "name": "web-7d9f", "uid": "rs-1", "controller": true}]
                },
                "spec": {"nodeName": "node-3", "containers": [{"name": "a"}, {"name": "b"}],
                         "volumes": [{"name": "v"}]},
                "status": {"phase": "Running", "conditions": [
                    {"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
                    "containerStatuses": [
                        {"name": "a", "ready": true, "restartCount": 3, "state": {"running": {}}},
                        {"name": "b", "ready": false, "restartCount": 0,
                         "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}}}]}
            })
        };
        let a = pod(raw("web-7d9f-a"));
        let b = pod(raw("web-7d9f-b"));
        assert_eq!(a.metadata.name.as_deref(), Some("web-7d9f-a"));
        assert_eq!(a.metadata.namespace.as_deref(), Some("shop"));
        assert_eq!(a.metadata.resource_version.as_deref(), Some("42"));
        assert!(a.metadata.creation_timestamp.is_some());
        assert!(a.metadata.labels.is_none() && a.metadata.annotations.is_none());
        assert!(a.metadata.uid.is_none() && a.metadata.generate_name.is_none());
        assert_eq!(a.label("pod-template-hash"), Some("7d9f"));
        assert_eq!(a.label("app"), None);
        assert!(a.is_owned_by("rs-1") && !a.is_owned_by("rs-2"));
        assert_eq!(a.controller().map(|o| o.name.as_str()), Some("web-7d9f"));
        assert!(Arc::ptr_eq(&a.owners[0], &b.owners[0]));
        assert_eq!(a.spec.containers.len(), 2);
        assert_eq!(a.spec.node_name.as_deref(), Some("node-3"));
        assert!(Arc::ptr_eq(
            a.spec.node_name.as_ref().unwrap(),
            b.spec.node_name.as_ref().unwrap()
        ));
        assert!(a.is_ready());
        let st = a.status.as_ref().unwrap();
        assert_eq!(st.container_statuses[0].restart_count, 3);
        assert_eq!(
            st.container_statuses[1]
                .state
                .waiting
                .as_ref()
                .unwrap()
                .reason
                .as_deref(),
            Some("CrashLoopBackOff")
        );
    }

    #[test]
    fn missing_or_odd_parts_read_as_blanks() {
        let p = pod(
            json!({"metadata": {"name": "p", "labels": null, "ownerReferences": {}},
                           "spec": {"containers": "x"},
                           "status": {"conditions": {}, "containerStatuses": null}}),
        );
        assert!(p.owners.is_empty() && p.labels.is_empty());
        assert_eq!(p.spec.containers.len(), 0);
        assert!(!p.is_ready());
        let p = pod(json!({}));
        assert!(p.metadata.name.is_none() && p.status.is_none());
    }
}
