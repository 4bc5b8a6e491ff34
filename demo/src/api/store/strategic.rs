//! Object store: strategic merge patch, applied by the write path (write.rs) for
//! `application/strategic-merge-patch+json` bodies.

use serde_json::{Map, Value};

/// Strategic merge patch, as far as kubectl's own patches need it: JSON merge semantics,
/// except that lists of named items (containers, env, ports, volumes, conditions ...) are
/// merged by their key, and `$patch: delete|replace` directives are honoured.
pub fn apply_strategic(doc: &mut Value, patch: &Value) {
    match (doc, patch) {
        (Value::Object(target), Value::Object(p)) => {
            if p.get("$patch").and_then(Value::as_str) == Some("replace") {
                let mut p = p.clone();
                p.remove("$patch");
                *target = p;
                return;
            }
            for (k, v) in p {
                if k.starts_with('$') {
                    continue;
                }
                if v.is_null() {
                    target.remove(k);
                    continue;
                }
                match (target.get_mut(k), v) {
                    (Some(Value::Array(items)), Value::Array(patch_items)) => {
                        if let Some(merge_key) = merge_key_for(k) {
                            merge_list(items, patch_items, merge_key);
                        } else {
                            *items = patch_items.clone();
                        }
                    }
                    (Some(existing @ Value::Object(_)), Value::Object(_)) => {
                        apply_strategic(existing, v);
                    }
                    _ => {
                        let mut fresh = Value::Object(Map::new());
                        if v.is_object() {
                            apply_strategic(&mut fresh, v);
                            target.insert(k.clone(), fresh);
                        } else {
                            target.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
        }
        (doc, patch) => *doc = patch.clone(),
    }
}

fn merge_key_for(field: &str) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => "name",
        "ports" => "containerPort",
        "volumeMounts" => "mountPath",
        "conditions" => "type",
        "tolerations" => "key",
        _ => return None,
    })
}

fn merge_list(items: &mut Vec<Value>, patch_items: &[Value], key: &str) {
    for p in patch_items {
        let Some(id) = p.get(key) else {
            items.push(p.clone());
            continue;
        };
        let pos = items.iter().position(|i| i.get(key) == Some(id));
        let delete = p.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                items.remove(i);
            }
            (Some(i), false) => apply_strategic(&mut items[i], p),
            (None, true) => {}
            (None, false) => {
                let mut fresh = Value::Object(Map::new());
                apply_strategic(&mut fresh, p);
                items.push(fresh);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn strategic_merge_by_name() {
        let mut doc = json!({"spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}]}});
        apply_strategic(
            &mut doc,
            &json!({"spec": {"containers": [{"name": "b", "image": "y:2"}]}}),
        );
        assert_eq!(doc["spec"]["containers"][0]["image"], "x:1");
        assert_eq!(doc["spec"]["containers"][1]["image"], "y:2");
    }
}
