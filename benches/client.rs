//! A kdeck client inside a benchmark: the real watches and panes (no terminal), drawing into
//! a TestBackend, exactly as the dashboard does minus the tty.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kdeck::app::{App, AppSettings, known_actions};
use kdeck::clock::Clock;
use kdeck::cluster::{ClusterHandle, ClusterInfo, PromReach, Reach, kubeconfig, monitor};
use kdeck::config::Config;
use kdeck::keymap::Keymap;
use kdeck::panes::{Scope, registry};
use kdeck::source::Notifier;
use kdeck::theme::Theme;
use kdeck::world::World;
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
    /// Connects to every context of `kubeconfig` (call inside a tokio runtime).
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
        let kc = kubeconfig::load(Some(kubeconfig_path)).unwrap();
        let contexts = kubeconfig::select(&kc, &[], true).unwrap();
        let notifier = Notifier::new();
        let cancel = CancellationToken::new();
        let world = Arc::new(World::new(notifier.clone()));
        for ctx in contexts {
            let client = kubeconfig::client(&kc, &ctx.name).await.unwrap();
            let handle = ClusterHandle::new(
                &ctx.name,
                ClusterInfo {
                    server: ctx.server.clone(),
                    user: ctx.user.clone(),
                    version: None,
                    reach: Reach::Connecting,
                    prometheus: PromReach::Unknown,
                    readonly: false,
                },
                Some(client),
                None,
                notifier.clone(),
                cancel.clone(),
            );
            tokio::spawn(monitor::run(handle.clone(), None));
            world.add(handle);
        }
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
