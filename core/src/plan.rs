//! The build plan: from a config and its lock to the images the matrix needs
//! (each with its Containerfile and hash) and the cells that run on them.
//!
//! Architecture invariant: a plan is a pure function of (config, lock). The
//! same pins give the same hashes on any machine, at any time.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::{Config, Workload, WorkloadKind};
use crate::containerfile::{self, ModuleEnv};
use crate::goversion;
use crate::hash::{ImageInputs, RECIPE_VERSION};
use crate::lock::{Lock, LockedGo};

/// Image names are `localhost/<IMAGE_PREFIX>/<go|workload>:<hash>`.
pub const IMAGE_PREFIX: &str = "localhost/gobench";
/// The label that carries the input hash on every image we build.
pub const HASH_LABEL: &str = "io.gobench.image.hash";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageKind {
    GoToolchain,
    Workload,
}

/// A git mirror a build reads: the source `url` mounted at `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceMount {
    pub url: String,
    pub target: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Image {
    pub hash: String,
    pub kind: ImageKind,
    /// Human-readable, e.g. `go master` or `etcd release-3.6 on go master`.
    pub title: String,
    pub tag: String,
    pub containerfile: String,
    pub inputs: ImageInputs,
    /// Hash of the image this one is built `FROM`.
    pub parent: Option<String>,
    pub sources: Vec<SourceMount>,
    /// Whether the build needs the module cache mounted.
    pub modcache: bool,
    /// The module fetch that fills that cache, when `[modules] cache` names none.
    pub modfetch: Option<ModuleFetch>,
}

/// The one step with network access: filling a module cache for a workload
/// build, in the parent toolchain image with the host's network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ModuleFetch {
    /// The cache's directory name under `<cache>/modules/`: a hash of what
    /// decides its content (workload SHA, go.mod policy and toolchain
    /// version, through the script, and the recipe version).
    pub key: String,
    /// The tag of the toolchain image the fetch runs in.
    pub toolchain_tag: String,
    pub script: String,
}

impl ModuleFetch {
    fn new(script: String, workload_sha: &str, toolchain_version: &str, toolchain_tag: &str) -> ModuleFetch {
        let canonical = serde_json::json!({
            "recipe": RECIPE_VERSION,
            "workload": workload_sha,
            "toolchain": toolchain_version,
            "script": script,
        });
        ModuleFetch { key: crate::hash::sha256_hex(canonical.to_string().as_bytes()), toolchain_tag: toolchain_tag.to_string(), script }
    }
}

/// One (Go ref, workload ref, benchmark) point of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub go: String,
    pub workload: String,
    /// The workload ref; `None` for go-std, which has no source of its own.
    pub workload_ref: Option<String>,
    pub benchmark: String,
    /// Hash of the image the cell runs in.
    pub image: String,
    /// Hash of its Go toolchain image.
    pub toolchain: String,
}

impl Cell {
    /// `go/workload@ref/benchmark`, used in selectors, messages and file names.
    pub fn id(&self) -> String {
        match &self.workload_ref {
            Some(r) => format!("{}/{}@{}/{}", self.go, self.workload, r, self.benchmark),
            None => format!("{}/{}/{}", self.go, self.workload, self.benchmark),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Toolchain images first, then workload images: a parent always comes
    /// before its children. No hash appears twice.
    pub images: Vec<Image>,
    pub cells: Vec<Cell>,
}

impl Image {
    /// The commits a source mount must have: the Go SHA for the Go mirror,
    /// the workload SHA for the workload mirror.
    pub fn source_shas(&self, source: &SourceMount) -> Vec<&str> {
        let role = if source.target == containerfile::WORKLOAD_MIRROR { "workload" } else { "go" };
        self.inputs.shas.get(role).map(String::as_str).into_iter().collect()
    }
}

impl Plan {
    pub fn image(&self, hash: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.hash == hash)
    }
}

pub fn image_tag(kind_name: &str, hash: &str) -> String {
    format!("{IMAGE_PREFIX}/{kind_name}:{hash}")
}

/// Builds the plan for the whole matrix. Fails when the lock does not cover
/// the config or no bootstrap can build a Go version.
pub fn plan(config: &Config, lock: &Lock) -> Result<Plan, String> {
    let missing = lock.missing(config);
    if !missing.is_empty() {
        return Err(format!("toolchains.lock is stale, it does not cover: {}; run `cargo xtask lock`", missing.join(", ")));
    }
    let mut images: BTreeMap<String, Image> = BTreeMap::new();
    let mut toolchains = Vec::new();
    let mut workloads = Vec::new();
    let mut cells = Vec::new();

    for go_name in &config.matrix.go {
        let go = lock.go_entry(go_name.get_ref()).expect("checked by missing()");
        let toolchain = toolchain_image(config, go)?;
        let tc_hash = toolchain.hash.clone();
        let toolchain_ref = toolchain.clone();
        toolchains.push(tc_hash.clone());
        images.entry(tc_hash.clone()).or_insert(toolchain);

        for bench_name in &config.matrix.benchmarks {
            let bench = config.benchmark(bench_name.get_ref()).expect("validated");
            let w = config.workload(bench.workload.get_ref()).expect("validated");
            let refs: Vec<Option<&str>> = match w.kind {
                WorkloadKind::Etcd => w.refs.iter().map(|r| Some(r.get_ref().as_str())).collect(),
                WorkloadKind::GoStd => vec![None],
            };
            for wref in refs {
                let image = workload_image(config, lock, go, &toolchain_ref, w, wref)?;
                let hash = image.hash.clone();
                if !images.contains_key(&hash) {
                    workloads.push(hash.clone());
                }
                images.entry(hash.clone()).or_insert(image);
                cells.push(Cell {
                    go: go.name.clone(),
                    workload: w.name.get_ref().clone(),
                    workload_ref: wref.map(String::from),
                    benchmark: bench.name.get_ref().clone(),
                    image: hash,
                    toolchain: tc_hash.clone(),
                });
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    let images = toolchains
        .into_iter()
        .chain(workloads)
        .filter(|h| seen.insert(h.clone()))
        .map(|h| images.remove(&h).expect("every ordered hash has an image"))
        .collect();
    Ok(Plan { images, cells })
}

/// The toolchain image of a locked Go commit, which need not be in the
/// matrix: bisect builds the commits between two pins this way. Fails when
/// no bootstrap in the base can build its Go version.
pub fn toolchain_image(config: &Config, go: &LockedGo) -> Result<Image, String> {
    let base_ref = config.base_reference();
    let minor = go.minor;
    let need = goversion::min_bootstrap_minor(minor);
    let bootstrap = config
        .base
        .bootstrap
        .iter()
        .filter_map(|b| Some((goversion::parse_release(&format!("go{}", b.version))?, b)))
        .filter(|(r, _)| r.minor >= need)
        .min_by_key(|(r, _)| *r)
        .map(|(_, b)| b)
        .ok_or_else(|| {
            format!("go `{}` is Go 1.{minor}, which needs a bootstrap Go 1.{need} or newer; add one to [[base.bootstrap]]", go.name)
        })?;
    let text = containerfile::toolchain(&base_ref, go, bootstrap);
    let inputs = ImageInputs {
        recipe: RECIPE_VERSION,
        kind: "go-toolchain".into(),
        containerfile: text.clone(),
        shas: BTreeMap::from([("go".to_string(), go.sha.clone())]),
        base: base_ref,
        bootstrap: format!("go{} {}", bootstrap.version, bootstrap.goroot),
        build_args: BTreeMap::new(),
        parent: None,
    };
    let hash = inputs.hash();
    Ok(Image {
        tag: image_tag("go", &hash),
        hash,
        kind: ImageKind::GoToolchain,
        title: format!("go {} ({})", go.name, &go.sha[..12]),
        containerfile: text,
        inputs,
        parent: None,
        sources: vec![SourceMount { url: go.url.clone(), target: containerfile::GO_MIRROR }],
        modcache: false,
        modfetch: None,
    })
}

/// The image of workload `w` (at `wref`, for workloads with a source) built
/// `FROM` the toolchain image of `go`, which need not be in the matrix.
pub fn workload_image(
    config: &Config,
    lock: &Lock,
    go: &LockedGo,
    toolchain: &Image,
    w: &Workload,
    wref: Option<&str>,
) -> Result<Image, String> {
    let (text, shas, sources, modfetch) = match wref {
        Some(r) => {
            let lw = lock
                .workload_entry(w.name.get_ref(), r)
                .ok_or_else(|| format!("workload `{}` ref `{r}` is not in the lock; run `cargo xtask lock`", w.name.get_ref()))?;
            let env = ModuleEnv { goflags: config.modules.goflags.as_ref().map(|s| s.get_ref().clone()) };
            let target = containerfile::policy_target(&config.modules.policy, &go.version());
            let text = containerfile::etcd(&toolchain.tag, lw, &w.build, target.as_deref(), &env);
            let shas = BTreeMap::from([("go".to_string(), go.sha.clone()), ("workload".to_string(), lw.sha.clone())]);
            let sources = vec![SourceMount { url: lw.url.clone(), target: containerfile::WORKLOAD_MIRROR }];
            let fetch = ModuleFetch::new(containerfile::etcd_module_fetch(lw, target.as_deref()), &lw.sha, &go.version(), &toolchain.tag);
            (text, shas, sources, Some(fetch))
        }
        None => {
            let packages: Vec<String> = w.packages.iter().map(|p| p.get_ref().clone()).collect();
            let text = containerfile::go_std(&toolchain.tag, &packages);
            (text, BTreeMap::from([("go".to_string(), go.sha.clone())]), vec![], None)
        }
    };
    let inputs = ImageInputs {
        recipe: RECIPE_VERSION,
        kind: "workload".into(),
        containerfile: text.clone(),
        shas,
        base: toolchain.inputs.base.clone(),
        bootstrap: toolchain.inputs.bootstrap.clone(),
        build_args: BTreeMap::new(),
        parent: Some(toolchain.hash.clone()),
    };
    let hash = inputs.hash();
    let title = match wref {
        Some(r) => format!("{} {r} on go {}", w.name.get_ref(), go.name),
        None => format!("{} on go {}", w.name.get_ref(), go.name),
    };
    Ok(Image {
        tag: image_tag(w.name.get_ref(), &hash),
        hash,
        kind: ImageKind::Workload,
        title,
        containerfile: text,
        inputs,
        parent: Some(toolchain.hash.clone()),
        sources,
        modcache: modfetch.is_some(),
        modfetch: modfetch.filter(|_| config.modules.cache.is_none()),
    })
}

/// The comparison groups of `cells`: cells that differ only in the Go ref,
/// which are compared with each other (run as interleaved pairs), so they run
/// together, on one host. Each group lists indices into `cells`, in their
/// order; groups come in the matrix's benchmark order, then by workload ref.
pub fn comparison_groups(config: &Config, cells: &[&Cell]) -> Vec<Vec<usize>> {
    let position = |name: &str| config.matrix.benchmarks.iter().position(|b| b.get_ref() == name);
    let mut groups: BTreeMap<(Option<usize>, &str, Option<&str>), Vec<usize>> = BTreeMap::new();
    for (i, c) in cells.iter().enumerate() {
        groups.entry((position(&c.benchmark), c.benchmark.as_str(), c.workload_ref.as_deref())).or_default().push(i);
    }
    groups.into_values().collect()
}

/// Which cells of the matrix a command works on. Empty lists select all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    pub go: Vec<String>,
    pub benchmarks: Vec<String>,
    pub workload_refs: Vec<String>,
    /// Cell ids, `go/workload@ref/benchmark`.
    pub cells: Vec<String>,
}

impl Plan {
    /// The cells a selector picks, in matrix order. A name that matches no
    /// cell is an error that lists the names that would.
    pub fn select(&self, s: &Selector) -> Result<Vec<&Cell>, String> {
        let check = |what: &str, wanted: &[String], have: Vec<String>| -> Result<(), String> {
            for w in wanted {
                if !have.contains(w) {
                    let mut have = have.clone();
                    have.sort();
                    have.dedup();
                    return Err(format!("no cell of the matrix has {what} `{w}`; known: {}", have.join(", ")));
                }
            }
            Ok(())
        };
        check("go", &s.go, self.cells.iter().map(|c| c.go.clone()).collect())?;
        check("benchmark", &s.benchmarks, self.cells.iter().map(|c| c.benchmark.clone()).collect())?;
        check("workload ref", &s.workload_refs, self.cells.iter().filter_map(|c| c.workload_ref.clone()).collect())?;
        check("id", &s.cells, self.cells.iter().map(Cell::id).collect())?;
        let pick = |wanted: &[String], v: Option<&String>| wanted.is_empty() || v.is_some_and(|v| wanted.contains(v));
        Ok(self
            .cells
            .iter()
            .filter(|c| {
                pick(&s.go, Some(&c.go))
                    && pick(&s.benchmarks, Some(&c.benchmark))
                    && pick(&s.workload_refs, c.workload_ref.as_ref())
                    && pick(&s.cells, Some(&c.id()))
            })
            .collect())
    }

    /// The images some cells need, parents first, each once.
    pub fn images_for(&self, cells: &[&Cell]) -> Vec<&Image> {
        self.images.iter().filter(|i| cells.iter().any(|c| c.image == i.hash || c.toolchain == i.hash)).collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The shipped pins pointed at local repositories, as the golden lock
    /// was made, and their plan.
    pub(crate) fn shipped() -> (Config, Plan) {
        let read = |path: &str| std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let text = read("toolchains.toml")
            .replace("url = \"https://github.com/etcd-io/etcd\"", "url = \"etcd\"")
            .replace("ref = \"master\"\n", "ref = \"master\"\nurl = \"go\"\n")
            .replace("ref = \"go1.27.3\"\n", "ref = \"go1.27.3\"\nurl = \"go\"\n");
        let config = crate::config::parse("toolchains.toml", &text).unwrap();
        let lock = Lock::parse(&read("tests/golden/shipped/toolchains.lock")).unwrap();
        let plan = plan(&config, &lock).unwrap();
        (config, plan)
    }

    #[test]
    fn comparison_groups_hold_cells_that_differ_only_in_the_go_ref() {
        let (config, plan) = shipped();
        let cells: Vec<&Cell> = plan.cells.iter().collect();
        let groups: Vec<Vec<String>> =
            comparison_groups(&config, &cells).into_iter().map(|g| g.into_iter().map(|i| cells[i].id()).collect()).collect();
        assert_eq!(
            groups,
            [
                ["master/etcd@main/put", "go1.27/etcd@main/put"],
                ["master/etcd@release-3.6/put", "go1.27/etcd@release-3.6/put"],
                ["master/etcd@main/stm", "go1.27/etcd@main/stm"],
                ["master/etcd@release-3.6/stm", "go1.27/etcd@release-3.6/stm"],
            ]
        );
        // A subset groups the same way; indices are into the subset.
        let some: Vec<&Cell> = cells.iter().copied().filter(|c| c.benchmark == "stm").rev().collect();
        let groups = comparison_groups(&config, &some);
        assert_eq!(groups, [vec![0, 2], vec![1, 3]], "{:?}", some.iter().map(|c| c.id()).collect::<Vec<_>>());
    }
}
