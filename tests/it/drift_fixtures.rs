//! The Drift pane's pure core against upstream data: every Argo CD Application fixture gives
//! the row values worked out by hand from the YAML; sync and rollback write the operation the
//! Argo CD API server would; Argo CD's ApplicationSet health vectors hold; the Flux objects
//! (Argo CD's health test objects and the controllers' documented status blocks) give their
//! rows, and Argo CD's Flux action vectors (inputs, expected outputs, when each action is
//! disabled) hold for kdeck's requests.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use kdeck::cluster::{ClusterHandle, ClusterInfo, Discovery, PromReach, Reach};
use kdeck::exec::plan::PlanBuild;
use kdeck::exec::request::PatchType;
use kdeck::k8s::argocd::{Application, ApplicationSet, application_set_health};
use kdeck::k8s::flux::{FluxView, HelmRelease, Kustomization};
use kdeck::keymap::ActionCall;
use kdeck::panes::Reply;
use kdeck::panes::drift::actions::{self, SyncArgs, rollback_operation, sync_operation};
use kdeck::panes::drift::destination::{DestLabel, resolve};
use kdeck::panes::drift::detail::{AppInputs, app_detail};
use kdeck::panes::drift::model::{AppContext, Attention, DriftRow, app_row, flux_row};
use kdeck::panes::drift::plan::plan_action;
use kdeck::panes::drift::view::{last_op_cell, revisions_text};
use kdeck::panes::kit::WatchedContext;
use kdeck::source::{Notifier, SourceState};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use kdeck_demo::testing::support::{load_yaml, yaml_files_under};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 3, 4)
        .single()
        .unwrap()
}

fn app(rel: &str) -> Application {
    serde_json::from_value(load_yaml(&format!("argo-cd/applications/{rel}"))).unwrap()
}

/// A file of the repo's own fixtures (`tests/fixtures/flux`, see its SOURCES.md).
fn flux_fixture(rel: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/flux")
        .join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    docs.retain(|d| !d.is_null());
    assert_eq!(docs.len(), 1, "{rel}");
    docs.remove(0)
}

fn contexts() -> Vec<WatchedContext> {
    vec![WatchedContext {
        context: "prod-us-east".into(),
        short: "us-east".into(),
        server: "https://10.0.0.1:6443".into(),
    }]
}

fn row(a: &Application) -> DriftRow {
    app_row(
        a,
        AppContext {
            cluster: "prod-us-east",
            dest: resolve(&a.spec.destination, "prod-us-east", &contexts()),
            window: None,
        },
    )
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn every_application_fixture_parses_into_a_row() {
    let files = yaml_files_under("argo-cd/applications");
    assert_eq!(files.len(), 6, "{files:?}");
    for f in files {
        let a: Application = serde_json::from_value(load_yaml(&f)).unwrap();
        assert!(a.malformed.is_none(), "{f}: {:?}", a.malformed);
        let r = row(&a);
        assert!(r.problem.is_none(), "{f}: {:?}", r.problem);
    }
}

#[test]
fn a_synced_app_with_one_resource_missing_needs_a_sync() {
    let a = app("gitops-backend-application-resource-outofsync-missing.yaml");
    let r = row(&a);
    assert_eq!(
        (r.namespace.as_str(), r.name.as_str(), r.project.as_str()),
        ("test-namespace", "dev-test-app", "default")
    );
    // The app says Synced, but the Secret testsecret is OutOfSync and Missing.
    assert_eq!((r.sync.as_str(), r.health.as_str()), ("Synced", ""));
    assert_eq!((r.out_of_sync, r.resources), (1, 7));
    assert_eq!(r.dest.text(), "us-east/dev");
    assert_eq!(r.auto, None);
    assert_eq!(r.op, None);
    assert_eq!((r.deployed.as_str(), r.target.as_str()), ("123456789", ""));
    assert_eq!(revisions_text(&r.deployed, &r.target), "123456789");
    assert_eq!(r.attention, Attention::NeedsSync);
    assert_eq!(r.reason, "OutOfSync: 1 of 7 resources");

    // The store keeps what needs a look (the Secret) and the count of the rest.
    let mut trimmed = a.clone();
    trimmed.trim_status();
    let st = trimmed.status.as_ref().unwrap();
    assert_eq!(st.resources.len(), 1);
    assert_eq!(st.resources[0].name, "testsecret");
    assert_eq!(st.resource_count(), 7);
    assert_eq!(row(&trimmed).out_of_sync, 1);
    assert_eq!(row(&trimmed).resources, 7);

    let d = app_detail(&AppInputs {
        cluster: "prod-us-east",
        contexts: &contexts(),
        app: &a,
        apps: &[&a],
        projects: &[],
        app_sets: &[],
        now: now(),
    });
    assert_eq!(d.resources.len(), 1);
    assert_eq!(
        (d.resources[0].group.as_str(), d.resources[0].kind.as_str()),
        ("apps", "Secret")
    );
    assert_eq!(d.project, ("default".to_string(), false));
    assert!(d.windows.is_none());
    // History without ids cannot be rolled back to.
    assert_eq!(d.history.len(), 1);
    assert_eq!(d.history[0].id, None);
}

#[test]
fn an_out_of_sync_app_without_revisions() {
    let a = app("gitops-backend-application2-outofsync.yaml");
    let r = row(&a);
    assert_eq!(r.name, "production-test-app");
    assert_eq!((r.sync.as_str(), r.health.as_str()), ("OutOfSync", ""));
    assert_eq!((r.out_of_sync, r.resources), (0, 0));
    assert_eq!(r.dest.text(), "us-east/production");
    // Two deployments, neither with a revision or id.
    assert_eq!(r.deployed, "");
    assert_eq!(revisions_text(&r.deployed, &r.target), "—");
    assert_eq!(r.attention, Attention::NeedsSync);
    assert_eq!(r.reason, "OutOfSync");
}

#[test]
fn a_synced_healthy_app_with_its_last_automated_sync() {
    let a = app("gitops-backend-application3-synced-operationstate.yaml");
    let r = row(&a);
    assert_eq!(r.name, "dev-app-taxi");
    assert_eq!((r.sync.as_str(), r.health.as_str()), ("Synced", "Healthy"));
    assert_eq!((r.out_of_sync, r.resources), (0, 3));
    let op = r.op.clone().unwrap();
    assert_eq!(op.phase, "Succeeded");
    assert_eq!(op.message, "successfully synced (all tasks run)");
    assert_eq!(op.at, Some(t("2022-04-22T17:11:29Z")));
    assert_eq!(op.initiated_by, "automated sync");
    assert_eq!(op.retry_count, 0);
    // No syncPolicy in its spec: manual, though the last sync was automated.
    assert_eq!(r.auto, None);
    assert_eq!(r.deployed, "a0c7298faead28f7f60a5106afbb18882ad220a7");
    assert_eq!(r.target, r.deployed);
    assert_eq!(revisions_text(&r.deployed, &r.target), "a0c7298");
    assert_eq!(r.attention, Attention::Fine);
    assert_eq!(last_op_cell(&r, Some(now())).text, "✔ Succeeded 1674d");

    let d = app_detail(&AppInputs {
        cluster: "prod-us-east",
        contexts: &contexts(),
        app: &a,
        apps: &[&a],
        projects: &[],
        app_sets: &[],
        now: now(),
    });
    let ids: Vec<Option<i32>> = d.history.iter().map(|h| h.id).collect();
    assert_eq!(ids, [5, 4, 3, 2, 1, 0].map(Some));
    assert!(d.resources.is_empty());
    assert_eq!(d.source_type, "Kustomize");
    let results = &d
        .operation
        .as_ref()
        .unwrap()
        .sync_result
        .as_ref()
        .unwrap()
        .resources;
    assert_eq!(results.len(), 3);
    assert_eq!(results[1].message, "deployment.apps/taxi configured");

    // Rollback to id 4: a sync to that entry's revision and source, applied without hooks.
    let op = rollback_operation(&a, 4, false, false, "oncall@example.com").unwrap();
    assert_eq!(
        op,
        json!({
            "sync": {
                "revision": "3f6965bd65d9294b8fec5d6e2dc3dad08e33a8fe",
                "syncStrategy": {"apply": {}},
                "source": {
                    "path": "environments/dev/apps/app-taxi/overlays",
                    "repoURL": "https://github.com/test-repo/gitops.git"
                }
            },
            "initiatedBy": {"username": "oncall@example.com"}
        })
    );
    assert_eq!(
        rollback_operation(&a, 9, false, false, "u").unwrap_err(),
        "rollback: application dev-app-taxi does not have deployment with id 9"
    );
}

#[test]
fn a_bare_degraded_app_is_broken_and_a_bare_healthy_one_fine() {
    let r = row(&app("gitops-engine-application-degraded.yaml"));
    assert_eq!((r.name.as_str(), r.health.as_str()), ("", "Degraded"));
    assert_eq!(r.sync, "");
    assert_eq!(r.attention, Attention::Broken);
    assert_eq!(r.reason, "Degraded");
    assert_eq!(r.dest, DestLabel::default());
    let r = row(&app("gitops-engine-application-healthy.yaml"));
    assert_eq!(r.health, "Healthy");
    assert_eq!(r.attention, Attention::Fine);
}

#[test]
fn an_app_generated_by_an_application_set_deploying_elsewhere() {
    let a = app("synced-healthy-with-operationstate.yaml");
    let r = row(&a);
    assert_eq!(
        (r.namespace.as_str(), r.name.as_str(), r.project.as_str()),
        ("argo-cd", "velero-test", "sre")
    );
    assert_eq!((r.sync.as_str(), r.health.as_str()), ("Synced", "Healthy"));
    assert_eq!((r.out_of_sync, r.resources), (0, 2));
    // Destination by Argo CD cluster name, which no watched context has.
    assert_eq!(r.dest.text(), "gke-alpha-01-europe-west1?/test-lla");
    assert_eq!(r.auto, None);
    let op = r.op.clone().unwrap();
    assert_eq!(
        (op.phase.as_str(), op.initiated_by.as_str()),
        ("Succeeded", "foo@example.com")
    );
    // Deployed from history (id 23), target as Argo CD last compared it.
    assert_eq!(revisions_text(&r.deployed, &r.target), "ea87599→rev1");
    assert_eq!(r.attention, Attention::Fine);
    // Named as a watched context when one has that name.
    let mut ctxs = contexts();
    ctxs.push(WatchedContext {
        context: "gke-alpha-01-europe-west1".into(),
        short: "alpha".into(),
        server: "https://34.1.2.3".into(),
    });
    assert_eq!(
        resolve(&a.spec.destination, "prod-us-east", &ctxs).text(),
        "alpha/test-lla"
    );

    let d = app_detail(&AppInputs {
        cluster: "prod-us-east",
        contexts: &contexts(),
        app: &a,
        apps: &[&a],
        projects: &[],
        app_sets: &[],
        now: now(),
    });
    let set = d.app_set.unwrap();
    assert_eq!(set.name, "velero");
    assert!(set.health.is_none(), "the set is not in the store");
    assert_eq!(d.history.first().and_then(|h| h.id), Some(23));
    assert_eq!(d.history.len(), 10);

    // Sync: the compared revision, the CLI's hook strategy, the app's sync options and
    // retry policy, and the kube identity.
    let op = sync_operation(&a, &SyncArgs::default(), "oncall@example.com").unwrap();
    assert_eq!(
        op,
        json!({
            "sync": {
                "revision": "rev1",
                "syncStrategy": {"hook": {}},
                "syncOptions": ["CreateNamespace=true", "ApplyOutOfSyncOnly=true",
                    "RespectIgnoreDifferences=false", "ServerSideApply=true", "Validate=true"]
            },
            "initiatedBy": {"username": "oncall@example.com"},
            "retry": {"backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}, "limit": 10}
        })
    );
    let prune = SyncArgs {
        prune: true,
        dry_run: true,
        ..SyncArgs::default()
    };
    let op = sync_operation(&a, &prune, "u").unwrap();
    assert_eq!(op["sync"]["prune"], json!(true));
    assert_eq!(op["sync"]["dryRun"], json!(true));
    // Selective: only resources it tracks, as SyncOperationResource serializes them.
    let one = actions::parse_sync_args(&["Deployment/test-lla".to_string()]).unwrap();
    let op = sync_operation(&a, &one, "u").unwrap();
    assert_eq!(
        op["sync"]["resources"],
        json!([{"group": "apps", "kind": "Deployment", "name": "test-lla", "namespace": "test-lla"}])
    );
    let missing = actions::parse_sync_args(&["Deployment/nope".to_string()]).unwrap();
    assert!(sync_operation(&a, &missing, "u").is_err());
    // Rollback to 22: its revision and source, the app's sync options, apply strategy.
    let op = rollback_operation(&a, 22, false, false, "u").unwrap();
    assert_eq!(
        op["sync"]["revision"],
        json!("ea8759964626a583667a2bfd08f334ec2070040a")
    );
    assert_eq!(op["sync"]["syncStrategy"], json!({"apply": {}}));
    assert_eq!(op["sync"]["source"]["targetRevision"], json!("test-lla"));
    assert_eq!(op["sync"]["syncOptions"][3], json!("ServerSideApply=true"));
    assert!(op.get("retry").is_none());
    // The write: operation set, last operation state cleared, as SetAppOperation does.
    assert_eq!(
        actions::set_operation(json!({"x": 1})),
        json!({"operation": {"x": 1}, "status": {"operationState": null}})
    );
}

#[test]
fn rollback_is_refused_while_automated_sync_is_on() {
    let mut v =
        load_yaml("argo-cd/applications/gitops-backend-application3-synced-operationstate.yaml");
    v["spec"]["syncPolicy"] = json!({"automated": {"prune": true, "selfHeal": true}});
    let a: Application = serde_json::from_value(v.clone()).unwrap();
    let r = row(&a);
    assert_eq!(r.auto.map(|a| (a.prune, a.self_heal)), Some((true, true)));
    let err = rollback_operation(&a, 4, false, false, "u").unwrap_err();
    assert!(
        err.contains("rollback cannot be initiated when auto-sync is enabled"),
        "{err}"
    );
    // Newer Argo CD turns automation off with `enabled: false`: then rollback is allowed.
    v["spec"]["syncPolicy"]["automated"]["enabled"] = json!(false);
    let a: Application = serde_json::from_value(v).unwrap();
    assert!(rollback_operation(&a, 4, false, false, "u").is_ok());
}

#[test]
fn application_set_health_follows_argo_cd() {
    let tests = load_yaml("argo-cd/argocd-health/ApplicationSet/health_test.yaml");
    let tests = tests["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 5);
    for case in tests {
        let input = case["inputPath"].as_str().unwrap();
        let set: ApplicationSet = serde_json::from_value(load_yaml(&format!(
            "argo-cd/argocd-health/ApplicationSet/{input}"
        )))
        .unwrap();
        let (status, message) = application_set_health(&set);
        assert_eq!(
            status,
            case["healthStatus"]["status"].as_str().unwrap(),
            "{input}"
        );
        assert_eq!(
            message,
            case["healthStatus"]["message"].as_str().unwrap(),
            "{input}"
        );
    }
    let set: ApplicationSet = serde_json::from_value(load_yaml(
        "argo-cd/argocd-health/ApplicationSet/testdata/healthyApplicationSet.yaml",
    ))
    .unwrap();
    assert_eq!(set.spec.generators, ["merge[clusters, clusters, list]"]);
}

fn kustomization(rel: &str) -> Kustomization {
    serde_json::from_value(flux_fixture(rel)).unwrap()
}

fn helm_release(rel: &str) -> HelmRelease {
    serde_json::from_value(flux_fixture(rel)).unwrap()
}

fn flux(f: &FluxView<'_>) -> DriftRow {
    flux_row(f, "prod-us-east", DestLabel::default())
}

#[test]
fn flux_rows_from_upstream_objects() {
    // Argo CD's health tests: Healthy, Degraded, Progressing.
    for (file, health, attention) in [
        (
            "argocd-health/Kustomization/healthy.yaml",
            "Healthy",
            Attention::Fine,
        ),
        (
            "argocd-health/Kustomization/degraded.yaml",
            "Degraded",
            Attention::Broken,
        ),
        (
            "argocd-health/Kustomization/progressing.yaml",
            "Progressing",
            Attention::Moving,
        ),
    ] {
        let k = kustomization(file);
        let r = flux(&FluxView::of_kustomization(&k));
        assert_eq!(
            (r.health.as_str(), r.attention),
            (health, attention),
            "{file}"
        );
    }
    let k = kustomization("argocd-health/Kustomization/degraded.yaml");
    let r = flux(&FluxView::of_kustomization(&k));
    assert_eq!(r.reason, "not Ready (ArtifactFailed)");
    assert_eq!(
        r.health_message,
        "GitRepository.source.toolkit.fluxcd.io \"podinfo\" not found"
    );
    let k = kustomization("argocd-health/Kustomization/progressing.yaml");
    assert_eq!(flux(&FluxView::of_kustomization(&k)).sync, "Reconciling");

    // The documented failed reconciliation: the attempted revision was not applied.
    let k = kustomization("docs/kustomization-failed-status.yaml");
    let r = flux(&FluxView::of_kustomization(&k));
    assert_eq!(
        (r.sync.as_str(), r.health.as_str()),
        ("OutOfSync", "Degraded")
    );
    assert_eq!(
        revisions_text(&r.deployed, &r.target),
        "master@a1afe26→master@7c500d3"
    );
    assert_eq!(r.attention, Attention::Broken);
    assert_eq!(r.reason, "not Ready (ValidationFailed)");
    let k = kustomization("docs/kustomization-ready-status.yaml");
    let r = flux(&FluxView::of_kustomization(&k));
    assert_eq!((r.sync.as_str(), r.health.as_str()), ("Synced", "Healthy"));
    assert_eq!(revisions_text(&r.deployed, &r.target), "main@a1afe26");

    let h = helm_release("argocd-health/HelmRelease/healthy.yaml");
    assert_eq!(flux(&FluxView::of_helm_release(&h)).health, "Healthy");
    let h = helm_release("argocd-health/HelmRelease/degraded.yaml");
    let r = flux(&FluxView::of_helm_release(&h));
    assert_eq!(
        (r.health.as_str(), r.attention),
        ("Degraded", Attention::Broken)
    );
    assert_eq!(r.reason, "not Ready (RollbackSucceeded)");
    assert_eq!(h.spec.chart, "podinfo@6.5.*");
    // HelmRelease v2 keeps no lastAppliedRevision: the deployed release's chart version.
    let h = helm_release("docs/helmrelease-history.yaml");
    let r = flux(&FluxView::of_helm_release(&h));
    assert_eq!(r.deployed, "6.6.1+0cc9a8446c95");
    assert_eq!(h.status.unwrap().history.len(), 2);
}

fn test_cluster() -> Arc<ClusterHandle> {
    let h = ClusterHandle::new(
        "prod-us-east",
        ClusterInfo {
            server: "https://10.0.0.1:6443".into(),
            user: "oncall@example.com".into(),
            version: None,
            reach: Reach::Connecting,
            prometheus: PromReach::Unknown,
            readonly: false,
        },
        None,
        None,
        Notifier::new(),
        CancellationToken::new(),
    );
    h.set_discovery(Discovery::default());
    h
}

/// Argo CD's Flux action vectors: enabled/disabled as `discoveryTests` say, and each request,
/// applied to the input, gives the expected output (the reconcile value is a time in both,
/// Argo CD's own text and kdeck's RFC 3339, so only its presence is compared).
#[test]
fn flux_actions_follow_argo_cd_vectors() {
    for kind in ["Kustomization", "HelmRelease"] {
        let base = format!("argocd-actions/{kind}");
        let spec = flux_fixture(&format!("{base}/action_test.yaml"));
        let cluster = test_cluster();
        let plan_for = |input: &str, action: &str| -> Reply {
            let obj = flux_fixture(&format!("{base}/{input}"));
            let live = SourceState::Live { since: now() };
            let r = if kind == "Kustomization" {
                let k: Kustomization = serde_json::from_value(obj).unwrap();
                let r = flux(&FluxView::of_kustomization(&k));
                cluster.sources.set_test_kind(vec![k], live);
                r
            } else {
                let h: HelmRelease = serde_json::from_value(obj).unwrap();
                let r = flux(&FluxView::of_helm_release(&h));
                cluster.sources.set_test_kind(vec![h], live);
                r
            };
            let call = ActionCall {
                name: action.into(),
                args: Vec::new(),
            };
            plan_action(&call, &r, &cluster)
        };
        for case in spec["discoveryTests"].as_array().unwrap() {
            let input = case["inputPath"].as_str().unwrap();
            for res in case["result"].as_array().unwrap() {
                let action = res["name"].as_str().unwrap();
                let disabled = res["disabled"].as_bool().unwrap();
                let reply = plan_for(input, action);
                assert_eq!(
                    matches!(reply, Reply::Warn(_)),
                    disabled,
                    "{kind} {input} {action}: {reply:?}"
                );
            }
        }
        for case in spec["actionTests"].as_array().unwrap() {
            let input = case["inputPath"].as_str().unwrap();
            let action = case["action"].as_str().unwrap();
            let Reply::Plan(plan) = plan_for(input, action) else {
                panic!("{kind} {action} refused");
            };
            assert!(plan.checks.is_empty(), "safe to repeat");
            let PlanBuild::Ready(reqs) = &plan.build else {
                panic!()
            };
            assert_eq!(reqs.len(), 1);
            assert_eq!(reqs[0].patch_type, Some(PatchType::Merge));
            assert_eq!(reqs[0].subresource, None);
            let mut obj = flux_fixture(&format!("{base}/{input}"));
            json_patch::merge(&mut obj, &reqs[0].body);
            let mut want = flux_fixture(&format!(
                "{base}/{}",
                case["expectedOutputPath"].as_str().unwrap()
            ));
            let key = "/metadata/annotations/reconcile.fluxcd.io~1requestedAt";
            if action == "reconcile" {
                let sent = obj
                    .pointer(key)
                    .and_then(Value::as_str)
                    .unwrap()
                    .to_string();
                assert!(DateTime::parse_from_rfc3339(&sent).is_ok(), "{sent}");
                *want.pointer_mut(key).unwrap() = json!(sent);
            }
            assert_eq!(obj, want, "{kind} {action}");
        }
    }
}
