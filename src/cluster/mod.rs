//! One watched cluster (kubeconfig context): its client, what is known about it (reachable?,
//! version, latency, served APIs, Prometheus), and its per-kind sources. The monitor task
//! keeps the info current; watches are started on demand, once per kind, and shared.

pub mod kubeconfig;
pub mod monitor;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

pub use crate::source::Discovery;
use crate::source::{Notifier, SourceSet};

/// Can the API server be reached, and how fast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    Connecting,
    Reachable {
        latency: Duration,
        since: DateTime<Utc>,
    },
    Unreachable {
        since: DateTime<Utc>,
        retry_at: DateTime<Utc>,
        reason: String,
    },
    /// No client could be built (credentials, TLS material): nothing is tried again until
    /// kdeck restarts.
    Failed {
        reason: String,
    },
}

/// Whether the cluster's Prometheus answers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PromReach {
    #[default]
    Unknown,
    Reachable {
        version: String,
    },
    Unreachable {
        reason: String,
    },
}

/// What the Clusters pane shows about one context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    pub server: String,
    /// The identity actions run as: the API server's answer to "who am I", else the
    /// kubeconfig user entry.
    pub user: String,
    pub version: Option<String>,
    pub reach: Reach,
    pub prometheus: PromReach,
    pub readonly: bool,
}

/// One watched cluster: what is known about it, and its sources.
pub struct ClusterHandle {
    pub context: String,
    info: Mutex<ClusterInfo>,
    info_revision: AtomicU64,
    /// TLS verification is off for this cluster: shown as a warning, always.
    insecure: AtomicBool,
    /// Its watches and pollers; panes read them, the source manager starts and stops them.
    pub sources: SourceSet,
    notifier: Notifier,
    cancel: CancellationToken,
}

impl std::fmt::Debug for ClusterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterHandle")
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

impl ClusterHandle {
    /// A cluster reached through `client` (or, with `None`, one whose sources are filled by
    /// hand: tests and snapshots).
    #[must_use]
    pub fn new(
        context: &str,
        info: ClusterInfo,
        client: Option<kube::Client>,
        namespace: Option<String>,
        notifier: Notifier,
        cancel: CancellationToken,
    ) -> Arc<Self> {
        Arc::new(Self {
            context: context.to_string(),
            info: Mutex::new(info),
            info_revision: AtomicU64::new(1),
            insecure: AtomicBool::new(false),
            sources: SourceSet::new(client, namespace, notifier.clone(), cancel.clone()),
            notifier,
            cancel,
        })
    }

    #[must_use]
    pub fn client(&self) -> Option<&kube::Client> {
        self.sources.client()
    }

    #[must_use]
    pub fn info(&self) -> ClusterInfo {
        self.info
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Changes the info; wakes the UI only if something changed.
    pub fn update_info(&self, f: impl FnOnce(&mut ClusterInfo)) {
        let mut info = self
            .info
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = info.clone();
        f(&mut info);
        if *info != before {
            drop(info);
            self.info_revision.fetch_add(1, Ordering::Relaxed);
            self.notifier.notify();
        }
    }

    /// Whether TLS verification is off for this cluster.
    #[must_use]
    pub fn insecure(&self) -> bool {
        self.insecure.load(Ordering::Relaxed)
    }

    pub fn set_insecure(&self, insecure: bool) {
        self.insecure.store(insecure, Ordering::Relaxed);
    }

    /// Moves whenever the info or the discovery changes.
    #[must_use]
    pub fn info_revision(&self) -> u64 {
        self.info_revision.load(Ordering::Relaxed)
    }

    #[must_use]
    pub fn discovery(&self) -> Discovery {
        self.sources.discovery()
    }

    pub fn set_discovery(&self, d: Discovery) {
        if self.sources.set_discovery(d) {
            self.info_revision.fetch_add(1, Ordering::Relaxed);
            self.notifier.notify();
        }
    }

    /// Asks every watch of this cluster to relist, and the monitor to probe now.
    pub fn refresh(&self) {
        self.sources.refresh();
    }

    #[must_use]
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }
}
