//! Signals, locks and the pipeline steps as a library, on the fake Go
//! toolchain with real podman: SIGTERM during a build and during a run,
//! two benches from two projects at once, and a toolchain image for a SHA
//! that the pins do not name.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gobench_core::schema::ResultDoc;

use crate::support::{commit_all, fake_project, git, gobench_containers, podman, write, Project};

fn spawn(p: &Project, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--config")
        .arg(p.config())
        .args(args)
        .env("GOBENCH_CACHE", p.cache.clone().unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(mut child: Child) -> (std::process::ExitStatus, String) {
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status, stderr)
}

fn wait_until(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn lines(out: std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect()
}

/// Every container podman knows, buildah's working containers included.
fn external_containers() -> Vec<String> {
    lines(podman(&["ps", "--all", "--external", "--format", "{{.ID}} {{.Names}}"]))
}

fn runc_containers() -> Vec<String> {
    lines(Command::new("runc").args(["list", "--quiet"]).output().unwrap())
}

fn docs(dir: &Path) -> Vec<ResultDoc> {
    let mut out = Vec::new();
    for inv in std::fs::read_dir(dir.join("results")).into_iter().flatten() {
        for f in std::fs::read_dir(inv.unwrap().path()).unwrap() {
            out.push(serde_json::from_str(&std::fs::read_to_string(f.unwrap().path()).unwrap()).unwrap());
        }
    }
    out
}

#[test]
fn sigterm_during_a_build_stops_it_and_leaves_no_build_container() {
    let p = fake_project(&[("slow", "slow")], 105, 0);
    let go = p.path().join("go");
    git(&go, &["checkout", "-q", "-b", "slow"], "2026-03-03T00:00:00Z");
    write(&go.join("src/make.bash"), "#!/bin/sh\necho 'slow make.bash: compiling'\nsleep 300\n");
    commit_all(&go, "cmd/dist: slow", "2026-03-03T00:00:00Z");
    let (externals, runcs) = (external_containers(), runc_containers());
    let child = spawn(&p, &["build", "--matrix"]);
    let log_has = |text: &str| {
        std::fs::read_dir(p.cache.clone().unwrap().join("builds"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
            .any(|e| std::fs::read_to_string(e.path()).unwrap_or_default().contains(text))
    };
    wait_until("make.bash to start", 120, || log_has("slow make.bash: compiling"));
    let sent = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let (status, stderr) = finish(child);
    assert_eq!(status.code(), Some(143), "a terminated build exits 128 + SIGTERM:\n{stderr}");
    assert!(sent.elapsed() < Duration::from_secs(40), "it stops promptly: {:?}", sent.elapsed());
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    let new_externals: Vec<_> = external_containers().into_iter().filter(|c| !externals.contains(c)).collect();
    assert!(new_externals.iter().all(|c| !c.contains("working-container")), "buildah containers left: {new_externals:?}");
    let new_runcs: Vec<_> = runc_containers().into_iter().filter(|c| !runcs.contains(c)).collect();
    assert!(new_runcs.iter().all(|c| !c.starts_with("buildah-")), "build steps still running: {new_runcs:?}");
    let record: serde_json::Value = std::fs::read_dir(p.cache.clone().unwrap().join("builds"))
        .unwrap()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map_or(serde_json::Value::Null, |e| serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap());
    assert!(record.is_null(), "a stopped build is not recorded as built or failed: {record}");
}

#[test]
fn sigterm_during_a_run_removes_its_containers_and_keeps_finished_runs() {
    let p = fake_project(&[("a", "master"), ("b", "master")], 106, 3);
    git(p.path(), &["init", "-q"], "2026-01-01T00:00:00Z");
    p.ok(&["build", "--matrix"]);
    let child = spawn(&p, &["bench", "--matrix", "--runs", "3", "--no-upload"]);
    wait_until("a finished run and a running one", 120, || !docs(p.path()).is_empty() && !gobench_containers().is_empty());
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let (status, stderr) = finish(child);
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert!(gobench_containers().is_empty(), "containers left behind: {:?}", gobench_containers());
    let finished: usize = docs(p.path()).iter().map(|d| d.runs.len()).sum();
    assert!((1..6).contains(&finished), "finished runs are kept, the stopped one is not: {finished}");
    assert_eq!(git(p.path(), &["status", "--porcelain", "results"], "2026-01-01T00:00:00Z").trim(), "", "kept results are committed");
}

/// Two projects, one host: the second bench waits for the first, says what
/// it waits for, and no run of one overlaps a run of the other.
#[test]
fn two_benches_on_one_host_are_serialised() {
    let a = fake_project(&[("a", "master")], 107, 2);
    let b = fake_project(&[("b", "master")], 108, 2);
    a.ok(&["build", "--matrix"]);
    b.ok(&["build", "--matrix"]);
    let first = spawn(&a, &["bench", "--matrix", "--no-commit"]);
    std::thread::sleep(Duration::from_millis(500));
    let second = spawn(&b, &["bench", "--matrix", "--no-commit"]);
    let (sa, ea) = finish(first);
    let (sb, eb) = finish(second);
    assert!(sa.success() && sb.success(), "both complete:\n{ea}\n{eb}");
    assert!(ea.contains("waiting for") || eb.contains("waiting for"), "the one that waited says so:\n{ea}\n{eb}");
    let waited = if eb.contains("waiting for") { &eb } else { &ea };
    assert!(waited.contains("held by pid") && waited.contains("benchmarking"), "{waited}");
    let mut spans: Vec<(String, String)> = Vec::new();
    for d in docs(a.path()).into_iter().chain(docs(b.path())) {
        assert_eq!(d.runs.len(), 2);
        spans.extend(d.runs.iter().map(|r| (r.started.clone(), r.ended.clone())));
    }
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "runs overlap in time: {:?} and {:?}", w[0], w[1]);
    }
}

/// The library's steps, called as `serve` and bisect will: a toolchain for a
/// commit that no pin names, and the commits between two refs.
#[test]
fn a_toolchain_image_for_any_go_commit_from_the_mirror() {
    let p = fake_project(&[("a", "master")], 109, 0);
    let go = p.path().join("go");
    let master = git(&go, &["rev-parse", "master"], "2026-03-04T00:00:00Z");
    git(&go, &["checkout", "-q", "-b", "next"], "2026-03-04T00:00:00Z");
    write(&go.join("src/fake/speed"), "110\n");
    let next = commit_all(&go, "strconv: slower", "2026-03-04T00:00:00Z");
    git(&go, &["checkout", "-q", "master"], "2026-03-04T00:00:00Z");

    let paths = xtask::paths::Paths { cache: p.cache.clone().unwrap(), ..xtask::paths::Paths::new(Some(&p.config())).unwrap() };
    let config = paths.load_config().unwrap();
    let sh = xtask::podman::shell().unwrap();
    let cancel = xtask::cancel::Cancel::new();
    let (locked, image, id) = xtask::pipeline::toolchain_for_sha(&sh, &paths, &config, "go", &next, &cancel).unwrap();
    assert_eq!(locked.sha, next);
    assert!(locked.devel.as_deref().unwrap().starts_with("go1.28-devel_"), "{locked:?}");
    assert_eq!(crate::support::image_id(&image.tag).as_deref(), Some(id.as_str()));
    assert!(paths.containerfiles.join(format!("{}.Containerfile", image.hash)).exists());
    let (_, again, id2) = xtask::pipeline::toolchain_for_sha(&sh, &paths, &config, "go", &next[..12], &cancel).unwrap();
    assert_eq!((again.hash, id2), (image.hash.clone(), id), "a short SHA names the same image, which is not rebuilt");
    assert!(!std::fs::read_to_string(p.path().join("toolchains.toml")).unwrap().contains(&next), "the pins are not edited");

    let mirror = xtask::git::mirror_path(&paths.cache, &paths.source_location("go"));
    let commits = xtask::git::first_parent_commits(&sh, &mirror, &master, &next).unwrap();
    assert_eq!(commits.len(), 1);
    assert_eq!((commits[0].sha.as_str(), commits[0].subject.as_str()), (next.as_str(), "strconv: slower"));
    assert_eq!(commits[0].date, "2026-03-04T00:00:00Z");
    podman(&["rmi", &image.tag]);
}
