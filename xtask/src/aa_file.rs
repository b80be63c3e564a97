//! Reading an A/A file of `cargo xtask noise --save`, for the commands that
//! analyse one again (`noise-report`, `detect-power`).

use std::path::Path;

use anyhow::{Context, Result};
use gobench_core::aa::{self, AaDoc};

pub fn read(path: &Path) -> Result<AaDoc> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    aa::parse(&text).map_err(anyhow::Error::msg).with_context(|| format!("reading {}", path.display()))
}
