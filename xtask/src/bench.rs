//! `cargo xtask bench`: the main job. Build what is missing, run the
//! selected cells interleaved, write one result document per cell, commit
//! them, upload them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use gobench_core::config::Config;
use gobench_core::lock::Lock;
use gobench_core::plan::{self, Cell, Plan};
use gobench_core::results::{self, Judged};
use gobench_core::schema::{self, GoProvenance, ImageRef, Provenance, ResultDoc, WorkloadProvenance, RESULT_SCHEMA};
use xshell::{cmd, Shell};

use crate::build::{self, Built};
use crate::paths::{write_atomic, Paths};
use crate::run::{self, RunSpec};
use crate::{flags, git, host, podman, upload};

impl flags::Bench {
    pub fn run(self, paths: &Paths) -> Result<()> {
        run::install_interrupt_handler()?;
        crate::lock::ensure(&podman::shell()?, paths)?;
        let (config, lock) = paths.load_pinned()?;
        let plan = plan::plan(&config, &lock).map_err(anyhow::Error::msg)?;
        let cells = self.select.cells(&plan)?;
        let built = build::build_images(paths, &config, &plan, &cells)?;
        let options = Options { runs: self.runs, commit: !self.no_commit, upload: !self.no_commit && !self.no_upload };
        bench(paths, &config, &lock, &plan, &cells, &built, &options)
    }
}

pub struct Options {
    pub runs: Option<u32>,
    pub commit: bool,
    pub upload: bool,
}

/// One cell's runs so far and what its document needs.
struct CellRuns<'a> {
    cell: &'a Cell,
    spec: RunSpec,
    runs: Vec<schema::Run>,
    judged: Vec<Judged>,
    path: PathBuf,
}

pub fn bench(paths: &Paths, config: &Config, lock: &Lock, plan: &Plan, cells: &[&Cell], built: &Built, options: &Options) -> Result<()> {
    let sh = podman::shell()?;
    let mut skipped = Vec::new();
    let started = SystemTime::now();
    let dir = paths.results.join(results::invocation_dir(&run::rfc3339(started)));
    let mut states: Vec<CellRuns> = Vec::new();
    for cell in cells {
        let Some(image_id) = built.ids.get(&cell.image) else {
            skipped.push(cell.id());
            continue;
        };
        let bench = config.benchmark(&cell.benchmark).expect("cells come from the config");
        let workload = config.workload(&cell.workload).expect("cells come from the config");
        let spec = RunSpec {
            kind: workload.kind,
            image: image_id.clone(),
            args: bench.args.clone(),
            package: bench.package.as_ref().map(|p| p.get_ref().clone()),
            server_flags: workload.server_flags.clone(),
            timeout: Duration::from_secs(bench.timeout_secs),
            data_dir: config.run.data_dir,
            server_cpus: config.run.server_cpus.clone(),
            client_cpus: config.run.client_cpus.clone(),
        };
        states.push(CellRuns { cell, spec, runs: Vec::new(), judged: Vec::new(), path: dir.join(results::file_name(&cell.id())) });
    }

    // Cells that differ only in their Go ref run next to each other, so each
    // repetition is A B for the same benchmark before moving on.
    let bench_pos = |name: &str| config.matrix.benchmarks.iter().position(|b| b.get_ref() == name);
    states.sort_by_key(|s| (bench_pos(&s.cell.benchmark), s.cell.workload_ref.clone()));
    let context = Shared::gather(&sh, plan, built, &states)?;
    let counts: Vec<u32> =
        states.iter().map(|s| options.runs.unwrap_or_else(|| config.benchmark(&s.cell.benchmark).map_or(1, |b| b.runs))).collect();
    let order = results::interleave(&counts);
    for (step, (i, rep)) in order.iter().enumerate() {
        if run::interrupted() {
            break;
        }
        let state = &mut states[*i];
        eprint!("[{}/{}] {} run {}/{}: ", step + 1, order.len(), state.cell.id(), rep + 1, counts[*i]);
        let (r, judged) = run::record(&sh, &state.spec, *rep);
        if run::interrupted() {
            eprintln!("interrupted, not kept");
            break;
        }
        eprintln!("{}", describe(&r));
        state.runs.push(r);
        state.judged.push(judged);
        // Written after every run, so an interruption keeps what finished.
        let doc = document(config, lock, &context, state)?;
        write_atomic(&state.path, (serde_json::to_string_pretty(&doc)? + "\n").as_bytes())?;
    }

    let written: Vec<&CellRuns> = states.iter().filter(|s| !s.runs.is_empty()).collect();
    for s in &written {
        let valid = s.runs.iter().filter(|r| r.validity.valid).count();
        println!("{:<48} {valid}/{} valid  {}", s.cell.id(), s.runs.len(), s.path.strip_prefix(&paths.root).unwrap_or(&s.path).display());
    }
    let files: Vec<PathBuf> = written.iter().map(|s| s.path.clone()).collect();
    if options.commit && !files.is_empty() {
        let names: Vec<String> = written.iter().map(|s| s.cell.id()).collect();
        let message =
            format!("results: {} cell(s){}\n\n{}\n", names.len(), if run::interrupted() { " (interrupted)" } else { "" }, names.join("\n"));
        // The recipes of the images the results name go with them, so any
        // result can be rebuilt from the repository alone.
        let mut to_commit = files.clone();
        for s in &written {
            for hash in [&s.cell.image, &s.cell.toolchain] {
                for ext in ["Containerfile", "json"] {
                    let recipe = paths.containerfiles.join(format!("{hash}.{ext}"));
                    if recipe.exists() && !to_commit.contains(&recipe) {
                        to_commit.push(recipe);
                    }
                }
            }
        }
        match git::commit_files(&sh, &paths.root, &to_commit, &message)? {
            true => println!("committed {} result file(s)", files.len()),
            false => eprintln!("note: {} is not in a git repository; results were written but not committed", paths.root.display()),
        }
    }
    if options.upload && !files.is_empty() {
        upload_after_bench(&sh, paths, config);
    }
    anyhow::ensure!(!run::interrupted(), "interrupted; the {} finished result file(s) were kept", files.len());
    if !skipped.is_empty() {
        built.summary(plan)?;
        anyhow::bail!("{} cell(s) were not run because their image could not be built: {}", skipped.len(), skipped.join(", "));
    }
    Ok(())
}

/// Uploads pending results; a failure leaves them pending, it does not fail
/// the benchmark (the results are committed).
fn upload_after_bench(sh: &Shell, paths: &Paths, config: &Config) {
    let Some(target) = config.upload.clone() else {
        eprintln!("note: no [upload] table in {}; not uploading", paths.config.display());
        return;
    };
    let outcome = upload::UploadSettings::for_target(&paths.root, target).and_then(|settings| upload::upload_pending(sh, &settings));
    match outcome {
        Ok(report) => report.print(),
        Err(e) => eprintln!("warning: upload skipped, results stay pending (`cargo xtask upload --all-pending` retries): {e:#}"),
    }
}

fn describe(r: &schema::Run) -> String {
    if !r.validity.valid {
        return format!("INVALID ({})", r.validity.reasons.join("; "));
    }
    let headline = r.values.get("rps").map(|v| format!("{v:.1} req/s")).or_else(|| r.values.iter().next().map(|(k, v)| format!("{k} {v}")));
    format!("valid, {}", headline.unwrap_or_default())
}

/// What every document of an invocation shares.
struct Shared<'a> {
    host: schema::Host,
    toolkit: schema::Toolkit,
    /// `go version` of each toolchain image, by hash.
    go_version: BTreeMap<String, String>,
    plan: &'a Plan,
    built: &'a Built,
}

impl<'a> Shared<'a> {
    fn gather(sh: &Shell, plan: &'a Plan, built: &'a Built, states: &[CellRuns]) -> Result<Shared<'a>> {
        let mut go_version = BTreeMap::new();
        for s in states {
            let tc = &s.cell.toolchain;
            if !go_version.contains_key(tc) {
                let tag = &plan.image(tc).expect("cells name planned images").tag;
                let v = cmd!(sh, "podman run --rm --network=none {tag} go version")
                    .quiet()
                    .read()
                    .with_context(|| format!("running `go version` in {tag}"))?;
                go_version.insert(tc.clone(), v.trim().to_string());
            }
        }
        Ok(Shared { host: host::describe()?, toolkit: host::toolkit(sh), go_version, plan, built })
    }

    fn image(&self, hash: &str) -> ImageRef {
        ImageRef {
            hash: hash.to_string(),
            id: self.built.ids.get(hash).cloned().unwrap_or_default(),
            tag: self.plan.image(hash).map(|i| i.tag.clone()).unwrap_or_default(),
        }
    }
}

fn document(config: &Config, lock: &Lock, ctx: &Shared<'_>, s: &CellRuns) -> Result<ResultDoc> {
    let cell = s.cell;
    let go = lock.go_entry(&cell.go).context("cell's Go entry is locked")?;
    let workload = config.workload(&cell.workload).context("cell's workload is configured")?;
    let locked_workload = cell.workload_ref.as_ref().and_then(|r| lock.workload_entry(&cell.workload, r));
    let metrics = results::metrics(&s.judged);
    Ok(ResultDoc {
        schema: RESULT_SCHEMA.to_string(),
        started: s.runs.first().map(|r| r.started.clone()).unwrap_or_default(),
        ended: s.runs.last().map(|r| r.ended.clone()).unwrap_or_default(),
        commithash: ctx.go_version.get(&cell.toolchain).cloned().unwrap_or_default(),
        cell: cell.id(),
        benchmark: cell.benchmark.clone(),
        results: results::seed_results(&s.spec.args, &metrics),
        metrics,
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
                kind: serde_json::to_value(workload.kind)?.as_str().unwrap_or_default().to_string(),
                git_ref: cell.workload_ref.clone(),
                url: locked_workload.map(|w| w.url.clone()),
                sha: locked_workload.map(|w| w.sha.clone()),
            },
            image: ctx.image(&cell.image),
            toolchain_image: ctx.image(&cell.toolchain),
            toolkit: ctx.toolkit.clone(),
            command: s.spec.client_command(),
            server_cpus: s.spec.server_cpus.clone(),
            client_cpus: s.spec.client_cpus.clone(),
        },
        host: ctx.host.clone(),
        runs: s.runs.clone(),
    })
}
