//! `--scale N`: N extra pods for benchmarks, in namespaces `load-00`, `load-01`, … (one per
//! 1,000 pods), as Deployments of 20 replicas with their ReplicaSets, an HPA for every tenth
//! Deployment (flat load, so nothing churns) and one Argo CD Application per ten Deployments
//! (seeded by the platform module from [`deployments`]). A few pods crash-loop, chosen by seed.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::{Value, json};

use super::build::{self, INSTANCE, NAME_LABEL};
use super::hpa_history::{self, HpaPlan, Timeline};
use super::nodes::NodeInfo;
use super::seed::{self, CrashLoop};
use crate::ClusterState;
use crate::sim::kinds::kinds;
use crate::sim::rng::SimRng;

pub const PODS_PER_DEPLOYMENT: usize = 20;
pub const PODS_PER_NAMESPACE: usize = 1_000;
/// One HPA per this many Deployments, one Application per this many Deployments.
pub const GROUP: usize = 10;

/// One `--scale` Deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadDeployment {
    pub ns: String,
    pub name: String,
    pub replicas: usize,
    /// The Argo CD Application that tracks it.
    pub app: String,
    /// Position among all load Deployments.
    pub index: usize,
}

/// The namespace of the `i`th thousand pods.
#[must_use]
pub fn namespace(i: usize) -> String {
    format!("load-{i:02}")
}

/// Namespaces holding `scale` pods.
#[must_use]
pub fn namespaces(scale: usize) -> Vec<String> {
    (0..scale.div_ceil(PODS_PER_NAMESPACE))
        .map(namespace)
        .collect()
}

/// The Deployments holding `scale` pods (the last one takes the remainder).
#[must_use]
pub fn deployments(scale: usize) -> Vec<LoadDeployment> {
    let per_ns = PODS_PER_NAMESPACE / PODS_PER_DEPLOYMENT;
    (0..scale.div_ceil(PODS_PER_DEPLOYMENT))
        .map(|i| {
            let ns = namespace(i / per_ns);
            let in_ns = i % per_ns;
            LoadDeployment {
                app: format!("{ns}-g{}", in_ns / GROUP),
                name: format!("svc-{in_ns:03}"),
                ns,
                replicas: PODS_PER_DEPLOYMENT.min(scale - i * PODS_PER_DEPLOYMENT),
                index: i,
            }
        })
        .collect()
}

/// Creates the `load-*` namespaces (before anything is put in them).
pub fn seed_namespaces(state: &ClusterState) {
    let k = kinds();
    for ns in namespaces(state.options.scale) {
        let _ = state.store.insert(
            k.namespace,
            json!({
                "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }),
        );
    }
}

fn template(d: &LoadDeployment) -> Value {
    let image = format!("registry.example.com/load/{}:1.0.{}", d.name, d.index % 7);
    let container = build::Container {
        name: "app",
        image: &image,
        port_name: "http",
        port: 8080,
        protocol: "TCP",
        cpu_request: "100m",
        memory_request: "64Mi",
    };
    build::pod_template_with(json!({ NAME_LABEL: d.name, INSTANCE: d.app }), &container)
}

/// Seeds the load Deployments (with pods) and their HPAs; returns the HPAs' timelines.
pub fn seed(state: &ClusterState, nodes: &[NodeInfo], now: DateTime<Utc>) -> Vec<Timeline> {
    let scale = state.options.scale;
    if scale == 0 {
        return Vec::new();
    }
    let mut rng = SimRng::new(state.options.seed, state.profile.index, "scale");
    let created = now - ChronoDuration::days(1);
    let hpa_created = now - ChronoDuration::days(super::HPA_AGE_DAYS);
    let mut timelines = Vec::new();
    for d in deployments(scale) {
        let tpl = template(&d);
        let labels = json!({ NAME_LABEL: d.name, INSTANCE: d.app });
        let obj = build::deployment_from(
            &d.ns,
            &d.name,
            labels,
            tpl.clone(),
            d.replicas as i64,
            None,
            created,
        );
        let crash = rng.chance(0.02).then(|| CrashLoop {
            pod_index: rng.range(0, d.replicas as u64) as i64,
            restarts: 3 + rng.range(0, 30) as i64,
            exited_secs_ago: rng.range(5, 200) as i64,
        });
        let rollout = created + ChronoDuration::minutes(5);
        seed::deployment(state, nodes, obj, &[(tpl, rollout)], crash, now);
        if d.index % GROUP == 0 {
            let plan = HpaPlan {
                ns: d.ns.clone(),
                name: d.name.clone(),
                target: ("apps/v1".into(), "Deployment".into(), d.name.clone()),
                min: d.replicas as i64,
                max: d.replicas as i64 + 10,
                metrics: serde_json::json!([super::hpa::cpu_metric(70)]),
                behavior: super::hpa::default_behavior(300),
                instance: Some(d.app.clone()),
                meta: serde_json::Value::Null,
                initial: d.replicas as i64,
            };
            let tl = hpa_history::simulate(state, &plan, &plan.object(hpa_created), now);
            super::insert_hpa(state, &tl, hpa_created, now);
            timelines.push(tl);
        }
    }
    timelines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_adds_up() {
        let ds = deployments(10_000);
        assert_eq!(ds.iter().map(|d| d.replicas).sum::<usize>(), 10_000);
        assert_eq!(namespaces(10_000).len(), 10);
        assert_eq!(ds[0].ns, "load-00");
        assert_eq!(ds[49].ns, "load-00");
        assert_eq!(ds[50].ns, "load-01");
        assert_eq!(ds[11].app, "load-00-g1");
        let odd = deployments(1_030);
        assert_eq!(odd.len(), 52);
        assert_eq!(odd.last().map(|d| d.replicas), Some(10));
        assert_eq!(odd.iter().map(|d| d.replicas).sum::<usize>(), 1_030);
        assert!(deployments(0).is_empty());
    }
}
