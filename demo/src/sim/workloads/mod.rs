//! Core workloads of a simulated cluster: nodes, Deployments → ReplicaSets → pods,
//! StatefulSets, Services, ConfigMaps, HPAs and the `--scale` load, with the controllers that
//! keep them moving and the kube-state-metrics series that mirror them.
//!
//! The scenario (see [`catalog`]): `shop` runs `frontend` (3, autoscaled 2–10), `cart` (2) and
//! `catalog` (2, one pod crash-looping, so its rollout exceeded its progress deadline);
//! `payments` runs `ledger` (2); `search` runs the `indexer` StatefulSet (3, HPA pinned at its
//! maximum); `kube-system` runs `coredns`; `monitoring` runs `prometheus` (StatefulSet, Service
//! on 9090) and `kube-state-metrics`; add-on namespaces run their controllers. The HPAs are
//! described in [`hpa_history`].

pub mod build;
pub mod catalog;
pub mod deployments;
pub mod hpa;
pub mod hpa_algorithm;
pub mod hpa_history;
pub mod hpa_spec;
pub mod kubelet;
pub mod metrics;
pub mod nodes;
pub mod pods;
pub mod replicasets;
pub mod scale;
pub mod seed;
pub mod statefulsets;

use std::sync::Arc;

use chrono::Duration as ChronoDuration;
use tokio_util::sync::CancellationToken;

use self::catalog::{CONFIG_MAPS, WORKLOADS, WorkloadKind};
use self::hpa_history::Timeline;
use self::seed::CrashLoop;
use super::clock;
use super::controller;
use super::events;
use super::fields::fnv64;
use super::kinds::kinds;
use super::rng::SimRng;
use super::scrape;
use crate::ClusterState;

/// How long ago the scenario's HPAs were created (their load curves run from then).
pub const HPA_AGE_DAYS: i64 = 3;

/// Writes nodes, workloads, HPAs, the `--scale` load, their metric history and alert rules.
pub fn seed(state: &ClusterState) {
    let now = clock::now();
    let k = kinds();
    let nodes = nodes::seed(state, now);
    scale::seed_namespaces(state);
    let mut rng = SimRng::new(state.options.seed, state.profile.index, "workloads");

    // HPAs first: their simulated past decides how many replicas their targets have now.
    let hpa_created = now - ChronoDuration::days(HPA_AGE_DAYS);
    let mut plans = hpa_history::named_plans(state);
    if state.profile.has(crate::api::registry::Addon::Keda)
        && let Some(so) = super::platform::keda::seed(state, now)
    {
        plans.push(super::platform::keda::hpa_plan(&so));
    }
    let mut timelines: Vec<Timeline> = plans
        .iter()
        .map(|p| hpa_history::simulate(state, p, &p.object(hpa_created), now))
        .collect();
    let replicas_for = |ns: &str, name: &str, default: i64| {
        timelines
            .iter()
            .find(|t| t.plan.ns == ns && t.plan.target.2 == name && t.plan.target.1 != "Rollout")
            .map_or(default, |t| t.replicas)
    };

    for w in WORKLOADS.iter().filter(|w| state.profile.has(w.addon)) {
        let h = fnv64(format!("{}/{}", w.ns, w.name).as_bytes());
        let created = now
            - ChronoDuration::days(20 + (h % 40) as i64)
            - ChronoDuration::minutes((h >> 8) as i64 % 600);
        let replicas = replicas_for(w.ns, w.name, w.replicas);
        match w.kind {
            WorkloadKind::Deployment => {
                // Newest tag last; the newest rollout a few days ago (hours for catalog).
                let latest = if w.crash_looping {
                    now - ChronoDuration::hours(3)
                        - ChronoDuration::minutes(rng.range(0, 40) as i64)
                } else {
                    now - ChronoDuration::hours(30 + rng.range(0, 120) as i64)
                };
                let n = w.tags.len() as i64;
                let history: Vec<_> = w
                    .tags
                    .iter()
                    .rev()
                    .enumerate()
                    .map(|(i, tag)| {
                        let back = n - 1 - i as i64;
                        let at = (latest - ChronoDuration::days(6 * back)).max(created);
                        (build::pod_template(w, tag), at)
                    })
                    .collect();
                let crash = w.crash_looping.then(|| CrashLoop {
                    pod_index: rng.range(0, replicas.max(1) as u64) as i64,
                    restarts: 35 + rng.range(0, 10) as i64,
                    exited_secs_ago: rng.range(20, 240) as i64,
                });
                seed::deployment(
                    state,
                    &nodes,
                    build::deployment(w, replicas, created),
                    &history,
                    crash,
                    now,
                );
            }
            WorkloadKind::StatefulSet => {
                seed::statefulset(
                    state,
                    &nodes,
                    build::statefulset(w, replicas, created),
                    created + ChronoDuration::minutes(2),
                );
            }
        }
        if let Some(svc) = build::service(w, state.profile.index) {
            let _ = state.store.insert(k.service, svc);
        }
    }
    for (ns, name, app, data) in CONFIG_MAPS {
        let _ = state
            .store
            .insert(k.configmap, build::configmap(ns, name, *app, data));
    }
    for tl in &timelines {
        insert_hpa(state, tl, hpa_created, now);
    }
    timelines.extend(scale::seed(state, &nodes, now));
    metrics::backfill(state, now, &timelines);
    metrics::install_rules(state);
}

/// Inserts an HPA with the status its simulated past ended in.
pub fn insert_hpa(
    state: &ClusterState,
    tl: &Timeline,
    created: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) {
    let k = kinds();
    let mut hpa = tl.plan.object(created);
    if let Some(sync) = &tl.last {
        let mut status = hpa::status_for(&hpa, sync, tl.replicas, false, now);
        if let Some(at) = tl.last_scale {
            status["lastScaleTime"] = serde_json::json!(clock::fmt(at));
        }
        hpa["status"] = status;
    }
    let _ = state.store.insert(k.hpa, hpa);
}

/// Starts the workload controllers, the event pruner and the kube-state-metrics exporter.
pub fn spawn(state: &Arc<ClusterState>, shutdown: &CancellationToken) {
    controller::spawn(
        state,
        shutdown,
        deployments::DeploymentController::default(),
    );
    controller::spawn(
        state,
        shutdown,
        replicasets::ReplicaSetController::default(),
    );
    controller::spawn(
        state,
        shutdown,
        statefulsets::StatefulSetController::default(),
    );
    controller::spawn(state, shutdown, kubelet::Kubelet::default());
    controller::spawn(state, shutdown, hpa::HpaController::default());
    events::spawn_gc(state, shutdown);
    scrape::spawn(state, shutdown, metrics::KubeStateMetrics::default());
}
