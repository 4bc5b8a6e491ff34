//! The executor's record of each run: the audit lines (intent before the first request,
//! outcome after), the log line, and the outcome event for the UI.

use serde_json::{Value, json};

use super::audit::{AuditError, AuditRecord};
use super::executor::{Executor, Run};
use super::outcome::{ExecEvent, Outcome, OutcomeKind};
use super::plan::{ActionPlan, show};
use super::request::Target;

fn permission_target_json(t: &Target) -> Value {
    json!({
        "apiVersion": t.api_version(),
        "kind": t.kind,
        "namespace": t.namespace,
        "name": t.name,
    })
}

impl Executor {
    /// Writes one audit line of this run.
    pub(super) fn record(
        &self,
        run: &Run,
        plan: &ActionPlan,
        phase: &'static str,
        requests: Vec<Value>,
        outcome: &str,
        message: &str,
    ) -> Result<(), AuditError> {
        let (server, user) = self
            .world
            .cluster(&plan.cluster)
            .map(|c| {
                let i = c.info();
                (i.server, i.user)
            })
            .unwrap_or_default();
        let mut object = permission_target_json(&plan.target);
        object["resourceVersion"] = Value::String(plan.seen_rv.clone());
        object["checks"] = plan
            .checks
            .iter()
            .map(|c| json!({"path": c.pointer, "seen": show(&c.seen)}))
            .collect();
        self.audit.append(&AuditRecord {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            phase,
            id: run.audit_id.clone(),
            context: plan.cluster.clone(),
            server,
            user,
            action: plan.action.clone(),
            object,
            requests,
            dry_run: self.options.dry_run,
            outcome: outcome.to_string(),
            message: message.to_string(),
        })
    }

    pub(super) fn finish(
        &self,
        run: &Run,
        plan: &ActionPlan,
        sent: &[Value],
        mut outcome: Outcome,
    ) {
        let requests = if sent.is_empty() {
            plan.request_lines()
                .into_iter()
                .map(Value::String)
                .collect()
        } else {
            sent.to_vec()
        };
        if let Err(e) = self.record(
            run,
            plan,
            "outcome",
            requests,
            outcome.kind.as_str(),
            &outcome.message,
        ) {
            log::error!("{e}");
            outcome.message.push_str(&format!(" (and {e})"));
        }
        match outcome.kind {
            OutcomeKind::Ok => log::info!("{}", outcome.message),
            _ => log::warn!(
                "{} {} on {}: {}: {}",
                plan.action,
                plan.object_name(),
                plan.cluster,
                outcome.kind.as_str(),
                outcome.message
            ),
        }
        let event = ExecEvent::Finished {
            id: run.id,
            plan_label: format!("{} {}", plan.action, plan.object_name()),
            outcome,
        };
        if self.events.try_send(event).is_err() {
            log::warn!("executor: UI did not take an outcome event");
        }
    }
}
