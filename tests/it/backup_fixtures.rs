//! The Backups pane over Velero's own reference objects (`../shared/fixtures/velero`), with a
//! fixed clock and values worked out by hand: the slim kinds read every example, a schedule
//! whose newest backup failed shows the older completed one's age and goes late then
//! breached, next run follows Velero's rule, and backup-now's body is what
//! `velero backup create --from-schedule` builds from the documented Schedule.

use chrono::{DateTime, Utc};
use kdeck::config::Grace;
use kdeck::k8s::velero::{Backup, BackupStorageLocation, Restore, RunPhase, Schedule};
use kdeck::panes::backups::model::{Objects, RowInputs, backup_from_schedule, build_rows};
use kdeck::panes::backups::prom::PromAnswer;
use kdeck::panes::backups::rpo::{RpoState, rpo};
use kdeck::panes::backups::view::age_cell;
use kdeck::panes::kit::RowCache;
use kdeck_demo::testing::support::{load_yaml, load_yaml_docs};
use serde_json::{Value, json};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn velero(rel: &str) -> Value {
    load_yaml(&format!("velero/examples/{rel}"))
}

/// The documented Schedule `velero/a` (`0 7 * * *`), created 2019-04-01, last submitted a
/// backup 2019-04-30 07:00.
fn schedule() -> Value {
    let mut s = velero("docs-schedule.yaml");
    s["metadata"]["creationTimestamp"] = json!("2019-04-01T00:00:00Z");
    s["metadata"]["uid"] = json!("6c3f0e52-0000-4000-8000-000000000001");
    s["status"] = json!({"phase": "Enabled", "lastBackup": "2019-04-30T07:00:00Z"});
    s
}

/// The documented Backup (started 2019-04-29 15:58:43, finished 15:58:56) as a backup of
/// schedule `a` named `name`, created at `created`, in `phase`.
fn backup(name: &str, created: &str, phase: &str) -> Backup {
    let mut b = velero("docs-backup.yaml");
    b["metadata"]["name"] = json!(name);
    b["metadata"]["creationTimestamp"] = json!(created);
    b["metadata"]["labels"] = json!({"velero.io/schedule-name": "a"});
    b["status"]["phase"] = json!(phase);
    serde_json::from_value(b).unwrap()
}

#[test]
fn every_documented_object_is_read_whole() {
    let s: Schedule = serde_json::from_value(schedule()).unwrap();
    assert!(s.malformed.is_none(), "{:?}", s.malformed);
    assert_eq!(s.cron(), "0 7 * * *");
    let tpl = &s.spec.template;
    assert_eq!(tpl.included_namespaces, ["*"]);
    assert_eq!(tpl.excluded_namespaces, ["some-namespace"]);
    assert_eq!(tpl.storage_location.as_deref(), Some("aws-primary"));
    assert_eq!(tpl.ttl.as_deref(), Some("24h0m0s"));
    assert_eq!(tpl.snapshot_volumes, None);
    assert!(tpl.label_selector);
    assert_eq!(tpl.hooks.resources[0].name.as_deref(), Some("my-hook"));
    assert_eq!(
        (tpl.hooks.resources[0].pre, tpl.hooks.resources[0].post),
        (1, 0)
    );

    let b: Backup = serde_json::from_value(velero("docs-backup.yaml")).unwrap();
    assert!(b.malformed.is_none(), "{:?}", b.malformed);
    // `phase: ""`: not processed yet.
    assert_eq!(b.run_phase(), RunPhase::Pending);
    assert_eq!(b.phase_text(), "New");
    let st = b.status.as_ref().unwrap();
    assert_eq!(st.start_timestamp, Some(t("2019-04-29T15:58:43Z")));
    assert_eq!(st.completion_timestamp, Some(t("2019-04-29T15:58:56Z")));
    assert_eq!(
        (st.volume_snapshots_attempted, st.volume_snapshots_completed),
        (2, 1)
    );
    assert_eq!(st.backup_item_operations_attempted, 2);
    assert_eq!((st.errors, st.warnings), (0, 2));

    let r: Restore = serde_json::from_value(velero("docs-restore.yaml")).unwrap();
    assert!(r.malformed.is_none(), "{:?}", r.malformed);
    assert_eq!(r.source(), "a-very-special-backup");
    assert_eq!(r.run_phase(), RunPhase::Pending);

    for f in [
        "docs-backupstoragelocation.yaml",
        "docs-backupstoragelocation-cacert.yaml",
        "docs-backupstoragelocation-cacertref-with-secret.yaml",
        "tilt-velero_v1_backupstoragelocation.yaml",
    ] {
        // Some examples hold a Secret too.
        let doc = load_yaml_docs(&format!("velero/examples/{f}"))
            .into_iter()
            .find(|d| d["kind"] == "BackupStorageLocation")
            .unwrap();
        let l: BackupStorageLocation = serde_json::from_value(doc).unwrap();
        assert!(l.malformed.is_none(), "{f}: {:?}", l.malformed);
        assert_eq!(l.spec.provider.as_deref(), Some("aws"), "{f}");
    }
    let l: BackupStorageLocation =
        serde_json::from_value(velero("docs-backupstoragelocation.yaml")).unwrap();
    assert_eq!(l.target(), "aws myBucket");
    assert_eq!(l.phase(), "");
}

#[test]
fn a_failed_latest_backup_shows_the_older_good_ones_age() {
    let s: Schedule = serde_json::from_value(schedule()).unwrap();
    let good = backup("a-manual", "2019-04-29T15:58:40Z", "Completed");
    let failed = backup("a-20190430070000", "2019-04-30T07:00:00Z", "Failed");
    let backups = [&good, &failed];

    // By hand: the newest completed backup finished 2019-04-29 15:58:56. The cron's first run
    // after it was created (15:58:40) is 2019-04-30 07:00, in a 24 h interval (04-29 07:00 to
    // 04-30 07:00); the default grace is 25% of that, 6 h: breached after 13:00.
    let r = rpo(&s, &backups, t("2019-04-30T12:00:00Z"), Grace::default());
    assert_eq!(r.last_good.as_ref().unwrap().name, "a-manual");
    assert_eq!(
        r.last_good.as_ref().unwrap().finished,
        Some(t("2019-04-29T15:58:56Z"))
    );
    assert_eq!(r.due, Some(t("2019-04-30T07:00:00Z")));
    assert_eq!(r.period, Some(chrono::Duration::hours(24)));
    assert_eq!(r.deadline, Some(t("2019-04-30T13:00:00Z")));
    assert_eq!(
        r.state,
        RpoState::Late,
        "the 07:00 run failed, within grace"
    );
    assert_eq!(r.last.as_ref().unwrap().phase, "Failed");
    // Velero's next run: the cron after lastBackup (04-30 07:00).
    assert_eq!(r.next_run, Some(t("2019-05-01T07:00:00Z")));
    assert_eq!(
        rpo(&s, &backups, t("2019-04-30T13:00:01Z"), Grace::default()).state,
        RpoState::Breached
    );
    // A fixed grace of 8h moves the breach to 15:00.
    let eight = Grace::Fixed(chrono::Duration::hours(8));
    assert_eq!(
        rpo(&s, &backups, t("2019-04-30T14:59:00Z"), eight).state,
        RpoState::Late
    );

    // The row, as the pane builds it: the AGE column shows the good backup's age at 12:00
    // (20h1m04s), the LAST column the failed run.
    let now = t("2019-04-30T12:00:00Z");
    let schedules = [&s];
    let rows = build_rows(
        &Objects {
            schedules: &schedules,
            backups: &backups,
            ..Objects::default()
        },
        &RowInputs {
            cluster: "prod",
            short: "prod",
            now,
            grace: Grace::default(),
            prom: &PromAnswer::None,
            backups_known: true,
        },
        &mut RowCache::default(),
    );
    let (row, table) = rows.iter().find(|(r, _)| r.name == "a").unwrap();
    assert_eq!(age_cell(row, now).text, "20h1m");
    assert_eq!(table.cells[3].text, "▲ late");
    // (The documented backup logged two warnings.)
    assert_eq!(table.cells[8].text, "✖ Failed 2 warn");
    assert_eq!(table.cells[6].text, "daily at 07:00  0 7 * * *");
    assert_eq!(table.cells[7].text, "in 19h");
    assert_eq!(row.severity, 1);

    // While the Backups are still syncing nothing is judged: an empty list so far must not
    // read as "no backups" (breached).
    let waiting = build_rows(
        &Objects {
            schedules: &schedules,
            ..Objects::default()
        },
        &RowInputs {
            cluster: "prod",
            short: "prod",
            now,
            grace: Grace::default(),
            prom: &PromAnswer::None,
            backups_known: false,
        },
        &mut RowCache::default(),
    );
    let (row, table) = &waiting[0];
    assert_eq!(table.cells[3].text, "◌ waiting for backups");
    assert_eq!(row.severity, 0);
}

#[test]
fn backup_now_body_is_what_the_velero_cli_builds() {
    let s = schedule();
    let body = backup_from_schedule(&s, t("2025-03-01T10:02:03Z")).unwrap();
    // FromSchedule: the template's labels (they are set) plus the schedule name; the whole
    // template as spec, its resource policy rewritten to a ConfigMap reference; no owner
    // reference (useOwnerReferencesInBackup is false) and no annotations (the schedule has
    // none).
    let mut spec = s["spec"]["template"].clone();
    spec["resourcePolicy"] = json!({"kind": "configmap", "name": "resource-policy-configmap"});
    assert_eq!(
        body,
        json!({
            "apiVersion": "velero.io/v1",
            "kind": "Backup",
            "metadata": {
                "name": "a-20250301100203",
                "namespace": "velero",
                "labels": {"labelname": "somelabelvalue", "velero.io/schedule-name": "a"},
            },
            "spec": spec,
        })
    );
    // Without template labels the schedule's own labels are used; annotations are copied;
    // an owner reference when asked for.
    let mut s2 = s.clone();
    s2["spec"]["template"]["metadata"] = json!({});
    s2["metadata"]["labels"] = json!({"team": "payments"});
    s2["metadata"]["annotations"] = json!({"owner": "sre"});
    s2["spec"]["useOwnerReferencesInBackup"] = json!(true);
    let b2 = backup_from_schedule(&s2, t("2025-03-01T10:02:03Z")).unwrap();
    assert_eq!(
        b2["metadata"]["labels"],
        json!({"team": "payments", "velero.io/schedule-name": "a"})
    );
    assert_eq!(b2["metadata"]["annotations"], json!({"owner": "sre"}));
    assert_eq!(
        b2["metadata"]["ownerReferences"],
        json!([{"apiVersion": "velero.io/v1", "kind": "Schedule", "name": "a",
                "uid": "6c3f0e52-0000-4000-8000-000000000001", "controller": true}])
    );
    // Template labels set but empty: they still win (Go checks for nil, not for empty).
    s2["spec"]["template"]["metadata"] = json!({"labels": {}});
    let b3 = backup_from_schedule(&s2, t("2025-03-01T10:02:03Z")).unwrap();
    assert_eq!(
        b3["metadata"]["labels"],
        json!({"velero.io/schedule-name": "a"})
    );
}
