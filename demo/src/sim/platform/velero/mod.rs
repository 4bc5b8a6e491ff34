//! Velero (namespace `velero`, only where installed): backup storage locations, schedules,
//! backups and restores, their controllers, and Velero's metrics.
//!
//! Seeded: `default` (Available) and `secondary` (Unavailable) locations; schedules
//! `shop-config-5m` (`*/5 * * * *`), `apps-hourly` (`0 * * * *`, some backups
//! PartiallyFailed), `cluster-daily` (`0 2 * * *`) and `search-offsite-6h` (`30 */6 * * *` on
//! `secondary`: its backups have failed since the location broke, so it is stale); their
//! backups over the past day(s) named `<schedule>-<UTC yyyymmddhhmmss>`; a manual backup; two
//! finished restores, a disaster-recovery drill restore in progress and a restore that failed
//! (its backup is on `secondary`). Also `payments-db-30m` (`*/30 * * * *`): submitted on time,
//! but every run has ended PartiallyFailed for 9 hours, so its last *good* backup is old; and
//! `analytics-nightly` (`0 3 * * *`), paused three days ago, whose backups have expired since.
//! Then schedules fire on the wall clock and backups run, paced by `--speed`.

pub mod backups;
pub mod cron;
pub mod locations;
pub mod metrics;
pub mod plan;
pub mod schedules;

use std::sync::Arc;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use self::plan::{LOCATION_LABEL, SCHEDULES, SECONDARY_BROKEN_HOURS, VELERO_NS};
use crate::ClusterState;
use crate::sim::kinds::kinds;
use crate::sim::workloads::metrics::add_rules;
use crate::sim::{clock, controller, scrape};

/// How far back each schedule's backups are seeded.
fn seeded_window(schedule: &str) -> ChronoDuration {
    match schedule {
        "shop-config-5m" => ChronoDuration::minutes(60),
        "cluster-daily" => ChronoDuration::days(3),
        "search-offsite-6h" => ChronoDuration::hours(48),
        "analytics-nightly" => ChronoDuration::days(7),
        _ => ChronoDuration::hours(24),
    }
}

/// A seeded backup's status: finished (or still running) as its outcome says.
fn seeded_status(
    state: &ClusterState,
    backup: &Value,
    schedule: &str,
    started: DateTime<Utc>,
    location_ok: bool,
    healthy: bool,
    now: DateTime<Utc>,
) -> Value {
    let name = crate::sim::fields::name(backup);
    let mut out = plan::outcome(state, name, schedule);
    if healthy {
        // Before the schedule broke: its runs completed.
        out.phase = "Completed";
        out.errors = 0;
    }
    let speed = state.options.speed.max(0.001);
    let ttl = clock::parse_go_duration(crate::sim::fields::str_at(backup, "/spec/ttl"))
        .unwrap_or(720.0 * 3600.0);
    let secs = if location_ok { out.duration_secs } else { 8.0 };
    let done = clock::plus(started, secs / speed);
    let mut st = json!({
        "version": 1,
        "formatVersion": "1.1.0",
        "startTimestamp": clock::fmt(started),
        "expiration": clock::fmt(clock::plus(started, ttl)),
        "progress": { "totalItems": out.items, "itemsBackedUp": out.items },
    });
    if done > now {
        let frac =
            clock::secs_between(started, now) / clock::secs_between(started, done).max(0.001);
        st["phase"] = json!("InProgress");
        st["progress"]["itemsBackedUp"] = json!((out.items as f64 * frac.clamp(0.0, 0.95)) as i64);
        return st;
    }
    let failed_location = (!location_ok).then_some("secondary");
    backups::finish_status(&mut st, done, &out, out.items, failed_location);
    st
}

/// Seeds locations, schedules with their recent backups, a manual backup, two restores, the
/// metric history and the alert rules.
pub fn seed(state: &ClusterState) {
    let k = kinds();
    let now = clock::now();
    for l in plan::locations(state, now) {
        let _ = state.store.insert(k.bsl, l);
    }
    let broken_since = now - ChronoDuration::hours(SECONDARY_BROKEN_HOURS);
    let mut restorable: Vec<(String, DateTime<Utc>)> = Vec::new();
    for p in SCHEDULES {
        let Ok(cron) = cron::parse(p.cron) else {
            continue;
        };
        let created = now - ChronoDuration::days(60);
        let Ok(schedule) = state
            .store
            .insert(k.schedule, plan::schedule(p, created, None))
        else {
            continue;
        };
        let mut fires = cron.between(now - seeded_window(p.name), now);
        if let Some(h) = p.paused_hours {
            fires.retain(|f| *f < now - ChronoDuration::hours(h));
        }
        for fire in &fires {
            let name = plan::timestamped_name(p.name, *fire);
            let mut b = plan::backup_from_schedule(state, &schedule, &name, *fire);
            b["metadata"]["labels"][LOCATION_LABEL] = json!(p.location);
            let ok = p.location != "secondary" || *fire < broken_since;
            let healthy = p
                .broken_hours
                .is_some_and(|h| *fire < now - ChronoDuration::hours(h));
            b["status"] = seeded_status(
                state,
                &b,
                p.name,
                *fire + ChronoDuration::seconds(1),
                ok,
                healthy,
                now,
            );
            if p.name == "apps-hourly" && b["status"]["phase"] == "Completed" {
                restorable.push((name.clone(), *fire));
            }
            let _ = state.store.insert(k.backup, b);
        }
        if let Some(last) = fires.last() {
            state.store.modify(k.schedule, VELERO_NS, p.name, |v| {
                v["status"]["lastBackup"] = json!(clock::fmt(*last));
            });
        }
    }
    seed_manual_backup(state, now);
    seed_restores(state, &restorable, now);
    seed_disaster_recovery(state, now);
    metrics::backfill(state, now);
    add_rules(state, metrics::rules());
}

fn seed_manual_backup(state: &ClusterState, now: DateTime<Utc>) {
    let k = kinds();
    // Whole minutes, so names do not depend on the second seeding happened in.
    let at = clock::floor_minute(now - ChronoDuration::minutes(317));
    let name = format!("payments-pre-migration-{}", at.format("%Y%m%d%H%M%S"));
    let mut b = json!({
        "metadata": {
            "name": name,
            "namespace": VELERO_NS,
            "labels": { LOCATION_LABEL: "default" },
            "annotations": plan::source_annotations(state),
            "creationTimestamp": clock::fmt(at),
        },
        "spec": {
            "includedNamespaces": ["payments"],
            "storageLocation": "default",
            "ttl": "720h0m0s",
            "snapshotVolumes": true,
            "csiSnapshotTimeout": "10m0s",
            "itemOperationTimeout": "4h0m0s",
            "hooks": {},
            "metadata": {},
        },
    });
    b["status"] = seeded_status(
        state,
        &b,
        "",
        at + ChronoDuration::seconds(1),
        true,
        false,
        now,
    );
    let _ = state.store.insert(k.backup, b);
}

fn seed_restores(state: &ClusterState, restorable: &[(String, DateTime<Utc>)], now: DateTime<Utc>) {
    let k = kinds();
    let picks = [
        (restorable.first(), "Completed", 2, 0),
        (
            restorable.get(restorable.len().saturating_sub(4)),
            "PartiallyFailed",
            3,
            1,
        ),
    ];
    for (i, (pick, phase, warnings, errors)) in picks.into_iter().enumerate() {
        let Some((backup, fired)) = pick else {
            continue;
        };
        let started = (*fired + ChronoDuration::minutes(35 + 20 * i as i64))
            .min(clock::floor_minute(now - ChronoDuration::minutes(5)));
        let name = format!("{backup}-{}", started.format("%Y%m%d%H%M%S"));
        let items = 600 + i as i64 * 7;
        let _ = state.store.insert(k.restore, json!({
            "metadata": { "name": name, "namespace": VELERO_NS, "creationTimestamp": clock::fmt(started) },
            "spec": {
                "backupName": backup,
                "includedNamespaces": [if i == 0 { "payments" } else { "search" }],
                "excludedResources": ["nodes", "events", "events.events.k8s.io", "backups.velero.io", "restores.velero.io", "resticrepositories.velero.io", "csinodes.storage.k8s.io", "volumeattachments.storage.k8s.io", "backuprepositories.velero.io"],
                "restorePVs": true,
                "itemOperationTimeout": "4h0m0s",
                "hooks": {},
            },
            "status": {
                "phase": phase,
                "startTimestamp": clock::fmt(started),
                "completionTimestamp": clock::fmt(started + ChronoDuration::seconds(48 + 11 * i as i64)),
                "progress": { "totalItems": items, "itemsRestored": items - errors },
                "warnings": warnings,
                "errors": errors,
            },
        }));
    }
}

/// The newest Completed backup of `schedule`, as seeded.
fn newest_completed(state: &ClusterState, schedule: &str) -> Option<Value> {
    state
        .store
        .list(kinds().backup, Some(VELERO_NS))
        .0
        .iter()
        .filter(|b| b.label(plan::SCHEDULE_LABEL) == Some(schedule))
        .map(|b| b.value())
        .filter(|b| crate::sim::fields::str_at(b, "/status/phase") == "Completed")
        .max_by_key(|b| crate::sim::fields::str_at(b, "/status/completionTimestamp").to_string())
}

/// A disaster-recovery drill in progress (the whole cluster from last night's backup into
/// mapped namespaces; the restore controller carries it on), and a restore that failed
/// because its backup lives on the broken `secondary` location.
fn seed_disaster_recovery(state: &ClusterState, now: DateTime<Utc>) {
    let k = kinds();
    if let Some(b) = newest_completed(state, "cluster-daily") {
        let started = clock::floor_minute(now - ChronoDuration::minutes(4));
        let backup = crate::sim::fields::name(&b).to_string();
        let total = crate::sim::fields::i64_at(&b, "/status/progress/totalItems", 4000);
        let _ = state.store.insert(
            k.restore,
            json!({
                "metadata": { "name": format!("{backup}-dr-drill"), "namespace": VELERO_NS,
                    "creationTimestamp": clock::fmt(started) },
                "spec": {
                    "backupName": backup,
                    "includedNamespaces": ["payments", "shop"],
                    "namespaceMapping": { "payments": "payments-dr", "shop": "shop-dr" },
                    "restorePVs": true,
                    "itemOperationTimeout": "4h0m0s",
                },
                "status": {
                    "phase": "InProgress",
                    "startTimestamp": clock::fmt(started),
                    "progress": { "totalItems": total, "itemsRestored": total / 9 },
                },
            }),
        );
    }
    if let Some(b) = newest_completed(state, "search-offsite-6h") {
        let started = clock::floor_minute(now - ChronoDuration::minutes(52));
        let backup = crate::sim::fields::name(&b).to_string();
        let _ = state.store.insert(k.restore, json!({
            "metadata": { "name": format!("{backup}-{}", started.format("%Y%m%d%H%M%S")),
                "namespace": VELERO_NS, "creationTimestamp": clock::fmt(started) },
            "spec": { "backupName": backup, "includedNamespaces": ["search"], "restorePVs": true },
            "status": {
                "phase": "Failed",
                "startTimestamp": clock::fmt(started),
                "completionTimestamp": clock::fmt(started + ChronoDuration::seconds(9)),
                "failureReason": backups::restore_location_failure("secondary"),
                "errors": 1,
            },
        }));
    }
}

/// Starts the schedule, backup/restore and location controllers and the metrics exporter.
pub fn spawn(state: &Arc<ClusterState>, shutdown: &CancellationToken) {
    controller::spawn(state, shutdown, schedules::ScheduleController);
    controller::spawn(state, shutdown, backups::BackupController);
    controller::spawn(state, shutdown, locations::LocationController);
    scrape::spawn(state, shutdown, metrics::VeleroMetrics::default());
}
