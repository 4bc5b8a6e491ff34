//! Keys in: what each key press does in each mode (help, command line, filter, a pane's
//! question, the confirm dialog, or the focused pane's layers).

use std::time::{Duration, Instant};

use crossterm::event::KeyEvent;

use super::{App, Mode};
use crate::keymap::{KeyPress, Lookup};
use crate::theme::Role;
use crate::widgets::input::InputOutcome;

impl App {
    /// Handles one key press.
    pub fn on_key(&mut self, key: &KeyEvent) {
        self.dirty = true;
        let candidates = if matches!(self.mode, Mode::Command(_)) {
            self.completions()
        } else {
            Vec::new()
        };
        match &mut self.mode {
            Mode::Normal => {}
            Mode::Help { scroll } => {
                let press = KeyPress::from_event(key);
                match self.keymap.lookup(&["table", "global"], &[press]) {
                    Lookup::Action(a) if a.name == "down" => *scroll += 1,
                    Lookup::Action(a) if a.name == "up" => *scroll = scroll.saturating_sub(1),
                    _ => self.mode = Mode::Normal,
                }
                return;
            }
            Mode::Command(input) => {
                let outcome = input.key(key, &|text| {
                    candidates
                        .iter()
                        .filter(|c| c.starts_with(text))
                        .cloned()
                        .collect()
                });
                match outcome {
                    InputOutcome::Submit(line) => {
                        self.mode = Mode::Normal;
                        self.run_command(&line);
                    }
                    InputOutcome::Cancel => self.mode = Mode::Normal,
                    InputOutcome::Edited | InputOutcome::Ignored => {}
                }
                return;
            }
            Mode::Prompt(input, prompt) => {
                let outcome = input.key(key, &|_| Vec::new());
                let prompt = prompt.clone();
                match outcome {
                    InputOutcome::Submit(line) => {
                        self.mode = Mode::Normal;
                        let mut call = prompt.action.clone();
                        call.args
                            .extend(line.split_whitespace().map(str::to_string));
                        self.dispatch(&call);
                    }
                    InputOutcome::Cancel => {
                        self.mode = Mode::Normal;
                        self.toast(
                            "cancelled; nothing was sent",
                            Role::Muted,
                            Duration::from_secs(4),
                        );
                    }
                    InputOutcome::Edited | InputOutcome::Ignored => {}
                }
                return;
            }
            Mode::Filter(input, previous) => {
                let previous = previous.clone();
                let outcome = input.key(key, &|_| Vec::new());
                let text = input.text.clone();
                match outcome {
                    InputOutcome::Submit(_) => self.mode = Mode::Normal,
                    InputOutcome::Cancel => {
                        self.panes[self.focus].set_filter(&previous);
                        self.mode = Mode::Normal;
                    }
                    InputOutcome::Edited | InputOutcome::Ignored => {
                        self.panes[self.focus].set_filter(&text);
                    }
                }
                return;
            }
            Mode::Confirm(c) => {
                if Instant::now() < c.armed_at {
                    return;
                }
                let press = KeyPress::from_event(key);
                if let Lookup::Action(a) = self.keymap.lookup(&["dialog"], &[press]) {
                    match a.name.as_str() {
                        "confirm" => self.confirm(),
                        "cancel" => {
                            self.mode = Mode::Normal;
                            self.toast(
                                "cancelled; nothing was sent",
                                Role::Muted,
                                Duration::from_secs(4),
                            );
                        }
                        _ => {}
                    }
                }
                return;
            }
        }
        self.pending.push(KeyPress::from_event(key));
        let layers = self.layers();
        match self.keymap.lookup(&layers, &self.pending) {
            Lookup::Action(action) => {
                self.pending.clear();
                self.dispatch(&action);
            }
            Lookup::Pending => {}
            Lookup::Unbound => self.pending.clear(),
        }
    }
}
