//! `lock` and `gen` on the shipped toolchains.toml, pointed at local
//! repositories shaped like Go and etcd.

use crate::support::{git, golden, Project, ETCD_MODULES};

/// The golden files are the exact text of the lock and every Containerfile;
/// the assertions below say what a Go engineer checks in them.
#[test]
fn lock_and_gen_the_shipped_pins() {
    let p = Project::shipped();
    p.ok(&["lock"]);
    let lock = std::fs::read_to_string(p.path().join("toolchains.lock")).unwrap();
    golden("shipped/toolchains.lock", &lock);
    p.ok(&["gen"]);
    let files = p.containerfiles();
    for (name, text) in &files {
        golden(&format!("shipped/containerfiles/{name}"), text);
    }

    let containerfiles: Vec<&String> = files.iter().filter(|(n, _)| n.ends_with(".Containerfile")).map(|(_, t)| t).collect();
    let toolchains: Vec<_> = containerfiles.iter().filter(|t| t.contains("io.gobench.kind=\"go-toolchain\"")).collect();
    let etcds: Vec<_> = containerfiles.iter().filter(|t| t.contains("io.gobench.workload=\"etcd\"")).collect();
    // master and go1.27.3; each with etcd release-3.6 and main. put and stm share an image.
    assert_eq!((toolchains.len(), etcds.len(), containerfiles.len()), (2, 4, 6));
    for t in &toolchains {
        assert_eq!(t.matches("make.bash").count(), 1, "one make.bash per toolchain:\n{t}");
    }
    let devel: Vec<_> = toolchains.iter().filter(|t| t.contains("> /usr/local/go/VERSION")).collect();
    assert_eq!(devel.len(), 1, "only the devel commit gets a VERSION rewrite");
    assert!(devel[0].contains("'go1.28.0'") && devel[0].contains("io.gobench.go.devel=\"go1.28-devel_"));
    let release = toolchains.iter().find(|t| !t.contains("> /usr/local/go/VERSION")).unwrap();
    assert!(release.contains("org.opencontainers.image.version=\"go1.27.3\"") && !release.contains("devel"));
    for t in &etcds {
        let target = if t.contains("go 1.28.0/") { "1.28.0" } else { "1.27.3" };
        assert!(t.contains(&format!("s/^go [0-9][0-9a-z.]*$/go {target}/")), "{t}");
        // Every module the build loads is patched; tools/mod, which nothing
        // builds with, and test data are left alone.
        for m in ETCD_MODULES.iter().filter(|m| !m.starts_with("tools/")) {
            assert!(t.contains(&format!(" {m}")), "{m} not patched in\n{t}");
        }
        assert!(!t.contains("testdata") && !t.contains("tools/mod"), "{t}");
        assert_eq!(t.matches("go mod tidy").count(), ETCD_MODULES.len() - 2, "tidy every built go.mod, not go.work:\n{t}");
        assert!(t.contains("GOTOOLCHAIN=local") && t.contains("etcdctl put mykey 'this is awesome'"));
    }
    // Every hash names its inputs: sha256 of <hash>.json is <hash>.
    for (name, text) in &files {
        if let Some(hash) = name.strip_suffix(".json") {
            assert_eq!(gobench_core::hash::sha256_hex(text.as_bytes()), hash);
        }
    }
    p.ok(&["gen", "--check"]);
    p.ok(&["lock", "--check"]);
}

fn hashes(p: &Project) -> Vec<String> {
    let out = p.ok(&["gen"]);
    let mut h: Vec<String> = out.lines().filter(|l| !l.starts_with("wrote")).map(String::from).collect();
    h.sort();
    h
}

#[test]
fn a_moving_branch_changes_hashes_only_through_its_sha() {
    let p = Project::shipped();
    p.ok(&["lock"]);
    let lock1 = std::fs::read_to_string(p.path().join("toolchains.lock")).unwrap();
    let before = hashes(&p);

    // Locking again resolves to the same commits: byte-identical lock and hashes.
    p.ok(&["lock"]);
    assert_eq!(std::fs::read_to_string(p.path().join("toolchains.lock")).unwrap(), lock1);
    assert_eq!(hashes(&p), before);

    // etcd main moves. Until the lock is refreshed nothing changes.
    let etcd = p.path().join("etcd");
    std::fs::write(etcd.join("README.md"), "moved\n").unwrap();
    crate::support::commit_all(&etcd, "docs: readme", "2026-10-01T00:00:00Z");
    assert_eq!(hashes(&p), before);
    p.ok(&["lock"]);
    let after = hashes(&p);
    let changed: Vec<_> = after.iter().filter(|h| !before.contains(h)).collect();
    assert_eq!(changed.len(), 2, "exactly the two `etcd main` images change: {changed:?}");
    assert!(changed.iter().all(|l| l.contains("etcd main on go")), "{changed:?}");

    // Renaming a Go entry or pinning it by SHA instead of branch name keeps the hash.
    let master_sha = git(&p.path().join("go"), &["rev-parse", "master"], "2026-01-01T00:00:00Z");
    p.edit_config(|t| t.replacen("name = \"master\"\nref = \"master\"", &format!("name = \"master\"\nref = \"{master_sha}\""), 1));
    p.ok(&["lock"]);
    let strip = |v: &[String]| v.iter().map(|l| l.split_whitespace().nth(1).unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(strip(&hashes(&p)), strip(&after));
}

#[test]
fn broken_pins_give_file_line_and_column_and_change_nothing() {
    let p = Project::shipped();
    // (replace this, with this, the error points at this, and says this)
    let cases: &[(&str, &str, &str, &str)] = &[
        ("ref = \"master\"\n", "ref = \"master; rm -rf /\"\n", "\"master;", "contains ';'"),
        ("runs = 5\n", "runs = \"five\"\n", "\"five\"", "invalid type"),
        ("[matrix]\ngo = [\"master\", \"go1.27\"]", "[matrix]\ngo = [\"master\", \"go1.26\"]", "\"go1.26\"", "unknown go `go1.26`"),
        ("policy = \"toolchain\"", "policy = \"newest\"", "\"newest\"", "expected \"keep\", \"toolchain\""),
        ("version = 1\n", "version = 1\nversoin = 2\n", "versoin", "unknown field `versoin`"),
        (
            "workload = \"go-std\"\npackage = \"strconv\"",
            "workload = \"go-std\"\npackage = \"net/http\"",
            "\"net/http\"",
            "not in the `packages`",
        ),
    ];
    let original = std::fs::read_to_string(p.config()).unwrap();
    for (from, to, marker, message) in cases {
        let text = original.replacen(from, to, 1);
        assert_ne!(text, original, "{from:?} not found");
        std::fs::write(p.config(), &text).unwrap();
        let err = p.fails(&["lock"]);
        let offset = text.find(to).unwrap() + to.find(marker).unwrap();
        let line = text[..offset].matches('\n').count() + 1;
        let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1) + 1;
        let at = format!("toolchains.toml:{line}:{column}: ");
        assert!(err.contains(&at), "{to:?}: no {at} in {err}");
        assert!(err.contains(message), "{to:?}: no {message:?} in {err}");
        assert!(!p.path().join("toolchains.lock").exists(), "a failed lock wrote a lock");
    }
    std::fs::write(p.config(), original.replacen("[run]\n", "[run\n", 1)).unwrap();
    let err = p.fails(&["lock"]);
    assert!(err.contains("toolchains.toml:") && err.contains(":5: unclosed table, expected `]`"), "{err}");
}

#[test]
fn an_unknown_ref_is_reported_and_writes_nothing() {
    let p = Project::shipped();
    p.edit_config(|t| t.replace("refs = [\"release-3.6\", \"main\"]", "refs = [\"release-3.6\", \"release-9.9\"]"));
    let err = p.fails(&["lock"]);
    assert!(err.contains("ref `release-9.9` was not found in etcd"), "{err}");
    assert!(!p.path().join("toolchains.lock").exists());
}

#[test]
fn commands_say_when_the_lock_is_missing_or_stale() {
    let p = Project::shipped();
    let err = p.fails(&["gen"]);
    assert!(err.contains("toolchains.lock does not exist; run `cargo xtask lock`"), "{err}");
    p.ok(&["lock"]);
    p.edit_config(|t| t.replace("ref = \"go1.27.3\"", "ref = \"release-branch.go1.27\""));
    let err = p.fails(&["gen"]);
    assert!(err.contains("is stale") && err.contains("go `go1.27` ref `release-branch.go1.27`"), "{err}");
    let err = p.fails(&["lock", "--check"]);
    assert!(err.contains("is stale"), "{err}");
}

/// Mirrors hold branches and tags only (a `--mirror` of Gerrit or GitHub
/// would fetch every change); a change ref is fetched when it is named.
#[test]
fn a_change_ref_outside_branches_and_tags_is_fetched_on_demand() {
    let p = Project::shipped();
    let etcd = p.path().join("etcd");
    git(&etcd, &["checkout", "-q", "-b", "cl"], "2026-10-01T00:00:00Z");
    std::fs::write(etcd.join("CHANGE"), "a change under review\n").unwrap();
    let change = crate::support::commit_all(&etcd, "server: a change under review", "2026-10-01T00:00:00Z");
    git(&etcd, &["update-ref", "refs/changes/01/1/1", &change], "2026-10-01T00:00:00Z");
    git(&etcd, &["checkout", "-q", "main"], "2026-10-01T00:00:00Z");
    git(&etcd, &["branch", "-D", "cl"], "2026-10-01T00:00:00Z");
    p.edit_config(|t| t.replace("refs = [\"release-3.6\", \"main\"]", "refs = [\"release-3.6\", \"refs/changes/01/1/1\"]"));
    p.ok(&["lock"]);
    let lock = std::fs::read_to_string(p.path().join("toolchains.lock")).unwrap();
    assert!(lock.contains(&format!("sha = \"{change}\"")), "{lock}");
}

#[test]
fn bisect_says_what_it_needs() {
    let p = Project::shipped();
    let out = p.xtask(&["bisect"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--good") && err.contains("--bad") && err.contains("--bench"), "{err}");
    let help = p.ok(&["bisect", "--help"]);
    assert!(help.contains("git bisect run") && help.contains("results/bisect/<id>/log.json") && help.contains("--max-runs"), "{help}");
}
