//! The analysis part of a rollout's detail: each AnalysisRun's counts and its metrics' recent
//! values (`info/analysisrun_info.go`), and the Prometheus thresholds of the AnalysisTemplates
//! a rollout references, parsed from their success and failure conditions.

use crate::k8s::apps::created_at;
use crate::k8s::rollout::{
    AnalysisRun, AnalysisTemplate, AnalysisTemplateRef, ClusterAnalysisTemplate, Metric, Rollout,
};
use crate::panes::rollouts::model::AnalysisPhase;

use super::detail::*;

pub(crate) fn metric_detail(
    spec: Option<&Metric>,
    result: Option<&crate::k8s::rollout::MetricResult>,
) -> MetricDetail {
    let name = spec
        .map(|m| m.name.clone())
        .or_else(|| result.map(|r| r.name.clone()))
        .unwrap_or_default();
    let recent = result
        .map(|r| {
            let skip = r.measurements.len().saturating_sub(RECENT_MEASUREMENTS);
            r.measurements[skip..]
                .iter()
                .map(|m| MeasurementLine {
                    phase: m.phase.clone().unwrap_or_default(),
                    value: m.value.as_ref().map(|v| v.trim().to_string()),
                    finished_at: m.finished_at,
                    message: m.message.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    MetricDetail {
        name,
        phase: AnalysisPhase::parse(result.and_then(|r| r.phase.as_deref()).unwrap_or("")),
        provider: spec.map(|m| m.provider.kinds.join(",")).unwrap_or_default(),
        query: spec
            .and_then(|m| m.provider.prometheus.as_ref())
            .and_then(|p| p.query.as_ref())
            .map(|q| q.trim().to_string()),
        success_condition: spec.and_then(|m| m.success_condition.clone()),
        failure_condition: spec.and_then(|m| m.failure_condition.clone()),
        failure_limit: spec
            .and_then(|m| m.failure_limit.as_ref())
            .map(ToString::to_string),
        inconclusive_limit: spec
            .and_then(|m| m.inconclusive_limit.as_ref())
            .map(ToString::to_string),
        count: result.map_or(0, |r| r.count),
        successful: result.map_or(0, |r| r.successful),
        failed: result.map_or(0, |r| r.failed),
        inconclusive: result.map_or(0, |r| r.inconclusive),
        error: result.map_or(0, |r| r.error),
        message: result.and_then(|r| r.message.clone()),
        recent,
    }
}

/// One AnalysisRun with its metrics: spec metrics in spec order, then results without a spec.
#[must_use]
pub fn analysis_run_detail(run: &AnalysisRun) -> AnalysisRunDetail {
    let st = run.status.clone().unwrap_or_default();
    let mut metrics: Vec<MetricDetail> = run
        .spec
        .metrics
        .iter()
        .map(|m| metric_detail(Some(m), st.metric_results.iter().find(|r| r.name == m.name)))
        .collect();
    for r in &st.metric_results {
        if !run.spec.metrics.iter().any(|m| m.name == r.name) {
            metrics.push(metric_detail(None, Some(r)));
        }
    }
    AnalysisRunDetail {
        name: run.metadata.name.clone().unwrap_or_default(),
        revision: run.revision().unwrap_or(0),
        phase: AnalysisPhase::parse(run.phase()),
        successful: st.metric_results.iter().map(|r| r.successful).sum(),
        failed: st.metric_results.iter().map(|r| r.failed).sum(),
        inconclusive: st.metric_results.iter().map(|r| r.inconclusive).sum(),
        error: st.metric_results.iter().map(|r| r.error).sum(),
        message: st.message.clone(),
        started_at: st.started_at,
        metrics,
    }
}

/// Runs in the plugin's order: revision descending, then creation ascending, then name
/// descending.
pub(crate) fn sorted_runs(mut runs: Vec<&AnalysisRun>) -> Vec<&AnalysisRun> {
    runs.sort_by(|a, b| {
        b.revision()
            .unwrap_or(0)
            .cmp(&a.revision().unwrap_or(0))
            .then_with(|| created_at(&a.metadata).cmp(&created_at(&b.metadata)))
            .then_with(|| b.metadata.name.cmp(&a.metadata.name))
    });
    runs
}

/// Reads `result[0] >= 0.95`, `result < 500`, `all(result, # < 1000)`, `any(result, # > 0)`,
/// `0.95 <= result[0]`, `asFloat(result) < 0.05` as (comparison, value). Compound conditions
/// (`&&`, `||`), checks on anything but the result (`len(result) > 0`) and non-numeric
/// comparisons give `None`.
#[must_use]
pub fn parse_condition(condition: &str) -> Option<Threshold> {
    let mut text = condition.trim();
    if text.contains("&&") || text.contains("||") {
        return None;
    }
    while let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        text = inner.trim();
    }
    for wrapper in ["all(", "any(", "none(", "one("] {
        if let Some(inner) = text.strip_prefix(wrapper).and_then(|t| t.strip_suffix(')')) {
            let (list, predicate) = inner.split_once(',')?;
            if list.trim() != "result" {
                return None;
            }
            return comparison(predicate.trim(), &["#"]);
        }
    }
    comparison(text, &[])
}

pub(crate) fn is_result_ref(operand: &str, extra: &[&str]) -> bool {
    let mut s: String = operand.chars().filter(|c| !c.is_whitespace()).collect();
    if extra.contains(&s.as_str()) {
        return true;
    }
    for f in ["asFloat(", "float(", "int(", "asInt("] {
        if let Some(inner) = s.strip_prefix(f).and_then(|t| t.strip_suffix(')')) {
            s = inner.to_string();
            break;
        }
    }
    if extra.contains(&s.as_str()) {
        return true;
    }
    let Some(rest) = s.strip_prefix("result") else {
        return false;
    };
    rest.is_empty()
        || rest
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .is_some_and(|i| !i.is_empty() && i.chars().all(|c| c.is_ascii_digit()))
}

pub(crate) fn comparison(expr: &str, extra: &[&str]) -> Option<Threshold> {
    const OPS: [(&str, Comparison); 6] = [
        (">=", Comparison::Ge),
        ("<=", Comparison::Le),
        ("==", Comparison::Eq),
        ("!=", Comparison::Ne),
        (">", Comparison::Gt),
        ("<", Comparison::Lt),
    ];
    let (pos, token, op) = OPS
        .iter()
        .filter_map(|(t, op)| expr.find(t).map(|p| (p, *t, *op)))
        .min_by_key(|(p, t, _)| (*p, std::cmp::Reverse(t.len())))?;
    let (lhs, rhs) = (expr[..pos].trim(), expr[pos + token.len()..].trim());
    if OPS.iter().any(|(t, _)| rhs.contains(t)) {
        return None;
    }
    if is_result_ref(lhs, extra) {
        rhs.parse::<f64>().ok().map(|value| Threshold { op, value })
    } else if is_result_ref(rhs, extra) {
        lhs.parse::<f64>().ok().map(|value| Threshold {
            op: op.flipped(),
            value,
        })
    } else {
        None
    }
}

/// Judges what a PromQL query measures. A ratio (`/`) whose series are filtered on a status
/// code label is a success rate when the filter excludes 5xx (`!~"5.*"`, `!~"[4-5].*"`) and an
/// error rate when it selects them (`=~"5.*"`); a quantile, histogram bucket or a series named
/// for latency/duration is a latency.
#[must_use]
pub fn classify_query(query: &str) -> MetricClass {
    let q: String = query
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let ratio = q.contains('/');
    let excludes_errors = ["!~\"5", "!~\"[45]", "!~\"[4-5]", "!=\"5", "!~'5"]
        .iter()
        .any(|p| q.contains(p));
    // `=~"5..."` not preceded by `!` (a byte check is safe: `!` is ASCII).
    let selects_errors = ["=~\"5", "=~\"[45]", "=~\"[4-5]"]
        .iter()
        .any(|p| q.match_indices(p).any(|(i, _)| !q[..i].ends_with('!')));
    if ratio && excludes_errors {
        return MetricClass::SuccessRate;
    }
    if ratio && selects_errors {
        return MetricClass::ErrorRate;
    }
    if [
        "histogram_quantile",
        "_bucket",
        "latency",
        "duration",
        "response_time",
    ]
    .iter()
    .any(|p| q.contains(p))
    {
        return MetricClass::Latency;
    }
    MetricClass::Other
}

/// Every analysis template the Rollout references: background analysis, analysis steps,
/// experiment analyses and blue-green pre/post-promotion analysis.
#[must_use]
pub fn referenced_templates(ro: &Rollout) -> Vec<AnalysisTemplateRef> {
    let mut refs: Vec<AnalysisTemplateRef> = Vec::new();
    let mut add = |r: AnalysisTemplateRef| {
        if !refs.contains(&r) {
            refs.push(r);
        }
    };
    if let Some(c) = &ro.spec.strategy.canary {
        c.analysis
            .iter()
            .flat_map(|a| a.template_refs())
            .for_each(&mut add);
        for step in ro.canary_steps() {
            step.analysis
                .iter()
                .flat_map(|a| a.template_refs())
                .for_each(&mut add);
            for a in step.experiment.iter().flat_map(|e| &e.analyses) {
                add(AnalysisTemplateRef {
                    template_name: a.template_name.clone(),
                    cluster_scope: a.cluster_scope,
                });
            }
        }
    }
    if let Some(bg) = &ro.spec.strategy.blue_green {
        for a in [&bg.pre_promotion_analysis, &bg.post_promotion_analysis]
            .into_iter()
            .flatten()
        {
            a.template_refs().into_iter().for_each(&mut add);
        }
    }
    refs
}

/// Thresholds of the Prometheus metrics of the templates the Rollout references (templates
/// from the Rollout's namespace; ClusterAnalysisTemplates for `clusterScope: true`).
#[must_use]
pub fn prometheus_thresholds(
    ro: &Rollout,
    templates: &[AnalysisTemplate],
    cluster_templates: &[ClusterAnalysisTemplate],
) -> Vec<PromThreshold> {
    let ns = ro.metadata.namespace.as_deref();
    let mut out = Vec::new();
    for r in referenced_templates(ro) {
        let metrics = if r.cluster_scope {
            cluster_templates
                .iter()
                .find(|t| t.metadata.name.as_deref() == Some(r.template_name.as_str()))
                .map(|t| &t.spec.metrics)
        } else {
            templates
                .iter()
                .find(|t| {
                    t.metadata.name.as_deref() == Some(r.template_name.as_str())
                        && (ns.is_none()
                            || t.metadata.namespace.is_none()
                            || t.metadata.namespace.as_deref() == ns)
                })
                .map(|t| &t.spec.metrics)
        };
        for m in metrics.into_iter().flatten() {
            let Some(query) = m
                .provider
                .prometheus
                .as_ref()
                .and_then(|p| p.query.as_deref())
            else {
                continue;
            };
            out.push(PromThreshold {
                template: r.template_name.clone(),
                cluster_scope: r.cluster_scope,
                metric: m.name.clone(),
                class: classify_query(query),
                query: query.trim().to_string(),
                success: m.success_condition.as_deref().and_then(parse_condition),
                failure: m.failure_condition.as_deref().and_then(parse_condition),
                success_condition: m.success_condition.clone(),
                failure_condition: m.failure_condition.clone(),
            });
        }
    }
    out
}

pub(crate) fn sorted_events(events: &[EventLine]) -> Vec<EventLine> {
    let mut events = events.to_vec();
    crate::panes::kit::detail::sort_events(&mut events);
    events
}
