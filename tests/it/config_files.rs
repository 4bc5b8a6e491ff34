//! Every shipped theme and keymap parses cleanly; invalid samples give clear, specific
//! errors (themes, config) or warnings (keymaps) instead of crashes.

use std::path::Path;

use kdeck::app::known_actions;
use kdeck::config::Config;
use kdeck::keymap::{Keymap, KeymapError};
use kdeck::panes::registry;
use kdeck::theme::{Role, Theme};

fn repo(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn sample(name: &str) -> String {
    std::fs::read_to_string(repo("tests/it/config_samples").join(name)).unwrap()
}

fn files_in(dir: &str) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(repo(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    out.sort();
    out
}

#[test]
fn every_shipped_theme_file_parses_completely() {
    let files = files_in("themes");
    assert!(
        files.len() >= 3,
        "themes/ should ship default, light, high-contrast"
    );
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let t = Theme::parse_over(None, &text, &f.display().to_string())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        // Parsed over nothing, so every role must be in the file itself.
        assert_ne!(t.style(Role::Selection), ratatui::style::Style::default());
    }
}

#[test]
fn high_contrast_uses_only_the_16_colours() {
    use ratatui::style::Color;
    let t = Theme::builtin("high-contrast").unwrap();
    for r in Role::ALL {
        let s = t.style(*r);
        for c in [s.fg, s.bg].into_iter().flatten() {
            assert!(
                !matches!(c, Color::Rgb(..) | Color::Indexed(_)),
                "{r:?} uses {c:?}, not one of the 16 ANSI colours"
            );
        }
    }
}

#[test]
fn every_shipped_keymap_file_loads_without_warnings() {
    let panes = registry();
    let known = known_actions(&panes);
    let files = files_in("keymaps");
    assert!(files.len() >= 2);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let km = Keymap::from_texts("shipped", &text, None, &known);
        assert!(km.warnings.is_empty(), "{}: {:?}", f.display(), km.warnings);
        for layer in ["global", "table", "dialog"] {
            assert!(
                !km.bindings(layer).is_empty(),
                "{} lacks [{layer}]",
                f.display()
            );
        }
        for p in &panes {
            assert!(
                !km.bindings(p.layer()).is_empty(),
                "{} has no section for pane {}",
                f.display(),
                p.id()
            );
        }
    }
}

#[test]
fn invalid_themes_are_clear_errors() {
    let base = Theme::builtin("default").unwrap();
    let cases = [
        ("theme-bad-colour.toml", "\"greenish\" is not a colour"),
        ("theme-unknown-role.toml", "unknown role \"okay\""),
        ("theme-not-toml.toml", "theme-not-toml.toml:"),
        ("theme-bad-field.toml", "ok"),
    ];
    for (file, expect) in cases {
        let err = Theme::parse_over(Some(&base), &sample(file), file)
            .unwrap_err()
            .to_string();
        assert!(err.contains(expect), "{file}: {err}");
        assert!(!err.contains('\n'), "{file}: error spans lines: {err}");
    }
}

#[test]
fn invalid_keymaps_become_warnings_and_keep_the_defaults() {
    let known = known_actions(&registry());
    let base = kdeck::keymap::BUILTIN[0].1;
    let cases = [
        (
            "keymap-unknown-action.toml",
            "unknown action \"promot\", did you mean \"promote\"?",
        ),
        ("keymap-bad-key.toml", "unknown modifier \"hyper\""),
        ("keymap-missing-run.toml", "missing field `run`"),
        ("keymap-not-a-list.toml", "should be a list"),
        ("keymap-unknown-section.toml", "unknown section [rolouts]"),
        ("keymap-broken.toml", "file ignored"),
    ];
    for (file, expect) in cases {
        let km = Keymap::from_texts(
            "default",
            base,
            Some((&sample(file), file.to_string())),
            &known,
        );
        let all = km.warnings.join("\n");
        assert!(all.contains(expect), "{file}: {all}");
        // The shipped quit binding survives whatever the user file did.
        assert!(!km.keys_for("global", "quit").is_empty(), "{file}");
    }
}

#[test]
fn unknown_keymap_name_is_an_error() {
    let known = known_actions(&registry());
    let err = Keymap::load("emacs", Path::new("/nonexistent/emacs.toml"), &known).unwrap_err();
    assert_eq!(err, KeymapError::NotFound("emacs".into()));
}

#[test]
fn invalid_config_is_one_clear_line() {
    let e = Config::parse(&sample("config-unknown-key.toml"), "config.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown field `them`"), "{e}");
    let e = Config::parse(&sample("config-wrong-type.toml"), "config.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("readonly"), "{e}");
    assert!(!e.contains('\n'));
}
