//! The service mesh between the scenario's plain workloads, on clusters with Istio: their
//! DestinationRules and VirtualServices, and the Istio and Envoy series their traffic makes,
//! as the calling sidecars report them. Each service shows one breaker behaviour, steadily,
//! so the Circuit-breakers pane always has something to say:
//!
//! | service | callers | rule | what happens |
//! |---|---|---|---|
//! | `payments/ledger` | payments-api | pool limits, a stricter limit on port 9090 | pending queue overflows: 503 UO, tripping now |
//! | `shop/cart` | frontend, checkout | `maxRetries: 2`, route retries 3 × 250ms | retry budget overflows: 503 URX |
//! | `shop/catalog` | frontend | outlier detection only, `maxEjectionPercent: 100` | every host ejected: 503 UH, open |
//! | `shop/frontend` | istio-ingressgateway | load balancer and TLS only, no limits | healthy, no breaker configured |
//! | `search/indexer` | search-api | none | healthy traffic, no DestinationRule |
//!
//! Envoy's cluster stats (`envoy_cluster_*`) are written only where the cluster's sidecars
//! export them ([`crate::ClusterProfile::envoy_stats`]) and never for the ingress gateway,
//! whose proxy config leaves them off. Counters are integrals of the rates, restored from the
//! TSDB when the live scraper starts after the seed-time hour of history.

use std::collections::HashMap;
use std::f64::consts::PI;
use std::sync::Arc;

use chrono::Utc;
use promql_parser::label::{MatchOp, Matcher};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::rollouts::traffic::{BUCKETS, cdf};
use crate::ClusterState;
use crate::api::registry::{self, Addon};
use crate::prom::format::go_f;
use crate::prom::tsdb::{Labels, SeriesRef, Tsdb, labels};
use crate::sim::Pace;

/// What goes wrong (steadily) with a service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trouble {
    None,
    /// This share of requests overflows the pending queue (503 UO).
    Overflow(f64),
    /// This share of requests overflows the retry budget (503 URX).
    RetryOverflow(f64),
    /// Every host is ejected: all requests get 503 UH.
    AllEjected,
}

/// A service of the mesh scenario.
#[derive(Debug, Clone, Copy)]
pub struct MeshService {
    pub ns: &'static str,
    pub name: &'static str,
    pub port: u16,
    pub protocol: &'static str,
    /// The Envoy subset its routes use ("" for the host's default cluster).
    pub subset: &'static str,
    /// The `version` label of its pods.
    pub version: &'static str,
    pub hosts: u32,
    /// (namespace, workload, requests per second).
    pub callers: &'static [(&'static str, &'static str, f64)],
    pub trouble: Trouble,
    /// Share of the requests that reach a host answered 500.
    pub error_share: f64,
    pub median_ms: f64,
    /// Connection-pool load of each caller's Envoy: (pending, active requests, connections).
    pub load: (f64, f64, f64),
}

pub const GATEWAY: &str = "istio-ingressgateway";

pub const SERVICES: &[MeshService] = &[
    MeshService {
        ns: "payments",
        name: "ledger",
        port: 9090,
        protocol: "grpc",
        subset: "stable",
        version: "3.2.5",
        hosts: 2,
        callers: &[("payments", "payments-api", 18.0)],
        trouble: Trouble::Overflow(0.05),
        error_share: 0.002,
        median_ms: 12.0,
        load: (16.0, 48.0, 12.0),
    },
    MeshService {
        ns: "shop",
        name: "cart",
        port: 80,
        protocol: "http",
        subset: "",
        version: "2.3.0",
        hosts: 2,
        callers: &[("shop", "frontend", 30.0), ("shop", "checkout", 6.0)],
        trouble: Trouble::RetryOverflow(0.02),
        error_share: 0.03,
        median_ms: 18.0,
        load: (2.0, 60.0, 20.0),
    },
    MeshService {
        ns: "shop",
        name: "catalog",
        port: 80,
        protocol: "http",
        subset: "",
        version: "0.14.1",
        hosts: 2,
        callers: &[("shop", "frontend", 20.0)],
        trouble: Trouble::AllEjected,
        error_share: 0.0,
        median_ms: 25.0,
        load: (0.0, 0.0, 0.0),
    },
    MeshService {
        ns: "shop",
        name: "frontend",
        port: 80,
        protocol: "http",
        subset: "",
        version: "1.8.2",
        hosts: 3,
        callers: &[("istio-system", GATEWAY, 45.0)],
        trouble: Trouble::None,
        error_share: 0.004,
        median_ms: 35.0,
        load: (1.0, 30.0, 24.0),
    },
    MeshService {
        ns: "search",
        name: "indexer",
        port: 9200,
        protocol: "http",
        subset: "",
        version: "5.1.0",
        hosts: 3,
        callers: &[("search", "search-api", 12.0)],
        trouble: Trouble::None,
        error_share: 0.001,
        median_ms: 60.0,
        load: (0.0, 8.0, 6.0),
    },
];

impl MeshService {
    #[must_use]
    pub fn host(&self) -> String {
        format!("{}.{}.svc.cluster.local", self.name, self.ns)
    }

    /// The calling sidecars' Envoy cluster for this service.
    #[must_use]
    pub fn cluster_name(&self) -> String {
        format!("outbound|{}|{}|{}", self.port, self.subset, self.host())
    }

    /// Share of requests refused by the breaker at `t` (seconds), and with which flag.
    #[must_use]
    pub fn trips_at(&self, t: f64) -> (f64, &'static str) {
        match self.trouble {
            Trouble::None => (0.0, ""),
            Trouble::Overflow(s) => (s * (1.0 + 0.5 * (2.0 * PI * t / 600.0).sin()), "UO"),
            Trouble::RetryOverflow(s) => (s * (1.0 + 0.5 * (2.0 * PI * t / 480.0).sin()), "URX"),
            Trouble::AllEjected => (1.0, "UH"),
        }
    }

    fn ejected(&self) -> u32 {
        if self.trouble == Trouble::AllEjected {
            self.hosts
        } else {
            0
        }
    }
}

/// Requests per second of one caller at `t`: a slow swell and a faster ripple.
fn rate(base: f64, t: f64, phase: f64) -> f64 {
    base * (1.0
        + 0.15 * (2.0 * PI * t / 1800.0 + phase).sin()
        + 0.05 * (2.0 * PI * t / 300.0).sin())
}

fn svc(name: &str) -> Option<usize> {
    registry::find("networking.istio.io", name)
}

/// The rules and routes of the mesh services.
fn objects() -> (Vec<Value>, Vec<Value>) {
    let meta =
        |ns: &str, name: &str| json!({"name": name, "namespace": ns, "labels": {"app": name}});
    let rules = vec![
        json!({"metadata": meta("payments", "ledger"), "spec": {
            "host": "ledger.payments.svc.cluster.local",
            "trafficPolicy": {
                "connectionPool": {
                    "tcp": {"maxConnections": 100, "connectTimeout": "1s"},
                    "http": {"http1MaxPendingRequests": 16, "http2MaxRequests": 100, "maxRetries": 3},
                },
                "outlierDetection": {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s"},
                // gRPC port: a tighter request limit. Port settings replace the host's whole
                // pool and outlier detection for that port (nothing is inherited).
                "portLevelSettings": [{
                    "port": {"number": 9090},
                    "connectionPool": {"http": {"http1MaxPendingRequests": 16, "http2MaxRequests": 50}},
                }],
            },
            "subsets": [{"name": "stable", "labels": {"app": "ledger", "version": "3.2.5"}}],
        }}),
        json!({"metadata": meta("shop", "cart"), "spec": {
            "host": "cart",
            "trafficPolicy": {
                "connectionPool": {"http": {"http2MaxRequests": 200, "maxRetries": 2}},
                "outlierDetection": {"consecutive5xxErrors": 5, "baseEjectionTime": "30s", "maxEjectionPercent": 50},
            },
        }}),
        json!({"metadata": meta("shop", "catalog"), "spec": {
            "host": "catalog.shop.svc.cluster.local",
            "trafficPolicy": {"outlierDetection": {
                "consecutive5xxErrors": 3, "interval": "5s", "baseEjectionTime": "1m", "maxEjectionPercent": 100,
            }},
        }}),
        json!({"metadata": meta("shop", "frontend"), "spec": {
            "host": "frontend.shop.svc.cluster.local",
            "trafficPolicy": {"loadBalancer": {"simple": "LEAST_REQUEST"}, "tls": {"mode": "ISTIO_MUTUAL"}},
            "subsets": [{"name": "v1-8", "labels": {"app": "frontend", "version": "1.8.2"}}],
        }}),
    ];
    let routes = vec![
        json!({"metadata": meta("payments", "ledger"), "spec": {
            "hosts": ["ledger.payments.svc.cluster.local"],
            "http": [{"name": "grpc", "route": [{"destination": {"host": "ledger", "subset": "stable", "port": {"number": 9090}}}],
                      "timeout": "1500ms"}],
        }}),
        json!({"metadata": meta("shop", "cart"), "spec": {
            "hosts": ["cart"],
            "http": [{"name": "default", "route": [{"destination": {"host": "cart", "port": {"number": 80}}}],
                      "retries": {"attempts": 3, "perTryTimeout": "250ms", "retryOn": "5xx,reset,connect-failure"},
                      "timeout": "2s"}],
        }}),
    ];
    (rules, routes)
}

/// Writes the rules and routes, then an hour of history.
pub fn seed(state: &ClusterState) {
    if !state.profile.has(Addon::Istio) {
        return;
    }
    let (Some(dr), Some(vs)) = (svc("destinationrules"), svc("virtualservices")) else {
        return;
    };
    let (rules, routes) = objects();
    for r in rules {
        let _ = state.store.insert(dr, r);
    }
    for r in routes {
        let _ = state.store.insert(vs, r);
    }
    let now = Utc::now().timestamp_millis();
    let mut sim = Sim::new(state);
    let mut t = now - 3_600_000;
    let mut prev = t - 15_000;
    while t <= now {
        sim.scrape(&state.prom.tsdb, t, (t - prev) as f64 / 1000.0);
        prev = t;
        t += if now - t > 900_000 { 15_000 } else { 5_000 };
    }
}

/// The live scraper: every 5 s (faster when `--speed` races), continuing the counters.
pub async fn run(state: Arc<ClusterState>, shutdown: CancellationToken) {
    let mut sim = Sim::new(&state);
    sim.resume(&state.prom.tsdb);
    let every = Pace::new(state.options.speed).secs(5.0).clamp(
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
        sim.scrape(&state.prom.tsdb, now, (now - last) as f64 / 1000.0);
        last = now;
    }
}

/// Series values between scrapes.
struct Sim {
    envoy_stats: bool,
    speed: f64,
    /// Each series' handle and value (counters accumulate).
    series: HashMap<Labels, (Option<SeriesRef>, f64)>,
}

const COUNTERS: &[&str] = &[
    "istio_requests_total",
    "istio_request_duration_milliseconds_bucket",
    "istio_request_duration_milliseconds_sum",
    "istio_request_duration_milliseconds_count",
    "envoy_cluster_upstream_rq_pending_overflow",
    "envoy_cluster_upstream_rq_retry_overflow",
];

impl Sim {
    fn new(state: &ClusterState) -> Self {
        Self {
            envoy_stats: state.profile.envoy_stats,
            speed: Pace::new(state.options.speed).speed,
            series: HashMap::new(),
        }
    }

    /// Takes the counters' values from the TSDB (the seed-time history).
    fn resume(&mut self, tsdb: &Tsdb) {
        let now = Utc::now().timestamp_millis();
        let mut selections = Vec::new();
        for s in SERVICES {
            selections.push(Matcher::new(
                MatchOp::Equal,
                "destination_service",
                &s.host(),
            ));
            selections.push(Matcher::new(
                MatchOp::Equal,
                "cluster_name",
                &s.cluster_name(),
            ));
        }
        for m in selections {
            for (l, samples) in tsdb.select(&[m], now - 900_000, now) {
                let name = crate::prom::tsdb::label_value(&l, "__name__");
                if let (true, Some((_, v))) = (COUNTERS.contains(&name), samples.last()) {
                    self.series.insert(l, (None, *v));
                }
            }
        }
    }

    fn put(&mut self, tsdb: &Tsdb, l: Labels, t_ms: i64, v: f64, counter: bool) {
        let entry = self.series.entry(l.clone()).or_insert((None, 0.0));
        if counter {
            entry.1 += v.max(0.0);
        } else {
            entry.1 = v;
        }
        let r = entry.0.get_or_insert_with(|| tsdb.series_ref(l));
        tsdb.append_ref(r, t_ms, entry.1);
    }

    fn scrape(&mut self, tsdb: &Tsdb, t_ms: i64, dt: f64) {
        let t = t_ms as f64 / 1000.0 * self.speed;
        for (i, s) in SERVICES.iter().enumerate() {
            let (trip_share, flag) = s.trips_at(t);
            for (j, (cns, caller, base)) in s.callers.iter().enumerate() {
                let rps = rate(*base, t, (i * 3 + j) as f64);
                self.requests(tsdb, s, (cns, caller), rps, (trip_share, flag), t_ms, dt);
                if self.envoy_stats && *caller != GATEWAY {
                    self.envoy(tsdb, s, (cns, caller), rps * trip_share, flag, t_ms, dt);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn requests(
        &mut self,
        tsdb: &Tsdb,
        s: &MeshService,
        (cns, caller): (&str, &str),
        rps: f64,
        (trip_share, flag): (f64, &str),
        t_ms: i64,
        dt: f64,
    ) {
        let host = s.host();
        let reached = rps * (1.0 - trip_share);
        let errors = reached * s.error_share;
        let ok = reached - errors;
        let base =
            |reporter: &'static str, code: &str, flags: &str| -> Vec<(&'static str, String)> {
                vec![
                    ("reporter", reporter.into()),
                    ("source_workload", caller.into()),
                    ("source_workload_namespace", cns.into()),
                    ("destination_workload", s.name.into()),
                    ("destination_workload_namespace", s.ns.into()),
                    ("destination_service", host.clone()),
                    ("destination_service_name", s.name.into()),
                    ("destination_service_namespace", s.ns.into()),
                    ("destination_version", s.version.into()),
                    ("destination_canonical_service", s.name.into()),
                    ("destination_canonical_revision", s.version.into()),
                    ("request_protocol", s.protocol.into()),
                    ("response_code", code.into()),
                    ("response_flags", flags.into()),
                ]
            };
        let lab = |name: &str, pairs: &[(&str, String)]| {
            let p: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            labels(name, &p)
        };
        for reporter in ["source", "destination"] {
            self.put(
                tsdb,
                lab("istio_requests_total", &base(reporter, "200", "-")),
                t_ms,
                ok * dt,
                true,
            );
            self.put(
                tsdb,
                lab("istio_requests_total", &base(reporter, "500", "-")),
                t_ms,
                errors * dt,
                true,
            );
        }
        // Refused requests never leave the caller: only its sidecar reports them, and with
        // no host chosen (UO, UH) it knows nothing of the destination's workload.
        if !flag.is_empty() {
            let mut p = base("source", "503", flag);
            if flag != "URX" {
                for (k, v) in &mut p {
                    if matches!(
                        *k,
                        "destination_workload"
                            | "destination_version"
                            | "destination_canonical_revision"
                    ) {
                        *v = "unknown".into();
                    }
                }
            }
            let l = lab("istio_requests_total", &p);
            self.put(tsdb, l, t_ms, rps * trip_share * dt, true);
        }
        let n = ok * dt;
        let sigma = 0.55;
        let mean = s.median_ms * (sigma * sigma / 2.0f64).exp();
        let hist = base("source", "200", "-");
        for le in BUCKETS {
            let mut p = hist.clone();
            p.push(("le", go_f(le)));
            let share = cdf(le, s.median_ms, sigma);
            self.put(
                tsdb,
                lab("istio_request_duration_milliseconds_bucket", &p),
                t_ms,
                n * share,
                true,
            );
        }
        let mut p = hist.clone();
        p.push(("le", "+Inf".into()));
        self.put(
            tsdb,
            lab("istio_request_duration_milliseconds_bucket", &p),
            t_ms,
            n,
            true,
        );
        self.put(
            tsdb,
            lab("istio_request_duration_milliseconds_sum", &hist),
            t_ms,
            n * mean,
            true,
        );
        self.put(
            tsdb,
            lab("istio_request_duration_milliseconds_count", &hist),
            t_ms,
            n,
            true,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn envoy(
        &mut self,
        tsdb: &Tsdb,
        s: &MeshService,
        (cns, caller): (&str, &str),
        refused: f64,
        flag: &str,
        t_ms: i64,
        dt: f64,
    ) {
        let cluster = s.cluster_name();
        let pairs = [
            ("cluster_name", cluster.as_str()),
            ("namespace", cns),
            ("app", caller),
        ];
        let l = |name: &str| labels(name, &pairs);
        let ejected = f64::from(s.ejected());
        let hosts = f64::from(s.hosts);
        let (pending, active, cx) = s.load;
        for (name, v) in [
            ("envoy_cluster_outlier_detection_ejections_active", ejected),
            ("envoy_cluster_membership_total", hosts),
            ("envoy_cluster_membership_healthy", hosts - ejected),
            ("envoy_cluster_upstream_rq_pending_active", pending),
            ("envoy_cluster_upstream_rq_active", active),
            ("envoy_cluster_upstream_cx_active", cx),
        ] {
            self.put(tsdb, l(name), t_ms, v, false);
        }
        let (uo, urx) = match flag {
            "UO" => (refused, 0.0),
            "URX" => (0.0, refused),
            _ => (0.0, 0.0),
        };
        self.put(
            tsdb,
            l("envoy_cluster_upstream_rq_pending_overflow"),
            t_ms,
            uo * dt,
            true,
        );
        self.put(
            tsdb,
            l("envoy_cluster_upstream_rq_retry_overflow"),
            t_ms,
            urx * dt,
            true,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_keeps_its_trouble() {
        for t in (0..3600).step_by(7) {
            let t = f64::from(t);
            let by_name = |n: &str| SERVICES.iter().find(|s| s.name == n).unwrap().trips_at(t);
            let (uo, flag) = by_name("ledger");
            assert!(flag == "UO" && (0.02..=0.08).contains(&uo), "{uo}");
            let (urx, flag) = by_name("cart");
            assert!(flag == "URX" && (0.005..=0.035).contains(&urx), "{urx}");
            assert_eq!(by_name("catalog"), (1.0, "UH"));
            assert_eq!(by_name("frontend"), (0.0, ""));
            assert!(rate(10.0, t, 1.0) > 7.0);
        }
    }
}
