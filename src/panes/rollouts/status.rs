//! The upstream status rules the Rollouts rows are computed with: phase and message as
//! `kubectl argo rollouts` computes them (`utils/rollout/rolloututil.go`), set weight, the
//! roles of ReplicaSets and the images they run (`info/rollout_info.go`), the age of the
//! current step, and the summary of the latest analysis. Pure functions over slim objects.

use chrono::{DateTime, Utc};

use super::model::{AnalysisPhase, AnalysisSummary, ImageInfo};
use crate::k8s::apps::{ReplicaSet, created_at, find_condition};
use crate::k8s::rollout::{
    AnalysisRun, AnalysisRunRef, CanaryStep, ROLLOUT_POD_TEMPLATE_HASH_LABEL, Rollout,
};

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
pub(crate) fn merge_images<'a>(
    pairs: impl IntoIterator<Item = (String, Vec<&'a str>)>,
) -> Vec<ImageInfo> {
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

pub(crate) fn tags_with(images: &[ImageInfo], wanted: &[&str], excluded: &[&str]) -> Vec<String> {
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

pub(crate) fn age(now: DateTime<Utc>, since: Option<DateTime<Utc>>) -> Option<chrono::Duration> {
    since.map(|s| (now - s).max(chrono::Duration::zero()))
}

/// Sort key for "latest": revision, then creation time, then name.
pub(crate) fn run_recency(run: &AnalysisRun) -> (i64, Option<DateTime<Utc>>, &str) {
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
