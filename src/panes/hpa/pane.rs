//! The HPA pane on the kit: which kinds it reads, how one cluster's objects become rows, what
//! its detail view reads and asks of Prometheus, and where its actions go.
//!
//! The one piece of state of its own is the replica history kdeck has seen ([`History`]),
//! behind a `Mutex`: the kit calls `rows` (through `&self`) exactly when the stores the rows
//! come from moved, which is exactly when there is something new to record, so recording
//! there needs no kit change and no extra pass. The lock is taken once per cluster rebuild
//! and once per detail rebuild, never while drawing (rows and the detail carry copies).

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use kube::core::DeserializeGuard;
use ratatui::Frame;
use ratatui::layout::Rect;
use serde_json::{Value, json};

use super::detail::{HpaDetail, build, keda_view, prom_spec, vpa_view};
use super::history::History;
use super::model::{
    HpaRow, Objects, RowKind, State, Targets, build_rows, current_and_desired, history_key,
    hpa_row, so_row, so_target,
};
use super::{detail_view, plan, view};
use crate::cluster::ClusterHandle;
use crate::config::Config;
use crate::k8s::apps::{Deployment, StatefulSet};
use crate::k8s::autoscaling::{HorizontalPodAutoscaler, ScaledObject, VerticalPodAutoscaler};
use crate::k8s::rollout::Rollout;
use crate::keymap::ActionCall;
use crate::pane_actions;
use crate::panes::kit::{
    DetailCx, DrawCx, EmptyTexts, ListRow, ObjectKey, PaneModel, RowCache, RowCx, TablePane,
};
use crate::panes::{Problem, Reply};
use crate::source::{KindSpec, PromSpec, SourceState, Watched, kind};
use crate::widgets::table::{Cell, Column, TableRow};

/// The HPA pane.
pub type HpaPane = TablePane<HpaModel>;

/// The HPA pane's own parts: the replica history seen since kdeck started.
#[derive(Debug, Default)]
pub struct HpaModel {
    history: Mutex<History>,
}

impl HpaModel {
    fn history(&self) -> MutexGuard<'_, History> {
        self.history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many HPAs have a history (tests and benchmarks).
    #[must_use]
    pub fn history_len(&self) -> usize {
        self.history().len()
    }
}

fn rev<K: Watched>(c: &ClusterHandle) -> u64 {
    c.sources.revision::<K>()
}

fn revisions(c: &ClusterHandle, kinds: &[fn(&ClusterHandle) -> u64]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for k in kinds {
        k(c).hash(&mut h);
    }
    h.finish()
}

fn readable<'a, K: Watched>(objects: &'a [Arc<DeserializeGuard<K>>], cx: &RowCx<'_>) -> Vec<&'a K> {
    objects
        .iter()
        .filter_map(|g| g.0.as_ref().ok())
        .filter(|o| cx.in_scope(o.meta().namespace.as_deref()))
        .collect()
}

fn all<K: Watched>(c: &ClusterHandle, ns: &str) -> Vec<K> {
    c.sources
        .kind::<K>()
        .map(|k| k.in_namespace(ns))
        .unwrap_or_default()
}

impl PaneModel for HpaModel {
    type Row = HpaRow;
    type Detail = HpaDetail;

    const ID: &'static str = "hpa";
    const TITLE: &'static str = "HPA";
    pane_actions!(
        list: "hpa",
        detail: "hpa-detail",
        rows: ["scale", "set-min-max", "pause", "resume"]
    );
    const COLUMNS: &'static [Column] = view::COLUMNS;
    const EMPTY: EmptyTexts = EmptyTexts {
        none: "no HorizontalPodAutoscalers in view",
        not_installed: "the clusters in view do not serve autoscaling/v2 \
                        HorizontalPodAutoscalers",
    };
    const LIVE_COLUMN: Option<usize> = Some(view::SCALED_COLUMN);

    fn kinds(&self) -> Vec<KindSpec> {
        vec![
            kind::<HorizontalPodAutoscaler>(),
            kind::<Deployment>(),
            kind::<StatefulSet>(),
            kind::<Rollout>(),
            kind::<ScaledObject>(),
            kind::<VerticalPodAutoscaler>(),
        ]
    }

    fn state(&self, c: &ClusterHandle) -> SourceState {
        c.sources.state::<HorizontalPodAutoscaler>()
    }

    fn revision(&self, c: &ClusterHandle) -> u64 {
        revisions(
            c,
            &[
                rev::<HorizontalPodAutoscaler>,
                rev::<Deployment>,
                rev::<StatefulSet>,
                rev::<Rollout>,
                rev::<ScaledObject>,
            ],
        )
    }

    fn rows(
        &self,
        cx: &RowCx<'_>,
        cache: &mut RowCache<HpaRow>,
        out: &mut Vec<(Arc<HpaRow>, TableRow)>,
    ) {
        let s = &cx.cluster.sources;
        let hpas = s.objects::<HorizontalPodAutoscaler>();
        let (deployments, statefulsets) = (s.objects::<Deployment>(), s.objects::<StatefulSet>());
        let (rollouts, scaled) = (s.objects::<Rollout>(), s.objects::<ScaledObject>());
        let unreadable: Vec<(Value, String)> = hpas
            .iter()
            .filter_map(|g| g.0.as_ref().err())
            .filter(|e| cx.in_scope(e.metadata.namespace.as_deref()))
            .map(|e| {
                let raw = json!({"metadata": {
                    "name": e.metadata.name,
                    "namespace": e.metadata.namespace,
                    "uid": e.metadata.uid,
                }});
                (raw, e.error.clone())
            })
            .collect();
        let objects = Objects {
            hpas: &readable(&hpas, cx),
            deployments: &readable(&deployments, cx),
            statefulsets: &readable(&statefulsets, cx),
            rollouts: &readable(&rollouts, cx),
            scaled_objects: &readable(&scaled, cx),
            unreadable: &unreadable,
        };
        let mut history = self.history();
        out.extend(build_rows(
            &cx.cluster.context,
            cx.short,
            &objects,
            cx.now,
            &mut history,
            cache,
        ));
        // Forget the history of HPAs that are gone (from any namespace, in view or not).
        let exists: HashSet<String> = hpas
            .iter()
            .filter_map(|g| g.0.as_ref().ok())
            .map(|h| {
                history_key(
                    &cx.cluster.context,
                    h.metadata.namespace.as_deref().unwrap_or_default(),
                    h.metadata.name.as_deref().unwrap_or_default(),
                )
            })
            .collect();
        history.retain_cluster(&cx.cluster.context, &exists);
    }

    fn object(row: &HpaRow) -> ObjectKey {
        ObjectKey {
            cluster: row.cluster.clone(),
            kind: row.kind.as_str(),
            namespace: row.namespace.clone(),
            name: row.name.clone(),
        }
    }

    fn live_cell(row: &HpaRow, now: DateTime<Utc>) -> Cell {
        view::scaled_cell(row, now)
    }

    fn problem(r: &HpaRow) -> Option<Problem> {
        r.needs_attention().then(|| Problem {
            cluster: r.cluster.clone(),
            severity: if matches!(r.state, State::UnableToScale | State::Unreadable) {
                2
            } else {
                1
            },
            text: format!(
                "hpa {}/{} {}{}",
                r.namespace,
                r.name,
                r.state.as_str(),
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
                rev::<HorizontalPodAutoscaler>,
                rev::<Deployment>,
                rev::<StatefulSet>,
                rev::<Rollout>,
                rev::<ScaledObject>,
                rev::<VerticalPodAutoscaler>,
            ],
        )
    }

    fn detail(&self, cx: &DetailCx<'_>) -> Option<HpaDetail> {
        let c = cx.cluster;
        let s = &c.sources;
        let ns = cx.key.namespace.as_str();
        let (deployments, statefulsets, rollouts) = (
            all::<Deployment>(c, ns),
            all::<StatefulSet>(c, ns),
            all::<Rollout>(c, ns),
        );
        let (d, st, ro): (Vec<_>, Vec<_>, Vec<_>) = (
            deployments.iter().collect(),
            statefulsets.iter().collect(),
            rollouts.iter().collect(),
        );
        let targets = Targets::new(&d, &st, &ro);
        let scaled = all::<ScaledObject>(c, ns);
        let vpas = all::<VerticalPodAutoscaler>(c, ns);
        let (row, hpa) = match cx.key.kind {
            "ScaledObject" => {
                let so = scaled
                    .iter()
                    .find(|so| so.metadata.name.as_deref() == Some(&cx.key.name))?;
                let t = so_target(so);
                let (info, _) = targets.find(ns, &t);
                (so_row(&c.context, so, t, &info), None)
            }
            _ => {
                let hpa = s.get::<HorizontalPodAutoscaler>(ns, &cx.key.name)?;
                let (info, _) = targets.find(ns, &hpa.spec.scale_target_ref);
                let owner = hpa.keda_owner().and_then(|so| {
                    scaled
                        .iter()
                        .find(|o| o.metadata.name.as_deref() == Some(so))
                });
                let (current, _) = current_and_desired(&hpa, &info);
                let row = hpa_row(
                    &c.context,
                    &hpa,
                    &info,
                    owner,
                    current,
                    Arc::from(Vec::new()),
                    cx.now,
                );
                (row, Some(hpa))
            }
        };
        let seen = if row.kind == RowKind::Hpa {
            self.history()
                .samples(&history_key(&c.context, &row.namespace, &row.name))
        } else {
            Vec::new()
        };
        Some(build(
            &row,
            hpa.as_ref(),
            seen,
            cx.events,
            keda_view(&row, &s.state::<ScaledObject>(), &scaled),
            vpa_view(&row, &s.state::<VerticalPodAutoscaler>(), &vpas),
            cx.now,
        ))
    }

    fn detail_prom(&self, d: &HpaDetail, config: &Config) -> Option<PromSpec> {
        prom_spec(d, config)
    }

    fn render_detail(&self, d: &HpaDetail, frame: &mut Frame, area: Rect, cx: &DrawCx<'_>) {
        detail_view::render(d, frame, area, cx);
    }

    fn plan(&self, action: &ActionCall, row: &HpaRow, cluster: &ClusterHandle) -> Reply {
        plan::plan(action, row, cluster)
    }
}
