//! Argo CD kinds as kdeck keeps them: Application (with its top-level `operation`),
//! AppProject (only its sync windows) and ApplicationSet (generators and conditions), with
//! only the fields the Drift pane shows or its actions need.
//!
//! Applications are written by controllers of many versions and by hand, so parsing is
//! forgiving: every field may be missing, enums are kept as text, lists may be absent or
//! `null`, and a `spec`, `status` or `operation` that still cannot be read becomes its default
//! with the reason kept in `malformed` (one odd object gives a row that says so).

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::k8s::apps::{Condition, lenient};
use crate::k8s::crd::{join_problems, section};
use crate::slim_resource;

/// API group of every Argo CD kind.
pub const GROUP: &str = "argoproj.io";
/// API version of every Argo CD kind.
pub const VERSION: &str = "v1alpha1";
/// Asks the application controller for a refresh (`normal` or `hard`); it removes it after.
pub const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/refresh";
/// Annotations of an Application worth keeping in the store: a pending refresh request.
pub const APPLICATION_KEEP_ANNOTATIONS: &[&str] = &[REFRESH_ANNOTATION];
/// How many per-resource results of the last operation kdeck keeps (failures first).
pub const MAX_RESULTS_KEPT: usize = 100;

/// Text that a hand-written object may hold as a number or boolean; anything else is empty.
pub(crate) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(lenient::opt_string(d)?.unwrap_or_default())
}

/// A list of strings; non-string elements are dropped rather than failing the object.
pub(crate) fn texts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    })
}

/// Any JSON value; `null` counts as absent.
fn raw<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Ok(Some(Value::deserialize(d)?).filter(|v| !v.is_null()))
}

// ---------------------------------------------------------------------------------------------
// Application
// ---------------------------------------------------------------------------------------------

/// `argoproj.io/v1alpha1` Application, slim.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(from = "AppWire")]
pub struct Application {
    pub metadata: ObjectMeta,
    pub spec: ApplicationSpec,
    /// `None` until the application controller writes a status.
    pub status: Option<ApplicationStatus>,
    /// The requested operation (a sibling of `spec`), as written: present from the moment a
    /// client asks for a sync until the controller finishes it.
    pub operation: Option<Value>,
    /// Why a part could not be read (that part is then left at its default).
    pub malformed: Option<String>,
}
slim_resource!(
    Application,
    GROUP,
    VERSION,
    "Application",
    "applications",
    NamespaceResourceScope
);

#[derive(Deserialize, Default)]
#[serde(default)]
struct AppWire {
    metadata: ObjectMeta,
    spec: Value,
    status: Value,
    operation: Value,
}

impl From<AppWire> for Application {
    fn from(w: AppWire) -> Self {
        let mut problems = Vec::new();
        let spec = section(w.spec, "spec", &mut problems).unwrap_or_default();
        let status = section(w.status, "status", &mut problems);
        let operation = match w.operation {
            Value::Null => None,
            v @ Value::Object(_) => Some(v),
            _ => {
                problems.push("operation: expected an object".into());
                None
            }
        };
        Self {
            metadata: w.metadata,
            spec,
            status,
            operation,
            malformed: join_problems(problems),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApplicationSpec {
    #[serde(deserialize_with = "text")]
    pub project: String,
    pub source: Option<AppSource>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub sources: Vec<AppSource>,
    pub destination: Destination,
    pub sync_policy: Option<SyncPolicy>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct AppSource {
    #[serde(rename = "repoURL", deserialize_with = "text")]
    pub repo_url: String,
    #[serde(deserialize_with = "text")]
    pub path: String,
    #[serde(deserialize_with = "text")]
    pub chart: String,
    #[serde(deserialize_with = "text")]
    pub target_revision: String,
}

/// Where an Application deploys: a cluster (by API server URL or Argo CD cluster name) and a
/// namespace.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq, Hash)]
#[serde(default)]
pub struct Destination {
    #[serde(deserialize_with = "text")]
    pub server: String,
    #[serde(deserialize_with = "text")]
    pub name: String,
    #[serde(deserialize_with = "text")]
    pub namespace: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SyncPolicy {
    /// `automated`, as written (an executor check compares it, and newer Argo CD turns it off
    /// with `enabled: false` while keeping the object).
    #[serde(deserialize_with = "raw")]
    pub automated: Option<Value>,
    #[serde(deserialize_with = "texts")]
    pub sync_options: Vec<String>,
    /// `retry`, as written: a manual sync copies it into the operation.
    #[serde(deserialize_with = "raw")]
    pub retry: Option<Value>,
}

/// Automated sync as Argo CD reads it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AutoSync {
    pub prune: bool,
    pub self_heal: bool,
}

impl Application {
    /// Automated sync, if on (`automated` present and not `enabled: false`).
    #[must_use]
    pub fn auto_sync(&self) -> Option<AutoSync> {
        let a = self.spec.sync_policy.as_ref()?.automated.as_ref()?;
        if !a.is_object() || a.get("enabled") == Some(&Value::Bool(false)) {
            return None;
        }
        Some(AutoSync {
            prune: a.get("prune") == Some(&Value::Bool(true)),
            self_heal: a.get("selfHeal") == Some(&Value::Bool(true)),
        })
    }

    /// The sources it deploys (`spec.sources`, else `spec.source`).
    #[must_use]
    pub fn sources(&self) -> Vec<&AppSource> {
        if self.spec.sources.is_empty() {
            self.spec.source.iter().collect()
        } else {
            self.spec.sources.iter().collect()
        }
    }

    #[must_use]
    pub fn status_or_default(&self) -> std::borrow::Cow<'_, ApplicationStatus> {
        match &self.status {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(ApplicationStatus::default()),
        }
    }

    /// `normal` or `hard` while a refresh request waits for the controller.
    #[must_use]
    pub fn refresh_requested(&self) -> Option<&str> {
        crate::k8s::apps::annotation(&self.metadata, REFRESH_ANNOTATION)
    }

    /// Keeps what the Drift pane reads of `status.resources` and the last operation's
    /// results: what needs a look always, and the count of the rest.
    pub fn trim_status(&mut self) {
        let Some(st) = self.status.as_mut() else {
            return;
        };
        // Synced, healthy resources are only counted: apps may track thousands of them.
        let total = st.resources.len();
        st.resources
            .retain(|r| r.needs_look() || r.is_application());
        st.resources_total = Some(st.resources_total.unwrap_or(total).max(total));
        if let Some(r) = st
            .operation_state
            .as_mut()
            .and_then(|o| o.sync_result.as_mut())
        {
            // Failures and hooks first, then the rest, up to the bound.
            r.resources
                .sort_by_key(|x| (!x.failed(), x.hook_type.is_empty()));
            r.resources.truncate(MAX_RESULTS_KEPT);
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApplicationStatus {
    pub sync: SyncStatus,
    pub health: HealthStatus,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub resources: Vec<ResourceStatus>,
    /// How many entries `status.resources` had before kdeck trimmed it (`None`: untrimmed).
    #[serde(skip)]
    pub resources_total: Option<usize>,
    pub operation_state: Option<OperationState>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub conditions: Vec<Condition>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub history: Vec<HistoryEntry>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub reconciled_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "text")]
    pub source_type: String,
}

impl ApplicationStatus {
    /// Entries of `status.resources` the controller reported (before trimming).
    #[must_use]
    pub fn resource_count(&self) -> usize {
        self.resources_total.unwrap_or(self.resources.len())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SyncStatus {
    /// `Synced`, `OutOfSync` or `Unknown` (empty when never compared).
    #[serde(deserialize_with = "text")]
    pub status: String,
    /// The revision Argo CD last compared against (the target resolved to a commit).
    #[serde(deserialize_with = "text")]
    pub revision: String,
    #[serde(deserialize_with = "texts")]
    pub revisions: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct HealthStatus {
    /// `Healthy`, `Progressing`, `Degraded`, `Suspended`, `Missing` or `Unknown`.
    #[serde(deserialize_with = "text")]
    pub status: String,
    #[serde(deserialize_with = "text")]
    pub message: String,
}

/// One entry of `status.resources`: a resource the app tracks.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct ResourceStatus {
    #[serde(deserialize_with = "text")]
    pub group: String,
    #[serde(deserialize_with = "text")]
    pub version: String,
    #[serde(deserialize_with = "text")]
    pub kind: String,
    #[serde(deserialize_with = "text")]
    pub namespace: String,
    #[serde(deserialize_with = "text")]
    pub name: String,
    /// `Synced`, `OutOfSync` or `Unknown`.
    #[serde(deserialize_with = "text")]
    pub status: String,
    pub health: Option<HealthStatus>,
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub hook: bool,
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub requires_pruning: bool,
    #[serde(deserialize_with = "lenient::opt_int")]
    pub sync_wave: Option<i32>,
}

impl ResourceStatus {
    #[must_use]
    pub fn is_out_of_sync(&self) -> bool {
        self.status == "OutOfSync"
    }

    #[must_use]
    pub fn is_application(&self) -> bool {
        self.group == GROUP && self.kind == "Application"
    }

    /// Out of sync, to prune, or not healthy (a resource without health is fine).
    #[must_use]
    pub fn needs_look(&self) -> bool {
        self.is_out_of_sync()
            || self.requires_pruning
            || self
                .health
                .as_ref()
                .is_some_and(|h| !h.status.is_empty() && h.status != "Healthy")
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OperationState {
    /// The operation this state is about, as written.
    #[serde(deserialize_with = "raw")]
    pub operation: Option<Value>,
    /// `Running`, `Terminating`, `Failed`, `Error` or `Succeeded`.
    #[serde(deserialize_with = "text")]
    pub phase: String,
    #[serde(deserialize_with = "text")]
    pub message: String,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub retry_count: i32,
    pub sync_result: Option<SyncResult>,
}

impl OperationState {
    /// Whether the operation is still in progress (not completed).
    #[must_use]
    pub fn in_progress(&self) -> bool {
        matches!(self.phase.as_str(), "Running" | "Terminating")
    }

    /// `automated` or the user who started it.
    #[must_use]
    pub fn initiated_by(&self) -> String {
        let by = self.operation.as_ref().and_then(|o| o.get("initiatedBy"));
        match by {
            Some(b) if b.get("automated") == Some(&Value::Bool(true)) => "automated sync".into(),
            Some(b) => b
                .get("username")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            None => String::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SyncResult {
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub resources: Vec<ResourceResult>,
    #[serde(deserialize_with = "text")]
    pub revision: String,
    #[serde(deserialize_with = "texts")]
    pub revisions: Vec<String>,
}

/// One resource (or hook) of the last operation, and what happened to it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct ResourceResult {
    #[serde(deserialize_with = "text")]
    pub group: String,
    #[serde(deserialize_with = "text")]
    pub kind: String,
    #[serde(deserialize_with = "text")]
    pub namespace: String,
    #[serde(deserialize_with = "text")]
    pub name: String,
    /// `Synced`, `SyncFailed`, `Pruned`, `PruneSkipped`.
    #[serde(deserialize_with = "text")]
    pub status: String,
    #[serde(deserialize_with = "text")]
    pub message: String,
    /// `PreSync`, `Sync`, `PostSync`, `SyncFail`, `Skip` for hooks.
    #[serde(deserialize_with = "text")]
    pub hook_type: String,
    /// `Running`, `Succeeded`, `Failed`, `Error`, `Terminating`.
    #[serde(deserialize_with = "text")]
    pub hook_phase: String,
    #[serde(deserialize_with = "text")]
    pub sync_phase: String,
}

impl ResourceResult {
    #[must_use]
    pub fn failed(&self) -> bool {
        self.status == "SyncFailed" || matches!(self.hook_phase.as_str(), "Failed" | "Error")
    }
}

/// One past deployment (`status.history[]`): what a rollback can return to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HistoryEntry {
    #[serde(deserialize_with = "lenient::opt_int")]
    pub id: Option<i32>,
    #[serde(deserialize_with = "text")]
    pub revision: String,
    #[serde(deserialize_with = "texts")]
    pub revisions: Vec<String>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub deployed_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub deploy_started_at: Option<DateTime<Utc>>,
    /// The source deployed, as written (a rollback sends it back).
    #[serde(deserialize_with = "raw")]
    pub source: Option<Value>,
    #[serde(deserialize_with = "raw")]
    pub sources: Option<Value>,
    #[serde(deserialize_with = "raw")]
    pub initiated_by: Option<Value>,
}

impl HistoryEntry {
    /// `automated`, a user name, or empty.
    #[must_use]
    pub fn initiated_by(&self) -> String {
        match &self.initiated_by {
            Some(b) if b.get("automated") == Some(&Value::Bool(true)) => "automated".into(),
            Some(b) => b
                .get("username")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            None => String::new(),
        }
    }
}

pub use super::argocd_projects::*;
