//! The Backups table: its columns, and the cells of each row kind, prepared when the row is
//! built. One table holds every kind, so each column says the closest thing for each: STATUS
//! is a schedule's RPO state or an object's phase; AGE (drawn from the clock) is, for a
//! schedule, the age of its newest *completed* backup and, for the others, the object's age
//! (a location's: since it was last validated); PROM is Prometheus' last success beside it.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::model::{BackupsRow, RowKind};
use super::prom::PromLastSuccess;
use super::rpo::{Rpo, RpoState};
use crate::clock::{age, short_duration};
use crate::k8s::velero::{Backup, BackupStorageLocation, Restore, RunPhase, Schedule};
use crate::theme::Role;
use crate::widgets::table::{Cell, Column, TableRow};
use crate::widgets::text::sanitize;

/// Position of the AGE column in [`COLUMNS`].
pub const AGE_COLUMN: usize = 4;

pub const COLUMNS: &[Column] = &[
    Column::new("KIND", 8, 8, 0),
    Column::new("CLUSTER", 7, 14, 4),
    Column::new("NAME", 16, 30, 0),
    Column::new("STATUS", 11, 20, 0),
    Column::new("AGE", 6, 6, 0),
    Column::new("PROM", 5, 9, 6),
    Column::new("SCHEDULE", 15, 30, 5),
    Column::new("NEXT", 6, 10, 2),
    Column::new("LAST", 10, 24, 3),
    Column::new("NOTE", 10, 200, 1),
];

/// The cells of a row other than KIND, CLUSTER, NAME and AGE.
#[derive(Debug, Clone, Default)]
pub struct Cells {
    pub status: Cell,
    pub prom: Cell,
    pub schedule: Cell,
    pub next: Cell,
    pub last: Cell,
    pub note: Cell,
}

fn muted(text: impl Into<String>) -> Cell {
    Cell::styled(text, Role::Muted)
}

/// Symbol and role of a backup or restore phase.
#[must_use]
pub fn phase_style(p: RunPhase) -> Role {
    match p {
        RunPhase::Completed => Role::Ok,
        RunPhase::PartiallyFailed => Role::Warn,
        RunPhase::Failed | RunPhase::FailedValidation => Role::Crit,
        RunPhase::Pending | RunPhase::Running => Role::Accent,
        RunPhase::Deleting | RunPhase::Unknown => Role::Muted,
    }
}

#[must_use]
pub fn rpo_role(s: RpoState) -> Role {
    match s {
        RpoState::Ok => Role::Ok,
        RpoState::Late | RpoState::Paused => Role::Warn,
        RpoState::Breached | RpoState::Invalid => Role::Crit,
        RpoState::Waiting => Role::Muted,
    }
}

/// `2 err 1 warn`, or empty.
#[must_use]
pub fn counts(errors: i32, warnings: i32) -> String {
    let mut parts = Vec::new();
    if errors > 0 {
        parts.push(format!("{errors} err"));
    }
    if warnings > 0 {
        parts.push(format!("{warnings} warn"));
    }
    parts.join(" ")
}

/// `in 12m` for a time to come, `due 3m ago` for one passed.
#[must_use]
pub fn until(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    if secs >= 0 {
        format!("in {}", short_duration(secs))
    } else {
        format!("due {} ago", short_duration(-secs))
    }
}

pub fn schedule_cells(
    s: &Schedule,
    r: &Rpo,
    prom: Option<&PromLastSuccess>,
    now: DateTime<Utc>,
) -> Cells {
    let mut status = format!("{} {}", r.state.symbol(), r.state.as_str());
    if r.state == RpoState::Ok && r.running.is_some() {
        status.push_str(" ◐");
    }
    let prom_cell = match prom {
        None => muted("n/a"),
        Some(PromLastSuccess::Waiting) => muted("…"),
        Some(PromLastSuccess::Failed(_)) => Cell::styled("error", Role::Warn),
        Some(PromLastSuccess::Value {
            at,
            stale,
            disagrees,
        }) => {
            let mut text = at.map_or_else(|| "–".to_string(), |t| age(now, t));
            if *disagrees {
                text.push_str(" ≠");
            }
            if *stale {
                text.insert(0, '◐');
            }
            Cell::styled(text, if *disagrees { Role::Warn } else { Role::Muted })
        }
    };
    let next = match r.state {
        RpoState::Paused => muted("paused"),
        RpoState::Invalid => muted("–"),
        _ => r
            .next_run
            .map_or_else(|| muted("–"), |t| Cell::plain(until(now, t))),
    };
    let last = r.last.as_ref().map_or_else(
        || muted("none"),
        |l| {
            let c = counts(l.errors, l.warnings);
            let text = format!("{} {}", l.run_phase.symbol(), l.phase);
            Cell::styled(
                if c.is_empty() {
                    text
                } else {
                    format!("{text} {c}")
                },
                phase_style(l.run_phase),
            )
        },
    );
    Cells {
        status: Cell::styled(status, rpo_role(r.state)),
        prom: prom_cell,
        // The reading first: it survives a narrow column.
        schedule: Cell::plain(format!("{}  {}", sanitize(&r.reading), sanitize(s.cron()))),
        next,
        last,
        note: schedule_note(s, r, prom, now),
    }
}

fn schedule_note(
    s: &Schedule,
    r: &Rpo,
    prom: Option<&PromLastSuccess>,
    now: DateTime<Utc>,
) -> Cell {
    let mut parts: Vec<String> = Vec::new();
    let mut role = Role::Muted;
    if let Some(why) = r.invalid.first() {
        parts.push(sanitize(why).into_owned());
        role = Role::Crit;
    }
    if r.partial_since > 0 {
        parts.push(format!(
            "▲ {} PartiallyFailed since the last good one",
            r.partial_since
        ));
        role = Role::Warn;
    }
    if let Some(PromLastSuccess::Value {
        at,
        disagrees: true,
        ..
    }) = prom
    {
        parts.push(format!(
            "≠ Prometheus: last success {}",
            at.map_or_else(|| "none".into(), |t| format!("{} ago", age(now, t)))
        ));
        role = Role::Warn;
    }
    match r.state {
        RpoState::Breached => {
            if let Some(d) = r.deadline {
                parts.push(format!("RPO breached for {}", age(now, d)));
            }
        }
        RpoState::Late => {
            if let Some(d) = r.deadline {
                parts.push(format!("breach {}", until(now, d)));
            }
        }
        RpoState::Paused => parts.push("no backups are taken while paused".into()),
        RpoState::Ok | RpoState::Invalid | RpoState::Waiting => {}
    }
    if let Some(running) = &r.running {
        parts.push(format!("running {running}"));
    }
    if s.malformed.is_some() {
        parts.push("some fields could not be read".into());
    }
    Cell::styled(parts.join(" · "), role)
}

pub fn backup_cells(b: &Backup, now: DateTime<Utc>) -> Cells {
    let st = b.status_or_default();
    let phase = b.run_phase();
    let mut status = format!("{} {}", phase.symbol(), b.phase_text());
    if phase == RunPhase::Running
        && let Some(p) = st.progress.percent()
    {
        status.push_str(&format!(" {p}%"));
    }
    if let Some(q) = st.queue_position.filter(|_| phase == RunPhase::Pending) {
        status.push_str(&format!(" #{q}"));
    }
    let mut last = counts(st.errors, st.warnings);
    if let Some(p) = st.progress.text() {
        if !last.is_empty() {
            last.push(' ');
        }
        last.push_str(&p);
    }
    let mut note: Vec<String> = Vec::new();
    if let Some(r) = st.failure_reason.as_deref().filter(|r| !r.is_empty()) {
        note.push(sanitize(r).into_owned());
    }
    note.extend(
        st.validation_errors
            .iter()
            .map(|e| sanitize(e).into_owned()),
    );
    if let Some(loc) = b.location() {
        note.push(format!("→ {}", sanitize(loc)));
    }
    if let Some(e) = st.expiration {
        note.push(format!(
            "expires {}",
            until(now, e).replace("due", "expired")
        ));
    }
    if let Some(m) = &b.malformed {
        note.insert(0, sanitize(m).into_owned());
    }
    Cells {
        status: Cell::styled(status, phase_style(phase)),
        prom: Cell::default(),
        schedule: b
            .schedule()
            .map_or_else(|| muted("manual"), |s| Cell::plain(sanitize(s))),
        next: Cell::default(),
        last: Cell::plain(last),
        note: Cell::styled(
            note.join(" · "),
            if phase.is_failure() {
                Role::Crit
            } else {
                Role::Muted
            },
        ),
    }
}

pub fn restore_cells(r: &Restore) -> Cells {
    let phase = r.run_phase();
    let st = r.status.clone().unwrap_or_default();
    let mut status = format!("{} {}", phase.symbol(), r.phase_text());
    if phase == RunPhase::Running
        && let Some(p) = st.progress.percent()
    {
        status.push_str(&format!(" {p}%"));
    }
    let mut last = counts(st.errors, st.warnings);
    if let Some(p) = st.progress.text() {
        if !last.is_empty() {
            last.push(' ');
        }
        last.push_str(&p);
    }
    let mut note: Vec<String> = Vec::new();
    if let Some(reason) = st.failure_reason.as_deref().filter(|r| !r.is_empty()) {
        note.push(sanitize(reason).into_owned());
    }
    note.extend(
        st.validation_errors
            .iter()
            .map(|e| sanitize(e).into_owned()),
    );
    if !r.spec.included_namespaces.is_empty() {
        note.push(format!(
            "namespaces {}",
            r.spec.included_namespaces.join(",")
        ));
    }
    Cells {
        status: Cell::styled(status, phase_style(phase)),
        prom: Cell::default(),
        schedule: Cell::plain(format!("from {}", sanitize(&r.source()))),
        next: Cell::default(),
        last: Cell::plain(last),
        note: Cell::styled(
            note.join(" · "),
            if phase.is_failure() {
                Role::Crit
            } else {
                Role::Muted
            },
        ),
    }
}

pub fn location_cells(l: &BackupStorageLocation) -> Cells {
    let (status, role) = match l.phase() {
        "Available" => ("● Available".to_string(), Role::Ok),
        "Unavailable" => ("✖ Unavailable".to_string(), Role::Crit),
        "" => ("◌ not validated".to_string(), Role::Muted),
        other => (format!("? {}", sanitize(other)), Role::Muted),
    };
    let mut last = Vec::new();
    if l.spec.default {
        last.push("default".to_string());
    }
    if let Some(m) = &l.spec.access_mode {
        last.push(sanitize(m).into_owned());
    }
    Cells {
        status: Cell::styled(status, role),
        prom: Cell::default(),
        schedule: Cell::plain(sanitize(&l.target()).into_owned()),
        next: Cell::default(),
        last: Cell::plain(last.join(" ")),
        note: Cell::styled(
            l.status
                .as_ref()
                .and_then(|s| s.message.as_deref())
                .map(|m| sanitize(m).into_owned())
                .unwrap_or_default(),
            role,
        ),
    }
}

pub fn unreadable_cells(why: &str) -> Cells {
    Cells {
        status: Cell::styled("✖ unreadable", Role::Crit),
        note: Cell::styled(sanitize(why).into_owned(), Role::Crit),
        ..Cells::default()
    }
}

/// The table row of a built row.
#[must_use]
pub fn table_row(r: &BackupsRow, key: Arc<str>) -> TableRow {
    let c = &r.cells;
    TableRow::new(
        key,
        vec![
            muted(r.kind.as_str()),
            Cell::plain(r.short.clone()),
            Cell::styled(
                sanitize(&r.name).into_owned(),
                if r.severity > 0 {
                    Role::Title
                } else {
                    Role::Text
                },
            ),
            c.status.clone(),
            // Drawn from the clock when shown (see `age_cell`).
            Cell::default(),
            c.prom.clone(),
            c.schedule.clone(),
            c.next.clone(),
            c.last.clone(),
            c.note.clone(),
        ],
    )
}

/// The AGE cell as of `now`: a schedule's newest completed backup's age (`none` without
/// one), or the object's age.
#[must_use]
pub fn age_cell(r: &BackupsRow, now: DateTime<Utc>) -> Cell {
    let waiting = r.rpo.as_ref().is_some_and(|p| p.state == RpoState::Waiting);
    match (r.kind, r.age_from) {
        (RowKind::Schedule, _) if waiting => muted("…"),
        (RowKind::Schedule, None) => Cell::styled("none", Role::Crit),
        (RowKind::Schedule, Some(t)) => {
            let role = r.rpo.as_ref().map_or(Role::Text, |p| match p.state {
                RpoState::Breached => Role::Crit,
                RpoState::Late => Role::Warn,
                _ => Role::Text,
            });
            Cell::styled(age(now, t), role)
        }
        (_, Some(t)) => muted(age(now, t)),
        (_, None) => muted("–"),
    }
}
