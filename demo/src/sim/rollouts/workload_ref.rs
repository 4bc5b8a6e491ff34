//! `spec.workloadRef` in the simulated Argo Rollouts controller, as upstream's
//! `rollout/templateref.go` does it: the pod template (and, when the Rollout has none, the
//! selector) comes from the referenced `apps/v1` Deployment or ReplicaSet (or `v1`
//! PodTemplate) and is never written back to the Rollout; every change of a referenced
//! workload patches the Rollout's `rollout.argoproj.io/workload-generation` annotation, which
//! wakes the Rollout; the status then records `workloadObservedGeneration`. A reference that
//! cannot be resolved leaves an `InvalidSpec` condition, as `createInvalidRolloutCondition`.
//!
//! Also the demo's migrated workload ([`seed`]): `shop/reviews`, a canary Rollout whose
//! template comes from the Deployment `shop/reviews-deploy`, scaled to zero after the
//! migration, as Argo Rollouts' migration guide describes.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::status::{calculate_phase, set_condition};
use super::util::{self, Kinds, PART_OF_LABEL, PART_OF_VALUE, REVISION_ANNOTATION};
use crate::ClusterState;
use crate::api::registry::{self, TypeId};
use crate::sim::fields;

/// The annotation the controller keeps the referenced workload's generation in.
pub const WORKLOAD_GENERATION_ANNOTATION: &str = "rollout.argoproj.io/workload-generation";

/// A resolved reference: what the controller uses in place of `spec.template`.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub template: Value,
    /// The workload's `spec.selector.matchLabels` (empty for a PodTemplate).
    pub match_labels: Map<String, Value>,
    /// The workload's `metadata.generation`.
    pub generation: i64,
}

/// The plural and template path of a supported kind (upstream `infoByGroupKind`).
fn kind_of(group: &str, kind: &str) -> Option<(&'static str, &'static str)> {
    match (group, kind) {
        ("apps", "Deployment") => Some(("deployments", "/spec/template")),
        ("apps", "ReplicaSet") => Some(("replicasets", "/spec/template")),
        ("", "PodTemplate") => Some(("podtemplates", "/template")),
        _ => None,
    }
}

fn group_kind(r: &Value) -> (&str, &str) {
    let api_version = fields::str_at(r, "/apiVersion");
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    (group, fields::str_at(r, "/kind"))
}

/// Resolves `ro`'s `spec.workloadRef`: `Ok(None)` without one, `Err` with upstream's reason
/// when it cannot be resolved.
pub fn resolve(state: &ClusterState, ro: &Value) -> Result<Option<Resolved>, String> {
    let Some(r) = ro.pointer("/spec/workloadRef").filter(|r| r.is_object()) else {
        return Ok(None);
    };
    let has_template = ro
        .pointer("/spec/template")
        .map(util::normalized)
        .is_some_and(|t| t.as_object().is_some_and(|m| !m.is_empty()));
    if has_template {
        return Err("template must be empty for workload reference rollout".into());
    }
    let (group, kind) = group_kind(r);
    let Some((plural, template_path)) = kind_of(group, kind) else {
        return Err(format!("workload of type {group}/{kind} is not supported"));
    };
    let resource = if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    };
    let Some(type_id) = registry::find(group, plural).filter(|t| state.store.serves(*t)) else {
        return Err(format!(
            "the server could not find the requested resource ({resource})"
        ));
    };
    let name = fields::str_at(r, "/name");
    let Some(obj) = state.store.get_value(type_id, fields::namespace(ro), name) else {
        return Err(format!("{resource} \"{name}\" not found"));
    };
    Ok(Some(Resolved {
        template: obj.pointer(template_path).cloned().unwrap_or(Value::Null),
        match_labels: obj
            .pointer("/spec/selector/matchLabels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        generation: fields::i64_at(&obj, "/metadata/generation", 1),
    }))
}

/// `updateRolloutsReferenceAnnotation`: after a change of a workload of `type_id` (added,
/// modified or deleted), patches the workload-generation annotation of every Rollout in its
/// namespace that references it. Returns those Rollouts' names.
pub fn workload_changed(
    state: &ClusterState,
    kinds: Kinds,
    type_id: TypeId,
    workload: &Value,
) -> Vec<String> {
    let reg = registry::get(type_id);
    let ns = fields::namespace(workload);
    let name = fields::name(workload);
    let mut referencing = Vec::new();
    for o in state.store.list(kinds.rollouts, Some(ns)).0 {
        let ro = o.value();
        let Some(r) = ro.pointer("/spec/workloadRef") else {
            continue;
        };
        let (group, kind) = group_kind(r);
        if group != reg.group || kind != reg.kind || fields::str_at(r, "/name") != name {
            continue;
        }
        record_generation(state, kinds, &ro, workload);
        referencing.push(o.key.name.clone());
    }
    referencing
}

/// After missed events (a lagging subscription): brings every referencing Rollout's
/// workload-generation annotation up to date, as the informer's resync would.
pub fn resync(state: &ClusterState, kinds: Kinds) {
    for o in state.store.list(kinds.rollouts, None).0 {
        let ro = o.value();
        let Some(r) = ro.pointer("/spec/workloadRef") else {
            continue;
        };
        if group_kind(r) != ("apps", "Deployment") {
            continue;
        }
        let name = fields::str_at(r, "/name");
        if let Some(d) = state.store.get_value(kinds.deployments, &o.key.ns, name) {
            record_generation(state, kinds, &ro, &d);
        }
    }
}

/// Patches `ro`'s workload-generation annotation to `workload`'s generation when it differs.
fn record_generation(state: &ClusterState, kinds: Kinds, ro: &Value, workload: &Value) {
    let generation = fields::i64_at(workload, "/metadata/generation", 1).to_string();
    if fields::annotation(ro, WORKLOAD_GENERATION_ANNOTATION) != generation {
        state.store.modify(
            kinds.rollouts,
            fields::namespace(ro),
            fields::name(ro),
            |v| {
                fields::set_annotation(v, WORKLOAD_GENERATION_ANNOTATION, &generation);
            },
        );
    }
}

/// `createInvalidRolloutCondition`: records why the Rollout cannot be reconciled.
pub fn invalid(state: &ClusterState, kinds: Kinds, ro: &Value, error: &str, now: DateTime<Utc>) {
    let Some(parsed) = super::model::Rollout::parse(ro) else {
        return;
    };
    let message = format!("The Rollout \"{}\" is invalid: {error}", parsed.name);
    let generation = parsed.generation.to_string();
    state
        .store
        .modify(kinds.rollouts, &parsed.ns, &parsed.name, |v| {
            let mut st = v.get("status").cloned().unwrap_or_else(|| json!({}));
            set_condition(&mut st, "InvalidSpec", "True", "InvalidSpec", &message, now);
            st["observedGeneration"] = json!(generation);
            let (phase, msg) = calculate_phase(&parsed, &st);
            st["phase"] = json!(phase);
            st["message"] = json!(msg);
            v["status"] = st;
        });
}

/// The migrated workload: the Deployment `shop/reviews-deploy` (scaled to zero, its
/// ReplicaSet kept by the Deployment controller) and the Rollout `shop/reviews` that takes
/// its template from it, Healthy on its first revision. Returns the Rollout for settling.
pub fn seed(state: &ClusterState, kinds: Kinds, created: &str) -> Option<(String, String)> {
    let (ns, name, deploy) = ("shop", "reviews", "reviews-deploy");
    let template = super::seed::pod_template(name, "demo.registry.local/reviews:2.4.1");
    let labels = json!({"app": name, PART_OF_LABEL: PART_OF_VALUE});
    state
        .store
        .insert(
            kinds.deployments,
            json!({
                "metadata": {"name": deploy, "namespace": ns, "labels": labels,
                             "creationTimestamp": created},
                "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}},
                         "template": template},
            }),
        )
        .ok()?;
    crate::sim::workloads::deployments::sync(state, ns, deploy);
    let generation = state
        .store
        .get_value(kinds.deployments, ns, deploy)
        .map_or(1, |d| fields::i64_at(&d, "/metadata/generation", 1))
        .to_string();
    let steps = json!([
        {"setWeight": 25}, {"pause": {"duration": "30s"}},
        {"setWeight": 50}, {"pause": {"duration": "30s"}},
        {"setWeight": 75}, {"pause": {"duration": "30s"}},
    ]);
    let hash = util::pod_template_hash(&template, None);
    let ro = state
        .store
        .insert(
            kinds.rollouts,
            json!({
                "metadata": {
                    "name": name, "namespace": ns, "labels": labels,
                    "creationTimestamp": created,
                    "annotations": {REVISION_ANNOTATION: "1", WORKLOAD_GENERATION_ANNOTATION: generation},
                },
                "spec": {
                    "replicas": 4,
                    "revisionHistoryLimit": 3,
                    "selector": {"matchLabels": {"app": name}},
                    "workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deploy},
                    "strategy": {"canary": {"steps": steps}},
                },
                "status": {
                    "stableRS": hash, "currentPodHash": hash,
                    "currentStepHash": util::step_hash(&steps),
                    "currentStepIndex": 6, "observedGeneration": "1",
                    "workloadObservedGeneration": generation,
                    "canary": {}, "blueGreen": {},
                },
            }),
        )
        .ok()?;
    super::seed::replica_set(state, kinds, &ro, &template, 1, 4, 4, created);
    super::seed::service(state, kinds, ns, name, name, None, None);
    Some((ns.to_string(), name.to_string()))
}
