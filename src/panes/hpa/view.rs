//! The HPA table: columns, the table row of each [`HpaRow`] (built once per row change), and
//! the SCALED column drawn from the clock for the visible rows only: how long ago the last
//! scale was and the replicas over the last hour.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::history::{self, resample};
use super::model::{HpaRow, RowKind, State};
use crate::clock::short_duration;
use crate::theme::Role;
use crate::widgets::chart::sparkline;
use crate::widgets::table::{Cell, Column, TableRow};

/// Position of the SCALED column in [`COLUMNS`].
pub const SCALED_COLUMN: usize = 8;
/// Width of the SCALED column's sparkline.
pub const SPARK_WIDTH: usize = 8;

/// Narrow terminals drop the namespace, the target, the history and min/max first (the status
/// says "pinned at max N"), and keep the cluster (two clusters often run the same HPA).
pub const COLUMNS: &[Column] = &[
    Column::new("CLUSTER", 7, 12, 3),
    Column::new("NAMESPACE", 7, 12, 7),
    Column::new("NAME", 12, 24, 0),
    Column::new("TARGET", 10, 22, 6),
    Column::new("REPLICAS", 8, 9, 0),
    Column::new("MIN/MAX", 7, 7, 4),
    Column::new("METRICS", 18, 36, 2),
    Column::new("STATUS", 24, 40, 0),
    Column::new("SCALED · 1h", 14, 14, 5),
];

/// Symbol and role of a state (the symbol carries it without colour).
#[must_use]
pub fn state_style(s: State) -> (&'static str, Role) {
    match s {
        State::PinnedAtMax => ("▲", Role::Crit),
        State::UnableToScale | State::Unreadable => ("✖", Role::Crit),
        State::MetricsMissing => ("?", Role::Warn),
        State::ScalingUp | State::ScalingDown => ("◷", Role::Accent),
        State::ScaleDownHeld | State::ScaleUpHeld | State::Paused => ("‖", Role::Warn),
        State::Disabled | State::NoStatus => ("–", Role::Muted),
        State::AtMin | State::Ok => ("✔", Role::Ok),
    }
}

/// `deploy/frontend`, `sts/indexer`, `rollout/checkout`: kubectl's short kinds.
#[must_use]
pub fn target_text(r: &HpaRow) -> String {
    let kind = match r.target.kind.as_str() {
        "Deployment" => "deploy",
        "StatefulSet" => "sts",
        "Rollout" => "rollout",
        "ReplicaSet" => "rs",
        "" => return "-".into(),
        other => other,
    };
    format!("{kind}/{}", r.target.name)
}

/// The status text: symbol, state and why.
#[must_use]
pub fn status_text(r: &HpaRow) -> String {
    let (sym, _) = state_style(r.state);
    let mut text = format!("{sym} {}", r.state.as_str());
    match (r.state, &r.reason) {
        (State::UnableToScale | State::MetricsMissing | State::Unreadable, Some(why)) => {
            text.push_str(": ");
            text.push_str(why);
        }
        (
            State::Paused | State::NoStatus | State::ScaleDownHeld | State::ScaleUpHeld,
            Some(why),
        )
        | (State::Disabled, Some(why)) => {
            text.push_str(" (");
            text.push_str(why);
            text.push(')');
        }
        (State::PinnedAtMax, _) => text.push_str(&format!(" {}", r.max)),
        _ => {}
    }
    text
}

/// The table row of one HPA row.
#[must_use]
pub fn table_row(r: &HpaRow, key: Arc<str>, short: &str) -> TableRow {
    let (_, role) = state_style(r.state);
    // A controller that cannot decide keeps its last desired count in the status: not a
    // direction it is heading, so only the current count is shown.
    let deciding = !matches!(
        r.state,
        State::UnableToScale | State::MetricsMissing | State::Disabled | State::Unreadable
    );
    let replicas = match r.kind {
        RowKind::ScaledObject if !r.target_info.found => "-".to_string(),
        _ if r.current == r.desired || !deciding => r.current.to_string(),
        _ => format!("{}→{}", r.current, r.desired),
    };
    let metrics = if r.kind == RowKind::ScaledObject {
        "-".to_string()
    } else {
        r.metrics
            .iter()
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    TableRow::new(
        key,
        vec![
            Cell::plain(short),
            Cell::plain(r.namespace.clone()),
            Cell::styled(
                r.name.clone(),
                if crate::panes::kit::ListRow::needs_attention(r) {
                    Role::Title
                } else {
                    Role::Text
                },
            ),
            Cell::plain(target_text(r)),
            Cell::plain(replicas),
            Cell::plain(if r.state == State::Unreadable {
                "-".into()
            } else {
                format!("{}-{}", r.min, r.max)
            }),
            Cell::plain(metrics),
            Cell::styled(status_text(r), role),
            // Drawn from the clock when shown (see `scaled_cell`).
            Cell::default(),
        ],
    )
}

/// The SCALED cell: the last scale's age and the replicas over the last hour, scaled from 0
/// to the HPA's max (a full bar is "at max").
#[must_use]
pub fn scaled_cell(r: &HpaRow, now: DateTime<Utc>) -> Cell {
    let age = r.last_scale.map_or_else(
        || "-".into(),
        |t| short_duration((now - t).num_seconds().max(0)),
    );
    let values = resample(&r.history, now, history::WINDOW_SECS, SPARK_WIDTH);
    let points: Vec<(f64, f64)> = values.into_iter().map(|v| (0.0, v)).collect();
    let hi = points
        .iter()
        .map(|p| p.1)
        .filter(|v| v.is_finite())
        .fold(f64::from(r.max.max(1)), f64::max);
    let spark = sparkline(&points, 0.0, hi, SPARK_WIDTH);
    Cell::plain(format!("{age:>5} {spark}"))
}

/// A row's identity across updates: `cluster/namespace/name/kind`.
#[must_use]
pub fn row_key(cluster: &str, namespace: &str, name: &str, kind: &str) -> String {
    format!("{cluster}/{namespace}/{name}/{kind}")
}
