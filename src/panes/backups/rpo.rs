//! The truth about a Velero schedule at a given time: its newest backup that *completed*
//! (Velero's `status.lastBackup` is when a backup was submitted, not whether it succeeded),
//! how many PartiallyFailed runs came after it, whether the run that should have replaced it
//! is due, late or past the grace (the RPO is breached), and when Velero runs it next. Pure:
//! objects and a clock in, an [`Rpo`] out.
//!
//! The rules, in order:
//! - paused, or the cron Velero rejects (FailedValidation): that is the state;
//! - `due` is the first cron run after the newest completed backup was created (for a
//!   schedule without one, after the schedule was created); `period` is the cron interval
//!   that backup started in, so irregular crons (weekdays only, `0 9,17`) are judged by the
//!   gap they really have;
//! - past `due + grace` (grace from `config.toml`, a share of the period or a duration): breached;
//! - past `due` (plus a minute and a half: Velero's schedule controller looks once a minute)
//!   with no backup of the schedule running: late (the due run failed, partially failed, or
//!   never came);
//! - otherwise ok.
//!
//! Next run is Velero's own: the cron's first time after `lastBackup` (or the schedule's
//! creation), or after `lastSkipped` when that is later.

use chrono::{DateTime, Duration, Utc};

use super::cron::{self, VeleroCron};
use crate::config::Grace;
use crate::k8s::velero::{Backup, RunPhase, Schedule};

/// How long after a due time a run may take to appear before it counts as missing: Velero's
/// schedule controller re-checks schedules every minute.
pub const START_SLACK_SECS: i64 = 90;

/// A schedule's RPO state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RpoState {
    /// The newest completed backup is as fresh as the cron asks.
    Ok,
    /// The run that should have replaced it is due and did not succeed (yet); within grace.
    Late,
    /// Past due plus grace: the newest good backup is older than the RPO allows.
    Breached,
    /// `spec.paused`: Velero takes no backups.
    Paused,
    /// Velero rejects the schedule (FailedValidation, or a cron it cannot parse).
    Invalid,
    /// The Backups are not known yet (their watch is still syncing): nothing is judged.
    Waiting,
}

impl RpoState {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Late => "late",
            Self::Breached => "breached",
            Self::Paused => "paused",
            Self::Invalid => "invalid",
            Self::Waiting => "waiting for backups",
        }
    }

    #[must_use]
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Ok => "●",
            Self::Late => "▲",
            Self::Breached | Self::Invalid => "✖",
            Self::Paused => "‖",
            Self::Waiting => "◌",
        }
    }
}

/// A backup as the schedule's summary names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRef {
    pub name: String,
    pub phase: String,
    pub run_phase: RunPhase,
    pub created: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    pub errors: i32,
    pub warnings: i32,
}

impl RunRef {
    #[must_use]
    pub fn of(b: &Backup) -> Self {
        let st = b.status_or_default();
        Self {
            name: b.metadata.name.clone().unwrap_or_default(),
            phase: b.phase_text().to_string(),
            run_phase: b.run_phase(),
            created: b.created_at(),
            finished: st.completion_timestamp,
            errors: st.errors,
            warnings: st.warnings,
        }
    }
}

/// Everything the pane shows about a schedule's RPO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rpo {
    pub state: RpoState,
    /// The newest Completed backup, by completion time.
    pub last_good: Option<RunRef>,
    /// PartiallyFailed backups that finished after it.
    pub partial_since: usize,
    /// The newest of those.
    pub newest_partial: Option<RunRef>,
    /// The newest backup of the schedule, by creation time (whatever its phase).
    pub last: Option<RunRef>,
    /// A backup of the schedule that is pending or running, if any.
    pub running: Option<String>,
    /// The run that should replace the newest good backup.
    pub due: Option<DateTime<Utc>>,
    /// `due` plus the grace: past it, the RPO is breached.
    pub deadline: Option<DateTime<Utc>>,
    /// The cron interval the newest good backup started in.
    pub period: Option<Duration>,
    /// Velero's next run.
    pub next_run: Option<DateTime<Utc>>,
    /// The short reading of the cron (`hourly at :00`), or why it is invalid.
    pub reading: String,
    /// Why Velero rejects the schedule.
    pub invalid: Vec<String>,
}

/// The RPO of `schedule` at `now`, from its backups (any order; others are ignored).
#[must_use]
pub fn rpo(schedule: &Schedule, backups: &[&Backup], now: DateTime<Utc>, grace: Grace) -> Rpo {
    let name = schedule.metadata.name.as_deref().unwrap_or_default();
    let mine = || backups.iter().filter(|b| b.schedule() == Some(name));
    let last_good = mine()
        .filter(|b| b.run_phase() == RunPhase::Completed)
        .max_by_key(|b| b.finished_at());
    let good_at = last_good.and_then(|b| b.finished_at());
    let partials: Vec<&&Backup> = mine()
        .filter(|b| b.run_phase() == RunPhase::PartiallyFailed)
        .filter(|b| good_at.is_none_or(|g| b.finished_at().is_some_and(|t| t > g)))
        .collect();
    let newest_partial = partials.iter().max_by_key(|b| b.finished_at());
    let last = mine().max_by_key(|b| (b.created_at(), b.metadata.name.clone()));
    let running = mine()
        .filter(|b| b.run_phase().is_active())
        .max_by_key(|b| b.created_at());

    let parsed = cron::parse(schedule.cron());
    let mut invalid: Vec<String> = Vec::new();
    if schedule.phase() == "FailedValidation" {
        invalid.extend(
            schedule
                .status
                .iter()
                .flat_map(|s| s.validation_errors.iter().cloned()),
        );
        if invalid.is_empty() {
            invalid.push("Velero rejected the schedule (FailedValidation)".into());
        }
    }
    if let Err(e) = &parsed {
        invalid.push(format!("invalid schedule: {e}"));
    }
    let reading = match &parsed {
        Ok(c) => c.describe(),
        Err(_) => "invalid".into(),
    };

    let created = crate::k8s::created(&schedule.metadata);
    let anchor = last_good.and_then(|b| b.created_at()).or(created);
    let (mut due, mut period, mut deadline) = (None, None, None);
    let mut next_run = None;
    if let Ok(c) = &parsed {
        due = anchor.and_then(|a| c.next_after(a));
        period = anchor.and_then(|a| period_at(c, a));
        deadline = due.zip(period).map(|(d, p)| d + grace.of(p));
        next_run = velero_next_run(schedule, c);
    }
    let state = if !invalid.is_empty() {
        RpoState::Invalid
    } else if schedule.spec.paused {
        RpoState::Paused
    } else if deadline.is_some_and(|d| now > d) {
        RpoState::Breached
    } else if let Some(d) = due
        && now > d + slack(period)
        && running.is_none_or(|r| r.created_at().is_some_and(|t| t < d))
    {
        RpoState::Late
    } else {
        RpoState::Ok
    };
    Rpo {
        state,
        last_good: last_good.map(|b| RunRef::of(b)),
        partial_since: partials.len(),
        newest_partial: newest_partial.map(|b| RunRef::of(b)),
        last: last.map(|b| RunRef::of(b)),
        running: running.and_then(|b| b.metadata.name.clone()),
        due,
        deadline,
        period,
        next_run,
        reading,
        invalid,
    }
}

/// How long a due run may take to be created (never more than half the period).
fn slack(period: Option<Duration>) -> Duration {
    let s = Duration::seconds(START_SLACK_SECS);
    period.map_or(s, |p| s.min(p / 2))
}

/// The cron interval `t` falls in: from the run at or before it to the next one.
fn period_at(c: &VeleroCron, t: DateTime<Utc>) -> Option<Duration> {
    match c {
        VeleroCron::Every(d) => Some(*d),
        VeleroCron::Fields(_) => {
            let next = c.next_after(t)?;
            match c.last_at_or_before(t) {
                Some(prev) => Some(next - prev),
                None => c.period_after(t),
            }
        }
    }
}

/// When Velero runs the schedule next: the cron after `lastBackup` (else the schedule's
/// creation), or after `lastSkipped` when that is later. In the past when it is overdue.
#[must_use]
pub fn velero_next_run(schedule: &Schedule, c: &VeleroCron) -> Option<DateTime<Utc>> {
    let st = schedule.status.as_ref();
    let mut from = st
        .and_then(|s| s.last_backup)
        .or_else(|| crate::k8s::created(&schedule.metadata))?;
    if let Some(skipped) = st.and_then(|s| s.last_skipped)
        && skipped > from
    {
        from = skipped;
    }
    c.next_after(from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn schedule(cron: &str, extra: serde_json::Value) -> Schedule {
        let mut v = json!({
            "metadata": {"name": "hourly", "namespace": "velero",
                "creationTimestamp": "2025-02-01T00:00:00Z"},
            "spec": {"schedule": cron},
            "status": {"phase": "Enabled", "lastBackup": "2025-03-01T10:00:00Z"}
        });
        json_patch::merge(&mut v, &extra);
        serde_json::from_value(v).unwrap()
    }

    /// A backup of `hourly` created at `created`, finished `secs` later in `phase`.
    fn backup(created: &str, phase: &str, secs: i64) -> Backup {
        let c = t(created);
        let mut status = json!({"phase": phase, "startTimestamp": c.to_rfc3339()});
        if RunPhase::of(Some(phase)).is_finished() {
            status["completionTimestamp"] = json!((c + Duration::seconds(secs)).to_rfc3339());
        }
        serde_json::from_value(json!({
            "metadata": {"name": format!("hourly-{}", c.format("%Y%m%d%H%M%S")),
                "namespace": "velero", "creationTimestamp": c.to_rfc3339(),
                "labels": {"velero.io/schedule-name": "hourly"}},
            "status": status
        }))
        .unwrap()
    }

    fn at(s: &Schedule, backups: &[Backup], now: &str) -> Rpo {
        let refs: Vec<&Backup> = backups.iter().collect();
        rpo(s, &refs, t(now), Grace::Percent(25))
    }

    #[test]
    fn the_older_good_backup_counts_when_the_latest_failed() {
        let s = schedule("0 * * * *", json!({}));
        let b = [
            backup("2025-03-01T08:00:00Z", "Completed", 120),
            backup("2025-03-01T09:00:00Z", "Failed", 30),
            backup("2025-03-01T10:00:00Z", "PartiallyFailed", 200),
        ];
        let r = at(&s, &b, "2025-03-01T10:05:00Z");
        // Last good: completed 08:02. The run due after it (09:00) failed; 09:00 + 25% of an
        // hour = 09:15 has passed.
        let good = r.last_good.clone().unwrap();
        assert_eq!(good.name, "hourly-20250301080000");
        assert_eq!(good.finished, Some(t("2025-03-01T08:02:00Z")));
        assert_eq!(r.due, Some(t("2025-03-01T09:00:00Z")));
        assert_eq!(r.period, Some(Duration::hours(1)));
        assert_eq!(r.deadline, Some(t("2025-03-01T09:15:00Z")));
        assert_eq!(r.state, RpoState::Breached);
        // The PartiallyFailed run after it is counted and named, not taken as good.
        assert_eq!(r.partial_since, 1);
        assert_eq!(r.newest_partial.unwrap().name, "hourly-20250301100000");
        assert_eq!(r.last.unwrap().phase, "PartiallyFailed");
        // Velero's next run: the cron after lastBackup (10:00).
        assert_eq!(r.next_run, Some(t("2025-03-01T11:00:00Z")));
        assert_eq!(r.reading, "hourly at :00");
    }

    #[test]
    fn ok_late_and_breached_by_the_clock() {
        let s = schedule("0 * * * *", json!({}));
        let b = [
            backup("2025-03-01T09:00:00Z", "Completed", 60),
            backup("2025-03-01T10:00:00Z", "Failed", 30),
        ];
        // Before the 10:00 run is due: ok.
        assert_eq!(at(&s, &b, "2025-03-01T09:59:00Z").state, RpoState::Ok);
        // 10:00 failed; 10:01:30 is within the start slack, 10:02 is late, 10:15 still late,
        // 10:15:01 breached.
        assert_eq!(at(&s, &b, "2025-03-01T10:01:30Z").state, RpoState::Ok);
        assert_eq!(at(&s, &b, "2025-03-01T10:02:00Z").state, RpoState::Late);
        assert_eq!(at(&s, &b, "2025-03-01T10:15:00Z").state, RpoState::Late);
        assert_eq!(at(&s, &b, "2025-03-01T10:15:01Z").state, RpoState::Breached);
    }

    #[test]
    fn a_due_run_still_running_is_not_late() {
        let s = schedule("0 * * * *", json!({}));
        let b = [
            backup("2025-03-01T09:00:00Z", "Completed", 60),
            backup("2025-03-01T10:00:00Z", "InProgress", 0),
        ];
        let r = at(&s, &b, "2025-03-01T10:10:00Z");
        assert_eq!(r.state, RpoState::Ok);
        assert_eq!(r.running.as_deref(), Some("hourly-20250301100000"));
        // Past the grace it is breached all the same.
        assert_eq!(at(&s, &b, "2025-03-01T10:16:00Z").state, RpoState::Breached);
    }

    #[test]
    fn irregular_crons_use_the_gap_they_have() {
        // 09:00 and 17:00 on weekdays; 2025-02-28 is a Friday.
        let s = schedule("0 9,17 * * 1-5", json!({}));
        let b = [backup("2025-02-28T17:00:00Z", "Completed", 300)];
        // Over the weekend the next run is Monday 09:00: nothing is due on Sunday.
        let r = at(&s, &b, "2025-03-02T12:00:00Z");
        assert_eq!(r.due, Some(t("2025-03-03T09:00:00Z")));
        assert_eq!(r.period, Some(Duration::hours(64)));
        assert_eq!(r.state, RpoState::Ok);
        // 25% of 64h = 16h after Monday 09:00.
        assert_eq!(r.deadline, Some(t("2025-03-04T01:00:00Z")));
    }

    #[test]
    fn paused_invalid_and_never_backed_up() {
        let b = [backup("2025-03-01T08:00:00Z", "Completed", 60)];
        let paused = schedule("0 * * * *", json!({"spec": {"paused": true}}));
        assert_eq!(
            at(&paused, &b, "2025-03-02T00:00:00Z").state,
            RpoState::Paused
        );
        let bad = schedule(
            "0 0 * * 7",
            json!({"status": {"phase": "FailedValidation",
                "validationErrors": ["invalid schedule: End of range (7) above maximum (6): 7"]}}),
        );
        let r = at(&bad, &b, "2025-03-01T08:30:00Z");
        assert_eq!(r.state, RpoState::Invalid);
        assert_eq!(r.invalid.len(), 2, "{:?}", r.invalid);
        // No backups at all: judged from the schedule's creation (2025-02-01), long breached.
        let s = schedule("0 * * * *", json!({}));
        let r = at(&s, &[], "2025-03-01T10:05:00Z");
        assert!(r.last_good.is_none());
        assert_eq!(r.due, Some(t("2025-02-01T01:00:00Z")));
        assert_eq!(r.state, RpoState::Breached);
    }

    #[test]
    fn next_run_follows_last_skipped_when_later() {
        let s = schedule(
            "*/30 * * * *",
            json!({"status": {"lastSkipped": "2025-03-01T10:40:00Z"}}),
        );
        let c = cron::parse(s.cron()).unwrap();
        assert_eq!(velero_next_run(&s, &c), Some(t("2025-03-01T11:00:00Z")));
        let s = schedule("*/30 * * * *", json!({"status": {"lastBackup": null}}));
        assert_eq!(velero_next_run(&s, &c), Some(t("2025-02-01T00:30:00Z")));
    }
}
