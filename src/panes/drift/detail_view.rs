//! Drawing the Drift detail view: a summary (sync, health, source, destination, revisions,
//! sync window verdict, where the app belongs), then the out-of-sync resources, the last
//! operation with its results, the history to roll back to, conditions, the project's sync
//! windows, the ApplicationSet, and the object's events; one scrolling page.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::detail::{AppDetail, DriftDetail, FluxDetail};
use super::model::{DriftRow, short_revision};
use super::view::{health_style, phase_style, sync_style};
use super::windows::Verdict;
use crate::clock::{Clock, short_duration};
use crate::k8s::apps::Condition;
use crate::panes::kit::{DrawCx, event_lines};
use crate::theme::{Role, Theme};

struct Page<'t> {
    lines: Vec<Line<'static>>,
    theme: &'t Theme,
    clock: Clock,
}

impl Page<'_> {
    fn style(&self, role: Role) -> ratatui::style::Style {
        self.theme.style(role)
    }

    /// `label     value` with the value in `role`.
    fn field(&mut self, label: &str, spans: Vec<Span<'static>>) {
        let mut line = vec![Span::styled(
            format!("{label:<10}"),
            self.style(Role::Muted),
        )];
        line.extend(spans);
        self.lines.push(Line::from(line));
    }

    fn text(&self, text: impl Into<String>, role: Role) -> Span<'static> {
        Span::styled(text.into(), self.style(role))
    }

    fn header(&mut self, text: impl Into<String>) {
        self.lines.push(Line::default());
        self.lines.push(Line::from(Span::styled(
            text.into(),
            self.style(Role::Header),
        )));
    }

    fn ago(&self, t: Option<DateTime<Utc>>) -> String {
        t.map_or_else(
            || "?".into(),
            |t| {
                format!(
                    "{} ago",
                    short_duration((self.clock.now() - t).num_seconds())
                )
            },
        )
    }

    fn at(&self, t: Option<DateTime<Utc>>) -> String {
        t.map_or_else(|| "?".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
    }

    fn status(&self, text: &str, style: (&'static str, Role)) -> Span<'static> {
        if text.is_empty() {
            return self.text("—", Role::Muted);
        }
        self.text(format!("{} {text}", style.0), style.1)
    }

    fn conditions(&mut self, conditions: &[Condition]) {
        if conditions.is_empty() {
            return;
        }
        self.header(format!("Conditions ({})", conditions.len()));
        for c in conditions {
            let role = if c.type_.ends_with("Error") || c.status == "False" && c.type_ == "Ready" {
                Role::Crit
            } else if c.type_.ends_with("Warning") {
                Role::Warn
            } else {
                Role::Text
            };
            let mut spans = vec![self.text(format!(" {:<22}", c.type_), role)];
            if !c.status.is_empty() {
                spans.push(self.text(format!("{:<8}", c.status), Role::Text));
            }
            if let Some(r) = &c.reason {
                spans.push(self.text(format!("{r} "), Role::Muted));
            }
            spans.push(self.text(c.message.clone().unwrap_or_default(), Role::Text));
            spans.push(self.text(
                format!("  {}", self.ago(c.last_transition_time)),
                Role::Muted,
            ));
            self.lines.push(Line::from(spans));
        }
    }
}

fn summary(p: &mut Page<'_>, r: &DriftRow) {
    let mut sync = vec![p.status(&r.sync, sync_style(&r.sync))];
    if !r.kind.is_flux() {
        sync.push(p.text(
            format!(
                "  {} of {} resources out of sync",
                r.out_of_sync, r.resources
            ),
            Role::Text,
        ));
    }
    if let Some(req) = &r.requested {
        sync.push(p.text(
            if r.kind.is_flux() {
                format!("  reconcile requested ({req})")
            } else {
                format!("  {req} refresh requested")
            },
            Role::Accent,
        ));
    }
    p.field("Sync", sync);
    let mut health = vec![p.status(&r.health, health_style(&r.health))];
    if !r.health_message.is_empty() {
        health.push(p.text(format!("  {}", r.health_message), Role::Text));
    }
    p.field("Health", health);
    if let Some(problem) = &r.problem {
        let s = p.text(problem.clone(), Role::Crit);
        p.field("Problem", vec![s]);
    }
}

fn app_page(p: &mut Page<'_>, d: &AppDetail) {
    let r = &d.row;
    summary(p, r);
    for (i, s) in d.sources.iter().enumerate() {
        let what = if s.chart.is_empty() {
            &s.path
        } else {
            &s.chart
        };
        let rev = if s.target_revision.is_empty() {
            "HEAD"
        } else {
            &s.target_revision
        };
        let mut text = format!("{} {what} @ {rev}", s.repo_url);
        if i == 0 && !d.source_type.is_empty() {
            text.push_str(&format!(" ({})", d.source_type));
        }
        let span = p.text(text, Role::Text);
        p.field(if i == 0 { "Source" } else { "" }, vec![span]);
    }
    let dest = p.text(r.dest.text(), Role::Text);
    p.field("Dest", vec![dest]);
    let auto = match r.auto {
        None => "manual sync".to_string(),
        Some(a) => format!(
            "automated sync, prune {}, self-heal {}",
            if a.prune { "on" } else { "off" },
            if a.self_heal { "on" } else { "off" }
        ),
    };
    let spans = vec![
        p.text(
            format!(
                "deployed {} · target {}",
                if r.deployed.is_empty() {
                    "—".into()
                } else {
                    short_revision(&r.deployed)
                },
                if r.target.is_empty() {
                    "—".into()
                } else {
                    short_revision(&r.target)
                },
            ),
            Role::Text,
        ),
        p.text(
            format!("  reconciled {}", p.ago(d.reconciled_at)),
            Role::Muted,
        ),
    ];
    p.field("Revision", spans);
    let policy = vec![p.text(auto, Role::Text)];
    p.field("Policy", policy);
    let (project, found) = &d.project;
    let mut proj = vec![p.text(project.clone(), Role::Text)];
    if !found {
        proj.push(p.text("  (not in the store: sync windows unknown)", Role::Muted));
    }
    match &d.windows {
        None if *found => proj.push(p.text("  no sync windows: syncs allowed", Role::Muted)),
        None => {}
        Some(w) => {
            let (auto, manual) = (&w.automated, &w.manual);
            let say = |v: &Verdict| match v {
                Verdict::Allowed => ("allowed".to_string(), Role::Ok),
                Verdict::Denied(why) => (format!("✖ {why}"), Role::Crit),
                Verdict::Unknown(why) => (format!("? {why}"), Role::Warn),
            };
            let (a, ar) = say(auto);
            if auto == manual {
                proj.push(p.text(format!("  sync now: {a}"), ar));
            } else {
                let (m, mr) = say(manual);
                proj.push(p.text(format!("  sync now: automated {a}"), ar));
                proj.push(p.text(format!(", manual {m}"), mr));
            }
        }
    }
    p.field("Project", proj);
    let mut belongs = Vec::new();
    if !d.parents.is_empty() {
        belongs.push(p.text(format!("child of {}", d.parents.join(", ")), Role::Text));
    }
    if let Some(set) = &d.app_set {
        let sep = if belongs.is_empty() { "" } else { " · " };
        belongs.push(p.text(
            format!("{sep}generated by ApplicationSet {}", set.name),
            Role::Text,
        ));
    }
    if !d.children.is_empty() {
        let sep = if belongs.is_empty() { "" } else { " · " };
        belongs.push(p.text(format!("{sep}app of {} apps", d.children.len()), Role::Text));
    }
    if !belongs.is_empty() {
        p.field("Belongs", belongs);
    }

    p.header(format!(
        "Out of sync or not healthy ({} of {})",
        d.resources.len(),
        r.resources
    ));
    if d.resources.is_empty() {
        let line = Line::from(p.text(
            " none: everything tracked is synced and healthy",
            Role::Muted,
        ));
        p.lines.push(line);
    }
    for res in &d.resources {
        let gk = if res.group.is_empty() {
            res.kind.clone()
        } else {
            format!("{}/{}", res.group, res.kind)
        };
        let nn = if res.namespace.is_empty() {
            res.name.clone()
        } else {
            format!("{}/{}", res.namespace, res.name)
        };
        let health = res
            .health
            .as_ref()
            .map(|h| h.status.clone())
            .unwrap_or_default();
        let mut flags = Vec::new();
        if res.requires_pruning {
            flags.push("prune".to_string());
        }
        if res.hook {
            flags.push("hook".into());
        }
        if let Some(w) = res.sync_wave.filter(|w| *w != 0) {
            flags.push(format!("wave {w}"));
        }
        let spans = vec![
            p.text(format!(" {gk:<28} {nn:<34} "), Role::Text),
            p.status(&res.status, sync_style(&res.status)),
            p.text("  ", Role::Text),
            p.status(&health, health_style(&health)),
            p.text(format!("  {}", flags.join(" ")), Role::Muted),
        ];
        p.lines.push(Line::from(spans));
        if let Some(m) = res
            .health
            .as_ref()
            .map(|h| &h.message)
            .filter(|m| !m.is_empty())
        {
            let line = Line::from(p.text(format!("   {m}"), Role::Muted));
            p.lines.push(line);
        }
    }

    if let Some(op) = &d.operation {
        let failed = matches!(op.phase.as_str(), "Failed" | "Error")
            || (op.in_progress() && op.retry_count > 0);
        let (sym, role) = phase_style(&op.phase, failed);
        p.header("Last operation");
        let by = op.initiated_by();
        let mut spans = vec![p.text(format!(" {sym} {}", op.phase), role)];
        spans.push(p.text(
            format!(
                "  started {} ({}){}{}",
                p.at(op.started_at),
                p.ago(op.started_at),
                if op.finished_at.is_some() {
                    format!(", finished {}", p.ago(op.finished_at))
                } else {
                    String::new()
                },
                if by.is_empty() {
                    String::new()
                } else {
                    format!(", by {by}")
                },
            ),
            Role::Muted,
        ));
        if op.retry_count > 0 {
            spans.push(p.text(format!(", retry {}", op.retry_count), Role::Warn));
        }
        p.lines.push(Line::from(spans));
        if !op.message.is_empty() {
            let line = Line::from(p.text(format!(" {}", op.message), role));
            p.lines.push(line);
        }
        if let Some(res) = &op.sync_result {
            if !res.revision.is_empty() {
                let line = Line::from(p.text(
                    format!(" revision {}", short_revision(&res.revision)),
                    Role::Muted,
                ));
                p.lines.push(line);
            }
            for x in &res.resources {
                let what = if x.hook_type.is_empty() {
                    x.sync_phase.clone()
                } else {
                    format!("{} hook", x.hook_type)
                };
                let role = if x.failed() { Role::Crit } else { Role::Text };
                let state = if x.hook_phase.is_empty() || x.hook_type.is_empty() {
                    x.status.clone()
                } else {
                    x.hook_phase.clone()
                };
                let nn = if x.namespace.is_empty() {
                    x.name.clone()
                } else {
                    format!("{}/{}", x.namespace, x.name)
                };
                let line = Line::from(vec![
                    p.text(format!("  {what:<13} {:<12} {nn:<34} ", x.kind), Role::Text),
                    p.text(format!("{state:<10} "), role),
                    p.text(x.message.clone(), Role::Muted),
                ]);
                p.lines.push(line);
            }
        }
    }

    p.header(format!(
        "History ({}; newest first, u rolls back)",
        d.history.len()
    ));
    if d.history.is_empty() {
        let line = Line::from(p.text(" no deployments recorded", Role::Muted));
        p.lines.push(line);
    }
    for (i, h) in d.history.iter().enumerate() {
        let id = h.id.map_or_else(|| "-".into(), |i| i.to_string());
        let rev = if h.revision.is_empty() {
            h.revisions
                .iter()
                .map(|r| short_revision(r))
                .collect::<Vec<_>>()
                .join(",")
        } else {
            short_revision(&h.revision)
        };
        let by = h.initiated_by();
        let line = Line::from(vec![
            p.text(
                format!(" {id:>4}  {rev:<12} {}  ", p.at(h.deployed_at)),
                Role::Text,
            ),
            p.text(by, Role::Muted),
            p.text(
                if i == 0 {
                    "  (deployed)".to_string()
                } else {
                    String::new()
                },
                Role::Accent,
            ),
        ]);
        p.lines.push(line);
    }

    p.conditions(&d.conditions);

    if let Some(w) = &d.windows {
        p.header(format!("Sync windows of project {}", d.project.0));
        for s in &w.windows {
            let win = &s.window;
            let (state, role) = match (s.active, &s.problem) {
                (Some(true), _) => (
                    "open".to_string(),
                    if win.kind == "deny" {
                        Role::Crit
                    } else {
                        Role::Ok
                    },
                ),
                (Some(false), _) => ("closed".to_string(), Role::Muted),
                (None, Some(p)) => (format!("? {p}"), Role::Warn),
                (None, None) => ("?".to_string(), Role::Warn),
            };
            let change = s.change_at.map_or_else(String::new, |t| {
                format!(
                    " ({} at {})",
                    if s.active == Some(true) {
                        "closes"
                    } else {
                        "opens"
                    },
                    t.format("%Y-%m-%d %H:%M UTC")
                )
            });
            let tz = if win.time_zone.is_empty() {
                String::new()
            } else {
                format!(" {}", win.time_zone)
            };
            let line = Line::from(vec![
                p.text(
                    format!(" {:<5} '{}' {}{tz}  ", win.kind, win.schedule, win.duration),
                    Role::Text,
                ),
                p.text(format!("{state}{change}"), role),
                p.text(
                    format!(
                        "  manual sync {}{}",
                        if win.manual_sync {
                            "allowed"
                        } else {
                            "blocked"
                        },
                        if win.description.is_empty() {
                            String::new()
                        } else {
                            format!(" · {}", win.description)
                        }
                    ),
                    Role::Muted,
                ),
            ]);
            p.lines.push(line);
        }
    }

    if let Some(set) = &d.app_set {
        p.header(format!("ApplicationSet {}", set.name));
        if set.health.is_none() {
            let line = Line::from(p.text(" not in the store", Role::Muted));
            p.lines.push(line);
        }
        if let Some((h, msg)) = &set.health {
            let gens = if set.generators.is_empty() {
                "—".into()
            } else {
                set.generators.join(", ")
            };
            let strategy = if set.strategy.is_empty() {
                String::new()
            } else {
                format!(" · strategy {}", set.strategy)
            };
            let line = Line::from(vec![
                p.text(format!(" generators {gens}{strategy}  "), Role::Text),
                p.status(h, health_style(h)),
                p.text(format!("  {msg}"), Role::Muted),
            ]);
            p.lines.push(line);
        }
        let conds = set.conditions.clone();
        p.conditions(&conds);
    }

    if !d.children.is_empty() {
        p.header(format!("Child applications ({})", d.children.len()));
        for c in &d.children {
            let line = Line::from(vec![
                p.text(format!(" {:<30} ", c.name), Role::Text),
                p.status(&c.sync, sync_style(&c.sync)),
                p.text("  ", Role::Text),
                p.status(&c.health, health_style(&c.health)),
            ]);
            p.lines.push(line);
        }
    }
}

fn flux_page(p: &mut Page<'_>, d: &FluxDetail) {
    let r = &d.row;
    summary(p, r);
    let src = p.text(d.source.clone(), Role::Text);
    p.field(
        if r.kind.as_str() == "HelmRelease" {
            "Chart"
        } else {
            "Path"
        },
        vec![src],
    );
    let dest = p.text(r.dest.text(), Role::Text);
    p.field("Dest", vec![dest]);
    let rev = p.text(
        format!(
            "last applied {} · last attempted {}",
            if r.deployed.is_empty() {
                "—".into()
            } else {
                r.deployed.clone()
            },
            if r.target.is_empty() {
                "—".into()
            } else {
                r.target.clone()
            },
        ),
        if r.sync == "OutOfSync" {
            Role::Warn
        } else {
            Role::Text
        },
    );
    p.field("Revision", vec![rev]);
    let sus = p.text(
        if r.suspended {
            "suspended: Flux does not reconcile it".to_string()
        } else {
            "reconciled on its interval".to_string()
        },
        if r.suspended { Role::Warn } else { Role::Text },
    );
    p.field("Suspend", vec![sus]);
    if !d.last_handled.is_empty() {
        let s = p.text(d.last_handled.clone(), Role::Muted);
        p.field("Handled", vec![s]);
    }
    p.conditions(&d.conditions);
    if !d.helm_history.is_empty() {
        p.header("Helm releases (newest first)");
        for h in &d.helm_history {
            let line = Line::from(p.text(
                format!(
                    " v{:<4} {}@{}  {:<11} {}",
                    h.version.map_or_else(|| "?".into(), |v| v.to_string()),
                    h.chart_name,
                    h.chart_version,
                    h.status,
                    p.at(h.last_deployed)
                ),
                if h.status == "failed" {
                    Role::Crit
                } else {
                    Role::Text
                },
            ));
            p.lines.push(line);
        }
    }
}

/// Draws a detail.
pub fn render(d: &DriftDetail, frame: &mut Frame, area: Rect, cx: &DrawCx<'_>) {
    let mut p = Page {
        lines: Vec::new(),
        theme: cx.theme,
        clock: cx.clock,
    };
    match d {
        DriftDetail::App(a) => app_page(&mut p, a),
        DriftDetail::Flux(f) => flux_page(&mut p, f),
    }
    p.lines.push(Line::default());
    p.lines
        .extend(event_lines(cx.events, 12, cx.theme, cx.clock));
    frame.render_widget(
        Paragraph::new(p.lines)
            .wrap(Wrap { trim: false })
            .scroll((cx.scroll, 0)),
        area,
    );
}
