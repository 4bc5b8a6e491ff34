//! Simulated durations scaled by `--speed`: timestamps stay wall-clock, only delays shrink.

use std::time::Duration;

/// Converts simulated seconds into real waiting time.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub speed: f64,
}

impl Pace {
    #[must_use]
    pub fn new(speed: f64) -> Self {
        Self {
            speed: if speed.is_finite() && speed > 0.0 {
                speed
            } else {
                1.0
            },
        }
    }

    /// Real time to wait for `secs` simulated seconds (at least 1 ms).
    #[must_use]
    pub fn secs(self, secs: f64) -> Duration {
        Duration::from_secs_f64((secs / self.speed).max(0.001))
    }
}
