//! The kind registry's table (see registry.rs): every kind the simulator knows, in
//! [`super::TypeId`] order, read by discovery, routing, the object store and table printing.

use super::{AGE, Addon, DEPLOY_SCALE, ResourceType, ScalePaths, col, rt};

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
