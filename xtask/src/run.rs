//! One benchmark run in containers: an etcd server and its benchmark client,
//! or a go-std test binary. Every run gets fresh containers (and a fresh
//! data directory), a time limit, and system metrics sampled while it runs.
//!
//! Also `cargo xtask run`, which runs a benchmark once in any image.

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use gobench_core::config::DataDir;
use gobench_core::document::{self, Outcome, Recorded};
use gobench_core::hosts::Connection;
use gobench_core::parse::RunExit;
use gobench_core::schema::{Monitoring, ServerMetrics};
use gobench_core::spec::{Protocol, RunSpec, ENDPOINT, GOSTD_PROFILES};
use gobench_core::{results, servermetrics};
use xshell::{cmd, Shell};

use crate::cancel::{self, Cancel};
use crate::paths::write_atomic;
use crate::{flags, monitor, podman};

pub const MONITOR_INTERVAL: Duration = Duration::from_millis(500);
const HEALTH_TIMEOUT: Duration = Duration::from_secs(60);
const DATA_DIR: &str = "/var/lib/etcd-bench";
/// How much of a run's stderr is kept: the etcd tool's gRPC logs run to megabytes.
const STDERR_TAIL: usize = 8 * 1024;

/// A run's outcome before judging.
pub struct RunOutput {
    pub started: SystemTime,
    pub ended: SystemTime,
    pub exit: RunExit,
    pub stdout: String,
    pub stderr: String,
    pub monitoring: Monitoring,
    pub server_metrics: Option<ServerMetrics>,
    /// With a profiling spec: gzipped pprof bytes by kind (`cpu`, `heap`).
    pub profiles: Vec<(String, Vec<u8>)>,
}

pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// Containers and volumes of one run (or of the host's fsync probe);
/// removed when dropped, whatever happened.
pub(crate) struct Containers {
    pub host: Connection,
    pub names: Vec<String>,
    pub volumes: Vec<String>,
}

impl Drop for Containers {
    fn drop(&mut self) {
        // One `podman rm` per container, newest first. With several names
        // podman 4.3 refuses to remove the server while the client that
        // shares its network namespace still exists, and removes nothing at
        // all when one name was never created (a failed `podman run`).
        for name in self.names.iter().rev() {
            let _ = podman::command_at(&self.host)
                .args(["rm", "--force", "--ignore", "--time", "0", name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if !self.volumes.is_empty() {
            let _ = podman::command_at(&self.host)
                .args(["volume", "rm", "--force"])
                .args(&self.volumes)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The label every run container carries, valued with the process ID, so a
/// killed process's containers can be found and removed (`serve` does at start).
pub const RUN_LABEL: &str = "io.gobench.run";

fn run_label() -> String {
    format!("{RUN_LABEL}={}", std::process::id())
}

/// Removes the run containers of processes that are gone (a killed
/// `serve` or `bench`); returns their names. Containers of live processes
/// are left alone.
pub fn remove_orphans() -> Result<Vec<String>> {
    let filter = format!("label={RUN_LABEL}");
    let format = format!("{{{{.Names}}}} {{{{index .Labels \"{RUN_LABEL}\"}}}}");
    let out = podman::command().args(["ps", "--all", "--filter", &filter, "--format", &format]).output().context("running podman ps")?;
    anyhow::ensure!(out.status.success(), "podman ps failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    let mut removed = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((name, pid)) = line.split_once(' ') else { continue };
        if std::path::Path::new("/proc").join(pid.trim()).exists() {
            continue;
        }
        let rm = podman::command().args(["rm", "--force", "--ignore", "--time", "0", name]).output().context("running podman rm")?;
        anyhow::ensure!(rm.status.success(), "podman rm {name} failed: {}", String::from_utf8_lossy(&rm.stderr).trim());
        removed.push(name.to_string());
    }
    Ok(removed)
}

pub(crate) fn unique_name(role: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!("gobench-{}-{}-{role}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// Runs `spec` once. An `Err` means the run could not take place (podman
/// failed, the server never became healthy, the run was cancelled); the
/// caller records it as an invalid run.
pub fn run_once(sh: &Shell, spec: &RunSpec, cancel: &Cancel) -> Result<RunOutput> {
    cancel.check()?;
    let host = podman::host_of(sh);
    let mut guard = Containers { host: host.clone(), names: Vec::new(), volumes: Vec::new() };
    // The sampler reads this machine's /proc and cgroup files: they only
    // describe containers of a host on this machine.
    let monitor = match spec.settling.sampler && host.same_machine() {
        true => monitor::start(sh, MONITOR_INTERVAL, Vec::new())?,
        false => monitor::off(),
    };
    let watch = |role: &str, name: &str| monitor.add_container(sh, role, name);
    let started = SystemTime::now();
    let server = match spec.protocol() {
        Protocol::EtcdPair => {
            let server = start_server(sh, spec, &mut guard, cancel)?;
            watch("server", &server)?;
            Some(server)
        }
        Protocol::TestBinary => None,
    };
    let client_network = server.as_ref().map_or("none".to_string(), |s| format!("container:{s}"));
    let client = unique_name("client");
    guard.names.push(client.clone());
    let mut run = podman::command_at(&host);
    run.args(["run", "--detach", "--name", &client, "--label", &run_label(), "--network", &client_network]);
    if let Some(cpus) = &spec.client_cpus {
        run.args(["--cpuset-cpus", cpus]);
    }
    run.arg(&spec.image).args(spec.client_command());
    let out = run.output().context("starting the benchmark container")?;
    anyhow::ensure!(out.status.success(), "podman run of the benchmark client failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    watch("client", &client)?;
    // The CPU profile covers the first `secs` of the client's run: Go's
    // profile endpoint cannot be stopped early, and CPU samples are only
    // taken while the server works, so a window longer than the run costs
    // only the wait for it.
    let cpu_profile = match (&server, spec.profile_secs) {
        (Some(server), Some(secs)) => {
            let server = server.clone();
            let host = host.clone();
            Some(std::thread::spawn(move || {
                http_get(&host, &server, &format!("/debug/pprof/profile?seconds={secs}"), secs + HTTP_TIMEOUT_SECS)
            }))
        }
        _ => None,
    };

    let exit = wait_for(&host, &client, spec.timeout(), cancel)?;
    let ended = SystemTime::now();
    let mut monitoring = monitor.stop();
    if !host.same_machine() {
        monitoring.unavailable = Some("the host is reached over podman's API, not on this machine; only peak memory is read".into());
    }
    if let Some(server) = &server {
        if let Ok(peak) = monitor::peak_memory(sh, server) {
            monitoring.peak_memory_bytes.insert("server".to_string(), peak);
        }
    }
    let mut profiles = Vec::new();
    if spec.profile_secs.is_some() {
        let fetched = match (&server, cpu_profile) {
            (Some(server), Some(cpu)) => vec![
                ("heap", http_get(&host, server, "/debug/pprof/heap", HTTP_TIMEOUT_SECS)),
                ("cpu", cpu.join().unwrap_or_else(|_| Err(anyhow::anyhow!("the CPU profile's thread panicked")))),
            ],
            _ => GOSTD_PROFILES.iter().map(|&(kind, path)| (kind, copy_out(&host, &client, path))).collect(),
        };
        for (kind, bytes) in fetched {
            match bytes {
                Ok(b) => profiles.push((kind.to_string(), b)),
                Err(e) => eprintln!("warning: no {kind} profile: {e:#}"),
            }
        }
    }
    // After the samples stop, so that the scrape's own work is not in them.
    let server_metrics = server.as_ref().map(|s| scrape(&host, s));
    let logs = podman::command_at(&host).args(["logs", &client]).output().context("reading the benchmark container's output")?;
    Ok(RunOutput {
        started,
        ended,
        exit,
        stdout: String::from_utf8_lossy(&logs.stdout).into_owned(),
        stderr: tail(&String::from_utf8_lossy(&logs.stderr), STDERR_TAIL),
        monitoring,
        server_metrics,
        profiles,
    })
}

/// The bytes of `path` in the (stopped) container `name`.
fn copy_out(host: &Connection, name: &str, path: &str) -> Result<Vec<u8>> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let to = dir.path().join("profile");
    let out = podman::command_at(host).arg("cp").arg(format!("{name}:{path}")).arg(&to).output().context("running podman cp")?;
    anyhow::ensure!(out.status.success(), "podman cp {name}:{path} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    std::fs::read(&to).with_context(|| format!("reading {}", to.display()))
}

/// Starts an etcd server on a fresh data directory and waits until it
/// answers a health check. Its network namespace has only loopback; the
/// client joins it.
fn start_server(sh: &Shell, spec: &RunSpec, guard: &mut Containers, cancel: &Cancel) -> Result<String> {
    let name = unique_name("server");
    let host = podman::host_of(sh);
    let mut c = podman::command_at(&host);
    c.args(["run", "--detach", "--name", &name, "--label", &run_label(), "--network", "none"]);
    match spec.data_dir {
        DataDir::Tmpfs => {
            c.args(["--tmpfs", &format!("{DATA_DIR}:rw,mode=0700")]);
        }
        DataDir::Volume => {
            let volume = format!("{name}-data");
            let out = podman::command_at(&host).args(["volume", "create", &volume]).output().context("creating the data volume")?;
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
    if spec.profile_secs.is_some() {
        c.arg("--enable-pprof");
    }
    guard.names.push(name.clone());
    let out = c.output().context("starting the etcd server container")?;
    anyhow::ensure!(out.status.success(), "podman run of the etcd server failed: {}", String::from_utf8_lossy(&out.stderr).trim());

    let deadline = Instant::now() + HEALTH_TIMEOUT;
    loop {
        cancel.check()?;
        let health = cmd!(sh, "podman exec {name} etcdctl --endpoints={ENDPOINT} endpoint health").quiet().ignore_status().output()?;
        if health.status.success() {
            return Ok(name);
        }
        if Instant::now() > deadline {
            let logs = podman::command_at(&host)
                .args(["logs", "--tail", "20", &name])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                .unwrap_or_default();
            anyhow::bail!("the etcd server did not become healthy in {} s; its log ends:\n{logs}", HEALTH_TIMEOUT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// How long one request to the server's HTTP endpoints may take.
const HTTP_TIMEOUT_SECS: u64 = 10;

/// `GET path` on the etcd server's client URL, from inside its container:
/// its network namespace has only loopback, and the images have bash but
/// no curl. Returns the body of a 200 answer.
fn http_get(at: &Connection, container: &str, path: &str, timeout_secs: u64) -> Result<Vec<u8>> {
    let (host, port) = ENDPOINT.split_once(':').expect("ENDPOINT is host:port");
    let get = format!(r#"exec 3<>/dev/tcp/{host}/{port} && printf 'GET %s HTTP/1.0\r\nHost: {host}\r\n\r\n' "$1" >&3 && cat <&3"#);
    let out = podman::command_at(at)
        .args(["exec", container, "timeout", &timeout_secs.to_string(), "bash", "-c", &get, "get", path])
        .output()
        .with_context(|| format!("running podman exec {container} for GET {path}"))?;
    anyhow::ensure!(out.status.success(), "GET {path} in {container} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    let body = gobench_core::parse::http::ok_body(&out.stdout).map_err(|e| anyhow::anyhow!("GET {path}: {e}"))?;
    Ok(body.to_vec())
}

/// The kept part of the server's `/metrics`; a failed scrape is recorded
/// with its reason (it says nothing about the run's validity).
fn scrape(host: &Connection, server: &str) -> ServerMetrics {
    match http_get(host, server, "/metrics", HTTP_TIMEOUT_SECS) {
        Ok(body) => servermetrics::from_scrape(&String::from_utf8_lossy(&body)),
        Err(e) => servermetrics::failed(format!("{e:#}")),
    }
}

/// Waits for a container to exit, at most `timeout`; a container that
/// outlives it is killed and the run marked timed out.
fn wait_for(host: &Connection, name: &str, timeout: Duration, cancel: &Cancel) -> Result<RunExit> {
    let mut wait = podman::command_at(host)
        .args(["wait", name])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("running podman wait")?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = wait.try_wait()? {
            let mut out = String::new();
            use std::io::Read;
            wait.stdout.take().map(|mut s| s.read_to_string(&mut out));
            anyhow::ensure!(status.success(), "podman wait {name} failed");
            return Ok(RunExit { code: out.trim().parse().ok(), timed_out: false });
        }
        if cancel.is_cancelled() || Instant::now() > deadline {
            let _ = podman::command_at(host).args(["kill", name]).stdout(Stdio::null()).stderr(Stdio::null()).status();
            let _ = wait.kill();
            let _ = wait.wait();
            cancel.check()?;
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
///
/// Profiles of a profiled run are written beside the document `doc` (or
/// into the current directory for `cargo xtask run`) and named in the run.
pub fn record(sh: &Shell, spec: &RunSpec, index: u32, doc: Option<&Path>, cancel: &Cancel) -> Recorded {
    let mut activity = crate::settle::before_run(sh, spec, cancel);
    let started = SystemTime::now();
    let host = podman::host_of(sh);
    activity.extend(host_activity(&host));
    let mut profiles = Vec::new();
    let outcome = match run_once(sh, spec, cancel) {
        Ok(out) => {
            profiles = out.profiles;
            Outcome::Ran {
                started: rfc3339(out.started),
                ended: rfc3339(out.ended),
                exit: out.exit,
                stdout: out.stdout,
                stderr_tail: out.stderr,
                monitoring: out.monitoring,
                server_metrics: out.server_metrics,
            }
        }
        Err(e) => Outcome::Failed { started: rfc3339(started), ended: rfc3339(SystemTime::now()), reason: format!("{e:#}") },
    };
    for a in host_activity(&host) {
        if !activity.contains(&a) {
            activity.push(a);
        }
    }
    let mut recorded = document::record(spec, index, outcome, activity);
    let (dir, doc_file) = match doc {
        Some(d) => (d.parent().unwrap_or(Path::new(".")), d.file_name().map_or("run".into(), |n| n.to_string_lossy())),
        None => (Path::new("."), "run".into()),
    };
    for (kind, bytes) in profiles {
        let name = results::profile_file_name(&doc_file, index, &kind);
        match write_atomic(&dir.join(&name), &bytes) {
            Ok(()) => {
                recorded.run.profiles.insert(kind, name);
            }
            Err(e) => eprintln!("warning: the {kind} profile was not kept: {e:#}"),
        }
    }
    recorded
}

/// Other gobench work on the run's host right now: containers of other
/// processes there, and image builds when it is this machine. Benchmarks of
/// two invocations cannot overlap (they share the host lock), but a build
/// can run beside one and slow it down.
fn host_activity(host: &Connection) -> Vec<String> {
    let own = format!("gobench-{}-", std::process::id());
    let mut seen = Vec::new();
    if let Ok(out) = podman::command_at(host).args(["ps", "--filter", "name=gobench-", "--format", "{{.Names}}"]).output() {
        seen.extend(String::from_utf8_lossy(&out.stdout).lines().filter(|n| !n.starts_with(&own)).map(|n| format!("container {n}")));
    }
    if !host.same_machine() {
        return seen;
    }
    let Ok(procs) = std::fs::read_dir("/proc") else { return seen };
    for entry in procs.flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let args: Vec<String> = cmdline.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        if args.first().is_some_and(|a| a.ends_with("podman")) && args.get(1).is_some_and(|a| a == "build") {
            let tag = args.windows(2).find(|w| w[0] == "--tag").map_or("an image", |w| w[1].as_str());
            seen.push(format!("podman build of {tag}"));
        }
    }
    seen
}

impl flags::Run {
    /// `true` when the run is invalid.
    pub fn run(self) -> Result<bool> {
        let cancel = cancel::for_job()?;
        let sh = podman::shell()?;
        let spec = self.spec();
        let _host = crate::filelock::acquire(&crate::filelock::host_bench_lock_path(), "cargo xtask run", HOST_LOCK_TIMEOUT, &cancel)?;
        let recorded = record(&sh, &spec, 0, None, &cancel);
        println!("{}", serde_json::to_string_pretty(&recorded.run)?);
        cancel.check()?;
        if !recorded.run.validity.valid {
            eprintln!("the run is invalid: {}", recorded.run.validity.reasons.join("; "));
        }
        Ok(!recorded.run.validity.valid)
    }

    /// The run these flags describe.
    pub fn spec(self) -> RunSpec {
        RunSpec {
            kind: self.kind.into(),
            image: self.image,
            args: self.args,
            package: self.package,
            server_flags: self.server_flag,
            timeout_secs: self.timeout_secs,
            data_dir: self.data_dir.into(),
            server_cpus: self.server_cpus,
            client_cpus: self.client_cpus,
            profile_secs: self.profile,
            settling: gobench_core::spec::Settling {
                warmup_runs: self.warmup_runs,
                sampler: !self.no_sampler,
                wait_idle_below_pct: self.wait_idle_below,
            },
        }
    }
}

/// How long a benchmark waits for another one on the same host to finish.
pub const HOST_LOCK_TIMEOUT: Duration = Duration::from_secs(6 * 3600);
