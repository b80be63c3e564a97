//! The power of change detection on this host's real noise: histories
//! resampled from measured A/A values (`cargo xtask noise --save`), with a
//! known step or none, run through a detector; the share of stepped
//! histories whose step is found and of flat ones with any alarm.
//!
//! Each point of a history is what one result document gives `detect`: the
//! median of `runs_per_point` runs, each drawn with replacement from the A/A
//! pool (both sides: the same image). From `step_at` on, every point is made
//! worse by the step (slower for a cost, lower for a rate). The flat history
//! and the stepped ones share their draws (common random numbers), so a
//! bigger step is never found less often by chance alone.
//!
//! What this leaves out: the pool is one session's runs, so the drift between
//! days or toolchain builds that a real history also has is not in it; real
//! histories raise more false alarms than these.

use serde::{Deserialize, Serialize};

use super::{e_divisive, relative_difference, EDivisive, RelativeDifference};
use crate::stats::rng::SplitMix64;
use crate::stats::{median, Direction, Verdict};

/// The histories [`power`] makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerConfig {
    pub seed: u64,
    /// Histories per step (and flat ones for the false alarms).
    pub histories: usize,
    /// Points in a history.
    pub length: usize,
    /// The first point with the step.
    pub step_at: usize,
    /// Runs behind each point (the pins' `runs`).
    pub runs_per_point: usize,
    /// Relative steps, as fractions (0.05 = 5% worse).
    pub steps: Vec<f64>,
    /// A change blamed at most this many points from `step_at` finds the step.
    pub tolerance: usize,
}

impl Default for PowerConfig {
    /// 60 nightly points with the step at 40: Horreum's seed rule has 40
    /// points of history and E-divisive a full 50-point window around it.
    /// 5 runs a point, as the shipped pins run every benchmark.
    fn default() -> PowerConfig {
        PowerConfig { seed: 1, histories: 200, length: 60, step_at: 40, runs_per_point: 5, steps: vec![0.03, 0.05, 0.10], tolerance: 5 }
    }
}

/// A change-detection model with its settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Detector {
    Relative(RelativeDifference),
    EDivisive(EDivisive),
}

impl Detector {
    /// Every change the model reports on `series`: the blamed index and verdict.
    fn changes(&self, series: &[f64], direction: Direction) -> Vec<(usize, Verdict)> {
        match self {
            Detector::Relative(rule) => {
                relative_difference(series, std::slice::from_ref(rule), direction).iter().map(|c| (c.index, c.verdict)).collect()
            }
            Detector::EDivisive(cfg) => e_divisive(series, cfg, direction).iter().map(|c| (c.index, c.verdict)).collect(),
        }
    }
}

/// What one detector did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Power {
    pub detector: Detector,
    pub histories: usize,
    /// Flat histories with at least one reported change (either way).
    pub false_alarms: usize,
    /// By step, in the order of [`PowerConfig::steps`]: the step and the
    /// histories in which a regression was blamed within `tolerance` of it.
    pub detected: Vec<(f64, usize)>,
}

/// Runs every detector on the same resampled histories of `pool` (one
/// metric's A/A values, all positive, `direction` the metric's). Empty
/// when the pool is empty or a history could not hold the step.
pub fn power(pool: &[f64], direction: Direction, detectors: &[Detector], cfg: &PowerConfig) -> Vec<Power> {
    if pool.is_empty() || cfg.step_at >= cfg.length || cfg.runs_per_point == 0 {
        return Vec::new();
    }
    let mut rng = SplitMix64::new(cfg.seed);
    let flat: Vec<Vec<f64>> = (0..cfg.histories)
        .map(|_| {
            (0..cfg.length)
                .map(|_| {
                    let runs: Vec<f64> = (0..cfg.runs_per_point).map(|_| pool[rng.below(pool.len())]).collect();
                    median(&runs).expect("runs_per_point > 0")
                })
                .collect()
        })
        .collect();
    // A point's median scales with its runs, so the step scales the point.
    let worse = |s: f64| match direction {
        Direction::LowerIsBetter => 1.0 + s,
        Direction::HigherIsBetter => 1.0 / (1.0 + s),
    };
    let stepped =
        |h: &[f64], s: f64| -> Vec<f64> { h.iter().enumerate().map(|(i, &v)| if i >= cfg.step_at { v * worse(s) } else { v }).collect() };
    let found =
        |changes: &[(usize, Verdict)]| changes.iter().any(|&(i, v)| v == Verdict::Regression && i.abs_diff(cfg.step_at) <= cfg.tolerance);
    detectors
        .iter()
        .map(|d| Power {
            detector: *d,
            histories: cfg.histories,
            false_alarms: flat.iter().filter(|h| !d.changes(h, direction).is_empty()).count(),
            detected: cfg
                .steps
                .iter()
                .map(|&s| (s, flat.iter().filter(|h| found(&d.changes(&stepped(h, s), direction))).count()))
                .collect(),
        })
        .collect()
}
