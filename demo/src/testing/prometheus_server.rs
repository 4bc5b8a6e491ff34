//! A real Prometheus for differential tests: backfill samples with `promtool`, start
//! `prometheus` on a free loopback port, query it over HTTP, stop it on drop.
//!
//! The binaries are found on `PATH` (or through `KDECK_PROMETHEUS` / `KDECK_PROMTOOL`). When
//! they are missing, [`PromServer::start`] returns `None` after printing why, unless
//! `KDECK_REQUIRE_PROMETHEUS=1` (set in CI), in which case it panics: CI must not pass by
//! skipping.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A series for backfilling: sorted labels including `__name__`, and (ms, value) samples.
pub type SeriesData = (Vec<(String, String)>, Vec<(i64, f64)>);

/// A running Prometheus; killed when dropped.
pub struct PromServer {
    child: Child,
    watchdog: Option<Child>,
    port: u16,
    _dir: tempfile::TempDir,
}

fn binary(env: &str, name: &str) -> String {
    std::env::var(env).unwrap_or_else(|_| name.to_string())
}

/// Whether `prometheus` and `promtool` run; the error says what is missing.
pub fn binaries_available() -> Result<(), String> {
    for (env, name) in [
        ("KDECK_PROMETHEUS", "prometheus"),
        ("KDECK_PROMTOOL", "promtool"),
    ] {
        let bin = binary(env, name);
        let ok = Command::new(&bin)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(format!(
                "`{bin}` is not runnable (install Debian's `prometheus` package or set {env})"
            ));
        }
    }
    Ok(())
}

/// Whether the environment demands a real Prometheus (CI).
pub fn required() -> bool {
    std::env::var("KDECK_REQUIRE_PROMETHEUS").is_ok_and(|v| v == "1")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding an ephemeral loopback port")
}

/// Formats a sample value for OpenMetrics (Go's ParseFloat reads Rust's shortest form).
fn om_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// An OpenMetrics text file holding `series` (no `# TYPE` lines: promtool does not need
/// them), ending with `# EOF`. Timestamps are seconds with millisecond fractions.
pub fn openmetrics(series: &[SeriesData]) -> String {
    let mut out = String::new();
    for (labels, samples) in series {
        let name = labels
            .iter()
            .find(|(k, _)| k == "__name__")
            .map(|(_, v)| v.as_str())
            .expect("series without __name__");
        let mut sel = String::from(name);
        let rest: Vec<String> = labels
            .iter()
            .filter(|(k, _)| k != "__name__")
            .map(|(k, v)| {
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                format!("{k}=\"{v}\"")
            })
            .collect();
        if !rest.is_empty() {
            let _ = write!(sel, "{{{}}}", rest.join(","));
        }
        for (t, v) in samples {
            let _ = writeln!(
                out,
                "{sel} {} {}.{:03}",
                om_value(*v),
                t.div_euclid(1000),
                t.rem_euclid(1000)
            );
        }
    }
    out.push_str("# EOF\n");
    out
}

/// Percent-encodes a query-string component.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `k=v&k=v`, encoded.
pub fn encode_query(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// One HTTP/1.0 request to 127.0.0.1:`port`; returns (status, body).
pub fn http_request(
    port: u16,
    method: &str,
    path_and_query: &str,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        s,
        "{method} {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_string()))
}

impl PromServer {
    /// Backfills `series` and starts Prometheus over them. `None` (with the reason printed)
    /// when the binaries are missing and not required.
    pub fn start(series: &[SeriesData]) -> Option<Self> {
        Self::start_with(series, None)
    }

    /// Like [`Self::start`], with an optional rule file (YAML) evaluated every 5 s.
    pub fn start_with(series: &[SeriesData], rules_yaml: Option<&str>) -> Option<Self> {
        if let Err(why) = binaries_available() {
            if required() {
                panic!("KDECK_REQUIRE_PROMETHEUS=1 but {why}");
            }
            eprintln!("skipping: a real Prometheus is not available: {why}");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        if !series.is_empty() {
            let om = dir.path().join("samples.om");
            std::fs::write(&om, openmetrics(series)).expect("writing OpenMetrics");
            let out = Command::new(binary("KDECK_PROMTOOL", "promtool"))
                .args(["tsdb", "create-blocks-from", "openmetrics"])
                .arg(&om)
                .arg(&data)
                .output()
                .expect("running promtool");
            assert!(
                out.status.success(),
                "promtool failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut config = String::from("global:\n  evaluation_interval: 5s\nscrape_configs: []\n");
        if let Some(rules) = rules_yaml {
            std::fs::write(dir.path().join("rules.yml"), rules).expect("writing rules");
            config.push_str("rule_files: [rules.yml]\n");
        }
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("writing config");

        // A port can be taken between choosing and binding it: retry a few times.
        let mut last_log = String::new();
        for _ in 0..3 {
            let port = free_port();
            let log_path = dir.path().join("prometheus.log");
            let log = std::fs::File::create(&log_path).expect("log file");
            let child = Command::new(binary("KDECK_PROMETHEUS", "prometheus"))
                .arg(format!("--config.file={}", config_path.display()))
                .arg(format!("--storage.tsdb.path={}", data.display()))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("starting prometheus");
            // If this test process dies without unwinding, the watchdog stops Prometheus.
            let watchdog = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "while kill -0 {} 2>/dev/null; do sleep 1; done; kill {} 2>/dev/null",
                    std::process::id(),
                    child.id()
                ))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok();
            let mut server = PromServer {
                child,
                watchdog,
                port,
                _dir: tempfile::tempdir().expect("temp dir"),
            };
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = server.child.try_wait() {
                    break;
                }
                if matches!(http_request(port, "GET", "/-/ready"), Ok((200, _))) {
                    // Keep the data directory alive as long as the server.
                    server._dir = dir;
                    return Some(server);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
            drop(server);
        }
        panic!("prometheus did not become ready:\n{last_log}");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `GET path?params` against the server; (status, body).
    pub fn get(&self, path: &str, params: &[(&str, &str)]) -> (u16, String) {
        let q = encode_query(params);
        let target = if q.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{q}")
        };
        http_request(self.port, "GET", &target)
            .unwrap_or_else(|e| panic!("querying prometheus {target}: {e}"))
    }
}

impl Drop for PromServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(w) = &mut self.watchdog {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}
