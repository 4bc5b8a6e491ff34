//! Discovery documents: `/version`, `/api`, `/apis`, `/apis/GROUP`, the per group-version
//! `APIResourceList`s, and aggregated discovery (`apidiscovery.k8s.io/v2` and `v2beta1`, which
//! kubectl 1.30+ asks for first). All are built from the registry, limited to the kinds the
//! cluster serves (its add-ons) and not hidden by a 404 fault.

use serde_json::{Value, json};

use super::faults::FaultState;
use super::registry::{RESOURCE_TYPES, ResourceType, TypeId};
use crate::ClusterState;

/// The kinds a cluster currently shows in discovery.
#[must_use]
pub fn served(state: &ClusterState, faults: &FaultState) -> Vec<(TypeId, &'static ResourceType)> {
    RESOURCE_TYPES
        .iter()
        .enumerate()
        .filter(|(id, _)| state.store.serves(*id) && faults.kind_code(*id) != Some(404))
        .collect()
}

/// Groups (the core group, `""`, included) in registry order, each with its versions in order
/// of preference.
fn groups(state: &ClusterState, faults: &FaultState) -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for (_, t) in served(state, faults) {
        let idx = match out.iter().position(|(g, _)| *g == t.group) {
            Some(i) => i,
            None => {
                out.push((t.group, Vec::new()));
                out.len() - 1
            }
        };
        for v in t.versions {
            if !out[idx].1.contains(v) && !faults.version_hidden(t.group, v) {
                out[idx].1.push(v);
            }
        }
    }
    out
}

/// `/version`.
#[must_use]
pub fn version(state: &ClusterState) -> Value {
    let git = &state.profile.kube_version;
    let mut nums = git.trim_start_matches('v').split('.');
    let major = nums.next().unwrap_or("1").to_string();
    let minor = nums.next().unwrap_or("0").to_string();
    json!({
        "major": major,
        "minor": minor,
        "gitVersion": git,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    })
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// `/api`: the legacy `APIVersions` document.
#[must_use]
pub fn legacy_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_json(group: &str, versions: &[&str]) -> Value {
    let gv = |v: &str| json!({"groupVersion": format!("{group}/{v}"), "version": v});
    json!({
        "name": group,
        "versions": versions.iter().map(|v| gv(v)).collect::<Vec<_>>(),
        "preferredVersion": versions.first().map(|v| gv(v)).unwrap_or(Value::Null),
    })
}

/// `/apis`: every served group but the core one.
#[must_use]
pub fn group_list(state: &ClusterState, faults: &FaultState) -> Value {
    let groups: Vec<Value> = groups(state, faults)
        .iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, vs)| group_json(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/GROUP`, or `None` when the group is not served.
#[must_use]
pub fn group(state: &ClusterState, faults: &FaultState, name: &str) -> Option<Value> {
    let groups = groups(state, faults);
    let (g, vs) = groups.iter().find(|(g, _)| !g.is_empty() && *g == name)?;
    let mut doc = group_json(g, vs);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

/// Verbs of the `/status` and `/scale` subresources.
const SUBRESOURCE_VERBS: &[&str] = &["get", "patch", "update"];

/// The subresources of a kind: (name, responseKind group, version, kind, verbs).
fn subresources(
    t: &ResourceType,
    version: &str,
    status: bool,
) -> Vec<(&'static str, String, String, String, Vec<&'static str>)> {
    let mut subs = Vec::new();
    if status {
        subs.push((
            "status",
            t.group.to_string(),
            version.to_string(),
            t.kind.to_string(),
            SUBRESOURCE_VERBS.to_vec(),
        ));
    }
    if t.scale.is_some() {
        subs.push((
            "scale",
            "autoscaling".to_string(),
            "v1".to_string(),
            "Scale".to_string(),
            SUBRESOURCE_VERBS.to_vec(),
        ));
    }
    if t.group.is_empty() && t.plural == "services" {
        subs.push((
            "proxy",
            String::new(),
            "v1".to_string(),
            "ServiceProxyOptions".to_string(),
            vec!["create", "delete", "get", "patch", "update"],
        ));
    }
    subs
}

fn singular(t: &ResourceType) -> String {
    if t.singular.is_empty() {
        t.kind.to_lowercase()
    } else {
        t.singular.to_string()
    }
}

/// `/api/v1` or `/apis/GROUP/VERSION`, or `None` when not served.
#[must_use]
pub fn resource_list(
    state: &ClusterState,
    faults: &FaultState,
    group: &str,
    version: &str,
) -> Option<Value> {
    let mut resources = Vec::new();
    for (id, t) in served(state, faults) {
        if t.group != group
            || !t.versions.contains(&version)
            || faults.version_hidden(group, version)
        {
            continue;
        }
        let mut r = json!({
            "name": t.plural,
            "singularName": singular(t),
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": t.verbs(),
        });
        if !t.short_names.is_empty() {
            r["shortNames"] = json!(t.short_names);
        }
        if !t.categories.is_empty() {
            r["categories"] = json!(t.categories);
        }
        resources.push(r);
        for (sub, g, v, kind, verbs) in subresources(t, version, faults.has_status(id)) {
            let mut r = json!({
                "name": format!("{}/{sub}", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": kind,
                "verbs": verbs,
            });
            if g != t.group || v != version {
                r["group"] = json!(g);
                r["version"] = json!(v);
            }
            resources.push(r);
        }
    }
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

/// Aggregated discovery for `/api` (`legacy`, the core group only) or `/apis` (every other
/// group), in `apidiscovery.k8s.io/<api_version>`.
#[must_use]
pub fn aggregated(
    state: &ClusterState,
    faults: &FaultState,
    legacy: bool,
    api_version: &str,
) -> Value {
    let served = served(state, faults);
    let mut items = Vec::new();
    for (group, versions) in groups(state, faults) {
        if group.is_empty() != legacy {
            continue;
        }
        let versions: Vec<Value> = versions
            .iter()
            .map(|version| {
                let resources: Vec<Value> = served
                    .iter()
                    .filter(|(_, t)| t.group == group && t.versions.contains(version))
                    .map(|(id, t)| {
                        let mut r = json!({
                            "resource": t.plural,
                            "responseKind": {"group": t.group, "version": version, "kind": t.kind},
                            "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
                            "singularResource": singular(t),
                            "verbs": t.verbs(),
                        });
                        if !t.short_names.is_empty() {
                            r["shortNames"] = json!(t.short_names);
                        }
                        if !t.categories.is_empty() {
                            r["categories"] = json!(t.categories);
                        }
                        let subs: Vec<Value> = subresources(t, version, faults.has_status(*id))
                            .into_iter()
                            .map(|(sub, g, v, kind, verbs)| {
                                json!({
                                    "subresource": sub,
                                    "responseKind": {"group": g, "version": v, "kind": kind},
                                    "verbs": verbs,
                                })
                            })
                            .collect();
                        if !subs.is_empty() {
                            r["subresources"] = json!(subs);
                        }
                        r
                    })
                    .collect();
                json!({"version": version, "resources": resources, "freshness": "Current"})
            })
            .collect();
        items.push(json!({"metadata": {"name": group}, "versions": versions}));
    }
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{api_version}"),
        "metadata": {},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClusterProfile, SimOptions};

    fn cluster(index: usize) -> ClusterState {
        ClusterState::new(ClusterProfile::standard(index), SimOptions::default())
    }

    #[test]
    fn lists_only_served_groups() {
        let faults = FaultState::new(1);
        let full = group_list(&cluster(0), &faults);
        let names: Vec<&str> = full["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"velero.io") && names.contains(&"networking.istio.io"));
        assert!(!names.contains(&""));
        let partial = group_list(&cluster(1), &faults);
        assert!(!partial.to_string().contains("velero.io"));
        let istio = group(&cluster(0), &faults, "networking.istio.io").unwrap();
        assert_eq!(istio["preferredVersion"]["version"], "v1");
        assert_eq!(istio["versions"].as_array().unwrap().len(), 3);
        assert!(group(&cluster(1), &faults, "velero.io").is_none());
    }

    #[test]
    fn resource_list_has_subresources() {
        let faults = FaultState::new(1);
        let apps = resource_list(&cluster(0), &faults, "apps", "v1").unwrap();
        let res = apps["resources"].as_array().unwrap();
        let deploy = res.iter().find(|r| r["name"] == "deployments").unwrap();
        assert_eq!(deploy["shortNames"][0], "deploy");
        assert_eq!(deploy["namespaced"], true);
        let scale = res
            .iter()
            .find(|r| r["name"] == "deployments/scale")
            .unwrap();
        assert_eq!(scale["group"], "autoscaling");
        assert_eq!(scale["kind"], "Scale");
        assert!(res.iter().any(|r| r["name"] == "deployments/status"));
        let rollouts = resource_list(&cluster(0), &faults, "argoproj.io", "v1alpha1").unwrap();
        assert!(
            rollouts["resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["name"] == "rollouts/scale")
        );
        assert!(resource_list(&cluster(0), &faults, "networking.istio.io", "v1beta1").is_some());
        assert!(resource_list(&cluster(1), &faults, "velero.io", "v1").is_none());
        let core = resource_list(&cluster(0), &faults, "", "v1").unwrap();
        assert_eq!(core["groupVersion"], "v1");
        let nodes = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "nodes")
            .unwrap();
        assert_eq!(nodes["namespaced"], false);
    }

    #[test]
    fn aggregated_matches_legacy() {
        let faults = FaultState::new(1);
        let c = cluster(0);
        let core = aggregated(&c, &faults, true, "v2");
        assert_eq!(core["items"].as_array().unwrap().len(), 1);
        assert_eq!(core["items"][0]["metadata"]["name"], "");
        let apis = aggregated(&c, &faults, false, "v2");
        let apps = apis["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["metadata"]["name"] == "apps")
            .unwrap();
        let deploy = &apps["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "deployments")
            .unwrap()
            .clone();
        assert_eq!(deploy["scope"], "Namespaced");
        assert_eq!(deploy["subresources"][1]["responseKind"]["kind"], "Scale");
    }

    #[test]
    fn version_document() {
        let v = version(&cluster(1));
        assert_eq!(v["gitVersion"], "v1.31.6");
        assert_eq!(v["major"], "1");
        assert_eq!(v["minor"], "31");
    }
}
