//! `cargo xtask bisect` on a fake Go history: real git, podman, builds and
//! runs; the toolchain is the fake one of `support`, whose benchmark prints
//! the ns/op of its commit with noise drawn at run time.

use std::path::Path;
use std::process::Command;

use gobench_core::bisect::log::{parse, BisectLog};

use crate::support::{fake_go_history, fake_project, git, gobench_containers, Project};

fn log_of(p: &Project) -> (std::path::PathBuf, BisectLog) {
    let dir = p.path().join("results/bisect");
    let logs: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path().join("log.json")).collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let log = parse(&std::fs::read_to_string(&logs[0]).unwrap()).unwrap();
    (logs[0].clone(), log)
}

/// Images this project's cache built.
fn builds(p: &Project) -> usize {
    let dir = p.path().join(".cache/builds");
    std::fs::read_dir(dir).map_or(0, |d| d.filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "log")).count())
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Ten commits, the seventh 10% slower, 3% noise (uniform +-5%) per run.
/// A bisect stopped after two steps resumes from its log without measuring
/// those again, and names the seventh commit; `--run` then judges single
/// commits against the recorded ends, as `git bisect run` wants.
#[test]
fn bisect_finds_the_slower_commit_resumes_from_its_log_and_judges_commits_for_git_bisect_run() {
    let p = fake_project(&[("tip", "master")], 131, 0);
    let go = p.path().join("go");
    let speeds: Vec<u32> = (0..10).map(|i| if i < 6 { 1000 } else { 1100 }).collect();
    let shas = fake_go_history(&go, &speeds, 5);
    let common = ["bisect", "--good", &shas[0], "--bad", &shas[9], "--bench", "fake", "--runs", "6", "--max-runs", "18"];

    let first = p.xtask(&[&common[..], &["--max-steps", "2"]].concat());
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stderr(&first).contains("stopped after 2 step(s)"), "{}", stderr(&first));
    let (log_path, stopped) = log_of(&p);
    assert_eq!(stopped.candidates.len(), 10);
    assert_eq!(stopped.steps.len(), 3, "the ends (one step) and one probe: {:?}", stopped.history());
    assert!(stopped.ends.as_ref().unwrap().confirmed);
    assert!(p.path().join("results/bisect").join(log_path.parent().unwrap().file_name().unwrap()).join("index.html").exists());

    let second = p.xtask(&common);
    let err = stderr(&second);
    assert!(second.status.success(), "{err}");
    assert!(err.contains("resuming") && !err.contains("the good end"), "the ends are not measured again:\n{err}");
    for s in &stopped.steps {
        assert!(!err.contains(&format!("commit {} of 9,", s.index)), "commit {} measured again:\n{err}", s.index);
    }
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(stdout.starts_with(&format!("first bad commit: {}  fake: change 6, 1100 ns/op\n", shas[6])), "{stdout}\n{err}");
    assert!(stdout.contains("author: Gopher <gopher@example.com>") && stdout.contains("date:   2026-04-07T00:00:00Z"), "{stdout}");
    let (_, done) = log_of(&p);
    assert_eq!(done.steps[..3], stopped.steps[..], "the first steps and their samples are kept as they were");
    let measured: std::collections::BTreeSet<usize> = done.steps.iter().map(|s| s.index).collect();
    assert!(measured.len() <= 4 + 2, "at most ceil(log2 10) + 2 commits: {:?}", done.history());
    // At most a toolchain and a go-std image per measured commit (fewer when
    // an earlier test run left the images: they are found by hash).
    assert!(builds(&p) <= 2 * measured.len(), "{:?}", done.history());
    let page = std::fs::read_to_string(log_path.with_file_name("index.html")).unwrap();
    assert!(page.contains(&shas[6]) && page.contains(">found<") && page.contains("<svg"), "{page}");

    // `--run`: a commit before the change is good, one after it bad; one
    // that does not build is skipped; HEAD of the current directory's
    // repository is measured when no --commit is given.
    let run = |args: &[&str], dir: &Path| {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["--config", p.config().to_str().unwrap(), "bisect", "--run"])
            .args(args)
            .current_dir(dir)
            .env("GOBENCH_CACHE", p.cache.clone().unwrap())
            .output()
            .unwrap()
    };
    for (commit, code) in [(shas[1].as_str(), 0), (shas[8].as_str(), 1), ("broken", 125)] {
        let out = run(&["--commit", commit], p.path());
        assert_eq!(out.status.code(), Some(code), "{commit}: {}", stderr(&out));
    }
    git(&go, &["checkout", "-q", &shas[3]], "2026-05-01T00:00:00Z");
    let out = run(&[], &go);
    assert_eq!(out.status.code(), Some(0), "HEAD {}: {}", shas[3], stderr(&out));
    assert!(stderr(&out).contains(&shas[3][..12]), "{}", stderr(&out));
    let out = run(&["--log", "/nonexistent/log.json"], p.path());
    assert_eq!(out.status.code(), Some(128), "an error stops git bisect run: {}", stderr(&out));
    assert!(gobench_containers().is_empty(), "containers left behind: {:?}", gobench_containers());
}

/// Ends whose difference is not a slowdown stop the bisect before any
/// search: bad is faster than good here (no noise, so the answer is sure).
#[test]
fn ends_that_are_not_worse_exit_1_with_the_numbers_and_no_search() {
    let p = fake_project(&[("tip", "master")], 132, 0);
    let shas = fake_go_history(&p.path().join("go"), &[1000, 1000, 1000, 900], 0);
    let out = p.xtask(&["bisect", "--good", &shas[0], "--bad", &shas[3], "--bench", "fake", "--runs", "6", "--max-runs", "6"]);
    let (stdout, err) = (String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{stdout}{err}");
    assert!(stdout.contains("not significantly different in the bad direction"), "{stdout}");
    assert!(stdout.contains("median 1k") && stdout.contains("median 900"), "{stdout}");
    assert!(stdout.contains("6 pairs, bad/good median ratio 0.9000") && stdout.contains("swap --good and --bad"), "{stdout}");
    assert!(!err.contains("step 2"), "no search: {err}");
    assert!(!p.path().join("results/bisect").read_dir().unwrap().any(|d| d.unwrap().path().join("log.json").exists()));
    assert!(builds(&p) <= 4, "only the ends were built");
    assert!(gobench_containers().is_empty(), "containers left behind: {:?}", gobench_containers());
}
