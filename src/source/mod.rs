//! Data sources: Kubernetes watches (one per cluster and kind, shared by every pane that needs
//! it), scoped watches and Prometheus pollers for open views. Panes declare what they need
//! ([`spec`]); the [`manager`] starts and stops sources to match; sources write into stores
//! and report their state ([`SourceState`]); they never touch UI state. After a change they
//! send a coalesced wake-up (notify, then pull): the UI reads the stores when it next updates.

pub mod discovery;
pub mod fleet;
pub mod kinds;
pub mod manager;
pub mod prom_poll;
pub mod prometheus;
pub mod set;
pub mod spec;
pub mod state;
pub mod store;
pub mod trim;
pub mod watch;
pub mod wire;

use std::sync::Arc;

use tokio::sync::Notify;

pub use discovery::Discovery;
pub use kinds::Watched;
pub use manager::SourceManager;
pub use prom_poll::{PromSnapshot, PromSource, QueryResult};
pub use set::SourceSet;
pub use spec::{KindSpec, PromQuery, PromSpec, ScopedWatch, SourceSpec, kind};
pub use state::{SourceCell, SourceState};
pub use watch::KindSource;

/// Wakes the UI when any source changed. Many notifications before the UI looks collapse
/// into one, so a burst of watch events costs one redraw.
#[derive(Debug, Clone, Default)]
pub struct Notifier(Arc<Notify>);

impl Notifier {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    pub fn notify(&self) {
        self.0.notify_one();
    }

    /// Waits for the next notification.
    pub async fn notified(&self) {
        self.0.notified().await;
    }
}

/// A kind's plural (`rollouts`) as a static string, for labels.
#[must_use]
pub fn short_kind<K: Watched>() -> &'static str {
    static UNIT: () = ();
    match K::plural(&UNIT) {
        std::borrow::Cow::Borrowed(s) => s,
        // Slim kinds name their plural literally; anything else is labelled by its type.
        std::borrow::Cow::Owned(_) => std::any::type_name::<K>()
            .rsplit("::")
            .next()
            .unwrap_or("objects"),
    }
}
