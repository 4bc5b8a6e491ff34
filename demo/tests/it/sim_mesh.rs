//! The mesh scenario on clusters with Istio (its rules and routes validate against Istio's
//! CRDs; Envoy's stats only where the profile exports them) and the two faults the
//! Circuit-breakers pane is tested with: Prometheus alone going away, and an Istio too old to
//! serve `networking.istio.io/v1`. Driven over HTTP like any client.

use std::collections::BTreeSet;

use kdeck_demo::api::registry;
use kdeck_demo::prom::tsdb::label_value;
use kdeck_demo::sim::{mesh, namespaces};
use kdeck_demo::testing::demo_harness::{TestDemo, plain_http};
use kdeck_demo::{ClusterProfile, ClusterState, SimOptions};
use reqwest::StatusCode;
use serde_json::Value;

use crate::schema::{schema_for, validate};

fn seeded(index: usize) -> ClusterState {
    let state = ClusterState::new(ClusterProfile::standard(index), SimOptions::default());
    namespaces::seed(&state);
    mesh::seed(&state);
    state
}

/// (metric name, cluster_name or destination_service_name) of every series.
fn names(state: &ClusterState) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    state.prom.tsdb.for_each_series(|s| {
        let name = label_value(&s.labels, "__name__").to_string();
        let subject = match label_value(&s.labels, "cluster_name") {
            "" => label_value(&s.labels, "destination_service_name"),
            c => c,
        };
        out.insert((name, subject.to_string()));
    });
    out
}

#[test]
fn mesh_rules_and_routes_validate_against_istios_crds() {
    let state = seeded(0);
    for (plural, kind, want) in [
        ("destinationrules", "DestinationRule", 4),
        ("virtualservices", "VirtualService", 2),
    ] {
        let t = registry::find("networking.istio.io", plural).unwrap();
        let schema = schema_for("networking.istio.io", kind, "v1").unwrap();
        let (objs, _) = state.store.list(t, None);
        assert_eq!(objs.len(), want, "{plural}");
        for o in &objs {
            let errors = validate(&o.value(), schema);
            assert!(errors.is_empty(), "{}: {errors:#?}", o.key.name);
        }
    }
    // No Istio on the second cluster: no rules, no series.
    let west = seeded(1);
    assert_eq!(west.prom.tsdb.series_count(), 0);
}

#[test]
fn envoy_stats_only_where_the_sidecars_export_them() {
    let east = names(&seeded(0));
    let ledger = mesh::SERVICES.iter().find(|s| s.name == "ledger").unwrap();
    let catalog = mesh::SERVICES.iter().find(|s| s.name == "catalog").unwrap();
    let frontend = mesh::SERVICES
        .iter()
        .find(|s| s.name == "frontend")
        .unwrap();
    let has = |set: &BTreeSet<(String, String)>, name: &str, subject: &str| {
        set.contains(&(name.to_string(), subject.to_string()))
    };
    for s in [ledger, catalog] {
        assert!(
            has(
                &east,
                "envoy_cluster_outlier_detection_ejections_active",
                &s.cluster_name()
            ),
            "{}",
            s.name
        );
    }
    assert!(has(
        &east,
        "envoy_cluster_upstream_rq_pending_overflow",
        &ledger.cluster_name()
    ));
    // The ingress gateway's proxy does not export them.
    assert!(!east.iter().any(|(_, c)| *c == frontend.cluster_name()));
    assert!(has(&east, "istio_requests_total", "frontend"));
    // A third cluster (Istio, default proxy config): requests, but no Envoy stats.
    let south = names(&seeded(2));
    assert!(has(&south, "istio_requests_total", "ledger"));
    assert!(
        !south.iter().any(|(n, _)| n.starts_with("envoy_")),
        "{south:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_alone_goes_away_and_comes_back() {
    let t = TestDemo::start(1).await;
    let c = t.cluster(0);
    let proxy = format!(
        "{}/api/v1/namespaces/monitoring/services/prometheus:9090/proxy/api/v1/query?query=up",
        t.url(0)
    );
    assert_eq!(
        t.http().get(&proxy).send().await.unwrap().status(),
        StatusCode::OK
    );
    // Over the control API, as out-of-process tests and users send it.
    let control = format!("{}/clusters/{}/faults", t.demo.control_url(), c.name);
    let resp = t
        .control_http()
        .post(&control)
        .body(r#"{"action":"prom-down"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = t.http().get(&proxy).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["kind"], "Status");
    assert!(
        plain_http()
            .get(format!("{}/api/v1/query?query=up", c.prom_url()))
            .send()
            .await
            .is_err(),
        "the Prometheus port is closed"
    );
    // The Kubernetes API itself is untouched.
    assert_eq!(
        t.http()
            .get(format!("{}/api/v1/namespaces", t.url(0)))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    c.faults.prom_up().await.unwrap();
    assert_eq!(
        t.http().get(&proxy).send().await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hidden_version_is_gone_from_discovery_and_paths() {
    let t = TestDemo::start(1).await;
    let group = format!("{}/apis/networking.istio.io", t.url(0));
    let dr_v1 = format!("{group}/v1/destinationrules");
    let dr_beta = format!("{group}/v1beta1/destinationrules");
    assert_eq!(
        t.http().get(&dr_v1).send().await.unwrap().status(),
        StatusCode::OK
    );
    t.cluster(0)
        .faults
        .hide_version("networking.istio.io", "v1");
    let doc: Value = t
        .http()
        .get(&group)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["preferredVersion"]["version"], "v1beta1");
    let versions: Vec<&str> = doc["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["version"].as_str())
        .collect();
    assert_eq!(versions, ["v1beta1", "v1alpha3"]);
    assert_eq!(
        t.http()
            .get(format!("{group}/v1"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.http().get(&dr_v1).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let list: Value = t
        .http()
        .get(&dr_beta)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(
        items
            .iter()
            .all(|i| i["apiVersion"] == "networking.istio.io/v1beta1")
    );
}
