//! The scenario's AppProjects and ApplicationSet: `default`, and `platform` whose deny window
//! (a release freeze, opened half an hour before the demo started, for eight hours) blocks
//! syncs of the platform apps right now; the `services` ApplicationSet, whose list generator
//! made the shop, payments and search apps. Also how the simulated controller judges that
//! window (the daily `M H * * *` schedules this scenario writes).

use chrono::{DateTime, Duration as ChronoDuration, Timelike, Utc};
use serde_json::{Value, json};

use super::apps::{APP_SET, ARGOCD_NS, REPO};
use crate::ClusterState;
use crate::sim::clock;
use crate::sim::fields;
use crate::sim::kinds::kinds;

/// Hours the freeze window stays open.
pub const FREEZE_HOURS: i64 = 8;

fn project(name: &str, windows: Value, created: DateTime<Utc>) -> Value {
    json!({
        "metadata": { "name": name, "namespace": ARGOCD_NS, "creationTimestamp": clock::fmt(created) },
        "spec": {
            "description": format!("{name} applications"),
            "sourceRepos": ["*"],
            "destinations": [{ "server": "*", "namespace": "*" }],
            "clusterResourceWhitelist": [{ "group": "*", "kind": "*" }],
            "syncWindows": windows,
        },
    })
}

/// Seeds the projects; returns nothing (the apps name them).
pub fn seed_projects(state: &ClusterState, now: DateTime<Utc>) {
    let k = kinds();
    let created = now - ChronoDuration::days(90);
    let start = now - ChronoDuration::minutes(30);
    let freeze = json!([{
        "kind": "deny",
        "schedule": format!("{} {} * * *", start.minute(), start.hour()),
        "duration": format!("{FREEZE_HOURS}h"),
        "applications": ["*"],
        "manualSync": false,
        "description": "release freeze",
    }]);
    let _ = state
        .store
        .insert(k.appproject, project("default", json!([]), created));
    let _ = state
        .store
        .insert(k.appproject, project("platform", freeze, created));
}

/// Seeds the `services` ApplicationSet; returns its uid (the apps it made name it as owner).
pub fn seed_app_set(state: &ClusterState, now: DateTime<Utc>) -> Option<String> {
    let k = kinds();
    let ok = |t: &str| clock::fmt(now - ChronoDuration::days(3)) + t;
    let elements: Vec<Value> = ["shop", "payments", "search"]
        .iter()
        .map(|a| json!({ "app": a }))
        .collect();
    let obj = json!({
        "metadata": { "name": APP_SET, "namespace": ARGOCD_NS,
            "creationTimestamp": clock::fmt(now - ChronoDuration::days(60)) },
        "spec": {
            "generators": [{ "list": { "elements": elements } }],
            "template": {
                "metadata": { "name": "{{app}}" },
                "spec": {
                    "project": "default",
                    "source": { "repoURL": REPO, "path": "apps/{{app}}", "targetRevision": "HEAD" },
                    "destination": { "server": "https://kubernetes.default.svc", "namespace": "{{app}}" },
                },
            },
        },
        "status": { "conditions": [
            { "type": "ErrorOccurred", "status": "False", "reason": "ApplicationSetUpToDate",
              "message": "Successful generation of Applications", "lastTransitionTime": ok("") },
            { "type": "ParametersGenerated", "status": "True", "reason": "ParametersGenerated",
              "message": "Successfully generated parameters for all Applications",
              "lastTransitionTime": ok("") },
            { "type": "ResourcesUpToDate", "status": "True", "reason": "ApplicationSetUpToDate",
              "message": "All applications have been generated successfully",
              "lastTransitionTime": ok("") },
        ] },
    });
    let stored = state.store.insert(k.applicationset, obj).ok()?;
    Some(fields::uid(&stored).to_string())
}

/// Whether a daily window `M H * * *` open for `duration` covers `now`.
fn daily_window_open(schedule: &str, duration: &str, now: DateTime<Utc>) -> bool {
    let f: Vec<&str> = schedule.split_whitespace().collect();
    let (Some(m), Some(h)) = (
        f.first().and_then(|x| x.parse::<u32>().ok()),
        f.get(1).and_then(|x| x.parse::<u32>().ok()),
    ) else {
        return false;
    };
    let Some(hours) = duration
        .strip_suffix('h')
        .and_then(|d| d.parse::<i64>().ok())
    else {
        return false;
    };
    let Some(today) = now.date_naive().and_hms_opt(h, m, 0) else {
        return false;
    };
    let today = today.and_utc();
    let start = if today <= now {
        today
    } else {
        today - ChronoDuration::days(1)
    };
    now < start + ChronoDuration::hours(hours)
}

/// Whether a deny window of the app's project blocks a sync now (`manual`: a manual sync,
/// which windows with `manualSync` let through), as the controller checks before syncing.
#[must_use]
pub fn sync_blocked(state: &ClusterState, app: &Value, manual: bool, now: DateTime<Utc>) -> bool {
    let k = kinds();
    let project = fields::str_at(app, "/spec/project");
    let Some(p) = state.store.get_value(k.appproject, ARGOCD_NS, project) else {
        return false;
    };
    fields::array_at(&p, "/spec/syncWindows").iter().any(|w| {
        fields::str_at(w, "/kind") == "deny"
            && !(manual && fields::bool_at(w, "/manualSync"))
            && daily_window_open(
                fields::str_at(w, "/schedule"),
                fields::str_at(w, "/duration"),
                now,
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_windows() {
        let t = |s: &str| clock::parse(s).unwrap();
        assert!(daily_window_open(
            "30 11 * * *",
            "8h",
            t("2026-11-22T12:00:00Z")
        ));
        assert!(daily_window_open(
            "30 22 * * *",
            "8h",
            t("2026-11-23T02:00:00Z")
        ));
        assert!(!daily_window_open(
            "30 11 * * *",
            "8h",
            t("2026-11-22T20:00:00Z")
        ));
        assert!(!daily_window_open(
            "30 11 * * *",
            "8h",
            t("2026-11-22T11:00:00Z")
        ));
    }
}
