//! The Drift table: columns, and the table row of each [`DriftRow`] (built once per row
//! change; the LAST OP cell carries an age, so it is drawn from the clock for the visible rows
//! only).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::model::{DriftRow, short_revision};
use crate::clock::short_duration;
use crate::panes::kit::ListRow;
use crate::theme::Role;
use crate::widgets::table::{Cell, Column, TableRow};

/// Position of the LAST OP column in [`COLUMNS`].
pub const LAST_OP_COLUMN: usize = 7;

pub const COLUMNS: &[Column] = &[
    Column::new("CLUSTER", 7, 12, 4),
    Column::new("NAME", 12, 26, 0),
    Column::new("PROJECT", 7, 12, 7),
    Column::new("DESTINATION", 10, 26, 5),
    Column::new("SYNC", 11, 12, 0),
    Column::new("HEALTH", 10, 13, 2),
    Column::new("OOS", 3, 6, 3),
    Column::new("LAST OP", 14, 44, 1),
    Column::new("AUTO", 7, 9, 6),
    Column::new("REVISION", 7, 17, 8),
    Column::new("CONDITIONS", 12, 80, 1),
];

/// Symbol and role of a sync status (the symbol carries it without colour).
#[must_use]
pub fn sync_style(sync: &str) -> (&'static str, Role) {
    match sync {
        "Synced" => ("✔", Role::Ok),
        "OutOfSync" => ("≠", Role::Warn),
        "Reconciling" => ("◷", Role::Accent),
        "Suspended" => ("‖", Role::Warn),
        "" => ("—", Role::Muted),
        _ => ("?", Role::Muted),
    }
}

/// Symbol and role of a health status.
#[must_use]
pub fn health_style(health: &str) -> (&'static str, Role) {
    match health {
        "Healthy" => ("✔", Role::Ok),
        "Progressing" => ("◷", Role::Accent),
        "Degraded" => ("✖", Role::Crit),
        "Suspended" => ("‖", Role::Warn),
        "Missing" => ("?", Role::Warn),
        "" => ("—", Role::Muted),
        _ => ("?", Role::Muted),
    }
}

/// Symbol and role of an operation phase (Flux: of the Ready condition's reason).
#[must_use]
pub fn phase_style(phase: &str, failed: bool) -> (&'static str, Role) {
    if failed {
        return ("✖", Role::Crit);
    }
    match phase {
        "Succeeded" => ("✔", Role::Ok),
        "Running" => ("◷", Role::Accent),
        "Terminating" => ("◷", Role::Warn),
        "Failed" | "Error" => ("✖", Role::Crit),
        _ => ("•", Role::Text),
    }
}

fn status_cell(text: &str, style: (&'static str, Role)) -> Cell {
    if text.is_empty() {
        return Cell::styled("—", Role::Muted);
    }
    Cell::styled(format!("{} {text}", style.0), style.1)
}

/// `a1b2c3d`, or `a1b2c3d→e4f5a6b` when deployed and target differ.
#[must_use]
pub fn revisions_text(deployed: &str, target: &str) -> String {
    match (deployed.is_empty(), target.is_empty()) {
        (true, true) => "—".into(),
        (false, true) => short_revision(deployed),
        (true, false) => format!("?→{}", short_revision(target)),
        _ if deployed == target => short_revision(deployed),
        _ => format!("{}→{}", short_revision(deployed), short_revision(target)),
    }
}

fn auto_text(r: &DriftRow) -> String {
    if r.kind.is_flux() {
        return if r.suspended { "suspended" } else { "auto" }.into();
    }
    match r.auto {
        None => "manual".into(),
        Some(a) => {
            let flags: String = [(a.prune, 'P'), (a.self_heal, 'H')]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, c)| *c)
                .collect();
            if flags.is_empty() {
                "auto".into()
            } else {
                format!("auto {flags}")
            }
        }
    }
}

fn conditions_cell(r: &DriftRow) -> Cell {
    let mut parts: Vec<String> = Vec::new();
    if let Some(p) = &r.problem {
        parts.push(p.clone());
    }
    if r.window.is_some() {
        parts.push("⊘ window".into());
    }
    if r.kind.is_flux() {
        if !r.health_message.is_empty() && r.health != "Healthy" {
            parts.push(r.health_message.clone());
        }
    } else {
        parts.extend(r.conditions.iter().cloned());
    }
    if let Some(req) = &r.requested {
        parts.push(if r.kind.is_flux() {
            "reconcile requested".into()
        } else {
            format!("{req} refresh requested")
        });
    }
    let role = if r.problem.is_some()
        || r.conditions.iter().any(|c| c.ends_with("Error"))
        || (r.kind.is_flux() && r.health == "Degraded")
    {
        Role::Crit
    } else if r.window.is_some() || !r.conditions.is_empty() {
        Role::Warn
    } else {
        Role::Muted
    };
    if parts.is_empty() {
        return Cell::styled("—", Role::Muted);
    }
    Cell::styled(parts.join(", "), role)
}

/// The table row of one drift row.
#[must_use]
pub fn table_row(r: &DriftRow, key: Arc<str>, short: &str) -> TableRow {
    let oos = if r.kind.is_flux() || r.resources == 0 && r.out_of_sync == 0 {
        Cell::styled("—", Role::Muted)
    } else {
        Cell::styled(
            format!("{}/{}", r.out_of_sync, r.resources),
            if r.out_of_sync > 0 {
                Role::Warn
            } else {
                Role::Text
            },
        )
    };
    let name_role = if r.needs_attention() {
        Role::Title
    } else {
        Role::Text
    };
    TableRow::new(
        key,
        vec![
            Cell::plain(short),
            Cell::styled(r.name.clone(), name_role),
            Cell::plain(r.project.clone()),
            Cell::plain(r.dest.text_from(&r.cluster)),
            status_cell(&r.sync, sync_style(&r.sync)),
            status_cell(&r.health, health_style(&r.health)),
            oos,
            // Drawn again with its age when shown (see `last_op_cell`); kept here without
            // it so the column is sized to its text.
            last_op_cell(r, None),
            Cell::plain(auto_text(r)),
            Cell::plain(revisions_text(&r.deployed, &r.target)),
            conditions_cell(r),
        ],
    )
}

/// The LAST OP cell: phase, how long ago (as of `now`, if given), and (unless it succeeded)
/// the message.
#[must_use]
pub fn last_op_cell(r: &DriftRow, now: Option<DateTime<Utc>>) -> Cell {
    let Some(op) = &r.op else {
        return Cell::styled("—", Role::Muted);
    };
    let (sym, role) = if r.kind.is_flux() {
        match r.health.as_str() {
            "Healthy" => ("✔", Role::Ok),
            "Degraded" => ("✖", Role::Crit),
            _ => ("◷", Role::Accent),
        }
    } else {
        phase_style(&op.phase, op.failed())
    };
    let mut text = format!(
        "{sym} {}",
        if op.phase.is_empty() { "?" } else { &op.phase }
    );
    if let (Some(at), Some(now)) = (op.at, now) {
        text.push(' ');
        text.push_str(&short_duration((now - at).num_seconds()));
    }
    if op.running() && op.retry_count > 0 {
        text.push_str(&format!(" retry {}", op.retry_count));
    }
    let quiet = op.phase == "Succeeded" || (r.kind.is_flux() && r.health == "Healthy");
    if !quiet && !op.message.is_empty() && !r.kind.is_flux() {
        text.push_str(": ");
        text.push_str(&op.message);
    }
    Cell::styled(text, role)
}
