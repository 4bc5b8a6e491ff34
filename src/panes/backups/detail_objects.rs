//! The detail of a Backup, a Restore and a BackupStorageLocation, as styled lines: a backup's
//! phase and the times it went through (Velero keeps no phase history beyond them), errors,
//! warnings, validation errors, hooks, volume snapshots and item operations; a restore's
//! source, progress and failure; a location's state and target.

use chrono::{DateTime, Utc};

use super::cron;
use super::detail::{Out, hooks, list, opt_bool, when};
use super::view::{phase_style, until};
use crate::k8s::velero::{Backup, BackupStorageLocation, Restore};
use crate::theme::Role;
use crate::widgets::text::sanitize;

pub(super) fn backup(out: &mut Out, b: &Backup, now: DateTime<Utc>) {
    let st = b.status_or_default();
    let phase = b.run_phase();
    let mut head = vec![(
        format!("{} {}", phase.symbol(), b.phase_text()),
        phase_style(phase),
    )];
    if let Some(p) = st.progress.text() {
        head.push((format!("  {p} items"), Role::Text));
    }
    if let Some(q) = st.queue_position {
        head.push((format!("  queue position {q}"), Role::Muted));
    }
    out.field("Phase", head);
    out.text(
        "From",
        format!(
            "{} · location {} · expires {}",
            b.schedule()
                .map_or_else(|| "manual backup".into(), |s| format!("schedule {s}")),
            b.location().unwrap_or("default"),
            st.expiration
                .map_or_else(|| "–".into(), |e| until(now, e).replace("due", "expired"))
        ),
        Role::Text,
    );
    out.header("History (from the object's timestamps; Velero keeps no phase history)");
    let created = b.created_at();
    out.text("created", when(now, created), Role::Text);
    out.text("started", when(now, st.start_timestamp), Role::Text);
    let finished = match st.completion_timestamp {
        Some(t) => format!(
            "{} {}{}",
            b.phase_text(),
            when(now, Some(t)),
            st.start_timestamp
                .map(|s| format!(", took {}", cron::go_duration(t - s)))
                .unwrap_or_default()
        ),
        None if phase.is_active() => "not yet".into(),
        None => "–".into(),
    };
    out.text("finished", finished, phase_style(phase));
    out.header("Outcome");
    out.text(
        "errors",
        format!(
            "{} errors, {} warnings{}",
            st.errors,
            st.warnings,
            if st.errors + st.warnings > 0 {
                format!(
                    " (the messages are in object storage: velero backup logs {})",
                    b.metadata.name.as_deref().unwrap_or_default()
                )
            } else {
                String::new()
            }
        ),
        if st.errors > 0 {
            Role::Crit
        } else if st.warnings > 0 {
            Role::Warn
        } else {
            Role::Text
        },
    );
    if let Some(r) = st.failure_reason.as_deref().filter(|r| !r.is_empty()) {
        out.text("failure", sanitize(r).into_owned(), Role::Crit);
    }
    for e in &st.validation_errors {
        out.text("validation", sanitize(e).into_owned(), Role::Crit);
    }
    out.text(
        "hooks",
        format!(
            "{} · {} attempted, {} failed",
            hooks(&b.spec),
            st.hook_status.hooks_attempted,
            st.hook_status.hooks_failed
        ),
        if st.hook_status.hooks_failed > 0 {
            Role::Warn
        } else {
            Role::Text
        },
    );
    out.text(
        "snapshots",
        format!(
            "volume snapshots {}/{} · CSI {}/{} · snapshotVolumes {} · file-system backup {}",
            st.volume_snapshots_completed,
            st.volume_snapshots_attempted,
            st.csi_volume_snapshots_completed,
            st.csi_volume_snapshots_attempted,
            opt_bool(b.spec.snapshot_volumes, "auto"),
            opt_bool(b.spec.default_volumes_to_fs_backup, "default"),
        ),
        if st.volume_snapshots_completed < st.volume_snapshots_attempted
            || st.csi_volume_snapshots_completed < st.csi_volume_snapshots_attempted
        {
            Role::Warn
        } else {
            Role::Text
        },
    );
    out.text(
        "item ops",
        format!(
            "{} attempted, {} completed, {} failed",
            st.backup_item_operations_attempted,
            st.backup_item_operations_completed,
            st.backup_item_operations_failed
        ),
        Role::Text,
    );
    out.text(
        "includes",
        format!(
            "namespaces {} · excluded {}",
            list(&b.spec.included_namespaces, "all"),
            list(&b.spec.excluded_namespaces, "none")
        ),
        Role::Text,
    );
    if let Some(m) = &b.malformed {
        out.text("unreadable", sanitize(m).into_owned(), Role::Crit);
    }
}

pub(super) fn restore(out: &mut Out, r: &Restore, now: DateTime<Utc>) {
    let st = r.status.clone().unwrap_or_default();
    let phase = r.run_phase();
    let mut head = vec![(
        format!("{} {}", phase.symbol(), r.phase_text()),
        phase_style(phase),
    )];
    if let Some(p) = st.progress.text() {
        head.push((format!("  {p} items restored"), Role::Text));
    }
    out.field("Phase", head);
    out.text("From", sanitize(&r.source()).into_owned(), Role::Text);
    out.text(
        "namespaces",
        list(&r.spec.included_namespaces, "all"),
        Role::Text,
    );
    out.text("started", when(now, st.start_timestamp), Role::Text);
    out.text("finished", when(now, st.completion_timestamp), Role::Text);
    out.text(
        "errors",
        format!("{} errors, {} warnings", st.errors, st.warnings),
        if st.errors > 0 {
            Role::Crit
        } else {
            Role::Text
        },
    );
    if let Some(f) = st.failure_reason.as_deref().filter(|r| !r.is_empty()) {
        out.text("failure", sanitize(f).into_owned(), Role::Crit);
    }
    for e in &st.validation_errors {
        out.text("validation", sanitize(e).into_owned(), Role::Crit);
    }
}

pub(super) fn location(out: &mut Out, l: &BackupStorageLocation, now: DateTime<Utc>) {
    let st = l.status.clone().unwrap_or_default();
    let role = if l.phase() == "Available" {
        Role::Ok
    } else {
        Role::Crit
    };
    out.text(
        "Phase",
        if l.phase().is_empty() {
            "not validated yet".into()
        } else {
            sanitize(l.phase()).into_owned()
        },
        role,
    );
    if let Some(m) = &st.message {
        out.text("message", sanitize(m).into_owned(), role);
    }
    out.text("target", sanitize(&l.target()).into_owned(), Role::Text);
    out.text(
        "settings",
        format!(
            "default {} · access {}",
            if l.spec.default { "yes" } else { "no" },
            l.spec.access_mode.as_deref().unwrap_or("ReadWrite")
        ),
        Role::Text,
    );
    out.text("validated", when(now, st.last_validation_time), Role::Text);
    out.text("synced", when(now, st.last_synced_time), Role::Text);
}
