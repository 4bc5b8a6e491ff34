//! The detail view of one Rollout or Deployment, as pure data: the steps with the current one
//! marked, the pause and how long it has lasted, the revision → ReplicaSet → pod tree of
//! `kubectl argo rollouts get rollout`, the AnalysisRuns with each metric's recent values, the
//! blue-green services, the Prometheus thresholds of the referenced AnalysisTemplates, and a
//! slot for recent events that the shell fills.
//!
//! The tree follows the plugin's `pkg/kubectl-argo-rollouts/info/` (`replicaset_info.go`
//! health and tags, `pod_info.go` pod status/ready/restarts, `analysisrun_info.go` counts and
//! ordering).

use chrono::{DateTime, Utc};

use crate::k8s::apps::{
    DEPLOYMENT_REVISION_ANNOTATION, Deployment, ReplicaSet, find_condition, is_owned_by,
};
use crate::k8s::pod::Pod;
use crate::k8s::rollout::{
    AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate, ROLLOUT_REVISION_ANNOTATION, Rollout,
};
use crate::panes::rollouts::model::{
    AnalysisPhase, RolloutRow, deployment_row_owned, find_referenced, named, replica_set_roles,
    rollout_row_owned,
};

pub use super::detail_analysis::*;
pub use super::detail_tree::*;
pub use crate::panes::kit::EventLine;

/// What a canary step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    SetWeight,
    Pause,
    Analysis,
    Experiment,
    SetCanaryScale,
    SetHeaderRoute,
    SetMirrorRoute,
    Plugin,
    /// A step kind kdeck does not know (shown by its field name) or an empty step.
    Unknown,
}

/// Where a step is relative to the rollout's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Done,
    Current,
    Pending,
}

/// One line of the steps list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepLine {
    /// 0-based, as `status.currentStepIndex`.
    pub index: usize,
    pub kind: StepKind,
    /// `setWeight: 40`, `pause: 30s`, `pause (until promoted)`, `analysis: success-rate`...
    pub description: String,
    pub state: StepState,
}

/// Why and for how long the rollout is paused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PauseInfo {
    /// `status.pauseConditions[].reason` (`CanaryPauseStep`, `BlueGreenPause`,
    /// `InconclusiveAnalysisRun`, ...).
    pub reasons: Vec<String>,
    /// `spec.paused` is set (a manual pause).
    pub manual: bool,
    /// Earliest pause start known.
    pub since: Option<DateTime<Utc>>,
    pub paused_for: Option<chrono::Duration>,
    /// For a timed pause step or blue-green auto-promotion: time left before the controller
    /// continues by itself (zero when overdue).
    pub resumes_in: Option<chrono::Duration>,
}

/// ReplicaSet health as the plugin shows it (`getReplicaSetHealth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaSetHealth {
    Healthy,
    Progressing,
    ScaledDown,
    ReplicaFailure,
}

impl ReplicaSetHealth {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "Healthy",
            Self::Progressing => "Progressing",
            Self::ScaledDown => "ScaledDown",
            Self::ReplicaFailure => "ReplicaFailure",
        }
    }
}

/// One pod under a ReplicaSet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodLine {
    pub name: String,
    /// As `kubectl get pods` / the plugin: `Running`, `ImagePullBackOff`, `Init:0/1`,
    /// `Terminating`, `ExitCode:1`...
    pub status: String,
    pub ready_containers: i32,
    pub total_containers: usize,
    pub restarts: i32,
    pub node: Option<String>,
    pub age: Option<chrono::Duration>,
}

impl PodLine {
    /// `ready/total`, as the plugin's `ready:1/1`.
    #[must_use]
    pub fn ready(&self) -> String {
        format!("{}/{}", self.ready_containers, self.total_containers)
    }
}

/// One ReplicaSet of a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaSetNode {
    pub name: String,
    pub revision: i64,
    pub health: ReplicaSetHealth,
    /// `stable`, `canary`, `active`, `preview` (Rollouts); `new`, `old` (Deployments).
    pub tags: Vec<String>,
    pub desired: Option<i32>,
    pub replicas: i32,
    pub ready: i32,
    pub available: i32,
    pub images: Vec<String>,
    /// `scale-down-deadline` annotation of an old ReplicaSet kept up for a while.
    pub scale_down_deadline: Option<DateTime<Utc>>,
    /// Time left before that deadline (zero when passed: the plugin's `delay:passed`).
    pub scale_down_in: Option<chrono::Duration>,
    pub pods: Vec<PodLine>,
}

/// One revision of the tree, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionNode {
    pub revision: i64,
    pub replica_sets: Vec<ReplicaSetNode>,
    /// Names of the AnalysisRuns of this revision (details in [`RolloutDetail::analysis_runs`]).
    pub analysis_runs: Vec<String>,
}

/// One measurement of a metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasurementLine {
    pub phase: String,
    pub value: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
    pub message: Option<String>,
}

/// One metric of an AnalysisRun: its spec and its results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricDetail {
    pub name: String,
    pub phase: AnalysisPhase,
    /// Provider kinds (`prometheus`, `job`, `web`...).
    pub provider: String,
    /// The Prometheus query, when the provider is Prometheus.
    pub query: Option<String>,
    pub success_condition: Option<String>,
    pub failure_condition: Option<String>,
    pub failure_limit: Option<String>,
    pub inconclusive_limit: Option<String>,
    pub count: i32,
    pub successful: i32,
    pub failed: i32,
    pub inconclusive: i32,
    pub error: i32,
    pub message: Option<String>,
    /// The last [`RECENT_MEASUREMENTS`] measurements, oldest first.
    pub recent: Vec<MeasurementLine>,
}

/// How many measurements per metric the detail view shows.
pub const RECENT_MEASUREMENTS: usize = 5;

/// One AnalysisRun with its metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisRunDetail {
    pub name: String,
    pub revision: i64,
    pub phase: AnalysisPhase,
    pub successful: i32,
    pub failed: i32,
    pub inconclusive: i32,
    pub error: i32,
    pub message: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub metrics: Vec<MetricDetail>,
}

/// Blue-green services and whether the preview is ready for promotion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlueGreenInfo {
    pub active_service: Option<String>,
    pub preview_service: Option<String>,
    pub active_selector: Option<String>,
    pub preview_selector: Option<String>,
    /// The preview ReplicaSet exists and is Healthy (all its desired pods available).
    pub preview_ready: bool,
    /// `spec.strategy.blueGreen.autoPromotionEnabled` (default true).
    pub auto_promotion_enabled: bool,
    pub auto_promotion_seconds: Option<i32>,
}

/// A comparison in a success or failure condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Comparison {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "==",
            Self::Ne => "!=",
        }
    }

    /// The same comparison with the operands swapped (`0.95 <= x` is `x >= 0.95`).
    #[must_use]
    pub fn flipped(self) -> Self {
        match self {
            Self::Lt => Self::Gt,
            Self::Le => Self::Ge,
            Self::Gt => Self::Lt,
            Self::Ge => Self::Le,
            other => other,
        }
    }

    /// Whether `value OP threshold` holds.
    #[must_use]
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::Lt => value < threshold,
            Self::Le => value <= threshold,
            Self::Gt => value > threshold,
            Self::Ge => value >= threshold,
            Self::Eq => value == threshold,
            Self::Ne => value != threshold,
        }
    }
}

/// A condition of the form `value OP number`, read from `result[0] >= 0.95`,
/// `result < 500`, `all(result, # < 1000)`, `0.95 <= result[0]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    pub op: Comparison,
    pub value: f64,
}

/// What a Prometheus metric measures, judged by its query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricClass {
    /// A ratio whose numerator excludes error codes (`response_code!~"5.*"`).
    SuccessRate,
    /// A ratio whose numerator selects error codes (`response_code=~"5.*"`).
    ErrorRate,
    /// A quantile, histogram bucket or duration/latency series.
    Latency,
    Other,
}

/// The threshold of one Prometheus metric of an AnalysisTemplate the rollout references.
#[derive(Debug, Clone, PartialEq)]
pub struct PromThreshold {
    pub template: String,
    pub cluster_scope: bool,
    pub metric: String,
    pub class: MetricClass,
    pub query: String,
    pub success: Option<Threshold>,
    pub failure: Option<Threshold>,
    pub success_condition: Option<String>,
    pub failure_condition: Option<String>,
}

/// Everything the detail view shows.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutDetail {
    /// The same row the table shows (status, message, weights, counts, images).
    pub row: RolloutRow,
    /// Canary steps (empty otherwise).
    pub steps: Vec<StepLine>,
    pub pause: Option<PauseInfo>,
    /// Revision → ReplicaSet → pods, newest revision first.
    pub revisions: Vec<RevisionNode>,
    /// AnalysisRuns, newest revision first (the plugin's order).
    pub analysis_runs: Vec<AnalysisRunDetail>,
    pub blue_green: Option<BlueGreenInfo>,
    /// Thresholds of Prometheus metrics from referenced templates; empty without such a
    /// template (kdeck never invents one).
    pub thresholds: Vec<PromThreshold>,
    /// Recent events, newest first, as given by the shell.
    pub events: Vec<EventLine>,
    pub restarted_at: Option<DateTime<Utc>>,
}

/// What [`rollout_detail`] reads. Lists may hold unrelated objects: only those owned by (or
/// referenced from) the Rollout are used.
#[derive(Debug, Clone, Copy)]
pub struct DetailInputs<'a> {
    pub cluster: &'a str,
    pub rollout: &'a Rollout,
    /// Where a `spec.workloadRef` Deployment is looked up (with `replica_sets` for a
    /// ReplicaSet one).
    pub deployments: &'a [Deployment],
    pub replica_sets: &'a [ReplicaSet],
    pub pods: &'a [Pod],
    pub analysis_runs: &'a [AnalysisRun],
    pub templates: &'a [AnalysisTemplate],
    pub cluster_templates: &'a [ClusterAnalysisTemplate],
    pub events: &'a [EventLine],
    pub now: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------
// Details
// ---------------------------------------------------------------------------------------------

/// The detail view of a Rollout.
#[must_use]
pub fn rollout_detail(inputs: &DetailInputs<'_>) -> RolloutDetail {
    let ro = inputs.rollout;
    let uid = ro.metadata.uid.as_deref().unwrap_or("");
    let rss: Vec<&ReplicaSet> = inputs
        .replica_sets
        .iter()
        .filter(|rs| !uid.is_empty() && is_owned_by(&rs.metadata, uid))
        .collect();
    let runs = sorted_runs(
        inputs
            .analysis_runs
            .iter()
            .filter(|r| !uid.is_empty() && is_owned_by(&r.metadata, uid))
            .collect(),
    );
    let referenced = find_referenced(
        ro,
        |ns, name| named(inputs.deployments, ns, name),
        |ns, name| named(inputs.replica_sets, ns, name),
    );
    let row = rollout_row_owned(inputs.cluster, ro, &rss, &runs, referenced, inputs.now);
    let nodes: Vec<ReplicaSetNode> = rss
        .iter()
        .map(|rs| {
            let revision = rs
                .revision_from(ROLLOUT_REVISION_ANNOTATION)
                .flatten()
                .unwrap_or(0);
            let tags = replica_set_roles(ro, rs)
                .tags()
                .into_iter()
                .map(str::to_string)
                .collect();
            rs_node(rs, revision, tags, inputs.pods, inputs.now)
        })
        .collect();
    let run_names: Vec<(i64, String)> = runs
        .iter()
        .map(|r| {
            (
                r.revision().unwrap_or(0),
                r.metadata.name.clone().unwrap_or_default(),
            )
        })
        .collect();
    let blue_green = ro.spec.strategy.blue_green.as_ref().map(|bg| {
        let st = ro.status_or_default();
        let preview = st.blue_green.preview_selector.clone();
        let preview_ready = preview.as_deref().is_some_and(|hash| {
            rss.iter().any(|rs| {
                rs.pod_template_hash() == Some(hash)
                    && replica_set_health(rs) == ReplicaSetHealth::Healthy
            })
        });
        BlueGreenInfo {
            active_service: bg.active_service.clone(),
            preview_service: bg.preview_service.clone(),
            active_selector: st.blue_green.active_selector.clone(),
            preview_selector: preview,
            preview_ready,
            auto_promotion_enabled: bg.auto_promotion_enabled.unwrap_or(true),
            auto_promotion_seconds: bg.auto_promotion_seconds,
        }
    });
    RolloutDetail {
        row,
        steps: step_lines(ro),
        pause: pause_info(ro, inputs.now),
        revisions: revision_tree(nodes, &run_names),
        analysis_runs: runs.iter().map(|r| analysis_run_detail(r)).collect(),
        blue_green,
        thresholds: prometheus_thresholds(ro, inputs.templates, inputs.cluster_templates),
        events: sorted_events(inputs.events),
        restarted_at: ro.status.as_ref().and_then(|s| s.restarted_at),
    }
}

/// The detail view of a Deployment: no steps or analysis; the revision tree tags the
/// Deployment's current revision `new` and older ones still running `old`.
#[must_use]
pub fn deployment_detail(
    cluster: &str,
    d: &Deployment,
    replica_sets: &[ReplicaSet],
    pods: &[Pod],
    events: &[EventLine],
    now: DateTime<Utc>,
) -> RolloutDetail {
    let uid = d.metadata.uid.as_deref().unwrap_or("");
    let rss: Vec<&ReplicaSet> = replica_sets
        .iter()
        .filter(|rs| !uid.is_empty() && is_owned_by(&rs.metadata, uid))
        .collect();
    let row = deployment_row_owned(cluster, d, &rss, now);
    let revision_of = |rs: &ReplicaSet| {
        rs.revision_from(DEPLOYMENT_REVISION_ANNOTATION)
            .flatten()
            .unwrap_or(0)
    };
    let current = d
        .revision()
        .or_else(|| rss.iter().map(|rs| revision_of(rs)).max());
    let nodes = rss
        .iter()
        .map(|rs| {
            let revision = revision_of(rs);
            let tags = if Some(revision) == current {
                vec!["new".to_string()]
            } else if rs.status.replicas > 0 {
                vec!["old".to_string()]
            } else {
                Vec::new()
            };
            rs_node(rs, revision, tags, pods, now)
        })
        .collect();
    let pause = d.spec.paused.then(|| {
        let since = d.status.as_ref().and_then(|s| {
            find_condition(&s.conditions, "Progressing")
                .filter(|c| c.reason.as_deref() == Some("DeploymentPaused"))
                .and_then(|c| c.last_update_time.or(c.last_transition_time))
        });
        PauseInfo {
            reasons: Vec::new(),
            manual: true,
            since,
            paused_for: since.map(|s| (now - s).max(chrono::Duration::zero())),
            resumes_in: None,
        }
    });
    RolloutDetail {
        row,
        steps: Vec::new(),
        pause,
        revisions: revision_tree(nodes, &[]),
        analysis_runs: Vec::new(),
        blue_green: None,
        thresholds: Vec::new(),
        events: sorted_events(events),
        restarted_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_parse_into_thresholds() {
        let t = |op, value| Some(Threshold { op, value });
        assert_eq!(
            parse_condition("result[0] >= 0.95"),
            t(Comparison::Ge, 0.95)
        );
        assert_eq!(parse_condition("result < 500"), t(Comparison::Lt, 500.0));
        assert_eq!(
            parse_condition("all(result, # < 1000)"),
            t(Comparison::Lt, 1000.0)
        );
        assert_eq!(
            parse_condition("0.95 <= result[0]"),
            t(Comparison::Ge, 0.95)
        );
        assert_eq!(
            parse_condition("(asFloat(result) > 0.1)"),
            t(Comparison::Gt, 0.1)
        );
        assert_eq!(parse_condition("len(result) > 0"), None);
        assert_eq!(parse_condition("result == \"true\""), None);
        assert_eq!(parse_condition("result[0] >= 0.9 && result[0] < 1"), None);
        assert_eq!(
            parse_condition("isNaN(result[0]) || result[0] >= 0.95"),
            None
        );
        assert_eq!(parse_condition("foo >= 1"), None);
    }

    #[test]
    fn queries_are_classified() {
        let success = r#"sum(irate(istio_requests_total{reporter="source",destination_service=~"x",response_code!~"5.*"}[5m])) / sum(irate(istio_requests_total{reporter="source",destination_service=~"x"}[5m]))"#;
        assert_eq!(classify_query(success), MetricClass::SuccessRate);
        let errors = r#"sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))"#;
        assert_eq!(classify_query(errors), MetricClass::ErrorRate);
        let p99 = "histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket[1m])) by (le))";
        assert_eq!(classify_query(p99), MetricClass::Latency);
        assert_eq!(classify_query("up"), MetricClass::Other);
        // Non-ASCII before a matcher must not split a character.
        assert_eq!(
            classify_query("sum(x{é=~\"5.*\"}) / sum(x)"),
            MetricClass::ErrorRate
        );
    }

    #[test]
    fn steps_are_described_and_marked() {
        let ro: Rollout = serde_json::from_value(json!({
            "metadata": {"name": "r"},
            "spec": {"strategy": {"canary": {"steps": [
                {"setWeight": 40},
                {"pause": {"duration": 30}},
                {"pause": {"duration": "1h"}},
                {"pause": {}},
                {"analysis": {"templates": [{"templateName": "success-rate"}]}},
                {"experiment": {"templates": [{"name": "canary", "specRef": "canary"}], "duration": "5m"}},
                {"setCanaryScale": {"replicas": 3}},
                {"setHeaderRoute": {"name": "hdr"}},
                {"plugin": {"name": "acme/step"}},
                {"futureKind": {}},
                {}
            ]}}},
            "status": {"currentStepIndex": 3}
        }))
        .unwrap();
        let lines = step_lines(&ro);
        let texts: Vec<&str> = lines.iter().map(|l| l.description.as_str()).collect();
        assert_eq!(
            texts,
            [
                "setWeight: 40",
                "pause: 30s",
                "pause: 1h",
                "pause (until promoted)",
                "analysis: success-rate",
                "experiment: canary (5m)",
                "setCanaryScale{replicas: 3}",
                "setHeaderRoute: hdr",
                "plugin: acme/step",
                "futureKind (unknown step)",
                "invalid"
            ]
        );
        assert_eq!(lines[2].state, StepState::Done);
        assert_eq!(lines[3].state, StepState::Current);
        assert_eq!(lines[4].state, StepState::Pending);
        assert_eq!(lines[9].kind, StepKind::Unknown);
    }

    #[test]
    fn timed_pause_reports_time_left() {
        let ro: Rollout = serde_json::from_value(json!({
            "metadata": {"name": "r"},
            "spec": {"strategy": {"canary": {"steps": [{"setWeight": 10}, {"pause": {"duration": "10m"}}]}}},
            "status": {"currentStepIndex": 1, "controllerPause": true,
                       "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2024-01-01T00:00:00Z"}]}
        }))
        .unwrap();
        let start = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let p = pause_info(&ro, start + chrono::Duration::minutes(4)).unwrap();
        assert_eq!(p.reasons, ["CanaryPauseStep"]);
        assert!(!p.manual);
        assert_eq!(p.paused_for, Some(chrono::Duration::minutes(4)));
        assert_eq!(p.resumes_in, Some(chrono::Duration::minutes(6)));
        let late = pause_info(&ro, start + chrono::Duration::minutes(20)).unwrap();
        assert_eq!(late.resumes_in, Some(chrono::Duration::zero()));
    }

    fn pod(status: serde_json::Value, init: usize, containers: usize, deleting: bool) -> Pod {
        let mut meta = json!({"name": "p"});
        if deleting {
            meta["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        }
        serde_json::from_value(json!({
            "metadata": meta,
            "spec": {
                "initContainers": (0..init).map(|i| json!({"name": format!("i{i}")})).collect::<Vec<_>>(),
                "containers": (0..containers).map(|i| json!({"name": format!("c{i}")})).collect::<Vec<_>>()
            },
            "status": status
        }))
        .unwrap()
    }

    #[test]
    fn pod_status_follows_the_plugin() {
        let now = Utc::now();
        let running = json!({"phase": "Running", "containerStatuses": [
            {"name": "c0", "ready": true, "restartCount": 2, "state": {"running": {}}}]});
        let l = pod_line(&pod(running.clone(), 0, 1, false), now);
        assert_eq!(
            (l.status.as_str(), l.ready().as_str(), l.restarts),
            ("Running", "1/1", 2)
        );
        assert_eq!(
            pod_line(&pod(running, 0, 1, true), now).status,
            "Terminating"
        );
        let pull = json!({"phase": "Pending", "containerStatuses": [
            {"name": "c0", "ready": false, "state": {"waiting": {"reason": "ImagePullBackOff"}}}]});
        let l = pod_line(&pod(pull, 0, 1, false), now);
        assert_eq!(
            (l.status.as_str(), l.ready().as_str()),
            ("ImagePullBackOff", "0/1")
        );
        let crashed = json!({"phase": "Running", "containerStatuses": [
            {"name": "c0", "state": {"terminated": {"exitCode": 137}}}]});
        assert_eq!(
            pod_line(&pod(crashed, 0, 1, false), now).status,
            "ExitCode:137"
        );
        let init = json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "i0", "restartCount": 1, "state": {"waiting": {"reason": "PodInitializing"}}}]});
        let l = pod_line(&pod(init, 2, 1, false), now);
        assert_eq!((l.status.as_str(), l.restarts), ("Init:0/2", 1));
        let init_failed = json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "i0", "state": {"terminated": {"exitCode": 0}}},
            {"name": "i1", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]});
        assert_eq!(
            pod_line(&pod(init_failed, 2, 1, false), now).status,
            "Init:Error"
        );
    }
}
