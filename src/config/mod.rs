//! `config.toml`: the user's settings, read once at start. Every key is optional; unknown keys
//! are errors (a typo must not be silently ignored during an incident).

mod breakers;
pub mod fleet;
pub mod paths;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

pub use breakers::BreakerQueries;
pub use fleet::FleetConfig;
pub use paths::Paths;

/// Default PromQL for a canary's (or stable's) success rate: the share of non-5xx requests
/// seen by the calling proxies (`reporter="source"`, where circuit-breaker 503s show up).
/// `{service}` and `{namespace}` are filled per rollout.
pub const DEFAULT_SUCCESS_RATE: &str = "sum(rate(istio_requests_total{reporter=\"source\",destination_workload_namespace=\"{namespace}\",destination_service_name=\"{service}\",response_code!~\"5.*\"}[1m])) / sum(rate(istio_requests_total{reporter=\"source\",destination_workload_namespace=\"{namespace}\",destination_service_name=\"{service}\"}[1m]))";

/// Default PromQL for p99 latency in milliseconds.
pub const DEFAULT_LATENCY_P99: &str = "histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{reporter=\"source\",destination_workload_namespace=\"{namespace}\",destination_service_name=\"{service}\"}[1m])) by (le))";

/// The parsed configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Theme name (`default`, `light`, `high-contrast`, or a file in `themes/`).
    pub theme: String,
    /// Keymap name (`default`, `vim`, or a file in `keymaps/`).
    pub keymap: String,
    /// Refuse every action, everywhere.
    pub readonly: bool,
    pub prometheus: PrometheusConfig,
    pub queries: QueryConfig,
    pub backups: BackupsConfig,
    /// Per-context settings, by kubeconfig context name.
    pub contexts: BTreeMap<String, ContextConfig>,
    /// One metrics endpoint for every cluster (Thanos, Mimir, Cortex).
    pub fleet: FleetConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            theme: "default".into(),
            keymap: "default".into(),
            readonly: false,
            prometheus: PrometheusConfig::default(),
            queries: QueryConfig::default(),
            backups: BackupsConfig::default(),
            contexts: BTreeMap::new(),
            fleet: FleetConfig::default(),
        }
    }
}

/// How to reach Prometheus when a context names no URL of its own.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusConfig {
    /// `namespace/service:port`, reached through the Kubernetes API's service proxy, so an
    /// SSH user needs no port-forward.
    pub service: String,
    pub timeout_secs: u64,
    /// How often visible charts refresh.
    pub interval_secs: u64,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        Self {
            service: "monitoring/prometheus:9090".into(),
            timeout_secs: 5,
            interval_secs: 15,
        }
    }
}

/// PromQL templates kdeck runs; `{service}` and `{namespace}` are substituted.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    pub success_rate: String,
    pub latency_p99: String,
    /// The Circuit-breakers pane's queries (`[queries.breakers]`).
    pub breakers: BreakerQueries,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            success_rate: DEFAULT_SUCCESS_RATE.into(),
            latency_p99: DEFAULT_LATENCY_P99.into(),
            breakers: BreakerQueries::default(),
        }
    }
}

/// The Backups pane's settings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BackupsConfig {
    /// How long a schedule's newest completed backup may be overdue (past the run that should
    /// have replaced it) before its RPO counts as breached: a share of the schedule's period
    /// (`"25%"`, the default) or a Go duration (`"30m"`, `"1h30m"`).
    pub grace: Grace,
}

/// An RPO grace: a share of a schedule's period, or a fixed duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Grace {
    /// Percent of the period.
    Percent(u32),
    Fixed(chrono::Duration),
}

impl Default for Grace {
    fn default() -> Self {
        Self::Percent(25)
    }
}

impl TryFrom<String> for Grace {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let t = text.trim();
        if let Some(p) = t.strip_suffix('%') {
            return p
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|p| *p <= 1000)
                .map(Self::Percent)
                .ok_or_else(|| format!("grace {text:?}: expected a percentage from 0% to 1000%"));
        }
        match crate::k8s::crd::parse_go_duration(t) {
            Some(d) if d >= chrono::Duration::zero() => Ok(Self::Fixed(d)),
            _ => Err(format!(
                "grace {text:?}: expected a share of the period (\"25%\") or a duration (\"30m\")"
            )),
        }
    }
}

impl Grace {
    /// The grace for a schedule whose period is `period`.
    #[must_use]
    pub fn of(self, period: chrono::Duration) -> chrono::Duration {
        match self {
            Self::Percent(p) => period * i32::try_from(p).unwrap_or(i32::MAX) / 100,
            Self::Fixed(d) => d,
        }
    }

    /// `25% of the period` or `30m`, for the detail view.
    #[must_use]
    pub fn describe(self) -> String {
        match self {
            Self::Percent(p) => format!("{p}% of the period"),
            Self::Fixed(d) => crate::clock::short_duration(d.num_seconds()),
        }
    }
}

/// Settings for one kubeconfig context.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ContextConfig {
    pub readonly: bool,
    /// A Prometheus base URL (e.g. `https://prometheus.example.com`), used instead of the
    /// service proxy.
    pub prometheus_url: Option<String>,
    /// `namespace/service:port` for this context's Prometheus.
    pub prometheus_service: Option<String>,
}

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
}

impl Config {
    /// Reads `path`; a missing file means defaults.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ConfigError::Read {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Parses TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: one_line(&e.to_string()),
        })
    }

    /// Whether actions on this context are refused.
    #[must_use]
    pub fn context_readonly(&self, context: &str) -> bool {
        self.readonly || self.contexts.get(context).is_some_and(|c| c.readonly)
    }
}

/// TOML errors span several lines (with a caret); keep the message and the position.
#[must_use]
pub fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|') && !l.chars().all(|c| c == '^'))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_means_defaults() {
        assert_eq!(Config::parse("", "t").unwrap(), Config::default());
    }

    #[test]
    fn per_context_readonly() {
        let c = Config::parse(
            "[contexts.prod]\nreadonly = true\nprometheus_url = \"https://p\"\n",
            "t",
        )
        .unwrap();
        assert!(c.context_readonly("prod"));
        assert!(!c.context_readonly("dev"));
    }

    #[test]
    fn backup_grace_is_a_share_or_a_duration() {
        assert_eq!(Config::default().backups.grace, Grace::Percent(25));
        let c = Config::parse("[backups]\ngrace = \"50%\"\n", "t").unwrap();
        assert_eq!(c.backups.grace, Grace::Percent(50));
        assert_eq!(
            c.backups.grace.of(chrono::Duration::hours(1)),
            chrono::Duration::minutes(30)
        );
        let c = Config::parse("[backups]\ngrace = \"1h30m\"\n", "t").unwrap();
        assert_eq!(c.backups.grace, Grace::Fixed(chrono::Duration::minutes(90)));
        let e = Config::parse("[backups]\ngrace = \"soon\"\n", "t").unwrap_err();
        assert!(e.to_string().contains("grace \"soon\""), "{e}");
        let e = Config::parse("[backups]\ngrase = \"5m\"\n", "t").unwrap_err();
        assert!(e.to_string().contains("unknown field `grase`"), "{e}");
    }

    #[test]
    fn unknown_keys_are_errors_with_position() {
        let err = Config::parse("them = \"dark\"\n", "config.toml").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("config.toml:"), "{msg}");
        assert!(msg.contains("them"), "{msg}");
        assert!(!msg.contains('\n'));
    }
}
