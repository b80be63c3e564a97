//! Bisection of a Go history for the first commit that shows a measured
//! change, as a pure state machine: [`search`] says which commit to measure
//! next (or to measure one again) from the verdicts so far, [`verdict`]
//! turns a commit's samples into a verdict against both ends, and [`log`] is
//! the versioned record that lets a stopped bisect resume.
//!
//! Architecture invariant: no I/O. The shell lists the candidates, builds and
//! measures, writes the log, and feeds the verdicts back in.

pub mod answer;
pub mod log;
pub mod page;
pub mod search;
pub mod verdict;

pub use search::{next_step, SearchError, Step, Verdict};

#[cfg(test)]
mod tests {
    use super::verdict::classify;
    use super::*;
    use crate::stats::rng::SplitMix64;

    /// A fake history: `n` commits whose benchmark runs 10% slower from
    /// `culprit` on, with 3% Gaussian noise per run (Box-Muller).
    struct History {
        culprit: usize,
        rng: SplitMix64,
    }

    impl History {
        fn runs(&mut self, index: usize, count: usize) -> Vec<f64> {
            let base = if index >= self.culprit { 110.0 } else { 100.0 };
            (0..count)
                .map(|_| {
                    let u1 = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                    let u2 = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                    let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                    base * (1.0 + 0.03 * z)
                })
                .collect()
        }
    }

    /// Search, verdicts and repeats together, on noisy samples: every
    /// culprit position of a 20-commit history is found, over several noise
    /// seeds, with a repeat adding 10 runs to what the commit had.
    #[test]
    fn finds_a_ten_percent_step_in_three_percent_noise() {
        let n = 20;
        for culprit in 1..n {
            for seed in 0..3 {
                let mut h = History { culprit, rng: SplitMix64::new(seed * 1000 + culprit as u64) };
                let mut samples: Vec<Vec<f64>> = vec![Vec::new(); n];
                let mut history = Vec::new();
                let answer = loop {
                    match next_step(n, &history, 4).unwrap() {
                        Step::Probe { index, .. } => {
                            samples[index].extend(h.runs(index, 10));
                            let v = if index == 0 {
                                Verdict::Good
                            } else if index == n - 1 {
                                Verdict::Bad
                            } else {
                                classify(&samples[index], &samples[0], &samples[n - 1]).unwrap().verdict
                            };
                            history.push((index, v));
                        }
                        answer => break answer,
                    }
                };
                assert_eq!(answer, Step::Found { index: culprit }, "culprit {culprit} seed {seed}: {history:?}");
            }
        }
    }
}
