//! `kdeck demo serve`: runs the simulated clusters until Ctrl-C or SIGTERM. Its last startup
//! line names the control-token file, so a script reads lines up to `control-token`.

use std::path::PathBuf;

use super::{Demo, DemoConfig, SimOptions};

/// What `demo serve` starts; the command line's options, owned here so the simulator needs
/// nothing of its caller.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to write the kubeconfig (one context per simulated cluster).
    pub kubeconfig_out: PathBuf,
    /// Number of simulated clusters (at least 1).
    pub clusters: usize,
    /// Base port: control API on BASE, cluster i's Kubernetes API on BASE+1+2i and its
    /// Prometheus on BASE+2+2i. 0 picks free ports.
    pub port: u16,
    /// Extra pods (and proportional workloads) per cluster.
    pub scale: usize,
    /// Seed of the simulation.
    pub seed: u64,
    /// Speed multiplier of the simulated controllers; 0 stops them (nothing changes).
    pub speed: f64,
}

/// Starts the simulator, writes the kubeconfig and the control token, prints the addresses and
/// where the token is, waits for a signal.
pub async fn run(args: &ServeOptions) -> anyhow::Result<()> {
    anyhow::ensure!(args.clusters >= 1, "--clusters must be at least 1");
    anyhow::ensure!(
        args.speed.is_finite() && args.speed >= 0.0,
        "--speed must be a positive number, or 0 to stop the controllers"
    );
    let demo = Demo::start(DemoConfig {
        clusters: args.clusters,
        base_port: args.port,
        options: SimOptions {
            seed: args.seed,
            speed: args.speed,
            scale: args.scale,
        },
        kubeconfig_out: args.kubeconfig_out.clone(),
    })
    .await?;
    let width = demo
        .clusters()
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    for c in demo.clusters() {
        println!(
            "{:<width$}  kubernetes {}  prometheus {}",
            c.name,
            c.api_url(),
            c.prom_url()
        );
    }
    // The tokens are never printed: they are in the files, readable by the owner only.
    println!("kubeconfig     {}", demo.kubeconfig_path().display());
    println!("control        {}", demo.control_url());
    println!("control-token  {}", demo.control_token_path().display());
    wait_for_signal().await?;
    demo.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_signal() -> anyhow::Result<()> {
    tokio::signal::ctrl_c().await?;
    Ok(())
}
