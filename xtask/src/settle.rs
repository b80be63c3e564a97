//! What happens right before a measured run, as its spec's
//! [`Settling`](gobench_core::spec::Settling) asks: wait for an idle host
//! (`/proc/stat`, judged by `gobench_core::hostload`), then the discarded
//! warm-up runs. Each returns notes for the run's `host_activity`, so a run
//! measured on a host that never became idle says so.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use gobench_core::hostload::{self, CpuTimes};
use gobench_core::spec::RunSpec;
use xshell::Shell;

use crate::cancel::Cancel;
use crate::run;

const PROC_STAT: &str = "/proc/stat";

/// Waits for an idle host and runs the warm-ups of `spec`; returns what the
/// run's record should say about them (nothing when the host was idle at
/// once and the warm-ups ran). Never fails: a settling step that cannot be
/// done is noted and the run goes on.
pub fn before_run(sh: &Shell, spec: &RunSpec, cancel: &Cancel) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(pct) = spec.settling.wait_idle_below_pct {
        // This machine's /proc/stat says nothing of another machine's load.
        let outcome = match crate::podman::host_of(sh).same_machine() {
            true => wait_for_idle(pct, cancel),
            false => Err(anyhow::anyhow!("the host is another machine")),
        };
        match outcome {
            Ok(Some(note)) => notes.push(note),
            Ok(None) => {}
            Err(e) => notes.push(format!("no wait for an idle host: {e:#}")),
        }
    }
    // On the line of the run that `measure` has begun ("[3/40] A run 2: ").
    for note in &notes {
        eprint!("{note}; ");
    }
    // A warm-up is a run of its own, unprofiled: its profile would only be thrown away.
    let warm = RunSpec { profile_secs: None, ..spec.clone() };
    for i in 0..spec.settling.warmup_runs {
        if cancel.is_cancelled() {
            break;
        }
        let t = Instant::now();
        match run::run_once(sh, &warm, cancel) {
            Ok(_) => eprint!("warm-up {:.1} s, ", t.elapsed().as_secs_f64()),
            Err(e) => {
                eprint!("warm-up failed, ");
                notes.push(format!("warm-up run {} failed: {e:#}", i + 1));
            }
        }
    }
    notes
}

/// Reads `/proc/stat` every [`hostload::WINDOW_MS`] until the CPUs were busy
/// less than `below_pct` percent over the last window, for at most
/// [`hostload::MAX_WAIT_SECS`]. `None`: idle in the first window.
fn wait_for_idle(below_pct: u32, cancel: &Cancel) -> Result<Option<String>> {
    let started = Instant::now();
    let window = Duration::from_millis(hostload::WINDOW_MS);
    let mut before = cpu_times()?;
    loop {
        std::thread::sleep(window);
        let after = cpu_times()?;
        let busy = hostload::busy_fraction(before, after).unwrap_or(0.0);
        before = after;
        let waited = started.elapsed();
        if hostload::is_idle(busy, below_pct) {
            let first_window = waited < window * 2;
            return Ok((!first_window).then(|| {
                format!("waited {:.0} s for an idle host (CPUs {:.0}% busy, below {below_pct}%)", waited.as_secs_f64(), busy * 100.0)
            }));
        }
        if cancel.is_cancelled() || waited >= Duration::from_secs(hostload::MAX_WAIT_SECS) {
            return Ok(Some(format!(
                "host still busy after {:.0} s of waiting for it to be idle: CPUs {:.0}% busy, not below {below_pct}%",
                waited.as_secs_f64(),
                busy * 100.0
            )));
        }
    }
}

fn cpu_times() -> Result<CpuTimes> {
    let text = std::fs::read_to_string(PROC_STAT).with_context(|| format!("reading {PROC_STAT}"))?;
    hostload::parse_proc_stat(&text).with_context(|| format!("{PROC_STAT} has no aggregate `cpu` line of 8 counters"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_host_reads_as_some_busy_share() {
        let a = cpu_times().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let busy = hostload::busy_fraction(a, cpu_times().unwrap()).unwrap();
        assert!((0.0..=1.0).contains(&busy), "{busy}");
    }
}
