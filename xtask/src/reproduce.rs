//! `cargo xtask reproduce`: a past run rebuilt from its image hash and run
//! again, side by side with the original.
//!
//! Everything comes from the repository: the recipe in `containerfiles/`
//! (Containerfile, hashed inputs, and the sources' URLs and SHAs) and the
//! result documents that name the image. Mirrors are fetched again from the
//! recorded URLs when the cache is gone.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use gobench_core::analysis::{compare as table, Loaded};
use gobench_core::containerfile::{GO_MIRROR, WORKLOAD_MIRROR};
use gobench_core::document::restart;
use gobench_core::hash::ImageInputs;
use gobench_core::plan::{Image, SourceMount};
use gobench_core::recipe::Recipe;
use gobench_core::reproduce::{self, ImageCheck, Reproduction};
use gobench_core::results;
use gobench_core::schema::ImageRef;
use xshell::Shell;

use crate::cancel;
use crate::paths::{write_atomic, Paths};
use crate::pipeline::{self, CellRuns};
use crate::{build, compare, git, host, podman};

/// Rebuild a past run's image from its hash and run its benchmark again.
///
/// TARGET is an image hash, a unique prefix of one (at least 4 hex digits),
/// or a result file. The recipe is read from `containerfiles/` and the run's
/// configuration (args, server flags, data dir, CPU sets, time limit, run
/// count) from the newest result document that names the image. An image
/// that is gone is rebuilt, parents first, and its image ID is compared with
/// the recorded one: the same ID means a bit-for-bit identical image. The
/// new runs are written as a result document that links to the original,
/// committed like any result, and judged against the recorded runs:
/// reproduced within noise, significantly different, or undecided.
///
/// Exit codes: 0 reproduced within noise; 1 significantly different or
/// undecided; 2 an error.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Image hash, hash prefix, or result file.
    pub target: String,
    /// Runs instead of the recorded number.
    #[arg(long)]
    pub runs: Option<u32>,
    /// Keep the images after the run (default: an image that this command
    /// rebuilt is removed again, leaving the machine as it was).
    #[arg(long)]
    pub keep_image: bool,
    /// Do not commit the new result document.
    #[arg(long)]
    pub no_commit: bool,
    /// Rebuild the run's image even when it is present (beside it, under
    /// `localhost/gobench/rebuild:<hash>`), compare the two file by file when
    /// they differ, and run the rebuild.
    #[arg(long)]
    pub rebuild: bool,
}

impl Args {
    /// `true` when the rerun did not reproduce the record.
    pub fn run(self, paths: &Paths) -> Result<bool> {
        let cancel = cancel::for_job()?;
        let sh = podman::shell()?;
        let results = compare::load_results(paths)?;
        let original = original(paths, &results, &self.target)?;
        let hash = original.doc.provenance.image.hash.clone();
        println!("reproducing {} (image {}) from {}", original.doc.cell, &hash[..12], original.path);

        let config = paths.load_config()?;
        let recorded = [&original.doc.provenance.toolchain_image, &original.doc.provenance.image];
        let mut checks = Vec::new();
        let mut rebuilt_tags = Vec::new();
        // Every recipe is read before anything is built: a missing one changes nothing.
        let images = recorded.map(|r| load_recipe(paths, &r.hash, &original.path)).into_iter().collect::<Result<Vec<_>>>()?;
        for (i, (image_ref, mut image)) in recorded.into_iter().zip(images).enumerate() {
            let present = podman::image_exists(&sh, &image.tag)?;
            // The run's own image is rebuilt beside the present one on request;
            // its toolchain is the one the recipe names `FROM`.
            let beside = present && self.rebuild && i == recorded.len() - 1;
            let original_tag = image.tag.clone();
            if beside {
                image.tag = format!("localhost/gobench/rebuild:{}", image.hash);
            }
            if !present || beside {
                fetch_sources(&sh, paths, &image)?;
                rebuilt_tags.push(image.tag.clone());
            }
            let id = build::build_one(&sh, paths, &config, &image, "[reproduce]", &cancel)?;
            let layers = podman::layers(&sh, &image.tag)?;
            let identical = id == image_ref.id;
            let differing_files = if beside && !identical { differing_files(&sh, &original_tag, &image.tag)? } else { Vec::new() };
            let check = ImageCheck {
                hash: image.hash.clone(),
                recorded_id: image_ref.id.clone(),
                identical,
                differing_layer: (!identical).then(|| reproduce::first_differing_layer(&image_ref.layers, &layers)).flatten(),
                differing_files,
                id,
                rebuilt: !present || beside,
            };
            print_check(&image.title, &check, &image_ref.layers, &layers);
            checks.push((check, ImageRef { hash: image.hash.clone(), id: String::new(), tag: image.tag.clone(), layers }));
        }

        let spec = original
            .doc
            .provenance
            .spec
            .as_ref()
            .with_context(|| format!("{} predates complete provenance (no run spec): it cannot be run again exactly", original.path))?;
        let runs = self.runs.or(original.doc.provenance.runs_requested).unwrap_or(original.doc.runs.len() as u32).max(1);
        let (checks, mut refs): (Vec<ImageCheck>, Vec<ImageRef>) = checks.into_iter().unzip();
        for (r, c) in refs.iter_mut().zip(&checks) {
            r.id = c.id.clone();
        }
        let image = refs.pop().expect("two images");
        let toolchain_image = refs.pop().expect("two images");
        let doc = restart(&original.doc, image, toolchain_image, host::toolkit(&sh), host::describe()?, runs);
        let dir = paths.results.join(results::invocation_dir(&crate::run::rfc3339(SystemTime::now())));
        let path = dir.join(results::file_name(&format!("{}.reproduction", original.doc.cell)));
        let spec = doc.provenance.spec.clone().unwrap_or_else(|| spec.clone());
        let mut cell = CellRuns { label: format!("{} (reproduction)", original.doc.cell), spec, doc, path: Some(path.clone()) };
        pipeline::measure_more(&sh, &cancel, &mut cell, runs)?;
        cancel.check()?;

        let verdict = reproduce::judge(&original.doc, &cell.doc);
        cell.doc.reproduces = Some(Reproduction { of: original.path.clone(), images: checks, verdict: verdict.clone() });
        write_atomic(&path, (serde_json::to_string_pretty(&cell.doc)? + "\n").as_bytes())?;

        print!("{}", table::render_text(&pipeline::compare("recorded", &original, "rerun", &cell.loaded(&paths.root))));
        println!("verdict: {}: {}", verdict.outcome.describe(), verdict.reason);
        if let Some(floor) = verdict.noise_floor_pct {
            println!("noise floor: the runs of one side spread over {floor:.1}% of their median; smaller differences cannot be told from noise here");
        }
        if !self.no_commit {
            commit(&sh, paths, &cell.written_files(), &original.doc.cell)?;
        }
        println!("wrote {}", path.strip_prefix(&paths.root).unwrap_or(&path).display());
        if !self.keep_image {
            for tag in rebuilt_tags.iter().rev() {
                let _ = podman::command().args(["rmi", tag]).output();
            }
        }
        Ok(verdict.outcome != reproduce::Outcome::ReproducedWithinNoise)
    }
}

/// The document to reproduce: a result file, or the newest result naming
/// the image a hash (prefix) resolves to.
fn original(paths: &Paths, results: &[Loaded], target: &str) -> Result<Loaded> {
    // A relative path is relative to the working directory, or else to the project.
    let as_file = match Path::new(target) {
        p if p.is_relative() && !p.exists() => paths.root.join(p),
        p => p.to_path_buf(),
    };
    if target.ends_with(".json") || as_file.is_file() {
        let abs = std::path::absolute(&as_file).with_context(|| format!("resolving {target}"))?;
        let rel = abs.strip_prefix(&paths.root).unwrap_or(&abs).to_string_lossy().replace('\\', "/");
        return results
            .iter()
            .find(|l| l.path == rel)
            .cloned()
            .with_context(|| format!("{target} is not a result document under {}", paths.results.display()));
    }
    let mut known: Vec<String> = results.iter().map(|l| l.doc.provenance.image.hash.clone()).collect();
    known.extend(recipe_hashes(paths)?);
    let hash = reproduce::resolve_hash(target, &known).map_err(anyhow::Error::msg)?;
    results
        .iter()
        .filter(|l| l.doc.provenance.image.hash == hash)
        .max_by(|a, b| a.doc.started.cmp(&b.doc.started))
        .cloned()
        .with_context(|| format!("image {hash} has a recipe but no result document names it: there is no run to reproduce"))
}

fn recipe_hashes(paths: &Paths) -> Result<Vec<String>> {
    let Ok(entries) = std::fs::read_dir(&paths.containerfiles) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for e in entries {
        let name = e.with_context(|| format!("listing {}", paths.containerfiles.display()))?.file_name();
        if let Some(hash) = name.to_string_lossy().strip_suffix(".Containerfile") {
            out.push(hash.to_string());
        }
    }
    Ok(out)
}

/// An image as `build` needs it, from its three committed files.
fn load_recipe(paths: &Paths, hash: &str, named_by: &str) -> Result<Image> {
    let file = |ext: &str| paths.containerfiles.join(format!("{hash}.{ext}"));
    let read = |p: PathBuf| {
        std::fs::read_to_string(&p).with_context(|| {
            format!(
                "{named_by} names image {hash}, but {} cannot be read: its recipe was deleted or never committed; `git log --all -- containerfiles/{hash}.*` may find it",
                p.display()
            )
        })
    };
    let containerfile = read(file("Containerfile"))?;
    let inputs_text = read(file("json"))?;
    let inputs: ImageInputs = serde_json::from_str(&inputs_text).with_context(|| format!("parsing {}", file("json").display()))?;
    anyhow::ensure!(
        inputs.hash() == hash && inputs.containerfile == containerfile,
        "containerfiles/{hash}.* do not hash to {hash}: they were edited"
    );
    let recipe = Recipe::parse(&read(file("recipe.toml"))?).map_err(|e| anyhow::anyhow!("{}: {e}", file("recipe.toml").display()))?;
    let sources = recipe
        .sources
        .iter()
        .map(|s| {
            let target = match s.mount.as_str() {
                GO_MIRROR => GO_MIRROR,
                WORKLOAD_MIRROR => WORKLOAD_MIRROR,
                other => anyhow::bail!("{}: unknown source mount {other}", file("recipe.toml").display()),
            };
            Ok(SourceMount { url: s.url.clone(), target })
        })
        .collect::<Result<_>>()?;
    Ok(Image {
        hash: hash.to_string(),
        kind: recipe.kind,
        title: recipe.title,
        tag: recipe.tag,
        containerfile,
        inputs,
        parent: recipe.parent,
        sources,
        modcache: recipe.module_cache,
        modfetch: recipe.module_fetch,
    })
}

/// Makes sure every source commit of an image is in its mirror, fetching
/// it again from the recorded URL.
fn fetch_sources(sh: &Shell, paths: &Paths, image: &Image) -> Result<()> {
    for source in &image.sources {
        let role = if source.target == GO_MIRROR { "go" } else { "workload" };
        let sha = image.inputs.shas.get(role).with_context(|| format!("image {} has no {role} commit in its inputs", &image.hash[..12]))?;
        git::ensure_mirror(sh, &paths.cache, &paths.source_location(&source.url), &[sha])
            .with_context(|| format!("commit {sha} of image {} cannot be fetched from {}", &image.hash[..12], source.url))?;
    }
    Ok(())
}

fn print_check(title: &str, c: &ImageCheck, recorded: &[String], now: &[String]) {
    let how = if c.rebuilt { "rebuilt" } else { "present" };
    if c.identical {
        println!("{title}: {how}, image {} identical to the recorded one (bit for bit)", &c.id[..12.min(c.id.len())]);
        return;
    }
    println!(
        "{title}: {how}, image {} differs from the recorded {}",
        &c.id[..12.min(c.id.len())],
        &c.recorded_id[..12.min(c.recorded_id.len())]
    );
    match c.differing_layer {
        Some(i) => println!(
            "  layer {i} differs: recorded {}, now {}",
            recorded.get(i).map_or("(none)", String::as_str),
            now.get(i).map_or("(none)", String::as_str)
        ),
        None if recorded.is_empty() => println!("  the record has no layer list, so the differing layer is not known"),
        None => println!("  every layer is identical: the image config differs (labels, environment, history)"),
    }
    for f in &c.differing_files {
        println!("  {f}");
    }
}

/// The files in which two images' trees differ, read from their mounted
/// root file systems.
fn differing_files(sh: &Shell, original: &str, rebuilt: &str) -> Result<Vec<String>> {
    let a = manifest(sh, original)?;
    let b = manifest(sh, rebuilt)?;
    Ok(reproduce::differing_files(&a, &b))
}

/// SHA-256 of a file, read in chunks; empty when it cannot be read.
fn file_sha256(path: &Path) -> String {
    let mut hasher = gobench_core::hash::Sha256Hex::default();
    let Ok(mut f) = std::fs::File::open(path) else { return String::new() };
    match std::io::copy(&mut f, &mut hasher) {
        Ok(_) => hasher.finish(),
        Err(_) => String::new(),
    }
}

/// Path -> type, mode, size and SHA-256 of every entry of an image's tree.
fn manifest(sh: &Shell, image: &str) -> Result<std::collections::BTreeMap<String, String>> {
    use std::os::unix::fs::PermissionsExt;
    let root = xshell::cmd!(sh, "podman image mount {image}").quiet().read().with_context(|| format!("mounting image {image}"))?;
    let root = PathBuf::from(root.trim());
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.clone()];
    let mut failed = None;
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                failed = Some(anyhow::Error::from(e).context(format!("listing {}", dir.display())));
                break;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            let mode = meta.permissions().mode() & 0o7777;
            let desc = if meta.is_dir() {
                stack.push(path.clone());
                format!("d {mode:o}")
            } else if meta.file_type().is_symlink() {
                format!("l {}", std::fs::read_link(&path).map(|t| t.display().to_string()).unwrap_or_default())
            } else if meta.is_file() {
                format!("f {mode:o} {} {}", meta.len(), file_sha256(&path))
            } else {
                // Device nodes and FIFOs are never read (a /dev/zero would never end).
                use std::os::unix::fs::MetadataExt;
                format!("s {mode:o} {:?} {}", meta.file_type(), meta.rdev())
            };
            out.insert(format!("/{}", path.strip_prefix(&root).unwrap_or(&path).display()), desc);
        }
    }
    let _ = xshell::cmd!(sh, "podman image unmount {image}").quiet().ignore_stdout().run();
    match failed {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn commit(sh: &Shell, paths: &Paths, files: &[PathBuf], cell: &str) -> Result<()> {
    let message = format!("results: reproduction of {cell}\n");
    match git::commit_files(sh, &paths.root, files, &message)? {
        true => println!("committed the reproduction"),
        false => eprintln!("note: {} is not in a git repository; the reproduction was written but not committed", paths.root.display()),
    }
    Ok(())
}
