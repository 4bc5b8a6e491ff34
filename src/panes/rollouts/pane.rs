//! The Rollouts pane on the kit: which kinds it reads, how one cluster's objects become rows,
//! what its detail view reads and asks of Prometheus, and where its actions go.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kube::core::DeserializeGuard;
use ratatui::Frame;
use ratatui::layout::Rect;
use serde_json::{Value, json};

use super::detail::{DetailInputs, RolloutDetail, deployment_detail, rollout_detail};
use super::metrics::{
    MetricTarget, MetricsSnapshot, STEP_SECS, WINDOW_SECS, prom_spec, target_for,
};
use super::model::{Attention, Objects, RolloutRow, WorkloadKind, build_rows};
use super::{detail_view, plan, view};
use crate::cluster::ClusterHandle;
use crate::config::Config;
use crate::k8s::apps::{Deployment, ReplicaSet};
use crate::k8s::autoscaling::HorizontalPodAutoscaler;
use crate::k8s::pod::Pod;
use crate::k8s::rollout::{AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate, Rollout};
use crate::keymap::ActionCall;
use crate::pane_actions;
use crate::panes::kit::{
    DetailCx, DrawCx, EmptyTexts, ObjectKey, PaneModel, PromView, RowCache, RowCx, TablePane, worst,
};
use crate::panes::{AddonSpec, Problem, Reply};
use crate::source::{KindSpec, PromSpec, SourceState, Watched, kind};
use crate::widgets::table::{Cell, Column, TableRow};

/// The Rollouts pane.
pub type RolloutsPane = TablePane<RolloutsModel>;

/// The Rollouts pane's own parts (it keeps no state of its own: the kit does).
#[derive(Debug, Default)]
pub struct RolloutsModel;

/// An open detail view: the detail, and the services its charts compare.
#[derive(Debug)]
pub struct RolloutsDetail {
    pub detail: RolloutDetail,
    pub target: Option<MetricTarget>,
    /// Why there are no charts, when there cannot be.
    pub note: Option<&'static str>,
}

fn revisions(c: &ClusterHandle, kinds: &[fn(&ClusterHandle) -> u64]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for k in kinds {
        k(c).hash(&mut h);
    }
    h.finish()
}

fn rev<K: Watched>(c: &ClusterHandle) -> u64 {
    c.sources.revision::<K>()
}

/// What can be read of an unparsable object, for its error row.
fn unreadable<K>(
    objects: &[Arc<DeserializeGuard<K>>],
    kind: WorkloadKind,
    cx: &RowCx<'_>,
    out: &mut Vec<(WorkloadKind, Value, String)>,
) {
    for e in objects.iter().filter_map(|g| g.0.as_ref().err()) {
        if !cx.in_scope(e.metadata.namespace.as_deref()) {
            continue;
        }
        let raw = json!({"metadata": {
            "name": e.metadata.name,
            "namespace": e.metadata.namespace,
            "uid": e.metadata.uid,
        }});
        out.push((kind, raw, e.error.clone()));
    }
}

fn readable<'a, K: Watched>(objects: &'a [Arc<DeserializeGuard<K>>], cx: &RowCx<'_>) -> Vec<&'a K> {
    objects
        .iter()
        .filter_map(|g| g.0.as_ref().ok())
        .filter(|o| cx.in_scope(o.meta().namespace.as_deref()))
        .collect()
}

impl PaneModel for RolloutsModel {
    type Row = RolloutRow;
    type Detail = RolloutsDetail;

    const ID: &'static str = "rollouts";
    const TITLE: &'static str = "Rollouts";
    pane_actions!(
        list: "rollouts",
        detail: "rollout-detail",
        rows: ["promote", "promote-full", "abort", "retry", "undo", "rollback", "pause", "resume", "restart", "scale"]
    );
    const COLUMNS: &'static [Column] = view::COLUMNS;
    const EMPTY: EmptyTexts = EmptyTexts {
        none: "no rollouts or deployments in view",
        not_installed: "Argo Rollouts is not installed on the clusters in view, and there are no \
                        Deployments",
    };
    const ADDONS: &'static [AddonSpec] = &[AddonSpec {
        short: "RO",
        name: "Argo Rollouts",
        resource: ("rollouts", "argoproj.io"),
    }];
    const LIVE_COLUMN: Option<usize> = Some(view::AGE_COLUMN);

    fn kinds(&self) -> Vec<KindSpec> {
        vec![
            kind::<Rollout>(),
            kind::<Deployment>(),
            kind::<ReplicaSet>(),
            kind::<AnalysisRun>(),
            kind::<AnalysisTemplate>(),
            kind::<ClusterAnalysisTemplate>(),
            kind::<Pod>(),
            // `scale` says when an HPA manages the target.
            kind::<HorizontalPodAutoscaler>(),
        ]
    }

    fn state(&self, c: &ClusterHandle) -> SourceState {
        worst(
            c.sources.state::<Rollout>(),
            c.sources.state::<Deployment>(),
        )
    }

    fn revision(&self, c: &ClusterHandle) -> u64 {
        revisions(
            c,
            &[
                rev::<Rollout>,
                rev::<Deployment>,
                rev::<ReplicaSet>,
                rev::<AnalysisRun>,
            ],
        )
    }

    fn rows(
        &self,
        cx: &RowCx<'_>,
        cache: &mut RowCache<RolloutRow>,
        out: &mut Vec<(Arc<RolloutRow>, TableRow)>,
    ) {
        let s = &cx.cluster.sources;
        let (rollouts, deployments) = (s.objects::<Rollout>(), s.objects::<Deployment>());
        let (replica_sets, runs) = (s.objects::<ReplicaSet>(), s.objects::<AnalysisRun>());
        let mut bad = Vec::new();
        unreadable(&rollouts, WorkloadKind::Rollout, cx, &mut bad);
        unreadable(&deployments, WorkloadKind::Deployment, cx, &mut bad);
        let objects = Objects {
            rollouts: &readable(&rollouts, cx),
            deployments: &readable(&deployments, cx),
            replica_sets: &readable(&replica_sets, cx),
            analysis_runs: &readable(&runs, cx),
            unreadable: &bad,
        };
        out.extend(build_rows(
            &cx.cluster.context,
            cx.short,
            &objects,
            cx.now,
            cache,
        ));
    }

    fn object(row: &RolloutRow) -> ObjectKey {
        ObjectKey {
            cluster: row.cluster.clone(),
            kind: row.kind.as_str(),
            namespace: row.namespace.clone(),
            name: row.name.clone(),
        }
    }

    fn live_cell(row: &RolloutRow, now: DateTime<Utc>) -> Cell {
        view::age_cell(row, now)
    }

    fn problem(r: &RolloutRow) -> Option<Problem> {
        r.needs_attention().then(|| Problem {
            cluster: r.cluster.clone(),
            severity: if r.attention == Attention::Broken {
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
    }

    fn detail_revision(&self, c: &ClusterHandle, _key: &ObjectKey) -> u64 {
        revisions(
            c,
            &[
                rev::<Rollout>,
                rev::<Deployment>,
                rev::<ReplicaSet>,
                rev::<Pod>,
                rev::<AnalysisRun>,
                rev::<AnalysisTemplate>,
                rev::<ClusterAnalysisTemplate>,
            ],
        )
    }

    fn detail(&self, cx: &DetailCx<'_>) -> Option<RolloutsDetail> {
        let s = &cx.cluster.sources;
        let ns = cx.key.namespace.as_str();
        let in_ns = |k: Option<Arc<crate::source::KindSource<ReplicaSet>>>| {
            k.map(|k| k.in_namespace(ns)).unwrap_or_default()
        };
        let rss = in_ns(s.kind::<ReplicaSet>());
        let pods = s
            .kind::<Pod>()
            .map(|k| k.in_namespace(ns))
            .unwrap_or_default();
        match cx.key.kind {
            "Rollout" => s.get::<Rollout>(ns, &cx.key.name).map(|ro| {
                let target = target_for(&ro);
                let detail = rollout_detail(&DetailInputs {
                    cluster: &cx.cluster.context,
                    rollout: &ro,
                    deployments: &s
                        .kind::<Deployment>()
                        .map(|k| k.in_namespace(ns))
                        .unwrap_or_default(),
                    replica_sets: &rss,
                    pods: &pods,
                    analysis_runs: &s
                        .kind::<AnalysisRun>()
                        .map(|k| k.in_namespace(ns))
                        .unwrap_or_default(),
                    templates: &s
                        .kind::<AnalysisTemplate>()
                        .map(|k| k.in_namespace(ns))
                        .unwrap_or_default(),
                    cluster_templates: &s
                        .kind::<ClusterAnalysisTemplate>()
                        .map(|k| k.all())
                        .unwrap_or_default(),
                    events: cx.events,
                    now: cx.now,
                });
                RolloutsDetail {
                    note: target.is_none().then_some(
                        "the rollout names no canary/stable (or preview/active) services",
                    ),
                    detail,
                    target,
                }
            }),
            _ => s
                .get::<Deployment>(ns, &cx.key.name)
                .map(|d| RolloutsDetail {
                    detail: deployment_detail(
                        &cx.cluster.context,
                        &d,
                        &rss,
                        &pods,
                        cx.events,
                        cx.now,
                    ),
                    target: None,
                    note: Some("Deployments have no canary/stable split"),
                }),
        }
    }

    fn detail_prom(&self, d: &RolloutsDetail, config: &Config) -> Option<PromSpec> {
        let interval = Duration::from_secs(config.prometheus.interval_secs.max(2));
        d.target
            .as_ref()
            .map(|t| prom_spec(t, &config.queries, interval, WINDOW_SECS, STEP_SECS))
    }

    fn render_detail(&self, d: &RolloutsDetail, frame: &mut Frame, area: Rect, cx: &DrawCx<'_>) {
        let mut note = d.note.map(str::to_string);
        let metrics = match (cx.prom, &d.target) {
            (PromView::Unconfigured, _) => {
                note = Some("no Prometheus configured for this cluster".into());
                None
            }
            (PromView::Data { snapshot, state }, Some(target)) => {
                let mut m = MetricsSnapshot::from_prom(snapshot, target);
                if !state.is_live() {
                    // Say once why data is missing or old, not once per series.
                    note = Some(format!(
                        "{} Prometheus {}",
                        state.symbol(),
                        state.label(cx.clock)
                    ));
                    for s in m.success_rate.iter_mut().chain(m.latency_p99.iter_mut()) {
                        if s.points.is_empty() {
                            s.error = None;
                        }
                    }
                }
                Some(m)
            }
            _ => None,
        };
        detail_view::render_detail(
            frame,
            area,
            &d.detail,
            metrics.as_ref(),
            note.as_deref(),
            cx.scroll,
            cx.theme,
            cx.clock,
        );
    }

    fn plan(&self, action: &ActionCall, row: &RolloutRow, cluster: &ClusterHandle) -> Reply {
        plan::plan(action, row, cluster)
    }
}
