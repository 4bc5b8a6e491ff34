//! End to end: an SRE syncs a drifted Argo CD app from the keyboard. The real kdeck binary
//! in tmux against a demo cluster whose simulated application controller runs what kdeck
//! writes: `:pane drift` shows an OutOfSync app first, `:sync` (with confirm) turns the
//! drifted `payments` app Synced on screen, and the audit log has the line.

use crate::drift_demo::{DriftDemo, USER, WAIT};

/// Data rows of the Drift table, top to bottom.
fn data_rows(screen: &str) -> Vec<&str> {
    let lines: Vec<&str> = screen.lines().collect();
    let Some(header) = lines
        .iter()
        .position(|l| l.contains("SYNC") && l.contains("NAME"))
    else {
        return Vec::new();
    };
    lines[header + 1..]
        .iter()
        .take_while(|l| l.starts_with('│') && !l.trim_matches(|c| c == '│' || c == ' ').is_empty())
        .copied()
        .collect()
}

fn payments_row(screen: &str) -> Option<&str> {
    data_rows(screen)
        .into_iter()
        .find(|l| l.contains(" payments "))
}

#[test]
fn sync_a_drifted_app_from_the_keyboard() {
    let d = DriftDemo::start();
    let t = d.tmux("");
    t.wait_text("● live", WAIT);
    t.send(&[":"]);
    t.type_text("pane drift");
    t.wait_text(":pane drift", WAIT);
    t.send(&["Enter"]);
    let screen = t.wait_for("the drifted payments app", WAIT, |s| {
        payments_row(s).is_some_and(|r| r.contains("≠ OutOfSync"))
    });
    // What needs a human first: the top row is out of sync, and the drifted app comes
    // before every synced one.
    let rows = data_rows(&screen);
    assert!(rows[0].contains("≠ OutOfSync"), "{screen}");
    let pos = rows.iter().position(|r| r.contains(" payments ")).unwrap();
    assert!(
        rows[..pos]
            .iter()
            .all(|r| !r.contains("✔ Synced ") || r.contains("✖")),
        "{screen}"
    );
    assert!(
        rows[pos..].iter().any(|r| r.contains("✔ Synced")),
        "{screen}"
    );

    t.send(&["/"]);
    t.type_text("payments");
    t.send(&["Enter"]);
    t.wait_for("only payments listed", WAIT, |s| data_rows(s).len() == 1);
    t.send(&[":"]);
    t.type_text("sync");
    t.wait_text(":sync", WAIT);
    t.send(&["Enter"]);
    t.wait_text("Confirm: sync", WAIT);
    t.wait_text("✔ allowed", WAIT);
    // The dialog offers its keys once it is armed (keys typed ahead never confirm).
    t.wait_text("enter/y  sync", WAIT);
    t.send(&["y"]);
    t.wait_text("✔ sync Application argocd/payments", WAIT);
    t.wait_for("payments synced on screen", WAIT, |s| {
        payments_row(s).is_some_and(|r| r.contains("✔ Synced") && r.contains("✔ Succeeded"))
    });
    let app = d.app("payments");
    assert_eq!(app["status"]["sync"]["status"], "Synced");
    assert_eq!(
        app["status"]["operationState"]["operation"]["initiatedBy"]["username"],
        USER
    );

    t.send(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
    let audit = d.audit();
    assert_eq!(audit.len(), 1, "{audit:?}");
    let a = &audit[0];
    assert_eq!(
        (a["action"].as_str(), a["outcome"].as_str()),
        (Some("sync"), Some("ok"))
    );
    assert_eq!(a["context"], "demo-us-east");
    assert_eq!(a["user"], USER);
    assert_eq!(a["object"]["kind"], "Application");
    assert_eq!(a["object"]["name"], "payments");
    assert_eq!(a["requests"][0]["method"], "PATCH");
    assert!(
        a["requests"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("/namespaces/argocd/applications/payments")
    );
    assert_eq!(
        a["requests"][0]["body"]["operation"]["initiatedBy"]["username"],
        USER
    );
}
