//! Velero kinds as kdeck keeps them (`velero.io/v1`): Schedule, Backup, Restore and
//! BackupStorageLocation, with only the fields the Backups pane shows. A cluster may hold
//! thousands of Backups, so a Backup keeps its phase, times, counters and a few spec fields,
//! and only Velero's own labels. Phases are kept as text and classified, so a phase a newer
//! Velero adds reads as "unknown" instead of breaking the watch; a `spec` or `status` that
//! cannot be read becomes its default with the reason in `malformed`.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::k8s::apps::lenient;
use crate::tolerant_crd;

/// API group of every Velero kind.
pub const GROUP: &str = "velero.io";
/// API version of every Velero kind kdeck reads.
pub const VERSION: &str = "v1";
/// Label linking a Backup to the Schedule it came from.
pub const SCHEDULE_NAME_LABEL: &str = "velero.io/schedule-name";
/// Label naming a Backup's storage location (set by the Velero server).
pub const STORAGE_LOCATION_LABEL: &str = "velero.io/storage-location";

// ---------------------------------------------------------------------------------------------
// Schedule
// ---------------------------------------------------------------------------------------------

tolerant_crd!(
    /// `velero.io/v1` Schedule, slim.
    Schedule,
    ScheduleSpec,
    ScheduleStatus,
    GROUP,
    VERSION,
    "Schedule",
    "schedules",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ScheduleSpec {
    /// The cron expression (`0 * * * *`, `@every 6h`).
    #[serde(deserialize_with = "lenient::opt_string")]
    pub schedule: Option<String>,
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub paused: bool,
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub use_owner_references_in_backup: bool,
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub skip_immediately: bool,
    /// The spec of every Backup the schedule creates (shown in the detail view; backup-now
    /// builds from the live object, never from this copy).
    pub template: BackupSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ScheduleStatus {
    /// New, Enabled or FailedValidation.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub phase: Option<String>,
    /// When the controller last *created* a Backup (not when one succeeded).
    #[serde(deserialize_with = "lenient::opt_time")]
    pub last_backup: Option<DateTime<Utc>>,
    /// When a due run was last skipped (`skipImmediately`).
    #[serde(deserialize_with = "lenient::opt_time")]
    pub last_skipped: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub validation_errors: Vec<String>,
}

impl Schedule {
    /// The cron expression, empty when unset.
    #[must_use]
    pub fn cron(&self) -> &str {
        self.spec.schedule.as_deref().unwrap_or_default()
    }

    #[must_use]
    pub fn phase(&self) -> &str {
        self.status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .unwrap_or_default()
    }
}

/// What a Backup (or a Schedule's template) is asked to do: the fields the detail view shows.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BackupSpec {
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub included_namespaces: Vec<String>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub excluded_namespaces: Vec<String>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub included_resources: Vec<String>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub excluded_resources: Vec<String>,
    /// `None`: Velero decides from the namespace filters.
    pub include_cluster_resources: Option<bool>,
    /// Empty: the default location.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub storage_location: Option<String>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub volume_snapshot_locations: Vec<String>,
    /// A Go duration (`720h0m0s`); `None`: the server's default (30 days).
    #[serde(deserialize_with = "lenient::opt_string")]
    pub ttl: Option<String>,
    /// `None`: snapshots are taken when a volume snapshot provider is configured.
    pub snapshot_volumes: Option<bool>,
    pub default_volumes_to_fs_backup: Option<bool>,
    pub snapshot_move_data: Option<bool>,
    /// Whether a label selector narrows what is backed up.
    #[serde(deserialize_with = "present")]
    pub label_selector: bool,
    pub hooks: Hooks,
}

/// A field that is there and not null.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(!Value::deserialize(d)?.is_null())
}

/// Backup hooks: their names and how many commands run before and after.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Hooks {
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub resources: Vec<HookResource>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HookResource {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "count")]
    pub pre: usize,
    #[serde(deserialize_with = "count")]
    pub post: usize,
}

/// The length of a list; anything else counts as none.
fn count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(a) => a.len(),
        _ => 0,
    })
}

// ---------------------------------------------------------------------------------------------
// Backup
// ---------------------------------------------------------------------------------------------

tolerant_crd!(
    /// `velero.io/v1` Backup, slim.
    Backup,
    BackupSpec,
    BackupStatus,
    GROUP,
    VERSION,
    "Backup",
    "backups",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BackupStatus {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub phase: Option<String>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub start_timestamp: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub completion_timestamp: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub expiration: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub errors: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub warnings: i32,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub failure_reason: Option<String>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub validation_errors: Vec<String>,
    pub progress: Progress,
    pub hook_status: HookStatus,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub volume_snapshots_attempted: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub volume_snapshots_completed: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub csi_volume_snapshots_attempted: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub csi_volume_snapshots_completed: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub backup_item_operations_attempted: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub backup_item_operations_completed: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub backup_item_operations_failed: i32,
    /// Place in the queue of a Queued backup (Velero 1.17+).
    #[serde(deserialize_with = "lenient::opt_int")]
    pub queue_position: Option<i32>,
}

/// Items done of items found (`itemsBackedUp` for a Backup, `itemsRestored` for a Restore).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct Progress {
    #[serde(deserialize_with = "lenient::opt_int")]
    pub total_items: Option<i32>,
    #[serde(deserialize_with = "lenient::opt_int", alias = "itemsRestored")]
    pub items_backed_up: Option<i32>,
}

impl Progress {
    /// `612/612`, or `None` before the first count.
    #[must_use]
    pub fn text(&self) -> Option<String> {
        let total = self.total_items?;
        Some(format!("{}/{total}", self.items_backed_up.unwrap_or(0)))
    }

    /// Done, in percent of the items found.
    #[must_use]
    pub fn percent(&self) -> Option<i32> {
        let total = self.total_items.filter(|t| *t > 0)?;
        Some((i64::from(self.items_backed_up.unwrap_or(0)) * 100 / i64::from(total)) as i32)
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct HookStatus {
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub hooks_attempted: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub hooks_failed: i32,
}

/// Where a Backup or Restore stands, from its phase text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RunPhase {
    /// Not started: no phase yet, New, Queued, ReadyToStart.
    Pending,
    /// InProgress, waiting for plugin operations, finalizing.
    Running,
    Completed,
    PartiallyFailed,
    Failed,
    FailedValidation,
    Deleting,
    /// A phase this version of kdeck does not know.
    Unknown,
}

impl RunPhase {
    #[must_use]
    pub fn of(phase: Option<&str>) -> Self {
        match phase.unwrap_or_default() {
            "" | "New" | "Queued" | "ReadyToStart" => Self::Pending,
            "InProgress"
            | "WaitingForPluginOperations"
            | "WaitingForPluginOperationsPartiallyFailed"
            | "Finalizing"
            | "FinalizingPartiallyFailed"
            | "FinalizingAfterPluginOperations" => Self::Running,
            "Completed" => Self::Completed,
            "PartiallyFailed" => Self::PartiallyFailed,
            "Failed" => Self::Failed,
            "FailedValidation" => Self::FailedValidation,
            "Deleting" => Self::Deleting,
            _ => Self::Unknown,
        }
    }

    /// Whether the run is over (its outcome will not change).
    #[must_use]
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::PartiallyFailed | Self::Failed | Self::FailedValidation
        )
    }

    /// Whether it is still to come or running.
    #[must_use]
    pub fn is_active(self) -> bool {
        matches!(self, Self::Pending | Self::Running)
    }

    #[must_use]
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::FailedValidation)
    }

    /// A symbol that carries the phase without colour.
    #[must_use]
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Pending => "◌",
            Self::Running => "◐",
            Self::Completed => "●",
            Self::PartiallyFailed => "▲",
            Self::Failed | Self::FailedValidation => "✖",
            Self::Deleting => "–",
            Self::Unknown => "?",
        }
    }
}

impl Backup {
    #[must_use]
    pub fn status_or_default(&self) -> std::borrow::Cow<'_, BackupStatus> {
        match &self.status {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(BackupStatus::default()),
        }
    }

    /// The phase text (`New` when the server has not written one yet).
    #[must_use]
    pub fn phase_text(&self) -> &str {
        match self.status.as_ref().and_then(|s| s.phase.as_deref()) {
            None | Some("") => "New",
            Some(p) => p,
        }
    }

    #[must_use]
    pub fn run_phase(&self) -> RunPhase {
        RunPhase::of(self.status.as_ref().and_then(|s| s.phase.as_deref()))
    }

    /// The Schedule it came from (`velero.io/schedule-name`), if any.
    #[must_use]
    pub fn schedule(&self) -> Option<&str> {
        label(&self.metadata, SCHEDULE_NAME_LABEL)
    }

    /// When it finished, else when it started, else when it was created: the time to order
    /// finished backups by.
    #[must_use]
    pub fn finished_at(&self) -> Option<DateTime<Utc>> {
        let st = self.status.as_ref();
        st.and_then(|s| s.completion_timestamp)
            .or_else(|| st.and_then(|s| s.start_timestamp))
            .or_else(|| crate::k8s::created(&self.metadata))
    }

    /// When it was created (the schedule's fire time for a scheduled backup), else started.
    #[must_use]
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        crate::k8s::created(&self.metadata)
            .or_else(|| self.status.as_ref().and_then(|s| s.start_timestamp))
    }

    /// The location it writes to, as the spec or the server's label says.
    #[must_use]
    pub fn location(&self) -> Option<&str> {
        self.spec
            .storage_location
            .as_deref()
            .filter(|s| !s.is_empty())
            .or_else(|| label(&self.metadata, STORAGE_LOCATION_LABEL))
    }
}

fn label<'a>(
    meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<&'a str> {
    meta.labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

// ---------------------------------------------------------------------------------------------
// Restore
// ---------------------------------------------------------------------------------------------

tolerant_crd!(
    /// `velero.io/v1` Restore, slim.
    Restore,
    RestoreSpec,
    RestoreStatus,
    GROUP,
    VERSION,
    "Restore",
    "restores",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RestoreSpec {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub backup_name: Option<String>,
    /// Restore from this schedule's newest successful backup (when `backupName` is empty).
    #[serde(deserialize_with = "lenient::opt_string")]
    pub schedule_name: Option<String>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub included_namespaces: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RestoreStatus {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub phase: Option<String>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub start_timestamp: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub completion_timestamp: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub errors: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub warnings: i32,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub failure_reason: Option<String>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub validation_errors: Vec<String>,
    pub progress: Progress,
}

impl Restore {
    #[must_use]
    pub fn run_phase(&self) -> RunPhase {
        RunPhase::of(self.status.as_ref().and_then(|s| s.phase.as_deref()))
    }

    #[must_use]
    pub fn phase_text(&self) -> &str {
        match self.status.as_ref().and_then(|s| s.phase.as_deref()) {
            None | Some("") => "New",
            Some(p) => p,
        }
    }

    /// What it restores from: `backup X` or `schedule Y (newest good backup)`.
    #[must_use]
    pub fn source(&self) -> String {
        match (&self.spec.backup_name, &self.spec.schedule_name) {
            (Some(b), _) if !b.is_empty() => b.clone(),
            (_, Some(s)) if !s.is_empty() => format!("newest of {s}"),
            _ => "?".into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// BackupStorageLocation
// ---------------------------------------------------------------------------------------------

tolerant_crd!(
    /// `velero.io/v1` BackupStorageLocation, slim.
    BackupStorageLocation,
    LocationSpec,
    LocationStatus,
    GROUP,
    VERSION,
    "BackupStorageLocation",
    "backupstoragelocations",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LocationSpec {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub provider: Option<String>,
    pub object_storage: ObjectStorage,
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub default: bool,
    /// ReadWrite or ReadOnly.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub access_mode: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectStorage {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub bucket: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub prefix: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LocationStatus {
    /// Available or Unavailable.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub phase: Option<String>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub last_validation_time: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub last_synced_time: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub message: Option<String>,
}

impl BackupStorageLocation {
    #[must_use]
    pub fn phase(&self) -> &str {
        self.status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .unwrap_or_default()
    }

    /// `aws s3 bucket/prefix`-like: where the location writes.
    #[must_use]
    pub fn target(&self) -> String {
        let s = &self.spec;
        let mut out = s.provider.clone().unwrap_or_else(|| "?".into());
        if let Some(b) = &s.object_storage.bucket {
            out.push(' ');
            out.push_str(b);
            if let Some(p) = s.object_storage.prefix.as_deref().filter(|p| !p.is_empty()) {
                out.push('/');
                out.push_str(p);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn phases_are_classified_and_unknown_ones_kept() {
        assert_eq!(RunPhase::of(None), RunPhase::Pending);
        assert_eq!(RunPhase::of(Some("Queued")), RunPhase::Pending);
        assert_eq!(
            RunPhase::of(Some("WaitingForPluginOperationsPartiallyFailed")),
            RunPhase::Running
        );
        assert_eq!(RunPhase::of(Some("Completed")), RunPhase::Completed);
        assert_eq!(RunPhase::of(Some("Exploded")), RunPhase::Unknown);
        assert!(RunPhase::Failed.is_finished() && RunPhase::Failed.is_failure());
    }

    #[test]
    fn odd_fields_do_not_lose_the_object() {
        let b: Backup = serde_json::from_value(json!({
            "metadata": {"name": "b", "namespace": "velero",
                "labels": {"velero.io/schedule-name": "daily"}},
            "spec": {"ttl": 3600, "snapshotVolumes": null, "hooks": {"resources": [
                {"name": "freeze", "pre": [{"exec": {}}, {"exec": {}}], "post": "x"}]}},
            "status": {"phase": 7, "errors": "2", "progress": {"totalItems": 10}}
        }))
        .unwrap();
        assert!(b.malformed.is_none(), "{:?}", b.malformed);
        assert_eq!(b.spec.ttl.as_deref(), Some("3600"));
        assert_eq!(b.spec.hooks.resources[0].pre, 2);
        assert_eq!(b.spec.hooks.resources[0].post, 0);
        assert_eq!(b.run_phase(), RunPhase::Unknown);
        assert_eq!(b.status_or_default().errors, 2);
        assert_eq!(b.schedule(), Some("daily"));
        assert_eq!(
            b.status_or_default().progress.text().as_deref(),
            Some("0/10")
        );
        let bad: Backup = serde_json::from_value(json!({
            "metadata": {"name": "x"}, "spec": ["not", "an", "object"]
        }))
        .unwrap();
        assert!(bad.malformed.unwrap().contains("spec"));
    }

    #[test]
    fn restore_progress_reads_items_restored() {
        let r: Restore = serde_json::from_value(json!({
            "metadata": {"name": "r"},
            "spec": {"scheduleName": "daily"},
            "status": {"phase": "InProgress", "progress": {"totalItems": 8, "itemsRestored": 2}}
        }))
        .unwrap();
        assert_eq!(r.source(), "newest of daily");
        assert_eq!(r.status.unwrap().progress.percent(), Some(25));
    }
}
