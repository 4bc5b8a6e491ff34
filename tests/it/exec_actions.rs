//! Actions through kdeck's real path: the Rollouts pane's plan builder reads the watched
//! store, the executor checks RBAC, freshness and read-only, sends the upstream requests to
//! the demo cluster over HTTP, and the simulated Argo Rollouts controller reacts. What
//! `kubectl get rollout -o json` shows afterwards is the verdict.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kdeck::cluster::ClusterHandle;
use kdeck::exec::audit::AuditLog;
use kdeck::exec::{
    ActionPlan, ExecEvent, ExecOptions, Executor, Outcome, OutcomeKind, RbacVerdict,
};
use kdeck::k8s::apps::{Deployment, ReplicaSet};
use kdeck::k8s::rollout::{AnalysisRun, Rollout};
use kdeck::keymap::ActionCall;
use kdeck::panes::Reply;
use kdeck::panes::rollouts::model::Objects;
use kdeck::panes::rollouts::plan::plan;
use kdeck::world::World;
use kdeck_demo::DenyRule;
use serde_json::{Value, json};
use tokio::sync::mpsc::Receiver;
use tokio_util::sync::CancellationToken;

use crate::rollout_demo::{Fixture, NS, WAIT};

/// kdeck's side: a watched cluster and an executor, on the fixture's runtime.
struct Client {
    handle: Arc<ClusterHandle>,
    world: Arc<World>,
    cancel: CancellationToken,
}

impl Client {
    fn connect(f: &Fixture) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        f.rt.block_on(async {
            let (handle, world, cancel) = crate::helpers::demo_handle(
                std::path::Path::new(&f.kubeconfig()),
                "demo-us-east",
                "",
            )
            .await;
            handle.sources.start_kind::<Rollout>();
            handle.sources.start_kind::<Deployment>();
            handle.sources.start_kind::<ReplicaSet>();
            handle.sources.start_kind::<AnalysisRun>();
            Self {
                handle,
                world,
                cancel,
            }
        })
    }

    fn executor(
        &self,
        options: ExecOptions,
        audit: &std::path::Path,
    ) -> (Arc<Executor>, Receiver<ExecEvent>) {
        Executor::new(self.world.clone(), options, AuditLog::new(audit))
    }

    /// Waits until kdeck's store holds `web` at the server's current resourceVersion.
    fn synced(&self, f: &Fixture) {
        let deadline = Instant::now() + WAIT;
        loop {
            let server_rv = f.rollout()["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .to_string();
            let local = self
                .handle
                .sources
                .objects::<Rollout>()
                .iter()
                .find_map(|g| {
                    g.0.as_ref()
                        .ok()
                        .filter(|r| r.metadata.name.as_deref() == Some("web"))
                        .and_then(|r| r.metadata.resource_version.clone())
                });
            if local.as_deref() == Some(server_rv.as_str())
                && self.handle.sources.state::<Rollout>().is_live()
            {
                return;
            }
            assert!(Instant::now() < deadline, "kdeck's store never caught up");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The plan the Rollouts pane makes for `action` on `web`.
    fn plan(&self, f: &Fixture, action: &str, args: &[&str]) -> Result<ActionPlan, String> {
        self.synced(f);
        let rollouts = self.handle.sources.objects::<Rollout>();
        let rss = self.handle.sources.objects::<ReplicaSet>();
        let ro_refs: Vec<&Rollout> = rollouts.iter().filter_map(|g| g.0.as_ref().ok()).collect();
        let rs_refs: Vec<&ReplicaSet> = rss.iter().filter_map(|g| g.0.as_ref().ok()).collect();
        let rows = crate::helpers::rollout_rows(
            "demo-us-east",
            &Objects {
                rollouts: &ro_refs,
                replica_sets: &rs_refs,
                ..Objects::default()
            },
            chrono::Utc::now(),
        );
        let row = rows.iter().find(|r| r.name == "web").unwrap();
        let call = ActionCall {
            name: action.into(),
            args: args.iter().map(|a| (*a).to_string()).collect(),
        };
        match plan(&call, row, &self.handle) {
            Reply::Plan(p) => Ok(*p),
            Reply::Warn(w) | Reply::Info(w) => Err(w),
            other => Err(format!("{other:?}")),
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn run(
    f: &Fixture,
    exec: &Arc<Executor>,
    rx: &mut Receiver<ExecEvent>,
    plan: ActionPlan,
) -> Outcome {
    crate::helpers::execute(&f.rt, exec, rx, plan)
}

/// `kubectl` against the fixture's demo; panics with its stderr on failure.
fn kubectl_ok(f: &Fixture, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(f.kubeconfig())
        .args(args)
        .env("KUBECACHEDIR", f.dir.path().join("kube-cache"))
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What `kubectl get OBJECT -n e2e -o json` prints (`rollout/web`, `deploy/api`).
fn kubectl_get(f: &Fixture, object: &str) -> Value {
    serde_json::from_str(&kubectl_ok(f, &["get", object, "-n", NS, "-o", "json"])).unwrap()
}

fn wait_get(f: &Fixture, object: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let r = kubectl_get(f, object);
        if pred(&r) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "kubectl never showed {what}: {r:#}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn kubectl_rollout(f: &Fixture) -> Value {
    kubectl_get(f, "rollout/web")
}

fn wait_kubectl(f: &Fixture, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    wait_get(f, "rollout/web", what, pred)
}

fn kubectl_deployment(f: &Fixture) -> Value {
    kubectl_get(f, "deploy/api")
}

fn wait_deployment(f: &Fixture, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    wait_get(f, "deploy/api", what, pred)
}

fn step(r: &Value) -> Option<i64> {
    r.pointer("/status/currentStepIndex")
        .and_then(Value::as_i64)
}

fn image(r: &Value) -> String {
    r.pointer("/spec/template/spec/containers/0/image")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn promote_abort_retry_undo_reach_the_controller() {
    let f = Fixture::start();
    let c = Client::connect(&f);
    let audit = f.dir.path().join("audit.log");
    let (exec, mut rx) = c.executor(ExecOptions::default(), &audit);

    let p = c.plan(&f, "promote", &[]).unwrap();
    assert_eq!(p.request_lines().len(), 1, "{:?}", p.request_lines());
    assert!(
        p.request_lines()[0]
            .contains("/rollouts/web/status (merge) {\"status\":{\"pauseConditions\":null}}")
    );
    let o = run(&f, &exec, &mut rx, p);
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    let r = wait_kubectl(&f, "the next pause", |r| step(r) == Some(3));
    assert_eq!(
        r.pointer("/status/pauseConditions/0/reason"),
        Some(&json!("CanaryPauseStep"))
    );

    let o = run(&f, &exec, &mut rx, c.plan(&f, "abort", &[]).unwrap());
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    let r = wait_kubectl(&f, "Degraded after abort", |r| {
        r.pointer("/status/phase") == Some(&json!("Degraded"))
    });
    assert_eq!(r.pointer("/status/abort"), Some(&json!(true)));
    assert!(
        r.pointer("/status/message")
            .and_then(Value::as_str)
            .unwrap()
            .starts_with("RolloutAborted")
    );

    let o = run(&f, &exec, &mut rx, c.plan(&f, "retry", &[]).unwrap());
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    wait_kubectl(&f, "the first pause again", |r| {
        r.pointer("/status/abort") != Some(&json!(true)) && step(r) == Some(1)
    });

    // Undo to the previous revision: the pod template of web:1.0.0 comes back.
    assert_eq!(
        image(&kubectl_rollout(&f)),
        "registry.example.com/web:1.1.0"
    );
    let p = c.plan(&f, "undo", &[]).unwrap();
    assert!(
        p.request_lines()[0].contains("json-patch"),
        "{:?}",
        p.request_lines()
    );
    let o = run(&f, &exec, &mut rx, p);
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    let r = wait_kubectl(&f, "healthy on the old template", |r| {
        r.pointer("/status/phase") == Some(&json!("Healthy"))
    });
    assert_eq!(image(&r), "registry.example.com/web:1.0.0");

    let outcomes: Vec<(String, String)> = crate::helpers::audit_outcomes(&audit)
        .into_iter()
        .map(|v| {
            (
                v["action"].as_str().unwrap().into(),
                v["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("promote", "ok"),
            ("abort", "ok"),
            ("retry", "ok"),
            ("undo", "ok")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
}

#[test]
fn safety_checks_refuse_before_anything_changes() {
    let f = Fixture::start();
    let c = Client::connect(&f);
    let audit = f.dir.path().join("audit.log");
    let rv = || f.rollout()["metadata"]["resourceVersion"].clone();

    // What the decision rests on moved: another user promoted after this screen was drawn.
    // The plan made at step 1 is refused, so the rollout advanced once, not twice.
    let (exec, mut rx) = c.executor(ExecOptions::default(), &audit);
    let p = c.plan(&f, "promote", &[]).unwrap();
    let other_audit = f.dir.path().join("other-user-audit.log");
    let (other, mut other_rx) = c.executor(ExecOptions::default(), &other_audit);
    let o = run(
        &f,
        &other,
        &mut other_rx,
        c.plan(&f, "promote", &[]).unwrap(),
    );
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    wait_kubectl(&f, "the next pause", |r| step(r) == Some(3));
    let moved = rv();
    let o = run(&f, &exec, &mut rx, p);
    assert_eq!(o.kind, OutcomeKind::Conflict, "{o:?}");
    assert!(o.message.contains("changed since it was shown"), "{o:?}");
    assert!(
        o.message
            .contains("step changed since it was shown (1 → 3)"),
        "{o:?}"
    );
    assert_eq!(rv(), moved);
    assert_eq!(step(&f.rollout()), Some(3));

    // RBAC: a deny rule on the status subresource is seen before sending and enforced.
    let rule = f.demo.as_ref().unwrap().clusters()[0]
        .faults
        .deny(DenyRule {
            verb: "patch".into(),
            group: "argoproj.io".into(),
            resource: "rollouts".into(),
            subresource: "status".into(),
            reason: "change freeze".into(),
            ..DenyRule::default()
        });
    let p = c.plan(&f, "promote", &[]).unwrap();
    let verdict =
        f.rt.block_on(kdeck::exec::executor::rbac(&c.handle, &p.permissions()));
    assert!(
        matches!(&verdict, RbacVerdict::Denied(why) if why.contains("change freeze")),
        "{verdict:?}"
    );
    let before = rv();
    let o = run(&f, &exec, &mut rx, p);
    assert_eq!(o.kind, OutcomeKind::Forbidden, "{o:?}");
    assert_eq!(rv(), before);
    f.demo.as_ref().unwrap().clusters()[0]
        .faults
        .remove_deny(rule)
        .unwrap();

    // Server-side dry run: accepted, nothing changes.
    let (dry, mut dry_rx) = c.executor(
        ExecOptions {
            dry_run: true,
            ..ExecOptions::default()
        },
        &audit,
    );
    let faults = &f.demo.as_ref().unwrap().clusters()[0].faults;
    let writes = faults.stats().writes;
    let o = run(&f, &dry, &mut dry_rx, c.plan(&f, "promote", &[]).unwrap());
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    assert!(o.message.contains("dry run"), "{o:?}");
    // The server received the write (answered before the outcome arrived) and kept nothing.
    assert_eq!(faults.stats().writes, writes + 1);
    assert_eq!(rv(), before);

    // Read-only: refused in the executor, whatever the UI did.
    let (ro, mut ro_rx) = c.executor(
        ExecOptions {
            readonly: true,
            ..ExecOptions::default()
        },
        &audit,
    );
    let o = run(&f, &ro, &mut ro_rx, c.plan(&f, "promote", &[]).unwrap());
    assert_eq!(o.kind, OutcomeKind::Refused, "{o:?}");
    assert_eq!(rv(), before);

    // One keypress never sends twice: the same action while one is in flight is refused.
    f.rt.block_on(async {
        let p = c.plan(&f, "promote", &[]).unwrap();
        exec.execute(10, p.clone());
        exec.execute(11, p);
        let mut outcomes = Vec::new();
        while outcomes.len() < 2 {
            if let ExecEvent::Finished { id, outcome, .. } = tokio::time::timeout(WAIT, rx.recv())
                .await
                .unwrap()
                .unwrap()
            {
                outcomes.push((id, outcome.kind));
            }
        }
        outcomes.sort_by_key(|o| o.0);
        assert_eq!(
            outcomes,
            vec![(10, OutcomeKind::Ok), (11, OutcomeKind::Refused)]
        );
    });

    // Disabled actions say why and build no plan.
    let err = c.plan(&f, "retry", &[]).unwrap_err();
    assert!(
        err.contains("only an aborted rollout can be retried"),
        "{err}"
    );

    let outcomes: Vec<String> = crate::helpers::audit_outcomes(&audit)
        .into_iter()
        .map(|v| v["outcome"].as_str().unwrap().to_string())
        .collect();
    // The duplicate is refused (and recorded) at once, before the first one finishes.
    assert_eq!(
        outcomes,
        ["conflict", "forbidden", "ok", "refused", "refused", "ok"]
    );
}

/// Writes the decision does not rest on (a label here, a controller's status write in a live
/// canary) refuse nothing: promote still advances exactly one step, and pause goes through,
/// though the object's resourceVersion moved between the screen and the keypress.
#[test]
fn writes_the_decision_does_not_rest_on_refuse_nothing() {
    let f = Fixture::start();
    let c = Client::connect(&f);
    let audit = f.dir.path().join("audit.log");
    let (exec, mut rx) = c.executor(ExecOptions::default(), &audit);
    let rv = || f.rollout()["metadata"]["resourceVersion"].clone();

    let p = c.plan(&f, "promote", &[]).unwrap();
    assert!(p.checks_text().contains("step 1"), "{}", p.checks_text());
    let before = rv();
    kubectl_ok(&f, &["label", "rollout", "web", "-n", NS, "touched=yes"]);
    assert_ne!(rv(), before);
    let o = run(&f, &exec, &mut rx, p);
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    wait_kubectl(&f, "the next pause", |r| step(r) == Some(3));

    let p = c.plan(&f, "pause", &[]).unwrap();
    assert_eq!(p.checks_text(), "the object's identity (safe to repeat)");
    kubectl_ok(
        &f,
        &[
            "label",
            "rollout",
            "web",
            "-n",
            NS,
            "touched=again",
            "--overwrite",
        ],
    );
    let o = run(&f, &exec, &mut rx, p);
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    wait_kubectl(&f, "spec.paused", |r| {
        r.pointer("/spec/paused") == Some(&json!(true))
    });
    assert_eq!(
        step(&f.rollout()),
        Some(3),
        "promote advanced exactly one step"
    );
}

/// The audit intent is on disk before the first request leaves, with the outcome under the
/// same id afterwards; when the intent cannot be written, nothing is sent.
#[test]
fn the_audit_intent_comes_first_and_no_record_means_no_request() {
    let f = Fixture::start();
    let c = Client::connect(&f);
    let audit = f.dir.path().join("audit.log");
    let (exec, mut rx) = c.executor(ExecOptions::default(), &audit);
    let o = run(&f, &exec, &mut rx, c.plan(&f, "promote", &[]).unwrap());
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    let lines: Vec<Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert_eq!(
        (&lines[0]["phase"], &lines[0]["outcome"]),
        (&json!("intent"), &json!("pending"))
    );
    assert_eq!(
        (&lines[1]["phase"], &lines[1]["outcome"]),
        (&json!("outcome"), &json!("ok"))
    );
    assert_eq!(lines[0]["id"], lines[1]["id"]);
    assert!(
        lines[0]["requests"][0]
            .as_str()
            .unwrap()
            .starts_with("PATCH /apis/argoproj.io/v1alpha1/namespaces/e2e/rollouts/web/status"),
        "{:#}",
        lines[0]
    );
    assert_eq!(
        lines[0]["object"]["checks"][1]["seen"], "1",
        "{:#}",
        lines[0]
    );
    wait_kubectl(&f, "the next pause", |r| step(r) == Some(3));

    // An audit log that cannot be written (here a directory stands where the file should be):
    // the action is refused before anything is sent.
    let blocked = f.dir.path().join("blocked-audit.log");
    std::fs::create_dir(&blocked).unwrap();
    let (exec, mut rx) = c.executor(ExecOptions::default(), &blocked);
    let before = f.rollout()["metadata"]["resourceVersion"].clone();
    let o = run(&f, &exec, &mut rx, c.plan(&f, "promote", &[]).unwrap());
    assert_eq!(o.kind, OutcomeKind::Refused, "{o:?}");
    assert!(o.message.contains("cannot write the audit log"), "{o:?}");
    assert!(
        o.message.contains("refusing to act without a record"),
        "{o:?}"
    );
    assert_eq!(f.rollout()["metadata"]["resourceVersion"], before);
    assert_eq!(step(&f.rollout()), Some(3));
}

/// A write whose answer never comes (the server applied it, the connection gave up) is an
/// unknown outcome that says what the object shows now; pressing promote again on the same
/// screen is then refused, because the step it rests on moved: the rollout advances once.
#[test]
fn a_lost_answer_is_an_unknown_outcome_and_a_retry_does_not_double() {
    let f = Fixture::start();
    let c = Client::connect(&f);
    let audit = f.dir.path().join("audit.log");
    let (exec, mut rx) = c.executor(
        ExecOptions {
            request_timeout: Some(Duration::from_secs(1)),
            ..ExecOptions::default()
        },
        &audit,
    );
    let faults = &f.demo.as_ref().unwrap().clusters()[0].faults;
    let p = c.plan(&f, "promote", &[]).unwrap();
    faults.set_write_answer_delay(Duration::from_secs(3));
    let o = run(&f, &exec, &mut rx, p.clone());
    faults.set_write_answer_delay(Duration::ZERO);
    assert_eq!(o.kind, OutcomeKind::Unknown, "{o:?}");
    assert!(
        o.message.contains("may or may not have been applied"),
        "{o:?}"
    );
    assert!(o.message.contains("Rollout e2e/web now shows"), "{o:?}");
    // It was applied: the controller moves on to the next pause.
    wait_kubectl(&f, "the next pause", |r| step(r) == Some(3));
    let o = run(&f, &exec, &mut rx, p);
    assert_eq!(o.kind, OutcomeKind::Conflict, "{o:?}");
    assert!(
        o.message
            .contains("step changed since it was shown (1 → 3)"),
        "{o:?}"
    );
    assert_eq!(step(&f.rollout()), Some(3));
    let outcomes: Vec<String> = crate::helpers::audit_outcomes(&audit)
        .iter()
        .map(|v| v["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outcomes, ["unknown", "conflict"]);
}

/// Argo Rollouts before v0.10 had no status subresource: `/status` answers 404, and the
/// upstream CLI sends the same change as one patch of the rollout. kdeck does the same, the
/// simulated controller acts on it, and the audit log shows both requests.
#[test]
fn without_a_status_subresource_actions_fall_back_to_one_patch() {
    let f = Fixture::start();
    let c = Client::connect(&f);
    let audit = f.dir.path().join("audit.log");
    let (exec, mut rx) = c.executor(ExecOptions::default(), &audit);
    f.demo.as_ref().unwrap().clusters()[0]
        .faults
        .remove_status_subresource("argoproj.io", "rollouts")
        .unwrap();
    // Real clients see the old CRD: discovery no longer lists rollouts/status.
    let doc = kubectl_ok(&f, &["get", "--raw", "/apis/argoproj.io/v1alpha1"]);
    assert!(doc.contains("\"rollouts\""), "{doc}");
    assert!(!doc.contains("rollouts/status"), "{doc}");

    let o = run(&f, &exec, &mut rx, c.plan(&f, "promote", &[]).unwrap());
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    assert!(o.message.contains("no status subresource"), "{o:?}");
    let r = wait_kubectl(&f, "the next pause", |r| step(r) == Some(3));
    assert_eq!(
        r.pointer("/status/pauseConditions/0/reason"),
        Some(&json!("CanaryPauseStep"))
    );

    let o = run(&f, &exec, &mut rx, c.plan(&f, "abort", &[]).unwrap());
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    wait_kubectl(&f, "Degraded after abort", |r| {
        r.pointer("/status/phase") == Some(&json!("Degraded"))
            && r.pointer("/status/abort") == Some(&json!(true))
    });

    let records: Vec<Value> = crate::helpers::audit_outcomes(&audit);
    let sent = |i: usize| -> Vec<(String, String)> {
        records[i]["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let mut body = r["body"].clone();
                body["metadata"] = Value::Null;
                (r["path"].as_str().unwrap().to_string(), body.to_string())
            })
            .collect()
    };
    let base = format!("/apis/argoproj.io/v1alpha1/namespaces/{NS}/rollouts/web");
    assert_eq!(
        sent(0),
        [
            (
                format!("{base}/status"),
                r#"{"metadata":null,"status":{"pauseConditions":null}}"#.to_string()
            ),
            (
                base.clone(),
                r#"{"metadata":null,"spec":{"paused":false},"status":{"pauseConditions":null}}"#
                    .to_string()
            ),
        ]
    );
    assert_eq!(
        sent(1),
        [
            (
                format!("{base}/status"),
                r#"{"metadata":null,"status":{"abort":true}}"#.to_string()
            ),
            (
                base,
                r#"{"metadata":null,"status":{"abort":true}}"#.to_string()
            ),
        ]
    );
    assert!(records.iter().all(|r| r["outcome"] == "ok"), "{records:?}");
}

impl Client {
    /// The plan the Rollouts pane makes for `action` on Deployment `api`, once kdeck's store
    /// holds the server's current version of it.
    fn plan_deployment(&self, f: &Fixture, action: &str) -> Result<ActionPlan, String> {
        let server_rv = kubectl_deployment(f)["metadata"]["resourceVersion"].clone();
        let deadline = Instant::now() + WAIT;
        let deployment = loop {
            let d = self.handle.sources.get::<Deployment>(NS, "api");
            if let Some(d) = d
                && d.metadata.resource_version.as_deref() == server_rv.as_str()
            {
                break d;
            }
            assert!(Instant::now() < deadline, "kdeck's store never caught up");
            std::thread::sleep(Duration::from_millis(100));
        };
        let rss = self.handle.sources.objects::<ReplicaSet>();
        let rs_refs: Vec<&ReplicaSet> = rss.iter().filter_map(|g| g.0.as_ref().ok()).collect();
        let rows = crate::helpers::rollout_rows(
            "demo-us-east",
            &Objects {
                deployments: &[&deployment],
                replica_sets: &rs_refs,
                ..Objects::default()
            },
            chrono::Utc::now(),
        );
        let call = ActionCall {
            name: action.into(),
            args: Vec::new(),
        };
        match plan(&call, &rows[0], &self.handle) {
            Reply::Plan(p) => Ok(*p),
            Reply::Warn(w) | Reply::Info(w) => Err(w),
            other => Err(format!("{other:?}")),
        }
    }
}

fn image_of(d: &Value) -> &str {
    d.pointer("/spec/template/spec/containers/0/image")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn revision_of(d: &Value) -> &str {
    d.pointer("/metadata/annotations/deployment.kubernetes.io~1revision")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Deployments get kubectl's verbs (`rollout undo|pause|resume|restart`): kdeck sends them,
/// the simulated Deployment controller acts, and kubectl shows the result.
#[test]
fn deployment_rollback_pause_resume_restart_reach_the_controller() {
    let f = Fixture::start();
    let c = Client::connect(&f);
    let audit = f.dir.path().join("audit.log");
    let (exec, mut rx) = c.executor(ExecOptions::default(), &audit);
    let deployments = kdeck_demo::api::registry::find("apps", "deployments").unwrap();
    f.store()
        .create(
            deployments,
            NS,
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "api", "namespace": NS},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": {"app": "api"}},
                    "template": {
                        "metadata": {"labels": {"app": "api"}},
                        "spec": {"containers": [{"name": "api", "image": "registry.example.com/api:1.0.0"}]}
                    }
                }
            }),
            false,
        )
        .unwrap();
    wait_deployment(&f, "revision 1 available", |d| {
        revision_of(d) == "1" && d.pointer("/status/availableReplicas") == Some(&json!(2))
    });
    kubectl_ok(
        &f,
        &[
            "set",
            "image",
            "deploy/api",
            "-n",
            NS,
            "api=registry.example.com/api:2.0.0",
        ],
    );
    wait_deployment(&f, "revision 2 rolled out", |d| {
        revision_of(d) == "2"
            && d.pointer("/status/updatedReplicas") == Some(&json!(2))
            && d.pointer("/status/availableReplicas") == Some(&json!(2))
    });

    // Rollback: the pod template of revision 1 comes back as revision 3.
    let p = c.plan_deployment(&f, "rollback").unwrap();
    let o = run(&f, &exec, &mut rx, p);
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    let d = wait_deployment(&f, "the rollback", |d| revision_of(d) == "3");
    assert_eq!(image_of(&d), "registry.example.com/api:1.0.0");
    let history = kubectl_ok(&f, &["rollout", "history", "deploy/api", "-n", NS]);
    let revisions: Vec<&str> = history
        .lines()
        .skip_while(|l| !l.starts_with("REVISION"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    // Revision 1 became 3: its ReplicaSet is the one scaled back up.
    assert_eq!(revisions, ["2", "3"], "{history}");

    // Pause, then resume: spec.paused as `kubectl rollout pause|resume` set it.
    let o = run(&f, &exec, &mut rx, c.plan_deployment(&f, "pause").unwrap());
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    wait_deployment(&f, "paused", |d| {
        d.pointer("/spec/paused") == Some(&json!(true))
    });
    let o = run(&f, &exec, &mut rx, c.plan_deployment(&f, "resume").unwrap());
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    wait_deployment(&f, "resumed", |d| {
        d.pointer("/spec/paused") != Some(&json!(true))
    });

    // Restart: a restartedAt annotation on the pod template, so new pods roll out.
    let o = run(
        &f,
        &exec,
        &mut rx,
        c.plan_deployment(&f, "restart").unwrap(),
    );
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    let d = wait_deployment(&f, "a restart rolled out", |d| {
        revision_of(d) == "4" && d.pointer("/status/updatedReplicas") == Some(&json!(2))
    });
    assert!(
        d.pointer("/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt")
            .and_then(Value::as_str)
            .is_some_and(|t| t.ends_with('Z')),
        "{d:#}"
    );
    assert_eq!(image_of(&d), "registry.example.com/api:1.0.0");

    let actions: Vec<String> = crate::helpers::audit_outcomes(&audit)
        .into_iter()
        .map(|v| {
            format!(
                "{} {}",
                v["action"].as_str().unwrap(),
                v["outcome"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        actions,
        ["rollback ok", "pause ok", "resume ok", "restart ok"]
    );
}

/// The rest of a Rollout's keys, each sent by the executor and acted on by the simulated
/// controller: pause holds the canary, resume lets it go on, restart has the controller
/// replace the pods (and record when), promote-full skips the remaining steps.
#[test]
fn rollout_pause_resume_restart_promote_full_reach_the_controller() {
    let f = Fixture::start();
    let c = Client::connect(&f);
    let audit = f.dir.path().join("audit.log");
    let (exec, mut rx) = c.executor(ExecOptions::default(), &audit);

    let o = run(&f, &exec, &mut rx, c.plan(&f, "pause", &[]).unwrap());
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    wait_kubectl(&f, "spec.paused", |r| {
        r.pointer("/spec/paused") == Some(&json!(true))
    });

    let o = run(&f, &exec, &mut rx, c.plan(&f, "resume", &[]).unwrap());
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    wait_kubectl(&f, "spec.paused cleared", |r| {
        r.pointer("/spec/paused") != Some(&json!(true))
    });

    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let p = c.plan(&f, "restart", &[]).unwrap();
    assert!(
        p.request_lines()[0].contains("restartAt"),
        "{:?}",
        p.request_lines()
    );
    let o = run(&f, &exec, &mut rx, p);
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    let r = wait_kubectl(&f, "the controller's restartedAt", |r| {
        r.pointer("/status/restartedAt")
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|t| t >= before)
    });
    assert!(r.pointer("/spec/restartAt").is_some(), "{r:#}");

    // Still at the first pause (step 1 of 4): promote-full goes straight to Healthy on the
    // new template, with no step in between.
    assert_eq!(step(&kubectl_rollout(&f)), Some(1));
    let o = run(&f, &exec, &mut rx, c.plan(&f, "promote-full", &[]).unwrap());
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    let r = wait_kubectl(&f, "fully promoted", |r| {
        r.pointer("/status/phase") == Some(&json!("Healthy"))
    });
    assert_eq!(step(&r), Some(4));
    assert_eq!(
        r.pointer("/status/stableRS"),
        r.pointer("/status/currentPodHash")
    );
    assert_eq!(image(&r), "registry.example.com/web:1.1.0");

    let actions: Vec<String> = crate::helpers::audit_outcomes(&audit)
        .into_iter()
        .filter(|v| v["outcome"] == "ok")
        .map(|v| v["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions, ["pause", "resume", "restart", "promote-full"]);
}
