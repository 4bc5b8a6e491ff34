//! The demo's Prometheus at dashboard scale: 3,000 series (100 workloads' Istio request
//! counters, latency histograms and outlier ejections) with 6 hours of samples every 5 s,
//! then kdeck's canary queries as instant and range (1 h at 15 s) queries.
//!
//! Run: `cargo bench --bench promql` (`KDECK_SCALE_STEPS` shortens the history).

use std::time::{Duration, Instant};

use kdeck_demo::prom::Tsdb;
use kdeck_demo::prom::eval::{instant, range};
use kdeck_demo::prom::tsdb::labels;

const T0: i64 = 1_700_000_000_000;

fn main() {
    let db = Tsdb::new(Duration::from_secs(6 * 3600));
    let steps: i64 = std::env::var("KDECK_SCALE_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6 * 720);
    let mut series = Vec::new();
    for w in 0..100 {
        let wl = format!("wl-{w}");
        for code in ["200", "404", "500", "503"] {
            for reporter in ["source", "destination"] {
                series.push(labels(
                    "istio_requests_total",
                    &[
                        ("destination_workload", &wl),
                        ("response_code", code),
                        ("reporter", reporter),
                    ],
                ));
            }
        }
        for le in [
            "5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000", "10000", "+Inf",
        ] {
            series.push(labels(
                "istio_request_duration_milliseconds_bucket",
                &[
                    ("destination_workload", &wl),
                    ("le", le),
                    ("reporter", "destination"),
                ],
            ));
        }
        for p in 0..10 {
            series.push(labels(
                "envoy_cluster_outlier_detection_ejections_active",
                &[("cluster_name", &wl), ("pod", &p.to_string())],
            ));
        }
    }
    let n = series.len();
    let started = Instant::now();
    let mut refs: Vec<_> = series.into_iter().map(|l| db.series_ref(l)).collect();
    let mut vals = vec![0.0; n];
    for i in 0..steps {
        for (j, r) in refs.iter_mut().enumerate() {
            vals[j] += ((i as usize * 7 + j) % 11) as f64;
            db.append_ref(r, T0 + i * 5000, vals[j]);
        }
    }
    let (samples, bytes) = db.storage_stats();
    println!(
        "{n} series, {samples} samples written in {:.2} s ({:.0} samples/s); \
         {:.1} MB stored, {:.2} bytes/sample",
        started.elapsed().as_secs_f64(),
        samples as f64 / started.elapsed().as_secs_f64(),
        bytes as f64 / 1e6,
        bytes as f64 / samples as f64,
    );
    let end = T0 + (steps - 1) * 5000;
    for (name, q) in [
        (
            "success rate by workload",
            "sum by (destination_workload) (rate(istio_requests_total{reporter=\"destination\",response_code!~\"5.*\"}[1m])) / sum by (destination_workload) (rate(istio_requests_total{reporter=\"destination\"}[1m]))",
        ),
        (
            "p99 latency by workload",
            "histogram_quantile(0.99, sum by (le, destination_workload) (rate(istio_request_duration_milliseconds_bucket[1m])))",
        ),
        (
            "ejections by cluster",
            "max by (cluster_name) (envoy_cluster_outlier_detection_ejections_active)",
        ),
    ] {
        let t = Instant::now();
        range(&db, q, end - 3_600_000, end, 15_000).expect(q);
        let range_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        instant(&db, q, end).expect(q);
        let instant_ms = t.elapsed().as_secs_f64() * 1e3;
        println!("{name:<26} instant {instant_ms:7.2} ms   range 1h/15s {range_ms:8.2} ms");
    }
}
