//! `kdeck --demo`: the simulator started in-process for the dashboard, reached through a
//! kubeconfig written to the state dir — the same client path as a real cluster.

use std::path::{Path, PathBuf};

use super::{Demo, DemoConfig, SimOptions};

/// How the dashboard's demo runs (`kdeck --demo`'s hidden tuning options).
#[derive(Debug, Clone)]
pub struct DashboardOptions {
    /// Speed multiplier of the simulated controllers.
    pub speed: f64,
    /// Extra pods (and proportional workloads) per cluster, for load tests.
    pub scale: usize,
}

impl Default for DashboardOptions {
    fn default() -> Self {
        Self {
            speed: 1.0,
            scale: 0,
        }
    }
}

/// The running in-process demo.
#[derive(Debug)]
pub struct DemoGuard(Demo);

impl DemoGuard {
    /// Stops the simulated clusters.
    pub async fn shutdown(self) {
        self.0.shutdown().await;
    }

    #[must_use]
    pub fn demo(&self) -> &Demo {
        &self.0
    }
}

/// Starts two demo clusters on free loopback ports and writes their kubeconfig under
/// `state_dir` (so `kubectl --kubeconfig` can look at the same clusters).
pub async fn start_for_dashboard(
    options: &DashboardOptions,
    state_dir: &Path,
) -> anyhow::Result<(PathBuf, DemoGuard)> {
    std::fs::create_dir_all(state_dir)?;
    let kubeconfig = state_dir.join("demo-kubeconfig.yaml");
    let demo = Demo::start(DemoConfig {
        clusters: 2,
        base_port: 0,
        options: SimOptions {
            seed: 1,
            speed: options.speed,
            scale: options.scale,
        },
        kubeconfig_out: kubeconfig.clone(),
    })
    .await?;
    Ok((kubeconfig, DemoGuard(demo)))
}
