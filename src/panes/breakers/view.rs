//! The Circuit-breakers table: columns, and the table row of each [`BreakerRow`] (built once
//! per row change). Live cells say when they are old (`◐`, with the time in the title) or
//! missing (`?`), so a dead Prometheus never reads as "no trips".

use std::sync::Arc;

use super::live::{BreakerState, Feed};
use super::model::BreakerRow;
use super::policy::{outlier_short, pool_short};
use crate::theme::Role;
use crate::widgets::table::{Cell, Column, TableRow};
use crate::widgets::text::sanitize;

pub const COLUMNS: &[Column] = &[
    Column::new("CLUSTER", 8, 12, 6),
    Column::new("NAMESPACE", 8, 12, 5),
    Column::new("HOST", 12, 24, 0),
    Column::new("STATE", 12, 14, 0),
    Column::new("TRIPS 5m", 10, 18, 0),
    Column::new("EJECTED", 8, 10, 2),
    Column::new("SUCCESS", 7, 9, 3),
    Column::new("P50/P99", 9, 13, 4),
    Column::new("LIMITS c/p/r/rt", 14, 16, 1),
    Column::new("OUTLIER", 14, 22, 7),
    Column::new("RETRIES", 11, 16, 8),
    Column::new("SUBSETS", 10, 30, 9),
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

/// Milliseconds, short, without a unit: `3.2`, `41`, `1200`.
#[must_use]
pub fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// A latency with its unit: `41 ms`, `2.1 s`.
#[must_use]
pub fn duration_ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.1} s", v / 1000.0)
    } else {
        format!("{} ms", ms(v))
    }
}

/// p50 and p99 in one narrow cell: `14/48ms`, or `201ms/2.1s` when one is over a second.
#[must_use]
pub fn latency_pair(p50: Option<f64>, p99: f64) -> String {
    let short = |v: f64| {
        if v >= 1000.0 {
            format!("{:.1}s", v / 1000.0)
        } else {
            format!("{}ms", ms(v))
        }
    };
    match p50 {
        Some(a) if a < 1000.0 && p99 < 1000.0 => format!("{}/{}ms", ms(a), ms(p99)),
        Some(a) => format!("{}/{}", short(a), short(p99)),
        None => format!("—/{}", short(p99)),
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
    let latency = l
        .p99
        .map_or_else(|| "—".into(), |p99| latency_pair(l.p50, p99));
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
        state.push_str(&sanitize(why));
    } else if matches!(r.feed, Feed::Stale { .. }) {
        // Judged from the last good numbers.
        state.push_str(" ◐");
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
        Some((first, [])) => Cell::plain(sanitize(&first.short())),
        Some((first, rest)) => Cell::plain(format!("{} +{}", sanitize(&first.short()), rest.len())),
        None => Cell::styled("?", Role::Muted),
    };
    let subsets = match &r.via {
        Some(v) => Cell::styled(format!("via {}", sanitize(v)), Role::Muted),
        None if r.subsets.is_empty() => Cell::styled("—", Role::Muted),
        None => Cell::plain(sanitize(&r.subsets.join(","))),
    };
    TableRow::new(
        key,
        vec![
            Cell::plain(short),
            Cell::plain(sanitize(&r.namespace)),
            Cell::styled(
                sanitize(&r.host),
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
        ],
    )
}
