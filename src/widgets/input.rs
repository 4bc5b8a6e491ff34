//! A one-line text input for the command line (`:`) and the filter (`/`), with Tab
//! completion from a list of candidates.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What an edit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputOutcome {
    /// Text changed (or the cursor moved).
    Edited,
    /// Enter: the line is submitted.
    Submit(String),
    /// Esc (or backspace on an empty line): abandoned.
    Cancel,
    Ignored,
}

/// The input's text and cursor (in characters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineInput {
    pub text: String,
    cursor: usize,
}

impl LineInput {
    #[must_use]
    pub fn with_text(text: &str) -> Self {
        Self {
            text: text.to_string(),
            cursor: text.chars().count(),
        }
    }

    #[must_use]
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    fn byte_at(&self, char_idx: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_idx)
            .map_or(self.text.len(), |(b, _)| b)
    }

    /// Applies one key. `complete` lists candidates for the current text (for Tab).
    pub fn key(&mut self, key: &KeyEvent, complete: &dyn Fn(&str) -> Vec<String>) -> InputOutcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter => InputOutcome::Submit(self.text.clone()),
            KeyCode::Esc => InputOutcome::Cancel,
            KeyCode::Char('c') if ctrl => InputOutcome::Cancel,
            KeyCode::Char('u') if ctrl => {
                self.text.clear();
                self.cursor = 0;
                InputOutcome::Edited
            }
            KeyCode::Char('w') if ctrl => {
                let before: String = self.text.chars().take(self.cursor).collect();
                let trimmed = before.trim_end();
                let cut = trimmed.rfind(' ').map_or(0, |i| i + 1);
                let after: String = self.text.chars().skip(self.cursor).collect();
                self.text = format!("{}{after}", &trimmed[..cut]);
                self.cursor = trimmed[..cut].chars().count();
                InputOutcome::Edited
            }
            KeyCode::Char(c) if !ctrl => {
                let at = self.byte_at(self.cursor);
                self.text.insert(at, c);
                self.cursor += 1;
                InputOutcome::Edited
            }
            KeyCode::Backspace => {
                if self.text.is_empty() {
                    return InputOutcome::Cancel;
                }
                if self.cursor > 0 {
                    let at = self.byte_at(self.cursor - 1);
                    self.text.remove(at);
                    self.cursor -= 1;
                }
                InputOutcome::Edited
            }
            KeyCode::Delete => {
                if self.cursor < self.text.chars().count() {
                    let at = self.byte_at(self.cursor);
                    self.text.remove(at);
                }
                InputOutcome::Edited
            }
            KeyCode::Left => {
                self.cursor = self.cursor.saturating_sub(1);
                InputOutcome::Edited
            }
            KeyCode::Right => {
                self.cursor = (self.cursor + 1).min(self.text.chars().count());
                InputOutcome::Edited
            }
            KeyCode::Home => {
                self.cursor = 0;
                InputOutcome::Edited
            }
            KeyCode::End => {
                self.cursor = self.text.chars().count();
                InputOutcome::Edited
            }
            KeyCode::Tab => {
                let candidates = complete(&self.text);
                if let Some(common) = common_prefix(&candidates)
                    && common.len() > self.text.len()
                {
                    self.text = common;
                    if candidates.len() == 1 {
                        self.text.push(' ');
                    }
                    self.cursor = self.text.chars().count();
                }
                InputOutcome::Edited
            }
            _ => InputOutcome::Ignored,
        }
    }
}

/// The longest common prefix of the candidates.
#[must_use]
pub fn common_prefix(candidates: &[String]) -> Option<String> {
    let first = candidates.first()?;
    let mut len = first.len();
    for c in &candidates[1..] {
        len = len.min(
            first
                .bytes()
                .zip(c.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    while !first.is_char_boundary(len) {
        len -= 1;
    }
    Some(first[..len].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn typing_editing_and_completion() {
        let mut i = LineInput::default();
        let none = |_: &str| Vec::new();
        for c in "promte".chars() {
            i.key(&k(KeyCode::Char(c)), &none);
        }
        i.key(&k(KeyCode::Left), &none);
        i.key(&k(KeyCode::Left), &none);
        i.key(&k(KeyCode::Char('o')), &none);
        assert_eq!(i.text, "promote");
        let mut j = LineInput::with_text("pro");
        let cands = |_: &str| vec!["promote".to_string(), "promote-full".to_string()];
        j.key(&k(KeyCode::Tab), &cands);
        assert_eq!(j.text, "promote");
        let one = |_: &str| vec!["ctx demo-us-east".to_string()];
        let mut c = LineInput::with_text("ctx demo");
        c.key(&k(KeyCode::Tab), &one);
        assert_eq!(c.text, "ctx demo-us-east ");
        assert_eq!(
            j.key(&k(KeyCode::Enter), &none),
            InputOutcome::Submit("promote".into())
        );
        let mut e = LineInput::default();
        assert_eq!(e.key(&k(KeyCode::Backspace), &none), InputOutcome::Cancel);
    }
}
