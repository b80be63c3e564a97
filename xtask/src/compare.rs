//! `cargo xtask compare A B`: a benchstat-style table between two sets of
//! results. Also home of the results loader the analysis commands share.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use gobench_core::analysis::{compare, profiles, Loaded};
use gobench_core::schema::ResultDoc;

use crate::paths::Paths;

/// Compare two sets of results benchstat-style: per metric, the median and
/// its 95% confidence interval on each side, the change in percent, the
/// Mann-Whitney U p-value and whether the change is significant.
///
/// Each side is a result file, a Go name or ref from the pins (`master`,
/// `go1.27.3`), or a prefix of an image hash (at least 4 hex digits). A side
/// pools the valid runs of all its result files per cell (workload@ref and
/// benchmark); rows match on (workload@ref, benchmark, metric). Each table
/// ends with the geometric mean of the B/A ratios.
///
/// When the two sides ran interleaved in one `bench` invocation (two result
/// files in one `results/<time>/` directory whose cells differ only in the Go
/// toolchain), their runs are also paired by run index, and each table is
/// followed by the median B/A ratio of the pairs, its 95% CI (the exact
/// signed-rank interval) and the Wilcoxon signed-rank p-value on the log
/// ratios; a pair with an invalid run is left out. Pairing cancels the
/// machine's drift, so it sees changes the unpaired test cannot. A verdict
/// also notes samples whose median misleads: far outliers (beyond 3 IQR) or
/// several modes.
///
/// Exit codes: 0 done (no significant regression, or --fail-on-regression
/// not given); 1 a significant regression of B against A with
/// --fail-on-regression; 2 an error.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// The baseline (old) side.
    #[arg(value_name = "A")]
    pub a: String,
    /// The side compared with the baseline (new).
    #[arg(value_name = "B")]
    pub b: String,
    /// Significance level of the Mann-Whitney U test.
    #[arg(long, default_value_t = 0.05, value_name = "ALPHA")]
    pub alpha: f64,
    /// Smallest change of the medians, in percent, that counts as
    /// significant (a tiny but consistent change is reported as `~`).
    #[arg(long, default_value_t = 0.0, value_name = "PCT")]
    pub min_change: f64,
    /// Print JSON instead of a table.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV, one line per row, instead of a table.
    #[arg(long)]
    pub csv: bool,
    /// Exit with code 1 when any metric significantly regressed (for CI gates).
    #[arg(long)]
    pub fail_on_regression: bool,
    /// Instead of the table: the functions whose share of the CPU and heap
    /// profiles (`bench --profile`) changed most from A to B, by the
    /// toolchain's own `go tool pprof -top -diff_base` (in B's toolchain
    /// image, without network); each side's valid runs are merged.
    #[arg(long, conflicts_with_all = ["json", "csv", "fail_on_regression"])]
    pub profiles: bool,
}

impl Args {
    /// `true` when a significant regression makes the gate fail.
    pub fn run(self, paths: &Paths) -> Result<bool> {
        let Args { a, b, alpha, min_change, json, csv, fail_on_regression, profiles } = self;
        anyhow::ensure!(alpha > 0.0 && alpha < 1.0, "--alpha must be between 0 and 1, got {alpha}");
        anyhow::ensure!(min_change >= 0.0, "--min-change is a magnitude in percent, got {min_change}");
        let results = load_results(paths)?;
        let side_a = side(paths, &results, &a)?;
        let side_b = side(paths, &results, &b)?;
        if profiles {
            return compare_profiles(paths, &side_a.iter().collect::<Vec<_>>(), &side_b.iter().collect::<Vec<_>>()).map(|()| false);
        }
        let cfg = compare::TableConfig { alpha, min_change_pct: min_change };
        let report = compare::compare(&a, &side_a.iter().collect::<Vec<_>>(), &b, &side_b.iter().collect::<Vec<_>>(), &cfg);
        let text = if json {
            compare::render_json(&report)
        } else if csv {
            compare::render_csv(&report)
        } else {
            compare::render_text(&report)
        };
        print!("{text}");
        Ok(fail_on_regression && report.has_regression())
    }
}

/// Prints `go tool pprof -top -diff_base` of every profile kind both sides
/// have, run in B's toolchain image with the project mounted read-only.
fn compare_profiles(paths: &Paths, a: &[&Loaded], b: &[&Loaded]) -> Result<()> {
    const MOUNT: &str = "/gobench";
    let kinds = profiles::common_kinds(a, b);
    anyhow::ensure!(!kinds.is_empty(), "the two sides have no kind of profile in common; run `bench --profile` on both");
    let provenance = &b[0].doc.provenance;
    let image = [&provenance.toolchain_image.id, &provenance.toolchain_image.tag, &provenance.image.id]
        .into_iter()
        .find(|s| !s.is_empty())
        .context("side B names no image to run go tool pprof in")?;
    for kind in kinds {
        let args = profiles::top_diff_args(&profiles::files(a, &kind), &profiles::files(b, &kind), MOUNT, 20);
        let out = crate::podman::command()
            .args(["run", "--rm", "--network=none", "--env", "HOME=/tmp", "--volume"])
            .arg(format!("{}:{MOUNT}:ro", paths.root.display()))
            .args([image.as_str(), "go"])
            .args(&args)
            .output()
            .with_context(|| format!("running go tool pprof in {image}"))?;
        anyhow::ensure!(out.status.success(), "go tool pprof ({kind}) in {image} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        println!("## {kind}: B against A (go tool pprof -top -diff_base, in {image})\n{}", String::from_utf8_lossy(&out.stdout));
    }
    Ok(())
}

/// The documents of one side: the file itself, or what the selector picks
/// from `results/`.
fn side(paths: &Paths, results: &[Loaded], selector: &str) -> Result<Vec<Loaded>> {
    let as_file = Path::new(selector);
    if selector.ends_with(".json") || as_file.is_file() {
        // Relative to the current directory, else to the project root.
        let in_root = paths.root.join(as_file);
        let file = if !as_file.exists() && in_root.is_file() { in_root.as_path() } else { as_file };
        return Ok(vec![load_file(&paths.root, file)?]);
    }
    let picked: Vec<Loaded> = compare::select(results, selector).into_iter().cloned().collect();
    if picked.is_empty() {
        let mut names: Vec<&str> = results.iter().map(|l| l.doc.provenance.go.name.as_str()).collect();
        names.sort();
        names.dedup();
        anyhow::bail!(
            "no result matches `{selector}`: give a result file, a Go name or ref, or an image hash prefix (Go names in {}: {})",
            results_dir(paths).display(),
            if names.is_empty() { "none".to_string() } else { names.join(", ") }
        );
    }
    Ok(picked)
}

pub fn results_dir(paths: &Paths) -> PathBuf {
    paths.root.join("results")
}

/// Every result document under `results/`, sorted by path. JSON files that
/// are not result documents (no `urn:gobench:result:` schema), bisects'
/// runs and documents abandoned on a lost host are skipped.
pub fn load_results(paths: &Paths) -> Result<Vec<Loaded>> {
    let files = crate::paths::json_files_under(&results_dir(paths))?;
    let bisect = crate::paths::bisect_dir(&results_dir(paths));
    let mut out = Vec::new();
    for f in files.into_iter().filter(|f| !f.starts_with(&bisect)) {
        let text = std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON; fix or remove it", f.display()))?;
        let is_result = value.get("$schema").and_then(|s| s.as_str()).is_some_and(|s| s.starts_with("urn:gobench:result:"));
        if is_result {
            let loaded = parse(&paths.root, &f, &text)?;
            if loaded.doc.abandoned.is_none() {
                out.push(loaded);
            }
        }
    }
    Ok(out)
}

fn load_file(root: &Path, file: &Path) -> Result<Loaded> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    parse(root, file, &text)
}

fn parse(root: &Path, file: &Path, text: &str) -> Result<Loaded> {
    let doc: ResultDoc = serde_json::from_str(text).with_context(|| format!("{} is not a gobench result document", file.display()))?;
    let abs = std::path::absolute(file).with_context(|| format!("resolving {}", file.display()))?;
    let rel = abs.strip_prefix(root).unwrap_or(&abs);
    let path = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/");
    Ok(Loaded { path, doc })
}
