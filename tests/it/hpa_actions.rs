//! The HPA pane's actions through kdeck's real path against the demo cluster: the pane's plan
//! from the watched stores, the executor (RBAC, checks, resourceVersion precondition, audit,
//! read-only), HTTP to the simulated API server, and the simulated HPA controller (and KEDA)
//! reacting. `kubectl get` afterwards is the verdict.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kdeck::cluster::ClusterHandle;
use kdeck::exec::audit::AuditLog;
use kdeck::exec::{ActionPlan, ExecEvent, ExecOptions, Executor, Outcome, OutcomeKind};
use kdeck::k8s::apps::{Deployment, StatefulSet};
use kdeck::k8s::autoscaling::{HorizontalPodAutoscaler, ScaledObject};
use kdeck::k8s::rollout::Rollout;
use kdeck::keymap::ActionCall;
use kdeck::panes::Reply;
use kdeck::panes::hpa::history::History;
use kdeck::panes::hpa::model::{HpaRow, Objects, build_rows};
use kdeck::panes::hpa::plan::plan;
use kdeck::panes::kit::RowCache;
use kdeck::source::Watched;
use kdeck::world::World;
use kdeck_demo::{Demo, DemoConfig, SimOptions};
use serde_json::Value;
use tokio::sync::mpsc::Receiver;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(60);
const CONTEXT: &str = "demo-us-east";

/// A demo cluster (the first, with KEDA) at real speed, and kdeck watching it.
struct Fixture {
    rt: tokio::runtime::Runtime,
    demo: Demo,
    dir: tempfile::TempDir,
    handle: Arc<ClusterHandle>,
    world: Arc<World>,
    cancel: CancellationToken,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn objects<K: Watched>(h: &ClusterHandle) -> Vec<K> {
    h.sources
        .objects::<K>()
        .iter()
        .filter_map(|g| g.0.as_ref().ok().cloned())
        .collect()
}

impl Fixture {
    fn start() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let demo = rt
            .block_on(Demo::start(DemoConfig {
                clusters: 1,
                base_port: 0,
                options: SimOptions {
                    seed: 7,
                    speed: 1.0,
                    scale: 0,
                },
                kubeconfig_out: dir.path().join("kubeconfig"),
            }))
            .unwrap();
        let (handle, world, cancel) = rt.block_on(async {
            let (handle, world, cancel) =
                crate::helpers::demo_handle(&dir.path().join("kubeconfig"), CONTEXT, "").await;
            handle.sources.start_kind::<HorizontalPodAutoscaler>();
            handle.sources.start_kind::<Deployment>();
            handle.sources.start_kind::<StatefulSet>();
            handle.sources.start_kind::<Rollout>();
            handle.sources.start_kind::<ScaledObject>();
            (handle, world, cancel)
        });
        Self {
            rt,
            demo,
            dir,
            handle,
            world,
            cancel,
        }
    }

    fn executor(&self, options: ExecOptions) -> (Arc<Executor>, Receiver<ExecEvent>) {
        Executor::new(
            self.world.clone(),
            options,
            AuditLog::new(&self.dir.path().join("audit.log")),
        )
    }

    fn try_kubectl(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .args(args)
            .env("KUBECACHEDIR", self.dir.path().join("kube-cache"))
            .output()
            .expect("kubectl");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn kubectl(&self, args: &[&str]) -> String {
        self.try_kubectl(args)
            .unwrap_or_else(|e| panic!("kubectl {args:?}: {e}"))
    }

    fn get(&self, object: &str, ns: &str) -> Value {
        serde_json::from_str(&self.kubectl(&["get", object, "-n", ns, "-o", "json"])).unwrap()
    }

    /// Waits until `kubectl get` shows the object (it may not exist yet) as `pred` wants.
    fn wait_get(&self, object: &str, ns: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self
                .try_kubectl(&["get", object, "-n", ns, "-o", "json"])
                .map_or(Value::Null, |t| serde_json::from_str(&t).unwrap());
            if pred(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "kubectl never showed {what}: {v:#}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The pane's rows once kdeck's stores are live and hold `name` as the server has it.
    fn row(&self, ns: &str, name: &str, resource: &str) -> Arc<HpaRow> {
        let deadline = Instant::now() + WAIT;
        loop {
            let server_rv =
                self.get(&format!("{resource}/{name}"), ns)["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .to_string();
            let h = &self.handle;
            let hpas: Vec<HorizontalPodAutoscaler> = objects(h);
            let deployments: Vec<Deployment> = objects(h);
            let sts: Vec<StatefulSet> = objects(h);
            let scaled: Vec<ScaledObject> = objects(h);
            let (hr, dr): (Vec<_>, Vec<_>) = (hpas.iter().collect(), deployments.iter().collect());
            let (sr, kr): (Vec<_>, Vec<_>) = (sts.iter().collect(), scaled.iter().collect());
            let rows = build_rows(
                CONTEXT,
                "us-east",
                &Objects {
                    hpas: &hr,
                    deployments: &dr,
                    statefulsets: &sr,
                    scaled_objects: &kr,
                    ..Objects::default()
                },
                chrono::Utc::now(),
                &mut History::default(),
                &mut RowCache::default(),
            );
            let live = h.sources.state::<HorizontalPodAutoscaler>().is_live()
                && h.sources.state::<ScaledObject>().is_live();
            if let Some((row, _)) = rows
                .into_iter()
                .find(|(r, _)| r.namespace == ns && r.name == name)
                && live
                && row.resource_version.as_deref() == Some(server_rv.as_str())
            {
                return row;
            }
            assert!(Instant::now() < deadline, "kdeck never saw {ns}/{name}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn plan(&self, row: &HpaRow, action: &str, args: &[&str]) -> Result<ActionPlan, String> {
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

    fn run(&self, exec: &Arc<Executor>, rx: &mut Receiver<ExecEvent>, plan: ActionPlan) -> Outcome {
        crate::helpers::execute(&self.rt, exec, rx, plan)
    }

    /// The audit log's outcome lines.
    fn audit(&self) -> Vec<Value> {
        crate::helpers::audit_outcomes(&self.dir.path().join("audit.log"))
    }
}

fn i(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(-1)
}

#[test]
fn set_min_max_reaches_the_server_and_the_hpa_scales_into_the_room() {
    let f = Fixture::start();
    let (exec, mut rx) = f.executor(ExecOptions::default());
    let row = f.row("search", "indexer", "hpa");
    // Validation happens before any plan.
    let err = f.plan(&row, "set-min-max", &["4", "2"]).unwrap_err();
    assert!(err.contains("1 ≤ min ≤ max"), "{err}");
    // Without arguments the pane asks for both numbers.
    let call = ActionCall::named("set-min-max");
    let Reply::Prompt(p) = plan(&call, &row, &f.handle) else {
        panic!("no prompt");
    };
    assert_eq!(p.initial, "2 3");
    let p = f.plan(&row, "set-min-max", &["2", "8"]).unwrap();
    assert_eq!(
        p.request_lines(),
        [
            "PATCH /apis/autoscaling/v2/namespaces/search/horizontalpodautoscalers/indexer (merge) \
             {\"spec\":{\"maxReplicas\":8,\"minReplicas\":2}}"
        ]
    );
    assert_eq!(p.checks_text(), "minReplicas 2, maxReplicas 3");
    // The indexer's load (about 330% of a pod at a 70% target) wants 5 or 6.
    assert!(p.summary.contains("to min 2 max 8"), "{}", p.summary);
    let o = f.run(&exec, &mut rx, p);
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    let hpa = f.get("hpa/indexer", "search");
    assert_eq!(
        (i(&hpa, "/spec/minReplicas"), i(&hpa, "/spec/maxReplicas")),
        (2, 8)
    );
    f.wait_get(
        "statefulset/indexer",
        "search",
        "the HPA scaling into the room",
        |s| i(s, "/spec/replicas") >= 5,
    );
    let audit = f.audit();
    assert_eq!(audit.last().unwrap()["action"], "set-min-max");
    assert_eq!(audit.last().unwrap()["outcome"], "ok");
}

#[test]
fn scale_puts_the_scale_subresource_and_the_hpa_takes_it_back() {
    let f = Fixture::start();
    let (exec, mut rx) = f.executor(ExecOptions::default());
    let row = f.row("search", "indexer", "hpa");
    let call = ActionCall::named("scale");
    let Reply::Prompt(prompt) = plan(&call, &row, &f.handle) else {
        panic!("no prompt");
    };
    assert_eq!(prompt.label, "replicas for sts search/indexer (now 3)");
    let p = f.plan(&row, "scale", &["5"]).unwrap();
    assert_eq!(
        p.request_lines(),
        [
            "PUT /apis/apps/v1/namespaces/search/statefulsets/indexer/scale {\"apiVersion\":\
             \"autoscaling/v1\",\"kind\":\"Scale\",\"metadata\":{\"name\":\"indexer\",\
             \"namespace\":\"search\"},\"spec\":{\"replicas\":5}}"
        ]
    );
    assert_eq!(p.checks_text(), "replicas 3");
    assert!(
        p.summary.contains(
            "HPA indexer manages it (min 2 max 3): it will set it back to 3 on its next sync"
        ),
        "{}",
        p.summary
    );
    assert!(p.summary.contains("set-min-max"), "{}", p.summary);
    let o = f.run(&exec, &mut rx, p);
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    // The PUT carried the resourceVersion of the read the check was made on.
    let audit = f.audit();
    let sent = &audit.last().unwrap()["requests"][0];
    assert_eq!(sent["method"], "PUT");
    assert!(sent["body"]["metadata"]["resourceVersion"].is_string());
    // The controller's next sync takes it back to max, and says why.
    f.wait_get("statefulset/indexer", "search", "back at 3", |s| {
        i(s, "/spec/replicas") == 3
    });
    let events = f.kubectl(&["get", "events", "-n", "search", "-o", "json"]);
    assert!(
        events.contains("New size: 3; reason: Current number of replicas above Spec.MaxReplicas"),
        "no rescale event"
    );
}

#[test]
fn a_changed_object_is_refused_and_readonly_sends_nothing() {
    let f = Fixture::start();
    let (exec, mut rx) = f.executor(ExecOptions::default());
    // payments/ledger's HPA cannot read its metric, so nothing else scales the Deployment.
    let row = f.row("payments", "ledger", "hpa");
    let p = f.plan(&row, "scale", &["5"]).unwrap();
    f.kubectl(&[
        "scale",
        "deployment",
        "ledger",
        "-n",
        "payments",
        "--replicas=3",
    ]);
    let o = f.run(&exec, &mut rx, p);
    assert_eq!(o.kind, OutcomeKind::Conflict, "{o:?}");
    assert!(
        o.message
            .contains("replicas changed since it was shown (2 → 3)"),
        "{o:?}"
    );
    assert_eq!(
        i(&f.get("deployment/ledger", "payments"), "/spec/replicas"),
        3
    );
    // The same for min/max changed by someone else.
    let row = f.row("payments", "ledger", "hpa");
    let p = f.plan(&row, "set-min-max", &["2", "9"]).unwrap();
    f.kubectl(&[
        "patch",
        "hpa",
        "ledger",
        "-n",
        "payments",
        "--type",
        "merge",
        "-p",
        "{\"spec\":{\"maxReplicas\":7}}",
    ]);
    let o = f.run(&exec, &mut rx, p);
    assert_eq!(o.kind, OutcomeKind::Conflict, "{o:?}");
    assert!(
        o.message
            .contains("maxReplicas changed since it was shown (6 → 7)"),
        "{o:?}"
    );
    assert_eq!(i(&f.get("hpa/ledger", "payments"), "/spec/maxReplicas"), 7);
    // Read-only: the executor refuses before a single request leaves.
    let (ro, mut ro_rx) = f.executor(ExecOptions {
        readonly: true,
        ..ExecOptions::default()
    });
    let row = f.row("payments", "ledger", "hpa");
    let p = f.plan(&row, "scale", &["6"]).unwrap();
    let before = f.demo.clusters()[0].faults.stats().requests;
    let o = f.run(&ro, &mut ro_rx, p);
    assert_eq!(o.kind, OutcomeKind::Refused, "{o:?}");
    assert_eq!(f.demo.clusters()[0].faults.stats().requests, before);
    assert_eq!(
        i(&f.get("deployment/ledger", "payments"), "/spec/replicas"),
        3
    );
    let outcomes: Vec<String> = f
        .audit()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outcomes, ["conflict", "conflict", "refused"]);
}

#[test]
fn keda_pause_and_resume_through_the_annotation() {
    let f = Fixture::start();
    let (exec, mut rx) = f.executor(ExecOptions::default());
    let row = f.row("shop", "keda-hpa-orders-worker", "hpa");
    assert_eq!(row.keda, Some(("orders-worker".to_string(), false)));
    let err = f.plan(&row, "set-min-max", &["1", "20"]).unwrap_err();
    assert!(err.contains("KEDA sets this HPA's min/max"), "{err}");
    let p = f.plan(&row, "pause", &[]).unwrap();
    assert_eq!(
        p.request_lines(),
        [
            "PATCH /apis/keda.sh/v1alpha1/namespaces/shop/scaledobjects/orders-worker (merge) \
             {\"metadata\":{\"annotations\":{\"autoscaling.keda.sh/paused\":\"true\"}}}"
        ]
    );
    let o = f.run(&exec, &mut rx, p);
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    let so = f.wait_get("scaledobject/orders-worker", "shop", "paused", |so| {
        so["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["reason"] == "ScaledObjectPaused"))
    });
    assert_eq!(
        so["metadata"]["annotations"]["autoscaling.keda.sh/paused"],
        "true"
    );
    let hpas = f.kubectl(&["get", "hpa", "-n", "shop", "-o", "name"]);
    assert!(!hpas.contains("keda-hpa-orders-worker"), "{hpas}");
    // With its HPA gone, the ScaledObject is the row to resume from.
    let row = f.row("shop", "orders-worker", "scaledobject");
    let p = f.plan(&row, "resume", &[]).unwrap();
    assert!(p.request_lines()[0].contains("{\"autoscaling.keda.sh/paused\":null}"));
    let o = f.run(&exec, &mut rx, p);
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    f.wait_get("hpa/keda-hpa-orders-worker", "shop", "the HPA back", |h| {
        h["metadata"]["ownerReferences"][0]["kind"] == "ScaledObject"
    });
}

#[test]
fn the_rollouts_pane_scales_deployments_and_says_when_an_hpa_will_undo_it() {
    use kdeck::panes::rollouts::model::Objects as RolloutObjects;
    let f = Fixture::start();
    let (exec, mut rx) = f.executor(ExecOptions::default());
    f.row("shop", "frontend", "hpa");
    let deployments: Vec<Deployment> = objects(&f.handle);
    let refs: Vec<&Deployment> = deployments.iter().collect();
    let rows = crate::helpers::rollout_rows(
        CONTEXT,
        &RolloutObjects {
            deployments: &refs,
            ..RolloutObjects::default()
        },
        chrono::Utc::now(),
    );
    let row = |name: &str| rows.iter().find(|r| r.name == name).unwrap().clone();
    let call = |args: &[&str]| ActionCall {
        name: "scale".into(),
        args: args.iter().map(|a| (*a).to_string()).collect(),
    };
    let plan_of = |name: &str, args: &[&str]| match kdeck::panes::rollouts::plan::plan(
        &call(args),
        &row(name),
        &f.handle,
    ) {
        Reply::Plan(p) => *p,
        other => panic!("{other:?}"),
    };
    let managed = plan_of("frontend", &["7"]);
    assert!(
        managed
            .summary
            .contains("HPA frontend manages it (min 2 max 10)"),
        "{}",
        managed.summary
    );
    // coredns has no HPA: nothing to warn about, and the count sticks.
    let p = plan_of("coredns", &["4"]);
    assert!(!p.summary.contains("HPA"), "{}", p.summary);
    assert!(
        p.request_lines()[0]
            .starts_with("PUT /apis/apps/v1/namespaces/kube-system/deployments/coredns/scale")
    );
    let o = f.run(&exec, &mut rx, p);
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    assert_eq!(
        i(
            &f.get("deployment/coredns", "kube-system"),
            "/spec/replicas"
        ),
        4
    );
}
