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

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::exec::request::Target;
use crate::k8s::apps::{
    DEPLOYMENT_REVISION_ANNOTATION, Deployment, RESTARTED_AT_ANNOTATION, ReplicaSet,
    is_controlled_by,
};
use crate::k8s::rollout::{ROLLOUT_REVISION_ANNOTATION, Rollout};
use crate::panes::rollouts::model::is_fully_promoted;

pub use super::requests::*;

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
    use serde_json::json;

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
