//! `cargo xtask noise`: the noise floor of this host for one benchmark. The
//! same image runs A/A as balanced, shuffled pairs, exactly as `bench` runs a
//! real comparison, and `stats::noise_floor` resamples the pairs to say how
//! far paired ratios spread, how wide CIs are at n = 5, 10, 20, and the
//! smallest change the unpaired and the paired test detect at 90% power and
//! 5% false alarms.

use anyhow::Result;
use gobench_core::{document, results, stats};

use crate::pipeline::{self, CellRuns, Rounds};
use crate::{cancel, host, podman};

/// Measure the noise floor: run one benchmark A/A as interleaved pairs in
/// one image and report, per metric, the spread of the pair ratios, the
/// width of the 95% CI at n = 5, 10, 20, and the smallest change the
/// unpaired (Mann-Whitney) and paired (signed-rank) tests detect at 90%
/// power and 5% false alarms, found by resampling the measured pairs with a
/// synthetic shift.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A/A pairs to run.
    #[arg(long, default_value_t = 20)]
    pub pairs: u32,
    /// Seed of the pair order and of the resampling.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
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
        let pairs = results::valid_pairs(&cells[0].doc, &cells[1].doc);
        let names: Vec<&String> = pairs.first().map(|(_, a, _)| a.values.keys().collect()).unwrap_or_default();
        let cfg = stats::NoiseConfig { seed: self.seed, ..Default::default() };
        println!("A/A noise floor, {} valid pairs of `{}`", pairs.len(), spec.client_command().join(" "));
        println!("| metric | pair ratio min..max (IQR) | CI width paired / unpaired n=5, 10, 20 | smallest change unpaired / paired n=5, 10, 20 |");
        println!("|---|---|---|---|");
        for name in names {
            let (a, b): (Vec<f64>, Vec<f64>) =
                pairs.iter().filter_map(|(_, ra, rb)| Some((*ra.values.get(name)?, *rb.values.get(name)?))).unzip();
            let Some(f) = stats::noise_floor(&a, &b, &cfg) else { continue };
            let pct = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{:.1}%", x * 100.0));
            let widths: Vec<String> =
                f.sizes.iter().map(|s| format!("{} / {}", pct(s.paired_ci_width), pct(s.unpaired_ci_width))).collect();
            let detects: Vec<String> = f.sizes.iter().map(|s| format!("{} / {}", pct(s.unpaired_detects), pct(s.paired_detects))).collect();
            println!(
                "| {name} | {:.3}..{:.3} ({:.3}) | {} | {} |",
                f.ratio_min,
                f.ratio_max,
                f.ratio_iqr,
                widths.join(", "),
                detects.join(", ")
            );
        }
        Ok(())
    }
}
