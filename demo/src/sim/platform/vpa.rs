//! The VerticalPodAutoscaler where installed (the first demo cluster): `search/indexer`, in
//! `Off` mode (recommendations only, the usual way beside an HPA), with the recommender's
//! status — target, bounds and uncapped target per container — and its conditions. The
//! recommender itself is not simulated: the recommendation is what a week of the indexer's
//! load would give.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::ClusterState;
use crate::sim::clock;
use crate::sim::kinds::kinds;

/// The VPA of the scenario, with its status.
#[must_use]
pub fn vpa(created: DateTime<Utc>, now: DateTime<Utc>) -> Value {
    json!({
        "apiVersion": "autoscaling.k8s.io/v1",
        "kind": "VerticalPodAutoscaler",
        "metadata": {"name": "indexer", "namespace": "search",
            "creationTimestamp": clock::fmt(created)},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "indexer"},
            "updatePolicy": {"updateMode": "Off"},
            "resourcePolicy": {"containerPolicies": [{"containerName": "*",
                "minAllowed": {"cpu": "250m", "memory": "1Gi"},
                "maxAllowed": {"cpu": "2", "memory": "6Gi"},
                "controlledResources": ["cpu", "memory"]}]},
        },
        "status": {
            "recommendation": {"containerRecommendations": [{
                "containerName": "indexer",
                "lowerBound": {"cpu": "480m", "memory": "2147483648"},
                "target": {"cpu": "763m", "memory": "2791728742"},
                "uncappedTarget": {"cpu": "763m", "memory": "2791728742"},
                "upperBound": {"cpu": "1210m", "memory": "3758096384"},
            }]},
            "conditions": [{"type": "RecommendationProvided", "status": "True",
                "lastTransitionTime": clock::fmt(now - chrono::Duration::days(6))}],
        },
    })
}

/// Inserts the VPA.
pub fn seed(state: &ClusterState, now: DateTime<Utc>) {
    let created = now - chrono::Duration::days(7);
    let _ = state.store.insert(kinds().vpa, vpa(created, now));
}
