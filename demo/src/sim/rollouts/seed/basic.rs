//! Rollout scenario for clusters without Istio (see seed.rs): replica-based canaries in
//! `shop`, and the `--scale` bench canaries in the `load-*` namespaces.

use serde_json::{Value, json};

use super::{
    Clock, Release, canary_conditions, checkout_steps, image, pod_template, replica_set, rollout,
    rollout_meta, service,
};
use crate::ClusterState;
use crate::sim::rollouts::util::{self, Kinds};

/// A basic (replica-ratio) canary: `steps`, currently at `step` with `canary_replicas` of the
/// new release up (Healthy when `from == to`).
#[allow(clippy::too_many_arguments)]
fn basic_canary(
    state: &ClusterState,
    kinds: Kinds,
    clock: &Clock,
    ns: &str,
    name: &str,
    replicas: i64,
    steps: &Value,
    from: &str,
    to: &str,
    step: i64,
    canary_replicas: i64,
    revision: i64,
) -> Option<(String, String)> {
    let rel = Release::new(name, from, to);
    let healthy = from == to;
    // A Healthy one became so shortly before start, so the simulated CI ships its next
    // release a few minutes into the demo rather than at once.
    let started = clock.ago_str(if healthy { 100.0 } else { 150.0 });
    let created = clock.days_ago(30.0);
    let conditions = canary_conditions(name, &rel.canary_h, &created, &started, healthy);
    let ro = rollout(
        state,
        kinds,
        json!({
            "metadata": rollout_meta(ns, name, revision, &created),
            "spec": {
                "replicas": replicas,
                "revisionHistoryLimit": 3,
                "selector": {"matchLabels": {"app": name}},
                "template": rel.canary_t,
                "strategy": {"canary": {"steps": steps}},
            },
            "status": {
                "stableRS": rel.stable_h,
                "currentPodHash": rel.canary_h,
                "currentStepHash": util::step_hash(steps),
                "currentStepIndex": step,
                "observedGeneration": "1",
                "canary": {}, "blueGreen": {},
                "conditions": conditions,
            },
        }),
    )?;
    let old_t = pod_template(name, &image(name, "0.0.1"));
    replica_set(
        state,
        kinds,
        &ro,
        &old_t,
        revision - 2,
        0,
        replicas,
        &clock.days_ago(12.0),
    );
    if healthy {
        replica_set(
            state,
            kinds,
            &ro,
            &rel.canary_t,
            revision,
            replicas,
            replicas,
            &started,
        );
    } else {
        replica_set(
            state,
            kinds,
            &ro,
            &rel.stable_t,
            revision - 1,
            replicas - canary_replicas,
            replicas,
            &clock.days_ago(4.0),
        );
        replica_set(
            state,
            kinds,
            &ro,
            &rel.canary_t,
            revision,
            canary_replicas,
            replicas,
            &started,
        );
    }
    service(state, kinds, ns, name, name, None, None);
    Some((ns.to_string(), name.to_string()))
}

pub(super) fn seed_basic(
    state: &ClusterState,
    kinds: Kinds,
    clock: &Clock,
) -> Vec<(String, String)> {
    let mut seeded = Vec::new();
    seeded.extend(basic_canary(
        state,
        kinds,
        clock,
        "shop",
        "checkout",
        5,
        &checkout_steps(false),
        "1.8.0",
        "1.8.1",
        4,
        4,
        4,
    ));
    let steps = json!([
        {"setWeight": 25}, {"pause": {"duration": "45s"}},
        {"setWeight": 50}, {"pause": {"duration": "45s"}},
        {"setWeight": 75}, {"pause": {"duration": "45s"}},
    ]);
    seeded.extend(basic_canary(
        state,
        kinds,
        clock,
        "shop",
        "recommendations",
        3,
        &steps,
        "0.9.5",
        "0.9.5",
        6,
        0,
        9,
    ));
    seeded
}

/// `--scale N`: N/200 small canaries spread over the `load-*` namespaces that exist.
pub(super) fn seed_bench(
    state: &ClusterState,
    kinds: Kinds,
    clock: &Clock,
) -> Vec<(String, String)> {
    let count = state.options.scale / 200;
    let (namespaces, _) = state.store.list(kinds.namespaces, None);
    let load: Vec<String> = namespaces
        .iter()
        .map(|o| o.key.name.clone())
        .filter(|n| n.starts_with("load-"))
        .collect();
    if load.is_empty() {
        return Vec::new();
    }
    let steps = json!([{"setWeight": 50}, {"pause": {"duration": "30s"}}]);
    (0..count)
        .filter_map(|i| {
            let ns = &load[i % load.len()];
            basic_canary(
                state,
                kinds,
                clock,
                ns,
                &format!("bench-{i:03}"),
                2,
                &steps,
                "1.0.0",
                "1.0.0",
                2,
                0,
                3,
            )
        })
        .collect()
}
