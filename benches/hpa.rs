//! HPA pane figures: frame time with 2,000 HPAs (every object changed, one changed, a second
//! later, nothing changed), and the pane's share of the client's memory against the demo at
//! `--scale 10000` (two clusters): the same client with and without the HPA pane, each in a
//! process of its own, from connecting to the first full frame.
//!
//! Run: `cargo bench --bench hpa`

#[path = "support/client.rs"]
mod client;
#[path = "support/common.rs"]
mod common;
#[path = "support/frames.rs"]
mod frames;

use std::time::{Duration, Instant};

use chrono::Utc;
use kdeck::k8s::apps::Deployment;
use kdeck::k8s::autoscaling::HorizontalPodAutoscaler;
use kdeck::panes::registry;
use kdeck::source::SourceState;
use serde_json::json;

use common::{DemoServe, rss_mib, self_pid};
use frames::Frames;

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
    let handle = frames::test_cluster("");
    let (hpas, deployments): (Vec<_>, Vec<_>) = (0..ROWS).map(synthetic).unzip();
    let live = SourceState::Live { since: Utc::now() };
    handle.sources.set_test_kind(hpas.clone(), live.clone());
    handle.sources.set_test_kind(deployments, live.clone());
    let mut f = Frames::new(handle.clone(), "hpa");
    // Fresh versions every round, so no round hits the cache of an earlier one.
    let with_rv = |round: usize, one: bool| {
        let mut set = hpas.clone();
        for h in &mut set {
            let rv = h.metadata.resource_version.take().unwrap_or_default();
            h.metadata.resource_version = Some(format!("{rv}-{round}"));
        }
        if one {
            set[ROWS / 2].metadata.resource_version = Some(format!("changed-{round}"));
        }
        handle.sources.set_test_kind(set, live.clone());
    };
    f.time(
        &format!("frame, {ROWS} HPAs"),
        120,
        &format!("HPA ({ROWS} ·"),
        vec![
            // Every HPA changed (a relist): every row is rebuilt.
            ("every HPA changed", frames::step(|_, i| with_rv(i, false))),
            // One HPA's status written (the common case).
            ("one HPA changed", frames::step(|_, i| with_rv(i, true))),
            // Only the SCALED column (drawn for the visible rows) moves.
            ("a second later, SCALED", Frames::a_second_later(f.start)),
            ("nothing changed, redraw", Frames::nothing()),
        ],
    );
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
