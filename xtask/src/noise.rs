//! `cargo xtask noise`: the noise floor of this host for one benchmark. The
//! same image runs A/A as balanced, shuffled pairs, exactly as `bench` runs a
//! real comparison, and `stats::noise_floor` resamples the pairs to say how
//! far paired ratios spread, how wide CIs are at n = 5, 10, 20, and the
//! smallest change the unpaired and the paired test detect at 90% power and
//! 5% false alarms.

use std::path::PathBuf;

use anyhow::{Context, Result};
use gobench_core::aa::AaDoc;
use gobench_core::analysis::aa::noise_table;
use gobench_core::{document, stats};

use crate::paths::write_atomic;
use crate::pipeline::{self, CellRuns, Rounds};
use crate::{cancel, host, podman};

/// Measure the noise floor: run one benchmark A/A as interleaved pairs in
/// one image and report, per metric, the spread of the pair ratios, the
/// width of the 95% CI at n = 5, 10, 20, and the smallest change the
/// unpaired (Mann-Whitney) and paired (signed-rank) tests detect at 90%
/// power and 5% false alarms, found by resampling the measured pairs with a
/// synthetic shift.
///
/// `--save FILE` keeps the measured values (`urn:gobench:aa:1`: every valid
/// pair per metric, the run spec and command, host facts, pairs and seed)
/// for `noise-report` and `detect-power`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A/A pairs to run.
    #[arg(long, default_value_t = 20)]
    pub pairs: u32,
    /// Seed of the pair order and of the resampling.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the measured A/A values to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    #[command(flatten)]
    pub run: crate::flags::Run,
}

impl Args {
    pub fn run(self) -> Result<()> {
        let cancel = cancel::for_job()?;
        let sh = podman::shell()?;
        let spec = self.run.spec();
        let host = host::describe()?;
        let mut cells: Vec<CellRuns> = ["A", "B"]
            .into_iter()
            .map(|label| CellRuns {
                label: label.to_string(),
                spec: spec.clone(),
                doc: document::scratch(label, spec.clone(), host.clone()),
                path: None,
            })
            .collect();
        let rounds = Rounds { first: vec![self.pairs], until_decided: None, decide_on: None, seed: self.seed };
        pipeline::measure_pairs(&sh, &cancel, &mut cells, &[vec![0, 1]], &rounds)?;
        cancel.check()?;
        let aa = AaDoc::from_docs(&spec, &cells[0].doc, &cells[1].doc, self.pairs, self.seed);
        if let Some(path) = &self.save {
            let text = serde_json::to_string_pretty(&aa).context("serialising the A/A values")? + "\n";
            write_atomic(path, text.as_bytes())?;
            eprintln!("A/A values written to {}", path.display());
        }
        print!("{}", noise_table(&aa, 1, &stats::NoiseConfig { seed: self.seed, ..Default::default() }));
        Ok(())
    }
}
