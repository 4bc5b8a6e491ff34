//! Drawing the Rollouts pane: table rows from [`RolloutRow`]s, and the detail view (steps,
//! canary-vs-stable charts, revision tree, analysis values, blue-green, events).

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::detail::{MetricClass, PromThreshold, RolloutDetail, StepState};
use super::metrics::{MetricsSnapshot, SideSeries, shared_range, sparkline};
use super::model::{AnalysisPhase, RolloutRow, RowStatus};
use crate::clock::{Clock, short_duration};
use crate::theme::{Role, Theme};
use crate::widgets::table::{Cell, Column, TableRow};

/// Position of the AGE column in [`COLUMNS`] (drawn from the row's step start and the clock,
/// so a moving age never recomputes the rows).
pub const AGE_COLUMN: usize = 9;

pub const COLUMNS: &[Column] = &[
    Column::new("CLUSTER", 7, 14, 4),
    Column::new("NAMESPACE", 7, 12, 5),
    Column::new("NAME", 10, 22, 0),
    Column::new("STRATEGY", 6, 10, 7),
    Column::new("STATUS", 12, 30, 0),
    Column::new("STEP", 4, 7, 0),
    Column::new("WEIGHT", 6, 7, 1),
    Column::new("R/D/U/A", 7, 12, 3),
    Column::new("IMAGES", 8, 20, 6),
    Column::new("AGE", 5, 6, 2),
    Column::new("ANALYSIS", 10, 100, 1),
];

/// Symbol and theme role of a status (the symbol carries it without colour).
#[must_use]
pub fn status_style(s: RowStatus) -> (&'static str, Role) {
    match s {
        RowStatus::Healthy => ("✔", Role::Ok),
        RowStatus::Progressing => ("◷", Role::Accent),
        RowStatus::Paused => ("‖", Role::Warn),
        RowStatus::Degraded | RowStatus::Aborted => ("✖", Role::Crit),
        RowStatus::Unknown => ("?", Role::Muted),
    }
}

fn analysis_cell(row: &RolloutRow) -> Cell {
    match &row.analysis {
        None => Cell::styled("—", Role::Muted),
        Some(a) => {
            let (sym, role) = match a.phase {
                AnalysisPhase::Successful => ("✔", Role::Ok),
                AnalysisPhase::Failed | AnalysisPhase::Error => ("✖", Role::Crit),
                AnalysisPhase::Inconclusive => ("?", Role::Warn),
                AnalysisPhase::Running | AnalysisPhase::Pending => ("◷", Role::Accent),
                AnalysisPhase::Unknown(_) => ("?", Role::Muted),
            };
            let mut text = format!("{sym} {}", a.phase.as_str());
            if !a.summary.is_empty() {
                text.push_str(": ");
                text.push_str(&a.summary);
            }
            Cell::styled(text, role)
        }
    }
}

/// A table row for each rollout row; `names` shortens context names for the CLUSTER column.
#[must_use]
pub fn table_rows(
    rows: &[RolloutRow],
    names: &std::collections::HashMap<String, String>,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<TableRow> {
    rows.iter().map(|r| table_row(r, names, now)).collect()
}

/// The table row of one rollout row.
#[must_use]
pub fn table_row(
    r: &RolloutRow,
    names: &std::collections::HashMap<String, String>,
    now: chrono::DateTime<chrono::Utc>,
) -> TableRow {
    let (sym, role) = status_style(r.status);
    let mut status = format!("{sym} {}", r.status.as_str());
    if let Some(reason) = &r.reason {
        status.push(' ');
        status.push_str(reason);
    } else if let Some(problem) = &r.problem {
        status.push(' ');
        status.push_str(problem);
    }
    let weight = match (r.set_weight, r.actual_weight) {
        (Some(s), Some(a)) if s == a => format!("{s}"),
        (Some(s), Some(a)) => format!("{s}→{a}"),
        (Some(s), None) => format!("{s}"),
        _ => "-".into(),
    };
    let rc = r.replicas;
    let images = match (r.stable_tags.first(), r.new_tags.first()) {
        (Some(s), Some(n)) if s != n => format!("{s}→{n}"),
        (Some(s), _) => s.clone(),
        (None, Some(n)) => n.clone(),
        (None, None) => "-".into(),
    };
    TableRow {
        key: row_key(r).into(),
        cells: vec![
            Cell::plain(
                names
                    .get(&r.cluster)
                    .cloned()
                    .unwrap_or_else(|| r.cluster.clone()),
            ),
            Cell::plain(r.namespace.clone()),
            Cell::styled(
                r.name.clone(),
                if r.needs_attention() {
                    Role::Title
                } else {
                    Role::Text
                },
            ),
            Cell::plain(r.strategy.as_str()),
            Cell::styled(status, role),
            Cell::plain(r.step.map_or_else(|| "-".to_string(), |s| s.to_string())),
            Cell::plain(weight),
            Cell::plain(format!(
                "{}/{}/{}/{}",
                rc.ready, rc.desired, rc.updated, rc.available
            )),
            Cell::plain(images),
            age_cell(r, now),
            analysis_cell(r),
        ]
        .into(),
    }
}

/// The AGE cell: how long the current step has been running, as of `now`.
#[must_use]
pub fn age_cell(r: &RolloutRow, now: chrono::DateTime<chrono::Utc>) -> Cell {
    Cell::plain(r.step_since.map_or_else(
        || "-".into(),
        |since| short_duration((now - since).num_seconds().max(0)),
    ))
}

/// A row's identity across updates.
#[must_use]
pub fn row_key(r: &RolloutRow) -> String {
    format!(
        "{}/{}/{}/{}",
        r.cluster,
        r.namespace,
        r.name,
        r.kind.as_str()
    )
}

fn threshold_for(thresholds: &[PromThreshold], class: MetricClass) -> Option<&PromThreshold> {
    thresholds.iter().find(|t| {
        t.class == class || (class == MetricClass::SuccessRate && t.class == MetricClass::ErrorRate)
    })
}

fn metric_lines<'a>(
    title: &str,
    series: &[SideSeries],
    threshold: Option<&PromThreshold>,
    fmt: fn(f64) -> String,
    width: usize,
    theme: &Theme,
    clock: Clock,
) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
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
    lines.push(Line::from(Span::styled(head, theme.style(Role::Header))));
    let (lo, hi) = shared_range(series, limit.map(|l| l.value));
    let spark_width = width.saturating_sub(26).clamp(8, 60);
    for s in series {
        let label = format!(" {:<7}", s.label);
        match (&s.error, s.latest()) {
            (Some(e), _) if s.points.is_empty() => lines.push(Line::from(vec![
                Span::styled(label, theme.style(Role::Muted)),
                Span::styled(format!("{}: {e}", s.service), theme.style(Role::Muted)),
            ])),
            (_, latest) => {
                let breached = match (limit, latest, threshold) {
                    (Some(l), Some(v), Some(t)) if t.success.is_some() => !l.op.holds(v, l.value),
                    (Some(l), Some(v), Some(_)) => l.op.holds(v, l.value),
                    _ => false,
                };
                let value = latest.map_or_else(|| "n/a".to_string(), fmt);
                lines.push(Line::from(vec![
                    Span::styled(label, theme.style(Role::Muted)),
                    Span::styled(
                        sparkline(&s.points, lo, hi, spark_width),
                        theme.style(if breached { Role::Crit } else { Role::Accent }),
                    ),
                    Span::styled(
                        format!(" {value}{}", if breached { " ✖" } else { "" }),
                        theme.style(if breached { Role::Crit } else { Role::Text }),
                    ),
                    Span::styled(
                        s.stale_since.map_or_else(String::new, |t| {
                            format!(" ◐ stale since {}", clock.time_of_day(t))
                        }),
                        theme.style(Role::Warn),
                    ),
                ]));
            }
        }
    }
    lines
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
    let now = clock.now();
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
    body.push(Line::from(Span::styled(
        "Events",
        theme.style(Role::Header),
    )));
    if d.events.is_empty() {
        body.push(Line::from(Span::styled(
            " no recent events",
            theme.style(Role::Muted),
        )));
    }
    for e in d.events.iter().take(12) {
        let age = e
            .last_seen
            .map_or_else(|| "?".into(), |t| short_duration((now - t).num_seconds()));
        let role = if e.type_ == "Warning" {
            Role::Warn
        } else {
            Role::Text
        };
        body.push(Line::from(vec![
            Span::styled(format!(" {age:>5} "), theme.style(Role::Muted)),
            Span::styled(format!("{:<8}", e.type_), theme.style(role)),
            Span::styled(format!("{} ", e.reason), theme.style(role)),
            Span::styled(
                if e.count > 1 {
                    format!("{} (×{})", e.message, e.count)
                } else {
                    e.message.clone()
                },
                theme.style(Role::Text),
            ),
        ]));
    }
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
