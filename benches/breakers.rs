//! Circuit-breakers pane figures: frame time with 500 DestinationRules (and their services in
//! the Prometheus answer), and what one refresh of the live columns costs on Prometheus —
//! queries and bytes per cluster, for the demo's scenario and with 500 more services — and
//! of an open detail view.
//!
//! Run: `cargo bench --bench breakers`

#[path = "support/common.rs"]
mod common;
#[path = "support/frames.rs"]
mod frames;

use std::time::{Duration, Instant};

use chrono::Utc;
use kdeck::config::Config;
use kdeck::k8s::istio::{DestinationRule, VirtualService};
use kdeck::panes::breakers::hosts::ServiceRef;
use kdeck::panes::breakers::pane::list_spec;
use kdeck::source::prometheus::{PromClient, PromEndpoint, PromSeries};
use kdeck::source::{PromSnapshot, PromSpec, QueryResult, SourceState};
use serde_json::json;

use frames::Frames;

const RULES: usize = 500;

fn rule(i: usize, rv: &str) -> DestinationRule {
    serde_json::from_value(json!({
        "metadata": {"name": format!("svc-{i:03}"), "namespace": format!("team-{:02}", i % 25),
            "uid": format!("uid-{i}"), "resourceVersion": rv},
        "spec": {"host": format!("svc-{i:03}"), "trafficPolicy": {
            "connectionPool": {"tcp": {"maxConnections": 100 + i}, "http": {"http1MaxPendingRequests": 16, "maxRetries": 3}},
            "outlierDetection": {"consecutive5xxErrors": 5, "baseEjectionTime": "30s"},
            "portLevelSettings": [{"port": {"number": 9090}, "connectionPool": {"http": {"http2MaxRequests": 50}}}]},
            "subsets": [{"name": "stable", "labels": {"version": "1"}}, {"name": "canary", "labels": {"version": "2"}}]}
    }))
    .unwrap()
}

/// The list answer for every rule's service, `round` moving every number.
fn answer(round: usize) -> PromSnapshot {
    let svc = |i: usize, extra: &[(&str, &str)], v: f64| {
        let ns = format!("team-{:02}", i % 25);
        let name = format!("svc-{i:03}");
        let mut labels: std::collections::BTreeMap<String, String> = [
            ("destination_service_name".to_string(), name),
            ("destination_service_namespace".to_string(), ns),
        ]
        .into();
        labels.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string())),
        );
        PromSeries {
            labels,
            points: vec![(1.0, v)],
        }
    };
    let r = round as f64;
    let all = |f: &dyn Fn(usize) -> PromSeries| (0..RULES).map(f).collect::<Vec<_>>();
    let result = |id: &str, series| QueryResult {
        id: id.into(),
        series,
        error: None,
        stale_since: None,
    };
    PromSnapshot {
        results: vec![
            result(
                "trips",
                all(&|i| svc(i, &[("response_flags", "UO")], (i % 7) as f64 + r)),
            ),
            result("requests", all(&|i| svc(i, &[], 20.0 + r))),
            result("errors", all(&|i| svc(i, &[], 0.1 * (i % 5) as f64))),
            result("p50", all(&|i| svc(i, &[], 10.0 + r))),
            result("p99", all(&|i| svc(i, &[], 90.0 + r))),
            result("envoy", Vec::new()),
        ],
        fetched_at: Some(Utc::now()),
    }
}

fn frame_times() {
    let handle = frames::test_cluster("");
    handle.sources.set_prometheus(Some(PromClient::new(
        PromEndpoint::Url("http://127.0.0.1:9".into()),
        None,
        Duration::from_secs(1),
    )));
    let live = SourceState::Live { since: Utc::now() };
    let rules: Vec<DestinationRule> = (0..RULES).map(|i| rule(i, "1")).collect();
    handle.sources.set_test_kind(rules, live.clone());
    handle
        .sources
        .set_test_kind(Vec::<VirtualService>::new(), live.clone());
    let mut f = Frames::new(handle.clone(), "breakers");
    let spec = list_spec(&Config::default());
    handle
        .sources
        .set_test_prom(spec.clone(), answer(0), live.clone());
    let set_rules = |round: usize, one: bool| {
        let mut set: Vec<DestinationRule> =
            (0..RULES).map(|i| rule(i, &format!("r{round}"))).collect();
        if one {
            set[RULES / 2].metadata.resource_version = Some(format!("one-{round}"));
        }
        handle.sources.set_test_kind(set, live.clone());
    };
    f.time(
        &format!("frame, {RULES} rules"),
        120,
        &format!("({RULES} ·"),
        vec![
            (
                "every rule changed",
                frames::step(|_, i| set_rules(i, false)),
            ),
            ("one rule changed", frames::step(|_, i| set_rules(i, true))),
            // A Prometheus refresh that moved every service's numbers.
            (
                "prometheus refresh, all",
                frames::step(|_, i| {
                    handle
                        .sources
                        .set_test_prom(spec.clone(), answer(i + 1), live.clone());
                }),
            ),
            ("nothing changed, redraw", Frames::nothing()),
        ],
    );
}

/// (queries, bytes of the answers, wall time) of running `spec` once against `prom_url`.
async fn cost(http: &reqwest::Client, prom_url: &str, spec: &PromSpec) -> (usize, usize, Duration) {
    let now = Utc::now().timestamp() as f64;
    let mut bytes = 0;
    let t = Instant::now();
    for q in &spec.queries {
        let req = match q.range {
            None => http
                .get(format!("{prom_url}/api/v1/query"))
                .query(&[("query", q.promql.clone()), ("time", format!("{now:.3}"))]),
            Some((window, step)) => http.get(format!("{prom_url}/api/v1/query_range")).query(&[
                ("query", q.promql.clone()),
                ("start", format!("{:.3}", now - f64::from(window))),
                ("end", format!("{now:.3}")),
                ("step", step.to_string()),
            ]),
        };
        let body = req.send().await.unwrap().bytes().await.unwrap();
        assert!(
            body.starts_with(b"{\"status\":\"success\""),
            "{}",
            String::from_utf8_lossy(&body)
        );
        bytes += body.len();
    }
    (spec.queries.len(), bytes, t.elapsed())
}

/// Adds `n` services' worth of Istio series (10 minutes, every 15 s) to a demo cluster.
fn add_services(state: &kdeck_demo::ClusterState, n: usize) {
    let now = Utc::now().timestamp_millis();
    for i in 0..n {
        let ns = format!("team-{:02}", i % 25);
        let name = format!("svc-{i:03}");
        for (code, flags, rate) in [("200", "-", 20.0), ("503", "UO", 0.2)] {
            let labels = kdeck_demo::prom::tsdb::labels(
                "istio_requests_total",
                &[
                    ("reporter", "source"),
                    ("source_workload", "caller"),
                    ("destination_service_name", &name),
                    ("destination_service_namespace", &ns),
                    ("response_code", code),
                    ("response_flags", flags),
                ],
            );
            for s in 0..=40 {
                let t = now - 600_000 + s * 15_000;
                state
                    .prom
                    .tsdb
                    .append(labels.clone(), t, rate * (s * 15) as f64);
            }
        }
    }
}

fn prometheus_cost() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let demo = kdeck_demo::Demo::start(kdeck_demo::DemoConfig {
            clusters: 1,
            base_port: 0,
            options: kdeck_demo::SimOptions::default(),
            kubeconfig_out: dir.path().join("kubeconfig"),
        })
        .await
        .unwrap();
        let c = &demo.clusters()[0];
        let http = reqwest::Client::new();
        let config = Config::default();
        let list = list_spec(&config);
        let detail = kdeck::panes::breakers::detail::prom_spec(
            &ServiceRef {
                name: "ledger".into(),
                namespace: "payments".into(),
            },
            &config.queries.breakers,
            Duration::from_secs(15),
        );
        let (q, b, t) = cost(&http, &c.prom_url(), &list).await;
        println!(
            "prometheus per refresh, list (demo scenario, 12 services): {q} queries, {:.1} KiB, {:.0} ms",
            b as f64 / 1024.0,
            t.as_secs_f64() * 1000.0
        );
        let (q, b, t) = cost(&http, &c.prom_url(), &detail).await;
        println!(
            "prometheus per refresh, open detail (30 min every 30 s): {q} queries, {:.1} KiB, {:.0} ms",
            b as f64 / 1024.0,
            t.as_secs_f64() * 1000.0
        );
        add_services(&c.state, RULES);
        let (q, b, t) = cost(&http, &c.prom_url(), &list).await;
        println!(
            "prometheus per refresh, list with {RULES} more services: {q} queries, {:.1} KiB, {:.0} ms \
             (every {} s while the pane is in view, per cluster)",
            b as f64 / 1024.0,
            t.as_secs_f64() * 1000.0,
            config.prometheus.interval_secs
        );
        demo.shutdown().await;
    });
}

fn main() {
    println!("kdeck Circuit-breakers pane benchmark (release build)\n");
    frame_times();
    prometheus_cost();
}
