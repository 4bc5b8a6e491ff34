//! The Clusters pane: every watched context at once — reachable?, version, API latency,
//! nodes ready, pods not ready, namespaces, add-on APIs, and what is wrong.

pub mod model;
mod view;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Span;

use self::model::{ClusterInput, ClusterRow, PodCounts, build_rows};
use super::{Pane, RenderCtx, Reply, ViewCtx};
use crate::k8s::core::{Namespace, Node};
use crate::keymap::ActionCall;
use crate::source::{WatchRequest, watch};
use crate::theme::Role;
use crate::widgets::table::{self, Cell, Column, TableRow, TableState};

const COLUMNS: &[Column] = &[
    Column::new("CONTEXT", 12, 22, 0),
    Column::new("STATUS", 12, 46, 0),
    Column::new("VERSION", 8, 9, 4),
    Column::new("NODES", 5, 9, 0),
    Column::new("PODS✗", 9, 11, 2),
    Column::new("NS", 3, 4, 5),
    Column::new("ADD-ONS", 14, 14, 3),
    Column::new("PROBLEMS", 12, 200, 1),
];

/// State of the Clusters pane.
#[derive(Debug, Default)]
pub struct ClustersPane {
    rows: Vec<ClusterRow>,
    table_rows: Vec<TableRow>,
    table: TableState,
    fingerprint: Vec<u64>,
    last_second: i64,
    /// Pod counts per context with the pod-source revision they were counted at: the
    /// per-second refresh (countdowns, latency) must not walk every pod again.
    pod_counts: std::collections::HashMap<String, (u64, std::time::Instant, Option<PodCounts>)>,
}

/// Pods churn on a busy cluster: count them at most this often.
const POD_RECOUNT: std::time::Duration = std::time::Duration::from_secs(1);

/// Hook for pod counts; filled by the pod source once that kind is registered.
pub type PodCounter =
    fn(&crate::cluster::ClusterHandle) -> (Option<PodCounts>, crate::source::SourceState);

impl ClustersPane {
    fn to_table_rows(rows: &[ClusterRow]) -> Vec<TableRow> {
        rows.iter()
            .map(|r| TableRow {
                key: r.context.clone().into(),
                cells: vec![
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
                ]
                .into(),
            })
            .collect()
    }
}

fn node_summary(
    nodes: &[std::sync::Arc<kube::core::DeserializeGuard<Node>>],
) -> (usize, usize, Vec<String>) {
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

    fn watches(&self) -> Vec<WatchRequest> {
        let mut w = vec![watch::<Node>(), watch::<Namespace>()];
        w.extend(crate::panes::clusters::pods::watches());
        w
    }

    fn update(&mut self, ctx: &ViewCtx) {
        let mut fingerprint: Vec<u64> = Vec::new();
        for c in ctx.clusters {
            fingerprint.push(c.info_revision());
            fingerprint.push(c.source::<Node>().revision());
            fingerprint.push(c.source::<Namespace>().revision());
            fingerprint.push(pods::revision(c));
            fingerprint.push(ctx.problems.get(&c.context).map_or(0, Vec::len) as u64);
        }
        fingerprint.push(ctx.scope.focus.as_ref().map_or(0, |f| f.len() as u64 + 1));
        // Retry countdowns and latencies are shown: refresh at most once a second anyway.
        let second = ctx.clock.now().timestamp();
        if fingerprint == self.fingerprint && second == self.last_second {
            return;
        }
        self.fingerprint = fingerprint;
        self.last_second = second;
        let inputs: Vec<ClusterInput> = ctx
            .clusters
            .iter()
            .map(|c| {
                let nodes = c.source::<Node>();
                let node_objs = nodes.objects();
                let nodes_state = nodes.state();
                let ns = c.source::<Namespace>();
                let pods_state = c.source::<crate::k8s::pod::Pod>().state();
                let revision = pods::revision(c);
                let pods = match self.pod_counts.get(&c.context) {
                    Some((rev, at, counts))
                        if *rev == revision || (at.elapsed() < POD_RECOUNT && counts.is_some()) =>
                    {
                        counts.clone()
                    }
                    _ => {
                        let (counts, _) = pods::counts(c);
                        self.pod_counts.insert(
                            c.context.clone(),
                            (revision, std::time::Instant::now(), counts.clone()),
                        );
                        counts
                    }
                };
                ClusterInput {
                    context: c.context.clone(),
                    info: c.info(),
                    discovery: c.discovery(),
                    nodes: (nodes_state.is_live()
                        || !node_objs.is_empty()
                        || matches!(nodes_state, crate::source::SourceState::Stale { .. }))
                    .then(|| node_summary(&node_objs)),
                    nodes_state,
                    pods,
                    pods_state,
                    namespaces: (ns.state().is_live() || !ns.objects().is_empty())
                        .then(|| ns.objects().len()),
                    other_problems: ctx.problems.get(&c.context).cloned().unwrap_or_default(),
                    sources: c.source_states(),
                }
            })
            .collect();
        self.rows = build_rows(&inputs, ctx.scope.focus.as_deref(), ctx.clock);
        self.table_rows = Self::to_table_rows(&self.rows);
        self.table.sync(&self.table_rows);
    }

    fn render(&mut self, frame: &mut Frame, area: Rect, ctx: &RenderCtx) {
        let theme = ctx.theme;
        let mut title = vec![
            Span::styled(" Clusters ", theme.style(Role::Title)),
            Span::styled(format!("({}) ", self.rows.len()), theme.style(Role::Muted)),
        ];
        if !self.table.filter.is_empty() {
            title.push(Span::styled(
                format!("/{} ", self.table.filter),
                theme.style(Role::Accent),
            ));
        }
        let block = table::pane_block(title, theme, ctx.focused);
        // The table takes what its rows need; the selected cluster's details fill the rest.
        let table_height = (self.table.visible_len() as u16 + 3).max(5);
        let (table_area, details_area) = if area.height >= table_height + 8 {
            let parts = ratatui::layout::Layout::default()
                .direction(ratatui::layout::Direction::Vertical)
                .constraints([
                    ratatui::layout::Constraint::Length(table_height),
                    ratatui::layout::Constraint::Min(0),
                ])
                .split(area);
            (parts[0], Some(parts[1]))
        } else {
            (area, None)
        };
        if let (Some(d), Some(i)) = (details_area, self.table.selected_index())
            && let Some(row) = self.rows.get(i)
        {
            view::render_details(frame, d, row, theme, ctx.clock);
        }
        table::render(
            frame,
            table_area,
            block,
            COLUMNS,
            &self.table_rows,
            &mut self.table,
            theme,
            ctx.focused,
            "no clusters match the filter",
            None,
        );
    }

    fn on_action(&mut self, action: &ActionCall, _ctx: &ViewCtx) -> Reply {
        if self.table.apply(&self.table_rows, &action.name) {
            return Reply::Handled;
        }
        match action.name.as_str() {
            "focus-cluster" => match self.table.selected_key() {
                Some(ctx) => Reply::FocusCluster(ctx.to_string()),
                None => Reply::Info("no cluster selected".into()),
            },
            _ => Reply::Unhandled,
        }
    }

    fn filter(&self) -> &str {
        &self.table.filter
    }

    fn set_filter(&mut self, filter: &str) {
        self.table.filter = filter.to_string();
        self.table.sync(&self.table_rows);
    }

    fn uses_problems(&self) -> bool {
        true
    }

    fn badge(&self) -> Option<String> {
        let bad = self
            .rows
            .iter()
            .filter(|r| r.status_role != Role::Ok)
            .count();
        (bad > 0).then(|| format!("{bad}!"))
    }
}

/// Pod counting: how many pods are not ready, and the worst few for the problems column.
pub mod pods {
    use super::PodCounts;
    use crate::cluster::ClusterHandle;
    use crate::k8s::pod::Pod;
    use crate::source::{SourceState, WatchRequest, watch};

    const WORST_SHOWN: usize = 3;

    #[must_use]
    pub fn watches() -> Vec<WatchRequest> {
        vec![watch::<Pod>()]
    }

    #[must_use]
    pub fn revision(c: &ClusterHandle) -> u64 {
        c.source::<Pod>().revision()
    }

    /// Why a pod is not ready, in kubectl's words (`CrashLoopBackOff`, `Pending` …).
    #[must_use]
    pub fn not_ready_reason(pod: &Pod) -> Option<String> {
        let status = pod.status.as_ref();
        let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
        if phase == "Succeeded" || pod.is_ready() {
            return None;
        }
        let waiting = status.and_then(|s| {
            s.container_statuses
                .iter()
                .filter_map(|c| c.state.waiting.as_ref().and_then(|w| w.reason.clone()))
                .next()
        });
        Some(waiting.unwrap_or_else(|| phase.to_string()))
    }

    /// Counts pods in namespaces the scope shows.
    #[must_use]
    pub fn counts(c: &ClusterHandle) -> (Option<PodCounts>, SourceState) {
        let source = c.source::<Pod>();
        let state = source.state();
        let objects = source.objects();
        if objects.is_empty() && !state.is_live() && !matches!(state, SourceState::Stale { .. }) {
            return (None, state);
        }
        let mut counts = PodCounts {
            total: objects.len(),
            ..PodCounts::default()
        };
        let mut failing: Vec<(u8, String, String)> = Vec::new();
        for p in &objects {
            match &p.0 {
                Ok(pod) => {
                    if let Some(reason) = not_ready_reason(pod) {
                        counts.not_ready += 1;
                        // Crash loops and pull errors first: they will not fix themselves.
                        let rank = match reason.as_str() {
                            "CrashLoopBackOff" | "ImagePullBackOff" | "ErrImagePull" | "Failed" => {
                                0
                            }
                            "Pending" | "ContainerCreating" | "Running" => 2,
                            _ => 1,
                        };
                        failing.push((
                            rank,
                            format!(
                                "{}/{}",
                                pod.metadata.namespace.as_deref().unwrap_or(""),
                                pod.metadata.name.as_deref().unwrap_or("?")
                            ),
                            reason,
                        ));
                    }
                }
                Err(e) => {
                    counts.not_ready += 1;
                    failing.push((
                        0,
                        e.metadata.name.clone().unwrap_or_default(),
                        "unreadable".into(),
                    ));
                }
            }
        }
        failing.sort();
        counts.failing = failing
            .into_iter()
            .filter(|(rank, ..)| *rank < 2)
            .take(WORST_SHOWN)
            .map(|(_, n, r)| (n, r))
            .collect();
        (Some(counts), state)
    }
}
