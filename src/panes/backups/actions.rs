//! The Backups pane's actions as plans for the executor, each what the Velero CLI sends:
//! - `backup-now`: `velero backup create --from-schedule S` — a Backup built from the Schedule
//!   as read just before sending (its template, labels, annotations, owner reference), named
//!   `<schedule>-<UTC yyyymmddhhmmss>` at that moment, created in the schedule's namespace
//!   (the Velero namespace). The decision rests on the schedule itself (its uid).
//! - `pause` / `resume`: `velero schedule pause|unpause S` sets `spec.paused`; sent as a merge
//!   patch of that one field (the CLI updates the whole object it just read; both carry the
//!   resourceVersion of that read). Already in that state: nothing is sent, as the CLI skips.

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use super::model::{BackupsRow, RowKind, backup_from_schedule};
use crate::cluster::ClusterHandle;
use crate::exec::plan::{ActionPlan, Permission, PlanBuild};
use crate::exec::request::{KubeRequest, PatchType, Target};
use crate::k8s::velero::Schedule;
use crate::keymap::ActionCall;
use crate::panes::Reply;

/// Where `backup-now` creates: the Backups of the schedule's namespace (the name is chosen
/// when sending).
#[must_use]
pub fn backups_target(namespace: &str, name: &str) -> Target {
    Target {
        group: crate::k8s::velero::GROUP.into(),
        version: crate::k8s::velero::VERSION.into(),
        kind: "Backup".into(),
        plural: "backups".into(),
        namespace: Some(namespace.to_string()),
        name: name.to_string(),
    }
}

/// Builds the plan for `action` on `row`, or says why not.
#[must_use]
pub fn plan(action: &ActionCall, row: &BackupsRow, cluster: &ClusterHandle) -> Reply {
    let name = action.name.as_str();
    if row.kind != RowKind::Schedule {
        return Reply::Warn(format!(
            "{name}: select a schedule ({} {} is a {})",
            row.kind.as_str(),
            row.name,
            row.kind.as_str()
        ));
    }
    let Some(s) = cluster.sources.get::<Schedule>(&row.namespace, &row.name) else {
        return Reply::Warn(format!(
            "{name}: schedule {}/{} is gone",
            row.namespace, row.name
        ));
    };
    let target = Target::of(&s);
    let (summary, build) = match name {
        "backup-now" => backup_now(&s),
        "pause" | "resume" => {
            let pause = name == "pause";
            if s.spec.paused == pause {
                return Reply::Info(format!(
                    "{name}: schedule {}/{} is already {}",
                    row.namespace,
                    row.name,
                    if pause { "paused" } else { "running" }
                ));
            }
            let summary = if pause {
                format!(
                    "pause schedule {}: spec.paused → true; Velero takes no backups until it \
                     is resumed",
                    row.name
                )
            } else {
                format!(
                    "resume schedule {}: spec.paused → false; Velero runs it at its next cron \
                     time (or at once if a run is overdue)",
                    row.name
                )
            };
            (
                summary,
                PlanBuild::Ready(vec![KubeRequest::patch(
                    &target,
                    None,
                    PatchType::Merge,
                    json!({"spec": {"paused": pause}}),
                )]),
            )
        }
        _ => return Reply::Unhandled,
    };
    Reply::Plan(Box::new(ActionPlan {
        cluster: cluster.context.clone(),
        action: name.to_string(),
        target,
        uid: s.metadata.uid.clone(),
        seen_rv: s.metadata.resource_version.clone().unwrap_or_default(),
        checks: Vec::new(),
        summary,
        build,
        status_fallback: None,
        data_state: cluster.sources.state::<Schedule>(),
    }))
}

fn backup_now(s: &Schedule) -> (String, PlanBuild) {
    let ns = s.metadata.namespace.clone().unwrap_or_default();
    let name = s.metadata.name.clone().unwrap_or_default();
    let t = &s.spec.template;
    let namespaces = if t.included_namespaces.is_empty() {
        "all namespaces".to_string()
    } else {
        t.included_namespaces.join(",")
    };
    let mut summary = format!(
        "create Backup {name}-<UTC yyyymmddhhmmss> in {ns} from the schedule's template \
         ({namespaces} → {}, TTL {}), as `velero backup create --from-schedule {name}`",
        t.storage_location.as_deref().unwrap_or("default location"),
        t.ttl.as_deref().unwrap_or("server default"),
    );
    if s.spec.paused {
        summary.push_str("; the schedule is paused, this backup runs anyway");
    }
    let collection = backups_target(&ns, "");
    let describe = format!(
        "POST {} Backup {name}-<time of sending>, spec = the schedule's template as read then",
        collection.collection_path()
    );
    let build = PlanBuild::FromTarget {
        sends: vec![Permission {
            verb: "create",
            target: collection,
            subresource: None,
        }],
        describe,
        build: Arc::new(move |live| {
            let body = backup_from_schedule(live, Utc::now())?;
            let target = backups_target(
                body["metadata"]["namespace"].as_str().unwrap_or_default(),
                body["metadata"]["name"].as_str().unwrap_or_default(),
            );
            Ok(vec![KubeRequest::create(&target, body)])
        }),
    };
    (summary, build)
}
