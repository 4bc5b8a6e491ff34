//! A kdeck client inside a benchmark: the real watches and panes (no terminal), drawing into
//! a TestBackend, exactly as the dashboard does minus the tty.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use kdeck::app::{App, AppSettings, known_actions};
use kdeck::cli::RunArgs;
use kdeck::clock::Clock;
use kdeck::config::Config;
use kdeck::keymap::Keymap;
use kdeck::panes::{Scope, registry};
use kdeck::run;
use kdeck::source::Notifier;
use kdeck::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio_util::sync::CancellationToken;

pub struct Client {
    pub app: App,
    pub notifier: Notifier,
    pub term: Terminal<TestBackend>,
    pub cancel: CancellationToken,
}

impl Client {
    /// Connects to every context of `kubeconfig` the way `kdeck --all-contexts` does (the same
    /// startup code: clients built concurrently and bounded, a monitor per cluster). Call
    /// inside a tokio runtime, with `KDECK_CONFIG` pointing at an empty directory.
    pub async fn connect(kubeconfig_path: &Path, width: u16, height: u16) -> Self {
        Self::connect_with(kubeconfig_path, width, height, registry()).await
    }

    /// The same with a chosen set of panes (a pane's memory share is the difference).
    pub async fn connect_with(
        kubeconfig_path: &Path,
        width: u16,
        height: u16,
        panes: Vec<Box<dyn kdeck::panes::Pane>>,
    ) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let args = RunArgs {
            all_contexts: true,
            all_namespaces: true,
            ..RunArgs::default()
        };
        let prepared = run::prepare(&args, Some(kubeconfig_path.to_path_buf())).unwrap();
        let notifier = Notifier::new();
        let cancel = CancellationToken::new();
        let world = run::connect(&prepared, &args, &notifier, &cancel)
            .await
            .unwrap();
        let keymap = Keymap::from_texts(
            "default",
            kdeck::keymap::BUILTIN[0].1,
            None,
            &known_actions(&panes),
        );
        let app = App::new(
            world,
            panes,
            keymap,
            Theme::builtin("default").unwrap(),
            Config::default(),
            Clock::System,
            None,
            AppSettings::default(),
            Scope {
                all_clusters: true,
                ..Scope::default()
            },
        );
        Self {
            app,
            notifier,
            term: Terminal::new(TestBackend::new(width, height)).unwrap(),
            cancel,
        }
    }

    /// One frame: models updated from the stores, drawn; returns the screen text.
    pub fn frame(&mut self) -> String {
        self.app.update_models();
        let app = &mut self.app;
        self.term.draw(|f| app.render(f)).unwrap();
        self.term.backend().to_string()
    }

    /// Waits for a change notice (or `max`), as the run loop does.
    pub async fn wait_change(&self, max: Duration) {
        let _ = tokio::time::timeout(max, self.notifier.notified()).await;
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
