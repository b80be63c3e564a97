//! Paired A/B statistics, as Chromium's Pinpoint pairwise mode does them: A and
//! B run as pairs in a shuffled order with as many A-first as B-first pairs,
//! a pair is dropped when either side failed, and each metric is judged on the
//! log ratios ln(b / a) of the pairs with the Wilcoxon signed-rank test.
//!
//! Pairing cancels the drift of the machine that is common to both runs of a
//! pair (on these hosts etcd throughput drifts by about 20% in two minutes),
//! which an unpaired test must swallow as noise.

use serde::{Deserialize, Serialize};

use super::rng::SplitMix64;
use super::special;
use super::summary::median;

/// Which side of a pair runs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum First {
    A,
    B,
}

/// The order of `n` pairs: `n / 2` A-first and `n / 2` B-first in a shuffled
/// order, and for odd `n` one more pair whose side the seed picks. The same
/// seed always gives the same order, so recording the seed records the order.
pub fn pair_order(n: usize, seed: u64) -> Vec<First> {
    let mut rng = SplitMix64::new(seed);
    let mut order: Vec<First> = (0..n).map(|i| if i % 2 == 0 { First::A } else { First::B }).collect();
    if n % 2 == 1 && rng.below(2) == 1 {
        order[n - 1] = First::B;
    }
    rng.shuffle(&mut order);
    order
}

/// What is left of a run of pairs after the invalid ones are dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    /// Indices of the pairs whose two runs are both valid.
    pub pairs: Vec<usize>,
    /// One replacement pair per dropped pair, with the dropped pair's
    /// orientation: running them restores the balance of the order.
    pub refill: Vec<First>,
    /// Of `pairs`, the ones to analyse when no replacement can be run: the
    /// latest pairs of the side in surplus are left out until the A-first and
    /// B-first counts differ by at most one.
    pub balanced: Vec<usize>,
}

/// Drop every pair with an invalid run (`valid[i]` is (A valid, B valid)).
/// `order` and `valid` have one entry per pair; extra entries of the longer
/// one are ignored.
pub fn drop_invalid(order: &[First], valid: &[(bool, bool)]) -> Kept {
    let mut pairs = Vec::new();
    let mut refill = Vec::new();
    for (i, (&first, &(a, b))) in order.iter().zip(valid).enumerate() {
        if a && b {
            pairs.push(i);
        } else {
            refill.push(first);
        }
    }
    let count = |side: First, kept: &[usize]| kept.iter().filter(|&&i| order[i] == side).count();
    let mut balanced = pairs.clone();
    loop {
        let (na, nb) = (count(First::A, &balanced), count(First::B, &balanced));
        if na.abs_diff(nb) <= 1 {
            break;
        }
        let surplus = if na > nb { First::A } else { First::B };
        let last = balanced.iter().rposition(|&i| order[i] == surplus).expect("the surplus side has pairs");
        balanced.remove(last);
    }
    Kept { pairs, refill, balanced }
}

/// Largest number of non-zero differences for which [`signed_rank`] uses the
/// exact null distribution (scipy's and R's limit).
pub const SIGNED_RANK_EXACT_LIMIT: usize = 50;

/// Result of a two-sided Wilcoxon signed-rank test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SignedRank {
    /// Differences used: the non-zero ones.
    pub n: usize,
    /// Differences that were exactly zero and were dropped (Wilcoxon's rule).
    pub zeros: usize,
    /// Sum of the ranks of |d| over the positive differences (ties get mid-ranks).
    pub w_plus: f64,
    /// Two-sided p-value.
    pub p: f64,
    /// Exact null distribution (at most 50 differences; with ties, the
    /// permutation distribution of the mid-ranks), or beyond that the normal
    /// approximation with tie and continuity correction.
    pub exact: bool,
}

/// Two-sided Wilcoxon signed-rank test that the differences `d` are centred
/// on zero; `None` when no difference is non-zero.
pub fn signed_rank(d: &[f64]) -> Option<SignedRank> {
    let nonzero: Vec<f64> = d.iter().copied().filter(|&x| x != 0.0).collect();
    let n = nonzero.len();
    if n == 0 {
        return None;
    }
    let mut by_size: Vec<f64> = nonzero.clone();
    by_size.sort_by(|x, y| x.abs().total_cmp(&y.abs()));
    // Doubled mid-ranks (integers: ranks i+1..=j+1 average to (i+j+2)/2),
    // the doubled W+, and the tie term sum(t^3 - t).
    let (mut doubled, mut w2, mut tie_term) = (Vec::with_capacity(n), 0usize, 0.0);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && by_size[j + 1].abs() == by_size[i].abs() {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        let r2 = i + j + 2;
        doubled.extend(std::iter::repeat_n(r2, j - i + 1));
        w2 += r2 * by_size[i..=j].iter().filter(|&&x| x > 0.0).count();
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let w_plus = w2 as f64 / 2.0;
    let exact = n <= SIGNED_RANK_EXACT_LIMIT;
    let p = if exact {
        let counts = rank_sum_counts(&doubled);
        let total: f64 = counts.iter().sum();
        let le: f64 = counts[..=w2].iter().sum();
        let ge: f64 = counts[w2..].iter().sum();
        (2.0 * le.min(ge) / total).min(1.0)
    } else {
        let nf = n as f64;
        let mean = nf * (nf + 1.0) / 4.0;
        let var = nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0 - tie_term / 48.0;
        if var <= 0.0 {
            1.0
        } else {
            let dev = ((w_plus - mean).abs() - 0.5).max(0.0);
            (2.0 * special::normal_sf(dev / var.sqrt())).min(1.0)
        }
    };
    Some(SignedRank { n, zeros: d.len() - n, w_plus, p, exact })
}

/// `counts[w]` = how many of the 2^n sign assignments give a sum `w` of the
/// given (doubled) ranks over the positive ones: the exact null distribution
/// of the doubled signed-rank statistic, ties included. Exact in f64 up to
/// n = 50 (2^50 < 2^53).
fn rank_sum_counts(ranks: &[usize]) -> Vec<f64> {
    let max: usize = ranks.iter().sum();
    let mut counts = vec![0.0f64; max + 1];
    counts[0] = 1.0;
    let mut reach = 0;
    for &r in ranks {
        reach += r;
        for w in (r..=reach).rev() {
            counts[w] += counts[w - r];
        }
    }
    counts
}

/// The exact signed-rank confidence interval for the centre of the
/// differences (Hodges and Lehmann; Bauer 1972): with the n(n+1)/2 Walsh
/// averages (d_i + d_j) / 2, i <= j, sorted, it is [W(k), W(M + 1 - k)] where
/// `k - 1` is the largest c with 2 P(W+ <= c) <= 1 - confidence. Zeros count
/// as data here. It excludes 0 exactly when the signed-rank test rejects at
/// `1 - confidence` (without ties). `None` when too few differences can reach
/// the confidence (fewer than 6 at 95%). Beyond 50 differences `k` comes from
/// the normal approximation.
pub fn signed_rank_ci(d: &[f64], confidence: f64) -> Option<(f64, f64)> {
    let n = d.len();
    if n == 0 {
        return None;
    }
    let tail = (1.0 - confidence) / 2.0;
    let k = if n <= SIGNED_RANK_EXACT_LIMIT {
        let ranks: Vec<usize> = (1..=n).collect();
        let counts = rank_sum_counts(&ranks);
        let total: f64 = counts.iter().sum();
        let mut cum = 0.0;
        let mut c = None;
        for (w, count) in counts.iter().enumerate() {
            cum += count;
            if cum / total > tail {
                break;
            }
            c = Some(w);
        }
        c? + 1
    } else {
        let nf = n as f64;
        let sd = (nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0).sqrt();
        (nf * (nf + 1.0) / 4.0 - normal_quantile_upper(tail) * sd).floor().max(1.0) as usize
    };
    let mut walsh: Vec<f64> = Vec::with_capacity(n * (n + 1) / 2);
    for i in 0..n {
        for j in i..n {
            walsh.push((d[i] + d[j]) / 2.0);
        }
    }
    walsh.sort_by(f64::total_cmp);
    Some((walsh[k - 1], walsh[walsh.len() - k]))
}

/// z with P(Z > z) = `tail`, by bisection on [`special::normal_sf`] (only
/// called for large samples, where speed does not matter).
fn normal_quantile_upper(tail: f64) -> f64 {
    let (mut lo, mut hi) = (-40.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if special::normal_sf(mid) > tail {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// Paired comparison of one metric: B against A, pair by pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedComparison {
    pub pairs: usize,
    /// Median of the pair ratios b / a.
    pub median_ratio: f64,
    /// 95% CI of the ratio: [`signed_rank_ci`] of the log ratios, mapped
    /// back with exp. `None` below 6 pairs.
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// Two-sided Wilcoxon signed-rank p-value of the log ratios (1 when
    /// every pair is exactly equal).
    pub p_value: f64,
    pub exact: bool,
}

impl PairedComparison {
    /// `0.9876 [0.9712, 1.0043] p 0.031, 8 pairs`: the ratio, its CI and
    /// the signed-rank p, as `compare`, job comments and pages show them.
    pub fn describe(&self) -> String {
        let ci = match (self.ci_low, self.ci_high) {
            (Some(l), Some(h)) => format!("[{l:.4}, {h:.4}]"),
            _ => "n<6, no CI".to_string(),
        };
        format!("{:.4} {ci} p {}, {} pairs", self.median_ratio, crate::analysis::compare::fmt_p(self.p_value), self.pairs)
    }
}

/// Compare paired samples (`a[i]` and `b[i]` ran as pair `i`). `None` when
/// the lengths differ, there are no pairs, or a value is not strictly
/// positive (a ratio needs positive numbers).
pub fn paired_compare(a: &[f64], b: &[f64]) -> Option<PairedComparison> {
    if a.len() != b.len() || a.is_empty() || a.iter().chain(b).any(|&x| x.is_nan() || x <= 0.0) {
        return None;
    }
    let ratios: Vec<f64> = a.iter().zip(b).map(|(x, y)| y / x).collect();
    let logs: Vec<f64> = ratios.iter().map(|r| r.ln()).collect();
    let test = signed_rank(&logs);
    let ci = signed_rank_ci(&logs, 0.95);
    Some(PairedComparison {
        pairs: a.len(),
        median_ratio: median(&ratios)?,
        ci_low: ci.map(|c| c.0.exp()),
        ci_high: ci.map(|c| c.1.exp()),
        p_value: test.map_or(1.0, |t| t.p),
        exact: test.is_none_or(|t| t.exact),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::testutil::assert_close;

    #[test]
    fn pair_order_is_balanced_shuffled_and_reproducible() {
        for n in 0..40 {
            for seed in [0u64, 1, 42, u64::MAX] {
                let order = pair_order(n, seed);
                let a = order.iter().filter(|&&f| f == First::A).count();
                assert_eq!(order.len(), n);
                assert!(a.abs_diff(n - a) <= 1, "n {n} seed {seed}: {a} A-first");
                assert_eq!(order, pair_order(n, seed));
            }
        }
        // Golden: a recorded seed must keep giving its order.
        use First::{A, B};
        assert_eq!(pair_order(10, 42), vec![A, B, B, A, A, A, B, A, B, B]);
        assert_ne!(pair_order(10, 42), pair_order(10, 43));
        // Odd n: the seed picks which side gets the extra pair; both happen.
        let extra: Vec<bool> = (0..8).map(|s| pair_order(5, s).iter().filter(|&&f| f == A).count() == 3).collect();
        assert!(extra.contains(&true) && extra.contains(&false), "{extra:?}");
    }

    #[test]
    fn dropping_a_pair_refills_its_orientation_and_balances() {
        use First::{A, B};
        let order = [A, B, B, A, A, B];
        // Pair 1 (B-first) lost its A run, pair 4 (A-first) its B run.
        let valid = [(true, true), (false, true), (true, true), (true, true), (true, false), (true, true)];
        let kept = drop_invalid(&order, &valid);
        assert_eq!(kept.pairs, vec![0, 2, 3, 5]);
        assert_eq!(kept.refill, vec![B, A]);
        // Left: A, B, A, B -> already balanced.
        assert_eq!(kept.balanced, vec![0, 2, 3, 5]);
        // Two B-first pairs lost: pairs 0 3 4 5 are A A A B, 3 A-first to 1
        // B-first; dropping the latest A-first (4) leaves 2 to 1, which is
        // balanced enough.
        let valid = [(true, true), (true, false), (false, false), (true, true), (true, true), (true, true)];
        let kept = drop_invalid(&order, &valid);
        assert_eq!(kept.pairs, vec![0, 3, 4, 5]);
        assert_eq!(kept.refill, vec![B, B]);
        assert_eq!(kept.balanced, vec![0, 3, 5]);
        // All valid: nothing changes.
        let kept = drop_invalid(&order, &[(true, true); 6]);
        assert_eq!((kept.pairs.len(), kept.refill.len(), kept.balanced.len()), (6, 0, 6));
    }

    #[test]
    fn signed_rank_exact_hand_worked() {
        // d = 0.5 -1 2 3 -4 6: |d| ranks 1..6 in that order, W+ = 1 + 3 + 4 + 6
        // = 14. Under H0 W+ is symmetric around 21/2 on 0..=21, so
        // P(W+ >= 14) = P(W+ <= 7). Subsets of {1..6} with sum s, s = 0..=7:
        // 1 1 1 2 2 3 4 4 (sum 6: {6} {1,5} {2,4} {1,2,3}; sum 7: {1,6}
        // {2,5} {3,4} {1,2,4}), 18 in all, so p = 2 * 18 / 64 = 0.5625.
        let r = signed_rank(&[0.5, -1.0, 2.0, 3.0, -4.0, 6.0]).unwrap();
        assert_eq!((r.n, r.zeros, r.w_plus, r.exact), (6, 0, 14.0, true));
        assert_close!(r.p, 0.5625, 1e-12);
        // All 8 positive: W+ = 36, the maximum; p = 2 / 2^8 = 0.0078125.
        let d: Vec<f64> = (1..=8).map(f64::from).collect();
        let r = signed_rank(&d).unwrap();
        assert_eq!(r.w_plus, 36.0);
        assert_close!(r.p, 0.0078125, 1e-12);
        // Five all positive: the smallest p of n = 5 is 2 / 32 = 0.0625 > 0.05.
        assert_close!(signed_rank(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap().p, 0.0625, 1e-12);
        assert!(signed_rank(&[0.0, 0.0]).is_none());
    }

    #[test]
    fn signed_rank_exact_with_ties_and_zeros_hand_worked() {
        // d = 1 -1 2 2 3 3 3 0: the zero is dropped, n = 7. |d| groups 1,1 ->
        // ranks 1.5 1.5; 2,2 -> 3.5 3.5; 3,3,3 -> 6 6 6. W+ = 1.5 + 3.5 + 3.5
        // + 6 + 6 + 6 = 26.5 of the total 28. W+ >= 26.5 exactly when the
        // negative ranks sum to at most 1.5: no negative, or one of the two
        // 1.5s: 3 of the 2^7 = 128 sign patterns. p = 2 * 3 / 128 = 0.046875.
        let r = signed_rank(&[1.0, -1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 0.0]).unwrap();
        assert_eq!((r.n, r.zeros, r.w_plus, r.exact), (7, 1, 26.5, true));
        assert_close!(r.p, 0.046875, 1e-12);
        // All tied and positive: W+ is the maximum, 2 / 2^n whatever the ties.
        assert_close!(signed_rank(&[0.02; 7]).unwrap().p, 2.0 / 128.0, 1e-12);
    }

    #[test]
    fn signed_rank_normal_beyond_fifty_hand_worked() {
        // d = 1..=60, all positive: W+ = 1830, mean 60 * 61 / 4 = 915,
        // variance 60 * 61 * 121 / 24 = 18452.5, z = (915 - 0.5) / 135.84 =
        // 6.7322, p = erfc(z / sqrt 2) = 1.6713e-11 (Python's math.erfc).
        let d: Vec<f64> = (1..=60).map(f64::from).collect();
        let r = signed_rank(&d).unwrap();
        assert_eq!((r.w_plus, r.exact), (1830.0, false));
        assert_close!(r.p, 1.671328569652656e-11, 1e-8);
        // 40 x +1 and 20 x -1, one tie group: mid-rank 30.5, W+ = 1220; the
        // variance loses (60^3 - 60) / 48 = 4498.75 to the ties: 13953.75;
        // z = (305 - 0.5) / 118.126 = 2.57776, p = 0.0099444.
        let d: Vec<f64> = (0..60).map(|i| if i < 40 { 1.0 } else { -1.0 }).collect();
        let r = signed_rank(&d).unwrap();
        assert_eq!(r.w_plus, 1220.0);
        assert_close!(r.p, 0.009944415291191427, 1e-9);
    }

    #[test]
    fn signed_rank_ci_hand_worked() {
        // n = 8: subsets of {1..8} with sum 0..=4 number 1 1 1 2 2, cumulative
        // 1 2 3 5 7 of 256. 5 / 256 = 0.0195 <= 0.025 < 7 / 256, so c = 3 and
        // k = 4. For d = 1..8 the Walsh averages (i + j) / 2 sorted begin 1,
        // 1.5, 2, 2 (pair sums 2, 3, 4, 4), so W(4) = 2 and by symmetry
        // around 4.5 W(33) = 7.
        let d: Vec<f64> = (1..=8).map(f64::from).collect();
        assert_eq!(signed_rank_ci(&d, 0.95), Some((2.0, 7.0)));
        // n = 6: only c = 0 fits (1 / 64 <= 0.025 < 2 / 64), k = 1: the CI is
        // [min, max] of the Walsh averages, which are the min and max of d.
        assert_eq!(signed_rank_ci(&[0.5, -1.0, 2.0, 3.0, -4.0, 6.0], 0.95), Some((-4.0, 6.0)));
        // n = 5: 1 / 32 > 0.025, no finite 95% interval.
        assert_eq!(signed_rank_ci(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95), None);
    }

    #[test]
    fn paired_compare_works_on_log_ratios() {
        // b = a * e^(d / 100) with d = 1..8 (a drifting 100, 110, ...): the log
        // ratios are d / 100, so the test and the interval are those above:
        // p = 0.0078125, CI = [e^0.02, e^0.07]; the median ratio is the mean
        // of the 4th and 5th ratios, (e^0.04 + e^0.05) / 2.
        let a: Vec<f64> = (0..8).map(|i| 100.0 + 10.0 * i as f64).collect();
        let b: Vec<f64> = a.iter().enumerate().map(|(i, x)| x * ((i + 1) as f64 / 100.0).exp()).collect();
        let r = paired_compare(&a, &b).unwrap();
        assert_eq!(r.pairs, 8);
        assert_close!(r.p_value, 0.0078125, 1e-12);
        assert_close!(r.ci_low.unwrap(), 0.02f64.exp(), 1e-12);
        assert_close!(r.ci_high.unwrap(), 0.07f64.exp(), 1e-12);
        assert_close!(r.median_ratio, (0.04f64.exp() + 0.05f64.exp()) / 2.0, 1e-12);
        // Equal pairs: no difference at all.
        let same = paired_compare(&a, &a).unwrap();
        assert_eq!((same.p_value, same.median_ratio, same.ci_low, same.ci_high), (1.0, 1.0, Some(1.0), Some(1.0)));
        assert!(paired_compare(&a, &b[..7]).is_none());
        assert!(paired_compare(&[0.0], &[1.0]).is_none());
    }
}
