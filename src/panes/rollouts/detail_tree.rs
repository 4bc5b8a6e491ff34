//! The steps of a canary with the current one marked, the pause and how long it has lasted,
//! and the revision → ReplicaSet → pod tree of `kubectl argo rollouts get rollout`
//! (`info/replicaset_info.go` health and tags, `pod_info.go` status, ready and restarts).

use chrono::{DateTime, Utc};

use crate::k8s::apps::{ReplicaSet, annotation, created_at, find_condition};
use crate::k8s::pod::Pod;
use crate::k8s::rollout::{CanaryStep, IntOrText, Rollout, SCALE_DOWN_DEADLINE_ANNOTATION};
use crate::panes::rollouts::model::current_canary_step;

use super::detail::*;

pub(crate) fn duration_text(d: &IntOrText) -> String {
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
        .as_deref()
        .filter(|r| !r.is_empty())
        .or(st.phase.as_deref())
        .unwrap_or_default()
        .to_string();
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
        node: pod.spec.node_name.as_deref().map(str::to_owned),
        age: created_at(&pod.metadata).map(|c| (now - c).max(chrono::Duration::zero())),
    }
}

pub(crate) fn pods_of(rs: &ReplicaSet, pods: &[Pod], now: DateTime<Utc>) -> Vec<PodLine> {
    let uid = rs.metadata.uid.as_deref().unwrap_or("");
    let mut mine: Vec<&Pod> = pods
        .iter()
        .filter(|p| !uid.is_empty() && p.is_owned_by(uid))
        .collect();
    mine.sort_by(|a, b| {
        created_at(&a.metadata)
            .cmp(&created_at(&b.metadata))
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
    mine.into_iter().map(|p| pod_line(p, now)).collect()
}

pub(crate) fn rs_node(
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
pub(crate) fn revision_tree(
    mut nodes: Vec<ReplicaSetNode>,
    runs: &[(i64, String)],
) -> Vec<RevisionNode> {
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
