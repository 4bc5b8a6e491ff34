//! Backups pane figures: frame time with 5,000 Backups (20 schedules of 250 backups each,
//! plus restores and locations) when every backup changed, when one did (a running backup's
//! progress), when only the clock moved (schedule states and ages), and when nothing did; and
//! the resident memory of the stored Backups.
//!
//! Run: `cargo bench --bench backups`

#[path = "support/common.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use kdeck::app::{App, AppSettings, known_actions};
use kdeck::clock::Clock;
use kdeck::cluster::{ClusterHandle, ClusterInfo, Discovery, PromReach, Reach};
use kdeck::config::Config;
use kdeck::k8s::velero::{Backup, BackupStorageLocation, Restore, Schedule};
use kdeck::keymap::Keymap;
use kdeck::panes::{Scope, registry};
use kdeck::source::{Notifier, SourceState};
use kdeck::theme::Theme;
use kdeck::world::World;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use common::summary;

const SCHEDULES: usize = 20;
const PER_SCHEDULE: usize = 250;
const BACKUPS: usize = SCHEDULES * PER_SCHEDULE;

fn schedule(i: usize) -> Schedule {
    serde_json::from_value(json!({
        "metadata": {"name": format!("sched-{i:02}"), "namespace": "velero", "uid": format!("s{i}"),
            "resourceVersion": "1", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"schedule": if i.is_multiple_of(2) {"0 * * * *"} else {"*/30 * * * *"},
            "template": {"includedNamespaces": [format!("team-{i}")], "storageLocation": "default",
                "ttl": "720h0m0s", "hooks": {}, "metadata": {}}},
        "status": {"phase": "Enabled", "lastBackup": "2026-11-22T12:00:00Z"}
    }))
    .unwrap()
}

/// Backup `n` of schedule `i`, hourly back from 2026-11-22 12:00, one in ten PartiallyFailed.
fn backup(i: usize, n: usize, rv: &str) -> Backup {
    let created = chrono::DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z").unwrap()
        - chrono::Duration::hours(n as i64);
    let phase = if n % 10 == 3 {
        "PartiallyFailed"
    } else {
        "Completed"
    };
    serde_json::from_value(json!({
        "metadata": {"name": format!("sched-{i:02}-{}", created.format("%Y%m%d%H%M%S")),
            "namespace": "velero", "uid": format!("b{i}-{n}"), "resourceVersion": format!("{n}{rv}"),
            "creationTimestamp": created.to_rfc3339(),
            "labels": {"velero.io/schedule-name": format!("sched-{i:02}"),
                "velero.io/storage-location": "default"}},
        "spec": {"includedNamespaces": [format!("team-{i}")], "storageLocation": "default",
            "ttl": "720h0m0s", "hooks": {}},
        "status": {"phase": phase, "startTimestamp": created.to_rfc3339(),
            "completionTimestamp": (created + chrono::Duration::seconds(90)).to_rfc3339(),
            "expiration": (created + chrono::Duration::days(30)).to_rfc3339(),
            "errors": if phase == "PartiallyFailed" {2} else {0}, "warnings": n % 3,
            "progress": {"totalItems": 600, "itemsBackedUp": 600}}
    }))
    .unwrap()
}

fn backups(rv: &str) -> Vec<Backup> {
    (0..SCHEDULES)
        .flat_map(|i| (0..PER_SCHEDULE).map(move |n| (i, n)))
        .map(|(i, n)| backup(i, n, rv))
        .collect()
}

fn main() {
    let handle = ClusterHandle::new(
        "bench",
        ClusterInfo {
            server: String::new(),
            user: "bench".into(),
            version: Some("v1.32.4".into()),
            reach: Reach::Reachable {
                latency: Duration::from_millis(3),
                since: Utc::now(),
            },
            prometheus: PromReach::Unknown,
            readonly: false,
        },
        None,
        None,
        Notifier::new(),
        CancellationToken::new(),
    );
    handle.set_discovery(Discovery::default());
    let live = SourceState::Live { since: Utc::now() };
    let rss_before = common::rss_mib(common::self_pid());
    let first = backups("a");
    handle.sources.set_test_kind(first, live.clone());
    let rss_after = common::rss_mib(common::self_pid());
    handle
        .sources
        .set_test_kind((0..SCHEDULES).map(schedule).collect(), live.clone());
    handle
        .sources
        .set_test_kind(Vec::<Restore>::new(), live.clone());
    handle
        .sources
        .set_test_kind(Vec::<BackupStorageLocation>::new(), live.clone());
    let world = Arc::new(World::new(Notifier::new()));
    world.add(handle.clone());
    let panes = registry();
    let keymap = Keymap::from_texts(
        "default",
        kdeck::keymap::BUILTIN[0].1,
        None,
        &known_actions(&panes),
    );
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-22T12:03:04Z")
        .unwrap()
        .with_timezone(&Utc);
    let mut app = App::new(
        world,
        panes,
        keymap,
        Theme::builtin("default").unwrap(),
        Config::default(),
        Clock::Fixed(start),
        None,
        AppSettings::default(),
        Scope {
            all_clusters: true,
            ..Scope::default()
        },
    );
    app.focus_pane("backups");
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    app.update_models();
    term.draw(|f| app.render(f)).unwrap();
    let (mut full, mut one, mut clock, mut redraw) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..40 {
        // Every backup at a new resourceVersion: every row rebuilt.
        let all = backups(&format!("r{round}"));
        handle.sources.set_test_kind(all.clone(), live.clone());
        let t = Instant::now();
        app.update_models();
        term.draw(|f| app.render(f)).unwrap();
        full.push(t.elapsed());
        // One backup changed (a running backup's progress): one row, and its schedule's.
        let mut one_new = all;
        one_new[BACKUPS / 2].metadata.resource_version = Some(format!("changed-{round}"));
        handle.sources.set_test_kind(one_new, live.clone());
        let t = Instant::now();
        app.update_models();
        term.draw(|f| app.render(f)).unwrap();
        one.push(t.elapsed());
        // Ten seconds later, same data: schedule states and ages move, backups are cached.
        app.clock = Clock::Fixed(start + chrono::Duration::seconds(10 * (round + 1)));
        let t = Instant::now();
        app.update_models();
        term.draw(|f| app.render(f)).unwrap();
        clock.push(t.elapsed());
        // Nothing changed.
        let t = Instant::now();
        app.update_models();
        term.draw(|f| app.render(f)).unwrap();
        redraw.push(t.elapsed());
    }
    let screen = term.backend().to_string();
    assert!(
        screen.contains(&format!("({} ·", BACKUPS + SCHEDULES)),
        "{screen}"
    );
    for (label, samples) in [
        ("all backups changed        ", full),
        ("one backup changed         ", one),
        ("10 s later (schedules only)", clock),
        ("nothing changed, redraw    ", redraw),
    ] {
        let (m, p95, max) = summary(samples);
        println!(
            "frame, {BACKUPS} backups + {SCHEDULES} schedules, {label}: median {m:.2} ms, p95 {p95:.2} ms, max {max:.2} ms"
        );
    }
    println!(
        "stored backups: about {:.1} MiB resident for {BACKUPS} ({:.2} KiB each)",
        rss_after - rss_before,
        (rss_after - rss_before) * 1024.0 / BACKUPS as f64
    );
}
