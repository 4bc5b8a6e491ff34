//! End to end: an SRE acts on a canary from the keyboard. The real kdeck binary in tmux,
//! against a demo cluster whose simulated Argo Rollouts controller reacts to what kdeck
//! sends: a paused canary at the top, promote (with confirm) advancing it on screen, abort,
//! retry, `--readonly` refusing with nothing changed, `kdeck rollout NAME` opening the detail
//! view, and the audit log recording every attempt.

use std::time::Duration;

use serde_json::{Value, json};

use crate::rollout_demo::{Fixture, NS, WAIT};
use crate::tmux::Tmux;

fn web_row(screen: &str) -> Option<&str> {
    screen
        .lines()
        .find(|l| l.contains(" web ") && l.contains('│') && !l.contains("Rollout e2e"))
}

/// Data rows of the Rollouts table, top to bottom.
fn data_rows(screen: &str) -> Vec<&str> {
    let lines: Vec<&str> = screen.lines().collect();
    let Some(header) = lines
        .iter()
        .position(|l| l.contains("STATUS") && l.contains("NAME"))
    else {
        return Vec::new();
    };
    lines[header + 1..]
        .iter()
        .take_while(|l| l.starts_with('│') && !l.trim_matches(|c| c == '│' || c == ' ').is_empty())
        .copied()
        .collect()
}

fn confirm(t: &Tmux, action: &str) {
    t.wait_text(&format!("Confirm: {action}"), WAIT);
    t.wait_text("✔ allowed", WAIT);
    // The dialog offers its keys once it is armed (keys typed ahead never confirm).
    t.wait_text(&format!("enter/y  {action}"), WAIT);
    t.send(&["y"]);
    t.wait_for("the dialog to close", WAIT, |s| !s.contains("Confirm:"));
}

#[test]
fn promote_abort_retry_from_the_keyboard() {
    let f = Fixture::start();
    let t = f.tmux("");
    t.send(&["2"]);
    let screen = t.wait_for("the paused canary", WAIT, |s| {
        web_row(s).is_some_and(|r| r.contains("‖ Paused") && r.contains("1/4"))
    });
    // What needs a human comes first: every row above web is also waiting for one.
    let rows = data_rows(&screen);
    let pos = rows.iter().position(|r| r.contains(" web ")).unwrap();
    assert!(
        rows[..=pos].iter().all(|r| r.contains("‖ Paused")),
        "paused rows should lead:\n{screen}"
    );

    // Select it through the filter, then promote.
    t.send(&["/"]);
    t.type_text("web");
    t.send(&["Enter"]);
    t.wait_for("only web listed", WAIT, |s| data_rows(s).len() == 1);
    let rv_before = f.rollout()["metadata"]["resourceVersion"].clone();
    // Typed ahead in one burst, `p y` opens the dialog but the `y` does not confirm it: the
    // dialog is still there once it offers its keys, and nothing was sent.
    t.send(&["p", "y"]);
    t.wait_text("enter/y  promote", WAIT);
    assert!(t.screen().contains("Confirm: promote"), "{}", t.screen());
    assert_eq!(f.rollout()["metadata"]["resourceVersion"], rv_before);
    confirm(&t, "promote");
    t.wait_text("✔ promote Rollout e2e/web", WAIT);
    t.wait_for("web advanced to the next pause", WAIT, |s| {
        web_row(s).is_some_and(|r| r.contains("3/4") && r.contains("‖ Paused"))
    });
    let r = f.rollout();
    assert_ne!(r["metadata"]["resourceVersion"], rv_before);
    assert_eq!(
        r.pointer("/status/currentStepIndex")
            .and_then(Value::as_i64),
        Some(3)
    );

    // Abort, then retry.
    t.send(&["a"]);
    confirm(&t, "abort");
    t.wait_for("web aborted", WAIT, |s| {
        web_row(s).is_some_and(|r| r.contains("✖ Aborted"))
    });
    assert_eq!(f.rollout().pointer("/status/abort"), Some(&json!(true)));
    t.send(&["R"]);
    confirm(&t, "retry");
    t.wait_for("web retried back to its first pause", WAIT, |s| {
        web_row(s).is_some_and(|r| !r.contains("Aborted") && r.contains("1/4"))
    });
    assert_ne!(f.rollout().pointer("/status/abort"), Some(&json!(true)));

    // Retry is refused on a rollout that is not aborted: the reason, no dialog.
    t.send(&["R"]);
    t.wait_text("only an aborted rollout can be retried", WAIT);
    assert!(!t.screen().contains("Confirm:"));

    t.send(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);

    let audit = f.audit();
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap(),
                a["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![("promote", "ok"), ("abort", "ok"), ("retry", "ok")]
    );
    for a in &audit {
        assert_eq!(a["context"], "demo-us-east");
        assert_eq!(a["user"], "demo-admin");
        assert_eq!(a["object"]["kind"], "Rollout");
        assert_eq!(a["object"]["name"], "web");
        assert!(
            a["requests"][0]["path"]
                .as_str()
                .unwrap()
                .ends_with("/rollouts/web/status")
        );
    }
}

#[test]
fn readonly_refuses_and_changes_nothing() {
    let f = Fixture::start();
    let t = f.tmux("--readonly");
    t.wait_text("READ-ONLY", WAIT);
    t.send(&["2"]);
    t.wait_for("the paused canary", WAIT, |s| {
        web_row(s).is_some_and(|r| r.contains("‖ Paused"))
    });
    t.send(&["/"]);
    t.type_text("web");
    t.send(&["Enter"]);
    t.wait_for("only web listed", WAIT, |s| data_rows(s).len() == 1);
    let before = f.rollout();
    let faults = &f.demo.as_ref().unwrap().clusters()[0].faults;
    let writes = faults.stats().writes;
    t.send(&["p"]);
    let screen = t.wait_text("read-only mode", WAIT);
    assert!(!screen.contains("Confirm:"), "{screen}");
    // The refusal is recorded once the executor is done with the action: by then any request
    // it sent would have been counted by the demo's API server.
    wait_until("the refusal in the audit log", || !f.audit().is_empty());
    assert_eq!(faults.stats().writes, writes, "no write reached the server");
    let after = f.rollout();
    assert_eq!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
    assert_eq!(
        after.pointer("/status/pauseConditions/0/reason"),
        Some(&json!("CanaryPauseStep"))
    );
    t.send(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
    let audit = f.audit();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["action"], "promote");
    assert_eq!(audit[0]["outcome"], "refused");
}

/// Quitting while an action is under way gives it a moment, then records its outcome as
/// unknown (the write may have landed), so the audit log never ends with an intent alone.
#[test]
fn quitting_with_an_action_in_flight_records_an_unknown_outcome() {
    let f = Fixture::start();
    let t = f.tmux("");
    t.send(&["2"]);
    t.wait_for("the paused canary", WAIT, |s| {
        web_row(s).is_some_and(|r| r.contains("‖ Paused"))
    });
    t.send(&["/"]);
    t.type_text("web");
    t.send(&["Enter"]);
    t.wait_for("only web listed", WAIT, |s| data_rows(s).len() == 1);
    // The server applies writes at once but answers them only after a minute.
    let faults = &f.demo.as_ref().unwrap().clusters()[0].faults;
    faults.set_write_answer_delay(Duration::from_secs(60));
    t.send(&["p"]);
    confirm(&t, "promote");
    t.wait_text("promote Rollout e2e/web: sending", WAIT);
    let log = f.config_dir().join("state").join("audit.log");
    wait_until("the intent line", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("\"phase\":\"intent\""))
    });
    t.send(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
    faults.set_write_answer_delay(Duration::ZERO);
    let audit = f.audit();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["outcome"], "unknown");
    assert!(
        audit[0]["message"]
            .as_str()
            .unwrap()
            .contains("kdeck exited while the action was under way"),
        "{audit:?}"
    );
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "never saw {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn rollout_command_opens_the_detail_view() {
    let f = Fixture::start();
    let t = f.tmux(&format!("rollout web -n {NS}"));
    let screen = t.wait_for("the detail view", WAIT, |s| {
        s.contains("Rollout e2e/web") && s.contains("Steps") && s.contains("▶")
    });
    assert!(screen.contains("pause (until promoted)"), "{screen}");
    assert!(screen.contains("Revisions"), "{screen}");
    // The controller's events about this rollout, from a watch scoped to it.
    t.wait_for("the rollout's events", WAIT, |s| {
        s.contains("RolloutPaused Rollout is paused (CanaryPauseStep)")
            && s.contains("RolloutStepCompleted Rollout step 1/4 completed (setWeight: 20)")
    });
    t.send(&["Escape"]);
    t.wait_for("back to the list", WAIT, |s| s.contains("need attention"));
    t.send(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
}
