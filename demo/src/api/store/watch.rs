//! Object store: the resourceVersion counter, the event history that resumed watches replay,
//! and the broadcast that fans each committed change out to live watches (see store.rs).

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

use super::{
    ApiError, ApiResult, EventType, Inner, ObjKey, ObjectStore, StoredObject, Subscription,
    WatchEvent, index, list_locked,
};
use crate::api::registry::TypeId;

impl ObjectStore {
    #[must_use]
    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    /// Sets how many past events are kept for watches that resume from a resourceVersion.
    pub fn set_history_capacity(&self, cap: usize) {
        let mut inner = self.lock();
        inner.history_cap = cap.max(1);
        trim_history(&mut inner);
    }

    /// Forgets all past events: a watch from any resourceVersion before now gets 410 Gone.
    pub fn compact(&self) {
        let mut inner = self.lock();
        inner.history.clear();
        inner.compacted_rv = inner.rv;
    }

    /// The objects of a kind (as [`Self::list`]) and a receiver for every later change, taken
    /// under one lock so that no change falls between them. This starts a watch without a
    /// resourceVersion, which must never be refused as too old: reading the version first and
    /// subscribing from it later could find that version already trimmed from the history
    /// when controllers write fast and the history is short.
    #[must_use]
    pub fn list_and_subscribe(
        &self,
        type_id: TypeId,
        ns: Option<&str>,
    ) -> (
        Vec<Arc<StoredObject>>,
        u64,
        broadcast::Receiver<Arc<WatchEvent>>,
    ) {
        let inner = self.lock();
        // Subscribed while holding the lock: every later commit (which needs it) reaches `rx`.
        let rx = self.events.subscribe();
        let items = list_locked(&inner, type_id, ns);
        (items, inner.rv, rx)
    }

    /// Subscribes to changes. For a resumed watch use [`Self::subscribe_from`].
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<WatchEvent>> {
        self.events.subscribe()
    }

    /// Atomically returns the events after `rv` and a receiver for everything later, or
    /// 410 Gone when `rv` is older than the retained history.
    pub fn subscribe_from(&self, rv: u64) -> ApiResult<Subscription> {
        let inner = self.lock();
        if rv < inner.compacted_rv {
            return Err(ApiError::gone(format!(
                "too old resource version: {rv} ({})",
                inner.compacted_rv
            )));
        }
        let rx = self.events.subscribe();
        let start = inner.history.partition_point(|e| e.rv <= rv);
        let replay = inner.history.iter().skip(start).cloned().collect();
        Ok((replay, rx))
    }

    pub(super) fn remove_locked(
        &self,
        inner: &mut Inner,
        type_id: TypeId,
        key: &ObjKey,
    ) -> Option<Value> {
        let current = inner.objects[type_id].remove(key)?;
        inner.rv += 1;
        let rv = inner.rv;
        let mut value = current.value();
        value["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        let tombstone = Arc::new(index(type_id, key.clone(), rv, &value));
        self.publish(
            inner,
            WatchEvent {
                rv,
                type_id,
                kind: EventType::Deleted,
                object: tombstone,
                previous: Some(current),
            },
        );
        Some(value)
    }

    pub(super) fn commit(
        &self,
        inner: &mut Inner,
        type_id: TypeId,
        key: ObjKey,
        mut obj: Value,
        kind: EventType,
        previous: Option<Arc<StoredObject>>,
    ) -> Arc<StoredObject> {
        inner.rv += 1;
        let rv = inner.rv;
        obj["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        let stored = Arc::new(index(type_id, key.clone(), rv, &obj));
        inner.objects[type_id].insert(key, stored.clone());
        self.publish(
            inner,
            WatchEvent {
                rv,
                type_id,
                kind,
                object: stored.clone(),
                previous,
            },
        );
        stored
    }

    fn publish(&self, inner: &mut Inner, event: WatchEvent) {
        let event = Arc::new(event);
        inner.history.push_back(event.clone());
        trim_history(inner);
        // No receivers is normal (nobody watching yet).
        let _ = self.events.send(event);
    }
}

pub(super) fn trim_history(inner: &mut Inner) {
    while inner.history.len() > inner.history_cap {
        if let Some(e) = inner.history.pop_front() {
            inner.compacted_rv = e.rv;
        }
    }
}
