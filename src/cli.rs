//! Command-line interface: what the user types, parsed by clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use kdeck_demo::DashboardOptions;
use kdeck_demo::serve::ServeOptions;

/// kdeck: a terminal dashboard for on-call Kubernetes work.
#[derive(Debug, Parser)]
#[command(name = "kdeck", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub run: RunArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options of the dashboard itself.
#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// Kubeconfig file(s); defaults to $KUBECONFIG (several files merged) or ~/.kube/config.
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Context(s) to watch (repeatable); defaults to the current context.
    #[arg(long = "context", global = true, value_name = "CTX")]
    pub contexts: Vec<String>,

    /// Watch every context in the kubeconfig.
    #[arg(long, global = true)]
    pub all_contexts: bool,

    /// Namespace to show (default: the context's namespace, or all with -A).
    #[arg(short = 'n', long, global = true, value_name = "NS")]
    pub namespace: Option<String>,

    /// Show all namespaces.
    #[arg(short = 'A', long, global = true, conflicts_with = "namespace")]
    pub all_namespaces: bool,

    /// Make every action impossible: the executor refuses them.
    #[arg(long, global = true)]
    pub readonly: bool,

    /// Send actions as server-side dry runs.
    #[arg(long, global = true)]
    pub dry_run: bool,

    /// Theme name (default, light, high-contrast, or a file in the config dir's themes/).
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,

    /// Keymap name (default, vim, or a file in the config dir's keymaps/).
    #[arg(long, global = true, value_name = "NAME")]
    pub keymap: Option<String>,

    /// Run against the built-in demo cluster (started in-process on loopback).
    #[arg(long, global = true)]
    pub demo: bool,

    /// With --demo: simulation speed multiplier.
    #[arg(long, global = true, default_value_t = 1.0, hide = true)]
    pub demo_speed: f64,

    /// With --demo: extra pods (and proportional workloads) for load tests.
    #[arg(long, global = true, default_value_t = 0, hide = true)]
    pub demo_scale: usize,
}

impl RunArgs {
    /// The options of the in-process demo (`--demo`).
    #[must_use]
    pub fn demo_options(&self) -> DashboardOptions {
        DashboardOptions {
            speed: self.demo_speed,
            scale: self.demo_scale,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open straight into one object's detail view in a pane (`kdeck open rollouts web`).
    Open {
        /// Pane id (`rollouts`, …; `:pane` lists them).
        pane: String,
        /// Object name (with `-n` to pick the namespace).
        name: String,
    },
    /// Open straight into one rollout's detail view (`kdeck open rollouts NAME`).
    Rollout {
        /// Rollout (or Deployment) name.
        name: String,
    },
    /// The demo cluster.
    #[command(subcommand)]
    Demo(DemoCommand),
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Run only the simulator, for kubectl or any other client.
    Serve(DemoServeArgs),
}

/// `kdeck demo serve` options.
#[derive(Debug, Args, Clone)]
pub struct DemoServeArgs {
    /// Where to write the kubeconfig (one context per simulated cluster).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig_out: PathBuf,

    /// Number of simulated clusters.
    #[arg(long, default_value_t = 2)]
    pub clusters: usize,

    /// Base port: control API on BASE, cluster i's Kubernetes API on BASE+1+2i and its
    /// Prometheus on BASE+2+2i. 0 picks free ports.
    #[arg(long, default_value_t = 0)]
    pub port: u16,

    /// Extra pods (and proportional workloads) per cluster.
    #[arg(long, default_value_t = 0)]
    pub scale: usize,

    /// Seed of the simulation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Speed multiplier of the simulated controllers; 0 stops them, so nothing changes (for
    /// measuring what an idle cluster costs).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
}

impl DemoServeArgs {
    /// The simulator's own options.
    #[must_use]
    pub fn serve_options(&self) -> ServeOptions {
        ServeOptions {
            kubeconfig_out: self.kubeconfig_out.clone(),
            clusters: self.clusters,
            port: self.port,
            scale: self.scale,
            seed: self.seed,
            speed: self.speed,
        }
    }
}
