//! An HPA's metrics as the user thinks of them: each `spec.metrics` entry paired with its
//! `status.currentMetrics` reading, written `cpu 82%/70%`, `rps 140/100 avg`,
//! `queue 1.2k/500`, and turned into the controller's units for [`super::algorithm`].
//! Every source type (Resource, ContainerResource, Pods, Object, External) is read; a type
//! this build does not know is shown by name and counts as unreadable.

use crate::k8s::autoscaling::{
    HorizontalPodAutoscaler, MetricSpec, MetricStatus, MetricTarget, MetricValue,
};

use super::algorithm::Reading;

/// Where a metric comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Resource,
    ContainerResource { container: String },
    Pods,
    Object { object: String },
    External,
    Unknown(String),
}

/// How the target is stated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Utilization,
    Value,
    AverageValue,
}

/// One metric, spec and reading together.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricView {
    pub source: Source,
    /// `cpu`, `memory`, or the metric's name.
    pub name: String,
    pub target_kind: Option<TargetKind>,
    /// In the target's unit (percent, or the quantity's value).
    pub target: Option<f64>,
    target_milli: Option<i64>,
    /// The current reading, when the status has one.
    pub current: Option<f64>,
    current_milli: Option<i64>,
    /// `cpu 82%/70%`.
    pub text: String,
}

/// A short label: known long names get their usual abbreviation.
#[must_use]
pub fn short_name(name: &str) -> String {
    if name.contains("requests_per_second") {
        return "rps".into();
    }
    name.strip_suffix("_total").unwrap_or(name).to_string()
}

/// A number as people read it: `1.2k`, `500`, `0.25`; bytes (`memory`) in binary units.
#[must_use]
pub fn human(value: f64, name: &str) -> String {
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    let scaled = |v: f64, units: &[(f64, &str)]| {
        for (size, suffix) in units {
            if v.abs() >= *size {
                let x = v / size;
                let digits = if x.abs() >= 100.0 { 0 } else { 1 };
                return format!("{}{suffix}", trim(format!("{x:.digits$}")));
            }
        }
        if v != 0.0 && v.abs() < 1.0 {
            return trim(format!("{v:.2}"));
        }
        trim(format!("{v:.1}"))
    };
    if name == "memory" || name.ends_with("bytes") {
        let k = 1024.0;
        return scaled(
            value,
            &[
                (k * k * k * k, "Ti"),
                (k * k * k, "Gi"),
                (k * k, "Mi"),
                (k, "Ki"),
            ],
        );
    }
    if name == "cpu" && value.abs() < 10.0 && value.fract() != 0.0 {
        // CPU is read in millicores below ten cores.
        return format!("{}m", (value * 1000.0).round());
    }
    scaled(value, &[(1e9, "G"), (1e6, "M"), (1e3, "k")])
}

fn target_of(t: &MetricTarget) -> (Option<TargetKind>, Option<f64>, Option<i64>) {
    let by_type = match t.type_.as_str() {
        "Utilization" => Some(TargetKind::Utilization),
        "Value" => Some(TargetKind::Value),
        "AverageValue" => Some(TargetKind::AverageValue),
        _ => None,
    };
    // The type decides; an object without one is read by whichever field is set.
    let kind = by_type.or(if t.average_utilization.is_some() {
        Some(TargetKind::Utilization)
    } else if t.average_value.is_some() {
        Some(TargetKind::AverageValue)
    } else if t.value.is_some() {
        Some(TargetKind::Value)
    } else {
        None
    });
    match kind {
        Some(TargetKind::Utilization) => {
            let u = t.average_utilization.map(i64::from);
            (kind, u.map(|u| u as f64), u)
        }
        Some(TargetKind::AverageValue) => {
            let q = t.average_value.as_ref();
            (kind, q.and_then(|q| q.value()), q.and_then(|q| q.milli()))
        }
        Some(TargetKind::Value) => {
            let q = t.value.as_ref();
            (kind, q.and_then(|q| q.value()), q.and_then(|q| q.milli()))
        }
        None => (None, None, None),
    }
}

fn current_of(kind: Option<TargetKind>, v: &MetricValue) -> (Option<f64>, Option<i64>) {
    match kind {
        Some(TargetKind::Utilization) => {
            let u = v.average_utilization.map(i64::from);
            (u.map(|u| u as f64), u)
        }
        Some(TargetKind::AverageValue) => {
            let q = v.average_value.as_ref();
            (q.and_then(|q| q.value()), q.and_then(|q| q.milli()))
        }
        Some(TargetKind::Value) => {
            let q = v.value.as_ref();
            (q.and_then(|q| q.value()), q.and_then(|q| q.milli()))
        }
        None => (None, None),
    }
}

/// The status entry for `spec`: at the same position if it is of the same metric (the
/// controller writes them in spec order), else the first entry that names it.
fn status_for<'a>(
    spec: &MetricSpec,
    index: usize,
    statuses: &'a [MetricStatus],
) -> Option<&'a MetricValue> {
    let matches = |s: &'a MetricStatus| -> Option<&'a MetricValue> {
        if s.type_ != spec.type_ {
            return None;
        }
        match s.type_.as_str() {
            "Resource" => s
                .resource
                .as_ref()
                .filter(|r| Some(&r.name) == spec.resource.as_ref().map(|x| &x.name))
                .map(|r| &r.current),
            "ContainerResource" => s
                .container_resource
                .as_ref()
                .filter(|r| {
                    spec.container_resource.as_ref().is_some_and(|x| {
                        x.name == r.name && Some(&x.container) == r.container.as_ref()
                    })
                })
                .map(|r| &r.current),
            "Pods" => s
                .pods
                .as_ref()
                .filter(|p| Some(&p.metric.name) == spec.pods.as_ref().map(|x| &x.metric.name))
                .map(|p| &p.current),
            "Object" => s
                .object
                .as_ref()
                .filter(|p| Some(&p.metric.name) == spec.object.as_ref().map(|x| &x.metric.name))
                .map(|p| &p.current),
            "External" => s
                .external
                .as_ref()
                .filter(|p| Some(&p.metric.name) == spec.external.as_ref().map(|x| &x.metric.name))
                .map(|p| &p.current),
            _ => None,
        }
    };
    statuses
        .get(index)
        .and_then(matches)
        .or_else(|| statuses.iter().find_map(matches))
}

/// Every metric of `hpa`, in spec order (the v1 CPU target or the API default when the
/// spec lists none).
#[must_use]
pub fn metric_views(hpa: &HorizontalPodAutoscaler) -> Vec<MetricView> {
    let statuses: &[MetricStatus] = hpa
        .status
        .as_ref()
        .map_or(&[], |s| s.current_metrics.as_slice());
    let v1_current = hpa
        .status
        .as_ref()
        .and_then(|s| s.current_cpu_utilization_percentage);
    hpa.metrics()
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let (source, name, target) = match spec.type_.as_str() {
                "Resource" => {
                    let r = spec.resource.clone().unwrap_or_default();
                    (Source::Resource, r.name, r.target)
                }
                "ContainerResource" => {
                    let r = spec.container_resource.clone().unwrap_or_default();
                    (
                        Source::ContainerResource {
                            container: r.container,
                        },
                        r.name,
                        r.target,
                    )
                }
                "Pods" => {
                    let p = spec.pods.clone().unwrap_or_default();
                    (Source::Pods, p.metric.name, p.target)
                }
                "Object" => {
                    let o = spec.object.clone().unwrap_or_default();
                    let object = format!("{}/{}", o.described_object.kind, o.described_object.name);
                    (Source::Object { object }, o.metric.name, o.target)
                }
                "External" => {
                    let e = spec.external.clone().unwrap_or_default();
                    (Source::External, e.metric.name, e.target)
                }
                other => (
                    Source::Unknown(other.to_string()),
                    other.to_string(),
                    MetricTarget::default(),
                ),
            };
            let (target_kind, target, target_milli) = target_of(&target);
            let (mut current, mut current_milli) =
                status_for(spec, i, statuses).map_or((None, None), |v| current_of(target_kind, v));
            if current.is_none()
                && spec.type_ == "Resource"
                && name == "cpu"
                && target_kind == Some(TargetKind::Utilization)
                && let Some(u) = v1_current
            {
                current = Some(f64::from(u));
                current_milli = Some(i64::from(u));
            }
            let mut view = MetricView {
                source,
                name,
                target_kind,
                target,
                target_milli,
                current,
                current_milli,
                text: String::new(),
            };
            view.text = view.describe();
            view
        })
        .collect()
}

impl MetricView {
    /// The label: `cpu`, `cpu(app)`, `rps`, `queue_depth`.
    #[must_use]
    pub fn label(&self) -> String {
        match &self.source {
            Source::ContainerResource { container } => format!("{}({container})", self.name),
            Source::Unknown(t) if t.is_empty() => "metric".into(),
            _ => short_name(&self.name),
        }
    }

    fn describe(&self) -> String {
        let label = self.label();
        let Some(kind) = self.target_kind else {
            return format!("{label} (no target)");
        };
        let show = |v: Option<f64>| v.map_or_else(|| "?".to_string(), |v| human(v, &self.name));
        match kind {
            TargetKind::Utilization => format!(
                "{label} {}/{}",
                self.current
                    .map_or_else(|| "?".into(), |c| format!("{c:.0}%")),
                self.target
                    .map_or_else(|| "?".into(), |t| format!("{t:.0}%"))
            ),
            TargetKind::Value => {
                format!("{label} {}/{}", show(self.current), show(self.target))
            }
            TargetKind::AverageValue => {
                format!("{label} {}/{} avg", show(self.current), show(self.target))
            }
        }
    }

    /// Whether the status has a reading for it.
    #[must_use]
    pub fn has_reading(&self) -> bool {
        self.current.is_some()
    }

    /// The reading in the controller's units; `status_replicas` (the pods that exist) turns
    /// an Object/External average back into the total the controller divides.
    #[must_use]
    pub fn reading(&self, status_replicas: i32) -> Option<Reading> {
        let (current, target) = (self.current_milli?, self.target_milli?);
        let per_pod = matches!(
            self.source,
            Source::Resource | Source::ContainerResource { .. } | Source::Pods
        );
        Some(match (self.target_kind?, per_pod) {
            (TargetKind::Utilization, _) => Reading::Utilization { current, target },
            (TargetKind::AverageValue, true) => Reading::PodAverage { current, target },
            (TargetKind::Value, false) => Reading::Value { current, target },
            (TargetKind::AverageValue, false) => Reading::TotalAverage {
                total: current.saturating_mul(i64::from(status_replicas.max(1))),
                target,
            },
            // A per-pod source has no plain Value target: the API server rejects it.
            (TargetKind::Value, true) => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(human(1200.0, "queue"), "1.2k");
        assert_eq!(human(500.0, "queue"), "500");
        assert_eq!(human(140.0, "rps"), "140");
        assert_eq!(human(0.25, "cpu"), "250m");
        assert_eq!(human(2.0, "cpu"), "2");
        assert_eq!(human(1_288_490_188.8, "memory"), "1.2Gi");
        assert_eq!(human(512.0 * 1024.0 * 1024.0, "memory"), "512Mi");
        assert_eq!(human(0.5, "ratio"), "0.5");
        assert_eq!(human(2_500_000.0, "events"), "2.5M");
        assert_eq!(short_name("http_requests_per_second"), "rps");
        assert_eq!(short_name("jobs_total"), "jobs");
    }
}
