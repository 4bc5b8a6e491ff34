//! Rollout view rows computed from store snapshots (pure functions): objects + clock in,
//! `RolloutRow`s out, one per Argo Rollout or Deployment, in "needs a human first" order.
//!
//! Status, message, step, set weight, actual weight and images are computed the way the
//! kubectl-argo-rollouts plugin computes them (`utils/rollout/rolloututil.go` `GetRolloutPhase`,
//! `pkg/kubectl-argo-rollouts/info/rollout_info.go` `NewRolloutInfo`/`Images`,
//! `utils/replicaset/canary.go` `GetCurrentSetWeight`), so the pane never disagrees with
//! `kubectl argo rollouts get rollout`. Deployments follow `kubectl rollout status`
//! (`kubectl/pkg/polymorphichelpers/rollout_status.go`). kdeck's own additions (the `Aborted`
//! status, the step age, the analysis summary, the attention order) are documented where they
//! are computed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::k8s::apps::{
    DEPLOYMENT_REVISION_ANNOTATION, Deployment, ReplicaSet, created_at, find_condition, is_owned_by,
};
use crate::k8s::rollout::{
    AnalysisRun, AnalysisRunRef, CanaryStep, ROLLOUT_POD_TEMPLATE_HASH_LABEL, Rollout,
};

/// Which kind of workload a row shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkloadKind {
    Rollout,
    Deployment,
}

impl WorkloadKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rollout => "Rollout",
            Self::Deployment => "Deployment",
        }
    }
}

/// Update strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Canary,
    BlueGreen,
    RollingUpdate,
    Recreate,
    Unknown,
}

impl Strategy {
    /// Short lower-case name for the table (`canary`, `blue-green`, `rolling`, `recreate`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Canary => "canary",
            Self::BlueGreen => "blue-green",
            Self::RollingUpdate => "rolling",
            Self::Recreate => "recreate",
            Self::Unknown => "unknown",
        }
    }
}

/// The row's status. `Healthy`, `Progressing`, `Paused` and `Degraded` are the upstream
/// phases; `Aborted` is kdeck's name for any Rollout with `status.abort` set (the plugin shows
/// such a rollout as `Degraded` with a `RolloutAborted: ...` message, which stays in
/// [`RolloutRow::message`]); `Unknown` holds a phase kdeck does not know (see
/// [`RolloutRow::phase`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    Healthy,
    Progressing,
    Paused,
    Degraded,
    Aborted,
    Unknown,
}

impl RowStatus {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "Healthy",
            Self::Progressing => "Progressing",
            Self::Paused => "Paused",
            Self::Degraded => "Degraded",
            Self::Aborted => "Aborted",
            Self::Unknown => "Unknown",
        }
    }

    fn from_phase(phase: &str) -> Self {
        match phase {
            "Healthy" => Self::Healthy,
            "Progressing" => Self::Progressing,
            "Paused" => Self::Paused,
            "Degraded" => Self::Degraded,
            _ => Self::Unknown,
        }
    }
}

/// Where the update is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepProgress {
    /// Canary step `index` of `total` (`status.currentStepIndex` / number of steps; `index ==
    /// total` once every step has run), shown `index/total` as the plugin does.
    Canary { index: i32, total: usize },
    /// A rolling update: `updated` of `desired` replicas run the new template.
    Rolling { updated: i32, desired: i32 },
}

impl std::fmt::Display for StepProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Canary { index, total } => write!(f, "{index}/{total}"),
            Self::Rolling { updated, desired } => write!(f, "{updated}/{desired} upd"),
        }
    }
}

/// Replica counts as `kubectl argo rollouts get` prints them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplicaCounts {
    /// `spec.replicas` (default 1).
    pub desired: i32,
    /// `status.replicas`: pods of every revision.
    pub current: i32,
    pub ready: i32,
    pub updated: i32,
    pub available: i32,
}

/// One running image with the roles of the ReplicaSets running it (`stable`, `canary`,
/// `active`, `preview`; `new`/`old` for Deployments), tags sorted, as the plugin's `Images`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub image: String,
    pub tags: Vec<String>,
}

/// Phase of an AnalysisRun.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnalysisPhase {
    Pending,
    Running,
    Successful,
    Failed,
    Error,
    Inconclusive,
    /// Not reconciled yet (empty) or a phase kdeck does not know.
    Unknown(String),
}

impl AnalysisPhase {
    #[must_use]
    pub fn parse(text: &str) -> Self {
        match text {
            "Pending" => Self::Pending,
            "Running" => Self::Running,
            "Successful" => Self::Successful,
            "Failed" => Self::Failed,
            "Error" => Self::Error,
            "Inconclusive" => Self::Inconclusive,
            other => Self::Unknown(other.to_string()),
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "Pending",
            Self::Running => "Running",
            Self::Successful => "Successful",
            Self::Failed => "Failed",
            Self::Error => "Error",
            Self::Inconclusive => "Inconclusive",
            Self::Unknown(s) => s,
        }
    }

    /// Whether the run is over (upstream `AnalysisPhase.Completed`).
    #[must_use]
    pub fn is_completed(&self) -> bool {
        matches!(
            self,
            Self::Successful | Self::Failed | Self::Error | Self::Inconclusive
        )
    }

    /// Whether a human should look (failed, errored or inconclusive).
    #[must_use]
    pub fn is_trouble(&self) -> bool {
        matches!(self, Self::Failed | Self::Error | Self::Inconclusive)
    }

    /// Lower is worse; used to pick the run that matters most.
    fn severity(&self) -> u8 {
        match self {
            Self::Failed => 0,
            Self::Error => 1,
            Self::Inconclusive => 2,
            Self::Running => 3,
            Self::Pending => 4,
            Self::Unknown(_) => 5,
            Self::Successful => 6,
        }
    }
}

/// The analysis result shown in the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisSummary {
    /// AnalysisRun name.
    pub name: String,
    pub phase: AnalysisPhase,
    /// Measurement counts summed over the run's metrics (the plugin's `✔ n,✖ n,? n,⚠ n`).
    pub successful: i32,
    pub failed: i32,
    pub inconclusive: i32,
    pub error: i32,
    /// One line naming the failing metrics with their last values, else the run's message,
    /// else empty.
    pub summary: String,
}

/// Attention groups, most urgent first. Rows sort by this, stable within a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Attention {
    /// Paused until a human promotes or resumes it (an indefinite pause step, a blue-green
    /// pre-promotion pause, a manual pause).
    AwaitingHuman = 0,
    /// Degraded, aborted, or unreadable.
    Broken = 1,
    /// The latest analysis failed, errored or was inconclusive (including a pause on an
    /// inconclusive analysis).
    AnalysisTrouble = 2,
    /// Moving on its own (including timed pause steps).
    Progressing = 3,
    Healthy = 4,
}

/// One table row.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutRow {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
    pub kind: WorkloadKind,
    pub uid: Option<String>,
    /// The resourceVersion the row was computed from (commands carry it as a precondition).
    pub resource_version: Option<String>,
    pub strategy: Strategy,
    /// The phase exactly as the upstream tool reports it (`Healthy`, `Paused`, ...).
    pub phase: String,
    pub status: RowStatus,
    /// The machine reason when the message carries one (`CanaryPauseStep`, `RolloutAborted`,
    /// `ProgressDeadlineExceeded`, `InvalidSpec`, `InconclusiveAnalysisRun`, ...).
    pub reason: Option<String>,
    /// The message exactly as the upstream tool reports it.
    pub message: String,
    pub step: Option<StepProgress>,
    /// Canary only: the weight the current step asks for (plugin `SetWeight`).
    pub set_weight: Option<i32>,
    /// Canary only: the weight actually served (plugin `ActualWeight`).
    pub actual_weight: Option<i32>,
    pub replicas: ReplicaCounts,
    pub images: Vec<ImageInfo>,
    /// Short tags of the images serving production: `stable` (canary), `active` (blue-green),
    /// `old` (Deployment).
    pub stable_tags: Vec<String>,
    /// Short tags of the images being rolled out: `canary`, `preview`, `new`.
    pub new_tags: Vec<String>,
    /// When the current step began, see [`step_since`].
    pub step_since: Option<DateTime<Utc>>,
    /// `now - step_since`, never negative.
    pub step_age: Option<chrono::Duration>,
    pub analysis: Option<AnalysisSummary>,
    pub attention: Attention,
    /// Set when the object could not be fully read or has no status yet; the row then says so.
    pub problem: Option<String>,
}

impl RolloutRow {
    /// Whether the row is in one of the groups a human should look at.
    #[must_use]
    pub fn needs_attention(&self) -> bool {
        self.attention <= Attention::AnalysisTrouble
    }

    /// `namespace/name`.
    #[must_use]
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// Sorts rows so those needing a human come first (see [`Attention`]); the sort is stable, so
/// rows keep their given order within a group.
pub fn sort_by_attention(rows: &mut [RolloutRow]) {
    rows.sort_by_key(|r| r.attention);
}

// ---------------------------------------------------------------------------------------------
// Upstream status rules
// ---------------------------------------------------------------------------------------------

const MSG_SPEC_NOT_OBSERVED: &str = "waiting for rollout spec update to be observed";

/// Upstream `IsFullyPromoted`: `status.stableRS == status.currentPodHash` (both unset counts
/// as equal, as in Go where both are `""`).
#[must_use]
pub fn is_fully_promoted(ro: &Rollout) -> bool {
    let st = ro.status.as_ref();
    let stable = st.and_then(|s| s.stable_rs.as_deref()).unwrap_or("");
    let current = st.and_then(|s| s.current_pod_hash.as_deref()).unwrap_or("");
    stable == current
}

/// Upstream `isGenerationObserved`: a non-numeric `observedGeneration` (v0.9 hash) counts as
/// observed, and so does one larger than `metadata.generation` (an all-digit hash).
#[must_use]
pub fn is_generation_observed(ro: &Rollout) -> bool {
    let Some(observed) = ro
        .status
        .as_ref()
        .and_then(|s| s.observed_generation.as_ref())
        .and_then(|g| g.as_number())
    else {
        return true;
    };
    let generation = ro.metadata.generation.unwrap_or(0);
    observed >= generation
}

/// Upstream `IsUnpausing`: the controller paused it but the pause conditions were cleared.
#[must_use]
pub fn is_unpausing(ro: &Rollout) -> bool {
    ro.status
        .as_ref()
        .is_some_and(|s| s.controller_pause && s.pauses().is_empty())
}

/// Upstream `GetCurrentCanaryStep`: the current step and its index. `(None, None)` without
/// canary steps; `(None, Some(i))` once every step has run.
#[must_use]
pub fn current_canary_step(ro: &Rollout) -> (Option<&CanaryStep>, Option<i32>) {
    let steps = ro.canary_steps();
    if ro.spec.strategy.canary.is_none() || steps.is_empty() {
        return (None, None);
    }
    let index = ro
        .status
        .as_ref()
        .and_then(|s| s.current_step_index)
        .unwrap_or(0);
    let step = usize::try_from(index).ok().and_then(|i| steps.get(i));
    (step, Some(index))
}

/// Upstream `GetCurrentSetWeight`: 0 when aborted, 100 after the last step (or without
/// steps), else the nearest `setWeight` at or before the current step (0 if none).
#[must_use]
pub fn current_set_weight(ro: &Rollout) -> i32 {
    if ro.status.as_ref().is_some_and(|s| s.abort) {
        return 0;
    }
    let (Some(_), Some(index)) = current_canary_step(ro) else {
        return 100;
    };
    let steps = ro.canary_steps();
    let upto = usize::try_from(index).unwrap_or(0).min(steps.len() - 1);
    steps[..=upto]
        .iter()
        .rev()
        .find_map(|s| s.set_weight)
        .unwrap_or(0)
}

/// Upstream `GetRolloutPhase`: the phase and message `kubectl argo rollouts` shows.
///
/// One deliberate difference: a Rollout with no `status` at all has not been seen by any
/// controller, so it is reported as `Progressing` / "waiting for rollout spec update to be
/// observed" (as Argo CD's health check does) instead of the plugin's "more replicas need to
/// be updated", which would suggest the controller is working on it.
#[must_use]
pub fn rollout_phase(ro: &Rollout) -> (String, String) {
    if ro.status.is_none() {
        return ("Progressing".into(), MSG_SPEC_NOT_OBSERVED.into());
    }
    if !is_generation_observed(ro) {
        return ("Progressing".into(), MSG_SPEC_NOT_OBSERVED.into());
    }
    if is_unpausing(ro) {
        return (
            "Progressing".into(),
            "waiting for rollout to unpause".into(),
        );
    }
    // The plugin's third check (workload generation) only applies when the template was
    // resolved from `workloadRef` in memory, which a client never sees, so it is skipped.
    if let Some(st) = &ro.status
        && let Some(phase) = st.phase.as_deref().filter(|p| !p.is_empty())
    {
        return (phase.to_string(), st.message.clone().unwrap_or_default());
    }
    calculate_rollout_phase(ro)
}

/// Upstream `CalculateRolloutPhase`: the client-side phase for pre-v1.0 controllers (with the
/// pre-v0.8 stable hash fallback noted below).
#[must_use]
pub fn calculate_rollout_phase(ro: &Rollout) -> (String, String) {
    let st = ro.status_or_default();
    let progressing = |m: &str| ("Progressing".to_string(), m.to_string());
    for cond in &st.conditions {
        let message = cond.message.as_deref().unwrap_or("");
        if cond.type_ == "InvalidSpec" {
            return ("Degraded".into(), format!("InvalidSpec: {message}"));
        }
        if let Some(reason @ ("RolloutAborted" | "ProgressDeadlineExceeded")) =
            cond.reason.as_deref()
        {
            return ("Degraded".into(), format!("{reason}: {message}"));
        }
    }
    if ro.spec.paused {
        return ("Paused".into(), "manually paused".into());
    }
    if let Some(pause) = st.pauses().first() {
        return ("Paused".into(), pause.reason.clone());
    }
    if let Some(restart_at) = ro.spec.restart_at
        && st.restarted_at != Some(restart_at)
    {
        return progressing("rollout is restarting");
    }
    if st.updated_replicas < ro.desired_replicas() {
        return progressing("more replicas need to be updated");
    }
    if st.available_replicas < st.updated_replicas {
        return progressing("updated replicas are still becoming available");
    }
    // kdeck reads the pre-v0.8 `status.canary.stableRS` when `status.stableRS` is absent; the
    // plugin does not, and calls such an old but finished canary "waiting for all steps to
    // complete". For objects of current controllers this changes nothing.
    let stable = ro.stable_hash().unwrap_or("");
    let current = st.current_pod_hash.as_deref().unwrap_or("");
    if let Some(bg) = &ro.spec.strategy.blue_green {
        let active = st.blue_green.active_selector.as_deref().unwrap_or("");
        if active.is_empty() || active != current {
            return progressing("active service cutover pending");
        }
        if stable.is_empty() || stable != current {
            let post_analysis_pending = bg.post_promotion_analysis.is_some()
                && !st
                    .blue_green
                    .post_promotion_analysis_run_status
                    .as_ref()
                    .and_then(|r| r.status.as_deref())
                    .is_some_and(|p| AnalysisPhase::parse(p).is_completed());
            return progressing(if post_analysis_pending {
                "waiting for analysis to complete"
            } else {
                "waiting for post-promotion verification to complete"
            });
        }
    } else if let Some(canary) = &ro.spec.strategy.canary {
        if canary.traffic_routing.is_none() && st.replicas > st.updated_replicas {
            return progressing("old replicas are pending termination");
        }
        if stable.is_empty() || stable != current {
            return progressing("waiting for all steps to complete");
        }
    }
    ("Healthy".into(), String::new())
}

/// The machine reason carried by an upstream message: the identifier before `": "`
/// (`RolloutAborted: ...`), or the whole message when it is one identifier
/// (`CanaryPauseStep`).
#[must_use]
pub fn reason_of(message: &str) -> Option<String> {
    let is_ident = |s: &str| {
        !s.is_empty()
            && s.starts_with(|c: char| c.is_ascii_uppercase())
            && s.chars().all(|c| c.is_ascii_alphanumeric())
    };
    let head = message.split(": ").next().unwrap_or("");
    if message.contains(": ") && is_ident(head) {
        Some(head.to_string())
    } else if is_ident(message) {
        Some(message.to_string())
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// ReplicaSet roles and images
// ---------------------------------------------------------------------------------------------

/// The roles of one of a Rollout's ReplicaSets, as the plugin's `GetReplicaSetInfo` tags
/// them. The stable hash falls back to the pre-v0.8 `status.canary.stableRS`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplicaSetRoles {
    pub stable: bool,
    pub canary: bool,
    pub active: bool,
    pub preview: bool,
}

impl ReplicaSetRoles {
    /// Tag names in the plugin's order (`canary`, `stable`, `active`, `preview`).
    #[must_use]
    pub fn tags(self) -> Vec<&'static str> {
        let mut tags = Vec::new();
        if self.canary {
            tags.push("canary");
        }
        if self.stable {
            tags.push("stable");
        }
        if self.active {
            tags.push("active");
        }
        if self.preview {
            tags.push("preview");
        }
        tags
    }
}

/// Roles of `rs` within `ro`.
#[must_use]
pub fn replica_set_roles(ro: &Rollout, rs: &ReplicaSet) -> ReplicaSetRoles {
    let mut roles = ReplicaSetRoles::default();
    let Some(hash) = rs
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(ROLLOUT_POD_TEMPLATE_HASH_LABEL))
        .map(String::as_str)
    else {
        return roles;
    };
    let st = ro.status_or_default();
    let stable = ro.stable_hash();
    if ro.spec.strategy.canary.is_some() {
        if stable == Some(hash) {
            roles.stable = true;
        } else if st.current_pod_hash.as_deref() == Some(hash) {
            roles.canary = true;
        }
    }
    if ro.spec.strategy.blue_green.is_some() {
        roles.stable = stable == Some(hash);
        if st.blue_green.active_selector.as_deref() == Some(hash) {
            roles.active = true;
        } else if st.blue_green.preview_selector.as_deref() == Some(hash) {
            roles.preview = true;
        }
    }
    roles
}

/// Merges `(image, tags)` pairs the way the plugin's `Images` does: one entry per image, tags
/// unioned and sorted, images sorted by name.
fn merge_images<'a>(pairs: impl IntoIterator<Item = (String, Vec<&'a str>)>) -> Vec<ImageInfo> {
    let mut merged: Vec<ImageInfo> = Vec::new();
    for (image, tags) in pairs {
        let entry = match merged.iter_mut().find(|i| i.image == image) {
            Some(e) => e,
            None => {
                merged.push(ImageInfo {
                    image,
                    tags: Vec::new(),
                });
                let last = merged.len() - 1;
                &mut merged[last]
            }
        };
        for t in tags {
            if !entry.tags.iter().any(|x| x == t) {
                entry.tags.push(t.to_string());
            }
        }
        entry.tags.sort();
    }
    merged.sort_by(|a, b| a.image.cmp(&b.image));
    merged
}

/// The short tag of an image reference: `argoproj/rollouts-demo:blue` → `blue`,
/// `repo@sha256:0123456789ab...` → `@0123456789ab`, no tag → `latest`.
#[must_use]
pub fn image_tag(image: &str) -> String {
    if let Some((_, digest)) = image.split_once('@') {
        let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
        return format!("@{}", hex.chars().take(12).collect::<String>());
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) if !tag.is_empty() => tag.to_string(),
        _ => "latest".to_string(),
    }
}

fn tags_with(images: &[ImageInfo], wanted: &[&str], excluded: &[&str]) -> Vec<String> {
    images
        .iter()
        .filter(|i| i.tags.iter().any(|t| wanted.contains(&t.as_str())))
        .filter(|i| !i.tags.iter().any(|t| excluded.contains(&t.as_str())))
        .map(|i| image_tag(&i.image))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Step age and analysis
// ---------------------------------------------------------------------------------------------

/// When the current step began, by the best evidence the object holds:
/// 1. while paused, the earliest `status.pauseConditions[].startTime` (how long it has been
///    waiting);
/// 2. else the pre-v0.6 `status.pauseStartTime`;
/// 3. else the `lastUpdateTime` of the `Progressing` condition, which the controller bumps
///    whenever the rollout makes progress (a new step, a scale event), falling back to its
///    `lastTransitionTime`.
///
/// `None` when the object has none of these.
#[must_use]
pub fn step_since(ro: &Rollout) -> Option<DateTime<Utc>> {
    let st = ro.status.as_ref()?;
    if let Some(t) = st.pauses().iter().filter_map(|p| p.start_time).min() {
        return Some(t);
    }
    if let Some(t) = st.pause_start_time {
        return Some(t);
    }
    find_condition(&st.conditions, "Progressing")
        .and_then(|c| c.last_update_time.or(c.last_transition_time))
}

fn age(now: DateTime<Utc>, since: Option<DateTime<Utc>>) -> Option<chrono::Duration> {
    since.map(|s| (now - s).max(chrono::Duration::zero()))
}

/// Sort key for "latest": revision, then creation time, then name.
fn run_recency(run: &AnalysisRun) -> (i64, Option<DateTime<Utc>>, &str) {
    (
        run.revision().unwrap_or(0),
        created_at(&run.metadata),
        run.metadata.name.as_deref().unwrap_or(""),
    )
}

/// The analysis result for the row: among the rollout's AnalysisRuns of the newest revision,
/// the one in the worst phase (a failing background run is not hidden by a passing step run),
/// the newest on ties. Without AnalysisRuns in the store, falls back to the run the controller
/// points at in `status` (step, background, pre- and post-promotion), again the worst.
#[must_use]
pub fn analysis_summary(ro: &Rollout, runs: &[&AnalysisRun]) -> Option<AnalysisSummary> {
    let newest_revision = runs.iter().map(|r| r.revision().unwrap_or(0)).max();
    let pick = runs
        .iter()
        .filter(|r| Some(r.revision().unwrap_or(0)) == newest_revision)
        .min_by(|a, b| {
            let pa = AnalysisPhase::parse(a.phase());
            let pb = AnalysisPhase::parse(b.phase());
            pa.severity()
                .cmp(&pb.severity())
                .then_with(|| run_recency(b).cmp(&run_recency(a)))
        });
    if let Some(run) = pick {
        return Some(summarize_run(run));
    }
    let st = ro.status.as_ref()?;
    let refs: Vec<&AnalysisRunRef> = [
        st.canary.current_step_analysis_run_status.as_ref(),
        st.canary.current_background_analysis_run_status.as_ref(),
        st.blue_green.pre_promotion_analysis_run_status.as_ref(),
        st.blue_green.post_promotion_analysis_run_status.as_ref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    refs.into_iter()
        .min_by_key(|r| AnalysisPhase::parse(r.status.as_deref().unwrap_or("")).severity())
        .map(|r| AnalysisSummary {
            name: r.name.clone().unwrap_or_default(),
            phase: AnalysisPhase::parse(r.status.as_deref().unwrap_or("")),
            successful: 0,
            failed: 0,
            inconclusive: 0,
            error: 0,
            summary: r.message.clone().unwrap_or_default(),
        })
}

/// Counts and a one-line failing-metrics summary of one run.
#[must_use]
pub fn summarize_run(run: &AnalysisRun) -> AnalysisSummary {
    let mut s = AnalysisSummary {
        name: run.metadata.name.clone().unwrap_or_default(),
        phase: AnalysisPhase::parse(run.phase()),
        successful: 0,
        failed: 0,
        inconclusive: 0,
        error: 0,
        summary: String::new(),
    };
    let Some(st) = &run.status else {
        return s;
    };
    let mut failing = Vec::new();
    for mr in &st.metric_results {
        s.successful += mr.successful;
        s.failed += mr.failed;
        s.inconclusive += mr.inconclusive;
        s.error += mr.error;
        let phase = AnalysisPhase::parse(mr.phase.as_deref().unwrap_or(""));
        if phase.is_trouble() {
            let mut line = format!("{} {}", mr.name, phase.as_str());
            let mut counts = Vec::new();
            if mr.failed > 0 {
                counts.push(format!("{} failed", mr.failed));
            }
            if mr.error > 0 {
                counts.push(format!("{} errors", mr.error));
            }
            if mr.inconclusive > 0 {
                counts.push(format!("{} inconclusive", mr.inconclusive));
            }
            if mr.count > 0 {
                counts.push(format!("of {}", mr.count));
            }
            if let Some(v) = mr.measurements.last().and_then(|m| m.value.as_deref()) {
                counts.push(format!("last {}", v.trim()));
            }
            if !counts.is_empty() {
                line.push_str(&format!(" ({})", counts.join(", ")));
            }
            failing.push(line);
        }
    }
    s.summary = if failing.is_empty() {
        st.message.clone().unwrap_or_default()
    } else {
        failing.join("; ")
    };
    s
}

// ---------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------

fn uid_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.uid.as_deref().unwrap_or("")
}

/// A Rollout's row. `replica_sets` and `analysis_runs` may hold anything: only those owned by
/// this Rollout (owner reference UID) are used.
#[must_use]
pub fn rollout_row(
    cluster: &str,
    ro: &Rollout,
    replica_sets: &[ReplicaSet],
    analysis_runs: &[AnalysisRun],
    now: DateTime<Utc>,
) -> RolloutRow {
    let uid = uid_of(&ro.metadata);
    let rss: Vec<&ReplicaSet> = replica_sets
        .iter()
        .filter(|rs| !uid.is_empty() && is_owned_by(&rs.metadata, uid))
        .collect();
    let runs: Vec<&AnalysisRun> = analysis_runs
        .iter()
        .filter(|r| !uid.is_empty() && is_owned_by(&r.metadata, uid))
        .collect();
    rollout_row_owned(cluster, ro, &rss, &runs, now)
}

/// Like [`rollout_row`] with the owned ReplicaSets and AnalysisRuns already picked out.
#[must_use]
pub fn rollout_row_owned(
    cluster: &str,
    ro: &Rollout,
    rss: &[&ReplicaSet],
    runs: &[&AnalysisRun],
    now: DateTime<Utc>,
) -> RolloutRow {
    let st = ro.status_or_default();
    let (phase, message) = rollout_phase(ro);
    let status = if st.abort {
        RowStatus::Aborted
    } else {
        RowStatus::from_phase(&phase)
    };

    let mut strategy = Strategy::Unknown;
    let mut step = None;
    let mut set_weight = None;
    let mut actual_weight = None;
    let roles: Vec<(&ReplicaSet, ReplicaSetRoles)> = rss
        .iter()
        .map(|rs| (*rs, replica_set_roles(ro, rs)))
        .collect();

    if let Some(canary) = &ro.spec.strategy.canary {
        strategy = Strategy::Canary;
        let steps = ro.canary_steps();
        if let Some(index) = st.current_step_index
            && !steps.is_empty()
        {
            step = Some(StepProgress::Canary {
                index,
                total: steps.len(),
            });
        }
        let sw = current_set_weight(ro);
        set_weight = Some(sw);
        // The plugin's ActualWeight: 100 after the last step; otherwise, with pods available,
        // the canary ReplicaSet's share of available pods (basic canary) or the weight the
        // traffic router reports (falling back to the set weight).
        let mut actual = 0;
        if current_canary_step(ro).0.is_none() {
            actual = 100;
        } else if st.available_replicas > 0 {
            if canary.traffic_routing.is_none() {
                for (rs, r) in &roles {
                    if r.canary {
                        actual = rs.status.available_replicas.saturating_mul(100)
                            / st.available_replicas;
                    }
                }
            } else {
                actual = st.canary.weights.as_ref().map_or(sw, |w| w.canary.weight);
            }
        }
        actual_weight = Some(actual);
    } else if ro.spec.strategy.blue_green.is_some() {
        strategy = Strategy::BlueGreen;
    }

    let images = merge_images(
        roles
            .iter()
            .filter(|(rs, _)| rs.status.replicas > 0)
            .flat_map(|(rs, r)| rs.images().into_iter().map(move |i| (i, r.tags()))),
    );
    let (stable_tags, new_tags) = match strategy {
        Strategy::BlueGreen => (
            tags_with(&images, &["active"], &[]),
            tags_with(&images, &["preview"], &["active"]),
        ),
        _ => (
            tags_with(&images, &["stable"], &[]),
            tags_with(&images, &["canary"], &["stable"]),
        ),
    };

    let since = step_since(ro);
    let analysis = analysis_summary(ro, runs);
    let mut problem = ro.malformed.as_ref().map(|m| format!("unreadable {m}"));
    if ro.status.is_none() && problem.is_none() {
        problem = Some("no status yet: no controller has processed this Rollout".into());
    }
    let reason = reason_of(&message);
    let attention = rollout_attention(ro, status, reason.as_deref(), analysis.as_ref());

    RolloutRow {
        cluster: cluster.to_string(),
        namespace: ro.metadata.namespace.clone().unwrap_or_default(),
        name: ro.metadata.name.clone().unwrap_or_default(),
        kind: WorkloadKind::Rollout,
        uid: ro.metadata.uid.clone(),
        resource_version: ro.metadata.resource_version.clone(),
        strategy,
        phase,
        status,
        reason,
        message,
        step,
        set_weight,
        actual_weight,
        replicas: ReplicaCounts {
            desired: ro.desired_replicas(),
            current: st.replicas,
            ready: st.ready_replicas,
            updated: st.updated_replicas,
            available: st.available_replicas,
        },
        images,
        stable_tags,
        new_tags,
        step_since: since,
        step_age: age(now, since),
        analysis,
        attention,
        problem,
    }
}

fn rollout_attention(
    ro: &Rollout,
    status: RowStatus,
    reason: Option<&str>,
    analysis: Option<&AnalysisSummary>,
) -> Attention {
    if ro.malformed.is_some() {
        return Attention::Broken;
    }
    match status {
        RowStatus::Aborted | RowStatus::Degraded => Attention::Broken,
        RowStatus::Paused => {
            if matches!(
                reason,
                Some("InconclusiveAnalysisRun" | "InconclusiveExperiment")
            ) {
                return Attention::AnalysisTrouble;
            }
            // A timed pause step (or blue-green auto-promotion after N seconds) resumes by
            // itself; only an indefinite one waits for a human.
            let timed_pause_step = reason == Some("CanaryPauseStep")
                && current_canary_step(ro)
                    .0
                    .and_then(|s| s.pause.as_ref())
                    .is_some_and(|p| p.duration.is_some());
            let timed_blue_green = reason == Some("BlueGreenPause")
                && ro.spec.strategy.blue_green.as_ref().is_some_and(|bg| {
                    bg.auto_promotion_enabled != Some(false)
                        && bg.auto_promotion_seconds.is_some_and(|s| s > 0)
                });
            if !ro.spec.paused && (timed_pause_step || timed_blue_green) {
                Attention::Progressing
            } else {
                Attention::AwaitingHuman
            }
        }
        _ if analysis.is_some_and(|a| a.phase.is_trouble()) => Attention::AnalysisTrouble,
        RowStatus::Healthy => Attention::Healthy,
        RowStatus::Progressing | RowStatus::Unknown => Attention::Progressing,
    }
}

/// `kubectl rollout status` for a Deployment, plus `spec.paused`: (phase, message, reason).
/// Checked in kubectl's order: spec observed, progress deadline, then kdeck's paused check,
/// then kubectl's three "waiting" messages; otherwise complete.
#[must_use]
pub fn deployment_phase(d: &Deployment) -> (String, String, Option<String>) {
    let name = d.metadata.name.as_deref().unwrap_or("");
    let Some(st) = &d.status else {
        return (
            "Progressing".into(),
            "Waiting for deployment spec update to be observed...".into(),
            None,
        );
    };
    let generation = d.metadata.generation.unwrap_or(0);
    if generation > st.observed_generation.unwrap_or(0) {
        return (
            "Progressing".into(),
            "Waiting for deployment spec update to be observed...".into(),
            None,
        );
    }
    if let Some(c) = find_condition(&st.conditions, "Progressing")
        && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    {
        return (
            "Degraded".into(),
            format!("deployment {name:?} exceeded its progress deadline"),
            Some("ProgressDeadlineExceeded".into()),
        );
    }
    if d.spec.paused {
        return (
            "Paused".into(),
            format!("deployment {name:?} is paused"),
            Some("DeploymentPaused".into()),
        );
    }
    let wait = |m: String| {
        (
            "Progressing".to_string(),
            format!("Waiting for deployment {name:?} rollout to finish: {m}..."),
            None,
        )
    };
    if let Some(replicas) = d.spec.replicas
        && st.updated_replicas < replicas
    {
        return wait(format!(
            "{} out of {replicas} new replicas have been updated",
            st.updated_replicas
        ));
    }
    if st.replicas > st.updated_replicas {
        return wait(format!(
            "{} old replicas are pending termination",
            st.replicas - st.updated_replicas
        ));
    }
    if st.available_replicas < st.updated_replicas {
        return wait(format!(
            "{} of {} updated replicas are available",
            st.available_replicas, st.updated_replicas
        ));
    }
    (
        "Healthy".into(),
        format!("deployment {name:?} successfully rolled out"),
        None,
    )
}

/// A Deployment's row. `replica_sets` may hold anything: only those owned by this Deployment
/// are used (for the images of old revisions still running).
#[must_use]
pub fn deployment_row(
    cluster: &str,
    d: &Deployment,
    replica_sets: &[ReplicaSet],
    now: DateTime<Utc>,
) -> RolloutRow {
    let uid = uid_of(&d.metadata);
    let rss: Vec<&ReplicaSet> = replica_sets
        .iter()
        .filter(|rs| !uid.is_empty() && is_owned_by(&rs.metadata, uid))
        .collect();
    deployment_row_owned(cluster, d, &rss, now)
}

/// Like [`deployment_row`] with the owned ReplicaSets already picked out.
#[must_use]
pub fn deployment_row_owned(
    cluster: &str,
    d: &Deployment,
    rss: &[&ReplicaSet],
    now: DateTime<Utc>,
) -> RolloutRow {
    let (phase, message, reason) = deployment_phase(d);
    let status = RowStatus::from_phase(&phase);
    let st = d.status.clone().unwrap_or_default();
    let strategy = match d.spec.strategy.type_.as_deref() {
        Some("Recreate") => Strategy::Recreate,
        None | Some("RollingUpdate") => Strategy::RollingUpdate,
        Some(_) => Strategy::Unknown,
    };
    // New images: the Deployment's template; old ones: any other revision still running.
    let dep_revision = d.revision().or_else(|| {
        rss.iter()
            .filter_map(|rs| rs.revision_from(DEPLOYMENT_REVISION_ANNOTATION).flatten())
            .max()
    });
    let mut new_images = d.spec.template.images();
    if new_images.is_empty()
        && let Some(newest) = rss
            .iter()
            .find(|rs| rs.revision_from(DEPLOYMENT_REVISION_ANNOTATION).flatten() == dep_revision)
    {
        new_images = newest.images();
    }
    let old_images: Vec<String> = rss
        .iter()
        .filter(|rs| rs.status.replicas > 0)
        .filter(|rs| rs.revision_from(DEPLOYMENT_REVISION_ANNOTATION).flatten() != dep_revision)
        .flat_map(|rs| rs.images())
        .collect();
    let images = merge_images(
        new_images
            .iter()
            .map(|i| (i.clone(), vec!["new"]))
            .chain(old_images.iter().map(|i| (i.clone(), vec!["old"]))),
    );
    let since = find_condition(&st.conditions, "Progressing")
        .and_then(|c| c.last_update_time.or(c.last_transition_time));
    let desired = d.desired_replicas();
    let attention = match status {
        RowStatus::Paused => Attention::AwaitingHuman,
        RowStatus::Degraded | RowStatus::Aborted => Attention::Broken,
        RowStatus::Healthy => Attention::Healthy,
        RowStatus::Progressing | RowStatus::Unknown => Attention::Progressing,
    };
    RolloutRow {
        cluster: cluster.to_string(),
        namespace: d.metadata.namespace.clone().unwrap_or_default(),
        name: d.metadata.name.clone().unwrap_or_default(),
        kind: WorkloadKind::Deployment,
        uid: d.metadata.uid.clone(),
        resource_version: d.metadata.resource_version.clone(),
        strategy,
        phase,
        status,
        reason,
        message,
        step: Some(StepProgress::Rolling {
            updated: st.updated_replicas,
            desired,
        }),
        set_weight: None,
        actual_weight: None,
        replicas: ReplicaCounts {
            desired,
            current: st.replicas,
            ready: st.ready_replicas,
            updated: st.updated_replicas,
            available: st.available_replicas,
        },
        stable_tags: tags_with(&images, &["old"], &["new"]),
        new_tags: tags_with(&images, &["new"], &[]),
        images,
        step_since: since,
        step_age: age(now, since),
        analysis: None,
        attention,
        problem: d
            .status
            .is_none()
            .then(|| "no status yet: the Deployment controller has not processed it".into()),
    }
}

/// A row for an object that could not be parsed at all: it names the object (as far as the
/// raw JSON allows) and says why, so the pane shows it instead of dropping it.
#[must_use]
pub fn unreadable_row(cluster: &str, kind: WorkloadKind, raw: &Value, error: &str) -> RolloutRow {
    let meta = raw.get("metadata");
    let text = |k: &str| {
        meta.and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    RolloutRow {
        cluster: cluster.to_string(),
        namespace: text("namespace").unwrap_or_default(),
        name: text("name").unwrap_or_else(|| "<unnamed>".into()),
        kind,
        uid: text("uid"),
        resource_version: text("resourceVersion"),
        strategy: Strategy::Unknown,
        phase: String::new(),
        status: RowStatus::Unknown,
        reason: None,
        message: format!("cannot read this {}: {error}", kind.as_str()),
        step: None,
        set_weight: None,
        actual_weight: None,
        replicas: ReplicaCounts::default(),
        images: Vec::new(),
        stable_tags: Vec::new(),
        new_tags: Vec::new(),
        step_since: None,
        step_age: None,
        analysis: None,
        attention: Attention::Broken,
        problem: Some(error.to_string()),
    }
}

/// Every row of one cluster, sorted by [`Attention`] (stable: within a group the given order
/// of `rollouts` then `deployments` is kept). ReplicaSets and AnalysisRuns are indexed by
/// owner once, so this stays linear in the number of objects.
#[must_use]
pub fn build_rows(
    cluster: &str,
    rollouts: &[&Rollout],
    deployments: &[&Deployment],
    replica_sets: &[&ReplicaSet],
    analysis_runs: &[&AnalysisRun],
    now: DateTime<Utc>,
) -> Vec<RolloutRow> {
    let mut rs_by_owner: HashMap<&str, Vec<&ReplicaSet>> = HashMap::new();
    for rs in replica_sets.iter().copied() {
        for o in rs.metadata.owner_references.iter().flatten() {
            rs_by_owner.entry(o.uid.as_str()).or_default().push(rs);
        }
    }
    let mut runs_by_owner: HashMap<&str, Vec<&AnalysisRun>> = HashMap::new();
    for run in analysis_runs.iter().copied() {
        for o in run.metadata.owner_references.iter().flatten() {
            runs_by_owner.entry(o.uid.as_str()).or_default().push(run);
        }
    }
    let none_rs: Vec<&ReplicaSet> = Vec::new();
    let none_runs: Vec<&AnalysisRun> = Vec::new();
    let mut rows: Vec<RolloutRow> = rollouts
        .iter()
        .copied()
        .map(|ro| {
            let uid = uid_of(&ro.metadata);
            let rss = rs_by_owner.get(uid).unwrap_or(&none_rs);
            let runs = runs_by_owner.get(uid).unwrap_or(&none_runs);
            rollout_row_owned(cluster, ro, rss, runs, now)
        })
        .chain(deployments.iter().copied().map(|d| {
            let rss = rs_by_owner.get(uid_of(&d.metadata)).unwrap_or(&none_rs);
            deployment_row_owned(cluster, d, rss, now)
        }))
        .collect();
    sort_by_attention(&mut rows);
    rows
}

#[cfg(test)]
mod tests {
    //! Constructed objects mirroring the cases of upstream `utils/rollout/rolloututil_test.go`
    //! and `cmd/list/list_test.go`; the expected strings are the ones those tests assert.
    use super::*;
    use serde_json::json;

    fn canary(status: Value) -> Rollout {
        serde_json::from_value(json!({
            "metadata": {"name": "can-guestbook", "namespace": "test"},
            "spec": {"replicas": 5, "strategy": {"canary": {"steps": [
                {"setWeight": 10}, {"pause": {"duration": 60}}, {"setWeight": 20}
            ]}}},
            "status": status
        }))
        .unwrap()
    }

    fn blue_green(status: Value, post_analysis: bool) -> Rollout {
        let mut bg = json!({});
        if post_analysis {
            bg["postPromotionAnalysis"] = json!({});
        }
        serde_json::from_value(json!({
            "metadata": {"name": "bg-guestbook", "namespace": "test"},
            "spec": {"replicas": 5, "strategy": {"blueGreen": bg}},
            "status": status
        }))
        .unwrap()
    }

    fn base_status() -> Value {
        json!({"currentStepIndex": 1, "replicas": 4, "readyReplicas": 1,
               "updatedReplicas": 3, "availableReplicas": 2})
    }

    fn phase(ro: &Rollout) -> (String, String) {
        rollout_phase(ro)
    }

    #[test]
    fn list_test_canary_row() {
        // cmd/list/list_test.go TestListCanaryRollout: Canary Progressing 1/3 10 1/4 5 3 2
        let ro = canary(base_status());
        let row = rollout_row("c", &ro, &[], &[], Utc::now());
        assert_eq!(row.strategy, Strategy::Canary);
        assert_eq!(row.phase, "Progressing");
        assert_eq!(row.step.map(|s| s.to_string()).as_deref(), Some("1/3"));
        assert_eq!(row.set_weight, Some(10));
        assert_eq!(
            (row.replicas.ready, row.replicas.current),
            (1, 4),
            "READY 1/4"
        );
        assert_eq!(
            (
                row.replicas.desired,
                row.replicas.updated,
                row.replicas.available
            ),
            (5, 3, 2)
        );
    }

    #[test]
    fn list_test_blue_green_row() {
        // cmd/list/list_test.go TestListBlueGreenResource: BlueGreen Progressing - -
        let ro = blue_green(base_status(), false);
        let row = rollout_row("c", &ro, &[], &[], Utc::now());
        assert_eq!(row.strategy, Strategy::BlueGreen);
        assert_eq!(row.phase, "Progressing");
        assert_eq!(row.step, None);
        assert_eq!(row.set_weight, None);
    }

    #[test]
    fn rolloututil_degraded_and_paused() {
        let mut st = base_status();
        st["conditions"] = json!([{"type": "Progressing", "reason": "ProgressDeadlineExceeded",
                                    "message": "timed out"}]);
        assert_eq!(
            phase(&canary(st)),
            (
                "Degraded".into(),
                "ProgressDeadlineExceeded: timed out".into()
            )
        );
        let mut ro = canary(base_status());
        ro.spec.paused = true;
        assert_eq!(phase(&ro), ("Paused".into(), "manually paused".into()));
    }

    #[test]
    fn rolloututil_progressing_messages() {
        let cases = [
            (
                json!({"updatedReplicas": 4, "availableReplicas": 4, "replicas": 5}),
                "more replicas need to be updated",
            ),
            (
                json!({"updatedReplicas": 5, "availableReplicas": 4, "replicas": 5}),
                "updated replicas are still becoming available",
            ),
            (
                json!({"updatedReplicas": 5, "availableReplicas": 5, "replicas": 7}),
                "old replicas are pending termination",
            ),
        ];
        for (st, want) in cases {
            assert_eq!(phase(&canary(st)).1, want);
        }
        let full = json!({"replicas": 5, "updatedReplicas": 5, "availableReplicas": 5});
        let mut st = full.clone();
        st["blueGreen"] = json!({"activeSelector": "abc1234"});
        st["stableRS"] = json!("abc1234");
        st["currentPodHash"] = json!("def5678");
        assert_eq!(
            phase(&blue_green(st, false)).1,
            "active service cutover pending"
        );
        let mut st = full.clone();
        st["blueGreen"] = json!({"activeSelector": "def5678"});
        st["stableRS"] = json!("abc1234");
        st["currentPodHash"] = json!("def5678");
        assert_eq!(
            phase(&blue_green(st.clone(), true)).1,
            "waiting for analysis to complete"
        );
        assert_eq!(
            phase(&blue_green(st, false)).1,
            "waiting for post-promotion verification to complete"
        );
    }

    #[test]
    fn rolloututil_generation_observed() {
        // Numeric observedGeneration behind metadata.generation: not observed.
        let mut ro = canary(json!({"stableRS": "abc1234", "currentPodHash": "abc1234",
                                   "observedGeneration": "1"}));
        ro.metadata.generation = Some(2);
        ro.spec.replicas = None;
        assert_eq!(
            phase(&ro).1,
            "waiting for rollout spec update to be observed"
        );
        // A v0.9 hash, or an all-digit hash larger than the generation, counts as observed.
        for og in ["7d66d4485f", "1366344857"] {
            let mut ro = canary(json!({"stableRS": "abc1234", "currentPodHash": "abc1234",
                                       "observedGeneration": og}));
            ro.metadata.generation = Some(2);
            ro.spec.replicas = None;
            assert_eq!(phase(&ro).1, "more replicas need to be updated", "{og}");
        }
    }

    #[test]
    fn rolloututil_restart_and_healthy() {
        let healthy = json!({"replicas": 5, "updatedReplicas": 5, "availableReplicas": 5,
                             "readyReplicas": 5, "stableRS": "abc1234",
                             "currentPodHash": "abc1234"});
        assert_eq!(
            phase(&canary(healthy.clone())),
            ("Healthy".into(), String::new())
        );
        let mut ro = canary(healthy.clone());
        ro.spec.restart_at = Some(Utc::now());
        assert_eq!(phase(&ro).1, "rollout is restarting");
        let t = Utc::now();
        let mut st = healthy;
        st["restartedAt"] = json!(t.to_rfc3339());
        let mut ro = canary(st);
        ro.spec.restart_at = Some(t);
        assert_eq!(phase(&ro).0, "Healthy");
    }

    #[test]
    fn rolloututil_unpausing_overrides_controller_phase() {
        let st = json!({"phase": "Paused", "message": "canary pause", "controllerPause": true,
                        "pauseConditions": [{"reason": "CanaryPauseStep"}]});
        assert_eq!(
            phase(&canary(st.clone())),
            ("Paused".into(), "canary pause".into())
        );
        let mut st = st;
        st["pauseConditions"] = Value::Null;
        assert_eq!(
            phase(&canary(st)),
            (
                "Progressing".into(),
                "waiting for rollout to unpause".into()
            )
        );
    }

    #[test]
    fn set_weight_follows_the_steps() {
        let at = |i: i32, abort: bool| {
            current_set_weight(&canary(json!({"currentStepIndex": i, "abort": abort})))
        };
        assert_eq!(at(0, false), 10);
        assert_eq!(at(1, false), 10, "a pause keeps the previous weight");
        assert_eq!(at(2, false), 20);
        assert_eq!(at(3, false), 100, "after the last step");
        assert_eq!(at(1, true), 0, "aborted");
    }

    #[test]
    fn reasons_are_read_from_messages() {
        assert_eq!(
            reason_of("RolloutAborted: metric failed").as_deref(),
            Some("RolloutAborted")
        );
        assert_eq!(
            reason_of("CanaryPauseStep").as_deref(),
            Some("CanaryPauseStep")
        );
        assert_eq!(reason_of("manually paused"), None);
        assert_eq!(reason_of(""), None);
    }

    #[test]
    fn image_tags_are_short() {
        assert_eq!(image_tag("argoproj/rollouts-demo:blue"), "blue");
        assert_eq!(image_tag("localhost:5000/app"), "latest");
        assert_eq!(image_tag("nginx"), "latest");
        assert_eq!(
            image_tag("repo/app@sha256:0123456789abcdef0123"),
            "@0123456789ab"
        );
    }

    #[test]
    fn deployment_status_follows_kubectl() {
        let dep = |spec: Value, status: Value, generation: i64| -> Deployment {
            serde_json::from_value(json!({
                "metadata": {"name": "web", "namespace": "ns", "generation": generation},
                "spec": spec, "status": status
            }))
            .unwrap()
        };
        let st = |u: i32, r: i32, a: i32| {
            json!({"observedGeneration": 2, "updatedReplicas": u, "replicas": r,
                   "availableReplicas": a, "readyReplicas": a})
        };
        let spec = json!({"replicas": 3});
        let cases = [
            (
                st(1, 3, 3),
                2,
                "Progressing",
                "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been updated...",
            ),
            (
                st(3, 4, 3),
                2,
                "Progressing",
                "Waiting for deployment \"web\" rollout to finish: 1 old replicas are pending termination...",
            ),
            (
                st(3, 3, 2),
                2,
                "Progressing",
                "Waiting for deployment \"web\" rollout to finish: 2 of 3 updated replicas are available...",
            ),
            (
                st(3, 3, 3),
                2,
                "Healthy",
                "deployment \"web\" successfully rolled out",
            ),
            (
                st(3, 3, 3),
                3,
                "Progressing",
                "Waiting for deployment spec update to be observed...",
            ),
        ];
        for (status, generation, want_phase, want_msg) in cases {
            let (p, m, _) = deployment_phase(&dep(spec.clone(), status, generation));
            assert_eq!((p.as_str(), m.as_str()), (want_phase, want_msg));
        }
        let mut timed_out = st(1, 3, 3);
        timed_out["conditions"] = json!([{"type": "Progressing", "status": "False",
                                          "reason": "ProgressDeadlineExceeded"}]);
        let (p, m, r) = deployment_phase(&dep(spec.clone(), timed_out, 2));
        assert_eq!(p, "Degraded");
        assert_eq!(m, "deployment \"web\" exceeded its progress deadline");
        assert_eq!(r.as_deref(), Some("ProgressDeadlineExceeded"));
        let paused = dep(json!({"replicas": 3, "paused": true}), st(1, 3, 3), 2);
        assert_eq!(deployment_phase(&paused).0, "Paused");
    }

    fn named(name: &str, status: Value) -> Rollout {
        let mut ro = canary(status);
        ro.metadata.name = Some(name.into());
        ro
    }

    #[test]
    fn rows_needing_a_human_sort_first_and_stay_stable() {
        let healthy = json!({"replicas": 5, "updatedReplicas": 5, "availableReplicas": 5,
                             "stableRS": "a", "currentPodHash": "a", "currentStepIndex": 3});
        let progressing = json!({"replicas": 5, "updatedReplicas": 2, "availableReplicas": 5,
                                 "stableRS": "a", "currentPodHash": "b", "currentStepIndex": 0});
        let paused = json!({"phase": "Paused", "message": "CanaryPauseStep",
                            "pauseConditions": [{"reason": "CanaryPauseStep"}],
                            "controllerPause": true, "currentStepIndex": 1,
                            "stableRS": "a", "currentPodHash": "b"});
        let degraded = json!({"phase": "Degraded", "message": "RolloutAborted: x",
                              "abort": true, "stableRS": "a", "currentPodHash": "b"});
        let mut indefinite = named("paused-forever", paused.clone());
        indefinite
            .spec
            .strategy
            .canary
            .as_mut()
            .unwrap()
            .steps
            .as_mut()
            .unwrap()[1]
            .pause
            .as_mut()
            .unwrap()
            .duration = None;
        let rollouts = [
            named("healthy-1", healthy.clone()),
            named("progressing", progressing),
            named("timed-pause", paused),
            named("aborted", degraded),
            named("healthy-2", healthy),
            indefinite,
        ];
        let refs: Vec<&Rollout> = rollouts.iter().collect();
        let rows = build_rows("c", &refs, &[], &[], &[], Utc::now());
        let order: Vec<_> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            order,
            [
                "paused-forever",
                "aborted",
                "progressing",
                "timed-pause",
                "healthy-1",
                "healthy-2"
            ]
        );
        assert_eq!(rows[1].status, RowStatus::Aborted);
        assert!(rows[0].needs_attention() && rows[1].needs_attention());
        assert!(!rows[2].needs_attention());
    }

    #[test]
    fn a_rollout_without_status_says_so() {
        let ro: Rollout = serde_json::from_value(json!({
            "metadata": {"name": "new", "namespace": "ns", "generation": 1},
            "spec": {"strategy": {"canary": {}}}
        }))
        .unwrap();
        let row = rollout_row("c", &ro, &[], &[], Utc::now());
        assert_eq!(row.phase, "Progressing");
        assert_eq!(
            row.message,
            "waiting for rollout spec update to be observed"
        );
        assert!(row.problem.as_deref().unwrap_or("").contains("no status"));
        assert_eq!(row.step_age, None);
    }

    #[test]
    fn unreadable_objects_become_rows() {
        let raw = json!({"metadata": {"name": "x", "namespace": "ns"}, "spec": 7});
        let row = unreadable_row("c", WorkloadKind::Rollout, &raw, "spec: invalid type");
        assert_eq!(row.key(), "ns/x");
        assert_eq!(row.attention, Attention::Broken);
        assert!(row.message.contains("invalid type"));
    }

    #[test]
    fn step_age_uses_the_pause_start() {
        let t0 = DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let ro = canary(json!({
            "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2024-05-01T10:00:00Z"}],
            "conditions": [{"type": "Progressing", "status": "Unknown",
                            "lastUpdateTime": "2024-05-01T09:00:00Z"}]
        }));
        assert_eq!(step_since(&ro), Some(t0));
        let row = rollout_row("c", &ro, &[], &[], t0 + chrono::Duration::minutes(7));
        assert_eq!(row.step_age, Some(chrono::Duration::minutes(7)));
        // A clock behind the object never yields a negative age.
        let row = rollout_row("c", &ro, &[], &[], t0 - chrono::Duration::minutes(1));
        assert_eq!(row.step_age, Some(chrono::Duration::zero()));
    }
}
