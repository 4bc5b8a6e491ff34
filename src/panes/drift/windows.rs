//! Sync windows as Argo CD judges them (`SyncWindows.Matches`, `Active`, `CanSync` in
//! `pkg/apis/application/v1alpha1`): which of a project's windows apply to an app (by app
//! name, destination cluster or namespace, as globs; all of them with `andOperator`), which
//! are open now (the last start of the cron schedule within `duration`), and whether an
//! automated or a manual sync may run: an open deny window blocks (manual syncs pass only
//! if every open deny window allows them), an open allow window permits, and allow windows
//! that exist but are all closed block (again unless they all allow manual syncs).
//!
//! Time zones: Argo CD shifts the schedule by the zone's current offset. kdeck knows UTC and
//! the fixed `Etc/GMT±N` zones; a window in any other zone is reported as unknown rather
//! than guessed.

use chrono::{DateTime, Duration, Utc};

use super::cron::Schedule;
use crate::k8s::argocd::{Destination, SyncWindow};
use crate::k8s::crd::parse_go_duration;

/// Whether a sync may run now.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Verdict {
    Allowed,
    Denied(String),
    /// A window could not be judged (unknown time zone); the controller decides.
    Unknown(String),
}

impl Verdict {
    #[must_use]
    pub fn is_denied(&self) -> bool {
        matches!(self, Self::Denied(_))
    }
}

/// One window that applies to the app, and its state now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowState {
    pub window: SyncWindow,
    /// Open now; `None` when it cannot be judged.
    pub active: Option<bool>,
    /// Why it cannot be judged (bad schedule or duration, unknown time zone).
    pub problem: Option<String>,
    /// When it opens next (closed windows) or closes (open ones), if known.
    pub change_at: Option<DateTime<Utc>>,
}

/// The windows of an app's project that apply to it, and the verdicts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncWindows {
    pub windows: Vec<WindowState>,
    pub automated: Verdict,
    pub manual: Verdict,
}

/// A glob as Argo CD matches window fields (gobwas/glob without separators): `*` any text,
/// `?` one character, `[abc]`/`[a-z]`/`[!a]` a class, `{a,b}` alternatives.
#[must_use]
pub fn glob(pattern: &str, text: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    if let Some(open) = pattern.find('{')
        && let Some(close) = pattern[open..].find('}').map(|c| open + c)
    {
        let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
        return pattern[open + 1..close]
            .split(',')
            .any(|alt| glob(&format!("{head}{alt}{tail}"), text));
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob_at(&p, &t)
}

fn glob_at(p: &[char], t: &[char]) -> bool {
    match p.first() {
        None => t.is_empty(),
        Some('*') => (0..=t.len()).any(|i| glob_at(&p[1..], &t[i..])),
        Some('?') => !t.is_empty() && glob_at(&p[1..], &t[1..]),
        Some('[') => {
            let Some(end) = p.iter().position(|c| *c == ']') else {
                return t.first() == Some(&'[') && glob_at(&p[1..], &t[1..]);
            };
            let Some(c) = t.first() else { return false };
            let mut class = &p[1..end];
            let negate = matches!(class.first(), Some('!' | '^'));
            if negate {
                class = &class[1..];
            }
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= (class[i]..=class[i + 2]).contains(c);
                    i += 3;
                } else {
                    hit |= class[i] == *c;
                    i += 1;
                }
            }
            hit != negate && glob_at(&p[end + 1..], &t[1..])
        }
        Some(c) => t.first() == Some(c) && glob_at(&p[1..], &t[1..]),
    }
}

/// Whether `w` applies to the app named `app` deploying to `dest`.
#[must_use]
pub fn matches(w: &SyncWindow, app: &str, dest: &Destination) -> bool {
    let apps = (!w.applications.is_empty()).then(|| w.applications.iter().any(|a| glob(a, app)));
    let clusters = (!w.clusters.is_empty()).then(|| {
        w.clusters.iter().any(|c| {
            (!dest.name.is_empty() && glob(c, &dest.name))
                || (!dest.server.is_empty() && glob(c, &dest.server))
        })
    });
    let namespaces =
        (!w.namespaces.is_empty()).then(|| w.namespaces.iter().any(|n| glob(n, &dest.namespace)));
    let given = [apps, clusters, namespaces];
    if w.and_operator {
        given.iter().any(Option::is_some) && given.iter().all(|g| g.unwrap_or(true))
    } else {
        given.contains(&Some(true))
    }
}

/// The offset Argo CD adds for a window's time zone, if kdeck knows it.
fn zone_offset(zone: &str) -> Option<Duration> {
    match zone {
        "" | "UTC" | "Etc/UTC" | "GMT" | "Etc/GMT" | "Zulu" | "Etc/Zulu" => Some(Duration::zero()),
        _ => {
            // POSIX-style names: Etc/GMT+5 is five hours *behind* UTC.
            let rest = zone.strip_prefix("Etc/GMT")?;
            let hours: i64 = rest.parse().ok()?;
            (-14..=14).contains(&hours).then(|| Duration::hours(-hours))
        }
    }
}

/// Judges one window at `now`.
#[must_use]
pub fn state(w: &SyncWindow, now: DateTime<Utc>) -> WindowState {
    let unknown = |why: String| WindowState {
        window: w.clone(),
        active: None,
        problem: Some(why),
        change_at: None,
    };
    let schedule = match Schedule::parse(&w.schedule) {
        Ok(s) => s,
        Err(e) => return unknown(format!("cannot parse schedule '{}': {e}", w.schedule)),
    };
    let Some(duration) = parse_go_duration(&w.duration) else {
        return unknown(format!("cannot parse duration '{}'", w.duration));
    };
    let Some(offset) = zone_offset(&w.time_zone) else {
        return unknown(format!("time zone {} not evaluated by kdeck", w.time_zone));
    };
    let local = now + offset;
    let last_start = schedule.next(local - duration);
    let active = last_start.is_some_and(|s| s < local);
    let change_at = if active {
        last_start.map(|s| s + duration - offset)
    } else {
        schedule.next(local).map(|s| s - offset)
    };
    WindowState {
        window: w.clone(),
        active: Some(active),
        problem: None,
        change_at,
    }
}

fn describe(w: &SyncWindow) -> String {
    let mut s = format!("{} window '{}' for {}", w.kind, w.schedule, w.duration);
    if !w.description.is_empty() {
        s.push_str(&format!(" ({})", w.description));
    }
    s
}

fn verdict(states: &[WindowState], manual: bool) -> Verdict {
    if states.is_empty() {
        return Verdict::Allowed;
    }
    if let Some(bad) = states.iter().find(|s| {
        s.problem
            .as_ref()
            .is_some_and(|p| !p.starts_with("time zone"))
    }) {
        return Verdict::Denied(format!(
            "invalid sync windows: {}",
            bad.problem.clone().unwrap_or_default()
        ));
    }
    fn open<'a>(states: &'a [WindowState], kind: &'a str) -> impl Iterator<Item = &'a WindowState> {
        states
            .iter()
            .filter(move |s| s.window.kind == kind && s.active == Some(true))
    }
    let open = |kind: &'static str| open(states, kind);
    if let Some(deny) = open("deny").next() {
        // Manual syncs pass only if every open deny window allows them.
        if manual && open("deny").all(|s| s.window.manual_sync) {
            return Verdict::Allowed;
        }
        return Verdict::Denied(format!("blocked by {}", describe(&deny.window)));
    }
    if open("allow").next().is_some() {
        return Verdict::Allowed;
    }
    if let Some(unknown) = states.iter().find(|s| s.active.is_none()) {
        return Verdict::Unknown(unknown.problem.clone().unwrap_or_default());
    }
    let mut closed = states
        .iter()
        .filter(|s| s.window.kind == "allow")
        .peekable();
    if let Some(first) = closed.peek() {
        let why = format!("outside {}", describe(&first.window));
        if manual && closed.all(|s| s.window.manual_sync) {
            return Verdict::Allowed;
        }
        return Verdict::Denied(why);
    }
    Verdict::Allowed
}

/// The windows of `project_windows` that apply to app `app` at `dest`, judged at `now`.
#[must_use]
pub fn judge(
    project_windows: &[SyncWindow],
    app: &str,
    dest: &Destination,
    now: DateTime<Utc>,
) -> SyncWindows {
    let windows: Vec<WindowState> = project_windows
        .iter()
        .filter(|w| matches(w, app, dest))
        .map(|w| state(w, now))
        .collect();
    SyncWindows {
        automated: verdict(&windows, false),
        manual: verdict(&windows, true),
        windows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn window(kind: &str, schedule: &str, duration: &str) -> SyncWindow {
        SyncWindow {
            kind: kind.into(),
            schedule: schedule.into(),
            duration: duration.into(),
            applications: vec!["*".into()],
            ..SyncWindow::default()
        }
    }

    fn dest(ns: &str) -> Destination {
        Destination {
            server: "https://kubernetes.default.svc".into(),
            name: String::new(),
            namespace: ns.into(),
        }
    }

    #[test]
    fn globs() {
        assert!(glob("*", "anything"));
        assert!(glob("pay*", "payments"));
        assert!(!glob("pay*", "shop"));
        assert!(glob("prod-?", "prod-1"));
        assert!(glob("prod-[0-9]", "prod-7"));
        assert!(!glob("prod-[!0-9]", "prod-7"));
        assert!(glob("{shop,search}", "search"));
        assert!(glob("https://*.example.com", "https://eu.example.com"));
    }

    #[test]
    fn matching_is_or_unless_and_operator() {
        let mut w = window("deny", "0 0 * * *", "1h");
        w.applications = vec!["pay*".into()];
        w.namespaces = vec!["prod".into()];
        assert!(matches(&w, "payments", &dest("dev")));
        assert!(matches(&w, "shop", &dest("prod")));
        assert!(!matches(&w, "shop", &dest("dev")));
        w.and_operator = true;
        assert!(!matches(&w, "payments", &dest("dev")));
        assert!(matches(&w, "payments", &dest("prod")));
        let mut c = window("deny", "0 0 * * *", "1h");
        c.applications.clear();
        c.clusters = vec!["https://kubernetes.default.svc".into()];
        assert!(matches(&c, "x", &dest("y")));
    }

    #[test]
    fn open_and_closed_windows() {
        // 12:03:04 on a Sunday.
        let now = t("2026-11-22T12:03:04Z");
        // Opened at 12:00 for an hour: open, closes at 13:00.
        let s = state(&window("deny", "0 12 * * *", "1h"), now);
        assert_eq!(s.active, Some(true));
        assert_eq!(s.change_at, Some(t("2026-11-22T13:00:00Z")));
        // Opened at 11:00 for an hour: closed at 12:00; opens again tomorrow 11:00.
        let s = state(&window("deny", "0 11 * * *", "1h"), now);
        assert_eq!(s.active, Some(false));
        assert_eq!(s.change_at, Some(t("2026-11-23T11:00:00Z")));
        // Etc/GMT-2 is two hours ahead: 14:03 there, inside a 14:00 start.
        let mut z = window("deny", "0 14 * * *", "30m");
        z.time_zone = "Etc/GMT-2".into();
        assert_eq!(state(&z, now).active, Some(true));
        z.time_zone = "Europe/Berlin".into();
        assert_eq!(state(&z, now).active, None);
    }

    #[test]
    fn verdicts_follow_can_sync() {
        let now = t("2026-11-22T12:03:04Z");
        let d = dest("payments");
        let open_deny = window("deny", "0 12 * * *", "1h");
        let v = judge(std::slice::from_ref(&open_deny), "payments", &d, now);
        assert!(v.automated.is_denied());
        assert!(v.manual.is_denied());
        assert_eq!(
            v.manual,
            Verdict::Denied("blocked by deny window '0 12 * * *' for 1h".into())
        );
        let mut manual_ok = open_deny.clone();
        manual_ok.manual_sync = true;
        let v = judge(&[manual_ok.clone()], "payments", &d, now);
        assert!(v.automated.is_denied());
        assert_eq!(v.manual, Verdict::Allowed);
        // One open deny window without manualSync blocks manual syncs too.
        let v = judge(&[manual_ok, open_deny], "payments", &d, now);
        assert!(v.manual.is_denied());
        // Only closed allow windows: blocked, unless they all allow manual syncs.
        let closed_allow = window("allow", "0 22 * * *", "2h");
        let v = judge(std::slice::from_ref(&closed_allow), "payments", &d, now);
        assert!(v.automated.is_denied());
        assert!(v.manual.is_denied());
        let open_allow = window("allow", "0 12 * * *", "2h");
        let v = judge(&[closed_allow, open_allow], "payments", &d, now);
        assert_eq!(v.automated, Verdict::Allowed);
        // Windows for other apps do not apply.
        let mut other = window("deny", "0 12 * * *", "1h");
        other.applications = vec!["shop".into()];
        let v = judge(&[other], "payments", &d, now);
        assert!(v.windows.is_empty());
        assert_eq!(v.manual, Verdict::Allowed);
        // A schedule that cannot be read blocks, as the API server refuses then.
        let v = judge(&[window("deny", "every day", "1h")], "payments", &d, now);
        assert!(matches!(&v.manual, Verdict::Denied(w) if w.starts_with("invalid sync windows")));
    }
}
