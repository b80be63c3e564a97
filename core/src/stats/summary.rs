//! Descriptive summaries of one sample: mean, median, spread, and the median's
//! distribution-free 95% confidence interval that benchstat prints.

use serde::{Deserialize, Serialize};

use super::special;

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

/// The `q` quantile (0..=1) with linear interpolation between order
/// statistics (numpy's default, Hyndman and Fan's type 7); `None` if empty.
pub fn quantile(xs: &[f64], q: f64) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let s = sorted(xs);
    let h = (s.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    Some(s[lo] + (h - lo as f64) * (s[hi] - s[lo]))
}

/// Interquartile range, [`quantile`] 0.75 minus 0.25; `None` if empty.
pub fn iqr(xs: &[f64]) -> Option<f64> {
    Some(quantile(xs, 0.75)? - quantile(xs, 0.25)?)
}

/// Why the median of a sample may mislead: far-out values, or values that
/// fall into separate groups. `compare` flags such metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// Values more than 3 IQR beyond the quartiles (Tukey's "far out").
    pub outliers: usize,
    /// The sorted values split at a gap wider than half the wider side's own
    /// range, with at least a quarter of the values (and 2) on each side.
    pub multimodal: bool,
}

impl Shape {
    /// `2 outliers, multimodal`, or `None` when there is nothing to say.
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.outliers > 0 {
            parts.push(format!("{} outlier{}", self.outliers, if self.outliers == 1 { "" } else { "s" }));
        }
        if self.multimodal {
            parts.push("multimodal".to_string());
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// The [`Shape`] of a sample; samples under 6 values are too small to say
/// and give the default.
pub fn shape(xs: &[f64]) -> Shape {
    let n = xs.len();
    if n < 6 {
        return Shape::default();
    }
    let s = sorted(xs);
    let (q1, q3) = (quantile(&s, 0.25).unwrap_or(s[0]), quantile(&s, 0.75).unwrap_or(s[n - 1]));
    let fence = 3.0 * (q3 - q1);
    let outliers = s.iter().filter(|&&x| x < q1 - fence || x > q3 + fence).count();
    let side = (n / 4).max(2);
    let multimodal = (side..=n - side).any(|k| {
        let gap = s[k] - s[k - 1];
        gap > 0.0 && gap > 0.5 * (s[k - 1] - s[0]).max(s[n - 1] - s[k])
    });
    Shape { outliers, multimodal }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::testutil::assert_close;

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
        // numpy.percentile(xs, [25, 75]): positions 1.75 and 5.25 of the
        // sorted 8 -> 4 + 0.75 * 0 = 4 and 5 + 0.25 * 2 = 5.5.
        assert_eq!((quantile(&xs, 0.25), quantile(&xs, 0.75), iqr(&xs)), (Some(4.0), Some(5.5), Some(1.5)));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn shape_flags_far_outliers_and_separate_groups() {
        // 10..=19 is one even group: nothing to flag.
        let even: Vec<f64> = (10..20).map(f64::from).collect();
        assert_eq!(shape(&even), Shape::default());
        assert_eq!(shape(&even).describe(), None);
        // Quartiles of 10..=18 and 60: 12.25 and 16.75, IQR 4.5, upper far
        // fence 16.75 + 13.5 = 30.25; 60 is beyond it. (The gap 18 -> 60 has
        // one value above it, fewer than a quarter: not a second mode.)
        let mut spike = even.clone();
        spike[9] = 60.0;
        assert_eq!(shape(&spike), Shape { outliers: 1, multimodal: false });
        // The demo's kind of sample: 274-300 and 370-392 ns/op. The gap 300
        // -> 370 is wider than half of either group's range (26 and 22).
        let two = [274.0, 281.0, 290.0, 300.0, 295.0, 370.0, 380.0, 392.0, 385.0, 377.0];
        assert_eq!(shape(&two), Shape { outliers: 0, multimodal: true });
        assert_eq!(Shape { outliers: 2, multimodal: true }.describe().unwrap(), "2 outliers, multimodal");
        // Constant allocations with a few of another size: two groups.
        assert!(shape(&[16.0, 16.0, 16.0, 24.0, 24.0, 24.0]).multimodal);
        assert_eq!(shape(&[1.0, 100.0, 1.0]), Shape::default());
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
}
