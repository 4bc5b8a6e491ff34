//! The demo cluster's object store: every object of one simulated cluster, with one
//! resourceVersion counter, an event history for resumable watches, and a broadcast of changes.
//!
//! Objects are kept serialized (compact JSON bytes) plus the few fields that selectors and
//! controllers need, so a `--scale 10000` cluster stays small and a list is a concatenation
//! of stored bytes. The HTTP layer and the simulated controllers both go through this API; it
//! enforces the API server's rules (resourceVersion preconditions, generation on spec change,
//! status-subresource separation, owner garbage collection) in one place.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use super::registry::{self, TypeId};

/// Namespace (empty for cluster-scoped kinds) and name: the identity of an object within a kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjKey {
    pub ns: String,
    pub name: String,
}

impl ObjKey {
    #[must_use]
    pub fn new(ns: &str, name: &str) -> Self {
        Self {
            ns: ns.to_string(),
            name: name.to_string(),
        }
    }
}

/// One stored version of an object.
#[derive(Debug)]
pub struct StoredObject {
    pub type_id: TypeId,
    pub key: ObjKey,
    pub rv: u64,
    pub uid: String,
    /// `metadata.labels`, sorted by key.
    pub labels: Vec<(String, String)>,
    /// UIDs from `metadata.ownerReferences`; the controller owner (if any) first.
    pub owner_uids: Vec<String>,
    /// Values of the kind's extra field selectors (see `ResourceType::field_paths`).
    pub fields: Vec<(&'static str, String)>,
    /// The object as JSON, in the storage version, with `metadata.resourceVersion` = `rv`.
    pub json: Bytes,
}

impl StoredObject {
    /// Parses the stored JSON. Stored bytes are always valid JSON, written by this module.
    #[must_use]
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }

    #[must_use]
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[must_use]
    pub fn field(&self, selector: &str) -> Option<&str> {
        match selector {
            "metadata.name" => Some(&self.key.name),
            "metadata.namespace" => Some(&self.key.ns),
            _ => self
                .fields
                .iter()
                .find(|(k, _)| *k == selector)
                .map(|(_, v)| v.as_str()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// A change, as delivered to watches. `previous` lets a filtered watch turn a MODIFIED that
/// leaves its selector into a DELETED, as the real API server does.
#[derive(Debug)]
pub struct WatchEvent {
    pub rv: u64,
    pub type_id: TypeId,
    pub kind: EventType,
    pub object: Arc<StoredObject>,
    pub previous: Option<Arc<StoredObject>>,
}

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subresource {
    /// The main resource: for kinds with a status subresource, status is kept as stored.
    Main,
    /// `/status`: only `status` changes.
    Status,
    /// The main resource of a kind whose status subresource is switched off (a fault):
    /// everything, status included, is written.
    Whole,
}

/// A patch body, by content type.
#[derive(Debug, Clone)]
pub enum Patch {
    /// `application/merge-patch+json` (RFC 7386).
    Merge(Value),
    /// `application/json-patch+json` (RFC 6902).
    Json(json_patch::Patch),
    /// `application/strategic-merge-patch+json`; see `apply_strategic` for what is supported.
    Strategic(Value),
}

/// An error the API server would return, rendered by the HTTP layer as a `Status` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// (name, group, kind) for `details`.
    pub details: Option<(String, String, String)>,
}

impl ApiError {
    #[must_use]
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn for_object(mut self, type_id: TypeId, name: &str) -> Self {
        let t = registry::get(type_id);
        self.details = Some((name.to_string(), t.group.to_string(), t.plural.to_string()));
        self
    }

    #[must_use]
    pub fn not_found(type_id: TypeId, name: &str) -> Self {
        let what = qualified(type_id);
        Self::new(404, "NotFound", format!("{what} \"{name}\" not found")).for_object(type_id, name)
    }

    #[must_use]
    pub fn conflict(type_id: TypeId, name: &str) -> Self {
        let what = qualified(type_id);
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {what} \"{name}\": the object has been \
                 modified; please apply your changes to the latest version and try again"
            ),
        )
        .for_object(type_id, name)
    }

    #[must_use]
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    #[must_use]
    pub fn invalid(type_id: TypeId, name: &str, message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message).for_object(type_id, name)
    }

    #[must_use]
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// The `Status` object the API server sends for this error.
    #[must_use]
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some((name, group, kind)) = &self.details {
            status["details"] = json!({ "name": name, "group": group, "kind": kind });
        }
        status
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

fn qualified(type_id: TypeId) -> String {
    let t = registry::get(type_id);
    if t.group.is_empty() {
        t.plural.to_string()
    } else {
        format!("{}.{}", t.plural, t.group)
    }
}

/// Result of a write.
pub type ApiResult<T = Value> = Result<T, ApiError>;

/// What [`ObjectStore::subscribe_from`] returns: the events to replay, then the live receiver.
pub type Subscription = (Vec<Arc<WatchEvent>>, broadcast::Receiver<Arc<WatchEvent>>);

const DEFAULT_HISTORY: usize = 50_000;
const BROADCAST_CAPACITY: usize = 8_192;

struct Inner {
    rv: u64,
    objects: Vec<BTreeMap<ObjKey, Arc<StoredObject>>>,
    history: VecDeque<Arc<WatchEvent>>,
    history_cap: usize,
    /// Watches that start from a resourceVersion older than this get 410 Gone.
    compacted_rv: u64,
    uid_counter: u64,
    name_counter: u64,
}

/// All objects of one simulated cluster.
pub struct ObjectStore {
    inner: Mutex<Inner>,
    events: broadcast::Sender<Arc<WatchEvent>>,
    served: Vec<bool>,
    /// Mixed into generated UIDs and names so two clusters never share one.
    salt: u64,
}

impl std::fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStore").finish_non_exhaustive()
    }
}

/// Which kinds a cluster serves (by [`TypeId`]) and the salt for generated ids.
impl ObjectStore {
    #[must_use]
    pub fn new(served: Vec<bool>, salt: u64) -> Self {
        let (events, _) = broadcast::channel(BROADCAST_CAPACITY);
        let kinds = registry::RESOURCE_TYPES.len();
        Self {
            inner: Mutex::new(Inner {
                rv: 1000,
                objects: vec![BTreeMap::new(); kinds],
                history: VecDeque::new(),
                history_cap: DEFAULT_HISTORY,
                compacted_rv: 1000,
                uid_counter: 0,
                name_counter: 0,
            }),
            events,
            served,
            salt,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-written object (writes are a
        // single map insert), so a poisoned lock is still consistent.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether this cluster serves the kind at all (its add-on is installed).
    #[must_use]
    pub fn serves(&self, type_id: TypeId) -> bool {
        self.served.get(type_id).copied().unwrap_or(false)
    }

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

    #[must_use]
    pub fn get(&self, type_id: TypeId, ns: &str, name: &str) -> Option<Arc<StoredObject>> {
        self.lock().objects[type_id]
            .get(&ObjKey::new(ns, name))
            .cloned()
    }

    /// Parsed copy of an object, for controllers.
    #[must_use]
    pub fn get_value(&self, type_id: TypeId, ns: &str, name: &str) -> Option<Value> {
        self.get(type_id, ns, name).map(|o| o.value())
    }

    /// All objects of a kind (in one namespace, or all when `ns` is `None`), in key order,
    /// with the resourceVersion the list is consistent with.
    #[must_use]
    pub fn list(&self, type_id: TypeId, ns: Option<&str>) -> (Vec<Arc<StoredObject>>, u64) {
        let inner = self.lock();
        (list_locked(&inner, type_id, ns), inner.rv)
    }

    /// One page of a list: objects after `after` (exclusive) that pass `filter`, at most
    /// `limit`; also returns whether more matching objects follow and how many.
    pub fn list_page(
        &self,
        type_id: TypeId,
        ns: Option<&str>,
        after: Option<&ObjKey>,
        limit: usize,
        filter: impl Fn(&StoredObject) -> bool,
    ) -> (Vec<Arc<StoredObject>>, usize) {
        let inner = self.lock();
        let map = &inner.objects[type_id];
        let iter: Box<dyn Iterator<Item = (&ObjKey, &Arc<StoredObject>)>> = match after {
            Some(k) => Box::new(map.range((
                std::ops::Bound::Excluded(k.clone()),
                std::ops::Bound::Unbounded,
            ))),
            None => Box::new(map.iter()),
        };
        let mut page = Vec::new();
        let mut remaining = 0;
        for (k, obj) in iter {
            if let Some(ns) = ns
                && k.ns != ns
            {
                continue;
            }
            if !filter(obj) {
                continue;
            }
            if page.len() < limit {
                page.push(obj.clone());
            } else {
                remaining += 1;
            }
        }
        (page, remaining)
    }

    /// Counts objects of a kind without copying them.
    #[must_use]
    pub fn count(&self, type_id: TypeId) -> usize {
        self.lock().objects[type_id].len()
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

    /// Creates an object as a client would: `status` is dropped for kinds with a status
    /// subresource, `generateName` is honoured, the namespace must exist.
    pub fn create(&self, type_id: TypeId, ns: &str, obj: Value, dry_run: bool) -> ApiResult {
        self.create_inner(type_id, ns, obj, dry_run, false)
    }

    /// Creates or replaces an object keeping everything given, including `status`: the path
    /// for seeding and for controllers, which own status.
    pub fn insert(&self, type_id: TypeId, obj: Value) -> ApiResult {
        let ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if self.get(type_id, &ns, &name).is_some() {
            self.modify(type_id, &ns, &name, |cur| {
                let meta = cur.get("metadata").cloned();
                *cur = obj.clone();
                if let (Some(Value::Object(old)), Some(Value::Object(new))) =
                    (meta, cur.get_mut("metadata"))
                {
                    for key in ["uid", "creationTimestamp", "generation"] {
                        if let Some(v) = old.get(key) {
                            new.insert(key.to_string(), v.clone());
                        }
                    }
                }
            })
            .ok_or_else(|| ApiError::not_found(type_id, &name))
        } else {
            self.create_inner(type_id, &ns, obj, false, true)
        }
    }

    fn create_inner(
        &self,
        type_id: TypeId,
        ns: &str,
        mut obj: Value,
        dry_run: bool,
        keep_status: bool,
    ) -> ApiResult {
        let t = registry::get(type_id);
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request was not an object",
            ));
        }
        let mut inner = self.lock();
        let ns = if t.namespaced {
            let given = obj
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or(ns);
            if !ns.is_empty() && given != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on \
                     the request",
                ));
            }
            if given.is_empty() {
                return Err(ApiError::bad_request("a namespace is required"));
            }
            let ns_type = registry::find("", "namespaces").unwrap_or_default();
            if !inner.objects[ns_type].contains_key(&ObjKey::new("", given)) {
                return Err(ApiError::not_found(ns_type, given));
            }
            given.to_string()
        } else {
            String::new()
        };
        let meta = ensure_object(&mut obj, "metadata");
        let mut name = meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if name.is_empty() {
            let prefix = meta
                .get("generateName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if prefix.is_empty() {
                return Err(ApiError::invalid(
                    type_id,
                    "",
                    "metadata.name: Required value: name or generateName is required",
                ));
            }
            loop {
                inner.name_counter += 1;
                let candidate = format!(
                    "{prefix}{}",
                    random_suffix(self.salt ^ inner.name_counter.wrapping_mul(0x9E37_79B9))
                );
                if !inner.objects[type_id].contains_key(&ObjKey::new(&ns, &candidate)) {
                    name = candidate;
                    break;
                }
            }
        }
        let key = ObjKey::new(&ns, &name);
        if inner.objects[type_id].contains_key(&key) {
            let what = qualified(type_id);
            return Err(ApiError::new(
                409,
                "AlreadyExists",
                format!("{what} \"{name}\" already exists"),
            )
            .for_object(type_id, &name));
        }
        inner.uid_counter += 1;
        let uid = make_uid(self.salt, inner.uid_counter);
        let now = now_rfc3339();
        {
            let meta = ensure_object(&mut obj, "metadata");
            meta.insert("name".into(), Value::String(name.clone()));
            if t.namespaced {
                meta.insert("namespace".into(), Value::String(ns.clone()));
            } else {
                meta.remove("namespace");
            }
            meta.insert("uid".into(), Value::String(uid.clone()));
            meta.entry("creationTimestamp")
                .or_insert_with(|| Value::String(now.clone()));
            if meta.get("creationTimestamp").is_some_and(Value::is_null) {
                meta.insert("creationTimestamp".into(), Value::String(now));
            }
            meta.insert("generation".into(), json!(1));
            meta.remove("deletionTimestamp");
        }
        let map = obj.as_object_mut().map(std::mem::take).unwrap_or_default();
        let mut obj = Value::Object(map);
        obj["apiVersion"] = Value::String(t.api_version());
        obj["kind"] = Value::String(t.kind.to_string());
        if t.status_subresource
            && !keep_status
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
        if dry_run {
            obj["metadata"]["resourceVersion"] = Value::String(String::new());
            return Ok(obj);
        }
        let stored = self.commit(&mut inner, type_id, key, obj, EventType::Added, None);
        Ok(stored.value())
    }

    /// Replaces an object (PUT). A non-empty `metadata.resourceVersion` must match the stored
    /// one (409 otherwise); identity fields are kept; `sub` decides whether spec or status may
    /// change.
    pub fn update(
        &self,
        type_id: TypeId,
        ns: &str,
        name: &str,
        new: Value,
        sub: Subresource,
        dry_run: bool,
    ) -> ApiResult {
        let mut inner = self.lock();
        let key = ObjKey::new(ns, name);
        let current = existing(&inner, type_id, &key)?;
        if !new.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request was not an object",
            ));
        }
        if let Some(given) = new.pointer("/metadata/name").and_then(Value::as_str)
            && !given.is_empty()
            && given != name
        {
            return Err(ApiError::bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        check_resource_version(&new, &current)?;
        let old = current.value();
        let merged = merge_for_write(type_id, &old, new, sub);
        self.write_if_changed(&mut inner, type_id, key, &current, old, merged, dry_run)
    }

    /// Applies a patch. A `metadata.resourceVersion` left in the patched object that differs
    /// from the stored one is a precondition failure (409), as on a real API server.
    pub fn patch(
        &self,
        type_id: TypeId,
        ns: &str,
        name: &str,
        patch: &Patch,
        sub: Subresource,
        dry_run: bool,
    ) -> ApiResult {
        self.patch_with(type_id, ns, name, sub, dry_run, |old| {
            let mut patched = old.clone();
            match patch {
                Patch::Merge(p) => json_patch::merge(&mut patched, p),
                Patch::Strategic(p) => apply_strategic(&mut patched, p),
                Patch::Json(p) => json_patch::patch(&mut patched, &p.0).map_err(|e| {
                    ApiError::new(
                        422,
                        "Invalid",
                        format!(
                            "the server rejected our request due to an error in our request: {e}"
                        ),
                    )
                    .for_object(type_id, name)
                })?,
            }
            Ok(patched)
        })
    }

    /// A patch computed from the stored object by `f`, atomically: nothing can be written
    /// between the read `f` sees and the write, so a client's change is never refused because
    /// a controller wrote meanwhile (subresources such as `/scale` patch a view of the object
    /// and need this). The same rules as [`Self::patch`] apply to what `f` returns: a
    /// `metadata.resourceVersion` in it that differs from the stored one is a 409.
    pub fn patch_with(
        &self,
        type_id: TypeId,
        ns: &str,
        name: &str,
        sub: Subresource,
        dry_run: bool,
        f: impl FnOnce(&Value) -> ApiResult<Value>,
    ) -> ApiResult {
        let mut inner = self.lock();
        let key = ObjKey::new(ns, name);
        let current = existing(&inner, type_id, &key)?;
        let old = current.value();
        let patched = f(&old)?;
        check_resource_version(&patched, &current)?;
        if patched.pointer("/metadata/name").and_then(Value::as_str) != Some(name) {
            return Err(ApiError::bad_request(
                "metadata.name may not be changed by a patch",
            ));
        }
        let merged = merge_for_write(type_id, &old, patched, sub);
        self.write_if_changed(&mut inner, type_id, key, &current, old, merged, dry_run)
    }

    /// Read-modify-write for controllers and seeding: `f` may change anything (spec and
    /// status). Nothing is written, and no event sent, when `f` changes nothing.
    /// Returns the object after the change, or `None` when it does not exist.
    pub fn modify(
        &self,
        type_id: TypeId,
        ns: &str,
        name: &str,
        f: impl FnOnce(&mut Value),
    ) -> Option<Value> {
        let mut inner = self.lock();
        let key = ObjKey::new(ns, name);
        let current = inner.objects[type_id].get(&key).cloned()?;
        let old = current.value();
        let mut new = old.clone();
        f(&mut new);
        // Identity is not the controller's to change.
        for field in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "resourceVersion",
        ] {
            if let Some(v) = old.pointer(&format!("/metadata/{field}")) {
                new["metadata"][field] = v.clone();
            }
        }
        self.write_if_changed(&mut inner, type_id, key, &current, old, new, false)
            .ok()
    }

    /// Deletes an object and, like the garbage collector with background propagation, every
    /// object that names it as owner.
    pub fn delete(&self, type_id: TypeId, ns: &str, name: &str, dry_run: bool) -> ApiResult {
        let mut inner = self.lock();
        let key = ObjKey::new(ns, name);
        let current = existing(&inner, type_id, &key)?;
        if dry_run {
            return Ok(current.value());
        }
        let value = self.remove_locked(&mut inner, type_id, &key);
        // Cascade: collect dependents transitively by owner UID.
        let mut owners: HashSet<String> = HashSet::from([current.uid.clone()]);
        loop {
            let mut victims = Vec::new();
            for (tid, map) in inner.objects.iter().enumerate() {
                for (k, obj) in map {
                    if obj.owner_uids.iter().any(|u| owners.contains(u)) {
                        victims.push((tid, k.clone(), obj.uid.clone()));
                    }
                }
            }
            if victims.is_empty() {
                break;
            }
            owners.clear();
            for (tid, k, uid) in victims {
                self.remove_locked(&mut inner, tid, &k);
                owners.insert(uid);
            }
        }
        Ok(value.unwrap_or(Value::Null))
    }

    fn remove_locked(&self, inner: &mut Inner, type_id: TypeId, key: &ObjKey) -> Option<Value> {
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

    #[allow(clippy::too_many_arguments)]
    fn write_if_changed(
        &self,
        inner: &mut Inner,
        type_id: TypeId,
        key: ObjKey,
        current: &Arc<StoredObject>,
        old: Value,
        mut new: Value,
        dry_run: bool,
    ) -> ApiResult {
        let t = registry::get(type_id);
        new["apiVersion"] = Value::String(t.api_version());
        new["kind"] = Value::String(t.kind.to_string());
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        new["metadata"]["generation"] = old["metadata"]["generation"].clone();
        if new == old {
            return Ok(old);
        }
        if spec_changed(type_id, &old, &new) {
            let generation = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            new["metadata"]["generation"] = json!(generation + 1);
        }
        if dry_run {
            return Ok(new);
        }
        let stored = self.commit(
            inner,
            type_id,
            key,
            new,
            EventType::Modified,
            Some(current.clone()),
        );
        Ok(stored.value())
    }

    fn commit(
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

/// The stored object at `key`, or a 404 naming it.
fn existing(inner: &Inner, type_id: TypeId, key: &ObjKey) -> ApiResult<Arc<StoredObject>> {
    inner.objects[type_id]
        .get(key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(type_id, &key.name))
}

/// Optimistic concurrency for updates and patches alike: a non-empty
/// `metadata.resourceVersion` in what is written must be the stored one (409 otherwise).
fn check_resource_version(written: &Value, current: &StoredObject) -> ApiResult<()> {
    let given = written
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !given.is_empty() && given != current.rv.to_string() {
        return Err(ApiError::conflict(current.type_id, &current.key.name));
    }
    Ok(())
}

fn list_locked(inner: &Inner, type_id: TypeId, ns: Option<&str>) -> Vec<Arc<StoredObject>> {
    match ns {
        Some(ns) => inner.objects[type_id]
            .range(ObjKey::new(ns, "")..)
            .take_while(|(k, _)| k.ns == ns)
            .map(|(_, v)| v.clone())
            .collect(),
        None => inner.objects[type_id].values().cloned().collect(),
    }
}

fn trim_history(inner: &mut Inner) {
    while inner.history.len() > inner.history_cap {
        if let Some(e) = inner.history.pop_front() {
            inner.compacted_rv = e.rv;
        }
    }
}

/// Builds the stored form: JSON bytes plus the indexed fields.
fn index(type_id: TypeId, key: ObjKey, rv: u64, obj: &Value) -> StoredObject {
    let t = registry::get(type_id);
    let meta = obj.get("metadata");
    let mut labels: Vec<(String, String)> = meta
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    labels.sort();
    let mut owner_uids = Vec::new();
    if let Some(refs) = meta
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
    {
        for r in refs {
            if let Some(uid) = r.get("uid").and_then(Value::as_str) {
                if r.get("controller").and_then(Value::as_bool) == Some(true) {
                    owner_uids.insert(0, uid.to_string());
                } else {
                    owner_uids.push(uid.to_string());
                }
            }
        }
    }
    let fields = t
        .field_paths
        .iter()
        .map(|(sel, path)| {
            let mut v = obj;
            for p in *path {
                v = v.get(p).unwrap_or(&Value::Null);
            }
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (*sel, s)
        })
        .collect();
    StoredObject {
        type_id,
        uid: meta
            .and_then(|m| m.get("uid"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        key,
        rv,
        labels,
        owner_uids,
        fields,
        json: Bytes::from(serde_json::to_vec(obj).unwrap_or_default()),
    }
}

/// Keeps the parts a write may not change: identity metadata always, and status on the main
/// resource (or everything but status on `/status`) for kinds with a status subresource.
fn merge_for_write(type_id: TypeId, old: &Value, mut new: Value, sub: Subresource) -> Value {
    let t = registry::get(type_id);
    for field in ["name", "namespace", "uid", "creationTimestamp"] {
        match old.pointer(&format!("/metadata/{field}")) {
            Some(v) => new["metadata"][field] = v.clone(),
            None => {
                if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.remove(field);
                }
            }
        }
    }
    match sub {
        Subresource::Status => {
            let mut out = old.clone();
            match new.get("status") {
                Some(s) => out["status"] = s.clone(),
                None => {
                    if let Some(m) = out.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            out
        }
        Subresource::Main if t.status_subresource => {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            new
        }
        Subresource::Main | Subresource::Whole => new,
    }
}

/// Generation moves when anything but metadata (and status, for kinds with a status
/// subresource) changes: the rule the API server applies to CRDs, used for all kinds here.
fn spec_changed(type_id: TypeId, old: &Value, new: &Value) -> bool {
    let t = registry::get(type_id);
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("metadata");
            if t.status_subresource {
                m.remove("status");
            }
        }
        v
    };
    strip(old) != strip(new)
}

/// Strategic merge patch, as far as kubectl's own patches need it: JSON merge semantics,
/// except that lists of named items (containers, env, ports, volumes, conditions ...) are
/// merged by their key, and `$patch: delete|replace` directives are honoured.
pub fn apply_strategic(doc: &mut Value, patch: &Value) {
    match (doc, patch) {
        (Value::Object(target), Value::Object(p)) => {
            if p.get("$patch").and_then(Value::as_str) == Some("replace") {
                let mut p = p.clone();
                p.remove("$patch");
                *target = p;
                return;
            }
            for (k, v) in p {
                if k.starts_with('$') {
                    continue;
                }
                if v.is_null() {
                    target.remove(k);
                    continue;
                }
                match (target.get_mut(k), v) {
                    (Some(Value::Array(items)), Value::Array(patch_items)) => {
                        if let Some(merge_key) = merge_key_for(k) {
                            merge_list(items, patch_items, merge_key);
                        } else {
                            *items = patch_items.clone();
                        }
                    }
                    (Some(existing @ Value::Object(_)), Value::Object(_)) => {
                        apply_strategic(existing, v);
                    }
                    _ => {
                        let mut fresh = Value::Object(Map::new());
                        if v.is_object() {
                            apply_strategic(&mut fresh, v);
                            target.insert(k.clone(), fresh);
                        } else {
                            target.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
        }
        (doc, patch) => *doc = patch.clone(),
    }
}

fn merge_key_for(field: &str) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => "name",
        "ports" => "containerPort",
        "volumeMounts" => "mountPath",
        "conditions" => "type",
        "tolerations" => "key",
        _ => return None,
    })
}

fn merge_list(items: &mut Vec<Value>, patch_items: &[Value], key: &str) {
    for p in patch_items {
        let Some(id) = p.get(key) else {
            items.push(p.clone());
            continue;
        };
        let pos = items.iter().position(|i| i.get(key) == Some(id));
        let delete = p.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                items.remove(i);
            }
            (Some(i), false) => apply_strategic(&mut items[i], p),
            (None, true) => {}
            (None, false) => {
                let mut fresh = Value::Object(Map::new());
                apply_strategic(&mut fresh, p);
                items.push(fresh);
            }
        }
    }
}

fn ensure_object<'a>(obj: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !obj.get(key).is_some_and(Value::is_object) {
        obj[key] = Value::Object(Map::new());
    }
    match obj.get_mut(key) {
        Some(Value::Object(m)) => m,
        // Just made an object above.
        _ => unreachable!("metadata was set to an object"),
    }
}

/// The current time as the API server formats it (RFC 3339, seconds, UTC).
#[must_use]
pub fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// splitmix64: a tiny, well-distributed mixer for deterministic ids.
#[must_use]
pub fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn make_uid(salt: u64, n: u64) -> String {
    let a = mix64(salt ^ n);
    let b = mix64(a ^ n.rotate_left(17));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// Five characters from the alphabet the API server uses for generated names.
#[must_use]
pub fn random_suffix(seed: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut x = mix64(seed);
    (0..5)
        .map(|_| {
            let c = ALPHABET[(x % ALPHABET.len() as u64) as usize];
            x /= ALPHABET.len() as u64;
            c as char
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> ObjectStore {
        ObjectStore::new(vec![true; registry::RESOURCE_TYPES.len()], 7)
    }

    fn t(plural: &str) -> TypeId {
        let group = match plural {
            "deployments" => "apps",
            "rollouts" => "argoproj.io",
            _ => "",
        };
        registry::find(group, plural).unwrap()
    }

    fn seed_ns(s: &ObjectStore, ns: &str) {
        s.insert(t("namespaces"), json!({"metadata": {"name": ns}}))
            .unwrap();
    }

    #[test]
    fn create_assigns_identity_and_requires_namespace() {
        let s = store();
        let err = s
            .create(
                t("configmaps"),
                "nope",
                json!({"metadata": {"name": "a"}}),
                false,
            )
            .unwrap_err();
        assert_eq!(err.code, 404);
        seed_ns(&s, "shop");
        let cm = s
            .create(
                t("configmaps"),
                "shop",
                json!({"metadata": {"generateName": "cfg-"}}),
                false,
            )
            .unwrap();
        let name = cm["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("cfg-") && name.len() == 9, "{name}");
        assert_eq!(cm["metadata"]["generation"], 1);
        assert_eq!(cm["apiVersion"], "v1");
        assert!(!cm["metadata"]["uid"].as_str().unwrap().is_empty());
        let again = s.create(
            t("configmaps"),
            "shop",
            json!({"metadata": {"name": name}}),
            false,
        );
        assert_eq!(again.unwrap_err().code, 409);
    }

    #[test]
    fn stale_update_conflicts_and_generation_tracks_spec() {
        let s = store();
        seed_ns(&s, "shop");
        let d = s
            .insert(
                t("deployments"),
                json!({"metadata": {"name": "web", "namespace": "shop"}, "spec": {"replicas": 1}, "status": {"replicas": 1}}),
            )
            .unwrap();
        let rv = d["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string();
        // Status-only change through the status subresource: generation stays.
        let p = Patch::Merge(json!({"status": {"replicas": 2}}));
        let d2 = s
            .patch(
                t("deployments"),
                "shop",
                "web",
                &p,
                Subresource::Status,
                false,
            )
            .unwrap();
        assert_eq!(d2["metadata"]["generation"], 1);
        assert_eq!(d2["status"]["replicas"], 2);
        // Spec change on the main resource: generation moves, status is untouched.
        let p = Patch::Merge(json!({"spec": {"replicas": 3}, "status": {"replicas": 99}}));
        let d3 = s
            .patch(
                t("deployments"),
                "shop",
                "web",
                &p,
                Subresource::Main,
                false,
            )
            .unwrap();
        assert_eq!(d3["metadata"]["generation"], 2);
        assert_eq!(d3["status"]["replicas"], 2);
        // A patch carrying the old resourceVersion is refused.
        let p = Patch::Merge(json!({"metadata": {"resourceVersion": rv}, "spec": {"replicas": 4}}));
        let err = s.patch(
            t("deployments"),
            "shop",
            "web",
            &p,
            Subresource::Main,
            false,
        );
        assert_eq!(err.unwrap_err().code, 409);
        // A no-op write does not bump the resourceVersion.
        let before = s.current_rv();
        let p = Patch::Merge(json!({"spec": {"replicas": 3}}));
        s.patch(
            t("deployments"),
            "shop",
            "web",
            &p,
            Subresource::Main,
            false,
        )
        .unwrap();
        assert_eq!(s.current_rv(), before);
    }

    #[test]
    fn watch_resume_and_compaction() {
        let s = store();
        seed_ns(&s, "shop");
        let rv0 = s.current_rv();
        s.insert(
            t("configmaps"),
            json!({"metadata": {"name": "a", "namespace": "shop"}}),
        )
        .unwrap();
        s.insert(
            t("configmaps"),
            json!({"metadata": {"name": "b", "namespace": "shop"}}),
        )
        .unwrap();
        let (replay, _rx) = s.subscribe_from(rv0).unwrap();
        assert_eq!(replay.len(), 2);
        assert!(replay.iter().all(|e| e.kind == EventType::Added));
        s.compact();
        assert_eq!(s.subscribe_from(rv0).unwrap_err().code, 410);
        assert!(s.subscribe_from(s.current_rv()).is_ok());
    }

    #[test]
    fn a_watch_from_now_misses_nothing_however_short_the_history() {
        let s = store();
        seed_ns(&s, "shop");
        s.set_history_capacity(1);
        for name in ["a", "b", "c"] {
            s.insert(
                t("configmaps"),
                json!({"metadata": {"name": name, "namespace": "shop"}}),
            )
            .unwrap();
        }
        let (items, rv, mut rx) = s.list_and_subscribe(t("configmaps"), Some("shop"));
        assert_eq!(items.len(), 3);
        assert_eq!(rv, s.current_rv());
        s.insert(
            t("configmaps"),
            json!({"metadata": {"name": "d", "namespace": "shop"}}),
        )
        .unwrap();
        let ev = rx.try_recv().unwrap();
        assert_eq!((ev.rv, ev.object.key.name.as_str()), (rv + 1, "d"));
    }

    #[test]
    fn patch_with_sees_the_stored_object_and_honours_a_given_version() {
        let s = store();
        seed_ns(&s, "shop");
        let d = s
            .insert(
                t("deployments"),
                json!({"metadata": {"name": "web", "namespace": "shop"}, "spec": {"replicas": 1}}),
            )
            .unwrap();
        let stale = d["metadata"]["resourceVersion"].clone();
        s.patch(
            t("deployments"),
            "shop",
            "web",
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
            Subresource::Main,
            false,
        )
        .unwrap();
        // The closure gets the current object, version included: writing it back is no
        // conflict however many writes came before.
        let scaled = s
            .patch_with(
                t("deployments"),
                "shop",
                "web",
                Subresource::Main,
                false,
                |cur| {
                    assert_eq!(cur["metadata"]["labels"]["a"], "b");
                    let mut v = cur.clone();
                    v["spec"]["replicas"] = json!(4);
                    Ok(v)
                },
            )
            .unwrap();
        assert_eq!(scaled["spec"]["replicas"], 4);
        // A version the caller put in is a precondition.
        let err = s.patch_with(
            t("deployments"),
            "shop",
            "web",
            Subresource::Main,
            false,
            |cur| {
                let mut v = cur.clone();
                v["metadata"]["resourceVersion"] = stale.clone();
                Ok(v)
            },
        );
        assert_eq!(err.unwrap_err().code, 409);
    }

    #[test]
    fn delete_cascades_to_owned_objects() {
        let s = store();
        seed_ns(&s, "shop");
        let owner = s
            .insert(
                t("configmaps"),
                json!({"metadata": {"name": "owner", "namespace": "shop"}}),
            )
            .unwrap();
        let uid = owner["metadata"]["uid"].as_str().unwrap();
        s.insert(
            t("configmaps"),
            json!({"metadata": {"name": "child", "namespace": "shop",
                "ownerReferences": [{"uid": uid, "controller": true, "kind": "ConfigMap", "name": "owner", "apiVersion": "v1"}]}}),
        )
        .unwrap();
        s.delete(t("configmaps"), "shop", "owner", false).unwrap();
        assert!(s.get(t("configmaps"), "shop", "child").is_none());
    }

    #[test]
    fn strategic_merge_by_name() {
        let mut doc = json!({"spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}]}});
        apply_strategic(
            &mut doc,
            &json!({"spec": {"containers": [{"name": "b", "image": "y:2"}]}}),
        );
        assert_eq!(doc["spec"]["containers"][0]["image"], "x:1");
        assert_eq!(doc["spec"]["containers"][1]["image"], "y:2");
    }
}
