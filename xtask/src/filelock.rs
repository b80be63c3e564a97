//! Exclusive file locks that say who holds them and wait with a timeout.
//!
//! The lock is the OS's advisory lock on the file (`flock`, through std's
//! `File::lock`), so it is released when the holder exits, however it
//! exits. The file's text names the holder, so a waiter can say what it
//! waits for.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::cancel::{self, Cancel};

/// Held until dropped.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
    pub path: PathBuf,
}

/// Takes the lock at `path` for `what` (a short description of the holder's
/// work, written into the file), waiting at most `timeout`. While it waits it
/// says once who holds the lock.
pub fn acquire(path: &Path, what: &str, timeout: Duration, cancel: &Cancel) -> Result<FileLock> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("opening the lock file {}", path.display()))?;
    let started = Instant::now();
    let mut told = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(e).with_context(|| format!("locking {}", path.display())),
        }
        if !told {
            eprintln!("waiting for {} (held by {}); up to {} s", path.display(), holder(&mut file), timeout.as_secs());
            told = true;
        }
        if cancel.is_cancelled() {
            return Err(cancel::cancelled());
        }
        anyhow::ensure!(
            started.elapsed() < timeout,
            "gave up after {} s waiting for {}, held by {}; if that process is gone, the lock is free again",
            timeout.as_secs(),
            path.display(),
            holder(&mut file)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let note = format!("pid {} ({what}) since {}\n", std::process::id(), humantime::format_rfc3339_seconds(std::time::SystemTime::now()));
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(note.as_bytes()))
        .with_context(|| format!("writing the holder into {}", path.display()))?;
    if told {
        eprintln!("got {} after {:.0} s", path.display(), started.elapsed().as_secs_f64());
    }
    Ok(FileLock { _file: file, path: path.to_path_buf() })
}

fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0)).and_then(|_| file.read_to_string(&mut text));
    match text.trim() {
        "" => "another process".to_string(),
        t => t.to_string(),
    }
}

/// The machine-wide lock every benchmark run takes: two benchmarks on one
/// host spoil each other's numbers, whichever project they belong to.
pub fn host_bench_lock_path() -> PathBuf {
    match std::env::var_os("GOBENCH_HOST_LOCK") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from("/tmp/gobench-host-bench.lock"),
    }
}

/// The benchmark lock of `host`: this machine's for a host on this machine
/// (its runs would disturb ours), else one per connection beside it, so
/// that groups on different machines run at once.
pub fn host_bench_lock_path_for(host: &gobench_core::hosts::Connection) -> PathBuf {
    let local = host_bench_lock_path();
    if host.same_machine() {
        return local;
    }
    let name: String = host.podman_args().concat().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    local.with_extension(format!("{name}.lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_times_out_naming_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let cancel = Cancel::new();
        let held = acquire(&path, "building go master", Duration::from_secs(1), &cancel).unwrap();
        let err = acquire(&path, "second", Duration::from_millis(300), &cancel).unwrap_err().to_string();
        assert!(err.contains("building go master") && err.contains(&format!("pid {}", std::process::id())), "{err}");
        drop(held);
        acquire(&path, "third", Duration::from_millis(300), &cancel).expect("free once dropped");
    }
}
