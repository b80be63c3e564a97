//! Statistics over benchmark samples, split by test:
//!
//! - [`summary`]: benchstat's median with a distribution-free 95% confidence
//!   interval, and the other descriptive numbers a result document embeds;
//! - [`rank`]: the Mann-Whitney U and two-sample Kolmogorov-Smirnov tests;
//! - [`paired`]: balanced shuffled A/B pair orders and the Wilcoxon
//!   signed-rank test and interval on the pairs' log ratios;
//! - [`noise`]: the noise floor of A/A pairs, found by resampling;
//! - [`student`]: Student's t-test, for E-divisive change points;
//! - [`decision`]: benchstat-style Regression / Improvement / NoChange and
//!   Pinpoint-style DIFFERENT / SAME / UNKNOWN.
//!
//! Everything here is pure and deterministic. Samples are plain `&[f64]`;
//! they are expected to be finite (NaN sorts last under `f64::total_cmp` and
//! makes the results meaningless, but never panics).

use serde::{Deserialize, Serialize};

pub mod decision;
pub mod noise;
pub mod paired;
pub mod rank;
pub(crate) mod rng;
mod special;
pub mod student;
pub mod summary;

pub use decision::*;
pub use noise::*;
pub use paired::*;
pub use rank::*;
pub use student::*;
pub use summary::*;

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

#[cfg(test)]
mod testutil {
    /// Relative closeness; reference values come from scipy 1.17.1.
    pub fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs().max(1e-300)
    }

    macro_rules! assert_close {
        ($got:expr, $want:expr, $rel:expr) => {{
            let (g, w): (f64, f64) = ($got, $want);
            assert!($crate::stats::testutil::close(g, w, $rel), "got {g}, want {w} (rel {})", $rel);
        }};
    }
    pub(crate) use assert_close;

    // Cases shared by the U and KS tests; values from
    // `scipy.stats.mannwhitneyu(x, y, alternative='two-sided', method=...)` and
    // `scipy.stats.ks_2samp(x, y, method='exact')`, scipy 1.17.1.
    pub const A: (&[f64], &[f64]) = (&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]);
    pub const B: (&[f64], &[f64]) = (&[1.1, 2.3, 0.7, 4.2, 3.3], &[5.1, 2.9, 6.4, 7.7, 8.0, 4.4]);
    pub const C: (&[f64], &[f64]) =
        (&[10.0, 12.5, 11.2, 13.9, 10.8, 12.1, 11.7, 13.3], &[12.9, 14.1, 13.6, 15.2, 12.2, 14.8, 13.0, 15.9, 14.4]);
    pub const D: (&[f64], &[f64]) = (&[3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.0, 6.0], &[5.5, 3.5, 5.8, 9.7, 9.3, 2.3, 8.4, 6.2, 6.4, 3.3]);

    pub fn big_case() -> (Vec<f64>, Vec<f64>) {
        let x = (0..40).map(|i| ((i * 37) % 101) as f64 / 10.0).collect();
        let y = (0..35).map(|i| ((i * 53) % 97) as f64 / 10.0 + 1.5).collect();
        (x, y)
    }
}
