//! Fleet startup and idle cost: kdeck (the real startup code, watches and panes, drawing into
//! a TestBackend) against `kdeck demo serve` run as a separate process, so the figures are
//! kdeck's own. For 1, 10 and 50 clusters at `--scale 1000` (and one cluster at `--scale
//! 10000`) it prints the time until the first and the last cluster has data, the process's
//! RSS, and — with the controllers stopped (`--speed 0`), so nothing changes — kdeck's CPU and
//! the API requests each cluster answered (counted by the demo server), per minute.
//!
//! Each run is a fresh process (memory a process once held is not given back, so runs in one
//! process would inherit each other's RSS).
//!
//! Run: `cargo bench --bench startup` (`KDECK_BENCH_IDLE_SECS` sets the idle window, default
//! 120 s; `KDECK_BENCH_RUNS` picks runs, e.g. `1x1000,50x1000`).

#[path = "support/client.rs"]
mod client;
#[path = "support/common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{DemoServe, cpu_secs, rss_mib, self_pid};
use kdeck::k8s::core::{Namespace, Node};
use kdeck::k8s::pod::Pod;

/// A cluster has data once its pods (at least `at_least`), nodes and namespaces are listed and
/// their watches live: what the Clusters pane shows.
fn has_data(h: &kdeck::cluster::ClusterHandle, at_least: usize) -> bool {
    let s = &h.sources;
    s.state::<Pod>().is_live()
        && s.objects::<Pod>().len() >= at_least
        && s.state::<Node>().is_live()
        && s.state::<Namespace>().is_live()
}

struct Figures {
    first: Duration,
    all: Duration,
    rss: f64,
    cpu_per_min: f64,
    requests_per_min: f64,
    worst_requests_per_min: f64,
    /// Of those, watch requests (re-opened watches).
    watches_per_min: f64,
    demo_rss: f64,
}

fn run(rt: &tokio::runtime::Runtime, clusters: u16, scale: usize, idle: Duration) -> Figures {
    // Nothing moves in the demo: idle traffic and CPU are kdeck's cost of watching.
    let demo = DemoServe::start(clusters, scale, 0.0);
    rt.block_on(async {
        let started = Instant::now();
        let mut c = client::Client::connect(&demo.kubeconfig, 160, 60).await;
        let handles = c.app.world.clusters();
        let mut done: Vec<Option<Duration>> = vec![None; handles.len()];
        // The demo's own pods plus the extra ones, per cluster.
        while done.iter().any(Option::is_none) {
            for (h, d) in handles.iter().zip(done.iter_mut()) {
                if d.is_none() && has_data(h, scale) {
                    *d = Some(started.elapsed());
                }
            }
            let screen = c.frame();
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "no data after 10 min:\n{screen}"
            );
            c.wait_change(Duration::from_millis(20)).await;
        }
        let first = done.iter().flatten().min().copied().unwrap_or_default();
        let all = done.iter().flatten().max().copied().unwrap_or_default();
        // Let the remaining watches, discovery and the first probes settle.
        settle(&mut c, Duration::from_secs(15)).await;
        let rss = rss_mib(self_pid());
        let req0 = demo.requests().await;
        let cpu0 = cpu_secs(self_pid());
        settle(&mut c, idle).await;
        let cpu = cpu_secs(self_pid()) - cpu0;
        let req1 = demo.requests().await;
        let minutes = idle.as_secs_f64() / 60.0;
        let deltas: Vec<f64> = req1
            .iter()
            .zip(&req0)
            .map(|((_, b, _), (_, a, _))| (b - a) as f64 / minutes)
            .collect();
        let watches: u64 = req1
            .iter()
            .zip(&req0)
            .map(|((_, _, b), (_, _, a))| b - a)
            .sum();
        Figures {
            first,
            all,
            rss,
            cpu_per_min: cpu / minutes,
            requests_per_min: deltas.iter().sum::<f64>() / deltas.len() as f64,
            worst_requests_per_min: deltas.iter().copied().fold(0.0, f64::max),
            watches_per_min: watches as f64 / minutes / deltas.len() as f64,
            demo_rss: rss_mib(demo.pid()),
        }
    })
}

/// Runs the client as the run loop does for `d`: a frame on every change notice (at most one
/// per 50 ms) and once a second.
async fn settle(c: &mut client::Client, d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        c.wait_change(Duration::from_secs(1)).await;
        c.frame();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn main() {
    let config = tempfile::tempdir().unwrap();
    // SAFETY: set before any thread starts; kdeck reads its (empty) config from there.
    unsafe { std::env::set_var("KDECK_CONFIG", config.path()) };
    let idle = Duration::from_secs(
        std::env::var("KDECK_BENCH_IDLE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(120),
    );
    let runs: Vec<(u16, usize)> = std::env::var("KDECK_BENCH_RUNS")
        .ok()
        .map(|s| {
            s.split(',')
                .filter_map(|r| {
                    let (c, n) = r.split_once('x')?;
                    Some((c.trim().parse().ok()?, n.trim().parse().ok()?))
                })
                .collect()
        })
        .unwrap_or_else(|| vec![(1, 1000), (10, 1000), (50, 1000), (1, 10_000)]);
    if let Ok(one) = std::env::var("KDECK_BENCH_ONE") {
        let (c, n) = one.split_once('x').unwrap();
        let (clusters, scale): (u16, usize) = (c.parse().unwrap(), n.parse().unwrap());
        // As kdeck's main does: its allocator settings and its log (the log pane's buffer is
        // part of what the process holds).
        kdeck::source::trim::configure();
        kdeck::logging::init(&config.path().join("kdeck.log"), log::LevelFilter::Info).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let f = run(&rt, clusters, scale, idle);
        println!(
            "{clusters:>8}  {scale:>6}  {:>9.0} ms  {:>9.0} ms  {:>6.1} MiB  {:>11.2} s  {:>6.2} (max {:>4.1}, watches {:>4.2})  {:>6.0} MiB",
            f.first.as_secs_f64() * 1000.0,
            f.all.as_secs_f64() * 1000.0,
            f.rss,
            f.cpu_per_min,
            f.requests_per_min,
            f.worst_requests_per_min,
            f.watches_per_min,
            f.demo_rss,
        );
        return;
    }
    println!(
        "kdeck fleet startup benchmark (release build; demo at --speed 0, idle window {} s)\n",
        idle.as_secs()
    );
    println!(
        "{:>8}  {:>6}  {:>12}  {:>12}  {:>10}  {:>13}  {:>34}  {:>10}",
        "clusters",
        "scale",
        "first data",
        "all data",
        "kdeck RSS",
        "idle CPU/min",
        "idle req/min/cluster",
        "demo RSS"
    );
    for (clusters, scale) in runs {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .env("KDECK_BENCH_ONE", format!("{clusters}x{scale}"))
            .env("KDECK_BENCH_IDLE_SECS", idle.as_secs().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "run {clusters}x{scale} failed");
    }
    println!(
        "\nfirst/all data: from the start of kdeck's connect code until the first / the last \
         cluster's pods, nodes and namespaces are listed and live.\nkdeck RSS: the whole \
         process (kdeck's stores, views and runtime) after startup settled.\nidle: \
         controllers stopped; CPU of kdeck and API requests per cluster (every request the \
         demo answered: probes, discovery, watch renewals, Prometheus checks)."
    );
}
