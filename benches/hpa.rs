//! HPA pane figures: frame time with 2,000 HPAs (every object changed, one changed, a second
//! later, nothing changed), and the pane's share of the client's memory against the demo at
//! `--scale 10000` (two clusters): the same client with and without the HPA pane, each in a
//! process of its own, from connecting to the first full frame.
//!
//! Run: `cargo bench --bench hpa`

#[path = "client.rs"]
mod client;
#[path = "common.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use kdeck::app::{App, AppSettings, known_actions};
use kdeck::clock::Clock;
use kdeck::cluster::{ClusterHandle, ClusterInfo, Discovery, PromReach, Reach};
use kdeck::config::Config;
use kdeck::k8s::apps::Deployment;
use kdeck::k8s::autoscaling::HorizontalPodAutoscaler;
use kdeck::keymap::Keymap;
use kdeck::panes::{Scope, registry};
use kdeck::source::{Notifier, SourceState};
use kdeck::theme::Theme;
use kdeck::world::World;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use common::{DemoServe, rss_mib, self_pid, summary};

const ROWS: usize = 2000;

fn synthetic(i: usize) -> (HorizontalPodAutoscaler, Deployment) {
    let ns = format!("team-{:02}", i % 40);
    let name = format!("svc-{i:04}");
    let replicas = 2 + (i % 7) as i64;
    let max = if i.is_multiple_of(9) { replicas } else { 12 };
    let hpa: HorizontalPodAutoscaler = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns, "uid": format!("h-{i}"), "resourceVersion": format!("{i}"),
            "creationTimestamp": "2026-11-20T10:00:00Z"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 2, "maxReplicas": max, "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
                {"type": "Pods", "pods": {"metric": {"name": "http_requests_per_second"},
                    "target": {"type": "AverageValue", "averageValue": "100"}}}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}}},
        "status": {"currentReplicas": replicas, "desiredReplicas": replicas, "lastScaleTime": "2026-11-22T11:00:00Z",
            "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 40 + (i % 60)}}},
                {"type": "Pods", "pods": {"metric": {"name": "http_requests_per_second"},
                    "current": {"averageValue": format!("{}", 50 + i % 120)}}}],
            "conditions": [
                {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale"},
                {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"},
                {"type": "ScalingLimited", "status": if max == replicas {"True"} else {"False"},
                    "reason": if max == replicas {"TooManyReplicas"} else {"DesiredWithinRange"}}]}
    }))
    .unwrap();
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns, "uid": format!("d-{i}"), "resourceVersion": "1"},
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas}
    }))
    .unwrap();
    (hpa, d)
}

fn frame_times() {
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
    let (hpas, deployments): (Vec<_>, Vec<_>) = (0..ROWS).map(synthetic).unzip();
    let live = SourceState::Live { since: Utc::now() };
    handle.sources.set_test_kind(hpas.clone(), live.clone());
    handle.sources.set_test_kind(deployments, live.clone());
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
    app.focus_pane("hpa");
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    app.update_models();
    term.draw(|f| app.render(f)).unwrap();
    let with_rv = |round: usize| -> Vec<HorizontalPodAutoscaler> {
        let mut set = hpas.clone();
        for h in &mut set {
            let rv = h.metadata.resource_version.take().unwrap_or_default();
            h.metadata.resource_version = Some(format!("{rv}-{round}"));
        }
        set
    };
    let (mut full, mut one, mut ages, mut redraw) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..120 {
        // Every HPA changed (a relist): every row is rebuilt.
        let all_new = with_rv(i);
        handle.sources.set_test_kind(all_new.clone(), live.clone());
        let t = Instant::now();
        app.update_models();
        term.draw(|f| app.render(f)).unwrap();
        full.push(t.elapsed());
        // One HPA's status written (the common case).
        let mut one_new = all_new;
        one_new[ROWS / 2].metadata.resource_version = Some(format!("changed-{i}"));
        handle.sources.set_test_kind(one_new, live.clone());
        let t = Instant::now();
        app.update_models();
        term.draw(|f| app.render(f)).unwrap();
        one.push(t.elapsed());
        // A second later: only the SCALED column (drawn for the visible rows) moves.
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
    assert!(screen.contains(&format!("HPA ({ROWS} ·")), "{screen}");
    for (label, samples) in [
        ("every HPA changed      ", full),
        ("one HPA changed        ", one),
        ("a second later, SCALED ", ages),
        ("nothing changed, redraw", redraw),
    ] {
        let (m, p95, max) = summary(samples);
        println!("frame, {ROWS} HPAs, {label}: median {m:.2} ms, p95 {p95:.2} ms, max {max:.2} ms");
    }
}

/// Every cluster's pods and HPAs listed, their watches live.
fn loaded(c: &client::Client, pods: usize, hpas: bool) -> bool {
    c.app.world.clusters().iter().all(|h| {
        let s = &h.sources;
        s.state::<kdeck::k8s::pod::Pod>().is_live()
            && s.objects::<kdeck::k8s::pod::Pod>().len() >= pods
            && (!hpas || s.state::<HorizontalPodAutoscaler>().is_live())
    })
}

/// In a child process: connect with or without the HPA pane, wait for the full first frame,
/// print the RSS growth in MiB.
fn child(kubeconfig: &str, with_hpa: bool, scale: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let baseline = rss_mib(self_pid());
    let grown = rt.block_on(async {
        let panes: Vec<_> = registry()
            .into_iter()
            .filter(|p| with_hpa || p.id() != "hpa")
            .collect();
        let mut c =
            client::Client::connect_with(std::path::Path::new(kubeconfig), 120, 40, panes).await;
        if with_hpa {
            c.app.focus_pane("hpa");
        }
        let started = Instant::now();
        loop {
            let ready = loaded(&c, scale, with_hpa);
            c.frame();
            if ready {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(600), "no data");
            c.wait_change(Duration::from_millis(100)).await;
        }
        // A few frames more, as the controllers move objects.
        for _ in 0..20 {
            c.wait_change(Duration::from_millis(100)).await;
            c.frame();
        }
        rss_mib(self_pid()) - baseline
    });
    println!("{grown:.1}");
}

fn rss_share() {
    const SCALE: usize = 10_000;
    let demo = DemoServe::start(2, SCALE, 1.0);
    let exe = std::env::current_exe().unwrap();
    let run = |with: bool| -> f64 {
        let out = std::process::Command::new(&exe)
            .env("KDECK_BENCH_CHILD", if with { "with" } else { "without" })
            .env("KDECK_BENCH_KUBECONFIG", &demo.kubeconfig)
            .env("KDECK_BENCH_SCALE", SCALE.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .unwrap()
    };
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        without.push(run(false));
        with.push(run(true));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (a, b) = (median(without), median(with));
    println!(
        "\nclient RSS at --scale {SCALE} (2 clusters, median of 3 runs): without the HPA pane \
         {a:.1} MiB, with it {b:.1} MiB: the HPA pane's share {:.1} MiB ({:.1}%)",
        b - a,
        100.0 * (b - a) / b.max(f64::EPSILON)
    );
    println!(
        "(its own watches: HPAs, StatefulSets, ScaledObjects, VPAs; Deployments and Rollouts are \
         shared with the Rollouts pane; plus its rows, caches and replica history)"
    );
}

fn main() {
    if let Ok(role) = std::env::var("KDECK_BENCH_CHILD") {
        let kubeconfig = std::env::var("KDECK_BENCH_KUBECONFIG").unwrap();
        let scale = std::env::var("KDECK_BENCH_SCALE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        child(&kubeconfig, role == "with", scale);
        return;
    }
    println!("kdeck HPA pane benchmark (release build)\n");
    frame_times();
    rss_share();
}
