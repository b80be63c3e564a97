//! From `--matrix` and cell selector flags to the cells of a plan.

use anyhow::Result;
use gobench_core::plan::{Cell, Plan, Selector};

use crate::flags::Select;

impl Select {
    /// The selected cells. Naming nothing is an error rather than a silent
    /// "everything": a whole matrix can take hours.
    pub fn cells<'p>(&self, plan: &'p Plan) -> Result<Vec<&'p Cell>> {
        let Select { matrix, go, benchmark, workload_ref, cell } = self.clone();
        anyhow::ensure!(
            matrix || !(go.is_empty() && benchmark.is_empty() && workload_ref.is_empty() && cell.is_empty()),
            "say which cells: --matrix for all of them, or --go, --benchmark, --workload-ref, --cell"
        );
        let selector = Selector { go, benchmarks: benchmark, workload_refs: workload_ref, cells: cell };
        let cells = plan.select(&selector).map_err(anyhow::Error::msg)?;
        anyhow::ensure!(!cells.is_empty(), "the selection matches no cell of the matrix");
        Ok(cells)
    }

    /// The selected cells, the whole matrix when nothing is named: for
    /// commands that only look, such as `plan`.
    pub fn cells_or_all<'p>(&self, plan: &'p Plan) -> Result<Vec<&'p Cell>> {
        let Select { go, benchmark, workload_ref, cell, .. } = self;
        let none = go.is_empty() && benchmark.is_empty() && workload_ref.is_empty() && cell.is_empty();
        Select { matrix: self.matrix || none, ..self.clone() }.cells(plan)
    }
}
