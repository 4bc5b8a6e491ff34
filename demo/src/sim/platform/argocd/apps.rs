//! The scenario's Argo CD Applications and the parts of their status computed from the live
//! cluster: tracked resources (objects labelled `app.kubernetes.io/instance: <app>` in the
//! destination namespace), their sync codes and health, the app's health and image summary.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::{Map, Value, json};

use super::health;
use crate::ClusterState;
use crate::api::registry::{self, Addon, TypeId};
use crate::sim::clock;
use crate::sim::fields::{self, fnv64};
use crate::sim::kinds::kinds;
use crate::sim::workloads::build::INSTANCE;
use crate::sim::workloads::nodes;
use crate::sim::workloads::scale;

/// Namespace the Applications live in.
pub const ARGOCD_NS: &str = "argocd";
/// Repository every app deploys from.
pub const REPO: &str = "https://git.example.com/platform/deploy.git";

/// How an app drifts on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drift {
    None,
    /// A new commit lands; the app stays OutOfSync until someone syncs (manual sync).
    NewCommit,
    /// Someone edits a live object; self-heal syncs it back.
    LiveEdit,
}

/// One Application of the scenario.
#[derive(Debug, Clone)]
pub struct AppSpec {
    pub name: String,
    pub dest_ns: String,
    pub path: String,
    pub source_type: &'static str,
    /// `Some((prune, self_heal))` for automated sync.
    pub automated: Option<(bool, bool)>,
    pub drift: Drift,
}

/// The Applications of a cluster: the named ones, plus one per ten `--scale` Deployments.
#[must_use]
pub fn catalog(state: &ClusterState) -> Vec<AppSpec> {
    let region = nodes::region(&state.profile);
    let region = region.trim_end_matches("-1");
    let app = |name: &str, ns: &str, path: String, source_type, automated, drift| AppSpec {
        name: name.into(),
        dest_ns: ns.into(),
        path,
        source_type,
        automated,
        drift,
    };
    let mut out = vec![
        app(
            "shop",
            "shop",
            format!("apps/shop/overlays/{region}"),
            "Kustomize",
            Some((true, true)),
            Drift::None,
        ),
        app(
            "payments",
            "payments",
            format!("apps/payments/overlays/{region}"),
            "Kustomize",
            None,
            Drift::NewCommit,
        ),
        app(
            "search",
            "search",
            "charts/search".into(),
            "Helm",
            Some((false, true)),
            Drift::LiveEdit,
        ),
        app(
            "platform-monitoring",
            "monitoring",
            "platform/monitoring".into(),
            "Helm",
            Some((true, false)),
            Drift::None,
        ),
    ];
    if state.profile.has(Addon::Velero) {
        out.push(app(
            "velero",
            "velero",
            "platform/velero".into(),
            "Helm",
            Some((true, false)),
            Drift::None,
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for d in scale::deployments(state.options.scale) {
        if seen.insert(d.app.clone()) {
            out.push(app(
                &d.app,
                &d.ns,
                format!("load/{}/{}", d.ns, d.app),
                "Directory",
                Some((true, false)),
                Drift::None,
            ));
        }
    }
    out
}

/// The spec an app deploys from.
#[must_use]
pub fn source(app: &AppSpec, state: &ClusterState) -> Value {
    let mut src = json!({ "repoURL": REPO, "path": app.path, "targetRevision": "HEAD" });
    if app.source_type == "Helm" {
        src["helm"] = json!({ "valueFiles": [format!("values-{}.yaml", state.profile.name)] });
    }
    src
}

/// A 40-hex commit id, stable per cluster, app and commit number.
#[must_use]
pub fn sha(state: &ClusterState, app: &str, n: i64) -> String {
    let base = format!("{}/{}/{app}/{n}", state.options.seed, state.profile.index);
    let a = fnv64(base.as_bytes());
    let b = fnv64(format!("{base}#").as_bytes());
    let c = fnv64(format!("{base}##").as_bytes());
    format!("{a:016x}{b:016x}{:08x}", c >> 32)
}

/// The Application object (spec only).
#[must_use]
pub fn object(state: &ClusterState, app: &AppSpec, created: DateTime<Utc>) -> Value {
    let mut sync_policy = json!({
        "syncOptions": ["CreateNamespace=true", "ApplyOutOfSyncOnly=true"],
        "retry": { "limit": 5, "backoff": { "duration": "5s", "factor": 2, "maxDuration": "3m" } },
    });
    if let Some((prune, self_heal)) = app.automated {
        sync_policy["automated"] = json!({ "prune": prune, "selfHeal": self_heal });
    }
    json!({
        "metadata": {
            "name": app.name,
            "namespace": ARGOCD_NS,
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
            "creationTimestamp": clock::fmt(created),
        },
        "spec": {
            "project": "default",
            "source": source(app, state),
            "destination": { "server": "https://kubernetes.default.svc", "namespace": app.dest_ns },
            "syncPolicy": sync_policy,
            "revisionHistoryLimit": 10,
        },
    })
}

/// The kinds an app may own (whether or not the cluster serves them).
#[must_use]
pub fn tracked_types() -> [TypeId; 6] {
    let k = kinds();
    [
        k.service,
        k.configmap,
        k.deployment,
        k.statefulset,
        k.hpa,
        k.rollout,
    ]
}

/// The kinds an app may own that the cluster serves: (type id, group, version, kind).
fn tracked_kinds(state: &ClusterState) -> Vec<(usize, &'static str, String, &'static str)> {
    tracked_types()
        .into_iter()
        .filter(|t| state.store.serves(*t))
        .map(|t| {
            let rt = registry::get(t);
            (t, rt.group, rt.versions[0].to_string(), rt.kind)
        })
        .collect()
}

/// One tracked live object: its `status.resources[]` entry (with the given sync code) and
/// its health.
pub struct LiveResource {
    pub entry: Value,
    pub health: Option<String>,
    pub images: Vec<String>,
}

/// The app's live resources, keeping each one's previous sync code from `previous`
/// (`status.resources`); new ones are Synced.
#[must_use]
pub fn live_resources(
    state: &ClusterState,
    app: &str,
    dest_ns: &str,
    previous: &[Value],
) -> Vec<LiveResource> {
    let mut out = Vec::new();
    for (t, group, version, kind) in tracked_kinds(state) {
        let (objs, _) = state.store.list(t, Some(dest_ns));
        for o in objs.iter().filter(|o| o.label(INSTANCE) == Some(app)) {
            let v = o.value();
            let name = o.key.name.as_str();
            let sync = previous
                .iter()
                .find(|r| fields::str_at(r, "/kind") == kind && fields::str_at(r, "/name") == name)
                .map_or("Synced", |r| fields::str_at(r, "/status"));
            let mut entry = Map::new();
            if !group.is_empty() {
                entry.insert("group".into(), json!(group));
            }
            entry.insert("version".into(), json!(version));
            entry.insert("kind".into(), json!(kind));
            entry.insert("namespace".into(), json!(dest_ns));
            entry.insert("name".into(), json!(name));
            entry.insert(
                "status".into(),
                json!(if sync.is_empty() { "Synced" } else { sync }),
            );
            let h = health::of(kind, &v);
            if let Some((status, message)) = &h {
                let mut hv = json!({ "status": status });
                if let Some(m) = message {
                    hv["message"] = json!(m);
                }
                entry.insert("health".into(), hv);
            }
            let images = fields::array_at(&v, "/spec/template/spec/containers")
                .iter()
                .map(|c| fields::str_at(c, "/image").to_string())
                .filter(|i| !i.is_empty())
                .collect();
            out.push(LiveResource {
                entry: Value::Object(entry),
                health: h.map(|(s, _)| s),
                images,
            });
        }
    }
    out.sort_by_key(|r| {
        (
            fields::str_at(&r.entry, "/group").to_string(),
            fields::str_at(&r.entry, "/kind").to_string(),
            fields::str_at(&r.entry, "/name").to_string(),
        )
    });
    out
}

/// Recomputes `status.resources`, `status.health` and `status.summary` from the live cluster
/// (sync codes kept).
pub fn refresh_status(state: &ClusterState, app: &mut Value, now: DateTime<Utc>) {
    let name = fields::name(app).to_string();
    let dest = fields::str_at(app, "/spec/destination/namespace").to_string();
    let previous = fields::array_at(app, "/status/resources").to_vec();
    let live = live_resources(state, &name, &dest, &previous);
    let mut health = "Healthy";
    let mut images: Vec<String> = Vec::new();
    for r in &live {
        if let Some(h) = &r.health {
            health = health::worse(health, h);
        }
        images.extend(r.images.iter().cloned());
    }
    images.sort();
    images.dedup();
    let health = health.to_string();
    let old_health = fields::str_at(app, "/status/health/status").to_string();
    let mut health_v = json!({ "status": health });
    let since = if old_health == health {
        app.pointer("/status/health/lastTransitionTime").cloned()
    } else {
        Some(json!(clock::fmt(now)))
    };
    if let Some(t) = since {
        health_v["lastTransitionTime"] = t;
    }
    app["status"]["resources"] = json!(live.into_iter().map(|r| r.entry).collect::<Vec<_>>());
    app["status"]["health"] = health_v;
    app["status"]["summary"] = json!({ "images": images });
}

/// The seeded history of an app: a few syncs over the past days, the newest last.
#[must_use]
pub fn seeded_history(state: &ClusterState, app: &AppSpec, now: DateTime<Utc>) -> Vec<Value> {
    let n = 3 + (fnv64(app.name.as_bytes()) % 3) as i64;
    let src = source(app, state);
    (0..n)
        .map(|id| {
            let deployed =
                now - ChronoDuration::hours(26 * (n - id)) - ChronoDuration::minutes(17 * id);
            let initiated = if app.automated.is_some() {
                json!({ "automated": true })
            } else {
                json!({ "username": "oncall@example.com" })
            };
            json!({
                "id": id,
                "revision": sha(state, &app.name, id),
                "deployStartedAt": clock::fmt(deployed - ChronoDuration::seconds(4)),
                "deployedAt": clock::fmt(deployed),
                "source": src,
                "initiatedBy": initiated,
            })
        })
        .collect()
}

/// A Succeeded operation state for the sync that produced `entry` (a history entry).
#[must_use]
pub fn succeeded_operation(app: &Value, entry: &Value, resources: &[Value]) -> Value {
    let revision = fields::str_at(entry, "/revision");
    let automated = entry
        .pointer("/initiatedBy/automated")
        .and_then(Value::as_bool)
        == Some(true);
    let mut operation = json!({
        "sync": { "revision": revision },
        "initiatedBy": entry.get("initiatedBy").cloned().unwrap_or_else(|| json!({})),
    });
    if automated {
        operation["sync"]["prune"] =
            json!(fields::bool_at(app, "/spec/syncPolicy/automated/prune"));
        operation["retry"] = json!({ "limit": 5 });
    }
    json!({
        "operation": operation,
        "phase": "Succeeded",
        "message": "successfully synced (all tasks run)",
        "startedAt": entry.get("deployStartedAt").cloned().unwrap_or(Value::Null),
        "finishedAt": entry.get("deployedAt").cloned().unwrap_or(Value::Null),
        "syncResult": {
            "resources": resources.iter().map(|r| sync_result(r, false, false)).collect::<Vec<_>>(),
            "revision": revision,
            "source": app.pointer("/spec/source").cloned().unwrap_or(Value::Null),
        },
    })
}

/// One `syncResult.resources[]` entry for a resource that was applied.
#[must_use]
pub fn sync_result(r: &Value, changed: bool, dry_run: bool) -> Value {
    let group = fields::str_at(r, "/group");
    let kind = fields::str_at(r, "/kind");
    let name = fields::str_at(r, "/name");
    let what = if group.is_empty() {
        format!("{}/{name}", kind.to_lowercase())
    } else {
        format!("{}.{group}/{name}", kind.to_lowercase())
    };
    let verb = if changed { "configured" } else { "unchanged" };
    let suffix = if dry_run { " (dry run)" } else { "" };
    json!({
        "group": group,
        "version": fields::str_at(r, "/version"),
        "kind": kind,
        "namespace": fields::str_at(r, "/namespace"),
        "name": name,
        "status": "Synced",
        "message": format!("{what} {verb}{suffix}"),
        "hookPhase": "Running",
        "syncPhase": "Sync",
    })
}
