//! The details under the Clusters table: everything known about the selected cluster —
//! endpoint and identity, API and Prometheus reachability, add-ons by name, the state of
//! every watch, and the full problem list.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::model::{ClusterRow, MetricsOnly};
use crate::clock::Clock;
use crate::cluster::{PromReach, Reach};
use crate::theme::{Role, Theme};

/// Width of the label column of the details panel.
const LABEL_WIDTH: usize = 11;

pub fn render_details(
    frame: &mut Frame,
    area: Rect,
    row: &ClusterRow,
    theme: &Theme,
    clock: Clock,
) {
    let label = |s: &str| Span::styled(format!("{s:<LABEL_WIDTH$}"), theme.style(Role::Muted));
    if let Some(m) = &row.metrics_only {
        render_metrics_only(frame, area, row, m, theme, clock);
        return;
    }
    let info = &row.info;
    let mut lines = vec![Line::from(vec![
        label("server"),
        Span::raw(info.server.clone()),
        Span::styled("   as ", theme.style(Role::Muted)),
        Span::raw(info.user.clone()),
        if info.readonly {
            Span::styled("  read-only", theme.style(Role::Warn))
        } else {
            Span::raw("")
        },
    ])];
    let (api, role) = match &info.reach {
        Reach::Connecting => ("◌ connecting".to_string(), Role::Muted),
        Reach::Reachable { latency, since } => (
            format!(
                "● reachable since {}, round trip {}, Kubernetes {}",
                clock.time_of_day(*since),
                super::model::latency_text(*latency),
                info.version.clone().unwrap_or_else(|| "?".into())
            ),
            Role::Ok,
        ),
        Reach::Failed { reason } => (format!("✖ {reason} (fix it and restart kdeck)"), Role::Crit),
        Reach::Unreachable {
            since,
            retry_at,
            reason,
        } => (
            format!(
                "✖ unreachable since {}: {reason} (next try {})",
                clock.time_of_day(*since),
                clock.time_of_day(*retry_at)
            ),
            Role::Crit,
        ),
    };
    lines.push(Line::from(vec![
        label("api"),
        Span::styled(api, theme.style(role)),
    ]));
    let (prom, role) = match &info.prometheus {
        PromReach::Unknown => ("◌ not checked yet".to_string(), Role::Muted),
        PromReach::Reachable { version } => (format!("● Prometheus {version}"), Role::Ok),
        PromReach::Unreachable { reason } => (format!("✖ {reason}"), Role::Warn),
    };
    lines.push(Line::from(vec![
        label("prometheus"),
        Span::styled(prom, theme.style(role)),
    ]));
    let mut addons = vec![label("add-ons")];
    for a in &row.addons {
        let name = a.name;
        let (mark, role) = match a.present {
            Some(true) => ("✔", Role::Ok),
            Some(false) => ("–", Role::Muted),
            None => ("?", Role::Muted),
        };
        addons.push(Span::styled(format!("{mark} {name}   "), theme.style(role)));
    }
    lines.push(Line::from(addons));
    // Watch states packed into lines by hand, so an item never breaks and continuation lines
    // stay under the value column.
    let avail = usize::from(area.width.saturating_sub(2));
    let mut watches = vec![label("watches")];
    let mut used = LABEL_WIDTH;
    for (kind, state) in &row.sources {
        let mut text = format!("{} {kind}", state.symbol());
        if !state.is_live() {
            text.push_str(&format!(" ({})", state.label(clock)));
        }
        let width = Span::raw(text.as_str()).width();
        if used > LABEL_WIDTH {
            if used + 2 + width > avail {
                lines.push(Line::from(std::mem::take(&mut watches)));
                watches.push(Span::raw(" ".repeat(LABEL_WIDTH)));
                used = LABEL_WIDTH;
            } else {
                watches.push(Span::raw("  "));
                used += 2;
            }
        }
        watches.push(Span::styled(text, theme.style(state.role())));
        used += width;
    }
    lines.push(Line::from(watches));
    problem_lines(&mut lines, row, theme);
    render_block(frame, area, row, lines, theme);
}

/// The details of a cluster known only from the fleet metrics endpoint.
fn render_metrics_only(
    frame: &mut Frame,
    area: Rect,
    row: &ClusterRow,
    m: &MetricsOnly,
    theme: &Theme,
    clock: Clock,
) {
    let label = |s: &str| Span::styled(format!("{s:<LABEL_WIDTH$}"), theme.style(Role::Muted));
    let mut lines = vec![
        Line::from(vec![
            label("watched"),
            Span::styled(
                "no: not among the contexts kdeck watches; numbers from the fleet metrics only",
                theme.style(Role::Muted),
            ),
        ]),
        Line::from(vec![
            label("metrics"),
            Span::raw(format!("{} (cluster label {:?})", m.endpoint, m.label)),
        ]),
        Line::from(vec![
            label("as of"),
            Span::styled(
                format!(
                    "{} {}{}",
                    m.state.symbol(),
                    m.state.label(clock),
                    m.at.map(|t| format!(", fetched {}", clock.time_of_day(t)))
                        .unwrap_or_default()
                ),
                theme.style(m.state.role()),
            ),
        ]),
        Line::from(vec![
            label("nodes"),
            Span::raw(format!("{} ready", row.nodes)),
            Span::styled("   pods not ready ", theme.style(Role::Muted)),
            Span::raw(row.pods_not_ready.clone()),
        ]),
    ];
    problem_lines(&mut lines, row, theme);
    render_block(frame, area, row, lines, theme);
}

fn problem_lines(lines: &mut Vec<Line<'static>>, row: &ClusterRow, theme: &Theme) {
    lines.push(Line::from(Span::styled(
        format!("problems ({})", row.problems.len()),
        theme.style(Role::Header),
    )));
    if row.problems.is_empty() {
        lines.push(Line::from(Span::styled(" none", theme.style(Role::Ok))));
    }
    for p in &row.problems {
        let (mark, role) = if p.severity >= 2 {
            ("✖", Role::Crit)
        } else {
            ("!", Role::Warn)
        };
        lines.push(Line::from(Span::styled(
            format!(" {mark} {}", p.text),
            theme.style(role),
        )));
    }
}

fn render_block(
    frame: &mut Frame,
    area: Rect,
    row: &ClusterRow,
    lines: Vec<Line<'static>>,
    theme: &Theme,
) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Role::Border))
        .title(Span::styled(
            format!(" {} ", row.context),
            theme.style(Role::Title),
        ));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
