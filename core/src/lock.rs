//! `toolchains.lock`: every ref of the pins file resolved to a commit SHA,
//! plus the facts about each commit that the Containerfiles depend on (Go
//! version, go.mod lines). Written by `cargo xtask lock`, read by everything
//! else, so every later step is reproducible and offline.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::config::{Config, WorkloadKind};
use crate::{goversion, refname};

pub const LOCK_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub version: u32,
    #[serde(default)]
    pub go: Vec<LockedGo>,
    #[serde(default)]
    pub workload: Vec<LockedWorkload>,
    /// The modules of go-module workloads, one entry per (workload, ref, module).
    #[serde(default, rename = "go_module", skip_serializing_if = "Vec::is_empty")]
    pub go_modules: Vec<LockedModule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedGo {
    pub name: String,
    pub url: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub sha: String,
    /// Committer date, RFC 3339 UTC.
    pub commit_time: String,
    /// First line of `VERSION` at the commit, when it has one (releases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_file: Option<String>,
    /// `N` of `const Version = N` in goversion.go.
    pub minor: u32,
    /// What `cmd/dist` would call a build of this commit without a VERSION
    /// file; only for commits without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devel: Option<String>,
}

impl LockedGo {
    /// The version the toolchain reports: the release in VERSION, or
    /// `go1.N.0` for a devel commit.
    pub fn version(&self) -> String {
        match &self.version_file {
            Some(v) => v.clone(),
            None => goversion::release_shaped(self.minor),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedWorkload {
    pub name: String,
    pub url: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub sha: String,
    pub commit_time: String,
    /// Every go.mod and go.work file in the tree at `sha`, sorted by path.
    #[serde(default)]
    pub modules: Vec<ModFile>,
}

/// One module of a go-module workload at one of its refs, as the module
/// proxy resolved it (`go list -m -json MODULE@REF`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedModule {
    pub workload: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub path: String,
    /// The exact version: the tag, or the pseudo-version of a branch or commit.
    pub version: String,
    /// The version's commit time, RFC 3339 UTC, as the proxy reports it.
    pub time: String,
}

impl LockedModule {
    /// `path@version`, as `go get` takes it.
    pub fn at(&self) -> String {
        format!("{}@{}", self.path, self.version)
    }
}

/// The lines of one go.mod or go.work that the go.mod policy acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModFile {
    /// Path relative to the repository root, e.g. `server/go.mod`.
    pub path: String,
    /// The `go` directive's version, if the file has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub go: Option<String>,
    /// The `toolchain` directive's value, if the file has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toolchain: Option<String>,
    /// The module directories of the tree this file builds with, relative to
    /// the repository root: a go.mod's local `replace` targets, a go.work's
    /// `use` directories.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub local: Vec<String>,
}

impl ModFile {
    /// Reads the `go` and `toolchain` directives of a go.mod or go.work.
    pub fn parse(path: &str, text: &str) -> ModFile {
        let directive = |name: &str| {
            text.lines().find_map(|l| {
                let rest = l.trim().strip_prefix(name)?;
                let value = rest.strip_prefix([' ', '\t'])?.split("//").next()?.trim();
                (!value.is_empty()).then(|| value.to_string())
            })
        };
        let mut m = ModFile { path: path.to_string(), go: directive("go"), toolchain: directive("toolchain"), local: Vec::new() };
        let keyword = if m.is_go_mod() { "replace" } else { "use" };
        let mut in_block = false;
        for line in text.lines() {
            let line = line.split("//").next().unwrap_or("").trim();
            let entry = if in_block {
                in_block = line != ")";
                Some(line)
            } else if let Some(rest) = line.strip_prefix(keyword).filter(|r| r.starts_with([' ', '\t', '('])) {
                let rest = rest.trim();
                in_block = rest == "(";
                (!in_block).then_some(rest)
            } else {
                None
            };
            // `replace x => ./y` or `use ./y`; a target that is a module
            // path with a version is not in the tree.
            let target = entry.map(|e| e.rsplit_once("=>").map_or(e, |(_, t)| t).trim());
            if let Some(t) = target.filter(|t| *t == "." || t.starts_with("./") || t.starts_with("../")) {
                if let Some(dir) = join_dir(m.dir(), t) {
                    m.local.push(dir);
                }
            }
        }
        m.local.sort();
        m.local.dedup();
        m
    }

    pub fn is_go_mod(&self) -> bool {
        self.path == "go.mod" || self.path.ends_with("/go.mod")
    }

    /// The directory of the module, relative to the repository root (`.` at the root).
    pub fn dir(&self) -> &str {
        match self.path.rfind('/') {
            Some(i) => &self.path[..i],
            None => ".",
        }
    }
}

/// `dir/rel` with `.` and `..` resolved, relative to the repository root
/// (`.` for the root); `None` when it leaves the tree.
fn join_dir(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    for p in rel.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(if parts.is_empty() { ".".to_string() } else { parts.join("/") })
}

/// Whether a path in a repository is one the go.mod policy applies to. Files
/// under `testdata/` and `vendor/` are fixtures, not modules of the build.
pub fn is_mod_path(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    (file == "go.mod" || file == "go.work")
        && !path.split('/').any(|c| c == "testdata" || c == "vendor" || c.starts_with('.') || c.starts_with('_'))
}

/// What a lock must contain for a config: every (kind, name, url, ref).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Wanted {
    /// `go`, `workload` or `module` (a module of a go-module workload).
    pub kind: &'static str,
    pub name: String,
    /// The git URL, or the module path of a `module`.
    pub url: String,
    pub git_ref: String,
}

/// The refs a config asks for, in a stable order.
pub fn wanted(config: &Config) -> Vec<Wanted> {
    let mut out = BTreeSet::new();
    for g in &config.go {
        out.insert(Wanted { kind: "go", name: g.name.get_ref().clone(), url: g.url().to_string(), git_ref: g.git_ref.get_ref().clone() });
    }
    for w in &config.workload {
        let sources: Vec<(&'static str, String)> = match w.kind {
            WorkloadKind::Etcd => vec![("workload", w.url().unwrap_or_default().to_string())],
            WorkloadKind::GoModule => w.modules.iter().map(|m| ("module", m.get_ref().clone())).collect(),
            WorkloadKind::GoStd => vec![],
        };
        for (kind, url) in sources {
            for r in &w.refs {
                out.insert(Wanted { kind, name: w.name.get_ref().clone(), url: url.clone(), git_ref: r.get_ref().clone() });
            }
        }
    }
    out.into_iter().collect()
}

impl Lock {
    pub fn parse(text: &str) -> Result<Lock, String> {
        let lock: Lock = toml::from_str(text).map_err(|e| e.to_string())?;
        if lock.version != LOCK_VERSION {
            return Err(format!("unsupported lock version {}, expected {LOCK_VERSION}", lock.version));
        }
        for g in &lock.go {
            if !refname::is_full_sha(&g.sha) {
                return Err(format!("go `{}`: {:?} is not a full commit SHA", g.name, g.sha));
            }
            if let Some(d) = &g.devel {
                if !goversion::is_devel_string(d) {
                    return Err(format!("go `{}`: {d:?} is not a Go devel version string", g.name));
                }
            }
            if let Some(v) = &g.version_file {
                if goversion::parse_release(v).is_none() {
                    return Err(format!("go `{}`: VERSION {v:?} is not a Go release version", g.name));
                }
            }
        }
        for w in &lock.workload {
            if !refname::is_full_sha(&w.sha) {
                return Err(format!("workload `{}` ref `{}`: {:?} is not a full commit SHA", w.name, w.git_ref, w.sha));
            }
            for m in &w.modules {
                if !is_mod_path(&m.path) || refname::check_path(&format!("/{}", m.path)).is_err() {
                    return Err(format!("workload `{}`: {:?} is not a go.mod or go.work path", w.name, m.path));
                }
            }
        }
        for m in &lock.go_modules {
            // Both reach a `go get` line in a Containerfile.
            let valid = refname::check_package(&m.path).is_ok() && refname::check_ref(&m.version).is_ok() && m.version.starts_with('v');
            if !valid {
                return Err(format!("workload `{}`: {:?} is not a module path at a version", m.workload, m.at()));
            }
        }
        Ok(lock)
    }

    pub fn to_toml(&self) -> String {
        let body = toml::to_string_pretty(self).expect("a lock always serialises");
        format!("# Generated by `cargo xtask lock`: every ref of toolchains.toml resolved to a commit.\n# Commit this file. Refresh it with `cargo xtask lock`.\n\n{body}")
    }

    /// The entries of the config that this lock does not cover, as
    /// `kind name ref (url)` lines; empty when the lock is current.
    pub fn missing(&self, config: &Config) -> Vec<String> {
        wanted(config)
            .into_iter()
            .filter(|w| match w.kind {
                "go" => self.go_entry(&w.name).is_none_or(|g| g.url != w.url || g.git_ref != w.git_ref),
                "module" => !self.go_modules.iter().any(|m| m.workload == w.name && m.git_ref == w.git_ref && m.path == w.url),
                _ => self.workload_entry(&w.name, &w.git_ref).is_none_or(|l| l.url != w.url),
            })
            .map(|w| format!("{} `{}` ref `{}` ({})", w.kind, w.name, w.git_ref, w.url))
            .collect()
    }

    pub fn go_entry(&self, name: &str) -> Option<&LockedGo> {
        self.go.iter().find(|g| g.name == name)
    }

    pub fn workload_entry(&self, name: &str, git_ref: &str) -> Option<&LockedWorkload> {
        self.workload.iter().find(|w| w.name == name && w.git_ref == git_ref)
    }

    /// The locked modules of go-module workload `name` at `git_ref`, in lock order.
    pub fn module_entries(&self, name: &str, git_ref: &str) -> Vec<&LockedModule> {
        self.go_modules.iter().filter(|m| m.workload == name && m.git_ref == git_ref).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mod_file_directives() {
        let m = ModFile::parse(
            "server/go.mod",
            "module go.etcd.io/etcd/server/v3\n\ngo 1.24\n\ntoolchain go1.24.9 // pinned\n\nrequire (\n\tgo.etcd.io/bbolt v1.4.0\n)\n",
        );
        assert_eq!(m.go.as_deref(), Some("1.24"));
        assert_eq!(m.toolchain.as_deref(), Some("go1.24.9"));
        assert_eq!(m.dir(), "server");
        assert!(m.is_go_mod());
        assert!(m.local.is_empty());
        let w = ModFile::parse("go.work", "go 1.24.0\n\nuse (\n\t.\n\t./api\n)\n");
        assert_eq!(w.local, [".", "api"]);
        assert_eq!(w.go.as_deref(), Some("1.24.0"));
        assert_eq!(w.toolchain, None);
        assert_eq!(w.dir(), ".");
        assert!(!w.is_go_mod());
        // `godebug` and `gopher` lines are not the `go` directive.
        let g = ModFile::parse("go.mod", "module x\ngodebug default=go1.21\n");
        assert_eq!(g.go, None);
    }

    #[test]
    fn local_replaces_are_the_tree_a_module_builds_with() {
        let root = "module go.etcd.io/etcd/v3\n\nreplace (\n\tgo.etcd.io/etcd/api/v3 => ./api\n\tgo.etcd.io/etcd/server/v3 => ./server // local\n\tgithub.com/x/y => github.com/z/y v1.0.0\n)\n";
        assert_eq!(ModFile::parse("go.mod", root).local, ["api", "server"]);
        let server =
            "module go.etcd.io/etcd/server/v3\nreplace go.etcd.io/etcd/api/v3 => ../api\nreplace go.etcd.io/etcd/v3 v3.6.0 => ../\n";
        assert_eq!(ModFile::parse("server/go.mod", server).local, [".", "api"]);
        assert!(ModFile::parse("go.mod", "module x\nreplace y => ../outside\n").local.is_empty(), "outside the tree");
        assert!(ModFile::parse("go.mod", "module x\nreplacement := 1\n").local.is_empty());
    }

    #[test]
    fn mod_paths() {
        assert!(is_mod_path("go.mod"));
        assert!(is_mod_path("tools/mod/go.mod"));
        assert!(is_mod_path("go.work"));
        assert!(!is_mod_path("server/testdata/go.mod"));
        assert!(!is_mod_path("vendor/x/go.mod"));
        assert!(!is_mod_path("go.sum"));
        assert!(!is_mod_path("notgo.mod"));
    }
}
