//! Drawing the Rollouts detail view: status, steps, canary-vs-stable charts (from the
//! Prometheus source the view declared), revision tree, analysis values, blue-green, events.

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::detail::{MetricClass, PromThreshold, RolloutDetail, StepState};
use super::metrics::{MetricsSnapshot, SideSeries};
use super::model::{AnalysisPhase, Lookup};
use super::view::status_style;
use crate::clock::{Clock, short_duration};
use crate::panes::kit::event_lines;
use crate::theme::{Role, Theme};
use crate::widgets::chart::{Limit, Series, series_lines};

fn threshold_for(thresholds: &[PromThreshold], class: MetricClass) -> Option<&PromThreshold> {
    thresholds.iter().find(|t| {
        t.class == class || (class == MetricClass::SuccessRate && t.class == MetricClass::ErrorRate)
    })
}

fn metric_lines(
    title: &str,
    series: &[SideSeries],
    threshold: Option<&PromThreshold>,
    fmt: fn(f64) -> String,
    width: usize,
    theme: &Theme,
    clock: Clock,
) -> Vec<Line<'static>> {
    let limit = threshold.and_then(|t| t.success.or(t.failure));
    let head = match threshold {
        Some(t) => {
            let cond = t
                .success_condition
                .clone()
                .or_else(|| t.failure_condition.clone().map(|f| format!("fails if {f}")))
                .unwrap_or_default();
            format!("{title}   threshold {cond} ({}/{})", t.template, t.metric)
        }
        None => format!("{title}   no threshold (no AnalysisTemplate queries it)"),
    };
    // A success condition is breached when it stops holding, a failure condition when it holds.
    let breached = |v: f64| match (limit, threshold) {
        (Some(l), Some(t)) if t.success.is_some() => !l.op.holds(v, l.value),
        (Some(l), Some(_)) => l.op.holds(v, l.value),
        _ => false,
    };
    let shown: Vec<Series> = series
        .iter()
        .map(|s| Series {
            label: s.label,
            subject: &s.service,
            points: &s.points,
            error: s.error.as_deref(),
            stale_since: s.stale_since,
        })
        .collect();
    series_lines(
        head,
        &shown,
        limit.map(|l| Limit {
            value: l.value,
            breached: &breached,
        }),
        fmt,
        width,
        theme,
        clock,
    )
}

/// Shortens the numbers in a measured value (`[0.992379596444355]` → `[0.9924]`); other text
/// is kept as written.
#[must_use]
pub fn compact_numbers(value: &str) -> String {
    let mut out = String::new();
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if !token.is_empty() {
            match token.parse::<f64>() {
                Ok(v) if token.contains('.') && v.is_finite() => {
                    let s = format!("{v:.4}");
                    let s = s.trim_end_matches('0').trim_end_matches('.');
                    out.push_str(s);
                }
                _ => out.push_str(token),
            }
            token.clear();
        }
    };
    for ch in value.chars() {
        if ch.is_ascii_digit() || ch == '.' || ch == '-' || ch == 'e' || ch == 'E' {
            token.push(ch);
        } else {
            flush(&mut token, &mut out);
            out.push(ch);
        }
    }
    flush(&mut token, &mut out);
    out
}

fn ratio(v: f64) -> String {
    format!("{v:.3}")
}

/// An image and its roles (`stable`, `canary`, `active`, `preview`); an image no role claims
/// (an old ReplicaSet still scaling down) stands alone, as in `kubectl argo rollouts get`.
fn image_spans(image: &str, tags: &[String], theme: &Theme) -> Vec<Span<'static>> {
    let mut spans = vec![Span::raw(image.to_string())];
    if !tags.is_empty() {
        spans.push(Span::styled(
            format!(" ({})", tags.join(", ")),
            theme.style(Role::Accent),
        ));
    }
    spans
}

fn millis(v: f64) -> String {
    format!("{v:.0} ms")
}

/// Everything the detail view draws; `metrics` is `None` without a Prometheus answer yet.
#[allow(clippy::too_many_lines, clippy::too_many_arguments)]
pub fn render_detail(
    frame: &mut Frame,
    area: Rect,
    d: &RolloutDetail,
    metrics: Option<&MetricsSnapshot>,
    metrics_note: Option<&str>,
    scroll: u16,
    theme: &Theme,
    clock: Clock,
) {
    let r = &d.row;
    let (sym, role) = status_style(r.status);
    let label = |s: &str| Span::styled(format!("{s:<10}"), theme.style(Role::Muted));
    let mut header = vec![Line::from(vec![
        label("Status"),
        Span::styled(format!("{sym} {}", r.status.as_str()), theme.style(role)),
        Span::styled(
            if r.message.is_empty() {
                String::new()
            } else {
                format!("  {}", r.message)
            },
            theme.style(Role::Text),
        ),
    ])];
    let mut strat = vec![
        label("Strategy"),
        Span::raw(r.strategy.as_str().to_string()),
    ];
    if let Some(step) = r.step {
        strat.push(Span::styled(
            format!("   Step {step}"),
            theme.style(Role::Text),
        ));
    }
    if let Some(w) = r.set_weight {
        strat.push(Span::styled(
            format!(
                "   SetWeight {w}  ActualWeight {}",
                r.actual_weight
                    .map_or_else(|| "-".into(), |a| a.to_string())
            ),
            theme.style(Role::Text),
        ));
    }
    header.push(Line::from(strat));
    if let Some(t) = &r.template {
        // The source, then its containers (the plugin's `Containers`): while a change to the
        // referenced workload is not yet a revision, they differ from the running images.
        let role = match (t.lookup, t.pending()) {
            (Lookup::Found, false) => Role::Text,
            (Lookup::Found | Lookup::NotRead, _) => Role::Warn,
            (Lookup::Missing | Lookup::Unsupported, _) => Role::Crit,
        };
        header.push(Line::from(vec![
            label("Template"),
            Span::styled(t.describe(&r.namespace), theme.style(role)),
        ]));
        for c in &t.containers {
            header.push(Line::from(vec![
                label(""),
                Span::styled(format!("{}  ", c.name), theme.style(Role::Muted)),
                Span::raw(c.image.clone()),
            ]));
        }
    }
    for (i, img) in r.images.iter().enumerate() {
        let mut line = vec![label(if i == 0 { "Images" } else { "" })];
        line.extend(image_spans(&img.image, &img.tags, theme));
        header.push(Line::from(line));
    }
    let rc = r.replicas;
    header.push(Line::from(vec![
        label("Replicas"),
        Span::raw(format!(
            "desired {}  current {}  updated {}  ready {}  available {}",
            rc.desired, rc.current, rc.updated, rc.ready, rc.available
        )),
    ]));
    if let Some(p) = &d.pause {
        let mut text = if p.reasons.is_empty() {
            "paused".to_string()
        } else {
            p.reasons.join(", ")
        };
        if p.manual {
            text.push_str(" (spec.paused)");
        }
        if let Some(f) = p.paused_for {
            text.push_str(&format!(" for {}", short_duration(f.num_seconds())));
        }
        if let Some(left) = p.resumes_in {
            text.push_str(&format!(
                ", resumes in {}",
                short_duration(left.num_seconds())
            ));
        } else {
            text.push_str(", waiting for promote");
        }
        header.push(Line::from(vec![
            label("Paused"),
            Span::styled(text, theme.style(Role::Warn)),
        ]));
    }
    if let Some(bg) = &d.blue_green {
        header.push(Line::from(vec![
            label("Active"),
            Span::raw(format!(
                "{} → {}",
                bg.active_service.clone().unwrap_or_else(|| "-".into()),
                bg.active_selector.clone().unwrap_or_else(|| "-".into())
            )),
        ]));
        header.push(Line::from(vec![
            label("Preview"),
            Span::raw(format!(
                "{} → {}",
                bg.preview_service.clone().unwrap_or_else(|| "-".into()),
                bg.preview_selector.clone().unwrap_or_else(|| "-".into())
            )),
            Span::styled(
                if bg.preview_ready {
                    "  ✔ ready"
                } else {
                    "  ◌ not ready"
                },
                theme.style(if bg.preview_ready {
                    Role::Ok
                } else {
                    Role::Warn
                }),
            ),
        ]));
    }

    // Steps (left) and charts (right).
    let mut steps: Vec<Line> = vec![Line::from(Span::styled("Steps", theme.style(Role::Header)))];
    if d.steps.is_empty() {
        steps.push(Line::from(Span::styled(
            " (no canary steps)",
            theme.style(Role::Muted),
        )));
    }
    for s in &d.steps {
        let (mark, role) = match s.state {
            StepState::Done => ("✔", Role::Muted),
            StepState::Current => ("▶", Role::Warn),
            StepState::Pending => (" ", Role::Text),
        };
        steps.push(Line::from(Span::styled(
            format!(" {mark} {:>2} {}", s.index, s.description),
            theme.style(role),
        )));
    }
    let wrapped: usize = header
        .iter()
        .map(|l| l.width().div_ceil(area.width.max(1) as usize).max(1))
        .sum();
    let top = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(u16::try_from(wrapped + 1).unwrap_or(u16::MAX)),
            Constraint::Length((steps.len() as u16).max(8).min(area.height / 2)),
            Constraint::Min(0),
        ])
        .split(area);
    frame.render_widget(Paragraph::new(header).wrap(Wrap { trim: false }), top[0]);
    let mid = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(40), Constraint::Percentage(60)])
        .split(top[1]);
    frame.render_widget(Paragraph::new(steps), mid[0]);
    let chart_width = mid[1].width as usize;
    let mut charts: Vec<Line> = Vec::new();
    match metrics {
        Some(m) => {
            if let Some(note) = metrics_note {
                charts.push(Line::from(Span::styled(
                    note.to_string(),
                    theme.style(Role::Warn),
                )));
            }
            charts.extend(metric_lines(
                "success rate",
                &m.success_rate,
                threshold_for(&d.thresholds, MetricClass::SuccessRate),
                ratio,
                chart_width,
                theme,
                clock,
            ));
            charts.extend(metric_lines(
                "p99 latency",
                &m.latency_p99,
                threshold_for(&d.thresholds, MetricClass::Latency),
                millis,
                chart_width,
                theme,
                clock,
            ));
        }
        None => {
            charts.push(Line::from(Span::styled(
                "canary vs stable",
                theme.style(Role::Header),
            )));
            charts.push(Line::from(Span::styled(
                format!(" {}", metrics_note.unwrap_or("waiting for Prometheus…")),
                theme.style(Role::Muted),
            )));
        }
    }
    frame.render_widget(Paragraph::new(charts), mid[1]);

    // Tree, analysis, events: the scrollable part.
    let mut body: Vec<Line> = vec![Line::from(Span::styled(
        "Revisions",
        theme.style(Role::Header),
    ))];
    for rev in &d.revisions {
        for rs in &rev.replica_sets {
            let health_role = match rs.health {
                super::detail::ReplicaSetHealth::Healthy => Role::Ok,
                super::detail::ReplicaSetHealth::Progressing => Role::Accent,
                super::detail::ReplicaSetHealth::ScaledDown => Role::Muted,
                super::detail::ReplicaSetHealth::ReplicaFailure => Role::Crit,
            };
            body.push(Line::from(vec![
                Span::styled(
                    format!(" rev {:<3} ", rev.revision),
                    theme.style(Role::Muted),
                ),
                Span::raw(rs.name.clone()),
                Span::styled(
                    if rs.tags.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", rs.tags.join(","))
                    },
                    theme.style(Role::Accent),
                ),
                Span::styled(
                    format!("  {}", rs.health.as_str()),
                    theme.style(health_role),
                ),
                Span::styled(
                    format!("  {}/{} ready", rs.ready, rs.desired.unwrap_or(rs.replicas)),
                    theme.style(Role::Muted),
                ),
            ]));
            for p in &rs.pods {
                let role =
                    if p.status == "Running" && p.ready_containers as usize == p.total_containers {
                        Role::Text
                    } else {
                        Role::Warn
                    };
                body.push(Line::from(Span::styled(
                    format!(
                        "     └ {}  {}  ready {}  restarts {}{}",
                        p.name,
                        p.status,
                        p.ready(),
                        p.restarts,
                        p.age.map_or_else(String::new, |a| format!(
                            "  {}",
                            short_duration(a.num_seconds())
                        ))
                    ),
                    theme.style(role),
                )));
            }
        }
        for ar in &rev.analysis_runs {
            body.push(Line::from(Span::styled(
                format!("     α {ar}"),
                theme.style(Role::Muted),
            )));
        }
    }
    body.push(Line::default());
    body.push(Line::from(Span::styled(
        "Analysis",
        theme.style(Role::Header),
    )));
    if d.analysis_runs.is_empty() {
        body.push(Line::from(Span::styled(
            " no analysis runs",
            theme.style(Role::Muted),
        )));
    }
    for run in d.analysis_runs.iter().take(3) {
        let role = if run.phase.is_trouble() {
            Role::Crit
        } else if run.phase == AnalysisPhase::Successful {
            Role::Ok
        } else {
            Role::Accent
        };
        body.push(Line::from(vec![
            Span::styled(format!(" {} ", run.name), theme.style(Role::Text)),
            Span::styled(run.phase.as_str().to_string(), theme.style(role)),
            Span::styled(
                format!(
                    "  ✔ {} ✖ {} ? {} ⚠ {}{}",
                    run.successful,
                    run.failed,
                    run.inconclusive,
                    run.error,
                    run.message
                        .as_ref()
                        .map_or_else(String::new, |m| format!("  {m}"))
                ),
                theme.style(Role::Muted),
            ),
        ]));
        for m in &run.metrics {
            let cond = m
                .success_condition
                .clone()
                .map(|c| format!("success if {c}"))
                .or_else(|| m.failure_condition.clone().map(|c| format!("fails if {c}")))
                .unwrap_or_default();
            let values: Vec<String> = m
                .recent
                .iter()
                .map(|x| {
                    x.value
                        .as_deref()
                        .map_or_else(|| x.phase.clone(), compact_numbers)
                })
                .collect();
            let mrole = if m.phase.is_trouble() {
                Role::Crit
            } else {
                Role::Text
            };
            body.push(Line::from(vec![
                Span::styled(format!("   {} ", m.name), theme.style(mrole)),
                Span::styled(format!("{} ", m.phase.as_str()), theme.style(mrole)),
                Span::styled(format!("{cond}  "), theme.style(Role::Muted)),
                Span::styled(values.join(" "), theme.style(Role::Accent)),
            ]));
        }
    }
    body.push(Line::default());
    body.extend(event_lines(&d.events, 12, theme, clock));
    frame.render_widget(Paragraph::new(body).scroll((scroll, 0)), top[2]);
}

#[cfg(test)]
mod tests {
    use super::{compact_numbers, image_spans, metric_lines, ratio};
    use crate::clock::Clock;
    use crate::panes::rollouts::metrics::SideSeries;
    use crate::theme::Theme;

    #[test]
    fn kept_points_are_marked_stale_since_their_fetch() {
        let theme = Theme::builtin("default").unwrap();
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-22T12:03:04Z")
            .unwrap()
            .to_utc();
        let side = |stale_since: Option<chrono::DateTime<chrono::Utc>>| SideSeries {
            label: "canary",
            service: "web-canary".into(),
            points: vec![(0.0, 0.98), (30.0, 0.99)],
            error: stale_since.map(|_| "prometheus unreachable".to_string()),
            stale_since,
        };
        let text = |s: SideSeries| -> String {
            metric_lines(
                "success rate",
                &[s],
                None,
                ratio,
                80,
                &theme,
                Clock::Fixed(at),
            )
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
        };
        let stale = text(side(Some(at)));
        assert!(stale.contains("0.990 ◐ stale since 12:03:04"), "{stale}");
        assert!(!text(side(None)).contains("stale"));
    }

    #[test]
    fn images_show_their_roles_and_nothing_when_none() {
        let theme = Theme::builtin("default").unwrap();
        let text = |tags: &[&str]| -> String {
            let tags: Vec<String> = tags.iter().map(|t| (*t).to_string()).collect();
            image_spans("web:1.0", &tags, &theme)
                .iter()
                .map(|s| s.content.to_string())
                .collect()
        };
        assert_eq!(text(&["active", "stable"]), "web:1.0 (active, stable)");
        assert_eq!(text(&[]), "web:1.0");
    }

    #[test]
    fn measured_values_are_shortened() {
        assert_eq!(compact_numbers("[0.992379596444355]"), "[0.9924]");
        assert_eq!(compact_numbers("[0.5, 12.0000001]"), "[0.5, 12]");
        assert_eq!(compact_numbers("NaN"), "NaN");
        assert_eq!(compact_numbers("[3]"), "[3]");
    }
}
