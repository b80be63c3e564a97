//! `cargo xtask upload` against a fake Horreum on 127.0.0.1, in temporary git repositories.

use std::time::Instant;

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
fn a_400_needs_a_human_and_is_not_retried_blindly() {
    let key = Behavior::default().key;
    let server = FakeHorreum::start(Behavior::default());
    let repo = repo(&[("results/a.json", result_doc(1))]);
    let dir = repo.path();
    let mut args = vec!["upload".to_string()];
    args.extend(target_args(&server.url));
    let pos = args.iter().position(|a| a == "gobench-etcd").unwrap();
    args[pos] = "no-such-test".into();
    args.push("--all-pending".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = xtask(dir, &args, Some(&key));
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Cannot find test 'no-such-test'"), "Horreum's message is shown: {}", text(&out));
    let out = xtask(dir, &args, Some(&key));
    assert!(!out.status.success());
    assert_eq!(server.requests(), 1, "not retried by --all-pending");
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
    let req = |query: &str, key: &str| {
        format!(
            "POST /api/run/data?{query} HTTP/1.1\r\nHost: x\r\nX-Horreum-API-Key: {key}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let full = "test=gobench-etcd&start=1&stop=2&owner=perf-team&access=PUBLIC";
    assert_eq!(raw_status(&server.url, &req(full, &key)), 202);
    assert_eq!(raw_status(&server.url, &req(full, "HUSR_other")), 401);
    for missing in ["test", "start", "stop", "owner", "access"] {
        let q: Vec<&str> = full.split('&').filter(|p| !p.starts_with(&format!("{missing}="))).collect();
        assert_eq!(raw_status(&server.url, &req(&q.join("&"), &key)), 400, "{missing}");
    }
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

#[test]
fn horreum_setup_apply_posts_schema_labels_and_variables() {
    let key = Behavior::default().key;
    let server = FakeHorreum::start(Behavior::default());
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["horreum-setup".to_string(), "--apply".into()];
    args.extend(target_args(&server.url));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = xtask(dir.path(), &args, Some(&key));
    assert!(out.status.success(), "{}", text(&out));
    let calls = server.setup_calls();
    let names: Vec<&str> = calls.iter().map(|(c, _)| c.as_str()).collect();
    assert!(names[0].starts_with("GET /api/schema/idByUri/"), "{names:?}");
    assert_eq!(names[1], "POST /api/schema");
    assert_eq!(calls[1].1["uri"], "urn:gobench:result:1");
    assert_eq!(calls[1].1["owner"], "perf-team");
    assert_eq!(names.iter().filter(|n| **n == "POST /api/schema/7/labels").count(), 8);
    assert!(calls.iter().any(|(c, b)| c == "POST /api/schema/7/labels" && b["name"] == "rps" && b["schemaId"] == 7));
    let (last, vars) = calls.last().unwrap();
    assert_eq!(last, "POST /api/alerting/variables?test=42");
    assert_eq!(vars.as_array().unwrap().len(), 3);
    assert_eq!(vars[0]["testId"], 42);
    assert!(!text(&out).contains(&key));
}
