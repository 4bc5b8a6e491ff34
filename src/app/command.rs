//! The `:` command line: completions for the whole line, and running what was typed (`:ctx`,
//! `:ns`, `:pane`, `:q`, or any action by name with its arguments).

use std::time::Duration;

use super::{App, COMMANDS, GLOBAL_ACTIONS, Mode, TABLE_ACTIONS};
use crate::k8s::core::Namespace;
use crate::keymap::ActionCall;
use crate::theme::Role;

impl App {
    fn namespaces(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .world
            .clusters()
            .iter()
            .flat_map(|c| c.sources.objects::<Namespace>())
            .filter_map(|n| n.0.as_ref().ok().and_then(|n| n.metadata.name.clone()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Command-line completions for the whole line.
    #[must_use]
    pub fn completions(&self) -> Vec<String> {
        let mut out: Vec<String> = COMMANDS.iter().map(|c| (*c).to_string()).collect();
        for c in self.world.clusters() {
            out.push(format!("ctx {}", c.context));
        }
        out.push("ns all".into());
        for ns in self.namespaces() {
            out.push(format!("ns {ns}"));
        }
        for p in &self.panes {
            out.push(format!("pane {}", p.id()));
        }
        for (_, actions) in self.focused_pane().layers() {
            out.extend(actions.iter().map(|a| (*a).to_string()));
        }
        out.extend(GLOBAL_ACTIONS.iter().map(|a| (*a).to_string()));
        out.sort();
        out.dedup();
        out
    }

    /// Runs a `:` command line.
    pub fn run_command(&mut self, line: &str) {
        let mut words = line.split_whitespace();
        let Some(cmd) = words.next() else {
            return;
        };
        let args: Vec<String> = words.map(str::to_string).collect();
        let arg = args.first().cloned().unwrap_or_default();
        match cmd {
            "q" | "quit" | "q!" | "exit" => self.quit = true,
            "help" => self.mode = Mode::Help { scroll: 0 },
            "ctx" | "context" => {
                if arg.is_empty() || arg == "all" {
                    self.scope.all_clusters = true;
                    self.toast("showing all clusters", Role::Text, Duration::from_secs(4));
                } else {
                    self.focus_cluster(&arg);
                }
            }
            "ns" | "namespace" => {
                self.scope.namespace = match arg.as_str() {
                    "" | "all" | "-A" | "*" => None,
                    ns => Some(ns.to_string()),
                };
                let text = match &self.scope.namespace {
                    Some(ns) => format!("namespace {ns}"),
                    None => "all namespaces".into(),
                };
                self.toast(text, Role::Text, Duration::from_secs(4));
            }
            "pane" => {
                let call = ActionCall {
                    name: "goto-pane".into(),
                    args: vec![arg],
                };
                self.global_action(&call);
            }
            name => {
                let known = self
                    .focused_pane()
                    .layers()
                    .iter()
                    .any(|(_, actions)| actions.contains(&name))
                    || GLOBAL_ACTIONS.contains(&name)
                    || TABLE_ACTIONS.contains(&name);
                if known {
                    self.dispatch(&ActionCall {
                        name: name.to_string(),
                        args,
                    });
                } else {
                    self.toast(
                        format!("unknown command {name:?} (tab completes; :help lists keys)"),
                        Role::Warn,
                        Duration::from_secs(6),
                    );
                }
            }
        }
    }
}
