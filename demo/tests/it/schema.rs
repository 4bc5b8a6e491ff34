//! Validates objects against the `openAPIV3Schema` of the upstream CRDs in the fixtures, the
//! way the API server's structural-schema validation would, so objects the demo serves (seeded
//! by the simulated controllers or written through the API) are proven to be real objects of
//! their kind.
//!
//! Checked: `type`, `properties`, `required`, `items`, `enum`, `additionalProperties` (bool or
//! schema), `nullable`, `x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields`,
//! `x-kubernetes-embedded-resource`, `allOf`/`anyOf`/`oneOf`/`not` (as constraints),
//! `minimum`/`maximum`, `minLength`/`maxLength`, `minItems`/`maxItems`, and `format:
//! date-time` (RFC 3339). Unknown fields are errors (the API server would prune them, silently
//! losing data), except unknown fields whose value is null (pruning those loses nothing; Go
//! clients write `creationTimestamp: null` into pod templates). Not checked: `pattern`, other
//! formats, and CEL rules (`x-kubernetes-validations`).
//!
//! Reuse: [`validate_object`] finds the CRD from an object's `apiVersion` and `kind`;
//! [`schema_for`] and [`validate`] check against a chosen version. The simulator tests
//! (`sim_workloads`, `sim_rollouts`) validate everything they seed with these.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{Value, json};

use kdeck_demo::testing::demo_harness::{NS, TestDemo, kind};

use kdeck_demo::testing::support;

/// The repository's own fixtures (`tests/fixtures`, for kinds the shared ones lack: the VPA).
fn repo_crd_files() -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let mut out = Vec::new();
    for group in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        let crds = group.path().join("crds");
        for f in std::fs::read_dir(&crds).into_iter().flatten().flatten() {
            out.push(f.path());
        }
    }
    out
}

/// CRD files whose YAML the parser accepts; the few it rejects (flagger's, for a quoted
/// scalar style) are kinds the demo does not serve.
fn crd_documents() -> Vec<Value> {
    let mut docs = Vec::new();
    let shared = support::yaml_files_under("")
        .into_iter()
        .filter(|f| f.contains("/crds/"))
        .map(|f| support::fixture(&f));
    for path in shared.chain(repo_crd_files()) {
        let text = std::fs::read_to_string(&path).unwrap();
        if let Ok(parsed) = serde_saphyr::from_multiple::<Value>(&text) {
            docs.extend(
                parsed
                    .into_iter()
                    .filter(|d| d["kind"] == "CustomResourceDefinition"),
            );
        }
    }
    docs
}

/// (group, kind, version) → schema, from every CRD in the fixtures.
fn schemas() -> &'static BTreeMap<(String, String, String), Value> {
    static SCHEMAS: OnceLock<BTreeMap<(String, String, String), Value>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let mut out = BTreeMap::new();
        for crd in crd_documents() {
            let group = crd["spec"]["group"].as_str().unwrap().to_string();
            let kind = crd["spec"]["names"]["kind"].as_str().unwrap().to_string();
            for v in crd["spec"]["versions"].as_array().unwrap() {
                let schema = v["schema"]["openAPIV3Schema"].clone();
                if schema.is_object() {
                    let version = v["name"].as_str().unwrap().to_string();
                    out.insert((group.clone(), kind.clone(), version), schema);
                }
            }
        }
        out
    })
}

/// The schema of a kind at a version, if a fixture CRD defines it.
pub fn schema_for(group: &str, kind: &str, version: &str) -> Option<&'static Value> {
    schemas().get(&(group.to_string(), kind.to_string(), version.to_string()))
}

/// Validates an object against the CRD named by its `apiVersion` and `kind`. `Err` lists every
/// violation (with JSON paths), or says that no CRD defines the kind.
pub fn validate_object(obj: &Value) -> Result<(), Vec<String>> {
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let kind = obj["kind"].as_str().unwrap_or_default();
    let Some(schema) = schema_for(group, kind, version) else {
        return Err(vec![format!(
            "no CRD in the fixtures defines {kind} in {api_version}"
        )]);
    };
    let errors = validate(obj, schema);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Every violation of `schema` by `value` (empty when valid). `value` is a whole object: its
/// `apiVersion`, `kind` and `metadata` are always allowed, as on the API server.
pub fn validate(value: &Value, schema: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(value, schema, "", Mode::Root, &mut errors);
    errors
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The object itself: apiVersion, kind and metadata are implicit.
    Root,
    /// A field inside it: unknown fields are errors.
    Strict,
    /// A branch of anyOf/oneOf/allOf/not: constrains values, never declares fields.
    Constraint,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn flag(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool) == Some(true)
}

fn num(schema: &Value, key: &str) -> Option<f64> {
    schema.get(key).and_then(Value::as_f64)
}

fn check(value: &Value, schema: &Value, path: &str, mode: Mode, errors: &mut Vec<String>) {
    let at = if path.is_empty() { "<root>" } else { path };
    if value.is_null() {
        if !flag(schema, "nullable") && mode != Mode::Constraint {
            errors.push(format!("{at}: must not be null"));
        }
        return;
    }
    if flag(schema, "x-kubernetes-int-or-string") {
        if !value.is_string() && type_name(value) != "integer" {
            errors.push(format!(
                "{at}: must be an integer or a string, not {}",
                type_name(value)
            ));
        }
    } else if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let actual = type_name(value);
        let ok = actual == t || (t == "number" && actual == "integer");
        if !ok {
            errors.push(format!("{at}: must be of type {t}, not {actual}"));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        errors.push(format!(
            "{at}: {value} is not one of {}",
            Value::Array(options.clone())
        ));
    }
    if schema.get("format").and_then(Value::as_str) == Some("date-time")
        && let Some(s) = value.as_str()
        && chrono::DateTime::parse_from_rfc3339(s).is_err()
    {
        errors.push(format!("{at}: {value} is not a date-time"));
    }
    check_bounds(value, schema, at, errors);
    for key in ["allOf", "anyOf", "oneOf"] {
        let Some(branches) = schema.get(key).and_then(Value::as_array) else {
            continue;
        };
        let passing = branches
            .iter()
            .filter(|b| {
                let mut e = Vec::new();
                check(value, b, path, Mode::Constraint, &mut e);
                e.is_empty()
            })
            .count();
        let ok = match key {
            "allOf" => passing == branches.len(),
            "anyOf" => passing >= 1,
            _ => passing == 1,
        };
        if !ok {
            errors.push(format!(
                "{at}: {passing} of {} {key} branches match",
                branches.len()
            ));
        }
    }
    if let Some(not) = schema.get("not") {
        let mut e = Vec::new();
        check(value, not, path, Mode::Constraint, &mut e);
        if e.is_empty() {
            errors.push(format!("{at}: matches a schema it must not match"));
        }
    }
    match value {
        Value::Object(map) => check_object(map, schema, path, mode, errors),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                let child_mode = if mode == Mode::Constraint {
                    Mode::Constraint
                } else {
                    Mode::Strict
                };
                for (i, item) in items.iter().enumerate() {
                    check(
                        item,
                        item_schema,
                        &format!("{path}[{i}]"),
                        child_mode,
                        errors,
                    );
                }
            }
        }
        _ => {}
    }
}

fn check_bounds(value: &Value, schema: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(n) = value.as_f64() {
        if num(schema, "minimum").is_some_and(|min| n < min) {
            errors.push(format!("{at}: {n} is below the minimum"));
        }
        if num(schema, "maximum").is_some_and(|max| n > max) {
            errors.push(format!("{at}: {n} is above the maximum"));
        }
    }
    let len = match value {
        Value::String(s) => Some((s.chars().count(), "Length")),
        Value::Array(a) => Some((a.len(), "Items")),
        _ => None,
    };
    if let Some((len, what)) = len {
        #[allow(clippy::cast_precision_loss)]
        let len_f = len as f64;
        if num(schema, &format!("min{what}")).is_some_and(|m| len_f < m) {
            errors.push(format!("{at}: {len} is fewer than min{what}"));
        }
        if num(schema, &format!("max{what}")).is_some_and(|m| len_f > m) {
            errors.push(format!("{at}: {len} is more than max{what}"));
        }
    }
}

fn check_object(
    map: &serde_json::Map<String, Value>,
    schema: &Value,
    path: &str,
    mode: Mode,
    errors: &mut Vec<String>,
) {
    let at = if path.is_empty() { "<root>" } else { path };
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for r in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(r) {
                errors.push(format!("{at}: missing required field {r:?}"));
            }
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties");
    let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
    let embedded = flag(schema, "x-kubernetes-embedded-resource");
    let child_mode = if mode == Mode::Constraint {
        Mode::Constraint
    } else {
        Mode::Strict
    };
    for (key, child) in map {
        let child_path = format!("{path}.{key}");
        if (mode == Mode::Root || embedded)
            && matches!(key.as_str(), "apiVersion" | "kind" | "metadata")
        {
            // The API server owns ObjectMeta; only its shape is checked.
            if key == "metadata" && !child.is_object() {
                errors.push(format!("{child_path}: must be an object"));
            } else if key != "metadata"
                && let Some(s) = properties.and_then(|p| p.get(key))
            {
                check(child, s, &child_path, child_mode, errors);
            }
            continue;
        }
        if let Some(s) = properties.and_then(|p| p.get(key)) {
            check(child, s, &child_path, child_mode, errors);
        } else if let Some(extra) = additional.filter(|a| a.is_object()) {
            check(child, extra, &child_path, child_mode, errors);
        } else if additional.and_then(Value::as_bool) == Some(true)
            || preserve
            || mode == Mode::Constraint
            || child.is_null()
        {
            // Allowed and not described.
        } else {
            errors.push(format!("{child_path}: unknown field"));
        }
    }
}

// --- tests -----------------------------------------------------------------------------------

/// A valid Velero Backup (the docs examples in the fixtures are illustrative, not valid).
fn velero_backup(name: &str) -> Value {
    json!({
        "apiVersion": "velero.io/v1", "kind": "Backup",
        "metadata": {"name": name, "namespace": NS, "labels": {"velero.io/schedule-name": "daily"}},
        "spec": {"includedNamespaces": ["shop"], "storageLocation": "default", "ttl": "720h0m0s",
                 "snapshotVolumes": false},
        "status": {"phase": "Completed", "startTimestamp": "2025-01-01T00:00:00Z",
                   "completionTimestamp": "2025-01-01T00:05:00Z", "expiration": "2025-01-31T00:00:00Z",
                   "progress": {"itemsBackedUp": 42, "totalItems": 42}, "version": 1,
                   "formatVersion": "1.1.0"},
    })
}

fn velero_schedule(name: &str) -> Value {
    json!({
        "apiVersion": "velero.io/v1", "kind": "Schedule",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"schedule": "0 3 * * *", "template": {"includedNamespaces": ["shop"], "ttl": "720h0m0s"}},
        "status": {"phase": "Enabled", "lastBackup": "2025-01-01T03:00:00Z"},
    })
}

fn rollout() -> Value {
    let mut ro = support::load_yaml("argo-rollouts/examples/rollout-canary.yaml");
    ro["metadata"]["namespace"] = json!(NS);
    ro
}

#[test]
fn validator_accepts_a_real_object_and_catches_violations() {
    let ro = rollout();
    assert_eq!(validate_object(&ro), Ok(()));
    let broken = |f: fn(&mut Value)| {
        let mut v = ro.clone();
        f(&mut v);
        validate_object(&v)
            .expect_err("should be invalid")
            .join("; ")
    };
    let e = broken(|v| v["spec"]["replicaz"] = json!(3));
    assert!(e.contains(".spec.replicaz: unknown field"), "{e}");
    let e = broken(|v| v["spec"]["replicas"] = json!("five"));
    assert!(
        e.contains(".spec.replicas: must be of type integer, not string"),
        "{e}"
    );
    let e = broken(|v| v["spec"]["strategy"]["canary"]["steps"] = json!({"setWeight": 20}));
    assert!(
        e.contains(".spec.strategy.canary.steps: must be of type array"),
        "{e}"
    );
    let e = broken(|v| v["spec"]["strategy"]["canary"]["steps"][0]["setWeigth"] = json!(1));
    assert!(
        e.contains(".spec.strategy.canary.steps[0].setWeigth: unknown field"),
        "{e}"
    );
    let e = broken(|v| {
        v["spec"]["template"]["spec"]["containers"][0]
            .as_object_mut()
            .unwrap()
            .remove("name")
            .map(|_| ())
            .unwrap()
    });
    assert!(e.contains("missing required field \"name\""), "{e}");
    let e =
        broken(|v| v["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!(null));
    assert!(e.contains("imagePullPolicy: must not be null"), "{e}");
    // int-or-string accepts both but nothing else.
    let mut ok = ro.clone();
    ok["spec"]["strategy"]["canary"]["maxSurge"] = json!("25%");
    assert_eq!(validate_object(&ok), Ok(()));
    ok["spec"]["strategy"]["canary"]["maxSurge"] = json!(2);
    assert_eq!(validate_object(&ok), Ok(()));
    let e = broken(|v| v["spec"]["strategy"]["canary"]["maxSurge"] = json!(true));
    assert!(
        e.contains("maxSurge: must be an integer or a string"),
        "{e}"
    );
    // Unknown fields holding null are pruned without loss, so they pass.
    let mut null_ts = ro.clone();
    null_ts["spec"]["template"]["metadata"]["creationTimestamp"] = Value::Null;
    assert_eq!(validate_object(&null_ts), Ok(()));
    // Enums.
    let mut backup = velero_backup("b");
    assert_eq!(validate_object(&backup), Ok(()));
    backup["status"]["phase"] = json!("Sleeping");
    let e = validate_object(&backup).unwrap_err().join("; ");
    assert!(
        e.contains(".status.phase: \"Sleeping\" is not one of"),
        "{e}"
    );
    assert!(validate_object(&json!({"apiVersion": "v1", "kind": "Pod"})).is_err());
}

/// One violation of each kind the API server rejects, including a malformed date-time.
#[test]
fn validator_catches_what_the_api_server_would() {
    let schema = schema_for("velero.io", "Schedule", "v1").unwrap();
    let good = json!({
        "apiVersion": "velero.io/v1", "kind": "Schedule", "metadata": {"name": "a"},
        "spec": {"schedule": "0 * * * *", "template": {"ttl": "24h0m0s"}},
        "status": {"phase": "Enabled", "lastBackup": "2025-01-01T00:00:00Z"},
    });
    assert!(
        validate(&good, schema).is_empty(),
        "{:?}",
        validate(&good, schema)
    );
    let bad = json!({
        "apiVersion": "velero.io/v1", "kind": "Schedule", "metadata": {"name": "a"},
        "spec": {"template": {"ttl": 5, "bogus": true}},
        "status": {"phase": "Running", "lastBackup": "yesterday"},
    });
    let errors = validate(&bad, schema);
    assert_eq!(errors.len(), 5, "{errors:#?}");
}

/// Fixture objects upstream ships as examples and test data: a check of the validator itself.
#[test]
fn fixture_objects_validate() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for dir in [
        "argo-rollouts/examples",
        "argo-rollouts/info-testdata",
        "argo-rollouts/argocd-health",
        "argo-cd/applications",
        "argo-cd/examples",
        "istio/examples",
        "velero/examples",
        "flagger/examples",
        "keda/examples",
    ] {
        for file in support::yaml_files_under(dir) {
            for obj in support::load_yaml_docs(&file) {
                if !obj.is_object()
                    || obj.get("kind").is_none()
                    || obj["kind"] == "CustomResourceDefinition"
                {
                    continue;
                }
                let api_version = obj["apiVersion"].as_str().unwrap_or_default();
                let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
                if schema_for(group, obj["kind"].as_str().unwrap_or_default(), version).is_none() {
                    continue;
                }
                checked += 1;
                if let Err(e) = validate_object(&obj) {
                    failures.push(format!("{file} ({}): {}", obj["kind"], e.join("; ")));
                }
            }
        }
    }
    // Known drift must be caught: the validator is only trusted if it rejects these.
    for (prefix, why) in KNOWN_FIXTURE_DRIFT {
        assert!(
            failures.iter().any(|f| f.starts_with(prefix)),
            "{prefix} ({why}) validated, but should not"
        );
    }
    failures.retain(|f| {
        !KNOWN_FIXTURE_DRIFT
            .iter()
            .any(|(prefix, _)| f.starts_with(prefix))
    });
    assert!(checked > 100, "only {checked} fixture objects found");
    assert!(
        failures.is_empty(),
        "{} of {checked} invalid:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Fixture files that do not match today's CRDs, and why (see the fixtures' SOURCES.md).
const KNOWN_FIXTURE_DRIFT: &[(&str, &str)] = &[
    (
        "argo-rollouts/argocd-health/AnalysisRun/",
        "captured from 2019-2021 controllers: legacy spec.analysisSpec, integer intervals",
    ),
    (
        "argo-rollouts/argocd-health/Experiment/",
        "captured from old controllers: integer durations, status.running, condition phases",
    ),
    (
        "argo-rollouts/argocd-health/Rollout/",
        "captured from old controllers: status.canary.stableRS, status.pauseStartTime, analysis.name",
    ),
    (
        "argo-cd/applications/gitops-engine-application-",
        "partial objects holding only status",
    ),
    (
        "argo-cd/applications/gitops-backend-application2-outofsync.yaml",
        "history entries without id (older Argo CD)",
    ),
    (
        "argo-cd/applications/gitops-backend-application-resource-outofsync-missing.yaml",
        "history entries without id (older Argo CD)",
    ),
    (
        "argo-cd/examples/applicationset.yaml",
        "annotated skeleton with empty (null) generator fields and a removed field",
    ),
    (
        "velero/examples/docs-",
        "annotated reference objects from the docs with illustrative values",
    ),
];

/// What the demo serves of every CRD kind (listed over HTTP from each cluster), plus fixture
/// objects written through the API and read back at every served version, all validate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_custom_resources_validate() {
    // Every custom kind the demo serves has its CRD in the fixtures, at every version; the
    // shared fixtures hold no Flux CRD yet (kdeck's Flux fixtures, `tests/fixtures/flux`, are
    // objects), so Flux kinds are the one exception until they do.
    for rt in kdeck_demo::api::registry::RESOURCE_TYPES {
        if rt.addon != kdeck_demo::api::registry::Addon::Core
            && rt.addon != kdeck_demo::api::registry::Addon::Flux
        {
            for v in rt.versions {
                assert!(
                    schema_for(rt.group, rt.kind, v).is_some(),
                    "no CRD for {} {v}",
                    rt.kind
                );
            }
        }
    }
    let t = TestDemo::start(2).await;
    // Objects written through the API come back with server-set metadata and status rules.
    for (file, plural) in [
        ("argo-rollouts/examples/rollout-canary.yaml", "rollouts"),
        (
            "argo-rollouts/examples/analysis-templates.yaml",
            "analysistemplates",
        ),
        (
            "argo-cd/applications/synced-healthy-with-operationstate.yaml",
            "applications",
        ),
        (
            "istio/examples/bookinfo-destination-rule-all.yaml",
            "destinationrules",
        ),
        (
            "istio/examples/bookinfo-virtual-service-reviews-80-20.yaml",
            "virtualservices",
        ),
    ] {
        for mut obj in support::load_yaml_docs(file) {
            let api_version = obj["apiVersion"].as_str().unwrap().to_string();
            let group = api_version.rsplit_once('/').unwrap().0.to_string();
            if obj["kind"] != registry_kind(&group, plural) {
                continue;
            }
            obj["metadata"]["namespace"] = json!(NS);
            let url = format!("{}/apis/{api_version}/namespaces/{NS}/{plural}", t.url(0));
            let resp = t.http().post(&url).json(&obj).send().await.unwrap();
            assert_eq!(
                resp.status(),
                reqwest::StatusCode::CREATED,
                "{file}: {}",
                resp.text().await.unwrap()
            );
        }
    }
    t.insert(0, velero_backup("it-backup"));
    t.insert(0, velero_schedule("it-daily"));
    let mut checked = 0;
    let mut failures = Vec::new();
    for i in 0..2 {
        let state = &t.cluster(i).state;
        for (id, rt) in kdeck_demo::api::registry::RESOURCE_TYPES.iter().enumerate() {
            if !state.store.serves(id) {
                continue;
            }
            for version in rt.versions {
                if schema_for(rt.group, rt.kind, version).is_none() {
                    continue;
                }
                let url = format!("{}/apis/{}/{version}/{}", t.url(i), rt.group, rt.plural);
                let list: Value = t
                    .http()
                    .get(&url)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                for item in list["items"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{url}: {list}"))
                {
                    checked += 1;
                    if let Err(e) = validate_object(item) {
                        failures.push(format!(
                            "{} {}/{} at {version}: {}",
                            rt.kind,
                            item["metadata"]["namespace"],
                            item["metadata"]["name"],
                            e.join("; ")
                        ));
                    }
                }
            }
        }
    }
    assert!(checked >= 7, "only {checked} objects checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn registry_kind(group: &str, plural: &str) -> &'static str {
    kdeck_demo::api::registry::get(kind(group, plural)).kind
}
