//! The kinds the demo cluster serves: names, versions, scope, verbs and subresources.
//!
//! Discovery, routing, the object store and server-side table printing all read this one
//! table, so a kind is added in exactly one place.

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

/// Every kind the simulator knows. Clusters serve the subset whose add-on they have.
pub static RESOURCE_TYPES: &[ResourceType] = &[
    ResourceType {
        short_names: &["ns"],
        status_subresource: true,
        columns: &[col("Status", "string", ".status.phase"), AGE],
        ..rt(
            "",
            &["v1"],
            "Namespace",
            "namespaces",
            "namespace",
            false,
            Addon::Core,
        )
    },
    ResourceType {
        short_names: &["no"],
        status_subresource: true,
        columns: &[
            col("Status", "string", "@node-status"),
            col("Roles", "string", "@node-roles"),
            AGE,
            col("Version", "string", ".status.nodeInfo.kubeletVersion"),
        ],
        ..rt("", &["v1"], "Node", "nodes", "node", false, Addon::Core)
    },
    ResourceType {
        short_names: &["po"],
        categories: &["all"],
        status_subresource: true,
        field_paths: &[
            ("spec.nodeName", &["spec", "nodeName"]),
            ("status.phase", &["status", "phase"]),
        ],
        columns: &[
            col("Ready", "string", "@pod-ready"),
            col("Status", "string", "@pod-status"),
            col("Restarts", "integer", "@pod-restarts"),
            AGE,
        ],
        ..rt("", &["v1"], "Pod", "pods", "pod", true, Addon::Core)
    },
    ResourceType {
        short_names: &["svc"],
        categories: &["all"],
        status_subresource: true,
        columns: &[
            col("Type", "string", ".spec.type"),
            col("Cluster-IP", "string", ".spec.clusterIP"),
            AGE,
        ],
        ..rt(
            "",
            &["v1"],
            "Service",
            "services",
            "service",
            true,
            Addon::Core,
        )
    },
    ResourceType {
        short_names: &["ev"],
        field_paths: &[
            ("involvedObject.kind", &["involvedObject", "kind"]),
            ("involvedObject.name", &["involvedObject", "name"]),
            ("involvedObject.namespace", &["involvedObject", "namespace"]),
            ("involvedObject.uid", &["involvedObject", "uid"]),
            ("reason", &["reason"]),
            ("type", &["type"]),
        ],
        columns: &[
            col("Last Seen", "date", ".lastTimestamp"),
            col("Type", "string", ".type"),
            col("Reason", "string", ".reason"),
            col("Object", "string", "@event-object"),
            col("Message", "string", ".message"),
        ],
        ..rt("", &["v1"], "Event", "events", "event", true, Addon::Core)
    },
    ResourceType {
        short_names: &["cm"],
        columns: &[col("Data", "integer", "@data-count"), AGE],
        ..rt(
            "",
            &["v1"],
            "ConfigMap",
            "configmaps",
            "configmap",
            true,
            Addon::Core,
        )
    },
    ResourceType {
        short_names: &["deploy"],
        categories: &["all"],
        status_subresource: true,
        scale: Some(DEPLOY_SCALE),
        columns: &[
            col("Ready", "string", "@ready-of-replicas"),
            col("Up-to-date", "integer", ".status.updatedReplicas"),
            col("Available", "integer", ".status.availableReplicas"),
            AGE,
        ],
        ..rt(
            "apps",
            &["v1"],
            "Deployment",
            "deployments",
            "deployment",
            true,
            Addon::Core,
        )
    },
    ResourceType {
        short_names: &["rs"],
        categories: &["all"],
        status_subresource: true,
        scale: Some(DEPLOY_SCALE),
        columns: &[
            col("Desired", "integer", ".spec.replicas"),
            col("Current", "integer", ".status.replicas"),
            col("Ready", "integer", ".status.readyReplicas"),
            AGE,
        ],
        ..rt(
            "apps",
            &["v1"],
            "ReplicaSet",
            "replicasets",
            "replicaset",
            true,
            Addon::Core,
        )
    },
    ResourceType {
        short_names: &["sts"],
        categories: &["all"],
        status_subresource: true,
        scale: Some(DEPLOY_SCALE),
        columns: &[col("Ready", "string", "@ready-of-replicas"), AGE],
        ..rt(
            "apps",
            &["v1"],
            "StatefulSet",
            "statefulsets",
            "statefulset",
            true,
            Addon::Core,
        )
    },
    ResourceType {
        short_names: &["hpa"],
        categories: &["all"],
        status_subresource: true,
        columns: &[
            col("Reference", "string", "@hpa-reference"),
            col("Targets", "string", "@hpa-targets"),
            col("MinPods", "integer", ".spec.minReplicas"),
            col("MaxPods", "integer", ".spec.maxReplicas"),
            col("Replicas", "integer", ".status.currentReplicas"),
            AGE,
        ],
        ..rt(
            "autoscaling",
            &["v2"],
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            "horizontalpodautoscaler",
            true,
            Addon::Core,
        )
    },
    ResourceType {
        create_only: true,
        columns: &[],
        ..rt(
            "authorization.k8s.io",
            &["v1"],
            "SelfSubjectAccessReview",
            "selfsubjectaccessreviews",
            "",
            false,
            Addon::Core,
        )
    },
    ResourceType {
        create_only: true,
        columns: &[],
        ..rt(
            "authentication.k8s.io",
            &["v1"],
            "SelfSubjectReview",
            "selfsubjectreviews",
            "",
            false,
            Addon::Core,
        )
    },
    ResourceType {
        short_names: &["ro"],
        status_subresource: true,
        scale: Some(ScalePaths {
            spec_replicas: &["spec", "replicas"],
            status_replicas: &["status", "HPAReplicas"],
            label_selector: Some(&["status", "selector"]),
        }),
        columns: &[
            col("Desired", "integer", ".spec.replicas"),
            col("Current", "integer", ".status.replicas"),
            col("Up-to-date", "integer", ".status.updatedReplicas"),
            col("Available", "integer", ".status.availableReplicas"),
            AGE,
        ],
        ..rt(
            "argoproj.io",
            &["v1alpha1"],
            "Rollout",
            "rollouts",
            "rollout",
            true,
            Addon::ArgoRollouts,
        )
    },
    ResourceType {
        short_names: &["ar"],
        columns: &[col("Status", "string", ".status.phase"), AGE],
        ..rt(
            "argoproj.io",
            &["v1alpha1"],
            "AnalysisRun",
            "analysisruns",
            "analysisrun",
            true,
            Addon::ArgoRollouts,
        )
    },
    ResourceType {
        short_names: &["at"],
        ..rt(
            "argoproj.io",
            &["v1alpha1"],
            "AnalysisTemplate",
            "analysistemplates",
            "analysistemplate",
            true,
            Addon::ArgoRollouts,
        )
    },
    ResourceType {
        short_names: &["app", "apps"],
        columns: &[
            col("Sync Status", "string", ".status.sync.status"),
            col("Health Status", "string", ".status.health.status"),
        ],
        ..rt(
            "argoproj.io",
            &["v1alpha1"],
            "Application",
            "applications",
            "application",
            true,
            Addon::ArgoCd,
        )
    },
    ResourceType {
        short_names: &["appproj", "appprojs"],
        ..rt(
            "argoproj.io",
            &["v1alpha1"],
            "AppProject",
            "appprojects",
            "appproject",
            true,
            Addon::ArgoCd,
        )
    },
    ResourceType {
        short_names: &["appset", "appsets"],
        status_subresource: true,
        ..rt(
            "argoproj.io",
            &["v1alpha1"],
            "ApplicationSet",
            "applicationsets",
            "applicationset",
            true,
            Addon::ArgoCd,
        )
    },
    ResourceType {
        short_names: &["ks"],
        status_subresource: true,
        ..rt(
            "kustomize.toolkit.fluxcd.io",
            &["v1"],
            "Kustomization",
            "kustomizations",
            "kustomization",
            true,
            Addon::Flux,
        )
    },
    ResourceType {
        short_names: &["hr"],
        status_subresource: true,
        ..rt(
            "helm.toolkit.fluxcd.io",
            &["v2"],
            "HelmRelease",
            "helmreleases",
            "helmrelease",
            true,
            Addon::Flux,
        )
    },
    ResourceType {
        columns: &[col("Status", "string", ".status.phase"), AGE],
        ..rt(
            "velero.io",
            &["v1"],
            "Backup",
            "backups",
            "backup",
            true,
            Addon::Velero,
        )
    },
    ResourceType {
        columns: &[
            col("Status", "string", ".status.phase"),
            col("Schedule", "string", ".spec.schedule"),
            col("LastBackup", "date", ".status.lastBackup"),
            col("Paused", "boolean", ".spec.paused"),
        ],
        ..rt(
            "velero.io",
            &["v1"],
            "Schedule",
            "schedules",
            "schedule",
            true,
            Addon::Velero,
        )
    },
    ResourceType {
        columns: &[col("Status", "string", ".status.phase"), AGE],
        ..rt(
            "velero.io",
            &["v1"],
            "Restore",
            "restores",
            "restore",
            true,
            Addon::Velero,
        )
    },
    ResourceType {
        short_names: &["bsl"],
        columns: &[
            col("Phase", "string", ".status.phase"),
            col("Last Validated", "date", ".status.lastValidationTime"),
            AGE,
            col("Default", "boolean", ".spec.default"),
        ],
        ..rt(
            "velero.io",
            &["v1"],
            "BackupStorageLocation",
            "backupstoragelocations",
            "backupstoragelocation",
            true,
            Addon::Velero,
        )
    },
    ResourceType {
        short_names: &["dr"],
        categories: &["istio-io", "networking-istio-io"],
        status_subresource: true,
        columns: &[col("Host", "string", ".spec.host"), AGE],
        ..rt(
            "networking.istio.io",
            &["v1", "v1beta1", "v1alpha3"],
            "DestinationRule",
            "destinationrules",
            "destinationrule",
            true,
            Addon::Istio,
        )
    },
    ResourceType {
        short_names: &["vs"],
        categories: &["istio-io", "networking-istio-io"],
        status_subresource: true,
        columns: &[
            col("Gateways", "string", ".spec.gateways"),
            col("Hosts", "string", ".spec.hosts"),
            AGE,
        ],
        ..rt(
            "networking.istio.io",
            &["v1", "v1beta1", "v1alpha3"],
            "VirtualService",
            "virtualservices",
            "virtualservice",
            true,
            Addon::Istio,
        )
    },
    ResourceType {
        short_names: &["so"],
        status_subresource: true,
        columns: &[
            col("ScaleTargetKind", "string", ".status.scaleTargetKind"),
            col("ScaleTargetName", "string", ".spec.scaleTargetRef.name"),
            col("Min", "integer", ".spec.minReplicaCount"),
            col("Max", "integer", ".spec.maxReplicaCount"),
            col("Ready", "string", "@condition-Ready"),
            col("Active", "string", "@condition-Active"),
            col("Paused", "string", "@condition-Paused"),
            AGE,
        ],
        ..rt(
            "keda.sh",
            &["v1alpha1"],
            "ScaledObject",
            "scaledobjects",
            "scaledobject",
            true,
            Addon::Keda,
        )
    },
    ResourceType {
        short_names: &["vpa"],
        status_subresource: true,
        columns: &[
            col("Mode", "string", ".spec.updatePolicy.updateMode"),
            col("Provided", "string", "@condition-RecommendationProvided"),
            AGE,
        ],
        ..rt(
            "autoscaling.k8s.io",
            &["v1"],
            "VerticalPodAutoscaler",
            "verticalpodautoscalers",
            "verticalpodautoscaler",
            true,
            Addon::Vpa,
        )
    },
];

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
