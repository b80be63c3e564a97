//! `cargo xtask serve` with the measuring pipeline, not the test double:
//! real podman jobs on the fake Go toolchain (its make.bash takes seconds).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::serve::{free_port, Service};
use crate::support::{commit_all, fake_project, git, podman, write, Project};

const JOB_LIMIT: Duration = Duration::from_secs(600);

/// A git-tracked fake project serving golang/go (role `go`) with `runs`
/// runs per side of the fake benchmark, each sleeping `sleep_secs`.
fn measuring_service(speed: u32, sleep_secs: u32, runs: u32) -> Service {
    let project: Project = fake_project(&[("master", "master")], speed, sleep_secs);
    let port = free_port();
    project.edit_config(|t| {
        t.replace("runs = 2\n", &format!("runs = {runs}\n"))
            + &format!(
                "\n[serve]\nrepository = \"golang/go\"\nrole = \"go\"\nbenchmark = \"fake\"\nlisten = \"127.0.0.1:{port}\"\nmax_attempts = 3\n\
                 api_url = \"http://127.0.0.1:9\"\n"
            )
    });
    project.ok(&["lock"]);
    write(&project.path().join(".gitignore"), "/.cache/\n/go/\n*.log\n");
    git(project.path(), &["init", "-q"], "2026-04-01T00:00:00Z");
    commit_all(project.path(), "pins", "2026-04-01T00:00:00Z");
    Service::on(project, port, None)
}

fn go_sha(s: &Service, rev: &str) -> String {
    git(&s.project.path().join("go"), &["rev-parse", rev], "2026-04-01T00:00:00Z")
}

/// Run containers a process made, by the label `xtask` gives them.
fn run_containers(pid: u32) -> Vec<String> {
    let out = podman(&["ps", "--all", "--filter", &format!("label=io.gobench.run={pid}"), "--format", "{{.Names}}"]);
    String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect()
}

fn doc(s: &Service, file: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(s.project.path().join(file)).unwrap()).unwrap()
}

#[test]
fn serve_measures_a_new_master_then_a_pr_paired_against_the_cached_master_image() {
    let mut s = measuring_service(4100, 0, 5);
    let master = go_sha(&s, "master");
    // The PR's Go is twice as slow.
    let go = s.project.path().join("go");
    git(&go, &["checkout", "-q", "-b", "pr"], "2026-04-02T00:00:00Z");
    write(&go.join("src/fake/speed"), "8200\n");
    let head = commit_all(&go, "cmd/compile: slower", "2026-04-02T00:00:00Z");
    git(&go, &["checkout", "-q", "master"], "2026-04-02T00:00:00Z");
    s.start();

    let repo = json!({"full_name": "golang/go", "default_branch": "master"});
    let push = json!({"ref": "refs/heads/master", "before": "0".repeat(40), "after": master, "deleted": false,
        "repository": repo, "head_commit": {"message": "fake go"}});
    assert_eq!(s.deliver("push", "d-push", &push).0, 202, "{}", s.log());
    let job = s.wait_state_for(1, "done", JOB_LIMIT);
    assert_eq!(job["spec"]["kind"], "new-master");
    let cmp = &job["comparison"];
    let files: Vec<String> = cmp["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect();
    assert_eq!(files.len(), 1, "the first master set has no baseline: {cmp:#}");
    let master_doc = doc(&s, &files[0]);
    assert_eq!(master_doc["provenance"]["go"]["sha"], master.as_str());
    assert_eq!(master_doc["runs"].as_array().unwrap().len(), 5);
    let row = &cmp["rows"][0];
    assert_eq!((row["metric"].as_str(), row["candidate"]["median"].as_f64()), (Some("BenchmarkFake ns/op"), Some(4100.0)), "{cmp:#}");
    assert!(row["baseline"].is_null(), "{cmp:#}");
    let master_image = master_doc["provenance"]["image"]["id"].as_str().unwrap().to_string();

    let pr = json!({"action": "opened", "number": 7,
        "pull_request": {"title": "cmd/compile: slower", "head": {"sha": head}, "base": {"sha": master}},
        "repository": {"full_name": "golang/go"}});
    assert_eq!(s.deliver("pull_request", "d-pr", &pr).0, 202, "{}", s.log());
    let job = s.wait_state_for(2, "done", JOB_LIMIT);
    let cmp = &job["comparison"];
    let files: Vec<String> = cmp["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect();
    assert_eq!(files.len(), 2, "{cmp:#}");
    let dir = |f: &str| f.rsplit_once('/').unwrap().0.to_string();
    assert_eq!(dir(&files[0]), dir(&files[1]), "both sides are measured in one invocation: paired");
    let (base, cand) = (doc(&s, &files[0]), doc(&s, &files[1]));
    assert_eq!(base["provenance"]["go"]["sha"], master.as_str());
    assert_eq!(cand["provenance"]["go"]["sha"], head.as_str());
    assert_eq!(base["provenance"]["image"]["id"], master_image.as_str(), "the master image is reused, not rebuilt");
    assert!(s.log().contains("is already built"), "{}", s.log());
    // Paired: repetition i of both sides runs before repetition i + 1 of
    // either, in a balanced order (both sides go first in some pairs).
    let started = |d: &Value, i: usize| d["runs"][i]["started"].as_str().unwrap().to_string();
    let mut base_first = 0;
    for i in 0..5 {
        base_first += usize::from(started(&base, i) < started(&cand, i));
        if i > 0 {
            let last = started(&base, i - 1).max(started(&cand, i - 1));
            assert!(last < started(&base, i).min(started(&cand, i)), "run {i} is not interleaved");
        }
    }
    assert!((2..=3).contains(&base_first), "a balanced order of 5 pairs: {base_first} baseline-first");
    let row = &cmp["rows"][0];
    assert_eq!(row["verdict"], "regression", "{cmp:#}");
    assert!((row["delta_pct"].as_f64().unwrap() - 100.0).abs() < 1e-6, "{cmp:#}");
    // The paired comparison is there for `compare` too.
    let out = s.project.ok(&["compare", &files[0], &files[1]]);
    assert!(out.contains("paired"), "{out}");
    // Committed like bench results.
    let log = git(s.project.path(), &["log", "--format=%s"], "2026-04-03T00:00:00Z");
    assert!(log.contains("results: serve job 2 (go ") && log.contains("results: serve job 1 (go "), "{log}");
    // The job page shows the stored master numbers.
    let (status, page) = s.get("/jobs/2");
    assert_eq!(status, 200);
    assert!(page.contains("master set") && page.contains(&master[..12]), "{page}");
}

#[test]
fn a_server_killed_during_a_real_run_leaves_no_container_and_completes_the_job_after_restart() {
    let mut s = measuring_service(4300, 4, 2);
    s.start();
    assert_eq!(s.cli(&["job", "submit", "--go", "master"]), "queued job 1\n");
    let pid = s.pid().unwrap();
    let start = Instant::now();
    while run_containers(pid).is_empty() {
        assert!(start.elapsed() < JOB_LIMIT, "no run container appeared:\n{}", s.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    s.kill();
    assert!(!run_containers(pid).is_empty(), "the killed server's container is still there before the restart");
    s.start();
    let job = s.wait_state_for(1, "done", JOB_LIMIT);
    assert_eq!(job["attempts"], 2, "{job:#}");
    assert!(s.log().contains("removed container gobench-"), "{}", s.log());
    assert!(s.log().contains("job 1 was running when the server stopped: now queued"), "{}", s.log());
    assert_eq!(run_containers(pid), Vec::<String>::new());
}
