//! Samples host and container resource use on a background thread while a
//! benchmark runs: `start` before the run, `add_container` as its containers
//! come up, `stop` after it for the `Monitoring` record of the run.
//!
//! Every tick reads a handful of files and runs no process: `/proc/stat`,
//! `/proc/meminfo`, `/proc/diskstats`, `/proc/net/dev` (through the `procfs`
//! crate) and, per container, `cpuacct.usage` and `memory.usage_in_bytes` of
//! its cgroup v1 directories. The directories are found once, when a container
//! is added: `podman container inspect` gives its PID, `/proc/<pid>/cgroup` its
//! cgroup paths, `/proc/self/mountinfo` where the `cpuacct` and `memory`
//! hierarchies are mounted. A container's cgroup directory is removed when it
//! exits (DESIGN.md §8); from then on it just stops appearing in samples.
//!
//! Peak memory is not sampled (a 0.5 s sampler misses short spikes): read
//! [`PEAK_MEMORY_FILE`] inside the container before it exits, with
//! [`peak_memory`] for a container that is still running, or by appending
//! `cat` of that file to the command of one that exits by itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use gobench_core::schema::{ContainerSample, Monitoring, Sample};
use procfs::net::InterfaceDeviceStatus;
use procfs::process::{MountInfos, Process};
use procfs::{Current, CurrentSI, DiskStats, FromRead, KernelStats, Meminfo, ProcessCGroups};
use xshell::{cmd, Shell};

/// A container's own cgroup v1 memory peak, as seen from inside it (runc
/// mounts the container's cgroup directory at the hierarchy's root).
pub const PEAK_MEMORY_FILE: &str = "/sys/fs/cgroup/memory/memory.max_usage_in_bytes";

/// `/proc/diskstats` counts 512-byte sectors whatever the device's sector size.
const SECTOR_BYTES: u64 = 512;

/// A running sampler, or none ([`off`]); `stop` it to get the samples.
pub struct Monitor {
    interval: Duration,
    sampling: Option<Sampling>,
}

struct Sampling {
    mounts: CgroupMounts,
    tx: mpsc::Sender<Msg>,
    thread: thread::JoinHandle<Vec<Sample>>,
}

/// A monitor that samples nothing, for a run whose spec turns the sampler
/// off: its record has no samples and an interval of 0.
pub fn off() -> Monitor {
    Monitor { interval: Duration::ZERO, sampling: None }
}

enum Msg {
    Add(Watched),
    Stop,
}

/// Starts sampling every `interval` on a background thread; `containers` are
/// `(role, container ID or name)` pairs, as for [`Monitor::add_container`].
/// The first sample is taken one interval after this returns.
pub fn start(sh: &Shell, interval: Duration, containers: Vec<(String, String)>) -> Result<Monitor> {
    if interval.is_zero() {
        bail!("the monitor interval must be positive");
    }
    let infos = Process::myself().and_then(|p| p.mountinfo()).context("reading /proc/self/mountinfo")?;
    let mounts = cgroup_mounts(&infos);
    let disks = real_block_devices();
    let host = read_host(&disks).context("reading the host's counters")?;
    let now = Instant::now();
    let sampler = Sampler { started: now, disks, prev_host: host, containers: Vec::new(), samples: Vec::new(), warned: false };
    let (tx, rx) = mpsc::channel();
    let thread = thread::Builder::new()
        .name("gobench-monitor".into())
        .spawn(move || sampler.run(interval, rx))
        .context("starting the monitor thread")?;
    let monitor = Monitor { interval, sampling: Some(Sampling { mounts, tx, thread }) };
    for (role, id) in containers {
        monitor.add_container(sh, &role, &id)?;
    }
    Ok(monitor)
}

impl Monitor {
    /// Samples container `id` (an ID or a name) under `role` from the next
    /// tick on. A container that is not running, or exits before the next
    /// tick, contributes nothing; an unknown container is an error.
    pub fn add_container(&self, sh: &Shell, role: &str, id: &str) -> Result<()> {
        let Some(s) = &self.sampling else { return Ok(()) };
        if let Some(watched) = watch(sh, &s.mounts, role, id)? {
            // The thread only ends when `stop` consumes `self`.
            s.tx.send(Msg::Add(watched)).expect("the monitor thread is running");
        }
        Ok(())
    }

    /// Stops the sampler and returns every sample. A last, shorter interval is
    /// sampled if at least half an interval has passed since the last tick.
    pub fn stop(self) -> Monitoring {
        let samples = match self.sampling {
            None => Vec::new(),
            Some(s) => {
                let _ = s.tx.send(Msg::Stop);
                match s.thread.join() {
                    Ok(samples) => samples,
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        };
        Monitoring { interval_secs: self.interval.as_secs_f64(), samples, ..Monitoring::default() }
    }
}

/// The cgroup v1 peak memory of a running container, in bytes, read inside it.
pub fn peak_memory(sh: &Shell, id: &str) -> Result<u64> {
    let text = cmd!(sh, "podman exec {id} cat {PEAK_MEMORY_FILE}")
        .quiet()
        .read()
        .with_context(|| format!("reading the peak memory of container {id}; it must still be running"))?;
    text.trim().parse().with_context(|| format!("{PEAK_MEMORY_FILE} of container {id} holds {text:?}"))
}

/// Finds a container's cgroup files and takes its CPU baseline; `None` if
/// it is not running.
fn watch(sh: &Shell, mounts: &CgroupMounts, role: &str, id: &str) -> Result<Option<Watched>> {
    let format = "{{.State.Pid}}";
    let out = cmd!(sh, "podman container inspect --format {format} {id}").quiet().ignore_status().output()?;
    if !out.status.success() {
        bail!("cannot monitor container {id} ({role}): {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let pid = String::from_utf8_lossy(&out.stdout);
    let pid: u32 = pid.trim().parse().with_context(|| format!("podman gave container {id} the PID {pid:?}"))?;
    if pid == 0 {
        return Ok(None); // not running
    }
    let cgroups = match std::fs::read(format!("/proc/{pid}/cgroup")) {
        Ok(text) => ProcessCGroups::from_read(text.as_slice()).with_context(|| format!("parsing /proc/{pid}/cgroup"))?,
        Err(_) => return Ok(None), // exited since the inspect
    };
    let cpu_usage = mounts.file(&cgroups, "cpuacct", "cpuacct.usage");
    let mem_usage = mounts.file(&cgroups, "memory", "memory.usage_in_bytes");
    let (Some(cpu_usage), Some(mem_usage)) = (cpu_usage, mem_usage) else {
        bail!("no cgroup v1 cpuacct and memory directories for container {id}; the monitor needs a cgroup v1 (or hybrid) host")
    };
    let prev_at = Instant::now();
    let Ok(prev_usage_ns) = read_u64(&cpu_usage) else {
        return Ok(None); // exited since the inspect
    };
    Ok(Some(Watched { role: role.to_string(), cpu_usage, mem_usage, prev_usage_ns, prev_at }))
}

struct Sampler {
    started: Instant,
    disks: Vec<String>,
    prev_host: HostCounters,
    containers: Vec<Watched>,
    samples: Vec<Sample>,
    warned: bool,
}

struct Watched {
    role: String,
    cpu_usage: PathBuf,
    mem_usage: PathBuf,
    prev_usage_ns: u64,
    prev_at: Instant,
}

impl Sampler {
    fn run(mut self, interval: Duration, rx: mpsc::Receiver<Msg>) -> Vec<Sample> {
        let mut next = self.started + interval;
        let mut last = self.started;
        loop {
            match rx.recv_timeout(next.saturating_duration_since(Instant::now())) {
                Ok(Msg::Add(watched)) => {
                    self.containers.retain(|c| c.role != watched.role);
                    self.containers.push(watched);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    last = Instant::now();
                    self.tick(last);
                    next += interval;
                    if next < last {
                        next = last + interval; // fell behind (a stalled host): skip the missed ticks
                    }
                }
                Ok(Msg::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let now = Instant::now();
                    if now - last >= interval / 2 {
                        self.tick(now);
                    }
                    return self.samples;
                }
            }
        }
    }

    fn tick(&mut self, now: Instant) {
        let host = match read_host(&self.disks) {
            Ok(host) => host,
            Err(err) => {
                if !self.warned {
                    eprintln!("warning: the monitor skips a sample: {err:#}");
                    self.warned = true;
                }
                return;
            }
        };
        let mut sample = host_sample(&self.prev_host, &host);
        self.prev_host = host;
        sample.t = (now - self.started).as_secs_f64();
        self.containers.retain_mut(|c| {
            let at = Instant::now();
            let (Ok(usage_ns), Ok(mem_bytes)) = (read_u64(&c.cpu_usage), read_u64(&c.mem_usage)) else {
                return false; // exited: its cgroup is gone
            };
            let elapsed_ns = (at - c.prev_at).as_nanos() as f64;
            let cpu_pct = if elapsed_ns > 0.0 { usage_ns.saturating_sub(c.prev_usage_ns) as f64 / elapsed_ns * 100.0 } else { 0.0 };
            (c.prev_usage_ns, c.prev_at) = (usage_ns, at);
            sample.containers.insert(c.role.clone(), ContainerSample { cpu_pct, mem_bytes });
            true
        });
        self.samples.push(sample);
    }
}

fn read_u64(path: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.trim().parse()?)
}

/// The host's cumulative counters at one moment.
#[derive(Debug, Clone, PartialEq)]
struct HostCounters {
    /// Summed over all CPUs, in clock ticks.
    cpu_busy: u64,
    cpu_total: u64,
    cpus: usize,
    mem_used: u64,
    /// Per real block device: bytes read, bytes written.
    disks: BTreeMap<String, (u64, u64)>,
    /// Per network interface but `lo`: bytes received, bytes sent.
    nets: BTreeMap<String, (u64, u64)>,
}

fn read_host(disks: &[String]) -> Result<HostCounters> {
    let stat = KernelStats::current().context("reading /proc/stat")?;
    let mem = Meminfo::current().context("reading /proc/meminfo")?;
    let diskstats = DiskStats::current().context("reading /proc/diskstats")?;
    let net = InterfaceDeviceStatus::current().context("reading /proc/net/dev")?;
    Ok(host_counters(&stat, &mem, &diskstats, &net, disks))
}

fn host_counters(stat: &KernelStats, mem: &Meminfo, diskstats: &DiskStats, net: &InterfaceDeviceStatus, disks: &[String]) -> HostCounters {
    let t = &stat.total;
    // `user` and `nice` include guest time. Steal time is the hypervisor's,
    // not this host's work: it counts as not busy.
    let cpu_busy = t.user + t.nice + t.system + t.irq.unwrap_or(0) + t.softirq.unwrap_or(0);
    let cpu_total = cpu_busy + t.idle + t.iowait.unwrap_or(0) + t.steal.unwrap_or(0);
    let available = mem.mem_available.unwrap_or(mem.mem_free + mem.buffers + mem.cached);
    HostCounters {
        cpu_busy,
        cpu_total,
        cpus: stat.cpu_time.len().max(1),
        mem_used: mem.mem_total.saturating_sub(available),
        disks: diskstats
            .0
            .iter()
            .filter(|d| disks.contains(&d.name))
            .map(|d| (d.name.clone(), (d.sectors_read * SECTOR_BYTES, d.sectors_written * SECTOR_BYTES)))
            .collect(),
        nets: net.0.values().filter(|n| n.name != "lo").map(|n| (n.name.clone(), (n.recv_bytes, n.sent_bytes))).collect(),
    }
}

/// The host part of a sample: what happened between `prev` and `cur`.
/// Devices are compared by name, so an interface that appears or vanishes
/// between the two (a container's veth) adds nothing rather than a jump.
fn host_sample(prev: &HostCounters, cur: &HostCounters) -> Sample {
    let busy = cur.cpu_busy.saturating_sub(prev.cpu_busy) as f64;
    let total = cur.cpu_total.saturating_sub(prev.cpu_total) as f64;
    let host_cpu_pct = if total > 0.0 { busy / total * cur.cpus as f64 * 100.0 } else { 0.0 };
    let (host_disk_read_bytes, host_disk_write_bytes) = deltas(&prev.disks, &cur.disks);
    let (host_net_rx_bytes, host_net_tx_bytes) = deltas(&prev.nets, &cur.nets);
    Sample {
        t: 0.0,
        host_cpu_pct,
        host_mem_used_bytes: cur.mem_used,
        host_disk_read_bytes,
        host_disk_write_bytes,
        host_net_rx_bytes,
        host_net_tx_bytes,
        containers: BTreeMap::new(),
    }
}

fn deltas(prev: &BTreeMap<String, (u64, u64)>, cur: &BTreeMap<String, (u64, u64)>) -> (u64, u64) {
    let mut sum = (0, 0);
    for (name, &(a, b)) in cur {
        if let Some(&(pa, pb)) = prev.get(name) {
            sum.0 += a.saturating_sub(pa);
            sum.1 += b.saturating_sub(pb);
        }
    }
    sum
}

/// Whole disks backed by a device (`/sys/block/<name>/device` exists): not
/// partitions (absent from /sys/block), loop, ram, zram, device-mapper or md
/// devices, whose I/O would either not reach a disk or be counted twice.
fn real_block_devices() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/block") else { return Vec::new() };
    let mut disks: Vec<String> =
        entries.flatten().filter(|e| e.path().join("device").exists()).filter_map(|e| e.file_name().into_string().ok()).collect();
    disks.sort();
    disks
}

/// Where the cgroup v1 hierarchies the monitor reads are mounted.
#[derive(Debug, Default, PartialEq)]
struct CgroupMounts {
    cpuacct: Option<CgroupMount>,
    memory: Option<CgroupMount>,
}

#[derive(Debug, PartialEq)]
struct CgroupMount {
    /// The cgroup this mount shows at `mount_point` (`/` unless bind-mounted).
    root: String,
    mount_point: PathBuf,
}

fn cgroup_mounts(infos: &MountInfos) -> CgroupMounts {
    let find = |controller: &str| {
        infos
            .0
            .iter()
            .find(|m| m.fs_type == "cgroup" && m.super_options.contains_key(controller))
            .map(|m| CgroupMount { root: m.root.clone(), mount_point: m.mount_point.clone() })
    };
    CgroupMounts { cpuacct: find("cpuacct"), memory: find("memory") }
}

impl CgroupMounts {
    /// `file` in the directory of the cgroup a process is in for `controller`.
    fn file(&self, cgroups: &ProcessCGroups, controller: &str, file: &str) -> Option<PathBuf> {
        let mount = match controller {
            "cpuacct" => self.cpuacct.as_ref()?,
            "memory" => self.memory.as_ref()?,
            _ => return None,
        };
        let cgroup = cgroups.0.iter().find(|c| c.controllers.iter().any(|c| c == controller))?;
        let root = mount.root.trim_end_matches('/');
        let relative = cgroup.pathname.strip_prefix(root)?;
        if !(relative.is_empty() || relative.starts_with('/')) {
            return None; // a sibling of the mounted cgroup, not under it
        }
        Some(mount.mount_point.join(relative.trim_start_matches('/')).join(file))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Mutex, MutexGuard, OnceLock};

    use procfs::{ExplicitSystemInfo, FromReadSI};

    use super::*;

    // ---- /proc and cgroup parsing on fixed text ----

    const SYSTEM: ExplicitSystemInfo =
        ExplicitSystemInfo { boot_time_secs: 0, ticks_per_second: 100, page_size: 4096, is_little_endian: true };

    fn counters(stat: &str, meminfo: &str, diskstats: &str, net_dev: &str) -> HostCounters {
        let stat = <KernelStats as FromReadSI>::from_read(stat.as_bytes(), &SYSTEM).unwrap();
        let mem = Meminfo::from_read(meminfo.as_bytes()).unwrap();
        let diskstats = DiskStats::from_read(diskstats.as_bytes()).unwrap();
        let net = InterfaceDeviceStatus::from_read(net_dev.as_bytes()).unwrap();
        host_counters(&stat, &mem, &diskstats, &net, &["vda".to_string()])
    }

    fn meminfo(total_kb: u64, available_kb: u64) -> String {
        let mut text = format!("MemTotal: {total_kb} kB\nMemFree: 100 kB\nMemAvailable: {available_kb} kB\n");
        for field in ["Buffers", "Cached", "SwapCached", "Active", "Inactive", "SwapTotal", "SwapFree", "Dirty", "Writeback"] {
            text += &format!("{field}: 1 kB\n");
        }
        for field in ["Mapped", "Slab", "Committed_AS", "VmallocTotal", "VmallocUsed", "VmallocChunk"] {
            text += &format!("{field}: 1 kB\n");
        }
        text
    }

    const NET_HEADER: &str = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n";

    #[test]
    fn host_deltas_from_fixed_text() {
        let prev = counters(
            "cpu  1000 10 500 8000 100 20 30 40 0 0\ncpu0 500 5 250 4000 50 10 15 20 0 0\ncpu1 500 5 250 4000 50 10 15 20 0 0\nctxt 1\nbtime 1\nprocesses 1\n",
            &meminfo(1000, 400),
            " 254 0 vda 10 0 100 0 10 0 200 0 0 0 0 0 0 0 0 0 0\n 254 1 vda1 10 0 100 0 10 0 200 0 0 0 0 0 0 0 0 0 0\n   7 0 loop0 10 0 100 0 10 0 200 0 0 0 0 0 0 0 0 0 0\n",
            &format!("{NET_HEADER}    lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n  eth0: 1000 1 0 0 0 0 0 0 2000 1 0 0 0 0 0 0\n veth1: 50 1 0 0 0 0 0 0 60 1 0 0 0 0 0 0\n"),
        );
        // user +60, system +30, irq +5, softirq +5: 100 busy ticks; idle +90,
        // iowait +10: 200 ticks in all, over 2 CPUs: one CPU's worth busy.
        let cur = counters(
            "cpu  1060 10 530 8090 110 25 35 40 0 0\ncpu0 530 5 265 4045 55 12 17 20 0 0\ncpu1 530 5 265 4045 55 13 18 20 0 0\nctxt 1\nbtime 1\nprocesses 1\n",
            &meminfo(1000, 250),
            " 254 0 vda 11 0 108 0 12 0 216 0 0 0 0 0 0 0 0 0 0\n 254 1 vda1 11 0 108 0 12 0 216 0 0 0 0 0 0 0 0 0 0\n   7 0 loop0 99 0 999 0 99 0 999 0 0 0 0 0 0 0 0 0 0\n",
            &format!("{NET_HEADER}    lo: 9100 1 0 0 0 0 0 0 9100 1 0 0 0 0 0 0\n  eth0: 2500 1 0 0 0 0 0 0 2300 1 0 0 0 0 0 0\n veth2: 7000 1 0 0 0 0 0 0 7000 1 0 0 0 0 0 0\n"),
        );
        let s = host_sample(&prev, &cur);
        assert_eq!(s.host_cpu_pct, 100.0);
        assert_eq!(s.host_mem_used_bytes, 750 * 1024);
        // vda only (not its partition, not loop0): 8 and 16 sectors.
        assert_eq!((s.host_disk_read_bytes, s.host_disk_write_bytes), (8 * 512, 16 * 512));
        // eth0 only: lo is excluded, veth1 vanished, veth2 appeared.
        assert_eq!((s.host_net_rx_bytes, s.host_net_tx_bytes), (1500, 300));
        // Counters that go backwards (a reset) give 0, not a wrapped huge number.
        let back = host_sample(&cur, &prev);
        assert_eq!((back.host_cpu_pct, back.host_disk_read_bytes, back.host_net_rx_bytes), (0.0, 0, 0));
    }

    const MOUNTINFO_SPLIT: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const CGROUP_PODMAN: &str = "\
4:memory:/libpod_parent/libpod-abc
2:cpuacct:/libpod_parent/libpod-abc
1:cpu:/libpod_parent/libpod-abc
0::/libpod_parent/libpod-abc
";

    fn cgroup_files(mountinfo: &str, cgroup: &str) -> (Option<PathBuf>, Option<PathBuf>) {
        let mounts = cgroup_mounts(&MountInfos::from_read(mountinfo.as_bytes()).unwrap());
        let cgroups = ProcessCGroups::from_read(cgroup.as_bytes()).unwrap();
        (mounts.file(&cgroups, "cpuacct", "cpuacct.usage"), mounts.file(&cgroups, "memory", "memory.usage_in_bytes"))
    }

    #[test]
    fn container_cgroup_files() {
        // This host: podman's cgroupfs manager, one hierarchy per controller.
        assert_eq!(
            cgroup_files(MOUNTINFO_SPLIT, CGROUP_PODMAN),
            (
                Some("/sys/fs/cgroup/cpuacct/libpod_parent/libpod-abc/cpuacct.usage".into()),
                Some("/sys/fs/cgroup/memory/libpod_parent/libpod-abc/memory.usage_in_bytes".into())
            )
        );
        // systemd's layout: cpu and cpuacct share a hierarchy.
        let mountinfo = "\
30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
31 25 0:27 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
";
        let cgroup = "5:memory:/machine.slice/libpod-abc.scope\n3:cpu,cpuacct:/machine.slice/libpod-abc.scope\n";
        assert_eq!(
            cgroup_files(mountinfo, cgroup),
            (
                Some("/sys/fs/cgroup/cpu,cpuacct/machine.slice/libpod-abc.scope/cpuacct.usage".into()),
                Some("/sys/fs/cgroup/memory/machine.slice/libpod-abc.scope/memory.usage_in_bytes".into())
            )
        );
        // A mount of a sub-cgroup (as inside a container): paths are relative to its root.
        let mountinfo = "\
33 31 0:30 /libpod_parent /c/cpuacct rw - cgroup cgroup rw,cpuacct
35 31 0:32 /libpod_parent /c/memory rw - cgroup cgroup rw,memory
";
        assert_eq!(
            cgroup_files(mountinfo, CGROUP_PODMAN),
            (Some("/c/cpuacct/libpod-abc/cpuacct.usage".into()), Some("/c/memory/libpod-abc/memory.usage_in_bytes".into()))
        );
        let sibling = CGROUP_PODMAN.replace("/libpod_parent/", "/libpod_parent2/");
        assert_eq!(cgroup_files(mountinfo, &sibling), (None, None));
        // cgroup v2 only: nothing to read.
        let v2 = "25 23 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(cgroup_files(v2, "0::/machine.slice/libpod-abc.scope\n"), (None, None));
    }

    // ---- the sampler against real podman containers ----

    /// The podman tests share the CPUs: one at a time.
    fn serial() -> MutexGuard<'static, ()> {
        static LOCK: Mutex<()> = Mutex::new(());
        LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn shell() -> Shell {
        let sh = Shell::new().unwrap();
        sh.set_var("CONTAINERS_CONF", crate::paths::workspace_root().join("scripts/containers.conf"));
        sh
    }

    fn base_image() -> String {
        static IMAGE: OnceLock<String> = OnceLock::new();
        IMAGE
            .get_or_init(|| {
                let cache = crate::paths::Paths::new(None).expect("the workspace paths").cache;
                crate::demo::base_image(&shell(), &cache).expect("scripts/base-image.sh makes the base image").0
            })
            .clone()
    }

    /// A detached container, removed on drop even when the test fails. It is
    /// named before it starts so that a failed start is removed too.
    struct Container {
        name: String,
    }

    impl Container {
        fn run(sh: &Shell, what: &str, options: &[&str], command: &[&str]) -> Container {
            static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let container = Container { name: format!("gobench-monitor-test-{}-{n}-{what}", std::process::id()) };
            let (name, image) = (&container.name, base_image());
            cmd!(sh, "podman run -d --name {name} {options...} {image} {command...}").quiet().ignore_stdout().run().unwrap();
            container
        }
    }

    impl Drop for Container {
        fn drop(&mut self) {
            let name = &self.name;
            let sh = shell();
            let _ = cmd!(sh, "podman rm -f -t 0 {name}").quiet().ignore_status().output();
        }
    }

    fn with_role<'a>(m: &'a Monitoring, role: &str) -> Vec<(&'a Sample, &'a ContainerSample)> {
        m.samples.iter().filter_map(|s| Some((s, s.containers.get(role)?))).collect()
    }

    const MIB: u64 = 1024 * 1024;

    /// Nanoseconds a task has run on a CPU and waited for one (`/proc/<pid>/schedstat`).
    fn schedstat(pid: &str) -> (f64, f64) {
        let text = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).unwrap();
        let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().unwrap());
        (fields.next().unwrap(), fields.next().unwrap())
    }

    #[test]
    fn busy_container_uses_one_cpu() {
        let _serial = serial();
        let sh = shell();
        let busy = Container::run(&sh, "busy", &["--cpuset-cpus=0"], &["sh", "-c", "while :; do :; done"]);
        let name = &busy.name;
        let format = "{{.State.Pid}}";
        let pid = cmd!(sh, "podman container inspect --format {format} {name}").quiet().read().unwrap();
        let monitor = start(&sh, Duration::from_millis(500), vec![("server".into(), busy.name.clone())]).unwrap();
        let (t0, (run0, wait0)) = (Instant::now(), schedstat(&pid));
        thread::sleep(Duration::from_millis(2600));
        let (t1, (run1, wait1)) = (Instant::now(), schedstat(&pid));
        let m = monitor.stop();
        // The scheduler's own account of the loop: on a quiet host it runs all
        // the time; on a loaded one (this machine is shared) it also waits.
        let wall = (t1 - t0).as_nanos() as f64;
        let (ran, waited) = ((run1 - run0) / wall * 100.0, (wait1 - wait0) / wall * 100.0);
        let busy = with_role(&m, "server");
        assert!(busy.len() >= 4, "{m:#?}");
        let middle = &busy[1..busy.len() - 1];
        for (s, c) in middle {
            assert!(c.cpu_pct <= 105.0, "container at {}% on one CPU in {m:#?}", c.cpu_pct);
            assert!(s.host_cpu_pct >= c.cpu_pct - 5.0, "host below its container in {m:#?}");
            if waited < 5.0 {
                assert!(c.cpu_pct >= 85.0, "container at {}% with the loop running {ran:.0}% in {m:#?}", c.cpu_pct);
            }
        }
        let mean = middle.iter().map(|(_, c)| c.cpu_pct).sum::<f64>() / middle.len() as f64;
        eprintln!("busy loop: sampled {mean:.1}%, ran {ran:.1}%, waited {waited:.1}%");
        assert!((mean - ran).abs() < 12.0, "sampled {mean:.1}% but the loop ran {ran:.1}% (waited {waited:.1}%) in {m:#?}");
    }

    #[test]
    fn idle_container_uses_no_cpu_and_little_memory() {
        let _serial = serial();
        let sh = shell();
        let monitor = start(&sh, Duration::from_millis(500), Vec::new()).unwrap();
        let idle = Container::run(&sh, "idle", &[], &["sleep", "60"]);
        monitor.add_container(&sh, "server", &idle.name).unwrap();
        thread::sleep(Duration::from_millis(2100));
        let m = monitor.stop();
        let idle = with_role(&m, "server");
        assert!(idle.len() >= 3, "{m:#?}");
        for (_, c) in idle {
            assert!(c.cpu_pct < 5.0, "idle container at {}% in {m:#?}", c.cpu_pct);
            assert!(c.mem_bytes > 0 && c.mem_bytes < 50 * MIB, "idle container uses {} bytes in {m:#?}", c.mem_bytes);
        }
    }

    #[test]
    fn growing_container_shows_its_memory() {
        let _serial = serial();
        let sh = shell();
        let monitor = start(&sh, Duration::from_millis(500), Vec::new()).unwrap();
        // tail keeps its last 10 lines in memory: 200 MiB of zeros are one line.
        let grow = Container::run(&sh, "grow", &[], &["sh", "-c", "{ head -c 200m /dev/zero; sleep 5; } | tail >/dev/null"]);
        monitor.add_container(&sh, "bench", &grow.name).unwrap();
        thread::sleep(Duration::from_millis(2600));
        let peak = peak_memory(&sh, &grow.name).unwrap();
        let m = monitor.stop();
        let max = with_role(&m, "bench").iter().map(|(_, c)| c.mem_bytes).max().unwrap_or(0);
        assert!(max > 190 * MIB, "at most {max} bytes in {m:#?}");
        assert!(peak >= max, "peak {peak} below the sampled {max}");
    }

    #[test]
    fn samples_are_an_interval_apart() {
        for ms in [200, 500] {
            let interval = Duration::from_millis(ms);
            let monitor = start(&shell(), interval, Vec::new()).unwrap();
            thread::sleep(interval * 5 + interval / 5);
            let m = monitor.stop();
            let secs = interval.as_secs_f64();
            assert_eq!(m.interval_secs, secs);
            let t: Vec<f64> = m.samples.iter().map(|s| s.t).collect();
            assert!(t.len() >= 5, "{t:?}");
            assert!((t[0] - secs).abs() < 0.1, "first sample at {t:?}");
            for w in t.windows(2) {
                assert!((w[1] - w[0] - secs).abs() < 0.1, "samples at {t:?} for {secs} s");
            }
            assert!(m.samples.iter().all(|s| s.host_mem_used_bytes > 0 && s.containers.is_empty()), "{m:#?}");
        }
    }

    #[test]
    fn an_off_monitor_samples_nothing_and_looks_at_no_container() {
        let monitor = off();
        // Not even podman is asked: a name that exists nowhere is fine.
        monitor.add_container(&shell(), "client", "gobench-no-such-container").unwrap();
        thread::sleep(Duration::from_millis(600));
        let m = monitor.stop();
        assert_eq!((m.interval_secs, m.samples.len()), (0.0, 0), "{m:#?}");
    }

    #[test]
    fn exited_container_stops_contributing() {
        let _serial = serial();
        let sh = shell();
        let job = Container::run(&sh, "job", &[], &["sleep", "1"]);
        let monitor = start(&sh, Duration::from_millis(500), vec![("client".into(), job.name.clone())]).unwrap();
        thread::sleep(Duration::from_millis(2600));
        // Already exited: accepted, never sampled.
        monitor.add_container(&sh, "late", &job.name).unwrap();
        assert!(monitor.add_container(&sh, "ghost", "gobench-monitor-test-no-such-container").is_err());
        thread::sleep(Duration::from_millis(600));
        let m = monitor.stop();
        let present: Vec<bool> = m.samples.iter().map(|s| s.containers.contains_key("client")).collect();
        assert!(present.first() == Some(&true) && present.last() == Some(&false), "{present:?} in {m:#?}");
        assert!(present.windows(2).all(|w| w[0] || !w[1]), "came back: {present:?}");
        assert!(m.samples.iter().all(|s| !s.containers.contains_key("late")), "{m:#?}");
    }

    fn vm_rss_bytes() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let kb = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().trim_end_matches(" kB").trim();
        kb.parse::<u64>().unwrap() * 1024
    }

    /// The sampler's own cost per tick, with two containers as in a
    /// client/server run: CPU time of this thread (its schedstat), wall time,
    /// and the memory the kept samples take. A measurement, not a check:
    /// `cargo test -p xtask --bin xtask monitor::tests::sampler_cost -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement, not a check"]
    fn sampler_cost() {
        let _serial = serial();
        let sh = shell();
        let (server, client) =
            (Container::run(&sh, "cost-server", &[], &["sleep", "300"]), Container::run(&sh, "cost-client", &[], &["sleep", "300"]));
        let infos = Process::myself().unwrap().mountinfo().unwrap();
        let mounts = cgroup_mounts(&infos);
        let disks = real_block_devices();
        let containers = vec![
            watch(&sh, &mounts, "server", &server.name).unwrap().unwrap(),
            watch(&sh, &mounts, "client", &client.name).unwrap().unwrap(),
        ];
        let now = Instant::now();
        let prev_host = read_host(&disks).unwrap();
        let mut sampler = Sampler { started: now, disks, prev_host, containers, samples: Vec::new(), warned: false };
        let ticks = 5000;
        let rss0 = vm_rss_bytes();
        let (wall0, (cpu0, _)) = (Instant::now(), schedstat("thread-self"));
        for _ in 0..ticks {
            sampler.tick(Instant::now());
        }
        let (wall1, (cpu1, _)) = (Instant::now(), schedstat("thread-self"));
        let rss1 = vm_rss_bytes();
        assert_eq!(sampler.samples.len(), ticks);
        assert!(sampler.samples.iter().all(|s| s.containers.len() == 2));
        let per_tick_us = |ns: f64| ns / ticks as f64 / 1000.0;
        eprintln!(
            "sampler cost over {ticks} ticks, 2 containers: cpu {:.1} us/tick, wall {:.1} us/tick, rss +{} bytes/sample (+{} KiB in all)",
            per_tick_us(cpu1 - cpu0),
            per_tick_us((wall1 - wall0).as_nanos() as f64),
            rss1.saturating_sub(rss0) / ticks as u64,
            rss1.saturating_sub(rss0) / 1024,
        );
        eprintln!("at 0.5 s: {:.3}% of one CPU", (cpu1 - cpu0) / ticks as f64 / 0.5e9 * 100.0);
    }
}
