//! `[queries.breakers]`: the PromQL the Circuit-breakers pane runs, with defaults that work on
//! a default Istio install (`istio_requests_total` and its duration histogram, counted at
//! `reporter="source"`, where a breaker's 503s are seen) plus Envoy's cluster stats where the
//! proxies export them. Every template can be replaced in `config.toml`.
//!
//! The list queries run once per cluster for every service at once (one answer per
//! `destination_service_name`/`destination_service_namespace`, or per Envoy `cluster_name`
//! `outbound|PORT|SUBSET|HOST`), so their cost does not grow with the number of rows. The
//! detail queries are ranges over the last half hour for one service: `{service}` and
//! `{namespace}` are its name and namespace, `{cluster_host}` a regular expression for the
//! HOST part of its Envoy cluster names.

use serde::Deserialize;

/// The Circuit-breakers pane's PromQL templates.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerQueries {
    /// Breaker 503s in the last 5 minutes by `response_flags` (UO, UH, URX) per service.
    pub trips: String,
    /// Requests per second per service.
    pub requests: String,
    /// 5xx answers per second per service (success rate = 1 - errors/requests).
    pub errors: String,
    /// Median latency (ms) per service.
    pub latency_p50: String,
    /// p99 latency (ms) per service.
    pub latency_p99: String,
    /// Envoy gauges per `cluster_name` (`__name__` kept): hosts ejected now
    /// (`..._outlier_detection_ejections_active`) and hosts in the pool
    /// (`..._membership_total`). Empty where the proxies do not export them.
    pub envoy: String,
    /// One service's requests per second by caller, version, code and flags.
    pub detail_requests: String,
    /// One service's p99 latency by caller.
    pub detail_p99_callers: String,
    /// One service's p99 latency by `destination_version` (subsets).
    pub detail_p99_versions: String,
    /// One service's Envoy gauges per `cluster_name` (`__name__` kept): ejected and total
    /// hosts, pending requests, active requests and connections.
    pub detail_envoy: String,
    /// One service's pending-queue overflows (503 UO) per second per `cluster_name`.
    pub detail_overflow: String,
    /// One service's retry-budget overflows (503 URX) per second per `cluster_name`.
    pub detail_retry_overflow: String,
}

const BY_SERVICE: &str = "destination_service_name, destination_service_namespace";
const SERVICE: &str =
    "destination_service_name=\"{service}\",destination_service_namespace=\"{namespace}\"";
const CLUSTER: &str = "cluster_name=~\"outbound\\\\|[0-9]+\\\\|[^|]*\\\\|{cluster_host}\"";

impl Default for BreakerQueries {
    fn default() -> Self {
        let quantile = |q: &str, by: &str, filter: &str, window: &str| {
            format!(
                "histogram_quantile({q}, sum by ({by}, le) (rate(istio_request_duration_milliseconds_bucket{{reporter=\"source\"{filter}}}[{window}])))"
            )
        };
        Self {
            trips: format!(
                "sum by ({BY_SERVICE}, response_flags) (increase(istio_requests_total{{reporter=\"source\",response_code=\"503\",response_flags=~\"UO|UH|URX\"}}[5m]))"
            ),
            requests: format!(
                "sum by ({BY_SERVICE}) (rate(istio_requests_total{{reporter=\"source\"}}[5m]))"
            ),
            errors: format!(
                "sum by ({BY_SERVICE}) (rate(istio_requests_total{{reporter=\"source\",response_code=~\"5..\"}}[5m]))"
            ),
            latency_p50: quantile("0.5", BY_SERVICE, "", "5m"),
            latency_p99: quantile("0.99", BY_SERVICE, "", "5m"),
            envoy: "max by (__name__, cluster_name) ({__name__=~\"envoy_cluster_(outlier_detection_ejections_active|membership_total)\"})".into(),
            detail_requests: format!(
                "sum by (source_workload, source_workload_namespace, destination_version, response_code, response_flags) (rate(istio_requests_total{{reporter=\"source\",{SERVICE}}}[1m]))"
            ),
            detail_p99_callers: quantile(
                "0.99",
                "source_workload, source_workload_namespace",
                &format!(",{SERVICE}"),
                "1m",
            ),
            detail_p99_versions: quantile(
                "0.99",
                "destination_version",
                &format!(",{SERVICE}"),
                "1m",
            ),
            detail_envoy: format!(
                "max by (__name__, cluster_name) ({{__name__=~\"envoy_cluster_(outlier_detection_ejections_active|membership_total|upstream_rq_pending_active|upstream_rq_active|upstream_cx_active)\",{CLUSTER}}})"
            ),
            detail_overflow: format!(
                "sum by (cluster_name) (rate(envoy_cluster_upstream_rq_pending_overflow{{{CLUSTER}}}[1m]))"
            ),
            detail_retry_overflow: format!(
                "sum by (cluster_name) (rate(envoy_cluster_upstream_rq_retry_overflow{{{CLUSTER}}}[1m]))"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_read_as_written_and_one_can_be_replaced() {
        let q = BreakerQueries::default();
        assert_eq!(
            q.trips,
            r#"sum by (destination_service_name, destination_service_namespace, response_flags) (increase(istio_requests_total{reporter="source",response_code="503",response_flags=~"UO|UH|URX"}[5m]))"#
        );
        assert_eq!(
            q.detail_overflow,
            r#"sum by (cluster_name) (rate(envoy_cluster_upstream_rq_pending_overflow{cluster_name=~"outbound\\|[0-9]+\\|[^|]*\\|{cluster_host}"}[1m]))"#
        );
        let c = crate::config::Config::parse(
            "[queries.breakers]\ntrips = \"sum(up)\"\n",
            "config.toml",
        )
        .unwrap();
        assert_eq!(c.queries.breakers.trips, "sum(up)");
        assert_eq!(
            c.queries.breakers.requests, q.requests,
            "the rest stay default"
        );
        let err = crate::config::Config::parse("[queries.breakers]\ntrip = \"x\"\n", "c")
            .unwrap_err()
            .to_string();
        assert!(err.contains("trip"), "{err}");
    }
}
