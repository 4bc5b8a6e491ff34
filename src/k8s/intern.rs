//! Shared copies of the strings and small values that thousands of stored objects repeat
//! (namespaces, node names, phases and reasons, a ReplicaSet's owner reference held by each of
//! its pods): decoding asks for the shared copy, so 10,000 pods on 50 nodes hold 50 node
//! names. Entries nobody else holds any more are dropped as the table grows, so a long session
//! with churn does not keep every name it ever saw.

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::{Arc, LazyLock, Mutex};

/// A set of shared values, swept of unused ones whenever it doubles.
struct Table<T: ?Sized> {
    set: HashSet<Arc<T>>,
    sweep_at: usize,
}

impl<T: ?Sized + Hash + Eq> Table<T> {
    fn new() -> Self {
        Self {
            set: HashSet::new(),
            sweep_at: 1024,
        }
    }

    fn get(&mut self, value: &T, make: impl FnOnce() -> Arc<T>) -> Arc<T> {
        match self.set.get(value) {
            Some(v) => v.clone(),
            None => self.insert(make()),
        }
    }

    fn insert(&mut self, v: Arc<T>) -> Arc<T> {
        if self.set.len() >= self.sweep_at {
            self.set.retain(|v| Arc::strong_count(v) > 1);
            self.sweep_at = (self.set.len() * 2).max(1024);
        }
        self.set.insert(v.clone());
        v
    }
}

static STRINGS: LazyLock<Mutex<Table<str>>> = LazyLock::new(|| Mutex::new(Table::new()));

/// The shared copy of `s`.
#[must_use]
pub fn intern(s: &str) -> Arc<str> {
    STRINGS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(s, || Arc::from(s))
}

/// A table of shared values of one sized type (owner references and the like).
pub struct Interner<T> {
    table: LazyLock<Mutex<Table<T>>>,
}

impl<T: Hash + Eq> Interner<T> {
    #[must_use]
    pub const fn new() -> Self {
        Self {
            table: LazyLock::new(|| Mutex::new(Table::new())),
        }
    }

    /// The shared copy of `value`.
    pub fn get(&self, value: T) -> Arc<T> {
        let mut table = self
            .table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match table.set.get(&value) {
            Some(v) => v.clone(),
            None => table.insert(Arc::new(value)),
        }
    }
}

impl<T: Hash + Eq> Default for Interner<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Deserializes a string (or a number or boolean written where a string belongs) as its
/// shared copy; anything else reads as `None`.
pub fn opt_interned<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Arc<str>>, D::Error> {
    crate::k8s::lenient::opt_string_ref(d, intern)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_one_copy() {
        let a = intern("node-7");
        let b = intern(&String::from("node-7"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &intern("node-8")));
    }

    #[test]
    fn unused_entries_are_swept_as_the_table_grows() {
        let mut t: Table<str> = Table::new();
        let kept = t.get("kept", || Arc::from("kept"));
        for i in 0..1024 {
            let s = format!("gone-{i}");
            let _ = t.get(&s, || Arc::from(s.as_str()));
        }
        // The table reached its sweep size on the way: only `kept` and the last one remain.
        assert_eq!(t.set.len(), 2);
        assert!(Arc::ptr_eq(&kept, &t.get("kept", || Arc::from("x"))));
    }
}
