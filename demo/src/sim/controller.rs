//! An event-driven reconcile loop shared by the simulated controllers.
//!
//! A [`Reconciler`] maps store events to keys (for an owning kind, [`OwnerIndex`] maps a
//! child's event to its owner's key), and reconciles one key at a time; reconciling
//! returns when it wants to look at that key again (a pod becoming ready, a backup finishing),
//! which replaces any earlier timer for the key, so the state in the object decides. Missed
//! events (a lagging broadcast receiver) trigger a full resync, as an informer relist does.
//! Work is done in short synchronous steps with a yield every few keys; nothing is held across
//! an `.await`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::ClusterState;
use crate::api::registry::TypeId;
use crate::api::store::{EventType, ObjKey, WatchEvent};

/// What a controller reconciles: a kind and an object key within it.
pub type Key = (TypeId, ObjKey);

/// Builds a [`Key`].
#[must_use]
pub fn key(type_id: TypeId, ns: &str, name: &str) -> Key {
    (type_id, ObjKey::new(ns, name))
}

/// Keys waiting to be reconciled (each at most once), plus keys asked for after a delay.
#[derive(Debug, Default)]
pub struct Queue {
    order: VecDeque<Key>,
    queued: HashSet<Key>,
    delayed: Vec<(Key, Duration)>,
}

impl Queue {
    /// Queues a key for reconciling now.
    pub fn push(&mut self, key: Key) {
        if self.queued.insert(key.clone()) {
            self.order.push_back(key);
        }
    }

    /// Queues every stored object of a kind, in `ns` or in all namespaces (a resync).
    pub fn push_all(&mut self, state: &ClusterState, type_id: TypeId, ns: Option<&str>) {
        for o in state.store.list(type_id, ns).0 {
            self.push((type_id, o.key.clone()));
        }
    }

    /// Queues a key for reconciling after `delay`, unless it is already due sooner.
    pub fn later(&mut self, key: Key, delay: Duration) {
        self.delayed.push((key, delay));
    }

    fn pop(&mut self) -> Option<Key> {
        let key = self.order.pop_front()?;
        self.queued.remove(&key);
        Some(key)
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.order.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// One simulated controller.
pub trait Reconciler: Send + 'static {
    /// Queues every key worth a look: at start and after missed events.
    fn resync(&mut self, state: &ClusterState, queue: &mut Queue);

    /// Queues the keys an event concerns (often none).
    fn on_event(&mut self, state: &ClusterState, event: &WatchEvent, queue: &mut Queue);

    /// Moves one object towards its desired state. `Some(d)`: look again after `d` (real
    /// time, already paced); this replaces any earlier timer for the key.
    fn reconcile(&mut self, state: &ClusterState, key: &Key) -> Option<Duration>;
}

/// The owners of one kind by uid, so that an event about an object they own (a child whose
/// first `ownerReference` names one) queues the owner, as an informer's owner index does.
#[derive(Debug, Default)]
pub struct OwnerIndex {
    by_uid: HashMap<String, ObjKey>,
}

impl OwnerIndex {
    /// Re-indexes every stored `owner` object and queues each.
    pub fn resync(&mut self, state: &ClusterState, owner: TypeId, queue: &mut Queue) {
        self.by_uid.clear();
        for o in state.store.list(owner, None).0 {
            self.by_uid.insert(o.uid.clone(), o.key.clone());
            queue.push((owner, o.key.clone()));
        }
    }

    /// Follows `owner` objects as they come and go (queuing a changed one), and queues the
    /// owner of a changed `child` object.
    pub fn on_event(&mut self, ev: &WatchEvent, owner: TypeId, child: TypeId, queue: &mut Queue) {
        if ev.type_id == owner {
            if ev.kind == EventType::Deleted {
                self.by_uid.remove(&ev.object.uid);
            } else {
                self.by_uid
                    .insert(ev.object.uid.clone(), ev.object.key.clone());
                queue.push((owner, ev.object.key.clone()));
            }
        } else if ev.type_id == child
            && let Some(key) = ev
                .object
                .owner_uids
                .first()
                .and_then(|u| self.by_uid.get(u))
        {
            queue.push((owner, key.clone()));
        }
    }
}

/// Per-key timers; a later `set` for a key replaces the earlier one.
#[derive(Debug, Default)]
struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64, Key)>>,
    /// Live timer per key: its sequence number and deadline.
    due: HashMap<Key, (u64, Instant)>,
    seq: u64,
}

impl Timers {
    fn set(&mut self, key: Key, at: Option<Instant>) {
        match at {
            None => {
                self.due.remove(&key);
            }
            Some(at) => {
                self.seq += 1;
                self.due.insert(key.clone(), (self.seq, at));
                self.heap.push(Reverse((at, self.seq, key)));
            }
        }
    }

    /// Sets a timer only when none is due sooner.
    fn set_if_sooner(&mut self, key: Key, at: Instant) {
        if self.due.get(&key).is_none_or(|(_, t)| *t > at) {
            self.set(key, Some(at));
        }
    }

    /// The next live deadline, dropping cancelled entries from the top of the heap.
    fn next(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, seq, key))) = self.heap.peek() {
            if self.due.get(key).is_some_and(|(s, _)| s == seq) {
                return Some(*at);
            }
            self.heap.pop();
        }
        None
    }

    fn pop_due(&mut self, now: Instant, queue: &mut Queue) {
        while let Some(at) = self.next() {
            if at > now {
                break;
            }
            if let Some(Reverse((_, _, key))) = self.heap.pop() {
                self.due.remove(&key);
                queue.push(key);
            }
        }
    }
}

/// How many keys are reconciled between yields to the runtime.
const BATCH: usize = 64;

/// Runs `reconciler` until `shutdown` is cancelled.
pub fn spawn<R: Reconciler>(
    state: &Arc<ClusterState>,
    shutdown: &CancellationToken,
    reconciler: R,
) -> JoinHandle<()> {
    let state = state.clone();
    let shutdown = shutdown.clone();
    tokio::spawn(async move { run(state, shutdown, reconciler).await })
}

enum Received {
    Some,
    Closed,
}

/// Feeds every pending event to the reconciler without waiting.
fn drain<R: Reconciler>(
    state: &ClusterState,
    rx: &mut tokio::sync::broadcast::Receiver<Arc<WatchEvent>>,
    r: &mut R,
    queue: &mut Queue,
) -> Received {
    loop {
        match rx.try_recv() {
            Ok(ev) => r.on_event(state, &ev, queue),
            Err(TryRecvError::Empty) => return Received::Some,
            Err(TryRecvError::Lagged(_)) => r.resync(state, queue),
            Err(TryRecvError::Closed) => return Received::Closed,
        }
    }
}

fn move_delayed(queue: &mut Queue, timers: &mut Timers) {
    let now = Instant::now();
    for (key, delay) in std::mem::take(&mut queue.delayed) {
        timers.set_if_sooner(key, now + delay);
    }
}

async fn run<R: Reconciler>(state: Arc<ClusterState>, shutdown: CancellationToken, mut r: R) {
    // Subscribe before the first resync so no change between the two is missed.
    let mut rx = state.store.subscribe();
    let mut queue = Queue::default();
    let mut timers = Timers::default();
    r.resync(&state, &mut queue);
    loop {
        let mut done = 0usize;
        while let Some(key) = queue.pop() {
            let next = r.reconcile(&state, &key);
            timers.set(key, next.map(|d| Instant::now() + d));
            done += 1;
            if done.is_multiple_of(BATCH) {
                if shutdown.is_cancelled() {
                    return;
                }
                if let Received::Closed = drain(&state, &mut rx, &mut r, &mut queue) {
                    return;
                }
                tokio::task::yield_now().await;
            }
        }
        move_delayed(&mut queue, &mut timers);
        let deadline = timers.next();
        tokio::select! {
            () = shutdown.cancelled() => return,
            ev = rx.recv() => match ev {
                Ok(ev) => r.on_event(&state, &ev, &mut queue),
                Err(RecvError::Lagged(_)) => r.resync(&state, &mut queue),
                Err(RecvError::Closed) => return,
            },
            () = sleep_until(deadline), if deadline.is_some() => {}
        }
        if let Received::Closed = drain(&state, &mut rx, &mut r, &mut queue) {
            return;
        }
        move_delayed(&mut queue, &mut timers);
        timers.pop_due(Instant::now(), &mut queue);
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_dedupes_and_timers_replace() {
        let mut q = Queue::default();
        q.push(key(1, "a", "x"));
        q.push(key(1, "a", "x"));
        q.push(key(1, "a", "y"));
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(), Some(key(1, "a", "x")));

        let mut t = Timers::default();
        let now = Instant::now();
        t.set(key(1, "a", "x"), Some(now + Duration::from_secs(10)));
        t.set(key(1, "a", "x"), Some(now + Duration::from_secs(1)));
        t.set(key(1, "a", "z"), Some(now + Duration::from_secs(5)));
        t.set(key(1, "a", "z"), None);
        assert_eq!(t.next(), Some(now + Duration::from_secs(1)));
        let mut q = Queue::default();
        t.pop_due(now + Duration::from_secs(20), &mut q);
        // The replaced 10 s timer and the cancelled one do not fire.
        assert_eq!(q.len(), 1);
        assert_eq!(t.next(), None);

        t.set(key(1, "a", "x"), Some(now + Duration::from_secs(3)));
        t.set_if_sooner(key(1, "a", "x"), now + Duration::from_secs(8));
        assert_eq!(t.next(), Some(now + Duration::from_secs(3)));
        t.set_if_sooner(key(1, "a", "x"), now + Duration::from_secs(2));
        assert_eq!(t.next(), Some(now + Duration::from_secs(2)));
    }
}
