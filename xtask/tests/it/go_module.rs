//! A go-module workload for real: `lock` resolves a module version and a
//! branch through the Go module proxy with the host's Go, `bench` fetches the
//! modules in the module step and builds the benchmark's test binary offline
//! (the real Go 1.27.3 of the base image, `support::bootstrap_go_repo`),
//! runs it, and the document has its metric.

use gobench_core::lock::Lock;
use gobench_core::schema::ResultDoc;

use crate::support::{base_pins, bootstrap_go_repo, git, gobench_containers, podman, write, Project};

const UUID: &str = r#"
[[go]]
name = "go1.27"
ref = "go1.27.3"
url = "go"

[[workload]]
name = "uuid"
kind = "go-module"
modules = ["github.com/google/uuid"]
refs = ["v1.6.0", "latest", "v1.5"]
packages = ["github.com/google/uuid"]

[[benchmark]]
name = "parse"
workload = "uuid"
package = "github.com/google/uuid"
args = ["-test.run=^$", "-test.bench=^BenchmarkParse$", "-test.benchtime=20ms"]
runs = 2
timeout_secs = 120

[matrix]
go = ["go1.27"]
benchmarks = ["parse"]
"#;

fn uuid_project() -> Project {
    let dir = tempfile::tempdir().unwrap();
    bootstrap_go_repo(&dir.path().join("go"));
    write(&dir.path().join("toolchains.toml"), &format!("{}{UUID}", base_pins()));
    let cache = dir.path().join(".cache");
    Project { dir, cache: Some(cache) }
}

#[test]
fn a_go_module_benchmark_is_locked_fetched_built_offline_and_measured() {
    let p = uuid_project();
    // A proxy that cannot be used: the error names the module and the GOPROXY, and no lock is written.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["--config", p.config().to_str().unwrap(), "lock"])
        .env("GOBENCH_CACHE", p.cache.as_ref().unwrap())
        .env("GOPROXY", "off")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("module github.com/google/uuid@") && err.contains("GOPROXY=off"), "{err}");
    assert!(!p.path().join("toolchains.lock").exists());

    p.ok(&["lock"]);
    let lock = Lock::parse(&std::fs::read_to_string(p.path().join("toolchains.lock")).unwrap()).unwrap();
    let tag = lock.module_entries("uuid", "v1.6.0");
    assert_eq!(
        (tag[0].path.as_str(), tag[0].version.as_str(), tag[0].time.as_str()),
        ("github.com/google/uuid", "v1.6.0", "2024-01-23T18:54:04Z")
    );
    // A moving query is locked to the exact version it names today, as a
    // branch would be to its commit's pseudo-version. (The module proxy of
    // these machines refuses branch queries, `@master`, with 403 "This module
    // version is not available"; it answers `latest` and version prefixes.)
    let latest = &lock.module_entries("uuid", "latest")[0];
    let exact = |v: &str| {
        let core = v.strip_prefix('v').unwrap_or("").split(['-', '+']).next().unwrap_or("");
        core.split('.').count() == 3 && core.split('.').all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    assert!(exact(&latest.version) && latest.time.starts_with("20"), "not an exact version: {latest:?}");
    assert!(latest.version.as_str() >= "v1.6.0", "latest is not older than the pinned tag: {latest:?}");
    let prefix = &lock.module_entries("uuid", "v1.5")[0];
    assert_eq!(prefix.version, "v1.5.0", "the newest v1.5.x the proxy serves: {prefix:?}");
    p.ok(&["lock", "--check"]);

    // This test's own workload images from an earlier run go, so the fetch
    // and the offline build run every time (the toolchain image is kept).
    p.ok(&["gen"]);
    for (name, text) in p.containerfiles() {
        if let Some(hash) = name.strip_suffix(".Containerfile").filter(|_| text.contains("io.gobench.workload=\"go-module\"")) {
            podman(&["rmi", "--ignore", &format!("localhost/gobench/uuid:{hash}")]);
        }
    }
    git(p.path(), &["init", "-q"], "2026-01-01T00:00:00Z");
    p.ok(&["bench", "--workload-ref", "v1.6.0", "--no-upload"]);
    assert!(gobench_containers().is_empty(), "containers left behind: {:?}", gobench_containers());

    // The module step filled a cache keyed by content; the build read it.
    let modules = std::fs::read_dir(p.path().join(".cache/modules")).unwrap().map(|e| e.unwrap().path()).collect::<Vec<_>>();
    assert_eq!(modules.len(), 1, "{modules:?}");
    assert!(modules[0].join("cache/download/github.com/google/uuid/@v/v1.6.0.zip").is_file());

    let results = std::fs::read_dir(p.path().join("results")).unwrap().next().unwrap().unwrap().path();
    let file = std::fs::read_dir(&results).unwrap().next().unwrap().unwrap().path();
    let doc: ResultDoc = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc.cell, "go1.27/uuid@v1.6.0/parse");
    assert_eq!(doc.provenance.workload.kind, "go-module");
    assert_eq!(doc.provenance.workload.modules, ["github.com/google/uuid@v1.6.0"]);
    assert_eq!(doc.provenance.command[0], "/opt/gostd/github.com_google_uuid.test");
    assert!(doc.commithash.contains("go1.27.3"), "{}", doc.commithash);
    let metric = &doc.metrics["BenchmarkParse ns/op"];
    assert_eq!(metric.values.len(), 2, "both runs valid: {:?}", doc.runs);
    assert!(metric.values.iter().all(|v| *v > 0.0), "{:?}", metric.values);
}
