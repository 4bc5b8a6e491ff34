//! The kinds the demo cluster serves: names, versions, scope, verbs and subresources.
//!
//! Discovery, routing, the object store and server-side table printing all read this one
//! table, so a kind is added in exactly one place.
//!
//! This file holds the shape of a kind, the helpers that build one and the look-ups; `table`
//! holds the table itself.

mod table;

pub use table::RESOURCE_TYPES;

/// Which optional API groups a simulated cluster serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addon {
    /// Always present: core, apps, autoscaling.
    Core,
    /// `argoproj.io` Rollouts, AnalysisRuns, AnalysisTemplates.
    ArgoRollouts,
    /// `argoproj.io` Applications, AppProjects, ApplicationSets.
    ArgoCd,
    /// `kustomize.toolkit.fluxcd.io` Kustomizations and `helm.toolkit.fluxcd.io` HelmReleases.
    Flux,
    /// `velero.io`.
    Velero,
    /// `networking.istio.io`.
    Istio,
    /// `keda.sh` ScaledObjects.
    Keda,
    /// `autoscaling.k8s.io` VerticalPodAutoscalers.
    Vpa,
}

/// Where the `/scale` subresource reads and writes replica counts (JSON paths as field lists).
#[derive(Debug, Clone, Copy)]
pub struct ScalePaths {
    pub spec_replicas: &'static [&'static str],
    pub status_replicas: &'static [&'static str],
    /// Path of the label selector string; `None` derives it from `spec.selector.matchLabels`.
    pub label_selector: Option<&'static [&'static str]>,
}

/// One column of `kubectl get` output (server-side Table printing).
#[derive(Debug, Clone, Copy)]
pub struct PrinterColumn {
    pub name: &'static str,
    /// `integer`, `string`, `date` (rendered as an age) ...
    pub kind: &'static str,
    /// A dotted path into the object, e.g. `.status.phase`, or a computed column like `@ready`.
    pub path: &'static str,
}

/// A served resource type.
#[derive(Debug, Clone, Copy)]
pub struct ResourceType {
    pub group: &'static str,
    /// Served versions; the first is the storage (and preferred) version.
    pub versions: &'static [&'static str],
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub status_subresource: bool,
    pub scale: Option<ScalePaths>,
    pub addon: Addon,
    /// Extra field selectors beyond metadata.name / metadata.namespace, as (selector, path).
    pub field_paths: &'static [(&'static str, &'static [&'static str])],
    pub columns: &'static [PrinterColumn],
    /// Only `create` is served (review APIs such as SelfSubjectAccessReview).
    pub create_only: bool,
}

impl ResourceType {
    /// `group/version` for the storage version, or `version` for the core group.
    #[must_use]
    pub fn api_version(&self) -> String {
        self.api_version_for(self.versions[0])
    }

    #[must_use]
    pub fn api_version_for(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }

    #[must_use]
    pub fn verbs(&self) -> &'static [&'static str] {
        if self.create_only {
            &["create"]
        } else {
            &[
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ]
        }
    }
}

const fn col(name: &'static str, kind: &'static str, path: &'static str) -> PrinterColumn {
    PrinterColumn { name, kind, path }
}

const AGE: PrinterColumn = col("Age", "date", ".metadata.creationTimestamp");

const NO_FIELDS: &[(&str, &[&str])] = &[];

const fn rt(
    group: &'static str,
    versions: &'static [&'static str],
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    namespaced: bool,
    addon: Addon,
) -> ResourceType {
    ResourceType {
        group,
        versions,
        kind,
        plural,
        singular,
        namespaced,
        short_names: &[],
        categories: &[],
        status_subresource: false,
        scale: None,
        addon,
        field_paths: NO_FIELDS,
        columns: &[AGE],
        create_only: false,
    }
}

const DEPLOY_SCALE: ScalePaths = ScalePaths {
    spec_replicas: &["spec", "replicas"],
    status_replicas: &["status", "replicas"],
    label_selector: None,
};

/// Index of a kind in [`RESOURCE_TYPES`]; cheap to copy and compare.
pub type TypeId = usize;

/// Finds a served kind by API group and plural resource name.
#[must_use]
pub fn find(group: &str, plural: &str) -> Option<TypeId> {
    RESOURCE_TYPES
        .iter()
        .position(|t| t.group == group && t.plural == plural)
}

/// Finds a kind by group and kind name (e.g. `("apps", "Deployment")`).
#[must_use]
pub fn find_kind(group: &str, kind: &str) -> Option<TypeId> {
    RESOURCE_TYPES
        .iter()
        .position(|t| t.group == group && t.kind == kind)
}

#[must_use]
pub fn get(id: TypeId) -> &'static ResourceType {
    &RESOURCE_TYPES[id]
}
