//! Time to the first data frame, client memory and idle CPU of kdeck against the demo
//! cluster at `--scale 1000` and `--scale 10000` (two clusters, run as a separate process so
//! the figures are kdeck's own).
//!
//! Run: `cargo bench --bench startup`

#[path = "client.rs"]
mod client;
#[path = "common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{DemoServe, cpu_secs, rss_mib, self_pid};

/// Every cluster's pods are listed (at least `at_least`) and its watches live.
fn loaded(c: &client::Client, at_least: usize) -> bool {
    c.app.world.clusters().iter().all(|h| {
        h.sources.state::<kdeck::k8s::pod::Pod>().is_live()
            && h.sources.objects::<kdeck::k8s::pod::Pod>().len() >= at_least
            && h.sources.state::<kdeck::k8s::core::Node>().is_live()
    })
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("kdeck startup benchmark (release build, 2 demo clusters per run)\n");
    println!(
        "{:>7}  {:>14}  {:>16}  {:>14}  {:>18}  {:>14}",
        "scale", "first frame", "client RSS", "demo RSS", "client CPU, 10 s", "frames in 10 s"
    );
    for scale in [1000usize, 10_000] {
        let demo = DemoServe::start(2, scale, 1.0);
        let baseline = rss_mib(self_pid());
        let (first, rss, cpu, frames) = rt.block_on(async {
            let started = Instant::now();
            let mut c = client::Client::connect(&demo.kubeconfig, 120, 40).await;
            // The demo's own pods plus the extra ones, per cluster.
            let want = scale;
            loop {
                let ready = loaded(&c, want);
                let screen = c.frame();
                if ready {
                    // This frame was drawn from the full data.
                    assert!(screen.contains("● live"), "{screen}");
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(600),
                    "no data frame:\n{screen}"
                );
                c.wait_change(Duration::from_millis(100)).await;
            }
            let first = started.elapsed();
            let rss = rss_mib(self_pid()) - baseline;
            // Idle cost: redraw on change only (as the run loop does), for 10 s.
            let cpu0 = cpu_secs(self_pid());
            let until = Instant::now() + Duration::from_secs(10);
            let mut frames = 0u32;
            let mut next_tick = Instant::now() + Duration::from_secs(1);
            while Instant::now() < until {
                let wait = next_tick.saturating_duration_since(Instant::now());
                c.wait_change(wait).await;
                if Instant::now() >= next_tick {
                    next_tick += Duration::from_secs(1);
                }
                c.frame();
                frames += 1;
                // The run loop draws at most every 50 ms.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let cpu = cpu_secs(self_pid()) - cpu0;
            (first, rss, cpu, frames)
        });
        println!(
            "{scale:>7}  {:>11.0} ms  {:>12.1} MiB  {:>10.1} MiB  {:>16.2} s  {:>14}",
            first.as_secs_f64() * 1000.0,
            rss,
            rss_mib(demo.pid()),
            cpu,
            frames
        );
    }
    println!(
        "\nclient RSS: growth of this process from connecting to the first full frame (stores + \
         views for both clusters).\nclient CPU: watches, model updates and frames over 10 s with \
         the demo live (controllers moving objects)."
    );
}
