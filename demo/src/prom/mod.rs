//! The demo cluster's Prometheus: an in-memory TSDB fed by the simulated scraper, a PromQL
//! evaluator for the subset kdeck uses, and Prometheus' HTTP API shapes.
//!
//! - [`tsdb`] stores series in compressed [`chunk`]s and selects them by label matchers;
//! - [`eval`] (with `functions`) evaluates PromQL with Prometheus 2.x semantics and rejects
//!   what it does not implement with `bad_data`;
//! - [`http`] answers `/api/v1/...` with byte-compatible bodies ([`format`]);
//! - [`alerts`] evaluates [`AlertRule`]s into pending and firing alerts.
//!
//! This crate's `tests/it/promql.rs` compares all of it with a real Prometheus over the same samples.

pub mod alerts;
pub mod chunk;
pub mod eval;
#[cfg(test)]
mod eval_tests;
pub mod format;
mod functions;
mod hash;
pub mod http;
pub mod tsdb;

pub use tsdb::{Labels, Series, SeriesRef, Tsdb};

/// An alerting rule evaluated over the demo TSDB for `/api/v1/alerts`.
#[derive(Debug, Clone)]
pub struct AlertRule {
    pub name: String,
    /// PromQL; every element of the result is a firing (or pending) alert.
    pub expr: String,
    pub for_secs: u64,
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
}

impl AlertRule {
    /// A rule labelled with a `severity`, annotated with a `summary` and a `description`: the
    /// shape of every rule the simulated clusters ship.
    #[must_use]
    pub fn new(
        name: &str,
        expr: &str,
        for_secs: u64,
        severity: &str,
        summary: &str,
        description: &str,
    ) -> Self {
        Self {
            name: name.to_string(),
            expr: expr.to_string(),
            for_secs,
            labels: vec![("severity".into(), severity.into())],
            annotations: vec![
                ("summary".into(), summary.into()),
                ("description".into(), description.into()),
            ],
        }
    }
}

/// What the Prometheus API of one simulated cluster serves.
#[derive(Debug)]
pub struct PromState {
    pub tsdb: Tsdb,
    pub rules: std::sync::RwLock<Vec<AlertRule>>,
    /// Alert states kept between evaluations (`pending` since when), per rule.
    pub alert_states: std::sync::Mutex<alerts::AlertStates>,
}

impl PromState {
    #[must_use]
    pub fn new(retention: std::time::Duration) -> Self {
        Self {
            tsdb: Tsdb::new(retention),
            rules: std::sync::RwLock::new(Vec::new()),
            alert_states: std::sync::Mutex::new(alerts::AlertStates::default()),
        }
    }
}
