//! Rollout scenario for clusters with Istio (see seed.rs): the paused `shop/checkout`
//! canary, the failing `search/search-api` release, the `payments/payments-api` blue-green
//! waiting for promotion, and their VirtualServices and DestinationRules.

use chrono::Duration as ChronoDuration;
use serde_json::{Value, json};

use super::{
    Clock, Release, analysis_templates, canary_conditions, checkout_steps, cond, finished_run,
    image, pod_template, replica_set, rollout, rollout_meta, service,
};
use crate::ClusterState;
use crate::sim::rollouts::controller::{BLUE_GREEN_PAUSE, CANARY_PAUSE_STEP};
use crate::sim::rollouts::util::{self, HASH_LABEL, Kinds, REVISION_ANNOTATION};

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

pub(super) fn seed_istio(
    state: &ClusterState,
    kinds: Kinds,
    clock: &Clock,
) -> Vec<(String, String)> {
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
