//! An action the user asked for, as data: where, on what, what the decision rests on (the
//! fields on screen that must still hold when it is sent), what will change, and the requests
//! to send — or how to build them once a fresher object has been fetched (undo needs an old
//! ReplicaSet's pod template).

use std::sync::Arc;

use serde_json::Value;

use super::request::{KubeRequest, Target, Verb};
use crate::source::SourceState;

/// Builds the requests from a fetched object and the live target object (both as read at
/// execution time). An empty list means there is nothing to change.
pub type BuildFn = Arc<dyn Fn(&Value, &Value) -> Result<Vec<KubeRequest>, String> + Send + Sync>;

/// Builds the requests from the target object as read at execution time.
pub type TargetBuildFn = Arc<dyn Fn(&Value) -> Result<Vec<KubeRequest>, String> + Send + Sync>;

/// How the requests come about.
#[derive(Clone)]
pub enum PlanBuild {
    Ready(Vec<KubeRequest>),
    /// GET `fetch` at execution time, then build a patch of `patches` (for RBAC and the
    /// dialog before sending: not always the plan's target, e.g. an undo of a Rollout whose
    /// template lives in the Deployment its `spec.workloadRef` names patches that Deployment).
    AfterFetch {
        fetch: Target,
        patches: Box<Target>,
        build: BuildFn,
    },
    /// Built from the target as the executor reads it just before sending, as an upstream
    /// CLI that GETs and then writes does (`velero backup create --from-schedule`: the Backup
    /// comes from the live Schedule, named with the time it is sent). `sends` are the
    /// requests' permissions (for RBAC before sending); `describe` says what will be sent.
    FromTarget {
        sends: Vec<Permission>,
        describe: String,
        build: TargetBuildFn,
    },
}

impl std::fmt::Debug for PlanBuild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ready(r) => f.debug_tuple("Ready").field(r).finish(),
            Self::AfterFetch { fetch, .. } => {
                f.debug_struct("AfterFetch").field("fetch", fetch).finish()
            }
            Self::FromTarget { sends, .. } => {
                f.debug_struct("FromTarget").field("sends", sends).finish()
            }
        }
    }
}

/// A field the user's decision rests on, and the value that was on screen. The executor
/// re-reads the object and refuses when it no longer holds it; the request then carries the
/// resourceVersion of that read, so the API server refuses if anything moved after the check.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// JSON pointer into the object (`/status/currentStepIndex`).
    pub pointer: String,
    /// The value that was on screen; `Null` means absent.
    pub seen: Value,
    /// What the dialog and messages call it (`step`, `replicas`).
    pub label: String,
}

impl Check {
    #[must_use]
    pub fn new(pointer: &str, seen: impl Into<Value>, label: &str) -> Self {
        Self {
            pointer: pointer.to_string(),
            seen: seen.into(),
            label: label.to_string(),
        }
    }

    /// Whether `object` still holds the seen value, compared as shown (a hash written as a
    /// number equals the same hash as text; absent and `null` are the same).
    #[must_use]
    pub fn holds(&self, object: &Value) -> bool {
        show(object.pointer(&self.pointer).unwrap_or(&Value::Null)) == show(&self.seen)
    }

    /// The value in `object` now, for messages.
    #[must_use]
    pub fn now_in(&self, object: &Value) -> String {
        show(object.pointer(&self.pointer).unwrap_or(&Value::Null))
    }

    /// `step 2`, `paused (none)`.
    #[must_use]
    pub fn describe(&self) -> String {
        format!("{} {}", self.label, show(&self.seen))
    }
}

/// A value as the dialog shows it: text without quotes, `none` for absent.
#[must_use]
pub fn show(v: &Value) -> String {
    match v {
        Value::Null => "none".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One permission the action needs: (verb, target, subresource).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub verb: &'static str,
    pub target: Target,
    pub subresource: Option<String>,
}

/// A planned action, ready for the confirm dialog and the executor.
#[derive(Debug, Clone)]
pub struct ActionPlan {
    /// Kubeconfig context.
    pub cluster: String,
    /// Action name as in keymaps (`promote`).
    pub action: String,
    /// The object the decision is about (requests may go elsewhere: a Backup made from this
    /// Schedule).
    pub target: Target,
    /// Its uid: the action is for this object, not one re-created under the same name.
    pub uid: Option<String>,
    /// The resourceVersion on screen, for the record (the checks below decide).
    pub seen_rv: String,
    /// What the decision rests on. Empty for actions that are safe to repeat (pause, resume,
    /// abort): a controller's status writes never refuse those.
    pub checks: Vec<Check>,
    /// What will change, in words.
    pub summary: String,
    pub build: PlanBuild,
    /// Sent instead of the remaining requests when a `/status` request answers 404: a
    /// controller whose CRD has no status subresource (Argo Rollouts before v0.10) takes the
    /// same change as one patch of the main resource, as kubectl-argo-rollouts does.
    pub status_fallback: Option<KubeRequest>,
    /// State of the data the plan was made from; only live data may be acted on.
    pub data_state: SourceState,
}

fn verb_name(v: Verb) -> &'static str {
    match v {
        Verb::Get => "get",
        Verb::Patch => "patch",
        Verb::Put => "update",
        Verb::Post => "create",
    }
}

impl ActionPlan {
    /// The permissions to check before sending.
    #[must_use]
    pub fn permissions(&self) -> Vec<Permission> {
        let mut out: Vec<Permission> = Vec::new();
        let mut push = |p: Permission| {
            if !out.contains(&p) {
                out.push(p);
            }
        };
        match &self.build {
            PlanBuild::Ready(reqs) => {
                for r in reqs {
                    push(Permission {
                        verb: verb_name(r.verb),
                        target: r.target.clone(),
                        subresource: r.subresource.clone(),
                    });
                }
            }
            PlanBuild::AfterFetch { fetch, patches, .. } => {
                push(Permission {
                    verb: "get",
                    target: fetch.clone(),
                    subresource: None,
                });
                push(Permission {
                    verb: "patch",
                    target: (**patches).clone(),
                    subresource: None,
                });
            }
            PlanBuild::FromTarget { sends, .. } => {
                for p in sends {
                    push(p.clone());
                }
            }
        }
        out
    }

    /// Request summaries for the dialog and the audit log.
    #[must_use]
    pub fn request_lines(&self) -> Vec<String> {
        match &self.build {
            PlanBuild::Ready(reqs) => reqs.iter().map(KubeRequest::summary).collect(),
            PlanBuild::AfterFetch { fetch, patches, .. } => vec![format!(
                "PATCH {} (json-patch) built from {} at execution",
                patches.path(None),
                fetch.path(None)
            )],
            PlanBuild::FromTarget { describe, .. } => vec![describe.clone()],
        }
    }

    /// What the executor checks before sending, for the dialog.
    #[must_use]
    pub fn checks_text(&self) -> String {
        if self.checks.is_empty() {
            // A create is not safe to repeat: each one makes another object.
            return if self.creates() {
                "the object's identity".into()
            } else {
                "the object's identity (safe to repeat)".into()
            };
        }
        self.checks
            .iter()
            .map(Check::describe)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether the plan creates objects.
    #[must_use]
    pub fn creates(&self) -> bool {
        match &self.build {
            PlanBuild::Ready(reqs) => reqs.iter().any(|r| r.verb == Verb::Post),
            PlanBuild::AfterFetch { .. } => false,
            PlanBuild::FromTarget { sends, .. } => sends.iter().any(|p| p.verb == "create"),
        }
    }

    /// `Rollout shop/checkout`.
    #[must_use]
    pub fn object_name(&self) -> String {
        match &self.target.namespace {
            Some(ns) => format!("{} {ns}/{}", self.target.kind, self.target.name),
            None => format!("{} {}", self.target.kind, self.target.name),
        }
    }
}
