//! A pane's source state per cluster, turned into what the user reads: the title after the
//! pane's name ("● live", or per cluster "◐ eu-west stale since 12:03:04 (retrying in 4s)"),
//! and the text of an empty table that says why it is empty (loading, forbidden, not
//! installed, stale, error, or really nothing there). Computed in `update`; drawing only reads.

use crate::clock::Clock;
use crate::source::SourceState;
use crate::theme::Role;

/// Text with a theme role: what update prepares and render draws.
pub type Styled = (String, Role);

/// What to say when a pane has no rows and its sources are live or not installed.
#[derive(Debug, Clone, Copy)]
pub struct EmptyTexts {
    /// Every source live, nothing there (`no rollouts or deployments in view`).
    pub none: &'static str,
    /// Every cluster lacks the API (`Argo Rollouts is not installed on the clusters in view`).
    pub not_installed: &'static str,
}

/// The state of each cluster in view, worst first when combined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaneHealth {
    pub clusters: Vec<(String, SourceState)>,
}

/// The worse of two states.
#[must_use]
pub fn worst(a: SourceState, b: SourceState) -> SourceState {
    if b.severity() > a.severity() { b } else { a }
}

impl PaneHealth {
    #[must_use]
    pub fn state_of(&self, cluster: &str) -> Option<&SourceState> {
        self.clusters
            .iter()
            .find(|(c, _)| c == cluster)
            .map(|(_, s)| s)
    }

    #[must_use]
    pub fn all_live(&self) -> bool {
        !self.clusters.is_empty() && self.clusters.iter().all(|(_, s)| s.is_live())
    }

    /// The title's state part: one "● live" when everything is, else each cluster's state.
    #[must_use]
    pub fn title(&self, clock: Clock) -> Vec<Styled> {
        if self.all_live() {
            return vec![("● live ".into(), Role::Ok)];
        }
        self.clusters
            .iter()
            .map(|(ctx, s)| {
                (
                    format!("{} {ctx} {} ", s.symbol(), s.label(clock)),
                    s.role(),
                )
            })
            .collect()
    }

    /// Why a table with no rows is empty.
    #[must_use]
    pub fn empty_text(&self, texts: EmptyTexts, clock: Clock) -> String {
        let states = || self.clusters.iter().map(|(_, s)| s);
        if self.clusters.is_empty() {
            return "no clusters in view".into();
        }
        if states().all(|s| matches!(s, SourceState::NotInstalled)) {
            return texts.not_installed.into();
        }
        if let Some(SourceState::Forbidden { reason }) =
            states().find(|s| matches!(s, SourceState::Forbidden { .. }))
            && states()
                .all(|s| matches!(s, SourceState::Forbidden { .. } | SourceState::NotInstalled))
        {
            return format!("✖ forbidden: {reason}");
        }
        if states().any(|s| matches!(s, SourceState::Connecting | SourceState::Syncing)) {
            return "waiting for data…".into();
        }
        if let Some((ctx, s)) = self
            .clusters
            .iter()
            .filter(|(_, s)| !s.is_live() && !matches!(s, SourceState::NotInstalled))
            .max_by_key(|(_, s)| s.severity())
        {
            return format!("{} {ctx}: {}", s.symbol(), s.label(clock));
        }
        texts.none.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    const TEXTS: EmptyTexts = EmptyTexts {
        none: "nothing here",
        not_installed: "not installed anywhere",
    };

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).unwrap()
    }

    fn health(states: &[SourceState]) -> PaneHealth {
        PaneHealth {
            clusters: states
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("c{i}"), s.clone()))
                .collect(),
        }
    }

    #[test]
    fn empty_tables_say_why() {
        let clock = Clock::Fixed(t(100));
        let live = SourceState::Live { since: t(0) };
        assert_eq!(
            health(std::slice::from_ref(&live)).empty_text(TEXTS, clock),
            "nothing here"
        );
        assert_eq!(
            health(&[SourceState::NotInstalled, SourceState::NotInstalled])
                .empty_text(TEXTS, clock),
            "not installed anywhere"
        );
        let forbidden = SourceState::Forbidden {
            reason: "cannot list rollouts".into(),
        };
        assert_eq!(
            health(&[forbidden, SourceState::NotInstalled]).empty_text(TEXTS, clock),
            "✖ forbidden: cannot list rollouts"
        );
        assert_eq!(
            health(&[live.clone(), SourceState::Syncing]).empty_text(TEXTS, clock),
            "waiting for data…"
        );
        let stale = SourceState::Stale {
            since: t(40),
            retry_at: t(104),
            reason: "refused".into(),
        };
        assert_eq!(
            health(&[live, stale]).empty_text(TEXTS, clock),
            "◐ c1: stale since 00:00:40 (retrying in 4s)"
        );
        assert_eq!(health(&[]).empty_text(TEXTS, clock), "no clusters in view");
    }

    #[test]
    fn title_is_one_live_mark_or_every_cluster() {
        let clock = Clock::Fixed(t(100));
        let live = SourceState::Live { since: t(0) };
        assert_eq!(
            health(&[live.clone(), live.clone()]).title(clock),
            vec![("● live ".to_string(), Role::Ok)]
        );
        let t2 = health(&[live, SourceState::NotInstalled]).title(clock);
        assert_eq!(t2[1].0, "– c1 not installed ");
    }
}
