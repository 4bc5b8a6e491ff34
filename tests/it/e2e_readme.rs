//! End to end: what the README promises about keys, flags and config, each through the real
//! binary in tmux against a demo: `--dry-run`, per-context `readonly = true`, refusing to act
//! on data that is not live, `ctrl-r` relisting, `C` and `enter` scoping, the vim keymap and
//! `NO_COLOR`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::e2e_shell::kdeck_cmd;
use crate::rollout_demo::{Fixture, WAIT};
use crate::tmux::Tmux;

/// Data rows of the table on screen, top to bottom.
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

/// The Rollouts pane with only `e2e/web` listed (so it is the selected row).
fn select_web(t: &Tmux) {
    t.send(&["2"]);
    t.wait_for("the paused canary", WAIT, |s| {
        data_rows(s).iter().any(|r| r.contains(" web "))
    });
    t.send(&["/"]);
    t.wait_for("the filter line", WAIT, |s| {
        s.lines().rev().take(3).any(|l| l.starts_with(" /"))
    });
    t.type_text("web");
    t.send(&["Enter"]);
    t.wait_for("only web listed", WAIT, |s| data_rows(s).len() == 1);
}

fn step(r: &Value) -> Option<i64> {
    r.pointer("/status/currentStepIndex")
        .and_then(Value::as_i64)
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn dry_run_flag_sends_a_server_side_dry_run_and_keeps_nothing() {
    let f = Fixture::start();
    let faults = &f.demo.as_ref().unwrap().clusters()[0].faults;
    let t = f.tmux("--dry-run");
    select_web(&t);
    let before = f.rollout();
    let writes = faults.stats().writes;
    t.send(&["p"]);
    t.wait_text("enter/y  promote", WAIT);
    t.send(&["y"]);
    // (The dialog itself says "server-side dry run": wait for the outcome's words.)
    let screen = t.wait_text("dry run accepted", WAIT);
    assert!(!screen.contains("Confirm:"), "{screen}");
    wait_until("the outcome in the audit log", || !f.audit().is_empty());
    // The server received the write and kept nothing.
    assert_eq!(faults.stats().writes, writes + 1);
    let after = f.rollout();
    assert_eq!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
    assert_eq!(step(&after), Some(1));
    let audit = f.audit();
    assert_eq!(audit[0]["action"], "promote");
    assert_eq!(audit[0]["outcome"], "ok");
    t.send(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
}

#[test]
fn a_context_read_only_in_config_refuses_and_sends_nothing() {
    let f = Fixture::start();
    std::fs::create_dir_all(f.config_dir()).unwrap();
    std::fs::write(
        f.config_dir().join("config.toml"),
        "[contexts.demo-us-east]\nreadonly = true\n",
    )
    .unwrap();
    let faults = &f.demo.as_ref().unwrap().clusters()[0].faults;
    let t = f.tmux("");
    select_web(&t);
    let writes = faults.stats().writes;
    t.send(&["p"]);
    let screen = t.wait_text("read-only in config.toml", WAIT);
    assert!(!screen.contains("Confirm:"), "{screen}");
    wait_until("the refusal in the audit log", || !f.audit().is_empty());
    assert_eq!(faults.stats().writes, writes, "no write reached the server");
    assert_eq!(f.audit()[0]["outcome"], "refused");
    assert_eq!(step(&f.rollout()), Some(1));
    t.send(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
}

#[test]
fn data_that_is_not_live_is_never_acted_on() {
    let f = Fixture::start();
    let faults = &f.demo.as_ref().unwrap().clusters()[0].faults;
    let t = f.tmux("");
    select_web(&t);
    // The API server stops answering: within 30 s the pane says its data is stale.
    faults.set_frozen(true);
    t.wait_for("the rollouts marked stale", Duration::from_secs(45), |s| {
        s.lines()
            .any(|l| l.contains("Rollouts") && l.contains("stale since"))
    });
    // Even confirmed, the executor refuses: it acts only on what it can show to be current.
    t.send(&["p"]);
    t.wait_text("enter/y  promote", WAIT);
    t.send(&["y"]);
    let screen = t.wait_text("not live", WAIT);
    assert!(!screen.contains("Confirm: promote"), "{screen}");
    wait_until("the refusal in the audit log", || !f.audit().is_empty());
    let audit = f.audit();
    assert_eq!(audit[0]["action"], "promote");
    assert_eq!(audit[0]["outcome"], "refused");
    faults.set_frozen(false);
    assert_eq!(step(&f.rollout()), Some(1));
    t.send(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
}

#[test]
fn ctrl_r_lists_every_source_again() {
    let f = Fixture::start();
    let faults = &f.demo.as_ref().unwrap().clusters()[0].faults;
    let t = f.tmux("");
    t.wait_text("● live", WAIT);
    // Every watch has made its first list (no list for a while), then ctrl-r.
    let mut lists = faults.stats().lists;
    let deadline = Instant::now() + WAIT;
    loop {
        std::thread::sleep(Duration::from_secs(2));
        let now = faults.stats().lists;
        if now == lists {
            break;
        }
        lists = now;
        assert!(Instant::now() < deadline, "the lists never settled");
    }
    t.send(&["C-r"]);
    t.wait_text("reconnecting and relisting", WAIT);
    // One list per watched kind: at least nodes, namespaces, pods, rollouts, replica sets,
    // deployments and analysis runs on the Clusters pane.
    wait_until("every source listed again", || {
        faults.stats().lists >= lists + 7
    });
    t.wait_text("● live", WAIT);
    t.send(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
}

/// The cluster named in the card below the Clusters table (the selected one).
fn card(screen: &str) -> Option<&str> {
    screen
        .lines()
        .find(|l| l.starts_with("┌ demo-"))
        .and_then(|l| l.trim_start_matches("┌ ").split_whitespace().next())
}

#[test]
fn vim_keys_move_scope_and_quit() {
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::start(
        &kdeck_cmd("--demo --keymap vim"),
        120,
        40,
        &[("KDECK_CONFIG", dir.path().to_str().unwrap())],
    );
    t.wait_for("both clusters live", WAIT, |s| {
        s.matches("● live").count() >= 2 && card(s).is_some()
    });
    let first = card(&t.screen()).unwrap().to_string();
    t.send(&["G"]);
    let screen = t.wait_for("the last cluster selected", WAIT, |s| {
        card(s).is_some_and(|c| c != first)
    });
    let last = card(&screen).unwrap().to_string();
    t.send(&["g", "g"]);
    t.wait_for("the first cluster again", WAIT, |s| card(s) == Some(&first));
    t.send(&["j"]);
    t.wait_for("j moves down", WAIT, |s| card(s) == Some(&last));
    t.send(&["k"]);
    t.wait_for("k moves up", WAIT, |s| card(s) == Some(&first));

    // enter focuses the selected cluster everywhere; C goes back to all clusters.
    t.send(&["Enter"]);
    t.wait_text(&format!("cluster {first}"), WAIT);
    t.send(&["C"]);
    t.wait_text("clusters all (2)", WAIT);
    t.send(&["C"]);
    t.wait_text(&format!("cluster {first}"), WAIT);

    t.send(&["Z", "Z"]);
    assert_eq!(t.wait_exit(WAIT), 0);
}

/// Whether an ANSI capture sets a foreground or background colour (SGR 30–37, 38, 40–47, 48,
/// 90–97, 100–107).
fn sets_colour(ansi: &str) -> bool {
    ansi.split("\x1b[").skip(1).any(|seq| {
        let Some(end) = seq.find('m') else {
            return false;
        };
        seq[..end].split(';').any(|p| {
            p.parse::<u16>().is_ok_and(|n| {
                (30..=38).contains(&n)
                    || (40..=48).contains(&n)
                    || (90..=97).contains(&n)
                    || (100..=107).contains(&n)
            })
        })
    })
}

#[test]
fn no_color_draws_with_modifiers_only() {
    let run = |env: &[(&str, &str)]| {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().to_str().unwrap().to_string();
        let mut vars = vec![("KDECK_CONFIG", cfg.as_str())];
        vars.extend_from_slice(env);
        let t = Tmux::start(&kdeck_cmd("--demo"), 120, 40, &vars);
        t.wait_for("both clusters live", WAIT, |s| {
            s.matches("● live").count() >= 2
        });
        let ansi = t.screen_ansi();
        t.send(&["q"]);
        assert_eq!(t.wait_exit(WAIT), 0);
        ansi
    };
    // The same screen in colour, so the check below can tell.
    assert!(sets_colour(&run(&[])), "the default theme draws in colour");
    let mono = run(&[("NO_COLOR", "1")]);
    assert!(
        !sets_colour(&mono),
        "NO_COLOR still drew colours:\n{mono:?}"
    );
    // The selection and the active tab still stand out: reverse video or bold.
    assert!(
        mono.contains("\x1b[7m") || mono.contains(";7m") || mono.contains("\x1b[1m"),
        "{mono:?}"
    );
}
