//! Turning a key press on a Drift row into an [`ActionPlan`]: the refusals the upstream
//! server makes (an operation already running, automated sync on for a rollback, a sync
//! window that blocks the sync, a suspended Flux object), then the request of
//! [`super::actions`], the words for the confirm dialog, and what the decision rests on for
//! the executor to check again just before sending.

use chrono::Utc;
use serde_json::Value;

use super::actions::{
    self, Selection, parse_rollback_args, parse_sync_args, rollback_operation, set_operation,
    sync_operation,
};
use super::model::{DriftRow, RowKind, short_revision};
use super::rows::find_project;
use super::windows::{Verdict, judge};
use crate::cluster::ClusterHandle;
use crate::exec::plan::{ActionPlan, Check, PlanBuild};
use crate::exec::request::{KubeRequest, PatchType, Target};
use crate::k8s::argocd::{AppProject, Application};
use crate::k8s::flux::{FluxView, HelmRelease, Kustomization};
use crate::keymap::ActionCall;
use crate::panes::{Prompt, Reply};
use crate::source::SourceState;

/// What an Argo CD operation request rests on: no operation set, and the last operation's
/// phase as shown (so one that started meanwhile refuses the write).
fn no_operation_checks(app: &Application) -> Vec<Check> {
    let phase = app
        .status
        .as_ref()
        .and_then(|s| s.operation_state.as_ref())
        .map(|o| o.phase.clone());
    vec![
        Check::new("/operation", Value::Null, "operation in progress"),
        Check::new("/status/operationState/phase", phase, "last operation"),
    ]
}

/// Why an operation cannot be requested now, as the server says it.
fn operation_running(app: &Application) -> Option<String> {
    if app.operation.is_some() {
        return Some("another operation is already in progress".into());
    }
    let st = app.status.as_ref()?.operation_state.as_ref()?;
    st.in_progress()
        .then(|| format!("another operation is already in progress ({})", st.phase))
}

/// One merge patch of the object the decision is about.
struct Ask<'a> {
    action: &'a str,
    target: Target,
    meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    checks: Vec<Check>,
    summary: String,
    body: Value,
}

fn plan(cluster: &ClusterHandle, ask: Ask<'_>, data_state: SourceState) -> Reply {
    let request = KubeRequest::patch(&ask.target, None, PatchType::Merge, ask.body);
    Reply::Plan(Box::new(ActionPlan {
        cluster: cluster.context.clone(),
        action: ask.action.to_string(),
        target: ask.target,
        uid: ask.meta.uid.clone(),
        seen_rv: ask.meta.resource_version.clone().unwrap_or_default(),
        checks: ask.checks,
        summary: ask.summary,
        build: PlanBuild::Ready(vec![request]),
        status_fallback: None,
        data_state,
    }))
}

fn projects(cluster: &ClusterHandle) -> Vec<AppProject> {
    cluster
        .sources
        .objects::<AppProject>()
        .iter()
        .filter_map(|g| g.0.as_ref().ok().cloned())
        .collect()
}

/// Builds the plan for `action` on `row`, or says why not.
#[must_use]
pub fn plan_action(action: &ActionCall, row: &DriftRow, cluster: &ClusterHandle) -> Reply {
    let name = action.name.as_str();
    // What cannot be read cannot be judged (is an operation running?): no action.
    if let Some(problem) = row.problem.as_ref().filter(|p| p.starts_with("unreadable")) {
        return Reply::Warn(format!("{name}: cannot act on this object: {problem}"));
    }
    match row.kind {
        RowKind::Application => plan_app(action, row, cluster),
        RowKind::Kustomization => {
            let Some(k) = cluster
                .sources
                .get::<Kustomization>(&row.namespace, &row.name)
            else {
                return Reply::Warn(format!("{name}: {} is gone", row.key()));
            };
            let state = cluster.sources.state::<Kustomization>();
            plan_flux(
                action,
                &FluxView::of_kustomization(&k),
                Target::of(&k),
                cluster,
                state,
            )
        }
        RowKind::HelmRelease => {
            let Some(h) = cluster
                .sources
                .get::<HelmRelease>(&row.namespace, &row.name)
            else {
                return Reply::Warn(format!("{name}: {} is gone", row.key()));
            };
            let state = cluster.sources.state::<HelmRelease>();
            plan_flux(
                action,
                &FluxView::of_helm_release(&h),
                Target::of(&h),
                cluster,
                state,
            )
        }
    }
}

fn plan_app(action: &ActionCall, row: &DriftRow, cluster: &ClusterHandle) -> Reply {
    let name = action.name.as_str();
    if matches!(name, "reconcile" | "suspend" | "resume") {
        return Reply::Warn(format!(
            "{name}: a Flux action; Argo CD Applications take sync, refresh, rollback, terminate"
        ));
    }
    let Some(app) = cluster
        .sources
        .get::<Application>(&row.namespace, &row.name)
    else {
        return Reply::Warn(format!("{name}: application {} is gone", row.key()));
    };
    let state = cluster.sources.state::<Application>();
    let user = cluster.info().user;
    let target = Target::of(&app);
    let who = format!("{}/{}", row.namespace, row.name);
    match name {
        "sync" => {
            let args = match parse_sync_args(&action.args) {
                Ok(a) => a,
                Err(e) => return Reply::Warn(e),
            };
            if let Some(why) = operation_running(&app) {
                return Reply::Warn(format!("sync: {why}"));
            }
            if app.metadata.deletion_timestamp.is_some() {
                return Reply::Warn("sync: application is deleting".into());
            }
            let project = projects(cluster);
            let refs: Vec<&AppProject> = project.iter().collect();
            if let Some(p) = find_project(&refs, &app) {
                let v = judge(
                    &p.spec.sync_windows,
                    &row.name,
                    &app.spec.destination,
                    Utc::now(),
                );
                if let Verdict::Denied(why) = v.manual {
                    return Reply::Warn(format!("sync: cannot sync: {why}"));
                }
            }
            let op = match sync_operation(&app, &args, &user) {
                Ok(op) => op,
                Err(e) => return Reply::Warn(e),
            };
            let mut checks = no_operation_checks(&app);
            let rev = op.pointer("/sync/revision").and_then(Value::as_str);
            if let Some(r) = rev.filter(|_| app.status.is_some()) {
                checks.push(Check::new("/status/sync/revision", r, "target revision"));
            }
            let mut summary = format!(
                "sync {who} to {} as {user}",
                rev.map_or_else(|| "the target revision".into(), short_revision)
            );
            match &args.selection {
                Selection::All => summary.push_str(", all resources"),
                Selection::OutOfSync => {
                    summary.push_str(&format!(", only the {} out of sync", row.out_of_sync));
                }
                Selection::Named(n) => summary.push_str(&format!(", only {}", n.join(", "))),
            }
            for (on, what) in [
                (args.prune, "prune"),
                (args.dry_run, "dry run"),
                (args.force, "force"),
            ] {
                if on {
                    summary.push_str(&format!(", {what}"));
                }
            }
            plan(
                cluster,
                Ask {
                    action: "sync",
                    target,
                    meta: &app.metadata,
                    checks,
                    summary,
                    body: set_operation(op),
                },
                state,
            )
        }
        "refresh" | "hard-refresh" => {
            let hard = name == "hard-refresh";
            let summary = format!(
                "{} refresh of {who}: the controller compares it with Git again{}",
                if hard { "hard" } else { "normal" },
                if hard {
                    ", regenerating manifests (no cache)"
                } else {
                    ""
                }
            );
            plan(
                cluster,
                Ask {
                    action: name,
                    target,
                    meta: &app.metadata,
                    checks: Vec::new(),
                    summary,
                    body: actions::refresh(hard),
                },
                state,
            )
        }
        "rollback" => plan_rollback(action, row, cluster, &app, &user, state),
        "terminate" => {
            let Some(op) = app
                .status
                .as_ref()
                .and_then(|s| s.operation_state.as_ref())
                .filter(|o| app.operation.is_some() && o.phase == "Running")
            else {
                return Reply::Warn(
                    match app.status.as_ref().and_then(|s| s.operation_state.as_ref()) {
                        Some(o) if o.phase == "Terminating" => {
                            "terminate: the operation is already terminating".into()
                        }
                        _ => {
                            "terminate: Unable to terminate operation. No operation is in progress"
                                .into()
                        }
                    },
                );
            };
            let checks = vec![
                Check::new(
                    "/status/operationState/phase",
                    op.phase.clone(),
                    "operation phase",
                ),
                Check::new(
                    "/status/operationState/startedAt",
                    op.started_at
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                    "operation started",
                ),
            ];
            let summary = format!(
                "terminate the running operation of {who} (started by {}{})",
                if op.initiated_by().is_empty() {
                    "?".into()
                } else {
                    op.initiated_by()
                },
                if op.retry_count > 0 {
                    format!(", retry {}", op.retry_count)
                } else {
                    String::new()
                }
            );
            plan(
                cluster,
                Ask {
                    action: "terminate",
                    target,
                    meta: &app.metadata,
                    checks,
                    summary,
                    body: actions::terminate(),
                },
                state,
            )
        }
        _ => Reply::Unhandled,
    }
}

fn plan_rollback(
    action: &ActionCall,
    row: &DriftRow,
    cluster: &ClusterHandle,
    app: &Application,
    user: &str,
    state: SourceState,
) -> Reply {
    let who = format!("{}/{}", row.namespace, row.name);
    if app.auto_sync().is_some() {
        return Reply::Warn(
            "rollback: rollback cannot be initiated when auto-sync is enabled (turn automated \
             sync off first)"
                .into(),
        );
    }
    let st = app.status_or_default();
    if action.args.is_empty() {
        // Ask, with the previous deployment filled in (what `argocd app rollback` picks).
        let mut ids: Vec<i32> = st.history.iter().filter_map(|h| h.id).collect();
        ids.sort_unstable();
        let Some(newest) = ids.last().copied() else {
            return Reply::Warn(format!("rollback: {who} has no history to roll back to"));
        };
        let previous = ids.iter().rev().nth(1).copied().unwrap_or(newest);
        let listed: Vec<String> = ids.iter().rev().take(5).map(i32::to_string).collect();
        return Reply::Prompt(Prompt {
            label: format!(
                "rollback {who} to history id ({}; deployed {newest})",
                listed.join(" ")
            ),
            action: ActionCall {
                name: "rollback".into(),
                args: Vec::new(),
            },
            initial: previous.to_string(),
        });
    }
    let (id, prune, dry_run) = match parse_rollback_args(&action.args) {
        Ok(a) => a,
        Err(e) => return Reply::Warn(e),
    };
    if let Some(why) = operation_running(app) {
        return Reply::Warn(format!("rollback: {why}"));
    }
    let op = match rollback_operation(app, id, prune, dry_run, user) {
        Ok(op) => op,
        Err(e) => return Reply::Warn(e),
    };
    let idx = st
        .history
        .iter()
        .position(|h| h.id == Some(id))
        .unwrap_or(0);
    let entry = &st.history[idx];
    let automated = app
        .spec
        .sync_policy
        .as_ref()
        .and_then(|p| p.automated.clone());
    let mut checks = no_operation_checks(app);
    checks.push(Check::new(
        "/spec/syncPolicy/automated",
        automated,
        "automated sync",
    ));
    checks.push(Check::new(
        &format!("/status/history/{idx}/id"),
        id,
        "history id",
    ));
    checks.push(Check::new(
        &format!("/status/history/{idx}/revision"),
        entry.revision.clone(),
        "history revision",
    ));
    let mut summary = format!(
        "roll {who} back to history {id} ({}) as {user}; it stays OutOfSync until Git moves",
        short_revision(&entry.revision)
    );
    let projects = projects(cluster);
    let refs: Vec<&AppProject> = projects.iter().collect();
    let manual = find_project(&refs, app).map(|p| {
        judge(
            &p.spec.sync_windows,
            &row.name,
            &app.spec.destination,
            Utc::now(),
        )
        .manual
    });
    if let Some(Verdict::Denied(why)) = manual {
        summary.push_str(&format!(
            "; note: {why}: the controller holds it until the window allows"
        ));
    }
    for (on, what) in [(prune, "prune"), (dry_run, "dry run")] {
        if on {
            summary.push_str(&format!(", {what}"));
        }
    }
    plan(
        cluster,
        Ask {
            action: "rollback",
            target: Target::of(app),
            meta: &app.metadata,
            checks,
            summary,
            body: set_operation(op),
        },
        state,
    )
}

fn plan_flux(
    action: &ActionCall,
    f: &FluxView<'_>,
    target: Target,
    cluster: &ClusterHandle,
    state: SourceState,
) -> Reply {
    let name = action.name.as_str();
    let who = format!(
        "{} {}/{}",
        f.kind,
        f.meta.namespace.as_deref().unwrap_or_default(),
        f.meta.name.as_deref().unwrap_or_default()
    );
    let (body, summary) = match name {
        "reconcile" | "refresh" | "hard-refresh" => {
            if f.suspended {
                return Reply::Warn(format!("reconcile: {who}: resource is suspended"));
            }
            (
                actions::flux_reconcile(Utc::now()),
                format!("ask Flux to reconcile {who} now"),
            )
        }
        "suspend" => {
            if f.suspended {
                return Reply::Warn(format!("suspend: {who} is already suspended"));
            }
            (
                actions::flux_suspend(true),
                format!("suspend {who}: Flux stops reconciling it (drift stays)"),
            )
        }
        "resume" => {
            if !f.suspended {
                return Reply::Warn(format!("resume: {who} is not suspended"));
            }
            (
                actions::flux_suspend(false),
                format!("resume {who}: Flux reconciles it again"),
            )
        }
        "sync" | "rollback" | "terminate" => {
            return Reply::Warn(format!(
                "{name}: an Argo CD action; Flux objects take reconcile, suspend, resume"
            ));
        }
        _ => return Reply::Unhandled,
    };
    let action_name = if name.ends_with("refresh") {
        "reconcile"
    } else {
        name
    };
    plan(
        cluster,
        Ask {
            action: action_name,
            target,
            meta: f.meta,
            checks: Vec::new(),
            summary,
            body,
        },
        state,
    )
}
