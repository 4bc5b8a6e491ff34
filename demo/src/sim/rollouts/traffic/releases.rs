//! Istio traffic model (see traffic.rs): how each release behaves, good or bad, and the
//! log-normal latency shares that become `istio_request_duration_milliseconds` buckets.

use crate::sim::SimRng;
use crate::sim::rollouts::util;

/// How a release behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quality {
    pub bad: bool,
    /// Share of requests answered 500.
    pub error_share: f64,
    /// Median latency (ms) and log-normal spread.
    pub median_ms: f64,
    pub sigma: f64,
}

/// Images the scenario relies on, good or bad regardless of the seed.
const KNOWN_RELEASES: &[(&str, bool)] = &[
    ("checkout:1.8.0", false),
    ("checkout:1.8.1", false),
    ("checkout:1.8.2", false),
    ("checkout:1.7.9", false),
    ("search-api:2.13.3", false),
    ("search-api:2.13.4", false),
    ("search-api:2.14.0", true),
    ("payments-api:3.1.9", false),
    ("payments-api:3.2.0", false),
    ("payments-api:3.3.0", false),
    ("recommendations:0.9.4", false),
    ("recommendations:0.9.5", false),
];

/// Whether a release (image) is bad: the scenario's own releases are fixed, tags that say
/// `bad`/`broken` are bad (handy with `kubectl argo rollouts set image`), and the rest are
/// bad about one time in four, decided by the seed.
#[must_use]
pub fn release_is_bad(seed: u64, image: &str) -> bool {
    let short = image.rsplit('/').next().unwrap_or(image);
    if let Some((_, bad)) = KNOWN_RELEASES.iter().find(|(i, _)| *i == short) {
        return *bad;
    }
    let tag = short.rsplit(':').next().unwrap_or_default();
    if tag.contains("bad") || tag.contains("broken") {
        return true;
    }
    SimRng::new(
        seed ^ u64::from(util::fnv32a(short.as_bytes())),
        0,
        "release",
    )
    .chance(0.25)
}

#[must_use]
pub fn quality(seed: u64, image: &str) -> Quality {
    let mut rng = SimRng::new(
        seed ^ u64::from(util::fnv32a(image.as_bytes())),
        0,
        "quality",
    );
    if release_is_bad(seed, image) {
        Quality {
            bad: true,
            error_share: 0.22 + rng.f64() * 0.1,
            median_ms: 180.0 + rng.f64() * 60.0,
            sigma: 0.9,
        }
    } else {
        Quality {
            bad: false,
            error_share: 0.002 + rng.f64() * 0.006,
            median_ms: 32.0 + rng.f64() * 20.0,
            sigma: 0.55,
        }
    }
}

/// Share of a log-normal latency distribution at or below `le` ms.
pub(crate) fn cdf(le: f64, median: f64, sigma: f64) -> f64 {
    if le <= 0.0 {
        return 0.0;
    }
    let z = (le.ln() - median.ln()) / (sigma * std::f64::consts::SQRT_2);
    0.5 * (1.0 + erf(z))
}

/// Abramowitz–Stegun 7.1.26; plenty for bucket shares.
fn erf(x: f64) -> f64 {
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    sign * y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rollouts::traffic::BUCKETS;

    #[test]
    fn bucket_shares_are_cumulative() {
        let mut prev = 0.0;
        for le in BUCKETS {
            let c = cdf(le, 40.0, 0.55);
            assert!(c >= prev && c <= 1.0);
            prev = c;
        }
        assert!(cdf(40.0, 40.0, 0.55) > 0.49 && cdf(40.0, 40.0, 0.55) < 0.51);
        assert!(prev > 0.999);
    }

    #[test]
    fn scenario_releases_have_fixed_quality() {
        for seed in [1, 2, 3, 99] {
            assert!(release_is_bad(
                seed,
                "demo.registry.local/search-api:2.14.0"
            ));
            assert!(!release_is_bad(seed, "demo.registry.local/checkout:1.8.2"));
            assert!(release_is_bad(seed, "x/checkout:1.9.0-bad"));
        }
        let bad = quality(1, "x/search-api:2.14.0");
        let good = quality(1, "x/checkout:1.8.2");
        assert!(bad.error_share > 0.2 && good.error_share < 0.01);
        // About a quarter of unknown releases are bad.
        let n = (0..400)
            .filter(|i| release_is_bad(7, &format!("x/app:1.{i}.0")))
            .count();
        assert!((60..140).contains(&n), "{n}");
    }
}
