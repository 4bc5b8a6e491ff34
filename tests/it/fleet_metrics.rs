//! The fleet metrics endpoint (`[fleet]` in config) against a *real* Prometheus standing in for
//! Thanos/Mimir: kube-state-metrics series of four clusters under a `cluster` label, and real
//! alerting rules whose `ALERTS` series kdeck counts. kdeck asks it once for all clusters and
//! the Clusters pane shows what it said: clusters kdeck does not watch get a "metrics only"
//! row with their nodes, pods and firing alerts; a watched one gets its alerts as problems.
//! The expected numbers are worked out by hand from the series below.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kdeck::app::{App, AppSettings, known_actions};
use kdeck::clock::Clock;
use kdeck::cluster::{ClusterHandle, ClusterInfo, Discovery, PromReach, Reach};
use kdeck::config::{Config, FleetConfig};
use kdeck::k8s::core::{Namespace, Node};
use kdeck::k8s::pod::Pod;
use kdeck::keymap::Keymap;
use kdeck::panes::{Scope, registry};
use kdeck::source::fleet::FleetSource;
use kdeck::source::{Notifier, SourceState};
use kdeck::theme::Theme;
use kdeck::world::World;
use kdeck_demo::testing::prometheus_server::{PromServer, SeriesData};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// A constant gauge sampled every 15 s over the last ten minutes, ending `end_ms`.
fn gauge(pairs: &[(&str, &str)], value: f64, end_ms: i64) -> SeriesData {
    let mut labels: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    labels.sort();
    let samples = (0..40)
        .map(|i| (end_ms - (39 - i) * 15_000, value))
        .collect();
    (labels, samples)
}

/// One cluster's kube-state-metrics: nodes (name, ready) and pods (name, phase, ready).
fn cluster(
    name: &str,
    nodes: &[(&str, bool)],
    pods: &[(&str, &str, bool)],
    end: i64,
) -> Vec<SeriesData> {
    let mut s = Vec::new();
    for (node, ready) in nodes {
        s.push(gauge(
            &[
                ("__name__", "kube_node_info"),
                ("cluster", name),
                ("node", node),
            ],
            1.0,
            end,
        ));
        for (status, on) in [("true", *ready), ("false", !*ready)] {
            s.push(gauge(
                &[
                    ("__name__", "kube_node_status_condition"),
                    ("cluster", name),
                    ("node", node),
                    ("condition", "Ready"),
                    ("status", status),
                ],
                f64::from(u8::from(on)),
                end,
            ));
        }
    }
    for (pod, phase, ready) in pods {
        let with = |extra: &[(&'static str, &'static str)], metric: &'static str| {
            let mut l: Vec<(&str, &str)> = vec![
                ("__name__", metric),
                ("cluster", name),
                ("namespace", "shop"),
                ("pod", pod),
            ];
            l.extend(extra.iter().copied());
            l
        };
        s.push(gauge(&with(&[], "kube_pod_info"), 1.0, end));
        for p in ["Pending", "Running", "Succeeded", "Failed", "Unknown"] {
            s.push(gauge(
                &with(&[("phase", p)], "kube_pod_status_phase"),
                f64::from(u8::from(p == *phase)),
                end,
            ));
        }
        for (condition, on) in [("true", *ready), ("false", !*ready), ("unknown", false)] {
            s.push(gauge(
                &with(&[("condition", condition)], "kube_pod_status_ready"),
                f64::from(u8::from(on)),
                end,
            ));
        }
    }
    s
}

/// Alerting rules as a cluster's Prometheus would have them; their `ALERTS` series are what
/// the aggregation layer holds.
const RULES: &str = r#"
groups:
- name: kube
  rules:
  - alert: NodeNotReady
    expr: kube_node_status_condition{condition="Ready",status="true"} == 0
    labels: {severity: critical}
  - alert: PodNotReady
    expr: (kube_pod_status_ready{condition="false"} == 1) and on (cluster, namespace, pod) (kube_pod_status_phase{phase="Running"} == 1)
    labels: {severity: warning}
"#;

fn dataset(end: i64) -> Vec<SeriesData> {
    let mut s = Vec::new();
    // Label value "prod-eu", kubeconfig context "gke_acme_prod-eu": 3 nodes ready; 4 pods, of
    // which the Succeeded one is not ready but is not counted (it is done).
    s.extend(cluster(
        "prod-eu",
        &[("eu-a", true), ("eu-b", true), ("eu-c", true)],
        &[
            ("web-1", "Running", true),
            ("web-2", "Running", true),
            ("web-3", "Running", true),
            ("migrate-1", "Succeeded", false),
        ],
        end,
    ));
    // edge-7: one of 2 nodes not ready (NodeNotReady fires), one running pod not ready
    // (PodNotReady fires): 1/2 nodes, 1 of 3 pods not ready.
    s.extend(cluster(
        "edge-7",
        &[("edge-a", true), ("edge-b", false)],
        &[
            ("cache-1", "Running", true),
            ("cache-2", "Running", true),
            ("cache-3", "Running", false),
        ],
        end,
    ));
    // staging: a pending pod is not ready (counted), but fires no alert.
    s.extend(cluster(
        "staging",
        &[("st-a", true)],
        &[("api-1", "Running", true), ("api-2", "Pending", false)],
        end,
    ));
    // prod-us-east is watched live: only its alert (one running pod not ready) shows.
    s.extend(cluster(
        "prod-us-east",
        &[("us-a", true)],
        &[("cart-1", "Running", true), ("cart-2", "Running", false)],
        end,
    ));
    s
}

/// A watched cluster filled by hand (its own data is not what this test is about).
fn watched(name: &str) -> Arc<ClusterHandle> {
    let h = ClusterHandle::new(
        name,
        ClusterInfo {
            server: "https://127.0.0.1:6443".into(),
            user: "me".into(),
            version: Some("v1.32.4".into()),
            reach: Reach::Reachable {
                latency: Duration::from_millis(2),
                since: chrono::Utc::now(),
            },
            prometheus: PromReach::Unknown,
            readonly: false,
        },
        None,
        None,
        Notifier::new(),
        CancellationToken::new(),
    );
    h.set_discovery(Discovery {
        resources: Some(Default::default()),
        versions: Default::default(),
    });
    let live = SourceState::Live {
        since: chrono::Utc::now(),
    };
    let node: Node = serde_json::from_value(json!({"metadata": {"name": "us-a"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}}))
    .unwrap();
    h.sources.set_test_kind(vec![node], live.clone());
    let pod: Pod =
        serde_json::from_value(json!({"metadata": {"name": "cart-1", "namespace": "shop"},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}))
        .unwrap();
    h.sources.set_test_kind(vec![pod], live.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "shop"}})).unwrap();
    h.sources.set_test_kind(vec![ns], live);
    h
}

fn app(world: Arc<World>) -> App {
    let panes = registry();
    let keymap = Keymap::from_texts(
        "default",
        kdeck::keymap::BUILTIN[0].1,
        None,
        &known_actions(&panes),
    );
    App::new(
        world,
        panes,
        keymap,
        Theme::builtin("default").unwrap(),
        Config::default(),
        Clock::System,
        None,
        AppSettings::default(),
        Scope {
            all_clusters: true,
            ..Scope::default()
        },
    )
}

fn draw(app: &mut App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(200, 40)).unwrap();
    app.update_models();
    terminal.draw(|f| app.render(f)).unwrap();
    terminal.backend().to_string()
}

fn line<'a>(screen: &'a str, context: &str) -> (usize, &'a str) {
    screen
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(&format!(" {context} ")))
        .unwrap_or_else(|| panic!("no row for {context}:\n{screen}"))
}

#[test]
fn one_fleet_endpoint_gives_every_cluster_its_metrics_and_alerts() {
    let end_ms = chrono::Utc::now().timestamp_millis() - 5_000;
    let Some(server) = PromServer::start_with(&dataset(end_ms), Some(RULES)) else {
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let config = FleetConfig {
        prometheus_url: Some(format!("http://127.0.0.1:{}", server.port())),
        contexts: BTreeMap::from([("prod-eu".to_string(), "gke_acme_prod-eu".to_string())]),
        interval_secs: 5,
        ..FleetConfig::default()
    };
    let notifier = Notifier::new();
    let fleet = FleetSource::new(&config, notifier.clone()).unwrap();

    // The rule evaluator fires its alerts within a few seconds of starting.
    let deadline = Instant::now() + Duration::from_secs(90);
    let clusters = loop {
        let got = rt.block_on(fleet.fetch()).unwrap();
        let firing = got.get("edge-7").map_or(0, |c| c.alerts.len());
        if firing == 2
            && got
                .get("prod-us-east")
                .is_some_and(|c| !c.alerts.is_empty())
        {
            break got;
        }
        assert!(Instant::now() < deadline, "alerts never fired: {got:?}");
        std::thread::sleep(Duration::from_millis(500));
    };
    let numbers = |ctx: &str| {
        let c = &clusters[ctx];
        (c.nodes_ready, c.nodes, c.pods_not_ready, c.pods)
    };
    assert_eq!(
        clusters.keys().collect::<Vec<_>>(),
        ["edge-7", "gke_acme_prod-eu", "prod-us-east", "staging"]
    );
    assert_eq!(clusters["gke_acme_prod-eu"].label, "prod-eu");
    assert_eq!(
        numbers("gke_acme_prod-eu"),
        (Some(3), Some(3), Some(0), Some(4))
    );
    assert_eq!(numbers("edge-7"), (Some(1), Some(2), Some(1), Some(3)));
    assert_eq!(numbers("staging"), (Some(1), Some(1), Some(1), Some(2)));
    let alerts: Vec<(&str, &str, u64)> = clusters["edge-7"]
        .alerts
        .iter()
        .map(|a| (a.name.as_str(), a.severity.as_str(), a.count))
        .collect();
    assert_eq!(
        alerts,
        [
            ("NodeNotReady", "critical", 1),
            ("PodNotReady", "warning", 1)
        ]
    );

    // What the Clusters pane shows, with kdeck polling the endpoint as it does when running.
    let world = Arc::new(World::new(notifier));
    world.add(watched("prod-us-east"));
    world.set_fleet(Some(fleet.clone()));
    let cancel = CancellationToken::new();
    rt.spawn(fleet.clone().run(cancel.clone()));
    let mut app = app(world);
    let deadline = Instant::now() + Duration::from_secs(30);
    let screen = loop {
        let screen = draw(&mut app);
        if screen.contains("alert PodNotReady (warning)") && screen.contains("edge-7") {
            break screen;
        }
        assert!(
            Instant::now() < deadline,
            "fleet rows never shown:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    cancel.cancel();
    let (edge_at, edge) = line(&screen, "edge-7");
    assert!(edge.contains("◇ metrics only"), "{edge}");
    assert!(edge.contains(" 1/2 "), "nodes ready/total: {edge}");
    assert!(edge.contains(" 1/3 "), "pods not ready/total: {edge}");
    assert!(edge.contains("3: 1 of 2 nodes not ready"), "{edge}");
    let (prod_eu_at, prod_eu) = line(&screen, "gke_acme_prod-eu");
    assert!(prod_eu.contains("◇ metrics only"), "{prod_eu}");
    assert!(
        prod_eu.contains(" 3/3 ") && prod_eu.contains(" 0/4 "),
        "{prod_eu}"
    );
    let (staging_at, staging) = line(&screen, "staging");
    assert!(
        staging.contains(" 1/1 ") && staging.contains(" 1/2 "),
        "{staging}"
    );
    let (watched_at, watched) = line(&screen, "prod-us-east");
    assert!(watched.contains("● live"), "{watched}");
    assert!(watched.contains("alert PodNotReady (warning)"), "{watched}");
    // Worst first: critical problems, then the warning, then the healthy ones by name.
    assert!(edge_at < watched_at && watched_at < prod_eu_at && prod_eu_at < staging_at);
}
