//! Rollouts that take their pod template from `spec.workloadRef` (a Deployment migrated to
//! Argo Rollouts). Over the plugin's own fixtures (`info-testdata/canary`: `canary-rollout3`
//! references the Deployment `canary-ref-deploy`, `canary-rollout2` a ReplicaSet) through
//! `build_rows` and `rollout_detail`, the functions the pane runs; and against the demo,
//! where `kubectl set image` on the referenced Deployment makes the simulated controller roll
//! out a new revision that kdeck's watched store and rows show.
//!
//! Upstream: the Rollout's ReplicaSets are its own (owner reference to the Rollout), so the
//! revision tree and the running images come from them (`info/replicaset_info.go`,
//! `info/rollout_info.go` `Images`); the referenced Deployment's containers are the plugin's
//! `Containers` (`NewRolloutInfo` with `workloadRef`).

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use kdeck::cluster::ClusterHandle;
use kdeck::exec::audit::AuditLog;
use kdeck::exec::{ExecEvent, ExecOptions, Executor, OutcomeKind};
use kdeck::k8s::apps::{ContainerImage, Deployment, ReplicaSet};
use kdeck::k8s::pod::Pod;
use kdeck::k8s::rollout::{AnalysisRun, Rollout};
use kdeck::keymap::ActionCall;
use kdeck::panes::Reply;
use kdeck::panes::kit::RowCache;
use kdeck::panes::rollouts::detail::{DetailInputs, rollout_detail};
use kdeck::panes::rollouts::model::{
    ImageInfo, Lookup, Objects, RolloutRow, RowStatus, WorkloadKind, build_rows,
};
use kdeck::panes::rollouts::plan::plan;
use kdeck_demo::testing::support::load_yaml;
use kdeck_demo::{Demo, DemoConfig, SimOptions};
use serde_json::{Value, json};

use crate::helpers::rollout_rows;

const CANARY: &str = "argo-rollouts/info-testdata/canary";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap()
}

fn parse<K: serde::de::DeserializeOwned>(v: Value) -> K {
    serde_json::from_value(v).unwrap()
}

fn fixture<K: serde::de::DeserializeOwned>(file: &str) -> K {
    parse(load_yaml(&format!("{CANARY}/{file}")))
}

fn canary_replica_sets() -> Vec<ReplicaSet> {
    ["canary-rs.yaml", "stable-rs.yaml", "old-rs.yaml"]
        .into_iter()
        .map(fixture)
        .collect()
}

fn canary_pods() -> Vec<Pod> {
    [
        "canary-pod.yaml",
        "stable-pod1.yaml",
        "stable-pod2.yaml",
        "stable-pod3.yaml",
        "stable-pod4.yaml",
        "stable-pod5.yaml",
    ]
    .into_iter()
    .map(fixture)
    .collect()
}

fn images(list: &[(&str, &str)]) -> Vec<ImageInfo> {
    list.iter()
        .map(|(image, tag)| ImageInfo {
            image: (*image).to_string(),
            tags: vec![(*tag).to_string()],
        })
        .collect()
}

fn rows_of(
    rollouts: &[Rollout],
    deployments: &[Deployment],
    replica_sets: &[ReplicaSet],
) -> Vec<Arc<RolloutRow>> {
    let ro: Vec<&Rollout> = rollouts.iter().collect();
    let ds: Vec<&Deployment> = deployments.iter().collect();
    let rss: Vec<&ReplicaSet> = replica_sets.iter().collect();
    rollout_rows(
        "c",
        &Objects {
            rollouts: &ro,
            deployments: &ds,
            replica_sets: &rss,
            ..Objects::default()
        },
        now(),
    )
}

fn row<'a>(rows: &'a [Arc<RolloutRow>], name: &str, kind: WorkloadKind) -> &'a RolloutRow {
    rows.iter()
        .find(|r| r.name == name && r.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} row {name}"))
}

/// `canary-rollout3` references the Deployment `canary-demo-deploy` (image `:red`, replicas
/// 0); the ReplicaSets the controller made are owned by the Rollout's uid and run
/// `:does-not-exist` (canary, revision 31) and `:green` (stable, revision 30).
#[test]
fn deployment_ref_shows_its_own_replica_sets_and_the_referenced_template() {
    let ro: Rollout = fixture("canary-rollout3.yaml");
    let deploy: Deployment = fixture("canary-ref-deploy.yaml");
    let rss = canary_replica_sets();
    let rows = rows_of(
        std::slice::from_ref(&ro),
        std::slice::from_ref(&deploy),
        &rss,
    );
    let r = row(
        &rows,
        "canary-demo-workloadRef-deploy",
        WorkloadKind::Rollout,
    );
    // As the plugin's `Images` for these ReplicaSets (info_test.go TestCanaryRolloutInfo).
    assert_eq!(
        r.images,
        images(&[
            ("argoproj/rollouts-demo:does-not-exist", "canary"),
            ("argoproj/rollouts-demo:green", "stable"),
        ])
    );
    assert_eq!(
        (r.stable_tags.clone(), r.new_tags.clone()),
        (
            vec!["green".to_string()],
            vec!["does-not-exist".to_string()]
        )
    );
    let t = r.template.as_ref().expect("template source");
    assert_eq!(
        (t.kind.as_str(), t.name.as_str(), t.lookup),
        ("Deployment", "canary-demo-deploy", Lookup::Found)
    );
    assert_eq!(
        t.containers,
        [ContainerImage {
            name: "canary-demo-deploy".into(),
            image: "argoproj/rollouts-demo:red".into()
        }]
    );
    // The fixture carries no generations (neither the annotation nor the Deployment's).
    assert_eq!(
        t.describe("jesse-test"),
        "from Deployment canary-demo-deploy"
    );
    // The referenced Deployment keeps a row of its own.
    let d = row(&rows, "canary-demo-deploy", WorkloadKind::Deployment);
    assert_eq!(d.new_tags, ["red"]);

    let detail = rollout_detail(&DetailInputs {
        cluster: "c",
        rollout: &ro,
        deployments: &[deploy],
        replica_sets: &rss,
        pods: &canary_pods(),
        analysis_runs: &[],
        templates: &[],
        cluster_templates: &[],
        events: &[],
        now: now(),
    });
    assert_eq!(detail.row.template, r.template);
    let tree: Vec<(i64, Vec<(&str, usize)>)> = detail
        .revisions
        .iter()
        .map(|rev| {
            (
                rev.revision,
                rev.replica_sets
                    .iter()
                    .map(|rs| (rs.name.as_str(), rs.pods.len()))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        tree,
        [
            (31, vec![("canary-demo-65fb5ffc84", 1)]),
            (30, vec![("canary-demo-877894d5b", 5)]),
            (29, vec![("canary-demo-859c99b45c", 0)]),
        ]
    );
    assert_eq!(detail.revisions[0].replica_sets[0].tags, ["canary"]);
    assert_eq!(detail.revisions[1].replica_sets[0].tags, ["stable"]);
}

/// `canary-rollout2` references the ReplicaSet `canary-demo-65fb5ffc84` (the controller
/// supports Deployment, ReplicaSet and PodTemplate; the plugin's viewer only looks up
/// Deployments and fails on this one): the template is that ReplicaSet's.
#[test]
fn replica_set_ref_takes_that_replica_sets_template() {
    let ro: Rollout = fixture("canary-rollout2.yaml");
    let rows = rows_of(&[ro], &[], &canary_replica_sets());
    let t = row(&rows, "canary-demo-workloadRef", WorkloadKind::Rollout)
        .template
        .clone()
        .unwrap();
    assert_eq!(t.lookup, Lookup::Found);
    assert_eq!(
        t.containers,
        [ContainerImage {
            name: "canary-demo".into(),
            image: "argoproj/rollouts-demo:does-not-exist".into()
        }]
    );
    // canary-rs.yaml has `generation: 1`; the Rollout records none.
    assert_eq!(
        t.describe("jesse-test"),
        "from ReplicaSet canary-demo-65fb5ffc84 (workload generation 1)"
    );
    // Referenced by a kind kdeck reads but absent: said so, nothing invented.
    let rows = rows_of(&[fixture("canary-rollout3.yaml")], &[], &[]);
    let r = row(
        &rows,
        "canary-demo-workloadRef-deploy",
        WorkloadKind::Rollout,
    );
    let t = r.template.as_ref().unwrap();
    assert_eq!(t.lookup, Lookup::Missing);
    assert_eq!(
        t.describe("jesse-test"),
        "from Deployment canary-demo-deploy: not found in namespace jesse-test"
    );
    assert!(r.images.is_empty());
}

/// Before the controller has made a ReplicaSet (or with all scaled to zero) nothing runs:
/// the plugin's `Images` is empty, and the row shows the referenced template's image,
/// tagged `template`, instead of nothing.
#[test]
fn nothing_running_shows_the_referenced_template() {
    let ro: Rollout = fixture("canary-rollout3.yaml");
    let deploy: Deployment = fixture("canary-ref-deploy.yaml");
    let mut cache = RowCache::default();
    let ro_refs = [&ro];
    let d_refs = [&deploy];
    let objects = Objects {
        rollouts: &ro_refs,
        deployments: &d_refs,
        ..Objects::default()
    };
    let built = build_rows("c", "c", &objects, now(), &mut cache);
    let (r, table) = built
        .iter()
        .find(|(r, _)| r.kind == WorkloadKind::Rollout)
        .unwrap();
    assert_eq!(
        r.images,
        images(&[("argoproj/rollouts-demo:red", "template")])
    );
    assert_eq!(r.new_tags, ["red"]);
    // The IMAGES column (see view::COLUMNS).
    assert_eq!(table.cells[8].text, "red");
}

/// The row is rebuilt when the referenced Deployment changes (its resourceVersion is one of
/// the row's cache inputs), and only then.
#[test]
fn a_changed_deployment_rebuilds_the_rollout_row() {
    let ro: Rollout = fixture("canary-rollout3.yaml");
    let mut deploy: Deployment = fixture("canary-ref-deploy.yaml");
    deploy.metadata.resource_version = Some("100".into());
    deploy.metadata.uid = Some("d-1".into());
    let rss = canary_replica_sets();
    let rs_refs: Vec<&ReplicaSet> = rss.iter().collect();
    let mut cache = RowCache::default();
    let mut update = |d: &Deployment| {
        cache.begin();
        let objects = Objects {
            rollouts: &[&ro],
            deployments: &[d],
            replica_sets: &rs_refs,
            ..Objects::default()
        };
        let rows = build_rows("c", "c", &objects, now(), &mut cache);
        cache.end();
        let rollout = rows
            .iter()
            .find(|(r, _)| r.kind == WorkloadKind::Rollout)
            .unwrap()
            .0
            .clone();
        (cache.built, rollout)
    };
    let (built, _) = update(&deploy);
    assert_eq!(
        built, 2,
        "first update builds the Rollout and Deployment rows"
    );
    let (built, _) = update(&deploy);
    assert_eq!(built, 0, "nothing moved, nothing rebuilt");
    deploy.metadata.resource_version = Some("101".into());
    deploy.metadata.generation = Some(2);
    deploy.spec.template.containers[0].image = "argoproj/rollouts-demo:blue".into();
    let (built, r) = update(&deploy);
    assert_eq!(
        built, 2,
        "the Deployment row and the Rollout row that reads it"
    );
    let t = r.template.as_ref().unwrap();
    assert_eq!(t.containers[0].image, "argoproj/rollouts-demo:blue");
    assert_eq!(t.workload_generation, Some(2));
}

/// Argo CD's `newWorkloadGeneration` fixtures: the controller recorded workload generation 2
/// (annotation) but has acted on 1 (`status.workloadObservedGeneration`). The status stays
/// the plugin's (its workload check needs an in-memory flag, see `rollout_fixtures.rs`); the
/// template line says the change is not yet observed.
#[test]
fn unobserved_workload_generation_is_named() {
    let dir = "argo-rollouts/argocd-health/Rollout/testdata";
    let mut deploy = load_yaml(&format!("{CANARY}/canary-ref-deploy.yaml"));
    deploy["metadata"] = json!({"name": "rollout-ref-deployment", "namespace": "default",
                                "generation": 2, "uid": "d", "resourceVersion": "7"});
    let deploy: Deployment = parse(deploy);
    let progressing: Rollout = parse(load_yaml(&format!(
        "{dir}/progressing_newWorkloadGeneration.yaml"
    )));
    let healthy: Rollout = parse(load_yaml(&format!(
        "{dir}/healthy_newWorkloadGeneration.yaml"
    )));
    for (ro, text) in [
        (
            progressing,
            "from Deployment rollout-ref-deployment (workload generation 2, not yet observed by \
             the controller)",
        ),
        (
            healthy,
            // Recorded 1, observed 1, and kdeck's Deployment is at 2: also not yet observed.
            "from Deployment rollout-ref-deployment (workload generation 2, not yet observed by \
             the controller)",
        ),
    ] {
        let rows = rows_of(
            std::slice::from_ref(&ro),
            std::slice::from_ref(&deploy),
            &[],
        );
        let r = row(&rows, "rollout-ref-deployment", WorkloadKind::Rollout);
        assert_eq!(r.status, RowStatus::Healthy);
        assert_eq!(r.template.as_ref().unwrap().describe("default"), text);
    }
    let mut at_one = deploy.clone();
    at_one.metadata.generation = Some(1);
    let healthy: Rollout = parse(load_yaml(&format!(
        "{dir}/healthy_newWorkloadGeneration.yaml"
    )));
    let rows = rows_of(&[healthy], &[at_one], &[]);
    let r = row(&rows, "rollout-ref-deployment", WorkloadKind::Rollout);
    assert_eq!(
        r.template.as_ref().unwrap().describe("default"),
        "from Deployment rollout-ref-deployment (workload generation 1)"
    );
}

// -------------------------------------------------------------------------------------------
// Against the demo: kdeck's watched store, `kubectl set image` on the referenced Deployment
// -------------------------------------------------------------------------------------------

const CTX: &str = "demo-us-east";
const WAIT: Duration = Duration::from_secs(60);

/// kdeck's rows and detail of `shop/reviews`, from what its watches hold now.
fn reviews(
    handle: &ClusterHandle,
) -> Option<(RolloutRow, kdeck::panes::rollouts::detail::RolloutDetail)> {
    let s = &handle.sources;
    let (rollouts, deployments) = (s.objects::<Rollout>(), s.objects::<Deployment>());
    let (rss, runs) = (s.objects::<ReplicaSet>(), s.objects::<AnalysisRun>());
    let ro: Vec<&Rollout> = rollouts.iter().filter_map(|g| g.0.as_ref().ok()).collect();
    let ds: Vec<&Deployment> = deployments
        .iter()
        .filter_map(|g| g.0.as_ref().ok())
        .collect();
    let rs: Vec<&ReplicaSet> = rss.iter().filter_map(|g| g.0.as_ref().ok()).collect();
    let ar: Vec<&AnalysisRun> = runs.iter().filter_map(|g| g.0.as_ref().ok()).collect();
    let rows = rollout_rows(
        CTX,
        &Objects {
            rollouts: &ro,
            deployments: &ds,
            replica_sets: &rs,
            analysis_runs: &ar,
            ..Objects::default()
        },
        Utc::now(),
    );
    let row = rows.iter().find(|r| {
        r.namespace == "shop" && r.name == "reviews" && r.kind == WorkloadKind::Rollout
    })?;
    let ro = s.get::<Rollout>("shop", "reviews")?;
    let detail = rollout_detail(&DetailInputs {
        cluster: CTX,
        rollout: &ro,
        deployments: &s.kind::<Deployment>()?.in_namespace("shop"),
        replica_sets: &s.kind::<ReplicaSet>()?.in_namespace("shop"),
        pods: &[],
        analysis_runs: &[],
        templates: &[],
        cluster_templates: &[],
        events: &[],
        now: Utc::now(),
    });
    Some(((**row).clone(), detail))
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn set_image_on_the_referenced_deployment_is_a_new_revision_in_the_row() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc_path = dir.path().join("kubeconfig");
    let demo = rt
        .block_on(Demo::start(DemoConfig {
            clusters: 1,
            base_port: 0,
            options: SimOptions {
                seed: 7,
                speed: 4.0,
                scale: 0,
            },
            kubeconfig_out: kc_path.clone(),
        }))
        .unwrap();
    let (handle, world, cancel) = rt.block_on(async {
        let (h, world, cancel) = crate::helpers::demo_handle(&kc_path, CTX, "").await;
        h.sources.start_kind::<Rollout>();
        h.sources.start_kind::<Deployment>();
        h.sources.start_kind::<ReplicaSet>();
        h.sources.start_kind::<AnalysisRun>();
        (h, world, cancel)
    });

    // As seeded: revision 1 from the Deployment's template, the Deployment at zero.
    let (row, detail) = wait_for("the seeded reviews rollout, Healthy", || {
        reviews(&handle).filter(|(r, _)| r.status == RowStatus::Healthy)
    });
    assert_eq!(
        row.images,
        images(&[("demo.registry.local/reviews:2.4.1", "stable")])
    );
    let t = row.template.as_ref().unwrap();
    assert_eq!(
        t.describe("shop"),
        "from Deployment reviews-deploy (workload generation 1)"
    );
    assert_eq!(t.containers[0].image, "demo.registry.local/reviews:2.4.1");
    assert_eq!(
        detail
            .revisions
            .iter()
            .map(|r| r.revision)
            .collect::<Vec<_>>(),
        [1]
    );

    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kc_path)
        .args(["-n", "shop", "set", "image", "deployment/reviews-deploy"])
        .arg("reviews=demo.registry.local/reviews:2.5.0")
        .env("KUBECACHEDIR", dir.path().join("kube-cache"))
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "kubectl set image: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The controller makes revision 2 from the new template and starts the canary: kdeck's
    // row shows the new image next to the stable one, the detail the new revision.
    let (row, detail) = wait_for("revision 2 running in kdeck's row", || {
        reviews(&handle).filter(|(r, d)| {
            r.new_tags == ["2.5.0"]
                && d.row
                    .template
                    .as_ref()
                    .is_some_and(|t| t.workload_generation == Some(2))
        })
    });
    assert_eq!(
        row.images,
        images(&[
            ("demo.registry.local/reviews:2.4.1", "stable"),
            ("demo.registry.local/reviews:2.5.0", "canary"),
        ])
    );
    assert_eq!(row.stable_tags, ["2.4.1"]);
    let newest = &detail.revisions[0];
    assert_eq!(newest.revision, 2);
    assert_eq!(
        newest.replica_sets[0].images,
        ["demo.registry.local/reviews:2.5.0"]
    );
    let t = detail.row.template.as_ref().unwrap();
    assert_eq!(t.containers[0].image, "demo.registry.local/reviews:2.5.0");
    assert_eq!(t.workload_generation, Some(2));

    // Undo patches the Deployment the template lives in (as the plugin does), and the dialog
    // and the RBAC check name that Deployment, not the Rollout.
    let call = ActionCall {
        name: "undo".into(),
        args: Vec::new(),
    };
    let Reply::Plan(undo) = plan(&call, &row, &handle) else {
        panic!("no undo plan");
    };
    let line = &undo.request_lines()[0];
    assert!(
        line.starts_with(
            "PATCH /apis/apps/v1/namespaces/shop/deployments/reviews-deploy (json-patch) built \
             from /apis/apps/v1/namespaces/shop/replicasets/reviews-"
        ),
        "{line}"
    );
    assert!(
        undo.permissions()
            .iter()
            .any(|p| p.verb == "patch" && p.target.plural == "deployments"),
        "{:?}",
        undo.permissions()
    );
    let (exec, mut rx) = Executor::new(
        world,
        ExecOptions::default(),
        AuditLog::new(&dir.path().join("audit.log")),
    );
    let outcome = rt.block_on(async {
        exec.execute(1, *undo);
        loop {
            match tokio::time::timeout(WAIT, rx.recv())
                .await
                .unwrap()
                .unwrap()
            {
                ExecEvent::Finished { outcome, .. } => return outcome,
                ExecEvent::Rbac { .. } => {}
            }
        }
    });
    assert_eq!(outcome.kind, OutcomeKind::Ok, "{outcome:?}");
    // Back to revision 1's template: the controller makes it revision 3.
    // Deployments and ReplicaSets arrive on separate watches, so revision 3's ReplicaSet can
    // be seen before the patched Deployment: wait until both have arrived.
    let (_, detail) = wait_for("the undo as revision 3", || {
        reviews(&handle).filter(|(_, d)| {
            d.revisions.first().is_some_and(|r| r.revision == 3)
                && d.row
                    .template
                    .as_ref()
                    .is_some_and(|t| t.containers[0].image == "demo.registry.local/reviews:2.4.1")
        })
    });
    assert_eq!(
        detail.revisions[0].replica_sets[0].images,
        ["demo.registry.local/reviews:2.4.1"]
    );
    let t = detail.row.template.as_ref().unwrap();
    assert_eq!(t.containers[0].image, "demo.registry.local/reviews:2.4.1");
    assert_eq!(t.workload_generation, Some(3));

    cancel.cancel();
    rt.block_on(demo.shutdown());
}
