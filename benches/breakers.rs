//! Circuit-breakers pane figures: frame time with 500 DestinationRules (and their services in
//! the Prometheus answer), and what one refresh of the live columns costs on Prometheus —
//! queries and bytes per cluster, for the demo's scenario and with 500 more services — and
//! of an open detail view.
//!
//! Run: `cargo bench --bench breakers`

#[path = "common.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use kdeck::app::{App, AppSettings, known_actions};
use kdeck::clock::Clock;
use kdeck::cluster::{ClusterHandle, ClusterInfo, Discovery, PromReach, Reach};
use kdeck::config::Config;
use kdeck::k8s::istio::{DestinationRule, VirtualService};
use kdeck::keymap::Keymap;
use kdeck::panes::breakers::hosts::ServiceRef;
use kdeck::panes::breakers::pane::list_spec;
use kdeck::panes::{Scope, registry};
use kdeck::source::prometheus::{PromClient, PromEndpoint, PromSeries};
use kdeck::source::{Notifier, PromSnapshot, PromSpec, QueryResult, SourceState};
use kdeck::theme::Theme;
use kdeck::world::World;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use common::summary;

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
    handle.sources.set_prometheus(Some(PromClient::new(
        PromEndpoint::Url("http://127.0.0.1:9".into()),
        None,
        Duration::from_secs(1),
    )));
    let live = SourceState::Live { since: Utc::now() };
    let rules: Vec<DestinationRule> = (0..RULES).map(|i| rule(i, "1")).collect();
    handle.sources.set_test_kind(rules.clone(), live.clone());
    handle
        .sources
        .set_test_kind(Vec::<VirtualService>::new(), live.clone());
    let world = Arc::new(World::new(Notifier::new()));
    world.add(handle.clone());
    let panes = registry();
    let keymap = Keymap::from_texts(
        "default",
        kdeck::keymap::BUILTIN[0].1,
        None,
        &known_actions(&panes),
    );
    let mut app = App::new(
        world,
        panes,
        keymap,
        Theme::builtin("default").unwrap(),
        Config::default(),
        Clock::Fixed(Utc::now()),
        None,
        AppSettings::default(),
        Scope {
            all_clusters: true,
            ..Scope::default()
        },
    );
    app.focus_pane("breakers");
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    app.update_models();
    term.draw(|f| app.render(f)).unwrap();
    let spec = list_spec(&Config::default());
    handle
        .sources
        .set_test_prom(spec.clone(), answer(0), live.clone());
    let (mut all, mut one, mut prom, mut idle) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..120 {
        // Every rule changed: every row rebuilt.
        let set: Vec<DestinationRule> = (0..RULES).map(|i| rule(i, &format!("r{round}"))).collect();
        handle.sources.set_test_kind(set.clone(), live.clone());
        let t = Instant::now();
        app.update_models();
        term.draw(|f| app.render(f)).unwrap();
        all.push(t.elapsed());
        // One rule changed.
        let mut set = set;
        set[RULES / 2].metadata.resource_version = Some(format!("one-{round}"));
        handle.sources.set_test_kind(set, live.clone());
        let t = Instant::now();
        app.update_models();
        term.draw(|f| app.render(f)).unwrap();
        one.push(t.elapsed());
        // A Prometheus refresh that moved every service's numbers.
        handle
            .sources
            .set_test_prom(spec.clone(), answer(round + 1), live.clone());
        let t = Instant::now();
        app.update_models();
        term.draw(|f| app.render(f)).unwrap();
        prom.push(t.elapsed());
        // Nothing changed.
        let t = Instant::now();
        app.update_models();
        term.draw(|f| app.render(f)).unwrap();
        idle.push(t.elapsed());
    }
    let screen = term.backend().to_string();
    assert!(screen.contains(&format!("({RULES} ·")), "{screen}");
    for (label, samples) in [
        ("every rule changed      ", all),
        ("one rule changed        ", one),
        ("prometheus refresh, all ", prom),
        ("nothing changed, redraw ", idle),
    ] {
        let (m, p95, max) = summary(samples);
        println!(
            "frame, {RULES} rules, {label}: median {m:.2} ms, p95 {p95:.2} ms, max {max:.2} ms"
        );
    }
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
