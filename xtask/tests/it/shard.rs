//! Sharding on the fake toolchain: `plan --shards 2`, each shard run by
//! `bench --shard I/2` in a copy of the project of its own, the copies
//! combined by `results merge`, against one unsharded run.

use std::collections::BTreeMap;
use std::path::Path;

use gobench_core::schema::ResultDoc;
use gobench_core::shard::ShardPlan;

use crate::support::{fake_project, git, gobench_containers, write, Project};

const DATE: &str = "2026-01-01T00:00:00Z";

/// A fake project with two comparison groups (benchmarks `fake` and `fake2`,
/// each on Go refs `a` and `b`, runs of `sleep_secs`), locked and committed.
pub fn two_group_project(speed: u32, sleep_secs: u32) -> Project {
    let p = fake_project(&[("a", "master"), ("b", "master")], speed, sleep_secs);
    p.edit_config(|t| {
        t.replace("benchmarks = [\"fake\"]", "benchmarks = [\"fake\", \"fake2\"]")
            + "[[benchmark]]\nname = \"fake2\"\nworkload = \"go-std\"\npackage = \"strconv\"\nargs = [\"-test.bench=Fake\"]\nruns = 2\ntimeout_secs = 60\n"
    });
    p.ok(&["lock"]);
    write(&p.path().join(".gitignore"), "/.cache/\n/go/\n");
    git(p.path(), &["init", "-q"], DATE);
    git(p.path(), &["add", "-A"], DATE);
    git(p.path(), &["commit", "-q", "-m", "project"], DATE);
    p
}

/// A copy of the project directory (its git repository, lock and cache
/// included), as a CI runner's checkout would be.
fn copy_of(p: &Project) -> Project {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("cp").arg("-a").arg(format!("{}/.", p.path().display())).arg(dir.path()).status().unwrap();
    assert!(status.success());
    let cache = dir.path().join(".cache");
    Project { dir, cache: Some(cache) }
}

/// Every result document under `dir/results`, by cell.
fn docs(dir: &Path) -> BTreeMap<String, ResultDoc> {
    let mut out = BTreeMap::new();
    for inv in std::fs::read_dir(dir.join("results")).into_iter().flatten() {
        let inv = inv.unwrap().path();
        if !inv.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(inv).unwrap() {
            let doc: ResultDoc = serde_json::from_str(&std::fs::read_to_string(f.unwrap().path()).unwrap()).unwrap();
            assert!(out.insert(doc.cell.clone(), doc).is_none(), "one document per cell");
        }
    }
    out
}

#[test]
fn shards_run_apart_and_merged_equal_an_unsharded_run() {
    let p = two_group_project(131, 0);
    let plan: ShardPlan = serde_json::from_str(&p.ok(&["plan", "--shards", "2", "--json"])).unwrap();
    let groups: Vec<Vec<Vec<String>>> = plan.shards.iter().map(|s| s.groups.iter().map(|g| g.cells.clone()).collect()).collect();
    assert_eq!(groups, [[["a/go-std/fake", "b/go-std/fake"]], [["a/go-std/fake2", "b/go-std/fake2"]]]);
    assert_eq!(plan.shards.iter().map(|s| s.cost).collect::<Vec<_>>(), [4, 4], "2 cells x 2 runs a shard");

    // The copies are made before anything is built, so that their recipe
    // files are new to the project.
    let whole = copy_of(&p);
    let shards = [copy_of(&p), copy_of(&p)];
    let bench = ["bench", "--matrix", "--pair-seed", "7", "--no-upload"];
    whole.ok(&bench);
    shards[0].ok(&[&bench[..], &["--shard", "1/2"]].concat());
    // A CI shard need not commit: its files are the artifact.
    shards[1].ok(&[&bench[..], &["--shard", "2/2", "--no-commit"]].concat());
    for (s, want) in shards.iter().zip(&groups) {
        assert_eq!(docs(s.path()).into_keys().collect::<Vec<_>>(), want.concat(), "a shard runs only its own cells");
    }
    assert!(p.ok(&["bench", "--matrix", "--shard", "3/3", "--no-commit"]).contains("nothing to run"), "an empty shard is no error");

    // A shard's ledger knows only its own uploads: it never replaces ours.
    let ledger = p.path().join("results/uploads.json");
    write(&ledger, "{\"the\": \"project's ledger\"}\n");
    git(p.path(), &["add", "results/uploads.json"], DATE);
    git(p.path(), &["commit", "-q", "-m", "ledger"], DATE);
    write(&shards[0].path().join("results/uploads.json"), "{\"the\": \"shard's ledger\"}\n");

    // A conflict (a result file of a shard with other content) is refused,
    // with every conflicting file named, and nothing changes.
    let bad = copy_of(&shards[1]);
    let bad_file = std::fs::read_dir(bad.path().join("results")).unwrap().find_map(|e| {
        let dir = e.unwrap().path();
        dir.is_dir().then(|| std::fs::read_dir(dir).unwrap().next().unwrap().unwrap().path())
    });
    let bad_file = bad_file.unwrap();
    std::fs::write(&bad_file, "{}\n").unwrap();
    let head = git(p.path(), &["rev-parse", "HEAD"], DATE);
    let dirs = |list: &[&Project]| list.iter().map(|s| s.path().to_str().unwrap().to_string()).collect::<Vec<_>>();
    let err = p.fails(
        &[&["results", "merge"][..], &dirs(&[&shards[0], &shards[1], &bad]).iter().map(String::as_str).collect::<Vec<_>>()].concat(),
    );
    let rel = bad_file.strip_prefix(bad.path()).unwrap().to_str().unwrap().to_string();
    assert!(err.contains("1 file(s) conflict") && err.contains(&rel) && err.contains("nothing was changed"), "{err}");
    assert_eq!(git(p.path(), &["rev-parse", "HEAD"], DATE), head);
    assert_eq!(git(p.path(), &["status", "--porcelain"], DATE), "", "nothing was written");

    let merge: Vec<String> = dirs(&[&shards[0], &shards[1]]);
    let merge_args = [&["results", "merge"][..], &merge.iter().map(String::as_str).collect::<Vec<_>>()].concat();
    p.ok(&merge_args);
    let committed = git(p.path(), &["show", "--name-only", "--format=%s", "HEAD"], DATE);
    assert!(committed.starts_with("results: merge 2 shard(s), 4 result file(s)"), "{committed}");
    assert_eq!(committed.lines().filter(|l| l.starts_with("results/")).count(), 4, "{committed}");
    assert!(committed.lines().any(|l| l.starts_with("containerfiles/")), "the recipes the results name come along:\n{committed}");
    assert!(!committed.contains("uploads.json"), "{committed}");
    assert_eq!(std::fs::read_to_string(&ledger).unwrap(), "{\"the\": \"project's ledger\"}\n");
    assert_eq!(git(p.path(), &["status", "--porcelain"], DATE), "");

    // The merged results are the unsharded run's cells, with its provenance
    // and pair orders (the same seed), on the same host.
    let (merged, unsharded) = (docs(p.path()), docs(whole.path()));
    assert_eq!(merged.keys().collect::<Vec<_>>(), unsharded.keys().collect::<Vec<_>>());
    for (cell, m) in &merged {
        let u = &unsharded[cell];
        assert_eq!(json(&m.provenance), json(&u.provenance), "{cell}: provenance");
        assert_eq!(json(&m.pairing), json(&u.pairing), "{cell}: pairing");
        assert_eq!(json(&m.host), json(&u.host), "{cell}: host");
        assert_eq!(m.runs.len(), u.runs.len(), "{cell}: runs");
        assert!(m.runs.iter().all(|r| r.validity.valid), "{cell}");
    }

    let head = git(p.path(), &["rev-parse", "HEAD"], DATE);
    assert!(p.ok(&merge_args).contains("nothing to merge"), "merging twice changes nothing");
    assert_eq!(git(p.path(), &["rev-parse", "HEAD"], DATE), head);
    assert!(gobench_containers().is_empty(), "containers left behind: {:?}", gobench_containers());
}

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap()
}
