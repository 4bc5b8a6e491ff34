//! Drift rows computed from store snapshots (pure functions): an Argo CD Application or a
//! Flux Kustomization/HelmRelease in, a [`DriftRow`] out, with what needs a human first.
//!
//! Fields follow what Argo CD shows (`argocd app get`: sync status, health, the last
//! operation, auto-sync policy, target and deployed revision, conditions) and what `flux get`
//! shows (Ready, last applied vs last attempted revision, suspended). kdeck's additions are the
//! destination named as a watched context ([`super::destination`]), whether a sync window
//! blocks automated syncs now ([`super::windows`]), and the attention order ([`Attention`]).

use chrono::{DateTime, Utc};

use super::destination::DestLabel;
use super::windows::Verdict;
use crate::k8s::argocd::{Application, AutoSync};
use crate::k8s::flux::FluxView;
use crate::panes::kit::ListRow;

/// Which kind of object a row shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowKind {
    Application,
    Kustomization,
    HelmRelease,
}

impl RowKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Application => "Application",
            Self::Kustomization => "Kustomization",
            Self::HelmRelease => "HelmRelease",
        }
    }

    #[must_use]
    pub fn is_flux(self) -> bool {
        !matches!(self, Self::Application)
    }
}

/// How much a row needs a human; rows sort by it, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Attention {
    /// A failed (or failing) operation, Degraded, an error condition, Ready=False, unreadable.
    Broken = 0,
    /// Out of sync with nothing to bring it back (no self-heal, or a window blocks it),
    /// Missing, Unknown.
    NeedsSync = 1,
    /// Moving on its own: an operation running, Progressing, self-heal pending, suspended.
    Moving = 2,
    Fine = 3,
}

/// The last (or current) operation, as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpSummary {
    /// `Running`, `Terminating`, `Succeeded`, `Failed`, `Error` (Flux: the Ready reason).
    pub phase: String,
    pub message: String,
    /// When it finished, else when it started.
    pub at: Option<DateTime<Utc>>,
    pub retry_count: i32,
    pub initiated_by: String,
}

impl OpSummary {
    #[must_use]
    pub fn running(&self) -> bool {
        matches!(self.phase.as_str(), "Running" | "Terminating")
    }

    #[must_use]
    pub fn failed(&self) -> bool {
        matches!(self.phase.as_str(), "Failed" | "Error")
            || (self.running() && self.retry_count > 0)
    }
}

/// One row of the Drift table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftRow {
    /// Kubeconfig context the object lives in.
    pub cluster: String,
    pub kind: RowKind,
    pub namespace: String,
    pub name: String,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    /// Argo CD project; `flux` for Flux objects.
    pub project: String,
    pub dest: DestLabel,
    /// `Synced`, `OutOfSync`, `Unknown` (Flux: `Synced`, `OutOfSync`, `Reconciling`,
    /// `Suspended`); empty before any comparison.
    pub sync: String,
    /// `Healthy`, `Progressing`, `Degraded`, `Suspended`, `Missing`, `Unknown` or empty.
    pub health: String,
    pub health_message: String,
    /// Resources out of sync, of all tracked (Flux: inventory size, none out of sync).
    pub out_of_sync: usize,
    pub resources: usize,
    pub op: Option<OpSummary>,
    /// Automated sync, if on (Argo CD).
    pub auto: Option<AutoSync>,
    pub suspended: bool,
    /// Deployed (or last applied) revision, full.
    pub deployed: String,
    /// Target (or last attempted) revision, full.
    pub target: String,
    /// Condition types (Argo CD) or the Ready reason (Flux).
    pub conditions: Vec<String>,
    /// Why automated syncs are blocked by a sync window now, if they are.
    pub window: Option<String>,
    /// A refresh/reconcile request the controller has not picked up yet.
    pub requested: Option<String>,
    pub attention: Attention,
    /// Why the row ranks where it does, in words (for the Clusters pane's roll-up).
    pub reason: String,
    /// Why the object cannot be read or acted on, if so.
    pub problem: Option<String>,
}

impl ListRow for DriftRow {
    fn rank(&self) -> u8 {
        self.attention as u8
    }

    fn needs_attention(&self) -> bool {
        self.attention <= Attention::NeedsSync
    }
}

impl DriftRow {
    /// `cluster/namespace/name/kind`: the row's identity.
    #[must_use]
    pub fn key(&self) -> String {
        row_key(
            &self.cluster,
            &self.namespace,
            &self.name,
            self.kind.as_str(),
        )
    }
}

/// A row's identity across updates.
#[must_use]
pub fn row_key(cluster: &str, namespace: &str, name: &str, kind: &str) -> String {
    format!("{cluster}/{namespace}/{name}/{kind}")
}

/// A revision as the table shows it: a commit id to 7 characters (`main@sha1:abc…` keeps its
/// ref), anything else (a tag, a chart version) as written.
#[must_use]
pub fn short_revision(rev: &str) -> String {
    let (head, id) = if let Some((r, id)) = rev
        .split_once("@sha1:")
        .or_else(|| rev.split_once("@sha256:"))
    {
        (format!("{r}@"), id)
    } else if let Some((r, id)) = rev.rsplit_once('/') {
        // Older Flux revisions: `master/67e2c98…`.
        (format!("{r}/"), id)
    } else {
        (String::new(), rev)
    };
    let id = id.rsplit_once(':').map_or(id, |(_, h)| h);
    if id.len() >= 12 && id.chars().all(|c| c.is_ascii_hexdigit()) {
        format!("{head}{}", &id[..7])
    } else {
        format!("{head}{id}")
    }
}

/// Conditions Argo CD reports as errors (`*Error`) rather than warnings.
fn is_error_condition(t: &str) -> bool {
    t.ends_with("Error")
}

/// What a caller knows besides the object: where it is, where it deploys, and the verdict of
/// its project's sync windows for automated syncs.
pub struct AppContext<'a> {
    pub cluster: &'a str,
    pub dest: DestLabel,
    pub window: Option<&'a Verdict>,
}

/// An Application's row.
#[must_use]
pub fn app_row(app: &Application, cx: AppContext<'_>) -> DriftRow {
    let st = app.status_or_default();
    let auto = app.auto_sync();
    let out_of_sync = st.resources.iter().filter(|r| r.is_out_of_sync()).count();
    let op = st.operation_state.as_ref().map(|o| OpSummary {
        phase: o.phase.clone(),
        message: o.message.clone(),
        at: o.finished_at.or(o.started_at),
        retry_count: o.retry_count,
        initiated_by: o.initiated_by(),
    });
    let deployed = st
        .history
        .iter()
        .max_by_key(|h| (h.id, h.deployed_at))
        .map(|h| {
            h.revisions
                .first()
                .cloned()
                .unwrap_or_else(|| h.revision.clone())
        })
        .unwrap_or_default();
    let target = if st.sync.revision.is_empty() {
        st.sync.revisions.first().cloned().unwrap_or_default()
    } else {
        st.sync.revision.clone()
    };
    let conditions: Vec<String> = st.conditions.iter().map(|c| c.type_.clone()).collect();
    let window = cx.window.and_then(|v| match v {
        Verdict::Denied(why) => Some(why.clone()),
        _ => None,
    });
    let mut row = DriftRow {
        cluster: cx.cluster.to_string(),
        kind: RowKind::Application,
        namespace: app.metadata.namespace.clone().unwrap_or_default(),
        name: app.metadata.name.clone().unwrap_or_default(),
        uid: app.metadata.uid.clone(),
        resource_version: app.metadata.resource_version.clone(),
        project: app.spec.project.clone(),
        dest: cx.dest,
        sync: st.sync.status.clone(),
        health: st.health.status.clone(),
        health_message: st.health.message.clone(),
        out_of_sync,
        resources: st.resource_count(),
        op,
        auto,
        suspended: false,
        deployed,
        target,
        conditions,
        window,
        requested: app.refresh_requested().map(str::to_string),
        attention: Attention::Fine,
        reason: String::new(),
        problem: app
            .malformed
            .as_ref()
            .map(|m| format!("unreadable {m}"))
            .or_else(|| {
                app.status
                    .is_none()
                    .then(|| "no status yet: no controller has processed it".to_string())
            }),
    };
    (row.attention, row.reason) = app_attention(app, &row);
    row
}

fn app_attention(app: &Application, r: &DriftRow) -> (Attention, String) {
    if app.malformed.is_some() {
        return (Attention::Broken, "unreadable".into());
    }
    if let Some(op) = r.op.as_ref().filter(|o| o.failed()) {
        let what = if op.running() {
            format!("sync failing, retry {}", op.retry_count)
        } else {
            format!("last sync {}", op.phase)
        };
        return (Attention::Broken, what);
    }
    if r.health == "Degraded" {
        return (Attention::Broken, "Degraded".into());
    }
    if let Some(c) = r.conditions.iter().find(|c| is_error_condition(c)) {
        return (Attention::Broken, c.clone());
    }
    if r.op.as_ref().is_some_and(OpSummary::running) {
        return (Attention::Moving, "operation running".into());
    }
    // A resource out of sync counts even if the app-level status lags behind.
    if r.sync == "OutOfSync" || r.out_of_sync > 0 {
        let heals = r.auto.is_some_and(|a| a.self_heal) && r.window.is_none();
        let what = if r.out_of_sync == 0 {
            "OutOfSync".to_string()
        } else {
            format!("OutOfSync: {} of {} resources", r.out_of_sync, r.resources)
        };
        return if heals {
            (Attention::Moving, format!("{what}, self-heal pending"))
        } else {
            (Attention::NeedsSync, what)
        };
    }
    if matches!(r.health.as_str(), "Missing" | "Unknown") || r.sync == "Unknown" {
        let what = if r.sync == "Unknown" {
            "sync Unknown"
        } else {
            &r.health
        };
        return (Attention::NeedsSync, what.to_string());
    }
    if app.status.is_none() || r.health == "Progressing" {
        return (Attention::Moving, "Progressing".into());
    }
    (Attention::Fine, String::new())
}

/// A Flux Kustomization's or HelmRelease's row.
#[must_use]
pub fn flux_row(f: &FluxView<'_>, cluster: &str, dest: DestLabel) -> DriftRow {
    let ready = f.condition("Ready");
    let reconciling = f.condition("Reconciling").is_some_and(|c| c.is_true());
    let (applied, attempted) = (f.applied(), f.attempted());
    let health = match ready.map(|c| c.status.as_str()) {
        Some("True") => "Healthy",
        Some("False") => "Degraded",
        Some(_) => "Progressing",
        None => "",
    };
    let sync = if f.suspended {
        "Suspended"
    } else if !attempted.is_empty() && !applied.is_empty() && attempted != applied {
        "OutOfSync"
    } else if reconciling || ready.is_some_and(|c| c.status == "Unknown") {
        "Reconciling"
    } else if ready.is_some() {
        "Synced"
    } else {
        ""
    };
    let kind = if f.kind == "HelmRelease" {
        RowKind::HelmRelease
    } else {
        RowKind::Kustomization
    };
    let op = ready.map(|c| OpSummary {
        phase: c.reason.clone().unwrap_or_default(),
        message: c.message.clone().unwrap_or_default(),
        at: c.last_transition_time,
        retry_count: 0,
        initiated_by: String::new(),
    });
    let mut row = DriftRow {
        cluster: cluster.to_string(),
        kind,
        namespace: f.meta.namespace.clone().unwrap_or_default(),
        name: f.meta.name.clone().unwrap_or_default(),
        uid: f.meta.uid.clone(),
        resource_version: f.meta.resource_version.clone(),
        project: "flux".into(),
        dest,
        sync: sync.into(),
        health: health.into(),
        health_message: ready.and_then(|c| c.message.clone()).unwrap_or_default(),
        out_of_sync: 0,
        resources: f.status.and_then(|s| s.inventory).unwrap_or(0),
        op,
        auto: None,
        suspended: f.suspended,
        deployed: applied.to_string(),
        target: attempted.to_string(),
        conditions: ready.and_then(|c| c.reason.clone()).into_iter().collect(),
        window: None,
        requested: f.reconcile_pending().map(str::to_string),
        attention: Attention::Fine,
        reason: String::new(),
        problem: f.malformed.map(|m| format!("unreadable {m}")).or_else(|| {
            f.status
                .is_none()
                .then(|| "no status yet: no controller has processed it".to_string())
        }),
    };
    row.attention = if f.malformed.is_some() || health == "Degraded" {
        row.reason = if f.malformed.is_some() {
            "unreadable".into()
        } else {
            format!("not Ready ({})", row.conditions.join(""))
        };
        Attention::Broken
    } else if sync == "OutOfSync" && !reconciling {
        row.reason = format!("last attempted {} not applied", short_revision(attempted));
        Attention::NeedsSync
    } else if f.suspended || health == "Progressing" || sync == "Reconciling" {
        row.reason = if f.suspended {
            "suspended"
        } else {
            "reconciling"
        }
        .into();
        Attention::Moving
    } else {
        Attention::Fine
    };
    row
}

/// The row of an object that could not be read at all.
#[must_use]
pub fn unreadable_row(
    cluster: &str,
    kind: RowKind,
    namespace: &str,
    name: &str,
    uid: Option<String>,
    error: &str,
) -> DriftRow {
    DriftRow {
        cluster: cluster.to_string(),
        kind,
        namespace: namespace.to_string(),
        name: name.to_string(),
        uid,
        resource_version: None,
        project: String::new(),
        dest: DestLabel::default(),
        sync: String::new(),
        health: String::new(),
        health_message: String::new(),
        out_of_sync: 0,
        resources: 0,
        op: None,
        auto: None,
        suspended: false,
        deployed: String::new(),
        target: String::new(),
        conditions: Vec::new(),
        window: None,
        requested: None,
        attention: Attention::Broken,
        reason: "unreadable".into(),
        problem: Some(format!("unreadable: {error}")),
    }
}
