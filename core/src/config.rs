//! `toolchains.toml`: the pins file. Parsing, defaults and validation.
//!
//! Every value that later reaches a Containerfile or a command line is
//! validated here, once, with the file position of the offending value, so
//! downstream code can trust a [`Config`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::detect::Aggregation;
use crate::ledger::UploadTarget;
use crate::refname;

/// Upstream Go, used when a `[[go]]` entry has no `url`.
pub const UPSTREAM_GO: &str = "https://go.googlesource.com/go";
/// Upstream etcd, used when an etcd `[[workload]]` has no `url`.
pub const UPSTREAM_ETCD: &str = "https://github.com/etcd-io/etcd";

/// The only schema version of `toolchains.toml` this toolkit reads.
pub const CONFIG_VERSION: u32 = 1;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub version: Spanned<u32>,
    pub base: Base,
    pub go: Vec<GoSource>,
    #[serde(default)]
    pub workload: Vec<Workload>,
    #[serde(default)]
    pub benchmark: Vec<Benchmark>,
    pub matrix: Matrix,
    #[serde(default)]
    pub modules: Modules,
    #[serde(default)]
    pub run: RunSettings,
    pub upload: Option<UploadTarget>,
    #[serde(default)]
    pub detect: Detect,
    pub serve: Option<Serve>,
    /// Benchmark hosts; none: the local podman only.
    #[serde(default)]
    pub host: Vec<crate::hosts::HostEntry>,
}

/// The image every toolchain image starts `FROM`, and the bootstrap Go
/// toolchains inside it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Base {
    /// Image reference without digest, e.g. `localhost/gobench/base:bookworm`.
    pub image: Spanned<String>,
    /// Content digest the reference is pinned to (`sha256:<64 hex>`).
    pub digest: Spanned<String>,
    /// sha256 of the rootfs tarball a local base image was imported from.
    pub rootfs_sha256: Option<String>,
    pub bootstrap: Vec<Bootstrap>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Bootstrap {
    /// Go version of the bootstrap toolchain, e.g. `1.27.3`.
    pub version: String,
    /// Its GOROOT inside the base image.
    pub goroot: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoSource {
    pub name: Spanned<String>,
    /// Branch, tag or commit SHA.
    #[serde(rename = "ref")]
    pub git_ref: Spanned<String>,
    pub url: Option<Spanned<String>>,
}

impl GoSource {
    pub fn url(&self) -> &str {
        self.url.as_ref().map_or(UPSTREAM_GO, |u| u.get_ref())
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    /// etcd and its `tools/benchmark` client, built from a git repository.
    Etcd,
    /// Benchmarks of the built toolchain's own standard library; needs no
    /// source and no network.
    GoStd,
    /// Packages of Go modules at a version from the module proxy, built in a
    /// scratch module: programs (such as etcd's roles) or benchmark test
    /// binaries.
    GoModule,
}

impl WorkloadKind {
    /// The kind as `toolchains.toml` and the result documents spell it.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Etcd => "etcd",
            WorkloadKind::GoStd => "go-std",
            WorkloadKind::GoModule => "go-module",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub name: Spanned<String>,
    pub kind: WorkloadKind,
    pub url: Option<Spanned<String>>,
    /// Branches, tags or SHAs of the workload repository (etcd), or versions
    /// of its modules (go-module): a tag, or a branch or commit the proxy
    /// resolves to a pseudo-version.
    #[serde(default)]
    pub refs: Vec<Spanned<String>>,
    /// The module paths a go-module workload builds from, each at every ref.
    #[serde(default)]
    pub modules: Vec<Spanned<String>>,
    /// go-module: programs installed in the image, by name, from a package
    /// of `modules`. A benchmark without `package` runs the etcd roles:
    /// `etcd` (server), `etcdctl` (its health check) and `benchmark` (client).
    #[serde(default)]
    pub programs: BTreeMap<String, Spanned<String>>,
    /// Shell steps run in the source tree after go.mod patching (etcd only).
    #[serde(default)]
    pub build: Vec<String>,
    /// Extra flags for the etcd server.
    #[serde(default)]
    pub server_flags: Vec<String>,
    /// Packages whose test binaries are built: of the standard library
    /// (go-std) or of `modules` (go-module).
    #[serde(default)]
    pub packages: Vec<Spanned<String>>,
}

/// The programs the etcd run starts: the server, the client it checks the
/// server's health with, and the benchmark client.
pub const ETCD_PROGRAMS: [&str; 3] = ["etcd", "etcdctl", "benchmark"];

impl Workload {
    pub fn url(&self) -> Option<&str> {
        match (&self.url, self.kind) {
            (Some(url), _) => Some(url.get_ref()),
            (None, WorkloadKind::Etcd) => Some(UPSTREAM_ETCD),
            (None, WorkloadKind::GoStd | WorkloadKind::GoModule) => None,
        }
    }

    /// go-module: the module of `package`, the longest of `modules` it is in.
    pub fn module_of(&self, package: &str) -> Option<&str> {
        self.modules.iter().map(|m| m.get_ref().as_str()).filter(|m| module_contains(m, package)).max_by_key(|m| m.len())
    }
}

/// Whether `package` is in the tree of module path `module` (a nested
/// module deeper down may still own it: the longest such module does).
pub fn module_contains(module: &str, package: &str) -> bool {
    package.strip_prefix(module).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Benchmark {
    pub name: Spanned<String>,
    pub workload: Spanned<String>,
    /// Arguments of the benchmark client (etcd) or the test binary (go-std).
    pub args: Vec<String>,
    /// The package whose test binary runs the benchmark (go-std, go-module);
    /// without it a go-module benchmark runs the etcd roles.
    pub package: Option<Spanned<String>>,
    pub runs: u32,
    /// A run that takes longer is killed and recorded as invalid.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Labels a host must have (all of them, equal) to run this benchmark,
    /// e.g. `{ cpu = "EPYC 7763" }`: results of unlike machines are not compared.
    #[serde(default)]
    pub requires: BTreeMap<String, String>,
}

fn default_timeout_secs() -> u64 {
    900
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// Names of `[[go]]` entries.
    pub go: Vec<Spanned<String>>,
    /// Names of `[[benchmark]]` entries; each runs on every ref of its workload.
    pub benchmarks: Vec<Spanned<String>>,
}

/// What to do with the `go` and `toolchain` lines of a workload's go.mod and
/// go.work files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ModPolicy {
    /// Leave the files alone.
    Keep,
    /// Set the `go` line to the toolchain's own version.
    Toolchain,
    /// Set the `go` line to this version.
    Fixed(String),
}

impl<'de> Deserialize<'de> for ModPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "keep" => Ok(ModPolicy::Keep),
            "toolchain" => Ok(ModPolicy::Toolchain),
            v if is_go_directive_version(v) => Ok(ModPolicy::Fixed(v.to_string())),
            _ => Err(serde::de::Error::custom(format!("expected \"keep\", \"toolchain\" or a go version such as \"1.24.0\", found {s:?}"))),
        }
    }
}

fn is_go_directive_version(v: &str) -> bool {
    let mut parts = v.split('.');
    parts.next() == Some("1")
        && v.split('.').count() <= 3
        && parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && v.contains('.')
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Modules {
    #[serde(default = "default_policy")]
    pub policy: ModPolicy,
    pub goproxy: Option<Spanned<String>>,
    pub goflags: Option<Spanned<String>>,
    pub gonosumdb: Option<Spanned<String>>,
    /// A host directory laid out like GOMODCACHE (`cache/download` inside),
    /// mounted read-only and used as `GOPROXY=file://...` for workload builds.
    pub cache: Option<String>,
}

fn default_policy() -> ModPolicy {
    ModPolicy::Toolchain
}

impl Default for Modules {
    fn default() -> Self {
        Modules { policy: default_policy(), goproxy: None, goflags: None, gonosumdb: None, cache: None }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSettings {
    /// CPUs for the server container (`--cpuset-cpus`), e.g. `"0"`.
    pub server_cpus: Option<String>,
    /// CPUs for the client container, e.g. `"1"`.
    pub client_cpus: Option<String>,
    /// Where the etcd data directory lives: a fresh `tmpfs` per run (default)
    /// or a fresh podman `volume`.
    #[serde(default)]
    pub data_dir: DataDir,
    /// Discarded runs before each measured run (see [`crate::spec::Settling`]).
    #[serde(default)]
    pub warmup_runs: u32,
    /// `false` turns the 0.5 s sampler off during runs.
    #[serde(default)]
    pub sampler: Option<bool>,
    /// Wait before each run until the CPUs are busy less than this percentage.
    pub wait_idle_below_pct: Option<Spanned<u32>>,
}

impl RunSettings {
    /// The settling every run of these pins uses.
    pub fn settling(&self) -> crate::spec::Settling {
        crate::spec::Settling {
            warmup_runs: self.warmup_runs,
            sampler: self.sampler.unwrap_or(true),
            wait_idle_below_pct: self.wait_idle_below_pct.as_ref().map(|p| *p.get_ref()),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DataDir {
    #[default]
    Tmpfs,
    Volume,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Detect {
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    #[serde(default = "default_window")]
    pub window: usize,
    #[serde(default = "default_min_previous")]
    pub min_previous: usize,
    #[serde(default = "default_aggregation")]
    pub aggregation: Aggregation,
    /// A series with no new valid result for this many days is reported.
    #[serde(default = "default_max_age_days")]
    pub max_age_days: u32,
}

fn default_aggregation() -> Aggregation {
    Aggregation::Mean
}
fn default_threshold() -> f64 {
    0.10
}
fn default_window() -> usize {
    5
}
fn default_min_previous() -> usize {
    10
}
fn default_max_age_days() -> u32 {
    7
}

impl Default for Detect {
    fn default() -> Self {
        Detect {
            threshold: default_threshold(),
            window: default_window(),
            min_previous: default_min_previous(),
            aggregation: default_aggregation(),
            max_age_days: default_max_age_days(),
        }
    }
}

/// `[serve]`: the job service (`cargo xtask serve`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Serve {
    /// The watched GitHub repository, `owner/name`.
    pub repository: Spanned<String>,
    /// What its commits are: `go` (Go itself) or `workload` (e.g. etcd).
    pub role: crate::job::Role,
    /// The benchmark its jobs run; the commit status context is `gobench/<benchmark>`.
    pub benchmark: Spanned<String>,
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The address GitHub links to (`target_url`); default `http://<listen>`.
    pub public_url: Option<String>,
    /// GitHub's REST API; a GitHub Enterprise server's is `https://HOST/api/v3`.
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// The webhook secret (chmod 600), relative to the config; else `$GOBENCH_WEBHOOK_SECRET`.
    pub secret_file: Option<String>,
    /// The GitHub token (chmod 600), relative to the config; else `$GITHUB_TOKEN`.
    pub token_file: Option<String>,
    /// Claims of a job (a restart while it runs counts) before it is failed.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
}

/// Loopback: the service is reached through a reverse proxy or a tunnel.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8077";
pub const DEFAULT_GITHUB_API: &str = "https://api.github.com";

fn default_listen() -> String {
    DEFAULT_LISTEN.to_string()
}
fn default_api_url() -> String {
    DEFAULT_GITHUB_API.to_string()
}
fn default_max_attempts() -> u32 {
    3
}

/// A problem in a TOML file, with the byte range it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The offending source line, for display.
    pub source_line: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)?;
        if !self.source_line.is_empty() {
            write!(f, "\n  | {}\n  | {:>width$}", self.source_line, "^", width = self.column)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    pub fn at(file: &str, text: &str, span: Option<Range<usize>>, message: impl Into<String>) -> ConfigError {
        let offset = span.map_or(0, |s| s.start).min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = text[line_start..offset].chars().count() + 1;
        let source_line = text[line_start..].lines().next().unwrap_or("").to_string();
        ConfigError { file: file.to_string(), line, column, message: message.into(), source_line }
    }
}

/// Parses and validates a pins file. `file` is only used in messages.
pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
    let config: Config = toml::from_str(text).map_err(|e| {
        let message = e.message().trim_end().to_string();
        ConfigError::at(file, text, e.span(), message)
    })?;
    let err = |span: Range<usize>, msg: String| ConfigError::at(file, text, Some(span), msg);
    validate(&config).map_err(|(span, msg)| err(span, msg))?;
    Ok(config)
}

type Invalid = (Range<usize>, String);

fn validate(c: &Config) -> Result<(), Invalid> {
    if *c.version.get_ref() != CONFIG_VERSION {
        return Err((
            c.version.span(),
            format!("unsupported version {}, this toolkit reads version {CONFIG_VERSION}", c.version.get_ref()),
        ));
    }
    validate_base(&c.base)?;

    let mut go_names = BTreeSet::new();
    for go in &c.go {
        check_name(&go.name)?;
        if !go_names.insert(go.name.get_ref().as_str()) {
            return Err(dup("go", &go.name));
        }
        check(&go.git_ref, refname::check_ref)?;
        if let Some(url) = &go.url {
            check(url, refname::check_url)?;
        }
    }

    let mut workload_names = BTreeSet::new();
    for w in &c.workload {
        check_name(&w.name)?;
        if !workload_names.insert(w.name.get_ref().as_str()) {
            return Err(dup("workload", &w.name));
        }
        if let Some(url) = &w.url {
            check(url, refname::check_url)?;
        }
        for r in &w.refs {
            check(r, refname::check_ref)?;
        }
        for p in &w.packages {
            check(p, refname::check_package)?;
        }
        validate_workload(w)?;
    }

    let mut bench_names = BTreeSet::new();
    for b in &c.benchmark {
        check_name(&b.name)?;
        if !bench_names.insert(b.name.get_ref().as_str()) {
            return Err(dup("benchmark", &b.name));
        }
        let Some(w) = c.workload.iter().find(|w| w.name.get_ref() == b.workload.get_ref()) else {
            return Err(unknown("workload", &b.workload, &workload_names));
        };
        if b.runs == 0 {
            return Err((b.name.span(), format!("benchmark `{}` has `runs = 0`; it needs at least 1", b.name.get_ref())));
        }
        match (w.kind, &b.package) {
            (WorkloadKind::GoStd, None) => {
                return Err((b.name.span(), "a go-std benchmark needs `package`, one of its workload's packages".into()))
            }
            (WorkloadKind::GoStd | WorkloadKind::GoModule, Some(p)) if !w.packages.iter().any(|q| q.get_ref() == p.get_ref()) => {
                return Err((p.span(), format!("package {:?} is not in the `packages` of workload `{}`", p.get_ref(), w.name.get_ref())))
            }
            (WorkloadKind::GoModule, None) if !ETCD_PROGRAMS.iter().all(|p| w.programs.contains_key(*p)) => {
                return Err((
                    b.name.span(),
                    format!(
                        "benchmark `{}` has no `package`, so it runs the etcd roles, and workload `{}` needs `programs` named {}",
                        b.name.get_ref(),
                        w.name.get_ref(),
                        ETCD_PROGRAMS.map(|p| format!("`{p}`")).join(", ")
                    ),
                ))
            }
            (WorkloadKind::Etcd, Some(p)) => return Err((p.span(), "`package` is only for go-std and go-module benchmarks".into())),
            _ => {}
        }
    }

    for g in &c.matrix.go {
        if !go_names.contains(g.get_ref().as_str()) {
            return Err(unknown("go", g, &go_names));
        }
    }
    for b in &c.matrix.benchmarks {
        if !bench_names.contains(b.get_ref().as_str()) {
            return Err(unknown("benchmark", b, &bench_names));
        }
    }
    if let Some(serve) = &c.serve {
        validate_serve(serve, &bench_names)?;
    }
    validate_hosts(&c.host)?;
    for b in &c.benchmark {
        if !b.requires.is_empty() && !crate::hosts::pool(&c.host).iter().any(|h| h.satisfies(&b.requires)) {
            let wanted: Vec<String> = b.requires.iter().map(|(k, v)| format!("{k} = {v:?}")).collect();
            return Err((
                b.name.span(),
                format!(
                    "benchmark `{}` requires {{ {} }}, which no [[host]] has; add those labels to a host or drop `requires`",
                    b.name.get_ref(),
                    wanted.join(", ")
                ),
            ));
        }
    }
    if let Some(pct) = c.run.wait_idle_below_pct.as_ref().filter(|p| !(1..=100).contains(p.get_ref())) {
        return Err((pct.span(), format!("`wait_idle_below_pct` is a percentage of CPU time, 1 to 100, got {}", pct.get_ref())));
    }
    for value in [&c.modules.goproxy, &c.modules.goflags, &c.modules.gonosumdb].into_iter().flatten() {
        check(value, refname::check_env_value)?;
    }
    Ok(())
}

fn validate_workload(w: &Workload) -> Result<(), Invalid> {
    let only = |what: &str, kinds: &str| format!("`{what}` is not for {} workloads, only for {kinds}", w.kind.name());
    if let Some(m) = w.modules.first().filter(|_| w.kind != WorkloadKind::GoModule) {
        return Err((m.span(), only("modules", "go-module")));
    }
    if let Some(p) = w.programs.values().next().filter(|_| w.kind != WorkloadKind::GoModule) {
        return Err((p.span(), only("programs", "go-module")));
    }
    match w.kind {
        WorkloadKind::Etcd => {
            if w.refs.is_empty() {
                return Err((w.name.span(), "an etcd workload needs at least one entry in `refs`".into()));
            }
            if let Some(p) = w.packages.first() {
                return Err((p.span(), only("packages", "go-std and go-module")));
            }
        }
        WorkloadKind::GoStd => {
            if let Some(r) = w.refs.first() {
                return Err((r.span(), "a go-std workload has no `refs`: it benchmarks the toolchain itself".into()));
            }
            if let Some(url) = &w.url {
                return Err((url.span(), "a go-std workload has no `url`: it benchmarks the toolchain itself".into()));
            }
            if w.packages.is_empty() {
                return Err((w.name.span(), "a go-std workload needs at least one entry in `packages`".into()));
            }
        }
        WorkloadKind::GoModule => {
            if let Some(url) = &w.url {
                return Err((url.span(), "a go-module workload has no `url`: its `modules` come from the module proxy".into()));
            }
            if w.modules.is_empty() {
                return Err((w.name.span(), "a go-module workload needs at least one entry in `modules`".into()));
            }
            if w.refs.is_empty() {
                return Err((w.name.span(), "a go-module workload needs at least one version in `refs`, such as \"v1.6.0\"".into()));
            }
            if !w.build.is_empty() {
                return Err((w.name.span(), "a go-module workload has no `build` steps: it builds its `programs` and `packages`".into()));
            }
            if w.programs.is_empty() && w.packages.is_empty() {
                return Err((w.name.span(), "a go-module workload needs `programs` or `packages` to build".into()));
            }
            for m in &w.modules {
                check(m, refname::check_package)?;
            }
            for (name, p) in &w.programs {
                refname::check_name(name).map_err(|m| (p.span(), format!("program {m}")))?;
                check(p, refname::check_package)?;
            }
            for p in w.programs.values().chain(&w.packages) {
                if w.module_of(p.get_ref()).is_none() {
                    return Err((
                        p.span(),
                        format!("package {:?} is in none of the `modules` of workload `{}`", p.get_ref(), w.name.get_ref()),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn validate_serve(s: &Serve, bench_names: &BTreeSet<&str>) -> Result<(), Invalid> {
    let repo = s.repository.get_ref();
    let valid_part = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    match repo.split_once('/') {
        Some((owner, name)) if valid_part(owner) && valid_part(name) => {}
        _ => return Err((s.repository.span(), format!("expected a GitHub repository `owner/name`, found {repo:?}"))),
    }
    if !bench_names.contains(s.benchmark.get_ref().as_str()) {
        return Err(unknown("benchmark", &s.benchmark, bench_names));
    }
    if s.max_attempts == 0 {
        return Err((s.repository.span(), "`max_attempts` must be at least 1".into()));
    }
    Ok(())
}

fn validate_hosts(hosts: &[crate::hosts::HostEntry]) -> Result<(), Invalid> {
    let mut names = BTreeSet::new();
    let mut connections = BTreeSet::new();
    for h in hosts {
        check_name(&h.name)?;
        if !names.insert(h.name.get_ref().as_str()) {
            return Err(dup("host", &h.name));
        }
        let at = h.connection.as_ref().map_or(h.name.span(), Spanned::span);
        let text = h.connection.as_ref().map_or("local", |c| c.get_ref().as_str());
        crate::hosts::Connection::parse(text).map_err(|m| (at.clone(), m))?;
        // Two entries for one podman would run two benchmarks on one machine at once.
        if !connections.insert(text) {
            return Err((at, format!("host `{}` has the connection {text:?} of another host", h.name.get_ref())));
        }
        for key in h.labels.keys() {
            refname::check_name(key).map_err(|m| (h.name.span(), format!("label of host `{}`: {m}", h.name.get_ref())))?;
        }
    }
    Ok(())
}

fn validate_base(base: &Base) -> Result<(), Invalid> {
    check(&base.image, refname::check_image)?;
    let d = base.digest.get_ref();
    let hex = d.strip_prefix("sha256:").unwrap_or("");
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return Err((base.digest.span(), format!("expected a digest `sha256:<64 lowercase hex>`, found {d:?}")));
    }
    if base.bootstrap.is_empty() {
        return Err((base.image.span(), "the base image needs at least one `[[base.bootstrap]]` Go".into()));
    }
    for b in &base.bootstrap {
        if crate::goversion::parse_release(&format!("go{}", b.version)).is_none() {
            return Err((base.image.span(), format!("bootstrap version {:?} is not a Go release such as \"1.27.3\"", b.version)));
        }
        refname::check_path(&b.goroot).map_err(|m| (base.image.span(), format!("bootstrap goroot: {m}")))?;
    }
    Ok(())
}

fn check(value: &Spanned<String>, f: fn(&str) -> Result<(), String>) -> Result<(), Invalid> {
    f(value.get_ref()).map_err(|m| (value.span(), m))
}

fn check_name(name: &Spanned<String>) -> Result<(), Invalid> {
    check(name, refname::check_name)
}

fn dup(what: &str, name: &Spanned<String>) -> Invalid {
    (name.span(), format!("duplicate {what} name `{}`", name.get_ref()))
}

fn unknown(what: &str, name: &Spanned<String>, known: &BTreeSet<&str>) -> Invalid {
    let known: Vec<_> = known.iter().map(|k| format!("`{k}`")).collect();
    (name.span(), format!("unknown {what} `{}`; known: {}", name.get_ref(), known.join(", ")))
}

impl Config {
    pub fn go_source(&self, name: &str) -> Option<&GoSource> {
        self.go.iter().find(|g| g.name.get_ref() == name)
    }
    pub fn workload(&self, name: &str) -> Option<&Workload> {
        self.workload.iter().find(|w| w.name.get_ref() == name)
    }
    pub fn benchmark(&self, name: &str) -> Option<&Benchmark> {
        self.benchmark.iter().find(|b| b.name.get_ref() == name)
    }
    /// The image reference pinned by digest, as it appears after `FROM`.
    pub fn base_reference(&self) -> String {
        format!("{}@{}", self.base.image.get_ref(), self.base.digest.get_ref())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../toolchains.toml");

    #[test]
    fn host_entries_and_their_errors_point_at_the_line() {
        let with = |hosts: &str| parse("toolchains.toml", &format!("{SHIPPED}\n{hosts}"));
        let c =
            with("[[host]]\nname = \"here\"\n[[host]]\nname = \"b2\"\nconnection = \"unix:///run/b2.sock\"\nlabels = { cpu = \"EPYC\" }\n")
                .unwrap();
        assert_eq!(c.host.len(), 2);
        assert_eq!(c.host[0].connection(), crate::hosts::Connection::Local);
        assert_eq!(c.host[1].connection().podman_args(), ["--url", "unix:///run/b2.sock"]);
        assert_eq!(c.host[1].labels["cpu"], "EPYC");
        let lines = SHIPPED.lines().count();
        let table = [
            ("[[host]]\nname = \"a\"\nconnection = \"tcp://x:1\"\n", 3, "only `local`"),
            ("[[host]]\nname = \"a\"\n[[host]]\nname = \"a\"\n", 4, "duplicate host name `a`"),
            ("[[host]]\nname = \"a\"\n[[host]]\nname = \"b\"\nconnection = \"local\"\n", 5, "the connection \"local\" of another host"),
            ("[[host]]\nname = \"a\"\nlabel = {}\n", 3, "unknown field `label`"),
            ("[[host]]\nname = \"a b\"\n", 2, "name \"a b\""),
        ];
        for (text, line, want) in table {
            let e = with(text).unwrap_err();
            assert!(e.message.contains(want), "{text}: {e}");
            assert_eq!(e.line, lines + 1 + line, "{text}: {e}");
        }
    }

    #[test]
    fn a_benchmarks_required_labels_must_be_on_some_host() {
        let bench = "[[benchmark]]\nname = \"pinned\"\nworkload = \"go-std\"\npackage = \"strconv\"\nargs = []\nruns = 1\nrequires = { cpu = \"EPYC\" }\n";
        let lines = SHIPPED.lines().count();
        let with = |hosts: &str| parse("toolchains.toml", &format!("{SHIPPED}\n{bench}{hosts}"));
        let c =
            with("[[host]]\nname = \"a\"\n[[host]]\nname = \"b\"\nconnection = \"unix:///b.sock\"\nlabels = { cpu = \"EPYC\" }\n").unwrap();
        assert_eq!(c.benchmark("pinned").unwrap().requires["cpu"], "EPYC");
        for hosts in ["", "[[host]]\nname = \"a\"\nlabels = { cpu = \"Xeon\" }\n"] {
            let e = with(hosts).unwrap_err();
            assert!(e.message.contains("benchmark `pinned` requires { cpu = \"EPYC\" }, which no [[host]] has"), "{e}");
            assert_eq!(e.line, lines + 3, "{e}");
        }
    }

    #[test]
    fn serve_table_defaults_and_errors() {
        let with = |table: &str| parse("toolchains.toml", &format!("{SHIPPED}\n[serve]\n{table}"));
        let s = with("repository = \"etcd-io/etcd\"\nrole = \"workload\"\nbenchmark = \"put\"\n").unwrap().serve.unwrap();
        assert_eq!(
            (s.role, s.listen.as_str(), s.api_url.as_str(), s.max_attempts),
            (crate::job::Role::Workload, DEFAULT_LISTEN, DEFAULT_GITHUB_API, 3)
        );
        let table = [
            ("repository = \"etcd\"\nrole = \"go\"\nbenchmark = \"put\"\n", "expected a GitHub repository"),
            ("repository = \"a/b c\"\nrole = \"go\"\nbenchmark = \"put\"\n", "expected a GitHub repository"),
            ("repository = \"golang/go\"\nrole = \"go\"\nbenchmark = \"nope\"\n", "unknown benchmark `nope`"),
            ("repository = \"golang/go\"\nrole = \"tool\"\nbenchmark = \"put\"\n", "unknown variant `tool`"),
            ("repository = \"golang/go\"\nrole = \"go\"\nbenchmark = \"put\"\nmax_attempts = 0\n", "at least 1"),
            ("repository = \"golang/go\"\nrole = \"go\"\nbenchmark = \"put\"\ntoken = \"x\"\n", "unknown field `token`"),
        ];
        for (text, want) in table {
            let e = with(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn run_settling_defaults_and_errors() {
        let with =
            |lines: &str| parse("toolchains.toml", &SHIPPED.replace("data_dir = \"tmpfs\"\n", &format!("data_dir = \"tmpfs\"\n{lines}")));
        assert_eq!(with("").unwrap().run.settling(), crate::spec::Settling::default());
        let s = with("warmup_runs = 2\nsampler = false\nwait_idle_below_pct = 10\n").unwrap().run.settling();
        assert_eq!((s.warmup_runs, s.sampler, s.wait_idle_below_pct), (2, false, Some(10)));
        for bad in ["wait_idle_below_pct = 0\n", "wait_idle_below_pct = 101\n"] {
            let e = with(bad).unwrap_err();
            assert!(e.message.contains("1 to 100"), "{bad}: {e}");
            assert_eq!(SHIPPED.lines().nth(e.line - 2), Some("data_dir = \"tmpfs\""), "{bad}: {e}");
        }
    }

    /// An etcd-roles and a benchmark-package go-module workload, with a
    /// benchmark on each, after the shipped pins.
    pub(crate) const GO_MODULE: &str = r#"
[[workload]]
name = "etcd-mod"
kind = "go-module"
modules = ["go.etcd.io/etcd/server/v3", "go.etcd.io/etcd/etcdctl/v3", "go.etcd.io/etcd/v3"]
refs = ["v3.6.14"]
programs = { etcd = "go.etcd.io/etcd/server/v3", etcdctl = "go.etcd.io/etcd/etcdctl/v3", benchmark = "go.etcd.io/etcd/v3/tools/benchmark" }

[[workload]]
name = "uuid"
kind = "go-module"
modules = ["github.com/google/uuid"]
refs = ["v1.6.0", "master"]
packages = ["github.com/google/uuid"]

[[benchmark]]
name = "put-mod"
workload = "etcd-mod"
args = ["put", "--total=1000"]
runs = 1

[[benchmark]]
name = "uuid-parse"
workload = "uuid"
package = "github.com/google/uuid"
args = ["-test.run=^$", "-test.bench=^BenchmarkParse$"]
runs = 1
"#;

    #[test]
    fn go_module_workloads_parse() {
        let c = parse("toolchains.toml", &format!("{SHIPPED}{GO_MODULE}")).unwrap();
        let etcd = c.workload("etcd-mod").unwrap();
        assert_eq!(etcd.kind, WorkloadKind::GoModule);
        assert_eq!(etcd.module_of("go.etcd.io/etcd/v3/tools/benchmark"), Some("go.etcd.io/etcd/v3"));
        assert_eq!(etcd.module_of("go.etcd.io/etcd/server/v3"), Some("go.etcd.io/etcd/server/v3"));
        assert_eq!(etcd.module_of("go.etcd.io/etcd/v3x"), None);
        assert_eq!(etcd.url(), None);
        assert_eq!(serde_json::to_value(WorkloadKind::GoModule).unwrap(), WorkloadKind::GoModule.name());
    }

    /// (replace this in GO_MODULE, with this, the error points at this, and says this)
    #[test]
    fn go_module_errors_point_at_the_value() {
        let cases: &[(&str, &str, &str, &str)] = &[
            ("modules = [\"github.com/google/uuid\"]\n", "", "\"uuid\"\nkind", "needs at least one entry in `modules`"),
            ("refs = [\"v1.6.0\", \"master\"]\n", "", "\"uuid\"\nkind", "needs at least one version in `refs`"),
            ("refs = [\"v1.6.0\", \"master\"]", "refs = [\"v1.6.0\", \"master;x\"]", "\"master;x\"", "contains ';'"),
            ("packages = [\"github.com/google/uuid\"]\n", "", "\"uuid\"\nkind", "needs `programs` or `packages`"),
            (
                "packages = [\"github.com/google/uuid\"]",
                "packages = [\"github.com/google/uuidx\"]",
                "\"github.com/google/uuidx\"",
                "is in none of the `modules` of workload `uuid`",
            ),
            (
                "kind = \"go-module\"\nmodules = [\"github.com/google/uuid\"]",
                "kind = \"go-module\"\nurl = \"https://github.com/google/uuid\"\nmodules = [\"github.com/google/uuid\"]",
                "\"https://github.com/google/uuid\"",
                "has no `url`",
            ),
            (
                "kind = \"go-module\"\nmodules = [\"github.com/google/uuid\"]",
                "kind = \"go-std\"\nmodules = [\"github.com/google/uuid\"]",
                "\"github.com/google/uuid\"]\nrefs",
                "`modules` is not for go-std workloads",
            ),
            (
                "etcdctl = \"go.etcd.io/etcd/etcdctl/v3\", ",
                "",
                "\"put-mod\"\nworkload",
                "runs the etcd roles, and workload `etcd-mod` needs `programs` named `etcd`, `etcdctl`, `benchmark`",
            ),
            (
                "package = \"github.com/google/uuid\"",
                "package = \"github.com/google/uuid/x\"",
                "\"github.com/google/uuid/x\"",
                "not in the `packages` of workload `uuid`",
            ),
            ("{ etcd = ", "{ \"et cd\" = ", "\"go.etcd.io/etcd/server/v3\", etcdctl", "program name \"et cd\""),
        ];
        for (from, to, marker, message) in cases {
            let extra = GO_MODULE.replacen(from, to, 1);
            assert_ne!(extra, GO_MODULE, "{from:?} not found");
            let text = format!("{SHIPPED}{extra}");
            let e = parse("toolchains.toml", &text).unwrap_err();
            let offset = SHIPPED.len() + extra.find(marker).unwrap_or_else(|| panic!("{marker:?} not in {extra}"));
            let line = text[..offset].matches('\n').count() + 1;
            let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1) + 1;
            assert_eq!((e.line, e.column), (line, column), "{to:?} -> {e}");
            assert!(e.message.contains(message), "{to:?}: {e}");
        }
    }
}
