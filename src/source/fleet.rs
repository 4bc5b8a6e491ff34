//! The fleet metrics source: one Prometheus-compatible endpoint (Thanos Query, Mimir, Cortex)
//! holding every cluster's series under a cluster label, asked once per refresh for all
//! clusters — each query grouped by that label — instead of one Prometheus per cluster. The
//! answers become one [`FleetCluster`] per label value, named by its kubeconfig context; the
//! last good numbers are kept, marked stale, when the endpoint stops answering.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::prometheus::{PromClient, PromData, PromEndpoint, PromError};
use super::{Notifier, SourceState};
use crate::config::FleetConfig;

/// A firing alert, counted per name and severity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiringAlert {
    pub name: String,
    /// The alert's `severity` label (`critical`, `warning`, …; empty when unset).
    pub severity: String,
    pub count: u64,
}

impl FiringAlert {
    /// How bad it is for the Clusters pane: 2 critical, 1 warning or unlabelled, 0 info.
    #[must_use]
    pub fn severity_rank(&self) -> u8 {
        match self.severity.to_ascii_lowercase().as_str() {
            "critical" | "page" | "error" | "high" => 2,
            "info" | "none" | "low" => 0,
            _ => 1,
        }
    }
}

/// What the fleet endpoint says about one cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetCluster {
    /// The cluster label's value.
    pub label: String,
    /// The kubeconfig context it stands for (the value itself unless mapped in config).
    pub context: String,
    pub nodes_ready: Option<u64>,
    pub nodes: Option<u64>,
    pub pods_not_ready: Option<u64>,
    pub pods: Option<u64>,
    /// Firing alerts, worst first.
    pub alerts: Vec<FiringAlert>,
}

/// The last answer of the fleet endpoint.
#[derive(Debug, Clone)]
pub struct FleetSnapshot {
    /// Where the numbers come from (for the Clusters pane).
    pub endpoint: String,
    /// By context.
    pub clusters: BTreeMap<String, FleetCluster>,
    pub state: SourceState,
    /// When the numbers were fetched.
    pub at: Option<DateTime<Utc>>,
}

/// The fleet endpoint, polled while kdeck runs.
pub struct FleetSource {
    config: FleetConfig,
    client: PromClient,
    snapshot: Mutex<Arc<FleetSnapshot>>,
    revision: AtomicU64,
    notifier: Notifier,
}

impl std::fmt::Debug for FleetSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetSource")
            .field("endpoint", &self.client.endpoint())
            .finish_non_exhaustive()
    }
}

/// The value of each series of an instant vector, by its cluster label.
fn by_cluster(data: &PromData, label: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    data.series()
        .into_iter()
        .filter_map(|s| {
            let cluster = s.labels.get(label)?.clone();
            let v = s.points.last()?.1;
            v.is_finite().then_some((cluster, s.labels, v))
        })
        .collect()
}

fn count(v: f64) -> u64 {
    // Counts arrive as floats; a sum of 0/1 series is integral.
    v.max(0.0).round() as u64
}

impl FleetSource {
    /// The configured fleet endpoint, if any.
    #[must_use]
    pub fn new(config: &FleetConfig, notifier: Notifier) -> Option<Arc<Self>> {
        let url = config.prometheus_url.clone()?;
        let client = PromClient::new(
            PromEndpoint::Url(url.clone()),
            None,
            Duration::from_secs(config.timeout_secs.max(1)),
        )
        .with_headers(&config.headers);
        Some(Arc::new(Self {
            config: config.clone(),
            client,
            snapshot: Mutex::new(Arc::new(FleetSnapshot {
                endpoint: url,
                clusters: BTreeMap::new(),
                state: SourceState::Connecting,
                at: None,
            })),
            revision: AtomicU64::new(1),
            notifier,
        }))
    }

    #[must_use]
    pub fn snapshot(&self) -> Arc<FleetSnapshot> {
        self.snapshot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Moves whenever the snapshot changes.
    #[must_use]
    pub fn revision(&self) -> u64 {
        self.revision.load(Ordering::Relaxed)
    }

    fn publish(&self, f: impl FnOnce(&mut FleetSnapshot)) {
        let mut cur = self
            .snapshot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut next = (**cur).clone();
        f(&mut next);
        *cur = Arc::new(next);
        drop(cur);
        self.revision.fetch_add(1, Ordering::Relaxed);
        self.notifier.notify();
    }

    /// The entry of the cluster whose label value is `cluster`, by its context.
    fn entry<'a>(
        &self,
        out: &'a mut BTreeMap<String, FleetCluster>,
        cluster: &str,
    ) -> &'a mut FleetCluster {
        let context = self.config.context_of(cluster).to_string();
        out.entry(context.clone()).or_insert_with(|| FleetCluster {
            label: cluster.to_string(),
            context,
            ..FleetCluster::default()
        })
    }

    /// Asks the endpoint every query once (concurrently) and reads the answers per cluster.
    pub async fn fetch(&self) -> Result<BTreeMap<String, FleetCluster>, PromError> {
        let q = &self.config.queries;
        let ask = |t: &str| {
            let query = self.config.query(t);
            async move { self.client.query(&query, None).await }
        };
        let (nodes_ready, nodes, pods_not_ready, pods, alerts) = futures::try_join!(
            ask(&q.nodes_ready),
            ask(&q.nodes),
            ask(&q.pods_not_ready),
            ask(&q.pods),
            ask(&q.alerts),
        )?;
        let label = self.config.cluster_label.as_str();
        let mut out: BTreeMap<String, FleetCluster> = BTreeMap::new();
        for (c, _, v) in by_cluster(&nodes, label) {
            self.entry(&mut out, &c).nodes = Some(count(v));
        }
        for (c, _, v) in by_cluster(&nodes_ready, label) {
            self.entry(&mut out, &c).nodes_ready = Some(count(v));
        }
        for (c, _, v) in by_cluster(&pods, label) {
            self.entry(&mut out, &c).pods = Some(count(v));
        }
        for (c, _, v) in by_cluster(&pods_not_ready, label) {
            self.entry(&mut out, &c).pods_not_ready = Some(count(v));
        }
        for (c, labels, v) in by_cluster(&alerts, label) {
            self.entry(&mut out, &c).alerts.push(FiringAlert {
                name: labels.get("alertname").cloned().unwrap_or_default(),
                severity: labels.get("severity").cloned().unwrap_or_default(),
                count: count(v),
            });
        }
        for c in out.values_mut() {
            // No series of not-ready pods for a cluster whose pods are counted: none.
            if c.pods.is_some() && c.pods_not_ready.is_none() {
                c.pods_not_ready = Some(0);
            }
            c.alerts.sort_by(|a, b| {
                b.severity_rank()
                    .cmp(&a.severity_rank())
                    .then_with(|| a.name.cmp(&b.name))
            });
        }
        Ok(out)
    }

    /// Polls until cancelled: every `interval_secs`, or sooner again after a failure.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        let every = Duration::from_secs(self.config.interval_secs.max(5));
        let mut failures: u32 = 0;
        loop {
            let result = tokio::select! {
                () = cancel.cancelled() => return,
                r = self.fetch() => r,
            };
            let now = Utc::now();
            let wait = match result {
                Ok(clusters) => {
                    failures = 0;
                    self.publish(|s| {
                        s.clusters = clusters;
                        s.state = SourceState::Live { since: now };
                        s.at = Some(now);
                    });
                    every
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let wait = Duration::from_secs(5u64 << failures.min(3)).min(every);
                    let retry_at = now + chrono::Duration::from_std(wait).unwrap_or_default();
                    if failures == 1 {
                        log::warn!("fleet metrics endpoint: {e}");
                    }
                    let reason = e.to_string();
                    self.publish(|s| {
                        s.state = match (&s.state, s.at) {
                            (SourceState::Stale { since, .. }, _) => SourceState::Stale {
                                since: *since,
                                retry_at,
                                reason,
                            },
                            (_, Some(at)) => SourceState::Stale {
                                since: at,
                                retry_at,
                                reason,
                            },
                            _ => SourceState::Error { reason, retry_at },
                        };
                    });
                    wait
                }
            };
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}
