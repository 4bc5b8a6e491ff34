//! `[fleet]`: one metrics endpoint for every cluster — a Thanos Query, Mimir, Cortex (or any
//! Prometheus-compatible API) holding all clusters' series under one label. kdeck asks it once
//! per refresh for all clusters (queries grouped by that label) and maps each label value to a
//! kubeconfig context; clusters it reports that kdeck does not watch still get a row.
//!
//! ```toml
//! [fleet]
//! prometheus_url = "https://thanos-query.example.com"   # Mimir: ".../prometheus"
//! cluster_label = "cluster"
//! headers = { "X-Scope-OrgID" = "ops" }                  # e.g. a Mimir tenant
//! [fleet.contexts]                                       # label value → context, if they differ
//! "prod-eu-1" = "gke_acme_europe-west1_prod-eu-1"
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

/// Node readiness per cluster (kube-state-metrics): nodes whose `Ready` condition is true.
pub const DEFAULT_NODES_READY: &str =
    "sum by ({cluster_label}) (kube_node_status_condition{condition=\"Ready\",status=\"true\"})";
/// Nodes per cluster.
pub const DEFAULT_NODES: &str = "count by ({cluster_label}) (kube_node_info)";
/// Pods that should run but are not ready (pending or running, `Ready` not true), per cluster.
pub const DEFAULT_PODS_NOT_READY: &str = "sum by ({cluster_label}) ((kube_pod_status_ready{condition!=\"true\"} == 1) and on ({cluster_label}, namespace, pod) (kube_pod_status_phase{phase=~\"Pending|Running|Unknown\"} == 1))";
/// Pods per cluster.
pub const DEFAULT_PODS: &str = "count by ({cluster_label}) (kube_pod_info)";
/// Firing alerts per cluster, alert and severity (the `ALERTS` series every Prometheus rule
/// evaluator writes, which the aggregation layer holds with the cluster label).
pub const DEFAULT_ALERTS: &str =
    "count by ({cluster_label}, alertname, severity) (ALERTS{alertstate=\"firing\"})";

/// The fleet metrics endpoint; off unless `prometheus_url` is set.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FleetConfig {
    /// Base URL of the Prometheus HTTP API (`…/api/v1/query` is appended).
    pub prometheus_url: Option<String>,
    /// The label that names the cluster in every series.
    pub cluster_label: String,
    /// Label value → kubeconfig context, where they differ (otherwise the value is the
    /// context name).
    pub contexts: BTreeMap<String, String>,
    /// Extra request headers (a tenant, an authorization header).
    pub headers: BTreeMap<String, String>,
    /// How often the fleet's numbers refresh.
    pub interval_secs: u64,
    pub timeout_secs: u64,
    pub queries: FleetQueries,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            prometheus_url: None,
            cluster_label: "cluster".into(),
            contexts: BTreeMap::new(),
            headers: BTreeMap::new(),
            interval_secs: 30,
            timeout_secs: 10,
            queries: FleetQueries::default(),
        }
    }
}

/// PromQL the fleet endpoint answers; `{cluster_label}` is replaced by the configured label.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FleetQueries {
    pub nodes_ready: String,
    pub nodes: String,
    pub pods_not_ready: String,
    pub pods: String,
    pub alerts: String,
}

impl Default for FleetQueries {
    fn default() -> Self {
        Self {
            nodes_ready: DEFAULT_NODES_READY.into(),
            nodes: DEFAULT_NODES.into(),
            pods_not_ready: DEFAULT_PODS_NOT_READY.into(),
            pods: DEFAULT_PODS.into(),
            alerts: DEFAULT_ALERTS.into(),
        }
    }
}

impl FleetConfig {
    /// The context a label value stands for.
    #[must_use]
    pub fn context_of<'a>(&'a self, label_value: &'a str) -> &'a str {
        self.contexts
            .get(label_value)
            .map_or(label_value, String::as_str)
    }

    /// A query with the cluster label filled in.
    #[must_use]
    pub fn query(&self, template: &str) -> String {
        template.replace("{cluster_label}", &self.cluster_label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_label_values_and_fills_the_label() {
        let c: FleetConfig = toml::from_str(
            "prometheus_url = \"http://thanos:9090\"\ncluster_label = \"k8s_cluster\"\n\
             [contexts]\n\"prod-eu\" = \"gke_prod_eu\"\n",
        )
        .unwrap();
        assert_eq!(c.context_of("prod-eu"), "gke_prod_eu");
        assert_eq!(c.context_of("dev"), "dev");
        assert_eq!(
            c.query(DEFAULT_NODES),
            "count by (k8s_cluster) (kube_node_info)"
        );
        assert!(toml::from_str::<FleetConfig>("prometheus_ulr = \"x\"").is_err());
    }
}
