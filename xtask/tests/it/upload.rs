//! `cargo xtask upload` against a fake Horreum on 127.0.0.1, in temporary git repositories.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::horreum::*;

fn upload(dir: &std::path::Path, url: &str, extra: &[&str], key: Option<&str>) -> std::process::Output {
    let mut args: Vec<String> = vec!["upload".into()];
    args.extend(target_args(url));
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    xtask(dir, &args, key)
}

fn ledger(dir: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("results/uploads.json")).unwrap_or_else(|_| "{\"uploads\":{}}".into());
    serde_json::from_str(&text).unwrap()
}

fn state(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(".cache/upload-state.json")).unwrap()).unwrap()
}

#[test]
fn uploads_each_result_once_and_commits_only_the_ledger() {
    let key = Behavior::default().key;
    let server = FakeHorreum::start(Behavior::default());
    let files: Vec<(String, String)> = (1..=3).map(|i| (format!("results/2026/run-{i}.json"), result_doc(i))).collect();
    let mut all: Vec<(&str, String)> = files.iter().map(|(p, t)| (p.as_str(), t.clone())).collect();
    all.push(("results/index.json", "{\"not\": \"a result\"}".into()));
    let repo = repo(&all);
    let dir = repo.path();
    // A user's unrelated staged change must stay out of the ledger commit.
    std::fs::write(dir.join("notes.txt"), "wip").unwrap();
    git(dir, &["add", "notes.txt"]);

    let out = upload(dir, &server.url, &["--all-pending"], Some(&key));
    assert!(out.status.success(), "{}", text(&out));
    let runs = server.runs();
    assert_eq!(runs.len(), 3);
    for (run, (path, body)) in runs.iter().zip(&files) {
        assert_eq!(run.body, body.as_bytes(), "{path}: body is the file, byte for byte");
        let started = serde_json::from_str::<serde_json::Value>(body).unwrap()["started"].as_str().unwrap().to_owned();
        assert_eq!(run.query["start"], started);
        assert_eq!(run.query["test"], "gobench-etcd");
        assert_eq!(run.query["owner"], "perf-team");
        assert_eq!(run.query["access"], "PUBLIC");
    }
    let l = ledger(dir);
    assert_eq!(l["$schema"], "urn:gobench:uploads:1");
    let entries = l["uploads"].as_object().unwrap();
    assert_eq!(entries.len(), 3);
    let mut ids: Vec<u64> = entries.values().map(|e| e["run_ids"][0].as_u64().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, vec![1000, 1001, 1002]);
    // The ledger commit holds only the ledger; the staged note is still staged.
    assert_eq!(git(dir, &["show", "--name-only", "--format=", "HEAD"]).trim(), "results/uploads.json");
    assert_eq!(git(dir, &["diff", "--cached", "--name-only"]).trim(), "notes.txt");

    // Again: nothing is posted, by either selection.
    let before = server.requests();
    let out = upload(dir, &server.url, &["--all-pending"], Some(&key));
    assert!(out.status.success(), "{}", text(&out));
    let out = upload(dir, &server.url, &["results/2026/run-1.json"], Some(&key));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(server.requests(), before);
    assert_eq!(server.runs().len(), 3);
}

#[test]
fn a_503_then_a_202_makes_one_run() {
    let b = Behavior { fail_first: 1, ..Behavior::default() };
    let key = b.key.clone();
    let server = FakeHorreum::start(b);
    let repo = repo(&[("results/a.json", result_doc(1))]);
    let out = upload(repo.path(), &server.url, &["--all-pending", "--verbose"], Some(&key));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(server.requests(), 2);
    assert_eq!(server.runs().len(), 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("503") && stderr.contains("202"), "--verbose shows statuses: {stderr}");
    assert!(stderr.contains(&format!("POST {}/api/run/data?test=gobench-etcd", server.url)), "{stderr}");
    assert_eq!(ledger(repo.path())["uploads"].as_object().unwrap().len(), 1);
}

#[test]
fn persistent_5xx_stays_pending_backs_off_and_is_retried_later() {
    let b = Behavior { fail_first: 100, ..Behavior::default() };
    let key = b.key.clone();
    let server = FakeHorreum::start(b);
    let repo = repo(&[("results/a.json", result_doc(1)), ("results/b.json", result_doc(2))]);
    let dir = repo.path();

    let out = upload(dir, &server.url, &["--all-pending", "--retries", "1"], Some(&key));
    assert!(!out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pending"), "{}", text(&out));
    // One quick retry for the first result, then the call stops hammering the server.
    assert_eq!(server.requests(), 2);
    assert!(!dir.join("results/uploads.json").exists());
    let s = state(dir);
    let failure = s["failures"].as_object().unwrap().values().next().unwrap().clone();
    assert_eq!(failure["attempts"], 1);
    assert!(failure["last_error"].as_str().unwrap().contains("503"));
    assert_eq!(failure["needs_human"], false);

    // The next scheduled call respects the backoff for the failed one and tries the other.
    server.set(|b| b.fail_first = 0);
    let out = upload(dir, &server.url, &["--all-pending"], Some(&key));
    assert!(!out.status.success(), "still pending: {}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("backoff"), "{}", text(&out));
    assert_eq!(server.runs().len(), 1);
    assert_eq!(server.runs()[0].body, result_doc(2).as_bytes());

    // Naming the file retries it now; then nothing is pending.
    let out = upload(dir, &server.url, &["results/a.json"], Some(&key));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(server.runs().len(), 2);
    let out = upload(dir, &server.url, &["--all-pending"], Some(&key));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(server.runs().len(), 2);
    assert!(state(dir)["failures"].as_object().unwrap().is_empty());
}

#[test]
fn a_timeout_leaves_the_result_pending() {
    let b = Behavior { hang: true, ..Behavior::default() };
    let key = b.key.clone();
    let server = FakeHorreum::start(b);
    let repo = repo(&[("results/a.json", result_doc(1))]);
    let started = Instant::now();
    let out = upload(repo.path(), &server.url, &["--all-pending", "--timeout-secs", "1"], Some(&key));
    assert!(started.elapsed().as_secs() < 15, "took {:?}", started.elapsed());
    assert!(!out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("timed out"), "{}", text(&out));
    assert_eq!(server.requests(), 1, "a timeout is not retried within the call");
    assert!(!repo.path().join("results/uploads.json").exists());
    let s = state(repo.path());
    let failure = s["failures"].as_object().unwrap().values().next().unwrap().clone();
    assert_eq!(failure["maybe_delivered"], true);
    assert_eq!(failure["path"], "results/a.json");
}

#[test]
fn a_401_is_reported_without_the_key_anywhere() {
    let server = FakeHorreum::start(Behavior::default());
    let repo = repo(&[("results/a.json", result_doc(1)), ("results/b.json", result_doc(2))]);
    let dir = repo.path();
    let wrong = "HUSR_wrong_key_s3cr3t_9f8e7d";
    let out = upload(dir, &server.url, &["--all-pending", "--verbose"], Some(wrong));
    assert!(!out.status.success(), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("401") && all.contains("API key"), "{all}");
    assert!(all.contains("30 days"), "tells about expired keys: {all}");
    assert_eq!(server.requests(), 1, "stops after the key is refused");
    assert_eq!(server.runs().len(), 0);
    // The key is not in the output nor in any file of the repository.
    assert!(!all.contains(wrong), "{all}");
    for file in all_files(dir) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(!bytes.windows(wrong.len()).any(|w| w == wrong.as_bytes()), "key found in {}", file.display());
    }
    // A refused key blames the key, not the result: nothing is marked as needing a human.
    assert!(!dir.join(".cache/upload-state.json").exists() || state(dir)["failures"].as_object().unwrap().is_empty());
}

#[test]
fn a_refused_document_needs_a_human_and_is_not_retried_blindly() {
    let key = Behavior::default().key;
    let server = FakeHorreum::start(Behavior { max_body: 100, ..Behavior::default() });
    let repo = repo(&[("results/a.json", result_doc(1))]);
    let dir = repo.path();
    let out = upload(dir, &server.url, &["--all-pending"], Some(&key));
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("413: Request Entity Too Large"), "Horreum's message is shown: {}", text(&out));
    let out = upload(dir, &server.url, &["--all-pending"], Some(&key));
    assert!(!out.status.success());
    assert_eq!(server.requests(), 1, "not retried by --all-pending");
    assert_eq!(state(dir)["failures"].as_object().unwrap().values().next().unwrap()["needs_human"], true);
}

/// Horreum's permission answers (RunServiceImpl.java) blame the key's user or the target, not
/// the document: the call stops with what to change, and nothing is marked as needing a human.
#[test]
fn permission_refusals_say_what_to_change() {
    let key = Behavior::default().key;
    for (behavior, args, want) in [
        (Behavior { uploader: false, ..Behavior::default() }, vec![], "lacks the uploader role"),
        (Behavior::default(), vec!["--test", "no-such-test"], "not an uploader for the team"),
        (Behavior::default(), vec!["--owner", "other-team"], "set [upload] owner"),
        (Behavior { tests: vec![], ..Behavior::default() }, vec![], "the test does not exist, or the API key's user is not an uploader"),
    ] {
        let server = FakeHorreum::start(behavior);
        let repo = repo(&[("results/a.json", result_doc(1)), ("results/b.json", result_doc(2))]);
        let dir = repo.path();
        let mut all = vec!["upload".to_string()];
        all.extend(target_args(&server.url));
        for pair in args.chunks(2) {
            let at = all.iter().position(|a| a == pair[0]).unwrap();
            all[at + 1] = pair[1].to_string();
        }
        all.push("--all-pending".into());
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let out = xtask(dir, &all, Some(&key));
        assert!(!out.status.success(), "{}", text(&out));
        assert!(text(&out).contains(want), "{want:?}: {}", text(&out));
        assert!(text(&out).contains("2 pending"), "{}", text(&out));
        assert_eq!(server.requests(), 1, "stops after the first refusal: {}", text(&out));
        assert!(!dir.join(".cache/upload-state.json").exists() || state(dir)["failures"].as_object().unwrap().is_empty());
    }
}

#[test]
fn key_file_readable_by_group_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let b = Behavior::default();
    let key = b.key.clone();
    let server = FakeHorreum::start(b);
    let repo = repo(&[("results/a.json", result_doc(1))]);
    let keydir = tempfile::tempdir().unwrap();
    let keyfile = keydir.path().join("horreum.key");
    std::fs::write(&keyfile, format!("{key}\n")).unwrap();
    std::fs::set_permissions(&keyfile, std::fs::Permissions::from_mode(0o640)).unwrap();
    let kf = keyfile.to_str().unwrap();

    let out = upload(repo.path(), &server.url, &["--all-pending", "--api-key-file", kf], None);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("chmod 600"), "{}", text(&out));
    assert!(!text(&out).contains(&key));
    assert_eq!(server.requests(), 0);

    std::fs::set_permissions(&keyfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = upload(repo.path(), &server.url, &["--all-pending", "--api-key-file", kf], None);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(server.runs().len(), 1);
}

#[test]
fn target_and_key_file_come_from_the_config() {
    use std::os::unix::fs::PermissionsExt;
    let b = Behavior::default();
    let key = b.key.clone();
    let server = FakeHorreum::start(b);
    let config = format!(
        "[upload]\nurl = \"{}\"\ntest = \"gobench-etcd\"\nowner = \"perf-team\"\naccess = \"PROTECTED\"\napi_key_file = \".cache/horreum.key\"\n",
        server.url
    );
    let repo = repo(&[("results/a.json", result_doc(1)), ("toolchains.toml", config)]);
    let dir = repo.path();
    std::fs::create_dir_all(dir.join(".cache")).unwrap();
    std::fs::write(dir.join(".cache/horreum.key"), &key).unwrap();
    std::fs::set_permissions(dir.join(".cache/horreum.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = xtask(dir, &["upload", "--all-pending", "--no-commit"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(server.runs()[0].query["access"], "PROTECTED");
    // --no-commit: the ledger is written but not committed.
    assert!(git(dir, &["status", "--porcelain"]).contains("results/"));
}

#[test]
fn fake_horreum_follows_the_contract() {
    let b = Behavior::default();
    let key = b.key.clone();
    let server = FakeHorreum::start(b);
    let body = "{}";
    let req = |method: &str, query: &str, key: &str| {
        format!(
            "{method} /api/run/data?{query} HTTP/1.1\r\nHost: x\r\nX-Horreum-API-Key: {key}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let full = "test=gobench-etcd&start=1&stop=2&owner=perf-team&access=PUBLIC";
    assert_eq!(raw_status(&server.url, &req("POST", full, &key)), 202);
    assert_eq!(raw_status(&server.url, &req("POST", full, "HUSR_other")), 401);
    assert_eq!(raw_status(&server.url, &req("GET", full, &key)), 405);
    for missing in ["test", "start", "stop"] {
        let q: Vec<&str> = full.split('&').filter(|p| !p.starts_with(&format!("{missing}="))).collect();
        assert_eq!(raw_status(&server.url, &req("POST", &q.join("&"), &key)), 400, "{missing}");
    }
    // owner and access are optional: the user's single team, and PRIVATE.
    assert_eq!(raw_status(&server.url, &req("POST", "test=gobench-etcd&start=1&stop=2", &key)), 202);
    assert_eq!(server.runs().last().unwrap().query["owner"], "perf-team");
    assert_eq!(server.runs().last().unwrap().query["access"], "PRIVATE");
    let ten_digits = "test=gobench-etcd&start=2026-11-21T05:30:00.1234567890Z&stop=2";
    assert_eq!(raw_status(&server.url, &req("POST", ten_digits, &key)), 400);
    server.set(|b| b.uploader = false);
    assert_eq!(raw_status(&server.url, &req("POST", full, &key)), 403);
}

#[test]
fn horreum_setup_writes_definitions() {
    let dir = tempfile::tempdir().unwrap();
    let out = xtask(dir.path(), &["horreum-setup", "--out", "horreum"], None);
    assert!(out.status.success(), "{}", text(&out));
    for name in ["schema.json", "labels.json", "variables.json"] {
        let text = std::fs::read_to_string(dir.path().join("horreum").join(name)).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap();
    }
    let schema = std::fs::read_to_string(dir.path().join("horreum/schema.json")).unwrap();
    assert!(schema.contains("urn:gobench:result:1"));
}

/// Two `upload --all-pending` at once against a slow Horreum: the ledger lock makes the second
/// wait, read the first one's ledger, and post nothing.
#[test]
fn two_uploads_at_once_post_each_result_once() {
    let b = Behavior { upload_delay: Duration::from_millis(500), ..Behavior::default() };
    let key = b.key.clone();
    let server = FakeHorreum::start(b);
    let files: Vec<(String, String)> = (1..=3).map(|i| (format!("results/run-{i}.json"), result_doc(i))).collect();
    let repo = repo(&files.iter().map(|(p, t)| (p.as_str(), t.clone())).collect::<Vec<_>>());
    let dir = repo.path();
    let mut args = vec!["upload".to_string()];
    args.extend(target_args(&server.url));
    args.push("--all-pending".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let spawn = || xtask_command(dir, &args, Some(&key)).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (first, second) = (spawn(), spawn());
    let outs = [first.wait_with_output().unwrap(), second.wait_with_output().unwrap()];
    for out in &outs {
        assert!(out.status.success(), "{}", text(out));
    }
    let runs = server.runs();
    let mut bodies: Vec<String> = runs.iter().map(|r| String::from_utf8_lossy(&r.body).into_owned()).collect();
    bodies.sort();
    let mut want: Vec<String> = files.iter().map(|(_, t)| t.clone()).collect();
    want.sort();
    assert_eq!(bodies, want, "exactly one POST per result:\n{}\n{}", text(&outs[0]), text(&outs[1]));
    assert!(outs.iter().any(|o| String::from_utf8_lossy(&o.stderr).contains("waiting for another upload to Horreum to finish (pid ")));
    assert_eq!(ledger(dir)["uploads"].as_object().unwrap().len(), 3);
    let log = git(dir, &["log", "--format=%s"]);
    assert_eq!(log.lines().filter(|l| l.starts_with("Upload ledger")).count(), 1, "{log}");
}

fn setup(dir: &std::path::Path, url: &str, apply: bool, key: &str) -> std::process::Output {
    let mut args = vec!["horreum-setup".to_string()];
    if apply {
        args.push("--apply".into());
    }
    args.extend(target_args(url));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = xtask(dir, &args, Some(key));
    assert!(!text(&out).contains(key), "the key leaked: {}", text(&out));
    out
}

/// Setup's write calls, with ids (and a dry run's placeholders) as `#`.
fn writes(calls: &[(String, serde_json::Value)]) -> Vec<String> {
    calls.iter().filter(|(c, _)| !c.starts_with("GET ")).map(|(c, _)| normalize_ids(c)).collect()
}

fn normalize_ids(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '<' {
            let end = if c == '<' { '>' } else { c };
            while let Some(&n) = chars.peek() {
                if (end == '>' && n != '>') || (end != '>' && n.is_ascii_digit()) {
                    chars.next();
                } else {
                    break;
                }
            }
            if end == '>' {
                chars.next();
            }
            out.push('#');
        } else {
            out.push(c);
        }
    }
    out
}

fn go_std_result() -> String {
    let mut doc: serde_json::Value = serde_json::from_str(&result_doc(9)).unwrap();
    doc["metrics"] = serde_json::json!({"BenchmarkQuote-2 ns/op": {"unit": "ns/op", "summary": {"median": 61.5}}});
    doc.to_string()
}

/// The contract test: `--apply` twice on Horreum 0.19; the second run writes nothing and the
/// state is the same. A variable that is not ours survives, and ours keep their ids (so their
/// datapoints) when the server's copy drifted.
#[test]
fn horreum_setup_apply_twice_changes_nothing_the_second_time() {
    let key = Behavior::default().key;
    let server = FakeHorreum::start(Behavior::default());
    let theirs = serde_json::json!({"id": 7, "name": "theirs", "testId": 42, "labels": ["x"], "changeDetection": []});
    server.hold(|h| {
        h.variables.insert(42, vec![theirs.clone()]);
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("results")).unwrap();
    std::fs::write(dir.path().join("results/gostd.json"), go_std_result()).unwrap();

    let out = setup(dir.path(), &server.url, true, &key);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Horreum 0.19.3 at"), "{}", text(&out));
    let first = server.held();
    assert_eq!(first.schemas.len(), 1);
    assert_eq!(first.schemas[0]["uri"], "urn:gobench:result:1");
    assert_eq!(first.schemas[0]["owner"], "perf-team");
    assert_eq!(first.labels.len(), 14);
    assert!(first.labels.iter().all(|l| l["extractors"][0]["isarray"] == false && l["schemaId"] == first.schemas[0]["id"]));
    let metric = first.labels.iter().find(|l| l["name"] == "metric:BenchmarkQuote-2 ns/op").expect("a label per published metric");
    assert_eq!(metric["extractors"][0]["jsonpath"], "$.metrics.\"BenchmarkQuote-2 ns/op\".summary.median");
    let vars = &first.variables[&42];
    assert_eq!(vars.len(), 9, "8 of ours and theirs");
    assert!(vars.contains(&theirs));
    assert!(first.deleted_variables.is_empty());
    assert_eq!(first.recalculations, vec![42]);
    assert_eq!(
        writes(&server.setup_calls()),
        [
            "POST /api/schema",
            "POST /api/schema/#/labels",
            "POST /api/alerting/changeDetection?testId=#",
            "POST /api/alerting/variables?test=#",
            "POST /api/alerting/recalculate?test=#"
        ]
    );
    assert_eq!(first.tests[0]["fingerprintLabels"], serde_json::json!(["cell", "host"]));

    let before = server.setup_calls().len();
    let out = setup(dir.path(), &server.url, true, &key);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("nothing to change"), "{}", text(&out));
    assert_eq!(server.held(), first);
    assert!(writes(&server.setup_calls()[before..]).is_empty(), "{:?}", &server.setup_calls()[before..]);

    // Someone edits a label and a variable on the server: the update path puts them back by id.
    let rps_id = vars.iter().find(|v| v["name"] == "rps").unwrap()["id"].clone();
    server.hold(|h| {
        h.labels.iter_mut().find(|l| l["name"] == "rps").unwrap()["extractors"][0]["jsonpath"] = "$.rps".into();
        h.variables.get_mut(&42).unwrap().iter_mut().find(|v| v["name"] == "rps").unwrap()["changeDetection"][0]["config"]["threshold"] =
            0.5.into();
    });
    let before = server.setup_calls().len();
    let out = setup(dir.path(), &server.url, true, &key);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        writes(&server.setup_calls()[before..]),
        ["PUT /api/schema/#/labels", "POST /api/alerting/variables?test=#", "POST /api/alerting/recalculate?test=#"]
    );
    let put = server.setup_calls()[before..].iter().find(|(c, _)| c.starts_with("PUT")).unwrap().1.clone();
    assert!(put.is_array() && put[0]["id"].is_i64(), "labels are updated as a list, by id: {put}");
    let third = server.held();
    assert_eq!(third.labels, first.labels);
    assert_eq!(third.variables, first.variables, "same ids, same settings");
    assert!(third.deleted_variables.is_empty(), "no variable (and no datapoint) was lost");
    assert_eq!(third.variables[&42].iter().find(|v| v["name"] == "rps").unwrap()["id"], rps_id);
}

#[test]
fn horreum_setup_creates_the_missing_test_owned_by_the_team() {
    let key = Behavior::default().key;
    let server = FakeHorreum::start(Behavior { tests: vec![], ..Behavior::default() });
    let dir = tempfile::tempdir().unwrap();
    let out = setup(dir.path(), &server.url, true, &key);
    assert!(out.status.success(), "{}", text(&out));
    let held = server.held();
    assert_eq!(held.tests.len(), 1);
    assert_eq!((&held.tests[0]["name"], &held.tests[0]["owner"]), (&"gobench-etcd".into(), &"perf-team".into()));
    assert_eq!(held.tests[0]["fingerprintLabels"], serde_json::json!(["cell", "host"]));
    let id = held.tests[0]["id"].as_i64().unwrap();
    assert_eq!(held.variables[&id].len(), 7);
    assert_eq!(held.recalculations, vec![id]);
    let out = setup(dir.path(), &server.url, true, &key);
    assert!(out.status.success() && text(&out).contains("nothing to change"), "{}", text(&out));
    assert_eq!(server.held().tests.len(), 1);
}

#[test]
fn horreum_setup_speaks_0_18_and_refuses_older() {
    let key = Behavior::default().key;
    let server = FakeHorreum::start(Behavior { version: "0.18.2".into(), ..Behavior::default() });
    let dir = tempfile::tempdir().unwrap();
    let out = setup(dir.path(), &server.url, true, &key);
    assert!(out.status.success(), "{}", text(&out));
    let label_posts: Vec<_> = server.setup_calls().into_iter().filter(|(c, _)| c.ends_with("/labels") && c.starts_with("POST")).collect();
    assert_eq!(label_posts.len(), 13, "one label per request before 0.19");
    assert!(label_posts.iter().all(|(_, b)| b.is_object()));
    let held = server.held();
    let out = setup(dir.path(), &server.url, true, &key);
    assert!(out.status.success() && text(&out).contains("nothing to change"), "{}", text(&out));
    assert_eq!(server.held(), held);

    let old = FakeHorreum::start(Behavior { version: "0.17.4".into(), ..Behavior::default() });
    let out = setup(dir.path(), &old.url, true, &key);
    assert!(!out.status.success());
    assert!(text(&out).contains("Horreum 0.17.4") && text(&out).contains("older than 0.18"), "{}", text(&out));
    assert!(old.setup_calls().is_empty(), "nothing is sent to a Horreum it does not speak to");
}

/// Without `--apply`, setup reads the server and prints the writes `--apply` then sends.
#[test]
fn horreum_setup_without_apply_prints_exactly_the_writes_and_sends_none() {
    let key = Behavior::default().key;
    let server = FakeHorreum::start(Behavior::default());
    let dir = tempfile::tempdir().unwrap();
    let out = setup(dir.path(), &server.url, false, &key);
    assert!(out.status.success(), "{}", text(&out));
    assert!(writes(&server.setup_calls()).is_empty());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let printed: Vec<String> =
        stdout.lines().filter_map(|l| l.strip_prefix("would send: ")).map(|l| normalize_ids(&l.replacen(&server.url, "", 1))).collect();
    let before = server.setup_calls().len();
    let out = setup(dir.path(), &server.url, true, &key);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(printed, writes(&server.setup_calls()[before..]));
    assert!(stdout.contains("\"isarray\": false"), "bodies are printed too");
}
