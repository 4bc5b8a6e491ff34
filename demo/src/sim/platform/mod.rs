//! Platform add-ons of a simulated cluster: Argo CD Applications, Flux objects, Velero
//! backups, KEDA ScaledObjects and VerticalPodAutoscalers, each seeded only where the add-on
//! is installed, with the controllers that move them and the Velero metric series. (KEDA's
//! ScaledObject is seeded with the workloads, before the HPA that it owns.)

pub mod argocd;
pub mod flux;
pub mod keda;
pub mod velero;
pub mod vpa;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::ClusterState;
use crate::api::registry::Addon;

/// Seeds Applications (Argo CD) and backups (Velero) where installed.
pub fn seed(state: &ClusterState) {
    if state.profile.has(Addon::ArgoCd) {
        argocd::seed(state);
    }
    if state.profile.has(Addon::Velero) {
        velero::seed(state);
    }
    if state.profile.has(Addon::Flux) {
        flux::seed(state);
    }
    if state.profile.has(Addon::Vpa) {
        vpa::seed(state, crate::sim::clock::now());
    }
}

/// Starts the Argo CD and Velero controllers where installed.
pub fn spawn(state: &Arc<ClusterState>, shutdown: &CancellationToken) {
    if state.profile.has(Addon::ArgoCd) {
        argocd::spawn(state, shutdown);
    }
    if state.profile.has(Addon::Velero) {
        velero::spawn(state, shutdown);
    }
    if state.profile.has(Addon::Flux) {
        flux::spawn(state, shutdown);
    }
    if state.profile.has(Addon::Keda) {
        crate::sim::controller::spawn(state, shutdown, keda::KedaController);
    }
}
