//! The namespaces every simulated cluster starts with; other seeders rely on them.

use serde_json::json;

use crate::ClusterState;
use crate::api::registry;

/// Namespace names, with the workloads each holds (see the scenario in `workloads` and
/// `rollouts`).
pub const NAMESPACES: &[&str] = &[
    "default",
    "kube-system",
    "monitoring",
    "argocd",
    "argo-rollouts",
    "istio-system",
    "velero",
    "shop",
    "payments",
    "search",
];

pub fn seed(state: &ClusterState) {
    let Some(t) = registry::find("", "namespaces") else {
        return;
    };
    for ns in NAMESPACES {
        let _ = state.store.insert(
            t,
            json!({
                "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }),
        );
    }
}
