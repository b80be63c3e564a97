//! Jobs of `xtask serve`: what to measure, the state machine a job goes
//! through, the comparison it ends with and what is reported back to GitHub.
//!
//! ```text
//! queued --claim--> running --complete--> done
//!   |                  |  \---fail------> failed
//!   |                  \----recover-----> queued (attempts left) | failed (none left)
//!   |                       host_lost
//!   \------cancel----> cancelled <--cancel-- running
//! ```
//!
//! Every transition is a method that checks the current state and returns
//! [`Refused`] otherwise, so the queue (which stores jobs as JSON in SQLite,
//! [`JOB_SCHEMA`]) only writes what this module allows. Times are RFC 3339
//! strings the shell passes in. A rerun is a new job with the same spec.

use serde::{Deserialize, Serialize};

use crate::analysis::compare::CompareReport;
use crate::stats::{PairedComparison, Summary, Verdict};

/// The version of a stored job; part of the queue's schema.
pub const JOB_SCHEMA: &str = "urn:gobench:job:1";
/// GitHub cuts a commit status description at 140 characters.
pub const STATUS_DESCRIPTION_MAX: usize = 140;

/// What the watched repository's commits are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Commits of Go itself, each built as a toolchain.
    Go,
    /// Commits of the workload (e.g. an etcd PR), built with the master Go.
    Workload,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Go => "go",
            Role::Workload => "workload",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobKind {
    /// A push to the default branch: its results become the master set.
    NewMaster,
    /// A PR head (or a CLI experiment), measured paired against a baseline.
    Test,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::NewMaster => "new-master",
            JobKind::Test => "test",
        }
    }
}

/// What to build and measure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    pub kind: JobKind,
    pub role: Role,
    /// `owner/name` on GitHub; `None` for a CLI job, which reports nowhere.
    pub repository: Option<String>,
    /// The commit to measure: a Go commit (`go`) or a workload commit (`workload`).
    pub sha: String,
    /// The commit to compare with, given on the CLI; `None`: the current
    /// master set (the last new-master job's commit, whose image is cached).
    pub baseline: Option<String>,
    pub pr: Option<u64>,
    /// The PR's base commit, shown beside the comparison.
    pub pr_base: Option<String>,
    /// A PR title or commit subject: untrusted text, shown escaped.
    pub title: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Done => "done",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, State::Done | State::Failed | State::Cancelled)
    }
}

/// Which GitHub calls have gone through; a result is stored before any of
/// them is tried, so a failed call only leaves its flag unset for a retry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reports {
    pub pending: bool,
    pub final_status: bool,
    pub comment: bool,
    /// The last failure, for the job page (never holds the token).
    pub last_error: Option<String>,
}

/// One GitHub call a job still owes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStep {
    PendingStatus,
    FinalStatus,
    Comment,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    #[serde(rename = "$schema")]
    pub schema: String,
    /// Assigned by the queue; 0 before the job is stored.
    pub id: u64,
    pub spec: JobSpec,
    pub state: State,
    /// How often the job was claimed: a restart while it ran counts.
    pub attempts: u32,
    pub max_attempts: u32,
    /// Where the job came from: `webhook <delivery id>`, `cli`, `rerun of #N`.
    pub source: String,
    pub created: String,
    pub started: Option<String>,
    pub finished: Option<String>,
    /// Why the job failed or was cancelled.
    pub reason: Option<String>,
    pub comparison: Option<Comparison>,
    #[serde(default)]
    pub reports: Reports,
}

/// A transition the job's state does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

impl Job {
    pub fn new(spec: JobSpec, source: String, max_attempts: u32, now: &str) -> Job {
        Job {
            schema: JOB_SCHEMA.to_string(),
            id: 0,
            spec,
            state: State::Queued,
            attempts: 0,
            max_attempts: max_attempts.max(1),
            source,
            created: now.to_string(),
            started: None,
            finished: None,
            reason: None,
            comparison: None,
            reports: Reports::default(),
        }
    }

    fn expect(&self, allowed: &[State], what: &str) -> Result<(), Refused> {
        if allowed.contains(&self.state) {
            Ok(())
        } else {
            Err(Refused(format!("job {} is {}; only a {} job can be {what}", self.id, self.state.as_str(), names(allowed))))
        }
    }

    /// The worker takes the job.
    pub fn claim(&mut self, now: &str) -> Result<(), Refused> {
        self.expect(&[State::Queued], "claimed")?;
        self.state = State::Running;
        self.attempts += 1;
        self.started = Some(now.to_string());
        Ok(())
    }

    pub fn complete(&mut self, comparison: Comparison, now: &str) -> Result<(), Refused> {
        self.expect(&[State::Running], "completed")?;
        self.state = State::Done;
        self.finished = Some(now.to_string());
        self.comparison = Some(comparison);
        Ok(())
    }

    /// The measurement could not be made (a build failed, a run broke).
    pub fn fail(&mut self, reason: String, now: &str) -> Result<(), Refused> {
        self.expect(&[State::Running], "failed")?;
        self.state = State::Failed;
        self.finished = Some(now.to_string());
        self.reason = Some(reason);
        Ok(())
    }

    pub fn cancel(&mut self, now: &str) -> Result<(), Refused> {
        self.expect(&[State::Queued, State::Running], "cancelled")?;
        self.state = State::Cancelled;
        self.finished = Some(now.to_string());
        self.reason = Some("cancelled".to_string());
        Ok(())
    }

    /// At start, for a job a stopped server left running: back in the queue
    /// while it has attempts left, failed with the reason otherwise.
    pub fn recover(&mut self, now: &str) -> Result<(), Refused> {
        self.requeue("the server stopped while the job ran", now)
    }

    /// Its host was lost in the middle of it: like [`Job::recover`], another
    /// host takes it while attempts are left.
    pub fn host_lost(&mut self, host: &str, now: &str) -> Result<(), Refused> {
        self.requeue(&format!("host `{host}` was lost while the job ran"), now)
    }

    fn requeue(&mut self, why: &str, now: &str) -> Result<(), Refused> {
        self.expect(&[State::Running], "recovered")?;
        if self.attempts < self.max_attempts {
            self.state = State::Queued;
            self.started = None;
        } else {
            self.state = State::Failed;
            self.finished = Some(now.to_string());
            self.reason = Some(format!(
                "{why}, {} of {} attempts; not retried again (raise serve.max_attempts or `job rerun {}`)",
                self.attempts, self.max_attempts, self.id
            ));
        }
        Ok(())
    }

    /// A new job with the same spec, for `job rerun` and `/gobench rerun`.
    /// A job that is still queued or running is not run twice.
    pub fn rerun(&self, now: &str) -> Result<Job, Refused> {
        self.expect(&[State::Done, State::Failed, State::Cancelled], "rerun")?;
        Ok(Job::new(self.spec.clone(), format!("rerun of #{}", self.id), self.max_attempts, now))
    }

    /// The overall verdict of a done job.
    pub fn verdict(&self) -> Option<Verdict> {
        self.comparison.as_ref().map(Comparison::verdict)
    }

    /// The GitHub calls this job still owes, in order.
    pub fn reports_due(&self) -> Vec<ReportStep> {
        if self.spec.repository.is_none() {
            return Vec::new();
        }
        let mut due = Vec::new();
        // Pending comes first even when the job ended before it could be
        // sent, so every reported commit shows pending, then the outcome.
        if !self.reports.pending && !self.reports.final_status {
            due.push(ReportStep::PendingStatus);
        }
        if self.state.is_final() && !self.reports.final_status {
            due.push(ReportStep::FinalStatus);
        }
        if self.state == State::Done && self.spec.pr.is_some() && !self.reports.comment {
            due.push(ReportStep::Comment);
        }
        due
    }

    pub fn mark_reported(&mut self, step: ReportStep) {
        match step {
            ReportStep::PendingStatus => self.reports.pending = true,
            ReportStep::FinalStatus => self.reports.final_status = true,
            ReportStep::Comment => self.reports.comment = true,
        }
        self.reports.last_error = None;
    }

    /// The commit status a report step sends: `(state, description)`. The
    /// pending one is sent even when the job ended before it went out.
    pub fn commit_status(&self, step: ReportStep) -> (&'static str, String) {
        let (state, text) = match (step, self.state, &self.comparison) {
            (_, State::Queued, _) => ("pending", "queued".to_string()),
            (ReportStep::PendingStatus, _, _) | (_, State::Running, _) => {
                ("pending", format!("measuring (attempt {} of {})", self.attempts.max(1), self.max_attempts))
            }
            (_, State::Done, Some(c)) => (if c.verdict() == Verdict::Regression { "failure" } else { "success" }, c.summary()),
            (_, State::Done, None) => ("success", "done".to_string()),
            (_, State::Failed, _) => ("error", format!("failed: {}", self.reason.as_deref().unwrap_or("no reason recorded"))),
            (_, State::Cancelled, _) => ("error", "cancelled".to_string()),
        };
        (state, shorten(&text, STATUS_DESCRIPTION_MAX))
    }
}

fn names(states: &[State]) -> String {
    states.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" or ")
}

fn shorten(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() <= max {
        return line.to_string();
    }
    let mut s: String = line.chars().take(max - 1).collect();
    s.push('…');
    s
}

/// What a job measured: each metric of each cell, baseline against
/// candidate, with its verdict. The measuring pipeline fills it in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// What the baseline side is, e.g. `master 1a2b3c4d5e6f`.
    pub baseline: String,
    pub candidate: String,
    pub rows: Vec<Row>,
    /// Result files the job committed, relative to the project root.
    pub files: Vec<String>,
    /// The HTML report of the job, relative to the project root.
    pub report: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// `workload@ref/benchmark` or `workload/benchmark`.
    pub cell: String,
    pub metric: String,
    pub unit: String,
    pub baseline: Option<Summary>,
    pub candidate: Option<Summary>,
    pub delta_pct: Option<f64>,
    pub p_value: Option<f64>,
    pub verdict: Verdict,
    pub note: Option<String>,
    /// Candidate/baseline pair by pair, when the job measured both sides
    /// interleaved (a test job against the master image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paired: Option<PairedComparison>,
}

impl Comparison {
    /// From a benchstat-style comparison (baseline = side A).
    pub fn from_report(report: &CompareReport, files: Vec<String>, html: Option<String>) -> Comparison {
        let rows = report
            .tables
            .iter()
            .flat_map(|t| {
                t.rows.iter().map(|r| Row {
                    cell: format!("{}/{}", r.workload, r.benchmark),
                    metric: t.metric.clone(),
                    unit: t.unit.clone(),
                    baseline: r.a.clone(),
                    candidate: r.b.clone(),
                    delta_pct: r.delta_pct,
                    p_value: r.p_value,
                    verdict: r.verdict,
                    note: r.note.clone(),
                    paired: r.paired.clone(),
                })
            })
            .collect();
        Comparison { baseline: report.a.label.clone(), candidate: report.b.label.clone(), rows, files, report: html }
    }

    fn count(&self, v: Verdict) -> usize {
        self.rows.iter().filter(|r| r.verdict == v).count()
    }

    /// A regression anywhere wins; then an improvement; else no change.
    pub fn verdict(&self) -> Verdict {
        if self.count(Verdict::Regression) > 0 {
            Verdict::Regression
        } else if self.count(Verdict::Improvement) > 0 {
            Verdict::Improvement
        } else {
            Verdict::NoChange
        }
    }

    /// One line: `1 regression, 2 improvements, 3 unchanged of 6 metrics`.
    pub fn summary(&self) -> String {
        let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        format!(
            "{}, {}, {} unchanged of {}",
            plural(self.count(Verdict::Regression), "regression", "regressions"),
            plural(self.count(Verdict::Improvement), "improvement", "improvements"),
            self.count(Verdict::NoChange),
            plural(self.rows.len(), "metric", "metrics"),
        )
    }

    /// The PR comment: a heading, the summary, and the table in markdown.
    pub fn markdown(&self, title: &str, job_url: &str) -> String {
        let mut out = format!("### gobench: {}\n\n", md(title));
        out += &format!("{} against {}: **{}** ([job]({job_url}))\n\n", md(&self.candidate), md(&self.baseline), self.summary());
        out += "| cell | metric | baseline | candidate | delta | p | paired ratio | verdict |\n|---|---|---:|---:|---:|---:|---|---|\n";
        for r in &self.rows {
            let median = |s: &Option<Summary>| s.as_ref().map_or("–".to_string(), |s| format!("{} {}", fmt_num(s.median), md(&r.unit)));
            out += &format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                md(&r.cell),
                md(&r.metric),
                median(&r.baseline),
                median(&r.candidate),
                r.delta_pct.map_or("–".to_string(), crate::analysis::fmt_pct),
                r.p_value.map_or("–".to_string(), |p| format!("{p:.3}")),
                r.paired.as_ref().map_or("–".to_string(), |p| md(&p.describe())),
                verdict_text(r.verdict),
            );
        }
        out
    }
}

pub fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Regression => "regression",
        Verdict::Improvement => "improvement",
        Verdict::NoChange => "no change",
    }
}

pub fn fmt_num(v: f64) -> String {
    crate::analysis::fmt_si(v)
}

/// Text that cannot break out of a markdown table cell or start markup.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> JobSpec {
        JobSpec {
            kind: JobKind::Test,
            role: Role::Go,
            repository: Some("golang/go".into()),
            sha: "a".repeat(40),
            baseline: None,
            pr: Some(7),
            pr_base: None,
            title: Some("cmd/compile: inline more".into()),
        }
    }

    fn summary(median: f64) -> Option<Summary> {
        crate::stats::summarize(&[median; 6])
    }

    fn comparison(verdicts: &[Verdict]) -> Comparison {
        Comparison {
            baseline: "master aaaa".into(),
            candidate: "pr #7 bbbb".into(),
            rows: verdicts
                .iter()
                .enumerate()
                .map(|(i, v)| Row {
                    cell: format!("go-std/bench{i}"),
                    metric: "sec/op".into(),
                    unit: "s".into(),
                    baseline: summary(1.0),
                    candidate: summary(1.5),
                    delta_pct: Some(50.0),
                    p_value: Some(0.002),
                    verdict: *v,
                    note: None,
                    paired: None,
                })
                .collect(),
            files: vec![],
            report: None,
        }
    }

    #[test]
    fn transitions_follow_the_state_machine() {
        type Step = fn(&mut Job) -> Result<(), Refused>;
        let claim: Step = |j| j.claim("t1");
        let complete: Step = |j| j.complete(comparison(&[]), "t2");
        let fail: Step = |j| j.fail("build failed".into(), "t2");
        let cancel: Step = |j| j.cancel("t2");
        let recover: Step = |j| j.recover("t2");
        // (steps, final state or None when the last step is refused)
        let table: &[(&[Step], Option<State>)] = &[
            (&[claim], Some(State::Running)),
            (&[claim, complete], Some(State::Done)),
            (&[claim, fail], Some(State::Failed)),
            (&[cancel], Some(State::Cancelled)),
            (&[claim, cancel], Some(State::Cancelled)),
            (&[claim, recover], Some(State::Queued)),
            (&[claim, recover, claim, recover], Some(State::Queued)),
            (&[claim, recover, claim, recover, claim, recover], Some(State::Failed)),
            (&[complete], None),
            (&[fail], None),
            (&[recover], None),
            (&[claim, claim], None),
            (&[claim, complete, cancel], None),
            (&[claim, complete, claim], None),
            (&[cancel, claim], None),
            (&[claim, fail, recover], None),
        ];
        for (i, (steps, want)) in table.iter().enumerate() {
            let mut job = Job::new(spec(), "cli".into(), 3, "t0");
            let mut last = Ok(());
            for step in steps.iter() {
                last = step(&mut job);
                if last.is_err() {
                    break;
                }
            }
            match want {
                Some(state) => assert_eq!((last, job.state), (Ok(()), *state), "row {i}"),
                None => assert!(last.is_err(), "row {i}: {:?}", job.state),
            }
        }
    }

    #[test]
    fn attempts_are_counted_and_exhausted_with_a_reason() {
        let mut job = Job::new(spec(), "cli".into(), 2, "t0");
        job.claim("t1").unwrap();
        job.recover("t2").unwrap();
        assert_eq!((job.state, job.attempts, job.started.as_deref()), (State::Queued, 1, None));
        job.claim("t3").unwrap();
        job.recover("t4").unwrap();
        assert_eq!((job.state, job.attempts), (State::Failed, 2));
        assert!(job.reason.as_deref().unwrap().contains("2 of 2 attempts"), "{:?}", job.reason);
        assert_eq!(job.finished.as_deref(), Some("t4"));
        assert_eq!(Job::new(spec(), "cli".into(), 0, "t0").max_attempts, 1);

        let mut job = Job::new(spec(), "cli".into(), 2, "t0");
        job.claim("t1").unwrap();
        job.host_lost("second", "t2").unwrap();
        assert_eq!((job.state, job.attempts, job.started.as_deref()), (State::Queued, 1, None), "another host takes it");
        job.claim("t3").unwrap();
        job.host_lost("second", "t4").unwrap();
        assert_eq!(job.state, State::Failed);
        assert!(
            job.reason.as_deref().unwrap().starts_with("host `second` was lost while the job ran, 2 of 2 attempts"),
            "{:?}",
            job.reason
        );
        assert!(job.host_lost("second", "t5").is_err(), "only a running job");
    }

    #[test]
    fn a_rerun_is_a_new_queued_job_with_the_same_spec() {
        let mut job = Job::new(spec(), "webhook d1".into(), 3, "t0");
        job.id = 4;
        assert!(job.rerun("t1").is_err(), "a queued job is not run twice");
        job.claim("t1").unwrap();
        assert!(job.rerun("t1").is_err());
        job.complete(comparison(&[Verdict::NoChange]), "t2").unwrap();
        let again = job.rerun("t3").unwrap();
        assert_eq!((again.state, again.attempts, &again.spec, again.source.as_str()), (State::Queued, 0, &job.spec, "rerun of #4"));
    }

    #[test]
    fn reports_are_owed_until_marked() {
        let mut job = Job::new(spec(), "cli".into(), 3, "t0");
        assert_eq!(job.reports_due(), [ReportStep::PendingStatus]);
        job.mark_reported(ReportStep::PendingStatus);
        job.claim("t1").unwrap();
        assert_eq!(job.reports_due(), []);
        job.complete(comparison(&[Verdict::Improvement]), "t2").unwrap();
        assert_eq!(job.reports_due(), [ReportStep::FinalStatus, ReportStep::Comment]);
        job.mark_reported(ReportStep::FinalStatus);
        assert_eq!(job.reports_due(), [ReportStep::Comment]);
        job.spec.repository = None;
        assert_eq!(job.reports_due(), [], "a CLI job reports nowhere");
        let mut failed = Job::new(spec(), "cli".into(), 3, "t0");
        failed.claim("t1").unwrap();
        failed.fail("x".into(), "t2").unwrap();
        assert_eq!(failed.reports_due(), [ReportStep::PendingStatus, ReportStep::FinalStatus], "no comment without a comparison");
        failed.mark_reported(ReportStep::FinalStatus);
        assert_eq!(failed.reports_due(), [], "no pending status after the final one");
    }

    #[test]
    fn verdicts_and_commit_statuses() {
        use Verdict::*;
        let table: &[(&[Verdict], Verdict, &str, &str)] = &[
            (&[], NoChange, "success", "0 regressions, 0 improvements, 0 unchanged of 0 metrics"),
            (&[NoChange, Improvement], Improvement, "success", "0 regressions, 1 improvement, 1 unchanged of 2 metrics"),
            (&[Improvement, Regression, Regression], Regression, "failure", "2 regressions, 1 improvement, 0 unchanged of 3 metrics"),
        ];
        for (verdicts, overall, state, description) in table {
            let mut job = Job::new(spec(), "cli".into(), 3, "t0");
            job.claim("t1").unwrap();
            job.complete(comparison(verdicts), "t2").unwrap();
            assert_eq!(job.verdict(), Some(*overall));
            assert_eq!(job.commit_status(ReportStep::FinalStatus), (*state, description.to_string()));
            assert_eq!(job.commit_status(ReportStep::PendingStatus), ("pending", "measuring (attempt 1 of 3)".to_string()));
        }
        let mut failed = Job::new(spec(), "cli".into(), 3, "t0");
        assert_eq!(failed.commit_status(ReportStep::PendingStatus), ("pending", "queued".to_string()));
        failed.claim("t1").unwrap();
        assert_eq!(failed.commit_status(ReportStep::FinalStatus), ("pending", "measuring (attempt 1 of 3)".to_string()));
        failed.fail(format!("build failed: {}\nsecond line", "x".repeat(300)), "t2").unwrap();
        let (state, description) = failed.commit_status(ReportStep::FinalStatus);
        assert_eq!((state, description.chars().count()), ("error", STATUS_DESCRIPTION_MAX));
        assert!(!description.contains("second line"));
    }

    #[test]
    fn the_comment_is_a_markdown_table_that_untrusted_text_cannot_break() {
        let mut c = comparison(&[Verdict::Regression, Verdict::NoChange]);
        c.rows[1].cell = "etcd@main/put|evil".into();
        c.rows[1].baseline = None;
        c.rows[0].paired = crate::stats::paired_compare(&[1.0, 1.0, 1.1, 0.9, 1.0, 1.0], &[1.5, 1.5, 1.6, 1.4, 1.5, 1.55]);
        let text = c.markdown("<script>alert(1)</script> | x", "http://127.0.0.1:8077/jobs/3");
        let want = "### gobench: \\<script\\>alert(1)\\</script\\> \\| x\n\n\
            pr \\#7 bbbb against master aaaa: **1 regression, 0 improvements, 1 unchanged of 2 metrics** ([job](http://127.0.0.1:8077/jobs/3))\n\n\
            | cell | metric | baseline | candidate | delta | p | paired ratio | verdict |\n|---|---|---:|---:|---:|---:|---|---|\n\
            | go-std/bench0 | sec/op | 1 s | 1.5 s | +50.0% | 0.002 | 1.5000 \\[1.4545, 1.5556\\] p 0.031, 6 pairs | regression |\n\
            | etcd@main/put\\|evil | sec/op | – | 1.5 s | +50.0% | 0.002 | – | no change |\n";
        assert_eq!(text, want);
    }

    #[test]
    fn a_stored_job_reads_back() {
        let mut job = Job::new(spec(), "cli".into(), 3, "t0");
        job.claim("t1").unwrap();
        job.complete(comparison(&[Verdict::Regression]), "t2").unwrap();
        let text = serde_json::to_string(&job).unwrap();
        assert!(text.starts_with("{\"$schema\":\"urn:gobench:job:1\""), "{text}");
        assert_eq!(serde_json::from_str::<Job>(&text).unwrap(), job);
    }
}
