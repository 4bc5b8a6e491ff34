//! What a DestinationRule configures, as Istio applies it (pure; the most-tested code of the
//! pane): the policy in force for the whole host, for a subset, for a port, or both; every
//! limit with Istio's default when unset. The merge follows istiod (`MergeSubsetTrafficPolicy`
//! and `GetPortLevelTrafficPolicy` in istio/istio): a port's settings replace the rule's
//! connection pool and outlier detection for that port, unset fields taking their defaults
//! rather than the rule's; a subset's blocks replace the rule's, block by block; a subset's
//! own port settings replace both blocks again. Inside a block nothing is inherited.
//!
//! Defaults (istio/api `destination_rule.proto`, istiod `applyConnectionPool` and
//! `applyOutlierDetection`): the four breaker limits are 2^32-1 (unlimited), and istiod treats
//! 0 as unset; outlier detection is off unless the block is present, and then ejects after 5
//! consecutive 5xx, sweeps every 10 s, ejects for 30 s (times the number of ejections), at
//! most 10% of hosts. The deprecated `consecutiveErrors` is ignored by current istiod.

use crate::k8s::istio::{ConnectionPool, DestinationRuleSpec, OutlierDetection, TrafficPolicy};

/// Istio's default connect timeout (mesh `connectTimeout`).
pub const DEFAULT_CONNECT_TIMEOUT: &str = "10s";
pub const DEFAULT_5XX: u64 = 5;
pub const DEFAULT_INTERVAL: &str = "10s";
pub const DEFAULT_BASE_EJECTION: &str = "30s";
pub const DEFAULT_MAX_EJECTION_PERCENT: u64 = 10;

/// A setting in force: its value, and whether it is Istio's default (not written in the rule).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Setting<T> {
    pub value: T,
    pub default: bool,
}

impl<T> Setting<T> {
    fn set(value: T) -> Self {
        Self {
            value,
            default: false,
        }
    }
    fn default_of(value: T) -> Self {
        Self {
            value,
            default: true,
        }
    }
}

/// The connection-pool limits in force (`None`: unlimited).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pool {
    pub max_connections: Option<u64>,
    pub http1_max_pending_requests: Option<u64>,
    pub http2_max_requests: Option<u64>,
    pub max_retries: Option<u64>,
    pub max_requests_per_connection: Option<u64>,
    pub connect_timeout: Setting<String>,
}

impl Pool {
    /// Any of the four breaker limits set.
    #[must_use]
    pub fn limits_any(&self) -> bool {
        self.max_connections.is_some()
            || self.http1_max_pending_requests.is_some()
            || self.http2_max_requests.is_some()
            || self.max_retries.is_some()
    }
}

/// A count istiod applies only when above zero.
fn positive(v: Option<u64>) -> Option<u64> {
    v.filter(|n| *n > 0)
}

fn pool(cp: Option<&ConnectionPool>) -> Pool {
    let tcp = cp.and_then(|c| c.tcp.as_ref());
    let http = cp.and_then(|c| c.http.as_ref());
    Pool {
        max_connections: positive(tcp.and_then(|t| t.max_connections)),
        http1_max_pending_requests: positive(http.and_then(|h| h.http1_max_pending_requests)),
        http2_max_requests: positive(http.and_then(|h| h.http2_max_requests)),
        max_retries: positive(http.and_then(|h| h.max_retries)),
        max_requests_per_connection: positive(http.and_then(|h| h.max_requests_per_connection)),
        connect_timeout: tcp.and_then(|t| t.connect_timeout.clone()).map_or_else(
            || Setting::default_of(DEFAULT_CONNECT_TIMEOUT.to_string()),
            Setting::set,
        ),
    }
}

/// Outlier detection in force (present only when the rule has the block).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Outlier {
    /// Consecutive 5xx before a host is ejected; 0 = this detector is off.
    pub consecutive_5xx: Setting<u64>,
    /// Consecutive 502/503/504; `None` = off (the default).
    pub consecutive_gateway: Option<u64>,
    pub interval: Setting<String>,
    pub base_ejection_time: Setting<String>,
    pub max_ejection_percent: Setting<u64>,
    pub min_health_percent: u64,
    /// The deprecated `consecutiveErrors` was written (istiod ignores it).
    pub ignored_consecutive_errors: Option<u64>,
}

fn outlier(od: Option<&OutlierDetection>) -> Option<Outlier> {
    let od = od?;
    Some(Outlier {
        consecutive_5xx: od
            .consecutive_5xx_errors
            .map_or(Setting::default_of(DEFAULT_5XX), Setting::set),
        consecutive_gateway: positive(od.consecutive_gateway_errors),
        interval: od.interval.clone().map_or_else(
            || Setting::default_of(DEFAULT_INTERVAL.to_string()),
            Setting::set,
        ),
        base_ejection_time: od.base_ejection_time.clone().map_or_else(
            || Setting::default_of(DEFAULT_BASE_EJECTION.to_string()),
            Setting::set,
        ),
        max_ejection_percent: positive(od.max_ejection_percent).map_or(
            Setting::default_of(DEFAULT_MAX_EJECTION_PERCENT),
            Setting::set,
        ),
        min_health_percent: od.min_health_percent.unwrap_or(0),
        ignored_consecutive_errors: od.consecutive_errors.filter(|_| {
            od.consecutive_5xx_errors.is_none() && od.consecutive_gateway_errors.is_none()
        }),
    })
}

/// The policy in force for one (subset, port) of a host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Effective {
    pub pool: Pool,
    pub outlier: Option<Outlier>,
}

impl Effective {
    /// Whether this is a circuit breaker at all: a pool limit or outlier detection.
    #[must_use]
    pub fn is_breaker(&self) -> bool {
        self.pool.limits_any() || self.outlier.is_some()
    }
}

/// The two blocks a policy level contributes: `(connection pool, outlier detection)`.
type Blocks<'a> = (Option<&'a ConnectionPool>, Option<&'a OutlierDetection>);

/// A policy for `port`: its port-level entry replaces both blocks wholesale (unset → default),
/// and says so; otherwise the policy's own blocks.
fn at_port(tp: &TrafficPolicy, port: Option<u64>) -> (Blocks<'_>, bool) {
    if let Some(p) = port
        && let Some(pl) = tp
            .port_level_settings
            .iter()
            .find(|s| s.port.as_ref().and_then(|x| x.number) == Some(p))
    {
        return (
            (pl.connection_pool.as_ref(), pl.outlier_detection.as_ref()),
            true,
        );
    }
    (
        (tp.connection_pool.as_ref(), tp.outlier_detection.as_ref()),
        false,
    )
}

/// The policy in force for `subset` (by name) and `port` of the rule, as istiod merges it.
#[must_use]
pub fn effective(spec: &DestinationRuleSpec, subset: Option<&str>, port: Option<u64>) -> Effective {
    let (mut cp, mut od) = spec
        .traffic_policy
        .as_ref()
        .map_or((None, None), |tp| at_port(tp, port).0);
    let sub = subset.and_then(|name| {
        spec.subsets
            .iter()
            .find(|s| s.name.as_deref() == Some(name))
            .and_then(|s| s.traffic_policy.as_ref())
    });
    if let Some(tp) = sub {
        let ((scp, sod), port_level) = at_port(tp, port);
        if scp.is_some() || port_level {
            cp = scp;
        }
        if sod.is_some() || port_level {
            od = sod;
        }
    }
    Effective {
        pool: pool(cp),
        outlier: outlier(od),
    }
}

/// What a level of the rule overrides, for the detail's labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    pub subset: Option<String>,
    pub port: Option<u64>,
}

impl Scope {
    #[must_use]
    pub fn label(&self) -> String {
        match (&self.subset, self.port) {
            (None, None) => "host".into(),
            (None, Some(p)) => format!("port {p}"),
            (Some(s), None) => format!("subset {s}"),
            (Some(s), Some(p)) => format!("subset {s} · port {p}"),
        }
    }
}

/// Every scope the rule says something distinct about: the host, each port with port-level
/// settings, each subset, and each subset on each of those ports (plus the subset's own
/// ports), in that order, each with its policy in force.
#[must_use]
pub fn scopes(spec: &DestinationRuleSpec) -> Vec<(Scope, Effective)> {
    let ports_of = |tp: Option<&TrafficPolicy>| -> Vec<u64> {
        tp.map(|t| {
            t.port_level_settings
                .iter()
                .filter_map(|p| p.port.as_ref().and_then(|x| x.number))
                .collect()
        })
        .unwrap_or_default()
    };
    let top_ports = ports_of(spec.traffic_policy.as_ref());
    let mut out = vec![(
        Scope {
            subset: None,
            port: None,
        },
        effective(spec, None, None),
    )];
    for p in &top_ports {
        out.push((
            Scope {
                subset: None,
                port: Some(*p),
            },
            effective(spec, None, Some(*p)),
        ));
    }
    for s in &spec.subsets {
        let Some(name) = s.name.as_deref() else {
            continue;
        };
        out.push((
            Scope {
                subset: Some(name.to_string()),
                port: None,
            },
            effective(spec, Some(name), None),
        ));
        let mut ports = top_ports.clone();
        for p in ports_of(s.traffic_policy.as_ref()) {
            if !ports.contains(&p) {
                ports.push(p);
            }
        }
        for p in ports {
            out.push((
                Scope {
                    subset: Some(name.to_string()),
                    port: Some(p),
                },
                effective(spec, Some(name), Some(p)),
            ));
        }
    }
    out
}

/// `12` or `∞`; the detail adds "(default)" to unset limits.
#[must_use]
pub fn limit(v: Option<u64>) -> String {
    v.map_or_else(|| "∞".to_string(), |n| n.to_string())
}

/// A limit for the detail: `12`, or `∞ (default)` when unset.
#[must_use]
pub fn limit_long(v: Option<u64>) -> String {
    v.map_or_else(|| "∞ (default)".to_string(), |n| n.to_string())
}

/// A setting for the detail, `(default)` when Istio's.
#[must_use]
pub fn setting<T: std::fmt::Display>(s: &Setting<T>) -> String {
    if s.default {
        format!("{} (default)", s.value)
    } else {
        s.value.to_string()
    }
}

/// The pool's four limits, compact: `conn/pending/requests/retries` (`64/32/100/∞`).
#[must_use]
pub fn pool_short(p: &Pool) -> String {
    format!(
        "{}/{}/{}/{}",
        limit(p.max_connections),
        limit(p.http1_max_pending_requests),
        limit(p.http2_max_requests),
        limit(p.max_retries)
    )
}

/// Outlier detection, compact: `5xx×5 gw×3 30s ≤50%` (thresholds, base ejection time, most
/// hosts ejected at once), or `off`.
#[must_use]
pub fn outlier_short(o: Option<&Outlier>) -> String {
    let Some(o) = o else {
        return "off".into();
    };
    let mut parts = Vec::new();
    if o.consecutive_5xx.value == 0 {
        parts.push("5xx off".to_string());
    } else {
        parts.push(format!("5xx×{}", o.consecutive_5xx.value));
    }
    if let Some(g) = o.consecutive_gateway {
        parts.push(format!("gw×{g}"));
    }
    parts.push(o.base_ejection_time.value.clone());
    parts.push(format!("≤{}%", o.max_ejection_percent.value));
    parts.join(" ")
}
