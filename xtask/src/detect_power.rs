//! `cargo xtask detect-power`: how often change detection finds a step of
//! 3%, 5% and 10%, and how often it raises a false alarm, on histories
//! resampled from this host's measured A/A values.

use std::path::PathBuf;

use anyhow::Result;
use gobench_core::analysis::aa::{power_detectors, power_table};
use gobench_core::detect::power::PowerConfig;

/// Report the detection rate of steps and the false-alarm rate of the
/// change-detection models on histories resampled from A/A values saved by
/// `noise --save`.
///
/// Each history point is what one result document gives `detect`: the
/// median of `--runs-per-point` runs, drawn with replacement from the A/A
/// pool of both sides. From `--step-at` on, points are made worse by each
/// step (slower for a cost, lower for a rate); the same draws without a
/// step give the false alarms (a history with any reported change). A step
/// is detected when a regression is blamed within `--tolerance` points of
/// it. Models: Horreum's relative difference at the seed's settings (10%,
/// window 5, 10 previous, mean), E-divisive as `detect` runs it (window
/// 50, p 0.001, 5% floor) and with Otava's defaults (no floor). The pool is
/// one session's runs: drift between days is not in it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The A/A file (`urn:gobench:aa:1`); several files of one spec and host
    /// are pooled.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Histories per step.
    #[arg(long, value_name = "N", default_value_t = PowerConfig::default().histories)]
    pub histories: usize,
    /// Points in a history.
    #[arg(long, value_name = "N", default_value_t = PowerConfig::default().length)]
    pub length: usize,
    /// The first point with the step.
    #[arg(long, value_name = "I", default_value_t = PowerConfig::default().step_at)]
    pub step_at: usize,
    /// Runs behind each point (the pins' `runs`).
    #[arg(long, value_name = "N", default_value_t = PowerConfig::default().runs_per_point)]
    pub runs_per_point: usize,
    /// Steps in percent.
    #[arg(long, value_name = "PCT", value_delimiter = ',', default_value = "3,5,10")]
    pub steps: Vec<f64>,
    /// How far from the step a blamed change may be.
    #[arg(long, value_name = "N", default_value_t = PowerConfig::default().tolerance)]
    pub tolerance: usize,
    /// Seed of the resampling.
    #[arg(long, default_value_t = PowerConfig::default().seed)]
    pub seed: u64,
}

impl Args {
    pub fn run(self) -> Result<()> {
        let Args { files, histories, length, step_at, runs_per_point, steps, tolerance, seed } = self;
        anyhow::ensure!(step_at < length, "--step-at {step_at} must be a point of the history (below --length {length})");
        anyhow::ensure!(runs_per_point > 0, "--runs-per-point must be at least 1");
        let aa = crate::aa_file::read_all(&files)?;
        let steps = steps.iter().map(|s| s / 100.0).collect();
        let cfg = PowerConfig { seed, histories, length, step_at, runs_per_point, steps, tolerance };
        print!("{}", power_table(&aa, &power_detectors(), &cfg));
        Ok(())
    }
}
