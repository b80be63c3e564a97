//! The thin shell around podman.
//!
//! Every podman call goes through here so it gets the project's
//! `containers.conf` (runc and explicit ulimits: what these hosts need)
//! unless the user points `CONTAINERS_CONF` elsewhere.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};
use xshell::{cmd, Shell};

use crate::paths::workspace_root;

/// The `--timestamp` of every image: a fixed time, so the image config does
/// not depend on when it was built (the same as the base image's).
pub const IMAGE_EPOCH: &str = "1735689600";

pub fn containers_conf() -> PathBuf {
    match std::env::var_os("CONTAINERS_CONF") {
        Some(c) => PathBuf::from(c),
        None => workspace_root().join("scripts/containers.conf"),
    }
}

/// A shell whose commands see the project's podman configuration.
pub fn shell() -> Result<Shell> {
    let sh = Shell::new()?;
    sh.set_var("CONTAINERS_CONF", containers_conf());
    Ok(sh)
}

/// A `podman` command for processes that are herded, not just run.
pub fn command() -> Command {
    let mut c = Command::new("podman");
    c.env("CONTAINERS_CONF", containers_conf());
    c
}

pub fn image_exists(sh: &Shell, reference: &str) -> Result<bool> {
    let out = cmd!(sh, "podman image exists {reference}")
        .quiet()
        .ignore_status()
        .output()
        .context("running `podman image exists`; is podman installed?")?;
    Ok(out.status.success())
}

/// `podman image inspect --format FORMAT reference`.
pub fn inspect(sh: &Shell, reference: &str, format: &str) -> Result<String> {
    cmd!(sh, "podman image inspect --format {format} {reference}").quiet().read().with_context(|| format!("inspecting image {reference}"))
}

/// What `podman build` needs beyond the Containerfile.
pub struct BuildSpec<'a> {
    pub containerfile: &'a Path,
    pub tag: &'a str,
    pub labels: Vec<(String, String)>,
    /// `(host path, container path)`, mounted read-only in every `RUN`.
    pub volumes: Vec<(PathBuf, String)>,
    pub network: bool,
    pub context: &'a Path,
    pub iidfile: &'a Path,
}

/// Starts `podman build` with everything that makes it reproducible on
/// podman 4.3: no cache (layers of earlier untimestamped builds would be
/// reused silently), a fixed timestamp, no history and no builder identity
/// label (they hold build-arg values and the podman version).
pub fn spawn_build(spec: &BuildSpec, log: &Path) -> Result<Child> {
    let log_file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut c = command();
    c.args(["build", "--pull=never", "--force-rm", "--no-cache", "--timestamp", IMAGE_EPOCH, "--omit-history", "--identity-label=false"]);
    if !spec.network {
        c.arg("--network=none");
    }
    c.arg("--file").arg(spec.containerfile);
    for (host, ctr) in &spec.volumes {
        c.arg("--volume").arg(format!("{}:{ctr}:ro", host.display()));
    }
    for (k, v) in &spec.labels {
        c.arg("--label").arg(format!("{k}={v}"));
    }
    c.arg("--tag").arg(spec.tag).arg("--iidfile").arg(spec.iidfile).arg(spec.context);
    c.stdin(Stdio::null()).stdout(log_file.try_clone()?).stderr(log_file);
    c.spawn().context("starting `podman build`; is podman installed?")
}
