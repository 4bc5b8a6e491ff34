//! End to end: the on-call reads the Circuit-breakers pane. The real kdeck binary in tmux
//! against `kdeck demo serve` with three clusters (Istio and Envoy stats on the first, no
//! Istio on the second, Istio without Envoy stats on the third): `:pane breakers` (and its
//! number key) shows a tripping breaker first with its flag counts, the cluster without
//! Istio says so, and taking the demo's Prometheus down (through the control API) marks the
//! live columns stale while the configuration stays; bringing it back clears the marks.

use std::io::{Read, Write};
use std::time::Duration;

use crate::e2e_shell::{DemoProcess, free_base_port};
use crate::tmux::{Tmux, kdeck_bin, shell_quote};

const WAIT: Duration = Duration::from_secs(90);

/// Data rows of the Breakers table, top to bottom.
fn data_rows(screen: &str) -> Vec<&str> {
    let lines: Vec<&str> = screen.lines().collect();
    let Some(header) = lines
        .iter()
        .position(|l| l.contains("STATE") && l.contains("HOST"))
    else {
        return Vec::new();
    };
    lines[header + 1..]
        .iter()
        .take_while(|l| l.starts_with('│') && !l.trim_matches(|c| c == '│' || c == ' ').is_empty())
        .copied()
        .collect()
}

fn row<'a>(screen: &'a str, cluster: &str, host: &str) -> Option<&'a str> {
    data_rows(screen).into_iter().find(|l| {
        let cells: Vec<&str> = l.trim_start_matches('│').split_whitespace().collect();
        // A narrow CLUSTER column may cut the name.
        cells
            .first()
            .is_some_and(|c| cluster.starts_with(c.trim_end_matches('…')))
            && cells.get(2) == Some(&host)
    })
}

/// POSTs a fault to the demo's control API, with the control token `demo serve` wrote next to
/// its kubeconfig.
fn fault(base: u16, kubeconfig: &std::path::Path, cluster: &str, body: &str) {
    let token_file = format!("{}.control-token", kubeconfig.display());
    let token = std::fs::read_to_string(&token_file).unwrap();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", base)).unwrap();
    write!(
        s,
        "POST /clusters/{cluster}/faults HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        token.trim(),
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.") && out.contains(" 200 "), "{out}");
}

#[test]
fn breakers_pane_trips_first_and_stale_live_columns_without_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let base = free_base_port(7);
    let _demo = DemoProcess::start(base, &kubeconfig, &["--clusters", "3"]);
    let cfg = dir.path().join("cfg");
    std::fs::create_dir_all(&cfg).unwrap();
    // Poll often, so the test sees Prometheus leave and return quickly.
    std::fs::write(
        cfg.join("config.toml"),
        "[prometheus]\ninterval_secs = 2\ntimeout_secs = 2\n",
    )
    .unwrap();
    let t = Tmux::start(
        &format!(
            "{} --kubeconfig {} --all-contexts",
            shell_quote(&kdeck_bin().display().to_string()),
            shell_quote(&kubeconfig.display().to_string())
        ),
        120,
        40,
        &[("KDECK_CONFIG", cfg.to_str().unwrap())],
    );
    t.wait_text("demo-us-east", WAIT);
    t.send(&[":"]);
    t.type_text("pane breakers");
    t.send(&["Enter"]);
    let screen = t.wait_for("a tripping breaker with its counts, first", WAIT, |s| {
        data_rows(s)
            .first()
            .is_some_and(|r| r.contains("▲ tripping") && r.contains("UO "))
            && row(s, "us-east", "catalog").is_some_and(|r| r.contains("✖ open"))
            && row(s, "ap-south", "ledger").is_some_and(|r| r.contains("no stats"))
    });
    // Tripping and open first: every row above the first quiet one needs a human.
    let rows = data_rows(&screen);
    let calm = rows
        .iter()
        .position(|r| {
            r.contains("✔ quiet") || r.contains("– no breaker") || r.contains("? no live data")
        })
        .unwrap();
    assert!(
        rows[..calm]
            .iter()
            .all(|r| r.contains("▲ tripping") || r.contains("✖ open") || r.contains("◆ ejecting")),
        "{screen}"
    );
    assert!(screen.contains("demo-eu-west not installed"), "{screen}");
    // Envoy's stats: exported by us-east's sidecars, not by ap-south's.
    let ledger_east = row(&screen, "us-east", "ledger").unwrap();
    assert!(ledger_east.contains("0/2"), "{ledger_east}");
    let ledger_south = row(&screen, "ap-south", "ledger").unwrap();
    assert!(ledger_south.contains("no stats"), "{ledger_south}");
    assert!(
        row(&screen, "us-east", "ledger").is_some_and(|r| r.contains("100/16/100/3 *")),
        "{screen}"
    );

    // The pane's number key reaches it too.
    let key = kdeck::panes::registry()
        .iter()
        .position(|p| p.id() == "breakers")
        .unwrap()
        + 1;
    t.send(&["1"]);
    t.wait_for("the Clusters pane", WAIT, |s| s.contains("┌ Clusters"));
    t.send(&[&key.to_string()]);
    // Back on screen, the pane's Prometheus queries run again: wait until us-east's live
    // numbers are in, so the fault below finds last good numbers to keep.
    t.wait_for("the Breakers pane again, us-east live", WAIT, |s| {
        s.contains("┌ Breakers")
            && data_rows(s).len() > 5
            && row(s, "us-east", "ledger").is_some_and(|r| r.contains("UO ") && !r.contains('◐'))
    });

    // Prometheus goes away: the live columns are marked, the configuration stays.
    fault(
        base,
        &kubeconfig,
        "demo-us-east",
        r#"{"action":"prom-down"}"#,
    );
    let screen = t.wait_for("us-east's live columns stale", WAIT, |s| {
        s.contains("demo-us-east prometheus stale since")
            && row(s, "us-east", "ledger").is_some_and(|r| r.contains("◐ UO "))
    });
    let ledger = row(&screen, "us-east", "ledger").unwrap();
    assert!(ledger.contains("100/16/100/3 *"), "config kept: {ledger}");
    assert!(ledger.contains("▲ tripping ◐"), "{ledger}");
    // The other cluster's Prometheus is fine.
    assert!(
        row(&screen, "ap-south", "ledger").is_some_and(|r| !r.contains('◐')),
        "{screen}"
    );

    fault(base, &kubeconfig, "demo-us-east", r#"{"action":"prom-up"}"#);
    t.wait_for("live numbers again", WAIT, |s| {
        !s.contains("prometheus stale")
            && row(s, "us-east", "ledger").is_some_and(|r| !r.contains('◐') && r.contains("UO "))
    });
    t.send(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
}
