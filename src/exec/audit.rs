//! The audit log: one JSON line per action attempt (sent, refused, denied or failed) in the
//! state dir, so what was done during an incident can be reconstructed afterwards.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use serde_json::Value;

/// One line of the audit log.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditRecord {
    pub time: String,
    pub context: String,
    pub server: String,
    pub user: String,
    pub action: String,
    pub object: Value,
    pub requests: Vec<Value>,
    pub dry_run: bool,
    /// `ok`, `refused`, `forbidden`, `conflict`, `failed`.
    pub outcome: String,
    pub message: String,
}

/// Appends records to a file (created 0600, parent dirs created).
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    lock: Mutex<()>,
}

impl AuditLog {
    #[must_use]
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            lock: Mutex::new(()),
        }
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record; a failure is logged, never fatal (the action itself happened).
    pub fn append(&self, record: &AuditRecord) {
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let line = match serde_json::to_string(record) {
            Ok(l) => l,
            Err(e) => {
                log::error!("audit: cannot encode record: {e}");
                return;
            }
        };
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        match opts.open(&self.path) {
            Ok(mut f) => {
                if let Err(e) = writeln!(f, "{line}") {
                    log::error!("audit: cannot write {}: {e}", self.path.display());
                }
            }
            Err(e) => log::error!("audit: cannot open {}: {e}", self.path.display()),
        }
    }
}
