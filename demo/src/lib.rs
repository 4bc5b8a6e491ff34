//! The demo cluster: simulated Kubernetes clusters, each serving the real Kubernetes HTTP API
//! and the Prometheus HTTP API on loopback, with controllers that keep them moving.
//!
//! kdeck cannot tell a demo cluster from a real one: it reaches it through a kubeconfig and
//! the same client code (HTTPS with the run's CA, a bearer token per run). Tests use it as
//! their API server and fault injector.
//!
//! Entry point: [`Demo::start`] (in [`launcher`]) with a [`DemoConfig`]; each
//! [`DemoCluster`] exposes its state, addresses and [`Faults`]. `kdeck demo serve` ([`serve`])
//! runs the same launcher as a process, with the JSON fault API of [`control`].

pub mod api;
pub mod control;
pub mod dashboard;
pub mod kubeconfig;
pub mod launcher;
pub mod prom;
pub mod prom_port;
pub mod serve;
pub mod sim;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;
pub mod tokens;

pub use api::authz::DenyRule;
pub use api::faults::{FaultAction, Faults};
pub use api::handler::ServerOptions;
pub use launcher::{Demo, DemoCluster, DemoConfig};
pub use tokens::Tokens;

use api::registry::{self, Addon};
use api::store::ObjectStore;
use prom::PromState;

/// How the simulation runs; the same options give the same sequence of states.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub seed: u64,
    /// Multiplies the pace of every simulated controller (2.0 = twice as fast).
    pub speed: f64,
    /// Extra pods (with proportional workloads) for benchmarks.
    pub scale: usize,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            speed: 1.0,
            scale: 0,
        }
    }
}

/// What one simulated cluster is: its name, version and installed add-ons.
#[derive(Debug, Clone)]
pub struct ClusterProfile {
    /// Context and cluster name in the kubeconfig, e.g. `demo-us-east`.
    pub name: String,
    /// Position among the simulated clusters (0-based); the first has every add-on.
    pub index: usize,
    /// `gitVersion` served at `/version`.
    pub kube_version: String,
    pub addons: Vec<Addon>,
    /// With Istio: the sidecars export Envoy's outlier-detection and connection-pool stats
    /// (mesh config `proxyStatsMatcher`), as on the first cluster; Istio's default is not to.
    pub envoy_stats: bool,
}

impl ClusterProfile {
    /// The default line-up: every add-on on the first cluster but Flux; Velero and Istio
    /// missing from the second (and every odd one), which alone runs Flux; KEDA and the VPA
    /// only on the first; so kdeck can show "not installed". Envoy's cluster stats are
    /// exported by the first cluster's sidecars only, as Istio's default leaves them off.
    #[must_use]
    pub fn standard(index: usize) -> Self {
        const REGIONS: &[&str] = &[
            "us-east", "eu-west", "ap-south", "us-west", "eu-north", "sa-east", "ap-east",
            "af-south",
        ];
        let region = REGIONS
            .get(index)
            .map_or_else(|| format!("region-{index}"), |r| (*r).to_string());
        let mut addons = if index == 1 {
            // The second cluster is the one running Flux (beside Argo CD).
            vec![Addon::Core, Addon::ArgoRollouts, Addon::ArgoCd, Addon::Flux]
        } else if index % 2 == 1 {
            vec![Addon::Core, Addon::ArgoRollouts, Addon::ArgoCd]
        } else {
            vec![
                Addon::Core,
                Addon::ArgoRollouts,
                Addon::ArgoCd,
                Addon::Velero,
                Addon::Istio,
            ]
        };
        if index == 0 {
            addons.extend([Addon::Keda, Addon::Vpa]);
        }
        Self {
            name: format!("demo-{region}"),
            index,
            kube_version: if index % 2 == 1 { "v1.31.6" } else { "v1.32.4" }.to_string(),
            addons,
            envoy_stats: index == 0,
        }
    }

    #[must_use]
    pub fn has(&self, addon: Addon) -> bool {
        self.addons.contains(&addon)
    }
}

/// Everything one simulated cluster holds; shared by its API server, its Prometheus and its
/// controllers.
#[derive(Debug)]
pub struct ClusterState {
    pub profile: ClusterProfile,
    pub options: SimOptions,
    pub store: ObjectStore,
    pub prom: PromState,
}

impl ClusterState {
    #[must_use]
    pub fn new(profile: ClusterProfile, options: SimOptions) -> Self {
        let served = registry::RESOURCE_TYPES
            .iter()
            .map(|t| profile.has(t.addon))
            .collect();
        let salt = api::store::mix64(options.seed ^ ((profile.index as u64 + 1) * 0x1000_0001));
        Self {
            store: ObjectStore::new(served, salt),
            prom: PromState::new(std::time::Duration::from_secs(6 * 3600)),
            profile,
            options,
        }
    }
}

pub use dashboard::{DashboardOptions, start_for_dashboard};
