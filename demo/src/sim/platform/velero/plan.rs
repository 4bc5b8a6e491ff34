//! The Velero scenario as data, and builders for its objects: two backup storage locations
//! (`default` Available, `secondary` Unavailable), four schedules (every 5 minutes, hourly,
//! daily, and a 6-hourly offsite one on the broken location whose backups fail, so it has gone
//! stale), and how long backups of each take and how they end.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::ClusterState;
use crate::sim::clock;
use crate::sim::fields::{self, fnv64};

/// Namespace Velero runs in.
pub const VELERO_NS: &str = "velero";
/// Label linking a Backup to its Schedule.
pub const SCHEDULE_LABEL: &str = "velero.io/schedule-name";
/// Label naming a Backup's storage location.
pub const LOCATION_LABEL: &str = "velero.io/storage-location";
/// How long ago the `secondary` location broke.
pub const SECONDARY_BROKEN_HOURS: i64 = 28;
/// Why the `secondary` location is Unavailable.
pub const SECONDARY_ERROR: &str = "BackupStorageLocation \"secondary\" is unavailable: rpc error: code = Unknown desc = operation error S3: ListObjectsV2, https response error StatusCode: 403, RequestID: 7YB3K1Q9TZ2M8XPA, HostID: 4kH0vQm2, api error AccessDenied: Access Denied";

/// One schedule of the scenario.
#[derive(Debug, Clone, Copy)]
pub struct SchedulePlan {
    pub name: &'static str,
    pub cron: &'static str,
    pub location: &'static str,
    pub namespaces: &'static [&'static str],
    pub resources: &'static [&'static str],
    pub ttl: &'static str,
    /// Items in a backup.
    pub items: i64,
    /// Simulated seconds a backup runs: (min, max).
    pub duration: (f64, f64),
    /// Share of backups that end PartiallyFailed.
    pub partial_rate: f64,
    /// Seeded backups older than this many hours completed (the schedule broke then; every
    /// run since, and every run to come, ends as `partial_rate` says).
    pub broken_hours: Option<i64>,
    /// Paused this many hours ago: no backups were seeded after that, and `spec.paused`.
    pub paused_hours: Option<i64>,
}

/// The scenario's schedules.
pub const SCHEDULES: &[SchedulePlan] = &[
    SchedulePlan {
        name: "shop-config-5m",
        cron: "*/5 * * * *",
        location: "default",
        namespaces: &["shop"],
        resources: &["configmaps", "secrets"],
        ttl: "1h0m0s",
        items: 38,
        duration: (6.0, 18.0),
        partial_rate: 0.0,
        broken_hours: None,
        paused_hours: None,
    },
    SchedulePlan {
        name: "apps-hourly",
        cron: "0 * * * *",
        location: "default",
        namespaces: &["shop", "payments", "search"],
        resources: &[],
        ttl: "72h0m0s",
        items: 612,
        duration: (40.0, 110.0),
        partial_rate: 0.18,
        broken_hours: None,
        paused_hours: None,
    },
    SchedulePlan {
        name: "cluster-daily",
        cron: "0 2 * * *",
        location: "default",
        namespaces: &["*"],
        resources: &[],
        ttl: "720h0m0s",
        items: 4210,
        duration: (240.0, 420.0),
        partial_rate: 0.0,
        broken_hours: None,
        paused_hours: None,
    },
    SchedulePlan {
        name: "search-offsite-6h",
        cron: "30 */6 * * *",
        location: "secondary",
        namespaces: &["search"],
        resources: &[],
        ttl: "168h0m0s",
        items: 298,
        duration: (30.0, 60.0),
        partial_rate: 0.0,
        broken_hours: None,
        paused_hours: None,
    },
    // Its volume snapshots have failed since a CSI driver upgrade 9 hours ago: every run is
    // submitted on time and ends PartiallyFailed, so the last *good* backup is 9 hours old.
    SchedulePlan {
        name: "payments-db-30m",
        cron: "*/30 * * * *",
        location: "default",
        namespaces: &["payments"],
        resources: &[],
        ttl: "48h0m0s",
        items: 184,
        duration: (20.0, 50.0),
        partial_rate: 1.0,
        broken_hours: Some(9),
        paused_hours: None,
    },
    // Paused three days ago for a migration and never resumed; its backups (TTL 48h) have
    // expired since, while Velero's metrics still remember the last success.
    SchedulePlan {
        name: "analytics-nightly",
        cron: "0 3 * * *",
        location: "default",
        namespaces: &["search"],
        resources: &[],
        ttl: "48h0m0s",
        items: 342,
        duration: (60.0, 120.0),
        partial_rate: 0.0,
        broken_hours: None,
        paused_hours: Some(72),
    },
];

/// The plan of a schedule by name.
#[must_use]
pub fn schedule_plan(name: &str) -> Option<&'static SchedulePlan> {
    SCHEDULES.iter().find(|s| s.name == name)
}

/// How a backup ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub duration_secs: f64,
    pub items: i64,
    pub phase: &'static str,
    pub errors: i64,
    pub warnings: i64,
}

/// The outcome of a backup on an available location, stable per seed and backup name.
#[must_use]
pub fn outcome(state: &ClusterState, backup: &str, schedule: &str) -> Outcome {
    let h = fnv64(format!("{}/{}/{backup}", state.options.seed, state.profile.index).as_bytes());
    let unit = |shift: u32| ((h >> shift) % 1000) as f64 / 1000.0;
    let (duration, items, partial_rate) = match schedule_plan(schedule) {
        Some(p) => (p.duration, p.items, p.partial_rate),
        None => ((20.0, 45.0), 152, 0.0),
    };
    let partial = unit(0) < partial_rate;
    Outcome {
        duration_secs: duration.0 + (duration.1 - duration.0) * unit(10),
        items: items + (h >> 20) as i64 % 7,
        phase: if partial {
            "PartiallyFailed"
        } else {
            "Completed"
        },
        errors: if partial { 1 + (h >> 30) as i64 % 3 } else { 0 },
        warnings: if unit(40) < 0.25 {
            1 + (h >> 50) as i64 % 4
        } else {
            0
        },
    }
}

/// The backup spec a schedule's template gives (with the server's defaults filled in).
#[must_use]
pub fn template(p: &SchedulePlan) -> Value {
    let mut t = json!({
        "includedNamespaces": p.namespaces,
        "storageLocation": p.location,
        "ttl": p.ttl,
        "snapshotVolumes": p.name == "cluster-daily",
        "defaultVolumesToFsBackup": false,
        "csiSnapshotTimeout": "10m0s",
        "itemOperationTimeout": "4h0m0s",
        "hooks": {},
        "metadata": {},
    });
    if !p.resources.is_empty() {
        t["includedResources"] = json!(p.resources);
    }
    if p.namespaces == ["*"] {
        t["includeClusterResources"] = json!(true);
        t["excludedNamespaces"] = json!(["kube-node-lease"]);
    }
    t
}

/// A Schedule object.
#[must_use]
pub fn schedule(
    p: &SchedulePlan,
    created: DateTime<Utc>,
    last_backup: Option<DateTime<Utc>>,
) -> Value {
    let mut status = json!({ "phase": "Enabled" });
    if let Some(t) = last_backup {
        status["lastBackup"] = json!(clock::fmt(t));
    }
    json!({
        "metadata": {
            "name": p.name,
            "namespace": VELERO_NS,
            "labels": { "app.kubernetes.io/managed-by": "velero-helm" },
            "creationTimestamp": clock::fmt(created),
        },
        "spec": {
            "schedule": p.cron,
            "template": template(p),
            "useOwnerReferencesInBackup": false,
            "paused": p.paused_hours.is_some(),
        },
        "status": status,
    })
}

/// `<schedule>-<UTC yyyymmddhhmmss>`, as `Schedule.TimestampedName`.
#[must_use]
pub fn timestamped_name(schedule: &str, at: DateTime<Utc>) -> String {
    format!("{schedule}-{}", at.format("%Y%m%d%H%M%S"))
}

/// A Backup created from a schedule (no status), as the schedule controller and
/// `velero backup create --from-schedule` build it.
#[must_use]
pub fn backup_from_schedule(
    state: &ClusterState,
    schedule: &Value,
    name: &str,
    created: DateTime<Utc>,
) -> Value {
    let sched_name = fields::name(schedule);
    let spec = schedule
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut labels: Map<String, Value> = spec
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .filter(|l| !l.is_empty())
        .or_else(|| {
            schedule
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
        })
        .cloned()
        .unwrap_or_default();
    labels.insert(SCHEDULE_LABEL.into(), json!(sched_name));
    let mut meta = json!({
        "name": name,
        "namespace": VELERO_NS,
        "labels": labels,
        "annotations": source_annotations(state),
        "creationTimestamp": clock::fmt(created),
    });
    if let Some(a) = schedule
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    {
        for (k, v) in a {
            meta["annotations"][k] = v.clone();
        }
    }
    if fields::bool_at(schedule, "/spec/useOwnerReferencesInBackup") {
        meta["ownerReferences"] = json!([{
            "apiVersion": "velero.io/v1", "kind": "Schedule", "name": sched_name,
            "uid": fields::uid(schedule), "controller": true,
        }]);
    }
    json!({ "metadata": meta, "spec": spec })
}

/// Annotations the Velero server puts on backups it takes.
#[must_use]
pub fn source_annotations(state: &ClusterState) -> Value {
    let v = state.profile.kube_version.trim_start_matches('v');
    let mut parts = v.split('.');
    let major = parts.next().unwrap_or("1");
    let minor = parts.next().unwrap_or("0");
    json!({
        "velero.io/resource-timeout": "10m0s",
        "velero.io/source-cluster-k8s-gitversion": state.profile.kube_version,
        "velero.io/source-cluster-k8s-major-version": major,
        "velero.io/source-cluster-k8s-minor-version": minor,
    })
}

/// The two backup storage locations.
#[must_use]
pub fn locations(state: &ClusterState, now: DateTime<Utc>) -> Vec<Value> {
    let region = crate::sim::workloads::nodes::region(&state.profile);
    let created = clock::fmt(now - chrono::Duration::days(60));
    let location = |name: &str, bucket: String, region: &str, default: bool| {
        json!({
            "metadata": { "name": name, "namespace": VELERO_NS, "creationTimestamp": created },
            "spec": {
                "provider": "aws",
                "objectStorage": { "bucket": bucket, "prefix": "velero" },
                "config": { "region": region },
                "credential": { "name": "cloud-credentials", "key": "cloud" },
                "default": default,
                "accessMode": "ReadWrite",
                "backupSyncPeriod": "1m0s",
                "validationFrequency": "1m0s",
            },
        })
    };
    let mut default = location(
        "default",
        format!("kdeck-demo-backups-{region}"),
        &region,
        true,
    );
    default["status"] = json!({
        "phase": "Available",
        "lastValidationTime": clock::fmt(now - chrono::Duration::seconds(23)),
        "lastSyncedTime": clock::fmt(now - chrono::Duration::seconds(41)),
    });
    let mut secondary = location(
        "secondary",
        "kdeck-demo-backups-offsite".into(),
        "us-west-2",
        false,
    );
    secondary["status"] = json!({
        "phase": "Unavailable",
        "lastValidationTime": clock::fmt(now - chrono::Duration::seconds(37)),
        "message": SECONDARY_ERROR,
    });
    vec![default, secondary]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClusterProfile, SimOptions};

    #[test]
    fn names_and_outcomes_are_stable() {
        let at = clock::parse("2025-03-01T02:00:00Z").unwrap();
        assert_eq!(
            timestamped_name("cluster-daily", at),
            "cluster-daily-20250301020000"
        );
        let state = ClusterState::new(ClusterProfile::standard(0), SimOptions::default());
        let a = outcome(&state, "apps-hourly-20250301020000", "apps-hourly");
        assert_eq!(
            a,
            outcome(&state, "apps-hourly-20250301020000", "apps-hourly")
        );
        assert!((40.0..=110.0).contains(&a.duration_secs));
        let partial = (0..200)
            .filter(|i| {
                outcome(&state, &format!("apps-hourly-{i}"), "apps-hourly").phase
                    == "PartiallyFailed"
            })
            .count();
        assert!((15..=60).contains(&partial), "{partial}");
    }
}
