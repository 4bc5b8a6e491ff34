//! Data sources: Kubernetes watches (one per cluster and kind, shared by every pane that needs
//! it) and Prometheus queries. Sources write into stores and report their state; they never
//! touch UI state. After a change they send a coalesced wake-up (notify, then pull): the UI
//! reads the stores when it next draws.

pub mod kinds;
pub mod prometheus;
pub mod state;
pub mod watch;

use std::sync::Arc;

use tokio::sync::Notify;

pub use kinds::Watched;
pub use state::{SourceCell, SourceState};
pub use watch::{KindSource, WatchRequest, watch};

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
