//! The Drift detail view's model (pure): for an Application, what is out of sync (and not
//! healthy), the last operation with its per-resource results, the history to roll back to,
//! conditions, its project's sync windows judged now, and where it belongs (the app-of-apps
//! parent and children, the ApplicationSet that generated it); for a Flux object, its
//! conditions, applied vs attempted revision and Helm history.

use chrono::{DateTime, Utc};

use super::destination::DestLabel;
use super::destination::resolve;
use super::model::{AppContext, DriftRow, app_row, flux_row};
use super::rows::{find_project, window_verdict};
use super::windows::{SyncWindows, judge};
use crate::k8s::apps::Condition;
use crate::k8s::argocd::{
    AppSource, Application, ApplicationSet, HistoryEntry, OperationState, ResourceStatus,
    application_set_health,
};
use crate::k8s::flux::{FluxView, HelmSnapshot};
use crate::panes::kit::WatchedContext;

/// A child Application of an app-of-apps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildApp {
    pub name: String,
    pub sync: String,
    pub health: String,
}

/// The ApplicationSet that generated an app.
#[derive(Debug, Clone, PartialEq)]
pub struct AppSetInfo {
    pub name: String,
    /// Generator kinds; empty when the set is not in the store (only its name is known).
    pub generators: Vec<String>,
    pub strategy: String,
    /// Argo CD's health of the set and its message.
    pub health: Option<(&'static str, String)>,
    pub conditions: Vec<Condition>,
}

/// An Application's detail.
#[derive(Debug, Clone)]
pub struct AppDetail {
    pub row: DriftRow,
    pub sources: Vec<AppSource>,
    pub source_type: String,
    pub reconciled_at: Option<DateTime<Utc>>,
    /// Out-of-sync resources first, then the ones not healthy; by sync wave, kind, name.
    pub resources: Vec<ResourceStatus>,
    pub operation: Option<OperationState>,
    /// Newest first.
    pub history: Vec<HistoryEntry>,
    pub conditions: Vec<Condition>,
    /// The project's name, and whether it is in the store.
    pub project: (String, bool),
    pub windows: Option<SyncWindows>,
    pub parents: Vec<String>,
    pub children: Vec<ChildApp>,
    pub app_set: Option<AppSetInfo>,
}

/// A Flux object's detail.
#[derive(Debug, Clone)]
pub struct FluxDetail {
    pub row: DriftRow,
    /// Path (Kustomization) or chart (HelmRelease).
    pub source: String,
    pub conditions: Vec<Condition>,
    pub last_handled: String,
    pub helm_history: Vec<HelmSnapshot>,
}

/// What the detail view shows.
#[derive(Debug, Clone)]
pub enum DriftDetail {
    App(Box<AppDetail>),
    Flux(Box<FluxDetail>),
}

impl DriftDetail {
    #[must_use]
    pub fn row(&self) -> &DriftRow {
        match self {
            Self::App(a) => &a.row,
            Self::Flux(f) => &f.row,
        }
    }
}

/// What an Application's detail is built from.
pub struct AppInputs<'a> {
    pub cluster: &'a str,
    pub contexts: &'a [WatchedContext],
    pub app: &'a Application,
    /// Every Application of the cluster (parents and children are found among them).
    pub apps: &'a [&'a Application],
    pub projects: &'a [&'a crate::k8s::argocd::AppProject],
    pub app_sets: &'a [&'a ApplicationSet],
    pub now: DateTime<Utc>,
}

fn points_at(r: &ResourceStatus, ns: &str, name: &str) -> bool {
    r.is_application() && r.name == name && (r.namespace.is_empty() || r.namespace == ns)
}

/// An Application's detail.
#[must_use]
pub fn app_detail(i: &AppInputs<'_>) -> AppDetail {
    let app = i.app;
    let st = app.status_or_default();
    let ns = app.metadata.namespace.as_deref().unwrap_or_default();
    let name = app.metadata.name.as_deref().unwrap_or_default();
    let project = find_project(i.projects, app);
    let verdict = window_verdict(app, project, i.now);
    let row = app_row(
        app,
        AppContext {
            cluster: i.cluster,
            dest: resolve(&app.spec.destination, i.cluster, i.contexts),
            window: verdict.as_ref(),
        },
    );
    let mut resources: Vec<ResourceStatus> = st
        .resources
        .iter()
        .filter(|r| r.needs_look())
        .cloned()
        .collect();
    resources.sort_by(|a, b| {
        (
            !a.is_out_of_sync(),
            a.sync_wave.unwrap_or(0),
            &a.kind,
            &a.namespace,
            &a.name,
        )
            .cmp(&(
                !b.is_out_of_sync(),
                b.sync_wave.unwrap_or(0),
                &b.kind,
                &b.namespace,
                &b.name,
            ))
    });
    let mut history = st.history.clone();
    history.sort_by_key(|h| std::cmp::Reverse((h.id, h.deployed_at)));
    let children = st
        .resources
        .iter()
        .filter(|r| r.is_application())
        .map(|r| {
            let child = i.apps.iter().find(|a| {
                a.metadata.name.as_deref() == Some(r.name.as_str())
                    && (r.namespace.is_empty()
                        || a.metadata.namespace.as_deref() == Some(&r.namespace))
            });
            let cst = child.map(|c| c.status_or_default().into_owned());
            ChildApp {
                name: r.name.clone(),
                sync: cst
                    .as_ref()
                    .map_or_else(|| r.status.clone(), |s| s.sync.status.clone()),
                health: cst.as_ref().map_or_else(
                    || {
                        r.health
                            .as_ref()
                            .map(|h| h.status.clone())
                            .unwrap_or_default()
                    },
                    |s| s.health.status.clone(),
                ),
            }
        })
        .collect();
    let parents = i
        .apps
        .iter()
        .filter(|a| {
            a.status
                .as_ref()
                .is_some_and(|s| s.resources.iter().any(|r| points_at(r, ns, name)))
        })
        .filter_map(|a| a.metadata.name.clone())
        .collect();
    let owner = app
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == "ApplicationSet");
    let app_set = owner.map(|o| {
        let set = i.app_sets.iter().find(|s| {
            s.metadata.uid.as_deref() == Some(o.uid.as_str())
                || (s.metadata.name.as_deref() == Some(o.name.as_str())
                    && s.metadata.namespace.as_deref() == Some(ns))
        });
        AppSetInfo {
            name: o.name.clone(),
            generators: set.map(|s| s.spec.generators.clone()).unwrap_or_default(),
            strategy: set.map(|s| s.spec.strategy.clone()).unwrap_or_default(),
            health: set.map(|s| application_set_health(s)),
            conditions: set
                .and_then(|s| s.status.as_ref())
                .map(|s| s.conditions.clone())
                .unwrap_or_default(),
        }
    });
    let windows = project
        .filter(|p| !p.spec.sync_windows.is_empty())
        .map(|p| judge(&p.spec.sync_windows, name, &app.spec.destination, i.now));
    AppDetail {
        row,
        sources: app.sources().into_iter().cloned().collect(),
        source_type: st.source_type.clone(),
        reconciled_at: st.reconciled_at,
        resources,
        operation: st.operation_state.clone(),
        history,
        conditions: st.conditions.clone(),
        project: (
            if app.spec.project.is_empty() {
                "default".into()
            } else {
                app.spec.project.clone()
            },
            project.is_some(),
        ),
        windows,
        parents,
        children,
        app_set,
    }
}

/// A Flux object's detail.
#[must_use]
pub fn flux_detail(f: &FluxView<'_>, cluster: &str, dest: DestLabel) -> FluxDetail {
    FluxDetail {
        row: flux_row(f, cluster, dest),
        source: f.source.to_string(),
        conditions: f.status.map(|s| s.conditions.clone()).unwrap_or_default(),
        last_handled: f
            .status
            .map(|s| s.last_handled_reconcile_at.clone())
            .unwrap_or_default(),
        helm_history: f.status.map(|s| s.history.clone()).unwrap_or_default(),
    }
}
