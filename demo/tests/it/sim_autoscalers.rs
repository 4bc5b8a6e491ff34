//! The demo's autoscalers, driven in-process: across the two standard clusters the scenario
//! shows an HPA pinned at max, one that cannot read its metric, one with two metrics of
//! different types, one holding a scale-down in its stabilization window, and (first cluster
//! only) a KEDA ScaledObject with the HPA it owns and a VPA with recommendations; a changed
//! min/max and a manual scale change what the simulated controller does next; KEDA's pause
//! annotation deletes and restores its HPA.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kdeck_demo::api::registry::TypeId;
use kdeck_demo::api::store::{Patch, Subresource};
use kdeck_demo::sim::{self, kinds::kinds};
use kdeck_demo::{ClusterProfile, ClusterState, SimOptions};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::schema::validate_object;

fn seeded(index: usize, speed: f64) -> Arc<ClusterState> {
    let state = Arc::new(ClusterState::new(
        ClusterProfile::standard(index),
        SimOptions {
            seed: 7,
            speed,
            scale: 0,
        },
    ));
    sim::seed(&state);
    state
}

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
    let state = seeded(index, speed);
    let shutdown = CancellationToken::new();
    sim::spawn(&state, &shutdown);
    Running { state, shutdown }
}

async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn get(state: &ClusterState, t: TypeId, ns: &str, name: &str) -> Option<Value> {
    state.store.get_value(t, ns, name)
}

fn condition<'a>(v: &'a Value, type_: &str) -> Option<&'a Value> {
    v.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

fn reason(v: &Value, type_: &str) -> String {
    condition(v, type_)
        .and_then(|c| c["reason"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn i(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(-1)
}

fn merge(state: &ClusterState, t: TypeId, ns: &str, name: &str, patch: Value) {
    state
        .store
        .patch(t, ns, name, &Patch::Merge(patch), Subresource::Main, false)
        .unwrap_or_else(|e| panic!("patch {ns}/{name}: {e}"));
}

#[test]
fn the_scenario_shows_every_kind_of_autoscaler_across_clusters() {
    let k = kinds();
    let first = seeded(0, 1.0);
    let hpa = |s: &ClusterState, ns, name| get(s, k.hpa, ns, name).unwrap();

    let indexer = hpa(&first, "search", "indexer");
    assert_eq!(reason(&indexer, "ScalingLimited"), "TooManyReplicas");
    assert_eq!(
        condition(&indexer, "ScalingLimited").unwrap()["status"],
        "True"
    );
    assert_eq!(i(&indexer, "/status/currentReplicas"), 3);

    let ledger = hpa(&first, "payments", "ledger");
    let active = condition(&ledger, "ScalingActive").unwrap();
    assert_eq!(
        (active["status"].as_str(), active["reason"].as_str()),
        (Some("False"), Some("FailedGetResourceMetric"))
    );
    assert_eq!(ledger["status"]["currentMetrics"], json!([{"type": ""}]));

    let gateway = hpa(&first, "shop", "gateway");
    let types: Vec<&str> = gateway["status"]["currentMetrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["Resource", "Pods"]);

    let repo = hpa(&first, "argocd", "argocd-repo-server");
    assert_eq!(reason(&repo, "AbleToScale"), "ScaleDownStabilized");
    assert_eq!(
        repo["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"],
        900
    );

    // KEDA and the VPA: in the first cluster only.
    let so = get(&first, k.scaled_object, "shop", "orders-worker").unwrap();
    let keda_hpa = hpa(&first, "shop", "keda-hpa-orders-worker");
    assert_eq!(
        keda_hpa["metadata"]["ownerReferences"][0]["uid"],
        so["metadata"]["uid"]
    );
    assert_eq!(keda_hpa["spec"]["metrics"][0]["type"], "External");
    assert!(get(&first, k.deployment, "shop", "orders-worker").is_some());
    let vpa = get(&first, k.vpa, "search", "indexer").unwrap();
    assert!(
        vpa.pointer("/status/recommendation/containerRecommendations/0/target/cpu")
            .is_some()
    );
    for obj in [&so, &vpa] {
        validate_object(obj).unwrap_or_else(|e| panic!("{obj}: {e:?}"));
    }

    let second = seeded(1, 1.0);
    assert!(!second.store.serves(k.scaled_object));
    assert!(!second.store.serves(k.vpa));
    assert!(get(&second, k.hpa, "search", "indexer").is_some());
    assert!(get(&second, k.hpa, "shop", "keda-hpa-orders-worker").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_max_and_scale_change_what_the_controller_does_next() {
    let c = running(1, 10.0);
    let k = kinds();
    // Room above the pinned max: the indexer's load (about 330% of one pod) wants 5 or 6.
    merge(
        &c.state,
        k.hpa,
        "search",
        "indexer",
        json!({"spec": {"maxReplicas": 8}}),
    );
    eventually("the indexer scaled past its old max", || {
        let sts = get(&c.state, k.statefulset, "search", "indexer")?;
        let hpa = get(&c.state, k.hpa, "search", "indexer")?;
        (i(&sts, "/spec/replicas") >= 5 && reason(&hpa, "ScalingLimited") != "TooManyReplicas")
            .then_some(())
    })
    .await;
    // A manual scale above max is taken back on the next sync, with the controller's reason.
    merge(
        &c.state,
        k.hpa,
        "search",
        "indexer",
        json!({"spec": {"maxReplicas": 3}}),
    );
    eventually("back at 3", || {
        let sts = get(&c.state, k.statefulset, "search", "indexer")?;
        (i(&sts, "/spec/replicas") == 3).then_some(())
    })
    .await;
    merge(
        &c.state,
        k.statefulset,
        "search",
        "indexer",
        json!({"spec": {"replicas": 7}}),
    );
    eventually("the manual scale undone", || {
        let sts = get(&c.state, k.statefulset, "search", "indexer")?;
        (i(&sts, "/spec/replicas") == 3).then_some(())
    })
    .await;
    let events = c.state.store.list(k.event, Some("search")).0;
    assert!(
        events.iter().any(|e| {
            let v = e.value();
            v["reason"] == "SuccessfulRescale"
                && v["message"]
                    == "New size: 3; reason: Current number of replicas above Spec.MaxReplicas"
        }),
        "no rescale event for the manual scale"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keda_pause_removes_its_hpa_and_resume_brings_it_back() {
    let c = running(0, 10.0);
    let k = kinds();
    merge(
        &c.state,
        k.scaled_object,
        "shop",
        "orders-worker",
        json!({"metadata": {"annotations": {"autoscaling.keda.sh/paused": "true"}}}),
    );
    eventually("the HPA deleted and the ScaledObject paused", || {
        let so = get(&c.state, k.scaled_object, "shop", "orders-worker")?;
        (get(&c.state, k.hpa, "shop", "keda-hpa-orders-worker").is_none()
            && reason(&so, "Paused") == "ScaledObjectPaused")
            .then_some(())
    })
    .await;
    merge(
        &c.state,
        k.scaled_object,
        "shop",
        "orders-worker",
        json!({"metadata": {"annotations": {"autoscaling.keda.sh/paused": null}}}),
    );
    let hpa = eventually("the HPA back and synced", || {
        let hpa = get(&c.state, k.hpa, "shop", "keda-hpa-orders-worker")?;
        hpa.pointer("/status/currentMetrics/0/external")?;
        Some(hpa)
    })
    .await;
    assert_eq!(reason(&hpa, "ScalingActive"), "ValidMetricFound");
}
