//! The Circuit-breakers PromQL kdeck ships (`[queries.breakers]` defaults) run by kdeck's
//! poller against a *real* Prometheus holding Istio- and Envoy-shaped series, then shown by
//! the pane: the list's numbers and the detail's per-caller, per-subset and per-Envoy-cluster
//! series are checked on screen against values worked out by hand from the rates below.

use std::collections::BTreeSet;
use std::time::Duration;

use kdeck::app::AppSettings;
use kdeck::cluster::Discovery;
use kdeck::config::Config;
use kdeck::k8s::istio::{DestinationRule, VirtualService};
use kdeck::panes::breakers::detail::{self, BreakerDetail, DetailMetrics};
use kdeck::panes::breakers::detail_view::{self, ViewInputs};
use kdeck::panes::breakers::hosts::ServiceRef;
use kdeck::panes::breakers::model::RowKind;
use kdeck::panes::breakers::pane::list_spec;
use kdeck::source::SourceState;
use kdeck::source::prometheus::{PromClient, PromEndpoint};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

use kdeck_demo::testing::prometheus_server::{PromServer, SeriesData};

use crate::render::{app_for, draw, handle, info};

const STEP_MS: i64 = 15_000;
const SPAN_MS: i64 = 40 * 60_000;

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut l: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    l.sort();
    l
}

/// A counter growing at `rate` per second (or a gauge at `rate` when `gauge`), sampled every
/// 15 s over the 40 minutes up to `end_ms`.
fn sampled(pairs: &[(&str, &str)], rate: f64, end_ms: i64, gauge: bool) -> SeriesData {
    let start = end_ms - SPAN_MS;
    let samples = (0..=SPAN_MS / STEP_MS)
        .map(|i| {
            let t = start + i * STEP_MS;
            let v = if gauge {
                rate
            } else {
                rate * ((t - start) as f64 / 1000.0)
            };
            (t, v)
        })
        .collect();
    (labels(pairs), samples)
}

struct Req<'a> {
    reporter: &'a str,
    ns: &'a str,
    service: &'a str,
    caller: (&'a str, &'a str),
    version: &'a str,
    code: &'a str,
    flags: &'a str,
}

fn req(r: &Req<'_>, rate: f64, end: i64) -> SeriesData {
    let host = format!("{}.{}.svc.cluster.local", r.service, r.ns);
    sampled(
        &[
            ("__name__", "istio_requests_total"),
            ("reporter", r.reporter),
            ("source_workload_namespace", r.caller.0),
            ("source_workload", r.caller.1),
            ("destination_service", &host),
            ("destination_service_name", r.service),
            ("destination_service_namespace", r.ns),
            ("destination_version", r.version),
            ("response_code", r.code),
            ("response_flags", r.flags),
        ],
        rate,
        end,
        false,
    )
}

fn envoy(name: &str, cluster: &str, app: &str, v: f64, end: i64, gauge: bool) -> SeriesData {
    sampled(
        &[
            ("__name__", name),
            ("cluster_name", cluster),
            ("namespace", "shop"),
            ("app", app),
        ],
        v,
        end,
        gauge,
    )
}

const CART: &str = "outbound|80||cart.shop.svc.cluster.local";
const CATALOG: &str = "outbound|80||catalog.shop.svc.cluster.local";

/// The rates (per second) every expected number below is worked out from.
fn dataset(end: i64) -> Vec<SeriesData> {
    let frontend = ("shop", "frontend");
    let r = |reporter, ns, service, caller, version, code, flags| Req {
        reporter,
        ns,
        service,
        caller,
        version,
        code,
        flags,
    };
    let mut s = vec![
        // shop/cart from frontend: 8.5 ok, 1 answered 500, 0.5 refused by the pending
        // queue (UO, before any host: version unknown); from checkout 2 ok.
        req(
            &r("source", "shop", "cart", frontend, "2.3.0", "200", "-"),
            8.5,
            end,
        ),
        req(
            &r("source", "shop", "cart", frontend, "2.3.0", "500", "-"),
            1.0,
            end,
        ),
        req(
            &r("source", "shop", "cart", frontend, "unknown", "503", "UO"),
            0.5,
            end,
        ),
        req(
            &r(
                "source",
                "shop",
                "cart",
                ("shop", "checkout"),
                "2.3.0",
                "200",
                "-",
            ),
            2.0,
            end,
        ),
        // What the server side reports must not count (a query without reporter="source"
        // would see 1650 UO here).
        req(
            &r(
                "destination",
                "shop",
                "cart",
                frontend,
                "2.3.0",
                "503",
                "UO",
            ),
            5.0,
            end,
        ),
        // Another namespace's cart is another service.
        req(
            &r(
                "source", "staging", "cart", frontend, "unknown", "503", "UO",
            ),
            50.0,
            end,
        ),
        // shop/catalog: every host ejected, everything refused UH.
        req(
            &r(
                "source", "shop", "catalog", frontend, "unknown", "503", "UH",
            ),
            2.0,
            end,
        ),
        // payments/ledger: 20 ok, 0.1 refused by the retry budget (URX).
        req(
            &r(
                "source",
                "payments",
                "ledger",
                ("payments", "payments-api"),
                "3.2.5",
                "200",
                "-",
            ),
            20.0,
            end,
        ),
        req(
            &r(
                "source",
                "payments",
                "ledger",
                ("payments", "payments-api"),
                "3.2.5",
                "503",
                "URX",
            ),
            0.1,
            end,
        ),
        // search/indexer: traffic, no rule.
        req(
            &r(
                "source",
                "search",
                "indexer",
                ("search", "search-api"),
                "5.1.0",
                "200",
                "-",
            ),
            5.0,
            end,
        ),
        // Envoy, as frontend's and checkout's sidecars see cart and catalog.
        envoy(
            "envoy_cluster_outlier_detection_ejections_active",
            CART,
            "frontend",
            1.0,
            end,
            true,
        ),
        envoy(
            "envoy_cluster_outlier_detection_ejections_active",
            CART,
            "checkout",
            0.0,
            end,
            true,
        ),
        envoy(
            "envoy_cluster_membership_total",
            CART,
            "frontend",
            2.0,
            end,
            true,
        ),
        envoy(
            "envoy_cluster_upstream_rq_pending_active",
            CART,
            "frontend",
            10.0,
            end,
            true,
        ),
        envoy(
            "envoy_cluster_upstream_rq_pending_overflow",
            CART,
            "frontend",
            0.5,
            end,
            false,
        ),
        envoy(
            "envoy_cluster_upstream_rq_retry_overflow",
            CART,
            "frontend",
            0.0,
            end,
            false,
        ),
        envoy(
            "envoy_cluster_outlier_detection_ejections_active",
            CATALOG,
            "frontend",
            2.0,
            end,
            true,
        ),
        envoy(
            "envoy_cluster_membership_total",
            CATALOG,
            "frontend",
            2.0,
            end,
            true,
        ),
    ];
    // cart's latency as frontend sees it: cumulative requests per second by bucket.
    for (le, rate) in [
        ("5", 2.0),
        ("10", 6.0),
        ("25", 8.0),
        ("50", 9.5),
        ("100", 9.95),
        ("250", 10.0),
        ("+Inf", 10.0),
    ] {
        s.push(sampled(
            &[
                ("__name__", "istio_request_duration_milliseconds_bucket"),
                ("reporter", "source"),
                ("source_workload_namespace", "shop"),
                ("source_workload", "frontend"),
                ("destination_service_name", "cart"),
                ("destination_service_namespace", "shop"),
                ("destination_version", "2.3.0"),
                ("le", le),
            ],
            rate,
            end,
            false,
        ));
    }
    s
}

fn rule(v: serde_json::Value) -> DestinationRule {
    serde_json::from_value(v).unwrap()
}

fn rules() -> Vec<DestinationRule> {
    let meta = |ns: &str, name: &str| json!({"name": name, "namespace": ns, "uid": name, "resourceVersion": "1"});
    vec![
        rule(
            json!({"metadata": meta("shop", "cart"), "spec": {"host": "cart", "trafficPolicy": {
            "connectionPool": {"tcp": {"maxConnections": 64}, "http": {"http1MaxPendingRequests": 10, "http2MaxRequests": 100}},
            "outlierDetection": {"consecutive5xxErrors": 5}}}}),
        ),
        rule(
            json!({"metadata": meta("shop", "catalog"), "spec": {"host": "catalog.shop.svc.cluster.local",
            "trafficPolicy": {"outlierDetection": {"consecutive5xxErrors": 3, "maxEjectionPercent": 100}}}}),
        ),
        rule(
            json!({"metadata": meta("payments", "ledger"), "spec": {"host": "ledger",
            "trafficPolicy": {"connectionPool": {"http": {"maxRetries": 3}}}}}),
        ),
        rule(
            json!({"metadata": meta("shop", "frontend"), "spec": {"host": "frontend",
            "trafficPolicy": {"loadBalancer": {"simple": "LEAST_REQUEST"}}}}),
        ),
    ]
}

/// The data row of `host` in namespace `ns`.
fn row<'a>(screen: &'a str, ns: &str, host: &str) -> &'a str {
    screen
        .lines()
        .find(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.get(1) == Some(&ns) && cells.get(2) == Some(&host)
        })
        .unwrap_or_else(|| panic!("no row {ns}/{host}:\n{screen}"))
}

#[test]
fn shipped_breaker_queries_against_a_real_prometheus() {
    // Whole minutes in the recent past, inside Prometheus' retention.
    let end_ms = (chrono::Utc::now().timestamp() / 60 - 5) * 60_000;
    let Some(server) = PromServer::start(&dataset(end_ms)) else {
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prom = PromClient::new(
        PromEndpoint::Url(format!("http://127.0.0.1:{}", server.port())),
        None,
        Duration::from_secs(10),
    );
    let at = chrono::DateTime::from_timestamp(end_ms / 1000, 0).unwrap();
    let config = Config::default();

    // ---- the list: the pane's own queries, polled by the poller's function -------------
    let spec = list_spec(&config);
    let (polled, unreachable) = rt.block_on(kdeck::source::prom_poll::poll(&prom, &spec, at));
    assert_eq!(unreachable, None);
    for r in &polled.results {
        assert_eq!(r.error, None, "{}", r.id);
    }
    let c = handle(
        "prod",
        info(crate::render::reachable()),
        Discovery {
            resources: Some(BTreeSet::from([
                "destinationrules.networking.istio.io".to_string()
            ])),
            ..Discovery::default()
        },
    );
    c.sources.set_prometheus(Some(prom.clone()));
    let live = SourceState::Live {
        since: crate::render::now(),
    };
    c.sources.set_test_kind(rules(), live.clone());
    c.sources
        .set_test_kind(Vec::<VirtualService>::new(), live.clone());
    let mut app = app_for(vec![c.clone()], AppSettings::default());
    assert!(app.focus_pane("breakers"));
    // The first update declares the list queries (the app starts a poller, idle without a
    // runtime); the answer is then put where that poller would have put it.
    draw(&mut app, 200, 30);
    c.sources.set_test_prom(spec, polled, live);
    let screen = draw(&mut app, 200, 30);

    // cart: 150 UO in 5 min (0.5/s); 12/s of which 1.5 answered 5xx → 87.5%; p50 in
    // (5, 10] ms: 5 + 5·(5 − 2)/4 = 8.75; p99 in (50, 100]: 50 + 50·0.4/0.45 = 94.4;
    // the worst caller sees 1 of 2 hosts ejected.
    let cart = row(&screen, "shop", "cart");
    for cell in [
        "▲ tripping",
        "UO 150 ",
        "1/2",
        "87.5%",
        "8.8/94ms",
        "64/10/100/∞",
        "5xx×5 30s ≤10%",
    ] {
        assert!(cart.contains(cell), "{cell:?} in {cart}\n{screen}");
    }
    // catalog: 2/s all refused UH (600 in 5 min), both hosts ejected → open, 0% success.
    let catalog = row(&screen, "shop", "catalog");
    for cell in ["✖ open", "UH 600", "2/2", "0.0%", "∞/∞/∞/∞"] {
        assert!(catalog.contains(cell), "{cell:?} in {catalog}");
    }
    // ledger: 0.1/s URX → 30; 20 of 20.1 → 99.5%; no Envoy stats for it though the cluster
    // exports them for others.
    let ledger = row(&screen, "payments", "ledger");
    for cell in ["▲ tripping", "URX 30", "99.5%", "∞/∞/∞/3", " — "] {
        assert!(ledger.contains(cell), "{cell:?} in {ledger}");
    }
    // indexer: traffic without a rule; frontend: a rule without limits and no traffic.
    let indexer = row(&screen, "search", "indexer");
    assert!(
        indexer.contains("– no breaker") && indexer.contains("100.0%"),
        "{indexer}"
    );
    let frontend = row(&screen, "shop", "frontend");
    assert!(
        frontend.contains("– no breaker") && frontend.contains("off"),
        "{frontend}"
    );
    // staging's cart is its own row (50/s × 300 s).
    assert!(
        row(&screen, "staging", "cart").contains("UO 15000"),
        "{screen}"
    );
    // Tripping and open first, then the rest.
    let order: Vec<&str> = screen
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter(|h| ["cart", "catalog", "ledger", "indexer", "frontend"].contains(h))
        .collect();
    assert_eq!(
        order,
        ["ledger", "cart", "catalog", "cart", "indexer", "frontend"]
    );

    // ---- the detail of cart: the half-hour range queries ------------------------------
    let dr = &rules()[0];
    let d = BreakerDetail::new(
        "prod",
        RowKind::Rule,
        ("shop", "cart"),
        "cart",
        Some(&dr.spec),
        None,
        Vec::new(),
        None,
    );
    let svc = ServiceRef {
        name: "cart".into(),
        namespace: "shop".into(),
    };
    assert_eq!(d.service.as_ref(), Some(&svc));
    let spec = detail::prom_spec(&svc, &config.queries.breakers, Duration::from_secs(15));
    let (polled, unreachable) = rt.block_on(kdeck::source::prom_poll::poll(&prom, &spec, at));
    assert_eq!(unreachable, None);
    for r in &polled.results {
        assert_eq!(r.error, None, "{}", r.id);
        assert!(!r.series.is_empty(), "{} answered nothing", r.id);
    }
    let m = DetailMetrics::from_prom(&polled, &d);
    // A point every 30 s over the half hour.
    assert!(
        m.callers[0].success.len() >= 59,
        "{:?}",
        m.callers[0].success.len()
    );
    let theme = kdeck::theme::Theme::builtin("default").unwrap();
    let mut term = Terminal::new(TestBackend::new(120, 60)).unwrap();
    term.draw(|f| {
        detail_view::render(
            f,
            f.area(),
            &d,
            &ViewInputs {
                metrics: Some(&m),
                note: None,
                events: &[],
                scroll: 0,
                theme: &theme,
                clock: kdeck::clock::Clock::System,
            },
        );
    })
    .unwrap();
    let detail = term.backend().to_string();
    let line = |label: &str, after: &str| -> String {
        let lines: Vec<&str> = detail.lines().collect();
        let start = lines
            .iter()
            .position(|l| l.contains(after))
            .unwrap_or_else(|| panic!("{after} in\n{detail}"));
        lines[start..]
            .iter()
            .find(|l| l.contains(label))
            .unwrap_or_else(|| panic!("{label} after {after} in\n{detail}"))
            .to_string()
    };
    // Per caller: frontend 8.5 of 10 → 85.0%, 0.5 UO/s, p99 94 ms; checkout 100%.
    assert!(
        line("trips UO", "shop/frontend").contains(" 0.50/s"),
        "{detail}"
    );
    assert!(
        line("success", "shop/frontend").contains(" 85.0%"),
        "{detail}"
    );
    assert!(line("p99", "shop/frontend").contains(" 94 ms"), "{detail}");
    assert!(
        line("success", "shop/checkout").contains(" 100.0%"),
        "{detail}"
    );
    // Per subset (destination_version): 10.5 of 11.5 reached 2.3.0 without a 5xx → 91.3%;
    // the refused requests (no version) are counted per caller only.
    assert!(
        line("success", "version 2.3.0").contains(" 91.3%"),
        "{detail}"
    );
    assert!(!detail.contains("version unknown"), "{detail}");
    // Envoy: 1 of 2 hosts ejected; the pending queue at its limit of 10.
    assert!(
        line("ejected", "port 80").contains("1 of 2 hosts"),
        "{detail}"
    );
    assert!(
        line("pending", "port 80").contains("10 / 10 http1MaxPendingRequests ✖ at the limit"),
        "{detail}"
    );
    assert!(
        line("overflow UO", "port 80").contains(" 0.50/s"),
        "{detail}"
    );
    // The limits in force, with Istio's defaults where unset.
    let host_limits = format!(
        " {:<26} {:<13} {:<13} {:<13} ∞ (default)",
        "host", "64", "10", "100"
    );
    assert!(
        detail.contains(&host_limits),
        "{host_limits:?} in\n{detail}"
    );
}
