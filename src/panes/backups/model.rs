//! One cluster's Velero objects as table rows: schedules with their RPO (what needs a human
//! first), then running backups, finished backups newest first, restores and storage
//! locations. Pure: objects, Prometheus' answer and a clock in, rows out; each row is rebuilt
//! only when the objects it reads move (a schedule row also when the clock crosses a
//! [`TIME_STEP_SECS`] step, since its state changes with time alone).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use super::prom::{PromAnswer, PromLastSuccess};
use super::rpo::{Rpo, RpoState, rpo};
use super::view;
use crate::config::Grace;
use crate::k8s::velero::{Backup, BackupStorageLocation, Restore, RunPhase, Schedule};
use crate::panes::kit::{Inputs, ListRow, RowCache};
use crate::widgets::table::TableRow;

/// Schedule rows are rebuilt at least this often: their state moves with the clock.
pub const TIME_STEP_SECS: i64 = 5;
/// A failed restore needs a human for this long.
pub const RESTORE_ATTENTION_SECS: i64 = 24 * 3600;

/// What a row shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowKind {
    Schedule,
    Backup,
    Restore,
    Location,
}

impl RowKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::Backup => "backup",
            Self::Restore => "restore",
            Self::Location => "location",
        }
    }

    /// The Kubernetes kind.
    #[must_use]
    pub fn kind(self) -> &'static str {
        match self {
            Self::Schedule => "Schedule",
            Self::Backup => "Backup",
            Self::Restore => "Restore",
            Self::Location => "BackupStorageLocation",
        }
    }
}

/// Sort groups, what needs a human first.
pub mod rank {
    pub const BREACHED: u8 = 0;
    pub const UNREADABLE: u8 = 1;
    pub const LATE: u8 = 2;
    pub const LOCATION_DOWN: u8 = 2;
    pub const RESTORE_ACTIVE: u8 = 3;
    pub const RESTORE_FAILED: u8 = 3;
    pub const PAUSED: u8 = 4;
    pub const OK: u8 = 5;
    pub const BACKUP_ACTIVE: u8 = 6;
    pub const BACKUP_DONE: u8 = 7;
    pub const RESTORE_DONE: u8 = 8;
    pub const LOCATION_OK: u8 = 9;
}

/// One row of the Backups table.
#[derive(Debug, Clone)]
pub struct BackupsRow {
    /// Kubeconfig context.
    pub cluster: String,
    /// Short context name for the CLUSTER column.
    pub short: String,
    pub kind: RowKind,
    pub namespace: String,
    pub name: String,
    pub uid: Option<String>,
    pub rank: u8,
    /// Counts toward the badge and the Clusters pane's problems (1 warning, 2 critical).
    pub severity: u8,
    /// The problem in words, when `severity > 0`.
    pub problem: Option<String>,
    /// What the AGE column counts from (drawn from the clock for the visible rows).
    pub age_from: Option<DateTime<Utc>>,
    /// A schedule's RPO.
    pub rpo: Option<Box<Rpo>>,
    /// Prometheus' last success of a schedule, beside the API's answer.
    pub prom: Option<PromLastSuccess>,
    pub paused: bool,
    /// The prepared cells other than AGE (see [`view`]).
    pub cells: view::Cells,
}

impl ListRow for BackupsRow {
    fn rank(&self) -> u8 {
        self.rank
    }

    fn needs_attention(&self) -> bool {
        self.severity > 0
    }
}

/// One cluster's readable objects (already in scope) and what could not be read.
#[derive(Debug, Default)]
pub struct Objects<'a> {
    pub schedules: &'a [&'a Schedule],
    pub backups: &'a [&'a Backup],
    pub restores: &'a [&'a Restore],
    pub locations: &'a [&'a BackupStorageLocation],
    /// (kind, namespace, name, why) of objects that could not be parsed.
    pub unreadable: &'a [(RowKind, String, String, String)],
}

/// What building rows reads besides the objects.
pub struct RowInputs<'a> {
    pub cluster: &'a str,
    pub short: &'a str,
    pub now: DateTime<Utc>,
    pub grace: Grace,
    pub prom: &'a PromAnswer,
    /// Whether the cluster's Backups are known (their watch is live, or stale with data):
    /// until then no schedule is judged (a syncing list would look like no backups at all).
    pub backups_known: bool,
}

/// A table key that sorts backups newest first within their group.
fn backup_key(cluster: &str, b: &Backup) -> String {
    let created = b
        .created_at()
        .map_or(0, |t| t.timestamp())
        .clamp(0, 99_999_999_999);
    format!(
        "{cluster}/{}/{:011}/{}/backup",
        b.metadata.namespace.as_deref().unwrap_or_default(),
        99_999_999_999 - created,
        b.metadata.name.as_deref().unwrap_or_default()
    )
}

fn key(cluster: &str, kind: RowKind, ns: Option<&str>, name: Option<&str>) -> String {
    format!(
        "{cluster}/{}/{}/{}",
        ns.unwrap_or_default(),
        name.unwrap_or_default(),
        kind.as_str()
    )
}

/// Builds one cluster's rows, through `cache`.
pub fn build_rows(
    objects: &Objects<'_>,
    cx: &RowInputs<'_>,
    cache: &mut RowCache<BackupsRow>,
) -> Vec<(Arc<BackupsRow>, TableRow)> {
    let mut out = Vec::with_capacity(
        objects.schedules.len()
            + objects.backups.len()
            + objects.restores.len()
            + objects.locations.len(),
    );
    let mut by_schedule: HashMap<(&str, &str), Vec<&Backup>> = HashMap::new();
    for b in objects.backups {
        if let Some(s) = b.schedule() {
            let ns = b.metadata.namespace.as_deref().unwrap_or_default();
            by_schedule.entry((ns, s)).or_default().push(b);
        }
    }
    let step = cx.now.timestamp().div_euclid(TIME_STEP_SECS);
    for s in objects.schedules {
        let ns = s.metadata.namespace.as_deref().unwrap_or_default();
        let name = s.metadata.name.as_deref().unwrap_or_default();
        let mine = by_schedule.get(&(ns, name)).map_or(&[][..], Vec::as_slice);
        let prom = cx.prom.for_schedule(name);
        let inputs = Inputs::new()
            .meta(&s.metadata)
            .metas(mine.iter().map(|b| &b.metadata))
            .with(&step)
            .with(&cx.short)
            .with(&format!("{:?}{prom:?}{}", cx.grace, cx.backups_known))
            .finish();
        let k = key(cx.cluster, RowKind::Schedule, Some(ns), Some(name));
        out.push(cache.row(
            &k,
            inputs,
            || schedule_row(s, mine, prom, cx),
            view::table_row,
        ));
    }
    for b in objects.backups {
        let inputs = Inputs::new().meta(&b.metadata).with(&cx.short).finish();
        let k = backup_key(cx.cluster, b);
        out.push(cache.row(&k, inputs, || backup_row(b, cx), view::table_row));
    }
    for r in objects.restores {
        let recent = r
            .status
            .as_ref()
            .and_then(|s| s.completion_timestamp)
            .is_some_and(|t| (cx.now - t).num_seconds() < RESTORE_ATTENTION_SECS);
        let inputs = Inputs::new()
            .meta(&r.metadata)
            .with(&cx.short)
            .with(&recent)
            .finish();
        let k = key(
            cx.cluster,
            RowKind::Restore,
            r.metadata.namespace.as_deref(),
            r.metadata.name.as_deref(),
        );
        out.push(cache.row(&k, inputs, || restore_row(r, recent, cx), view::table_row));
    }
    for l in objects.locations {
        let inputs = Inputs::new().meta(&l.metadata).with(&cx.short).finish();
        let k = key(
            cx.cluster,
            RowKind::Location,
            l.metadata.namespace.as_deref(),
            l.metadata.name.as_deref(),
        );
        out.push(cache.row(&k, inputs, || location_row(l, cx), view::table_row));
    }
    for (kind, ns, name, why) in objects.unreadable {
        let inputs = Inputs::new().with(why).with(&cx.short).finish();
        let k = key(cx.cluster, *kind, Some(ns), Some(name));
        out.push(cache.row(
            &k,
            inputs,
            || unreadable_row(*kind, ns, name, why, cx),
            view::table_row,
        ));
    }
    out
}

fn base(cx: &RowInputs<'_>, kind: RowKind, meta: &ObjectMeta) -> BackupsRow {
    BackupsRow {
        cluster: cx.cluster.to_string(),
        short: cx.short.to_string(),
        kind,
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
        uid: meta.uid.clone(),
        rank: rank::OK,
        severity: 0,
        problem: None,
        age_from: None,
        rpo: None,
        prom: None,
        paused: false,
        cells: view::Cells::default(),
    }
}

fn schedule_row(
    s: &Schedule,
    backups: &[&Backup],
    prom: Option<PromLastSuccess>,
    cx: &RowInputs<'_>,
) -> BackupsRow {
    let mut r = rpo(s, backups, cx.now, cx.grace);
    if !cx.backups_known && !matches!(r.state, RpoState::Invalid | RpoState::Paused) {
        r.state = RpoState::Waiting;
    }
    let mut row = base(cx, RowKind::Schedule, &s.metadata);
    let prom = prom.map(|p| p.compared_with(r.last_good.as_ref().and_then(|g| g.finished), cx.now));
    let good_age = r.last_good.as_ref().and_then(|g| g.finished);
    row.age_from = good_age;
    row.paused = s.spec.paused;
    let what = |state: &str| {
        let age = good_age.map_or_else(
            || "no completed backup".to_string(),
            |t| format!("last good backup {} old", crate::clock::age(cx.now, t)),
        );
        format!("schedule {}/{} {state}: {age}", row.namespace, row.name)
    };
    (row.rank, row.severity, row.problem) = match r.state {
        RpoState::Breached => (rank::BREACHED, 2, Some(what("RPO breached"))),
        RpoState::Invalid => (
            rank::BREACHED,
            2,
            Some(format!(
                "schedule {}/{} invalid: {}",
                row.namespace,
                row.name,
                r.invalid.first().cloned().unwrap_or_default()
            )),
        ),
        RpoState::Late => (rank::LATE, 1, Some(what("late"))),
        RpoState::Paused => (rank::PAUSED, 0, None),
        RpoState::Ok | RpoState::Waiting => (rank::OK, 0, None),
    };
    if s.malformed.is_some() {
        row.rank = row.rank.min(rank::UNREADABLE);
    }
    row.cells = view::schedule_cells(s, &r, prom.as_ref(), cx.now);
    row.prom = prom;
    row.rpo = Some(Box::new(r));
    row
}

fn backup_row(b: &Backup, cx: &RowInputs<'_>) -> BackupsRow {
    let mut row = base(cx, RowKind::Backup, &b.metadata);
    row.age_from = b.created_at();
    row.rank = if b.run_phase().is_active() {
        rank::BACKUP_ACTIVE
    } else {
        rank::BACKUP_DONE
    };
    row.cells = view::backup_cells(b, cx.now);
    row
}

fn restore_row(r: &Restore, recent: bool, cx: &RowInputs<'_>) -> BackupsRow {
    let mut row = base(cx, RowKind::Restore, &r.metadata);
    row.age_from = crate::k8s::created(&r.metadata);
    let phase = r.run_phase();
    row.rank = if phase.is_active() {
        rank::RESTORE_ACTIVE
    } else if phase.is_failure() || phase == RunPhase::PartiallyFailed {
        rank::RESTORE_FAILED
    } else {
        rank::RESTORE_DONE
    };
    if recent && (phase.is_failure() || phase == RunPhase::PartiallyFailed) {
        row.severity = 1;
        row.problem = Some(format!(
            "restore {}/{} {}",
            row.namespace,
            row.name,
            r.phase_text()
        ));
    }
    row.cells = view::restore_cells(r);
    row
}

fn location_row(l: &BackupStorageLocation, cx: &RowInputs<'_>) -> BackupsRow {
    let mut row = base(cx, RowKind::Location, &l.metadata);
    let st = l.status.as_ref();
    row.age_from = st.and_then(|s| s.last_validation_time);
    if l.phase() == "Unavailable" {
        row.rank = rank::LOCATION_DOWN;
        row.severity = 2;
        row.problem = Some(format!(
            "backup location {}/{} Unavailable{}",
            row.namespace,
            row.name,
            st.and_then(|s| s.message.as_deref())
                .map(|m| format!(": {}", crate::widgets::text::ellipsize(m, 80)))
                .unwrap_or_default()
        ));
    } else {
        row.rank = rank::LOCATION_OK;
    }
    row.cells = view::location_cells(l);
    row
}

fn unreadable_row(
    kind: RowKind,
    ns: &str,
    name: &str,
    why: &str,
    cx: &RowInputs<'_>,
) -> BackupsRow {
    let meta = ObjectMeta {
        namespace: Some(ns.to_string()),
        name: Some(name.to_string()),
        ..ObjectMeta::default()
    };
    let mut row = base(cx, kind, &meta);
    row.rank = rank::UNREADABLE;
    row.severity = 1;
    row.problem = Some(format!("{} {ns}/{name} cannot be read", kind.as_str()));
    row.cells = view::unreadable_cells(why);
    row
}

/// The body `velero backup create --from-schedule` sends, built from the Schedule as read
/// (`pkg/builder/backup_builder.go` `FromSchedule`): named `<schedule>-<UTC yyyymmddhhmmss>`,
/// in the schedule's namespace; spec = `spec.template`; labels = the template's
/// `metadata.labels` when set (even empty), else the schedule's, plus
/// `velero.io/schedule-name`; the schedule's annotations; an owner reference to the schedule
/// when `useOwnerReferencesInBackup`; a resource policy reference rewritten to a ConfigMap.
pub fn backup_from_schedule(schedule: &Value, now: DateTime<Utc>) -> Result<Value, String> {
    let text = |p: &str| {
        schedule
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let (name, ns) = (text("/metadata/name"), text("/metadata/namespace"));
    if name.is_empty() {
        return Err("the schedule has no name".into());
    }
    let mut spec = match schedule.pointer("/spec/template") {
        Some(t @ Value::Object(_)) => t.clone(),
        _ => json!({}),
    };
    let mut labels = match spec.pointer("/metadata/labels") {
        Some(Value::Object(l)) => l.clone(),
        _ => match schedule.pointer("/metadata/labels") {
            Some(Value::Object(l)) => l.clone(),
            _ => serde_json::Map::new(),
        },
    };
    labels.insert(
        crate::k8s::velero::SCHEDULE_NAME_LABEL.into(),
        Value::String(name.into()),
    );
    let mut meta = json!({
        "name": format!("{name}-{}", now.format("%Y%m%d%H%M%S")),
        "namespace": ns,
        "labels": labels,
    });
    if let Some(Value::Object(a)) = schedule.pointer("/metadata/annotations")
        && !a.is_empty()
    {
        meta["annotations"] = Value::Object(a.clone());
    }
    if schedule.pointer("/spec/useOwnerReferencesInBackup") == Some(&Value::Bool(true)) {
        meta["ownerReferences"] = json!([{
            "apiVersion": "velero.io/v1",
            "kind": "Schedule",
            "name": name,
            "uid": text("/metadata/uid"),
            "controller": true,
        }]);
    }
    if let Some(policy) = spec.get("resourcePolicy").filter(|p| p.is_object()) {
        let policy_name = policy.get("name").cloned().unwrap_or(Value::Null);
        spec["resourcePolicy"] = json!({"kind": "configmap", "name": policy_name});
    }
    Ok(json!({
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": meta,
        "spec": spec,
    }))
}
