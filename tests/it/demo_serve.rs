//! `kdeck demo serve` as a process: prints the addresses and where the control token is,
//! serves kubectl through the written kubeconfig, answers the control API only with that
//! token, stops cleanly on SIGTERM, and refuses bad arguments with one clear line.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use kdeck_demo::testing::demo_harness::{DEADLINE, find_row, kubeconfig_credentials, plain_http};

fn serve(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kdeck"));
    cmd.args(["demo", "serve"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_until_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kc.yaml");
    let mut child = serve(&["--clusters", "2", "--kubeconfig-out", kc.to_str().unwrap()])
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let done = line.starts_with("control-token");
            printed.push(line);
            if done {
                break;
            }
        }
    })
    .await
    .expect("demo serve printed its addresses");
    let text = printed.join("\n");
    let us = find_row(&text, "demo-us-east").unwrap_or_else(|| panic!("{text}"));
    assert_eq!(us[1], "kubernetes");
    assert!(us[2].starts_with("https://127.0.0.1:"), "{text}");
    assert_eq!(us[3], "prometheus");
    assert!(find_row(&text, "demo-eu-west").is_some(), "{text}");
    assert_eq!(
        find_row(&text, "kubeconfig").unwrap()[1],
        kc.to_str().unwrap()
    );
    // The control API wants the token from the file the startup lines name; no token is
    // ever printed.
    let control = find_row(&text, "control").unwrap()[1].clone();
    let token_file = find_row(&text, "control-token").unwrap()[1].clone();
    let token = std::fs::read_to_string(&token_file).unwrap();
    let token = token.trim();
    assert!(!text.contains(token), "{text}");
    let credentials = kubeconfig_credentials(&kc);
    assert!(!text.contains(&credentials.token), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [kc.as_path(), std::path::Path::new(&token_file)] {
            let mode = std::fs::metadata(file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", file.display());
        }
    }
    let clusters = format!("{control}/clusters");
    let refused = plain_http().get(&clusters).send().await.unwrap();
    assert_eq!(refused.status(), reqwest::StatusCode::UNAUTHORIZED);
    let listed: serde_json::Value = plain_http()
        .get(&clusters)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["clusters"][1]["name"], "demo-eu-west", "{listed}");
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kc)
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .args(["--context", "demo-eu-west", "get", "ns", "default"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        find_row(&stdout, "default").unwrap()[1],
        "Active",
        "{stdout}"
    );
    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(DEADLINE, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit after SIGTERM: {status:?}");
}

async fn refused(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kc");
    let mut all = vec!["--kubeconfig-out", kc.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = tokio::time::timeout(DEADLINE, serve(&all).output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "one clear line: {stderr}");
    assert!(!kc.exists(), "no kubeconfig written on failure");
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_bad_arguments_with_one_line() {
    let e = refused(&["--clusters", "0"]).await;
    assert!(e.contains("--clusters must be at least 1"), "{e}");
    // A port already in use (the control port, BASE).
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let e = refused(&["--port", &port, "--clusters", "1"]).await;
    assert!(e.contains("cannot listen on 127.0.0.1:"), "{e}");
    assert!(e.contains("in use"), "{e}");
    let e = refused(&["--port", "65534", "--clusters", "2"]).await;
    assert!(e.contains("beyond 65535"), "{e}");
}
