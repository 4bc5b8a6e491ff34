//! Keeps a cluster's info current at little cost: probes `/version` (reachability and API
//! round-trip latency) only when the cluster's watches have been silent for a while, and at
//! least once a minute so the latency stays current; refreshes discovery (which add-on APIs
//! are served) every ten minutes and after an outage; asks who we are (for the audit log);
//! checks Prometheus every few minutes. A failed probe marks the cluster's sources stale, so a
//! connection that went quiet never passes for live data; it backs off while the cluster is
//! down and notices its return on its own.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;

use super::{ClusterHandle, Discovery, PromReach, Reach};
use crate::source::prometheus::PromClient;
use crate::source::set::Unreachable;
use crate::source::watch::short_error;

const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// A cluster whose watches delivered nothing for this long is probed: with the probe's
/// timeout, a dead connection is marked stale within 30 s.
const SILENCE: Duration = Duration::from_secs(20);
/// Probed at least this often anyway, so the latency column stays current.
const LATENCY_EVERY: Duration = Duration::from_secs(60);
const DISCOVERY_EVERY: Duration = Duration::from_secs(600);
const PROM_EVERY: Duration = Duration::from_secs(120);

/// Aggregated discovery (Kubernetes 1.26+): every group's resources in one answer.
const AGGREGATED: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";

/// Lists the resources the cluster serves (`plural.group`) and the versions each group
/// serves: in one request where the server offers aggregated discovery, else group by group.
pub async fn discover(client: &kube::Client) -> Result<Discovery, kube::Error> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Aggregated {
        kind: String,
        items: Vec<kube::core::discovery::v2::APIGroupDiscovery>,
    }
    let req = http::Request::get("/apis")
        .header(http::header::ACCEPT, AGGREGATED)
        .body(Vec::new())
        .map_err(kube::Error::HttpError)?;
    let answer: Aggregated = client.request(req).await?;
    if answer.kind != "APIGroupDiscoveryList" {
        // An older server answered with the plain group list.
        return discover_by_group(client).await;
    }
    let mut resources = BTreeSet::new();
    let mut versions = BTreeMap::new();
    for g in answer.items {
        let group = g.metadata.and_then(|m| m.name).unwrap_or_default();
        versions.insert(
            group.clone(),
            g.versions
                .iter()
                .filter_map(|v| v.version.clone())
                .collect(),
        );
        // Versions come in order of preference: the first one is the one kdeck reads.
        for r in g.versions.into_iter().take(1).flat_map(|v| v.resources) {
            if let Some(plural) = r.resource.filter(|p| !p.contains('/')) {
                resources.insert(format!("{plural}.{group}"));
            }
        }
    }
    Ok(Discovery {
        resources: Some(resources),
        versions,
    })
}

/// Lists the resources the cluster serves, group by group (servers before 1.26).
async fn discover_by_group(client: &kube::Client) -> Result<Discovery, kube::Error> {
    let groups = client.list_api_groups().await?;
    let versions = groups
        .groups
        .iter()
        .map(|g| {
            (
                g.name.clone(),
                g.versions.iter().map(|v| v.version.clone()).collect(),
            )
        })
        .collect();
    let lookups = groups.groups.iter().filter_map(|g| {
        let gv = g
            .preferred_version
            .as_ref()
            .map(|v| v.group_version.clone())
            .or_else(|| g.versions.first().map(|v| v.group_version.clone()))?;
        let group = g.name.clone();
        Some(async move { (group, client.list_api_group_resources(&gv).await) })
    });
    let mut resources = BTreeSet::new();
    for (group, result) in futures::future::join_all(lookups).await {
        match result {
            Ok(list) => {
                for r in list.resources {
                    if !r.name.contains('/') {
                        resources.insert(format!("{}.{group}", r.name));
                    }
                }
            }
            // One broken aggregated API must not hide the others.
            Err(e) => log::warn!("discovery of {group} failed: {}", short_error(&e)),
        }
    }
    Ok(Discovery {
        resources: Some(resources),
        versions,
    })
}

/// The username the API server sees (SelfSubjectReview), if the cluster answers it.
pub async fn whoami(client: &kube::Client) -> Option<String> {
    let body = serde_json::json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "SelfSubjectReview",
    });
    let req = http::Request::post("/apis/authentication.k8s.io/v1/selfsubjectreviews")
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(&body).ok()?)
        .ok()?;
    let resp: Value = tokio::time::timeout(PROBE_TIMEOUT, client.request(req))
        .await
        .ok()?
        .ok()?;
    resp.pointer("/status/userInfo/username")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Runs until the cluster's cancel token fires.
pub async fn run(handle: Arc<ClusterHandle>, prom: Option<PromClient>) {
    let Some(client) = handle.client().cloned() else {
        return;
    };
    let cancel = handle.cancel_token().clone();
    let mut refresh = handle.sources.refresh_receiver();
    let mut last_discovery: Option<Instant> = None;
    let mut last_prom: Option<Instant> = None;
    let mut asked_whoami = false;
    let mut failures: u32 = 0;
    let mut last_probe: Option<Instant> = None;
    // The last moment the cluster was known to answer: data is current as of then.
    let mut last_ok: Option<chrono::DateTime<Utc>> = None;
    let mut forced = true;
    loop {
        // Silent for long enough (or due for a latency reading, or failing, or asked to): probe.
        let silent_for = silence(&handle, last_probe);
        let due = forced
            || failures > 0
            || last_probe.is_none_or(|t| t.elapsed() >= LATENCY_EVERY)
            || silent_for >= SILENCE;
        if !due {
            let next_latency = last_probe.map_or(Duration::ZERO, |t| {
                LATENCY_EVERY.saturating_sub(t.elapsed())
            });
            let wait = SILENCE
                .saturating_sub(silent_for)
                .min(next_latency)
                .max(Duration::from_millis(500));
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = refresh.changed() => {
                    // Reconnect-and-relist asks everything again, discovery included.
                    forced = true;
                    last_discovery = None;
                    last_prom = None;
                }
                () = tokio::time::sleep(wait) => {}
            }
            continue;
        }
        forced = false;
        last_probe = Some(Instant::now());
        let started = Instant::now();
        let probe = tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version()).await;
        let now = Utc::now();
        let wait = match probe {
            Ok(Ok(version)) => {
                if failures > 0 {
                    // Back after an outage: the watches' connections may be dead without
                    // knowing it, and objects may have changed; list everything again.
                    handle.sources.refresh();
                    refresh.borrow_and_update();
                }
                failures = 0;
                last_ok = Some(now);
                handle.sources.set_unreachable(None);
                let latency = started.elapsed();
                handle.update_info(|i| {
                    i.version = Some(version.git_version.clone());
                    let since = match i.reach {
                        Reach::Reachable { since, .. } => since,
                        _ => now,
                    };
                    i.reach = Reach::Reachable { latency, since };
                });
                if last_discovery.is_none_or(|t| t.elapsed() >= DISCOVERY_EVERY) {
                    match discover(&client).await {
                        Ok(d) => {
                            handle.set_discovery(d);
                            last_discovery = Some(Instant::now());
                        }
                        Err(e) => {
                            log::warn!("{}: discovery failed: {}", handle.context, short_error(&e))
                        }
                    }
                }
                if !asked_whoami {
                    asked_whoami = true;
                    if let Some(user) = whoami(&client).await {
                        handle.update_info(|i| i.user = user);
                    }
                }
                if let Some(p) = &prom
                    && last_prom.is_none_or(|t| t.elapsed() >= PROM_EVERY)
                {
                    last_prom = Some(Instant::now());
                    let reach = match p.version().await {
                        Ok(version) => PromReach::Reachable { version },
                        Err(e) => PromReach::Unreachable {
                            reason: e.to_string(),
                        },
                    };
                    handle.update_info(|i| i.prometheus = reach);
                }
                Duration::ZERO
            }
            failed => {
                failures = failures.saturating_add(1);
                let reason = match failed {
                    Err(_) => "timed out".to_string(),
                    Ok(Err(e)) => short_error(&e),
                    Ok(Ok(_)) => String::new(),
                };
                let wait = Duration::from_secs(1u64 << failures.min(3)).min(Duration::from_secs(8));
                let retry_at = now + chrono::Duration::from_std(wait).unwrap_or_default();
                if failures == 1 {
                    log::warn!("{}: API server unreachable: {reason}", handle.context);
                }
                let mut since = now;
                handle.update_info(|i| {
                    if let Reach::Unreachable { since: s, .. } = i.reach {
                        since = s;
                    }
                    i.reach = Reach::Unreachable {
                        since,
                        retry_at,
                        reason: reason.clone(),
                    };
                });
                // The data on screen is as of the last answer, whatever the watches say.
                let data_since = [handle.sources.last_activity(), last_ok]
                    .into_iter()
                    .flatten()
                    .max()
                    .unwrap_or(since);
                handle.sources.set_unreachable(Some(Unreachable {
                    since: data_since,
                    retry_at,
                    reason,
                }));
                // A returning cluster may have changed; look again.
                last_discovery = None;
                last_prom = None;
                wait
            }
        };
        if wait.is_zero() {
            continue;
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = refresh.changed() => {
                last_discovery = None;
                last_prom = None;
                forced = true;
            }
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// How long the cluster's watches (or, before any, the last probe) have said nothing.
fn silence(handle: &ClusterHandle, last_probe: Option<Instant>) -> Duration {
    let since_probe = last_probe.map_or(Duration::MAX, |t| t.elapsed());
    let since_event = handle
        .sources
        .last_activity()
        .and_then(|t| (Utc::now() - t).to_std().ok())
        .unwrap_or(Duration::MAX);
    since_probe.min(since_event)
}
