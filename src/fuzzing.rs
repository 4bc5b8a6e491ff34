//! Entry points for fuzzing: each takes arbitrary bytes and drives one of kdeck's input
//! paths the way real input would arrive (objects from a watch, Prometheus answers,
//! kubeconfig files, config/keymap/theme files, the `:` command line, text in a table). The
//! cargo-fuzz targets in `fuzz/` call these, and `cargo test` replays the seed corpus in
//! `fuzz/corpus/` through them, so a crash found once stays fixed. None may panic.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::DateTime;
use kube::core::DeserializeGuard;
use ratatui::backend::TestBackend;
use ratatui::widgets::Block;
use ratatui::{Frame, Terminal};

use crate::app::{App, AppSettings, known_actions};
use crate::clock::Clock;
use crate::config::Config;
use crate::keymap::Keymap;
use crate::panes::{Scope, registry};
use crate::source::Notifier;
use crate::theme::Theme;
use crate::widgets::table::{self, Cell, Column, TableRow, TableState};
use crate::world::World;

fn parse<K: crate::source::Watched>(data: &[u8]) -> Option<K> {
    match serde_json::from_slice::<DeserializeGuard<K>>(data) {
        Ok(DeserializeGuard(Ok(o))) => Some(o),
        _ => None,
    }
}

/// An object of each kind kdeck watches, as a watch would deliver it, through the code that
/// builds rows and detail views from it.
pub fn decode_object(data: &[u8]) {
    use crate::k8s::apps::{Deployment, ReplicaSet};
    use crate::k8s::core::{Event, Namespace, Node};
    use crate::k8s::pod::Pod;
    use crate::k8s::rollout::{AnalysisRun, AnalysisTemplate, Rollout};
    use crate::panes::rollouts::{detail, model};
    let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
    if let Some(ro) = parse::<Rollout>(data) {
        let row = model::rollout_row("c", &ro, &[], &[], now);
        let _ = crate::panes::rollouts::view::table_row(&row, "k".into(), "c");
        let _ = detail::rollout_detail(&detail::DetailInputs {
            cluster: "c",
            rollout: &ro,
            deployments: &[],
            replica_sets: &[],
            pods: &[],
            analysis_runs: &[],
            templates: &[],
            cluster_templates: &[],
            events: &[],
            now,
        });
        for act in crate::panes::rollouts::actions::RolloutAction::ALL {
            let _ = crate::panes::rollouts::actions::check(act, &ro);
        }
    }
    if let Some(d) = parse::<Deployment>(data) {
        let _ = model::deployment_row("c", &d, &[], now);
        let _ = detail::deployment_detail("c", &d, &[], &[], &[], now);
    }
    if let Some(rs) = parse::<ReplicaSet>(data) {
        let _ = detail::replica_set_health(&rs);
    }
    if let Some(run) = parse::<AnalysisRun>(data) {
        let _ = model::summarize_run(&run);
        let _ = detail::analysis_run_detail(&run);
    }
    if let Some(p) = parse::<Pod>(data) {
        let _ = detail::pod_line(&p, now);
        let _ = crate::panes::clusters::pods::not_ready_reason(&p);
    }
    if let Some(n) = parse::<Node>(data) {
        let _ = n.not_ready_reason();
    }
    if let Some(e) = parse::<Event>(data) {
        let _ = crate::panes::kit::EventLine::of(&e);
    }
    let _ = parse::<Namespace>(data);
    let _ = parse::<AnalysisTemplate>(data);
}

/// An HTTP answer from Prometheus: the first byte picks the status code, the rest is the body.
pub fn prometheus_answer(data: &[u8]) {
    let (status, body) = match data.split_first() {
        Some((s, rest)) => (200 + u16::from(*s % 4) * 100 + u16::from(*s % 7), rest),
        None => (200, data),
    };
    if let Ok(v) = crate::source::prometheus::interpret(status, body) {
        let _ = crate::source::prometheus::parse_data(&v);
    }
}

/// A kubeconfig file.
pub fn kubeconfig(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(kc) = kube::config::Kubeconfig::from_yaml(text) {
        let _ = crate::cluster::kubeconfig::select(&kc, &[], true);
        let _ = crate::cluster::kubeconfig::select(&kc, &[], false);
    }
}

/// A config, keymap and theme file (the same text read as each).
pub fn config_files(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Config::parse(text, "fuzz");
    KNOWN.with(|(known, base)| {
        let _ = Keymap::over_base("fuzz", base.clone(), Some((text, "fuzz".into())), known);
    });
    let _ = Theme::parse_over(None, text, "fuzz");
}

fn new_app() -> App {
    {
        let panes = registry();
        let keymap = Keymap::from_texts(
            "default",
            crate::keymap::BUILTIN[0].1,
            None,
            &known_actions(&panes),
        );
        App::new(
            Arc::new(World::new(Notifier::new())),
            panes,
            keymap,
            Theme::no_color(),
            Config::default(),
            Clock::Fixed(DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()),
            None,
            AppSettings::default(),
            Scope::default(),
        )
    }
}

thread_local! {
    // Building the app costs more than one input: keep one per thread.
    static APP: RefCell<Option<App>> = const { RefCell::new(None) };
    // What does not depend on the input is built once: the actions every pane offers and
    // the shipped keymap that user files are merged over.
    static KNOWN: (crate::keymap::KnownActions, crate::keymap::Base) = (
        known_actions(&registry()),
        crate::keymap::Base::parse(crate::keymap::BUILTIN[0].1, "default"),
    );
    // One terminal per size, reused: allocating and diffing buffers cost more than the
    // drawing under test.
    static TERMINALS: RefCell<HashMap<(u16, u16), Terminal<TestBackend>>> =
        RefCell::new(HashMap::new());
}

/// Draws one frame at the given size and checks what would reach the screen: the frame's
/// cells, which are what the terminal is sent. Nothing unsafe may be among them.
fn draw_checked(width: u16, height: u16, render: impl FnOnce(&mut Frame)) {
    TERMINALS.with(|cell| {
        let mut terminals = cell.borrow_mut();
        let term = terminals.entry((width, height)).or_insert_with(|| {
            match Terminal::new(TestBackend::new(width, height)) {
                Ok(t) => t,
                Err(never) => match never {},
            }
        });
        term.current_buffer_mut().reset();
        render(&mut term.get_frame());
        let clean = term
            .current_buffer_mut()
            .content
            .iter()
            .all(|c| !c.symbol().chars().any(crate::widgets::text::is_unsafe));
        assert!(clean, "an unsafe character reached the screen");
    });
}

/// A line typed on the `:` command line (and completed), then a frame drawn.
pub fn command_line(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    APP.with(|cell| {
        let mut slot = cell.borrow_mut();
        let app = slot.get_or_insert_with(new_app);
        for line in text.split('\n').take(8) {
            let _ = app.completions();
            app.run_command(line);
            app.mode = crate::app::Mode::Normal;
            app.quit = false;
        }
        app.update_models();
        draw_checked(80, 24, |f| app.render(f));
    });
}

/// Text in a table: rows of arbitrary cells, drawn at a width the data picks; nothing unsafe
/// reaches the screen and nothing panics.
pub fn table_layout(data: &[u8]) {
    let (width, rest) = match data.split_first() {
        Some((w, rest)) => (u16::from(*w % 120) + 1, rest),
        None => (40, data),
    };
    let text = String::from_utf8_lossy(rest);
    let rows: Vec<TableRow> = text
        .split('\n')
        .take(40)
        .enumerate()
        .map(|(i, line)| {
            TableRow::new(
                format!("{i}"),
                line.split('\t').take(6).map(Cell::plain).collect(),
            )
        })
        .collect();
    let columns = [
        Column::new("A", 3, 30, 0),
        Column::new("B", 2, 12, 2),
        Column::new("C", 4, 20, 1),
        Column::new("D", 1, 8, 3),
        Column::new("E", 5, 60, 1),
    ];
    let mut state = TableState::default();
    state.filter = text.chars().take(3).collect();
    state.sync(&rows);
    state.filter.clear();
    state.sync(&rows);
    state.apply(&rows, "bottom");
    let theme = Theme::no_color();
    draw_checked(width, 12, |f| {
        table::render(
            f,
            f.area(),
            Block::default(),
            &columns,
            &rows,
            &state,
            &theme,
            true,
            "",
            None,
        );
        crate::widgets::text::scrub(f.buffer_mut());
    });
}
