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
    DEPLOYMENT_REVISION_ANNOTATION, Deployment, ReplicaSet, annotation, created_at, find_condition,
    is_owned_by,
};
use crate::k8s::pod::Pod;
use crate::k8s::rollout::{
    AnalysisRun, AnalysisTemplate, AnalysisTemplateRef, CanaryStep, ClusterAnalysisTemplate,
    IntOrText, Metric, ROLLOUT_REVISION_ANNOTATION, Rollout, SCALE_DOWN_DEADLINE_ANNOTATION,
};
use crate::panes::rollouts::model::{
    AnalysisPhase, RolloutRow, current_canary_step, deployment_row_owned, replica_set_roles,
    rollout_row_owned,
};

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
    pub replica_sets: &'a [ReplicaSet],
    pub pods: &'a [Pod],
    pub analysis_runs: &'a [AnalysisRun],
    pub templates: &'a [AnalysisTemplate],
    pub cluster_templates: &'a [ClusterAnalysisTemplate],
    pub events: &'a [EventLine],
    pub now: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------
// Steps and pause
// ---------------------------------------------------------------------------------------------

fn duration_text(d: &IntOrText) -> String {
    match d {
        IntOrText::Int(i) => format!("{i}s"),
        IntOrText::Text(s) => match s.trim().parse::<i64>() {
            Ok(i) => format!("{i}s"),
            Err(_) => s.clone(),
        },
    }
}

/// The kind and one-line description of a canary step. Close to upstream
/// `CanaryStepString`, with two readability changes: a bare-number pause gets its unit
/// (`pause: 30s`), an open pause says `pause (until promoted)`, and analysis/experiment steps
/// name their templates.
#[must_use]
pub fn describe_step(step: &CanaryStep) -> (StepKind, String) {
    if let Some(w) = step.set_weight {
        return (StepKind::SetWeight, format!("setWeight: {w}"));
    }
    if let Some(p) = &step.pause {
        return (
            StepKind::Pause,
            match &p.duration {
                Some(d) => format!("pause: {}", duration_text(d)),
                None => "pause (until promoted)".into(),
            },
        );
    }
    if let Some(e) = &step.experiment {
        let names: Vec<&str> = e.templates.iter().map(|t| t.name.as_str()).collect();
        let mut s = if names.is_empty() {
            "experiment".to_string()
        } else {
            format!("experiment: {}", names.join(", "))
        };
        if let Some(d) = &e.duration {
            s.push_str(&format!(" ({})", duration_text(d)));
        }
        return (StepKind::Experiment, s);
    }
    if let Some(a) = &step.analysis {
        let names: Vec<String> = a
            .template_refs()
            .into_iter()
            .map(|t| t.template_name)
            .collect();
        return (
            StepKind::Analysis,
            if names.is_empty() {
                "analysis".into()
            } else {
                format!("analysis: {}", names.join(", "))
            },
        );
    }
    if let Some(s) = &step.set_canary_scale {
        let text = if let Some(w) = s.weight {
            format!("setCanaryScale{{weight: {w}}}")
        } else if s.match_traffic_weight {
            "setCanaryScale{matchTrafficWeight: true}".into()
        } else if let Some(r) = s.replicas {
            format!("setCanaryScale{{replicas: {r}}}")
        } else {
            "setCanaryScale".into()
        };
        return (StepKind::SetCanaryScale, text);
    }
    let named = |label: &str, n: &crate::k8s::rollout::NamedStep| match &n.name {
        Some(name) => format!("{label}: {name}"),
        None => label.to_string(),
    };
    if let Some(n) = &step.set_header_route {
        return (StepKind::SetHeaderRoute, named("setHeaderRoute", n));
    }
    if let Some(n) = &step.set_mirror_route {
        return (StepKind::SetMirrorRoute, named("setMirrorRoute", n));
    }
    if let Some(n) = &step.plugin {
        return (StepKind::Plugin, named("plugin", n));
    }
    let unknown: Vec<&str> = step.other.keys().map(String::as_str).collect();
    (
        StepKind::Unknown,
        if unknown.is_empty() {
            "invalid".into()
        } else {
            format!("{} (unknown step)", unknown.join(", "))
        },
    )
}

/// The steps list with the current step marked.
#[must_use]
pub fn step_lines(ro: &Rollout) -> Vec<StepLine> {
    let current = ro
        .status
        .as_ref()
        .and_then(|s| s.current_step_index)
        .and_then(|i| usize::try_from(i).ok());
    ro.canary_steps()
        .iter()
        .enumerate()
        .map(|(index, step)| {
            let (kind, description) = describe_step(step);
            let state = match current {
                Some(c) if index < c => StepState::Done,
                Some(c) if index == c => StepState::Current,
                _ => StepState::Pending,
            };
            StepLine {
                index,
                kind,
                description,
                state,
            }
        })
        .collect()
}

/// The pause, when the rollout is paused by a condition or by hand.
#[must_use]
pub fn pause_info(ro: &Rollout, now: DateTime<Utc>) -> Option<PauseInfo> {
    let st = ro.status.as_ref();
    let pauses = st.map(|s| s.pauses()).unwrap_or(&[]);
    let legacy_start = st.and_then(|s| s.pause_start_time);
    if pauses.is_empty() && !ro.spec.paused && legacy_start.is_none() {
        return None;
    }
    let since = pauses
        .iter()
        .filter_map(|p| p.start_time)
        .min()
        .or(legacy_start);
    let left = |start: DateTime<Utc>, length: chrono::Duration| {
        start
            .checked_add_signed(length)
            .map(|end| (end - now).max(chrono::Duration::zero()))
    };
    let mut resumes_in = None;
    if !ro.spec.paused {
        for p in pauses {
            let Some(start) = p.start_time else { continue };
            let length = match p.reason.as_str() {
                "CanaryPauseStep" => current_canary_step(ro)
                    .0
                    .and_then(|s| s.pause.as_ref())
                    .and_then(|p| p.duration.as_ref())
                    .and_then(IntOrText::as_duration),
                "BlueGreenPause" => ro
                    .spec
                    .strategy
                    .blue_green
                    .as_ref()
                    .filter(|bg| bg.auto_promotion_enabled != Some(false))
                    .and_then(|bg| bg.auto_promotion_seconds)
                    .filter(|s| *s > 0)
                    .map(|s| chrono::Duration::seconds(i64::from(s))),
                _ => None,
            };
            if let Some(length) = length {
                resumes_in = left(start, length);
            }
        }
    }
    Some(PauseInfo {
        reasons: pauses.iter().map(|p| p.reason.clone()).collect(),
        manual: ro.spec.paused,
        since,
        paused_for: since.map(|s| (now - s).max(chrono::Duration::zero())),
        resumes_in,
    })
}

// ---------------------------------------------------------------------------------------------
// ReplicaSets and pods
// ---------------------------------------------------------------------------------------------

/// Plugin `getReplicaSetHealth`.
#[must_use]
pub fn replica_set_health(rs: &ReplicaSet) -> ReplicaSetHealth {
    let generation = rs.metadata.generation.unwrap_or(0);
    if generation > rs.status.observed_generation {
        return ReplicaSetHealth::Progressing;
    }
    if find_condition(&rs.status.conditions, "ReplicaFailure").is_some_and(|c| c.is_true()) {
        return ReplicaSetHealth::ReplicaFailure;
    }
    if let Some(desired) = rs.spec.replicas {
        if rs.status.available_replicas < desired {
            return ReplicaSetHealth::Progressing;
        }
        if desired == 0 {
            return ReplicaSetHealth::ScaledDown;
        }
    }
    ReplicaSetHealth::Healthy
}

/// Plugin `newPodInfo`: the status text, ready containers and restarts of a pod.
#[must_use]
pub fn pod_line(pod: &Pod, now: DateTime<Utc>) -> PodLine {
    let st = pod.status.clone().unwrap_or_default();
    let mut reason = st
        .reason
        .clone()
        .filter(|r| !r.is_empty())
        .or_else(|| st.phase.clone())
        .unwrap_or_default();
    let mut restarts = 0;
    let mut ready = 0;
    let mut initializing = false;
    for (i, c) in st.init_container_statuses.iter().enumerate() {
        restarts += c.restart_count;
        let state = &c.state;
        if let Some(t) = &state.terminated {
            if t.exit_code == 0 {
                continue;
            }
            reason = match t.reason.as_deref().filter(|r| !r.is_empty()) {
                Some(r) => format!("Init:{r}"),
                None if t.signal != 0 => format!("Init:Signal:{}", t.signal),
                None => format!("Init:ExitCode:{}", t.exit_code),
            };
        } else if let Some(w) = state
            .waiting
            .as_ref()
            .and_then(|w| w.reason.as_deref())
            .filter(|r| !r.is_empty() && *r != "PodInitializing")
        {
            reason = format!("Init:{w}");
        } else {
            reason = format!("Init:{i}/{}", pod.spec.init_containers.len());
        }
        initializing = true;
        break;
    }
    if !initializing {
        restarts = 0;
        let mut has_running = false;
        for c in st.container_statuses.iter().rev() {
            restarts += c.restart_count;
            let s = &c.state;
            if let Some(r) = s
                .waiting
                .as_ref()
                .and_then(|w| w.reason.as_deref())
                .filter(|r| !r.is_empty())
            {
                reason = r.to_string();
            } else if let Some(t) = &s.terminated {
                reason = match t.reason.as_deref().filter(|r| !r.is_empty()) {
                    Some(r) => r.to_string(),
                    None if t.signal != 0 => format!("Signal:{}", t.signal),
                    None => format!("ExitCode:{}", t.exit_code),
                };
            } else if c.ready && s.running.is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = "Running".into();
        }
    }
    if pod.metadata.deletion_timestamp.is_some() {
        reason = if st.reason.as_deref() == Some("NodeLost") {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    PodLine {
        name: pod.metadata.name.clone().unwrap_or_default(),
        status: reason,
        ready_containers: ready,
        total_containers: pod.spec.containers.len(),
        restarts,
        node: pod.spec.node_name.clone(),
        age: created_at(&pod.metadata).map(|c| (now - c).max(chrono::Duration::zero())),
    }
}

fn pods_of(rs: &ReplicaSet, pods: &[Pod], now: DateTime<Utc>) -> Vec<PodLine> {
    let uid = rs.metadata.uid.as_deref().unwrap_or("");
    let mut mine: Vec<&Pod> = pods
        .iter()
        .filter(|p| !uid.is_empty() && is_owned_by(&p.metadata, uid))
        .collect();
    mine.sort_by(|a, b| {
        created_at(&a.metadata)
            .cmp(&created_at(&b.metadata))
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
    mine.into_iter().map(|p| pod_line(p, now)).collect()
}

fn rs_node(
    rs: &ReplicaSet,
    revision: i64,
    tags: Vec<String>,
    pods: &[Pod],
    now: DateTime<Utc>,
) -> ReplicaSetNode {
    let deadline = annotation(&rs.metadata, SCALE_DOWN_DEADLINE_ANNOTATION)
        .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
        .map(|t| t.with_timezone(&Utc));
    ReplicaSetNode {
        name: rs.metadata.name.clone().unwrap_or_default(),
        revision,
        health: replica_set_health(rs),
        tags,
        desired: rs.spec.replicas,
        replicas: rs.status.replicas,
        ready: rs.status.ready_replicas,
        available: rs.status.available_replicas,
        images: rs.images(),
        scale_down_deadline: deadline,
        scale_down_in: deadline.map(|d| (d - now).max(chrono::Duration::zero())),
        pods: pods_of(rs, pods, now),
    }
}

/// Groups ReplicaSet nodes and AnalysisRun names into revisions, newest first; within a
/// revision ReplicaSets are sorted by name (the plugin's order).
fn revision_tree(mut nodes: Vec<ReplicaSetNode>, runs: &[(i64, String)]) -> Vec<RevisionNode> {
    nodes.sort_by(|a, b| {
        b.revision
            .cmp(&a.revision)
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut revisions: Vec<i64> = nodes
        .iter()
        .map(|n| n.revision)
        .chain(runs.iter().map(|(r, _)| *r))
        .collect();
    revisions.sort_unstable_by(|a, b| b.cmp(a));
    revisions.dedup();
    revisions
        .into_iter()
        .map(|revision| RevisionNode {
            revision,
            replica_sets: nodes
                .iter()
                .filter(|n| n.revision == revision)
                .cloned()
                .collect(),
            analysis_runs: runs
                .iter()
                .filter(|(r, _)| *r == revision)
                .map(|(_, n)| n.clone())
                .collect(),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Analysis
// ---------------------------------------------------------------------------------------------

fn metric_detail(
    spec: Option<&Metric>,
    result: Option<&crate::k8s::rollout::MetricResult>,
) -> MetricDetail {
    let name = spec
        .map(|m| m.name.clone())
        .or_else(|| result.map(|r| r.name.clone()))
        .unwrap_or_default();
    let recent = result
        .map(|r| {
            let skip = r.measurements.len().saturating_sub(RECENT_MEASUREMENTS);
            r.measurements[skip..]
                .iter()
                .map(|m| MeasurementLine {
                    phase: m.phase.clone().unwrap_or_default(),
                    value: m.value.as_ref().map(|v| v.trim().to_string()),
                    finished_at: m.finished_at,
                    message: m.message.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    MetricDetail {
        name,
        phase: AnalysisPhase::parse(result.and_then(|r| r.phase.as_deref()).unwrap_or("")),
        provider: spec.map(|m| m.provider.kinds.join(",")).unwrap_or_default(),
        query: spec
            .and_then(|m| m.provider.prometheus.as_ref())
            .and_then(|p| p.query.as_ref())
            .map(|q| q.trim().to_string()),
        success_condition: spec.and_then(|m| m.success_condition.clone()),
        failure_condition: spec.and_then(|m| m.failure_condition.clone()),
        failure_limit: spec
            .and_then(|m| m.failure_limit.as_ref())
            .map(ToString::to_string),
        inconclusive_limit: spec
            .and_then(|m| m.inconclusive_limit.as_ref())
            .map(ToString::to_string),
        count: result.map_or(0, |r| r.count),
        successful: result.map_or(0, |r| r.successful),
        failed: result.map_or(0, |r| r.failed),
        inconclusive: result.map_or(0, |r| r.inconclusive),
        error: result.map_or(0, |r| r.error),
        message: result.and_then(|r| r.message.clone()),
        recent,
    }
}

/// One AnalysisRun with its metrics: spec metrics in spec order, then results without a spec.
#[must_use]
pub fn analysis_run_detail(run: &AnalysisRun) -> AnalysisRunDetail {
    let st = run.status.clone().unwrap_or_default();
    let mut metrics: Vec<MetricDetail> = run
        .spec
        .metrics
        .iter()
        .map(|m| metric_detail(Some(m), st.metric_results.iter().find(|r| r.name == m.name)))
        .collect();
    for r in &st.metric_results {
        if !run.spec.metrics.iter().any(|m| m.name == r.name) {
            metrics.push(metric_detail(None, Some(r)));
        }
    }
    AnalysisRunDetail {
        name: run.metadata.name.clone().unwrap_or_default(),
        revision: run.revision().unwrap_or(0),
        phase: AnalysisPhase::parse(run.phase()),
        successful: st.metric_results.iter().map(|r| r.successful).sum(),
        failed: st.metric_results.iter().map(|r| r.failed).sum(),
        inconclusive: st.metric_results.iter().map(|r| r.inconclusive).sum(),
        error: st.metric_results.iter().map(|r| r.error).sum(),
        message: st.message.clone(),
        started_at: st.started_at,
        metrics,
    }
}

/// Runs in the plugin's order: revision descending, then creation ascending, then name
/// descending.
fn sorted_runs(mut runs: Vec<&AnalysisRun>) -> Vec<&AnalysisRun> {
    runs.sort_by(|a, b| {
        b.revision()
            .unwrap_or(0)
            .cmp(&a.revision().unwrap_or(0))
            .then_with(|| created_at(&a.metadata).cmp(&created_at(&b.metadata)))
            .then_with(|| b.metadata.name.cmp(&a.metadata.name))
    });
    runs
}

/// Reads `result[0] >= 0.95`, `result < 500`, `all(result, # < 1000)`, `any(result, # > 0)`,
/// `0.95 <= result[0]`, `asFloat(result) < 0.05` as (comparison, value). Compound conditions
/// (`&&`, `||`), checks on anything but the result (`len(result) > 0`) and non-numeric
/// comparisons give `None`.
#[must_use]
pub fn parse_condition(condition: &str) -> Option<Threshold> {
    let mut text = condition.trim();
    if text.contains("&&") || text.contains("||") {
        return None;
    }
    while let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        text = inner.trim();
    }
    for wrapper in ["all(", "any(", "none(", "one("] {
        if let Some(inner) = text.strip_prefix(wrapper).and_then(|t| t.strip_suffix(')')) {
            let (list, predicate) = inner.split_once(',')?;
            if list.trim() != "result" {
                return None;
            }
            return comparison(predicate.trim(), &["#"]);
        }
    }
    comparison(text, &[])
}

fn is_result_ref(operand: &str, extra: &[&str]) -> bool {
    let mut s: String = operand.chars().filter(|c| !c.is_whitespace()).collect();
    if extra.contains(&s.as_str()) {
        return true;
    }
    for f in ["asFloat(", "float(", "int(", "asInt("] {
        if let Some(inner) = s.strip_prefix(f).and_then(|t| t.strip_suffix(')')) {
            s = inner.to_string();
            break;
        }
    }
    if extra.contains(&s.as_str()) {
        return true;
    }
    let Some(rest) = s.strip_prefix("result") else {
        return false;
    };
    rest.is_empty()
        || rest
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .is_some_and(|i| !i.is_empty() && i.chars().all(|c| c.is_ascii_digit()))
}

fn comparison(expr: &str, extra: &[&str]) -> Option<Threshold> {
    const OPS: [(&str, Comparison); 6] = [
        (">=", Comparison::Ge),
        ("<=", Comparison::Le),
        ("==", Comparison::Eq),
        ("!=", Comparison::Ne),
        (">", Comparison::Gt),
        ("<", Comparison::Lt),
    ];
    let (pos, token, op) = OPS
        .iter()
        .filter_map(|(t, op)| expr.find(t).map(|p| (p, *t, *op)))
        .min_by_key(|(p, t, _)| (*p, std::cmp::Reverse(t.len())))?;
    let (lhs, rhs) = (expr[..pos].trim(), expr[pos + token.len()..].trim());
    if OPS.iter().any(|(t, _)| rhs.contains(t)) {
        return None;
    }
    if is_result_ref(lhs, extra) {
        rhs.parse::<f64>().ok().map(|value| Threshold { op, value })
    } else if is_result_ref(rhs, extra) {
        lhs.parse::<f64>().ok().map(|value| Threshold {
            op: op.flipped(),
            value,
        })
    } else {
        None
    }
}

/// Judges what a PromQL query measures. A ratio (`/`) whose series are filtered on a status
/// code label is a success rate when the filter excludes 5xx (`!~"5.*"`, `!~"[4-5].*"`) and an
/// error rate when it selects them (`=~"5.*"`); a quantile, histogram bucket or a series named
/// for latency/duration is a latency.
#[must_use]
pub fn classify_query(query: &str) -> MetricClass {
    let q: String = query
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let ratio = q.contains('/');
    let excludes_errors = ["!~\"5", "!~\"[45]", "!~\"[4-5]", "!=\"5", "!~'5"]
        .iter()
        .any(|p| q.contains(p));
    // `=~"5..."` not preceded by `!` (a byte check is safe: `!` is ASCII).
    let selects_errors = ["=~\"5", "=~\"[45]", "=~\"[4-5]"]
        .iter()
        .any(|p| q.match_indices(p).any(|(i, _)| !q[..i].ends_with('!')));
    if ratio && excludes_errors {
        return MetricClass::SuccessRate;
    }
    if ratio && selects_errors {
        return MetricClass::ErrorRate;
    }
    if [
        "histogram_quantile",
        "_bucket",
        "latency",
        "duration",
        "response_time",
    ]
    .iter()
    .any(|p| q.contains(p))
    {
        return MetricClass::Latency;
    }
    MetricClass::Other
}

/// Every analysis template the Rollout references: background analysis, analysis steps,
/// experiment analyses and blue-green pre/post-promotion analysis.
#[must_use]
pub fn referenced_templates(ro: &Rollout) -> Vec<AnalysisTemplateRef> {
    let mut refs: Vec<AnalysisTemplateRef> = Vec::new();
    let mut add = |r: AnalysisTemplateRef| {
        if !refs.contains(&r) {
            refs.push(r);
        }
    };
    if let Some(c) = &ro.spec.strategy.canary {
        c.analysis
            .iter()
            .flat_map(|a| a.template_refs())
            .for_each(&mut add);
        for step in ro.canary_steps() {
            step.analysis
                .iter()
                .flat_map(|a| a.template_refs())
                .for_each(&mut add);
            for a in step.experiment.iter().flat_map(|e| &e.analyses) {
                add(AnalysisTemplateRef {
                    template_name: a.template_name.clone(),
                    cluster_scope: a.cluster_scope,
                });
            }
        }
    }
    if let Some(bg) = &ro.spec.strategy.blue_green {
        for a in [&bg.pre_promotion_analysis, &bg.post_promotion_analysis]
            .into_iter()
            .flatten()
        {
            a.template_refs().into_iter().for_each(&mut add);
        }
    }
    refs
}

/// Thresholds of the Prometheus metrics of the templates the Rollout references (templates
/// from the Rollout's namespace; ClusterAnalysisTemplates for `clusterScope: true`).
#[must_use]
pub fn prometheus_thresholds(
    ro: &Rollout,
    templates: &[AnalysisTemplate],
    cluster_templates: &[ClusterAnalysisTemplate],
) -> Vec<PromThreshold> {
    let ns = ro.metadata.namespace.as_deref();
    let mut out = Vec::new();
    for r in referenced_templates(ro) {
        let metrics = if r.cluster_scope {
            cluster_templates
                .iter()
                .find(|t| t.metadata.name.as_deref() == Some(r.template_name.as_str()))
                .map(|t| &t.spec.metrics)
        } else {
            templates
                .iter()
                .find(|t| {
                    t.metadata.name.as_deref() == Some(r.template_name.as_str())
                        && (ns.is_none()
                            || t.metadata.namespace.is_none()
                            || t.metadata.namespace.as_deref() == ns)
                })
                .map(|t| &t.spec.metrics)
        };
        for m in metrics.into_iter().flatten() {
            let Some(query) = m
                .provider
                .prometheus
                .as_ref()
                .and_then(|p| p.query.as_deref())
            else {
                continue;
            };
            out.push(PromThreshold {
                template: r.template_name.clone(),
                cluster_scope: r.cluster_scope,
                metric: m.name.clone(),
                class: classify_query(query),
                query: query.trim().to_string(),
                success: m.success_condition.as_deref().and_then(parse_condition),
                failure: m.failure_condition.as_deref().and_then(parse_condition),
                success_condition: m.success_condition.clone(),
                failure_condition: m.failure_condition.clone(),
            });
        }
    }
    out
}

fn sorted_events(events: &[EventLine]) -> Vec<EventLine> {
    let mut events = events.to_vec();
    crate::panes::kit::detail::sort_events(&mut events);
    events
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
    let row = rollout_row_owned(inputs.cluster, ro, &rss, &runs, inputs.now);
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
