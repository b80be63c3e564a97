//! The module fetch: the one step with network access. It fills a module
//! cache for a workload build (`<cache>/modules/<key>`, GOMODCACHE layout)
//! in the parent toolchain image with the host's network namespace, so it
//! reaches the proxy however the host does (remote, or on its loopback).
//! The proxy settings come from the environment or the host's `go env` at
//! run time and never reach an image, a file or a hash.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use gobench_core::config::Config;
use gobench_core::containerfile::{MODCACHE_MOUNT, WORKLOAD_MIRROR};
use gobench_core::plan::{Image, ModuleFetch};
use xshell::Shell;

use crate::paths::Paths;
use crate::{git, podman};

/// The variables that tell Go how to reach modules, passed to the fetch.
const GO_ENV: [&str; 7] = ["GOPROXY", "GOSUMDB", "GONOSUMDB", "GOFLAGS", "GOPRIVATE", "GONOPROXY", "GOINSECURE"];
/// How the host reaches the network, passed to the fetch when set.
const NET_ENV: [&str; 6] = ["HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy"];
/// Where the fetch finds the host's CA certificates: a proxy behind a TLS
/// intercepting gateway is trusted by the host's store, not the image's.
const CA_MOUNT: &str = "/gobench-host-ca.crt";
/// The CA bundles Go itself looks for on Linux, in its order.
const CA_FILES: [&str; 4] =
    ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem", "/etc/pki/tls/cacert.pem"];

/// The module cache of `image`, fetched unless it is there. A fetch writes
/// into a temporary directory beside the cache and renames it into place
/// when it succeeded, so one that was cut off never counts as cached.
pub fn ensure(sh: &Shell, paths: &Paths, config: &Config, image: &Image, fetch: &ModuleFetch, step: &str) -> Result<PathBuf> {
    let root = paths.cache.join("modules");
    let dir = root.join(&fetch.key);
    if dir.join("cache/download").is_dir() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    // A go-module workload has no git source: its modules come from the proxy.
    let mirror = match image.sources.first() {
        Some(source) => Some(git::ensure_mirror(sh, &paths.cache, &paths.source_location(&source.url), &image.source_shas(source))?),
        None => None,
    };

    let tmp = tempfile::Builder::new().prefix(&format!(".fetch-{}-", &fetch.key[..12])).tempdir_in(&root)?;
    let env = go_env(config);
    let proxy = proxy_in_use(&env);
    eprintln!("{step} fetching the Go modules of {} (module cache {})", image.title, &fetch.key[..12]);
    let started = Instant::now();
    let mut c = podman::command();
    c.args(["run", "--rm", "--network=host", "--tmpfs", "/gobench-tmp:exec"]);
    if let Some(mirror) = &mirror {
        c.arg("--volume").arg(format!("{}:{WORKLOAD_MIRROR}:ro", mirror.display()));
    }
    c.arg("--volume").arg(format!("{}:{MODCACHE_MOUNT}", tmp.path().display()));
    let net = NET_ENV.iter().filter_map(|k| Some((k.to_string(), std::env::var(k).ok()?)));
    for (k, v) in env.iter().cloned().chain(net) {
        // `-e NAME` takes the value from podman's environment, so it is in
        // no command line.
        c.arg("-e").arg(&k);
        c.env(&k, v);
    }
    let ca = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from).into_iter().chain(CA_FILES.map(PathBuf::from)).find(|p| p.is_file());
    if let Some(ca) = ca {
        c.arg("--volume").arg(format!("{}:{CA_MOUNT}:ro", ca.display()));
        c.arg("-e").arg(format!("SSL_CERT_FILE={CA_MOUNT}"));
    }
    c.args([fetch.toolchain_tag.as_str(), "sh", "-c", &fetch.script]);
    let out = c.output().context("running the module fetch with `podman run`; is podman installed?")?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
        let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        anyhow::bail!(
            "fetching the Go modules of {} failed (GOPROXY={proxy}); check that the host reaches it (`go env GOPROXY`), \
             or set [modules] cache to a module cache directory:\n{}",
            image.title,
            tail[tail.len().saturating_sub(15)..].join("\n")
        );
    }
    let fetched = tmp.keep();
    std::fs::rename(&fetched, &dir).with_context(|| format!("moving the fetched module cache to {}", dir.display()))?;
    eprintln!("{step} fetched the Go modules of {} in {:.0} s", image.title, started.elapsed().as_secs_f64());
    Ok(dir)
}

/// The GOPROXY of `env`, for messages.
pub fn proxy_in_use(env: &[(String, String)]) -> String {
    env.iter().find(|(k, _)| k == "GOPROXY").map_or("(Go's default)", |(_, v)| v.as_str()).to_string()
}

/// The Go settings of the fetch (and of locking a go-module workload):
/// `[modules]` overrides, else the environment, else the host's `go env`
/// (its go.env and config file), else nothing, and Go's own default applies.
pub fn go_env(config: &Config) -> Vec<(String, String)> {
    let from_config = |k: &str| {
        let m = &config.modules;
        match k {
            "GOPROXY" => m.goproxy.as_ref(),
            "GONOSUMDB" => m.gonosumdb.as_ref(),
            "GOFLAGS" => m.goflags.as_ref(),
            _ => None,
        }
        .map(|v| v.get_ref().clone())
    };
    let host = host_go_env();
    GO_ENV
        .iter()
        .zip(host)
        .filter_map(|(k, host)| {
            let v = from_config(k).or_else(|| std::env::var(k).ok()).or(host).filter(|v| !v.is_empty())?;
            Some((k.to_string(), v))
        })
        .collect()
}

/// The host's Go command, if it has one.
pub fn host_go() -> Option<&'static str> {
    ["go", "/usr/local/go/bin/go"]
        .into_iter()
        .find(|go| std::process::Command::new(go).arg("version").output().is_ok_and(|o| o.status.success()))
}

/// `go env` of the host's Go, one value per name of [`GO_ENV`], or none.
fn host_go_env() -> Vec<Option<String>> {
    let values = host_go().and_then(|go| {
        let out = std::process::Command::new(go).arg("env").args(GO_ENV).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).lines().map(|l| Some(l.to_string())).collect::<Vec<_>>())
    });
    values.filter(|v| v.len() == GO_ENV.len()).unwrap_or_else(|| vec![None; GO_ENV.len()])
}

/// Whether a module cache directory can serve a build.
pub fn check_cache(cache: &Path) -> Result<()> {
    anyhow::ensure!(
        cache.join("cache/download").is_dir(),
        "module cache {} has no cache/download directory; set [modules] cache to a GOMODCACHE directory",
        cache.display()
    );
    Ok(())
}
