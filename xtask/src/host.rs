//! What machine and which toolkit revision a result came from, and how fast
//! it fsyncs where etcd's data directory lives.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use gobench_core::config::DataDir;
use gobench_core::schema::{FsyncProbe, Host, Toolkit};
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
        fsync_probe: None,
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

/// Writes of the probe: etcd's guide measures disks with fio's
/// `--fdatasync=1 --bs=2300`, about one WAL entry a write.
const PROBE_BLOCKS: u32 = 200;
const PROBE_BLOCK_BYTES: u32 = 2300;

/// Times `PROBE_BLOCKS` appends of `PROBE_BLOCK_BYTES`, each followed by an
/// fdatasync, in a file system like the one a run's data directory gets: a
/// tmpfs (`/dev/shm`) or a fresh podman volume (removed afterwards).
pub fn fsync_probe(data_dir: DataDir) -> Result<FsyncProbe> {
    let mut guard = crate::run::Containers { host: gobench_core::hosts::Connection::Local, names: Vec::new(), volumes: Vec::new() };
    let dir = match data_dir {
        DataDir::Tmpfs => PathBuf::from("/dev/shm"),
        DataDir::Volume => {
            let volume = crate::run::unique_name("probe");
            let out = crate::podman::command().args(["volume", "create", &volume]).output().context("creating the probe volume")?;
            anyhow::ensure!(out.status.success(), "podman volume create failed: {}", String::from_utf8_lossy(&out.stderr).trim());
            guard.volumes.push(volume.clone());
            let out = crate::podman::command()
                .args(["volume", "inspect", "--format", "{{.Mountpoint}}", &volume])
                .output()
                .context("running podman volume inspect")?;
            anyhow::ensure!(out.status.success(), "podman volume inspect failed: {}", String::from_utf8_lossy(&out.stderr).trim());
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        }
    };
    let secs = time_fdatasyncs(&dir)?;
    let filesystem = gobench_core::fsyncprobe::filesystem_of(&read("/proc/mounts")?, &dir.to_string_lossy()).unwrap_or_default();
    gobench_core::fsyncprobe::summarize(data_dir, &dir.to_string_lossy(), &filesystem, PROBE_BLOCK_BYTES, &secs)
        .context("the fsync probe made no writes")
}

fn time_fdatasyncs(dir: &Path) -> Result<Vec<f64>> {
    let mut file = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("creating a probe file in {}", dir.display()))?;
    let block = vec![0x5a_u8; PROBE_BLOCK_BYTES as usize];
    let mut secs = Vec::with_capacity(PROBE_BLOCKS as usize);
    for _ in 0..PROBE_BLOCKS {
        let start = Instant::now();
        file.write_all(&block).and_then(|()| file.as_file().sync_data()).with_context(|| format!("writing {}", file.path().display()))?;
        secs.push(start.elapsed().as_secs_f64());
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The probe for real, in both kinds of data directory: every write is
    /// timed, the file system is named, and the volume goes away again.
    #[test]
    fn fsync_probe_times_every_write_and_leaves_no_volume() {
        let tmpfs = fsync_probe(DataDir::Tmpfs).unwrap();
        assert_eq!((tmpfs.path.as_str(), tmpfs.filesystem.as_str(), tmpfs.blocks), ("/dev/shm", "tmpfs", PROBE_BLOCKS));
        assert!(0.0 < tmpfs.p50 && tmpfs.p50 <= tmpfs.p99 && tmpfs.p99 <= tmpfs.max, "{tmpfs:?}");

        let volume = fsync_probe(DataDir::Volume).unwrap();
        assert!(volume.path.ends_with("/_data") && !volume.filesystem.is_empty(), "{volume:?}");
        assert!(!Path::new(&volume.path).exists(), "the probe's volume {} is still there", volume.path);
        eprintln!("tmpfs: {tmpfs:?}\nvolume: {volume:?}");
    }
}
