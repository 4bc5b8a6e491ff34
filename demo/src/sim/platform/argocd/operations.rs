//! Sync operations on Applications, as the Argo CD application controller runs them: start
//! (`status.operationState` Running with a copy of the operation), apply the OutOfSync
//! resources to the live cluster (a new image rolls the Deployment; an edited ConfigMap is put
//! back), finish (Succeeded with `syncResult`, `status.history` appended, `status.sync` set,
//! `operation` cleared), terminate, and the automated sync request.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::apps::{self, ARGOCD_NS};
use super::controller::SOURCE;
use crate::ClusterState;
use crate::sim::clock;
use crate::sim::events::{self, Severity, Source};
use crate::sim::fields::{self, fnv64};
use crate::sim::kinds::kinds;
use crate::sim::workloads::catalog::{CONFIG_MAPS, WORKLOADS};

/// Simulated seconds a sync operation runs.
pub fn operation_secs(app: &str, n: u64) -> f64 {
    3.0 + (fnv64(format!("{app}/op/{n}").as_bytes()) % 3000) as f64 / 1000.0
}

/// The next image tag after `image`'s (`x.y.z` → `x.y.(z+1)`).
#[must_use]
pub fn bump_image(image: &str) -> String {
    let Some((repo, tag)) = image.rsplit_once(':') else {
        return image.to_string();
    };
    let mut parts: Vec<String> = tag.split('.').map(str::to_string).collect();
    match parts.last().and_then(|p| p.parse::<u64>().ok()) {
        Some(patch) => {
            if let Some(last) = parts.last_mut() {
                *last = (patch + 1).to_string();
            }
            format!("{repo}:{}", parts.join("."))
        }
        None => format!("{repo}:{tag}-1"),
    }
}

pub fn start_operation(state: &ClusterState, app: &Value, op: &Value, now: DateTime<Utc>) {
    let k = kinds();
    let name = fields::name(app);
    state.store.modify(k.application, ARGOCD_NS, name, |v| {
        v["status"]["operationState"] = json!({
            "operation": op,
            "phase": "Running",
            "message": "one or more tasks are running",
            "startedAt": clock::fmt(now),
        });
    });
    let revision = match fields::str_at(op, "/sync/revision") {
        "" => fields::str_at(app, "/status/sync/revision").to_string(),
        r => r.to_string(),
    };
    let message = if fields::bool_at(op, "/initiatedBy/automated") {
        format!("Initiated automated sync to '{revision}'")
    } else {
        let user = match fields::str_at(op, "/initiatedBy/username") {
            "" => "admin",
            u => u,
        };
        format!("{user} initiated sync to {revision}")
    };
    events::record(
        state,
        app,
        Severity::Normal,
        "OperationStarted",
        &message,
        Source::component(SOURCE),
    );
}

pub fn finish_failed(state: &ClusterState, name: &str, message: &str, now: DateTime<Utc>) {
    let k = kinds();
    state.store.modify(k.application, ARGOCD_NS, name, |v| {
        if let Some(m) = v.as_object_mut() {
            m.remove("operation");
        }
        v["status"]["operationState"]["phase"] = json!("Failed");
        v["status"]["operationState"]["message"] = json!(message);
        v["status"]["operationState"]["finishedAt"] = json!(clock::fmt(now));
    });
}

/// Whether a sync's `resources` selection (empty = all) includes a status resource.
fn selected(op: &Value, r: &Value) -> bool {
    let sel = fields::array_at(op, "/sync/resources");
    sel.is_empty()
        || sel.iter().any(|s| {
            fields::str_at(s, "/kind") == fields::str_at(r, "/kind")
                && fields::str_at(s, "/name") == fields::str_at(r, "/name")
                && fields::str_at(s, "/group") == fields::str_at(r, "/group")
                && (fields::str_at(s, "/namespace").is_empty()
                    || fields::str_at(s, "/namespace") == fields::str_at(r, "/namespace"))
        })
}

/// The image a Deployment of `app` runs at `revision`: the scenario's commits move its patch
/// version by one each (the seeded head runs the catalog's current tag), so a rollback to an
/// older commit runs the older image. `None` for revisions the scenario never made.
fn image_at(
    state: &ClusterState,
    app: &str,
    ns: &str,
    deployment: &str,
    revision: &str,
) -> Option<String> {
    let w = WORKLOADS
        .iter()
        .find(|w| w.ns == ns && w.name == deployment)?;
    let n = (0..256).find(|n| apps::sha(state, app, *n) == revision)?;
    let head = apps::seeded_history_len(app) - 1;
    let tag = w.tags.first()?;
    let (base, patch) = tag.rsplit_once('.')?;
    let patch: i64 = patch.parse().ok()?;
    Some(format!("{}:{base}.{}", w.image, (patch + n - head).max(0)))
}

/// Applies the desired state (at `revision`) of one OutOfSync resource to the live object.
fn apply_resource(state: &ClusterState, app: &str, revision: &str, r: &Value) {
    let k = kinds();
    let ns = fields::str_at(r, "/namespace");
    let name = fields::str_at(r, "/name");
    match fields::str_at(r, "/kind") {
        "Deployment" => {
            let image = image_at(state, app, ns, name, revision);
            state.store.modify(k.deployment, ns, name, |v| {
                if let Some(c) = v.pointer_mut("/spec/template/spec/containers/0") {
                    let next = image.unwrap_or_else(|| bump_image(fields::str_at(c, "/image")));
                    c["image"] = json!(next);
                }
            });
        }
        "ConfigMap" => {
            if let Some((_, _, _, data)) = CONFIG_MAPS
                .iter()
                .find(|(n_s, n, _, _)| *n_s == ns && *n == name)
            {
                let desired: serde_json::Map<String, Value> = data
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), json!(v)))
                    .collect();
                state.store.modify(k.configmap, ns, name, |v| {
                    v["data"] = Value::Object(desired)
                });
            }
        }
        _ => {}
    }
}

pub fn complete_operation(state: &ClusterState, app: &Value, op: &Value, now: DateTime<Utc>) {
    let k = kinds();
    let name = fields::name(app).to_string();
    let dry_run = fields::bool_at(op, "/sync/dryRun");
    let head = fields::str_at(app, "/status/sync/revision").to_string();
    let revision = match fields::str_at(op, "/sync/revision") {
        "" => head.clone(),
        r => r.to_string(),
    };
    let resources = fields::array_at(app, "/status/resources").to_vec();
    let mut results = Vec::new();
    for r in resources.iter().filter(|r| selected(op, r)) {
        // A rollback applies the older manifests, which differ from what runs.
        let changed = fields::str_at(r, "/status") == "OutOfSync" || revision != head;
        if changed && !dry_run {
            apply_resource(state, &name, &revision, r);
        }
        results.push(apps::sync_result(r, changed, dry_run));
    }
    let updated = state.store.modify(k.application, ARGOCD_NS, &name, |v| {
        if let Some(m) = v.as_object_mut() {
            m.remove("operation");
        }
        let started = v
            .pointer("/status/operationState/startedAt")
            .cloned()
            .unwrap_or_else(|| json!(clock::fmt(now)));
        v["status"]["operationState"] = json!({
            "operation": op,
            "phase": "Succeeded",
            "message": "successfully synced (all tasks run)",
            "startedAt": started,
            "finishedAt": clock::fmt(now),
            "syncResult": {
                "resources": results,
                "revision": revision,
                "source": v.pointer("/spec/source").cloned().unwrap_or(Value::Null),
            },
        });
        v["status"]["reconciledAt"] = json!(clock::fmt(now));
        if dry_run {
            return;
        }
        // A successful sync clears the error of an earlier failed one.
        if let Some(cs) = v
            .pointer_mut("/status/conditions")
            .and_then(Value::as_array_mut)
        {
            cs.retain(|c| fields::str_at(c, "/type") != "SyncError");
        }
        let mut all_synced = true;
        if let Some(rs) = v
            .pointer_mut("/status/resources")
            .and_then(Value::as_array_mut)
        {
            for r in rs.iter_mut() {
                if selected(op, r) {
                    r["status"] = json!("Synced");
                }
                all_synced &= fields::str_at(r, "/status") == "Synced";
            }
        }
        let rolled_back = revision != head;
        if rolled_back {
            // Live state now differs from HEAD again.
            if let Some(r) = v
                .pointer_mut("/status/resources")
                .and_then(Value::as_array_mut)
                .and_then(|rs| {
                    rs.iter_mut()
                        .find(|r| fields::str_at(r, "/kind") == "Deployment")
                })
            {
                r["status"] = json!("OutOfSync");
            }
        }
        v["status"]["sync"]["status"] = json!(if all_synced && !rolled_back {
            "Synced"
        } else {
            "OutOfSync"
        });
        let mut history = fields::array_at(v, "/status/history").to_vec();
        let id = history
            .iter()
            .filter_map(|h| h.get("id").and_then(Value::as_i64))
            .max()
            .map_or(0, |m| m + 1);
        let mut entry = json!({
            "id": id,
            "revision": revision,
            "deployStartedAt": started,
            "deployedAt": clock::fmt(now),
            "source": v.pointer("/spec/source").cloned().unwrap_or(Value::Null),
        });
        if let Some(by) = op.get("initiatedBy") {
            entry["initiatedBy"] = by.clone();
        }
        history.push(entry);
        let limit = fields::i64_at(v, "/spec/revisionHistoryLimit", 10).max(1) as usize;
        if history.len() > limit {
            history.drain(..history.len() - limit);
        }
        v["status"]["history"] = json!(history);
    });
    if let Some(after) = updated {
        events::record(
            state,
            &after,
            Severity::Normal,
            "OperationCompleted",
            &format!("Sync operation to {revision} succeeded"),
            Source::component(SOURCE),
        );
    }
}

/// What gitops-engine says when a task (here the PreSync hook) failed.
pub const TASKS_FAILED: &str = "one or more synchronization tasks completed unsuccessfully";

/// Go's `time.Kitchen` (`3:04PM`), as Argo CD words the next retry.
fn kitchen(t: DateTime<Utc>) -> String {
    t.format("%-I:%M%p").to_string()
}

/// Seconds before retry `n + 1`: `duration * factor^n`, at most `maxDuration` (Argo CD's
/// defaults 5s, 2 and 3m).
#[must_use]
pub fn backoff_secs(op: &Value, n: i64) -> f64 {
    let secs = |p: &str, d: f64| {
        crate::sim::fields::get_str(op, p)
            .and_then(|s| {
                s.strip_suffix('s')
                    .and_then(|x| x.parse::<f64>().ok())
                    .or_else(|| {
                        s.strip_suffix('m')
                            .and_then(|x| x.parse::<f64>().ok())
                            .map(|m| m * 60.0)
                    })
            })
            .unwrap_or(d)
    };
    let base = secs("/retry/backoff/duration", 5.0);
    let max = secs("/retry/backoff/maxDuration", 180.0);
    let factor = fields::i64_at(op, "/retry/backoff/factor", 2).max(1) as f64;
    (base * factor.powi(i32::try_from(n).unwrap_or(0))).min(max)
}

/// The failed PreSync hook of `app`'s sync.
fn hook_result(app: &Value) -> Value {
    json!({
        "group": "batch", "version": "v1", "kind": "Job",
        "namespace": fields::str_at(app, "/spec/destination/namespace"),
        "name": format!("{}-migrate", fields::name(app)),
        "status": "Synced", "hookType": "PreSync", "hookPhase": "Failed", "syncPhase": "PreSync",
        "message": "Job has reached the specified backoff limit",
    })
}

/// The operation state after an attempt whose hook failed: with retries left, still Running
/// with the next attempt announced; else Failed after `count` retries.
#[must_use]
pub fn failed_state(
    app: &Value,
    op: &Value,
    count: i64,
    retrying: Option<DateTime<Utc>>,
    started: &Value,
    now: DateTime<Utc>,
) -> Value {
    let revision = match fields::str_at(op, "/sync/revision") {
        "" => fields::str_at(app, "/status/sync/revision").to_string(),
        r => r.to_string(),
    };
    let (phase, message) = match retrying {
        Some(at) => (
            "Running",
            format!(
                "{TASKS_FAILED}. Retrying attempt #{count} at {}.",
                kitchen(at)
            ),
        ),
        None if count > 0 => ("Failed", format!("{TASKS_FAILED} (retried {count} times).")),
        None => ("Failed", TASKS_FAILED.to_string()),
    };
    json!({
        "operation": op,
        "phase": phase,
        "message": message,
        "retryCount": count,
        "startedAt": started,
        "finishedAt": clock::fmt(now),
        "syncResult": { "resources": [hook_result(app)], "revision": revision,
            "source": app.pointer("/spec/source").cloned().unwrap_or(Value::Null) },
    })
}

/// One attempt of `app`'s sync failed on its hook: retry after the backoff if the operation's
/// retry limit allows (returns the seconds to wait), else finish Failed, clear the operation
/// and, for an automated sync, set the `SyncError` condition (as the controller does).
pub fn fail_attempt(
    state: &ClusterState,
    app: &Value,
    op: &Value,
    now: DateTime<Utc>,
) -> Option<f64> {
    let k = kinds();
    let name = fields::name(app).to_string();
    let count = fields::i64_at(app, "/status/operationState/retryCount", 0);
    let limit = fields::i64_at(op, "/retry/limit", 0);
    let started = app
        .pointer("/status/operationState/startedAt")
        .cloned()
        .unwrap_or(Value::Null);
    let retry = (limit < 0 || count < limit).then(|| backoff_secs(op, count));
    let next = retry.map(|w| clock::plus(now, w));
    let op_state = failed_state(
        app,
        op,
        if retry.is_some() { count + 1 } else { count },
        next,
        &started,
        now,
    );
    let message = fields::str_at(&op_state, "/message").to_string();
    let revision = fields::str_at(&op_state, "/syncResult/revision").to_string();
    let automated = fields::bool_at(op, "/initiatedBy/automated");
    let updated = state.store.modify(k.application, ARGOCD_NS, &name, |v| {
        v["status"]["operationState"] = op_state.clone();
        if retry.is_some() {
            return;
        }
        if let Some(m) = v.as_object_mut() {
            m.remove("operation");
        }
        if automated {
            let mut cs: Vec<Value> = fields::array_at(v, "/status/conditions")
                .iter()
                .filter(|c| fields::str_at(c, "/type") != "SyncError")
                .cloned()
                .collect();
            cs.push(
                json!({ "type": "SyncError", "lastTransitionTime": clock::fmt(now),
                "message": format!("Failed sync attempt to {revision}: {message}") }),
            );
            v["status"]["conditions"] = json!(cs);
        }
    });
    if retry.is_none()
        && let Some(after) = updated
    {
        events::record(
            state,
            &after,
            Severity::Warning,
            "OperationCompleted",
            &format!("Sync operation to {revision} failed: {message}"),
            Source::component(SOURCE),
        );
    }
    retry
}

/// What the controller writes to start an automated sync.
pub fn request_auto_sync(state: &ClusterState, app: &Value) {
    let k = kinds();
    let prune = fields::bool_at(app, "/spec/syncPolicy/automated/prune");
    let revision = fields::str_at(app, "/status/sync/revision").to_string();
    state
        .store
        .modify(k.application, ARGOCD_NS, fields::name(app), |v| {
            // The app's retry policy, as Argo CD's autoSync copies it.
            let retry = v
                .pointer("/spec/syncPolicy/retry")
                .cloned()
                .unwrap_or_else(|| json!({ "limit": 5 }));
            v["operation"] = json!({
                "sync": { "revision": revision, "prune": prune },
                "initiatedBy": { "automated": true },
                "retry": retry,
            });
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_bump_their_patch_version() {
        assert_eq!(
            bump_image("registry.example.com/payments/ledger:3.2.5"),
            "registry.example.com/payments/ledger:3.2.6"
        );
        assert_eq!(bump_image("redis:7.0.15-alpine"), "redis:7.0.15-alpine-1");
        assert_eq!(bump_image("busybox"), "busybox");
    }
}
