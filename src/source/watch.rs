//! One generic watch loop for every kind: list+watch with kube-runtime's watcher, slimmed
//! objects (managed fields and unneeded annotations dropped) into a reflector store, the
//! state reported on every transition, backoff between attempts, and a fresh list after any
//! failure — so after an outage the store converges to the server and the state says "live"
//! only once it has.
//!
//! Objects that fail to parse become `Err` entries (via `DeserializeGuard`) that panes show
//! as error rows; one malformed object never stops the stream.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use kube::Api;
use kube::core::DeserializeGuard;
use kube::runtime::reflector::{Store, store::Writer};
use kube::runtime::watcher::{self, Event};
use tokio::sync::watch as tokio_watch;
use tokio_util::sync::CancellationToken;

use super::discovery::Discovery;
use super::{SourceCell, SourceState, Watched};

/// A kind's store and state on one cluster.
pub struct KindSource<K: Watched> {
    pub store: Store<DeserializeGuard<K>>,
    pub cell: Arc<SourceCell>,
}

impl<K: Watched> KindSource<K> {
    /// A snapshot of the objects (cheap: reference-counted).
    #[must_use]
    pub fn objects(&self) -> Vec<Arc<DeserializeGuard<K>>> {
        self.store.state()
    }

    #[must_use]
    pub fn state(&self) -> SourceState {
        self.cell.state()
    }

    /// A copy of one readable object.
    #[must_use]
    pub fn get(&self, namespace: &str, name: &str) -> Option<K> {
        self.store.state().iter().find_map(|g| match &g.0 {
            Ok(o)
                if o.meta().namespace.as_deref() == Some(namespace)
                    && o.meta().name.as_deref() == Some(name) =>
            {
                Some(o.clone())
            }
            _ => None,
        })
    }

    /// Copies of the readable objects in one namespace (small sets, for one view).
    #[must_use]
    pub fn in_namespace(&self, namespace: &str) -> Vec<K> {
        self.store
            .state()
            .iter()
            .filter_map(|g| g.0.as_ref().ok())
            .filter(|o| o.meta().namespace.as_deref() == Some(namespace))
            .cloned()
            .collect()
    }

    /// Copies of every readable object.
    #[must_use]
    pub fn all(&self) -> Vec<K> {
        self.store
            .state()
            .iter()
            .filter_map(|g| g.0.as_ref().ok())
            .cloned()
            .collect()
    }

    #[must_use]
    pub fn revision(&self) -> u64 {
        self.cell.revision()
    }
}

/// What a watch loop needs from its cluster.
pub struct WatchContext {
    /// Stamped (unix ms) whenever the stream delivers anything.
    pub activity: Arc<std::sync::atomic::AtomicI64>,
    pub client: kube::Client,
    pub namespace: Option<String>,
    /// A field selector (scoped watches, e.g. the events of one object).
    pub fields: Option<String>,
    pub discovery: tokio_watch::Receiver<Discovery>,
    pub refresh: tokio_watch::Receiver<u64>,
    pub cancel: CancellationToken,
}

/// Exponential backoff with jitter: 1 s doubling to 30 s.
#[derive(Debug, Default)]
struct Backoff {
    attempt: u32,
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let base = 1u64 << self.attempt.min(5);
        self.attempt = self.attempt.saturating_add(1);
        let secs = base.min(30) as f64;
        // ±20% so many watches that failed together do not retry together.
        let jitter = 0.8 + 0.4 * (f64::from(Utc::now().timestamp_subsec_nanos() % 1000) / 1000.0);
        Duration::from_secs_f64(secs * jitter)
    }

    fn reset(&mut self) {
        self.attempt = 0;
    }
}

enum Failure {
    Forbidden(String),
    NotFound(String),
    Transient(String),
}

fn classify(e: &watcher::Error) -> Failure {
    let api = match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => Some(s.as_ref()),
        watcher::Error::WatchError(s) => Some(s.as_ref()),
        _ => None,
    };
    match api {
        Some(s) if s.code == 403 => Failure::Forbidden(s.message.clone()),
        Some(s) if s.code == 404 => Failure::NotFound(s.message.clone()),
        Some(s) => Failure::Transient(format!("HTTP {}: {}", s.code, s.message)),
        None => Failure::Transient(short_error(e)),
    }
}

/// The innermost cause of an error, which is usually the one a human needs ("Connection
/// refused"), without the OS error number.
#[must_use]
pub fn short_error(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    // Some errors (YAML parsers) add a multi-line excerpt; the first line says it all.
    let text = cur
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let text = match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    text.chars().take(120).collect()
}

/// Whether the cluster serves `K` at `K`'s version, and no newer version that replaces it
/// (see [`Watched::SUPERSEDED_BY`]); `None` while discovery has not answered.
fn group_present<K: Watched>(discovery: &Discovery) -> Option<bool> {
    let group = K::group(&());
    if group.is_empty() {
        return Some(true);
    }
    let plural = K::plural(&());
    let superseded = K::SUPERSEDED_BY
        .iter()
        .any(|v| discovery.serves_version(&plural, &group, v) == Some(true));
    if superseded {
        return Some(false);
    }
    discovery.serves_version(&plural, &group, &K::version(&()))
}

/// How long a custom resource's watch waits for discovery before trying anyway.
const DISCOVERY_PATIENCE: Duration = Duration::from_secs(10);

/// Runs until cancelled: watch, report, back off, relist. A panic inside the loop (a bug, or
/// a library's) becomes an error state on this source, which starts again after a pause; it
/// never takes the UI down.
pub async fn run<K: Watched>(
    mut ctx: WatchContext,
    mut writer: Writer<DeserializeGuard<K>>,
    cell: Arc<SourceCell>,
) {
    use futures::FutureExt;
    loop {
        let attempt = std::panic::AssertUnwindSafe(watch_loop::<K>(&mut ctx, &mut writer, &cell));
        if attempt.catch_unwind().await.is_ok() {
            return;
        }
        let retry = Duration::from_secs(5);
        cell.set_state(SourceState::Error {
            reason: "internal error in this watch (see the log); restarting".into(),
            retry_at: Utc::now() + chrono::Duration::from_std(retry).unwrap_or_default(),
        });
        tokio::select! {
            () = ctx.cancel.cancelled() => return,
            () = tokio::time::sleep(retry) => {}
        }
    }
}

async fn watch_loop<K: Watched>(
    ctx: &mut WatchContext,
    writer: &mut Writer<DeserializeGuard<K>>,
    cell: &Arc<SourceCell>,
) {
    let mut backoff = Backoff::default();
    let mut had_data = false;
    // A type that a newer version may replace starts only once discovery says which one the
    // cluster serves, and stops if that changes, so the same objects are never listed twice.
    let gated = !K::SUPERSEDED_BY.is_empty();
    // A custom resource waits for discovery too: a cluster without the add-on would only
    // answer 404, once per kind, before discovery could say "not installed".
    // (A plain custom resource tries anyway if discovery stays silent for long: a cluster
    // whose discovery is broken must still show what it can.)
    let mut wait_for_discovery = gated || !K::group(&()).is_empty();
    loop {
        // Don't hammer a cluster for an API group it does not serve (or serves at a newer
        // version another type reads).
        let present = group_present::<K>(&ctx.discovery.borrow_and_update());
        if present == Some(false) || (wait_for_discovery && present.is_none()) {
            if present == Some(false) {
                cell.set_state(SourceState::NotInstalled);
            }
            let patience = if present.is_none() && !gated {
                DISCOVERY_PATIENCE
            } else {
                // Only discovery decides (it changes when the cluster starts serving it).
                Duration::from_secs(86_400)
            };
            tokio::select! {
                () = ctx.cancel.cancelled() => return,
                r = ctx.discovery.changed() => if r.is_err() { return },
                () = tokio::time::sleep(patience) => wait_for_discovery = false,
            }
            continue;
        }
        let api: Api<DeserializeGuard<K>> = K::api(ctx.client.clone(), ctx.namespace.as_deref());
        let mut config = watcher::Config::default();
        if let Some(f) = &ctx.fields {
            config = config.fields(f);
        }
        let stream =
            watcher::watcher(api, config).map(|r| r.map(|ev| ev.modify(slim_guarded::<K>)));
        let mut stream = std::pin::pin!(stream);
        let failure = loop {
            tokio::select! {
                () = ctx.cancel.cancelled() => return,
                _ = ctx.refresh.changed() => break None,
                r = ctx.discovery.changed(), if gated => {
                    if r.is_err() {
                        return;
                    }
                    if group_present::<K>(&ctx.discovery.borrow_and_update()) == Some(false) {
                        break None;
                    }
                }
                item = stream.next() => match item {
                    Some(Ok(ev)) => {
                        ctx.activity.store(
                            Utc::now().timestamp_millis(),
                            std::sync::atomic::Ordering::Relaxed,
                        );
                        let live_update = matches!(ev, Event::Apply(_) | Event::Delete(_));
                        let init_done = matches!(ev, Event::InitDone);
                        if matches!(ev, Event::Init) && !had_data {
                            cell.set_state(SourceState::Syncing);
                        }
                        writer.apply_watcher_event(&ev);
                        if init_done {
                            had_data = true;
                            backoff.reset();
                            cell.set_state(SourceState::Live { since: Utc::now() });
                            cell.bump();
                        } else if live_update {
                            cell.bump();
                        }
                    }
                    Some(Err(e)) => break Some(classify(&e)),
                    None => break None,
                },
            }
        };
        let Some(failure) = failure else {
            continue;
        };
        let now = Utc::now();
        let wait = match failure {
            Failure::Forbidden(reason) => {
                cell.set_state(SourceState::Forbidden { reason });
                Duration::from_secs(60)
            }
            Failure::NotFound(reason) if !K::group(&()).is_empty() => {
                // The group may have just been removed; discovery will tell.
                log::debug!("{}: not served ({reason})", K::kind(&()));
                cell.set_state(SourceState::NotInstalled);
                Duration::from_secs(30)
            }
            Failure::NotFound(reason) | Failure::Transient(reason) => {
                let wait = backoff.next();
                let retry_at = now + chrono::Duration::from_std(wait).unwrap_or_default();
                let state = match cell.state() {
                    // Keep the moment data stopped being current.
                    SourceState::Stale { since, .. } => SourceState::Stale {
                        since,
                        retry_at,
                        reason,
                    },
                    _ if had_data => SourceState::Stale {
                        since: now,
                        retry_at,
                        reason,
                    },
                    _ => SourceState::Error { reason, retry_at },
                };
                cell.set_state(state);
                wait
            }
        };
        tokio::select! {
            () = ctx.cancel.cancelled() => return,
            _ = ctx.refresh.changed() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

fn slim_guarded<K: Watched>(obj: &mut DeserializeGuard<K>) {
    match &mut obj.0 {
        Ok(o) => o.slim(),
        Err(invalid) => crate::k8s::slim_metadata(&mut invalid.metadata, &[]),
    }
}

/// Fills a store without a cluster (tests, snapshots): the same events a watch would send.
pub fn fill_store<K: Watched>(writer: &mut Writer<DeserializeGuard<K>>, objects: Vec<K>) {
    writer.apply_watcher_event(&Event::Init);
    for o in objects {
        writer.apply_watcher_event(&Event::InitApply(DeserializeGuard(Ok(o))));
    }
    writer.apply_watcher_event(&Event::InitDone);
}
