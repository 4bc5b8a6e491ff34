//! Rollouts pane figures: frame time with 2,000 rows (models recomputed, and redraw only),
//! and event-to-screen latency against the demo cluster (a change written on the server until
//! the first frame that shows it).
//!
//! Run: `cargo bench --bench rollouts`

#[path = "support/client.rs"]
mod client;
#[path = "support/common.rs"]
mod common;
#[path = "support/frames.rs"]
mod frames;

use std::time::{Duration, Instant};

use chrono::Utc;
use kdeck::k8s::apps::ReplicaSet;
use kdeck::k8s::rollout::Rollout;
use kdeck::source::SourceState;
use serde_json::json;

use common::summary;
use frames::Frames;

const ROWS: usize = 2000;

fn synthetic(i: usize, rv: &str) -> (Rollout, Vec<ReplicaSet>) {
    let ns = format!("team-{:02}", i % 40);
    let name = format!("svc-{i:04}");
    let uid = format!("uid-{i}");
    let paused = i.is_multiple_of(7);
    let step = (i % 5) as i64;
    let ro: Rollout = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns, "uid": uid, "resourceVersion": format!("{i}{rv}"),
            "generation": 3, "creationTimestamp": "2026-11-20T10:00:00Z"},
        "spec": {"replicas": 4, "strategy": {"canary": {"canaryService": format!("{name}-canary"),
            "stableService": format!("{name}-stable"),
            "steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {"duration": "30s"}}, {"setWeight": 80}]}},
            "template": {"spec": {"containers": [{"name": "app", "image": format!("registry.example.com/{name}:1.{}.0", i % 9)}]}}},
        "status": {"observedGeneration": "3", "currentStepIndex": step, "currentPodHash": "new", "stableRS": "old",
            "phase": if paused {"Paused"} else {"Progressing"}, "replicas": 5, "readyReplicas": 5,
            "updatedReplicas": 1, "availableReplicas": 5,
            "pauseConditions": if paused {json!([{"reason": "CanaryPauseStep", "startTime": "2026-11-22T11:00:00Z"}])} else {json!(null)},
            "canary": {"weights": {"canary": {"weight": 20, "podTemplateHash": "new"}, "stable": {"weight": 80, "podTemplateHash": "old"}}}}
    }))
    .unwrap();
    let rs = |hash: &str, rev: u32, replicas: u32| -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": format!("{name}-{hash}"), "namespace": ns, "uid": format!("{uid}-{hash}"),
                "labels": {"rollouts-pod-template-hash": hash},
                "annotations": {"rollout.argoproj.io/revision": rev.to_string()},
                "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": name, "uid": uid, "controller": true}]},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "app", "image": "x:1"}]}}},
            "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas}
        }))
        .unwrap()
    };
    (ro, vec![rs("new", 2, 1), rs("old", 1, 4)])
}

fn frame_times() {
    let handle = frames::test_cluster("");
    let (rollouts, rss): (Vec<_>, Vec<_>) = (0..ROWS).map(|i| synthetic(i, "a")).unzip();
    let live = SourceState::Live { since: Utc::now() };
    handle.sources.set_test_kind(rollouts.clone(), live.clone());
    handle.sources.set_test_kind(
        rss.into_iter().flatten().collect::<Vec<ReplicaSet>>(),
        live.clone(),
    );
    let mut f = Frames::new(handle.clone(), "rollouts");
    // Every object at a new resourceVersion (everything changed), or that set with one object
    // changed. Fresh versions every round, so no round hits the cache of an earlier one.
    let with_rv = |round: usize, one: bool| {
        let mut set = rollouts.clone();
        for r in &mut set {
            let rv = r.metadata.resource_version.take().unwrap_or_default();
            r.metadata.resource_version = Some(format!("{rv}-{round}"));
        }
        if one {
            set[ROWS / 2].metadata.resource_version = Some(format!("changed-{round}"));
        }
        handle.sources.set_test_kind(set, live.clone());
    };
    f.time(
        &format!("frame, {ROWS} rows"),
        120,
        &format!("({ROWS} ·"),
        vec![
            // Every row is recomputed.
            (
                "all objects changed",
                frames::step(|_, i| with_rv(i, false)),
            ),
            // The common case: one row recomputed, the rest from cache.
            ("one object changed", frames::step(|_, i| with_rv(i, true))),
            // A new second, same data: only the step ages move.
            ("a second later, ages", Frames::a_second_later(f.start)),
            ("nothing changed, redraw", Frames::nothing()),
        ],
    );
}

fn event_to_screen() {
    let demo = common::DemoServe::start(1, 0, 1.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let api = demo.api_url(0);
    let samples = rt.block_on(async {
        let mut c = client::Client::connect(&demo.kubeconfig, 120, 40).await;
        c.app.focus_pane("rollouts");
        let http = demo.http();
        // Wait for the seeded Deployment to be on screen.
        loop {
            if c.frame().contains("ledger") {
                break;
            }
            c.wait_change(Duration::from_millis(100)).await;
        }
        c.app.dispatch(&kdeck::keymap::ActionCall::named("filter"));
        for ch in "ledger".chars() {
            c.app.on_key(&crossterm::event::KeyEvent::new(
                crossterm::event::KeyCode::Char(ch),
                crossterm::event::KeyModifiers::NONE,
            ));
        }
        let mut samples = Vec::new();
        for i in 0..30u32 {
            let replicas = 3 + (i % 2) * 2;
            let marker = format!("/{replicas}/");
            let body = json!({"spec": {"replicas": replicas}});
            let sent = Instant::now();
            let resp = http
                .patch(format!(
                    "{api}/apis/apps/v1/namespaces/payments/deployments/ledger"
                ))
                .header("Content-Type", "application/merge-patch+json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            assert!(resp.status().is_success());
            loop {
                c.wait_change(Duration::from_millis(200)).await;
                let screen = c.frame();
                if screen
                    .lines()
                    .any(|l| l.contains("ledger") && l.contains(&marker))
                {
                    samples.push(sent.elapsed());
                    break;
                }
                assert!(
                    sent.elapsed() < Duration::from_secs(30),
                    "change never shown:\n{screen}"
                );
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        samples
    });
    let (m, p95, max) = summary(samples);
    println!(
        "event to screen (PATCH on the server → first frame showing it, 30 changes): median {m:.1} ms, \
         p95 {p95:.1} ms, max {max:.1} ms (the run loop adds at most one 50 ms frame interval)"
    );
}

fn main() {
    println!("kdeck Rollouts pane benchmark (release build)\n");
    frame_times();
    event_to_screen();
}
