//! `bench` on more than one host: comparison groups go to idle hosts of the
//! pool (`core::schedule`), one group per host at a time, each on a thread
//! of its own with a shell whose podman calls reach that host. A host that
//! dies in the middle of a group has its documents kept, marked abandoned
//! and moved to `abandoned/<host>/`; the group starts again, from no runs,
//! on another host. A comparison never mixes hosts.

use std::path::PathBuf;
use std::sync::mpsc;

use anyhow::{Context, Result};
use gobench_core::hosts::{Connection, PoolHost};
use gobench_core::schedule::Schedule;
use gobench_core::schema::{Abandoned, Host};
use xshell::Shell;

use crate::cancel::Cancel;
use crate::pipeline::{self, CellRuns, HostLost, Rounds};
use crate::{host, hosts, podman};

/// What the pool did with the cells.
pub struct Ran {
    /// Every cell, in the order given, with the runs of the host that
    /// finished its group.
    pub cells: Vec<CellRuns>,
    /// Documents of groups whose host died, with their runs so far.
    pub abandoned: Vec<CellRuns>,
    /// Cells of groups that no live host may run: not run.
    pub stranded: Vec<String>,
    /// The first error of a group that failed otherwise (its runs so far
    /// are in `cells`); no group started after it.
    pub failure: Option<anyhow::Error>,
}

/// Makes `host` ready for `cells`: their images sent to it by content
/// address (nothing to do on this machine's podman) and its facts recorded
/// in their documents.
pub fn ready(host: &PoolHost, cells: &mut [CellRuns]) -> Result<()> {
    let name = host.display();
    if host.connection != Connection::Local {
        for c in cells.iter() {
            let image = &c.doc.provenance.image;
            hosts::send_image(&name, &host.connection, &image.tag, &image.id)?;
        }
    }
    let facts = match (&host.connection, cells.first()) {
        (Connection::Local, _) | (_, None) => host::describe()?,
        (connection, Some(c)) => hosts::describe(&name, connection, &c.doc.provenance.image.tag)?,
    };
    for c in cells {
        c.doc.host = Host { entry: host.name.clone(), ..facts.clone() };
    }
    Ok(())
}

/// Runs `groups` of `cells` on `pool`: one group per host at a time, each
/// group interleaved as pairs on one host by `pipeline::measure_pairs`.
/// `may_run[g][h]`: host `h` may run group `g` (its labels). Returns when
/// every group has finished or no live host may run what is left.
pub fn run(
    pool: &[PoolHost],
    may_run: Vec<Vec<bool>>,
    cells: Vec<CellRuns>,
    groups: &[Vec<usize>],
    rounds: &Rounds,
    cancel: &Cancel,
) -> Result<Ran> {
    // Every group's documents as they were before any run: a group that
    // starts again on another host starts from these.
    let fresh: Vec<Vec<CellRuns>> = groups.iter().map(|g| g.iter().map(|&i| cells[i].clone()).collect()).collect();
    let mut finished: Vec<Option<Vec<CellRuns>>> = vec![None; groups.len()];
    let mut abandoned = Vec::new();
    let mut schedule = Schedule::new(pool.len(), may_run);
    let mut failure: Option<anyhow::Error> = None;
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = mpsc::channel();
        let mut running = 0;
        loop {
            if failure.is_none() && !cancel.is_cancelled() {
                for (h, g) in schedule.assign() {
                    let (tx, host, mut group) = (tx.clone(), &pool[h], fresh[g].clone());
                    let rounds = Rounds {
                        first: vec![rounds.first[g]],
                        until_decided: rounds.until_decided,
                        decide_on: rounds.decide_on.clone(),
                        seed: rounds.seed,
                    };
                    eprintln!("host `{}`: {}", host.display(), group.iter().map(|c| c.label.as_str()).collect::<Vec<_>>().join(", "));
                    std::thread::Builder::new()
                        .name(format!("host-{}", host.display()))
                        .spawn_scoped(scope, move || {
                            // A panic must still report, or the loop would wait for it forever.
                            let outcome =
                                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_group(host, &mut group, &rounds, cancel)))
                                    .unwrap_or_else(|_| Err(anyhow::anyhow!("the thread of host `{}` panicked", host.display())));
                            let _ = tx.send((h, g, group, outcome));
                        })
                        .context("starting a host's thread")?;
                    running += 1;
                }
            }
            if running == 0 {
                break;
            }
            let (h, g, mut group, outcome) = rx.recv().expect("a running host's thread sends its outcome");
            running -= 1;
            match outcome {
                Ok(()) => {
                    schedule.finished(h);
                    finished[g] = Some(group);
                }
                Err(e) if e.downcast_ref::<HostLost>().is_some() => {
                    let name = pool[h].display();
                    schedule.lost(h);
                    let runs: usize = group.iter().map(|c| c.doc.runs.len()).sum();
                    for c in &mut group {
                        abandon(c, &name, &format!("{e:#}"))?;
                    }
                    eprintln!("host `{name}` was lost in the middle of a group ({e:#}): its {runs} run(s) are kept apart, not aggregated; the group starts again on another host");
                    abandoned.extend(group);
                }
                Err(e) => {
                    schedule.finished(h);
                    finished[g] = Some(group);
                    failure.get_or_insert(e.context(format!("on host `{}`", pool[h].display())));
                }
            }
        }
        Ok(())
    })?;
    let stranded: Vec<String> = schedule.stranded().into_iter().flat_map(|g| fresh[g].iter().map(|c| c.label.clone())).collect();
    let mut out = cells;
    for (g, group) in groups.iter().zip(finished) {
        for (&i, c) in g.iter().zip(group.into_iter().flatten()) {
            out[i] = c;
        }
    }
    Ok(Ran { cells: out, abandoned, stranded, failure })
}

/// Readies `host` for a group and measures it there.
fn run_group(host: &PoolHost, group: &mut [CellRuns], rounds: &Rounds, cancel: &Cancel) -> Result<()> {
    let sh: Shell = podman::shell_at(&host.connection)?;
    // A host that cannot take the group is lost for it like one that dies
    // in the middle: the group goes elsewhere.
    ready(host, group).map_err(|e| HostLost { reason: format!("{e:#}") })?;
    let indices: Vec<usize> = (0..group.len()).collect();
    pipeline::measure_pairs(&sh, cancel, group, &[indices], rounds)
}

/// Marks a document of a lost host's group and moves it to
/// `abandoned/<host>/` beside where it was (nothing reads history there,
/// and the mark keeps it out wherever it lies).
pub(crate) fn abandon(cell: &mut CellRuns, host: &str, reason: &str) -> Result<()> {
    cell.doc.abandoned = Some(Abandoned { host: host.to_string(), reason: reason.to_string() });
    let Some(path) = cell.path.take() else { return Ok(()) };
    let dir = path.parent().map(|d| d.join("abandoned").join(host)).unwrap_or_else(|| PathBuf::from("abandoned"));
    let file = path.file_name().context("a result path names a file")?;
    cell.path = Some(dir.join(file));
    cell.save()?;
    if path.exists() {
        std::fs::remove_file(&path).with_context(|| format!("removing {} after moving it to {}", path.display(), dir.display()))?;
    }
    Ok(())
}
