//! One benchmark run in containers: an etcd server and its benchmark client,
//! or a go-std test binary. Every run gets fresh containers (and a fresh
//! data directory), a time limit, and system metrics sampled while it runs.
//!
//! Also `cargo xtask run`, which runs a benchmark once in any image.

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use gobench_core::config::{DataDir, WorkloadKind};
use gobench_core::containerfile::gostd_binary;
use gobench_core::parse::RunExit;
use gobench_core::results;
use gobench_core::schema::{self, Monitoring};
use xshell::{cmd, Shell};

use crate::{flags, monitor, podman};

/// Set by the Ctrl-C handler; every wait loop checks it.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Installs the Ctrl-C handler: the first Ctrl-C stops the current run
/// (its containers are removed by their guards) and the command winds down.
pub fn install_interrupt_handler() -> Result<()> {
    ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted again: exiting now");
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: stopping the current run and removing its containers");
    })
    .context("installing the Ctrl-C handler")
}

pub const MONITOR_INTERVAL: Duration = Duration::from_millis(500);
const HEALTH_TIMEOUT: Duration = Duration::from_secs(60);
const DATA_DIR: &str = "/var/lib/etcd-bench";
const ENDPOINT: &str = "127.0.0.1:2379";
/// How much of a run's stderr is kept: the etcd tool's gRPC logs run to megabytes.
const STDERR_TAIL: usize = 8 * 1024;

/// Everything one run needs.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub kind: WorkloadKind,
    pub image: String,
    pub args: Vec<String>,
    /// go-std: the package whose test binary runs.
    pub package: Option<String>,
    pub server_flags: Vec<String>,
    pub timeout: Duration,
    pub data_dir: DataDir,
    pub server_cpus: Option<String>,
    pub client_cpus: Option<String>,
}

impl RunSpec {
    /// The benchmark command as it runs in the client container.
    pub fn client_command(&self) -> Vec<String> {
        match self.kind {
            WorkloadKind::Etcd => {
                let mut c = vec!["benchmark".to_string()];
                if !self.args.iter().any(|a| a.starts_with("--endpoints")) {
                    c.push(format!("--endpoints={ENDPOINT}"));
                }
                c.extend(self.args.iter().cloned());
                c
            }
            WorkloadKind::GoStd => {
                let mut c = vec![gostd_binary(self.package.as_deref().unwrap_or("std"))];
                c.extend(self.args.iter().cloned());
                c
            }
        }
    }
}

/// A run's outcome before judging.
pub struct RunOutput {
    pub started: SystemTime,
    pub ended: SystemTime,
    pub exit: RunExit,
    pub stdout: String,
    pub stderr: String,
    pub monitoring: Monitoring,
}

pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// Containers of one run; removed when dropped, whatever happened.
struct Containers {
    names: Vec<String>,
    volumes: Vec<String>,
}

impl Drop for Containers {
    fn drop(&mut self) {
        // One `podman rm` per container, newest first. With several names
        // podman 4.3 refuses to remove the server while the client that
        // shares its network namespace still exists, and removes nothing at
        // all when one name was never created (a failed `podman run`).
        for name in self.names.iter().rev() {
            let _ = podman::command()
                .args(["rm", "--force", "--ignore", "--time", "0", name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if !self.volumes.is_empty() {
            let _ = podman::command()
                .args(["volume", "rm", "--force"])
                .args(&self.volumes)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn unique_name(role: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!("gobench-{}-{}-{role}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// Runs `spec` once. An `Err` means the run could not take place (podman
/// failed, the server never became healthy); the caller records it as an
/// invalid run.
pub fn run_once(sh: &Shell, spec: &RunSpec) -> Result<RunOutput> {
    let mut guard = Containers { names: Vec::new(), volumes: Vec::new() };
    let monitor = monitor::start(sh, MONITOR_INTERVAL, Vec::new())?;
    let started = SystemTime::now();
    let server = match spec.kind {
        WorkloadKind::Etcd => {
            let server = start_server(sh, spec, &mut guard)?;
            monitor.add_container(sh, "server", &server)?;
            Some(server)
        }
        WorkloadKind::GoStd => None,
    };
    let client_network = server.as_ref().map_or("none".to_string(), |s| format!("container:{s}"));
    let client = unique_name("client");
    guard.names.push(client.clone());
    let mut run = podman::command();
    run.args(["run", "--detach", "--name", &client, "--network", &client_network]);
    if let Some(cpus) = &spec.client_cpus {
        run.args(["--cpuset-cpus", cpus]);
    }
    run.arg(&spec.image).args(spec.client_command());
    let out = run.output().context("starting the benchmark container")?;
    anyhow::ensure!(out.status.success(), "podman run of the benchmark client failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    monitor.add_container(sh, "client", &client)?;

    let exit = wait_for(&client, spec.timeout)?;
    let ended = SystemTime::now();
    let mut monitoring = monitor.stop();
    if let Some(server) = &server {
        if let Ok(peak) = monitor::peak_memory(sh, server) {
            monitoring.peak_memory_bytes.insert("server".to_string(), peak);
        }
    }
    let logs = podman::command().args(["logs", &client]).output().context("reading the benchmark container's output")?;
    Ok(RunOutput {
        started,
        ended,
        exit,
        stdout: String::from_utf8_lossy(&logs.stdout).into_owned(),
        stderr: tail(&String::from_utf8_lossy(&logs.stderr), STDERR_TAIL),
        monitoring,
    })
}

/// Starts an etcd server on a fresh data directory and waits until it
/// answers a health check. Its network namespace has only loopback; the
/// client joins it.
fn start_server(sh: &Shell, spec: &RunSpec, guard: &mut Containers) -> Result<String> {
    let name = unique_name("server");
    let mut c = podman::command();
    c.args(["run", "--detach", "--name", &name, "--network", "none"]);
    match spec.data_dir {
        DataDir::Tmpfs => {
            c.args(["--tmpfs", &format!("{DATA_DIR}:rw,mode=0700")]);
        }
        DataDir::Volume => {
            let volume = format!("{name}-data");
            let out = podman::command().args(["volume", "create", &volume]).output().context("creating the data volume")?;
            anyhow::ensure!(out.status.success(), "podman volume create failed: {}", String::from_utf8_lossy(&out.stderr).trim());
            guard.volumes.push(volume.clone());
            c.args(["--volume", &format!("{volume}:{DATA_DIR}")]);
        }
    }
    if let Some(cpus) = &spec.server_cpus {
        c.args(["--cpuset-cpus", cpus]);
    }
    c.arg(&spec.image).args([
        "etcd",
        "--data-dir",
        DATA_DIR,
        "--listen-client-urls",
        "http://127.0.0.1:2379",
        "--advertise-client-urls",
        "http://127.0.0.1:2379",
        "--listen-peer-urls",
        "http://127.0.0.1:2380",
    ]);
    c.args(&spec.server_flags);
    guard.names.push(name.clone());
    let out = c.output().context("starting the etcd server container")?;
    anyhow::ensure!(out.status.success(), "podman run of the etcd server failed: {}", String::from_utf8_lossy(&out.stderr).trim());

    let deadline = Instant::now() + HEALTH_TIMEOUT;
    loop {
        anyhow::ensure!(!interrupted(), "interrupted");
        let health = cmd!(sh, "podman exec {name} etcdctl --endpoints={ENDPOINT} endpoint health").quiet().ignore_status().output()?;
        if health.status.success() {
            return Ok(name);
        }
        if Instant::now() > deadline {
            let logs = podman::command()
                .args(["logs", "--tail", "20", &name])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                .unwrap_or_default();
            anyhow::bail!("the etcd server did not become healthy in {} s; its log ends:\n{logs}", HEALTH_TIMEOUT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits for a container to exit, at most `timeout`; a container that
/// outlives it is killed and the run marked timed out.
fn wait_for(name: &str, timeout: Duration) -> Result<RunExit> {
    let mut wait =
        podman::command().args(["wait", name]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().context("running podman wait")?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = wait.try_wait()? {
            let mut out = String::new();
            use std::io::Read;
            wait.stdout.take().map(|mut s| s.read_to_string(&mut out));
            anyhow::ensure!(status.success(), "podman wait {name} failed");
            return Ok(RunExit { code: out.trim().parse().ok(), timed_out: false });
        }
        if interrupted() || Instant::now() > deadline {
            let _ = podman::command().args(["kill", name]).stdout(Stdio::null()).stderr(Stdio::null()).status();
            let _ = wait.kill();
            let _ = wait.wait();
            anyhow::ensure!(!interrupted(), "interrupted");
            return Ok(RunExit { code: None, timed_out: true });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn tail(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s[start..].to_string()
}

/// Runs, judges and records one repetition; a run that could not take place
/// is recorded as invalid with the reason.
pub fn record(sh: &Shell, spec: &RunSpec, index: u32) -> (schema::Run, results::Judged) {
    let started = SystemTime::now();
    match run_once(sh, spec) {
        Ok(out) => {
            let judged = results::judge(spec.kind, &spec.args, &out.stdout, out.exit);
            let run = schema::Run {
                index,
                started: rfc3339(out.started),
                ended: rfc3339(out.ended),
                exit_code: out.exit.code,
                timed_out: out.exit.timed_out,
                validity: judged.validity.clone(),
                values: judged.values.iter().map(|(k, (_, _, v))| (k.clone(), *v)).collect(),
                stdout: out.stdout,
                stderr_tail: out.stderr,
                monitoring: out.monitoring,
            };
            (run, judged)
        }
        Err(e) => {
            let validity = gobench_core::parse::Validity::from_reasons(vec![format!("the run could not take place: {e:#}")]);
            let judged = results::Judged { validity: validity.clone(), values: Default::default() };
            let run = schema::Run {
                index,
                started: rfc3339(started),
                ended: rfc3339(SystemTime::now()),
                exit_code: None,
                timed_out: false,
                validity,
                values: Default::default(),
                stdout: String::new(),
                stderr_tail: String::new(),
                monitoring: Monitoring::default(),
            };
            (run, judged)
        }
    }
}

impl flags::Run {
    /// `true` when the run is invalid.
    pub fn run(self) -> Result<bool> {
        install_interrupt_handler()?;
        let sh = podman::shell()?;
        let spec = RunSpec {
            kind: self.kind.into(),
            image: self.image,
            args: self.args,
            package: self.package,
            server_flags: self.server_flag,
            timeout: Duration::from_secs(self.timeout_secs),
            data_dir: self.data_dir.into(),
            server_cpus: self.server_cpus,
            client_cpus: self.client_cpus,
        };
        let (run, _) = record(&sh, &spec, 0);
        println!("{}", serde_json::to_string_pretty(&run)?);
        anyhow::ensure!(!interrupted(), "interrupted");
        if !run.validity.valid {
            eprintln!("the run is invalid: {}", run.validity.reasons.join("; "));
        }
        Ok(!run.validity.valid)
    }
}
