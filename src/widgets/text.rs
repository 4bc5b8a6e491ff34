//! Text as the terminal shows it: width in cells (wide CJK and emoji take two, combining marks
//! none), cutting to a width without splitting a character, and making untrusted text (names,
//! messages from a cluster) safe to draw: control and bidi-override characters never reach the
//! terminal.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Display width in terminal cells.
#[must_use]
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// Whether `c` must not be written to a terminal as is: C0/C1 controls (escape sequences),
/// and the invisible characters that reorder or hide text (bidi embeddings, overrides and
/// isolates, zero-width joiners aside).
#[must_use]
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// `text` with unsafe characters shown as `�` (a tab or newline becomes a space), so what a
/// cluster sends can neither move the cursor nor reorder a line.
#[must_use]
pub fn sanitize(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| match c {
                '\t' | '\n' | '\r' => ' ',
                c if is_unsafe(c) => '\u{FFFD}',
                c => c,
            })
            .collect(),
    )
}

/// Removes unsafe characters from every cell of a drawn frame: the last line of defence for
/// text that reached a widget unsanitized. They are removed, not replaced, because layout
/// already gave them no width.
pub fn scrub(buf: &mut ratatui::buffer::Buffer) {
    for cell in &mut buf.content {
        if cell.symbol().chars().any(is_unsafe) {
            let clean: String = cell.symbol().chars().filter(|c| !is_unsafe(*c)).collect();
            cell.set_symbol(if clean.is_empty() { " " } else { &clean });
        }
    }
}

/// `text` cut to at most `max` cells, with `…` when cut; never splits a character.
#[must_use]
pub fn ellipsize(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// `text` padded with spaces to `cells` wide (cut with `…` when wider).
#[must_use]
pub fn pad(text: &str, cells: usize) -> String {
    let cut = ellipsize(text, cells);
    let w = width(&cut);
    let mut out = cut;
    out.extend(std::iter::repeat_n(' ', cells.saturating_sub(w)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_count_cells_not_bytes() {
        assert_eq!(width("checkout"), 8);
        assert_eq!(width("決済"), 4);
        assert_eq!(width("e\u{301}"), 1, "a combining accent takes no cell");
        assert_eq!(width("🚀"), 2);
    }

    #[test]
    fn ellipsis_never_splits_and_respects_cells() {
        assert_eq!(ellipsize("checkout", 5), "chec…");
        assert_eq!(ellipsize("abc", 5), "abc");
        assert_eq!(ellipsize("決済サービス", 5), "決済…");
        assert!(width(&ellipsize("決済サービス", 4)) <= 4);
        assert_eq!(ellipsize("abc", 0), "");
        assert_eq!(pad("決済", 6), "決済  ");
    }

    #[test]
    fn a_table_of_text_in_any_script_stays_aligned_and_inert() {
        use crate::theme::Theme;
        use crate::widgets::table::{Cell, Column, TableRow, TableState, render};
        use ratatui::Terminal;
        use ratatui::backend::TestBackend;
        use ratatui::widgets::Block;
        let names = [
            "checkout",
            "決済サービス-本番",
            "e\u{301}te\u{301}",
            "🚀🚀 launch",
            "\u{202E}evil\u{202C}name",
            "zero\u{200B}width",
            "bell\u{7}\u{1b}[31mred",
            "שלום-עולם",
            "a-very-long-name-that-goes-on-and-on-and-on-and-on-and-on",
        ];
        let rows: Vec<TableRow> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                TableRow::new(
                    format!("k{i}"),
                    vec![
                        Cell::plain(*n),
                        Cell::plain("x"),
                        Cell::plain(format!("{i}")),
                    ],
                )
            })
            .collect();
        let cols = [
            Column::new("NAME", 6, 20, 0),
            Column::new("MID", 1, 3, 0),
            Column::new("N", 1, 3, 0),
        ];
        let mut state = TableState::default();
        state.sync(&rows);
        let mut term = Terminal::new(TestBackend::new(40, 14)).unwrap();
        let theme = Theme::no_color();
        term.draw(|f| {
            render(
                f,
                f.area(),
                Block::default(),
                &cols,
                &rows,
                &state,
                &theme,
                true,
                "",
                None,
            );
            scrub(f.buffer_mut());
        })
        .unwrap();
        let buf = term.backend().buffer().clone();
        for cell in &buf.content {
            assert!(!cell.symbol().chars().any(is_unsafe), "{:?}", cell.symbol());
        }
        // Every data row's "x" lands in the same column, whatever came before it.
        let xs: Vec<u16> = (1..=names.len() as u16)
            .map(|y| {
                (0..40)
                    .find(|&x| buf[(x, y)].symbol() == "x" && buf[(x + 1, y)].symbol() == " ")
                    .unwrap_or(u16::MAX)
            })
            .collect();
        assert!(
            xs.iter().all(|&x| x == xs[0] && x != u16::MAX),
            "{xs:?}\n{buf:?}"
        );
    }

    #[test]
    fn controls_and_bidi_overrides_never_reach_the_terminal() {
        assert_eq!(sanitize("ok"), "ok");
        assert_eq!(sanitize("a\u{1b}[2Jb"), "a\u{FFFD}[2Jb");
        assert_eq!(sanitize("x\u{202E}y"), "x\u{FFFD}y");
        assert_eq!(sanitize("line\nnext"), "line next");
    }
}
