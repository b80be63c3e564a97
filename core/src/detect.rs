//! Change detection over a history of results (one value per run, oldest
//! first): Horreum's "relative difference of means" model, reproduced exactly,
//! and Apache Otava's E-divisive means with a Student t-test.
//!
//! Both report every change with a [`Verdict`] that honours the metric's
//! [`Direction`]: a drop in rps is a regression, a drop in latency an improvement.
//! [`power`] measures how often each finds a step in histories resampled
//! from a host's measured A/A noise.

use serde::{Deserialize, Serialize};

use crate::stats::{Direction, Verdict};

mod edivisive;
pub mod power;

pub use edivisive::{e_divisive, ChangePoint, EDivisive};

/// How Horreum's model reduces the last `window` points to one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    Mean,
    Min,
    Max,
}

/// Horreum's "relative difference of means" rule.
///
/// Horreum clamps two parameters before use, and so does this module: `window` at least 1,
/// `min_previous` at least `window`. A negative `threshold` is used as it is, as Horreum does
/// (`RelativeDifferenceChangeDetectionModel.java`): the rule then fires on every point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RelativeDifference {
    /// Allowed relative difference, as a fraction (0.10 = 10%).
    pub threshold: f64,
    /// Number of most recent points aggregated and compared.
    pub window: usize,
    /// Minimum number of points preceding the window.
    pub min_previous: usize,
    pub aggregation: Aggregation,
}

impl Default for RelativeDifference {
    /// What the seed configured in Horreum: 10%, window 5, 10 previous, mean.
    fn default() -> RelativeDifference {
        RelativeDifference { threshold: 0.10, window: 5, min_previous: 10, aggregation: Aggregation::Mean }
    }
}

impl RelativeDifference {
    /// The two rules Horreum gives a new variable: window 1 at 20% and
    /// window 5 at 10%, 5 previous points each, mean aggregation.
    pub fn horreum_new_variable_defaults() -> [RelativeDifference; 2] {
        let rule = |window, threshold| RelativeDifference { threshold, window, min_previous: 5, aggregation: Aggregation::Mean };
        [rule(1, 0.20), rule(5, 0.10)]
    }

    fn clamped(&self) -> RelativeDifference {
        let window = self.window.max(1);
        RelativeDifference { threshold: self.threshold, window, min_previous: self.min_previous.max(window), aggregation: self.aggregation }
    }
}

/// One change found by [`relative_difference`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelativeChange {
    /// Index of the blamed point: the first point in the window on the side
    /// of the change relative to the previous mean.
    pub index: usize,
    /// Index of the newest point when the change fired (the run that arrived).
    pub detected_at: usize,
    /// Which rule fired (its position in the `rules` slice).
    pub rule: usize,
    /// Mean of the previous points (history since the last change, minus the window).
    pub old: f64,
    /// The window aggregated by the rule's [`Aggregation`].
    pub new: f64,
    /// `new / old`. Horreum's arithmetic: a zero previous mean gives an
    /// infinite ratio (flagged) or NaN (0/0, not flagged).
    pub ratio: f64,
    pub verdict: Verdict,
}

/// Evaluate one rule on the history of one variable since its last change
/// (oldest first, newest last), as Horreum does when a new run arrives.
/// Returns `(blamed index into history, old, new, ratio)` if the rule fires.
pub fn relative_difference_latest(history: &[f64], rule: &RelativeDifference) -> Option<(usize, f64, f64, f64)> {
    let rule = rule.clamped();
    let len = history.len();
    if len < rule.min_previous + rule.window {
        return None;
    }
    let (previous, window) = history.split_at(len - rule.window);
    // Horreum hands the model its points newest first and means them with commons-math's
    // SummaryStatistics; the same order and update give the same bits.
    let old = running_mean(previous.iter().rev());
    let new = match rule.aggregation {
        Aggregation::Mean => running_mean(window.iter().rev()),
        Aggregation::Min => window.iter().copied().fold(f64::INFINITY, java_min),
        Aggregation::Max => window.iter().copied().fold(f64::NEG_INFINITY, java_max),
    };
    let ratio = new / old;
    if !(ratio < 1.0 - rule.threshold || ratio > 1.0 + rule.threshold) {
        return None;
    }
    // Oldest point of the window that lies beyond the previous mean in the
    // direction of the change; Horreum falls back to the newest point.
    let offset = window.iter().position(|&v| (ratio < 1.0 && v < old) || (ratio > 1.0 && v > old)).unwrap_or(window.len() - 1);
    Some((len - rule.window + offset, old, new, ratio))
}

/// The mean as commons-math's `SummaryStatistics` computes it (its `FirstMoment`): a running
/// update `m += (x - m) / n`, not a sum divided by the count. The two differ in the last bits,
/// which decides whether a ratio right at the threshold fires.
fn running_mean<'a>(values: impl Iterator<Item = &'a f64>) -> f64 {
    let mut mean = 0.0;
    for (n, x) in values.enumerate() {
        mean += (x - mean) / (n + 1) as f64;
    }
    mean
}

/// Java's `Math.min` (what `DoubleStream.min` uses): NaN wins, where Rust's `f64::min` drops it.
fn java_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// Java's `Math.max`: NaN wins.
fn java_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Run Horreum's model over a whole series point by point, as if each point
/// arrived as a new run, and return every change in the order found.
///
/// As in Horreum, the history used for each new point starts at the most
/// recently blamed point (Horreum loads the points with
/// `timestamp >= lastChange.timestamp`, so the blamed point is the first point
/// of the new history) and all rules share that restart. When several rules
/// fire on the same point each is reported, and the history restarts at the
/// latest blamed point.
///
/// Values are assumed positive (rates, durations, sizes): the ratio test and
/// the blame rule mean little for negative or zero-mean histories, where
/// this, like Horreum, falls back to blaming the newest point.
pub fn relative_difference(series: &[f64], rules: &[RelativeDifference], direction: Direction) -> Vec<RelativeChange> {
    let mut changes = Vec::new();
    let mut start = 0;
    for newest in 0..series.len() {
        let history = &series[start..=newest];
        let mut restart = start;
        for (i, rule) in rules.iter().enumerate() {
            if let Some((blamed, old, new, ratio)) = relative_difference_latest(history, rule) {
                let index = start + blamed;
                restart = restart.max(index);
                changes.push(RelativeChange { index, detected_at: newest, rule: i, old, new, ratio, verdict: direction.verdict(old, new) });
            }
        }
        start = restart;
    }
    changes
}

#[cfg(test)]
mod tests;
