//! The set of watched clusters, shared by the UI (reads) and the executor.

use std::sync::{Arc, RwLock};

use crate::cluster::ClusterHandle;
use crate::source::Notifier;

/// Every watched cluster, in display order.
#[derive(Debug, Default)]
pub struct World {
    clusters: RwLock<Vec<Arc<ClusterHandle>>>,
    pub notifier: Notifier,
}

impl World {
    #[must_use]
    pub fn new(notifier: Notifier) -> Self {
        Self {
            clusters: RwLock::new(Vec::new()),
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

    pub fn add(&self, cluster: Arc<ClusterHandle>) {
        self.clusters
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(cluster);
        self.notifier.notify();
    }
}
