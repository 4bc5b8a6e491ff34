//! The demo cluster under load: memory per stored object, the simulator's CPU at rest, list
//! throughput (objects/s) and watch fan-out (events delivered/s to many watchers), at
//! `--scale 10000`.
//!
//! Run: `cargo bench --bench demo_api`

#[path = "support/common.rs"]
mod common;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::{DemoServe, cpu_secs, rss_mib};

const KINDS: &[&str] = &[
    "/api/v1/pods",
    "/api/v1/events",
    "/api/v1/services",
    "/api/v1/configmaps",
    "/apis/apps/v1/deployments",
    "/apis/apps/v1/replicasets",
    "/apis/autoscaling/v2/horizontalpodautoscalers",
    "/apis/argoproj.io/v1alpha1/rollouts",
    "/apis/argoproj.io/v1alpha1/applications",
];

async fn count(http: &reqwest::Client, api: &str, path: &str) -> usize {
    let mut total = 0;
    let mut cont = String::new();
    loop {
        let url = format!("{api}{path}?limit=500&continue={cont}");
        let v: Value = http.get(url).send().await.unwrap().json().await.unwrap();
        total += v["items"].as_array().map_or(0, Vec::len);
        match v.pointer("/metadata/continue").and_then(Value::as_str) {
            Some(c) if !c.is_empty() => cont = c.to_string(),
            _ => return total,
        }
    }
}

async fn objects(http: &reqwest::Client, api: &str) -> usize {
    let mut n = 0;
    for k in KINDS {
        n += count(http, api, k).await;
    }
    n
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!("demo cluster benchmark (release build, one simulated cluster)\n");

    // Memory per stored object: the same cluster with and without 10,000 extra pods.
    let mut sizes = Vec::new();
    for scale in [0usize, 10_000] {
        let demo = DemoServe::start(1, scale, 1.0);
        std::thread::sleep(Duration::from_secs(5));
        let n = rt.block_on(objects(&demo.http(), &demo.api_url(0)));
        let rss = rss_mib(demo.pid());
        // Controllers at rest: CPU of the simulator over 10 s with nobody watching.
        let cpu0 = cpu_secs(demo.pid());
        std::thread::sleep(Duration::from_secs(10));
        let idle = cpu_secs(demo.pid()) - cpu0;
        println!(
            "--scale {scale:>5}: {n:>6} objects (main kinds), RSS {rss:7.1} MiB, \
             simulator CPU {idle:.2} s per 10 s"
        );
        sizes.push((n, rss));
    }
    let (n0, r0) = sizes[0];
    let (n1, r1) = sizes[1];
    println!(
        "≈ {:.0} bytes of RSS per added object (objects, watch history, metrics series)\n",
        (r1 - r0) * 1024.0 * 1024.0 / (n1 - n0) as f64
    );

    let demo = DemoServe::start(1, 10_000, 1.0);
    let api = demo.api_url(0);
    let http = demo.http();
    rt.block_on(async {
        // List throughput: paged, as kube-rs lists (500 per page), and in one response.
        for (label, limit) in [("paged (500)", "500"), ("unpaged", "")] {
            let started = Instant::now();
            let mut listed = 0usize;
            for _ in 0..5 {
                let mut cont = String::new();
                loop {
                    let url = if limit.is_empty() {
                        format!("{api}/api/v1/pods")
                    } else {
                        format!("{api}/api/v1/pods?limit={limit}&continue={cont}")
                    };
                    let v: Value = http.get(url).send().await.unwrap().json().await.unwrap();
                    listed += v["items"].as_array().map_or(0, Vec::len);
                    match v.pointer("/metadata/continue").and_then(Value::as_str) {
                        Some(c) if !c.is_empty() && !limit.is_empty() => cont = c.to_string(),
                        _ => break,
                    }
                }
            }
            let secs = started.elapsed().as_secs_f64();
            println!("list pods {label:<12}: {listed} objects in {secs:.2} s = {:.0} objects/s", listed as f64 / secs);
        }

        // Watch fan-out: 100 watchers of one namespace's ConfigMaps, 200 creations.
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}});
        http.post(format!("{api}/api/v1/namespaces")).json(&ns).send().await.unwrap();
        let watchers = 100usize;
        let creations = 200usize;
        let mut tasks = Vec::new();
        for _ in 0..watchers {
            let url = format!("{api}/api/v1/namespaces/bench/configmaps?watch=1");
            let mut resp = http.get(url).send().await.unwrap();
            tasks.push(tokio::spawn(async move {
                let mut seen = 0usize;
                while let Ok(Some(chunk)) = resp.chunk().await {
                    seen += chunk.windows(7).filter(|w| *w == b"\"ADDED\"").count();
                    if seen >= creations {
                        break;
                    }
                }
                Instant::now()
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = Instant::now();
        for i in 0..creations {
            let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("cm-{i}")}, "data": {"k": "v"}});
            http.post(format!("{api}/api/v1/namespaces/bench/configmaps")).json(&cm).send().await.unwrap();
        }
        let mut last = started;
        for t in tasks {
            last = last.max(t.await.unwrap());
        }
        let secs = (last - started).as_secs_f64();
        println!(
            "watch fan-out: {watchers} watchers × {creations} events = {} deliveries in {secs:.2} s = {:.0} events/s",
            watchers * creations,
            (watchers * creations) as f64 / secs
        );
    });
}
