//! The HPA pane's actions as plans: `scale` on the HPA's target (see [`super::scale`]),
//! `set-min-max MIN MAX` (a merge patch of `spec.minReplicas`/`spec.maxReplicas`, refused
//! only if the min/max on screen changed), and KEDA's `pause`/`resume` (the
//! `autoscaling.keda.sh/paused` annotation, as `kubectl annotate` sets and removes it).

use serde_json::{Map, Value, json};

use super::metrics::metric_views;
use super::model::{HpaRow, RowKind, State};
use super::next::next_step;
use super::scale::{find_target, scale};
use crate::cluster::ClusterHandle;
use crate::exec::plan::{ActionPlan, Check, PlanBuild};
use crate::exec::request::{KubeRequest, PatchType, Target};
use crate::k8s::apps::annotation;
use crate::k8s::autoscaling::{
    HorizontalPodAutoscaler, KEDA_PAUSED_ANNOTATION, KEDA_PAUSED_REPLICAS_ANNOTATION, ScaledObject,
};
use crate::keymap::ActionCall;
use crate::panes::{Prompt, Reply};

/// Builds the plan for `action` on `row`, or says why not.
#[must_use]
pub fn plan(action: &ActionCall, row: &HpaRow, cluster: &ClusterHandle) -> Reply {
    if row.state == State::Unreadable && row.resource_version.is_none() {
        return Reply::Warn(format!(
            "{}: cannot act on {}: {}",
            action.name,
            row.key(),
            row.reason.clone().unwrap_or_default()
        ));
    }
    match action.name.as_str() {
        "scale" => match find_target(
            cluster,
            &row.namespace,
            row.target.group(),
            &row.target.kind,
            &row.target.name,
        ) {
            Ok(t) => scale(action, t, cluster),
            Err(why) => Reply::Warn(format!("scale: {why}")),
        },
        "set-min-max" => set_min_max(action, row, cluster),
        "pause" | "resume" => keda_pause(action, row, cluster),
        _ => Reply::Unhandled,
    }
}

fn parse_min_max(args: &[String]) -> Result<(i32, i32), String> {
    let [min, max] = args else {
        return Err("set-min-max takes two numbers: MIN MAX".into());
    };
    let num = |s: &String| {
        s.trim()
            .parse::<i32>()
            .map_err(|_| format!("set-min-max: {s:?} is not a number"))
    };
    let (min, max) = (num(min)?, num(max)?);
    if min < 1 {
        return Err(format!("set-min-max: min must be at least 1 (got {min})"));
    }
    if min > max {
        return Err(format!(
            "set-min-max: min {min} is above max {max} (1 ≤ min ≤ max)"
        ));
    }
    Ok((min, max))
}

fn set_min_max(action: &ActionCall, row: &HpaRow, cluster: &ClusterHandle) -> Reply {
    if row.kind != RowKind::Hpa {
        return Reply::Warn(format!(
            "set-min-max: {} has no HPA while KEDA is paused; resume it first",
            row.key()
        ));
    }
    let Some(hpa) = cluster
        .sources
        .get::<HorizontalPodAutoscaler>(&row.namespace, &row.name)
    else {
        return Reply::Warn(format!("set-min-max: HPA {} is gone", row.key()));
    };
    if let Some(so) = hpa.keda_owner() {
        return Reply::Warn(format!(
            "set-min-max: KEDA sets this HPA's min/max from ScaledObject {so} \
             (minReplicaCount/maxReplicaCount); change them there"
        ));
    }
    let (min, max) = (hpa.min_replicas(), hpa.spec.max_replicas);
    if action.args.is_empty() {
        return Reply::Prompt(Prompt {
            label: format!("min max for hpa {} (now {min} {max})", row.key()),
            action: ActionCall::named(&action.name),
            initial: format!("{min} {max}"),
        });
    }
    let (new_min, new_max) = match parse_min_max(&action.args) {
        Ok(v) => v,
        Err(e) => return Reply::Warn(e),
    };
    if (new_min, new_max) == (min, max) && hpa.spec.min_replicas.is_some() {
        return Reply::Info(format!("set-min-max: {} is already {min}-{max}", row.key()));
    }
    // What the controller would do with the new limits, from what is on screen now.
    let mut changed = hpa.clone();
    changed.spec.min_replicas = Some(new_min);
    changed.spec.max_replicas = new_max;
    let metrics = metric_views(&changed);
    let next = next_step(
        &changed,
        &metrics,
        &row.target_info,
        row.current,
        &row.history,
        chrono::Utc::now(),
    );
    let target = Target::of(&hpa);
    Reply::Plan(Box::new(ActionPlan {
        cluster: cluster.context.clone(),
        action: "set-min-max".into(),
        build: PlanBuild::Ready(vec![KubeRequest::patch(
            &target,
            None,
            PatchType::Merge,
            json!({"spec": {"minReplicas": new_min, "maxReplicas": new_max}}),
        )]),
        target,
        uid: hpa.metadata.uid.clone(),
        seen_rv: hpa.metadata.resource_version.clone().unwrap_or_default(),
        checks: vec![
            Check::new(
                "/spec/minReplicas",
                hpa.spec.min_replicas.map_or(Value::Null, Value::from),
                "minReplicas",
            ),
            Check::new("/spec/maxReplicas", max, "maxReplicas"),
        ],
        summary: format!(
            "Set HPA {} from min {min} max {max} to min {new_min} max {new_max}. With these \
             limits, as of the metrics on screen: {}.",
            row.key(),
            next.summary
        ),
        status_fallback: None,
        data_state: cluster.sources.state::<HorizontalPodAutoscaler>(),
    }))
}

fn keda_pause(action: &ActionCall, row: &HpaRow, cluster: &ClusterHandle) -> Reply {
    let name = action.name.as_str();
    let Some((so_name, _)) = &row.keda else {
        return Reply::Warn(format!(
            "{name}: only KEDA ScaledObjects pause; HPA {} is not a ScaledObject's (set-min-max \
             is the HPA's lever)",
            row.key()
        ));
    };
    let Some(so) = cluster.sources.get::<ScaledObject>(&row.namespace, so_name) else {
        return Reply::Warn(format!(
            "{name}: ScaledObject {}/{so_name} is not in kdeck's store",
            row.namespace
        ));
    };
    let paused_ann = annotation(&so.metadata, KEDA_PAUSED_ANNOTATION);
    let replicas_ann = annotation(&so.metadata, KEDA_PAUSED_REPLICAS_ANNOTATION);
    let (annotations, summary) = if name == "pause" {
        if so.paused() {
            return Reply::Info(format!("pause: ScaledObject {so_name} is already paused"));
        }
        let mut a = Map::new();
        a.insert(KEDA_PAUSED_ANNOTATION.into(), Value::String("true".into()));
        (
            a,
            format!(
                "Pause KEDA autoscaling of ScaledObject {}/{so_name} (annotation \
                 {KEDA_PAUSED_ANNOTATION}=true): KEDA removes its HPA {} and leaves {}/{} at \
                 its current {} replicas until resumed.",
                row.namespace,
                so.hpa_name(),
                row.target.kind,
                row.target.name,
                row.current
            ),
        )
    } else {
        if paused_ann.is_none() && replicas_ann.is_none() {
            return Reply::Info(format!(
                "resume: ScaledObject {so_name} has no pause annotation to remove"
            ));
        }
        let mut a = Map::new();
        for (key, present) in [
            (KEDA_PAUSED_ANNOTATION, paused_ann.is_some()),
            (KEDA_PAUSED_REPLICAS_ANNOTATION, replicas_ann.is_some()),
        ] {
            if present {
                a.insert(key.into(), Value::Null);
            }
        }
        (
            a,
            format!(
                "Resume KEDA autoscaling of ScaledObject {}/{so_name}: the pause annotations \
                 are removed and KEDA makes its HPA again.",
                row.namespace
            ),
        )
    };
    let target = Target::of(&so);
    Reply::Plan(Box::new(ActionPlan {
        cluster: cluster.context.clone(),
        action: name.into(),
        build: PlanBuild::Ready(vec![KubeRequest::patch(
            &target,
            None,
            PatchType::Merge,
            json!({"metadata": {"annotations": Value::Object(annotations)}}),
        )]),
        target,
        uid: so.metadata.uid.clone(),
        seen_rv: so.metadata.resource_version.clone().unwrap_or_default(),
        // Setting or removing an annotation is safe to repeat.
        checks: Vec::new(),
        summary,
        status_fallback: None,
        data_state: cluster.sources.state::<ScaledObject>(),
    }))
}

#[cfg(test)]
mod tests {
    use super::parse_min_max;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn min_max_are_validated() {
        assert_eq!(parse_min_max(&args(&["2", "6"])), Ok((2, 6)));
        assert_eq!(parse_min_max(&args(&["3", "3"])), Ok((3, 3)));
        assert!(
            parse_min_max(&args(&["0", "3"]))
                .unwrap_err()
                .contains("at least 1")
        );
        assert!(
            parse_min_max(&args(&["5", "3"]))
                .unwrap_err()
                .contains("1 ≤ min ≤ max")
        );
        assert!(
            parse_min_max(&args(&["x", "3"]))
                .unwrap_err()
                .contains("not a number")
        );
        assert!(
            parse_min_max(&args(&["3"]))
                .unwrap_err()
                .contains("two numbers")
        );
    }
}
