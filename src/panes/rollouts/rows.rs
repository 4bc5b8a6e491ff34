//! Building the Rollouts rows from one cluster's objects: a row per Argo Rollout and per
//! Deployment (with the ReplicaSets and AnalysisRuns each owns), an error row per object that
//! could not be read, each built only when what it is built from moved ([`build_rows`] is
//! what the pane runs and what the tests check).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::model::*;
use super::template_ref::{Referenced, find_referenced, named, ns_name, template_source};
use crate::k8s::apps::{
    DEPLOYMENT_REVISION_ANNOTATION, Deployment, ReplicaSet, find_condition, is_owned_by,
};
use crate::k8s::rollout::{AnalysisRun, Rollout};
use crate::panes::kit::{Inputs, RowCache, sort_rows};
use crate::widgets::table::TableRow;

fn uid_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.uid.as_deref().unwrap_or("")
}

/// A Rollout's row. `replica_sets` and `analysis_runs` may hold anything: only those owned by
/// this Rollout (owner reference UID) are used. A `spec.workloadRef` ReplicaSet is looked up
/// in `replica_sets`; a referenced Deployment is not among these inputs ([`build_rows`] has
/// them), so such a row says the Deployment was not found.
#[must_use]
pub fn rollout_row(
    cluster: &str,
    ro: &Rollout,
    replica_sets: &[ReplicaSet],
    analysis_runs: &[AnalysisRun],
    now: DateTime<Utc>,
) -> RolloutRow {
    let uid = uid_of(&ro.metadata);
    let rss: Vec<&ReplicaSet> = replica_sets
        .iter()
        .filter(|rs| !uid.is_empty() && is_owned_by(&rs.metadata, uid))
        .collect();
    let runs: Vec<&AnalysisRun> = analysis_runs
        .iter()
        .filter(|r| !uid.is_empty() && is_owned_by(&r.metadata, uid))
        .collect();
    let referenced = find_referenced(ro, |_, _| None, |ns, name| named(replica_sets, ns, name));
    rollout_row_owned(cluster, ro, &rss, &runs, referenced, now)
}

/// Like [`rollout_row`] with the owned ReplicaSets and AnalysisRuns already picked out, and
/// the workload `spec.workloadRef` names already found ([`find_referenced`]).
#[must_use]
pub fn rollout_row_owned(
    cluster: &str,
    ro: &Rollout,
    rss: &[&ReplicaSet],
    runs: &[&AnalysisRun],
    referenced: Referenced<'_>,
    now: DateTime<Utc>,
) -> RolloutRow {
    let st = ro.status_or_default();
    let (phase, message) = rollout_phase(ro);
    let status = if st.abort {
        RowStatus::Aborted
    } else {
        RowStatus::from_phase(&phase)
    };

    let mut strategy = Strategy::Unknown;
    let mut step = None;
    let mut set_weight = None;
    let mut actual_weight = None;
    let roles: Vec<(&ReplicaSet, ReplicaSetRoles)> = rss
        .iter()
        .map(|rs| (*rs, replica_set_roles(ro, rs)))
        .collect();

    if let Some(canary) = &ro.spec.strategy.canary {
        strategy = Strategy::Canary;
        let steps = ro.canary_steps();
        if let Some(index) = st.current_step_index
            && !steps.is_empty()
        {
            step = Some(StepProgress::Canary {
                index,
                total: steps.len(),
            });
        }
        let sw = current_set_weight(ro);
        set_weight = Some(sw);
        // The plugin's ActualWeight: 100 after the last step; otherwise, with pods available,
        // the canary ReplicaSet's share of available pods (basic canary) or the weight the
        // traffic router reports (falling back to the set weight).
        let mut actual = 0;
        if current_canary_step(ro).0.is_none() {
            actual = 100;
        } else if st.available_replicas > 0 {
            if canary.traffic_routing.is_none() {
                for (rs, r) in &roles {
                    if r.canary {
                        actual = rs.status.available_replicas.saturating_mul(100)
                            / st.available_replicas;
                    }
                }
            } else {
                actual = st.canary.weights.as_ref().map_or(sw, |w| w.canary.weight);
            }
        }
        actual_weight = Some(actual);
    } else if ro.spec.strategy.blue_green.is_some() {
        strategy = Strategy::BlueGreen;
    }

    let template = template_source(ro, referenced);
    let mut images = merge_images(
        roles
            .iter()
            .filter(|(rs, _)| rs.status.replicas > 0)
            .flat_map(|(rs, r)| rs.images().into_iter().map(move |i| (i, r.tags()))),
    );
    let (stable_tags, mut new_tags) = match strategy {
        Strategy::BlueGreen => (
            tags_with(&images, &["active"], &[]),
            tags_with(&images, &["preview"], &["active"]),
        ),
        _ => (
            tags_with(&images, &["stable"], &[]),
            tags_with(&images, &["canary"], &["stable"]),
        ),
    };
    // Nothing runs (no ReplicaSet yet, or all scaled to zero): the plugin's `Images` is
    // empty, but the template the Rollout would run is known (its own, or the referenced
    // workload's: the plugin's `Containers`), so the row shows it, tagged `template`.
    if images.is_empty() {
        let containers = match &template {
            Some(t) => &t.containers,
            None => &ro.spec.template.containers,
        };
        images = merge_images(
            containers
                .iter()
                .map(|c| (c.image.clone(), vec!["template"])),
        );
        new_tags = tags_with(&images, &["template"], &[]);
    }

    let since = step_since(ro);
    let analysis = analysis_summary(ro, runs);
    let mut problem = ro.malformed.as_ref().map(|m| format!("unreadable {m}"));
    if ro.status.is_none() && problem.is_none() {
        problem = Some("no status yet: no controller has processed this Rollout".into());
    }
    let reason = reason_of(&message);
    let attention = rollout_attention(ro, status, reason.as_deref(), analysis.as_ref());

    RolloutRow {
        cluster: cluster.to_string(),
        namespace: ro.metadata.namespace.clone().unwrap_or_default(),
        name: ro.metadata.name.clone().unwrap_or_default(),
        kind: WorkloadKind::Rollout,
        uid: ro.metadata.uid.clone(),
        resource_version: ro.metadata.resource_version.clone(),
        strategy,
        phase,
        status,
        reason,
        message,
        step,
        set_weight,
        actual_weight,
        replicas: ReplicaCounts {
            desired: ro.desired_replicas(),
            current: st.replicas,
            ready: st.ready_replicas,
            updated: st.updated_replicas,
            available: st.available_replicas,
        },
        images,
        stable_tags,
        new_tags,
        step_since: since,
        step_age: age(now, since),
        analysis,
        attention,
        problem,
        template,
    }
}

fn rollout_attention(
    ro: &Rollout,
    status: RowStatus,
    reason: Option<&str>,
    analysis: Option<&AnalysisSummary>,
) -> Attention {
    if ro.malformed.is_some() {
        return Attention::Broken;
    }
    match status {
        RowStatus::Aborted | RowStatus::Degraded => Attention::Broken,
        RowStatus::Paused => {
            if matches!(
                reason,
                Some("InconclusiveAnalysisRun" | "InconclusiveExperiment")
            ) {
                return Attention::AnalysisTrouble;
            }
            // A timed pause step (or blue-green auto-promotion after N seconds) resumes by
            // itself; only an indefinite one waits for a human.
            let timed_pause_step = reason == Some("CanaryPauseStep")
                && current_canary_step(ro)
                    .0
                    .and_then(|s| s.pause.as_ref())
                    .is_some_and(|p| p.duration.is_some());
            let timed_blue_green = reason == Some("BlueGreenPause")
                && ro.spec.strategy.blue_green.as_ref().is_some_and(|bg| {
                    bg.auto_promotion_enabled != Some(false)
                        && bg.auto_promotion_seconds.is_some_and(|s| s > 0)
                });
            if !ro.spec.paused && (timed_pause_step || timed_blue_green) {
                Attention::Progressing
            } else {
                Attention::AwaitingHuman
            }
        }
        _ if analysis.is_some_and(|a| a.phase.is_trouble()) => Attention::AnalysisTrouble,
        RowStatus::Healthy => Attention::Healthy,
        RowStatus::Progressing | RowStatus::Unknown => Attention::Progressing,
    }
}

/// `kubectl rollout status` for a Deployment, plus `spec.paused`: (phase, message, reason).
/// Checked in kubectl's order: spec observed, progress deadline, then kdeck's paused check,
/// then kubectl's three "waiting" messages; otherwise complete.
#[must_use]
pub fn deployment_phase(d: &Deployment) -> (String, String, Option<String>) {
    let name = d.metadata.name.as_deref().unwrap_or("");
    let Some(st) = &d.status else {
        return (
            "Progressing".into(),
            "Waiting for deployment spec update to be observed...".into(),
            None,
        );
    };
    let generation = d.metadata.generation.unwrap_or(0);
    if generation > st.observed_generation.unwrap_or(0) {
        return (
            "Progressing".into(),
            "Waiting for deployment spec update to be observed...".into(),
            None,
        );
    }
    if let Some(c) = find_condition(&st.conditions, "Progressing")
        && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    {
        return (
            "Degraded".into(),
            format!("deployment {name:?} exceeded its progress deadline"),
            Some("ProgressDeadlineExceeded".into()),
        );
    }
    if d.spec.paused {
        return (
            "Paused".into(),
            format!("deployment {name:?} is paused"),
            Some("DeploymentPaused".into()),
        );
    }
    let wait = |m: String| {
        (
            "Progressing".to_string(),
            format!("Waiting for deployment {name:?} rollout to finish: {m}..."),
            None,
        )
    };
    if let Some(replicas) = d.spec.replicas
        && st.updated_replicas < replicas
    {
        return wait(format!(
            "{} out of {replicas} new replicas have been updated",
            st.updated_replicas
        ));
    }
    if st.replicas > st.updated_replicas {
        return wait(format!(
            "{} old replicas are pending termination",
            st.replicas - st.updated_replicas
        ));
    }
    if st.available_replicas < st.updated_replicas {
        return wait(format!(
            "{} of {} updated replicas are available",
            st.available_replicas, st.updated_replicas
        ));
    }
    (
        "Healthy".into(),
        format!("deployment {name:?} successfully rolled out"),
        None,
    )
}

/// A Deployment's row. `replica_sets` may hold anything: only those owned by this Deployment
/// are used (for the images of old revisions still running).
#[must_use]
pub fn deployment_row(
    cluster: &str,
    d: &Deployment,
    replica_sets: &[ReplicaSet],
    now: DateTime<Utc>,
) -> RolloutRow {
    let uid = uid_of(&d.metadata);
    let rss: Vec<&ReplicaSet> = replica_sets
        .iter()
        .filter(|rs| !uid.is_empty() && is_owned_by(&rs.metadata, uid))
        .collect();
    deployment_row_owned(cluster, d, &rss, now)
}

/// Like [`deployment_row`] with the owned ReplicaSets already picked out.
#[must_use]
pub fn deployment_row_owned(
    cluster: &str,
    d: &Deployment,
    rss: &[&ReplicaSet],
    now: DateTime<Utc>,
) -> RolloutRow {
    let (phase, message, reason) = deployment_phase(d);
    let status = RowStatus::from_phase(&phase);
    let st = d.status.clone().unwrap_or_default();
    let strategy = match d.spec.strategy.type_.as_deref() {
        Some("Recreate") => Strategy::Recreate,
        None | Some("RollingUpdate") => Strategy::RollingUpdate,
        Some(_) => Strategy::Unknown,
    };
    // New images: the Deployment's template; old ones: any other revision still running.
    let dep_revision = d.revision().or_else(|| {
        rss.iter()
            .filter_map(|rs| rs.revision_from(DEPLOYMENT_REVISION_ANNOTATION).flatten())
            .max()
    });
    let mut new_images = d.spec.template.images();
    if new_images.is_empty()
        && let Some(newest) = rss
            .iter()
            .find(|rs| rs.revision_from(DEPLOYMENT_REVISION_ANNOTATION).flatten() == dep_revision)
    {
        new_images = newest.images();
    }
    let old_images: Vec<String> = rss
        .iter()
        .filter(|rs| rs.status.replicas > 0)
        .filter(|rs| rs.revision_from(DEPLOYMENT_REVISION_ANNOTATION).flatten() != dep_revision)
        .flat_map(|rs| rs.images())
        .collect();
    let images = merge_images(
        new_images
            .iter()
            .map(|i| (i.clone(), vec!["new"]))
            .chain(old_images.iter().map(|i| (i.clone(), vec!["old"]))),
    );
    let since = find_condition(&st.conditions, "Progressing")
        .and_then(|c| c.last_update_time.or(c.last_transition_time));
    let desired = d.desired_replicas();
    let attention = match status {
        RowStatus::Paused => Attention::AwaitingHuman,
        RowStatus::Degraded | RowStatus::Aborted => Attention::Broken,
        RowStatus::Healthy => Attention::Healthy,
        RowStatus::Progressing | RowStatus::Unknown => Attention::Progressing,
    };
    RolloutRow {
        cluster: cluster.to_string(),
        namespace: d.metadata.namespace.clone().unwrap_or_default(),
        name: d.metadata.name.clone().unwrap_or_default(),
        kind: WorkloadKind::Deployment,
        uid: d.metadata.uid.clone(),
        resource_version: d.metadata.resource_version.clone(),
        strategy,
        phase,
        status,
        reason,
        message,
        step: Some(StepProgress::Rolling {
            updated: st.updated_replicas,
            desired,
        }),
        set_weight: None,
        actual_weight: None,
        replicas: ReplicaCounts {
            desired,
            current: st.replicas,
            ready: st.ready_replicas,
            updated: st.updated_replicas,
            available: st.available_replicas,
        },
        stable_tags: tags_with(&images, &["old"], &["new"]),
        new_tags: tags_with(&images, &["new"], &[]),
        images,
        step_since: since,
        step_age: age(now, since),
        analysis: None,
        attention,
        problem: d
            .status
            .is_none()
            .then(|| "no status yet: the Deployment controller has not processed it".into()),
        template: None,
    }
}

/// A row for an object that could not be parsed at all: it names the object (as far as the
/// raw JSON allows) and says why, so the pane shows it instead of dropping it.
#[must_use]
pub fn unreadable_row(cluster: &str, kind: WorkloadKind, raw: &Value, error: &str) -> RolloutRow {
    let meta = raw.get("metadata");
    let text = |k: &str| {
        meta.and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    RolloutRow {
        cluster: cluster.to_string(),
        namespace: text("namespace").unwrap_or_default(),
        name: text("name").unwrap_or_else(|| "<unnamed>".into()),
        kind,
        uid: text("uid"),
        resource_version: text("resourceVersion"),
        strategy: Strategy::Unknown,
        phase: String::new(),
        status: RowStatus::Unknown,
        reason: None,
        message: format!("cannot read this {}: {error}", kind.as_str()),
        step: None,
        set_weight: None,
        actual_weight: None,
        replicas: ReplicaCounts::default(),
        images: Vec::new(),
        stable_tags: Vec::new(),
        new_tags: Vec::new(),
        step_since: None,
        step_age: None,
        analysis: None,
        attention: Attention::Broken,
        problem: Some(error.to_string()),
        template: None,
    }
}

/// One cluster's objects a Rollouts table is built from.
#[derive(Default)]
pub struct Objects<'a> {
    pub rollouts: &'a [&'a Rollout],
    pub deployments: &'a [&'a Deployment],
    pub replica_sets: &'a [&'a ReplicaSet],
    pub analysis_runs: &'a [&'a AnalysisRun],
    /// Objects that could not be parsed: their kind, what could be read of their metadata,
    /// and why.
    pub unreadable: &'a [(WorkloadKind, Value, String)],
}

/// Every row of one cluster, through `cache` (a row is rebuilt only when the resourceVersion
/// of the object, of a ReplicaSet or AnalysisRun it owns, of the workload its
/// `spec.workloadRef` names, or the cluster's short name moved),
/// in display order: what needs a human first ([`Attention`]), then by cluster, namespace,
/// name and kind. ReplicaSets and AnalysisRuns are indexed by owner once, so this stays linear
/// in the number of objects.
#[must_use]
pub fn build_rows(
    cluster: &str,
    short: &str,
    objects: &Objects<'_>,
    now: DateTime<Utc>,
    cache: &mut RowCache<RolloutRow>,
) -> Vec<(Arc<RolloutRow>, TableRow)> {
    let mut rs_by_owner: HashMap<&str, Vec<&ReplicaSet>> = HashMap::new();
    for rs in objects.replica_sets.iter().copied() {
        for o in rs.metadata.owner_references.iter().flatten() {
            rs_by_owner.entry(o.uid.as_str()).or_default().push(rs);
        }
    }
    let mut runs_by_owner: HashMap<&str, Vec<&AnalysisRun>> = HashMap::new();
    for run in objects.analysis_runs.iter().copied() {
        for o in run.metadata.owner_references.iter().flatten() {
            runs_by_owner.entry(o.uid.as_str()).or_default().push(run);
        }
    }
    // `spec.workloadRef` targets, by namespace and name.
    let deployments: HashMap<(&str, &str), &Deployment> = objects
        .deployments
        .iter()
        .map(|d| (ns_name(&d.metadata), *d))
        .collect();
    let rs_named: std::cell::OnceCell<HashMap<(&str, &str), &ReplicaSet>> =
        std::cell::OnceCell::new();
    let none_rs: Vec<&ReplicaSet> = Vec::new();
    let none_runs: Vec<&AnalysisRun> = Vec::new();
    let key_of = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
                  kind: WorkloadKind| {
        super::view::row_key(
            cluster,
            meta.namespace.as_deref().unwrap_or_default(),
            meta.name.as_deref().unwrap_or_default(),
            kind.as_str(),
        )
    };
    let table = |row: &RolloutRow, key: Arc<str>| super::view::table_row(row, key, short);
    let mut out = Vec::with_capacity(objects.rollouts.len() + objects.deployments.len());
    for ro in objects.rollouts.iter().copied() {
        let uid = uid_of(&ro.metadata);
        let rss = rs_by_owner.get(uid).unwrap_or(&none_rs);
        let runs = runs_by_owner.get(uid).unwrap_or(&none_runs);
        let referenced = find_referenced(
            ro,
            |ns, name| deployments.get(&(ns, name)).copied(),
            |ns, name| {
                rs_named
                    .get_or_init(|| {
                        (objects.replica_sets.iter())
                            .map(|rs| (ns_name(&rs.metadata), *rs))
                            .collect()
                    })
                    .get(&(ns, name))
                    .copied()
            },
        );
        let inputs = referenced
            .add_to(
                Inputs::new()
                    .with(&short)
                    .meta(&ro.metadata)
                    .metas(rss.iter().map(|r| &r.metadata))
                    .metas(runs.iter().map(|r| &r.metadata)),
            )
            .finish();
        out.push(cache.row(
            &key_of(&ro.metadata, WorkloadKind::Rollout),
            inputs,
            || rollout_row_owned(cluster, ro, rss, runs, referenced, now),
            table,
        ));
    }
    for d in objects.deployments.iter().copied() {
        let rss = rs_by_owner.get(uid_of(&d.metadata)).unwrap_or(&none_rs);
        let inputs = Inputs::new()
            .with(&short)
            .meta(&d.metadata)
            .metas(rss.iter().map(|r| &r.metadata))
            .finish();
        out.push(cache.row(
            &key_of(&d.metadata, WorkloadKind::Deployment),
            inputs,
            || deployment_row_owned(cluster, d, rss, now),
            table,
        ));
    }
    // One malformed object is one row that says so, never a missing pane.
    for (kind, raw, error) in objects.unreadable {
        let row = unreadable_row(cluster, *kind, raw, error);
        let key: Arc<str> =
            super::view::row_key(cluster, &row.namespace, &row.name, kind.as_str()).into();
        let t = table(&row, key);
        out.push((Arc::new(row), t));
    }
    sort_rows(&mut out);
    out
}

impl crate::panes::kit::ListRow for RolloutRow {
    fn rank(&self) -> u8 {
        self.attention as u8
    }

    fn needs_attention(&self) -> bool {
        RolloutRow::needs_attention(self)
    }
}
