//! Render snapshots: the whole screen on a fixed-size TestBackend with a fixed clock, for the
//! shell, the Clusters pane and the Rollouts pane in each state (loading, live, stale,
//! forbidden, not installed), at 120x36 and 80x24. Review changes with `cargo insta review`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kdeck::app::{App, AppSettings, known_actions};
use kdeck::clock::Clock;
use kdeck::cluster::{ClusterHandle, ClusterInfo, Discovery, PromReach, Reach};
use kdeck::config::Config;
use kdeck::k8s::apps::{Deployment, ReplicaSet};
use kdeck::k8s::core::{Namespace, Node};
use kdeck::k8s::pod::Pod;
use kdeck::k8s::rollout::{AnalysisRun, Rollout};
use kdeck::keymap::{ActionCall, Keymap};
use kdeck::panes::{Scope, registry};
use kdeck::source::{Notifier, SourceState, Watched};
use kdeck::theme::Theme;
use kdeck::world::World;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use kdeck_demo::testing::support::load_yaml;

pub const NOW: &str = "2026-11-22T12:03:04Z";

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .with_timezone(&Utc)
}

fn ago(secs: i64) -> DateTime<Utc> {
    now() - chrono::Duration::seconds(secs)
}

fn parse<K: serde::de::DeserializeOwned>(v: Value) -> K {
    serde_json::from_value(v).unwrap()
}

fn node(name: &str, ready: bool) -> Node {
    parse(json!({
        "metadata": {"name": name},
        "status": {"conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"},
            "reason": if ready {"KubeletReady"} else {"KubeletNotReady"}}],
            "nodeInfo": {"kubeletVersion": "v1.32.4"}}
    }))
}

fn pod(ns: &str, name: &str, ready: bool, waiting: Option<&str>) -> Pod {
    let mut status = json!({
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}],
    });
    if let Some(reason) = waiting {
        status["containerStatuses"] = json!([{"name": "app", "ready": false, "restartCount": 7,
            "state": {"waiting": {"reason": reason}}}]);
    }
    parse(json!({"metadata": {"name": name, "namespace": ns}, "status": status}))
}

fn namespace(name: &str) -> Namespace {
    parse(json!({"metadata": {"name": name}, "status": {"phase": "Active"}}))
}

fn live() -> SourceState {
    SourceState::Live { since: ago(300) }
}

fn all_addons() -> Discovery {
    Discovery {
        resources: Some(BTreeSet::from(
            [
                "rollouts.argoproj.io",
                "analysisruns.argoproj.io",
                "applications.argoproj.io",
                "backups.velero.io",
                "destinationrules.networking.istio.io",
            ]
            .map(String::from),
        )),
        ..Discovery::default()
    }
}

pub fn info(reach: Reach) -> ClusterInfo {
    ClusterInfo {
        server: "https://10.0.0.1:6443".into(),
        user: "oncall@example.com".into(),
        version: Some("v1.32.4".into()),
        reach,
        prometheus: PromReach::Reachable {
            version: "2.42.0".into(),
        },
        readonly: false,
    }
}

pub fn reachable() -> Reach {
    Reach::Reachable {
        latency: Duration::from_millis(14),
        since: ago(600),
    }
}

/// A cluster handle with no client, whose sources are filled by hand.
pub fn handle(name: &str, info: ClusterInfo, discovery: Discovery) -> Arc<ClusterHandle> {
    let h = ClusterHandle::new(
        name,
        info,
        None,
        None,
        Notifier::new(),
        CancellationToken::new(),
    );
    h.set_discovery(discovery);
    h
}

fn fill<K: Watched>(h: &ClusterHandle, objects: Vec<K>, state: SourceState) {
    h.sources.set_test_kind(objects, state);
}

fn healthy_core(h: &ClusterHandle) {
    fill(
        h,
        vec![node("n1", true), node("n2", true), node("n3", true)],
        live(),
    );
    fill(
        h,
        vec![
            pod("shop", "frontend-7d9f-abcde", true, None),
            pod("shop", "frontend-7d9f-fghij", true, None),
            pod(
                "shop",
                "catalog-55c8-x2kq9",
                false,
                Some("CrashLoopBackOff"),
            ),
        ],
        live(),
    );
    fill(
        h,
        vec![
            namespace("default"),
            namespace("shop"),
            namespace("kube-system"),
        ],
        live(),
    );
}

fn empty_rollout_kinds(h: &ClusterHandle, state: SourceState) {
    fill::<Rollout>(h, vec![], state.clone());
    fill::<AnalysisRun>(h, vec![], state.clone());
    fill::<Deployment>(h, vec![], state.clone());
    fill::<ReplicaSet>(h, vec![], state);
}

pub fn app_for(clusters: Vec<Arc<ClusterHandle>>, settings: AppSettings) -> App {
    let world = Arc::new(World::new(Notifier::new()));
    for c in clusters {
        world.add(c);
    }
    let panes = registry();
    let keymap = Keymap::from_texts(
        "default",
        kdeck::keymap::BUILTIN[0].1,
        None,
        &known_actions(&panes),
    );
    App::new(
        world,
        panes,
        keymap,
        Theme::builtin("default").unwrap(),
        Config::default(),
        Clock::Fixed(now()),
        None,
        settings,
        Scope {
            all_clusters: true,
            ..Scope::default()
        },
    )
}

pub fn draw(app: &mut App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    app.update_models();
    terminal.draw(|f| app.render(f)).unwrap();
    terminal.backend().to_string()
}

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

// --- Clusters pane -------------------------------------------------------------------------

fn clusters_live() -> Vec<Arc<ClusterHandle>> {
    let east = handle("prod-us-east", info(reachable()), all_addons());
    healthy_core(&east);
    let west = handle(
        "prod-eu-west",
        ClusterInfo {
            version: Some("v1.31.6".into()),
            ..info(reachable())
        },
        Discovery {
            resources: Some(BTreeSet::from(["rollouts.argoproj.io".to_string()])),
            ..Discovery::default()
        },
    );
    fill(&west, vec![node("w1", true), node("w2", false)], live());
    fill(&west, vec![pod("shop", "cart-1", true, None)], live());
    fill(&west, vec![namespace("shop")], live());
    vec![east, west]
}

#[test]
fn clusters_live_120x36() {
    let mut app = app_for(clusters_live(), AppSettings::default());
    insta::assert_snapshot!(draw(&mut app, 120, 36));
}

#[test]
fn clusters_live_80x24() {
    let mut app = app_for(clusters_live(), AppSettings::default());
    insta::assert_snapshot!(draw(&mut app, 80, 24));
}

#[test]
fn clusters_loading() {
    let c = handle(
        "prod-us-east",
        info(Reach::Connecting),
        Discovery::default(),
    );
    let mut app = app_for(vec![c], AppSettings::default());
    let screen = draw(&mut app, 120, 36);
    assert!(screen.contains("◌ connecting"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn clusters_stale_after_the_api_went_away() {
    let c = handle(
        "prod-us-east",
        info(Reach::Unreachable {
            since: ago(12),
            retry_at: now() + chrono::Duration::seconds(4),
            reason: "Connection refused".into(),
        }),
        all_addons(),
    );
    healthy_core(&c);
    let mut app = app_for(vec![c], AppSettings::default());
    let screen = draw(&mut app, 120, 36);
    assert!(
        screen.contains("◐ stale since 12:02:52 (retrying in 4s"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn clusters_forbidden_and_unreachable_without_data() {
    let a = handle("restricted", info(reachable()), all_addons());
    fill::<Node>(
        &a,
        vec![],
        SourceState::Forbidden {
            reason: "nodes is forbidden".into(),
        },
    );
    fill::<Pod>(&a, vec![pod("team", "api-1", true, None)], live());
    fill::<Namespace>(&a, vec![namespace("team")], live());
    let b = handle(
        "offline",
        info(Reach::Unreachable {
            since: ago(30),
            retry_at: now() + chrono::Duration::seconds(2),
            reason: "dns error".into(),
        }),
        Discovery::default(),
    );
    let mut app = app_for(vec![a, b], AppSettings::default());
    let screen = draw(&mut app, 120, 36);
    assert!(screen.contains("forbidden"), "{screen}");
    assert!(screen.contains("✖ unreachable: dns error"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn help_overlay_lists_the_keymap() {
    let mut app = app_for(clusters_live(), AppSettings::default());
    app.on_key(&key(KeyCode::Char('?')));
    let screen = draw(&mut app, 120, 36);
    assert!(screen.contains("Help · keymap default"), "{screen}");
    assert!(screen.contains("Focus this cluster"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn terminal_too_small() {
    let mut app = app_for(clusters_live(), AppSettings::default());
    let screen = draw(&mut app, 50, 12);
    assert!(screen.contains("terminal too small: 50x12"), "{screen}");
}

#[test]
fn read_only_badge_and_command_line() {
    let mut app = app_for(
        clusters_live(),
        AppSettings {
            readonly: true,
            ..AppSettings::default()
        },
    );
    app.on_key(&key(KeyCode::Char(':')));
    for c in "ctx prod-eu".chars() {
        app.on_key(&key(KeyCode::Char(c)));
    }
    app.on_key(&key(KeyCode::Tab));
    let screen = draw(&mut app, 120, 36);
    assert!(screen.contains(":ctx prod-eu-west"), "{screen}");
    assert!(screen.contains("READ-ONLY"), "{screen}");
    app.on_key(&key(KeyCode::Enter));
    assert_eq!(app.scope.focus.as_deref(), Some("prod-eu-west"));
    assert!(!app.scope.all_clusters);
}

// --- Rollouts pane ---------------------------------------------------------------------------

fn fixture<K: serde::de::DeserializeOwned>(rel: &str) -> K {
    parse(load_yaml(&format!("argo-rollouts/{rel}")))
}

fn rollouts_cluster(name: &str) -> Arc<ClusterHandle> {
    let c = handle(name, info(reachable()), all_addons());
    healthy_core(&c);
    let rollouts: Vec<Rollout> = vec![
        fixture("info-testdata/canary/canary-rollout.yaml"),
        fixture("info-testdata/blue-green/bluegreen-rollout.yaml"),
        fixture("info-testdata/rollout-aborted/rollout.yaml"),
        fixture("argocd-health/Rollout/testdata/healthy_newWorkloadGeneration.yaml"),
    ];
    let rss: Vec<ReplicaSet> = vec![
        fixture("info-testdata/canary/canary-rs.yaml"),
        fixture("info-testdata/canary/stable-rs.yaml"),
        fixture("info-testdata/canary/old-rs.yaml"),
        fixture("info-testdata/blue-green/active-rs.yaml"),
        fixture("info-testdata/blue-green/preview-rs.yaml"),
        fixture("info-testdata/rollout-aborted/rs1.yaml"),
        fixture("info-testdata/rollout-aborted/rs2.yaml"),
    ];
    let runs: Vec<AnalysisRun> = vec![fixture("info-testdata/rollout-aborted/analysisrun.yaml")];
    let deploy: Deployment = fixture("info-testdata/canary/canary-ref-deploy.yaml");
    fill(&c, rollouts, live());
    fill(&c, rss, live());
    fill(&c, runs, live());
    fill(&c, vec![deploy], live());
    c
}

fn rollouts_app(clusters: Vec<Arc<ClusterHandle>>) -> App {
    let mut app = app_for(clusters, AppSettings::default());
    assert!(app.focus_pane("rollouts"));
    app
}

#[test]
fn rollouts_list_120x36() {
    let mut app = rollouts_app(vec![rollouts_cluster("prod-us-east")]);
    let screen = draw(&mut app, 120, 36);
    insta::assert_snapshot!(screen);
}

#[test]
fn rollouts_list_80x24() {
    let mut app = rollouts_app(vec![rollouts_cluster("prod-us-east")]);
    insta::assert_snapshot!(draw(&mut app, 80, 24));
}

#[test]
fn rollouts_paused_canary_comes_first() {
    let mut app = rollouts_app(vec![rollouts_cluster("prod-us-east")]);
    let screen = draw(&mut app, 120, 36);
    let lines: Vec<&str> = screen.lines().collect();
    let first_row = lines
        .iter()
        .position(|l| l.contains("STATUS"))
        .map(|i| lines[i + 1])
        .unwrap();
    assert!(
        first_row.contains("‖ Paused"),
        "first row: {first_row}\n{screen}"
    );
}

#[test]
fn rollouts_not_installed_and_stale() {
    let installed = rollouts_cluster("prod-us-east");
    // Keep the data but mark it stale, as after a lost connection.
    let stale = SourceState::Stale {
        since: ago(20),
        retry_at: now() + chrono::Duration::seconds(8),
        reason: "Connection refused".into(),
    };
    let rollouts: Vec<Rollout> = vec![fixture("info-testdata/canary/canary-rollout.yaml")];
    fill(&installed, rollouts, stale);
    let missing = handle(
        "prod-eu-west",
        info(reachable()),
        Discovery {
            resources: Some(BTreeSet::new()),
            ..Discovery::default()
        },
    );
    healthy_core(&missing);
    empty_rollout_kinds(&missing, SourceState::NotInstalled);
    let mut app = rollouts_app(vec![installed, missing]);
    let screen = draw(&mut app, 120, 36);
    assert!(
        screen.contains("prod-us-east stale since 12:02:44"),
        "{screen}"
    );
    assert!(screen.contains("prod-eu-west not installed"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn rollouts_forbidden() {
    let c = handle("restricted", info(reachable()), all_addons());
    healthy_core(&c);
    empty_rollout_kinds(
        &c,
        SourceState::Forbidden {
            reason: "rollouts.argoproj.io is forbidden".into(),
        },
    );
    let mut app = rollouts_app(vec![c]);
    let screen = draw(&mut app, 120, 36);
    assert!(screen.contains("✖ restricted forbidden"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn rollout_detail_120x36_and_80x24() {
    let mut app = rollouts_app(vec![rollouts_cluster("prod-us-east")]);
    app.dispatch(&ActionCall {
        name: "open-detail".into(),
        args: vec!["canary-demo".into()],
    });
    let screen = draw(&mut app, 120, 36);
    assert!(
        screen.contains("Rollout jesse-test/canary-demo"),
        "{screen}"
    );
    assert!(screen.contains("▶"), "current step marker: {screen}");
    insta::assert_snapshot!("rollout_detail_120x36", screen);
    insta::assert_snapshot!("rollout_detail_80x24", draw(&mut app, 80, 24));
}

/// A Rollout whose template comes from a Deployment (`spec.workloadRef`): the detail names
/// the Deployment and its containers above the images its own ReplicaSets run.
#[test]
fn rollout_detail_workload_ref_120x36() {
    let c = handle("prod-us-east", info(reachable()), all_addons());
    healthy_core(&c);
    let rollouts: Vec<Rollout> = vec![fixture("info-testdata/canary/canary-rollout3.yaml")];
    let rss: Vec<ReplicaSet> = vec![
        fixture("info-testdata/canary/canary-rs.yaml"),
        fixture("info-testdata/canary/stable-rs.yaml"),
        fixture("info-testdata/canary/old-rs.yaml"),
    ];
    let deploy: Deployment = fixture("info-testdata/canary/canary-ref-deploy.yaml");
    fill(&c, rollouts, live());
    fill(&c, rss, live());
    fill(&c, Vec::<AnalysisRun>::new(), live());
    fill(&c, vec![deploy], live());
    let mut app = rollouts_app(vec![c]);
    app.dispatch(&ActionCall {
        name: "open-detail".into(),
        args: vec!["canary-demo-workloadRef-deploy".into()],
    });
    let screen = draw(&mut app, 120, 36);
    assert!(
        screen.contains("Template  from Deployment canary-demo-deploy"),
        "{screen}"
    );
    assert!(screen.contains("argoproj/rollouts-demo:red"), "{screen}");
    insta::assert_snapshot!("rollout_detail_workload_ref_120x36", screen);
}

#[test]
fn malformed_rollout_is_a_row_not_a_crash() {
    let c = handle("prod", info(reachable()), all_addons());
    healthy_core(&c);
    let weird: Rollout = parse(json!({
        "metadata": {"name": "weird", "namespace": "shop", "uid": "u1", "resourceVersion": "5"},
        "spec": {"strategy": {"canary": {"steps": "not-a-list"}}, "replicas": "three"},
        "status": {"phase": 42}
    }));
    fill(&c, vec![weird], live());
    let mut app = rollouts_app(vec![c]);
    let screen = draw(&mut app, 120, 36);
    assert!(screen.contains("weird"), "{screen}");
}

// --- Drift pane ------------------------------------------------------------------------------

fn argo_app(rel: &str) -> kdeck::k8s::argocd::Application {
    parse(load_yaml(&format!("argo-cd/applications/{rel}")))
}

/// Fixture Applications (named where upstream left them nameless), a project with a deny
/// window open at `NOW`, and Flux objects from the repo's fixtures.
fn drift_cluster(name: &str) -> Arc<ClusterHandle> {
    use kdeck::k8s::argocd::{AppProject, Application, ApplicationSet};
    use kdeck::k8s::flux::{HelmRelease, Kustomization};
    let c = handle(name, info(reachable()), all_addons());
    healthy_core(&c);
    let mut degraded = argo_app("gitops-engine-application-degraded.yaml");
    degraded.metadata.name = Some("legacy-billing".into());
    degraded.metadata.namespace = Some("argocd".into());
    let mut frozen: Value =
        load_yaml("argo-cd/applications/gitops-backend-application3-synced-operationstate.yaml");
    frozen["metadata"]["name"] = json!("ingress");
    frozen["spec"]["project"] = json!("platform");
    frozen["spec"]["syncPolicy"] = json!({"automated": {"prune": true, "selfHeal": true}});
    let apps: Vec<Application> = vec![
        argo_app("gitops-backend-application-resource-outofsync-missing.yaml"),
        argo_app("gitops-backend-application2-outofsync.yaml"),
        argo_app("gitops-backend-application3-synced-operationstate.yaml"),
        argo_app("synced-healthy-with-operationstate.yaml"),
        parse(frozen),
        degraded,
    ];
    let project: AppProject = parse(json!({
        "metadata": {"name": "platform", "namespace": "test-namespace"},
        "spec": {"syncWindows": [{"kind": "deny", "schedule": "0 12 * * *", "duration": "1h",
            "applications": ["*"], "description": "release freeze"}]}
    }));
    fill(&c, apps, live());
    fill(&c, vec![project], live());
    fill::<ApplicationSet>(&c, vec![], live());
    let flux = |rel: &str| -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/flux")
            .join(rel);
        let docs: Vec<Value> =
            serde_saphyr::from_multiple(&std::fs::read_to_string(path).unwrap()).unwrap();
        docs.into_iter().find(|d| !d.is_null()).unwrap()
    };
    let mut failed = flux("docs/kustomization-failed-status.yaml");
    failed["metadata"] = json!({"name": "apps", "namespace": "flux-system"});
    let mut suspended = flux("argocd-actions/HelmRelease/testdata/suspended_helmrelease.yaml");
    suspended["status"] = flux("argocd-health/HelmRelease/healthy.yaml")["status"].clone();
    fill::<Kustomization>(&c, vec![parse(failed)], live());
    fill::<HelmRelease>(&c, vec![parse(suspended)], live());
    c
}

fn drift_app(clusters: Vec<Arc<ClusterHandle>>) -> App {
    let mut app = app_for(clusters, AppSettings::default());
    assert!(app.focus_pane("drift"));
    app
}

#[test]
fn drift_list_120x36_and_80x24() {
    let mut app = drift_app(vec![drift_cluster("prod-us-east")]);
    let screen = draw(&mut app, 120, 36);
    let lines: Vec<&str> = screen.lines().collect();
    let header = lines.iter().position(|l| l.contains("SYNC")).unwrap();
    // Broken first (a failed Flux apply, a Degraded app), then what needs a sync.
    assert!(lines[header + 1].contains("legacy-billing"), "{screen}");
    assert!(lines[header + 2].contains("apps"), "{screen}");
    assert!(screen.contains("⊘ window"), "{screen}");
    insta::assert_snapshot!("drift_list_120x36", screen);
    insta::assert_snapshot!("drift_list_80x24", draw(&mut app, 80, 24));
}

#[test]
fn drift_detail_120x36() {
    let mut app = drift_app(vec![drift_cluster("prod-us-east")]);
    app.dispatch(&ActionCall {
        name: "open-detail".into(),
        args: vec!["ingress".into()],
    });
    let screen = draw(&mut app, 120, 36);
    assert!(
        screen.contains("Application test-namespace/ingress"),
        "{screen}"
    );
    assert!(screen.contains("blocked by deny window"), "{screen}");
    insta::assert_snapshot!("drift_detail_120x36", screen);
}

#[test]
fn drift_not_installed_and_forbidden() {
    use kdeck::k8s::argocd::{AppProject, Application, ApplicationSet};
    use kdeck::k8s::flux::{HelmRelease, Kustomization};
    let c = handle("prod-us-east", info(reachable()), all_addons());
    healthy_core(&c);
    fill::<Application>(&c, vec![], SourceState::NotInstalled);
    fill::<AppProject>(&c, vec![], SourceState::NotInstalled);
    fill::<ApplicationSet>(&c, vec![], SourceState::NotInstalled);
    fill::<Kustomization>(&c, vec![], SourceState::NotInstalled);
    fill::<HelmRelease>(&c, vec![], SourceState::NotInstalled);
    let mut app = drift_app(vec![c]);
    let screen = draw(&mut app, 120, 36);
    assert!(
        screen.contains("neither Argo CD nor Flux is installed on the clusters in view"),
        "{screen}"
    );
    let f = handle("restricted", info(reachable()), all_addons());
    healthy_core(&f);
    let forbidden = SourceState::Forbidden {
        reason: "applications.argoproj.io is forbidden".into(),
    };
    fill::<Application>(&f, vec![], forbidden.clone());
    fill::<Kustomization>(&f, vec![], SourceState::NotInstalled);
    fill::<HelmRelease>(&f, vec![], SourceState::NotInstalled);
    let mut app = drift_app(vec![f]);
    let screen = draw(&mut app, 80, 24);
    assert!(
        screen.contains("✖ forbidden: applications.argoproj.io is forbidden"),
        "{screen}"
    );
    insta::assert_snapshot!("drift_forbidden_80x24", screen);
}
