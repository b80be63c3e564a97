//! Test helpers: a fake Horreum upload endpoint on 127.0.0.1 and temporary git repositories.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the fake server behaves; changeable while it runs.
#[derive(Clone, Debug)]
pub struct Behavior {
    /// The only API key it accepts.
    pub key: String,
    /// Answer 503 to this many otherwise valid uploads first.
    pub fail_first: usize,
    /// Accept connections, read the request, never answer.
    pub hang: bool,
    /// Tests that exist; others get 400.
    pub tests: Vec<String>,
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior { key: "HUSR_test_key_0123456789".into(), fail_first: 0, hang: false, tests: vec!["gobench-etcd".into()] }
    }
}

#[derive(Clone, Debug)]
pub struct Run {
    pub id: u64,
    pub query: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

#[derive(Default)]
struct State {
    behavior: Behavior,
    requests: usize,
    runs: Vec<Run>,
    setup: Vec<(String, serde_json::Value)>,
}

/// A fake of Horreum's `POST /api/run/data`, following its documented contract: the key in
/// `X-Horreum-API-Key` (401 otherwise), `test`, `start`, `stop`, `owner`, `access` required
/// (400 otherwise), 202 with the new run id as text.
pub struct FakeHorreum {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl FakeHorreum {
    pub fn start(behavior: Behavior) -> FakeHorreum {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State { behavior, ..State::default() }));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || handle(stream, &state));
            }
        });
        FakeHorreum { url, state }
    }

    pub fn runs(&self) -> Vec<Run> {
        self.state.lock().unwrap().runs.clone()
    }

    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().requests
    }

    /// Setup calls: `METHOD path?query` and the JSON body of POSTs.
    pub fn setup_calls(&self) -> Vec<(String, serde_json::Value)> {
        self.state.lock().unwrap().setup.clone()
    }

    pub fn set(&self, f: impl FnOnce(&mut Behavior)) {
        f(&mut self.state.lock().unwrap().behavior)
    }
}

fn handle(mut stream: TcpStream, state: &Mutex<State>) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let Some(request) = read_request(&mut stream) else {
        return;
    };
    let (status, body) = respond(&request, state);
    if status == 0 {
        // Hang: hold the connection open without answering, then give up.
        std::thread::sleep(Duration::from_secs(30));
        return;
    }
    let reason = match status {
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        415 => "Unsupported Media Type",
        _ => "Service Unavailable",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).ok();
    stream.flush().ok();
}

pub struct Request {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    Some(Request { method, path: path.to_owned(), query, headers, body })
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Status 0 means "never answer".
fn respond(req: &Request, state: &Mutex<State>) -> (u16, String) {
    let mut st = state.lock().unwrap();
    st.requests += 1;
    if st.behavior.hang {
        return (0, String::new());
    }
    if req.headers.get("x-horreum-api-key") != Some(&st.behavior.key) {
        return (401, "Unauthorized: invalid API key".into());
    }
    if req.path != "/api/run/data" {
        return setup_route(req, &mut st);
    }
    if req.method != "POST" {
        return (404, "not found".into());
    }
    for p in ["test", "start", "stop", "owner", "access"] {
        if req.query.get(p).is_none_or(|v| v.is_empty()) {
            return (400, format!("Missing required parameter '{p}'"));
        }
    }
    if !["PUBLIC", "PROTECTED", "PRIVATE"].contains(&req.query["access"].as_str()) {
        return (400, "Invalid access".into());
    }
    if !req.query["owner"].ends_with("-team") {
        return (400, "Owner must be a team".into());
    }
    if !st.behavior.tests.contains(&req.query["test"]) {
        return (400, format!("Cannot find test '{}'", req.query["test"]));
    }
    if !req.headers.get("content-type").is_some_and(|c| c.starts_with("application/json")) {
        return (415, "expected application/json".into());
    }
    if serde_json::from_slice::<serde_json::Value>(&req.body).is_err() {
        return (400, "Cannot parse body as JSON".into());
    }
    if st.behavior.fail_first > 0 {
        st.behavior.fail_first -= 1;
        return (503, "Service Unavailable".into());
    }
    let id = 1000 + st.runs.len() as u64;
    st.runs.push(Run { id, query: req.query.clone(), body: req.body.clone() });
    (202, id.to_string())
}

/// The few schema/label/test/variable endpoints `horreum-setup --apply` uses: no schema yet
/// (id 7 once created), no labels, test `gobench-etcd` has id 42.
fn setup_route(req: &Request, st: &mut State) -> (u16, String) {
    let query: Vec<String> = req.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let call = format!("{} {}{}{}", req.method, req.path, if query.is_empty() { "" } else { "?" }, query.join("&"));
    let body = serde_json::from_slice(&req.body).unwrap_or(serde_json::Value::Null);
    st.setup.push((call.clone(), body));
    match call.as_str() {
        "GET /api/schema/idByUri/urn%3Agobench%3Aresult%3A1" | "GET /api/schema/idByUri/urn:gobench:result:1" => (404, "".into()),
        "POST /api/schema" => (200, "7".into()),
        "GET /api/schema/7/labels" => (200, "[]".into()),
        "POST /api/schema/7/labels" => (200, (100 + st.setup.len()).to_string()),
        "GET /api/test/byName/gobench-etcd" => (200, "{\"id\": 42, \"name\": \"gobench-etcd\"}".into()),
        "POST /api/alerting/variables?test=42" => (204, "".into()),
        _ => (404, format!("no route {call}")),
    }
}

/// Sends a raw HTTP request to the fake; returns the status code.
pub fn raw_status(url: &str, request: &str) -> u16 {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A result document with distinct times.
pub fn result_doc(i: u32) -> String {
    format!(
        "{{\n  \"$schema\": \"urn:gobench:result:1\",\n  \"started\": \"2026-11-21T05:{i:02}:00Z\",\n  \
         \"ended\": \"2026-11-21T05:{i:02}:30Z\",\n  \"benchmark\": \"put\",\n  \"results\": {{ \"rps\": {} }}\n}}\n",
        30000 + i
    )
}

/// A git repository in a temp dir with the given files committed.
pub fn repo(files: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["config", "user.email", "test@example.com"]);
    git(dir.path(), &["config", "user.name", "Test"]);
    git(dir.path(), &["config", "commit.gpgsign", "false"]);
    std::fs::write(dir.path().join(".gitignore"), "/.cache\n").unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "results"]);
    dir
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").current_dir(dir).args(args).output().expect("run git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs the real `xtask` binary in `dir` with `HORREUM_API_KEY` set to `key` (or unset).
pub fn xtask(dir: &Path, args: &[&str], key: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.current_dir(dir).arg("--config").arg(dir.join("toolchains.toml")).args(args).env_remove("HORREUM_API_KEY");
    if let Some(k) = key {
        cmd.env("HORREUM_API_KEY", k);
    }
    cmd.output().expect("run xtask")
}

pub fn target_args(url: &str) -> Vec<String> {
    ["--url", url, "--test", "gobench-etcd", "--owner", "perf-team", "--access", "PUBLIC"].iter().map(|s| s.to_string()).collect()
}

pub fn text(out: &Output) -> String {
    format!("status: {}\nstdout:\n{}\nstderr:\n{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Every file under `dir`, `.git` included.
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
