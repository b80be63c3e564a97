//! A candidate's verdict from its samples: compared with both ends by rank
//! statistics ([`crate::stats::decide`]), never from a single sample; and
//! the check that the ends differ at all, from their interleaved pairs.

use serde::{Deserialize, Serialize};

use super::search::Verdict;
use crate::stats::{self, decide, median, paired_compare, paired_decision, Decided, Decision, Direction, PairedComparison};

/// The ends compared pair by pair: whether bad is worse than good.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ends {
    pub paired: PairedComparison,
    /// [`paired_decision`]: DIFFERENT when the 95% CI of bad / good excludes
    /// 1, SAME when it lies within `1 +- same_within`.
    pub decision: Decision,
    pub same_within: f64,
    pub direction: Direction,
    /// DIFFERENT, and bad is worse than good in the metric's direction.
    pub confirmed: bool,
}

/// Compare the ends' pairs (`good[i]` and `bad[i]` ran as pair `i`). `None`
/// when there are no pairs or a value is not positive.
pub fn confirm_ends(good: &[f64], bad: &[f64], direction: Direction, same_within: f64) -> Option<Ends> {
    let paired = paired_compare(good, bad)?;
    let decision = paired_decision(&paired, same_within);
    let worse = direction.verdict(1.0, paired.median_ratio) == stats::Verdict::Regression;
    Some(Ends { confirmed: decision == Decision::Different && worse, paired, decision, same_within, direction })
}

impl Ends {
    /// One line with the numbers: pairs, ratio, CI, p-value and what they mean.
    pub fn describe(&self) -> String {
        let p = &self.paired;
        let ci = match (p.ci_low, p.ci_high) {
            (Some(lo), Some(hi)) => format!("95% CI [{lo:.4}, {hi:.4}]"),
            _ => "no CI below 6 pairs".to_string(),
        };
        let numbers = format!("{} pairs, bad/good median ratio {:.4}, {ci}, Wilcoxon p {:.3}", p.pairs, p.median_ratio, p.p_value);
        let better = match self.direction {
            Direction::HigherIsBetter => "higher",
            Direction::LowerIsBetter => "lower",
        };
        let meaning = match (self.decision, self.confirmed) {
            (Decision::Different, true) => "bad is significantly worse than good".to_string(),
            (Decision::Different, false) => {
                format!("bad is significantly better than good ({better} is better): swap --good and --bad to find an improvement")
            }
            (Decision::Same, _) => format!("the ends are the same within {:.1}%", self.same_within * 100.0),
            (Decision::Unknown, _) => {
                "the ends are not significantly different; more runs (--max-runs) or a quieter host may tell them apart".to_string()
            }
        };
        format!("{numbers}: {meaning}")
    }
}

/// A verdict and the comparisons behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classified {
    pub verdict: Verdict,
    /// The change looked for: |median(bad) / median(good) - 1|, measured at
    /// the ends, not tuned.
    pub magnitude: f64,
    pub vs_good: Decided,
    pub vs_bad: Decided,
    /// median(sample) / median(end).
    pub ratio_to_good: f64,
    pub ratio_to_bad: f64,
}

/// Classify `sample` between the ends' samples. Evidence of like-good is
/// SAME as the good end or DIFFERENT from the bad end; of like-bad, the
/// other way round. Evidence for exactly one side decides; none, or
/// evidence for both (a commit between the ends, or too few runs), is
/// unknown: measure it again. `None` when a sample is empty.
pub fn classify(sample: &[f64], good: &[f64], bad: &[f64]) -> Option<Classified> {
    let (m, g, b) = (median(sample)?, median(good)?, median(bad)?);
    let magnitude = if g == 0.0 { 0.0 } else { (b / g - 1.0).abs() };
    let vs_good = decide(good, sample, magnitude)?;
    let vs_bad = decide(bad, sample, magnitude)?;
    let like_good = vs_good.decision == Decision::Same || vs_bad.decision == Decision::Different;
    let like_bad = vs_bad.decision == Decision::Same || vs_good.decision == Decision::Different;
    let verdict = match (like_good, like_bad) {
        (true, false) => Verdict::Good,
        (false, true) => Verdict::Bad,
        _ => Verdict::Unknown,
    };
    Some(Classified { verdict, magnitude, vs_good, vs_bad, ratio_to_good: m / g, ratio_to_bad: m / b })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 10 values around `centre` with a 3% spread, in a fixed scrambled order.
    fn runs(centre: f64) -> Vec<f64> {
        [0.0, 0.9, -1.2, 2.1, -0.4, 1.5, -2.0, 0.3, -0.8, 1.1].iter().map(|d| centre * (1.0 + d / 100.0 * 1.4)).collect()
    }

    #[test]
    fn ends_are_confirmed_only_when_bad_is_significantly_worse() {
        let good = runs(100.0);
        // (bad, direction, same_within, decision, confirmed)
        let cases = [
            (runs(110.0), Direction::LowerIsBetter, 0.02, Decision::Different, true),
            (runs(110.0), Direction::HigherIsBetter, 0.02, Decision::Different, false),
            (runs(90.0), Direction::HigherIsBetter, 0.02, Decision::Different, true),
            // The same runs in another order: no pair differs by much.
            (good.iter().rev().copied().collect(), Direction::LowerIsBetter, 0.05, Decision::Same, false),
            (good.iter().rev().copied().collect(), Direction::LowerIsBetter, 0.001, Decision::Unknown, false),
        ];
        for (bad, direction, within, decision, confirmed) in cases {
            let e = confirm_ends(&good, &bad, direction, within).unwrap();
            assert_eq!((e.decision, e.confirmed), (decision, confirmed), "{}", e.describe());
            assert!(e.describe().contains("10 pairs"), "{}", e.describe());
        }
        let e = confirm_ends(&good, &runs(110.0), Direction::HigherIsBetter, 0.02).unwrap();
        assert!(e.describe().contains("swap --good and --bad"), "{}", e.describe());
        assert!(confirm_ends(&[], &[], Direction::LowerIsBetter, 0.02).is_none());
    }

    #[test]
    fn a_ten_percent_step_is_told_apart_and_a_middle_is_unknown() {
        let (good, bad) = (runs(100.0), runs(90.0));
        let c = classify(&runs(100.2), &good, &bad).unwrap();
        assert_eq!(c.verdict, Verdict::Good, "{c:?}");
        assert!((c.magnitude - 0.1).abs() < 1e-9);
        assert_eq!((c.vs_good.decision, c.vs_bad.decision), (Decision::Same, Decision::Different));
        let c = classify(&runs(89.9), &good, &bad).unwrap();
        assert_eq!(c.verdict, Verdict::Bad, "{c:?}");
        assert!((c.ratio_to_bad - 89.9 / 90.0).abs() < 1e-9);
        // Half way: different from both ends.
        let c = classify(&runs(95.0), &good, &bad).unwrap();
        assert_eq!(c.verdict, Verdict::Unknown, "{c:?}");
        // Against a 10% step in 1.4% noise (about 7 sigma) even three runs
        // tell: 3 vs 10 fully separated gives p = 2 / C(13, 3) = 0.007.
        let c = classify(&runs(100.0)[..3], &good, &bad).unwrap();
        assert_eq!(c.verdict, Verdict::Good, "{c:?}");
        // Two runs cannot reach 0.01 against ten (2 / C(12, 2) = 0.03): a
        // sample between the ends stays unknown.
        let c = classify(&[96.0, 94.0], &good, &bad).unwrap();
        assert_eq!(c.verdict, Verdict::Unknown, "{c:?}");
        assert!(classify(&[], &good, &bad).is_none());
    }
}
