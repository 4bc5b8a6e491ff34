//! Istio's DestinationRule and VirtualService (`networking.istio.io`) as the Circuit-breakers
//! pane keeps them: the connection-pool limits, outlier detection, subsets and per-port
//! overrides of a rule, and the retries and timeouts of the routes of a virtual service.
//! Every field is optional and read leniently (a number written as a string still counts, an
//! odd value is dropped, never the object), since hand-written mesh config is full of both.
//!
//! Istio serves the same objects as `v1`, `v1beta1` and `v1alpha3`; the `v1` types are read
//! through their `v1` path, and [`V1beta1`] reads the same objects on clusters whose Istio is
//! too old to serve `v1` (before 1.22). The watch of a `V1beta1` kind stands by while the
//! cluster serves `v1`, so no object is listed twice.

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::k8s::crd::NoStatus;
use crate::tolerant_crd;

pub const GROUP: &str = "networking.istio.io";
pub const VERSION: &str = "v1";

tolerant_crd!(
    /// `networking.istio.io/v1` DestinationRule, slim.
    DestinationRule,
    DestinationRuleSpec,
    NoStatus,
    GROUP,
    VERSION,
    "DestinationRule",
    "destinationrules",
    NamespaceResourceScope
);

tolerant_crd!(
    /// `networking.istio.io/v1` VirtualService, slim.
    VirtualService,
    VirtualServiceSpec,
    NoStatus,
    GROUP,
    VERSION,
    "VirtualService",
    "virtualservices",
    NamespaceResourceScope
);

/// A `v1` kind read at `v1beta1`: the same objects, for clusters that serve no `v1` yet. Its
/// `kube::Resource` is the wrapped kind's at version `v1beta1`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct V1beta1<K>(pub K);

impl<K> std::ops::Deref for V1beta1<K> {
    type Target = K;
    fn deref(&self) -> &K {
        &self.0
    }
}

impl<K: kube::Resource<DynamicType = ()>> kube::Resource for V1beta1<K> {
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        K::group(dt)
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1beta1".into()
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        K::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        self.0.meta()
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.0.meta_mut()
    }
}

/// A count as Istio's protos hold them (`uint32`, `int32` or a nullable wrapper): a number,
/// or a number written as a string; anything else (negative, fractional, text) is dropped.
fn opt_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 1e19)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A string (a duration such as `10s`, a host); numbers are kept as written.
fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// A list, or nothing when the field holds something else.
fn lenient_list<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
        _ => Vec::new(),
    })
}

/// A list of strings, skipping anything that is not one.
fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    })
}

/// A map of strings (subset labels), skipping values that are not strings.
fn string_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Object(m) => m
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
            .collect(),
        _ => std::collections::BTreeMap::new(),
    })
}

/// `spec` of a DestinationRule.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DestinationRuleSpec {
    /// The service the rule is for: a short name (relative to the rule's namespace), an FQDN,
    /// a wildcard (`*.example.com`) or an external host.
    #[serde(deserialize_with = "opt_text")]
    pub host: Option<String>,
    pub traffic_policy: Option<TrafficPolicy>,
    #[serde(deserialize_with = "lenient_list")]
    pub subsets: Vec<Subset>,
}

/// The policies of a rule, or of one subset.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TrafficPolicy {
    pub connection_pool: Option<ConnectionPool>,
    pub outlier_detection: Option<OutlierDetection>,
    /// Overrides for single ports (each replaces the whole policy for its port).
    #[serde(deserialize_with = "lenient_list")]
    pub port_level_settings: Vec<PortTrafficPolicy>,
}

/// A policy for one port.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PortTrafficPolicy {
    pub port: Option<PortSelector>,
    pub connection_pool: Option<ConnectionPool>,
    pub outlier_detection: Option<OutlierDetection>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PortSelector {
    #[serde(deserialize_with = "opt_count")]
    pub number: Option<u64>,
}

/// A named subset of the service's endpoints (by labels), with its own policy.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Subset {
    #[serde(deserialize_with = "opt_text")]
    pub name: Option<String>,
    #[serde(deserialize_with = "string_map")]
    pub labels: std::collections::BTreeMap<String, String>,
    pub traffic_policy: Option<TrafficPolicy>,
}

/// `connectionPool`: the circuit-breaker limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ConnectionPool {
    pub tcp: Option<TcpSettings>,
    pub http: Option<HttpSettings>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TcpSettings {
    #[serde(deserialize_with = "opt_count")]
    pub max_connections: Option<u64>,
    #[serde(deserialize_with = "opt_text")]
    pub connect_timeout: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct HttpSettings {
    #[serde(rename = "http1MaxPendingRequests", deserialize_with = "opt_count")]
    pub http1_max_pending_requests: Option<u64>,
    #[serde(rename = "http2MaxRequests", deserialize_with = "opt_count")]
    pub http2_max_requests: Option<u64>,
    #[serde(rename = "maxRequestsPerConnection", deserialize_with = "opt_count")]
    pub max_requests_per_connection: Option<u64>,
    #[serde(rename = "maxRetries", deserialize_with = "opt_count")]
    pub max_retries: Option<u64>,
}

/// `outlierDetection`: when hosts are ejected from the pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct OutlierDetection {
    #[serde(rename = "consecutive5xxErrors", deserialize_with = "opt_count")]
    pub consecutive_5xx_errors: Option<u64>,
    #[serde(rename = "consecutiveGatewayErrors", deserialize_with = "opt_count")]
    pub consecutive_gateway_errors: Option<u64>,
    /// Deprecated: counted as gateway errors (502/503/504) by Istio.
    #[serde(rename = "consecutiveErrors", deserialize_with = "opt_count")]
    pub consecutive_errors: Option<u64>,
    #[serde(deserialize_with = "opt_text")]
    pub interval: Option<String>,
    #[serde(rename = "baseEjectionTime", deserialize_with = "opt_text")]
    pub base_ejection_time: Option<String>,
    #[serde(rename = "maxEjectionPercent", deserialize_with = "opt_count")]
    pub max_ejection_percent: Option<u64>,
    #[serde(rename = "minHealthPercent", deserialize_with = "opt_count")]
    pub min_health_percent: Option<u64>,
}

/// `spec` of a VirtualService: its hosts and HTTP routes.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct VirtualServiceSpec {
    #[serde(deserialize_with = "string_list")]
    pub hosts: Vec<String>,
    #[serde(deserialize_with = "lenient_list")]
    pub http: Vec<HttpRoute>,
}

/// One HTTP route: where it sends requests, and how it retries and times out.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HttpRoute {
    #[serde(deserialize_with = "opt_text")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient_list")]
    pub route: Vec<RouteDestination>,
    pub retries: Option<HttpRetry>,
    #[serde(deserialize_with = "opt_text")]
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RouteDestination {
    pub destination: Option<Destination>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Destination {
    #[serde(deserialize_with = "opt_text")]
    pub host: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub subset: Option<String>,
}

/// `retries` of a route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HttpRetry {
    #[serde(deserialize_with = "opt_count")]
    pub attempts: Option<u64>,
    #[serde(deserialize_with = "opt_text")]
    pub per_try_timeout: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub retry_on: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn odd_values_are_dropped_not_the_object() {
        let dr: DestinationRule = serde_json::from_value(json!({
            "metadata": {"name": "x", "namespace": "n"},
            "spec": {"host": "x", "trafficPolicy": {
                "connectionPool": {"tcp": {"maxConnections": "12"}, "http": {"http2MaxRequests": -1, "maxRetries": 2.5}},
                "outlierDetection": {"consecutive5xxErrors": "lots", "interval": 30}
            }, "subsets": [{"name": "a"}, 7]}
        }))
        .unwrap();
        assert_eq!(dr.malformed, None);
        let tp = dr.spec.traffic_policy.unwrap();
        let pool = tp.connection_pool.unwrap();
        assert_eq!(pool.tcp.unwrap().max_connections, Some(12));
        let http = pool.http.unwrap();
        assert_eq!(
            (http.http2_max_requests, http.max_retries),
            (None, None),
            "negative and fractional counts are dropped"
        );
        let od = tp.outlier_detection.unwrap();
        assert_eq!(od.consecutive_5xx_errors, None);
        assert_eq!(od.interval.as_deref(), Some("30"));
        assert_eq!(dr.spec.subsets.len(), 1, "the subset that is not an object");
    }

    #[test]
    fn a_spec_that_is_not_an_object_is_a_malformed_rule() {
        let dr: DestinationRule =
            serde_json::from_value(json!({"metadata": {"name": "x"}, "spec": ["host"]})).unwrap();
        assert!(dr.malformed.unwrap().contains("spec: expected an object"));
        assert_eq!(dr.spec, DestinationRuleSpec::default());
    }

    #[test]
    fn v1beta1_is_the_same_kind_at_another_path() {
        use kube::Resource;
        assert_eq!(
            V1beta1::<DestinationRule>::api_version(&()),
            "networking.istio.io/v1beta1"
        );
        assert_eq!(V1beta1::<DestinationRule>::plural(&()), "destinationrules");
        let dr: V1beta1<DestinationRule> =
            serde_json::from_value(json!({"metadata": {"name": "x"}, "spec": {"host": "h"}}))
                .unwrap();
        assert_eq!(dr.spec.host.as_deref(), Some("h"));
    }
}
