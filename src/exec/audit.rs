//! The audit log: what was done during an incident, reconstructable afterwards. Before the
//! first request of an action is sent, an `intent` line is written (if it cannot be, nothing
//! is sent); when the action ends, an `outcome` line with the same id. An action refused
//! before anything was sent has only its outcome line. Each line is one `write` to a file
//! opened with `O_APPEND` (so lines from several kdeck processes never interleave), created
//! 0600 in the state dir.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

/// One line of the audit log.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditRecord {
    pub time: String,
    /// `intent` (about to send) or `outcome` (done, refused or unknown).
    pub phase: &'static str,
    /// Ties an intent to its outcome.
    pub id: String,
    pub context: String,
    pub server: String,
    pub user: String,
    pub action: String,
    pub object: Value,
    /// The requests about to be sent (intent) or sent (outcome).
    pub requests: Vec<Value>,
    pub dry_run: bool,
    /// `pending` on an intent; `ok`, `refused`, `forbidden`, `conflict`, `failed` or
    /// `unknown` on an outcome.
    pub outcome: String,
    pub message: String,
}

/// Why a line could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the audit log {path}: {reason}")]
pub struct AuditError {
    pub path: String,
    pub reason: String,
}

/// Appends records to a file.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    #[must_use]
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
        }
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as one line, in one write.
    pub fn append(&self, record: &AuditRecord) -> Result<(), AuditError> {
        let err = |reason: String| AuditError {
            path: self.path.display().to_string(),
            reason,
        };
        let mut line = serde_json::to_vec(record).map_err(|e| err(e.to_string()))?;
        line.push(b'\n');
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&self.path).map_err(|e| err(e.to_string()))?;
        // One write of the whole line: with O_APPEND the kernel places it at the end in one
        // piece, whatever other writers do. A short write would leave half a line: an error.
        let n = f.write(&line).map_err(|e| err(e.to_string()))?;
        if n != line.len() {
            return Err(err(format!("short write ({n} of {} bytes)", line.len())));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> AuditRecord {
        AuditRecord {
            time: "2026-12-04T00:00:00Z".into(),
            phase: "intent",
            id: id.into(),
            context: "prod".into(),
            server: "https://x".into(),
            user: "me".into(),
            action: "promote".into(),
            object: serde_json::json!({"kind": "Rollout"}),
            requests: Vec::new(),
            dry_run: false,
            outcome: "pending".into(),
            message: String::new(),
        }
    }

    #[test]
    fn lines_from_many_writers_stay_whole_and_the_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("audit.log");
        std::thread::scope(|s| {
            for t in 0..8 {
                let path = path.clone();
                s.spawn(move || {
                    let log = AuditLog::new(&path);
                    for i in 0..50 {
                        log.append(&record(&format!("{t}-{i}"))).unwrap();
                    }
                });
            }
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 400);
        for l in text.lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["phase"], "intent");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn an_unwritable_log_is_an_error_not_a_silence() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be: opening it for append fails.
        let path = dir.path().join("audit.log");
        std::fs::create_dir(&path).unwrap();
        let e = AuditLog::new(&path).append(&record("x")).unwrap_err();
        assert!(
            e.to_string().starts_with("cannot write the audit log"),
            "{e}"
        );
    }
}
