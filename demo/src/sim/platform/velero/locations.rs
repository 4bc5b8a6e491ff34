//! The backup storage location controller: revalidates each location every
//! `validationFrequency` (simulated), moving `lastValidationTime` (and `lastSyncedTime` for an
//! available one, as the backup sync does); an Unavailable location keeps its error message.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::plan::VELERO_NS;
use crate::ClusterState;
use crate::api::store::WatchEvent;
use crate::sim::clock;
use crate::sim::controller::{Key, Queue, Reconciler};
use crate::sim::fields;
use crate::sim::kinds::kinds;
use crate::sim::pace::Pace;

fn sync(state: &ClusterState, name: &str, now: DateTime<Utc>) -> Option<Duration> {
    let k = kinds();
    let pace = Pace::new(state.options.speed);
    let l = state.store.get_value(k.bsl, VELERO_NS, name)?;
    let every =
        clock::parse_go_duration(fields::str_at(&l, "/spec/validationFrequency")).unwrap_or(60.0);
    let last = clock::at(&l, "/status/lastValidationTime");
    let due = last.map_or(now, |t| clock::plus_real(t, pace.secs(every)));
    if due > now {
        return Some(clock::until(due));
    }
    state.store.modify(k.bsl, VELERO_NS, name, |v| {
        let now_s = clock::fmt(now);
        if v["status"]["phase"].as_str().is_none() {
            v["status"]["phase"] = json!("Available");
        }
        v["status"]["lastValidationTime"] = json!(now_s);
        if v["status"]["phase"] == "Available" {
            v["status"]["lastSyncedTime"] = json!(now_s);
        }
    });
    Some(pace.secs(every))
}

/// The location controller as a [`Reconciler`].
#[derive(Debug, Default)]
pub struct LocationController;

impl Reconciler for LocationController {
    fn resync(&mut self, state: &ClusterState, queue: &mut Queue) {
        queue.push_all(state, kinds().bsl, Some(VELERO_NS));
    }

    fn on_event(&mut self, _state: &ClusterState, ev: &WatchEvent, queue: &mut Queue) {
        let k = kinds();
        if ev.type_id == k.bsl && ev.object.key.ns == VELERO_NS {
            queue.push((k.bsl, ev.object.key.clone()));
        }
    }

    fn reconcile(&mut self, state: &ClusterState, key: &Key) -> Option<Duration> {
        sync(state, &key.1.name, clock::now())
    }
}
