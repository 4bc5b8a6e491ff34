//! The Velero schedule controller: validates the cron expression (phase Enabled or
//! FailedValidation), and when the cron fires (wall clock, UTC) creates a Backup named
//! `<schedule>-<UTC yyyymmddhhmmss>` from the template and sets `status.lastBackup`. Like
//! Velero it does not catch up missed runs (one backup, then the next fire time), skips a due
//! run while an earlier backup of the schedule is still New or InProgress, honours
//! `spec.paused` and consumes `spec.skipImmediately`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::cron;
use super::plan::{self, SCHEDULE_LABEL, VELERO_NS};
use crate::ClusterState;
use crate::api::store::WatchEvent;
use crate::sim::clock;
use crate::sim::controller::{Key, Queue, Reconciler, key};
use crate::sim::fields;
use crate::sim::kinds::kinds;

/// Whether a backup of `schedule` is still New or InProgress.
fn backup_in_progress(state: &ClusterState, schedule: &str) -> bool {
    let (all, _) = state.store.list(kinds().backup, Some(VELERO_NS));
    all.iter()
        .filter(|b| b.label(SCHEDULE_LABEL) == Some(schedule))
        .any(|b| {
            matches!(
                fields::str_at(&b.value(), "/status/phase"),
                "" | "New" | "InProgress"
            )
        })
}

/// Reconciles one Schedule; returns the wait until its next fire time.
pub fn sync(state: &ClusterState, name: &str, now: DateTime<Utc>) -> Option<Duration> {
    let k = kinds();
    let s = state.store.get_value(k.schedule, VELERO_NS, name)?;
    let expr = fields::str_at(&s, "/spec/schedule").to_string();
    let cron = match cron::parse(&expr) {
        Ok(c) => c,
        Err(e) => {
            state.store.modify(k.schedule, VELERO_NS, name, |v| {
                v["status"]["phase"] = json!("FailedValidation");
                v["status"]["validationErrors"] = json!([format!("invalid schedule: {e}")]);
            });
            return None;
        }
    };
    if fields::str_at(&s, "/status/phase") != "Enabled" {
        state.store.modify(k.schedule, VELERO_NS, name, |v| {
            v["status"]["phase"] = json!("Enabled");
            if let Some(st) = v["status"].as_object_mut() {
                st.remove("validationErrors");
            }
        });
    }
    if fields::bool_at(&s, "/spec/paused") {
        return None;
    }
    let last = [
        clock::at(&s, "/status/lastBackup"),
        clock::at(&s, "/status/lastSkipped"),
        clock::at(&s, "/metadata/creationTimestamp"),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(now);
    let due = cron.next_after(last)?;
    if due > now {
        return Some(clock::until(due));
    }
    if fields::bool_at(&s, "/spec/skipImmediately") {
        state.store.modify(k.schedule, VELERO_NS, name, |v| {
            v["spec"]["skipImmediately"] = json!(false);
            v["status"]["lastSkipped"] = json!(clock::fmt(now));
        });
        return cron.next_after(now).map(clock::until);
    }
    if backup_in_progress(state, name) {
        // Look again shortly: the run happens once the earlier backup has finished.
        return Some(Duration::from_secs(5));
    }
    let backup_name = plan::timestamped_name(name, now);
    let backup = plan::backup_from_schedule(state, &s, &backup_name, now);
    if state.store.insert(k.backup, backup).is_ok() {
        state.store.modify(k.schedule, VELERO_NS, name, |v| {
            v["status"]["lastBackup"] = json!(clock::fmt(now));
        });
    }
    cron.next_after(now).map(clock::until)
}

/// The schedule controller as a [`Reconciler`].
#[derive(Debug, Default)]
pub struct ScheduleController;

impl Reconciler for ScheduleController {
    fn resync(&mut self, state: &ClusterState, queue: &mut Queue) {
        queue.push_all(state, kinds().schedule, Some(VELERO_NS));
    }

    fn on_event(&mut self, _state: &ClusterState, ev: &WatchEvent, queue: &mut Queue) {
        let k = kinds();
        if ev.type_id == k.schedule && ev.object.key.ns == VELERO_NS {
            queue.push((k.schedule, ev.object.key.clone()));
        } else if ev.type_id == k.backup
            && let Some(s) = ev.object.label(SCHEDULE_LABEL)
        {
            // A finished backup may unblock a skipped run.
            queue.push(key(k.schedule, VELERO_NS, s));
        }
    }

    fn reconcile(&mut self, state: &ClusterState, key: &Key) -> Option<Duration> {
        sync(state, &key.1.name, clock::now())
    }
}
