//! Kubernetes Events written by the simulated controllers (`core/v1` Event, the shape
//! `kubectl get events` and `kubectl describe` read).
//!
//! Like the real event recorder, repeats of the same event (same object, reason and message)
//! are folded into one Event whose `count` and `lastTimestamp` move. The name is derived from
//! those fields, so every controller can record without shared state. [`spawn_gc`] keeps the
//! total bounded and drops events older than the API server's default one-hour TTL.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::clock;
use super::fields::{self, fnv64};
use super::kinds::kinds;
use crate::ClusterState;

/// `Normal` or `Warning`, as in `Event.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Normal,
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// Who reports an event: `source.component` (and `source.host` for kubelets).
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub component: &'a str,
    pub host: Option<&'a str>,
}

impl<'a> Source<'a> {
    #[must_use]
    pub fn component(component: &'a str) -> Self {
        Self {
            component,
            host: None,
        }
    }

    #[must_use]
    pub fn kubelet(node: &'a str) -> Self {
        Self {
            component: "kubelet",
            host: Some(node),
        }
    }
}

/// At most this many Events are kept per cluster.
pub const MAX_EVENTS: usize = 1_000;
/// Events not seen again for this long are deleted (the API server's default `--event-ttl`).
pub const EVENT_TTL_SECS: i64 = 3_600;

/// Records an event about `object` (any stored object's JSON) now.
pub fn record(
    state: &ClusterState,
    object: &Value,
    severity: Severity,
    reason: &str,
    message: &str,
    source: Source<'_>,
) {
    let now = clock::now();
    record_span(
        state, object, severity, reason, message, source, now, now, 1,
    );
}

/// Records an event first seen at `first` and last at `last`, repeated `count` times (for
/// seeding history); when it already exists, it is bumped by one instead.
#[allow(clippy::too_many_arguments)]
pub fn record_span(
    state: &ClusterState,
    object: &Value,
    severity: Severity,
    reason: &str,
    message: &str,
    source: Source<'_>,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    count: i64,
) {
    let k = kinds();
    let obj_name = fields::name(object);
    let obj_ns = fields::namespace(object);
    let uid = fields::uid(object);
    let ns = if obj_ns.is_empty() { "default" } else { obj_ns };
    let digest = fnv64(format!("{uid}\n{reason}\n{message}\n{}", source.component).as_bytes());
    let name = format!("{obj_name}.{digest:016x}");
    let last_s = clock::fmt(last);
    let bumped = state.store.modify(k.event, ns, &name, |ev| {
        let n = ev.get("count").and_then(Value::as_i64).unwrap_or(1);
        ev["count"] = json!(n + 1);
        ev["lastTimestamp"] = json!(last_s);
        ev["involvedObject"]["resourceVersion"] = object["metadata"]["resourceVersion"].clone();
    });
    if bumped.is_some() {
        return;
    }
    let mut involved = json!({
        "apiVersion": object.get("apiVersion").cloned().unwrap_or(Value::Null),
        "kind": object.get("kind").cloned().unwrap_or(Value::Null),
        "name": obj_name,
        "uid": uid,
    });
    if !obj_ns.is_empty() {
        involved["namespace"] = json!(obj_ns);
    }
    if let Some(rv) = object.pointer("/metadata/resourceVersion") {
        involved["resourceVersion"] = rv.clone();
    }
    let mut src = json!({ "component": source.component });
    if let Some(host) = source.host {
        src["host"] = json!(host);
    }
    let event = json!({
        "metadata": {
            "name": name,
            "namespace": ns,
            "creationTimestamp": clock::fmt(first),
        },
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "source": src,
        "firstTimestamp": clock::fmt(first),
        "lastTimestamp": last_s,
        "count": count.max(1),
        "type": severity.as_str(),
        "eventTime": null,
        "reportingComponent": source.component,
        "reportingInstance": source.host.unwrap_or(""),
    });
    // The namespace may be gone (a deleted object's last event); nothing to record then.
    let _ = state.store.insert(k.event, event);
}

/// Deletes events beyond [`MAX_EVENTS`] (oldest first) and those older than the TTL.
/// Returns how many were deleted.
pub fn prune(state: &ClusterState) -> usize {
    let k = kinds();
    let (events, _) = state.store.list(k.event, None);
    let cutoff = clock::now() - chrono::Duration::seconds(EVENT_TTL_SECS);
    let mut aged: Vec<(DateTime<Utc>, String, String)> = events
        .iter()
        .map(|e| {
            let v = e.value();
            let last = clock::at(&v, "/lastTimestamp").unwrap_or(cutoff);
            (last, e.key.ns.clone(), e.key.name.clone())
        })
        .collect();
    aged.sort();
    let excess = aged.len().saturating_sub(MAX_EVENTS);
    let mut deleted = 0;
    for (i, (last, ns, name)) in aged.iter().enumerate() {
        if i < excess || *last < cutoff {
            if state.store.delete(k.event, ns, name, false).is_ok() {
                deleted += 1;
            }
        } else {
            break;
        }
    }
    deleted
}

/// Prunes events every half minute (wall time) until `shutdown`.
pub fn spawn_gc(state: &Arc<ClusterState>, shutdown: &CancellationToken) {
    let state = state.clone();
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {
                    prune(&state);
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClusterProfile, SimOptions};

    #[test]
    fn repeats_fold_into_one_event_and_prune_bounds_the_total() {
        let state = ClusterState::new(ClusterProfile::standard(0), SimOptions::default());
        crate::sim::namespaces::seed(&state);
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1", "resourceVersion": "5"}});
        for _ in 0..3 {
            record(
                &state,
                &pod,
                Severity::Warning,
                "BackOff",
                "Back-off restarting failed container web in pod web-1_shop(u1)",
                Source::kubelet("node-1"),
            );
        }
        let (events, _) = state.store.list(kinds().event, Some("shop"));
        assert_eq!(events.len(), 1);
        let ev = events[0].value();
        assert_eq!(ev["count"], 3);
        assert_eq!(ev["involvedObject"]["name"], "web-1");
        assert_eq!(ev["source"]["host"], "node-1");
        assert_eq!(ev["type"], "Warning");

        for i in 0..(MAX_EVENTS + 5) {
            record(
                &state,
                &pod,
                Severity::Normal,
                "Pulled",
                &format!("message {i}"),
                Source::kubelet("node-1"),
            );
        }
        assert_eq!(prune(&state), 6);
        assert_eq!(state.store.count(kinds().event), MAX_EVENTS);
    }
}
