//! The Drift pane's actions through kdeck's real path: the pane's plan builder reads the
//! watched store, the executor checks RBAC, what the decision rests on and read-only, sends
//! the Argo CD API server's writes to the demo cluster over HTTP, and the simulated
//! application controller runs them. What `kubectl get application -o json` shows is the
//! verdict: the operation written (with the kube identity), then cleared by the controller
//! with `status.operationState` set.

use serde_json::{Value, json};

use kdeck::exec::{ExecOptions, OutcomeKind};

use crate::drift_demo::{DriftDemo, Kdeck, USER, run};

fn phase(a: &Value) -> &str {
    a.pointer("/status/operationState/phase")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn sync_status(a: &Value) -> &str {
    a.pointer("/status/sync/status")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn image(d: &DriftDemo) -> String {
    let dep: Value = serde_json::from_str(&d.kubectl(&[
        "get",
        "deployment",
        "ledger",
        "-n",
        "payments",
        "-o",
        "json",
    ]))
    .unwrap();
    dep.pointer("/spec/template/spec/containers/0/image")
        .and_then(Value::as_str)
        .unwrap()
        .to_string()
}

#[test]
fn sync_refresh_rollback_and_terminate_reach_the_controller() {
    let d = DriftDemo::start();
    let k = Kdeck::connect(&d);
    let audit = d.dir.path().join("audit.log");
    let (exec, mut rx) = k.executor(ExecOptions::default(), &audit);

    // payments: OutOfSync after a new commit, manual sync.
    let before = d.app("payments");
    assert_eq!(sync_status(&before), "OutOfSync");
    let target = before["status"]["sync"]["revision"]
        .as_str()
        .unwrap()
        .to_string();
    let stale = k.plan(&d, "payments", "sync", &[]).unwrap();
    assert!(
        stale.checks_text().contains("operation in progress none"),
        "{}",
        stale.checks_text()
    );
    let o = run(
        &d,
        &exec,
        &mut rx,
        k.plan(&d, "payments", "sync", &[]).unwrap(),
    );
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    // The operation as written, with the kube identity; the last state cleared.
    let running = d.app("payments");
    assert_eq!(
        running["operation"]["initiatedBy"]["username"],
        json!(USER),
        "{running:#}"
    );
    assert_eq!(running["operation"]["sync"]["revision"], json!(target));
    assert_eq!(
        running["operation"]["sync"]["syncStrategy"],
        json!({"hook": {}})
    );

    // A sync while one runs: the pane refuses, and a plan made before it started is refused
    // by the executor (no second operation is written).
    let why = k.plan(&d, "payments", "sync", &[]).unwrap_err();
    assert!(
        why.contains("another operation is already in progress"),
        "{why}"
    );
    let o = run(&d, &exec, &mut rx, stale);
    assert_eq!(o.kind, OutcomeKind::Conflict, "{o:?}");
    assert!(
        o.message
            .contains("operation in progress changed since it was shown"),
        "{o:?}"
    );

    // The controller runs it, clears `operation`, records the state, history and sync.
    let done = d.wait_app("payments", "the sync finished", |a| {
        a.get("operation").is_none() && phase(a) == "Succeeded"
    });
    assert_eq!(sync_status(&done), "Synced");
    assert_eq!(
        done["status"]["operationState"]["operation"]["initiatedBy"]["username"],
        json!(USER)
    );
    let history = done["status"]["history"].as_array().unwrap();
    assert_eq!(history.last().unwrap()["revision"], json!(target));
    let synced_image = image(&d);

    // Refresh: the annotation, then the controller takes it away and reconciles.
    let reconciled = done["status"]["reconciledAt"].clone();
    let p = k.plan(&d, "payments", "refresh", &[]).unwrap();
    assert!(p.checks.is_empty());
    let o = run(&d, &exec, &mut rx, p);
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    let rv = done["metadata"]["resourceVersion"].clone();
    let refreshed = d.wait_app("payments", "the refresh handled", |a| {
        a.pointer("/metadata/annotations/argocd.argoproj.io~1refresh")
            .is_none()
            && a["metadata"]["resourceVersion"] != rv
    });
    // Reconciled again (timestamps have second precision: same second or later).
    assert!(
        refreshed["status"]["reconciledAt"].as_str() >= reconciled.as_str(),
        "{refreshed:#}"
    );

    // Rollback to the deployment before: refused while automated sync is on (a plan made
    // with it off is refused by the executor once someone turned it on) …
    let prev = history[history.len() - 2].clone();
    let id = prev["id"].as_i64().unwrap().to_string();
    let p = k.plan(&d, "payments", "rollback", &[&id]).unwrap();
    d.kubectl(&[
        "patch",
        "application",
        "payments",
        "-n",
        "argocd",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"syncPolicy":{"automated":{"prune":false,"selfHeal":false}}}}"#,
    ]);
    let why = k.plan(&d, "payments", "rollback", &[&id]).unwrap_err();
    assert!(
        why.contains("rollback cannot be initiated when auto-sync is enabled"),
        "{why}"
    );
    let o = run(&d, &exec, &mut rx, p);
    assert_eq!(o.kind, OutcomeKind::Conflict, "{o:?}");
    assert!(o.message.contains("automated sync changed"), "{o:?}");
    d.kubectl(&[
        "patch",
        "application",
        "payments",
        "-n",
        "argocd",
        "--type",
        "json",
        "-p",
        r#"[{"op":"remove","path":"/spec/syncPolicy/automated"}]"#,
    ]);
    // … and, with it off, syncs to that entry's revision and source, as the controller does.
    let o = run(
        &d,
        &exec,
        &mut rx,
        k.plan(&d, "payments", "rollback", &[&id]).unwrap(),
    );
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    let rolled = d.wait_app("payments", "the rollback finished", |a| {
        a.get("operation").is_none()
            && phase(a) == "Succeeded"
            && a["status"]["operationState"]["syncResult"]["revision"] == prev["revision"]
    });
    let op = &rolled["status"]["operationState"]["operation"];
    assert_eq!(op["sync"]["syncStrategy"], json!({"apply": {}}));
    assert_eq!(op["sync"]["source"], prev["source"]);
    assert_eq!(op["initiatedBy"]["username"], json!(USER));
    // Git still points at the newer commit: OutOfSync, the older image running.
    assert_eq!(sync_status(&rolled), "OutOfSync");
    assert_eq!(
        rolled["status"]["history"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["revision"],
        prev["revision"]
    );
    assert_ne!(image(&d), synced_image);

    // Terminate: checkout-db's sync fails on its hook and retries; terminating ends it.
    assert!(
        k.plan(&d, "checkout-db", "terminate", &[])
            .unwrap_err()
            .contains("No operation is in progress")
    );
    let o = run(
        &d,
        &exec,
        &mut rx,
        k.plan(&d, "checkout-db", "sync", &[]).unwrap(),
    );
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    d.wait_app("checkout-db", "a failed attempt being retried", |a| {
        phase(a) == "Running"
            && a.pointer("/status/operationState/retryCount")
                .and_then(Value::as_i64)
                >= Some(1)
    });
    let o = run(
        &d,
        &exec,
        &mut rx,
        k.plan(&d, "checkout-db", "terminate", &[]).unwrap(),
    );
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    let ended = d.wait_app("checkout-db", "the operation terminated", |a| {
        a.get("operation").is_none() && phase(a) == "Failed"
    });
    assert_eq!(
        ended["status"]["operationState"]["message"],
        json!("Operation terminated")
    );

    let outcomes: Vec<(String, String)> = crate::helpers::audit_outcomes(&audit)
        .into_iter()
        .map(|v| {
            (
                v["action"].as_str().unwrap().into(),
                v["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("sync", "ok"),
        ("sync", "conflict"),
        ("refresh", "ok"),
        ("rollback", "conflict"),
        ("rollback", "ok"),
        ("sync", "ok"),
        ("terminate", "ok"),
    ];
    assert_eq!(
        outcomes,
        want.map(|(a, o)| (a.to_string(), o.to_string())).to_vec()
    );
}

#[test]
fn refusals_and_read_only_send_nothing() {
    let d = DriftDemo::start();
    let k = Kdeck::connect(&d);
    let audit = d.dir.path().join("audit.log");

    // Rollback of an automated app: the pane says why, no plan.
    let why = k.plan(&d, "shop", "rollback", &["0"]).unwrap_err();
    assert!(
        why.contains("rollback cannot be initiated when auto-sync is enabled"),
        "{why}"
    );
    // A sync the project's deny window blocks: refused as the API server refuses it.
    let why = k.plan(&d, "platform-monitoring", "sync", &[]).unwrap_err();
    assert!(why.contains("cannot sync: blocked by deny window"), "{why}");
    assert!(why.contains("release freeze"), "{why}");
    // A history id that is not there.
    let why = k.plan(&d, "payments", "rollback", &["99"]).unwrap_err();
    assert!(why.contains("does not have deployment with id 99"), "{why}");
    // Without an id: a question with the previous deployment filled in.
    let reply = k.reply(&d, "payments", "rollback", &[]);
    let kdeck::panes::Reply::Prompt(prompt) = reply else {
        panic!("{reply:?}")
    };
    let ids: Vec<i64> = d.app("payments")["status"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_i64().unwrap())
        .collect();
    assert_eq!(prompt.initial, ids[ids.len() - 2].to_string());

    // Read-only: the executor refuses and sends nothing: the API server saw no request.
    let (ro, mut rx) = k.executor(
        ExecOptions {
            readonly: true,
            ..ExecOptions::default()
        },
        &audit,
    );
    let plan = k.plan(&d, "payments", "sync", &[]).unwrap();
    let rv = d.app("payments")["metadata"]["resourceVersion"].clone();
    let requests = d.cluster().faults.stats().requests;
    let o = run(&d, &ro, &mut rx, plan);
    assert_eq!(o.kind, OutcomeKind::Refused, "{o:?}");
    assert!(o.message.contains("read-only"), "{o:?}");
    assert_eq!(
        d.cluster().faults.stats().requests,
        requests,
        "a request reached the API server"
    );
    assert_eq!(d.app("payments")["metadata"]["resourceVersion"], rv);
    assert!(d.app("payments").get("operation").is_none());
    let lines = std::fs::read_to_string(&audit).unwrap();
    assert_eq!(lines.lines().count(), 1);
    assert!(lines.contains("\"outcome\":\"refused\""), "{lines}");
}
