//! Reading A/A files of `cargo xtask noise --save`, for the commands that
//! analyse them again (`noise-report`, `detect-power`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use gobench_core::aa::{self, AaDoc};

fn read(path: &Path) -> Result<AaDoc> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    aa::parse(&text).map_err(anyhow::Error::msg).with_context(|| format!("reading {}", path.display()))
}

/// Several A/A files of one spec on one host, as one measurement.
pub fn read_all(paths: &[PathBuf]) -> Result<AaDoc> {
    let docs = paths.iter().map(|p| read(p)).collect::<Result<Vec<_>>>()?;
    aa::concat(&docs).map_err(anyhow::Error::msg)
}
