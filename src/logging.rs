//! Logging: records go to the in-app log pane (tui-logger) and to `kdeck.log` in the state
//! dir; nothing is printed while the terminal is in raw mode. kube-rs logs through `tracing`,
//! which forwards to `log` when no subscriber is installed.

use std::path::Path;

use log::LevelFilter;

/// Starts logging at `level`; kube and HTTP internals only report warnings.
pub fn init(log_file: &Path, level: LevelFilter) {
    if tui_logger::init_logger(LevelFilter::Trace).is_err() {
        // Already initialised (tests run several apps in one process).
        return;
    }
    tui_logger::set_default_level(level);
    for noisy in [
        "kube",
        "kube_client",
        "kube_runtime",
        "hyper",
        "hyper_util",
        "rustls",
        "tower",
        "reqwest",
        "h2",
    ] {
        tui_logger::set_level_for_target(noisy, LevelFilter::Warn);
    }
    if let Some(dir) = log_file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Some(path) = log_file.to_str() {
        tui_logger::set_log_file(
            tui_logger::TuiLoggerFile::new(path)
                .output_level(Some(tui_logger::TuiLoggerLevelOutput::Abbreviated))
                .output_file(false)
                .output_separator(' '),
        );
    }
}
