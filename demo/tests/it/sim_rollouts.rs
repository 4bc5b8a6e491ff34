//! The simulated Argo Rollouts, AnalysisRun controller and Istio traffic model, driven
//! in-process at high `--speed` through the object store exactly as kubectl-argo-rollouts
//! sends its requests, next to the simulator's own workloads controllers (ReplicaSets,
//! scheduler and kubelet) and with analysis queries answered by its PromQL engine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kdeck_demo::api::registry;
use kdeck_demo::api::store::{Patch, Subresource};
use kdeck_demo::prom::tsdb::Tsdb;
use kdeck_demo::sim::rollouts::{self, SimConfig, analysis, seed as ro_seed, traffic};
use kdeck_demo::sim::workloads::{self, replicasets::owned_pods};
use kdeck_demo::sim::{clock, namespaces};
use kdeck_demo::{ClusterProfile, ClusterState, SimOptions};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::schema::{schema_for, validate};
use kdeck_demo::testing::support;

fn t(group: &str, plural: &str) -> usize {
    registry::find(group, plural).expect("registered kind")
}

fn rollouts_t() -> usize {
    t("argoproj.io", "rollouts")
}

fn runs_t() -> usize {
    t("argoproj.io", "analysisruns")
}

fn rs_t() -> usize {
    t("apps", "replicasets")
}

/// A seeded cluster (namespaces + the rollout scenario) that has not started moving.
fn cluster(index: usize, seed: u64, speed: f64) -> Arc<ClusterState> {
    let state = ClusterState::new(
        ClusterProfile::standard(index),
        SimOptions {
            seed,
            speed,
            scale: 0,
        },
    );
    namespaces::seed(&state);
    rollouts::seed(&state);
    Arc::new(state)
}

fn test_config() -> SimConfig {
    SimConfig {
        engine: Arc::new(rollouts::PromqlEngine),
        ci: false,
        traffic: true,
    }
}

struct Sim {
    state: Arc<ClusterState>,
    shutdown: CancellationToken,
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn start(state: Arc<ClusterState>, config: SimConfig) -> Sim {
    let shutdown = CancellationToken::new();
    // Nodes for the scheduler to bind the ReplicaSets' pods to; then the controllers the
    // simulator runs (ReplicaSets, kubelet, ...) next to the Rollouts controller.
    workloads::nodes::seed(&state, clock::now());
    workloads::spawn(&state, &shutdown);
    rollouts::spawn_with(&state, &shutdown, config);
    let sim = Sim { state, shutdown };
    sim.pods_running().await;
    sim
}

impl Sim {
    /// The seeded ReplicaSets come without pods: the ReplicaSet controller creates them at
    /// start, and until they are Ready the Rollouts are briefly unavailable. Waits until
    /// every ReplicaSet has its pods Ready and says so, so each test starts from the
    /// scenario as seeded.
    async fn pods_running(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (sets, _) = self.state.store.list(rs_t(), None);
            let pending: Vec<String> = sets
                .iter()
                .filter(|rs| {
                    let v = rs.value();
                    let want = v["spec"]["replicas"].as_i64().unwrap_or(0);
                    let pods = owned_pods(&self.state, &rs.key.ns, &rs.uid);
                    let ready = pods.iter().filter(|p| p.ready()).count() as i64;
                    let available = v["status"]["availableReplicas"].as_i64().unwrap_or(0);
                    ready != want || available != want
                })
                .map(|rs| rs.key.name.clone())
                .collect();
            if pending.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "pods never came up for {pending:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn get(&self, ns: &str, name: &str) -> Value {
        self.state
            .store
            .get_value(rollouts_t(), ns, name)
            .expect("rollout exists")
    }

    /// Polls until `f` holds for the rollout (generous deadline; never a timing assertion).
    async fn wait(&self, ns: &str, name: &str, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ro = self.get(ns, name);
            if f(&ro) {
                return ro;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {ns}/{name}: {what}\nlast status: {:#}",
                ro["status"]
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn patch(&self, ns: &str, name: &str, sub: Subresource, body: Value) {
        self.state
            .store
            .patch(rollouts_t(), ns, name, &Patch::Merge(body), sub, false)
            .expect("patch accepted");
    }

    fn rs(&self, ns: &str, hash: &str) -> Value {
        let (sets, _) = self.state.store.list(rs_t(), Some(ns));
        sets.iter()
            .map(|o| o.value())
            .find(|v| v["metadata"]["labels"]["rollouts-pod-template-hash"] == hash)
            .expect("replicaset for hash")
    }

    fn vs_canary_weight(&self, ns: &str, vs: &str) -> i64 {
        let v = self
            .state
            .store
            .get_value(t("networking.istio.io", "virtualservices"), ns, vs)
            .expect("virtualservice");
        v["spec"]["http"][0]["route"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| {
                d["destination"]["host"]
                    .as_str()
                    .unwrap()
                    .ends_with("-canary")
            })
            .and_then(|d| d["weight"].as_i64())
            .unwrap()
    }

    fn runs(&self, ns: &str) -> Vec<Value> {
        let (runs, _) = self.state.store.list(runs_t(), Some(ns));
        runs.iter().map(|o| o.value()).collect()
    }
}

fn phase(ro: &Value) -> (&str, &str) {
    (
        ro["status"]["phase"].as_str().unwrap_or_default(),
        ro["status"]["message"].as_str().unwrap_or_default(),
    )
}

fn step(ro: &Value) -> i64 {
    ro["status"]["currentStepIndex"].as_i64().unwrap_or(-1)
}

fn cond<'a>(ro: &'a Value, kind: &str) -> &'a Value {
    ro["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == kind))
        .unwrap_or(&Value::Null)
}

fn healthy(ro: &Value) -> bool {
    phase(ro).0 == "Healthy" && ro["status"]["stableRS"] == ro["status"]["currentPodHash"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_advances_to_indefinite_pause_then_promote_and_hpa_scaling() {
    let sim = start(cluster(0, 11, 60.0), test_config()).await;

    // Advances on its own through setWeight 40 and the analysis step, then waits at pause {}.
    let ro = sim
        .wait("shop", "checkout", "paused at pause {}", |r| {
            // The Paused/Progressing conditions follow one pass after the pause condition
            // (checkPausedConditions reads the stored status), as upstream.
            step(r) == 5
                && phase(r) == ("Paused", "CanaryPauseStep")
                && cond(r, "Paused")["status"] == "True"
        })
        .await;
    assert_eq!(ro["status"]["controllerPause"], true);
    assert_eq!(
        ro["status"]["pauseConditions"][0]["reason"],
        "CanaryPauseStep"
    );
    assert_eq!(ro["status"]["canary"]["weights"]["canary"]["weight"], 60);
    assert_eq!(
        ro["status"]["canary"]["weights"]["canary"]["serviceName"],
        "checkout-canary"
    );
    assert_eq!(sim.vs_canary_weight("shop", "checkout"), 60);
    assert_eq!(cond(&ro, "Paused")["status"], "True");
    assert_eq!(cond(&ro, "Progressing")["reason"], "RolloutPaused");
    let hash = ro["status"]["currentPodHash"].as_str().unwrap().to_string();
    assert_eq!(
        sim.rs("shop", &hash)["spec"]["replicas"],
        3,
        "60% of 5, rounded up"
    );
    // The analysis step created and finished its run.
    let run = sim
        .runs("shop")
        .into_iter()
        .find(|r| r["metadata"]["name"] == format!("checkout-{hash}-5-3"))
        .expect("step analysis run");
    assert_eq!(run["metadata"]["labels"]["rollout-type"], "Step");
    assert_eq!(run["metadata"]["labels"]["step-index"], "3");
    assert_eq!(
        run["metadata"]["labels"]["rollouts-pod-template-hash"],
        hash.as_str()
    );
    assert_eq!(run["metadata"]["ownerReferences"][0]["kind"], "Rollout");
    assert_eq!(run["status"]["phase"], "Successful");
    let m = &run["status"]["metricResults"][0];
    assert_eq!(m["count"], 3);
    assert_eq!(m["successful"], 3);
    let last = m["measurements"].as_array().unwrap().last().unwrap();
    let v: f64 = last["value"]
        .as_str()
        .unwrap()
        .trim_matches(['[', ']'])
        .parse()
        .unwrap();
    assert!(v > 0.95, "good release measured {v}");

    // HPA / kubectl scale: spec.replicas 5 -> 7.
    sim.patch(
        "shop",
        "checkout",
        Subresource::Main,
        json!({"spec": {"replicas": 7}}),
    );
    let ro = sim
        .wait("shop", "checkout", "scaled to 7", |r| {
            r["status"]["observedGeneration"] == "2" && r["status"]["HPAReplicas"] == 12
        })
        .await;
    let stable = ro["status"]["stableRS"].as_str().unwrap().to_string();
    assert_eq!(sim.rs("shop", &stable)["spec"]["replicas"], 7);
    assert_eq!(
        sim.rs("shop", &hash)["spec"]["replicas"],
        5,
        "ceil(7 * 60%)"
    );
    assert_eq!(
        sim.rs("shop", &hash)["metadata"]["annotations"]["rollout.argoproj.io/desired-replicas"],
        "7"
    );

    // kubectl argo rollouts promote: status.pauseConditions = null.
    sim.patch(
        "shop",
        "checkout",
        Subresource::Status,
        json!({"status": {"pauseConditions": null}}),
    );
    let ro = sim
        .wait("shop", "checkout", "fully promoted", healthy)
        .await;
    assert_eq!(step(&ro), 8);
    assert_eq!(ro["status"]["stableRS"], hash.as_str());
    assert_eq!(cond(&ro, "Completed")["status"], "True");
    // Traffic leaves the canary on the pass after the stable switch, as upstream (traffic
    // routing is reconciled before the new stable is recorded).
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim.vs_canary_weight("shop", "checkout") != 0 {
        assert!(Instant::now() < deadline, "canary weight never back to 0");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The previous stable goes away after scaleDownDelaySeconds.
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim.rs("shop", &stable)["spec"]["replicas"] != 0 {
        assert!(Instant::now() < deadline, "old stable never scaled down");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Healthy (the condition) only once the old replicas are gone, as upstream.
    let ro = sim
        .wait("shop", "checkout", "Healthy condition", |r| {
            cond(r, "Healthy")["status"] == "True"
        })
        .await;
    assert_eq!(cond(&ro, "Progressing")["reason"], "NewReplicaSetAvailable");
    assert_eq!(ro["status"]["HPAReplicas"], 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_retry_and_promote_full() {
    let sim = start(cluster(0, 12, 60.0), test_config()).await;
    sim.wait("shop", "checkout", "paused at pause {}", |r| {
        step(r) == 5 && phase(r).0 == "Paused"
    })
    .await;
    let hash = sim.get("shop", "checkout")["status"]["currentPodHash"]
        .as_str()
        .unwrap()
        .to_string();

    // abort: status.abort = true.
    sim.patch(
        "shop",
        "checkout",
        Subresource::Status,
        json!({"status": {"abort": true}}),
    );
    let ro = sim
        .wait("shop", "checkout", "aborted", |r| phase(r).0 == "Degraded")
        .await;
    assert_eq!(
        phase(&ro).1,
        "RolloutAborted: Rollout aborted update to revision 5"
    );
    assert_eq!(cond(&ro, "Progressing")["reason"], "RolloutAborted");
    assert_eq!(cond(&ro, "Progressing")["status"], "False");
    assert_eq!(ro["status"]["currentStepIndex"], 0);
    assert!(ro["status"]["abortedAt"].is_string());
    assert!(ro["status"].get("pauseConditions").is_none());
    assert_eq!(ro["status"]["canary"]["weights"]["canary"]["weight"], 0);
    assert_eq!(sim.vs_canary_weight("shop", "checkout"), 0);
    // The canary is scaled down after abortScaleDownDelaySeconds.
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim.rs("shop", &hash)["spec"]["replicas"] != 0 {
        assert!(
            Instant::now() < deadline,
            "aborted canary never scaled down"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // retry: status.abort = false -> starts over from step 0 and runs the analysis again.
    sim.patch(
        "shop",
        "checkout",
        Subresource::Status,
        json!({"status": {"abort": false}}),
    );
    let ro = sim
        .wait("shop", "checkout", "retried to pause {}", |r| {
            step(r) == 5 && phase(r).0 == "Paused"
        })
        .await;
    assert!(ro["status"].get("abort").is_none() && ro["status"].get("abortedAt").is_none());
    let names: Vec<String> = sim
        .runs("shop")
        .iter()
        .map(|r| r["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        names.contains(&format!("checkout-{hash}-5-3.1")),
        "retried analysis gets Argo's collision suffix: {names:?}"
    );

    // promote --full: status.promoteFull = true.
    sim.patch(
        "shop",
        "checkout",
        Subresource::Status,
        json!({"status": {"promoteFull": true}}),
    );
    let ro = sim
        .wait("shop", "checkout", "fully promoted", healthy)
        .await;
    assert_eq!(ro["status"]["currentStepIndex"], 8);
    assert!(ro["status"].get("promoteFull").is_none());
    assert_eq!(ro["status"]["stableRS"], hash.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_step_pause_resume_restart_and_undo() {
    // demo-eu-west: replica-based canaries, no Istio.
    let sim = start(cluster(1, 13, 60.0), test_config()).await;
    sim.wait("shop", "recommendations", "healthy as seeded", healthy)
        .await;

    // pause / resume: spec.paused.
    sim.patch(
        "shop",
        "recommendations",
        Subresource::Main,
        json!({"spec": {"paused": true}}),
    );
    let ro = sim
        .wait("shop", "recommendations", "manually paused", |r| {
            phase(r) == ("Paused", "manually paused")
        })
        .await;
    assert_eq!(cond(&ro, "Paused")["status"], "True");
    sim.patch(
        "shop",
        "recommendations",
        Subresource::Main,
        json!({"spec": {"paused": false}}),
    );
    let ro = sim
        .wait("shop", "recommendations", "resumed", healthy)
        .await;
    assert_eq!(cond(&ro, "Paused")["status"], "False");

    // restart: spec.restartAt; pods older than it are replaced one at a time.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let pods_before: Vec<String> = sim
        .state
        .store
        .list(t("", "pods"), Some("shop"))
        .0
        .iter()
        .filter(|p| p.key.name.starts_with("recommendations-"))
        .map(|p| p.key.name.clone())
        .collect();
    assert_eq!(pods_before.len(), 3);
    sim.patch(
        "shop",
        "recommendations",
        Subresource::Main,
        json!({"spec": {"restartAt": now}}),
    );
    let ro = sim
        .wait("shop", "recommendations", "restarted", |r| {
            r["status"]["restartedAt"] == now.as_str() && healthy(r)
        })
        .await;
    let pods_after: Vec<String> = sim
        .state
        .store
        .list(t("", "pods"), Some("shop"))
        .0
        .iter()
        .filter(|p| p.key.name.starts_with("recommendations-"))
        .map(|p| p.key.name.clone())
        .collect();
    assert!(
        pods_after.iter().all(|p| !pods_before.contains(p)),
        "{pods_before:?} -> {pods_after:?}"
    );
    assert_eq!(phase(&ro).0, "Healthy");

    // A new release, then skip a step (status.currentStepIndex = i + 1), then undo.
    let stable = ro["status"]["stableRS"].as_str().unwrap().to_string();
    let old_template = sim.rs("shop", &stable)["spec"]["template"].clone();
    let ops = json!([{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "demo.registry.local/recommendations:0.9.6"}]);
    sim.state
        .store
        .patch(
            rollouts_t(),
            "shop",
            "recommendations",
            &Patch::Json(serde_json::from_value(ops).unwrap()),
            Subresource::Main,
            false,
        )
        .unwrap();
    let ro = sim
        .wait("shop", "recommendations", "new release paused", |r| {
            step(r) == 1 && phase(r).0 == "Paused"
        })
        .await;
    assert_ne!(ro["status"]["currentPodHash"], stable.as_str());
    assert_eq!(
        ro["metadata"]["annotations"]["rollout.argoproj.io/revision"],
        "10"
    );
    sim.patch(
        "shop",
        "recommendations",
        Subresource::Status,
        json!({"status": {"currentStepIndex": 2}}),
    );
    let ro = sim
        .wait("shop", "recommendations", "skipped to step 2+", |r| {
            step(r) >= 2
        })
        .await;
    let new_hash = ro["status"]["currentPodHash"].as_str().unwrap().to_string();

    // undo: JSON patch replacing /spec/template with the stable ReplicaSet's template.
    let mut template = old_template;
    template["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("rollouts-pod-template-hash");
    let ops = json!([{"op": "replace", "path": "/spec/template", "value": template}]);
    sim.state
        .store
        .patch(
            rollouts_t(),
            "shop",
            "recommendations",
            &Patch::Json(serde_json::from_value(ops).unwrap()),
            Subresource::Main,
            false,
        )
        .unwrap();
    let ro = sim
        .wait("shop", "recommendations", "back on stable", |r| {
            healthy(r) && r["status"]["currentPodHash"] == stable.as_str()
        })
        .await;
    assert_eq!(
        ro["status"]["currentStepIndex"], 6,
        "rollback to stable skips the steps"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim.rs("shop", &new_hash)["spec"]["replicas"] != 0 {
        assert!(
            Instant::now() < deadline,
            "abandoned canary never scaled down"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The undone-to ReplicaSet now carries the newest revision.
    assert_eq!(
        sim.rs("shop", &stable)["metadata"]["annotations"]["rollout.argoproj.io/revision"],
        "11"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blue_green_promote_switches_active_service() {
    let sim = start(cluster(0, 14, 60.0), test_config()).await;
    let ro = sim.get("payments", "payments-api");
    assert_eq!(phase(&ro), ("Paused", "BlueGreenPause"));
    let preview = ro["status"]["currentPodHash"].as_str().unwrap().to_string();
    let active = ro["status"]["stableRS"].as_str().unwrap().to_string();
    assert_eq!(ro["status"]["blueGreen"]["activeSelector"], active.as_str());
    assert_eq!(
        ro["status"]["blueGreen"]["previewSelector"],
        preview.as_str()
    );
    assert_eq!(
        ro["status"]["blueGreen"]["prePromotionAnalysisRunStatus"]["status"],
        "Successful"
    );
    assert_eq!(
        ro["status"]["selector"],
        format!("app=payments-api,rollouts-pod-template-hash={active}")
    );

    sim.patch(
        "payments",
        "payments-api",
        Subresource::Status,
        json!({"status": {"pauseConditions": null}}),
    );
    let ro = sim
        .wait("payments", "payments-api", "promoted", healthy)
        .await;
    assert_eq!(
        ro["status"]["blueGreen"]["activeSelector"],
        preview.as_str()
    );
    let svc = sim
        .state
        .store
        .get_value(t("", "services"), "payments", "payments-api")
        .unwrap();
    assert_eq!(
        svc["spec"]["selector"]["rollouts-pod-template-hash"],
        preview.as_str()
    );
    // The controller says so, as Argo Rollouts does: a SwitchService event on the rollout.
    let switched = || -> Vec<String> {
        let (events, _) = sim.state.store.list(t("", "events"), Some("payments"));
        events
            .iter()
            .map(|o| o.value())
            .filter(|e| {
                e["involvedObject"]["name"] == "payments-api" && e["reason"] == "SwitchService"
            })
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    // Recorded right after the status write that made it Healthy.
    let deadline = Instant::now() + Duration::from_secs(10);
    while switched().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        switched(),
        [format!(
            "Switched selector for service 'payments-api' from '{active}' to '{preview}'"
        )]
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim.rs("payments", &active)["spec"]["replicas"] != 0 {
        assert!(Instant::now() < deadline, "old active never scaled down");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_release_fails_analysis_and_aborts() {
    // Slower than the others: the canary's series need a couple of scrapes before the first
    // measurement, as they would have at speed 1.
    let sim = start(cluster(0, 15, 20.0), test_config()).await;
    let ro = sim
        .wait("search", "search-api", "aborted", |r| {
            // Traffic leaves the canary on the pass after the abort, as upstream (traffic
            // routing is reconciled before analysis).
            phase(r).0 == "Degraded" && r["status"]["canary"]["weights"]["canary"]["weight"] == 0
        })
        .await;
    let hash = ro["status"]["currentPodHash"].as_str().unwrap().to_string();
    let msg = phase(&ro).1.to_string();
    assert!(
        msg.starts_with("RolloutAborted: Rollout aborted update to revision 8: Metric \""),
        "{msg}"
    );
    assert!(
        msg.ends_with("assessed Failed due to failed (2) > failureLimit (1)"),
        "{msg}"
    );
    assert_eq!(
        ro["status"]["canary"]["currentStepAnalysisRunStatus"]["status"],
        "Failed"
    );
    assert_eq!(ro["status"]["canary"]["weights"]["canary"]["weight"], 0);
    let run = sim
        .runs("search")
        .into_iter()
        .find(|r| r["metadata"]["name"] == format!("search-api-{hash}-8-2"))
        .expect("analysis run");
    assert_eq!(run["status"]["phase"], "Failed", "{:#}", run["status"]);
    let results = run["status"]["metricResults"].as_array().unwrap();
    let success = results
        .iter()
        .find(|m| m["name"] == "success-rate")
        .unwrap();
    // Before the canary's series have two samples the query returns nothing and the
    // measurement is an Error (as Argo records it); after that every measurement fails.
    let measurements = success["measurements"].as_array().unwrap();
    let failed: Vec<&Value> = measurements
        .iter()
        .filter(|m| m["phase"] == "Failed")
        .collect();
    assert_eq!(failed.len(), 2, "{measurements:#?}");
    assert_eq!(success["failed"], 2);
    for m in measurements.iter().skip_while(|m| m["phase"] == "Error") {
        assert_eq!(m["phase"], "Failed");
        let v: f64 = m["value"]
            .as_str()
            .unwrap()
            .trim_matches(['[', ']'])
            .parse()
            .unwrap();
        assert!(v < 0.9 && v > 0.5, "bad release success rate {v}");
    }
    for m in measurements.iter().filter(|m| m["phase"] == "Error") {
        assert!(
            m.get("value").is_none()
                && m["message"]
                    .as_str()
                    .unwrap()
                    .contains("index out of range"),
            "{m}"
        );
    }
    assert!(
        success["metadata"]["ResolvedPrometheusQuery"]
            .as_str()
            .unwrap()
            .contains("search-api-canary")
    );
    assert_eq!(run["status"]["runSummary"]["count"], 2);
}

/// A template metric of the seeded AnalysisTemplates (`success-rate` or `latency-p99`) with
/// its service argument filled in, as the AnalysisRun controller resolves it.
fn resolved_metric(template: usize, service: &str) -> Value {
    let templates = ro_seed::analysis_templates("shop");
    let mut metric = templates[template]["spec"]["metrics"][0].clone();
    let query = metric["provider"]["prometheus"]["query"]
        .as_str()
        .unwrap()
        .replace("{{args.service-name}}", service);
    metric["provider"]["prometheus"]["query"] = json!(query);
    metric
}

/// A measurement's single value, `[v]`.
fn measured_value(m: &analysis::Measured) -> f64 {
    m.value
        .trim_matches(['[', ']'])
        .parse()
        .unwrap_or_else(|e| panic!("{:?}: {e}", m.value))
}

/// The production path (the PromQL engine over the TSDB) against series written here, with
/// the expected numbers worked out by hand.
#[test]
fn analysis_measures_hand_written_series() {
    let tsdb = Tsdb::new(Duration::from_secs(3600));
    let t0 = 1_700_000_000_000_i64;
    let requests = |svc: &str, reporter: &str, code: &str| {
        kdeck_demo::prom::tsdb::labels(
            "istio_requests_total",
            &[
                ("reporter", reporter),
                ("destination_service_name", svc),
                ("response_code", code),
            ],
        )
    };
    // Samples 15 s apart. irate takes the last two in the [1m] window: the first sample of
    // the 200s (0) must not count.
    let canary = "checkout-canary";
    for (code, samples) in [
        ("200", [0.0, 1000.0, 1270.0]), // (1270 - 1000) / 15 s = 18/s
        ("404", [0.0, 0.0, 15.0]),      // 1/s, a success: only 5xx fail
        ("503", [0.0, 0.0, 15.0]),      // 1/s
    ] {
        for (i, v) in samples.into_iter().enumerate() {
            tsdb.append(requests(canary, "source", code), t0 + 15_000 * i as i64, v);
        }
    }
    // Errors the query must not see: another service, and the destination's own report.
    for (i, v) in [0.0, 500.0, 1000.0].into_iter().enumerate() {
        let at = t0 + 15_000 * i as i64;
        tsdb.append(requests("checkout-stable", "source", "500"), at, v);
        tsdb.append(requests(canary, "destination", "500"), at, v);
    }
    let at = t0 + 30_000;
    let success = resolved_metric(0, canary);
    // (18 + 1) / (18 + 1 + 1) = 0.95: exactly the `result[0] >= 0.95` threshold.
    let m = analysis::measure(&rollouts::PromqlEngine, &tsdb, &success, at);
    assert_eq!(m.value, "[0.95]");
    assert_eq!(m.phase, Ok("Successful"));

    // 15 s later: 200s +150 (10/s), 503s +150 (10/s): 10 / 20 = 0.5, a failure.
    let at = t0 + 45_000;
    tsdb.append(requests(canary, "source", "200"), at, 1420.0);
    tsdb.append(requests(canary, "source", "404"), at, 15.0);
    tsdb.append(requests(canary, "source", "503"), at, 165.0);
    let m = analysis::measure(&rollouts::PromqlEngine, &tsdb, &success, at);
    assert_eq!(m.value, "[0.5]");
    assert_eq!(m.phase, Ok("Failed"));
    // A service with no traffic: an empty vector, and `result[0]` is an Error.
    let m = analysis::measure(
        &rollouts::PromqlEngine,
        &tsdb,
        &resolved_metric(0, "idle-canary"),
        at,
    );
    assert_eq!(m.value, "[]");
    assert!(m.phase.is_err(), "{:?}", m.phase);

    // Latency: cumulative buckets over 15 s, as rates 10/s (le 50), 19/s (le 100),
    // 20/s (le 500 and +Inf). The 0.99 rank is 0.99 * 20 = 19.8, inside (100, 500]:
    // 100 + (500 - 100) * (19.8 - 19) / (20 - 19) = 420 ms, under the 500 ms limit.
    for (le, count) in [
        ("50", 150.0),
        ("100", 285.0),
        ("500", 300.0),
        ("+Inf", 300.0),
    ] {
        let labels = kdeck_demo::prom::tsdb::labels(
            "istio_request_duration_milliseconds_bucket",
            &[
                ("reporter", "source"),
                ("destination_service_name", canary),
                ("le", le),
            ],
        );
        tsdb.append(labels.clone(), t0 + 30_000, 0.0);
        tsdb.append(labels, t0 + 45_000, count);
    }
    let m = analysis::measure(
        &rollouts::PromqlEngine,
        &tsdb,
        &resolved_metric(1, canary),
        t0 + 45_000,
    );
    let p99 = measured_value(&m);
    assert!((p99 - 420.0).abs() < 1e-9, "{p99}");
    assert_eq!(m.phase, Ok("Successful"));
}

/// The seeded `search-api` canary is a bad release: its success rate is well under 0.95.
#[test]
fn seeded_bad_canary_measures_as_failed() {
    let state = cluster(0, 16, 1.0);
    let at = chrono::Utc::now().timestamp_millis();
    let m = analysis::measure(
        &rollouts::PromqlEngine,
        &state.prom.tsdb,
        &resolved_metric(0, "search-api-canary"),
        at,
    );
    let v = measured_value(&m);
    assert!(v > 0.5 && v < 0.9, "bad release success rate {v}");
    assert_eq!(m.phase, Ok("Failed"));
}

#[test]
fn traffic_history_breaker_trips_and_recovers() {
    let state = cluster(0, 17, 1.0);
    let mut ejections = Vec::new();
    let mut overflow = Vec::new();
    let mut uo_at_destination = false;
    let mut uo_at_source = false;
    let mut monotonic = true;
    let mut canary_rev = None;
    state.prom.tsdb.for_each_series(|s| {
        let get = |k: &str| {
            s.labels
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        let name = get("__name__").unwrap_or_default();
        if name == "envoy_cluster_outlier_detection_ejections_active" {
            assert_eq!(get("cluster_name"), Some(traffic::PAYMENTS_CLUSTER));
            ejections = s.samples.iter().map(|x| x.1).collect();
        }
        if name == "envoy_cluster_upstream_rq_pending_overflow" {
            overflow = s.samples.iter().map(|x| x.1).collect();
        }
        if name.ends_with("_total")
            || name.ends_with("_bucket")
            || name.ends_with("_count")
            || name.ends_with("_overflow")
        {
            monotonic &= s
                .samples
                .iter()
                .zip(s.samples.iter().skip(1))
                .all(|(a, b)| b.1 >= a.1);
        }
        if name == "istio_requests_total" && get("response_flags") == Some("UO") {
            uo_at_source |=
                get("reporter") == Some("source") && s.samples.back().is_some_and(|x| x.1 > 0.0);
            uo_at_destination |= get("reporter") == Some("destination");
        }
        if name == "istio_requests_total"
            && get("destination_service_name") == Some("search-api-canary")
        {
            canary_rev = get("destination_canonical_revision").map(str::to_string);
        }
    });
    assert!(monotonic, "counters only grow");
    // An hour: every 15 s, then every 5 s for the last quarter hour.
    assert_eq!(ejections.len(), 180 + 181);
    assert!(ejections.iter().any(|v| *v > 0.0) && ejections.contains(&0.0));
    // Trips and recovers several times in the hour.
    let trips = ejections
        .windows(2)
        .filter(|w| w[0] == 0.0 && w[1] > 0.0)
        .count();
    assert!(trips >= 5, "{trips} trips");
    assert!(overflow.last().unwrap() > overflow.first().unwrap());
    assert!(
        uo_at_source && !uo_at_destination,
        "breaker 503s are reported by the source only"
    );
    let ro = state
        .store
        .get_value(rollouts_t(), "search", "search-api")
        .unwrap();
    assert_eq!(
        canary_rev.as_deref(),
        ro["status"]["currentPodHash"].as_str()
    );
    let rules = state.prom.rules.read().unwrap();
    let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["CanaryErrorRateHigh", "IstioCircuitBreakerOpen"]);
}

// ---- CRD schema validation ---------------------------------------------------------------

/// The schema of a custom kind the rollout controllers seed, at the version they write.
fn crd_schema(group: &str, kind: &str, version: &str) -> &'static Value {
    schema_for(group, kind, version).expect("CRD in the fixtures")
}

fn check_kind(state: &ClusterState, type_id: usize, schema: &Value) -> usize {
    let (objs, _) = state.store.list(type_id, None);
    for o in &objs {
        let errors = validate(&o.value(), schema);
        assert!(errors.is_empty(), "{}: {errors:#?}", o.key.name);
    }
    objs.len()
}

#[test]
fn seeded_objects_validate_against_upstream_crds() {
    let rollout = crd_schema("argoproj.io", "Rollout", "v1alpha1");
    let run = crd_schema("argoproj.io", "AnalysisRun", "v1alpha1");
    let template = crd_schema("argoproj.io", "AnalysisTemplate", "v1alpha1");
    let vs = crd_schema("networking.istio.io", "VirtualService", "v1");
    let dr = crd_schema("networking.istio.io", "DestinationRule", "v1");
    // The schema check must be able to fail.
    let errors = validate(
        &json!({"status": {"observedGeneration": 3, "bogus": 1}}),
        rollout,
    );
    assert_eq!(errors.len(), 3, "{errors:?}");

    let east = cluster(0, 18, 1.0);
    assert_eq!(check_kind(&east, rollouts_t(), rollout), 3);
    assert_eq!(check_kind(&east, runs_t(), run), 2);
    assert_eq!(
        check_kind(&east, t("argoproj.io", "analysistemplates"), template),
        6
    );
    assert_eq!(
        check_kind(&east, t("networking.istio.io", "virtualservices"), vs),
        3
    );
    assert_eq!(
        check_kind(&east, t("networking.istio.io", "destinationrules"), dr),
        2
    );
    let west = cluster(1, 18, 1.0);
    assert_eq!(check_kind(&west, rollouts_t(), rollout), 2);
    assert!(
        !west
            .store
            .serves(t("networking.istio.io", "virtualservices"))
    );

    // The scenario as seeded (speed 1, so nothing has moved yet).
    let ro = east
        .store
        .get_value(rollouts_t(), "shop", "checkout")
        .unwrap();
    assert_eq!(phase(&ro), ("Paused", "CanaryPauseStep"));
    assert_eq!(ro["status"]["currentStepIndex"], 1);
    assert_eq!(ro["status"]["canary"]["weights"]["canary"]["weight"], 20);
    assert_eq!(ro["status"]["observedGeneration"], "1");
    let ro = east
        .store
        .get_value(rollouts_t(), "search", "search-api")
        .unwrap();
    assert_eq!(phase(&ro), ("Paused", "CanaryPauseStep"));
    let ro = east
        .store
        .get_value(rollouts_t(), "payments", "payments-api")
        .unwrap();
    assert_eq!(phase(&ro), ("Paused", "BlueGreenPause"));
    let ro = west
        .store
        .get_value(rollouts_t(), "shop", "recommendations")
        .unwrap();
    assert_eq!(phase(&ro), ("Healthy", ""));
    assert_eq!(cond(&ro, "Healthy")["status"], "True");
    let ro = west
        .store
        .get_value(rollouts_t(), "shop", "checkout")
        .unwrap();
    assert_eq!(phase(&ro), ("Paused", "CanaryPauseStep"));
    assert_eq!(ro["status"]["currentStepIndex"], 5);

    // Every seeded Rollout's status is complete.
    for state in [&east, &west] {
        for o in state.store.list(rollouts_t(), None).0 {
            let v = o.value();
            for key in [
                "phase",
                "observedGeneration",
                "currentPodHash",
                "stableRS",
                "selector",
                "conditions",
                "replicas",
                "HPAReplicas",
            ] {
                assert!(
                    v["status"].get(key).is_some(),
                    "{}: status.{key} missing: {:#}",
                    o.key.name,
                    v["status"]
                );
            }
        }
    }
    // The real-world shapes kdeck parses: a paused canary, as in the upstream fixture.
    let ro = east
        .store
        .get_value(rollouts_t(), "shop", "checkout")
        .unwrap();
    let fixture = support::load_yaml(
        "argo-rollouts/argocd-health/Rollout/actions/testdata/rollout-step1.yaml",
    );
    let kinds = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap().to_string())
            .collect();
        k.sort();
        k
    };
    assert_eq!(kinds(&ro), kinds(&fixture));
    assert_eq!(phase(&ro).0, fixture["status"]["phase"].as_str().unwrap());
}

/// Everything but wall-clock times.
fn strip_times(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for k in [
                "creationTimestamp",
                "lastTransitionTime",
                "lastUpdateTime",
                "startTime",
                "startedAt",
                "finishedAt",
                "completedAt",
            ] {
                m.remove(k);
            }
            m.values_mut().for_each(strip_times);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_times),
        _ => {}
    }
}

fn snapshot(state: &ClusterState) -> (Vec<Value>, Vec<(String, Vec<f64>)>) {
    let mut objs = Vec::new();
    for tid in [rollouts_t(), rs_t(), runs_t(), t("", "services")] {
        for o in state.store.list(tid, None).0 {
            let mut v = o.value();
            strip_times(&mut v);
            objs.push(v);
        }
    }
    let mut series = Vec::new();
    state.prom.tsdb.for_each_series(|s| {
        series.push((
            format!("{:?}", s.labels),
            s.samples.iter().map(|x| x.1).collect(),
        ));
    });
    series.sort_by(|a, b| a.0.cmp(&b.0));
    (objs, series)
}

#[test]
fn same_seed_same_scenario() {
    let a = snapshot(&cluster(0, 21, 1.0));
    let b = snapshot(&cluster(0, 21, 1.0));
    assert_eq!(a.0, b.0);
    assert_eq!(a.1.len(), b.1.len());
    assert!(a.1 == b.1, "series values differ between runs");
    let c = snapshot(&cluster(0, 22, 1.0));
    assert_ne!(a.1, c.1, "another seed plays differently");
    assert!(a.1.len() < 1000, "series count stays modest: {}", a.1.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_ci_ships_the_next_release() {
    let config = SimConfig {
        ci: true,
        ..test_config()
    };
    let sim = start(cluster(1, 19, 60.0), config).await;
    let before = sim
        .wait("shop", "recommendations", "healthy as seeded", healthy)
        .await;
    let image = |r: &Value| {
        r["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Healthy for a few simulated minutes, then a new tag arrives and rolls out.
    let ro = sim
        .wait("shop", "recommendations", "next release shipped", |r| {
            image(r) != image(&before)
        })
        .await;
    assert_eq!(image(&ro), "demo.registry.local/recommendations:0.10.0");
    let ro = sim
        .wait("shop", "recommendations", "new release promoted", |r| {
            healthy(r) && r["status"]["currentPodHash"] != before["status"]["currentPodHash"]
        })
        .await;
    assert_eq!(
        ro["metadata"]["annotations"]["rollout.argoproj.io/revision"],
        "10"
    );
}

#[test]
fn scale_adds_bench_rollouts_in_load_namespaces() {
    let state = ClusterState::new(
        ClusterProfile::standard(1),
        SimOptions {
            seed: 3,
            speed: 1.0,
            scale: 1000,
        },
    );
    namespaces::seed(&state);
    for ns in ["load-00", "load-01"] {
        state
            .store
            .insert(t("", "namespaces"), json!({"metadata": {"name": ns}}))
            .unwrap();
    }
    rollouts::seed(&state);
    let bench: Vec<(String, String)> = state
        .store
        .list(rollouts_t(), None)
        .0
        .iter()
        .filter(|o| o.key.name.starts_with("bench-"))
        .map(|o| (o.key.ns.clone(), o.key.name.clone()))
        .collect();
    assert_eq!(bench.len(), 5);
    assert!(
        bench.iter().any(|(ns, _)| ns == "load-00") && bench.iter().any(|(ns, _)| ns == "load-01")
    );
    for (ns, name) in bench {
        let ro = state.store.get_value(rollouts_t(), &ns, &name).unwrap();
        assert!(healthy(&ro), "{ns}/{name}: {:#}", ro["status"]);
    }
}
