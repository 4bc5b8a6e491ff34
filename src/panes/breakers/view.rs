//! The Circuit-breakers table: columns, and the table row of each [`BreakerRow`] (built once
//! per row change). Live cells say when they are old (`◐`, with the time in the title) or
//! missing (`?`), so a dead Prometheus never reads as "no trips".

use std::sync::Arc;

use super::live::{BreakerState, Feed};
use super::model::BreakerRow;
use super::policy::{outlier_short, pool_short};
use crate::theme::Role;
use crate::widgets::table::{Cell, Column, TableRow};

pub const COLUMNS: &[Column] = &[
    Column::new("CLUSTER", 7, 12, 5),
    Column::new("NAMESPACE", 7, 12, 6),
    Column::new("HOST", 8, 26, 0),
    Column::new("STATE", 10, 23, 0),
    Column::new("TRIPS 5m", 7, 18, 1),
    Column::new("EJECTED", 7, 9, 3),
    Column::new("SUCCESS", 7, 8, 2),
    Column::new("P50/P99", 7, 15, 4),
    Column::new("LIMITS c/p/r/rt", 9, 21, 2),
    Column::new("OUTLIER", 8, 24, 7),
    Column::new("RETRIES", 8, 22, 8),
    Column::new("SUBSETS", 7, 30, 9),
];

/// Symbol and theme role of a state (the symbol carries it without colour).
#[must_use]
pub fn state_style(s: BreakerState) -> (&'static str, Role) {
    match s {
        BreakerState::Tripping => ("▲", Role::Warn),
        BreakerState::Open | BreakerState::Malformed => ("✖", Role::Crit),
        BreakerState::Ejecting => ("◆", Role::Warn),
        BreakerState::Quiet => ("✔", Role::Ok),
        BreakerState::NoData => ("?", Role::Muted),
        BreakerState::Unconfigured => ("–", Role::Muted),
    }
}

/// Milliseconds, short: `3.2`, `41`, `1.2s`.
#[must_use]
pub fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.1}s", v / 1000.0)
    } else if v < 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// A share as a percentage with one decimal (`97.9%`).
#[must_use]
pub fn percent(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn live_cells(r: &BreakerRow) -> [Cell; 4] {
    let mark = match &r.feed {
        Feed::Live => "",
        Feed::Stale { .. } => "◐ ",
        Feed::Missing(_) => return std::array::from_fn(|_| Cell::styled("?", Role::Muted)),
    };
    let role = |live: Role| if mark.is_empty() { live } else { Role::Warn };
    let cell = |text: String, live: Role| Cell::styled(format!("{mark}{text}"), role(live));
    let Some(l) = &r.live else {
        let ejected = if r.envoy_exported { "—" } else { "no stats" };
        return [
            cell("—".into(), Role::Muted),
            cell(ejected.into(), Role::Muted),
            cell("—".into(), Role::Muted),
            cell("—".into(), Role::Muted),
        ];
    };
    let trips = l.trips.text();
    let trips_role = if trips == "—" {
        Role::Muted
    } else {
        Role::Crit
    };
    let ejected = match l.ejection {
        Some(e) => {
            let n = format!("{:.0}", e.ejected);
            let text = e.hosts.map_or(n.clone(), |h| format!("{n}/{h:.0}"));
            (
                text,
                if e.ejected > 0.0 {
                    Role::Warn
                } else {
                    Role::Text
                },
            )
        }
        None if r.envoy_exported => ("—".into(), Role::Muted),
        None => ("no stats".into(), Role::Muted),
    };
    let success = l.success().map_or(("—".into(), Role::Muted), |s| {
        (
            percent(s),
            if s < 0.95 {
                Role::Crit
            } else if s < 0.99 {
                Role::Warn
            } else {
                Role::Text
            },
        )
    });
    let latency = match (l.p50, l.p99) {
        (Some(a), Some(b)) => format!("{}/{}ms", ms(a), ms(b)),
        (None, Some(b)) => format!("—/{}ms", ms(b)),
        _ => "—".into(),
    };
    [
        cell(trips, trips_role),
        cell(ejected.0, ejected.1),
        cell(success.0, success.1),
        cell(latency, Role::Text),
    ]
}

/// The table row of one breaker row: `key` is its identity, `short` the cluster's short
/// name for the CLUSTER column.
#[must_use]
pub fn table_row(r: &BreakerRow, key: Arc<str>, short: &str) -> TableRow {
    let (sym, role) = state_style(r.state);
    let mut state = format!("{sym} {}", r.state.as_str());
    if let Some(why) = &r.malformed {
        state.push_str(": ");
        state.push_str(why);
    }
    let [trips, ejected, success, latency] = live_cells(r);
    let limits = match &r.policy {
        Some(p) => {
            let mut s = pool_short(&p.pool);
            if r.overrides {
                s.push_str(" *");
            }
            Cell::plain(s)
        }
        None if r.malformed.is_some() => Cell::styled("?", Role::Muted),
        None => Cell::styled("∞/∞/∞/∞", Role::Muted),
    };
    let outlier = match &r.policy {
        Some(p) => Cell::plain(outlier_short(p.outlier.as_ref())),
        None if r.malformed.is_some() => Cell::styled("?", Role::Muted),
        None => Cell::styled("off", Role::Muted),
    };
    let retries = match r.retries.split_first() {
        Some((first, [])) => Cell::plain(first.short()),
        Some((first, rest)) => Cell::plain(format!("{} +{}", first.short(), rest.len())),
        None => Cell::styled("?", Role::Muted),
    };
    let subsets = match &r.via {
        Some(v) => Cell::styled(format!("via {v}"), Role::Muted),
        None if r.subsets.is_empty() => Cell::styled("—", Role::Muted),
        None => Cell::plain(r.subsets.join(",")),
    };
    TableRow {
        key,
        cells: vec![
            Cell::plain(short),
            Cell::plain(r.namespace.clone()),
            Cell::styled(
                r.host.clone(),
                if crate::panes::kit::ListRow::needs_attention(r) {
                    Role::Title
                } else {
                    Role::Text
                },
            ),
            Cell::styled(state, role),
            trips,
            ejected,
            success,
            latency,
            limits,
            outlier,
            retries,
            subsets,
        ]
        .into(),
    }
}
