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
    /// `workload` is what pins the workload's content: its commit SHA, or
    /// its modules' exact versions.
    fn new(script: String, workload: &str, toolchain_version: &str, toolchain_tag: &str) -> ModuleFetch {
        let canonical = serde_json::json!({
            "recipe": RECIPE_VERSION,
            "workload": workload,
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
                WorkloadKind::Etcd | WorkloadKind::GoModule => w.refs.iter().map(|r| Some(r.get_ref().as_str())).collect(),
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
    let go_sha = || BTreeMap::from([("go".to_string(), go.sha.clone())]);
    let env = ModuleEnv { goflags: config.modules.goflags.as_ref().map(|s| s.get_ref().clone()) };
    let target = containerfile::policy_target(&config.modules.policy, &go.version());
    let not_locked = |r: &str| format!("workload `{}` ref `{r}` is not in the lock; run `cargo xtask lock`", w.name.get_ref());
    let (text, shas, sources, modfetch) = match (w.kind, wref) {
        (WorkloadKind::Etcd, Some(r)) => {
            let lw = lock.workload_entry(w.name.get_ref(), r).ok_or_else(|| not_locked(r))?;
            let text = containerfile::etcd(&toolchain.tag, lw, &w.build, target.as_deref(), &env);
            let mut shas = go_sha();
            shas.insert("workload".to_string(), lw.sha.clone());
            let sources = vec![SourceMount { url: lw.url.clone(), target: containerfile::WORKLOAD_MIRROR }];
            let fetch = ModuleFetch::new(containerfile::etcd_module_fetch(lw, target.as_deref()), &lw.sha, &go.version(), &toolchain.tag);
            (text, shas, sources, Some(fetch))
        }
        (WorkloadKind::GoModule, Some(r)) => {
            let modules = lock.module_entries(w.name.get_ref(), r);
            if modules.len() != w.modules.len() {
                return Err(not_locked(r));
            }
            let programs: BTreeMap<String, String> = w.programs.iter().map(|(k, v)| (k.clone(), v.get_ref().clone())).collect();
            let packages: Vec<String> = w.packages.iter().map(|p| p.get_ref().clone()).collect();
            let build = containerfile::GoModuleBuild { modules: &modules, programs: &programs, packages: &packages };
            let text = containerfile::go_module(&toolchain.tag, &build, target.as_deref(), &env);
            let versions: Vec<String> = modules.iter().map(|m| m.at()).collect();
            let script = containerfile::go_module_fetch(&build, target.as_deref());
            (text, go_sha(), vec![], Some(ModuleFetch::new(script, &versions.join(" "), &go.version(), &toolchain.tag)))
        }
        (WorkloadKind::GoStd, _) => {
            let packages: Vec<String> = w.packages.iter().map(|p| p.get_ref().clone()).collect();
            (containerfile::go_std(&toolchain.tag, &packages), go_sha(), vec![], None)
        }
        (_, None) => return Err(format!("workload `{}` is built at a ref, and none was given", w.name.get_ref())),
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
    use crate::lock::{LockedModule, LOCK_VERSION};

    fn module(workload: &str, git_ref: &str, path: &str, version: &str) -> LockedModule {
        let time = "2026-07-23T19:19:04Z".to_string();
        LockedModule { workload: workload.into(), git_ref: git_ref.into(), path: path.into(), version: version.into(), time }
    }

    /// The shipped pins with the go-module workloads of the config tests,
    /// and a lock that covers them: uuid `master` is a pseudo-version.
    fn go_module_pins() -> (Config, Lock) {
        let shipped = include_str!("../../toolchains.toml");
        let config = crate::config::parse("toolchains.toml", &format!("{shipped}{}", crate::config::tests::GO_MODULE)).unwrap();
        let mut lock = Lock::parse(include_str!("../../tests/golden/shipped/toolchains.lock")).unwrap();
        lock.go_modules = vec![
            module("etcd-mod", "v3.6.14", "go.etcd.io/etcd/etcdctl/v3", "v3.6.14"),
            module("etcd-mod", "v3.6.14", "go.etcd.io/etcd/server/v3", "v3.6.14"),
            module("etcd-mod", "v3.6.14", "go.etcd.io/etcd/v3", "v3.6.14"),
            module("uuid", "master", "github.com/google/uuid", "v1.6.1-0.20241114170450-2d3c2a9cc518"),
            module("uuid", "v1.6.0", "github.com/google/uuid", "v1.6.0"),
        ];
        (config, lock)
    }

    #[test]
    fn a_go_module_workload_is_locked_by_module_versions() {
        let (config, mut lock) = go_module_pins();
        crate::golden::golden("go-module/toolchains.lock", &lock.to_toml());
        assert_eq!(Lock::parse(&lock.to_toml()).unwrap(), lock);
        let wanted: Vec<_> = crate::lock::wanted(&config).into_iter().filter(|w| w.kind == "module").collect();
        assert_eq!(wanted.len(), 5, "{wanted:?}");
        // Missing: the shipped workloads point at GitHub, not the golden lock's
        // local repositories; of the go-module entries, none until one goes.
        let modules_missing = |l: &Lock| l.missing(&config).into_iter().filter(|m| m.starts_with("module")).collect::<Vec<_>>();
        assert!(modules_missing(&lock).is_empty());
        lock.go_modules.retain(|m| m.git_ref != "master");
        assert_eq!(modules_missing(&lock), ["module `uuid` ref `master` (github.com/google/uuid)"]);
        let mut bad = go_module_pins().1;
        bad.go_modules[0].version = "v3.6.14;rm".into();
        assert!(Lock::parse(&bad.to_toml()).unwrap_err().contains("is not a module path at a version"));
        assert_eq!(LOCK_VERSION, 1, "go_module entries are an addition: old locks still load");
    }

    #[test]
    fn go_module_images_build_the_locked_versions_offline_in_a_scratch_module() {
        let (config, lock) = go_module_pins();
        let go = lock.go_entry("go1.27").unwrap();
        let toolchain = toolchain_image(&config, go).unwrap();
        let image = |name: &str, r: &str| workload_image(&config, &lock, go, &toolchain, config.workload(name).unwrap(), Some(r)).unwrap();
        let etcd = image("etcd-mod", "v3.6.14");
        let fetch = etcd.modfetch.as_ref().unwrap();
        crate::golden::golden("go-module/etcd-mod.Containerfile", &etcd.containerfile);
        crate::golden::golden("go-module/etcd-mod.fetch.sh", &fetch.script);
        let uuid = image("uuid", "master");
        crate::golden::golden("go-module/uuid.Containerfile", &uuid.containerfile);
        crate::golden::golden("go-module/uuid.fetch.sh", &uuid.modfetch.as_ref().unwrap().script);

        // No git source: the build reads only the module cache, filled by
        // the fetch, and the image moves with the module versions.
        assert!(etcd.sources.is_empty() && etcd.modcache);
        assert_eq!(etcd.inputs.shas.keys().collect::<Vec<_>>(), ["go"]);
        assert_ne!(uuid.hash, image("uuid", "v1.6.0").hash);
        assert_ne!(uuid.modfetch.as_ref().unwrap().key, image("uuid", "v1.6.0").modfetch.unwrap().key);
        assert!(uuid.containerfile.contains("go get -t github.com/google/uuid@v1.6.1-0.20241114170450-2d3c2a9cc518;"));
        assert!(etcd.containerfile.contains("go build -trimpath -o /usr/local/bin/benchmark go.etcd.io/etcd/v3/tools/benchmark;"));
        assert!(etcd.containerfile.contains("go get go.etcd.io/etcd/etcdctl/v3@v3.6.14 go.etcd.io/etcd/server/v3@v3.6.14"));
        assert!(!etcd.containerfile.contains("go mod tidy") && !fetch.script.contains("go mod tidy"));
        // The policy sets the scratch module's `go` line to the toolchain's.
        assert!(etcd.containerfile.contains("s/^go [0-9][0-9a-z.]*$/go 1.27.3/"), "{}", etcd.containerfile);
        for text in [&etcd.containerfile, &fetch.script] {
            assert!(text.contains("go mod init gobench.local/scratch"));
            assert!(!text.contains("GOPROXY=") || text.contains("GOPROXY=\"file:///gomodcache/cache/download\""), "{text}");
        }
        // The run: test binaries for a package, the etcd roles otherwise.
        let cell = |w: &str, b: &str| Cell {
            go: "go1.27".into(),
            workload: w.into(),
            workload_ref: Some("v3.6.14".into()),
            benchmark: b.into(),
            image: String::new(),
            toolchain: String::new(),
        };
        let spec = crate::spec::RunSpec::for_cell(&config, &cell("uuid", "uuid-parse"), "img").unwrap();
        assert_eq!(spec.protocol(), crate::spec::Protocol::TestBinary);
        assert_eq!(spec.client_command()[0], "/opt/gostd/github.com_google_uuid.test");
        assert!(uuid.containerfile.contains("-o /opt/gostd/github.com_google_uuid.test github.com/google/uuid"));
        let spec = crate::spec::RunSpec::for_cell(&config, &cell("etcd-mod", "put-mod"), "img").unwrap();
        assert_eq!(spec.protocol(), crate::spec::Protocol::EtcdPair);
        assert_eq!(spec.client_command()[..2], ["benchmark", "--endpoints=127.0.0.1:2379"]);
    }

    /// The shipped pins pointed at local repositories, as the golden lock
    /// was made, their lock and their plan.
    pub(crate) fn shipped() -> (Config, Lock, Plan) {
        let read = |path: &str| std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let text = read("toolchains.toml")
            .replace("url = \"https://github.com/etcd-io/etcd\"", "url = \"etcd\"")
            .replace("ref = \"master\"\n", "ref = \"master\"\nurl = \"go\"\n")
            .replace("ref = \"go1.27.3\"\n", "ref = \"go1.27.3\"\nurl = \"go\"\n");
        let config = crate::config::parse("toolchains.toml", &text).unwrap();
        let lock = Lock::parse(&read("tests/golden/shipped/toolchains.lock")).unwrap();
        let plan = plan(&config, &lock).unwrap();
        (config, lock, plan)
    }

    #[test]
    fn comparison_groups_hold_cells_that_differ_only_in_the_go_ref() {
        let (config, _, plan) = shipped();
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
