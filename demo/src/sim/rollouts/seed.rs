//! The rollout scenario each cluster starts with.
//!
//! Clusters with Istio (`demo-us-east`): `shop/checkout`, an Istio canary paused on its
//! first timed pause that advances on its own (analysis included) and then waits at
//! `pause: {}` for a human; `payments/payments-api`, blue-green with its preview ready and
//! pre-promotion analysis passed, waiting for promotion; `search/search-api`, a canary whose
//! release is bad, so its analysis fails and the controller aborts it.
//! Clusters without Istio (`demo-eu-west`): `shop/checkout` as a replica-based canary near
//! the end of its steps, and a Healthy `shop/recommendations`.
//! `--scale N` adds N/200 basic canaries in the `load-*` namespaces.
//!
//! Objects are written with the parts of `status` that carry history (stable ReplicaSet,
//! step, pause conditions, conditions); the controller then fills in the rest exactly as it
//! will keep doing, so the seeded status is the controller's own.
//!
//! This file holds the building blocks every scenario shares and the entry points; `istio`
//! and `basic` write the two scenario groups.

mod basic;
mod istio;

use chrono::{DateTime, Duration as ChronoDuration, SubsecRound, Utc};
use serde_json::{Value, json};

use super::controller::Ctx;
use super::traffic::{self, quality};
use super::util::{
    self, DESIRED_REPLICAS_ANNOTATION, HASH_LABEL, Kinds, MANAGED_BY_ANNOTATION, PART_OF_LABEL,
    PART_OF_VALUE, PreciseTimes, REVISION_ANNOTATION,
};
use crate::ClusterState;
use crate::api::registry::Addon;
use crate::prom::AlertRule;
use crate::prom::format::go_f;
use crate::sim::workloads::build;
use crate::sim::{Pace, SimRng};
use crate::sim::{clock, fields};

/// Where the AnalysisTemplates point Prometheus.
pub const PROMETHEUS_ADDRESS: &str = "http://prometheus.monitoring.svc:9090";
const REGISTRY: &str = "demo.registry.local";

/// Times for seeded objects: scenario moments in simulated seconds (paced), history in days.
struct Clock {
    now: DateTime<Utc>,
    pace: Pace,
}

impl Clock {
    fn ago(&self, sim_secs: f64) -> DateTime<Utc> {
        self.now - ChronoDuration::from_std(self.pace.secs(sim_secs)).unwrap_or_default()
    }

    fn ago_str(&self, sim_secs: f64) -> String {
        clock::fmt(self.ago(sim_secs))
    }

    fn days_ago(&self, days: f64) -> String {
        clock::fmt(self.now - ChronoDuration::seconds((days * 86_400.0) as i64))
    }
}

/// A pod template for `app` running `image`.
#[must_use]
pub fn pod_template(app: &str, image: &str) -> Value {
    json!({
        "metadata": {"labels": {"app": app}},
        "spec": {
            "containers": [{
                "name": app,
                "image": image,
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 5},
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"memory": "256Mi"},
                },
            }],
            "terminationGracePeriodSeconds": 30,
        },
    })
}

fn image(app: &str, version: &str) -> String {
    format!("{REGISTRY}/{app}:{version}")
}

fn cond(kind: &str, status: &str, reason: &str, message: &str, at: &str) -> Value {
    json!({
        "type": kind, "status": status, "reason": reason, "message": message,
        "lastTransitionTime": at, "lastUpdateTime": at,
    })
}

/// AnalysisTemplates `success-rate` and `latency-p99` (Istio metrics through Prometheus).
#[must_use]
pub fn analysis_templates(ns: &str) -> Vec<Value> {
    let success = "sum(irate(istio_requests_total{reporter=\"source\",destination_service_name=~\"{{args.service-name}}\",response_code!~\"5.*\"}[1m])) / sum(irate(istio_requests_total{reporter=\"source\",destination_service_name=~\"{{args.service-name}}\"}[1m]))";
    let latency = "histogram_quantile(0.99, sum(irate(istio_request_duration_milliseconds_bucket{reporter=\"source\",destination_service_name=~\"{{args.service-name}}\"}[1m])) by (le))";
    let labels = json!({PART_OF_LABEL: PART_OF_VALUE});
    vec![
        json!({
            "metadata": {"name": "success-rate", "namespace": ns, "labels": labels},
            "spec": {
                "args": [{"name": "service-name"}],
                "metrics": [{
                    "name": "success-rate",
                    "interval": "30s",
                    "count": 3,
                    "failureLimit": 1,
                    "successCondition": "result[0] >= 0.95",
                    "provider": {"prometheus": {"address": PROMETHEUS_ADDRESS, "timeout": 30, "query": success}},
                }],
            },
        }),
        json!({
            "metadata": {"name": "latency-p99", "namespace": ns, "labels": labels},
            "spec": {
                "args": [{"name": "service-name"}],
                "metrics": [{
                    "name": "latency-p99",
                    "interval": "30s",
                    "count": 3,
                    "failureLimit": 1,
                    "successCondition": "result[0] <= 500",
                    "provider": {"prometheus": {"address": PROMETHEUS_ADDRESS, "timeout": 30, "query": latency}},
                }],
            },
        }),
    ]
}

pub(super) fn service(
    state: &ClusterState,
    kinds: Kinds,
    ns: &str,
    name: &str,
    app: &str,
    hash: Option<&str>,
    owner: Option<&str>,
) {
    let mut rng = SimRng::new(
        state.options.seed,
        state.profile.index,
        &format!("svc/{ns}/{name}"),
    );
    let ip = format!("10.96.{}.{}", rng.range(1, 255), rng.range(2, 255));
    let mut selector = json!({"app": app});
    if let Some(h) = hash {
        selector[HASH_LABEL] = json!(h);
    }
    let mut meta = json!({"name": name, "namespace": ns, "labels": {"app": app}});
    if let Some(o) = owner {
        meta["annotations"] = json!({MANAGED_BY_ANNOTATION: o});
    }
    let ports = json!([{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]);
    let _ = state.store.insert(
        kinds.services,
        build::cluster_ip_service(meta, &ip, ports, selector),
    );
}

/// One ReplicaSet of a Rollout, with status as the ReplicaSet controller leaves it.
#[allow(clippy::too_many_arguments)]
pub(super) fn replica_set(
    state: &ClusterState,
    kinds: Kinds,
    ro: &Value,
    template: &Value,
    revision: i64,
    replicas: i64,
    desired: i64,
    created: &str,
) -> String {
    let ns = fields::namespace(ro);
    let ro_name = fields::name(ro);
    let uid = fields::uid(ro);
    let hash = util::pod_template_hash(template, None);
    let mut t = template.clone();
    t["metadata"]["labels"][HASH_LABEL] = json!(hash);
    let mut selector = ro["spec"]["selector"]["matchLabels"].clone();
    selector[HASH_LABEL] = json!(hash);
    let _ = state.store.insert(
        kinds.replica_sets,
        json!({
            "metadata": {
                "name": format!("{ro_name}-{hash}"),
                "namespace": ns,
                "creationTimestamp": created,
                "labels": t["metadata"]["labels"].clone(),
                "annotations": {
                    REVISION_ANNOTATION: revision.to_string(),
                    DESIRED_REPLICAS_ANNOTATION: desired.to_string(),
                },
                "ownerReferences": [util::controller_ref("Rollout", ro_name, uid)],
            },
            "spec": {"replicas": replicas, "selector": {"matchLabels": selector}, "template": t},
            "status": {
                "replicas": replicas,
                "fullyLabeledReplicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
                "observedGeneration": 1,
            },
        }),
    );
    hash
}

/// Inserts a Rollout and returns it as stored (with its uid).
fn rollout(state: &ClusterState, kinds: Kinds, obj: Value) -> Option<Value> {
    state.store.insert(kinds.rollouts, obj).ok()
}

fn rollout_meta(ns: &str, name: &str, revision: i64, created: &str) -> Value {
    json!({
        "name": name,
        "namespace": ns,
        "creationTimestamp": created,
        "labels": {"app": name, PART_OF_LABEL: PART_OF_VALUE},
        "annotations": {REVISION_ANNOTATION: revision.to_string()},
    })
}

/// A finished AnalysisRun with measurements in the shape Argo writes them.
#[allow(clippy::too_many_arguments)]
fn finished_run(
    state: &ClusterState,
    kinds: Kinds,
    ro: &Value,
    name: &str,
    labels: Value,
    revision: i64,
    service_name: &str,
    image: &str,
    templates: &[Value],
    started: DateTime<Utc>,
) {
    let ns = fields::namespace(ro);
    let q = quality(state.options.seed, image);
    let mut rng = SimRng::new(state.options.seed, state.profile.index, name);
    let mut metrics = Vec::new();
    let mut results = Vec::new();
    for t in templates {
        let Some(m) = t.pointer("/spec/metrics/0").cloned() else {
            continue;
        };
        let mname = m["name"].as_str().unwrap_or_default().to_string();
        let query = m
            .pointer("/provider/prometheus/query")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .replace("{{args.service-name}}", service_name);
        let measurements: Vec<Value> = (0..3)
            .map(|i| {
                let at = clock::fmt(started + ChronoDuration::seconds(30 * i));
                let v = if mname == "latency-p99" {
                    q.median_ms * (2.33 * q.sigma).exp() * (0.95 + rng.f64() * 0.1)
                } else {
                    1.0 - q.error_share * (0.7 + rng.f64() * 0.6)
                };
                json!({"phase": "Successful", "value": format!("[{}]", go_f(v)), "startedAt": at, "finishedAt": at})
            })
            .collect();
        results.push(json!({
            "name": mname, "phase": "Successful", "count": 3, "successful": 3,
            "consecutiveError": 0, "consecutiveSuccess": 3,
            "metadata": {"ResolvedPrometheusQuery": query},
            "measurements": measurements,
        }));
        metrics.push(m);
    }
    let n = results.len();
    let mut lab = labels;
    for (k, v) in ro["spec"]["selector"]["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
    {
        lab[k] = v.clone();
    }
    let _ = state.store.insert(
        kinds.analysis_runs,
        json!({
            "metadata": {
                "name": name, "namespace": ns,
                "creationTimestamp": clock::fmt(started),
                "labels": lab,
                "annotations": {REVISION_ANNOTATION: revision.to_string()},
                "ownerReferences": [util::controller_ref("Rollout", fields::name(ro), fields::uid(ro))],
            },
            "spec": {"args": [{"name": "service-name", "value": service_name}], "metrics": metrics},
            "status": {
                "phase": "Successful",
                "startedAt": clock::fmt(started),
                "completedAt": clock::fmt(started + ChronoDuration::seconds(60)),
                "metricResults": results,
                "runSummary": {"count": n, "successful": n, "failed": 0, "inconclusive": 0, "error": 0},
                "dryRunSummary": {"count": 0, "successful": 0, "failed": 0, "inconclusive": 0, "error": 0},
            },
        }),
    );
}

fn checkout_steps(istio: bool) -> Value {
    if istio {
        json!([
            {"setWeight": 20},
            {"pause": {"duration": "30s"}},
            {"setWeight": 40},
            {"analysis": {"templates": [{"templateName": "success-rate"}],
                          "args": [{"name": "service-name", "value": "checkout-canary"}]}},
            {"setWeight": 60},
            {"pause": {}},
            {"setWeight": 80},
            {"pause": {"duration": "20s"}},
        ])
    } else {
        json!([
            {"setWeight": 20},
            {"pause": {"duration": "1m"}},
            {"setWeight": 50},
            {"pause": {}},
            {"setWeight": 80},
            {"pause": {"duration": "1m"}},
        ])
    }
}

/// Pod templates and template hashes of a canary's stable release and the one replacing it.
struct Release {
    stable_t: Value,
    canary_t: Value,
    stable_h: String,
    canary_h: String,
}

impl Release {
    fn new(app: &str, stable: &str, canary: &str) -> Self {
        let stable_t = pod_template(app, &image(app, stable));
        let canary_t = pod_template(app, &image(app, canary));
        Self {
            stable_h: util::pod_template_hash(&stable_t, None),
            canary_h: util::pod_template_hash(&canary_t, None),
            stable_t,
            canary_t,
        }
    }
}

/// Conditions of a canary that started releasing `hash` at `started`: still progressing, or
/// (`done`) finished and healthy. Available since `created`.
fn canary_conditions(name: &str, hash: &str, created: &str, started: &str, done: bool) -> Value {
    let (status, health, progress_reason, progress) = if done {
        (
            "True",
            "Rollout is healthy",
            "NewReplicaSetAvailable",
            "has successfully progressed.",
        )
    } else {
        (
            "False",
            "Rollout is not healthy",
            "ReplicaSetUpdated",
            "is progressing.",
        )
    };
    let progress = format!("ReplicaSet \"{name}-{hash}\" {progress}");
    json!([
        cond(
            "Available",
            "True",
            "AvailableReason",
            "Rollout has minimum availability",
            created
        ),
        cond("Healthy", status, "RolloutHealthy", health, started),
        cond(
            "Completed",
            status,
            "RolloutCompleted",
            "RolloutCompleted",
            started
        ),
        cond("Progressing", "True", progress_reason, &progress, started),
    ])
}

/// Alert rules for the traffic model's series.
#[must_use]
pub fn alert_rules() -> Vec<AlertRule> {
    vec![
        AlertRule::new(
            "CanaryErrorRateHigh",
            "sum by (destination_service_name, destination_workload_namespace) (rate(istio_requests_total{reporter=\"source\",destination_service_name=~\".*-canary\",response_code=~\"5..\"}[1m])) / sum by (destination_service_name, destination_workload_namespace) (rate(istio_requests_total{reporter=\"source\",destination_service_name=~\".*-canary\"}[1m])) > 0.05",
            30,
            "warning",
            "Canary 5xx rate above 5%",
            "{{ $labels.destination_service_name }} in {{ $labels.destination_workload_namespace }} answers {{ $value | humanizePercentage }} of requests with 5xx.",
        ),
        AlertRule::new(
            "IstioCircuitBreakerOpen",
            "sum by (cluster_name, namespace) (rate(envoy_cluster_upstream_rq_pending_overflow[1m])) > 0 or max by (cluster_name, namespace) (envoy_cluster_outlier_detection_ejections_active) > 0",
            0,
            "critical",
            "Circuit breaker open",
            "Envoy cluster {{ $labels.cluster_name }} is overflowing its pending queue or ejecting hosts.",
        ),
    ]
}

/// Lets the controller compute each seeded Rollout's status (a few passes until it stops
/// changing), so seeded status is exactly what the controller writes.
pub fn settle(state: &ClusterState, kinds: Kinds, rollouts: &[(String, String)]) {
    let mut times = PreciseTimes::default();
    for (ns, name) in rollouts {
        for _ in 0..6 {
            let before = state.store.get(kinds.rollouts, ns, name).map(|o| o.rv);
            let mut ctx = Ctx {
                state,
                kinds,
                pace: Pace::new(state.options.speed),
                now: Utc::now(),
                times: &mut times,
            };
            super::reconcile_rollout(&mut ctx, ns, name);
            if state.store.get(kinds.rollouts, ns, name).map(|o| o.rv) == before {
                break;
            }
        }
    }
}

pub fn seed(state: &ClusterState) {
    let Some(kinds) = Kinds::of(state) else {
        return;
    };
    // Whole seconds, so seeded timestamps and the backfill's 5 s grid line up the same way
    // on every run.
    let clock = Clock {
        now: Utc::now().trunc_subsecs(0),
        pace: Pace::new(state.options.speed),
    };
    let istio = state.profile.has(Addon::Istio) && kinds.virtual_services.is_some();
    let mut seeded = if istio {
        istio::seed_istio(state, kinds, &clock)
    } else {
        basic::seed_basic(state, kinds, &clock)
    };
    seeded.extend(basic::seed_bench(state, kinds, &clock));
    settle(state, kinds, &seeded);
    if istio {
        traffic::backfill(state, kinds, clock.now.timestamp_millis());
        if let Ok(mut rules) = state.prom.rules.write() {
            rules.extend(alert_rules());
        }
    }
}
