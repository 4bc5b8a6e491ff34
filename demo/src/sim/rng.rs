//! A small seeded random source, so a given `--seed` always plays the same scenario.

use crate::api::store::mix64;

#[derive(Debug, Clone)]
pub struct SimRng(u64);

impl SimRng {
    /// A stream for one purpose (`stream` names it) of one cluster under one seed.
    #[must_use]
    pub fn new(seed: u64, cluster: usize, stream: &str) -> Self {
        let mut h = seed ^ (cluster as u64).wrapping_mul(0x0100_0000_01B3);
        for b in stream.bytes() {
            h = mix64(h ^ u64::from(b));
        }
        Self(h)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next_u64() % (hi - lo)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }
}
