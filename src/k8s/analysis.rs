//! Argo Rollouts analysis kinds as kdeck keeps them: AnalysisRun (each metric's newest
//! measurements and phase), AnalysisTemplate and ClusterAnalysisTemplate (their metrics'
//! queries and conditions), read as tolerantly as the Rollout itself.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::crd::{IntOrText, NoStatus};
use super::rollout::{
    AnalysisArg, GROUP, MAX_MEASUREMENTS_KEPT, ROLLOUT_REVISION_ANNOTATION, VERSION,
};
use crate::k8s::apps::{annotation, lenient};
use crate::tolerant_crd;

/// One metric of an AnalysisRun or AnalysisTemplate.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Metric {
    pub name: String,
    pub interval: Option<IntOrText>,
    pub initial_delay: Option<IntOrText>,
    pub count: Option<IntOrText>,
    pub failure_limit: Option<IntOrText>,
    pub inconclusive_limit: Option<IntOrText>,
    pub consecutive_error_limit: Option<IntOrText>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub success_condition: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub failure_condition: Option<String>,
    pub provider: MetricProvider,
}

/// Which provider a metric uses, and for Prometheus its query.
#[derive(Debug, Clone, Default)]
pub struct MetricProvider {
    /// Provider kinds by field name (`prometheus`, `job`, `web`, `datadog`, `plugin`...).
    pub kinds: Vec<String>,
    pub prometheus: Option<PrometheusProvider>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PrometheusProvider {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub address: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub query: Option<String>,
}

impl<'de> Deserialize<'de> for MetricProvider {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = Option::<serde_json::Map<String, Value>>::deserialize(d)?.unwrap_or_default();
        let prometheus = map
            .get("prometheus")
            .and_then(|v| serde_json::from_value::<PrometheusProvider>(v.clone()).ok());
        Ok(Self {
            kinds: map.keys().cloned().collect(),
            prometheus,
        })
    }
}

tolerant_crd!(
    /// `argoproj.io/v1alpha1` AnalysisRun, slim.
    AnalysisRun,
    AnalysisRunSpec,
    AnalysisRunStatus,
    GROUP,
    VERSION,
    "AnalysisRun",
    "analysisruns",
    NamespaceResourceScope
);

impl AnalysisRun {
    /// The revision annotation of the rollout revision this run belongs to.
    #[must_use]
    pub fn revision(&self) -> Option<i64> {
        annotation(&self.metadata, ROLLOUT_REVISION_ANNOTATION).and_then(|v| v.trim().parse().ok())
    }

    /// The run's phase (`Pending`, `Running`, `Successful`, `Failed`, `Error`,
    /// `Inconclusive`), empty when not yet reconciled.
    #[must_use]
    pub fn phase(&self) -> &str {
        self.status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .unwrap_or("")
    }
}

/// The spec of an AnalysisRun: its metrics come from `spec.metrics` or, for runs created by
/// old controllers, from `spec.analysisSpec.metrics`.
#[derive(Debug, Clone, Default)]
pub struct AnalysisRunSpec {
    pub metrics: Vec<Metric>,
    pub terminate: bool,
    pub args: Vec<AnalysisArg>,
}

impl<'de> Deserialize<'de> for AnalysisRunSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Legacy {
            #[serde(deserialize_with = "lenient::vec_or_empty")]
            metrics: Vec<Metric>,
        }
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "camelCase", default)]
        struct SpecWire {
            metrics: Option<Vec<Metric>>,
            analysis_spec: Option<Legacy>,
            #[serde(deserialize_with = "lenient::bool_or_false")]
            terminate: bool,
            #[serde(deserialize_with = "lenient::vec_or_empty")]
            args: Vec<AnalysisArg>,
        }
        let w = SpecWire::deserialize(d)?;
        let metrics = match (w.metrics, w.analysis_spec) {
            (Some(m), _) if !m.is_empty() => m,
            (_, Some(legacy)) => legacy.metrics,
            (m, None) => m.unwrap_or_default(),
        };
        Ok(Self {
            metrics,
            terminate: w.terminate,
            args: w.args,
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AnalysisRunStatus {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub phase: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub message: Option<String>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub metric_results: Vec<MetricResult>,
    pub run_summary: Option<RunSummary>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RunSummary {
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub count: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub successful: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub failed: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub inconclusive: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub error: i32,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MetricResult {
    pub name: String,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub phase: Option<String>,
    /// The newest [`MAX_MEASUREMENTS_KEPT`] measurements, oldest first.
    #[serde(deserialize_with = "newest_measurements")]
    pub measurements: Vec<Measurement>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub message: Option<String>,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub count: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub successful: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub failed: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub inconclusive: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub error: i32,
    #[serde(deserialize_with = "lenient::int_or_zero")]
    pub consecutive_error: i32,
}

fn newest_measurements<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Measurement>, D::Error> {
    let mut all: Vec<Measurement> = lenient::vec_or_empty(d)?;
    if all.len() > MAX_MEASUREMENTS_KEPT {
        all.drain(..all.len() - MAX_MEASUREMENTS_KEPT);
    }
    Ok(all)
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Measurement {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub phase: Option<String>,
    /// The measured value as the provider reported it (Prometheus: `[0.97]` for a vector).
    #[serde(deserialize_with = "lenient::opt_string")]
    pub value: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub message: Option<String>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "lenient::opt_time")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Provider metadata, e.g. `job-name` for Job metrics.
    #[serde(deserialize_with = "opt_string_map")]
    pub metadata: BTreeMap<String, String>,
}

fn opt_string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let m = Option::<serde_json::Map<String, Value>>::deserialize(d)?.unwrap_or_default();
    Ok(m.into_iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k, s)),
            Value::Null => None,
            other => Some((k, other.to_string())),
        })
        .collect())
}

/// The spec shared by AnalysisTemplate and ClusterAnalysisTemplate.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AnalysisTemplateSpec {
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub metrics: Vec<Metric>,
    #[serde(deserialize_with = "lenient::vec_or_empty")]
    pub args: Vec<AnalysisArg>,
}

tolerant_crd!(
    /// `argoproj.io/v1alpha1` AnalysisTemplate, slim.
    AnalysisTemplate,
    AnalysisTemplateSpec,
    NoStatus,
    GROUP,
    VERSION,
    "AnalysisTemplate",
    "analysistemplates",
    NamespaceResourceScope
);

tolerant_crd!(
    /// `argoproj.io/v1alpha1` ClusterAnalysisTemplate, slim (same spec as AnalysisTemplate).
    ClusterAnalysisTemplate,
    AnalysisTemplateSpec,
    NoStatus,
    GROUP,
    VERSION,
    "ClusterAnalysisTemplate",
    "clusteranalysistemplates",
    ClusterResourceScope
);
