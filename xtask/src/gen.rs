//! `cargo xtask gen`: write the Containerfile and hash inputs of every image
//! the matrix needs to `containerfiles/`.

use anyhow::Result;
use gobench_core::plan::{self, Plan};
use gobench_core::recipe::Recipe;

use crate::flags;
use crate::paths::{write_atomic, Paths};

impl flags::Gen {
    pub fn run(self, paths: &Paths) -> Result<()> {
        let (config, lock) = paths.load_pinned()?;
        let plan = plan::plan(&config, &lock).map_err(anyhow::Error::msg)?;
        if self.check {
            let stale = stale_files(paths, &plan);
            anyhow::ensure!(stale.is_empty(), "generated files are missing or stale: {}; run `cargo xtask gen`", stale.join(", "));
            println!("{} images, all Containerfiles current", plan.images.len());
            return Ok(());
        }
        write_all(paths, &plan)?;
        for image in &plan.images {
            println!("{:<12} {} {}", serde_json::to_value(image.kind)?.as_str().unwrap_or("?"), &image.hash[..16], image.title);
        }
        println!("wrote {} images to {}", plan.images.len(), paths.containerfiles.display());
        Ok(())
    }
}

/// The three files of an image: the Containerfile, the canonical inputs
/// whose SHA-256 is the hash, and the record of where its sources come from.
fn files(image: &plan::Image) -> [(String, String); 3] {
    [
        (format!("{}.Containerfile", image.hash), image.containerfile.clone()),
        (format!("{}.json", image.hash), image.inputs.canonical()),
        (format!("{}.recipe.toml", image.hash), Recipe::of(image).to_toml()),
    ]
}

/// Writes every image's files; unchanged files are not rewritten. Files of
/// images no longer in the matrix stay: past results name them.
pub fn write_all(paths: &Paths, plan: &Plan) -> Result<()> {
    plan.images.iter().try_for_each(|image| write_image(paths, image))
}

/// Writes one image's files, unless they are current.
pub fn write_image(paths: &Paths, image: &plan::Image) -> Result<()> {
    for (name, text) in files(image) {
        let path = paths.containerfiles.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            write_atomic(&path, text.as_bytes())?;
        }
    }
    Ok(())
}

fn stale_files(paths: &Paths, plan: &Plan) -> Vec<String> {
    plan.images
        .iter()
        .flat_map(files)
        .filter(|(name, text)| std::fs::read_to_string(paths.containerfiles.join(name)).ok().as_deref() != Some(text.as_str()))
        .map(|(name, _)| name)
        .collect()
}

/// The committed files of the images `hashes` that exist in `containerfiles/`,
/// to commit with the results that name them: any result can then be rebuilt
/// from the repository alone.
pub fn recipe_files<'a>(paths: &Paths, hashes: impl IntoIterator<Item = &'a String>) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for hash in hashes {
        for ext in ["Containerfile", "json", "recipe.toml"] {
            let file = paths.containerfiles.join(format!("{hash}.{ext}"));
            if file.exists() && !out.contains(&file) {
                out.push(file);
            }
        }
    }
    out
}
