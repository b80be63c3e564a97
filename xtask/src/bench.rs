//! `cargo xtask bench`: the main job. Build what is missing, run the
//! selected cells interleaved, write one result document per cell, commit
//! them, upload them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{Context, Result};
use gobench_core::config::Config;
use gobench_core::document::{self, Head};
use gobench_core::hosts;
use gobench_core::lock::Lock;
use gobench_core::plan::{self, Cell, Plan};
use gobench_core::results;
use gobench_core::schema::ImageRef;
use gobench_core::shard;
use gobench_core::spec::RunSpec;
use gobench_core::stats;
use xshell::{cmd, Shell};

use crate::build::{self, Built};
use crate::cancel::{self, Cancel};
use crate::paths::Paths;
use crate::pipeline::{self, CellRuns};
use crate::{flags, git, host, podman, pool, upload};

impl flags::Bench {
    pub fn run(self, paths: &Paths) -> Result<()> {
        let cancel = cancel::for_job()?;
        crate::lock::ensure(&podman::shell()?, paths)?;
        let (config, lock) = paths.load_pinned()?;
        let plan = plan::plan(&config, &lock).map_err(anyhow::Error::msg)?;
        let mut cells = self.select.cells(&plan)?;
        if let Some(arg) = self.shard {
            cells = shard::shard_cells(&config, &cells, arg);
            if cells.is_empty() {
                println!("shard {}/{} has no comparison group: nothing to run", arg.index, arg.count);
                return Ok(());
            }
        }
        let built = build::build_images(paths, &config, &plan, &cells, &cancel)?;
        cancel.check()?;
        let options = Options {
            runs: self.runs,
            commit: !self.no_commit,
            upload: !self.no_commit && !self.no_upload && self.shard.is_none(),
            until_decided: self.until_decided.then_some((self.same_within, self.max_runs)),
            pair_seed: self.pair_seed,
            profile_secs: self.profile,
        };
        bench(paths, &config, &lock, &plan, &cells, &built, &options, &cancel).map(|_| ())
    }
}

pub struct Options {
    pub runs: Option<u32>,
    pub commit: bool,
    pub upload: bool,
    /// `--until-decided`: the change that counts as SAME and the cap of pairs.
    pub until_decided: Option<(f64, u32)>,
    /// The seed of the pair order; `None`: from the clock.
    pub pair_seed: Option<u64>,
    /// `--profile`: profile every run (the CPU profile's window in seconds).
    pub profile_secs: Option<u64>,
}

/// Runs the cells whose images were built and keeps their documents (written
/// after every run, committed, uploaded); returns the documents with runs.
#[allow(clippy::too_many_arguments)]
pub fn bench(
    paths: &Paths,
    config: &Config,
    lock: &Lock,
    plan: &Plan,
    cells: &[&Cell],
    built: &Built,
    options: &Options,
    cancel: &Cancel,
) -> Result<Vec<CellRuns>> {
    let sh = podman::shell()?;
    let mut skipped = Vec::new();
    let dir = paths.results.join(results::invocation_dir(&crate::run::rfc3339(SystemTime::now())));
    let shared = Shared::gather(&sh, plan, built, cells)?;
    let runs_of = |cell: &Cell| options.runs.unwrap_or_else(|| config.benchmark(&cell.benchmark).map_or(1, |b| b.runs));
    let mut states: Vec<(&Cell, CellRuns)> = Vec::new();
    for &cell in cells {
        let Some(image_id) = built.ids.get(&cell.image) else {
            skipped.push(cell.id());
            continue;
        };
        let spec = RunSpec { profile_secs: options.profile_secs, ..RunSpec::for_cell(config, cell, image_id).map_err(anyhow::Error::msg)? };
        let head = Head {
            cell: cell.clone(),
            spec: spec.clone(),
            runs_requested: runs_of(cell),
            go_version: shared.go_version.get(&cell.toolchain).cloned().unwrap_or_default(),
            image: shared.image(&sh, &cell.image)?,
            toolchain_image: shared.image(&sh, &cell.toolchain)?,
            toolkit: shared.toolkit.clone(),
            host: shared.host.clone(),
        };
        let doc = document::start(config, lock, head).map_err(anyhow::Error::msg)?;
        let path = Some(dir.join(results::file_name(&cell.id())));
        states.push((cell, CellRuns { label: cell.id(), spec, doc, path }));
    }

    // Cells that differ only in their Go ref run next to each other, as pairs
    // per repetition, so drift hits both alike; which one goes first is
    // balanced and shuffled from a recorded seed.
    let cells_of: Vec<&Cell> = states.iter().map(|(c, _)| *c).collect();
    let groups = plan::comparison_groups(config, &cells_of);
    let first = match options.until_decided {
        Some((_, cap)) => vec![(stats::FIRST_ROUND as u32).min(cap); groups.len()],
        None => groups.iter().map(|g| g.iter().map(|&i| runs_of(states[i].0)).max().unwrap_or(0)).collect(),
    };
    let seed = options.pair_seed.unwrap_or_else(clock_seed);
    let rounds = pipeline::Rounds { first, until_decided: options.until_decided, decide_on: None, seed };
    let mut states: Vec<CellRuns> = states.into_iter().map(|(_, s)| s).collect();
    let pool = hosts::pool(&config.host);
    let ran = if let [host] = &pool[..] {
        // One host: every group interleaved on it.
        pool::ready(host, &mut states)?;
        let failure = pipeline::measure_pairs(&podman::shell_at(&host.connection)?, cancel, &mut states, &groups, &rounds).err();
        pool::Ran { cells: states, abandoned: Vec::new(), stranded: Vec::new(), failure }
    } else {
        let may_run = groups
            .iter()
            .map(|g| {
                let requires = config.benchmark(&cells_of[g[0]].benchmark).map(|b| b.requires.clone()).unwrap_or_default();
                pool.iter().map(|h| h.satisfies(&requires)).collect()
            })
            .collect();
        pool::run(&pool, may_run, states, &groups, &rounds, cancel)?
    };
    let states = ran.cells;

    let written: Vec<(&Cell, &CellRuns)> = cells_of.iter().copied().zip(&states).filter(|(_, s)| !s.doc.runs.is_empty()).collect();
    let shown = |s: &CellRuns| s.path.as_ref().map(|p| p.strip_prefix(&paths.root).unwrap_or(p).display().to_string()).unwrap_or_default();
    for (_, s) in &written {
        let valid = s.doc.valid_runs().count();
        let on = s.doc.host.entry.as_ref().map(|e| format!(" on `{e}`")).unwrap_or_default();
        println!("{:<48} {valid}/{} valid{on}  {}", s.label, s.doc.runs.len(), shown(s));
    }
    for s in &ran.abandoned {
        println!("{:<48} {} run(s) kept, abandoned: host lost  {}", s.label, s.doc.runs.len(), shown(s));
    }
    let files: Vec<PathBuf> = written.iter().map(|(_, s)| *s).chain(&ran.abandoned).filter_map(|s| s.path.clone()).collect();
    if options.commit && !files.is_empty() {
        let names: Vec<&str> = written.iter().map(|(_, s)| s.label.as_str()).collect();
        let stopped = if cancel.is_cancelled() { " (interrupted)" } else { "" };
        let lost = if ran.abandoned.is_empty() { String::new() } else { format!(", {} abandoned on a lost host", ran.abandoned.len()) };
        let message = format!("results: {} cell(s){stopped}{lost}\n\n{}\n", names.len(), names.join("\n"));
        let mut to_commit: Vec<PathBuf> = written.iter().flat_map(|(_, s)| s.written_files()).collect();
        to_commit.extend(ran.abandoned.iter().flat_map(CellRuns::written_files));
        to_commit.extend(crate::gen::recipe_files(paths, written.iter().flat_map(|(cell, _)| [&cell.image, &cell.toolchain])));
        match git::commit_files(&sh, &paths.root, &to_commit, &message)? {
            true => println!("committed {} result file(s)", files.len()),
            false => eprintln!("note: {} is not in a git repository; results were written but not committed", paths.root.display()),
        }
    }
    if options.upload && !files.is_empty() {
        upload_after_bench(&sh, paths, config);
    }
    if cancel.is_cancelled() {
        return Err(cancel::cancelled()).context(format!("the {} finished result file(s) were kept", files.len()));
    }
    if let Some(e) = ran.failure {
        return Err(e.context(format!("the {} finished result file(s) were kept", files.len())));
    }
    anyhow::ensure!(
        ran.stranded.is_empty(),
        "no live host may run {}: they were not run (the hosts their benchmark's labels allow were lost; `cargo xtask doctor --hosts` checks them)",
        ran.stranded.join(", ")
    );
    if !skipped.is_empty() {
        built.summary(plan)?;
        anyhow::bail!("{} cell(s) were not run because their image could not be built: {}", skipped.len(), skipped.join(", "));
    }
    Ok(states)
}

/// A pair-order seed nobody chose: the clock's nanoseconds.
fn clock_seed() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// Uploads pending results; a failure leaves them pending, it does not fail
/// the benchmark (the results are committed).
fn upload_after_bench(sh: &Shell, paths: &Paths, config: &Config) {
    let Some(target) = config.upload.clone() else {
        eprintln!("note: no [upload] table in {}; not uploading", paths.config.display());
        return;
    };
    let outcome = upload::UploadSettings::for_target(&paths.root, target).and_then(|settings| upload::upload_pending(sh, &settings));
    match outcome {
        Ok(report) => report.print(),
        Err(e) => eprintln!("warning: upload skipped, results stay pending (`cargo xtask upload --all-pending` retries): {e:#}"),
    }
}

/// `go version` in a toolchain image.
pub fn go_version_of(sh: &Shell, tag: &str) -> Result<String> {
    let v = cmd!(sh, "podman run --rm --network=none {tag} go version")
        .quiet()
        .read()
        .with_context(|| format!("running `go version` in {tag}"))?;
    Ok(v.trim().to_string())
}

/// What every document of an invocation shares.
struct Shared<'a> {
    host: gobench_core::schema::Host,
    toolkit: gobench_core::schema::Toolkit,
    /// `go version` of each toolchain image, by hash.
    go_version: BTreeMap<String, String>,
    plan: &'a Plan,
    built: &'a Built,
}

impl<'a> Shared<'a> {
    fn gather(sh: &Shell, plan: &'a Plan, built: &'a Built, cells: &[&Cell]) -> Result<Shared<'a>> {
        let mut go_version = BTreeMap::new();
        for cell in cells.iter().filter(|c| built.ids.contains_key(&c.image)) {
            let tc = &cell.toolchain;
            if !go_version.contains_key(tc) {
                let tag = &plan.image(tc).expect("cells name planned images").tag;
                go_version.insert(tc.clone(), go_version_of(sh, tag)?);
            }
        }
        Ok(Shared { host: host::describe()?, toolkit: host::toolkit(sh), go_version, plan, built })
    }

    fn image(&self, sh: &Shell, hash: &str) -> Result<ImageRef> {
        let tag = self.plan.image(hash).map(|i| i.tag.clone()).unwrap_or_default();
        Ok(ImageRef {
            hash: hash.to_string(),
            id: self.built.ids.get(hash).cloned().unwrap_or_default(),
            layers: podman::layers(sh, &tag)?,
            tag,
        })
    }
}
