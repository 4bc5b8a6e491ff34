//! The HPA detail view's model: metrics, the three conditions, behavior with its defaults,
//! the target's replicas, the next sync explained, the replica history (Prometheus's
//! `kube_horizontalpodautoscaler_status_current_replicas` when it answers, else what kdeck
//! saw) with the scale events, and the KEDA ScaledObject and VPA of the same target (or why
//! there are none). Built in `update`; drawing only reads it.

use std::time::Duration;

use crate::config::Config;
use crate::k8s::apps::Condition;
use crate::k8s::autoscaling::{
    HorizontalPodAutoscaler, ObjectRef, ScaledObject, VerticalPodAutoscaler,
};
use crate::panes::kit::EventLine;
use crate::source::{PromQuery, PromSpec, SourceState};

use super::history::Sample;
use super::metrics::{MetricView, human};
use super::model::{HpaRow, RowKind, TargetInfo};
use super::next::{NextStep, rules_of, tolerances_of};

/// One direction's scaling rules as shown, with `(default)` where the spec says nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesText {
    pub direction: &'static str,
    pub text: String,
}

/// The KEDA part of the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KedaView {
    NotInstalled,
    /// KEDA is installed; this HPA is not one of its own.
    NotKeda,
    /// Could not be read (forbidden, still loading…).
    Unavailable(String),
    Object(Vec<String>),
}

/// The VPA part of the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VpaView {
    NotInstalled,
    Unavailable(String),
    /// VPA is installed; none targets this workload.
    None,
    Objects(Vec<String>),
}

/// Everything the detail view draws.
#[derive(Debug, Clone)]
pub struct HpaDetail {
    pub kind: RowKind,
    pub namespace: String,
    pub name: String,
    pub target: ObjectRef,
    pub target_info: TargetInfo,
    pub current: i32,
    pub min: i32,
    pub max: i32,
    pub metrics: Vec<MetricView>,
    /// AbleToScale, ScalingActive, ScalingLimited (as present), then any others.
    pub conditions: Vec<Condition>,
    pub behavior: Vec<RulesText>,
    pub next: Option<NextStep>,
    /// What kdeck saw of the replicas since it started.
    pub seen: Vec<Sample>,
    /// SuccessfulRescale / FailedRescale events, newest first.
    pub scale_events: Vec<EventLine>,
    pub keda: KedaView,
    pub vpa: VpaView,
}

/// The query of the replica history: one hour, a point a minute.
pub const HISTORY_WINDOW: u32 = 3600;
pub const HISTORY_STEP: u32 = 60;

/// The PromQL of an HPA's replica history (kube-state-metrics).
#[must_use]
pub fn history_query(namespace: &str, name: &str) -> String {
    format!(
        "kube_horizontalpodautoscaler_status_current_replicas{{namespace=\"{namespace}\",\
         horizontalpodautoscaler=\"{name}\"}}"
    )
}

/// The Prometheus source of the open detail view.
#[must_use]
pub fn prom_spec(d: &HpaDetail, config: &Config) -> Option<PromSpec> {
    (d.kind == RowKind::Hpa).then(|| PromSpec {
        key: format!("hpa-history/{}/{}", d.namespace, d.name),
        interval: Duration::from_secs(config.prometheus.interval_secs.max(2)),
        queries: vec![PromQuery {
            id: "current".into(),
            promql: history_query(&d.namespace, &d.name),
            range: Some((HISTORY_WINDOW, HISTORY_STEP)),
        }],
    })
}

fn ordered_conditions(hpa: &HorizontalPodAutoscaler) -> Vec<Condition> {
    let all = hpa
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    let order = ["AbleToScale", "ScalingActive", "ScalingLimited"];
    let mut out: Vec<Condition> = order
        .iter()
        .filter_map(|t| all.iter().find(|c| c.type_ == *t).cloned())
        .collect();
    out.extend(
        all.into_iter()
            .filter(|c| !order.contains(&c.type_.as_str())),
    );
    out
}

/// The behavior as the controller applies it, defaults marked.
#[must_use]
pub fn behavior_text(hpa: &HorizontalPodAutoscaler) -> Vec<RulesText> {
    let Some(b) = &hpa.spec.behavior else {
        return vec![RulesText {
            direction: "",
            text: "no behavior set: scale-up at most max(2×, 4) per sync, scale-down after the \
                   controller's 300s window"
                .into(),
        }];
    };
    let tol = tolerances_of(hpa);
    let mut out = Vec::new();
    for (direction, given, up) in [
        ("scale up", b.scale_up.as_ref(), true),
        ("scale down", b.scale_down.as_ref(), false),
    ] {
        let r = rules_of(given, up);
        let mark = |set: bool| if set { "" } else { " (default)" };
        let policies: Vec<String> = r
            .policies
            .iter()
            .map(|p| {
                let sign = if up { "+" } else { "-" };
                match p.kind {
                    super::algorithm::PolicyKind::Pods => {
                        format!("{sign}{} pods / {}s", p.value, p.period)
                    }
                    super::algorithm::PolicyKind::Percent => {
                        format!("{sign}{}% / {}s", p.value, p.period)
                    }
                }
            })
            .collect();
        let select = match r.select {
            super::algorithm::Select::Max => "Max",
            super::algorithm::Select::Min => "Min",
            super::algorithm::Select::Disabled => "Disabled",
        };
        let tolerance = if up { tol.up } else { tol.down };
        out.push(RulesText {
            direction,
            text: format!(
                "window {}s{} · {select} of {}{} · tolerance {}%{}",
                r.window,
                mark(given.is_some_and(|g| g.stabilization_window_seconds.is_some())),
                if policies.is_empty() {
                    "no policies".to_string()
                } else {
                    policies.join(", ")
                },
                mark(given.is_some_and(|g| g.policies.is_some())),
                (tolerance * 100.0).round(),
                mark(given.is_some_and(|g| g.tolerance.is_some())),
            ),
        });
    }
    out
}

/// The ScaledObject lines.
#[must_use]
pub fn keda_lines(so: &ScaledObject) -> Vec<String> {
    let name = so.metadata.name.as_deref().unwrap_or_default();
    let mut out = vec![format!(
        "ScaledObject {name} · {} · min {} max {} · polling {}s cooldown {}s",
        if so.paused() { "PAUSED" } else { "active" },
        so.spec.min_replica_count.unwrap_or(0),
        so.spec.max_replica_count.unwrap_or(100),
        so.spec.polling_interval.unwrap_or(30),
        so.spec.cooldown_period.unwrap_or(300),
    )];
    for t in &so.spec.triggers {
        let settings: Vec<String> = t
            .metadata
            .iter()
            .filter(|(k, _)| !k.to_lowercase().contains("password") && k.as_str() != "host")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out.push(format!("trigger {} {}", t.type_, settings.join(" ")));
    }
    for c in &so
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default()
    {
        out.push(format!(
            "{} {} {}",
            c.type_,
            c.status,
            c.message.clone().unwrap_or_default()
        ));
    }
    out.push(format!("owns HPA {}", so.hpa_name()));
    out
}

/// The VPA lines: update mode, and target (lower–upper) per container.
#[must_use]
pub fn vpa_lines(vpa: &VerticalPodAutoscaler) -> Vec<String> {
    let name = vpa.metadata.name.as_deref().unwrap_or_default();
    let mut out = vec![format!("{name} · update mode {}", vpa.update_mode())];
    let recs = vpa
        .status
        .as_ref()
        .and_then(|s| s.recommendation.as_ref())
        .map(|r| r.container_recommendations.clone())
        .unwrap_or_default();
    if recs.is_empty() {
        out.push("no recommendation yet".into());
    }
    for r in recs {
        let res = |m: &crate::k8s::autoscaling::Resources, k: &str| {
            m.get(k)
                .and_then(|q| q.value().map(|v| human(v, k)))
                .unwrap_or_else(|| "-".into())
        };
        let mut parts = Vec::new();
        for k in ["cpu", "memory"] {
            if r.target.contains_key(k) {
                parts.push(format!(
                    "{k} {} ({}–{})",
                    res(&r.target, k),
                    res(&r.lower_bound, k),
                    res(&r.upper_bound, k)
                ));
            }
        }
        out.push(format!("{}: target {}", r.container_name, parts.join(", ")));
    }
    out
}

/// The KEDA view of a row from the ScaledObjects' state and objects.
#[must_use]
pub fn keda_view(row: &HpaRow, state: &SourceState, objects: &[ScaledObject]) -> KedaView {
    match state {
        SourceState::NotInstalled => return KedaView::NotInstalled,
        SourceState::Live { .. } | SourceState::Stale { .. } => {}
        other => {
            return KedaView::Unavailable(other.label(crate::clock::Clock::System));
        }
    }
    let so_name = row.keda.as_ref().map(|(n, _)| n.as_str());
    objects
        .iter()
        .find(|so| so.metadata.name.as_deref() == so_name)
        .map_or(KedaView::NotKeda, |so| KedaView::Object(keda_lines(so)))
}

/// The VPA view of a row: every VPA whose targetRef is the row's target.
#[must_use]
pub fn vpa_view(row: &HpaRow, state: &SourceState, objects: &[VerticalPodAutoscaler]) -> VpaView {
    match state {
        SourceState::NotInstalled => return VpaView::NotInstalled,
        SourceState::Live { .. } | SourceState::Stale { .. } => {}
        other => return VpaView::Unavailable(other.label(crate::clock::Clock::System)),
    }
    let lines: Vec<String> = objects
        .iter()
        .filter(|v| {
            v.spec
                .target_ref
                .as_ref()
                .is_some_and(|t| t.kind == row.target.kind && t.name == row.target.name)
        })
        .flat_map(vpa_lines)
        .collect();
    if lines.is_empty() {
        VpaView::None
    } else {
        VpaView::Objects(lines)
    }
}

/// The detail of a row, given the HPA (for HPA rows) and what surrounds it.
#[must_use]
pub fn build(
    row: &HpaRow,
    hpa: Option<&HorizontalPodAutoscaler>,
    seen: Vec<Sample>,
    events: &[EventLine],
    keda: KedaView,
    vpa: VpaView,
    now: chrono::DateTime<chrono::Utc>,
) -> HpaDetail {
    let metrics = hpa.map(super::metrics::metric_views).unwrap_or_default();
    let next =
        hpa.map(|h| super::next::next_step(h, &metrics, &row.target_info, row.current, &seen, now));
    HpaDetail {
        kind: row.kind,
        namespace: row.namespace.clone(),
        name: row.name.clone(),
        target: row.target.clone(),
        target_info: row.target_info.clone(),
        current: row.current,
        min: row.min,
        max: row.max,
        conditions: hpa.map(ordered_conditions).unwrap_or_default(),
        behavior: hpa.map(behavior_text).unwrap_or_default(),
        metrics,
        next,
        seen,
        scale_events: events
            .iter()
            .filter(|e| e.reason.contains("Rescale"))
            .cloned()
            .collect(),
        keda,
        vpa,
    }
}
