//! Starting kdeck: configuration, theme, kubeconfig and contexts are all checked *before* the
//! terminal is touched, so a bad file is one clear line and a non-zero exit. Then the
//! clusters are connected, the UI runs, and everything is shut down with the terminal
//! restored.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::app::{App, AppSettings, known_actions, runloop};
use crate::cli::RunArgs;
use crate::clock::Clock;
use crate::cluster::kubeconfig::{self, ContextSpec};
use crate::cluster::{ClusterHandle, ClusterInfo, PromReach, Reach, monitor};
use crate::config::{Config, Paths};
use crate::exec::audit::AuditLog;
use crate::exec::{ExecOptions, Executor};
use crate::keymap::Keymap;
use crate::panes::{Scope, registry};
use crate::source::Notifier;
use crate::source::fleet::FleetSource;
use crate::source::prometheus::{PromClient, PromEndpoint};
use crate::theme::Theme;
use crate::world::World;

/// A user-facing startup failure: printed as one line, exit code 2.
/// Clients (and credential plugins) built at once at start.
const CONNECT_CONCURRENCY: usize = 8;

/// How long an action under way may take to finish when kdeck exits.
const EXIT_PATIENCE: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartupError(pub String);

fn fail(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(StartupError(e.to_string()))
}

/// What to open first.
#[derive(Debug, Clone, Default)]
pub struct StartTarget {
    /// `kdeck open PANE NAME`: (pane id, object name) to open once it appears.
    pub open: Option<(String, String)>,
}

/// Everything resolved from the command line and files, before the terminal is touched.
pub struct Prepared {
    pub paths: Paths,
    pub config: Config,
    pub theme: Theme,
    pub keymap: Keymap,
    pub kubeconfig_path: Option<PathBuf>,
    pub contexts: Vec<ContextSpec>,
    pub kubeconfig: kube::config::Kubeconfig,
}

/// Reads config, theme, keymap and kubeconfig; fails with a clear message.
pub fn prepare(args: &RunArgs, kubeconfig_path: Option<PathBuf>) -> anyhow::Result<Prepared> {
    let paths = Paths::from_env();
    let config = Config::load(&paths.config_file()).map_err(fail)?;
    let theme_name = args.theme.clone().unwrap_or_else(|| config.theme.clone());
    let theme = if Theme::no_color_requested() {
        Theme::no_color()
    } else {
        Theme::load(&theme_name, &paths.user_theme(&theme_name)).map_err(fail)?
    };
    let keymap_name = args.keymap.clone().unwrap_or_else(|| config.keymap.clone());
    let panes = registry();
    let keymap = Keymap::load(
        &keymap_name,
        &paths.user_keymap(&keymap_name),
        &known_actions(&panes),
    )
    .map_err(fail)?;
    let kubeconfig = kubeconfig::load(kubeconfig_path.as_deref()).map_err(fail)?;
    let contexts =
        kubeconfig::select(&kubeconfig, &args.contexts, args.all_contexts).map_err(fail)?;
    Ok(Prepared {
        paths,
        config,
        theme,
        keymap,
        kubeconfig_path,
        contexts,
        kubeconfig,
    })
}

fn prom_endpoint(config: &Config, context: &str) -> Option<PromEndpoint> {
    let ctx = config.contexts.get(context);
    if let Some(url) = ctx.and_then(|c| c.prometheus_url.clone()) {
        return Some(PromEndpoint::Url(url));
    }
    let spec = ctx
        .and_then(|c| c.prometheus_service.clone())
        .unwrap_or_else(|| config.prometheus.service.clone());
    PromEndpoint::service(&spec)
}

/// Connects every context: a client, a handle, a monitor task, a Prometheus client.
pub async fn connect(
    prepared: &Prepared,
    args: &RunArgs,
    notifier: &Notifier,
    cancel: &CancellationToken,
) -> anyhow::Result<Arc<World>> {
    let world = Arc::new(World::new(notifier.clone()));
    // One endpoint with every cluster's metrics, asked for all of them at once.
    if let Some(fleet) = FleetSource::new(&prepared.config.fleet, notifier.clone()) {
        tokio::spawn(fleet.clone().run(cancel.child_token()));
        world.set_fleet(Some(fleet));
    }
    // Clients are built concurrently (a credential plugin can take seconds) but bounded, and
    // in kubeconfig order; one context that fails does not keep the others from starting.
    let clients: Vec<_> = futures::stream::iter(&prepared.contexts)
        .map(|ctx| kubeconfig::client(&prepared.kubeconfig, &ctx.name))
        .buffered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    if let Some(Err(first)) = clients.iter().find(|c| c.is_err())
        && clients.iter().all(Result::is_err)
    {
        return Err(fail(first));
    }
    for (ctx, client) in prepared.contexts.iter().zip(clients) {
        let reach = match &client {
            Ok(_) => Reach::Connecting,
            Err(e) => {
                log::error!("{e}");
                Reach::Failed {
                    reason: match e {
                        kubeconfig::KubeconfigError::Client { message, .. } => message.clone(),
                        other => other.to_string(),
                    },
                }
            }
        };
        let client = client.ok();
        let info = ClusterInfo {
            server: ctx.server.clone(),
            user: ctx.user.clone(),
            version: None,
            reach,
            prometheus: PromReach::Unknown,
            readonly: prepared.config.context_readonly(&ctx.name) || args.readonly,
        };
        let namespace = if args.all_namespaces {
            None
        } else {
            args.namespace.clone()
        };
        let handle = ClusterHandle::new(
            &ctx.name,
            info,
            client.clone(),
            namespace,
            notifier.clone(),
            cancel.child_token(),
        );
        handle.set_insecure(ctx.insecure);
        if let Reach::Failed { reason } = handle.info().reach {
            handle.sources.set_failed(&reason);
        }
        if let Some(client) = client {
            let prom = prom_endpoint(&prepared.config, &ctx.name).map(|e| {
                PromClient::new(
                    e,
                    Some(client.clone()),
                    Duration::from_secs(prepared.config.prometheus.timeout_secs),
                )
            });
            handle.sources.set_prometheus(prom.clone());
            tokio::spawn(monitor::run(handle.clone(), prom));
        }
        world.add(handle);
    }
    Ok(world)
}

/// Probes the clusters briefly; true when at least one answers.
async fn any_reachable(world: &World) -> bool {
    let probes = world.clusters().into_iter().filter_map(|c| {
        c.client().cloned().map(|client| async move {
            tokio::time::timeout(Duration::from_secs(3), client.apiserver_version())
                .await
                .is_ok_and(|r| r.is_ok())
        })
    });
    futures::future::join_all(probes)
        .await
        .into_iter()
        .any(|ok| ok)
}

/// Runs the dashboard until the user quits or a signal arrives.
pub async fn run_dashboard(args: &RunArgs, target: StartTarget) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cancel = CancellationToken::new();
    let paths = Paths::from_env();
    let mut demo = None;
    let kubeconfig_path = if args.demo {
        let (path, handle) =
            kdeck_demo::start_for_dashboard(&args.demo_options(), &paths.state_dir)
                .await
                .map_err(|e| fail(format!("cannot start the demo cluster: {e:#}")))?;
        demo = Some(handle);
        Some(path)
    } else {
        args.kubeconfig.clone()
    };
    let mut args = args.clone();
    if args.demo && args.contexts.is_empty() {
        args.all_contexts = true;
    }
    let prepared = prepare(&args, kubeconfig_path)?;
    let mut warnings = Vec::new();
    if let Err(e) = crate::logging::init(&prepared.paths.log_file(), log::LevelFilter::Info) {
        warnings.push(format!(
            "{e}: the log stays in the log pane (L); actions will be refused if the audit log \
             cannot be written either"
        ));
    }
    let notifier = Notifier::new();
    let world = connect(&prepared, &args, &notifier, &cancel).await?;
    log::info!(
        "kdeck {}: watching {} (audit log {})",
        env!("CARGO_PKG_VERSION"),
        prepared
            .contexts
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        prepared.paths.audit_log().display()
    );
    let explicit = args.demo || !args.contexts.is_empty() || args.all_contexts;
    if !explicit && !any_reachable(&world).await {
        let ctx = prepared
            .contexts
            .first()
            .map(|c| format!("{} ({})", c.name, c.server))
            .unwrap_or_default();
        cancel.cancel();
        return Err(fail(format!(
            "no cluster is reachable: context {ctx} does not answer. Check your VPN or \
             kubeconfig, pass --context NAME to start anyway, or try the built-in demo: \
             kdeck --demo"
        )));
    }
    let readonly_contexts = prepared
        .contexts
        .iter()
        .filter(|c| prepared.config.context_readonly(&c.name))
        .map(|c| c.name.clone())
        .collect();
    let (executor, exec_events) = Executor::new(
        world.clone(),
        ExecOptions {
            readonly: args.readonly || prepared.config.readonly,
            readonly_contexts,
            dry_run: args.dry_run,
            request_timeout: None,
        },
        AuditLog::new(&prepared.paths.audit_log()),
    );
    let scope = Scope {
        focus: None,
        all_clusters: true,
        namespace: if args.all_namespaces {
            None
        } else {
            args.namespace.clone()
        },
    };
    let settings = AppSettings {
        readonly: args.readonly || prepared.config.readonly,
        dry_run: args.dry_run,
        banner: demo.as_ref().map(|_| "demo".to_string()),
        start_pane: target.open.as_ref().map(|(pane, _)| pane.clone()),
        warnings,
    };
    let mut app = App::new(
        world.clone(),
        registry(),
        prepared.keymap.clone(),
        prepared.theme.clone(),
        prepared.config.clone(),
        Clock::System,
        Some(executor.clone()),
        settings,
        scope,
    );
    if let Some((pane, name)) = &target.open {
        app.open_named(pane, name, args.namespace.as_deref());
    }
    if demo.is_some() {
        log::info!(
            "demo cluster running; kubectl can use it: kubectl --kubeconfig {} get pods -A",
            prepared
                .kubeconfig_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
    }
    let mut guard = crate::tui::TerminalGuard::enter().context("cannot set up the terminal")?;
    let result = runloop::run(&mut app, &mut guard.terminal, notifier, Some(exec_events)).await;
    drop(guard);
    // An action under way gets a moment to finish; what is left is recorded as unknown.
    executor.drain(EXIT_PATIENCE).await;
    crate::logging::flush();
    cancel.cancel();
    if let Some(d) = demo {
        d.shutdown().await;
    }
    match result {
        Ok(reason) => {
            log::info!("exit: {reason:?}");
            Ok(())
        }
        Err(e) => Err(e),
    }
}
