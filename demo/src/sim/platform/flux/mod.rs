//! Flux on the cluster that runs it (namespace `flux-system`): Kustomizations `flux-system`
//! and `infra-controllers` (applied), `apps` (the newest commit fails to build, so the
//! revision last attempted is not the one applied), HelmReleases `ingress-nginx` (deployed)
//! and `podinfo` (suspended). The simulated controllers handle what clients ask through the
//! API: a new `reconcile.fluxcd.io/requestedAt` is acted on (recorded in
//! `status.lastHandledReconcileAt`, the Ready condition renewed, an event recorded) unless the
//! object is suspended.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::ClusterState;
use crate::api::store::WatchEvent;
use crate::sim::clock;
use crate::sim::controller::{self as reconcile, Key, Queue, Reconciler};
use crate::sim::events::{self, Severity, Source};
use crate::sim::fields::{self, fnv64};
use crate::sim::kinds::kinds;

/// Namespace of the Flux objects.
pub const FLUX_NS: &str = "flux-system";
/// The reconcile request annotation.
pub const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";

fn revision(branch: &str, n: u64) -> String {
    let a = fnv64(format!("flux/{n}").as_bytes());
    let b = fnv64(format!("flux/{n}#").as_bytes());
    let c = fnv64(format!("flux/{n}##").as_bytes());
    format!("{branch}@sha1:{a:016x}{b:016x}{:08x}", c >> 32)
}

fn ready(ok: bool, reason: &str, message: &str, at: DateTime<Utc>) -> Value {
    json!({ "type": "Ready", "status": if ok { "True" } else { "False" }, "reason": reason,
        "message": message, "lastTransitionTime": clock::fmt(at), "observedGeneration": 1 })
}

fn kustomization(
    name: &str,
    path: &str,
    applied: &str,
    attempted: &str,
    ok: bool,
    entries: usize,
    at: DateTime<Utc>,
) -> Value {
    let cond = if ok {
        ready(
            true,
            "ReconciliationSucceeded",
            &format!("Applied revision: {applied}"),
            at,
        )
    } else {
        ready(
            false,
            "BuildFailed",
            "kustomize build failed: accumulating resources: accumulation err='accumulating \
             resources from './payments': evalsymlink failure on '/tmp/kustomization/apps/payments' \
             : lstat /tmp/kustomization/apps/payments: no such file or directory'",
            at,
        )
    };
    let inventory: Vec<Value> = (0..entries)
        .map(|i| json!({ "id": format!("{name}_object-{i}__ConfigMap"), "v": "v1" }))
        .collect();
    json!({
        "metadata": { "name": name, "namespace": FLUX_NS, "generation": 1,
            "creationTimestamp": clock::fmt(at - ChronoDuration::days(40)) },
        "spec": { "interval": "10m", "path": path, "prune": true,
            "sourceRef": { "kind": "GitRepository", "name": "flux-system" } },
        "status": { "observedGeneration": 1, "conditions": [cond],
            "lastAppliedRevision": applied, "lastAttemptedRevision": attempted,
            "inventory": { "entries": inventory } },
    })
}

fn helm_release(
    name: &str,
    chart: &str,
    version: &str,
    suspended: bool,
    at: DateTime<Utc>,
) -> Value {
    let msg =
        format!("Helm upgrade succeeded for release {name}/{name}.v3 with chart {chart}@{version}");
    json!({
        "metadata": { "name": name, "namespace": FLUX_NS, "generation": 1,
            "creationTimestamp": clock::fmt(at - ChronoDuration::days(40)) },
        "spec": { "interval": "30m", "releaseName": name, "targetNamespace": name, "suspend": suspended,
            "chart": { "spec": { "chart": chart, "version": "*",
                "sourceRef": { "kind": "HelmRepository", "name": chart } } } },
        "status": { "observedGeneration": 1,
            "conditions": [ready(true, "UpgradeSucceeded", &msg, at)],
            "lastAttemptedRevision": version,
            "history": [{ "chartName": chart, "chartVersion": version, "appVersion": version,
                "name": name, "namespace": name, "status": "deployed", "version": 3,
                "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
                "firstDeployed": clock::fmt(at - ChronoDuration::days(20)),
                "lastDeployed": clock::fmt(at) }] },
    })
}

/// Seeds the Flux objects (and their namespace).
pub fn seed(state: &ClusterState) {
    let k = kinds();
    let now = clock::now();
    let at = now - ChronoDuration::minutes(7);
    let _ = state.store.insert(
        k.namespace,
        json!({ "metadata": { "name": FLUX_NS, "labels": { "kubernetes.io/metadata.name": FLUX_NS } },
            "spec": { "finalizers": ["kubernetes"] }, "status": { "phase": "Active" } }),
    );
    let (old, new) = (revision("main", 41), revision("main", 42));
    for obj in [
        kustomization(
            "flux-system",
            "./clusters/eu-west",
            &new,
            &new,
            true,
            12,
            at,
        ),
        kustomization(
            "infra-controllers",
            "./infrastructure/controllers",
            &new,
            &new,
            true,
            8,
            at,
        ),
        kustomization("apps", "./apps/eu-west", &old, &new, false, 21, at),
    ] {
        let _ = state.store.insert(k.kustomization, obj);
    }
    for obj in [
        helm_release("ingress-nginx", "ingress-nginx", "4.11.3", false, at),
        helm_release("podinfo", "podinfo", "6.7.1", true, at),
    ] {
        let _ = state.store.insert(k.helmrelease, obj);
    }
}

/// Acts on reconcile requests and resumes.
#[derive(Debug, Default)]
struct FluxController;

impl FluxController {
    fn reconcile_one(state: &ClusterState, type_id: usize, obj: &Value) {
        if fields::bool_at(obj, "/spec/suspend") {
            return;
        }
        let requested = fields::annotation(obj, REQUESTED_AT).to_string();
        let handled = fields::str_at(obj, "/status/lastHandledReconcileAt");
        if requested.is_empty() || requested == handled {
            return;
        }
        let now = clock::now();
        let failing = fields::array_at(obj, "/status/conditions").iter().any(|c| {
            fields::str_at(c, "/type") == "Ready" && fields::str_at(c, "/status") == "False"
        });
        let updated = state
            .store
            .modify(type_id, fields::namespace(obj), fields::name(obj), |v| {
                v["status"]["lastHandledReconcileAt"] = json!(requested);
                if let Some(c) = v
                    .pointer_mut("/status/conditions/0")
                    .filter(|c| fields::str_at(c, "/type") == "Ready")
                {
                    c["lastTransitionTime"] = json!(clock::fmt(now));
                }
            });
        if let Some(after) = updated {
            let (severity, reason) = if failing {
                (Severity::Warning, "BuildFailed")
            } else {
                (Severity::Normal, "ReconciliationSucceeded")
            };
            let kind = if type_id == kinds().helmrelease {
                "helm"
            } else {
                "kustomize"
            };
            events::record(
                state,
                &after,
                severity,
                reason,
                &format!("Reconciliation finished on request ({requested})"),
                Source::component(&format!("{kind}-controller")),
            );
        }
    }
}

impl Reconciler for FluxController {
    fn resync(&mut self, state: &ClusterState, queue: &mut Queue) {
        let k = kinds();
        queue.push_all(state, k.kustomization, Some(FLUX_NS));
        queue.push_all(state, k.helmrelease, Some(FLUX_NS));
    }

    fn on_event(&mut self, _state: &ClusterState, ev: &WatchEvent, queue: &mut Queue) {
        let k = kinds();
        if ev.type_id == k.kustomization || ev.type_id == k.helmrelease {
            queue.push((ev.type_id, ev.object.key.clone()));
        }
    }

    fn reconcile(&mut self, state: &ClusterState, key: &Key) -> Option<Duration> {
        let obj = state.store.get_value(key.0, &key.1.ns, &key.1.name)?;
        Self::reconcile_one(state, key.0, &obj);
        None
    }
}

/// Starts the Flux controllers.
pub fn spawn(state: &Arc<ClusterState>, shutdown: &CancellationToken) {
    reconcile::spawn(state, shutdown, FluxController);
}
