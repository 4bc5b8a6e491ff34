//! What a table pane supplies to the kit: its rows, columns, detail view and actions. The
//! generic [`super::TablePane`] does the rest (sources, caching, selection, filter, title,
//! empty texts, detail frame and events, Prometheus, problems and badge), so a pane folder
//! holds only what is its own.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;

use super::detail::{EventLine, ObjectKey};
use super::health::EmptyTexts;
use super::rows::{ListRow, RowCache};
use crate::clock::Clock;
use crate::cluster::ClusterHandle;
use crate::config::Config;
use crate::keymap::ActionCall;
use crate::panes::{AddonSpec, Problem, Reply, Scope};
use crate::source::{KindSpec, PromSnapshot, PromSpec, SourceState};
use crate::theme::Theme;
use crate::widgets::table::{Cell, Column, TableRow};

/// A watched context as rows may name it (an Argo CD Application's destination is another
/// cluster, given by API server URL or cluster name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WatchedContext {
    pub context: String,
    /// Its short name, as the CLUSTER columns show it.
    pub short: String,
    /// Its API server URL (`ClusterInfo::server`).
    pub server: String,
}

/// What building one cluster's rows reads.
pub struct RowCx<'a> {
    pub cluster: &'a ClusterHandle,
    /// The context's short name, for a CLUSTER column.
    pub short: &'a str,
    pub scope: &'a Scope,
    pub config: &'a Config,
    pub now: DateTime<Utc>,
    /// The answer to this cluster's [`PaneModel::list_prom`] queries, if the pane has any.
    pub prom: &'a PromView,
    /// Every watched context (in view or not), in kubeconfig order.
    pub contexts: &'a [WatchedContext],
}

impl RowCx<'_> {
    /// Whether an object in `namespace` is in view.
    #[must_use]
    pub fn in_scope(&self, namespace: Option<&str>) -> bool {
        self.scope.includes_namespace(namespace.unwrap_or_default())
    }
}

/// What building a detail view reads.
pub struct DetailCx<'a> {
    pub cluster: &'a ClusterHandle,
    pub key: &'a ObjectKey,
    pub events: &'a [EventLine],
    pub config: &'a Config,
    pub now: DateTime<Utc>,
    /// Every watched context (in view or not), in kubeconfig order.
    pub contexts: &'a [WatchedContext],
    /// The latest answer to the queries the view declared ([`PaneModel::detail_prom`]), so
    /// the series can be prepared here rather than in every frame.
    pub prom: &'a PromView,
}

/// Prometheus data for a view, as the view should explain it.
#[derive(Debug, Clone, Default)]
pub enum PromView {
    /// The view asked for nothing.
    #[default]
    None,
    /// The cluster has no Prometheus configured.
    Unconfigured,
    /// Asked, no answer yet.
    Waiting,
    /// The latest answer and the poller's state.
    Data {
        snapshot: Arc<PromSnapshot>,
        state: SourceState,
    },
}

/// Everything a detail view draws with.
pub struct DrawCx<'a> {
    pub prom: &'a PromView,
    pub events: &'a [EventLine],
    pub scroll: u16,
    pub theme: &'a Theme,
    pub clock: Clock,
}

/// A table pane's own parts.
pub trait PaneModel: Default + Send + 'static {
    type Row: ListRow;
    type Detail: Send;

    const ID: &'static str;
    const TITLE: &'static str;
    const LIST_LAYER: &'static str;
    const DETAIL_LAYER: &'static str;
    /// Actions on a row; both layers accept them.
    const ROW_ACTIONS: &'static [&'static str];
    /// The layers and their actions (see [`crate::pane_actions`]).
    const LAYERS: &'static [(&'static str, &'static [&'static str])];
    const COLUMNS: &'static [Column];
    const EMPTY: EmptyTexts;
    /// Add-on APIs this pane's data comes from, for the Clusters pane.
    const ADDONS: &'static [AddonSpec] = &[];
    /// A column drawn from the clock for the visible rows only (an age), if any.
    const LIVE_COLUMN: Option<usize> = None;

    /// Kinds watched on every cluster.
    fn kinds(&self) -> Vec<KindSpec>;
    /// The state shown for a cluster (the worst of the kinds the rows are made of).
    fn state(&self, cluster: &ClusterHandle) -> SourceState;
    /// Moves whenever anything the rows are built from moves.
    fn revision(&self, cluster: &ClusterHandle) -> u64;
    /// Queries whose answers the rows show (live columns), polled on each cluster in view
    /// while the pane runs; the rows read the answer in [`RowCx::prom`].
    fn list_prom(&self, _cluster: &ClusterHandle, _config: &Config) -> Option<PromSpec> {
        None
    }
    /// Appends one cluster's rows (through `cache`, keyed by their table key).
    fn rows(
        &self,
        cx: &RowCx<'_>,
        cache: &mut RowCache<Self::Row>,
        out: &mut Vec<(Arc<Self::Row>, TableRow)>,
    );
    /// The object a row shows.
    fn object(row: &Self::Row) -> ObjectKey;
    /// The count after the title: `(12 · 2 need attention)`.
    fn counts(rows: usize, attention: usize) -> String {
        format!("({rows} · {attention} need attention)")
    }
    /// The live column's cell for a row.
    fn live_cell(_row: &Self::Row, _now: DateTime<Utc>) -> Cell {
        Cell::default()
    }
    /// A row's problem for the Clusters pane's roll-up.
    fn problem(row: &Self::Row) -> Option<Problem>;

    /// Moves whenever anything the detail of `key` is built from moves.
    fn detail_revision(&self, cluster: &ClusterHandle, key: &ObjectKey) -> u64;
    /// The detail of an object, or `None` if it is gone.
    fn detail(&self, cx: &DetailCx<'_>) -> Option<Self::Detail>;
    /// What the detail view asks of Prometheus.
    fn detail_prom(&self, _detail: &Self::Detail, _config: &Config) -> Option<PromSpec> {
        None
    }
    fn render_detail(&self, detail: &Self::Detail, frame: &mut Frame, area: Rect, cx: &DrawCx<'_>);
    /// Turns a row action into a plan, or says why not.
    fn plan(&self, action: &ActionCall, row: &Self::Row, cluster: &ClusterHandle) -> Reply;
}

/// Declares a table pane's layers: the list layer (with `open-detail`), the detail layer
/// (with `back` and scrolling), and the row actions both accept.
#[macro_export]
macro_rules! pane_actions {
    (list: $list:literal, detail: $detail:literal, rows: [$($a:literal),* $(,)?]) => {
        const LIST_LAYER: &'static str = $list;
        const DETAIL_LAYER: &'static str = $detail;
        const ROW_ACTIONS: &'static [&'static str] = &[$($a),*];
        const LAYERS: &'static [(&'static str, &'static [&'static str])] = &[
            ($list, &["open-detail", $($a),*]),
            ($detail, &["back", "scroll-up", "scroll-down", $($a),*]),
        ];
    };
}
