//! The Circuit-breakers model over upstream Istio objects (`../shared/fixtures/istio`) and a
//! few hand-written ones where the fixtures have no example (per-subset and per-port
//! overrides): the limits in force for each scope as istiod merges them, Istio's defaults for
//! what is unset, the retries of the routes to a host, and each row's state from a hand-made
//! Prometheus answer. Every expected value is worked out by hand from the objects.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::DateTime;
use kdeck::k8s::istio::{DestinationRule, V1beta1, VirtualService};
use kdeck::panes::breakers::hosts::ServiceRef;
use kdeck::panes::breakers::live::{BreakerState, Feed, LiveIndex};
use kdeck::panes::breakers::model::{
    BreakerRow, DEFAULT_RETRY_ON, Objects, Routes, Rule, build_rows, retries_for,
};
use kdeck::panes::breakers::policy::{Effective, effective, scopes};
use kdeck::panes::kit::RowCache;
use kdeck::source::prometheus::PromSeries;
use kdeck::source::{PromSnapshot, QueryResult};
use kdeck_demo::testing::support::load_yaml_docs;
use serde_json::{Value, json};

fn docs(rel: &str, kind: &str) -> Vec<Value> {
    load_yaml_docs(&format!("istio/examples/{rel}"))
        .into_iter()
        .filter(|d| d["kind"] == kind)
        .collect()
}

fn rule(rel: &str, name: &str) -> DestinationRule {
    let v = docs(rel, "DestinationRule")
        .into_iter()
        .find(|d| d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {rel}"));
    serde_json::from_value(v).unwrap()
}

fn host(rule: &DestinationRule) -> Effective {
    effective(&rule.spec, None, None)
}

#[test]
fn every_field_of_the_istio_testdata_rule_is_in_force_and_subsets_inherit() {
    // tests/testdata/config/destination-rule-all.yaml: maxConnections 99, connectTimeout
    // 6s, http2MaxRequests 33, maxRequestsPerConnection 65, maxRetries 4,
    // http1MaxPendingRequests 14; outlier interval 8ms, baseEjectionTime 1m,
    // maxEjectionPercent 11, no consecutive5xxErrors (so Envoy's 5).
    let r = rule("istio-testdata-destination-rule-all.yaml", "destall");
    let e = host(&r);
    assert_eq!(e.pool.max_connections, Some(99));
    assert_eq!(e.pool.http1_max_pending_requests, Some(14));
    assert_eq!(e.pool.http2_max_requests, Some(33));
    assert_eq!(e.pool.max_retries, Some(4));
    assert_eq!(e.pool.max_requests_per_connection, Some(65));
    assert_eq!(
        (
            e.pool.connect_timeout.value.as_str(),
            e.pool.connect_timeout.default
        ),
        ("6s", false)
    );
    let o = e.outlier.clone().unwrap();
    assert_eq!(
        (o.consecutive_5xx.value, o.consecutive_5xx.default),
        (5, true)
    );
    assert_eq!(o.consecutive_gateway, None);
    assert_eq!(o.interval.value, "8ms");
    assert_eq!(o.base_ejection_time.value, "1m");
    assert_eq!(
        (o.max_ejection_percent.value, o.max_ejection_percent.default),
        (11, false)
    );
    // v2 only sets a load balancer: the host's pool and outlier detection stay in force.
    let all = scopes(&r.spec);
    let labels: Vec<String> = all.iter().map(|(s, _)| s.label()).collect();
    assert_eq!(labels, ["host", "subset v1", "subset v2"]);
    assert!(all.iter().all(|(_, x)| *x == e));
    assert_eq!(
        kdeck::panes::breakers::policy::pool_short(&e.pool),
        "99/14/33/4"
    );
    assert_eq!(
        kdeck::panes::breakers::policy::outlier_short(e.outlier.as_ref()),
        "5xx×5 1m ≤11%"
    );
}

#[test]
fn unset_limits_are_istios_unlimited_defaults() {
    // bookinfo's reviews rule has subsets and a load balancer, no breaker.
    let r = rule("bookinfo-destination-rule-reviews.yaml", "reviews");
    let e = host(&r);
    assert_eq!(
        (
            e.pool.max_connections,
            e.pool.http1_max_pending_requests,
            e.pool.http2_max_requests,
            e.pool.max_retries
        ),
        (None, None, None, None)
    );
    assert_eq!(
        kdeck::panes::breakers::policy::limit_long(e.pool.max_retries),
        "∞ (default)"
    );
    assert_eq!(
        kdeck::panes::breakers::policy::setting(&e.pool.connect_timeout),
        "10s (default)"
    );
    assert_eq!(e.outlier, None);
    assert!(!e.is_breaker());
    assert_eq!(
        kdeck::panes::breakers::policy::pool_short(&e.pool),
        "∞/∞/∞/∞"
    );

    // The locality test rule: outlier detection only, every other default.
    let r = rule("istio-testdata-destination-rule-locality.yaml", "locality");
    let e = host(&r);
    assert!(e.is_breaker() && !e.pool.limits_any());
    let o = e.outlier.unwrap();
    assert_eq!(
        (
            o.consecutive_5xx.value,
            o.interval.value.as_str(),
            o.base_ejection_time.value.as_str(),
            o.max_ejection_percent.value
        ),
        (5, "1s", "3m", 100)
    );
}

#[test]
fn the_deprecated_consecutive_errors_is_ignored() {
    // Kiali's circuit-breaker rule uses `consecutiveErrors: 1`, which current istiod ignores:
    // the 5xx detector runs at Envoy's default of 5.
    let r = rule(
        "kiali-bookinfo-reviews-all-cb.yaml",
        "circuitbreaker-reviews-all-cb",
    );
    let o = host(&r).outlier.unwrap();
    assert_eq!(o.ignored_consecutive_errors, Some(1));
    assert_eq!(
        (o.consecutive_5xx.value, o.consecutive_5xx.default),
        (5, true)
    );
    assert_eq!(o.consecutive_gateway, None);
    assert_eq!(o.base_ejection_time.value, "10s");
    assert_eq!(o.max_ejection_percent.value, 100);
}

#[test]
fn the_same_objects_read_at_v1beta1() {
    let mut v = docs(
        "istio-testdata-destination-rule-all.yaml",
        "DestinationRule",
    )
    .remove(0);
    v["apiVersion"] = json!("networking.istio.io/v1beta1");
    let beta: V1beta1<DestinationRule> = serde_json::from_value(v).unwrap();
    let v1 = rule("istio-testdata-destination-rule-all.yaml", "destall");
    assert_eq!(host(&beta), host(&v1));
}

/// Subset and port overrides, written by hand (no fixture has them).
fn overrides() -> DestinationRule {
    serde_json::from_value(json!({
        "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": {"name": "orders", "namespace": "shop", "uid": "u1", "resourceVersion": "4"},
        "spec": {
            "host": "orders",
            "trafficPolicy": {
                "connectionPool": {"tcp": {"maxConnections": 100}, "http": {"http1MaxPendingRequests": 10, "maxRetries": 3}},
                "outlierDetection": {"consecutive5xxErrors": 7, "baseEjectionTime": "15s"},
                "portLevelSettings": [{"port": {"number": 8443}, "connectionPool": {"http": {"http2MaxRequests": 20}}}]
            },
            "subsets": [
                {"name": "v1", "labels": {"version": "v1"}},
                {"name": "v2", "labels": {"version": "v2"}, "trafficPolicy": {
                    "connectionPool": {"http": {"http1MaxPendingRequests": 2}},
                    "portLevelSettings": [{"port": {"number": 9000}, "outlierDetection": {"consecutiveGatewayErrors": 2}}]
                }}
            ]
        }
    }))
    .unwrap()
}

/// (conn, pending, requests, retries, outlier as `5xx/gateway/base`, or `off`).
fn summary(e: &Effective) -> (Option<u64>, Option<u64>, Option<u64>, Option<u64>, String) {
    (
        e.pool.max_connections,
        e.pool.http1_max_pending_requests,
        e.pool.http2_max_requests,
        e.pool.max_retries,
        e.outlier.as_ref().map_or_else(
            || "off".into(),
            |o| {
                format!(
                    "{}/{:?}/{}",
                    o.consecutive_5xx.value, o.consecutive_gateway, o.base_ejection_time.value
                )
            },
        ),
    )
}

#[test]
fn subsets_replace_blocks_and_ports_replace_everything() {
    let r = overrides();
    let all: BTreeMap<String, Effective> = scopes(&r.spec)
        .into_iter()
        .map(|(s, e)| (s.label(), e))
        .collect();
    let get = |label: &str| summary(&all[label]);
    assert_eq!(all.len(), 7, "{:?}", all.keys().collect::<Vec<_>>());
    // The host: its own blocks.
    assert_eq!(
        get("host"),
        (Some(100), Some(10), None, Some(3), "7/None/15s".into())
    );
    // Port 8443 replaces the pool with its own (only http2MaxRequests 20) and, having none,
    // leaves no outlier detection: nothing is inherited from the host.
    assert_eq!(get("port 8443"), (None, None, Some(20), None, "off".into()));
    // v1 has no policy: the host's, on every port.
    assert_eq!(get("subset v1"), get("host"));
    assert_eq!(get("subset v1 · port 8443"), get("port 8443"));
    // v2's pool replaces the host's whole pool (maxConnections and maxRetries back to
    // unlimited); its outlier detection is the host's.
    assert_eq!(
        get("subset v2"),
        (None, Some(2), None, None, "7/None/15s".into())
    );
    // On 8443, v2 has no port settings: its pool replaces the port's; the port had no
    // outlier detection and v2 brings none.
    assert_eq!(
        get("subset v2 · port 8443"),
        (None, Some(2), None, None, "off".into())
    );
    // On 9000, v2's own port settings replace both blocks: no pool (defaults), outlier
    // detection with only gateway errors set (5xx at Envoy's 5, ejection at 30 s).
    assert_eq!(
        get("subset v2 · port 9000"),
        (None, None, None, None, "5/Some(2)/30s".into())
    );
    // Asking for a port nobody names gives the subset's settings.
    assert_eq!(
        summary(&effective(&r.spec, Some("v2"), Some(1))),
        get("subset v2")
    );
}

fn route(rel: &str) -> Vec<VirtualService> {
    docs(rel, "VirtualService")
        .into_iter()
        .map(|d| serde_json::from_value(d).unwrap())
        .collect()
}

fn routes(vs: &[VirtualService]) -> Vec<Routes<'_>> {
    vs.iter()
        .map(|v| Routes {
            meta: &v.metadata,
            spec: &v.spec,
        })
        .collect()
}

#[test]
fn retries_come_from_the_routes_that_reach_the_host() {
    let vs = route("bookinfo-virtual-service-reviews-80-20.yaml");
    let host = kdeck::panes::breakers::hosts::parse_host("reviews", "default");
    // No namespace in the fixture: the route is read in "" and names `reviews` there.
    let r = retries_for(
        &kdeck::panes::breakers::hosts::parse_host("reviews", ""),
        &routes(&vs),
    );
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].source.as_deref(), Some("/reviews #0"));
    assert_eq!(
        (r[0].attempts, r[0].retry_on.as_str()),
        (2, DEFAULT_RETRY_ON)
    );
    assert_eq!(r[0].short(), "2");
    // A host no route reaches: Istio's default, said as such.
    let none = retries_for(&host, &routes(&vs));
    assert_eq!(none[0].source, None);
    assert_eq!(none[0].short(), "2 (default)");
    // Explicit retries and a timeout.
    let shop: VirtualService = serde_json::from_value(json!({
        "metadata": {"name": "cart", "namespace": "shop"},
        "spec": {"hosts": ["cart"], "http": [{"name": "default",
            "route": [{"destination": {"host": "cart.shop.svc.cluster.local"}}],
            "retries": {"attempts": 3, "perTryTimeout": "250ms", "retryOn": "5xx"},
            "timeout": "2s"}]}
    }))
    .unwrap();
    let r = retries_for(
        &kdeck::panes::breakers::hosts::parse_host("cart", "shop"),
        &routes(std::slice::from_ref(&shop)),
    );
    assert_eq!(r[0].short(), "3 × 250ms · 2s");
    assert_eq!(r[0].retry_on, "5xx");
}

// ---- rows and states from a Prometheus answer ------------------------------------------

fn series(labels: &[(&str, &str)], v: f64) -> PromSeries {
    PromSeries {
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
        points: vec![(1_000.0, v)],
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

fn svc<'a>(name: &'a str, ns: &'a str) -> [(&'static str, &'a str); 2] {
    [
        ("destination_service_name", name),
        ("destination_service_namespace", ns),
    ]
}

/// The list answer: reviews trips UO (150 in 5m, of 10/s), ratings ejects, details is
/// fully ejected with UH, productpage has traffic and no rule.
fn answer() -> PromSnapshot {
    let with = |name: &str,
                ns: &str,
                extra: &[(&'static str, &'static str)]|
     -> Vec<(&'static str, String)> {
        let mut l: Vec<(&'static str, String)> = svc(name, ns)
            .iter()
            .map(|(k, v)| (*k, (*v).to_string()))
            .collect();
        l.extend(extra.iter().map(|(k, v)| (*k, (*v).to_string())));
        l
    };
    let s = |l: Vec<(&'static str, String)>, v: f64| {
        let pairs: Vec<(&str, &str)> = l.iter().map(|(k, v)| (*k, v.as_str())).collect();
        series(&pairs, v)
    };
    PromSnapshot {
        results: vec![
            result(
                "trips",
                vec![
                    s(
                        with("reviews", "default", &[("response_flags", "UO")]),
                        150.0,
                    ),
                    s(
                        with("details", "default", &[("response_flags", "UH")]),
                        900.0,
                    ),
                ],
            ),
            result(
                "requests",
                vec![
                    s(with("reviews", "default", &[]), 10.0),
                    s(with("ratings", "default", &[]), 4.0),
                    s(with("details", "default", &[]), 3.0),
                    s(with("productpage", "default", &[]), 8.0),
                ],
            ),
            result(
                "errors",
                vec![
                    s(with("reviews", "default", &[]), 0.6),
                    s(with("details", "default", &[]), 3.0),
                ],
            ),
            result("p50", vec![s(with("reviews", "default", &[]), 8.75)]),
            result("p99", vec![s(with("reviews", "default", &[]), 94.444)]),
            result(
                "envoy",
                vec![
                    series(
                        &[
                            (
                                "__name__",
                                "envoy_cluster_outlier_detection_ejections_active",
                            ),
                            (
                                "cluster_name",
                                "outbound|9080||ratings.default.svc.cluster.local",
                            ),
                        ],
                        1.0,
                    ),
                    series(
                        &[
                            ("__name__", "envoy_cluster_membership_total"),
                            (
                                "cluster_name",
                                "outbound|9080||ratings.default.svc.cluster.local",
                            ),
                        ],
                        3.0,
                    ),
                ],
            ),
        ],
        fetched_at: DateTime::from_timestamp(1_000, 0),
    }
}

fn bookinfo_rules() -> Vec<DestinationRule> {
    let mut rules: Vec<DestinationRule> =
        docs("bookinfo-destination-rule-all.yaml", "DestinationRule")
            .into_iter()
            .map(|mut d| {
                d["metadata"]["namespace"] = json!("default");
                serde_json::from_value(d).unwrap()
            })
            .collect();
    // Give reviews, ratings and details breakers (the fixture's rules have none).
    for r in &mut rules {
        let name = r.metadata.name.clone().unwrap_or_default();
        if name != "productpage" {
            r.spec.traffic_policy = Some(
                serde_json::from_value(json!({"outlierDetection": {"consecutive5xxErrors": 3}}))
                    .unwrap(),
            );
        }
    }
    rules
}

fn rows(rules: &[DestinationRule], live: &LiveIndex) -> Vec<Arc<BreakerRow>> {
    let refs: Vec<Rule<'_>> = rules
        .iter()
        .map(|r| Rule {
            meta: &r.metadata,
            spec: &r.spec,
            malformed: r.malformed.as_deref(),
        })
        .collect();
    let mut out = Vec::new();
    build_rows(
        "prod",
        "prod",
        &Objects {
            rules: &refs,
            routes: &[],
            unreadable: &[],
            live,
        },
        &|_| true,
        &mut RowCache::default(),
        &mut out,
    );
    kdeck::panes::kit::sort_rows(&mut out);
    out.into_iter().map(|(r, _)| r).collect()
}

#[test]
fn each_row_gets_one_state_tripping_and_open_first() {
    let live = LiveIndex::from_snapshot(&answer());
    let rules = bookinfo_rules();
    let rows = rows(&rules, &live);
    let states: Vec<(&str, BreakerState)> =
        rows.iter().map(|r| (r.name.as_str(), r.state)).collect();
    assert_eq!(
        states,
        [
            // 900 UH of 3/s × 300 s = 900 requests: every request refused → open.
            ("details", BreakerState::Open),
            ("reviews", BreakerState::Tripping),
            ("ratings", BreakerState::Ejecting),
            // The productpage rule has subsets only: traffic, but no breaker.
            ("productpage", BreakerState::Unconfigured),
        ]
    );
    let reviews = &rows[1];
    let l = reviews.live.as_ref().unwrap();
    assert_eq!(l.trips.text(), "UO 150");
    // 10/s with 0.6/s 5xx.
    assert!((l.success().unwrap() - 0.94).abs() < 1e-12);
    assert_eq!(
        reviews.service.as_ref().unwrap(),
        &ServiceRef {
            name: "reviews".into(),
            namespace: "default".into(),
        }
    );
    let ratings = rows[2].live.as_ref().unwrap().ejection.unwrap();
    assert_eq!((ratings.ejected, ratings.hosts), (1.0, Some(3.0)));
}

#[test]
fn traffic_without_a_rule_is_a_row_and_no_data_is_never_quiet() {
    let live = LiveIndex::from_snapshot(&answer());
    // Only the reviews rule: details, ratings and productpage come from the traffic.
    let rules: Vec<DestinationRule> = bookinfo_rules()
        .into_iter()
        .filter(|r| r.metadata.name.as_deref() == Some("reviews"))
        .collect();
    let rows = rows(&rules, &live);
    let names: Vec<(&str, BreakerState)> =
        rows.iter().map(|r| (r.host.as_str(), r.state)).collect();
    assert_eq!(
        names,
        [
            // Fully ejected without a rule: still open (503 UH at the callers).
            ("details", BreakerState::Open),
            ("reviews", BreakerState::Tripping),
            // Ejecting is only ever Envoy's doing: shown even without a rule.
            ("ratings", BreakerState::Ejecting),
            ("productpage", BreakerState::Unconfigured),
        ]
    );
    assert_eq!(
        rows[3].kind,
        kdeck::panes::breakers::model::RowKind::Service
    );

    // Prometheus never answered: a configured breaker is "no live data", not quiet.
    let missing = LiveIndex::new(&kdeck::panes::kit::PromView::Unconfigured);
    assert_eq!(
        missing.feed,
        Feed::Missing("no Prometheus configured".into())
    );
    let rows = self::rows(&rules, &missing);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, BreakerState::NoData);
}

#[test]
fn a_rule_that_cannot_be_read_is_a_row_that_says_so() {
    let bad: DestinationRule = serde_json::from_value(json!({
        "metadata": {"name": "broken", "namespace": "default", "uid": "b", "resourceVersion": "1"},
        "spec": "host: reviews"
    }))
    .unwrap();
    let rows = rows(&[bad], &LiveIndex::from_snapshot(&PromSnapshot::default()));
    assert_eq!(rows[0].state, BreakerState::Malformed);
    assert!(
        rows[0]
            .malformed
            .as_deref()
            .unwrap()
            .contains("expected an object"),
        "{:?}",
        rows[0].malformed
    );
}
