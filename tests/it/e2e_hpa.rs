//! End to end: an SRE looks at the autoscalers and gives one room from the keyboard. The real
//! kdeck binary in tmux against a demo cluster whose simulated HPA controller runs: `:pane hpa`
//! and key `3` show the HPA pinned at max first; `s` asks for the replicas, the confirm dialog
//! says what the HPA will do about it, and the new count is on screen within seconds; the
//! audit log has the line.

use std::time::Duration;

use kdeck_demo::{Demo, DemoConfig, SimOptions};
use serde_json::Value;

use crate::tmux::{Tmux, kdeck_bin, shell_quote};

const WAIT: Duration = Duration::from_secs(60);

struct Fixture {
    rt: tokio::runtime::Runtime,
    demo: Option<Demo>,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn start() -> Self {
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

    fn tmux(&self, args: &str) -> Tmux {
        let cmd = format!(
            "{} --kubeconfig {} {args}",
            shell_quote(&kdeck_bin().display().to_string()),
            shell_quote(&self.dir.path().join("kubeconfig").display().to_string())
        );
        let cfg = self.dir.path().join("cfg");
        Tmux::start(&cmd, 120, 40, &[("KDECK_CONFIG", cfg.to_str().unwrap())])
    }

    /// The audit log's outcome lines.
    fn audit(&self) -> Vec<Value> {
        crate::helpers::audit_outcomes(&self.dir.path().join("cfg").join("state").join("audit.log"))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(d) = self.demo.take() {
            self.rt.block_on(d.shutdown());
        }
    }
}

/// Data rows of the table, top to bottom.
fn data_rows(screen: &str) -> Vec<&str> {
    let lines: Vec<&str> = screen.lines().collect();
    let Some(header) = lines
        .iter()
        .position(|l| l.contains("REPLICAS") && l.contains("NAME"))
    else {
        return Vec::new();
    };
    lines[header + 1..]
        .iter()
        .take_while(|l| l.starts_with('│') && !l.trim_matches(|c| c == '│' || c == ' ').is_empty())
        .copied()
        .collect()
}

fn row<'a>(screen: &'a str, name: &str) -> Option<&'a str> {
    data_rows(screen)
        .into_iter()
        .find(|l| l.contains(&format!(" {name} ")))
}

#[test]
fn pinned_first_then_scale_from_the_keyboard() {
    let f = Fixture::start();
    let t = f.tmux("");
    t.wait_text("Clusters (1) ● live", WAIT);
    t.send(&[":"]);
    t.type_text("pane hpa");
    t.wait_text(":pane hpa", WAIT);
    t.send(&["Enter"]);
    let screen = t.wait_for("the HPA pane with its rows", WAIT, |s| {
        s.contains("HPA (") && data_rows(s).len() >= 5 && s.contains("● live")
    });
    let first = data_rows(&screen)[0];
    assert!(
        first.contains(" indexer ") && first.contains("▲ pinned at max 3"),
        "the pinned HPA should lead:\n{screen}"
    );
    // The same from another pane with key 3.
    t.send(&["1"]);
    t.wait_for("the Clusters pane", WAIT, |s| !s.contains("REPLICAS"));
    t.send(&["3"]);
    let screen = t.wait_for("the HPA pane again", WAIT, |s| !data_rows(s).is_empty());
    assert!(
        data_rows(&screen)[0].contains("▲ pinned at max"),
        "{screen}"
    );

    // payments/ledger cannot read its metric, so its HPA will not move a manual count.
    let screen = t.wait_for("ledger unable to scale", WAIT, |s| {
        row(s, "ledger").is_some_and(|r| r.contains("unable to scale"))
    });
    assert!(row(&screen, "ledger").unwrap().contains(" 2 "), "{screen}");
    t.send(&["/"]);
    t.type_text("ledger");
    t.send(&["Enter"]);
    t.wait_for("only ledger listed", WAIT, |s| data_rows(s).len() == 1);
    t.send(&["s"]);
    t.wait_text("replicas for deploy payments/ledger (now 2)", WAIT);
    t.send(&["BSpace"]);
    t.type_text("4");
    t.send(&["Enter"]);
    let dialog = t.wait_text("Confirm: scale", WAIT);
    assert!(
        dialog.contains("cannot compute a replica count now"),
        "{dialog}"
    );
    t.wait_text("✔ allowed", WAIT);
    // The dialog offers its keys once it is armed (keys typed ahead never confirm).
    t.wait_text("enter/y  scale", WAIT);
    t.send(&["y"]);
    t.wait_for("ledger at 4 on screen", Duration::from_secs(10), |s| {
        row(s, "ledger").is_some_and(|r| r.contains(" 4 "))
    });
    t.wait_text("✔ scale Deployment payments/ledger", WAIT);
    t.send(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);

    let audit = f.audit();
    assert_eq!(audit.len(), 1, "{audit:?}");
    let a = &audit[0];
    assert_eq!(
        (a["action"].as_str(), a["outcome"].as_str()),
        (Some("scale"), Some("ok"))
    );
    assert_eq!(a["object"]["kind"], "Deployment");
    assert_eq!(a["object"]["name"], "ledger");
    assert!(
        a["requests"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("/deployments/ledger/scale")
    );
    assert_eq!(a["requests"][0]["body"]["spec"]["replicas"], 4);
}
