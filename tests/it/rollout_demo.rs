//! A demo cluster in this process with a test Argo Rollout `e2e/web` (canary steps
//! setWeight 20, pause {}, setWeight 50, pause {}) already paused at its first indefinite
//! pause: the starting point of the action tests.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use kdeck_demo::api::registry;
use kdeck_demo::api::store::{Patch, Subresource};
use kdeck_demo::{Demo, DemoConfig, SimOptions};
use serde_json::{Value, json};

use crate::tmux::{Tmux, kdeck_bin, shell_quote};

pub const WAIT: Duration = Duration::from_secs(60);
pub const NS: &str = "e2e";

/// A demo (in this process, on its own runtime) with a test rollout `e2e/web` paused at an
/// indefinite pause step.
pub struct Fixture {
    pub rt: tokio::runtime::Runtime,
    pub demo: Option<Demo>,
    pub dir: tempfile::TempDir,
}

pub fn rollout_type() -> usize {
    registry::find("argoproj.io", "rollouts").unwrap()
}

impl Fixture {
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
                    speed: 4.0,
                    scale: 0,
                },
                kubeconfig_out: dir.path().join("kubeconfig"),
            }))
            .unwrap();
        let f = Self {
            rt,
            demo: Some(demo),
            dir,
        };
        f.create_paused_canary();
        f
    }

    pub fn store(&self) -> &kdeck_demo::api::store::ObjectStore {
        &self.demo.as_ref().unwrap().clusters()[0].state.store
    }

    pub fn kubeconfig(&self) -> String {
        self.dir.path().join("kubeconfig").display().to_string()
    }

    pub fn config_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("cfg")
    }

    pub fn rollout(&self) -> Value {
        self.store().get_value(rollout_type(), NS, "web").unwrap()
    }

    pub fn wait_rollout(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let r = self.rollout();
            if pred(&r) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {r:#}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Ships a first revision, then a second, so the canary stops at `pause: {}`.
    pub fn create_paused_canary(&self) {
        let ns_type = registry::find("", "namespaces").unwrap();
        self.store()
            .insert(
                ns_type,
                json!({"metadata": {"name": NS}, "status": {"phase": "Active"}}),
            )
            .unwrap();
        let rollout = json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {
                "replicas": 4,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "registry.example.com/web:1.0.0"}]}
                },
                "strategy": {"canary": {"steps": [
                    {"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}
                ]}}
            }
        });
        self.store()
            .create(rollout_type(), NS, rollout, false)
            .unwrap();
        self.wait_rollout("first revision healthy", |r| {
            r.pointer("/status/phase").and_then(Value::as_str) == Some("Healthy")
        });
        let patch = Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "registry.example.com/web:1.1.0"}
        ]}}}}));
        self.store()
            .patch(rollout_type(), NS, "web", &patch, Subresource::Main, false)
            .unwrap();
        self.wait_rollout("canary paused at step 1", |r| {
            r.pointer("/status/currentStepIndex")
                .and_then(Value::as_i64)
                == Some(1)
                && r.pointer("/status/pauseConditions/0/reason")
                    .and_then(Value::as_str)
                    == Some("CanaryPauseStep")
        });
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

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(d) = self.demo.take() {
            self.rt.block_on(d.shutdown());
        }
    }
}
