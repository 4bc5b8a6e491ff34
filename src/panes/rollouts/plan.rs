//! Turning a key press on a rollout or deployment into an [`ActionPlan`]: the enable rule
//! first (a disabled action says why), then the exact upstream requests, the words for the
//! confirm dialog, the resourceVersion on screen, and the state of the data it was read from.

use std::sync::Arc;

use chrono::Utc;
use kube::core::DeserializeGuard;

use super::actions::{
    ActionInputs, DeploymentAction, RolloutAction, check, check_deployment, deployment_requests,
    describe, describe_deployment, pick_rollback_target, pick_undo_target, requests,
    status_fallback, undo_target,
};
use super::model::{RolloutRow, WorkloadKind};
use crate::cluster::ClusterHandle;
use crate::exec::plan::{ActionPlan, Check, PlanBuild};
use crate::exec::request::{KubeRequest, Target};
use crate::k8s::apps::{DEPLOYMENT_REVISION_ANNOTATION, Deployment, ReplicaSet, annotation};
use crate::k8s::rollout::{ROLLOUT_REVISION_ANNOTATION, Rollout};
use crate::keymap::ActionCall;
use crate::panes::Reply;
use crate::panes::hpa::scale::{find_target, scale};

/// Action names the pane accepts on a row.
pub const ACTION_NAMES: &[&str] =
    <super::RolloutsModel as crate::panes::kit::PaneModel>::ROW_ACTIONS;

fn owned_replica_sets(cluster: &ClusterHandle, uid: &str) -> Vec<ReplicaSet> {
    cluster
        .sources
        .objects::<ReplicaSet>()
        .iter()
        .filter_map(|g: &Arc<DeserializeGuard<ReplicaSet>>| g.0.as_ref().ok())
        .filter(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid)
        })
        .cloned()
        .collect()
}

fn rs_target(rs: &ReplicaSet) -> Target {
    Target::of(rs)
}

/// How an action's requests come about: for an undo/rollback, built at execution time from
/// the old ReplicaSet (`undo_source`) and the live object; otherwise right away. A request
/// list with nothing to change is an answer, not a plan.
fn plan_build<T: Clone + Send + Sync + 'static>(
    action_name: &str,
    object: &T,
    undo_source: Option<(&ReplicaSet, Target)>,
    requests: impl Fn(&T, &ActionInputs) -> Result<Vec<KubeRequest>, String> + Send + Sync + 'static,
) -> Result<PlanBuild, Reply> {
    if let Some((rs, patches)) = undo_source {
        let object = object.clone();
        return Ok(PlanBuild::AfterFetch {
            fetch: rs_target(rs),
            patches: Box::new(patches),
            build: Arc::new(move |rs_json, live| {
                let inputs = ActionInputs {
                    now: Utc::now(),
                    undo_source: Some(rs_json.clone()),
                    live_object: Some(live.clone()),
                };
                requests(&object, &inputs)
            }),
        });
    }
    match requests(object, &ActionInputs::at(Utc::now())) {
        Ok(r) if r.is_empty() => Err(Reply::Info(format!("{action_name}: nothing to change"))),
        Ok(r) => Ok(PlanBuild::Ready(r)),
        Err(why) => Err(Reply::Warn(why)),
    }
}

fn revision_arg(action: &ActionCall) -> Result<Option<i64>, String> {
    match action.args.first() {
        None => Ok(None),
        Some(a) => a
            .parse::<i64>()
            .map(Some)
            .map_err(|_| format!("{}: {a:?} is not a revision number", action.name)),
    }
}

/// What a rollout action's decision rests on: for promote, the revision, step and pause on
/// screen (a second promote after an unknown outcome must not skip a second step); for
/// promote-full and retry, the revision; for undo, the revision number. Abort, pause, resume
/// and restart are safe to repeat and rest on the object's identity alone, so a canary's
/// controller writing status every second never refuses them.
fn rollout_checks(act: RolloutAction, ro: &Rollout) -> Vec<Check> {
    let st = ro.status.as_ref();
    let hash = Check::new(
        "/status/currentPodHash",
        st.and_then(|s| s.current_pod_hash.clone()),
        "revision in rollout",
    );
    match act {
        RolloutAction::Promote => vec![
            hash,
            Check::new(
                "/status/currentStepIndex",
                st.and_then(|s| s.current_step_index),
                "step",
            ),
            Check::new(
                "/status/pauseConditions/0/reason",
                st.and_then(|s| s.pauses().first().map(|p| p.reason.clone())),
                "pause",
            ),
        ],
        RolloutAction::PromoteFull | RolloutAction::Retry => vec![hash],
        RolloutAction::Undo { .. } => vec![Check::new(
            "/metadata/annotations/rollout.argoproj.io~1revision",
            annotation(&ro.metadata, ROLLOUT_REVISION_ANNOTATION).map(str::to_string),
            "revision",
        )],
        RolloutAction::Abort
        | RolloutAction::Pause
        | RolloutAction::Resume
        | RolloutAction::Restart => Vec::new(),
    }
}

/// A Deployment rollback rests on the revision on screen; the rest are safe to repeat.
fn deployment_checks(act: DeploymentAction, d: &Deployment) -> Vec<Check> {
    match act {
        DeploymentAction::Rollback { .. } => vec![Check::new(
            "/metadata/annotations/deployment.kubernetes.io~1revision",
            annotation(&d.metadata, DEPLOYMENT_REVISION_ANNOTATION).map(str::to_string),
            "revision",
        )],
        _ => Vec::new(),
    }
}

/// Builds the plan for `action` on `row`, or says why not.
#[must_use]
pub fn plan(action: &ActionCall, row: &RolloutRow, cluster: &ClusterHandle) -> Reply {
    if let Some(problem) = &row.problem
        && row.resource_version.is_none()
    {
        return Reply::Warn(format!(
            "{}: cannot act on this object: {problem}",
            action.name
        ));
    }
    if action.name == "scale" {
        return scale_row(action, row, cluster);
    }
    let to_revision = match revision_arg(action) {
        Ok(r) => r,
        Err(e) => return Reply::Warn(e),
    };
    match row.kind {
        WorkloadKind::Rollout => plan_rollout(action, row, cluster, to_revision),
        WorkloadKind::Deployment => plan_deployment(action, row, cluster, to_revision),
    }
}

/// `scale` on a rollout or deployment: the `/scale` subresource, as the HPA pane does it.
fn scale_row(action: &ActionCall, row: &RolloutRow, cluster: &ClusterHandle) -> Reply {
    let (group, kind) = match row.kind {
        WorkloadKind::Rollout => (crate::k8s::rollout::GROUP, "Rollout"),
        WorkloadKind::Deployment => ("apps", "Deployment"),
    };
    match find_target(cluster, &row.namespace, group, kind, &row.name) {
        Ok(t) => scale(action, t, cluster),
        Err(why) => Reply::Warn(format!("scale: {why}")),
    }
}

fn plan_rollout(
    action: &ActionCall,
    row: &RolloutRow,
    cluster: &ClusterHandle,
    to_revision: Option<i64>,
) -> Reply {
    let name = if action.name == "rollback" {
        "undo"
    } else {
        action.name.as_str()
    };
    let Some(mut act) = RolloutAction::from_name(name) else {
        return Reply::Unhandled;
    };
    if let RolloutAction::Undo { .. } = act {
        act = RolloutAction::Undo { to_revision };
    }
    let Some(ro) = cluster.sources.get::<Rollout>(&row.namespace, &row.name) else {
        return Reply::Warn(format!("{}: rollout {} is gone", action.name, row.key()));
    };
    if let Err(why) = check(act, &ro) {
        return Reply::Warn(why);
    }
    let data_state = cluster.sources.state::<Rollout>();
    let undo_source = if let RolloutAction::Undo { to_revision } = act {
        let rss = owned_replica_sets(cluster, ro.metadata.uid.as_deref().unwrap_or_default());
        match pick_undo_target(&ro, &rss, to_revision) {
            Ok(rs) => Some(rs.clone()),
            Err(why) => return Reply::Warn(format!("undo: {why}")),
        }
    } else {
        None
    };
    // An undo patches the Rollout, or the workload its `spec.workloadRef` names.
    let source = match (&undo_source, undo_target(&ro)) {
        (Some(rs), Ok(patches)) => Some((rs, patches)),
        (Some(_), Err(why)) => return Reply::Warn(why),
        (None, _) => None,
    };
    let build = match plan_build(&action.name, &ro, source, move |ro, inputs| {
        requests(act, ro, inputs)
    }) {
        Ok(b) => b,
        Err(reply) => return reply,
    };
    Reply::Plan(Box::new(ActionPlan {
        cluster: cluster.context.clone(),
        action: act.name().to_string(),
        target: Target::of(&ro),
        uid: ro.metadata.uid.clone(),
        seen_rv: ro.metadata.resource_version.clone().unwrap_or_default(),
        checks: rollout_checks(act, &ro),
        summary: describe(act, &ro),
        build,
        status_fallback: status_fallback(act, &ro).ok().flatten(),
        data_state,
    }))
}

fn plan_deployment(
    action: &ActionCall,
    row: &RolloutRow,
    cluster: &ClusterHandle,
    to_revision: Option<i64>,
) -> Reply {
    let Some(mut act) = DeploymentAction::from_name(&action.name) else {
        if ACTION_NAMES.contains(&action.name.as_str()) {
            return Reply::Warn(format!(
                "{}: only Argo Rollouts have steps to {}; Deployments offer rollback, pause, \
                 resume, restart",
                action.name, action.name
            ));
        }
        return Reply::Unhandled;
    };
    if let DeploymentAction::Rollback { .. } = act {
        act = DeploymentAction::Rollback { to_revision };
    }
    let Some(d) = cluster.sources.get::<Deployment>(&row.namespace, &row.name) else {
        return Reply::Warn(format!("{}: deployment {} is gone", action.name, row.key()));
    };
    if let Err(why) = check_deployment(act, &d) {
        return Reply::Warn(why);
    }
    let data_state = cluster.sources.state::<Deployment>();
    let undo_source = if let DeploymentAction::Rollback { to_revision } = act {
        let rss = owned_replica_sets(cluster, d.metadata.uid.as_deref().unwrap_or_default());
        match pick_rollback_target(&d, &rss, to_revision) {
            Ok(rs) => Some(rs.clone()),
            Err(why) => return Reply::Warn(format!("rollback: {why}")),
        }
    } else {
        None
    };
    let source = undo_source.as_ref().map(|rs| (rs, Target::of(&d)));
    let build = match plan_build(&action.name, &d, source, move |d, inputs| {
        deployment_requests(act, d, inputs)
    }) {
        Ok(b) => b,
        Err(reply) => return reply,
    };
    Reply::Plan(Box::new(ActionPlan {
        cluster: cluster.context.clone(),
        action: act.name().to_string(),
        target: Target::of(&d),
        uid: d.metadata.uid.clone(),
        seen_rv: d.metadata.resource_version.clone().unwrap_or_default(),
        checks: deployment_checks(act, &d),
        summary: describe_deployment(act, &d),
        build,
        status_fallback: None,
        data_state,
    }))
}
