//! How one cell is run: decided once, from the pins or from the flags of
//! `cargo xtask run`, then used by the runner and recorded in every result
//! document, so a run can be repeated exactly from its document alone.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{Config, DataDir, WorkloadKind};
use crate::containerfile::test_binary;
use crate::parse::etcd::Invocation;
use crate::plan::Cell;

/// Where the benchmark client reaches the etcd server: both share a
/// loopback-only network namespace.
pub const ENDPOINT: &str = "127.0.0.1:2379";

/// What a run starts, and so how its output reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// An etcd server and the `benchmark` client (etcd's report format).
    EtcdPair,
    /// A Go test binary (Go's benchmark format).
    TestBinary,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSpec {
    pub kind: WorkloadKind,
    /// The image the run uses: a podman image ID, or any reference for
    /// `cargo xtask run`.
    pub image: String,
    /// Arguments of the benchmark client (etcd) or the test binary (go-std).
    pub args: Vec<String>,
    /// go-std, go-module: the package whose test binary runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Extra flags of the etcd server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_flags: Vec<String>,
    /// A run that takes longer is killed and recorded as invalid.
    pub timeout_secs: u64,
    pub data_dir: DataDir,
    /// `--cpuset-cpus` of the server and client containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cpus: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cpus: Option<String>,
    /// Profile the run (`--profile`): etcd's server with `--enable-pprof`,
    /// a CPU profile of the first this many seconds of the client's run and
    /// a heap profile at its end; go-std with `-test.cpuprofile` and
    /// `-test.memprofile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_secs: Option<u64>,
    /// What the runner does against the host's noise (issue 16, item 5).
    #[serde(flatten)]
    pub settling: Settling,
}

/// What a run does against the host's noise besides CPU pinning, recorded
/// so that a result says how it was measured. The defaults are what runs
/// did before these settings existed (and serialise as nothing, so older
/// documents read back unchanged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settling {
    /// Runs in fresh containers right before each measured run, discarded:
    /// they warm the page cache, the CPU's clock and the scheduler the way
    /// the measured run will find them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub warmup_runs: u32,
    /// The 0.5 s sampler of host and container counters during the run;
    /// `false` leaves the run's `monitoring` without samples.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub sampler: bool,
    /// Before each run (and its warm-ups), wait until the host's CPUs were
    /// busy less than this percentage of one second, as
    /// [`crate::hostload`] reads `/proc/stat`; at most
    /// [`crate::hostload::MAX_WAIT_SECS`], then run anyway and say so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_idle_below_pct: Option<u32>,
}

impl Default for Settling {
    fn default() -> Settling {
        Settling { warmup_runs: 0, sampler: true, wait_idle_below_pct: None }
    }
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Where a profiled go-std test binary writes its profiles, by kind.
pub const GOSTD_PROFILES: [(&str, &str); 2] = [("cpu", "/tmp/gobench-cpu.pprof"), ("heap", "/tmp/gobench-heap.pprof")];

impl RunSpec {
    /// The spec of a planned cell whose image was built as `image_id`.
    pub fn for_cell(config: &Config, cell: &Cell, image_id: &str) -> Result<RunSpec, String> {
        let bench = config.benchmark(&cell.benchmark).ok_or_else(|| format!("benchmark `{}` is not configured", cell.benchmark))?;
        let workload = config.workload(&cell.workload).ok_or_else(|| format!("workload `{}` is not configured", cell.workload))?;
        Ok(RunSpec {
            kind: workload.kind,
            image: image_id.to_string(),
            args: bench.args.clone(),
            package: bench.package.as_ref().map(|p| p.get_ref().clone()),
            server_flags: workload.server_flags.clone(),
            timeout_secs: bench.timeout_secs,
            data_dir: config.run.data_dir,
            server_cpus: config.run.server_cpus.clone(),
            client_cpus: config.run.client_cpus.clone(),
            profile_secs: None,
            settling: config.run.settling(),
        })
    }

    /// What the run starts. go-module runs a test binary when the benchmark
    /// names a package, else the etcd roles it built.
    pub fn protocol(&self) -> Protocol {
        match (self.kind, &self.package) {
            (WorkloadKind::Etcd, _) | (WorkloadKind::GoModule, None) => Protocol::EtcdPair,
            (WorkloadKind::GoStd, _) | (WorkloadKind::GoModule, Some(_)) => Protocol::TestBinary,
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// The benchmark command as it runs in the client container.
    pub fn client_command(&self) -> Vec<String> {
        match self.protocol() {
            Protocol::EtcdPair => {
                let mut c = vec!["benchmark".to_string()];
                if !Invocation::read(&self.args).endpoints {
                    c.push(format!("--endpoints={ENDPOINT}"));
                }
                c.extend(self.args.iter().cloned());
                c
            }
            Protocol::TestBinary => {
                let mut c = vec![test_binary(self.package.as_deref().unwrap_or("std"))];
                c.extend(self.args.iter().cloned());
                if self.profile_secs.is_some() {
                    let [(_, cpu), (_, heap)] = GOSTD_PROFILES;
                    c.extend([format!("-test.cpuprofile={cpu}"), format!("-test.memprofile={heap}")]);
                }
                c
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(args: &[&str]) -> RunSpec {
        RunSpec {
            kind: WorkloadKind::Etcd,
            image: "img".into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            package: None,
            server_flags: vec![],
            timeout_secs: 60,
            data_dir: DataDir::Tmpfs,
            server_cpus: None,
            client_cpus: None,
            profile_secs: None,
            settling: Settling::default(),
        }
    }

    #[test]
    fn a_profiled_go_std_run_writes_its_profiles() {
        let gostd = RunSpec { kind: WorkloadKind::GoStd, package: Some("sort".into()), ..spec(&["-test.bench=."]) };
        let bin = test_binary("sort");
        assert_eq!(gostd.client_command(), [bin.as_str(), "-test.bench=."]);
        assert_eq!(
            RunSpec { profile_secs: Some(10), ..gostd }.client_command(),
            [&bin, "-test.bench=.", "-test.cpuprofile=/tmp/gobench-cpu.pprof", "-test.memprofile=/tmp/gobench-heap.pprof"]
        );
        // etcd's client is not profiled: its server is.
        assert_eq!(
            RunSpec { profile_secs: Some(10), ..spec(&["put"]) }.client_command(),
            ["benchmark", "--endpoints=127.0.0.1:2379", "put"]
        );
    }

    #[test]
    fn settling_is_recorded_only_when_it_is_not_the_default() {
        let plain = serde_json::to_value(spec(&["put"])).unwrap();
        for key in ["warmup_runs", "sampler", "wait_idle_below_pct", "settling"] {
            assert!(plain.get(key).is_none(), "{key} in {plain}");
        }
        let settled = RunSpec { settling: Settling { warmup_runs: 1, sampler: false, wait_idle_below_pct: Some(10) }, ..spec(&["put"]) };
        let json = serde_json::to_value(&settled).unwrap();
        assert_eq!((&json["warmup_runs"], &json["sampler"], &json["wait_idle_below_pct"]), (&1.into(), &false.into(), &10.into()));
        assert_eq!(serde_json::from_value::<RunSpec>(json).unwrap(), settled);
        assert_eq!(serde_json::from_value::<RunSpec>(plain).unwrap(), spec(&["put"]));
    }

    #[test]
    fn the_client_reaches_the_server_unless_told_otherwise() {
        assert_eq!(spec(&["put"]).client_command(), ["benchmark", "--endpoints=127.0.0.1:2379", "put"]);
        assert_eq!(spec(&["--endpoints", "h:1", "put"]).client_command(), ["benchmark", "--endpoints", "h:1", "put"]);
        assert_eq!(spec(&["--endpoints=h:1", "put"]).client_command(), ["benchmark", "--endpoints=h:1", "put"]);
    }
}
