//! Test fixtures: git repositories shaped like Go and etcd, made with fixed
//! authors and dates so their commit SHAs are the same on every machine, and
//! a runner for the real `xtask` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The checkout under test.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Runs git in `dir` with a fixed identity and clock, ignoring the user's
/// git configuration.
pub fn git(dir: &Path, args: &[&str], date: &str) -> String {
    let out = Command::new("git")
        .args(["-c", "init.defaultBranch=master", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Gopher")
        .env("GIT_AUTHOR_EMAIL", "gopher@example.com")
        .env("GIT_COMMITTER_NAME", "Gopher")
        .env("GIT_COMMITTER_EMAIL", "gopher@example.com")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub fn commit_all(dir: &Path, message: &str, date: &str) -> String {
    git(dir, &["add", "-A"], date);
    git(dir, &["commit", "-q", "-m", message], date);
    git(dir, &["rev-parse", "HEAD"], date)
}

/// A repository shaped like upstream Go: `master` is a devel commit of Go
/// 1.28 (no VERSION file); tag `go1.27.3` on `release-branch.go1.27` has one.
pub fn go_repo(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q"], "2026-01-01T00:00:00Z");
    let goversion = |n: u32| {
        format!("// Copyright 2018 The Go Authors.\n\npackage goversion\n\n// Version is the Go 1.x version.\nconst Version = {n}\n")
    };
    write(&dir.join("src/make.bash"), "#!/usr/bin/env bash\necho fake make.bash\n");
    write(&dir.join("src/internal/goversion/goversion.go"), &goversion(27));
    write(&dir.join("README.md"), "# The Go Programming Language\n");
    commit_all(dir, "all: start of the 1.27 cycle", "2026-02-01T10:00:00Z");
    git(dir, &["checkout", "-q", "-b", "release-branch.go1.27"], "2026-08-01T00:00:00Z");
    write(&dir.join("VERSION"), "go1.27.3\ntime 2026-11-04T18:00:00Z\n");
    commit_all(dir, "[release-branch.go1.27] go1.27.3", "2026-11-04T18:00:00Z");
    git(dir, &["tag", "go1.27.3"], "2026-11-04T18:00:00Z");
    git(dir, &["checkout", "-q", "master"], "2026-08-01T00:00:00Z");
    write(&dir.join("src/internal/goversion/goversion.go"), &goversion(28));
    commit_all(dir, "internal/goversion: update Version to 1.28", "2026-08-10T09:30:00Z");
}

/// The go.mod and go.work files of etcd's multi-module tree.
pub const ETCD_MODULES: &[&str] = &[
    "go.mod",
    "api/go.mod",
    "client/pkg/go.mod",
    "client/v3/go.mod",
    "etcdctl/go.mod",
    "etcdutl/go.mod",
    "pkg/go.mod",
    "server/go.mod",
    "tests/go.mod",
    "tools/mod/go.mod",
    "go.work",
];

const ROOT_REPLACE: &str = "\nreplace (\n\tgo.etcd.io/etcd/api/v3 => ./api\n\tgo.etcd.io/etcd/client/pkg/v3 => ./client/pkg\n\tgo.etcd.io/etcd/client/v3 => ./client/v3\n\tgo.etcd.io/etcd/etcdctl/v3 => ./etcdctl\n\tgo.etcd.io/etcd/etcdutl/v3 => ./etcdutl\n\tgo.etcd.io/etcd/pkg/v3 => ./pkg\n\tgo.etcd.io/etcd/server/v3 => ./server\n\tgo.etcd.io/etcd/tests/v3 => ./tests\n)\n";

/// A repository shaped like etcd: branches `release-3.6` and `main` whose
/// modules declare different `go` and `toolchain` lines.
pub fn etcd_repo(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q"], "2026-01-01T00:00:00Z");
    let tree = |go: &str, toolchain: &str| {
        for path in ETCD_MODULES {
            let text = if path.ends_with("go.work") {
                format!("go {go}\n\ntoolchain {toolchain}\n\nuse (\n\t.\n\t./api\n\t./server\n)\n")
            } else {
                let module = path.trim_end_matches("go.mod").trim_end_matches('/');
                let name = if module.is_empty() { "go.etcd.io/etcd/v3".to_string() } else { format!("go.etcd.io/etcd/{module}/v3") };
                // The root replaces its siblings by their directories, as
                // etcd's does; nothing replaces tools/mod.
                let replace = if module.is_empty() { ROOT_REPLACE } else { "" };
                format!("module {name}\n\ngo {go}\n\ntoolchain {toolchain}\n{replace}\nrequire go.etcd.io/bbolt v1.4.3\n")
            };
            write(&dir.join(path), &text);
        }
        write(&dir.join("Makefile"), "build:\n\t./scripts/build.sh\n");
        // A module that is test data, not part of the build: left alone.
        write(&dir.join("tests/testdata/mod/go.mod"), "module example.com/testdata\n\ngo 1.99\n");
    };
    tree("1.23.0", "go1.23.4");
    commit_all(dir, "etcd v3.6.0", "2026-03-01T12:00:00Z");
    git(dir, &["branch", "release-3.6"], "2026-03-01T12:00:00Z");
    tree("1.25.0", "go1.25.5");
    write(&dir.join("server/go.mod"), "module go.etcd.io/etcd/server/v3\n\ngo 1.25.0\n\nrequire go.etcd.io/bbolt v1.4.3\n");
    commit_all(dir, "*: bump Go to 1.25", "2026-09-01T12:00:00Z");
    git(dir, &["branch", "-m", "master", "main"], "2026-09-01T12:00:00Z");
}

/// A project directory with the shipped toolchains.toml, its Go and etcd URLs
/// pointed at local repositories `go/` and `etcd/` beside it.
pub struct Project {
    pub dir: tempfile::TempDir,
    /// `GOBENCH_CACHE` of the commands; `None`: a cache inside the project.
    pub cache: Option<PathBuf>,
}

impl Project {
    pub fn shipped() -> Project {
        let dir = tempfile::tempdir().unwrap();
        go_repo(&dir.path().join("go"));
        etcd_repo(&dir.path().join("etcd"));
        let shipped = std::fs::read_to_string(workspace().join("toolchains.toml")).unwrap();
        let text = shipped
            .replace("ref = \"master\"\n", "ref = \"master\"\nurl = \"go\"\n")
            .replace("ref = \"go1.27.3\"\n", "ref = \"go1.27.3\"\nurl = \"go\"\n")
            .replace("url = \"https://github.com/etcd-io/etcd\"", "url = \"etcd\"");
        assert_eq!(text.matches("url = \"go\"").count(), 2, "the shipped Go entries changed shape");
        assert!(text.contains("url = \"etcd\""), "the shipped etcd entry changed shape");
        write(&dir.path().join("toolchains.toml"), &text);
        Project { dir, cache: None }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config(&self) -> PathBuf {
        self.path().join("toolchains.toml")
    }

    pub fn edit_config(&self, f: impl FnOnce(String) -> String) {
        let text = std::fs::read_to_string(self.config()).unwrap();
        write(&self.config(), &f(text));
    }

    /// Runs `xtask --config <project>/toolchains.toml ARGS`, with a cache
    /// inside the project.
    pub fn xtask(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("--config")
            .arg(self.config())
            .args(args)
            .env("GOBENCH_CACHE", self.cache.clone().unwrap_or_else(|| self.path().join(".cache")))
            .output()
            .unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.xtask(args);
        assert!(
            out.status.success(),
            "xtask {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.xtask(args);
        assert!(!out.status.success(), "xtask {args:?} succeeded but should have failed:\n{}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8(out.stderr).unwrap()
    }

    /// The generated files, sorted by name, with their text.
    pub fn containerfiles(&self) -> Vec<(String, String)> {
        let mut files: Vec<_> = std::fs::read_dir(self.path().join("containerfiles"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.file_name().into_string().unwrap(), std::fs::read_to_string(e.path()).unwrap())
            })
            .collect();
        files.sort();
        files
    }
}

/// Compares `actual` with the golden file `tests/golden/<name>`; with
/// `UPDATE_GOLDEN=1` rewrites it instead.
pub fn golden(name: &str, actual: &str) {
    let path = workspace().join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        write(&path, actual);
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{} is missing; run with UPDATE_GOLDEN=1", path.display()));
    assert!(
        expected == actual,
        "{} differs from the generated text (UPDATE_GOLDEN=1 rewrites it):\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

/// The offline base image (`scripts/base-image.sh`, which does nothing when
/// the image exists), as `(reference without digest, digest)`.
pub fn base_image() -> (String, String) {
    static ONCE: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let out = Command::new("bash").arg(workspace().join("scripts/base-image.sh")).output().unwrap();
        assert!(out.status.success(), "scripts/base-image.sh failed:\n{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8(out.stdout).unwrap();
        let field =
            |k: &str| stdout.lines().find_map(|l| l.strip_prefix(k)).unwrap_or_else(|| panic!("no {k} in {stdout}")).trim().to_string();
        let image = field("image:");
        let reference = image.rsplit_once(':').map_or(image.clone(), |(r, _)| r.to_string());
        (reference, field("digest:"))
    })
    .clone()
}

/// `podman` with the project's containers.conf.
pub fn podman(args: &[&str]) -> Output {
    Command::new("podman").args(args).env("CONTAINERS_CONF", workspace().join("scripts/containers.conf")).output().unwrap()
}

/// The `src/make.bash` of a fake Go: it "builds" a `bin/go` script that
/// answers `go version`, `go env` and `go test -c`, whose test binaries print
/// Go benchmark output with the ns/op found in `src/fake/speed` at build time,
/// after sleeping `src/fake/sleep` seconds.
/// A test double for orchestration: building it takes seconds, not minutes.
const FAKE_MAKE_BASH: &str = r#"#!/bin/sh
set -eu
goroot=$(cd .. && pwd)
mkdir -p "$goroot/bin"
cat > "$goroot/bin/go" <<'GO'
#!/bin/sh
goroot=$(dirname "$(dirname "$(readlink -f "$0")")")
case "$1" in
version) echo "go version $(head -n 1 "$goroot/VERSION") linux/amd64" ;;
env) shift; for v in "$@"; do case "$v" in GOROOT) echo "$goroot" ;; GOVERSION) head -n 1 "$goroot/VERSION" ;; esac; done ;;
test)
    out=""; pkg=""
    while [ $# -gt 0 ]; do case "$1" in -o) out=$2; shift 2 ;; -*) shift ;; *) pkg=$1; shift ;; esac; done
    speed=$(cat "$goroot/src/fake/speed")
    pause=$(cat "$goroot/src/fake/sleep")
    printf '#!/bin/sh\nsleep %s\nprintf "goos: linux\\ngoarch: amd64\\npkg: %s\\nBenchmarkFake-2   \\t 1000\\t %s ns/op\\nPASS\\n"\n' "$pause" "$pkg" "$speed" > "$out"
    # A commit with src/fake/noise (a percentage) builds test binaries whose
    # ns/op is spread uniformly by that much either way, drawn at run time.
    if [ -f "$goroot/src/fake/noise" ]; then
        noise=$(cat "$goroot/src/fake/noise")
        cat > "$out" <<BIN
#!/bin/sh
sleep $pause
r=\$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
v=\$(( $speed * (1000 - $noise * 10 + r % ($noise * 20 + 1)) / 1000 ))
printf 'goos: linux\\ngoarch: amd64\\npkg: $pkg\\nBenchmarkFake-2   \\t 1000\\t %s ns/op\\nPASS\\n' "\$v"
BIN
    fi
    # A commit with src/fake/unstable builds test binaries that differ every time.
    if [ -f "$goroot/src/fake/unstable" ]; then echo ": built at $(date +%s%N)" >> "$out"; fi
    chmod +x "$out" ;;
*) echo "fake go: unsupported: $*" >&2; exit 2 ;;
esac
GO
chmod +x "$goroot/bin/go"
echo "fake make.bash: built $goroot/bin/go"
"#;

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A fake Go repository: `master` is a devel commit of Go 1.28 whose
/// make.bash works; `broken` is a commit on top whose make.bash fails.
pub fn fake_go_repo(dir: &Path, speed: u32, sleep_secs: u32) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q"], "2026-01-01T00:00:00Z");
    write(&dir.join("src/make.bash"), FAKE_MAKE_BASH);
    write(&dir.join("src/internal/goversion/goversion.go"), "package goversion\n\nconst Version = 28\n");
    write(&dir.join("src/fake/speed"), &format!("{speed}\n"));
    write(&dir.join("src/fake/sleep"), &format!("{sleep_secs}\n"));
    make_executable(&dir.join("src/make.bash"));
    commit_all(dir, "fake go", "2026-03-01T00:00:00Z");
    git(dir, &["checkout", "-q", "-b", "broken"], "2026-03-01T00:00:00Z");
    write(&dir.join("src/make.bash"), "#!/bin/sh\necho 'make.bash: cmd/compile: broken on purpose' >&2\nexit 2\n");
    make_executable(&dir.join("src/make.bash"));
    commit_all(dir, "cmd/compile: break the build", "2026-03-02T00:00:00Z");
    git(dir, &["checkout", "-q", "master"], "2026-03-02T00:00:00Z");
}

/// A first-parent history on the fake Go repository's `master`: one commit
/// per speed (the benchmark's ns/op), each run spread by `noise` percent
/// either way. Returns the commits' SHAs, oldest first.
pub fn fake_go_history(dir: &Path, speeds: &[u32], noise: u32) -> Vec<String> {
    write(&dir.join("src/fake/noise"), &format!("{noise}\n"));
    speeds
        .iter()
        .enumerate()
        .map(|(i, speed)| {
            write(&dir.join("src/fake/speed"), &format!("{speed}\n"));
            write(&dir.join(format!("src/fake/change{i}")), "a change\n");
            commit_all(dir, &format!("fake: change {i}, {speed} ns/op"), &format!("2026-04-{:02}T00:00:00Z", i + 1))
        })
        .collect()
}

/// The head of a pins file: the offline base image and its bootstrap Go.
pub fn base_pins() -> String {
    let (image, digest) = base_image();
    format!(
        "version = 1\n[base]\nimage = \"{image}\"\ndigest = \"{digest}\"\n[[base.bootstrap]]\nversion = \"1.27.3\"\ngoroot = \"/usr/local/go-bootstrap\"\n"
    )
}

/// A make.bash whose `bin/go` is the bootstrap Go (the recipe exports
/// GOROOT_BOOTSTRAP).
const BOOTSTRAP_MAKE_BASH: &str = r#"#!/bin/sh
set -eu
goroot=$(cd .. && pwd)
mkdir -p "$goroot/bin"
printf '#!/bin/sh\nGOROOT=%s exec %s/bin/go "$@"\n' "$GOROOT_BOOTSTRAP" "$GOROOT_BOOTSTRAP" > "$goroot/bin/go"
chmod +x "$goroot/bin/go"
"#;

/// A Go repository at release go1.27.3 whose make.bash takes a second: its
/// `bin/go` runs the base image's bootstrap Go 1.27.3, a real Go for tests
/// that compile Go code (a go-module build) without a real make.bash.
pub fn bootstrap_go_repo(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q"], "2026-01-01T00:00:00Z");
    write(&dir.join("src/make.bash"), BOOTSTRAP_MAKE_BASH);
    make_executable(&dir.join("src/make.bash"));
    write(&dir.join("src/internal/goversion/goversion.go"), "package goversion\n\nconst Version = 27\n");
    write(&dir.join("VERSION"), "go1.27.3\ntime 2026-11-04T18:00:00Z\n");
    commit_all(dir, "go1.27.3, built by the bootstrap Go", "2026-11-04T18:00:00Z");
    git(dir, &["tag", "go1.27.3"], "2026-11-04T18:00:00Z");
}

/// A project whose Go refs come from a fake Go repository, with one go-std
/// benchmark; `go` lists `(name, ref)` pairs for the matrix. Tests that must
/// not share images use different `speed`s (different commits, hashes).
pub fn fake_project(go: &[(&str, &str)], speed: u32, sleep_secs: u32) -> Project {
    let dir = tempfile::tempdir().unwrap();
    fake_go_repo(&dir.path().join("go"), speed, sleep_secs);
    let mut text = base_pins();
    for (name, r) in go {
        text += &format!("[[go]]\nname = \"{name}\"\nref = \"{r}\"\nurl = \"go\"\n");
    }
    text += "[[workload]]\nname = \"go-std\"\nkind = \"go-std\"\npackages = [\"strconv\"]\n";
    text += "[[benchmark]]\nname = \"fake\"\nworkload = \"go-std\"\npackage = \"strconv\"\nargs = [\"-test.bench=.\"]\nruns = 2\ntimeout_secs = 60\n";
    let names: Vec<String> = go.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    text += &format!("[matrix]\ngo = [{}]\nbenchmarks = [\"fake\"]\n", names.join(", "));
    write(&dir.path().join("toolchains.toml"), &text);
    // The cache (mirrors of this temporary repository, build records) goes
    // with the project; the images are shared through their hash tags.
    let cache = dir.path().join(".cache");
    Project { dir, cache: Some(cache) }
}

impl Project {
    /// The tag of every image `gen` wrote, toolchains first.
    pub fn image_tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = self
            .containerfiles()
            .into_iter()
            .filter_map(|(name, text)| {
                let hash = name.strip_suffix(".Containerfile")?;
                let repo = if text.contains("io.gobench.kind=\"go-toolchain\"") { "go" } else { "go-std" };
                Some(format!("localhost/gobench/{repo}:{hash}"))
            })
            .collect();
        tags.sort_by_key(|t| !t.contains("/go:"));
        tags
    }
}

pub fn image_id(tag: &str) -> Option<String> {
    let out = podman(&["image", "inspect", "--format", "{{.Id}}", tag]);
    out.status.success().then(|| String::from_utf8(out.stdout).unwrap().trim().to_string())
}

/// Names of every container, running or not, that gobench made.
pub fn gobench_containers() -> Vec<String> {
    let out = podman(&["ps", "--all", "--filter", "name=gobench-", "--format", "{{.Names}}"]);
    String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect()
}
