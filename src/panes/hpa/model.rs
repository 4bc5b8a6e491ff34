//! One cluster's autoscalers as rows: every HPA with its target's replicas, min/max, metrics
//! as current/target, one status (what needs a human first: pinned at max, unable to scale,
//! metrics missing), the last scale and the replicas seen; plus a row for each KEDA
//! ScaledObject whose HPA is gone (KEDA deletes it while paused), so it can be resumed.
//! Pure: objects + clock + the observed history → rows.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::history::{History, Sample};
use super::metrics::{MetricView, metric_views};
use super::view;
use crate::k8s::apps::{Deployment, StatefulSet};
use crate::k8s::autoscaling::{HorizontalPodAutoscaler, ObjectRef, ScaledObject};
use crate::k8s::rollout::Rollout;
use crate::panes::kit::{Inputs, ListRow, RowCache};
use crate::widgets::table::TableRow;

/// One status per row, in the order a human should look at them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// At max and the controller wants more.
    PinnedAtMax,
    /// The controller cannot scale: AbleToScale or ScalingActive is False.
    UnableToScale,
    /// The object cannot be read at all.
    Unreadable,
    /// A metric of the spec has no reading in the status.
    MetricsMissing,
    ScalingUp,
    ScalingDown,
    /// A scale-down held back by the stabilization window.
    ScaleDownHeld,
    /// A scale-up held back by the scale-up window or rate.
    ScaleUpHeld,
    /// The target was scaled to zero by hand: autoscaling is off.
    Disabled,
    /// A KEDA ScaledObject paused by annotation.
    Paused,
    /// The controller has not written a status (or KEDA has not made the HPA) yet.
    NoStatus,
    AtMin,
    Ok,
}

impl State {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PinnedAtMax => "pinned at max",
            Self::UnableToScale => "unable to scale",
            Self::Unreadable => "unreadable",
            Self::MetricsMissing => "metrics missing",
            Self::ScalingUp => "scaling up",
            Self::ScalingDown => "scaling down",
            Self::ScaleDownHeld => "scale-down held",
            Self::ScaleUpHeld => "scale-up held",
            Self::Disabled => "scaling disabled",
            Self::Paused => "paused",
            Self::NoStatus => "no status yet",
            Self::AtMin => "at min",
            Self::Ok => "ok",
        }
    }

    /// Sort group: lower needs a human more.
    #[must_use]
    pub fn rank(self) -> u8 {
        match self {
            Self::PinnedAtMax => 0,
            Self::UnableToScale | Self::Unreadable => 1,
            Self::MetricsMissing => 2,
            Self::ScalingUp
            | Self::ScalingDown
            | Self::ScaleDownHeld
            | Self::ScaleUpHeld
            | Self::Disabled
            | Self::Paused => 3,
            Self::NoStatus => 4,
            Self::AtMin | Self::Ok => 5,
        }
    }
}

/// What the HPA's target says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetInfo {
    /// The target is in kdeck's stores.
    pub found: bool,
    pub spec_replicas: i32,
    pub ready: i32,
    pub status_replicas: i32,
}

/// What a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Hpa,
    /// A ScaledObject without its HPA.
    ScaledObject,
}

impl RowKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hpa => "HorizontalPodAutoscaler",
            Self::ScaledObject => "ScaledObject",
        }
    }
}

/// One row of the HPA table.
#[derive(Debug, Clone)]
pub struct HpaRow {
    pub cluster: String,
    pub kind: RowKind,
    pub namespace: String,
    pub name: String,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    pub target: ObjectRef,
    pub target_info: TargetInfo,
    /// The target's replicas (the HPA's status when the target is not in view).
    pub current: i32,
    /// The HPA's desired count (`current` without a status).
    pub desired: i32,
    pub min: i32,
    pub max: i32,
    pub metrics: Vec<MetricView>,
    pub state: State,
    /// The condition reason, the missing metrics or the parse error.
    pub reason: Option<String>,
    pub last_scale: Option<DateTime<Utc>>,
    /// The ScaledObject that owns the HPA, and whether it is paused.
    pub keda: Option<(String, bool)>,
    /// What kdeck has seen of the replicas (for the SCALED column's sparkline).
    pub history: Arc<[Sample]>,
}

impl ListRow for HpaRow {
    fn rank(&self) -> u8 {
        self.state.rank()
    }

    fn needs_attention(&self) -> bool {
        self.state.rank() <= 2
    }
}

impl HpaRow {
    /// `namespace/name`.
    #[must_use]
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The history key (`cluster/namespace/name`).
    #[must_use]
    pub fn history_key(&self) -> String {
        history_key(&self.cluster, &self.namespace, &self.name)
    }
}

#[must_use]
pub fn history_key(cluster: &str, namespace: &str, name: &str) -> String {
    format!("{cluster}/{namespace}/{name}")
}

/// How long after a scale the target's pods count as still coming or going.
pub const RECENT_SCALE_SECS: i64 = 300;

/// The status of an HPA: conditions first (what the controller says), then the metrics.
#[must_use]
pub fn state_of(
    hpa: &HorizontalPodAutoscaler,
    metrics: &[MetricView],
    target: &TargetInfo,
    current: i32,
    now: DateTime<Utc>,
) -> (State, Option<String>) {
    let Some(status) = &hpa.status else {
        return (State::NoStatus, None);
    };
    let cond = |t: &str| hpa.condition(t);
    let reason = |c: &crate::k8s::apps::Condition| c.reason.clone();
    if let Some(c) = cond("AbleToScale").filter(|c| c.status == "False") {
        return (State::UnableToScale, reason(c));
    }
    if let Some(c) = cond("ScalingActive").filter(|c| c.status == "False") {
        if c.reason.as_deref() == Some("ScalingDisabled") {
            return (State::Disabled, Some("target at 0 replicas".into()));
        }
        return (State::UnableToScale, reason(c));
    }
    let missing: Vec<String> = metrics
        .iter()
        .filter(|m| !m.has_reading())
        .map(MetricView::label)
        .collect();
    if !missing.is_empty() {
        return (State::MetricsMissing, Some(missing.join(", ")));
    }
    let max = hpa.spec.max_replicas;
    let limited = cond("ScalingLimited").filter(|c| c.is_true());
    if current >= max && limited.is_some_and(|c| c.reason.as_deref() != Some("TooFewReplicas")) {
        return (State::PinnedAtMax, limited.and_then(reason));
    }
    match cond("AbleToScale").and_then(|c| c.reason.as_deref()) {
        Some("ScaleDownStabilized") => {
            return (State::ScaleDownHeld, Some("window".into()));
        }
        Some("ScaleUpStabilized") => {
            return (State::ScaleUpHeld, Some("window".into()));
        }
        _ => {}
    }
    if limited.is_some_and(|c| c.reason.as_deref() == Some("ScaleUpLimit")) {
        return (State::ScaleUpHeld, Some("rate limit".into()));
    }
    // A scale in the last five minutes whose pods are still coming or going. (A Rollout's
    // pod count also moves with its canary, so only a recent scale counts.)
    let recent = status
        .last_scale_time
        .is_some_and(|t| (now - t).num_seconds() < RECENT_SCALE_SECS);
    if recent && target.found && target.ready < target.spec_replicas {
        return (State::ScalingUp, Some(format!("{} ready", target.ready)));
    }
    if recent && target.found && target.status_replicas > target.spec_replicas {
        return (State::ScalingDown, None);
    }
    if status.desired_replicas > current {
        return (State::ScalingUp, None);
    }
    if status.desired_replicas < current && status.desired_replicas > 0 {
        return (State::ScalingDown, None);
    }
    if current <= hpa.min_replicas() {
        return (State::AtMin, None);
    }
    (State::Ok, None)
}

/// One cluster's objects, as the pane reads them (all in scope).
#[derive(Debug, Default)]
pub struct Objects<'a> {
    pub hpas: &'a [&'a HorizontalPodAutoscaler],
    pub deployments: &'a [&'a Deployment],
    pub statefulsets: &'a [&'a StatefulSet],
    pub rollouts: &'a [&'a Rollout],
    pub scaled_objects: &'a [&'a ScaledObject],
    /// HPAs that could not be parsed: (raw metadata, error).
    pub unreadable: &'a [(Value, String)],
}

type ByName<'a, T> = HashMap<(&'a str, &'a str), &'a T>;

fn by_name<'a, T: kube::Resource>(objects: &[&'a T]) -> ByName<'a, T> {
    objects
        .iter()
        .filter_map(|o| {
            let m = o.meta();
            Some(((m.namespace.as_deref()?, m.name.as_deref()?), *o as &'a T))
        })
        .collect()
}

/// The objects' targets, found by kind and name.
pub struct Targets<'a> {
    deployments: ByName<'a, Deployment>,
    statefulsets: ByName<'a, StatefulSet>,
    rollouts: ByName<'a, Rollout>,
}

impl<'a> Targets<'a> {
    #[must_use]
    pub fn new(
        deployments: &[&'a Deployment],
        statefulsets: &[&'a StatefulSet],
        rollouts: &[&'a Rollout],
    ) -> Self {
        Self {
            deployments: by_name(deployments),
            statefulsets: by_name(statefulsets),
            rollouts: by_name(rollouts),
        }
    }
}

impl Targets<'_> {
    /// The target and the metadata it was read from (for the row cache).
    pub fn find(
        &self,
        ns: &str,
        r: &ObjectRef,
    ) -> (
        TargetInfo,
        Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
    ) {
        let key = (ns, r.name.as_str());
        match (r.group(), r.kind.as_str()) {
            ("apps", "Deployment") => {
                self.deployments
                    .get(&key)
                    .map_or_else(Default::default, |d| {
                        let st = d.status.clone().unwrap_or_default();
                        (
                            TargetInfo {
                                found: true,
                                spec_replicas: d.desired_replicas(),
                                ready: st.ready_replicas,
                                status_replicas: st.replicas,
                            },
                            Some(&d.metadata),
                        )
                    })
            }
            ("apps", "StatefulSet") => {
                self.statefulsets
                    .get(&key)
                    .map_or_else(Default::default, |s| {
                        (
                            TargetInfo {
                                found: true,
                                spec_replicas: s.spec.replicas.unwrap_or(1),
                                ready: s.status.ready_replicas,
                                status_replicas: s.status.replicas,
                            },
                            Some(&s.metadata),
                        )
                    })
            }
            ("argoproj.io", "Rollout") => {
                self.rollouts.get(&key).map_or_else(Default::default, |ro| {
                    let st = ro.status.clone().unwrap_or_default();
                    (
                        TargetInfo {
                            found: true,
                            spec_replicas: ro.desired_replicas(),
                            ready: st.ready_replicas,
                            status_replicas: st.replicas,
                        },
                        Some(&ro.metadata),
                    )
                })
            }
            _ => Default::default(),
        }
    }
}

/// The row of one HPA whose target has `current` replicas.
#[must_use]
pub fn hpa_row(
    cluster: &str,
    hpa: &HorizontalPodAutoscaler,
    target: &TargetInfo,
    owner: Option<&ScaledObject>,
    current: i32,
    history: Arc<[Sample]>,
    now: DateTime<Utc>,
) -> HpaRow {
    let metrics = metric_views(hpa);
    let (state, reason) = state_of(hpa, &metrics, target, current, now);
    let status = hpa.status.as_ref();
    HpaRow {
        cluster: cluster.to_string(),
        kind: RowKind::Hpa,
        namespace: hpa.metadata.namespace.clone().unwrap_or_default(),
        name: hpa.metadata.name.clone().unwrap_or_default(),
        uid: hpa.metadata.uid.clone(),
        resource_version: hpa.metadata.resource_version.clone(),
        target: hpa.spec.scale_target_ref.clone(),
        target_info: target.clone(),
        current,
        desired: status.map_or(current, |s| s.desired_replicas),
        min: hpa.min_replicas(),
        max: hpa.spec.max_replicas,
        metrics,
        state,
        reason,
        last_scale: status.and_then(|s| s.last_scale_time),
        keda: owner.map(|o| (o.metadata.name.clone().unwrap_or_default(), o.paused())),
        history,
    }
}

/// The replicas an HPA's target has (or the HPA's status says, when the target is not in
/// view), and its desired count.
#[must_use]
pub fn current_and_desired(hpa: &HorizontalPodAutoscaler, target: &TargetInfo) -> (i32, i32) {
    let status = hpa.status.as_ref();
    let current = if target.found {
        target.spec_replicas
    } else {
        status.map_or(0, |s| s.current_replicas)
    };
    (current, status.map_or(current, |s| s.desired_replicas))
}

/// Builds one cluster's rows through `cache` (rows rebuilt only when the objects they come
/// from moved), recording each HPA's replicas in `history` as it goes. (Forgetting deleted
/// HPAs is the caller's: it sees every namespace, not only those in view.)
#[must_use]
pub fn build_rows(
    cluster: &str,
    short: &str,
    objects: &Objects<'_>,
    now: DateTime<Utc>,
    history: &mut History,
    cache: &mut RowCache<HpaRow>,
) -> Vec<(Arc<HpaRow>, TableRow)> {
    let targets = Targets::new(objects.deployments, objects.statefulsets, objects.rollouts);
    let keda: ByName<'_, ScaledObject> = by_name(objects.scaled_objects);
    let mut out = Vec::with_capacity(objects.hpas.len());
    let mut hpa_names: HashSet<(&str, &str)> = HashSet::new();
    for hpa in objects.hpas {
        let ns = hpa.metadata.namespace.as_deref().unwrap_or_default();
        let name = hpa.metadata.name.as_deref().unwrap_or_default();
        hpa_names.insert((ns, name));
        let (target, target_meta) = targets.find(ns, &hpa.spec.scale_target_ref);
        let owner = hpa.keda_owner().and_then(|so| keda.get(&(ns, so)).copied());
        let (current, desired) = current_and_desired(hpa, &target);
        let hkey = history_key(cluster, ns, name);
        history.observe(&hkey, now, current, desired);
        let inputs = Inputs::new()
            .meta(&hpa.metadata)
            .metas(target_meta)
            .metas(owner.map(|o| &o.metadata))
            .with(&short)
            .with(&history.version(&hkey))
            .finish();
        let key = view::row_key(cluster, ns, name, RowKind::Hpa.as_str());
        let seen_so_far: &History = history;
        out.push(cache.row(
            &key,
            inputs,
            || {
                let samples: Arc<[Sample]> = seen_so_far.samples(&hkey).into();
                hpa_row(cluster, hpa, &target, owner, current, samples, now)
            },
            |r, k| view::table_row(r, k, short),
        ));
    }
    for so in objects.scaled_objects {
        let ns = so.metadata.namespace.as_deref().unwrap_or_default();
        let hpa_name = so.hpa_name();
        if hpa_names.contains(&(ns, hpa_name.as_str())) {
            continue;
        }
        out.push(scaled_object_row(cluster, short, so, &targets, cache));
    }
    for (raw, error) in objects.unreadable {
        out.push(unreadable_row(cluster, short, raw, error, cache));
    }
    out
}

/// The row of a ScaledObject whose HPA does not exist (paused, or not made yet).
fn scaled_object_row(
    cluster: &str,
    short: &str,
    so: &ScaledObject,
    targets: &Targets<'_>,
    cache: &mut RowCache<HpaRow>,
) -> (Arc<HpaRow>, TableRow) {
    let ns = so.metadata.namespace.as_deref().unwrap_or_default();
    let name = so.metadata.name.as_deref().unwrap_or_default();
    let target_ref = so_target(so);
    let (target, target_meta) = targets.find(ns, &target_ref);
    let key = view::row_key(cluster, ns, name, RowKind::ScaledObject.as_str());
    let inputs = Inputs::new()
        .meta(&so.metadata)
        .metas(target_meta)
        .with(&short)
        .finish();
    cache.row(
        &key,
        inputs,
        || so_row(cluster, so, target_ref.clone(), &target),
        |r, k| view::table_row(r, k, short),
    )
}

/// The target a ScaledObject names (a Deployment unless it says otherwise).
#[must_use]
pub fn so_target(so: &ScaledObject) -> ObjectRef {
    let r = &so.spec.scale_target_ref;
    ObjectRef {
        api_version: r.api_version.clone().unwrap_or_else(|| "apps/v1".into()),
        kind: r.kind.clone().unwrap_or_else(|| "Deployment".into()),
        name: r.name.clone(),
    }
}

/// The row of a ScaledObject without its HPA.
#[must_use]
pub fn so_row(
    cluster: &str,
    so: &ScaledObject,
    target_ref: ObjectRef,
    target: &TargetInfo,
) -> HpaRow {
    let name = so.metadata.name.clone().unwrap_or_default();
    let paused = so.paused();
    let (state, reason) = if paused {
        (State::Paused, Some("KEDA; its HPA is removed".to_string()))
    } else if let Some(m) = &so.malformed {
        (State::Unreadable, Some(m.clone()))
    } else {
        (
            State::NoStatus,
            Some("KEDA has not made its HPA".to_string()),
        )
    };
    HpaRow {
        cluster: cluster.to_string(),
        kind: RowKind::ScaledObject,
        namespace: so.metadata.namespace.clone().unwrap_or_default(),
        uid: so.metadata.uid.clone(),
        resource_version: so.metadata.resource_version.clone(),
        target: target_ref,
        target_info: target.clone(),
        current: target.spec_replicas,
        desired: target.spec_replicas,
        min: so.spec.min_replica_count.unwrap_or(0),
        max: so.spec.max_replica_count.unwrap_or(100),
        metrics: Vec::new(),
        state,
        reason,
        last_scale: None,
        keda: Some((name.clone(), paused)),
        name,
        history: Arc::from(Vec::new()),
    }
}

/// The row of an HPA that could not be parsed.
fn unreadable_row(
    cluster: &str,
    short: &str,
    raw: &Value,
    error: &str,
    cache: &mut RowCache<HpaRow>,
) -> (Arc<HpaRow>, TableRow) {
    let text = |p: &str| {
        raw.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (ns, name) = (text("/metadata/namespace"), text("/metadata/name"));
    let key = view::row_key(cluster, &ns, &name, RowKind::Hpa.as_str());
    let inputs = Inputs::new().with(&raw.to_string()).with(&error).finish();
    cache.row(
        &key,
        inputs,
        || HpaRow {
            cluster: cluster.to_string(),
            kind: RowKind::Hpa,
            namespace: ns.clone(),
            name: name.clone(),
            uid: raw
                .pointer("/metadata/uid")
                .and_then(Value::as_str)
                .map(str::to_string),
            resource_version: None,
            target: ObjectRef::default(),
            target_info: TargetInfo::default(),
            current: 0,
            desired: 0,
            min: 0,
            max: 0,
            metrics: Vec::new(),
            state: State::Unreadable,
            reason: Some(error.to_string()),
            last_scale: None,
            keda: None,
            history: Arc::from(Vec::new()),
        },
        |r, k| view::table_row(r, k, short),
    )
}
