//! The event loop behind the simulated Argo Rollouts controller and AnalysisRun controller:
//! store events mark objects dirty, timers (pauses, measurement intervals, scale-down
//! deadlines) wake them later, and each dirty object is reconciled once per wake-up.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::analysis::{self, PromqlEngine, QueryEngine};
use super::controller::{Ctx, Rec};
use super::model::Strategy;
use super::util::{Kinds, PreciseTimes};
use super::{bluegreen, canary, ci, traffic, workload_ref};
use crate::ClusterState;
use crate::api::registry::Addon;
use crate::api::store::{EventType, WatchEvent};
use crate::sim::Pace;
use crate::sim::fields;

/// What to run; tests swap the query engine and switch parts off.
#[derive(Clone)]
pub struct SimConfig {
    pub engine: Arc<dyn QueryEngine>,
    /// The simulated CI that ships new releases.
    pub ci: bool,
    /// The Istio traffic scraper (only on clusters with Istio).
    pub traffic: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            engine: Arc::new(PromqlEngine),
            ci: true,
            traffic: true,
        }
    }
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("ci", &self.ci)
            .field("traffic", &self.traffic)
            .finish_non_exhaustive()
    }
}

/// Starts the controllers with `config`.
pub fn spawn_with(state: &Arc<ClusterState>, shutdown: &CancellationToken, config: SimConfig) {
    let Some(kinds) = Kinds::of(state) else {
        return;
    };
    tokio::spawn(controller_loop(
        state.clone(),
        kinds,
        shutdown.clone(),
        config.engine.clone(),
    ));
    if config.traffic && state.profile.has(Addon::Istio) {
        tokio::spawn(traffic::run(state.clone(), kinds, shutdown.clone()));
    }
    if config.ci {
        tokio::spawn(ci::run(state.clone(), kinds, shutdown.clone()));
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Key {
    Rollout(String, String),
    Run(String, String),
}

/// Wake-ups: at most one (the earliest) per object.
#[derive(Default)]
struct Timers {
    by_key: HashMap<Key, Instant>,
    queue: BTreeSet<(Instant, Key)>,
}

impl Timers {
    fn add(&mut self, key: Key, at: Instant) {
        if let Some(existing) = self.by_key.get(&key) {
            if *existing <= at && *existing >= Instant::now() {
                return;
            }
            self.queue.remove(&(*existing, key.clone()));
        }
        self.by_key.insert(key.clone(), at);
        self.queue.insert((at, key));
    }

    fn next(&self) -> Option<Instant> {
        self.queue.first().map(|(t, _)| *t)
    }

    fn pop_due(&mut self, now: Instant, out: &mut BTreeSet<Key>) {
        while let Some((t, _)) = self.queue.first() {
            if *t > now {
                break;
            }
            if let Some((_, k)) = self.queue.pop_first() {
                self.by_key.remove(&k);
                out.insert(k);
            }
        }
    }
}

/// The Rollout owning an object, from its controller ownerReference.
fn owner_rollout(v: &Value) -> Option<String> {
    v.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| fields::get_str(r, "/kind") == Some("Rollout"))
        .and_then(|r| fields::get_str(r, "/name"))
        .map(str::to_string)
}

fn on_event(state: &ClusterState, kinds: Kinds, e: &WatchEvent, dirty: &mut BTreeSet<Key>) {
    let ns = e.object.key.ns.clone();
    let name = e.object.key.name.clone();
    if e.type_id == kinds.deployments {
        // A referenced Deployment changed: its Rollouts learn the new generation (and wake).
        for ro in workload_ref::workload_changed(state, kinds, e.type_id, &e.object.value()) {
            dirty.insert(Key::Rollout(ns.clone(), ro));
        }
    } else if e.type_id == kinds.rollouts {
        if e.kind != EventType::Deleted {
            dirty.insert(Key::Rollout(ns, name));
        }
    } else if e.type_id == kinds.replica_sets {
        if let Some(owner) = owner_rollout(&e.object.value()) {
            dirty.insert(Key::Rollout(ns, owner));
        }
    } else if e.type_id == kinds.analysis_runs {
        let v = e.object.value();
        if let Some(owner) = owner_rollout(&v) {
            dirty.insert(Key::Rollout(ns.clone(), owner));
        }
        if e.kind != EventType::Deleted {
            dirty.insert(Key::Run(ns, name));
        }
    }
}

fn everything(state: &ClusterState, kinds: Kinds, dirty: &mut BTreeSet<Key>) {
    workload_ref::resync(state, kinds);
    for o in state.store.list(kinds.rollouts, None).0 {
        dirty.insert(Key::Rollout(o.key.ns.clone(), o.key.name.clone()));
    }
    for o in state.store.list(kinds.analysis_runs, None).0 {
        dirty.insert(Key::Run(o.key.ns.clone(), o.key.name.clone()));
    }
}

/// Reconciles one Rollout (strategy dispatch); returns the requeue delay.
pub fn reconcile_rollout(ctx: &mut Ctx<'_>, ns: &str, name: &str) -> Option<Duration> {
    let mut rec = Rec::load(ctx, ns, name)?;
    rec.check_paused_conditions();
    match rec.ro.strategy.clone() {
        Strategy::Canary(c) => canary::reconcile(&mut rec, &c),
        Strategy::BlueGreen(b) => bluegreen::reconcile(&mut rec, &b),
    }
    rec.requeue
}

async fn controller_loop(
    state: Arc<ClusterState>,
    kinds: Kinds,
    shutdown: CancellationToken,
    engine: Arc<dyn QueryEngine>,
) {
    let mut rx = state.store.subscribe();
    let pace = Pace::new(state.options.speed);
    let mut times = PreciseTimes::default();
    let mut timers = Timers::default();
    let mut dirty = BTreeSet::new();
    // Guard against a reconcile that never settles: past 40 passes a second, back off.
    let mut budget: HashMap<Key, (Instant, u32)> = HashMap::new();
    everything(&state, kinds, &mut dirty);
    loop {
        let mut handled = 0;
        while let Some(key) = dirty.pop_first() {
            let now_i = Instant::now();
            let entry = budget.entry(key.clone()).or_insert((now_i, 0));
            if now_i.duration_since(entry.0) > Duration::from_secs(1) {
                *entry = (now_i, 0);
            }
            entry.1 += 1;
            if entry.1 > 40 {
                if entry.1 == 41 {
                    log::warn!("demo rollouts: {key:?} keeps changing; backing off");
                }
                timers.add(key, now_i + Duration::from_millis(250));
                continue;
            }
            let now = chrono::Utc::now();
            let requeue = match &key {
                Key::Rollout(ns, name) => {
                    let mut ctx = Ctx {
                        state: &state,
                        kinds,
                        pace,
                        now,
                        times: &mut times,
                    };
                    reconcile_rollout(&mut ctx, ns, name)
                }
                Key::Run(ns, name) => {
                    let mut ctx = analysis::RunCtx {
                        state: &state,
                        engine: engine.as_ref(),
                        pace,
                        now,
                        times: &mut times,
                    };
                    analysis::reconcile(&mut ctx, kinds.analysis_runs, ns, name)
                }
            };
            if let Some(d) = requeue {
                timers.add(key, Instant::now() + d);
            }
            handled += 1;
            if handled % 16 == 0 {
                // Pick up the events our own writes produced, and let other tasks run.
                tokio::task::yield_now().await;
                drain(&mut rx, &state, kinds, &mut dirty);
            }
        }
        if budget.len() > 10_000 {
            budget.clear();
        }
        let next = timers.next();
        tokio::select! {
            () = shutdown.cancelled() => return,
            ev = rx.recv() => match ev {
                Ok(e) => on_event(&state, kinds, &e, &mut dirty),
                Err(RecvError::Lagged(_)) => everything(&state, kinds, &mut dirty),
                Err(RecvError::Closed) => return,
            },
            () = sleep_until(next) => {}
        }
        drain(&mut rx, &state, kinds, &mut dirty);
        timers.pop_due(Instant::now(), &mut dirty);
    }
}

fn drain(
    rx: &mut tokio::sync::broadcast::Receiver<Arc<WatchEvent>>,
    state: &ClusterState,
    kinds: Kinds,
    dirty: &mut BTreeSet<Key>,
) {
    loop {
        match rx.try_recv() {
            Ok(e) => on_event(state, kinds, &e, dirty),
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {
                everything(state, kinds, dirty);
            }
            Err(_) => return,
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
