//! Render snapshots of the Backups pane on a fixed-size TestBackend with a fixed clock
//! (`render::NOW`, 2026-11-22 12:03:04): a cluster with a breached schedule (its last three
//! runs PartiallyFailed), a healthy one, a paused one, a backup and a restore running, a failed
//! restore, an unavailable location and Prometheus' answers beside the API's; a second cluster
//! without Velero. At 120x36 and 80x24, the not-installed text, and a schedule's detail.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use kdeck::app::AppSettings;
use kdeck::cluster::{ClusterHandle, Discovery, Reach};
use kdeck::config::Config;
use kdeck::k8s::velero::{Backup, BackupStorageLocation, Restore, Schedule};
use kdeck::keymap::ActionCall;
use kdeck::panes::backups::prom::{METRIC, QUERY_ID, list_spec};
use kdeck::source::prometheus::{PromClient, PromEndpoint, PromSeries};
use kdeck::source::{PromSnapshot, QueryResult, SourceState, Watched};
use serde_json::{Value, json};

use crate::render::{app_for, draw, handle, info, now};

fn at(secs_ago: i64) -> String {
    (now() - chrono::Duration::seconds(secs_ago)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn live() -> SourceState {
    SourceState::Live {
        since: now() - chrono::Duration::seconds(300),
    }
}

fn parse<K: serde::de::DeserializeOwned>(v: Value) -> K {
    serde_json::from_value(v).unwrap()
}

fn fill<K: Watched>(h: &ClusterHandle, objects: Vec<K>, state: SourceState) {
    h.sources.set_test_kind(objects, state);
}

fn schedule(name: &str, cron: &str, paused: bool, last_backup: i64) -> Schedule {
    parse(json!({
        "metadata": {"name": name, "namespace": "velero", "uid": format!("uid-{name}"),
            "resourceVersion": "10", "creationTimestamp": at(40 * 86_400)},
        "spec": {"schedule": cron, "paused": paused, "template": {
            "includedNamespaces": ["orders"], "storageLocation": "default", "ttl": "72h0m0s"}},
        "status": {"phase": "Enabled", "lastBackup": at(last_backup)}
    }))
}

/// A backup of `schedule` created `ago` seconds before now, finished `took` later.
fn backup(schedule: &str, ago: i64, took: i64, phase: &str, errors: i64) -> Backup {
    let created = now() - chrono::Duration::seconds(ago);
    let mut status = json!({"phase": phase, "startTimestamp": at(ago),
        "expiration": at(ago - 72 * 3600),
        "progress": {"totalItems": 120, "itemsBackedUp": if phase == "InProgress" {48} else {120}}});
    if phase != "InProgress" {
        status["completionTimestamp"] = json!(at(ago - took));
        status["errors"] = json!(errors);
    }
    parse(json!({
        "metadata": {"name": format!("{schedule}-{}", created.format("%Y%m%d%H%M%S")),
            "namespace": "velero", "uid": format!("b-{schedule}-{ago}"), "resourceVersion": "7",
            "creationTimestamp": at(ago),
            "labels": {"velero.io/schedule-name": schedule, "velero.io/storage-location": "default"}},
        "spec": {"storageLocation": "default", "includedNamespaces": ["orders"]},
        "status": status
    }))
}

fn velero_cluster(name: &str) -> Arc<ClusterHandle> {
    let c = handle(
        name,
        info(Reach::Reachable {
            latency: Duration::from_millis(14),
            since: now() - chrono::Duration::seconds(600),
        }),
        Discovery {
            resources: Some(BTreeSet::from(["backups.velero.io".to_string()])),
            ..Discovery::default()
        },
    );
    // 12:03:04 now. orders-hourly: good at 09:00, then three PartiallyFailed runs.
    let schedules = vec![
        schedule("orders-hourly", "0 * * * *", false, 184),
        schedule("nightly", "0 2 * * *", false, 36_184),
        schedule("weekly-archive", "0 4 * * 0", true, 9 * 86_400),
    ];
    let backups = vec![
        backup("orders-hourly", 3 * 3600 + 184, 95, "Completed", 0),
        backup("orders-hourly", 2 * 3600 + 184, 101, "PartiallyFailed", 2),
        backup("orders-hourly", 3600 + 184, 99, "PartiallyFailed", 1),
        backup("orders-hourly", 184, 97, "PartiallyFailed", 3),
        backup("nightly", 36_184, 420, "Completed", 0),
        backup("nightly", 65, 0, "InProgress", 0),
    ];
    let restores: Vec<Restore> = vec![
        parse(json!({
            "metadata": {"name": "nightly-dr-drill", "namespace": "velero", "uid": "r1",
                "resourceVersion": "3", "creationTimestamp": at(240)},
            "spec": {"backupName": "nightly-20261122020000", "includedNamespaces": ["orders"]},
            "status": {"phase": "InProgress", "startTimestamp": at(240),
                "progress": {"totalItems": 900, "itemsRestored": 300}}
        })),
        parse(json!({
            "metadata": {"name": "orders-restore-test", "namespace": "velero", "uid": "r2",
                "resourceVersion": "4", "creationTimestamp": at(3000)},
            "spec": {"backupName": "orders-hourly-20261122090000"},
            "status": {"phase": "Failed", "startTimestamp": at(3000),
                "completionTimestamp": at(2990), "errors": 1,
                "failureReason": "error downloading backup: AccessDenied"}
        })),
    ];
    let locations: Vec<BackupStorageLocation> = vec![
        parse(json!({
            "metadata": {"name": "default", "namespace": "velero", "uid": "l1", "resourceVersion": "5"},
            "spec": {"provider": "aws", "default": true, "accessMode": "ReadWrite",
                "objectStorage": {"bucket": "backups-prod", "prefix": "velero"}},
            "status": {"phase": "Available", "lastValidationTime": at(20)}
        })),
        parse(json!({
            "metadata": {"name": "offsite", "namespace": "velero", "uid": "l2", "resourceVersion": "6"},
            "spec": {"provider": "gcp", "accessMode": "ReadWrite",
                "objectStorage": {"bucket": "backups-offsite"}},
            "status": {"phase": "Unavailable", "lastValidationTime": at(35),
                "message": "BackupStorageLocation \"offsite\" is unavailable: 403 Forbidden"}
        })),
    ];
    fill(&c, schedules, live());
    fill(&c, backups, live());
    fill(&c, restores, live());
    fill(&c, locations, live());
    c
}

/// Prometheus' answer for `c`. Set after the app exists: the app stops every poller no pane
/// declares when it starts, and the pane declares this one at its first update.
fn with_prometheus(c: &ClusterHandle) {
    // Prometheus: orders-hourly agrees (09:01:35); nightly has no series (a Velero restart);
    // weekly-archive remembers a success whose backups have expired.
    c.sources.set_prometheus(Some(PromClient::new(
        PromEndpoint::Url("http://127.0.0.1:9".into()),
        None,
        Duration::from_secs(1),
    )));
    let series = |schedule: &str, t: i64| PromSeries {
        labels: BTreeMap::from([
            ("__name__".to_string(), METRIC.to_string()),
            ("schedule".to_string(), schedule.to_string()),
        ]),
        points: vec![(now().timestamp() as f64, t as f64)],
    };
    let good = (now() - chrono::Duration::seconds(3 * 3600 + 184 - 95)).timestamp();
    let archived = (now() - chrono::Duration::days(9)).timestamp();
    c.sources.set_test_prom(
        list_spec(&Config::default()),
        PromSnapshot {
            results: vec![QueryResult {
                id: QUERY_ID.into(),
                series: vec![
                    series("orders-hourly", good),
                    series("weekly-archive", archived),
                ],
                error: None,
                stale_since: None,
            }],
            fetched_at: Some(now()),
        },
        live(),
    );
}

fn without_velero(name: &str) -> Arc<ClusterHandle> {
    let c = handle(
        name,
        info(Reach::Reachable {
            latency: Duration::from_millis(9),
            since: now() - chrono::Duration::seconds(600),
        }),
        Discovery {
            resources: Some(BTreeSet::new()),
            ..Discovery::default()
        },
    );
    fill::<Schedule>(&c, vec![], SourceState::NotInstalled);
    fill::<Backup>(&c, vec![], SourceState::NotInstalled);
    fill::<Restore>(&c, vec![], SourceState::NotInstalled);
    fill::<BackupStorageLocation>(&c, vec![], SourceState::NotInstalled);
    c
}

fn backups_app(clusters: Vec<Arc<ClusterHandle>>) -> kdeck::app::App {
    let velero: Vec<Arc<ClusterHandle>> = clusters
        .iter()
        .filter(|c| c.sources.state::<Schedule>().is_live())
        .cloned()
        .collect();
    let mut app = app_for(clusters, AppSettings::default());
    assert!(app.focus_pane("backups"));
    for c in &velero {
        with_prometheus(c);
    }
    app
}

fn first_row(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    let header = lines.iter().position(|l| l.contains("STATUS")).unwrap();
    lines[header + 1].to_string()
}

#[test]
fn backups_list_120x36() {
    let mut app = backups_app(vec![
        velero_cluster("prod-us-east"),
        without_velero("prod-eu-west"),
    ]);
    let screen = draw(&mut app, 120, 36);
    // The breached schedule first; its AGE is the last *good* backup's (3h1m ago), the
    // PartiallyFailed runs since are counted, and Prometheus agrees.
    let first = first_row(&screen);
    assert!(
        first.contains("orders-hourly") && first.contains("✖ breached"),
        "{screen}"
    );
    assert!(first.contains("3h1m"), "{first}");
    assert!(screen.contains("prod-eu-west not installed"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn backups_list_80x24() {
    let mut app = backups_app(vec![
        velero_cluster("prod-us-east"),
        without_velero("prod-eu-west"),
    ]);
    let screen = draw(&mut app, 80, 24);
    assert!(first_row(&screen).contains("✖ breached"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn backups_not_installed() {
    let mut app = backups_app(vec![without_velero("prod-eu-west")]);
    let screen = draw(&mut app, 120, 36);
    assert!(
        screen.contains("Velero is not installed on the clusters in view"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn backup_schedule_detail_120x36() {
    let mut app = backups_app(vec![velero_cluster("prod-us-east")]);
    app.dispatch(&ActionCall {
        name: "open-detail".into(),
        args: vec!["orders-hourly".into()],
    });
    let screen = draw(&mut app, 120, 36);
    assert!(screen.contains("Schedule velero/orders-hourly"), "{screen}");
    assert!(
        screen.contains("▲ 3 PartiallyFailed since then"),
        "{screen}"
    );
    assert!(screen.contains("agrees with the API"), "{screen}");
    insta::assert_snapshot!(screen);
}
