//! Velero (namespace `velero`, only where installed): backup storage locations, schedules,
//! backups and restores, their controllers, and Velero's metrics.
//!
//! Seeded: `default` (Available) and `secondary` (Unavailable) locations; schedules
//! `shop-config-5m` (`*/5 * * * *`), `apps-hourly` (`0 * * * *`, some backups
//! PartiallyFailed), `cluster-daily` (`0 2 * * *`) and `search-offsite-6h` (`30 */6 * * *` on
//! `secondary`: its backups have failed since the location broke, so it is stale); their
//! backups over the past day(s) named `<schedule>-<UTC yyyymmddhhmmss>`; a manual backup; two
//! restores. Then schedules fire on the wall clock and backups run, paced by `--speed`.

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
    now: DateTime<Utc>,
) -> Value {
    let name = crate::sim::fields::name(backup);
    let out = plan::outcome(state, name, schedule);
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
        let fires = cron.between(now - seeded_window(p.name), now);
        for fire in &fires {
            let name = plan::timestamped_name(p.name, *fire);
            let mut b = plan::backup_from_schedule(state, &schedule, &name, *fire);
            b["metadata"]["labels"][LOCATION_LABEL] = json!(p.location);
            let ok = p.location != "secondary" || *fire < broken_since;
            b["status"] = seeded_status(
                state,
                &b,
                p.name,
                *fire + ChronoDuration::seconds(1),
                ok,
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
    b["status"] = seeded_status(state, &b, "", at + ChronoDuration::seconds(1), true, now);
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

/// Starts the schedule, backup/restore and location controllers and the metrics exporter.
pub fn spawn(state: &Arc<ClusterState>, shutdown: &CancellationToken) {
    controller::spawn(state, shutdown, schedules::ScheduleController);
    controller::spawn(state, shutdown, backups::BackupController);
    controller::spawn(state, shutdown, locations::LocationController);
    scrape::spawn(state, shutdown, metrics::VeleroMetrics::default());
}
