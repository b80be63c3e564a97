//! Decisions from tests: Pinpoint's DIFFERENT / SAME / UNKNOWN, unpaired and
//! paired, the rule for adding repetitions while a decision is UNKNOWN, and
//! benchstat's Regression / Improvement / NoChange for an old and a new
//! sample set.

use serde::{Deserialize, Serialize};

use super::paired::PairedComparison;
use super::rank::{ks_2samp, mann_whitney_u, mwu_min_p};
use super::special;
use super::summary::{iqr, median, summarize, Summary};
use super::{Direction, Verdict, DEFAULT_ALPHA};

/// Pinpoint's low threshold: `min(p_KS, p_MWU) <= 0.01` is DIFFERENT. It is
/// stricter than benchstat's 0.05 because the smaller of two p-values is
/// taken, which inflates the false-alarm rate (by less than twice).
pub const DEFAULT_ALPHA_DIFFERENT: f64 = 0.01;
/// The SAME threshold of [`compare_decision`] when no magnitude is
/// expected: only a p-value above 0.5 counts as evidence of sameness.
pub const DEFAULT_ALPHA_SAME: f64 = 0.5;

/// The share of comparisons with a real change of the expected magnitude
/// that [`same_threshold`] lets through as SAME.
pub const MISS_RATE: f64 = 0.05;

/// Outcome of a Pinpoint-style comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Decision {
    Different,
    Same,
    /// Not enough evidence either way: add repetitions and ask again.
    Unknown,
}

/// A [`decide`] answer with the numbers behind it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Decided {
    pub decision: Decision,
    pub p_ks: f64,
    pub p_mwu: f64,
    /// Above this `min(p_KS, p_MWU)` is SAME.
    pub same_threshold: f64,
    /// The expected change in units of the noise (robust standard
    /// deviations, IQR / 1.349) that the threshold was derived from.
    pub shift_sigmas: f64,
}

/// Decide whether `b` differs from `a`, as Chromium's Pinpoint does, from
/// `p = min(p_KS, p_MWU)`: DIFFERENT when `p <= 0.01`, SAME when `p` is above
/// [`same_threshold`] for the expected change `magnitude` (a fraction of
/// `a`'s median, 0.05 = 5%) and the sample sizes, UNKNOWN in between.
///
/// The magnitude is put in units of the measured noise: the mean of the two
/// samples' IQRs (each sample's own, so that a real shift does not widen
/// it), over 1.349, the IQR of a unit normal. `None` if a sample is empty.
pub fn decide(a: &[f64], b: &[f64], magnitude: f64) -> Option<Decided> {
    let ks = ks_2samp(a, b)?;
    let mw = mann_whitney_u(a, b)?;
    let sigma = (iqr(a)? + iqr(b)?) / 2.0 / 1.349;
    let shift = (magnitude * median(a)?).abs();
    let shift_sigmas = if shift == 0.0 { 0.0 } else { shift / sigma };
    let same = same_threshold(a.len(), b.len(), shift_sigmas);
    let p = ks.p.min(mw.p);
    let decision = if p <= DEFAULT_ALPHA_DIFFERENT {
        Decision::Different
    } else if p > same {
        Decision::Same
    } else {
        Decision::Unknown
    };
    Some(Decided { decision, p_ks: ks.p, p_mwu: mw.p, same_threshold: same, shift_sigmas })
}

/// Pinpoint's rule when no magnitude is expected (a rerun judged against its
/// record): `min(p_KS, p_MWU) <= alpha_different` is DIFFERENT; samples too
/// small for the exact U test to ever reach `alpha_different` are UNKNOWN
/// (the test has no power, so a large p says nothing); `p > alpha_same`
/// (default [`DEFAULT_ALPHA_SAME`]) is SAME; anything in between, and empty
/// samples, UNKNOWN. With an expected magnitude, [`decide`] derives the SAME
/// threshold from it instead.
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

/// Pinpoint's "high threshold": the p-value that a real shift of
/// `shift_sigmas` noise units between samples of sizes m and n stays below
/// with probability `1 - MISS_RATE`, so that a p above it is evidence that no
/// such shift happened. Pinpoint tabulates it by simulation; here it comes
/// from the normal approximation of the U statistic under a normal shift:
/// theta = P(a < b) = Phi(shift / sqrt 2), the expected z is
/// (theta - 1/2) m n / sqrt(m n (m + n + 1) / 12), and the threshold is the
/// two-sided p of that z lowered by the `1 - MISS_RATE` normal quantile
/// (1.645). It is 1 (never SAME) when the samples are too small to tell, and
/// falls with n until it meets [`DEFAULT_ALPHA_DIFFERENT`], beyond which nothing is
/// UNKNOWN, which bounds the repetitions.
pub fn same_threshold(m: usize, n: usize, shift_sigmas: f64) -> f64 {
    const Z_MISS: f64 = 1.6448536269514722; // P(Z > z) = MISS_RATE
    let (mf, nf) = (m as f64, n as f64);
    if m == 0 || n == 0 {
        return 1.0;
    }
    let theta = 1.0 - special::normal_sf(shift_sigmas / std::f64::consts::SQRT_2);
    let z = (theta - 0.5) * mf * nf / (mf * nf * (mf + nf + 1.0) / 12.0).sqrt();
    let low = z - Z_MISS;
    if low <= 0.0 {
        1.0
    } else {
        (2.0 * special::normal_sf(low)).max(DEFAULT_ALPHA_DIFFERENT)
    }
}

/// Paired decision on [`PairedComparison`]: DIFFERENT when the 95% CI of the
/// ratio excludes 1, SAME when it lies within `1 +- magnitude`, UNKNOWN
/// otherwise (and below 6 pairs, where there is no finite CI).
pub fn paired_decision(c: &PairedComparison, magnitude: f64) -> Decision {
    let (Some(lo), Some(hi)) = (c.ci_low, c.ci_high) else {
        return Decision::Unknown;
    };
    let m = magnitude.abs();
    if lo > 1.0 || hi < 1.0 {
        Decision::Different
    } else if lo >= 1.0 - m && hi <= 1.0 + m {
        Decision::Same
    } else {
        Decision::Unknown
    }
}

/// Repetitions of the first round, and the step: each round doubles the
/// total (10, 20, 40, 80, 160), as Pinpoint's Go version does.
pub const FIRST_ROUND: usize = 10;

/// What adaptive repetitions do after a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "next")]
pub enum Next {
    /// Run more, to this many in total.
    Run { total: usize },
    /// Stop, and record why.
    Stop { reason: StopReason },
}

/// Why the repetitions stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// Every compared metric is DIFFERENT or SAME.
    Decided,
    /// Some metric is still UNKNOWN at the cap: it is reported as UNKNOWN,
    /// not taken as SAME.
    CapReached,
}

impl StopReason {
    pub fn describe(self, cap: usize) -> String {
        match self {
            StopReason::Decided => "every compared metric is DIFFERENT or SAME".to_string(),
            StopReason::CapReached => {
                format!("a metric is still UNKNOWN at the cap of {cap} runs; more runs or a quieter host may decide it")
            }
        }
    }
}

/// The rule after a round of `done` runs per side, given each compared
/// metric's decision: stop when none is UNKNOWN or `done` has reached `cap`,
/// else double the total (at least [`FIRST_ROUND`]), never past `cap`.
pub fn next_round(done: usize, decisions: &[Decision], cap: usize) -> Next {
    if !decisions.contains(&Decision::Unknown) {
        Next::Stop { reason: StopReason::Decided }
    } else if done >= cap {
        Next::Stop { reason: StopReason::CapReached }
    } else {
        Next::Run { total: (2 * done).max(FIRST_ROUND).min(cap) }
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
    fn decide_is_different_same_or_unknown() {
        // 20 a side, values 100..=104 four times each: IQR 2 (numpy's 25th and
        // 75th percentiles are 101 and 103), sigma = 2 / 1.349 = 1.4826.
        let a: Vec<f64> = (0..20).map(|i| 100.0 + (i % 5) as f64).collect();
        let far: Vec<f64> = a.iter().map(|x| x + 50.0).collect();
        let same: Vec<f64> = a.iter().rev().copied().collect();
        assert_eq!(decide(&a, &far, 0.05).unwrap().decision, Decision::Different);
        let d = decide(&a, &same, 0.05).unwrap();
        // 5% of the median 102 is 5.1, 3.44 sigma: a shift that 20 vs 20
        // cannot miss, so p = 1 is SAME.
        assert_close!(d.shift_sigmas, 5.1 / (2.0 / 1.349), 1e-12);
        assert_eq!((d.decision, d.p_ks, d.p_mwu), (Decision::Same, 1.0, 1.0));
        // The same samples looking for a 0.1% change (0.07 sigma): p = 1 is
        // no evidence against so small a change, UNKNOWN.
        assert_eq!(decide(&a, &same, 0.001).unwrap().decision, Decision::Unknown);
        // 3 vs 3 can never reach 0.01. Alike, they cannot rule out a change of
        // one IQR (median 2, 50% = 1 = 1.349 sigma; same_threshold 1): UNKNOWN.
        // They do rule out four IQRs (p = 1 where a real shift of 5.4 sigma
        // would almost surely separate them, p = 0.1), as Pinpoint's table
        // also says: SAME.
        let small = [1.0, 2.0, 3.0];
        assert_eq!(decide(&small, &small, 0.5).unwrap().decision, Decision::Unknown);
        assert_eq!(decide(&small, &small, 2.0).unwrap().decision, Decision::Same);
        // B: KS p 0.026, U p 0.017, between the thresholds.
        let d = decide(B.0, B.1, 0.1).unwrap();
        assert_eq!(d.decision, Decision::Unknown);
        assert_close!(d.p_mwu, 0.017316017316017316, 1e-12);
        assert!(decide(&[], &[1.0], 0.1).is_none());
    }

    #[test]
    fn compare_decision_without_a_magnitude() {
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
    fn same_threshold_hand_worked() {
        // m = n = 10, a 1.349-sigma shift (one IQR, Pinpoint's unit):
        // theta = Phi(1.349 / sqrt 2) = Phi(0.95389) = 0.82993; the expected
        // z = 0.32993 * 100 / sqrt(100 * 21 / 12) = 32.993 / 13.2288 =
        // 2.49403; lowered by 1.64485: 0.84918; two-sided p = 0.39578
        // (Python: math.erfc(0.84918 / math.sqrt(2))). Pinpoint's simulated
        // table gives 0.57 here; ours asks for more evidence.
        assert_close!(same_threshold(10, 10, 1.349), 0.3957813, 1e-6);
        // Too small to tell: 3 vs 3, z = 0.32993 * 9 / sqrt(9 * 7 / 12) =
        // 1.2959 < 1.645, threshold 1.
        assert_eq!(same_threshold(3, 3, 1.349), 1.0);
        // No expected change: never SAME.
        assert_eq!(same_threshold(100, 100, 0.0), 1.0);
        // It falls with n and stops at the low threshold.
        assert!(same_threshold(20, 20, 1.349) < same_threshold(10, 10, 1.349));
        assert_eq!(same_threshold(200, 200, 1.349), DEFAULT_ALPHA_DIFFERENT);
    }

    fn paired(lo: f64, hi: f64) -> PairedComparison {
        PairedComparison { pairs: 10, median_ratio: (lo + hi) / 2.0, ci_low: Some(lo), ci_high: Some(hi), p_value: 0.5, exact: true }
    }

    #[test]
    fn paired_decision_reads_the_ci() {
        assert_eq!(paired_decision(&paired(1.01, 1.05), 0.03), Decision::Different);
        assert_eq!(paired_decision(&paired(0.90, 0.99), 0.03), Decision::Different);
        assert_eq!(paired_decision(&paired(0.98, 1.02), 0.03), Decision::Same);
        assert_eq!(paired_decision(&paired(0.98, 1.04), 0.03), Decision::Unknown);
        let none = PairedComparison { ci_low: None, ci_high: None, ..paired(1.0, 1.0) };
        assert_eq!(paired_decision(&none, 0.03), Decision::Unknown);
    }

    #[test]
    fn next_round_doubles_to_the_cap_and_says_why_it_stopped() {
        use Decision::*;
        assert_eq!(next_round(0, &[Unknown], 160), Next::Run { total: 10 });
        assert_eq!(next_round(10, &[Same, Unknown], 160), Next::Run { total: 20 });
        assert_eq!(next_round(40, &[Unknown], 160), Next::Run { total: 80 });
        assert_eq!(next_round(80, &[Unknown], 100), Next::Run { total: 100 });
        assert_eq!(next_round(100, &[Unknown], 100), Next::Stop { reason: StopReason::CapReached });
        assert_eq!(next_round(10, &[Same, Different], 100), Next::Stop { reason: StopReason::Decided });
        assert!(StopReason::CapReached.describe(100).contains("still UNKNOWN at the cap of 100 runs"));
        let json = serde_json::to_string(&next_round(10, &[Unknown], 160)).unwrap();
        assert_eq!(json, r#"{"next":"run","total":20}"#);
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
