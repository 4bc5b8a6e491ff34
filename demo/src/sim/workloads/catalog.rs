//! The named workloads every simulated cluster runs (the scenario), as plain data: which
//! namespace, kind, image, replicas and port, which Argo CD Application tracks them, and which
//! one has a crash-looping pod. Seeding and the Argo CD simulation both read this table.

use crate::api::registry::Addon;

/// Deployment or StatefulSet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
}

/// How the workload is exposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    None,
    /// A ClusterIP Service on this port, targeting the container port.
    ClusterIp(u16),
    /// A headless Service (StatefulSet peers).
    Headless,
}

/// One named workload of the scenario.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    pub ns: &'static str,
    pub name: &'static str,
    pub kind: WorkloadKind,
    pub replicas: i64,
    /// Image repository without the tag.
    pub image: &'static str,
    /// Current tag, then older tags (newest first): one ReplicaSet per revision is kept.
    pub tags: &'static [&'static str],
    pub port: u16,
    pub port_name: &'static str,
    pub cpu_request: &'static str,
    pub memory_request: &'static str,
    /// The Argo CD Application that tracks it (`app.kubernetes.io/instance`), if any.
    pub instance: Option<&'static str>,
    pub addon: Addon,
    pub exposure: Exposure,
    /// One of its pods is crash-looping.
    pub crash_looping: bool,
    /// Explicit rolling-update budget (max surge, max unavailable) instead of 25%/25%.
    pub rolling: Option<(i64, i64)>,
}

const fn w(ns: &'static str, name: &'static str, image: &'static str) -> Workload {
    Workload {
        ns,
        name,
        kind: WorkloadKind::Deployment,
        replicas: 1,
        image,
        tags: &["latest"],
        port: 8080,
        port_name: "http",
        cpu_request: "100m",
        memory_request: "128Mi",
        instance: None,
        addon: Addon::Core,
        exposure: Exposure::ClusterIp(80),
        crash_looping: false,
        rolling: None,
    }
}

/// The named workloads, in seeding order.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        replicas: 3,
        tags: &["1.8.2", "1.8.1", "1.7.4"],
        cpu_request: "200m",
        memory_request: "256Mi",
        instance: Some("shop"),
        ..w("shop", "frontend", "registry.example.com/shop/frontend")
    },
    Workload {
        replicas: 2,
        tags: &["2.3.0", "2.2.7"],
        instance: Some("shop"),
        ..w("shop", "cart", "registry.example.com/shop/cart")
    },
    Workload {
        replicas: 3,
        tags: &["1.12.0", "1.11.4"],
        cpu_request: "250m",
        ..w("shop", "gateway", "registry.example.com/shop/gateway")
    },
    Workload {
        replicas: 2,
        tags: &["0.14.1", "0.14.0"],
        instance: Some("shop"),
        crash_looping: true,
        // One unavailable pod is tolerated, so the rollout finished with one pod crashing.
        rolling: Some((1, 1)),
        ..w("shop", "catalog", "registry.example.com/shop/catalog")
    },
    Workload {
        replicas: 2,
        tags: &["3.2.5", "3.2.4"],
        port: 9090,
        port_name: "grpc",
        cpu_request: "250m",
        memory_request: "512Mi",
        instance: Some("payments"),
        exposure: Exposure::ClusterIp(9090),
        ..w("payments", "ledger", "registry.example.com/payments/ledger")
    },
    Workload {
        kind: WorkloadKind::StatefulSet,
        replicas: 3,
        tags: &["5.1.0"],
        port: 9200,
        port_name: "http",
        cpu_request: "500m",
        memory_request: "2Gi",
        instance: Some("search"),
        exposure: Exposure::Headless,
        ..w("search", "indexer", "registry.example.com/search/indexer")
    },
    Workload {
        replicas: 2,
        tags: &["v1.11.3"],
        port: 53,
        port_name: "dns",
        memory_request: "70Mi",
        exposure: Exposure::None,
        ..w("kube-system", "coredns", "registry.k8s.io/coredns/coredns")
    },
    Workload {
        kind: WorkloadKind::StatefulSet,
        tags: &["v2.53.1"],
        port: 9090,
        port_name: "web",
        cpu_request: "500m",
        memory_request: "2Gi",
        instance: Some("platform-monitoring"),
        exposure: Exposure::ClusterIp(9090),
        ..w("monitoring", "prometheus", "quay.io/prometheus/prometheus")
    },
    Workload {
        tags: &["v2.13.0"],
        port_name: "http-metrics",
        instance: Some("platform-monitoring"),
        exposure: Exposure::ClusterIp(8080),
        ..w(
            "monitoring",
            "kube-state-metrics",
            "registry.k8s.io/kube-state-metrics/kube-state-metrics",
        )
    },
    Workload {
        tags: &["v2.13.3"],
        addon: Addon::ArgoCd,
        ..w("argocd", "argocd-server", "quay.io/argoproj/argocd")
    },
    Workload {
        tags: &["v2.13.3"],
        port: 8081,
        port_name: "server",
        addon: Addon::ArgoCd,
        exposure: Exposure::ClusterIp(8081),
        ..w("argocd", "argocd-repo-server", "quay.io/argoproj/argocd")
    },
    Workload {
        tags: &["v2.13.3"],
        port: 7000,
        port_name: "webhook",
        addon: Addon::ArgoCd,
        exposure: Exposure::None,
        ..w(
            "argocd",
            "argocd-applicationset-controller",
            "quay.io/argoproj/argocd",
        )
    },
    Workload {
        tags: &["7.0.15-alpine"],
        port: 6379,
        port_name: "redis",
        addon: Addon::ArgoCd,
        exposure: Exposure::ClusterIp(6379),
        ..w("argocd", "argocd-redis", "docker.io/library/redis")
    },
    Workload {
        kind: WorkloadKind::StatefulSet,
        tags: &["v2.13.3"],
        port: 8082,
        port_name: "metrics",
        cpu_request: "250m",
        memory_request: "1Gi",
        addon: Addon::ArgoCd,
        exposure: Exposure::None,
        ..w(
            "argocd",
            "argocd-application-controller",
            "quay.io/argoproj/argocd",
        )
    },
    Workload {
        tags: &["v1.15.2"],
        port: 8085,
        port_name: "http-monitoring",
        cpu_request: "500m",
        memory_request: "128Mi",
        instance: Some("velero"),
        addon: Addon::Velero,
        exposure: Exposure::ClusterIp(8085),
        ..w("velero", "velero", "docker.io/velero/velero")
    },
    Workload {
        tags: &["v1.7.2"],
        port: 8090,
        port_name: "metrics",
        addon: Addon::ArgoRollouts,
        exposure: Exposure::None,
        ..w(
            "argo-rollouts",
            "argo-rollouts",
            "quay.io/argoproj/argo-rollouts",
        )
    },
    Workload {
        tags: &["2.4.1", "2.4.0"],
        port_name: "metrics",
        port: 9100,
        addon: Addon::Keda,
        exposure: Exposure::None,
        ..w(
            "shop",
            "orders-worker",
            "registry.example.com/shop/orders-worker",
        )
    },
    Workload {
        tags: &["1.23.2"],
        port: 15010,
        port_name: "grpc-xds",
        cpu_request: "500m",
        memory_request: "2Gi",
        addon: Addon::Istio,
        exposure: Exposure::ClusterIp(15010),
        ..w("istio-system", "istiod", "docker.io/istio/pilot")
    },
];

/// A seeded ConfigMap: namespace, name, tracking app, data.
pub type ConfigMapSeed = (
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static [(&'static str, &'static str)],
);

/// ConfigMaps seeded beside the workloads.
pub const CONFIG_MAPS: &[ConfigMapSeed] = &[
    (
        "shop",
        "frontend-config",
        Some("shop"),
        &[
            ("CART_URL", "http://cart.shop.svc:80"),
            ("CATALOG_URL", "http://catalog.shop.svc:80"),
            ("FEATURE_NEW_CHECKOUT", "true"),
        ],
    ),
    (
        "payments",
        "ledger-config",
        Some("payments"),
        &[
            ("LEDGER_DB_POOL", "20"),
            ("LEDGER_SETTLEMENT_CRON", "0 */4 * * *"),
        ],
    ),
    (
        "search",
        "indexer-config",
        Some("search"),
        &[("INDEX_REFRESH_INTERVAL", "30s"), ("INDEX_SHARDS", "6")],
    ),
    (
        "kube-system",
        "coredns",
        None,
        &[(
            "Corefile",
            ".:53 {\n    errors\n    health {\n       lameduck 5s\n    }\n    ready\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n       pods insecure\n       fallthrough in-addr.arpa ip6.arpa\n       ttl 30\n    }\n    prometheus :9153\n    forward . /etc/resolv.conf\n    cache 30\n    loop\n    reload\n    loadbalance\n}\n",
        )],
    ),
    (
        "monitoring",
        "prometheus-config",
        Some("platform-monitoring"),
        &[(
            "prometheus.yml",
            "global:\n  scrape_interval: 30s\n  evaluation_interval: 30s\nscrape_configs:\n  - job_name: kube-state-metrics\n    static_configs:\n      - targets: ['kube-state-metrics.monitoring.svc:8080']\n  - job_name: velero\n    static_configs:\n      - targets: ['velero.velero.svc:8085']\n",
        )],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_has_the_promised_workloads() {
        let find = |ns: &str, name: &str| {
            WORKLOADS
                .iter()
                .find(|w| w.ns == ns && w.name == name)
                .copied()
        };
        assert_eq!(find("shop", "frontend").map(|w| w.replicas), Some(3));
        assert_eq!(find("shop", "cart").map(|w| w.replicas), Some(2));
        assert!(find("shop", "catalog").is_some_and(|w| w.crash_looping && w.replicas == 2));
        assert_eq!(find("payments", "ledger").map(|w| w.replicas), Some(2));
        assert_eq!(
            find("search", "indexer").map(|w| (w.kind, w.replicas)),
            Some((WorkloadKind::StatefulSet, 3))
        );
        assert_eq!(find("kube-system", "coredns").map(|w| w.replicas), Some(2));
        assert_eq!(
            find("monitoring", "prometheus").map(|w| (w.kind, w.exposure)),
            Some((WorkloadKind::StatefulSet, Exposure::ClusterIp(9090)))
        );
        assert!(WORKLOADS.iter().all(|w| !w.tags.is_empty()));
        assert_eq!(WORKLOADS.iter().filter(|w| w.crash_looping).count(), 1);
    }
}
