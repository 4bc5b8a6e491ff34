//! One watched cluster (kubeconfig context): its client, what is known about it (reachable?,
//! version, latency, served APIs, Prometheus), and its per-kind sources. The monitor task
//! keeps the info current; watches are started on demand, once per kind, and shared.

pub mod kubeconfig;
pub mod monitor;

use std::any::{Any, TypeId};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use kube::core::DeserializeGuard;
use kube::runtime::reflector;
use tokio::sync::watch as tokio_watch;
use tokio_util::sync::CancellationToken;

use crate::source::prometheus::PromClient;
use crate::source::watch::{KindSource, WatchContext, fill_store};
use crate::source::{Notifier, SourceCell, SourceState, Watched};

/// Which API resources a cluster serves (`plural.group`, e.g. `rollouts.argoproj.io`);
/// `None` until discovery first succeeds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    pub resources: Option<BTreeSet<String>>,
}

impl Discovery {
    #[must_use]
    pub fn serves(&self, plural: &str, group: &str) -> Option<bool> {
        self.resources
            .as_ref()
            .map(|r| r.contains(&format!("{plural}.{group}")))
    }
}

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

/// A started source: the typed store (erased), its kind's name and its state cell.
struct SourceEntry {
    source: Arc<dyn Any + Send + Sync>,
    kind: String,
    cell: Arc<SourceCell>,
}

/// A view-scoped source and the token that stops its watch.
type ScopedSource = (Arc<dyn Any + Send + Sync>, CancellationToken);

/// One watched cluster.
pub struct ClusterHandle {
    pub context: String,
    info: Mutex<ClusterInfo>,
    info_revision: AtomicU64,
    client: Option<kube::Client>,
    namespace: Option<String>,
    discovery: tokio_watch::Sender<Discovery>,
    refresh: tokio_watch::Sender<u64>,
    sources: Mutex<HashMap<TypeId, SourceEntry>>,
    /// Watches started for one view (e.g. one object's events), stopped when it closes.
    scoped: Mutex<HashMap<String, ScopedSource>>,
    prometheus: Mutex<Option<PromClient>>,
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
            client,
            namespace,
            discovery: tokio_watch::Sender::new(Discovery::default()),
            refresh: tokio_watch::Sender::new(0),
            sources: Mutex::new(HashMap::new()),
            scoped: Mutex::new(HashMap::new()),
            prometheus: Mutex::new(None),
            notifier,
            cancel,
        })
    }

    #[must_use]
    pub fn client(&self) -> Option<&kube::Client> {
        self.client.as_ref()
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

    #[must_use]
    pub fn info_revision(&self) -> u64 {
        self.info_revision.load(Ordering::Relaxed)
    }

    #[must_use]
    pub fn discovery(&self) -> Discovery {
        self.discovery.borrow().clone()
    }

    pub fn set_discovery(&self, d: Discovery) {
        self.discovery.send_if_modified(|cur| {
            if *cur == d {
                false
            } else {
                *cur = d;
                true
            }
        });
        self.info_revision.fetch_add(1, Ordering::Relaxed);
        self.notifier.notify();
    }

    /// Asks every watch of this cluster to relist, and the monitor to probe now.
    pub fn refresh(&self) {
        self.refresh.send_modify(|n| *n += 1);
    }

    #[must_use]
    pub fn refresh_receiver(&self) -> tokio_watch::Receiver<u64> {
        self.refresh.subscribe()
    }

    #[must_use]
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// The namespace watches are limited to (`-n`), if any.
    #[must_use]
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The source of kind `K`, started on first use.
    pub fn source<K: Watched>(&self) -> Arc<KindSource<K>> {
        let mut sources = self
            .sources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(existing) = sources
            .get(&TypeId::of::<K>())
            .and_then(|s| s.source.clone().downcast::<KindSource<K>>().ok())
        {
            return existing;
        }
        let (store, writer) = reflector::store::<DeserializeGuard<K>>();
        let cell = Arc::new(SourceCell::new(self.notifier.clone()));
        let source = Arc::new(KindSource {
            store,
            cell: cell.clone(),
        });
        sources.insert(
            TypeId::of::<K>(),
            SourceEntry {
                source: source.clone(),
                kind: K::plural(&()).into_owned(),
                cell: cell.clone(),
            },
        );
        if let Some(client) = &self.client
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let ctx = WatchContext {
                client: client.clone(),
                namespace: self.namespace.clone(),
                fields: None,
                discovery: self.discovery.subscribe(),
                refresh: self.refresh.subscribe(),
                cancel: self.cancel.child_token(),
            };
            rt.spawn(crate::source::watch::run::<K>(ctx, writer, cell));
        }
        source
    }

    /// Wakes the UI (for view-scoped pollers that write outside the stores).
    #[must_use]
    pub fn notifier(&self) -> Notifier {
        self.notifier.clone()
    }

    /// The cluster's Prometheus client, if one is configured.
    #[must_use]
    pub fn prometheus(&self) -> Option<PromClient> {
        self.prometheus
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn set_prometheus(&self, client: Option<PromClient>) {
        *self
            .prometheus
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = client;
    }

    /// A watch of kind `K` limited to one namespace and a field selector, kept under `key`
    /// until [`Self::drop_scoped`]; asking again with the same key reuses it.
    pub fn scoped_source<K: Watched>(
        &self,
        key: &str,
        namespace: Option<&str>,
        fields: Option<&str>,
    ) -> Arc<KindSource<K>> {
        let mut scoped = self
            .scoped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(existing) = scoped
            .get(key)
            .and_then(|(s, _)| s.clone().downcast::<KindSource<K>>().ok())
        {
            return existing;
        }
        let (store, writer) = reflector::store::<DeserializeGuard<K>>();
        let cell = Arc::new(SourceCell::new(self.notifier.clone()));
        let source = Arc::new(KindSource {
            store,
            cell: cell.clone(),
        });
        let cancel = self.cancel.child_token();
        if let Some(client) = &self.client
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let ctx = WatchContext {
                client: client.clone(),
                namespace: namespace.map(str::to_string),
                fields: fields.map(str::to_string),
                discovery: self.discovery.subscribe(),
                refresh: self.refresh.subscribe(),
                cancel: cancel.clone(),
            };
            rt.spawn(crate::source::watch::run::<K>(ctx, writer, cell));
        }
        scoped.insert(key.to_string(), (source.clone(), cancel));
        source
    }

    /// Stops a scoped watch.
    pub fn drop_scoped(&self, key: &str) {
        if let Some((_, cancel)) = self
            .scoped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key)
        {
            cancel.cancel();
        }
    }

    /// The source of kind `K` only if something already started it.
    #[must_use]
    pub fn existing_source<K: Watched>(&self) -> Option<Arc<KindSource<K>>> {
        self.sources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&TypeId::of::<K>())
            .and_then(|s| s.source.clone().downcast::<KindSource<K>>().ok())
    }

    /// Every started source's kind (plural) and state, sorted by kind.
    #[must_use]
    pub fn source_states(&self) -> Vec<(String, SourceState)> {
        let mut out: Vec<(String, SourceState)> = self
            .sources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .map(|e| (e.kind.clone(), e.cell.state()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Fills kind `K` by hand with a given state (no cluster): for tests and snapshots.
    pub fn set_test_source<K: Watched>(&self, objects: Vec<K>, state: SourceState) {
        let (store, mut writer) = reflector::store::<DeserializeGuard<K>>();
        fill_store(&mut writer, objects);
        let cell = Arc::new(SourceCell::new(self.notifier.clone()));
        cell.set_state(state);
        let source = Arc::new(KindSource {
            store,
            cell: cell.clone(),
        });
        self.sources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                TypeId::of::<K>(),
                SourceEntry {
                    source,
                    kind: K::plural(&()).into_owned(),
                    cell,
                },
            );
        // Keep a writer-less store readable: the reflector store keeps its last state.
        drop(writer);
    }
}
