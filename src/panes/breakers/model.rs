//! One cluster's breaker rows (pure: objects + the live answer → rows): one row per
//! DestinationRule (its host, subsets, the limits in force for the host, and the retries and
//! timeout of the VirtualService routes that reach it), an error row per rule that cannot be
//! read, and one row per service with traffic that no rule names ("no breaker configured",
//! or the wildcard rule that covers it). Rows are built through the row cache, keyed by the
//! objects' versions and the service's own live numbers, so a poll that moved one service's
//! numbers rebuilds one row.

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::hosts::{HostRef, ServiceRef, parse_host, short_host};
use super::live::{BreakerState, Feed, Live, LiveIndex, state};
use super::policy::{Effective, effective, scopes};
use super::view;
use crate::k8s::istio::{DestinationRuleSpec, HttpRetry, VirtualServiceSpec};
use crate::panes::kit::{Inputs, RowCache};
use crate::widgets::table::TableRow;

/// A DestinationRule as the model reads it (from whichever API version the cluster serves).
#[derive(Debug, Clone, Copy)]
pub struct Rule<'a> {
    pub meta: &'a ObjectMeta,
    pub spec: &'a DestinationRuleSpec,
    pub malformed: Option<&'a str>,
}

/// A VirtualService as the model reads it.
#[derive(Debug, Clone, Copy)]
pub struct Routes<'a> {
    pub meta: &'a ObjectMeta,
    pub spec: &'a VirtualServiceSpec,
}

/// What one cluster's rows are built from.
pub struct Objects<'a> {
    pub rules: &'a [Rule<'a>],
    pub routes: &'a [Routes<'a>],
    /// Rules that could not be parsed at all: (namespace, name, why).
    pub unreadable: &'a [(String, String, String)],
    pub live: &'a LiveIndex,
}

/// Istio's retry policy when no route sets one.
pub const DEFAULT_ATTEMPTS: u64 = 2;
pub const DEFAULT_RETRY_ON: &str =
    "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";

/// The retries and timeout of one route that reaches the host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RetryPolicy {
    /// `namespace/name` of the VirtualService and the route's name; `None`: Istio's default.
    pub source: Option<String>,
    pub attempts: u64,
    pub per_try_timeout: Option<String>,
    pub retry_on: String,
    pub timeout: Option<String>,
}

impl RetryPolicy {
    fn default_policy() -> Self {
        Self {
            source: None,
            attempts: DEFAULT_ATTEMPTS,
            per_try_timeout: None,
            retry_on: DEFAULT_RETRY_ON.into(),
            timeout: None,
        }
    }

    fn of(source: String, retries: Option<&HttpRetry>, timeout: Option<&String>) -> Self {
        let d = Self::default_policy();
        let (attempts, per_try_timeout, retry_on) = match retries {
            Some(r) => (
                r.attempts.unwrap_or(DEFAULT_ATTEMPTS),
                r.per_try_timeout.clone(),
                r.retry_on.clone().unwrap_or(d.retry_on),
            ),
            None => (d.attempts, None, d.retry_on),
        };
        Self {
            source: Some(source),
            attempts,
            per_try_timeout,
            retry_on,
            timeout: timeout.cloned(),
        }
    }

    /// `3 × 2s · 5s` (attempts × per-try timeout · route timeout), `off`, or `2 (default)`.
    #[must_use]
    pub fn short(&self) -> String {
        let mut s = if self.attempts == 0 {
            "off".to_string()
        } else if self.source.is_none() {
            format!("{} (default)", self.attempts)
        } else {
            match &self.per_try_timeout {
                Some(t) => format!("{} × {t}", self.attempts),
                None => self.attempts.to_string(),
            }
        };
        if let Some(t) = &self.timeout {
            s.push_str(&format!(" · {t}"));
        }
        s
    }
}

/// The routes that send traffic to `host` (by destination, or by the service's own hosts
/// when a route names no destination), each with its retries; Istio's default when none.
#[must_use]
pub fn retries_for(host: &HostRef, routes: &[Routes<'_>]) -> Vec<RetryPolicy> {
    let mut out: Vec<RetryPolicy> = Vec::new();
    let Some(target) = host.service() else {
        return vec![RetryPolicy::default_policy()];
    };
    for vs in routes {
        let ns = vs.meta.namespace.as_deref().unwrap_or_default();
        let name = vs.meta.name.as_deref().unwrap_or_default();
        let hosts_match = vs
            .spec
            .hosts
            .iter()
            .any(|h| parse_host(h, ns).matches(&target));
        for (i, r) in vs.spec.http.iter().enumerate() {
            let dest_match = r.route.iter().any(|d| {
                d.destination
                    .as_ref()
                    .and_then(|d| d.host.as_deref())
                    .is_some_and(|h| parse_host(h, ns).matches(&target))
            });
            if dest_match || (hosts_match && r.route.is_empty()) {
                let route = r.name.clone().unwrap_or_else(|| format!("#{i}"));
                let p = RetryPolicy::of(
                    format!("{ns}/{name} {route}"),
                    r.retries.as_ref(),
                    r.timeout.as_ref(),
                );
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
    }
    if out.is_empty() {
        out.push(RetryPolicy::default_policy());
    }
    out
}

/// What a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowKind {
    /// A DestinationRule.
    Rule,
    /// A service seen only in the traffic.
    Service,
}

/// One row of the Circuit-breakers table.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerRow {
    /// Kubeconfig context.
    pub cluster: String,
    pub namespace: String,
    /// The rule's name, or the service's for a row made from traffic alone.
    pub name: String,
    pub kind: RowKind,
    /// The host as a narrow column shows it.
    pub host: String,
    /// The service the live numbers are about, if the host is one.
    pub service: Option<ServiceRef>,
    pub subsets: Vec<String>,
    /// The policy in force for the host (no subset, any port).
    pub policy: Option<Effective>,
    /// A subset or port has other limits than the host.
    pub overrides: bool,
    /// Some scope (host, subset or port) has a pool limit or outlier detection.
    pub breaker: bool,
    /// The wildcard rule (`namespace/name host`) a traffic row's service falls under.
    pub via: Option<String>,
    pub retries: Vec<RetryPolicy>,
    pub live: Option<Live>,
    pub feed: Feed,
    pub envoy_exported: bool,
    pub state: BreakerState,
    pub malformed: Option<String>,
}

impl crate::panes::kit::ListRow for BreakerRow {
    fn rank(&self) -> u8 {
        self.state.rank()
    }

    fn needs_attention(&self) -> bool {
        matches!(
            self.state,
            BreakerState::Tripping
                | BreakerState::Open
                | BreakerState::Ejecting
                | BreakerState::Malformed
        )
    }
}

/// The row's table key: `context/namespace/host/rule`.
#[must_use]
pub fn row_key(cluster: &str, namespace: &str, host: &str, rule: &str) -> String {
    format!("{cluster}/{namespace}/{host}/{rule}")
}

fn lookup<'a>(live: &'a LiveIndex, host: &HostRef) -> Option<(&'a ServiceRef, &'a Live)> {
    match host {
        HostRef::Service(s) => live.services.get_key_value(s),
        HostRef::External(h) => live.services.iter().find(|(s, _)| s.name == *h),
        HostRef::Wildcard(_) => None,
    }
}

/// The most specific wildcard rule covering `svc` (Istio prefers the longest suffix).
fn wildcard_for<'a>(rules: &[(HostRef, Rule<'a>)], svc: &ServiceRef) -> Option<Rule<'a>> {
    rules
        .iter()
        .filter(|(h, _)| matches!(h, HostRef::Wildcard(_)) && h.matches(svc))
        .max_by_key(|(h, _)| match h {
            HostRef::Wildcard(s) => s.len(),
            _ => 0,
        })
        .map(|(_, r)| *r)
}

fn policy_of(spec: &DestinationRuleSpec) -> (Effective, bool, bool) {
    let all = scopes(spec);
    let host = effective(spec, None, None);
    let overrides = all.iter().any(|(_, e)| *e != host);
    let breaker = all.iter().any(|(_, e)| e.is_breaker());
    (host, overrides, breaker)
}

/// Appends one cluster's rows (built through `cache`); `short` names the cluster in the
/// CLUSTER column, `in_scope` filters by namespace.
pub fn build_rows(
    context: &str,
    short: &str,
    objects: &Objects<'_>,
    in_scope: &dyn Fn(&str) -> bool,
    cache: &mut RowCache<BreakerRow>,
    out: &mut Vec<(Arc<BreakerRow>, TableRow)>,
) {
    let live = objects.live;
    let hosts: Vec<(HostRef, Rule<'_>)> = objects
        .rules
        .iter()
        .map(|r| {
            let ns = r.meta.namespace.as_deref().unwrap_or_default();
            (
                parse_host(r.spec.host.as_deref().unwrap_or_default(), ns),
                *r,
            )
        })
        .collect();
    let routes_v = routes_version(objects.routes);
    let mut named: HashSet<ServiceRef> = HashSet::new();
    for (host, rule) in &hosts {
        let ns = rule.meta.namespace.as_deref().unwrap_or_default();
        let found = lookup(live, host);
        if let Some(svc) = host.service() {
            named.insert(found.map_or(svc, |(s, _)| s.clone()));
        }
        if !in_scope(ns) {
            continue;
        }
        let name = rule.meta.name.as_deref().unwrap_or_default();
        let shown = short_host(host, ns);
        let key = row_key(context, ns, &shown, name);
        let inputs = Inputs::new()
            .meta(rule.meta)
            .with(&live.hash_of(found.map(|(s, _)| s)))
            .with(&routes_v)
            .with(&short)
            .finish();
        out.push(cache.row(
            &key,
            inputs,
            || {
                let (policy, overrides, breaker) = policy_of(rule.spec);
                let live_now = found.map(|(_, l)| l.clone());
                let mut state = state(breaker, &live.feed, live_now.as_ref());
                if rule.malformed.is_some() {
                    state = BreakerState::Malformed;
                }
                BreakerRow {
                    cluster: context.to_string(),
                    namespace: ns.to_string(),
                    name: name.to_string(),
                    kind: RowKind::Rule,
                    host: shown.clone(),
                    service: found.map(|(s, _)| s.clone()).or_else(|| host.service()),
                    subsets: rule
                        .spec
                        .subsets
                        .iter()
                        .filter_map(|s| s.name.clone())
                        .collect(),
                    policy: Some(policy),
                    overrides,
                    breaker,
                    via: None,
                    retries: retries_for(host, objects.routes),
                    live: live_now,
                    feed: live.feed.clone(),
                    envoy_exported: live.envoy_exported,
                    state,
                    malformed: rule.malformed.map(str::to_string),
                }
            },
            |r, k| view::table_row(r, k, short),
        ));
    }
    for (ns, name, why) in objects.unreadable {
        if !in_scope(ns) {
            continue;
        }
        let key = row_key(context, ns, name, name);
        let inputs = Inputs::new().with(why).with(&short).finish();
        out.push(cache.row(
            &key,
            inputs,
            || BreakerRow {
                cluster: context.to_string(),
                namespace: ns.clone(),
                name: name.clone(),
                kind: RowKind::Rule,
                host: "?".into(),
                service: None,
                subsets: Vec::new(),
                policy: None,
                overrides: false,
                breaker: false,
                via: None,
                retries: Vec::new(),
                live: None,
                feed: live.feed.clone(),
                envoy_exported: live.envoy_exported,
                state: BreakerState::Malformed,
                malformed: Some(why.clone()),
            },
            |r, k| view::table_row(r, k, short),
        ));
    }
    let mut traffic: Vec<(&ServiceRef, &Live)> = live
        .services
        .iter()
        .filter(|(s, l)| !named.contains(*s) && (l.rps > 0.0 || l.trips.total() > 0.0))
        .filter(|(s, _)| in_scope(&s.namespace))
        .collect();
    traffic.sort_by(|a, b| a.0.cmp(b.0));
    for (svc, l) in traffic {
        let host = HostRef::Service(svc.clone());
        let shown = short_host(&host, &svc.namespace);
        let key = row_key(context, &svc.namespace, &shown, "");
        let via = wildcard_for(&hosts, svc);
        let mut inputs = Inputs::new()
            .with(&live.hash_of(Some(svc)))
            .with(&routes_v)
            .with(&short);
        if let Some(r) = via {
            inputs = inputs.meta(r.meta);
        }
        out.push(cache.row(
            &key,
            inputs.finish(),
            || {
                let (policy, overrides, breaker) = via.map_or((None, false, false), |r| {
                    let (p, o, b) = policy_of(r.spec);
                    (Some(p), o, b)
                });
                BreakerRow {
                    cluster: context.to_string(),
                    namespace: svc.namespace.clone(),
                    name: svc.name.clone(),
                    kind: RowKind::Service,
                    host: shown.clone(),
                    service: Some(svc.clone()),
                    subsets: Vec::new(),
                    policy,
                    overrides,
                    breaker,
                    via: via.map(|r| {
                        format!(
                            "{}/{} {}",
                            r.meta.namespace.as_deref().unwrap_or_default(),
                            r.meta.name.as_deref().unwrap_or_default(),
                            r.spec.host.as_deref().unwrap_or_default()
                        )
                    }),
                    retries: retries_for(&host, objects.routes),
                    live: Some(l.clone()),
                    feed: live.feed.clone(),
                    envoy_exported: live.envoy_exported,
                    state: state(breaker, &live.feed, Some(l)),
                    malformed: None,
                }
            },
            |r, k| view::table_row(r, k, short),
        ));
    }
}

/// A hash of every VirtualService's version: a route change may move any row's retries.
fn routes_version(routes: &[Routes<'_>]) -> u64 {
    let mut i = Inputs::new();
    for r in routes {
        i = i.meta(r.meta);
    }
    i.finish()
}
