//! The noise floor of a host, from A/A measurements: the same image measured
//! as interleaved pairs, as a real comparison would run. It says how far
//! paired ratios spread when nothing changed, how wide the confidence
//! intervals are at a given number of runs, and the smallest change each
//! method detects at 90% power and 5% false alarms.
//!
//! The last number is found by resampling the measured A/A data with a
//! synthetic shift applied, not from a formula, so it holds for the noise
//! this host really has (drift, outliers, several modes) rather than for
//! Gaussian noise. Everything is deterministic given the seed.

use serde::{Deserialize, Serialize};

use super::paired::{paired_compare, signed_rank};
use super::rank::{mann_whitney_u_with, MwuMethod};
use super::rng::SplitMix64;
use super::summary::{iqr, max, median, median_ci, min};

/// Settings of [`noise_floor`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoiseConfig {
    pub seed: u64,
    /// Resamples per (method, size, shift).
    pub resamples: usize,
    /// Runs per side of the comparisons simulated.
    pub sizes: Vec<usize>,
    pub power: f64,
    pub alpha: f64,
}

impl Default for NoiseConfig {
    fn default() -> NoiseConfig {
        NoiseConfig { seed: 1, resamples: 400, sizes: vec![5, 10, 20], power: 0.9, alpha: 0.05 }
    }
}

/// What [`noise_floor`] finds for one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoiseFloor {
    pub pairs: usize,
    /// Spread of the A/A pair ratios b / a.
    pub ratio_min: f64,
    pub ratio_median: f64,
    pub ratio_max: f64,
    pub ratio_iqr: f64,
    pub sizes: Vec<AtSize>,
}

/// The floor at one number of runs per side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AtSize {
    pub n: usize,
    /// Median over resamples of the paired 95% CI width of the ratio
    /// (`hi - lo`); `None` when n is too small for a finite CI (n < 6).
    pub paired_ci_width: Option<f64>,
    /// Median over resamples of the relative width of one side's 95%
    /// median CI (`(hi - lo) / median`), what benchstat prints as +-;
    /// `None` below 6 runs.
    pub unpaired_ci_width: Option<f64>,
    /// Smallest relative change detected with `power` at `alpha`: by the
    /// Mann-Whitney U test on independent draws of the two sides, and by
    /// the signed-rank test on draws of whole pairs. `None` when no change
    /// up to 400% is (the test cannot reach `alpha` at this n).
    pub unpaired_detects: Option<f64>,
    pub paired_detects: Option<f64>,
    /// Rate of p <= alpha with no shift applied, after the null is imposed.
    pub unpaired_false_alarms: f64,
    pub paired_false_alarms: f64,
}

/// Largest relative shift searched.
const MAX_SHIFT: f64 = 4.0;

/// The noise floor of A/A pairs (`a[i]` and `b[i]` ran as pair `i`, same
/// image). `None` when the lengths differ, there are fewer than 2 pairs or a
/// value is not strictly positive.
///
/// Before resampling, the null is imposed exactly (the bootstrap-test rule):
/// B is divided by the median pair ratio for the paired method; for the
/// unpaired one B is divided by the ratio of the medians and both sides are
/// drawn from A and B pooled, so that a chance offset or shape difference of
/// the A/A sample does not count as power. The resampled U test uses the normal
/// approximation with tie correction (draws with replacement tie a lot, and
/// the exact tied distribution per resample would cost a table each).
pub fn noise_floor(a: &[f64], b: &[f64], cfg: &NoiseConfig) -> Option<NoiseFloor> {
    if a.len() != b.len() || a.len() < 2 || a.iter().chain(b).any(|&x| x.is_nan() || x <= 0.0) {
        return None;
    }
    let ratios: Vec<f64> = a.iter().zip(b).map(|(x, y)| y / x).collect();
    let paired_centre = median(&ratios)?;
    let unpaired_centre = median(b)? / median(a)?;
    let b_paired: Vec<f64> = b.iter().map(|y| y / paired_centre).collect();
    let pooled: Vec<f64> = a.iter().copied().chain(b.iter().map(|y| y / unpaired_centre)).collect();
    let mut sizes = Vec::new();
    for (k, &n) in cfg.sizes.iter().enumerate() {
        let mut rng = SplitMix64::new(cfg.seed ^ (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        // Common random numbers: one set of draws per size, reused for every
        // shift, so that power grows smoothly with the shift.
        let draws: Vec<Draw> = (0..cfg.resamples)
            .map(|_| Draw {
                pairs: (0..n).map(|_| rng.below(a.len())).collect(),
                a: (0..n).map(|_| rng.below(pooled.len())).collect(),
                b: (0..n).map(|_| rng.below(pooled.len())).collect(),
            })
            .collect();
        let paired_p = |d: &Draw, s: f64| -> f64 {
            let logs: Vec<f64> = d.pairs.iter().map(|&i| (b_paired[i] * (1.0 + s) / a[i]).ln()).collect();
            signed_rank(&logs).map_or(1.0, |t| t.p)
        };
        let unpaired_p = |d: &Draw, s: f64| -> f64 {
            let xa: Vec<f64> = d.a.iter().map(|&i| pooled[i]).collect();
            let xb: Vec<f64> = d.b.iter().map(|&i| pooled[i] * (1.0 + s)).collect();
            mann_whitney_u_with(&xa, &xb, MwuMethod::Asymptotic).map_or(1.0, |t| t.p)
        };
        let rate =
            |p: &dyn Fn(&Draw, f64) -> f64, s: f64| draws.iter().filter(|d| p(d, s) <= cfg.alpha).count() as f64 / draws.len() as f64;
        let widths = |w: &dyn Fn(&Draw) -> Option<f64>| -> Option<f64> {
            let ws: Option<Vec<f64>> = draws.iter().map(w).collect();
            median(&ws?)
        };
        sizes.push(AtSize {
            n,
            paired_ci_width: widths(&|d| {
                let xa: Vec<f64> = d.pairs.iter().map(|&i| a[i]).collect();
                let xb: Vec<f64> = d.pairs.iter().map(|&i| b[i]).collect();
                let c = paired_compare(&xa, &xb)?;
                Some(c.ci_high? - c.ci_low?)
            }),
            unpaired_ci_width: widths(&|d| {
                let xb: Vec<f64> = d.b.iter().map(|&i| pooled[i]).collect();
                let (lo, hi) = median_ci(&xb, 0.95)?;
                Some((hi - lo) / median(&xb)?)
            }),
            unpaired_detects: smallest_detected(&|s| rate(&unpaired_p, s), cfg.power),
            paired_detects: smallest_detected(&|s| rate(&paired_p, s), cfg.power),
            unpaired_false_alarms: rate(&unpaired_p, 0.0),
            paired_false_alarms: rate(&paired_p, 0.0),
        });
    }
    Some(NoiseFloor {
        pairs: a.len(),
        ratio_min: min(&ratios)?,
        ratio_median: paired_centre,
        ratio_max: max(&ratios)?,
        ratio_iqr: iqr(&ratios)?,
        sizes,
    })
}

/// One resample: pair indices for the paired method, independent indices
/// into the pooled values for each side of the unpaired one.
struct Draw {
    pairs: Vec<usize>,
    a: Vec<usize>,
    b: Vec<usize>,
}

/// The smallest shift whose power reaches `target`: doubling from 1% to
/// bracket it, then 12 halvings (a resolution of 1/4096 of the bracket).
fn smallest_detected(power: &dyn Fn(f64) -> f64, target: f64) -> Option<f64> {
    let mut hi = 0.01;
    while power(hi) < target {
        hi *= 2.0;
        if hi > MAX_SHIFT {
            return None;
        }
    }
    let mut lo = 0.0;
    for _ in 0..12 {
        let mid = (lo + hi) / 2.0;
        if power(mid) >= target {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A/A pairs with a common drift of +-10% (a slow sine over the runs)
    /// and an independent jitter of about 1% per run: the drift is what
    /// pairing cancels.
    fn drifting(n: usize) -> (Vec<f64>, Vec<f64>) {
        let mut rng = SplitMix64::new(7);
        let mut jitter = || 1.0 + (rng.below(2001) as f64 - 1000.0) / 1000.0 * 0.017;
        let drift = |i: usize| 100.0 * (1.0 + 0.1 * (i as f64 * 0.1).sin());
        let a = (0..n).map(|i| drift(2 * i) * jitter()).collect();
        let b = (0..n).map(|i| drift(2 * i + 1) * jitter()).collect();
        (a, b)
    }

    #[test]
    fn pairing_beats_drift_and_the_answer_is_reproducible() {
        let (a, b) = drifting(30);
        let cfg = NoiseConfig { resamples: 200, ..NoiseConfig::default() };
        let f = noise_floor(&a, &b, &cfg).unwrap();
        assert_eq!(f, noise_floor(&a, &b, &cfg).unwrap());
        assert_eq!(f.pairs, 30);
        assert!(f.ratio_min < 1.0 && f.ratio_max > 1.0 && f.ratio_min < f.ratio_median && f.ratio_median < f.ratio_max);
        let at = |n: usize| f.sizes.iter().find(|s| s.n == n).unwrap();
        // n = 5: no finite 95% CI, and the signed-rank test cannot reach 5%
        // (its smallest p is 2 / 32), so pairing detects nothing at 5 runs.
        assert_eq!((at(5).paired_ci_width, at(5).unpaired_ci_width, at(5).paired_detects), (None, None, None));
        assert!(at(5).unpaired_detects.is_some());
        for n in [10, 20] {
            let s = at(n);
            let (paired, unpaired) = (s.paired_detects.unwrap(), s.unpaired_detects.unwrap());
            // Jitter of ~1% a run against a +-10% drift: pairing must see
            // several times smaller changes.
            assert!(paired * 3.0 < unpaired, "n {n}: paired {paired} unpaired {unpaired}");
            assert!(paired < 0.03, "n {n}: paired {paired}");
            assert!(s.paired_false_alarms <= 0.1 && s.unpaired_false_alarms <= 0.1, "{s:?}");
            assert!(s.paired_ci_width.unwrap() < s.unpaired_ci_width.unwrap());
        }
        // More runs, smaller floor.
        assert!(at(20).paired_detects < at(10).paired_detects);
        assert!(at(20).unpaired_detects < at(10).unpaired_detects);
        let other = noise_floor(&a, &b, &NoiseConfig { seed: 2, ..cfg }).unwrap();
        assert_ne!(other, f);
    }

    #[test]
    fn smallest_detected_brackets_and_halves() {
        // A power curve that reaches 0.9 at exactly 0.15.
        let s = smallest_detected(&|s| if s >= 0.15 { 1.0 } else { 0.0 }, 0.9).unwrap();
        assert!((0.15..0.15 + 0.16 / 4096.0 + 1e-12).contains(&s), "{s}");
        assert_eq!(smallest_detected(&|_| 0.0, 0.9), None);
        assert!(noise_floor(&[1.0], &[1.0], &NoiseConfig::default()).is_none());
        assert!(noise_floor(&[1.0, 2.0], &[1.0], &NoiseConfig::default()).is_none());
    }
}
