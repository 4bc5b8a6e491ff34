//! The generic table pane: a [`PaneModel`]'s rows in a table, what needs a human first, a
//! detail view with the object's events and its Prometheus queries, and row actions. It
//! declares its sources from the model (kinds on every cluster; the open view's events watch
//! and queries), rebuilds rows only when a revision they come from moves, and prepares in
//! `update` everything `render` draws.

use std::sync::Arc;

use chrono::Timelike;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Paragraph;

use super::detail::{DetailFrame, ObjectKey};
use super::health::{PaneHealth, Styled};
use super::list::ListView;
use super::model::{DetailCx, DrawCx, PaneModel, PromView, RowCx, WatchedContext};
use super::rows::{ListRow, RowCache, sort_rows};
use crate::cluster::ClusterHandle;
use crate::keymap::ActionCall;
use crate::panes::{AddonSpec, Pane, RenderCtx, Reply, Summary, ViewCtx, short_context_names};
use crate::source::{PromSpec, SourceSpec};
use crate::theme::Role;
use crate::widgets::table;

/// An open detail view.
struct OpenDetail<D> {
    frame: DetailFrame,
    detail: Option<D>,
    prom_spec: Option<PromSpec>,
    prom: PromView,
    fingerprint: Vec<u64>,
}

/// A table pane over model `M`.
pub struct TablePane<M: PaneModel> {
    pub model: M,
    list: ListView<M::Row>,
    cache: RowCache<M::Row>,
    fingerprint: Vec<u64>,
    health: PaneHealth,
    title: Vec<Styled>,
    empty: String,
    summary: Summary,
    detail: Option<OpenDetail<M::Detail>>,
    /// `kdeck open PANE NAME`: (name, namespace) to open once it appears.
    pending_open: Option<(String, Option<String>)>,
    /// Each cluster's list queries (context, spec), as declared at the last update.
    list_prom: Vec<(String, PromSpec)>,
}

impl<M: PaneModel> Default for TablePane<M> {
    fn default() -> Self {
        Self {
            model: M::default(),
            list: ListView::default(),
            cache: RowCache::default(),
            fingerprint: Vec::new(),
            health: PaneHealth::default(),
            title: Vec::new(),
            empty: String::new(),
            summary: Summary::default(),
            detail: None,
            pending_open: None,
            list_prom: Vec::new(),
        }
    }
}

/// What a view sees of the poller for `spec` on cluster `c`.
fn prom_view(c: &ClusterHandle, spec: Option<&PromSpec>) -> PromView {
    let Some(spec) = spec else {
        return PromView::None;
    };
    if c.sources.prometheus().is_none() {
        return PromView::Unconfigured;
    }
    match c.sources.prom(&spec.key) {
        Some(p) if p.spec == *spec => PromView::Data {
            snapshot: p.snapshot(),
            state: p.state(),
        },
        _ => PromView::Waiting,
    }
}

/// The list queries of `c` among those declared.
fn list_spec<'a>(declared: &'a [(String, PromSpec)], c: &ClusterHandle) -> Option<&'a PromSpec> {
    declared
        .iter()
        .find(|(ctx, _)| *ctx == c.context)
        .map(|(_, s)| s)
}

impl<M: PaneModel> std::fmt::Debug for TablePane<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TablePane")
            .field("id", &M::ID)
            .field("rows", &self.list.rows().len())
            .finish_non_exhaustive()
    }
}

fn cluster<'a>(ctx: &'a ViewCtx, context: &str) -> Option<&'a Arc<ClusterHandle>> {
    ctx.clusters.iter().find(|c| c.context == context)
}

/// Every watched context with its short name and API server URL.
fn watched_contexts(ctx: &ViewCtx) -> Vec<WatchedContext> {
    let contexts: Vec<String> = ctx.clusters.iter().map(|c| c.context.clone()).collect();
    let names = short_context_names(&contexts);
    ctx.clusters
        .iter()
        .map(|c| WatchedContext {
            short: names.get(&c.context).cloned().unwrap_or_default(),
            context: c.context.clone(),
            server: c.info().server,
        })
        .collect()
}

impl<M: PaneModel> TablePane<M> {
    /// The rows on screen, in order (tests and benchmarks read them).
    #[must_use]
    pub fn rows(&self) -> &[Arc<M::Row>] {
        self.list.rows()
    }

    /// Rows built (not taken from the cache) in the last rebuild.
    #[must_use]
    pub fn rows_built(&self) -> usize {
        self.cache.built
    }

    /// The detail view's model, if one is open and its object exists.
    #[must_use]
    pub fn detail(&self) -> Option<&M::Detail> {
        self.detail.as_ref().and_then(|d| d.detail.as_ref())
    }

    fn rebuild(&mut self, ctx: &ViewCtx) {
        let now = ctx.clock.now();
        let watched = watched_contexts(ctx);
        let mut pairs = Vec::new();
        self.cache.begin();
        for c in ctx
            .clusters
            .iter()
            .filter(|c| ctx.scope.includes_cluster(&c.context))
        {
            let prom = prom_view(c, list_spec(&self.list_prom, c));
            let cx = RowCx {
                cluster: c,
                short: watched
                    .iter()
                    .find(|w| w.context == c.context)
                    .map_or(&c.context, |w| w.short.as_str()),
                scope: ctx.scope,
                config: ctx.config,
                now,
                prom: &prom,
                contexts: &watched,
            };
            self.model.rows(&cx, &mut self.cache, &mut pairs);
        }
        self.cache.end();
        sort_rows(&mut pairs);
        self.list.set(pairs);
        let rows = self.list.rows();
        let attention = rows.iter().filter(|r| r.needs_attention()).count();
        self.summary = Summary {
            badge: (attention > 0).then(|| format!("{attention}!")),
            problems: rows.iter().filter_map(|r| M::problem(r)).collect(),
            attention,
        };
    }

    /// The title's word on the live columns, per cluster whose list queries are not live:
    /// "◐ eu-west prometheus stale since 12:03:04 (retrying in 9s)", so old numbers are
    /// never read as current (the rows keep the last good ones).
    fn list_prom_title(&self, ctx: &ViewCtx) -> Vec<Styled> {
        let mut out = Vec::new();
        for (context, spec) in &self.list_prom {
            let Some(c) = cluster(ctx, context) else {
                continue;
            };
            match prom_view(c, Some(spec)) {
                PromView::Data { state, .. } if !state.is_live() => out.push((
                    format!(
                        "{} {context} prometheus {} ",
                        state.symbol(),
                        state.label(ctx.clock)
                    ),
                    state.role(),
                )),
                PromView::Unconfigured => {
                    out.push((format!("– {context} no prometheus "), Role::Muted));
                }
                _ => {}
            }
        }
        out
    }

    fn resolve_pending_open(&mut self) {
        let Some((name, ns)) = &self.pending_open else {
            return;
        };
        let found = self
            .list
            .rows()
            .iter()
            .zip(self.list.table_rows())
            .find(|(r, _)| {
                let key = M::object(r);
                key.name == *name && ns.as_deref().is_none_or(|n| n == key.namespace)
            });
        if let Some((row, t)) = found {
            let key = M::object(row);
            let table_key = t.key.clone();
            self.list.select_key(&table_key);
            self.pending_open = None;
            self.open(key);
        }
    }

    fn open(&mut self, key: ObjectKey) {
        self.detail = Some(OpenDetail {
            frame: DetailFrame::new(key),
            detail: None,
            prom_spec: None,
            prom: PromView::None,
            fingerprint: Vec::new(),
        });
    }

    fn update_detail(&mut self, ctx: &ViewCtx) {
        let Some(open) = self.detail.as_mut() else {
            return;
        };
        let Some(c) = cluster(ctx, &open.frame.key.cluster) else {
            open.detail = None;
            return;
        };
        let prom_source = open.prom_spec.as_ref().and_then(|s| c.sources.prom(&s.key));
        let fingerprint = vec![
            self.model.detail_revision(c, &open.frame.key),
            open.frame.events_revision(c),
            prom_source.as_ref().map_or(0, |p| p.revision()),
            u64::from(ctx.clock.now().second()),
        ];
        drop(prom_source);
        if fingerprint == open.fingerprint {
            return;
        }
        open.fingerprint = fingerprint;
        open.frame.refresh_events(c);
        open.prom = prom_view(c, open.prom_spec.as_ref());
        open.detail = self.model.detail(&DetailCx {
            cluster: c,
            key: &open.frame.key,
            events: open.frame.events(),
            config: ctx.config,
            now: ctx.clock.now(),
            contexts: &watched_contexts(ctx),
            prom: &open.prom,
        });
        open.prom_spec = open
            .detail
            .as_ref()
            .and_then(|d| self.model.detail_prom(d, ctx.config));
        open.prom = prom_view(c, open.prom_spec.as_ref());
    }

    fn row_of(&self, key: &ObjectKey) -> Option<Arc<M::Row>> {
        self.list
            .rows()
            .iter()
            .find(|r| M::object(r) == *key)
            .cloned()
    }

    fn plan(&self, action: &ActionCall, row: &M::Row, ctx: &ViewCtx) -> Reply {
        let key = M::object(row);
        match cluster(ctx, &key.cluster) {
            Some(c) => self.model.plan(action, row, c),
            None => Reply::Warn(format!(
                "{}: cluster {} is not watched",
                action.name, key.cluster
            )),
        }
    }

    fn detail_action(&mut self, action: &ActionCall, ctx: &ViewCtx) -> Reply {
        let name = action.name.as_str();
        let Some(open) = self.detail.as_mut() else {
            return Reply::Unhandled;
        };
        if name == "back" {
            self.detail = None;
            return Reply::Handled;
        }
        if open.frame.scroll(name) {
            return Reply::Handled;
        }
        if !M::ROW_ACTIONS.contains(&name) {
            return Reply::Unhandled;
        }
        let key = open.frame.key.clone();
        match self.row_of(&key) {
            Some(row) => self.plan(action, &row, ctx),
            None => Reply::Warn(format!("{name}: {} is gone", key.short())),
        }
    }

    fn render_detail(
        &self,
        open: &OpenDetail<M::Detail>,
        frame: &mut Frame,
        area: Rect,
        ctx: &RenderCtx,
    ) {
        let theme = ctx.theme;
        let key = &open.frame.key;
        let mut title = vec![
            Span::styled(
                format!(" {} {}/{} ", key.kind, key.namespace, key.name),
                theme.style(Role::Title),
            ),
            Span::styled(format!("· {} ", key.cluster), theme.style(Role::Accent)),
        ];
        if let Some(s) = self.health.state_of(&key.cluster) {
            title.push(Span::styled(
                format!("{} {} ", s.symbol(), s.label(ctx.clock)),
                theme.style(s.role()),
            ));
        }
        let block = table::pane_block(title, theme, ctx.focused);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        match &open.detail {
            Some(d) => self.model.render_detail(
                d,
                frame,
                inner,
                &DrawCx {
                    prom: &open.prom,
                    events: open.frame.events(),
                    scroll: open.frame.scroll,
                    theme,
                    clock: ctx.clock,
                },
            ),
            None => frame.render_widget(
                Paragraph::new(format!(
                    "{} {}/{} is not (or no longer) in the {} store",
                    key.kind, key.namespace, key.name, key.cluster
                ))
                .style(theme.style(Role::Muted)),
                inner,
            ),
        }
    }
}

impl<M: PaneModel> Pane for TablePane<M> {
    fn id(&self) -> &'static str {
        M::ID
    }

    fn title(&self) -> &'static str {
        M::TITLE
    }

    fn layer(&self) -> &'static str {
        if self.detail.is_some() {
            M::DETAIL_LAYER
        } else {
            M::LIST_LAYER
        }
    }

    fn layers(&self) -> &'static [(&'static str, &'static [&'static str])] {
        M::LAYERS
    }

    fn addons(&self) -> &'static [AddonSpec] {
        M::ADDONS
    }

    fn sources(&self) -> Vec<SourceSpec> {
        let mut out: Vec<SourceSpec> = self
            .model
            .kinds()
            .into_iter()
            .map(SourceSpec::Kind)
            .collect();
        out.extend(
            self.list_prom
                .iter()
                .map(|(cluster, spec)| SourceSpec::Prom {
                    cluster: cluster.clone(),
                    spec: spec.clone(),
                }),
        );
        if let Some(open) = &self.detail {
            out.extend(open.frame.sources());
            if let Some(spec) = &open.prom_spec {
                out.push(SourceSpec::Prom {
                    cluster: open.frame.key.cluster.clone(),
                    spec: spec.clone(),
                });
            }
        }
        out
    }

    fn update(&mut self, ctx: &ViewCtx) {
        let in_view: Vec<&Arc<ClusterHandle>> = ctx
            .clusters
            .iter()
            .filter(|c| ctx.scope.includes_cluster(&c.context))
            .collect();
        self.list_prom = in_view
            .iter()
            .filter_map(|c| {
                self.model
                    .list_prom(c, ctx.config)
                    .map(|s| (c.context.clone(), s))
            })
            .collect();
        let mut fingerprint: Vec<u64> = in_view
            .iter()
            .map(|c| {
                let prom = list_spec(&self.list_prom, c)
                    .and_then(|s| c.sources.prom(&s.key))
                    .map_or(0, |p| p.revision());
                self.model.revision(c).wrapping_add(prom)
            })
            .collect();
        let mut scope = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(ctx.scope, &mut scope);
        std::hash::Hash::hash(&ctx.clusters.len(), &mut scope);
        fingerprint.push(std::hash::Hasher::finish(&scope));
        if fingerprint != self.fingerprint {
            self.fingerprint = fingerprint;
            self.rebuild(ctx);
        }
        self.health = PaneHealth {
            clusters: in_view
                .iter()
                .map(|c| (c.context.clone(), self.model.state(c)))
                .collect(),
        };
        let mut title = vec![
            (format!(" {} ", M::TITLE), Role::Title),
            (
                format!(
                    "{} ",
                    M::counts(self.list.rows().len(), self.summary.attention)
                ),
                if self.summary.attention > 0 {
                    Role::Warn
                } else {
                    Role::Muted
                },
            ),
        ];
        // Old live numbers first: the most urgent thing a title can say, never cut off.
        title.extend(self.list_prom_title(ctx));
        title.extend(self.health.title(ctx.clock));
        if !self.list.filter().is_empty() {
            title.push((format!("/{} ", self.list.filter()), Role::Accent));
        }
        self.title = title;
        self.empty = self.health.empty_text(M::EMPTY, ctx.clock);
        self.resolve_pending_open();
        self.update_detail(ctx);
    }

    fn render(&self, frame: &mut Frame, area: Rect, ctx: &RenderCtx) {
        if let Some(open) = &self.detail {
            self.render_detail(open, frame, area, ctx);
            return;
        }
        let theme = ctx.theme;
        let title: Vec<Span> = self
            .title
            .iter()
            .map(|(t, r)| Span::styled(t.as_str(), theme.style(*r)))
            .collect();
        let block = table::pane_block(title, theme, ctx.focused);
        let now = ctx.clock.now();
        let rows = self.list.rows();
        let live = |i: usize| {
            rows.get(i)
                .map_or_else(Default::default, |r| M::live_cell(r, now))
        };
        self.list.render(
            frame,
            area,
            block,
            M::COLUMNS,
            theme,
            ctx.focused,
            &self.empty,
            M::LIVE_COLUMN.map(|col| (col, &live as &dyn Fn(usize) -> _)),
        );
    }

    fn on_action(&mut self, action: &ActionCall, ctx: &ViewCtx) -> Reply {
        if self.detail.is_some() {
            return self.detail_action(action, ctx);
        }
        let name = action.name.as_str();
        if self.list.apply(name) {
            return Reply::Handled;
        }
        if name == "open-detail" {
            if let Some(target) = action.args.first() {
                // The object may be in stores the rows have not been built from yet.
                self.update(ctx);
                return self.open_named(target, action.args.get(1).map(String::as_str));
            }
            return match self.list.selected() {
                Some(r) => {
                    let key = M::object(r);
                    self.open(key);
                    Reply::Handled
                }
                None => Reply::Info(format!("no {} selected", M::TITLE.to_lowercase())),
            };
        }
        if M::ROW_ACTIONS.contains(&name) {
            let Some(row) = self.list.selected().cloned() else {
                return Reply::Info(format!("{name}: nothing selected"));
            };
            return self.plan(action, &row, ctx);
        }
        Reply::Unhandled
    }

    fn open_named(&mut self, name: &str, namespace: Option<&str>) -> Reply {
        self.detail = None;
        self.pending_open = Some((name.to_string(), namespace.map(str::to_string)));
        self.resolve_pending_open();
        if self.pending_open.is_some() {
            return Reply::Info(format!("waiting for {name} to appear…"));
        }
        Reply::Handled
    }

    fn summary(&self) -> &Summary {
        &self.summary
    }

    fn filter(&self) -> &str {
        self.list.filter()
    }

    fn set_filter(&mut self, filter: &str) {
        self.list.set_filter(filter);
        // The title shows the filter: recomputed with the next update.
    }
}
