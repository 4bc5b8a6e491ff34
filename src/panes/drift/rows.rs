//! Building one cluster's Drift rows: a row per Application (with its project's sync
//! windows judged now and its destination named), per Flux Kustomization and HelmRelease, and
//! an error row per object that could not be read; each built only when what it is built from
//! moved ([`build_rows`] is what the pane runs and what the tests and benchmark check).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::destination::{DestLabel, resolve};
use super::model::{AppContext, DriftRow, RowKind, app_row, flux_row, row_key, unreadable_row};
use super::view::table_row;
use super::windows::{Verdict, judge};
use crate::k8s::argocd::{AppProject, Application};
use crate::k8s::flux::{FluxView, HelmRelease, Kustomization};
use crate::panes::kit::{Inputs, RowCache, WatchedContext};
use crate::widgets::table::TableRow;

/// An object that could not be read: kind, namespace, name, uid, why.
pub type Unreadable = (RowKind, String, String, Option<String>, String);

/// One cluster's objects, as the rows read them.
#[derive(Debug, Default)]
pub struct Objects<'a> {
    pub apps: &'a [&'a Application],
    pub projects: &'a [&'a AppProject],
    pub kustomizations: &'a [&'a Kustomization],
    pub helm_releases: &'a [&'a HelmRelease],
    pub unreadable: &'a [Unreadable],
}

/// Where the rows are built.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// Kubeconfig context.
    pub cluster: &'a str,
    /// Its short name, for the CLUSTER column.
    pub short: &'a str,
    /// Every watched context, to name destinations.
    pub contexts: &'a [WatchedContext],
    pub now: DateTime<Utc>,
}

/// The project an app belongs to: the one of that name in the app's namespace, else anywhere
/// (Applications in other namespaces use the control plane's projects).
fn project_of<'a>(projects: &[&'a AppProject], app: &Application) -> Option<&'a AppProject> {
    let name = if app.spec.project.is_empty() {
        "default"
    } else {
        app.spec.project.as_str()
    };
    let named = |p: &&&AppProject| p.metadata.name.as_deref() == Some(name);
    projects
        .iter()
        .filter(named)
        .find(|p| p.metadata.namespace == app.metadata.namespace)
        .or_else(|| projects.iter().find(named))
        .copied()
}

/// The sync-window verdict for automated syncs of `app` now, if its project has windows.
#[must_use]
pub fn window_verdict(
    app: &Application,
    project: Option<&AppProject>,
    now: DateTime<Utc>,
) -> Option<Verdict> {
    let windows = &project?.spec.sync_windows;
    if windows.is_empty() {
        return None;
    }
    let name = app.metadata.name.as_deref().unwrap_or_default();
    Some(judge(windows, name, &app.spec.destination, now).automated)
}

/// Builds the rows (through `cache`), unsorted.
pub fn build_rows(
    place: &Place<'_>,
    objects: &Objects<'_>,
    cache: &mut RowCache<DriftRow>,
) -> Vec<(Arc<DriftRow>, TableRow)> {
    let mut out = Vec::with_capacity(
        objects.apps.len() + objects.kustomizations.len() + objects.helm_releases.len(),
    );
    let contexts_hash = Inputs::new().with(&place.contexts).finish();
    let short = place.short;
    let mut table = |r: &DriftRow, key: Arc<str>| table_row(r, key, short);
    for app in objects.apps {
        let ns = app.metadata.namespace.as_deref().unwrap_or_default();
        let name = app.metadata.name.as_deref().unwrap_or_default();
        let project = project_of(objects.projects, app);
        let verdict = window_verdict(app, project, place.now);
        let mut inputs = Inputs::new()
            .meta(&app.metadata)
            .with(&contexts_hash)
            .with(&short)
            .with(&verdict);
        if let Some(p) = project {
            inputs = inputs.meta(&p.metadata);
        }
        let key = row_key(place.cluster, ns, name, RowKind::Application.as_str());
        out.push(cache.row(
            &key,
            inputs.finish(),
            || {
                let dest = resolve(&app.spec.destination, place.cluster, place.contexts);
                app_row(
                    app,
                    AppContext {
                        cluster: place.cluster,
                        dest,
                        window: verdict.as_ref(),
                    },
                )
            },
            &mut table,
        ));
    }
    let flux: Vec<FluxView<'_>> = objects
        .kustomizations
        .iter()
        .map(|k| FluxView::of_kustomization(k))
        .chain(
            objects
                .helm_releases
                .iter()
                .map(|h| FluxView::of_helm_release(h)),
        )
        .collect();
    for f in &flux {
        let ns = f.meta.namespace.as_deref().unwrap_or_default();
        let name = f.meta.name.as_deref().unwrap_or_default();
        let key = row_key(place.cluster, ns, name, f.kind);
        let inputs = Inputs::new().meta(f.meta).with(&short).with(&contexts_hash);
        out.push(cache.row(
            &key,
            inputs.finish(),
            || {
                let own = place.contexts.iter().find(|c| c.context == place.cluster);
                let dest = DestLabel {
                    context: Some(place.cluster.to_string()),
                    cluster: own.map_or_else(|| place.short.to_string(), |c| c.short.clone()),
                    namespace: if f.target_namespace.is_empty() {
                        ns.to_string()
                    } else {
                        f.target_namespace.to_string()
                    },
                };
                flux_row(f, place.cluster, dest)
            },
            &mut table,
        ));
    }
    for (kind, ns, name, uid, error) in objects.unreadable {
        let key = row_key(place.cluster, ns, name, kind.as_str());
        let inputs = Inputs::new().with(uid).with(error).with(&short).finish();
        out.push(cache.row(
            &key,
            inputs,
            || unreadable_row(place.cluster, *kind, ns, name, uid.clone(), error),
            &mut table,
        ));
    }
    out
}

/// Projects by name, for the detail view and actions.
#[must_use]
pub fn projects_by_name<'a>(projects: &[&'a AppProject]) -> HashMap<&'a str, &'a AppProject> {
    projects
        .iter()
        .filter_map(|p| p.metadata.name.as_deref().map(|n| (n, *p)))
        .collect()
}

/// The project `app` belongs to among `projects`.
#[must_use]
pub fn find_project<'a>(projects: &[&'a AppProject], app: &Application) -> Option<&'a AppProject> {
    project_of(projects, app)
}
