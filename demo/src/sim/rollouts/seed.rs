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

use chrono::{DateTime, Duration as ChronoDuration, SubsecRound, Utc};
use serde_json::{Value, json};

use super::controller::{BLUE_GREEN_PAUSE, CANARY_PAUSE_STEP, Ctx};
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

/// An Istio canary (`<name>-stable`/`<name>-canary` Services, VirtualService `<name>`)
/// paused at its first timed pause, step 1.
struct PausedIstioCanary<'a> {
    ns: &'a str,
    name: &'a str,
    replicas: i64,
    revision: i64,
    /// Created this many days ago.
    age_days: f64,
    steps: &'a Value,
    release: &'a Release,
    /// When the release started (a stamp).
    started: &'a str,
    /// Simulated seconds since the pause began.
    paused_secs: f64,
}

impl PausedIstioCanary<'_> {
    /// The Rollout as seeded.
    fn rollout(&self, clock: &Clock) -> Value {
        let Self { ns, name, .. } = *self;
        let created = clock.days_ago(self.age_days);
        json!({
            "metadata": rollout_meta(ns, name, self.revision, &created),
            "spec": {
                "replicas": self.replicas,
                "revisionHistoryLimit": 3,
                "selector": {"matchLabels": {"app": name}},
                "template": self.release.canary_t,
                "strategy": {"canary": {
                    "canaryService": format!("{name}-canary"),
                    "stableService": format!("{name}-stable"),
                    "trafficRouting": {"istio": {"virtualService": {"name": name, "routes": ["primary"]}}},
                    "steps": self.steps,
                }},
            },
            "status": {
                "stableRS": self.release.stable_h,
                "currentPodHash": self.release.canary_h,
                "currentStepHash": util::step_hash(self.steps),
                "currentStepIndex": 1,
                "observedGeneration": "1",
                "controllerPause": true,
                "pauseConditions": [{"reason": CANARY_PAUSE_STEP, "startTime": clock.ago_str(self.paused_secs)}],
                "canary": {}, "blueGreen": {},
                "conditions": canary_conditions(name, &self.release.canary_h, &created, self.started, false),
            },
        })
    }
}

/// A canary's Services: `<name>` for all pods, `-stable` and `-canary` managed by the Rollout.
fn canary_services(state: &ClusterState, kinds: Kinds, ns: &str, name: &str, rel: &Release) {
    service(state, kinds, ns, name, name, None, None);
    for (suffix, hash) in [("stable", &rel.stable_h), ("canary", &rel.canary_h)] {
        service(
            state,
            kinds,
            ns,
            &format!("{name}-{suffix}"),
            name,
            Some(hash),
            Some(name),
        );
    }
}

fn seed_istio(state: &ClusterState, kinds: Kinds, clock: &Clock) -> Vec<(String, String)> {
    let mut seeded = Vec::new();
    for ns in ["shop", "payments", "search"] {
        for t in analysis_templates(ns) {
            let _ = state.store.insert(kinds.analysis_templates, t);
        }
    }

    // ---- shop/checkout: Istio canary, first timed pause --------------------------------
    let steps = checkout_steps(true);
    let rel = Release::new("checkout", "1.8.1", "1.8.2");
    let started = clock.ago_str(40.0);
    let ro = rollout(
        state,
        kinds,
        PausedIstioCanary {
            ns: "shop",
            name: "checkout",
            replicas: 5,
            revision: 5,
            age_days: 41.0,
            steps: &steps,
            release: &rel,
            started: &started,
            paused_secs: 6.0,
        }
        .rollout(clock),
    );
    if let Some(ro) = ro {
        let old_t = pod_template("checkout", &image("checkout", "1.8.0"));
        replica_set(state, kinds, &ro, &old_t, 3, 0, 5, &clock.days_ago(9.0));
        replica_set(
            state,
            kinds,
            &ro,
            &rel.stable_t,
            4,
            5,
            5,
            &clock.days_ago(2.0),
        );
        replica_set(state, kinds, &ro, &rel.canary_t, 5, 1, 5, &started);
        let tpls = analysis_templates("shop");
        finished_run(
            state,
            kinds,
            &ro,
            &format!("checkout-{}-4-3", rel.stable_h),
            json!({HASH_LABEL: rel.stable_h, "rollout-type": "Step", "step-index": "3"}),
            4,
            "checkout-canary",
            &image("checkout", "1.8.1"),
            &tpls[..1],
            clock.now - ChronoDuration::hours(47),
        );
        seeded.push(("shop".to_string(), "checkout".to_string()));
    }
    canary_services(state, kinds, "shop", "checkout", &rel);

    // ---- search/search-api: a bad release in its canary --------------------------------
    let steps = json!([
        {"setWeight": 20},
        {"pause": {"duration": "30s"}},
        {"analysis": {"templates": [{"templateName": "success-rate"}, {"templateName": "latency-p99"}],
                      "args": [{"name": "service-name", "value": "search-api-canary"}]}},
        {"setWeight": 50},
        {"pause": {"duration": "30s"}},
        {"setWeight": 80},
        {"pause": {"duration": "30s"}},
    ]);
    let rel = Release::new("search-api", "2.13.4", "2.14.0");
    let started = clock.ago_str(45.0);
    let ro = rollout(
        state,
        kinds,
        PausedIstioCanary {
            ns: "search",
            name: "search-api",
            replicas: 4,
            revision: 8,
            age_days: 63.0,
            steps: &steps,
            release: &rel,
            started: &started,
            paused_secs: 22.0,
        }
        .rollout(clock),
    );
    if let Some(ro) = ro {
        let old_t = pod_template("search-api", &image("search-api", "2.13.3"));
        replica_set(state, kinds, &ro, &old_t, 7, 0, 4, &clock.days_ago(6.0));
        replica_set(
            state,
            kinds,
            &ro,
            &rel.stable_t,
            7,
            4,
            4,
            &clock.days_ago(3.0),
        );
        replica_set(state, kinds, &ro, &rel.canary_t, 8, 1, 4, &started);
        seeded.push(("search".to_string(), "search-api".to_string()));
    }
    // The revision of the old one is 6, not 7: fix it up (two RSs cannot share one).
    let _ = state
        .store
        .list(kinds.replica_sets, Some("search"))
        .0
        .iter()
        .find(|o| {
            o.value()
                .pointer("/spec/template/spec/containers/0/image")
                .and_then(Value::as_str)
                == Some(image("search-api", "2.13.3").as_str())
        })
        .map(|o| {
            state
                .store
                .modify(kinds.replica_sets, "search", &o.key.name, |v| {
                    v["metadata"]["annotations"][REVISION_ANNOTATION] = json!("6");
                })
        });
    canary_services(state, kinds, "search", "search-api", &rel);

    // ---- payments/payments-api: blue-green waiting for promotion -----------------------
    let active_t = pod_template("payments-api", &image("payments-api", "3.2.0"));
    let preview_t = pod_template("payments-api", &image("payments-api", "3.3.0"));
    let active_h = util::pod_template_hash(&active_t, None);
    let preview_h = util::pod_template_hash(&preview_t, None);
    let pre_name = format!("payments-api-{preview_h}-12-pre");
    let started = clock.ago_str(420.0);
    let ro = rollout(
        state,
        kinds,
        json!({
            "metadata": rollout_meta("payments", "payments-api", 12, &clock.days_ago(120.0)),
            "spec": {
                "replicas": 3,
                "revisionHistoryLimit": 3,
                "selector": {"matchLabels": {"app": "payments-api"}},
                "template": preview_t,
                "strategy": {"blueGreen": {
                    "activeService": "payments-api",
                    "previewService": "payments-api-preview",
                    "autoPromotionEnabled": false,
                    "scaleDownDelaySeconds": 30,
                    "prePromotionAnalysis": {
                        "templates": [{"templateName": "success-rate"}],
                        "args": [{"name": "service-name", "value": "payments-api-preview"}],
                    },
                }},
            },
            "status": {
                "stableRS": active_h,
                "currentPodHash": preview_h,
                "observedGeneration": "1",
                "controllerPause": true,
                "pauseConditions": [{"reason": BLUE_GREEN_PAUSE, "startTime": clock.ago_str(300.0)}],
                "blueGreen": {
                    "activeSelector": active_h,
                    "previewSelector": preview_h,
                    "prePromotionAnalysisRunStatus": {"name": pre_name, "status": "Successful"},
                },
                "canary": {},
                "conditions": [
                    cond("Available", "True", "AvailableReason", "Rollout has minimum availability", &clock.days_ago(120.0)),
                    cond("Healthy", "False", "RolloutHealthy", "Rollout is not healthy", &started),
                    cond("Completed", "False", "RolloutCompleted", "RolloutCompleted", &started),
                    cond("Progressing", "Unknown", "RolloutPaused", "Rollout is paused", &clock.ago_str(300.0)),
                    cond("Paused", "True", "RolloutPaused", "Rollout is paused", &clock.ago_str(300.0)),
                ],
            },
        }),
    );
    if let Some(ro) = ro {
        let old_t = pod_template("payments-api", &image("payments-api", "3.1.9"));
        replica_set(state, kinds, &ro, &old_t, 10, 0, 3, &clock.days_ago(14.0));
        replica_set(state, kinds, &ro, &active_t, 11, 3, 3, &clock.days_ago(5.0));
        replica_set(state, kinds, &ro, &preview_t, 12, 3, 3, &started);
        let tpls = analysis_templates("payments");
        finished_run(
            state,
            kinds,
            &ro,
            &pre_name,
            json!({HASH_LABEL: preview_h, "rollout-type": "PrePromotion"}),
            12,
            "payments-api-preview",
            &image("payments-api", "3.3.0"),
            &tpls[..1],
            clock.ago(360.0),
        );
        seeded.push(("payments".to_string(), "payments-api".to_string()));
    }
    service(
        state,
        kinds,
        "payments",
        "payments-api",
        "payments-api",
        Some(&active_h),
        Some("payments-api"),
    );
    service(
        state,
        kinds,
        "payments",
        "payments-api-preview",
        "payments-api",
        Some(&preview_h),
        Some("payments-api"),
    );

    seed_istio_objects(state, kinds);
    seeded
}

fn seed_istio_objects(state: &ClusterState, kinds: Kinds) {
    let (Some(vs), Some(dr)) = (kinds.virtual_services, kinds.destination_rules) else {
        return;
    };
    for (ns, app, weight) in [("shop", "checkout", 20), ("search", "search-api", 20)] {
        let _ = state.store.insert(vs, json!({
            "metadata": {"name": app, "namespace": ns, "labels": {"app": app}},
            "spec": {
                "hosts": [format!("{app}.{ns}.svc.cluster.local")],
                "gateways": ["istio-system/public-gateway", "mesh"],
                "http": [{
                    "name": "primary",
                    "route": [
                        {"destination": {"host": format!("{app}-stable"), "port": {"number": 8080}}, "weight": 100 - weight},
                        {"destination": {"host": format!("{app}-canary"), "port": {"number": 8080}}, "weight": weight},
                    ],
                    "retries": {"attempts": 2, "perTryTimeout": "2s", "retryOn": "gateway-error,connect-failure,refused-stream"},
                    "timeout": "5s",
                }],
            },
        }));
    }
    let _ = state.store.insert(vs, json!({
        "metadata": {"name": "payments-api", "namespace": "payments", "labels": {"app": "payments-api"}},
        "spec": {
            "hosts": ["payments-api.payments.svc.cluster.local"],
            "http": [{
                "name": "primary",
                "route": [{"destination": {"host": "payments-api", "port": {"number": 8080}}}],
                "timeout": "3s",
                "retries": {"attempts": 1, "perTryTimeout": "1s", "retryOn": "connect-failure,refused-stream"},
            }],
        },
    }));
    let _ = state.store.insert(dr, json!({
        "metadata": {"name": "checkout", "namespace": "shop", "labels": {"app": "checkout"}},
        "spec": {
            "host": "checkout.shop.svc.cluster.local",
            "trafficPolicy": {
                "connectionPool": {
                    "tcp": {"maxConnections": 200, "connectTimeout": "2s"},
                    "http": {"http1MaxPendingRequests": 128, "http2MaxRequests": 500, "maxRequestsPerConnection": 20, "maxRetries": 3},
                },
                "outlierDetection": {"consecutive5xxErrors": 7, "interval": "10s", "baseEjectionTime": "30s", "maxEjectionPercent": 50},
            },
            "subsets": [
                {"name": "stable", "labels": {"app": "checkout"}},
                {"name": "canary", "labels": {"app": "checkout"},
                 "trafficPolicy": {"outlierDetection": {"consecutive5xxErrors": 3, "interval": "5s", "baseEjectionTime": "60s"}}},
            ],
        },
    }));
    let _ = state.store.insert(dr, json!({
        "metadata": {"name": "payments-api", "namespace": "payments", "labels": {"app": "payments-api"}},
        "spec": {
            "host": "payments-api.payments.svc.cluster.local",
            "trafficPolicy": {
                "connectionPool": {
                    "tcp": {"maxConnections": 100, "connectTimeout": "1s"},
                    "http": {"http1MaxPendingRequests": 64, "http2MaxRequests": 200, "maxRequestsPerConnection": 10, "maxRetries": 2},
                },
                "outlierDetection": {
                    "consecutive5xxErrors": 5, "consecutiveGatewayErrors": 3, "interval": "10s",
                    "baseEjectionTime": "30s", "maxEjectionPercent": 100, "minHealthPercent": 0,
                },
            },
            "subsets": [{"name": "active", "labels": {"app": "payments-api"}}],
        },
    }));
}

/// A basic (replica-ratio) canary: `steps`, currently at `step` with `canary_replicas` of the
/// new release up (Healthy when `from == to`).
#[allow(clippy::too_many_arguments)]
fn basic_canary(
    state: &ClusterState,
    kinds: Kinds,
    clock: &Clock,
    ns: &str,
    name: &str,
    replicas: i64,
    steps: &Value,
    from: &str,
    to: &str,
    step: i64,
    canary_replicas: i64,
    revision: i64,
) -> Option<(String, String)> {
    let rel = Release::new(name, from, to);
    let healthy = from == to;
    // A Healthy one became so shortly before start, so the simulated CI ships its next
    // release a few minutes into the demo rather than at once.
    let started = clock.ago_str(if healthy { 100.0 } else { 150.0 });
    let created = clock.days_ago(30.0);
    let conditions = canary_conditions(name, &rel.canary_h, &created, &started, healthy);
    let ro = rollout(
        state,
        kinds,
        json!({
            "metadata": rollout_meta(ns, name, revision, &created),
            "spec": {
                "replicas": replicas,
                "revisionHistoryLimit": 3,
                "selector": {"matchLabels": {"app": name}},
                "template": rel.canary_t,
                "strategy": {"canary": {"steps": steps}},
            },
            "status": {
                "stableRS": rel.stable_h,
                "currentPodHash": rel.canary_h,
                "currentStepHash": util::step_hash(steps),
                "currentStepIndex": step,
                "observedGeneration": "1",
                "canary": {}, "blueGreen": {},
                "conditions": conditions,
            },
        }),
    )?;
    let old_t = pod_template(name, &image(name, "0.0.1"));
    replica_set(
        state,
        kinds,
        &ro,
        &old_t,
        revision - 2,
        0,
        replicas,
        &clock.days_ago(12.0),
    );
    if healthy {
        replica_set(
            state,
            kinds,
            &ro,
            &rel.canary_t,
            revision,
            replicas,
            replicas,
            &started,
        );
    } else {
        replica_set(
            state,
            kinds,
            &ro,
            &rel.stable_t,
            revision - 1,
            replicas - canary_replicas,
            replicas,
            &clock.days_ago(4.0),
        );
        replica_set(
            state,
            kinds,
            &ro,
            &rel.canary_t,
            revision,
            canary_replicas,
            replicas,
            &started,
        );
    }
    service(state, kinds, ns, name, name, None, None);
    Some((ns.to_string(), name.to_string()))
}

fn seed_basic(state: &ClusterState, kinds: Kinds, clock: &Clock) -> Vec<(String, String)> {
    let mut seeded = Vec::new();
    seeded.extend(basic_canary(
        state,
        kinds,
        clock,
        "shop",
        "checkout",
        5,
        &checkout_steps(false),
        "1.8.0",
        "1.8.1",
        4,
        4,
        4,
    ));
    let steps = json!([
        {"setWeight": 25}, {"pause": {"duration": "45s"}},
        {"setWeight": 50}, {"pause": {"duration": "45s"}},
        {"setWeight": 75}, {"pause": {"duration": "45s"}},
    ]);
    seeded.extend(basic_canary(
        state,
        kinds,
        clock,
        "shop",
        "recommendations",
        3,
        &steps,
        "0.9.5",
        "0.9.5",
        6,
        0,
        9,
    ));
    seeded
}

/// `--scale N`: N/200 small canaries spread over the `load-*` namespaces that exist.
fn seed_bench(state: &ClusterState, kinds: Kinds, clock: &Clock) -> Vec<(String, String)> {
    let count = state.options.scale / 200;
    let (namespaces, _) = state.store.list(kinds.namespaces, None);
    let load: Vec<String> = namespaces
        .iter()
        .map(|o| o.key.name.clone())
        .filter(|n| n.starts_with("load-"))
        .collect();
    if load.is_empty() {
        return Vec::new();
    }
    let steps = json!([{"setWeight": 50}, {"pause": {"duration": "30s"}}]);
    (0..count)
        .filter_map(|i| {
            let ns = &load[i % load.len()];
            basic_canary(
                state,
                kinds,
                clock,
                ns,
                &format!("bench-{i:03}"),
                2,
                &steps,
                "1.0.0",
                "1.0.0",
                2,
                0,
                3,
            )
        })
        .collect()
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
        seed_istio(state, kinds, &clock)
    } else {
        seed_basic(state, kinds, &clock)
    };
    seeded.extend(seed_bench(state, kinds, &clock));
    settle(state, kinds, &seeded);
    if istio {
        traffic::backfill(state, kinds, clock.now.timestamp_millis());
        if let Ok(mut rules) = state.prom.rules.write() {
            rules.extend(alert_rules());
        }
    }
}
