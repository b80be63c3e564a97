//! `cargo xtask bench` on a fake Go toolchain: real podman, real git, real
//! containers and sampling; only the toolchain is a stand-in (a make.bash
//! that takes seconds, see `support::fake_go_repo`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gobench_core::schema::ResultDoc;

use crate::support::{fake_project, git, gobench_containers};

fn result_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for inv in std::fs::read_dir(dir.join("results")).into_iter().flatten() {
        for f in std::fs::read_dir(inv.unwrap().path()).unwrap() {
            out.push(f.unwrap().path());
        }
    }
    out.sort();
    out
}

#[test]
fn bench_commits_only_its_results_and_keeps_the_users_changes() {
    let p = fake_project(&[("a", "master")], 102, 0);
    git(p.path(), &["init", "-q"], "2026-01-01T00:00:00Z");
    std::fs::write(p.path().join("notes.txt"), "mine\n").unwrap();
    git(p.path(), &["add", "notes.txt"], "2026-01-01T00:00:00Z");
    std::fs::write(p.path().join("scratch.txt"), "untracked\n").unwrap();
    p.ok(&["bench", "--matrix", "--no-upload"]);
    let files = result_files(p.path());
    assert_eq!(files.len(), 1);
    let committed = git(p.path(), &["show", "--name-only", "--format=%s", "HEAD"], "2026-01-01T00:00:00Z");
    assert!(committed.starts_with("results: 1 cell(s)"), "{committed}");
    assert_eq!(committed.lines().filter(|l| l.starts_with("results/")).count(), 1, "{committed}");
    assert!(!committed.contains("notes.txt") && !committed.contains("toolchains"), "{committed}");
    let status = git(p.path(), &["status", "--porcelain"], "2026-01-01T00:00:00Z");
    assert!(
        status.contains("A  notes.txt") && status.contains("?? scratch.txt"),
        "the user's staged and untracked files stay as they were:\n{status}"
    );
    let doc: ResultDoc = serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    assert_eq!(doc.metrics["BenchmarkFake ns/op"].values, vec![102.0, 102.0]);
    assert_eq!(doc.results.rps, None);
}

#[test]
fn ctrl_c_removes_the_containers_keeps_and_commits_finished_runs() {
    let p = fake_project(&[("a", "master"), ("b", "master")], 103, 3);
    git(p.path(), &["init", "-q"], "2026-01-01T00:00:00Z");
    p.ok(&["build", "--matrix"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["--config", p.config().to_str().unwrap(), "bench", "--matrix", "--runs", "3", "--no-upload"])
        .env("GOBENCH_CACHE", p.cache.clone().unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first run has been written and the second is running.
    let deadline = Instant::now() + Duration::from_secs(120);
    while result_files(p.path()).is_empty() || gobench_containers().is_empty() {
        assert!(Instant::now() < deadline, "no run finished in time");
        std::thread::sleep(Duration::from_millis(200));
    }
    let sent = Instant::now();
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "an interrupted bench exits non-zero:\n{stderr}");
    assert!(sent.elapsed() < Duration::from_secs(20), "it stops promptly");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(gobench_containers().is_empty(), "containers left behind: {:?}", gobench_containers());
    let files = result_files(p.path());
    assert!(!files.is_empty());
    let log = git(p.path(), &["log", "--format=%s", "-1"], "2026-01-01T00:00:00Z");
    assert!(log.contains("(interrupted)"), "{log}");
    let finished: usize =
        files.iter().map(|f| serde_json::from_str::<ResultDoc>(&std::fs::read_to_string(f).unwrap()).unwrap().runs.len()).sum();
    assert!((1..6).contains(&finished), "finished runs are kept, the interrupted one is not: {finished}");
    assert_eq!(git(p.path(), &["status", "--porcelain", "results"], "2026-01-01T00:00:00Z").trim(), "", "every kept result is committed");
}

#[test]
fn bench_uploads_committed_results_exactly_once() {
    use crate::horreum::{Behavior, FakeHorreum};
    let behavior = Behavior { fail_first: 1, ..Behavior::default() };
    let key = behavior.key.clone();
    let server = FakeHorreum::start(behavior);
    let p = fake_project(&[("a", "master")], 104, 0);
    p.edit_config(|t| {
        t + &format!("[upload]\nurl = \"{}\"\ntest = \"gobench-etcd\"\nowner = \"perf-team\"\naccess = \"PUBLIC\"\n", server.url)
    });
    git(p.path(), &["init", "-q"], "2026-01-01T00:00:00Z");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("--config")
            .arg(p.config())
            .args(args)
            .env("GOBENCH_CACHE", p.cache.clone().unwrap())
            .env("HORREUM_API_KEY", &key)
            .output()
            .unwrap();
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{args:?}:\n{all}");
        assert!(!all.contains(&key), "the API key leaked into the output");
        all
    };
    // The first upload attempt gets a 503 and is retried within the call.
    run(&["bench", "--matrix"]);
    assert_eq!(server.runs().len(), 1);
    let body: ResultDoc = serde_json::from_slice(&server.runs()[0].body).unwrap();
    assert_eq!(body.cell, "a/go-std/fake");
    let log = git(p.path(), &["log", "--format=%s"], "2026-01-01T00:00:00Z");
    assert_eq!(log.lines().count(), 2, "a commit for the results, one for the ledger:\n{log}");
    // Nothing is posted twice.
    run(&["upload", "--all-pending"]);
    assert_eq!(server.runs().len(), 1);
}

/// Two cells that differ only in the Go ref run as pairs in the order of the
/// recorded seed (balanced, shuffled, visible in the run times); identical
/// toolchains make every paired metric SAME after the first round, and the
/// documents say so.
#[test]
fn until_decided_pairs_in_a_recorded_balanced_order_and_stops_when_decided() {
    use gobench_core::stats::{pair_order, First, StopReason, FIRST_ROUND};
    let p = fake_project(&[("a", "master"), ("b", "master")], 107, 0);
    git(p.path(), &["init", "-q"], "2026-01-01T00:00:00Z");
    p.ok(&["bench", "--matrix", "--until-decided", "--max-runs", "40", "--pair-seed", "7", "--no-upload"]);
    let docs: Vec<ResultDoc> =
        result_files(p.path()).iter().map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap()).collect();
    assert_eq!(docs.len(), 2);
    let (a, b) = if docs[0].pairing.as_ref().unwrap().side == First::A { (&docs[0], &docs[1]) } else { (&docs[1], &docs[0]) };
    let pa = a.pairing.as_ref().unwrap();
    assert_eq!((pa.seed, pa.with.as_str()), (7, b.cell.as_str()));
    assert_eq!(pa.order, pair_order(FIRST_ROUND, 7), "round 0 is ordered by the seed");
    assert_eq!(pa.order.iter().filter(|&&f| f == First::A).count(), FIRST_ROUND / 2, "balanced");
    assert_eq!(b.pairing.as_ref().unwrap().order, pa.order);
    assert_eq!(a.runs.len(), FIRST_ROUND);
    for (i, first) in pa.order.iter().enumerate() {
        let a_first = a.runs[i].started < b.runs[i].started;
        assert_eq!(a_first, *first == First::A, "pair {i} ran in its recorded order");
    }
    let stopped = pa.stopped.as_ref().expect("the documents say why the runs stopped");
    assert_eq!(stopped.reason, StopReason::Decided);
    assert!(stopped.decisions.values().all(|d| *d == gobench_core::stats::Decision::Same), "{:?}", stopped.decisions);
    assert!(!stopped.decisions.is_empty());
}
