//! The Backups detail view: prepared as styled lines when its object (or the clock's second)
//! moves, drawn as they are. A schedule shows its RPO in full, Prometheus' answer, the cron,
//! the template, the last 20 backups as a timeline with the scheduled runs that left no
//! backup, and why runs failed. A backup shows its phase and the times it went through
//! (Velero keeps no phase history beyond them), errors, warnings, validation errors, hooks,
//! volume snapshots and item operations. Restores and storage locations show their status.

use chrono::{DateTime, Duration, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::cron;
use super::model::RowKind;
use super::prom::{PromAnswer, PromLastSuccess, list_spec};
use super::rpo::{self, Rpo, RpoState};
use super::view::{counts, phase_style, rpo_role, until};
use crate::clock::age;
use crate::config::Config;
use crate::k8s::velero::{Backup, BackupSpec, BackupStorageLocation, Restore, RunPhase, Schedule};
use crate::panes::kit::{DetailCx, DrawCx, PromView, Styled, event_lines};
use crate::theme::Role;
use crate::widgets::text::sanitize;

/// How many of a schedule's backups the timeline lists.
pub const TIMELINE_BACKUPS: usize = 20;

/// A prepared detail view.
#[derive(Debug, Clone)]
pub struct BackupsDetail {
    pub kind: RowKind,
    pub lines: Vec<Vec<Styled>>,
}

impl BackupsDetail {
    /// The text of every line (tests read it).
    #[must_use]
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|l| l.iter().map(|(t, _)| t.as_str()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

pub(super) struct Out(pub(super) Vec<Vec<Styled>>);

impl Out {
    pub(super) fn header(&mut self, text: &str) {
        self.0.push(vec![(text.to_string(), Role::Header)]);
    }
    pub(super) fn field(&mut self, label: &str, parts: Vec<Styled>) {
        let mut l = vec![(format!(" {label:<13}"), Role::Muted)];
        l.extend(parts);
        self.0.push(l);
    }
    pub(super) fn text(&mut self, label: &str, text: impl Into<String>, role: Role) {
        self.field(label, vec![(text.into(), role)]);
    }
    pub(super) fn line(&mut self, parts: Vec<Styled>) {
        self.0.push(parts);
    }
}

pub(super) fn list(v: &[String], empty: &str) -> String {
    if v.is_empty() {
        empty.to_string()
    } else {
        sanitize(&v.join(", ")).into_owned()
    }
}

pub(super) fn opt_bool(v: Option<bool>, unset: &str) -> String {
    v.map_or_else(
        || unset.to_string(),
        |b| if b { "yes" } else { "no" }.into(),
    )
}

pub(super) fn when(now: DateTime<Utc>, t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "–".into(),
        |t| format!("{} ({} ago)", t.format("%Y-%m-%d %H:%M:%S"), age(now, t)),
    )
}

/// Builds the detail of the object `cx.key` names, or `None` if it is gone.
#[must_use]
pub fn build(cx: &DetailCx<'_>) -> Option<BackupsDetail> {
    let s = &cx.cluster.sources;
    let (ns, name) = (cx.key.namespace.as_str(), cx.key.name.as_str());
    let mut out = Out(Vec::new());
    let kind = match cx.key.kind {
        "Schedule" => {
            let sch = s.get::<Schedule>(ns, name)?;
            let all = s.objects::<Backup>();
            let mine: Vec<&Backup> = all
                .iter()
                .filter_map(|g| g.0.as_ref().ok())
                .filter(|b| {
                    b.metadata.namespace.as_deref() == Some(ns) && b.schedule() == Some(name)
                })
                .collect();
            let prom = cx
                .cluster
                .sources
                .prom(&list_spec(cx.config).key)
                .map(|p| PromView::Data {
                    snapshot: p.snapshot(),
                    state: p.state(),
                })
                .map_or(PromAnswer::None, |v| PromAnswer::from_view(&v));
            let known = matches!(
                s.state::<Backup>(),
                crate::source::SourceState::Live { .. } | crate::source::SourceState::Stale { .. }
            );
            schedule(&mut out, &sch, &mine, &prom, cx.config, cx.now, known);
            RowKind::Schedule
        }
        "Backup" => {
            super::detail_objects::backup(&mut out, &s.get::<Backup>(ns, name)?, cx.now);
            RowKind::Backup
        }
        "Restore" => {
            super::detail_objects::restore(&mut out, &s.get::<Restore>(ns, name)?, cx.now);
            RowKind::Restore
        }
        _ => {
            super::detail_objects::location(
                &mut out,
                &s.get::<BackupStorageLocation>(ns, name)?,
                cx.now,
            );
            RowKind::Location
        }
    };
    Some(BackupsDetail { kind, lines: out.0 })
}

fn schedule(
    out: &mut Out,
    s: &Schedule,
    mine: &[&Backup],
    prom: &PromAnswer,
    config: &Config,
    now: DateTime<Utc>,
    backups_known: bool,
) {
    let grace = config.backups.grace;
    let mut r = rpo::rpo(s, mine, now, grace);
    if !backups_known && !matches!(r.state, RpoState::Invalid | RpoState::Paused) {
        r.state = RpoState::Waiting;
    }
    rpo_lines(out, &r, now, grace);
    let good = r.last_good.as_ref().and_then(|g| g.finished);
    let prom_line = match prom.for_schedule(s.metadata.name.as_deref().unwrap_or_default()) {
        None => (
            "no Prometheus configured for this cluster".into(),
            Role::Muted,
        ),
        Some(PromLastSuccess::Waiting) => ("waiting for Prometheus…".into(), Role::Muted),
        Some(PromLastSuccess::Failed(why)) => (format!("query failed: {why}"), Role::Warn),
        Some(p) => match p.compared_with(good, now) {
            PromLastSuccess::Value {
                at,
                stale,
                disagrees,
            } => {
                let mut t = at.map_or_else(
                    || "no velero_backup_last_successful_timestamp series (a Velero restart empties it until the next success)".to_string(),
                    |t| format!("last success {}", when(now, Some(t))),
                );
                if stale {
                    t.push_str(" · ◐ stale");
                }
                if disagrees {
                    t.push_str(" · ≠ disagrees with the API");
                    (t, Role::Warn)
                } else {
                    if at.is_some() {
                        t.push_str(" · agrees with the API");
                    }
                    (t, Role::Muted)
                }
            }
            _ => (String::new(), Role::Muted),
        },
    };
    out.text("Prometheus", prom_line.0, prom_line.1);
    let st = s.status.clone().unwrap_or_default();
    out.field(
        "Cron",
        vec![
            (format!("{}  ", sanitize(s.cron())), Role::Text),
            (format!("{}  ", r.reading), Role::Accent),
            (
                r.next_run.map_or_else(
                    || "next run –".into(),
                    |t| format!("next run {}", until(now, t)),
                ),
                Role::Text,
            ),
        ],
    );
    out.text(
        "Submitted",
        format!(
            "last {} · skipped {} (status.lastBackup is a submission, not a success)",
            when(now, st.last_backup),
            when(now, st.last_skipped)
        ),
        Role::Muted,
    );
    out.text(
        "Phase",
        format!(
            "{} · paused {} · owner references on backups {}",
            if s.phase().is_empty() {
                "New"
            } else {
                s.phase()
            },
            if s.spec.paused { "yes" } else { "no" },
            if s.spec.use_owner_references_in_backup {
                "yes"
            } else {
                "no"
            },
        ),
        if s.spec.paused {
            Role::Warn
        } else {
            Role::Text
        },
    );
    for e in &r.invalid {
        out.text("Invalid", sanitize(e).into_owned(), Role::Crit);
    }
    if let Some(m) = &s.malformed {
        out.text("Unreadable", sanitize(m).into_owned(), Role::Crit);
    }
    out.header("Template");
    template(out, &s.spec.template);
    timeline(out, s, mine, now);
    failures(out, mine);
}

fn rpo_lines(out: &mut Out, r: &Rpo, now: DateTime<Utc>, grace: crate::config::Grace) {
    let good = r.last_good.as_ref().map_or_else(
        || "no completed backup in the API".to_string(),
        |g| {
            format!(
                "newest completed backup {} ({})",
                when(now, g.finished),
                g.name
            )
        },
    );
    out.field(
        "RPO",
        vec![
            (
                format!("{} {}  ", r.state.symbol(), r.state.as_str()),
                rpo_role(r.state),
            ),
            (good, Role::Text),
        ],
    );
    let judged = !matches!(
        r.state,
        RpoState::Paused | RpoState::Invalid | RpoState::Waiting
    );
    if let (true, Some(due), Some(period), Some(deadline)) = (judged, r.due, r.period, r.deadline) {
        out.text(
            "",
            format!(
                "due {} (period {}) + grace {} ({}) → {}",
                due.format("%Y-%m-%d %H:%M"),
                cron::go_duration(period),
                cron::go_duration(deadline - due),
                grace.describe(),
                if now > deadline {
                    format!("breached {} ago", age(now, deadline))
                } else {
                    format!("breached {}", until(now, deadline))
                }
            ),
            Role::Muted,
        );
    }
    if r.partial_since > 0 {
        out.text(
            "",
            format!(
                "▲ {} PartiallyFailed since then, newest {} (not counted as good)",
                r.partial_since,
                r.newest_partial
                    .as_ref()
                    .map_or_else(|| "?".into(), |p| when(now, p.finished))
            ),
            Role::Warn,
        );
    }
    if let Some(run) = &r.running {
        out.text("", format!("◐ running now: {run}"), Role::Accent);
    }
    if r.state == RpoState::Paused {
        out.text("", "paused: Velero takes no backups", Role::Warn);
    }
}

fn template(out: &mut Out, t: &BackupSpec) {
    out.text(
        "namespaces",
        format!(
            "{} · excluded {}",
            list(&t.included_namespaces, "all"),
            list(&t.excluded_namespaces, "none")
        ),
        Role::Text,
    );
    out.text(
        "resources",
        format!(
            "{} · excluded {} · cluster-scoped {}{}",
            list(&t.included_resources, "all"),
            list(&t.excluded_resources, "none"),
            opt_bool(t.include_cluster_resources, "auto"),
            if t.label_selector {
                " · label selector"
            } else {
                ""
            }
        ),
        Role::Text,
    );
    out.text(
        "storage",
        format!(
            "location {} · TTL {} · volume snapshot locations {}",
            t.storage_location.as_deref().unwrap_or("default"),
            t.ttl.as_deref().unwrap_or("server default (720h)"),
            list(&t.volume_snapshot_locations, "default")
        ),
        Role::Text,
    );
    out.text(
        "volumes",
        format!(
            "snapshots {} · file-system backup by default {} · move snapshot data {}",
            opt_bool(t.snapshot_volumes, "if a provider is configured"),
            opt_bool(t.default_volumes_to_fs_backup, "server default"),
            opt_bool(t.snapshot_move_data, "no"),
        ),
        Role::Text,
    );
    out.text("hooks", hooks(t), Role::Text);
}

pub(super) fn hooks(t: &BackupSpec) -> String {
    if t.hooks.resources.is_empty() {
        return "none".into();
    }
    t.hooks
        .resources
        .iter()
        .map(|h| {
            format!(
                "{} ({} pre, {} post)",
                sanitize(h.name.as_deref().unwrap_or("?")),
                h.pre,
                h.post
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The last 20 backups, newest first, with the scheduled runs between them that left none.
fn timeline(out: &mut Out, s: &Schedule, mine: &[&Backup], now: DateTime<Utc>) {
    let mut backups: Vec<&&Backup> = mine.iter().collect();
    backups.sort_by_key(|b| std::cmp::Reverse(b.created_at()));
    backups.truncate(TIMELINE_BACKUPS);
    let Some(oldest) = backups.last().and_then(|b| b.created_at()) else {
        out.header("Runs");
        out.line(vec![(
            " no backups of this schedule in the API".into(),
            Role::Muted,
        )]);
        return;
    };
    out.header(&format!(
        "Runs (last {} backups, newest first; · = a scheduled run that left no backup)",
        backups.len()
    ));
    // Scheduled runs from the oldest listed backup to now (none for `@every`, which has no
    // fixed times), each matched with a backup created before the next run.
    let mut fires: Vec<DateTime<Utc>> = Vec::new();
    if let Ok(c @ cron::VeleroCron::Fields(_)) = cron::parse(s.cron()) {
        let mut t = oldest - Duration::seconds(1);
        while let Some(n) = c.next_after(t).filter(|n| *n <= now) {
            fires.push(n);
            t = n;
            if fires.len() > 200 {
                break;
            }
        }
    }
    let mut entries: Vec<(DateTime<Utc>, Option<&Backup>)> = backups
        .iter()
        .filter_map(|b| b.created_at().map(|t| (t, Some(**b))))
        .collect();
    for (i, f) in fires.iter().enumerate() {
        let end = fires
            .get(i + 1)
            .copied()
            .unwrap_or(now + Duration::seconds(1));
        let covered = mine
            .iter()
            .any(|b| b.created_at().is_some_and(|t| t >= *f && t < end));
        // The newest run may be just due: Velero looks once a minute.
        let just_due = i + 1 == fires.len() && now - *f < Duration::seconds(rpo::START_SLACK_SECS);
        if !covered && !just_due {
            entries.push((*f, None));
        }
    }
    entries.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    let strip: String = entries
        .iter()
        .rev()
        .map(|(_, b)| b.map_or("·", |b| b.run_phase().symbol()))
        .collect();
    out.line(vec![(format!(" {strip}  (oldest → newest)"), Role::Muted)]);
    for (t, b) in entries.iter().take(TIMELINE_BACKUPS * 2) {
        let at = format!(" {} ", t.format("%m-%d %H:%M"));
        match b {
            None => out.line(vec![
                (at, Role::Muted),
                (
                    "· no backup at this scheduled time (skipped, paused or Velero down)".into(),
                    Role::Warn,
                ),
            ]),
            Some(b) => {
                let st = b.status_or_default();
                let took = st
                    .start_timestamp
                    .zip(st.completion_timestamp)
                    .map(|(a, z)| format!(" took {}", cron::go_duration(z - a)))
                    .unwrap_or_default();
                let phase = b.run_phase();
                out.line(vec![
                    (at, Role::Muted),
                    (
                        format!("{} {:<16} ", phase.symbol(), b.phase_text()),
                        phase_style(phase),
                    ),
                    (
                        sanitize(b.metadata.name.as_deref().unwrap_or_default()).into_owned(),
                        Role::Text,
                    ),
                    (
                        format!(" {}{took}", counts(st.errors, st.warnings)),
                        Role::Muted,
                    ),
                ]);
            }
        }
    }
}

/// Why runs failed: each failed or partially failed backup of the list, newest first.
fn failures(out: &mut Out, mine: &[&Backup]) {
    let mut bad: Vec<&&Backup> = mine
        .iter()
        .filter(|b| {
            let p = b.run_phase();
            p.is_failure() || p == RunPhase::PartiallyFailed
        })
        .collect();
    bad.sort_by_key(|b| std::cmp::Reverse(b.created_at()));
    out.header("Failures");
    if bad.is_empty() {
        out.line(vec![(" none among its backups".into(), Role::Muted)]);
        return;
    }
    for b in bad.iter().take(TIMELINE_BACKUPS) {
        let st = b.status_or_default();
        let mut why: Vec<String> = Vec::new();
        if let Some(r) = st.failure_reason.as_deref().filter(|r| !r.is_empty()) {
            why.push(sanitize(r).into_owned());
        }
        why.extend(
            st.validation_errors
                .iter()
                .map(|e| sanitize(e).into_owned()),
        );
        let c = counts(st.errors, st.warnings);
        if !c.is_empty() {
            why.push(format!(
                "{c} (velero backup logs {})",
                b.metadata.name.as_deref().unwrap_or_default()
            ));
        }
        out.line(vec![
            (
                format!(
                    " {} ",
                    sanitize(b.metadata.name.as_deref().unwrap_or_default())
                ),
                Role::Text,
            ),
            (format!("{}: ", b.phase_text()), phase_style(b.run_phase())),
            (why.join(" · "), Role::Muted),
        ]);
    }
}

/// Draws a prepared detail and the object's events.
pub fn render(d: &BackupsDetail, frame: &mut Frame, area: Rect, cx: &DrawCx<'_>) {
    let theme = cx.theme;
    let mut lines: Vec<Line> = d
        .lines
        .iter()
        .map(|l| {
            Line::from(
                l.iter()
                    .map(|(t, r)| Span::styled(t.as_str(), theme.style(*r)))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    lines.push(Line::default());
    lines.extend(event_lines(cx.events, 8, theme, cx.clock));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((cx.scroll, 0)),
        area,
    );
}
