//! A small cron parser for Velero schedules: the standard five fields (minute, hour,
//! day-of-month, month, day-of-week) with `*`, `*/n`, `a`, `a-b`, `a-b/n`, `a/n`, comma
//! lists, month and weekday names, plus the `@hourly`-style descriptors and `@every <dur>`.
//! Like the cron library Velero uses, when both day fields are restricted a day matches if
//! either does. Times are UTC, at minute resolution.

use chrono::{DateTime, Datelike, Duration as ChronoDuration, TimeZone, Timelike, Utc};

use crate::sim::clock;

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cron {
    Fields(Fields),
    /// `@every <duration>`: a fixed period.
    Every(i64),
}

/// The five cron fields, each a bit mask of the values it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// The day-of-month / day-of-week field was `*` (or `?`).
    days_any: bool,
    weekdays_any: bool,
}

fn field(spec: &str, lo: u32, hi: u32, names: &[&str]) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    let any = spec == "*" || spec == "?";
    let value = |s: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return Ok(lo + i as u32);
        }
        s.parse::<u32>().map_err(|_| format!("invalid value {s:?}"))
    };
    for item in spec.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .map_err(|_| format!("invalid step {s:?}"))?,
            ),
            None => (item, 1),
        };
        if step == 0 {
            return Err(format!("zero step in {item:?}"));
        }
        let (start, end) = if range == "*" || range == "?" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let a = value(range)?;
            (a, if item.contains('/') { hi } else { a })
        };
        if start < lo || end > hi || start > end {
            return Err(format!("{item:?} is outside {lo}-{hi}"));
        }
        let mut v = start;
        while v <= end {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, any))
}

const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Parses a cron expression.
pub fn parse(expr: &str) -> Result<Cron, String> {
    let expr = expr.trim();
    let expanded = match expr {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => expr,
    };
    if let Some(d) = expanded.strip_prefix("@every ") {
        let secs = clock::parse_go_duration(d).ok_or_else(|| format!("invalid duration {d:?}"))?;
        if secs < 1.0 {
            return Err("@every needs at least one second".into());
        }
        return Ok(Cron::Every(secs as i64));
    }
    let parts: Vec<&str> = expanded.split_whitespace().collect();
    let [min, hour, dom, month, dow] = parts.as_slice() else {
        return Err(format!(
            "expected exactly 5 fields, found {}: {expr:?}",
            parts.len()
        ));
    };
    let (minutes, _) = field(min, 0, 59, &[])?;
    let (hours, _) = field(hour, 0, 23, &[])?;
    let (days, days_any) = field(dom, 1, 31, &[])?;
    let (months, _) = field(month, 1, 12, MONTHS)?;
    // Day-of-week 7 is Sunday, like 0.
    let (mut weekdays, weekdays_any) = field(dow, 0, 7, WEEKDAYS)?;
    if weekdays & (1 << 7) != 0 {
        weekdays = (weekdays | 1) & !(1 << 7);
    }
    Ok(Cron::Fields(Fields {
        minutes,
        hours,
        days,
        months,
        weekdays,
        days_any,
        weekdays_any,
    }))
}

impl Fields {
    /// The first matching minute strictly after `t`, searching five years ahead.
    fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let has = |mask: u64, v: u32| mask & (1 << v) != 0;
        let day_ok = |d: &DateTime<Utc>| {
            let dom = has(self.days, d.day());
            let dow = has(self.weekdays, d.weekday().num_days_from_sunday());
            if self.days_any || self.weekdays_any {
                dom && dow
            } else {
                dom || dow
            }
        };
        let mut c = t.with_second(0)?.with_nanosecond(0)? + ChronoDuration::minutes(1);
        let limit = t + ChronoDuration::days(366 * 5);
        while c <= limit {
            if !has(self.months, c.month()) {
                let (y, m) = if c.month() == 12 {
                    (c.year() + 1, 1)
                } else {
                    (c.year(), c.month() + 1)
                };
                c = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single()?;
                continue;
            }
            if !day_ok(&c) {
                c = (c + ChronoDuration::days(1)).with_hour(0)?.with_minute(0)?;
                continue;
            }
            if !has(self.hours, c.hour()) {
                c = (c + ChronoDuration::hours(1)).with_minute(0)?;
                continue;
            }
            if !has(self.minutes, c.minute()) {
                c += ChronoDuration::minutes(1);
                continue;
            }
            return Some(c);
        }
        None
    }
}

impl Cron {
    /// The first activation strictly after `t`.
    #[must_use]
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Every(secs) => Some(t + ChronoDuration::seconds(*secs)),
            Self::Fields(f) => f.next_after(t),
        }
    }

    /// Activations in `(from, to]`, oldest first.
    #[must_use]
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut t = from;
        while let Some(n) = self.next_after(t) {
            if n > to {
                break;
            }
            out.push(n);
            t = n;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        clock::parse(s).unwrap()
    }

    fn next(expr: &str, from: &str) -> String {
        clock::fmt(parse(expr).unwrap().next_after(at(from)).unwrap())
    }

    #[test]
    fn common_schedules() {
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
            next("0 0 1 1 *", "2025-03-01T00:00:00Z"),
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(
            next("@daily", "2025-12-31T23:59:00Z"),
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(
            next("@every 1h30m", "2025-03-01T10:00:00Z"),
            "2025-03-01T11:30:00Z"
        );
    }

    #[test]
    fn lists_ranges_steps_and_names() {
        assert_eq!(
            next("15,45 9-17 * * mon-fri", "2025-03-01T10:00:00Z"),
            "2025-03-03T09:15:00Z"
        );
        assert_eq!(
            next("0 22 * * 1-5/2", "2025-03-03T23:00:00Z"),
            "2025-03-05T22:00:00Z"
        );
        assert_eq!(
            next("0 0 * feb sun", "2025-01-10T00:00:00Z"),
            "2025-02-02T00:00:00Z"
        );
        assert_eq!(
            next("0 12 * * 7", "2025-03-01T13:00:00Z"),
            "2025-03-02T12:00:00Z"
        );
        assert_eq!(
            next("10/20 * * * *", "2025-03-01T10:31:00Z"),
            "2025-03-01T10:50:00Z"
        );
        // Both day fields restricted: either matches (the 13th, or any Friday).
        assert_eq!(
            next("0 0 13 * 5", "2025-06-01T00:00:00Z"),
            "2025-06-06T00:00:00Z"
        );
        // February 31st never comes.
        assert_eq!(
            parse("0 0 31 2 *")
                .unwrap()
                .next_after(at("2025-01-01T00:00:00Z")),
            None
        );
    }

    #[test]
    fn rejects_malformed_expressions() {
        for bad in [
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "*/0 * * * *",
            "a b c d e",
            "5-1 * * * *",
            "@every 0s",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn between_lists_fires_in_order() {
        let c = parse("*/5 * * * *").unwrap();
        let fires = c.between(at("2025-03-01T10:00:00Z"), at("2025-03-01T11:00:00Z"));
        assert_eq!(fires.len(), 12);
        assert_eq!(clock::fmt(fires[0]), "2025-03-01T10:05:00Z");
        assert_eq!(clock::fmt(fires[11]), "2025-03-01T11:00:00Z");
    }
}
