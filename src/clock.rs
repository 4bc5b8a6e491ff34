//! Time as the view models see it: the system clock, or a fixed instant in tests, so ages and
//! "stale since" render the same on every run.

use chrono::{DateTime, Local, Utc};

/// Where "now" comes from.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    Fixed(DateTime<Utc>),
}

impl Clock {
    #[must_use]
    pub fn now(self) -> DateTime<Utc> {
        match self {
            Self::System => Utc::now(),
            Self::Fixed(t) => t,
        }
    }

    /// Wall-clock time of day for status text (`stale since 12:03:04`): local time on a real
    /// clock, UTC on a fixed one so snapshots do not depend on the machine's zone.
    #[must_use]
    pub fn time_of_day(self, t: DateTime<Utc>) -> String {
        match self {
            Self::System => t.with_timezone(&Local).format("%H:%M:%S").to_string(),
            Self::Fixed(_) => t.format("%H:%M:%S").to_string(),
        }
    }
}

/// Compact age like kubectl prints it: `42s`, `5m`, `3h12m`, `4d`.
#[must_use]
pub fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds().max(0);
    short_duration(secs)
}

/// Seconds as a compact duration: `42s`, `5m3s`, `3h12m`, `4d2h`.
#[must_use]
pub fn short_duration(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..600 => {
            let s = secs % 60;
            if s == 0 {
                format!("{}m", secs / 60)
            } else {
                format!("{}m{s}s", secs / 60)
            }
        }
        600..3600 => format!("{}m", secs / 60),
        3600..86_400 => {
            let m = (secs % 3600) / 60;
            if m == 0 {
                format!("{}h", secs / 3600)
            } else {
                format!("{}h{m}m", secs / 3600)
            }
        }
        _ => {
            let h = (secs % 86_400) / 3600;
            if h == 0 || secs >= 10 * 86_400 {
                format!("{}d", secs / 86_400)
            } else {
                format!("{}d{h}h", secs / 86_400)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_kubectl() {
        assert_eq!(short_duration(0), "0s");
        assert_eq!(short_duration(59), "59s");
        assert_eq!(short_duration(60), "1m");
        assert_eq!(short_duration(185), "3m5s");
        assert_eq!(short_duration(720), "12m");
        assert_eq!(short_duration(3600), "1h");
        assert_eq!(short_duration(3600 + 12 * 60 + 5), "1h12m");
        assert_eq!(short_duration(2 * 86_400 + 3 * 3600), "2d3h");
        assert_eq!(short_duration(12 * 86_400), "12d");
        assert_eq!(short_duration(-5), "0s");
    }
}
