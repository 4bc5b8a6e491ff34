//! The Circuit-breakers pane's sources against the demo over HTTP: kdeck's poller runs the
//! pane's list queries on the demo's Prometheus and finds the scenario's breakers (tripping,
//! fully ejected, retry overflow, Envoy stats on one cluster and not another), and the
//! DestinationRule watch reads `v1` where the cluster serves it and `v1beta1` (only) where an
//! older Istio serves no `v1`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kdeck::cluster::ClusterHandle;
use kdeck::config::Config;
use kdeck::k8s::istio::{DestinationRule, V1beta1};
use kdeck::panes::breakers::hosts::ServiceRef;
use kdeck::panes::breakers::live::{BreakerState, Ejection, Feed, LiveIndex, state};
use kdeck::panes::breakers::pane::list_spec;
use kdeck::source::SourceState;
use kdeck::source::prometheus::{PromClient, PromEndpoint};
use kdeck_demo::testing::demo_harness::TestDemo;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(90);

async fn list(t: &TestDemo, i: usize) -> LiveIndex {
    let prom = PromClient::new(
        PromEndpoint::Url(t.cluster(i).prom_url()),
        None,
        Duration::from_secs(10),
    );
    let (snap, unreachable) =
        kdeck::source::prom_poll::poll(&prom, &list_spec(&Config::default()), chrono::Utc::now())
            .await;
    assert_eq!(unreachable, None);
    for r in &snap.results {
        assert_eq!(r.error, None, "{}", r.id);
    }
    LiveIndex::from_snapshot(&snap)
}

fn svc(ns: &str, name: &str) -> ServiceRef {
    ServiceRef {
        name: name.into(),
        namespace: ns.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_mesh_as_the_list_queries_see_it() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let t = TestDemo::start(3).await;
    let east = list(&t, 0).await;
    let get = |i: &LiveIndex, ns: &str, name: &str| {
        i.services
            .get(&svc(ns, name))
            .cloned()
            .unwrap_or_else(|| panic!("{ns}/{name} not in {:?}", i.services.keys()))
    };
    let ledger = get(&east, "payments", "ledger");
    assert!(
        ledger.trips.uo > 1.0 && ledger.trips.urx == 0.0,
        "{ledger:?}"
    );
    let cart = get(&east, "shop", "cart");
    assert!(cart.trips.urx > 1.0 && cart.trips.uo == 0.0, "{cart:?}");
    let catalog = get(&east, "shop", "catalog");
    assert!(catalog.trips.uh > 1.0, "{catalog:?}");
    assert_eq!(
        catalog.ejection,
        Some(Ejection {
            ejected: 2.0,
            hosts: Some(2.0)
        })
    );
    assert_eq!(state(true, &Feed::Live, Some(&catalog)), BreakerState::Open);
    assert_eq!(
        state(true, &Feed::Live, Some(&ledger)),
        BreakerState::Tripping
    );
    // The ingress gateway exports no Envoy stats; the sidecars do.
    assert!(east.envoy_exported);
    let frontend = get(&east, "shop", "frontend");
    assert_eq!(frontend.ejection, None);
    assert!(frontend.rps > 1.0 && frontend.trips.total() == 0.0);
    assert_eq!(
        state(false, &Feed::Live, Some(&frontend)),
        BreakerState::Unconfigured
    );
    assert!(get(&east, "search", "indexer").rps > 1.0);

    // Istio on the third cluster too, with the default proxy config: no Envoy stats at all.
    let south = list(&t, 2).await;
    assert!(!south.envoy_exported);
    assert!(get(&south, "payments", "ledger").trips.uo > 1.0);
    assert_eq!(get(&south, "shop", "catalog").ejection, None);
    // The second cluster has no Istio: no mesh traffic.
    assert!(list(&t, 1).await.services.is_empty());
}

async fn connect(t: &TestDemo) -> (Arc<ClusterHandle>, CancellationToken) {
    let (handle, _world, cancel) =
        crate::helpers::demo_handle(&t.kubeconfig(), &t.cluster(0).name, "").await;
    handle.sources.start_kind::<DestinationRule>();
    handle.sources.start_kind::<V1beta1<DestinationRule>>();
    (handle, cancel)
}

async fn until(what: &str, mut pred: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !pred() {
        assert!(Instant::now() < deadline, "never {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_are_read_at_v1_or_where_it_is_not_served_at_v1beta1() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let t = TestDemo::start(1).await;
    let (h, cancel) = connect(&t).await;
    let count_v1 = || h.sources.objects::<DestinationRule>().len();
    let count_beta = || h.sources.objects::<V1beta1<DestinationRule>>().len();
    // The rollout scenario's two rules and the mesh's four.
    until("the v1 watch live with six rules", || {
        h.sources.state::<DestinationRule>().is_live() && count_v1() == 6
    })
    .await;
    // The v1beta1 watch stands by: it would list the same six objects if it ran.
    until("the v1beta1 watch standing by", || {
        h.sources.state::<V1beta1<DestinationRule>>() == SourceState::NotInstalled
    })
    .await;
    assert_eq!(count_beta(), 0);

    // The same cluster, as an Istio older than 1.22 serves it.
    t.cluster(0)
        .faults
        .hide_version("networking.istio.io", "v1");
    h.refresh();
    until("the v1beta1 watch live with six rules", || {
        h.sources.state::<V1beta1<DestinationRule>>().is_live() && count_beta() == 6
    })
    .await;
    until("the v1 watch not installed", || {
        h.sources.state::<DestinationRule>() == SourceState::NotInstalled
    })
    .await;
    let ledger = h
        .sources
        .get::<V1beta1<DestinationRule>>("payments", "ledger")
        .unwrap();
    assert_eq!(
        ledger.spec.host.as_deref(),
        Some("ledger.payments.svc.cluster.local")
    );
    cancel.cancel();
}
