//! The thin shell around git: bare mirrors of source repositories in the
//! cache, and reading commits out of them.
//!
//! Every source is fetched into one bare mirror per URL (full history, for
//! bisect), and builds read from the mirror, never from the network.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use gobench_core::hash::sha256_hex;
use gobench_core::refname;
use xshell::{cmd, Shell};

/// The mirror directory of a source URL: readable name plus a hash of the URL.
pub fn mirror_path(cache: &Path, url: &str) -> PathBuf {
    let stem: String = url
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    cache.join("mirrors").join(format!("{stem}-{}.git", &sha256_hex(url.as_bytes())[..12]))
}

/// Makes or refreshes the bare mirror of `location` (a URL or an absolute
/// path) and returns its path.
pub fn update_mirror(sh: &Shell, cache: &Path, location: &str) -> Result<PathBuf> {
    let mirror = mirror_path(cache, location);
    if mirror.join("HEAD").exists() {
        cmd!(sh, "git --git-dir={mirror} remote update --prune")
            .quiet()
            .ignore_stdout()
            .run()
            .with_context(|| format!("fetching {location} into {}", mirror.display()))?;
        return Ok(mirror);
    }
    let parent = mirror.parent().expect("mirror has a parent");
    sh.create_dir(parent).with_context(|| format!("creating {}", parent.display()))?;
    // Clone next to the final path and rename, so an interrupted clone never
    // looks like a mirror.
    let tmp = tempfile::Builder::new()
        .prefix(".clone-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a temporary directory in {}", parent.display()))?;
    let dest = tmp.path().join("m.git");
    // Branches and tags only: a `--mirror` of GitHub or Gerrit would also
    // fetch every pull request or change ref. Other refs are fetched on
    // demand by `resolve`.
    cmd!(sh, "git clone --quiet --bare {location} {dest}").quiet().run().with_context(|| {
        format!("cloning {location} (a URL needs the network; where it cannot be reached, `cargo xtask demo` runs the pipeline on local sources)")
    })?;
    cmd!(sh, "git --git-dir={dest} config remote.origin.fetch +refs/heads/*:refs/heads/*").quiet().run()?;
    cmd!(sh, "git --git-dir={dest} config --add remote.origin.fetch +refs/tags/*:refs/tags/*").quiet().run()?;
    std::fs::rename(&dest, &mirror).with_context(|| format!("moving the clone of {location} to {}", mirror.display()))?;
    Ok(mirror)
}

/// The full SHA of the commit a ref (branch, tag, SHA) names in a mirror.
pub fn resolve(sh: &Shell, mirror: &Path, git_ref: &str, location: &str) -> Result<String> {
    let spec = format!("{git_ref}^{{commit}}");
    let rev_parse = || -> Result<Option<String>> {
        let out = cmd!(sh, "git --git-dir={mirror} rev-parse --verify --quiet --end-of-options {spec}").quiet().ignore_status().output()?;
        let sha = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Ok((out.status.success() && !sha.is_empty()).then_some(sha))
    };
    if let Some(sha) = rev_parse()? {
        return Ok(sha);
    }
    // A full ref outside branches and tags (a Gerrit change, a pull request)
    // or a commit not on any branch: fetch just that.
    if git_ref.starts_with("refs/") || refname::is_full_sha(git_ref) {
        let refspec = if git_ref.starts_with("refs/") { format!("+{git_ref}:{git_ref}") } else { git_ref.to_string() };
        let _ = cmd!(sh, "git --git-dir={mirror} fetch --quiet origin {refspec}").quiet().ignore_stderr().run();
        if let Some(sha) = rev_parse()? {
            return Ok(sha);
        }
    }
    anyhow::bail!("ref `{git_ref}` was not found in {location}; check the branch, tag or commit name in the config")
}

/// The file at `path` in commit `sha`, or `None` if the commit has no such file.
pub fn show(sh: &Shell, mirror: &Path, sha: &str, path: &str) -> Result<Option<String>> {
    let spec = format!("{sha}:{path}");
    let out = cmd!(sh, "git --git-dir={mirror} cat-file -p {spec}").quiet().ignore_status().ignore_stderr().output()?;
    Ok(out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// Every file path in commit `sha`.
pub fn ls_tree(sh: &Shell, mirror: &Path, sha: &str) -> Result<Vec<String>> {
    let out = cmd!(sh, "git --git-dir={mirror} ls-tree -r --name-only {sha}")
        .quiet()
        .read()
        .with_context(|| format!("listing the files of {sha}"))?;
    Ok(out.lines().map(String::from).collect())
}

/// `git log -n 1 --format=format:FORMAT sha`, with dates in UTC.
pub fn log1(sh: &Shell, mirror: &Path, sha: &str, format: &str) -> Result<String> {
    let format = format!("--format=format:{format}");
    cmd!(sh, "git --git-dir={mirror} log -n 1 {format} {sha}")
        .env("TZ", "UTC")
        .quiet()
        .read()
        .with_context(|| format!("reading commit {sha}"))
}

/// The committer time of `sha` as RFC 3339 UTC.
pub fn commit_time(sh: &Shell, mirror: &Path, sha: &str) -> Result<String> {
    let date = "--date=format-local:%Y-%m-%dT%H:%M:%SZ";
    cmd!(sh, "git --git-dir={mirror} log -n 1 --format=format:%cd {date} {sha}")
        .env("TZ", "UTC")
        .quiet()
        .read()
        .with_context(|| format!("reading commit {sha}"))
}

/// A commit as bisect reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub sha: String,
    pub subject: String,
    pub author: String,
    /// Committer time, RFC 3339 UTC.
    pub date: String,
}

/// The first-parent commits after `good` up to and including `bad`, oldest
/// first: the candidates of a bisection. Merged side branches count as
/// their merge commit, as `git bisect --first-parent` does.
pub fn first_parent_commits(sh: &Shell, mirror: &Path, good: &str, bad: &str) -> Result<Vec<Commit>> {
    let range = format!("{good}..{bad}");
    let out = cmd!(sh, "git --git-dir={mirror} log --first-parent --reverse {COMMIT_FORMAT} {COMMIT_DATE} {range}")
        .env("TZ", "UTC")
        .quiet()
        .read()
        .with_context(|| format!("listing the commits {range} in {}", mirror.display()))?;
    out.lines().filter(|l| !l.is_empty()).map(parse_commit_line).collect()
}

/// Whether `ancestor` is an ancestor of (or the same commit as) `descendant`.
pub fn is_ancestor(sh: &Shell, mirror: &Path, ancestor: &str, descendant: &str) -> Result<bool> {
    let out = cmd!(sh, "git --git-dir={mirror} merge-base --is-ancestor {ancestor} {descendant}")
        .quiet()
        .ignore_status()
        .output()
        .with_context(|| format!("asking git whether {ancestor} is an ancestor of {descendant}"))?;
    match out.status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => anyhow::bail!("git merge-base --is-ancestor {ancestor} {descendant}: {}", String::from_utf8_lossy(&out.stderr).trim()),
    }
}

/// The best common ancestor of two commits.
pub fn merge_base(sh: &Shell, mirror: &Path, a: &str, b: &str) -> Result<String> {
    let out = cmd!(sh, "git --git-dir={mirror} merge-base {a} {b}")
        .quiet()
        .read()
        .with_context(|| format!("{a} and {b} have no common ancestor in {}", mirror.display()))?;
    Ok(out.trim().to_string())
}

/// `commit` as bisect reports it.
pub fn commit_info(sh: &Shell, mirror: &Path, sha: &str) -> Result<Commit> {
    let line = cmd!(sh, "git --git-dir={mirror} log -n 1 {COMMIT_FORMAT} {COMMIT_DATE} {sha}")
        .env("TZ", "UTC")
        .quiet()
        .read()
        .with_context(|| format!("reading commit {sha}"))?;
    parse_commit_line(&line)
}

const COMMIT_FORMAT: &str = "--format=format:%H%x1f%s%x1f%an <%ae>%x1f%cd";
const COMMIT_DATE: &str = "--date=format-local:%Y-%m-%dT%H:%M:%SZ";

fn parse_commit_line(l: &str) -> Result<Commit> {
    match l.split('\x1f').collect::<Vec<_>>()[..] {
        [sha, subject, author, date] => Ok(Commit { sha: sha.into(), subject: subject.into(), author: author.into(), date: date.into() }),
        _ => anyhow::bail!("unexpected `git log` line {l:?}"),
    }
}

/// The mirror of `location`, fetched only if it lacks one of `shas`: builds
/// work offline once the lock's commits are in the cache.
pub fn ensure_mirror(sh: &Shell, cache: &Path, location: &str, shas: &[&str]) -> Result<PathBuf> {
    let mirror = mirror_path(cache, location);
    let has_all = |m: &Path| {
        shas.iter().all(|sha| {
            let spec = format!("{sha}^{{commit}}");
            cmd!(sh, "git --git-dir={m} cat-file -e {spec}").quiet().ignore_stderr().run().is_ok()
        })
    };
    if mirror.join("HEAD").exists() && has_all(&mirror) {
        return Ok(mirror);
    }
    let mirror = update_mirror(sh, cache, location)?;
    anyhow::ensure!(has_all(&mirror), "{location} does not have commit(s) {} named by the lock; run `cargo xtask lock`", shas.join(", "));
    Ok(mirror)
}

/// Commits exactly `files` in the repository at `root`, whatever else the
/// user has staged or changed; `false` when `root` is not in a repository.
pub fn commit_files(sh: &Shell, root: &Path, files: &[PathBuf], message: &str) -> Result<bool> {
    let inside =
        cmd!(sh, "git -C {root} rev-parse --is-inside-work-tree").quiet().ignore_stderr().ignore_status().read().unwrap_or_default();
    if inside.trim() != "true" {
        return Ok(false);
    }
    // A machine without a git identity (a CI runner) still gets a commit.
    let mut identity = Vec::new();
    if cmd!(sh, "git -C {root} config user.email").quiet().ignore_stderr().read().map_or(true, |e| e.trim().is_empty()) {
        identity = vec!["-c", "user.name=gobench", "-c", "user.email=gobench@localhost"];
    }
    cmd!(sh, "git -C {root} add -- {files...}").quiet().run().context("git add of the result files")?;
    cmd!(sh, "git -C {root} {identity...} commit --quiet --no-verify --only -m {message} -- {files...}")
        .quiet()
        .run()
        .with_context(|| format!("committing {} result file(s) in {}", files.len(), root.display()))?;
    Ok(true)
}
