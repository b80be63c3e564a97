//! `cargo xtask lock`: resolve every ref of the pins file to a commit and
//! record what the Containerfiles need to know about it.

use anyhow::{Context, Result};
use gobench_core::config::Config;
use gobench_core::goversion;
use gobench_core::lock::{self, Lock, LockedGo, LockedModule, LockedWorkload, ModFile, LOCK_VERSION};
use xshell::Shell;

use crate::paths::{write_atomic, Paths};
use crate::{flags, git, modules};

impl flags::Lock {
    pub fn run(self, sh: &Shell, paths: &Paths) -> Result<()> {
        let config = paths.load_config()?;
        if self.check {
            let lock = paths.load_lock()?;
            let missing = lock.missing(&config);
            anyhow::ensure!(
                missing.is_empty(),
                "{} is stale: it does not cover {}; run `cargo xtask lock`",
                paths.lock.display(),
                missing.join(", ")
            );
            println!("{} is current", paths.lock.display());
            return Ok(());
        }
        let mut new = Lock { version: LOCK_VERSION, go: Vec::new(), workload: Vec::new(), go_modules: Vec::new() };
        for w in lock::wanted(&config) {
            if w.kind == "module" {
                eprintln!("resolving module {}@{} of workload `{}` through the module proxy", w.url, w.git_ref, w.name);
                new.go_modules.push(lock_module(&config, w)?);
                continue;
            }
            let location = paths.source_location(&w.url);
            eprintln!("resolving {} `{}` ref `{}` from {}", w.kind, w.name, w.git_ref, w.url);
            let mirror = git::update_mirror(sh, &paths.cache, &location)?;
            let sha = git::resolve(sh, &mirror, &w.git_ref, &w.url)?;
            let commit_time = git::commit_time(sh, &mirror, &sha)?;
            if w.kind == "go" {
                new.go.push(lock_go(sh, &mirror, w, sha, commit_time)?);
            } else {
                new.workload.push(lock_workload(sh, &mirror, w, sha, commit_time)?);
            }
        }
        let text = new.to_toml();
        // Validate what we are about to write with the same parser readers use.
        Lock::parse(&text).map_err(|e| anyhow::anyhow!("internal error: the new lock does not parse: {e}"))?;
        write_atomic(&paths.lock, text.as_bytes())?;
        for g in &new.go {
            let kind = match &g.devel {
                Some(d) => format!("devel `{d}`, built as {}", g.version()),
                None => "release".to_string(),
            };
            println!("go {:<16} {} {} ({kind})", g.name, &g.sha[..12], g.version());
        }
        for w in &new.workload {
            println!("{} {:<13} {} ({} go.mod/go.work files)", w.name, w.git_ref, &w.sha[..12], w.modules.len());
        }
        for m in &new.go_modules {
            println!("{} {:<13} {}", m.workload, m.git_ref, m.at());
        }
        println!("wrote {}", paths.lock.display());
        Ok(())
    }
}

/// The locked entry of Go commit `sha` in `mirror`: its Go version, and the
/// devel string `cmd/dist` would give it.
pub fn lock_go(sh: &Shell, mirror: &std::path::Path, w: lock::Wanted, sha: String, commit_time: String) -> Result<LockedGo> {
    let goversion_go = git::show(sh, mirror, &sha, "src/internal/goversion/goversion.go")?
        .with_context(|| format!("{} at {sha} has no src/internal/goversion/goversion.go; is it a Go repository?", w.url))?;
    let minor = goversion::minor_from_goversion_go(&goversion_go)
        .with_context(|| format!("src/internal/goversion/goversion.go at {sha} has no `const Version = N` line"))?;
    let version_file = git::show(sh, mirror, &sha, "VERSION")?.and_then(|v| v.lines().next().map(str::to_string));
    if let Some(v) = &version_file {
        anyhow::ensure!(goversion::parse_release(v).is_some(), "VERSION at {sha} says {v:?}, which is not a Go release version");
    }
    let devel = match version_file {
        Some(_) => None,
        None => Some(goversion::devel_string(minor, &git::log1(sh, mirror, &sha, "%h %cd")?)),
    };
    Ok(LockedGo { name: w.name, url: w.url, git_ref: w.git_ref, sha, commit_time, version_file, minor, devel })
}

/// The locked entry of workload commit `sha` in `mirror`, with its go.mod
/// and go.work files.
pub fn lock_workload(sh: &Shell, mirror: &std::path::Path, w: lock::Wanted, sha: String, commit_time: String) -> Result<LockedWorkload> {
    let modules = git::ls_tree(sh, mirror, &sha)?
        .into_iter()
        .filter(|p| lock::is_mod_path(p))
        .map(|p| Ok(ModFile::parse(&p, &git::show(sh, mirror, &sha, &p)?.unwrap_or_default())))
        .collect::<Result<Vec<_>>>()?;
    Ok(LockedWorkload { name: w.name, url: w.url, git_ref: w.git_ref, sha, commit_time, modules })
}

/// The locked entry of module `w.url` at `w.git_ref` (a version, or a
/// branch or commit the proxy resolves to a pseudo-version): `go list -m
/// -json` of the host's Go with the module fetch's Go settings, in an empty
/// directory with a module cache of its own, so neither a go.mod around nor
/// the user's cache answers in place of the proxy.
pub fn lock_module(config: &Config, w: lock::Wanted) -> Result<LockedModule> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Listed {
        version: String,
        time: String,
    }
    let go = modules::host_go().context("locking a go-module workload needs Go on the host (`go` on PATH or /usr/local/go/bin/go)")?;
    let scratch = tempfile::tempdir().context("creating a scratch directory for `go list -m`")?;
    let mut env = modules::go_env(config);
    let flags = env.iter().position(|(k, _)| k == "GOFLAGS").map(|i| env.remove(i).1).unwrap_or_default();
    let query = format!("{}@{}", w.url, w.git_ref);
    let out = std::process::Command::new(go)
        .args(["list", "-m", "-json", &query])
        .current_dir(scratch.path())
        .envs(env.iter().cloned())
        // The cache's files are written read-only without -modcacherw, and
        // the scratch directory could not be removed.
        .env("GOFLAGS", format!("{flags} -modcacherw"))
        .env("GOMODCACHE", scratch.path().join("modcache"))
        .env("GOTOOLCHAIN", "local")
        .output()
        .with_context(|| format!("running `{go} list -m -json {query}`"))?;
    anyhow::ensure!(
        out.status.success(),
        "module {query} of workload `{}` could not be resolved (GOPROXY={}): {}",
        w.name,
        modules::proxy_in_use(&env),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let listed: Listed =
        serde_json::from_slice(&out.stdout).with_context(|| format!("reading the output of `go list -m -json {query}`"))?;
    Ok(LockedModule { workload: w.name, git_ref: w.git_ref, path: w.url, version: listed.version, time: listed.time })
}

/// Makes the lock when there is none yet (a fresh clone), so the main job is
/// one command. A stale lock is left alone: moving pins is the user's call.
pub fn ensure(sh: &Shell, paths: &Paths) -> Result<()> {
    if !paths.lock.exists() {
        eprintln!("{} does not exist yet: resolving the refs first (`cargo xtask lock`)", paths.lock.display());
        flags::Lock { check: false }.run(sh, paths)?;
    }
    Ok(())
}
