//! `scale`: the `/scale` subresource as `kubectl scale --current-replicas=SEEN --replicas=N`
//! sends it (the Scale read, checked against the replicas on screen, and PUT back with the
//! resourceVersion of that read), for any Deployment, StatefulSet or Rollout — from the HPA
//! pane on an HPA's target and from the Rollouts pane. Without a count it asks for one. When
//! an HPA (or KEDA through one) manages the target, the confirm text says the next sync will
//! undo it and names the lasting fix.

use serde_json::{Value, json};

use crate::cluster::ClusterHandle;
use crate::exec::plan::{ActionPlan, Check, PlanBuild};
use crate::exec::request::{KubeRequest, Target, Verb};
use crate::k8s::apps::{Deployment, StatefulSet};
use crate::k8s::autoscaling::HorizontalPodAutoscaler;
use crate::k8s::rollout::Rollout;
use crate::keymap::ActionCall;
use crate::panes::{Prompt, Reply};
use crate::source::SourceState;

/// What a scale acts on, as it was on screen.
#[derive(Debug, Clone)]
pub struct ScaleTarget {
    pub target: Target,
    pub uid: Option<String>,
    pub resource_version: String,
    /// `spec.replicas` as shown (`None` when the object leaves it unset).
    pub replicas: Option<i32>,
    pub data_state: SourceState,
}

impl ScaleTarget {
    fn of<K: kube::Resource<DynamicType = ()>>(
        obj: &K,
        replicas: Option<i32>,
        data_state: SourceState,
    ) -> Self {
        Self {
            target: Target::of(obj),
            uid: obj.meta().uid.clone(),
            resource_version: obj.meta().resource_version.clone().unwrap_or_default(),
            replicas,
            data_state,
        }
    }

    /// `deploy shop/frontend`.
    fn short(&self) -> String {
        let kind = match self.target.kind.as_str() {
            "Deployment" => "deploy",
            "StatefulSet" => "sts",
            "Rollout" => "rollout",
            k => k,
        };
        format!(
            "{kind} {}/{}",
            self.target.namespace.as_deref().unwrap_or_default(),
            self.target.name
        )
    }
}

/// The scale target `kind`/`name` (group from `api_version`) in `namespace`, from the store.
pub fn find_target(
    cluster: &ClusterHandle,
    namespace: &str,
    group: &str,
    kind: &str,
    name: &str,
) -> Result<ScaleTarget, String> {
    let s = &cluster.sources;
    let missing = || format!("{kind} {namespace}/{name} is not in kdeck's store");
    match (group, kind) {
        ("apps", "Deployment") => s
            .get::<Deployment>(namespace, name)
            .map(|d| ScaleTarget::of(&d, d.spec.replicas, s.state::<Deployment>()))
            .ok_or_else(missing),
        ("apps", "StatefulSet") => s
            .get::<StatefulSet>(namespace, name)
            .map(|d| ScaleTarget::of(&d, d.spec.replicas, s.state::<StatefulSet>()))
            .ok_or_else(missing),
        ("argoproj.io", "Rollout") => s
            .get::<Rollout>(namespace, name)
            .map(|r| ScaleTarget::of(&r, r.spec.replicas, s.state::<Rollout>()))
            .ok_or_else(missing),
        _ => Err(format!(
            "kdeck scales Deployments, StatefulSets and Rollouts, not {kind}"
        )),
    }
}

/// The HPA whose scaleTargetRef is this object, if one is in the store.
#[must_use]
pub fn managing_hpa(cluster: &ClusterHandle, t: &Target) -> Option<HorizontalPodAutoscaler> {
    let ns = t.namespace.as_deref()?;
    let kind = cluster.sources.kind::<HorizontalPodAutoscaler>()?;
    kind.in_namespace(ns).into_iter().find(|h| {
        let r = &h.spec.scale_target_ref;
        r.kind == t.kind && r.name == t.name && r.group() == t.group
    })
}

/// The Scale as `kubectl scale` PUTs it; the executor adds the resourceVersion it read.
#[must_use]
pub fn scale_request(target: &Target, replicas: i32) -> KubeRequest {
    KubeRequest {
        verb: Verb::Put,
        target: target.clone(),
        subresource: Some("scale".into()),
        patch_type: None,
        body: json!({
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {"name": target.name, "namespace": target.namespace},
            "spec": {"replicas": replicas},
        }),
    }
}

/// What the confirm dialog says about who else sets the replicas, for a scale to `replicas`.
fn managed_note(hpa: &HorizontalPodAutoscaler, replicas: i32) -> String {
    let name = hpa.metadata.name.as_deref().unwrap_or_default();
    let (min, max) = (hpa.min_replicas(), hpa.spec.max_replicas);
    let who = match hpa.keda_owner() {
        Some(so) => {
            format!("KEDA manages it (ScaledObject {so}, through HPA {name}, min {min} max {max})")
        }
        None => format!("HPA {name} manages it (min {min} max {max})"),
    };
    let inactive = hpa
        .condition("ScalingActive")
        .filter(|c| c.status == "False")
        .and_then(|c| c.reason.clone());
    let what = if replicas > max {
        format!("it will set it back to {max} on its next sync (within about 15s)")
    } else if replicas < min {
        format!("it will set it back to {min} on its next sync (within about 15s)")
    } else if let Some(reason) = inactive {
        format!(
            "it cannot compute a replica count now ({reason}), so this holds until it can; then \
             it takes over again"
        )
    } else {
        "it will undo this on its next sync (within about 15s), recomputing from its metrics"
            .to_string()
    };
    let lasting = if hpa.keda_owner().is_some() {
        "To hold a count, pause the ScaledObject instead (pause in the HPA pane)."
    } else {
        "For a lasting change use set-min-max on the HPA (HPA pane)."
    };
    format!(" {who}: {what}. {lasting}")
}

/// `scale` on `t`: a prompt for the count without one, else the plan.
#[must_use]
pub fn scale(action: &ActionCall, t: ScaleTarget, cluster: &ClusterHandle) -> Reply {
    let shown = t
        .replicas
        .map_or_else(|| "unset".to_string(), |r| r.to_string());
    let Some(arg) = action.args.first() else {
        return Reply::Prompt(Prompt {
            label: format!("replicas for {} (now {shown})", t.short()),
            action: ActionCall {
                name: action.name.clone(),
                args: Vec::new(),
            },
            initial: t.replicas.map(|r| r.to_string()).unwrap_or_default(),
        });
    };
    let Ok(replicas) = arg.trim().parse::<i32>() else {
        return Reply::Warn(format!("scale: {arg:?} is not a replica count"));
    };
    if replicas < 0 {
        return Reply::Warn(format!("scale: {replicas} is not a replica count"));
    }
    if action.args.len() > 1 {
        return Reply::Warn("scale takes one number: the replica count".into());
    }
    if t.replicas == Some(replicas) {
        return Reply::Info(format!(
            "scale: {} is already at {replicas} replicas",
            t.short()
        ));
    }
    let mut summary = format!(
        "Scale {} from {shown} to {replicas} replicas, as `kubectl scale \
         --current-replicas={shown} --replicas={replicas}` does.",
        t.short()
    );
    if let Some(hpa) = managing_hpa(cluster, &t.target) {
        summary.push_str(&managed_note(&hpa, replicas));
    }
    Reply::Plan(Box::new(ActionPlan {
        cluster: cluster.context.clone(),
        action: "scale".into(),
        build: PlanBuild::Ready(vec![scale_request(&t.target, replicas)]),
        target: t.target,
        uid: t.uid,
        seen_rv: t.resource_version,
        checks: vec![Check::new(
            "/spec/replicas",
            t.replicas.map_or(Value::Null, Value::from),
            "replicas",
        )],
        summary,
        status_fallback: None,
        data_state: t.data_state,
    }))
}
