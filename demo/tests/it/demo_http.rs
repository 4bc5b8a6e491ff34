//! The demo API server over raw HTTP: watch semantics (resume, 410, bookmarks, streaming
//! lists, selector transitions, timeouts, dropped watches), paging, tables, versions,
//! subresources, write rules, discovery, authorization, the control API and the Prometheus
//! routes.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use kdeck_demo::testing::demo_harness::{
    self, DEADLINE, NS, TestDemo, configmap, kind, plain_http, pod,
};
use kdeck_demo::testing::support;

/// Reads a watch response line by line.
struct WatchReader {
    resp: reqwest::Response,
    buf: Vec<u8>,
}

impl WatchReader {
    async fn open(t: &TestDemo, url: &str) -> Self {
        let resp = t.http().get(url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        assert_eq!(resp.headers()["content-type"], "application/json");
        Self {
            resp,
            buf: Vec::new(),
        }
    }

    /// The next event, or `None` when the server ended the stream.
    async fn next(&mut self) -> Option<Value> {
        tokio::time::timeout(DEADLINE, async {
            loop {
                if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = self.buf.drain(..=pos).collect();
                    return Some(serde_json::from_slice(&line).unwrap());
                }
                match self.resp.chunk().await {
                    Ok(Some(chunk)) => self.buf.extend_from_slice(&chunk),
                    Ok(None) | Err(_) => {
                        assert!(self.buf.is_empty(), "partial line at the end of a watch");
                        return None;
                    }
                }
            }
        })
        .await
        .expect("no watch event within the deadline")
    }

    /// The next event that is not a BOOKMARK.
    async fn next_change(&mut self) -> Option<Value> {
        loop {
            let ev = self.next().await?;
            if ev["type"] != "BOOKMARK" {
                return Some(ev);
            }
        }
    }
}

fn ev_summary(ev: &Value) -> (String, String) {
    (
        ev["type"].as_str().unwrap_or_default().to_string(),
        ev["object"]["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

fn rv_of(obj: &Value) -> u64 {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn get_json(t: &TestDemo, url: &str) -> (StatusCode, Value) {
    let resp = t.http().get(url).send().await.unwrap();
    let code = resp.status();
    (code, resp.json().await.unwrap())
}

async fn send_json(
    t: &TestDemo,
    method: reqwest::Method,
    url: &str,
    content_type: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let resp = t
        .http()
        .request(method, url)
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let code = resp.status();
    (code, resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_resumes_from_a_version_and_reports_410_once_compacted() {
    let t = TestDemo::start(1).await;
    let a = t.insert(0, configmap("it-a", "1"));
    t.insert(0, configmap("it-b", "1"));
    t.insert(0, configmap("it-a", "2"));
    let base = format!("{}/api/v1/namespaces/{NS}/configmaps?watch=1", t.url(0));
    let mut w = WatchReader::open(&t, &format!("{base}&resourceVersion={}", rv_of(&a))).await;
    assert_eq!(
        ev_summary(&w.next().await.unwrap()),
        ("ADDED".into(), "it-b".into())
    );
    let modified = w.next().await.unwrap();
    assert_eq!(ev_summary(&modified), ("MODIFIED".into(), "it-a".into()));
    assert_eq!(modified["object"]["data"]["v"], "2");
    // Live events follow the replay.
    t.cluster(0)
        .state
        .store
        .delete(kind("", "configmaps"), NS, "it-b", false)
        .unwrap();
    assert_eq!(
        ev_summary(&w.next().await.unwrap()),
        ("DELETED".into(), "it-b".into())
    );
    // Once compacted, the same start answers an ERROR event with a 410 Status, then ends.
    t.cluster(0).faults.compact();
    let mut w = WatchReader::open(&t, &format!("{base}&resourceVersion={}", rv_of(&a))).await;
    let err = w.next().await.unwrap();
    assert_eq!(err["type"], "ERROR");
    assert_eq!(err["object"]["kind"], "Status");
    assert_eq!(err["object"]["code"], 410);
    assert_eq!(err["object"]["reason"], "Expired");
    assert!(w.next().await.is_none());
    // Without a version: synthetic ADDED events for what exists.
    let mut w = WatchReader::open(&t, &format!("{base}&resourceVersion=0")).await;
    assert_eq!(
        ev_summary(&w.next().await.unwrap()),
        ("ADDED".into(), "it-a".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_list_ends_initial_events_with_a_bookmark() {
    let t = TestDemo::start_with(
        1,
        kdeck_demo::api::handler::ServerOptions {
            bookmark_interval: Duration::from_millis(200),
            ..Default::default()
        },
    )
    .await;
    for n in ["it-1", "it-2", "it-3"] {
        t.insert(0, configmap(n, "x"));
    }
    let url = format!(
        "{}/api/v1/namespaces/{NS}/configmaps?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&labelSelector=app%3Dit",
        t.url(0)
    );
    let mut w = WatchReader::open(&t, &url).await;
    let mut names = Vec::new();
    let end = loop {
        let ev = w.next().await.unwrap();
        if ev["type"] == "BOOKMARK" {
            break ev;
        }
        assert_eq!(ev["type"], "ADDED");
        names.push(
            ev["object"]["metadata"]["name"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    };
    names.sort();
    assert_eq!(names, ["it-1", "it-2", "it-3"]);
    assert_eq!(
        end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert_eq!(end["object"]["kind"], "ConfigMap");
    let changed = t.insert(0, configmap("it-2", "y"));
    let ev = w.next_change().await.unwrap();
    assert_eq!(ev_summary(&ev), ("MODIFIED".into(), "it-2".into()));
    // Periodic bookmarks carry a version at least as new as what was delivered.
    let bookmark = loop {
        let ev = w.next().await.unwrap();
        if ev["type"] == "BOOKMARK" {
            break ev;
        }
    };
    assert!(rv_of(&bookmark["object"]) >= rv_of(&changed));
    assert!(bookmark["object"]["metadata"].get("annotations").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selector_watches_see_objects_leave_and_enter() {
    let t = TestDemo::start(1).await;
    let url = format!(
        "{}/api/v1/namespaces/{NS}/configmaps?watch=1&labelSelector=app%3Dsel",
        t.url(0)
    );
    let mut w = WatchReader::open(&t, &url).await;
    let labelled = |app: &str, v: &str| {
        let mut cm = configmap("it-sel", v);
        cm["metadata"]["labels"]["app"] = json!(app);
        cm
    };
    t.insert(0, configmap("it-other", "ignored"));
    t.insert(0, labelled("sel", "1"));
    assert_eq!(
        ev_summary(&w.next().await.unwrap()),
        ("ADDED".into(), "it-sel".into())
    );
    t.insert(0, labelled("sel", "2"));
    assert_eq!(
        ev_summary(&w.next().await.unwrap()),
        ("MODIFIED".into(), "it-sel".into())
    );
    t.insert(0, labelled("gone", "3"));
    let left = w.next().await.unwrap();
    assert_eq!(ev_summary(&left), ("DELETED".into(), "it-sel".into()));
    t.insert(0, labelled("sel", "4"));
    assert_eq!(
        ev_summary(&w.next().await.unwrap()),
        ("ADDED".into(), "it-sel".into())
    );
    // Field selectors too.
    let url = format!(
        "{}/api/v1/namespaces/{NS}/pods?watch=1&fieldSelector=status.phase%3DRunning",
        t.url(0)
    );
    let mut w = WatchReader::open(&t, &url).await;
    let mut p = pod("it-p", "x");
    p["status"]["phase"] = json!("Pending");
    t.insert(0, p.clone());
    t.insert(0, pod("it-p", "x"));
    assert_eq!(
        ev_summary(&w.next().await.unwrap()),
        ("ADDED".into(), "it-p".into())
    );
    let (code, err) = get_json(
        &t,
        &format!(
            "{}/api/v1/pods?fieldSelector=spec.restartPolicy%3DAlways",
            t.url(0)
        ),
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("field label not supported")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_end_on_timeout_drop_and_kind_faults() {
    let t = TestDemo::start(1).await;
    let base = format!("{}/api/v1/namespaces/{NS}/configmaps?watch=1", t.url(0));
    let mut w = WatchReader::open(&t, &format!("{base}&timeoutSeconds=1")).await;
    assert!(
        w.next_change().await.is_none(),
        "timeoutSeconds ends the stream"
    );
    let mut w = WatchReader::open(&t, &base).await;
    t.insert(0, configmap("it-x", "1"));
    assert!(w.next().await.is_some());
    t.cluster(0).faults.drop_watches();
    assert!(w.next().await.is_none(), "drop-watches ends the stream");
    let mut w = WatchReader::open(&t, &base).await;
    assert_eq!(
        ev_summary(&w.next().await.unwrap()),
        ("ADDED".into(), "it-x".into())
    );
    t.cluster(0)
        .faults
        .fail_kind("", "configmaps", 403)
        .unwrap();
    assert!(
        w.next().await.is_none(),
        "a 403 fault ends the kind's watches"
    );
    let resp = t.http().get(&base).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let status: Value = resp.json().await.unwrap();
    assert_eq!(status["reason"], "Forbidden");
    t.cluster(0).faults.restore_kind("", "configmaps").unwrap();
    let mut w = WatchReader::open(&t, &format!("{base}&resourceVersion=0")).await;
    assert_eq!(
        ev_summary(&w.next().await.unwrap()),
        ("ADDED".into(), "it-x".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_with_continue_tokens() {
    let t = TestDemo::start(1).await;
    for i in 0..7 {
        t.insert(0, configmap(&format!("it-page-{i}"), "x"));
    }
    let base = format!(
        "{}/api/v1/configmaps?labelSelector=app%3Dit&limit=3",
        t.url(0)
    );
    let mut names = Vec::new();
    let mut url = base.clone();
    let mut versions = Vec::new();
    let mut remaining = Vec::new();
    loop {
        let (code, page) = get_json(&t, &url).await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(page["kind"], "ConfigMapList");
        versions.push(page["metadata"]["resourceVersion"].clone());
        remaining.push(page["metadata"]["remainingItemCount"].clone());
        for item in page["items"].as_array().unwrap() {
            names.push(item["metadata"]["name"].as_str().unwrap().to_string());
        }
        match page["metadata"]["continue"].as_str() {
            Some(c) => {
                url = format!("{base}&continue={c}");
                // A change between pages is reported by the watch that follows, not here.
                t.insert(0, configmap("it-page-0", "changed"));
            }
            None => break,
        }
    }
    assert_eq!(
        names,
        (0..7).map(|i| format!("it-page-{i}")).collect::<Vec<_>>()
    );
    assert!(versions.windows(2).all(|w| w[0] == w[1]), "{versions:?}");
    assert_eq!(remaining, [json!(4), json!(1), Value::Null]);
    let (code, _) = get_json(&t, &format!("{base}&continue=garbage")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_for_lists_and_single_objects() {
    let t = TestDemo::start(1).await;
    t.insert(0, pod("it-t", "x"));
    let table_accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let resp = t
        .http()
        .get(format!(
            "{}/api/v1/namespaces/{NS}/pods?includeObject=Object",
            t.url(0)
        ))
        .header("accept", table_accept)
        .send()
        .await
        .unwrap();
    let tbl: Value = resp.json().await.unwrap();
    assert_eq!(tbl["kind"], "Table");
    assert_eq!(tbl["apiVersion"], "meta.k8s.io/v1");
    let cols: Vec<&str> = tbl["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["Name", "Ready", "Status", "Restarts", "Age"]);
    let row = &tbl["rows"][0];
    assert_eq!(
        row["cells"].as_array().unwrap()[0..4],
        [json!("it-t"), json!("1/1"), json!("Running"), json!(0)]
    );
    assert_eq!(row["object"]["kind"], "Pod");
    let resp = t
        .http()
        .get(format!("{}/api/v1/namespaces/{NS}/pods/it-t", t.url(0)))
        .header("accept", table_accept)
        .send()
        .await
        .unwrap();
    let one: Value = resp.json().await.unwrap();
    assert_eq!(one["rows"].as_array().unwrap().len(), 1);
    assert_eq!(one["rows"][0]["object"]["kind"], "PartialObjectMetadata");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_version_kinds_are_served_at_each_version() {
    let t = TestDemo::start(1).await;
    let mut vs =
        support::load_yaml_docs("istio/examples/bookinfo-virtual-service-all-v1.yaml").remove(0);
    vs["metadata"]["namespace"] = json!(NS);
    vs["apiVersion"] = json!("networking.istio.io/v1beta1");
    let name = vs["metadata"]["name"].as_str().unwrap().to_string();
    let (code, created) = send_json(
        &t,
        reqwest::Method::POST,
        &format!(
            "{}/apis/networking.istio.io/v1beta1/namespaces/{NS}/virtualservices",
            t.url(0)
        ),
        "application/json",
        &vs,
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    assert_eq!(created["apiVersion"], "networking.istio.io/v1beta1");
    let stored = t
        .cluster(0)
        .state
        .store
        .get_value(kind("networking.istio.io", "virtualservices"), NS, &name)
        .unwrap();
    assert_eq!(stored["apiVersion"], "networking.istio.io/v1");
    let (_, list) = get_json(
        &t,
        &format!(
            "{}/apis/networking.istio.io/v1alpha3/virtualservices",
            t.url(0)
        ),
    )
    .await;
    assert_eq!(list["apiVersion"], "networking.istio.io/v1alpha3");
    assert_eq!(
        list["items"][0]["apiVersion"],
        "networking.istio.io/v1alpha3"
    );
    let (code, _) = get_json(
        &t,
        &format!("{}/apis/networking.istio.io/v2/virtualservices", t.url(0)),
    )
    .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_and_status_subresources() {
    let t = TestDemo::start(1).await;
    let mut ro = support::load_yaml("argo-rollouts/examples/rollout-canary.yaml");
    ro["metadata"]["namespace"] = json!(NS);
    t.insert(0, ro);
    let url = format!(
        "{}/apis/argoproj.io/v1alpha1/namespaces/{NS}/rollouts/rollout-canary",
        t.url(0)
    );
    // The rollout controller owns the status (HPAReplicas follows the ReplicaSets as they
    // scale up), so compare the Scale with the object at the same resourceVersion.
    let (scale, obj) = demo_harness::eventually(
        "a Scale read at the same version as its Rollout, with the status written",
        || async {
            let (_, obj) = get_json(&t, &url).await;
            let (code, scale) = get_json(&t, &format!("{url}/scale")).await;
            assert_eq!(code, StatusCode::OK, "{scale}");
            (scale["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
                && obj["status"]["HPAReplicas"].is_i64())
            .then_some((scale, obj))
        },
    )
    .await;
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["metadata"]["name"], "rollout-canary");
    assert_eq!(scale["spec"]["replicas"], 5);
    assert_eq!(
        scale["status"],
        json!({"replicas": obj["status"]["HPAReplicas"], "selector": obj["status"]["selector"]}),
        "{obj}"
    );
    assert_eq!(scale["status"]["selector"], "app=rollout-canary");
    // No resourceVersion in the patch: the controller writing meanwhile is no conflict.
    let (code, scaled) = send_json(
        &t,
        reqwest::Method::PATCH,
        &format!("{url}/scale"),
        "application/merge-patch+json",
        &json!({"spec": {"replicas": 7}}),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{scaled}");
    assert_eq!(scaled["spec"]["replicas"], 7);
    let (_, obj) = get_json(&t, &url).await;
    assert_eq!(obj["spec"]["replicas"], 7);
    // A PUT with the old version conflicts.
    let (code, conflict) = send_json(
        &t,
        reqwest::Method::PUT,
        &format!("{url}/scale"),
        "application/json",
        &scale,
    )
    .await;
    assert_eq!(code, StatusCode::CONFLICT, "{conflict}");
    // /status: GET is the object; a PUT changes status only. The controller keeps writing
    // the status, so a PUT of what was read may conflict: read again and retry, as clients do.
    let after = demo_harness::eventually("a PUT of /status without a conflict", || async {
        let (_, mut current) = get_json(&t, &format!("{url}/status")).await;
        assert_eq!(current["kind"], "Rollout");
        current["status"]["phase"] = json!("Paused");
        current["spec"]["replicas"] = json!(1);
        let (code, after) = send_json(
            &t,
            reqwest::Method::PUT,
            &format!("{url}/status"),
            "application/json",
            &current,
        )
        .await;
        if code == StatusCode::CONFLICT {
            return None;
        }
        assert_eq!(code, StatusCode::OK, "{after}");
        Some(after)
    })
    .await;
    assert_eq!(after["status"]["phase"], "Paused");
    assert_eq!(after["spec"]["replicas"], 7);
    // Kinds without a scale subresource do not have one.
    let (code, _) = get_json(
        &t,
        &format!("{}/api/v1/namespaces/{NS}/configmaps/x/scale", t.url(0)),
    )
    .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_patches_do_not_conflict_with_concurrent_writers() {
    let t = TestDemo::start(1).await;
    t.insert(0, demo_harness::deployment("it-busy", 1, 1));
    let state = t.cluster(0).state.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Another writer (as a controller would be) changes the object all the time.
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0_u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                state
                    .store
                    .modify(kind("apps", "deployments"), NS, "it-busy", |d| {
                        d["metadata"]["annotations"] = json!({"it/tick": n.to_string()});
                    });
            }
        })
    };
    let url = format!(
        "{}/apis/apps/v1/namespaces/{NS}/deployments/it-busy/scale",
        t.url(0)
    );
    // A patch without a resourceVersion has no precondition: none of them may be refused.
    let mut refused = Vec::new();
    for i in 0..200 {
        let (code, body) = send_json(
            &t,
            reqwest::Method::PATCH,
            &url,
            "application/merge-patch+json",
            &json!({"spec": {"replicas": i % 7}}),
        )
        .await;
        if code != StatusCode::OK {
            refused.push((code, body));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert!(
        refused.is_empty(),
        "{} refused: {:?}",
        refused.len(),
        refused.first()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_follow_api_server_rules() {
    let t = TestDemo::start(1).await;
    let coll = format!("{}/api/v1/namespaces/{NS}/configmaps", t.url(0));
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "it-gen-"}, "data": {"a": "1"}});
    let (code, dry) = send_json(
        &t,
        reqwest::Method::POST,
        &format!("{coll}?dryRun=All"),
        "application/json",
        &body,
    )
    .await;
    assert_eq!(code, StatusCode::CREATED);
    let dry_name = dry["metadata"]["name"].as_str().unwrap().to_string();
    assert!(dry_name.starts_with("it-gen-"));
    assert!(
        t.cluster(0)
            .state
            .store
            .get(kind("", "configmaps"), NS, &dry_name)
            .is_none()
    );
    let (code, made) = send_json(&t, reqwest::Method::POST, &coll, "application/json", &body).await;
    assert_eq!(code, StatusCode::CREATED);
    let name = made["metadata"]["name"].as_str().unwrap().to_string();
    let url = format!("{coll}/{name}");
    let mut stale = made.clone();
    t.insert(0, {
        let mut v = made.clone();
        v["data"]["a"] = json!("2");
        v
    });
    stale["data"]["a"] = json!("3");
    let (code, err) = send_json(&t, reqwest::Method::PUT, &url, "application/json", &stale).await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(err["reason"], "Conflict");
    let (code, patched) = send_json(
        &t,
        reqwest::Method::PATCH,
        &url,
        "application/json-patch+json",
        &json!([{"op": "replace", "path": "/data/a", "value": "4"}]),
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(patched["data"]["a"], "4");
    let (code, err) = send_json(
        &t,
        reqwest::Method::PATCH,
        &url,
        "application/apply-patch+yaml",
        &json!({}),
    )
    .await;
    assert_eq!(code, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(err["reason"], "UnsupportedMediaType");
    let resp = t.http().delete(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let deleted: Value = resp.json().await.unwrap();
    assert_eq!(deleted["metadata"]["name"], name.as_str());
    let (code, err) = get_json(&t, &url).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(err["reason"], "NotFound");
    assert_eq!(err["details"]["kind"], "configmaps");
    // Namespaces must exist; collections can be deleted by selector.
    let (code, _) = send_json(
        &t,
        reqwest::Method::POST,
        &format!("{}/api/v1/namespaces/nope/configmaps", t.url(0)),
        "application/json",
        &json!({"metadata": {"name": "x"}}),
    )
    .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    t.insert(0, configmap("it-d1", "x"));
    t.insert(0, configmap("it-d2", "x"));
    let resp = t
        .http()
        .delete(format!("{coll}?labelSelector=app%3Dit"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (items, _) = t
        .cluster(0)
        .state
        .store
        .list(kind("", "configmaps"), Some(NS));
    assert!(items.iter().all(|o| o.label("app") != Some("it")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_follows_addons_and_faults() {
    let t = TestDemo::start(2).await;
    let (_, v) = get_json(&t, &format!("{}/version", t.url(1))).await;
    assert_eq!(v["gitVersion"], "v1.31.6");
    let (_, groups) = get_json(&t, &format!("{}/apis", t.url(1))).await;
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"argoproj.io") && !names.contains(&"velero.io"),
        "{names:?}"
    );
    let gv = format!("{}/apis/argoproj.io/v1alpha1", t.url(0));
    let has_rollouts = |doc: &Value| {
        doc["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "rollouts")
    };
    assert!(has_rollouts(&get_json(&t, &gv).await.1));
    t.cluster(0)
        .faults
        .fail_kind("argoproj.io", "rollouts", 404)
        .unwrap();
    assert!(
        !has_rollouts(&get_json(&t, &gv).await.1),
        "a 404 fault uninstalls the kind"
    );
    let (code, err) = get_json(
        &t,
        &format!("{}/apis/argoproj.io/v1alpha1/rollouts", t.url(0)),
    )
    .await;
    assert_eq!(
        (code, err["reason"].as_str()),
        (StatusCode::NOT_FOUND, Some("NotFound"))
    );
    let resp = t
        .http()
        .get(format!("{}/healthz", t.url(0)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
    let resp = t
        .http()
        .get(format!("{}/no/such/path", t.url(0)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let status: Value = resp.json().await.unwrap();
    assert_eq!(status["kind"], "Status");
    let agg = t
        .http()
        .get(format!("{}/apis", t.url(0)))
        .header(
            "accept",
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        agg.headers()["content-type"],
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
    let agg: Value = agg.json().await.unwrap();
    assert_eq!(agg["kind"], "APIGroupDiscoveryList");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_access_reviews() {
    let t = TestDemo::start(1).await;
    let ssr = format!(
        "{}/apis/authentication.k8s.io/v1/selfsubjectreviews",
        t.url(0)
    );
    let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    let viewer = t.http_with(Some(&t.tokens().viewer));
    let resp = viewer.post(&ssr).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let who: Value = resp.json().await.unwrap();
    assert_eq!(who["status"]["userInfo"]["username"], "demo-viewer");
    let pods = format!("{}/api/v1/namespaces/{NS}/pods", t.url(0));
    let resp = viewer
        .post(&pods)
        .json(&pod("it-v", "v"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let status: Value = resp.json().await.unwrap();
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("User \"demo-viewer\" cannot create resource \"pods\""),
        "{status}"
    );
    assert!(
        t.cluster(0)
            .state
            .store
            .get(kind("", "pods"), NS, "it-v")
            .is_none()
    );
    let resp = viewer.get(&pods).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let id = t.cluster(0).faults.deny(kdeck_demo::api::authz::DenyRule {
        name: "it-secret".into(),
        ..kdeck_demo::api::authz::DenyRule::verbs("get", "", "pods")
    });
    let ssar = format!(
        "{}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        t.url(0)
    );
    let ask = |name: &str| {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "get", "resource": "pods", "namespace": NS, "name": name}}})
    };
    let (code, review) = send_json(
        &t,
        reqwest::Method::POST,
        &ssar,
        "application/json",
        &ask("it-secret"),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED);
    assert_eq!(review["status"]["allowed"], false);
    assert_eq!(
        review["status"]["reason"],
        format!("denied by demo rule #{id}")
    );
    assert_eq!(review["spec"]["resourceAttributes"]["name"], "it-secret");
    let (_, review) = send_json(
        &t,
        reqwest::Method::POST,
        &ssar,
        "application/json",
        &ask("it-other"),
    )
    .await;
    assert_eq!(review["status"]["allowed"], true);
    let (code, err) = get_json(&t, &format!("{pods}/it-secret")).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert!(err["message"].as_str().unwrap().starts_with(
        "pods \"it-secret\" is forbidden: User \"demo-admin\" cannot get resource \"pods\""
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_api_injects_faults_over_http() {
    let t = TestDemo::start(2).await;
    let control = t.demo.control_url();
    let name = t.cluster(0).name.clone();
    let faults_url = format!("{control}/clusters/{name}/faults");
    let http = t.control_http();
    let post = |action: Value| {
        let (url, http) = (faults_url.clone(), http.clone());
        async move {
            let resp = http.post(url).json(&action).send().await.unwrap();
            let code = resp.status();
            (code, resp.json::<Value>().await.unwrap())
        }
    };
    let get = |url: String| {
        let http = http.clone();
        async move {
            let resp = http.get(url).send().await.unwrap();
            let code = resp.status();
            (code, resp.json::<Value>().await.unwrap())
        }
    };
    let (_, clusters) = get(format!("{control}/clusters")).await;
    assert_eq!(clusters["clusters"][0]["name"], name.as_str());
    assert_eq!(clusters["clusters"][0]["kubernetes"], t.url(0));
    assert_eq!(clusters["clusters"].as_array().unwrap().len(), 2);
    let (code, _) = post(json!({"action": "fail-kind", "resource": "pods", "code": 403})).await;
    assert_eq!(code, StatusCode::OK);
    let (code, _) = get_json(&t, &format!("{}/api/v1/pods", t.url(0))).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, _) = get_json(&t, &format!("{}/api/v1/pods", t.url(1))).await;
    assert_eq!(code, StatusCode::OK, "other clusters are untouched");
    post(json!({"action": "restore-kind", "resource": "pods"})).await;
    let (code, _) = get_json(&t, &format!("{}/api/v1/pods", t.url(0))).await;
    assert_eq!(code, StatusCode::OK);
    let (code, err) = post(json!({"action": "error-rate", "rate": 3})).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{err}");
    let (code, _) = post(json!({"action": "explode"})).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    post(json!({"action": "error-rate", "rate": 1.0})).await;
    let (code, err) = get_json(&t, &format!("{}/api/v1/pods", t.url(0))).await;
    assert_eq!(
        (code, err["reason"].as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, Some("InternalError"))
    );
    let (_, deny) = post(json!({"action": "deny", "verb": "list", "resource": "pods"})).await;
    assert!(deny["id"].as_u64().is_some());
    let (_, snapshot) = get(faults_url.clone()).await;
    assert_eq!(snapshot["error_rate"], 1.0);
    assert_eq!(snapshot["deny_rules"].as_array().unwrap().len(), 1);
    post(json!({"action": "reset"})).await;
    let (code, _) = get_json(&t, &format!("{}/api/v1/pods", t.url(0))).await;
    assert_eq!(code, StatusCode::OK, "reset clears errors and rules");
    let (code, _) = post(json!({"action": "down"})).await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        tokio::net::TcpStream::connect(t.cluster(0).api_addr)
            .await
            .is_err()
    );
    assert!(
        tokio::net::TcpStream::connect(t.cluster(0).prom_addr)
            .await
            .is_err()
    );
    post(json!({"action": "up"})).await;
    let (code, _) = get_json(&t, &format!("{}/api/v1/pods", t.url(0))).await;
    assert_eq!(code, StatusCode::OK);
    let (code, _) = get(format!("{control}/clusters/nope/faults")).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

/// The control API answers only its own token: none, a wrong one, or the Kubernetes admin
/// token get a 401 and change nothing; the token is in a private file beside the kubeconfig.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_api_needs_the_control_token() {
    let t = TestDemo::start(1).await;
    let control = t.demo.control_url();
    let faults_url = format!("{control}/clusters/{}/faults", t.cluster(0).name);
    let down = json!({"action": "down"});
    for (label, token) in [
        ("no token", None),
        ("a wrong token", Some("who-knows")),
        ("the API's admin token", Some(t.tokens().admin.as_str())),
    ] {
        let mut req = plain_http().post(&faults_url).json(&down);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{label}");
        assert_eq!(
            resp.headers()["www-authenticate"],
            "Bearer realm=\"kdeck demo control\"",
            "{label}"
        );
        let err: Value = resp.json().await.unwrap();
        let file = t.demo.control_token_path();
        assert!(
            err["error"]
                .as_str()
                .unwrap()
                .contains(file.to_str().unwrap()),
            "{err}"
        );
        let resp = plain_http()
            .get(format!("{control}/clusters"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{label}: GET");
    }
    assert!(
        t.cluster(0).faults.snapshot().await.up,
        "no refused request took the cluster down"
    );
    let file = t.demo.control_token_path();
    assert_eq!(
        file.file_name().unwrap(),
        "kubeconfig.control-token",
        "beside the kubeconfig"
    );
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(written.trim(), t.tokens().control);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the token file is private");
    }
    let resp = plain_http()
        .post(&faults_url)
        .bearer_auth(written.trim())
        .json(&down)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(!t.cluster(0).faults.snapshot().await.up);
}

/// The Kubernetes API answers only this run's tokens, as the kubeconfig carries them: no
/// token, a wrong one, the old fixed user names and the control token all get kubectl's 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_needs_this_runs_token() {
    let t = TestDemo::start(1).await;
    let namespaces = format!("{}/api/v1/namespaces", t.url(0));
    let healthz = format!("{}/healthz", t.url(0));
    let tokens = t.tokens().clone();
    for (label, token) in [
        ("no token", None),
        ("a wrong token", Some("who-knows")),
        ("the admin's name", Some("demo-admin")),
        ("the viewer's name", Some("demo-viewer")),
        ("the control token", Some(tokens.control.as_str())),
    ] {
        let http = t.http_with(token);
        let resp = http.get(&namespaces).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{label}");
        assert_eq!(resp.headers()["content-type"], "application/json");
        let status: Value = resp.json().await.unwrap();
        assert_eq!(
            (
                &status["kind"],
                &status["apiVersion"],
                &status["status"],
                &status["reason"],
                &status["code"]
            ),
            (
                &json!("Status"),
                &json!("v1"),
                &json!("Failure"),
                &json!("Unauthorized"),
                &json!(401)
            ),
            "{label}: {status}"
        );
        let resp = http.get(&healthz).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{label}: healthz");
        // Impersonation is no way around it.
        let resp = http
            .post(format!("{namespaces}/{NS}/configmaps"))
            .header("impersonate-user", "demo-admin")
            .json(&configmap("it-sneaky", "x"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{label}: write");
    }
    assert!(
        t.cluster(0)
            .state
            .store
            .get(kind("", "configmaps"), NS, "it-sneaky")
            .is_none()
    );
    let resp = t
        .http_with(None)
        .get(&namespaces)
        .basic_auth("demo-admin", Some("demo-admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "basic auth");
    // The kubeconfig the demo wrote carries exactly these tokens, and they work.
    let written = demo_harness::kubeconfig_credentials(&t.kubeconfig());
    assert_eq!(written.token, tokens.admin);
    assert_eq!(written.server, t.url(0));
    let resp = written.http().get(&namespaces).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = written.http().get(&healthz).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
    let kubeconfig = std::fs::read_to_string(t.kubeconfig()).unwrap();
    assert!(
        kubeconfig.contains(&format!("token: \"{}\"", tokens.viewer)),
        "{kubeconfig}"
    );
    assert!(!kubeconfig.contains(&tokens.control));
}

/// What a browser could send: a cross-origin request (it carries `Origin`), a CORS preflight,
/// or a DNS-rebinding page's request (a foreign `Host`). Every port refuses each with a 403
/// and no CORS allowance, even with a valid token, and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_get_no_answer_from_any_port() {
    let t = TestDemo::start(1).await;
    let c = t.cluster(0);
    let api_write = format!("{}/api/v1/namespaces/{NS}/configmaps", t.url(0));
    let control_write = format!("{}/clusters/{}/faults", t.demo.control_url(), c.name);
    let ports = [
        (
            "kubernetes",
            t.http().clone(),
            api_write.clone(),
            configmap("it-cors", "x"),
        ),
        (
            "control",
            t.control_http(),
            control_write.clone(),
            json!({"action": "down"}),
        ),
        (
            "prometheus",
            plain_http(),
            format!("{}/api/v1/query", c.prom_url()),
            json!({}),
        ),
    ];
    let no_cors = |label: &str, resp: &reqwest::Response| {
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{label}");
        let allowances: Vec<_> = resp
            .headers()
            .keys()
            .filter(|k| k.as_str().starts_with("access-control-"))
            .collect();
        assert!(allowances.is_empty(), "{label}: {allowances:?}");
    };
    for (port, http, url, body) in &ports {
        let resp = http
            .post(url)
            .header("origin", "https://evil.example")
            .json(body)
            .send()
            .await
            .unwrap();
        no_cors(&format!("{port}: POST with Origin"), &resp);
        let resp = http.get(url).header("origin", "null").send().await.unwrap();
        no_cors(&format!("{port}: GET with Origin"), &resp);
        let resp = http
            .request(reqwest::Method::OPTIONS, url)
            .header("origin", "https://evil.example")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
            .await
            .unwrap();
        no_cors(&format!("{port}: preflight"), &resp);
        let resp = http
            .post(url)
            .header("host", "rebound.evil.example")
            .json(body)
            .send()
            .await
            .unwrap();
        no_cors(&format!("{port}: foreign Host"), &resp);
    }
    let refused: Value = t
        .http()
        .get(&api_write)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&refused["kind"], &refused["reason"]),
        (&json!("Status"), &json!("Forbidden")),
        "{refused}"
    );
    assert!(c.faults.snapshot().await.up, "the control API did nothing");
    assert!(
        c.state
            .store
            .get(kind("", "configmaps"), NS, "it-cors")
            .is_none(),
        "the API stored nothing"
    );
    // The same requests without the browser's headers go through.
    for (port, http, url, body) in &ports[..2] {
        let resp = http.post(url).json(body).send().await.unwrap();
        assert!(resp.status().is_success(), "{port}: {}", resp.status());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_port_and_service_proxy_reach_the_prometheus_api() {
    let t = TestDemo::start(1).await;
    let c = t.cluster(0);
    let direct = plain_http()
        .get(format!("{}/api/v1/query?query=up", c.prom_url()))
        .send()
        .await
        .unwrap();
    let direct_code = direct.status();
    let direct: Value = direct.json().await.unwrap();
    assert!(
        matches!(direct["status"].as_str(), Some("success" | "error")),
        "{direct}"
    );
    for svc in ["prometheus:9090", "http:prometheus:9090"] {
        let url = format!(
            "{}/api/v1/namespaces/monitoring/services/{svc}/proxy/api/v1/query?query=up",
            t.url(0)
        );
        let resp = t.http().get(url).send().await.unwrap();
        assert_eq!(resp.status(), direct_code, "{svc}");
        let via_proxy: Value = resp.json().await.unwrap();
        assert_eq!(via_proxy["status"], direct["status"], "{svc}");
    }
    let other = format!("{}/api/v1/namespaces/shop/services/web:80/proxy/", t.url(0));
    let (code, err) = get_json(&t, &other).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(err["kind"], "Status");
    // The proxy is authorized like any request.
    t.cluster(0).faults.deny(kdeck_demo::api::authz::DenyRule {
        subresource: "proxy".into(),
        ..kdeck_demo::api::authz::DenyRule::verbs("*", "", "services")
    });
    let url = format!(
        "{}/api/v1/namespaces/monitoring/services/prometheus:9090/proxy/api/v1/query?query=up",
        t.url(0)
    );
    assert_eq!(
        t.http().get(&url).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_namespace_deletes_what_it_holds() {
    let t = TestDemo::start(1).await;
    t.ensure_namespace(0, "it-doomed");
    let mut cm = configmap("it-inside", "x");
    cm["metadata"]["namespace"] = json!("it-doomed");
    t.insert(0, cm);
    t.insert(0, configmap("it-outside", "x"));
    let resp = t
        .http()
        .delete(format!("{}/api/v1/namespaces/it-doomed", t.url(0)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let store = &t.cluster(0).state.store;
    demo_harness::eventually("the namespace's contents are deleted", || async {
        store
            .get(kind("", "configmaps"), "it-doomed", "it-inside")
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        store
            .get(kind("", "configmaps"), NS, "it-outside")
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_falls_behind_is_cut_off() {
    let t = TestDemo::start(1).await;
    let store = &t.cluster(0).state.store;
    let url = format!(
        "{}/api/v1/namespaces/{NS}/configmaps?watch=1&resourceVersion={}",
        t.url(0),
        store.current_rv()
    );
    let mut w = WatchReader::open(&t, &url).await;
    // Keep memory small: the history is not what this test is about. Only shrunk once the
    // watch has started: the controllers write all the time, and a history of 100 events
    // can be gone before the request arrives (a 410 ERROR instead of a lagging watcher).
    store.set_history_capacity(100);
    // Far more events than the broadcast buffer holds, while the client reads nothing: TCP
    // back-pressure stops the server's stream and its receiver lags.
    let payload = "x".repeat(2048);
    let total = 20_000;
    for i in 0..total {
        t.insert(0, configmap("it-hot", &format!("{i}{payload}")));
    }
    let mut received = 0;
    while let Some(ev) = w.next().await {
        assert_eq!(ev["type"], if received == 0 { "ADDED" } else { "MODIFIED" });
        received += 1;
    }
    assert!(
        received < total,
        "the stream ended early, after {received} of {total} events"
    );
}
