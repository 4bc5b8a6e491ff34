//! The event loop: keys, store changes, executor outcomes, a one-second tick and signals,
//! in one `select!`. Frames are drawn only when something changed, at most every 50 ms;
//! resizes are debounced. Drawing never waits on I/O: it reads the app's owned state.

use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::App;
use crate::exec::ExecEvent;
use crate::source::Notifier;

const FRAME_INTERVAL: Duration = Duration::from_millis(50);
const RESIZE_SETTLE: Duration = Duration::from_millis(80);

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReason {
    Quit,
    Signal(&'static str),
    InputClosed,
}

/// Runs until the user quits, a signal arrives, or input ends.
pub async fn run<B: Backend>(
    app: &mut App,
    terminal: &mut Terminal<B>,
    notifier: Notifier,
    mut exec_events: Option<mpsc::Receiver<ExecEvent>>,
) -> anyhow::Result<ExitReason>
where
    B::Error: Send + Sync + 'static,
{
    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut next_frame = Instant::now();
    let mut settle_until: Option<Instant> = None;
    // Test hook: proves the terminal is restored when kdeck panics mid-run.
    let panic_after: Option<u64> = std::env::var("KDECK_TEST_PANIC_AFTER_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut frames: u64 = 0;
    loop {
        let now = Instant::now();
        if settle_until.is_some_and(|t| now >= t) {
            settle_until = None;
        }
        if app.dirty && settle_until.is_none() && now >= next_frame {
            app.dirty = false;
            app.update_models();
            terminal.draw(|f| app.render(f))?;
            next_frame = Instant::now() + FRAME_INTERVAL;
            frames += 1;
            if panic_after.is_some_and(|n| frames >= n) {
                panic!(
                    "test panic requested by KDECK_TEST_PANIC_AFTER_FRAMES after {frames} frames"
                );
            }
        }
        if app.quit {
            return Ok(ExitReason::Quit);
        }
        let wake_at = match (app.dirty, settle_until) {
            (_, Some(t)) => Some(t),
            (true, None) => Some(next_frame),
            (false, None) => app.wake_at().map(Instant::from_std),
        };
        tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => app.on_key(&key),
                Some(Ok(Event::Resize(..))) => {
                    app.dirty = true;
                    settle_until = Some(Instant::now() + RESIZE_SETTLE);
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    log::error!("terminal input failed: {e}");
                    return Ok(ExitReason::InputClosed);
                }
                None => return Ok(ExitReason::InputClosed),
            },
            () = notifier.notified() => app.dirty = true,
            _ = tick.tick() => {
                tui_logger::move_events();
                app.on_tick();
            }
            Some(ev) = async {
                match exec_events.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => app.on_exec(ev),
            () = async {
                match wake_at {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            } => {
                if !app.dirty && settle_until.is_none() {
                    app.dirty = true;
                }
            }
            _ = sigterm.recv() => return Ok(ExitReason::Signal("SIGTERM")),
            _ = sighup.recv() => return Ok(ExitReason::Signal("SIGHUP")),
            _ = sigint.recv() => return Ok(ExitReason::Signal("SIGINT")),
        }
    }
}
