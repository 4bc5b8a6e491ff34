//! Drawing the HPA detail view from [`HpaDetail`] and the Prometheus answer the view asked
//! for: one scrollable page (target, next sync, metrics, conditions, behavior, replica
//! history with its source named, KEDA, VPA, events).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::detail::{HpaDetail, KedaView, VpaView};
use super::history::{WINDOW_SECS, resample};
use super::metrics::Source;
use super::model::RowKind;
use crate::clock::{Clock, short_duration};
use crate::panes::kit::{DrawCx, PromView, event_lines};
use crate::theme::{Role, Theme};
use crate::widgets::chart::sparkline;
use crate::widgets::text::{sanitize, width};

const LABEL: usize = 11;

/// Splits `text` into pieces of at most `cols` cells, at spaces where it can.
fn wrap(text: &str, cols: usize) -> Vec<String> {
    let cols = cols.max(8);
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let need = width(&line) + usize::from(!line.is_empty()) + width(word);
        if need > cols && !line.is_empty() {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        while width(&line) > cols {
            // A word longer than the line: cut it.
            let cut: String = line.chars().take(cols).collect();
            let rest: String = line.chars().skip(cols).collect();
            out.push(cut);
            line = rest;
        }
    }
    out.push(line);
    out
}

/// A labelled entry: the label, then `text` wrapped under itself (continuations indented two
/// more cells), so narrow terminals keep the label column clear.
fn entry(label: &str, text: &str, role: Role, theme: &Theme, cols: usize) -> Vec<Line<'static>> {
    let avail = cols.saturating_sub(LABEL);
    let text = sanitize(text);
    // Leading spaces align columns (event ages): keep them on the first piece.
    let body = text.trim_start_matches(' ');
    let lead = " ".repeat(text.len() - body.len());
    wrap(body, avail.saturating_sub(lead.len()))
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let head = if i == 0 {
                Span::styled(format!("{label:<LABEL$}"), theme.style(Role::Header))
            } else {
                Span::raw(" ".repeat(LABEL))
            };
            let piece = if i == 0 {
                format!("{lead}{piece}")
            } else {
                piece
            };
            Line::from(vec![head, Span::styled(piece, theme.style(role))])
        })
        .collect()
}

/// The replica history and where it came from.
fn history(d: &HpaDetail, prom: &PromView, width: usize, clock: Clock) -> (Vec<f64>, String) {
    let now = clock.now();
    let seen = || {
        let since = d.seen.first().map_or_else(String::new, |s| {
            format!(" since {}", clock.time_of_day(s.at))
        });
        (
            resample(&d.seen, now, WINDOW_SECS, width),
            format!("seen by kdeck{since}"),
        )
    };
    match prom {
        PromView::Data { snapshot, state } => {
            let result = snapshot.result("current");
            let points = result.map(|r| r.points().to_vec()).unwrap_or_default();
            if points.is_empty() {
                let why = result
                    .and_then(|r| r.error.clone())
                    .unwrap_or_else(|| "no kube_horizontalpodautoscaler series".into());
                let (v, src) = seen();
                return (v, format!("{src} (Prometheus: {why})"));
            }
            let values: Vec<f64> = points.iter().map(|p| p.1).collect();
            let mut src = "Prometheus, kube-state-metrics".to_string();
            if !state.is_live() {
                src.push_str(&format!(" · {} {}", state.symbol(), state.label(clock)));
            }
            (values, src)
        }
        PromView::Unconfigured => {
            let (v, src) = seen();
            (v, format!("{src} (no Prometheus configured)"))
        }
        PromView::Waiting => {
            let (v, src) = seen();
            (v, format!("{src} (waiting for Prometheus…)"))
        }
        PromView::None => seen(),
    }
}

fn source_name(s: &Source) -> String {
    match s {
        Source::Resource => "Resource".into(),
        Source::ContainerResource { container } => format!("ContainerResource ({container})"),
        Source::Pods => "Pods".into(),
        Source::Object { object } => format!("Object ({object})"),
        Source::External => "External".into(),
        Source::Unknown(t) => format!("unknown type {t:?}"),
    }
}

/// Lines under one label: the first labelled, the rest indented under it.
fn section(
    out: &mut Vec<Line<'static>>,
    label: &str,
    items: impl IntoIterator<Item = (String, Role)>,
    theme: &Theme,
    cols: usize,
) {
    for (i, (text, role)) in items.into_iter().enumerate() {
        out.extend(entry(
            if i == 0 { label } else { "" },
            &text,
            role,
            theme,
            cols,
        ));
    }
}

fn condition_role(c: &crate::k8s::apps::Condition) -> Role {
    match (c.type_.as_str(), c.status.as_str()) {
        ("ScalingLimited", "True") | (_, "Unknown") => Role::Warn,
        ("ScalingLimited", _) | (_, "True") => Role::Ok,
        _ => Role::Crit,
    }
}

/// All lines of the view, wrapped to `cols`.
#[must_use]
pub fn lines(d: &HpaDetail, cx: &DrawCx<'_>, cols: usize) -> Vec<Line<'static>> {
    let theme = cx.theme;
    let now = cx.clock.now();
    let mut out = Vec::new();
    let t = &d.target_info;
    let target = format!("{}/{}", d.target.kind, d.target.name);
    let replicas = if t.found {
        format!(
            "{} replicas ({} ready, {} exist)",
            t.spec_replicas, t.ready, t.status_replicas
        )
    } else {
        format!("{} replicas (target not in view)", d.current)
    };
    let head = format!("{target} · {replicas} · min {} max {}", d.min, d.max);
    out.extend(entry("target", &head, Role::Text, theme, cols));
    if d.kind == RowKind::ScaledObject {
        let text = "KEDA has removed this ScaledObject's HPA: nothing scales the target until \
                    it is resumed";
        out.extend(entry("next", text, Role::Warn, theme, cols));
    }
    if let Some(n) = &d.next {
        let steps = n.lines.iter().map(|l| (format!("· {l}"), Role::Muted));
        section(
            &mut out,
            "next sync",
            std::iter::once((n.summary.clone(), Role::Accent)).chain(steps),
            theme,
            cols,
        );
    }
    let metrics = d.metrics.iter().map(|m| {
        let role = if m.has_reading() {
            Role::Text
        } else {
            Role::Warn
        };
        (format!("{} · {}", m.text, source_name(&m.source)), role)
    });
    section(&mut out, "metrics", metrics, theme, cols);
    let conditions = d.conditions.iter().flat_map(|c| {
        let head = format!(
            "{:<15}{:<6}{}",
            c.type_,
            c.status,
            c.reason.clone().unwrap_or_default()
        );
        let message = c
            .message
            .as_ref()
            .filter(|m| !m.is_empty())
            .map(|m| (format!("  {m}"), Role::Muted));
        std::iter::once((head, condition_role(c))).chain(message)
    });
    section(&mut out, "conditions", conditions, theme, cols);
    if d.kind == RowKind::Hpa && d.conditions.is_empty() {
        let text = "none yet: the controller has not synced this HPA";
        out.extend(entry("conditions", text, Role::Muted, theme, cols));
    }
    let behavior = d.behavior.iter().map(|b| {
        let text = if b.direction.is_empty() {
            b.text.clone()
        } else {
            format!("{}: {}", b.direction, b.text)
        };
        (text, Role::Text)
    });
    section(&mut out, "behavior", behavior, theme, cols);

    let spark_width = cols.saturating_sub(LABEL + 24).clamp(10, 60);
    let (values, source) = history(d, cx.prom, spark_width, cx.clock);
    let points: Vec<(f64, f64)> = values.iter().map(|v| (0.0, *v)).collect();
    let hi = values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::from(d.max.max(1)), f64::max);
    let mut history_lines = vec![
        (format!("last hour · {source}"), Role::Muted),
        (
            format!(
                "{}  now {} · range {}–{}",
                sparkline(&points, 0.0, hi, spark_width),
                d.current,
                d.min,
                d.max
            ),
            Role::Accent,
        ),
    ];
    if d.scale_events.is_empty() {
        history_lines.push(("no scale events".into(), Role::Muted));
    }
    for e in d.scale_events.iter().take(5) {
        let age = e
            .last_seen
            .map_or_else(|| "?".into(), |t| short_duration((now - t).num_seconds()));
        let role = if e.type_ == "Warning" {
            Role::Warn
        } else {
            Role::Text
        };
        history_lines.push((format!("{age:>5}  {}", e.message), role));
    }
    section(&mut out, "replicas", history_lines, theme, cols);

    let keda: Vec<(String, Role)> = match &d.keda {
        KedaView::NotInstalled => vec![("not installed".into(), Role::Muted)],
        KedaView::NotKeda => vec![(
            "installed; this HPA is not a ScaledObject's".into(),
            Role::Muted,
        )],
        KedaView::Unavailable(why) => vec![(why.clone(), Role::Warn)],
        KedaView::Object(lines) => lines.iter().map(|l| (l.clone(), Role::Text)).collect(),
    };
    section(&mut out, "KEDA", keda, theme, cols);
    let vpa: Vec<(String, Role)> = match &d.vpa {
        VpaView::NotInstalled => vec![("not installed".into(), Role::Muted)],
        VpaView::None => vec![(
            format!("installed; no VerticalPodAutoscaler targets {target}"),
            Role::Muted,
        )],
        VpaView::Unavailable(why) => vec![(why.clone(), Role::Warn)],
        VpaView::Objects(lines) => lines.iter().map(|l| (l.clone(), Role::Text)).collect(),
    };
    section(&mut out, "VPA", vpa, theme, cols);
    out.push(Line::default());
    out.extend(event_lines(cx.events, 8, theme, cx.clock));
    out
}

/// Draws the view into `area`.
pub fn render(d: &HpaDetail, frame: &mut Frame, area: Rect, cx: &DrawCx<'_>) {
    let body = lines(d, cx, area.width as usize);
    frame.render_widget(Paragraph::new(body).scroll((cx.scroll, 0)), area);
}
