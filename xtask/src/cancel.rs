//! Cancellation: a token handed down to every step that waits (a build, a
//! run, a health check), and the process's signal handling that cancels it.
//!
//! SIGINT, SIGTERM and SIGHUP all cancel the current job's token: the step
//! that waits stops its containers or build, what finished is kept, and the
//! command exits 128 + the signal (130, 143, 129). A second signal exits at
//! once. A token belongs to one job, so a long-lived process (the job
//! service) runs its next job with a fresh one after a cancelled one.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A token that only [`Cancel::cancel`] cancels; no signal reaches it.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// `Err` once cancelled, for the `?` of a step that is about to start.
    pub fn check(&self) -> Result<()> {
        anyhow::ensure!(!self.is_cancelled(), "{}", cancelled_message());
        Ok(())
    }
}

/// The job whose token a signal cancels.
static CURRENT: Mutex<Option<Cancel>> = Mutex::new(None);
/// The last signal the process received, 0 for none.
static SIGNALLED: AtomicI32 = AtomicI32::new(0);
static LISTENER: OnceLock<()> = OnceLock::new();

/// A fresh token for the next job, cancelled by the process's signals. The
/// listener is installed on first use and lives as long as the process.
pub fn for_job() -> Result<Cancel> {
    if LISTENER.get().is_none() {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP]).context("installing the SIGINT, SIGTERM and SIGHUP handlers")?;
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    on_signal(signal);
                }
            })
            .context("starting the signal listener thread")?;
        let _ = LISTENER.set(());
    }
    let token = Cancel::new();
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = Some(token.clone());
    SIGNALLED.store(0, Ordering::SeqCst);
    Ok(token)
}

fn on_signal(signal: i32) {
    use std::io::Write;
    let current = CURRENT.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if SIGNALLED.swap(signal, Ordering::SeqCst) != 0 {
        let _ = writeln!(std::io::stderr(), "\n{} again: exiting now", name(signal));
        std::process::exit(128 + signal);
    }
    // Cancel before saying so, and never panic on a closed stderr (a parent
    // that died): the token must be cancelled whatever happens to the message.
    if let Some(token) = current {
        token.cancel();
    }
    let _ =
        writeln!(std::io::stderr(), "\n{}: stopping the current step and removing its containers (again to exit at once)", name(signal));
}

/// The exit code for a command that ended because of a signal.
pub fn exit_code() -> Option<u8> {
    match SIGNALLED.load(Ordering::SeqCst) {
        0 => None,
        s => u8::try_from(128 + s).ok(),
    }
}

fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "interrupted (SIGINT)",
        SIGTERM => "terminated (SIGTERM)",
        SIGHUP => "hung up (SIGHUP)",
        _ => "signalled",
    }
}

fn cancelled_message() -> String {
    match SIGNALLED.load(Ordering::SeqCst) {
        0 => "cancelled".to_string(),
        s => name(s).to_string(),
    }
}

/// The error of a step that stopped because its token was cancelled.
pub fn cancelled() -> anyhow::Error {
    anyhow::anyhow!("{}", cancelled_message())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_token_does_not_cancel_the_next_job() {
        let first = Cancel::new();
        first.cancel();
        assert!(first.check().is_err());
        let second = Cancel::new();
        assert!(second.check().is_ok());
        assert!(first.is_cancelled() && !second.is_cancelled());
    }
}
