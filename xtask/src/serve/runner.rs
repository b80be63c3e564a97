//! The seam between the job service and the measuring pipeline: the worker
//! hands a [`Work`] to a [`Runner`] and stores the [`Comparison`] it returns
//! (or its error, as the job's failure reason).
//!
//! The pipeline runner builds the candidate (a Go toolchain for role `go`, a
//! workload image on the master Go for role `workload`), measures it
//! interleaved with the baseline's cached image, commits the results and
//! compares. [`TestDouble`] stands in for it in the orchestration tests only;
//! it is chosen when `GOBENCH_SERVE_TEST_RUNNER` is set.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use gobench_core::analysis::compare as table;
use gobench_core::config::{Config, Workload};
use gobench_core::hosts::PoolHost;
use gobench_core::job::{Comparison, JobKind, Role, Row};
use gobench_core::lock::{Lock, Wanted};
use gobench_core::plan;
use gobench_core::results;
use gobench_core::stats::{self, Verdict};
use xshell::Shell;

use crate::cancel::Cancel;
use crate::paths::Paths;
use crate::pipeline::{self, CellRuns, HostLost, Side};
use crate::{build, gen, git, host, podman, pool};

/// What one job asks the pipeline to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Work {
    pub job: u64,
    pub kind: JobKind,
    pub role: Role,
    /// The commit to build and measure (Go or workload, by `role`).
    pub sha: String,
    /// The commit to measure it against: an explicit baseline, else the
    /// master set's commit; `None` when there is no master set yet (the first
    /// new-master job), so there is nothing to compare with.
    pub baseline: Option<String>,
    /// The `[serve]` benchmark.
    pub benchmark: String,
    /// The host of the pool that measures it (builds stay on this machine).
    pub host: PoolHost,
}

/// Builds and measures one job. `cancelled` turns true when the job was
/// cancelled while it runs; a runner checks it between steps and stops.
pub trait Runner: Send + Sync {
    fn run(&self, work: &Work, cancelled: &dyn Fn() -> bool) -> Result<Comparison>;
}

/// The environment variable that selects [`TestDouble`]: the seconds one
/// job takes.
pub const TEST_RUNNER_ENV: &str = "GOBENCH_SERVE_TEST_RUNNER";
/// With the test double: a file it appends one line per started job to.
pub const TEST_RUNNER_LOG_ENV: &str = "GOBENCH_SERVE_TEST_RUNNER_LOG";

/// The runner this process uses.
pub fn select(paths: &Paths) -> Result<Arc<dyn Runner>> {
    match std::env::var(TEST_RUNNER_ENV) {
        Ok(secs) => {
            let secs: f64 = secs.parse().with_context(|| format!("${TEST_RUNNER_ENV} must be a number of seconds, got {secs:?}"))?;
            eprintln!("serve: jobs run on the test double (${TEST_RUNNER_ENV}={secs}), not the measuring pipeline");
            Ok(Arc::new(TestDouble { duration: Duration::from_secs_f64(secs), log: std::env::var_os(TEST_RUNNER_LOG_ENV).map(Into::into) }))
        }
        Err(_) => Ok(Arc::new(Pipeline { paths: paths.clone() })),
    }
}

/// The measuring pipeline: builds the candidate and the baseline (a cached
/// image is found by its hash, not rebuilt), runs both interleaved in one
/// invocation directory so their runs are paired, commits the documents and
/// compares them.
struct Pipeline {
    paths: Paths,
}

impl Runner for Pipeline {
    fn run(&self, work: &Work, cancelled: &dyn Fn() -> bool) -> Result<Comparison> {
        // The job runs on a thread of its own; this one turns `cancelled`
        // into the token that stops builds and runs cleanly.
        let cancel = Cancel::new();
        std::thread::scope(|s| {
            let job = s.spawn(|| measure_job(&self.paths, work, &cancel));
            while !job.is_finished() {
                if !cancel.is_cancelled() && cancelled() {
                    eprintln!("serve: job {} cancelled, stopping its build or run", work.job);
                    cancel.cancel();
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            job.join().unwrap_or_else(|_| Err(anyhow::anyhow!("job {}: the measuring thread panicked", work.job)))
        })
    }
}

fn measure_job(paths: &Paths, work: &Work, cancel: &Cancel) -> Result<Comparison> {
    let sh = podman::shell()?;
    let (config, lock) = paths.load_pinned()?;
    let bench = config.benchmark(&work.benchmark).with_context(|| format!("[serve] benchmark `{}` is not configured", work.benchmark))?;
    let workload = config.workload(bench.workload.get_ref()).context("the benchmark's workload is not configured")?;
    let candidate = build_side(&sh, paths, &config, &lock, work.role, workload, &work.sha, cancel)?;
    let baseline = work.baseline.as_deref().map(|b| build_side(&sh, paths, &config, &lock, work.role, workload, b, cancel)).transpose()?;
    cancel.check()?;

    let dir = paths.results.join(results::invocation_dir(&crate::run::rfc3339(SystemTime::now())));
    let (here, toolkit) = (host::describe()?, host::toolkit(&sh));
    let mut cells = Vec::new();
    for (name, side) in [("baseline", baseline.as_ref()), ("candidate", Some(&candidate))] {
        let Some(side) = side else { continue };
        let (cell, spec, doc) = pipeline::start_cell(&sh, &config, bench, side, &here, &toolkit)?;
        // Both sides of a workload job have the same cell: the file names tell them apart.
        let path = Some(dir.join(results::file_name(&format!("{}.job-{}-{name}", cell.id(), work.job))));
        cells.push(CellRuns { label: format!("{name} {}", cell.id()), spec, doc, path });
    }
    pool::ready(&work.host, &mut cells).map_err(|e| HostLost { reason: format!("{e:#}") })?;
    // Candidate and baseline are one pair, in a balanced order seeded by the job.
    let groups = vec![(0..cells.len()).collect::<Vec<_>>()];
    let rounds = pipeline::Rounds { first: vec![bench.runs], until_decided: None, decide_on: None, seed: work.job };
    let measured = pipeline::measure_pairs(&podman::shell_at(&work.host.connection)?, cancel, &mut cells, &groups, &rounds);
    if let Err(e) = measured {
        if e.downcast_ref::<HostLost>().is_some() {
            // The runs so far stay in the repository, apart from the history.
            let name = work.host.display();
            for c in &mut cells {
                pool::abandon(c, &name, &format!("{e:#}"))?;
            }
            let files: Vec<PathBuf> = cells.iter().flat_map(|c| c.written_files()).filter(|p| p.exists()).collect();
            git::commit_files(&sh, &paths.root, &files, &format!("results: serve job {}, abandoned on lost host `{name}`\n", work.job))?;
        }
        return Err(e);
    }
    cancel.check()?;

    let files: Vec<PathBuf> = cells.iter().filter_map(|c| c.path.clone()).filter(|p| p.exists()).collect();
    let mut to_commit: Vec<PathBuf> = cells.iter().flat_map(|c| c.written_files()).filter(|p| p.exists()).collect();
    to_commit.extend(crate::gen::recipe_files(
        paths,
        std::iter::once(&candidate).chain(&baseline).flat_map(|side| [&side.image.0.hash, &side.toolchain.0.hash]),
    ));
    let message = format!("results: serve job {} ({} {})\n", work.job, work.role.as_str(), &work.sha[..12.min(work.sha.len())]);
    if !git::commit_files(&sh, &paths.root, &to_commit, &message)? {
        eprintln!("serve: {} is not in a git repository; job {}'s results were written but not committed", paths.root.display(), work.job);
    }
    let rel = |p: &PathBuf| p.strip_prefix(&paths.root).unwrap_or(p).to_string_lossy().replace('\\', "/");
    let files: Vec<String> = files.iter().map(rel).collect();
    let short = |sha: &str| sha[..12.min(sha.len())].to_string();
    let candidate_label = short(&work.sha);
    let report = match (&work.baseline, &cells[..]) {
        (Some(b), [base, cand]) => {
            pipeline::compare(&format!("master {}", short(b)), &base.loaded(&paths.root), &candidate_label, &cand.loaded(&paths.root))
        }
        _ => {
            let cand = cells.last().expect("the candidate is always measured").loaded(&paths.root);
            table::compare("nothing (first master set)", &[], &candidate_label, &[&cand], &table::TableConfig::default())
        }
    };
    let mut comparison = Comparison::from_report(&report, files, None);
    if work.baseline.is_none() {
        for row in &mut comparison.rows {
            row.note = Some("no master set yet: these runs are the master set".into());
        }
    }
    Ok(comparison)
}

/// Builds one side: for role `go` a toolchain of Go commit `sha` and the
/// workload (at its first pinned ref) on it; for role `workload` workload
/// commit `sha` on the master Go (the first Go of the matrix).
#[allow(clippy::too_many_arguments)]
fn build_side(
    sh: &Shell,
    paths: &Paths,
    config: &Config,
    lock: &Lock,
    role: Role,
    workload: &Workload,
    sha: &str,
    cancel: &Cancel,
) -> Result<Side> {
    let master_name = config.matrix.go.first().context("the matrix names no Go; add one to [matrix] go")?.get_ref();
    let master = lock.go_entry(master_name).with_context(|| format!("go `{master_name}` is not in the lock; run `cargo xtask lock`"))?;
    let first_ref = workload.refs.first().map(|r| r.get_ref().clone());
    let (go, toolchain, lock, wref) = match role {
        Role::Go => {
            let (go, image, id) = pipeline::toolchain_for_sha(sh, paths, config, &master.url, sha, cancel)?;
            (go, (image, id), lock.clone(), first_ref)
        }
        Role::Workload => {
            let image = plan::toolchain_image(config, master).map_err(anyhow::Error::msg)?;
            gen::write_image(paths, &image)?;
            let id = build::build_one(sh, paths, config, &image, "[toolchain]", cancel)?;
            let url = workload
                .url()
                .with_context(|| format!("workload `{}` has no source repository to build commits of", workload.name.get_ref()))?;
            let git_ref = first_ref.clone().with_context(|| format!("workload `{}` pins no ref", workload.name.get_ref()))?;
            let location = paths.source_location(url);
            let mirror = git::ensure_mirror(sh, &paths.cache, &location, &[sha])?;
            let sha = git::resolve(sh, &mirror, sha, url)?;
            let commit_time = git::commit_time(sh, &mirror, &sha)?;
            // The commit stands in for the pinned ref, so that both sides
            // have the same cell and their rows and runs are compared.
            let wanted = Wanted { kind: "workload", name: workload.name.get_ref().clone(), url: url.to_string(), git_ref: git_ref.clone() };
            let locked = crate::lock::lock_workload(sh, &mirror, wanted, sha, commit_time)?;
            let mut lock = lock.clone();
            lock.workload.retain(|w| !(w.name == locked.name && w.git_ref == git_ref));
            lock.workload.push(locked);
            (master.clone(), (image, id), lock, Some(git_ref))
        }
    };
    pipeline::workload_on(sh, paths, config, &lock, go, toolchain, workload, wref.as_deref(), cancel)
}

/// Orchestration tests' stand-in: waits, then answers from the SHAs, so a
/// test can tell which job and which baseline it was given. A candidate SHA
/// starting with `dead` fails like a broken build; one starting with `b` is
/// slower than its baseline (a regression), anything else faster.
pub struct TestDouble {
    duration: Duration,
    log: Option<std::path::PathBuf>,
}

impl Runner for TestDouble {
    fn run(&self, work: &Work, cancelled: &dyn Fn() -> bool) -> Result<Comparison> {
        if let Some(log) = &self.log {
            use std::io::Write;
            let line = format!("job {} {} against {}\n", work.job, work.sha, work.baseline.as_deref().unwrap_or("nothing"));
            let mut f =
                std::fs::OpenOptions::new().create(true).append(true).open(log).with_context(|| format!("opening {}", log.display()))?;
            f.write_all(line.as_bytes()).with_context(|| format!("writing {}", log.display()))?;
        }
        let started = Instant::now();
        while started.elapsed() < self.duration {
            anyhow::ensure!(!cancelled(), "cancelled while measuring");
            std::thread::sleep(Duration::from_millis(50));
        }
        anyhow::ensure!(!work.sha.starts_with("dead"), "building {}: make.bash failed (test double)", &work.sha[..12]);
        let slower = work.sha.starts_with('b');
        let candidate: Vec<f64> = (0..6).map(|i| if slower { 150.0 + i as f64 } else { 80.0 + i as f64 }).collect();
        let baseline: Vec<f64> = (0..6).map(|i| 100.0 + i as f64).collect();
        let cmp = match work.baseline {
            Some(_) => stats::compare(&baseline, &candidate, &stats::CompareConfig::new(stats::Direction::LowerIsBetter)),
            None => None,
        };
        Ok(Comparison {
            baseline: work.baseline.as_ref().map_or("nothing (first master set)".into(), |b| format!("master {}", &b[..12.min(b.len())])),
            candidate: work.sha[..12].to_string(),
            rows: vec![Row {
                cell: format!("go-std/{}", work.benchmark),
                metric: "sec/op".into(),
                unit: "ns".into(),
                baseline: cmp.as_ref().map(|c| c.old.clone()),
                candidate: stats::summarize(&candidate),
                delta_pct: cmp.as_ref().and_then(|c| c.delta_pct),
                p_value: cmp.as_ref().map(|c| c.p_value),
                verdict: cmp.as_ref().map_or(Verdict::NoChange, |c| c.verdict),
                note: cmp.is_none().then(|| "no master set yet".to_string()),
                paired: None,
            }],
            files: vec![format!("results/serve/job-{}.json", work.job)],
            report: None,
        })
    }
}
