//! The results document: one JSON file per (cell, invocation) under
//! `results/`. A serialised type is a public contract: Horreum labels,
//! `compare`, `detect` and `report` read these fields, so a change that is
//! not purely additive bumps [`RESULT_SCHEMA`].
//!
//! Documents are deterministic: maps are sorted (`BTreeMap`), and every time
//! stamp is a field, so the same run serialises to the same bytes twice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::parse::Validity;
use crate::spec::RunSpec;
use crate::stats::{Decision, Direction, First, StopReason, Summary};

/// The `$schema` URN of result documents; Horreum finds its labels by it.
pub const RESULT_SCHEMA: &str = "urn:gobench:result:1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultDoc {
    #[serde(rename = "$schema")]
    pub schema: String,
    /// UTC, RFC 3339: the start of the first run and the end of the last.
    pub started: String,
    pub ended: String,
    /// The seed's name for the `go version` output of the toolchain.
    pub commithash: String,
    /// `go/workload@ref/benchmark`.
    pub cell: String,
    pub benchmark: String,
    /// The seed's headline numbers, medians over the valid runs.
    pub results: SeedResults,
    /// Every metric of the cell: values of the valid runs and their summary.
    pub metrics: BTreeMap<String, Metric>,
    pub provenance: Provenance,
    pub host: Host,
    /// Every run, valid or not, with its raw output.
    pub runs: Vec<Run>,
    /// Set on a document made by `cargo xtask reproduce`: which document it
    /// reproduces, how its images came back, and the verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reproduces: Option<crate::reproduce::Reproduction>,
    /// Set when the cell ran as pairs with a cell that differs only in the
    /// Go ref: the recorded order of the pairs and why the runs stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairing: Option<Pairing>,
    /// Set when the host died in the middle of this document's comparison
    /// group: its runs are kept but never aggregated, and the group ran
    /// again, from the start, on another host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abandoned: Option<Abandoned>,
}

/// Why a document's runs are not part of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Abandoned {
    /// The `[[host]]` entry that was lost.
    pub host: String,
    /// What the host's podman said when it was checked after a failed run.
    pub reason: String,
}

/// How a cell's runs were paired with its partner's: repetition `i` of both
/// cells is pair `i`, run in the order `order[i]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pairing {
    /// The partner cell (`go/workload@ref/benchmark`).
    pub with: String,
    /// Which side this cell is: A runs first in an A-first pair.
    pub side: First,
    /// Round `k` (from 0) of pairs was ordered by `stats::pair_order(len, seed + k)`.
    pub seed: u64,
    /// Orientation of every pair, by repetition.
    pub order: Vec<First>,
    /// Repetitions whose pair was dropped because a run of it was invalid;
    /// each was replaced by a new pair of the same orientation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<u32>,
    /// Set by `bench --until-decided`: why no more pairs were run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stopped>,
}

/// Why adaptive repetitions stopped, with the decision of every compared metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stopped {
    pub reason: StopReason,
    pub description: String,
    pub decisions: BTreeMap<String, Decision>,
}

/// The fields the seed pipeline uploaded, kept so old Horreum labels work.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeedResults {
    /// Requests/sec of a `put` benchmark.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rps: Option<f64>,
    /// Requests/sec of an `stm` benchmark.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rps_stm: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<SeedLatency>,
}

/// Latencies in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeedLatency {
    pub fastest: f64,
    pub slowest: f64,
    pub average: f64,
    pub stddev: f64,
    pub p99_9: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// `req/s`, `s`, `ns/op`, `B/op`, ...
    pub unit: String,
    pub direction: Direction,
    /// One value per valid run, in run order.
    pub values: Vec<f64>,
    /// `None` when no run was valid.
    pub summary: Option<Summary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub go: GoProvenance,
    /// For go-std only `name` and `kind` are set: it has no source of its own.
    pub workload: WorkloadProvenance,
    pub image: ImageRef,
    pub toolchain_image: ImageRef,
    pub toolkit: Toolkit,
    /// The exact command of one run, as run.
    pub command: Vec<String>,
    /// CPU pinning of the server and client, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpus: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cpus: Option<String>,
    /// Everything a run of this cell needed (args, server flags, data dir,
    /// time limit, CPU sets, image ID): enough to run it again exactly.
    /// Documents from before it was recorded lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<RunSpec>,
    /// How many runs the invocation asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs_requested: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoProvenance {
    pub name: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub url: String,
    pub sha: String,
    pub commit_time: String,
    /// What the toolchain reports: `go1.28.0` or `go1.27.3`.
    pub version: String,
    /// The `go1.N-devel_<hash> <date>` string of a devel commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devel: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadProvenance {
    pub name: String,
    pub kind: String,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
    /// go-module: each module as `path@version`, the exact version its ref
    /// was locked to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<String>,
}

/// An image by input hash (what it was built from) and podman image ID
/// (what was built).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    pub hash: String,
    pub id: String,
    pub tag: String,
    /// The diff IDs of its layers, bottom first: a rebuild that differs is
    /// traced to the layer that does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Toolkit {
    /// `git rev-parse HEAD` of the toolkit checkout.
    pub commit: String,
    /// Whether the checkout had uncommitted changes to tracked files.
    pub dirty: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Host {
    pub name: String,
    pub cpu_model: String,
    pub cores: u32,
    pub memory_bytes: u64,
    pub kernel: String,
    /// The `[[host]]` entry it ran on, when it ran on a configured host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// A short fsync-latency probe where etcd's data directory lives, taken
    /// under the host lock before the runs of an etcd cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fsync_probe: Option<FsyncProbe>,
}

/// Write-then-fdatasync latencies of small blocks, as etcd's WAL does them.
/// etcd's hardware guide asks for a p99 under 10 ms; a slower disk, not the
/// toolchain, then explains slow writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FsyncProbe {
    /// The run's data directory kind: `tmpfs` (fsync costs nothing) or `volume`.
    pub data_dir: crate::config::DataDir,
    /// Where the probe wrote, and that directory's file system type.
    pub path: String,
    pub filesystem: String,
    pub blocks: u32,
    pub block_bytes: u32,
    /// Seconds per write + fdatasync.
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    /// p99 under etcd's 10 ms.
    pub meets_etcd_guide: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// 0-based repetition number.
    pub index: u32,
    pub started: String,
    pub ended: String,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub validity: Validity,
    /// The metric values this run gave (also for invalid runs, for the record).
    pub values: BTreeMap<String, f64>,
    pub stdout: String,
    /// The last part of stderr (the etcd tool's gRPC logs can be megabytes).
    pub stderr_tail: String,
    pub monitoring: Monitoring,
    /// Other gobench work seen on the host while this run ran (builds,
    /// containers of other invocations): a reason to distrust its numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_activity: Vec<String>,
    /// etcd's own `/metrics`, scraped when the client had finished; only
    /// the series that explain a run (disk, memory, GC) are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_metrics: Option<ServerMetrics>,
    /// With `--profile`: gzipped pprof files beside the document, by kind
    /// (`cpu`, `heap`), named relative to the document's directory.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub profiles: BTreeMap<String, String>,
}

/// The kept part of an etcd server's `/metrics` at the end of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerMetrics {
    /// By metric name: the WAL fsync and backend commit durations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub histograms: BTreeMap<String, Histogram>,
    /// By metric name: `go_gc_duration_seconds`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub summaries: BTreeMap<String, QuantileSummary>,
    /// By metric name: `process_resident_memory_bytes` and every `go_memstats_*`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, f64>,
    /// Why the scrape or its parse failed; the maps are then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A Prometheus histogram. Times are seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Observations (the `+Inf` bucket) and their sum.
    pub count: u64,
    pub sum: f64,
    /// The 0.99 quantile as Prometheus's `histogram_quantile` computes it
    /// (linear within the bucket); `None` without observations.
    pub p99: Option<f64>,
    /// Cumulative counts by finite upper bound, ascending.
    pub buckets: Vec<Bucket>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub le: f64,
    pub count: u64,
}

/// A Prometheus summary: quantiles the server computed itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantileSummary {
    pub count: u64,
    pub sum: f64,
    pub quantiles: Vec<Quantile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantile {
    pub quantile: f64,
    /// `None` for the server's `NaN` (no observations).
    pub value: Option<f64>,
}

/// System metrics sampled during a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Monitoring {
    /// 0 when the run's spec turned the sampler off (no samples then).
    pub interval_secs: f64,
    pub samples: Vec<Sample>,
    /// Peak memory by container role, read from the container's cgroup
    /// before it is removed (samples every 0.5 s miss short spikes).
    #[serde(default)]
    pub peak_memory_bytes: BTreeMap<String, u64>,
    /// Why there are no samples: the host is not this machine, whose `/proc`
    /// and cgroup files the sampler reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// One sample. Counters are deltas since the previous sample.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the run started.
    pub t: f64,
    /// Host CPU busy share over the interval, 0..=100 per core summed (200 = two busy cores).
    pub host_cpu_pct: f64,
    pub host_mem_used_bytes: u64,
    pub host_disk_read_bytes: u64,
    pub host_disk_write_bytes: u64,
    pub host_net_rx_bytes: u64,
    pub host_net_tx_bytes: u64,
    /// Per container (by role: `server`, `client`, `bench`): CPU share and memory.
    pub containers: BTreeMap<String, ContainerSample>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerSample {
    pub cpu_pct: f64,
    pub mem_bytes: u64,
}

impl ResultDoc {
    /// The valid runs only: the ones aggregates are made of.
    pub fn valid_runs(&self) -> impl Iterator<Item = &Run> {
        self.runs.iter().filter(|r| r.validity.valid)
    }
}
