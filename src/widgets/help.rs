//! The `?` overlay: every binding of the active layers, generated from the keymap.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::popup::centered;
use crate::theme::{Role, Theme};

/// Draws the help overlay; `rows` are (layer, keys, description); `scroll` skips lines.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    keymap_name: &str,
    rows: &[(String, String, String)],
    scroll: usize,
    theme: &Theme,
) {
    let key_width = rows
        .iter()
        .map(|r| crate::widgets::text::width(&r.1))
        .max()
        .unwrap_or(4)
        .min(24);
    let mut lines: Vec<Line> = Vec::new();
    let mut last_layer = "";
    for (layer, keys, desc) in rows {
        if layer != last_layer {
            if !lines.is_empty() {
                lines.push(Line::default());
            }
            lines.push(Line::from(Span::styled(
                layer.clone(),
                theme.style(Role::Header),
            )));
            last_layer = layer;
        }
        lines.push(Line::from(vec![
            Span::styled(format!("  {keys:<key_width$}  "), theme.style(Role::Accent)),
            Span::styled(desc.clone(), theme.style(Role::Text)),
        ]));
    }
    let width = (key_width as u16 + 40).min(area.width.saturating_sub(2));
    let height = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    let rect = centered(area, width, height);
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Role::BorderFocused))
        .title(Line::from(vec![Span::styled(
            format!(" Help · keymap {keymap_name} · ↑↓ scroll · esc closes "),
            theme.style(Role::Title),
        )]));
    let para = Paragraph::new(lines)
        .block(block)
        .scroll((scroll as u16, 0));
    frame.render_widget(para, rect);
}
