//! Drawing the HPA detail view from [`HpaDetail`] and the Prometheus answer the view asked
//! for: one scrollable page (target, next sync, metrics, conditions, behavior, replica
//! history with its source named, KEDA, VPA, events).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::detail::{HpaDetail, KedaView, VpaView};
use super::history::{WINDOW_SECS, resample};
use super::metrics::Source;
use super::model::RowKind;
use crate::clock::{Clock, short_duration};
use crate::panes::kit::{DrawCx, PromView, event_lines};
use crate::theme::{Role, Theme};
use crate::widgets::chart::sparkline;

const LABEL: usize = 11;

fn label_line(label: &str, text: String, role: Role, theme: &Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{label:<LABEL$}"), theme.style(Role::Header)),
        Span::styled(text, theme.style(role)),
    ])
}

fn indent(text: String, role: Role, theme: &Theme) -> Line<'static> {
    Line::from(vec![
        Span::raw(" ".repeat(LABEL)),
        Span::styled(text, theme.style(role)),
    ])
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

/// All lines of the view.
#[must_use]
pub fn lines(d: &HpaDetail, cx: &DrawCx<'_>, width: usize) -> Vec<Line<'static>> {
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
    out.push(label_line(
        "target",
        format!("{target} · {replicas} · min {} max {}", d.min, d.max),
        Role::Text,
        theme,
    ));
    if d.kind == RowKind::ScaledObject {
        out.push(label_line(
            "next",
            "KEDA has removed this ScaledObject's HPA: nothing scales it until it is resumed"
                .into(),
            Role::Warn,
            theme,
        ));
    }
    if let Some(n) = &d.next {
        out.push(label_line(
            "next sync",
            n.summary.clone(),
            Role::Accent,
            theme,
        ));
        for l in &n.lines {
            out.push(indent(format!("· {l}"), Role::Muted, theme));
        }
    }
    for (i, m) in d.metrics.iter().enumerate() {
        let role = if m.has_reading() {
            Role::Text
        } else {
            Role::Warn
        };
        let text = format!("{:<28} {}", m.text, source_name(&m.source));
        out.push(if i == 0 {
            label_line("metrics", text, role, theme)
        } else {
            indent(text, role, theme)
        });
    }
    for (i, c) in d.conditions.iter().enumerate() {
        let role = match (c.type_.as_str(), c.status.as_str()) {
            ("ScalingLimited", "True") | (_, "Unknown") => Role::Warn,
            ("ScalingLimited", _) | (_, "True") => Role::Ok,
            _ => Role::Crit,
        };
        let text = format!(
            "{:<15}{:<6}{}",
            c.type_,
            c.status,
            c.reason.clone().unwrap_or_default(),
        );
        out.push(if i == 0 {
            label_line("conditions", text, role, theme)
        } else {
            indent(text, role, theme)
        });
        if let Some(m) = c.message.as_ref().filter(|m| !m.is_empty()) {
            out.push(indent(format!("  {m}"), Role::Muted, theme));
        }
    }
    if d.kind == RowKind::Hpa && d.conditions.is_empty() {
        out.push(label_line(
            "conditions",
            "none yet: the controller has not synced this HPA".into(),
            Role::Muted,
            theme,
        ));
    }
    for (i, b) in d.behavior.iter().enumerate() {
        let text = format!("{}: {}", b.direction, b.text);
        out.push(if i == 0 {
            label_line("behavior", text, Role::Text, theme)
        } else {
            indent(text, Role::Text, theme)
        });
    }
    let spark_width = width.saturating_sub(LABEL + 24).clamp(10, 60);
    let (values, source) = history(d, cx.prom, spark_width, cx.clock);
    let points: Vec<(f64, f64)> = values.iter().map(|v| (0.0, *v)).collect();
    let hi = values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::from(d.max.max(1)), f64::max);
    out.push(label_line(
        "replicas",
        format!("last hour · {source}"),
        Role::Muted,
        theme,
    ));
    out.push(indent(
        format!(
            "{}  now {} · range {}–{}",
            sparkline(&points, 0.0, hi, spark_width),
            d.current,
            d.min,
            d.max
        ),
        Role::Accent,
        theme,
    ));
    if d.scale_events.is_empty() {
        out.push(indent("no scale events".into(), Role::Muted, theme));
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
        out.push(indent(format!("{age:>5}  {}", e.message), role, theme));
    }
    match &d.keda {
        KedaView::NotInstalled => out.push(label_line(
            "KEDA",
            "not installed".into(),
            Role::Muted,
            theme,
        )),
        KedaView::NotKeda => out.push(label_line(
            "KEDA",
            "installed; this HPA is not a ScaledObject's".into(),
            Role::Muted,
            theme,
        )),
        KedaView::Unavailable(why) => {
            out.push(label_line("KEDA", why.clone(), Role::Warn, theme));
        }
        KedaView::Object(lines) => {
            for (i, l) in lines.iter().enumerate() {
                out.push(if i == 0 {
                    label_line("KEDA", l.clone(), Role::Text, theme)
                } else {
                    indent(l.clone(), Role::Text, theme)
                });
            }
        }
    }
    match &d.vpa {
        VpaView::NotInstalled => {
            out.push(label_line(
                "VPA",
                "not installed".into(),
                Role::Muted,
                theme,
            ));
        }
        VpaView::None => out.push(label_line(
            "VPA",
            format!("installed; no VerticalPodAutoscaler targets {target}"),
            Role::Muted,
            theme,
        )),
        VpaView::Unavailable(why) => out.push(label_line("VPA", why.clone(), Role::Warn, theme)),
        VpaView::Objects(lines) => {
            for (i, l) in lines.iter().enumerate() {
                out.push(if i == 0 {
                    label_line("VPA", l.clone(), Role::Text, theme)
                } else {
                    indent(l.clone(), Role::Text, theme)
                });
            }
        }
    }
    out.push(Line::default());
    out.extend(event_lines(cx.events, 8, theme, cx.clock));
    out
}

/// Draws the view into `area`.
pub fn render(d: &HpaDetail, frame: &mut Frame, area: Rect, cx: &DrawCx<'_>) {
    let body = lines(d, cx, area.width as usize);
    frame.render_widget(
        Paragraph::new(body)
            .wrap(Wrap { trim: false })
            .scroll((cx.scroll, 0)),
        area,
    );
}
