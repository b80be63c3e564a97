//! Named paths of a project checkout, and loading the pins it holds.
//!
//! The project root is the directory of the pins file: its lock,
//! `containerfiles/` and `results/` live beside it, so a test or a user can
//! point `--config` at another directory and get a self-contained project.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use gobench_core::config::{self, Config};
use gobench_core::lock::Lock;

#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub config: PathBuf,
    pub lock: PathBuf,
    pub containerfiles: PathBuf,
    pub results: PathBuf,
    /// Git mirrors, build logs, downloads: kept between runs, never committed.
    pub cache: PathBuf,
}

/// The checkout this xtask was built from.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask is inside the workspace").to_path_buf()
}

impl Paths {
    pub fn new(config: Option<&Path>) -> Result<Paths> {
        let config = match config {
            Some(c) => std::path::absolute(c).with_context(|| format!("resolving {}", c.display()))?,
            None => workspace_root().join("toolchains.toml"),
        };
        let root = config.parent().context("the config path has no parent directory")?.to_path_buf();
        let cache = match std::env::var_os("GOBENCH_CACHE") {
            Some(c) => PathBuf::from(c),
            None => workspace_root().join(".cache"),
        };
        Ok(Paths {
            lock: config.with_extension("lock"),
            containerfiles: root.join("containerfiles"),
            results: root.join("results"),
            root,
            config,
            cache,
        })
    }

    pub fn load_config(&self) -> Result<Config> {
        let text = std::fs::read_to_string(&self.config).with_context(|| format!("reading {}", self.config.display()))?;
        Ok(config::parse(&self.config.display().to_string(), &text)?)
    }

    pub fn load_lock(&self) -> Result<Lock> {
        let text = match std::fs::read_to_string(&self.lock) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                anyhow::bail!(
                    "{} does not exist; run `cargo xtask lock` to resolve the refs of {}",
                    self.lock.display(),
                    self.config.display()
                )
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.lock.display())),
        };
        Lock::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}; run `cargo xtask lock` to rewrite it", self.lock.display()))
    }

    /// The config and a lock that covers it.
    pub fn load_pinned(&self) -> Result<(Config, Lock)> {
        let config = self.load_config()?;
        let lock = self.load_lock()?;
        let missing = lock.missing(&config);
        if !missing.is_empty() {
            anyhow::bail!("{} is stale: it does not cover {}; run `cargo xtask lock`", self.lock.display(), missing.join(", "));
        }
        Ok((config, lock))
    }

    /// Resolves a source URL or path from the config: relative paths are
    /// relative to the project root.
    pub fn source_location(&self, url: &str) -> String {
        if url.contains("://") || is_scp_like(url) || Path::new(url).is_absolute() {
            url.to_string()
        } else {
            self.root.join(url).display().to_string()
        }
    }
}

/// `user@host:path`, git's scp-like syntax.
fn is_scp_like(url: &str) -> bool {
    match url.split_once(':') {
        Some((host, _)) => !host.contains('/') && host.contains('@'),
        None => false,
    }
}

/// Writes a file by writing a temporary file beside it and renaming it, so a
/// reader never sees half a file and an interruption leaves the old one.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().context("path has no parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(contents).with_context(|| format!("writing {}", tmp.path().display()))?;
    tmp.as_file().sync_all().with_context(|| format!("syncing {}", tmp.path().display()))?;
    tmp.persist(path).with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}

/// Where bisect keeps its logs, pages and run documents, below `results/`.
/// Readers of the history skip it: a bisect's runs measure commits out of
/// order, one at a time, and are evidence for the bisect, not history.
pub fn bisect_dir(results: &Path) -> PathBuf {
    results.join("bisect")
}

/// Every `.json` file below `dir`, sorted; none when `dir` does not exist.
/// The walker every reader of `results/` shares.
pub fn json_files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    files_under(dir, |path| path.extension().is_some_and(|e| e == "json"))
}

/// Every regular file below `dir` that `keep` accepts, sorted; none when
/// `dir` does not exist.
pub fn files_under(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    fn walk(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) -> Result<()> {
        for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
            let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
            let path = entry.path();
            let kind = entry.file_type().with_context(|| format!("reading the type of {}", path.display()))?;
            if kind.is_dir() {
                walk(&path, keep, out)?;
            } else if kind.is_file() && keep(&path) {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    if dir.is_dir() {
        walk(dir, &keep, &mut out)?;
    }
    out.sort();
    Ok(out)
}
