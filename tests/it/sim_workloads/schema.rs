//! A structural validator for CRD `openAPIV3Schema`s, strict enough to catch what the API
//! server would prune or reject: unknown fields, wrong types, missing required fields, values
//! outside an enum, malformed date-times, and nulls where the schema is not nullable.

use serde_json::Value;

use crate::support;

/// The `openAPIV3Schema` of a CRD's first served version.
pub fn load(rel: &str) -> Value {
    let docs = support::load_yaml_docs(rel);
    let crd = docs
        .into_iter()
        .find(|d| d["kind"] == "CustomResourceDefinition")
        .unwrap_or_else(|| panic!("{rel} holds no CRD"));
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// Every violation of `schema` by `obj`, as `path: problem`.
pub fn validate(schema: &Value, obj: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    walk(schema, obj, "", &mut errors, true);
    errors
}

fn walk(schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>, root: bool) {
    if v.is_null() {
        if schema["nullable"] != true {
            errors.push(format!("{path}: null is not allowed"));
        }
        return;
    }
    if schema["x-kubernetes-int-or-string"] == true {
        if !(v.is_i64() || v.is_u64() || v.is_string()) {
            errors.push(format!("{path}: want int or string, got {v}"));
        }
        return;
    }
    let preserve = schema["x-kubernetes-preserve-unknown-fields"] == true;
    match schema["type"].as_str() {
        Some("object") => {
            let Some(map) = v.as_object() else {
                errors.push(format!("{path}: want object, got {v}"));
                return;
            };
            for r in schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !map.contains_key(r) {
                    errors.push(format!("{path}.{r}: required"));
                }
            }
            let props = schema["properties"].as_object();
            for (k, child) in map {
                let p = format!("{path}.{k}");
                if root && k == "metadata" {
                    continue;
                }
                if let Some(s) = props.and_then(|m| m.get(k)) {
                    walk(s, child, &p, errors, false);
                } else if let Some(addl) = schema.get("additionalProperties") {
                    if addl.is_object() {
                        walk(addl, child, &p, errors, false);
                    } else if addl != &Value::Bool(true) && !preserve {
                        errors.push(format!("{p}: unknown field"));
                    }
                } else if !preserve {
                    errors.push(format!("{p}: unknown field"));
                }
            }
        }
        Some("array") => {
            let Some(items) = v.as_array() else {
                errors.push(format!("{path}: want array, got {v}"));
                return;
            };
            for (i, item) in items.iter().enumerate() {
                walk(
                    &schema["items"],
                    item,
                    &format!("{path}[{i}]"),
                    errors,
                    false,
                );
            }
        }
        Some("string") => {
            let Some(s) = v.as_str() else {
                errors.push(format!("{path}: want string, got {v}"));
                return;
            };
            if let Some(allowed) = schema["enum"].as_array()
                && !allowed.iter().any(|a| a == v)
            {
                errors.push(format!("{path}: {s:?} not in {allowed:?}"));
            }
            if schema["format"] == "date-time" && chrono::DateTime::parse_from_rfc3339(s).is_err() {
                errors.push(format!("{path}: {s:?} is not a date-time"));
            }
        }
        Some("integer") if !(v.is_i64() || v.is_u64()) => {
            errors.push(format!("{path}: want integer, got {v}"));
        }
        Some("number") if !v.is_number() => {
            errors.push(format!("{path}: want number, got {v}"));
        }
        Some("boolean") if !v.is_boolean() => {
            errors.push(format!("{path}: want boolean, got {v}"));
        }
        _ => {}
    }
}

#[test]
fn validator_catches_what_the_api_server_would() {
    let schema = load("velero/crds/velero.io_schedules.yaml");
    let good = serde_json::json!({
        "apiVersion": "velero.io/v1", "kind": "Schedule", "metadata": {"name": "a"},
        "spec": {"schedule": "0 * * * *", "template": {"ttl": "24h0m0s"}},
        "status": {"phase": "Enabled", "lastBackup": "2025-01-01T00:00:00Z"},
    });
    assert!(
        validate(&schema, &good).is_empty(),
        "{:?}",
        validate(&schema, &good)
    );
    let bad = serde_json::json!({
        "apiVersion": "velero.io/v1", "kind": "Schedule", "metadata": {"name": "a"},
        "spec": {"template": {"ttl": 5, "bogus": true}},
        "status": {"phase": "Running", "lastBackup": "yesterday"},
    });
    let errors = validate(&schema, &bad);
    assert_eq!(errors.len(), 5, "{errors:#?}");
}
