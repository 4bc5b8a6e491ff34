//! Argo CD's AppProject (only its sync windows) and ApplicationSet (generator kinds, strategy
//! and conditions), as the Drift pane keeps them; see [`super::argocd`] for Applications.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::argocd::{GROUP, VERSION, text, texts};
use crate::k8s::apps::{Condition, lenient};
use crate::tolerant_crd;

// ---------------------------------------------------------------------------------------------
// AppProject
// ---------------------------------------------------------------------------------------------

tolerant_crd!(
    /// `argoproj.io/v1alpha1` AppProject: only its sync windows.
    AppProject,
    AppProjectSpec,
    crate::k8s::crd::NoStatus,
    GROUP,
    VERSION,
    "AppProject",
    "appprojects",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AppProjectSpec {
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub sync_windows: Vec<SyncWindow>,
}

/// One sync window of a project (`spec.syncWindows[]`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase", default)]
pub struct SyncWindow {
    /// `allow` or `deny`.
    #[serde(deserialize_with = "text")]
    pub kind: String,
    /// Cron schedule of the window's start (five fields).
    #[serde(deserialize_with = "text")]
    pub schedule: String,
    /// How long it stays open (a Go duration).
    #[serde(deserialize_with = "text")]
    pub duration: String,
    #[serde(deserialize_with = "texts")]
    pub applications: Vec<String>,
    #[serde(deserialize_with = "texts")]
    pub namespaces: Vec<String>,
    #[serde(deserialize_with = "texts")]
    pub clusters: Vec<String>,
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub manual_sync: bool,
    #[serde(deserialize_with = "text")]
    pub time_zone: String,
    #[serde(rename = "andOperator", deserialize_with = "lenient::bool_or_false")]
    pub and_operator: bool,
    #[serde(deserialize_with = "text")]
    pub description: String,
}

// ---------------------------------------------------------------------------------------------
// ApplicationSet
// ---------------------------------------------------------------------------------------------

tolerant_crd!(
    /// `argoproj.io/v1alpha1` ApplicationSet: generator kinds, strategy and conditions.
    ApplicationSet,
    ApplicationSetSpec,
    ApplicationSetStatus,
    GROUP,
    VERSION,
    "ApplicationSet",
    "applicationsets",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ApplicationSetSpec {
    /// Each generator's kind (`list`, `clusters`, `git`, `merge[clusters, list]` …).
    #[serde(deserialize_with = "generator_kinds")]
    pub generators: Vec<String>,
    /// `RollingSync` (progressive sync) or empty.
    #[serde(deserialize_with = "strategy_type")]
    pub strategy: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ApplicationSetStatus {
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub conditions: Vec<Condition>,
}

/// A generator's kind: its key (other than a post-selector), with nested generators of
/// `matrix`/`merge` in brackets.
fn generator_kind(g: &Value) -> Option<String> {
    let obj = g.as_object()?;
    let (kind, body) = obj.iter().find(|(k, _)| k.as_str() != "selector")?;
    let nested: Vec<String> = body
        .get("generators")
        .and_then(Value::as_array)
        .map(|gs| gs.iter().filter_map(generator_kind).collect())
        .unwrap_or_default();
    Some(if nested.is_empty() {
        kind.clone()
    } else {
        format!("{kind}[{}]", nested.join(", "))
    })
}

fn generator_kinds<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(gs) => gs.iter().filter_map(generator_kind).collect(),
        _ => Vec::new(),
    })
}

fn strategy_type<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(v.get("type")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| v.get("rollingSync").map(|_| "RollingSync".to_string()))
        .unwrap_or_default())
}

/// Argo CD's health of an ApplicationSet from its conditions (its `health.lua`): an error or
/// resources not up to date are Degraded, a progressive rollout is Progressing, resources up
/// to date are Healthy; without conditions it waits for the status.
#[must_use]
pub fn application_set_health(set: &ApplicationSet) -> (&'static str, String) {
    let conditions = set
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let find = |t: &str, status: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == t && c.status == status)
    };
    let msg = |c: &Condition| c.message.clone().unwrap_or_default();
    if let Some(c) = find("ErrorOccurred", "True").or_else(|| find("ResourcesUpToDate", "False")) {
        return ("Degraded", msg(c));
    }
    if let Some(c) = find("RolloutProgressing", "True") {
        return ("Progressing", msg(c));
    }
    if let Some(c) = find("ResourcesUpToDate", "True") {
        return ("Healthy", msg(c));
    }
    (
        "Progressing",
        "Waiting for the status to be reported".into(),
    )
}
