//! The real `kubectl` against the demo cluster: what it prints for get, api-resources, -o
//! yaml, get -w, patch, scale, auth can-i / whoami, unknown resources, and that it gets in
//! only with the credentials the demo wrote.
//!
//! Objects are created by the tests themselves in their own namespace; assertions look for
//! those rows only, so objects seeded by the simulated controllers do not disturb them. The
//! controllers act on the tests' objects as a real cluster would, so the tests either wait for
//! the state they settle in or pick objects whose state is known (pods no scheduler binds, an
//! HPA whose target is missing), and read a write's effect from the server's answer to it.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use kdeck_demo::testing::demo_harness::{
    DEADLINE, NS, TestDemo, deployment, eventually, find_row, kind, kubeconfig_credentials,
    kubectl_at_least, pod,
};
use kdeck_demo::testing::support;

/// A scheduler nobody runs: pods that name it stay Pending, as on a real cluster, so what
/// their owners report is known.
const NO_SCHEDULER: &str = "kdeck-it-no-scheduler";

/// A Deployment as a client creates it: no status, the Deployment controller writes that.
fn new_deployment(name: &str, replicas: i64) -> Value {
    let mut d = deployment(name, replicas, 0);
    d.as_object_mut().unwrap().remove("status");
    d
}

/// A new Deployment whose pods are never scheduled (they wait for [`NO_SCHEDULER`]).
fn unschedulable_deployment(name: &str, replicas: i64) -> Value {
    let mut d = new_deployment(name, replicas);
    d["spec"]["template"]["spec"]["schedulerName"] = json!(NO_SCHEDULER);
    d
}

/// A pod waiting for [`NO_SCHEDULER`]: Pending for as long as the test wants.
fn unscheduled_pod(name: &str, app: &str) -> Value {
    let mut p = pod(name, app);
    p["spec"].as_object_mut().unwrap().remove("nodeName");
    p["spec"]["schedulerName"] = json!(NO_SCHEDULER);
    p["status"] = json!({"phase": "Pending"});
    p
}

fn count(d: &Value, field: &str) -> i64 {
    d["status"][field].as_i64().unwrap_or(0)
}

/// Waits until the Deployment controller has observed the Deployment's latest spec and
/// `check` holds for what it wrote.
async fn observed_deployment(t: &TestDemo, name: &str, check: impl Fn(&Value) -> bool) -> Value {
    let store = &t.cluster(0).state.store;
    eventually(&format!("deployment {name} to settle"), || async {
        let d = store.get_value(kind("apps", "deployments"), NS, name)?;
        (d["status"]["observedGeneration"] == d["metadata"]["generation"] && check(&d)).then_some(d)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_prints_server_side_columns() {
    let t = TestDemo::start(1).await;
    t.insert(
        0,
        json!({"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": "it-node-1", "labels": {"node-role.kubernetes.io/worker": ""}},
               "status": {"conditions": [{"type": "Ready", "status": "True"}],
                          "nodeInfo": {"kubeletVersion": "v1.32.4"}}}),
    );
    t.insert(0, pod("it-web-1", "it-web"));
    // The controllers act on everything, so each object is one whose state they leave
    // known: a ready pod on a node stays as it is; a Deployment whose pods are never
    // scheduled settles at 3 pods, none ready; an HPA whose target does not exist keeps its
    // last metrics and replica count (the real controller only sets AbleToScale=False).
    t.insert(0, unschedulable_deployment("it-web", 3));
    t.insert(
        0,
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
               "metadata": {"name": "it-web", "namespace": NS},
               "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "it-gone"},
                        "minReplicas": 2, "maxReplicas": 10,
                        "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                                     "target": {"type": "Utilization", "averageUtilization": 70}}}]},
               "status": {"currentReplicas": 3, "desiredReplicas": 3,
                          "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu",
                                              "current": {"averageUtilization": 45}}}]}}),
    );
    observed_deployment(&t, "it-web", |d| {
        count(d, "replicas") == 3 && count(d, "updatedReplicas") == 3
    })
    .await;
    let out = t.kubectl(&["get", "nodes,pods,deploy,hpa", "-A"]).await;
    let text = out.stdout.clone();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let node = find_row(&text, "node/it-node-1").unwrap_or_else(|| panic!("{text}"));
    assert_eq!(node[1..3], ["Ready", "worker"], "{text}");
    assert_eq!(node.last().map(String::as_str), Some("v1.32.4"));
    let pod = find_row(&text, "pod/it-web-1").unwrap_or_else(|| panic!("{text}"));
    assert_eq!(
        pod[0], NS,
        "namespace column from the row's metadata: {text}"
    );
    assert_eq!(pod[2..5], ["1/1", "Running", "0"], "{text}");
    let deploy = find_row(&text, "deployment.apps/it-web").unwrap_or_else(|| panic!("{text}"));
    // READY, UP-TO-DATE, AVAILABLE (0, not blank, when the status omits it).
    assert_eq!(deploy[2..5], ["0/3", "3", "0"], "{text}");
    let hpa = find_row(&text, "horizontalpodautoscaler.autoscaling/it-web")
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(
        hpa[2..8],
        ["Deployment/it-gone", "cpu:", "45%/70%", "2", "10", "3"],
        "{text}"
    );
    // The header is kubectl's rendering of the server's column definitions.
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_resources_lists_served_kinds() {
    let t = TestDemo::start(2).await;
    let text = t.kubectl(&["api-resources"]).await.ok();
    let row = |name: &str| find_row(&text, name).unwrap_or_else(|| panic!("{name}:\n{text}"));
    assert_eq!(
        row("rollouts")[1..],
        ["ro", "argoproj.io/v1alpha1", "true", "Rollout"]
    );
    assert_eq!(row("nodes")[1..], ["no", "v1", "false", "Node"]);
    assert_eq!(
        row("deployments")[1..],
        ["deploy", "apps/v1", "true", "Deployment"]
    );
    assert_eq!(
        row("destinationrules")[1..],
        ["dr", "networking.istio.io/v1", "true", "DestinationRule"]
    );
    assert_eq!(row("backups")[1..], ["velero.io/v1", "true", "Backup"]);
    assert_eq!(
        row("applications")[1..],
        ["app,apps", "argoproj.io/v1alpha1", "true", "Application"]
    );
    // The second cluster has no Velero and no Istio.
    let eu = t
        .kubectl(&["--context", &t.cluster(1).name, "api-resources"])
        .await
        .ok();
    assert!(find_row(&eu, "rollouts").is_some(), "{eu}");
    assert!(find_row(&eu, "backups").is_none(), "{eu}");
    assert!(find_row(&eu, "virtualservices").is_none(), "{eu}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_rollouts_as_yaml() {
    let t = TestDemo::start(1).await;
    let mut ro = support::load_yaml("argo-rollouts/examples/rollout-canary.yaml");
    ro["metadata"]["namespace"] = json!(NS);
    ro["metadata"]["name"] = json!("it-canary");
    t.insert(0, ro);
    let text = t
        .kubectl(&["get", "rollouts.argoproj.io", "-A", "-o", "yaml"])
        .await
        .ok();
    let list: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(list["kind"], "List");
    let item = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["metadata"]["name"] == "it-canary")
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(item["apiVersion"], "argoproj.io/v1alpha1");
    assert_eq!(item["kind"], "Rollout");
    assert_eq!(item["metadata"]["namespace"], NS);
    assert!(
        item["spec"]["strategy"]["canary"]["steps"].is_array(),
        "{text}"
    );
    assert!(!item["metadata"]["uid"].as_str().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_prints_changes_made_meanwhile() {
    let t = TestDemo::start(1).await;
    // Pending until the test changes it: no scheduler (or kubelet) moves it meanwhile, so
    // only the change made through the API can turn it Running.
    t.insert(0, unscheduled_pod("it-watched", "it-w"));
    let mut child = t
        .kubectl_command(&["get", "pods", "-n", NS, "-w"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let mut changed = false;
    let outcome = tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push(line.clone());
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.first() != Some(&"it-watched") {
                continue;
            }
            if !changed {
                // The initial list is printed: change the pod through the API meanwhile.
                assert_eq!(fields[2], "Pending", "{line}");
                t.insert(0, pod("it-watched", "it-w"));
                changed = true;
            } else if fields[1..4] == ["1/1", "Running", "0"] {
                return true;
            }
        }
        false
    })
    .await;
    let _ = child.kill().await;
    assert_eq!(
        outcome,
        Ok(true),
        "kubectl get -w printed:\n{}",
        seen.join("\n")
    );
    // One header only: watch events carry one-row tables with the same columns.
    assert_eq!(
        seen.iter().filter(|l| l.starts_with("NAME")).count(),
        1,
        "{seen:?}"
    );
}

/// `kubectl patch deploy it-patch` with `args`, returning the object the server answered.
async fn patch_printed(t: &TestDemo, args: &[&str]) -> Value {
    let mut all = vec!["patch", "deploy", "it-patch", "-n", NS, "-o", "json"];
    all.extend_from_slice(args);
    let out = t.kubectl(&all).await.ok();
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_merge_and_status_subresource() {
    let t = TestDemo::start(1).await;
    // Let the Deployment controller and the kubelet bring it up first: from then on its
    // status stays put (two ready pods), so what a write does to it is known.
    t.insert(0, new_deployment("it-patch", 2));
    observed_deployment(&t, "it-patch", |d| {
        count(d, "readyReplicas") == 2 && count(d, "availableReplicas") == 2
    })
    .await;
    // The objects kubectl prints are the server's answers to the patches: the state each
    // write left, before any controller reacts to it.
    let d = patch_printed(&t, &["--type", "merge", "-p",
                    r#"{"metadata":{"labels":{"tier":"front"}},"spec":{"paused":true},"status":{"readyReplicas":0}}"#])
        .await;
    assert_eq!(d["metadata"]["labels"]["tier"], "front");
    assert_eq!(d["spec"]["paused"], true);
    assert_eq!(d["metadata"]["generation"], 2, "spec changed");
    assert_eq!(
        d["status"]["readyReplicas"], 2,
        "status is not changed through the main resource"
    );
    if kubectl_at_least(24, "--subresource") {
        // Strategic merge (kubectl's default) through the status subresource: only status moves.
        let d = patch_printed(&t, &["--subresource", "status", "-p",
                        r#"{"status":{"readyReplicas":1,"conditions":[{"type":"Available","status":"False"}]},"spec":{"replicas":9}}"#])
            .await;
        assert_eq!(d["status"]["readyReplicas"], 1);
        let available = d["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Available"))
            .unwrap_or_else(|| panic!("{d}"));
        assert_eq!(available["status"], "False", "merged by type: {d}");
        assert_eq!(
            d["spec"]["replicas"], 2,
            "spec is not changed through /status"
        );
        assert_eq!(d["metadata"]["generation"], 2);
    }
    // The Deployment controller owns the status: it writes back what the pods say, and
    // kubectl's READY column shows it.
    observed_deployment(&t, "it-patch", |d| count(d, "readyReplicas") == 2).await;
    let text = t
        .kubectl(&["get", "deploy", "it-patch", "-n", NS])
        .await
        .ok();
    assert_eq!(find_row(&text, "it-patch").unwrap()[1], "2/2", "{text}");
    // Custom resources refuse strategic merge patches, like a real API server.
    let mut ro = support::load_yaml("argo-rollouts/examples/rollout-canary.yaml");
    ro["metadata"]["namespace"] = json!(NS);
    t.insert(0, ro);
    let out = t
        .kubectl(&[
            "patch",
            "rollout",
            "rollout-canary",
            "-n",
            NS,
            "-p",
            r#"{"spec":{"paused":true}}"#,
        ])
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("UnsupportedMediaType") || out.stderr.contains("not supported"),
        "{}",
        out.stderr
    );
    t.kubectl(&[
        "patch",
        "rollout",
        "rollout-canary",
        "-n",
        NS,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"paused":true}}"#,
    ])
    .await
    .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_uses_the_scale_subresource() {
    let t = TestDemo::start(1).await;
    t.insert(0, new_deployment("it-scale", 2));
    let out = t
        .kubectl(&["scale", "deploy/it-scale", "-n", NS, "--replicas", "5"])
        .await
        .ok();
    assert!(out.contains("deployment.apps/it-scale scaled"), "{out}");
    let replicas = t
        .kubectl(&[
            "get",
            "deploy",
            "it-scale",
            "-n",
            NS,
            "-o",
            "jsonpath={.spec.replicas}",
        ])
        .await
        .ok();
    assert_eq!(replicas, "5");
    // The controllers act on the new size as on a real cluster: five pods come up.
    observed_deployment(&t, "it-scale", |d| count(d, "readyReplicas") == 5).await;
    let text = t
        .kubectl(&["get", "deploy", "it-scale", "-n", NS])
        .await
        .ok();
    assert_eq!(find_row(&text, "it-scale").unwrap()[1], "5/5", "{text}");
    // Rollouts scale too (their /scale reads status.HPAReplicas).
    let mut ro = support::load_yaml("argo-rollouts/examples/rollout-canary.yaml");
    ro["metadata"]["namespace"] = json!(NS);
    t.insert(0, ro);
    t.kubectl(&[
        "scale",
        "rollout/rollout-canary",
        "-n",
        NS,
        "--replicas",
        "3",
    ])
    .await
    .ok();
    let ro = t
        .cluster(0)
        .state
        .store
        .get_value(kind("argoproj.io", "rollouts"), NS, "rollout-canary")
        .unwrap();
    assert_eq!(ro["spec"]["replicas"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_can_i_follows_deny_rules() {
    let t = TestDemo::start(1).await;
    let out = t
        .kubectl(&["auth", "can-i", "patch", "deployments", "-n", NS])
        .await;
    assert_eq!((out.code, out.stdout.trim()), (0, "yes"), "{}", out.stderr);
    t.cluster(0).faults.deny(kdeck_demo::api::authz::DenyRule {
        namespace: NS.to_string(),
        reason: "change freeze".to_string(),
        ..kdeck_demo::api::authz::DenyRule::verbs("patch", "apps", "deployments")
    });
    let out = t
        .kubectl(&["auth", "can-i", "patch", "deployments", "-n", NS])
        .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout.trim(), "no - change freeze");
    // Only that namespace and verb.
    let out = t
        .kubectl(&["auth", "can-i", "patch", "deployments", "-n", "default"])
        .await;
    assert_eq!(out.stdout.trim(), "yes");
    let out = t
        .kubectl(&["auth", "can-i", "get", "deployments", "-n", NS])
        .await;
    assert_eq!(out.stdout.trim(), "yes");
    // The real request is refused the same way.
    t.insert(0, deployment("it-frozen", 1, 1));
    let out = t
        .kubectl(&[
            "patch",
            "deploy",
            "it-frozen",
            "-n",
            NS,
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"replicas":2}}"#,
        ])
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("Error from server (Forbidden)")
            && out.stderr.contains("change freeze"),
        "{}",
        out.stderr
    );
    // The read-only user, by impersonation.
    let out = t
        .kubectl(&[
            "--as",
            "demo-viewer",
            "auth",
            "can-i",
            "delete",
            "pods",
            "-n",
            NS,
        ])
        .await;
    assert_eq!(out.stdout.trim(), "no - demo-viewer is a read-only user");
    let out = t
        .kubectl(&["--as", "demo-viewer", "auth", "can-i", "list", "pods", "-A"])
        .await;
    assert_eq!(out.stdout.trim(), "yes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_whoami_names_the_user() {
    let t = TestDemo::start(1).await;
    if kubectl_at_least(26, "auth whoami") {
        let text = t.kubectl(&["auth", "whoami"]).await.ok();
        assert_eq!(
            find_row(&text, "Username").unwrap()[1],
            "demo-admin",
            "{text}"
        );
        let text = t
            .kubectl(&["--as", "demo-viewer", "auth", "whoami"])
            .await
            .ok();
        assert_eq!(
            find_row(&text, "Username").unwrap()[1],
            "demo-viewer",
            "{text}"
        );
    }
    t.insert(0, pod("it-keep", "it-keep"));
    let out = t
        .kubectl(&["--as", "demo-viewer", "delete", "pod", "it-keep", "-n", NS])
        .await;
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("Forbidden"), "{}", out.stderr);
    assert!(
        t.cluster(0)
            .state
            .store
            .get(kind("", "pods"), NS, "it-keep")
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_resources_are_not_found() {
    let t = TestDemo::start(1).await;
    let out = t.kubectl(&["get", "foos"]).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("the server doesn't have a resource type \"foos\""),
        "{}",
        out.stderr
    );
    let out = t
        .kubectl(&["get", "--raw", "/apis/nope.example.com/v1/foos"])
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains(
            "Error from server (NotFound): the server could not find the requested resource"
        ),
        "{}",
        out.stderr
    );
    let out = t.kubectl(&["get", "pod", "nope", "-n", NS]).await;
    assert!(
        out.stderr
            .contains("Error from server (NotFound): pods \"nope\" not found"),
        "{}",
        out.stderr
    );
    // Velero is not installed on the second cluster.
    let t2 = TestDemo::start(2).await;
    let out = t2
        .kubectl(&[
            "--context",
            &t2.cluster(1).name,
            "get",
            "backups.velero.io",
            "-A",
        ])
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("doesn't have a resource type"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_and_delete_from_manifests() {
    let t = TestDemo::start(1).await;
    let dir = t.dir.path().to_path_buf();
    let mut vs = support::load_yaml("istio/examples/bookinfo-virtual-service-reviews-80-20.yaml");
    vs["metadata"]["namespace"] = json!(NS);
    let file = dir.join("vs.json");
    std::fs::write(&file, serde_json::to_vec(&vs).unwrap()).unwrap();
    let out = t
        .kubectl(&["create", "-f", file.to_str().unwrap(), "--validate=false"])
        .await
        .ok();
    assert!(
        out.contains("virtualservice.networking.istio.io/reviews created"),
        "{out}"
    );
    let text = t.kubectl(&["get", "vs", "-n", NS]).await.ok();
    let row = find_row(&text, "reviews").unwrap_or_else(|| panic!("{text}"));
    // GATEWAYS is unset (a blank cell), HOSTS is the array as JSON.
    assert_eq!(row[1], "[\"reviews\"]", "{text}");
    let out = t
        .kubectl(&["delete", "-f", file.to_str().unwrap()])
        .await
        .ok();
    assert!(out.contains("deleted"), "{out}");
    assert!(
        t.cluster(0)
            .state
            .store
            .get(
                kind("networking.istio.io", "virtualservices"),
                NS,
                "reviews"
            )
            .is_none()
    );
}

/// kubectl reaches the demo over HTTPS with the CA and token of the kubeconfig it wrote;
/// without a token (a user with only a name and password; with no credentials at all kubectl
/// asks for them on its terminal) or with a wrong one it is not logged in; the viewer user of
/// that kubeconfig reads but cannot write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_needs_the_written_credentials() {
    let t = TestDemo::start(1).await;
    t.kubectl(&["get", "ns", NS]).await.ok();
    // The same cluster and CA, but a user without a token.
    let written = kubeconfig_credentials(&t.kubeconfig());
    let ca = t.dir.path().join("ca.pem");
    std::fs::write(&ca, &written.ca_pem).unwrap();
    let anonymous = t.dir.path().join("anonymous-kubeconfig");
    std::fs::write(
        &anonymous,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: anon\nclusters:\n- name: c\n  cluster:\n    server: '{}'\n    certificate-authority: '{}'\nusers:\n- name: anon\n  user: {{username: demo-admin, password: demo-admin}}\ncontexts:\n- name: anon\n  context: {{cluster: c, user: anon}}\n",
            written.server,
            ca.display()
        ),
    )
    .unwrap();
    let out = tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&anonymous)
        .arg("--cache-dir")
        .arg(t.dir.path().join("anon-cache"))
        .args(["get", "ns", NS])
        .env_remove("KUBECONFIG")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("You must be logged in to the server"),
        "{stderr}"
    );
    // The fixed token of earlier demo versions, and any other, is not this run's.
    for token in ["demo-admin", "who-knows"] {
        let out = t.kubectl(&["--token", token, "get", "ns", NS]).await;
        assert_ne!(out.code, 0);
        assert!(
            out.stderr.contains("You must be logged in to the server"),
            "{}",
            out.stderr
        );
    }
    // The kubeconfig's read-only user.
    t.insert(0, pod("it-keep", "it-keep"));
    let listed = t
        .kubectl(&["--user", "demo-viewer", "get", "pods", "-n", NS])
        .await
        .ok();
    assert!(find_row(&listed, "it-keep").is_some(), "{listed}");
    let out = t
        .kubectl(&[
            "--user",
            "demo-viewer",
            "delete",
            "pod",
            "it-keep",
            "-n",
            NS,
        ])
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("Error from server (Forbidden)")
            && out
                .stderr
                .contains("User \"demo-viewer\" cannot delete resource \"pods\""),
        "{}",
        out.stderr
    );
    assert!(
        t.cluster(0)
            .state
            .store
            .get(kind("", "pods"), NS, "it-keep")
            .is_some()
    );
}
