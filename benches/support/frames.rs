//! Shared by the pane benchmarks: one cluster's objects in an `App` as kdeck builds it, drawn
//! into a test terminal, and each frame case timed the same way (update, then draw).

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use kdeck::app::{App, AppSettings, known_actions};
use kdeck::clock::Clock;
use kdeck::cluster::ClusterHandle;
use kdeck::config::Config;
use kdeck::keymap::Keymap;
use kdeck::panes::{Scope, registry};
use kdeck::source::Notifier;
use kdeck::theme::Theme;
use kdeck::world::World;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::common::summary;

/// What a case does before its timed frame, given the app and the round.
pub type Step<'a> = Box<dyn FnMut(&mut App, usize) + 'a>;

/// A case's step (a function, so closures get the argument types without annotations).
pub fn step<'a>(f: impl FnMut(&mut App, usize) + 'a) -> Step<'a> {
    Box::new(f)
}

pub struct Frames {
    pub app: App,
    pub term: Terminal<TestBackend>,
    /// The fixed clock's start: a case moves it to make only ages change.
    pub start: DateTime<Utc>,
}

impl Frames {
    /// `pane` focused over `handle`'s stores, at 120x40, with a first frame drawn.
    pub fn new(handle: Arc<ClusterHandle>, pane: &str) -> Self {
        let world = Arc::new(World::new(Notifier::new()));
        world.add(handle);
        let panes = registry();
        let keymap = Keymap::from_texts(
            "default",
            kdeck::keymap::BUILTIN[0].1,
            None,
            &known_actions(&panes),
        );
        let start = Utc::now();
        let mut app = App::new(
            world,
            panes,
            keymap,
            Theme::builtin("default").unwrap(),
            Config::default(),
            Clock::Fixed(start),
            None,
            AppSettings::default(),
            Scope {
                all_clusters: true,
                ..Scope::default()
            },
        );
        assert!(app.focus_pane(pane), "no pane {pane}");
        let mut f = Self {
            app,
            term: Terminal::new(TestBackend::new(120, 40)).unwrap(),
            start,
        };
        f.frame();
        f
    }

    /// One frame as the UI makes it: the models catch up with the stores, then the draw.
    pub fn frame(&mut self) -> Duration {
        let t = Instant::now();
        self.app.update_models();
        let app = &self.app;
        self.term.draw(|f| app.render(f)).unwrap();
        t.elapsed()
    }

    /// A case that only moves the clock a second on: only ages change.
    pub fn a_second_later(start: DateTime<Utc>) -> Step<'static> {
        Box::new(move |app, round| {
            app.clock = Clock::Fixed(start + chrono::Duration::seconds(round as i64 + 1));
        })
    }

    /// A case that changes nothing: the cost of a frame that recomputes nothing.
    pub fn nothing() -> Step<'static> {
        Box::new(|_, _| {})
    }

    /// Runs every case once a round for `rounds` rounds, each followed by a timed frame, and
    /// prints median, p95 and max per case; the screen must then contain `expect`.
    pub fn time(&mut self, what: &str, rounds: usize, expect: &str, cases: Vec<(&str, Step<'_>)>) {
        let mut cases = cases;
        let mut samples = vec![Vec::with_capacity(rounds); cases.len()];
        for round in 0..rounds {
            for (i, (_, step)) in cases.iter_mut().enumerate() {
                step(&mut self.app, round);
                samples[i].push(self.frame());
            }
        }
        let screen = self.term.backend().to_string();
        assert!(screen.contains(expect), "{screen}");
        let width = cases.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        for ((label, _), s) in cases.iter().zip(samples) {
            let (m, p95, max) = summary(s);
            println!("{what}, {label:<width$}: median {m:.2} ms, p95 {p95:.2} ms, max {max:.2} ms");
        }
    }
}

/// A reachable cluster with nothing discovered and no client: the benchmark fills its stores.
pub fn test_cluster(server: &str) -> Arc<ClusterHandle> {
    use kdeck::cluster::{ClusterInfo, Discovery, PromReach, Reach};
    let handle = ClusterHandle::new(
        "bench",
        ClusterInfo {
            server: server.into(),
            user: "bench".into(),
            version: Some("v1.32.4".into()),
            reach: Reach::Reachable {
                latency: Duration::from_millis(3),
                since: Utc::now(),
            },
            prometheus: PromReach::Unknown,
            readonly: false,
        },
        None,
        None,
        Notifier::new(),
        tokio_util::sync::CancellationToken::new(),
    );
    handle.set_discovery(Discovery::default());
    handle
}
