//! Server-side table printing (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), so
//! `kubectl get` prints real columns: the registry's printer columns, ages rendered the way
//! kubectl renders them, and the computed `@` columns (pod readiness, HPA targets ...).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::registry::{Addon, PrinterColumn, ResourceType};

/// What each row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    None,
    /// A `PartialObjectMetadata` (the default; kubectl reads namespace and labels from it).
    #[default]
    Metadata,
    Object,
}

impl IncludeObject {
    #[must_use]
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("None") => Self::None,
            Some("Object") => Self::Object,
            _ => Self::Metadata,
        }
    }
}

/// `metadata` of an object as `PartialObjectMetadata`.
#[must_use]
pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// The column definitions: `Name` first, then the kind's printer columns.
#[must_use]
pub fn column_definitions(t: &ResourceType) -> Value {
    let mut cols = vec![json!({
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": "Name must be unique within a namespace.",
        "priority": 0,
    })];
    for c in t.columns {
        cols.push(json!({
            "name": c.name,
            "type": c.kind,
            "format": "",
            "description": "",
            "priority": 0,
        }));
    }
    Value::Array(cols)
}

/// One row of the table for `obj`.
#[must_use]
pub fn row(t: &ResourceType, obj: &Value, include: IncludeObject, now: DateTime<Utc>) -> Value {
    let name = obj
        .pointer("/metadata/name")
        .cloned()
        .unwrap_or(Value::Null);
    let mut cells = vec![name];
    cells.extend(t.columns.iter().map(|c| typed_cell(t, c, obj, now)));
    let mut row = json!({ "cells": cells });
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => row["object"] = partial_metadata(obj),
        IncludeObject::Object => row["object"] = obj.clone(),
    }
    row
}

/// A cell as the kind's own printer fills it. Built-in kinds are printed from Go structs, in
/// which an integer the object omits (`omitempty` drops zeros) is 0: `kubectl get deploy`
/// shows AVAILABLE `0`, not a blank. Custom resources are printed through JSONPaths, where a
/// missing value stays an empty cell.
fn typed_cell(t: &ResourceType, col: &PrinterColumn, obj: &Value, now: DateTime<Utc>) -> Value {
    let v = cell(col, obj, now);
    if v.is_null() && col.kind == "integer" && t.addon == Addon::Core {
        json!(0)
    } else {
        v
    }
}

/// A complete `Table` object.
#[must_use]
pub fn table(
    t: &ResourceType,
    api_version: &str,
    rows: Vec<Value>,
    resource_version: Option<String>,
    continue_token: Option<String>,
    remaining: Option<usize>,
) -> Value {
    let mut metadata = json!({});
    if let Some(rv) = resource_version {
        metadata["resourceVersion"] = Value::String(rv);
    }
    if let Some(c) = continue_token {
        metadata["continue"] = Value::String(c);
    }
    if let Some(n) = remaining {
        metadata["remainingItemCount"] = json!(n);
    }
    json!({
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": metadata,
        "columnDefinitions": column_definitions(t),
        "rows": rows,
    })
}

/// The value of one cell; `null` prints as `<none>` in kubectl.
#[must_use]
pub fn cell(col: &PrinterColumn, obj: &Value, now: DateTime<Utc>) -> Value {
    if let Some(computed) = col.path.strip_prefix('@') {
        return computed_cell(computed, obj);
    }
    let mut v = obj;
    for part in col.path.trim_start_matches('.').split('.') {
        match v.get(part) {
            Some(next) => v = next,
            None => return Value::Null,
        }
    }
    match (col.kind, v) {
        ("date", Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Value::String(human_age(now - t.with_timezone(&Utc))))
            .unwrap_or(Value::Null),
        (_, Value::Array(_) | Value::Object(_)) => Value::String(v.to_string()),
        (_, other) => other.clone(),
    }
}

/// An elapsed time the way kubectl prints ages: `5s`, `3m2s`, `45m`, `4h10m`, `12h`, `3d4h`,
/// `12d`, `2y30d`.
#[must_use]
pub fn human_age(elapsed: chrono::Duration) -> String {
    let secs = elapsed.num_seconds();
    if secs < -1 {
        return "<invalid>".to_string();
    }
    if secs < 0 {
        return "0s".to_string();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        return two_units(minutes, "m", secs % 60, "s");
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return two_units(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return two_units(days, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        return two_units(years, "y", days % 365, "d");
    }
    format!("{years}y")
}

/// `3m2s`, or `3m` when the smaller unit is zero.
fn two_units(big: i64, big_unit: &str, small: i64, small_unit: &str) -> String {
    if small == 0 {
        format!("{big}{big_unit}")
    } else {
        format!("{big}{big_unit}{small}{small_unit}")
    }
}

fn str_at<'a>(obj: &'a Value, pointer: &str) -> Option<&'a str> {
    obj.pointer(pointer).and_then(Value::as_str)
}

fn int_at(obj: &Value, pointer: &str) -> Option<i64> {
    obj.pointer(pointer).and_then(Value::as_i64)
}

fn array_at<'a>(obj: &'a Value, pointer: &str) -> &'a [Value] {
    obj.pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn computed_cell(name: &str, obj: &Value) -> Value {
    match name {
        "pod-ready" => {
            let total = array_at(obj, "/spec/containers").len();
            let ready = array_at(obj, "/status/containerStatuses")
                .iter()
                .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
                .count();
            Value::String(format!("{ready}/{total}"))
        }
        "pod-status" => Value::String(pod_status(obj)),
        "pod-restarts" => {
            let sum: i64 = array_at(obj, "/status/containerStatuses")
                .iter()
                .filter_map(|c| c.get("restartCount").and_then(Value::as_i64))
                .sum();
            json!(sum)
        }
        "node-status" => Value::String(node_status(obj)),
        "node-roles" => Value::String(node_roles(obj)),
        "event-object" => {
            let kind = str_at(obj, "/involvedObject/kind").unwrap_or_default();
            let name = str_at(obj, "/involvedObject/name").unwrap_or_default();
            Value::String(format!("{}/{name}", kind.to_lowercase()))
        }
        "data-count" => {
            let count = |p: &str| {
                obj.pointer(p)
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len())
            };
            json!(count("/data") + count("/binaryData"))
        }
        "ready-of-replicas" => {
            let ready = int_at(obj, "/status/readyReplicas").unwrap_or(0);
            let desired = int_at(obj, "/spec/replicas").unwrap_or(1);
            Value::String(format!("{ready}/{desired}"))
        }
        "hpa-reference" => {
            let kind = str_at(obj, "/spec/scaleTargetRef/kind").unwrap_or_default();
            let name = str_at(obj, "/spec/scaleTargetRef/name").unwrap_or_default();
            Value::String(format!("{kind}/{name}"))
        }
        "hpa-targets" => Value::String(hpa_targets(obj)),
        c if c.starts_with("condition-") => {
            let type_ = &c["condition-".len()..];
            array_at(obj, "/status/conditions")
                .iter()
                .find(|x| x.get("type").and_then(Value::as_str) == Some(type_))
                .and_then(|x| x.get("status").cloned())
                .unwrap_or(Value::String("Unknown".into()))
        }
        _ => Value::Null,
    }
}

/// The STATUS column of `kubectl get pods`: the most telling reason among the pod's phase,
/// its init containers and its containers.
fn pod_status(pod: &Value) -> String {
    let mut reason = str_at(pod, "/status/reason")
        .filter(|r| !r.is_empty())
        .or_else(|| str_at(pod, "/status/phase"))
        .unwrap_or("Unknown")
        .to_string();
    let init_specs = array_at(pod, "/spec/initContainers").len();
    let mut initializing = false;
    for (i, c) in array_at(pod, "/status/initContainerStatuses")
        .iter()
        .enumerate()
    {
        if let Some(term) = c.pointer("/state/terminated") {
            if term.get("exitCode").and_then(Value::as_i64) == Some(0) {
                continue;
            }
            reason = match term.get("reason").and_then(Value::as_str) {
                Some(r) if !r.is_empty() => format!("Init:{r}"),
                _ => format!(
                    "Init:ExitCode:{}",
                    term.get("exitCode").and_then(Value::as_i64).unwrap_or(0)
                ),
            };
        } else if let Some(r) = c
            .pointer("/state/waiting/reason")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty() && *r != "PodInitializing")
        {
            reason = format!("Init:{r}");
        } else {
            reason = format!("Init:{i}/{init_specs}");
        }
        initializing = true;
        break;
    }
    if !initializing {
        let mut has_running = false;
        for c in array_at(pod, "/status/containerStatuses").iter().rev() {
            if let Some(r) = c
                .pointer("/state/waiting/reason")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty())
            {
                reason = r.to_string();
            } else if let Some(term) = c.pointer("/state/terminated") {
                reason = match term.get("reason").and_then(Value::as_str) {
                    Some(r) if !r.is_empty() => r.to_string(),
                    _ => format!(
                        "ExitCode:{}",
                        term.get("exitCode").and_then(Value::as_i64).unwrap_or(0)
                    ),
                };
            } else if c.pointer("/state/running").is_some()
                && c.get("ready").and_then(Value::as_bool) == Some(true)
            {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            reason = "Running".to_string();
        }
    }
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        reason = if str_at(pod, "/status/reason") == Some("NodeLost") {
            "Unknown".to_string()
        } else {
            "Terminating".to_string()
        };
    }
    reason
}

fn node_status(node: &Value) -> String {
    let ready = array_at(node, "/status/conditions")
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
        .and_then(|c| c.get("status").and_then(Value::as_str));
    let mut status = match ready {
        Some("True") => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }
    .to_string();
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    status
}

fn node_roles(node: &Value) -> String {
    let mut roles: Vec<String> = node
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| {
                    if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                        (!role.is_empty()).then(|| role.to_string())
                    } else if k == "kubernetes.io/role" {
                        v.as_str().map(str::to_string)
                    } else {
                        None
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.join(",")
    }
}

/// Renders a quantity or number as written (`500m`, `70`).
fn quantity(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The TARGETS column of `kubectl get hpa`: `cpu: 45%/70%` per metric (current from the
/// status entry at the same position), at most two, then `+ N more...`.
fn hpa_targets(hpa: &Value) -> String {
    let specs = array_at(hpa, "/spec/metrics");
    if specs.is_empty() {
        return "<none>".to_string();
    }
    let statuses = array_at(hpa, "/status/currentMetrics");
    let unknown = || "<unknown>".to_string();
    let mut list = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let status = statuses.get(i);
        let kind = spec.get("type").and_then(Value::as_str).unwrap_or_default();
        let text = match kind {
            "Resource" | "ContainerResource" => {
                let key = if kind == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let name = spec
                    .pointer(&format!("/{key}/name"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let target = spec.pointer(&format!("/{key}/target"));
                if let Some(avg) = target.and_then(|t| t.get("averageValue")) {
                    let current = status
                        .and_then(|s| quantity(s.pointer(&format!("/{key}/current/averageValue"))))
                        .unwrap_or_else(unknown);
                    format!(
                        "{name}: {current}/{}",
                        quantity(Some(avg)).unwrap_or_else(unknown)
                    )
                } else {
                    let current = status
                        .and_then(|s| {
                            s.pointer(&format!("/{key}/current/averageUtilization"))
                                .and_then(Value::as_i64)
                        })
                        .map_or_else(unknown, |u| format!("{u}%"));
                    let target = target
                        .and_then(|t| t.get("averageUtilization"))
                        .and_then(Value::as_i64)
                        .map_or_else(|| "<auto>".to_string(), |u| format!("{u}%"));
                    format!("{name}: {current}/{target}")
                }
            }
            "Pods" | "Object" | "External" => {
                let key = match kind {
                    "Pods" => "pods",
                    "Object" => "object",
                    _ => "external",
                };
                let target = spec.pointer(&format!("/{key}/target"));
                let (field, suffix) = if target.and_then(|t| t.get("averageValue")).is_some() {
                    ("averageValue", if kind == "Pods" { "" } else { " (avg)" })
                } else {
                    ("value", "")
                };
                let current = status
                    .and_then(|s| quantity(s.pointer(&format!("/{key}/current/{field}"))))
                    .unwrap_or_else(unknown);
                let wanted = quantity(target.and_then(|t| t.get(field))).unwrap_or_else(unknown);
                format!("{current}/{wanted}{suffix}")
            }
            _ => "<unknown type>".to_string(),
        };
        list.push(text);
    }
    if list.len() > 2 {
        let more = list.len() - 2;
        list.truncate(2);
        format!("{} + {more} more...", list.join(", "))
    } else {
        list.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::registry;

    fn d(secs: i64) -> chrono::Duration {
        chrono::Duration::seconds(secs)
    }

    #[test]
    fn ages_like_kubectl() {
        assert_eq!(human_age(d(-5)), "<invalid>");
        assert_eq!(human_age(d(-1)), "0s");
        assert_eq!(human_age(d(5)), "5s");
        assert_eq!(human_age(d(119)), "119s");
        assert_eq!(human_age(d(182)), "3m2s");
        assert_eq!(human_age(d(240)), "4m");
        assert_eq!(human_age(d(45 * 60 + 7)), "45m");
        assert_eq!(human_age(d(4 * 3600)), "4h");
        assert_eq!(human_age(d(4 * 3600 + 10 * 60)), "4h10m");
        assert_eq!(human_age(d(12 * 3600 + 59)), "12h");
        assert_eq!(human_age(d(3 * 86400 + 4 * 3600)), "3d4h");
        assert_eq!(human_age(d(12 * 86400)), "12d");
        assert_eq!(human_age(d(800 * 86400)), "2y70d");
        assert_eq!(human_age(d(3000 * 86400)), "8y");
    }

    fn col(t: &str, g: &str, name: &str) -> PrinterColumn {
        let rt = registry::get(registry::find(g, t).unwrap());
        *rt.columns.iter().find(|c| c.name == name).unwrap()
    }

    #[test]
    fn pod_cells() {
        let now = Utc::now();
        let created = (now - d(190)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let pod = json!({
            "metadata": {"name": "web-1", "creationTimestamp": created},
            "spec": {"containers": [{"name": "app"}, {"name": "proxy"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 2, "state": {"running": {}}},
                {"name": "proxy", "ready": false, "restartCount": 5,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
            ]},
        });
        assert_eq!(cell(&col("pods", "", "Ready"), &pod, now), "1/2");
        assert_eq!(
            cell(&col("pods", "", "Status"), &pod, now),
            "CrashLoopBackOff"
        );
        assert_eq!(cell(&col("pods", "", "Restarts"), &pod, now), 7);
        assert_eq!(cell(&col("pods", "", "Age"), &pod, now), "3m10s");
        let mut terminating = pod.clone();
        terminating["metadata"]["deletionTimestamp"] = json!(created);
        assert_eq!(
            cell(&col("pods", "", "Status"), &terminating, now),
            "Terminating"
        );
        let init = json!({
            "spec": {"initContainers": [{"name": "a"}, {"name": "b"}], "containers": [{"name": "c"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "a", "state": {"terminated": {"exitCode": 0}}},
                {"name": "b", "state": {"running": {}}},
            ]},
        });
        assert_eq!(cell(&col("pods", "", "Status"), &init, now), "Init:1/2");
    }

    #[test]
    fn workload_cells() {
        let now = Utc::now();
        let deploy =
            json!({"spec": {"replicas": 3}, "status": {"readyReplicas": 2, "updatedReplicas": 3}});
        assert_eq!(
            cell(&col("deployments", "apps", "Ready"), &deploy, now),
            "2/3"
        );
        assert_eq!(
            cell(&col("deployments", "apps", "Up-to-date"), &deploy, now),
            3
        );
        assert_eq!(
            cell(&col("deployments", "apps", "Available"), &deploy, now),
            Value::Null
        );
        // In a row, a built-in kind's missing count prints as 0 (Go's zero value); a custom
        // resource's stays empty.
        let deployments = registry::get(registry::find("apps", "deployments").unwrap());
        let r = row(deployments, &deploy, IncludeObject::None, now);
        assert_eq!(r["cells"], json!([Value::Null, "2/3", 3, 0, Value::Null]));
        let rollouts = registry::get(registry::find("argoproj.io", "rollouts").unwrap());
        let ro = json!({"spec": {"replicas": 3}, "status": {"replicas": 3}});
        let r = row(rollouts, &ro, IncludeObject::None, now);
        let available = rollouts
            .columns
            .iter()
            .position(|c| c.name == "Available")
            .unwrap();
        assert_eq!(r["cells"][available + 1], Value::Null);
        let hpa = json!({
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "10"}}},
            ]},
            "status": {"currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 45}}},
            ]},
        });
        assert_eq!(
            cell(
                &col("horizontalpodautoscalers", "autoscaling", "Reference"),
                &hpa,
                now
            ),
            "Deployment/web"
        );
        assert_eq!(
            cell(
                &col("horizontalpodautoscalers", "autoscaling", "Targets"),
                &hpa,
                now
            ),
            "cpu: 45%/70%, memory: <unknown>/500Mi + 1 more..."
        );
        let node = json!({
            "metadata": {"labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": ""}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        });
        assert_eq!(
            cell(&col("nodes", "", "Status"), &node, now),
            "Ready,SchedulingDisabled"
        );
        assert_eq!(
            cell(&col("nodes", "", "Roles"), &node, now),
            "control-plane,worker"
        );
        let vs = json!({"spec": {"hosts": ["reviews"]}});
        assert_eq!(
            cell(
                &col("virtualservices", "networking.istio.io", "Hosts"),
                &vs,
                now
            ),
            "[\"reviews\"]"
        );
        assert_eq!(
            cell(
                &col("virtualservices", "networking.istio.io", "Gateways"),
                &vs,
                now
            ),
            Value::Null
        );
        let ev = json!({"involvedObject": {"kind": "Pod", "name": "web-1"}});
        assert_eq!(cell(&col("events", "", "Object"), &ev, now), "pod/web-1");
    }

    #[test]
    fn rows_carry_metadata_by_default() {
        let t = registry::get(registry::find("", "configmaps").unwrap());
        let cm =
            json!({"metadata": {"name": "a", "namespace": "shop"}, "data": {"x": "1", "y": "2"}});
        let r = row(t, &cm, IncludeObject::parse(None), Utc::now());
        assert_eq!(r["cells"][0], "a");
        assert_eq!(r["cells"][1], 2);
        assert_eq!(r["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(r["object"]["metadata"]["namespace"], "shop");
        let r = row(t, &cm, IncludeObject::parse(Some("None")), Utc::now());
        assert!(r.get("object").is_none());
        let r = row(t, &cm, IncludeObject::parse(Some("Object")), Utc::now());
        assert_eq!(r["object"]["data"]["x"], "1");
        let tbl = table(t, "meta.k8s.io/v1", vec![r], Some("5".into()), None, None);
        assert_eq!(tbl["columnDefinitions"][0]["format"], "name");
        assert_eq!(tbl["columnDefinitions"][1]["name"], "Data");
        assert_eq!(tbl["metadata"]["resourceVersion"], "5");
    }
}
