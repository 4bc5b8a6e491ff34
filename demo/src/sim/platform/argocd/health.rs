//! Resource health as Argo CD assesses it (the gitops-engine rules for Deployments,
//! StatefulSets, HPAs, Services and Argo Rollouts), and the app's health as the worst of its
//! resources'.

use serde_json::Value;

use crate::sim::fields;

/// Argo CD health statuses, in gitops-engine's order from best to worst.
pub const ORDER: &[&str] = &[
    "Healthy",
    "Suspended",
    "Progressing",
    "Missing",
    "Degraded",
    "Unknown",
];

/// The worse of two health statuses.
#[must_use]
pub fn worse<'a>(a: &'a str, b: &'a str) -> &'a str {
    let rank = |s: &str| ORDER.iter().position(|x| *x == s).unwrap_or(ORDER.len());
    if rank(b) > rank(a) { b } else { a }
}

/// A status with a message, as most rules below return it.
fn progressing(message: impl Into<String>) -> (String, Option<String>) {
    ("Progressing".into(), Some(message.into()))
}

fn degraded(message: impl Into<String>) -> (String, Option<String>) {
    ("Degraded".into(), Some(message.into()))
}

fn generation_observed(obj: &Value) -> bool {
    fields::i64_at(obj, "/metadata/generation", 0)
        <= fields::i64_at(obj, "/status/observedGeneration", 0)
}

fn deployment(d: &Value) -> (String, Option<String>) {
    let name = fields::name(d);
    if fields::bool_at(d, "/spec/paused") {
        return ("Suspended".into(), Some("Deployment is paused".into()));
    }
    if !generation_observed(d) {
        return progressing(
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        );
    }
    let conds = fields::array_at(d, "/status/conditions");
    if fields::condition(conds, "Progressing")
        .is_some_and(|c| fields::str_at(c, "/reason") == "ProgressDeadlineExceeded")
    {
        return degraded(format!(
            "Deployment \"{name}\" exceeded its progress deadline"
        ));
    }
    let replicas = fields::i64_at(d, "/spec/replicas", 1);
    let updated = fields::i64_at(d, "/status/updatedReplicas", 0);
    let current = fields::i64_at(d, "/status/replicas", 0);
    let available = fields::i64_at(d, "/status/availableReplicas", 0);
    if updated < replicas {
        return progressing(format!(
            "Waiting for rollout to finish: {updated} out of {replicas} new replicas have been updated..."
        ));
    }
    if current > updated {
        return progressing(format!(
            "Waiting for rollout to finish: {} old replicas are pending termination...",
            current - updated
        ));
    }
    if available < updated {
        return progressing(format!(
            "Waiting for rollout to finish: {available} of {updated} updated replicas are available..."
        ));
    }
    ("Healthy".into(), None)
}

fn statefulset(s: &Value) -> (String, Option<String>) {
    if fields::i64_at(s, "/status/observedGeneration", 0) == 0 || !generation_observed(s) {
        return progressing("Waiting for statefulset spec update to be observed...");
    }
    let replicas = fields::i64_at(s, "/spec/replicas", 1);
    let ready = fields::i64_at(s, "/status/readyReplicas", 0);
    if ready < replicas {
        return progressing(format!(
            "Waiting for {} pods to be ready...",
            replicas - ready
        ));
    }
    let update = fields::str_at(s, "/status/updateRevision");
    if update != fields::str_at(s, "/status/currentRevision") {
        return progressing(format!(
            "waiting for statefulset rolling update to complete {} pods at revision {update}...",
            fields::i64_at(s, "/status/updatedReplicas", 0)
        ));
    }
    (
        "Healthy".into(),
        Some(format!(
            "statefulset rolling update complete {replicas} pods at revision {update}..."
        )),
    )
}

fn hpa(h: &Value) -> (String, Option<String>) {
    let conds = fields::array_at(h, "/status/conditions");
    let failed = conds.iter().find(|c| {
        let reason = fields::str_at(c, "/reason");
        fields::str_at(c, "/status") == "False"
            && matches!(
                reason,
                "FailedGetScale"
                    | "FailedUpdateScale"
                    | "FailedGetResourceMetric"
                    | "FailedGetObjectMetric"
                    | "FailedGetPodsMetric"
                    | "FailedGetExternalMetric"
                    | "FailedComputeMetricsReplicas"
                    | "InvalidSelector"
            )
    });
    match failed {
        Some(c) => degraded(fields::str_at(c, "/message")),
        None if conds.is_empty() => progressing("Waiting to Autoscale"),
        None => ("Healthy".into(), None),
    }
}

fn rollout(r: &Value) -> (String, Option<String>) {
    let message = Some(fields::str_at(r, "/status/message").to_string()).filter(|m| !m.is_empty());
    match fields::str_at(r, "/status/phase") {
        "Healthy" => ("Healthy".into(), message),
        "Paused" => ("Suspended".into(), message),
        "Degraded" => ("Degraded".into(), message),
        _ => ("Progressing".into(), message),
    }
}

/// The health Argo CD shows for a live object of `kind`; `None` for kinds without health
/// (ConfigMaps).
#[must_use]
pub fn of(kind: &str, obj: &Value) -> Option<(String, Option<String>)> {
    match kind {
        "Deployment" => Some(deployment(obj)),
        "StatefulSet" => Some(statefulset(obj)),
        "HorizontalPodAutoscaler" => Some(hpa(obj)),
        "Rollout" => Some(rollout(obj)),
        "Service" => Some(("Healthy".into(), None)),
        // A child Application (app-of-apps): its own health.
        "Application" => {
            let h = fields::str_at(obj, "/status/health/status");
            Some((if h.is_empty() { "Unknown" } else { h }.to_string(), None))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployment_rules_follow_gitops_engine() {
        let healthy = json!({"metadata": {"name": "d", "generation": 2}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}});
        assert_eq!(of("Deployment", &healthy).unwrap().0, "Healthy");
        let mut stale = healthy.clone();
        stale["metadata"]["generation"] = json!(3);
        assert_eq!(of("Deployment", &stale).unwrap().0, "Progressing");
        let mut rolling = healthy.clone();
        rolling["status"]["availableReplicas"] = json!(1);
        assert_eq!(
            of("Deployment", &rolling).unwrap().1.unwrap(),
            "Waiting for rollout to finish: 1 of 2 updated replicas are available..."
        );
        let mut stuck = rolling.clone();
        stuck["status"]["conditions"] = json!([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]);
        assert_eq!(
            of("Deployment", &stuck).unwrap(),
            (
                "Degraded".into(),
                Some("Deployment \"d\" exceeded its progress deadline".into())
            )
        );
        assert_eq!(worse("Healthy", "Degraded"), "Degraded");
        assert_eq!(worse("Missing", "Progressing"), "Missing");
        assert!(of("ConfigMap", &healthy).is_none());
    }

    #[test]
    fn hpa_failures_are_degraded() {
        let h = json!({"status": {"conditions": [{"type": "AbleToScale", "status": "False", "reason": "FailedGetScale", "message": "nope"}]}});
        assert_eq!(
            of("HorizontalPodAutoscaler", &h).unwrap(),
            ("Degraded".into(), Some("nope".into()))
        );
    }
}
