//! The simulated Argo Rollouts controller with `spec.workloadRef` (upstream
//! `rollout/templateref.go`): the seeded `shop/reviews` takes its template from the
//! Deployment `shop/reviews-deploy` (scaled to zero) and owns its ReplicaSets; a change of
//! that Deployment's template becomes a new revision; a reference to a missing Deployment
//! is an `InvalidSpec` until the Deployment appears.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kdeck_demo::api::registry::{self, TypeId};
use kdeck_demo::api::store::{Patch, Subresource};
use kdeck_demo::sim;
use kdeck_demo::{ClusterProfile, ClusterState, SimOptions};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::schema::validate_object;

const GEN: &str = "rollout.argoproj.io/workload-generation";
const REVISION: &str = "rollout.argoproj.io/revision";

fn t(group: &str, plural: &str) -> TypeId {
    registry::find(group, plural).unwrap()
}

fn seeded(index: usize, speed: f64) -> Arc<ClusterState> {
    let state = Arc::new(ClusterState::new(
        ClusterProfile::standard(index),
        SimOptions {
            seed: 5,
            speed,
            scale: 0,
        },
    ));
    sim::seed(&state);
    state
}

fn get(state: &ClusterState, group: &str, plural: &str, name: &str) -> Option<Value> {
    state.store.get_value(t(group, plural), "shop", name)
}

fn rollout(state: &ClusterState, name: &str) -> Value {
    get(state, "argoproj.io", "rollouts", name).unwrap()
}

/// The Rollout's own ReplicaSets: (revision, image, spec.replicas), newest first.
fn owned(state: &ClusterState, ro: &Value) -> Vec<(String, String, i64)> {
    let uid = ro["metadata"]["uid"].as_str().unwrap();
    let mut out: Vec<(String, String, i64)> = state
        .store
        .list(t("apps", "replicasets"), Some("shop"))
        .0
        .iter()
        .map(|o| o.value())
        .filter(|rs| rs["metadata"]["ownerReferences"][0]["uid"] == uid)
        .map(|rs| {
            (
                rs["metadata"]["annotations"][REVISION]
                    .as_str()
                    .unwrap()
                    .to_string(),
                rs["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                rs["spec"]["replicas"].as_i64().unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| b.0.cmp(&a.0));
    out
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

#[test]
fn seeded_migration_is_a_real_workload_ref_rollout() {
    for index in [0, 1] {
        let state = seeded(index, 1.0);
        let deploy = get(&state, "apps", "deployments", "reviews-deploy").unwrap();
        assert_eq!(deploy["spec"]["replicas"], 0);
        let ro = rollout(&state, "reviews");
        validate_object(&ro).unwrap_or_else(|e| panic!("{e:#?}"));
        assert!(ro["spec"].get("template").is_none(), "template stays empty");
        assert_eq!(ro["spec"]["workloadRef"]["name"], "reviews-deploy");
        assert_eq!(ro["status"]["phase"], "Healthy", "{:#}", ro["status"]);
        assert_eq!(ro["metadata"]["annotations"][GEN], "1");
        assert_eq!(ro["status"]["workloadObservedGeneration"], "1");
        assert_eq!(
            owned(&state, &ro),
            [(
                "1".to_string(),
                "demo.registry.local/reviews:2.4.1".to_string(),
                4
            )]
        );
        // The Deployment's own ReplicaSet, kept at zero by the Deployment controller.
        let deploy_uid = deploy["metadata"]["uid"].as_str().unwrap();
        let mine = state
            .store
            .list(t("apps", "replicasets"), Some("shop"))
            .0
            .iter()
            .filter(|o| o.owner_uids.first().map(String::as_str) == Some(deploy_uid))
            .map(|o| o.value()["spec"]["replicas"].clone())
            .collect::<Vec<_>>();
        assert_eq!(mine, [json!(0)]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_deployment_template_is_a_new_revision() {
    let state = seeded(1, 30.0);
    let shutdown = CancellationToken::new();
    sim::spawn(&state, &shutdown);
    let patch = Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [
        {"name": "reviews", "image": "demo.registry.local/reviews:2.5.0"}]}}}}));
    state
        .store
        .patch(
            t("apps", "deployments"),
            "shop",
            "reviews-deploy",
            &patch,
            Subresource::Main,
            false,
        )
        .unwrap();
    // The controller records generation 2 and starts revision 2 from the new template.
    let ro = eventually("revision 2 of the new template", || {
        let ro = rollout(&state, "reviews");
        let rss = owned(&state, &ro);
        (ro["metadata"]["annotations"][GEN] == "2"
            && rss.first().is_some_and(|(rev, image, _)| {
                rev == "2" && image == "demo.registry.local/reviews:2.5.0"
            }))
        .then_some(ro)
    })
    .await;
    assert!(ro["spec"].get("template").is_none());
    // Then it runs the canary to the end like any other.
    let ro = eventually("revision 2 promoted", || {
        let ro = rollout(&state, "reviews");
        (ro["status"]["phase"] == "Healthy"
            && ro["status"]["stableRS"] == ro["status"]["currentPodHash"]
            && ro["status"]["workloadObservedGeneration"] == "2")
            .then_some(ro)
    })
    .await;
    let rss = owned(&state, &ro);
    assert_eq!(rss[0].1, "demo.registry.local/reviews:2.5.0");
    assert_eq!((rss[0].2, rss[1].2), (4, 0), "{rss:?}");
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_deployment_is_an_invalid_spec_until_it_exists() {
    let state = seeded(1, 30.0);
    let shutdown = CancellationToken::new();
    sim::spawn(&state, &shutdown);
    let ro = json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "ratings", "namespace": "shop"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "ratings"}},
            "workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ratings"},
            "strategy": {"canary": {"steps": [{"setWeight": 50}]}},
        },
    });
    state
        .store
        .create(t("argoproj.io", "rollouts"), "shop", ro, false)
        .unwrap();
    let ro = eventually("InvalidSpec", || {
        let ro = rollout(&state, "ratings");
        (ro["status"]["phase"] == "Degraded").then_some(ro)
    })
    .await;
    assert_eq!(
        ro["status"]["message"],
        "InvalidSpec: The Rollout \"ratings\" is invalid: deployments.apps \"ratings\" not found"
    );
    assert!(owned(&state, &ro).is_empty());
    let deploy = json!({
        "metadata": {"name": "ratings", "namespace": "shop"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "ratings"}},
                 "template": {"metadata": {"labels": {"app": "ratings"}},
                              "spec": {"containers": [{"name": "ratings", "image": "r/ratings:1"}]}}},
    });
    state
        .store
        .create(t("apps", "deployments"), "shop", deploy, false)
        .unwrap();
    let ro = eventually("healthy from the new Deployment", || {
        let ro = rollout(&state, "ratings");
        (ro["status"]["phase"] == "Healthy").then_some(ro)
    })
    .await;
    let conditions = ro["status"]["conditions"].as_array().unwrap();
    assert!(conditions.iter().all(|c| c["type"] != "InvalidSpec"));
    assert_eq!(
        owned(&state, &ro),
        [("1".to_string(), "r/ratings:1".to_string(), 2)]
    );
    shutdown.cancel();
}
