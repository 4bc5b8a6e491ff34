//! A demo cluster in this process for the Drift pane's tests: one cluster (`demo-us-east`)
//! whose simulated Argo CD controller runs the operations kdeck writes, and kdeck's side of
//! it (a watched cluster and an executor) for the action tests.

#![allow(dead_code)]

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kdeck::cluster::ClusterHandle;
use kdeck::exec::audit::AuditLog;
use kdeck::exec::{ActionPlan, ExecEvent, ExecOptions, Executor, Outcome};
use kdeck::k8s::argocd::{AppProject, Application};
use kdeck::keymap::ActionCall;
use kdeck::panes::Reply;
use kdeck::panes::drift::model::DriftRow;
use kdeck::panes::drift::plan::plan_action;
use kdeck::panes::drift::rows::{Objects, Place, build_rows};
use kdeck::panes::kit::{RowCache, WatchedContext};
use kdeck::world::World;
use kdeck_demo::{Demo, DemoConfig, SimOptions};
use serde_json::Value;
use tokio::sync::mpsc::Receiver;
use tokio_util::sync::CancellationToken;

use crate::tmux::{Tmux, kdeck_bin, shell_quote};

pub const WAIT: Duration = Duration::from_secs(90);
pub const CONTEXT: &str = "demo-us-east";
pub const USER: &str = "demo-admin";

/// A one-cluster demo on its own runtime.
pub struct DriftDemo {
    pub rt: tokio::runtime::Runtime,
    pub demo: Option<Demo>,
    pub dir: tempfile::TempDir,
}

impl DriftDemo {
    pub fn start() -> Self {
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
        Self {
            rt,
            demo: Some(demo),
            dir,
        }
    }

    pub fn kubeconfig(&self) -> String {
        self.dir.path().join("kubeconfig").display().to_string()
    }

    pub fn config_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("cfg")
    }

    pub fn cluster(&self) -> &kdeck_demo::DemoCluster {
        &self.demo.as_ref().unwrap().clusters()[0]
    }

    /// `kubectl …` against the demo; panics with its stderr on failure.
    pub fn kubectl(&self, args: &[&str]) -> String {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args)
            .env("KUBECACHEDIR", self.dir.path().join("kube-cache"))
            .output()
            .expect("kubectl");
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// What `kubectl get application NAME -n argocd -o json` prints.
    pub fn app(&self, name: &str) -> Value {
        serde_json::from_str(&self.kubectl(&[
            "get",
            "application",
            name,
            "-n",
            "argocd",
            "-o",
            "json",
        ]))
        .unwrap()
    }

    /// Polls `kubectl get application` until `pred` holds.
    pub fn wait_app(&self, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let a = self.app(name);
            if pred(&a) {
                return a;
            }
            assert!(
                Instant::now() < deadline,
                "kubectl never showed {what}: {a:#}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn tmux(&self, args: &str) -> Tmux {
        let cmd = format!(
            "{} --kubeconfig {} {args}",
            shell_quote(&kdeck_bin().display().to_string()),
            shell_quote(&self.kubeconfig())
        );
        let cfg = self.config_dir();
        Tmux::start(&cmd, 120, 40, &[("KDECK_CONFIG", cfg.to_str().unwrap())])
    }

    /// The audit log's outcome lines.
    pub fn audit(&self) -> Vec<Value> {
        crate::helpers::audit_outcomes(&self.config_dir().join("state").join("audit.log"))
    }
}

impl Drop for DriftDemo {
    fn drop(&mut self) {
        if let Some(d) = self.demo.take() {
            self.rt.block_on(d.shutdown());
        }
    }
}

/// kdeck's side: the cluster watched (Applications and AppProjects) and an executor.
pub struct Kdeck {
    pub handle: Arc<ClusterHandle>,
    pub world: Arc<World>,
    cancel: CancellationToken,
}

impl Kdeck {
    pub fn connect(d: &DriftDemo) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        d.rt.block_on(async {
            let (handle, world, cancel) = crate::helpers::demo_handle(
                std::path::Path::new(&d.kubeconfig()),
                CONTEXT,
                &d.cluster().api_url(),
            )
            .await;
            handle.sources.start_kind::<Application>();
            handle.sources.start_kind::<AppProject>();
            Self {
                handle,
                world,
                cancel,
            }
        })
    }

    pub fn executor(
        &self,
        options: ExecOptions,
        audit: &std::path::Path,
    ) -> (Arc<Executor>, Receiver<ExecEvent>) {
        Executor::new(self.world.clone(), options, AuditLog::new(audit))
    }

    /// Waits until kdeck's store holds `name` as the server has it now.
    pub fn synced(&self, d: &DriftDemo, name: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let server = d.app(name)["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .to_string();
            let local = self
                .handle
                .sources
                .get::<Application>("argocd", name)
                .and_then(|a| a.metadata.resource_version);
            if local.as_deref() == Some(server.as_str())
                && self.handle.sources.state::<Application>().is_live()
            {
                return;
            }
            assert!(Instant::now() < deadline, "kdeck's store never caught up");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The row the pane shows for app `name` (built as the pane builds it).
    pub fn row(&self, name: &str) -> DriftRow {
        let apps = self.handle.sources.objects::<Application>();
        let projects = self.handle.sources.objects::<AppProject>();
        let apps: Vec<&Application> = apps.iter().filter_map(|g| g.0.as_ref().ok()).collect();
        let projects: Vec<&AppProject> =
            projects.iter().filter_map(|g| g.0.as_ref().ok()).collect();
        let contexts = [WatchedContext {
            context: CONTEXT.into(),
            short: "us-east".into(),
            server: self.handle.info().server,
        }];
        let rows = build_rows(
            &Place {
                cluster: CONTEXT,
                short: "us-east",
                contexts: &contexts,
                now: chrono::Utc::now(),
            },
            &Objects {
                apps: &apps,
                projects: &projects,
                ..Objects::default()
            },
            &mut RowCache::default(),
        );
        rows.into_iter()
            .map(|(r, _)| (*r).clone())
            .find(|r| r.name == name)
            .unwrap()
    }

    /// What the pane answers to `action args` on app `name` (after catching up with the server).
    pub fn reply(&self, d: &DriftDemo, name: &str, action: &str, args: &[&str]) -> Reply {
        self.synced(d, name);
        let call = ActionCall {
            name: action.into(),
            args: args.iter().map(|a| (*a).to_string()).collect(),
        };
        plan_action(&call, &self.row(name), &self.handle)
    }

    /// The plan for `action`, or the pane's reason for refusing it.
    pub fn plan(
        &self,
        d: &DriftDemo,
        name: &str,
        action: &str,
        args: &[&str],
    ) -> Result<ActionPlan, String> {
        match self.reply(d, name, action, args) {
            Reply::Plan(p) => Ok(*p),
            Reply::Warn(w) | Reply::Info(w) => Err(w),
            other => Err(format!("{other:?}")),
        }
    }
}

impl Drop for Kdeck {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Runs a plan through the executor and waits for its outcome.
pub fn run(
    d: &DriftDemo,
    exec: &Arc<Executor>,
    rx: &mut Receiver<ExecEvent>,
    plan: ActionPlan,
) -> Outcome {
    crate::helpers::execute(&d.rt, exec, rx, plan)
}
