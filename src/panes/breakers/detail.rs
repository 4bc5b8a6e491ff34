//! The detail of one breaker row (pure): the policy in force for every scope of the rule
//! (host, each port with its own settings, each subset), the retries of the routes that reach
//! the host, and the half-hour series the view asks Prometheus for — per calling workload
//! (trips by flag, success rate, p99), per subset (by `destination_version`), and per Envoy
//! cluster of the calling proxies (hosts ejected, pending and active requests and connections
//! next to their limits, overflows) where the proxies export those stats.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::hosts::{EnvoyCluster, HostRef, ServiceRef, cluster_host_pattern, parse_cluster_name};
use super::model::{RetryPolicy, RowKind};
use super::policy::{Effective, Scope, effective, scopes};
use crate::config::BreakerQueries;
use crate::k8s::istio::DestinationRuleSpec;
use crate::source::{PromQuery, PromSnapshot, PromSpec, QueryResult};

/// Half an hour of history, a point every 30 s.
pub const WINDOW_SECS: u32 = 1800;
pub const STEP_SECS: u32 = 30;

/// Query ids of the detail spec.
pub const REQUESTS: &str = "requests";
pub const P99_CALLERS: &str = "p99-callers";
pub const P99_VERSIONS: &str = "p99-versions";
pub const ENVOY: &str = "envoy";
pub const OVERFLOW: &str = "overflow";
pub const RETRY_OVERFLOW: &str = "retry-overflow";

/// The mesh config that makes the calling proxies export the stats this view charts.
pub const STATS_MATCHER: &str = "meshConfig.defaultConfig.proxyStatsMatcher.inclusionRegexps: \
     [\".*outlier_detection.*\", \".*upstream_rq_pending.*\", \".*upstream_rq_active.*\", \
     \".*upstream_cx_active.*\", \".*upstream_rq_retry.*\", \".*membership_total.*\"]";

/// An open detail view's model.
#[derive(Debug, Clone)]
pub struct BreakerDetail {
    pub cluster: String,
    pub kind: RowKind,
    pub namespace: String,
    pub name: String,
    /// The host as written in the rule (or the service's FQDN-less name).
    pub host: String,
    pub host_ref: HostRef,
    pub service: Option<ServiceRef>,
    pub malformed: Option<String>,
    /// The rule's spec, for the limits of each Envoy cluster.
    pub spec: Option<DestinationRuleSpec>,
    /// The policy in force for each scope the rule names.
    pub scopes: Vec<(Scope, Effective)>,
    /// The wildcard rule a service falls under (`namespace/name host`).
    pub via: Option<String>,
    /// Subsets and the `version` label each selects.
    pub subsets: Vec<(String, Option<String>)>,
    pub retries: Vec<RetryPolicy>,
}

impl BreakerDetail {
    /// Builds the detail of `host` from its rule (if any).
    #[must_use]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cluster: &str,
        kind: RowKind,
        (namespace, name): (&str, &str),
        host: &str,
        spec: Option<&DestinationRuleSpec>,
        via: Option<String>,
        retries: Vec<RetryPolicy>,
        malformed: Option<String>,
    ) -> Self {
        let host_ref = super::hosts::parse_host(host, namespace);
        Self {
            cluster: cluster.to_string(),
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
            host: host.to_string(),
            service: host_ref.service(),
            host_ref,
            malformed,
            scopes: spec.map(scopes).unwrap_or_default(),
            via,
            subsets: spec
                .map(|s| {
                    s.subsets
                        .iter()
                        .filter_map(|x| Some((x.name.clone()?, x.labels.get("version").cloned())))
                        .collect()
                })
                .unwrap_or_default(),
            spec: spec.cloned(),
            retries,
        }
    }

    /// The policy in force for an Envoy cluster of this host.
    #[must_use]
    pub fn policy_for(&self, c: &EnvoyCluster) -> Option<Effective> {
        let spec = self.spec.as_ref()?;
        let subset = (!c.subset.is_empty()).then_some(c.subset.as_str());
        Some(effective(spec, subset, c.port))
    }
}

/// Fills a detail template.
#[must_use]
pub fn fill(template: &str, svc: &ServiceRef) -> String {
    template
        .replace("{service}", &svc.name)
        .replace("{namespace}", &svc.namespace)
        .replace("{cluster_host}", &cluster_host_pattern(svc))
}

/// The detail's range queries for one service, polled every `interval`.
#[must_use]
pub fn prom_spec(svc: &ServiceRef, q: &BreakerQueries, interval: Duration) -> PromSpec {
    let range = Some((WINDOW_SECS, STEP_SECS));
    let query = |id: &str, t: &str| PromQuery {
        id: id.to_string(),
        promql: fill(t, svc),
        range,
    };
    PromSpec {
        key: format!("breakers/detail/{}/{}", svc.namespace, svc.name),
        interval,
        queries: vec![
            query(REQUESTS, &q.detail_requests),
            query(P99_CALLERS, &q.detail_p99_callers),
            query(P99_VERSIONS, &q.detail_p99_versions),
            query(ENVOY, &q.detail_envoy),
            query(OVERFLOW, &q.detail_overflow),
            query(RETRY_OVERFLOW, &q.detail_retry_overflow),
        ],
    }
}

/// (unix seconds, value), oldest first.
pub type Points = Vec<(f64, f64)>;

/// The series of one calling workload or one subset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    /// `namespace/workload`, or the subset (and its version).
    pub label: String,
    /// Breaker 503s per second by flag (only flags that tripped).
    pub trips: Vec<(&'static str, Points)>,
    pub success: Points,
    pub p99: Points,
}

/// One Envoy cluster (a subset on a port) of the calling proxies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnvoyGroup {
    pub cluster: Option<EnvoyCluster>,
    pub ejected: Points,
    pub hosts: Option<f64>,
    pub pending: Points,
    pub active: Points,
    pub connections: Points,
    pub overflow: Points,
    pub retry_overflow: Points,
}

/// What the detail's queries answered, grouped for drawing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DetailMetrics {
    pub callers: Vec<Group>,
    pub subsets: Vec<Group>,
    pub envoy: Vec<EnvoyGroup>,
    /// The first failed query's error, if one failed.
    pub error: Option<String>,
    /// Series kept from an earlier fetch: when that was.
    pub stale_since: Option<DateTime<Utc>>,
}

type Sums = BTreeMap<i64, f64>;

fn add(into: &mut Sums, points: &[(f64, f64)]) {
    for (t, v) in points {
        if v.is_finite() {
            *into.entry((t * 1000.0).round() as i64).or_default() += v;
        }
    }
}

fn points(s: &Sums) -> Points {
    s.iter().map(|(t, v)| (*t as f64 / 1000.0, *v)).collect()
}

/// Requests, 5xx and trips by flag of one group, summed over its series.
#[derive(Default)]
struct Tally {
    total: Sums,
    errors: Sums,
    trips: BTreeMap<&'static str, Sums>,
}

impl Tally {
    fn add(&mut self, labels: &BTreeMap<String, String>, pts: &[(f64, f64)]) {
        add(&mut self.total, pts);
        let code = labels.get("response_code").map_or("", String::as_str);
        if code.starts_with('5') {
            add(&mut self.errors, pts);
        }
        if code == "503" {
            let flag = match labels.get("response_flags").map(String::as_str) {
                Some("UO") => "UO",
                Some("UH") => "UH",
                Some("URX") => "URX",
                _ => return,
            };
            add(self.trips.entry(flag).or_default(), pts);
        }
    }

    fn group(&self, label: String, p99: Points) -> Group {
        let success = self
            .total
            .iter()
            .map(|(t, n)| {
                let e = self.errors.get(t).copied().unwrap_or(0.0);
                let v = if *n > 0.0 { 1.0 - e / n } else { f64::NAN };
                (*t as f64 / 1000.0, v)
            })
            .collect();
        Group {
            label,
            trips: ["UO", "UH", "URX"]
                .iter()
                .filter_map(|f| {
                    let s = self.trips.get(f)?;
                    s.values().any(|v| *v > 0.0).then(|| (*f, points(s)))
                })
                .collect(),
            success,
            p99,
        }
    }
}

fn caller_of(labels: &BTreeMap<String, String>) -> String {
    let w = labels
        .get("source_workload")
        .map_or("unknown", String::as_str);
    match labels.get("source_workload_namespace") {
        Some(ns) if !ns.is_empty() => format!("{ns}/{w}"),
        _ => w.to_string(),
    }
}

fn version_of(labels: &BTreeMap<String, String>) -> String {
    labels
        .get("destination_version")
        .filter(|v| !v.is_empty())
        .cloned()
        .unwrap_or_else(|| "unknown".into())
}

fn series(snapshot: &PromSnapshot, id: &str) -> Vec<(BTreeMap<String, String>, Points)> {
    snapshot
        .result(id)
        .map(|r: &QueryResult| {
            r.series
                .iter()
                .map(|s| (s.labels.clone(), s.points.clone()))
                .collect()
        })
        .unwrap_or_default()
}

impl DetailMetrics {
    /// Groups the detail queries' answer; subsets are named from `detail.subsets`.
    #[must_use]
    pub fn from_prom(snapshot: &PromSnapshot, detail: &BreakerDetail) -> Self {
        let mut callers: BTreeMap<String, Tally> = BTreeMap::new();
        let mut versions: BTreeMap<String, Tally> = BTreeMap::new();
        for (labels, pts) in series(snapshot, REQUESTS) {
            callers
                .entry(caller_of(&labels))
                .or_default()
                .add(&labels, &pts);
            versions
                .entry(version_of(&labels))
                .or_default()
                .add(&labels, &pts);
        }
        let p99_by = |id: &str, key: fn(&BTreeMap<String, String>) -> String| {
            series(snapshot, id)
                .into_iter()
                .map(|(l, p)| (key(&l), p))
                .collect::<BTreeMap<String, Points>>()
        };
        let caller_p99 = p99_by(P99_CALLERS, caller_of);
        let version_p99 = p99_by(P99_VERSIONS, version_of);
        let subset_label = |v: &str| {
            detail
                .subsets
                .iter()
                .find(|(_, ver)| ver.as_deref() == Some(v))
                .map_or_else(|| format!("version {v}"), |(s, _)| format!("{s} ({v})"))
        };
        let mut envoy: BTreeMap<String, EnvoyGroup> = BTreeMap::new();
        for (labels, pts) in series(snapshot, ENVOY) {
            let Some(name) = labels.get("cluster_name") else {
                continue;
            };
            let g = envoy.entry(name.clone()).or_default();
            g.cluster = parse_cluster_name(name);
            match labels.get("__name__").map(String::as_str) {
                Some(super::live::EJECTIONS_ACTIVE) => g.ejected = pts,
                Some(super::live::MEMBERSHIP_TOTAL) => {
                    g.hosts = pts.last().map(|p| p.1).filter(|v| v.is_finite());
                }
                Some("envoy_cluster_upstream_rq_pending_active") => g.pending = pts,
                Some("envoy_cluster_upstream_rq_active") => g.active = pts,
                Some("envoy_cluster_upstream_cx_active") => g.connections = pts,
                _ => {}
            }
        }
        for (id, overflow) in [(OVERFLOW, true), (RETRY_OVERFLOW, false)] {
            for (labels, pts) in series(snapshot, id) {
                if let Some(name) = labels.get("cluster_name") {
                    let g = envoy.entry(name.clone()).or_default();
                    g.cluster = parse_cluster_name(name);
                    if overflow {
                        g.overflow = pts;
                    } else {
                        g.retry_overflow = pts;
                    }
                }
            }
        }
        Self {
            callers: callers
                .iter()
                .map(|(k, t)| t.group(k.clone(), caller_p99.get(k).cloned().unwrap_or_default()))
                .collect(),
            // Requests refused before a host was chosen (UO, UH) have no version: they are
            // counted per caller and per Envoy cluster.
            subsets: versions
                .iter()
                .filter(|(v, _)| *v != "unknown")
                .map(|(v, t)| {
                    t.group(
                        subset_label(v),
                        version_p99.get(v).cloned().unwrap_or_default(),
                    )
                })
                .collect(),
            envoy: envoy.into_values().collect(),
            error: snapshot.results.iter().find_map(|r| r.error.clone()),
            stale_since: snapshot.results.iter().filter_map(|r| r.stale_since).min(),
        }
    }
}
