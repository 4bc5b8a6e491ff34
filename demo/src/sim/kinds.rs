//! The kinds the simulated controllers read and write, resolved once from the registry so
//! controllers name them by field instead of looking up `(group, plural)` on every event.

use std::sync::OnceLock;

use crate::api::registry::{self, TypeId};

/// Type ids of the kinds the simulation touches. A kind missing from the registry resolves to
/// `usize::MAX`, which matches no event and no stored object.
#[derive(Debug, Clone, Copy)]
pub struct Kinds {
    pub namespace: TypeId,
    pub node: TypeId,
    pub pod: TypeId,
    pub service: TypeId,
    pub event: TypeId,
    pub configmap: TypeId,
    pub deployment: TypeId,
    pub replicaset: TypeId,
    pub statefulset: TypeId,
    pub hpa: TypeId,
    pub rollout: TypeId,
    pub application: TypeId,
    pub appproject: TypeId,
    pub applicationset: TypeId,
    pub kustomization: TypeId,
    pub helmrelease: TypeId,
    pub backup: TypeId,
    pub schedule: TypeId,
    pub restore: TypeId,
    pub bsl: TypeId,
    pub scaled_object: TypeId,
    pub vpa: TypeId,
}

/// The resolved kinds (computed on first use).
#[must_use]
pub fn kinds() -> &'static Kinds {
    static KINDS: OnceLock<Kinds> = OnceLock::new();
    KINDS.get_or_init(|| {
        let f = |group: &str, plural: &str| registry::find(group, plural).unwrap_or(usize::MAX);
        Kinds {
            namespace: f("", "namespaces"),
            node: f("", "nodes"),
            pod: f("", "pods"),
            service: f("", "services"),
            event: f("", "events"),
            configmap: f("", "configmaps"),
            deployment: f("apps", "deployments"),
            replicaset: f("apps", "replicasets"),
            statefulset: f("apps", "statefulsets"),
            hpa: f("autoscaling", "horizontalpodautoscalers"),
            rollout: f("argoproj.io", "rollouts"),
            application: f("argoproj.io", "applications"),
            appproject: f("argoproj.io", "appprojects"),
            applicationset: f("argoproj.io", "applicationsets"),
            kustomization: f("kustomize.toolkit.fluxcd.io", "kustomizations"),
            helmrelease: f("helm.toolkit.fluxcd.io", "helmreleases"),
            backup: f("velero.io", "backups"),
            schedule: f("velero.io", "schedules"),
            restore: f("velero.io", "restores"),
            bsl: f("velero.io", "backupstoragelocations"),
            scaled_object: f("keda.sh", "scaledobjects"),
            vpa: f("autoscaling.k8s.io", "verticalpodautoscalers"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_resolves() {
        let k = kinds();
        for id in [
            k.namespace,
            k.node,
            k.pod,
            k.service,
            k.event,
            k.configmap,
            k.deployment,
            k.replicaset,
            k.statefulset,
            k.hpa,
            k.rollout,
            k.application,
            k.appproject,
            k.applicationset,
            k.kustomization,
            k.helmrelease,
            k.backup,
            k.schedule,
            k.restore,
            k.bsl,
            k.scaled_object,
            k.vpa,
        ] {
            assert_ne!(id, usize::MAX);
        }
        assert_eq!(registry::get(k.hpa).kind, "HorizontalPodAutoscaler");
    }
}
