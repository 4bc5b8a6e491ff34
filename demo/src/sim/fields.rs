//! Small typed readers for `serde_json` objects, so controllers can read a field with a
//! default instead of unwrapping external data, and the hashing and encoding behind
//! deterministic generated names. Every simulated controller family reads fields here.

use serde_json::Value;

/// The string at a JSON pointer, if there is one.
#[must_use]
pub fn get_str<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr).and_then(Value::as_str)
}

/// The integer at a JSON pointer, if there is one.
#[must_use]
pub fn get_i64(v: &Value, ptr: &str) -> Option<i64> {
    v.pointer(ptr).and_then(Value::as_i64)
}

/// The string at a JSON pointer, or `""`.
#[must_use]
pub fn str_at<'a>(v: &'a Value, ptr: &str) -> &'a str {
    get_str(v, ptr).unwrap_or_default()
}

/// The integer at a JSON pointer, or `default`.
#[must_use]
pub fn i64_at(v: &Value, ptr: &str, default: i64) -> i64 {
    get_i64(v, ptr).unwrap_or(default)
}

/// The boolean at a JSON pointer, or `false`.
#[must_use]
pub fn bool_at(v: &Value, ptr: &str) -> bool {
    v.pointer(ptr).and_then(Value::as_bool).unwrap_or(false)
}

/// The array at a JSON pointer, or an empty slice.
#[must_use]
pub fn array_at<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `metadata.name`.
#[must_use]
pub fn name(v: &Value) -> &str {
    str_at(v, "/metadata/name")
}

/// `metadata.namespace`.
#[must_use]
pub fn namespace(v: &Value) -> &str {
    str_at(v, "/metadata/namespace")
}

/// `metadata.uid`.
#[must_use]
pub fn uid(v: &Value) -> &str {
    str_at(v, "/metadata/uid")
}

/// A label value, or `""`.
#[must_use]
pub fn label<'a>(v: &'a Value, key: &str) -> &'a str {
    metadata_entry(v, "labels", key)
}

/// An annotation value, or `""`.
#[must_use]
pub fn annotation<'a>(v: &'a Value, key: &str) -> &'a str {
    metadata_entry(v, "annotations", key)
}

/// `metadata.<map>[key]`, looked up by key rather than pointer: label and annotation keys
/// hold `/`, which a JSON pointer would have to escape.
fn metadata_entry<'a>(v: &'a Value, map: &str, key: &str) -> &'a str {
    v.get("metadata")
        .and_then(|m| m.get(map))
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Sets `metadata.annotations[key]`, creating the map when missing.
pub fn set_annotation(v: &mut Value, key: &str, value: &str) {
    if !v["metadata"]["annotations"].is_object() {
        v["metadata"]["annotations"] = Value::Object(serde_json::Map::new());
    }
    v["metadata"]["annotations"][key] = Value::String(value.to_string());
}

/// The condition of `type_` in a `conditions` array, if present.
#[must_use]
pub fn condition<'a>(conditions: &'a [Value], type_: &str) -> Option<&'a Value> {
    conditions
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
}

/// FNV-1a over bytes: a stable, dependency-free hash for deterministic names.
#[must_use]
pub fn fnv64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Maps each character to an alphabet without vowels, as Kubernetes' `SafeEncodeString` does,
/// so generated names (pod-template hashes) never spell words.
#[must_use]
pub fn safe_encode(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn readers_default_on_missing_or_wrong_types() {
        let v = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"replicas": "3"}});
        assert_eq!(name(&v), "a");
        assert_eq!(namespace(&v), "");
        assert_eq!(i64_at(&v, "/spec/replicas", 1), 1);
        assert_eq!(label(&v, "x"), "1");
        assert!(array_at(&v, "/status/conditions").is_empty());
        let mut v = v;
        set_annotation(&mut v, "k", "v");
        assert_eq!(annotation(&v, "k"), "v");
    }
}
