//! The simulated Argo Rollouts of the demo cluster: the Rollout controller (canary and
//! blue-green, reacting to every kubectl-argo-rollouts action as upstream does), the
//! AnalysisRun controller (measuring Prometheus queries against this cluster's own TSDB),
//! the Istio traffic model that feeds those queries (request/latency series per version and a
//! circuit breaker that trips and recovers), and a simulated CI that keeps shipping releases.
//!
//! Seeding writes the scenario (see [`seed`]); [`spawn`] starts the loops. Everything is
//! deterministic for a given `--seed` and paced by `--speed`.

pub mod analysis;
mod bluegreen;
mod canary;
mod ci;
pub mod controller;
mod events;
pub mod expr;
pub mod model;
mod runs;
mod runtime;
pub mod seed;
pub mod status;
pub mod traffic;
pub mod util;
pub mod workload_ref;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::ClusterState;
pub use analysis::{PromqlEngine, QueryEngine};
pub use runtime::{SimConfig, reconcile_rollout, spawn_with};

/// Writes the scenario's Rollouts, ReplicaSets, Services, Istio objects, AnalysisTemplates and
/// AnalysisRuns, an hour of traffic history, and the alert rules.
pub fn seed(state: &ClusterState) {
    seed::seed(state);
}

/// Writes the workload migrated from a Deployment (`shop/reviews`, see [`workload_ref`]):
/// seeded after the core workloads, since its template lives in one of them.
pub fn seed_migrated(state: &ClusterState) {
    let Some(kinds) = util::Kinds::of(state) else {
        return;
    };
    let created = crate::sim::clock::fmt(chrono::Utc::now() - chrono::Duration::days(9));
    if let Some(ro) = workload_ref::seed(state, kinds, &created) {
        seed::settle(state, kinds, &[ro]);
    }
}

/// Starts the controllers, the traffic scraper and the simulated CI.
pub fn spawn(state: &Arc<ClusterState>, shutdown: &CancellationToken) {
    spawn_with(state, shutdown, SimConfig::default());
}
