//! Rollout actions: when each is enabled and the exact requests it sends.
//!
//! Key → `RolloutAction`/`DeploymentAction` → [`availability`] (greyed out with a reason when
//! disabled) → [`describe`] for the confirm dialog → [`requests`] for the executor. Nothing
//! here talks to a cluster: the executor fetches what an undo needs (the target ReplicaSet and
//! the live object) and passes it in [`ActionInputs`].
//!
//! Sources of the rules:
//! - Requests for Rollouts are those of kubectl-argo-rollouts (`pkg/kubectl-argo-rollouts/cmd/`
//!   `abort`, `retry`, `promote`, `pause`, `restart`, `undo`): status-subresource merge patches
//!   for abort/retry/promote/promote-full, spec merge patches for pause/restart, a JSON patch of
//!   `/spec/template` for undo. When a status patch answers 404 (controllers before v0.10) the
//!   plugin sends one main-resource patch instead: [`status_fallback`] builds it, the plan
//!   carries it, and the executor sends it on that 404.
//! - The plugin has no `resume` verb; kdeck's Resume is Argo CD's `resume` action (clear
//!   `status.pauseConditions`, set `spec.paused=false`, never touch the step), sent as the
//!   same two patches the plugin's promote uses for those fields.
//! - Enable rules are Argo CD's (`resource_customizations/argoproj.io/Rollout/actions/
//!   discovery.lua`, checked against every `discoveryTests` entry of its `action_test.yaml`).
//!   Argo CD's `skip-current-step` is covered by kdeck's Promote, which (like the plugin's
//!   promote) is enabled when the rollout is paused or has a canary step left.
//! - Deployments follow kubectl (`rollout undo|pause|resume|restart`,
//!   `kubectl/pkg/polymorphichelpers/rollback.go`, `objectpauser.go`, `objectresumer.go`,
//!   `objectrestarter.go`): a JSON patch of `/spec/template` and `/metadata/annotations` for
//!   undo, strategic merge patches for the rest.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::exec::request::{KubeRequest, PatchType, Target};
use crate::k8s::apps::{
    DEPLOYMENT_REVISION_ANNOTATION, Deployment, POD_TEMPLATE_HASH_LABEL, RESTARTED_AT_ANNOTATION,
    ReplicaSet, is_controlled_by,
};
use crate::k8s::rollout::{ROLLOUT_POD_TEMPLATE_HASH_LABEL, ROLLOUT_REVISION_ANNOTATION, Rollout};
use crate::panes::rollouts::model::{current_canary_step, is_fully_promoted};

/// A user action on an Argo Rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RolloutAction {
    /// Continue past the current pause, or skip the current canary step (plugin `promote`).
    Promote,
    /// Skip all remaining steps, pauses and analysis (plugin `promote --full`).
    PromoteFull,
    /// Scale the canary down and send all traffic back to stable (plugin `abort`).
    Abort,
    /// Start the update again after an abort (plugin `retry rollout`).
    Retry,
    /// Roll the pod template back to an earlier revision (plugin `undo [--to-revision]`);
    /// `None` means the previous revision.
    Undo { to_revision: Option<i64> },
    /// Hold the rollout where it is (plugin `pause`).
    Pause,
    /// Clear pauses without skipping a step (Argo CD `resume`).
    Resume,
    /// Restart every pod (plugin `restart`).
    Restart,
}

impl RolloutAction {
    /// Every action, in menu order (Undo to the previous revision).
    pub const ALL: [Self; 8] = [
        Self::Promote,
        Self::PromoteFull,
        Self::Abort,
        Self::Retry,
        Self::Undo { to_revision: None },
        Self::Pause,
        Self::Resume,
        Self::Restart,
    ];

    /// The kebab-case name used in keymaps and logs.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Promote => "promote",
            Self::PromoteFull => "promote-full",
            Self::Abort => "abort",
            Self::Retry => "retry",
            Self::Undo { .. } => "undo",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Restart => "restart",
        }
    }

    /// Parses a keymap name (`undo` means the previous revision).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// A user action on a Deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeploymentAction {
    /// `kubectl rollout undo [--to-revision]`; `None` means the previous revision.
    Rollback {
        to_revision: Option<i64>,
    },
    Pause,
    Resume,
    Restart,
}

impl DeploymentAction {
    /// Every action, in menu order.
    pub const ALL: [Self; 4] = [
        Self::Rollback { to_revision: None },
        Self::Pause,
        Self::Resume,
        Self::Restart,
    ];

    /// The kebab-case name used in keymaps and logs.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Rollback { .. } => "rollback",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Restart => "restart",
        }
    }

    /// Parses a keymap name (`undo` is accepted for `rollback`, as in `kubectl rollout undo`).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        if name == "undo" {
            return Some(Self::Rollback { to_revision: None });
        }
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// What [`requests`] needs beyond the object the row was built from.
#[derive(Debug, Clone)]
pub struct ActionInputs {
    /// The clock: restart timestamps.
    pub now: DateTime<Utc>,
    /// Undo/rollback: the full ReplicaSet of the target revision (as JSON), fetched by the
    /// executor after [`pick_undo_target`]/[`pick_rollback_target`] chose it.
    pub undo_source: Option<Value>,
    /// Undo/rollback: the live object (as JSON), fetched just before sending. Rollout undo uses
    /// it for the plugin's "skipped if equal" check (optional); Deployment rollback needs it for
    /// the annotations kubectl keeps and for kubectl's equality check (required).
    pub live_object: Option<Value>,
}

impl ActionInputs {
    /// Inputs for actions that need only the clock.
    #[must_use]
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            now,
            undo_source: None,
            live_object: None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Enable rules
// ---------------------------------------------------------------------------------------------

fn is_paused_argocd(ro: &Rollout) -> bool {
    // discovery.lua: pause conditions decide when the list exists (even empty), else spec.
    match ro.status.as_ref().and_then(|s| s.pause_conditions.as_ref()) {
        Some(conds) => !conds.is_empty(),
        None => ro.spec.paused,
    }
}

fn is_aborted(ro: &Rollout) -> bool {
    ro.status.as_ref().is_some_and(|s| s.abort)
}

/// Whether a canary step is left to skip: Argo CD's `skip-current-step` rule (a canary with
/// steps whose `currentStepIndex` is not at the end), also refusing an index past the end or
/// negative, where the plugin's promote would change nothing.
fn has_step_to_skip(ro: &Rollout) -> bool {
    let steps = ro.canary_steps();
    if ro.spec.strategy.canary.is_none() || steps.is_empty() {
        return false;
    }
    ro.status
        .as_ref()
        .and_then(|s| s.current_step_index)
        .is_none_or(|i| usize::try_from(i).is_ok_and(|i| i < steps.len()))
}

/// Whether the status was written by a v0.9-or-older controller (hash `observedGeneration`),
/// Argo CD's test before offering promote-full.
fn is_legacy_v09(ro: &Rollout) -> bool {
    let generation = ro.metadata.generation.unwrap_or(0);
    match ro
        .status
        .as_ref()
        .and_then(|s| s.observed_generation.as_ref())
        .map(|g| g.as_number())
    {
        Some(Some(n)) => n > generation,
        _ => true,
    }
}

/// Whether one action is enabled for this Rollout, with the reason when it is not.
///
/// # Errors
/// The human reason the action is disabled, prefixed with the action name.
pub fn check(action: RolloutAction, ro: &Rollout) -> Result<(), String> {
    let fully_promoted = is_fully_promoted(ro);
    let aborted = is_aborted(ro);
    let name = action.name();
    let deny = |why: &str| Err(format!("{name}: {why}"));
    match action {
        RolloutAction::Restart | RolloutAction::Undo { .. } => Ok(()),
        RolloutAction::Resume => {
            if is_paused_argocd(ro) {
                Ok(())
            } else {
                deny("the rollout is not paused")
            }
        }
        RolloutAction::Promote => {
            if ro.spec.paused || is_paused_argocd(ro) || has_step_to_skip(ro) {
                Ok(())
            } else {
                deny("nothing to promote: the rollout is not paused and has no canary step left")
            }
        }
        RolloutAction::Abort => {
            if fully_promoted {
                deny("nothing to abort: the rollout is fully promoted")
            } else if aborted {
                deny("the rollout is already aborted")
            } else {
                Ok(())
            }
        }
        RolloutAction::Retry => {
            if !aborted {
                deny("only an aborted rollout can be retried")
            } else if fully_promoted {
                deny("nothing to retry: the rollout is fully promoted")
            } else {
                Ok(())
            }
        }
        RolloutAction::PromoteFull => {
            if ro.status.is_none() {
                deny("the rollout has no status yet")
            } else if fully_promoted {
                deny("the rollout is already fully promoted")
            } else if is_legacy_v09(ro) && ro.spec.strategy.blue_green.is_some() {
                deny("a v0.9 controller cannot fully promote a blue-green rollout")
            } else {
                Ok(())
            }
        }
        RolloutAction::Pause => {
            if ro.spec.paused {
                deny("the rollout is already paused")
            } else if fully_promoted {
                deny("nothing to pause: the rollout is fully promoted")
            } else if aborted {
                deny("an aborted rollout cannot be paused")
            } else {
                Ok(())
            }
        }
    }
}

/// Every Rollout action with whether it is enabled (and why not). Undo is enabled here; use
/// [`availability_with_history`] to also check there is a revision to go back to.
#[must_use]
pub fn availability(ro: &Rollout) -> Vec<(RolloutAction, Result<(), String>)> {
    RolloutAction::ALL
        .into_iter()
        .map(|a| (a, check(a, ro)))
        .collect()
}

/// [`availability`], with Undo disabled when the Rollout has no earlier revision among
/// `replica_sets`.
#[must_use]
pub fn availability_with_history(
    ro: &Rollout,
    replica_sets: &[ReplicaSet],
) -> Vec<(RolloutAction, Result<(), String>)> {
    let mut all = availability(ro);
    for (action, state) in &mut all {
        if let RolloutAction::Undo { to_revision } = action {
            *state = pick_undo_target(ro, replica_sets, *to_revision)
                .map(|_| ())
                .map_err(|e| format!("undo: {e}"));
        }
    }
    all
}

/// Whether one Deployment action is enabled, with kubectl's reason when it is not.
///
/// # Errors
/// The human reason the action is disabled, prefixed with the action name.
pub fn check_deployment(action: DeploymentAction, d: &Deployment) -> Result<(), String> {
    let name = d.metadata.name.as_deref().unwrap_or("");
    let paused = d.spec.paused;
    match action {
        DeploymentAction::Rollback { .. } if paused => Err(format!(
            "rollback: you cannot rollback a paused deployment; resume it first with \
             'kubectl rollout resume deployment/{name}' and try again"
        )),
        DeploymentAction::Pause if paused => Err("pause: the deployment is already paused".into()),
        DeploymentAction::Resume if !paused => Err("resume: the deployment is not paused".into()),
        DeploymentAction::Restart if paused => {
            Err("restart: can't restart paused deployment (run rollout resume first)".into())
        }
        _ => Ok(()),
    }
}

/// Every Deployment action with whether it is enabled (and why not).
#[must_use]
pub fn deployment_availability(d: &Deployment) -> Vec<(DeploymentAction, Result<(), String>)> {
    DeploymentAction::ALL
        .into_iter()
        .map(|a| (a, check_deployment(a, d)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Undo targets
// ---------------------------------------------------------------------------------------------

/// Picks by revision like both upstream tools: `to_revision` exactly, else the second-newest
/// revision. A ReplicaSet without the annotation counts as revision 0; one with an unparsable
/// annotation is skipped.
fn pick_by_revision<'a>(
    owned: impl Iterator<Item = (&'a ReplicaSet, i64)>,
    to_revision: Option<i64>,
) -> Result<Option<&'a ReplicaSet>, String> {
    let wanted = to_revision.unwrap_or(0);
    if wanted < 0 {
        return Err(format!(
            "unable to find specified revision {wanted} in history"
        ));
    }
    let mut latest: Option<(&ReplicaSet, i64)> = None;
    let mut previous: Option<(&ReplicaSet, i64)> = None;
    for (rs, rev) in owned {
        if wanted == 0 {
            if latest.is_none_or(|(_, l)| l < rev) {
                previous = latest;
                latest = Some((rs, rev));
            } else if previous.is_none_or(|(_, p)| p < rev) {
                previous = Some((rs, rev));
            }
        } else if rev == wanted {
            return Ok(Some(rs));
        }
    }
    if wanted > 0 {
        return Err(format!(
            "unable to find specified revision {wanted} in history"
        ));
    }
    Ok(previous.map(|(rs, _)| rs))
}

/// The ReplicaSet a Rollout undo restores (plugin `undo`): among ReplicaSets controlled by the
/// Rollout, revision `to_revision` (from `rollout.argoproj.io/revision`), else the
/// second-newest.
///
/// # Errors
/// The plugin's messages: the revision is not in history, or there is no earlier revision.
pub fn pick_undo_target<'a>(
    ro: &Rollout,
    replica_sets: &'a [ReplicaSet],
    to_revision: Option<i64>,
) -> Result<&'a ReplicaSet, String> {
    let uid = ro.metadata.uid.as_deref().unwrap_or("");
    let owned = replica_sets
        .iter()
        .filter(|rs| !uid.is_empty() && is_controlled_by(&rs.metadata, uid))
        .filter_map(|rs| match rs.revision_from(ROLLOUT_REVISION_ANNOTATION) {
            None => Some((rs, 0)),
            Some(parsed) => parsed.map(|r| (rs, r)),
        });
    pick_by_revision(owned, to_revision)?.ok_or_else(|| {
        format!(
            "no revision found for rollout {:?}",
            ro.metadata.name.as_deref().unwrap_or("")
        )
    })
}

/// The ReplicaSet a Deployment rollback restores (kubectl `rollout undo`): among ReplicaSets
/// controlled by the Deployment, revision `to_revision` (from
/// `deployment.kubernetes.io/revision`), else the second-newest.
///
/// # Errors
/// kubectl's messages: the revision is not in history, or there is no earlier revision.
pub fn pick_rollback_target<'a>(
    d: &Deployment,
    replica_sets: &'a [ReplicaSet],
    to_revision: Option<i64>,
) -> Result<&'a ReplicaSet, String> {
    let uid = d.metadata.uid.as_deref().unwrap_or("");
    let owned = replica_sets
        .iter()
        .filter(|rs| !uid.is_empty() && is_controlled_by(&rs.metadata, uid))
        .filter_map(
            |rs| match rs.revision_from(DEPLOYMENT_REVISION_ANNOTATION) {
                None => Some((rs, 0)),
                Some(parsed) => parsed.map(|r| (rs, r)),
            },
        );
    pick_by_revision(owned, to_revision)?.ok_or_else(|| {
        format!(
            "no rollout history found for deployment {:?}",
            d.metadata.name.as_deref().unwrap_or("")
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

fn status_merge(target: &Target, body: Value) -> KubeRequest {
    KubeRequest::patch(target, Some("status"), PatchType::Merge, body)
}

fn spec_merge(target: &Target, body: Value) -> KubeRequest {
    KubeRequest::patch(target, None, PatchType::Merge, body)
}

/// The plugin's step skip: `currentStepIndex + 1`, never past the last step.
fn next_step_index(ro: &Rollout) -> Option<i32> {
    let (_, index) = current_canary_step(ro);
    let total = i32::try_from(ro.canary_steps().len()).unwrap_or(i32::MAX);
    index.map(|i| if i < total { i + 1 } else { i })
}

/// Plugin `promote` (no flags): status patch first, then the spec patch, as the plugin sends
/// them.
fn promote_requests(ro: &Rollout, target: &Target) -> Vec<KubeRequest> {
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
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Checks that the ReplicaSet the executor fetched is the one the action is about.
fn check_source(
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
fn template_without_label(rs: &Value, label: &str) -> Result<Value, String> {
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

fn remove_label(template: &mut Value, label: &str) {
    if let Some(labels) = template
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(label);
    }
}

/// Go's `apiequality.Semantic.DeepDerivative(a, b)` on JSON: every field set in `a` equals the
/// one in `b`; unset fields of `a` (null, `""`, empty maps) are ignored.
fn json_derivative(a: &Value, b: &Value) -> bool {
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
fn without_zero_values(v: &Value) -> Option<Value> {
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

fn undo_requests(
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
    // With spec.workloadRef the template lives in the referenced workload; the plugin sends
    // the same patch there.
    let target = match &ro.spec.workload_ref {
        None => Target::of(ro),
        Some(w) => {
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
            Target {
                group: group.into(),
                version: version.into(),
                kind: w.kind.clone().unwrap_or_default(),
                plural: plural.into(),
                namespace: ro.metadata.namespace.clone(),
                name: w.name.clone().unwrap_or_default(),
            }
        }
    };
    Ok(vec![KubeRequest::patch(
        &target,
        None,
        PatchType::Json,
        body,
    )])
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

fn rollback_requests(
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
// Confirm-dialog text
// ---------------------------------------------------------------------------------------------

/// One line for the confirm dialog: the field that changes and what the controller will do.
#[must_use]
pub fn describe(action: RolloutAction, ro: &Rollout) -> String {
    let bg = ro.spec.strategy.blue_green.is_some();
    let total = ro.canary_steps().len();
    match action {
        RolloutAction::Abort if bg => "status.abort=true: the preview ReplicaSet is scaled down \
            and the active service stays on the stable ReplicaSet"
            .into(),
        RolloutAction::Abort => "status.abort=true: the canary is scaled down and all traffic \
            returns to the stable ReplicaSet"
            .into(),
        RolloutAction::Retry => "status.abort=false: the rollout leaves the aborted state and \
            starts the update to the new revision again"
            .into(),
        RolloutAction::PromoteFull => {
            let mut s = String::from(
                "status.promoteFull=true: all remaining steps, pauses and analysis are skipped \
                 and the new revision takes all traffic",
            );
            if ro.spec.paused {
                s.push_str(" (spec.paused stays true: resume it too)");
            }
            s
        }
        RolloutAction::Pause => "spec.paused=true: the rollout holds at its current step until \
            resumed"
            .into(),
        RolloutAction::Resume => {
            let mut fields = Vec::new();
            if ro.status.as_ref().is_some_and(|s| !s.pauses().is_empty()) {
                fields.push("status.pauseConditions=null");
            }
            if ro.spec.paused {
                fields.push("spec.paused=false");
            }
            if fields.is_empty() {
                fields.push("nothing to change");
            }
            format!(
                "{}: the rollout continues from where it paused",
                fields.join(", ")
            )
        }
        RolloutAction::Restart => "spec.restartAt=now: the controller restarts every pod of the \
            rollout, a few at a time"
            .into(),
        RolloutAction::Undo { to_revision } => {
            let which = to_revision.map_or_else(
                || "the previous revision".to_string(),
                |r| format!("revision {r}"),
            );
            let place = if ro.spec.workload_ref.is_some() {
                "the referenced workload's spec.template"
            } else {
                "spec.template"
            };
            format!(
                "{place} is replaced with the pod template of {which}: a new update starts \
                 towards it"
            )
        }
        RolloutAction::Promote => {
            let st = ro.status_or_default();
            let target = Target::of(ro);
            let mut parts: Vec<String> = promote_requests(ro, &target)
                .iter()
                .map(|r| flatten_fields(&r.body))
                .collect();
            parts.retain(|p| !p.is_empty());
            let effect = if !st.pauses().is_empty() || ro.spec.paused {
                let reason = st
                    .pauses()
                    .first()
                    .map_or("manual", |p| p.reason.as_str())
                    .to_string();
                format!("the rollout continues past the {reason} pause")
            } else if bg {
                "nothing to promote".to_string()
            } else {
                match next_step_index(ro) {
                    Some(i) => format!(
                        "the current step is skipped; the rollout moves to step {i}/{total}"
                    ),
                    None => "nothing to promote".to_string(),
                }
            };
            format!("{}: {effect}", parts.join(", "))
        }
    }
}

/// One line for the confirm dialog of a Deployment action.
#[must_use]
pub fn describe_deployment(action: DeploymentAction, _d: &Deployment) -> String {
    match action {
        DeploymentAction::Rollback { to_revision } => {
            let which = to_revision.map_or_else(
                || "the previous revision".to_string(),
                |r| format!("revision {r}"),
            );
            format!(
                "spec.template and metadata.annotations are replaced with those of {which}: \
                 a rolling update back to it starts"
            )
        }
        DeploymentAction::Pause => "spec.paused=true: the Deployment stops rolling out template \
            changes until resumed"
            .into(),
        DeploymentAction::Resume => "spec.paused removed: the Deployment rolls out any pending \
            template change"
            .into(),
        DeploymentAction::Restart => format!(
            "spec.template.metadata.annotations[{RESTARTED_AT_ANNOTATION}]=now: every pod is \
             replaced by a rolling update"
        ),
    }
}

/// `{"status":{"pauseConditions":null,"currentStepIndex":2}}` →
/// `status.pauseConditions=null, status.currentStepIndex=2`.
fn flatten_fields(body: &Value) -> String {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, x) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&p, x, out);
                }
            }
            other => out.push(format!("{prefix}={other}")),
        }
    }
    let mut out = Vec::new();
    walk("", body, &mut out);
    out.join(", ")
}

#[cfg(test)]
mod tests {
    //! Cases from the plugin's `cmd/promote/promote_test.go` and kubectl's rollback rules on
    //! constructed objects; the fixture-based checks live in `tests/it/rollout_fixtures.rs`.
    use super::*;

    fn ro(v: Value) -> Rollout {
        serde_json::from_value(v).unwrap()
    }

    fn two_steps(spec_extra: Value, status: Value) -> Rollout {
        let mut spec =
            json!({"strategy": {"canary": {"steps": [{"setWeight": 1}, {"setWeight": 2}]}}});
        if let (Some(s), Some(extra)) = (spec.as_object_mut(), spec_extra.as_object()) {
            s.extend(extra.clone());
        }
        ro(
            json!({"metadata": {"name": "guestbook", "namespace": "default"},
                  "spec": spec, "status": status}),
        )
    }

    #[test]
    fn names_round_trip() {
        for a in RolloutAction::ALL {
            assert_eq!(RolloutAction::from_name(a.name()), Some(a));
        }
        assert_eq!(RolloutAction::from_name("skip"), None);
        for a in DeploymentAction::ALL {
            assert_eq!(DeploymentAction::from_name(a.name()), Some(a));
        }
        assert_eq!(
            DeploymentAction::from_name("undo"),
            Some(DeploymentAction::Rollback { to_revision: None })
        );
    }

    #[test]
    fn promote_first_step_moves_to_the_next() {
        // TestPromoteCmdSuccesFirstStep: no index yet → currentStepIndex 1.
        let r = two_steps(json!({}), json!({}));
        let reqs = requests(RolloutAction::Promote, &r, &ActionInputs::at(Utc::now())).unwrap();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].subresource.as_deref(), Some("status"));
        assert_eq!(
            reqs[0].body,
            json!({"status": {"pauseConditions": null, "currentStepIndex": 1}})
        );
    }

    #[test]
    fn promote_past_the_last_step_is_disabled() {
        // TestPromoteCmdSuccessDoNotGoPastLastStep: the plugin would resend index 2; kdeck
        // greys the action out instead.
        let r = two_steps(json!({}), json!({"currentStepIndex": 2}));
        assert_eq!(
            check(RolloutAction::Promote, &r).unwrap_err(),
            "promote: nothing to promote: the rollout is not paused and has no canary step left"
        );
    }

    #[test]
    fn promote_unpauses_and_clears_pause_conditions_status_first() {
        // TestPromoteCmdSuccessUnpause.
        let r = ro(
            json!({"metadata": {"name": "guestbook"}, "spec": {"paused": true},
                          "status": {"controllerPause": true,
                                     "pauseConditions": [{"reason": "CanaryPauseStep"}]}}),
        );
        let reqs = requests(RolloutAction::Promote, &r, &ActionInputs::at(Utc::now())).unwrap();
        let bodies: Vec<(Option<&str>, &Value)> = reqs
            .iter()
            .map(|q| (q.subresource.as_deref(), &q.body))
            .collect();
        assert_eq!(
            bodies,
            vec![
                (
                    Some("status"),
                    &json!({"status": {"pauseConditions": null}})
                ),
                (None, &json!({"spec": {"paused": false}})),
            ]
        );
    }

    #[test]
    fn promote_inconclusive_step_clears_controller_pause_and_advances() {
        // TestPromoteInconclusiveStep.
        let r = two_steps(
            json!({"paused": true}),
            json!({"controllerPause": true,
                   "pauseConditions": [{"reason": "CanaryPauseStep"}],
                   "canary": {"currentStepAnalysisRunStatus": {"status": "Inconclusive"}}}),
        );
        let reqs = requests(RolloutAction::Promote, &r, &ActionInputs::at(Utc::now())).unwrap();
        assert_eq!(reqs.len(), 2);
        assert_eq!(
            reqs[0].body,
            json!({"status": {"pauseConditions": null, "controllerPause": false,
                              "currentStepIndex": 1}})
        );
        assert_eq!(reqs[1].body, json!({"spec": {"paused": false}}));
    }

    #[test]
    fn promote_full_only_when_not_fully_promoted() {
        // TestPromoteCmdFull / TestPromoteCmdAlreadyFullyPromoted.
        let r = ro(json!({"metadata": {"name": "g"},
                          "status": {"stableRS": "abc123", "currentPodHash": "def456"}}));
        let reqs = requests(
            RolloutAction::PromoteFull,
            &r,
            &ActionInputs::at(Utc::now()),
        )
        .unwrap();
        assert_eq!(reqs[0].body, json!({"status": {"promoteFull": true}}));
        let done = ro(json!({"metadata": {"name": "g"},
                             "status": {"stableRS": "abc123", "currentPodHash": "abc123"}}));
        assert!(
            requests(
                RolloutAction::PromoteFull,
                &done,
                &ActionInputs::at(Utc::now())
            )
            .is_err()
        );
    }

    #[test]
    fn legacy_fallbacks_are_the_plugins_unified_patches() {
        let r = two_steps(
            json!({}),
            json!({"currentStepIndex": 0, "stableRS": "a",
                                            "currentPodHash": "b"}),
        );
        let f = status_fallback(RolloutAction::Promote, &r)
            .unwrap()
            .unwrap();
        assert_eq!(f.subresource, None);
        assert_eq!(
            f.body,
            json!({"spec": {"paused": false},
                   "status": {"pauseConditions": null, "currentStepIndex": 1}})
        );
        let f = status_fallback(RolloutAction::Abort, &r).unwrap().unwrap();
        assert_eq!(
            (f.subresource, f.body),
            (None, json!({"status": {"abort": true}}))
        );
        assert_eq!(
            status_fallback(RolloutAction::PromoteFull, &r).unwrap(),
            None
        );
        assert_eq!(status_fallback(RolloutAction::Pause, &r).unwrap(), None);
    }

    #[test]
    fn resume_never_touches_the_step() {
        let r = two_steps(
            json!({}),
            json!({"currentStepIndex": 1, "pauseConditions": [{"reason": "CanaryPauseStep"}]}),
        );
        let reqs = requests(RolloutAction::Resume, &r, &ActionInputs::at(Utc::now())).unwrap();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].body, json!({"status": {"pauseConditions": null}}));
        assert_eq!(
            describe(RolloutAction::Resume, &r),
            "status.pauseConditions=null: the rollout continues from where it paused"
        );
    }

    #[test]
    fn undo_follows_workload_ref() {
        let r = ro(
            json!({"metadata": {"name": "g", "namespace": "ns", "uid": "u"},
                          "spec": {"workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                                   "name": "web"},
                                   "strategy": {"canary": {}}}}),
        );
        let source = json!({"metadata": {"ownerReferences": [{"uid": "u", "controller": true}],
                                          "annotations": {"rollout.argoproj.io/revision": "3"}},
                            "spec": {"template": {"metadata": {"labels": {
                                "rollouts-pod-template-hash": "abc"}},
                                                   "spec": {"containers": [{"name": "c", "image": "i:1"}]}}}});
        let inputs = ActionInputs {
            now: Utc::now(),
            undo_source: Some(source),
            live_object: None,
        };
        let reqs = requests(
            RolloutAction::Undo {
                to_revision: Some(3),
            },
            &r,
            &inputs,
        )
        .unwrap();
        assert_eq!(
            reqs[0].target.path(None),
            "/apis/apps/v1/namespaces/ns/deployments/web"
        );
        // The emptied label map is dropped, as Go's omitempty does.
        assert_eq!(
            reqs[0].body,
            json!([{"op": "replace", "path": "/spec/template", "value": {
                "metadata": {}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}}])
        );
        // A ReplicaSet of another owner is refused.
        let foreign = ActionInputs {
            undo_source: Some(json!({"metadata": {"ownerReferences": [{"uid": "other"}]}})),
            ..inputs
        };
        assert!(
            requests(RolloutAction::Undo { to_revision: None }, &r, &foreign)
                .unwrap_err()
                .contains("does not belong")
        );
    }

    #[test]
    fn derivative_and_zero_value_equality() {
        // Unset values on the left ("" / null / {}) match anything present on the right...
        assert!(json_derivative(
            &json!({"a": "", "b": {"c": 1}, "d": null, "e": {}}),
            &json!({"a": "x", "b": {"c": 1, "x": 2}, "d": 5, "e": {"y": 1}})
        ));
        // ...but, as in Go, a key missing on the right does not match.
        assert!(!json_derivative(&json!({"a": ""}), &json!({})));
        assert!(!json_derivative(
            &json!({"b": {"c": 1}}),
            &json!({"b": {"c": 2}})
        ));
        assert!(!json_derivative(&json!({"l": [1]}), &json!({"l": [1, 2]})));
        assert_eq!(
            without_zero_values(&json!({"a": 0, "b": {"c": false, "d": []}, "e": "x"})),
            Some(json!({"e": "x"}))
        );
    }
}
