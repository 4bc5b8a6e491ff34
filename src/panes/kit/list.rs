//! A pane's table as data: its rows (shared with the row cache), their table rows, the
//! selection and filter. Set when the rows change; drawn without touching the rows that are
//! not on screen.

use std::sync::Arc;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::Block;

use crate::theme::Theme;
use crate::widgets::table::{self, Column, LiveCell, TableRow, TableState};

/// Rows of type `R` with their table rows, in display order.
#[derive(Debug)]
pub struct ListView<R> {
    rows: Vec<Arc<R>>,
    table_rows: Vec<TableRow>,
    pub table: TableState,
}

impl<R> Default for ListView<R> {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            table_rows: Vec::new(),
            table: TableState::default(),
        }
    }
}

impl<R> ListView<R> {
    /// Replaces the rows (already in display order); the selection stays on its row.
    pub fn set(&mut self, pairs: Vec<(Arc<R>, TableRow)>) {
        (self.rows, self.table_rows) = pairs.into_iter().unzip();
        self.table.sync(&self.table_rows);
    }

    #[must_use]
    pub fn rows(&self) -> &[Arc<R>] {
        &self.rows
    }

    #[must_use]
    pub fn table_rows(&self) -> &[TableRow] {
        &self.table_rows
    }

    #[must_use]
    pub fn selected(&self) -> Option<&Arc<R>> {
        self.table.selected_index().and_then(|i| self.rows.get(i))
    }

    #[must_use]
    pub fn selected_key(&self) -> Option<&str> {
        self.table.selected_key()
    }

    /// Selects the row with this key, if it is visible.
    pub fn select_key(&mut self, key: &str) {
        self.table.select_key(&self.table_rows, key);
    }

    /// The row whose table key is `key`.
    #[must_use]
    pub fn by_key(&self, key: &str) -> Option<&Arc<R>> {
        self.table_rows
            .iter()
            .position(|t| &*t.key == key)
            .and_then(|i| self.rows.get(i))
    }

    /// Moves the selection on a table action; returns whether it was one.
    pub fn apply(&mut self, action: &str) -> bool {
        self.table.apply(&self.table_rows, action)
    }

    #[must_use]
    pub fn filter(&self) -> &str {
        &self.table.filter
    }

    pub fn set_filter(&mut self, filter: &str) {
        self.table.filter = filter.to_string();
        self.table.sync(&self.table_rows);
    }

    /// Draws the table in `block`.
    #[allow(clippy::too_many_arguments)]
    pub fn render(
        &self,
        frame: &mut Frame,
        area: Rect,
        block: Block<'_>,
        columns: &[Column],
        theme: &Theme,
        focused: bool,
        empty: &str,
        live: Option<LiveCell<'_>>,
    ) {
        table::render(
            frame,
            area,
            block,
            columns,
            &self.table_rows,
            &self.table,
            theme,
            focused,
            empty,
            live,
        );
    }
}
