//! Deployments and ReplicaSets as kdeck keeps them: replica counts, revision annotations,
//! conditions and container images, never the whole pod template (the executor fetches the
//! live object when an undo needs it). Also holds the small pieces the other slim kinds share:
//! conditions, container images and the lenient field parsers.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Deserializer};

use crate::slim_resource;

/// Revision annotation the Deployment controller writes on Deployments and their ReplicaSets.
pub const DEPLOYMENT_REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// Label with the pod-template hash that the Deployment controller adds to its ReplicaSets.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";
/// Annotation `kubectl rollout restart` sets on the pod template.
pub const RESTARTED_AT_ANNOTATION: &str = "kubectl.kubernetes.io/restartedAt";

/// Annotations of a Deployment worth keeping in the store (see `slim_metadata`).
pub const DEPLOYMENT_KEEP_ANNOTATIONS: &[&str] = &[DEPLOYMENT_REVISION_ANNOTATION];
/// Annotations of a ReplicaSet worth keeping: both controllers' revisions, the experiment
/// template name and the blue-green scale-down deadline.
pub const REPLICA_SET_KEEP_ANNOTATIONS: &[&str] = &[
    DEPLOYMENT_REVISION_ANNOTATION,
    crate::k8s::rollout::ROLLOUT_REVISION_ANNOTATION,
    crate::k8s::rollout::EXPERIMENT_TEMPLATE_ANNOTATION,
    crate::k8s::rollout::SCALE_DOWN_DEADLINE_ANNOTATION,
];

/// The lenient field parsers, where the slim kinds have always found them.
pub(crate) use super::lenient;

/// A status condition (Deployment, ReplicaSet, Rollout and Pod conditions share this shape).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    /// `"True"`, `"False"` or `"Unknown"`.
    pub status: String,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub reason: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub message: Option<String>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub last_update_time: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub last_transition_time: Option<DateTime<Utc>>,
}

impl Condition {
    #[must_use]
    pub fn is_true(&self) -> bool {
        self.status == "True"
    }
}

/// The condition of a given type, if present.
#[must_use]
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// A container's name and image: all kdeck keeps of a pod template.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ContainerImage {
    pub name: String,
    pub image: String,
}

/// What kdeck keeps of a pod template: its template-hash labels (`pod::KEEP_LABELS`; no
/// other template label is ever shown) and the container images.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateSummary {
    pub labels: Box<[(std::sync::Arc<str>, std::sync::Arc<str>)]>,
    pub containers: Vec<ContainerImage>,
}

impl<'de> Deserialize<'de> for TemplateSummary {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Meta {
            #[serde(deserialize_with = "string_map")]
            labels: std::collections::BTreeMap<String, String>,
        }
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Spec {
            #[serde(deserialize_with = "lenient::vec_or_empty")]
            containers: Vec<ContainerImage>,
        }
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Wire {
            metadata: Option<Meta>,
            spec: Option<Spec>,
        }
        let w = Option::<Wire>::deserialize(d)?.unwrap_or_default();
        let labels = w
            .metadata
            .map(|m| m.labels)
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| crate::k8s::pod::KEEP_LABELS.contains(&k.as_str()))
            .map(|(k, v)| {
                (
                    crate::k8s::intern::intern(&k),
                    crate::k8s::intern::intern(&v),
                )
            })
            .collect();
        Ok(Self {
            labels,
            containers: w.spec.map(|s| s.containers).unwrap_or_default(),
        })
    }
}

/// A string map whose values may be numbers or booleans in hand-written YAML.
fn string_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
    let m = Option::<serde_json::Map<String, serde_json::Value>>::deserialize(d)?;
    Ok(m.unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k, s)),
            serde_json::Value::Number(n) => Some((k, n.to_string())),
            serde_json::Value::Bool(b) => Some((k, b.to_string())),
            _ => None,
        })
        .collect())
}

impl TemplateSummary {
    /// One of the kept template labels' value.
    #[must_use]
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }

    /// The container images in spec order.
    #[must_use]
    pub fn images(&self) -> Vec<String> {
        self.containers.iter().map(|c| c.image.clone()).collect()
    }
}

/// `apps/v1` Deployment, slim.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Deployment {
    pub metadata: ObjectMeta,
    pub spec: DeploymentSpec,
    pub status: Option<DeploymentStatus>,
}
slim_resource!(
    Deployment,
    "apps",
    "v1",
    "Deployment",
    "deployments",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeploymentSpec {
    /// `None` means the API default of 1.
    pub replicas: Option<i32>,
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub paused: bool,
    pub strategy: DeploymentStrategy,
    pub template: TemplateSummary,
    pub progress_deadline_seconds: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeploymentStrategy {
    /// `RollingUpdate` (the default when absent) or `Recreate`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeploymentStatus {
    pub observed_generation: Option<i64>,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub replicas: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub updated_replicas: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub ready_replicas: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub available_replicas: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub unavailable_replicas: i32,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub conditions: Vec<Condition>,
}

impl Deployment {
    /// `spec.replicas`, defaulting to 1 as the API server does.
    #[must_use]
    pub fn desired_replicas(&self) -> i32 {
        self.spec.replicas.unwrap_or(1)
    }

    /// The `deployment.kubernetes.io/revision` annotation, when present and numeric.
    #[must_use]
    pub fn revision(&self) -> Option<i64> {
        annotation(&self.metadata, DEPLOYMENT_REVISION_ANNOTATION).and_then(|v| v.parse().ok())
    }
}

/// `apps/v1` StatefulSet, slim: the replica counts an HPA target shows.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StatefulSet {
    pub metadata: ObjectMeta,
    pub spec: StatefulSetSpec,
    pub status: StatefulSetStatus,
}
slim_resource!(
    StatefulSet,
    "apps",
    "v1",
    "StatefulSet",
    "statefulsets",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StatefulSetSpec {
    /// `None` means the API default of 1.
    #[serde(deserialize_with = "lenient::opt_int")]
    pub replicas: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StatefulSetStatus {
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub replicas: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub ready_replicas: i32,
}

/// `apps/v1` ReplicaSet, slim.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ReplicaSet {
    pub metadata: ObjectMeta,
    pub spec: ReplicaSetSpec,
    pub status: ReplicaSetStatus,
}
slim_resource!(
    ReplicaSet,
    "apps",
    "v1",
    "ReplicaSet",
    "replicasets",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReplicaSetSpec {
    pub replicas: Option<i32>,
    pub template: TemplateSummary,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReplicaSetStatus {
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub replicas: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub ready_replicas: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub available_replicas: i32,
    pub observed_generation: i64,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub conditions: Vec<Condition>,
}

impl ReplicaSet {
    /// Revision from `rollout.argoproj.io/revision`, else `deployment.kubernetes.io/revision`.
    /// Like the upstream tools, a missing annotation reads as revision 0 and an unparsable one
    /// as `None` (such a ReplicaSet is skipped when picking an undo target).
    #[must_use]
    pub fn revision(&self) -> Option<i64> {
        self.revision_from(crate::k8s::rollout::ROLLOUT_REVISION_ANNOTATION)
            .or_else(|| self.revision_from(DEPLOYMENT_REVISION_ANNOTATION))
            .unwrap_or(Some(0))
    }

    /// The revision in one given annotation: `None` when absent, `Some(None)` when unparsable.
    #[must_use]
    pub fn revision_from(&self, key: &str) -> Option<Option<i64>> {
        annotation(&self.metadata, key).map(|v| v.trim().parse().ok())
    }

    /// The pod-template hash: `rollouts-pod-template-hash` (Argo Rollouts) or
    /// `pod-template-hash` (Deployments), from the ReplicaSet's own labels.
    #[must_use]
    pub fn pod_template_hash(&self) -> Option<&str> {
        let labels = self.metadata.labels.as_ref()?;
        labels
            .get(crate::k8s::rollout::ROLLOUT_POD_TEMPLATE_HASH_LABEL)
            .or_else(|| labels.get(POD_TEMPLATE_HASH_LABEL))
            .map(String::as_str)
    }

    /// Container images of the pod template, in spec order.
    #[must_use]
    pub fn images(&self) -> Vec<String> {
        self.spec.template.images()
    }
}

/// One annotation's value.
#[must_use]
pub fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

/// Whether `meta` has an owner reference to `owner_uid` (any owner reference, as the
/// kubectl-argo-rollouts tree does; the controller one is the only one in practice).
#[must_use]
pub fn is_owned_by(meta: &ObjectMeta, owner_uid: &str) -> bool {
    meta.owner_references
        .as_ref()
        .is_some_and(|refs| refs.iter().any(|r| r.uid == owner_uid))
}

/// Whether `meta`'s controller owner reference points at `owner_uid` (what
/// `metav1.IsControlledBy` checks; used when picking undo targets).
#[must_use]
pub fn is_controlled_by(meta: &ObjectMeta, owner_uid: &str) -> bool {
    meta.owner_references.as_ref().is_some_and(|refs| {
        refs.iter()
            .any(|r| r.controller == Some(true) && r.uid == owner_uid)
    })
}

/// The creation timestamp as a chrono time.
#[must_use]
pub fn created_at(meta: &ObjectMeta) -> Option<DateTime<Utc>> {
    meta.creation_timestamp.as_ref().and_then(|t| {
        DateTime::<Utc>::from_timestamp(t.0.as_second(), t.0.subsec_nanosecond().unsigned_abs())
    })
}
