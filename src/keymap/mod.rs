//! Keymaps: `keymaps/*.toml` map keys to named actions, one section (layer) per context:
//! `global`, `table`, `dialog`, and one per pane (`clusters`, `rollouts`, `rollout-detail` …).
//! Each entry is `{ on = "p", run = "promote", desc = "Promote to the next step" }`; `on` may be
//! a list of alternatives, and `"g g"` is a two-key sequence. Help and footer hints are
//! generated from the same entries, so they cannot drift from what the keys do.
//!
//! A user keymap (`keymaps/NAME.toml` in the config dir) is layered over the shipped one and
//! overrides only what it names: an entry replaces the shipped bindings of the same action in
//! that layer (and any binding of the same key); `run = "none"` unbinds a key. Unknown layers,
//! unknown actions and malformed entries become warnings shown in the UI, never a crash.

pub mod key;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub use key::{KeyPress, KeySeq, display_seq, parse_seq};

/// Shipped keymaps: (name, TOML).
pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../keymaps/default.toml")),
    ("vim", include_str!("../../keymaps/vim.toml")),
];

/// An action name with its arguments, as written after `run =`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionCall {
    pub name: String,
    pub args: Vec<String>,
}

impl ActionCall {
    #[must_use]
    pub fn parse(run: &str) -> Option<Self> {
        let mut words = run.split_whitespace();
        let name = words.next()?.to_string();
        Some(Self {
            name,
            args: words.map(str::to_string).collect(),
        })
    }

    #[must_use]
    pub fn named(name: &str) -> Self {
        Self {
            name: name.to_string(),
            args: Vec::new(),
        }
    }
}

/// One binding: a key sequence, the action it runs, and the text help shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub keys: KeySeq,
    pub action: ActionCall,
    pub desc: String,
}

/// The action names each layer accepts; `global` names are accepted in every layer.
#[derive(Debug, Clone, Default)]
pub struct KnownActions {
    layers: BTreeMap<String, BTreeSet<String>>,
}

impl KnownActions {
    pub fn add(&mut self, layer: &str, names: impl IntoIterator<Item = impl Into<String>>) {
        self.layers
            .entry(layer.to_string())
            .or_default()
            .extend(names.into_iter().map(Into::into));
    }

    fn has_layer(&self, layer: &str) -> bool {
        self.layers.contains_key(layer)
    }

    fn accepts(&self, layer: &str, action: &str) -> bool {
        let in_layer = |l: &str| self.layers.get(l).is_some_and(|s| s.contains(action));
        in_layer(layer) || in_layer("global")
    }

    fn suggestion(&self, layer: &str, action: &str) -> Option<String> {
        let candidates = self
            .layers
            .get(layer)
            .into_iter()
            .chain(self.layers.get("global"))
            .flatten();
        candidates
            .map(|c| (edit_distance(c, action), c))
            .filter(|(d, _)| *d <= 2)
            .min()
            .map(|(_, c)| c.clone())
    }
}

/// A resolved keymap.
#[derive(Debug, Clone, Default)]
pub struct Keymap {
    pub name: String,
    layers: BTreeMap<String, Vec<Binding>>,
    /// Problems found while loading, for the status line and the log.
    pub warnings: Vec<String>,
}

/// What a key (sequence) means in the current layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Action(ActionCall),
    /// The keys so far start a longer sequence.
    Pending,
    Unbound,
}

/// Why a keymap could not be loaded at all (a missing name); everything else is a warning.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeymapError {
    #[error("keymap {0:?} not found (shipped: default, vim)")]
    NotFound(String),
}

#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    on: OneOrMany,
    run: String,
    #[serde(default)]
    desc: Option<String>,
}

/// Parsed entries of one file, per layer, plus the warnings met.
type ParsedFile = (
    BTreeMap<String, Vec<(Option<KeySeq>, Binding)>>,
    Vec<String>,
);

/// A shipped keymap, parsed.
#[derive(Debug, Clone)]
pub(crate) struct Base(ParsedFile);

impl Base {
    pub(crate) fn parse(text: &str, name: &str) -> Self {
        Self(parse_file(text, &format!("{name} (shipped)")))
    }
}

fn parse_file(text: &str, origin: &str) -> ParsedFile {
    let mut warnings = Vec::new();
    let mut out: BTreeMap<String, Vec<(Option<KeySeq>, Binding)>> = BTreeMap::new();
    let table: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            warnings.push(format!(
                "keymap {origin}: {} (file ignored)",
                crate::config::one_line(&e.to_string())
            ));
            return (out, warnings);
        }
    };
    for (layer, entries) in table {
        let Some(entries) = entries.as_array() else {
            warnings.push(format!(
                "keymap {origin}: [{layer}] should be a list of {{ on, run, desc }} entries"
            ));
            continue;
        };
        for (i, entry) in entries.iter().enumerate() {
            let raw: RawEntry = match entry.clone().try_into() {
                Ok(r) => r,
                Err(e) => {
                    warnings.push(format!(
                        "keymap {origin}: {layer} entry {}: {} (ignored)",
                        i + 1,
                        crate::config::one_line(&e.to_string())
                    ));
                    continue;
                }
            };
            let Some(action) = ActionCall::parse(&raw.run) else {
                warnings.push(format!(
                    "keymap {origin}: {layer} entry {}: empty run (ignored)",
                    i + 1
                ));
                continue;
            };
            let keys = match raw.on {
                OneOrMany::One(k) => vec![k],
                OneOrMany::Many(ks) => ks,
            };
            for k in keys {
                match parse_seq(&k) {
                    Ok(seq) => out.entry(layer.clone()).or_default().push((
                        Some(seq.clone()),
                        Binding {
                            keys: seq,
                            action: action.clone(),
                            desc: raw.desc.clone().unwrap_or_default(),
                        },
                    )),
                    Err(e) => warnings.push(format!(
                        "keymap {origin}: {layer} entry {}: {e} (ignored)",
                        i + 1
                    )),
                }
            }
        }
    }
    (out, warnings)
}

impl Keymap {
    /// Loads keymap `name`: the shipped one (or `default` when `name` is only a user file)
    /// with the user file, if any, layered on top. Bindings are checked against `known`.
    pub fn load(name: &str, user_file: &Path, known: &KnownActions) -> Result<Self, KeymapError> {
        let builtin = BUILTIN.iter().find(|(n, _)| *n == name);
        let user_text = std::fs::read_to_string(user_file).ok();
        if builtin.is_none() && user_text.is_none() {
            return Err(KeymapError::NotFound(name.to_string()));
        }
        let base_text = builtin.map_or(BUILTIN[0].1, |(_, t)| *t);
        let mut km = Self::from_texts(
            name,
            base_text,
            user_text
                .as_deref()
                .map(|t| (t, user_file.display().to_string())),
            known,
        );
        km.name = name.to_string();
        Ok(km)
    }

    /// Builds a keymap from shipped text and optional user text (with its origin).
    #[must_use]
    pub fn from_texts(
        name: &str,
        base: &str,
        user: Option<(&str, String)>,
        known: &KnownActions,
    ) -> Self {
        Self::over_base(name, Base::parse(base, name), user, known)
    }

    /// [`Keymap::from_texts`] over a shipped keymap parsed once (the fuzzer merges many user
    /// files over the same base).
    pub(crate) fn over_base(
        name: &str,
        base: Base,
        user: Option<(&str, String)>,
        known: &KnownActions,
    ) -> Self {
        let (base_layers, mut warnings) = base.0;
        let mut layers: BTreeMap<String, Vec<Binding>> = base_layers
            .into_iter()
            .map(|(l, bs)| (l, bs.into_iter().map(|(_, b)| b).collect()))
            .collect();
        if let Some((text, origin)) = user {
            let (user_layers, w) = parse_file(text, &origin);
            warnings.extend(w);
            for (layer, entries) in user_layers {
                let bindings = layers.entry(layer.clone()).or_default();
                // First drop what the user rebinds, then add theirs, so several keys for one
                // action in the user file all survive.
                for (_, b) in &entries {
                    bindings.retain(|x| x.action != b.action && x.keys != b.keys);
                }
                for (_, b) in entries {
                    if b.action.name != "none" {
                        bindings.push(b);
                    }
                }
            }
        }
        // Validate against the actions the app and panes accept.
        for (layer, bindings) in &mut layers {
            if !known.has_layer(layer) {
                warnings.push(format!(
                    "keymap {name}: unknown section [{layer}] (its keys are ignored)"
                ));
                bindings.clear();
                continue;
            }
            bindings.retain(|b| {
                if known.accepts(layer, &b.action.name) {
                    return true;
                }
                let hint = known
                    .suggestion(layer, &b.action.name)
                    .map(|s| format!(", did you mean {s:?}?"))
                    .unwrap_or_default();
                warnings.push(format!(
                    "keymap {name}: [{layer}] {} runs unknown action {:?}{hint}",
                    display_seq(&b.keys),
                    b.action.name
                ));
                false
            });
            let mut seen: std::collections::HashMap<KeySeq, String> =
                std::collections::HashMap::new();
            for b in bindings.iter() {
                if let Some(prev) = seen.insert(b.keys.clone(), b.action.name.clone())
                    && prev != b.action.name
                {
                    warnings.push(format!(
                        "keymap {name}: [{layer}] {} is bound to both {prev:?} and {:?}; the \
                         first wins",
                        display_seq(&b.keys),
                        b.action.name
                    ));
                }
            }
        }
        layers.retain(|_, b| !b.is_empty());
        Self {
            name: name.to_string(),
            layers,
            warnings,
        }
    }

    /// Looks a key sequence up in `layers`, most specific first.
    #[must_use]
    pub fn lookup(&self, layers: &[&str], seq: &[KeyPress]) -> Lookup {
        for layer in layers {
            let Some(bindings) = self.layers.get(*layer) else {
                continue;
            };
            if let Some(b) = bindings.iter().find(|b| b.keys == seq) {
                return Lookup::Action(b.action.clone());
            }
            if bindings
                .iter()
                .any(|b| b.keys.len() > seq.len() && b.keys.starts_with(seq))
            {
                return Lookup::Pending;
            }
        }
        Lookup::Unbound
    }

    /// Bindings of one layer, in file order.
    #[must_use]
    pub fn bindings(&self, layer: &str) -> &[Binding] {
        self.layers.get(layer).map_or(&[], Vec::as_slice)
    }

    /// The keys bound to an action in a layer, for hints ("p", "P").
    #[must_use]
    pub fn keys_for(&self, layer: &str, action: &str) -> Vec<String> {
        self.bindings(layer)
            .iter()
            .filter(|b| b.action.name == action && b.action.args.is_empty())
            .map(|b| display_seq(&b.keys))
            .collect()
    }

    /// Help rows for the given layers: (layer, keys, description), one row per action.
    #[must_use]
    pub fn help_rows(&self, layers: &[&str]) -> Vec<(String, String, String)> {
        let mut rows = Vec::new();
        for layer in layers {
            let mut by_action: Vec<(ActionCall, Vec<String>, String)> = Vec::new();
            for b in self.bindings(layer) {
                if let Some(row) = by_action.iter_mut().find(|r| r.0 == b.action) {
                    row.1.push(display_seq(&b.keys));
                    if row.2.is_empty() {
                        row.2.clone_from(&b.desc);
                    }
                } else {
                    by_action.push((b.action.clone(), vec![display_seq(&b.keys)], b.desc.clone()));
                }
            }
            for (action, keys, desc) in by_action {
                let desc = if desc.is_empty() {
                    action.name.clone()
                } else {
                    desc
                };
                rows.push(((*layer).to_string(), keys.join(" "), desc));
            }
        }
        rows
    }
}

/// Levenshtein distance, for "did you mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    fn known() -> KnownActions {
        let mut k = KnownActions::default();
        k.add("global", ["quit", "help"]);
        k.add("table", ["up", "down", "top"]);
        k.add("rollouts", ["promote", "abort"]);
        k
    }

    fn key(c: char) -> KeyPress {
        KeyPress::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    const BASE: &str = r#"
global = [
  { on = ["q", "ctrl-c"], run = "quit", desc = "Quit" },
  { on = "?", run = "help", desc = "Help" },
]
table = [ { on = "g g", run = "top", desc = "Top" }, { on = "j", run = "down" } ]
rollouts = [ { on = "p", run = "promote", desc = "Promote" } ]
"#;

    #[test]
    fn lookup_walks_layers_and_sequences() {
        let km = Keymap::from_texts("t", BASE, None, &known());
        assert!(km.warnings.is_empty(), "{:?}", km.warnings);
        let layers = ["rollouts", "table", "global"];
        assert_eq!(
            km.lookup(&layers, &[key('p')]),
            Lookup::Action(ActionCall::named("promote"))
        );
        assert_eq!(km.lookup(&layers, &[key('g')]), Lookup::Pending);
        assert_eq!(
            km.lookup(&layers, &[key('g'), key('g')]),
            Lookup::Action(ActionCall::named("top"))
        );
        assert_eq!(km.lookup(&layers, &[key('z')]), Lookup::Unbound);
        assert_eq!(
            km.lookup(&["table", "global"], &[key('p')]),
            Lookup::Unbound
        );
    }

    #[test]
    fn user_file_overrides_only_what_it_names() {
        let user = r#"rollouts = [ { on = "x", run = "promote", desc = "Go" } ]
global = [ { on = "?", run = "none" } ]"#;
        let km = Keymap::from_texts("t", BASE, Some((user, "user.toml".into())), &known());
        let layers = ["rollouts", "table", "global"];
        assert_eq!(km.lookup(&layers, &[key('p')]), Lookup::Unbound);
        assert_eq!(
            km.lookup(&layers, &[key('x')]),
            Lookup::Action(ActionCall::named("promote"))
        );
        assert_eq!(km.lookup(&layers, &[key('?')]), Lookup::Unbound);
        // Untouched bindings survive.
        assert_eq!(
            km.lookup(&layers, &[key('q')]),
            Lookup::Action(ActionCall::named("quit"))
        );
    }

    #[test]
    fn problems_become_warnings() {
        let user = r#"rollouts = [
  { on = "x", run = "promot" },
  { on = "hyper-y", run = "abort" },
  { run = "abort" },
]
nonsense = [ { on = "k", run = "up" } ]"#;
        let km = Keymap::from_texts("t", BASE, Some((user, "user.toml".into())), &known());
        let all = km.warnings.join("\n");
        assert!(
            all.contains("unknown action \"promot\", did you mean \"promote\"?"),
            "{all}"
        );
        assert!(all.contains("unknown modifier \"hyper\""), "{all}");
        assert!(all.contains("missing field `on`"), "{all}");
        assert!(all.contains("unknown section [nonsense]"), "{all}");
        // A broken file is a warning too, and the shipped bindings stay.
        let km = Keymap::from_texts("t", BASE, Some(("rollouts = [", "u".into())), &known());
        assert_eq!(km.warnings.len(), 1);
        assert!(km.warnings[0].contains("file ignored"));
        assert!(!km.bindings("rollouts").is_empty());
    }

    #[test]
    fn help_groups_keys_per_action() {
        let km = Keymap::from_texts("t", BASE, None, &known());
        let rows = km.help_rows(&["global"]);
        assert_eq!(rows[0], ("global".into(), "q ctrl-c".into(), "Quit".into()));
    }
}
