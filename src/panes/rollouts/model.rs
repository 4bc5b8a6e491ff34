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

use chrono::{DateTime, Utc};

pub use super::rows::*;
pub use super::status::*;
pub use super::template_ref::{Lookup, Referenced, TemplateSource, find_referenced, named};

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

    pub(crate) fn from_phase(phase: &str) -> Self {
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
    pub(crate) fn severity(&self) -> u8 {
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
    /// Where the pod template comes from, for a Rollout with `spec.workloadRef`.
    pub template: Option<TemplateSource>,
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

#[cfg(test)]
mod tests {
    //! Constructed objects mirroring the cases of upstream `utils/rollout/rolloututil_test.go`
    //! and `cmd/list/list_test.go`; the expected strings are the ones those tests assert.
    use super::*;
    use crate::k8s::apps::Deployment;
    use crate::k8s::rollout::Rollout;
    use serde_json::{Value, json};

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

    /// The rows the pane would show for these rollouts.
    fn rows_of(rollouts: &[&Rollout]) -> Vec<std::sync::Arc<RolloutRow>> {
        let objects = Objects {
            rollouts,
            ..Objects::default()
        };
        build_rows(
            "c",
            "c",
            &objects,
            Utc::now(),
            &mut crate::panes::kit::RowCache::default(),
        )
        .into_iter()
        .map(|(r, _)| r)
        .collect()
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
        let rows = rows_of(&refs);
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
