//! The seam between the job service and the measuring pipeline: the worker
//! hands a [`Work`] to a [`Runner`] and stores the [`Comparison`] it returns
//! (or its error, as the job's failure reason).
//!
//! The pipeline runner builds the candidate (a Go toolchain for role `go`, a
//! workload image on the master Go for role `workload`), measures it
//! interleaved with the baseline's cached image, commits the results and
//! compares. [`TestDouble`] stands in for it in the orchestration tests only;
//! it is chosen when `GOBENCH_SERVE_TEST_RUNNER` is set.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use gobench_core::job::{Comparison, JobKind, Role, Row};
use gobench_core::stats::{self, Verdict};

use crate::paths::Paths;

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
}

/// Builds and measures one job. `cancelled` turns true when the job was
/// cancelled while it runs; a runner checks it between steps and stops.
pub trait Runner: Send {
    fn run(&self, work: &Work, cancelled: &dyn Fn() -> bool) -> Result<Comparison>;
}

/// The environment variable that selects [`TestDouble`]: the seconds one
/// job takes.
pub const TEST_RUNNER_ENV: &str = "GOBENCH_SERVE_TEST_RUNNER";
/// With the test double: a file it appends one line per started job to.
pub const TEST_RUNNER_LOG_ENV: &str = "GOBENCH_SERVE_TEST_RUNNER_LOG";

/// The runner this process uses.
pub fn select(paths: &Paths) -> Result<Box<dyn Runner>> {
    match std::env::var(TEST_RUNNER_ENV) {
        Ok(secs) => {
            let secs: f64 = secs.parse().with_context(|| format!("${TEST_RUNNER_ENV} must be a number of seconds, got {secs:?}"))?;
            eprintln!("serve: jobs run on the test double (${TEST_RUNNER_ENV}={secs}), not the measuring pipeline");
            Ok(Box::new(TestDouble { duration: Duration::from_secs_f64(secs), log: std::env::var_os(TEST_RUNNER_LOG_ENV).map(Into::into) }))
        }
        Err(_) => Ok(Box::new(Pipeline { _paths: paths.clone() })),
    }
}

/// The measuring pipeline: the adapter to build a toolchain image for a
/// SHA, measure the cell N times against the baseline and compare the runs.
/// It gets the project's paths (config, lock, cache, results) at start.
struct Pipeline {
    _paths: Paths,
}

impl Runner for Pipeline {
    fn run(&self, work: &Work, _cancelled: &dyn Fn() -> bool) -> Result<Comparison> {
        anyhow::bail!(
            "job {}: serve is not connected to the measuring pipeline yet; jobs are queued and reported, \
             but cannot be measured by this build",
            work.job
        )
    }
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
            }],
            files: vec![format!("results/serve/job-{}.json", work.job)],
            report: None,
        })
    }
}
