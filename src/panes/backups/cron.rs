//! Velero schedules' cron expressions, read as Velero's scheduler reads them: the cron library
//! it uses (robfig/cron, `ParseStandard`) takes exactly five fields (minute, hour,
//! day-of-month, month, day-of-week 0-6), `*`, `?`, `a`, `a-b`, `a-b/n`, `*/n`, `a/n` (from a
//! to the end), comma lists, three-letter month and weekday names, and the descriptors
//! `@yearly` `@annually` `@monthly` `@weekly` `@daily` `@midnight` `@hourly` and
//! `@every <Go duration>`. Anything else (`L`, `W`, `#`, seconds, weekday 7) Velero rejects
//! with FailedValidation, and so does this. The fields are checked here; the matching and
//! the next-time search are the `croner` crate's. Times are UTC (the Velero server's zone).

use std::str::FromStr;

use chrono::{DateTime, Duration, DurationRound, Utc};
use croner::Cron;
use croner::parser::CronParser;

/// A parsed schedule.
#[derive(Debug, Clone)]
pub enum VeleroCron {
    /// Five cron fields.
    Fields(Box<Cron>),
    /// `@every <duration>`: a fixed period (whole seconds, at least one).
    Every(Duration),
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// One field: (name, lowest, highest, names of values from `lowest` on).
type FieldSpec = (&'static str, u32, u32, &'static [&'static str]);
const FIELDS: [FieldSpec; 5] = [
    ("minute", 0, 59, &[]),
    ("hour", 0, 23, &[]),
    ("day of month", 1, 31, &[]),
    ("month", 1, 12, &MONTHS),
    ("day of week", 0, 6, &WEEKDAYS),
];

/// A value of a field: a number or (month, weekday) a three-letter name.
fn value(atom: &str, spec: &FieldSpec) -> Result<u32, String> {
    let (what, lo, hi, names) = spec;
    let v = match names.iter().position(|n| n.eq_ignore_ascii_case(atom)) {
        Some(i) => lo + u32::try_from(i).unwrap_or(0),
        None => atom
            .parse::<u32>()
            .map_err(|_| format!("{what}: {atom:?} is not a number"))?,
    };
    if v < *lo || v > *hi {
        return Err(format!("{what}: {v} is outside {lo}-{hi}"));
    }
    Ok(v)
}

/// One field, checked and written with numbers only (`?` and `*/1` as `*`, names as
/// numbers), so the matcher sees what Velero's parser would have understood.
fn field(text: &str, spec: &FieldSpec) -> Result<String, String> {
    let mut parts = Vec::new();
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .map_err(|_| format!("{}: bad step in {item:?}", spec.0))?;
                if step == 0 {
                    return Err(format!("{}: zero step in {item:?}", spec.0));
                }
                (r, Some(step))
            }
            None => (item, None),
        };
        let range = if range == "?" { "*" } else { range };
        let body = if range == "*" {
            "*".to_string()
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a, spec)?, value(b, spec)?);
            if a > b {
                return Err(format!("{}: {item:?} runs backwards", spec.0));
            }
            format!("{a}-{b}")
        } else {
            let a = value(range, spec)?;
            // `a/n` means from a to the end of the field.
            if step.is_some() {
                format!("{a}-{}", spec.2)
            } else {
                a.to_string()
            }
        };
        parts.push(match step {
            Some(1) | None => body,
            Some(s) => format!("{body}/{s}"),
        });
    }
    Ok(parts.join(","))
}

fn descriptor(expr: &str) -> Option<&'static str> {
    Some(match expr {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => return None,
    })
}

/// Parses a Velero schedule expression; the error reads like a validation error.
pub fn parse(expr: &str) -> Result<VeleroCron, String> {
    let expr = expr.trim();
    if expr.is_empty() {
        return Err("the schedule is empty".into());
    }
    if let Some(d) = expr.strip_prefix("@every ") {
        let d = crate::k8s::crd::parse_go_duration(d)
            .ok_or_else(|| format!("@every: {:?} is not a duration", d.trim()))?;
        // Whole seconds, and at least one, as the Go library rounds it.
        let secs = d.num_seconds().max(1);
        return Ok(VeleroCron::Every(Duration::seconds(secs)));
    }
    let fields = match descriptor(expr) {
        Some(f) => f.to_string(),
        None if expr.starts_with('@') => return Err(format!("unknown descriptor {expr:?}")),
        None => expr.to_string(),
    };
    let parts: Vec<&str> = fields.split_whitespace().collect();
    if parts.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: {expr:?}",
            parts.len()
        ));
    }
    let normal = parts
        .iter()
        .zip(FIELDS.iter())
        .map(|(p, spec)| field(p, spec))
        .collect::<Result<Vec<_>, _>>()?
        .join(" ");
    let parser = CronParser::builder().sloppy_ranges(true).build();
    let cron = parser
        .parse(&normal)
        .or_else(|_| Cron::from_str(&normal))
        .map_err(|e| format!("{expr:?}: {e}"))?;
    Ok(VeleroCron::Fields(Box::new(cron)))
}

impl VeleroCron {
    /// The first run strictly after `t` (as Velero's `Schedule.Next`), `None` if there is none
    /// within the next years (`0 0 30 2 *`).
    #[must_use]
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Every(d) => Some(t.duration_trunc(Duration::seconds(1)).unwrap_or(t) + *d),
            Self::Fields(c) => c.find_next_occurrence(&t, false).ok(),
        }
    }

    /// The last run at or before `t`; for `@every`, which has no fixed phase, `None`.
    #[must_use]
    pub fn last_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Every(_) => None,
            Self::Fields(c) => c.find_previous_occurrence(&t, true).ok(),
        }
    }

    /// How long after `t` the run after the next one comes: the schedule's period there.
    #[must_use]
    pub fn period_after(&self, t: DateTime<Utc>) -> Option<Duration> {
        match self {
            Self::Every(d) => Some(*d),
            Self::Fields(_) => {
                let a = self.next_after(t)?;
                Some(self.next_after(a)? - a)
            }
        }
    }

    /// A short reading for a table cell: `every 5m`, `hourly at :30`, `daily at 02:00`,
    /// `Sun at 03:00`; otherwise the library's description.
    #[must_use]
    pub fn describe(&self) -> String {
        let c = match self {
            Self::Every(d) => return format!("every {}", go_duration(*d)),
            Self::Fields(c) => c,
        };
        let p = &c.pattern;
        let all = |v: &[u16], lo: u16, hi: u16| v.len() == usize::from(hi - lo + 1);
        let (min, hour) = (p.minutes.values(), p.hours.values());
        let (dom, month, dow) = (p.days.values(), p.months.values(), p.days_of_week.values());
        let any_day = all(&dom, 1, 31) && all(&month, 1, 12) && all(&dow, 0, 6);
        if any_day {
            if let Some(step) = even_step(&min, 60).filter(|_| all(&hour, 0, 23)) {
                return if step == 1 {
                    "every minute".into()
                } else {
                    format!("every {step}m")
                };
            }
            if let [m] = min.as_slice() {
                if all(&hour, 0, 23) {
                    return format!("hourly at :{m:02}");
                }
                if let [h] = hour.as_slice() {
                    return format!("daily at {h:02}:{m:02}");
                }
                if let Some(step) = even_step(&hour, 24) {
                    return format!("every {step}h at :{m:02}");
                }
            }
        }
        if let ([m], [h], true, true, [d]) = (
            min.as_slice(),
            hour.as_slice(),
            all(&dom, 1, 31),
            all(&month, 1, 12),
            dow.as_slice(),
        ) {
            let day = WEEKDAYS[usize::from(*d)];
            return format!("{}{} at {h:02}:{m:02}", day[..1].to_uppercase(), &day[1..]);
        }
        c.describe().trim_end_matches('.').to_string()
    }
}

/// The step when `values` are 0, s, 2s … covering a field of `size` values evenly.
fn even_step(values: &[u16], size: u16) -> Option<u16> {
    let step = match values {
        [0] if size == 1 => return Some(1),
        [0, b, ..] => *b,
        _ => return None,
    };
    (step > 0
        && size.is_multiple_of(step)
        && values.len() == usize::from(size / step)
        && values
            .iter()
            .enumerate()
            .all(|(i, v)| *v == step * i as u16))
    .then_some(step)
}

/// A duration as Go prints the short forms: `6h`, `1h30m`, `45s`.
#[must_use]
pub fn go_duration(d: Duration) -> String {
    let s = d.num_seconds();
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if sec > 0 || out.is_empty() {
        out.push_str(&format!("{sec}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn next(expr: &str, from: &str) -> String {
        parse(expr)
            .unwrap()
            .next_after(at(from))
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    #[test]
    fn next_runs_of_the_usual_schedules() {
        // Worked out on a calendar: 2025-03-01 is a Saturday.
        assert_eq!(
            next("*/5 * * * *", "2025-03-01T10:02:30Z"),
            "2025-03-01T10:05:00Z"
        );
        assert_eq!(
            next("*/5 * * * *", "2025-03-01T10:05:00Z"),
            "2025-03-01T10:10:00Z"
        );
        assert_eq!(
            next("0 * * * *", "2025-03-01T10:00:00Z"),
            "2025-03-01T11:00:00Z"
        );
        assert_eq!(
            next("0 2 * * *", "2025-03-01T02:00:01Z"),
            "2025-03-02T02:00:00Z"
        );
        assert_eq!(
            next("30 */6 * * *", "2025-03-01T07:00:00Z"),
            "2025-03-01T12:30:00Z"
        );
        assert_eq!(
            next("@daily", "2025-12-31T23:59:00Z"),
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(
            next("@midnight", "2025-03-01T00:00:00Z"),
            "2025-03-02T00:00:00Z"
        );
        assert_eq!(
            next("@weekly", "2025-03-01T10:00:00Z"),
            "2025-03-02T00:00:00Z"
        );
        assert_eq!(
            next("@hourly", "2025-03-01T10:59:59Z"),
            "2025-03-01T11:00:00Z"
        );
        assert_eq!(
            next("@every 6h", "2025-03-01T10:00:00.7Z"),
            "2025-03-01T16:00:00Z"
        );
        assert_eq!(
            next("@every 1h30m", "2025-03-01T10:00:00Z"),
            "2025-03-01T11:30:00Z"
        );
        // Names, lists, ranges with steps, `a/n` from a to the end, `?`.
        assert_eq!(
            next("15,45 9-17 * * mon-fri", "2025-03-01T10:00:00Z"),
            "2025-03-03T09:15:00Z"
        );
        assert_eq!(
            next("0 22 * * 1-5/2", "2025-03-03T23:00:00Z"),
            "2025-03-05T22:00:00Z"
        );
        assert_eq!(
            next("0 0 ? FEB SUN", "2025-01-10T00:00:00Z"),
            "2025-02-02T00:00:00Z"
        );
        assert_eq!(
            next("10/20 * * * *", "2025-03-01T10:31:00Z"),
            "2025-03-01T10:50:00Z"
        );
        // Both day fields restricted: either one matches (the 13th, or any Friday).
        assert_eq!(
            next("0 0 13 * 5", "2025-06-01T00:00:00Z"),
            "2025-06-06T00:00:00Z"
        );
        // One of them `*` (or `*/1`): the other one alone decides.
        assert_eq!(
            next("0 0 */1 * 5", "2025-06-01T00:00:00Z"),
            "2025-06-06T00:00:00Z"
        );
        assert_eq!(
            parse("0 0 31 2 *")
                .unwrap()
                .next_after(at("2025-01-01T00:00:00Z")),
            None
        );
    }

    #[test]
    fn what_velero_rejects_is_rejected() {
        for bad in [
            "",
            "* * * *",
            "0 * * * * *",
            "60 * * * *",
            "* 24 * * *",
            "0 0 * * 7",
            "*/0 * * * *",
            "5-1 * * * *",
            "0 0 L * *",
            "0 0 * * 5#2",
            "0 0 1W * *",
            "0 0 * * monday",
            "@reboot",
            "@every soon",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn periods_and_last_runs() {
        let c = parse("30 */6 * * *").unwrap();
        let t = at("2025-03-01T13:00:00Z");
        assert_eq!(c.last_at_or_before(t), Some(at("2025-03-01T12:30:00Z")));
        assert_eq!(c.period_after(t), Some(Duration::hours(6)));
        // Weekdays only: from Friday evening the next gap is the weekend.
        let w = parse("0 9 * * 1-5").unwrap();
        assert_eq!(
            w.period_after(at("2025-02-27T10:00:00Z")),
            Some(Duration::days(3))
        );
        assert_eq!(
            parse("@every 90m").unwrap().period_after(t),
            Some(Duration::minutes(90))
        );
    }

    #[test]
    fn short_readings() {
        let d = |e: &str| parse(e).unwrap().describe();
        assert_eq!(d("*/5 * * * *"), "every 5m");
        assert_eq!(d("* * * * *"), "every minute");
        assert_eq!(d("0 * * * *"), "hourly at :00");
        assert_eq!(d("@hourly"), "hourly at :00");
        assert_eq!(d("0 2 * * *"), "daily at 02:00");
        assert_eq!(d("30 */6 * * *"), "every 6h at :30");
        assert_eq!(d("0 3 * * 0"), "Sun at 03:00");
        assert_eq!(d("@every 6h"), "every 6h");
        assert_eq!(d("@every 1h30m"), "every 1h30m");
        // Irregular ones fall back to the library's words.
        assert_eq!(d("0 0 13 * 5"), "At 00:00, on day 13 or Friday");
    }
}
