//! The Istio traffic model behind the rollouts: per service a gently varying request rate,
//! split between versions by the live VirtualService weights (or the blue-green Services),
//! with each release's 5xx share and latency distribution, turned into Istio's standard
//! metrics (`istio_requests_total`, `istio_request_duration_milliseconds_*`) as both the
//! client (`reporter="source"`) and server (`reporter="destination"`) sidecars report them.
//!
//! A circuit breaker in front of `payments-api` trips every few simulated minutes: the
//! checkout sidecar answers 503 `UO` (pending queue overflow), and `UH` while every host is
//! ejected, and Envoy's outlier-detection and overflow series move with it.
//!
//! Counters are exact integrals of the rates over each scrape interval, so they only grow.
//! The scraper runs every 5 s (faster only when `--speed` makes simulated time race) and an
//! hour of history is written at seed time.
//!
//! This file holds the service models and the scraper that writes the series; `releases`
//! decides how each release behaves, `breaker` when the circuit breaker trips, and
//! `destinations` reads the live routing into per-version shares.

mod breaker;
mod destinations;
mod releases;

use std::collections::HashMap;
use std::f64::consts::PI;
use std::sync::Arc;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::util::{self, Kinds};
use crate::ClusterState;
use crate::api::store::mix64;
use crate::prom::format::go_f;
use crate::prom::tsdb::{Labels, Tsdb, labels};
use crate::sim::Pace;
pub use breaker::{Breaker, breaker_at};
use destinations::destinations;
pub(crate) use releases::cdf;
pub use releases::{Quality, quality, release_is_bad};

/// Istio's default buckets for `istio_request_duration_milliseconds`.
pub const BUCKETS: [f64; 19] = [
    0.5,
    1.0,
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1000.0,
    2500.0,
    5000.0,
    10000.0,
    30000.0,
    60000.0,
    300000.0,
    600000.0,
    1_800_000.0,
    3_600_000.0,
];

/// The Envoy cluster the checkout sidecar uses to reach payments-api.
pub const PAYMENTS_CLUSTER: &str = "outbound|8080||payments-api.payments.svc.cluster.local";

/// A service with traffic in the scenario.
#[derive(Debug, Clone)]
pub struct ServiceModel {
    pub ns: &'static str,
    pub rollout: &'static str,
    pub source_workload: &'static str,
    pub source_ns: &'static str,
    /// Requests per second at the daily mean.
    pub base_rps: f64,
    /// Guarded by the payments circuit breaker.
    pub breaker: bool,
}

/// The services that carry traffic on clusters with Istio.
pub const SERVICES: &[ServiceModel] = &[
    ServiceModel {
        ns: "shop",
        rollout: "checkout",
        source_workload: "istio-ingressgateway",
        source_ns: "istio-system",
        base_rps: 42.0,
        breaker: false,
    },
    ServiceModel {
        ns: "search",
        rollout: "search-api",
        source_workload: "istio-ingressgateway",
        source_ns: "istio-system",
        base_rps: 31.0,
        breaker: false,
    },
    ServiceModel {
        ns: "payments",
        rollout: "payments-api",
        source_workload: "checkout",
        source_ns: "shop",
        base_rps: 24.0,
        breaker: true,
    },
];

/// One destination of a service's traffic at an instant.
#[derive(Debug, Clone)]
struct Dest {
    service_name: String,
    revision: String,
    quality: Quality,
    share: f64,
    ready: bool,
    /// Fixed extra traffic (preview smoke tests) instead of a share of the main rate.
    fixed_rps: Option<f64>,
    created_ms: i64,
}

/// Cumulative series values and the scenario's time origin.
pub struct Model {
    seed: u64,
    cluster: usize,
    speed: f64,
    anchor_ms: i64,
    /// Counter values restored from the TSDB, consumed as series sets are built.
    counters: HashMap<Labels, f64>,
    /// Label sets and values of each destination's series, built once (labels are costly).
    sets: HashMap<(String, String, &'static str), SeriesSet>,
    last_ejected: i64,
    /// The calling proxies export Envoy's cluster stats (mesh `proxyStatsMatcher`).
    pub envoy_stats: bool,
}

/// The series of one destination as one reporter sees it, in a fixed order: 200, 500,
/// 503 UO, 503 UH, the duration buckets (+Inf last), sum, count.
struct SeriesSet {
    labels: Vec<Labels>,
    values: Vec<f64>,
}

const SLOT_OK: usize = 0;
const SLOT_ERR: usize = 1;
const SLOT_UO: usize = 2;
const SLOT_UH: usize = 3;
const SLOT_BUCKETS: usize = 4;
const SLOT_SUM: usize = SLOT_BUCKETS + BUCKETS.len() + 1;
const SLOT_COUNT: usize = SLOT_SUM + 1;

/// Metric names written here; counters among them are restored from the TSDB on start.
const COUNTERS: &[&str] = &[
    "istio_requests_total",
    "istio_request_duration_milliseconds_bucket",
    "istio_request_duration_milliseconds_sum",
    "istio_request_duration_milliseconds_count",
    "envoy_cluster_upstream_rq_pending_overflow",
    "envoy_cluster_outlier_detection_ejections_enforced_total",
];

impl Model {
    #[must_use]
    pub fn new(seed: u64, cluster: usize, speed: f64, anchor_ms: i64) -> Self {
        Self {
            seed,
            cluster,
            speed: Pace::new(speed).speed,
            anchor_ms,
            counters: HashMap::new(),
            sets: HashMap::new(),
            last_ejected: 0,
            envoy_stats: true,
        }
    }

    /// Continues from what the TSDB holds (after the seed-time backfill): counter values and
    /// the time origin (the last backfilled sample).
    #[must_use]
    pub fn resume(state: &ClusterState) -> Self {
        let mut counters = HashMap::new();
        let mut anchor = i64::MIN;
        state.prom.tsdb.for_each_series(|s| {
            let name = s
                .labels
                .iter()
                .find(|(k, _)| k == "__name__")
                .map(|(_, v)| v.as_str())
                .unwrap_or_default();
            if let Some((t, v)) = s.samples.back() {
                if COUNTERS.contains(&name) {
                    counters.insert(s.labels.clone(), *v);
                }
                if name == "istio_requests_total" {
                    anchor = anchor.max(*t);
                }
            }
        });
        if anchor == i64::MIN {
            anchor = Utc::now().timestamp_millis();
        }
        let mut m = Self::new(
            state.options.seed,
            state.profile.index,
            state.options.speed,
            anchor,
        );
        m.counters = counters;
        m.envoy_stats = state.profile.envoy_stats;
        m
    }

    /// Simulated seconds since the scenario's origin.
    fn sim_t(&self, t_ms: i64) -> f64 {
        (t_ms - self.anchor_ms) as f64 / 1000.0 * self.speed
    }

    /// Total rate of a service at `t_ms`: a slow swell plus a little deterministic noise.
    fn rate(&self, svc: &ServiceModel, t_ms: i64) -> f64 {
        let t = self.sim_t(t_ms);
        let swell =
            1.0 + 0.18 * (2.0 * PI * t / 1800.0).sin() + 0.07 * (2.0 * PI * t / 420.0).sin();
        let tick = (t / 5.0).floor() as i64 as u64;
        let noise = (mix64(self.seed ^ u64::from(util::fnv32a(svc.rollout.as_bytes())) ^ tick)
            >> 11) as f64
            / (1u64 << 53) as f64;
        svc.base_rps * swell * (0.96 + 0.08 * noise)
    }

    fn add(&mut self, tsdb: &Tsdb, l: Labels, t_ms: i64, inc: f64) {
        let v = self.counters.entry(l.clone()).or_insert(0.0);
        *v += inc.max(0.0);
        tsdb.append(l, t_ms, *v);
    }

    /// Writes one scrape at `t_ms` covering the `dt` seconds before it.
    fn scrape(&mut self, tsdb: &Tsdb, t_ms: i64, dt: f64, services: &[(ServiceModel, Vec<Dest>)]) {
        let breaker = breaker_at(self.seed, self.cluster, self.sim_t(t_ms));
        for (svc, dests) in services {
            let total = self.rate(svc, t_ms);
            // Shares of destinations not yet created go to the others (history before a
            // canary started).
            let live: Vec<&Dest> = dests.iter().filter(|d| d.created_ms <= t_ms).collect();
            let share_sum: f64 = live
                .iter()
                .filter(|d| d.fixed_rps.is_none())
                .map(|d| d.share)
                .sum();
            for d in live {
                let rps = match d.fixed_rps {
                    Some(r) => r,
                    None if share_sum > 0.0 => total * d.share / share_sum,
                    None => 0.0,
                };
                let b = if svc.breaker && d.fixed_rps.is_none() {
                    breaker
                } else {
                    Breaker::default()
                };
                self.dest_series(tsdb, svc, d, rps, &b, t_ms, dt);
            }
        }
        if self.envoy_stats && services.iter().any(|(s, _)| s.breaker) {
            self.envoy_series(tsdb, &breaker, t_ms, dt, services);
        }
    }

    fn series_set(
        &mut self,
        svc: &ServiceModel,
        d: &Dest,
        reporter: &'static str,
    ) -> &mut SeriesSet {
        let key = (d.service_name.clone(), d.revision.clone(), reporter);
        let counters = &mut self.counters;
        self.sets.entry(key).or_insert_with(|| {
            let host = format!("{}.{}.svc.cluster.local", d.service_name, svc.ns);
            let base = |code: &str, flags: &str, le: Option<String>| -> Vec<(&str, String)> {
                let mut v = vec![
                    ("reporter", reporter.to_string()),
                    ("source_workload", svc.source_workload.to_string()),
                    ("source_workload_namespace", svc.source_ns.to_string()),
                    ("destination_workload", svc.rollout.to_string()),
                    ("destination_workload_namespace", svc.ns.to_string()),
                    ("destination_service", host.clone()),
                    ("destination_service_name", d.service_name.clone()),
                    ("destination_service_namespace", svc.ns.to_string()),
                    ("destination_canonical_service", svc.rollout.to_string()),
                    ("destination_canonical_revision", d.revision.clone()),
                    ("request_protocol", "http".to_string()),
                    ("response_code", code.to_string()),
                    ("response_flags", flags.to_string()),
                ];
                if let Some(le) = le {
                    v.push(("le", le));
                }
                v
            };
            let lab = |name: &str, pairs: Vec<(&str, String)>| {
                let p: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
                labels(name, &p)
            };
            let mut l = vec![
                lab("istio_requests_total", base("200", "-", None)),
                lab("istio_requests_total", base("500", "-", None)),
                lab("istio_requests_total", base("503", "UO", None)),
                lab("istio_requests_total", base("503", "UH", None)),
            ];
            for le in BUCKETS {
                l.push(lab(
                    "istio_request_duration_milliseconds_bucket",
                    base("200", "-", Some(go_f(le))),
                ));
            }
            l.push(lab(
                "istio_request_duration_milliseconds_bucket",
                base("200", "-", Some("+Inf".to_string())),
            ));
            l.push(lab(
                "istio_request_duration_milliseconds_sum",
                base("200", "-", None),
            ));
            l.push(lab(
                "istio_request_duration_milliseconds_count",
                base("200", "-", None),
            ));
            let values = l
                .iter()
                .map(|x| counters.remove(x).unwrap_or(0.0))
                .collect();
            SeriesSet { labels: l, values }
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn dest_series(
        &mut self,
        tsdb: &Tsdb,
        svc: &ServiceModel,
        d: &Dest,
        rps: f64,
        b: &Breaker,
        t_ms: i64,
        dt: f64,
    ) {
        let (refused_uo, refused_uh) = if d.ready {
            (rps * b.overflow, rps * b.no_healthy)
        } else {
            (0.0, rps)
        };
        let reached = (rps - refused_uo - refused_uh).max(0.0);
        let errors = reached * d.quality.error_share;
        let ok = reached - errors;
        for reporter in ["source", "destination"] {
            // The client sees its own hop on top of the server's time.
            let extra = if reporter == "source" { 1.8 } else { 0.0 };
            let median = d.quality.median_ms + extra;
            let sigma = d.quality.sigma;
            let n = ok * dt;
            let mean = median * (sigma * sigma / 2.0).exp();
            let set = self.series_set(svc, d, reporter);
            let mut add = |slot: usize, inc: f64| {
                set.values[slot] += inc.max(0.0);
                tsdb.append(set.labels[slot].clone(), t_ms, set.values[slot]);
            };
            add(SLOT_OK, ok * dt);
            add(SLOT_ERR, errors * dt);
            // Refused requests never reach the server: only the client sidecar sees them.
            if reporter == "source" && (svc.breaker || !d.ready) {
                add(SLOT_UO, refused_uo * dt);
                add(SLOT_UH, refused_uh * dt);
            }
            for (i, le) in BUCKETS.iter().enumerate() {
                add(SLOT_BUCKETS + i, n * cdf(*le, median, sigma));
            }
            add(SLOT_BUCKETS + BUCKETS.len(), n);
            add(SLOT_SUM, n * mean);
            add(SLOT_COUNT, n);
        }
    }

    fn envoy_series(
        &mut self,
        tsdb: &Tsdb,
        b: &Breaker,
        t_ms: i64,
        dt: f64,
        services: &[(ServiceModel, Vec<Dest>)],
    ) {
        let Some((svc, _)) = services.iter().find(|(s, _)| s.breaker) else {
            return;
        };
        let pairs: [(&str, &str); 3] = [
            ("cluster_name", PAYMENTS_CLUSTER),
            ("namespace", svc.source_ns),
            ("app", svc.source_workload),
        ];
        let rps = self.rate(svc, t_ms);
        self.add(
            tsdb,
            labels("envoy_cluster_upstream_rq_pending_overflow", &pairs),
            t_ms,
            rps * b.overflow * dt,
        );
        let newly = (b.ejected - self.last_ejected).max(0);
        self.last_ejected = b.ejected;
        self.add(
            tsdb,
            labels(
                "envoy_cluster_outlier_detection_ejections_enforced_total",
                &pairs,
            ),
            t_ms,
            newly as f64,
        );
        tsdb.append(
            labels("envoy_cluster_outlier_detection_ejections_active", &pairs),
            t_ms,
            b.ejected as f64,
        );
        tsdb.append(
            labels("envoy_cluster_upstream_rq_pending_active", &pairs),
            t_ms,
            b.pending.round(),
        );
        tsdb.append(labels("envoy_cluster_membership_total", &pairs), t_ms, 3.0);
        tsdb.append(
            labels("envoy_cluster_membership_healthy", &pairs),
            t_ms,
            (3 - b.ejected).max(0) as f64,
        );
    }
}

/// Writes the hour before `now_ms` from the seeded objects (every 5 s for the last quarter
/// hour, every 15 s before that, to keep start-up quick); the canary and preview series
/// start when their ReplicaSets were created.
pub fn backfill(state: &ClusterState, kinds: Kinds, now_ms: i64) {
    let now = now_ms;
    let services = destinations(state, kinds);
    let mut model = Model::new(
        state.options.seed,
        state.profile.index,
        state.options.speed,
        now,
    );
    model.envoy_stats = state.profile.envoy_stats;
    let mut t = now - 3_600_000;
    let mut prev = t - 15_000;
    while t <= now {
        model.scrape(&state.prom.tsdb, t, (t - prev) as f64 / 1000.0, &services);
        prev = t;
        t += if now - t > 900_000 { 15_000 } else { 5_000 };
    }
}

/// The live scraper.
pub async fn run(state: Arc<ClusterState>, kinds: Kinds, shutdown: CancellationToken) {
    let mut model = Model::resume(&state);
    let pace = Pace::new(state.options.speed);
    let every = pace.secs(5.0).clamp(
        std::time::Duration::from_millis(200),
        std::time::Duration::from_secs(5),
    );
    let mut last = Utc::now().timestamp_millis();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let now = Utc::now().timestamp_millis();
        let dt = (now - last) as f64 / 1000.0;
        last = now;
        let services = destinations(&state, kinds);
        model.scrape(&state.prom.tsdb, now, dt, &services);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_integrate_rates_and_canary_share_follows_weight() {
        let tsdb = Tsdb::new(std::time::Duration::from_secs(3600));
        let mut m = Model::new(1, 0, 1.0, 0);
        let q = quality(1, "x/checkout:1.8.2");
        let dest = |name: &str, share: f64, fixed_rps: Option<f64>| Dest {
            service_name: name.to_string(),
            revision: name.to_string(),
            quality: q,
            share,
            ready: true,
            fixed_rps,
            created_ms: 0,
        };
        // checkout: 42 rps before its swell and noise; a mirror fixed at 3 rps beside it.
        let svc = SERVICES[0].clone();
        assert_eq!(svc.base_rps, 42.0);
        let services = vec![(
            svc.clone(),
            vec![
                dest("checkout-stable", 80.0, None),
                dest("checkout-canary", 20.0, None),
                dest("checkout-mirror", 0.0, Some(3.0)),
            ],
        )];
        // 120 scrapes, 5 s apart: 600 s of traffic.
        for i in 1..=120 {
            m.scrape(&tsdb, i * 5000, 5.0, &services);
        }
        let mut sums: HashMap<String, f64> = HashMap::new();
        let mut monotonic = true;
        tsdb.for_each_series(|s| {
            let get = |k: &str| {
                s.labels
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
            };
            monotonic &= s
                .samples
                .iter()
                .zip(s.samples.iter().skip(1))
                .all(|(a, b)| b.1 >= a.1);
            if get("__name__").as_deref() == Some("istio_requests_total")
                && get("reporter").as_deref() == Some("source")
            {
                *sums
                    .entry(get("destination_service_name").unwrap_or_default())
                    .or_default() += s.samples.back().map_or(0.0, |x| x.1);
            }
        });
        assert!(monotonic);
        // A fixed rate integrates exactly: 3 rps × 600 s.
        assert!((sums["checkout-mirror"] - 1800.0).abs() < 1e-6, "{sums:?}");
        // The weighted ones share 42 rps × (1 ± 0.25 swell) × (1 ± 0.04 noise) over 600 s:
        // between 42 × 0.72 × 600 = 18,144 and 42 × 1.30 × 600 = 32,760 requests.
        let canary = sums["checkout-canary"];
        let stable = sums["checkout-stable"];
        assert!(
            (18_144.0..=32_760.0).contains(&(canary + stable)),
            "{sums:?}"
        );
        // Weights 80/20: the canary's share is 0.2 at every scrape, so of the total too.
        let share = canary / (canary + stable);
        assert!((share - 0.2).abs() < 1e-9, "{share}");
    }
}
