//! The fsync-latency probe of the host facts: etcd's WAL appends small
//! records and fdatasyncs each one, so the probe does the same in the
//! directory where a run's data directory lives, and summarises the
//! latencies against etcd's guide (99% under 10 ms). The shell times the
//! writes; this decides what they say.

use crate::config::DataDir;
use crate::schema::FsyncProbe;

/// etcd's hardware guide: the 99th percentile of WAL fsyncs under 10 ms.
pub const ETCD_P99_LIMIT_SECS: f64 = 0.010;

/// The probe's summary from its latencies in seconds (nearest rank, so
/// p99 is an observed latency).
pub fn summarize(data_dir: DataDir, path: &str, filesystem: &str, block_bytes: u32, secs: &[f64]) -> Option<FsyncProbe> {
    let mut s = secs.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = |q: f64| s[((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1];
    let max = *s.last()?;
    let p99 = rank(0.99);
    Some(FsyncProbe {
        data_dir,
        path: path.to_string(),
        filesystem: filesystem.to_string(),
        blocks: s.len() as u32,
        block_bytes,
        p50: rank(0.5),
        p99,
        max,
        meets_etcd_guide: p99 < ETCD_P99_LIMIT_SECS,
    })
}

/// The file system type of `path` from `/proc/mounts` text: the mount with
/// the longest mount point that contains it.
pub fn filesystem_of(mounts: &str, path: &str) -> Option<String> {
    let inside = |point: &str| point == "/" || path == point || path.starts_with(&format!("{point}/"));
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, point, fs) = (f.next()?, f.next()?, f.next()?);
            inside(point).then(|| (point.len(), fs.to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, fs)| fs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsync_probe_summary() {
        let secs: Vec<f64> = (1..=200).map(|i| i as f64 / 10_000.0).collect();
        let p = summarize(DataDir::Volume, "/v", "ext4", 2300, &secs).unwrap();
        assert_eq!((p.blocks, p.p50, p.p99, p.max), (200, 0.01, 0.0198, 0.02));
        assert!(!p.meets_etcd_guide);
        let fast = summarize(DataDir::Tmpfs, "/dev/shm", "tmpfs", 2300, &[0.000002, 0.000001, 0.000003]).unwrap();
        assert_eq!((fast.p50, fast.p99, fast.max), (0.000002, 0.000003, 0.000003));
        assert!(fast.meets_etcd_guide);
        assert_eq!(summarize(DataDir::Tmpfs, "/", "x", 1, &[]), None);
    }

    #[test]
    fn filesystem_of_a_path_is_its_longest_mount() {
        let mounts =
            "overlay / overlay rw 0 0\nproc /proc proc rw 0 0\ntmpfs /dev/shm tmpfs rw 0 0\n/dev/sda1 /var/lib/containers ext4 rw 0 0\n";
        let cases = [
            ("/dev/shm/gobench-probe", Some("tmpfs")),
            ("/var/lib/containers/storage/volumes/v/_data", Some("ext4")),
            ("/var/lib/containersX", Some("overlay")),
            ("/dev/shm", Some("tmpfs")),
        ];
        for (path, want) in cases {
            assert_eq!(filesystem_of(mounts, path).as_deref(), want, "{path}");
        }
        assert_eq!(filesystem_of("", "/x"), None);
    }
}
