//! `cargo xtask reproduce` on a fresh clone of a results repository, with
//! no image and no cache: the fake Go toolchain for the flow and its
//! errors (real podman, real git).

use std::path::Path;
use std::process::Command;

use gobench_core::schema::ResultDoc;

use crate::support::{fake_project, git, podman, Project};

fn docs(dir: &Path) -> Vec<(String, ResultDoc)> {
    let mut out = Vec::new();
    for inv in std::fs::read_dir(dir.join("results")).into_iter().flatten() {
        let inv = inv.unwrap().path();
        if !inv.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&inv).unwrap() {
            let f = f.unwrap().path();
            let rel = f.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            out.push((rel, serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap()));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Runs xtask in `dir` (a clone) with its own, initially empty cache.
fn xtask(dir: &Path, cache: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--config")
        .arg(dir.join("toolchains.toml"))
        .args(args)
        .env("GOBENCH_CACHE", cache)
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// A benched project whose Go URL is absolute, so a clone elsewhere finds it.
fn benched() -> (Project, ResultDoc) {
    let p = fake_project(&[("a", "master")], 111, 0);
    let go = p.path().join("go");
    p.edit_config(|t| t.replace("url = \"go\"", &format!("url = \"{}\"", go.display())).replace("runs = 2", "runs = 6"));
    git(p.path(), &["init", "-q"], "2026-01-01T00:00:00Z");
    std::fs::write(p.path().join(".gitignore"), "/go/\n/.cache/\n").unwrap();
    git(p.path(), &["add", "toolchains.toml", ".gitignore"], "2026-01-01T00:00:00Z");
    git(p.path(), &["commit", "-q", "-m", "pins"], "2026-01-01T00:00:00Z");
    p.ok(&["bench", "--matrix", "--no-upload"]);
    let (_, doc) = docs(p.path()).pop().unwrap();
    (p, doc)
}

#[test]
fn reproduce_from_a_short_prefix_on_a_fresh_clone() {
    let (p, original) = benched();
    let hash = original.provenance.image.hash.clone();
    let clone = tempfile::tempdir().unwrap();
    let c = clone.path().join("results-repo");
    git(clone.path(), &["clone", "-q", p.path().to_str().unwrap(), c.to_str().unwrap()], "2026-01-01T00:00:00Z");
    // No image and no cache: everything comes from the clone.
    for tag in [&original.provenance.image.tag, &original.provenance.toolchain_image.tag] {
        assert!(podman(&["rmi", tag]).status.success());
    }
    let cache = tempfile::tempdir().unwrap();

    let (ok, out) = xtask(&c, cache.path(), &["reproduce", &hash[..8]]);
    assert!(ok, "identical inputs and a constant fake benchmark reproduce:\n{out}");
    let id = &original.provenance.image.id[..12];
    assert!(out.contains(&format!("rebuilt, image {id} identical to the recorded one")), "{out}");
    assert!(out.contains("verdict: reproduced within noise"), "{out}");
    assert!(out.contains("noise floor:"), "{out}");
    let reproduced: Vec<_> = docs(&c).into_iter().filter(|(_, d)| d.reproduces.is_some()).collect();
    assert_eq!(reproduced.len(), 1);
    let (path, doc) = &reproduced[0];
    let r = doc.reproduces.as_ref().unwrap();
    assert_eq!(r.of, docs(p.path())[0].0, "it links to the original");
    assert!(r.images.iter().all(|i| i.rebuilt && i.identical), "{:?}", r.images);
    assert_eq!(doc.runs.len(), 6, "the recorded run count");
    assert_eq!(doc.provenance.spec.as_ref().unwrap().args, original.provenance.spec.as_ref().unwrap().args);
    let log = git(&c, &["log", "--format=%s", "-1", "--", path], "2026-01-01T00:00:00Z");
    assert!(log.starts_with("results: reproduction of"), "committed: {log}");
    assert!(podman(&["image", "exists", &original.provenance.image.tag]).status.code() == Some(1), "rebuilt images are removed again");

    // The errors, each naming what to do.
    let (ok, out) = xtask(&c, cache.path(), &["reproduce", "0000dead"]);
    assert!(!ok && out.contains("no image hash starts with 0000dead"), "{out}");
    let twin = format!("{}{}", &hash[..8], "f".repeat(56));
    std::fs::write(c.join(format!("containerfiles/{twin}.Containerfile")), "FROM scratch\n").unwrap();
    let (ok, out) = xtask(&c, cache.path(), &["reproduce", &hash[..8]]);
    assert!(!ok && out.contains("ambiguous") && out.contains(&hash) && out.contains(&twin), "{out}");
    let (ok, out) = xtask(&c, cache.path(), &["reproduce", &hash[..12]]);
    assert!(ok && !out.contains("ambiguous"), "a longer prefix is unique again:\n{out}");

    let recipe = c.join(format!("containerfiles/{hash}.recipe.toml"));
    let text = std::fs::read_to_string(&recipe).unwrap();
    let empty = clone.path().join("empty.git");
    git(clone.path(), &["init", "-q", "--bare", empty.to_str().unwrap()], "2026-01-01T00:00:00Z");
    let toolchain = c.join(format!("containerfiles/{}.recipe.toml", original.provenance.toolchain_image.hash));
    let tc_text = std::fs::read_to_string(&toolchain).unwrap();
    std::fs::write(&toolchain, tc_text.replace(&p.path().join("go").display().to_string(), &empty.display().to_string())).unwrap();
    let fresh_cache = tempfile::tempdir().unwrap();
    let (ok, out) = xtask(&c, fresh_cache.path(), &["reproduce", &hash[..12]]);
    let sha = &original.provenance.go.sha;
    assert!(
        !ok && out.contains(&format!("commit {sha}")) && out.contains(&empty.display().to_string()),
        "names the SHA and the URL:\n{out}"
    );
    std::fs::write(&toolchain, tc_text).unwrap();

    std::fs::remove_file(&recipe).unwrap();
    let (ok, out) = xtask(&c, cache.path(), &["reproduce", &docs(&c)[0].0]);
    assert!(!ok && out.contains(&format!("{hash}.recipe.toml")) && out.contains("recipe was deleted"), "{out}");
    assert!(!out.contains("building"), "nothing is built when a recipe is missing:\n{out}");
    std::fs::write(&recipe, text).unwrap();
}

/// A recipe that is not reproducible (its test binary holds the build
/// time): `--rebuild` builds it beside the present image, says that the IDs
/// differ, which layer, and which files.
#[test]
fn a_rebuild_that_differs_names_its_layer_and_files() {
    let p = fake_project(&[("a", "master")], 112, 0);
    let go = p.path().join("go");
    std::fs::write(go.join("src/fake/unstable"), "").unwrap();
    crate::support::commit_all(&go, "fake: unstable builds", "2026-03-05T00:00:00Z");
    git(p.path(), &["init", "-q"], "2026-01-01T00:00:00Z");
    p.ok(&["bench", "--matrix", "--no-upload"]);
    let (_, original) = docs(p.path()).pop().unwrap();
    let hash = &original.provenance.image.hash;
    let out = p.xtask(&["reproduce", &hash[..12], "--rebuild", "--runs", "2"]);
    let text = format!("{}{}{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(": present, image ") && text.contains("identical to the recorded one"), "the toolchain is kept:\n{text}");
    assert!(text.contains(": rebuilt, image ") && text.contains("differs from the recorded"), "{text}");
    let layers = original.provenance.image.layers.len();
    assert!(text.contains(&format!("layer {} differs", layers - 1)), "the go-std layer on top:\n{text}");
    assert!(text.contains("~ /opt/gostd/strconv.test"), "the test binary differs:\n{text}");
    let (_, doc) = docs(p.path()).into_iter().find(|(_, d)| d.reproduces.is_some()).unwrap();
    let check = &doc.reproduces.unwrap().images[1];
    assert!(!check.identical && check.differing_files.contains(&"~ /opt/gostd/strconv.test".to_string()), "{check:?}");
    assert!(podman(&["image", "exists", &format!("localhost/gobench/rebuild:{hash}")]).status.code() == Some(1), "the rebuild is removed");
    assert!(podman(&["image", "exists", &original.provenance.image.tag]).status.success(), "the original stays");
    podman(&["rmi", &original.provenance.image.tag]);
}
