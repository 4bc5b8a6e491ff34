//! The Rollouts pane's pure core against upstream data: every Argo Rollouts fixture parses,
//! rows and details match what `kubectl argo rollouts get rollout` prints for the plugin's own
//! test objects (`pkg/kubectl-argo-rollouts/cmd/get/get_test.go`, `info/info_test.go`), the
//! enable rules match every Argo CD `discoveryTests` entry, and the requests, applied to the
//! input objects, give Argo CD's `actionTests` outputs (with the plugin-vs-Argo CD differences
//! spelled out where they exist).

use chrono::{DateTime, TimeZone, Utc};
use kdeck::exec::request::{KubeRequest, PatchType, Verb};
use kdeck::k8s::apps::{Deployment, ReplicaSet};
use kdeck::k8s::pod::Pod;
use kdeck::k8s::rollout::{AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate, Rollout};
use kdeck::panes::rollouts::actions::{
    self, ActionInputs, DeploymentAction, RolloutAction, availability, availability_with_history,
    deployment_requests, pick_rollback_target, pick_undo_target, requests,
};
use kdeck::panes::rollouts::detail::{
    self, Comparison, DetailInputs, EventLine, MetricClass, ReplicaSetHealth, StepState,
};
use kdeck::panes::rollouts::model::{
    AnalysisPhase, Attention, ImageInfo, RowStatus, Strategy, deployment_row, rollout_row,
};
use serde_json::{Value, json};

use kdeck_demo::testing::support::{load_yaml, load_yaml_docs, yaml_files_under};

const ROOT: &str = "argo-rollouts";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap()
}

/// Every object of a fixture folder, by kind.
#[derive(Default)]
struct Objects {
    rollouts: Vec<Rollout>,
    replica_sets: Vec<ReplicaSet>,
    pods: Vec<Pod>,
    runs: Vec<AnalysisRun>,
    deployments: Vec<Deployment>,
}

fn load_dir(rel: &str) -> Objects {
    let mut o = Objects::default();
    for file in yaml_files_under(rel) {
        for doc in load_yaml_docs(&file) {
            let kind = doc["kind"].as_str().unwrap_or("").to_string();
            match kind.as_str() {
                "Rollout" => o.rollouts.push(serde_json::from_value(doc).unwrap()),
                "ReplicaSet" => o.replica_sets.push(serde_json::from_value(doc).unwrap()),
                "Pod" => o.pods.push(serde_json::from_value(doc).unwrap()),
                "AnalysisRun" => o.runs.push(serde_json::from_value(doc).unwrap()),
                "Deployment" => o.deployments.push(serde_json::from_value(doc).unwrap()),
                _ => {}
            }
        }
    }
    o
}

fn rollout(rel: &str) -> Rollout {
    serde_json::from_value(load_yaml(rel)).unwrap()
}

fn images(list: &[(&str, &[&str])]) -> Vec<ImageInfo> {
    list.iter()
        .map(|(i, t)| ImageInfo {
            image: (*i).to_string(),
            tags: t.iter().map(|s| (*s).to_string()).collect(),
        })
        .collect()
}

// -------------------------------------------------------------------------------------------
// Parsing
// -------------------------------------------------------------------------------------------

#[test]
fn every_argo_rollouts_object_parses_and_every_rollout_gives_a_row() {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let mut rollouts = Vec::new();
    for file in yaml_files_under(ROOT) {
        for doc in load_yaml_docs(&file) {
            let Some(kind) = doc["kind"].as_str().map(str::to_string) else {
                continue; // test manifests (health_test.yaml, action_test.yaml)
            };
            let malformed = match kind.as_str() {
                "Rollout" => {
                    let ro: Rollout =
                        serde_json::from_value(doc).unwrap_or_else(|e| panic!("{file}: {e}"));
                    let m = ro.malformed.clone();
                    rollouts.push((file.clone(), ro));
                    m
                }
                "AnalysisRun" => {
                    serde_json::from_value::<AnalysisRun>(doc)
                        .unwrap_or_else(|e| panic!("{file}: {e}"))
                        .malformed
                }
                "AnalysisTemplate" => {
                    serde_json::from_value::<AnalysisTemplate>(doc)
                        .unwrap_or_else(|e| panic!("{file}: {e}"))
                        .malformed
                }
                "ClusterAnalysisTemplate" => {
                    serde_json::from_value::<ClusterAnalysisTemplate>(doc)
                        .unwrap_or_else(|e| panic!("{file}: {e}"))
                        .malformed
                }
                "ReplicaSet" => {
                    serde_json::from_value::<ReplicaSet>(doc)
                        .unwrap_or_else(|e| panic!("{file}: {e}"));
                    None
                }
                "Pod" => {
                    serde_json::from_value::<Pod>(doc).unwrap_or_else(|e| panic!("{file}: {e}"));
                    None
                }
                "Deployment" => {
                    serde_json::from_value::<Deployment>(doc)
                        .unwrap_or_else(|e| panic!("{file}: {e}"));
                    None
                }
                _ => continue, // CRDs, Experiments, Services, Ingresses...
            };
            assert_eq!(malformed, None, "{file}: {kind} read only partly");
            *counts.entry(kind).or_default() += 1;
        }
    }
    // The fixture set as described in SOURCES.md; a parser that silently skipped a kind (or a
    // walk that found nothing) fails here.
    assert!(counts["Rollout"] >= 60, "{counts:?}");
    assert!(counts["ReplicaSet"] >= 15, "{counts:?}");
    assert!(counts["Pod"] >= 20, "{counts:?}");
    assert!(counts["AnalysisRun"] >= 15, "{counts:?}");
    assert!(counts["AnalysisTemplate"] >= 3, "{counts:?}");
    for (file, ro) in &rollouts {
        let row = rollout_row("c", ro, &[], &[], now());
        assert!(!row.name.is_empty(), "{file}");
        assert!(!row.phase.is_empty(), "{file}: no phase");
        let d = detail::rollout_detail(&DetailInputs {
            cluster: "c",
            rollout: ro,
            deployments: &[],
            replica_sets: &[],
            pods: &[],
            analysis_runs: &[],
            templates: &[],
            cluster_templates: &[],
            events: &[],
            now: now(),
        });
        assert_eq!(d.steps.len(), ro.canary_steps().len(), "{file}");
    }
}

#[test]
fn legacy_analysis_runs_keep_their_metrics_and_values() {
    // argocd-health AnalysisRuns use the pre-v0.9 `spec.analysisSpec` layout.
    let run: AnalysisRun = serde_json::from_value(load_yaml(
        "argo-rollouts/argocd-health/AnalysisRun/testdata/failedAnalysisRun.yaml",
    ))
    .unwrap();
    assert_eq!(run.spec.metrics.len(), 1);
    assert_eq!(run.spec.metrics[0].name, "memory-usage");
    let d = detail::analysis_run_detail(&run);
    assert_eq!(d.phase, AnalysisPhase::Failed);
    assert_eq!(d.failed, 1);
    let m = &d.metrics[0];
    assert_eq!(m.provider, "prometheus");
    assert_eq!(m.success_condition.as_deref(), Some("len(result) > 0"));
    assert!(
        m.query
            .as_deref()
            .unwrap_or("")
            .starts_with("sum(rate(nginx_ingress")
    );
    assert_eq!(m.recent.len(), 1);
    assert_eq!(m.recent[0].value.as_deref(), Some("[0.9768211920529802]"));
    assert_eq!(m.recent[0].phase, "Failed");
}

// -------------------------------------------------------------------------------------------
// Rows and details vs the plugin's own expectations
// -------------------------------------------------------------------------------------------

/// `get_test.go` TestGetCanaryRollout and `info_test.go` TestCanaryRolloutInfo.
#[test]
fn canary_degraded_matches_get_rollout() {
    let o = load_dir("argo-rollouts/info-testdata/canary");
    let ro = o
        .rollouts
        .iter()
        .find(|r| r.metadata.name.as_deref() == Some("canary-demo"))
        .unwrap();
    let row = rollout_row("c", ro, &o.replica_sets, &o.runs, now());
    assert_eq!(row.strategy, Strategy::Canary);
    assert_eq!(row.phase, "Degraded");
    assert_eq!(row.status, RowStatus::Degraded);
    assert_eq!(
        row.message,
        "ProgressDeadlineExceeded: ReplicaSet \"canary-demo-65fb5ffc84\" has timed out progressing."
    );
    assert_eq!(row.reason.as_deref(), Some("ProgressDeadlineExceeded"));
    assert_eq!(row.step.map(|s| s.to_string()).as_deref(), Some("0/8"));
    assert_eq!((row.set_weight, row.actual_weight), (Some(20), Some(0)));
    assert_eq!(
        row.images,
        images(&[
            ("argoproj/rollouts-demo:does-not-exist", &["canary"]),
            ("argoproj/rollouts-demo:green", &["stable"]),
        ])
    );
    assert_eq!(row.stable_tags, ["green"]);
    assert_eq!(row.new_tags, ["does-not-exist"]);
    let r = row.replicas;
    assert_eq!(
        (r.desired, r.current, r.updated, r.ready, r.available),
        (5, 6, 1, 5, 5)
    );
    assert_eq!(row.attention, Attention::Broken);

    let d = detail::rollout_detail(&DetailInputs {
        cluster: "c",
        rollout: ro,
        deployments: &[],
        replica_sets: &o.replica_sets,
        pods: &o.pods,
        analysis_runs: &o.runs,
        templates: &[],
        cluster_templates: &[],
        events: &[],
        now: now(),
    });
    let revs: Vec<i64> = d.revisions.iter().map(|r| r.revision).collect();
    assert_eq!(revs, [31, 30, 29]);
    let canary = &d.revisions[0].replica_sets[0];
    assert_eq!(canary.name, "canary-demo-65fb5ffc84");
    assert_eq!(canary.health, ReplicaSetHealth::Progressing);
    assert_eq!(canary.tags, ["canary"]);
    assert_eq!(canary.pods.len(), 1);
    assert_eq!(canary.pods[0].name, "canary-demo-65fb5ffc84-9wf5r");
    assert_eq!(canary.pods[0].status, "ImagePullBackOff");
    assert_eq!(canary.pods[0].ready(), "0/1");
    let stable = &d.revisions[1].replica_sets[0];
    assert_eq!(
        (stable.name.as_str(), stable.health, stable.tags.clone()),
        (
            "canary-demo-877894d5b",
            ReplicaSetHealth::Healthy,
            vec!["stable".to_string()]
        )
    );
    let pods: Vec<(&str, &str, String)> = stable
        .pods
        .iter()
        .map(|p| (p.name.as_str(), p.status.as_str(), p.ready()))
        .collect();
    // The plugin's five pods, all Running 1/1. The plugin orders by creation time, then name;
    // its test forces equal creation times (so its listing is by name), the fixtures keep
    // their real ones, so here the oldest pod comes first.
    let mut names: Vec<&str> = pods.iter().map(|p| p.0).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "canary-demo-877894d5b-6jfpt",
            "canary-demo-877894d5b-7jmqw",
            "canary-demo-877894d5b-j8g2b",
            "canary-demo-877894d5b-jw5qm",
            "canary-demo-877894d5b-kh7x4"
        ]
    );
    assert!(pods.iter().all(|(_, s, r)| *s == "Running" && r == "1/1"));
    let ages: Vec<_> = stable.pods.iter().map(|p| p.age.unwrap()).collect();
    assert!(ages.windows(2).all(|w| w[0] >= w[1]), "oldest first");
    let old = &d.revisions[2].replica_sets[0];
    assert_eq!(old.health, ReplicaSetHealth::ScaledDown);
    assert!(old.tags.is_empty());
    // Steps: 0 is current.
    assert_eq!(d.steps[0].state, StepState::Current);
    assert_eq!(d.steps[0].description, "setWeight: 20");
    assert_eq!(d.steps[1].description, "pause (until promoted)");
    assert_eq!(d.steps[3].description, "pause: 10s");
}

/// `info_test.go` TestCanaryRolloutInfoWeights: with traffic routing the actual weight comes
/// from `status.canary.weights` (rollout5: 20), without reported weights it equals SetWeight.
#[test]
fn canary_actual_weight_with_traffic_routing() {
    let o = load_dir("argo-rollouts/info-testdata/canary");
    let by_name = |n: &str| {
        o.rollouts
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(n))
            .unwrap()
    };
    let row = rollout_row(
        "c",
        by_name("canary-demo-weights"),
        &o.replica_sets,
        &[],
        now(),
    );
    assert_eq!(row.actual_weight, Some(20));
    let row = rollout_row(
        "c",
        by_name("canary-demo-weights-na"),
        &o.replica_sets,
        &[],
        now(),
    );
    assert_eq!(row.actual_weight, row.set_weight);
    assert_eq!(row.set_weight, Some(20));
}

/// `get_test.go` TestGetBlueGreenRollout and `info_test.go` TestBlueGreenRolloutInfo.
#[test]
fn blue_green_paused_matches_get_rollout() {
    let o = load_dir("argo-rollouts/info-testdata/blue-green");
    let ro = &o.rollouts[0];
    let row = rollout_row("c", ro, &o.replica_sets, &o.runs, now());
    assert_eq!(row.strategy, Strategy::BlueGreen);
    assert_eq!(
        (row.phase.as_str(), row.message.as_str()),
        ("Paused", "BlueGreenPause")
    );
    assert_eq!(row.step, None);
    assert_eq!((row.set_weight, row.actual_weight), (None, None));
    assert_eq!(
        row.images,
        images(&[
            ("argoproj/rollouts-demo:blue", &["active", "stable"]),
            ("argoproj/rollouts-demo:green", &["preview"]),
        ])
    );
    assert_eq!(
        (row.stable_tags.clone(), row.new_tags.clone()),
        (vec!["blue".to_string()], vec!["green".to_string()])
    );
    let r = row.replicas;
    assert_eq!(
        (r.desired, r.current, r.updated, r.ready, r.available),
        (3, 6, 3, 6, 3)
    );
    // autoPromotionEnabled: false, BlueGreenPause: waits for a human.
    assert_eq!(row.attention, Attention::AwaitingHuman);
    assert_eq!(
        row.step_since,
        Some(
            Utc.with_ymd_and_hms(2019, 10, 28, 4, 50, 20)
                .single()
                .unwrap()
        )
    );

    let d = detail::rollout_detail(&DetailInputs {
        cluster: "c",
        rollout: ro,
        deployments: &[],
        replica_sets: &o.replica_sets,
        pods: &o.pods,
        analysis_runs: &[],
        templates: &[],
        cluster_templates: &[],
        events: &[],
        now: now(),
    });
    let tree: Vec<(i64, &str, ReplicaSetHealth, Vec<String>, usize)> = d
        .revisions
        .iter()
        .flat_map(|rev| {
            rev.replica_sets.iter().map(move |rs| {
                (
                    rev.revision,
                    rs.name.as_str(),
                    rs.health,
                    rs.tags.clone(),
                    rs.pods.len(),
                )
            })
        })
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_string()).collect::<Vec<_>>();
    assert_eq!(
        tree,
        vec![
            (
                11,
                "bluegreen-demo-74b948fccb",
                ReplicaSetHealth::Healthy,
                s(&["preview"]),
                3
            ),
            (
                10,
                "bluegreen-demo-6cbccd9f99",
                ReplicaSetHealth::Healthy,
                s(&["stable", "active"]),
                3
            ),
            (
                8,
                "bluegreen-demo-746d5fddf6",
                ReplicaSetHealth::ScaledDown,
                s(&[]),
                0
            ),
        ]
    );
    assert_eq!(d.revisions[0].replica_sets[0].scale_down_deadline, None);
    let bg = d.blue_green.unwrap();
    assert_eq!(bg.active_selector.as_deref(), Some("6cbccd9f99"));
    assert_eq!(bg.preview_selector.as_deref(), Some("74b948fccb"));
    assert!(bg.preview_ready);
    assert!(!bg.auto_promotion_enabled);
    let pause = d.pause.unwrap();
    assert_eq!(pause.reasons, ["BlueGreenPause"]);
    assert_eq!(pause.resumes_in, None, "no auto-promotion");
}

/// `get_test.go` TestGetAbortedRollout and `info_test.go` TestRolloutAborted.
#[test]
fn aborted_rollout_matches_get_rollout() {
    let o = load_dir("argo-rollouts/info-testdata/rollout-aborted");
    let ro = &o.rollouts[0];
    let row = rollout_row("c", ro, &o.replica_sets, &o.runs, now());
    assert_eq!(row.phase, "Degraded", "the plugin's phase");
    assert_eq!(row.status, RowStatus::Aborted, "kdeck's status");
    assert_eq!(
        row.message,
        "RolloutAborted: metric \"web\" assessed Failed due to failed (1) > failureLimit (0)"
    );
    assert_eq!(row.reason.as_deref(), Some("RolloutAborted"));
    assert_eq!(row.step.map(|s| s.to_string()).as_deref(), Some("0/2"));
    assert_eq!((row.set_weight, row.actual_weight), (Some(0), Some(0)));
    assert_eq!(
        row.images,
        images(&[("argoproj/rollouts-demo:blue", &["stable"])])
    );
    let r = row.replicas;
    assert_eq!(
        (r.desired, r.current, r.updated, r.ready, r.available),
        (1, 1, 0, 1, 1)
    );
    // The plugin's "✖ 1" for the AnalysisRun, and kdeck's one-line summary.
    let a = row.analysis.unwrap();
    assert_eq!(a.name, "rollout-background-analysis-db976bc44-2");
    assert_eq!(a.phase, AnalysisPhase::Failed);
    assert_eq!(
        (a.successful, a.failed, a.inconclusive, a.error),
        (0, 1, 0, 0)
    );
    assert_eq!(a.summary, "web Failed (1 failed, of 1, last false)");

    let d = detail::rollout_detail(&DetailInputs {
        cluster: "c",
        rollout: ro,
        deployments: &[],
        replica_sets: &o.replica_sets,
        pods: &o.pods,
        analysis_runs: &o.runs,
        templates: &[],
        cluster_templates: &[],
        events: &[],
        now: now(),
    });
    assert_eq!(d.revisions.len(), 2);
    let rev2 = &d.revisions[0];
    assert_eq!(rev2.revision, 2);
    assert_eq!(
        rev2.replica_sets[0].name,
        "rollout-background-analysis-db976bc44"
    );
    assert_eq!(rev2.replica_sets[0].health, ReplicaSetHealth::ScaledDown);
    assert_eq!(rev2.replica_sets[0].tags, ["canary"]);
    assert_eq!(
        rev2.analysis_runs,
        ["rollout-background-analysis-db976bc44-2"]
    );
    let rev1 = &d.revisions[1];
    assert_eq!(rev1.replica_sets[0].tags, ["stable"]);
    assert_eq!(rev1.replica_sets[0].health, ReplicaSetHealth::Healthy);
    assert_eq!(
        rev1.replica_sets[0].pods[0].name,
        "rollout-background-analysis-7d84d44bb8-z5wps"
    );
    let run = &d.analysis_runs[0];
    assert_eq!(run.metrics[0].provider, "web");
    assert_eq!(
        run.metrics[0].success_condition.as_deref(),
        Some("result == \"true\"")
    );
    assert_eq!(run.metrics[0].recent[0].value.as_deref(), Some("false"));
}

/// `get_test.go` TestExperimentRollout / `info_test.go` TestExperimentAnalysisRolloutInfo.
#[test]
fn experiment_analysis_rollout_matches_get_rollout() {
    let o = load_dir("argo-rollouts/info-testdata/experiment-analysis");
    let ro = &o.rollouts[0];
    let row = rollout_row("c", ro, &o.replica_sets, &o.runs, now());
    assert_eq!(row.phase, "Degraded");
    assert_eq!(
        row.message,
        "ProgressDeadlineExceeded: ReplicaSet \"rollout-experiment-analysis-6f646bf7b7\" has timed out progressing."
    );
    assert_eq!(row.step.map(|s| s.to_string()).as_deref(), Some("1/2"));
    assert_eq!((row.set_weight, row.actual_weight), (Some(25), Some(25)));
    assert_eq!(
        row.images,
        images(&[
            ("argoproj/rollouts-demo:blue", &["stable"]),
            ("argoproj/rollouts-demo:yellow", &["canary"]),
        ])
    );
    let r = row.replicas;
    assert_eq!(
        (r.desired, r.current, r.updated, r.ready, r.available),
        (4, 4, 1, 4, 4)
    );
    // "✔ 4,✖ 4,? 1,⚠ 1" in the plugin's tree.
    let a = row.analysis.unwrap();
    assert_eq!(a.phase, AnalysisPhase::Inconclusive);
    assert_eq!(
        (a.successful, a.failed, a.inconclusive, a.error),
        (4, 4, 1, 1)
    );
    assert!(
        a.summary.starts_with("random-fail Inconclusive"),
        "{}",
        a.summary
    );
    // Two revisions: the plugin's `Revisions` (experiments are not modelled by kdeck).
    let d = detail::rollout_detail(&DetailInputs {
        cluster: "c",
        rollout: ro,
        deployments: &[],
        replica_sets: &o.replica_sets,
        pods: &o.pods,
        analysis_runs: &o.runs,
        templates: &[],
        cluster_templates: &[],
        events: &[],
        now: now(),
    });
    let revs: Vec<i64> = d.revisions.iter().map(|r| r.revision).collect();
    assert_eq!(revs, [2, 1]);
    assert_eq!(d.revisions[0].replica_sets.len(), 1);
    assert_eq!(d.revisions[0].analysis_runs.len(), 1);
    assert_eq!(d.steps[1].description, "experiment: baseline, canary");
    assert_eq!(d.steps[1].state, StepState::Current);
    // Paused on an inconclusive analysis: the pause is reported even though Degraded wins.
    assert_eq!(d.pause.unwrap().reasons, ["InconclusiveAnalysisRun"]);
}

/// `get_test.go` TestGetRolloutWithExperimentJob (rollout part) and TestGetInvalidRollout.
#[test]
fn experiment_step_and_invalid_rollouts_match_get_rollout() {
    let o = load_dir("argo-rollouts/info-testdata/experiment-step");
    let ro = &o.rollouts[0];
    let row = rollout_row("c", ro, &o.replica_sets, &o.runs, now());
    assert_eq!(
        (row.phase.as_str(), row.message.as_str()),
        ("Progressing", "more replicas need to be updated")
    );
    assert_eq!(row.step.map(|s| s.to_string()).as_deref(), Some("0/1"));
    assert_eq!((row.set_weight, row.actual_weight), (Some(0), Some(0)));
    let r = row.replicas;
    assert_eq!(
        (r.desired, r.current, r.updated, r.ready, r.available),
        (5, 5, 0, 5, 5)
    );
    // The canary ReplicaSet is scaled down, so only the stable image runs (the plugin adds
    // the experiment's image, which kdeck does not model).
    assert_eq!(
        row.images,
        images(&[("argoproj/rollouts-demo:green", &["stable"])])
    );

    let ro = rollout("argo-rollouts/info-testdata/rollout-invalid/rollout-invalid.yaml");
    let row = rollout_row("c", &ro, &[], &[], now());
    assert_eq!(row.phase, "Degraded");
    assert_eq!(
        row.message,
        "InvalidSpec: The Rollout \"rollout-invalid\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"doesnt-match\"}: `selector` does not match template `labels`"
    );
    assert_eq!(row.step, None, "Step: (empty)");
    assert_eq!((row.set_weight, row.actual_weight), (Some(100), Some(100)));
    let r = row.replicas;
    assert_eq!(
        (r.desired, r.current, r.updated, r.ready, r.available),
        (1, 0, 0, 0, 0)
    );
}

/// Argo CD's health fixtures (legacy shapes, no status, controller-side phases). kdeck follows
/// the plugin, so its phase is compared with Argo CD's health status through the obvious
/// mapping, except where the two upstreams disagree; those cases are listed with the reason.
#[test]
fn argocd_health_fixtures_agree_with_the_plugin_rules() {
    let dir = "argo-rollouts/argocd-health/Rollout";
    let manifest = load_yaml(&format!("{dir}/health_test.yaml"));
    let tests = manifest["tests"].as_array().unwrap();
    assert!(tests.len() >= 20);
    // file → (kdeck phase, reason): where the plugin and Argo CD differ.
    let differs = [
        // The plugin skips the workload-generation check client side (the flag it needs is
        // never serialized) and shows the controller's "Healthy".
        ("testdata/progressing_newWorkloadGeneration.yaml", "Healthy"),
        // A pre-v0.8 blue-green rollout has no stableRS at all: the plugin waits for
        // "post-promotion verification" forever; Argo CD calls it Healthy.
        (
            "testdata/bluegreen/healthy_servingActiveService.yaml",
            "Progressing",
        ),
    ];
    for t in tests {
        let path = t["inputPath"].as_str().unwrap();
        let want = t["healthStatus"]["status"].as_str().unwrap();
        let ro = rollout(&format!("{dir}/{path}"));
        let row = rollout_row("c", &ro, &[], &[], now());
        let got = match row.status {
            RowStatus::Paused => "Suspended",
            RowStatus::Aborted => "Degraded",
            other => other.as_str(),
        };
        match differs.iter().find(|(p, _)| *p == path) {
            Some((_, ours)) => {
                assert_eq!(row.phase, *ours, "{path}");
                assert_ne!(
                    got, want,
                    "{path}: now agrees with Argo CD, update the list"
                );
            }
            None => assert_eq!(got, want, "{path}: {}", row.message),
        }
    }
    // Hand-checked messages (plugin wording), each against the rule that produces it.
    let cases = [
        // no status at all (kdeck's documented choice, same meaning as Argo CD's)
        (
            "newRolloutWithoutStatus.yaml",
            "Progressing",
            "waiting for rollout spec update to be observed",
        ),
        // observedGeneration "1" < generation 2
        (
            "progressing_newGeneration.yaml",
            "Progressing",
            "waiting for rollout spec update to be observed",
        ),
        // v0.9 hash, all-digit hash larger than the generation: both observed, then healthy
        ("healthy_legacy_v0.9_observedGeneration.yaml", "Healthy", ""),
        (
            "healthy_legacy_v0.9_observedGeneration_numeric.yaml",
            "Healthy",
            "",
        ),
        // controller-side phase and message (v1.0+)
        (
            "degraded_statusPhaseMessage.yaml",
            "Degraded",
            "InvalidSpec",
        ),
        (
            "suspended_v1.0_pausedRollout.yaml",
            "Paused",
            "CanaryPauseStep",
        ),
        // client-side: pause condition, manual pause, abort and timeout conditions
        (
            "suspended_controllerPause.yaml",
            "Paused",
            "CanaryPauseStep",
        ),
        ("suspended_userPause.yaml", "Paused", "manually paused"),
        (
            "degraded_abortedRollout.yaml",
            "Degraded",
            "RolloutAborted: Rollout is aborted",
        ),
        (
            "degraded_rolloutTimeout.yaml",
            "Degraded",
            "ProgressDeadlineExceeded: ReplicaSet \"guestbook-bluegreen-helm-guestbook-6b8cf6f7db\" has timed out progressing.",
        ),
        (
            "canary/progressing_killingOldReplicas.yaml",
            "Progressing",
            "old replicas are pending termination",
        ),
        (
            "canary/progressing_noSteps.yaml",
            "Progressing",
            "updated replicas are still becoming available",
        ),
        (
            "canary/progressing_setWeightStep.yaml",
            "Progressing",
            "more replicas need to be updated",
        ),
        // pre-v0.8 status.canary.stableRS (kdeck's documented fallback)
        ("canary/healthy_executedAllStepsPreV0.8.yaml", "Healthy", ""),
    ];
    for (file, phase, message) in cases {
        let ro = rollout(&format!("{dir}/testdata/{file}"));
        let row = rollout_row("c", &ro, &[], &[], now());
        assert_eq!(
            (row.phase.as_str(), row.message.as_str()),
            (phase, message),
            "{file}"
        );
    }
    // No status: the row says so.
    let row = rollout_row(
        "c",
        &rollout(&format!("{dir}/testdata/newRolloutWithoutStatus.yaml")),
        &[],
        &[],
        now(),
    );
    assert!(row.problem.unwrap().contains("no status"));
    assert_eq!(row.attention, Attention::Progressing);
    // Paused on a 1.0 controller: step, weights, pause start.
    let ro = rollout(&format!("{dir}/testdata/suspended_v1.0_pausedRollout.yaml"));
    let row = rollout_row("c", &ro, &[], &[], now());
    assert_eq!(row.step.map(|s| s.to_string()).as_deref(), Some("1/8"));
    assert_eq!(
        row.step_since,
        Some(
            Utc.with_ymd_and_hms(2021, 7, 15, 21, 8, 55)
                .single()
                .unwrap()
        )
    );
}

#[test]
fn rows_from_fixtures_sort_paused_and_degraded_first() {
    let mut all = Vec::new();
    for f in [
        "argo-rollouts/argocd-health/Rollout/testdata/canary/healthy_executedAllSteps.yaml",
        "argo-rollouts/argocd-health/Rollout/testdata/canary/progressing_setWeightStep.yaml",
        "argo-rollouts/argocd-health/Rollout/testdata/degraded_abortedRollout.yaml",
        "argo-rollouts/argocd-health/Rollout/testdata/suspended_userPause.yaml",
        "argo-rollouts/argocd-health/Rollout/testdata/healthy_legacy_v0.9_observedGeneration.yaml",
        "argo-rollouts/argocd-health/Rollout/actions/testdata/rollout-step1.yaml",
    ] {
        all.push(rollout(f));
    }
    let refs: Vec<_> = all.iter().collect();
    let rows = crate::helpers::rollout_rows(
        "c",
        &kdeck::panes::rollouts::model::Objects {
            rollouts: &refs,
            ..kdeck::panes::rollouts::model::Objects::default()
        },
        now(),
    );
    let order: Vec<(&str, Attention)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.attention))
        .collect();
    let names: Vec<&str> = order.iter().map(|(n, _)| *n).collect();
    // userPause (manual) and rollout-step1 (pause step without duration) wait for a human;
    // the aborted rollout is broken; the setWeight step progresses; the rest are healthy.
    assert_eq!(order[0].1, Attention::AwaitingHuman);
    assert_eq!(order[1].1, Attention::AwaitingHuman);
    assert_eq!(order[2].1, Attention::Broken);
    assert_eq!(order[3].1, Attention::Progressing);
    assert_eq!(order[4].1, Attention::Healthy);
    assert_eq!(order[5].1, Attention::Healthy);
    // Stable within groups: input order kept.
    let user_pause = all[3].metadata.name.clone().unwrap();
    let step1 = all[5].metadata.name.clone().unwrap();
    assert_eq!(&names[..2], [user_pause.as_str(), step1.as_str()]);
}

#[test]
fn prometheus_thresholds_come_only_from_referenced_templates() {
    // The docs' success-rate template (`result[0] >= 0.95`, istio_requests_total).
    let template: AnalysisTemplate = serde_json::from_value(load_yaml(
        "argo-rollouts/examples/docs-prometheus-analysistemplate-success-rate.yaml",
    ))
    .unwrap();
    let range: AnalysisTemplate = serde_json::from_value(load_yaml(
        "argo-rollouts/examples/docs-prometheus-analysistemplate-range-query.yaml",
    ))
    .unwrap();
    let ro: Rollout = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
        "spec": {"strategy": {"canary": {
            "analysis": {"templates": [{"templateName": "range-query-example"}]},
            "steps": [{"setWeight": 20},
                      {"analysis": {"templates": [{"templateName": "success-rate"},
                                                  {"templateName": "missing"}]}}]}}}
    }))
    .unwrap();
    let th = detail::prometheus_thresholds(&ro, &[template.clone(), range], &[]);
    assert_eq!(th.len(), 2, "{th:?}");
    let latency = &th[0];
    assert_eq!(
        (latency.template.as_str(), latency.metric.as_str()),
        ("range-query-example", "success-rate")
    );
    assert_eq!(latency.class, MetricClass::Latency, "http_latency_ms query");
    assert_eq!(
        latency.success.map(|t| (t.op, t.value)),
        Some((Comparison::Lt, 1000.0))
    );
    let sr = &th[1];
    assert_eq!(sr.template, "success-rate");
    assert_eq!(sr.class, MetricClass::SuccessRate);
    assert_eq!(
        sr.success.map(|t| (t.op, t.value)),
        Some((Comparison::Ge, 0.95))
    );
    assert_eq!(sr.failure, None);
    // Not referenced, or not Prometheus: no threshold.
    let other: Rollout = serde_json::from_value(json!({
        "metadata": {"name": "x", "namespace": "default"},
        "spec": {"strategy": {"canary": {"steps": [{"setWeight": 20}]}}}
    }))
    .unwrap();
    assert!(detail::prometheus_thresholds(&other, &[template], &[]).is_empty());
    // The appmesh example's template (`result[0] >= 0.99`, envoy 5xx filter), from a
    // multi-document file, through a ClusterAnalysisTemplate reference of the same spec.
    let docs = load_yaml_docs("argo-rollouts/examples/appmesh-canary-rollout.yaml");
    let tdoc = docs
        .iter()
        .find(|d| d["kind"] == "AnalysisTemplate")
        .unwrap()
        .clone();
    let cluster: ClusterAnalysisTemplate = serde_json::from_value(tdoc).unwrap();
    let ro: Rollout = serde_json::from_value(json!({
        "metadata": {"name": "y", "namespace": "other"},
        "spec": {"strategy": {"blueGreen": {"prePromotionAnalysis": {
            "templates": [{"templateName": "success-rate", "clusterScope": true}]}}}}
    }))
    .unwrap();
    let th = detail::prometheus_thresholds(&ro, &[], &[cluster]);
    assert_eq!(th.len(), 1);
    assert_eq!(th[0].class, MetricClass::SuccessRate);
    assert_eq!(th[0].success.map(|t| t.value), Some(0.99));
}

#[test]
fn detail_carries_events_newest_first() {
    let ro = rollout("argo-rollouts/argocd-health/Rollout/actions/testdata/rollout-step1.yaml");
    let ev = |reason: &str, minute: u32| EventLine {
        type_: "Normal".into(),
        reason: reason.into(),
        message: String::new(),
        count: 1,
        last_seen: Utc.with_ymd_and_hms(2025, 5, 15, 14, minute, 0).single(),
    };
    let events = [
        ev("RolloutUpdated", 10),
        ev("RolloutPaused", 16),
        ev("RolloutStepCompleted", 15),
    ];
    let d = detail::rollout_detail(&DetailInputs {
        cluster: "c",
        rollout: &ro,
        deployments: &[],
        replica_sets: &[],
        pods: &[],
        analysis_runs: &[],
        templates: &[],
        cluster_templates: &[],
        events: &events,
        now: Utc
            .with_ymd_and_hms(2025, 5, 15, 14, 20, 0)
            .single()
            .unwrap(),
    });
    let reasons: Vec<&str> = d.events.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(
        reasons,
        ["RolloutPaused", "RolloutStepCompleted", "RolloutUpdated"]
    );
    let p = d.pause.unwrap();
    assert_eq!(p.reasons, ["CanaryPauseStep"]);
    // Paused since 14:16:58, seen at 14:20:00.
    assert_eq!(p.paused_for, Some(chrono::Duration::seconds(182)));
    assert_eq!(p.resumes_in, None, "pause: {{}} waits for promotion");
    assert_eq!(d.steps[0].state, StepState::Current);
    assert_eq!(d.steps[0].description, "pause (until promoted)");
}

// -------------------------------------------------------------------------------------------
// Actions vs Argo CD's discoveryTests and actionTests
// -------------------------------------------------------------------------------------------

const ACTIONS_DIR: &str = "argo-rollouts/argocd-health/Rollout/actions";

fn enabled(list: &[(RolloutAction, Result<(), String>)], action: RolloutAction) -> bool {
    list.iter()
        .find(|(a, _)| *a == action)
        .map(|(_, r)| r.is_ok())
        .unwrap()
}

/// Every `discoveryTests` entry. Argo CD's names map to kdeck's actions one to one, except
/// `skip-current-step`: kdeck's Promote (the plugin's promote) covers both Argo CD's `resume`
/// of a pause and `skip-current-step`, so it must be enabled exactly when either is.
#[test]
fn enable_rules_match_every_argocd_discovery_test() {
    let manifest = load_yaml(&format!("{ACTIONS_DIR}/action_test.yaml"));
    let entries = manifest["discoveryTests"].as_array().unwrap();
    assert!(entries.len() >= 9);
    for entry in entries {
        let path = entry["inputPath"].as_str().unwrap();
        let ro = rollout(&format!("{ACTIONS_DIR}/{path}"));
        let ours = availability(&ro);
        let theirs = |name: &str| -> bool {
            let r = entry["result"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == name)
                .unwrap_or_else(|| panic!("{path}: no {name}"));
            !r["disabled"].as_bool().unwrap()
        };
        for (name, action) in [
            ("resume", RolloutAction::Resume),
            ("restart", RolloutAction::Restart),
            ("abort", RolloutAction::Abort),
            ("retry", RolloutAction::Retry),
            ("promote-full", RolloutAction::PromoteFull),
            ("pause", RolloutAction::Pause),
        ] {
            assert_eq!(enabled(&ours, action), theirs(name), "{path}: {name}");
        }
        assert_eq!(
            enabled(&ours, RolloutAction::Promote),
            theirs("resume") || theirs("skip-current-step"),
            "{path}: promote"
        );
        // A disabled action always says why, named.
        for (a, r) in &ours {
            if let Err(why) = r {
                assert!(why.starts_with(&format!("{}: ", a.name())), "{why}");
            }
        }
    }
}

/// Applies requests the way the API server would: a status-subresource patch changes only
/// `status`, a main-resource patch of a CRD with a status subresource never changes `status`.
fn apply(object: &Value, reqs: &[KubeRequest]) -> Value {
    let mut obj = object.clone();
    for r in reqs {
        assert_eq!(r.verb, Verb::Patch);
        let mut patched = obj.clone();
        match r.patch_type {
            // The strategic merge patches kdeck sends are plain maps, where SMP = merge patch.
            Some(PatchType::Merge | PatchType::Strategic) => {
                json_patch::merge(&mut patched, &r.body)
            }
            Some(PatchType::Json) => {
                let p: json_patch::Patch = serde_json::from_value(r.body.clone()).unwrap();
                json_patch::patch(&mut patched, &p).unwrap();
            }
            None => panic!("not a patch"),
        }
        if r.subresource.as_deref() == Some("status") {
            obj["status"] = patched["status"].clone();
        } else {
            if let Some(st) = obj.get("status").cloned() {
                patched["status"] = st;
            }
            obj = patched;
        }
    }
    obj
}

fn drop_key(v: &mut Value, pointer: &str, key: &str) {
    if let Some(m) = v.pointer_mut(pointer).and_then(Value::as_object_mut) {
        m.remove(key);
    }
}

/// Every `actionTests` entry: kdeck's requests applied to the input give Argo CD's expected
/// output, exactly or with the documented difference between Argo CD's Lua action and the
/// kubectl plugin request kdeck sends.
#[test]
fn requests_reproduce_every_argocd_action_test() {
    let manifest = load_yaml(&format!("{ACTIONS_DIR}/action_test.yaml"));
    let entries = manifest["actionTests"].as_array().unwrap();
    assert!(entries.len() >= 8);
    let inputs = ActionInputs::at(now());
    let mut seen = std::collections::BTreeSet::new();
    for entry in entries {
        let name = entry["action"].as_str().unwrap();
        let input_path = entry["inputPath"].as_str().unwrap();
        let input = load_yaml(&format!("{ACTIONS_DIR}/{input_path}"));
        let mut expected = load_yaml(&format!(
            "{ACTIONS_DIR}/{}",
            entry["expectedOutputPath"].as_str().unwrap()
        ));
        let ro: Rollout = serde_json::from_value(input.clone()).unwrap();
        let action = match name {
            "skip-current-step" => RolloutAction::Promote,
            other => RolloutAction::from_name(other).unwrap(),
        };
        let reqs =
            requests(action, &ro, &inputs).unwrap_or_else(|e| panic!("{name} {input_path}: {e}"));
        assert!(!reqs.is_empty(), "{name} {input_path}");
        let mut got = apply(&input, &reqs);
        match (name, input_path) {
            ("restart", _) => {
                // Argo CD's expected output has a placeholder time; kdeck sends `now`.
                assert_eq!(got["spec"]["restartAt"], "2026-01-01T00:00:00Z");
                got["spec"]["restartAt"] = expected["spec"]["restartAt"].clone();
            }
            ("retry", _) => {
                // Argo CD removes `status.abort` (`abort: null` in its output); the plugin
                // sends `abort: false`. Both mean "not aborted" to the controller.
                assert_eq!(got["status"]["abort"], false);
                assert_eq!(expected["status"]["abort"], Value::Null);
                drop_key(&mut got, "/status", "abort");
                drop_key(&mut expected, "/status", "abort");
            }
            ("skip-current-step", _) => {
                // Argo CD clears the pause AND advances the step; the plugin's promote clears
                // only the CanaryPauseStep pause (never both), and the controller then
                // advances the step itself.
                assert_eq!(got["status"]["currentStepIndex"], 0);
                assert_eq!(expected["status"]["currentStepIndex"], 1);
                got["status"]["currentStepIndex"] = json!(1);
            }
            ("promote-full", "testdata/v0.9_aborted_rollout.yaml") => {
                // Argo CD emulates full promotion for v0.9 controllers (which do not know
                // promoteFull) by clearing abort and jumping to the last step; the plugin, and
                // kdeck, always set status.promoteFull.
                assert_eq!(got["status"]["promoteFull"], true);
                assert_eq!(expected["status"]["currentStepIndex"], 2);
                assert_eq!(expected["status"]["abort"], Value::Null);
                drop_key(&mut got, "/status", "promoteFull");
                got["status"]["currentStepIndex"] = json!(2);
                drop_key(&mut got, "/status", "abort");
                drop_key(&mut expected, "/status", "abort");
            }
            _ => {}
        }
        assert_eq!(got, expected, "{name} {input_path}");
        seen.insert(name);
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
}

#[test]
fn rollout_request_shapes_are_the_plugins() {
    let ro = rollout(&format!(
        "{ACTIONS_DIR}/testdata/has_pause_condition_rollout.yaml"
    ));
    let inputs = ActionInputs::at(
        Utc.with_ymd_and_hms(2024, 3, 1, 12, 30, 5)
            .single()
            .unwrap(),
    );
    let one = |a| {
        let r = requests(a, &ro, &inputs).unwrap();
        assert_eq!(r.len(), 1, "{a:?}");
        r.into_iter().next().unwrap()
    };
    let abort = one(RolloutAction::Abort);
    assert_eq!(
        abort.target.path(abort.subresource.as_deref()),
        "/apis/argoproj.io/v1alpha1/namespaces/default/rollouts/canary-demo/status"
    );
    assert_eq!(
        (abort.patch_type, abort.body.clone()),
        (Some(PatchType::Merge), json!({"status": {"abort": true}}))
    );
    let promote = one(RolloutAction::Promote);
    assert_eq!(promote.subresource.as_deref(), Some("status"));
    assert_eq!(promote.body, json!({"status": {"pauseConditions": null}}));
    let restart = one(RolloutAction::Restart);
    assert_eq!(restart.subresource, None);
    assert_eq!(
        restart.body,
        json!({"spec": {"restartAt": "2024-03-01T12:30:05Z"}})
    );
    let pause = one(RolloutAction::Pause);
    assert_eq!(
        (pause.subresource.clone(), pause.body.clone()),
        (None, json!({"spec": {"paused": true}}))
    );
    let full = one(RolloutAction::PromoteFull);
    assert_eq!(full.body, json!({"status": {"promoteFull": true}}));
    // Disabled actions send nothing and say why.
    assert_eq!(
        requests(RolloutAction::Retry, &ro, &inputs).unwrap_err(),
        "retry: only an aborted rollout can be retried"
    );
    // Not paused, in the middle of an analysis step: the plugin skips the step instead.
    let mid: Rollout = serde_json::from_value(json!({
        "metadata": {"name": "r", "namespace": "ns"},
        "spec": {"strategy": {"canary": {"steps": [{"setWeight": 10}, {"analysis": {}}, {"setWeight": 50}]}}},
        "status": {"currentStepIndex": 1, "currentPodHash": "b", "stableRS": "a"}
    }))
    .unwrap();
    let r = requests(RolloutAction::Promote, &mid, &inputs).unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(
        r[0].body,
        json!({"status": {"pauseConditions": null, "currentStepIndex": 2}})
    );
    assert!(actions::describe(RolloutAction::Promote, &mid).contains("step 2/3"));
    assert!(
        actions::describe(RolloutAction::Abort, &mid)
            .starts_with("status.abort=true: the canary is scaled down")
    );
}

/// The plugin's `undo` against its own canary fixture: revision 30 (second newest) restored,
/// hash label removed, "skipped" when the template already matches.
#[test]
fn undo_restores_the_previous_revision_template() {
    let o = load_dir("argo-rollouts/info-testdata/canary");
    let ro = o
        .rollouts
        .iter()
        .find(|r| r.metadata.name.as_deref() == Some("canary-demo"))
        .unwrap();
    let target = pick_undo_target(ro, &o.replica_sets, None).unwrap();
    assert_eq!(
        target.metadata.name.as_deref(),
        Some("canary-demo-877894d5b")
    );
    assert_eq!(
        pick_undo_target(ro, &o.replica_sets, Some(29))
            .unwrap()
            .metadata
            .name
            .as_deref(),
        Some("canary-demo-859c99b45c")
    );
    assert_eq!(
        pick_undo_target(ro, &o.replica_sets, Some(5)).unwrap_err(),
        "unable to find specified revision 5 in history"
    );
    assert_eq!(
        pick_undo_target(ro, &[], None).unwrap_err(),
        "no revision found for rollout \"canary-demo\""
    );
    let state = availability_with_history(ro, &[]);
    assert!(state.iter().any(|(a, r)| {
        matches!(a, RolloutAction::Undo { .. })
            && r.as_ref()
                .is_err_and(|e| e.starts_with("undo: no revision"))
    }));

    let rs_json =
        |name: &str| -> Value { load_yaml(&format!("argo-rollouts/info-testdata/canary/{name}")) };
    let live = load_yaml("argo-rollouts/info-testdata/canary/canary-rollout.yaml");
    let inputs = ActionInputs {
        now: now(),
        undo_source: Some(rs_json("stable-rs.yaml")),
        live_object: Some(live.clone()),
    };
    let reqs = requests(RolloutAction::Undo { to_revision: None }, ro, &inputs).unwrap();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].patch_type, Some(PatchType::Json));
    assert_eq!(reqs[0].subresource, None);
    assert_eq!(reqs[0].body[0]["op"], "replace");
    assert_eq!(reqs[0].body[0]["path"], "/spec/template");
    let after = apply(&live, &reqs);
    assert_eq!(
        after["spec"]["template"]["metadata"]["labels"],
        json!({"app": "canary-demo"})
    );
    assert_eq!(
        after["spec"]["template"]["spec"]["containers"][0]["image"],
        "argoproj/rollouts-demo:green"
    );
    // Undo to the revision that is already current: skipped, nothing sent.
    let same = ActionInputs {
        now: now(),
        undo_source: Some(rs_json("canary-rs.yaml")),
        live_object: Some(live.clone()),
    };
    assert_eq!(
        requests(
            RolloutAction::Undo {
                to_revision: Some(31)
            },
            ro,
            &same
        )
        .unwrap(),
        vec![]
    );
    // A ReplicaSet of another revision than asked for is refused.
    let err = requests(
        RolloutAction::Undo {
            to_revision: Some(29),
        },
        ro,
        &inputs,
    )
    .unwrap_err();
    assert!(err.contains("not revision 29"), "{err}");
    // Without the source the executor must fetch first.
    assert!(
        requests(
            RolloutAction::Undo { to_revision: None },
            ro,
            &ActionInputs::at(now())
        )
        .is_err()
    );
}

/// kubectl's Deployment actions, on the plugin's workloadRef Deployment fixture.
#[test]
fn deployment_requests_follow_kubectl() {
    let mut live = load_yaml("argo-rollouts/info-testdata/canary/canary-ref-deploy.yaml");
    // The fixture has no uid; ReplicaSets are matched to their Deployment by it.
    live["metadata"]["uid"] = json!("5d0a0d7e-0000-4000-8000-000000000001");
    let d: Deployment = serde_json::from_value(live.clone()).unwrap();
    let row = deployment_row("c", &d, &[], now());
    assert_eq!(row.strategy, Strategy::RollingUpdate);
    let inputs = ActionInputs::at(
        Utc.with_ymd_and_hms(2024, 3, 1, 12, 30, 5)
            .single()
            .unwrap(),
    );
    let one = |a| {
        let r = deployment_requests(a, &d, &inputs).unwrap();
        assert_eq!(r.len(), 1);
        r.into_iter().next().unwrap()
    };
    let restart = one(DeploymentAction::Restart);
    assert_eq!(restart.patch_type, Some(PatchType::Strategic));
    assert_eq!(
        restart.target.path(None),
        format!(
            "/apis/apps/v1/namespaces/{}/deployments/{}",
            d.metadata.namespace.clone().unwrap_or_default(),
            d.metadata.name.clone().unwrap_or_default()
        )
    );
    assert_eq!(
        restart.body,
        json!({"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": "2024-03-01T12:30:05Z"}}}}})
    );
    assert_eq!(
        one(DeploymentAction::Pause).body,
        json!({"spec": {"paused": true}})
    );
    assert_eq!(
        deployment_requests(DeploymentAction::Resume, &d, &inputs).unwrap_err(),
        "resume: the deployment is not paused"
    );
    let mut paused = d.clone();
    paused.spec.paused = true;
    assert_eq!(
        deployment_requests(DeploymentAction::Resume, &paused, &inputs).unwrap()[0].body,
        json!({"spec": {"paused": null}})
    );
    assert!(
        deployment_requests(
            DeploymentAction::Rollback { to_revision: None },
            &paused,
            &inputs
        )
        .unwrap_err()
        .contains("you cannot rollback a paused deployment")
    );
    assert!(
        deployment_requests(DeploymentAction::Restart, &paused, &inputs)
            .unwrap_err()
            .contains("can't restart paused deployment")
    );

    // Rollback: two ReplicaSets of the Deployment, revision 1 (old image) and 2 (current).
    let uid = d.metadata.uid.clone().unwrap_or_default();
    live["metadata"]["annotations"] = json!({
        "deployment.kubernetes.io/revision": "2",
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
        "team": "payments"
    });
    let rs = |rev: &str, image: &str, hash: &str| -> Value {
        let mut t = live["spec"]["template"].clone();
        t["metadata"]["labels"]["pod-template-hash"] = json!(hash);
        t["spec"]["containers"][0]["image"] = json!(image);
        json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": format!("web-{hash}"), "namespace": "jesse-test",
                         "annotations": {"deployment.kubernetes.io/revision": rev,
                                         "deployment.kubernetes.io/desired-replicas": "5",
                                         "note": "from-rs"},
                         "labels": {"pod-template-hash": hash},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                              "name": "x", "uid": uid, "controller": true}]},
            "spec": {"replicas": 0, "template": t},
            "status": {"replicas": 0}
        })
    };
    let current_image = live["spec"]["template"]["spec"]["containers"][0]["image"].clone();
    let rs1 = rs("1", "argoproj/rollouts-demo:blue", "aaa111");
    let rs2 = rs("2", current_image.as_str().unwrap(), "bbb222");
    let slim: Vec<ReplicaSet> = [&rs1, &rs2]
        .iter()
        .map(|v| serde_json::from_value((*v).clone()).unwrap())
        .collect();
    let picked = pick_rollback_target(&d, &slim, None).unwrap();
    assert_eq!(picked.metadata.name.as_deref(), Some("web-aaa111"));
    let inputs = ActionInputs {
        now: now(),
        undo_source: Some(rs1),
        live_object: Some(live.clone()),
    };
    let reqs = deployment_requests(
        DeploymentAction::Rollback { to_revision: None },
        &d,
        &inputs,
    )
    .unwrap();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].patch_type, Some(PatchType::Json));
    let ops: Vec<&str> = reqs[0]
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["/spec/template", "/metadata/annotations"]);
    let after = apply(&live, &reqs);
    assert_eq!(
        after["spec"]["template"]["spec"]["containers"][0]["image"],
        "argoproj/rollouts-demo:blue"
    );
    assert!(
        after["spec"]["template"]["metadata"]["labels"]
            .get("pod-template-hash")
            .is_none()
    );
    // kubectl keeps the Deployment's revision and last-applied annotations, takes the rest
    // from the ReplicaSet (skipping its desired-replicas), and drops the others ("team").
    assert_eq!(
        after["metadata"]["annotations"],
        json!({"deployment.kubernetes.io/revision": "2",
               "kubectl.kubernetes.io/last-applied-configuration": "{}",
               "note": "from-rs"})
    );
    // Rolling back to the current template is skipped.
    let same = ActionInputs {
        now: now(),
        undo_source: Some(rs2),
        live_object: Some(live.clone()),
    };
    assert_eq!(
        deployment_requests(
            DeploymentAction::Rollback {
                to_revision: Some(2)
            },
            &d,
            &same
        )
        .unwrap(),
        vec![]
    );
    // Without the live Deployment kubectl's annotation rule cannot be applied.
    let no_live = ActionInputs {
        now: now(),
        undo_source: inputs.undo_source.clone(),
        live_object: None,
    };
    assert!(
        deployment_requests(
            DeploymentAction::Rollback { to_revision: None },
            &d,
            &no_live
        )
        .is_err()
    );
}

/// Odd or broken shapes (from hand edits, old controllers, or partial writes) give rows that
/// say so, and never panic anywhere in the pane's core.
#[test]
fn odd_shapes_never_panic() {
    let base = load_yaml(&format!("{ACTIONS_DIR}/testdata/rollout-step1.yaml"));
    let edits: Vec<(&str, Value)> = vec![
        ("/status/currentStepIndex", json!(99)),
        ("/status/currentStepIndex", json!(-1)),
        ("/status/currentStepIndex", json!("x")),
        ("/status/availableReplicas", json!(0)),
        ("/status/pauseConditions", json!({})),
        ("/status/pauseConditions/0/startTime", json!("not a time")),
        ("/status/observedGeneration", json!(true)),
        ("/status", json!("a string")),
        ("/status", Value::Null),
        (
            "/spec/strategy",
            json!({"canary": {"steps": [{}, {"pause": {"duration": "forever"}}]}}),
        ),
        (
            "/spec/strategy",
            json!({"canary": {"steps": [{"pause": {"duration": 9_223_372_036_854_775_807_i64}}]}}),
        ),
        ("/spec/strategy", json!({"blueGreen": null, "canary": null})),
        ("/spec/replicas", json!("five")),
        ("/spec", json!([1, 2, 3])),
    ];
    let inputs = ActionInputs::at(now());
    for (pointer, value) in edits {
        let mut doc = base.clone();
        match doc.pointer_mut(pointer) {
            Some(slot) => *slot = value.clone(),
            None => panic!("{pointer} not in fixture"),
        }
        let ro: Rollout = serde_json::from_value(doc).unwrap_or_else(|e| panic!("{pointer}: {e}"));
        let row = rollout_row("c", &ro, &[], &[], now());
        if pointer == "/spec" || (pointer == "/status" && value.is_string()) {
            assert!(
                row.problem
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("unreadable"),
                "{pointer}: {row:?}"
            );
            assert_eq!(row.attention, Attention::Broken);
        }
        let _ = detail::rollout_detail(&DetailInputs {
            cluster: "c",
            rollout: &ro,
            deployments: &[],
            replica_sets: &[],
            pods: &[],
            analysis_runs: &[],
            templates: &[],
            cluster_templates: &[],
            events: &[],
            now: now(),
        });
        for (action, state) in availability(&ro) {
            let _ = actions::describe(action, &ro);
            let sent = requests(action, &ro, &inputs);
            assert_eq!(
                sent.is_ok(),
                state.is_ok() && !matches!(action, RolloutAction::Undo { .. }),
                "{pointer} {action:?}"
            );
        }
    }
}
