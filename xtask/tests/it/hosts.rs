//! A second benchmark host for real on this machine: a `podman system
//! service` on a unix socket with its own storage root (its image store
//! starts empty) and runroot, reached through a `[[host]]` entry: an image
//! sent by content address, a matrix's comparison groups split across both
//! hosts, and a host killed in the middle of its group.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use xtask::hosts::{self, Sent};

use gobench_core::schema::ResultDoc;

use crate::support::{fake_project, gobench_containers, image_id, podman, workspace};

/// The service of the second host; dropping it kills the service and
/// unmounts what its storage left mounted.
pub(crate) struct SecondHost {
    pub(crate) child: Child,
    dir: tempfile::TempDir,
}

impl SecondHost {
    pub(crate) fn start() -> SecondHost {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let child = Command::new("podman")
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("run"))
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", d.join("sock").display()))
            .env("CONTAINERS_CONF", workspace().join("scripts/containers.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let host = SecondHost { child, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !host.podman(&["info", "--format", "{{.Store.GraphRoot}}"]).status.success() {
            assert!(Instant::now() < deadline, "the second host's service did not answer");
            std::thread::sleep(Duration::from_millis(200));
        }
        host
    }

    pub(crate) fn url(&self) -> String {
        format!("unix://{}", self.dir.path().join("sock").display())
    }

    fn podman(&self, args: &[&str]) -> std::process::Output {
        let url = self.url();
        podman(&[&["--url", url.as_str()][..], args].concat())
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
}

impl Drop for SecondHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Containers outlive a killed service (conmon keeps them): remove
        // them from its storage directly.
        let d = self.dir.path();
        let _ = Command::new("podman")
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("run"))
            .args(["rm", "--all", "--force", "--time", "0"])
            .env("CONTAINERS_CONF", workspace().join("scripts/containers.conf"))
            .output();
        // A conmon whose service was killed can outlive its removed container.
        for pid in conmons_under(d) {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        // containers/storage bind-mounts its overlay directory onto itself.
        for mount in mounts_under(self.dir.path()) {
            let _ = Command::new("umount").arg(&mount).status();
        }
    }
}

/// PIDs of `conmon` processes that monitor containers stored under `dir`.
fn conmons_under(dir: &Path) -> Vec<u32> {
    let dir = dir.to_string_lossy().into_owned();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let args = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if args.split(' ').next().is_some_and(|a| a.ends_with("conmon")) && args.contains(&dir) {
            out.push(pid);
        }
    }
    out
}

fn mounts_under(dir: &Path) -> Vec<String> {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut out: Vec<String> =
        mounts.lines().filter_map(|l| l.split(' ').nth(1)).filter(|m| m.starts_with(&*dir.to_string_lossy())).map(String::from).collect();
    out.sort_by_key(|m| std::cmp::Reverse(m.len()));
    out
}

#[test]
fn an_image_reaches_a_second_host_by_content_address_with_the_same_id() {
    let p = fake_project(&[("a", "master")], 132, 0);
    p.ok(&["build", "--matrix"]);
    let tag = p.image_tags().pop().unwrap();
    let id = image_id(&tag).unwrap();

    let second = SecondHost::start();
    let graph_root = String::from_utf8(second.podman(&["info", "--format", "{{.Store.GraphRoot}}"]).stdout).unwrap();
    assert_eq!(graph_root.trim(), second.root().to_str().unwrap(), "the second host has its own storage");
    let images = second.podman(&["images", "--quiet"]);
    assert!(images.status.success() && images.stdout.is_empty(), "its image store starts empty");

    p.edit_config(|t| t + &format!("[[host]]\nname = \"second\"\nconnection = \"{}\"\nlabels = {{ disk = \"tmp\" }}\n", second.url()));
    let text = std::fs::read_to_string(p.config()).unwrap();
    let config = gobench_core::config::parse("toolchains.toml", &text).unwrap();
    let entry = &config.host[0];
    let connection = entry.connection();

    let started = Instant::now();
    assert_eq!(hosts::send_image(entry.name.get_ref(), &connection, &tag, &id).unwrap(), Sent::Copied);
    eprintln!("copied {tag} to the second host in {:.1} s", started.elapsed().as_secs_f64());
    let there = String::from_utf8(second.podman(&["image", "inspect", "--format", "{{.Id}}", &tag]).stdout).unwrap();
    assert_eq!(there.trim(), id, "the same image ID on both hosts");
    assert_eq!(hosts::send_image("second", &connection, &tag, &id).unwrap(), Sent::Present, "present: nothing is sent");

    // Other bytes under our content address are an error naming the host.
    let err = hosts::send_image("second", &connection, &tag, &"0".repeat(64)).unwrap_err();
    let err = format!("{err:#}");
    assert!(err.contains("host `second`") && err.contains(&id), "{err}");

    let facts = hosts::describe("second", &connection, &tag).unwrap();
    let here = xtask::host::describe().unwrap();
    assert_eq!(facts.entry.as_deref(), Some("second"));
    assert_eq!((&facts.cpu_model, facts.kernel.as_str()), (&here.cpu_model, here.kernel.as_str()), "the same machine underneath");
    assert!(facts.cores > 0 && facts.memory_bytes > 0, "{facts:?}");
    let left = second.podman(&["ps", "--all", "--quiet"]);
    assert!(left.status.success() && left.stdout.is_empty(), "no container left on the second host");

    let pid = second.child.id();
    drop(second);
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "the service is gone");
}

/// Every result document under `dir` (abandoned ones included), with its
/// path relative to `dir`.
pub(crate) fn docs_under(dir: &Path) -> Vec<(String, ResultDoc)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten() {
            let path = e.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|x| x == "json") && path.file_name().unwrap() != "uploads.json" {
                let Ok(doc) = serde_json::from_str::<ResultDoc>(&std::fs::read_to_string(&path).unwrap()) else { continue };
                out.push((path.strip_prefix(dir).unwrap().to_string_lossy().into_owned(), doc));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Kills the second host's service (SIGKILL) as soon as a result document
/// under `results` that is not in `before` has a run on host `second`.
pub(crate) fn kill_after_first_run(second: &SecondHost, results: &Path, before: Vec<String>) -> std::thread::JoinHandle<()> {
    let (pid, results) = (second.child.id(), results.to_path_buf());
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let ran_there = docs_under(&results)
                .into_iter()
                .any(|(p, d)| !before.contains(&p) && d.host.entry.as_deref() == Some("second") && !d.runs.is_empty());
            if ran_there {
                break;
            }
            assert!(Instant::now() < deadline, "the second host never ran a run");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap().success());
    })
}

/// The host entry each comparison group (benchmark) of `docs` ran on; one
/// per group, or the test fails.
fn host_of_group(docs: &[&ResultDoc]) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for d in docs {
        let entry = d.host.entry.clone().expect("a pool run names its host");
        let was = out.insert(d.benchmark.clone(), entry.clone());
        assert!(was.is_none_or(|w| w == entry), "{}: a comparison mixes hosts", d.cell);
    }
    out
}

#[test]
fn a_matrix_splits_its_groups_across_two_hosts_and_a_lost_hosts_group_runs_again_on_the_other() {
    let second = SecondHost::start();
    let p = crate::shard::two_group_project(134, 2);
    p.edit_config(|t| t + &format!("[[host]]\nname = \"here\"\n[[host]]\nname = \"second\"\nconnection = \"{}\"\n", second.url()));
    let results = p.path().join("results");

    // Both hosts idle: each takes one group, and each comparison stays on one.
    let out = p.ok(&["bench", "--matrix", "--no-upload"]);
    let first = docs_under(&results);
    assert_eq!(first.len(), 4, "{out}");
    let groups = host_of_group(&first.iter().map(|(_, d)| d).collect::<Vec<_>>());
    assert_eq!(groups.values().collect::<std::collections::BTreeSet<_>>().len(), 2, "both hosts ran a group: {groups:?}");
    for (path, d) in &first {
        assert!(d.abandoned.is_none() && d.runs.len() == 2 && d.runs.iter().all(|r| r.validity.valid), "{path}: {:?}", d.runs);
        assert!(d.host.cores > 0 && !d.host.kernel.is_empty(), "{path}: the host's facts");
        // A unix socket is a host on this machine: its runs are sampled too.
        assert!(d.runs.iter().all(|r| r.monitoring.unavailable.is_none()), "{path}");
    }
    let on_second = first.iter().find(|(_, d)| d.host.entry.as_deref() == Some("second")).unwrap();
    let tag = &on_second.1.provenance.image.tag;
    let there = String::from_utf8(second.podman(&["image", "inspect", "--format", "{{.Id}}", tag]).stdout).unwrap();
    assert_eq!(there.trim(), on_second.1.provenance.image.id, "the image reached the second host by content address");
    assert!(second.podman(&["ps", "--all", "--quiet"]).stdout.is_empty(), "no container left on the second host");

    // doctor --hosts checks each host through its connection: the second
    // has podman, runc and its own storage, but no base image of its own.
    let out = p.xtask(&["doctor", "--hosts"]);
    let report = String::from_utf8_lossy(&out.stdout);
    let second_part = report.split("host `second`").nth(1).unwrap_or_default();
    assert!(!out.status.success(), "{report}");
    assert!(report.contains("host `here`") && second_part.contains("ok    runtime    runc"), "{report}");
    assert!(second_part.contains(&format!("ok    storage    {}", second.root().display())), "{report}");
    assert!(second_part.contains("FAIL  base") && second_part.contains("is missing"), "{report}");
    let here_part = report.split("host `here`").nth(1).unwrap_or_default().split("host `second`").next().unwrap_or_default();
    assert!(!here_part.contains("FAIL"), "this machine passes: {report}");

    // The second host dies after its group's first run: the group starts
    // again on `here`; what ran on `second` is kept apart, not aggregated.
    let before: Vec<String> = first.iter().map(|(p, _)| p.clone()).collect();
    let watch = kill_after_first_run(&second, &results, before);
    let out = p.xtask(&["bench", "--matrix", "--no-upload"]);
    watch.join().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains("host `second` was lost in the middle of a group"), "{stderr}");
    let second_run: Vec<(String, ResultDoc)> =
        docs_under(&results).into_iter().filter(|(p, _)| !first.iter().any(|(f, _)| f == p)).collect();
    let (abandoned, kept): (Vec<_>, Vec<_>) = second_run.iter().partition(|(_, d)| d.abandoned.is_some());
    assert_eq!((abandoned.len(), kept.len()), (2, 4), "{second_run:?}");
    let lost_group = &abandoned[0].1.benchmark;
    for (path, d) in &abandoned {
        assert!(path.contains("/abandoned/second/"), "{path}");
        assert_eq!(&d.benchmark, lost_group, "one group was lost");
        assert_eq!(d.abandoned.as_ref().unwrap().host, "second");
        assert_eq!(d.host.entry.as_deref(), Some("second"));
    }
    let valid_there: usize = abandoned.iter().map(|(_, d)| d.runs.iter().filter(|r| r.validity.valid).count()).sum();
    assert!(valid_there >= 1, "the runs before the loss are kept: {abandoned:?}");
    let groups = host_of_group(&kept.iter().map(|(_, d)| d).collect::<Vec<_>>());
    assert_eq!(groups.values().collect::<Vec<_>>(), ["here", "here"], "both groups finished on `here`");
    for (path, d) in &kept {
        assert!(d.runs.len() == 2 && d.runs.iter().all(|r| r.validity.valid), "{path}: the rerun starts from no runs: {:?}", d.runs);
    }

    // Nothing reads the abandoned runs as history: the export has the 8
    // finished documents, and the commit keeps all 6 files of this bench.
    let csv = p.ok(&["export", "--csv"]);
    let paths: std::collections::BTreeSet<&str> = csv.lines().skip(1).filter_map(|l| l.split(',').next()).collect();
    assert_eq!(paths.len(), 8, "{csv}");
    assert!(paths.iter().all(|p| !p.contains("abandoned")), "{paths:?}");
    let committed = crate::support::git(p.path(), &["show", "--name-only", "--format=%s", "HEAD"], "2026-01-01T00:00:00Z");
    assert!(committed.starts_with("results: 4 cell(s), 2 abandoned on a lost host"), "{committed}");
    assert_eq!(committed.lines().filter(|l| l.contains("/abandoned/second/")).count(), 2, "{committed}");
    assert!(gobench_containers().is_empty(), "containers left behind: {:?}", gobench_containers());
    drop(second);
}
