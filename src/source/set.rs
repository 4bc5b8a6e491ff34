//! One cluster's sources: the watch of each kind (shared by every pane), the scoped watches
//! and Prometheus pollers that views declared, and what they need to run (client, namespace,
//! discovery, the refresh signal). The source manager starts and stops them; panes only read.

use std::any::{Any, TypeId};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use kube::core::DeserializeGuard;
use tokio::sync::{Semaphore, watch as tokio_watch};
use tokio_util::sync::CancellationToken;

use super::discovery::Discovery;
use super::prom_poll::{PromSnapshot, PromSource};
use super::prometheus::PromClient;
use super::spec::{PromSpec, ScopedWatch};
use super::store::Store;
use super::watch::{Conn, KindSource, LIST_CONCURRENCY, WatchContext, fill_store};
use super::{Notifier, SourceCell, SourceState, Watched, short_kind};

/// A started kind watch: the typed store (erased), its label and its state cell.
struct KindEntry {
    source: Arc<dyn Any + Send + Sync>,
    label: String,
    cell: Arc<SourceCell>,
}

/// How a watch is named in the Clusters pane: its plural, with the version for a type that
/// reads an older version of a kind another type reads (`destinationrules v1beta1`).
fn label<K: Watched>() -> String {
    let plural = short_kind::<K>();
    if K::SUPERSEDED_BY.is_empty() {
        plural.to_string()
    } else {
        format!("{plural} {}", K::version(&()))
    }
}

/// A started scoped watch and the token that stops it.
struct ScopedEntry {
    source: Arc<dyn Any + Send + Sync>,
    cancel: CancellationToken,
}

/// A started Prometheus poller and the token that stops it.
struct PromEntry {
    source: Arc<PromSource>,
    cancel: CancellationToken,
}

/// How many stopped pollers' last numbers a cluster keeps.
const RETIRED_PROM: usize = 64;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The cluster's API server did not answer its last probe: data is as of `since`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable {
    pub since: DateTime<Utc>,
    pub retry_at: DateTime<Utc>,
    pub reason: String,
}

/// Every source of one cluster.
pub struct SourceSet {
    /// When any watch of this cluster last received something (unix ms): a cluster that
    /// delivers needs no probe to prove it is there.
    activity: Arc<AtomicI64>,
    unreachable: Mutex<Option<Unreachable>>,
    /// Why this cluster has no client at all (its credentials failed): every source says so.
    failed: Mutex<Option<String>>,
    client: Option<kube::Client>,
    namespace: Option<String>,
    discovery: tokio_watch::Sender<Discovery>,
    refresh: tokio_watch::Sender<u64>,
    notifier: Notifier,
    cancel: CancellationToken,
    prometheus: Mutex<Option<PromClient>>,
    kinds: Mutex<HashMap<TypeId, KindEntry>>,
    scoped: Mutex<HashMap<String, ScopedEntry>>,
    prom: Mutex<HashMap<String, PromEntry>>,
    /// The last numbers of pollers stopped because no pane shows them now (newest last, at
    /// most [`RETIRED_PROM`]): a pane that comes back starts from them, marked stale, instead
    /// of from nothing, which matters when Prometheus is down by then.
    retired_prom: Mutex<Vec<(PromSpec, Arc<PromSnapshot>)>>,
    /// Lists under way on this cluster (its watches' first lists and relists), bounded.
    lists: Arc<Semaphore>,
}

impl std::fmt::Debug for SourceSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceSet")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl SourceSet {
    /// Sources reached through `client` (`None`: filled by hand, for tests and snapshots).
    #[must_use]
    pub fn new(
        client: Option<kube::Client>,
        namespace: Option<String>,
        notifier: Notifier,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            activity: Arc::new(AtomicI64::new(0)),
            unreachable: Mutex::new(None),
            failed: Mutex::new(None),
            client,
            namespace,
            discovery: tokio_watch::Sender::new(Discovery::default()),
            refresh: tokio_watch::Sender::new(0),
            notifier,
            cancel,
            prometheus: Mutex::new(None),
            kinds: Mutex::new(HashMap::new()),
            scoped: Mutex::new(HashMap::new()),
            prom: Mutex::new(HashMap::new()),
            retired_prom: Mutex::new(Vec::new()),
            lists: Arc::new(Semaphore::new(LIST_CONCURRENCY)),
        }
    }

    #[must_use]
    pub fn client(&self) -> Option<&kube::Client> {
        self.client.as_ref()
    }

    /// The namespace watches are limited to (`-n`), if any.
    #[must_use]
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    #[must_use]
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    #[must_use]
    pub fn discovery(&self) -> Discovery {
        self.discovery.borrow().clone()
    }

    /// Replaces what the cluster is known to serve; returns whether it changed.
    pub fn set_discovery(&self, d: Discovery) -> bool {
        self.discovery.send_if_modified(|cur| {
            if *cur == d {
                false
            } else {
                *cur = d;
                true
            }
        })
    }

    /// Asks every watch and poller of this cluster to reconnect and relist now.
    pub fn refresh(&self) {
        self.refresh.send_modify(|n| *n += 1);
    }

    #[must_use]
    pub fn refresh_receiver(&self) -> tokio_watch::Receiver<u64> {
        self.refresh.subscribe()
    }

    /// The cluster's Prometheus client, if one is configured.
    #[must_use]
    pub fn prometheus(&self) -> Option<PromClient> {
        lock(&self.prometheus).clone()
    }

    pub fn set_prometheus(&self, client: Option<PromClient>) {
        *lock(&self.prometheus) = client;
    }

    fn watch_context(
        &self,
        namespace: Option<String>,
        fields: Option<String>,
        cancel: CancellationToken,
    ) -> Option<WatchContext> {
        Some(WatchContext {
            conn: Conn {
                activity: self.activity.clone(),
                client: self.client.clone()?,
                namespace,
                fields,
                lists: self.lists.clone(),
            },
            discovery: self.discovery.subscribe(),
            refresh: self.refresh.subscribe(),
            cancel,
        })
    }

    fn new_source<K: Watched>(&self) -> Arc<KindSource<K>> {
        Arc::new(KindSource {
            store: Store::default(),
            cell: Arc::new(SourceCell::new(self.notifier.clone())),
        })
    }

    // ---- reading (never starts anything) ------------------------------------------------

    /// The store of kind `K`, if its watch was started.
    #[must_use]
    pub fn kind<K: Watched>(&self) -> Option<Arc<KindSource<K>>> {
        lock(&self.kinds)
            .get(&TypeId::of::<K>())
            .and_then(|e| e.source.clone().downcast::<KindSource<K>>().ok())
    }

    /// The revision of kind `K`'s store (0 before it starts): moves with every change.
    #[must_use]
    pub fn revision<K: Watched>(&self) -> u64 {
        self.kind::<K>().map_or(0, |s| s.revision())
    }

    /// The state of kind `K`'s source; "connecting" before it starts. Data that its watch
    /// still calls live is stale while the cluster does not answer its probe: a connection
    /// that went silent delivers nothing, and says nothing either.
    #[must_use]
    pub fn state<K: Watched>(&self) -> SourceState {
        let state = self
            .kind::<K>()
            .map_or(SourceState::Connecting, |s| s.state());
        self.with_reach(state)
    }

    fn with_reach(&self, state: SourceState) -> SourceState {
        if let Some(reason) = lock(&self.failed).clone() {
            return SourceState::Error {
                reason,
                retry_at: Utc::now(),
            };
        }
        match (state, lock(&self.unreachable).as_ref()) {
            (SourceState::Live { .. }, Some(u)) => SourceState::Stale {
                since: u.since,
                retry_at: u.retry_at,
                reason: u.reason.clone(),
            },
            (state, _) => state,
        }
    }

    /// Marks the cluster as one that cannot be reached at all (no client could be built).
    pub fn set_failed(&self, reason: &str) {
        *lock(&self.failed) = Some(reason.to_string());
        self.notifier.notify();
    }

    /// When any watch last received something, if ever.
    #[must_use]
    pub fn last_activity(&self) -> Option<DateTime<Utc>> {
        match self.activity.load(Ordering::Relaxed) {
            0 => None,
            ms => DateTime::from_timestamp_millis(ms),
        }
    }

    /// Records the outcome of the cluster's last probe (`None`: it answered). Wakes the UI
    /// when that changes what the sources' states say.
    pub fn set_unreachable(&self, u: Option<Unreachable>) {
        let mut cur = lock(&self.unreachable);
        if *cur != u {
            let changed_liveness = cur.is_some() != u.is_some();
            *cur = u;
            drop(cur);
            if changed_liveness {
                self.notifier.notify();
            }
        }
    }

    /// A snapshot of kind `K`'s objects (reference-counted, cheap); empty before it starts.
    #[must_use]
    pub fn objects<K: Watched>(&self) -> Vec<Arc<DeserializeGuard<K>>> {
        self.kind::<K>().map(|s| s.objects()).unwrap_or_default()
    }

    /// A copy of one readable object of kind `K`.
    #[must_use]
    pub fn get<K: Watched>(&self, namespace: &str, name: &str) -> Option<K> {
        self.kind::<K>().and_then(|s| s.get(namespace, name))
    }

    /// The scoped watch under `key`, if declared and started.
    #[must_use]
    pub fn scoped<K: Watched>(&self, key: &str) -> Option<Arc<KindSource<K>>> {
        lock(&self.scoped)
            .get(key)
            .and_then(|e| e.source.clone().downcast::<KindSource<K>>().ok())
    }

    /// The Prometheus poller under `key`, if declared and started.
    #[must_use]
    pub fn prom(&self, key: &str) -> Option<Arc<PromSource>> {
        lock(&self.prom).get(key).map(|e| e.source.clone())
    }

    /// Every started kind's label and state, sorted by label.
    #[must_use]
    pub fn states(&self) -> Vec<(String, SourceState)> {
        let mut out: Vec<(String, SourceState)> = lock(&self.kinds)
            .values()
            .map(|e| (e.label.clone(), self.with_reach(e.cell.state())))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The highest revision of any started kind: moves whenever any store moves.
    #[must_use]
    pub fn revision_sum(&self) -> u64 {
        lock(&self.kinds)
            .values()
            .map(|e| e.cell.revision())
            .fold(0u64, u64::wrapping_add)
    }

    // ---- starting and stopping (the source manager and tests) ---------------------------

    /// Starts the watch of kind `K` unless it runs.
    pub fn start_kind<K: Watched>(&self) {
        let mut kinds = lock(&self.kinds);
        if kinds.contains_key(&TypeId::of::<K>()) {
            return;
        }
        let source = self.new_source::<K>();
        kinds.insert(
            TypeId::of::<K>(),
            KindEntry {
                source: source.clone(),
                label: label::<K>(),
                cell: source.cell.clone(),
            },
        );
        drop(kinds);
        if let Some(ctx) =
            self.watch_context(self.namespace.clone(), None, self.cancel.child_token())
        {
            spawn(super::watch::run::<K>(ctx, source));
        }
    }

    /// Starts a scoped watch unless one runs under the same key.
    pub fn start_scoped<K: Watched>(&self, w: &ScopedWatch) {
        let mut scoped = lock(&self.scoped);
        if scoped.contains_key(&w.key) {
            return;
        }
        let source = self.new_source::<K>();
        let cancel = self.cancel.child_token();
        if let Some(ctx) = self.watch_context(w.namespace.clone(), w.fields.clone(), cancel.clone())
        {
            spawn(super::watch::run::<K>(ctx, source.clone()));
        }
        scoped.insert(w.key.clone(), ScopedEntry { source, cancel });
    }

    /// Stops every scoped watch whose key is not in `keep`.
    pub fn retain_scoped(&self, keep: &HashSet<&str>) {
        lock(&self.scoped).retain(|k, e| {
            let kept = keep.contains(k.as_str());
            if !kept {
                e.cancel.cancel();
            }
            kept
        });
    }

    /// Starts a Prometheus poller for `spec`, or restarts it if its queries changed. Without a
    /// configured Prometheus nothing starts (the view says so).
    pub fn start_prom(&self, spec: &PromSpec) {
        let mut prom = lock(&self.prom);
        if prom.get(&spec.key).is_some_and(|e| e.source.spec == *spec) {
            return;
        }
        if let Some(old) = prom.remove(&spec.key) {
            old.cancel.cancel();
        }
        let Some(client) = self.prometheus() else {
            return;
        };
        let source = PromSource::new(spec.clone(), self.notifier.clone());
        let mut retired = lock(&self.retired_prom);
        if let Some(i) = retired.iter().position(|(s, _)| s == spec) {
            source.resume(&retired.remove(i).1);
        }
        drop(retired);
        let source = Arc::new(source);
        let cancel = self.cancel.child_token();
        spawn(super::prom_poll::run(
            client,
            source.clone(),
            self.refresh.subscribe(),
            cancel.clone(),
        ));
        prom.insert(spec.key.clone(), PromEntry { source, cancel });
    }

    /// Stops every Prometheus poller whose key is not in `keep`.
    pub fn retain_prom(&self, keep: &HashSet<&str>) {
        let mut stopped = Vec::new();
        lock(&self.prom).retain(|k, e| {
            let kept = keep.contains(k.as_str());
            if !kept {
                e.cancel.cancel();
                let snapshot = e.source.snapshot();
                if snapshot.fetched_at.is_some() {
                    stopped.push((e.source.spec.clone(), snapshot));
                }
            }
            kept
        });
        // Taken after `prom` is released: `start_prom` takes the two in the other order.
        let mut retired = lock(&self.retired_prom);
        for (spec, snapshot) in stopped {
            retired.retain(|(s, _)| s.key != spec.key);
            retired.push((spec, snapshot));
        }
        let excess = retired.len().saturating_sub(RETIRED_PROM);
        retired.drain(..excess);
    }

    // ---- filled by hand (tests, snapshots, benchmarks) -----------------------------------

    /// Fills kind `K` with `objects` in `state`, as a watch would (no cluster needed).
    pub fn set_test_kind<K: Watched>(&self, objects: Vec<K>, state: SourceState) {
        let source = self.new_source::<K>();
        fill_store(&source.store, objects);
        source.cell.set_state(state);
        lock(&self.kinds).insert(
            TypeId::of::<K>(),
            KindEntry {
                source: source.clone(),
                label: label::<K>(),
                cell: source.cell.clone(),
            },
        );
    }

    /// Fills a scoped watch by hand.
    pub fn set_test_scoped<K: Watched>(&self, key: &str, objects: Vec<K>, state: SourceState) {
        let source = self.new_source::<K>();
        fill_store(&source.store, objects);
        source.cell.set_state(state);
        lock(&self.scoped).insert(
            key.to_string(),
            ScopedEntry {
                source,
                cancel: CancellationToken::new(),
            },
        );
    }

    /// Fills a Prometheus poller's snapshot by hand.
    pub fn set_test_prom(&self, spec: PromSpec, snapshot: PromSnapshot, state: SourceState) {
        let source = Arc::new(PromSource::new(spec.clone(), self.notifier.clone()));
        source.publish(snapshot, state);
        lock(&self.prom).insert(
            spec.key,
            PromEntry {
                source,
                cancel: CancellationToken::new(),
            },
        );
    }
}

/// Spawns on the current runtime; without one (a synchronous test) nothing runs.
fn spawn(fut: impl std::future::Future<Output = ()> + Send + 'static) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(fut);
    }
}
