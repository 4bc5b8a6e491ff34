//! Reading an HPA's spec as the simulated controller needs it (min/max, each metric's kind
//! and target, the `behavior` rules with the API defaults filled in) and writing the HPA
//! objects of the scenario (autoscaling/v2, with the defaulted behavior the API server adds).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::hpa_algorithm::{DOWN_WINDOW_SECS, Limits, MetricKind, Policy, Rules};
use crate::api::registry::{self, TypeId};
use crate::sim::clock;
use crate::sim::fields;

/// A Kubernetes quantity (`250m`, `1.5`, `2k`, `64Mi`) as a number.
#[must_use]
pub fn quantity(q: &str) -> f64 {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(q.len());
    let (n, suffix) = q.split_at(split);
    let n: f64 = n.parse().unwrap_or(0.0);
    n * match suffix {
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        _ => 1.0,
    }
}

/// Parses a CPU quantity (`250m`, `1`, `0.5`) into millicores.
#[must_use]
pub fn millicores(q: &str) -> i64 {
    (quantity(q) * 1000.0).round() as i64
}

/// A quantity as the controller writes one (`NewMilliQuantity`): whole numbers plain,
/// others in thousandths.
#[must_use]
pub fn format_quantity(v: f64) -> String {
    let milli = (v * 1000.0).round() as i64;
    if milli % 1000 == 0 {
        format!("{}", milli / 1000)
    } else {
        format!("{milli}m")
    }
}

/// One metric of the spec.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDef {
    pub kind: MetricKind,
    /// `Resource`, `ContainerResource`, `Pods`, `Object` or `External`.
    pub source: String,
    /// `cpu`, or the metric's name.
    pub name: String,
    pub target: f64,
    /// The metric's identifier as the spec has it (name and selector), for the status.
    pub metric: Value,
}

impl MetricDef {
    /// How the controller names it in conditions and events.
    #[must_use]
    pub fn describe(&self) -> String {
        match self.source.as_str() {
            "Resource" | "ContainerResource" if self.kind == MetricKind::Utilization => {
                format!("{} resource utilization (percentage of request)", self.name)
            }
            "Resource" | "ContainerResource" => format!("{} resource", self.name),
            "Pods" => format!("pods metric {}", self.name),
            "Object" => format!("object metric {}", self.name),
            _ => format!("external metric {}", self.name),
        }
    }
}

fn target_value(t: &Value) -> (Option<f64>, &str) {
    let kind = fields::str_at(t, "/type");
    let v = match kind {
        "Utilization" => t.pointer("/averageUtilization").and_then(Value::as_f64),
        "AverageValue" => t.pointer("/averageValue").map(|v| {
            v.as_str()
                .map_or_else(|| v.as_f64().unwrap_or(0.0), quantity)
        }),
        _ => t.pointer("/value").map(|v| {
            v.as_str()
                .map_or_else(|| v.as_f64().unwrap_or(0.0), quantity)
        }),
    };
    (v, kind)
}

/// The metrics of the spec (a CPU target of 80% when it lists none, as the API defaults).
#[must_use]
pub fn metric_defs(hpa: &Value) -> Vec<MetricDef> {
    let specs = fields::array_at(hpa, "/spec/metrics");
    if specs.is_empty() {
        return vec![MetricDef {
            kind: MetricKind::Utilization,
            source: "Resource".into(),
            name: "cpu".into(),
            target: 80.0,
            metric: Value::Null,
        }];
    }
    specs
        .iter()
        .filter_map(|m| {
            let source = fields::str_at(m, "/type").to_string();
            let (inner, per_pod) = match source.as_str() {
                "Resource" => (m.get("resource")?, true),
                "ContainerResource" => (m.get("containerResource")?, true),
                "Pods" => (m.get("pods")?, true),
                "Object" => (m.get("object")?, false),
                "External" => (m.get("external")?, false),
                _ => return None,
            };
            let (target, kind) = target_value(inner.get("target")?);
            let kind = match (kind, per_pod) {
                ("Utilization", _) => MetricKind::Utilization,
                ("AverageValue", true) => MetricKind::PodAverage,
                ("AverageValue", false) => MetricKind::TotalAverage,
                _ => MetricKind::Value,
            };
            let name = inner
                .get("name")
                .and_then(Value::as_str)
                .or_else(|| inner.pointer("/metric/name").and_then(Value::as_str))?
                .to_string();
            Some(MetricDef {
                kind,
                source,
                name,
                target: target?,
                metric: inner.get("metric").cloned().unwrap_or(Value::Null),
            })
        })
        .collect()
}

fn rules(v: Option<&Value>, up: bool) -> Rules {
    let window = v
        .and_then(|r| r.get("stabilizationWindowSeconds"))
        .and_then(Value::as_f64)
        .unwrap_or(if up { 0.0 } else { DOWN_WINDOW_SECS });
    let policies = v
        .and_then(|r| r.get("policies"))
        .and_then(Value::as_array)
        .map(|p| {
            p.iter()
                .map(|p| Policy {
                    percent: fields::str_at(p, "/type") == "Percent",
                    value: fields::i64_at(p, "/value", 0) as f64,
                    period: fields::i64_at(p, "/periodSeconds", 15) as f64,
                })
                .collect()
        })
        .unwrap_or_else(|| {
            let pct = Policy {
                percent: true,
                value: 100.0,
                period: 15.0,
            };
            if up {
                vec![
                    Policy {
                        percent: false,
                        value: 4.0,
                        period: 15.0,
                    },
                    pct,
                ]
            } else {
                vec![pct]
            }
        });
    let select_max = match v
        .and_then(|r| r.get("selectPolicy"))
        .and_then(Value::as_str)
    {
        Some("Disabled") => None,
        Some("Min") => Some(false),
        _ => Some(true),
    };
    Rules {
        window,
        policies,
        select_max,
    }
}

/// Reads an HPA's limits and rules.
#[must_use]
pub fn limits(hpa: &Value) -> Limits {
    let behavior = hpa.pointer("/spec/behavior");
    Limits {
        min: fields::i64_at(hpa, "/spec/minReplicas", 1),
        max: fields::i64_at(hpa, "/spec/maxReplicas", 1),
        up: rules(behavior.and_then(|b| b.get("scaleUp")), true),
        down: rules(behavior.and_then(|b| b.get("scaleDown")), false),
        legacy: behavior.is_none_or(Value::is_null),
    }
}

/// The store kind a `scaleTargetRef` names, if the simulator knows it.
#[must_use]
pub fn target_type(hpa: &Value) -> Option<TypeId> {
    let api_version = fields::str_at(hpa, "/spec/scaleTargetRef/apiVersion");
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let kind = fields::str_at(hpa, "/spec/scaleTargetRef/kind");
    registry::find_kind(group, kind)
}

/// The CPU utilization metric most HPAs scale on.
#[must_use]
pub fn cpu_metric(util: i64) -> Value {
    json!({ "type": "Resource", "resource": {
        "name": "cpu", "target": { "type": "Utilization", "averageUtilization": util } } })
}

/// The behavior the API server writes when a client sets any: each direction's defaults,
/// with the scale-down window given.
#[must_use]
pub fn default_behavior(down_window: i64) -> Value {
    json!({
        "scaleUp": { "stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
            { "type": "Pods", "value": 4, "periodSeconds": 15 },
            { "type": "Percent", "value": 100, "periodSeconds": 15 } ] },
        "scaleDown": { "stabilizationWindowSeconds": down_window, "selectPolicy": "Max", "policies": [
            { "type": "Percent", "value": 100, "periodSeconds": 15 } ] },
    })
}

/// An HPA object (autoscaling/v2) of `metrics` (spec entries) and `behavior`.
#[must_use]
#[allow(clippy::too_many_arguments)]
pub fn hpa_object(
    ns: &str,
    name: &str,
    target: (&str, &str, &str),
    min: i64,
    max: i64,
    metrics: Value,
    behavior: Value,
    instance: Option<&str>,
    created: DateTime<Utc>,
) -> Value {
    let (api_version, kind, target_name) = target;
    let mut hpa = json!({
        "metadata": { "name": name, "namespace": ns, "creationTimestamp": clock::fmt(created) },
        "spec": {
            "scaleTargetRef": { "apiVersion": api_version, "kind": kind, "name": target_name },
            "minReplicas": min,
            "maxReplicas": max,
            "metrics": metrics,
            "behavior": behavior,
        },
    });
    if behavior.is_null()
        && let Some(spec) = hpa["spec"].as_object_mut()
    {
        // An HPA created without behavior keeps none (the API server fills it only when set).
        spec.remove("behavior");
    }
    if let Some(app) = instance {
        hpa["metadata"]["labels"] = json!({ super::build::INSTANCE: app });
    }
    hpa
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::kinds::kinds;

    #[test]
    fn reads_limits_metrics_targets_and_quantities() {
        let hpa = hpa_object(
            "shop",
            "cart",
            ("apps/v1", "Deployment", "cart"),
            2,
            9,
            json!([cpu_metric(55), {"type": "Pods", "pods": {"metric": {"name": "rps"},
                "target": {"type": "AverageValue", "averageValue": "100"}}}]),
            default_behavior(600),
            None,
            clock::now(),
        );
        let l = limits(&hpa);
        assert_eq!(
            (l.min, l.max, l.up.window, l.down.window),
            (2, 9, 0.0, 600.0)
        );
        assert_eq!(l.up.policies.len(), 2);
        let m = metric_defs(&hpa);
        assert_eq!(m[0].kind, MetricKind::Utilization);
        assert_eq!((m[1].kind, m[1].target), (MetricKind::PodAverage, 100.0));
        assert_eq!(m[1].describe(), "pods metric rps");
        assert_eq!(target_type(&hpa), Some(kinds().deployment));
        let ro = json!({"spec": {"scaleTargetRef": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "x"}}});
        assert_eq!(target_type(&ro), Some(kinds().rollout));
        assert_eq!(millicores("250m"), 250);
        assert_eq!(millicores("1.5"), 1500);
        assert_eq!(format_quantity(140.0), "140");
        assert_eq!(format_quantity(0.25), "250m");
        // No behavior: legacy defaults (up 0 s, down 300 s).
        let bare = json!({"spec": {"minReplicas": 1, "maxReplicas": 3}});
        assert_eq!(limits(&bare).down.window, 300.0);
        assert_eq!(metric_defs(&bare)[0].target, 80.0);
    }
}
