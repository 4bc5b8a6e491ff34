//! The store a kind's watch fills and the panes read: every object of the kind on one
//! cluster, by namespace and name. A relist fills a new map and swaps it in when complete,
//! so readers never see half a list; a snapshot is a vector of reference-counted objects.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use kube::core::DeserializeGuard;

use super::Watched;

type Map<K> = HashMap<Box<str>, Arc<DeserializeGuard<K>>>;

/// `namespace/name` (`/name` for cluster-scoped objects): one short allocation per object.
#[must_use]
pub fn key(namespace: Option<&str>, name: &str) -> Box<str> {
    let ns = namespace.unwrap_or("");
    let mut k = String::with_capacity(ns.len() + 1 + name.len());
    k.push_str(ns);
    k.push('/');
    k.push_str(name);
    k.into_boxed_str()
}

/// The key of a stored object, readable or not.
#[must_use]
pub fn key_of<K: Watched>(obj: &DeserializeGuard<K>) -> Box<str> {
    let meta = match &obj.0 {
        Ok(o) => o.meta(),
        Err(e) => &e.metadata,
    };
    key(
        meta.namespace.as_deref(),
        meta.name.as_deref().unwrap_or(""),
    )
}

/// One kind's objects on one cluster.
pub struct Store<K: Watched> {
    objects: RwLock<Map<K>>,
}

impl<K: Watched> Default for Store<K> {
    fn default() -> Self {
        Self {
            objects: RwLock::new(HashMap::new()),
        }
    }
}

impl<K: Watched> std::fmt::Debug for Store<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("len", &self.len()).finish()
    }
}

impl<K: Watched> Store<K> {
    fn read(&self) -> RwLockReadGuard<'_, Map<K>> {
        self.objects
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Map<K>> {
        self.objects
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A snapshot of every object (cheap: reference-counted).
    #[must_use]
    pub fn state(&self) -> Vec<Arc<DeserializeGuard<K>>> {
        self.read().values().cloned().collect()
    }

    /// One object by namespace (`None` for cluster-scoped kinds) and name.
    #[must_use]
    pub fn get(&self, namespace: Option<&str>, name: &str) -> Option<Arc<DeserializeGuard<K>>> {
        self.read().get(&*key(namespace, name)).cloned()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.read().len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds or replaces an object.
    pub fn apply(&self, obj: DeserializeGuard<K>) {
        let k = key_of(&obj);
        self.write().insert(k, Arc::new(obj));
    }

    /// Removes an object.
    pub fn delete(&self, namespace: Option<&str>, name: &str) {
        self.write().remove(&*key(namespace, name));
    }

    /// Replaces every object with a completed list.
    pub fn replace(&self, list: Relist<K>) {
        *self.write() = list.objects;
    }
}

/// A list being received: swapped into the store when it is complete.
pub struct Relist<K: Watched> {
    objects: Map<K>,
}

impl<K: Watched> Default for Relist<K> {
    fn default() -> Self {
        Self {
            objects: HashMap::new(),
        }
    }
}

impl<K: Watched> Relist<K> {
    pub fn push(&mut self, obj: DeserializeGuard<K>) {
        let k = key_of(&obj);
        self.objects.insert(k, Arc::new(obj));
    }

    pub fn reserve(&mut self, n: usize) {
        self.objects.reserve(n);
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}
