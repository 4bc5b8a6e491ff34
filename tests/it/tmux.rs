//! Driving the real kdeck binary in a real terminal: tmux on a private socket, keys in,
//! screen text out.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server with one session running a command.
pub struct Tmux {
    socket: PathBuf,
    status_file: PathBuf,
    _dir: tempfile::TempDir,
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

impl Tmux {
    /// Starts `cmd` (run by the shell) in a `width`x`height` terminal with `env` set.
    pub fn start(cmd: &str, width: u16, height: u16, env: &[(&str, &str)]) -> Self {
        assert!(
            tmux_available(),
            "tmux is required for end-to-end tests (apt-get install tmux)"
        );
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("tmux.sock");
        let status_file = dir.path().join("exit-status");
        let mut env_prefix = String::from("env TERM=xterm-256color");
        for (k, v) in env {
            env_prefix.push_str(&format!(" {k}={}", shell_quote(v)));
        }
        // The exit status is written by the wrapping shell: tmux 3.3 sometimes misses the
        // SIGCHLD of a pane process and never reports `pane_dead_status`.
        let script = format!(
            "{env_prefix} {cmd}; echo $? > {}",
            shell_quote(&status_file.display().to_string())
        );
        let status = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args(["-f", "/dev/null", "new-session", "-d", "-s", "t", "-x"])
            .arg(width.to_string())
            .arg("-y")
            .arg(height.to_string())
            .arg(format!("sh -c {}", shell_quote(&script)))
            .status()
            .unwrap();
        assert!(status.success(), "tmux new-session failed");
        let t = Self {
            socket,
            status_file,
            _dir: dir,
        };
        t.tmux(&["set-option", "-t", "t", "remain-on-exit", "on"]);
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends keys (tmux key names: "q", "Enter", "Escape", "C-c", "Down").
    pub fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Sends literal text.
    pub fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", text]);
    }

    /// The visible screen as text.
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
    }

    /// The visible screen with colour escapes (for screenshots).
    pub fn screen_ansi(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-e", "-t", "t"])
    }

    fn format(&self, fmt: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", "t", fmt])
            .trim()
            .to_string()
    }

    /// The pid of the program in the pane (the child of the wrapping shell).
    pub fn pid(&self) -> String {
        let shell = self.format("#{pane_pid}");
        let out = Command::new("pgrep").args(["-P", &shell]).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    /// The program's exit status once it has exited (128+N when killed by signal N).
    pub fn exit_status(&self) -> Option<i32> {
        std::fs::read_to_string(&self.status_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// Whether the terminal is in the alternate screen (a TUI is drawing).
    pub fn alternate_screen(&self) -> bool {
        self.format("#{alternate_on}") == "1"
    }

    /// Resizes the terminal.
    pub fn resize(&self, width: u16, height: u16) {
        self.tmux(&[
            "resize-window",
            "-t",
            "t",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
        ]);
    }

    /// Waits until `pred` holds for the screen; panics with the last screen after `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; screen was:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Waits until the screen contains `text`.
    pub fn wait_text(&self, text: &str, timeout: Duration) -> String {
        self.wait_for(&format!("{text:?}"), timeout, |s| s.contains(text))
    }

    /// Waits for the program to exit; returns its status.
    pub fn wait_exit(&self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.exit_status() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "program did not exit; screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The kdeck binary cargo built for these tests.
pub fn kdeck_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_kdeck"))
}
