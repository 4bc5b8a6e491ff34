//! Render snapshots of the HPA pane on a fixed-size TestBackend with a fixed clock: the list
//! (live, one cluster stale, forbidden) at 120x36 and 80x24, and the detail view where KEDA
//! and the VPA are installed and where they are not. Review with `cargo insta review`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use kdeck::app::{App, AppSettings};
use kdeck::cluster::{ClusterHandle, Discovery, Reach};
use kdeck::k8s::apps::{Deployment, StatefulSet};
use kdeck::k8s::autoscaling::{HorizontalPodAutoscaler, ScaledObject, VerticalPodAutoscaler};
use kdeck::k8s::core::Event;
use kdeck::k8s::rollout::Rollout;
use kdeck::keymap::ActionCall;
use kdeck::source::{SourceState, Watched};
use serde_json::{Value, json};

use crate::render::{app_for, draw, handle, info, now};

fn ago(secs: i64) -> chrono::DateTime<chrono::Utc> {
    now() - chrono::Duration::seconds(secs)
}

fn at(secs_ago: i64) -> String {
    ago(secs_ago).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn live() -> SourceState {
    SourceState::Live { since: ago(300) }
}

fn parse<K: serde::de::DeserializeOwned>(v: Value) -> K {
    serde_json::from_value(v).unwrap()
}

fn fill<K: Watched>(h: &ClusterHandle, objects: Vec<K>, state: SourceState) {
    h.sources.set_test_kind(objects, state);
}

fn cluster(name: &str) -> Arc<ClusterHandle> {
    handle(
        name,
        info(Reach::Reachable {
            latency: Duration::from_millis(14),
            since: ago(600),
        }),
        Discovery {
            resources: Some(BTreeSet::new()),
            ..Discovery::default()
        },
    )
}

fn cond(type_: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message,
        "lastTransitionTime": at(3600)})
}

fn cpu(util: i64) -> Value {
    json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": util}}})
}

fn cpu_now(util: i64) -> Value {
    json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": util}}})
}

#[allow(clippy::too_many_arguments)]
fn hpa(
    ns: &str,
    name: &str,
    target: (&str, &str),
    min: i64,
    max: i64,
    metrics: Value,
    status: Value,
) -> HorizontalPodAutoscaler {
    let api = if target.0 == "StatefulSet" || target.0 == "Deployment" {
        "apps/v1"
    } else {
        "argoproj.io/v1alpha1"
    };
    parse(json!({
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"),
            "resourceVersion": "10", "creationTimestamp": at(86_400 * 9)},
        "spec": {"scaleTargetRef": {"apiVersion": api, "kind": target.0, "name": target.1},
            "minReplicas": min, "maxReplicas": max, "metrics": metrics},
        "status": status,
    }))
}

fn deployment(ns: &str, name: &str, replicas: i64, ready: i64) -> Deployment {
    parse(
        json!({"metadata": {"name": name, "namespace": ns, "uid": format!("d-{name}"), "resourceVersion": "3"},
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready}}),
    )
}

fn common_hpas() -> (
    Vec<HorizontalPodAutoscaler>,
    Vec<Deployment>,
    Vec<StatefulSet>,
) {
    let ok = |r: &str| cond("AbleToScale", "True", r, "");
    let hpas = vec![
        hpa(
            "search",
            "indexer",
            ("StatefulSet", "indexer"),
            2,
            3,
            json!([cpu(70)]),
            json!({"currentReplicas": 3, "desiredReplicas": 3, "lastScaleTime": at(7_200),
                "currentMetrics": [cpu_now(113)], "conditions": [
                ok("ReadyForNewScale"),
                cond("ScalingActive", "True", "ValidMetricFound",
                    "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"),
                cond("ScalingLimited", "True", "TooManyReplicas",
                    "the desired replica count is more than the maximum replica count")]}),
        ),
        hpa(
            "payments",
            "ledger",
            ("Deployment", "ledger"),
            2,
            6,
            json!([cpu(75)]),
            json!({"currentReplicas": 2, "desiredReplicas": 2, "currentMetrics": [{"type": ""}],
                "conditions": [ok("SucceededGetScale"),
                cond("ScalingActive", "False", "FailedGetResourceMetric",
                    "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API")]}),
        ),
        hpa(
            "shop",
            "gateway",
            ("Deployment", "gateway"),
            2,
            8,
            json!([cpu(70), {"type": "Pods", "pods": {"metric": {"name": "http_requests_per_second"},
                "target": {"type": "AverageValue", "averageValue": "100"}}}]),
            json!({"currentReplicas": 4, "desiredReplicas": 6, "lastScaleTime": at(40),
                "currentMetrics": [cpu_now(45), {"type": "Pods", "pods": {"metric": {"name": "http_requests_per_second"},
                    "current": {"averageValue": "140"}}}],
                "conditions": [ok("SucceededRescale"),
                cond("ScalingActive", "True", "ValidMetricFound", ""),
                cond("ScalingLimited", "False", "DesiredWithinRange", "")]}),
        ),
        hpa(
            "shop",
            "frontend",
            ("Deployment", "frontend"),
            2,
            10,
            json!([cpu(60)]),
            json!({"currentReplicas": 3, "desiredReplicas": 3, "lastScaleTime": at(1_500),
                "currentMetrics": [cpu_now(56)], "conditions": [ok("ReadyForNewScale"),
                cond("ScalingActive", "True", "ValidMetricFound", ""),
                cond("ScalingLimited", "False", "DesiredWithinRange", "")]}),
        ),
    ];
    let deployments = vec![
        deployment("payments", "ledger", 2, 2),
        deployment("shop", "gateway", 6, 4),
        deployment("shop", "frontend", 3, 3),
    ];
    let sts: Vec<StatefulSet> = vec![parse(json!({
        "metadata": {"name": "indexer", "namespace": "search", "uid": "s-indexer", "resourceVersion": "4"},
        "spec": {"replicas": 3}, "status": {"replicas": 3, "readyReplicas": 3}}))];
    (hpas, deployments, sts)
}

/// us-east: every kind of HPA, KEDA with its HPA, the VPA of the indexer.
fn east() -> Arc<ClusterHandle> {
    let c = cluster("prod-us-east");
    let (mut hpas, mut deployments, sts) = common_hpas();
    hpas.push(hpa(
        "argocd",
        "argocd-repo-server",
        ("Deployment", "argocd-repo-server"),
        1,
        5,
        json!([cpu(75)]),
        json!({"currentReplicas": 5, "desiredReplicas": 5, "lastScaleTime": at(600),
            "currentMetrics": [cpu_now(8)], "conditions": [
            cond("AbleToScale", "True", "ScaleDownStabilized",
                "recent recommendations were higher than current one, applying the highest recent recommendation"),
            cond("ScalingActive", "True", "ValidMetricFound", ""),
            cond("ScalingLimited", "False", "DesiredWithinRange", "")]}),
    ));
    let mut keda: HorizontalPodAutoscaler = hpa(
        "shop",
        "keda-hpa-orders-worker",
        ("Deployment", "orders-worker"),
        1,
        12,
        json!([{"type": "External", "external": {"metric": {"name": "s0-rabbitmq-orders"},
            "target": {"type": "AverageValue", "averageValue": "50"}}}]),
        json!({"currentReplicas": 3, "desiredReplicas": 3, "lastScaleTime": at(300),
            "currentMetrics": [{"type": "External", "external": {"metric": {"name": "s0-rabbitmq-orders"},
                "current": {"averageValue": "48"}}}],
            "conditions": [cond("AbleToScale", "True", "ReadyForNewScale", ""),
                cond("ScalingActive", "True", "ValidMetricFound", ""),
                cond("ScalingLimited", "False", "DesiredWithinRange", "")]}),
    );
    keda.metadata.owner_references = Some(vec![parse(json!({"apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject", "name": "orders-worker", "uid": "so-1", "controller": true}))]);
    hpas.push(keda);
    deployments.push(deployment("argocd", "argocd-repo-server", 5, 5));
    deployments.push(deployment("shop", "orders-worker", 3, 3));
    let so: ScaledObject = parse(json!({
        "metadata": {"name": "orders-worker", "namespace": "shop", "uid": "so-1", "resourceVersion": "2"},
        "spec": {"scaleTargetRef": {"name": "orders-worker"}, "minReplicaCount": 1, "maxReplicaCount": 12,
            "triggers": [{"type": "rabbitmq", "metadata": {"queueName": "orders", "mode": "QueueLength", "value": "50"}}]},
        "status": {"hpaName": "keda-hpa-orders-worker", "conditions": [
            {"type": "Ready", "status": "True", "message": "ScaledObject is defined correctly and is ready for scaling"},
            {"type": "Active", "status": "True", "message": "Scaling is performed because triggers are active"}]}
    }));
    let vpa: VerticalPodAutoscaler = parse(json!({
        "metadata": {"name": "indexer", "namespace": "search", "uid": "v-1", "resourceVersion": "2"},
        "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "indexer"},
            "updatePolicy": {"updateMode": "Off"}},
        "status": {"recommendation": {"containerRecommendations": [{"containerName": "indexer",
            "lowerBound": {"cpu": "480m", "memory": "2147483648"},
            "target": {"cpu": "763m", "memory": "2791728742"},
            "upperBound": {"cpu": "1210m", "memory": "3758096384"}}]}}
    }));
    fill(&c, hpas, live());
    fill(&c, deployments, live());
    fill(&c, sts, live());
    fill::<Rollout>(&c, vec![], live());
    fill(&c, vec![so], live());
    fill(&c, vec![vpa], live());
    c
}

/// The indexer HPA's events, as the detail view's scoped watch would hold them (set once the
/// view is open: opening it declares the watch).
fn indexer_events(c: &ClusterHandle) {
    let event = |reason: &str, message: &str, secs: i64, type_: &str| -> Event {
        parse(
            json!({"metadata": {"name": format!("e-{secs}"), "namespace": "search"},
            "involvedObject": {"kind": "HorizontalPodAutoscaler", "name": "indexer", "namespace": "search"},
            "type": type_, "reason": reason, "message": message, "count": 1,
            "lastTimestamp": at(secs)}),
        )
    };
    c.sources.set_test_scoped(
        "events/HorizontalPodAutoscaler/search/indexer",
        vec![
            event(
                "SuccessfulRescale",
                "New size: 3; reason: cpu resource utilization (percentage of request) above target",
                7_200,
                "Normal",
            ),
            event(
                "SuccessfulRescale",
                "New size: 2; reason: All metrics below target",
                9_000,
                "Normal",
            ),
        ],
        live(),
    );
}

/// eu-west: the common HPAs, KEDA and the VPA not installed.
fn west(hpa_state: SourceState) -> Arc<ClusterHandle> {
    let c = cluster("prod-eu-west");
    let (hpas, deployments, sts) = common_hpas();
    fill(&c, hpas, hpa_state);
    fill(&c, deployments, live());
    fill(&c, sts, live());
    fill::<Rollout>(&c, vec![], SourceState::NotInstalled);
    fill::<ScaledObject>(&c, vec![], SourceState::NotInstalled);
    fill::<VerticalPodAutoscaler>(&c, vec![], SourceState::NotInstalled);
    c
}

fn hpa_app(clusters: Vec<Arc<ClusterHandle>>) -> App {
    let mut app = app_for(clusters, AppSettings::default());
    assert!(app.focus_pane("hpa"));
    app
}

fn first_row(screen: &str) -> &str {
    let lines: Vec<&str> = screen.lines().collect();
    let header = lines.iter().position(|l| l.contains("REPLICAS")).unwrap();
    lines[header + 1]
}

#[test]
fn hpa_list_120x36() {
    let mut app = hpa_app(vec![east(), west(live())]);
    let screen = draw(&mut app, 120, 36);
    assert!(first_row(&screen).contains("▲ pinned at max 3"), "{screen}");
    assert!(screen.contains("cpu 45%/70%, rps"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn hpa_list_80x24() {
    let mut app = hpa_app(vec![east(), west(live())]);
    insta::assert_snapshot!(draw(&mut app, 80, 24));
}

#[test]
fn hpa_list_one_cluster_stale() {
    let stale = SourceState::Stale {
        since: ago(20),
        retry_at: now() + chrono::Duration::seconds(8),
        reason: "Connection refused".into(),
    };
    let mut app = hpa_app(vec![east(), west(stale)]);
    let screen = draw(&mut app, 120, 36);
    assert!(
        screen.contains("prod-eu-west stale since 12:02:44"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn hpa_forbidden() {
    let c = west(SourceState::Forbidden {
        reason: "horizontalpodautoscalers.autoscaling is forbidden".into(),
    });
    fill::<HorizontalPodAutoscaler>(
        &c,
        vec![],
        SourceState::Forbidden {
            reason: "horizontalpodautoscalers.autoscaling is forbidden".into(),
        },
    );
    let mut app = hpa_app(vec![c]);
    let screen = draw(&mut app, 120, 36);
    assert!(
        screen.contains("✖ forbidden: horizontalpodautoscalers"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

fn open(app: &mut App, name: &str) {
    app.dispatch(&ActionCall {
        name: "open-detail".into(),
        args: vec![name.into()],
    });
}

#[test]
fn hpa_detail_with_keda_and_vpa_120x36() {
    let c = east();
    let mut app = hpa_app(vec![c.clone()]);
    open(&mut app, "indexer");
    draw(&mut app, 120, 36);
    indexer_events(&c);
    let screen = draw(&mut app, 120, 36);
    assert!(
        screen.contains("cpu 113%/70% wants 5; capped at max 3 → stays at 3"),
        "{screen}"
    );
    assert!(screen.contains("indexer · update mode Off"), "{screen}");
    assert!(screen.contains("New size: 3; reason"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn hpa_detail_keda_and_vpa_not_installed_80x24() {
    let mut app = hpa_app(vec![west(live())]);
    open(&mut app, "gateway");
    let screen = draw(&mut app, 120, 36);
    assert!(screen.contains("KEDA       not installed"), "{screen}");
    assert!(screen.contains("VPA        not installed"), "{screen}");
    insta::assert_snapshot!("hpa_detail_keda_and_vpa_not_installed_120x36", screen);
    insta::assert_snapshot!(draw(&mut app, 80, 24));
    let mut app = hpa_app(vec![east()]);
    open(&mut app, "keda-hpa-orders-worker");
    insta::assert_snapshot!("hpa_detail_keda_120x36", draw(&mut app, 120, 36));
}
