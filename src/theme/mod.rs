//! Themes: colours for semantic roles (ok, warn, crit, muted, accent, selection, danger …), so
//! widgets never pick raw colours. Shipped themes are embedded; a user theme in the config
//! dir's `themes/` overrides only the roles it names. `NO_COLOR` selects a monochrome theme
//! that uses bold/reverse only — every state also carries a text or symbol cue, so colour is
//! never the only signal.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

/// Shipped themes: (name, TOML).
pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

/// A semantic role a widget asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Text,
    Muted,
    Accent,
    Ok,
    Warn,
    Crit,
    Border,
    BorderFocused,
    Title,
    Header,
    Selection,
    Danger,
    TabActive,
    TabInactive,
    StatusBar,
}

impl Role {
    pub const ALL: &[Role] = &[
        Role::Text,
        Role::Muted,
        Role::Accent,
        Role::Ok,
        Role::Warn,
        Role::Crit,
        Role::Border,
        Role::BorderFocused,
        Role::Title,
        Role::Header,
        Role::Selection,
        Role::Danger,
        Role::TabActive,
        Role::TabInactive,
        Role::StatusBar,
    ];

    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Role::Text => "text",
            Role::Muted => "muted",
            Role::Accent => "accent",
            Role::Ok => "ok",
            Role::Warn => "warn",
            Role::Crit => "crit",
            Role::Border => "border",
            Role::BorderFocused => "border_focused",
            Role::Title => "title",
            Role::Header => "header",
            Role::Selection => "selection",
            Role::Danger => "danger",
            Role::TabActive => "tab_active",
            Role::TabInactive => "tab_inactive",
            Role::StatusBar => "status_bar",
        }
    }
}

/// A resolved theme.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    styles: BTreeMap<&'static str, Style>,
}

/// One role in a theme file: a colour name, or a table with fg/bg/modifiers.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StyleSpec {
    Fg(String),
    Full(FullSpec),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FullSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    dim: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    underlined: bool,
    #[serde(default)]
    reversed: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    roles: BTreeMap<String, StyleSpec>,
}

/// Why a theme could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ThemeError {
    #[error("theme {0:?} not found (shipped: default, light, high-contrast)")]
    NotFound(String),
    #[error("theme {origin}: {message}")]
    Invalid { origin: String, message: String },
}

fn parse_color(s: &str) -> Result<Color, String> {
    Color::from_str(s.trim()).map_err(|_| {
        format!("{s:?} is not a colour (use a name like \"red\", \"#rrggbb\" or 0-255)")
    })
}

impl Theme {
    /// Parses a theme file over `base` (roles it does not name keep the base's style).
    pub fn parse_over(base: Option<&Theme>, text: &str, origin: &str) -> Result<Self, ThemeError> {
        let invalid = |message: String| ThemeError::Invalid {
            origin: origin.to_string(),
            message,
        };
        let file: ThemeFile =
            toml::from_str(text).map_err(|e| invalid(crate::config::one_line(&e.to_string())))?;
        let _ = file.description;
        let mut styles = base.map(|b| b.styles.clone()).unwrap_or_default();
        for (key, spec) in file.roles {
            let role = Role::ALL.iter().find(|r| r.key() == key).ok_or_else(|| {
                invalid(format!(
                    "unknown role {key:?} (known: {})",
                    Role::ALL
                        .iter()
                        .map(|r| r.key())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            let style = match spec {
                StyleSpec::Fg(c) => Style::default().fg(parse_color(&c).map_err(invalid)?),
                StyleSpec::Full(f) => {
                    let mut s = Style::default();
                    if let Some(c) = f.fg {
                        s = s.fg(parse_color(&c).map_err(invalid)?);
                    }
                    if let Some(c) = f.bg {
                        s = s.bg(parse_color(&c).map_err(invalid)?);
                    }
                    let mut m = Modifier::empty();
                    for (on, bit) in [
                        (f.bold, Modifier::BOLD),
                        (f.dim, Modifier::DIM),
                        (f.italic, Modifier::ITALIC),
                        (f.underlined, Modifier::UNDERLINED),
                        (f.reversed, Modifier::REVERSED),
                    ] {
                        if on {
                            m |= bit;
                        }
                    }
                    s.add_modifier(m)
                }
            };
            styles.insert(role.key(), style);
        }
        if base.is_none()
            && let Some(missing) = Role::ALL.iter().find(|r| !styles.contains_key(r.key()))
        {
            return Err(invalid(format!("role {:?} is missing", missing.key())));
        }
        Ok(Self {
            name: file.name.unwrap_or_else(|| origin.to_string()),
            styles,
        })
    }

    /// A shipped theme by name.
    pub fn builtin(name: &str) -> Result<Self, ThemeError> {
        let (_, text) = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| ThemeError::NotFound(name.to_string()))?;
        Self::parse_over(None, text, name)
    }

    /// Resolves a theme name: a user file `themes/NAME.toml` in the config dir (layered over
    /// the shipped theme of the same name, or over `default`), else a shipped theme.
    pub fn load(name: &str, user_file: &Path) -> Result<Self, ThemeError> {
        let base = Self::builtin(name).or_else(|_| Self::builtin("default"))?;
        match std::fs::read_to_string(user_file) {
            Ok(text) => Self::parse_over(Some(&base), &text, &user_file.display().to_string()),
            Err(_) if BUILTIN.iter().any(|(n, _)| *n == name) => Ok(base),
            Err(_) => Err(ThemeError::NotFound(name.to_string())),
        }
    }

    /// The monochrome theme for `NO_COLOR`: modifiers only.
    #[must_use]
    pub fn no_color() -> Self {
        let plain = Style::default();
        let styles = Role::ALL
            .iter()
            .map(|r| {
                let s = match r {
                    Role::Muted => plain.add_modifier(Modifier::DIM),
                    Role::Accent | Role::Title | Role::Crit | Role::TabActive => {
                        plain.add_modifier(Modifier::BOLD)
                    }
                    Role::Header => plain.add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
                    Role::Selection | Role::StatusBar => plain.add_modifier(Modifier::REVERSED),
                    Role::Danger => plain.add_modifier(Modifier::BOLD | Modifier::REVERSED),
                    _ => plain,
                };
                (r.key(), s)
            })
            .collect();
        Self {
            name: "no-color".into(),
            styles,
        }
    }

    /// Whether the environment asks for no colour (`NO_COLOR` set and non-empty).
    #[must_use]
    pub fn no_color_requested() -> bool {
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }

    #[must_use]
    pub fn style(&self, role: Role) -> Style {
        self.styles.get(role.key()).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_with_every_role() {
        for (name, _) in BUILTIN {
            let t = Theme::builtin(name).unwrap();
            for r in Role::ALL {
                assert!(t.styles.contains_key(r.key()), "{name} lacks {}", r.key());
            }
        }
    }

    #[test]
    fn user_theme_overrides_only_named_roles() {
        let base = Theme::builtin("default").unwrap();
        let t = Theme::parse_over(Some(&base), "[roles]\nok = \"#00ff00\"\n", "mine").unwrap();
        assert_eq!(t.style(Role::Ok).fg, Some(Color::Rgb(0, 255, 0)));
        assert_eq!(t.style(Role::Crit), base.style(Role::Crit));
    }

    #[test]
    fn bad_colour_and_unknown_role_are_clear() {
        let e = Theme::parse_over(None, "[roles]\nok = \"greenish\"\n", "x.toml").unwrap_err();
        assert!(
            e.to_string().contains("\"greenish\" is not a colour"),
            "{e}"
        );
        let e = Theme::parse_over(None, "[roles]\nokay = \"red\"\n", "x.toml").unwrap_err();
        assert!(e.to_string().contains("unknown role \"okay\""), "{e}");
    }
}
