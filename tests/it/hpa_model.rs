//! The HPA pane's model over hand-made objects of every metric type and over the upstream
//! fixtures (KEDA ScaledObjects from Argo CD's health tests, the VPA example): rows, their
//! order, metric texts and "what the controller does next", with values worked out by hand.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kdeck::k8s::apps::Deployment;
use kdeck::k8s::autoscaling::{HorizontalPodAutoscaler, ScaledObject, VerticalPodAutoscaler};
use kdeck::panes::hpa::detail::{keda_lines, vpa_lines};
use kdeck::panes::hpa::history::History;
use kdeck::panes::hpa::metrics::metric_views;
use kdeck::panes::hpa::model::{HpaRow, Objects, RowKind, State, TargetInfo, build_rows};
use kdeck::panes::hpa::next::next_step;
use kdeck::panes::kit::{RowCache, sort_rows};
use kdeck_demo::testing::support::load_yaml;
use serde_json::{Value, json};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T12:03:04Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn hpa(v: Value) -> HorizontalPodAutoscaler {
    serde_json::from_value(v).unwrap()
}

fn deployment(name: &str, replicas: i32, ready: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "shop", "uid": format!("d-{name}"), "resourceVersion": "1"},
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready}
    }))
    .unwrap()
}

fn spec(name: &str, min: i32, max: i32, metrics: Value) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "shop", "uid": format!("h-{name}"), "resourceVersion": "7"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": min, "maxReplicas": max, "metrics": metrics}
    })
}

fn rows(hpas: &[HorizontalPodAutoscaler], deployments: &[Deployment]) -> Vec<Arc<HpaRow>> {
    rows_with(hpas, deployments, &[], &[])
}

fn rows_with(
    hpas: &[HorizontalPodAutoscaler],
    deployments: &[Deployment],
    scaled: &[ScaledObject],
    unreadable: &[(Value, String)],
) -> Vec<Arc<HpaRow>> {
    let h: Vec<&HorizontalPodAutoscaler> = hpas.iter().collect();
    let d: Vec<&Deployment> = deployments.iter().collect();
    let s: Vec<&ScaledObject> = scaled.iter().collect();
    let mut pairs = build_rows(
        "prod",
        "prod",
        &Objects {
            hpas: &h,
            deployments: &d,
            scaled_objects: &s,
            unreadable,
            ..Objects::default()
        },
        now(),
        &mut History::default(),
        &mut RowCache::default(),
    );
    sort_rows(&mut pairs);
    pairs.into_iter().map(|(r, _)| r).collect()
}

/// One HPA with a metric of every source type, each with its reading.
fn every_type() -> HorizontalPodAutoscaler {
    let mut v = spec(
        "web",
        2,
        20,
        json!([
            {"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 70}}},
            {"type": "ContainerResource", "containerResource": {"name": "memory", "container": "app",
                "target": {"type": "AverageValue", "averageValue": "1Gi"}}},
            {"type": "Pods", "pods": {"metric": {"name": "http_requests_per_second"},
                "target": {"type": "AverageValue", "averageValue": "100"}}},
            {"type": "Object", "object": {"describedObject": {"apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress", "name": "web"}, "metric": {"name": "requests"},
                "target": {"type": "Value", "value": "500"}}},
            {"type": "External", "external": {"metric": {"name": "queue", "selector": {"matchLabels": {"q": "orders"}}},
                "target": {"type": "AverageValue", "averageValue": "50"}}}
        ]),
    );
    v["status"] = json!({"currentReplicas": 4, "desiredReplicas": 4, "currentMetrics": [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 82, "averageValue": "410m"}}},
        {"type": "ContainerResource", "containerResource": {"name": "memory", "container": "app",
            "current": {"averageValue": "1288490189"}}},
        {"type": "Pods", "pods": {"metric": {"name": "http_requests_per_second"}, "current": {"averageValue": "140"}}},
        {"type": "Object", "object": {"describedObject": {"kind": "Ingress", "name": "web"},
            "metric": {"name": "requests"}, "current": {"value": "1200"}}},
        {"type": "External", "external": {"metric": {"name": "queue"}, "current": {"averageValue": "300"}}}
    ], "conditions": [
        {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale"},
        {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"},
        {"type": "ScalingLimited", "status": "True", "reason": "ScaleUpLimit"}]});
    hpa(v)
}

#[test]
fn every_metric_type_reads_as_people_write_it() {
    let h = every_type();
    let r = rows(std::slice::from_ref(&h), &[deployment("web", 4, 4)]);
    let texts: Vec<&str> = r[0].metrics.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "cpu 82%/70%",
            "memory(app) 1.2Gi/1Gi avg",
            "rps 140/100 avg",
            "requests 1.2k/500",
            "queue 300/50 avg"
        ]
    );
    assert_eq!(r[0].state, State::ScaleUpHeld);
    assert_eq!(r[0].reason.as_deref(), Some("rate limit"));
}

#[test]
fn every_metric_type_proposes_by_hand() {
    let h = every_type();
    let m = metric_views(&h);
    let target = TargetInfo {
        found: true,
        spec_replicas: 4,
        ready: 4,
        status_replicas: 4,
    };
    let n = next_step(&h, &m, &target, 4, &[], now());
    // cpu 82/70 = 1.171 → ceil(4.686) = 5; memory 1.2Gi/1Gi = 1.2 → ceil(4.8) = 5;
    // rps 1.4 → ceil(5.6) = 6; requests 1200/500 = 2.4 → ceil(9.6) = 10;
    // queue: total 300 × 4 = 1200, against 50 per pod → ceil(24) = 24.
    let wants: Vec<String> = n.lines[..5]
        .iter()
        .map(|l| l.rsplit(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(wants, ["5", "5", "6", "10", "24"], "{:#?}", n.lines);
    assert_eq!(n.lines[5], "highest over metrics: 24 (queue 300/50 avg)");
    // No behavior: legacy limit max(2 × 4, 4) = 8 is below max 20.
    assert_eq!(
        n.summary,
        "queue 300/50 avg wants 24; limited to 8 by the scale-up rate → next sync scales 4→8"
    );
    assert_eq!(n.desired, Some(8));
    // Two of the five pods unready: CPU (utilization of the 2 ready ones 82%) counts them
    // idle: floor(82 × 2 / 4) = 41 → 0.586, below 1 → holds 4; the rest are unaffected.
    let half = TargetInfo { ready: 2, ..target };
    let n = next_step(&h, &m, &half, 4, &[], now());
    assert!(n.lines[0].ends_with("keeps 4"), "{}", n.lines[0]);
}

#[test]
fn no_status_v1_fields_and_unknown_types_do_not_break_the_pane() {
    let no_status = hpa(spec(
        "fresh",
        1,
        5,
        json!([{"type": "Resource", "resource": {"name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 80}}}]),
    ));
    let v1 = hpa(json!({
        "metadata": {"name": "legacy", "namespace": "shop", "uid": "h-legacy"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "legacy"},
            "minReplicas": 2, "maxReplicas": 6, "targetCPUUtilizationPercentage": 60},
        "status": {"currentReplicas": 3, "desiredReplicas": 3, "currentCPUUtilizationPercentage": 45}
    }));
    let mut future = spec(
        "future",
        1,
        3,
        json!([{"type": "Quantum", "quantum": {"name": "qubits"}}]),
    );
    future["status"] =
        json!({"currentReplicas": 1, "desiredReplicas": 1, "currentMetrics": [{"type": ""}]});
    let future = hpa(future);
    let bad = vec![(
        json!({"metadata": {"name": "broken", "namespace": "shop"}}),
        "spec.maxReplicas: invalid type: map, expected i32".to_string(),
    )];
    let r = rows_with(&[no_status, v1, future], &[], &[], &bad);
    let by = |n: &str| r.iter().find(|r| r.name == n).unwrap().clone();
    assert_eq!(by("fresh").state, State::NoStatus);
    assert_eq!(by("fresh").metrics[0].text, "cpu ?/80%");
    assert_eq!(by("legacy").metrics[0].text, "cpu 45%/60%");
    assert_eq!(by("legacy").state, State::Ok);
    assert_eq!(by("legacy").current, 3);
    assert_eq!(by("future").metrics[0].text, "Quantum (no target)");
    assert_eq!(by("future").state, State::MetricsMissing);
    assert_eq!(by("broken").state, State::Unreadable);
    assert!(
        by("broken")
            .reason
            .as_deref()
            .unwrap()
            .contains("maxReplicas")
    );
}

#[test]
fn what_needs_a_human_comes_first() {
    let with = |name: &str, max: i32, status: Value| {
        let mut v = spec(
            name,
            2,
            max,
            json!([{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 70}}}]),
        );
        v["status"] = status;
        hpa(v)
    };
    let cpu = |u: i32| json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": u}}}]);
    let pinned = with(
        "pinned",
        3,
        json!({"currentReplicas": 3, "desiredReplicas": 3, "currentMetrics": cpu(150), "conditions": [
        {"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas"}]}),
    );
    let failing = with(
        "failing",
        6,
        json!({"currentReplicas": 2, "desiredReplicas": 2, "currentMetrics": [{"type": ""}], "conditions": [
        {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale"},
        {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric"}]}),
    );
    let missing = with(
        "missing",
        6,
        json!({"currentReplicas": 2, "desiredReplicas": 2, "currentMetrics": []}),
    );
    let calm = with(
        "calm",
        6,
        json!({"currentReplicas": 3, "desiredReplicas": 3, "currentMetrics": cpu(65)}),
    );
    let held = with(
        "held",
        6,
        json!({"currentReplicas": 5, "desiredReplicas": 5, "currentMetrics": cpu(20), "conditions": [
        {"type": "AbleToScale", "status": "True", "reason": "ScaleDownStabilized"}]}),
    );
    let r = rows(
        &[calm, held, missing, failing, pinned],
        &[
            deployment("pinned", 3, 3),
            deployment("failing", 2, 2),
            deployment("missing", 2, 2),
            deployment("calm", 3, 3),
            deployment("held", 5, 5),
        ],
    );
    let order: Vec<(&str, State)> = r.iter().map(|r| (r.name.as_str(), r.state)).collect();
    assert_eq!(
        order,
        [
            ("pinned", State::PinnedAtMax),
            ("failing", State::UnableToScale),
            ("missing", State::MetricsMissing),
            ("held", State::ScaleDownHeld),
            ("calm", State::Ok),
        ]
    );
    assert_eq!(r[1].reason.as_deref(), Some("FailedGetResourceMetric"));
    assert_eq!(r[2].reason.as_deref(), Some("cpu"));
}

#[test]
fn keda_fixtures_a_paused_scaled_object_without_its_hpa_is_a_row() {
    let suspended: ScaledObject = serde_json::from_value(load_yaml(
        "keda/argocd-health/ScaledObject/testdata/keda-suspended.yaml",
    ))
    .unwrap();
    let healthy: ScaledObject = serde_json::from_value(load_yaml(
        "keda/argocd-health/ScaledObject/testdata/keda-healthy.yaml",
    ))
    .unwrap();
    assert!(suspended.paused(), "the Paused condition says so");
    assert!(!healthy.paused());
    // The suspended one has no HPA: a row of its own.
    let r = rows_with(&[], &[], std::slice::from_ref(&suspended), &[]);
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].kind, r[0].state),
        (RowKind::ScaledObject, State::Paused)
    );
    assert_eq!(r[0].target.name, "backstage");
    assert_eq!((r[0].min, r[0].max), (0, 3));
    // The healthy one's HPA is in the store: only the HPA's row, marked as KEDA's.
    let mut owned = spec(
        "keda-hpa-backstage-kambi-standard-chart",
        1,
        3,
        json!([{"type": "External", "external": {"metric": {"name": "s0-cron"},
        "target": {"type": "AverageValue", "averageValue": "1"}}}]),
    );
    owned["metadata"]["namespace"] = json!("keda");
    owned["metadata"]["ownerReferences"] = json!([{"apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject", "name": "keda", "uid": "73ee438a-f383-43f3-9346-b901d9773f4b"}]);
    let r = rows_with(&[hpa(owned)], &[], std::slice::from_ref(&healthy), &[]);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].keda, Some(("keda".to_string(), false)));
    let lines = keda_lines(&healthy);
    assert_eq!(
        lines[0],
        "ScaledObject keda · active · min 0 max 3 · polling 30s cooldown 300s"
    );
    assert!(lines.iter().any(|l| l.starts_with("trigger cron ")));
    assert_eq!(
        lines.last().unwrap(),
        "owns HPA keda-hpa-backstage-kambi-standard-chart"
    );
}

#[test]
fn vpa_example_and_recommendations() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/vpa/examples/hamster.yaml");
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&std::fs::read_to_string(path).unwrap()).unwrap();
    let doc = docs
        .into_iter()
        .find(|d| d["kind"] == "VerticalPodAutoscaler")
        .unwrap();
    let mut vpa: VerticalPodAutoscaler = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(
        vpa_lines(&vpa),
        ["hamster-vpa · update mode Auto", "no recommendation yet"]
    );
    let mut with_status = doc;
    with_status["status"] = json!({"recommendation": {"containerRecommendations": [{
        "containerName": "hamster",
        "lowerBound": {"cpu": "480m", "memory": "2147483648"},
        "target": {"cpu": "763m", "memory": "2791728742"},
        "upperBound": {"cpu": "1210m", "memory": "3758096384"}}]}});
    vpa = serde_json::from_value(with_status).unwrap();
    // 2791728742 B = 2.6 GiB; 2147483648 B = 2 GiB; 3758096384 B = 3.5 GiB.
    assert_eq!(
        vpa_lines(&vpa)[1],
        "hamster: target cpu 763m (480m–1210m), memory 2.6Gi (2Gi–3.5Gi)"
    );
}

#[test]
fn history_survives_a_namespace_filter_and_goes_with_the_hpa() {
    use kdeck::clock::Clock;
    use kdeck::config::Config;
    use kdeck::panes::hpa::HpaPane;
    use kdeck::panes::{Pane, Scope, ViewCtx};
    use kdeck::source::SourceState;
    let c = crate::render::handle(
        "prod",
        crate::render::info(kdeck::cluster::Reach::Connecting),
        kdeck::cluster::Discovery::default(),
    );
    let live = SourceState::Live { since: now() };
    let a = hpa(spec("a", 1, 5, json!([])));
    let mut b = spec("b", 1, 5, json!([]));
    b["metadata"]["namespace"] = json!("other");
    let b = hpa(b);
    c.sources
        .set_test_kind(vec![a.clone(), b.clone()], live.clone());
    let clusters = vec![c.clone()];
    let config = Config::default();
    let problems = std::collections::BTreeMap::new();
    let mut pane = HpaPane::default();
    let mut update = |scope: &Scope| {
        pane.update(&ViewCtx {
            clusters: &clusters,
            scope,
            clock: Clock::Fixed(now()),
            config: &config,
            problems: &problems,
            addons: &[],
            fleet: None,
        });
        pane.model.history_len()
    };
    assert_eq!(update(&Scope::default()), 2);
    // Only `shop` in view: `other/b` is still there, so its history stays.
    let shop = Scope {
        namespace: Some("shop".into()),
        ..Scope::default()
    };
    c.sources.set_test_kind(vec![a.clone(), b], live.clone());
    assert_eq!(update(&shop), 2);
    // `b` deleted: forgotten.
    c.sources.set_test_kind(vec![a], live);
    assert_eq!(update(&Scope::default()), 1);
}
