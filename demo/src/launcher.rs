//! Starts and stops the demo: N simulated clusters, each with its Kubernetes API and
//! Prometheus ports, the control API, the simulated controllers, and a kubeconfig pointing at
//! them. `kdeck --demo` calls it in-process, `kdeck demo serve` runs it alone, and tests use it
//! as their API server.
//!
//! Order: make the run's tokens and certificates, build each cluster's state, seed it, start
//! its listeners, start the control API, write the control token and then the kubeconfig (so
//! a kubeconfig on disk means the token file is there), then start the controllers, so no
//! client ever sees an empty cluster.
//! Ports: control on BASE, cluster i's Kubernetes API on BASE+1+2i and Prometheus on
//! BASE+2+2i; BASE 0 picks free ports.

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use super::api::authz::Authz;
use super::api::faults::{FaultState, Faults};
use super::api::handler::{ApiServer, ServerOptions};
use super::api::server::Listener;
use super::api::store::mix64;
use super::control::{ControlHandler, ControlledCluster};
use super::kubeconfig;
use super::prom_port::PromHandler;
use super::tls::DemoTls;
use super::tokens::Tokens;
use super::{ClusterProfile, ClusterState, SimOptions, sim};

/// What to start.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Number of simulated clusters (at least 1).
    pub clusters: usize,
    /// Control API port; cluster ports follow it. 0 picks free ports.
    pub base_port: u16,
    pub options: SimOptions,
    /// Where the kubeconfig is written.
    pub kubeconfig_out: PathBuf,
}

/// One running simulated cluster.
#[derive(Debug, Clone)]
pub struct DemoCluster {
    /// Context name, e.g. `demo-us-east`.
    pub name: String,
    pub state: Arc<ClusterState>,
    pub api_addr: SocketAddr,
    pub prom_addr: SocketAddr,
    pub faults: Faults,
}

impl DemoCluster {
    /// `https://127.0.0.1:PORT` of the Kubernetes API (its CA is [`Demo::ca_pem`]).
    #[must_use]
    pub fn api_url(&self) -> String {
        format!("https://{}", self.api_addr)
    }

    /// `http://127.0.0.1:PORT` of Prometheus.
    #[must_use]
    pub fn prom_url(&self) -> String {
        format!("http://{}", self.prom_addr)
    }
}

/// The running demo. Dropping it stops everything (without waiting); prefer
/// [`Demo::shutdown`].
#[derive(Debug)]
pub struct Demo {
    clusters: Vec<DemoCluster>,
    control_addr: SocketAddr,
    kubeconfig: PathBuf,
    tokens: Arc<Tokens>,
    ca_pem: String,
    listeners: Vec<Arc<Listener>>,
    shutdown: CancellationToken,
}

fn port(base: u16, offset: usize) -> anyhow::Result<u16> {
    if base == 0 {
        return Ok(0);
    }
    u16::try_from(usize::from(base) + offset)
        .ok()
        .filter(|p| *p != 0)
        .with_context(|| format!("port {base}+{offset} is beyond 65535: choose a lower --port"))
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Where the control token is written: beside the kubeconfig, its name plus
/// `.control-token` (`/tmp/demo.yaml` → `/tmp/demo.yaml.control-token`).
#[must_use]
pub fn control_token_path(kubeconfig: &Path) -> PathBuf {
    let mut name = kubeconfig
        .file_name()
        .map_or_else(|| OsString::from("kubeconfig"), ToOwned::to_owned);
    name.push(".control-token");
    kubeconfig.with_file_name(name)
}

impl Demo {
    /// Starts the demo with the default server options. Must run inside a tokio runtime.
    pub async fn start(config: DemoConfig) -> anyhow::Result<Self> {
        Self::start_with(config, ServerOptions::default()).await
    }

    /// Starts the demo with explicit API server options (e.g. a shorter bookmark interval).
    pub async fn start_with(config: DemoConfig, server: ServerOptions) -> anyhow::Result<Self> {
        let shutdown = CancellationToken::new();
        match Self::start_inner(&config, server, &shutdown).await {
            Ok(demo) => Ok(demo),
            Err(e) => {
                // Stop whatever already listens.
                shutdown.cancel();
                Err(e)
            }
        }
    }

    async fn start_inner(
        config: &DemoConfig,
        server: ServerOptions,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(config.clusters >= 1, "the demo needs at least one cluster");
        // Fail on an impossible port range before binding anything.
        port(config.base_port, 2 * config.clusters)?;
        let tokens = Arc::new(Tokens::generate()?);
        // Key generation is CPU work: keep it off the async workers.
        let tls = tokio::task::spawn_blocking(DemoTls::generate)
            .await
            .context("making the demo certificates failed")??;
        let mut listeners = Vec::new();
        let mut clusters = Vec::new();
        for i in 0..config.clusters {
            let state = Arc::new(ClusterState::new(
                ClusterProfile::standard(i),
                config.options.clone(),
            ));
            let seeding = state.clone();
            // Seeding a large `--scale` cluster is CPU work: keep it off the async workers.
            tokio::task::spawn_blocking(move || sim::seed(&seeding))
                .await
                .context("seeding the demo cluster failed")?;
            let name = state.profile.name.clone();
            let fault_state = Arc::new(FaultState::new(mix64(config.options.seed ^ i as u64)));
            let authz = Arc::new(Authz::new());
            let api = Arc::new(ApiServer {
                cluster: state.clone(),
                faults: fault_state.clone(),
                authz: authz.clone(),
                tokens: tokens.clone(),
                options: server.clone(),
                shutdown: shutdown.clone(),
            });
            let api_listener = Listener::start(
                loopback(port(config.base_port, 1 + 2 * i)?),
                format!("Kubernetes API of {name}"),
                api,
                Some(tls.server.clone()),
                shutdown,
            )
            .await?;
            let prom_listener = Listener::start(
                loopback(port(config.base_port, 2 + 2 * i)?),
                format!("Prometheus of {name}"),
                Arc::new(PromHandler {
                    cluster: state.clone(),
                }),
                None,
                shutdown,
            )
            .await?;
            let faults = Faults::new(
                fault_state,
                authz,
                state.clone(),
                vec![api_listener.clone(), prom_listener.clone()],
            );
            clusters.push(DemoCluster {
                name,
                state,
                api_addr: api_listener.addr(),
                prom_addr: prom_listener.addr(),
                faults,
            });
            listeners.push(api_listener);
            listeners.push(prom_listener);
        }
        let token_file = control_token_path(&config.kubeconfig_out);
        let control = Listener::start(
            loopback(config.base_port),
            "control API",
            Arc::new(ControlHandler {
                clusters: clusters
                    .iter()
                    .map(|c| ControlledCluster {
                        name: c.name.clone(),
                        api: c.api_addr,
                        prometheus: c.prom_addr,
                        faults: c.faults.clone(),
                    })
                    .collect(),
                token: tokens.control.clone(),
                token_file: token_file.display().to_string(),
            }),
            None,
            shutdown,
        )
        .await?;
        let control_addr = control.addr();
        listeners.push(control);
        let entries: Vec<kubeconfig::Entry> = clusters
            .iter()
            .map(|c| kubeconfig::Entry {
                name: c.name.clone(),
                server: c.api_url(),
            })
            .collect();
        kubeconfig::write_private(&token_file, format!("{}\n", tokens.control).as_bytes())
            .with_context(|| {
                format!("cannot write the control token to {}", token_file.display())
            })?;
        kubeconfig::write(&config.kubeconfig_out, &entries, &tokens, &tls.ca_pem).with_context(
            || {
                format!(
                    "cannot write the kubeconfig to {}",
                    config.kubeconfig_out.display()
                )
            },
        )?;
        // At speed 0 nothing moves: the objects stay as seeded (for measuring idle cost).
        if config.options.speed > 0.0 {
            for c in &clusters {
                sim::spawn(&c.state, shutdown);
            }
        }
        Ok(Self {
            clusters,
            control_addr,
            kubeconfig: config.kubeconfig_out.clone(),
            tokens,
            ca_pem: tls.ca_pem,
            listeners,
            shutdown: shutdown.clone(),
        })
    }

    #[must_use]
    pub fn clusters(&self) -> &[DemoCluster] {
        &self.clusters
    }

    #[must_use]
    pub fn cluster(&self, name: &str) -> Option<&DemoCluster> {
        self.clusters.iter().find(|c| c.name == name)
    }

    #[must_use]
    pub fn control_addr(&self) -> SocketAddr {
        self.control_addr
    }

    /// `http://127.0.0.1:PORT` of the control API.
    #[must_use]
    pub fn control_url(&self) -> String {
        format!("http://{}", self.control_addr)
    }

    #[must_use]
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The file holding the control token (beside the kubeconfig, mode 0600).
    #[must_use]
    pub fn control_token_path(&self) -> PathBuf {
        control_token_path(&self.kubeconfig)
    }

    /// This run's bearer tokens (also in the kubeconfig and the control-token file).
    #[must_use]
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// The CA (PEM) the Kubernetes API ports' certificate chains to.
    #[must_use]
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Stops the controllers and closes every listener and connection.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        for l in &self.listeners {
            l.down().await;
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
