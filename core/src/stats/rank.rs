//! Rank tests of two independent samples: Mann-Whitney U (benchstat's test)
//! and the two-sample Kolmogorov-Smirnov test (Pinpoint's second test).

use serde::{Deserialize, Serialize};

use super::special;

/// Largest per-side sample size for the exact U distribution without ties
/// (benchstat's `MannWhitneyExactLimit`).
pub const MWU_EXACT_LIMIT: usize = 50;
/// Largest per-side sample size for the exact U distribution with ties
/// (benchstat's `MannWhitneyTiesExactLimit`).
pub const MWU_TIES_EXACT_LIMIT: usize = 25;

/// How [`mann_whitney_u_with`] computes the p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MwuMethod {
    /// benchstat's rule: exact if both sides have at most 50 values and there
    /// are no ties, or at most 25 values with ties; normal approximation otherwise.
    Auto,
    /// Exact permutation distribution of U given the observed tie pattern
    /// (the classic exact distribution when there are no ties).
    Exact,
    /// Normal approximation with tie correction and continuity correction
    /// (what `scipy.stats.mannwhitneyu(method='asymptotic')` computes).
    Asymptotic,
}

/// Result of a two-sided Mann-Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MannWhitney {
    /// U statistic of the first sample: the number of (a, b) pairs with
    /// a > b, ties counting one half (scipy's returned statistic).
    pub u: f64,
    /// Two-sided p-value.
    pub p: f64,
    /// The method actually used (never `Auto`).
    pub method: MwuMethod,
}

/// Two-sided Mann-Whitney U test with benchstat's choice of method.
/// `None` if either sample is empty.
///
/// With 3 or fewer values a side the smallest possible p is 0.1 (3 vs 3), so
/// it can never reach p < 0.05; 4 vs 4 can reach 0.0286.
pub fn mann_whitney_u(a: &[f64], b: &[f64]) -> Option<MannWhitney> {
    mann_whitney_u_with(a, b, MwuMethod::Auto)
}

/// Two-sided Mann-Whitney U test with an explicit method; `None` if either
/// sample is empty.
pub fn mann_whitney_u_with(a: &[f64], b: &[f64], method: MwuMethod) -> Option<MannWhitney> {
    let (m, n) = (a.len(), b.len());
    if m == 0 || n == 0 {
        return None;
    }
    let groups = tie_groups(a, b);
    let ties = groups.iter().any(|g| g.0 + g.1 > 1);
    let method = match method {
        MwuMethod::Auto => {
            let limit = if ties { MWU_TIES_EXACT_LIMIT } else { MWU_EXACT_LIMIT };
            if m <= limit && n <= limit {
                MwuMethod::Exact
            } else {
                MwuMethod::Asymptotic
            }
        }
        other => other,
    };
    // Doubled U of the first sample, an exact integer even with half-counted ties.
    let mut u2: u64 = 0;
    let mut b_below = 0u64;
    for &(ca, cb) in &groups {
        u2 += ca as u64 * (2 * b_below + cb as u64);
        b_below += cb as u64;
    }
    let u = u2 as f64 / 2.0;
    let p = match method {
        MwuMethod::Exact => mwu_exact_p(&groups, m, n, u2),
        _ => mwu_asymptotic_p(&groups, m, n, u),
    };
    Some(MannWhitney { u, p, method })
}

/// Pooled sorted values grouped by equal value: (count from a, count from b).
fn tie_groups(a: &[f64], b: &[f64]) -> Vec<(usize, usize)> {
    let mut all: Vec<(f64, bool)> = a.iter().map(|&x| (x, true)).collect();
    all.extend(b.iter().map(|&x| (x, false)));
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut last: Option<f64> = None;
    for (x, from_a) in all {
        if last != Some(x) {
            groups.push((0, 0));
            last = Some(x);
        }
        let g = groups.last_mut().expect("pushed above");
        if from_a {
            g.0 += 1;
        } else {
            g.1 += 1;
        }
    }
    groups
}

/// Exact two-sided p: the permutation distribution of the doubled U given the
/// tie groups, built by dynamic programming over the groups in order. State:
/// how many of the first sample have been placed, and the doubled U so far.
/// Picking `c` of a group of size `t` for the first sample, with `below`
/// second-sample values under the group, adds `c * (2 * below + (t - c))` to
/// the doubled U and happens in `C(t, c)` ways.
fn mwu_exact_p(groups: &[(usize, usize)], m: usize, n: usize, u2_obs: u64) -> f64 {
    let max_u2 = 2 * m * n;
    let width = max_u2 + 1;
    // dp[j * width + u2] = number of ways (as f64, at most C(100, 50) ~ 1e29).
    let mut dp = vec![0.0f64; (m + 1) * width];
    dp[0] = 1.0;
    let mut placed = 0usize; // values processed so far, both samples
    for &(ca, cb) in groups {
        let t = ca + cb;
        let mut next = vec![0.0f64; (m + 1) * width];
        for j in 0..=m.min(placed) {
            let below = placed - j; // second-sample values already placed
            if below > n {
                continue;
            }
            // With j of `placed` values from the first sample, the doubled U
            // is at most 2 j (placed - j): skip the unreachable tail.
            for u2 in 0..=(2 * j * below).min(max_u2) {
                let w = dp[j * width + u2];
                if w == 0.0 {
                    continue;
                }
                for c in 0..=t {
                    if j + c > m || below + (t - c) > n {
                        continue;
                    }
                    let add = c * (2 * below + (t - c));
                    next[(j + c) * width + u2 + add] += w * special::choose(t, c);
                }
            }
        }
        dp = next;
        placed += t;
    }
    let dist = &dp[m * width..];
    let total: f64 = dist.iter().sum();
    let obs = u2_obs as usize;
    let le: f64 = dist[..=obs].iter().sum();
    let ge: f64 = dist[obs..].iter().sum();
    (2.0 * le.min(ge) / total).min(1.0)
}

/// Normal approximation with tie and continuity correction, as scipy does it.
fn mwu_asymptotic_p(groups: &[(usize, usize)], m: usize, n: usize, u1: f64) -> f64 {
    let (mf, nf) = (m as f64, n as f64);
    let total = mf + nf;
    let mu = mf * nf / 2.0;
    let tie_term: f64 = groups
        .iter()
        .map(|&(a, b)| {
            let t = (a + b) as f64;
            t * t * t - t
        })
        .sum();
    let var = mf * nf / 12.0 * ((total + 1.0) - tie_term / (total * (total - 1.0)));
    if var <= 0.0 || total < 2.0 {
        return 1.0; // every value equal: no evidence of any difference
    }
    let u = u1.max(mf * nf - u1);
    let z = (u - mu - 0.5) / var.sqrt();
    (2.0 * special::normal_sf(z)).min(1.0)
}

/// Smallest two-sided p-value the exact U test can give for sample sizes m, n
/// (no ties): `2 / C(m + n, m)`, capped at 1.
pub fn mwu_min_p(m: usize, n: usize) -> f64 {
    if m == 0 || n == 0 {
        return 1.0;
    }
    (2.0 * (-special::ln_choose(m + n, m)).exp()).min(1.0)
}

/// Largest `m * n` for which [`ks_2samp`] counts lattice paths exactly.
pub const KS_EXACT_LIMIT: usize = 10_000;

/// Result of a two-sided two-sample Kolmogorov-Smirnov test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KolmogorovSmirnov {
    /// D = max |F_a(x) - F_b(x)|.
    pub d: f64,
    /// Two-sided p-value P(D >= d) under the null hypothesis.
    pub p: f64,
    /// Whether `p` is exact (lattice-path count) or the asymptotic
    /// Kolmogorov distribution with Stephens' small-sample correction.
    pub exact: bool,
}

/// Two-sided two-sample KS test; `None` if either sample is empty.
///
/// Exact when `m * n <= 10_000` (matches `scipy.stats.ks_2samp(method='exact')`,
/// which, like this, treats the data as continuous when there are ties);
/// otherwise the asymptotic Kolmogorov distribution with the effective size
/// `m n / (m + n)` and Stephens' correction, which is close to but not the
/// same as scipy's asymptotic mode.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Option<KolmogorovSmirnov> {
    let (m, n) = (a.len(), b.len());
    if m == 0 || n == 0 {
        return None;
    }
    // D * m * n as an integer: max |i n - j m| over the pooled values, where
    // i and j count the values <= x in a and b.
    let groups = tie_groups(a, b);
    let (mut i, mut j) = (0i64, 0i64);
    let mut dmn: i64 = 0;
    for &(ca, cb) in &groups {
        i += ca as i64;
        j += cb as i64;
        dmn = dmn.max((i * n as i64 - j * m as i64).abs());
    }
    let d = dmn as f64 / (m as f64 * n as f64);
    if dmn == 0 {
        return Some(KolmogorovSmirnov { d, p: 1.0, exact: true });
    }
    if m * n <= KS_EXACT_LIMIT {
        return Some(KolmogorovSmirnov { d, p: ks_exact_p(m, n, dmn), exact: true });
    }
    let en = (m as f64 * n as f64) / (m as f64 + n as f64);
    let lambda = (en.sqrt() + 0.12 + 0.11 / en.sqrt()) * d;
    Some(KolmogorovSmirnov { d, p: special::kolmogorov_sf(lambda), exact: false })
}

/// P(D * m * n >= dmn): the share of the C(m+n, m) monotone lattice paths from
/// (0,0) to (m,n) that touch a point with |i n - j m| >= dmn. Counted by first
/// passage, so small p-values keep their precision: paths reaching a boundary
/// point for the first time, times the free ways to finish from there.
fn ks_exact_p(m: usize, n: usize, dmn: i64) -> f64 {
    let width = n + 1;
    let mut inside = vec![0.0f64; (m + 1) * width];
    inside[0] = 1.0;
    let mut hit = 0.0;
    for i in 0..=m {
        for j in 0..=n {
            let w = inside[i * width + j];
            if w == 0.0 {
                continue;
            }
            if (i as i64 * n as i64 - j as i64 * m as i64).abs() >= dmn {
                hit += w * special::choose((m - i) + (n - j), m - i);
                continue;
            }
            if i < m {
                inside[(i + 1) * width + j] += w;
            }
            if j < n {
                inside[i * width + j + 1] += w;
            }
        }
    }
    (hit / special::choose(m + n, m)).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::testutil::{assert_close, big_case, A, B, C, D};

    #[test]
    fn mann_whitney_exact_matches_scipy() {
        // mannwhitneyu(x, y, alternative='two-sided', method='exact')
        let cases = [(A, 0.0, 0.1), (B, 2.0, 0.017316017316017316), (C, 8.0, 0.005512134923899629), (D, 20.0, 0.08313908313908314)];
        for ((x, y), u, p) in cases {
            let r = mann_whitney_u(x, y).unwrap();
            assert_eq!(r.method, MwuMethod::Exact);
            assert_eq!(r.u, u);
            assert_close!(r.p, p, 1e-12);
        }
    }

    #[test]
    fn mann_whitney_asymptotic_matches_scipy() {
        // mannwhitneyu(x, y, alternative='two-sided', method='asymptotic')
        let cases =
            [(A, 0.0, 0.08085559837005224), (B, 2.0, 0.022478873366125265), (C, 8.0, 0.008140438415678006), (D, 20.0, 0.0831631489363108)];
        for ((x, y), u, p) in cases {
            let r = mann_whitney_u_with(x, y, MwuMethod::Asymptotic).unwrap();
            assert_eq!(r.u, u);
            assert_close!(r.p, p, 1e-9);
        }
    }

    #[test]
    fn mann_whitney_with_ties_matches_scipy_asymptotic() {
        // mannwhitneyu([1,2,2,3,3,3,4], [3,4,4,5,5,6], alternative='two-sided',
        //              method='asymptotic') -> U 3.5, p 0.012999854364387305
        let r = mann_whitney_u_with(&[1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0], &[3.0, 4.0, 4.0, 5.0, 5.0, 6.0], MwuMethod::Asymptotic).unwrap();
        assert_eq!(r.u, 3.5);
        assert_close!(r.p, 0.012999854364387305, 1e-9);
        // mannwhitneyu([1,1,2,2,3,5,5,5,7,8], [2,3,3,5,6,7,7,8,9,9,9,10],
        //              alternative='two-sided', method='asymptotic') -> U 27, p 0.030762552709338756
        let x = [1.0, 1.0, 2.0, 2.0, 3.0, 5.0, 5.0, 5.0, 7.0, 8.0];
        let y = [2.0, 3.0, 3.0, 5.0, 6.0, 7.0, 7.0, 8.0, 9.0, 9.0, 9.0, 10.0];
        let r = mann_whitney_u_with(&x, &y, MwuMethod::Asymptotic).unwrap();
        assert_eq!(r.u, 27.0);
        assert_close!(r.p, 0.030762552709338756, 1e-9);
        // Big samples with ties fall back to the approximation under Auto.
        // x = [((i*37)%101)/10 for i in range(40)], y = [((i*53)%97)/10+1.5 for i in range(35)]
        // mannwhitneyu(x, y, ..., method='asymptotic') -> U 571, p 0.17233092280113071
        let (bx, by) = big_case();
        let r = mann_whitney_u(&bx, &by).unwrap();
        assert_eq!(r.method, MwuMethod::Asymptotic);
        assert_eq!(r.u, 571.0);
        assert_close!(r.p, 0.17233092280113071, 1e-9);
    }

    #[test]
    fn mann_whitney_exact_with_ties_matches_benchstat() {
        // golang.org/x/perf/benchmath TestCompareNone: 3 vs 3 fully separated
        // with ties gives p = 0.1 (scipy's asymptotic would say 0.0469 < 0.05,
        // which is why small tied samples use the exact distribution).
        let r = mann_whitney_u(&[-1.0, -1.0, -1.0], &[1.0, 1.0, 1.0]).unwrap();
        assert_eq!(r.method, MwuMethod::Exact);
        assert_close!(r.p, 0.1, 1e-12);
        let r = mann_whitney_u(&[-1.0, -1.0, -1.0, -1.0], &[1.0, 1.0, 1.0, 1.0]).unwrap();
        assert_close!(r.p, 0.02857142857142857, 1e-12);
        let r = mann_whitney_u(&[1.0, -1.0, -1.0, -1.0], &[-1.0, 1.0, 1.0, 1.0]).unwrap();
        assert_close!(r.p, 0.4857142857142857, 1e-12);
        let r = mann_whitney_u(&[1.0; 4], &[1.0; 4]).unwrap();
        assert_eq!(r.p, 1.0);
    }

    #[test]
    fn mann_whitney_exact_at_the_fifty_value_limit() {
        // x = [(i*7919)%1009/10 for i in range(50)]
        // y = [(i*104729)%1013/10 + 8.05 for i in range(50)]   (no ties)
        // mannwhitneyu(x, y, alternative='two-sided', method='exact')
        //   -> U 1134, p 0.4275532229937814
        // mannwhitneyu([v + 30 for v in x], y, ..., method='exact')
        //   -> U 1786, p 0.00017279628744137551
        let x: Vec<f64> = (0..50).map(|i| ((i * 7919) % 1009) as f64 / 10.0).collect();
        let y: Vec<f64> = (0..50).map(|i| ((i * 104729) % 1013) as f64 / 10.0 + 8.05).collect();
        let r = mann_whitney_u(&x, &y).unwrap();
        assert_eq!((r.method, r.u), (MwuMethod::Exact, 1134.0));
        assert_close!(r.p, 0.4275532229937814, 1e-10);
        let x2: Vec<f64> = x.iter().map(|v| v + 30.0).collect();
        let r = mann_whitney_u(&x2, &y).unwrap();
        assert_eq!(r.u, 1786.0);
        assert_close!(r.p, 0.00017279628744137551, 1e-9);
    }

    #[test]
    fn three_per_side_never_reaches_five_percent() {
        // benchstat's fact: n = 3 vs 3 cannot reach p < 0.05, n = 4 vs 4 can.
        assert_close!(mwu_min_p(3, 3), 0.1, 1e-12);
        assert_close!(mwu_min_p(4, 4), 0.02857142857142857, 1e-12);
        let r = mann_whitney_u(&[1.0, 2.0, 3.0], &[100.0, 200.0, 300.0]).unwrap();
        assert!(r.p >= 0.05, "p = {}", r.p);
    }

    #[test]
    fn ks_matches_scipy_exact() {
        // ks_2samp(x, y, method='exact')
        let cases = [
            (A, 1.0, 0.09999999999999999),
            (B, 0.8333333333333334, 0.025974025974025972),
            (C, 0.6388888888888888, 0.04689428218839984),
            (D, 0.45, 0.2475433063668358),
        ];
        for ((x, y), d, p) in cases {
            let r = ks_2samp(x, y).unwrap();
            assert!(r.exact);
            assert_close!(r.d, d, 1e-12);
            assert_close!(r.p, p, 1e-10);
        }
        // With ties: ks_2samp([1,2,2,3,3,3,4], [3,4,4,5,5,6], method='exact')
        // -> D 0.6904761904761905, p 0.0675990675990676
        let r = ks_2samp(&[1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0], &[3.0, 4.0, 4.0, 5.0, 5.0, 6.0]).unwrap();
        assert_close!(r.d, 0.6904761904761905, 1e-12);
        assert_close!(r.p, 0.0675990675990676, 1e-10);
        // Larger: big_case() -> D 0.15357142857142858, p 0.7047084323064645
        let (bx, by) = big_case();
        let r = ks_2samp(&bx, &by).unwrap();
        assert_close!(r.d, 0.15357142857142858, 1e-12);
        assert_close!(r.p, 0.7047084323064645, 1e-9);
    }
}
