//! `cargo xtask plan`: the comparison groups of the selected cells split
//! into balanced shards for CI runners (`bench --shard I/N` runs one).

use anyhow::{Context, Result};
use gobench_core::{plan, shard};

use crate::flags;
use crate::paths::Paths;

impl flags::Plan {
    pub fn run(self, paths: &Paths) -> Result<()> {
        let (config, lock) = paths.load_pinned()?;
        let plan = plan::plan(&config, &lock).map_err(anyhow::Error::msg)?;
        let cells = self.select.cells_or_all(&plan)?;
        let shards = shard::shards(&config, &cells, self.shards);
        if self.json {
            println!("{}", serde_json::to_string_pretty(&shards).context("serialising the shards")?);
            return Ok(());
        }
        for s in &shards.shards {
            println!("shard {}/{}: {} group(s), cost {} run(s)", s.index, self.shards, s.groups.len(), s.cost);
            for g in &s.groups {
                println!("  {:>4}  {}", g.cost, g.cells.join("  "));
            }
        }
        Ok(())
    }
}
