//! Velero's server metrics for the simulated cluster, per schedule: attempt, success, partial
//! failure, failure and validation failure counters, the last successful backup's timestamp
//! and the last backup's status; the number of backups; each storage location's status. They
//! follow the Backup objects' phase changes (so counters only grow, even when old backups are
//! garbage-collected), an hour of history is written at seed time by replaying the seeded
//! backups, and the alerting rules read them.

use std::collections::HashMap;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::Value;

use super::plan::{SCHEDULE_LABEL, VELERO_NS};
use crate::ClusterState;
use crate::api::store::{EventType, WatchEvent};
use crate::prom::AlertRule;
use crate::sim::clock;
use crate::sim::fields;
use crate::sim::kinds::kinds;
use crate::sim::scrape::{Exporter, Gauges};
use crate::sim::workloads::hpa_history::{HISTORY_SECS, STEP_SECS};

fn terminal(phase: &str) -> bool {
    matches!(
        phase,
        "Completed" | "PartiallyFailed" | "Failed" | "FailedValidation"
    )
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    attempt: f64,
    success: f64,
    partial: f64,
    failure: f64,
    validation: f64,
}

/// The Velero exporter.
#[derive(Debug, Default)]
pub struct VeleroMetrics {
    /// Last seen phase and schedule of every backup.
    phases: HashMap<String, (String, String)>,
    counters: HashMap<String, Counters>,
    last_success: HashMap<String, f64>,
    /// Schedule → (completion time, succeeded) of its newest finished backup.
    last_finish: HashMap<String, (f64, bool)>,
}

impl VeleroMetrics {
    /// Records a backup's current phase; counts the transitions since it was last seen.
    fn observe(&mut self, g: &mut Gauges, backup: &Value) {
        let name = fields::name(backup).to_string();
        let schedule = fields::label(backup, SCHEDULE_LABEL).to_string();
        let phase = fields::str_at(backup, "/status/phase").to_string();
        let prev = self
            .phases
            .insert(name, (phase.clone(), schedule.clone()))
            .map(|(p, _)| p)
            .unwrap_or_default();
        if prev != phase {
            let c = self.counters.entry(schedule.clone()).or_default();
            let started_before = prev == "InProgress" || terminal(&prev);
            if (phase == "InProgress" || terminal(&phase)) && !started_before {
                c.attempt += 1.0;
            }
            if terminal(&phase) && !terminal(&prev) {
                match phase.as_str() {
                    "Completed" => c.success += 1.0,
                    "PartiallyFailed" => c.partial += 1.0,
                    "Failed" => c.failure += 1.0,
                    _ => c.validation += 1.0,
                }
                let at = clock::at(backup, "/status/completionTimestamp")
                    .map_or(0.0, |t| t.timestamp() as f64);
                if phase == "Completed" {
                    let best = self.last_success.entry(schedule.clone()).or_insert(at);
                    *best = best.max(at);
                }
                if phase != "FailedValidation" {
                    let ok = phase == "Completed";
                    let e = self.last_finish.entry(schedule.clone()).or_insert((at, ok));
                    if at >= e.0 {
                        *e = (at, ok);
                    }
                }
            }
        }
        self.publish(g, &schedule);
    }

    fn forget(&mut self, g: &mut Gauges, name: &str) {
        self.phases.remove(name);
        g.set("velero_backup_total", &[], self.phases.len() as f64);
    }

    fn publish(&self, g: &mut Gauges, schedule: &str) {
        // Manual backups have no schedule; Prometheus treats an empty label as absent.
        let labels: Vec<(&str, &str)> = if schedule.is_empty() {
            vec![]
        } else {
            vec![("schedule", schedule)]
        };
        if let Some(c) = self.counters.get(schedule) {
            g.set("velero_backup_attempt_total", &labels, c.attempt);
            g.set("velero_backup_success_total", &labels, c.success);
            g.set("velero_backup_partial_failure_total", &labels, c.partial);
            g.set("velero_backup_failure_total", &labels, c.failure);
            g.set(
                "velero_backup_validation_failure_total",
                &labels,
                c.validation,
            );
        }
        if let Some(t) = self.last_success.get(schedule) {
            g.set("velero_backup_last_successful_timestamp", &labels, *t);
        }
        if let Some((_, ok)) = self.last_finish.get(schedule) {
            g.set(
                "velero_backup_last_status",
                &labels,
                f64::from(u8::from(*ok)),
            );
        }
        g.set("velero_backup_total", &[], self.phases.len() as f64);
    }
}

fn location_series(g: &mut Gauges, name: &str, l: Option<&Value>) {
    let labels = [("backup_location_name", name)];
    match l {
        Some(l) => {
            let up = fields::str_at(l, "/status/phase") == "Available";
            g.set(
                "velero_backup_location_status_gauge",
                &labels,
                f64::from(u8::from(up)),
            );
        }
        None => g.remove("velero_backup_location_status_gauge", &labels),
    }
}

impl Exporter for VeleroMetrics {
    fn resync(&mut self, state: &ClusterState, g: &mut Gauges) {
        let k = kinds();
        for l in state.store.list(k.bsl, Some(VELERO_NS)).0 {
            location_series(g, &l.key.name, Some(&l.value()));
        }
        let (backups, _) = state.store.list(k.backup, Some(VELERO_NS));
        let live: std::collections::HashSet<&str> =
            backups.iter().map(|b| b.key.name.as_str()).collect();
        let gone: Vec<String> = self
            .phases
            .keys()
            .filter(|n| !live.contains(n.as_str()))
            .cloned()
            .collect();
        for n in gone {
            self.forget(g, &n);
        }
        for b in &backups {
            self.observe(g, &b.value());
        }
        g.set("velero_backup_total", &[], self.phases.len() as f64);
    }

    fn on_event(&mut self, _state: &ClusterState, ev: &WatchEvent, g: &mut Gauges) {
        let k = kinds();
        if ev.object.key.ns != VELERO_NS {
            return;
        }
        if ev.type_id == k.backup {
            if ev.kind == EventType::Deleted {
                self.forget(g, &ev.object.key.name);
            } else {
                self.observe(g, &ev.object.value());
            }
        } else if ev.type_id == k.bsl {
            let v = (ev.kind != EventType::Deleted).then(|| ev.object.value());
            location_series(g, &ev.object.key.name, v.as_ref());
        }
    }
}

/// Writes the past hour by replaying the seeded backups in the order they started and
/// finished, sampling every 15 s; the last sample equals what the exporter serves at start.
pub fn backfill(state: &ClusterState, now: DateTime<Utc>) {
    let k = kinds();
    let mut exporter = VeleroMetrics::default();
    let mut g = Gauges::default();
    for l in state.store.list(k.bsl, Some(VELERO_NS)).0 {
        location_series(&mut g, &l.key.name, Some(&l.value()));
    }
    // Each backup as seen when it started (InProgress) and when it finished.
    let mut steps: Vec<(DateTime<Utc>, Value)> = Vec::new();
    for b in state.store.list(k.backup, Some(VELERO_NS)).0 {
        let v = b.value();
        let started = clock::at(&v, "/status/startTimestamp").unwrap_or(now);
        let mut running = v.clone();
        running["status"]["phase"] = Value::from("InProgress");
        steps.push((started, running));
        if let Some(done) = clock::at(&v, "/status/completionTimestamp") {
            steps.push((done, v));
        }
    }
    steps.sort_by_key(|(t, _)| *t);
    let mut next = 0;
    let mut at = now - ChronoDuration::seconds(HISTORY_SECS);
    loop {
        while next < steps.len() && steps[next].0 <= at {
            exporter.observe(&mut g, &steps[next].1);
            next += 1;
        }
        g.append_to(state, clock::millis(at), true);
        if at >= now {
            break;
        }
        at = (at + ChronoDuration::seconds(STEP_SECS)).min(now);
    }
}

/// The Velero alerting rules (selectors, time(), arithmetic and comparisons only).
#[must_use]
pub fn rules() -> Vec<AlertRule> {
    vec![
        AlertRule::new(
            "VeleroBackupStale",
            "time() - velero_backup_last_successful_timestamp > 90000",
            600,
            "critical",
            "Velero schedule has no recent successful backup.",
            "Schedule {{ $labels.schedule }} last completed a backup more than 25 hours ago.",
        ),
        AlertRule::new(
            "VeleroBackupLastFailed",
            "velero_backup_last_status == 0",
            0,
            "warning",
            "The last Velero backup of a schedule did not succeed.",
            "The newest backup of schedule {{ $labels.schedule }} failed or partially failed.",
        ),
        AlertRule::new(
            "VeleroBackupStorageLocationUnavailable",
            "velero_backup_location_status_gauge == 0",
            300,
            "critical",
            "Velero backup storage location is unavailable.",
            "Backup storage location {{ $labels.backup_location_name }} is unavailable; backups to it fail.",
        ),
    ]
}
