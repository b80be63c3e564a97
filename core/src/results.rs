//! From captured benchmark output to the numbers of a result document:
//! judging a run, naming its metrics, aggregating valid runs, and the order
//! in which a matrix's runs are interleaved.

use std::collections::BTreeMap;

use crate::parse::{self, RunExit, Validity};
use crate::schema::{Metric, ResultDoc, Run, SeedLatency, SeedResults};
use crate::spec::Protocol;
use crate::stats::{self, Direction};

/// The verdict and metric values of one run's output.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub validity: Validity,
    /// Metric name -> (unit, direction, value).
    pub values: BTreeMap<String, (String, Direction, f64)>,
}

/// Parses and judges the stdout of one run of a benchmark with `args`.
pub fn judge(protocol: Protocol, args: &[String], stdout: &str, exit: RunExit) -> Judged {
    match protocol {
        Protocol::EtcdPair => judge_etcd(args, stdout, exit),
        Protocol::TestBinary => judge_gotest(stdout, exit),
    }
}

fn judge_etcd(args: &[String], stdout: &str, exit: RunExit) -> Judged {
    let report = parse::etcd::parse(stdout);
    let validity = parse::etcd::judge(&report, parse::etcd::expected_total(args), exit);
    let mut values = BTreeMap::new();
    let mut put = |name: &str, unit: &str, dir: Direction, v: Option<f64>| {
        if let Some(v) = v {
            values.insert(name.to_string(), (unit.to_string(), dir, v));
        }
    };
    if let Some(s) = &report.summary {
        put("rps", "req/s", Direction::HigherIsBetter, s.requests_per_sec);
        put("latency_average", "s", Direction::LowerIsBetter, s.average_secs);
        put("latency_fastest", "s", Direction::LowerIsBetter, s.fastest_secs);
        put("latency_slowest", "s", Direction::LowerIsBetter, s.slowest_secs);
        put("latency_stddev", "s", Direction::LowerIsBetter, s.stddev_secs);
    }
    for (p, secs) in &report.percentiles {
        put(&format!("latency_p{}", format_percentile(*p)), "s", Direction::LowerIsBetter, Some(*secs));
    }
    Judged { validity, values }
}

/// `99.9` -> `99_9`, `50` -> `50`: a percentile as a metric name part.
fn format_percentile(p: f64) -> String {
    let s = format!("{p}");
    s.replace('.', "_")
}

/// Units where a bigger number is better; everything else Go prints
/// (ns/op, B/op, allocs/op, custom costs) is a cost.
fn gotest_direction(unit: &str) -> Direction {
    if unit.ends_with("/s") {
        Direction::HigherIsBetter
    } else {
        Direction::LowerIsBetter
    }
}

fn judge_gotest(stdout: &str, exit: RunExit) -> Judged {
    let out = parse::gotest::parse(stdout);
    let validity = parse::gotest::judge(&out, exit);
    // With -test.count > 1 a benchmark appears several times in one run: the
    // run's value is their median.
    let mut seen: BTreeMap<String, (String, Vec<f64>)> = BTreeMap::new();
    for r in &out.results {
        for (unit, v) in &r.values {
            seen.entry(format!("{} {unit}", r.name)).or_insert_with(|| (unit.clone(), Vec::new())).1.push(*v);
        }
    }
    let values = seen
        .into_iter()
        .filter_map(|(name, (unit, vs))| {
            let dir = gotest_direction(&unit);
            Some((name, (unit, dir, stats::median(&vs)?)))
        })
        .collect();
    Judged { validity, values }
}

/// Every metric over the valid runs: values in run order and their summary.
pub fn metrics<'a>(runs: impl IntoIterator<Item = &'a Judged>) -> BTreeMap<String, Metric> {
    let mut out: BTreeMap<String, Metric> = BTreeMap::new();
    for run in runs.into_iter().filter(|r| r.validity.valid) {
        for (name, (unit, dir, v)) in &run.values {
            out.entry(name.clone())
                .or_insert_with(|| Metric { unit: unit.clone(), direction: *dir, values: Vec::new(), summary: None })
                .values
                .push(*v);
        }
    }
    for m in out.values_mut() {
        m.summary = stats::summarize(&m.values);
    }
    out
}

/// The seed pipeline's fields: `rps` for a put benchmark, `rps_stm` for an
/// stm one, and latency medians.
pub fn seed_results(benchmark_args: &[String], metrics: &BTreeMap<String, Metric>) -> SeedResults {
    let median = |name: &str| metrics.get(name).and_then(|m| m.summary.as_ref()).map(|s| s.median);
    let is_stm = parse::etcd::Invocation::read(benchmark_args).subcommand == Some("stm");
    let rps = median("rps");
    let latency = match (median("latency_fastest"), median("latency_slowest"), median("latency_average"), median("latency_stddev")) {
        (Some(fastest), Some(slowest), Some(average), Some(stddev)) => {
            Some(SeedLatency { fastest, slowest, average, stddev, p99_9: median("latency_p99_9") })
        }
        _ => None,
    };
    SeedResults { rps: if is_stm { None } else { rps }, rps_stm: if is_stm { rps } else { None }, latency }
}

/// The order of one round of a matrix's runs: repetition by repetition,
/// every group once per repetition, so slow drift of a noisy machine hits
/// every Go ref alike (A B B A, not A A B B). `groups` lists cell indices;
/// a group of two cells (differing only in the Go ref) is a pair and runs in
/// the orientation `firsts[g][r]` (from [`stats::pair_order`]), other groups
/// in their listed order. Group `g` runs `firsts[g].len()` repetitions; cell
/// `c`'s repetitions are numbered from `start[c]`. The result lists
/// `(cell, repetition)`.
pub fn paired_interleave(groups: &[Vec<usize>], start: &[u32], firsts: &[Vec<stats::First>]) -> Vec<(usize, u32)> {
    let max = firsts.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::new();
    for r in 0..max {
        for (cells, fs) in groups.iter().zip(firsts).filter(|(_, fs)| r < fs.len()) {
            let mut cells = cells.clone();
            if cells.len() == 2 && fs[r] == stats::First::B {
                cells.reverse();
            }
            out.extend(cells.into_iter().map(|c| (c, start[c] + r as u32)));
        }
    }
    out
}

/// The valid pairs of two paired documents, by repetition: `(rep, a run, b run)`.
pub fn valid_pairs<'d>(a: &'d ResultDoc, b: &'d ResultDoc) -> Vec<(u32, &'d Run, &'d Run)> {
    a.runs
        .iter()
        .filter_map(|ra| Some((ra.index, ra, b.runs.iter().find(|rb| rb.index == ra.index)?)))
        .filter(|(_, ra, rb)| ra.validity.valid && rb.validity.valid)
        .collect()
}

/// The paired decision ([`stats::paired_decision`]) of every metric both
/// documents' valid pairs have, `magnitude` being the change that still
/// counts as SAME (0.03 = 3%).
pub fn pair_decisions(a: &ResultDoc, b: &ResultDoc, magnitude: f64) -> BTreeMap<String, stats::Decision> {
    let pairs = valid_pairs(a, b);
    let names: std::collections::BTreeSet<&String> =
        pairs.iter().flat_map(|(_, ra, rb)| ra.values.keys().filter(|k| rb.values.contains_key(*k))).collect();
    names
        .into_iter()
        .map(|name| {
            let (xa, xb): (Vec<f64>, Vec<f64>) =
                pairs.iter().filter_map(|(_, ra, rb)| Some((*ra.values.get(name)?, *rb.values.get(name)?))).unzip();
            let decision = stats::paired_compare(&xa, &xb).map_or(stats::Decision::Unknown, |c| stats::paired_decision(&c, magnitude));
            (name.clone(), decision)
        })
        .collect()
}

/// The file name of a cell's result within an invocation's directory.
pub fn file_name(cell_id: &str) -> String {
    format!("{}.json", cell_id.replace('/', "_"))
}

/// The file name of run `index`'s profile of `kind` (`cpu`, `heap`), beside
/// the document `doc_file` (`<cell>.json`, or a serve job's
/// `<cell>.job-N-side.json`): gzipped pprof, as Go writes it.
pub fn profile_file_name(doc_file: &str, index: u32, kind: &str) -> String {
    format!("{}.run-{index}.{kind}.pb.gz", doc_file.strip_suffix(".json").unwrap_or(doc_file))
}

/// An invocation's directory name from its start time (`2026-11-21T05:50:00Z`),
/// without characters some file systems refuse.
pub fn invocation_dir(started: &str) -> String {
    started.replace(':', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn etcd_put_output_gives_seed_metrics() {
        let a = args("--conns=10 --clients=100 put --key-size=8 --sequential-keys --total=20000 --val-size=256");
        let j = judge(Protocol::EtcdPair, &a, &fixture("etcd-benchmark/put-3.6-default-precision.txt"), RunExit::SUCCESS);
        assert!(j.validity.valid, "{:?}", j.validity);
        assert_eq!(j.values["rps"], ("req/s".to_string(), Direction::HigherIsBetter, 15480.3636));
        assert_eq!(j.values["latency_p99_9"].2, 0.0200);
        assert_eq!(j.values["latency_p50"].2, 0.0057);
        let m = metrics([&j, &j]);
        assert_eq!(m["rps"].values, vec![15480.3636, 15480.3636]);
        let seed = seed_results(&a, &m);
        assert_eq!(seed.rps, Some(15480.3636));
        assert_eq!(seed.rps_stm, None);
        assert_eq!(seed.latency.unwrap().p99_9, Some(0.0200));
    }

    #[test]
    fn stm_goes_to_rps_stm() {
        let a = args("--precise --conns=10 --clients=100 stm --keys=1000 --keys-per-txn=2 --val-size=8 --total=5000");
        let j = judge(Protocol::EtcdPair, &a, &fixture("etcd-benchmark/stm-3.6-precise.txt"), RunExit::SUCCESS);
        assert!(j.validity.valid, "{:?}", j.validity);
        let seed = seed_results(&a, &metrics([&j]));
        assert_eq!((seed.rps, seed.rps_stm), (None, Some(5666.952721594959)));
    }

    /// A user named `stm` does not make a `put` an `stm` benchmark.
    #[test]
    fn a_flag_value_is_not_the_subcommand() {
        let a = args("--user stm put --total=20000");
        let j = judge(Protocol::EtcdPair, &a, &fixture("etcd-benchmark/put-3.6-default-precision.txt"), RunExit::SUCCESS);
        let seed = seed_results(&a, &metrics([&j]));
        assert_eq!((seed.rps, seed.rps_stm), (Some(15480.3636), None));
    }

    #[test]
    fn invalid_runs_are_kept_out_of_aggregates() {
        let a = args("put --total=2000");
        let failed = judge(Protocol::EtcdPair, &a, &fixture("etcd-benchmark/put-3.6-all-requests-failed.txt"), RunExit::SUCCESS);
        assert!(!failed.validity.valid);
        let good_args = args("put --total=20000");
        let good = judge(Protocol::EtcdPair, &good_args, &fixture("etcd-benchmark/put-3.6-default-precision.txt"), RunExit::SUCCESS);
        let timed_out = judge(
            Protocol::EtcdPair,
            &good_args,
            &fixture("etcd-benchmark/put-3.6-default-precision.txt"),
            RunExit { code: None, timed_out: true },
        );
        assert!(!timed_out.validity.valid);
        let m = metrics([&failed, &good, &timed_out]);
        assert_eq!(m["rps"].values, vec![15480.3636]);
        assert_eq!(metrics([&failed]).len(), 0);
    }

    #[test]
    fn gotest_metrics_are_named_by_benchmark_and_unit() {
        let j = judge(Protocol::TestBinary, &[], &fixture("gotest/strconv.txt"), RunExit::SUCCESS);
        assert!(j.validity.valid, "{:?}", j.validity);
        let (unit, dir, _) = j.values.iter().find(|(k, _)| k.ends_with(" ns/op")).map(|(_, v)| v.clone()).unwrap();
        assert_eq!((unit.as_str(), dir), ("ns/op", Direction::LowerIsBetter));
        assert!(j.values.keys().all(|k| k.starts_with("Benchmark") && !k.contains("-2 ")), "{:?}", j.values.keys());
        let fail = judge(Protocol::TestBinary, &[], &fixture("gotest/strconv-fail.txt"), RunExit::exited(1));
        assert!(!fail.validity.valid);
    }

    #[test]
    fn interleaving_pairs_by_orientation() {
        use stats::First::{A, B};
        // A pair (cells 0, 1) and a lone cell 2 (another benchmark).
        let groups = vec![vec![0, 1], vec![2]];
        let order = paired_interleave(&groups, &[0, 0, 0], &[vec![A, B, B], vec![A, A, A]]);
        assert_eq!(order, vec![(0, 0), (1, 0), (2, 0), (1, 1), (0, 1), (2, 1), (1, 2), (0, 2), (2, 2)]);
        // A refill round: the pair continues its numbering, the lone cell has none.
        let order = paired_interleave(&groups, &[3, 3, 3], &[vec![B], vec![]]);
        assert_eq!(order, vec![(1, 3), (0, 3)]);
        // Unequal lengths run round-robin while each lasts.
        assert_eq!(paired_interleave(&[vec![0], vec![1]], &[0, 0], &[vec![A], vec![A, A]]), vec![(0, 0), (1, 0), (1, 1)]);
        assert_eq!(paired_interleave(&[], &[], &[]), vec![]);
    }

    #[test]
    fn names() {
        assert_eq!(file_name("master/etcd@release-3.6/put"), "master_etcd@release-3.6_put.json");
        assert_eq!(invocation_dir("2026-11-21T05:50:00Z"), "2026-11-21T05-50-00Z");
        assert_eq!(profile_file_name("master_etcd@release-3.6_put.json", 2, "cpu"), "master_etcd@release-3.6_put.run-2.cpu.pb.gz");
        assert_eq!(profile_file_name("c.job-7-baseline.json", 0, "heap"), "c.job-7-baseline.run-0.heap.pb.gz");
    }
}
