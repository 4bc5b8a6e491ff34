//! The application: which pane has focus, the scope (clusters, namespace), the overlays (help,
//! command line, filter, confirm dialog), toasts, and the routing of keys to actions. It is
//! driven by [`runloop`] in a terminal and directly by tests (keys in, frames out), so it
//! never touches the terminal or awaits anything itself.

mod command;
mod confirm;
mod keys;
pub mod runloop;
mod view;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock::Clock;
use crate::cluster::ClusterHandle;
use crate::config::Config;
use crate::exec::{ActionPlan, Executor, RbacVerdict};
use crate::keymap::{ActionCall, KeyPress, Keymap, KnownActions};
use crate::panes::{AddonSpec, Pane, Problem, Prompt, Reply, Scope, ViewCtx};
use crate::source::{SourceManager, SourceSpec};
use crate::theme::{Role, Theme};
use crate::widgets::input::LineInput;
use crate::world::World;

/// Actions the app itself handles, in every layer.
pub const GLOBAL_ACTIONS: &[&str] = &[
    "quit",
    "help",
    "command-line",
    "filter",
    "next-pane",
    "prev-pane",
    "goto-pane",
    "toggle-all-clusters",
    "toggle-log",
    "refresh",
    "back",
];

/// Movement in any table.
pub const TABLE_ACTIONS: &[&str] = &["up", "down", "page-up", "page-down", "top", "bottom"];

/// Words the command line knows besides action names.
const COMMANDS: &[&str] = &["q", "quit", "ctx", "ns", "pane", "help"];

/// The action names every layer accepts, for keymap validation.
#[must_use]
pub fn known_actions(panes: &[Box<dyn Pane>]) -> KnownActions {
    let mut k = KnownActions::default();
    k.add("global", GLOBAL_ACTIONS.iter().copied());
    k.add("table", TABLE_ACTIONS.iter().copied());
    k.add("dialog", ["confirm", "cancel"]);
    for p in panes {
        for (layer, actions) in p.layers() {
            k.add(layer, actions.iter().copied());
        }
    }
    k
}

/// A message on the status line.
#[derive(Debug, Clone)]
pub struct Toast {
    pub text: String,
    pub role: Role,
    until: Instant,
}

/// The confirm dialog's state.
#[derive(Debug, Clone)]
pub struct Confirm {
    pub id: u64,
    pub plan: ActionPlan,
    /// The identity the action runs as (the cluster's user when the dialog opened).
    pub user: String,
    /// `None` while the RBAC check runs.
    pub rbac: Option<RbacVerdict>,
    pub readonly: bool,
    pub dry_run: bool,
    /// Keys before this instant are not answers: they were typed ahead, before the dialog
    /// could be read (on a laggy SSH link a burst can arrive together).
    pub armed_at: Instant,
}

/// How long a new confirm dialog ignores keys.
pub const CONFIRM_ARM_DELAY: Duration = Duration::from_millis(400);

/// What covers the screen, if anything.
#[derive(Debug, Clone)]
pub enum Mode {
    Normal,
    Help {
        scroll: usize,
    },
    Command(LineInput),
    /// Editing the filter; keeps the filter to restore on Esc.
    Filter(LineInput, String),
    /// Answering a pane's question.
    Prompt(LineInput, Box<Prompt>),
    Confirm(Box<Confirm>),
}

/// Static settings of a run.
#[derive(Debug, Clone, Default)]
pub struct AppSettings {
    pub readonly: bool,
    pub dry_run: bool,
    /// Shown in the tab bar, e.g. "demo".
    pub banner: Option<String>,
    /// Open this pane first (by id).
    pub start_pane: Option<String>,
    /// Things the user must know at start (an unwritable state dir, insecure clusters).
    pub warnings: Vec<String>,
}

/// The application state.
pub struct App {
    pub world: Arc<World>,
    panes: Vec<Box<dyn Pane>>,
    focus: usize,
    pub scope: Scope,
    keymap: Keymap,
    theme: Theme,
    config: Config,
    pub clock: Clock,
    executor: Option<Arc<Executor>>,
    pub mode: Mode,
    pending: Vec<KeyPress>,
    pub toast: Option<Toast>,
    pub show_log: bool,
    pub quit: bool,
    pub dirty: bool,
    problems: BTreeMap<String, Vec<Problem>>,
    next_id: u64,
    settings: AppSettings,
    log_state: tui_logger::TuiWidgetState,
    /// When the panes not on screen last updated (they feed the problems roll-up, which
    /// need not move faster than once a second).
    background_updated: Option<Instant>,
    /// The clusters as of the last update: what drawing reads (no lock per frame).
    clusters: Vec<Arc<ClusterHandle>>,
    /// Every pane's add-on APIs, for the Clusters pane.
    addons: Vec<AddonSpec>,
    sources: SourceManager,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("focus", &self.focus)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Builds the app; starts every pane's watches on every cluster.
    #[must_use]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        world: Arc<World>,
        panes: Vec<Box<dyn Pane>>,
        keymap: Keymap,
        theme: Theme,
        config: Config,
        clock: Clock,
        executor: Option<Arc<Executor>>,
        settings: AppSettings,
        scope: Scope,
    ) -> Self {
        let mut app = Self {
            world,
            panes,
            focus: 0,
            scope,
            keymap,
            theme,
            config,
            clock,
            executor,
            mode: Mode::Normal,
            pending: Vec::new(),
            toast: None,
            show_log: false,
            quit: false,
            dirty: true,
            problems: BTreeMap::new(),
            next_id: 1,
            settings,
            log_state: tui_logger::TuiWidgetState::new(),
            background_updated: None,
            clusters: Vec::new(),
            addons: Vec::new(),
            sources: SourceManager::default(),
        };
        app.addons = crate::panes::addons(&app.panes);
        app.clusters = app.world.clusters();
        if let Some(id) = app.settings.start_pane.clone()
            && let Some(i) = app.panes.iter().position(|p| p.id() == id)
        {
            app.focus = i;
        }
        app.reconcile_sources();
        let warnings: Vec<String> = app
            .settings
            .warnings
            .iter()
            .chain(&app.keymap.warnings)
            .cloned()
            .collect();
        if !warnings.is_empty() {
            for w in &warnings {
                log::warn!("{w}");
            }
            let first = warnings[0].clone();
            let more = warnings.len() - 1;
            let text = if more > 0 {
                format!("{first} (+{more} more; L shows the log)")
            } else {
                first
            };
            app.toast(text, Role::Warn, Duration::from_secs(15));
        }
        app
    }

    /// Starts and stops sources to match what every pane declares now (kinds are shared
    /// per cluster; an open view's watches and queries run while it is open). Prometheus is
    /// polled for the pane on screen only: the others' columns are not seen, and every poll
    /// is a request to each cluster (through its API server's service proxy).
    pub fn reconcile_sources(&mut self) {
        let focus = self.focus;
        let specs: Vec<SourceSpec> = self
            .panes
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                p.sources()
                    .into_iter()
                    .filter(move |s| i == focus || !matches!(s, SourceSpec::Prom { .. }))
            })
            .collect();
        self.sources.reconcile(
            self.clusters
                .iter()
                .map(|c| (c.context.as_str(), &c.sources)),
            &specs,
        );
    }

    #[must_use]
    pub fn focused_pane(&self) -> &dyn Pane {
        self.panes[self.focus].as_ref()
    }

    #[must_use]
    pub fn pane_ids(&self) -> Vec<&'static str> {
        self.panes.iter().map(|p| p.id()).collect()
    }

    pub fn focus_pane(&mut self, id: &str) -> bool {
        match self.panes.iter().position(|p| p.id() == id) {
            Some(i) => {
                self.focus = i;
                self.dirty = true;
                true
            }
            None => false,
        }
    }

    pub fn toast(&mut self, text: impl Into<String>, role: Role, for_: Duration) {
        self.toast = Some(Toast {
            text: text.into(),
            role,
            until: Instant::now() + for_,
        });
        self.dirty = true;
    }

    /// When the screen must change though nothing happens (a confirm dialog arming).
    #[must_use]
    pub fn wake_at(&self) -> Option<Instant> {
        match &self.mode {
            Mode::Confirm(c) if Instant::now() < c.armed_at => Some(c.armed_at),
            _ => None,
        }
    }

    /// Called about once a second: expires toasts; ages and countdowns move.
    pub fn on_tick(&mut self) {
        if self
            .toast
            .as_ref()
            .is_some_and(|t| Instant::now() >= t.until)
        {
            self.toast = None;
        }
        self.dirty = true;
    }

    /// Recomputes view models from the stores (only what changed): the focused pane on every
    /// frame, the others at most once a second.
    pub fn update_models(&mut self) {
        self.clusters = self.world.clusters();
        let clusters = self.clusters.clone();
        let background = self
            .background_updated
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
        if background {
            self.background_updated = Some(Instant::now());
        }
        let focus = self.focus;
        let empty = BTreeMap::new();
        let fleet = self.world.fleet().map(|f| f.snapshot());
        let mut problems: BTreeMap<String, Vec<Problem>> = BTreeMap::new();
        for (i, pane) in self.panes.iter_mut().enumerate() {
            if pane.uses_problems() {
                continue;
            }
            if background || i == focus {
                let ctx = ViewCtx {
                    clusters: &clusters,
                    scope: &self.scope,
                    clock: self.clock,
                    config: &self.config,
                    problems: &empty,
                    addons: &self.addons,
                    fleet: fleet.as_deref(),
                };
                pane.update(&ctx);
            }
            for p in &pane.summary().problems {
                problems
                    .entry(p.cluster.clone())
                    .or_default()
                    .push(p.clone());
            }
        }
        self.problems = problems;
        for (i, pane) in self.panes.iter_mut().enumerate() {
            if !pane.uses_problems() || !(background || i == focus) {
                continue;
            }
            let ctx = ViewCtx {
                clusters: &clusters,
                scope: &self.scope,
                clock: self.clock,
                config: &self.config,
                problems: &self.problems,
                addons: &self.addons,
                fleet: fleet.as_deref(),
            };
            pane.update(&ctx);
        }
        self.reconcile_sources();
    }

    fn layers(&self) -> Vec<&'static str> {
        vec![self.focused_pane().layer(), "table", "global"]
    }

    /// Runs an action by name (from a key or the command line).
    pub fn dispatch(&mut self, action: &ActionCall) {
        self.dirty = true;
        // The pane gets first say (a detail view closes on "back" before the filter clears).
        let clusters = self.world.clusters();
        let fleet = self.world.fleet().map(|f| f.snapshot());
        let reply = {
            let ctx = ViewCtx {
                clusters: &clusters,
                scope: &self.scope,
                clock: self.clock,
                config: &self.config,
                problems: &self.problems,
                addons: &self.addons,
                fleet: fleet.as_deref(),
            };
            self.panes[self.focus].on_action(action, &ctx)
        };
        self.handle_reply(reply, action);
    }

    /// Opens pane `id` at the object `name` (in `namespace`, if given) once it appears:
    /// `kdeck open PANE NAME`.
    pub fn open_named(&mut self, id: &str, name: &str, namespace: Option<&str>) {
        if !self.focus_pane(id) {
            let known = self.pane_ids().join(", ");
            self.toast(
                format!("no pane {id:?} (panes: {known})"),
                Role::Warn,
                Duration::from_secs(8),
            );
            return;
        }
        // The object may already be in the stores: build the rows before looking.
        self.update_models();
        let reply = self.panes[self.focus].open_named(name, namespace);
        let call = ActionCall {
            name: "open-detail".into(),
            args: vec![name.to_string()],
        };
        self.handle_reply(reply, &call);
    }

    fn handle_reply(&mut self, reply: Reply, action: &ActionCall) {
        match reply {
            Reply::Unhandled => self.global_action(action),
            Reply::Handled => {}
            Reply::Info(text) => self.toast(text, Role::Text, Duration::from_secs(5)),
            Reply::Warn(text) => self.toast(text, Role::Warn, Duration::from_secs(8)),
            Reply::FocusCluster(ctx) => self.focus_cluster(&ctx),
            Reply::Plan(plan) => self.propose(*plan),
            Reply::Prompt(prompt) => {
                self.mode = Mode::Prompt(LineInput::with_text(&prompt.initial), Box::new(prompt));
            }
        }
    }

    fn global_action(&mut self, action: &ActionCall) {
        let n = self.panes.len();
        match action.name.as_str() {
            "quit" => self.quit = true,
            "help" => self.mode = Mode::Help { scroll: 0 },
            "command-line" => self.mode = Mode::Command(LineInput::default()),
            "filter" => {
                let current = self.panes[self.focus].filter().to_string();
                self.mode = Mode::Filter(LineInput::with_text(&current), current);
            }
            "next-pane" => self.focus = (self.focus + 1) % n,
            "prev-pane" => self.focus = (self.focus + n - 1) % n,
            "goto-pane" => {
                let arg = action.args.first().map(String::as_str).unwrap_or_default();
                match arg.parse::<usize>() {
                    Ok(i) if (1..=n).contains(&i) => self.focus = i - 1,
                    _ => {
                        if !self.focus_pane(arg) {
                            self.toast(
                                format!("no pane {arg:?}"),
                                Role::Warn,
                                Duration::from_secs(4),
                            );
                        }
                    }
                }
            }
            "toggle-all-clusters" => {
                if self.scope.focus.is_none() {
                    self.toast(
                        "no focused cluster yet: press enter on a cluster row",
                        Role::Text,
                        Duration::from_secs(5),
                    );
                } else {
                    self.scope.all_clusters = !self.scope.all_clusters;
                    let text = if self.scope.all_clusters {
                        "showing all clusters".to_string()
                    } else {
                        format!(
                            "showing {} only",
                            self.scope.focus.clone().unwrap_or_default()
                        )
                    };
                    self.toast(text, Role::Text, Duration::from_secs(4));
                }
            }
            "toggle-log" => self.show_log = !self.show_log,
            "refresh" => {
                for c in self.world.clusters() {
                    c.refresh();
                }
                self.toast(
                    "reconnecting and relisting every source",
                    Role::Text,
                    Duration::from_secs(4),
                );
            }
            "back" => {
                if !self.panes[self.focus].filter().is_empty() {
                    self.panes[self.focus].set_filter("");
                }
            }
            "up" | "down" | "page-up" | "page-down" | "top" | "bottom" => {}
            other => {
                let layer = self.focused_pane().layer();
                self.toast(
                    format!("{other}: not available in {layer}"),
                    Role::Warn,
                    Duration::from_secs(5),
                );
            }
        }
    }

    fn focus_cluster(&mut self, context: &str) {
        if self.world.cluster(context).is_none() {
            let known: Vec<String> = self
                .world
                .clusters()
                .iter()
                .map(|c| c.context.clone())
                .collect();
            self.toast(
                format!(
                    "context {context:?} is not watched (watched: {}); start kdeck with --context {context}",
                    known.join(", ")
                ),
                Role::Warn,
                Duration::from_secs(8),
            );
            return;
        }
        self.scope.focus = Some(context.to_string());
        self.scope.all_clusters = false;
        self.toast(
            format!("focused {context} (C: all clusters)"),
            Role::Text,
            Duration::from_secs(5),
        );
    }
}
