//! The set of watched clusters, shared by the UI (reads) and the executor, and the fleet
//! metrics endpoint, if one is configured.

use std::sync::{Arc, RwLock};

use crate::cluster::ClusterHandle;
use crate::source::Notifier;
use crate::source::fleet::FleetSource;

/// Every watched cluster, in display order.
#[derive(Debug, Default)]
pub struct World {
    clusters: RwLock<Vec<Arc<ClusterHandle>>>,
    fleet: RwLock<Option<Arc<FleetSource>>>,
    pub notifier: Notifier,
}

impl World {
    #[must_use]
    pub fn new(notifier: Notifier) -> Self {
        Self {
            clusters: RwLock::new(Vec::new()),
            fleet: RwLock::new(None),
            notifier,
        }
    }

    #[must_use]
    pub fn clusters(&self) -> Vec<Arc<ClusterHandle>> {
        self.clusters
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    #[must_use]
    pub fn cluster(&self, context: &str) -> Option<Arc<ClusterHandle>> {
        self.clusters
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|c| c.context == context)
            .cloned()
    }

    /// The fleet metrics endpoint (`[fleet]` in config), if any.
    #[must_use]
    pub fn fleet(&self) -> Option<Arc<FleetSource>> {
        self.fleet
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn set_fleet(&self, fleet: Option<Arc<FleetSource>>) {
        *self
            .fleet
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fleet;
        self.notifier.notify();
    }

    pub fn add(&self, cluster: Arc<ClusterHandle>) {
        self.clusters
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(cluster);
        self.notifier.notify();
    }
}
