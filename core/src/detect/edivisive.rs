//! E-divisive means change-point detection the way Apache Otava (formerly
//! Hunter, Fleming et al. 2023) does it: within sliding windows, repeatedly
//! split at the point maximising the Matteson-James divergence statistic
//! while a Student t-test between the two sides is significant (at a relaxed
//! first-pass threshold), then merge: re-test every "weak" change point
//! against its neighbours over the whole series and drop the weakest until all
//! are significant at the real threshold and at least the minimum magnitude.

use serde::{Deserialize, Serialize};

use crate::stats::{mean, student_t_test, Direction, Verdict};

/// Settings of [`e_divisive`]; the defaults are Otava's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EDivisive {
    /// Sliding window length (Otava: 50). Must be at least 2; smaller values
    /// are raised to 2.
    pub window: usize,
    /// Significance threshold of the t-test (Otava: 0.001).
    pub max_pvalue: f64,
    /// Minimum relative magnitude, as a fraction: a significant change point
    /// whose magnitude `max(|after/before - 1|, |before/after - 1|)` is not
    /// above this is dropped. Otava's default is 0 (no gate).
    pub min_magnitude: f64,
}

impl EDivisive {
    /// What `cargo xtask detect` and `report` use unless told otherwise:
    /// Otava's window and p-value, and a 5% magnitude floor.
    pub const DETECT: EDivisive = EDivisive { window: 50, max_pvalue: 0.001, min_magnitude: 0.05 };
}

impl Default for EDivisive {
    fn default() -> EDivisive {
        EDivisive { window: 50, max_pvalue: 0.001, min_magnitude: 0.0 }
    }
}

/// One change point found by [`e_divisive`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangePoint {
    /// Index of the first point after the change.
    pub index: usize,
    /// Mean of the points since the previous change point (or the start).
    pub mean_before: f64,
    /// Mean of the points up to the next change point (or the end).
    pub mean_after: f64,
    /// `mean_after / mean_before - 1` (0 when `mean_before` is 0).
    pub rel_change: f64,
    /// Two-sided Student t-test p-value between the two sides.
    pub p_value: f64,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Copy)]
struct Point {
    index: usize,
    p_value: f64,
    mean_before: f64,
    mean_after: f64,
}

impl Point {
    fn forward(&self) -> f64 {
        if self.mean_before == 0.0 {
            0.0
        } else {
            self.mean_after / self.mean_before - 1.0
        }
    }

    fn magnitude(&self) -> f64 {
        let backward = if self.mean_after == 0.0 { 0.0 } else { self.mean_before / self.mean_after - 1.0 };
        self.forward().abs().max(backward.abs())
    }
}

/// Find change points in `series` (oldest first).
///
/// Judgment call: the t-test is the textbook pooled Student t-test with the
/// sample (n - 1) variance. Otava passes population (n) standard deviations
/// to scipy's `ttest_ind_from_stats`, which makes its p-values slightly
/// smaller on short segments.
pub fn e_divisive(series: &[f64], cfg: &EDivisive, direction: Direction) -> Vec<ChangePoint> {
    let window = cfg.window.max(2);
    // Otava's relaxed first pass: 10x the threshold below 0.05, 2x below 0.5.
    let first_pass = if cfg.max_pvalue < 0.05 {
        cfg.max_pvalue * 10.0
    } else if cfg.max_pvalue < 0.5 {
        cfg.max_pvalue * 2.0
    } else {
        cfg.max_pvalue
    };
    let weak = split(series, window, first_pass);
    let strong = merge(series, weak, cfg.max_pvalue, cfg.min_magnitude);
    strong
        .into_iter()
        .map(|p| ChangePoint {
            index: p.index,
            mean_before: p.mean_before,
            mean_after: p.mean_after,
            rel_change: p.forward(),
            p_value: p.p_value,
            verdict: direction.verdict(p.mean_before, p.mean_after),
        })
        .collect()
}

/// Split step: detect within overlapping windows (step = window / 2), union
/// the results, then recompute each point's statistics against its sorted
/// neighbours over the whole series.
fn split(series: &[f64], window: usize, max_p: f64) -> Vec<usize> {
    let step = window / 2;
    let mut found: Vec<usize> = Vec::new();
    let mut start = 0;
    while start < series.len() {
        let end = (start + window).min(series.len());
        let local = detect_in_window(&series[start..end], max_p);
        let last = local.last().map_or(0, |&i| start + i);
        for i in local {
            if !found.contains(&(start + i)) {
                found.push(start + i);
            }
        }
        start = last.max(start + step);
    }
    found.sort_unstable();
    found
}

/// Merge step: drop the point with the worst p-value while any is not
/// significant (p >= max_p); once all are, drop the smallest magnitude while
/// it is not above `min_magnitude`. Each removal re-tests its neighbours.
fn merge(series: &[f64], indices: Vec<usize>, max_p: f64, min_magnitude: f64) -> Vec<Point> {
    let mut points: Vec<Point> = (0..indices.len()).map(|k| test_point(series, &indices, k)).collect();
    while !points.is_empty() {
        let mut weakest = first_extreme(&points, |a, b| a.p_value > b.p_value);
        if points[weakest].p_value < max_p {
            weakest = first_extreme(&points, |a, b| a.magnitude() < b.magnitude());
            if points[weakest].magnitude() > min_magnitude {
                break;
            }
        }
        points.remove(weakest);
        let indices: Vec<usize> = points.iter().map(|p| p.index).collect();
        for k in [weakest.wrapping_sub(1), weakest] {
            if k < points.len() {
                points[k] = test_point(series, &indices, k);
            }
        }
    }
    points
}

/// Index of the first element that no later element beats.
fn first_extreme(points: &[Point], better: impl Fn(&Point, &Point) -> bool) -> usize {
    let mut best = 0;
    for (i, p) in points.iter().enumerate().skip(1) {
        if better(p, &points[best]) {
            best = i;
        }
    }
    best
}

/// Statistics of change point `k` of the sorted `indices`, with the segments
/// bounded by its neighbours.
fn test_point(series: &[f64], indices: &[usize], k: usize) -> Point {
    let lo = if k == 0 { 0 } else { indices[k - 1] };
    let hi = indices.get(k + 1).copied().unwrap_or(series.len());
    let at = indices[k];
    let (left, right) = (&series[lo..at], &series[at..hi]);
    Point {
        index: at,
        p_value: student_t_test(left, right).1,
        mean_before: mean(left).unwrap_or(0.0),
        mean_after: mean(right).unwrap_or(0.0),
    }
}

/// Hierarchical E-divisive within one window: take the best candidate over
/// all current segments; keep it if the t-test between the two halves of its
/// segment gives p <= max_p, otherwise stop. Returns sorted local indices.
fn detect_in_window(xs: &[f64], max_p: f64) -> Vec<usize> {
    let dist = PairDistances::new(xs);
    let mut points: Vec<usize> = Vec::new();
    loop {
        let mut bounds = vec![0];
        bounds.extend(points.iter().copied());
        bounds.push(xs.len());
        let mut best: Option<(usize, f64, usize, usize)> = None;
        for seg in bounds.windows(2) {
            let (s, e) = (seg[0], seg[1]);
            if e - s < 2 {
                continue;
            }
            let (tau, q) = dist.best_split(s, e);
            if best.is_none_or(|b| q > b.1) {
                best = Some((tau, q, s, e));
            }
        }
        let Some((tau, _, s, e)) = best else { break };
        let (_, p) = student_t_test(&xs[s..tau], &xs[tau..e]);
        if p <= max_p {
            points.push(tau);
            points.sort_unstable();
        } else {
            break;
        }
    }
    points
}

/// 2-D prefix sums of |x_i - x_j| so any block sum is O(1).
struct PairDistances {
    n: usize,
    /// prefix[(i) * (n + 1) + j] = sum of |x_a - x_b| for a < i, b < j.
    prefix: Vec<f64>,
}

impl PairDistances {
    fn new(xs: &[f64]) -> PairDistances {
        let n = xs.len();
        let w = n + 1;
        let mut prefix = vec![0.0; w * w];
        for i in 0..n {
            for j in 0..n {
                prefix[(i + 1) * w + j + 1] = (xs[i] - xs[j]).abs() + prefix[i * w + j + 1] + prefix[(i + 1) * w + j] - prefix[i * w + j];
            }
        }
        PairDistances { n, prefix }
    }

    /// Sum of |x_a - x_b| for a in [a0, a1), b in [b0, b1).
    fn block(&self, a0: usize, a1: usize, b0: usize, b1: usize) -> f64 {
        let w = self.n + 1;
        self.prefix[a1 * w + b1] - self.prefix[a0 * w + b1] - self.prefix[a1 * w + b0] + self.prefix[a0 * w + b0]
    }

    /// The split `tau` of segment [s, e) maximising Matteson and James'
    /// Q(X = [s, tau), Y = [tau, kappa)) over all s < tau < kappa <= e, with
    ///
    /// Q = 2/(n+m) sum|X-Y| - 2m/((n+m)(n-1)) sum_{i<k}|X_i-X_k|
    ///     - 2n/((n+m)(m-1)) sum_{j<k}|Y_j-Y_k|
    ///
    /// (n = |X|, m = |Y|; a within-term with a single point is 0). Ties go to
    /// the smallest tau, then the smallest kappa, as numpy's argmax does in Otava.
    fn best_split(&self, s: usize, e: usize) -> (usize, f64) {
        let mut best = (s + 1, f64::NEG_INFINITY);
        for tau in s + 1..e {
            let n = (tau - s) as f64;
            let within_x = self.block(s, tau, s, tau) / 2.0;
            for kappa in tau + 1..=e {
                let m = (kappa - tau) as f64;
                let between = self.block(s, tau, tau, kappa);
                let within_y = self.block(tau, kappa, tau, kappa) / 2.0;
                let mut q = 2.0 / (n + m) * between;
                if n > 1.0 {
                    q -= 2.0 * m / ((n + m) * (n - 1.0)) * within_x;
                }
                if m > 1.0 {
                    q -= 2.0 * n / ((n + m) * (m - 1.0)) * within_y;
                }
                if q > best.1 {
                    best = (tau, q);
                }
            }
        }
        best
    }
}
