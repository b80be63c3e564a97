//! The measuring pipeline as steps that `bench`, the demo, and the commands
//! to come (bisect, reproduce, serve) combine:
//!
//! - [`toolchain_for_sha`]: a toolchain image for any Go commit reachable from
//!   a mirror, without editing the pins; [`workload_on`] a workload on it;
//! - [`start_cell`]: the cell, run spec and document of a built [`Side`];
//! - [`git::first_parent_commits`](crate::git::first_parent_commits): the
//!   commits between two refs;
//! - [`measure`]: run cells N (more) times, interleaved, saving each
//!   document as every run finishes;
//! - [`compare`]: compare two documents' runs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use gobench_core::analysis::{compare as table, Loaded};
use gobench_core::config::{Benchmark, Config, DataDir, Workload};
use gobench_core::document::{self, Head, Recorded};
use gobench_core::lock::{Lock, LockedGo, LockedWorkload, Wanted};
use gobench_core::plan::{self, Cell, Image};
use gobench_core::results;
use gobench_core::schema::{FsyncProbe, Host, ImageRef, Pairing, ResultDoc, Stopped, Toolkit};
use gobench_core::spec::{Protocol, RunSpec};
use gobench_core::stats::{self, First, Next};
use xshell::Shell;

use crate::cancel::Cancel;
use crate::paths::{write_atomic, Paths};
use crate::{bench, build, filelock, gen, git, host, lock, podman, run};

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

/// A Go commit built for a workload: the Go it was built with, the workload
/// commit (workloads with a source) and both images with their IDs.
pub struct Side {
    pub go: LockedGo,
    pub workload: Option<LockedWorkload>,
    pub toolchain: (Image, String),
    pub image: (Image, String),
}

/// The image of `workload` (at `wref`, as `lock` has it) on a built
/// toolchain: its recipe written to `containerfiles/`, built unless it exists.
#[allow(clippy::too_many_arguments)]
pub fn workload_on(
    sh: &Shell,
    paths: &Paths,
    config: &Config,
    lock: &Lock,
    go: LockedGo,
    toolchain: (Image, String),
    workload: &Workload,
    wref: Option<&str>,
    cancel: &Cancel,
) -> Result<Side> {
    let image = plan::workload_image(config, lock, &go, &toolchain.0, workload, wref).map_err(anyhow::Error::msg)?;
    gen::write_image(paths, &image)?;
    let id = build::build_one(sh, paths, config, &image, "[workload]", cancel)?;
    let workload_entry = wref.and_then(|r| lock.workload_entry(workload.name.get_ref(), r)).cloned();
    Ok(Side { go, workload: workload_entry, toolchain, image: (image, id) })
}

/// The cell of `bench` on a built side, how it runs, and its document with
/// no runs yet.
pub fn start_cell(
    sh: &Shell,
    config: &Config,
    bench: &Benchmark,
    side: &Side,
    host: &Host,
    toolkit: &Toolkit,
) -> Result<(Cell, RunSpec, ResultDoc)> {
    let cell = Cell {
        go: side.go.name.clone(),
        workload: bench.workload.get_ref().clone(),
        workload_ref: side.workload.as_ref().map(|w| w.git_ref.clone()),
        benchmark: bench.name.get_ref().clone(),
        image: side.image.0.hash.clone(),
        toolchain: side.toolchain.0.hash.clone(),
    };
    let spec = RunSpec::for_cell(config, &cell, &side.image.1).map_err(anyhow::Error::msg)?;
    let image_ref = |(image, id): &(Image, String)| -> Result<ImageRef> {
        Ok(ImageRef { hash: image.hash.clone(), id: id.clone(), tag: image.tag.clone(), layers: podman::layers(sh, &image.tag)? })
    };
    let head = Head {
        cell: cell.clone(),
        spec: spec.clone(),
        runs_requested: bench.runs,
        go_version: bench::go_version_of(sh, &side.toolchain.0.tag)?,
        image: image_ref(&side.image)?,
        toolchain_image: image_ref(&side.toolchain)?,
        toolkit: toolkit.clone(),
        host: host.clone(),
    };
    let doc = document::start_with(config, &side.go, side.workload.as_ref(), head).map_err(anyhow::Error::msg)?;
    Ok((cell, spec, doc))
}

/// One cell being measured: how it runs, its document so far, and where the
/// document is saved after every run (`None`: kept in memory only).
#[derive(Clone)]
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
    let host = podman::host_of(sh);
    let _host =
        filelock::acquire(&filelock::host_bench_lock_path_for(&host), &format!("benchmarking {what}"), run::HOST_LOCK_TIMEOUT, cancel)?;
    if host.same_machine() {
        probe_disks(cells);
    }
    let mut done = Vec::new();
    for (step, &(i, rep)) in order.iter().enumerate() {
        if cancel.is_cancelled() {
            break;
        }
        let cell = &mut cells[i];
        eprint!("[{}/{}] {} run {}: ", step + 1, order.len(), cell.label, rep + 1);
        let recorded = run::record(sh, &cell.spec, rep, cell.path.as_deref(), cancel);
        if cancel.is_cancelled() {
            eprintln!("stopped, not kept");
            break;
        }
        eprintln!("{}", describe(&recorded.run));
        let failed = !recorded.run.validity.valid;
        cell.doc.push(recorded.clone());
        cell.save()?;
        done.push((i, recorded));
        if failed {
            if let Err(reason) = podman::ping(sh) {
                return Err(HostLost { reason }.into());
            }
        }
    }
    Ok(done)
}

/// The host's podman stopped answering in the middle of a series: the runs
/// so far are saved, the rest cannot run there.
#[derive(Debug)]
pub struct HostLost {
    /// What podman said.
    pub reason: String,
}

impl std::fmt::Display for HostLost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the host's podman stopped answering: {}", self.reason)
    }
}

impl std::error::Error for HostLost {}

/// Adds the fsync probe of its data directory kind to the host facts of
/// every etcd cell that lacks one: once per kind, under the host lock so
/// that no benchmark of ours runs beside it. A probe that fails is said
/// and left out; it does not stop the runs.
fn probe_disks(cells: &mut [CellRuns]) {
    let mut probes: Vec<(DataDir, Option<FsyncProbe>)> = Vec::new();
    for cell in cells.iter_mut().filter(|c| c.spec.protocol() == Protocol::EtcdPair && c.doc.host.fsync_probe.is_none()) {
        let data_dir = cell.spec.data_dir;
        if let Some((_, probe)) = probes.iter().find(|(d, _)| *d == data_dir) {
            cell.doc.host.fsync_probe = probe.clone();
            continue;
        }
        let probe = match host::fsync_probe(data_dir) {
            Ok(p) => {
                eprintln!(
                    "fsync probe ({}, {}): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms{}",
                    p.path,
                    p.filesystem,
                    p.p50 * 1e3,
                    p.p99 * 1e3,
                    p.max * 1e3,
                    if p.meets_etcd_guide { "" } else { ": slower than etcd's guide (p99 under 10 ms)" }
                );
                Some(p)
            }
            Err(e) => {
                eprintln!("warning: no fsync probe: {e:#}");
                None
            }
        };
        cell.doc.host.fsync_probe = probe.clone();
        probes.push((data_dir, probe));
    }
}

impl CellRuns {
    /// The files this cell wrote: its document and the profiles its runs
    /// name beside it (what a commit of its results must include).
    pub fn written_files(&self) -> Vec<PathBuf> {
        let Some(path) = &self.path else { return Vec::new() };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::iter::once(path.clone()).chain(self.doc.runs.iter().flat_map(|r| r.profiles.values()).map(|name| dir.join(name))).collect()
    }

    /// Writes the document to its path, if it has one.
    pub(crate) fn save(&self) -> Result<()> {
        if let Some(path) = &self.path {
            let text = serde_json::to_string_pretty(&self.doc).context("serialising a result document")? + "\n";
            write_atomic(path, text.as_bytes())?;
        }
        Ok(())
    }
}

/// How [`measure_pairs`] repeats.
pub struct Rounds {
    /// Pairs (repetitions) of the first round, by group.
    pub first: Vec<u32>,
    /// `--until-decided`: the change that counts as SAME and the cap.
    pub until_decided: Option<(f64, u32)>,
    /// With `until_decided`: only this metric's decision counts (`None`: every
    /// paired metric's).
    pub decide_on: Option<String>,
    /// Round `k` orders its pairs by `stats::pair_order(len, seed + k)`.
    pub seed: u64,
}

/// Runs `groups` of `cells` (indices; a group of two is a pair of cells that
/// differ only in the Go ref) interleaved, round by round through
/// [`measure`]. Each pair's order is balanced and shuffled and recorded in
/// both documents before it runs; a pair with an invalid run is dropped and
/// replaced once by a pair of its orientation, which restores the balance.
/// With `until_decided`, rounds go on (10, 20, 40 ... pairs in total, up to
/// the cap) while a paired metric is UNKNOWN, and the documents record why
/// they stopped.
pub fn measure_pairs(sh: &Shell, cancel: &Cancel, cells: &mut [CellRuns], groups: &[Vec<usize>], rounds: &Rounds) -> Result<()> {
    let pairs: Vec<(usize, usize)> = groups.iter().filter(|g| g.len() == 2).map(|g| (g[0], g[1])).collect();
    anyhow::ensure!(
        rounds.until_decided.is_none() || !pairs.is_empty(),
        "--until-decided needs two cells that differ only in the Go ref; select both (e.g. two --go of one --benchmark)"
    );
    for &(a, b) in &pairs {
        for (me, other, side) in [(a, b, First::A), (b, a, First::B)] {
            let with = cells[other].label.clone();
            cells[me].doc.pairing = Some(Pairing { with, side, seed: rounds.seed, order: Vec::new(), dropped: Vec::new(), stopped: None });
        }
    }
    let mut total: Vec<usize> = rounds.first.iter().map(|&n| n as usize).collect();
    for round in 0u64.. {
        let start: Vec<u32> = cells.iter().map(|c| c.doc.runs.len() as u32).collect();
        let firsts: Vec<Vec<First>> = groups
            .iter()
            .zip(&total)
            .map(|(g, &total)| {
                let n = total.saturating_sub(start[g[0]] as usize - dropped_of(&cells[g[0]]));
                if g.len() == 2 {
                    stats::pair_order(n, rounds.seed.wrapping_add(round))
                } else {
                    vec![First::A; n]
                }
            })
            .collect();
        run_round(sh, cancel, cells, groups, &start, &firsts)?;
        // The pairs this round lost, replaced once by pairs of their orientation.
        let refill: Vec<Vec<First>> = groups
            .iter()
            .zip(&firsts)
            .map(|(g, fs)| {
                if g.len() != 2 || cancel.is_cancelled() {
                    return Vec::new();
                }
                let reps: Vec<u32> = (0..fs.len() as u32).map(|r| start[g[0]] + r).collect();
                let valid = |c: &CellRuns, rep: u32| c.doc.runs.iter().any(|r| r.index == rep && r.validity.valid);
                let valid: Vec<(bool, bool)> = reps.iter().map(|&r| (valid(&cells[g[0]], r), valid(&cells[g[1]], r))).collect();
                let kept = stats::drop_invalid(&fs[..valid.len()], &valid);
                let lost: Vec<u32> = reps.iter().enumerate().filter(|(i, _)| !kept.pairs.contains(i)).map(|(_, &r)| r).collect();
                for &c in g {
                    cells[c].doc.pairing.as_mut().expect("pairs have a pairing").dropped.extend(&lost);
                }
                kept.refill
            })
            .collect();
        if refill.iter().any(|r| !r.is_empty()) {
            let start: Vec<u32> = cells.iter().map(|c| c.doc.runs.len() as u32).collect();
            run_round(sh, cancel, cells, groups, &start, &refill)?;
        }
        let Some((same_within, cap)) = rounds.until_decided else { break };
        if cancel.is_cancelled() {
            break;
        }
        let decided: Vec<(usize, usize, std::collections::BTreeMap<String, stats::Decision>)> = pairs
            .iter()
            .map(|&(a, b)| {
                let mut d = results::pair_decisions(&cells[a].doc, &cells[b].doc, same_within);
                if let Some(only) = &rounds.decide_on {
                    d.retain(|name, _| name == only);
                }
                (a, b, d)
            })
            .collect();
        let all: Vec<stats::Decision> = decided.iter().flat_map(|(_, _, d)| d.values().copied()).collect();
        let done = total.iter().copied().max().unwrap_or(0);
        match stats::next_round(done, &all, cap as usize) {
            Next::Run { total: t } => {
                eprintln!(
                    "round {}: {} of {} paired metric(s) UNKNOWN; {t} pairs in total next",
                    round + 1,
                    count_unknown(&all),
                    all.len()
                );
                total = vec![t; groups.len()];
            }
            Next::Stop { reason } => {
                let description = reason.describe(cap as usize);
                eprintln!("stopped after {done} pairs: {description}");
                for (a, b, decisions) in decided {
                    for c in [a, b] {
                        let stopped = Stopped { reason, description: description.clone(), decisions: decisions.clone() };
                        cells[c].doc.pairing.as_mut().expect("pairs have a pairing").stopped = Some(stopped);
                        cells[c].save()?;
                    }
                }
                break;
            }
        }
    }
    Ok(())
}

fn count_unknown(decisions: &[stats::Decision]) -> usize {
    decisions.iter().filter(|&&d| d == stats::Decision::Unknown).count()
}

/// Repetitions a cell ran in place of dropped pairs (they do not count
/// towards the round's total).
fn dropped_of(cell: &CellRuns) -> usize {
    cell.doc.pairing.as_ref().map_or(0, |p| p.dropped.len())
}

/// Records the pairs' orientations in the documents, then runs them.
fn run_round(
    sh: &Shell,
    cancel: &Cancel,
    cells: &mut [CellRuns],
    groups: &[Vec<usize>],
    start: &[u32],
    firsts: &[Vec<First>],
) -> Result<()> {
    for (g, fs) in groups.iter().zip(firsts).filter(|(g, _)| g.len() == 2) {
        for &c in g {
            cells[c].doc.pairing.as_mut().expect("pairs have a pairing").order.extend(fs);
        }
    }
    let order = results::paired_interleave(groups, start, firsts);
    measure(sh, cancel, cells, &order)?;
    Ok(())
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
