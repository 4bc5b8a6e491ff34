//! Argo Rollouts kinds as kdeck keeps them: Rollout, AnalysisRun, AnalysisTemplate and
//! ClusterAnalysisTemplate, with only the fields the Rollouts pane shows or its actions need.
//!
//! These are custom resources written by controllers of many versions (v0.2 to v1.x), so the
//! parsers are deliberately forgiving: `status.observedGeneration` may be a hash or a number,
//! hashes may be numbers, `status` may be missing, AnalysisRuns may use the legacy
//! `spec.analysisSpec`, canary steps of unknown kinds are kept by name. A `spec` or `status`
//! that still cannot be read becomes its default and the reason is kept in `malformed`, so one
//! odd object gives a row that says so instead of breaking the watch.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

pub use super::analysis::*;
pub use super::crd::{IntOrText, parse_go_duration};
use crate::k8s::apps::{Condition, TemplateSummary, annotation, lenient};
use crate::tolerant_crd;

/// API group of every Argo Rollouts kind.
pub const GROUP: &str = "argoproj.io";
/// API version of every Argo Rollouts kind.
pub const VERSION: &str = "v1alpha1";
/// Revision annotation on Rollouts, their ReplicaSets and AnalysisRuns.
pub const ROLLOUT_REVISION_ANNOTATION: &str = "rollout.argoproj.io/revision";
/// Generation of the referenced workload (`spec.workloadRef`), set by the controller.
pub const WORKLOAD_GENERATION_ANNOTATION: &str = "rollout.argoproj.io/workload-generation";
/// Experiment template a ReplicaSet belongs to.
pub const EXPERIMENT_TEMPLATE_ANNOTATION: &str = "experiment.argoproj.io/template-name";
/// When the controller may scale an old blue-green/canary ReplicaSet down (RFC 3339).
pub const SCALE_DOWN_DEADLINE_ANNOTATION: &str = "scale-down-deadline";
/// Label with the pod-template hash on a Rollout's ReplicaSets and pods.
pub const ROLLOUT_POD_TEMPLATE_HASH_LABEL: &str = "rollouts-pod-template-hash";
/// Annotations of a Rollout worth keeping in the store (see `slim_metadata`).
pub const ROLLOUT_KEEP_ANNOTATIONS: &[&str] =
    &[ROLLOUT_REVISION_ANNOTATION, WORKLOAD_GENERATION_ANNOTATION];
/// Annotations of an AnalysisRun worth keeping.
pub const ANALYSIS_RUN_KEEP_ANNOTATIONS: &[&str] = &[ROLLOUT_REVISION_ANNOTATION];
/// How many measurements per metric kdeck keeps (the newest); the controller keeps 10 by
/// default, so this only bounds memory for unusual retention settings.
pub const MAX_MEASUREMENTS_KEPT: usize = 20;

// ---------------------------------------------------------------------------------------------
// Rollout
// ---------------------------------------------------------------------------------------------

tolerant_crd!(
    /// `argoproj.io/v1alpha1` Rollout, slim.
    Rollout,
    RolloutSpec,
    RolloutStatus,
    GROUP,
    VERSION,
    "Rollout",
    "rollouts",
    NamespaceResourceScope
);

impl Rollout {
    /// The status, or an empty one when the controller has not written any.
    #[must_use]
    pub fn status_or_default(&self) -> std::borrow::Cow<'_, RolloutStatus> {
        match &self.status {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(RolloutStatus::default()),
        }
    }

    /// `spec.replicas`, defaulting to 1 as the controller does.
    #[must_use]
    pub fn desired_replicas(&self) -> i32 {
        self.spec.replicas.unwrap_or(1)
    }

    /// The canary steps (empty for blue-green or a canary without steps).
    #[must_use]
    pub fn canary_steps(&self) -> &[CanaryStep] {
        self.spec
            .strategy
            .canary
            .as_ref()
            .and_then(|c| c.steps.as_deref())
            .unwrap_or(&[])
    }

    /// The stable ReplicaSet hash: `status.stableRS`, or `status.canary.stableRS` written by
    /// pre-v0.8 controllers.
    #[must_use]
    pub fn stable_hash(&self) -> Option<&str> {
        let st = self.status.as_ref()?;
        st.stable_rs
            .as_deref()
            .or(st.canary.stable_rs.as_deref())
            .filter(|s| !s.is_empty())
    }

    /// The revision annotation, when present and numeric.
    #[must_use]
    pub fn revision(&self) -> Option<i64> {
        annotation(&self.metadata, ROLLOUT_REVISION_ANNOTATION).and_then(|v| v.trim().parse().ok())
    }

    /// The `rollout.argoproj.io/workload-generation` annotation: the generation of the
    /// `spec.workloadRef` workload the controller last saw (it patches it on every change of
    /// that workload), when present and numeric.
    #[must_use]
    pub fn workload_generation(&self) -> Option<i64> {
        annotation(&self.metadata, WORKLOAD_GENERATION_ANNOTATION)
            .and_then(|v| v.trim().parse().ok())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RolloutSpec {
    /// `None` means the default of 1.
    #[serde(deserialize_with = "lenient::opt_int")]
    pub replicas: Option<i32>,
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub paused: bool,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub restart_at: Option<DateTime<Utc>>,
    pub strategy: RolloutStrategy,
    /// Set when the pod template comes from another workload (`spec.template` is then empty).
    pub workload_ref: Option<WorkloadRef>,
    pub template: TemplateSummary,
    #[serde(deserialize_with = "lenient::opt_int")]
    pub progress_deadline_seconds: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkloadRef {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub api_version: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    /// `never`, `onsuccess` or `progressively`: whether (and when) the controller scales the
    /// referenced Deployment down (Argo Rollouts v1.4+); kept as written.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub scale_down: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RolloutStrategy {
    pub canary: Option<CanaryStrategy>,
    pub blue_green: Option<BlueGreenStrategy>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CanaryStrategy {
    /// `None` when the field is absent, `Some(vec![])` for `steps: []`.
    pub steps: Option<Vec<CanaryStep>>,
    pub traffic_routing: Option<TrafficRouting>,
    pub canary_service: Option<String>,
    pub stable_service: Option<String>,
    /// Background analysis.
    pub analysis: Option<RolloutAnalysis>,
}

/// Which traffic routers are configured (`istio`, `nginx`, `smi`, `alb`, `plugins`...).
#[derive(Debug, Clone, Default)]
pub struct TrafficRouting {
    pub providers: Vec<String>,
}

impl<'de> Deserialize<'de> for TrafficRouting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = Option::<BTreeMap<String, IgnoredAny>>::deserialize(d)?.unwrap_or_default();
        Ok(Self {
            providers: map.into_keys().collect(),
        })
    }
}

/// One canary step. Exactly one kind is normally set; kinds kdeck does not know are kept by
/// name in `other` so the steps list can still show them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStep {
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub set_weight: Option<i32>,
    #[serde(default)]
    pub pause: Option<RolloutPause>,
    #[serde(default)]
    pub analysis: Option<RolloutAnalysis>,
    #[serde(default)]
    pub experiment: Option<ExperimentStep>,
    #[serde(default)]
    pub set_canary_scale: Option<SetCanaryScale>,
    #[serde(default)]
    pub set_header_route: Option<NamedStep>,
    #[serde(default)]
    pub set_mirror_route: Option<NamedStep>,
    #[serde(default)]
    pub plugin: Option<NamedStep>,
    /// Step kinds kdeck does not know, by field name.
    #[serde(flatten)]
    pub other: BTreeMap<String, IgnoredAny>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RolloutPause {
    /// `None`: paused until promoted.
    pub duration: Option<IntOrText>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RolloutAnalysis {
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub templates: Vec<AnalysisTemplateRef>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub args: Vec<AnalysisArg>,
    #[serde(deserialize_with = "lenient::opt_int")]
    pub starting_step: Option<i32>,
    /// Pre-v0.9 single-template form.
    pub template_name: Option<String>,
}

impl RolloutAnalysis {
    /// Every referenced template, including the legacy single `templateName`.
    #[must_use]
    pub fn template_refs(&self) -> Vec<AnalysisTemplateRef> {
        let mut refs = self.templates.clone();
        if let Some(name) = &self.template_name
            && !refs
                .iter()
                .any(|r| &r.template_name == name && !r.cluster_scope)
        {
            refs.push(AnalysisTemplateRef {
                template_name: name.clone(),
                cluster_scope: false,
            });
        }
        refs
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct AnalysisTemplateRef {
    pub template_name: String,
    /// `true`: a ClusterAnalysisTemplate.
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub cluster_scope: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AnalysisArg {
    pub name: String,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExperimentStep {
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub templates: Vec<ExperimentTemplateRef>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub analyses: Vec<ExperimentAnalysisRef>,
    pub duration: Option<IntOrText>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExperimentTemplateRef {
    pub name: String,
    pub spec_ref: Option<String>,
    #[serde(deserialize_with = "lenient::opt_int")]
    pub replicas: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExperimentAnalysisRef {
    pub name: String,
    pub template_name: String,
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub cluster_scope: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SetCanaryScale {
    #[serde(deserialize_with = "lenient::opt_int")]
    pub weight: Option<i32>,
    #[serde(deserialize_with = "lenient::opt_int")]
    pub replicas: Option<i32>,
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub match_traffic_weight: bool,
}

/// A step whose only shown detail is a name (`setHeaderRoute`, `setMirrorRoute`, `plugin`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NamedStep {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BlueGreenStrategy {
    pub active_service: Option<String>,
    pub preview_service: Option<String>,
    /// `None` means the default (`true`).
    pub auto_promotion_enabled: Option<bool>,
    #[serde(deserialize_with = "lenient::opt_int")]
    pub auto_promotion_seconds: Option<i32>,
    #[serde(deserialize_with = "lenient::opt_int")]
    pub scale_down_delay_seconds: Option<i32>,
    pub pre_promotion_analysis: Option<RolloutAnalysis>,
    pub post_promotion_analysis: Option<RolloutAnalysis>,
}

/// `status.observedGeneration`: a number (v0.10+, written as a string or number) or a pod
/// template hash (v0.9 and older).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObservedGeneration {
    Number(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for ObservedGeneration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Number(n) => match n.as_i64() {
                Some(i) => Self::Number(i),
                None => Self::Text(n.to_string()),
            },
            Value::String(s) => Self::Text(s),
            other => Self::Text(other.to_string()),
        })
    }
}

impl ObservedGeneration {
    /// The value as Go's `strconv.Atoi` reads it: `None` for a hash.
    #[must_use]
    pub fn as_number(&self) -> Option<i64> {
        match self {
            Self::Number(n) => Some(*n),
            Self::Text(s) => s.parse().ok(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RolloutStatus {
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub abort: bool,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub aborted_at: Option<DateTime<Utc>>,
    /// `None` when absent, `Some(vec![])` for an explicit empty list (Argo CD's rules
    /// distinguish the two).
    pub pause_conditions: Option<Vec<PauseCondition>>,
    /// Pre-v0.6 pause marker.
    #[serde(deserialize_with = "lenient::opt_time")]
    pub pause_start_time: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub controller_pause: bool,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub current_pod_hash: Option<String>,
    #[serde(rename = "stableRS", deserialize_with = "lenient::opt_string")]
    pub stable_rs: Option<String>,
    #[serde(deserialize_with = "lenient::opt_int")]
    pub current_step_index: Option<i32>,
    pub observed_generation: Option<ObservedGeneration>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub workload_observed_generation: Option<String>,
    /// Controller-computed phase (v1.0+): `Healthy`, `Progressing`, `Paused`, `Degraded`.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub phase: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub message: Option<String>,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub replicas: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub ready_replicas: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub updated_replicas: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub available_replicas: i32,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub restarted_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient::bool_or_false")]
    pub promote_full: bool,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub conditions: Vec<Condition>,
    pub canary: CanaryStatus,
    pub blue_green: BlueGreenStatus,
}

impl RolloutStatus {
    /// The pause conditions (empty when absent).
    #[must_use]
    pub fn pauses(&self) -> &[PauseCondition] {
        self.pause_conditions.as_deref().unwrap_or(&[])
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PauseCondition {
    /// `CanaryPauseStep`, `BlueGreenPause`, `InconclusiveAnalysisRun`,
    /// `InconclusiveExperiment`, ... (kept as text).
    pub reason: String,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub start_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CanaryStatus {
    /// Traffic weights the router reports (only with traffic routing).
    pub weights: Option<TrafficWeights>,
    pub current_step_analysis_run_status: Option<AnalysisRunRef>,
    pub current_background_analysis_run_status: Option<AnalysisRunRef>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub current_experiment: Option<String>,
    /// Pre-v0.8 location of the stable hash.
    #[serde(rename = "stableRS", deserialize_with = "lenient::opt_string")]
    pub stable_rs: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TrafficWeights {
    pub canary: WeightDestination,
    pub stable: WeightDestination,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub additional: Vec<WeightDestination>,
    pub verified: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WeightDestination {
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub weight: i32,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub pod_template_hash: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub service_name: Option<String>,
}

/// The controller's pointer to an AnalysisRun it is waiting on.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AnalysisRunRef {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    /// The run's phase.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub status: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BlueGreenStatus {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub active_selector: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub preview_selector: Option<String>,
    pub pre_promotion_analysis_run_status: Option<AnalysisRunRef>,
    pub post_promotion_analysis_run_status: Option<AnalysisRunRef>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_durations_parse_like_time_parse_duration() {
        let cases = [
            ("10s", 10_000),
            ("1m30s", 90_000),
            ("1.5h", 5_400_000),
            ("300ms", 300),
            ("0", 0),
            ("-2m", -120_000),
        ];
        for (text, millis) in cases {
            assert_eq!(
                parse_go_duration(text).map(|d| d.num_milliseconds()),
                Some(millis),
                "{text}"
            );
        }
        for bad in ["", "10", "1x", "h", "1.2.3s"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
        assert_eq!(
            IntOrText::Text("15".into()).as_duration(),
            Some(chrono::Duration::seconds(15))
        );
        assert_eq!(
            IntOrText::Int(20).as_duration(),
            Some(chrono::Duration::seconds(20))
        );
    }

    #[test]
    fn observed_generation_is_a_number_or_a_hash() {
        let ro: Rollout = serde_json::from_value(json!({
            "metadata": {"name": "a"},
            "status": {"observedGeneration": 7, "stableRS": 123456, "currentPodHash": "123456"}
        }))
        .unwrap();
        let st = ro.status.as_ref().unwrap();
        assert_eq!(st.observed_generation, Some(ObservedGeneration::Number(7)));
        assert_eq!(st.stable_rs.as_deref(), Some("123456"));
        let ro: Rollout = serde_json::from_value(json!({
            "metadata": {"name": "a"},
            "status": {"observedGeneration": "7d66d4485f"}
        }))
        .unwrap();
        let og = ro.status.unwrap().observed_generation.unwrap();
        assert_eq!(og.as_number(), None);
    }

    #[test]
    fn a_bad_section_is_reported_not_fatal() {
        let ro: Rollout = serde_json::from_value(json!({
            "metadata": {"name": "odd", "namespace": "ns"},
            "spec": {"strategy": {"canary": {"steps": "not-a-list"}}},
            "status": {"phase": "Healthy"}
        }))
        .unwrap();
        assert_eq!(ro.metadata.name.as_deref(), Some("odd"));
        assert!(ro.malformed.as_deref().unwrap_or("").starts_with("spec:"));
        assert_eq!(ro.status.unwrap().phase.as_deref(), Some("Healthy"));
    }

    #[test]
    fn unknown_step_kinds_are_kept_by_name() {
        let ro: Rollout = serde_json::from_value(json!({
            "metadata": {"name": "a"},
            "spec": {"strategy": {"canary": {"steps": [
                {"setWeight": 5},
                {"pause": {"duration": 30}},
                {"pause": {}},
                {"someFutureStep": {"x": 1}}
            ]}}}
        }))
        .unwrap();
        let steps = ro.canary_steps();
        assert_eq!(steps.len(), 4);
        assert_eq!(steps[0].set_weight, Some(5));
        assert_eq!(
            steps[1].pause.as_ref().unwrap().duration,
            Some(IntOrText::Int(30))
        );
        assert!(steps[2].pause.as_ref().unwrap().duration.is_none());
        assert_eq!(
            steps[3].other.keys().cloned().collect::<Vec<_>>(),
            vec!["someFutureStep".to_string()]
        );
    }

    #[test]
    fn legacy_analysis_spec_metrics_are_read() {
        let run: AnalysisRun = serde_json::from_value(json!({
            "metadata": {"name": "r"},
            "spec": {"analysisSpec": {"metrics": [{
                "name": "m", "provider": {"prometheus": {"query": "up"}}
            }]}}
        }))
        .unwrap();
        assert_eq!(run.spec.metrics.len(), 1);
        assert_eq!(run.spec.metrics[0].provider.kinds, vec!["prometheus"]);
        assert_eq!(
            run.spec.metrics[0]
                .provider
                .prometheus
                .as_ref()
                .and_then(|p| p.query.as_deref()),
            Some("up")
        );
    }

    #[test]
    fn measurements_are_capped_to_the_newest() {
        let ms: Vec<_> = (0..30)
            .map(|i| json!({"phase": "Successful", "value": i}))
            .collect();
        let run: AnalysisRun = serde_json::from_value(json!({
            "metadata": {"name": "r"},
            "status": {"metricResults": [{"name": "m", "measurements": ms}]}
        }))
        .unwrap();
        let kept = &run.status.unwrap().metric_results[0].measurements;
        assert_eq!(kept.len(), MAX_MEASUREMENTS_KEPT);
        assert_eq!(kept[0].value.as_deref(), Some("10"));
        assert_eq!(kept.last().unwrap().value.as_deref(), Some("29"));
    }
}
