//! Where a Rollout's pod template comes from when `spec.workloadRef` names another workload
//! (the usual way to migrate a Deployment to Argo Rollouts): which object that is among the
//! cluster's objects, and what the row and detail say about it.
//!
//! Upstream semantics: the controller resolves the template in memory from the referenced
//! `apps/v1` Deployment or ReplicaSet or `v1` PodTemplate (`rollout/templateref.go`,
//! `infoByGroupKind`; any other kind is "not supported"), never writes it to the Rollout,
//! records the workload's `metadata.generation` in the Rollout's
//! `rollout.argoproj.io/workload-generation` annotation whenever the workload changes, and
//! copies that into `status.workloadObservedGeneration` once it has acted on it
//! (`persistRolloutStatus`). The ReplicaSets it creates are the Rollout's own (owner reference
//! to the Rollout), so the revision tree and the running images come from them as for any
//! Rollout; the plugin's `Containers` (`info/rollout_info.go` `NewRolloutInfo`) are the
//! referenced Deployment's containers.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::k8s::apps::{ContainerImage, Deployment, ReplicaSet};
use crate::k8s::rollout::Rollout;
use crate::panes::kit::Inputs;

/// The workload a Rollout's `spec.workloadRef` names, as found among the cluster's objects.
#[derive(Debug, Clone, Copy)]
pub enum Referenced<'a> {
    /// No `spec.workloadRef`: the Rollout carries its own `spec.template`.
    None,
    Deployment(&'a Deployment),
    ReplicaSet(&'a ReplicaSet),
    /// A supported kind that is not in the store (not created yet, deleted, misnamed).
    Missing,
    /// A `PodTemplate`: supported by the controller, not read by kdeck.
    NotRead,
    /// A kind the controller does not support (it reports the Rollout invalid).
    Unsupported,
}

impl Referenced<'_> {
    /// Adds what a row takes from the referenced object to its cache inputs, so the row is
    /// rebuilt when that object changes, appears or goes away.
    #[must_use]
    pub fn add_to(&self, inputs: Inputs) -> Inputs {
        match self {
            Self::Deployment(d) => inputs.with(&1u8).meta(&d.metadata),
            Self::ReplicaSet(rs) => inputs.with(&2u8).meta(&rs.metadata),
            Self::None => inputs,
            Self::Missing => inputs.with(&3u8),
            Self::NotRead => inputs.with(&4u8),
            Self::Unsupported => inputs.with(&5u8),
        }
    }
}

/// The object named `ns/name` in `objects`.
pub fn named<'a, K: kube::Resource>(objects: &'a [K], ns: &str, name: &str) -> Option<&'a K> {
    objects.iter().find(|o| {
        o.meta().namespace.as_deref() == Some(ns) && o.meta().name.as_deref() == Some(name)
    })
}

/// An object's (namespace, name), the key [`find_referenced`]'s lookups take.
#[must_use]
pub fn ns_name(meta: &ObjectMeta) -> (&str, &str) {
    (
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or(""),
    )
}

/// The API group of an `apiVersion` (`apps/v1` → `apps`, `v1` → the core group `""`).
fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// Finds what `ro.spec.workloadRef` names, in the Rollout's namespace, through `deployment`
/// and `replica_set` (lookups by namespace and name).
#[must_use]
pub fn find_referenced<'a>(
    ro: &Rollout,
    deployment: impl Fn(&str, &str) -> Option<&'a Deployment>,
    replica_set: impl Fn(&str, &str) -> Option<&'a ReplicaSet>,
) -> Referenced<'a> {
    let Some(r) = &ro.spec.workload_ref else {
        return Referenced::None;
    };
    let ns = ro.metadata.namespace.as_deref().unwrap_or("");
    let name = r.name.as_deref().unwrap_or("");
    let group = group_of(r.api_version.as_deref().unwrap_or(""));
    match (group, r.kind.as_deref().unwrap_or("")) {
        ("apps", "Deployment") => {
            deployment(ns, name).map_or(Referenced::Missing, Referenced::Deployment)
        }
        ("apps", "ReplicaSet") => {
            replica_set(ns, name).map_or(Referenced::Missing, Referenced::ReplicaSet)
        }
        ("", "PodTemplate") => Referenced::NotRead,
        _ => Referenced::Unsupported,
    }
}

/// Whether kdeck found the referenced workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Found,
    /// Not among the objects kdeck reads in the Rollout's namespace.
    Missing,
    /// A `PodTemplate`, which kdeck does not read.
    NotRead,
    /// A kind Argo Rollouts does not support.
    Unsupported,
}

/// A workloadRef Rollout's template source, as the row and detail show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSource {
    /// `spec.workloadRef.kind` and `.name` as written.
    pub kind: String,
    pub name: String,
    pub lookup: Lookup,
    /// The referenced template's containers (the plugin's `Containers`); empty unless found.
    pub containers: Vec<ContainerImage>,
    /// The workload generation the controller recorded on the Rollout
    /// (`rollout.argoproj.io/workload-generation`).
    pub recorded_generation: Option<i64>,
    /// `status.workloadObservedGeneration`: the generation the controller has acted on.
    pub observed_generation: Option<i64>,
    /// The referenced object's own `metadata.generation`, as kdeck last saw it.
    pub workload_generation: Option<i64>,
    /// `spec.workloadRef.scaleDown`.
    pub scale_down: Option<String>,
    /// Pods the referenced Deployment still runs (`status.replicas`) while a migration keeps
    /// it up; `None` at zero.
    pub workload_pods: Option<i32>,
}

impl TemplateSource {
    /// The newest generation anyone has seen: the workload's own, or the one recorded on the
    /// Rollout (kdeck's copy of the workload may lag the controller's).
    #[must_use]
    pub fn generation(&self) -> Option<i64> {
        self.workload_generation.max(self.recorded_generation)
    }

    /// Whether the workload has a generation the controller has not acted on yet (a change to
    /// the Deployment that has not become a new revision). Without any record from the
    /// controller there is nothing to compare, so nothing is called pending.
    #[must_use]
    pub fn pending(&self) -> bool {
        let acted = self.observed_generation.or(self.recorded_generation);
        matches!((self.generation(), acted), (Some(g), Some(a)) if g > a)
    }

    /// One line for the detail view:
    /// `from Deployment web (workload generation 3) · scaleDown onsuccess`.
    #[must_use]
    pub fn describe(&self, namespace: &str) -> String {
        let mut s = format!("from {} {}", self.kind, self.name);
        match self.lookup {
            Lookup::Missing => {
                s.push_str(&format!(": not found in namespace {namespace}"));
                return s;
            }
            Lookup::NotRead => s.push_str(" (kdeck does not read PodTemplates)"),
            Lookup::Unsupported => {
                s.push_str(": Argo Rollouts supports Deployment, ReplicaSet and PodTemplate");
                return s;
            }
            Lookup::Found => {}
        }
        if let Some(g) = self.generation() {
            if self.pending() {
                s.push_str(&format!(
                    " (workload generation {g}, not yet observed by the controller)"
                ));
            } else {
                s.push_str(&format!(" (workload generation {g})"));
            }
        }
        if let Some(mode) = &self.scale_down {
            s.push_str(&format!(" · scaleDown {mode}"));
        }
        if let Some(n) = self.workload_pods {
            s.push_str(&format!(" · the {} still runs {n} pods", self.kind));
        }
        s
    }
}

/// The template source of `ro` (`None` without `spec.workloadRef`).
#[must_use]
pub fn template_source(ro: &Rollout, referenced: Referenced<'_>) -> Option<TemplateSource> {
    let r = ro.spec.workload_ref.as_ref()?;
    let (lookup, containers, workload_generation, workload_pods) = match referenced {
        Referenced::None => return None,
        Referenced::Deployment(d) => (
            Lookup::Found,
            d.spec.template.containers.clone(),
            d.metadata.generation,
            d.status.as_ref().map(|s| s.replicas).filter(|n| *n > 0),
        ),
        Referenced::ReplicaSet(rs) => (
            Lookup::Found,
            rs.spec.template.containers.clone(),
            rs.metadata.generation,
            None,
        ),
        Referenced::Missing => (Lookup::Missing, Vec::new(), None, None),
        Referenced::NotRead => (Lookup::NotRead, Vec::new(), None, None),
        Referenced::Unsupported => (Lookup::Unsupported, Vec::new(), None, None),
    };
    Some(TemplateSource {
        kind: r.kind.clone().unwrap_or_default(),
        name: r.name.clone().unwrap_or_default(),
        lookup,
        containers,
        recorded_generation: ro.workload_generation(),
        observed_generation: ro
            .status
            .as_ref()
            .and_then(|s| s.workload_observed_generation.as_deref())
            .and_then(|g| g.trim().parse().ok()),
        workload_generation,
        scale_down: r.scale_down.clone().filter(|m| !m.is_empty()),
        workload_pods,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rollout(annotation: Option<&str>, observed: Option<&str>, kind: &str) -> Rollout {
        let mut meta = json!({"name": "web", "namespace": "shop"});
        if let Some(a) = annotation {
            meta["annotations"] = json!({"rollout.argoproj.io/workload-generation": a});
        }
        serde_json::from_value(json!({
            "metadata": meta,
            "spec": {"workloadRef": {"apiVersion": "apps/v1", "kind": kind, "name": "web-deploy",
                                     "scaleDown": "onsuccess"}},
            "status": {"workloadObservedGeneration": observed}
        }))
        .unwrap()
    }

    fn deployment(generation: i64, replicas: i32) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "web-deploy", "namespace": "shop", "generation": generation},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "web", "image": "r/web:2"}]}}},
            "status": {"replicas": replicas}
        }))
        .unwrap()
    }

    #[test]
    fn lookup_follows_the_supported_kinds() {
        let d = deployment(3, 0);
        let by_name = |ns: &str, name: &str| (ns == "shop" && name == "web-deploy").then_some(&d);
        let no_rs = |_: &str, _: &str| None;
        let ro = rollout(Some("3"), Some("3"), "Deployment");
        assert!(matches!(
            find_referenced(&ro, by_name, no_rs),
            Referenced::Deployment(_)
        ));
        let ro = rollout(None, None, "ReplicaSet");
        assert!(matches!(
            find_referenced(&ro, by_name, no_rs),
            Referenced::Missing
        ));
        let ro = rollout(None, None, "StatefulSet");
        assert!(matches!(
            find_referenced(&ro, by_name, no_rs),
            Referenced::Unsupported
        ));
        let plain: Rollout =
            serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {}})).unwrap();
        assert!(matches!(
            find_referenced(&plain, by_name, no_rs),
            Referenced::None
        ));
        assert_eq!(template_source(&plain, Referenced::None), None);
    }

    #[test]
    fn generations_say_whether_the_controller_has_caught_up() {
        let d = deployment(3, 0);
        let seen = template_source(
            &rollout(Some("3"), Some("3"), "Deployment"),
            Referenced::Deployment(&d),
        )
        .unwrap();
        assert!(!seen.pending());
        assert_eq!(
            seen.describe("shop"),
            "from Deployment web-deploy (workload generation 3) · scaleDown onsuccess"
        );
        assert_eq!(seen.containers[0].image, "r/web:2");
        // The Deployment moved to 4; the controller recorded 3 and acted on 3.
        let d4 = deployment(4, 2);
        let behind = template_source(
            &rollout(Some("3"), Some("3"), "Deployment"),
            Referenced::Deployment(&d4),
        )
        .unwrap();
        assert!(behind.pending());
        assert_eq!(
            behind.describe("shop"),
            "from Deployment web-deploy (workload generation 4, not yet observed by the \
             controller) · scaleDown onsuccess · the Deployment still runs 2 pods"
        );
        // Recorded 4, acted on 3 (kdeck's Deployment copy is older than the annotation).
        let recorded = template_source(
            &rollout(Some("4"), Some("3"), "Deployment"),
            Referenced::Deployment(&d),
        )
        .unwrap();
        assert!(recorded.pending());
        let gone = template_source(
            &rollout(Some("4"), Some("4"), "Deployment"),
            Referenced::Missing,
        )
        .unwrap();
        assert_eq!(
            gone.describe("shop"),
            "from Deployment web-deploy: not found in namespace shop"
        );
        assert!(gone.containers.is_empty());
        // Nothing recorded by the controller: the workload's generation, nothing pending.
        let unrecorded = template_source(
            &rollout(None, None, "Deployment"),
            Referenced::Deployment(&d),
        )
        .unwrap();
        assert!(!unrecorded.pending());
        assert_eq!(
            unrecorded.describe("shop"),
            "from Deployment web-deploy (workload generation 3) · scaleDown onsuccess"
        );
    }
}
