//! The Backups pane on the kit: which kinds it reads, how one cluster's Velero objects become
//! rows (with Prometheus' last success per schedule beside them), what its detail view reads,
//! and where its actions go.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use kube::core::DeserializeGuard;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::detail::{self, BackupsDetail};
use super::model::{BackupsRow, Objects, RowInputs, RowKind, TIME_STEP_SECS, build_rows};
use super::prom::{self, PromAnswer};
use super::{actions, view};
use crate::cluster::ClusterHandle;
use crate::config::Config;
use crate::k8s::velero::{Backup, BackupStorageLocation, Restore, Schedule};
use crate::keymap::ActionCall;
use crate::pane_actions;
use crate::panes::kit::{
    DetailCx, DrawCx, EmptyTexts, ObjectKey, PaneModel, RowCache, RowCx, TablePane, worst,
};
use crate::panes::{AddonSpec, Problem, Reply};
use crate::source::{KindSpec, PromSpec, SourceState, Watched, kind};
use crate::widgets::table::{Cell, Column, TableRow};

/// The Backups pane.
pub type BackupsPane = TablePane<BackupsModel>;

/// The Backups pane's own parts (the kit keeps the state).
#[derive(Debug, Default)]
pub struct BackupsModel;

fn rev<K: Watched>(c: &ClusterHandle) -> u64 {
    c.sources.revision::<K>()
}

/// Readable objects in scope, and the unreadable ones as (kind, namespace, name, why).
fn split<'a, K: Watched>(
    objects: &'a [Arc<DeserializeGuard<K>>],
    kind: RowKind,
    cx: &RowCx<'_>,
    bad: &mut Vec<(RowKind, String, String, String)>,
) -> Vec<&'a K> {
    let mut out = Vec::with_capacity(objects.len());
    for g in objects {
        match &g.0 {
            Ok(o) if cx.in_scope(o.meta().namespace.as_deref()) => out.push(o),
            Ok(_) => {}
            Err(e) if cx.in_scope(e.metadata.namespace.as_deref()) => bad.push((
                kind,
                e.metadata.namespace.clone().unwrap_or_default(),
                e.metadata.name.clone().unwrap_or_default(),
                e.error.clone(),
            )),
            Err(_) => {}
        }
    }
    out
}

impl PaneModel for BackupsModel {
    type Row = BackupsRow;
    type Detail = BackupsDetail;

    const ID: &'static str = "backups";
    const TITLE: &'static str = "Backups";
    pane_actions!(
        list: "backups",
        detail: "backup-detail",
        rows: ["backup-now", "pause", "resume"]
    );
    const COLUMNS: &'static [Column] = view::COLUMNS;
    const EMPTY: EmptyTexts = EmptyTexts {
        none: "no Velero schedules, backups, restores or storage locations in view",
        not_installed: "Velero is not installed on the clusters in view",
    };
    const ADDONS: &'static [AddonSpec] = &[AddonSpec {
        short: "VE",
        name: "Velero",
        resource: ("backups", "velero.io"),
    }];
    const LIVE_COLUMN: Option<usize> = Some(view::AGE_COLUMN);

    fn kinds(&self) -> Vec<KindSpec> {
        vec![
            kind::<Schedule>(),
            kind::<Backup>(),
            kind::<Restore>(),
            kind::<BackupStorageLocation>(),
        ]
    }

    fn state(&self, c: &ClusterHandle) -> SourceState {
        worst(c.sources.state::<Schedule>(), c.sources.state::<Backup>())
    }

    fn revision(&self, c: &ClusterHandle) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for r in [
            rev::<Schedule>,
            rev::<Backup>,
            rev::<Restore>,
            rev::<BackupStorageLocation>,
        ] {
            r(c).hash(&mut h);
        }
        // A schedule's state moves with the clock alone (late, then breached): the rows are
        // looked at again every few seconds, and only the schedules' are rebuilt.
        Utc::now()
            .timestamp()
            .div_euclid(TIME_STEP_SECS)
            .hash(&mut h);
        h.finish()
    }

    fn list_prom(&self, c: &ClusterHandle, config: &Config) -> Option<PromSpec> {
        (!matches!(c.sources.state::<Schedule>(), SourceState::NotInstalled))
            .then(|| prom::list_spec(config))
    }

    fn rows(
        &self,
        cx: &RowCx<'_>,
        cache: &mut RowCache<BackupsRow>,
        out: &mut Vec<(Arc<BackupsRow>, TableRow)>,
    ) {
        let s = &cx.cluster.sources;
        let (schedules, backups) = (s.objects::<Schedule>(), s.objects::<Backup>());
        let (restores, locations) = (s.objects::<Restore>(), s.objects::<BackupStorageLocation>());
        let mut bad = Vec::new();
        let schedules = split(&schedules, RowKind::Schedule, cx, &mut bad);
        let backups = split(&backups, RowKind::Backup, cx, &mut bad);
        let restores = split(&restores, RowKind::Restore, cx, &mut bad);
        let locations = split(&locations, RowKind::Location, cx, &mut bad);
        let objects = Objects {
            schedules: &schedules,
            backups: &backups,
            restores: &restores,
            locations: &locations,
            unreadable: &bad,
        };
        let answer = PromAnswer::from_view(cx.prom);
        out.extend(build_rows(
            &objects,
            &RowInputs {
                cluster: &cx.cluster.context,
                short: cx.short,
                now: cx.now,
                grace: cx.config.backups.grace,
                prom: &answer,
                backups_known: matches!(
                    s.state::<Backup>(),
                    SourceState::Live { .. } | SourceState::Stale { .. }
                ),
            },
            cache,
        ));
    }

    fn object(row: &BackupsRow) -> ObjectKey {
        ObjectKey {
            cluster: row.cluster.clone(),
            kind: row.kind.kind(),
            namespace: row.namespace.clone(),
            name: row.name.clone(),
        }
    }

    fn counts(rows: usize, attention: usize) -> String {
        format!("({rows} · {attention} need attention)")
    }

    fn live_cell(row: &BackupsRow, now: DateTime<Utc>) -> Cell {
        view::age_cell(row, now)
    }

    fn problem(r: &BackupsRow) -> Option<Problem> {
        (r.severity > 0).then(|| Problem {
            cluster: r.cluster.clone(),
            severity: r.severity,
            text: r.problem.clone().unwrap_or_default(),
        })
    }

    fn detail_revision(&self, c: &ClusterHandle, key: &ObjectKey) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        match key.kind {
            "Schedule" => {
                rev::<Schedule>(c).hash(&mut h);
                rev::<Backup>(c).hash(&mut h);
                c.sources
                    .prom(&prom::list_spec(&Config::default()).key)
                    .map(|p| p.revision())
                    .hash(&mut h);
            }
            "Backup" => rev::<Backup>(c).hash(&mut h),
            "Restore" => rev::<Restore>(c).hash(&mut h),
            _ => rev::<BackupStorageLocation>(c).hash(&mut h),
        }
        h.finish()
    }

    fn detail(&self, cx: &DetailCx<'_>) -> Option<BackupsDetail> {
        detail::build(cx)
    }

    fn render_detail(&self, d: &BackupsDetail, frame: &mut Frame, area: Rect, cx: &DrawCx<'_>) {
        detail::render(d, frame, area, cx);
    }

    fn plan(&self, action: &ActionCall, row: &BackupsRow, cluster: &ClusterHandle) -> Reply {
        actions::plan(action, row, cluster)
    }
}
