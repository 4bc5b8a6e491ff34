//! Pod counting for the Clusters pane: how many pods are not ready, and the worst few for the
//! problems column.

use super::model::PodCounts;
use crate::cluster::ClusterHandle;
use crate::k8s::pod::Pod;
use crate::source::SourceState;

const WORST_SHOWN: usize = 3;

/// Why a pod is not ready, in kubectl's words (`CrashLoopBackOff`, `Pending` …).
#[must_use]
pub fn not_ready_reason(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    if phase == "Succeeded" || pod.is_ready() {
        return None;
    }
    let waiting = status.and_then(|s| {
        s.container_statuses
            .iter()
            .filter_map(|c| c.state.waiting.as_ref().and_then(|w| w.reason.as_deref()))
            .map(str::to_owned)
            .next()
    });
    Some(waiting.unwrap_or_else(|| phase.to_string()))
}

/// Counts the pods of a cluster (all the watch holds, which `-n` already limits).
#[must_use]
pub fn counts(c: &ClusterHandle) -> (Option<PodCounts>, SourceState) {
    let state = c.sources.state::<Pod>();
    let objects = c.sources.objects::<Pod>();
    if objects.is_empty() && !state.is_live() && !matches!(state, SourceState::Stale { .. }) {
        return (None, state);
    }
    let mut counts = PodCounts {
        total: objects.len(),
        ..PodCounts::default()
    };
    let mut failing: Vec<(u8, String, String)> = Vec::new();
    for p in &objects {
        match &p.0 {
            Ok(pod) => {
                if let Some(reason) = not_ready_reason(pod) {
                    counts.not_ready += 1;
                    // Crash loops and pull errors first: they will not fix themselves.
                    let rank = match reason.as_str() {
                        "CrashLoopBackOff" | "ImagePullBackOff" | "ErrImagePull" | "Failed" => 0,
                        "Pending" | "ContainerCreating" | "Running" => 2,
                        _ => 1,
                    };
                    failing.push((
                        rank,
                        format!(
                            "{}/{}",
                            pod.metadata.namespace.as_deref().unwrap_or(""),
                            pod.metadata.name.as_deref().unwrap_or("?")
                        ),
                        reason,
                    ));
                }
            }
            Err(e) => {
                counts.not_ready += 1;
                failing.push((
                    0,
                    e.metadata.name.clone().unwrap_or_default(),
                    "unreadable".into(),
                ));
            }
        }
    }
    failing.sort();
    counts.failing = failing
        .into_iter()
        .filter(|(rank, ..)| *rank < 2)
        .take(WORST_SHOWN)
        .map(|(_, n, r)| (n, r))
        .collect();
    (Some(counts), state)
}
