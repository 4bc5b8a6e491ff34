//! Test helpers that need kdeck's own types. The fixture, demo and Prometheus helpers the
//! simulator's tests share are in `kdeck_demo::testing`.

/// The Rollouts rows of one cluster's objects, as the pane builds them (through
/// `build_rows`, the function the pane runs), in display order.
pub fn rollout_rows(
    cluster: &str,
    objects: &kdeck::panes::rollouts::model::Objects<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<std::sync::Arc<kdeck::panes::rollouts::model::RolloutRow>> {
    kdeck::panes::rollouts::model::build_rows(
        cluster,
        cluster,
        objects,
        now,
        &mut kdeck::panes::kit::RowCache::default(),
    )
    .into_iter()
    .map(|(row, _)| row)
    .collect()
}

/// The outcome lines of an audit log (each action's last word), in order; intent lines, written
/// before a request is sent, are checked by the tests of the write-ahead record.
pub fn audit_outcomes(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["phase"] == "outcome")
        .collect()
}

/// Runs a plan through the executor on `rt` and waits (at most a minute) for its outcome,
/// past the RBAC verdict that comes first.
pub fn execute(
    rt: &tokio::runtime::Runtime,
    exec: &std::sync::Arc<kdeck::exec::Executor>,
    rx: &mut tokio::sync::mpsc::Receiver<kdeck::exec::ExecEvent>,
    plan: kdeck::exec::ActionPlan,
) -> kdeck::exec::Outcome {
    use kdeck::exec::ExecEvent;
    rt.block_on(async {
        exec.execute(1, plan);
        loop {
            match tokio::time::timeout(std::time::Duration::from_secs(60), rx.recv())
                .await
                .expect("no outcome within a minute")
                .expect("the executor's channel closed")
            {
                ExecEvent::Finished { outcome, .. } => return outcome,
                ExecEvent::Rbac { .. } => {}
            }
        }
    })
}

/// A handle on `context` of a demo's kubeconfig, as kdeck's startup builds one (its client,
/// its cluster monitor for discovery and probes) in a world of its own, with the cancel token
/// that stops it. Call inside the runtime; the caller starts the kinds it reads.
pub async fn demo_handle(
    kubeconfig: &std::path::Path,
    context: &str,
    server: &str,
) -> (
    std::sync::Arc<kdeck::cluster::ClusterHandle>,
    std::sync::Arc<kdeck::world::World>,
    tokio_util::sync::CancellationToken,
) {
    use kdeck::cluster::{ClusterHandle, ClusterInfo, PromReach, Reach};
    let kc = kdeck::cluster::kubeconfig::load(Some(kubeconfig)).unwrap();
    let client = kdeck::cluster::kubeconfig::client(&kc, context)
        .await
        .unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let notifier = kdeck::source::Notifier::new();
    let handle = ClusterHandle::new(
        context,
        ClusterInfo {
            server: server.into(),
            user: "demo-admin".into(),
            version: None,
            reach: Reach::Connecting,
            prometheus: PromReach::Unknown,
            readonly: false,
        },
        Some(client),
        None,
        notifier.clone(),
        cancel.clone(),
    );
    // The monitor discovers what the cluster serves; custom resources wait for it.
    tokio::spawn(kdeck::cluster::monitor::run(handle.clone(), None));
    let world = std::sync::Arc::new(kdeck::world::World::new(notifier));
    world.add(handle.clone());
    (handle, world, cancel)
}
