//! `cargo xtask build`: build the images the selected cells need, by hash,
//! toolchains first. An image whose tag exists is never rebuilt.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use gobench_core::config::Config;
use gobench_core::containerfile::MODCACHE_MOUNT;
use gobench_core::plan::{self, Cell, Image, Plan, HASH_LABEL};
use serde::{Deserialize, Serialize};
use xshell::{cmd, Shell};

use crate::cancel::{self, Cancel};
use crate::paths::{write_atomic, Paths};
use crate::{filelock, flags, gen, git, modules, podman};

impl flags::Build {
    pub fn run(self, paths: &Paths) -> Result<()> {
        let cancel = cancel::for_job()?;
        crate::lock::ensure(&podman::shell()?, paths)?;
        let (config, lock) = paths.load_pinned()?;
        let plan = plan::plan(&config, &lock).map_err(anyhow::Error::msg)?;
        let cells = self.select.cells(&plan)?;
        let built = build_images(paths, &config, &plan, &cells, &cancel)?;
        cancel.check()?;
        built.summary(&plan)
    }
}

/// How long a build waits for another process building the same image.
const BUILD_LOCK_TIMEOUT: Duration = Duration::from_secs(2 * 3600);

/// What a build command achieved: image IDs by hash, and the reasons of the
/// images that could not be had.
#[derive(Debug, Default)]
pub struct Built {
    pub ids: BTreeMap<String, String>,
    pub failed: BTreeMap<String, String>,
}

impl Built {
    pub fn summary(&self, plan: &Plan) -> Result<()> {
        if self.failed.is_empty() {
            println!("{} images ready", self.ids.len());
            return Ok(());
        }
        for (hash, reason) in &self.failed {
            let title = plan.image(hash).map_or("?", |i| i.title.as_str());
            eprintln!("FAILED {title} ({}): {}", &hash[..12], reason.lines().next().unwrap_or(""));
        }
        anyhow::bail!("{} of {} images could not be built; see the logs named above", self.failed.len(), self.failed.len() + self.ids.len())
    }
}

/// The record of the last build attempt of an image, kept beside its log in
/// the cache: the input hash -> image ID mapping, or why it failed.
#[derive(Debug, Serialize, Deserialize)]
pub struct BuildRecord {
    pub hash: String,
    pub title: String,
    pub tag: String,
    /// `built` or `failed`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub seconds: f64,
    pub finished: String,
    pub log: PathBuf,
}

pub fn builds_dir(paths: &Paths) -> PathBuf {
    paths.cache.join("builds")
}

/// Builds every image `cells` need that does not exist yet. A failed image
/// is recorded and its children skipped; the other cells go on.
pub fn build_images(paths: &Paths, config: &Config, plan: &Plan, cells: &[&Cell], cancel: &Cancel) -> Result<Built> {
    gen::write_all(paths, plan)?;
    let sh = podman::shell()?;
    let images = plan.images_for(cells);
    let mut built = Built::default();
    let dir = builds_dir(paths);
    sh.create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (i, image) in images.iter().enumerate() {
        let step = format!("[{}/{}]", i + 1, images.len());
        if let Some(parent) = image.parent.as_ref().filter(|p| built.failed.contains_key(*p)) {
            eprintln!("{step} skipped {}: its toolchain image {} failed", image.title, &parent[..12]);
            built.failed.insert(image.hash.clone(), format!("skipped: toolchain image {} failed to build", &parent[..12]));
            continue;
        }
        if cancel.is_cancelled() {
            break;
        }
        match build_one(&sh, paths, config, image, &step, cancel) {
            Ok(id) => {
                built.ids.insert(image.hash.clone(), id);
            }
            Err(_) if cancel.is_cancelled() => break,
            Err(e) => {
                eprintln!("{step} FAILED {}: {e:#}", image.title);
                built.failed.insert(image.hash.clone(), format!("{e:#}"));
            }
        }
    }
    Ok(built)
}

/// Builds one image unless its tag exists; returns its image ID.
pub fn build_one(sh: &Shell, paths: &Paths, config: &Config, image: &Image, step: &str, cancel: &Cancel) -> Result<String> {
    let dir = builds_dir(paths);
    // Two commands building the same image wait for each other instead of
    // building it twice.
    let lock_path = dir.join(format!("{}.lock", image.hash));
    let _lock = filelock::acquire(&lock_path, &format!("building {}", image.title), BUILD_LOCK_TIMEOUT, cancel)?;

    if podman::image_exists(sh, &image.tag)? {
        let id = podman::inspect(sh, &image.tag, "{{.Id}}")?;
        eprintln!("{step} {} is already built ({}), not rebuilding", image.title, &image.hash[..12]);
        return Ok(id);
    }

    let mut volumes = Vec::new();
    let mut labels = vec![(HASH_LABEL.to_string(), image.hash.clone())];
    for source in &image.sources {
        let mirror = git::ensure_mirror(sh, &paths.cache, &paths.source_location(&source.url), &image.source_shas(source))?;
        volumes.push((mirror, source.target.to_string()));
        labels.push(("org.opencontainers.image.source".to_string(), source.url.clone()));
    }
    if image.modcache {
        let cache = match (&config.modules.cache, &image.modfetch) {
            (Some(cache), _) => PathBuf::from(paths.source_location(cache)),
            (None, Some(fetch)) => modules::ensure(sh, paths, config, image, fetch, step)?,
            (None, None) => anyhow::bail!("{} needs a module cache and the plan gives it none", image.title),
        };
        modules::check_cache(&cache)?;
        volumes.push((cache, MODCACHE_MOUNT.to_string()));
    }

    let log = dir.join(format!("{}.log", image.hash));
    let context = tempfile::tempdir().context("creating an empty build context")?;
    let iidfile = context.path().join("iid");
    let containerfile = paths.containerfiles.join(format!("{}.Containerfile", image.hash));
    let spec = podman::BuildSpec {
        containerfile: &containerfile,
        tag: &image.tag,
        labels,
        volumes,
        // Only workloads fetch modules, and only when no module cache is given.
        network: image.kind == plan::ImageKind::Workload && !image.sources.is_empty() && !image.modcache,
        context: context.path(),
        iidfile: &iidfile,
    };
    eprintln!("{step} building {} ({}), log: {}", image.title, &image.hash[..12], log.display());
    let started = Instant::now();
    let before = podman::external_containers()?;
    let status = wait_with_progress(podman::spawn_build(&spec, &log)?, &log, &image.title, cancel, &before)?;
    let seconds = started.elapsed().as_secs_f64();
    let mut record = BuildRecord {
        hash: image.hash.clone(),
        title: image.title.clone(),
        tag: image.tag.clone(),
        status: "built".into(),
        image_id: None,
        error: None,
        seconds,
        finished: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        log: log.clone(),
    };
    let result = if status.success() {
        let id = std::fs::read_to_string(&iidfile).with_context(|| format!("reading {}", iidfile.display()))?;
        let id = id.trim().trim_start_matches("sha256:").to_string();
        eprintln!("{step} built {} in {seconds:.0} s: image {}", image.title, &id[..12.min(id.len())]);
        record.image_id = Some(id.clone());
        // Every RUN step leaves an untagged intermediate image carrying our
        // labels; nothing uses them (builds never use a cache), and `podman
        // rmi` of the final image would not remove them.
        let filter = format!("label={HASH_LABEL}={}", image.hash);
        cmd!(sh, "podman image prune --force --filter {filter}").quiet().ignore_stdout().run().context("removing intermediate images")?;
        Ok(id)
    } else {
        let tail = log_tail(&log, 25);
        record.status = "failed".into();
        record.error = Some(format!("podman build exited with {status}"));
        Err(anyhow::anyhow!("podman build exited with {status}; the end of {}:\n{tail}", log.display()))
    };
    let record_path = dir.join(format!("{}.json", image.hash));
    write_atomic(&record_path, serde_json::to_string_pretty(&record)?.as_bytes())?;
    result
}

/// Waits for a build, showing a spinner with the elapsed time and the log's
/// last line when stderr is a terminal.
fn wait_with_progress(
    mut child: std::process::Child,
    log: &Path,
    title: &str,
    cancel: &Cancel,
    before: &[String],
) -> Result<std::process::ExitStatus> {
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {prefix}: {wide_msg}").expect("valid template"));
        bar.set_prefix(title.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    loop {
        if let Some(status) = child.try_wait().context("waiting for podman build")? {
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            return Ok(status);
        }
        if cancel.is_cancelled() {
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            let _ = writeln!(std::io::stderr(), "stopping the build of {title}");
            podman::stop_build(&mut child, before);
            return Err(cancel::cancelled());
        }
        if let Some(bar) = &bar {
            bar.set_message(log_tail(log, 1));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The last `n` lines of a log, read from its end.
pub fn log_tail(log: &Path, n: usize) -> String {
    let Ok(mut f) = std::fs::File::open(log) else { return String::new() };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
