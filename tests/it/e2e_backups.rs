//! The Backups pane end to end: the real binary against `--demo` in tmux, keys in, screen
//! out. `:pane backups` shows the breached schedule first; backup-now on a schedule, confirmed,
//! makes a new backup appear and reach Completed on screen; the cluster without Velero says
//! "not installed".

use std::time::Duration;

use crate::tmux::{Tmux, kdeck_bin, shell_quote};

const WAIT: Duration = Duration::from_secs(90);

/// The table's data rows (between the header and the bottom border).
fn data_rows(screen: &str) -> Vec<&str> {
    let lines: Vec<&str> = screen.lines().collect();
    let Some(header) = lines
        .iter()
        .position(|l| l.contains("KIND") && l.contains("STATUS"))
    else {
        return Vec::new();
    };
    lines[header + 1..]
        .iter()
        .take_while(|l| !l.starts_with('└'))
        .filter(|l| l.trim_matches(['│', ' ']).len() > 1)
        .copied()
        .collect()
}

fn start() -> (Tmux, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cmd = format!(
        "{} --demo --demo-speed 4",
        shell_quote(&kdeck_bin().display().to_string())
    );
    let t = Tmux::start(
        &cmd,
        120,
        40,
        &[("KDECK_CONFIG", dir.path().to_str().unwrap())],
    );
    t.wait_text("demo-us-east", WAIT);
    (t, dir)
}

/// Whether the screen's status line is the filter's.
fn filtering(s: &str) -> bool {
    s.lines()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(2)
        .any(|l| l.starts_with(" /"))
}

/// Sends `key` until the screen shows `pred` (at most four times, three seconds apart): a key
/// typed right after leaving the command line or the filter is sometimes not taken by kdeck
/// (seen under tmux; reported to the lead). Sending again is harmless: each key used here
/// does nothing in the state it leads to.
fn press_until(t: &Tmux, key: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
    // Every status line seen meanwhile: a short-lived message says why a key did nothing.
    let mut status_lines = std::collections::BTreeSet::new();
    for _ in 0..4 {
        t.send(&[key]);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            let s = t.screen();
            if pred(&s) {
                return s;
            }
            if let Some(last) = s.lines().rev().find(|l| !l.trim().is_empty()) {
                status_lines.insert(last.trim().to_string());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    panic!(
        "{key} never led to {what}; status lines seen: {status_lines:#?}\n{}",
        t.screen()
    );
}

/// Sets the row filter, one step at a time (each step seen on screen before the next key).
fn filter(t: &Tmux, text: &str) {
    press_until(t, "/", "the filter line", filtering);
    t.send(&["C-u"]);
    t.type_text(text);
    t.wait_text(&format!("/{text} "), WAIT);
    t.send(&["Enter"]);
    t.wait_for("the key hints back", WAIT, |s| s.contains("enter Details"));
}

fn command(t: &Tmux, text: &str) {
    press_until(t, ":", "the command line", |s| {
        s.lines()
            .rev()
            .filter(|l| !l.trim().is_empty())
            .take(2)
            .any(|l| l.starts_with(" :"))
    });
    t.type_text(text);
    t.send(&["Enter"]);
}

#[test]
fn breached_first_backup_now_completes_on_screen_and_no_velero_says_not_installed() {
    let (t, dir) = start();
    command(&t, "pane backups");
    // The schedules whose RPO is breached come first: the first row is one of them.
    let screen = t.wait_for("schedules listed, breached first", WAIT, |s| {
        s.contains("● demo-us-east live")
            && data_rows(s)
                .first()
                .is_some_and(|r| r.contains("schedule") && r.contains("✖ breached"))
            && s.contains("shop-config-5m")
    });
    assert!(
        screen.contains("demo-eu-west not installed"),
        "the cluster without Velero: {screen}"
    );

    // Backup now on shop-config-5m: the schedule row comes first among its rows.
    filter(&t, "shop-config-5m");
    t.wait_for("the schedule selected", WAIT, |s| {
        data_rows(s)
            .first()
            .is_some_and(|r| r.contains("schedule") && r.contains("shop-config-5m"))
    });
    let dialog = press_until(&t, "b", "the confirm dialog", |s| {
        s.contains("Confirm: backup-now")
    });
    assert!(
        dialog.contains("POST /apis/velero.io/v1/namespaces/velero/backups"),
        "{dialog}"
    );
    // The dialog offers its keys once it is armed (keys typed ahead never confirm).
    t.wait_text("enter/y  backup-now", WAIT);
    t.send(&["y"]);
    let done = t.wait_text("created Backup velero/shop-config-5m-", WAIT);
    assert!(!done.contains("Confirm:"), "{done}");
    let name = done
        .split("created Backup velero/")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string();
    assert_eq!(name.len(), "shop-config-5m-".len() + 14, "{name}");
    // The new backup is in the list (filtered by its timestamp: the NAME column may cut the
    // name), and its phase follows the controller to Completed.
    let stamp = &name["shop-config-5m-".len()..];
    filter(&t, stamp);
    t.wait_for("only the new backup", WAIT, |s| data_rows(s).len() == 1);
    t.wait_for("the new backup Completed", WAIT, |s| {
        data_rows(s)
            .first()
            .is_some_and(|r| r.contains("● Completed"))
    });
    // (The toast names it too: wait for the detail's title.)
    let title = format!(" Backup velero/{name} · demo-us-east");
    let detail = press_until(&t, "Enter", "the backup's detail", |s| s.contains(&title));
    assert!(detail.contains("schedule shop-config-5m"), "{detail}");
    t.send(&["Escape"]);

    // Only the cluster without Velero in view: the table says why it is empty.
    t.send(&["Escape"]);
    command(&t, "ctx demo-eu-west");
    t.wait_text("Velero is not installed on the clusters in view", WAIT);

    t.send(&["q"]);
    assert_eq!(t.wait_exit(WAIT), 0);
    let audit = std::fs::read_to_string(dir.path().join("state").join("audit.log")).unwrap();
    let line: serde_json::Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(line["action"], "backup-now");
    assert_eq!(line["outcome"], "ok");
    assert_eq!(line["object"]["kind"], "Schedule");
}
