//! Drift pane figures: frame time with 2,000 Argo CD Applications (every object changed, one
//! object changed, a second later with only the LAST OP ages moving, and a redraw that
//! recomputes nothing), in a cluster whose projects have a sync window to judge.
//!
//! Run: `cargo bench --bench drift`

#[path = "common.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use kdeck::app::{App, AppSettings, known_actions};
use kdeck::clock::Clock;
use kdeck::cluster::{ClusterHandle, ClusterInfo, Discovery, PromReach, Reach};
use kdeck::config::Config;
use kdeck::k8s::argocd::{AppProject, Application};
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

const ROWS: usize = 2000;

fn synthetic(i: usize, rv: &str) -> Application {
    let name = format!("svc-{i:04}");
    let out_of_sync = i.is_multiple_of(9);
    let failed = i.is_multiple_of(31);
    let resources: Vec<_> = (0..12)
        .map(|r| {
            json!({"group": "apps", "version": "v1", "kind": "Deployment", "namespace": format!("team-{:02}", i % 40),
                "name": format!("{name}-{r}"), "status": if out_of_sync && r < 3 {"OutOfSync"} else {"Synced"},
                "health": {"status": "Healthy"}})
        })
        .collect();
    let history: Vec<_> = (0..10)
        .map(|h| json!({"id": h, "revision": format!("{:040x}", i * 100 + h), "deployedAt": "2026-11-20T10:00:00Z",
            "source": {"repoURL": "https://git.example.com/deploy.git", "path": format!("apps/{name}")}}))
        .collect();
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "argocd", "uid": format!("uid-{i}"),
            "resourceVersion": format!("{i}{rv}")},
        "spec": {"project": if i.is_multiple_of(5) {"platform"} else {"default"},
            "source": {"repoURL": "https://git.example.com/deploy.git", "path": format!("apps/{name}"), "targetRevision": "HEAD"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": format!("team-{:02}", i % 40)},
            "syncPolicy": if i.is_multiple_of(3) {json!({"automated": {"prune": true, "selfHeal": true}})} else {json!({})}},
        "status": {"sync": {"status": if out_of_sync {"OutOfSync"} else {"Synced"}, "revision": format!("{:040x}", i * 100 + 9)},
            "health": {"status": if failed {"Degraded"} else {"Healthy"}},
            "resources": resources, "history": history,
            "operationState": {"phase": if failed {"Failed"} else {"Succeeded"}, "message": "one or more synchronization tasks completed unsuccessfully",
                "startedAt": "2026-11-22T11:00:00Z", "finishedAt": "2026-11-22T11:00:30Z",
                "operation": {"sync": {"revision": "abc"}, "initiatedBy": {"automated": true}}},
            "conditions": if failed {json!([{"type": "SyncError", "message": "boom"}])} else {json!([])}}
    }))
    .unwrap()
}

fn main() {
    let handle = ClusterHandle::new(
        "bench",
        ClusterInfo {
            server: "https://10.0.0.1:6443".into(),
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
    let apps: Vec<Application> = (0..ROWS).map(|i| synthetic(i, "a")).collect();
    let projects: Vec<AppProject> = vec![serde_json::from_value(json!({
        "metadata": {"name": "platform", "namespace": "argocd", "resourceVersion": "1"},
        "spec": {"syncWindows": [{"kind": "deny", "schedule": "0 22 * * 1-5", "duration": "2h", "applications": ["*"]}]}
    }))
    .unwrap()];
    let live = SourceState::Live { since: Utc::now() };
    handle.sources.set_test_kind(apps.clone(), live.clone());
    handle.sources.set_test_kind(projects, live.clone());
    let with_rv = |round: usize| -> Vec<Application> {
        let mut set = apps.clone();
        for a in &mut set {
            let rv = a.metadata.resource_version.take().unwrap_or_default();
            a.metadata.resource_version = Some(format!("{rv}-{round}"));
        }
        set
    };
    let world = Arc::new(World::new(Notifier::new()));
    world.add(handle.clone());
    let panes = registry();
    let keymap = Keymap::from_texts(
        "default",
        kdeck::keymap::BUILTIN[0].1,
        None,
        &known_actions(&panes),
    );
    let start = Utc::now();
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
    assert!(app.focus_pane("drift"));
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    app.update_models();
    term.draw(|f| app.render(f)).unwrap();
    let (mut full, mut one, mut ages, mut redraw) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..60 {
        let all_new = with_rv(i);
        handle.sources.set_test_kind(all_new.clone(), live.clone());
        let t = Instant::now();
        app.update_models();
        term.draw(|f| app.render(f)).unwrap();
        full.push(t.elapsed());
        let mut one_new = all_new;
        one_new[ROWS / 2].metadata.resource_version = Some(format!("changed-{i}"));
        handle.sources.set_test_kind(one_new, live.clone());
        let t = Instant::now();
        app.update_models();
        term.draw(|f| app.render(f)).unwrap();
        one.push(t.elapsed());
        app.clock = Clock::Fixed(start + chrono::Duration::seconds(i as i64 + 1));
        let t = Instant::now();
        app.update_models();
        term.draw(|f| app.render(f)).unwrap();
        ages.push(t.elapsed());
        let t = Instant::now();
        app.update_models();
        term.draw(|f| app.render(f)).unwrap();
        redraw.push(t.elapsed());
    }
    let screen = term.backend().to_string();
    assert!(screen.contains(&format!("({ROWS} ·")), "{screen}");
    for (label, samples) in [
        ("all objects changed     ", full),
        ("one object changed      ", one),
        ("a second later, ages    ", ages),
        ("nothing changed, redraw ", redraw),
    ] {
        let (m, p95, max) = summary(samples);
        println!(
            "drift frame, {ROWS} apps, {label}: median {m:.2} ms, p95 {p95:.2} ms, max {max:.2} ms"
        );
    }
}
