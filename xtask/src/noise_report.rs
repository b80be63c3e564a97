//! `cargo xtask noise-report`: the noise-floor table of a saved A/A file,
//! computed again without measuring.

use std::path::PathBuf;

use anyhow::Result;
use gobench_core::analysis::aa::noise_table;
use gobench_core::stats::NoiseConfig;

/// Print the noise floor of A/A values saved by `noise --save`, as `noise`
/// prints it.
///
/// `--merge N` first merges each N consecutive pairs into one pair whose
/// sides are the medians of their N runs: what N separate runs a side
/// give, to hold against one run of `-test.count=N` at the same cost.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The A/A file (`urn:gobench:aa:1`); several files of one spec and host
    /// are taken as one measurement, their pairs in the order given.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Merge each N consecutive pairs into one.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub merge: u64,
    /// Seed of the resampling (default: the file's seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Runs per side of the comparisons simulated.
    #[arg(long, value_name = "N", value_delimiter = ',', default_value = "5,10,20")]
    pub sizes: Vec<usize>,
}

impl Args {
    pub fn run(self) -> Result<()> {
        let Args { files, merge, seed, sizes } = self;
        let aa = crate::aa_file::read_all(&files)?;
        let cfg = NoiseConfig { seed: seed.unwrap_or(aa.seed), sizes, ..NoiseConfig::default() };
        print!("{}", noise_table(&aa, merge as usize, &cfg));
        Ok(())
    }
}
