//! The thin shell around podman.
//!
//! Every podman call goes through here so it gets the project's
//! `containers.conf` (runc and explicit ulimits: what these hosts need)
//! unless the user points `CONTAINERS_CONF` elsewhere.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};
use gobench_core::hosts::{self, Connection};
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

/// A shell whose podman calls go to `host` (through podman's environment,
/// so every `podman` of a run, a probe or a check reaches that host; for
/// the local host, the environment is left as the user set it).
pub fn shell_at(host: &Connection) -> Result<Shell> {
    let sh = shell()?;
    if let Some((var, value)) = host.podman_env() {
        sh.set_var(var, value);
    }
    Ok(sh)
}

/// The host a shell's podman calls go to.
pub fn host_of(sh: &Shell) -> Connection {
    let var = |name| sh.var(name).ok().filter(|v| !v.is_empty());
    Connection::from_env(var(hosts::URL_VAR).as_deref(), var(hosts::CONNECTION_VAR).as_deref())
}

/// A `podman` command for processes that are herded, not just run.
pub fn command() -> Command {
    command_at(&Connection::Local)
}

/// [`command`] on `host`.
pub fn command_at(host: &Connection) -> Command {
    let mut c = Command::new("podman");
    c.env("CONTAINERS_CONF", containers_conf());
    if let Some((var, value)) = host.podman_env() {
        c.env(var, value);
    }
    c
}

/// Whether the shell's podman answers: `podman info` there, or what it said.
pub fn ping(sh: &Shell) -> std::result::Result<(), String> {
    let format = "{{.Version.Version}}";
    match cmd!(sh, "podman info --format {format}").quiet().ignore_status().output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("no answer").trim().to_string()),
        Err(e) => Err(format!("running podman: {e}")),
    }
}

/// `image exists` on the shell's podman (a host's, through [`shell_at`]).
pub fn image_exists(sh: &Shell, reference: &str) -> Result<bool> {
    let out = cmd!(sh, "podman image exists {reference}")
        .quiet()
        .ignore_status()
        .output()
        .context("running `podman image exists`; is podman installed?")?;
    Ok(out.status.success())
}

/// `podman image inspect --format FORMAT reference` on the shell's podman.
pub fn inspect(sh: &Shell, reference: &str, format: &str) -> Result<String> {
    cmd!(sh, "podman image inspect --format {format} {reference}").quiet().read().with_context(|| format!("inspecting image {reference}"))
}

/// The diff IDs of an image's layers, bottom first.
pub fn layers(sh: &Shell, reference: &str) -> Result<Vec<String>> {
    let json = inspect(sh, reference, "{{json .RootFS.Layers}}")?;
    serde_json::from_str(&json).with_context(|| format!("reading the layers of {reference} from {json:?}"))
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

/// IDs of every container podman knows, including buildah's working
/// containers (`--external`), which `podman build` leaves when it dies.
pub fn external_containers() -> Result<Vec<String>> {
    let out = command().args(["ps", "--all", "--external", "--format", "{{.ID}} {{.Names}}"]).output().context("running podman ps")?;
    Ok(String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect())
}

/// Stops a running `podman build` so that it cleans up after itself.
///
/// Killing `podman build` (SIGTERM or SIGINT alike, podman 4.3) leaves the
/// container of its current `RUN` step running under runc, and its buildah
/// working container. Killing that step's container instead makes the step
/// fail, and `--force-rm` then removes the working container. Only when that
/// does not end the build in time is `podman build` killed, and the working
/// containers that appeared since `before` are removed.
pub fn stop_build(child: &mut Child, before: &[String]) {
    for id in build_step_containers(child.id()) {
        let _ = Command::new("runc").args(["kill", &id, "KILL"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    if let Ok(None) = child.try_wait() {
        let _ = child.kill();
        let _ = child.wait();
    }
    for line in external_containers().unwrap_or_default() {
        let Some((id, name)) = line.split_once(' ') else { continue };
        if name.contains("working-container") && !before.contains(&line) {
            let _ = command().args(["rm", "--force", id]).stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
    }
}

/// runc IDs (`buildah-buildah<N>`) of the step containers under a build
/// process, read from the cgroups of its descendant processes.
fn build_step_containers(root: u32) -> Vec<String> {
    let mut parent_of = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // The command name may hold spaces and parentheses: fields start after the last `)`.
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parent_of.insert(pid, ppid);
        }
    }
    let descends = |mut pid: u32| {
        while let Some(&p) = parent_of.get(&pid) {
            if p == root {
                return true;
            }
            pid = p;
        }
        false
    };
    let mut ids = Vec::new();
    for &pid in parent_of.keys().filter(|p| descends(**p)) {
        let Ok(cgroup) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else { continue };
        if let Some(id) = cgroup.split(['/', '\n']).find(|part| part.starts_with("buildah-buildah")) {
            if !ids.iter().any(|i| i == id) {
                ids.push(id.to_string());
            }
        }
    }
    ids
}
