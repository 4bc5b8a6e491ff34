//! Shared by the benchmarks: run `kdeck demo serve`, read process memory and CPU, summarise
//! timings. Benchmarks print figures; they never assert on them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `kdeck demo serve` in its own process (so its memory is measured apart from the client).
pub struct DemoServe {
    pub child: Child,
    pub kubeconfig: PathBuf,
    pub base: u16,
    _dir: tempfile::TempDir,
}

pub fn free_base(n: u16) -> u16 {
    for base in (21_000..60_000).step_by(37) {
        if (0..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no free ports");
}

impl DemoServe {
    pub fn start(clusters: u16, scale: usize, speed: f64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let base = free_base(1 + 2 * clusters);
        let child = Command::new(env!("CARGO_BIN_EXE_kdeck"))
            .args(["demo", "serve", "--kubeconfig-out"])
            .arg(&kubeconfig)
            .args([
                "--port",
                &base.to_string(),
                "--clusters",
                &clusters.to_string(),
            ])
            .args(["--scale", &scale.to_string(), "--speed", &speed.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let last_api = base + 1 + 2 * (clusters - 1);
        let deadline = Instant::now() + Duration::from_secs(300);
        while std::net::TcpStream::connect(("127.0.0.1", last_api)).is_err()
            || std::fs::metadata(&kubeconfig).map_or(true, |m| m.len() == 0)
        {
            assert!(Instant::now() < deadline, "demo serve did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            kubeconfig,
            base,
            _dir: dir,
        }
    }

    pub fn api_url(&self, cluster: u16) -> String {
        format!("https://127.0.0.1:{}", self.base + 1 + 2 * cluster)
    }

    /// An HTTPS client for the Kubernetes API with the CA and admin token the demo wrote.
    pub fn http(&self) -> reqwest::Client {
        kdeck_demo::testing::demo_harness::kubeconfig_credentials(&self.kubeconfig).http()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// API requests each simulated cluster has answered so far (the demo's own counters, read
    /// through its control API), by cluster name: (all requests, watch requests).
    pub async fn requests(&self) -> Vec<(String, u64, u64)> {
        let token_file = kdeck_demo::launcher::control_token_path(&self.kubeconfig);
        let token = std::fs::read_to_string(token_file).unwrap();
        let v: serde_json::Value = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/clusters", self.base))
            .bearer_auth(token.trim())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap_or_default().to_string(),
                    c["faults"]["stats"]["requests"].as_u64().unwrap_or(0),
                    c["faults"]["stats"]["watches"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    }
}

impl Drop for DemoServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of a process in MiB (`VmRSS`).
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU seconds (user + system) a process has used.
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 (1-based); here index 11 and 12.
    (ticks(11) + ticks(12)) / 100.0
}

pub fn self_pid() -> u32 {
    std::process::id()
}

/// Median and 95th percentile of durations, in milliseconds.
pub fn summary(mut samples: Vec<Duration>) -> (f64, f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let n = samples.len();
    if n == 0 {
        return (0.0, 0.0, 0.0);
    }
    (
        ms(samples[n / 2]),
        ms(samples[(n * 95 / 100).min(n - 1)]),
        ms(samples[n - 1]),
    )
}

pub fn kubeconfig(path: &Path) -> kube::config::Kubeconfig {
    kdeck::cluster::kubeconfig::load(Some(path)).unwrap()
}
