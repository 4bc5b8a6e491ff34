//! List and watch of the demo API server.
//!
//! **List** pages with `limit`/`continue`, filters with label and field selectors, reports
//! the resourceVersion it is consistent with, and answers as a plain list, a server-side
//! `Table` or a `PartialObjectMetadataList`.
//!
//! **Watch** streams one JSON event per line (`{"type":"ADDED","object":{...}}`), chunked:
//! - `resourceVersion` absent or `"0"`: a synthetic ADDED per current object, then live
//!   events; `N`: every event after N (from the store's history), then live; N older than the
//!   history: one ERROR event carrying a 410 Expired `Status`, then the stream ends (as real
//!   API servers do, so clients re-list).
//! - `sendInitialEvents=true`: ADDED for every current object, then a BOOKMARK annotated
//!   `k8s.io/initial-events-end: "true"`, then live events (streaming lists).
//! - `allowWatchBookmarks`: a BOOKMARK with the current resourceVersion every minute (as
//!   kube-apiserver sends them; [`super::handler::ServerOptions`]).
//! - selectors: an object that stops matching is sent as DELETED, one that starts matching
//!   as ADDED.
//! - `timeoutSeconds` ends the stream; so do the drop-watches fault, a 403/404 fault on the
//!   kind, the cluster going down, and a watcher too slow to keep up with the broadcast
//!   (clients re-watch from their last resourceVersion).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use chrono::Utc;
use futures::StreamExt;
use http::{HeaderValue, Response, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::time::{Instant, Interval};
use tokio_util::sync::CancellationToken;

use super::faults::{Counted, FaultState};
use super::handler::ReqCtx;
use super::paging::ContinueToken;
use super::registry::{ResourceType, TypeId};
use super::routes::Representation;
use super::selectors::{FieldSelector, LabelSelector, Selectors};
use super::status::{self, Body};
use super::store::{ApiError, EventType, StoredObject, WatchEvent};
use super::table::{self, IncludeObject};
use crate::ClusterState;

/// What a list or watch covers and how objects are rendered.
struct Scope {
    type_id: TypeId,
    t: &'static ResourceType,
    /// The requested version; objects are stored at `t.versions[0]`.
    version: String,
    namespace: Option<String>,
    selectors: Selectors,
    repr: Representation,
    include: IncludeObject,
}

impl Scope {
    fn from_request(ctx: &ReqCtx) -> Result<Self, ApiError> {
        Ok(Self {
            type_id: ctx.type_id,
            t: ctx.t,
            version: ctx.path.version.clone(),
            namespace: ctx.path.namespace.clone(),
            selectors: Selectors {
                labels: LabelSelector::parse(ctx.query.get("labelSelector").unwrap_or_default())?,
                fields: FieldSelector::parse(
                    ctx.query.get("fieldSelector").unwrap_or_default(),
                    ctx.t,
                )?,
            },
            repr: ctx.repr,
            include: IncludeObject::parse(ctx.query.get("includeObject")),
        })
    }

    fn api_version(&self) -> String {
        self.t.api_version_for(&self.version)
    }

    fn at_storage_version(&self) -> bool {
        self.version == self.t.versions[0]
    }

    fn covers(&self, obj: &StoredObject) -> bool {
        self.namespace.as_ref().is_none_or(|ns| *ns == obj.key.ns)
    }

    /// The object as JSON bytes at the requested version.
    fn object_bytes(&self, obj: &StoredObject) -> Bytes {
        if self.at_storage_version() {
            return obj.json.clone();
        }
        let mut v = obj.value();
        v["apiVersion"] = Value::String(self.api_version());
        Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
    }

    /// The object as it appears in this scope's representation (list item or event object).
    fn render(&self, obj: &StoredObject, now: chrono::DateTime<Utc>) -> Bytes {
        match self.repr {
            Representation::Object => self.object_bytes(obj),
            Representation::Metadata => Bytes::from(
                serde_json::to_vec(&table::partial_metadata(&obj.value())).unwrap_or_default(),
            ),
            Representation::Table(api_version) => {
                let row = table::row(self.t, &obj.value(), self.include, now);
                let rv = Some(obj.rv.to_string());
                let tbl = table::table(self.t, api_version, vec![row], rv, None, None);
                Bytes::from(serde_json::to_vec(&tbl).unwrap_or_default())
            }
        }
    }
}

/// `GET` of a collection.
pub async fn list(ctx: &ReqCtx) -> Result<Response<Body>, ApiError> {
    let scope = Scope::from_request(ctx)?;
    let limit = match ctx.query.get("limit") {
        None | Some("" | "0") => usize::MAX,
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
    };
    let token = match ctx.query.get("continue") {
        None | Some("") => None,
        Some(t) => Some(ContinueToken::decode(t)?),
    };
    let cluster = ctx.server.cluster.clone();
    // Building a large list is CPU work: keep it off the async worker threads.
    let body =
        tokio::task::spawn_blocking(move || list_body(&cluster, &scope, limit, token.as_ref()))
            .await
            .map_err(|e| ApiError::new(500, "InternalError", format!("list failed: {e}")))?;
    Ok(status::json_bytes(200, body))
}

fn list_body(
    cluster: &ClusterState,
    scope: &Scope,
    limit: usize,
    token: Option<&ContinueToken>,
) -> Bytes {
    let store = &cluster.store;
    // Read before the page: every change after this version is at most replayed, never lost.
    let rv = token.map_or_else(|| store.current_rv(), |t| t.rv);
    let after = token.map(ContinueToken::after);
    let (page, remaining) = store.list_page(
        scope.type_id,
        scope.namespace.as_deref(),
        after.as_ref(),
        limit,
        |o| scope.selectors.matches(o),
    );
    let next = (remaining > 0)
        .then(|| page.last().map(|o| ContinueToken::new(rv, &o.key).encode()))
        .flatten();
    let now = Utc::now();
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some(c) = &next {
        metadata["continue"] = json!(c);
        metadata["remainingItemCount"] = json!(remaining);
    }
    if let Representation::Table(api_version) = scope.repr {
        let rows = page
            .iter()
            .map(|o| table::row(scope.t, &o.value(), scope.include, now))
            .collect();
        let tbl = table::table(
            scope.t,
            api_version,
            rows,
            Some(rv.to_string()),
            next,
            (remaining > 0).then_some(remaining),
        );
        return Bytes::from(serde_json::to_vec(&tbl).unwrap_or_default());
    }
    let (kind, api_version) = match scope.repr {
        Representation::Metadata => (
            "PartialObjectMetadataList".to_string(),
            "meta.k8s.io/v1".to_string(),
        ),
        _ => (format!("{}List", scope.t.kind), scope.api_version()),
    };
    // Splice the stored bytes instead of re-serializing every object.
    let head = json!({"kind": kind, "apiVersion": api_version, "metadata": metadata});
    let head = serde_json::to_vec(&head).unwrap_or_default();
    let mut out = BytesMut::with_capacity(
        head.len() + page.iter().map(|o| o.json.len() + 1).sum::<usize>() + 16,
    );
    // `head` ends with '}': reopen it to append the items.
    out.put_slice(&head[..head.len().saturating_sub(1)]);
    out.put_slice(b",\"items\":[");
    for (i, o) in page.iter().enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        out.put_slice(&scope.render(o, now));
    }
    out.put_slice(b"]}");
    out.freeze()
}

/// One watch event line.
fn event_line(kind: &str, object: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(object.len() + 32);
    out.put_slice(b"{\"type\":\"");
    out.put_slice(kind.as_bytes());
    out.put_slice(b"\",\"object\":");
    out.put_slice(object);
    out.put_slice(b"}\n");
    out.freeze()
}

/// Maps a store event to what this watch sends, if anything.
fn event_for(scope: &Scope, ev: &WatchEvent, now: chrono::DateTime<Utc>) -> Option<Bytes> {
    if ev.type_id != scope.type_id || !scope.covers(&ev.object) {
        return None;
    }
    let now_matches = scope.selectors.matches(&ev.object);
    let kind = match ev.kind {
        EventType::Added => now_matches.then_some("ADDED"),
        EventType::Deleted => now_matches.then_some("DELETED"),
        EventType::Modified => {
            let before = ev
                .previous
                .as_ref()
                .map_or(now_matches, |p| scope.selectors.matches(p));
            match (before, now_matches) {
                (true, true) => Some("MODIFIED"),
                (false, true) => Some("ADDED"),
                (true, false) => Some("DELETED"),
                (false, false) => None,
            }
        }
    }?;
    Some(event_line(kind, &scope.render(&ev.object, now)))
}

fn bookmark_line(scope: &Scope, rv: u64, initial_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let obj =
        json!({"kind": scope.t.kind, "apiVersion": scope.api_version(), "metadata": metadata});
    event_line("BOOKMARK", &serde_json::to_vec(&obj).unwrap_or_default())
}

/// Lines are sent in chunks of about this size (initial events of a big list).
const CHUNK_BYTES: usize = 64 * 1024;

struct WatchStream {
    cluster: Arc<ClusterState>,
    faults: Arc<FaultState>,
    scope: Scope,
    /// Current objects still to send as ADDED.
    initial: VecDeque<Arc<StoredObject>>,
    /// The resourceVersion of the initial-events-end bookmark, when streaming a list.
    initial_end: Option<u64>,
    replay: VecDeque<Arc<WatchEvent>>,
    rx: Option<broadcast::Receiver<Arc<WatchEvent>>>,
    /// A last line to send before ending (the 410 ERROR event).
    final_line: Option<Bytes>,
    deadline: Instant,
    bookmarks: Option<Interval>,
    signal: tokio::sync::watch::Receiver<u64>,
    epoch: u64,
    shutdown: CancellationToken,
    done: bool,
}

impl WatchStream {
    /// The next chunk of the stream, or `None` when it ends; held while the server is frozen.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        let chunk = self.produce().await;
        self.faults.wait_unfrozen().await;
        chunk
    }

    async fn produce(&mut self) -> Option<Bytes> {
        if self.done
            || !self
                .faults
                .watch_may_continue(self.scope.type_id, self.epoch)
        {
            return None;
        }
        let now = Utc::now();
        let mut chunk = BytesMut::new();
        while chunk.len() < CHUNK_BYTES {
            let Some(obj) = self.initial.pop_front() else {
                break;
            };
            if self.scope.selectors.matches(&obj) {
                chunk.put_slice(&event_line("ADDED", &self.scope.render(&obj, now)));
            }
        }
        if self.initial.is_empty()
            && let Some(rv) = self.initial_end.take()
        {
            chunk.put_slice(&bookmark_line(&self.scope, rv, true));
        }
        while chunk.len() < CHUNK_BYTES {
            let Some(ev) = self.replay.pop_front() else {
                break;
            };
            if let Some(line) = event_for(&self.scope, &ev, now) {
                chunk.put_slice(&line);
            }
        }
        if !chunk.is_empty() {
            return Some(chunk.freeze());
        }
        if let Some(line) = self.final_line.take() {
            self.done = true;
            return Some(line);
        }
        self.live().await
    }

    async fn live(&mut self) -> Option<Bytes> {
        loop {
            if !self
                .faults
                .watch_may_continue(self.scope.type_id, self.epoch)
            {
                return None;
            }
            let rx = self.rx.as_mut()?;
            let bookmarks = &mut self.bookmarks;
            let bookmark_tick = async {
                match bookmarks {
                    Some(interval) => {
                        interval.tick().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                // Faults first: once a fault is set, no further event may slip out.
                biased;
                () = self.shutdown.cancelled() => return None,
                changed = self.signal.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                () = tokio::time::sleep_until(self.deadline) => return None,
                () = bookmark_tick => return self.bookmark(),
                received = rx.recv() => match received {
                    Ok(ev) => {
                        // A fault set while this event was published wins over the event.
                        if !self.faults.watch_may_continue(self.scope.type_id, self.epoch) {
                            return None;
                        }
                        if let Some(line) = event_for(&self.scope, &ev, Utc::now()) {
                            return Some(line);
                        }
                    }
                    // Too slow for the broadcast, or the store is gone: end the stream and
                    // let the client re-watch from its last resourceVersion.
                    Err(RecvError::Lagged(_) | RecvError::Closed) => return None,
                },
            }
        }
    }

    /// Flushes events already published, then a bookmark at the store's version: read the
    /// version first, since every event up to it is in the channel by then.
    fn bookmark(&mut self) -> Option<Bytes> {
        if !self
            .faults
            .watch_may_continue(self.scope.type_id, self.epoch)
        {
            return None;
        }
        let rv = self.cluster.store.current_rv();
        let rx = self.rx.as_mut()?;
        let now = Utc::now();
        let mut chunk = BytesMut::new();
        loop {
            match rx.try_recv() {
                Ok(ev) => {
                    if let Some(line) = event_for(&self.scope, &ev, now) {
                        chunk.put_slice(&line);
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Lagged(_) | TryRecvError::Closed) => return None,
            }
        }
        chunk.put_slice(&bookmark_line(&self.scope, rv, false));
        Some(chunk.freeze())
    }
}

/// `GET` of a collection with `watch=1`.
pub fn watch(ctx: &ReqCtx) -> Result<Response<Body>, ApiError> {
    let scope = Scope::from_request(ctx)?;
    let server = &ctx.server;
    let store = &server.cluster.store;
    let q = &ctx.query;
    let send_initial = q.get("sendInitialEvents") == Some("true");
    let timeout = match q.get("timeoutSeconds") {
        None | Some("" | "0") => server.options.default_watch_timeout,
        Some(s) => Duration::from_secs(
            s.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {s:?}")))?,
        ),
    };
    let rv_param = q.get("resourceVersion").unwrap_or_default();
    // Remember the drop epoch before subscribing, so a drop racing with the start ends us.
    let epoch = server.faults.drop_epoch();
    let mut stream = WatchStream {
        cluster: server.cluster.clone(),
        faults: server.faults.clone(),
        initial: VecDeque::new(),
        initial_end: None,
        replay: VecDeque::new(),
        rx: None,
        final_line: None,
        deadline: Instant::now() + timeout,
        bookmarks: q.flag("allowWatchBookmarks").then(|| {
            let period = server.options.bookmark_interval;
            let mut interval = tokio::time::interval_at(Instant::now() + period, period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval
        }),
        signal: server.faults.watch_signal(),
        epoch,
        shutdown: server.shutdown.clone(),
        done: false,
        scope,
    };
    if send_initial || rv_param.is_empty() || rv_param == "0" {
        // Starting from the current state: one atomic snapshot, so this watch cannot be
        // refused as too old however fast the history turns over.
        let (items, rv, rx) =
            store.list_and_subscribe(stream.scope.type_id, stream.scope.namespace.as_deref());
        stream.initial = items.into();
        if send_initial {
            stream.initial_end = Some(rv);
        }
        stream.rx = Some(rx);
    } else {
        let from = rv_param
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv_param:?}")))?;
        match store.subscribe_from(from) {
            Ok((replay, rx)) => {
                stream.replay = replay.into();
                stream.rx = Some(rx);
            }
            Err(gone) => {
                server.faults.count(Counted::Gone);
                let status = serde_json::to_vec(&gone.to_status()).unwrap_or_default();
                stream.final_line = Some(event_line("ERROR", &status));
            }
        }
    }
    let body = futures::stream::unfold(stream, |mut s| async move {
        s.next_chunk().await.map(|chunk| (chunk, s))
    })
    .map(|chunk| Ok::<_, Infallible>(Frame::data(chunk)));
    let mut resp = Response::new(StreamBody::new(body).boxed_unsync());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}
