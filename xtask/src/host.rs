//! What machine and which toolkit revision a result came from.

use anyhow::{Context, Result};
use gobench_core::schema::{Host, Toolkit};
use xshell::{cmd, Shell};

use crate::paths::workspace_root;

fn read(path: &str) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {path}"))
}

pub fn describe() -> Result<Host> {
    let cpu_model = cpu_model(&read("/proc/cpuinfo")?);
    let meminfo = read("/proc/meminfo")?;
    let memory_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:")?.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no MemTotal in /proc/meminfo")?;
    Ok(Host {
        name: read("/proc/sys/kernel/hostname")?.trim().to_string(),
        cpu_model,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        memory_bytes: memory_kib * 1024,
        kernel: read("/proc/sys/kernel/osrelease")?.trim().to_string(),
        entry: None,
    })
}

/// The `model name` of a `/proc/cpuinfo`.
pub fn cpu_model(cpuinfo: &str) -> String {
    cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':').map(|(_, v)| v.trim().to_string()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// The toolkit checkout's commit, and whether tracked files differ from it.
pub fn toolkit(sh: &Shell) -> Toolkit {
    let root = workspace_root();
    let commit = cmd!(sh, "git -C {root} rev-parse HEAD").quiet().ignore_stderr().read().unwrap_or_else(|_| "unknown".to_string());
    let dirty = cmd!(sh, "git -C {root} status --porcelain --untracked-files=no")
        .quiet()
        .ignore_stderr()
        .read()
        .map(|s| !s.trim().is_empty())
        .unwrap_or(true);
    Toolkit { commit, dirty }
}
