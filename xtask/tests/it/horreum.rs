//! Test helpers: a fake Horreum on 127.0.0.1 that follows the real server's API, and temporary
//! git repositories.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

/// How the fake server behaves; changeable while it runs.
#[derive(Clone, Debug)]
pub struct Behavior {
    /// The only API key it accepts.
    pub key: String,
    /// Answer 503 to this many otherwise valid uploads first.
    pub fail_first: usize,
    /// Accept connections, read the request, never answer.
    pub hang: bool,
    /// Tests that exist when it starts (ids from 42 on), owned by the first team.
    pub tests: Vec<String>,
    /// Wait this long before answering an upload (a slow Horreum).
    pub upload_delay: Duration,
    /// What `GET /api/config/version` answers.
    pub version: String,
    /// The key's user has Horreum's `uploader` role.
    pub uploader: bool,
    /// The key's user's teams (`<name>-team`); uploads and ownership need one of them.
    pub teams: Vec<String>,
    /// Bodies longer than this get 413, as Quarkus's `max-body-size` does.
    pub max_body: usize,
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior {
            key: "HUSR_test_key_0123456789".into(),
            fail_first: 0,
            hang: false,
            tests: vec!["gobench-etcd".into()],
            upload_delay: Duration::ZERO,
            version: "0.19.3".into(),
            uploader: true,
            teams: vec!["perf-team".into()],
            max_body: 10 << 20,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Run {
    pub id: u64,
    pub query: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// What the fake holds, as Horreum's database would: everything keeps its id across calls.
#[derive(Default, Clone, Debug, PartialEq)]
pub struct Held {
    pub schemas: Vec<Value>,
    pub labels: Vec<Value>,
    pub tests: Vec<Value>,
    /// Test id -> its variables.
    pub variables: BTreeMap<i64, Vec<Value>>,
    /// Variable ids removed by a `POST /api/alerting/variables` (their datapoints go with them).
    pub deleted_variables: Vec<i64>,
    pub recalculations: Vec<i64>,
}

#[derive(Default)]
struct State {
    behavior: Behavior,
    requests: usize,
    runs: Vec<Run>,
    held: Held,
    next_id: i64,
    /// Every call but uploads: `METHOD path?query` and the JSON body.
    calls: Vec<(String, Value)>,
}

/// A fake Horreum on 127.0.0.1 that follows the real server's API, 0.18 and later, as defined in
/// Horreum's source (release 0.19.3; files named at each behaviour). Ids are kept across calls,
/// so that the update paths are exercised.
pub struct FakeHorreum {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl FakeHorreum {
    pub fn start(behavior: Behavior) -> FakeHorreum {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let owner = behavior.teams.first().cloned().unwrap_or_default();
        let tests = behavior
            .tests
            .iter()
            .enumerate()
            .map(|(i, name)| json!({"id": 42 + i as i64, "name": name, "owner": owner, "access": "PUBLIC"}))
            .collect();
        let held = Held { tests, ..Held::default() };
        let state = Arc::new(Mutex::new(State { behavior, held, next_id: 100, ..State::default() }));
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

    /// Calls other than uploads: `METHOD path?query` and the JSON body.
    pub fn setup_calls(&self) -> Vec<(String, Value)> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn held(&self) -> Held {
        self.state.lock().unwrap().held.clone()
    }

    pub fn set(&self, f: impl FnOnce(&mut Behavior)) {
        f(&mut self.state.lock().unwrap().behavior)
    }

    pub fn hold(&self, f: impl FnOnce(&mut Held)) {
        f(&mut self.state.lock().unwrap().held)
    }
}

/// An answer: status, content type, body. Status 0 means "never answer".
type Answer = (u16, &'static str, String);

fn text_answer(status: u16, body: impl Into<String>) -> Answer {
    (status, "text/plain", body.into())
}

fn json_answer(status: u16, body: Value) -> Answer {
    (status, "application/json", body.to_string())
}

fn empty(status: u16) -> Answer {
    (status, "text/plain", String::new())
}

fn handle(mut stream: TcpStream, state: &Mutex<State>) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let Some(request) = read_request(&mut stream) else {
        return;
    };
    let delay = {
        let st = state.lock().unwrap();
        if request.path == "/api/run/data" {
            st.behavior.upload_delay
        } else {
            Duration::ZERO
        }
    };
    // A slow server answers slowly but serves everyone at once, as Horreum's worker pool does.
    std::thread::sleep(delay);
    let (status, content_type, body) = respond(&request, state);
    if status == 0 {
        // Hang: hold the connection open without answering, then give up.
        std::thread::sleep(Duration::from_secs(30));
        return;
    }
    let reason = match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        _ => "Service Unavailable",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
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
    Some(Request { method, path: decode(path), query, headers, body })
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
}

fn respond(req: &Request, state: &Mutex<State>) -> Answer {
    let mut st = state.lock().unwrap();
    st.requests += 1;
    if st.behavior.hang {
        return empty(0);
    }
    // ConfigService.java: the version endpoint is @PermitAll, no key needed.
    if req.path == "/api/config/version" {
        return match req.method.as_str() {
            "GET" => json_answer(200, json!({"version": st.behavior.version, "startTimestamp": 1_764_000_000_000u64})),
            _ => empty(405),
        };
    }
    // ApiKeyAuthenticationMechanism.java: the key in X-Horreum-API-Key; unknown or revoked: 401.
    if req.headers.get("x-horreum-api-key") != Some(&st.behavior.key) {
        return text_answer(401, "Unauthorized: invalid API key");
    }
    if req.body.len() > st.behavior.max_body {
        return text_answer(413, "Request Entity Too Large");
    }
    if req.path == "/api/run/data" {
        return upload(req, &mut st);
    }
    let query: Vec<String> = req.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let call = format!("{} {}{}{}", req.method, req.path, if query.is_empty() { "" } else { "?" }, query.join("&"));
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    st.calls.push((call, body.clone()));
    if !req.body.is_empty() && !req.headers.get("content-type").is_some_and(|c| c.starts_with("application/json")) {
        return text_answer(415, "expected application/json");
    }
    setup_route(req, &body, &mut st)
}

/// `POST /api/run/data` as RunServiceImpl.java and RunService.java define it.
fn upload(req: &Request, st: &mut State) -> Answer {
    if req.method != "POST" {
        return empty(405);
    }
    // The endpoint is @RolesAllowed(uploader): without the role, 403 before any check.
    if !st.behavior.uploader {
        return empty(403);
    }
    let Some(test_param) = req.query.get("test").filter(|t| !t.is_empty()).cloned() else {
        return text_answer(400, "No test name or id provided");
    };
    for p in ["start", "stop"] {
        let Some(v) = req.query.get(p).filter(|v| !v.is_empty()) else {
            return text_answer(400, format!("Missing required parameter '{p}'"));
        };
        // RunServiceImpl.java: `Util.toInstant` takes epoch milliseconds or `Instant.parse`, whose
        // nanoseconds hold nine digits: a longer fraction does not parse.
        let fraction = v.split_once('.').map_or(0, |(_, f)| f.bytes().take_while(u8::is_ascii_digit).count());
        if fraction > 9 {
            return text_answer(400, format!("Cannot parse {p} time from {v} ({v})"));
        }
    }
    // access is optional (PRIVATE); owner is optional when the user has a single team.
    let access = req.query.get("access").cloned().unwrap_or_else(|| "PRIVATE".into());
    if !["PUBLIC", "PROTECTED", "PRIVATE"].contains(&access.as_str()) {
        return text_answer(400, format!("Invalid access {access}"));
    }
    // TestServiceImpl.java `ensureTestExists`: the test by name or id, visible to an uploader of its team.
    let test = st.held.tests.iter().find(|t| t["name"] == test_param.as_str() || id_is(&t["id"], &test_param)).cloned();
    let Some(test) = test.filter(|t| st.behavior.teams.iter().any(|team| t["owner"] == team.as_str())) else {
        return text_answer(400, format!("Cannot upload to test {test_param}, either it does not exist or user is not an uploader"));
    };
    // RunServiceImpl.java `addAuthenticated`: no owner means the user's single uploader team; an
    // owner other than the test's needs the user to hold that team's role.
    let owner = match req.query.get("owner") {
        Some(o) => o.clone(),
        None if st.behavior.teams.len() == 1 => st.behavior.teams[0].clone(),
        None => {
            return text_answer(
                400,
                format!(
                    "Missing owner and cannot select single default owners; this user has these uploader roles: {:?}",
                    st.behavior.teams
                ),
            )
        }
    };
    if test["owner"] != owner.as_str() && !st.behavior.teams.contains(&owner) {
        return text_answer(400, format!("This user does not have permissions to upload run for owner={owner}"));
    }
    if !req.headers.get("content-type").is_some_and(|c| c.starts_with("application/json")) {
        return text_answer(415, "expected application/json");
    }
    if serde_json::from_slice::<Value>(&req.body).is_err() {
        return text_answer(400, "Cannot parse body as JSON");
    }
    if st.behavior.fail_first > 0 {
        st.behavior.fail_first -= 1;
        return text_answer(503, "Service Unavailable");
    }
    let id = 1000 + st.runs.len() as u64;
    let mut query = req.query.clone();
    query.insert("owner".into(), owner);
    query.insert("access".into(), access);
    st.runs.push(Run { id, query, body: req.body.clone() });
    // RunServiceImpl.java `addRunFromData`: 202 with the run ids as text, joined by commas;
    // datasets, labels and change detection follow asynchronously.
    text_answer(202, id.to_string())
}

/// An id as held, compared with one from a path or query.
fn id_is(id: &Value, text: &str) -> bool {
    id.as_i64().is_some_and(|id| text.parse() == Ok(id))
}

fn new_id(st: &mut State) -> i64 {
    st.next_id += 1;
    st.next_id
}

/// The owner of a new entity must be one of the user's teams (Horreum checks the team role).
fn owner_ok(st: &State, doc: &Value) -> bool {
    doc["owner"].as_str().is_some_and(|o| st.behavior.teams.iter().any(|t| t == o))
}

/// Schema, label, test and alerting endpoints. Wrong method on a known path: 405.
fn setup_route(req: &Request, body: &Value, st: &mut State) -> Answer {
    let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let method = req.method.as_str();
    let minor: u64 = st.behavior.version.split('.').nth(1).and_then(|m| m.parse().ok()).unwrap_or(0);
    match segments.as_slice() {
        // SchemaService.java: idByUri answers the id as a JSON number, 404 when unknown.
        ["api", "schema", "idByUri", uri] => match method {
            "GET" => match st.held.schemas.iter().find(|s| s["uri"] == *uri) {
                Some(s) => json_answer(200, s["id"].clone()),
                None => text_answer(404, format!("Schema with given uri not found: {uri}")),
            },
            _ => empty(405),
        },
        // SchemaServiceImpl.java since 0.18: POST only creates (400 "Name already used"), PUT updates.
        ["api", "schema"] => match method {
            "POST" => {
                if !body["id"].is_null() {
                    return text_answer(400, "Schema id must not be set when creating; update with PUT");
                }
                if st.held.schemas.iter().any(|s| s["name"] == body["name"] || s["uri"] == body["uri"]) {
                    return text_answer(400, "Name already used");
                }
                if !owner_ok(st, body) {
                    return text_answer(403, "This user does not have the owner role");
                }
                let id = new_id(st);
                let mut schema = body.clone();
                schema["id"] = json!(id);
                st.held.schemas.push(schema);
                json_answer(201, json!(id))
            }
            "PUT" => match st.held.schemas.iter_mut().find(|s| s["id"] == body["id"]) {
                Some(s) => {
                    *s = body.clone();
                    json_answer(200, body["id"].clone())
                }
                None => text_answer(404, "Missing schema id or schema does not exist"),
            },
            _ => empty(405),
        },
        ["api", "schema", id] => match method {
            "GET" => match st.held.schemas.iter().find(|s| id_is(&s["id"], id)) {
                Some(s) => json_answer(200, s.clone()),
                None => text_answer(404, format!("Schema not found: {id}")),
            },
            _ => empty(405),
        },
        // SchemaService.java: labels of a schema. Since 0.19 (commit 15bc9e5b) POST and PUT take
        // a list; POST answers 201 with the new ids and refuses a label that has an id (400).
        // Before, POST took one label, created or updated it by id, and answered its id.
        ["api", "schema", schema_id, "labels"] => {
            let Some(schema_id) = st.held.schemas.iter().find(|s| id_is(&s["id"], schema_id)).map(|s| s["id"].clone()) else {
                return text_answer(404, format!("Schema not found: {schema_id}"));
            };
            match method {
                "GET" => json_answer(200, Value::Array(st.held.labels.iter().filter(|l| l["schemaId"] == schema_id).cloned().collect())),
                "POST" if minor >= 19 => {
                    let Some(list) = body.as_array() else {
                        return text_answer(400, "Expected a list of labels");
                    };
                    if list.iter().any(|l| !l["id"].is_null()) {
                        return text_answer(400, "Label id must not be set when creating; update with PUT");
                    }
                    let mut ids = Vec::new();
                    for label in list {
                        let id = new_id(st);
                        let mut label = label.clone();
                        label["id"] = json!(id);
                        label["schemaId"] = schema_id.clone();
                        st.held.labels.push(label);
                        ids.push(id);
                    }
                    json_answer(201, json!(ids))
                }
                "POST" => {
                    let mut label = body.clone();
                    label["schemaId"] = schema_id.clone();
                    if label["id"].is_null() {
                        let id = new_id(st);
                        label["id"] = json!(id);
                        st.held.labels.push(label);
                        json_answer(200, json!(id))
                    } else {
                        match st.held.labels.iter_mut().find(|l| l["id"] == label["id"]) {
                            Some(l) => {
                                *l = label.clone();
                                json_answer(200, label["id"].clone())
                            }
                            None => text_answer(404, "Label not found"),
                        }
                    }
                }
                "PUT" if minor >= 19 => {
                    let Some(list) = body.as_array() else {
                        return text_answer(400, "Expected a list of labels");
                    };
                    for label in list {
                        let Some(l) = st.held.labels.iter_mut().find(|l| l["id"] == label["id"] && !label["id"].is_null()) else {
                            return text_answer(400, "Label does not exist; create it with POST");
                        };
                        *l = label.clone();
                        l["schemaId"] = schema_id.clone();
                    }
                    json_answer(200, Value::Array(list.iter().map(|l| l["id"].clone()).collect()))
                }
                _ => empty(405),
            }
        }
        // TestService.java: byName answers the test as JSON, 404 when missing.
        ["api", "test", "byName", name] => match method {
            "GET" => match st.held.tests.iter().find(|t| t["name"] == *name) {
                Some(t) => json_answer(200, t.clone()),
                None => text_answer(404, format!("No test with name {name}")),
            },
            _ => empty(405),
        },
        ["api", "test", id] => match method {
            "GET" => match st.held.tests.iter().find(|t| id_is(&t["id"], id)) {
                Some(t) => json_answer(200, t.clone()),
                None => text_answer(404, format!("No test with id {id}")),
            },
            _ => empty(405),
        },
        // TestServiceImpl.java: a new test, owned by one of the user's teams; answers the test.
        ["api", "test"] => match method {
            "POST" => {
                if st.held.tests.iter().any(|t| t["name"] == body["name"]) {
                    return text_answer(400, "Name already used");
                }
                if !owner_ok(st, body) {
                    return text_answer(403, "This user does not have the owner role");
                }
                let id = new_id(st);
                let mut test = body.clone();
                test["id"] = json!(id);
                st.held.tests.push(test.clone());
                json_answer(201, test)
            }
            _ => empty(405),
        },
        // AlertingService.java (internal): the POST replaces the test's whole set of variables,
        // matched by id; a variable left out is deleted with its datapoints and changes.
        ["api", "alerting", "variables"] => {
            let Some(test_id) = req.query.get("test").and_then(|t| t.parse::<i64>().ok()) else {
                return text_answer(400, "Missing query param 'test'");
            };
            match method {
                "GET" => json_answer(200, Value::Array(st.held.variables.get(&test_id).cloned().unwrap_or_default())),
                "POST" => {
                    let Some(list) = body.as_array() else {
                        return text_answer(400, "Expected a list of variables");
                    };
                    let old = st.held.variables.remove(&test_id).unwrap_or_default();
                    let mut new = Vec::new();
                    for v in list {
                        let mut v = v.clone();
                        if v["id"].is_null() || !old.iter().any(|o| o["id"] == v["id"]) {
                            v["id"] = json!(new_id(st));
                        }
                        v["testId"] = json!(test_id);
                        for cd in v["changeDetection"].as_array_mut().into_iter().flatten() {
                            if cd["id"].is_null() {
                                st.next_id += 1;
                                cd["id"] = json!(st.next_id);
                            }
                        }
                        new.push(v);
                    }
                    let kept: Vec<&Value> = new.iter().map(|v| &v["id"]).collect();
                    let deleted: Vec<i64> = old.iter().filter(|o| !kept.contains(&&o["id"])).filter_map(|o| o["id"].as_i64()).collect();
                    st.held.deleted_variables.extend(deleted);
                    st.held.variables.insert(test_id, new);
                    empty(204)
                }
                _ => empty(405),
            }
        }
        // AlertingService.java (internal): the test's fingerprint and timeline, all four fields.
        ["api", "alerting", "changeDetection"] => {
            let Some(test) = req.query.get("testId").and_then(|t| st.held.tests.iter_mut().find(|x| id_is(&x["id"], t))) else {
                return text_answer(400, "Missing or unknown testId");
            };
            match method {
                "POST" => {
                    for field in ["fingerprintLabels", "fingerprintFilter", "timelineLabels", "timelineFunction"] {
                        test[field] = body[field].clone();
                    }
                    empty(204)
                }
                _ => empty(405),
            }
        }
        ["api", "alerting", "recalculate"] => match (method, req.query.get("test").and_then(|t| t.parse::<i64>().ok())) {
            ("POST", Some(test_id)) => {
                st.held.recalculations.push(test_id);
                empty(204)
            }
            ("POST", None) => text_answer(400, "Missing query param 'test'"),
            _ => empty(405),
        },
        _ => text_answer(404, format!("no route {method} {}", req.path)),
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
    xtask_command(dir, args, key).output().expect("run xtask")
}

/// The command [`xtask`] runs, for tests that start several at once.
pub fn xtask_command(dir: &Path, args: &[&str], key: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.current_dir(dir).arg("--config").arg(dir.join("toolchains.toml")).args(args).env_remove("HORREUM_API_KEY");
    if let Some(k) = key {
        cmd.env("HORREUM_API_KEY", k);
    }
    cmd
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
