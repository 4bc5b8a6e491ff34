//! Drift pane figures: frame time with 2,000 Argo CD Applications (every object changed, one
//! object changed, a second later with only the LAST OP ages moving, and a redraw that
//! recomputes nothing), in a cluster whose projects have a sync window to judge.
//!
//! Run: `cargo bench --bench drift`

#[path = "support/common.rs"]
mod common;
#[path = "support/frames.rs"]
mod frames;

use chrono::Utc;
use kdeck::k8s::argocd::{AppProject, Application};
use kdeck::source::SourceState;
use serde_json::json;

use frames::Frames;

const ROWS: usize = 2000;

fn synthetic(i: usize, rv: &str) -> Application {
    let name = format!("svc-{i:04}");
    let out_of_sync = i.is_multiple_of(9);
    let failed = i.is_multiple_of(31);
    let resources: Vec<_> = (0..12)
        .map(|r| {
            json!({"group": "apps", "version": "v1", "kind": "Deployment", "namespace": format!("team-{:02}", i % 40),
                "name": format!("{name}-{r}"), "status": if out_of_sync && r < 3 {"OutOfSync"} else {"Synced"},
                "health": {"status": "Healthy"}})
        })
        .collect();
    let history: Vec<_> = (0..10)
        .map(|h| json!({"id": h, "revision": format!("{:040x}", i * 100 + h), "deployedAt": "2026-11-20T10:00:00Z",
            "source": {"repoURL": "https://git.example.com/deploy.git", "path": format!("apps/{name}")}}))
        .collect();
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "argocd", "uid": format!("uid-{i}"),
            "resourceVersion": format!("{i}{rv}")},
        "spec": {"project": if i.is_multiple_of(5) {"platform"} else {"default"},
            "source": {"repoURL": "https://git.example.com/deploy.git", "path": format!("apps/{name}"), "targetRevision": "HEAD"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": format!("team-{:02}", i % 40)},
            "syncPolicy": if i.is_multiple_of(3) {json!({"automated": {"prune": true, "selfHeal": true}})} else {json!({})}},
        "status": {"sync": {"status": if out_of_sync {"OutOfSync"} else {"Synced"}, "revision": format!("{:040x}", i * 100 + 9)},
            "health": {"status": if failed {"Degraded"} else {"Healthy"}},
            "resources": resources, "history": history,
            "operationState": {"phase": if failed {"Failed"} else {"Succeeded"}, "message": "one or more synchronization tasks completed unsuccessfully",
                "startedAt": "2026-11-22T11:00:00Z", "finishedAt": "2026-11-22T11:00:30Z",
                "operation": {"sync": {"revision": "abc"}, "initiatedBy": {"automated": true}}},
            "conditions": if failed {json!([{"type": "SyncError", "message": "boom"}])} else {json!([])}}
    }))
    .unwrap()
}

fn main() {
    let handle = frames::test_cluster("https://10.0.0.1:6443");
    let apps: Vec<Application> = (0..ROWS).map(|i| synthetic(i, "a")).collect();
    let projects: Vec<AppProject> = vec![serde_json::from_value(json!({
        "metadata": {"name": "platform", "namespace": "argocd", "resourceVersion": "1"},
        "spec": {"syncWindows": [{"kind": "deny", "schedule": "0 22 * * 1-5", "duration": "2h", "applications": ["*"]}]}
    }))
    .unwrap()];
    let live = SourceState::Live { since: Utc::now() };
    handle.sources.set_test_kind(apps.clone(), live.clone());
    handle.sources.set_test_kind(projects, live.clone());
    let mut f = Frames::new(handle.clone(), "drift");
    // Fresh versions every round, so no round hits the cache of an earlier one.
    let with_rv = |round: usize, one: bool| {
        let mut set = apps.clone();
        for a in &mut set {
            let rv = a.metadata.resource_version.take().unwrap_or_default();
            a.metadata.resource_version = Some(format!("{rv}-{round}"));
        }
        if one {
            set[ROWS / 2].metadata.resource_version = Some(format!("changed-{round}"));
        }
        handle.sources.set_test_kind(set, live.clone());
    };
    f.time(
        &format!("drift frame, {ROWS} apps"),
        60,
        &format!("({ROWS} ·"),
        vec![
            (
                "all objects changed",
                frames::step(|_, i| with_rv(i, false)),
            ),
            ("one object changed", frames::step(|_, i| with_rv(i, true))),
            ("a second later, ages", Frames::a_second_later(f.start)),
            ("nothing changed, redraw", Frames::nothing()),
        ],
    );
}
