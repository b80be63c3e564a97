//! `cargo xtask serve` driven on loopback: the real binary against a temp
//! project, signed GitHub deliveries, a fake GitHub API in the test, and the
//! runner seam's test double (`GOBENCH_SERVE_TEST_RUNNER`) in place of the
//! measuring pipeline.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gobench_core::webhook::sign;
use serde_json::{json, Value};

use crate::support::{workspace, Project};

const SECRET: &str = "It's a Secret to Everybody";
const TOKEN: &str = "ghp_test_token_never_logged";
const MASTER: &str = "1111111111111111111111111111111111111111";
/// The test double makes a candidate starting with `b` slower: a regression.
const SLOW_HEAD: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const BASE: &str = "2222222222222222222222222222222222222222";

/// One request the fake GitHub API received.
#[derive(Debug, Clone)]
struct Call {
    path: String,
    auth: String,
    body: Value,
}

/// A GitHub REST API stand-in: records every POST, answers 201, or 502 for
/// the first `fail_first` requests.
struct FakeGitHub {
    url: String,
    calls: Arc<Mutex<Vec<Call>>>,
}

fn fake_github(fail_first: usize) -> FakeGitHub {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr());
    let calls = Arc::new(Mutex::new(Vec::new()));
    let recorded = calls.clone();
    std::thread::spawn(move || {
        let mut seen = 0;
        for mut request in server.incoming_requests() {
            let mut body = String::new();
            request.as_reader().read_to_string(&mut body).unwrap();
            seen += 1;
            if seen <= fail_first {
                request.respond(tiny_http::Response::from_string("try later").with_status_code(502)).unwrap();
                continue;
            }
            let auth = request.headers().iter().find(|h| h.field.equiv("Authorization")).map(|h| h.value.to_string()).unwrap_or_default();
            recorded.lock().unwrap().push(Call { path: request.url().to_string(), auth, body: serde_json::from_str(&body).unwrap() });
            request.respond(tiny_http::Response::from_string("{}").with_status_code(201)).unwrap();
        }
    });
    FakeGitHub { url, calls }
}

impl FakeGitHub {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Waits until `n` calls arrived.
    fn wait_for(&self, n: usize) -> Vec<Call> {
        let start = Instant::now();
        while self.calls().len() < n {
            assert!(start.elapsed() < Duration::from_secs(30), "the fake GitHub got only {:#?}", self.calls());
            std::thread::sleep(Duration::from_millis(100));
        }
        self.calls()
    }
}

/// A client that keeps its connections alive, as browsers do: the burst
/// test once showed a server (tiny_http) starve new connections behind idle ones.
fn client() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A project with a `[serve]` table and the server process, restartable.
pub(crate) struct Service {
    pub(crate) project: Project,
    port: u16,
    /// The test double's seconds per job; `None`: the measuring pipeline.
    runner_secs: Option<f64>,
    child: Option<Child>,
    log: PathBuf,
    runner_log: PathBuf,
    http: reqwest::blocking::Client,
}

impl Service {
    fn new(api_url: &str, runner_secs: f64, max_attempts: u32) -> Service {
        let project = Project::shipped();
        let port = free_port();
        project.edit_config(|t| {
            t + &format!(
                "\n[serve]\nrepository = \"etcd-io/etcd\"\nrole = \"workload\"\nbenchmark = \"put\"\nlisten = \"127.0.0.1:{port}\"\n\
                 api_url = \"{api_url}\"\nmax_attempts = {max_attempts}\n"
            )
        });
        Service::on(project, port, Some(runner_secs))
    }

    /// A service on `project`, whose config already has a `[serve]` table
    /// listening on `port`.
    pub(crate) fn on(project: Project, port: u16, runner_secs: Option<f64>) -> Service {
        let log = project.path().join("serve.log");
        let runner_log = project.path().join("runner.log");
        Service { project, port, runner_secs, child: None, log, runner_log, http: client() }
    }

    /// The server's process ID while it runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
        c.arg("--config").arg(self.project.config()).args(args).env("GOBENCH_CACHE", self.project.path().join(".cache"));
        c
    }

    pub(crate) fn start(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let mut command = self.command(&["serve"]);
        command.env("GOBENCH_WEBHOOK_SECRET", SECRET).env("GITHUB_TOKEN", TOKEN);
        if let Some(secs) = self.runner_secs {
            command.env("GOBENCH_SERVE_TEST_RUNNER", secs.to_string()).env("GOBENCH_SERVE_TEST_RUNNER_LOG", &self.runner_log);
        }
        let child = command.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap();
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if let Ok(r) = self.http.get(self.url("/healthz")).send() {
                assert_eq!(r.status(), 200);
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "serve did not come up:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL: no cleanup, no chance to update the queue.
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn runner_log(&self) -> Vec<String> {
        std::fs::read_to_string(&self.runner_log).unwrap_or_default().lines().map(String::from).collect()
    }

    /// POSTs a delivery; `signature: None` sends none.
    fn post(&self, event: &str, delivery: &str, body: &[u8], signature: Option<String>) -> (u16, String) {
        let mut r = self
            .http
            .post(self.url("/webhook"))
            .header("X-GitHub-Event", event)
            .header("X-GitHub-Delivery", delivery)
            .header("Content-Type", "application/json")
            .body(body.to_vec());
        if let Some(s) = signature {
            r = r.header("X-Hub-Signature-256", s);
        }
        let r = r.send().unwrap_or_else(|e| panic!("POST /webhook ({event}, {delivery}): {e}\nserver log:\n{}", self.log()));
        (r.status().as_u16(), r.text().unwrap())
    }

    /// Declares a body over 25 MB and sends none of it: the answer must come
    /// from the headers alone.
    fn status_of_oversized_post(&self) -> u16 {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let head = format!(
            "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nX-GitHub-Event: push\r\nX-GitHub-Delivery: d-huge\r\n\
             X-Hub-Signature-256: sha256=00\r\nContent-Length: {}\r\n\r\n",
            25 * 1024 * 1024 + 1
        );
        c.write_all(head.as_bytes()).unwrap();
        let mut answer = [0u8; 12];
        c.read_exact(&mut answer).unwrap();
        String::from_utf8_lossy(&answer[9..12]).parse().unwrap()
    }

    pub(crate) fn deliver(&self, event: &str, delivery: &str, body: &Value) -> (u16, String) {
        let body = body.to_string();
        self.post(event, delivery, body.as_bytes(), Some(sign(SECRET.as_bytes(), body.as_bytes())))
    }

    pub(crate) fn get(&self, path: &str) -> (u16, String) {
        let r = self.http.get(self.url(path)).send().unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }

    pub(crate) fn cli(&self, args: &[&str]) -> String {
        let out = self.command(args).output().unwrap();
        assert!(out.status.success(), "xtask {args:?}:\n{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    pub(crate) fn jobs(&self) -> Vec<Value> {
        serde_json::from_str(&self.cli(&["job", "list", "--json"])).unwrap()
    }

    pub(crate) fn job(&self, id: u64) -> Value {
        serde_json::from_str(&self.cli(&["job", "show", &id.to_string(), "--json"])).unwrap()
    }

    pub(crate) fn wait_state(&self, id: u64, state: &str) -> Value {
        self.wait_state_for(id, state, Duration::from_secs(60))
    }

    pub(crate) fn wait_state_for(&self, id: u64, state: &str, limit: Duration) -> Value {
        let start = Instant::now();
        loop {
            let job = self.job(id);
            if job["state"] == state {
                return job;
            }
            assert!(start.elapsed() < limit, "job {id} is not {state}: {job:#}\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

fn push(after: &str) -> Value {
    json!({
        "ref": "refs/heads/main", "before": BASE, "after": after, "deleted": false,
        "repository": {"full_name": "etcd-io/etcd", "default_branch": "main"},
        "head_commit": {"message": "server: apply faster"},
    })
}

const EVIL_TITLE: &str = "<script>document.body.setAttribute('data-pwned','1')</script> raft: batch";

fn pull_request(head: &str) -> Value {
    json!({
        "action": "opened", "number": 42,
        "pull_request": {"title": EVIL_TITLE, "head": {"sha": head}, "base": {"sha": BASE}},
        "repository": {"full_name": "etcd-io/etcd"},
    })
}

fn comment(association: &str) -> Value {
    json!({
        "action": "created", "issue": {"number": 42, "pull_request": {"url": "x"}},
        "comment": {"body": "/gobench rerun", "author_association": association},
        "repository": {"full_name": "etcd-io/etcd"},
    })
}

#[test]
fn serve_queues_signed_deliveries_measures_against_master_and_reports_back() {
    // The first two GitHub calls fail: the reporter retries with backoff.
    let github = fake_github(2);
    let mut s = Service::new(&github.url, 0.5, 3);
    s.start();

    assert_eq!(s.deliver("ping", "d-ping", &json!({"zen": "Design for failure."})).0, 200);

    // Forged, unsigned and differently keyed deliveries: 401, logged by event and id only.
    let body = push(MASTER).to_string().replace("apply faster", "MARKER-IN-BODY");
    assert_eq!(s.post("push", "d-unsigned", body.as_bytes(), None).0, 401);
    assert_eq!(s.post("push", "d-forged", body.as_bytes(), Some(sign(b"guess", body.as_bytes()))).0, 401);
    let mut tampered = sign(SECRET.as_bytes(), body.as_bytes());
    tampered.replace_range(10..11, if &tampered[10..11] == "0" { "1" } else { "0" });
    assert_eq!(s.post("push", "d-tampered", body.as_bytes(), Some(tampered)).0, 401);

    // Malformed JSON, an unknown event, an oversized body.
    let bad = b"{\"ref\": ";
    assert_eq!(s.post("push", "d-bad", bad, Some(sign(SECRET.as_bytes(), bad))).0, 400);
    assert_eq!(s.deliver("star", "d-star", &json!({"action": "created"})).0, 200);
    assert_eq!(s.status_of_oversized_post(), 413);
    assert!(s.jobs().is_empty(), "no job from the rejected deliveries: {:#?}", s.jobs());

    // A push to the default branch: a new-master job; its redelivery is ignored.
    let (status, text) = s.deliver("push", "d-push", &push(MASTER));
    assert_eq!((status, text.as_str()), (202, "queued job 1\n"));
    let (status, text) = s.deliver("push", "d-push", &push(MASTER));
    assert_eq!((status, text.as_str()), (200, "duplicate delivery, ignored\n"));
    let master = s.wait_state(1, "done");
    assert_eq!((master["spec"]["kind"].as_str(), master["attempts"].as_u64()), (Some("new-master"), Some(1)));

    // A PR: a test job, measured against the master set's commit.
    let (status, text) = s.deliver("pull_request", "d-pr", &pull_request(SLOW_HEAD));
    assert_eq!((status, text.as_str()), (202, "queued job 2\n"));
    let test = s.wait_state(2, "done");
    assert_eq!(test["spec"]["kind"], "test");
    assert_eq!(test["comparison"]["rows"][0]["verdict"], "regression");
    assert_eq!(s.runner_log(), [format!("job 1 {MASTER} against nothing"), format!("job 2 {SLOW_HEAD} against {MASTER}")]);

    // A rerun comment from a non-collaborator makes no job; from a member it does.
    for (i, who) in ["NONE", "CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR"].iter().enumerate() {
        let (status, text) = s.deliver("issue_comment", &format!("d-c{i}"), &comment(who));
        assert_eq!(status, 200, "{text}");
        assert!(text.starts_with("ignored: a rerun needs an owner, member or collaborator"), "{text}");
    }
    assert_eq!(s.jobs().len(), 2);
    assert_eq!(s.deliver("issue_comment", "d-member", &comment("MEMBER")), (202, "queued job 3\n".to_string()));
    let rerun = s.wait_state(3, "done");
    assert_eq!((rerun["source"].as_str(), rerun["spec"]["sha"].as_str()), (Some("rerun of #2"), Some(SLOW_HEAD)));

    // GitHub got, per job: pending, then the final status; the PR jobs a comment.
    let calls = github.wait_for(8);
    let target = |id: u64| s.url(&format!("/jobs/{id}"));
    let status_calls: Vec<(&str, &str, &str)> = calls
        .iter()
        .filter(|c| c.path.contains("/statuses/"))
        .map(|c| (c.path.as_str(), c.body["state"].as_str().unwrap(), c.body["target_url"].as_str().unwrap()))
        .collect();
    let (m, h) = (format!("/repos/etcd-io/etcd/statuses/{MASTER}"), format!("/repos/etcd-io/etcd/statuses/{SLOW_HEAD}"));
    let (t1, t2, t3) = (target(1), target(2), target(3));
    for want in [
        (m.as_str(), "pending", t1.as_str()),
        (m.as_str(), "success", t1.as_str()),
        (h.as_str(), "pending", t2.as_str()),
        (h.as_str(), "failure", t2.as_str()),
        (h.as_str(), "pending", t3.as_str()),
        (h.as_str(), "failure", t3.as_str()),
    ] {
        assert!(status_calls.contains(&want), "no {want:?} in {status_calls:#?}");
    }
    for c in &calls {
        assert_eq!(c.auth, format!("Bearer {TOKEN}"));
        if c.path.contains("/statuses/") {
            assert_eq!(c.body["context"], "gobench/put");
            assert!(c.body["description"].as_str().unwrap().len() <= 140);
        }
    }
    let comments: Vec<&Call> = calls.iter().filter(|c| c.path == "/repos/etcd-io/etcd/issues/42/comments").collect();
    assert_eq!(comments.len(), 2, "{calls:#?}");
    let body = comments[0].body["body"].as_str().unwrap();
    assert!(body.contains("| cell | metric | baseline | candidate | delta | p | paired ratio | verdict |"), "{body}");
    assert!(body.contains("| go-std/put | sec/op |"), "{body}");
    assert!(body.contains("| regression |") && body.contains("\\<script\\>"), "{body}");
    assert!(s.log().contains("retrying in"), "the failed calls were retried:\n{}", s.log());

    // The page: the comparison, with the PR title as text.
    let (status, page) = s.get("/jobs/2");
    assert_eq!(status, 200);
    assert!(page.contains("&lt;script&gt;") && !page.contains("<script>"), "{page}");
    let dom = String::from_utf8(crate::analysis::chromium(&["--dump-dom", &s.url("/jobs/2")]).stdout).unwrap();
    assert!(!dom.contains("data-pwned=\"1\"") && !dom.contains("<script>"), "the title ran as a script:\n{dom}");
    assert!(dom.contains("&lt;script&gt;document.body.setAttribute"), "{dom}");
    assert!(dom.contains("id=\"comparison\"") && dom.contains("regression"), "{dom}");
    let (status, index) = s.get("/");
    assert_eq!(status, 200);
    assert!(index.contains("href=\"/jobs/3\"") && index.contains("new-master") && index.contains("regression"), "{index}");
    assert_eq!(s.get("/jobs/99").0, 404);
    crate::support::write(&s.project.path().join("results/serve/job-2.json"), "{\"ok\": true}");
    // minijinja escapes `/` too; a browser reads the entity back.
    assert!(page.contains("href=\"/files/results&#x2f;serve&#x2f;job-2.json\""), "{page}");
    assert_eq!(s.get("/files/results/serve/job-2.json"), (200, "{\"ok\": true}".to_string()));
    for outside in ["/files/toolchains.toml", "/files/results/../toolchains.toml", "/files/results/%2e%2e/toolchains.toml"] {
        assert_eq!(s.get(outside).0, 404, "{outside}");
    }

    // What the log may and may not hold.
    let log = s.log();
    assert!(log.contains("delivery \"d-forged\" (\"push\") rejected"), "{log}");
    for secret in [SECRET, TOKEN, "MARKER-IN-BODY"] {
        assert!(!log.contains(secret), "the log holds {secret:?}:\n{log}");
    }
}

#[test]
fn a_server_killed_while_a_job_runs_requeues_it_and_completes_it() {
    let github = fake_github(0);
    let mut s = Service::new(&github.url, 3.0, 2);
    let first = "c".repeat(40);
    let second = "e".repeat(40);
    assert_eq!(s.cli(&["job", "submit", "--go", &first]), "queued job 1\n");
    assert_eq!(s.cli(&["job", "submit", "--go", &second]), "queued job 2\n");

    s.start();
    s.wait_state(1, "running");
    s.kill();
    let job = s.job(1);
    assert_eq!((job["state"].as_str(), job["attempts"].as_u64()), (Some("running"), Some(1)), "the killed server left it running");

    s.start();
    let job = s.wait_state(1, "done");
    assert_eq!(job["attempts"], 2, "{job:#}");
    assert!(s.log().contains("job 1 was running when the server stopped: now queued"), "{}", s.log());
    // The queued job was kept, and ran after it.
    assert_eq!(s.wait_state(2, "done")["attempts"], 1);
    let runs: Vec<String> = s.runner_log().into_iter().filter(|l| l.starts_with("job 1 ")).collect();
    assert_eq!(runs.len(), 2, "{runs:?}");

    // Killed on every attempt: failed after max_attempts, with the reason.
    assert_eq!(s.cli(&["job", "rerun", "2"]), "queued job 3 (rerun of 2)\n");
    s.wait_state(3, "running");
    s.kill();
    s.start();
    s.wait_state(3, "running");
    s.kill();
    s.start();
    let job = s.wait_state(3, "failed");
    assert!(job["reason"].as_str().unwrap().contains("2 of 2 attempts"), "{job:#}");

    // Cancelled while it runs: the worker stops it and its outcome is not stored.
    assert_eq!(s.cli(&["job", "submit", "--go", &first]), "queued job 4\n");
    s.wait_state(4, "running");
    assert_eq!(s.cli(&["job", "cancel", "4"]), "cancelled job 4\n");
    let start = Instant::now();
    while !s.log().contains("job 4 ended, but its outcome is not stored") {
        assert!(start.elapsed() < Duration::from_secs(10), "{}", s.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let job = s.job(4);
    assert_eq!((job["state"].as_str(), job["comparison"].is_null()), (Some("cancelled"), true));
    assert!(github.calls().is_empty(), "CLI jobs report to no repository");
}

#[test]
fn job_cli_submits_cancels_and_reruns_without_a_server() {
    let s = Service::new("http://127.0.0.1:9", 0.0, 3);
    let master = crate::support::git(&s.project.path().join("go"), &["rev-parse", "master"], "2026-01-01T00:00:00Z");
    assert_eq!(s.cli(&["job", "submit", "--go", "master", "--baseline", "go1.27.3"]), "queued job 1\n");
    let job = s.job(1);
    assert_eq!(job["spec"]["sha"].as_str(), Some(master.as_str()), "the ref is resolved in the Go mirror");
    assert_eq!(job["spec"]["baseline"].as_str().map(str::len), Some(40));
    assert_eq!(s.cli(&["job", "cancel", "1"]), "cancelled job 1\n");
    let out = s.command(&["job", "cancel", "1"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("job 1 is cancelled; only a queued or running job can be cancelled"));
    assert_eq!(s.cli(&["job", "rerun", "1"]), "queued job 2 (rerun of 1)\n");
    let list = s.cli(&["job", "list"]);
    assert!(list.contains("    2  queued") && list.contains("    1  cancelled"), "{list}");
    let out = s.command(&["job", "submit", "--go", "no-such-branch"]).output().unwrap();
    assert!(!out.status.success() && s.jobs().len() == 2);

    // Without a secret the server does not start; without a [serve] table it says what to add.
    let out = s.command(&["serve"]).env_remove("GOBENCH_WEBHOOK_SECRET").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no webhook secret: set $GOBENCH_WEBHOOK_SECRET"), "{out:?}");
    s.project.edit_config(|t| t[..t.find("\n[serve]").unwrap()].to_string());
    let out = s.command(&["serve"]).env("GOBENCH_WEBHOOK_SECRET", SECRET).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no [serve] table; add one"), "{out:?}");
}

/// The webhook's answer time under a burst of 100 signed deliveries from
/// 10 clients at once (printed; run with `--nocapture` to see it).
#[test]
fn a_burst_of_100_deliveries_is_answered_well_within_githubs_10_seconds() {
    let github = fake_github(0);
    let mut s = Service::new(&github.url, 0.0, 3);
    s.start();
    let s = Arc::new(s);
    let started = Instant::now();
    let threads: Vec<_> = (0..10)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                (0..10)
                    .map(|i| {
                        let mut pr = pull_request(&format!("{:040x}", t * 10 + i + 1));
                        pr["number"] = json!(100 + t * 10 + i);
                        let sent = Instant::now();
                        let (status, _) = s.deliver("pull_request", &format!("burst-{t}-{i}"), &pr);
                        assert_eq!(status, 202);
                        sent.elapsed()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut times: Vec<Duration> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let total = started.elapsed();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "burst of 100 deliveries: median {:.1} ms, p90 {:.1} ms, max {:.1} ms, all answered in {:.0} ms",
        ms(times[49]),
        ms(times[89]),
        ms(times[99]),
        ms(total)
    );
    assert_eq!(s.jobs().len(), 100);
    assert!(times[99] < Duration::from_secs(10), "slowest answer {:?}", times[99]);
}

#[test]
fn systemd_units_verify() {
    let found = Command::new("systemd-analyze").arg("--version").output();
    assert!(found.is_ok_and(|o| o.status.success()), "this test needs systemd-analyze: `apt-get install -y systemd`");
    let dir = tempfile::tempdir().unwrap();
    let xtask = env!("CARGO_BIN_EXE_xtask");
    for unit in ["gobench-serve.service", "gobench-bench.service", "gobench-bench.timer"] {
        // The units name an install under /opt/gobench; verify points them at this checkout.
        let text = std::fs::read_to_string(workspace().join("scripts").join(unit)).unwrap();
        let text = text.replace("/opt/gobench/target/release/xtask", xtask).replace("/opt/gobench", &workspace().display().to_string());
        std::fs::write(dir.path().join(unit), text).unwrap();
    }
    let units: Vec<PathBuf> =
        ["gobench-serve.service", "gobench-bench.service", "gobench-bench.timer"].iter().map(|u| dir.path().join(u)).collect();
    let out = Command::new("systemd-analyze").arg("verify").args(&units).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Lines about the host's own units are not ours to fix.
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("gobench")).collect();
    assert!(out.status.success() && ours.is_empty(), "systemd-analyze verify:\n{stderr}");
}

/// The queue's schema and the job document are contracts (version 1): a
/// change to either shows up here, and needs a new version and a migration.
#[test]
fn queue_schema_and_job_document_are_versioned_contracts() {
    let s = Service::new("http://127.0.0.1:9", 0.0, 3);
    let sha = "d".repeat(40);
    assert_eq!(s.cli(&["job", "submit", "--go", &sha]), "queued job 1\n");
    let conn = rusqlite::Connection::open(s.project.path().join(".cache/serve/queue.sqlite")).unwrap();
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    let mut stmt = conn.prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name").unwrap();
    let sql: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    crate::support::golden("serve-queue-schema.sql", &format!("PRAGMA user_version = {version};\n{};\n", sql.join(";\n")));
    let mut job = s.job(1);
    assert!(job["created"].as_str().unwrap().ends_with('Z'));
    job["created"] = json!("<redacted>");
    crate::support::golden("serve-job.json", &(serde_json::to_string_pretty(&job).unwrap() + "\n"));
}
