//! `cargo xtask results merge`: the result trees of shards copied into the
//! project's `results/` and `containerfiles/` and committed at once, the
//! upload ledger untouched; conflicts are refused before anything changes.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use gobench_core::hash::sha256_hex;
use gobench_core::merge::{self, Files};
use xshell::Shell;

use crate::paths::{files_under, write_atomic, Paths};
use crate::upload::LEDGER_PATH;
use crate::{flags, git};

/// The trees a shard contributes, relative to its project directory.
const TREES: [&str; 2] = ["results", "containerfiles"];

impl flags::Results {
    pub fn run(self, sh: &Shell, paths: &Paths) -> Result<()> {
        match self.cmd {
            flags::ResultsCmd::Merge(m) => m.run(sh, paths),
        }
    }
}

impl flags::Merge {
    fn run(self, sh: &Shell, paths: &Paths) -> Result<()> {
        let mut sources = Vec::new();
        for dir in &self.dirs {
            anyhow::ensure!(dir.is_dir(), "{} is not a directory; name each shard's project (or artifact) directory", dir.display());
            let files = digests(dir)?;
            anyhow::ensure!(
                !files.is_empty(),
                "{} has no results/ or containerfiles/ files; is it a shard's project directory?",
                dir.display()
            );
            sources.push((dir.display().to_string(), files));
        }
        let project = digests(&paths.root)?;
        let copies = merge::merge(&project, &sources, &[LEDGER_PATH]).map_err(|conflicts| {
            let list: Vec<String> = conflicts.iter().map(|c| format!("  {c}")).collect();
            anyhow::anyhow!(
                "{} file(s) conflict; nothing was changed (a result file names its invocation time and cell, \
                 so two shards should never write the same one: were they run from different checkouts?):\n{}",
                conflicts.len(),
                list.join("\n")
            )
        })?;
        if copies.is_empty() {
            println!("nothing to merge: every file of {} is already here", self.dirs.len());
            return Ok(());
        }
        let mut written = Vec::new();
        for (path, from) in &copies {
            let source = self.dirs[*from].join(path);
            let bytes = std::fs::read(&source).with_context(|| format!("reading {}", source.display()))?;
            let target = paths.root.join(path);
            write_atomic(&target, &bytes)?;
            written.push(target);
        }
        let results = copies.iter().filter(|(p, _)| p.starts_with("results/")).count();
        println!(
            "merged {} file(s) from {} shard(s): {results} result(s), {} recipe file(s)",
            copies.len(),
            self.dirs.len(),
            copies.len() - results
        );
        if self.no_commit {
            return Ok(());
        }
        let message = format!("results: merge {} shard(s), {results} result file(s)\n", self.dirs.len());
        match git::commit_files(sh, &paths.root, &written, &message)? {
            true => println!("committed {} file(s)", written.len()),
            false => eprintln!("note: {} is not in a git repository; the files were copied but not committed", paths.root.display()),
        }
        Ok(())
    }
}

/// The files of `root`'s trees, by path relative to `root` (with `/`), with
/// their content digests.
fn digests(root: &Path) -> Result<Files> {
    let mut out = Files::new();
    for tree in TREES {
        for file in files_under(&root.join(tree), |_| true)? {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            out.insert(relative(root, &file), sha256_hex(&bytes));
        }
    }
    Ok(out)
}

fn relative(root: &Path, file: &Path) -> String {
    let rel: PathBuf = file.strip_prefix(root).unwrap_or(file).to_path_buf();
    rel.to_string_lossy().replace('\\', "/")
}
