//! Shards for CI runners: the comparison groups of a selection split into N
//! balanced shards, each run by one runner (`bench --shard I/N`).
//!
//! Architecture invariant: a shard holds whole comparison groups, so a
//! comparison never mixes hosts; the split is a pure function of the config
//! and the cells, so every runner computes the same shards on its own.

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::plan::{comparison_groups, Cell};

/// The schema of `plan --json`.
pub const SCHEMA: &str = "urn:gobench:shards:1";

/// `plan --json`: the shards, 1-based as `--shard I/N` counts them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardPlan {
    pub schema: String,
    pub shards: Vec<Shard>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 1 to N.
    pub index: u32,
    /// The sum of its groups' costs.
    pub cost: u64,
    pub groups: Vec<Group>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Cell ids, `go/workload@ref/benchmark`.
    pub cells: Vec<String>,
    /// Estimated cost: the runs of its cells, each cell at its benchmark's
    /// configured `runs` (never a `--runs` override, so that `plan` and every
    /// `bench --shard` split alike whatever their flags).
    pub cost: u64,
}

/// `--shard I/N`: run shard I of N (1 <= I <= N).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardArg {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for ShardArg {
    type Err = String;

    fn from_str(s: &str) -> Result<ShardArg, String> {
        let bad = || format!("`{s}` is not a shard: write I/N with 1 <= I <= N, e.g. 1/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(ShardArg { index, count })
    }
}

/// Splits groups of the given costs into `n` shards: the costliest group
/// first, each onto the shard with the least cost so far (the lowest index
/// on a tie), which is within 4/3 of the best split. Returns each shard's
/// group indices, ascending; shards beyond the number of groups are empty.
pub fn split(costs: &[u64], n: usize) -> Vec<Vec<usize>> {
    let mut shards: Vec<(u64, Vec<usize>)> = vec![(0, Vec::new()); n];
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by_key(|&g| std::cmp::Reverse(costs[g]));
    for g in order {
        if let Some((cost, groups)) = shards.iter_mut().min_by_key(|(cost, _)| *cost) {
            *cost += costs[g];
            groups.push(g);
        }
    }
    shards
        .into_iter()
        .map(|(_, mut groups)| {
            groups.sort_unstable();
            groups
        })
        .collect()
}

/// The comparison groups of `cells` split into `n` shards (`n` >= 1).
pub fn shards(config: &Config, cells: &[&Cell], n: u32) -> ShardPlan {
    let groups: Vec<Group> = comparison_groups(config, cells)
        .into_iter()
        .map(|g| Group {
            cost: g.iter().map(|&i| config.benchmark(&cells[i].benchmark).map_or(1, |b| u64::from(b.runs))).sum(),
            cells: g.into_iter().map(|i| cells[i].id()).collect(),
        })
        .collect();
    let costs: Vec<u64> = groups.iter().map(|g| g.cost).collect();
    let shards = split(&costs, n.max(1) as usize)
        .into_iter()
        .zip(1..)
        .map(|(members, index)| {
            let groups: Vec<Group> = members.into_iter().map(|g| groups[g].clone()).collect();
            Shard { index, cost: groups.iter().map(|g| g.cost).sum(), groups }
        })
        .collect();
    ShardPlan { schema: SCHEMA.to_string(), shards }
}

/// The cells of shard `arg`, in the order of `cells`.
pub fn shard_cells<'c>(config: &Config, cells: &[&'c Cell], arg: ShardArg) -> Vec<&'c Cell> {
    let plan = shards(config, cells, arg.count);
    let mine = &plan.shards[arg.index as usize - 1];
    cells.iter().copied().filter(|c| mine.groups.iter().any(|g| g.cells.contains(&c.id()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_balances_costs_deterministically() {
        #[rustfmt::skip]
        let cases: &[(&[u64], usize, &[&[usize]])] = &[
            (&[], 2, &[&[], &[]]),
            (&[10], 1, &[&[0]]),
            (&[10], 3, &[&[0], &[], &[]]),
            (&[10, 10, 10, 10], 2, &[&[0, 2], &[1, 3]]),
            // The costliest first: 8 alone, then 5 + 3 beside it.
            (&[3, 5, 8], 2, &[&[2], &[0, 1]]),
            (&[1, 1, 1, 1, 1, 1, 6], 2, &[&[6], &[0, 1, 2, 3, 4, 5]]),
            (&[4, 4, 4], 3, &[&[0], &[1], &[2]]),
            // Ties go to the lowest shard, groups of equal cost in order.
            (&[2, 2, 2, 2, 2], 3, &[&[0, 3], &[1, 4], &[2]]),
        ];
        for (costs, n, want) in cases {
            let got = split(costs, *n);
            let want: Vec<Vec<usize>> = want.iter().map(|s| s.to_vec()).collect();
            assert_eq!(got, want, "split({costs:?}, {n})");
            let mut all: Vec<usize> = got.concat();
            all.sort_unstable();
            assert_eq!(all, (0..costs.len()).collect::<Vec<_>>(), "every group in exactly one shard");
        }
    }

    #[test]
    fn shard_arg_parses_i_of_n() {
        assert_eq!("1/4".parse::<ShardArg>(), Ok(ShardArg { index: 1, count: 4 }));
        assert_eq!("4/4".parse::<ShardArg>(), Ok(ShardArg { index: 4, count: 4 }));
        for bad in ["0/4", "5/4", "1", "a/b", "1/0", "-1/2", "1/2/3"] {
            let err = bad.parse::<ShardArg>().unwrap_err();
            assert!(err.contains(bad) && err.contains("I/N"), "{bad}: {err}");
        }
    }

    /// The shipped matrix: 2 Go refs x (put, stm) x 2 etcd refs, 5 runs:
    /// four groups of a Go pair, 10 runs each.
    #[test]
    fn shipped_matrix_in_shards_keeps_each_go_pair_together() {
        let (config, _, plan) = crate::plan::tests::shipped();
        let cells: Vec<&Cell> = plan.cells.iter().collect();
        let two = shards(&config, &cells, 2);
        assert_eq!(two.schema, SCHEMA);
        let ids = |s: &Shard| s.groups.iter().map(|g| g.cells.join(" ")).collect::<Vec<_>>();
        assert_eq!(ids(&two.shards[0]), ["master/etcd@main/put go1.27/etcd@main/put", "master/etcd@main/stm go1.27/etcd@main/stm"]);
        assert_eq!(
            ids(&two.shards[1]),
            ["master/etcd@release-3.6/put go1.27/etcd@release-3.6/put", "master/etcd@release-3.6/stm go1.27/etcd@release-3.6/stm"]
        );
        assert_eq!((two.shards[0].cost, two.shards[1].cost), (20, 20));
        // The shards' cells are the selection, each once.
        let mut from_shards: Vec<String> =
            (1..=2).flat_map(|index| shard_cells(&config, &cells, ShardArg { index, count: 2 })).map(Cell::id).collect();
        from_shards.sort();
        let mut all: Vec<String> = cells.iter().map(|c| c.id()).collect();
        all.sort();
        assert_eq!(from_shards, all);
        let five = shards(&config, &cells, 5);
        assert_eq!(five.shards.iter().map(|s| s.groups.len()).collect::<Vec<_>>(), [1, 1, 1, 1, 0]);
        assert!(shard_cells(&config, &cells, ShardArg { index: 5, count: 5 }).is_empty());
    }
}
