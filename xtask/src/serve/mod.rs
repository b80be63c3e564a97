//! `cargo xtask serve` and `cargo xtask job ...`: the job service.
//!
//! The threads share the SQLite queue, each with its own connection:
//! - HTTP ([`http`]): verifies and maps deliveries, queues jobs, renders pages;
//! - one worker per host of the pool (`[[host]]`, or this machine): claims
//!   one job at a time and hands it to the [`runner`], which measures on
//!   that host; a host lost in the middle of a job puts the job back in the
//!   queue for another host, and its worker waits for it to answer again;
//! - the reporter: sends the commit statuses and PR comments jobs owe ([`github`]).
//!
//! At start the run containers of stopped processes are removed (found by
//! their `io.gobench.run` label), then a job a stopped server left running
//! goes back to the queue (or fails after `max_attempts`); queued jobs stay queued.

mod github;
mod http;
mod pages;
mod queue;
mod runner;

use std::cell::Cell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use gobench_core::config::Serve as ServeConfig;
use gobench_core::hosts::{self, PoolHost};
use gobench_core::job::{Job, JobKind, JobSpec, ReportStep, Role, State};
use gobench_core::webhook::Watch;

use crate::paths::Paths;
use crate::pipeline::HostLost;
use crate::upload::{read_secret_file, resolve_config_relative, Secret, SecretKind};
use crate::{flags, podman};
use github::GitHub;
use queue::Queue;
use runner::{Runner, Work};

pub const SECRET_ENV: &str = "GOBENCH_WEBHOOK_SECRET";

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

fn queue_path(paths: &Paths) -> PathBuf {
    paths.cache.join("serve/queue.sqlite")
}

fn serve_config(paths: &Paths) -> Result<ServeConfig> {
    paths.load_config()?.serve.with_context(|| {
        format!(
            "{} has no [serve] table; add one with `repository = \"owner/name\"`, `role = \"go\"` or `\"workload\"` and `benchmark`",
            paths.config.display()
        )
    })
}

/// A secret from the environment, else from the config's 0600 file.
fn secret(paths: &Paths, kind: SecretKind, env: &str, file: Option<&String>) -> Result<Option<Secret>> {
    if let Ok(value) = std::env::var(env) {
        return Secret::new(kind, &value, &format!("${env}")).map(Some);
    }
    file.map(|f| read_secret_file(kind, &resolve_config_relative(&paths.root, f.as_ref()))).transpose()
}

const WEBHOOK_SECRET: SecretKind = SecretKind { what: "the webhook secret", spaces: true };
const GITHUB_TOKEN: SecretKind = SecretKind { what: "the GitHub token", spaces: false };

impl flags::Serve {
    pub fn run(self, paths: &Paths) -> Result<()> {
        let flags::Serve { listen } = self;
        let cfg = serve_config(paths)?;
        let listen = listen.unwrap_or_else(|| cfg.listen.clone());
        let webhook_secret = secret(paths, WEBHOOK_SECRET, SECRET_ENV, cfg.secret_file.as_ref())?
            .with_context(|| format!("no webhook secret: set ${SECRET_ENV} or `secret_file` in [serve] (chmod 600)"))?;
        let github = match secret(paths, GITHUB_TOKEN, github::TOKEN_ENV, cfg.token_file.as_ref())? {
            Some(token) => Some(GitHub::new(&cfg.api_url, token)?),
            None => {
                eprintln!("serve: no GitHub token (${} or `token_file`): statuses and comments are not sent", github::TOKEN_ENV);
                None
            }
        };
        let path = queue_path(paths);
        let queue = Queue::open(&path)?;
        // Before recovery: a job put back in the queue must not meet the
        // containers of its killed first attempt.
        for name in crate::run::remove_orphans()? {
            eprintln!("serve: removed container {name}, left by a stopped process");
        }
        let now = now();
        for job in queue.in_state(State::Running)? {
            if let Ok(((), job)) = queue.modify(job.id, |j| j.recover(&now))? {
                eprintln!("serve: job {} was running when the server stopped: now {}", job.id, job.state.as_str());
            }
        }
        let runner = runner::select(paths)?;
        let (wake_reporter, reporter_rx) = mpsc::channel();
        let mut wake = vec![wake_reporter.clone()];
        for host in hosts::pool(&paths.load_config()?.host) {
            let (wake_worker, worker_rx) = mpsc::channel();
            wake.push(wake_worker);
            let name = format!("worker {}", host.display());
            let worker = Worker {
                queue: Queue::open(&path)?,
                runner: runner.clone(),
                benchmark: cfg.benchmark.get_ref().clone(),
                host,
                wake_reporter: wake_reporter.clone(),
            };
            spawn_or_exit(&name, move || worker.run(worker_rx))?;
        }
        let public_url = cfg.public_url.clone().unwrap_or_else(|| format!("http://{listen}"));
        let reporter = Reporter {
            queue: Queue::open(&path)?,
            github,
            public_url: public_url.trim_end_matches('/').to_string(),
            context: format!("gobench/{}", cfg.benchmark.get_ref()),
            tried: HashMap::new(),
        };
        std::thread::Builder::new()
            .name("reporter".into())
            .spawn(move || reporter.run(reporter_rx))
            .context("starting the reporter thread")?;
        let site = http::Site {
            queue,
            watch: Watch { repository: cfg.repository.get_ref().clone(), role: cfg.role },
            benchmark: cfg.benchmark.get_ref().clone(),
            secret: webhook_secret,
            max_attempts: cfg.max_attempts,
            pages: pages::Pages::new()?,
            root: paths.root.clone(),
            wake,
        };
        http::serve(&listen, site)
    }
}

/// Runs a thread that never returns; if it panics, the whole server exits
/// (non-zero, so systemd restarts it) rather than answering webhooks with no
/// one to run the jobs. The restart puts the interrupted job back in the queue.
fn spawn_or_exit(name: &str, body: impl FnOnce() + Send + 'static) -> Result<()> {
    let label = name.to_string();
    std::thread::Builder::new()
        .name(label.clone())
        .spawn(move || {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
            eprintln!("serve: the {label} thread stopped; exiting so that a restart recovers its job");
            std::process::exit(2);
        })
        .with_context(|| format!("starting the {name} thread"))?;
    Ok(())
}

struct Worker {
    queue: Queue,
    runner: Arc<dyn Runner>,
    benchmark: String,
    host: PoolHost,
    wake_reporter: mpsc::Sender<()>,
}

/// How often a worker whose host was lost asks it again.
const LOST_HOST_RETRY: Duration = Duration::from_secs(15);

impl Worker {
    fn run(self, wake: Receiver<()>) {
        loop {
            match self.next() {
                Ok(Next::Lost) => self.wait_for_host(),
                Ok(Next::Ran) => {}
                Ok(Next::Idle) => {
                    // Also polls: `job submit` and `job rerun` only write the queue.
                    let _ = wake.recv_timeout(Duration::from_secs(1));
                }
                Err(e) => {
                    eprintln!("serve: worker: {e:#}");
                    std::thread::sleep(Duration::from_secs(2));
                }
            }
        }
    }

    /// Takes no job until the host's podman answers again.
    fn wait_for_host(&self) {
        let sh = podman::shell_at(&self.host.connection);
        while let Err(e) = sh.as_ref().map_err(|e| e.to_string()).and_then(podman::ping) {
            eprintln!("serve: host `{}` does not answer ({e}); asking again in {} s", self.host.display(), LOST_HOST_RETRY.as_secs());
            std::thread::sleep(LOST_HOST_RETRY);
        }
        eprintln!("serve: host `{}` answers again; it takes jobs", self.host.display());
    }

    /// Runs the next queued job on this worker's host.
    fn next(&self) -> Result<Next> {
        let Some(job) = self.queue.claim(&now())? else { return Ok(Next::Idle) };
        eprintln!("serve: job {} started on host `{}`, attempt {} of {}", job.id, self.host.display(), job.attempts, job.max_attempts);
        let _ = self.wake_reporter.send(());
        let baseline = match &job.spec.baseline {
            Some(sha) => Some(sha.clone()),
            None => self.queue.master()?.map(|m| m.spec.sha),
        };
        let work = Work {
            job: job.id,
            kind: job.spec.kind,
            role: job.spec.role,
            sha: job.spec.sha.clone(),
            baseline,
            benchmark: self.benchmark.clone(),
            host: self.host.clone(),
        };
        let checked = Cell::new(Instant::now());
        let cancelled = || {
            if checked.get().elapsed() < Duration::from_millis(500) {
                return false;
            }
            checked.set(Instant::now());
            matches!(self.queue.get(job.id), Ok(Some(j)) if j.state == State::Cancelled)
        };
        let outcome = self.runner.run(&work, &cancelled);
        let now = now();
        let lost = matches!(&outcome, Err(e) if e.downcast_ref::<HostLost>().is_some());
        let stored = self.queue.modify(job.id, |j| match &outcome {
            Ok(c) => j.complete(c.clone(), &now),
            Err(_) if lost && j.state == State::Running => j.host_lost(&self.host.display(), &now),
            Err(e) => j.fail(format!("{e:#}"), &now),
        })?;
        match stored {
            Ok(((), j)) => eprintln!("serve: job {} {}{}", j.id, j.state.as_str(), j.reason.map(|r| format!(": {r}")).unwrap_or_default()),
            Err(refused) => eprintln!("serve: job {} ended, but its outcome is not stored: {refused}", job.id),
        }
        let _ = self.wake_reporter.send(());
        Ok(if lost { Next::Lost } else { Next::Ran })
    }
}

/// What a worker's turn did.
enum Next {
    Idle,
    Ran,
    /// The host was lost in the middle of the job.
    Lost,
}

struct Reporter {
    queue: Queue,
    github: Option<GitHub>,
    public_url: String,
    context: String,
    /// When a job's report last failed: retried after a minute, not at once.
    tried: HashMap<u64, Instant>,
}

impl Reporter {
    fn run(mut self, wake: Receiver<()>) {
        loop {
            if let Err(e) = self.pass() {
                eprintln!("serve: reporter: {e:#}");
            }
            let _ = wake.recv_timeout(Duration::from_secs(5));
        }
    }

    fn pass(&mut self) -> Result<()> {
        let Some(gh) = &self.github else { return Ok(()) };
        for job in self.queue.owing_reports()? {
            if self.tried.get(&job.id).is_some_and(|t| t.elapsed() < Duration::from_secs(60)) {
                continue;
            }
            let Some(repository) = job.spec.repository.clone() else { continue };
            let url = format!("{}/jobs/{}", self.public_url, job.id);
            for step in job.reports_due() {
                let sent = match step {
                    ReportStep::PendingStatus | ReportStep::FinalStatus => {
                        let (state, description) = job.commit_status(step);
                        gh.status(&repository, &job.spec.sha, state, &url, &description, &self.context)
                    }
                    ReportStep::Comment => {
                        let title = format!("job #{} {}", job.id, job.spec.title.as_deref().unwrap_or(&job.spec.sha));
                        let body = job.comparison.as_ref().map(|c| c.markdown(&title, &url)).unwrap_or_default();
                        gh.comment(&repository, job.spec.pr.unwrap_or(0), &body)
                    }
                };
                match sent {
                    Ok(()) => {
                        let _ = self.queue.modify(job.id, |j| {
                            j.mark_reported(step);
                            Ok(())
                        })?;
                    }
                    Err(e) => {
                        let why = format!("{e:#}");
                        eprintln!("serve: job {}: reporting to GitHub failed, retried later: {why}", job.id);
                        self.tried.insert(job.id, Instant::now());
                        let _ = self.queue.modify(job.id, |j| {
                            j.reports.last_error = Some(why.clone());
                            Ok(())
                        })?;
                        break;
                    }
                }
            }
        }
        Ok(())
    }
}

impl flags::Job {
    pub fn run(self, paths: &Paths) -> Result<()> {
        let queue = Queue::open(&queue_path(paths))?;
        let max_attempts = || -> Result<u32> { Ok(paths.load_config()?.serve.map_or(3, |s| s.max_attempts)) };
        match self.cmd {
            flags::JobCmd::Submit(s) => {
                let (role, what) = match (s.go, s.workload) {
                    (Some(go), None) => (Role::Go, go),
                    (None, Some(w)) => (Role::Workload, w),
                    _ => anyhow::bail!("give exactly one of --go REF and --workload REF"),
                };
                let sha = resolve(paths, role, &what)?;
                let baseline = match s.baseline.as_deref() {
                    None | Some("master") => None,
                    Some(b) => Some(resolve(paths, role, b)?),
                };
                let spec =
                    JobSpec { kind: JobKind::Test, role, repository: None, sha, baseline, pr: None, pr_base: None, title: Some(what) };
                let id = queue.submit(&Job::new(spec, "cli".into(), max_attempts()?, &now()))?;
                println!("queued job {id}");
            }
            flags::JobCmd::List { json } => {
                let jobs = queue.list()?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&jobs)?);
                } else {
                    for j in &jobs {
                        println!(
                            "{:>5}  {:<9}  {:<10}  {}  {:>3}/{}  {}  {}",
                            j.id,
                            j.state.as_str(),
                            j.spec.kind.as_str(),
                            &j.spec.sha[..12.min(j.spec.sha.len())],
                            j.attempts,
                            j.max_attempts,
                            j.verdict().map_or("-", gobench_core::job::verdict_text),
                            j.spec.title.as_deref().unwrap_or(""),
                        );
                    }
                }
            }
            flags::JobCmd::Show { id, json } => {
                let job = queue.get(id)?.with_context(|| format!("there is no job {id}; `cargo xtask job list` lists them"))?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&job)?);
                } else {
                    println!("job {} ({}, {}): {}", job.id, job.spec.kind.as_str(), job.spec.role.as_str(), job.state.as_str());
                    println!("commit {}, attempts {} of {}", job.spec.sha, job.attempts, job.max_attempts);
                    if let Some(r) = &job.reason {
                        println!("reason: {r}");
                    }
                    if let Some(c) = &job.comparison {
                        print!("{}", c.markdown(job.spec.title.as_deref().unwrap_or(""), &format!("/jobs/{}", job.id)));
                    }
                }
            }
            flags::JobCmd::Cancel { id } => {
                queue.modify(id, |j| j.cancel(&now()))?.map_err(anyhow::Error::new)?;
                println!("cancelled job {id}");
            }
            flags::JobCmd::Rerun { id } => {
                let job = queue.get(id)?.with_context(|| format!("there is no job {id}; `cargo xtask job list` lists them"))?;
                let again = job.rerun(&now())?;
                println!("queued job {} (rerun of {id})", queue.submit(&again)?);
            }
        }
        Ok(())
    }
}

/// A SHA as given, or a ref resolved in the mirror of the role's source (the
/// first `[[go]]` entry, or the first workload with a repository).
fn resolve(paths: &Paths, role: Role, what: &str) -> Result<String> {
    if what.len() == 40 && what.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(what.to_ascii_lowercase());
    }
    gobench_core::refname::check_ref(what).map_err(|e| anyhow::anyhow!("{what:?}: {e}"))?;
    let config = paths.load_config()?;
    let url = match role {
        Role::Go => config.go.first().map(|g| g.url().to_string()),
        Role::Workload => config.workload.iter().find_map(|w| w.url().map(str::to_string)),
    }
    .with_context(|| {
        format!("{} names no {} source to resolve {what:?} in; give a full commit SHA", paths.config.display(), role.as_str())
    })?;
    let sh = xshell::Shell::new()?;
    let location = paths.source_location(&url);
    let mirror = crate::git::update_mirror(&sh, &paths.cache, &location)?;
    crate::git::resolve(&sh, &mirror, what, &location)
}
