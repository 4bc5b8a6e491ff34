//! Actions from a pane to the executor: a plan is refused (read-only) or shown in the confirm
//! dialog while RBAC is checked; confirming closes the dialog before sending, so one keypress
//! never sends twice; the executor's events come back as the dialog's verdict and toasts.

use std::time::{Duration, Instant};

use super::{App, Confirm, Mode};
use crate::exec::{ActionPlan, ExecEvent, OutcomeKind, RbacVerdict};
use crate::theme::Role;

impl App {
    /// A pane proposed an action: refuse (read-only), or confirm first.
    pub(super) fn propose(&mut self, plan: ActionPlan) {
        let id = self.next_id;
        self.next_id += 1;
        let Some(exec) = self.executor.clone() else {
            self.toast(
                "actions are not available here",
                Role::Warn,
                Duration::from_secs(5),
            );
            return;
        };
        if exec.is_readonly(&plan.cluster) {
            // The executor refuses (and records the attempt); the UI only reports.
            exec.execute(id, plan);
            return;
        }
        exec.check_rbac(id, &plan);
        let user = self
            .world
            .cluster(&plan.cluster)
            .map(|h| h.info().user)
            .unwrap_or_default();
        self.mode = Mode::Confirm(Box::new(Confirm {
            id,
            plan,
            user,
            rbac: None,
            readonly: false,
            dry_run: exec.options().dry_run,
            armed_at: Instant::now() + super::CONFIRM_ARM_DELAY,
        }));
        // Keys typed ahead of the dialog are dropped with it, not carried into it.
        self.pending.clear();
    }

    pub(super) fn confirm(&mut self) {
        let Mode::Confirm(c) = std::mem::replace(&mut self.mode, Mode::Normal) else {
            return;
        };
        if let Some(RbacVerdict::Denied(why)) = &c.rbac {
            self.toast(
                format!("denied: {why}"),
                Role::Crit,
                Duration::from_secs(10),
            );
            return;
        }
        let label = format!("{} {}", c.plan.action, c.plan.object_name());
        if let Some(exec) = &self.executor {
            // The dialog is closed before sending: a second keypress cannot send twice.
            exec.execute(c.id, c.plan);
            self.toast(
                format!("{label}: sending…"),
                Role::Text,
                Duration::from_secs(10),
            );
        }
    }

    /// An executor event arrived.
    pub fn on_exec(&mut self, event: ExecEvent) {
        self.dirty = true;
        match event {
            ExecEvent::Rbac { id, verdict } => {
                if let Mode::Confirm(c) = &mut self.mode
                    && c.id == id
                {
                    c.rbac = Some(verdict);
                }
            }
            ExecEvent::Finished {
                plan_label,
                outcome,
                ..
            } => {
                let role = match outcome.kind {
                    OutcomeKind::Ok => Role::Ok,
                    OutcomeKind::Refused | OutcomeKind::Conflict | OutcomeKind::Unknown => {
                        Role::Warn
                    }
                    OutcomeKind::Forbidden | OutcomeKind::Failed => Role::Crit,
                };
                let text = match outcome.kind {
                    OutcomeKind::Ok => format!("✔ {}", outcome.message),
                    kind => format!("✖ {plan_label}: {}: {}", kind.as_str(), outcome.message),
                };
                self.toast(text, role, Duration::from_secs(12));
            }
        }
    }
}
