//! End to end, trust under faults: the real kdeck binary in tmux against `kdeck demo serve`,
//! with credential plugins that fail, hang or talk, and state it cannot write.

use std::path::Path;
use std::time::Duration;

use kdeck_demo::testing::demo_harness::kubeconfig_credentials;

use crate::e2e_shell::{DemoProcess, free_base_port, kdeck_cmd, row};
use crate::tmux::Tmux;

const WAIT: Duration = Duration::from_secs(60);

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// A kubeconfig whose contexts all reach `server` (trusting the CA in the file `ca`), each
/// through its own exec plugin.
fn exec_kubeconfig(path: &Path, server: &str, ca: &Path, users: &[(&str, &Path, &str)]) {
    let mut text = String::from(
        "apiVersion: v1\nkind: Config\ncurrent-context: good\nclusters:\n- name: c\n  cluster:\n",
    );
    text.push_str(&format!(
        "    server: '{server}'\n    certificate-authority: '{}'\nusers:\n",
        ca.display()
    ));
    for (name, plugin, secret) in users {
        text.push_str(&format!(
            "- name: {name}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      args: ['--password={secret}']\n      env:\n      - name: PLUGIN_SECRET\n        value: '{secret}'\n",
            plugin.display()
        ));
    }
    text.push_str("contexts:\n");
    for (name, _, _) in users {
        text.push_str(&format!(
            "- name: {name}\n  context: {{cluster: c, user: {name}}}\n"
        ));
    }
    std::fs::write(path, text).unwrap();
}

/// A failing plugin's words reach the screen without its arguments or environment, a plugin
/// that never answers is given up after a bounded time, and neither keeps the good context
/// from going live.
#[test]
fn failing_and_hanging_credential_plugins_do_not_stop_the_others_or_leak() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("demo-kubeconfig");
    let base = free_base_port(5);
    let _demo = DemoProcess::start(base, &kubeconfig, &["--clusters", "1"]);
    // The good plugin hands out the token the demo wrote.
    let written = kubeconfig_credentials(&kubeconfig);
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &written.ca_pem).unwrap();
    let good = dir.path().join("good-token");
    script(
        &good,
        &format!(
            "echo '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{}\"}}}}'",
            written.token
        ),
    );
    let bad = dir.path().join("bad-token");
    // A careless plugin that prints what it was given.
    script(
        &bad,
        "echo \"login failed for $1 with $PLUGIN_SECRET: SSO session expired\" >&2\nexit 3",
    );
    let stuck = dir.path().join("stuck-token");
    script(&stuck, "sleep 120");
    let config = dir.path().join("kubeconfig");
    exec_kubeconfig(
        &config,
        &written.server,
        &ca,
        &[
            ("good", &good, "g00d-s3cret"),
            ("bad", &bad, "hunter2-TOPSECRET"),
            ("stuck", &stuck, "st0ck-s3cret"),
        ],
    );
    let state = dir.path().join("cfg");
    let t = Tmux::start(
        &kdeck_cmd(&format!("--kubeconfig {} --all-contexts", config.display())),
        120,
        40,
        &[("KDECK_CONFIG", state.to_str().unwrap())],
    );
    let screen = t.wait_for("the good context live and both others failed", WAIT, |s| {
        row(s, " good ").is_some_and(|l| l.contains("● live"))
            && row(s, " bad ").is_some_and(|l| l.contains("credential plugin bad-token failed"))
            && row(s, " stuck ").is_some_and(|l| l.contains("did not finish"))
    });
    assert!(!screen.contains("TOPSECRET"), "{screen}");
    // Select `bad` wherever the sort put it (failing contexts lead): down until its card shows.
    let card = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("┌ ") && !l.starts_with("┌ Clusters"))
            .and_then(|l| l.split_whitespace().nth(1))
            .map(str::to_string)
    };
    for _ in 0..3 {
        let before = card(&t.screen());
        if before.as_deref() == Some("bad") {
            break;
        }
        t.send(&["j"]);
        t.wait_for("the selection to move", WAIT, |s| card(s) != before);
    }
    let details = t.wait_for("the bad context's details", WAIT, |s| {
        s.contains("┌ bad ") && s.contains("SSO session expired")
    });
    assert!(
        !details.contains("TOPSECRET") && !details.contains("hunter2"),
        "{details}"
    );
    t.send(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
    let log = std::fs::read_to_string(state.join("state").join("kdeck.log")).unwrap();
    assert!(log.contains("credential plugin bad-token failed"), "{log}");
    assert!(
        !log.contains("TOPSECRET") && !log.contains("hunter2"),
        "{log}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(state.join("state").join("kdeck.log"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the log file is private");
    }
}
