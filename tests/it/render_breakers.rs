//! Render snapshots of the Circuit-breakers pane (fixed clock, 120x36 and 80x24): live rows
//! with a cluster that has no Istio, the live columns stale after Prometheus went away (the
//! configuration still shown), and the detail view with its half-hour series.

use std::collections::BTreeSet;
use std::sync::Arc;

use kdeck::app::{App, AppSettings};
use kdeck::cluster::{ClusterHandle, Discovery};
use kdeck::config::Config;
use kdeck::k8s::istio::{DestinationRule, VirtualService};
use kdeck::keymap::ActionCall;
use kdeck::panes::breakers::pane::list_spec;
use kdeck::source::prometheus::{PromClient, PromEndpoint, PromSeries};
use kdeck::source::{PromSnapshot, QueryResult, SourceState};
use serde_json::json;

use crate::render::{app_for, draw, handle, info, now, reachable};

fn istio() -> Discovery {
    Discovery {
        resources: Some(BTreeSet::from([
            "destinationrules.networking.istio.io".to_string(),
            "virtualservices.networking.istio.io".to_string(),
        ])),
        ..Discovery::default()
    }
}

fn live() -> SourceState {
    SourceState::Live {
        since: now() - chrono::Duration::seconds(300),
    }
}

fn rules() -> Vec<DestinationRule> {
    let meta = |ns: &str, name: &str| json!({"name": name, "namespace": ns, "uid": name, "resourceVersion": "3"});
    [
        json!({"metadata": meta("payments", "ledger"), "spec": {"host": "ledger.payments.svc.cluster.local",
            "trafficPolicy": {
                "connectionPool": {"tcp": {"maxConnections": 100}, "http": {"http1MaxPendingRequests": 16, "http2MaxRequests": 100, "maxRetries": 3}},
                "outlierDetection": {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s"},
                "portLevelSettings": [{"port": {"number": 9090}, "connectionPool": {"http": {"http1MaxPendingRequests": 16, "http2MaxRequests": 50}}}]},
            "subsets": [{"name": "stable", "labels": {"version": "3.2.5"}}]}}),
        json!({"metadata": meta("shop", "cart"), "spec": {"host": "cart", "trafficPolicy": {
            "connectionPool": {"http": {"http2MaxRequests": 200, "maxRetries": 2}},
            "outlierDetection": {"consecutive5xxErrors": 5, "maxEjectionPercent": 50}}}}),
        json!({"metadata": meta("shop", "catalog"), "spec": {"host": "catalog.shop.svc.cluster.local",
            "trafficPolicy": {"outlierDetection": {"consecutive5xxErrors": 3, "baseEjectionTime": "1m", "maxEjectionPercent": 100}}}}),
        json!({"metadata": meta("shop", "orders"), "spec": {"host": "orders",
            "trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 50}}}}}),
        json!({"metadata": meta("shop", "frontend"), "spec": {"host": "frontend",
            "trafficPolicy": {"loadBalancer": {"simple": "LEAST_REQUEST"}}}}),
    ]
    .into_iter()
    .map(|v| serde_json::from_value(v).unwrap())
    .collect()
}

fn routes() -> Vec<VirtualService> {
    vec![
        serde_json::from_value(json!({
            "metadata": {"name": "cart", "namespace": "shop", "uid": "vs-cart", "resourceVersion": "2"},
            "spec": {"hosts": ["cart"], "http": [{"name": "default", "route": [{"destination": {"host": "cart"}}],
                "retries": {"attempts": 3, "perTryTimeout": "250ms", "retryOn": "5xx,reset"}, "timeout": "2s"}]}
        }))
        .unwrap(),
    ]
}

fn at(secs_ago: i64) -> f64 {
    (now().timestamp() - secs_ago) as f64
}

fn series(pairs: &[(&str, &str)], points: Vec<(f64, f64)>) -> PromSeries {
    PromSeries {
        labels: pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
        points,
    }
}

fn result(id: &str, series: Vec<PromSeries>) -> QueryResult {
    QueryResult {
        id: id.into(),
        series,
        error: None,
        stale_since: None,
    }
}

fn instant(ns: &str, name: &str, extra: &[(&str, &str)], v: f64) -> PromSeries {
    let mut l = vec![
        ("destination_service_name", name),
        ("destination_service_namespace", ns),
    ];
    l.extend_from_slice(extra);
    series(&l, vec![(at(0), v)])
}

/// The list answer: ledger trips UO, cart URX with a host ejected, catalog fully ejected,
/// orders quiet, indexer traffic without a rule.
fn list_answer() -> PromSnapshot {
    let envoy = |name: &str, cluster: &str, v: f64| {
        series(
            &[("__name__", name), ("cluster_name", cluster)],
            vec![(at(0), v)],
        )
    };
    PromSnapshot {
        results: vec![
            result(
                "trips",
                vec![
                    instant("payments", "ledger", &[("response_flags", "UO")], 270.0),
                    instant("shop", "cart", &[("response_flags", "URX")], 96.0),
                    instant("shop", "catalog", &[("response_flags", "UH")], 6000.0),
                ],
            ),
            result(
                "requests",
                vec![
                    instant("payments", "ledger", &[], 18.0),
                    instant("shop", "cart", &[], 36.0),
                    instant("shop", "catalog", &[], 20.0),
                    instant("shop", "orders", &[], 7.5),
                    instant("search", "indexer", &[], 12.0),
                ],
            ),
            result(
                "errors",
                vec![
                    instant("payments", "ledger", &[], 0.93),
                    instant("shop", "cart", &[], 1.4),
                    instant("shop", "catalog", &[], 20.0),
                ],
            ),
            result(
                "p50",
                vec![
                    instant("payments", "ledger", &[], 12.4),
                    instant("shop", "cart", &[], 18.9),
                    instant("shop", "orders", &[], 22.0),
                    instant("search", "indexer", &[], 61.0),
                ],
            ),
            result(
                "p99",
                vec![
                    instant("payments", "ledger", &[], 47.6),
                    instant("shop", "cart", &[], 84.0),
                    instant("shop", "orders", &[], 140.0),
                    instant("search", "indexer", &[], 1210.0),
                ],
            ),
            result(
                "envoy",
                vec![
                    envoy(
                        "envoy_cluster_outlier_detection_ejections_active",
                        "outbound|80||cart.shop.svc.cluster.local",
                        1.0,
                    ),
                    envoy(
                        "envoy_cluster_membership_total",
                        "outbound|80||cart.shop.svc.cluster.local",
                        2.0,
                    ),
                    envoy(
                        "envoy_cluster_outlier_detection_ejections_active",
                        "outbound|80||catalog.shop.svc.cluster.local",
                        2.0,
                    ),
                    envoy(
                        "envoy_cluster_membership_total",
                        "outbound|80||catalog.shop.svc.cluster.local",
                        2.0,
                    ),
                    envoy(
                        "envoy_cluster_outlier_detection_ejections_active",
                        "outbound|9090|stable|ledger.payments.svc.cluster.local",
                        0.0,
                    ),
                    envoy(
                        "envoy_cluster_membership_total",
                        "outbound|9090|stable|ledger.payments.svc.cluster.local",
                        2.0,
                    ),
                ],
            ),
        ],
        fetched_at: Some(now()),
    }
}

fn istio_cluster(name: &str) -> Arc<ClusterHandle> {
    let c = handle(name, info(reachable()), istio());
    c.sources.set_test_kind(rules(), live());
    c.sources.set_test_kind(routes(), live());
    // A client that is never used (no runtime): the cluster has a Prometheus.
    c.sources.set_prometheus(Some(PromClient::new(
        PromEndpoint::Url("http://127.0.0.1:9".into()),
        None,
        std::time::Duration::from_secs(1),
    )));
    c
}

fn no_istio(name: &str) -> Arc<ClusterHandle> {
    let c = handle(
        name,
        info(reachable()),
        Discovery {
            resources: Some(BTreeSet::new()),
            ..Discovery::default()
        },
    );
    c.sources
        .set_test_kind(Vec::<DestinationRule>::new(), SourceState::NotInstalled);
    c.sources
        .set_test_kind(Vec::<VirtualService>::new(), SourceState::NotInstalled);
    c
}

/// The Breakers pane over `clusters`, with `east`'s list answer in `state`.
fn breakers_app(
    east: &Arc<ClusterHandle>,
    others: Vec<Arc<ClusterHandle>>,
    state: SourceState,
) -> App {
    let mut clusters = vec![east.clone()];
    clusters.extend(others);
    let mut app = app_for(clusters, AppSettings::default());
    assert!(app.focus_pane("breakers"));
    // The first update declares the list queries; their answer then goes where the (idle)
    // poller would have put it.
    draw(&mut app, 120, 36);
    let mut snap = list_answer();
    if let SourceState::Stale { since, .. } = &state {
        for r in &mut snap.results {
            r.error = Some("prometheus unreachable: no endpoints available".into());
            r.stale_since = Some(*since);
        }
        snap.fetched_at = Some(*since);
    }
    east.sources
        .set_test_prom(list_spec(&Config::default()), snap, state);
    app
}

#[test]
fn breakers_live_120x36_and_80x24() {
    let east = istio_cluster("prod-us-east");
    let mut app = breakers_app(&east, vec![no_istio("prod-eu-west")], live());
    let screen = draw(&mut app, 120, 36);
    assert!(screen.contains("– prod-eu-west not installed"), "{screen}");
    insta::assert_snapshot!("breakers_live_120x36", screen);
    insta::assert_snapshot!("breakers_live_80x24", draw(&mut app, 80, 24));
}

#[test]
fn breakers_stale_prometheus_keeps_the_config() {
    let east = istio_cluster("prod-us-east");
    let stale = SourceState::Stale {
        since: now() - chrono::Duration::seconds(40),
        retry_at: now() + chrono::Duration::seconds(9),
        reason: "no endpoints available for service \"prometheus:9090\"".into(),
    };
    let mut app = breakers_app(&east, vec![], stale);
    let screen = draw(&mut app, 120, 36);
    assert!(
        screen.contains("◐ prod-us-east prometheus stale since 12:02:24 (retrying in 9s)"),
        "{screen}"
    );
    assert!(screen.contains("◐ UO 270"), "{screen}");
    // The configuration is not Prometheus': shown as ever.
    assert!(screen.contains("100/16/100/3 *"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn breaker_detail_120x36_and_80x24() {
    let east = istio_cluster("prod-us-east");
    let mut app = breakers_app(&east, vec![], live());
    app.dispatch(&ActionCall {
        name: "open-detail".into(),
        args: vec!["ledger".into()],
    });
    draw(&mut app, 120, 36);
    // The half-hour answer for ledger: a point every 30 s.
    let pts = |f: &dyn Fn(f64) -> f64| -> Vec<(f64, f64)> {
        (0..60)
            .map(|i| (at(1770 - i * 30), f(f64::from(i as i32))))
            .collect()
    };
    let caller = [
        ("source_workload", "payments-api"),
        ("source_workload_namespace", "payments"),
    ];
    let req = |version: &str, code: &str, flags: &str, f: &dyn Fn(f64) -> f64| {
        let mut l = caller.to_vec();
        l.extend([
            ("destination_version", version),
            ("response_code", code),
            ("response_flags", flags),
        ]);
        series(&l, pts(f))
    };
    let cluster = "outbound|9090|stable|ledger.payments.svc.cluster.local";
    let envoy = |name: &str, f: &dyn Fn(f64) -> f64| {
        series(&[("__name__", name), ("cluster_name", cluster)], pts(f))
    };
    let snap = PromSnapshot {
        results: vec![
            result(
                "requests",
                vec![
                    req("3.2.5", "200", "-", &|i| 17.0 + (i / 6.0).sin()),
                    req("unknown", "503", "UO", &|i| 0.9 + 0.5 * (i / 5.0).sin()),
                ],
            ),
            result(
                "p99-callers",
                vec![series(&caller, pts(&|i| 46.0 + 3.0 * (i / 7.0).sin()))],
            ),
            result(
                "p99-versions",
                vec![series(
                    &[("destination_version", "3.2.5")],
                    pts(&|i| 45.0 + 3.0 * (i / 7.0).sin()),
                )],
            ),
            result(
                "envoy",
                vec![
                    envoy("envoy_cluster_outlier_detection_ejections_active", &|_| 0.0),
                    envoy("envoy_cluster_membership_total", &|_| 2.0),
                    envoy("envoy_cluster_upstream_rq_pending_active", &|i| {
                        if i > 40.0 { 16.0 } else { 9.0 }
                    }),
                    envoy("envoy_cluster_upstream_rq_active", &|_| 48.0),
                ],
            ),
            result(
                "overflow",
                vec![series(
                    &[("cluster_name", cluster)],
                    pts(&|i| 0.9 + 0.5 * (i / 5.0).sin()),
                )],
            ),
            result("retry-overflow", vec![]),
        ],
        fetched_at: Some(now()),
    };
    let spec = kdeck::panes::breakers::detail::prom_spec(
        &kdeck::panes::breakers::hosts::ServiceRef {
            name: "ledger".into(),
            namespace: "payments".into(),
        },
        &Config::default().queries.breakers,
        std::time::Duration::from_secs(15),
    );
    east.sources.set_test_prom(spec, snap, live());
    let screen = draw(&mut app, 120, 36);
    assert!(
        screen.contains("DestinationRule payments/ledger"),
        "{screen}"
    );
    assert!(screen.contains("trips UO"), "{screen}");
    insta::assert_snapshot!("breaker_detail_120x36", screen);
    insta::assert_snapshot!("breaker_detail_80x24", draw(&mut app, 80, 24));
    // Further down: the Envoy clusters, load against the limits.
    for _ in 0..22 {
        app.dispatch(&ActionCall::named("scroll-down"));
    }
    let screen = draw(&mut app, 120, 36);
    assert!(
        screen.contains("16 / 16 http1MaxPendingRequests ✖ at the limit"),
        "{screen}"
    );
    insta::assert_snapshot!("breaker_detail_120x36_envoy", screen);
}
