//! The HPA detail view's replica history query (kube-state-metrics'
//! `kube_horizontalpodautoscaler_status_current_replicas`) against a *real* Prometheus,
//! through kdeck's own poller: the right series, a point a minute over the hour, and the
//! view saying where the history came from.

use std::sync::Arc;

use kdeck::config::Config;
use kdeck::k8s::autoscaling::HorizontalPodAutoscaler;
use kdeck::panes::hpa::detail::{KedaView, VpaView, build, prom_spec};
use kdeck::panes::hpa::detail_view::lines;
use kdeck::panes::hpa::model::{TargetInfo, hpa_row};
use kdeck::panes::kit::{DrawCx, PromView};
use kdeck::source::SourceState;
use kdeck::source::prometheus::{PromClient, PromEndpoint};
use kdeck_demo::testing::prometheus_server::{PromServer, SeriesData};
use serde_json::json;

const STEP_MS: i64 = 30_000;

/// Replicas of one HPA over the 70 minutes before `end_ms`: 2 until 30 minutes ago, then 3.
fn replicas(name: &str, end_ms: i64, late: f64) -> SeriesData {
    let mut labels = vec![
        (
            "__name__".to_string(),
            "kube_horizontalpodautoscaler_status_current_replicas".to_string(),
        ),
        ("horizontalpodautoscaler".to_string(), name.to_string()),
        ("namespace".to_string(), "search".to_string()),
    ];
    labels.sort();
    let start = end_ms - 70 * 60_000;
    let samples = (0..=(70 * 60_000) / STEP_MS)
        .map(|i| {
            let t = start + i * STEP_MS;
            (t, if t < end_ms - 30 * 60_000 { 2.0 } else { late })
        })
        .collect();
    (labels, samples)
}

#[test]
fn replica_history_from_a_real_prometheus() {
    let end_ms = (chrono::Utc::now().timestamp() / 60 - 5) * 60_000;
    let data = vec![
        replicas("indexer", end_ms, 3.0),
        // Another HPA in the namespace: not to be mixed in.
        replicas("indexer-canary", end_ms, 9.0),
    ];
    let Some(server) = PromServer::start(&data) else {
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prom = PromClient::new(
        PromEndpoint::Url(format!("http://127.0.0.1:{}", server.port())),
        None,
        std::time::Duration::from_secs(10),
    );
    let hpa: HorizontalPodAutoscaler = serde_json::from_value(json!({
        "metadata": {"name": "indexer", "namespace": "search", "uid": "u1"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "indexer"},
            "minReplicas": 2, "maxReplicas": 3},
        "status": {"currentReplicas": 3, "desiredReplicas": 3}
    }))
    .unwrap();
    let at = chrono::DateTime::from_timestamp(end_ms / 1000, 0).unwrap();
    let target = TargetInfo {
        found: true,
        spec_replicas: 3,
        ready: 3,
        status_replicas: 3,
    };
    let row = hpa_row("prod", &hpa, &target, None, 3, Arc::from(Vec::new()), at);
    let detail = build(
        &row,
        Some(&hpa),
        Vec::new(),
        &[],
        KedaView::NotInstalled,
        VpaView::NotInstalled,
        at,
    );
    let spec = prom_spec(&detail, &Config::default()).unwrap();
    assert_eq!(
        spec.queries[0].promql,
        "kube_horizontalpodautoscaler_status_current_replicas{namespace=\"search\",\
         horizontalpodautoscaler=\"indexer\"}"
    );
    let (snapshot, unreachable) = rt.block_on(kdeck::source::prom_poll::poll(&prom, &spec, at));
    assert_eq!(unreachable, None);
    let result = snapshot.result("current").unwrap();
    assert_eq!(result.series.len(), 1, "only indexer's series: {result:?}");
    let points = result.points();
    // An hour at a point a minute: 61 points, 2 for the first half, then 3.
    assert_eq!(points.len(), 61, "{points:?}");
    assert_eq!(points.first().unwrap().1, 2.0);
    assert_eq!(points.last().unwrap().1, 3.0);
    assert_eq!(points.iter().filter(|p| p.1 == 3.0).count(), 31);

    let theme = kdeck::theme::Theme::builtin("default").unwrap();
    let prom_view = PromView::Data {
        snapshot: Arc::new(snapshot),
        state: SourceState::Live { since: at },
    };
    let text: Vec<String> = lines(
        &detail,
        &DrawCx {
            prom: &prom_view,
            events: &[],
            scroll: 0,
            theme: &theme,
            clock: kdeck::clock::Clock::Fixed(at),
        },
        120,
    )
    .iter()
    .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
    .collect();
    let history = text
        .iter()
        .position(|l| l.contains("last hour · Prometheus, kube-state-metrics"))
        .unwrap_or_else(|| panic!("{text:#?}"));
    // Scaled from 0 to max 3: 2 is a 5/8 bar, 3 a full one.
    let spark = &text[history + 1];
    assert!(spark.contains("▆▆▆") && spark.contains("███"), "{spark}");
    assert!(spark.contains("now 3 · range 2–3"), "{spark}");
}
