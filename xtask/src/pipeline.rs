//! The measuring pipeline as steps that `bench`, the demo, and the commands
//! to come (bisect, reproduce, serve) combine:
//!
//! - [`toolchain_for_sha`]: a toolchain image for any Go commit reachable from
//!   a mirror, without editing the pins;
//! - [`git::first_parent_commits`](crate::git::first_parent_commits): the
//!   commits between two refs;
//! - [`measure`]: run cells N (more) times, interleaved, saving each
//!   document as every run finishes;
//! - [`compare`]: compare two documents' runs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use gobench_core::analysis::{compare as table, Loaded};
use gobench_core::config::Config;
use gobench_core::document::Recorded;
use gobench_core::lock::{LockedGo, Wanted};
use gobench_core::plan::{self, Image};
use gobench_core::schema::ResultDoc;
use gobench_core::spec::RunSpec;
use xshell::Shell;

use crate::cancel::Cancel;
use crate::paths::{write_atomic, Paths};
use crate::{build, filelock, gen, git, lock, run};

/// A toolchain image for Go commit `sha` of the repository at `url` (a URL
/// or a path, as in the pins): locked from the mirror, its recipe written to
/// `containerfiles/`, built unless it exists. Returns the locked commit, the
/// image and its ID.
pub fn toolchain_for_sha(
    sh: &Shell,
    paths: &Paths,
    config: &Config,
    url: &str,
    sha: &str,
    cancel: &Cancel,
) -> Result<(LockedGo, Image, String)> {
    let location = paths.source_location(url);
    let mirror = git::ensure_mirror(sh, &paths.cache, &location, &[sha])?;
    let sha = git::resolve(sh, &mirror, sha, url)?;
    let commit_time = git::commit_time(sh, &mirror, &sha)?;
    let wanted = Wanted { kind: "go", name: sha[..12].to_string(), url: url.to_string(), git_ref: sha.clone() };
    let locked = lock::lock_go(sh, &mirror, wanted, sha, commit_time)?;
    let image = plan::toolchain_image(config, &locked).map_err(anyhow::Error::msg)?;
    gen::write_image(paths, &image)?;
    let id = build::build_one(sh, paths, config, &image, "[toolchain]", cancel)?;
    Ok((locked, image, id))
}

/// One cell being measured: how it runs, its document so far, and where the
/// document is saved after every run (`None`: kept in memory only).
pub struct CellRuns {
    pub label: String,
    pub spec: RunSpec,
    pub doc: ResultDoc,
    pub path: Option<PathBuf>,
}

/// Runs the repetitions of `order` (`(cell index, repetition)`), appending
/// each run to its cell's document and saving it as soon as the run
/// finishes, so a stop keeps what finished. The whole series holds the
/// host's benchmark lock: no other benchmark of ours runs on this machine
/// meanwhile. Returns the runs that finished, in order; stops early when
/// `cancel` is cancelled.
pub fn measure(sh: &Shell, cancel: &Cancel, cells: &mut [CellRuns], order: &[(usize, u32)]) -> Result<Vec<(usize, Recorded)>> {
    let what = cells.iter().map(|c| c.label.as_str()).collect::<Vec<_>>().join(", ");
    let _host = filelock::acquire(&filelock::host_bench_lock_path(), &format!("benchmarking {what}"), run::HOST_LOCK_TIMEOUT, cancel)?;
    let mut done = Vec::new();
    for (step, &(i, rep)) in order.iter().enumerate() {
        if cancel.is_cancelled() {
            break;
        }
        let cell = &mut cells[i];
        eprint!("[{}/{}] {} run {}: ", step + 1, order.len(), cell.label, rep + 1);
        let recorded = run::record(sh, &cell.spec, rep, cancel);
        if cancel.is_cancelled() {
            eprintln!("stopped, not kept");
            break;
        }
        eprintln!("{}", describe(&recorded.run));
        cell.doc.push(recorded.clone());
        if let Some(path) = &cell.path {
            let text = serde_json::to_string_pretty(&cell.doc).context("serialising a result document")? + "\n";
            write_atomic(path, text.as_bytes())?;
        }
        done.push((i, recorded));
    }
    Ok(done)
}

/// Measures one cell `n` more times; its repetitions continue its numbering.
pub fn measure_more(sh: &Shell, cancel: &Cancel, cell: &mut CellRuns, n: u32) -> Result<Vec<Recorded>> {
    let first = cell.doc.runs.len() as u32;
    let order: Vec<(usize, u32)> = (first..first + n).map(|rep| (0, rep)).collect();
    Ok(measure(sh, cancel, std::slice::from_mut(cell), &order)?.into_iter().map(|(_, r)| r).collect())
}

impl CellRuns {
    /// The document as `compare` reads it: named by its file relative to
    /// `root` (so two cells saved in one invocation directory are paired),
    /// or by its cell when it is kept in memory only.
    pub fn loaded(&self, root: &Path) -> Loaded {
        let path = match &self.path {
            Some(p) => p.strip_prefix(root).unwrap_or(p).to_string_lossy().replace('\\', "/"),
            None => self.doc.cell.clone(),
        };
        Loaded { path, doc: self.doc.clone() }
    }
}

/// The benchstat-style comparison of two documents' valid runs; runs of two
/// documents of one invocation directory are also compared pair by pair.
pub fn compare(a_label: &str, a: &Loaded, b_label: &str, b: &Loaded) -> table::CompareReport {
    table::compare(a_label, &[a], b_label, &[b], &table::TableConfig::default())
}

fn describe(r: &gobench_core::schema::Run) -> String {
    if !r.validity.valid {
        return format!("INVALID ({})", r.validity.reasons.join("; "));
    }
    let headline = r.values.get("rps").map(|v| format!("{v:.1} req/s")).or_else(|| r.values.iter().next().map(|(k, v)| format!("{k} {v}")));
    format!("valid, {}", headline.unwrap_or_default())
}
