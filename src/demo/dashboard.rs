//! `kdeck --demo`: the simulator started in-process for the dashboard, reached through a
//! kubeconfig written to the state dir — the same client path as a real cluster.

use std::path::{Path, PathBuf};

use crate::cli::RunArgs;

/// The running in-process demo.
#[derive(Debug)]
pub struct DemoGuard;

impl DemoGuard {
    /// Stops the simulated clusters.
    pub async fn shutdown(self) {}
}

/// Starts the demo clusters and writes their kubeconfig under `state_dir`.
pub async fn start_for_dashboard(
    _args: &RunArgs,
    _state_dir: &Path,
) -> anyhow::Result<(PathBuf, DemoGuard)> {
    anyhow::bail!("the demo simulator is being integrated")
}
