//! The Rollouts pane: every Argo Rollout (canary, blue-green) and Deployment of the watched
//! clusters in one table, what needs a human first; a live detail view like
//! `kubectl argo rollouts get rollout --watch` with canary-vs-stable charts; and the actions
//! (promote, promote-full, abort, retry, undo, pause, resume, restart; rollback for
//! Deployments) with the upstream tools' exact requests.

pub mod actions;
pub mod detail;
pub mod metrics;
pub mod model;
pub mod plan;
pub mod view;

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use kube::core::DeserializeGuard;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Span;
use serde_json::json;

use self::detail::{DetailInputs, EventLine, RolloutDetail, deployment_detail, rollout_detail};
use self::metrics::{MetricsPoller, target_for};
use self::model::{
    RolloutRow, WorkloadKind, deployment_row_owned, rollout_row_owned, unreadable_row,
};
use super::{Pane, Problem, RenderCtx, Reply, ViewCtx};
use crate::cluster::ClusterHandle;
use crate::k8s::apps::{Deployment, ReplicaSet};
use crate::k8s::core::Event;
use crate::k8s::pod::Pod;
use crate::k8s::rollout::{AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate, Rollout};
use crate::keymap::ActionCall;
use crate::source::{SourceState, WatchRequest, Watched, watch};
use crate::theme::Role;
use crate::widgets::table::{self, TableRow, TableState};

/// The action names of a row, preceded by a view's own (one list, so the keymap check, the
/// command line and the plan builder agree).
macro_rules! with_row_actions {
    ($($own:literal),*) => {
        &[$($own,)* "promote", "promote-full", "abort", "retry", "undo", "rollback", "pause",
          "resume", "restart"]
    };
}
pub(crate) use with_row_actions;

const LIST_ACTIONS: &[&str] = with_row_actions!("open-detail");
const DETAIL_ACTIONS: &[&str] = with_row_actions!("back", "scroll-up", "scroll-down");

/// The object a detail view shows.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DetailKey {
    cluster: String,
    namespace: String,
    name: String,
    kind: WorkloadKind,
}

impl DetailKey {
    fn events_key(&self) -> String {
        format!(
            "rollout-events/{}/{}/{}",
            self.kind.as_str(),
            self.namespace,
            self.name
        )
    }
}

struct DetailView {
    key: DetailKey,
    detail: Option<RolloutDetail>,
    scroll: u16,
    metrics: Option<MetricsPoller>,
    metrics_note: Option<String>,
    fingerprint: Vec<u64>,
    last_second: i64,
}

/// Starts polling canary-vs-stable metrics for an open detail view, or says why not.
fn start_metrics(view: &mut DetailView, cluster: &ClusterHandle, ctx: &ViewCtx, ro: &Rollout) {
    match (cluster.prometheus(), target_for(ro)) {
        (Some(prom), Some(target)) => {
            view.metrics = Some(MetricsPoller::start(
                prom,
                ctx.config.queries.clone(),
                target,
                Duration::from_secs(ctx.config.prometheus.interval_secs.max(2)),
                cluster.notifier(),
            ));
        }
        (None, _) => view.metrics_note = Some("no Prometheus configured for this cluster".into()),
        (_, None) => {
            view.metrics_note =
                Some("the rollout names no canary/stable (or preview/active) services".into());
        }
    }
}

/// A computed row and a hash of what it was computed from (resourceVersions of the object,
/// its ReplicaSets and AnalysisRuns, and the cluster's short name).
struct CachedRow {
    inputs: u64,
    row: Arc<RolloutRow>,
    table: TableRow,
}

fn inputs_hash<R: kube::Resource>(
    short_name: &str,
    meta: &ObjectMeta,
    replica_sets: &[&ReplicaSet],
    runs: &[&R],
) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    short_name.hash(&mut h);
    meta.resource_version.hash(&mut h);
    for rs in replica_sets {
        rs.metadata.resource_version.hash(&mut h);
    }
    for r in runs {
        r.meta().resource_version.hash(&mut h);
    }
    h.finish()
}

/// State of the Rollouts pane.
#[derive(Default)]
pub struct RolloutsPane {
    rows: Vec<Arc<RolloutRow>>,
    table_rows: Vec<TableRow>,
    table: TableState,
    fingerprint: Vec<u64>,
    /// Per-cluster source state of the Rollout kind (worst of Rollout/Deployment).
    states: Vec<(String, SourceState)>,
    detail: Option<DetailView>,
    /// `kdeck rollout NAME [-n NS]`: open when it appears.
    pending_open: Option<(String, Option<String>)>,
    clusters: Vec<Arc<ClusterHandle>>,
    /// Rows by key, so a change to one object recomputes one row.
    row_cache: HashMap<String, CachedRow>,
}

impl std::fmt::Debug for RolloutsPane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RolloutsPane")
            .field("rows", &self.rows.len())
            .finish_non_exhaustive()
    }
}

fn ok_refs<K>(objects: &[Arc<DeserializeGuard<K>>]) -> Vec<&K> {
    objects.iter().filter_map(|g| g.0.as_ref().ok()).collect()
}

fn in_scope<K: Watched>(o: &K, ctx: &ViewCtx) -> bool {
    ctx.scope
        .includes_namespace(o.meta().namespace.as_deref().unwrap_or_default())
}

fn worst(a: SourceState, b: SourceState) -> SourceState {
    if b.severity() > a.severity() { b } else { a }
}

impl RolloutsPane {
    fn compute_rows(&mut self, ctx: &ViewCtx) {
        let now = ctx.clock.now();
        let contexts: Vec<String> = ctx.clusters.iter().map(|c| c.context.clone()).collect();
        let names = super::short_context_names(&contexts);
        let mut pairs: Vec<(Arc<RolloutRow>, TableRow)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut states = Vec::new();
        for c in ctx
            .clusters
            .iter()
            .filter(|c| ctx.scope.includes_cluster(&c.context))
        {
            let ro_src = c.source::<Rollout>();
            let dp_src = c.source::<Deployment>();
            let rollouts = ro_src.objects();
            let deployments = dp_src.objects();
            let replica_sets = c.source::<ReplicaSet>().objects();
            let runs = c.source::<AnalysisRun>().objects();
            let mut rs_by_owner: HashMap<&str, Vec<&ReplicaSet>> = HashMap::new();
            for rs in ok_refs(&replica_sets) {
                for o in rs.metadata.owner_references.iter().flatten() {
                    rs_by_owner.entry(o.uid.as_str()).or_default().push(rs);
                }
            }
            let mut runs_by_owner: HashMap<&str, Vec<&AnalysisRun>> = HashMap::new();
            for run in ok_refs(&runs) {
                for o in run.metadata.owner_references.iter().flatten() {
                    runs_by_owner.entry(o.uid.as_str()).or_default().push(run);
                }
            }
            let short = names.get(&c.context).map_or("", String::as_str);
            for ro in ok_refs(&rollouts).into_iter().filter(|o| in_scope(*o, ctx)) {
                let uid = ro.metadata.uid.as_deref().unwrap_or_default();
                let rss = rs_by_owner.get(uid).map_or(&[][..], Vec::as_slice);
                let owned_runs = runs_by_owner.get(uid).map_or(&[][..], Vec::as_slice);
                let inputs = inputs_hash(short, &ro.metadata, rss, owned_runs);
                pairs.push(self.cached_row(
                    &c.context,
                    &ro.metadata,
                    WorkloadKind::Rollout,
                    inputs,
                    &mut seen,
                    || rollout_row_owned(&c.context, ro, rss, owned_runs, now),
                    &names,
                    now,
                ));
            }
            for d in ok_refs(&deployments)
                .into_iter()
                .filter(|o| in_scope(*o, ctx))
            {
                let uid = d.metadata.uid.as_deref().unwrap_or_default();
                let rss = rs_by_owner.get(uid).map_or(&[][..], Vec::as_slice);
                let inputs = inputs_hash::<AnalysisRun>(short, &d.metadata, rss, &[]);
                pairs.push(self.cached_row(
                    &c.context,
                    &d.metadata,
                    WorkloadKind::Deployment,
                    inputs,
                    &mut seen,
                    || deployment_row_owned(&c.context, d, rss, now),
                    &names,
                    now,
                ));
            }
            // One malformed object is one row that says so, never a missing pane.
            for (g, kind) in rollouts
                .iter()
                .filter_map(|g| g.0.as_ref().err())
                .map(|e| (e, WorkloadKind::Rollout))
                .chain(
                    deployments
                        .iter()
                        .filter_map(|g| g.0.as_ref().err())
                        .map(|e| (e, WorkloadKind::Deployment)),
                )
            {
                if !ctx
                    .scope
                    .includes_namespace(g.metadata.namespace.as_deref().unwrap_or_default())
                {
                    continue;
                }
                let raw = json!({"metadata": {
                    "name": g.metadata.name,
                    "namespace": g.metadata.namespace,
                    "uid": g.metadata.uid,
                }});
                let row = unreadable_row(&c.context, kind, &raw, &g.error);
                let table = view::table_row(&row, &names, now);
                pairs.push((Arc::new(row), table));
            }
            states.push((c.context.clone(), worst(ro_src.state(), dp_src.state())));
        }
        self.row_cache.retain(|k, _| seen.contains(k));
        // Stores iterate in no particular order: fix one, then group by attention (stable).
        pairs.sort_by(|(a, _), (b, _)| {
            (&a.cluster, &a.namespace, &a.name, a.kind.as_str()).cmp(&(
                &b.cluster,
                &b.namespace,
                &b.name,
                b.kind.as_str(),
            ))
        });
        pairs.sort_by_key(|(r, _)| r.attention);
        (self.rows, self.table_rows) = pairs.into_iter().unzip();
        self.states = states;
        self.table.sync(&self.table_rows);
        if let Some((name, ns)) = self.pending_open.clone()
            && let Some(r) = self
                .rows
                .iter()
                .find(|r| r.name == name && ns.as_deref().is_none_or(|n| n == r.namespace))
        {
            let key = DetailKey {
                cluster: r.cluster.clone(),
                namespace: r.namespace.clone(),
                name: r.name.clone(),
                kind: r.kind,
            };
            self.table.select_key(&self.table_rows, &view::row_key(r));
            self.pending_open = None;
            self.open(key);
        }
    }

    /// The row of one object: from the cache when nothing it is computed from moved.
    #[allow(clippy::too_many_arguments)]
    fn cached_row(
        &mut self,
        cluster: &str,
        meta: &ObjectMeta,
        kind: WorkloadKind,
        inputs: u64,
        seen: &mut HashSet<String>,
        compute: impl FnOnce() -> RolloutRow,
        names: &HashMap<String, String>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> (Arc<RolloutRow>, TableRow) {
        let key = format!(
            "{cluster}/{}/{}/{}",
            meta.namespace.as_deref().unwrap_or_default(),
            meta.name.as_deref().unwrap_or_default(),
            kind.as_str()
        );
        seen.insert(key.clone());
        if let Some(c) = self.row_cache.get(&key)
            && c.inputs == inputs
        {
            return (c.row.clone(), c.table.clone());
        }
        let row = Arc::new(compute());
        let table = view::table_row(&row, names, now);
        self.row_cache.insert(
            key,
            CachedRow {
                inputs,
                row: row.clone(),
                table: table.clone(),
            },
        );
        (row, table)
    }

    fn open(&mut self, key: DetailKey) {
        self.detail = Some(DetailView {
            key,
            detail: None,
            scroll: 0,
            metrics: None,
            metrics_note: None,
            fingerprint: Vec::new(),
            last_second: 0,
        });
    }

    fn close(&mut self) {
        if let Some(d) = self.detail.take()
            && let Some(c) = self.clusters.iter().find(|c| c.context == d.key.cluster)
        {
            c.drop_scoped(&d.key.events_key());
        }
    }

    fn update_detail(&mut self, ctx: &ViewCtx) {
        let Some(view) = self.detail.as_mut() else {
            return;
        };
        let Some(cluster) = ctx.clusters.iter().find(|c| c.context == view.key.cluster) else {
            view.detail = None;
            return;
        };
        let key = view.key.clone();
        let key = &key;
        let events_src = cluster.scoped_source::<Event>(
            &key.events_key(),
            Some(&key.namespace),
            Some(&format!("involvedObject.name={}", key.name)),
        );
        let mut fp = vec![
            cluster.source::<Rollout>().revision(),
            cluster.source::<Deployment>().revision(),
            cluster.source::<ReplicaSet>().revision(),
            cluster.source::<Pod>().revision(),
            cluster.source::<AnalysisRun>().revision(),
            cluster.source::<AnalysisTemplate>().revision(),
            events_src.revision(),
        ];
        let metrics_snapshot = view.metrics.as_ref().and_then(MetricsPoller::snapshot);
        fp.push(
            metrics_snapshot
                .as_ref()
                .and_then(|m| m.fetched_at)
                .map_or(0, |t| t.timestamp() as u64),
        );
        let second = ctx.clock.now().timestamp();
        if fp == view.fingerprint && second == view.last_second {
            return;
        }
        view.fingerprint = fp;
        view.last_second = second;
        let now = ctx.clock.now();
        let events: Vec<EventLine> = {
            let mut evs: Vec<EventLine> = events_src
                .objects()
                .iter()
                .filter_map(|g| g.0.as_ref().ok())
                .filter(|e| {
                    e.involved_object.kind.as_deref() == Some(key.kind.as_str())
                        && e.involved_object.name.as_deref() == Some(&key.name)
                })
                .map(|e| EventLine {
                    type_: e.type_.clone().unwrap_or_default(),
                    reason: e.reason.clone().unwrap_or_default(),
                    message: e.message.clone().unwrap_or_default(),
                    count: e.count.unwrap_or(1),
                    last_seen: e.last_seen(),
                })
                .collect();
            evs.sort_by_key(|e| std::cmp::Reverse(e.last_seen));
            evs
        };
        let ns = key.namespace.as_str();
        let rss = cluster.source::<ReplicaSet>().in_namespace(ns);
        let pods = cluster.source::<Pod>().in_namespace(ns);
        view.detail = match key.kind {
            WorkloadKind::Rollout => cluster.source::<Rollout>().get(ns, &key.name).map(|ro| {
                if view.metrics.is_none() {
                    start_metrics(view, cluster, ctx, &ro);
                }
                rollout_detail(&DetailInputs {
                    cluster: &cluster.context,
                    rollout: &ro,
                    replica_sets: &rss,
                    pods: &pods,
                    analysis_runs: &cluster.source::<AnalysisRun>().in_namespace(ns),
                    templates: &cluster.source::<AnalysisTemplate>().in_namespace(ns),
                    cluster_templates: &cluster.source::<ClusterAnalysisTemplate>().all(),
                    events: &events,
                    now,
                })
            }),
            WorkloadKind::Deployment => {
                view.metrics_note = Some("Deployments have no canary/stable split".into());
                cluster
                    .source::<Deployment>()
                    .get(ns, &key.name)
                    .map(|d| deployment_detail(&cluster.context, &d, &rss, &pods, &events, now))
            }
        };
    }

    fn selected_row(&self) -> Option<&RolloutRow> {
        self.table
            .selected_index()
            .and_then(|i| self.rows.get(i))
            .map(|r| &**r)
    }

    fn title_spans(
        &self,
        theme: &crate::theme::Theme,
        clock: crate::clock::Clock,
    ) -> Vec<Span<'static>> {
        let attention = self.rows.iter().filter(|r| r.needs_attention()).count();
        let mut spans = vec![
            Span::styled(" Rollouts ", theme.style(Role::Title)),
            Span::styled(
                format!("({} · {attention} need attention) ", self.rows.len()),
                theme.style(if attention > 0 {
                    Role::Warn
                } else {
                    Role::Muted
                }),
            ),
        ];
        let all_live = self.states.iter().all(|(_, s)| s.is_live());
        if all_live && !self.states.is_empty() {
            spans.push(Span::styled("● live ", theme.style(Role::Ok)));
        } else {
            for (ctx, s) in &self.states {
                spans.push(Span::styled(
                    format!("{} {ctx} {} ", s.symbol(), s.label(clock)),
                    theme.style(s.role()),
                ));
            }
        }
        if !self.table.filter.is_empty() {
            spans.push(Span::styled(
                format!("/{} ", self.table.filter),
                theme.style(Role::Accent),
            ));
        }
        spans
    }
}

impl Pane for RolloutsPane {
    fn id(&self) -> &'static str {
        "rollouts"
    }

    fn title(&self) -> &'static str {
        "Rollouts"
    }

    fn layer(&self) -> &'static str {
        if self.detail.is_some() {
            "rollout-detail"
        } else {
            "rollouts"
        }
    }

    fn layers(&self) -> &'static [(&'static str, &'static [&'static str])] {
        &[
            ("rollouts", LIST_ACTIONS),
            ("rollout-detail", DETAIL_ACTIONS),
        ]
    }

    fn watches(&self) -> Vec<WatchRequest> {
        vec![
            watch::<Rollout>(),
            watch::<Deployment>(),
            watch::<ReplicaSet>(),
            watch::<AnalysisRun>(),
            watch::<AnalysisTemplate>(),
            watch::<ClusterAnalysisTemplate>(),
            watch::<Pod>(),
        ]
    }

    fn update(&mut self, ctx: &ViewCtx) {
        self.clusters = ctx.clusters.to_vec();
        let mut fp: Vec<u64> = Vec::new();
        for c in ctx.clusters {
            fp.push(c.source::<Rollout>().revision());
            fp.push(c.source::<Deployment>().revision());
            fp.push(c.source::<ReplicaSet>().revision());
            fp.push(c.source::<AnalysisRun>().revision());
        }
        fp.push(u64::from(ctx.scope.all_clusters));
        fp.push(ctx.scope.focus.as_ref().map_or(0, |f| f.len() as u64 + 1));
        fp.push(
            ctx.scope
                .namespace
                .as_ref()
                .map_or(0, |f| f.len() as u64 + 1),
        );
        // Step ages are drawn from the clock (see `render`), so only data moves the rows.
        if fp != self.fingerprint {
            self.fingerprint = fp;
            self.compute_rows(ctx);
        }
        self.update_detail(ctx);
    }

    fn render(&mut self, frame: &mut Frame, area: Rect, ctx: &RenderCtx) {
        let theme = ctx.theme;
        if let Some(view) = &self.detail {
            let key = &view.key;
            let mut title = vec![
                Span::styled(
                    format!(" {} {}/{} ", key.kind.as_str(), key.namespace, key.name),
                    theme.style(Role::Title),
                ),
                Span::styled(format!("· {} ", key.cluster), theme.style(Role::Accent)),
            ];
            if let Some((_, s)) = self.states.iter().find(|(c, _)| *c == key.cluster) {
                title.push(Span::styled(
                    format!("{} {} ", s.symbol(), s.label(ctx.clock)),
                    theme.style(s.role()),
                ));
            }
            let block = table::pane_block(title, theme, ctx.focused);
            let inner = block.inner(area);
            frame.render_widget(block, area);
            match &view.detail {
                Some(d) => {
                    let snapshot = view.metrics.as_ref().and_then(MetricsPoller::snapshot);
                    view::render_detail(
                        frame,
                        inner,
                        d,
                        snapshot.as_ref(),
                        view.metrics_note.as_deref(),
                        view.scroll,
                        theme,
                        ctx.clock,
                    );
                }
                None => frame.render_widget(
                    ratatui::widgets::Paragraph::new(format!(
                        "{} {}/{} is not (or no longer) in the {} store",
                        key.kind.as_str(),
                        key.namespace,
                        key.name,
                        key.cluster
                    ))
                    .style(theme.style(Role::Muted)),
                    inner,
                ),
            }
            return;
        }
        let title = self.title_spans(theme, ctx.clock);
        let block = table::pane_block(title, theme, ctx.focused);
        let empty = if self
            .states
            .iter()
            .all(|(_, s)| matches!(s, SourceState::NotInstalled))
            && !self.states.is_empty()
        {
            "Argo Rollouts is not installed on the clusters in view, and there are no Deployments"
        } else if self.states.iter().any(|(_, s)| !s.is_live()) {
            "waiting for data…"
        } else {
            "no rollouts or deployments in view"
        };
        // Ages move every second: drawn from the clock for the visible rows only.
        let now = ctx.clock.now();
        let rows = &self.rows;
        let age = |i: usize| {
            rows.get(i)
                .map_or_else(Default::default, |r| view::age_cell(r, now))
        };
        table::render(
            frame,
            area,
            block,
            view::COLUMNS,
            &self.table_rows,
            &mut self.table,
            theme,
            ctx.focused,
            empty,
            Some((view::AGE_COLUMN, &age)),
        );
    }

    fn on_action(&mut self, action: &ActionCall, ctx: &ViewCtx) -> Reply {
        let name = action.name.as_str();
        if let Some(view) = self.detail.as_mut() {
            match name {
                "back" => {
                    self.close();
                    return Reply::Handled;
                }
                "scroll-up" | "up" => {
                    view.scroll = view.scroll.saturating_sub(1);
                    return Reply::Handled;
                }
                "scroll-down" | "down" => {
                    view.scroll = view.scroll.saturating_add(1);
                    return Reply::Handled;
                }
                "page-up" => {
                    view.scroll = view.scroll.saturating_sub(10);
                    return Reply::Handled;
                }
                "page-down" => {
                    view.scroll = view.scroll.saturating_add(10);
                    return Reply::Handled;
                }
                _ => {}
            }
            if plan::ACTION_NAMES.contains(&name) {
                let key = view.key.clone();
                let Some(row) = self.rows.iter().find(|r| {
                    r.cluster == key.cluster
                        && r.namespace == key.namespace
                        && r.name == key.name
                        && r.kind == key.kind
                }) else {
                    return Reply::Warn(format!("{name}: {}/{} is gone", key.namespace, key.name));
                };
                return match ctx.clusters.iter().find(|c| c.context == key.cluster) {
                    Some(c) => plan::plan(action, row, c),
                    None => Reply::Warn(format!("{name}: cluster {} is not watched", key.cluster)),
                };
            }
            return Reply::Unhandled;
        }
        if self.table.apply(&self.table_rows, name) {
            return Reply::Handled;
        }
        match name {
            "open-detail" => {
                if let Some(target) = action.args.first() {
                    self.pending_open = Some((target.clone(), action.args.get(1).cloned()));
                    self.compute_rows(ctx);
                    if self.pending_open.is_some() {
                        return Reply::Info(format!("waiting for {target} to appear…"));
                    }
                    return Reply::Handled;
                }
                match self.selected_row() {
                    Some(r) => {
                        let key = DetailKey {
                            cluster: r.cluster.clone(),
                            namespace: r.namespace.clone(),
                            name: r.name.clone(),
                            kind: r.kind,
                        };
                        self.open(key);
                        Reply::Handled
                    }
                    None => Reply::Info("no rollout selected".into()),
                }
            }
            n if plan::ACTION_NAMES.contains(&n) => {
                let Some(row) = self.selected_row().cloned() else {
                    return Reply::Info(format!("{n}: nothing selected"));
                };
                match ctx.clusters.iter().find(|c| c.context == row.cluster) {
                    Some(c) => plan::plan(action, &row, c),
                    None => Reply::Warn(format!("{n}: cluster {} is not watched", row.cluster)),
                }
            }
            _ => Reply::Unhandled,
        }
    }

    fn problems(&self) -> Vec<Problem> {
        self.rows
            .iter()
            .filter(|r| r.needs_attention())
            .map(|r| Problem {
                cluster: r.cluster.clone(),
                severity: if r.attention == model::Attention::Broken {
                    2
                } else {
                    1
                },
                text: format!(
                    "{} {}/{} {}{}",
                    if r.kind == WorkloadKind::Rollout {
                        "rollout"
                    } else {
                        "deployment"
                    },
                    r.namespace,
                    r.name,
                    r.status.as_str(),
                    r.reason
                        .as_ref()
                        .map_or_else(String::new, |x| format!(" ({x})"))
                ),
            })
            .collect()
    }

    fn filter(&self) -> &str {
        &self.table.filter
    }

    fn set_filter(&mut self, filter: &str) {
        self.table.filter = filter.to_string();
        self.table.sync(&self.table_rows);
    }

    fn badge(&self) -> Option<String> {
        let n = self.rows.iter().filter(|r| r.needs_attention()).count();
        (n > 0).then(|| format!("{n}!"))
    }
}
