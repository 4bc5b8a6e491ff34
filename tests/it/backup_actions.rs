//! The Backups pane's actions through kdeck's real path against the demo cluster: the pane's
//! rows are built from the watched stores, its plan builder makes the plan, the executor
//! checks RBAC and read-only, reads the Schedule and sends the requests over HTTP, and the
//! simulated Velero controllers react. What `kubectl get ... -o json` shows is the verdict.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kdeck::cluster::ClusterHandle;
use kdeck::exec::audit::AuditLog;
use kdeck::exec::{ActionPlan, ExecEvent, ExecOptions, Executor, Outcome, OutcomeKind};
use kdeck::k8s::velero::{Backup, Schedule};
use kdeck::keymap::ActionCall;
use kdeck::panes::Reply;
use kdeck::panes::backups::actions::plan;
use kdeck::panes::backups::model::{Objects, RowInputs, build_rows};
use kdeck::panes::backups::prom::PromAnswer;
use kdeck::panes::kit::RowCache;
use kdeck::world::World;
use kdeck_demo::{Demo, DemoConfig, SimOptions};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(60);
const CTX: &str = "demo-us-east";

/// A demo (its own runtime) and kdeck's side of it: a watched cluster and a world.
struct Bench {
    rt: tokio::runtime::Runtime,
    demo: Option<Demo>,
    dir: tempfile::TempDir,
    handle: Arc<ClusterHandle>,
    world: Arc<World>,
    cancel: CancellationToken,
}

impl Bench {
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
                    speed: 4.0,
                    scale: 0,
                },
                kubeconfig_out: dir.path().join("kubeconfig"),
            }))
            .unwrap();
        let kc_path = dir.path().join("kubeconfig");
        let (handle, world, cancel) = rt.block_on(async {
            let (handle, world, cancel) = crate::helpers::demo_handle(&kc_path, CTX, "").await;
            handle.sources.start_kind::<Schedule>();
            handle.sources.start_kind::<Backup>();
            (handle, world, cancel)
        });
        Self {
            rt,
            demo: Some(demo),
            dir,
            handle,
            world,
            cancel,
        }
    }

    fn kubeconfig(&self) -> String {
        self.dir.path().join("kubeconfig").display().to_string()
    }

    fn executor(
        &self,
        options: ExecOptions,
    ) -> (Arc<Executor>, tokio::sync::mpsc::Receiver<ExecEvent>) {
        Executor::new(
            self.world.clone(),
            options,
            AuditLog::new(&self.dir.path().join("audit.log")),
        )
    }

    fn writes(&self) -> u64 {
        self.demo.as_ref().unwrap().clusters()[0]
            .faults
            .stats()
            .writes
    }

    /// `kubectl get ARGS -o json` against the demo.
    fn kubectl_json(&self, args: &[&str]) -> Value {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .arg("get")
            .args(args)
            .args(["-n", "velero", "-o", "json"])
            .env("KUBECACHEDIR", self.dir.path().join("kube-cache"))
            .output()
            .expect("kubectl");
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn kubectl_schedule(&self, name: &str) -> Value {
        self.kubectl_json(&["schedules.velero.io", name])
    }

    /// Waits until kdeck's store holds `name` at the server's resourceVersion, live.
    fn synced(&self, name: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let server = self.kubectl_schedule(name)["metadata"]["resourceVersion"].clone();
            let local = self
                .handle
                .sources
                .get::<Schedule>("velero", name)
                .and_then(|s| s.metadata.resource_version);
            if local.as_deref() == server.as_str()
                && self.handle.sources.state::<Schedule>().is_live()
            {
                return;
            }
            assert!(Instant::now() < deadline, "kdeck's store never caught up");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The plan the Backups pane makes for `action` on schedule `name`'s row.
    fn plan(&self, action: &str, name: &str) -> Result<ActionPlan, String> {
        self.synced(name);
        let s = &self.handle.sources;
        let (schedules, backups) = (s.objects::<Schedule>(), s.objects::<Backup>());
        let schedules: Vec<&Schedule> =
            schedules.iter().filter_map(|g| g.0.as_ref().ok()).collect();
        let backups: Vec<&Backup> = backups.iter().filter_map(|g| g.0.as_ref().ok()).collect();
        let rows = build_rows(
            &Objects {
                schedules: &schedules,
                backups: &backups,
                ..Objects::default()
            },
            &RowInputs {
                cluster: CTX,
                short: "us-east",
                now: chrono::Utc::now(),
                grace: kdeck::config::Grace::default(),
                prom: &PromAnswer::None,
                backups_known: true,
            },
            &mut RowCache::default(),
        );
        let (row, _) = rows
            .iter()
            .find(|(r, _)| r.name == name && r.kind.as_str() == "schedule")
            .unwrap();
        let call = ActionCall {
            name: action.into(),
            args: Vec::new(),
        };
        match plan(&call, row, &self.handle) {
            Reply::Plan(p) => Ok(*p),
            Reply::Warn(w) | Reply::Info(w) => Err(w),
            other => Err(format!("{other:?}")),
        }
    }

    fn run(
        &self,
        exec: &Arc<Executor>,
        rx: &mut tokio::sync::mpsc::Receiver<ExecEvent>,
        plan: ActionPlan,
    ) -> Outcome {
        crate::helpers::execute(&self.rt, exec, rx, plan)
    }

    fn wait_backup(&self, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let b = self.kubectl_json(&["backups.velero.io", name]);
            if pred(&b) {
                return b;
            }
            assert!(Instant::now() < deadline, "never {what}: {b:#}");
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        self.cancel.cancel();
        if let Some(d) = self.demo.take() {
            self.rt.block_on(d.shutdown());
        }
    }
}

/// The name the executor reports having created.
fn created_name(o: &Outcome) -> String {
    let (_, rest) = o
        .message
        .split_once("created Backup velero/")
        .unwrap_or_else(|| panic!("no created backup in {o:?}"));
    rest.split_whitespace().next().unwrap().to_string()
}

#[test]
fn backup_now_creates_what_velero_backup_create_from_schedule_creates() {
    let b = Bench::start();
    let (exec, mut rx) = b.executor(ExecOptions::default());

    let p = b.plan("backup-now", "shop-config-5m").unwrap();
    assert_eq!(p.checks_text(), "the object's identity");
    assert!(
        p.request_lines()[0].starts_with("POST /apis/velero.io/v1/namespaces/velero/backups"),
        "{:?}",
        p.request_lines()
    );
    let sent_at = chrono::Utc::now();
    let o = b.run(&exec, &mut rx, p);
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    let name = created_name(&o);
    // `<schedule>-<UTC yyyymmddhhmmss>`, stamped when it was sent.
    let stamp = name.strip_prefix("shop-config-5m-").unwrap();
    let at = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M%S")
        .unwrap()
        .and_utc();
    assert!(
        (at - sent_at).num_seconds().abs() <= 5,
        "{name} vs {sent_at}"
    );

    let schedule = b.kubectl_schedule("shop-config-5m");
    let backup = b.kubectl_json(&["backups.velero.io", &name]);
    // Spec: the template. Labels: the schedule's (its template sets none) plus the schedule
    // name. No owner reference: the schedule does not ask for one.
    assert_eq!(backup["spec"], schedule["spec"]["template"]);
    assert_eq!(
        backup["metadata"]["labels"]["velero.io/schedule-name"],
        "shop-config-5m"
    );
    assert_eq!(
        backup["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "velero-helm"
    );
    assert!(backup["metadata"].get("ownerReferences").is_none());
    // The simulated Velero runs it to completion.
    let done = b.wait_backup(&name, "Completed", |v| v["status"]["phase"] == "Completed");
    assert_eq!(
        done["status"]["progress"]["itemsBackedUp"],
        done["status"]["progress"]["totalItems"]
    );

    // A schedule that asks for owner references, with its own template labels and
    // annotations: the backup gets the template's labels (not the schedule's), the
    // annotations, and an owner reference to the schedule.
    let out = Command::new("kubectl")
        .args([
            "--kubeconfig",
            &b.kubeconfig(),
            "patch",
            "schedules.velero.io",
            "cluster-daily",
        ])
        .args(["-n", "velero", "--type", "merge", "-p"])
        .arg(
            json!({
                "metadata": {"annotations": {"team": "platform"}},
                "spec": {"useOwnerReferencesInBackup": true,
                         "template": {"metadata": {"labels": {"tier": "gold"}}}}
            })
            .to_string(),
        )
        .env("KUBECACHEDIR", b.dir.path().join("kube-cache"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let o = b.run(
        &exec,
        &mut rx,
        b.plan("backup-now", "cluster-daily").unwrap(),
    );
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    let schedule = b.kubectl_schedule("cluster-daily");
    let backup = b.kubectl_json(&["backups.velero.io", &created_name(&o)]);
    // (The Velero server adds `velero.io/storage-location` once it takes the backup.)
    let labels = backup["metadata"]["labels"].as_object().unwrap();
    assert_eq!(labels["tier"], "gold");
    assert_eq!(labels["velero.io/schedule-name"], "cluster-daily");
    assert!(
        !labels.contains_key("app.kubernetes.io/managed-by"),
        "{labels:?}"
    );
    assert_eq!(backup["metadata"]["annotations"]["team"], "platform");
    assert_eq!(
        backup["metadata"]["ownerReferences"],
        json!([{"apiVersion": "velero.io/v1", "kind": "Schedule", "name": "cluster-daily",
                "uid": schedule["metadata"]["uid"], "controller": true}])
    );
    assert_eq!(backup["spec"], schedule["spec"]["template"]);

    let lines = crate::helpers::audit_outcomes(&b.dir.path().join("audit.log"));
    assert_eq!(lines.len(), 2);
    assert!(
        lines
            .iter()
            .all(|l| l["action"] == "backup-now" && l["outcome"] == "ok")
    );
    assert_eq!(lines[0]["requests"][0]["method"], "POST");
    // Exactly what was sent for the second one.
    let sent = &lines[1]["requests"][0]["body"];
    assert_eq!(
        sent["metadata"]["labels"],
        json!({"tier": "gold", "velero.io/schedule-name": "cluster-daily"})
    );
    assert_eq!(sent["metadata"]["namespace"], "velero");
    assert_eq!(
        (sent["apiVersion"].as_str(), sent["kind"].as_str()),
        (Some("velero.io/v1"), Some("Backup"))
    );
}

#[test]
fn pause_and_resume_flip_spec_paused_and_readonly_sends_nothing() {
    let b = Bench::start();
    let (exec, mut rx) = b.executor(ExecOptions::default());
    assert_eq!(b.kubectl_schedule("apps-hourly")["spec"]["paused"], false);

    let p = b.plan("pause", "apps-hourly").unwrap();
    assert_eq!(
        p.request_lines(),
        vec![
            "PATCH /apis/velero.io/v1/namespaces/velero/schedules/apps-hourly (merge) \
             {\"spec\":{\"paused\":true}}"
                .to_string()
        ]
    );
    let o = b.run(&exec, &mut rx, p);
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    assert_eq!(b.kubectl_schedule("apps-hourly")["spec"]["paused"], true);
    // Pausing again: the CLI skips a schedule already paused; so does the pane.
    let again = b.plan("pause", "apps-hourly").unwrap_err();
    assert!(again.contains("already paused"), "{again}");

    let o = b.run(&exec, &mut rx, b.plan("resume", "apps-hourly").unwrap());
    assert_eq!(o.kind, OutcomeKind::Ok, "{o:?}");
    assert_eq!(b.kubectl_schedule("apps-hourly")["spec"]["paused"], false);

    // Read-only: refused in the executor; the API server received no write at all.
    let (ro, mut ro_rx) = b.executor(ExecOptions {
        readonly: true,
        ..ExecOptions::default()
    });
    let writes = b.writes();
    for (action, schedule) in [("backup-now", "shop-config-5m"), ("pause", "apps-hourly")] {
        let o = b.run(&ro, &mut ro_rx, b.plan(action, schedule).unwrap());
        assert_eq!(o.kind, OutcomeKind::Refused, "{o:?}");
        assert!(o.message.contains("read-only"), "{o:?}");
    }
    assert_eq!(b.writes(), writes, "a write reached the API server");
    assert_eq!(b.kubectl_schedule("apps-hourly")["spec"]["paused"], false);
}
