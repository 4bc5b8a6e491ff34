//! A cluster whose connections go silent (no reset, no answer, no events: a network path that
//! died quietly) is marked stale within 30 s, not after kube's five-minute idle timeout, and
//! live again when it answers; through kdeck's real sources and cluster monitor against the
//! demo's API server, frozen and thawed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kdeck::cluster::{ClusterHandle, Reach};
use kdeck::k8s::core::Node;
use kdeck::k8s::pod::Pod;
use kdeck::source::SourceState;
use kdeck_demo::testing::demo_harness::TestDemo;

async fn wait_state(
    handle: &ClusterHandle,
    what: &str,
    limit: Duration,
    pred: impl Fn(&SourceState) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let state = handle.sources.state::<Pod>();
        if pred(&state) {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "never {what}: {state:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_cluster_is_stale_within_thirty_seconds_and_live_when_it_answers() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let t = TestDemo::start(1).await;
    let name = t.cluster(0).name.clone();
    let (handle, _world, _cancel) = crate::helpers::demo_handle(&t.kubeconfig(), &name, "").await;
    handle.sources.start_kind::<Pod>();
    handle.sources.start_kind::<Node>();
    wait_state(
        &handle,
        "live",
        Duration::from_secs(30),
        SourceState::is_live,
    )
    .await;

    t.cluster(0).faults.set_frozen(true);
    let took = wait_state(&handle, "stale", Duration::from_secs(45), |s| {
        matches!(s, SourceState::Stale { .. })
    })
    .await;
    assert!(took <= Duration::from_secs(30), "stale only after {took:?}");
    assert!(
        matches!(handle.info().reach, Reach::Unreachable { .. }),
        "{:?}",
        handle.info().reach
    );

    t.cluster(0).faults.set_frozen(false);
    wait_state(
        &handle,
        "live again",
        Duration::from_secs(30),
        SourceState::is_live,
    )
    .await;
    let _keep: Arc<ClusterHandle> = handle;
}
