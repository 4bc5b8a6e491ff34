//! The exact requests of each rollout action, as the upstream tools send them: status and
//! spec merge patches for Rollouts (kubectl-argo-rollouts), the JSON patch of an undo built
//! from the target ReplicaSet, kubectl's patches for Deployments, and the one-patch fallback
//! for controllers without a status subresource.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::exec::request::{KubeRequest, PatchType, Target};
use crate::k8s::apps::{
    DEPLOYMENT_REVISION_ANNOTATION, Deployment, POD_TEMPLATE_HASH_LABEL, RESTARTED_AT_ANNOTATION,
};
use crate::k8s::rollout::{ROLLOUT_POD_TEMPLATE_HASH_LABEL, ROLLOUT_REVISION_ANNOTATION, Rollout};
use crate::panes::rollouts::model::current_canary_step;

use super::actions::*;

pub(crate) fn status_merge(target: &Target, body: Value) -> KubeRequest {
    KubeRequest::patch(target, Some("status"), PatchType::Merge, body)
}

pub(crate) fn spec_merge(target: &Target, body: Value) -> KubeRequest {
    KubeRequest::patch(target, None, PatchType::Merge, body)
}

/// The plugin's step skip: `currentStepIndex + 1`, never past the last step.
pub(crate) fn next_step_index(ro: &Rollout) -> Option<i32> {
    let (_, index) = current_canary_step(ro);
    let total = i32::try_from(ro.canary_steps().len()).unwrap_or(i32::MAX);
    index.map(|i| if i < total { i + 1 } else { i })
}

/// Plugin `promote` (no flags): status patch first, then the spec patch, as the plugin sends
/// them.
pub(crate) fn promote_requests(ro: &Rollout, target: &Target) -> Vec<KubeRequest> {
    let st = ro.status_or_default();
    let paused_by_conditions = !st.pauses().is_empty();
    let inconclusive_step = ro.spec.strategy.canary.is_some()
        && st
            .canary
            .current_step_analysis_run_status
            .as_ref()
            .and_then(|r| r.status.as_deref())
            == Some("Inconclusive");
    let status_body = if inconclusive_step && paused_by_conditions && st.controller_pause {
        // An inconclusive step analysis would otherwise stay stuck: clear the controller
        // pause too and move to the next step.
        next_step_index(ro).map(|i| {
            json!({"status": {"pauseConditions": null, "controllerPause": false,
                              "currentStepIndex": i}})
        })
    } else if paused_by_conditions {
        Some(json!({"status": {"pauseConditions": null}}))
    } else if ro.spec.strategy.canary.is_some() {
        // Not at a pause: skip the current step (analysis, experiment...). Never both.
        next_step_index(ro)
            .map(|i| json!({"status": {"pauseConditions": null, "currentStepIndex": i}}))
    } else {
        None
    };
    let mut out = Vec::new();
    if let Some(body) = status_body {
        out.push(status_merge(target, body));
    }
    if ro.spec.paused {
        out.push(spec_merge(target, json!({"spec": {"paused": false}})));
    }
    out
}

/// The exact requests an action sends, in order. An empty list means there is nothing to
/// change (an undo whose target template is already the current one: the plugin's "skipped
/// rollback").
///
/// # Errors
/// The action is disabled (see [`check`]), or an undo lacks or mismatches its inputs.
pub fn requests(
    action: RolloutAction,
    ro: &Rollout,
    inputs: &ActionInputs,
) -> Result<Vec<KubeRequest>, String> {
    check(action, ro)?;
    let target = Target::of(ro);
    let st = ro.status_or_default();
    Ok(match action {
        RolloutAction::Abort => vec![status_merge(&target, json!({"status": {"abort": true}}))],
        RolloutAction::Retry => vec![status_merge(&target, json!({"status": {"abort": false}}))],
        RolloutAction::Promote => promote_requests(ro, &target),
        RolloutAction::PromoteFull => {
            if st.current_pod_hash != st.stable_rs {
                vec![status_merge(
                    &target,
                    json!({"status": {"promoteFull": true}}),
                )]
            } else {
                Vec::new()
            }
        }
        RolloutAction::Pause => vec![spec_merge(&target, json!({"spec": {"paused": true}}))],
        RolloutAction::Resume => {
            let mut out = Vec::new();
            if !st.pauses().is_empty() {
                out.push(status_merge(
                    &target,
                    json!({"status": {"pauseConditions": null}}),
                ));
            }
            if ro.spec.paused {
                out.push(spec_merge(&target, json!({"spec": {"paused": false}})));
            }
            out
        }
        RolloutAction::Restart => vec![spec_merge(
            &target,
            json!({"spec": {"restartAt": rfc3339(inputs.now)}}),
        )],
        RolloutAction::Undo { to_revision } => undo_requests(ro, to_revision, inputs)?,
    })
}

/// The request the plugin sends instead when a status-subresource patch answers 404 (Argo
/// Rollouts before v0.10 had no status subresource): the same change as one merge patch of
/// the main resource. For promote this is the plugin's "unified" patch, which replaces both
/// the status and the spec request. `None` when the action sends no status request (or, for
/// promote-full, when the plugin has no fallback).
///
/// # Errors
/// The action is disabled (see [`check`]).
pub fn status_fallback(action: RolloutAction, ro: &Rollout) -> Result<Option<KubeRequest>, String> {
    check(action, ro)?;
    let target = Target::of(ro);
    let st = ro.status_or_default();
    let body = match action {
        RolloutAction::Abort => Some(json!({"status": {"abort": true}})),
        RolloutAction::Retry => Some(json!({"status": {"abort": false}})),
        RolloutAction::Promote => {
            let inconclusive_case = ro.spec.strategy.canary.is_some()
                && st
                    .canary
                    .current_step_analysis_run_status
                    .as_ref()
                    .and_then(|r| r.status.as_deref())
                    == Some("Inconclusive")
                && !st.pauses().is_empty()
                && st.controller_pause;
            let step =
                (!inconclusive_case && st.pauses().is_empty() && ro.spec.strategy.canary.is_some())
                    .then(|| next_step_index(ro))
                    .flatten();
            Some(match step {
                Some(i) => json!({"spec": {"paused": false},
                                  "status": {"pauseConditions": null, "currentStepIndex": i}}),
                None => json!({"spec": {"paused": false}, "status": {"pauseConditions": null}}),
            })
        }
        RolloutAction::Resume if !st.pauses().is_empty() => {
            let mut body = json!({"status": {"pauseConditions": null}});
            if ro.spec.paused {
                body["spec"] = json!({"paused": false});
            }
            Some(body)
        }
        _ => None,
    };
    Ok(body.map(|b| spec_merge(&target, b)))
}

/// RFC 3339 in UTC with whole seconds, as Go's `time.RFC3339` prints a UTC time.
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Checks that the ReplicaSet the executor fetched is the one the action is about.
pub(crate) fn check_source(
    source: &Value,
    owner_uid: Option<&str>,
    revision_key: &str,
    to_revision: Option<i64>,
) -> Result<(), String> {
    if let Some(uid) = owner_uid.filter(|u| !u.is_empty()) {
        let owned = source
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|refs| {
                refs.iter()
                    .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
            });
        if !owned {
            return Err("the chosen ReplicaSet does not belong to this workload".into());
        }
    }
    if let Some(wanted) = to_revision.filter(|r| *r > 0) {
        let rev = source
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(revision_key))
            .and_then(Value::as_str)
            .and_then(|v| v.trim().parse::<i64>().ok());
        if rev != Some(wanted) {
            return Err(format!(
                "the chosen ReplicaSet is not revision {wanted} ({revision_key} is {})",
                rev.map_or_else(|| "missing".into(), |r| r.to_string())
            ));
        }
    }
    Ok(())
}

/// The pod template of a ReplicaSet with one hash label removed (the upstream tools delete it
/// before patching it back; an emptied label map is dropped as Go's `omitempty` does).
pub(crate) fn template_without_label(rs: &Value, label: &str) -> Result<Value, String> {
    let mut template = rs
        .pointer("/spec/template")
        .cloned()
        .ok_or("the chosen ReplicaSet has no spec.template")?;
    if let Some(meta) = template.get_mut("metadata").and_then(Value::as_object_mut) {
        let now_empty = meta
            .get_mut("labels")
            .and_then(Value::as_object_mut)
            .map(|labels| {
                labels.remove(label);
                labels.is_empty()
            });
        if now_empty == Some(true) {
            meta.remove("labels");
        }
    }
    Ok(template)
}

pub(crate) fn remove_label(template: &mut Value, label: &str) {
    if let Some(labels) = template
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(label);
    }
}

/// Go's `apiequality.Semantic.DeepDerivative(a, b)` on JSON: every field set in `a` equals the
/// one in `b`; unset fields of `a` (null, `""`, empty maps) are ignored.
pub(crate) fn json_derivative(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, _) => true,
        (Value::String(s), _) if s.is_empty() => true,
        (Value::Object(ma), _) if ma.is_empty() => true,
        (Value::Object(ma), Value::Object(mb)) => ma
            .iter()
            .all(|(k, va)| mb.get(k).is_some_and(|vb| json_derivative(va, vb))),
        (Value::Array(xa), Value::Array(xb)) => {
            xa.len() == xb.len() && xa.iter().zip(xb).all(|(x, y)| json_derivative(x, y))
        }
        _ => a == b,
    }
}

/// Drops zero values (null, `""`, 0, false, empty maps and lists) recursively, so that two
/// JSON renderings of the same typed Go object compare equal, as `Semantic.DeepEqual` on the
/// typed objects would.
pub(crate) fn without_zero_values(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Bool(false) => None,
        Value::String(s) if s.is_empty() => None,
        Value::Number(n) if n.as_f64() == Some(0.0) => None,
        Value::Object(m) => {
            let out: Map<String, Value> = m
                .iter()
                .filter_map(|(k, x)| without_zero_values(x).map(|x| (k.clone(), x)))
                .collect();
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(xs) => {
            let out: Vec<Value> = xs
                .iter()
                .map(|x| without_zero_values(x).unwrap_or(Value::Null))
                .collect();
            (!out.is_empty()).then_some(Value::Array(out))
        }
        other => Some(other.clone()),
    }
}

pub(crate) fn undo_requests(
    ro: &Rollout,
    to_revision: Option<i64>,
    inputs: &ActionInputs,
) -> Result<Vec<KubeRequest>, String> {
    let source = inputs
        .undo_source
        .as_ref()
        .ok_or("undo: the ReplicaSet of the target revision has not been fetched")?;
    check_source(
        source,
        ro.metadata.uid.as_deref(),
        ROLLOUT_REVISION_ANNOTATION,
        to_revision,
    )
    .map_err(|e| format!("undo: {e}"))?;
    // "skipped rollback (current template already matches revision N)": compared ignoring
    // the hash label, fields unset on the Rollout ignored.
    if let Some(live_t) = inputs
        .live_object
        .as_ref()
        .and_then(|l| l.pointer("/spec/template"))
        && let Some(rs_t) = source.pointer("/spec/template")
    {
        let (mut a, mut b) = (live_t.clone(), rs_t.clone());
        remove_label(&mut a, ROLLOUT_POD_TEMPLATE_HASH_LABEL);
        remove_label(&mut b, ROLLOUT_POD_TEMPLATE_HASH_LABEL);
        if json_derivative(&a, &b) {
            return Ok(Vec::new());
        }
    }
    let template = template_without_label(source, ROLLOUT_POD_TEMPLATE_HASH_LABEL)
        .map_err(|e| format!("undo: {e}"))?;
    let body = json!([{"op": "replace", "path": "/spec/template", "value": template}]);
    Ok(vec![KubeRequest::patch(
        &undo_target(ro)?,
        None,
        PatchType::Json,
        body,
    )])
}

/// Where an undo's patch goes: the Rollout, or, with `spec.workloadRef`, the referenced
/// workload, where the template lives (the plugin sends the same patch there).
///
/// # Errors
/// The reference names a kind Argo Rollouts does not support.
pub fn undo_target(ro: &Rollout) -> Result<Target, String> {
    let Some(w) = &ro.spec.workload_ref else {
        return Ok(Target::of(ro));
    };
    let (group, version, plural) = match w.kind.as_deref() {
        Some("Deployment") => ("apps", "v1", "deployments"),
        Some("ReplicaSet") => ("apps", "v1", "replicasets"),
        Some("PodTemplate") => ("", "v1", "podtemplates"),
        other => {
            return Err(format!(
                "undo: workload of type {} is not supported",
                other.unwrap_or("")
            ));
        }
    };
    Ok(Target {
        group: group.into(),
        version: version.into(),
        kind: w.kind.clone().unwrap_or_default(),
        plural: plural.into(),
        namespace: ro.metadata.namespace.clone(),
        name: w.name.clone().unwrap_or_default(),
    })
}

/// Deployment annotations kubectl keeps from the Deployment on rollback instead of copying
/// them from the ReplicaSet (`annotationsToSkip` in kubectl's `rollback.go`).
pub const ROLLBACK_KEPT_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    DEPLOYMENT_REVISION_ANNOTATION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

/// The exact requests a Deployment action sends (what kubectl sends). An empty list means
/// nothing to change (kubectl's "skipped rollback").
///
/// # Errors
/// The action is disabled (see [`check_deployment`]), or a rollback lacks or mismatches its
/// inputs.
pub fn deployment_requests(
    action: DeploymentAction,
    d: &Deployment,
    inputs: &ActionInputs,
) -> Result<Vec<KubeRequest>, String> {
    check_deployment(action, d)?;
    let target = Target::of(d);
    let strategic = |body: Value| KubeRequest::patch(&target, None, PatchType::Strategic, body);
    Ok(match action {
        DeploymentAction::Pause => vec![strategic(json!({"spec": {"paused": true}}))],
        // kubectl computes a two-way merge patch; `paused: false` is omitted by Go, so the
        // field is deleted.
        DeploymentAction::Resume => vec![strategic(json!({"spec": {"paused": null}}))],
        DeploymentAction::Restart => vec![strategic(json!({"spec": {"template": {"metadata": {
            "annotations": {RESTARTED_AT_ANNOTATION: rfc3339(inputs.now)}
        }}}}))],
        DeploymentAction::Rollback { to_revision } => rollback_requests(d, to_revision, inputs)?,
    })
}

pub(crate) fn rollback_requests(
    d: &Deployment,
    to_revision: Option<i64>,
    inputs: &ActionInputs,
) -> Result<Vec<KubeRequest>, String> {
    let source = inputs
        .undo_source
        .as_ref()
        .ok_or("rollback: the ReplicaSet of the target revision has not been fetched")?;
    let live = inputs
        .live_object
        .as_ref()
        .ok_or("rollback: the live Deployment has not been fetched")?;
    check_source(
        source,
        d.metadata.uid.as_deref(),
        DEPLOYMENT_REVISION_ANNOTATION,
        to_revision,
    )
    .map_err(|e| format!("rollback: {e}"))?;
    if live.pointer("/spec/paused") == Some(&Value::Bool(true)) {
        let name = d.metadata.name.as_deref().unwrap_or("");
        return Err(format!(
            "rollback: you cannot rollback a paused deployment; resume it first with \
             'kubectl rollout resume deployment/{name}' and try again"
        ));
    }
    let mut rs_t = source
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(Value::Null);
    let mut live_t = live
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(Value::Null);
    remove_label(&mut rs_t, POD_TEMPLATE_HASH_LABEL);
    remove_label(&mut live_t, POD_TEMPLATE_HASH_LABEL);
    if without_zero_values(&rs_t) == without_zero_values(&live_t) {
        return Ok(Vec::new());
    }
    let template = template_without_label(source, POD_TEMPLATE_HASH_LABEL)
        .map_err(|e| format!("rollback: {e}"))?;
    let mut annotations = Map::new();
    if let Some(a) = live
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    {
        for k in ROLLBACK_KEPT_ANNOTATIONS {
            if let Some(v) = a.get(*k) {
                annotations.insert((*k).to_string(), v.clone());
            }
        }
    }
    if let Some(a) = source
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    {
        for (k, v) in a {
            if !ROLLBACK_KEPT_ANNOTATIONS.contains(&k.as_str()) {
                annotations.insert(k.clone(), v.clone());
            }
        }
    }
    let body = json!([
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]);
    Ok(vec![KubeRequest::patch(
        &Target::of(d),
        None,
        PatchType::Json,
        body,
    )])
}

// ---------------------------------------------------------------------------------------------
