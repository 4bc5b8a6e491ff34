//! Drift actions as request data, exactly as the upstream tools send them through the
//! Kubernetes API (nothing here talks to a cluster):
//!
//! - sync and rollback write the top-level `operation` the way the Argo CD API server's
//!   `SetAppOperation` does (`util/argo/argo.go`): refused while an operation is set, the
//!   operation set and `status.operationState` cleared in one write (a merge patch carrying
//!   the resourceVersion just read, as its Update does). The operation is the one the server's
//!   `Sync` builds (`server/application/application.go`): the revision, `prune`/`dryRun` when
//!   asked, the app's `syncOptions`, the hook strategy the CLI sends, the selected resources,
//!   the app's retry policy, `initiatedBy.username`; `Rollback` builds a sync to the history
//!   entry's revision and source with the apply strategy and no retry, and is refused while
//!   automated sync is on or the entry is missing.
//! - refresh and hard refresh: `RefreshApp`'s merge patch of the
//!   `argocd.argoproj.io/refresh` annotation (`normal`/`hard`).
//! - terminate: `TerminateOperation` sets `status.operationState.phase: Terminating` (the
//!   Application CRD has no status subresource, so this is a write of the object).
//! - Flux (`flux` CLI, `cmd/flux/{reconcile,suspend,resume}.go`; Argo CD's Flux actions in
//!   `resource_customizations/*.toolkit.fluxcd.io/*/actions` are the vectors): reconcile
//!   merge-patches `reconcile.fluxcd.io/requestedAt` with the time (refused while suspended),
//!   suspend sets `spec.suspend: true`, resume `spec.suspend: false`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::k8s::argocd::{Application, REFRESH_ANNOTATION};
use crate::k8s::flux::RECONCILE_REQUEST_ANNOTATION;

/// Which resources a sync touches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Selection {
    /// Everything (no `resources` in the operation).
    #[default]
    All,
    /// Only what is out of sync now.
    OutOfSync,
    /// `KIND/NAME` or `GROUP/KIND/NAMESPACE/NAME` as typed.
    Named(Vec<String>),
}

/// The options of a sync, from the command's words.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncArgs {
    pub prune: bool,
    pub dry_run: bool,
    pub force: bool,
    pub selection: Selection,
}

/// Parses `:sync [prune] [dry-run] [force] [oos | KIND/NAME …]`.
///
/// # Errors
/// An unknown word.
pub fn parse_sync_args(args: &[String]) -> Result<SyncArgs, String> {
    let mut out = SyncArgs::default();
    let mut named = Vec::new();
    for a in args {
        match a.as_str() {
            "prune" | "--prune" => out.prune = true,
            "dry-run" | "--dry-run" => out.dry_run = true,
            "force" | "--force" => out.force = true,
            "oos" | "out-of-sync" | "only-out-of-sync" => out.selection = Selection::OutOfSync,
            s if s.contains('/') => named.push(s.to_string()),
            s => {
                return Err(format!(
                    "sync: unknown option {s:?} (prune, dry-run, force, oos, KIND/NAME)"
                ));
            }
        }
    }
    if !named.is_empty() {
        out.selection = Selection::Named(named);
    }
    Ok(out)
}

/// The parsed `rollback ID [prune] [dry-run]`.
///
/// # Errors
/// A missing or unreadable id, or an unknown word.
pub fn parse_rollback_args(args: &[String]) -> Result<(i32, bool, bool), String> {
    let mut id = None;
    let (mut prune, mut dry_run) = (false, false);
    for a in args {
        match a.as_str() {
            "prune" | "--prune" => prune = true,
            "dry-run" | "--dry-run" => dry_run = true,
            s => match s.parse::<i32>() {
                Ok(n) if id.is_none() => id = Some(n),
                _ => return Err(format!("rollback: {s:?} is not a history id")),
            },
        }
    }
    id.map(|i| (i, prune, dry_run))
        .ok_or_else(|| "rollback: which history id?".to_string())
}

/// The `resources` of a selective sync: `{group, kind, name, namespace}` per resource, as
/// `SyncOperationResource` serializes (empty group and namespace omitted).
///
/// # Errors
/// A named resource the app does not track.
pub fn selected_resources(app: &Application, sel: &Selection) -> Result<Vec<Value>, String> {
    let st = app.status_or_default();
    let entry = |r: &crate::k8s::argocd::ResourceStatus| {
        let mut m = Map::new();
        if !r.group.is_empty() {
            m.insert("group".into(), json!(r.group));
        }
        m.insert("kind".into(), json!(r.kind));
        m.insert("name".into(), json!(r.name));
        if !r.namespace.is_empty() {
            m.insert("namespace".into(), json!(r.namespace));
        }
        Value::Object(m)
    };
    match sel {
        Selection::All => Ok(Vec::new()),
        Selection::OutOfSync => {
            let out: Vec<Value> = st
                .resources
                .iter()
                .filter(|r| r.is_out_of_sync())
                .map(entry)
                .collect();
            if out.is_empty() {
                Err("sync: no resource is out of sync".into())
            } else {
                Ok(out)
            }
        }
        Selection::Named(names) => names
            .iter()
            .map(|n| {
                let parts: Vec<&str> = n.split('/').collect();
                st.resources
                    .iter()
                    .find(|r| match parts.as_slice() {
                        [kind, name] => r.kind.eq_ignore_ascii_case(kind) && r.name == *name,
                        [group, kind, ns, name] => {
                            r.group == *group
                                && r.kind.eq_ignore_ascii_case(kind)
                                && r.namespace == *ns
                                && r.name == *name
                        }
                        _ => false,
                    })
                    .map(entry)
                    .ok_or_else(|| format!("sync: {} tracks no resource {n}", app_name(app)))
            })
            .collect(),
    }
}

fn app_name(app: &Application) -> &str {
    app.metadata.name.as_deref().unwrap_or_default()
}

/// The revision a sync deploys: the one Argo CD last resolved the target to (what the screen
/// shows), else the target as written. Multi-source apps send one per source.
#[must_use]
pub fn sync_revision(app: &Application) -> (Option<String>, Vec<String>) {
    let st = app.status_or_default();
    if !app.spec.sources.is_empty() {
        return (None, st.sync.revisions.clone());
    }
    let rev = if st.sync.revision.is_empty() {
        app.spec
            .source
            .as_ref()
            .map(|s| s.target_revision.clone())
            .unwrap_or_default()
    } else {
        st.sync.revision.clone()
    };
    (Some(rev).filter(|r| !r.is_empty()), Vec::new())
}

fn sync_options(app: &Application) -> Option<Value> {
    let opts = &app.spec.sync_policy.as_ref()?.sync_options;
    (!opts.is_empty()).then(|| json!(opts))
}

/// The operation a sync writes.
///
/// # Errors
/// A selection that names resources the app does not track.
pub fn sync_operation(app: &Application, args: &SyncArgs, user: &str) -> Result<Value, String> {
    let mut sync = Map::new();
    let (revision, revisions) = sync_revision(app);
    if let Some(r) = revision {
        sync.insert("revision".into(), json!(r));
    }
    if !revisions.is_empty() {
        sync.insert("revisions".into(), json!(revisions));
    }
    if args.prune {
        sync.insert("prune".into(), json!(true));
    }
    if args.dry_run {
        sync.insert("dryRun".into(), json!(true));
    }
    let mut hook = Map::new();
    if args.force {
        hook.insert("force".into(), json!(true));
    }
    sync.insert("syncStrategy".into(), json!({ "hook": hook }));
    let resources = selected_resources(app, &args.selection)?;
    if !resources.is_empty() {
        sync.insert("resources".into(), json!(resources));
    }
    if let Some(o) = sync_options(app) {
        sync.insert("syncOptions".into(), o);
    }
    let mut op = json!({
        "sync": sync,
        "initiatedBy": { "username": user },
    });
    if let Some(retry) = app.spec.sync_policy.as_ref().and_then(|p| p.retry.clone()) {
        op["retry"] = retry;
    }
    Ok(op)
}

/// The operation a rollback to history `id` writes.
///
/// # Errors
/// Why the server would refuse: automated sync on, the app being deleted, no such entry, or
/// an entry without a source (deployed by Argo CD v0.11 or older).
pub fn rollback_operation(
    app: &Application,
    id: i32,
    prune: bool,
    dry_run: bool,
    user: &str,
) -> Result<Value, String> {
    if app.metadata.deletion_timestamp.is_some() {
        return Err("rollback: application is deleting".into());
    }
    if app.auto_sync().is_some() {
        return Err(
            "rollback: rollback cannot be initiated when auto-sync is enabled \
                    (turn automated sync off first)"
                .into(),
        );
    }
    let st = app.status_or_default();
    let Some(entry) = st.history.iter().find(|h| h.id == Some(id)) else {
        return Err(format!(
            "rollback: application {} does not have deployment with id {id}",
            app_name(app)
        ));
    };
    if entry.source.is_none() && entry.sources.is_none() {
        return Err(
            "rollback: cannot rollback to revision deployed with Argo CD v0.11 or lower. sync \
             to revision instead."
                .into(),
        );
    }
    let mut sync = Map::new();
    if !entry.revision.is_empty() {
        sync.insert("revision".into(), json!(entry.revision));
    }
    if !entry.revisions.is_empty() {
        sync.insert("revisions".into(), json!(entry.revisions));
    }
    if dry_run {
        sync.insert("dryRun".into(), json!(true));
    }
    if prune {
        sync.insert("prune".into(), json!(true));
    }
    if let Some(o) = sync_options(app) {
        sync.insert("syncOptions".into(), o);
    }
    sync.insert("syncStrategy".into(), json!({ "apply": {} }));
    if let Some(s) = &entry.source {
        sync.insert("source".into(), s.clone());
    }
    if let Some(s) = &entry.sources {
        sync.insert("sources".into(), s.clone());
    }
    Ok(json!({ "sync": sync, "initiatedBy": { "username": user } }))
}

/// `SetAppOperation` as one merge patch: the operation set, the last operation's state
/// cleared.
#[must_use]
pub fn set_operation(op: Value) -> Value {
    json!({ "operation": op, "status": { "operationState": null } })
}

/// `RefreshApp`'s patch.
#[must_use]
pub fn refresh(hard: bool) -> Value {
    json!({ "metadata": { "annotations": { REFRESH_ANNOTATION: if hard { "hard" } else { "normal" } } } })
}

/// `TerminateOperation`'s change.
#[must_use]
pub fn terminate() -> Value {
    json!({ "status": { "operationState": { "phase": "Terminating" } } })
}

/// `flux reconcile`'s patch: any new value asks for a reconcile; the CLI writes the time.
#[must_use]
pub fn flux_reconcile(now: DateTime<Utc>) -> Value {
    json!({ "metadata": { "annotations": {
        RECONCILE_REQUEST_ANNOTATION: now.to_rfc3339_opts(SecondsFormat::Nanos, true)
    } } })
}

/// `flux suspend` / `flux resume`.
#[must_use]
pub fn flux_suspend(suspend: bool) -> Value {
    json!({ "spec": { "suspend": suspend } })
}
