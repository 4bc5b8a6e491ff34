//! Row bookkeeping shared by every table pane: a cache of built rows keyed by the revisions of
//! what each row is built from (so one changed object rebuilds one row), and the one sort
//! order (what needs a human first, then by key).

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::widgets::table::TableRow;

/// What every table row can say about itself.
pub trait ListRow: Send + Sync + 'static {
    /// Sort group: lower ranks need a human more and come first.
    fn rank(&self) -> u8;
    /// Whether the row counts toward the pane's attention badge.
    fn needs_attention(&self) -> bool;
}

/// A hash of everything a row is built from: resourceVersions of the objects it reads, and
/// any other input (the cluster's short name, a setting).
#[derive(Debug, Default)]
pub struct Inputs(DefaultHasher);

impl Inputs {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an object's identity and version.
    #[must_use]
    pub fn meta(mut self, meta: &ObjectMeta) -> Self {
        meta.uid.hash(&mut self.0);
        meta.resource_version.hash(&mut self.0);
        self
    }

    /// Adds the versions of related objects (owned ReplicaSets, runs …).
    #[must_use]
    pub fn metas<'a>(mut self, metas: impl IntoIterator<Item = &'a ObjectMeta>) -> Self {
        for m in metas {
            self = self.meta(m);
        }
        self
    }

    /// Adds any other input.
    #[must_use]
    pub fn with(mut self, value: &impl Hash) -> Self {
        value.hash(&mut self.0);
        self
    }

    #[must_use]
    pub fn finish(&self) -> u64 {
        self.0.finish()
    }
}

struct Cached<R> {
    inputs: u64,
    row: Arc<R>,
    table: TableRow,
    generation: u64,
}

/// Built rows by key. Call [`Self::begin`], then [`Self::row`] for every row of the update,
/// then [`Self::end`], which forgets the rows not asked for.
pub struct RowCache<R> {
    entries: HashMap<Arc<str>, Cached<R>>,
    generation: u64,
    /// Rows built (not taken from the cache) since `begin`: for benchmarks and tests.
    pub built: usize,
}

impl<R> Default for RowCache<R> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            generation: 0,
            built: 0,
        }
    }
}

impl<R> std::fmt::Debug for RowCache<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowCache")
            .field("rows", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl<R> RowCache<R> {
    pub fn begin(&mut self) {
        self.generation += 1;
        self.built = 0;
    }

    /// The row under `key`: cached if built from the same `inputs`, else built now.
    pub fn row(
        &mut self,
        key: &str,
        inputs: u64,
        build: impl FnOnce() -> R,
        table: impl FnOnce(&R, Arc<str>) -> TableRow,
    ) -> (Arc<R>, TableRow) {
        let generation = self.generation;
        if let Some(c) = self.entries.get_mut(key) {
            c.generation = generation;
            if c.inputs == inputs {
                return (c.row.clone(), c.table.clone());
            }
        }
        self.built += 1;
        let key: Arc<str> = key.into();
        let row = Arc::new(build());
        let table = table(&row, key.clone());
        self.entries.insert(
            key,
            Cached {
                inputs,
                row: row.clone(),
                table: table.clone(),
                generation,
            },
        );
        (row, table)
    }

    /// Forgets every row not asked for since [`Self::begin`].
    pub fn end(&mut self) {
        let generation = self.generation;
        self.entries.retain(|_, c| c.generation == generation);
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The one order of every table: by rank (what needs a human first), then by key compared
/// part by part (`cluster/namespace/name/kind`, so `shop` sorts before `shop-x`), so rows
/// never jump around between updates.
pub fn sort_rows<R: ListRow>(rows: &mut [(Arc<R>, TableRow)]) {
    rows.sort_by(|(a, ka), (b, kb)| {
        a.rank()
            .cmp(&b.rank())
            .then_with(|| key_order(&ka.key, &kb.key))
    });
}

/// Keys compared part by part, without splitting them: `/` sorts below every other byte.
fn key_order(a: &str, b: &str) -> std::cmp::Ordering {
    let lower = |c: u8| if c == b'/' { 0 } else { c };
    a.bytes().map(lower).cmp(b.bytes().map(lower))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::widgets::table::Cell;

    struct R(u8);
    impl ListRow for R {
        fn rank(&self) -> u8 {
            self.0
        }
        fn needs_attention(&self) -> bool {
            self.0 == 0
        }
    }

    fn table(r: &R, key: Arc<str>) -> TableRow {
        TableRow::new(key, vec![Cell::plain(r.0.to_string())])
    }

    #[test]
    fn rows_are_rebuilt_only_when_their_inputs_move_and_forgotten_when_gone() {
        let mut cache: RowCache<R> = RowCache::default();
        cache.begin();
        cache.row("a", 1, || R(1), table);
        cache.row("b", 1, || R(1), table);
        cache.end();
        assert_eq!(cache.built, 2);
        cache.begin();
        cache.row("a", 1, || R(9), table);
        let (b, _) = cache.row("b", 2, || R(0), table);
        cache.end();
        assert_eq!(cache.built, 1, "only b moved");
        assert_eq!(b.0, 0);
        cache.begin();
        cache.row("b", 2, || R(5), table);
        cache.end();
        assert_eq!(cache.len(), 1, "a was not asked for and is forgotten");
    }

    #[test]
    fn rows_sort_by_rank_then_key() {
        let mut rows = vec![
            (Arc::new(R(1)), table(&R(1), "a".into())),
            (Arc::new(R(0)), table(&R(0), "z".into())),
            (Arc::new(R(1)), table(&R(1), "shop/b".into())),
            (Arc::new(R(1)), table(&R(1), "shop-x/a".into())),
        ];
        sort_rows(&mut rows);
        let keys: Vec<&str> = rows.iter().map(|(_, t)| &*t.key).collect();
        assert_eq!(keys, ["z", "a", "shop/b", "shop-x/a"]);
    }
}
