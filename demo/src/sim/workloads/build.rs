//! Object builders for core workloads: Deployments, StatefulSets, ReplicaSets, pods,
//! Services and ConfigMaps in the shapes the real controllers and API server produce. Seeding
//! and the simulated controllers both build objects here, so a seeded object and one created at
//! run time look the same; the Argo Rollouts seed builds its Services here too.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::catalog::{Exposure, Workload};
use crate::api::store::{mix64, random_suffix};
use crate::sim::clock;
use crate::sim::fields::{self, fnv64, safe_encode};

/// Label the Deployment controller puts on ReplicaSets and pods.
pub const TEMPLATE_HASH: &str = "pod-template-hash";
/// Annotation carrying a ReplicaSet's (and its Deployment's) revision.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// Argo CD's tracking label.
pub const INSTANCE: &str = "app.kubernetes.io/instance";
/// The label selectors match on.
pub const NAME_LABEL: &str = "app.kubernetes.io/name";
/// StatefulSet pod labels.
pub const STS_REVISION: &str = "controller-revision-hash";
pub const STS_POD_NAME: &str = "statefulset.kubernetes.io/pod-name";
pub const STS_POD_INDEX: &str = "apps.kubernetes.io/pod-index";

/// The pod template of a workload at an image tag.
#[must_use]
pub fn pod_template(w: &Workload, tag: &str) -> Value {
    let image = format!("{}:{tag}", w.image);
    let container = Container {
        name: w.name,
        image: &image,
        port_name: w.port_name,
        port: w.port,
        protocol: if w.port == 53 { "UDP" } else { "TCP" },
        cpu_request: w.cpu_request,
        memory_request: w.memory_request,
    };
    pod_template_with(workload_labels(w), &container)
}

/// The single container of a simulated pod template.
#[derive(Debug, Clone, Copy)]
pub struct Container<'a> {
    pub name: &'a str,
    pub image: &'a str,
    pub port_name: &'a str,
    pub port: u16,
    pub protocol: &'a str,
    pub cpu_request: &'a str,
    /// Also the memory limit.
    pub memory_request: &'a str,
}

/// A pod template running one container, with the fields the API server defaults, so every
/// workload (catalog or `--scale`) has templates of the same shape.
#[must_use]
pub fn pod_template_with(labels: Value, c: &Container<'_>) -> Value {
    json!({
        "metadata": { "labels": labels },
        "spec": {
            "containers": [{
                "name": c.name,
                "image": c.image,
                "imagePullPolicy": "IfNotPresent",
                "ports": [{ "name": c.port_name, "containerPort": c.port, "protocol": c.protocol }],
                "resources": {
                    "requests": { "cpu": c.cpu_request, "memory": c.memory_request },
                    "limits": { "memory": c.memory_request },
                },
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
            }],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler",
            "securityContext": {},
        },
    })
}

fn workload_labels(w: &Workload) -> Value {
    let mut labels = Map::new();
    labels.insert(NAME_LABEL.into(), json!(w.name));
    if let Some(app) = w.instance {
        labels.insert(INSTANCE.into(), json!(app));
    }
    Value::Object(labels)
}

/// A Deployment (no status; the controller writes it).
#[must_use]
pub fn deployment(w: &Workload, replicas: i64, created: DateTime<Utc>) -> Value {
    deployment_from(
        w.ns,
        w.name,
        workload_labels(w),
        pod_template(w, w.tags[0]),
        replicas,
        w.rolling,
        created,
    )
}

/// A Deployment selecting `app.kubernetes.io/name: <name>` with the given template.
#[must_use]
pub fn deployment_from(
    ns: &str,
    name: &str,
    labels: Value,
    template: Value,
    replicas: i64,
    rolling: Option<(i64, i64)>,
    created: DateTime<Utc>,
) -> Value {
    json!({
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": labels,
            "creationTimestamp": clock::fmt(created),
        },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { NAME_LABEL: name } },
            "template": template,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": match rolling {
                    Some((surge, unavailable)) => json!({ "maxSurge": surge, "maxUnavailable": unavailable }),
                    None => json!({ "maxSurge": "25%", "maxUnavailable": "25%" }),
                },
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
    })
}

/// A StatefulSet (no status).
#[must_use]
pub fn statefulset(w: &Workload, replicas: i64, created: DateTime<Utc>) -> Value {
    json!({
        "metadata": {
            "name": w.name,
            "namespace": w.ns,
            "labels": workload_labels(w),
            "creationTimestamp": clock::fmt(created),
        },
        "spec": {
            "replicas": replicas,
            "serviceName": w.name,
            "selector": { "matchLabels": { NAME_LABEL: w.name } },
            "template": pod_template(w, w.tags[0]),
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": { "type": "RollingUpdate", "rollingUpdate": { "partition": 0 } },
            "revisionHistoryLimit": 10,
            "persistentVolumeClaimRetentionPolicy": { "whenDeleted": "Retain", "whenScaled": "Retain" },
        },
    })
}

/// A deterministic ClusterIP in 10.96.0.0/16 for a service.
#[must_use]
pub fn cluster_ip(cluster: usize, ns: &str, name: &str) -> String {
    if ns == "kube-system" && name == "kube-dns" {
        return "10.96.0.10".into();
    }
    let h = fnv64(format!("{cluster}/{ns}/{name}").as_bytes());
    format!("10.96.{}.{}", (h >> 8) % 250 + 1, h % 250 + 2)
}

/// The Service exposing a workload, if it has one.
#[must_use]
pub fn service(w: &Workload, cluster: usize) -> Option<Value> {
    let svc_name = if w.name == "coredns" {
        "kube-dns"
    } else {
        w.name
    };
    let (ip, port) = match w.exposure {
        Exposure::None if w.name != "coredns" => return None,
        Exposure::None => (cluster_ip(cluster, w.ns, svc_name), 53),
        Exposure::ClusterIp(port) => (cluster_ip(cluster, w.ns, svc_name), port),
        Exposure::Headless => ("None".to_string(), w.port),
    };
    let ports = if w.name == "coredns" {
        json!([
            { "name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53 },
            { "name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53 },
            { "name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153 },
        ])
    } else {
        json!([{ "name": w.port_name, "port": port, "protocol": "TCP", "targetPort": w.port_name }])
    };
    let meta = json!({ "name": svc_name, "namespace": w.ns, "labels": workload_labels(w) });
    let mut svc = cluster_ip_service(meta, &ip, ports, json!({ NAME_LABEL: w.name }));
    if w.exposure == Exposure::Headless {
        svc["spec"]["publishNotReadyAddresses"] = json!(true);
    }
    Some(svc)
}

/// A single-stack IPv4 ClusterIP Service (`ip` may be `None`: headless) with the fields the
/// API server defaults, for any controller family that seeds Services.
#[must_use]
pub fn cluster_ip_service(metadata: Value, ip: &str, ports: Value, selector: Value) -> Value {
    json!({
        "metadata": metadata,
        "spec": {
            "type": "ClusterIP",
            "clusterIP": ip,
            "clusterIPs": [ip],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
            "sessionAffinity": "None",
            "ports": ports,
            "selector": selector,
        },
        "status": { "loadBalancer": {} },
    })
}

/// A ConfigMap.
#[must_use]
pub fn configmap(ns: &str, name: &str, instance: Option<&str>, data: &[(&str, &str)]) -> Value {
    let data: Map<String, Value> = data
        .iter()
        .map(|(k, v)| ((*k).to_string(), json!(v)))
        .collect();
    let mut cm = json!({ "metadata": { "name": name, "namespace": ns }, "data": data });
    if let Some(app) = instance {
        cm["metadata"]["labels"] = json!({ INSTANCE: app });
    }
    cm
}

/// The controller owner reference to `owner` (a stored object with kind and uid).
#[must_use]
pub fn owner_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner.get("apiVersion").cloned().unwrap_or(Value::Null),
        "kind": owner.get("kind").cloned().unwrap_or(Value::Null),
        "name": fields::name(owner),
        "uid": fields::uid(owner),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// Hash of a pod template, encoded like the Deployment controller's `pod-template-hash`: a
/// 32-bit hash whose decimal digits are mapped onto the API server's name alphabet.
#[must_use]
pub fn template_hash(template: &Value) -> String {
    // serde_json objects are key-sorted maps, so serialization is canonical.
    let bytes = serde_json::to_vec(template).unwrap_or_default();
    let h = (fnv64(&bytes) & 0xffff_ffff) as u32;
    safe_encode(&h.to_string())
}

/// The ReplicaSet a Deployment owns for one template revision (no status).
#[must_use]
pub fn replicaset(
    deployment: &Value,
    template: &Value,
    hash: &str,
    revision: i64,
    replicas: i64,
    created: DateTime<Utc>,
) -> Value {
    let name = format!("{}-{hash}", fields::name(deployment));
    let mut template = template.clone();
    template["metadata"]["labels"][TEMPLATE_HASH] = json!(hash);
    let mut selector = deployment
        .pointer("/spec/selector")
        .cloned()
        .unwrap_or_else(|| json!({ "matchLabels": {} }));
    selector["matchLabels"][TEMPLATE_HASH] = json!(hash);
    let mut labels = template["metadata"]["labels"].clone();
    labels[TEMPLATE_HASH] = json!(hash);
    let max_surge = surge_and_unavailable(deployment).0;
    json!({
        "metadata": {
            "name": name,
            "namespace": fields::namespace(deployment),
            "labels": labels,
            "annotations": {
                "deployment.kubernetes.io/desired-replicas": fields::i64_at(deployment, "/spec/replicas", 1).to_string(),
                "deployment.kubernetes.io/max-replicas": (fields::i64_at(deployment, "/spec/replicas", 1) + max_surge).to_string(),
                REVISION: revision.to_string(),
            },
            "ownerReferences": [owner_ref(deployment)],
            "creationTimestamp": clock::fmt(created),
        },
        "spec": {
            "replicas": replicas,
            "selector": selector,
            "template": template,
        },
    })
}

/// A Deployment's rolling-update budget: (max surge, max unavailable) in pods, resolved
/// against `spec.replicas` as the controller does (surge rounds up, unavailable down; both
/// zero means one unavailable).
#[must_use]
pub fn surge_and_unavailable(deployment: &Value) -> (i64, i64) {
    let replicas = fields::i64_at(deployment, "/spec/replicas", 1);
    let resolve = |ptr: &str, default: &str, round_up: bool| -> i64 {
        let v = deployment.pointer(ptr);
        match v {
            Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
            Some(Value::String(s)) => percent(s, replicas, round_up),
            _ => percent(default, replicas, round_up),
        }
    };
    let surge = resolve("/spec/strategy/rollingUpdate/maxSurge", "25%", true);
    let mut unavailable = resolve("/spec/strategy/rollingUpdate/maxUnavailable", "25%", false);
    if fields::str_at(deployment, "/spec/strategy/type") == "Recreate" {
        return (0, replicas);
    }
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

fn percent(s: &str, total: i64, round_up: bool) -> i64 {
    match s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
        Some(p) if round_up => (p * total + 99) / 100,
        Some(p) => p * total / 100,
        None => s.parse().unwrap_or(0),
    }
}

/// A new pod (not yet scheduled) from a controller's template.
#[must_use]
pub fn pod(owner: &Value, template: &Value, name: &str, created: DateTime<Utc>) -> Value {
    let ns = fields::namespace(owner);
    let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    spec["serviceAccountName"] = json!("default");
    spec["enableServiceLinks"] = json!(true);
    spec["preemptionPolicy"] = json!("PreemptLowerPriority");
    spec["priority"] = json!(0);
    spec["tolerations"] = json!([
        { "key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 },
        { "key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 },
    ]);
    let mut meta = json!({
        "name": name,
        "namespace": ns,
        "labels": template.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({})),
        "ownerReferences": [owner_ref(owner)],
        "creationTimestamp": clock::fmt(created),
    });
    if let Some(a) = template.pointer("/metadata/annotations") {
        meta["annotations"] = a.clone();
    }
    if owner.get("kind").and_then(Value::as_str) == Some("ReplicaSet") {
        meta["generateName"] = json!(format!("{}-", fields::name(owner)));
    }
    json!({
        "metadata": meta,
        "spec": spec,
        "status": { "phase": "Pending", "qosClass": "Burstable" },
    })
}

/// A name for a ReplicaSet's next pod, like `generateName` but reproducible: derived from
/// the seed, the ReplicaSet and an attempt counter `next` (advanced past the name returned, so
/// a deleted pod's name is not handed out again), skipping names `taken` reports as used.
#[must_use]
pub fn pod_name(seed: u64, rs_name: &str, next: &mut u64, taken: impl Fn(&str) -> bool) -> String {
    let base = mix64(seed ^ fnv64(rs_name.as_bytes()));
    loop {
        let candidate = format!("{rs_name}-{}", random_suffix(base.wrapping_add(*next)));
        *next += 1;
        if !taken(&candidate) {
            return candidate;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::workloads::catalog::WORKLOADS;

    #[test]
    fn template_hash_is_stable_and_template_sensitive() {
        let w = WORKLOADS[0];
        let a = template_hash(&pod_template(&w, "1.0.0"));
        let b = template_hash(&pod_template(&w, "1.0.0"));
        let c = template_hash(&pod_template(&w, "1.0.1"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.len() >= 6 && a.len() <= 10, "{a}");
        assert!(
            a.bytes()
                .all(|ch| b"bcdfghjklmnpqrstvwxz2456789".contains(&ch))
        );
    }

    #[test]
    fn rolling_budget_rounds_like_the_controller() {
        let d = |replicas: i64, surge: Value, unav: Value| {
            json!({"spec": {"replicas": replicas, "strategy": {"type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unav}}}})
        };
        assert_eq!(
            surge_and_unavailable(&d(2, json!("25%"), json!("25%"))),
            (1, 0)
        );
        assert_eq!(
            surge_and_unavailable(&d(10, json!("25%"), json!("25%"))),
            (3, 2)
        );
        assert_eq!(surge_and_unavailable(&d(3, json!(0), json!(0))), (0, 1));
        assert_eq!(
            surge_and_unavailable(&json!({"spec": {"replicas": 4}})),
            (1, 1)
        );
    }

    #[test]
    fn pod_names_are_reproducible_and_skip_taken_ones() {
        let first = pod_name(7, "web-abc", &mut 0, |_| false);
        assert_eq!(first, pod_name(7, "web-abc", &mut 0, |_| false));
        let second = pod_name(7, "web-abc", &mut 0, |n| n == first);
        assert_ne!(first, second);
        assert!(second.starts_with("web-abc-"));
        // Advancing the counter never hands out the same name twice.
        let mut next = 0;
        let a = pod_name(7, "web-abc", &mut next, |_| false);
        let b = pod_name(7, "web-abc", &mut next, |_| false);
        assert_ne!(a, b);
        assert_eq!(next, 2);
    }
}
