//! `cargo xtask report --out DIR`: the static HTML report.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use gobench_core::analysis::{changes, compare, report, series};

use crate::compare::load_results;
use crate::paths::{write_atomic, Paths};

/// Write a static HTML report of the history in `results/`: an index of
/// every series with the compare table of the two newest Go refs, and a
/// page per series with an SVG plot over Go commits.
///
/// Every point links to its result file (hover for the run, the Go commit
/// and the median); changes found by `detect`'s models are drawn red
/// (regressions) or green (improvements). The pages need no server, no
/// JavaScript and nothing from the network: open `DIR/index.html`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Directory to write the pages to (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// E-divisive magnitude floor in percent, as in `detect`.
    #[arg(long, default_value_t = gobench_core::detect::EDivisive::DETECT.min_magnitude * 100.0, value_name = "PCT")]
    pub min_magnitude: f64,
    /// The time the watchdog measures ages from, RFC 3339 (default: now).
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

impl Args {
    pub fn run(self, paths: &Paths) -> Result<()> {
        let Args { out, min_magnitude, now } = self;
        let cfg = crate::detect::Args {
            model: crate::detect::Models::Both,
            min_magnitude,
            max_pvalue: gobench_core::detect::EDivisive::DETECT.max_pvalue,
            edivisive_window: gobench_core::detect::EDivisive::DETECT.window,
            since: None,
            now,
            json: false,
        }
        .config(paths)?;
        let docs = load_results(paths)?;
        let all = series::build(&docs);
        let found = changes::detect(&all, &cfg);
        let table = report::newest_two_go(&docs).map(|(a, b)| {
            let side = |(name, sha): &(String, String)| -> Vec<&gobench_core::analysis::Loaded> {
                compare::select(&docs, name).into_iter().filter(|l| &l.doc.provenance.go.sha == sha).collect()
            };
            let label = |(name, sha): &(String, String)| format!("{name} {}", &sha[..sha.len().min(12)]);
            compare::compare(&label(&a), &side(&a), &label(&b), &side(&b), &compare::TableConfig::default())
        });
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        let out = out.canonicalize().with_context(|| format!("resolving {}", out.display()))?;
        let root = paths.root.canonicalize().with_context(|| format!("resolving {}", paths.root.display()))?;
        let root_href = relative_href(&out, &root);
        let subtitle = format!("{} result files in {}", docs.len(), crate::compare::results_dir(paths).display());
        let pages = report::render(&report::ReportInput {
            series: &all,
            changes: &found.changes,
            missing: &found.missing,
            compare: table.as_ref(),
            root_href: &root_href,
            subtitle: &subtitle,
        });
        for (name, html) in &pages {
            write_atomic(&out.join(name), html.as_bytes())?;
        }
        println!("wrote {} pages to {}", pages.len(), out.join("index.html").display());
        Ok(())
    }
}

/// The relative URL path from directory `from` to directory `to`, ending in
/// `/` unless empty. Both are absolute and canonical.
fn relative_href(from: &Path, to: &Path) -> String {
    let f: Vec<Component> = from.components().collect();
    let t: Vec<Component> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); f.len() - common];
    parts.extend(t[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    parts.iter().map(|p| format!("{}/", gobench_core::ledger::encode_component(p))).collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn relative_hrefs() {
        assert_eq!(super::relative_href(Path::new("/p/report"), Path::new("/p")), "../");
        assert_eq!(super::relative_href(Path::new("/p"), Path::new("/p")), "");
        assert_eq!(super::relative_href(Path::new("/tmp/out"), Path::new("/p/my proj")), "../../p/my%20proj/");
    }
}
