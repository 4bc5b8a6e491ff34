//! The Drift pane on the kit: which kinds it reads (Argo CD Applications, AppProjects and
//! ApplicationSets; Flux Kustomizations and HelmReleases), how one cluster's objects become
//! rows, what its detail view reads, and where its actions go.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use kube::core::DeserializeGuard;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::destination::DestLabel;
use super::detail::{AppInputs, DriftDetail, app_detail, flux_detail};
use super::model::{DriftRow, RowKind};
use super::rows::{Objects, Place, Unreadable, build_rows};
use super::{detail_view, plan, view};
use crate::cluster::ClusterHandle;
use crate::k8s::argocd::{AppProject, Application, ApplicationSet};
use crate::k8s::flux::{FluxView, HelmRelease, Kustomization};
use crate::keymap::ActionCall;
use crate::pane_actions;
use crate::panes::kit::{
    DetailCx, DrawCx, EmptyTexts, ListRow, ObjectKey, PaneModel, RowCache, RowCx, TablePane, worst,
};
use crate::panes::{AddonSpec, Problem, Reply};
use crate::source::{KindSpec, SourceState, Watched, kind};
use crate::widgets::table::{Cell, Column, TableRow};

/// The Drift pane.
pub type DriftPane = TablePane<DriftModel>;

/// The Drift pane's own parts (it keeps no state of its own: the kit does).
#[derive(Debug, Default)]
pub struct DriftModel;

fn rev<K: Watched>(c: &ClusterHandle) -> u64 {
    c.sources.revision::<K>()
}

fn readable<K: Watched>(objects: &[Arc<DeserializeGuard<K>>]) -> Vec<&K> {
    objects.iter().filter_map(|g| g.0.as_ref().ok()).collect()
}

/// What can be read of unparsable objects, for their error rows.
fn unreadable<K: Watched>(
    objects: &[Arc<DeserializeGuard<K>>],
    kind: RowKind,
    cx: &RowCx<'_>,
    out: &mut Vec<Unreadable>,
) {
    for e in objects.iter().filter_map(|g| g.0.as_ref().err()) {
        if !cx.in_scope(e.metadata.namespace.as_deref()) {
            continue;
        }
        out.push((
            kind,
            e.metadata.namespace.clone().unwrap_or_default(),
            e.metadata.name.clone().unwrap_or_default(),
            e.metadata.uid.clone(),
            e.error.clone(),
        ));
    }
}

/// Whether any project of the cluster has sync windows (rows then change with the clock).
fn has_windows(c: &ClusterHandle) -> bool {
    c.sources
        .objects::<AppProject>()
        .iter()
        .filter_map(|g| g.0.as_ref().ok())
        .any(|p| !p.spec.sync_windows.is_empty())
}

impl PaneModel for DriftModel {
    type Row = DriftRow;
    type Detail = DriftDetail;

    const ID: &'static str = "drift";
    const TITLE: &'static str = "Drift";
    pane_actions!(
        list: "drift",
        detail: "drift-detail",
        rows: ["sync", "refresh", "hard-refresh", "rollback", "terminate", "reconcile", "suspend", "resume"]
    );
    const COLUMNS: &'static [Column] = view::COLUMNS;
    const EMPTY: EmptyTexts = EmptyTexts {
        none: "no Argo CD applications or Flux objects in view",
        not_installed: "neither Argo CD nor Flux is installed on the clusters in view",
    };
    const ADDONS: &'static [AddonSpec] = &[
        AddonSpec {
            short: "CD",
            name: "Argo CD",
            resource: ("applications", "argoproj.io"),
        },
        AddonSpec {
            short: "FX",
            name: "Flux",
            resource: ("kustomizations", "kustomize.toolkit.fluxcd.io"),
        },
    ];
    const LIVE_COLUMN: Option<usize> = Some(view::LAST_OP_COLUMN);

    fn kinds(&self) -> Vec<KindSpec> {
        vec![
            kind::<Application>(),
            kind::<AppProject>(),
            kind::<ApplicationSet>(),
            kind::<Kustomization>(),
            kind::<HelmRelease>(),
        ]
    }

    /// Argo CD's state where it is installed; Flux's alongside it where Flux is; not installed
    /// only when neither is (a cluster without Flux is not "partly" anything).
    fn state(&self, c: &ClusterHandle) -> SourceState {
        let states = [
            c.sources.state::<Application>(),
            c.sources.state::<Kustomization>(),
            c.sources.state::<HelmRelease>(),
        ];
        states
            .into_iter()
            .filter(|s| !matches!(s, SourceState::NotInstalled))
            .reduce(worst)
            .unwrap_or(SourceState::NotInstalled)
    }

    fn revision(&self, c: &ClusterHandle) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for r in [
            rev::<Application>(c),
            rev::<AppProject>(c),
            rev::<Kustomization>(c),
            rev::<HelmRelease>(c),
        ] {
            r.hash(&mut h);
        }
        // Sync windows open and close with the clock: judge them again every minute.
        if has_windows(c) {
            (Utc::now().timestamp() / 60).hash(&mut h);
        }
        h.finish()
    }

    fn rows(
        &self,
        cx: &RowCx<'_>,
        cache: &mut RowCache<DriftRow>,
        out: &mut Vec<(Arc<DriftRow>, TableRow)>,
    ) {
        let s = &cx.cluster.sources;
        let (apps, projects) = (s.objects::<Application>(), s.objects::<AppProject>());
        let (ks, hrs) = (s.objects::<Kustomization>(), s.objects::<HelmRelease>());
        let mut bad = Vec::new();
        unreadable(&apps, RowKind::Application, cx, &mut bad);
        unreadable(&ks, RowKind::Kustomization, cx, &mut bad);
        unreadable(&hrs, RowKind::HelmRelease, cx, &mut bad);
        // An app is in view by its own namespace or the one it deploys to.
        let apps: Vec<&Application> = readable(&apps)
            .into_iter()
            .filter(|a| {
                cx.in_scope(a.metadata.namespace.as_deref())
                    || cx.in_scope(Some(a.spec.destination.namespace.as_str()))
            })
            .collect();
        let in_scope = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            cx.in_scope(m.namespace.as_deref())
        };
        let ks: Vec<&Kustomization> = readable(&ks)
            .into_iter()
            .filter(|k| in_scope(&k.metadata) || cx.in_scope(Some(&k.spec.target_namespace)))
            .collect();
        let hrs: Vec<&HelmRelease> = readable(&hrs)
            .into_iter()
            .filter(|h| in_scope(&h.metadata) || cx.in_scope(Some(&h.spec.target_namespace)))
            .collect();
        let objects = Objects {
            apps: &apps,
            projects: &readable(&projects),
            kustomizations: &ks,
            helm_releases: &hrs,
            unreadable: &bad,
        };
        let place = Place {
            cluster: &cx.cluster.context,
            short: cx.short,
            contexts: cx.contexts,
            now: cx.now,
        };
        out.extend(build_rows(&place, &objects, cache));
    }

    fn object(row: &DriftRow) -> ObjectKey {
        ObjectKey {
            cluster: row.cluster.clone(),
            kind: row.kind.as_str(),
            namespace: row.namespace.clone(),
            name: row.name.clone(),
        }
    }

    fn counts(rows: usize, attention: usize) -> String {
        format!("({rows} · {attention} need attention)")
    }

    fn live_cell(row: &DriftRow, now: DateTime<Utc>) -> Cell {
        view::last_op_cell(row, Some(now))
    }

    fn problem(r: &DriftRow) -> Option<Problem> {
        r.needs_attention().then(|| Problem {
            cluster: r.cluster.clone(),
            severity: if r.rank() == 0 { 2 } else { 1 },
            text: format!(
                "{} {}/{} {}",
                if r.kind.is_flux() { "flux" } else { "app" },
                r.namespace,
                r.name,
                r.reason
            ),
        })
    }

    fn detail_revision(&self, c: &ClusterHandle, _key: &ObjectKey) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for r in [
            rev::<Application>(c),
            rev::<AppProject>(c),
            rev::<ApplicationSet>(c),
            rev::<Kustomization>(c),
            rev::<HelmRelease>(c),
        ] {
            r.hash(&mut h);
        }
        h.finish()
    }

    fn detail(&self, cx: &DetailCx<'_>) -> Option<DriftDetail> {
        let s = &cx.cluster.sources;
        let (ns, name) = (cx.key.namespace.as_str(), cx.key.name.as_str());
        let own = || DestLabel {
            context: Some(cx.cluster.context.clone()),
            cluster: cx
                .contexts
                .iter()
                .find(|c| c.context == cx.cluster.context)
                .map_or_else(|| cx.cluster.context.clone(), |c| c.short.clone()),
            namespace: String::new(),
        };
        match cx.key.kind {
            "Application" => {
                let app = s.get::<Application>(ns, name)?;
                let (apps, projects, sets) = (
                    s.objects::<Application>(),
                    s.objects::<AppProject>(),
                    s.objects::<ApplicationSet>(),
                );
                Some(DriftDetail::App(Box::new(app_detail(&AppInputs {
                    cluster: &cx.cluster.context,
                    contexts: cx.contexts,
                    app: &app,
                    apps: &readable(&apps),
                    projects: &readable(&projects),
                    app_sets: &readable(&sets),
                    now: cx.now,
                }))))
            }
            "Kustomization" => {
                let k = s.get::<Kustomization>(ns, name)?;
                let f = FluxView::of_kustomization(&k);
                let dest = DestLabel {
                    namespace: ns_or(f.target_namespace, ns),
                    ..own()
                };
                Some(DriftDetail::Flux(Box::new(flux_detail(
                    &f,
                    &cx.cluster.context,
                    dest,
                ))))
            }
            "HelmRelease" => {
                let h = s.get::<HelmRelease>(ns, name)?;
                let f = FluxView::of_helm_release(&h);
                let dest = DestLabel {
                    namespace: ns_or(f.target_namespace, ns),
                    ..own()
                };
                Some(DriftDetail::Flux(Box::new(flux_detail(
                    &f,
                    &cx.cluster.context,
                    dest,
                ))))
            }
            _ => None,
        }
    }

    fn render_detail(&self, d: &DriftDetail, frame: &mut Frame, area: Rect, cx: &DrawCx<'_>) {
        detail_view::render(d, frame, area, cx);
    }

    fn plan(&self, action: &ActionCall, row: &DriftRow, cluster: &ClusterHandle) -> Reply {
        plan::plan_action(action, row, cluster)
    }
}

fn ns_or(target: &str, own: &str) -> String {
    if target.is_empty() {
        own.to_string()
    } else {
        target.to_string()
    }
}
