//! Starting on many clusters at once, through kdeck's own startup code (`run::connect`, the
//! app declaring every pane's sources): one cluster that does not answer at all (frozen) and
//! one that answers slowly (injected latency) never hold up the others — they get their data
//! while the frozen one still has none — and the frozen one catches up when it answers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kdeck::app::{App, AppSettings, known_actions};
use kdeck::cli::RunArgs;
use kdeck::clock::Clock;
use kdeck::cluster::ClusterHandle;
use kdeck::cluster::kubeconfig;
use kdeck::config::{Config, Paths};
use kdeck::k8s::core::Node;
use kdeck::k8s::pod::Pod;
use kdeck::keymap::Keymap;
use kdeck::panes::{Scope, registry};
use kdeck::run::{Prepared, connect};
use kdeck::source::Notifier;
use kdeck::theme::Theme;
use kdeck_demo::testing::demo_harness::TestDemo;
use tokio_util::sync::CancellationToken;

fn has_data(h: &ClusterHandle) -> bool {
    h.sources.state::<Pod>().is_live()
        && !h.sources.objects::<Pod>().is_empty()
        && h.sources.state::<Node>().is_live()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_or_slow_cluster_does_not_hold_up_the_others() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let t = TestDemo::start(4).await;
    // Cluster 1 accepts connections and never answers; cluster 2 answers every request 1.5 s
    // late.
    t.cluster(1).faults.set_frozen(true);
    t.cluster(2).faults.set_latency(Duration::from_millis(1500));
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig::load(Some(&t.kubeconfig())).unwrap();
    let args = RunArgs {
        all_contexts: true,
        all_namespaces: true,
        ..RunArgs::default()
    };
    let panes = registry();
    let prepared = Prepared {
        paths: Paths {
            config_dir: dir.path().into(),
            state_dir: dir.path().into(),
        },
        config: Config::default(),
        theme: Theme::builtin("default").unwrap(),
        keymap: Keymap::from_texts(
            "default",
            kdeck::keymap::BUILTIN[0].1,
            None,
            &known_actions(&panes),
        ),
        kubeconfig_path: Some(t.kubeconfig()),
        contexts: kubeconfig::select(&kc, &[], true).unwrap(),
        kubeconfig: kc,
    };
    let notifier = Notifier::new();
    let cancel = CancellationToken::new();
    let world = connect(&prepared, &args, &notifier, &cancel).await.unwrap();
    // The app declares every pane's sources, which starts every watch on every cluster.
    let mut app = App::new(
        world.clone(),
        panes,
        prepared.keymap.clone(),
        prepared.theme.clone(),
        prepared.config.clone(),
        Clock::System,
        None,
        AppSettings::default(),
        Scope {
            all_clusters: true,
            ..Scope::default()
        },
    );
    let clusters = world.clusters();
    let name = |i: usize| t.cluster(i).name.clone();
    let by_name = |n: &str| -> Arc<ClusterHandle> {
        clusters.iter().find(|c| c.context == n).unwrap().clone()
    };
    let (fine, frozen, slow, other) = (
        by_name(&name(0)),
        by_name(&name(1)),
        by_name(&name(2)),
        by_name(&name(3)),
    );
    let started = Instant::now();
    while !(has_data(&fine) && has_data(&slow) && has_data(&other)) {
        app.update_models();
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the answering clusters got no data while one was frozen: fine {:?}, slow {:?}, \
             other {:?}",
            fine.sources.state::<Pod>(),
            slow.sources.state::<Pod>(),
            other.sources.state::<Pod>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // They did not wait for the frozen one: it still has nothing.
    assert!(!has_data(&frozen), "{:?}", frozen.sources.state::<Pod>());
    assert!(frozen.sources.objects::<Pod>().is_empty());

    t.cluster(1).faults.set_frozen(false);
    let thawed = Instant::now();
    while !has_data(&frozen) {
        app.update_models();
        assert!(
            thawed.elapsed() < Duration::from_secs(60),
            "the frozen cluster never caught up: {:?}",
            frozen.sources.state::<Pod>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cancel.cancel();
}
