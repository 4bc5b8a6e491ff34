//! Prometheus HTTP API (see http.rs): the `/api/v1/alerts` and `/api/v1/rules` bodies, from
//! the alert rules' latest evaluation.

use std::fmt::Write as _;

use super::write_labels;
use crate::prom::alerts::{self, RuleResult};
use crate::prom::format::{go_e, json_string, rfc3339};
use crate::prom::tsdb::Labels;

fn write_alert(out: &mut String, a: &alerts::Alert) {
    out.push_str("{\"labels\":");
    write_labels(out, &a.labels);
    out.push_str(",\"annotations\":");
    write_labels(out, &a.annotations);
    let _ = write!(
        out,
        ",\"state\":\"{}\",\"activeAt\":\"{}\",\"value\":\"{}\"}}",
        a.state.as_str(),
        rfc3339(a.active_at_ms),
        go_e(a.value)
    );
}

pub(super) fn alerts_data(results: &[RuleResult]) -> String {
    let mut out = String::from("{\"alerts\":[");
    let mut first = true;
    for a in results.iter().flat_map(|r| &r.alerts) {
        if !first {
            out.push(',');
        }
        first = false;
        write_alert(&mut out, a);
    }
    out.push_str("]}");
    out
}

pub(super) fn rules_data(results: &[RuleResult], type_filter: Option<&str>, now_ms: i64) -> String {
    let now = rfc3339(now_ms);
    let mut out = String::from("{\"groups\":[");
    // The demo only has alerting rules.
    if type_filter != Some("record") && !results.is_empty() {
        let _ = write!(
            out,
            "{{\"name\":\"kdeck-demo\",\"file\":\"kdeck-demo.rules.yml\",\"rules\":["
        );
        for (i, r) in results.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let state = if r
                .alerts
                .iter()
                .any(|a| a.state == alerts::AlertState::Firing)
            {
                "firing"
            } else if r.alerts.is_empty() {
                "inactive"
            } else {
                "pending"
            };
            let mut labels: Labels = r.rule.labels.clone();
            labels.sort();
            let mut annotations: Labels = r.rule.annotations.clone();
            annotations.sort();
            let _ = write!(
                out,
                "{{\"state\":\"{state}\",\"name\":{},\"query\":{},\"duration\":{},\"keepFiringFor\":0,\"labels\":",
                json_string(&r.rule.name),
                json_string(&r.rule.expr),
                r.rule.for_secs
            );
            write_labels(&mut out, &labels);
            out.push_str(",\"annotations\":");
            write_labels(&mut out, &annotations);
            out.push_str(",\"alerts\":[");
            for (j, a) in r.alerts.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                write_alert(&mut out, a);
            }
            let health = if r.error.is_some() { "err" } else { "ok" };
            let _ = write!(out, "],\"health\":\"{health}\"");
            if let Some(e) = &r.error {
                let _ = write!(out, ",\"lastError\":{}", json_string(e));
            }
            let _ = write!(
                out,
                ",\"evaluationTime\":0.0001,\"lastEvaluation\":\"{now}\",\"type\":\"alerting\"}}"
            );
        }
        let _ = write!(
            out,
            "],\"interval\":{},\"limit\":0,\"evaluationTime\":0.0001,\"lastEvaluation\":\"{now}\"}}",
            alerts::EVAL_INTERVAL_MS / 1000
        );
    }
    out.push_str("]}");
    out
}
