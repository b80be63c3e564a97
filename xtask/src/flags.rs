//! Command-line flags. Each subcommand's doc comment is its `--help` text; the
//! code that runs it lives in the module of the same name.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Reproducible build-and-bench toolkit for Go toolchains and Go programs.
///
/// Pins Go refs and workloads in `toolchains.toml`, builds content-addressed
/// podman images, benchmarks them and keeps the results as git-tracked JSON.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version)]
pub struct Xtask {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Pins file to read (default: `toolchains.toml` at the project root).
    /// Its lock file is the same path with the extension `.lock`.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    Lock(Lock),
    Gen(Gen),
    /// Build and benchmark every cell of the matrix, commit the results as
    /// JSON under `results/`, then upload them. (Not implemented yet.)
    Bench(NotYet),
    /// Find the first Go commit between a good and a bad ref that caused a
    /// measured regression. (Not implemented yet.)
    Bisect(NotYet),
    /// Rebuild a past run's image from its hash, rerun its benchmark and
    /// compare with the recorded result. (Not implemented yet.)
    Reproduce(NotYet),
    Compare(crate::compare::Args),
    Detect(crate::detect::Args),
    Report(crate::report::Args),
    Export(crate::export::Args),
    /// Upload committed results to Horreum, exactly once each. (Not
    /// implemented yet.)
    Upload(NotYet),
    /// Serve webhook-triggered benchmark jobs from a persistent queue. (Not
    /// implemented yet.)
    Serve(NotYet),
}

/// Resolve every Go ref and workload ref to a full commit SHA and write
/// `toolchains.lock`.
///
/// Uses `git ls-remote` for remote URLs and the repository itself for local
/// paths. Every later command reads the lock, never the network, so it is
/// the only step whose outcome depends on when it runs. Commit the lock.
#[derive(Debug, Args)]
pub struct Lock {
    /// Check that the lock is current instead of writing it; exit non-zero
    /// when it is missing or stale.
    #[arg(long)]
    pub check: bool,
}

/// Generate the Containerfile of every image the matrix needs into
/// `containerfiles/`, named by image hash.
///
/// Pure text from `toolchains.toml` and `toolchains.lock`: no network, no
/// podman. Prints one line per image: kind, hash, name.
#[derive(Debug, Args)]
pub struct Gen {
    /// Check that every file is present and current instead of writing;
    /// exit non-zero otherwise.
    #[arg(long)]
    pub check: bool,
}

/// A command whose issue has not landed yet; it exits non-zero.
#[derive(Debug, Args)]
pub struct NotYet {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub args: Vec<String>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_valid() {
        use clap::CommandFactory;
        super::Xtask::command().debug_assert();
    }
}
