//! End to end: the real kdeck binary in a real terminal (tmux) against the demo cluster run
//! as a separate process (`kdeck demo serve`): both clusters with node counts, help, rows
//! going stale when the demo's servers go down and recovering when they come back, quitting
//! and restoring the terminal; signals, bad input, exec-plugin stderr, small terminals.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kdeck_demo::testing::demo_harness::{kubeconfig_credentials, plain_http};

use crate::tmux::{Tmux, kdeck_bin, shell_quote};

const WAIT: Duration = Duration::from_secs(60);

/// A base port with the next `n` ports free too.
pub fn free_base_port(n: u16) -> u16 {
    // Below the kernel's ephemeral range (32768+), so no outgoing connection of another test
    // can take the port while the demo is down and being restarted.
    // Tests run in parallel threads of one process: a per-call counter keeps them apart.
    static CALLS: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let seed = (std::process::id() as u16).wrapping_add(call.wrapping_mul(1_009));
    for attempt in 0..200u16 {
        let base = 20_000 + (seed.wrapping_mul(7).wrapping_add(attempt * 97)) % 12_000;
        if (0..n).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no free port range found");
}

fn child_exited(child: &mut Child) -> bool {
    child.try_wait().is_ok_and(|s| s.is_some())
}

/// `kdeck demo serve` as a child process.
pub struct DemoProcess {
    child: Child,
    base: u16,
    kubeconfig: std::path::PathBuf,
}

impl DemoProcess {
    pub fn start(base: u16, kubeconfig: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(kdeck_bin())
            .args(["demo", "serve", "--kubeconfig-out"])
            .arg(kubeconfig)
            .args(["--port", &base.to_string()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kdeck demo serve");
        let deadline = Instant::now() + WAIT;
        let clusters: u16 = extra
            .iter()
            .position(|a| *a == "--clusters")
            .and_then(|i| extra.get(i + 1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(2);
        // Ready when the last cluster's API port answers.
        while std::net::TcpStream::connect(("127.0.0.1", base + 1 + 2 * (clusters - 1))).is_err()
            || std::fs::metadata(kubeconfig).is_ok_and(|m| m.len() == 0)
            || !kubeconfig.exists()
        {
            if Instant::now() > deadline || child_exited(&mut child) {
                let _ = child.kill();
                let out = child.wait_with_output().expect("demo serve output");
                panic!(
                    "demo serve did not come up: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            base,
            kubeconfig: kubeconfig.to_path_buf(),
        }
    }

    /// Sends a fault action to every cluster through the control API, with the run's control
    /// token (from the file beside the kubeconfig).
    pub fn fault_all(&self, action: &str) {
        let control = format!("http://127.0.0.1:{}", self.base);
        let token_file = kdeck_demo::launcher::control_token_path(&self.kubeconfig);
        let token = std::fs::read_to_string(token_file).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let http = plain_http();
            let listed: serde_json::Value = http
                .get(format!("{control}/clusters"))
                .bearer_auth(token.trim())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for c in listed["clusters"].as_array().unwrap() {
                let name = c["name"].as_str().unwrap();
                let resp = http
                    .post(format!("{control}/clusters/{name}/faults"))
                    .bearer_auth(token.trim())
                    .json(&serde_json::json!({ "action": action }))
                    .send()
                    .await
                    .unwrap();
                assert!(resp.status().is_success(), "{action} on {name}");
            }
        });
    }

    /// Kills it without warning, like a crashed API server.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for DemoProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn kdeck_cmd(args: &str) -> String {
    format!("{} {args}", shell_quote(&kdeck_bin().display().to_string()))
}

/// The table row of a context on the Clusters pane.
pub fn row<'a>(screen: &'a str, context: &str) -> Option<&'a str> {
    screen
        .lines()
        .find(|l| l.contains(context) && l.contains('│'))
}

fn nodes_cell_ok(line: &str) -> bool {
    // NODES is "ready/total" with at least one node.
    line.split_whitespace().any(|w| {
        w.split_once('/')
            .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok_and(|b| b > 0))
    })
}

#[test]
fn clusters_stale_when_demo_dies_and_recover_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let base = free_base_port(5);
    let demo = DemoProcess::start(base, &kubeconfig, &[]);
    let config = dir.path().join("cfg");
    let t = Tmux::start(
        &kdeck_cmd(&format!(
            "--kubeconfig {} --all-contexts",
            kubeconfig.display()
        )),
        120,
        40,
        &[("KDECK_CONFIG", config.to_str().unwrap())],
    );
    // Both live with node counts, and discovery done: both run Argo Rollouts and Argo CD,
    // only the second runs Flux.
    t.wait_for(
        "both clusters live with node counts and add-ons",
        WAIT,
        |s| {
            ["demo-us-east", "demo-eu-west"]
                .iter()
                .all(|c| row(s, c).is_some_and(|l| l.contains("● live") && nodes_cell_ok(l)))
                && row(s, "demo-us-east").is_some_and(|l| l.contains("RO IS CD -- VE"))
                && row(s, "demo-eu-west").is_some_and(|l| l.contains("RO -- CD FX --"))
        },
    );
    assert!(
        t.alternate_screen(),
        "kdeck should draw on the alternate screen"
    );

    t.send(&["?"]);
    t.wait_text("Help · keymap default", WAIT);
    t.send(&["Escape"]);
    t.wait_for("help closed", WAIT, |s| !s.contains("Help · keymap"));

    // Every port of both clusters closes and their connections drop, as when the API server
    // process dies. (Restarting the process is a new run: new CA and tokens, which a client
    // holding the old kubeconfig rightly refuses.)
    demo.fault_all("down");
    t.wait_for("rows marked stale", Duration::from_secs(30), |s| {
        ["demo-us-east", "demo-eu-west"]
            .iter()
            .all(|c| row(s, c).is_some_and(|l| l.contains("stale since")))
    });
    // The last data stays on screen while stale.
    let stale = t.screen();
    assert!(
        nodes_cell_ok(row(&stale, "demo-us-east").unwrap()),
        "{stale}"
    );

    demo.fault_all("up");
    t.wait_for("rows live again", Duration::from_secs(90), |s| {
        ["demo-us-east", "demo-eu-west"]
            .iter()
            .all(|c| row(s, c).is_some_and(|l| l.contains("● live")))
    });

    t.send(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
    assert!(
        !t.alternate_screen(),
        "terminal left on the alternate screen"
    );
}

#[test]
fn signals_restore_the_terminal() {
    for sig in ["TERM", "HUP"] {
        let dir = tempfile::tempdir().unwrap();
        let t = Tmux::start(
            &kdeck_cmd("--demo"),
            100,
            30,
            &[("KDECK_CONFIG", dir.path().to_str().unwrap())],
        );
        t.wait_text("demo-us-east", WAIT);
        assert!(t.alternate_screen());
        let pid = t.pid();
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &pid])
            .status()
            .unwrap();
        assert!(status.success());
        t.wait_exit(WAIT);
        assert!(
            !t.alternate_screen(),
            "SIG{sig} left the alternate screen on"
        );
    }
}

#[test]
fn panic_restores_the_terminal_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::start(
        &kdeck_cmd("--demo"),
        100,
        30,
        &[
            ("KDECK_CONFIG", dir.path().to_str().unwrap()),
            ("KDECK_TEST_PANIC_AFTER_FRAMES", "3"),
            ("RUST_BACKTRACE", "0"),
        ],
    );
    let status = t.wait_exit(WAIT);
    assert_ne!(status, 0);
    assert!(!t.alternate_screen(), "panic left the alternate screen on");
    let screen = t.screen();
    assert!(
        screen.contains("panicked"),
        "the panic message should be visible: {screen}"
    );
}

#[test]
fn bad_kubeconfig_is_one_line_and_the_terminal_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad");
    std::fs::write(&bad, "clusters: [ {").unwrap();
    let out = Command::new(kdeck_bin())
        .arg("--kubeconfig")
        .arg(&bad)
        .env("KDECK_CONFIG", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("kdeck: cannot use kubeconfig {}", bad.display())),
        "{err}"
    );
    assert!(
        out.stdout.is_empty(),
        "nothing may be drawn: {:?}",
        out.stdout
    );

    let good = dir.path().join("good");
    std::fs::write(
        &good,
        "apiVersion: v1\nkind: Config\ncurrent-context: a\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\nusers:\n- name: u\n  user: {token: x}\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n",
    )
    .unwrap();
    let out = Command::new(kdeck_bin())
        .args(["--context", "nope", "--kubeconfig"])
        .arg(&good)
        .env("KDECK_CONFIG", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "kdeck: unknown context \"nope\" (available: a)"
    );
    // No reachable cluster and no flags: say so and point at the demo.
    let out = Command::new(kdeck_bin())
        .arg("--kubeconfig")
        .arg(&good)
        .env("KDECK_CONFIG", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no cluster is reachable") && err.contains("kdeck --demo"),
        "{err}"
    );
}

#[test]
fn exec_plugin_stderr_never_reaches_the_screen() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let base = free_base_port(5);
    let _demo = DemoProcess::start(base, &kubeconfig, &["--clusters", "1"]);
    // The plugin hands out the token the demo wrote; its CA goes into the new kubeconfig.
    let written = kubeconfig_credentials(&kubeconfig);
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &written.ca_pem).unwrap();
    let plugin = dir.path().join("get-token");
    // The plugin counts its runs: the check below is only worth something once it has written.
    let runs = dir.path().join("plugin-runs");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\necho 'SMEAR-FROM-PLUGIN please log in' >&2\necho run >> '{}'\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{}\"}}}}'\n",
            runs.display(),
            written.token
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let server = written.server;
    let exec_config = dir.path().join("exec-kubeconfig");
    std::fs::write(
        &exec_config,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters:\n- name: c\n  cluster: {{server: '{server}', certificate-authority: '{}'}}\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: IfAvailable\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\n",
            ca.display(),
            plugin.display()
        ),
    )
    .unwrap();
    let t = Tmux::start(
        &kdeck_cmd(&format!("--kubeconfig {}", exec_config.display())),
        120,
        40,
        &[("KDECK_CONFIG", dir.path().join("cfg").to_str().unwrap())],
    );
    t.wait_for("cluster live through the exec plugin", WAIT, |s| {
        row(s, " x ").is_some_and(|l| l.contains("● live"))
    });
    // The plugin wrote its stderr before it printed the token the live cluster needed, so
    // anything it smeared is on the screen by now.
    let ran = std::fs::read_to_string(&runs).unwrap_or_default();
    assert!(ran.lines().count() >= 1, "the plugin never ran");
    let screen = t.screen();
    assert!(
        !screen.contains("SMEAR"),
        "plugin stderr smeared the screen:\n{screen}"
    );
    t.send(&["q"]);
    t.wait_exit(WAIT);
}

#[test]
fn small_terminals_degrade_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::start(
        &kdeck_cmd("--demo"),
        80,
        24,
        &[("KDECK_CONFIG", dir.path().to_str().unwrap())],
    );
    let screen = t.wait_for("clusters at 80x24", WAIT, |s| {
        row(s, "demo-us-east").is_some_and(|l| l.contains("live"))
    });
    assert!(
        screen.contains("CONTEXT") && screen.contains("NODES"),
        "{screen}"
    );
    t.resize(50, 12);
    t.wait_text("terminal too small", WAIT);
    t.resize(100, 30);
    t.wait_for("back to the table", WAIT, |s| s.contains("CONTEXT"));
    t.send(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
}

/// Splits a demo kubeconfig into one file per context (as `KUBECONFIG=a:b` users keep them).
fn split_kubeconfig(path: &Path, dir: &Path) -> Vec<std::path::PathBuf> {
    let kc: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let contexts = kc["contexts"].as_array().unwrap();
    contexts
        .iter()
        .enumerate()
        .map(|(i, ctx)| {
            let cluster = ctx["context"]["cluster"].as_str().unwrap();
            let user = ctx["context"]["user"].as_str().unwrap();
            let pick = |list: &str, name: &str| -> serde_json::Value {
                kc[list]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|e| e["name"] == name)
                    .cloned()
                    .collect()
            };
            let one = serde_json::json!({
                "apiVersion": "v1", "kind": "Config",
                "current-context": ctx["name"],
                "clusters": pick("clusters", cluster),
                "users": pick("users", user),
                "contexts": [ctx],
            });
            let p = dir.join(format!("part-{i}.yaml"));
            // JSON is YAML: kubectl and kube-rs read it as a kubeconfig.
            std::fs::write(&p, one.to_string()).unwrap();
            p
        })
        .collect()
}

#[test]
fn merged_kubeconfigs_log_pane_and_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let base = free_base_port(5);
    let _demo = DemoProcess::start(base, &kubeconfig, &[]);
    let parts = split_kubeconfig(&kubeconfig, dir.path());
    assert_eq!(parts.len(), 2);
    let joined = std::env::join_paths(&parts).unwrap();
    let t = Tmux::start(
        &kdeck_cmd("--all-contexts"),
        120,
        40,
        &[
            ("KDECK_CONFIG", dir.path().join("cfg").to_str().unwrap()),
            ("KUBECONFIG", joined.to_str().unwrap()),
        ],
    );
    // Both files' contexts are watched.
    t.wait_for("contexts from both files", WAIT, |s| {
        ["demo-us-east", "demo-eu-west"]
            .iter()
            .all(|c| row(s, c).is_some_and(|l| l.contains("● live")))
    });

    // The log pane shows what kdeck logged.
    t.send(&["L"]);
    t.wait_for("the log pane", WAIT, |s| {
        s.contains(" Log ") && s.contains("watching demo-us-east, demo-eu-west")
    });
    t.send(&["L"]);
    t.wait_for("the log pane closed", WAIT, |s| !s.contains(" Log "));

    // The command line: complete, switch pane, change namespace, quit.
    t.send(&[":"]);
    t.type_text("pane ro");
    t.send(&["Tab"]);
    t.wait_text(":pane rollouts", WAIT);
    t.send(&["Enter"]);
    t.wait_text("need attention", WAIT);
    t.send(&[":"]);
    t.type_text("ns payments");
    t.send(&["Enter"]);
    t.wait_for("only payments rows", WAIT, |s| {
        s.contains("ns payments") && s.contains("ledger") && !s.contains(" cart ")
    });
    t.send(&[":"]);
    t.type_text("nonsense");
    t.send(&["Enter"]);
    t.wait_text("unknown command \"nonsense\"", WAIT);
    t.send(&[":"]);
    t.type_text("q");
    t.send(&["Enter"]);
    assert_eq!(t.wait_exit(WAIT), 0);
    assert!(!t.alternate_screen());
}
