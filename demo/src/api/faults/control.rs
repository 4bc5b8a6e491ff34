//! Fault injection (see faults.rs) as data: the JSON actions the control API accepts, the
//! snapshot it reports, and how an action is applied to a cluster's [`Faults`] handle.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{DenyRule, FaultError, Faults, RequestStats};
use crate::api::registry;

/// A fault, as sent to the control API (`POST /clusters/NAME/faults`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum FaultAction {
    DropWatches,
    Compact,
    FailKind {
        #[serde(default)]
        group: String,
        resource: String,
        code: u16,
    },
    RestoreKind {
        #[serde(default)]
        group: String,
        resource: String,
    },
    NoStatusSubresource {
        #[serde(default)]
        group: String,
        resource: String,
    },
    Latency {
        ms: u64,
    },
    /// Apply writes at once but answer them only after `ms`.
    SlowWriteAnswers {
        ms: u64,
    },
    /// Answer nothing and deliver nothing, keeping every connection open.
    Freeze,
    Thaw,
    ErrorRate {
        rate: f64,
    },
    Down,
    Up,
    PromDown,
    PromUp,
    HideVersion {
        group: String,
        version: String,
    },
    Deny(DenyRule),
    RemoveDeny {
        id: u64,
    },
    ClearDenies,
    Reset,
}

/// What the faults of a cluster are right now.
#[derive(Debug, Clone, Serialize)]
pub struct FaultSnapshot {
    pub up: bool,
    pub latency_ms: u64,
    pub error_rate: f64,
    /// `group/resource` (or `resource` for the core group) → forced code.
    pub failed_kinds: Vec<(String, u16)>,
    pub deny_rules: Vec<(u64, DenyRule)>,
    pub stats: RequestStats,
}

impl Faults {
    pub async fn snapshot(&self) -> FaultSnapshot {
        let mut failed_kinds: Vec<(String, u16)> = self
            .state
            .kind_codes
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(id, code)| {
                let t = registry::get(*id);
                let name = if t.group.is_empty() {
                    t.plural.to_string()
                } else {
                    format!("{}/{}", t.group, t.plural)
                };
                (name, *code)
            })
            .collect();
        failed_kinds.sort();
        FaultSnapshot {
            up: self.is_up().await,
            latency_ms: self.state.latency_ms.load(Ordering::Relaxed),
            error_rate: f64::from(self.state.error_permille.load(Ordering::Relaxed)) / 1000.0,
            failed_kinds,
            deny_rules: self.authz.rules(),
            stats: self.state.stats(),
        }
    }

    /// Applies a fault given as data (the control API's body); returns a JSON result.
    pub async fn apply(&self, action: FaultAction) -> Result<Value, FaultError> {
        match action {
            FaultAction::DropWatches => self.drop_watches(),
            FaultAction::Compact => self.compact(),
            FaultAction::FailKind {
                group,
                resource,
                code,
            } => self.fail_kind(&group, &resource, code)?,
            FaultAction::RestoreKind { group, resource } => self.restore_kind(&group, &resource)?,
            FaultAction::NoStatusSubresource { group, resource } => {
                self.remove_status_subresource(&group, &resource)?;
            }
            FaultAction::Latency { ms } => self.set_latency(Duration::from_millis(ms)),
            FaultAction::SlowWriteAnswers { ms } => {
                self.set_write_answer_delay(Duration::from_millis(ms));
            }
            FaultAction::Freeze => self.set_frozen(true),
            FaultAction::Thaw => self.set_frozen(false),
            FaultAction::ErrorRate { rate } => self.set_error_rate(rate)?,
            FaultAction::Down => self.down().await,
            FaultAction::Up => self.up().await?,
            FaultAction::PromDown => self.prom_down().await,
            FaultAction::PromUp => self.prom_up().await?,
            FaultAction::HideVersion { group, version } => self.hide_version(&group, &version),
            FaultAction::Deny(rule) => return Ok(json!({"ok": true, "id": self.deny(rule)})),
            FaultAction::RemoveDeny { id } => self.remove_deny(id)?,
            FaultAction::ClearDenies => self.clear_denies(),
            FaultAction::Reset => self.reset().await?,
        }
        Ok(json!({"ok": true}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse_from_json() {
        let a: FaultAction = serde_json::from_value(
            json!({"action": "fail-kind", "group": "apps", "resource": "deployments", "code": 403}),
        )
        .unwrap();
        assert!(matches!(a, FaultAction::FailKind { code: 403, .. }));
        let a: FaultAction =
            serde_json::from_value(json!({"action": "deny", "verb": "delete", "resource": "pods"}))
                .unwrap();
        let FaultAction::Deny(rule) = a else {
            panic!("not a deny: {a:?}")
        };
        assert_eq!(rule.verb, "delete");
        assert_eq!(rule.namespace, "*");
        let a: FaultAction = serde_json::from_value(json!({"action": "drop-watches"})).unwrap();
        assert!(matches!(a, FaultAction::DropWatches));
        assert!(serde_json::from_value::<FaultAction>(json!({"action": "explode"})).is_err());
    }
}
