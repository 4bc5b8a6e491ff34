//! The demo Prometheus against a real one: the same Istio-shaped samples are loaded into the
//! demo TSDB and backfilled into Prometheus 2.42, and a table of the queries kdeck runs
//! (canary success rates, p99 latency, breaker 503s, backups, ejections, ...) is compared as
//! instant queries at several times and as range queries, through each side's HTTP API.

use std::collections::BTreeMap;
use std::time::Duration;

use kdeck_demo::prom::PromState;
use kdeck_demo::prom::http::respond;
use serde_json::Value;

use kdeck_demo::testing::prometheus_server::{PromServer, SeriesData, encode_query};
use kdeck_demo::testing::support;

const STEP_MS: i64 = 5000;
/// 90 minutes of samples at 5 s.
const SAMPLES: i64 = 1081;

/// Deterministic pseudo-random numbers (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, n).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn lbl(name: &str, pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    kdeck_demo::prom::tsdb::labels(name, pairs)
}

/// The synthetic dataset: Istio request counters (with a counter reset, a series that
/// starts late and one that stops), latency histograms, Envoy ejections, Velero backup
/// times, deployment replica gauges, an info metric for joins and a gauge with NaNs.
fn dataset(base: i64) -> Vec<SeriesData> {
    let mut rng = Rng(42);
    let mut out: Vec<SeriesData> = Vec::new();
    let t = |i: i64| base + i * STEP_MS;

    // (service, workload, revision, code, flags, mean increments per 5 s)
    let req_series: &[(&str, &str, &str, &str, &str, u64)] = &[
        ("reviews", "reviews-primary", "v1", "200", "-", 40),
        ("reviews", "reviews-primary", "v1", "503", "UO", 2),
        ("reviews", "reviews-primary", "v1", "503", "URX", 1),
        ("reviews", "reviews-primary", "v1", "500", "-", 1),
        ("reviews", "reviews", "v2", "200", "-", 12),
        ("reviews", "reviews", "v2", "503", "UO", 3),
        ("reviews", "reviews", "v2", "503", "UH", 2),
        ("reviews", "reviews", "v2", "500", "-", 2),
        ("ratings", "ratings", "v1", "200", "-", 25),
        ("ratings", "ratings", "v1", "503", "UH", 1),
        ("ratings", "ratings", "v1", "404", "-", 1),
    ];
    for reporter in ["source", "destination"] {
        for &(svc, wl, rev, code, flags, mean) in req_series {
            // Breaker 503s are only seen by the source proxy.
            if reporter == "destination" && code == "503" && flags != "-" && flags != "UH" {
                continue;
            }
            let labels = lbl(
                "istio_requests_total",
                &[
                    ("reporter", reporter),
                    ("destination_service_name", svc),
                    ("destination_workload", wl),
                    ("destination_canonical_revision", rev),
                    ("response_code", code),
                    ("response_flags", flags),
                ],
            );
            let mut samples = Vec::new();
            let mut c = rng.below(1000) as f64;
            // The canary's 200s start late (a new pod) and its pod restarts later.
            let (first, reset_at) = if wl == "reviews" && code == "200" {
                (120, Some(700))
            } else {
                (0, None)
            };
            // The ratings 404 series stops (its pod goes away) before the end.
            let last = if code == "404" { 900 } else { SAMPLES };
            for i in first..last {
                if Some(i) == reset_at {
                    c = 0.0;
                }
                c += rng.below(2 * mean + 1) as f64;
                samples.push((t(i), c));
            }
            out.push((labels, samples));
        }
    }

    // Latency histograms at the destination, per workload.
    let bounds = [
        "1", "5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000", "10000", "+Inf",
    ];
    let bound_vals = [
        1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
    ];
    for (wl, rev, slow) in [
        ("reviews-primary", "v1", 30.0),
        ("reviews", "v2", 120.0),
        ("ratings", "v1", 8.0),
    ] {
        let mut counts = vec![0.0; bounds.len()];
        let mut sum = 0.0;
        let mut series: Vec<Vec<(i64, f64)>> = vec![Vec::new(); bounds.len()];
        let mut sums = Vec::new();
        let mut cnts = Vec::new();
        for i in 0..SAMPLES {
            let n = rng.below(20);
            for _ in 0..n {
                // Exponential-ish latency with a long tail.
                let obs = -slow * (1.0 - rng.unit()).ln();
                sum += obs;
                for (b, ub) in bound_vals.iter().enumerate() {
                    if obs <= *ub {
                        counts[b] += 1.0;
                    }
                }
                counts[bounds.len() - 1] += 1.0;
            }
            for (b, s) in series.iter_mut().enumerate() {
                s.push((t(i), counts[b]));
            }
            sums.push((t(i), sum));
            cnts.push((t(i), counts[bounds.len() - 1]));
        }
        let common = [
            ("reporter", "destination"),
            (
                "destination_service_name",
                if wl == "ratings" {
                    "ratings"
                } else {
                    "reviews"
                },
            ),
            ("destination_workload", wl),
            ("destination_canonical_revision", rev),
        ];
        for (b, s) in series.into_iter().enumerate() {
            let mut pairs = common.to_vec();
            pairs.push(("le", bounds[b]));
            out.push((lbl("istio_request_duration_milliseconds_bucket", &pairs), s));
        }
        out.push((
            lbl("istio_request_duration_milliseconds_sum", &common),
            sums,
        ));
        out.push((
            lbl("istio_request_duration_milliseconds_count", &common),
            cnts,
        ));
    }

    // Outlier ejections seen by two client pods.
    for pod in ["productpage-1", "productpage-2"] {
        for subset in ["v1", "v2"] {
            let cluster = format!("outbound|9080|{subset}|reviews.default.svc.cluster.local");
            let labels = lbl(
                "envoy_cluster_outlier_detection_ejections_active",
                &[("cluster_name", &cluster), ("pod", pod)],
            );
            let mut v = 0.0;
            let samples = (0..SAMPLES)
                .map(|i| {
                    if rng.below(40) == 0 {
                        v = rng.below(if subset == "v2" { 4 } else { 2 }) as f64;
                    }
                    (t(i), v)
                })
                .collect();
            out.push((labels, samples));
        }
    }

    // Velero: the hourly schedule succeeds every 20 minutes here; the daily one is stale.
    for (schedule, every) in [("hourly", 240), ("daily", 100_000)] {
        let labels = lbl(
            "velero_backup_last_successful_timestamp",
            &[("schedule", schedule)],
        );
        let samples = (0..SAMPLES)
            .map(|i| {
                let last = if every > SAMPLES {
                    (base - 86_400_000) / 1000
                } else {
                    t(i - i % every) / 1000
                };
                (t(i), last as f64)
            })
            .collect();
        out.push((labels, samples));
    }

    // Deployments: available vs desired replicas, and an info metric to join on.
    for (ns, dep, owner) in [
        ("default", "reviews", "team-a"),
        ("default", "ratings", "team-b"),
        ("shop", "cart", "team-a"),
    ] {
        let spec = 3.0;
        let avail: Vec<(i64, f64)> = (0..SAMPLES)
            .map(|i| {
                (
                    t(i),
                    if (i / 60) % 4 == 1 && dep != "ratings" {
                        2.0
                    } else {
                        3.0
                    },
                )
            })
            .collect();
        let pairs = [("namespace", ns), ("deployment", dep)];
        out.push((
            lbl("kube_deployment_status_replicas_available", &pairs),
            avail,
        ));
        out.push((
            lbl("kube_deployment_spec_replicas", &pairs),
            (0..SAMPLES).map(|i| (t(i), spec)).collect(),
        ));
        out.push((
            lbl(
                "kdeck_workload_info",
                &[("destination_workload", dep), ("owner", owner)],
            ),
            (0..SAMPLES).map(|i| (t(i), 1.0)).collect(),
        ));
    }
    out.push((
        lbl(
            "kdeck_workload_info",
            &[
                ("destination_workload", "reviews-primary"),
                ("owner", "team-a"),
            ],
        ),
        (0..SAMPLES).map(|i| (t(i), 1.0)).collect(),
    ));

    // Odd classic histograms: no +Inf bucket, counts that dip, the same bound spelled twice,
    // non-positive bounds, no observations.
    let weird: &[(&str, &[(&str, f64)])] = &[
        ("noinf", &[("1", 1.0), ("5", 3.0)]),
        ("dip", &[("1", 10.0), ("5", 8.0), ("+Inf", 12.0)]),
        (
            "dup",
            &[("1", 2.0), ("1.0", 3.0), ("10", 6.0), ("+Inf", 8.0)],
        ),
        ("neg", &[("-1", 1.0), ("0", 2.0), ("+Inf", 4.0)]),
        ("zero", &[("1", 0.0), ("+Inf", 0.0)]),
        ("single", &[("+Inf", 5.0)]),
    ];
    for (case, buckets) in weird {
        for (le, per_step) in *buckets {
            out.push((
                lbl("kdeck_weird_bucket", &[("case", case), ("le", le)]),
                (0..SAMPLES).map(|i| (t(i), per_step * i as f64)).collect(),
            ));
        }
    }

    // A gauge with NaNs and infinities.
    out.push((
        lbl("kdeck_test_gauge", &[("kind", "odd")]),
        (0..SAMPLES)
            .map(|i| {
                let v = match i % 97 {
                    0 => f64::NAN,
                    50 => f64::INFINITY,
                    _ => (i % 13) as f64 - 6.0,
                };
                (t(i), v)
            })
            .collect(),
    ));
    out
}

/// The queries compared; each runs as an instant query at every instant and as every range.
const QUERIES: &[&str] = &[
    // Canary vs stable success rate, as Flagger and Argo Rollouts compute it.
    r#"sum by (destination_workload) (rate(istio_requests_total{reporter="destination",destination_service_name="reviews",response_code!~"5.*"}[1m])) / sum by (destination_workload) (rate(istio_requests_total{reporter="destination",destination_service_name="reviews"}[1m]))"#,
    r#"sum(irate(istio_requests_total{reporter="source",destination_service_name=~"reviews",response_code!~"5.*"}[5m])) / sum(irate(istio_requests_total{reporter="source",destination_service_name=~"reviews"}[5m]))"#,
    r#"100 * sum by (destination_service_name) (rate(istio_requests_total{reporter="destination",response_code!~"5.*"}[1m])) / sum by (destination_service_name) (rate(istio_requests_total{reporter="destination"}[1m]))"#,
    // Latency quantiles.
    r#"histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{reporter="destination"}[1m])) by (le))"#,
    r#"histogram_quantile(0.5, sum by (le, destination_workload) (rate(istio_request_duration_milliseconds_bucket[5m])))"#,
    r#"histogram_quantile(0.9, rate(istio_request_duration_milliseconds_bucket{destination_workload="ratings"}[1m]))"#,
    r#"histogram_quantile(1, sum by (le) (rate(istio_request_duration_milliseconds_bucket[2m])))"#,
    r#"histogram_quantile(0, sum by (le) (rate(istio_request_duration_milliseconds_bucket[2m])))"#,
    r#"sum(rate(istio_request_duration_milliseconds_sum[1m])) by (destination_workload) / sum(rate(istio_request_duration_milliseconds_count[1m])) by (destination_workload)"#,
    // Breaker trips at the source.
    r#"sum by (destination_service_name, response_flags) (rate(istio_requests_total{reporter="source",response_code="503",response_flags=~"UO|UH|URX"}[1m]))"#,
    r#"sum by (destination_workload) (increase(istio_requests_total{reporter="source",response_code="503",response_flags="UO"}[5m]))"#,
    // Counter functions over the reset and the late/stopping series.
    r#"increase(istio_requests_total[5m])"#,
    r#"rate(istio_requests_total[1m])"#,
    r#"rate(istio_requests_total[37s])"#,
    r#"irate(istio_requests_total[1m])"#,
    r#"resets(istio_requests_total[30m])"#,
    r#"rate(istio_requests_total{response_code="200"}[2m] offset 5m)"#,
    r#"sum(istio_requests_total) - sum(istio_requests_total offset 1m)"#,
    r#"istio_requests_total{response_code="404"}"#,
    // Backups.
    r#"time() - velero_backup_last_successful_timestamp"#,
    r#"(time() - velero_backup_last_successful_timestamp) > 3600"#,
    r#"last_over_time(velero_backup_last_successful_timestamp[1h])"#,
    r#"velero_backup_last_successful_timestamp offset 10m"#,
    // Ejections and gauges.
    r#"max_over_time(envoy_cluster_outlier_detection_ejections_active[10m])"#,
    r#"min_over_time(envoy_cluster_outlier_detection_ejections_active[10m])"#,
    r#"avg_over_time(envoy_cluster_outlier_detection_ejections_active[10m])"#,
    r#"sum_over_time(envoy_cluster_outlier_detection_ejections_active[3m])"#,
    r#"count_over_time(envoy_cluster_outlier_detection_ejections_active[1m])"#,
    r#"changes(envoy_cluster_outlier_detection_ejections_active[15m])"#,
    r#"delta(envoy_cluster_outlier_detection_ejections_active[5m])"#,
    r#"idelta(envoy_cluster_outlier_detection_ejections_active[5m])"#,
    r#"sum by (cluster_name) (envoy_cluster_outlier_detection_ejections_active)"#,
    r#"envoy_cluster_outlier_detection_ejections_active > 0"#,
    r#"envoy_cluster_outlier_detection_ejections_active > bool 1"#,
    r#"0 < envoy_cluster_outlier_detection_ejections_active"#,
    r#"2 >= bool envoy_cluster_outlier_detection_ejections_active"#,
    r#"envoy_cluster_outlier_detection_ejections_active == 1"#,
    r#"envoy_cluster_outlier_detection_ejections_active != 0"#,
    // Deployments, comparisons and joins.
    r#"kube_deployment_status_replicas_available < kube_deployment_spec_replicas"#,
    r#"kube_deployment_status_replicas_available / kube_deployment_spec_replicas"#,
    r#"kube_deployment_status_replicas_available - on(namespace, deployment) kube_deployment_spec_replicas"#,
    r#"kube_deployment_status_replicas_available - ignoring(namespace) group_left kube_deployment_spec_replicas{namespace="default"}"#,
    r#"sum by (destination_workload) (rate(istio_requests_total{reporter="destination"}[1m])) * on(destination_workload) group_left(owner) kdeck_workload_info"#,
    r#"kdeck_workload_info * on(destination_workload) group_right(owner) sum by (destination_workload) (rate(istio_requests_total{reporter="destination"}[1m]))"#,
    r#"rate(istio_requests_total{reporter="destination"}[1m]) * on(destination_workload) group_left(owner) kdeck_workload_info"#,
    r#"kube_deployment_status_replicas_available or kube_deployment_spec_replicas"#,
    r#"kube_deployment_status_replicas_available < 3 or kube_deployment_spec_replicas"#,
    r#"kube_deployment_status_replicas_available and kube_deployment_status_replicas_available < 3"#,
    r#"kube_deployment_spec_replicas unless kube_deployment_status_replicas_available < 3"#,
    r#"sum by (destination_workload) (rate(istio_requests_total[1m])) unless on(destination_workload) sum by (destination_workload) (rate(istio_requests_total{response_code="404"}[1m]))"#,
    r#"rate(istio_requests_total[1m]) and on(destination_workload) kdeck_workload_info{owner="team-a"}"#,
    // Aggregations.
    r#"topk(3, rate(istio_requests_total[1m]))"#,
    r#"bottomk(2, rate(istio_requests_total[1m]))"#,
    r#"topk by (reporter) (2, rate(istio_requests_total[1m]))"#,
    r#"topk(2, kube_deployment_spec_replicas)"#,
    r#"bottomk(1, kdeck_test_gauge)"#,
    r#"avg by (reporter) (rate(istio_requests_total[1m]))"#,
    r#"min by (reporter) (rate(istio_requests_total[1m]))"#,
    r#"max without (response_code, response_flags) (rate(istio_requests_total[1m]))"#,
    r#"count by (reporter) (istio_requests_total)"#,
    r#"count(istio_requests_total)"#,
    r#"sum without (response_flags, response_code) (rate(istio_requests_total[1m]))"#,
    r#"stddev by (destination_service_name) (rate(istio_requests_total[1m]))"#,
    r#"stdvar(rate(istio_requests_total[1m]))"#,
    r#"quantile(0.9, rate(istio_requests_total[1m]))"#,
    r#"quantile by (reporter) (0.25, rate(istio_requests_total[1m]))"#,
    r#"group by (destination_workload) (istio_requests_total)"#,
    r#"sum by (__name__) ({__name__=~"kube_deployment_.*"})"#,
    r#"sum(rate(istio_requests_total[1m])) by (destination_service_name) > 1"#,
    // Scalars, vectors, arithmetic and simple functions.
    r#"1 / 0"#,
    r#"-1 / 0"#,
    r#"0 / 0"#,
    r#"2 ^ 10 % 7"#,
    r#"1 < bool 2"#,
    r#"time()"#,
    r#"vector(1)"#,
    r#"vector(time()) - on() group_left velero_backup_last_successful_timestamp{schedule="hourly"}"#,
    r#"scalar(sum(kube_deployment_spec_replicas))"#,
    r#"scalar(kube_deployment_spec_replicas)"#,
    r#"kube_deployment_spec_replicas * scalar(count(kube_deployment_spec_replicas))"#,
    r#"rate(istio_requests_total{response_code="500"}[1m]) / 0"#,
    r#"(rate(istio_requests_total{response_code="500"}[1m]) - rate(istio_requests_total{response_code="500"}[1m])) / 0"#,
    r#"istio_requests_total{response_code="500"} % 7"#,
    r#"istio_requests_total{response_code="404"} ^ 0.5"#,
    r#"-rate(istio_requests_total{response_code="404"}[1m])"#,
    r#"abs(delta(envoy_cluster_outlier_detection_ejections_active[5m]))"#,
    r#"ceil(rate(istio_requests_total{response_code="500"}[1m]))"#,
    r#"floor(rate(istio_requests_total{response_code="500"}[1m]))"#,
    r#"round(rate(istio_requests_total{response_code="500"}[1m]), 0.1)"#,
    r#"round(rate(istio_requests_total{response_code="500"}[1m]))"#,
    r#"clamp_min(rate(istio_requests_total{response_code="500"}[1m]), 0.3)"#,
    r#"clamp_max(rate(istio_requests_total{response_code="500"}[1m]), 0.3)"#,
    r#"clamp(kdeck_test_gauge, -2, 2)"#,
    r#"sqrt(kube_deployment_spec_replicas)"#,
    r#"ln(kube_deployment_spec_replicas)"#,
    r#"absent(nonexistent_metric{job="x", env=~"prod"})"#,
    r#"absent(kube_deployment_spec_replicas)"#,
    r#"absent_over_time(istio_requests_total{response_code="404"}[5m])"#,
    r#"label_replace(rate(istio_requests_total{reporter="source"}[1m]), "app", "$1", "destination_workload", "(.*)-primary")"#,
    r#"label_replace(kdeck_workload_info, "team", "${1}x", "owner", "team-(.)")"#,
    r#"label_join(kdeck_workload_info, "id", "/", "destination_workload", "owner")"#,
    r#"sort_desc(sum by (destination_workload) (rate(istio_requests_total[1m])))"#,
    // NaN and infinities.
    r#"kdeck_test_gauge"#,
    r#"kdeck_test_gauge == kdeck_test_gauge"#,
    r#"max_over_time(kdeck_test_gauge[10m])"#,
    r#"min_over_time(kdeck_test_gauge[10m])"#,
    r#"avg_over_time(kdeck_test_gauge[10m])"#,
    r#"sum_over_time(kdeck_test_gauge[10m])"#,
    r#"kdeck_test_gauge * 0"#,
    r#"max(kdeck_test_gauge)"#,
    // Odd histograms.
    r#"histogram_quantile(0.5, kdeck_weird_bucket)"#,
    r#"histogram_quantile(0.01, kdeck_weird_bucket)"#,
    r#"histogram_quantile(0.99, rate(kdeck_weird_bucket[1m]))"#,
    r#"histogram_quantile(scalar(vector(0.3)), kdeck_weird_bucket)"#,
    // More operators and edge cases.
    r#"nope / on() group_left() kdeck_workload_info"#,
    r#"velero_backup_last_successful_timestamp offset -10m"#,
    r#"absent(nonexistent_metric{job="x", job="y"})"#,
    r#"vector(1) and on() absent(nope)"#,
    r#"-kdeck_test_gauge"#,
    r#"(kube_deployment_spec_replicas > 2) * 2"#,
    r#"count without (response_flags) (istio_requests_total)"#,
    r#"quantile(0.5, kdeck_test_gauge)"#,
    r#"topk(1, kdeck_test_gauge)"#,
    r#"sum by (destination_workload) (rate(istio_requests_total{reporter="source"}[1m])) / ignoring(response_code) group_left sum by (destination_workload, response_code) (rate(istio_requests_total{reporter="source",response_code="200"}[1m]))"#,
    r#"label_replace(kdeck_workload_info, "owner", "", "owner", ".*")"#,
    r#"exp(kube_deployment_spec_replicas) + log2(kube_deployment_spec_replicas) - log10(kube_deployment_spec_replicas)"#,
    r#"sgn(kdeck_test_gauge)"#,
    r#"present_over_time(istio_requests_total{response_code="404"}[5m])"#,
    // timestamp(): sample times of selectors, evaluation time otherwise.
    r#"timestamp(velero_backup_last_successful_timestamp)"#,
    r#"time() - timestamp(istio_requests_total{response_code="404"})"#,
    r#"timestamp(sum(kube_deployment_spec_replicas))"#,
    r#"timestamp((kube_deployment_spec_replicas))"#,
    r#"timestamp(kube_deployment_spec_replicas offset 1m)"#,
    // Precedence and associativity, as the parser builds them.
    r#"-2 ^ 2"#,
    r#"2 ^ -1"#,
    r#"-kube_deployment_spec_replicas ^ 2"#,
    r#"+kube_deployment_spec_replicas"#,
    r#"1 + 2 * 3 % 4 ^ 2"#,
    r#"2 ^ 3 ^ 2"#,
    r#"kube_deployment_spec_replicas - 1 > 1"#,
    r#"kube_deployment_status_replicas_available > bool 2 == bool 1"#,
    r#"kube_deployment_spec_replicas and kube_deployment_status_replicas_available > 2 or vector(1)"#,
    r#"kube_deployment_status_replicas_available unless kube_deployment_status_replicas_available > 2 or kube_deployment_spec_replicas"#,
    r#"- - kube_deployment_spec_replicas"#,
    // Execution errors must be errors on both sides.
    r#"istio_requests_total + on(reporter) istio_requests_total"#,
    r#"kdeck_workload_info * on(owner) group_left kdeck_workload_info"#,
];

/// Instant-only queries (range vectors).
const INSTANT_ONLY: &[&str] = &[
    r#"istio_requests_total{destination_workload="ratings",response_code="200",reporter="source"}[1m]"#,
    r#"kdeck_test_gauge[30s]"#,
    r#""a string""#,
];

fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    let scale = a.abs().max(b.abs());
    (a - b).abs() <= 1e-9 * scale
}

fn parse_value(v: &Value) -> f64 {
    let s = v.as_str().expect("sample value string");
    match s {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().expect("sample value"),
    }
}

/// Compares one point `[ts, "v"]`; exactly equal values must be spelled the same.
fn cmp_point(a: &Value, b: &Value, ctx: &str, errs: &mut Vec<String>) {
    if a[0] != b[0] {
        errs.push(format!("{ctx}: timestamp {} vs {}", a[0], b[0]));
    }
    let (x, y) = (parse_value(&a[1]), parse_value(&b[1]));
    if !close(x, y) {
        errs.push(format!("{ctx}: value {} vs {}", a[1], b[1]));
    } else if x.to_bits() == y.to_bits() && a[1] != b[1] {
        errs.push(format!("{ctx}: value spelled {} vs {}", a[1], b[1]));
    }
}

fn by_metric(result: &Value) -> BTreeMap<String, Value> {
    result
        .as_array()
        .expect("result array")
        .iter()
        .map(|e| (e["metric"].to_string(), e.clone()))
        .collect()
}

/// Compares two API bodies (ours first); pushes differences to `errs`.
fn compare_bodies(ours: &str, real: &str, ctx: &str, errs: &mut Vec<String>) {
    let a: Value =
        serde_json::from_str(ours).unwrap_or_else(|e| panic!("{ctx}: our body: {e}: {ours}"));
    let b: Value = serde_json::from_str(real).expect("prometheus body");
    if a["status"] != b["status"] {
        errs.push(format!(
            "{ctx}: status {} vs {}: {ours} / {real}",
            a["status"], b["status"]
        ));
        return;
    }
    if b["status"] == "error" {
        if a["errorType"] != b["errorType"] {
            errs.push(format!(
                "{ctx}: errorType {} vs {}",
                a["errorType"], b["errorType"]
            ));
        }
        return;
    }
    let (da, db) = (&a["data"], &b["data"]);
    if da["resultType"] != db["resultType"] {
        errs.push(format!(
            "{ctx}: resultType {} vs {}",
            da["resultType"], db["resultType"]
        ));
        return;
    }
    match db["resultType"].as_str() {
        Some("scalar") => cmp_point(&da["result"], &db["result"], ctx, errs),
        Some("string") => {
            if da["result"] != db["result"] {
                errs.push(format!("{ctx}: {} vs {}", da["result"], db["result"]));
            }
        }
        Some("vector") => {
            let (ma, mb) = (by_metric(&da["result"]), by_metric(&db["result"]));
            if ma.keys().ne(mb.keys()) {
                errs.push(format!(
                    "{ctx}: series {:?} vs {:?}",
                    ma.keys().collect::<Vec<_>>(),
                    mb.keys().collect::<Vec<_>>()
                ));
                return;
            }
            for (k, ea) in &ma {
                cmp_point(&ea["value"], &mb[k]["value"], &format!("{ctx} {k}"), errs);
            }
        }
        Some("matrix") => {
            let (ma, mb) = (by_metric(&da["result"]), by_metric(&db["result"]));
            if ma.keys().ne(mb.keys()) {
                errs.push(format!(
                    "{ctx}: series {:?} vs {:?}",
                    ma.keys().collect::<Vec<_>>(),
                    mb.keys().collect::<Vec<_>>()
                ));
                return;
            }
            // Range results are sorted by labels on both sides.
            let order_a: Vec<&Value> = da["result"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| &e["metric"])
                .collect();
            let order_b: Vec<&Value> = db["result"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| &e["metric"])
                .collect();
            if order_a != order_b {
                errs.push(format!("{ctx}: matrix series order differs"));
            }
            for (k, ea) in &ma {
                let (pa, pb) = (
                    ea["values"].as_array().expect("values"),
                    mb[k]["values"].as_array().expect("values"),
                );
                if pa.len() != pb.len() {
                    errs.push(format!("{ctx} {k}: {} points vs {}", pa.len(), pb.len()));
                    continue;
                }
                for (x, y) in pa.iter().zip(pb) {
                    cmp_point(x, y, &format!("{ctx} {k}"), errs);
                }
            }
        }
        other => errs.push(format!("{ctx}: unexpected resultType {other:?}")),
    }
}

/// Loads the dataset into a demo Prometheus.
fn demo_state(data: &[SeriesData]) -> PromState {
    let st = PromState::new(Duration::from_secs(15 * 86_400));
    for (labels, samples) in data {
        for (t, v) in samples {
            st.tsdb.append(labels.clone(), *t, *v);
        }
    }
    st
}

fn ours(st: &PromState, path: &str, params: &[(&str, &str)]) -> (u16, String) {
    let r = respond(st, "GET", path, &encode_query(params), b"", 0);
    (r.status, String::from_utf8(r.body).expect("utf-8 body"))
}

fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// Data starts three hours before the current hour, well inside Prometheus' retention.
fn base_time() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    (now / 3_600_000 - 3) * 3_600_000
}

#[test]
fn demo_prometheus_matches_real_prometheus() {
    let base = base_time();
    let data = dataset(base);
    let Some(server) = PromServer::start(&data) else {
        return;
    };
    let st = demo_state(&data);
    let end = base + (SAMPLES - 1) * STEP_MS;
    let instants = [
        base + 10 * 60_000,
        base + 31 * 60_000 + 17_500,
        base + 58 * 60_000 + 2_500, // around the canary's counter reset
        base + 75 * 60_000 + 1,     // just after the ratings 404 series stopped
        base + 79 * 60_000,         // its lookback has run out
        end,
        end + 3 * 60_000, // inside the lookback after the last sample
        end + 6 * 60_000, // past it
    ];
    let ranges = [
        (base + 5 * 60_000, base + 85 * 60_000, "60"),
        (base + 20 * 60_000, base + 40 * 60_000 + 123, "7"),
        (base + 55 * 60_000, base + 95 * 60_000, "15s"),
    ];
    if let Ok(q) = std::env::var("KDECK_PROMQL_DEBUG") {
        let t = secs(
            base + std::env::var("KDECK_PROMQL_DEBUG_T")
                .unwrap()
                .parse::<i64>()
                .unwrap(),
        );
        eprintln!(
            "ours: {}",
            ours(&st, "/api/v1/query", &[("query", &q), ("time", &t)]).1
        );
        eprintln!(
            "real: {}",
            server
                .get("/api/v1/query", &[("query", &q), ("time", &t)])
                .1
        );
        return;
    }
    let mut errs = Vec::new();
    let mut compared = 0;
    let mut errors_seen = 0;
    let mut run = |path: &str, params: &[(&str, &str)], ctx: String, errs: &mut Vec<String>| {
        let (sa, ba) = ours(&st, path, params);
        let (sb, bb) = server.get(path, params);
        if sa != sb {
            errs.push(format!("{ctx}: HTTP {sa} vs {sb}: {ba} / {bb}"));
        }
        if sb != 200 {
            errors_seen += 1;
        }
        compare_bodies(&ba, &bb, &ctx, errs);
        compared += 1;
    };
    for q in QUERIES.iter().chain(INSTANT_ONLY) {
        for t in instants {
            let ts = secs(t);
            run(
                "/api/v1/query",
                &[("query", q), ("time", &ts)],
                format!("instant {q} @{}", t - base),
                &mut errs,
            );
        }
    }
    for q in QUERIES.iter().chain(INSTANT_ONLY) {
        for (s, e, step) in ranges {
            let (ss, es) = (secs(s), secs(e));
            run(
                "/api/v1/query_range",
                &[("query", q), ("start", &ss), ("end", &es), ("step", step)],
                format!("range {q} [{}..{} / {step}]", s - base, e - base),
                &mut errs,
            );
        }
    }
    // Metadata endpoints.
    let (s, e) = (secs(base), secs(end));
    for (path, params) in [
        ("/api/v1/labels", vec![]),
        ("/api/v1/labels", vec![("match[]", "istio_requests_total")]),
        ("/api/v1/label/__name__/values", vec![]),
        ("/api/v1/label/response_flags/values", vec![]),
        (
            "/api/v1/label/destination_workload/values",
            vec![("match[]", "kdeck_workload_info{owner=\"team-a\"}")],
        ),
        (
            "/api/v1/series",
            vec![("match[]", "kube_deployment_spec_replicas")],
        ),
        (
            "/api/v1/series",
            vec![
                (
                    "match[]",
                    "envoy_cluster_outlier_detection_ejections_active{pod=~\".*-1\"}",
                ),
                ("match[]", "velero_backup_last_successful_timestamp"),
                ("start", &s),
                ("end", &e),
            ],
        ),
    ] {
        let (sa, ba) = ours(&st, path, &params);
        let (sb, bb) = server.get(path, &params);
        compared += 1;
        let (ja, jb): (Value, Value) = (
            serde_json::from_str(&ba).expect("our json"),
            serde_json::from_str(&bb).expect("their json"),
        );
        if sa != sb || ja != jb {
            errs.push(format!("{path} {params:?}: {sa} {ba}\n   vs {sb} {bb}"));
        }
    }
    // Parameter errors: same status and same body.
    let (s5, e5) = (secs(base + 300_000), secs(base));
    for (path, params) in [
        ("/api/v1/query", vec![("query", "1"), ("time", "abc")]),
        (
            "/api/v1/query_range",
            vec![("query", "1"), ("end", "100"), ("step", "10")],
        ),
        (
            "/api/v1/query_range",
            vec![("query", "1"), ("start", &s5), ("end", &e5), ("step", "10")],
        ),
        (
            "/api/v1/query_range",
            vec![("query", "1"), ("start", &e5), ("end", &s5), ("step", "0")],
        ),
        (
            "/api/v1/query_range",
            vec![("query", "1"), ("start", &e5), ("end", &s5), ("step", "x")],
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", "1"),
                ("start", "0"),
                ("end", "200000"),
                ("step", "10"),
            ],
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", "up[5m]"),
                ("start", &e5),
                ("end", &s5),
                ("step", "10"),
            ],
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", "\"s\""),
                ("start", &e5),
                ("end", &s5),
                ("step", "10"),
            ],
        ),
        ("/api/v1/series", vec![]),
        ("/api/v1/label/1a/values", vec![]),
        ("/api/v1/nope", vec![]),
    ] {
        let (sa, ba) = ours(&st, path, &params);
        let (sb, bb) = server.get(path, &params);
        compared += 1;
        if sa != sb || ba != bb {
            errs.push(format!("{path} {params:?}: {sa} {ba}\n   vs {sb} {bb}"));
        }
    }
    eprintln!(
        "compared {compared} requests against Prometheus ({errors_seen} of them errors on both sides)"
    );
    assert!(
        errs.is_empty(),
        "{} differences from Prometheus:\n{}",
        errs.len(),
        errs.join("\n")
    );
}

#[test]
fn unsupported_promql_is_bad_data() {
    let st = PromState::new(Duration::from_secs(3600));
    st.tsdb.append(lbl("up", &[("job", "x")]), 1_000_000, 1.0);
    for q in [
        "rate(up[5m])[30m:1m]",
        "max_over_time(rate(up[1m])[10m:])",
        "up @ 1000",
        "predict_linear(up[5m], 3600)",
        "holt_winters(up[5m], 0.5, 0.5)",
        "count_values(\"v\", up)",
        "deriv(up[5m])",
        "sum(",
    ] {
        let (status, body) = ours(&st, "/api/v1/query", &[("query", q), ("time", "1000")]);
        let v: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(status, 400, "{q}: {body}");
        assert_eq!(v["status"], "error", "{q}");
        assert_eq!(v["errorType"], "bad_data", "{q}");
        assert!(v.get("data").is_none());
    }
}

/// Our bodies have the same shape (keys, types, nesting) as the recorded real responses.
#[test]
fn bodies_have_the_recorded_shapes() {
    fn shape(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().take(1).map(shape).collect()),
            Value::String(_) => Value::String(String::new()),
            Value::Number(_) => Value::Number(0.into()),
            other => other.clone(),
        }
    }
    let st = PromState::new(Duration::from_secs(86_400));
    for (inst, job) in [("demo.prometheus.io:9090", "prometheus")] {
        for i in 0..100 {
            st.tsdb.append(
                lbl("up", &[("instance", inst), ("job", job)]),
                1_767_433_020_000 + i * 60_000,
                1.0,
            );
        }
    }
    let read = |name: &str| -> Value {
        let p = support::fixture(&format!("prometheus/api-responses/{name}"));
        serde_json::from_str(&std::fs::read_to_string(&p).expect("fixture")).expect("fixture json")
    };
    let (_, body) = ours(
        &st,
        "/api/v1/query",
        &[("query", "up"), ("time", "1767436620")],
    );
    let ours_v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(shape(&ours_v), shape(&read("openapi-query-vector-up.json")));
    // Byte-level: the recorded body's timestamp and value spelling.
    assert!(body.contains("\"value\":[1767436620,\"1\"]"), "{body}");
    let (_, body) = ours(
        &st,
        "/api/v1/query_range",
        &[
            ("query", "up"),
            ("start", "1767433020"),
            ("end", "1767436620"),
            ("step", "1800"),
        ],
    );
    let ours_v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        shape(&ours_v),
        shape(&read("openapi-query_range-matrix.json"))
    );
    assert_eq!(
        ours_v["data"]["result"][0]["values"],
        read("openapi-query_range-matrix.json")["data"]["result"][0]["values"]
    );
    let (_, body) = ours(
        &st,
        "/api/v1/query",
        &[("query", "up[5m]"), ("time", "1767436620")],
    );
    let ours_v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        shape(&ours_v),
        shape(&read("openapi-query-matrix-range-vector.json"))
    );
    // Millisecond timestamps as in the documentation's example.
    let (_, body) = ours(
        &st,
        "/api/v1/query",
        &[("query", "up"), ("time", "1767436620.781")],
    );
    assert!(body.contains("[1767436620.781,\"1\"]"), "{body}");
    let docs = read("docs-query-vector-up.json");
    let ours_v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(shape(&ours_v), shape(&docs));
}

/// `/api/v1/alerts` and `/api/v1/rules` against Prometheus evaluating the same rules.
#[test]
fn alerts_and_rules_match_real_prometheus() {
    let rules_yaml = r#"groups:
- name: demo
  rules:
  - alert: AlwaysFiring
    expr: label_replace(vector(1.5), "instance", "i-1", "", "") > 0
    labels: {severity: page}
    annotations: {summary: "value {{ $value }} on {{ $labels.instance }}"}
  - alert: LongPending
    expr: vector(2)
    for: 10m
  - alert: NeverFires
    expr: vector(1) < 0
"#;
    let Some(server) = PromServer::start_with(&[], Some(rules_yaml)) else {
        return;
    };
    // Wait for the first rule evaluation.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let real_alerts: Value = loop {
        let (_, body) = server.get("/api/v1/alerts", &[]);
        let v: Value = serde_json::from_str(&body).expect("alerts json");
        if v["data"]["alerts"].as_array().is_some_and(|a| a.len() >= 2) {
            break v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no alerts from prometheus: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let (_, real_rules) = server.get("/api/v1/rules", &[]);
    let real_rules: Value = serde_json::from_str(&real_rules).expect("rules json");

    let st = PromState::new(Duration::from_secs(3600));
    *st.rules.write().expect("rules lock") = vec![
        kdeck_demo::prom::AlertRule {
            name: "AlwaysFiring".into(),
            expr: r#"label_replace(vector(1.5), "instance", "i-1", "", "") > 0"#.into(),
            for_secs: 0,
            labels: vec![("severity".into(), "page".into())],
            annotations: vec![(
                "summary".into(),
                "value {{ $value }} on {{ $labels.instance }}".into(),
            )],
        },
        kdeck_demo::prom::AlertRule {
            name: "LongPending".into(),
            expr: "vector(2)".into(),
            for_secs: 600,
            labels: vec![],
            annotations: vec![],
        },
        kdeck_demo::prom::AlertRule {
            name: "NeverFires".into(),
            expr: "vector(1) < 0".into(),
            for_secs: 0,
            labels: vec![],
            annotations: vec![],
        },
    ];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let r = respond(&st, "GET", "/api/v1/alerts", "", b"", now);
    let our_alerts: Value = serde_json::from_slice(&r.body).expect("our alerts json");
    // Same alerts, field for field, except when they became active.
    let strip = |v: &Value| -> Vec<Value> {
        let mut a: Vec<Value> = v["data"]["alerts"]
            .as_array()
            .expect("alerts")
            .iter()
            .map(|a| {
                let mut a = a.clone();
                let at = a["activeAt"].as_str().expect("activeAt").to_string();
                assert!(chrono::DateTime::parse_from_rfc3339(&at).is_ok(), "{at}");
                a["activeAt"] = Value::Null;
                a
            })
            .collect();
        a.sort_by_key(|x| x["labels"].to_string());
        a
    };
    assert_eq!(strip(&our_alerts), strip(&real_alerts));
    assert_eq!(our_alerts["status"], real_alerts["status"]);

    let r = respond(&st, "GET", "/api/v1/rules", "", b"", now);
    let our_rules: Value = serde_json::from_slice(&r.body).expect("our rules json");
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        k.sort();
        k
    };
    let (og, rg) = (
        &our_rules["data"]["groups"][0],
        &real_rules["data"]["groups"][0],
    );
    assert_eq!(keys(og), keys(rg));
    for i in 0..3 {
        let (o, r) = (&og["rules"][i], &rg["rules"][i]);
        assert_eq!(keys(o), keys(r), "rule {i}");
        for field in [
            "state",
            "name",
            "duration",
            "labels",
            "annotations",
            "health",
            "type",
        ] {
            assert_eq!(o[field], r[field], "rule {i} {field}");
        }
        assert_eq!(
            strip_rule_alerts(o),
            strip_rule_alerts(r),
            "rule {i} alerts"
        );
    }
}

fn strip_rule_alerts(rule: &Value) -> Vec<Value> {
    rule["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| {
            let mut a = a.clone();
            a["activeAt"] = Value::Null;
            a
        })
        .collect()
}
