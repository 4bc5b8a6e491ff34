//! The demo cluster's object store: every object of one simulated cluster, with one
//! resourceVersion counter, an event history for resumable watches, and a broadcast of changes.
//!
//! Objects are kept serialized (compact JSON bytes) plus the few fields that selectors and
//! controllers need, so a `--scale 10000` cluster stays small and a list is a concatenation
//! of stored bytes. The HTTP layer and the simulated controllers both go through this API; it
//! enforces the API server's rules (resourceVersion preconditions, generation on spec change,
//! status-subresource separation, owner garbage collection) in one place.
//!
//! This file holds the stored form and the reads; `write` the write path and its rules,
//! `watch` the resourceVersion counter, history and watch fan-out, `errors` the
//! `Status` errors, `strategic` strategic merge patch and `ids` generated identities.

mod errors;
mod ids;
mod strategic;
mod watch;
mod write;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::broadcast;

use super::registry::{self, TypeId};
pub use errors::{ApiError, ApiResult};
pub use ids::{mix64, now_rfc3339, random_suffix};
pub use strategic::apply_strategic;

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

#[cfg(test)]
mod tests {
    use serde_json::json;

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
}
