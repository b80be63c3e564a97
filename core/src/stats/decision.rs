//! Decisions from tests: benchstat's Regression / Improvement / NoChange for
//! an old and a new sample set, and Pinpoint's DIFFERENT / SAME / UNKNOWN.

use serde::{Deserialize, Serialize};

use super::rank::{ks_2samp, mann_whitney_u, mwu_min_p};
use super::summary::{summarize, Summary};
use super::{Direction, Verdict, DEFAULT_ALPHA};

/// Default `alpha_different` of [`compare_decision`]: 0.01, stricter than
/// benchstat's 0.05 because the smaller of two p-values is taken.
pub const DEFAULT_ALPHA_DIFFERENT: f64 = 0.01;
/// Default `alpha_same` of [`compare_decision`]: only a p-value above 0.5
/// counts as evidence of sameness.
pub const DEFAULT_ALPHA_SAME: f64 = 0.5;

/// Outcome of [`compare_decision`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Decision {
    Different,
    Same,
    /// Not enough evidence either way: add repetitions and ask again.
    Unknown,
}

/// Decide whether two samples differ, as Chromium's Pinpoint does, from the
/// smaller of the KS and Mann-Whitney U p-values:
///
/// - `p <= alpha_different` gives `Different`;
/// - if the sample sizes are too small for the exact U test to ever reach
///   `alpha_different` (e.g. 3 vs 3 at 0.01), `Unknown`: the test has no power,
///   so a large p says nothing (Pinpoint's size-dependent high thresholds are
///   1.0 for its smallest sizes for the same reason);
/// - `p > alpha_same` (default [`DEFAULT_ALPHA_SAME`] = 0.5) gives `Same`;
/// - anything in between is `Unknown`.
///
/// Pinpoint derives its high threshold from the sample size and the magnitude
/// it wants to detect; without a magnitude we use one fixed, conservative
/// `alpha_same`. Taking the minimum of two p-values inflates the false
/// "different" rate a little (less than twice alpha), which is why the
/// suggested `alpha_different` is [`DEFAULT_ALPHA_DIFFERENT`] = 0.01. Empty
/// samples give `Unknown`.
pub fn compare_decision(a: &[f64], b: &[f64], alpha_different: f64, alpha_same: Option<f64>) -> Decision {
    let (Some(ks), Some(mw)) = (ks_2samp(a, b), mann_whitney_u(a, b)) else {
        return Decision::Unknown;
    };
    let p = ks.p.min(mw.p);
    if p <= alpha_different {
        Decision::Different
    } else if mwu_min_p(a.len(), b.len()) > alpha_different {
        Decision::Unknown
    } else if p > alpha_same.unwrap_or(DEFAULT_ALPHA_SAME) {
        Decision::Same
    } else {
        Decision::Unknown
    }
}

// ---------------------------------------------------------------------------
// Comparison of old vs new
// ---------------------------------------------------------------------------

/// Settings of [`compare`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CompareConfig {
    /// Significance level; a change needs `p <= alpha` (benchstat prints "~"
    /// only when p > alpha). Default 0.05.
    pub alpha: f64,
    /// Minimum magnitude as a fraction (0.02 = 2%): a change of the medians
    /// smaller than this is reported as not significant even with a tiny p.
    /// Default 0.0 (no gate).
    pub min_change: f64,
    pub direction: Direction,
}

impl CompareConfig {
    pub fn new(direction: Direction) -> CompareConfig {
        CompareConfig { alpha: DEFAULT_ALPHA, min_change: 0.0, direction }
    }
}

/// benchstat-style comparison of two sample sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub old: Summary,
    pub new: Summary,
    /// `(new.median / old.median - 1) * 100`; `None` when the old median is 0
    /// (and the new one is not).
    pub delta_pct: Option<f64>,
    /// Two-sided Mann-Whitney U p-value.
    pub p_value: f64,
    pub alpha: f64,
    pub min_change: f64,
    /// `p_value <= alpha` and `|delta| >= min_change`.
    pub significant: bool,
    pub direction: Direction,
    pub verdict: Verdict,
}

/// Compare `old` against `new`; `None` if either is empty.
pub fn compare(old: &[f64], new: &[f64], cfg: &CompareConfig) -> Option<Comparison> {
    let so = summarize(old)?;
    let sn = summarize(new)?;
    let mw = mann_whitney_u(old, new)?;
    let delta = if so.median == sn.median {
        Some(0.0)
    } else if so.median == 0.0 {
        None
    } else {
        Some(sn.median / so.median - 1.0)
    };
    // An unknown (infinite) relative change passes any magnitude gate.
    let big_enough = delta.is_none_or(|d| d.abs() >= cfg.min_change);
    let significant = mw.p <= cfg.alpha && big_enough;
    let verdict = if significant { cfg.direction.verdict(so.median, sn.median) } else { Verdict::NoChange };
    Some(Comparison {
        old: so,
        new: sn,
        delta_pct: delta.map(|d| d * 100.0),
        p_value: mw.p,
        alpha: cfg.alpha,
        min_change: cfg.min_change,
        significant,
        direction: cfg.direction,
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::testutil::{assert_close, B};

    #[test]
    fn decision_is_different_same_or_unknown() {
        let a: Vec<f64> = (0..20).map(|i| 100.0 + (i % 5) as f64).collect();
        let far: Vec<f64> = a.iter().map(|x| x + 50.0).collect();
        let same: Vec<f64> = a.iter().rev().copied().collect();
        assert_eq!(compare_decision(&a, &far, DEFAULT_ALPHA_DIFFERENT, None), Decision::Different);
        assert_eq!(compare_decision(&a, &same, DEFAULT_ALPHA_DIFFERENT, None), Decision::Same);
        // 3 vs 3 can never reach 0.01: Unknown, not Same, however alike.
        assert_eq!(compare_decision(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0], 0.01, None), Decision::Unknown);
        // B: KS p 0.026, U p 0.017 -> between 0.01 and 0.5.
        assert_eq!(compare_decision(B.0, B.1, 0.01, Some(0.5)), Decision::Unknown);
        assert_eq!(compare_decision(B.0, B.1, 0.02, Some(0.5)), Decision::Different);
    }

    #[test]
    fn comparison_honours_direction_alpha_and_magnitude_gate() {
        let old = [100.0, 101.0, 99.0, 100.5, 99.5, 100.2, 99.8, 100.1];
        let new = [110.0, 111.0, 109.0, 110.5, 109.5, 110.2, 109.8, 110.1];
        let rps = compare(&old, &new, &CompareConfig::new(Direction::HigherIsBetter)).unwrap();
        assert!(rps.significant);
        assert_eq!(rps.verdict, Verdict::Improvement);
        assert_close!(rps.delta_pct.unwrap(), (110.05 / 100.05 - 1.0) * 100.0, 1e-12);
        let lat = compare(&old, &new, &CompareConfig::new(Direction::LowerIsBetter)).unwrap();
        assert_eq!(lat.verdict, Verdict::Regression);
        let back = compare(&new, &old, &CompareConfig::new(Direction::LowerIsBetter)).unwrap();
        assert_eq!(back.verdict, Verdict::Improvement);
        // A 10% change under a 15% gate is not significant.
        let gated = CompareConfig { min_change: 0.15, ..CompareConfig::new(Direction::LowerIsBetter) };
        let g = compare(&old, &new, &gated).unwrap();
        assert!(!g.significant);
        assert_eq!(g.verdict, Verdict::NoChange);
        // Three a side: never significant at 0.05 however far apart.
        let small = compare(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0], &CompareConfig::new(Direction::LowerIsBetter)).unwrap();
        assert_eq!(small.verdict, Verdict::NoChange);
        let json = serde_json::to_string(&lat).unwrap();
        assert_eq!(serde_json::from_str::<Comparison>(&json).unwrap(), lat);
    }
}
