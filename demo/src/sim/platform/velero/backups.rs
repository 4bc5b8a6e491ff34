//! The Velero backup and restore controllers.
//!
//! A Backup (from a schedule or created by a client, "backup now") goes New → InProgress
//! (startTimestamp, expiration from its TTL, progress) → Completed or PartiallyFailed (errors,
//! warnings), or Failed with a `failureReason` when its storage location is unavailable; a
//! missing location is FailedValidation. Durations are simulated seconds. Expired backups are
//! garbage-collected (phase Deleting, then removed). A Restore goes New → InProgress →
//! Completed (three items a second), FailedValidation when its backup cannot be found, or
//! Failed when the backup's storage location is unavailable.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::plan::{self, LOCATION_LABEL, SCHEDULE_LABEL, VELERO_NS};
use crate::ClusterState;
use crate::api::store::WatchEvent;
use crate::sim::clock;
use crate::sim::controller::{Key, Queue, Reconciler};
use crate::sim::fields::{self, fnv64};
use crate::sim::kinds::kinds;
use crate::sim::pace::Pace;

/// Simulated seconds between progress updates of a running backup or restore.
const PROGRESS_SECS: f64 = 5.0;
/// Simulated seconds a backup on a broken location runs before it fails.
const FAIL_AFTER_SECS: f64 = 8.0;
/// Default backup TTL (Velero's `--default-backup-ttl`).
const DEFAULT_TTL_SECS: f64 = 720.0 * 3600.0;

/// The failure reason of a backup whose location is unavailable.
#[must_use]
pub fn location_failure(location: &str) -> String {
    format!(
        "error checking if backup already exists in object storage: rpc error: code = Unknown desc = operation error S3: ListObjectsV2, https response error StatusCode: 403, api error AccessDenied: Access Denied (backup storage location \"{location}\")"
    )
}

/// The failure reason of a restore whose backup is on an unavailable location.
#[must_use]
pub fn restore_location_failure(location: &str) -> String {
    format!(
        "error downloading backup: rpc error: code = Unknown desc = operation error S3: GetObject, https response error StatusCode: 403, api error AccessDenied: Access Denied (backup storage location \"{location}\")"
    )
}

/// Finishes a backup's `status` at `at`: the outcome's phase and counts with all `items`
/// backed up, or, when `failed_location` names its unavailable location, Failed with nothing
/// backed up. Seeding and the controller finish backups alike.
pub fn finish_status(
    st: &mut Value,
    at: DateTime<Utc>,
    out: &plan::Outcome,
    items: i64,
    failed_location: Option<&str>,
) {
    st["completionTimestamp"] = json!(clock::fmt(at));
    match failed_location {
        None => {
            st["phase"] = json!(out.phase);
            st["progress"]["itemsBackedUp"] = json!(items);
            if out.errors > 0 {
                st["errors"] = json!(out.errors);
            }
            if out.warnings > 0 {
                st["warnings"] = json!(out.warnings);
            }
        }
        Some(location) => {
            st["phase"] = json!("Failed");
            st["failureReason"] = json!(location_failure(location));
            st["progress"]["itemsBackedUp"] = json!(0);
            st["errors"] = json!(1);
        }
    }
}

/// The location a backup writes to: its own, or the default one.
fn location_of(state: &ClusterState, backup: &Value) -> Option<Value> {
    let k = kinds();
    match fields::str_at(backup, "/spec/storageLocation") {
        "" => state
            .store
            .list(k.bsl, Some(VELERO_NS))
            .0
            .iter()
            .map(|l| l.value())
            .find(|l| fields::bool_at(l, "/spec/default")),
        name => state.store.get_value(k.bsl, VELERO_NS, name),
    }
}

fn sync_backup(state: &ClusterState, name: &str, now: DateTime<Utc>) -> Option<Duration> {
    let k = kinds();
    let pace = Pace::new(state.options.speed);
    let b = state.store.get_value(k.backup, VELERO_NS, name)?;
    let phase = fields::str_at(&b, "/status/phase").to_string();
    let schedule = fields::label(&b, SCHEDULE_LABEL).to_string();
    match phase.as_str() {
        "" | "New" => {
            let Some(loc) = location_of(state, &b) else {
                let wanted = fields::str_at(&b, "/spec/storageLocation").to_string();
                state.store.modify(k.backup, VELERO_NS, name, |v| {
                    v["status"]["phase"] = json!("FailedValidation");
                    v["status"]["validationErrors"] = json!([format!(
                        "an existing backup storage location wasn't specified at backup creation time and the default '{}' wasn't found. Please address this issue (see `velero backup-location -h` for options) and create a new backup. Error: backupstoragelocations.velero.io \"{}\" not found",
                        if wanted.is_empty() { "default" } else { &wanted },
                        if wanted.is_empty() { "default" } else { &wanted },
                    )]);
                    v["status"]["version"] = json!(1);
                });
                return None;
            };
            let ttl = clock::parse_go_duration(fields::str_at(&b, "/spec/ttl"))
                .unwrap_or(DEFAULT_TTL_SECS);
            let items = plan::outcome(state, name, &schedule).items;
            let loc_name = fields::name(&loc).to_string();
            state.store.modify(k.backup, VELERO_NS, name, |v| {
                v["metadata"]["labels"][LOCATION_LABEL] = json!(loc_name);
                if v["spec"]["storageLocation"]
                    .as_str()
                    .is_none_or(str::is_empty)
                {
                    v["spec"]["storageLocation"] = json!(loc_name);
                }
                v["status"] = json!({
                    "version": 1,
                    "formatVersion": "1.1.0",
                    "phase": "InProgress",
                    "startTimestamp": clock::fmt(now),
                    "expiration": clock::fmt(clock::plus(now, ttl)),
                    "progress": { "totalItems": items, "itemsBackedUp": 0 },
                });
            });
            Some(pace.secs(PROGRESS_SECS))
        }
        "InProgress" => {
            let started = clock::at(&b, "/status/startTimestamp").unwrap_or(now);
            let available = location_of(state, &b)
                .is_some_and(|l| fields::str_at(&l, "/status/phase") != "Unavailable");
            let out = plan::outcome(state, name, &schedule);
            let secs = if available {
                out.duration_secs
            } else {
                FAIL_AFTER_SECS
            };
            let done_at = clock::plus_real(started, pace.secs(secs));
            let total = fields::i64_at(&b, "/status/progress/totalItems", out.items);
            if done_at > now {
                let frac = progress(started, now, done_at, pace.secs(PROGRESS_SECS));
                let backed_up = ((total as f64) * frac) as i64;
                state.store.modify(k.backup, VELERO_NS, name, |v| {
                    v["status"]["progress"]["itemsBackedUp"] = json!(backed_up);
                });
                return Some(clock::until(done_at).min(pace.secs(PROGRESS_SECS)));
            }
            let loc = fields::str_at(&b, "/spec/storageLocation").to_string();
            let failed_location = (!available).then_some(loc.as_str());
            state.store.modify(k.backup, VELERO_NS, name, |v| {
                finish_status(&mut v["status"], now, &out, total, failed_location);
            });
            expiry_wait(&b, now)
        }
        "Completed" | "PartiallyFailed" | "Failed" | "FailedValidation" => {
            let expires = clock::at(&b, "/status/expiration")?;
            if expires > now {
                return Some(clock::until(expires));
            }
            state.store.modify(k.backup, VELERO_NS, name, |v| {
                v["status"]["phase"] = json!("Deleting")
            });
            Some(pace.secs(2.0))
        }
        "Deleting" => {
            let _ = state.store.delete(k.backup, VELERO_NS, name, false);
            None
        }
        _ => None,
    }
}

/// Share of the work done, moving in whole progress intervals so that reconciling again
/// within one interval writes nothing (and so triggers nothing).
fn progress(
    started: DateTime<Utc>,
    now: DateTime<Utc>,
    done_at: DateTime<Utc>,
    step: Duration,
) -> f64 {
    let step = step.as_secs_f64().max(0.001);
    let elapsed = (clock::secs_between(started, now) / step).floor() * step;
    (elapsed / clock::secs_between(started, done_at).max(0.001)).clamp(0.0, 0.95)
}

fn expiry_wait(b: &Value, now: DateTime<Utc>) -> Option<Duration> {
    let expires = clock::at(b, "/status/expiration")?;
    Some(if expires > now {
        clock::until(expires)
    } else {
        Duration::ZERO
    })
}

/// Simulated seconds a restore of `items` items runs (three a second), stable per name.
fn restore_secs(name: &str, items: i64) -> f64 {
    20.0 + items.max(0) as f64 / 3.0 + (fnv64(name.as_bytes()) % 10) as f64
}

fn sync_restore(state: &ClusterState, name: &str, now: DateTime<Utc>) -> Option<Duration> {
    let k = kinds();
    let pace = Pace::new(state.options.speed);
    let r = state.store.get_value(k.restore, VELERO_NS, name)?;
    match fields::str_at(&r, "/status/phase") {
        "" | "New" => {
            let backup_name = fields::str_at(&r, "/spec/backupName").to_string();
            let schedule = fields::str_at(&r, "/spec/scheduleName").to_string();
            let backup = if backup_name.is_empty() {
                latest_successful(state, &schedule)
            } else {
                state.store.get_value(k.backup, VELERO_NS, &backup_name)
            };
            let Some(backup) = backup.filter(|b| {
                matches!(
                    fields::str_at(b, "/status/phase"),
                    "Completed" | "PartiallyFailed"
                )
            }) else {
                let message = if backup_name.is_empty() {
                    format!("No backups found for schedule {schedule:?}")
                } else {
                    format!("Error retrieving backup: backups.velero.io {backup_name:?} not found")
                };
                state.store.modify(k.restore, VELERO_NS, name, |v| {
                    v["status"]["phase"] = json!("FailedValidation");
                    v["status"]["validationErrors"] = json!([message]);
                });
                return None;
            };
            if let Some(loc) = location_of(state, &backup)
                .filter(|l| fields::str_at(l, "/status/phase") == "Unavailable")
            {
                let reason = restore_location_failure(fields::name(&loc));
                state.store.modify(k.restore, VELERO_NS, name, |v| {
                    v["status"] = json!({
                        "phase": "Failed",
                        "startTimestamp": clock::fmt(now),
                        "completionTimestamp": clock::fmt(now),
                        "failureReason": reason,
                        "errors": 1,
                    });
                });
                return None;
            }
            let items = fields::i64_at(&backup, "/status/progress/totalItems", 100);
            state.store.modify(k.restore, VELERO_NS, name, |v| {
                v["status"] = json!({
                    "phase": "InProgress",
                    "startTimestamp": clock::fmt(now),
                    "progress": { "totalItems": items, "itemsRestored": 0 },
                });
            });
            Some(pace.secs(PROGRESS_SECS))
        }
        "InProgress" => {
            let started = clock::at(&r, "/status/startTimestamp").unwrap_or(now);
            let total = fields::i64_at(&r, "/status/progress/totalItems", 100);
            let done_at = clock::plus_real(started, pace.secs(restore_secs(name, total)));
            if done_at > now {
                let frac = progress(started, now, done_at, pace.secs(PROGRESS_SECS));
                state.store.modify(k.restore, VELERO_NS, name, |v| {
                    v["status"]["progress"]["itemsRestored"] =
                        json!(((total as f64) * frac) as i64);
                });
                return Some(clock::until(done_at).min(pace.secs(PROGRESS_SECS)));
            }
            let warnings = (fnv64(name.as_bytes()) % 5) as i64;
            state.store.modify(k.restore, VELERO_NS, name, |v| {
                v["status"]["phase"] = json!("Completed");
                v["status"]["completionTimestamp"] = json!(clock::fmt(now));
                v["status"]["progress"]["itemsRestored"] = json!(total);
                if warnings > 0 {
                    v["status"]["warnings"] = json!(warnings);
                }
            });
            None
        }
        _ => None,
    }
}

/// The newest Completed backup of a schedule.
fn latest_successful(state: &ClusterState, schedule: &str) -> Option<Value> {
    state
        .store
        .list(kinds().backup, Some(VELERO_NS))
        .0
        .iter()
        .filter(|b| b.label(SCHEDULE_LABEL) == Some(schedule))
        .map(|b| b.value())
        .filter(|b| fields::str_at(b, "/status/phase") == "Completed")
        .max_by_key(|b| fields::str_at(b, "/status/completionTimestamp").to_string())
}

/// Backups and restores as one [`Reconciler`].
#[derive(Debug, Default)]
pub struct BackupController;

impl Reconciler for BackupController {
    fn resync(&mut self, state: &ClusterState, queue: &mut Queue) {
        let k = kinds();
        for t in [k.backup, k.restore] {
            queue.push_all(state, t, Some(VELERO_NS));
        }
    }

    fn on_event(&mut self, _state: &ClusterState, ev: &WatchEvent, queue: &mut Queue) {
        let k = kinds();
        if (ev.type_id == k.backup || ev.type_id == k.restore)
            && ev.object.key.ns == VELERO_NS
            && ev.kind != crate::api::store::EventType::Deleted
        {
            queue.push((ev.type_id, ev.object.key.clone()));
        }
    }

    fn reconcile(&mut self, state: &ClusterState, key: &Key) -> Option<Duration> {
        let now = clock::now();
        if key.0 == kinds().backup {
            sync_backup(state, &key.1.name, now)
        } else {
            sync_restore(state, &key.1.name, now)
        }
    }
}
