//! The demo cluster's simulated workloads and platform add-ons, driven in-process: seeded
//! state is consistent, controllers move it (scaling, rolling updates, crash loops, HPAs,
//! Argo CD syncs, Velero backups), metrics agree with objects, and the same seed gives the
//! same scenario.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kdeck_demo::api::registry::{self, TypeId};
use kdeck_demo::api::store::{Patch, Subresource};
use kdeck_demo::sim::{self, kinds::kinds};
use kdeck_demo::{ClusterProfile, ClusterState, SimOptions};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::schema::validate_object;

/// A seeded cluster (not yet running).
fn seeded(index: usize, speed: f64, scale: usize) -> Arc<ClusterState> {
    let state = Arc::new(ClusterState::new(
        ClusterProfile::standard(index),
        SimOptions {
            seed: 7,
            speed,
            scale,
        },
    ));
    sim::seed(&state);
    state
}

/// A seeded cluster with its controllers running until the guard drops.
struct Running {
    state: Arc<ClusterState>,
    shutdown: CancellationToken,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn running(index: usize, speed: f64) -> Running {
    let state = seeded(index, speed, 0);
    let shutdown = CancellationToken::new();
    sim::spawn(&state, &shutdown);
    Running { state, shutdown }
}

/// Polls `f` every 50 ms until it returns `Some`, or panics with `what` after `limit`.
async fn eventually<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const LONG: Duration = Duration::from_secs(60);

fn get(state: &ClusterState, t: TypeId, ns: &str, name: &str) -> Option<Value> {
    state.store.get_value(t, ns, name)
}

fn list(state: &ClusterState, t: TypeId, ns: Option<&str>) -> Vec<Value> {
    state
        .store
        .list(t, ns)
        .0
        .iter()
        .map(|o| o.value())
        .collect()
}

fn i(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or_default()
}

fn condition<'a>(v: &'a Value, type_: &str) -> Option<&'a Value> {
    v.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

fn owned_by<'a>(items: &'a [Value], uid: &str) -> Vec<&'a Value> {
    items
        .iter()
        .filter(|o| {
            o.pointer("/metadata/ownerReferences/0/uid")
                .and_then(Value::as_str)
                == Some(uid)
        })
        .collect()
}

fn pod_ready(p: &Value) -> bool {
    p.pointer("/metadata/deletionTimestamp").is_none()
        && condition(p, "Ready").is_some_and(|c| c["status"] == "True")
}

fn merge(state: &ClusterState, t: TypeId, ns: &str, name: &str, patch: Value) -> Value {
    state
        .store
        .patch(t, ns, name, &Patch::Merge(patch), Subresource::Main, false)
        .unwrap_or_else(|e| panic!("patch {ns}/{name}: {e}"))
}

/// The latest sample of the series with exactly these labels (besides `__name__`).
fn latest(state: &ClusterState, name: &str, labels: &[(&str, &str)]) -> Option<(i64, f64)> {
    let want = kdeck_demo::prom::tsdb::labels(name, labels);
    let mut out = None;
    state.prom.tsdb.for_each_series(|s| {
        if s.labels == want {
            out = s.samples.back().copied();
        }
    });
    out
}

// ---------------------------------------------------------------- workloads

#[test]
fn seeded_workloads_are_consistent() {
    let state = seeded(0, 1.0, 0);
    let k = kinds();
    let pods = list(&state, k.pod, None);
    for d in list(&state, k.deployment, None) {
        let ns = s(&d, "/metadata/namespace");
        let name = s(&d, "/metadata/name");
        let rss = list(&state, k.replicaset, Some(ns));
        let owned = owned_by(&rss, s(&d, "/metadata/uid"));
        assert!(!owned.is_empty(), "{ns}/{name} has no ReplicaSet");
        let replicas = i(&d, "/spec/replicas");
        let mine: Vec<&Value> = owned
            .iter()
            .flat_map(|rs| owned_by(&pods, s(rs, "/metadata/uid")))
            .collect();
        assert_eq!(mine.len() as i64, replicas, "{ns}/{name} pods");
        let ready = mine.iter().filter(|p| pod_ready(p)).count() as i64;
        assert_eq!(i(&d, "/status/readyReplicas"), ready, "{ns}/{name} ready");
        assert_eq!(
            i(&d, "/status/updatedReplicas"),
            replicas,
            "{ns}/{name} updated"
        );
        assert_eq!(
            i(&d, "/status/observedGeneration"),
            i(&d, "/metadata/generation")
        );
        for rs in &owned {
            assert!(!s(rs, "/metadata/labels/pod-template-hash").is_empty());
            assert!(
                !s(
                    rs,
                    "/metadata/annotations/deployment.kubernetes.io~1revision"
                )
                .is_empty()
            );
            assert_eq!(rs["metadata"]["ownerReferences"][0]["controller"], true);
        }
        assert!(condition(&d, "Available").is_some() && condition(&d, "Progressing").is_some());
    }
    let frontend = get(&state, k.deployment, "shop", "frontend").unwrap();
    assert_eq!(i(&frontend, "/spec/replicas"), 3);
    let catalog = get(&state, k.deployment, "shop", "catalog").unwrap();
    assert_eq!(i(&catalog, "/status/availableReplicas"), 1);
    assert_eq!(
        condition(&catalog, "Progressing").unwrap()["reason"],
        "ProgressDeadlineExceeded"
    );
    let crashing: Vec<&Value> = pods
        .iter()
        .filter(|p| s(p, "/status/containerStatuses/0/state/waiting/reason") == "CrashLoopBackOff")
        .collect();
    assert_eq!(crashing.len(), 1);
    assert!(s(crashing[0], "/metadata/name").starts_with("catalog-"));
    assert!(i(crashing[0], "/status/containerStatuses/0/restartCount") > 10);
    let indexer_pods: Vec<String> = list(&state, k.pod, Some("search"))
        .iter()
        .map(|p| s(p, "/metadata/name").to_string())
        .collect();
    assert_eq!(indexer_pods, ["indexer-0", "indexer-1", "indexer-2"]);
    let prom_svc = get(&state, k.service, "monitoring", "prometheus").unwrap();
    assert_eq!(prom_svc["spec"]["ports"][0]["port"], 9090);
    // Every scheduled pod is on a Ready worker.
    let nodes = list(&state, k.node, None);
    assert!((4..=6).contains(&nodes.len()));
    for p in &pods {
        let node = s(p, "/spec/nodeName");
        let n = nodes
            .iter()
            .find(|n| s(n, "/metadata/name") == node)
            .unwrap();
        assert_eq!(condition(n, "Ready").unwrap()["status"], "True", "{node}");
    }
}

#[test]
fn second_cluster_lacks_velero_and_has_a_not_ready_node() {
    let state = seeded(1, 1.0, 0);
    let k = kinds();
    assert!(list(&state, k.deployment, Some("velero")).is_empty());
    assert!(list(&state, k.schedule, None).is_empty());
    let not_ready = list(&state, k.node, None)
        .into_iter()
        .filter(|n| condition(n, "Ready").is_some_and(|c| c["status"] != "True"))
        .count();
    assert_eq!(not_ready, 1);
    assert!(
        list(&state, k.node, None)
            .iter()
            .all(|n| n["status"]["nodeInfo"]["kubeletVersion"] == "v1.31.6")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaled_deployment_gets_ready_pods_and_status() {
    let c = running(0, 50.0);
    let k = kinds();
    merge(
        &c.state,
        k.deployment,
        "shop",
        "cart",
        json!({"spec": {"replicas": 5}}),
    );
    let d = eventually(LONG, "cart at 5 available", || {
        let d = get(&c.state, k.deployment, "shop", "cart")?;
        (i(&d, "/status/availableReplicas") == 5 && i(&d, "/status/readyReplicas") == 5)
            .then_some(d)
    })
    .await;
    assert_eq!(i(&d, "/status/updatedReplicas"), 5);
    assert_eq!(i(&d, "/status/replicas"), 5);
    assert_eq!(
        i(&d, "/status/observedGeneration"),
        i(&d, "/metadata/generation")
    );
    let avail = condition(&d, "Available").unwrap();
    assert_eq!(
        (avail["status"].as_str(), avail["reason"].as_str()),
        (Some("True"), Some("MinimumReplicasAvailable"))
    );
    let pods: Vec<Value> = list(&c.state, k.pod, Some("shop"))
        .into_iter()
        .filter(|p| s(p, "/metadata/name").starts_with("cart-"))
        .collect();
    assert_eq!(pods.len(), 5);
    assert!(
        pods.iter()
            .all(|p| p["status"]["phase"] == "Running" && pod_ready(p))
    );
    assert!(
        pods.iter()
            .all(|p| !s(p, "/status/podIP").is_empty() && !s(p, "/spec/nodeName").is_empty())
    );
    // Events: the scale-up and the pod creations.
    let events = list(&c.state, k.event, Some("shop"));
    assert!(events.iter().any(|e| e["reason"] == "ScalingReplicaSet"
        && s(e, "/message").contains("from 2 to 5")));
    assert!(events.iter().any(|e| e["reason"] == "SuccessfulCreate"));

    // Scale down: surplus pods terminate and go away.
    merge(
        &c.state,
        k.deployment,
        "shop",
        "cart",
        json!({"spec": {"replicas": 1}}),
    );
    eventually(LONG, "cart down to 1 pod", || {
        let pods = list(&c.state, k.pod, Some("shop"))
            .into_iter()
            .filter(|p| s(p, "/metadata/name").starts_with("cart-"))
            .count();
        let d = get(&c.state, k.deployment, "shop", "cart")?;
        (pods == 1 && i(&d, "/status/availableReplicas") == 1 && i(&d, "/status/replicas") == 1)
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_change_rolls_out_a_new_replicaset() {
    let c = running(0, 50.0);
    let k = kinds();
    let before = get(&c.state, k.deployment, "payments", "ledger").unwrap();
    let old_rev: i64 = s(
        &before,
        "/metadata/annotations/deployment.kubernetes.io~1revision",
    )
    .parse()
    .unwrap();
    merge(
        &c.state,
        k.deployment,
        "payments",
        "ledger",
        json!({"spec": {"template": {"spec": {"containers": [{
            "name": "ledger", "image": "registry.example.com/payments/ledger:3.3.0",
            "ports": [{"name": "grpc", "containerPort": 9090, "protocol": "TCP"}]}]}}}}),
    );
    let d = eventually(LONG, "ledger rolled out", || {
        let d = get(&c.state, k.deployment, "payments", "ledger")?;
        let done = i(&d, "/status/observedGeneration") == i(&d, "/metadata/generation")
            && i(&d, "/status/updatedReplicas") == 2
            && i(&d, "/status/availableReplicas") == 2
            && i(&d, "/status/replicas") == 2
            && condition(&d, "Progressing")?["reason"] == "NewReplicaSetAvailable";
        done.then_some(d)
    })
    .await;
    let rev: i64 = s(
        &d,
        "/metadata/annotations/deployment.kubernetes.io~1revision",
    )
    .parse()
    .unwrap();
    assert_eq!(rev, old_rev + 1);
    let rss = list(&c.state, k.replicaset, Some("payments"));
    let owned = owned_by(&rss, s(&d, "/metadata/uid"));
    let active: Vec<&&Value> = owned
        .iter()
        .filter(|r| i(r, "/spec/replicas") > 0)
        .collect();
    assert_eq!(active.len(), 1);
    assert!(s(active[0], "/spec/template/spec/containers/0/image").ends_with(":3.3.0"));
    // Only ledger's pods: `payments` also runs the payments-api Rollout.
    eventually(LONG, "old ledger pods gone", || {
        let pods = list(&c.state, k.pod, Some("payments"));
        let ledger: Vec<&Value> = pods
            .iter()
            .filter(|p| s(p, "/metadata/labels/app.kubernetes.io~1name") == "ledger")
            .collect();
        (ledger.len() == 2
            && ledger
                .iter()
                .all(|p| s(p, "/spec/containers/0/image").ends_with(":3.3.0")))
        .then_some(())
    })
    .await;
    let events = list(&c.state, k.event, Some("payments"));
    assert!(events.iter().any(|e| e["reason"] == "ScalingReplicaSet"
        && e["involvedObject"]["name"] == "ledger"
        && s(e, "/message").starts_with("Scaled down")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_deployment_holds_its_rollout_until_resumed() {
    let c = running(0, 50.0);
    let k = kinds();
    let uid = s(
        &get(&c.state, k.deployment, "shop", "cart").unwrap(),
        "/metadata/uid",
    )
    .to_string();
    let rs_count = || owned_by(&list(&c.state, k.replicaset, Some("shop")), &uid).len();
    // Counted before the pause: a roll at any point after it shows.
    let before = rs_count();
    merge(
        &c.state,
        k.deployment,
        "shop",
        "cart",
        json!({"spec": {"paused": true}}),
    );
    merge(
        &c.state,
        k.deployment,
        "shop",
        "cart",
        json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}}}}}),
    );
    let d = eventually(LONG, "paused condition", || {
        let d = get(&c.state, k.deployment, "shop", "cart")?;
        (condition(&d, "Progressing")?["reason"] == "DeploymentPaused"
            && i(&d, "/status/observedGeneration") == i(&d, "/metadata/generation"))
        .then_some(d)
    })
    .await;
    assert_eq!(condition(&d, "Progressing").unwrap()["status"], "Unknown");
    // A spec change made after the template change (it bumps the generation and changes
    // nothing else): once the controller has observed it, it has synced the paused
    // Deployment, already marked paused, with the new template again.
    let marked = merge(
        &c.state,
        k.deployment,
        "shop",
        "cart",
        json!({"spec": {"revisionHistoryLimit": 11}}),
    );
    let marker_generation = i(&marked, "/metadata/generation");
    eventually(LONG, "the controller observed the later change", || {
        let d = get(&c.state, k.deployment, "shop", "cart")?;
        (i(&d, "/status/observedGeneration") >= marker_generation).then_some(())
    })
    .await;
    assert_eq!(rs_count(), before, "a paused Deployment must not roll");
    merge(
        &c.state,
        k.deployment,
        "shop",
        "cart",
        json!({"spec": {"paused": false}}),
    );
    eventually(LONG, "resumed rollout completes", || {
        let d = get(&c.state, k.deployment, "shop", "cart")?;
        (rs_count() == before + 1
            && condition(&d, "Progressing")?["reason"] == "NewReplicaSetAvailable"
            && i(&d, "/status/updatedReplicas") == 2
            && i(&d, "/status/availableReplicas") == 2)
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulset_scales_in_ordinal_order() {
    let c = running(0, 50.0);
    let k = kinds();
    merge(
        &c.state,
        k.statefulset,
        "monitoring",
        "prometheus",
        json!({"spec": {"replicas": 3}}),
    );
    let sts = eventually(LONG, "prometheus at 3 ready", || {
        let s = get(&c.state, k.statefulset, "monitoring", "prometheus")?;
        (i(&s, "/status/readyReplicas") == 3).then_some(s)
    })
    .await;
    assert_eq!(
        sts["status"]["currentRevision"],
        sts["status"]["updateRevision"]
    );
    let names: Vec<String> = list(&c.state, k.pod, Some("monitoring"))
        .iter()
        .map(|p| s(p, "/metadata/name").to_string())
        .filter(|n| n.starts_with("prometheus-"))
        .collect();
    assert_eq!(names, ["prometheus-0", "prometheus-1", "prometheus-2"]);
    // prometheus-2 was created only after prometheus-1 was Ready.
    let created = |n: &str| {
        s(
            &get(&c.state, k.pod, "monitoring", n).unwrap(),
            "/metadata/creationTimestamp",
        )
        .to_string()
    };
    let p1_ready = condition(
        &get(&c.state, k.pod, "monitoring", "prometheus-1").unwrap(),
        "Ready",
    )
    .unwrap()["lastTransitionTime"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(created("prometheus-2") >= p1_ready);
    merge(
        &c.state,
        k.statefulset,
        "monitoring",
        "prometheus",
        json!({"spec": {"replicas": 1}}),
    );
    eventually(LONG, "prometheus back to 1", || {
        let left = list(&c.state, k.pod, Some("monitoring"))
            .iter()
            .filter(|p| s(p, "/metadata/name").starts_with("prometheus-"))
            .count();
        let s = get(&c.state, k.statefulset, "monitoring", "prometheus")?;
        (left == 1 && i(&s, "/status/replicas") == 1).then_some(())
    })
    .await;
    assert!(get(&c.state, k.pod, "monitoring", "prometheus-0").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicaset_without_a_deployment_gets_pods() {
    let c = running(0, 50.0);
    let k = kinds();
    let rs = json!({
        "metadata": {"name": "checkout-6c9f7", "namespace": "shop",
            "labels": {"app": "checkout", "rollouts-pod-template-hash": "6c9f7"}},
        "spec": {"replicas": 3,
            "selector": {"matchLabels": {"app": "checkout", "rollouts-pod-template-hash": "6c9f7"}},
            "template": {"metadata": {"labels": {"app": "checkout", "rollouts-pod-template-hash": "6c9f7"}},
                "spec": {"containers": [{"name": "checkout", "image": "registry.example.com/shop/checkout:4.0.0"}]}}},
    });
    c.state
        .store
        .create(k.replicaset, "shop", rs, false)
        .unwrap();
    let rs = eventually(LONG, "orphan RS ready", || {
        let rs = get(&c.state, k.replicaset, "shop", "checkout-6c9f7")?;
        (i(&rs, "/status/readyReplicas") == 3 && i(&rs, "/status/availableReplicas") == 3)
            .then_some(rs)
    })
    .await;
    assert_eq!(i(&rs, "/status/replicas"), 3);
    let pods = list(&c.state, k.pod, Some("shop"));
    let mine = owned_by(&pods, s(&rs, "/metadata/uid"));
    assert_eq!(mine.len(), 3);
    assert!(
        mine.iter()
            .all(|p| p["metadata"]["labels"]["rollouts-pod-template-hash"] == "6c9f7")
    );
    // A deleted pod is replaced by one with a new name.
    let victim = s(mine[0], "/metadata/name").to_string();
    c.state.store.delete(k.pod, "shop", &victim, false).unwrap();
    eventually(LONG, "replacement pod ready", || {
        let rs = get(&c.state, k.replicaset, "shop", "checkout-6c9f7")?;
        let pods = list(&c.state, k.pod, Some("shop"));
        let mine = owned_by(&pods, s(&rs, "/metadata/uid"));
        (mine.len() == 3
            && mine
                .iter()
                .all(|p| pod_ready(p) && s(p, "/metadata/name") != victim)
            && i(&rs, "/status/readyReplicas") == 3)
            .then_some(())
    })
    .await;
    // Scale to zero: pods go away and status follows.
    merge(
        &c.state,
        k.replicaset,
        "shop",
        "checkout-6c9f7",
        json!({"spec": {"replicas": 0}}),
    );
    eventually(LONG, "orphan RS scaled to zero", || {
        let rs = get(&c.state, k.replicaset, "shop", "checkout-6c9f7")?;
        let left = owned_by(
            &list(&c.state, k.pod, Some("shop")),
            s(&rs, "/metadata/uid"),
        )
        .len();
        (left == 0 && i(&rs, "/status/replicas") == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_looping_pod_keeps_restarting() {
    let c = running(0, 100.0);
    let k = kinds();
    let find = |state: &ClusterState| {
        list(state, k.pod, Some("shop")).into_iter().find(|p| {
            s(p, "/metadata/name").starts_with("catalog-")
                && p.pointer("/status/containerStatuses/0/lastState/terminated")
                    .is_some()
        })
    };
    let pod = find(&c.state).unwrap();
    let name = s(&pod, "/metadata/name").to_string();
    let before = i(&pod, "/status/containerStatuses/0/restartCount");
    eventually(LONG, "restart count grows twice", || {
        let p = get(&c.state, k.pod, "shop", &name)?;
        (i(&p, "/status/containerStatuses/0/restartCount") >= before + 2).then_some(())
    })
    .await;
    let backoff = list(&c.state, k.event, Some("shop"))
        .into_iter()
        .find(|e| e["reason"] == "BackOff" && e["involvedObject"]["name"] == name.as_str())
        .unwrap();
    assert_eq!(backoff["type"], "Warning");
    assert!(i(&backoff, "/count") > 1);
    // The pod never becomes Ready, and the Deployment keeps one unavailable.
    let d = get(&c.state, k.deployment, "shop", "catalog").unwrap();
    assert_eq!(i(&d, "/status/availableReplicas"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hpas_follow_load_within_limits_and_pin_at_max() {
    let c = running(0, 50.0);
    let k = kinds();
    // Frontend: over a couple of load periods, replicas move and stay within 2..10, and the
    // Deployment follows the HPA's desired count.
    let mut seen = std::collections::BTreeSet::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) && seen.len() < 2 {
        let hpa = get(&c.state, k.hpa, "shop", "frontend").unwrap();
        let desired = i(&hpa, "/status/desiredReplicas");
        assert!((2..=10).contains(&desired), "{desired}");
        let active = condition(&hpa, "ScalingActive").unwrap();
        assert_eq!(active["reason"], "ValidMetricFound");
        assert_eq!(condition(&hpa, "AbleToScale").unwrap()["status"], "True");
        seen.insert(desired);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen.len() >= 2, "frontend HPA never moved: {seen:?}");
    eventually(LONG, "frontend deployment follows its HPA", || {
        let hpa = get(&c.state, k.hpa, "shop", "frontend")?;
        let d = get(&c.state, k.deployment, "shop", "frontend")?;
        (i(&d, "/spec/replicas") == i(&hpa, "/status/desiredReplicas")
            && i(&hpa, "/status/currentReplicas") == i(&d, "/spec/replicas"))
        .then_some(())
    })
    .await;
    let events = list(&c.state, k.event, Some("shop"));
    assert!(
        events
            .iter()
            .any(|e| e["reason"] == "SuccessfulRescale"
                && s(e, "/message").starts_with("New size: "))
    );

    // Indexer: pinned at max.
    let hpa = get(&c.state, k.hpa, "search", "indexer").unwrap();
    let limited = condition(&hpa, "ScalingLimited").unwrap();
    assert_eq!(
        (limited["status"].as_str(), limited["reason"].as_str()),
        (Some("True"), Some("TooManyReplicas"))
    );
    assert_eq!(
        i(&hpa, "/status/desiredReplicas"),
        i(&hpa, "/spec/maxReplicas")
    );
    assert!(
        i(
            &hpa,
            "/status/currentMetrics/0/resource/current/averageUtilization"
        ) > 70
    );

    // Lowering frontend's max pins it there.
    merge(
        &c.state,
        k.hpa,
        "shop",
        "frontend",
        json!({"spec": {"minReplicas": 1, "maxReplicas": 1}}),
    );
    eventually(LONG, "frontend pinned at 1", || {
        let hpa = get(&c.state, k.hpa, "shop", "frontend")?;
        let d = get(&c.state, k.deployment, "shop", "frontend")?;
        let lim = condition(&hpa, "ScalingLimited")?;
        (i(&d, "/spec/replicas") == 1
            && lim["status"] == "True"
            && lim["reason"] == "TooManyReplicas")
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hpa_on_a_missing_rollout_reports_failed_get_scale_then_scales_it() {
    let c = running(0, 50.0);
    let k = kinds();
    if get(&c.state, k.rollout, "shop", "checkout").is_some() {
        c.state
            .store
            .delete(k.rollout, "shop", "checkout", false)
            .unwrap();
    }
    let hpa = eventually(LONG, "checkout HPA reports FailedGetScale", || {
        let hpa = get(&c.state, k.hpa, "shop", "checkout")?;
        let able = condition(&hpa, "AbleToScale")?;
        (able["status"] == "False" && able["reason"] == "FailedGetScale").then_some(hpa)
    })
    .await;
    assert!(
        s(condition(&hpa, "AbleToScale").unwrap(), "/message")
            .contains("rollouts.argoproj.io \"checkout\" not found")
    );
    // Once the Rollout exists, the HPA scales it through spec.replicas.
    c.state
        .store
        .create(
            k.rollout,
            "shop",
            json!({"metadata": {"name": "checkout"}, "spec": {"replicas": 1,
            "selector": {"matchLabels": {"app": "checkout"}},
            "template": {"metadata": {"labels": {"app": "checkout"}}, "spec": {"containers": [
                {"name": "checkout", "image": "registry.example.com/shop/checkout:4.0.0",
                 "resources": {"requests": {"cpu": "200m"}}}]}},
            "strategy": {"canary": {"steps": [{"setWeight": 20}]}}}}),
            false,
        )
        .unwrap();
    eventually(LONG, "checkout rollout scaled by its HPA", || {
        let ro = get(&c.state, k.rollout, "shop", "checkout")?;
        let hpa = get(&c.state, k.hpa, "shop", "checkout")?;
        let replicas = i(&ro, "/spec/replicas");
        ((2..=8).contains(&replicas) && condition(&hpa, "AbleToScale")?["status"] == "True")
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_agree_with_objects() {
    let c = running(0, 20.0);
    let k = kinds();
    // History is there from the start.
    let mut frontend_samples = 0;
    c.state.prom.tsdb.for_each_series(|s| {
        if s.labels.contains(&("deployment".into(), "frontend".into()))
            && s.labels
                .contains(&("__name__".into(), "kube_deployment_spec_replicas".into()))
        {
            frontend_samples = s.samples.len();
        }
    });
    assert!(frontend_samples >= 200, "{frontend_samples}");
    // coredns has no HPA, so nothing scales it back.
    merge(
        &c.state,
        k.deployment,
        "kube-system",
        "coredns",
        json!({"spec": {"replicas": 4}}),
    );
    eventually(LONG, "coredns metrics at 4", || {
        let d = get(&c.state, k.deployment, "kube-system", "coredns")?;
        let spec = latest(
            &c.state,
            "kube_deployment_spec_replicas",
            &[("namespace", "kube-system"), ("deployment", "coredns")],
        )?
        .1;
        let avail = latest(
            &c.state,
            "kube_deployment_status_replicas_available",
            &[("namespace", "kube-system"), ("deployment", "coredns")],
        )?
        .1;
        (spec == 4.0
            && i(&d, "/spec/replicas") == 4
            && avail == i(&d, "/status/availableReplicas") as f64
            && avail == 4.0)
            .then_some(())
    })
    .await;
    // HPA series match the HPA object at the same moment it is read.
    eventually(LONG, "hpa metrics match", || {
        let hpa = get(&c.state, k.hpa, "search", "indexer")?;
        let l = [
            ("namespace", "search"),
            ("horizontalpodautoscaler", "indexer"),
        ];
        let cur = latest(
            &c.state,
            "kube_horizontalpodautoscaler_status_current_replicas",
            &l,
        )?
        .1;
        let max = latest(
            &c.state,
            "kube_horizontalpodautoscaler_spec_max_replicas",
            &l,
        )?
        .1;
        (cur == i(&hpa, "/status/currentReplicas") as f64 && max == 3.0).then_some(())
    })
    .await;
    // Restart counters never go down.
    c.state.prom.tsdb.for_each_series(|s| {
        if s.labels.contains(&(
            "__name__".into(),
            "kube_pod_container_status_restarts_total".into(),
        )) {
            let values: Vec<f64> = s.samples.iter().map(|(_, v)| *v).collect();
            assert!(
                values.windows(2).all(|w| w[1] >= w[0]),
                "counter went down: {:?}",
                s.labels
            );
        }
    });
    let nodes = list(&c.state, k.node, None);
    let node = s(&nodes[1], "/metadata/name");
    let ready = latest(
        &c.state,
        "kube_node_status_condition",
        &[("node", node), ("condition", "Ready"), ("status", "true")],
    )
    .unwrap();
    assert_eq!(ready.1, 1.0);
    let rules = c.state.prom.rules.read().unwrap();
    for name in [
        "KubePodCrashLooping",
        "KubeHpaMaxedOut",
        "VeleroBackupStale",
    ] {
        assert!(rules.iter().any(|r| r.name == name), "missing rule {name}");
    }
}

#[test]
fn scale_ten_thousand_seeds_ten_thousand_extra_pods() {
    let start = Instant::now();
    let state = seeded(0, 1.0, 10_000);
    let took = start.elapsed();
    let k = kinds();
    let load_pods = state
        .store
        .list(k.pod, None)
        .0
        .iter()
        .filter(|p| p.key.ns.starts_with("load-"))
        .count();
    assert_eq!(load_pods, 10_000);
    let load_deploys = state
        .store
        .list(k.deployment, None)
        .0
        .iter()
        .filter(|p| p.key.ns.starts_with("load-"))
        .count();
    assert_eq!(load_deploys, 500);
    let load_hpas = state
        .store
        .list(k.hpa, None)
        .0
        .iter()
        .filter(|p| p.key.ns.starts_with("load-"))
        .count();
    assert_eq!(load_hpas, 50);
    let apps = state
        .store
        .list(k.application, Some("argocd"))
        .0
        .iter()
        .filter(|a| a.key.name.starts_with("load-"))
        .count();
    assert_eq!(apps, 50);
    assert!(get(&state, k.namespace, "", "load-09").is_some());
    // Generous: an unoptimized build on a shared machine.
    assert!(took < Duration::from_secs(60), "seeding took {took:?}");
    eprintln!("seeded --scale 10000 in {took:?}");
}

#[test]
fn same_seed_gives_the_same_scenario() {
    // Backup names carry the cron's minute: retry if the two seeds straddle a minute.
    for _ in 0..3 {
        let minute = chrono::Utc::now().format("%H%M").to_string();
        let a = seeded(0, 1.0, 200);
        let b = seeded(0, 1.0, 200);
        if chrono::Utc::now().format("%H%M").to_string() != minute {
            continue;
        }
        for (ti, t) in registry::RESOURCE_TYPES.iter().enumerate() {
            if t.create_only {
                continue;
            }
            let names = |s: &ClusterState| -> Vec<(String, String, Value)> {
                s.store
                    .list(ti, None)
                    .0
                    .iter()
                    .map(|o| {
                        let v = o.value();
                        (
                            o.key.ns.clone(),
                            o.key.name.clone(),
                            v.get("spec").cloned().unwrap_or(Value::Null),
                        )
                    })
                    .collect()
            };
            assert_eq!(names(&a), names(&b), "{} differ", t.plural);
        }
        let other = seeded(1, 1.0, 0);
        assert_ne!(
            list(&a, kinds().pod, Some("shop")).len() + list(&a, kinds().node, None).len(),
            0
        );
        assert_ne!(
            list(&other, kinds().node, None).len(),
            list(&a, kinds().node, None).len()
        );
        return;
    }
    panic!("could not seed twice within one minute");
}

#[test]
fn seeded_custom_resources_validate_against_upstream_crds() {
    let state = seeded(0, 1.0, 0);
    let k = kinds();
    for t in [k.application, k.backup, k.schedule, k.restore, k.bsl] {
        let kind = registry::get(t).kind;
        let items = list(&state, t, None);
        assert!(!items.is_empty(), "no {kind} objects seeded");
        for item in items {
            let errors = validate_object(&item).err().unwrap_or_default();
            assert!(
                errors.is_empty(),
                "{} {}: {errors:#?}",
                kind,
                s(&item, "/metadata/name")
            );
        }
    }
}

// ---------------------------------------------------------------- Argo CD

fn app(state: &ClusterState, name: &str) -> Value {
    get(state, kinds().application, "argocd", name).unwrap()
}

#[test]
fn seeded_applications_tell_the_story() {
    let state = seeded(0, 1.0, 0);
    let payments = app(&state, "payments");
    assert_eq!(payments["status"]["sync"]["status"], "OutOfSync");
    let drifted: Vec<&Value> = payments["status"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "OutOfSync")
        .collect();
    // The new commit changes its Deployment, ConfigMap and Service.
    let mut kinds_drifted: Vec<(&str, &str)> = drifted
        .iter()
        .map(|r| (r["kind"].as_str().unwrap(), r["name"].as_str().unwrap()))
        .collect();
    kinds_drifted.sort_unstable();
    assert_eq!(
        kinds_drifted,
        [
            ("ConfigMap", "ledger-config"),
            ("Deployment", "ledger"),
            ("Service", "ledger")
        ]
    );
    // Generated by the `services` ApplicationSet.
    let set = get(&state, kinds().applicationset, "argocd", "services").unwrap();
    assert_eq!(
        payments["metadata"]["ownerReferences"][0]["uid"],
        set["metadata"]["uid"]
    );
    // The hook app: its automated sync failed after two retries, with a SyncError.
    let hook = app(&state, "checkout-db");
    assert_eq!(hook["status"]["operationState"]["phase"], "Failed");
    assert_eq!(hook["status"]["operationState"]["retryCount"], 2);
    assert_eq!(
        hook["status"]["operationState"]["message"],
        "one or more synchronization tasks completed unsuccessfully (retried 2 times)."
    );
    assert_eq!(
        hook["status"]["operationState"]["syncResult"]["resources"][0]["hookPhase"],
        "Failed"
    );
    assert_eq!(hook["status"]["conditions"][0]["type"], "SyncError");
    assert!(hook.get("operation").is_none());
    // The app-of-apps lists its children; the platform project's deny window is open.
    let root = app(&state, "platform");
    let children: Vec<&str> = root["status"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "Application")
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(children, ["platform-monitoring", "velero"]);
    let project = get(&state, kinds().appproject, "argocd", "platform").unwrap();
    assert_eq!(project["spec"]["syncWindows"][0]["kind"], "deny");
    let last = payments["status"]["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_ne!(payments["status"]["sync"]["revision"], last["revision"]);
    assert_eq!(payments["status"]["operationState"]["phase"], "Succeeded");

    let shop = app(&state, "shop");
    assert_eq!(shop["status"]["health"]["status"], "Degraded");
    assert_eq!(shop["status"]["sync"]["status"], "Synced");
    let catalog = shop["status"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "Deployment" && r["name"] == "catalog")
        .unwrap();
    assert_eq!(catalog["health"]["status"], "Degraded");
    assert!(
        shop["status"]["summary"]["images"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i == "registry.example.com/shop/frontend:1.8.2")
    );
    assert_eq!(
        shop["status"]["operationState"]["operation"]["initiatedBy"]["automated"],
        true
    );

    for name in ["search", "platform-monitoring", "velero"] {
        let a = app(&state, name);
        assert_eq!(a["status"]["sync"]["status"], "Synced", "{name}");
        assert_eq!(a["status"]["health"]["status"], "Healthy", "{name}");
    }
    let monitoring = app(&state, "platform-monitoring");
    assert!(
        monitoring["status"]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "StatefulSet" && r["name"] == "prometheus")
    );
    // No Velero app where Velero is not installed.
    let eu = seeded(1, 1.0, 0);
    assert!(get(&eu, kinds().application, "argocd", "velero").is_none());
    assert!(get(&eu, kinds().application, "argocd", "payments").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_operation_sync_syncs_an_out_of_sync_app() {
    let c = running(0, 50.0);
    let k = kinds();
    let before = app(&c.state, "payments");
    assert_eq!(before["status"]["sync"]["status"], "OutOfSync");
    let head = before["status"]["sync"]["revision"]
        .as_str()
        .unwrap()
        .to_string();
    let history_len = before["status"]["history"].as_array().unwrap().len();
    let image_before = s(
        &get(&c.state, k.deployment, "payments", "ledger").unwrap(),
        "/spec/template/spec/containers/0/image",
    )
    .to_string();
    // As `kubectl patch --type merge` would.
    merge(
        &c.state,
        k.application,
        "argocd",
        "payments",
        json!({"operation": {
        "initiatedBy": {"username": "oncall@example.com"},
        "sync": {"revision": head, "prune": false, "syncStrategy": {"hook": {}}}}}),
    );
    let running = eventually(LONG, "operation running", || {
        let a = app(&c.state, "payments");
        (a["status"]["operationState"]["phase"] == "Running").then_some(a)
    })
    .await;
    assert_eq!(
        running["status"]["operationState"]["operation"]["initiatedBy"]["username"],
        "oncall@example.com"
    );
    assert!(!s(&running, "/status/operationState/startedAt").is_empty());
    let done = eventually(LONG, "operation succeeded", || {
        let a = app(&c.state, "payments");
        (a["status"]["operationState"]["phase"] == "Succeeded" && a.get("operation").is_none())
            .then_some(a)
    })
    .await;
    assert_eq!(done["status"]["sync"]["status"], "Synced");
    assert!(
        done["status"]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "Synced")
    );
    let history = done["status"]["history"].as_array().unwrap();
    assert_eq!(history.len(), history_len + 1);
    assert_eq!(history.last().unwrap()["revision"], head.as_str());
    assert_eq!(
        history.last().unwrap()["initiatedBy"]["username"],
        "oncall@example.com"
    );
    assert_eq!(
        done["status"]["operationState"]["syncResult"]["revision"],
        head.as_str()
    );
    assert!(!s(&done, "/status/operationState/finishedAt").is_empty());
    let results = done["status"]["operationState"]["syncResult"]["resources"]
        .as_array()
        .unwrap();
    assert!(
        results.iter().any(|r| r["kind"] == "Deployment"
            && s(r, "/message") == "deployment.apps/ledger configured")
    );
    // The sync applied the new commit: the ledger Deployment rolls to the next image.
    let d = eventually(LONG, "ledger rolled to the synced image", || {
        let d = get(&c.state, k.deployment, "payments", "ledger")?;
        (i(&d, "/status/observedGeneration") == i(&d, "/metadata/generation")
            && i(&d, "/status/updatedReplicas") == 2
            && i(&d, "/status/availableReplicas") == 2)
            .then_some(d)
    })
    .await;
    assert_ne!(
        s(&d, "/spec/template/spec/containers/0/image"),
        image_before
    );
    let events = list(&c.state, k.event, Some("argocd"));
    assert!(
        events
            .iter()
            .any(|e| e["reason"] == "OperationCompleted"
                && e["involvedObject"]["name"] == "payments")
    );
    assert_eq!(validate_object(&app(&c.state, "payments")), Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_annotation_is_consumed() {
    let c = running(0, 50.0);
    let k = kinds();
    let before = s(&app(&c.state, "shop"), "/status/reconciledAt").to_string();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    merge(
        &c.state,
        k.application,
        "argocd",
        "shop",
        json!({"metadata": {"annotations": {"argocd.argoproj.io/refresh": "hard"}}}),
    );
    let a = eventually(LONG, "refresh annotation removed", || {
        let a = app(&c.state, "shop");
        a.pointer("/metadata/annotations/argocd.argoproj.io~1refresh")
            .is_none()
            .then_some(a)
    })
    .await;
    assert!(
        s(&a, "/status/reconciledAt") > before.as_str(),
        "{} vs {before}",
        s(&a, "/status/reconciledAt")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_healing_app_drifts_and_syncs_itself_back() {
    let c = running(0, 100.0);
    let k = kinds();
    let history_len = app(&c.state, "search")["status"]["history"]
        .as_array()
        .unwrap()
        .len();
    eventually(LONG, "search drifts OutOfSync", || {
        let a = app(&c.state, "search");
        (a["status"]["sync"]["status"] == "OutOfSync").then_some(())
    })
    .await;
    let cm = get(&c.state, k.configmap, "search", "indexer-config").unwrap();
    assert!(
        cm["data"]
            .as_object()
            .unwrap()
            .values()
            .any(|v| v == "edited-live")
    );
    let healed = eventually(LONG, "search self-heals", || {
        let a = app(&c.state, "search");
        (a["status"]["sync"]["status"] == "Synced"
            && a["status"]["history"].as_array()?.len() > history_len
            && a.get("operation").is_none())
        .then_some(a)
    })
    .await;
    assert_eq!(
        healed["status"]["operationState"]["operation"]["initiatedBy"]["automated"],
        true
    );
    assert_eq!(healed["status"]["operationState"]["phase"], "Succeeded");
    let cm = get(&c.state, k.configmap, "search", "indexer-config").unwrap();
    assert_eq!(cm["data"]["INDEX_REFRESH_INTERVAL"], "30s");
}

// ---------------------------------------------------------------- Velero

fn backups_of(state: &ClusterState, schedule: &str) -> Vec<Value> {
    list(state, kinds().backup, Some("velero"))
        .into_iter()
        .filter(|b| b["metadata"]["labels"]["velero.io/schedule-name"] == schedule)
        .collect()
}

#[test]
fn stale_schedule_has_no_recent_successful_backup() {
    let state = seeded(0, 1.0, 0);
    let now = chrono::Utc::now();
    let last_success = |schedule: &str| {
        backups_of(&state, schedule)
            .iter()
            .filter(|b| b["status"]["phase"] == "Completed")
            .filter_map(|b| {
                chrono::DateTime::parse_from_rfc3339(s(b, "/status/completionTimestamp")).ok()
            })
            .max()
    };
    // Offsite runs every 6 h; its newest success is far older than that.
    let offsite = last_success("search-offsite-6h").unwrap();
    assert!((now - offsite.with_timezone(&chrono::Utc)).num_hours() >= 6 * 4);
    let failed: Vec<Value> = backups_of(&state, "search-offsite-6h")
        .into_iter()
        .filter(|b| b["status"]["phase"] == "Failed")
        .collect();
    assert!(!failed.is_empty());
    assert!(
        failed
            .iter()
            .all(|b| s(b, "/status/failureReason").contains("AccessDenied"))
    );
    // A healthy schedule's newest success is within its period.
    let frequent = last_success("shop-config-5m").unwrap();
    assert!((now - frequent.with_timezone(&chrono::Utc)).num_minutes() <= 10);
    // Metrics say the same.
    let t = latest(
        &state,
        "velero_backup_last_successful_timestamp",
        &[("schedule", "search-offsite-6h")],
    )
    .unwrap();
    assert_eq!(t.1, offsite.timestamp() as f64);
    assert_eq!(
        latest(
            &state,
            "velero_backup_last_status",
            &[("schedule", "search-offsite-6h")]
        )
        .unwrap()
        .1,
        0.0
    );
    let failures = latest(
        &state,
        "velero_backup_failure_total",
        &[("schedule", "search-offsite-6h")],
    )
    .unwrap()
    .1;
    assert_eq!(failures, failed.len() as f64);
    let bsl = get(&state, kinds().bsl, "velero", "secondary").unwrap();
    assert_eq!(bsl["status"]["phase"], "Unavailable");
    assert!(s(&bsl, "/status/message").contains("AccessDenied"));
    assert_eq!(
        get(&state, kinds().bsl, "velero", "default").unwrap()["status"]["phase"],
        "Available"
    );
    let hourly = backups_of(&state, "apps-hourly");
    assert!(hourly.len() >= 23);
    assert!(
        hourly
            .iter()
            .any(|b| b["status"]["phase"] == "PartiallyFailed" && i(b, "/status/errors") > 0)
    );
    for b in &hourly {
        let name = s(b, "/metadata/name");
        assert!(
            name.len() == "apps-hourly-".len() + 14 && name.ends_with("0000"),
            "{name}"
        );
    }
    assert!(!list(&state, kinds().restore, Some("velero")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_cron_creates_backups_that_run_to_completion() {
    let c = running(0, 50.0);
    let k = kinds();
    let before: Vec<String> = backups_of(&c.state, "apps-hourly")
        .iter()
        .map(|b| s(b, "/metadata/name").to_string())
        .collect();
    let success_before = latest(
        &c.state,
        "velero_backup_success_total",
        &[("schedule", "apps-hourly")],
    )
    .map_or(0.0, |x| x.1);
    let partial_before = latest(
        &c.state,
        "velero_backup_partial_failure_total",
        &[("schedule", "apps-hourly")],
    )
    .map_or(0.0, |x| x.1);
    // The last run was two hours ago: the cron is due, so the schedule fires now (once).
    let two_hours_ago = (chrono::Utc::now() - chrono::Duration::hours(2))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    merge(
        &c.state,
        k.schedule,
        "velero",
        "apps-hourly",
        json!({"status": {"lastBackup": two_hours_ago}}),
    );
    let fresh = eventually(LONG, "schedule created a backup", || {
        backups_of(&c.state, "apps-hourly")
            .into_iter()
            .find(|b| !before.contains(&s(b, "/metadata/name").to_string()))
    })
    .await;
    let name = s(&fresh, "/metadata/name").to_string();
    let stamp = name.strip_prefix("apps-hourly-").unwrap();
    assert_eq!(stamp.len(), 14);
    assert!(stamp.chars().all(|ch| ch.is_ascii_digit()));
    let schedule = get(&c.state, k.schedule, "velero", "apps-hourly").unwrap();
    assert_eq!(fresh["spec"], schedule["spec"]["template"]);
    assert!(s(&schedule, "/status/lastBackup") > two_hours_ago.as_str());
    let done = eventually(LONG, "scheduled backup finished", || {
        let b = get(&c.state, k.backup, "velero", &name)?;
        matches!(s(&b, "/status/phase"), "Completed" | "PartiallyFailed").then_some(b)
    })
    .await;
    assert!(
        !s(&done, "/status/startTimestamp").is_empty()
            && !s(&done, "/status/completionTimestamp").is_empty()
    );
    assert!(!s(&done, "/status/expiration").is_empty());
    assert_eq!(
        i(&done, "/status/progress/itemsBackedUp"),
        i(&done, "/status/progress/totalItems")
    );
    // Exactly one backup per due run: no catch-up of missed runs.
    assert_eq!(
        backups_of(&c.state, "apps-hourly").len(),
        before.len() + 1 - expired(&before, &c.state)
    );
    // The counter of its outcome went up by one.
    let metric = if done["status"]["phase"] == "Completed" {
        "velero_backup_success_total"
    } else {
        "velero_backup_partial_failure_total"
    };
    let base = if metric == "velero_backup_success_total" {
        success_before
    } else {
        partial_before
    };
    eventually(LONG, "velero counter follows", || {
        let v = latest(&c.state, metric, &[("schedule", "apps-hourly")])?.1;
        (v == base + 1.0).then_some(())
    })
    .await;
    assert_eq!(validate_object(&done), Ok(()));
}

/// How many of `names` have been garbage-collected since.
fn expired(names: &[String], state: &ClusterState) -> usize {
    names
        .iter()
        .filter(|n| get(state, kinds().backup, "velero", n).is_none())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_created_backup_and_restore_complete() {
    let c = running(0, 50.0);
    let k = kinds();
    // `velero backup create --from-schedule cluster-daily` builds this.
    let schedule = get(&c.state, k.schedule, "velero", "cluster-daily").unwrap();
    let name = format!(
        "cluster-daily-{}",
        chrono::Utc::now().format("%Y%m%d%H%M%S")
    );
    c.state
        .store
        .create(
            k.backup,
            "velero",
            json!({
                "metadata": {"name": name, "labels": {"velero.io/schedule-name": "cluster-daily"}},
                "spec": schedule["spec"]["template"],
            }),
            false,
        )
        .unwrap();
    let b = eventually(LONG, "client backup completes", || {
        let b = get(&c.state, k.backup, "velero", &name)?;
        matches!(s(&b, "/status/phase"), "Completed" | "PartiallyFailed").then_some(b)
    })
    .await;
    assert_eq!(
        b["metadata"]["labels"]["velero.io/storage-location"],
        "default"
    );
    // A backup to the broken location fails with a reason.
    c.state
        .store
        .create(
            k.backup,
            "velero",
            json!({"metadata": {"name": "offsite-now"},
            "spec": {"storageLocation": "secondary", "includedNamespaces": ["search"]}}),
            false,
        )
        .unwrap();
    let failed = eventually(LONG, "offsite backup fails", || {
        let b = get(&c.state, k.backup, "velero", "offsite-now")?;
        (b["status"]["phase"] == "Failed").then_some(b)
    })
    .await;
    assert!(s(&failed, "/status/failureReason").contains("secondary"));
    // A restore from the new backup completes; one from a missing backup fails validation.
    c.state
        .store
        .create(
            k.restore,
            "velero",
            json!({"metadata": {"name": "restore-now"},
            "spec": {"backupName": name, "includedNamespaces": ["payments"]}}),
            false,
        )
        .unwrap();
    c.state
        .store
        .create(
            k.restore,
            "velero",
            json!({"metadata": {"name": "restore-nothing"},
            "spec": {"backupName": "no-such-backup"}}),
            false,
        )
        .unwrap();
    let r = eventually(LONG, "restore completes", || {
        let r = get(&c.state, k.restore, "velero", "restore-now")?;
        (r["status"]["phase"] == "Completed").then_some(r)
    })
    .await;
    assert_eq!(
        i(&r, "/status/progress/itemsRestored"),
        i(&r, "/status/progress/totalItems")
    );
    let bad = get(&c.state, k.restore, "velero", "restore-nothing").unwrap();
    assert_eq!(bad["status"]["phase"], "FailedValidation");
    assert_eq!(validate_object(&r), Ok(()));
}

/// The newest backup of `schedule` with `phase`, by completion time.
fn newest(state: &ClusterState, schedule: &str, phase: &str) -> Option<Value> {
    backups_of(state, schedule)
        .into_iter()
        .filter(|b| b["status"]["phase"] == phase)
        .max_by_key(|b| s(b, "/status/completionTimestamp").to_string())
}

fn hours_ago(v: &Value, ptr: &str) -> i64 {
    let t = chrono::DateTime::parse_from_rfc3339(s(v, ptr)).unwrap();
    (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_hours()
}

#[test]
fn partially_failing_and_paused_schedules_and_restores_in_every_state() {
    let state = seeded(0, 1.0, 0);
    let k = kinds();
    // payments-db-30m: submitted on time (lastBackup within the last half hour), but every
    // run of the last 9 hours ended PartiallyFailed; the last good one is older.
    let sched = get(&state, k.schedule, "velero", "payments-db-30m").unwrap();
    assert!(hours_ago(&sched, "/status/lastBackup") < 1);
    let good = newest(&state, "payments-db-30m", "Completed").unwrap();
    assert!(
        hours_ago(&good, "/status/completionTimestamp") >= 8,
        "{good}"
    );
    let partial = newest(&state, "payments-db-30m", "PartiallyFailed").unwrap();
    assert!(hours_ago(&partial, "/status/completionTimestamp") < 1);
    assert!(i(&partial, "/status/errors") > 0);
    let recent: Vec<Value> = backups_of(&state, "payments-db-30m")
        .into_iter()
        .filter(|b| hours_ago(b, "/metadata/creationTimestamp") < 8)
        .collect();
    assert!(recent.len() >= 15);
    assert!(
        recent
            .iter()
            .all(|b| matches!(s(b, "/status/phase"), "PartiallyFailed" | "InProgress"))
    );
    // analytics-nightly: paused, its last run three days ago.
    let paused = get(&state, k.schedule, "velero", "analytics-nightly").unwrap();
    assert_eq!(paused["spec"]["paused"], true);
    assert!(hours_ago(&paused, "/status/lastBackup") >= 72);
    // A restore in progress and a failed one (its backup is on the broken location).
    let restores = list(&state, k.restore, Some("velero"));
    let phase = |p: &str| {
        restores
            .iter()
            .find(|r| r["status"]["phase"] == p)
            .cloned()
            .unwrap_or_else(|| panic!("no {p} restore"))
    };
    let running = phase("InProgress");
    assert!(
        i(&running, "/status/progress/itemsRestored") < i(&running, "/status/progress/totalItems")
    );
    let failed = phase("Failed");
    assert!(s(&failed, "/status/failureReason").contains("secondary"));
    phase("Completed");
    for r in &restores {
        assert_eq!(validate_object(r), Ok(()), "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_schedule_takes_no_backup_until_resumed() {
    let c = running(0, 50.0);
    let k = kinds();
    let count = || backups_of(&c.state, "analytics-nightly").len();
    let before = count();
    // Two schedule-controller passes over it (each sets the phase back to Enabled, the second
    // only after the first has finished): nothing is due while paused, though its last run
    // was days ago.
    for _ in 0..2 {
        c.state
            .store
            .patch(
                k.schedule,
                "velero",
                "analytics-nightly",
                &Patch::Merge(json!({"status": {"phase": "New"}})),
                Subresource::Status,
                false,
            )
            .unwrap();
        eventually(LONG, "the controller looked at it", || {
            let s = get(&c.state, k.schedule, "velero", "analytics-nightly")?;
            (s["status"]["phase"] == "Enabled").then_some(())
        })
        .await;
    }
    assert!(count() <= before, "a paused schedule created a backup");
    merge(
        &c.state,
        k.schedule,
        "velero",
        "analytics-nightly",
        json!({"spec": {"paused": false}}),
    );
    // Resumed with a run overdue: Velero runs it at once (no catch-up of the missed ones).
    let b = eventually(LONG, "a backup after resume", || {
        backups_of(&c.state, "analytics-nightly")
            .into_iter()
            .find(|b| hours_ago(b, "/metadata/creationTimestamp") < 1)
    })
    .await;
    eventually(LONG, "it completes", || {
        let b = get(&c.state, k.backup, "velero", s(&b, "/metadata/name"))?;
        (b["status"]["phase"] == "Completed").then_some(())
    })
    .await;
}
