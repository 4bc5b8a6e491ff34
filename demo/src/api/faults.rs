//! Fault injection for one simulated cluster: what tests (and `kdeck demo serve` users, through
//! the control API) use to make the cluster misbehave the way real clusters do.
//!
//! | fault | effect |
//! |---|---|
//! | drop watches | every open watch stream ends (clients re-watch from their last version) |
//! | compact | the store forgets its history: a watch from an older version gets 410 Gone |
//! | fail kind | one resource answers 403 Forbidden or 404 NotFound (404 also hides it from discovery); open watches of it end |
//! | no status subresource | a kind behaves like a CRD without `subresources.status` (Argo Rollouts before v0.10): `/status` answers 404 and writes to the main resource change status too |
//! | latency | every request waits this long first |
//! | error rate | this share of requests answers 500 InternalError |
//! | down / up | the cluster's listeners (Kubernetes API and Prometheus) close, with every connection, and reopen on the same ports |
//! | prometheus down / up | only Prometheus goes: its port closes and the API server's service proxy to it answers 503 (no endpoints), as when its pod is gone |
//! | hide version | one version of a group is not served (404, gone from discovery), as on a cluster with an older release of the add-on (Istio before 1.22 serves no `networking.istio.io/v1`) |
//! | deny rules | authorization rules: 403 on matching requests and `allowed: false` in access reviews |
//!
//! [`Faults`] is the in-process handle; [`FaultAction`] is the same set as JSON for the
//! control API (`{"action": "fail-kind", "group": "apps", "resource": "deployments", "code": 403}`).
//!
//! This file holds the settings the request path reads and the handle that changes them;
//! `control` the JSON form of faults and how one is applied.

mod control;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use super::authz::{Authz, DenyRule};
use super::registry::{self, TypeId};
use super::server::Listener;
use super::store::mix64;
use crate::ClusterState;
pub use control::{FaultAction, FaultSnapshot};

/// Why a fault could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("unknown resource {resource:?} in group {group:?}")]
    UnknownKind { group: String, resource: String },
    #[error("a kind can only be failed with 403 or 404, not {0}")]
    BadCode(u16),
    #[error("the error rate is a share between 0 and 1, not {0}")]
    BadRate(f64),
    #[error("no deny rule with id {0}")]
    UnknownRule(u64),
    #[error(transparent)]
    Listen(#[from] anyhow::Error),
}

/// The fault settings the request path reads; shared by the server and the [`Faults`] handle.
#[derive(Debug)]
pub struct FaultState {
    latency_ms: AtomicU64,
    /// Answers to writes (POST/PUT/PATCH/DELETE) are held back this long after the write was
    /// applied: a client that gives up first has sent a change it never heard about.
    write_answer_delay_ms: AtomicU64,
    /// While set, the server answers nothing and open watches deliver nothing, but every
    /// connection stays open: a network path that went silent without a reset.
    frozen: watch::Sender<bool>,
    /// Share of failing requests, in thousandths.
    error_permille: AtomicU32,
    request_counter: AtomicU64,
    salt: u64,
    kind_codes: RwLock<HashMap<TypeId, u16>>,
    /// Kinds whose status subresource is taken away.
    no_status: RwLock<HashSet<TypeId>>,
    /// (group, version) pairs not served.
    hidden_versions: RwLock<HashSet<(String, String)>>,
    /// Prometheus is down: the service proxy to it answers 503.
    prom_down: std::sync::atomic::AtomicBool,
    /// Bumped whenever open watches must re-check whether they may go on.
    watch_epoch: watch::Sender<u64>,
    /// Watches started before this epoch end (bumped by "drop watches" only).
    drop_epoch: AtomicU64,
    stats: Counters,
}

/// Request counters, so tests can check that a fault was really met.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    lists: AtomicU64,
    watches: AtomicU64,
    gone: AtomicU64,
    injected_errors: AtomicU64,
    writes: AtomicU64,
}

/// What the API server of a cluster has answered so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RequestStats {
    pub requests: u64,
    pub lists: u64,
    pub watches: u64,
    /// Watches answered with a 410 Gone event.
    pub gone: u64,
    /// Requests failed by the error-rate fault.
    pub injected_errors: u64,
    /// Requests that write objects (create, update, patch, delete; access reviews, which
    /// store nothing, are not counted).
    pub writes: u64,
}

/// Which counter a request bumps.
#[derive(Debug, Clone, Copy)]
pub enum Counted {
    Request,
    List,
    Watch,
    Gone,
    InjectedError,
    Write,
}

impl FaultState {
    #[must_use]
    pub fn new(salt: u64) -> Self {
        Self {
            latency_ms: AtomicU64::new(0),
            write_answer_delay_ms: AtomicU64::new(0),
            frozen: watch::channel(false).0,
            error_permille: AtomicU32::new(0),
            request_counter: AtomicU64::new(0),
            salt,
            kind_codes: RwLock::new(HashMap::new()),
            no_status: RwLock::new(HashSet::new()),
            hidden_versions: RwLock::new(HashSet::new()),
            prom_down: std::sync::atomic::AtomicBool::new(false),
            watch_epoch: watch::channel(0).0,
            drop_epoch: AtomicU64::new(0),
            stats: Counters::default(),
        }
    }

    pub fn count(&self, what: Counted) {
        let c = match what {
            Counted::Request => &self.stats.requests,
            Counted::List => &self.stats.lists,
            Counted::Watch => &self.stats.watches,
            Counted::Gone => &self.stats.gone,
            Counted::InjectedError => &self.stats.injected_errors,
            Counted::Write => &self.stats.writes,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    #[must_use]
    pub fn stats(&self) -> RequestStats {
        let s = &self.stats;
        RequestStats {
            requests: s.requests.load(Ordering::Relaxed),
            lists: s.lists.load(Ordering::Relaxed),
            watches: s.watches.load(Ordering::Relaxed),
            gone: s.gone.load(Ordering::Relaxed),
            injected_errors: s.injected_errors.load(Ordering::Relaxed),
            writes: s.writes.load(Ordering::Relaxed),
        }
    }

    #[must_use]
    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms.load(Ordering::Relaxed))
    }

    /// Returns once the server is not frozen (at once, normally).
    pub async fn wait_unfrozen(&self) {
        let mut rx = self.frozen.subscribe();
        while *rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// How long the answer to an applied write is held back.
    #[must_use]
    pub fn write_answer_delay(&self) -> Duration {
        Duration::from_millis(self.write_answer_delay_ms.load(Ordering::Relaxed))
    }

    /// Whether this request is one of the injected failures (deterministic sequence).
    pub fn roll_error(&self) -> bool {
        let permille = self.error_permille.load(Ordering::Relaxed);
        if permille == 0 {
            return false;
        }
        let n = self.request_counter.fetch_add(1, Ordering::Relaxed);
        let fail = mix64(self.salt ^ n) % 1000 < u64::from(permille);
        if fail {
            self.count(Counted::InjectedError);
        }
        fail
    }

    /// The status code a kind is forced to answer with, if any.
    #[must_use]
    pub fn kind_code(&self, type_id: TypeId) -> Option<u16> {
        self.kind_codes
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&type_id)
            .copied()
    }

    /// Whether a kind has its `/status` subresource here (its registry entry says so and no
    /// fault took it away).
    #[must_use]
    pub fn has_status(&self, type_id: TypeId) -> bool {
        registry::get(type_id).status_subresource
            && !self
                .no_status
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains(&type_id)
    }

    /// Whether `version` of `group` is hidden by a fault.
    #[must_use]
    pub fn version_hidden(&self, group: &str, version: &str) -> bool {
        self.hidden_versions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&(group.to_string(), version.to_string()))
    }

    /// Whether Prometheus is down (its service proxy answers 503).
    #[must_use]
    pub fn prom_down(&self) -> bool {
        self.prom_down.load(Ordering::SeqCst)
    }

    /// A receiver that changes whenever open watches must re-check [`Self::watch_may_continue`].
    #[must_use]
    pub fn watch_signal(&self) -> watch::Receiver<u64> {
        self.watch_epoch.subscribe()
    }

    /// The current drop epoch, to remember when a watch starts.
    #[must_use]
    pub fn drop_epoch(&self) -> u64 {
        self.drop_epoch.load(Ordering::SeqCst)
    }

    /// Whether a watch of `type_id` started at `started_epoch` may go on.
    #[must_use]
    pub fn watch_may_continue(&self, type_id: TypeId, started_epoch: u64) -> bool {
        self.drop_epoch() == started_epoch && self.kind_code(type_id).is_none()
    }

    fn poke_watches(&self) {
        self.watch_epoch.send_modify(|e| *e += 1);
    }
}

/// The fault handle of one simulated cluster. Cheap to clone.
#[derive(Clone)]
pub struct Faults {
    pub(crate) state: Arc<FaultState>,
    pub(crate) authz: Arc<Authz>,
    cluster: Arc<ClusterState>,
    listeners: Vec<Arc<Listener>>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults")
            .field("cluster", &self.cluster.profile.name)
            .finish_non_exhaustive()
    }
}

fn find_kind(group: &str, resource: &str) -> Result<TypeId, FaultError> {
    registry::find(group, resource).ok_or_else(|| FaultError::UnknownKind {
        group: group.to_string(),
        resource: resource.to_string(),
    })
}

impl Faults {
    pub(crate) fn new(
        state: Arc<FaultState>,
        authz: Arc<Authz>,
        cluster: Arc<ClusterState>,
        listeners: Vec<Arc<Listener>>,
    ) -> Self {
        Self {
            state,
            authz,
            cluster,
            listeners,
        }
    }

    /// What the API server has answered so far.
    #[must_use]
    pub fn stats(&self) -> RequestStats {
        self.state.stats()
    }

    /// Ends every open watch stream.
    pub fn drop_watches(&self) {
        self.state.drop_epoch.fetch_add(1, Ordering::SeqCst);
        self.state.poke_watches();
    }

    /// Forgets the event history: watches from any earlier resourceVersion get 410 Gone.
    pub fn compact(&self) {
        self.cluster.store.compact();
    }

    /// Makes `resource` in `group` answer `code` (403 or 404) to every request, and ends its
    /// open watches.
    pub fn fail_kind(&self, group: &str, resource: &str, code: u16) -> Result<(), FaultError> {
        if code != 403 && code != 404 {
            return Err(FaultError::BadCode(code));
        }
        let id = find_kind(group, resource)?;
        self.state
            .kind_codes
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, code);
        self.state.poke_watches();
        Ok(())
    }

    /// Undoes [`Self::fail_kind`] and [`Self::remove_status_subresource`].
    pub fn restore_kind(&self, group: &str, resource: &str) -> Result<(), FaultError> {
        let id = find_kind(group, resource)?;
        self.state
            .kind_codes
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&id);
        self.state
            .no_status
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&id);
        Ok(())
    }

    /// Makes `resource` in `group` behave like a CRD without a status subresource, as Argo
    /// Rollouts' CRD was before v0.10: `/status` answers 404 and main-resource writes may
    /// change status.
    pub fn remove_status_subresource(&self, group: &str, resource: &str) -> Result<(), FaultError> {
        let id = find_kind(group, resource)?;
        self.state
            .no_status
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id);
        Ok(())
    }

    /// Delays every request (zero turns it off).
    pub fn set_latency(&self, latency: Duration) {
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.state.latency_ms.store(ms, Ordering::Relaxed);
    }

    /// Applies writes at once but holds their answers back (zero turns it off).
    pub fn set_write_answer_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.state
            .write_answer_delay_ms
            .store(ms, Ordering::Relaxed);
    }

    /// Freezes (or thaws) the server: requests and watch events wait, connections stay open.
    pub fn set_frozen(&self, frozen: bool) {
        self.state.frozen.send_replace(frozen);
    }

    /// Makes a share (0.0 to 1.0) of requests fail with 500.
    pub fn set_error_rate(&self, share: f64) -> Result<(), FaultError> {
        if !(0.0..=1.0).contains(&share) {
            return Err(FaultError::BadRate(share));
        }
        // Clamped to 0..=1000 above, so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let permille = (share * 1000.0).round() as u32;
        self.state.error_permille.store(permille, Ordering::Relaxed);
        Ok(())
    }

    /// Takes the cluster down: its listeners close with every connection. Returns once
    /// connections are refused.
    pub async fn down(&self) {
        for l in &self.listeners {
            l.down().await;
        }
    }

    /// Brings the cluster back on the same ports.
    pub async fn up(&self) -> Result<(), FaultError> {
        for l in &self.listeners {
            l.up().await?;
        }
        Ok(())
    }

    pub async fn is_up(&self) -> bool {
        for l in &self.listeners {
            if !l.is_up().await {
                return false;
            }
        }
        true
    }

    /// Takes only Prometheus down: its port closes and the service proxy answers 503.
    pub async fn prom_down(&self) {
        self.state.prom_down.store(true, Ordering::SeqCst);
        if let Some(l) = self.listeners.get(1) {
            l.down().await;
        }
    }

    /// Brings Prometheus back.
    pub async fn prom_up(&self) -> Result<(), FaultError> {
        if let Some(l) = self.listeners.get(1) {
            l.up().await?;
        }
        self.state.prom_down.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Stops serving `version` of `group` (discovery and requests); open watches end.
    pub fn hide_version(&self, group: &str, version: &str) {
        self.state
            .hidden_versions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((group.to_string(), version.to_string()));
        self.state.poke_watches();
    }

    /// Adds an authorization deny rule; returns its id.
    pub fn deny(&self, rule: DenyRule) -> u64 {
        self.authz.add(rule)
    }

    pub fn remove_deny(&self, id: u64) -> Result<(), FaultError> {
        if self.authz.remove(id) {
            Ok(())
        } else {
            Err(FaultError::UnknownRule(id))
        }
    }

    pub fn clear_denies(&self) {
        self.authz.clear();
    }

    /// Back to a healthy cluster: up, no latency, no errors, no failed kinds, no deny rules.
    pub async fn reset(&self) -> Result<(), FaultError> {
        self.set_latency(Duration::ZERO);
        self.set_write_answer_delay(Duration::ZERO);
        self.set_frozen(false);
        self.state.error_permille.store(0, Ordering::Relaxed);
        self.state
            .kind_codes
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        self.state
            .no_status
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        self.authz.clear();
        self.state
            .hidden_versions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        self.prom_up().await?;
        self.up().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_rate_is_roughly_the_share() {
        let s = FaultState::new(3);
        s.error_permille.store(300, Ordering::Relaxed);
        let failed = (0..10_000).filter(|_| s.roll_error()).count();
        assert!((2_500..3_500).contains(&failed), "{failed}");
        s.error_permille.store(0, Ordering::Relaxed);
        assert!(!(0..1000).any(|_| s.roll_error()));
    }
}
