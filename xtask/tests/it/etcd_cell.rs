//! The etcd cell of a benchmark, end to end, with the real `xtask run` binary
//! and podman, in an image these machines can build offline.
//!
//! The real etcd image cannot be built here (no Go module proxy; DESIGN.md
//! §8), so the tests use a stand-in workload image, built once per test
//! process from `tests/fixtures/standin/` on top of the base image.
//!
//! What is real: podman and the project's containers.conf; the etcd server
//! (Debian's etcd 3.4 from the base image) started by `run.rs` on a fresh
//! tmpfs data directory; its health checks with the real etcdctl; the client
//! container joining the server's network namespace (the stand-in client
//! writes a key to the server through it before it prints anything, and a
//! run whose server it cannot reach fails); the time limit; the monitor's
//! samples and the server's peak memory; the scrape of the server's own
//! `/metrics` at the end of the run; parsing and judging of the report;
//! the exit code of `xtask run`; the removal of every container and volume
//! afterwards, also when `xtask run` is interrupted.
//!
//! What stands in: the benchmark client's output. `benchmark` in the image is
//! a shell script (`tests/fixtures/standin/benchmark`) that ignores the load
//! arguments and prints, byte for byte, a report captured from etcd 3.6's real
//! tool (`tests/fixtures/etcd-benchmark/`), chosen with `--stand-in=<file>`;
//! `--stand-in=hang` never exits (what the real tool does when its server dies
//! mid-run), `--stand-in=exit3` prints a good report and exits 3, and
//! `--head-lines=N` cuts a report off.
//!
//! Containers of one `xtask run` are named `gobench-<its PID>-...`; the
//! leftover checks look for that PID only, so other processes using podman
//! on the same host do not disturb them.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use gobench_core::hash::sha256_hex;
use gobench_core::schema::Run;
use gobench_core::servermetrics;

use crate::support::{base_image, podman, workspace};

const PUT: &[&str] = &["--conns=10", "--clients=100", "put", "--key-size=8", "--sequential-keys", "--total=20000", "--val-size=256"];

/// The stand-in image, built at most once per test process. Its tag is the
/// hash of everything that goes into it (the base image's digest, the
/// Containerfile, the script, the captured outputs), so a changed fixture
/// gives a new image and an unchanged one is reused across test runs.
fn standin_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let (base_ref, base_digest) = base_image();
            let base = format!("{base_ref}@{base_digest}");
            let context = tempfile::tempdir().unwrap();
            let fixtures = workspace().join("tests/fixtures");
            let mut inputs = format!("base {base}\n");
            for (from, to) in [("standin/Containerfile", "Containerfile"), ("standin/benchmark", "benchmark")] {
                add_file(&fixtures.join(from), &context.path().join(to), to, &mut inputs);
            }
            let mut captured: Vec<_> = std::fs::read_dir(fixtures.join("etcd-benchmark")).unwrap().map(|e| e.unwrap().path()).collect();
            captured.sort();
            for path in captured {
                let name = format!("etcd-benchmark/{}", path.file_name().unwrap().to_str().unwrap());
                add_file(&path, &context.path().join(&name), &name, &mut inputs);
            }
            let image = format!("localhost/gobench/test-etcd-standin:{}", &sha256_hex(inputs.as_bytes())[..32]);
            if podman(&["image", "exists", &image]).status.success() {
                return image;
            }
            let context_dir = context.path().to_str().unwrap();
            let out =
                podman(&["build", "--pull=never", "--network=none", "--build-arg", &format!("BASE={base}"), "--tag", &image, context_dir]);
            assert!(out.status.success(), "building the stand-in image failed:\n{}", String::from_utf8_lossy(&out.stderr));
            image
        })
        .clone()
}

/// Copies `from` into the build context and adds its name and content hash
/// to the image's inputs. Every file is made executable-or-not explicitly,
/// whatever the checkout did with its mode.
fn add_file(from: &Path, to: &Path, name: &str, inputs: &mut String) {
    use std::os::unix::fs::PermissionsExt;
    let bytes = std::fs::read(from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::write(to, &bytes).unwrap();
    let mode = if name == "benchmark" { 0o755 } else { 0o644 };
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(mode)).unwrap();
    inputs.push_str(&format!("{name} {:o} {}\n", mode, sha256_hex(&bytes)));
}

/// One case at a time: every run starts an etcd server, the machines have
/// two cores, and the time checks should measure `xtask`, not contention.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `xtask run --kind etcd --image <stand-in> ...` as a child process.
fn spawn_run(timeout_secs: u64, extra: &[&str], args: &[&str]) -> (Child, Instant) {
    spawn_run_in(Path::new("."), timeout_secs, extra, args)
}

/// [`spawn_run`] in the working directory `dir` (where `--profile` writes).
fn spawn_run_in(dir: &Path, timeout_secs: u64, extra: &[&str], args: &[&str]) -> (Child, Instant) {
    let image = standin_image();
    let timeout = timeout_secs.to_string();
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.args(["run", "--kind", "etcd", "--image", &image, "--timeout-secs", &timeout]).args(extra).arg("--").args(args);
    // Its own process group, so a test can send Ctrl-C's SIGINT to the group.
    c.current_dir(dir).process_group(0).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    (child, Instant::now())
}

/// What one `xtask run` did.
struct Outcome {
    status: ExitStatus,
    elapsed: Duration,
    run: Run,
    stderr: String,
}

/// Waits for `child`, parses the run it printed and checks that it left no
/// container and no volume behind.
fn finish(mut child: Child, started: Instant) -> Outcome {
    let pid = child.id();
    let mut stdout = String::new();
    let mut stderr = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    let elapsed = started.elapsed();
    assert_no_leftovers(pid);
    let run: Run = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("xtask run printed no run ({e}):\n{stdout}\nstderr:\n{stderr}"));
    Outcome { status, elapsed, run, stderr }
}

/// Runs the stand-in image once with `args` and the time limit.
fn run(timeout_secs: u64, args: &[&str]) -> Outcome {
    let _serial = serial();
    let (child, started) = spawn_run(timeout_secs, &[], args);
    finish(child, started)
}

fn with(base: &[&'static str], more: &[&'static str]) -> Vec<&'static str> {
    base.iter().chain(more).copied().collect()
}

/// Containers (running or not) and volumes of the `xtask` process `pid`.
fn leftovers(pid: u32) -> (String, String) {
    let filter = format!("name=gobench-{pid}-");
    let list = |args: &[&str]| {
        let out = podman(args);
        assert!(out.status.success(), "podman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    (
        list(&["ps", "--all", "--filter", &filter, "--format", "{{.Names}}"]),
        list(&["volume", "ls", "--filter", &filter, "--format", "{{.Name}}"]),
    )
}

fn assert_no_leftovers(pid: u32) {
    let (containers, volumes) = leftovers(pid);
    assert!(containers.is_empty(), "xtask run (PID {pid}) left containers behind:\n{containers}");
    assert!(volumes.is_empty(), "xtask run (PID {pid}) left volumes behind:\n{volumes}");
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(workspace().join("tests/fixtures/etcd-benchmark").join(name)).unwrap()
}

fn assert_reason(o: &Outcome, expected: &str) {
    assert!(
        o.run.validity.reasons.iter().any(|r| r.contains(expected)),
        "no reason containing {expected:?} in {:?}\nstderr:\n{}",
        o.run.validity.reasons,
        o.stderr
    );
}

#[test]
fn a_server_on_a_fresh_volume_works_and_the_volume_is_removed() {
    let _serial = serial();
    let (child, started) = spawn_run(120, &["--data-dir", "volume"], &with(PUT, &["--stand-in=put-3.6-default-precision.txt"]));
    // `finish` checks that no container and no volume of this run is left.
    let o = finish(child, started);
    assert!(o.status.success() && o.run.validity.valid, "{:?}\n{}", o.run.validity, o.stderr);
    assert_eq!(o.run.values.get("rps"), Some(&15480.3636));
}

#[test]
fn put_report_is_a_valid_run_with_metrics_of_the_server() {
    let o = run(120, &with(PUT, &["--stand-in=put-3.6-default-precision.txt"]));
    assert!(o.status.success(), "xtask run failed: {:?}\n{}", o.run.validity, o.stderr);
    let r = &o.run;
    assert!(r.validity.valid && r.validity.reasons.is_empty(), "{:?}", r.validity);
    assert_eq!((r.exit_code, r.timed_out), (Some(0), false));
    assert_eq!(r.values.get("rps"), Some(&15480.3636));
    assert_eq!(r.values.get("latency_p99_9"), Some(&0.02));
    // The client's stdout is kept byte for byte.
    assert_eq!(r.stdout, fixture("put-3.6-default-precision.txt"));
    // etcdctl's answer to the stand-in's `put`: the client reached the
    // server through the shared network namespace.
    assert!(r.stderr_tail.lines().any(|l| l == "OK"), "no OK from etcdctl put in the client's stderr:\n{}", r.stderr_tail);
    let m = &r.monitoring;
    assert_eq!(m.interval_secs, 0.5);
    assert!(!m.samples.is_empty(), "no monitoring samples");
    assert!(
        m.samples.iter().any(|s| s.containers.get("server").is_some_and(|c| c.mem_bytes > 0)),
        "no sample of the server container: {:?}",
        m.samples
    );
    assert!(m.peak_memory_bytes.get("server").is_some_and(|&b| b > 0), "no server peak memory: {:?}", m.peak_memory_bytes);
    // The real server's /metrics, read after the client finished.
    let sm = r.server_metrics.as_ref().expect("no server metrics in the run");
    assert_eq!(sm.error, None);
    for name in servermetrics::HISTOGRAMS {
        let h = sm.histograms.get(name).unwrap_or_else(|| panic!("no {name} in {:?}", sm.histograms.keys()));
        assert!(h.count > 0 && h.p99.is_some_and(|p| p > 0.0), "{name}: {h:?}");
    }
    assert!(sm.summaries.get("go_gc_duration_seconds").is_some_and(|s| !s.quantiles.is_empty()), "{:?}", sm.summaries);
    assert!(sm.values.get("process_resident_memory_bytes").is_some_and(|&b| b > 1e6), "{:?}", sm.values);
    assert!(sm.values.contains_key("go_memstats_heap_alloc_bytes"), "{:?}", sm.values.keys());
}

/// `--profile`: the real server runs with `--enable-pprof`; its CPU
/// profile of the first 2 s and its heap profile at the end are kept as
/// gzipped pprof files and named in the run.
#[test]
fn a_profiled_run_keeps_the_servers_cpu_and_heap_profiles() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let (child, started) = spawn_run_in(dir.path(), 120, &["--profile=2"], &with(PUT, &["--stand-in=put-3.6-default-precision.txt"]));
    let o = finish(child, started);
    assert!(o.status.success() && o.run.validity.valid, "{:?}\n{}", o.run.validity, o.stderr);
    assert_eq!(
        o.run.profiles.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>(),
        [("cpu", "run.run-0.cpu.pb.gz"), ("heap", "run.run-0.heap.pb.gz")],
        "{}",
        o.stderr
    );
    for name in o.run.profiles.values() {
        let bytes = std::fs::read(dir.path().join(name)).unwrap();
        assert!(bytes.len() > 100 && bytes.starts_with(&[0x1f, 0x8b]), "{name} is not gzip: {} bytes", bytes.len());
    }
}

#[test]
fn stm_report_is_valid_and_fewer_requests_than_asked_is_not() {
    let stm = ["--precise", "--conns=10", "--clients=100", "stm", "--keys=1000", "--keys-per-txn=2", "--val-size=8"];
    let o = run(120, &with(&stm, &["--total=5000", "--stand-in=stm-3.6-precise.txt"]));
    assert!(o.status.success() && o.run.validity.valid, "{:?}\n{}", o.run.validity, o.stderr);
    assert_eq!(o.run.values.get("rps"), Some(&5666.952721594959));

    let o = run(120, &with(&stm, &["--total=10000", "--stand-in=stm-3.6-precise.txt"]));
    assert!(!o.status.success());
    assert!(!o.run.validity.valid);
    assert_eq!(o.run.validity.reasons, ["5000 successful requests, expected 10000"]);
    assert_eq!(o.run.exit_code, Some(0));
}

#[test]
fn every_request_failed_is_invalid_although_the_tool_exits_0() {
    let o = run(120, &with(PUT, &["--stand-in=put-3.6-all-requests-failed.txt"]));
    assert!(!o.status.success(), "xtask run accepted a run whose every request failed");
    assert!(o.stderr.contains("the run is invalid"), "{}", o.stderr);
    assert_eq!(o.run.exit_code, Some(0));
    assert!(!o.run.validity.valid);
    assert_reason(&o, "2000 requests failed with 1 distinct error, most frequent: etcdserver: user name is empty");
    assert_reason(&o, "no Summary section");
    assert!(o.run.values.is_empty(), "{:?}", o.run.values);
}

#[test]
fn cut_off_report_is_invalid() {
    // 26 lines: the summary, the histogram and the first three percentiles.
    let o = run(120, &with(PUT, &["--stand-in=put-3.6-default-precision.txt", "--head-lines=26"]));
    assert!(!o.status.success());
    assert!(!o.run.validity.valid);
    assert_eq!(o.run.validity.reasons, ["latency distribution cut off or odd: found 10% 25% 50%"]);
}

#[test]
fn nonzero_exit_is_invalid_despite_a_good_report() {
    let o = run(120, &with(PUT, &["--stand-in=exit3"]));
    assert!(!o.status.success());
    assert_eq!(o.run.exit_code, Some(3));
    assert_eq!(o.run.validity.reasons, ["exited with code 3"]);
    // Kept for the record, not for aggregates.
    assert_eq!(o.run.values.get("rps"), Some(&15480.3636));
}

#[test]
fn unreachable_server_fails_the_client() {
    // With its own --endpoints the client misses the server: the stand-in's
    // etcdctl put fails, as the real tool would.
    let o = run(120, &with(&["--endpoints=127.0.0.1:1"], &with(PUT, &["--stand-in=put-3.6-default-precision.txt"])));
    assert!(!o.status.success());
    assert!(!o.run.validity.valid);
    assert!(o.run.exit_code.is_some_and(|c| c != 0), "{:?}", o.run.exit_code);
    assert_reason(&o, "no Summary section");
}

#[test]
fn hanging_client_is_stopped_at_the_time_limit() {
    let o = run(5, &with(PUT, &["--stand-in=hang"]));
    assert!(!o.status.success());
    assert!(o.run.timed_out);
    assert_eq!(o.run.exit_code, None);
    assert!(!o.run.validity.valid);
    assert_reason(&o, "run timed out and was stopped");
    // The limit counts from the client's start; starting the server, and
    // removing both containers afterwards, take a few seconds more.
    assert!(o.elapsed >= Duration::from_secs(5), "{:?}", o.elapsed);
    assert!(o.elapsed < Duration::from_secs(5 + 20), "xtask run took {:?} with a 5 s limit", o.elapsed);
    eprintln!("hang with --timeout-secs 5: {:?}", o.elapsed);
}

#[test]
fn client_that_podman_cannot_start_leaves_no_server_behind() {
    // podman refuses the cpuset before it creates the client container, so
    // only the server exists when the run gives up.
    let _serial = serial();
    let (child, started) = spawn_run(120, &["--client-cpus", "not-a-cpuset"], &with(PUT, &["--stand-in=put-3.6-default-precision.txt"]));
    let o = finish(child, started);
    assert!(!o.status.success());
    assert!(!o.run.validity.valid);
    assert_reason(&o, "the run could not take place: podman run of the benchmark client failed");
}

/// Waits until the `role` container of `xtask run` `pid` exists: `server`
/// while the run waits for it to become healthy, `client` once the run is
/// waiting for the benchmark.
fn wait_for_container(pid: u32, role: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (containers, _) = leftovers(pid);
        if containers.lines().any(|n| n.ends_with(&format!("-{role}"))) {
            return;
        }
        assert!(Instant::now() < deadline, "xtask run (PID {pid}) started no {role} container in 90 s; it has: {containers:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts a hanging run, sends SIGINT to `target(pid)` once its `role`
/// container exists, and checks that `xtask run` winds down quickly and
/// cleans up.
fn interrupt(role: &str, target: impl Fn(u32) -> String) {
    let _serial = serial();
    let (child, started) = spawn_run(120, &[], &with(PUT, &["--stand-in=hang"]));
    let pid = child.id();
    wait_for_container(pid, role);
    let sent = Instant::now();
    let kill = Command::new("kill").args(["-INT", "--", &target(pid)]).status().unwrap();
    assert!(kill.success());
    let o = finish(child, started);
    let after = sent.elapsed();
    eprintln!("interrupted run ended {after:?} after SIGINT");
    assert!(!o.status.success(), "an interrupted run exited 0");
    assert!(o.stderr.contains("interrupted"), "{}", o.stderr);
    assert!(!o.run.validity.valid);
    assert!(after < Duration::from_secs(15), "xtask run took {after:?} to stop after SIGINT");
}

#[test]
fn sigint_stops_the_run_and_removes_its_containers() {
    interrupt("client", |pid| pid.to_string());
}

#[test]
fn sigint_while_the_server_starts_removes_it() {
    interrupt("server", |pid| pid.to_string());
}

#[test]
fn ctrl_c_to_the_process_group_stops_the_run_and_removes_its_containers() {
    // What a terminal's Ctrl-C does: SIGINT to every process of the
    // foreground group, the podman processes `xtask run` started included.
    interrupt("client", |pid| format!("-{pid}"));
}

/// `compare --profiles` on two documents whose runs were profiled for real:
/// the toolchain's `go tool pprof` (in B's toolchain image, here the
/// stand-in with the base image's Go) prints a diff of each kind.
#[test]
fn compare_profiles_diffs_each_kind_with_go_tool_pprof() {
    let project = tempfile::tempdir().unwrap();
    std::fs::copy(workspace().join("toolchains.toml"), project.path().join("toolchains.toml")).unwrap();
    let golden = std::fs::read_to_string(workspace().join("tests/golden/document/etcd-put.json")).unwrap();
    for side in ["a", "b"] {
        let dir = project.path().join("results").join(side);
        std::fs::create_dir_all(&dir).unwrap();
        let o = {
            let _serial = serial();
            let (child, started) = spawn_run_in(&dir, 120, &["--profile=1"], &with(PUT, &["--stand-in=put-3.6-default-precision.txt"]));
            finish(child, started)
        };
        assert!(o.run.validity.valid && o.run.profiles.len() == 2, "{:?} {:?}\n{}", o.run.validity, o.run.profiles, o.stderr);
        let mut doc: gobench_core::schema::ResultDoc = serde_json::from_str(&golden).unwrap();
        doc.runs = vec![o.run];
        doc.provenance.toolchain_image.id = standin_image();
        std::fs::write(dir.join("run.json"), serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(project.path())
        .args(["--config", "toolchains.toml", "compare", "--profiles", "results/a/run.json", "results/b/run.json"])
        .env("CONTAINERS_CONF", workspace().join("scripts/containers.conf"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for (kind, pprof_type) in [("cpu", "Type: cpu"), ("heap", "Type: inuse_space")] {
        let section = stdout.split("## ").find(|s| s.starts_with(kind)).unwrap_or_else(|| panic!("no {kind} section:\n{stdout}"));
        assert!(section.contains(pprof_type) && section.contains("flat%"), "{kind}:\n{section}");
    }
}
