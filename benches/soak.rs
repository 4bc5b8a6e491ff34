//! Fault soak: kdeck's real sources, cluster monitor and executor against an in-process demo
//! cluster (`--speed 4`, so its controllers keep writing) for several minutes, while faults
//! are injected at random: watch drops, history compaction (410 Gone), a kind answering 403 or
//! 404, 500s on a share of requests, latency, a frozen server, the whole cluster down, and
//! Prometheus down. While each fault is active, a test rollout is paused, resumed and promoted
//! through the executor. It prints the faults injected, the time from lifting each fault until
//! kdeck's stores hold what the server holds again (p50/p99), objects still differing after
//! the final convergence, panics caught in tasks, actions applied twice (each action's effect
//! is read from the server once the controller has acted) and audit intents without an
//! outcome. The last four should be 0. Figures only: nothing here is asserted.
//!
//! Run: `cargo bench --bench soak` (`KDECK_SOAK_SECS` sets the duration, default 180 s;
//! `KDECK_SOAK_SEED` the fault sequence's seed, printed at the start).

#[path = "support/common.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kdeck::cluster::{ClusterHandle, ClusterInfo, PromReach, Reach, kubeconfig, monitor};
use kdeck::exec::{ActionPlan, ExecEvent, ExecOptions, Executor, OutcomeKind, audit::AuditLog};
use kdeck::k8s::{apps::Deployment, apps::ReplicaSet, core::Namespace, core::Node, pod::Pod};
use kdeck::panes::rollouts::{model::Objects, model::RolloutRow, model::build_rows, plan::plan};
use kdeck::panes::{Reply, kit::RowCache};
use kdeck::world::World;
use kdeck::{k8s::rollout::Rollout, keymap::ActionCall, source::Notifier, source::Watched};
use kdeck_demo::api::{faults::Faults, registry, store::ObjectStore, store::Patch};
use kdeck_demo::{Demo, DemoConfig, SimOptions, api::store::Subresource};
use kube::ResourceExt;
use serde_json::{Value, json};
use tokio::sync::mpsc::Receiver;
use tokio_util::sync::CancellationToken;

const NS: &str = "soak";
const NAME: &str = "canary";
/// setWeight, then indefinite pauses: each promote moves exactly one step, so a promote
/// applied twice shows as a jump of two.
const PAUSES: i64 = 8;
/// A fault whose convergence takes longer counts as not converged.
const CONVERGE_LIMIT: Duration = Duration::from_secs(90);
/// The final comparison's retry window (controllers keep writing while both sides are read).
const FINAL_LIMIT: Duration = Duration::from_secs(30);

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// splitmix64: a seeded sequence without another dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// One watched kind: how to compare kdeck's store with the server's.
struct Kind {
    group: &'static str,
    plural: &'static str,
    type_id: usize,
    diff: fn(&ClusterHandle, &ObjectStore, usize) -> usize,
    live: fn(&ClusterHandle) -> bool,
}

/// Starts kdeck's watch of `K`.
fn kind<K: Watched>(h: &ClusterHandle, group: &'static str, plural: &'static str) -> Kind {
    h.sources.start_kind::<K>();
    let type_id = registry::find(group, plural).unwrap();
    let live = |h: &ClusterHandle| h.sources.state::<K>().is_live();
    Kind {
        group,
        plural,
        type_id,
        diff: diff::<K>,
        live,
    }
}

fn kinds(h: &ClusterHandle) -> Vec<Kind> {
    vec![
        kind::<Rollout>(h, "argoproj.io", "rollouts"),
        kind::<ReplicaSet>(h, "apps", "replicasets"),
        kind::<Deployment>(h, "apps", "deployments"),
        kind::<Pod>(h, "", "pods"),
        kind::<Node>(h, "", "nodes"),
        kind::<Namespace>(h, "", "namespaces"),
    ]
}

type Key = (String, String, String);

/// Objects in one store and not the other (by namespace, name and resourceVersion).
fn diff<K: Watched>(h: &ClusterHandle, store: &ObjectStore, type_id: usize) -> usize {
    let ours: BTreeSet<Key> = h
        .sources
        .objects::<K>()
        .iter()
        .map(|g| match &g.0 {
            Ok(o) => (
                o.namespace().unwrap_or_default(),
                o.name_any(),
                o.resource_version().unwrap_or_default(),
            ),
            // Unreadable objects never equal the server's.
            Err(e) => ("?".into(), e.to_string(), String::new()),
        })
        .collect();
    let theirs: BTreeSet<Key> = store
        .list(type_id, None)
        .0
        .iter()
        .map(|o| (o.key.ns.clone(), o.key.name.clone(), o.rv.to_string()))
        .collect();
    ours.symmetric_difference(&theirs).count()
}

/// Waits until every kind is live and equal to the server (each kind on its own: with
/// controllers writing, all six are rarely equal at one instant). Ok(time taken), or
/// Err(objects differing at the limit).
async fn converge(
    h: &ClusterHandle,
    store: &ObjectStore,
    kinds: &[Kind],
    limit: Duration,
) -> Result<Duration, usize> {
    let start = Instant::now();
    let mut done = vec![false; kinds.len()];
    loop {
        let mut differing = 0;
        for (k, done) in kinds.iter().zip(done.iter_mut()) {
            if !*done {
                let d = (k.diff)(h, store, k.type_id);
                *done = d == 0 && (k.live)(h);
                differing += d;
            }
        }
        if done.iter().all(|d| *d) {
            return Ok(start.elapsed());
        }
        if start.elapsed() > limit {
            return Err(differing);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    DropWatches,
    Compact,
    /// A watched kind (by index) answers 403 or 404.
    FailKind(usize, u16),
    Errors,
    Latency,
    Frozen,
    Down,
    PromDown,
}

impl Fault {
    /// A fault at random, and how it is named in the figures.
    fn pick(rng: &mut Rng, kinds: &[Kind]) -> (Self, String) {
        let k = usize::try_from(rng.next() % kinds.len() as u64).unwrap_or(0);
        let on = kinds[k].plural;
        match rng.next() % 9 {
            0 => (Self::DropWatches, "watches dropped".into()),
            1 => (Self::Compact, "history compacted (410 Gone)".into()),
            2 => (Self::FailKind(k, 403), format!("403 on {on}")),
            3 => (Self::FailKind(k, 404), format!("404 on {on}")),
            4 => (Self::Errors, "500 on 30% of requests".into()),
            5 => (Self::Latency, "1.5 s latency".into()),
            6 => (Self::Frozen, "server frozen".into()),
            7 => (Self::Down, "cluster down".into()),
            _ => (Self::PromDown, "Prometheus down".into()),
        }
    }

    /// Starts the fault; instantaneous ones (drops, compaction) are repeated by `repeat`.
    async fn inject(self, f: &Faults, kinds: &[Kind]) {
        match self {
            Self::DropWatches | Self::Compact => self.repeat(f),
            Self::FailKind(k, code) => f.fail_kind(kinds[k].group, kinds[k].plural, code).unwrap(),
            Self::Errors => f.set_error_rate(0.3).unwrap(),
            Self::Latency => f.set_latency(Duration::from_millis(1500)),
            Self::Frozen => f.set_frozen(true),
            Self::Down => f.down().await,
            Self::PromDown => f.prom_down().await,
        }
    }

    fn repeat(self, f: &Faults) {
        match self {
            Self::DropWatches => f.drop_watches(),
            Self::Compact => {
                // Compaction alone ends no watch; the reconnection after a drop meets 410.
                f.compact();
                f.drop_watches();
            }
            _ => {}
        }
    }

    async fn lift(self, f: &Faults, kinds: &[Kind]) {
        match self {
            Self::DropWatches | Self::Compact => {}
            Self::FailKind(k, _) => f.restore_kind(kinds[k].group, kinds[k].plural).unwrap(),
            Self::Errors => f.set_error_rate(0.0).unwrap(),
            Self::Latency => f.set_latency(Duration::ZERO),
            Self::Frozen => f.set_frozen(false),
            Self::Down => f.up().await.unwrap(),
            Self::PromDown => f.prom_up().await.unwrap(),
        }
    }
}

fn rollout_type() -> usize {
    registry::find("argoproj.io", "rollouts").unwrap()
}

fn rollout(store: &ObjectStore) -> Value {
    let r = store.get_value(rollout_type(), NS, NAME);
    r.unwrap_or_default()
}

fn step(r: &Value) -> i64 {
    r["status"]["currentStepIndex"].as_i64().unwrap_or(-1)
}

async fn wait_rollout(store: &ObjectStore, limit: Duration, pred: impl Fn(&Value) -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if pred(&rollout(store)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Ships a new image (written straight into the server's store, as another user would): the
/// canary starts over and stops at its first pause (step 1).
async fn new_revision(store: &ObjectStore, version: u32) {
    let patch = Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": format!("registry.example.com/web:1.{version}.0")}
    ]}}}}));
    store
        .patch(rollout_type(), NS, NAME, &patch, Subresource::Main, false)
        .unwrap();
    wait_rollout(store, Duration::from_secs(60), |r| {
        step(r) == 1 && r["status"]["pauseConditions"][0]["reason"] == "CanaryPauseStep"
    })
    .await;
}

/// The test rollout: first revision healthy, then a canary paused at step 1.
async fn create_canary(store: &ObjectStore) {
    let ns = json!({"metadata": {"name": NS}, "status": {"phase": "Active"}});
    store
        .insert(registry::find("", "namespaces").unwrap(), ns)
        .unwrap();
    let mut steps = vec![json!({"setWeight": 10})];
    steps.extend((0..PAUSES).map(|_| json!({"pause": {}})));
    let ro = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": NAME, "namespace": NS},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": NAME}},
            "template": {"metadata": {"labels": {"app": NAME}}, "spec": {"containers": [
                {"name": "web", "image": "registry.example.com/web:1.0.0"}]}},
            "strategy": {"canary": {"steps": steps}}}});
    store.create(rollout_type(), NS, ro, false).unwrap();
    wait_rollout(store, Duration::from_secs(60), |r| {
        r["status"]["phase"] == "Healthy"
    })
    .await;
    new_revision(store, 1).await;
}

/// What the actions did, by outcome, and what went wrong.
#[derive(Default)]
struct Actions {
    outcomes: BTreeMap<String, usize>,
    no_outcome: usize,
    promotes_moved: usize,
    applied_twice: usize,
    moved_anyway: usize,
    revisions: u32,
}

struct Actor {
    handle: Arc<ClusterHandle>,
    exec: Arc<Executor>,
    rx: Receiver<ExecEvent>,
    next_id: u64,
    cache: RowCache<RolloutRow>,
}

impl Actor {
    /// The Rollouts pane's plan for `action` on the test rollout, from kdeck's store as it is
    /// (stale or not: that is what a user would act on).
    fn plan(&mut self, action: &str) -> Option<ActionPlan> {
        let rollouts = self.handle.sources.objects::<Rollout>();
        let rss = self.handle.sources.objects::<ReplicaSet>();
        let ro: Vec<&Rollout> = rollouts.iter().filter_map(|g| g.0.as_ref().ok()).collect();
        let rs: Vec<&ReplicaSet> = rss.iter().filter_map(|g| g.0.as_ref().ok()).collect();
        let (rollouts, replica_sets) = (&ro[..], &rs[..]);
        let objects = Objects {
            rollouts,
            replica_sets,
            ..Objects::default()
        };
        let name = self.handle.context.clone();
        let rows = build_rows(&name, &name, &objects, chrono::Utc::now(), &mut self.cache);
        let (row, _) = rows
            .iter()
            .find(|(r, _)| r.namespace == NS && r.name == NAME)?;
        let call = ActionCall {
            name: action.into(),
            args: Vec::new(),
        };
        match plan(&call, row, &self.handle) {
            Reply::Plan(p) => Some(*p),
            _ => None,
        }
    }

    /// Sends one action and waits for its outcome.
    async fn run(&mut self, action: &str, tally: &mut Actions) -> Option<OutcomeKind> {
        let p = self.plan(action)?;
        self.next_id += 1;
        self.exec.execute(self.next_id, p);
        loop {
            match tokio::time::timeout(Duration::from_secs(60), self.rx.recv()).await {
                Ok(Some(ExecEvent::Finished { outcome, .. })) => {
                    *tally
                        .outcomes
                        .entry(format!("{:?}", outcome.kind).to_lowercase())
                        .or_default() += 1;
                    return Some(outcome.kind);
                }
                Ok(Some(ExecEvent::Rbac { .. })) => {}
                _ => {
                    tally.no_outcome += 1;
                    return None;
                }
            }
        }
    }

    /// Pause, resume, promote (resume also clears a step's pause, so it moves one step too).
    async fn round(&mut self, store: &ObjectStore, tally: &mut Actions, fault: &str) {
        if step(&rollout(store)) > PAUSES {
            tally.revisions += 1;
            new_revision(store, tally.revisions + 1).await;
        }
        for action in ["pause", "resume", "promote"] {
            let before = step(&rollout(store));
            let Some(outcome) = self.run(action, tally).await else {
                // Nothing to act on (the row is gone during a 403/404): as a user would, wait.
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            };
            let moved = settled(store).await - before;
            if action == "promote" && moved > 0 {
                tally.promotes_moved += 1;
            }
            let twice = moved > 1;
            let unapplied = moved > 0 && !matches!(outcome, OutcomeKind::Ok | OutcomeKind::Unknown);
            if twice || unapplied {
                let after = before + moved;
                eprintln!(
                    "during {fault}: {action} ({outcome:?}) moved the rollout {before} → {after}"
                );
            }
            tally.applied_twice += usize::from(twice);
            tally.moved_anyway += usize::from(unapplied && !twice);
        }
    }
}

/// The step once the controller has acted on what was sent: paused again (at the next step
/// if it moved) or finished. The controller runs inside the demo, untouched by API faults.
async fn settled(store: &ObjectStore) -> i64 {
    let at_rest = |r: &Value| {
        step(r) > PAUSES
            || r.pointer("/status/pauseConditions")
                .and_then(Value::as_array)
                .is_some_and(|c| !c.is_empty())
    };
    // An applied promote or resume cleared the pause conditions: rest comes at the next step.
    wait_rollout(store, Duration::from_secs(5), at_rest).await;
    // A second move would come on the controller's next pass.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    step(&rollout(store))
}

/// Audit intents with no outcome line of the same id; and the number of lines.
fn audit_missing(path: &std::path::Path) -> (usize, usize) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_default())
        .collect();
    let ids = |phase: &str| -> BTreeSet<String> {
        lines
            .iter()
            .filter(|v| v["phase"] == phase)
            .map(|v| v["id"].to_string())
            .collect()
    };
    (
        ids("intent").difference(&ids("outcome")).count(),
        lines.len(),
    )
}

fn pct(sorted: &[Duration], p: usize) -> f64 {
    let i = (sorted.len() * p / 100).min(sorted.len().saturating_sub(1));
    sorted.get(i).map_or(0.0, Duration::as_secs_f64)
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Panics inside kdeck's tasks are caught (a watch restarts, an action ends unknown);
    // the hook still sees each one.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));
    let secs = env_u64("KDECK_SOAK_SECS").unwrap_or(180);
    let seed = env_u64("KDECK_SOAK_SEED").unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        now.map_or(1, |d| d.as_secs())
    });
    println!("fault soak: {secs} s, seed {seed} (KDECK_SOAK_SEED={seed} repeats the faults)");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    rt.unwrap().block_on(soak(Duration::from_secs(secs), seed));
}

async fn soak(total: Duration, seed: u64) {
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start(DemoConfig {
        clusters: 1,
        base_port: 0,
        options: SimOptions {
            seed,
            speed: 4.0,
            scale: 0,
        },
        kubeconfig_out: dir.path().join("kubeconfig"),
    })
    .await
    .unwrap();
    let cluster = demo.clusters()[0].clone();
    let store = &cluster.state.store;
    let faults = &cluster.faults;
    create_canary(store).await;

    let kc = common::kubeconfig(&dir.path().join("kubeconfig"));
    let client = kubeconfig::client(&kc, &cluster.name).await.unwrap();
    let cancel = CancellationToken::new();
    let notifier = Notifier::new();
    let handle = ClusterHandle::new(
        &cluster.name,
        ClusterInfo {
            server: String::new(),
            user: "demo-admin".into(),
            version: None,
            reach: Reach::Connecting,
            prometheus: PromReach::Unknown,
            readonly: false,
        },
        Some(client),
        None,
        notifier.clone(),
        cancel.clone(),
    );
    tokio::spawn(monitor::run(handle.clone(), None));
    let kinds = kinds(&handle);
    let world = Arc::new(World::new(notifier));
    world.add(handle.clone());
    let audit = dir.path().join("audit.log");
    let (exec, rx) = Executor::new(
        world,
        ExecOptions {
            request_timeout: Some(Duration::from_secs(5)),
            ..ExecOptions::default()
        },
        AuditLog::new(&audit),
    );
    let (next_id, cache) = (0, RowCache::default());
    let mut actor = Actor {
        handle: handle.clone(),
        exec,
        rx,
        next_id,
        cache,
    };
    let initial = converge(&handle, store, &kinds, CONVERGE_LIMIT).await;
    println!("initial sync (Ok: time taken, Err: objects differing): {initial:?}");

    let started = Instant::now();
    let mut injected: BTreeMap<String, usize> = BTreeMap::new();
    let mut times: Vec<Duration> = Vec::new();
    let mut slow = 0;
    let mut tally = Actions::default();
    while started.elapsed() < total {
        let (fault, label) = Fault::pick(&mut rng, &kinds);
        let hold = Duration::from_millis(3000 + rng.next() % 9000);
        *injected.entry(label.clone()).or_default() += 1;
        fault.inject(faults, &kinds).await;
        let until = Instant::now() + hold;
        let mut last_repeat = Instant::now();
        // Actions during the fault; drops and compactions recur every 2 s meanwhile.
        while Instant::now() < until {
            actor.round(store, &mut tally, &label).await;
            if last_repeat.elapsed() > Duration::from_secs(2) {
                fault.repeat(faults);
                last_repeat = Instant::now();
            }
        }
        fault.lift(faults, &kinds).await;
        match converge(&handle, store, &kinds, CONVERGE_LIMIT).await {
            Ok(t) => {
                let (at, held, took) = (started.elapsed(), hold.as_secs_f64(), t.as_secs_f64());
                println!("  {at:>6.1?}  {label} for {held:.1} s: converged in {took:.2} s");
                times.push(t);
            }
            Err(n) => {
                println!("  {label}: {n} objects still differ {CONVERGE_LIMIT:?} after lifting");
                slow += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.next() % 2000)).await;
    }
    let soaked = started.elapsed().as_secs_f64();

    // Final convergence: all faults off, then the same comparison with its retry window.
    faults.reset().await.unwrap();
    let final_diff = match converge(&handle, store, &kinds, CONVERGE_LIMIT).await {
        Ok(_) => 0,
        Err(_) => converge(&handle, store, &kinds, FINAL_LIMIT)
            .await
            .err()
            .unwrap_or(0),
    };
    let (missing, lines) = audit_missing(&audit);
    let (t, st, n) = (&tally, faults.stats(), injected.values().sum::<usize>());
    times.sort();
    print!("\nsoaked {soaked:.0} s: {n} faults, watching");
    for k in &kinds {
        print!(" {} {}", store.count(k.type_id), k.plural);
    }
    println!("\nfaults injected, by kind:");
    for (label, count) in &injected {
        println!("  {count:>4}  {label}");
    }
    let (p50, p99, max) = (pct(&times, 50), pct(&times, 99), pct(&times, 100));
    let done = times.len();
    println!("converged after lifting a fault: p50 {p50:.2} s, p99 {p99:.2} s, max {max:.2} s");
    println!("  ({done} of {n} converged; {slow} not within {CONVERGE_LIMIT:?})");
    println!("actions sent during faults, by outcome: {:?}", t.outcomes);
    let (moved, revisions) = (t.promotes_moved, t.revisions);
    println!("  promotes that moved the rollout {moved}; new revisions shipped {revisions}");
    let (req, lists, watches, gone) = (st.requests, st.lists, st.watches, st.gone);
    println!("demo API: {req} requests, {lists} lists, {watches} watches, {gone} × 410 Gone");
    println!("objects differing from the server after the final convergence: {final_diff}");
    println!(
        "crashes (panics caught in tasks): {}",
        PANICS.load(Ordering::SeqCst)
    );
    println!("actions applied twice: {}", t.applied_twice);
    println!(
        "  actions that moved the rollout though refused or failed: {}",
        t.moved_anyway
    );
    println!("audit lines missing: {missing} (of {lines} lines)");
    println!(
        "  actions with no outcome event within 60 s: {}",
        t.no_outcome
    );
    cancel.cancel();
    demo.shutdown().await;
}
