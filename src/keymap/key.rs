//! Key names in keymap files (`q`, `P`, `ctrl-c`, `enter`, `shift-tab`, `f5`, `g g` for a
//! sequence) and their crossterm equivalents.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// One key press, normalised: for characters the shift state is in the character itself
/// (`P`, `?`), so terminals that do or do not report SHIFT agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyPress {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl KeyPress {
    #[must_use]
    pub fn new(code: KeyCode, mods: KeyModifiers) -> Self {
        let mut mods = mods & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match code {
            KeyCode::Char(c) => {
                mods.remove(KeyModifiers::SHIFT);
                // Terminals send ctrl-C as 'c' or 'C'; bindings are case-insensitive there.
                if mods.contains(KeyModifiers::CONTROL) {
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            other => other,
        };
        Self { code, mods }
    }

    #[must_use]
    pub fn from_event(ev: &KeyEvent) -> Self {
        Self::new(ev.code, ev.modifiers)
    }

    /// Parses one key name.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty key".into());
        }
        // A lone "-" is the minus key, not a modifier separator.
        let (mods_part, key) = match s.rfind('-') {
            Some(i) if i > 0 && i + 1 < s.len() => (&s[..i], &s[i + 1..]),
            _ => ("", s),
        };
        let mut mods = KeyModifiers::empty();
        if !mods_part.is_empty() {
            for m in mods_part.split('-') {
                mods |= match m.to_ascii_lowercase().as_str() {
                    "ctrl" | "c" | "control" => KeyModifiers::CONTROL,
                    "alt" | "a" | "meta" | "m" => KeyModifiers::ALT,
                    "shift" | "s" => KeyModifiers::SHIFT,
                    other => return Err(format!("unknown modifier {other:?} in {s:?}")),
                };
            }
        }
        let lower = key.to_ascii_lowercase();
        let code = match lower.as_str() {
            "enter" | "return" | "cr" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" if mods.contains(KeyModifiers::SHIFT) => KeyCode::BackTab,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "space" => KeyCode::Char(' '),
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pageup" | "pgup" => KeyCode::PageUp,
            "pagedown" | "pgdown" | "pgdn" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "backspace" | "bs" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "insert" | "ins" => KeyCode::Insert,
            "minus" => KeyCode::Char('-'),
            f if f.len() > 1 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                let n = f[1..].parse::<u8>().unwrap_or(0);
                if !(1..=12).contains(&n) {
                    return Err(format!("no such function key {key:?}"));
                }
                KeyCode::F(n)
            }
            _ => {
                let mut chars = key.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => {
                        let c = if mods.contains(KeyModifiers::SHIFT) && c.is_ascii_lowercase() {
                            c.to_ascii_uppercase()
                        } else {
                            c
                        };
                        KeyCode::Char(c)
                    }
                    _ => return Err(format!("unknown key {key:?}")),
                }
            }
        };
        Ok(Self::new(code, mods))
    }

    /// The name shown in help and hints.
    #[must_use]
    pub fn display(&self) -> String {
        let mut out = String::new();
        if self.mods.contains(KeyModifiers::CONTROL) {
            out.push_str("ctrl-");
        }
        if self.mods.contains(KeyModifiers::ALT) {
            out.push_str("alt-");
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            out.push_str("shift-");
        }
        match self.code {
            KeyCode::Char(' ') => out.push_str("space"),
            KeyCode::Char(c) => out.push(c),
            KeyCode::Enter => out.push_str("enter"),
            KeyCode::Esc => out.push_str("esc"),
            KeyCode::Tab => out.push_str("tab"),
            KeyCode::BackTab => out.push_str("shift-tab"),
            KeyCode::Up => out.push('↑'),
            KeyCode::Down => out.push('↓'),
            KeyCode::Left => out.push('←'),
            KeyCode::Right => out.push('→'),
            KeyCode::PageUp => out.push_str("pgup"),
            KeyCode::PageDown => out.push_str("pgdn"),
            KeyCode::Home => out.push_str("home"),
            KeyCode::End => out.push_str("end"),
            KeyCode::Backspace => out.push_str("bs"),
            KeyCode::Delete => out.push_str("del"),
            KeyCode::Insert => out.push_str("ins"),
            KeyCode::F(n) => out.push_str(&format!("f{n}")),
            _ => out.push('?'),
        }
        out
    }
}

/// A key sequence (usually one key; `g g` is two).
pub type KeySeq = Vec<KeyPress>;

/// Parses `"g g"` or `"ctrl-c"`.
pub fn parse_seq(s: &str) -> Result<KeySeq, String> {
    if s.trim() == "space" || s == " " {
        return Ok(vec![KeyPress::new(
            KeyCode::Char(' '),
            KeyModifiers::empty(),
        )]);
    }
    let seq: Result<Vec<_>, _> = s.split_whitespace().map(KeyPress::parse).collect();
    let seq = seq?;
    if seq.is_empty() {
        return Err("empty key".into());
    }
    if seq.len() > 3 {
        return Err(format!("{s:?}: sequences are at most 3 keys"));
    }
    Ok(seq)
}

#[must_use]
pub fn display_seq(seq: &[KeyPress]) -> String {
    seq.iter()
        .map(KeyPress::display)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kp(c: KeyCode, m: KeyModifiers) -> KeyPress {
        KeyPress::new(c, m)
    }

    #[test]
    fn parses_names_and_normalises_shift() {
        assert_eq!(
            KeyPress::parse("q").unwrap(),
            kp(KeyCode::Char('q'), KeyModifiers::NONE)
        );
        assert_eq!(
            KeyPress::parse("P").unwrap(),
            kp(KeyCode::Char('P'), KeyModifiers::SHIFT)
        );
        assert_eq!(
            KeyPress::parse("shift-p").unwrap(),
            KeyPress::parse("P").unwrap()
        );
        assert_eq!(
            KeyPress::parse("ctrl-c").unwrap(),
            kp(KeyCode::Char('C'), KeyModifiers::CONTROL)
        );
        assert_eq!(
            KeyPress::parse("shift-tab").unwrap(),
            kp(KeyCode::BackTab, KeyModifiers::SHIFT)
        );
        assert_eq!(
            KeyPress::parse("-").unwrap(),
            kp(KeyCode::Char('-'), KeyModifiers::NONE)
        );
        assert_eq!(KeyPress::parse("f5").unwrap().code, KeyCode::F(5));
        assert_eq!(parse_seq("g g").unwrap().len(), 2);
    }

    #[test]
    fn rejects_nonsense() {
        assert!(KeyPress::parse("hyper-x").is_err());
        assert!(KeyPress::parse("enterr").is_err());
        assert!(KeyPress::parse("f13").is_err());
        assert!(parse_seq("").is_err());
    }

    #[test]
    fn display_round_trips() {
        for name in [
            "q",
            "P",
            "ctrl-c",
            "enter",
            "shift-tab",
            "f5",
            "space",
            "?",
            "alt-x",
        ] {
            let k = KeyPress::parse(name).unwrap();
            assert_eq!(KeyPress::parse(&k.display()).unwrap(), k, "{name}");
        }
    }
}
