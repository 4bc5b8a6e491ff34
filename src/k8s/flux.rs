//! Flux kinds as kdeck keeps them: Kustomization (`kustomize.toolkit.fluxcd.io/v1`) and
//! HelmRelease (`helm.toolkit.fluxcd.io/v2`), with what the Drift pane shows: the Ready
//! condition, the last applied vs last attempted revision, suspension, and the reconcile
//! request the controller last handled. Forgiving like every custom resource here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::k8s::apps::{Condition, annotation, find_condition, lenient};
use crate::k8s::argocd::text;
use crate::tolerant_crd;

/// API group of Kustomizations.
pub const KUSTOMIZE_GROUP: &str = "kustomize.toolkit.fluxcd.io";
/// API group of HelmReleases.
pub const HELM_GROUP: &str = "helm.toolkit.fluxcd.io";
/// Asks a Flux controller to reconcile now; any new value does (`apis/meta` in fluxcd/pkg).
pub const RECONCILE_REQUEST_ANNOTATION: &str = "reconcile.fluxcd.io/requestedAt";
/// Annotations of a Flux object worth keeping: the last reconcile request.
pub const FLUX_KEEP_ANNOTATIONS: &[&str] = &[RECONCILE_REQUEST_ANNOTATION];

tolerant_crd!(
    /// `kustomize.toolkit.fluxcd.io/v1` Kustomization, slim.
    Kustomization,
    KustomizationSpec,
    FluxStatus,
    KUSTOMIZE_GROUP,
    "v1",
    "Kustomization",
    "kustomizations",
    NamespaceResourceScope
);

tolerant_crd!(
    /// `helm.toolkit.fluxcd.io/v2` HelmRelease, slim.
    HelmRelease,
    HelmReleaseSpec,
    FluxStatus,
    HELM_GROUP,
    "v2",
    "HelmRelease",
    "helmreleases",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SourceRef {
    #[serde(deserialize_with = "text")]
    pub kind: String,
    #[serde(deserialize_with = "text")]
    pub name: String,
    #[serde(deserialize_with = "text")]
    pub namespace: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KustomizationSpec {
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub suspend: bool,
    #[serde(deserialize_with = "text")]
    pub path: String,
    pub source_ref: Option<SourceRef>,
    #[serde(deserialize_with = "text")]
    pub target_namespace: String,
    #[serde(deserialize_with = "text")]
    pub interval: String,
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub prune: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HelmReleaseSpec {
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub suspend: bool,
    #[serde(deserialize_with = "chart_name")]
    pub chart: String,
    pub chart_ref: Option<SourceRef>,
    #[serde(deserialize_with = "text")]
    pub release_name: String,
    #[serde(deserialize_with = "text")]
    pub target_namespace: String,
    #[serde(deserialize_with = "text")]
    pub interval: String,
}

/// `chart.spec.chart` (and its version constraint), read through the template wrapper.
fn chart_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    let spec = v.get("spec").unwrap_or(&Value::Null);
    let name = spec
        .get("chart")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok(match spec.get("version").and_then(Value::as_str) {
        Some(version) if !name.is_empty() => format!("{name}@{version}"),
        _ => name.to_string(),
    })
}

/// The status both kinds share (fields one kind lacks stay empty).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FluxStatus {
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub conditions: Vec<Condition>,
    /// Kustomization (and HelmRelease before v2): the revision last applied successfully.
    #[serde(deserialize_with = "text")]
    pub last_applied_revision: String,
    /// The revision last tried; differs from the applied one while it cannot be applied.
    #[serde(deserialize_with = "text")]
    pub last_attempted_revision: String,
    /// The `reconcile.fluxcd.io/requestedAt` value the controller last acted on.
    #[serde(deserialize_with = "text")]
    pub last_handled_reconcile_at: String,
    /// HelmRelease v2: releases, newest first.
    #[serde(deserialize_with = "helm_history")]
    pub history: Vec<HelmSnapshot>,
    /// Objects the controller applied (`status.inventory.entries`), counted.
    #[serde(deserialize_with = "inventory_count")]
    pub inventory: Option<usize>,
}

/// One Helm release of a HelmRelease's history.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct HelmSnapshot {
    #[serde(deserialize_with = "text")]
    pub chart_name: String,
    #[serde(deserialize_with = "text")]
    pub chart_version: String,
    #[serde(deserialize_with = "text")]
    pub app_version: String,
    /// `deployed`, `superseded`, `failed` …
    #[serde(deserialize_with = "text")]
    pub status: String,
    #[serde(deserialize_with = "lenient::opt_int")]
    pub version: Option<i32>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub last_deployed: Option<DateTime<Utc>>,
}

/// Helm snapshots; a Kustomization's history (digests) reads as none.
fn helm_history<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<HelmSnapshot>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter(|i| i.get("chartVersion").is_some())
            .filter_map(|i| serde_json::from_value(i).ok())
            .collect(),
        _ => Vec::new(),
    })
}

fn inventory_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(v.get("entries").and_then(Value::as_array).map(Vec::len))
}

/// What the Drift pane reads of either kind.
#[derive(Debug, Clone, Copy)]
pub struct FluxView<'a> {
    pub kind: &'static str,
    pub meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    pub suspended: bool,
    pub status: Option<&'a FluxStatus>,
    pub malformed: Option<&'a str>,
    /// Where it deploys: the target namespace, else its own.
    pub target_namespace: &'a str,
    /// `GitRepository/flux-system ./apps` or `podinfo@6.5.*`.
    pub source: &'a str,
}

impl<'a> FluxView<'a> {
    #[must_use]
    pub fn of_kustomization(k: &'a Kustomization) -> Self {
        Self {
            kind: "Kustomization",
            meta: &k.metadata,
            suspended: k.spec.suspend,
            status: k.status.as_ref(),
            malformed: k.malformed.as_deref(),
            target_namespace: &k.spec.target_namespace,
            source: &k.spec.path,
        }
    }

    #[must_use]
    pub fn of_helm_release(h: &'a HelmRelease) -> Self {
        Self {
            kind: "HelmRelease",
            meta: &h.metadata,
            suspended: h.spec.suspend,
            status: h.status.as_ref(),
            malformed: h.malformed.as_deref(),
            target_namespace: &h.spec.target_namespace,
            source: &h.spec.chart,
        }
    }

    #[must_use]
    pub fn condition(&self, type_: &str) -> Option<&'a Condition> {
        self.status
            .and_then(|s| find_condition(&s.conditions, type_))
    }

    /// The revision last applied: `lastAppliedRevision`, else (HelmRelease v2) the newest
    /// deployed release's chart version.
    #[must_use]
    pub fn applied(&self) -> &'a str {
        let Some(s) = self.status else { return "" };
        if !s.last_applied_revision.is_empty() {
            return &s.last_applied_revision;
        }
        s.history
            .iter()
            .find(|h| h.status == "deployed")
            .map_or("", |h| h.chart_version.as_str())
    }

    #[must_use]
    pub fn attempted(&self) -> &'a str {
        self.status
            .map_or("", |s| s.last_attempted_revision.as_str())
    }

    /// A reconcile request the controller has not handled yet.
    #[must_use]
    pub fn reconcile_pending(&self) -> Option<&'a str> {
        let requested = annotation(self.meta, RECONCILE_REQUEST_ANNOTATION)?;
        let handled = self
            .status
            .map_or("", |s| s.last_handled_reconcile_at.as_str());
        (requested != handled).then_some(requested)
    }
}
