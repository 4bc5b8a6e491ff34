//! The Rollouts table: columns, and the table row of each [`RolloutRow`] (built once per row
//! change; the AGE cell is drawn from the clock for the visible rows only).

use std::sync::Arc;

use super::model::{AnalysisPhase, RolloutRow, RowStatus};
use crate::clock::short_duration;
use crate::theme::Role;
use crate::widgets::table::{Cell, Column, TableRow};

/// Position of the AGE column in [`COLUMNS`] (drawn from the row's step start and the clock,
/// so a moving age never recomputes the rows).
pub const AGE_COLUMN: usize = 9;

pub const COLUMNS: &[Column] = &[
    Column::new("CLUSTER", 7, 14, 4),
    Column::new("NAMESPACE", 7, 12, 5),
    Column::new("NAME", 10, 22, 0),
    Column::new("STRATEGY", 6, 10, 7),
    Column::new("STATUS", 12, 30, 0),
    Column::new("STEP", 4, 7, 0),
    Column::new("WEIGHT", 6, 7, 1),
    Column::new("R/D/U/A", 7, 12, 3),
    Column::new("IMAGES", 8, 20, 6),
    Column::new("AGE", 5, 6, 2),
    Column::new("ANALYSIS", 10, 100, 1),
];

/// Symbol and theme role of a status (the symbol carries it without colour).
#[must_use]
pub fn status_style(s: RowStatus) -> (&'static str, Role) {
    match s {
        RowStatus::Healthy => ("✔", Role::Ok),
        RowStatus::Progressing => ("◷", Role::Accent),
        RowStatus::Paused => ("‖", Role::Warn),
        RowStatus::Degraded | RowStatus::Aborted => ("✖", Role::Crit),
        RowStatus::Unknown => ("?", Role::Muted),
    }
}

fn analysis_cell(row: &RolloutRow) -> Cell {
    match &row.analysis {
        None => Cell::styled("—", Role::Muted),
        Some(a) => {
            let (sym, role) = match a.phase {
                AnalysisPhase::Successful => ("✔", Role::Ok),
                AnalysisPhase::Failed | AnalysisPhase::Error => ("✖", Role::Crit),
                AnalysisPhase::Inconclusive => ("?", Role::Warn),
                AnalysisPhase::Running | AnalysisPhase::Pending => ("◷", Role::Accent),
                AnalysisPhase::Unknown(_) => ("?", Role::Muted),
            };
            let mut text = format!("{sym} {}", a.phase.as_str());
            if !a.summary.is_empty() {
                text.push_str(": ");
                text.push_str(&a.summary);
            }
            Cell::styled(text, role)
        }
    }
}

/// The table row of one rollout row: `key` is its identity ([`row_key`]), `short` the
/// cluster's short name for the CLUSTER column.
#[must_use]
pub fn table_row(r: &RolloutRow, key: Arc<str>, short: &str) -> TableRow {
    let (sym, role) = status_style(r.status);
    let mut status = format!("{sym} {}", r.status.as_str());
    if let Some(reason) = &r.reason {
        status.push(' ');
        status.push_str(reason);
    } else if let Some(problem) = &r.problem {
        status.push(' ');
        status.push_str(problem);
    }
    let weight = match (r.set_weight, r.actual_weight) {
        (Some(s), Some(a)) if s == a => format!("{s}"),
        (Some(s), Some(a)) => format!("{s}→{a}"),
        (Some(s), None) => format!("{s}"),
        _ => "-".into(),
    };
    let rc = r.replicas;
    let images = match (r.stable_tags.first(), r.new_tags.first()) {
        (Some(s), Some(n)) if s != n => format!("{s}→{n}"),
        (Some(s), _) => s.clone(),
        (None, Some(n)) => n.clone(),
        (None, None) => "-".into(),
    };
    TableRow::new(
        key,
        vec![
            Cell::plain(short),
            Cell::plain(r.namespace.clone()),
            Cell::styled(
                r.name.clone(),
                if r.needs_attention() {
                    Role::Title
                } else {
                    Role::Text
                },
            ),
            Cell::plain(r.strategy.as_str()),
            Cell::styled(status, role),
            Cell::plain(r.step.map_or_else(|| "-".to_string(), |s| s.to_string())),
            Cell::plain(weight),
            Cell::plain(format!(
                "{}/{}/{}/{}",
                rc.ready, rc.desired, rc.updated, rc.available
            )),
            Cell::plain(images),
            // Drawn from the clock when shown (see `age_cell`).
            Cell::default(),
            analysis_cell(r),
        ],
    )
}

/// The AGE cell: how long the current step has been running, as of `now`.
#[must_use]
pub fn age_cell(r: &RolloutRow, now: chrono::DateTime<chrono::Utc>) -> Cell {
    Cell::plain(r.step_since.map_or_else(
        || "-".into(),
        |since| short_duration((now - since).num_seconds().max(0)),
    ))
}

/// A row's identity across updates: `cluster/namespace/name/kind`.
#[must_use]
pub fn row_key(cluster: &str, namespace: &str, name: &str, kind: &str) -> String {
    format!("{cluster}/{namespace}/{name}/{kind}")
}
