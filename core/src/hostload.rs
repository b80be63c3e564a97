//! What "an idle host" means for [`crate::spec::Settling::wait_idle_below_pct`]:
//! the share of CPU time that was busy between two readings of `/proc/stat`'s
//! aggregate `cpu` line, over all CPUs.
//!
//! Busy is user, nice, system, irq, softirq and steal time; the rest is idle
//! and iowait (a CPU waiting for a disk is free to run a benchmark). guest and
//! guest_nice are already counted in user and nice, so they are left out.
//! Steal counts as busy: it is time another guest of the hypervisor took while
//! this one wanted to run, the noise DESIGN.md §8 measured.

/// How long the runner waits for an idle host at most before it runs anyway
/// and records that the host was busy.
pub const MAX_WAIT_SECS: u64 = 120;

/// The window over which busy time is measured, in milliseconds.
pub const WINDOW_MS: u64 = 1000;

/// Cumulative CPU time of all CPUs, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTimes {
    pub busy: u64,
    pub total: u64,
}

/// The aggregate `cpu` line of `/proc/stat`; `None` when it is missing or has
/// fewer than the eight fields every kernel since 2.6.11 prints.
pub fn parse_proc_stat(text: &str) -> Option<CpuTimes> {
    let line = text.lines().find(|l| l.split_whitespace().next() == Some("cpu"))?;
    let fields: Vec<u64> = line.split_whitespace().skip(1).map(|f| f.parse().ok()).collect::<Option<_>>()?;
    let [user, nice, system, idle, iowait, irq, softirq, steal] = *fields.get(..8)? else { return None };
    let busy = user + nice + system + irq + softirq + steal;
    Some(CpuTimes { busy, total: busy + idle + iowait })
}

/// The busy fraction between two readings; `None` when no tick passed (or
/// the counters went backwards, as after a CPU went offline).
pub fn busy_fraction(before: CpuTimes, after: CpuTimes) -> Option<f64> {
    let total = after.total.checked_sub(before.total).filter(|&t| t > 0)?;
    let busy = after.busy.checked_sub(before.busy)?;
    Some(busy as f64 / total as f64)
}

/// Whether a busy fraction counts as idle for a threshold in percent.
pub fn is_idle(busy: f64, below_pct: u32) -> bool {
    busy * 100.0 < f64::from(below_pct)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_lines() {
        let stat = "cpu  100 5 50 1000 20 3 2 10 7 0\ncpu0 50 2 25 500 10 1 1 5 0 0\nintr 1 2 3\n";
        assert_eq!(parse_proc_stat(stat), Some(CpuTimes { busy: 170, total: 1190 }));
        // A kernel without guest fields still has the eight that count.
        assert_eq!(parse_proc_stat("cpu 1 2 3 4 5 6 7 8\n"), Some(CpuTimes { busy: 27, total: 36 }));
        for bad in ["", "cpu0 1 2 3 4 5 6 7 8\n", "cpu 1 2 3\n", "cpu 1 2 x 4 5 6 7 8\n"] {
            assert_eq!(parse_proc_stat(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn busy_share_between_readings() {
        let t = |busy, total| CpuTimes { busy, total };
        let table = [
            (t(100, 1000), t(150, 1200), Some(0.25)),
            (t(100, 1000), t(100, 1200), Some(0.0)),
            (t(100, 1000), t(300, 1200), Some(1.0)),
            (t(100, 1000), t(100, 1000), None),
            (t(100, 1000), t(50, 900), None),
        ];
        for (before, after, want) in table {
            assert_eq!(busy_fraction(before, after), want, "{before:?} {after:?}");
        }
        assert!(is_idle(0.099, 10) && !is_idle(0.10, 10) && !is_idle(0.5, 10));
    }
}
