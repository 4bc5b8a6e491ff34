//! The live columns: the list queries' answer (one per cluster, for every service at once)
//! indexed by service, and the state of a row from its config and those numbers (pure).
//!
//! States, one per row: **tripping** (breaker 503s — UO pending-queue overflow, URX retry
//! overflow, UH no healthy host — in the last 5 minutes), **open** (nothing gets through:
//! every host ejected, or most requests answered UH), **ejecting** (outlier detection holds
//! hosts out now, no trips), **quiet** (a breaker is configured, nothing happening), **no
//! breaker configured**. Tripping and open come first. Without any live data a configured
//! breaker is "no live data", never "quiet".

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};

use super::hosts::{ServiceRef, parse_cluster_name};
use crate::panes::kit::PromView;
use crate::source::{PromSnapshot, SourceState};

/// Query ids of the list spec.
pub const TRIPS: &str = "trips";
pub const REQUESTS: &str = "requests";
pub const ERRORS: &str = "errors";
pub const P50: &str = "p50";
pub const P99: &str = "p99";
pub const ENVOY: &str = "envoy";

pub const EJECTIONS_ACTIVE: &str = "envoy_cluster_outlier_detection_ejections_active";
pub const MEMBERSHIP_TOTAL: &str = "envoy_cluster_membership_total";

/// Breaker 503s in the window, by response flag.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Trips {
    /// Pending queue (or connection/request limit) overflow: the breaker refused.
    pub uo: f64,
    /// No healthy upstream: every host ejected (or none at all).
    pub uh: f64,
    /// Retry budget (`maxRetries`) overflow.
    pub urx: f64,
}

impl Trips {
    #[must_use]
    pub fn total(&self) -> f64 {
        self.uo + self.uh + self.urx
    }

    /// `UO 120 URX 4`, flags with at least one trip (counts rounded), or `—`.
    #[must_use]
    pub fn text(&self) -> String {
        let parts: Vec<String> = [("UO", self.uo), ("UH", self.uh), ("URX", self.urx)]
            .iter()
            .filter(|(_, n)| n.round() >= 1.0)
            .map(|(f, n)| format!("{f} {n:.0}"))
            .collect();
        if parts.is_empty() {
            "—".into()
        } else {
            parts.join(" ")
        }
    }
}

/// Envoy's view of a service's hosts, from the calling proxies (worst caller).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Ejection {
    pub ejected: f64,
    pub hosts: Option<f64>,
}

/// One service's live numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Live {
    /// Requests per second (5-minute rate).
    pub rps: f64,
    /// 5xx answers per second.
    pub errors: f64,
    pub trips: Trips,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    /// `None` when the proxies export no outlier stats for this service.
    pub ejection: Option<Ejection>,
}

impl Live {
    /// Share of requests not answered 5xx.
    #[must_use]
    pub fn success(&self) -> Option<f64> {
        (self.rps > 0.0).then(|| ((self.rps - self.errors) / self.rps).clamp(0.0, 1.0))
    }

    fn hash_into(&self, h: &mut impl Hasher) {
        for v in [
            self.rps,
            self.errors,
            self.trips.uo,
            self.trips.uh,
            self.trips.urx,
            self.p50.unwrap_or(f64::NAN),
            self.p99.unwrap_or(f64::NAN),
            self.ejection.map_or(f64::NAN, |e| e.ejected),
            self.ejection.and_then(|e| e.hosts).unwrap_or(f64::NAN),
        ] {
            v.to_bits().hash(h);
        }
    }
}

/// Where the live numbers come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Feed {
    Live,
    /// Last good numbers, from a fetch at this time.
    Stale {
        since: DateTime<Utc>,
    },
    /// No numbers: no Prometheus configured, none yet, or it never answered.
    Missing(String),
}

/// The list answer of one cluster, by service.
#[derive(Debug, Clone)]
pub struct LiveIndex {
    pub feed: Feed,
    pub services: HashMap<ServiceRef, Live>,
    /// Whether any proxy of the cluster exports outlier stats at all.
    pub envoy_exported: bool,
}

fn service_of(labels: &std::collections::BTreeMap<String, String>) -> Option<ServiceRef> {
    let name = labels.get("destination_service_name")?;
    if name.is_empty() || name == "unknown" {
        return None;
    }
    Some(ServiceRef {
        name: name.clone(),
        namespace: labels
            .get("destination_service_namespace")
            .cloned()
            .unwrap_or_default(),
    })
}

fn value(points: &[(f64, f64)]) -> Option<f64> {
    points.last().map(|p| p.1).filter(|v| v.is_finite())
}

impl LiveIndex {
    /// Indexes the list answer.
    #[must_use]
    pub fn new(view: &PromView) -> Self {
        let (snapshot, state) = match view {
            PromView::Data { snapshot, state } => (snapshot, state),
            PromView::Unconfigured => return Self::missing("no Prometheus configured"),
            PromView::Waiting | PromView::None => return Self::missing("waiting for Prometheus"),
        };
        let feed = match state {
            SourceState::Live { .. } => Feed::Live,
            _ => match snapshot
                .results
                .iter()
                .filter_map(|r| r.stale_since)
                .min()
                .or(snapshot.fetched_at)
            {
                Some(since) if snapshot.results.iter().any(|r| !r.series.is_empty()) => {
                    Feed::Stale { since }
                }
                _ => Feed::Missing(match state {
                    SourceState::Error { reason, .. } | SourceState::Stale { reason, .. } => {
                        reason.clone()
                    }
                    other => format!("Prometheus {}", other.label(crate::clock::Clock::System)),
                }),
            },
        };
        let mut index = Self::from_snapshot(snapshot);
        index.feed = feed;
        index
    }

    fn missing(why: &str) -> Self {
        Self {
            feed: Feed::Missing(why.into()),
            services: HashMap::new(),
            envoy_exported: false,
        }
    }

    /// The numbers of every service in an answer.
    #[must_use]
    pub fn from_snapshot(snapshot: &PromSnapshot) -> Self {
        let mut services: HashMap<ServiceRef, Live> = HashMap::new();
        let each = |id: &str| {
            snapshot
                .result(id)
                .map(|r| r.series.as_slice())
                .unwrap_or_default()
        };
        for s in each(REQUESTS) {
            if let (Some(svc), Some(v)) = (service_of(&s.labels), value(&s.points)) {
                services.entry(svc).or_default().rps = v;
            }
        }
        for s in each(ERRORS) {
            if let (Some(svc), Some(v)) = (service_of(&s.labels), value(&s.points)) {
                services.entry(svc).or_default().errors = v;
            }
        }
        for s in each(TRIPS) {
            if let (Some(svc), Some(v)) = (service_of(&s.labels), value(&s.points)) {
                let t = &mut services.entry(svc).or_default().trips;
                match s.labels.get("response_flags").map(String::as_str) {
                    Some("UO") => t.uo += v,
                    Some("UH") => t.uh += v,
                    Some("URX") => t.urx += v,
                    _ => {}
                }
            }
        }
        for (id, p50) in [(P50, true), (P99, false)] {
            for s in each(id) {
                if let (Some(svc), Some(v)) = (service_of(&s.labels), value(&s.points)) {
                    let live = services.entry(svc).or_default();
                    if p50 {
                        live.p50 = Some(v)
                    } else {
                        live.p99 = Some(v)
                    }
                }
            }
        }
        let envoy = each(ENVOY);
        for s in envoy {
            let Some(c) = s
                .labels
                .get("cluster_name")
                .and_then(|n| parse_cluster_name(n))
            else {
                continue;
            };
            let Some(v) = value(&s.points) else {
                continue;
            };
            let e = services
                .entry(c.service)
                .or_default()
                .ejection
                .get_or_insert_with(Ejection::default);
            // Several clusters (subsets, ports) of one service: the worst of each.
            match s.labels.get("__name__").map(String::as_str) {
                Some(EJECTIONS_ACTIVE) => e.ejected = e.ejected.max(v),
                Some(MEMBERSHIP_TOTAL) => e.hosts = Some(e.hosts.unwrap_or(0.0).max(v)),
                _ => {}
            }
        }
        Self {
            feed: Feed::Live,
            services,
            envoy_exported: !envoy.is_empty(),
        }
    }

    /// A hash of one service's numbers and the feed, for the row cache.
    #[must_use]
    pub fn hash_of(&self, svc: Option<&ServiceRef>) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.feed.hash(&mut h);
        self.envoy_exported.hash(&mut h);
        if let Some(l) = svc.and_then(|s| self.services.get(s)) {
            l.hash_into(&mut h);
        }
        h.finish()
    }
}

/// One row's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    Tripping,
    Open,
    Ejecting,
    Quiet,
    /// A breaker is configured but there are no live numbers to judge it by.
    NoData,
    /// No breaker configured: no rule, or a rule without limits or outlier detection
    /// (shown as "no breaker" in the narrow column).
    Unconfigured,
    /// The DestinationRule could not be read.
    Malformed,
}

impl BreakerState {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tripping => "tripping",
            Self::Open => "open",
            Self::Ejecting => "ejecting",
            Self::Quiet => "quiet",
            Self::NoData => "no live data",
            Self::Unconfigured => "no breaker",
            Self::Malformed => "malformed",
        }
    }

    /// Sort group: tripping and open first.
    #[must_use]
    pub fn rank(self) -> u8 {
        match self {
            Self::Tripping | Self::Open => 0,
            Self::Malformed => 1,
            Self::Ejecting => 2,
            Self::NoData | Self::Quiet => 3,
            Self::Unconfigured => 4,
        }
    }
}

/// Below this share of UH answers, "no healthy upstream" is a trip, not an open breaker.
const OPEN_SHARE: f64 = 0.5;
/// Trip counts are extrapolated by Prometheus: less than one is no trip.
const MIN_TRIPS: f64 = 0.5;

/// The state of a service from whether a breaker is configured and its live numbers.
#[must_use]
pub fn state(configured: bool, feed: &Feed, live: Option<&Live>) -> BreakerState {
    if matches!(feed, Feed::Missing(_)) {
        return if configured {
            BreakerState::NoData
        } else {
            BreakerState::Unconfigured
        };
    }
    let Some(l) = live else {
        return if configured {
            BreakerState::Quiet
        } else {
            BreakerState::Unconfigured
        };
    };
    let all_ejected = l
        .ejection
        .is_some_and(|e| e.hosts.is_some_and(|h| h > 0.0 && e.ejected >= h));
    // Requests in the 5-minute window, to weigh the UH count against.
    let requests = l.rps * 300.0;
    let mostly_uh = requests > 0.0 && l.trips.uh / requests >= OPEN_SHARE;
    if all_ejected || mostly_uh {
        BreakerState::Open
    } else if l.trips.total() >= MIN_TRIPS {
        BreakerState::Tripping
    } else if l.ejection.is_some_and(|e| e.ejected > 0.0) {
        BreakerState::Ejecting
    } else if configured {
        BreakerState::Quiet
    } else {
        BreakerState::Unconfigured
    }
}
