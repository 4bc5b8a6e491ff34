//! kube-rs against the demo cluster under every fault: a `watcher` + `reflector` (as kdeck's
//! sources use them, with the default backoff) must converge to the server's state after
//! dropped watches, compaction (410 Gone), a kind answering 403 or 404 and then restored,
//! latency, a 30% rate of 500s, and the cluster going down and up.
//!
//! "Converged" means the reflector holds exactly the server's objects at the server's
//! resourceVersions. Nothing here asserts durations; polls use generous deadlines.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kdeck_demo::api::handler::ServerOptions;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, ResourceExt};
use tokio::task::JoinHandle;

use kdeck_demo::testing::demo_harness::{NS, TestDemo, configmap, eventually, kind, pod};

/// A reflector of the ConfigMaps in [`NS`] of cluster 0.
struct Mirror {
    reader: reflector::Store<ConfigMap>,
    task: JoinHandle<()>,
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn mirror(t: &TestDemo) -> Mirror {
    let api: Api<ConfigMap> = Api::namespaced(t.kube_client(0).await, NS);
    let (reader, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects();
    // Errors are part of the test (the backoff retries them): just drive the stream.
    let task = tokio::spawn(stream.for_each(|_| async {}));
    Mirror { reader, task }
}

/// name → resourceVersion of what the server holds.
fn server_state(t: &TestDemo) -> BTreeMap<String, String> {
    let (items, _) = t
        .cluster(0)
        .state
        .store
        .list(kind("", "configmaps"), Some(NS));
    items
        .iter()
        .map(|o| (o.key.name.clone(), o.rv.to_string()))
        .collect()
}

fn mirror_state(m: &Mirror) -> BTreeMap<String, String> {
    m.reader
        .state()
        .iter()
        .map(|cm| (cm.name_any(), cm.resource_version().unwrap_or_default()))
        .collect()
}

async fn converged(t: &TestDemo, m: &Mirror, what: &str) {
    eventually(&format!("reflector converges {what}"), || async {
        let server = server_state(t);
        (server == mirror_state(m)).then_some(())
    })
    .await;
}

/// Creates, modifies and deletes ConfigMaps through the store (as controllers would).
fn churn(t: &TestDemo, round: u32) {
    let store = &t.cluster(0).state.store;
    t.insert(0, configmap(&format!("it-cm-{round}"), "new"));
    t.insert(0, configmap("it-cm-stable", &format!("round {round}")));
    if round > 0 {
        let _ = store.delete(
            kind("", "configmaps"),
            NS,
            &format!("it-cm-{}", round - 1),
            false,
        );
    }
}

/// Starts a demo and a mirror that has converged on a few objects.
async fn setup(options: ServerOptions) -> (TestDemo, Mirror) {
    let t = TestDemo::start_with(1, options).await;
    churn(&t, 0);
    let m = mirror(&t).await;
    converged(&t, &m, "initially").await;
    (t, m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_survives_dropped_watches() {
    let (t, m) = setup(ServerOptions::default()).await;
    let faults = &t.cluster(0).faults;
    let watches = faults.stats().watches;
    faults.drop_watches();
    churn(&t, 1);
    converged(&t, &m, "after drop-watches").await;
    assert!(faults.stats().watches > watches, "the client re-watched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_relists_after_compaction() {
    // No bookmarks during the test, so the client's resourceVersion stays old.
    let (t, m) = setup(ServerOptions {
        bookmark_interval: Duration::from_secs(3600),
        ..ServerOptions::default()
    })
    .await;
    let c = t.cluster(0);
    let before = c.faults.stats();
    // Move the cluster's version past the client's (another kind), then forget the history.
    t.insert(0, pod("it-bump", "bump"));
    c.faults.compact();
    c.faults.drop_watches();
    churn(&t, 1);
    converged(&t, &m, "after compaction").await;
    let after = c.faults.stats();
    assert!(
        after.gone > before.gone,
        "the re-watch got 410 Gone: {after:?}"
    );
    assert!(
        after.lists > before.lists,
        "and the client re-listed: {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_recovers_from_forbidden_and_not_found() {
    let (t, m) = setup(ServerOptions::default()).await;
    let c = t.cluster(0);
    let direct: Api<ConfigMap> = Api::namespaced(t.kube_client(0).await, NS);
    for code in [403_u16, 404] {
        c.faults.fail_kind("", "configmaps", code).unwrap();
        match direct.list(&Default::default()).await {
            Err(kube::Error::Api(status)) => assert_eq!(status.code, code),
            other => panic!("expected {code}, got {other:?}"),
        }
        churn(&t, u32::from(code));
        // While the kind fails, no event can reach the client.
        tokio::task::yield_now().await;
        let name = format!("it-cm-{code}");
        assert!(
            !mirror_state(&m).contains_key(&name),
            "{name} reached the reflector through a {code}"
        );
        c.faults.restore_kind("", "configmaps").unwrap();
        converged(&t, &m, &format!("after a {code} was lifted")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_tolerates_latency() {
    let (t, m) = setup(ServerOptions::default()).await;
    let faults = &t.cluster(0).faults;
    faults.set_latency(Duration::from_millis(300));
    let watches = faults.stats().watches;
    faults.drop_watches();
    churn(&t, 1);
    converged(&t, &m, "with 300 ms latency").await;
    assert!(faults.stats().watches > watches);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_tolerates_a_30_percent_error_rate() {
    let (t, m) = setup(ServerOptions::default()).await;
    let faults = &t.cluster(0).faults;
    faults.set_error_rate(0.3).unwrap();
    // Make the client send requests until some of them have failed.
    eventually("a request met an injected 500", || async {
        faults.drop_watches();
        tokio::time::sleep(Duration::from_millis(200)).await;
        (faults.stats().injected_errors > 0).then_some(())
    })
    .await;
    churn(&t, 1);
    faults.drop_watches();
    churn(&t, 2);
    converged(&t, &m, "with 30% of requests failing").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_reconnects_after_the_cluster_comes_back() {
    let (t, m) = setup(ServerOptions::default()).await;
    let c = t.cluster(0);
    c.faults.down().await;
    let refused = tokio::net::TcpStream::connect(c.api_addr).await;
    assert!(refused.is_err(), "the API port still accepts connections");
    churn(&t, 1);
    c.faults.up().await.unwrap();
    assert!(tokio::net::TcpStream::connect(c.api_addr).await.is_ok());
    converged(&t, &m, "after down/up").await;
}
