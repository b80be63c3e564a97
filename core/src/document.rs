//! The result document, built in one place: from what the cell is, how it
//! was run, where its images came from, and its runs. The shell only runs
//! things and writes the bytes; everything that decides a field is here.
//!
//! A document grows one run at a time ([`ResultDoc::push`]), so a bench that
//! is stopped halfway still leaves a complete document of what finished.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::lock::{Lock, LockedGo, LockedWorkload};
use crate::parse::{RunExit, Validity};
use crate::plan::Cell;
use crate::results::{self, Judged};
use crate::schema::{
    GoProvenance, Host, ImageRef, Metric, Monitoring, Provenance, ResultDoc, Run, ServerMetrics, Toolkit, WorkloadProvenance, RESULT_SCHEMA,
};
use crate::spec::RunSpec;
use crate::stats;

/// What the shell saw of one run, before judging. Times are RFC 3339 UTC.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ran {
        started: String,
        ended: String,
        exit: RunExit,
        stdout: String,
        stderr_tail: String,
        monitoring: Monitoring,
        /// etcd's `/metrics` at the end of the run (`None` for go-std).
        server_metrics: Option<ServerMetrics>,
    },
    /// The run could not take place (podman failed, the server never became
    /// healthy): recorded as an invalid run with the reason.
    Failed { started: String, ended: String, reason: String },
}

/// A judged run: the record that goes into the document, and the metric
/// values with their units that aggregates are made of.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub run: Run,
    pub judged: Judged,
}

/// Judges an outcome of repetition `index` of `spec`.
pub fn record(spec: &RunSpec, index: u32, outcome: Outcome, host_activity: Vec<String>) -> Recorded {
    match outcome {
        Outcome::Ran { started, ended, exit, stdout, stderr_tail, monitoring, server_metrics } => {
            let judged = results::judge(spec.protocol(), &spec.args, &stdout, exit);
            let run = Run {
                index,
                started,
                ended,
                exit_code: exit.code,
                timed_out: exit.timed_out,
                validity: judged.validity.clone(),
                values: judged.values.iter().map(|(k, (_, _, v))| (k.clone(), *v)).collect(),
                stdout,
                stderr_tail,
                monitoring,
                host_activity,
                server_metrics,
                profiles: BTreeMap::new(),
            };
            Recorded { run, judged }
        }
        Outcome::Failed { started, ended, reason } => {
            let validity = Validity::from_reasons(vec![format!("the run could not take place: {reason}")]);
            let judged = Judged { validity: validity.clone(), values: BTreeMap::new() };
            let run = Run {
                index,
                started,
                ended,
                exit_code: None,
                timed_out: false,
                validity,
                values: BTreeMap::new(),
                stdout: String::new(),
                stderr_tail: String::new(),
                monitoring: Monitoring::default(),
                host_activity,
                server_metrics: None,
                profiles: BTreeMap::new(),
            };
            Recorded { run, judged }
        }
    }
}

/// What a cell's document says before any run: where everything came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub cell: Cell,
    pub spec: RunSpec,
    /// How many runs were asked for.
    pub runs_requested: u32,
    /// `go version` of the toolchain image.
    pub go_version: String,
    pub image: ImageRef,
    pub toolchain_image: ImageRef,
    pub toolkit: Toolkit,
    pub host: Host,
}

/// An empty document for a cell of (`config`, `lock`); runs are pushed into it.
pub fn start(config: &Config, lock: &Lock, head: Head) -> Result<ResultDoc, String> {
    let cell = &head.cell;
    let go = lock.go_entry(&cell.go).ok_or_else(|| format!("go `{}` is not in the lock", cell.go))?;
    let locked_workload = cell.workload_ref.as_ref().and_then(|r| lock.workload_entry(&cell.workload, r));
    let modules = cell.workload_ref.as_ref().map(|r| lock.module_entries(&cell.workload, r).iter().map(|m| m.at()).collect());
    let mut doc = start_with(config, go, locked_workload, head)?;
    doc.provenance.workload.modules = modules.unwrap_or_default();
    Ok(doc)
}

/// [`start`] for a Go commit that need not be in the lock (a bisect
/// candidate), with the locked workload of the cell's ref, if it has one.
pub fn start_with(config: &Config, go: &LockedGo, locked_workload: Option<&LockedWorkload>, head: Head) -> Result<ResultDoc, String> {
    let cell = &head.cell;
    let workload = config.workload(&cell.workload).ok_or_else(|| format!("workload `{}` is not configured", cell.workload))?;
    let kind = workload.kind.name().to_string();
    Ok(ResultDoc {
        schema: RESULT_SCHEMA.to_string(),
        started: String::new(),
        ended: String::new(),
        commithash: head.go_version,
        cell: cell.id(),
        benchmark: cell.benchmark.clone(),
        results: Default::default(),
        metrics: BTreeMap::new(),
        provenance: Provenance {
            go: GoProvenance {
                name: go.name.clone(),
                git_ref: go.git_ref.clone(),
                url: go.url.clone(),
                sha: go.sha.clone(),
                commit_time: go.commit_time.clone(),
                version: go.version(),
                devel: go.devel.clone(),
            },
            workload: WorkloadProvenance {
                name: cell.workload.clone(),
                kind,
                git_ref: cell.workload_ref.clone(),
                url: locked_workload.map(|w| w.url.clone()),
                sha: locked_workload.map(|w| w.sha.clone()),
                modules: Vec::new(),
            },
            image: head.image,
            toolchain_image: head.toolchain_image,
            toolkit: head.toolkit,
            command: head.spec.client_command(),
            server_cpus: head.spec.server_cpus.clone(),
            client_cpus: head.spec.client_cpus.clone(),
            runs_requested: Some(head.runs_requested),
            spec: Some(head.spec),
        },
        host: head.host,
        runs: Vec::new(),
        reproduces: None,
        pairing: None,
        abandoned: None,
    })
}

/// An empty document that repeats `old`'s cell and configuration on the
/// images `image` and `toolchain_image` (rebuilt or found again), measured
/// by `toolkit` on `host`.
pub fn restart(old: &ResultDoc, image: ImageRef, toolchain_image: ImageRef, toolkit: Toolkit, host: Host, runs: u32) -> ResultDoc {
    let mut provenance = old.provenance.clone();
    if let Some(spec) = &mut provenance.spec {
        spec.image = image.id.clone();
    }
    provenance.image = image;
    provenance.toolchain_image = toolchain_image;
    provenance.toolkit = toolkit;
    provenance.runs_requested = Some(runs);
    ResultDoc {
        started: String::new(),
        ended: String::new(),
        results: Default::default(),
        metrics: BTreeMap::new(),
        provenance,
        host,
        runs: Vec::new(),
        reproduces: None,
        pairing: None,
        abandoned: None,
        ..old.clone()
    }
}

/// A document for runs that are not a matrix cell (an A/A noise
/// measurement): only the label, the spec and the host are known.
pub fn scratch(label: &str, spec: RunSpec, host: Host) -> ResultDoc {
    let go = GoProvenance {
        name: String::new(),
        git_ref: String::new(),
        url: String::new(),
        sha: String::new(),
        commit_time: String::new(),
        version: String::new(),
        devel: None,
    };
    let workload =
        WorkloadProvenance { name: String::new(), kind: String::new(), git_ref: None, url: None, sha: None, modules: Vec::new() };
    let image = ImageRef { id: spec.image.clone(), ..ImageRef::default() };
    let toolkit = Toolkit { commit: String::new(), dirty: false };
    ResultDoc {
        schema: RESULT_SCHEMA.to_string(),
        started: String::new(),
        ended: String::new(),
        commithash: String::new(),
        cell: label.to_string(),
        benchmark: String::new(),
        results: Default::default(),
        metrics: BTreeMap::new(),
        provenance: Provenance {
            go,
            workload,
            image,
            toolchain_image: ImageRef::default(),
            toolkit,
            command: spec.client_command(),
            server_cpus: spec.server_cpus.clone(),
            client_cpus: spec.client_cpus.clone(),
            spec: Some(spec),
            runs_requested: None,
        },
        host,
        runs: Vec::new(),
        reproduces: None,
        pairing: None,
        abandoned: None,
    }
}

impl ResultDoc {
    /// Appends a run; the aggregates and the seed's fields follow it.
    pub fn push(&mut self, recorded: Recorded) {
        let Recorded { run, judged } = recorded;
        if self.runs.is_empty() {
            self.started = run.started.clone();
        }
        self.ended = run.ended.clone();
        if judged.validity.valid {
            for (name, (unit, direction, value)) in judged.values {
                let m = self.metrics.entry(name).or_insert_with(|| Metric { unit, direction, values: Vec::new(), summary: None });
                m.values.push(value);
                m.summary = stats::summarize(&m.values);
            }
            let args = self.provenance.spec.as_ref().map_or(&[][..], |s| &s.args[..]);
            self.results = results::seed_results(args, &self.metrics);
        }
        self.runs.push(run);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ContainerSample, Sample};

    fn read(path: &str) -> String {
        let p = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    fn ran(t: u32, stdout: &str, exit: RunExit, server_metrics: Option<ServerMetrics>) -> Outcome {
        let monitoring = Monitoring {
            interval_secs: 0.5,
            samples: vec![Sample {
                t: 0.5,
                host_cpu_pct: 150.0,
                host_mem_used_bytes: 1 << 30,
                containers: BTreeMap::from([("client".to_string(), ContainerSample { cpu_pct: 80.0, mem_bytes: 1 << 20 })]),
                ..Sample::default()
            }],
            peak_memory_bytes: BTreeMap::from([("server".to_string(), 64 << 20)]),
            unavailable: None,
        };
        Outcome::Ran {
            started: format!("2026-12-01T10:00:{t:02}.000Z"),
            ended: format!("2026-12-01T10:00:{:02}.500Z", t + 1),
            exit,
            stdout: stdout.to_string(),
            stderr_tail: String::new(),
            monitoring,
            server_metrics,
        }
    }

    /// The shipped pins pointed at local repositories, as the golden lock
    /// was made: the put cell on Go master.
    fn put_cell() -> (Config, Lock, Cell) {
        let (config, lock, plan) = crate::plan::tests::shipped();
        let cell = plan.cells.iter().find(|c| c.id() == "master/etcd@release-3.6/put").unwrap().clone();
        (config, lock, cell)
    }

    fn head(config: &Config, cell: &Cell) -> Head {
        let image = |hash: &str, repo: &str| ImageRef {
            hash: hash.to_string(),
            id: format!("id-of-{}", &hash[..12]),
            tag: format!("{repo}:{hash}"),
            layers: vec![format!("sha256:{}", "1".repeat(64)), format!("sha256:{}", &hash[..64])],
        };
        Head {
            cell: cell.clone(),
            spec: RunSpec {
                server_cpus: Some("0".into()),
                client_cpus: Some("1".into()),
                ..RunSpec::for_cell(config, cell, "id-of-image").unwrap()
            },
            runs_requested: 3,
            go_version: "go version go1.28.0 linux/amd64".into(),
            image: image(&cell.image, "localhost/gobench/etcd"),
            toolchain_image: image(&cell.toolchain, "localhost/gobench/go"),
            toolkit: Toolkit { commit: "c".repeat(40), dirty: false },
            host: Host {
                name: "bench-1".into(),
                cpu_model: "Some CPU".into(),
                cores: 2,
                memory_bytes: 24 << 30,
                kernel: "6.1.0".into(),
                fsync_probe: crate::fsyncprobe::summarize(
                    crate::config::DataDir::Tmpfs,
                    "/dev/shm",
                    "tmpfs",
                    2300,
                    &[0.000002, 0.000001, 0.000004],
                ),
                entry: None,
            },
        }
    }

    /// A valid run, a run whose every request failed, and a run that could
    /// not take place: only the first enters the aggregates; every field of
    /// the document is pinned by the golden file.
    #[test]
    fn a_document_from_its_runs_is_golden() {
        let (config, lock, cell) = put_cell();
        let h = head(&config, &cell);
        let spec = h.spec.clone();
        let mut doc = start(&config, &lock, h).unwrap();
        let put = read("tests/fixtures/etcd-benchmark/put-3.6-default-precision.txt");
        let failed = read("tests/fixtures/etcd-benchmark/put-3.6-all-requests-failed.txt");
        let spec20k = RunSpec {
            args: spec.args.iter().map(|a| if a.starts_with("--total=") { "--total=20000".into() } else { a.clone() }).collect(),
            ..spec
        };
        // The server's real /metrics, and a scrape that failed.
        let scraped = crate::servermetrics::from_scrape(&read("tests/fixtures/etcd-metrics/etcd-3.4-metrics.txt"));
        let not_scraped = crate::servermetrics::failed("GET /metrics: connection refused".into());
        doc.push(record(&spec20k, 0, ran(0, &put, RunExit::SUCCESS, Some(scraped)), vec![]));
        doc.push(record(
            &spec20k,
            1,
            ran(2, &failed, RunExit::SUCCESS, Some(not_scraped)),
            vec!["podman build of localhost/gobench/go:abc".into()],
        ));
        let failed_to_start = Outcome::Failed {
            started: "2026-12-01T10:00:04.000Z".into(),
            ended: "2026-12-01T10:00:05.000Z".into(),
            reason: "the etcd server did not become healthy in 60 s".into(),
        };
        doc.push(record(&spec20k, 2, failed_to_start, vec![]));

        assert_eq!((doc.started.as_str(), doc.ended.as_str()), ("2026-12-01T10:00:00.000Z", "2026-12-01T10:00:05.000Z"));
        assert_eq!(doc.metrics["rps"].values, vec![15480.3636]);
        assert_eq!(doc.results.rps, Some(15480.3636));
        assert_eq!(doc.valid_runs().count(), 1);
        crate::golden::golden("document/etcd-put.json", &(serde_json::to_string_pretty(&doc).unwrap() + "\n"));
    }

    /// Pushing runs one by one gives the document that all of them at once
    /// would: the aggregates are not a running approximation.
    #[test]
    fn appending_runs_gives_the_same_aggregates_as_all_at_once() {
        let (config, lock, cell) = put_cell();
        let spec = head(&config, &cell).spec;
        let spec = RunSpec { args: vec!["put".into(), "--total=20000".into()], ..spec };
        let put = read("tests/fixtures/etcd-benchmark/put-3.6-default-precision.txt");
        let runs: Vec<Recorded> = (0..4).map(|i| record(&spec, i, ran(i * 2, &put, RunExit::SUCCESS, None), vec![])).collect();
        let mut doc = start(&config, &lock, head(&config, &cell)).unwrap();
        for r in runs.clone() {
            doc.push(r);
        }
        let all = results::metrics(runs.iter().map(|r| &r.judged));
        assert_eq!(doc.metrics, all);
    }

    /// A document written before the run spec and host activity were
    /// recorded still loads, and says it lacks them.
    #[test]
    fn a_document_from_before_the_run_spec_loads() {
        let old: ResultDoc = serde_json::from_str(&read("tests/golden/document/v1-before-run-spec.json")).unwrap();
        assert_eq!(old.provenance.spec, None);
        assert_eq!(old.runs.len(), 1);
        assert!(old.runs[0].host_activity.is_empty());
        assert_eq!((&old.runs[0].server_metrics, &old.host.fsync_probe), (&None, &None));
        assert_eq!(old.results.rps, Some(15480.3636));
    }
}
