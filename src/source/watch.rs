//! One generic watch loop for every kind: list (in pages, decoded straight into the slim type,
//! [`super::wire`]), then watch from the list's version, re-watching where the last one ended
//! and listing again only after a failure or a 410 Gone — so after an outage the store
//! converges to the server and the state says "live" only once it has. The state is reported
//! on every transition, with backoff between failed attempts.
//!
//! Watches are long (15–20 min, the server's bookmarks keep them from looking idle), so an
//! idle cluster costs a request per kind every quarter of an hour; whether the cluster is
//! still there is the monitor's business ([`crate::cluster::monitor`]), told by the activity
//! stamp every received line updates. Startup is bounded twice: a few lists at a time per
//! cluster (its API server is not flooded), and a few list bodies held at a time overall
//! (memory) — taken only once the server has answered, so a cluster that does not answer
//! never holds up the others.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::Utc;
use http_body_util::BodyExt;
use kube::core::params::{ListParams, WatchParams};
use kube::core::{DeserializeGuard, Request};
use tokio::sync::{Semaphore, watch as tokio_watch};
use tokio_util::sync::CancellationToken;

use super::discovery::Discovery;
use super::store::{Relist, Store};
use super::wire::{self, WatchEvent};
use super::{SourceCell, SourceState, Watched};

/// Objects per list page. Measured at 10,000 pods on loopback (`benches/objects.rs`,
/// `startup`): larger pages save round trips but hold more text and objects at once.
pub const LIST_PAGE: u32 = 500;
/// Lists of one cluster under way at once.
pub const LIST_CONCURRENCY: usize = 4;
/// List bodies (one page each) being read and decoded at once, across every cluster.
const BODIES_AT_ONCE: usize = 8;
static BODIES: Semaphore = Semaphore::const_new(BODIES_AT_ONCE);
/// A watch asks the server to end it after this long (plus up to a third more, so watches
/// started together do not end together).
const WATCH_SECS: u32 = 15 * 60;
/// A watch that delivered nothing at all (not even a bookmark) for this long is re-opened.
const WATCH_IDLE: Duration = Duration::from_secs(WATCH_SECS as u64 * 4 / 3 + 60);

/// A kind's store and state on one cluster.
pub struct KindSource<K: Watched> {
    pub store: Store<K>,
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

    /// A copy of one readable object (`namespace` is ignored for cluster-scoped kinds when
    /// empty).
    #[must_use]
    pub fn get(&self, namespace: &str, name: &str) -> Option<K> {
        let ns = (!namespace.is_empty()).then_some(namespace);
        self.store
            .get(ns, name)
            .and_then(|g| g.0.as_ref().ok().cloned())
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
    pub conn: Conn,
    pub discovery: tokio_watch::Receiver<Discovery>,
    pub refresh: tokio_watch::Receiver<u64>,
    pub cancel: CancellationToken,
}

/// How a watch reaches its cluster.
pub struct Conn {
    /// Stamped (unix ms) whenever the stream delivers anything.
    pub activity: Arc<AtomicI64>,
    pub client: kube::Client,
    pub namespace: Option<String>,
    /// A field selector (scoped watches, e.g. the events of one object).
    pub fields: Option<String>,
    /// The cluster's bound on lists under way ([`LIST_CONCURRENCY`]).
    pub lists: Arc<Semaphore>,
}

impl Conn {
    fn stamp(&self) {
        self.activity
            .store(Utc::now().timestamp_millis(), Ordering::Relaxed);
    }
}

/// Exponential backoff with jitter: 1 s doubling to 30 s.
#[derive(Debug, Default)]
struct Backoff {
    attempt: u32,
}

/// A number in `0..1` that differs between calls (jitter; no need for a real generator).
fn jitter() -> f64 {
    f64::from(Utc::now().timestamp_subsec_nanos() % 1000) / 1000.0
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let base = 1u64 << self.attempt.min(5);
        self.attempt = self.attempt.saturating_add(1);
        let secs = base.min(30) as f64;
        // ±20% so many watches that failed together do not retry together.
        Duration::from_secs_f64(secs * (0.8 + 0.4 * jitter()))
    }

    fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// Why a list or watch stopped.
#[derive(Debug)]
enum Failure {
    Forbidden(String),
    NotFound(String),
    /// The version asked for is too old: list again, at once.
    Gone,
    Transient(String),
}

fn from_status(code: u16, message: String) -> Failure {
    match code {
        403 => Failure::Forbidden(message),
        404 => Failure::NotFound(message),
        410 => Failure::Gone,
        _ => Failure::Transient(format!("HTTP {code}: {message}")),
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

/// Sends `req`; an answer other than 2xx becomes a [`Failure`] from its `Status`.
async fn send(
    client: &kube::Client,
    req: http::Request<Vec<u8>>,
) -> Result<http::Response<kube::client::Body>, Failure> {
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .map_err(|e| Failure::Transient(short_error(&e)))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Status {
        message: String,
    }
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let message = serde_json::from_slice::<Status>(&body)
        .map(|s| s.message)
        .ok()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
    Err(from_status(status.as_u16(), message))
}

/// Lists every object, page by page, into a new store content; returns it and the version
/// to watch from.
async fn list_all<K: Watched>(
    ctx: &Conn,
    req: &Request,
    page_size: u32,
) -> Result<(Relist<K>, String), Failure> {
    let _turn = ctx.lists.acquire().await;
    let mut relist = Relist::default();
    let mut params = ListParams::default();
    if page_size > 0 {
        params = params.limit(page_size);
    }
    if let Some(f) = &ctx.fields {
        params = params.fields(f);
    }
    loop {
        let http = req
            .list(&params)
            .map_err(|e| Failure::Transient(e.to_string()))?;
        let resp = send(&ctx.client, http).await?;
        // The server answered: from here on this is memory and CPU, bounded overall.
        let _body = BODIES.acquire().await;
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| Failure::Transient(short_error(&e)))?
            .to_bytes();
        ctx.stamp();
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| Failure::Transient(format!("list is not UTF-8: {e}")))?;
        let page = wire::decode_list::<K>(text).map_err(|e| Failure::Transient(e.to_string()))?;
        drop(bytes);
        relist.reserve(page.items.len());
        for o in page.items {
            relist.push(o);
        }
        match page.continue_token {
            Some(c) => params.continue_token = Some(c),
            None => return Ok((relist, page.resource_version)),
        }
    }
}

/// Lists every object of `K` on the cluster once, `page_size` objects a page (0: one page),
/// the way a watch's first list does, into `store`; returns how many objects it holds. (For
/// benchmarks choosing the page size.)
pub async fn list_into<K: Watched>(
    client: kube::Client,
    store: &Store<K>,
    page_size: u32,
) -> Result<usize, String> {
    let conn = Conn {
        activity: Arc::new(AtomicI64::new(0)),
        client: client.clone(),
        namespace: None,
        fields: None,
        lists: Arc::new(Semaphore::new(1)),
    };
    let api = K::api(client, None);
    let (relist, _) = list_all::<K>(&conn, &Request::new(api.resource_url()), page_size)
        .await
        .map_err(|f| format!("{f:?}"))?;
    let n = relist.len();
    store.replace(relist);
    Ok(n)
}

/// How a watch request ended.
enum WatchEnd {
    /// The server closed it (its timeout) or it went idle: watch again from where it was.
    Closed,
    Failed(Failure),
}

/// Watches from `rv`, applying events to the store, until the stream ends.
async fn watch_once<K: Watched>(
    ctx: &Conn,
    req: &Request,
    source: &KindSource<K>,
    rv: &mut String,
) -> WatchEnd {
    let timeout = WATCH_SECS + (f64::from(WATCH_SECS / 3) * jitter()) as u32;
    let mut params = WatchParams::default().timeout(timeout);
    if let Some(f) = &ctx.fields {
        params = params.fields(f);
    }
    let http = match req.watch(&params, rv) {
        Ok(h) => h,
        Err(e) => return WatchEnd::Failed(Failure::Transient(e.to_string())),
    };
    let mut body = match send(&ctx.client, http).await {
        Ok(r) => r.into_body(),
        Err(f) => return WatchEnd::Failed(f),
    };
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let frame = match tokio::time::timeout(WATCH_IDLE, body.frame()).await {
            Err(_) | Ok(None) => return WatchEnd::Closed,
            Ok(Some(Err(e))) => return WatchEnd::Failed(Failure::Transient(short_error(&e))),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        ctx.stamp();
        buf.extend_from_slice(&data);
        let mut start = 0;
        while let Some(end) = buf[start..].iter().position(|b| *b == b'\n') {
            let line = &buf[start..start + end];
            start += end + 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if let Some(f) = apply_line(line, source, rv) {
                return WatchEnd::Failed(f);
            }
        }
        buf.drain(..start);
    }
}

/// Applies one watch event; a `Some` failure ends the watch.
fn apply_line<K: Watched>(line: &[u8], source: &KindSource<K>, rv: &mut String) -> Option<Failure> {
    let text = std::str::from_utf8(line).ok()?;
    let event = match wire::decode_event::<K>(text) {
        Ok(e) => e,
        Err(e) => {
            log::warn!("{}: unreadable watch event: {e}", K::kind(&()));
            return None;
        }
    };
    let mut seen = |v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            v.clone_into(rv);
        }
    };
    match event {
        WatchEvent::Applied(obj) => {
            let meta = match &obj.0 {
                Ok(o) => o.meta(),
                Err(e) => &e.metadata,
            };
            seen(meta.resource_version.as_deref());
            source.store.apply(obj);
            source.cell.bump();
        }
        WatchEvent::Deleted {
            namespace,
            name,
            resource_version,
        } => {
            seen(resource_version.as_deref());
            source.store.delete(namespace.as_deref(), &name);
            source.cell.bump();
        }
        WatchEvent::Bookmark { resource_version } => seen(resource_version.as_deref()),
        WatchEvent::Error { code, message } => return Some(from_status(code, message)),
    }
    None
}

/// Runs until cancelled: watch, report, back off, relist. A panic inside the loop (a bug, or
/// a library's) becomes an error state on this source, which starts again after a pause; it
/// never takes the UI down.
pub async fn run<K: Watched>(mut ctx: WatchContext, source: Arc<KindSource<K>>) {
    use futures::FutureExt;
    loop {
        let attempt = std::panic::AssertUnwindSafe(watch_loop::<K>(&mut ctx, &source));
        if attempt.catch_unwind().await.is_ok() {
            return;
        }
        let retry = Duration::from_secs(5);
        source.cell.set_state(SourceState::Error {
            reason: "internal error in this watch (see the log); restarting".into(),
            retry_at: Utc::now() + chrono::Duration::from_std(retry).unwrap_or_default(),
        });
        tokio::select! {
            () = ctx.cancel.cancelled() => return,
            () = tokio::time::sleep(retry) => {}
        }
    }
}

async fn watch_loop<K: Watched>(ctx: &mut WatchContext, source: &KindSource<K>) {
    let cell = &source.cell;
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
        let api = K::api(ctx.conn.client.clone(), ctx.conn.namespace.as_deref());
        let req = Request::new(api.resource_url());
        if !had_data {
            cell.set_state(SourceState::Syncing);
        }
        let listed = tokio::select! {
            () = ctx.cancel.cancelled() => return,
            _ = ctx.refresh.changed() => continue,
            r = list_all::<K>(&ctx.conn, &req, LIST_PAGE) => r,
        };
        let failure = match listed {
            Ok((relist, version)) => {
                let objects = relist.len();
                source.store.replace(relist);
                super::trim::after_list(objects);
                had_data = true;
                backoff.reset();
                cell.set_state(SourceState::Live { since: Utc::now() });
                cell.bump();
                let mut rv = version;
                loop {
                    let end = tokio::select! {
                        () = ctx.cancel.cancelled() => return,
                        _ = ctx.refresh.changed() => break None,
                        r = ctx.discovery.changed(), if gated => {
                            if r.is_err() {
                                return;
                            }
                            if group_present::<K>(&ctx.discovery.borrow_and_update()) == Some(false) {
                                break None;
                            }
                            continue;
                        }
                        end = watch_once(&ctx.conn, &req, source, &mut rv) => end,
                    };
                    match end {
                        WatchEnd::Closed => {}
                        WatchEnd::Failed(f) => break Some(f),
                    }
                }
            }
            Err(f) => Some(f),
        };
        let Some(failure) = failure else {
            continue;
        };
        let now = Utc::now();
        let wait = match failure {
            // History moved past us (or a continue token expired): list again, now.
            Failure::Gone => continue,
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

/// Fills a store without a cluster (tests, snapshots): what a first list would store.
pub fn fill_store<K: Watched>(store: &Store<K>, objects: Vec<K>) {
    let mut relist = Relist::default();
    for o in objects {
        relist.push(DeserializeGuard(Ok(o)));
    }
    store.replace(relist);
}
