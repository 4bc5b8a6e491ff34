//! A simulated CI/CD pipeline so a long-running demo keeps moving: once a demo Rollout has
//! been fully promoted and Healthy for a few simulated minutes it ships the next release
//! (a new image tag, deterministic from the seed; some releases are bad), and a Rollout left
//! Degraded by an abort gets a fix after a while. It writes `spec.template` like any client.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::status::condition;
use super::traffic::release_is_bad;
use super::util::{self, Kinds, PART_OF_LABEL, PART_OF_VALUE};
use crate::ClusterState;
use crate::api::store::{Patch, Subresource};
use crate::sim::{Pace, SimRng};
use crate::sim::{clock, fields};

/// The next version after `tag` (`1.8.2` → `1.8.3`, every fifth a minor bump), skipping bad
/// builds when `good_only`.
#[must_use]
pub fn next_tag(seed: u64, image: &str, good_only: bool) -> String {
    let (repo, tag) = image.rsplit_once(':').unwrap_or((image, "0.0.0"));
    let nums: Vec<u64> = tag
        .split(['.', '-'])
        .take(3)
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    let (mut major, mut minor, mut patch) = (
        nums.first().copied().unwrap_or(0),
        nums.get(1).copied().unwrap_or(0),
        nums.get(2).copied().unwrap_or(0),
    );
    loop {
        if patch >= 4 {
            minor += 1;
            patch = 0;
        } else {
            patch += 1;
        }
        if minor > 20 {
            major += 1;
            minor = 0;
        }
        let candidate = format!("{repo}:{major}.{minor}.{patch}");
        if !good_only || !release_is_bad(seed, &candidate) {
            return candidate;
        }
    }
}

/// Simulated seconds a Rollout stays Healthy before the next release (3–6 minutes).
fn healthy_wait(seed: u64, cluster: usize, key: &str, image: &str) -> f64 {
    let mut rng = SimRng::new(
        seed ^ u64::from(util::fnv32a(image.as_bytes())),
        cluster,
        key,
    );
    180.0 + rng.f64() * 180.0
}

/// Simulated seconds before a fix follows an abort.
const FIX_AFTER_SECS: f64 = 240.0;
/// Wall seconds a fix waits at least: the analysis queries take `irate(...[1m])` over the
/// canary Service, so at high `--speed` the aborted release's last minute of 5xx would
/// otherwise count against the fix.
const FIX_AFTER_WALL_SECS: i64 = 70;

pub async fn run(state: Arc<ClusterState>, kinds: Kinds, shutdown: CancellationToken) {
    let pace = Pace::new(state.options.speed);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(pace.secs(10.0)) => {}
        }
        tick(&state, kinds, pace);
    }
}

/// One look at every demo Rollout.
pub fn tick(state: &ClusterState, kinds: Kinds, pace: Pace) {
    let now = Utc::now();
    let seed = state.options.seed;
    for o in state.store.list(kinds.rollouts, None).0 {
        if o.label(PART_OF_LABEL) != Some(PART_OF_VALUE) {
            continue;
        }
        let ro = o.value();
        let Some(image) = fields::get_str(&ro, "/spec/template/spec/containers/0/image") else {
            continue;
        };
        let phase = fields::str_at(&ro, "/status/phase");
        let status = ro.get("status").cloned().unwrap_or(Value::Null);
        let since = |kind: &str| {
            condition(&status, kind)
                .and_then(|c| fields::get_str(&c, "/lastTransitionTime").map(str::to_string))
                .and_then(|s| clock::parse(&s))
        };
        let elapsed =
            |t: chrono::DateTime<Utc>| (now - t).num_milliseconds() as f64 / 1000.0 * pace.speed;
        let key = format!("{}/{}", o.key.ns, o.key.name);
        let next = if phase == "Healthy"
            && condition(&status, "Healthy")
                .and_then(|c| fields::get_str(&c, "/status").map(str::to_string))
                == Some("True".to_string())
            && since("Healthy")
                .is_some_and(|t| elapsed(t) >= healthy_wait(seed, state.profile.index, &key, image))
        {
            Some(next_tag(seed, image, false))
        } else if phase == "Degraded"
            && fields::bool_at(&status, "/abort")
            && status
                .get("abortedAt")
                .and_then(Value::as_str)
                .and_then(clock::parse)
                .is_some_and(|t| {
                    elapsed(t) >= FIX_AFTER_SECS && (now - t).num_seconds() >= FIX_AFTER_WALL_SECS
                })
        {
            Some(next_tag(seed, image, true))
        } else {
            None
        };
        if let Some(new_image) = next {
            let ops = json!([{
                "op": "replace",
                "path": "/spec/template/spec/containers/0/image",
                "value": new_image,
            }]);
            let Ok(patch) = serde_json::from_value::<json_patch::Patch>(ops) else {
                continue;
            };
            let _ = state.store.patch(
                kinds.rollouts,
                &o.key.ns,
                &o.key.name,
                &Patch::Json(patch),
                Subresource::Main,
                false,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_advance_and_fixes_are_good() {
        assert_eq!(next_tag(1, "r/checkout:1.8.2", false), "r/checkout:1.8.3");
        assert_eq!(next_tag(1, "r/checkout:1.8.4", false), "r/checkout:1.9.0");
        for seed in 0..20 {
            let fix = next_tag(seed, "r/search-api:2.14.0", true);
            assert!(!release_is_bad(seed, &fix), "{fix}");
        }
    }
}
