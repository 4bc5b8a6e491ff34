//! Logging: records go to the in-app log pane (tui-logger) and to `kdeck.log` in the state
//! dir (created 0600: it can name clusters and users); nothing is printed while the terminal
//! is in raw mode. kube-rs logs through `tracing`, which forwards to `log` when no subscriber
//! is installed; its chatter is cut to warnings by target prefix.

use std::path::Path;

use log::LevelFilter;

/// Crates whose info/debug records would drown kdeck's own: only their warnings are kept.
/// Filters match target prefixes (`kube_client::client::builder` is cut by `kube_client`).
const NOISY: &[&str] = &[
    "kube",
    "kube_client",
    "kube_runtime",
    "hyper",
    "hyper_util",
    "rustls",
    "tower",
    "reqwest",
    "h2",
];

/// The filter directives for `level` with the noisy crates at warnings.
#[must_use]
pub fn directives(level: LevelFilter) -> String {
    let mut d = level.to_string().to_lowercase();
    for n in NOISY {
        d.push_str(&format!(",{n}=warn"));
    }
    d
}

/// Opens (creating, 0600) the log file, to find out early whether it can be written.
fn open_private(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path).map(drop)
}

/// How many records the log pane can scroll back through.
pub const PANE_RECORDS: usize = 1_000;

/// Starts logging at `level`. Returns why the log file cannot be written, if it cannot (the
/// log pane still works; the caller tells the user).
pub fn init(log_file: &Path, level: LevelFilter) -> Result<(), String> {
    if tui_logger::init_logger(LevelFilter::Trace).is_err() {
        // Already initialised (tests run several apps in one process).
        return Ok(());
    }
    // The log pane keeps the last records only (the file keeps every one): tui-logger's
    // default of 10,000 is 1.5 MB held from the start.
    tui_logger::set_buffer_depth(PANE_RECORDS);
    tui_logger::set_default_level(level);
    tui_logger::set_env_filter_from_string(&directives(level));
    let Some(path) = log_file.to_str() else {
        return Err(format!("{} is not a UTF-8 path", log_file.display()));
    };
    open_private(log_file).map_err(|e| format!("cannot write {}: {e}", log_file.display()))?;
    tui_logger::set_log_file(
        tui_logger::TuiLoggerFile::new(path)
            .output_level(Some(tui_logger::TuiLoggerLevelOutput::Abbreviated))
            .output_file(false)
            .output_separator(' '),
    );
    Ok(())
}

/// Moves buffered records to the log pane and the file (on exit and on panic).
pub fn flush() {
    tui_logger::move_events();
}
