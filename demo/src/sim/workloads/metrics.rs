//! kube-state-metrics for the simulated cluster: Deployment, StatefulSet, HPA, node and pod
//! series computed from the stored objects (kept current from store events), an hour of
//! history written at seed time (from the HPAs' simulated past), and the alerting rules that
//! read them.
//!
//! Pod restart series are bounded: pods outside `load-*` namespaces, plus any pod that has
//! restarted, up to [`MAX_POD_SERIES`].

use std::collections::HashMap;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::Value;

use super::hpa_history::{HISTORY_SECS, STEP_SECS, Timeline};
use super::pods;
use crate::ClusterState;
use crate::api::store::{EventType, WatchEvent};
use crate::prom::{AlertRule, Labels};
use crate::sim::clock;
use crate::sim::fields;
use crate::sim::kinds::kinds;
use crate::sim::scrape::{Exporter, Gauges};

/// At most this many pods get restart series.
pub const MAX_POD_SERIES: usize = 1_000;

fn is_load(ns: &str) -> bool {
    ns.starts_with("load-")
}

fn deployment_series(g: &mut Gauges, ns: &str, name: &str, d: Option<&Value>) {
    let l = [("namespace", ns), ("deployment", name)];
    let names = [
        ("kube_deployment_spec_replicas", "/spec/replicas"),
        (
            "kube_deployment_status_replicas_available",
            "/status/availableReplicas",
        ),
        (
            "kube_deployment_status_replicas_updated",
            "/status/updatedReplicas",
        ),
        ("kube_deployment_status_replicas", "/status/replicas"),
    ];
    for (metric, ptr) in names {
        match d {
            Some(d) => {
                let default = i64::from(metric == "kube_deployment_spec_replicas");
                let v = fields::i64_at(d, ptr, default) as f64;
                g.insert(metric, &l, v, is_load(ns));
            }
            None => g.remove(metric, &l),
        }
    }
}

fn statefulset_series(g: &mut Gauges, ns: &str, name: &str, s: Option<&Value>) {
    let l = [("namespace", ns), ("statefulset", name)];
    for (metric, ptr) in [
        ("kube_statefulset_replicas", "/spec/replicas"),
        (
            "kube_statefulset_status_replicas_ready",
            "/status/readyReplicas",
        ),
    ] {
        match s {
            Some(s) => g.set(metric, &l, fields::i64_at(s, ptr, 0) as f64),
            None => g.remove(metric, &l),
        }
    }
}

fn hpa_series(g: &mut Gauges, ns: &str, name: &str, h: Option<&Value>) {
    let l = [("namespace", ns), ("horizontalpodautoscaler", name)];
    for (metric, ptr, default) in [
        (
            "kube_horizontalpodautoscaler_status_current_replicas",
            "/status/currentReplicas",
            0,
        ),
        (
            "kube_horizontalpodautoscaler_status_desired_replicas",
            "/status/desiredReplicas",
            0,
        ),
        (
            "kube_horizontalpodautoscaler_spec_max_replicas",
            "/spec/maxReplicas",
            1,
        ),
        (
            "kube_horizontalpodautoscaler_spec_min_replicas",
            "/spec/minReplicas",
            1,
        ),
    ] {
        match h {
            Some(h) => g.insert(
                metric,
                &l,
                fields::i64_at(h, ptr, default) as f64,
                is_load(ns),
            ),
            None => g.remove(metric, &l),
        }
    }
}

fn node_series(g: &mut Gauges, name: &str, n: Option<&Value>) {
    let status = n.map(|n| {
        fields::condition(fields::array_at(n, "/status/conditions"), "Ready").map_or(
            "unknown",
            |c| match fields::str_at(c, "/status") {
                "True" => "true",
                "False" => "false",
                _ => "unknown",
            },
        )
    });
    for s in ["true", "false", "unknown"] {
        let l = [("node", name), ("condition", "Ready"), ("status", s)];
        match status {
            Some(cur) => g.set(
                "kube_node_status_condition",
                &l,
                f64::from(u8::from(cur == s)),
            ),
            None => g.remove("kube_node_status_condition", &l),
        }
    }
}

/// The kube-state-metrics exporter.
#[derive(Debug, Default)]
pub struct KubeStateMetrics {
    /// Pods with restart series: (namespace, name) → container.
    pod_series: HashMap<(String, String), String>,
}

impl KubeStateMetrics {
    fn pod(&mut self, g: &mut Gauges, ns: &str, name: &str, p: Option<&Value>) {
        let key = (ns.to_string(), name.to_string());
        let Some(p) = p else {
            if let Some(container) = self.pod_series.remove(&key) {
                self.remove_pod(g, ns, name, &container);
            }
            return;
        };
        let restarts = pods::restarts(p);
        let tracked = self.pod_series.contains_key(&key);
        if !tracked && ((is_load(ns) && restarts == 0) || self.pod_series.len() >= MAX_POD_SERIES) {
            return;
        }
        let container = fields::str_at(p, "/spec/containers/0/name").to_string();
        let l = [
            ("namespace", ns),
            ("pod", name),
            ("container", container.as_str()),
        ];
        g.set(
            "kube_pod_container_status_restarts_total",
            &l,
            restarts as f64,
        );
        let waiting = fields::str_at(p, "/status/containerStatuses/0/state/waiting/reason");
        let wl = [
            ("namespace", ns),
            ("pod", name),
            ("container", container.as_str()),
            ("reason", "CrashLoopBackOff"),
        ];
        g.set(
            "kube_pod_container_status_waiting_reason",
            &wl,
            f64::from(u8::from(waiting == "CrashLoopBackOff")),
        );
        self.pod_series.insert(key, container);
    }

    fn remove_pod(&self, g: &mut Gauges, ns: &str, name: &str, container: &str) {
        g.remove(
            "kube_pod_container_status_restarts_total",
            &[("namespace", ns), ("pod", name), ("container", container)],
        );
        g.remove(
            "kube_pod_container_status_waiting_reason",
            &[
                ("namespace", ns),
                ("pod", name),
                ("container", container),
                ("reason", "CrashLoopBackOff"),
            ],
        );
    }
}

impl Exporter for KubeStateMetrics {
    fn resync(&mut self, state: &ClusterState, g: &mut Gauges) {
        let k = kinds();
        *g = Gauges::default();
        self.pod_series.clear();
        for (ty, f) in [
            (
                k.deployment,
                deployment_series as fn(&mut Gauges, &str, &str, Option<&Value>),
            ),
            (k.statefulset, statefulset_series),
            (k.hpa, hpa_series),
        ] {
            let (all, _) = state.store.list(ty, None);
            for o in all {
                f(g, &o.key.ns, &o.key.name, Some(&o.value()));
            }
        }
        let (all, _) = state.store.list(k.node, None);
        for n in all {
            node_series(g, &n.key.name, Some(&n.value()));
        }
        // Pods of `load-*` namespaces get series only once an event shows them restarting,
        // so a resync never parses thousands of pods.
        let (all, _) = state.store.list(k.pod, None);
        for p in all.iter().filter(|p| !is_load(&p.key.ns)) {
            self.pod(g, &p.key.ns, &p.key.name, Some(&p.value()));
        }
    }

    fn on_event(&mut self, _state: &ClusterState, ev: &WatchEvent, g: &mut Gauges) {
        let k = kinds();
        let gone = ev.kind == EventType::Deleted;
        let key = &ev.object.key;
        let value = if gone { None } else { Some(ev.object.value()) };
        let v = value.as_ref();
        if ev.type_id == k.deployment {
            deployment_series(g, &key.ns, &key.name, v);
        } else if ev.type_id == k.statefulset {
            statefulset_series(g, &key.ns, &key.name, v);
        } else if ev.type_id == k.hpa {
            hpa_series(g, &key.ns, &key.name, v);
        } else if ev.type_id == k.node {
            node_series(g, &key.name, v);
        } else if ev.type_id == k.pod {
            self.pod(g, &key.ns, &key.name, v);
        }
    }
}

fn label<'a>(labels: &'a Labels, name: &str) -> &'a str {
    labels
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Writes the past hour of every series: constant at today's values, except what the HPAs'
/// simulated past says (their replicas and their targets') and restart counters (which grew
/// one back-off at a time).
pub fn backfill(state: &ClusterState, now: DateTime<Utc>, timelines: &[Timeline]) {
    let mut exporter = KubeStateMetrics::default();
    let mut g = Gauges::default();
    exporter.resync(state, &mut g);
    let by_hpa: HashMap<(&str, &str), &Timeline> = timelines
        .iter()
        .map(|t| ((t.plan.ns.as_str(), t.plan.name.as_str()), t))
        .collect();
    let by_target: HashMap<(&str, &str), &Timeline> = timelines
        .iter()
        .map(|t| ((t.plan.ns.as_str(), t.plan.target.2.as_str()), t))
        .collect();
    // One back-off cycle of a crash loop in wall seconds.
    let cycle = 300.0 / state.options.speed.max(0.001) + 5.0;
    let start = now - ChronoDuration::seconds(HISTORY_SECS);
    let mut series: Vec<(Labels, f64, bool)> = Vec::new();
    g.for_each(|labels, value, slow| series.push((labels.clone(), value, slow)));
    for (labels, current, slow) in series {
        let name = label(&labels, "__name__");
        let ns = label(&labels, "namespace");
        let step = if slow { 60 } else { STEP_SECS };
        let timeline = if name.starts_with("kube_horizontalpodautoscaler_status") {
            by_hpa
                .get(&(ns, label(&labels, "horizontalpodautoscaler")))
                .copied()
        } else if name.starts_with("kube_deployment_") {
            by_target.get(&(ns, label(&labels, "deployment"))).copied()
        } else {
            None
        };
        let mut at = start;
        let mut i = 0usize;
        while at <= now {
            let v = match timeline {
                _ if at + ChronoDuration::seconds(step) > now => current,
                Some(tl) => {
                    while i + 1 < tl.points.len() && tl.points[i + 1].0 <= at {
                        i += 1;
                    }
                    let (_, cur, desired) =
                        tl.points
                            .get(i)
                            .copied()
                            .unwrap_or((at, current as i64, current as i64));
                    if name.ends_with("desired_replicas") {
                        desired as f64
                    } else {
                        cur as f64
                    }
                }
                None if name == "kube_pod_container_status_restarts_total" => {
                    let back = (clock::secs_between(at, now) / cycle).floor();
                    (current - back).max(0.0)
                }
                None => current,
            };
            state.prom.tsdb.append(labels.clone(), clock::millis(at), v);
            at += ChronoDuration::seconds(step);
        }
        // The last sample is exactly now, so the first scrape continues from it.
        state
            .prom
            .tsdb
            .append(labels.clone(), clock::millis(now), current);
    }
}

/// The kube-state alerting rules (only selectors, increase, arithmetic and comparisons).
#[must_use]
pub fn rules() -> Vec<AlertRule> {
    vec![
        AlertRule::new(
            "KubePodCrashLooping",
            "increase(kube_pod_container_status_restarts_total[15m]) > 0",
            300,
            "warning",
            "Pod is crash looping.",
            "Pod {{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) is restarting.",
        ),
        AlertRule::new(
            "KubeHpaMaxedOut",
            "kube_horizontalpodautoscaler_status_current_replicas == kube_horizontalpodautoscaler_spec_max_replicas",
            900,
            "warning",
            "HPA is running at max replicas",
            "HPA {{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} has been running at max replicas for longer than 15 minutes.",
        ),
        AlertRule::new(
            "KubeDeploymentReplicasMismatch",
            "kube_deployment_spec_replicas > kube_deployment_status_replicas_available",
            900,
            "warning",
            "Deployment has not matched the expected number of replicas.",
            "Deployment {{ $labels.namespace }}/{{ $labels.deployment }} has not matched the expected number of replicas for longer than 15 minutes.",
        ),
        AlertRule::new(
            "KubeNodeNotReady",
            "kube_node_status_condition{condition=\"Ready\",status=\"true\"} == 0",
            900,
            "warning",
            "Node is not ready.",
            "{{ $labels.node }} has been unready for more than 15 minutes.",
        ),
    ]
}

/// Adds rules to the cluster's Prometheus, skipping names already present.
pub fn add_rules(state: &ClusterState, new: Vec<AlertRule>) {
    let mut rules = state
        .prom
        .rules
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for r in new {
        if !rules.iter().any(|x| x.name == r.name) {
            rules.push(r);
        }
    }
}

/// Installs [`rules`].
pub fn install_rules(state: &ClusterState) {
    add_rules(state, rules());
}
