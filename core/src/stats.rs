//! Statistics over benchmark samples: summaries (benchstat's median with a
//! distribution-free 95% confidence interval), the Mann-Whitney U test, the
//! two-sample Kolmogorov-Smirnov test, a Pinpoint-style DIFFERENT / SAME /
//! UNKNOWN decision, and a benchstat-style comparison of an old and a new
//! sample set that says Regression / Improvement / NoChange.
//!
//! Everything here is pure and deterministic. Samples are plain `&[f64]`;
//! they are expected to be finite (NaN sorts last under `f64::total_cmp` and
//! makes the results meaningless, but never panics).

use serde::{Deserialize, Serialize};

/// Default significance level of [`compare`], as benchstat uses.
pub const DEFAULT_ALPHA: f64 = 0.05;

/// Whether a bigger number is good (throughput, rps) or bad (latency, memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

/// What a detected or tested change means for the metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Regression,
    Improvement,
    NoChange,
}

impl Direction {
    /// Verdict for a change from `old` to `new` that has already been judged
    /// real (significant and big enough). Equal values give `NoChange`.
    pub fn verdict(self, old: f64, new: f64) -> Verdict {
        let up = new > old;
        let down = new < old;
        match (self, up, down) {
            (_, false, false) => Verdict::NoChange,
            (Direction::HigherIsBetter, true, _) | (Direction::LowerIsBetter, _, true) => Verdict::Improvement,
            _ => Verdict::Regression,
        }
    }
}

// ---------------------------------------------------------------------------
// Descriptive statistics
// ---------------------------------------------------------------------------

/// Arithmetic mean; `None` for an empty sample.
pub fn mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    Some(xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Median (mean of the two middle values for an even count); `None` if empty.
pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    Some(median_sorted(&sorted(xs)))
}

/// Sample standard deviation (n - 1 denominator); `None` for fewer than 2 values.
pub fn stddev(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    let ss: f64 = xs.iter().map(|x| (x - m) * (x - m)).sum();
    Some((ss / (xs.len() - 1) as f64).sqrt())
}

/// Smallest value; `None` if empty.
pub fn min(xs: &[f64]) -> Option<f64> {
    xs.iter().copied().min_by(f64::total_cmp)
}

/// Largest value; `None` if empty.
pub fn max(xs: &[f64]) -> Option<f64> {
    xs.iter().copied().max_by(f64::total_cmp)
}

/// Geometric mean; `None` if empty or if any value is not strictly positive
/// (the geometric mean of ratios is only defined for positive numbers).
pub fn geomean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() || xs.iter().any(|&x| x <= 0.0 || x.is_nan()) {
        return None;
    }
    Some((xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp())
}

fn sorted(xs: &[f64]) -> Vec<f64> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

fn median_sorted(s: &[f64]) -> f64 {
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Distribution-free confidence interval for the median from order statistics.
///
/// The interval `[x(k), x(n+1-k)]` (1-based order statistics) covers the
/// population median with probability `1 - 2 P(Bin(n, 1/2) <= k - 1)`. We take
/// the largest `k >= 1` whose coverage is at least `confidence`; if even `k = 1`
/// (the sample range) is not enough, the interval is infinite and this returns
/// `None`. At 95% that needs n >= 6, as benchstat says.
///
/// The interval is symmetric in ranks. benchstat's `QuantileCI` may shift one
/// end by one order statistic (it left-biases when that still reaches the
/// confidence), so for some n the two can differ by one rank.
pub fn median_ci(xs: &[f64], confidence: f64) -> Option<(f64, f64)> {
    let s = sorted(xs);
    let k = median_ci_rank(s.len(), confidence)?;
    Some((s[k - 1], s[s.len() - k]))
}

/// The 1-based lower rank `k` of [`median_ci`], or `None` when the interval is
/// infinite.
pub fn median_ci_rank(n: usize, confidence: f64) -> Option<usize> {
    if n == 0 {
        return None;
    }
    let mut best = None;
    let mut lower_tail = 0.0; // P(Bin(n, 1/2) <= k - 1)
    for k in 1..=n.div_ceil(2) {
        lower_tail += binom_half_pmf(n, k - 1);
        if 1.0 - 2.0 * lower_tail >= confidence {
            best = Some(k);
        } else {
            break;
        }
    }
    best
}

fn binom_half_pmf(n: usize, k: usize) -> f64 {
    (special::ln_choose(n, k) - n as f64 * std::f64::consts::LN_2).exp()
}

/// Summary of one sample set, as a results file embeds it.
///
/// `stddev` is `None` for a single value; `ci_low` / `ci_high` are the 95%
/// median confidence interval, `None` when the sample is too small for a
/// finite one (fewer than 6 values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    pub median: f64,
    pub stddev: Option<f64>,
    pub min: f64,
    pub max: f64,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
}

/// Summarise a sample; `None` if it is empty.
pub fn summarize(xs: &[f64]) -> Option<Summary> {
    if xs.is_empty() {
        return None;
    }
    let s = sorted(xs);
    let ci = median_ci(&s, 0.95);
    Some(Summary {
        n: s.len(),
        mean: mean(&s)?,
        median: median_sorted(&s),
        stddev: stddev(&s),
        min: s[0],
        max: s[s.len() - 1],
        ci_low: ci.map(|c| c.0),
        ci_high: ci.map(|c| c.1),
    })
}

// ---------------------------------------------------------------------------
// Mann-Whitney U
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Kolmogorov-Smirnov
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Pinpoint-style decision
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Special functions
// ---------------------------------------------------------------------------

/// Special functions, written from the textbook definitions (Lanczos
/// log-gamma, Lentz continued fractions). Accurate to about 1e-13 relative,
/// which is far beyond what benchmark decisions need.
pub(crate) mod special {
    use std::f64::consts::PI;

    /// ln Gamma(x) for x > 0, Lanczos approximation (g = 7, 9 terms).
    pub fn ln_gamma(x: f64) -> f64 {
        const G: f64 = 7.0;
        const C: [f64; 9] = [
            0.999_999_999_999_809_9,
            676.520_368_121_885_1,
            -1_259.139_216_722_402_8,
            771.323_428_777_653_1,
            -176.615_029_162_140_6,
            12.507_343_278_686_905,
            -0.138_571_095_265_720_12,
            9.984_369_578_019_572e-6,
            1.505_632_735_149_311_6e-7,
        ];
        if x < 0.5 {
            // Reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x).
            return (PI / (PI * x).sin()).ln() - ln_gamma(1.0 - x);
        }
        let x = x - 1.0;
        let mut a = C[0];
        let t = x + G + 0.5;
        for (i, c) in C.iter().enumerate().skip(1) {
            a += c / (x + i as f64);
        }
        0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
    }

    /// ln C(n, k).
    pub fn ln_choose(n: usize, k: usize) -> f64 {
        if k > n {
            return f64::NEG_INFINITY;
        }
        if k == 0 || k == n {
            return 0.0;
        }
        ln_gamma(n as f64 + 1.0) - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0)
    }

    /// C(n, k) as f64, exact for small values (product form), fine for large.
    pub fn choose(n: usize, k: usize) -> f64 {
        if k > n {
            return 0.0;
        }
        let k = k.min(n - k);
        if k <= 60 {
            let mut r = 1.0f64;
            for i in 0..k {
                r = r * (n - i) as f64 / (i + 1) as f64;
            }
            // Binomial coefficients are integers: below 2^53 round away the
            // division noise so small counts stay exact.
            return if r < 9.0e15 { r.round() } else { r };
        }
        ln_choose(n, k).exp()
    }

    /// Regularised upper incomplete gamma Q(a, x) = 1 - P(a, x).
    pub fn gamma_q(a: f64, x: f64) -> f64 {
        if x <= 0.0 {
            return 1.0;
        }
        if x < a + 1.0 {
            1.0 - gamma_series(a, x)
        } else {
            gamma_cf(a, x)
        }
    }

    fn gamma_series(a: f64, x: f64) -> f64 {
        let mut sum = 1.0 / a;
        let mut term = sum;
        let mut ap = a;
        for _ in 0..1000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        sum * (-x + a * x.ln() - ln_gamma(a)).exp()
    }

    fn gamma_cf(a: f64, x: f64) -> f64 {
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (-x + a * x.ln() - ln_gamma(a)).exp() * h
    }

    /// Standard normal survival function P(Z > z).
    pub fn normal_sf(z: f64) -> f64 {
        // erfc(x) = Q(1/2, x^2) for x >= 0.
        let x = z / std::f64::consts::SQRT_2;
        if x >= 0.0 {
            0.5 * gamma_q(0.5, x * x)
        } else {
            1.0 - 0.5 * gamma_q(0.5, x * x)
        }
    }

    /// Regularised incomplete beta I_x(a, b).
    pub fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        if x >= 1.0 {
            return 1.0;
        }
        let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
        if x < (a + 1.0) / (a + b + 2.0) {
            ln_front.exp() * beta_cf(a, b, x) / a
        } else {
            1.0 - ln_front.exp() * beta_cf(b, a, 1.0 - x) / b
        }
    }

    fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
        const TINY: f64 = 1e-300;
        let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
        let mut c = 1.0;
        let mut d = 1.0 - qab * x / qap;
        if d.abs() < TINY {
            d = TINY;
        }
        d = 1.0 / d;
        let mut h = d;
        for m in 1..1000 {
            let m = m as f64;
            let m2 = 2.0 * m;
            let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
            d = 1.0 + aa * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + aa / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            h *= d * c;
            let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
            d = 1.0 + aa * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + aa / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-16 {
                break;
            }
        }
        h
    }

    /// Two-sided p-value of Student's t with `df` degrees of freedom.
    pub fn student_t_two_sided(t: f64, df: f64) -> f64 {
        if t.is_nan() {
            return 1.0;
        }
        if t.is_infinite() {
            return 0.0;
        }
        beta_inc(df / 2.0, 0.5, df / (df + t * t)).min(1.0)
    }

    /// Survival function of the Kolmogorov distribution,
    /// 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 lambda^2).
    pub fn kolmogorov_sf(lambda: f64) -> f64 {
        if lambda < 0.2 {
            return 1.0;
        }
        let mut sum = 0.0;
        for k in 1..200 {
            let k = k as f64;
            let term = (-2.0 * k * k * lambda * lambda).exp();
            sum += if k as u64 % 2 == 1 { term } else { -term };
            if term < 1e-18 {
                break;
            }
        }
        (2.0 * sum).clamp(0.0, 1.0)
    }
}

/// Student's two-sample t-test with pooled variance (equal variances assumed),
/// two-sided. Returns (t, p). Fewer than 3 values in total (no degrees of
/// freedom) gives (0, 1); zero variance gives p = 0 if the means differ and 1
/// if they are equal.
pub fn student_t_test(a: &[f64], b: &[f64]) -> (f64, f64) {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    if a.is_empty() || b.is_empty() || n1 + n2 - 2.0 <= 0.0 {
        return (0.0, 1.0);
    }
    let (m1, m2) = (mean(a).unwrap_or(0.0), mean(b).unwrap_or(0.0));
    let ss = |xs: &[f64], m: f64| xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>();
    let df = n1 + n2 - 2.0;
    let pooled = (ss(a, m1) + ss(b, m2)) / df;
    let se = (pooled * (1.0 / n1 + 1.0 / n2)).sqrt();
    if se == 0.0 {
        return if m1 == m2 { (0.0, 1.0) } else { ((m1 - m2).signum() * f64::INFINITY, 0.0) };
    }
    let t = (m1 - m2) / se;
    (t, special::student_t_two_sided(t, df))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative closeness; reference values come from scipy 1.17.1.
    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs().max(1e-300)
    }

    macro_rules! assert_close {
        ($got:expr, $want:expr, $rel:expr) => {{
            let (g, w): (f64, f64) = ($got, $want);
            assert!(close(g, w, $rel), "got {g}, want {w} (rel {})", $rel);
        }};
    }

    #[test]
    fn descriptive_stats_on_known_values() {
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_eq!(mean(&xs), Some(5.0));
        assert_eq!(median(&xs), Some(4.5));
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        // Sum of squared deviations is 32, so the sample variance is 32 / 7.
        assert_close!(stddev(&xs).unwrap(), (32.0f64 / 7.0).sqrt(), 1e-15);
        assert_eq!(min(&xs), Some(2.0));
        assert_eq!(max(&xs), Some(9.0));
        assert_close!(geomean(&[1.0, 2.0, 4.0, 8.0]).unwrap(), 8.0f64.sqrt(), 1e-15);
        assert_eq!(geomean(&[1.0, 0.0]), None);
        assert_eq!(mean(&[]), None);
        assert_eq!(stddev(&[1.0]), None);
    }

    #[test]
    fn median_ci_matches_binomial_order_statistics() {
        // 1 - 2 * binom.cdf(k - 1, n, 0.5) from scipy: n = 5, k = 1 gives
        // 0.9375 < 0.95 (infinite); n = 6, k = 1 gives 0.96875; n = 10, k = 2
        // gives 0.978515625 and k = 3 gives 0.890625; n = 20, k = 6 gives
        // 0.95861 and k = 7 gives 0.88468.
        assert_eq!(median_ci_rank(5, 0.95), None);
        assert_eq!(median_ci_rank(6, 0.95), Some(1));
        assert_eq!(median_ci_rank(10, 0.95), Some(2));
        assert_eq!(median_ci_rank(20, 0.95), Some(6));
        // benchstat's own test: {-10, 2, 3, 4, 5, 6} at 95% is [-10, 6] around 3.5.
        let s = summarize(&[-10.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!((s.median, s.ci_low, s.ci_high), (3.5, Some(-10.0), Some(6.0)));
        let xs: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(median_ci(&xs, 0.95), Some((2.0, 9.0)));
    }

    #[test]
    fn summary_is_none_when_small_and_round_trips_json() {
        let s = summarize(&[3.0, 1.0, 2.0, 5.0, 4.0]).unwrap();
        assert_eq!(s.n, 5);
        assert_eq!((s.ci_low, s.ci_high), (None, None));
        assert_eq!((s.min, s.max, s.median, s.mean), (1.0, 5.0, 3.0, 3.0));
        let json = serde_json::to_string(&s).unwrap();
        let back: Summary = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        assert!(summarize(&[]).is_none());
        assert_eq!(summarize(&[7.0]).unwrap().stddev, None);
    }

    // Cases shared by the U and KS tests; values from
    // `scipy.stats.mannwhitneyu(x, y, alternative='two-sided', method=...)` and
    // `scipy.stats.ks_2samp(x, y, method='exact')`, scipy 1.17.1.
    const A: (&[f64], &[f64]) = (&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]);
    const B: (&[f64], &[f64]) = (&[1.1, 2.3, 0.7, 4.2, 3.3], &[5.1, 2.9, 6.4, 7.7, 8.0, 4.4]);
    const C: (&[f64], &[f64]) =
        (&[10.0, 12.5, 11.2, 13.9, 10.8, 12.1, 11.7, 13.3], &[12.9, 14.1, 13.6, 15.2, 12.2, 14.8, 13.0, 15.9, 14.4]);
    const D: (&[f64], &[f64]) = (&[3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.0, 6.0], &[5.5, 3.5, 5.8, 9.7, 9.3, 2.3, 8.4, 6.2, 6.4, 3.3]);

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

    fn big_case() -> (Vec<f64>, Vec<f64>) {
        let x = (0..40).map(|i| ((i * 37) % 101) as f64 / 10.0).collect();
        let y = (0..35).map(|i| ((i * 53) % 97) as f64 / 10.0 + 1.5).collect();
        (x, y)
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

    #[test]
    fn student_t_and_normal_match_scipy() {
        // ttest_ind([1,2,3,4], [3,4.5,5,6.5,7], equal_var=True)
        // -> t -2.7224556389190906, p 0.029660167417565355
        let (t, p) = student_t_test(&[1.0, 2.0, 3.0, 4.0], &[3.0, 4.5, 5.0, 6.5, 7.0]);
        assert_close!(t, -2.7224556389190906, 1e-12);
        assert_close!(p, 0.029660167417565355, 1e-10);
        // norm.sf(1.96), norm.sf(-0.5), norm.sf(5.0)
        assert_close!(special::normal_sf(1.96), 0.024997895148220435, 1e-12);
        assert_close!(special::normal_sf(-0.5), 0.6914624612740131, 1e-12);
        assert_close!(special::normal_sf(5.0), 2.866515718791933e-07, 1e-10);
    }

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
