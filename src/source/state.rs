//! The state every data source reports, so a pane can say "live", "stale since 12:03:04
//! (retrying in 4s)", "forbidden" or "not installed" — on-call users must never mistake old
//! data for live data.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};

use super::Notifier;
use crate::clock::Clock;
use crate::theme::Role;

/// Where a source stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceState {
    /// Nothing received yet; first connection under way.
    Connecting,
    /// The initial list is being received.
    Syncing,
    /// Watching; data is current.
    Live { since: DateTime<Utc> },
    /// Had data, lost the connection: data on screen is as of `since`.
    Stale {
        since: DateTime<Utc>,
        retry_at: DateTime<Utc>,
        reason: String,
    },
    /// Never had data and the last attempt failed.
    Error {
        reason: String,
        retry_at: DateTime<Utc>,
    },
    /// The API refused with 403.
    Forbidden { reason: String },
    /// The cluster does not serve this API group.
    NotInstalled,
}

impl SourceState {
    /// A short text that says everything without colour.
    #[must_use]
    pub fn label(&self, clock: Clock) -> String {
        let now = clock.now();
        let retry = |at: &DateTime<Utc>| {
            let secs = (*at - now).num_seconds();
            if secs > 0 {
                format!("retrying in {secs}s")
            } else {
                "retrying".to_string()
            }
        };
        match self {
            Self::Connecting => "connecting".into(),
            Self::Syncing => "syncing".into(),
            Self::Live { .. } => "live".into(),
            Self::Stale {
                since, retry_at, ..
            } => format!(
                "stale since {} ({})",
                clock.time_of_day(*since),
                retry(retry_at)
            ),
            Self::Error { reason, retry_at } => format!("error: {reason} ({})", retry(retry_at)),
            Self::Forbidden { .. } => "forbidden".into(),
            Self::NotInstalled => "not installed".into(),
        }
    }

    /// A symbol that carries the state without colour.
    #[must_use]
    pub fn symbol(&self) -> &'static str {
        match self {
            Self::Connecting | Self::Syncing => "◌",
            Self::Live { .. } => "●",
            Self::Stale { .. } => "◐",
            Self::Error { .. } | Self::Forbidden { .. } => "✖",
            Self::NotInstalled => "–",
        }
    }

    #[must_use]
    pub fn role(&self) -> Role {
        match self {
            Self::Connecting | Self::Syncing | Self::NotInstalled => Role::Muted,
            Self::Live { .. } => Role::Ok,
            Self::Stale { .. } => Role::Warn,
            Self::Error { .. } | Self::Forbidden { .. } => Role::Crit,
        }
    }

    /// Whether the data behind this source is current.
    #[must_use]
    pub fn is_live(&self) -> bool {
        matches!(self, Self::Live { .. })
    }

    /// Severity for combining several sources into one (higher is worse).
    #[must_use]
    pub fn severity(&self) -> u8 {
        match self {
            Self::Live { .. } => 0,
            Self::NotInstalled => 1,
            Self::Syncing => 2,
            Self::Connecting => 3,
            Self::Stale { .. } => 4,
            Self::Forbidden { .. } => 5,
            Self::Error { .. } => 6,
        }
    }
}

/// A source's state plus a revision counter that moves whenever its data or state changes,
/// so view models recompute only when something they read moved.
#[derive(Debug)]
pub struct SourceCell {
    state: Mutex<SourceState>,
    revision: AtomicU64,
    notifier: Notifier,
}

/// Revisions of all cells start far apart, so a replaced source never repeats a revision a
/// view has already seen.
static NEXT_BASE: AtomicU64 = AtomicU64::new(1);
const REVISION_SPAN: u64 = 1 << 32;

impl SourceCell {
    #[must_use]
    pub fn new(notifier: Notifier) -> Self {
        Self {
            state: Mutex::new(SourceState::Connecting),
            revision: AtomicU64::new(NEXT_BASE.fetch_add(REVISION_SPAN, Ordering::Relaxed)),
            notifier,
        }
    }

    #[must_use]
    pub fn state(&self) -> SourceState {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn set_state(&self, new: SourceState) {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *s != new {
            *s = new;
            drop(s);
            self.bump();
        }
    }

    /// Marks the data changed and wakes the UI.
    pub fn bump(&self) {
        self.revision.fetch_add(1, Ordering::Relaxed);
        self.notifier.notify();
    }

    #[must_use]
    pub fn revision(&self) -> u64 {
        self.revision.load(Ordering::Relaxed)
    }
}
