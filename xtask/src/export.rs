//! `cargo xtask export`: result documents as Go benchmark text or CSV.

use anyhow::Result;
use clap::Args as ClapArgs;
use gobench_core::analysis::{compare, export, Loaded};

use crate::compare::load_results;
use crate::paths::{write_atomic, Paths};

/// Export the results in `results/` for other tools: Go's benchmark format
/// (what `benchstat` reads) or CSV.
///
/// In the Go format each result file is a block of configuration lines
/// (`goos:`, `pkg:`, `gobench-go:`, `gobench-go-version:`, `gobench-go-sha:`,
/// `gobench-workload:`, `gobench-host:`, ...) followed by one line per valid
/// run, e.g. `BenchmarkEtcd/put/release-3.6 1 31250 req/s 0.0031 sec/op`.
///
/// Compare two toolchains with `benchstat -col gobench-go -ignore gobench-go-version,gobench-go-sha,gobench-go-commit-time,gobench-image FILE`.
/// The ignored keys change with the toolchain too; left in, they split
/// benchstat's output into one table per toolchain and no comparison. Its
/// medians, CIs, deltas and p-values are those of `cargo xtask compare`.
#[derive(Debug, ClapArgs)]
#[command(group(clap::ArgGroup::new("format").required(true).args(["benchfmt", "csv"])))]
pub struct Args {
    /// Go benchmark format.
    #[arg(long)]
    pub benchfmt: bool,
    /// CSV: one line per run value, with its provenance.
    #[arg(long)]
    pub csv: bool,
    /// Write to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    /// Only results of these Go names or refs, or image hash prefixes
    /// (default: all).
    #[arg(value_name = "SELECTOR")]
    pub select: Vec<String>,
}

impl Args {
    pub fn run(self, paths: &Paths) -> Result<()> {
        let Args { benchfmt, csv: _, out, select } = self;
        let all = load_results(paths)?;
        let docs: Vec<Loaded> = if select.is_empty() {
            all
        } else {
            let mut picked = Vec::new();
            for s in &select {
                let found = compare::select(&all, s);
                anyhow::ensure!(!found.is_empty(), "no result matches `{s}`: give a Go name or ref, or an image hash prefix");
                picked.extend(found.into_iter().cloned());
            }
            picked.sort_by(|a, b| a.path.cmp(&b.path));
            picked.dedup_by(|a, b| a.path == b.path);
            picked
        };
        let text = if benchfmt { export::benchfmt(&docs) } else { export::csv(&docs) };
        match out {
            Some(file) => {
                write_atomic(&file, text.as_bytes())?;
                eprintln!("wrote {} results to {}", docs.len(), file.display());
            }
            None => print!("{text}"),
        }
        Ok(())
    }
}
