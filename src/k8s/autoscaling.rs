//! Autoscalers as kdeck keeps them: the `autoscaling/v2` HorizontalPodAutoscaler (spec,
//! metrics of every source type, behavior, status and conditions), KEDA's `ScaledObject`
//! and the VPA's `VerticalPodAutoscaler` (both custom resources, read tolerantly), plus the
//! Kubernetes quantity parser their values need.
//!
//! Parsing never fails on a field it can do without: an HPA written through `autoscaling/v1`
//! (only `targetCPUUtilizationPercentage`), one the controller has not synced yet (no status),
//! or a metric of a type this build does not know all read as well as they can.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::k8s::apps::{Condition, lenient};
use crate::{slim_resource, tolerant_crd};

/// KEDA pauses autoscaling (and deletes the HPA it owns) while this annotation is `"true"`.
pub const KEDA_PAUSED_ANNOTATION: &str = "autoscaling.keda.sh/paused";
/// KEDA scales the target to this many replicas and pauses while the annotation is set.
pub const KEDA_PAUSED_REPLICAS_ANNOTATION: &str = "autoscaling.keda.sh/paused-replicas";
/// Annotations of a ScaledObject worth keeping (see `slim_metadata`).
pub const SCALED_OBJECT_KEEP_ANNOTATIONS: &[&str] =
    &[KEDA_PAUSED_ANNOTATION, KEDA_PAUSED_REPLICAS_ANNOTATION];

// ---------------------------------------------------------------------------------------------
// Quantities
// ---------------------------------------------------------------------------------------------

/// A Kubernetes quantity as written (`500m`, `1.2k`, `2Gi`, `100`), kept as text; numbers in
/// hand-written YAML are accepted too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quantity(pub String);

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self(match Value::deserialize(d)? {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            other => other.to_string(),
        }))
    }
}

impl Quantity {
    /// The value as a number (`500m` → 0.5, `2Ki` → 2048), if it parses.
    #[must_use]
    pub fn value(&self) -> Option<f64> {
        parse_quantity(&self.0)
    }

    /// The value in thousandths, rounded up as `resource.Quantity.MilliValue()` does: the
    /// unit the HPA controller computes in.
    #[must_use]
    pub fn milli(&self) -> Option<i64> {
        self.value().map(|v| (v * 1000.0 - 1e-9).ceil() as i64)
    }
}

/// Parses a quantity: a decimal number (with an optional exponent) and an optional suffix,
/// binary (`Ki`…`Ei`) or decimal (`n`, `u`, `m`, `k`, `M`, `G`, `T`, `P`, `E`).
#[must_use]
pub fn parse_quantity(text: &str) -> Option<f64> {
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-')))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    if number.is_empty() {
        return None;
    }
    let mut value: f64 = number.parse().ok()?;
    let scale = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        e if e.starts_with(['e', 'E']) => {
            let exp: i32 = e[1..].parse().ok()?;
            10f64.powi(exp)
        }
        _ => return None,
    };
    value *= scale;
    value.is_finite().then_some(value)
}

// ---------------------------------------------------------------------------------------------
// HorizontalPodAutoscaler
// ---------------------------------------------------------------------------------------------

/// `autoscaling/v2` HorizontalPodAutoscaler, slim.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HorizontalPodAutoscaler {
    pub metadata: ObjectMeta,
    pub spec: HpaSpec,
    /// `None` until the controller has synced it once.
    pub status: Option<HpaStatus>,
}
slim_resource!(
    HorizontalPodAutoscaler,
    "autoscaling",
    "v2",
    "HorizontalPodAutoscaler",
    "horizontalpodautoscalers",
    NamespaceResourceScope
);

/// An object named by kind and name (`scaleTargetRef`, an Object metric's `describedObject`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
}

impl ObjectRef {
    /// The API group (`apps` for `apps/v1`, empty for `v1`).
    #[must_use]
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HpaSpec {
    pub scale_target_ref: ObjectRef,
    /// `None` means the API default of 1.
    #[serde(deserialize_with = "lenient::opt_int")]
    pub min_replicas: Option<i32>,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub max_replicas: i32,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub metrics: Vec<MetricSpec>,
    pub behavior: Option<Behavior>,
    /// `autoscaling/v1`'s only metric, when an object carries it.
    #[serde(
        rename = "targetCPUUtilizationPercentage",
        deserialize_with = "lenient::opt_int"
    )]
    pub target_cpu_utilization_percentage: Option<i32>,
}

/// How a metric is compared: `Utilization`, `Value` or `AverageValue`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct MetricTarget {
    #[serde(rename = "type")]
    pub type_: String,
    pub value: Option<Quantity>,
    pub average_value: Option<Quantity>,
    #[serde(deserialize_with = "lenient::opt_int")]
    pub average_utilization: Option<i32>,
}

/// What a metric is measured as now.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct MetricValue {
    pub value: Option<Quantity>,
    pub average_value: Option<Quantity>,
    #[serde(deserialize_with = "lenient::opt_int")]
    pub average_utilization: Option<i32>,
}

/// A metric's name and label selector (Pods, Object, External).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct MetricId {
    pub name: String,
    pub selector: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ResourceSource {
    pub name: String,
    pub target: MetricTarget,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ContainerResourceSource {
    pub name: String,
    pub container: String,
    pub target: MetricTarget,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct PodsSource {
    pub metric: MetricId,
    pub target: MetricTarget,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectSource {
    pub described_object: ObjectRef,
    pub metric: MetricId,
    pub target: MetricTarget,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ExternalSource {
    pub metric: MetricId,
    pub target: MetricTarget,
}

/// One entry of `spec.metrics`. Exactly one source is set in a valid object; the type says
/// which (`Resource`, `ContainerResource`, `Pods`, `Object`, `External`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct MetricSpec {
    #[serde(rename = "type")]
    pub type_: String,
    pub resource: Option<ResourceSource>,
    pub container_resource: Option<ContainerResourceSource>,
    pub pods: Option<PodsSource>,
    pub object: Option<ObjectSource>,
    pub external: Option<ExternalSource>,
}

/// The status of a Resource or ContainerResource metric.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ResourceStatus {
    pub name: String,
    pub container: Option<String>,
    pub current: MetricValue,
}

/// The status of a Pods, Object or External metric.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct NamedStatus {
    pub metric: MetricId,
    pub current: MetricValue,
}

/// One entry of `status.currentMetrics`. A metric the controller could not read is written
/// as an entry with an empty type.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct MetricStatus {
    #[serde(rename = "type")]
    pub type_: String,
    pub resource: Option<ResourceStatus>,
    pub container_resource: Option<ResourceStatus>,
    pub pods: Option<NamedStatus>,
    pub object: Option<NamedStatus>,
    pub external: Option<NamedStatus>,
}

/// `spec.behavior`: scaling rules for each direction (unset parts take the API defaults).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct Behavior {
    pub scale_up: Option<ScalingRules>,
    pub scale_down: Option<ScalingRules>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct ScalingRules {
    #[serde(deserialize_with = "lenient::opt_int")]
    pub stabilization_window_seconds: Option<i32>,
    /// `Max`, `Min` or `Disabled`.
    pub select_policy: Option<String>,
    /// `None` when unset (the default policies apply); an empty list is kept as empty.
    pub policies: Option<Vec<ScalingPolicy>>,
    /// Per-HPA tolerance (Kubernetes 1.33+, `HPAConfigurableTolerance`).
    pub tolerance: Option<Quantity>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct ScalingPolicy {
    /// `Pods` or `Percent`.
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub value: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub period_seconds: i32,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HpaStatus {
    pub observed_generation: Option<i64>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub last_scale_time: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub current_replicas: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub desired_replicas: i32,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub current_metrics: Vec<MetricStatus>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub conditions: Vec<Condition>,
    /// `autoscaling/v1`'s only current metric, when an object carries it.
    #[serde(
        rename = "currentCPUUtilizationPercentage",
        deserialize_with = "lenient::opt_int"
    )]
    pub current_cpu_utilization_percentage: Option<i32>,
}

impl HorizontalPodAutoscaler {
    /// `spec.minReplicas`, defaulting to 1 as the API server does.
    #[must_use]
    pub fn min_replicas(&self) -> i32 {
        self.spec.min_replicas.unwrap_or(1)
    }

    /// The metrics to scale on: `spec.metrics`; a v1 object's CPU target; or, with neither,
    /// the API default (CPU at 80% of requests).
    #[must_use]
    pub fn metrics(&self) -> Vec<MetricSpec> {
        if !self.spec.metrics.is_empty() {
            return self.spec.metrics.clone();
        }
        let util = self.spec.target_cpu_utilization_percentage.unwrap_or(80);
        vec![MetricSpec {
            type_: "Resource".into(),
            resource: Some(ResourceSource {
                name: "cpu".into(),
                target: MetricTarget {
                    type_: "Utilization".into(),
                    average_utilization: Some(util),
                    ..MetricTarget::default()
                },
            }),
            ..MetricSpec::default()
        }]
    }

    /// The condition of a type (`AbleToScale`, `ScalingActive`, `ScalingLimited`).
    #[must_use]
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
    }

    /// The ScaledObject that owns this HPA (KEDA creates and owns one per ScaledObject).
    #[must_use]
    pub fn keda_owner(&self) -> Option<&str> {
        self.metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.kind == "ScaledObject" && o.api_version.starts_with("keda.sh/"))
            .map(|o| o.name.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// KEDA ScaledObject
// ---------------------------------------------------------------------------------------------

tolerant_crd!(
    /// `keda.sh/v1alpha1` ScaledObject, slim.
    ScaledObject,
    ScaledObjectSpec,
    ScaledObjectStatus,
    "keda.sh",
    "v1alpha1",
    "ScaledObject",
    "scaledobjects",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ScaledObjectSpec {
    pub scale_target_ref: KedaTargetRef,
    #[serde(deserialize_with = "lenient::opt_int")]
    pub polling_interval: Option<i32>,
    #[serde(deserialize_with = "lenient::opt_int")]
    pub cooldown_period: Option<i32>,
    #[serde(deserialize_with = "lenient::opt_int")]
    pub idle_replica_count: Option<i32>,
    #[serde(deserialize_with = "lenient::opt_int")]
    pub min_replica_count: Option<i32>,
    #[serde(deserialize_with = "lenient::opt_int")]
    pub max_replica_count: Option<i32>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub triggers: Vec<Trigger>,
}

/// `scaleTargetRef`: the kind defaults to a Deployment.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct KedaTargetRef {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub name: String,
}

/// A trigger: its scaler type and settings (values are text; numbers are accepted).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Trigger {
    #[serde(rename = "type")]
    pub type_: String,
    pub name: Option<String>,
    #[serde(deserialize_with = "text_map")]
    pub metadata: BTreeMap<String, String>,
    /// `AverageValue` (the default), `Value` or `Utilization`.
    pub metric_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ScaledObjectStatus {
    pub scale_target_kind: Option<String>,
    #[serde(deserialize_with = "lenient::opt_int")]
    pub original_replica_count: Option<i32>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub last_active_time: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub external_metric_names: Vec<String>,
    pub hpa_name: Option<String>,
    #[serde(deserialize_with = "lenient::opt_int")]
    pub paused_replica_count: Option<i32>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub conditions: Vec<Condition>,
}

impl ScaledObject {
    /// Whether autoscaling is paused: by annotation (what KEDA reads) or, once KEDA has
    /// acted on it, by the `Paused` condition.
    #[must_use]
    pub fn paused(&self) -> bool {
        let by_annotation = crate::k8s::apps::annotation(&self.metadata, KEDA_PAUSED_ANNOTATION)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || crate::k8s::apps::annotation(&self.metadata, KEDA_PAUSED_REPLICAS_ANNOTATION)
                .is_some();
        by_annotation || self.condition("Paused").is_some_and(Condition::is_true)
    }

    #[must_use]
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
    }

    /// The HPA KEDA made for it: `status.hpaName`, else KEDA's default `keda-hpa-<name>`.
    #[must_use]
    pub fn hpa_name(&self) -> String {
        self.status
            .as_ref()
            .and_then(|s| s.hpa_name.clone())
            .unwrap_or_else(|| {
                format!(
                    "keda-hpa-{}",
                    self.metadata.name.as_deref().unwrap_or_default()
                )
            })
    }
}

/// A string map whose values may be numbers or booleans in hand-written YAML.
fn text_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let m = Option::<serde_json::Map<String, Value>>::deserialize(d).unwrap_or_default();
    Ok(m.unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k, s)),
            Value::Number(n) => Some((k, n.to_string())),
            Value::Bool(b) => Some((k, b.to_string())),
            _ => None,
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// VerticalPodAutoscaler
// ---------------------------------------------------------------------------------------------

tolerant_crd!(
    /// `autoscaling.k8s.io/v1` VerticalPodAutoscaler, slim.
    VerticalPodAutoscaler,
    VpaSpec,
    VpaStatus,
    "autoscaling.k8s.io",
    "v1",
    "VerticalPodAutoscaler",
    "verticalpodautoscalers",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VpaSpec {
    pub target_ref: Option<ObjectRef>,
    pub update_policy: Option<VpaUpdatePolicy>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VpaUpdatePolicy {
    /// `Off`, `Initial`, `Recreate`, `InPlaceOrRecreate` or `Auto` (the default).
    pub update_mode: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VpaStatus {
    pub recommendation: Option<VpaRecommendation>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VpaRecommendation {
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub container_recommendations: Vec<ContainerRecommendation>,
}

/// Resources by name (`cpu`, `memory`).
pub type Resources = BTreeMap<String, Quantity>;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerRecommendation {
    pub container_name: String,
    pub target: Resources,
    pub lower_bound: Resources,
    pub upper_bound: Resources,
    pub uncapped_target: Resources,
}

impl VerticalPodAutoscaler {
    /// The update mode, with the API default.
    #[must_use]
    pub fn update_mode(&self) -> &str {
        self.spec
            .update_policy
            .as_ref()
            .and_then(|p| p.update_mode.as_deref())
            .unwrap_or("Auto")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_parse_like_the_api_server() {
        assert_eq!(parse_quantity("500m"), Some(0.5));
        assert_eq!(parse_quantity("1.2k"), Some(1200.0));
        assert_eq!(parse_quantity("2Ki"), Some(2048.0));
        assert_eq!(parse_quantity("1Gi"), Some(1_073_741_824.0));
        assert_eq!(parse_quantity("100"), Some(100.0));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("abc"), None);
        assert_eq!(parse_quantity("5x"), None);
        // MilliValue rounds up: 1.0001 is 1001 thousandths, 250m is 250.
        assert_eq!(Quantity("1.0001".into()).milli(), Some(1001));
        assert_eq!(Quantity("250m".into()).milli(), Some(250));
        assert_eq!(Quantity("3".into()).milli(), Some(3000));
    }

    #[test]
    fn a_v1_object_scales_on_its_cpu_target_and_an_empty_one_on_the_default() {
        let v1: HorizontalPodAutoscaler = serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "maxReplicas": 5, "targetCPUUtilizationPercentage": 65},
            "status": {"currentReplicas": 2, "desiredReplicas": 2, "currentCPUUtilizationPercentage": 40}
        }))
        .unwrap();
        let m = v1.metrics();
        assert_eq!(m.len(), 1);
        assert_eq!(
            m[0].resource.as_ref().unwrap().target.average_utilization,
            Some(65)
        );
        assert_eq!(v1.min_replicas(), 1);
        assert_eq!(
            v1.status.unwrap().current_cpu_utilization_percentage,
            Some(40)
        );
        let bare: HorizontalPodAutoscaler =
            serde_json::from_value(json!({"metadata": {"name": "x"}, "spec": {}})).unwrap();
        assert_eq!(
            bare.metrics()[0]
                .resource
                .as_ref()
                .unwrap()
                .target
                .average_utilization,
            Some(80)
        );
        assert!(bare.status.is_none());
    }

    #[test]
    fn keda_paused_by_annotation_or_condition() {
        let so: ScaledObject = serde_json::from_value(json!({
            "metadata": {"name": "w", "annotations": {"autoscaling.keda.sh/paused": "true"}},
            "spec": {"scaleTargetRef": {"name": "w"}, "triggers": [{"type": "cron",
                "metadata": {"desiredReplicas": 1}}]}
        }))
        .unwrap();
        assert!(so.paused());
        assert_eq!(so.hpa_name(), "keda-hpa-w");
        assert_eq!(so.spec.triggers[0].metadata["desiredReplicas"], "1");
        let bad: ScaledObject = serde_json::from_value(json!({
            "metadata": {"name": "b"}, "spec": {"triggers": "nope"}, "status": 3
        }))
        .unwrap();
        assert!(bad.spec.triggers.is_empty());
        assert!(bad.malformed.unwrap().contains("status"));
    }
}
