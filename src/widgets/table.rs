//! The one table every pane uses: columns that drop by priority when the terminal is narrow,
//! a selection that follows its row (by key) across updates, filtering with `/`, and rendering
//! of only the visible rows. Everything that depends on all rows (filtering, content widths)
//! happens when the rows change; drawing reads the state and touches only the rows on screen.

use std::cell::Cell as StdCell;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell as TuiCell, Row, Table};

use crate::theme::{Role, Theme};

/// A column: title, width range and how readily it is dropped (0 = never).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub title: &'static str,
    pub min: u16,
    pub max: u16,
    /// Higher numbers are dropped first when the table does not fit.
    pub drop_priority: u8,
}

impl Column {
    #[must_use]
    pub const fn new(title: &'static str, min: u16, max: u16, drop_priority: u8) -> Self {
        Self {
            title,
            min,
            max,
            drop_priority,
        }
    }
}

/// One cell: text plus an optional semantic style.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cell {
    pub text: String,
    pub role: Option<Role>,
}

impl Cell {
    #[must_use]
    pub fn plain(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            role: None,
        }
    }

    #[must_use]
    pub fn styled(text: impl Into<String>, role: Role) -> Self {
        Self {
            text: text.into(),
            role: Some(role),
        }
    }
}

/// A row with a stable identity. Shared (`Arc`), so views can keep computed rows and hand
/// them to the table without copying strings. Each cell's width is measured once, when the
/// row is built, so laying out a table of thousands of rows is integer maxima, not text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRow {
    pub key: std::sync::Arc<str>,
    pub cells: std::sync::Arc<[Cell]>,
    widths: std::sync::Arc<[u16]>,
}

impl TableRow {
    #[must_use]
    pub fn new(key: impl Into<std::sync::Arc<str>>, cells: Vec<Cell>) -> Self {
        let widths = cells
            .iter()
            .map(|c| u16::try_from(crate::widgets::text::width(&c.text)).unwrap_or(u16::MAX))
            .collect();
        Self {
            key: key.into(),
            cells: cells.into(),
            widths,
        }
    }
}

/// A cell computed when drawn, for the visible rows only (e.g. an age that moves every
/// second): the column and a function from the row's index to the cell.
pub type LiveCell<'a> = (usize, &'a dyn Fn(usize) -> Cell);

/// Selection, scroll and filter of one table. The scroll offset and page height are found
/// while drawing (they depend on the area), so they are the only interior-mutable parts.
#[derive(Debug, Clone, Default)]
pub struct TableState {
    selected_key: Option<std::sync::Arc<str>>,
    selected: usize,
    offset: StdCell<usize>,
    pub filter: String,
    /// Rows shown after filtering (indices into the pane's rows).
    visible: Vec<usize>,
    page: StdCell<usize>,
    /// The widest cell of each column over the rows, measured when they change.
    widths: Vec<u16>,
}

impl TableState {
    /// Recomputes which rows pass the filter, the columns' content widths, and keeps the
    /// selection on the same row.
    pub fn sync(&mut self, rows: &[TableRow]) {
        self.widths = content_widths(rows);
        let needle = self.filter.to_lowercase();
        self.visible = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                needle.is_empty()
                    || r.cells
                        .iter()
                        .any(|c| c.text.to_lowercase().contains(&needle))
                    || r.key.to_lowercase().contains(&needle)
            })
            .map(|(i, _)| i)
            .collect();
        if let Some(key) = &self.selected_key
            && let Some(pos) = self.visible.iter().position(|&i| *rows[i].key == **key)
        {
            self.selected = pos;
        }
        self.clamp();
        self.selected_key = self
            .visible
            .get(self.selected)
            .map(|&i| rows[i].key.clone());
    }

    fn clamp(&mut self) {
        if self.visible.is_empty() {
            self.selected = 0;
        } else if self.selected >= self.visible.len() {
            self.selected = self.visible.len() - 1;
        }
    }

    /// Index (into the pane's rows) of the selected row.
    #[must_use]
    pub fn selected_index(&self) -> Option<usize> {
        self.visible.get(self.selected).copied()
    }

    #[must_use]
    pub fn selected_key(&self) -> Option<&str> {
        self.selected_key.as_deref()
    }

    /// Selects the row with this key, if visible.
    pub fn select_key(&mut self, rows: &[TableRow], key: &str) {
        if let Some(pos) = self.visible.iter().position(|&i| &*rows[i].key == key) {
            self.selected = pos;
            self.selected_key = Some(key.into());
        }
    }

    #[must_use]
    pub fn visible_len(&self) -> usize {
        self.visible.len()
    }

    /// Moves the selection; returns whether it moved.
    pub fn apply(&mut self, rows: &[TableRow], action: &str) -> bool {
        let before = self.selected;
        let page = self.page.get().max(1);
        let last = self.visible.len().saturating_sub(1);
        self.selected = match action {
            "up" => self.selected.saturating_sub(1),
            "down" => (self.selected + 1).min(last),
            "page-up" => self.selected.saturating_sub(page),
            "page-down" => (self.selected + page).min(last),
            "top" => 0,
            "bottom" => last,
            _ => return false,
        };
        self.selected_key = self
            .visible
            .get(self.selected)
            .map(|&i| rows[i].key.clone());
        before != self.selected
            || matches!(
                action,
                "up" | "down" | "top" | "bottom" | "page-up" | "page-down"
            )
    }
}

/// Decides which columns fit in `width` and how wide each is: columns are sized to their
/// content (within min..max), dropped by priority when even their minimums do not fit, and
/// the widest squeezed first when their content does not.
#[must_use]
pub fn fit_columns(columns: &[Column], width: u16, content: &[u16]) -> Vec<(usize, u16)> {
    let natural = |i: usize| -> u16 {
        let title =
            u16::try_from(crate::widgets::text::width(columns[i].title)).unwrap_or(u16::MAX);
        // A column no row has reached is as wide as its title.
        content
            .get(i)
            .copied()
            .unwrap_or(0)
            .max(title.min(columns[i].max))
            .clamp(columns[i].min, columns[i].max)
    };
    let mut keep: Vec<usize> = (0..columns.len()).collect();
    let need = |keep: &[usize]| -> u16 { keep.iter().map(|&i| columns[i].min + 1).sum::<u16>() };
    while need(&keep) > width {
        let Some((pos, _)) = keep
            .iter()
            .enumerate()
            .filter(|(_, i)| columns[**i].drop_priority > 0)
            .max_by_key(|(p, i)| (columns[**i].drop_priority, *p))
        else {
            break;
        };
        keep.remove(pos);
    }
    let mut widths: Vec<(usize, u16)> = keep.iter().map(|&i| (i, natural(i))).collect();
    let total = |w: &[(usize, u16)]| -> u16 { w.iter().map(|(_, x)| x + 1).sum() };
    // Squeeze the most expendable column first (the one dropped first), one cell at a time;
    // a column's `min` is what it can shrink to without losing meaning.
    while total(&widths) > width {
        let Some(slot) = widths
            .iter_mut()
            .filter(|(i, w)| *w > columns[*i].min)
            .max_by_key(|(i, w)| (columns[*i].drop_priority, *w - columns[*i].min))
        else {
            break;
        };
        slot.1 -= 1;
    }
    // Spare room goes to the last column that can grow (the free-text one).
    let spare = width.saturating_sub(total(&widths));
    if let Some((i, w)) = widths.iter_mut().rev().find(|(i, w)| *w < columns[*i].max) {
        *w += spare.min(columns[*i].max - *w);
    }
    widths
}

/// The widest cell of each column, in terminal cells (from the widths measured per row).
#[must_use]
pub fn content_widths(rows: &[TableRow]) -> Vec<u16> {
    let mut out: Vec<u16> = Vec::new();
    for r in rows {
        if out.len() < r.widths.len() {
            out.resize(r.widths.len(), 0);
        }
        for (o, w) in out.iter_mut().zip(r.widths.iter()) {
            *o = (*o).max(*w);
        }
    }
    out
}

/// Shortens `text` to `width` terminal cells with an ellipsis.
#[must_use]
pub fn ellipsize(text: &str, width: usize) -> String {
    crate::widgets::text::ellipsize(text, width)
}

/// Draws the table inside `block`; the header names the title, counts and filter.
#[allow(clippy::too_many_arguments)]
pub fn render(
    frame: &mut Frame,
    area: Rect,
    block: Block<'_>,
    columns: &[Column],
    rows: &[TableRow],
    state: &TableState,
    theme: &Theme,
    focused: bool,
    empty_text: &str,
    live: Option<LiveCell<'_>>,
) {
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let fitted = fit_columns(columns, inner.width, &state.widths);
    let header = Row::new(fitted.iter().map(|(i, w)| {
        TuiCell::from(ellipsize(columns[*i].title, *w as usize)).style(theme.style(Role::Header))
    }));
    let body_height = inner.height.saturating_sub(1) as usize;
    state.page.set(body_height.max(1));
    if state.visible.is_empty() {
        let table = Table::new(
            Vec::<Row>::new(),
            fitted.iter().map(|(_, w)| Constraint::Length(*w)),
        )
        .header(header);
        frame.render_widget(table, inner);
        if inner.height > 2 {
            let msg = Line::from(Span::styled(
                empty_text.to_string(),
                theme.style(Role::Muted),
            ));
            let r = Rect::new(inner.x + 1, inner.y + 2, inner.width.saturating_sub(2), 1);
            frame.render_widget(msg, r);
        }
        return;
    }
    // Keep the selection on screen.
    let mut offset = state.offset.get();
    if state.selected < offset {
        offset = state.selected;
    } else if body_height > 0 && state.selected >= offset + body_height {
        offset = state.selected + 1 - body_height;
    }
    offset = offset.min(state.visible.len().saturating_sub(body_height.max(1)));
    state.offset.set(offset);
    let shown = state
        .visible
        .iter()
        .enumerate()
        .skip(offset)
        .take(body_height);
    let mut table_rows = Vec::with_capacity(body_height);
    for (pos, &idx) in shown {
        let row = &rows[idx];
        let selected = pos == state.selected;
        let sel = theme.style(Role::Selection);
        let sel = if focused {
            sel
        } else {
            sel.add_modifier(Modifier::DIM)
        };
        let cells = fitted.iter().map(|(ci, w)| {
            let cell = match live {
                Some((col, f)) if col == *ci => f(idx),
                _ => row.cells.get(*ci).cloned().unwrap_or_default(),
            };
            let style = cell
                .role
                .map_or_else(|| theme.style(Role::Text), |r| theme.style(r));
            // On the selected row the selection colours win, so coloured cells stay
            // readable; modifiers (bold for crit …) are kept.
            let style = if selected { style.patch(sel) } else { style };
            // Text from a cluster may carry escapes or bidi controls: shown, never obeyed.
            let text = crate::widgets::text::sanitize(&cell.text);
            TuiCell::from(ellipsize(&text, *w as usize)).style(style)
        });
        let mut r = Row::new(cells);
        if selected {
            r = r.style(sel);
        }
        table_rows.push(r);
    }
    let table = Table::new(
        table_rows,
        fitted.iter().map(|(_, w)| Constraint::Length(*w)),
    )
    .header(header)
    .column_spacing(1)
    .style(Style::default());
    frame.render_widget(table, inner);
}

/// A bordered block titled with the pane name and its source state.
#[must_use]
pub fn pane_block<'a>(title: Vec<Span<'a>>, theme: &Theme, focused: bool) -> Block<'a> {
    let border = if focused {
        theme.style(Role::BorderFocused)
    } else {
        theme.style(Role::Border)
    };
    Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Line::from(title))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(keys: &[&str]) -> Vec<TableRow> {
        keys.iter()
            .map(|k| TableRow::new(*k, vec![Cell::plain(*k)]))
            .collect()
    }

    #[test]
    fn columns_drop_by_priority_then_grow() {
        let cols = [
            Column::new("A", 10, 20, 0),
            Column::new("B", 10, 10, 2),
            Column::new("C", 10, 10, 1),
        ];
        let content = [20, 10, 10];
        assert_eq!(fit_columns(&cols, 40, &content).len(), 3);
        let narrow = fit_columns(&cols, 25, &content);
        assert_eq!(narrow.iter().map(|c| c.0).collect::<Vec<_>>(), vec![0, 2]);
        let wide = fit_columns(&cols, 50, &content);
        assert_eq!(wide[0].1, 20);
        // Short content keeps columns narrow; the last growable column takes the rest.
        let cols = [
            Column::new("A", 10, 20, 0),
            Column::new("B", 10, 10, 2),
            Column::new("C", 10, 30, 1),
        ];
        let short = fit_columns(&cols, 50, &[3, 10, 10]);
        assert_eq!(short, vec![(0, 10), (1, 10), (2, 27)]);
    }

    #[test]
    fn selection_follows_the_row_and_filter() {
        let mut st = TableState::default();
        let r = rows(&["a", "b", "c"]);
        st.sync(&r);
        st.apply(&r, "down");
        assert_eq!(st.selected_key(), Some("b"));
        // Rows reorder: selection stays on "b".
        let r2 = rows(&["c", "b", "a"]);
        st.sync(&r2);
        assert_eq!(st.selected_index(), Some(1));
        st.filter = "c".into();
        st.sync(&r2);
        assert_eq!(st.visible_len(), 1);
        assert_eq!(st.selected_key(), Some("c"));
    }

    #[test]
    fn ellipsis() {
        assert_eq!(ellipsize("checkout", 5), "chec…");
        assert_eq!(ellipsize("abc", 5), "abc");
    }
}
