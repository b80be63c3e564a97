//! `cargo xtask build` with real podman on a fake Go toolchain (a make.bash
//! that takes seconds): content addressing, failures, reproducibility. The
//! real Go toolchain builds are in `pipeline.rs`.

use crate::support::{fake_project, gobench_containers, image_id, podman};

#[test]
fn a_broken_go_commit_fails_clearly_and_the_other_cells_go_on() {
    let p = fake_project(&[("good", "master"), ("bad", "broken")], 100, 0);
    p.ok(&["lock"]);
    let out = p.xtask(&["build", "--matrix"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "a failed image must fail the command:\n{err}");
    assert!(err.contains("make.bash: cmd/compile: broken on purpose"), "the error shows the log's tail:\n{err}");
    assert!(err.contains("skipped go-std on go bad"), "children of a failed image are skipped:\n{err}");
    assert!(err.contains("2 of 4 images could not be built"), "{err}");

    let tags = p.image_tags();
    let (good, bad): (Vec<_>, Vec<_>) = tags.iter().partition(|t| image_id(t).is_some());
    assert_eq!((good.len(), bad.len()), (2, 2), "good: {good:?}, bad: {bad:?}");
    // The failure is recorded beside its log.
    let bad_toolchain = bad.iter().find(|t| t.contains("/go:")).unwrap();
    let hash = bad_toolchain.rsplit(':').next().unwrap();
    let builds = p.cache.clone().unwrap().join("builds");
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(builds.join(format!("{hash}.json"))).unwrap()).unwrap();
    assert_eq!(record["status"], "failed");
    assert!(std::fs::read_to_string(builds.join(format!("{hash}.log"))).unwrap().contains("broken on purpose"));

    // Again: the good images are not rebuilt, and it says so.
    let again = p.xtask(&["build", "--go", "good"]);
    let err = String::from_utf8_lossy(&again.stderr).to_string();
    assert!(again.status.success(), "{err}");
    assert_eq!(err.matches("is already built").count(), 2, "{err}");
    assert!(!err.contains("] building "), "{err}");
    assert!(gobench_containers().is_empty());
}

#[test]
fn rebuilding_a_recipe_after_rmi_gives_the_identical_image_id() {
    let p = fake_project(&[("good", "master")], 101, 0);
    p.ok(&["lock"]);
    p.ok(&["build", "--matrix"]);
    let tags = p.image_tags();
    assert_eq!(tags.len(), 2);
    let first: Vec<String> = tags.iter().map(|t| image_id(t).expect("built")).collect();
    for tag in tags.iter().rev() {
        assert!(podman(&["rmi", tag]).status.success());
    }
    let out = p.xtask(&["build", "--matrix"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success() && err.matches("] built ").count() == 2, "both images are rebuilt:\n{err}");
    let second: Vec<String> = tags.iter().map(|t| image_id(t).expect("rebuilt")).collect();
    assert_eq!(first, second, "same recipe, same image ID");
    // No untagged intermediate images are left behind by the builds.
    for tag in &tags {
        let hash = tag.rsplit(':').next().unwrap();
        let filter = format!("label=io.gobench.image.hash={hash}");
        let out = podman(&["images", "--quiet", "--filter", &filter, "--filter", "dangling=true"]);
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "", "intermediate images of {tag} left");
    }
    // The input hash is on the image as a label.
    let label = podman(&["image", "inspect", "--format", "{{index .Labels \"io.gobench.image.hash\"}}", &tags[0]]);
    assert_eq!(String::from_utf8_lossy(&label.stdout).trim(), tags[0].rsplit(':').next().unwrap());
}

/// Regression: a `RUN --mount=type=tmpfs,target=/tmp` leaves a whiteout that
/// deletes `/tmp` from the image; programs run in it later need `/tmp`.
#[test]
fn built_images_keep_tmp_and_leave_no_scratch_behind() {
    let p = fake_project(&[("good", "master")], 105, 0);
    p.ok(&["lock"]);
    p.ok(&["build", "--matrix"]);
    for tag in p.image_tags() {
        let out = podman(&[
            "run",
            "--rm",
            "--network=none",
            &tag,
            "sh",
            "-c",
            "test -d /tmp && test -w /tmp && ! test -e /gobench-tmp && ! test -e /usr/local/go/.git",
        ]);
        assert!(out.status.success(), "{tag}: /tmp missing, or scratch or .git left in the image");
    }
}
