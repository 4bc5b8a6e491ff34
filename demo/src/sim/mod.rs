//! Simulated controllers of the demo cluster: the objects each cluster starts with, and the
//! loops that keep them moving (rollouts advance, HPAs scale, apps drift, schedules back up,
//! a breaker trips), plus the scrapers that turn that state (and the mesh between the plain
//! workloads, [`mesh`]) into Prometheus series.
//!
//! Controllers write through the same object store the API server reads, so every change
//! reaches clients as a real watch event. They react to store events (like real
//! controllers) and to timers paced by [`Pace`], never by scanning everything on every tick.
//!
//! Shared helpers for any simulated controller: [`controller`] (the event-driven reconcile
//! loop with per-key timers), [`events`] (Kubernetes Events with folding and pruning),
//! [`scrape`] (metric exporters fed by store events, scraped into the TSDB), [`clock`],
//! [`fields`] and [`kinds`].

pub mod clock;
pub mod controller;
pub mod events;
pub mod fields;
pub mod kinds;
pub mod mesh;
pub mod namespaces;
pub mod pace;
pub mod platform;
pub mod rng;
pub mod rollouts;
pub mod scrape;
pub mod workloads;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{ClusterState, api};
pub use pace::Pace;
pub use rng::SimRng;

/// Writes the cluster's initial objects and metric history. Runs before the servers start.
pub fn seed(state: &ClusterState) {
    namespaces::seed(state);
    workloads::seed(state);
    platform::seed(state);
    rollouts::seed(state);
    mesh::seed(state);
    rollouts::seed_migrated(state);
}

/// Starts the controllers; they stop when `shutdown` is cancelled.
pub fn spawn(state: &Arc<ClusterState>, shutdown: &CancellationToken) {
    workloads::spawn(state, shutdown);
    platform::spawn(state, shutdown);
    rollouts::spawn(state, shutdown);
    if state.profile.has(api::registry::Addon::Istio) {
        tokio::spawn(mesh::run(state.clone(), shutdown.clone()));
    }
}
