//! What the executor reports: how an action ended, what RBAC said, the events the UI
//! receives, and the executor's switches.

use std::collections::BTreeSet;
use std::time::Duration;

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeKind {
    Ok,
    Refused,
    Forbidden,
    Conflict,
    Failed,
    /// A request may have been applied, but no answer said so (a timeout, a dropped
    /// connection, kdeck exiting): look at the object before trying again.
    Unknown,
}

impl OutcomeKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Refused => "refused",
            Self::Forbidden => "forbidden",
            Self::Conflict => "conflict",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
        }
    }
}

/// The result of one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub kind: OutcomeKind,
    pub message: String,
}

impl Outcome {
    pub(crate) fn new(kind: OutcomeKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// What RBAC says about a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RbacVerdict {
    Allowed,
    Denied(String),
    /// The check itself failed; the action may still be tried.
    Unknown(String),
}

/// Messages from the executor to the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecEvent {
    Rbac {
        id: u64,
        verdict: RbacVerdict,
    },
    Finished {
        id: u64,
        plan_label: String,
        outcome: Outcome,
    },
}

/// Global switches of the executor.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub readonly: bool,
    /// Contexts configured read-only.
    pub readonly_contexts: BTreeSet<String>,
    pub dry_run: bool,
    /// How long one request may take before its outcome is unknown (default 15 s).
    pub request_timeout: Option<Duration>,
}
