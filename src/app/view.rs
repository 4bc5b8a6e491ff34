//! Drawing the whole screen: tab bar, focused pane (and the log pane), key hints, status line,
//! and overlays. Reads only owned state: no I/O, no locks held across the frame.

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::{App, Confirm, Mode};
use crate::exec::RbacVerdict;
use crate::keymap::display_seq;
use crate::panes::RenderCtx;
use crate::theme::Role;
use crate::widgets::popup::centered;

/// Below this, kdeck says so instead of drawing garbage.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

impl App {
    /// Draws one frame; no character that could steer the terminal (an escape, a bidi
    /// override from a cluster's text) is left in it.
    pub fn render(&self, frame: &mut Frame) {
        self.render_screen(frame);
        crate::widgets::text::scrub(frame.buffer_mut());
    }

    fn render_screen(&self, frame: &mut Frame) {
        let area = frame.area();
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            let msg = format!(
                "terminal too small: {}x{} (kdeck needs at least {MIN_WIDTH}x{MIN_HEIGHT})",
                area.width, area.height
            );
            let p = Paragraph::new(msg)
                .wrap(Wrap { trim: true })
                .style(self.theme.style(Role::Warn));
            frame.render_widget(p, area);
            return;
        }
        let rows = Layout::default()
            .direction(Direction::Vertical)
            .constraints([
                Constraint::Length(1),
                Constraint::Min(3),
                Constraint::Length(1),
                Constraint::Length(1),
            ])
            .split(area);
        self.render_tabs(frame, rows[0]);
        let main = if self.show_log {
            let split = Layout::default()
                .direction(Direction::Vertical)
                .constraints([Constraint::Percentage(65), Constraint::Percentage(35)])
                .split(rows[1]);
            self.render_log(frame, split[1]);
            split[0]
        } else {
            rows[1]
        };
        let ctx = RenderCtx {
            theme: &self.theme,
            clock: self.clock,
            focused: matches!(self.mode, Mode::Normal | Mode::Filter(..)),
            keymap: &self.keymap,
        };
        self.panes[self.focus].render(frame, main, &ctx);
        self.render_hints(frame, rows[2]);
        self.render_status(frame, rows[3]);
        match &self.mode {
            Mode::Help { scroll } => {
                let layers = self.layers();
                let rows = self.keymap.help_rows(&layers);
                crate::widgets::help::render(
                    frame,
                    area,
                    &self.keymap.name,
                    &rows,
                    *scroll,
                    &self.theme,
                );
            }
            Mode::Confirm(c) => self.render_confirm(frame, area, c),
            _ => {}
        }
    }

    fn render_tabs(&self, frame: &mut Frame, area: Rect) {
        let t = &self.theme;
        let mut spans = vec![Span::styled(" kdeck ", t.style(Role::Title))];
        let label = |i: usize, p: &dyn crate::panes::Pane, named: bool| {
            let name = if named {
                format!(" {}", p.title())
            } else {
                String::new()
            };
            match &p.summary().badge {
                Some(b) => format!(" {}{name} {b} ", i + 1),
                None => format!(" {}{name} ", i + 1),
            }
        };
        // On a narrow terminal only the active tab keeps its name (the others keep their
        // number and badge), so every tab and the scope still fit.
        let named_width: usize = self
            .panes
            .iter()
            .enumerate()
            .map(|(i, p)| crate::widgets::text::width(&label(i, p.as_ref(), true)) + 1)
            .sum();
        let compact = 7 + named_width + 28 > area.width as usize;
        for (i, p) in self.panes.iter().enumerate() {
            let label = label(i, p.as_ref(), !compact || i == self.focus);
            let style = if i == self.focus {
                t.style(Role::TabActive)
            } else {
                t.style(Role::TabInactive)
            };
            spans.push(Span::styled(label, style));
            spans.push(Span::raw(" "));
        }
        let width = |s: &Span| crate::widgets::text::width(&s.content);
        let left: usize = spans.iter().map(width).sum();
        let clusters = self.clusters.len();
        let scope = match (&self.scope.focus, self.scope.all_clusters) {
            (Some(f), false) => format!("cluster {f}"),
            _ => format!("clusters all ({clusters})"),
        };
        let ns = self
            .scope
            .namespace
            .as_deref()
            .map_or_else(|| "ns all".to_string(), |n| format!("ns {n}"));
        let scope = vec![Span::styled(
            format!("{scope} · {ns}"),
            t.style(Role::Muted),
        )];
        let banner: Vec<Span> = self
            .settings
            .banner
            .iter()
            .map(|b| Span::styled(format!(" · {b}"), t.style(Role::Accent)))
            .collect();
        let mut modes = Vec::new();
        if self.settings.readonly {
            modes.push(Span::raw(" "));
            modes.push(Span::styled(" READ-ONLY ", t.style(Role::Danger)));
        }
        if self.settings.dry_run {
            modes.push(Span::raw(" "));
            modes.push(Span::styled(" DRY-RUN ", t.style(Role::Warn)));
        }
        // When the line is short, what goes first is the banner, then the scope; the modes
        // (read-only, dry run) stay as long as anything does.
        let room = (area.width as usize).saturating_sub(left + 1);
        let len = |parts: &[&Vec<Span>]| -> usize {
            parts.iter().flat_map(|p| p.iter()).map(width).sum()
        };
        let right: Vec<Span> = if len(&[&scope, &banner, &modes]) <= room {
            [scope, banner, modes].concat()
        } else if len(&[&scope, &modes]) <= room {
            [scope, modes].concat()
        } else if len(&[&modes]) <= room {
            modes
        } else {
            Vec::new()
        };
        let right_len: usize = right.iter().map(width).sum();
        let pad = (area.width as usize).saturating_sub(left + right_len + 1);
        if !right.is_empty() {
            spans.push(Span::raw(" ".repeat(pad)));
            spans.extend(right);
        }
        frame.render_widget(Line::from(spans), area);
    }

    fn render_hints(&self, frame: &mut Frame, area: Rect) {
        let t = &self.theme;
        let layer = self.focused_pane().layer();
        let mut items: Vec<(String, String)> = Vec::new();
        for b in self.keymap.bindings(layer) {
            if b.desc.is_empty() || items.iter().any(|(_, d)| *d == b.desc) {
                continue;
            }
            items.push((display_seq(&b.keys), b.desc.clone()));
        }
        for action in ["help", "command-line", "filter", "quit"] {
            if let Some(k) = self.keymap.keys_for("global", action).first() {
                let desc = match action {
                    "command-line" => "cmd",
                    other => other,
                };
                items.push((k.clone(), desc.to_string()));
            }
        }
        let mut spans = Vec::new();
        let mut used = 0usize;
        let width = area.width as usize;
        for (k, d) in items {
            let len = crate::widgets::text::width(&k) + crate::widgets::text::width(&d) + 3;
            if used + len > width {
                break;
            }
            spans.push(Span::styled(format!(" {k}"), t.style(Role::Accent)));
            spans.push(Span::styled(format!(" {d} "), t.style(Role::Muted)));
            used += len;
        }
        frame.render_widget(Line::from(spans), area);
    }

    fn render_status(&self, frame: &mut Frame, area: Rect) {
        let t = &self.theme;
        let line = match &self.mode {
            Mode::Command(input) => input_line(":", &input.text, t.style(Role::Text)),
            Mode::Filter(input, _) => input_line("/", &input.text, t.style(Role::Text)),
            Mode::Prompt(input, p) => input_line(
                &format!("{}: ", p.label),
                &input.text,
                t.style(Role::Accent),
            ),
            _ => match &self.toast {
                Some(toast) => Line::from(Span::styled(
                    format!(" {}", toast.text),
                    t.style(toast.role),
                )),
                None => Line::from(Span::styled(" ", t.style(Role::Muted))),
            },
        };
        frame.render_widget(Paragraph::new(line).style(t.style(Role::StatusBar)), area);
        let prefix = match &self.mode {
            Mode::Prompt(_, p) => crate::widgets::text::width(&p.label) + 1,
            _ => 0,
        };
        if let Mode::Command(input) | Mode::Filter(input, _) | Mode::Prompt(input, _) = &self.mode {
            let x = area.x + 2 + u16::try_from(prefix + input.cursor()).unwrap_or(0);
            frame.set_cursor_position((x.min(area.right().saturating_sub(1)), area.y));
        }
    }

    fn render_log(&self, frame: &mut Frame, area: Rect) {
        let t = &self.theme;
        let widget = tui_logger::TuiLoggerWidget::default()
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(t.style(Role::Border))
                    .title(Span::styled(" Log ", t.style(Role::Title))),
            )
            .style_error(t.style(Role::Crit))
            .style_warn(t.style(Role::Warn))
            .style_info(t.style(Role::Text))
            .style_debug(t.style(Role::Muted))
            .output_target(false)
            .output_file(false)
            .output_line(false)
            .state(&self.log_state);
        frame.render_widget(widget, area);
    }

    fn render_confirm(&self, frame: &mut Frame, area: Rect, c: &Confirm) {
        let t = &self.theme;
        let plan = &c.plan;
        let user = &c.user;
        let label = |s: &str| Span::styled(format!("{s:<9}"), t.style(Role::Muted));
        let mut lines = vec![
            Line::from(vec![
                label("cluster"),
                Span::styled(plan.cluster.clone(), t.style(Role::Accent)),
                Span::styled(format!("  as {user}"), t.style(Role::Muted)),
            ]),
            Line::from(vec![
                label("object"),
                Span::styled(plan.object_name(), t.style(Role::Title)),
            ]),
            Line::from(vec![
                label("checks"),
                Span::styled(plan.checks_text(), t.style(Role::Muted)),
            ]),
            Line::from(vec![
                label("change"),
                Span::styled(plan.summary.clone(), t.style(Role::Text)),
            ]),
        ];
        for (i, r) in plan.request_lines().iter().enumerate() {
            lines.push(Line::from(vec![
                label(if i == 0 { "request" } else { "" }),
                Span::styled(r.clone(), t.style(Role::Muted)),
            ]));
        }
        let (rbac, role) = match &c.rbac {
            None => ("◌ checking permissions…".to_string(), Role::Muted),
            Some(RbacVerdict::Allowed) => ("✔ allowed".to_string(), Role::Ok),
            Some(RbacVerdict::Denied(why)) => (format!("✖ denied: {why}"), Role::Crit),
            Some(RbacVerdict::Unknown(why)) => (format!("? could not check: {why}"), Role::Warn),
        };
        lines.push(Line::from(vec![
            label("rbac"),
            Span::styled(rbac, t.style(role)),
        ]));
        if c.dry_run {
            lines.push(Line::from(vec![
                label("mode"),
                Span::styled(
                    "server-side dry run: nothing will change",
                    t.style(Role::Warn),
                ),
            ]));
        }
        if c.readonly {
            lines.push(Line::from(Span::styled("read-only", t.style(Role::Danger))));
        }
        // Until the dialog is armed its keys are ignored (type-ahead never confirms), and it
        // says so instead of offering them.
        let yes = if std::time::Instant::now() < c.armed_at {
            "…".to_string()
        } else {
            self.keymap.keys_for("dialog", "confirm").join("/")
        };
        let no = self.keymap.keys_for("dialog", "cancel").join("/");
        let denied = matches!(c.rbac, Some(RbacVerdict::Denied(_)));
        let keys = Line::from(vec![
            Span::styled(
                format!(" {yes} "),
                if denied {
                    t.style(Role::Muted)
                } else {
                    t.style(Role::Danger)
                },
            ),
            Span::styled(format!(" {}   ", plan.action), t.style(Role::Text)),
            Span::styled(format!(" {no} "), t.style(Role::Accent)),
            Span::styled(" cancel", t.style(Role::Text)),
        ]);
        let width = area.width.saturating_sub(4).min(100);
        let inner_width = width.saturating_sub(2).max(1) as usize;
        // Words wrap, so a line may need one row more than its width says: allow for it.
        let height: usize = lines
            .iter()
            .map(|l| {
                let w: usize = l
                    .spans
                    .iter()
                    .map(|s| crate::widgets::text::width(&s.content))
                    .sum();
                w.div_ceil(inner_width).max(1) + usize::from(w > inner_width)
            })
            .sum();
        // Body, a blank line, and the keys, which always keep their own row at the bottom.
        let rect = centered(area, width, u16::try_from(height + 4).unwrap_or(u16::MAX));
        frame.render_widget(Clear, rect);
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(t.style(Role::Crit))
            .title(Span::styled(
                format!(" Confirm: {} ", plan.action),
                t.style(Role::Danger),
            ));
        let inner = block.inner(rect);
        frame.render_widget(block, rect);
        if inner.height == 0 {
            return;
        }
        let keys_row = Rect::new(inner.x, inner.bottom() - 1, inner.width, 1);
        let body = Rect::new(
            inner.x,
            inner.y,
            inner.width,
            inner.height.saturating_sub(2),
        );
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
        frame.render_widget(Paragraph::new(keys), keys_row);
    }
}

fn input_line<'a>(prefix: &str, text: &'a str, style: Style) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!(" {prefix}"), style),
        Span::styled(text.to_string(), style),
    ])
}
