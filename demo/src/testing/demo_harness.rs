//! Test helpers around the demo cluster: start one on free ports with its kubeconfig in a
//! temp dir, run the real `kubectl` against it, talk to it over HTTPS with the run's CA and
//! tokens, build kube-rs clients from its kubeconfig, and poll with generous deadlines (never
//! asserting durations).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::api::handler::ServerOptions;
use crate::api::registry::{self, TypeId};
use crate::{Demo, DemoCluster, DemoConfig, SimOptions, Tokens};
use serde_json::{Value, json};

/// Namespace the API tests create their objects in.
pub const NS: &str = "kdeck-it";

/// Upper bound for anything a test waits for; only there so a broken build fails instead of
/// hanging, never a performance assertion.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// A running demo plus the temp dir holding its kubeconfig and kubectl's cache.
pub struct TestDemo {
    pub demo: Demo,
    pub dir: tempfile::TempDir,
    /// Trusts the run's CA and sends the admin token.
    admin_http: reqwest::Client,
}

impl TestDemo {
    pub async fn start(clusters: usize) -> Self {
        Self::start_with(clusters, ServerOptions::default()).await
    }

    pub async fn start_with(clusters: usize, options: ServerOptions) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let demo = Demo::start_with(
            DemoConfig {
                clusters,
                base_port: 0,
                options: SimOptions::default(),
                kubeconfig_out: dir.path().join("kubeconfig"),
            },
            options,
        )
        .await
        .unwrap();
        let admin_http = api_http(demo.ca_pem(), Some(&demo.tokens().admin));
        let t = Self {
            demo,
            dir,
            admin_http,
        };
        t.ensure_namespace(0, NS);
        t
    }

    pub fn cluster(&self, i: usize) -> &DemoCluster {
        &self.demo.clusters()[i]
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.demo.kubeconfig_path().to_path_buf()
    }

    /// Base URL of cluster `i`'s Kubernetes API (`https://`).
    pub fn url(&self, i: usize) -> String {
        self.cluster(i).api_url()
    }

    /// This run's tokens.
    pub fn tokens(&self) -> &Tokens {
        self.demo.tokens()
    }

    /// An HTTPS client for the Kubernetes API acting as `demo-admin`, as the kubeconfig's
    /// contexts do.
    pub fn http(&self) -> &reqwest::Client {
        &self.admin_http
    }

    /// An HTTPS client for the Kubernetes API sending `token` (or no credentials at all).
    pub fn http_with(&self, token: Option<&str>) -> reqwest::Client {
        api_http(self.demo.ca_pem(), token)
    }

    /// A plain-HTTP client for the control API, sending the run's control token.
    pub fn control_http(&self) -> reqwest::Client {
        client_builder(Some(&self.tokens().control))
            .build()
            .unwrap()
    }

    pub fn ensure_namespace(&self, i: usize, ns: &str) {
        let t = kind("", "namespaces");
        self.cluster(i)
            .state
            .store
            .insert(
                t,
                json!({"metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                       "status": {"phase": "Active"}}),
            )
            .unwrap();
    }

    /// Inserts (or replaces) an object through the store, keeping its status.
    pub fn insert(&self, i: usize, obj: Value) -> Value {
        let api_version = obj["apiVersion"].as_str().unwrap();
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let t = registry::find_kind(group, obj["kind"].as_str().unwrap()).unwrap();
        self.cluster(i).state.store.insert(t, obj).unwrap()
    }

    /// Runs kubectl against cluster 0 (or `--context` given in `args`).
    pub async fn kubectl(&self, args: &[&str]) -> Kubectl {
        let mut cmd = self.kubectl_command(args);
        let out = tokio::time::timeout(DEADLINE, cmd.output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish"))
            .expect("running kubectl");
        Kubectl {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn kubectl_command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("kubectl");
        cmd.arg("--kubeconfig")
            .arg(self.kubeconfig())
            .arg("--cache-dir")
            .arg(self.dir.path().join("kube-cache"))
            .args(args)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// A kube-rs client for cluster `i`, built from the written kubeconfig.
    pub async fn kube_client(&self, i: usize) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(self.kubeconfig()).unwrap();
        let options = kube::config::KubeConfigOptions {
            context: Some(self.cluster(i).name.clone()),
            ..Default::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kc, &options)
            .await
            .unwrap();
        kube::Client::try_from(config).unwrap()
    }
}

/// What kubectl did.
#[derive(Debug)]
pub struct Kubectl {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Kubectl {
    /// Panics with both streams unless kubectl succeeded.
    pub fn ok(self) -> String {
        assert_eq!(
            self.code, 0,
            "kubectl failed: {}\n{}",
            self.stderr, self.stdout
        );
        self.stdout
    }

    /// The output line whose whitespace-separated fields start with `first`.
    pub fn row(&self, first: &str) -> Option<Vec<String>> {
        find_row(&self.stdout, first)
    }
}

/// The line (split on whitespace) whose fields contain `key` as a whole field.
pub fn find_row(text: &str, key: &str) -> Option<Vec<String>> {
    text.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|fields| fields.iter().any(|f| f == key))
}

pub fn kind(group: &str, plural: &str) -> TypeId {
    registry::find(group, plural).unwrap()
}

fn client_builder(token: Option<&str>) -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .timeout(DEADLINE)
        .default_headers(headers)
}

/// A plain-HTTP client without credentials: for the Prometheus ports, and for checking what
/// the demo refuses.
pub fn plain_http() -> reqwest::Client {
    client_builder(None).build().unwrap()
}

/// An HTTPS client that trusts only the demo's CA (`ca_pem`) and sends `token`, if any.
pub fn api_http(ca_pem: &str, token: Option<&str>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap();
    client_builder(token).tls_certs_only([ca]).build().unwrap()
}

/// What a kubeconfig's current context authenticates with.
#[derive(Debug, Clone)]
pub struct KubeconfigCredentials {
    pub server: String,
    /// The cluster's `certificate-authority-data`, decoded (PEM).
    pub ca_pem: String,
    pub token: String,
}

impl KubeconfigCredentials {
    /// An HTTPS client for this server, with this token.
    pub fn http(&self) -> reqwest::Client {
        api_http(&self.ca_pem, Some(&self.token))
    }
}

/// Reads the server, CA and token of the current context of a kubeconfig the demo wrote (for
/// tests and benchmarks that reach a `kdeck demo serve` process or write their own kubeconfig).
pub fn kubeconfig_credentials(path: &Path) -> KubeconfigCredentials {
    use base64::Engine as _;
    let text = std::fs::read_to_string(path).unwrap();
    let kc: Value = serde_saphyr::from_str(&text).unwrap();
    let named = |list: &str, name: &Value| -> Value {
        kc[list]
            .as_array()
            .and_then(|l| l.iter().find(|e| e["name"] == *name))
            .cloned()
            .unwrap_or_else(|| panic!("{}: no {list} entry named {name}", path.display()))
    };
    let context = named("contexts", &kc["current-context"]);
    let cluster = named("clusters", &context["context"]["cluster"]);
    let user = named("users", &context["context"]["user"]);
    let ca = base64::engine::general_purpose::STANDARD
        .decode(
            cluster["cluster"]["certificate-authority-data"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    KubeconfigCredentials {
        server: cluster["cluster"]["server"].as_str().unwrap().to_string(),
        ca_pem: String::from_utf8(ca).unwrap(),
        token: user["user"]["token"].as_str().unwrap().to_string(),
    }
}

/// Polls `check` until it returns `Some`, or panics with `what` after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = tokio::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A minimal object of a kind in [`NS`].
pub fn configmap(name: &str, data: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": NS, "labels": {"app": "it"}},
           "data": {"v": data}})
}

/// A running, ready pod with one container.
pub fn pod(name: &str, app: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": app}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}], "nodeName": "it-node-1"},
        "status": {"phase": "Running", "containerStatuses": [
            {"name": "app", "ready": true, "restartCount": 0, "image": "nginx:1.27",
             "imageID": "", "started": true, "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}}}]},
    })
}

pub fn deployment(name: &str, replicas: i64, ready: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}},
        "status": {"replicas": replicas, "readyReplicas": ready, "updatedReplicas": replicas,
                   "availableReplicas": ready, "observedGeneration": 1},
    })
}

/// Whether the installed kubectl client is at least 1.`minor`. Debian's `kubernetes-client`
/// (the fallback `.ci/run` installs when kubectl is missing) is 1.20, which predates
/// `--subresource` (1.24) and `auth whoami` (1.26); tests of those say so and stop.
pub fn kubectl_at_least(minor: u32, feature: &str) -> bool {
    let out = std::process::Command::new("kubectl")
        .args(["version", "--client", "-o", "json"])
        .output()
        .expect("kubectl must be installed (see .ci/run)");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let have: u32 = v
        .pointer("/clientVersion/minor")
        .and_then(Value::as_str)
        .map(|m| m.trim_end_matches('+'))
        .and_then(|m| m.parse().ok())
        .unwrap_or(u32::MAX);
    if have < minor {
        // CI sets this: there the check must run, not quietly shrink to what an old client has.
        assert!(
            std::env::var_os("KDECK_REQUIRE_KUBECTL").is_none(),
            "kubectl 1.{have} has no {feature} (1.{minor}+), and KDECK_REQUIRE_KUBECTL is set: \
             install a current kubectl"
        );
        eprintln!("kubectl 1.{have} has no {feature} (1.{minor}+): that part is not checked here");
    }
    have >= minor
}
