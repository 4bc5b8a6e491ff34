//! What a pane needs, declared as data. Panes return these from `Pane::sources`; the app hands
//! them to [`super::manager::reconcile`], which starts what is new and stops what is no longer
//! declared. Reading a store never starts anything.

use std::hash::{Hash, Hasher};
use std::time::Duration;

use super::set::SourceSet;
use super::{Watched, short_kind};

/// A kind that can be watched, with the (type-erased) functions that start its watch.
#[derive(Clone, Copy)]
pub struct KindSpec {
    /// The kind's plural (`rollouts`), for logs and the Clusters pane's watch list.
    pub plural: &'static str,
    pub(crate) type_name: &'static str,
    pub(crate) start: fn(&SourceSet),
    pub(crate) start_scoped: fn(&SourceSet, &ScopedWatch),
}

impl std::fmt::Debug for KindSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.plural)
    }
}

impl PartialEq for KindSpec {
    fn eq(&self, other: &Self) -> bool {
        self.type_name == other.type_name
    }
}

impl Eq for KindSpec {}

impl Hash for KindSpec {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.type_name.hash(state);
    }
}

/// Declares kind `K`.
#[must_use]
pub fn kind<K: Watched>() -> KindSpec {
    KindSpec {
        plural: short_kind::<K>(),
        type_name: std::any::type_name::<K>(),
        start: |set| set.start_kind::<K>(),
        start_scoped: |set, w| set.start_scoped::<K>(w),
    }
}

/// A watch that lives as long as one view declares it (e.g. the Events of the object a
/// detail view shows), limited to a namespace and a field selector.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScopedWatch {
    /// Names the watch: the view reads its store under this key.
    pub key: String,
    pub kind: KindSpec,
    pub namespace: Option<String>,
    pub fields: Option<String>,
}

/// One PromQL query of a [`PromSpec`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PromQuery {
    /// Names the result in the snapshot (`canary/success`).
    pub id: String,
    pub promql: String,
    /// `None` for an instant query; otherwise the window before now and the step, in seconds.
    pub range: Option<(u32, u32)>,
}

/// Queries polled together on one cluster's Prometheus while declared.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PromSpec {
    /// Names the poller: the view reads its snapshot under this key.
    pub key: String,
    pub interval: Duration,
    pub queries: Vec<PromQuery>,
}

/// Everything a pane can ask for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SourceSpec {
    /// A kind on every watched cluster, for as long as kdeck runs (shared by every pane).
    Kind(KindSpec),
    /// A scoped watch on one cluster (by context), while declared.
    Scoped { cluster: String, watch: ScopedWatch },
    /// Prometheus queries on one cluster (by context), while declared.
    Prom { cluster: String, spec: PromSpec },
}
