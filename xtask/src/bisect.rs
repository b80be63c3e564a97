//! `cargo xtask bisect`: find the first Go commit between a good and a bad
//! ref that made a benchmark worse, and `bisect --run`, the same verdict for
//! one commit as `git bisect run` wants it. The search, the verdicts, the
//! log and the page are pure (`gobench_core::bisect`); this module lists the
//! candidates in the cache's mirror, builds each commit through the pipeline
//! (images are content-addressed, so nothing is built twice), measures it,
//! and writes the log after every step.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use gobench_core::bisect::log::{self as bisect_log, BisectLog, Candidate, End, LogStep, BISECT_LOG_SCHEMA};
use gobench_core::bisect::{answer, page, verdict, Step, Verdict};
use gobench_core::config::{Benchmark, Config, Workload, WorkloadKind};
use gobench_core::lock::Lock;
use gobench_core::results;
use gobench_core::schema::{Host, ResultDoc, Toolkit};
use xshell::{cmd, Shell};

use crate::cancel::{self, Cancel};
use crate::paths::{bisect_dir, write_atomic, Paths};
use crate::pipeline::{self, CellRuns, Rounds, Side};
use crate::{git, host, podman};

/// Find the first Go commit between a good and a bad ref that made a
/// benchmark worse.
///
/// The candidates are the first-parent commits from good to bad in the
/// cache's mirror of the Go repository (`cargo xtask lock` refreshes it);
/// when good is not an ancestor of bad (a release tag and master), the
/// bisect starts from their merge base, measured as the good end. The ends
/// are measured first, as interleaved pairs: unless bad is significantly
/// worse than good the command stops with the numbers and exits 1. Then
/// each probed commit is built (a commit that does not build is skipped),
/// measured in rounds of `--runs` runs and compared with both ends by rank
/// statistics: like-good, like-bad, or unknown and measured again, up to
/// `--max-runs`. The log `results/bisect/<id>/log.json` and the page
/// `index.html` beside it are written after every step; the same command
/// again continues where it stopped and reuses every sample. Exit: 0 found
/// (or a range, or stopped at `--max-steps`), 1 the ends do not differ in
/// the bad direction, 2 an error.
///
/// `--run` measures one commit against the recorded ends of a log, for
/// `git bisect run cargo xtask --config FILE bisect --run`: exit 0 like-good,
/// 1 like-bad, 125 it does not build or is still unknown at the cap, 128 an
/// error (which stops `git bisect run`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The good Go ref or SHA (before the regression).
    #[arg(long, value_name = "REF", required_unless_present = "run")]
    pub good: Option<String>,
    /// The bad Go ref or SHA (with the regression).
    #[arg(long, value_name = "REF", required_unless_present = "run")]
    pub bad: Option<String>,
    /// The benchmark, by its name in the pins.
    #[arg(long, value_name = "NAME", required_unless_present = "run")]
    pub bench: Option<String>,
    /// The metric to bisect (default: `rps` for etcd, else the benchmark's
    /// only metric).
    #[arg(long, value_name = "M")]
    pub metric: Option<String>,
    /// The Go repository, when the pins' `[[go]]` entries name several.
    #[arg(long, value_name = "URL")]
    pub go_url: Option<String>,
    /// The workload ref (etcd; default: the workload's first ref).
    #[arg(long, value_name = "R")]
    pub workload_ref: Option<String>,
    /// Runs of a round: the ends' first round of pairs, and each measurement
    /// of a commit.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub runs: u32,
    /// The cap: most pairs of the ends, most runs of one commit.
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub max_runs: u32,
    /// The ends count as the same when the 95% CI of bad/good lies within
    /// 1 +- this fraction.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.02)]
    pub same_within: f64,
    /// Stop after this many steps (the ends count as one); run again to go on.
    #[arg(long, value_name = "N")]
    pub max_steps: Option<usize>,
    /// Measure one commit against the ends of an existing log (for `git
    /// bisect run`).
    #[arg(long, conflicts_with_all = ["good", "bad", "bench", "metric", "go_url", "workload_ref", "max_steps"])]
    pub run: bool,
    /// With `--run`: the Go commit (default: HEAD of the repository in the
    /// current directory).
    #[arg(long, value_name = "REF", requires = "run")]
    pub commit: Option<String>,
    /// With `--run`: the log (default: the only one under `results/bisect/`).
    #[arg(long, value_name = "FILE", requires = "run")]
    pub log: Option<PathBuf>,
}

/// `git bisect run`'s code for a commit that cannot be tested.
const SKIP: u8 = 125;

impl Args {
    /// Returns the exit code.
    pub fn run(self, paths: &Paths) -> Result<u8> {
        if !self.run {
            return self.bisect(paths);
        }
        // Any code from 1 to 127 but 125 means "bad" to `git bisect run`:
        // an error must stop it instead.
        match self.run_one(paths) {
            Ok(code) => Ok(code),
            Err(e) => {
                eprintln!("error: {e:#}");
                Ok(cancel::exit_code().unwrap_or(128))
            }
        }
    }

    fn bisect(self, paths: &Paths) -> Result<u8> {
        let cancel = cancel::for_job()?;
        let sh = podman::shell()?;
        crate::lock::ensure(&sh, paths)?;
        let (config, lock) = paths.load_pinned()?;
        let name = self.bench.as_deref().expect("clap requires --bench");
        let target = Target::new(&config, &lock, name, self.workload_ref.clone())?;
        let url = go_url(&config, self.go_url.as_deref())?;
        let location = paths.source_location(&url);
        let mirror = git::ensure_mirror(&sh, &paths.cache, &location, &[])?;
        let resolve = |r: &str| git::resolve(&sh, &mirror, r, &url);
        let (good_ref, bad_ref) = (self.good.clone().expect("clap requires --good"), self.bad.clone().expect("clap requires --bad"));
        let (good, bad) = (resolve(&good_ref)?, resolve(&bad_ref)?);
        anyhow::ensure!(good != bad, "--good and --bad are the same commit {good}");
        let mut id = format!("{name}-{}-{}", &good[..12], &bad[..12]);
        if let Some(r) = &target.workload_ref {
            id += &format!("-{}", r.replace(|c: char| !c.is_ascii_alphanumeric() && c != '.', "_"));
        }
        let dir = bisect_dir(&paths.results).join(&id);
        let log_path = dir.join("log.json");
        let metric = self.metric.clone().or_else(|| (target.workload.kind == WorkloadKind::Etcd).then(|| "rps".to_string()));

        let mut log = if log_path.exists() {
            let log = read_log(&log_path)?;
            let differs = |what: &str, log: &str, now: &str| {
                anyhow::bail!(
                    "{} bisects {what} {log:?}, not {now:?}: give the same flags, or remove that directory to start again",
                    log_path.display()
                )
            };
            if let Some(m) = metric.as_deref().filter(|m| *m != log.metric) {
                differs("metric", &log.metric, m)?;
            }
            if log.go_url != url {
                differs("the Go repository", &log.go_url, &url)?;
            }
            eprintln!("bisect: resuming {} ({} step(s) so far)", log_path.display(), log.steps.len());
            log
        } else {
            let base = if git::is_ancestor(&sh, &mirror, &good, &bad)? {
                good.clone()
            } else {
                let base = git::merge_base(&sh, &mirror, &good, &bad)?;
                eprintln!(
                    "bisect: {good_ref} ({}) is not an ancestor of {bad_ref} ({}): bisecting from their merge base {base}, measured as the good end",
                    &good[..12],
                    &bad[..12]
                );
                base
            };
            let mut commits = vec![git::commit_info(&sh, &mirror, &base)?];
            commits.extend(git::first_parent_commits(&sh, &mirror, &base, &bad)?);
            let candidates: Vec<Candidate> =
                commits.into_iter().map(|c| Candidate { sha: c.sha, subject: c.subject, author: c.author, date: c.date }).collect();
            eprintln!("bisect: {} first-parent commits from {} to {}", candidates.len(), &base[..12], &bad[..12]);
            BisectLog {
                schema: BISECT_LOG_SCHEMA.to_string(),
                bench: name.to_string(),
                metric: metric.clone().unwrap_or_default(),
                good: End { git_ref: good_ref, sha: good.clone() },
                bad: End { git_ref: bad_ref, sha: bad.clone() },
                go_url: url.clone(),
                workload_ref: target.workload_ref.clone(),
                runs: self.runs as usize,
                merge_base: (base != good).then_some(base),
                ends: None,
                candidates,
                max_unknown: (self.max_runs.div_ceil(self.runs.max(1)) as usize).max(1),
                steps: Vec::new(),
            }
        };
        let ctx = Measuring { sh: &sh, paths, target: &target, url: &url, dir: &dir, host: host::describe()?, toolkit: host::toolkit(&sh) };
        let mut steps_now = 0;
        if log.steps.is_empty() {
            if !ctx.measure_ends(&mut log, &self, &cancel)? {
                return Ok(1);
            }
            save(&dir, &log)?;
            steps_now += 1;
        }
        loop {
            match log.next() {
                Ok(Step::Probe { index, again }) => {
                    if self.max_steps.is_some_and(|m| steps_now >= m) {
                        save(&dir, &log)?;
                        print!("{}", answer::render_text(&log));
                        eprintln!("bisect: stopped after {steps_now} step(s) (--max-steps); the same command again continues");
                        return Ok(0);
                    }
                    let c = &log.candidates[index];
                    eprintln!(
                        "bisect: step {}: commit {index} of {}, {} {}{}",
                        log.steps.len() + 1,
                        log.candidates.len() - 1,
                        &c.sha[..12],
                        c.subject,
                        if again { " (unknown so far: more runs)" } else { "" }
                    );
                    let step = ctx.probe(&log, index, &cancel)?;
                    log.steps.push(step);
                    save(&dir, &log)?;
                    steps_now += 1;
                    let e = answer::evidence(&log).pop().expect("a step was just logged");
                    eprintln!("bisect: step {}: {}", e.step, evidence_line(&e));
                }
                Ok(_) => {
                    save(&dir, &log)?;
                    print!("{}", answer::render_text(&log));
                    println!("\nlog: {}\npage: {}", log_path.display(), dir.join("index.html").display());
                    return Ok(0);
                }
                Err(e) => anyhow::bail!("{e} (log {})", log_path.display()),
            }
        }
    }

    fn run_one(self, paths: &Paths) -> Result<u8> {
        let cancel = cancel::for_job()?;
        let sh = podman::shell()?;
        let log_path = match &self.log {
            Some(p) => p.clone(),
            None => only_log(paths)?,
        };
        let log = read_log(&log_path)?;
        anyhow::ensure!(
            log.ends.as_ref().is_some_and(|e| e.confirmed),
            "{} has no confirmed ends yet; run the bisect with --good and --bad first",
            log_path.display()
        );
        let (config, lock) = paths.load_pinned()?;
        let target = Target::new(&config, &lock, &log.bench, log.workload_ref.clone())?;
        let (url, sha) = match &self.commit {
            Some(r) => {
                let mirror = git::ensure_mirror(&sh, &paths.cache, &paths.source_location(&log.go_url), &[])?;
                (log.go_url.clone(), git::resolve(&sh, &mirror, r, &log.go_url)?)
            }
            // The repository `git bisect` walks; it is only read, through a
            // mirror in the cache, like any local Go source.
            None => {
                let top = cmd!(sh, "git rev-parse --show-toplevel")
                    .quiet()
                    .read()
                    .context("finding the git repository of the current directory (or give --commit)")?;
                (top.trim().to_string(), cmd!(sh, "git rev-parse HEAD").quiet().read().context("reading HEAD")?.trim().to_string())
            }
        };
        let dir = log_path.parent().context("the log has no directory")?.to_path_buf();
        let ctx = Measuring { sh: &sh, paths, target: &target, url: &url, dir: &dir, host: host::describe()?, toolkit: host::toolkit(&sh) };
        let side = match ctx.build(&sha, &cancel) {
            Ok(side) => side,
            Err(e) => {
                cancel.check()?;
                eprintln!("bisect --run: {} does not build, skip it: {}", &sha[..12], format!("{e:#}").lines().next().unwrap_or_default());
                return Ok(SKIP);
            }
        };
        let (good, bad) = log.ends();
        let mut samples = Vec::new();
        for round in 1..=log.max_unknown {
            samples.extend(ctx.measure(&side, &format!("run-{}", &sha[..12]), log.runs as u32, &log.metric, &cancel)?);
            let Some(c) = verdict::classify(&samples, &good, &bad) else {
                eprintln!("bisect --run: no valid run of {}, skip it", &sha[..12]);
                return Ok(SKIP);
            };
            eprintln!(
                "bisect --run: {} round {round}: {} runs, /good {:.3}, /bad {:.3}, p good {:.3}, p bad {:.3}: {}",
                &sha[..12],
                samples.len(),
                c.ratio_to_good,
                c.ratio_to_bad,
                c.vs_good.p_ks.min(c.vs_good.p_mwu),
                c.vs_bad.p_ks.min(c.vs_bad.p_mwu),
                answer::verdict_name(c.verdict)
            );
            match c.verdict {
                Verdict::Good => return Ok(0),
                Verdict::Bad => return Ok(1),
                _ => {}
            }
        }
        eprintln!("bisect --run: {} is still unknown after {} runs, skip it", &sha[..12], samples.len());
        Ok(SKIP)
    }
}

/// What is measured: the benchmark, its workload and the workload ref.
struct Target<'a> {
    config: &'a Config,
    lock: &'a Lock,
    bench: &'a Benchmark,
    workload: &'a Workload,
    workload_ref: Option<String>,
}

impl<'a> Target<'a> {
    fn new(config: &'a Config, lock: &'a Lock, name: &str, workload_ref: Option<String>) -> Result<Target<'a>> {
        let bench = config.benchmark(name).with_context(|| {
            let names: Vec<&str> = config.benchmark.iter().map(|b| b.name.get_ref().as_str()).collect();
            format!("no benchmark `{name}` in the pins; they have {}", names.join(", "))
        })?;
        let workload = config.workload(bench.workload.get_ref()).context("the benchmark's workload is not configured")?;
        let workload_ref = workload_ref.or_else(|| workload.refs.first().map(|r| r.get_ref().clone()));
        if let Some(r) = &workload_ref {
            anyhow::ensure!(
                lock.workload_entry(workload.name.get_ref(), r).is_some(),
                "workload ref `{r}` of `{}` is not in the lock; add it to the pins' refs and run `cargo xtask lock`",
                workload.name.get_ref()
            );
        }
        Ok(Target { config, lock, bench, workload, workload_ref })
    }
}

/// The pins' Go repository, or `--go-url`.
fn go_url(config: &Config, given: Option<&str>) -> Result<String> {
    if let Some(u) = given {
        return Ok(u.to_string());
    }
    let urls: std::collections::BTreeSet<&str> = config.go.iter().map(|g| g.url()).collect();
    match urls.len() {
        1 => Ok(urls.into_iter().next().expect("one").to_string()),
        0 => anyhow::bail!("the pins name no [[go]] entry; give --go-url"),
        _ => anyhow::bail!(
            "the pins' [[go]] entries name several repositories ({}); choose one with --go-url",
            urls.into_iter().collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Everything a measurement needs.
struct Measuring<'a> {
    sh: &'a Shell,
    paths: &'a Paths,
    target: &'a Target<'a>,
    url: &'a str,
    /// `results/bisect/<id>`.
    dir: &'a Path,
    host: Host,
    toolkit: Toolkit,
}

impl Measuring<'_> {
    /// The toolchain of Go commit `sha` and the workload on it, built unless
    /// their images exist.
    fn build(&self, sha: &str, cancel: &Cancel) -> Result<Side> {
        let t = self.target;
        let (go, image, id) = pipeline::toolchain_for_sha(self.sh, self.paths, t.config, self.url, sha, cancel)?;
        pipeline::workload_on(self.sh, self.paths, t.config, t.lock, go, (image, id), t.workload, t.workload_ref.as_deref(), cancel)
    }

    /// A commit's document, continued when an earlier step measured it.
    fn cell(&self, side: &Side, name: &str, fresh: bool) -> Result<CellRuns> {
        let path = self.dir.join("runs").join(format!("{name}.json"));
        let (_, spec, mut doc) = pipeline::start_cell(self.sh, self.target.config, self.target.bench, side, &self.host, &self.toolkit)?;
        if !fresh && path.exists() {
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            doc = serde_json::from_str::<ResultDoc>(&text).with_context(|| format!("{} is not a result document", path.display()))?;
        }
        Ok(CellRuns { label: format!("{name} {}", &side.go.sha[..12]), spec, doc, path: Some(path) })
    }

    /// `n` more runs of a built commit; the metric of the valid ones.
    fn measure(&self, side: &Side, name: &str, n: u32, metric: &str, cancel: &Cancel) -> Result<Vec<f64>> {
        let mut cell = self.cell(side, name, false)?;
        let runs = pipeline::measure_more(self.sh, cancel, &mut cell, n)?;
        cancel.check()?;
        runs.iter().filter(|r| r.run.validity.valid).map(|r| value(&r.run.values, metric)).collect()
    }

    /// Builds and measures the ends as interleaved pairs and compares them:
    /// when bad is worse, the ends become the log's first two steps; else
    /// `false`, after saying why.
    fn measure_ends(&self, log: &mut BisectLog, args: &Args, cancel: &Cancel) -> Result<bool> {
        let last = log.candidates.len() - 1;
        let mut cells = Vec::new();
        for (index, what) in [(0, "good"), (last, "bad")] {
            let sha = log.candidates[index].sha.clone();
            eprintln!("bisect: the {what} end, {}", &sha[..12]);
            let side = self.build(&sha, cancel).with_context(|| format!("the {what} end {sha} must build"))?;
            cells.push(self.cell(&side, &format!("{index}-{}", &sha[..12]), true)?);
        }
        let seed = u64::from_str_radix(&log.good.sha[..16], 16).unwrap_or(0) ^ u64::from_str_radix(&log.bad.sha[..16], 16).unwrap_or(0);
        let decide_on = (!log.metric.is_empty()).then(|| log.metric.clone());
        let rounds = Rounds { first: vec![args.runs], until_decided: Some((args.same_within, args.max_runs)), decide_on, seed };
        pipeline::measure_pairs(self.sh, cancel, &mut cells, &[vec![0, 1]], &rounds)?;
        cancel.check()?;
        let (a, b) = (&cells[0].doc, &cells[1].doc);
        if log.metric.is_empty() {
            log.metric = only_metric(a)?;
        }
        let metric = &log.metric;
        let direction = a.metrics.get(metric).map(|m| m.direction).with_context(|| {
            format!("the runs have no metric `{metric}`; they have {}", a.metrics.keys().cloned().collect::<Vec<_>>().join(", "))
        })?;
        let pairs = results::valid_pairs(a, b);
        let (xa, xb): (Vec<f64>, Vec<f64>) =
            pairs.iter().filter_map(|(_, ra, rb)| Some((*ra.values.get(metric)?, *rb.values.get(metric)?))).unzip();
        let ends = verdict::confirm_ends(&xa, &xb, direction, args.same_within).context("no valid pair of runs of the ends")?;
        let median = |x: &[f64]| gobench_core::stats::median(x).map_or("-".to_string(), gobench_core::analysis::fmt_si);
        eprintln!("bisect: ends: good median {}, bad median {}; {}", median(&xa), median(&xb), ends.describe());
        if !ends.confirmed {
            println!("the ends are not significantly different in the bad direction, so there is nothing to bisect:");
            println!("  good {} ({}): median {} {metric}", log.good.git_ref, &log.candidates[0].sha[..12], median(&xa));
            println!("  bad  {} ({}): median {} {metric}", log.bad.git_ref, &log.bad.sha[..12], median(&xb));
            println!("  {}", ends.describe());
            return Ok(false);
        }
        let rel = |c: &CellRuns| c.path.as_ref().map(|p| p.strip_prefix(&self.paths.root).unwrap_or(p).display().to_string());
        for (i, (index, samples, verdict)) in [(0, xa, Verdict::Good), (last, xb, Verdict::Bad)].into_iter().enumerate() {
            let sha = log.candidates[index].sha.clone();
            log.steps.push(LogStep { index, sha, samples, verdict, results: rel(&cells[i]).into_iter().collect() });
        }
        log.ends = Some(ends);
        Ok(true)
    }

    /// One step: build the candidate (a failed build is a skip), measure a
    /// round, and classify everything it has against both ends.
    fn probe(&self, log: &BisectLog, index: usize, cancel: &Cancel) -> Result<LogStep> {
        let sha = log.candidates[index].sha.clone();
        let skip = |sha: String| LogStep { index, sha, samples: Vec::new(), verdict: Verdict::Skip, results: Vec::new() };
        let side = match self.build(&sha, cancel) {
            Ok(side) => side,
            Err(e) => {
                cancel.check()?;
                eprintln!("bisect: {} does not build, skipped: {}", &sha[..12], format!("{e:#}").lines().next().unwrap_or_default());
                return Ok(skip(sha));
            }
        };
        let name = format!("{index}-{}", &sha[..12]);
        let samples = self.measure(&side, &name, log.runs as u32, &log.metric, cancel)?;
        if samples.is_empty() {
            eprintln!("bisect: no valid run of {}, skipped", &sha[..12]);
            return Ok(skip(sha));
        }
        let mut all = log.samples(index);
        all.extend(&samples);
        let (good, bad) = log.ends();
        let verdict = verdict::classify(&all, &good, &bad).expect("every sample set is non-empty").verdict;
        let rel = self.dir.join("runs").join(format!("{name}.json"));
        let rel = rel.strip_prefix(&self.paths.root).unwrap_or(&rel).display().to_string();
        Ok(LogStep { index, sha, samples, verdict, results: vec![rel] })
    }
}

fn value(values: &std::collections::BTreeMap<String, f64>, metric: &str) -> Result<f64> {
    values
        .get(metric)
        .copied()
        .with_context(|| format!("a valid run has no metric `{metric}`; it has {}", values.keys().cloned().collect::<Vec<_>>().join(", ")))
}

/// The metric of a workload that gives one (a go-std benchmark of one
/// function); otherwise the user must choose.
fn only_metric(doc: &ResultDoc) -> Result<String> {
    let names: Vec<&String> = doc.metrics.keys().collect();
    match names[..] {
        [one] => Ok(one.clone()),
        _ => anyhow::bail!(
            "the benchmark gives several metrics; choose one with --metric: {}",
            names.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn evidence_line(e: &answer::Evidence) -> String {
    let f = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.3}"));
    format!(
        "{} runs, median {}, /good {}, /bad {}, p good {}, p bad {}: {}",
        e.runs,
        e.median.map_or("-".to_string(), gobench_core::analysis::fmt_si),
        f(e.ratio_to_good),
        f(e.ratio_to_bad),
        f(e.p_good),
        f(e.p_bad),
        answer::verdict_name(e.verdict)
    )
}

fn read_log(path: &Path) -> Result<BisectLog> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    bisect_log::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The log and the page, each written atomically.
fn save(dir: &Path, log: &BisectLog) -> Result<()> {
    let text = serde_json::to_string_pretty(log).context("serialising the bisect log")? + "\n";
    write_atomic(&dir.join("log.json"), text.as_bytes())?;
    write_atomic(&dir.join("index.html"), page::render(log).as_bytes())
}

/// The only bisect log of the project, for `--run` without `--log`.
fn only_log(paths: &Paths) -> Result<PathBuf> {
    let dir = bisect_dir(&paths.results);
    let logs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("listing {} (run a bisect first, or give --log)", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path().join("log.json")))
        .filter(|p| p.exists())
        .collect();
    match &logs[..] {
        [one] => Ok(one.clone()),
        [] => anyhow::bail!("no bisect log under {}; run a bisect first, or give --log", dir.display()),
        _ => anyhow::bail!(
            "several bisect logs under {}; choose one with --log: {}",
            dir.display(),
            logs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        ),
    }
}
