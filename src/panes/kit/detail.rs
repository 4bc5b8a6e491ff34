//! The frame of every detail view: which object it shows, its scroll position, and that
//! object's Events, read from a watch the view declares (scoped to the object's namespace and
//! name) and stopped when it closes.

use chrono::{DateTime, Utc};
use ratatui::text::{Line, Span};

use crate::clock::{Clock, short_duration};
use crate::cluster::ClusterHandle;
use crate::k8s::core::Event;
use crate::source::{ScopedWatch, SourceSpec, kind};
use crate::theme::{Role, Theme};

/// The object a detail view (or an action) is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    /// Kubeconfig context.
    pub cluster: String,
    /// `Rollout`, `Deployment`, `HorizontalPodAutoscaler` …
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    /// `namespace/name`.
    #[must_use]
    pub fn short(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// One recent Kubernetes event about the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLine {
    /// `Normal` or `Warning`.
    pub type_: String,
    pub reason: String,
    pub message: String,
    pub count: i32,
    pub last_seen: Option<DateTime<Utc>>,
}

impl EventLine {
    #[must_use]
    pub fn of(e: &Event) -> Self {
        Self {
            type_: e.type_.clone().unwrap_or_default(),
            reason: e.reason.clone().unwrap_or_default(),
            message: e.message.clone().unwrap_or_default(),
            count: e.count.unwrap_or(1),
            last_seen: e.last_seen(),
        }
    }
}

/// Newest first; events without a time go last, in their given order.
pub fn sort_events(events: &mut [EventLine]) {
    events.sort_by(|a, b| match (a.last_seen, b.last_seen) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
}

/// An open detail view's frame.
#[derive(Debug, Clone)]
pub struct DetailFrame {
    pub key: ObjectKey,
    pub scroll: u16,
    events: Vec<EventLine>,
    events_revision: u64,
}

impl DetailFrame {
    #[must_use]
    pub fn new(key: ObjectKey) -> Self {
        Self {
            key,
            scroll: 0,
            events: Vec::new(),
            events_revision: 0,
        }
    }

    fn events_key(&self) -> String {
        format!(
            "events/{}/{}/{}",
            self.key.kind, self.key.namespace, self.key.name
        )
    }

    /// The watch of this object's Events.
    #[must_use]
    pub fn sources(&self) -> Vec<SourceSpec> {
        vec![SourceSpec::Scoped {
            cluster: self.key.cluster.clone(),
            watch: ScopedWatch {
                key: self.events_key(),
                kind: kind::<Event>(),
                namespace: Some(self.key.namespace.clone()),
                fields: Some(format!("involvedObject.name={}", self.key.name)),
            },
        }]
    }

    /// The revision of the events store (0 until it starts).
    #[must_use]
    pub fn events_revision(&self, cluster: &ClusterHandle) -> u64 {
        cluster
            .sources
            .scoped::<Event>(&self.events_key())
            .map_or(0, |s| s.revision())
    }

    /// Re-reads the object's events if their store moved; returns whether they changed.
    pub fn refresh_events(&mut self, cluster: &ClusterHandle) -> bool {
        let Some(src) = cluster.sources.scoped::<Event>(&self.events_key()) else {
            return false;
        };
        let revision = src.revision();
        if revision == self.events_revision {
            return false;
        }
        self.events_revision = revision;
        let key = &self.key;
        let mut events: Vec<EventLine> = src
            .objects()
            .iter()
            .filter_map(|g| g.0.as_ref().ok())
            .filter(|e| {
                e.involved_object.kind.as_deref() == Some(key.kind)
                    && e.involved_object.name.as_deref() == Some(&key.name)
            })
            .map(EventLine::of)
            .collect();
        sort_events(&mut events);
        self.events = events;
        true
    }

    #[must_use]
    pub fn events(&self) -> &[EventLine] {
        &self.events
    }

    /// Scrolls on `scroll-up`/`scroll-down`/movement keys; returns whether it was one.
    pub fn scroll(&mut self, action: &str) -> bool {
        self.scroll = match action {
            "scroll-up" | "up" => self.scroll.saturating_sub(1),
            "scroll-down" | "down" => self.scroll.saturating_add(1),
            "page-up" => self.scroll.saturating_sub(10),
            "page-down" => self.scroll.saturating_add(10),
            "top" => 0,
            _ => return false,
        };
        true
    }
}

/// The Events section of a detail view: a header and up to `max` events, newest first.
#[must_use]
pub fn event_lines(
    events: &[EventLine],
    max: usize,
    theme: &Theme,
    clock: Clock,
) -> Vec<Line<'static>> {
    let now = clock.now();
    let mut body = vec![Line::from(Span::styled(
        "Events",
        theme.style(Role::Header),
    ))];
    if events.is_empty() {
        body.push(Line::from(Span::styled(
            " no recent events",
            theme.style(Role::Muted),
        )));
    }
    for e in events.iter().take(max) {
        let age = e
            .last_seen
            .map_or_else(|| "?".into(), |t| short_duration((now - t).num_seconds()));
        let role = if e.type_ == "Warning" {
            Role::Warn
        } else {
            Role::Text
        };
        body.push(Line::from(vec![
            Span::styled(format!(" {age:>5} "), theme.style(Role::Muted)),
            Span::styled(format!("{:<8}", e.type_), theme.style(role)),
            Span::styled(format!("{} ", e.reason), theme.style(role)),
            Span::styled(
                if e.count > 1 {
                    format!("{} (×{})", e.message, e.count)
                } else {
                    e.message.clone()
                },
                theme.style(Role::Text),
            ),
        ]));
    }
    body
}
