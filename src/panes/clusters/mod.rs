//! The Clusters pane: every watched context at once — reachable?, version, API latency,
//! nodes ready, pods not ready, namespaces, add-on APIs (from the pane registry), and what is
//! wrong (its own findings plus every other pane's problems). Built from kit parts: the table
//! as data, the source-state title, the summary computed in `update`.

pub mod model;
pub mod pods;
mod view;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::Span;

use self::model::{ClusterInput, ClusterRow, PodCounts, build_rows};
use super::kit::{ListView, PaneHealth, Styled, worst};
use super::{Pane, RenderCtx, Reply, Summary, ViewCtx};
use crate::cluster::{ClusterHandle, Reach};
use crate::k8s::core::{Namespace, Node};
use crate::k8s::pod::Pod;
use crate::keymap::ActionCall;
use crate::source::{SourceSpec, SourceState, kind};
use crate::theme::Role;
use crate::widgets::table::{self, Cell, Column, TableRow};

const COLUMNS: &[Column] = &[
    Column::new("CONTEXT", 12, 22, 0),
    Column::new("STATUS", 12, 46, 0),
    Column::new("VERSION", 8, 9, 4),
    Column::new("NODES", 5, 9, 0),
    Column::new("PODS✗", 9, 11, 2),
    Column::new("NS", 3, 4, 5),
    Column::new("ADD-ONS", 17, 20, 3),
    Column::new("PROBLEMS", 12, 200, 1),
];

/// Pods churn on a busy cluster: count them at most this often.
const POD_RECOUNT: Duration = Duration::from_secs(1);

/// State of the Clusters pane.
#[derive(Debug, Default)]
pub struct ClustersPane {
    list: ListView<ClusterRow>,
    fingerprint: Vec<u64>,
    last_second: i64,
    /// Pod counts per context with the pod-source revision they were counted at: the
    /// per-second refresh (countdowns, latency) must not walk every pod again.
    pod_counts: HashMap<String, (u64, Instant, Option<PodCounts>)>,
    title: Vec<Styled>,
    summary: Summary,
}

fn table_row(r: &ClusterRow) -> TableRow {
    TableRow::new(
        r.context.as_str(),
        vec![
            Cell::styled(
                if r.focused {
                    format!("▸ {}", r.context)
                } else {
                    format!("  {}", r.context)
                },
                if r.focused { Role::Accent } else { Role::Text },
            ),
            Cell::styled(r.status.clone(), r.status_role),
            Cell::plain(r.version.clone()),
            Cell::styled(r.nodes.clone(), r.nodes_role),
            Cell::styled(r.pods_not_ready.clone(), r.pods_role),
            Cell::plain(r.namespaces.clone()),
            Cell::plain(r.addons_text()),
            Cell::styled(r.problems_text(), r.problems_role()),
        ],
    )
}

fn node_summary(nodes: &[Arc<kube::core::DeserializeGuard<Node>>]) -> (usize, usize, Vec<String>) {
    let mut ready = 0;
    let mut problems = Vec::new();
    for n in nodes {
        match &n.0 {
            Ok(node) => match node.not_ready_reason() {
                None => ready += 1,
                Some(reason) => problems.push(format!(
                    "node {} NotReady ({reason})",
                    node.metadata.name.as_deref().unwrap_or("?")
                )),
            },
            Err(e) => problems.push(format!(
                "node {} unreadable: {}",
                e.metadata.name.as_deref().unwrap_or("?"),
                e.error
            )),
        }
    }
    (ready, nodes.len(), problems)
}

/// A cluster's state for the title: reachability first (a dead API server explains every
/// watch), then the worst of the watches this pane reads.
fn cluster_state(c: &ClusterHandle, had_data: bool) -> SourceState {
    match c.info().reach {
        Reach::Connecting => SourceState::Connecting,
        Reach::Failed { reason } => SourceState::Error {
            reason,
            retry_at: chrono::Utc::now(),
        },
        Reach::Unreachable {
            since,
            retry_at,
            reason,
        } if had_data => SourceState::Stale {
            since,
            retry_at,
            reason,
        },
        Reach::Unreachable {
            retry_at, reason, ..
        } => SourceState::Error { reason, retry_at },
        Reach::Reachable { .. } => [c.sources.state::<Pod>(), c.sources.state::<Namespace>()]
            .into_iter()
            .fold(c.sources.state::<Node>(), worst),
    }
}

impl ClustersPane {
    fn pods(&mut self, c: &ClusterHandle) -> Option<PodCounts> {
        let revision = c.sources.revision::<Pod>();
        match self.pod_counts.get(&c.context) {
            Some((rev, at, counts))
                if *rev == revision || (at.elapsed() < POD_RECOUNT && counts.is_some()) =>
            {
                counts.clone()
            }
            _ => {
                let (counts, _) = pods::counts(c);
                self.pod_counts.insert(
                    c.context.clone(),
                    (revision, Instant::now(), counts.clone()),
                );
                counts
            }
        }
    }

    fn input(&mut self, c: &ClusterHandle, ctx: &ViewCtx) -> ClusterInput {
        let s = &c.sources;
        let node_objs = s.objects::<Node>();
        let nodes_state = s.state::<Node>();
        let namespaces = s.objects::<Namespace>();
        ClusterInput {
            context: c.context.clone(),
            info: c.info(),
            discovery: c.discovery(),
            nodes: (nodes_state.is_live()
                || !node_objs.is_empty()
                || matches!(nodes_state, SourceState::Stale { .. }))
            .then(|| node_summary(&node_objs)),
            nodes_state,
            pods: self.pods(c),
            pods_state: s.state::<Pod>(),
            namespaces: (s.state::<Namespace>().is_live() || !namespaces.is_empty())
                .then_some(namespaces.len()),
            other_problems: ctx.problems.get(&c.context).cloned().unwrap_or_default(),
            sources: s.states(),
            insecure: c.insecure(),
            fleet: ctx.fleet.and_then(|f| f.clusters.get(&c.context).cloned()),
        }
    }
}

impl Pane for ClustersPane {
    fn id(&self) -> &'static str {
        "clusters"
    }

    fn title(&self) -> &'static str {
        "Clusters"
    }

    fn layer(&self) -> &'static str {
        "clusters"
    }

    fn layers(&self) -> &'static [(&'static str, &'static [&'static str])] {
        &[("clusters", &["focus-cluster"])]
    }

    fn sources(&self) -> Vec<SourceSpec> {
        vec![
            SourceSpec::Kind(kind::<Node>()),
            SourceSpec::Kind(kind::<Namespace>()),
            SourceSpec::Kind(kind::<Pod>()),
        ]
    }

    fn update(&mut self, ctx: &ViewCtx) {
        let mut fingerprint: Vec<u64> = Vec::new();
        for c in ctx.clusters {
            fingerprint.push(c.info_revision());
            fingerprint.push(c.sources.revision_sum());
            fingerprint.push(ctx.problems.get(&c.context).map_or(0, Vec::len) as u64);
        }
        fingerprint.push(ctx.scope.focus.as_ref().map_or(0, |f| f.len() as u64 + 1));
        fingerprint.push(
            ctx.fleet
                .and_then(|f| f.at)
                .map_or(0, |t| t.timestamp_millis() as u64),
        );
        // Retry countdowns and latencies are shown: refresh at most once a second anyway.
        let second = ctx.clock.now().timestamp();
        if fingerprint == self.fingerprint && second == self.last_second {
            return;
        }
        self.fingerprint = fingerprint;
        self.last_second = second;
        let inputs: Vec<ClusterInput> = ctx.clusters.iter().map(|c| self.input(c, ctx)).collect();
        let mut rows = build_rows(&inputs, ctx.scope.focus.as_deref(), ctx.clock, ctx.addons);
        if let Some(fleet) = ctx.fleet {
            let watched: Vec<&str> = ctx.clusters.iter().map(|c| c.context.as_str()).collect();
            rows.extend(model::metrics_only_rows(fleet, &watched, ctx.clock));
            rows.sort_by(|a, b| a.rank().cmp(&b.rank()));
        }
        let health = PaneHealth {
            clusters: ctx
                .clusters
                .iter()
                .zip(&inputs)
                .map(|(c, i)| (c.context.clone(), cluster_state(c, i.nodes.is_some())))
                .collect(),
        };
        let bad = rows
            .iter()
            .filter(|r| match r.metrics_only {
                None => r.status_role != Role::Ok,
                Some(_) => !r.problems.is_empty(),
            })
            .count();
        self.summary = Summary {
            badge: (bad > 0).then(|| format!("{bad}!")),
            problems: Vec::new(),
            attention: bad,
        };
        let mut title = vec![
            (" Clusters ".to_string(), Role::Title),
            (format!("({}) ", rows.len()), Role::Muted),
        ];
        title.extend(health.title(ctx.clock));
        if let Some(fleet) = ctx.fleet.filter(|f| !f.state.is_live()) {
            title.push((
                format!(
                    "fleet metrics {} {} ",
                    fleet.state.symbol(),
                    fleet.state.label(ctx.clock)
                ),
                fleet.state.role(),
            ));
        }
        if !self.list.filter().is_empty() {
            title.push((format!("/{} ", self.list.filter()), Role::Accent));
        }
        self.title = title;
        self.list.set(
            rows.into_iter()
                .map(|r| {
                    let t = table_row(&r);
                    (Arc::new(r), t)
                })
                .collect(),
        );
    }

    fn render(&self, frame: &mut Frame, area: Rect, ctx: &RenderCtx) {
        let theme = ctx.theme;
        let title: Vec<Span> = self
            .title
            .iter()
            .map(|(t, r)| Span::styled(t.as_str(), theme.style(*r)))
            .collect();
        let block = table::pane_block(title, theme, ctx.focused);
        // The table takes what its rows need; the selected cluster's details fill the rest.
        let table_height = (self.list.table.visible_len() as u16 + 3).max(5);
        let (table_area, details_area) = if area.height >= table_height + 8 {
            let parts = Layout::default()
                .direction(Direction::Vertical)
                .constraints([Constraint::Length(table_height), Constraint::Min(0)])
                .split(area);
            (parts[0], Some(parts[1]))
        } else {
            (area, None)
        };
        if let (Some(d), Some(row)) = (details_area, self.list.selected()) {
            view::render_details(frame, d, row, theme, ctx.clock);
        }
        self.list.render(
            frame,
            table_area,
            block,
            COLUMNS,
            theme,
            ctx.focused,
            "no clusters match the filter",
            None,
        );
    }

    fn on_action(&mut self, action: &ActionCall, _ctx: &ViewCtx) -> Reply {
        if self.list.apply(&action.name) {
            return Reply::Handled;
        }
        match action.name.as_str() {
            "focus-cluster" => match self.list.selected() {
                Some(row) if row.metrics_only.is_some() => Reply::Info(format!(
                    "{} is known from the fleet metrics only: kdeck does not watch it (start \
                     kdeck with --context {} to)",
                    row.context, row.context
                )),
                Some(row) => Reply::FocusCluster(row.context.clone()),
                None => Reply::Info("no cluster selected".into()),
            },
            _ => Reply::Unhandled,
        }
    }

    fn summary(&self) -> &Summary {
        &self.summary
    }

    fn filter(&self) -> &str {
        self.list.filter()
    }

    fn set_filter(&mut self, filter: &str) {
        self.list.set_filter(filter);
    }

    fn uses_problems(&self) -> bool {
        true
    }
}
